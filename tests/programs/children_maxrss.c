// RUSAGE_CHILDREN's peak resident size covers every waited-for descendant:
// a grandchild's 64 MiB reaches its grandparent through the child that
// waited for it (in hx the grandchild's monitor is not always a host child
// of the child's, and its figure was lost).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    const long mib = 64;
    if (fork() == 0) {
        if (fork() == 0) {
            char *p = malloc(mib << 20);
            memset(p, 1, mib << 20);
            _exit(p[100] == 1 ? 0 : 1);
        }
        wait(NULL);
        _exit(0);
    }
    wait(NULL);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    printf("children's peak covers the grandchild's %ld MiB: %d\n", mib, ru.ru_maxrss >= mib * 1024);
    getrusage(RUSAGE_SELF, &ru);
    printf("own peak below it: %d\n", ru.ru_maxrss < mib * 1024);
    return 0;
}
