/* Process costs. Usage: processes WHAT N [PROGRAM]. Prints "ns <per operation>".
 * fork N:  fork + _exit in the child + waitpid in the parent.
 * spawn N: posix_spawn of PROGRAM (a static hello) + waitpid (any exit status but 127).
 * vfork N: vfork + execv of PROGRAM + waitpid. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *what = argv[1];
    long n = atol(argv[2]);
    char *prog = argc > 3 ? argv[3] : "/bin/true";
    char *child_argv[] = {prog, NULL};
    /* The children's output goes nowhere; the figure to the original stdout. */
    int report = dup(1);
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) return 1;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        pid_t c;
        int st;
        if (!strcmp(what, "fork")) {
            c = fork();
            if (c == 0) _exit(0);
        } else if (!strcmp(what, "spawn")) {
            if (posix_spawn(&c, prog, NULL, NULL, child_argv, environ)) return 1;
        } else if (!strcmp(what, "vfork")) {
            c = vfork();
            if (c == 0) {
                execv(prog, child_argv);
                _exit(127);
            }
        } else {
            return 2;
        }
        if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) == 127) return 1;
    }
    double per = (now() - t0) / n;
    dprintf(report, "ns %.0f\n", per);
    return 0;
}
