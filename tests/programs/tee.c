/* tee(2): copies between pipes that leave the source's bytes in it, each
 * refusal's errno, blocking for data, and the same after a fork (the
 * pipes then are the host's in hx) and between a pipe from before the fork
 * and one made after it. Compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void show(const char *what, long r) {
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

static void drain(const char *what, int fd) {
    char buf[64] = {0};
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    long n = read(fd, buf, sizeof buf - 1);
    fcntl(fd, F_SETFL, fl);
    printf("%s: %ld [%s]\n", what, n, n > 0 ? buf : "");
}

static void round_trip(const char *who, int a[2], int b[2]) {
    char line[64];
    snprintf(line, sizeof line, "%s: tee 5", who);
    write(a[1], "hello world", 11);
    show(line, tee(a[0], b[1], 5, 0));
    snprintf(line, sizeof line, "%s: copy", who);
    drain(line, b[0]);
    snprintf(line, sizeof line, "%s: source", who);
    drain(line, a[0]);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int a[2], b[2];
    pipe(a);
    pipe(b);
    round_trip("kernel", a, b);
    show("len 0", tee(a[0], b[1], 0, 0));
    show("bad flags", tee(a[0], b[1], 1, 0x100));
    show("same pipe", tee(a[0], a[1], 1, 0));
    show("write end in", tee(a[1], b[1], 1, 0));
    show("read end out", tee(a[0], b[0], 1, 0));
    int file = open("/proc/self/exe", O_RDONLY);
    show("file in", tee(file, b[1], 1, 0));
    show("empty, nonblock", tee(a[0], b[1], 1, SPLICE_F_NONBLOCK));
    int c[2];
    pipe(c);
    close(c[1]);
    show("empty, no writer", tee(c[0], b[1], 1, 0));
    int d[2];
    pipe(d);
    close(d[0]);
    write(a[1], "x", 1);
    show("no reader", tee(a[0], d[1], 1, 0));
    drain("left", a[0]);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        round_trip("forked", a, b);
        int e[2];
        pipe(e);
        round_trip("old to new", a, e);
        round_trip("new to old", e, b);
        /* Blocks until the parent writes. */
        show("waited", tee(a[0], b[1], 64, 0));
        drain("waited copy", b[0]);
        fflush(stdout);
        _exit(0);
    }
    usleep(200000);
    write(a[1], "late", 4);
    int st;
    waitpid(pid, &st, 0);
    printf("child: %d\n", WEXITSTATUS(st));
    return 0;
}
