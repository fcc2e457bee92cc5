/* Compute workloads that time their own loop and print "ns <total>":
 *   matmul N     N×N double matrix multiply
 *   sort N       qsort of N pseudo-random ints
 *   stream MIB   STREAM-like triad a = b + s*c over three MIB MiB arrays, 10 passes */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    long n = atol(argv[2]);
    double t0, t1, check = 0;
    if (!strcmp(argv[1], "matmul")) {
        double *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b), *c = calloc(n * n, sizeof *c);
        for (long i = 0; i < n * n; i++) a[i] = (i % 7) * 0.5, b[i] = (i % 5) * 0.25;
        t0 = now();
        for (long i = 0; i < n; i++)
            for (long k = 0; k < n; k++)
                for (long j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
        t1 = now();
        for (long i = 0; i < n * n; i += n + 1) check += c[i];
    } else if (!strcmp(argv[1], "sort")) {
        int *v = malloc(n * sizeof *v);
        uint64_t x = 88172645463325252ULL;
        for (long i = 0; i < n; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, v[i] = (int)x;
        t0 = now();
        qsort(v, n, sizeof *v, cmp);
        t1 = now();
        check = v[n / 2];
    } else if (!strcmp(argv[1], "stream")) {
        size_t len = (size_t)n << 20 / sizeof(double);
        len = ((size_t)n << 20) / sizeof(double);
        double *a = malloc(len * 8), *b = malloc(len * 8), *c = malloc(len * 8);
        for (size_t i = 0; i < len; i++) a[i] = 0, b[i] = 1, c[i] = 2;
        t0 = now();
        for (int pass = 0; pass < 10; pass++)
            for (size_t i = 0; i < len; i++) a[i] = b[i] + 3.0 * c[i];
        t1 = now();
        check = a[len / 3];
    } else {
        return 2;
    }
    printf("ns %.0f\ncheck %g\n", t1 - t0, check);
    return 0;
}
