// Signals with their own siginfo between processes: a child's sigqueue
// (SI_QUEUE, its value) of a real-time signal queues one instance per call,
// in order; its kill of a real-time signal queues one per call too, each
// with its sender (SI_USER, si_pid, si_uid); a standard signal queued while
// one is pending is not queued again; sigqueue of signal 0 checks, of a
// missing process is ESRCH; a kernel's code (SI_USER) from a program to
// another process is EPERM. In hx, sigqueue to another process was ENOSYS
// and real-time signals between processes came once, without their sender.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int rt = SIGRTMIN;
    sigset_t all;
    sigemptyset(&all);
    int sigs[] = {SIGUSR1, SIGWINCH, SIGPROF, rt + 1, rt + 2};
    for (int i = 0; i < 5; i++)
        sigaddset(&all, sigs[i]);
    sigprocmask(SIG_BLOCK, &all, NULL);
    pid_t parent = getpid();
    pid_t c = fork();
    if (c == 0) {
        for (int v = 1; v <= 3; v++)
            sigqueue(parent, rt + 1, (union sigval){.sival_int = v});
        kill(parent, rt + 2);
        kill(parent, rt + 2);
        sigqueue(parent, SIGUSR1, (union sigval){.sival_int = 7});
        sigqueue(parent, SIGUSR1, (union sigval){.sival_int = 8});
        kill(parent, SIGWINCH);
        kill(parent, SIGPROF);
        printf("sigqueue of signal 0: %d\n", sigqueue(parent, 0, (union sigval){0}));
        int r = sigqueue(999999, rt, (union sigval){0});
        printf("sigqueue to a missing process: %d %s\n", r, strerror(errno));
        siginfo_t forged = {.si_signo = rt, .si_code = SI_USER};
        long k = syscall(SYS_rt_sigqueueinfo, parent, rt, &forged);
        printf("a kernel's code to another process: %ld %s\n", k, strerror(errno));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    siginfo_t si;
    struct timespec zero = {0, 0};
    int n;
    while ((n = sigtimedwait(&all, &si, &zero)) > 0) {
        const char *name = n == SIGUSR1 ? "SIGUSR1" : n == SIGWINCH ? "SIGWINCH" : n == SIGPROF ? "SIGPROF" : n == rt + 1 ? "RTMIN+1" : "RTMIN+2";
        printf("%s: code %s, from the child %d, uid %d", name,
               si.si_code == SI_QUEUE ? "SI_QUEUE" : si.si_code == SI_USER ? "SI_USER" : "other",
               si.si_pid == c, (int)si.si_uid);
        if (si.si_code == SI_QUEUE)
            printf(", value %d", si.si_value.sival_int);
        printf("\n");
    }
    return 0;
}
