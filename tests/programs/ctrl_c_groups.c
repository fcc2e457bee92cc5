/* Ctrl-C at a terminal reaches the foreground process group only, as on
 * Linux: a child in the parent's group gets SIGINT, a child that made its
 * own session does not.
 *
 * Prints "ready" once both children wait (the test then types Ctrl-C), then
 * each child's result. The parent's own SIGINT is caught too. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got;
static void on_int(int s) { (void)s; got = 1; }

/* Waits up to `ms` for SIGINT; exits 10 if it came, 20 if not. */
static void child(int ready_fd, int new_session) {
    if (new_session && setsid() < 0) _exit(30);
    (void)write(ready_fd, "x", 1);
    close(ready_fd);
    for (int i = 0; i < 150 && !got; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    _exit(got ? 10 : 20);
}

static const char *result(int st) {
    static char other[64];
    if (WIFEXITED(st) && WEXITSTATUS(st) == 10) return "got SIGINT";
    if (WIFEXITED(st) && WEXITSTATUS(st) == 20) return "no SIGINT";
    if (WIFSIGNALED(st)) snprintf(other, sizeof other, "killed by signal %d", WTERMSIG(st));
    else snprintf(other, sizeof other, "failed (status %d)", WEXITSTATUS(st));
    return other;
}

int main(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    int p[2];
    if (pipe(p) < 0) return 1;
    pid_t same = fork();
    if (same == 0) child(p[1], 0);
    pid_t other = fork();
    if (other == 0) child(p[1], 1);
    close(p[1]);
    char c;
    for (int i = 0; i < 2; i++)
        if (read(p[0], &c, 1) != 1) return 1;
    printf("ready\n");
    fflush(stdout);
    int st1 = -1, st2 = -1;
    while (waitpid(same, &st1, 0) < 0 && errno == EINTR) {
    }
    while (waitpid(other, &st2, 0) < 0 && errno == EINTR) {
    }
    printf("parent: %s\n", got ? "got SIGINT" : "no SIGINT");
    printf("child in the foreground group: %s\n", result(st1));
    printf("child in its own session: %s\n", result(st2));
    return 0;
}
