/* Allocates and touches 1 MiB at a time until malloc fails; prints how far
 * it got, so a guest that runs out of RAM is seen to get ENOMEM, not a crash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    int mib = 0;
    for (;;) {
        char *p = malloc(1 << 20);
        if (!p) break;
        memset(p, 1, 1 << 20);
        mib++;
        if (mib > 1 << 16) break;
    }
    printf("allocated %d MiB, then: %s\n", mib, strerror(errno));
    return 0;
}
