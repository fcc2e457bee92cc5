/* RLIMIT_FSIZE as Linux enforces it: a write crossing the limit is cut
 * short, one at or past it fails with EFBIG and raises SIGXFSZ (ftruncate
 * and truncate too), children inherit the limit (fork, posix_spawn,
 * execve), and SIGXFSZ's default action ends a process. Compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static volatile sig_atomic_t raised;
static void on_xfsz(int sig) { (void)sig; raised++; }

static void show(const char *what, long r) {
    printf("%s: %ld errno %d, SIGXFSZ %d\n", what, r, r < 0 ? errno : 0, (int)raised);
}

static char data[4096];

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    memset(data, 'x', sizeof data);
    if (argc > 2) {
        /* A child: its file, its limit; SIGXFSZ at its default action. */
        struct rlimit r;
        getrlimit(RLIMIT_FSIZE, &r);
        printf("%s: limit %llu/%llu\n", argv[1], (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        show(argv[1], write(fd, data, 1500));
        if (strcmp(argv[1], "exec'd") == 0) return 0; /* the first process ends normally */
        write(fd, data, 10);
        printf("%s: not reached\n", argv[1]);
        return 0;
    }
    signal(SIGXFSZ, on_xfsz);
    struct rlimit lim = {1000, 2000};
    setrlimit(RLIMIT_FSIZE, &lim);
    int fd = open("f1", O_RDWR | O_CREAT | O_TRUNC, 0600);
    show("write 1500", write(fd, data, 1500));
    show("write again", write(fd, data, 10));
    show("pwrite at 5000", pwrite(fd, data, 10, 5000));
    show("pwrite below", pwrite(fd, data, 10, 100));
    show("ftruncate 3000", ftruncate(fd, 3000));
    show("ftruncate 500", ftruncate(fd, 500));
    show("truncate 1500", truncate("f1", 1500));
    show("append 600", (lseek(fd, 0, SEEK_END), write(fd, data, 600)));
    close(fd);
    pid_t c = fork();
    if (c == 0) {
        int g = open("f2", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        show("forked 1500", write(g, data, 1500));
        show("forked again", write(g, data, 1));
        _exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    signal(SIGXFSZ, SIG_DFL);
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    for (int i = 0; i < 3; i++) {
        char *args[] = {argv[0], "spawned", "f3", NULL};
        posix_spawn(&c, "/proc/self/exe", NULL, NULL, args, environ);
        waitpid(c, &st, 0);
        printf("spawned: signal %d core %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0, WCOREDUMP(st) ? 1 : 0);
    }
    /* A lower hard limit, then more children (in hx: a monitor that took
     * one cannot take another with a higher limit). */
    struct rlimit lower = {800, 800};
    setrlimit(RLIMIT_FSIZE, &lower);
    for (int i = 0; i < 2; i++) {
        char *args[] = {argv[0], "lower", "f4", NULL};
        posix_spawn(&c, "/proc/self/exe", NULL, NULL, args, environ);
        waitpid(c, &st, 0);
        printf("lower: signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
    execl("/proc/self/exe", argv[0], "exec'd", "f5", (char *)NULL);
    return 1;
}
