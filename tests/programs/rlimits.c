/* Resource limits as Linux keeps and enforces them: RLIMIT_NOFILE bounds
 * the descriptors a process gets (EMFILE, dup2's EBADF, F_DUPFD's EINVAL,
 * poll's EINVAL), limits survive execve and reach children started by
 * fork and posix_spawn, a vfork child's change stays its own, and a hard
 * limit cannot be raised. Compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void limits(const char *who) {
    struct rlimit n, c, s;
    getrlimit(RLIMIT_NOFILE, &n);
    getrlimit(RLIMIT_CORE, &c);
    getrlimit(RLIMIT_STACK, &s);
    printf("%s: nofile %llu/%llu core %llu/%llu stack %llu\n", who, (unsigned long long)n.rlim_cur,
           (unsigned long long)n.rlim_max, (unsigned long long)c.rlim_cur, (unsigned long long)c.rlim_max,
           (unsigned long long)s.rlim_cur);
}

/* Descriptors up to the limit, then EMFILE; all closed again. */
static void fill(const char *who) {
    int fds[128], n = 0, fd;
    while (n < 128 && (fd = dup(0)) >= 0) fds[n++] = fd;
    printf("%s: highest %d, then %s\n", who, n ? fds[n - 1] : -1, strerrorname_np(errno));
    while (n) close(fds[--n]);
}

/* Thousands of descriptors, as a server raising its limit has: pipes up to
 * a limit of 3000, then EMFILE. */
static void many(void) {
    struct rlimit r = {3000, 3000};
    printf("set nofile 3000: %d\n", setrlimit(RLIMIT_NOFILE, &r));
    int p[2], pipes = 0, open_before = 0;
    for (int fd = 0; fd < 3000; fd++) open_before += fcntl(fd, F_GETFD) >= 0;
    while (pipe(p) == 0) pipes++;
    /* What the caller left open differs (a build tool's pipes): count all. */
    printf("descriptors in use: %d, then %s\n", open_before + 2 * pipes, strerrorname_np(errno));
    printf("dup2 to 2999: %d\n", dup2(0, 2999));
    int r1 = dup2(0, 3000);
    printf("dup2 to 3000: %d %s\n", r1, strerrorname_np(errno));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "many")) {
        many();
        return 0;
    }
    if (argc > 1) {
        limits(argv[1]);
        fill(argv[1]);
        return 0;
    }
    struct rlimit r = {40, 48};
    printf("set nofile: %d\n", setrlimit(RLIMIT_NOFILE, &r));
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    limits("self");
    fill("self");
    int r1 = dup2(0, 40);
    printf("dup2 to 40: %d %s\n", r1, strerrorname_np(errno));
    printf("dup2 to 39: %d\n", dup2(0, 39));
    close(39);
    int r2 = fcntl(0, F_DUPFD, 40);
    printf("F_DUPFD 40: %d %s\n", r2, strerrorname_np(errno));
    struct pollfd p[41];
    memset(p, 0, sizeof p);
    for (int i = 0; i < 41; i++) p[i].fd = -1;
    int r3 = poll(p, 41, 0);
    printf("poll 41: %d %s\n", r3, strerrorname_np(errno));
    printf("poll 40: %d\n", poll(p, 40, 0));
    struct rlimit up = {40, 4096};
    int r4 = setrlimit(RLIMIT_NOFILE, &up);
    printf("raise hard: %d %s\n", r4, strerrorname_np(errno));
    pid_t v = vfork();
    if (v == 0) {
        struct rlimit mine = {20, 20};
        setrlimit(RLIMIT_NOFILE, &mine);
        _exit(0);
    }
    waitpid(v, NULL, 0);
    limits("after vfork");
    pid_t f = fork();
    if (f == 0) {
        limits("forked");
        _exit(0);
    }
    waitpid(f, NULL, 0);
    pid_t c;
    char *args[] = {argv[0], "spawned", NULL};
    for (int i = 0; i < 3; i++) {
        posix_spawn(&c, "/proc/self/exe", NULL, NULL, args, environ);
        waitpid(c, NULL, 0);
    }
    execl("/proc/self/exe", argv[0], "exec'd", (char *)NULL);
    return 1;
}
