/* Processes: fork, exec, wait, pipes between processes, groups, signals.
 * `processes NAME` runs one sub-test; its output must match a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void report(const char *what, int st) {
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
    else
        printf("%s: status %#x\n", what, st);
}

static int fork_wait(void) {
    int st;
    pid_t c = fork();
    if (c == 0) _exit(7);
    pid_t r = waitpid(c, &st, 0);
    printf("waitpid returned the child: %d\n", r == c);
    report("child", st);
    c = fork();
    if (c == 0) { raise(SIGTERM); _exit(1); }
    waitpid(c, &st, 0);
    report("terminated child", st);
    c = fork();
    if (c == 0) { volatile int *p = 0; return *p; }
    waitpid(c, &st, 0);
    report("faulting child", st);
    printf("no more children: %d\n", waitpid(-1, &st, 0) == -1 && errno == ECHILD);
    return 0;
}

static int memory_is_copied(void) {
    static int shared = 1;
    int *heap = malloc(sizeof *heap);
    *heap = 10;
    pid_t c = fork();
    if (c == 0) {
        shared = 2;
        *heap = 20;
        printf("child sees %d %d\n", shared, *heap);
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("parent still sees %d %d\n", shared, *heap);
    return 0;
}

static int pipe_between(void) {
    int p[2], q[2];
    if (pipe(p) || pipe(q)) return 1;
    pid_t c = fork();
    if (c == 0) {
        close(p[1]);
        close(q[0]);
        char buf[64];
        ssize_t n;
        while ((n = read(p[0], buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < n; i++) {
                char up = buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i];
                write(q[1], &up, 1);
            }
        _exit(n == 0 ? 0 : 1);
    }
    close(p[0]);
    close(q[1]);
    const char *msg = "hello through two processes\n";
    write(p[1], msg, strlen(msg));
    close(p[1]);
    char out[128];
    ssize_t n, total = 0;
    while ((n = read(q[0], out + total, sizeof out - 1 - total)) > 0) total += n;
    out[total] = 0;
    printf("read back: %s", out);
    int st;
    waitpid(c, &st, 0);
    report("filter", st);
    /* EPIPE once the only reader is gone. */
    if (pipe(p)) return 1;
    c = fork();
    if (c == 0) { close(p[1]); close(p[0]); _exit(0); }
    close(p[0]);
    waitpid(c, NULL, 0);
    signal(SIGPIPE, SIG_IGN);
    ssize_t w = write(p[1], "x", 1);
    printf("write without reader: %zd %s\n", w, strerror(errno));
    return 0;
}

static int exec_errors(void) {
    char *argv[] = {"x", NULL};
    const char *cases[] = {"/nonexistent/program", ".", "./not-elf", "./bad-interp"};
    int fd = open("not-elf", O_CREAT | O_WRONLY | O_TRUNC, 0755);
    write(fd, "just text\n", 10);
    close(fd);
    fd = open("bad-interp", O_CREAT | O_WRONLY | O_TRUNC, 0755);
    write(fd, "#!/nonexistent/interpreter\n", 27);
    close(fd);
    for (int i = 0; i < 4; i++) {
        execve(cases[i], argv, environ);
        printf("execve %s: %s\n", cases[i], strerror(errno));
    }
    unlink("not-elf");
    unlink("bad-interp");
    return 0;
}

static int exec_keeps(void) {
    /* The new image (a shell) sees the same pid, the inherited descriptor
     * (not the close-on-exec one), the ignored signal and the working directory. */
    int keep = open("kept.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    int drop = open("dropped.txt", O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
    if (keep != 3 || drop != 4) return 1;
    signal(SIGUSR1, SIG_IGN);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", getpid());
    setenv("EXPECTED_PID", pid, 1);
    execl("/bin/sh", "sh", "-c",
          "test \"$$\" = \"$EXPECTED_PID\" && echo same pid; "
          "echo via-fd3 >&3 && echo fd 3 open; "
          "(echo x >&4) 2>/dev/null || echo fd 4 closed; "
          "kill -USR1 $$; echo survived ignored SIGUSR1; "
          "read line < kept.txt; echo \"$line\"; rm -f kept.txt dropped.txt",
          (char *)NULL);
    perror("execl");
    return 1;
}

static int spawn(void) {
    pid_t c;
    char *argv[] = {"sh", "-c", "echo spawned; exit 4", NULL};
    int r = posix_spawn(&c, "/bin/sh", NULL, NULL, argv, environ);
    int st;
    waitpid(c, &st, 0); /* before printing: the child's line races with ours */
    printf("posix_spawn: %d\n", r);
    report("spawned", st);
    char *argv2[] = {"true", NULL};
    r = posix_spawnp(&c, "true", NULL, NULL, argv2, environ);
    waitpid(c, &st, 0);
    printf("posix_spawnp true: %d\n", r);
    report("true", st);
    pid_t v = vfork();
    if (v == 0) {
        execl("/bin/sh", "sh", "-c", "exit 9", (char *)NULL);
        _exit(127);
    }
    waitpid(v, &st, 0);
    report("vforked", st);
    return 0;
}

static volatile sig_atomic_t got_chld;
static void on_chld(int s) { (void)s; got_chld++; }

static int sigchld(void) {
    signal(SIGCHLD, on_chld);
    pid_t c = fork();
    if (c == 0) _exit(0);
    while (!got_chld) pause();
    printf("SIGCHLD handled: %d\n", got_chld >= 1);
    int st;
    printf("reaped: %d\n", waitpid(c, &st, 0) == c);
    /* kill to a child, and its exit by that signal. */
    int p[2];
    pipe(p);
    c = fork();
    if (c == 0) {
        close(p[0]);
        write(p[1], "r", 1);
        for (;;) pause();
    }
    char b;
    read(p[0], &b, 1);
    printf("kill: %d\n", kill(c, SIGKILL));
    waitpid(c, &st, 0);
    report("killed child", st);
    int r = kill(c, 0);
    printf("kill of a reaped child: %d %s\n", r, strerror(errno));
    return 0;
}

static int groups(void) {
    /* Absolute ids depend on who started the test (a container's session
     * leader is outside its pid namespace: getsid reports 0); relations do not. */
    printf("own group: %d, session: %d\n", getpgid(0) == getpgrp(), getsid(0) == getsid(getpid()));
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        printf("child in parent's group: %d\n", getpgrp() == getpgid(getppid()));
        printf("child in parent's session: %d\n", getsid(0) == getsid(getppid()));
        printf("setsid: %d\n", setsid() == getpid());
        printf("leads its group and session: %d %d\n", getpgrp() == getpid(), getsid(0) == getpid());
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    c = fork();
    if (c == 0) {
        char b;
        read(p[0], &b, 1);
        printf("child's group after setpgid: %d\n", getpgrp() == getpid());
        fflush(stdout);
        _exit(0);
    }
    printf("setpgid(child): %d\n", setpgid(c, c));
    write(p[1], "g", 1);
    waitpid(c, NULL, 0);
    return 0;
}

static int orphan(void) {
    /* A grandchild outlives its parent; its parent becomes someone else. */
    int p[2], q[2];
    pipe(p);
    pipe(q);
    pid_t c = fork();
    if (c == 0) {
        pid_t g = fork();
        if (g == 0) {
            close(p[0]);
            pid_t before = getppid();
            write(q[1], "s", 1);
            while (getppid() == before) usleep(1000);
            write(p[1], "o", 1);
            _exit(0);
        }
        char s;
        read(q[0], &s, 1); /* the grandchild knows its first parent */
        _exit(0);
    }
    close(p[1]);
    waitpid(c, NULL, 0);
    char b = 0;
    ssize_t got = read(p[0], &b, 1);
    printf("grandchild saw its parent change: %zd %c\n", got, b);
    return 0;
}

static int nocldwait(void) {
    /* SIGCHLD ignored: children leave no zombie; wait blocks until they are
     * all gone, then ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    for (int i = 0; i < 3; i++)
        if (fork() == 0) { usleep(20000 * (i + 1)); _exit(i); }
    int st;
    pid_t r = wait(&st);
    printf("wait with SIGCHLD ignored: %d %s\n", (int)r, strerror(errno));
    return 0;
}

static int pdeathsig(void) {
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        /* The middle process asks for SIGUSR1... in its own child, then ends. */
        pid_t g = fork();
        if (g == 0) {
            prctl(PR_SET_PDEATHSIG, SIGUSR1);
            int sig = 0;
            prctl(PR_GET_PDEATHSIG, &sig);
            sigset_t set;
            sigemptyset(&set);
            sigaddset(&set, SIGUSR1);
            sigprocmask(SIG_BLOCK, &set, NULL);
            write(p[1], "r", 1);
            int got = 0;
            sigwait(&set, &got);
            char msg[64];
            int n = snprintf(msg, sizeof msg, "asked for %d, got %d\n", sig, got);
            write(p[1], msg, n);
            _exit(0);
        }
        char b;
        read(p[0], &b, 1);
        _exit(0);
    }
    close(p[1]);
    waitpid(c, NULL, 0);
    char buf[64] = {0};
    ssize_t n = 0, k;
    while ((k = read(p[0], buf + n, sizeof buf - 1 - n)) > 0) n += k;
    printf("grandchild: %s", buf + (buf[0] == 'r'));
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    const char *t = argv[1];
    if (!strcmp(t, "fork_wait")) return fork_wait();
    if (!strcmp(t, "memory")) return memory_is_copied();
    if (!strcmp(t, "pipe")) return pipe_between();
    if (!strcmp(t, "exec_errors")) return exec_errors();
    if (!strcmp(t, "exec_keeps")) return exec_keeps();
    if (!strcmp(t, "spawn")) return spawn();
    if (!strcmp(t, "sigchld")) return sigchld();
    if (!strcmp(t, "groups")) return groups();
    if (!strcmp(t, "orphan")) return orphan();
    if (!strcmp(t, "nocldwait")) return nocldwait();
    if (!strcmp(t, "selfexec")) {
        /* Runs itself again through /proc/self/exe. */
        if (argc > 2) { printf("again with %s\n", argv[2]); return 0; }
        char *again[] = {argv[0], "selfexec", "second", NULL};
        execv("/proc/self/exe", again);
        perror("execv /proc/self/exe");
        return 1;
    }
    if (!strcmp(t, "pdeathsig")) return pdeathsig();
    return 2;
}
