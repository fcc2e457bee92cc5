/* Per-call latency of libc syscall wrappers. Usage: latency CALL N [FILE]
 * CALL: getppid clock write (1 byte to /dev/null) read (1 byte from /dev/zero)
 * openclose (a small file) mmap (4 KiB, touched) brk (up and down) futex (wake,
 * no waiters) yield hostwrite (1 byte to a regular file: one exit to the host
 * in hx).
 * Built with gcc -static (runs on hx's trap path) and musl-gcc (dynamic: runs
 * natively, on the trap path, and with hx's fast libc). A warm-up of 1/10 of
 * the calls, at least 1100 (hx rewrites a `syscall` instruction that keeps
 * trapping once its process made 1000 trap-path calls), is discarded. Prints "ns <per call>". */
#define _GNU_SOURCE
#include <fcntl.h>
#define FUTEX_WAKE_PRIVATE 129
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *file = "latency.dat";
static int devnull, devzero, hostfile;
static volatile long sink;
static int futex_word;

enum call { GETPPID, CLOCK, WRITE, READ, OPENCLOSE, MMAP, BRK, FUTEX, YIELD, HOSTWRITE };
static const char *names[] = {"getppid", "clock", "write", "read", "openclose", "mmap", "brk", "futex", "yield", "hostwrite"};

static void one(enum call call) {
    char c = 1;
    struct timespec t;
    switch (call) {
    case GETPPID: sink += getppid(); break;
    case CLOCK: clock_gettime(CLOCK_MONOTONIC, &t); sink += t.tv_nsec; break;
    case WRITE: sink += write(devnull, &c, 1); break;
    case READ: sink += read(devzero, &c, 1); break;
    case OPENCLOSE: close(open(file, O_RDONLY)); break;
    case MMAP: {
        char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 1;
        munmap(p, 4096);
        break;
    }
    case BRK: { /* brk up by a page, touch it, brk down (musl's sbrk only reads) */
        static char *cur;
        if (!cur) cur = (char *)syscall(SYS_brk, 0);
        syscall(SYS_brk, cur + 4096);
        cur[0] = 1;
        syscall(SYS_brk, cur);
        break;
    }
    case HOSTWRITE: sink += pwrite(hostfile, &c, 1, 0); break;
    case FUTEX: sink += syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0); break;
    case YIELD: sched_yield(); break;
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    int call = -1;
    for (int i = 0; i < (int)(sizeof names / sizeof *names); i++)
        if (!strcmp(argv[1], names[i])) call = i;
    if (call < 0) {
        fprintf(stderr, "unknown call %s\n", argv[1]);
        return 2;
    }
    if (argc > 3) file = argv[3];
    devnull = open("/dev/null", O_WRONLY);
    devzero = open("/dev/zero", O_RDONLY);
    if (!strcmp(argv[1], "hostwrite")) hostfile = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!strcmp(argv[1], "openclose")) {
        int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        write(fd, "small file\n", 11);
        close(fd);
    }
    for (long i = 0; i < (n / 10 > 1100 ? n / 10 : 1100); i++) one(call);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) one(call);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ns %.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
