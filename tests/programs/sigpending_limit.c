// RLIMIT_SIGPENDING: real-time signals queued with their own siginfo
// (sigqueue, tgkill) fail with EAGAIN past the limit; kill's are queued
// anyway, and a standard signal is never refused. Then all are taken.
// The limit counts every pending signal of the user, in any process: the
// signals other processes of the same user hold are measured first, so
// that the limit this test sets leaves room for exactly three of its own.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *res(int r) { return r == 0 ? "ok" : errno == EAGAIN ? "EAGAIN" : "other"; }

int main(void) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    struct rlimit r;
    getrlimit(RLIMIT_SIGPENDING, &r);
    printf("default limit is finite and equal: %d\n", r.rlim_cur != RLIM_INFINITY && r.rlim_cur == r.rlim_max);
    union sigval v = {.sival_int = 7};
    int rt = SIGRTMIN + 1;
    siginfo_t info;
    struct timespec zero = {0, 0};
    r.rlim_cur = 64;
    setrlimit(RLIMIT_SIGPENDING, &r);
    int room = 0;
    while (room < 64 && sigqueue(getpid(), rt, v) == 0)
        room++;
    while (sigtimedwait(&all, &info, &zero) > 0)
        ;
    r.rlim_cur = 64 - room + 3;
    setrlimit(RLIMIT_SIGPENDING, &r);
    for (int i = 0; i < 4; i++) {
        int q = sigqueue(getpid(), rt, v);
        printf("sigqueue %d: %s\n", i, res(q));
    }
    printf("tgkill: %s\n", res((int)syscall(SYS_tgkill, getpid(), gettid(), rt)));
    printf("kill (SI_USER): %s\n", res(kill(getpid(), rt)));
    printf("sigqueue of SIGUSR1: %s\n", res(sigqueue(getpid(), SIGUSR1, v)));
    int taken = 0, with_value = 0;
    while (sigtimedwait(&all, &info, &zero) > 0) {
        taken++;
        if (info.si_code == SI_QUEUE && info.si_value.sival_int == 7)
            with_value++;
    }
    printf("taken %d, with their value %d\n", taken, with_value);
    return 0;
}
