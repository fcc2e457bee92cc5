/* Linux native AIO through the raw syscalls (as libaio makes them): set-up
 * and its limits, reads, writes, vectored ones, fsync, completions through
 * io_getevents and an eventfd, every refusal's errno, and a forked child
 * that has none of its parent's contexts. Run in a scratch directory; the
 * output is compared with the same run on Linux. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* linux/aio_abi.h (not in musl's headers), for x86-64. */
typedef unsigned long aio_context_t;
enum { IOCB_CMD_PREAD = 0, IOCB_CMD_PWRITE = 1, IOCB_CMD_FSYNC = 2, IOCB_CMD_PREADV = 7, IOCB_CMD_PWRITEV = 8 };
#define IOCB_FLAG_RESFD 1
struct io_event {
    unsigned long long data, obj;
    long long res, res2;
};
struct iocb {
    unsigned long long aio_data;
    unsigned aio_key, aio_rw_flags;
    unsigned short aio_lio_opcode;
    short aio_reqprio;
    unsigned aio_fildes;
    unsigned long long aio_buf, aio_nbytes;
    long long aio_offset;
    unsigned long long aio_reserved2;
    unsigned aio_flags, aio_resfd;
};

static long io_setup(unsigned n, aio_context_t *c) { return syscall(SYS_io_setup, n, c); }
static long io_destroy(aio_context_t c) { return syscall(SYS_io_destroy, c); }
static long io_submit(aio_context_t c, long n, struct iocb **v) { return syscall(SYS_io_submit, c, n, v); }
static long io_getevents(aio_context_t c, long min, long n, struct io_event *e, struct timespec *t) {
    return syscall(SYS_io_getevents, c, min, n, e, t);
}
static long io_cancel(aio_context_t c, struct iocb *i, struct io_event *e) { return syscall(SYS_io_cancel, c, i, e); }

static void show(const char *what, long r) {
    if (r < 0) printf("%s = -1 %s\n", what, strerror(errno));
    else printf("%s = %ld\n", what, r);
}

static struct iocb cb(int op, int fd, void *buf, size_t n, long long off, unsigned long long data) {
    struct iocb c;
    memset(&c, 0, sizeof c);
    c.aio_lio_opcode = op;
    c.aio_fildes = fd;
    c.aio_buf = (unsigned long)buf;
    c.aio_nbytes = n;
    c.aio_offset = off;
    c.aio_data = data;
    return c;
}

/* Takes `n` events and prints them in the order of their data. */
static void reap(aio_context_t ctx, int n) {
    struct io_event ev[16];
    long got = io_getevents(ctx, n, 16, ev, NULL);
    printf("getevents = %ld\n", got);
    for (int d = 0; d < 64; d++)
        for (long i = 0; i < got; i++)
            if (ev[i].data == (unsigned long long)d)
                printf("  event data %d res %lld res2 %lld obj set %d\n", d, (long long)ev[i].res,
                       (long long)ev[i].res2, ev[i].obj != 0);
}

int main(void) {
    aio_context_t ctx = 0, bad = 0;
    show("setup 0 events", io_setup(0, &bad));
    bad = 1;
    show("setup into a used id", io_setup(8, &bad));
    bad = 0;
    show("setup into a bad pointer", io_setup(8, (aio_context_t *)16));
    show("setup of UINT_MAX events", io_setup(0xffffffffu, &bad));
    show("setup of 100000 events", io_setup(100000, &bad));
    show("setup 128", io_setup(128, &ctx));
    unsigned *ring = (unsigned *)ctx;
    printf("ring magic %x compat %u incompat %u header %u head %u tail %u\n", ring[4], ring[5], ring[6], ring[7],
           ring[2], ring[3]);

    int fd = open("aio.dat", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char a[] = "first block ", b[] = "second ", c1[] = "vec", c2[] = "tor";
    struct iovec iov[2] = {{c1, 3}, {c2, 3}};
    struct iocb w1 = cb(IOCB_CMD_PWRITE, fd, a, strlen(a), 0, 1);
    struct iocb w2 = cb(IOCB_CMD_PWRITE, fd, b, strlen(b), strlen(a), 2);
    struct iocb w3 = cb(IOCB_CMD_PWRITEV, fd, iov, 2, strlen(a) + strlen(b), 3);
    struct iocb s = cb(IOCB_CMD_FSYNC, fd, 0, 0, 0, 4);
    struct iocb *batch[] = {&w1, &w2, &w3, &s};
    show("submit 4 writes and an fsync", io_submit(ctx, 4, batch));
    reap(ctx, 4);

    char got[64] = {0}, past[8];
    struct iocb r1 = cb(IOCB_CMD_PREAD, fd, got, sizeof got - 1, 0, 5);
    struct iocb r2 = cb(IOCB_CMD_PREAD, fd, past, sizeof past, 4096, 6);
    struct iocb *reads[] = {&r1, &r2};
    show("submit 2 reads", io_submit(ctx, 2, reads));
    reap(ctx, 2);
    printf("read back '%s'\n", got);
    printf("aio_key after submit %u\n", r1.aio_key);

    /* A completion signalled through an eventfd. */
    int efd = eventfd(0, 0);
    struct iocb e = cb(IOCB_CMD_PREAD, fd, got, 5, 0, 7);
    e.aio_flags = IOCB_FLAG_RESFD;
    e.aio_resfd = efd;
    struct iocb *one[] = {&e};
    show("submit with an eventfd", io_submit(ctx, 1, one));
    unsigned long long count = 0;
    show("eventfd read", read(efd, &count, 8));
    printf("eventfd count %llu\n", count);
    /* A completion past the largest count a write may leave: the overflow,
     * polled as POLLERR and read as UINT64_MAX (Linux's eventfd_signal). */
    unsigned long long top = 0xfffffffffffffffeULL;
    show("eventfd write of its maximum", write(efd, &top, 8));
    show("submit onto a full eventfd", io_submit(ctx, 1, one));
    struct io_event done1;
    show("its completion", io_getevents(ctx, 1, 1, &done1, NULL));
    struct pollfd pe = {efd, POLLIN, 0};
    show("poll of the overflowed eventfd", poll(&pe, 1, 1000));
    printf("revents: in %d err %d out %d\n", !!(pe.revents & POLLIN), !!(pe.revents & POLLERR), !!(pe.revents & POLLOUT));
    count = 0;
    show("eventfd read", read(efd, &count, 8));
    printf("eventfd count is UINT64_MAX: %d\n", count == 0xffffffffffffffffULL);
    struct timespec zero = {0, 0};
    struct io_event ev[4];
    show("getevents without waiting", io_getevents(ctx, 0, 4, ev, &zero));
    show("getevents again", io_getevents(ctx, 0, 4, ev, &zero));
    struct timespec ten_ms = {0, 10 * 1000 * 1000};
    show("getevents waiting 10 ms for one", io_getevents(ctx, 1, 4, ev, &ten_ms));
    show("cancel of a completed request", io_cancel(ctx, &e, ev));

    /* Refusals. */
    struct iocb bad_op = cb(99, fd, got, 1, 0, 8);
    struct iocb reserved = cb(IOCB_CMD_PREAD, fd, got, 1, 0, 9);
    reserved.aio_reserved2 = 1;
    struct iocb bad_fd = cb(IOCB_CMD_PREAD, 999, got, 1, 0, 10);
    int wo = open("aio.dat", O_WRONLY);
    struct iocb not_readable = cb(IOCB_CMD_PREAD, wo, got, 1, 0, 11);
    struct iocb negative = cb(IOCB_CMD_PREAD, fd, got, 1, -1, 12);
    struct iocb sync_args = cb(IOCB_CMD_FSYNC, fd, got, 1, 0, 13);
    struct iocb bad_resfd = cb(IOCB_CMD_PREAD, fd, got, 1, 0, 14);
    bad_resfd.aio_flags = IOCB_FLAG_RESFD;
    bad_resfd.aio_resfd = fd;
    struct iocb *v[1];
    struct {
        const char *what;
        struct iocb *c;
    } refused[] = {{"unknown opcode", &bad_op},     {"aio_reserved2 set", &reserved},
                   {"bad descriptor", &bad_fd},     {"read of a write-only file", &not_readable},
                   {"negative offset", &negative},  {"fsync with a buffer", &sync_args},
                   {"resfd not an eventfd", &bad_resfd}};
    for (unsigned i = 0; i < sizeof refused / sizeof *refused; i++) {
        v[0] = refused[i].c;
        show(refused[i].what, io_submit(ctx, 1, v));
    }
    struct iocb ok = cb(IOCB_CMD_PREAD, fd, got, 3, 0, 15);
    struct iocb *mixed[] = {&ok, &bad_op};
    show("submit a good then a bad request", io_submit(ctx, 2, mixed));
    reap(ctx, 1);
    show("submit a negative count", io_submit(ctx, -1, mixed));
    show("submit 0", io_submit(ctx, 0, mixed));
    show("submit from a bad array", io_submit(ctx, 1, (struct iocb **)16));
    show("submit to a bad context", io_submit(ctx + 4096, 1, mixed));
    show("getevents min above nr", io_getevents(ctx, 2, 1, ev, &zero));
    show("getevents negative min", io_getevents(ctx, -1, 1, ev, &zero));
    show("getevents of a bad context", io_getevents(12345, 0, 1, ev, &zero));

    /* A forked child has no contexts; its parent's still works. */
    pid_t pid = fork();
    if (pid == 0) {
        struct iocb *c[] = {&ok};
        long r = io_submit(ctx, 1, c);
        _exit(r < 0 ? errno : 100);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("child's submit: %s\n", WEXITSTATUS(st) == 100 ? "accepted" : strerror(WEXITSTATUS(st)));
    show("parent's submit after the fork", io_submit(ctx, 1, mixed));
    reap(ctx, 1);

    show("destroy", io_destroy(ctx));
    show("destroy again", io_destroy(ctx));
    show("submit after destroy", io_submit(ctx, 1, mixed));
    unlink("aio.dat");
    return 0;
}
