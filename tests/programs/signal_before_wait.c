// A signal a child sends its parent before it exits is the parent's by the
// time waitpid reports the exit (Linux makes it pending when kill returns):
// the handler has run when waitpid returns. Counted over many children.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_usr1(int sig) {
    (void)sig;
    got = 1;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    signal(SIGUSR1, on_usr1);
    int late = 0;
    for (int i = 0; i < rounds; i++) {
        got = 0;
        pid_t child = fork();
        if (child == 0) {
            kill(getppid(), SIGUSR1);
            _exit(0);
        }
        waitpid(child, NULL, 0);
        if (!got)
            late++;
    }
    printf("signals not yet taken when waitpid returned: %d of %d\n", late, rounds);
    return 0;
}
