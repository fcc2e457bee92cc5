// Pending signals cross execve with their siginfo, each queued instance
// of a real-time signal kept: values sent by a child and by the process
// itself, and a standard signal's sender. hx passed only the pending set
// across execve (one instance, no value).
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int rt = SIGRTMIN + 3;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, rt);
    sigaddset(&set, SIGUSR1);
    if (argc > 1) {
        siginfo_t si;
        struct timespec zero = {0, 0};
        int n;
        while ((n = sigtimedwait(&set, &si, &zero)) > 0)
            printf("after execve: %s, code %s, value %d\n", n == rt ? "RTMIN+3" : "SIGUSR1",
                   si.si_code == SI_QUEUE ? "SI_QUEUE" : si.si_code == SI_USER ? "SI_USER" : "other",
                   si.si_code == SI_QUEUE ? si.si_value.sival_int : -1);
        return 0;
    }
    sigprocmask(SIG_BLOCK, &set, NULL);
    pid_t c = fork();
    if (c == 0) {
        sigqueue(getppid(), rt, (union sigval){.sival_int = 1});
        sigqueue(getppid(), rt, (union sigval){.sival_int = 2});
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    sigqueue(getpid(), rt, (union sigval){.sival_int = 3});
    fflush(stdout);
    execl("/proc/self/exe", argv[0], "again", (char *)0);
    return 1;
}
