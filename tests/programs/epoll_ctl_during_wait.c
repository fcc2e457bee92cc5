// epoll_ctl by another thread while a thread waits in epoll_wait: a
// descriptor added to an empty set wakes the waiter, a modified entry
// reports its new data, and a deleted one never ends the wait, which
// returns 0 only when its timeout has passed (libuv asserts that an
// infinite wait never returns 0).
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int ep, efd;
static int step;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *other(void *arg) {
    (void)arg;
    usleep(50000);
    struct epoll_event ev = {.events = EPOLLIN};
    uint64_t one = 1;
    switch (step) {
    case 0: // add a ready descriptor to an empty set
        ev.data.u64 = 7;
        write(efd, &one, 8);
        epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
        break;
    case 1: // new data, then readiness
        ev.data.u64 = 42;
        epoll_ctl(ep, EPOLL_CTL_MOD, efd, &ev);
        usleep(20000);
        write(efd, &one, 8);
        break;
    case 2: // deleted, then made ready: nothing to report
        epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);
        write(efd, &one, 8);
        break;
    }
    return NULL;
}

static void run(const char *what, int timeout) {
    pthread_t t;
    pthread_create(&t, NULL, other, NULL);
    struct epoll_event got[4] = {0};
    double start = now_ms();
    int n = epoll_wait(ep, got, 4, timeout);
    double took = now_ms() - start;
    pthread_join(t, NULL);
    printf("%s: %d event(s), data %llu", what, n, n > 0 ? (unsigned long long)got[0].data.u64 : 0ULL);
    if (timeout > 0)
        printf(", waited its timeout: %d", took >= timeout - 1);
    printf("\n");
    uint64_t v;
    read(efd, &v, 8);
    step++;
}

int main(void) {
    ep = epoll_create1(0);
    efd = eventfd(0, EFD_NONBLOCK);
    run("added to an empty set", -1);
    run("modified", -1);
    run("deleted", 200);
    return 0;
}
