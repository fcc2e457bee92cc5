/* Prints the signals it started with ignored, then those blocked. */
#include <signal.h>
#include <stdio.h>

int main(void) {
    for (int s = 1; s < 32; s++) {
        struct sigaction a;
        if (sigaction(s, 0, &a) == 0 && a.sa_handler == SIG_IGN)
            printf("ignored %d\n", s);
    }
    sigset_t m;
    sigprocmask(SIG_BLOCK, 0, &m);
    for (int s = 1; s < 32; s++)
        if (sigismember(&m, s))
            printf("blocked %d\n", s);
    return 0;
}
