/* splice and vmsplice: file to pipe (at an offset), pipe to file, pipe to
 * pipe, socket to pipe, pipe to /dev/null, program memory to and from a
 * pipe, pipes a fork made, and each refusal's errno. Run in a scratch
 * directory; the output is compared with the same run on Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static long show(const char *what, long r) {
    if (r < 0) printf("%s = -1 %s\n", what, strerror(errno));
    else printf("%s = %ld\n", what, r);
    return r;
}

static void drain(const char *what, int fd) {
    char buf[128] = {0};
    long n = read(fd, buf, sizeof buf - 1);
    printf("%s: %ld '%s'\n", what, n, n > 0 ? buf : "");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    int f = open("splice.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(f, "0123456789", 10);
    int p[2], q[2];
    pipe(p);
    pipe(q);

    loff_t off = 2;
    show("file at 2 to pipe", splice(f, &off, p[1], NULL, 5, 0));
    printf("offset now %lld, position %ld\n", (long long)off, (long)lseek(f, 0, SEEK_CUR));
    drain("pipe holds", p[0]);

    write(p[1], "hello", 5);
    lseek(f, 0, SEEK_SET);
    show("pipe to file at its position", splice(p[0], NULL, f, NULL, 100, 0));
    printf("position now %ld\n", (long)lseek(f, 0, SEEK_CUR));
    write(p[1], "XY", 2);
    off = 8;
    show("pipe to file at 8", splice(p[0], NULL, f, &off, 100, 0));
    char whole[32] = {0};
    pread(f, whole, sizeof whole - 1, 0);
    printf("file: '%s', offset %lld\n", whole, (long long)off);

    write(p[1], "abc", 3);
    show("pipe to pipe", splice(p[0], NULL, q[1], NULL, 10, 0));
    drain("second pipe", q[0]);
    write(p[1], "partial", 7);
    show("3 bytes of 7", splice(p[0], NULL, q[1], NULL, 3, 0));
    drain("second pipe", q[0]);
    drain("first pipe keeps", p[0]);

    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    write(sv[1], "sock", 4);
    show("socket to pipe", splice(sv[0], NULL, p[1], NULL, 64, 0));
    drain("pipe", p[0]);

    int null = open("/dev/null", O_WRONLY);
    write(p[1], "gone", 4);
    show("pipe to /dev/null", splice(p[0], NULL, null, NULL, 64, 0));

    /* Refusals. */
    show("no length", splice(p[0], NULL, f, NULL, 0, 0));
    show("unknown flag", splice(p[0], NULL, f, NULL, 1, 0x100));
    int g = open("splice2.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    show("file to file", splice(f, NULL, g, NULL, 4, 0));
    off = 0;
    show("offset on the pipe side", splice(p[0], &off, f, NULL, 4, 0));
    show("a pipe to itself", splice(p[0], NULL, p[1], NULL, 4, 0));
    show("a bad descriptor", splice(99, NULL, p[1], NULL, 4, 0));
    show("from a pipe's write end", splice(p[1], NULL, f, NULL, 4, 0));
    int ap = open("splice.dat", O_WRONLY | O_APPEND);
    write(p[1], "z", 1);
    show("to a file in append mode", splice(p[0], NULL, ap, NULL, 4, 0));
    off = -1;
    show("a negative offset", splice(p[0], NULL, f, &off, 4, 0));
    show("an offset at a bad address", splice(p[0], NULL, f, (loff_t *)16, 4, 0));
    drain("pipe", p[0]);
    show("an empty pipe, non-blocking", splice(p[0], NULL, f, NULL, 4, SPLICE_F_NONBLOCK));
    char big[65536];
    memset(big, 'b', sizeof big);
    fcntl(q[1], F_SETFL, O_NONBLOCK);
    write(q[1], big, sizeof big);
    show("into a full pipe, non-blocking", splice(f, NULL, q[1], NULL, 4, SPLICE_F_NONBLOCK));
    close(q[0]);
    close(q[1]);
    pipe(q);
    close(q[0]);
    write(p[1], "w", 1);
    show("into a pipe without readers", splice(p[0], NULL, q[1], NULL, 4, 0));
    close(q[1]);

    /* vmsplice. */
    char a[] = "vm", b[] = "splice";
    struct iovec in[2] = {{a, 2}, {b, 6}};
    show("vmsplice two pieces in", vmsplice(p[1], in, 2, 0));
    char x[3] = {0}, y[6] = {0};
    struct iovec out[2] = {{x, 2}, {y, 5}};
    show("vmsplice out", vmsplice(p[0], out, 2, 0));
    printf("got '%s' '%s'\n", x, y);
    drain("left", p[0]);
    show("vmsplice nothing", vmsplice(p[1], in, 0, 0));
    show("vmsplice to a file", vmsplice(f, in, 2, 0));
    show("vmsplice, unknown flag", vmsplice(p[1], in, 2, 0x40));
    show("vmsplice, 2000 pieces", vmsplice(p[1], in, 2000, 0));
    show("vmsplice from a bad array", vmsplice(p[1], (struct iovec *)16, 1, 0));
    show("vmsplice out of an empty pipe, non-blocking", vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK));

    /* Across a fork (the pipe is shared with another process now). */
    int r[2];
    pipe(r);
    pid_t c = fork();
    if (c == 0) {
        write(r[1], "from the child", 14);
        _exit(0);
    }
    close(r[1]);
    waitpid(c, NULL, 0);
    ftruncate(g, 0);
    show("a forked child's bytes to a file", splice(r[0], NULL, g, NULL, 64, 0));
    show("then the end", splice(r[0], NULL, g, NULL, 64, 0));
    memset(whole, 0, sizeof whole);
    pread(g, whole, sizeof whole - 1, 0);
    printf("file: '%s'\n", whole);
    unlink("splice.dat");
    unlink("splice2.dat");
    return 0;
}
