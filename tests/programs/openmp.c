/* OpenMP under libgomp (built with gcc -fopenmp, dynamic glibc): parallel
 * loops with integer, floating-point and max reductions, critical sections,
 * atomics, barriers, tasks and sections. Run with OMP_NUM_THREADS=2; every
 * line printed is deterministic: integer results, a floating-point sum whose
 * terms add exactly, and a pi estimate rounded far above the last bits that
 * depend on the order the partial sums are combined in. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>

#define N 20000000L

static uint64_t mix(uint64_t i) {
    i ^= i >> 31;
    i *= 0x7fb5d329728ea185ULL;
    i ^= i >> 27;
    return i % 1000003;
}

static long fib(int n) {
    if (n < 2) return n;
    long a, b;
#pragma omp task shared(a) if (n > 20)
    a = fib(n - 1);
#pragma omp task shared(b) if (n > 20)
    b = fib(n - 2);
#pragma omp taskwait
    return a + b;
}

int main(void) {
    int threads = 0;
#pragma omp parallel
    {
#pragma omp single
        threads = omp_get_num_threads();
    }
    printf("threads: %d\n", threads);

    uint64_t sum = 0, max = 0;
#pragma omp parallel for reduction(+ : sum) reduction(max : max) schedule(static)
    for (long i = 0; i < N; i++) {
        uint64_t v = mix(i);
        sum += v;
        if (v > max) max = v;
    }
    printf("integer sum: %llu max: %llu\n", (unsigned long long)sum, (unsigned long long)max);

    /* Multiples of 1/4 below 2^40: every partial sum is exact. */
    double quarters = 0;
#pragma omp parallel for reduction(+ : quarters) schedule(dynamic, 4096)
    for (long i = 0; i < N; i++) quarters += (double)(i % 1000) * 0.25;
    printf("exact double sum: %.2f\n", quarters);

    double pi = 0, step = 1.0 / N;
#pragma omp parallel for reduction(+ : pi) schedule(static)
    for (long i = 0; i < N; i++) {
        double x = (i + 0.5) * step;
        pi += 4.0 / (1.0 + x * x);
    }
    printf("pi: %.8f\n", pi * step);

    long hits = 0, crit = 0;
    int workers = 0, after_barrier = 0;
#pragma omp parallel
    {
        long mine = 0;
#pragma omp for schedule(static)
        for (long i = 0; i < 1000000; i++) {
#pragma omp atomic
            hits++;
            mine++;
        }
#pragma omp critical
        {
            crit += mine;
            if (mine > 0) workers++;
        }
#pragma omp barrier
#pragma omp atomic
        after_barrier += crit == 1000000;
    }
    printf("atomic: %ld critical: %ld threads with work: %d saw all after barrier: %d\n", hits, crit, workers,
           after_barrier);

    long f = 0;
#pragma omp parallel
    {
#pragma omp single
        f = fib(27);
    }
    printf("tasks fib(27): %ld\n", f);

    long a = 0, b = 0;
#pragma omp parallel sections
    {
#pragma omp section
        for (long i = 1; i <= 1000; i++) a += i * i;
#pragma omp section
        for (long i = 1; i <= 1000; i++) b += i * i * i;
    }
    printf("sections: %ld %ld\n", a, b);
    return 0;
}
