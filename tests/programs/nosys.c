/* Calls a syscall hx does not implement, twice: it must fail with ENOSYS. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void) {
    for (int i = 0; i < 2; i++) {
        long r = syscall(SYS_quotactl, 0, NULL, 0, NULL);
        printf("quotactl = %ld, errno = %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    }
    return 0;
}
