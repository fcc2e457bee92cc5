/* Makes syscalls through hx's syscall vector when the auxv offers one, and
 * with the syscall instruction otherwise: the output is the same either way. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define AT_HX_SYSCALL_VECTOR 0x68780001UL
typedef long (*vector_fn)(long, long, long, long, long, long);
static vector_fn *vector;

static long sys(long nr, long a1, long a2, long a3) {
    if (vector) return vector[nr](a1, a2, a3, 0, 0, 0);
    long r = syscall(nr, a1, a2, a3);
    return r < 0 ? -errno : r;
}

int main(int argc, char **argv) {
    vector = (vector_fn *)getauxval(AT_HX_SYSCALL_VECTOR);
    if (argc > 1 && !strcmp(argv[1], "bench")) {
        long n = argc > 2 ? atol(argv[2]) : 100000;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) sys(SYS_getppid, 0, 0, 0);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("ns %.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
        return 0;
    }
    const char msg[] = "written through the vector (or the syscall instruction)\n";
    long w = sys(SYS_write, 1, (long)msg, sizeof msg - 1);
    printf("write returned %ld\n", w);
    printf("getppid ok: %d\n", sys(SYS_getppid, 0, 0, 0) >= 0);
    struct timespec ts;
    printf("clock_gettime: %ld\n", sys(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0));
    printf("bad fd: %ld\n", sys(SYS_close, 12345, 0, 0));
    return 0;
}
