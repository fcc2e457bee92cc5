// RUSAGE_CHILDREN's peak resident size covers every waited-for descendant:
// a grandchild's 64 MiB reaches its grandparent through the child that
// waited for it (in hx the grandchild's monitor is not always a host child
// of the child's, and its figure was lost).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    const long mib = 64;
    // Children are accounted for only when waited for: not if SIGCHLD was
    // left ignored by whoever started this.
    signal(SIGCHLD, SIG_DFL);
    if (fork() == 0) {
        if (fork() == 0) {
            // Every page written through a volatile pointer: no compiler may drop it.
            volatile char *p = malloc(mib << 20);
            for (long i = 0; i < mib << 20; i += 4096)
                p[i] = 1;
            _exit(p[4096] == 1 ? 0 : 1);
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
