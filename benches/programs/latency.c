/* Per-call latency of a libc syscall wrapper: "getppid N" or "clock N".
 * Built with musl-gcc (dynamic) so it runs natively, on hx's trap path, and
 * with hx's fast libc. Prints "ns <per call>". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    struct timespec a, b, t;
    volatile long sink = 0;
    int ppid = argv[1][0] == 'g';
    for (int i = 0; i < 100; i++) /* warm-up */
        sink += ppid ? getppid() : clock_gettime(CLOCK_MONOTONIC, &t);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (ppid) {
            sink += getppid();
        } else {
            clock_gettime(CLOCK_MONOTONIC, &t);
            sink += t.tv_nsec;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("ns %.1f\n", ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
    return 0;
}
