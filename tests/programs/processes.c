/* Processes: fork, exec, wait, pipes between processes, groups, signals.
 * `processes NAME` runs one sub-test; its output must match a native run. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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

/* From the second spawn on, hx hands the child to a monitor made ahead:
 * it must hold none of the parent's descriptors (the reader below sees
 * EOF), take the file actions, argv, environment and directory it is
 * given, and a signal sent right after the spawn must reach the child. */
static int spare(void) {
    alarm(30); /* a reader that never sees EOF ends the test, not the run */
    int p[2], st;
    pid_t c;
    pipe(p);
    char *t[] = {"true", NULL};
    for (int i = 0; i < 3; i++) {
        posix_spawnp(&c, "true", NULL, NULL, t, environ);
        waitpid(c, &st, 0);
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    posix_spawn_file_actions_addclose(&fa, p[1]);
    char *argv[] = {"sh", "-c", "echo \"$GREETING from $(pwd) with $1\"", "sh", "arg1", NULL};
    char *env[] = {"GREETING=hello", "PATH=/usr/bin:/bin", NULL};
    chdir("/");
    posix_spawn(&c, "/bin/sh", &fa, NULL, argv, env);
    close(p[1]);
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
    buf[got] = 0;
    waitpid(c, &st, 0);
    printf("read: %s", buf);
    report("writer", st);
    for (int i = 0; i < 4; i++) {
        char *slp[] = {"sleep", "5", NULL};
        posix_spawnp(&c, "sleep", NULL, NULL, slp, environ);
        kill(c, i % 2 ? SIGTERM : SIGKILL);
        waitpid(c, &st, 0);
        report("signalled right away", st);
    }
    for (int i = 0; i < 4; i++) {
        char code[32];
        snprintf(code, sizeof code, "exit %d", 10 + i);
        char *ex[] = {"sh", "-c", code, NULL};
        posix_spawn(&c, "/bin/sh", NULL, NULL, ex, environ);
        waitpid(c, &st, 0);
        report("status", st);
    }
    /* A child that execs another image (its monitor was a spare, whose
     * kernel booted before the first image came). */
    for (int i = 0; i < 3; i++) {
        char *ex[] = {"sh", "-c", "exec sh -c 'exit 7'", NULL};
        posix_spawn(&c, "/bin/sh", NULL, NULL, ex, environ);
        waitpid(c, &st, 0);
        report("exec in the child", st);
    }
    /* A program larger than the room a spare keeps for it (gcc's cc1: some
     * 38 MB of segments), then a small one: hx's spare steps aside and the
     * parent's monitor starts the child itself, then makes a new spare. */
    int q[2];
    pipe(q);
    posix_spawn_file_actions_t pa;
    posix_spawn_file_actions_init(&pa);
    posix_spawn_file_actions_adddup2(&pa, q[1], 1);
    posix_spawn_file_actions_addclose(&pa, q[0]);
    posix_spawn_file_actions_addclose(&pa, q[1]);
    char *gcc[] = {"gcc", "-print-prog-name=cc1", NULL};
    posix_spawnp(&c, "gcc", &pa, NULL, gcc, environ);
    close(q[1]);
    char cc1[512];
    got = 0;
    while (got < sizeof cc1 - 1 && (n = read(q[0], cc1 + got, sizeof cc1 - 1 - got)) > 0) got += n;
    cc1[got] = 0;
    cc1[strcspn(cc1, "\n")] = 0;
    waitpid(c, &st, 0);
    report("gcc -print-prog-name", st);
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, 2, "/dev/null", O_WRONLY, 0);
    for (int i = 0; i < 2; i++) {
        char *big[] = {cc1, "-quiet", "-o", "/dev/null", NULL};
        int e = posix_spawn(&c, cc1, &quiet, NULL, big, environ);
        if (e == 0) waitpid(c, &st, 0);
        printf("cc1: spawn %d, ", e);
        report("status", st);
        posix_spawnp(&c, "true", NULL, NULL, t, environ);
        waitpid(c, &st, 0);
        report("then true", st);
    }
    return 0;
}

/* A spawner ends before the children it started (in hx, monitors made
 * ahead took them): they live on, as orphans do on Linux, and finish
 * their work. The pipe reaches EOF once the last of them is gone. */
static int spawner_ends_first(void) {
    alarm(30);
    int p[2], st;
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        close(p[0]);
        char *t[] = {"true", NULL};
        pid_t d;
        for (int i = 0; i < 2; i++) {
            posix_spawnp(&d, "true", NULL, NULL, t, environ);
            waitpid(d, NULL, 0);
        }
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, p[1], 1);
        for (int i = 0; i < 3; i++) {
            char line[64];
            snprintf(line, sizeof line, "sleep 0.3; echo orphan %d done", i);
            char *argv[] = {"sh", "-c", line, NULL};
            posix_spawn(&d, "/bin/sh", &fa, NULL, argv, environ);
        }
        _exit(0);
    }
    close(p[1]);
    waitpid(c, &st, 0);
    report("spawner", st);
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(p[0], buf + got, sizeof buf - 1 - got)) > 0) got += n;
    buf[got] = 0;
    /* Their order is the scheduler's: count the lines. */
    int lines = 0;
    for (char *s = buf; (s = strstr(s, " done\n")); s++) lines++;
    printf("orphans that finished: %d\n", lines);
    return 0;
}

/* Children whose monitors came back as spares (hx) stay zombies until
 * reaped, with their own statuses, while the same monitors run newer
 * children: a SIGKILL to a zombie's pid is no kill of the newer child, and
 * a quick child's CPU time is its own (not its monitor's earlier work). */
static int spare_zombies(void) {
    /* 1200 spawns take 25 s in hx here: room for a loaded CI machine. */
    alarm(120);
    char *t[] = {"true", NULL};
    pid_t c;
    int st;
    for (int i = 0; i < 3; i++) {
        posix_spawnp(&c, "true", NULL, NULL, t, environ);
        waitpid(c, &st, 0);
    }
    for (int round = 0; round < 3; round++) {
        pid_t quick[3], slow[3];
        for (int i = 0; i < 3; i++) {
            char *q[] = {"sh", "-c", "exit 3", NULL};
            posix_spawn(&quick[i], "/bin/sh", NULL, NULL, q, environ);
        }
        usleep(150000);
        for (int i = 0; i < 3; i++) {
            char *w[] = {"sh", "-c", "sleep 0.2; exit 5", NULL};
            posix_spawn(&slow[i], "/bin/sh", NULL, NULL, w, environ);
        }
        for (int i = 0; i < 3; i++) printf("kill of a zombie: %d\n", kill(quick[i], SIGKILL));
        for (int i = 0; i < 3; i++) {
            struct rusage ru;
            wait4(slow[i], &st, 0, &ru);
            report("slow child", st);
        }
        for (int i = 0; i < 3; i++) {
            struct rusage ru;
            wait4(quick[i], &st, 0, &ru);
            report("zombie", st);
            long us = ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1000000L +
                      ru.ru_stime.tv_usec;
            printf("its CPU time under 50 ms: %d\n", us < 50000);
        }
    }
    /* More children than hx's process table holds, one after another:
     * each slot is free again once its child is reaped. */
    int failed = 0;
    for (int i = 0; i < 1200; i++) {
        if (posix_spawnp(&c, "true", NULL, NULL, t, environ) != 0) failed++;
        else if (waitpid(c, &st, 0) != c || !WIFEXITED(st)) failed++;
    }
    printf("1200 more spawns, failed: %d\n", failed);
    return 0;
}

/* A SIGCHLD, then waitpid(-1, WNOHANG) until it finds nothing, as
 * asyncio's FastChildWatcher waits: the killed child must be among what it
 * finds. In hx, monitors made ahead of spawns come back when their child
 * ends and are sent away at the next spawn when none is wanted: host
 * children that stand for no process must not hide the killed one. */
static int wait_any_killed(void) {
    alarm(60);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    struct timespec none = {0, 0}, two_s = {2, 0};
    int lost = 0;
    for (int round = 0; round < 10; round++) {
        pid_t quick[2];
        int st;
        for (int i = 0; i < 2; i++) {
            char *q[] = {"sh", "-c", "exit 0", NULL};
            posix_spawn(&quick[i], "/bin/sh", NULL, NULL, q, environ);
        }
        for (int i = 0; i < 2; i++) waitpid(quick[i], &st, 0);
        usleep(150000);
        while (sigtimedwait(&chld, NULL, &none) == SIGCHLD) {
        }
        pid_t c;
        char *s[] = {"sleep", "30", NULL};
        posix_spawnp(&c, "sleep", NULL, NULL, s, environ);
        kill(c, SIGKILL);
        int found = 0;
        while (!found && sigtimedwait(&chld, NULL, &two_s) == SIGCHLD) {
            pid_t got;
            while ((got = waitpid(-1, &st, WNOHANG)) > 0) {
                if (got == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) found = 1;
            }
        }
        if (!found) {
            lost++;
            waitpid(c, &st, 0);
        }
    }
    printf("killed children missed by a SIGCHLD and waitpid(-1, WNOHANG): %d of 10\n", lost);
    return 0;
}

static void *busy_sum(void *arg) {
    long *out = arg, s = 0;
    for (long k = 0; k < 3000000; k++) s += k % 7;
    *out = s;
    return NULL;
}

/* Children that run threads at once (in hx: on more than one vCPU) and
 * plain ones in turn: a monitor that comes back as a spare after a child
 * with several vCPUs boots the next child as well. */
static int spare_threads(const char *self) {
    alarm(60);
    for (int i = 0; i < 6; i++) {
        pid_t c;
        int st;
        char *busy[] = {(char *)self, "busy_threads", NULL};
        posix_spawn(&c, "/proc/self/exe", NULL, NULL, busy, environ);
        waitpid(c, &st, 0);
        report("threads", st);
        char code[32];
        snprintf(code, sizeof code, "exit %d", i);
        char *sh[] = {"sh", "-c", code, NULL};
        posix_spawn(&c, "/bin/sh", NULL, NULL, sh, environ);
        waitpid(c, &st, 0);
        report("plain", st);
    }
    return 0;
}

/* A child that started children of its own (in hx its monitor then keeps
 * a spare, which ends with it) is killed: the parent's wait returns at
 * once, not when the grandchild ends. */
static int kill_spawner(void) {
    alarm(30);
    pid_t c;
    int st;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *argv[] = {"sh", "-c", "sleep 3; true", NULL};
    for (int i = 0; i < 4; i++) {
        posix_spawn(&c, "/bin/sh", &fa, NULL, argv, environ);
        usleep(100000);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        kill(c, SIGKILL);
        waitpid(c, &st, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        double took = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
        printf("killed spawner reaped within a second: %d\n", took < 1.0);
        report("killed spawner", st);
    }
    return 0;
}

/* A blocking send of 16 MiB to a socket whose reader (another process)
 * starts late moves it all, in as many parts as the socket buffer takes. */
static int big_send(void) {
    alarm(60);
    size_t total = 16u << 20;
    char *data = malloc(total);
    for (size_t i = 0; i < total; i++) data[i] = (char)(i * 13);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    pid_t c = fork();
    if (c == 0) {
        close(sv[1]);
        usleep(200000);
        char *got = malloc(total);
        size_t n = 0;
        ssize_t r;
        while (n < total && (r = read(sv[0], got + n, total - n)) > 0) n += r;
        _exit(n == total && !memcmp(got, data, total) ? 0 : 1);
    }
    close(sv[0]);
    ssize_t sent = send(sv[1], data, total, 0);
    int st;
    waitpid(c, &st, 0);
    printf("one send moved %zd bytes\n", sent);
    report("reader", st);
    return 0;
}

/* An epoll set keeps watching a pipe across a fork (hx moves the kernel's
 * pipes to the host then): the self-pipe a SIGCHLD handler writes to is
 * reported, as Python's forkserver relies on. */
static int wake_fd;
static void on_chld_write(int s) {
    (void)s;
    char c = 17;
    write(wake_fd, &c, 1);
}

static int epoll_fork(void) {
    alarm(20);
    int p[2], sv[2];
    pipe(p);
    wake_fd = p[1];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.fd = p[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &e);
    e.data.fd = sv[0];
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &e);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld_write;
    sigaction(SIGCHLD, &sa, NULL);
    pid_t c = fork();
    if (c == 0) {
        usleep(100000);
        _exit(0);
    }
    struct epoll_event out[4];
    int n, tries = 0;
    do {
        n = epoll_wait(ep, out, 4, 3000);
        tries++;
    } while (n < 0 && errno == EINTR && tries < 5);
    printf("epoll_wait after the child's end: %d, the pipe: %d\n", n, n > 0 && out[0].data.fd == p[0]);
    waitpid(c, NULL, 0);
    return 0;
}

/* One thread forks while another is blocked reading a pipe the child
 * writes to (hx moves its pipes to the host at the fork): the reader gets
 * the child's bytes, as CPython's test_thread checks. */
static int fork_pipe[2];
static pid_t forked;

static void *forker(void *arg) {
    (void)arg;
    usleep(100000);
    forked = fork();
    if (forked == 0) {
        write(fork_pipe[1], "OK", 2);
        _exit(0);
    }
    return NULL;
}

static int fork_in_thread(void) {
    alarm(20);
    pipe(fork_pipe);
    pthread_t t;
    pthread_create(&t, NULL, forker, NULL);
    char buf[3] = {0};
    ssize_t n = read(fork_pipe[0], buf, 2);
    pthread_join(t, NULL);
    int st;
    waitpid(forked, &st, 0);
    printf("read while another thread forked: %zd %s\n", n, buf);
    report("child", st);
    return 0;
}

static void on_usr1(int s) { (void)s; }

/* A vfork child shares its parent's memory until it execs or ends, and
 * has its own descriptors, signal actions, umask and working directory:
 * what it changes there stays its own. */
static int vfork_semantics(void) {
    static volatile int shared_word;
    int st;
    signal(SIGUSR1, on_usr1);
    umask(022);
    pid_t parent = getpid();
    int fd = open("/dev/null", O_WRONLY);
    pid_t v = vfork();
    if (v == 0) {
        shared_word = 42;
        int own_pid = getpid() != parent && getppid() == parent;
        signal(SIGUSR1, SIG_IGN);
        umask(077);
        close(fd);
        dup2(1, 9);
        chdir("/");
        _exit(own_pid ? 5 : 6);
    }
    waitpid(v, &st, 0);
    report("vfork child that ends", st);
    printf("child's write seen: %d\n", shared_word == 42);
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    printf("handler kept: %d\n", sa.sa_handler == on_usr1);
    mode_t m = umask(022);
    printf("umask kept: %03o\n", (unsigned)m);
    printf("descriptor kept: %d, child's dup gone: %d\n", fcntl(fd, F_GETFD) >= 0, fcntl(9, F_GETFD) < 0);
    char cwd[256];
    printf("cwd kept: %d\n", getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") != 0);
    /* An exec that fails leaves its errno in shared memory, as posix_spawn's does. */
    static volatile int exec_errno;
    v = vfork();
    if (v == 0) {
        execl("/nonexistent/program", "x", (char *)NULL);
        exec_errno = errno;
        _exit(127);
    }
    waitpid(v, &st, 0);
    report("failed exec", st);
    printf("exec errno: %s\n", strerror(exec_errno));
    /* A child killed by a signal before it execs. */
    v = vfork();
    if (v == 0) {
        /* Not raise(): musl's targets the thread id it cached, the parent's. */
        signal(SIGTERM, SIG_DFL);
        kill(getpid(), SIGTERM);
        _exit(1);
    }
    waitpid(v, &st, 0);
    report("raised", st);
    /* The exec'd child gets the descriptors the vfork child arranged. */
    int p[2];
    pipe(p);
    v = vfork();
    if (v == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", "echo through the pipe", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[64] = {0};
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    waitpid(v, &st, 0);
    printf("read %zd: %s", n, buf);
    report("piped child", st);
    return 0;
}

static volatile sig_atomic_t got_chld;
static void on_chld(int s) { (void)s; got_chld++; }

/* Waits for the SIGCHLD handler to have run. SIGCHLD stays blocked between
 * the flag's check and the wait (sigsuspend): a handler that ran after the
 * check but before a pause() would leave it waiting for good, on Linux as
 * in hx. */
static void await_sigchld(const sigset_t *unblocked) {
    while (!got_chld) sigsuspend(unblocked);
}

static int sigchld(void) {
    signal(SIGCHLD, on_chld);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    pid_t c = fork();
    if (c == 0) _exit(0);
    await_sigchld(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
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
    /* INT_MIN names no process group (-INT_MIN does not exist): ESRCH, and no one is killed. */
    r = kill(INT_MIN, SIGKILL);
    printf("kill(INT_MIN, SIGKILL): %d %s\n", r, strerror(errno));
    r = kill(-0x7ffffff0, SIGKILL);
    printf("kill of a group that does not exist: %d %s\n", r, strerror(errno));
    return 0;
}

/* A forked child's random bytes are not its parent's, whether or not the
 * parent drew any before the fork. */
static int fork_random(void) {
    for (int round = 0; round < 2; round++) {
        unsigned char mine[16], theirs[16];
        int p[2];
        pipe(p);
        pid_t c = fork();
        if (c == 0) {
            getrandom(mine, sizeof mine, 0);
            write(p[1], mine, sizeof mine);
            _exit(0);
        }
        getrandom(mine, sizeof mine, 0);
        ssize_t n = read(p[0], theirs, sizeof theirs);
        waitpid(c, NULL, 0);
        printf("round %d: read %zd, differ: %d\n", round, n, memcmp(mine, theirs, sizeof mine) != 0);
        close(p[0]);
        close(p[1]);
    }
    return 0;
}

/* One SIGCHLD per child's end, however its monitor ends later. */
static int one_sigchld_each(void) {
    signal(SIGCHLD, on_chld);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (int i = 0; i < 3; i++) {
        got_chld = 0;
        sigprocmask(SIG_BLOCK, &chld, &old);
        pid_t c = fork();
        if (c == 0) _exit(i);
        await_sigchld(&old);
        sigprocmask(SIG_SETMASK, &old, NULL);
        int st;
        waitpid(c, &st, 0);
        struct timespec settle = {0, 200 * 1000 * 1000};
        while (nanosleep(&settle, &settle) && errno == EINTR) {}
        printf("child %d: exited %d, SIGCHLDs: %d\n", i, WEXITSTATUS(st), (int)got_chld);
    }
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
    /* A child that ran execve can no longer be moved: EACCES. */
    int q[2];
    pipe(q);
    c = fork();
    if (c == 0) {
        dup2(q[0], 0);
        close(q[1]);
        execl("/bin/cat", "cat", (char *)NULL);
        _exit(127);
    }
    close(q[0]);
    int r = -1, e = 0;
    for (int i = 0; i < 2000; i++) { /* until the exec took (then EACCES) */
        r = setpgid(c, c);
        e = errno;
        if (r != 0) break;
        usleep(1000);
    }
    printf("setpgid(execed child): %d %s\n", r, e == EACCES ? "EACCES" : "?");
    close(q[1]);
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


/* An orphan comes to its subreaper (natively by prctl; in hx the program is
 * the tree's pid 1): a wait for any child then sees the orphan and the
 * children forked after it, the one that ends first first, and ECHILD only
 * once both are reaped. (hx answered ECHILD at once: the orphan's monitor
 * is no host child of this one.) */
static int orphan_wait(void) {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int go[2], ready[2];
    pipe(go);
    pipe(ready);
    pid_t a = fork();
    if (a == 0) {
        if (fork() == 0) {
            char c;
            write(ready[1], "r", 1);
            read(go[0], &c, 1); /* until the test lets it end */
            _exit(5);
        }
        _exit(0);
    }
    char c;
    read(ready[0], &c, 1);
    int st;
    printf("first child reaped: %d\n", waitpid(a, &st, 0) == a && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pid_t b = fork();
    if (b == 0) {
        usleep(50000);
        _exit(7);
    }
    pid_t r = wait(&st);
    printf("wait: the new child, status %d\n", r == b && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    write(go[1], "g", 1);
    r = wait(&st);
    printf("wait: the orphan, status %d\n", r > 0 && r != b && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    r = wait(&st);
    printf("then: %d %s\n", (int)r, r < 0 && errno == ECHILD ? "ECHILD" : "?");
    return 0;
}

/* The same one level down: a child that made itself a subreaper takes its
 * descendants' orphans (in hx, not the tree's pid 1); the flag is its own. */
static int orphan_wait_nested(void) {
    pid_t s = fork();
    if (s == 0) {
        int on = -1;
        prctl(PR_GET_CHILD_SUBREAPER, &on);
        printf("a new process is no subreaper: %d\n", on);
        int r = orphan_wait();
        prctl(PR_GET_CHILD_SUBREAPER, &on);
        printf("then it is: %d\n", on);
        fflush(stdout);
        _exit(r);
    }
    int st;
    printf("subreaper ended: %d\n", waitpid(s, &st, 0) == s && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    pid_t r = wait(&st);
    printf("nothing came to its parent: %s\n", r < 0 && errno == ECHILD ? "ECHILD" : "?");
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

/* Prints what waitid reported (no pid or uid: they differ between runs). */
static void show_info(const char *what, int r, const siginfo_t *si, pid_t expect) {
    if (r < 0) {
        printf("%s: %s\n", what, strerror(errno));
        return;
    }
    const char *code = si->si_code == CLD_EXITED   ? "CLD_EXITED"
                       : si->si_code == CLD_KILLED ? "CLD_KILLED"
                       : si->si_code == CLD_DUMPED ? "CLD_DUMPED"
                       : si->si_code == 0          ? "0"
                                                   : "other";
    printf("%s: signo %d code %s status %d pid %s\n", what, si->si_signo, code, si->si_status,
           si->si_pid == 0 ? "0" : si->si_pid == expect ? "the child's" : "another");
}

/* A child that has started (it says so on a pipe before fork returns here),
 * then waits for a byte (or EOF) on pipe `hold` and exits with `code`. */
static pid_t started_child(int hold[2], int code) {
    int r[2];
    pipe(r);
    pid_t c = fork();
    if (c == 0) {
        close(hold[1]);
        close(r[0]);
        write(r[1], "s", 1);
        char b;
        read(hold[0], &b, 1);
        _exit(code);
    }
    close(r[1]);
    char b;
    read(r[0], &b, 1);
    close(r[0]);
    return c;
}

static int waitid_test(void) {
    siginfo_t si;
    int r;
    /* WNOWAIT: the child is reported and stays waitable. */
    pid_t c = fork();
    if (c == 0) _exit(3);
    memset(&si, 0xff, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED | WNOWAIT);
    show_info("P_PID WNOWAIT", r, &si, c);
    memset(&si, 0xff, sizeof si);
    r = waitid(P_PID, c, &si, WEXITED | WNOWAIT);
    show_info("P_PID WNOWAIT again", r, &si, c);
    int st;
    printf("still waitable by waitpid: %d\n", waitpid(c, &st, WNOHANG) == c);
    report("its status", st);
    r = waitid(P_PID, c, &si, WEXITED);
    show_info("P_PID once reaped", r, &si, c);

    /* WNOHANG with a running child: 0, and si_signo/si_pid cleared. */
    int p[2];
    pipe(p);
    c = started_child(p, 4);
    memset(&si, 0xff, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
    printf("P_ALL WNOHANG, child running: %d signo %d pid %d\n", r, si.si_signo, si.si_pid);
    write(p[1], "x", 1);
    memset(&si, 0xff, sizeof si);
    r = waitid(P_ALL, 0, &si, WEXITED);
    show_info("P_ALL", r, &si, c);
    r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG);
    show_info("P_ALL without children", r, &si, 0);

    /* Deaths by signals. */
    c = started_child(p, 0);
    kill(c, SIGKILL);
    r = waitid(P_PID, c, &si, WEXITED);
    show_info("SIGKILL", r, &si, c);
    c = started_child(p, 0);
    kill(c, SIGTERM);
    r = waitid(P_PID, c, &si, WEXITED);
    show_info("SIGTERM", r, &si, c);
    /* Invalid calls. */
    r = waitid(P_ALL, 0, &si, 0);
    show_info("no state asked", r, &si, 0);
    r = waitid(P_PID, 0, &si, WEXITED);
    show_info("P_PID 0", r, &si, 0);
    r = waitid((idtype_t)42, 0, &si, WEXITED);
    show_info("unknown idtype", r, &si, 0);
    return 0;
}

/* Three started children: `a` and `b` in a new group led by `a`, `o` left
 * in ours; prints what the two setpgid calls returned. */
static void three_children_two_in_a_group(int hold[2], int codes[3], pid_t *a, pid_t *b, pid_t *o) {
    *a = started_child(hold, codes[0]);
    *b = started_child(hold, codes[1]);
    *o = started_child(hold, codes[2]);
    int r1 = setpgid(*a, *a);
    int r2 = setpgid(*b, *a);
    printf("setpgid: %d %d\n", r1, r2);
}

static int waitid_pgid(void) {
    siginfo_t si;
    int r;
    /* P_PGID: two children in a group of their own, one in ours. */
    int q[2];
    pipe(q);
    pid_t a, b, o;
    three_children_two_in_a_group(q, (int[3]){10, 11, 12}, &a, &b, &o);
    close(q[1]); /* all three may end */
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        r = waitid(P_PGID, a, &si, WEXITED);
        if (r == 0 && si.si_code == CLD_EXITED && (si.si_pid == a || si.si_pid == b))
            seen |= 1 << (si.si_status - 10);
    }
    printf("P_PGID reaped both of its group: %d\n", seen == 3);
    r = waitid(P_PGID, a, &si, WEXITED);
    show_info("P_PGID once empty", r, &si, 0);
    r = waitid(P_PGID, 0, &si, WEXITED); /* 0: the caller's own group */
    show_info("P_PGID 0", r, &si, o);
    return 0;
}

static int rusage_test(void) {
    int st;
    struct rusage ru;
    pid_t c = fork();
    if (c == 0) {
        /* 16 MiB touched, and some CPU time. */
        size_t n = 16 << 20;
        volatile char *m = malloc(n);
        for (size_t i = 0; i < n; i += 4096) m[i] = 1;
        struct timespec t0, t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        do clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 100000000L);
        _exit(m[4096] + 1);
    }
    memset(&ru, 0xff, sizeof ru);
    pid_t r = wait4(c, &st, 0, &ru);
    printf("wait4 returned the child: %d\n", r == c);
    report("child", st);
    printf("utime, stime well-formed: %d %d\n", ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000,
           ru.ru_stime.tv_sec >= 0 && ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
    long cpu_us = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
    /* Above 0 only: under hx the child's own CPU clock runs while the host
     * preempts its vCPU, which the host's accounting (this rusage) leaves out. */
    printf("child's user+system time above 0: %d\n", cpu_us > 0);
    /* Above 0 only: how much of what it touched Linux counts varies between runs. */
    printf("child's maxrss above 0: %d\n", ru.ru_maxrss > 0);
    struct rusage all;
    getrusage(RUSAGE_CHILDREN, &all);
    printf("RUSAGE_CHILDREN covers it: %d %d\n", all.ru_maxrss >= ru.ru_maxrss,
           all.ru_utime.tv_sec * 1000000L + all.ru_utime.tv_usec + all.ru_stime.tv_sec * 1000000L + all.ru_stime.tv_usec >= cpu_us);
    /* A new child has had no children: its RUSAGE_CHILDREN starts at zero. */
    c = fork();
    if (c == 0) {
        getrusage(RUSAGE_CHILDREN, &all);
        printf("a new child's RUSAGE_CHILDREN maxrss: %ld\n", all.ru_maxrss);
        _exit(0);
    }
    waitpid(c, &st, 0);
    /* A killed child's usage, and WNOHANG with nothing to reap. */
    c = fork();
    if (c == 0) for (;;) pause();
    memset(&ru, 0xff, sizeof ru);
    r = wait4(c, &st, WNOHANG, &ru);
    printf("WNOHANG: %d\n", (int)r);
    kill(c, SIGKILL);
    r = wait4(c, &st, 0, &ru);
    report("killed", st);
    printf("its rusage filled: %d\n", ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
    r = wait4(-1, &st, 0, &ru);
    printf("no children: %d %s\n", (int)r, strerror(errno));
    return 0;
}

static int sa_nocldwait(void) {
    /* A zombie from before the flag stays waitable (Linux). */
    pid_t old = fork();
    if (old == 0) _exit(4);
    siginfo_t zi;
    waitid(P_PID, (id_t)old, &zi, WEXITED | WNOWAIT);
    struct sigaction sa = {0};
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_NOCLDWAIT | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    /* New children are reaped by the kernel, and the handler still runs. */
    pid_t c = fork();
    if (c == 0) _exit(5);
    sigset_t none;
    sigemptyset(&none);
    while (!got_chld) sigsuspend(&none);
    printf("handler ran: %d\n", got_chld >= 1);
    int st;
    pid_t r = waitpid(c, &st, 0);
    printf("waitpid on the new child: %d %s\n", (int)r, strerror(errno));
    r = waitpid(old, &st, 0);
    printf("the zombie from before the flag: %d, exit %d\n", r == old, WEXITSTATUS(st));
    /* wait blocks until the children are gone, then fails. */
    got_chld = 0;
    for (int i = 0; i < 2; i++)
        if (fork() == 0) { usleep(20000 * (i + 1)); _exit(i); }
    r = wait(&st);
    printf("wait with SA_NOCLDWAIT: %d %s\n", (int)r, strerror(errno));
    printf("handler ran again: %d\n", got_chld >= 1);
    /* SA_NOCLDWAIT with the default action: reaped, and no handler. */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    got_chld = 0;
    if (fork() == 0) _exit(6);
    r = wait(&st);
    printf("default action with SA_NOCLDWAIT: %d %s\n", (int)r, strerror(errno));
    struct sigaction now;
    sigaction(SIGCHLD, NULL, &now);
    printf("flag kept: %d\n", (now.sa_flags & SA_NOCLDWAIT) != 0);
    return 0;
}

/* What a SIGCHLD handler with SA_SIGINFO is told: the child, how it
 * changed state (CLD_EXITED with its status, CLD_KILLED with the signal). */
static volatile sig_atomic_t chld_code, chld_status, chld_is_child, chld_signo, chld_count;
static volatile pid_t chld_expect;
static void on_chld_info(int s, siginfo_t *si, void *u) {
    (void)s;
    (void)u;
    chld_signo = si->si_signo;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_is_child = si->si_pid == chld_expect;
    chld_count++;
}

static int sigchld_info(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_chld_info;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    for (int round = 0; round < 2; round++) {
        sigprocmask(SIG_BLOCK, &chld, &old);
        chld_count = 0;
        pid_t c = fork();
        if (c == 0) {
            if (round == 1) pause();
            _exit(3);
        }
        chld_expect = c;
        if (round == 1) kill(c, SIGTERM);
        while (!chld_count) sigsuspend(&old);
        sigprocmask(SIG_SETMASK, &old, NULL);
        const char *code = chld_code == CLD_EXITED ? "CLD_EXITED" : chld_code == CLD_KILLED ? "CLD_KILLED" : "other";
        printf("SIGCHLD %d: signo %d, code %s, from the child %d, status %d\n", round, chld_signo, code, chld_is_child,
               chld_status);
        int st;
        printf("reaped: %d\n", waitpid(c, &st, 0) == c);
    }
    return 0;
}

/* A child made by clone with an exit signal other than SIGCHLD (a "clone
 * child"): its end sends that signal (or none), and only __WCLONE or __WALL
 * waits see it. */
static volatile sig_atomic_t got_usr1_from_child, got_chld_plain;
static void on_usr1_child(int s) { (void)s; got_usr1_from_child++; }
static void on_chld_plain(int s) { (void)s; got_chld_plain++; }

static pid_t clone_with(int exit_signal, int status) {
    pid_t c = syscall(SYS_clone, exit_signal, 0, 0, 0, 0);
    if (c == 0) _exit(status);
    return c;
}

static int clone_exit_signal(void) {
    signal(SIGUSR1, on_usr1_child);
    signal(SIGCHLD, on_chld_plain);
    sigset_t both, old;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGCHLD);
    sigprocmask(SIG_BLOCK, &both, &old);
    pid_t c = clone_with(SIGUSR1, 7);
    while (!got_usr1_from_child) sigsuspend(&old);
    printf("SIGUSR1 at its end: %d, SIGCHLD: %d\n", got_usr1_from_child, got_chld_plain);
    int st = 0;
    pid_t r = waitpid(c, &st, WNOHANG);
    printf("waitpid without __WCLONE: %d %s\n", r == c ? 1 : (int)r, r < 0 ? strerror(errno) : "");
    r = waitpid(-1, &st, WNOHANG);
    printf("waitpid(-1) without __WCLONE: %d %s\n", r == c ? 1 : (int)r, r < 0 ? strerror(errno) : "");
    r = waitpid(c, &st, __WCLONE);
    printf("waitpid with __WCLONE: %d, exit %d\n", r == c, WEXITSTATUS(st));
    /* Exit signal 0: no signal at all; __WALL sees it. */
    c = clone_with(0, 8);
    struct timespec ts = {0, 200 * 1000 * 1000};
    siginfo_t si;
    int got = sigtimedwait(&both, &si, &ts);
    printf("a signal from the exit-signal-0 child: %d\n", got > 0);
    /* With that zombie still there, a plain child's end is still signalled. */
    pid_t p = clone_with(SIGCHLD, 11);
    struct timespec two = {2, 0};
    got = sigtimedwait(&both, &si, &two);
    printf("then a plain child's end: %s, from it %d\n", got == SIGCHLD ? "SIGCHLD" : "other", si.si_pid == p);
    r = waitpid(p, &st, 0);
    printf("waitpid of it: %d, exit %d\n", r == p, WEXITSTATUS(st));
    r = waitpid(c, &st, __WALL);
    printf("waitpid with __WALL: %d, exit %d\n", r == c, WEXITSTATUS(st));
    /* A plain child and a clone child: a plain wait takes the plain one only. */
    pid_t plain = clone_with(SIGCHLD, 9);
    pid_t other = clone_with(SIGUSR1, 10);
    r = wait(&st);
    printf("wait: the plain child %d, exit %d\n", r == plain, WEXITSTATUS(st));
    r = waitpid(-1, &st, WNOHANG);
    printf("then: %d %s\n", (int)r, r < 0 ? strerror(errno) : "");
    r = waitpid(other, &st, __WCLONE);
    printf("the clone child with __WCLONE: %d, exit %d\n", r == other, WEXITSTATUS(st));
    sigprocmask(SIG_SETMASK, &old, NULL);
    return 0;
}

static volatile sig_atomic_t got_usr2;
static void on_usr2(int s) { (void)s; got_usr2++; }

/* Signals sent to children right after fork, before they have run. */
static void on_alarm(int s) { (void)s; }

static int kill_new_children(void) {
    int hold[2];
    pipe(hold);
    pid_t c[8];
    for (int i = 0; i < 8; i++) {
        c[i] = fork();
        if (c[i] == 0) {
            close(hold[1]);
            char b;
            read(hold[0], &b, 1);
            _exit(0);
        }
        kill(c[i], SIGTERM);
    }
    /* A lost signal leaves its child blocked: waitpid gives up after 10 s. */
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(10);
    int killed = 0, st, late = 0;
    for (int i = 0; i < 8; i++) {
        if (!late && waitpid(c[i], &st, 0) == c[i]) {
            killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
            continue;
        }
        late = 1; /* from here on, end the children that are left */
        kill(c[i], SIGKILL);
        if (waitpid(c[i], &st, 0) == c[i] && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM) killed++;
    }
    alarm(0);
    printf("children killed by SIGTERM: %d of 8\n", killed);
    return 0;
}

static int kill_group(void) {
    /* A group of our own first: kill(0) must not reach whoever started us. */
    if (setpgid(0, 0)) return 1;
    int p[2];
    pipe(p);
    pid_t a, b, o;
    three_children_two_in_a_group(p, (int[3]){0, 0, 0}, &a, &b, &o);
    printf("kill(-group, SIGTERM): %d\n", kill(-a, SIGTERM));
    int st;
    waitpid(a, &st, 0);
    report("first of the group", st);
    waitpid(b, &st, 0);
    report("second of the group", st);
    printf("the other child is untouched: %d\n", waitpid(o, &st, WNOHANG) == 0);
    int r = kill(-a, 0);
    printf("kill(-group, 0) of the emptied group: %d %s\n", r, strerror(errno));
    /* kill(0): our own group, the caller included. */
    signal(SIGUSR2, on_usr2);
    printf("kill(0, SIGUSR2): %d\n", kill(0, SIGUSR2));
    waitpid(o, &st, 0);
    report("the other child", st);
    printf("caller's handler ran: %d\n", got_usr2);
    r = kill(0, 0);
    printf("kill(0, 0) with the caller alone in its group: %d\n", r);
    return 0;
}

/* kill(-1) reaches every process the caller may signal: only run as pid 1
 * (of a pid namespace natively, or hx's first process), where "every" means
 * the test's own. */
static int kill_all(void) {
    if (getpid() != 1) {
        printf("refusing kill(-1) outside a pid namespace\n");
        return 1;
    }
    int p[2];
    pipe(p);
    pid_t a = started_child(p, 0);
    pid_t b = started_child(p, 0);
    setpgid(b, b);
    printf("kill(-1, SIGTERM): %d\n", kill(-1, SIGTERM));
    int st;
    waitpid(a, &st, 0);
    report("child in our group", st);
    waitpid(b, &st, 0);
    report("child in its own group", st);
    printf("caller survives\n");
    int r = kill(-1, 0);
    printf("kill(-1, 0) with nobody else: %d %s\n", r, strerror(errno));
    return 0;
}

static int run_and_report(const char *what, int (*fn)(void *), void *arg) {
    pid_t c = fork();
    if (c == 0) _exit(fn(arg));
    int st;
    waitpid(c, &st, 0);
    report(what, st);
    return 0;
}

static int do_fexecve(void *arg) {
    int fd = open("/bin/sh", *(int *)arg);
    char *argv[] = {"sh", "-c", "echo fexecve of /bin/sh: $#; exit 3", "sh", "one", NULL};
    fexecve(fd, argv, environ);
    printf("fexecve: %s\n", strerror(errno));
    return 1;
}

static int do_execveat_empty(void *arg) {
    int fd = open("/bin/sh", *(int *)arg);
    char *argv[] = {"sh", "-c", "echo execveat AT_EMPTY_PATH; exit 4", NULL};
    syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
    printf("execveat AT_EMPTY_PATH: %s\n", strerror(errno));
    return 1;
}

static int do_execveat_dir(void *arg) {
    (void)arg;
    int dir = open("/bin", O_RDONLY | O_DIRECTORY);
    char *argv[] = {"sh", "-c", "echo execveat dirfd + sh; exit 5", NULL};
    syscall(SYS_execveat, dir, "sh", argv, environ, 0);
    printf("execveat dirfd: %s\n", strerror(errno));
    return 1;
}

/* An execveat that must fail, in a child (whose shell says so if it runs). */
static void execveat_fails(const char *what, int dirfd, const char *path, int flags) {
    pid_t c = fork();
    if (c == 0) {
        char *argv[] = {"sh", "-c", "echo ran instead of failing", NULL};
        syscall(SYS_execveat, dirfd, path, argv, environ, flags);
        printf("%s: %s\n", what, strerror(errno));
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) report(what, st);
}

static int do_fexecve_script(void *arg) {
    int fd = open("fx.sh", *(int *)arg);
    char *argv[] = {"fx.sh", "a", NULL};
    fexecve(fd, argv, environ);
    printf("fexecve of a script: %s\n", strerror(errno));
    return 1;
}

static void write_fx_script(void) {
    int fd = open("fx.sh", O_CREAT | O_WRONLY | O_TRUNC, 0755);
    const char *script = "#!/bin/sh\necho script through fexecve: $1\nexit 6\n";
    write(fd, script, strlen(script));
    close(fd);
}

static int exec_at(void) {
    int rd = O_RDONLY, path = O_PATH, cloexec = O_RDONLY | O_CLOEXEC;
    run_and_report("fexecve", do_fexecve, &rd);
    run_and_report("fexecve of an O_PATH fd", do_fexecve, &path);
    run_and_report("fexecve of a close-on-exec fd", do_fexecve, &cloexec);
    run_and_report("execveat AT_EMPTY_PATH", do_execveat_empty, &rd);
    run_and_report("execveat AT_EMPTY_PATH of an O_PATH fd", do_execveat_empty, &path);
    run_and_report("execveat dirfd", do_execveat_dir, NULL);
    int fd = open("/bin/sh", O_RDONLY);
    execveat_fails("empty path without AT_EMPTY_PATH", fd, "", 0);
    execveat_fails("relative path from a file's fd", fd, "sh", 0);
    execveat_fails("relative path from a bad fd", 999, "sh", 0);
    close(fd);
    write_fx_script();
    run_and_report("fexecve of a script", do_fexecve_script, &rd);
    unlink("fx.sh");
    return 0;
}

/* Less common execveat cases. */
static int exec_at_edges(void) {
    symlink("/bin/sh", "link-to-sh");
    execveat_fails("symlink with AT_SYMLINK_NOFOLLOW", AT_FDCWD, "link-to-sh", AT_SYMLINK_NOFOLLOW);
    unlink("link-to-sh");
    execveat_fails("unknown flag", AT_FDCWD, "/bin/sh", 0x80000);
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    execveat_fails("AT_EMPTY_PATH on a directory", dir, "", AT_EMPTY_PATH);
    close(dir);
    /* The interpreter opens /dev/fd/N: gone with close-on-exec (ENOENT on Linux). */
    write_fx_script();
    int cloexec = O_RDONLY | O_CLOEXEC;
    run_and_report("fexecve of a close-on-exec script", do_fexecve_script, &cloexec);
    unlink("fx.sh");
    return 0;
}

struct clone_args_v0 {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static int clone_fork(void) {
    static int copied = 1;
    pid_t parent = getpid();
    int st;
    pid_t c = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (c == 0) {
        copied = 2;
        printf("clone child: parent %d, copy %d\n", getppid() == parent, copied);
        _exit(21);
    }
    printf("clone: waitpid returned it: %d\n", waitpid(c, &st, 0) == c);
    report("clone child", st);
    printf("parent's copy: %d\n", copied);

    struct clone_args_v0 args = {0};
    args.exit_signal = SIGCHLD;
    c = syscall(SYS_clone3, &args, sizeof args);
    if (c == 0) {
        copied = 3;
        printf("clone3 child: parent %d, copy %d\n", getppid() == parent, copied);
        _exit(22);
    }
    printf("clone3: waitpid returned it: %d\n", waitpid(c, &st, 0) == c);
    report("clone3 child", st);
    printf("parent's copy: %d\n", copied);
    long r = syscall(SYS_clone3, &args, 8);
    printf("clone3 with a short struct: %ld %s\n", r, strerror(errno));
    return 0;
}

static int shared_offset(void) {
    int fd = open("offset.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(fd, "parent 1\n", 9);
    pid_t c = fork();
    if (c == 0) { write(fd, "child 1\n", 8); _exit(0); }
    waitpid(c, NULL, 0);
    printf("offset after the child's write: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    write(fd, "parent 2\n", 9);
    c = fork();
    if (c == 0) {
        printf("child sees offset %ld\n", (long)lseek(fd, 0, SEEK_CUR));
        write(fd, "child 2\n", 8);
        lseek(fd, 7, SEEK_SET); /* moves the parent's offset too */
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("offset after the child's lseek: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    write(fd, "!", 1);
    /* A dup shares it too; a second open does not. */
    int d = dup(fd);
    lseek(d, 0, SEEK_END);
    int other = open("offset.txt", O_RDONLY);
    printf("dup's offset is fd's: %ld; another open's: %ld\n", (long)lseek(fd, 0, SEEK_CUR),
           (long)lseek(other, 0, SEEK_CUR));
    char buf[128] = {0};
    pread(fd, buf, sizeof buf - 1, 0);
    printf("file:\n%s", buf);
    unlink("offset.txt");
    return 0;
}

static int write_file(const char *name, const char *body) {
    int fd = open(name, O_CREAT | O_WRONLY | O_TRUNC, 0755);
    if (fd < 0) return -1;
    write(fd, body, strlen(body));
    return close(fd);
}

static int exec_and_report(const char *what, const char *path, char **argv) {
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        execve(path, argv, environ);
        printf("%s: execve: %s\n", what, strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    int st;
    waitpid(c, &st, 0);
    report(what, st);
    return 0;
}

static int scripts(void) {
    char self[4096], line[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) return 1;
    self[n] = 0;
    /* The interpreter gets its argument (one, spaces kept, trailing blanks
     * dropped), the script's path, then the caller's argv[1..]. */
    snprintf(line, sizeof line, "#! %s showargs  one arg \t\n", self);
    write_file("s.sh", line);
    char *argv[] = {"ignored-argv0", "a", "b c", NULL};
    exec_and_report("script with an interpreter argument", "./s.sh", argv);
    snprintf(line, sizeof line, "#!%s\n", self);
    write_file("noarg.sh", line);
    char *argv2[] = {"ignored", "showargs", NULL};
    exec_and_report("script without an argument", "./noarg.sh", argv2);
    write_file("sh.sh", "#!/bin/sh -e\necho \"shell script: $0 $*\"\nfalse\necho not reached\n");
    char *argv3[] = {"sh.sh", "x", NULL};
    exec_and_report("sh -e script", "./sh.sh", argv3);
    /* A chain of scripts, each the interpreter of the one before. */
    char name[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "c%d", i);
        if (i == 7)
            snprintf(line, sizeof line, "#!%s showargs\n", self);
        else
            snprintf(line, sizeof line, "#!./c%d\n", i + 1);
        write_file(name, line);
    }
    for (int i = 7; i >= 0; i--) {
        char what[64];
        snprintf(name, sizeof name, "./c%d", i);
        snprintf(what, sizeof what, "chain of %d scripts", 8 - i);
        char *argvc[] = {name, "arg", NULL};
        exec_and_report(what, name, argvc);
    }
    /* A script that names itself as its interpreter. */
    write_file("self.sh", "#!./self.sh\n");
    char *argv4[] = {"self.sh", NULL};
    exec_and_report("script as its own interpreter", "./self.sh", argv4);
    const char *made[] = {"s.sh", "noarg.sh", "sh.sh", "self.sh", "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
    for (size_t i = 0; i < sizeof made / sizeof *made; i++) unlink(made[i]);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (getenv("HX_EMPTY_ARGV")) {
        /* Exec'd with an empty argv: Linux gives one empty argument. */
        printf("argc %d, argv[0] \"%s\", argv[1] %s\n", argc, argc ? argv[0] : "?", argc && argv[1] ? "set" : "null");
        return 0;
    }
    if (argc < 2) return 2;
    if (!strcmp(argv[1], "empty_argv")) {
        setenv("HX_EMPTY_ARGV", "1", 1);
        char *none[] = {NULL};
        execve("/proc/self/exe", none, environ);
        perror("execve");
        return 1;
    }
    const char *t = argv[1];
    if (!strcmp(t, "fork_wait")) return fork_wait();
    if (!strcmp(t, "memory")) return memory_is_copied();
    if (!strcmp(t, "pipe")) return pipe_between();
    if (!strcmp(t, "exec_errors")) return exec_errors();
    if (!strcmp(t, "exec_keeps")) return exec_keeps();
    if (!strcmp(t, "spawn")) return spawn();
    if (!strcmp(t, "spare")) return spare();
    if (!strcmp(t, "kill_spawner")) return kill_spawner();
    if (!strcmp(t, "spawner_ends_first")) return spawner_ends_first();
    if (!strcmp(t, "spare_zombies")) return spare_zombies();
    if (!strcmp(t, "wait_any_killed")) return wait_any_killed();
    if (!strcmp(t, "spare_threads")) return spare_threads(argv[0]);
    if (!strcmp(t, "busy_threads")) {
        pthread_t th[3];
        long sums[3];
        for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, busy_sum, &sums[i]);
        for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
        printf("sums %ld %ld %ld\n", sums[0], sums[1], sums[2]);
        return 3;
    }
    if (!strcmp(t, "big_send")) return big_send();
    if (!strcmp(t, "epoll_fork")) return epoll_fork();
    if (!strcmp(t, "fork_in_thread")) return fork_in_thread();
    if (!strcmp(t, "vfork")) return vfork_semantics();
    if (!strcmp(t, "sigchld")) return sigchld();
    if (!strcmp(t, "one_sigchld")) return one_sigchld_each();
    if (!strcmp(t, "fork_random")) return fork_random();
    if (!strcmp(t, "sigchld_info")) return sigchld_info();
    if (!strcmp(t, "clone_exit_signal")) return clone_exit_signal();
    if (!strcmp(t, "groups")) return groups();
    if (!strcmp(t, "orphan")) return orphan();
    if (!strcmp(t, "orphan_wait")) return orphan_wait();
    if (!strcmp(t, "orphan_wait_nested")) return orphan_wait_nested();
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
    if (!strcmp(t, "waitid")) return waitid_test();
    if (!strcmp(t, "waitid_pgid")) return waitid_pgid();
    if (!strcmp(t, "kill_new_children")) return kill_new_children();
    if (!strcmp(t, "rusage")) return rusage_test();
    if (!strcmp(t, "sa_nocldwait")) return sa_nocldwait();
    if (!strcmp(t, "kill_group")) return kill_group();
    if (!strcmp(t, "kill_all")) return kill_all();
    if (!strcmp(t, "exec_at")) return exec_at();
    if (!strcmp(t, "exec_at_edges")) return exec_at_edges();
    if (!strcmp(t, "clone_fork")) return clone_fork();
    if (!strcmp(t, "shared_offset")) return shared_offset();
    if (!strcmp(t, "scripts")) return scripts();
    if (!strncmp(t, "showargs", 8) || !strcmp(t, "./noarg.sh")) {
        /* An interpreter for `scripts`: its arguments, argv[0] left out. */
        printf("interpreter got %d args:", argc - 1);
        for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
        printf("\n");
        return argc;
    }
    return 2;
}
