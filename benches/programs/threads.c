/* Thread costs. Usage: threads WHAT N. Prints "ns <per operation>" (for
 * `parallel`: the wall time of the whole run).
 * parallel N: two threads each run N rounds of an integer hash (no sharing).
 * serial N:   the same 2N rounds on one thread (the baseline for parallel).
 * create N:   pthread_create + pthread_join of an empty thread.
 * mutex N:    an uncontended pthread_mutex_lock/unlock pair.
 * pingpong N: a futex wake -> wait round trip between two threads.
 * signal N:   raise(SIGUSR1) to a handler and back. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* From linux/futex.h (musl-gcc has no kernel headers). */
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129

static long n;
static volatile uint64_t sink;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static uint64_t hash(long rounds, uint64_t x) {
    for (long i = 0; i < rounds; i++) x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ULL + i;
    return x;
}

static void *worker(void *arg) {
    sink += hash(n, (uint64_t)(uintptr_t)arg);
    return 0;
}

static void *empty(void *arg) { return arg; }

static atomic_int turn;

static void futex_wait(atomic_int *w, int v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, 0, 0, 0); }
static void futex_wake(atomic_int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0); }

/* The other side of the ping-pong: waits for its turn (1), hands it back (0). */
static void *pong(void *arg) {
    (void)arg;
    for (long i = 0; i < n; i++) {
        while (atomic_load(&turn) != 1) futex_wait(&turn, 0);
        atomic_store(&turn, 0);
        futex_wake(&turn);
    }
    return 0;
}

static volatile sig_atomic_t hits;
static void on_usr1(int s) { (void)s; hits++; }

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *what = argv[1];
    n = atol(argv[2]);
    double t0 = now(), t1;
    if (!strcmp(what, "parallel")) {
        pthread_t a, b;
        pthread_create(&a, 0, worker, (void *)1);
        pthread_create(&b, 0, worker, (void *)2);
        pthread_join(a, 0);
        pthread_join(b, 0);
        printf("ns %.1f\n", now() - t0);
        return 0;
    }
    if (!strcmp(what, "serial")) {
        worker((void *)1);
        worker((void *)2);
        printf("ns %.1f\n", now() - t0);
        return 0;
    }
    if (!strcmp(what, "create")) {
        for (long i = 0; i < n; i++) {
            pthread_t t;
            pthread_create(&t, 0, empty, 0);
            pthread_join(t, 0);
        }
    } else if (!strcmp(what, "mutex")) {
        pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
        for (long i = 0; i < n; i++) {
            pthread_mutex_lock(&m);
            sink++;
            pthread_mutex_unlock(&m);
        }
    } else if (!strcmp(what, "pingpong")) {
        pthread_t t;
        pthread_create(&t, 0, pong, 0);
        t0 = now();
        for (long i = 0; i < n; i++) {
            atomic_store(&turn, 1);
            futex_wake(&turn);
            while (atomic_load(&turn) != 0) futex_wait(&turn, 1);
        }
        t1 = now();
        pthread_join(t, 0);
        printf("ns %.1f\n", (t1 - t0) / n);
        return 0;
    } else if (!strcmp(what, "signal")) {
        signal(SIGUSR1, on_usr1);
        for (long i = 0; i < n; i++) raise(SIGUSR1);
        if (hits != n) return 1;
    } else {
        fprintf(stderr, "unknown benchmark %s\n", what);
        return 2;
    }
    printf("ns %.1f\n", (now() - t0) / n);
    return 0;
}
