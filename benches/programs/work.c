/* hx's benchmark workloads. Each mode times only its own loop (with
 * CLOCK_MONOTONIC) and prints "ns <value>" plus a checksum line, so start-up
 * costs never blur a compute ratio.
 *   hash N          N rounds of a 64-bit hash (CPU-bound)
 *   walk MIB REPS   REPS sequential sums over MIB MiB touched once before (memory-bound)
 *   touch MIB       first touch of MIB MiB of fresh anonymous memory: ns per 4 KiB page
 *   getppid N       N raw getppid syscalls: ns per call
 *   clock N         N clock_gettime(CLOCK_MONOTONIC) calls: ns per call */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: work MODE ARGS\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[2]);
    double t0, t1;
    uint64_t check = 0;
    if (!strcmp(mode, "hash")) {
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        t0 = now_ns();
        for (long i = 0; i < n; i++) {
            h ^= (uint64_t)i;
            h *= 0xff51afd7ed558ccdULL;
            h ^= h >> 33;
        }
        t1 = now_ns();
        check = h;
        printf("ns %.0f\n", t1 - t0);
    } else if (!strcmp(mode, "walk")) {
        long reps = argc > 3 ? atol(argv[3]) : 10;
        size_t len = (size_t)n << 20;
        uint64_t *a = malloc(len);
        if (!a) return 1;
        memset(a, 1, len);
        t0 = now_ns();
        for (long r = 0; r < reps; r++)
            for (size_t i = 0; i < len / 8; i++)
                check += a[i];
        t1 = now_ns();
        printf("ns %.0f\n", t1 - t0);
    } else if (!strcmp(mode, "touch")) {
        size_t len = (size_t)n << 20;
        char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return 1;
        t0 = now_ns();
        for (size_t i = 0; i < len; i += 4096)
            p[i] = 1;
        t1 = now_ns();
        check = p[len - 4096];
        printf("ns %.1f\n", (t1 - t0) / (len / 4096));
    } else if (!strcmp(mode, "getppid") || !strcmp(mode, "clock")) {
        int raw = !strcmp(mode, "getppid");
        struct timespec ts;
        for (int i = 0; i < 1000; i++) /* warm-up */
            check += raw ? syscall(SYS_getppid) : clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = now_ns();
        for (long i = 0; i < n; i++)
            check += raw ? syscall(SYS_getppid) : clock_gettime(CLOCK_MONOTONIC, &ts);
        t1 = now_ns();
        printf("ns %.1f\n", (t1 - t0) / n);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("check %llu\n", (unsigned long long)check);
    return 0;
}
