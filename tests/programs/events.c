/* eventfd, timerfd and signalfd as a program sees them through its libc
 * (glibc or musl): reads, writes and their errors, blocking and waking
 * across threads, poll, ppoll, select and epoll (level and edge
 * triggered), and the /proc/self/fd names; epoll's EPOLLONESHOT,
 * EPOLLEXCLUSIVE, epoll_pwait2 and edge triggering on pipes and sockets.
 *
 *   events [SUB-TEST]
 *
 * With no argument every sub-test runs in turn; with one, only that one.
 * Each sub-test prints deterministic lines and ends with "NAME: ok" or
 * "NAME: FAILED"; failed checks print "NAME: FAIL ..." lines. The exit
 * status is the number of failed sub-tests. alarm() ends a run that hangs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const char *current;
static atomic_int failures;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            atomic_fetch_add(&failures, 1);                                   \
            printf("%s: FAIL line %d (%s): ", current, __LINE__, #cond);      \
            printf(__VA_ARGS__);                                              \
            putchar('\n');                                                    \
        }                                                                     \
    } while (0)

/* A call that must fail with `err`. */
#define FAILS(call, err)                                                      \
    do {                                                                      \
        errno = 0;                                                            \
        long rc_ = (long)(call);                                              \
        int e_ = errno;                                                       \
        CHECK(rc_ == -1 && e_ == (err), "%s: %ld, errno %s (wanted %s)",      \
              #call, rc_, strerror(e_), strerror(err));                       \
    } while (0)

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Elapsed time is checked loosely: at least `ms` (less a little), less than `ms` + 2 s. */
static void check_elapsed(const char *what, double t0, long ms) {
    double e = mono_now() - t0;
    CHECK(e >= ms / 1000.0 - 0.005 && e < ms / 1000.0 + 2, "%s: %.3f s for %ld ms", what, e, ms);
}

static pthread_t spawn(void *(*fn)(void *), void *arg) {
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    if (rc != 0) {
        printf("%s: FAIL pthread_create: %s\n", current, strerror(rc));
        fflush(stdout);
        exit(100);
    }
    return t;
}

static void join(pthread_t t) {
    int rc = pthread_join(t, NULL);
    CHECK(rc == 0, "pthread_join: %s", strerror(rc));
}

static uint64_t read_u64(int fd) {
    uint64_t v = 0;
    ssize_t n = read(fd, &v, sizeof v);
    CHECK(n == 8, "read: %zd (%s)", n, strerror(errno));
    return v;
}

static void write_u64(int fd, uint64_t v) {
    ssize_t n = write(fd, &v, sizeof v);
    CHECK(n == 8, "write %llu: %zd (%s)", (unsigned long long)v, n, strerror(errno));
}

static short poll_one(int fd, short events, int timeout_ms) {
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, timeout_ms);
    CHECK(n >= 0, "poll: %s", strerror(errno));
    return n > 0 ? p.revents : 0;
}

static const char *link_of(int fd) {
    static char buf[256];
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    return buf;
}

/* An anonymous inode: lseek does nothing, and /proc/self/fd/N cannot be opened again. */
static void check_anon(int fd) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    FAILS(open(path, O_RDWR), ENXIO);
    CHECK(lseek(fd, 0, SEEK_CUR) == 0, "lseek: %s", strerror(errno));
}

/* epoll_wait's events for `ep`, as one number (events | data << 16) per
 * event, sorted (the order of a ready list is not what is under test). */
static int wait_events(int ep, int timeout_ms, unsigned *out, int max) {
    struct epoll_event ev[8];
    int n = epoll_wait(ep, ev, max < 8 ? max : 8, timeout_ms);
    CHECK(n >= 0, "epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) out[i] = ev[i].events | (unsigned)ev[i].data.u32 << 16;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            unsigned x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return n < 0 ? 0 : n;
}

static void add(int ep, int fd, unsigned events, unsigned data) {
    struct epoll_event ev = {.events = events, .data.u32 = data};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl ADD: %s", strerror(errno));
}

static void block_signals(int a, int b) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, a);
    if (b) sigaddset(&s, b);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void set_action(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): %s", sig, strerror(errno));
}

/* ---- eventfd: counting, semaphores, errors, limits ---- */

static void t_eventfd(void) {
    int fd = eventfd(3, 0);
    CHECK(fd >= 0, "eventfd: %s", strerror(errno));
    printf("eventfd: link %s\n", link_of(fd));
    check_anon(fd);
    printf("eventfd: flags %s, cloexec %d\n", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR ? "O_RDWR" : "?",
           fcntl(fd, F_GETFD));
    printf("eventfd: read %llu\n", (unsigned long long)read_u64(fd));
    write_u64(fd, 5);
    write_u64(fd, 7);
    printf("eventfd: read %llu after writing 5 and 7\n", (unsigned long long)read_u64(fd));
    write_u64(fd, 0);
    CHECK(poll_one(fd, POLLIN, 0) == 0, "writing 0 made it readable");
    char small[4] = {0};
    FAILS(read(fd, small, 4), EINVAL);
    FAILS(write(fd, small, 4), EINVAL);
    uint64_t max = UINT64_MAX;
    FAILS(write(fd, &max, 8), EINVAL);
    uint64_t eight;
    FAILS(pread(fd, &eight, 8, 0), ESPIPE);
    close(fd);

    /* A larger buffer still reads 8 bytes. */
    fd = eventfd(9, EFD_NONBLOCK | EFD_CLOEXEC);
    uint64_t big[2] = {0, 0};
    ssize_t n = read(fd, big, sizeof big);
    printf("eventfd: a 16-byte read returns %zd: %llu\n", n, (unsigned long long)big[0]);
    FAILS(read(fd, big, 8), EAGAIN);
    printf("eventfd: nonblock %d, cloexec %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK), fcntl(fd, F_GETFD));
    /* The counter holds up to 0xfffffffffffffffe; beyond, a write would block. */
    write_u64(fd, 0xfffffffffffffffeULL);
    uint64_t one = 1;
    FAILS(write(fd, &one, 8), EAGAIN);
    printf("eventfd: full: revents %#x\n", poll_one(fd, POLLIN | POLLOUT, 0));
    printf("eventfd: read %#llx\n", (unsigned long long)read_u64(fd));
    printf("eventfd: empty: revents %#x\n", poll_one(fd, POLLIN | POLLOUT, 0));
    close(fd);

    /* EFD_SEMAPHORE: each read takes one. */
    fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
    unsigned long long a = read_u64(fd), b = read_u64(fd);
    printf("eventfd: semaphore reads %llu %llu\n", a, b);
    FAILS(read(fd, &one, 8), EAGAIN);
    write_u64(fd, 3);
    a = read_u64(fd);
    printf("eventfd: semaphore read %llu after writing 3, readable %d\n", a, poll_one(fd, POLLIN, 0) == POLLIN);
    close(fd);

    FAILS(eventfd(0, 0x100), EINVAL);
    /* The old eventfd(2) system call: no flags; initval is an unsigned int. */
    fd = (int)syscall(SYS_eventfd, 7);
    CHECK(fd >= 0, "SYS_eventfd: %s", strerror(errno));
    printf("eventfd: SYS_eventfd(7) reads %llu\n", (unsigned long long)read_u64(fd));
    close(fd);
}

/* ---- eventfd: blocked readers and writers wake; signals interrupt ---- */

static int shared_fd;

static void *write_later(void *arg) {
    sleep_ms(100);
    write_u64(shared_fd, (uint64_t)(uintptr_t)arg);
    return NULL;
}

static void *read_later(void *arg) {
    (void)arg;
    sleep_ms(100);
    read_u64(shared_fd);
    return NULL;
}

static pthread_t main_thread;
static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
    (void)sig;
    handled++;
}

static void *signal_then_write(void *arg) {
    sleep_ms(50);
    pthread_kill(main_thread, SIGUSR1);
    if (arg) {
        sleep_ms(50);
        write_u64(shared_fd, 11);
    }
    return NULL;
}

static void t_eventfd_block(void) {
    shared_fd = eventfd(0, 0);
    double t0 = mono_now();
    pthread_t t = spawn(write_later, (void *)(uintptr_t)42);
    printf("eventfd-block: blocked read got %llu\n", (unsigned long long)read_u64(shared_fd));
    check_elapsed("blocked read", t0, 100);
    join(t);

    /* A full counter: the writer blocks until a read makes room. */
    write_u64(shared_fd, 0xfffffffffffffff0ULL);
    t0 = mono_now();
    t = spawn(read_later, NULL);
    write_u64(shared_fd, 0x20);
    check_elapsed("blocked write", t0, 100);
    join(t);
    printf("eventfd-block: after the blocked write %#llx\n", (unsigned long long)read_u64(shared_fd));

    /* A handler without SA_RESTART: EINTR. */
    main_thread = pthread_self();
    set_action(SIGUSR1, on_usr1, 0);
    t = spawn(signal_then_write, NULL);
    uint64_t v;
    FAILS(read(shared_fd, &v, 8), EINTR);
    join(t);
    /* With SA_RESTART the read goes on and gets what is written after the handler ran. */
    set_action(SIGUSR1, on_usr1, SA_RESTART);
    t = spawn(signal_then_write, (void *)1);
    unsigned long long got = read_u64(shared_fd);
    printf("eventfd-block: restarted read got %llu, handlers ran %d\n", got, (int)handled);
    join(t);
    set_action(SIGUSR1, SIG_DFL, 0);
    close(shared_fd);
}

/* ---- eventfd: poll, ppoll, select, pselect wake on a write ---- */

static void t_eventfd_poll(void) {
    shared_fd = eventfd(0, EFD_NONBLOCK);
    printf("eventfd-poll: idle revents %#x\n", poll_one(shared_fd, POLLIN | POLLOUT, 0));
    CHECK(poll_one(shared_fd, POLLIN, 50) == 0, "poll timed out with something");

    double t0 = mono_now();
    pthread_t t = spawn(write_later, (void *)1);
    printf("eventfd-poll: poll woke with %#x\n", poll_one(shared_fd, POLLIN, 5000));
    check_elapsed("poll", t0, 100);
    join(t);
    read_u64(shared_fd);

    struct timespec ts = {5, 0};
    struct pollfd p = {shared_fd, POLLIN, 0};
    t0 = mono_now();
    t = spawn(write_later, (void *)1);
    int n = ppoll(&p, 1, &ts, NULL);
    printf("eventfd-poll: ppoll %d revents %#x\n", n, p.revents);
    check_elapsed("ppoll", t0, 100);
    join(t);
    read_u64(shared_fd);

    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(shared_fd, &r);
    FD_SET(shared_fd, &w);
    struct timeval tv = {0, 0};
    n = select(shared_fd + 1, &r, &w, NULL, &tv);
    printf("eventfd-poll: select %d: readable %d writable %d\n", n, FD_ISSET(shared_fd, &r),
           FD_ISSET(shared_fd, &w));
    FD_ZERO(&r);
    FD_SET(shared_fd, &r);
    tv.tv_sec = 5;
    t0 = mono_now();
    t = spawn(write_later, (void *)1);
    n = select(shared_fd + 1, &r, NULL, NULL, &tv);
    printf("eventfd-poll: select woke: %d readable %d\n", n, FD_ISSET(shared_fd, &r));
    check_elapsed("select", t0, 100);
    join(t);
    read_u64(shared_fd);

    FD_ZERO(&r);
    FD_SET(shared_fd, &r);
    t = spawn(write_later, (void *)1);
    n = pselect(shared_fd + 1, &r, NULL, NULL, &ts, NULL);
    printf("eventfd-poll: pselect woke: %d readable %d\n", n, FD_ISSET(shared_fd, &r));
    join(t);
    close(shared_fd);
}

/* ---- eventfd and epoll: level and edge triggered ---- */

static void t_eventfd_epoll(void) {
    unsigned ev[8];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int lt = eventfd(0, EFD_NONBLOCK), et = eventfd(0, EFD_NONBLOCK), out = eventfd(0, EFD_NONBLOCK);
    add(ep, lt, EPOLLIN, 1);
    add(ep, et, EPOLLIN | EPOLLET, 2);
    CHECK(wait_events(ep, 0, ev, 8) == 0, "nothing ready yet");

    write_u64(lt, 1);
    write_u64(et, 1);
    int n = wait_events(ep, 0, ev, 8);
    printf("epoll: after writes: %d events:", n);
    for (int i = 0; i < n; i++) printf(" %#x", ev[i]);
    printf("\n");
    n = wait_events(ep, 0, ev, 8);
    printf("epoll: again, nothing read: %d events:", n);
    for (int i = 0; i < n; i++) printf(" %#x", ev[i]);
    printf("\n");
    /* Another write is another edge, though it was readable all along. */
    write_u64(et, 1);
    n = wait_events(ep, 0, ev, 8);
    printf("epoll: after another write to the edge-triggered one: %d events:", n);
    for (int i = 0; i < n; i++) printf(" %#x", ev[i]);
    printf("\n");
    read_u64(lt);
    read_u64(et);
    CHECK(wait_events(ep, 0, ev, 8) == 0, "ready after reads");

    /* A thread blocked in epoll_wait wakes when another thread writes. */
    shared_fd = et;
    double t0 = mono_now();
    pthread_t t = spawn(write_later, (void *)5);
    n = wait_events(ep, 5000, ev, 8);
    printf("epoll: blocked wait woke: %d event %#x\n", n, n ? ev[0] : 0);
    check_elapsed("epoll_wait", t0, 100);
    join(t);
    CHECK(wait_events(ep, 100, ev, 8) == 0, "edge reported twice");
    read_u64(et);

    /* Edge-triggered EPOLLOUT: reported when added, then on a read (which
     * makes room), not on a write. */
    add(ep, out, EPOLLOUT | EPOLLET, 3);
    n = wait_events(ep, 0, ev, 8);
    printf("epoll: EPOLLOUT|EPOLLET added: %d event %#x\n", n, n ? ev[0] : 0);
    write_u64(out, 2);
    printf("epoll: after a write: %d events\n", wait_events(ep, 0, ev, 8));
    read_u64(out);
    n = wait_events(ep, 0, ev, 8);
    printf("epoll: after a read: %d event %#x\n", n, n ? ev[0] : 0);

    /* EPOLL_CTL_MOD re-arms an edge-triggered entry. */
    write_u64(et, 1);
    CHECK(wait_events(ep, 0, ev, 8) == 1, "edge after write");
    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.u32 = 4};
    CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, et, &e) == 0, "MOD: %s", strerror(errno));
    n = wait_events(ep, 0, ev, 8);
    printf("epoll: after EPOLL_CTL_MOD: %d event %#x\n", n, n ? ev[0] : 0);

    read_u64(et);

    /* An epoll descriptor in poll: readable while an entry is ready. */
    printf("epoll: the epoll fd polls %#x\n", poll_one(ep, POLLIN, 0));
    write_u64(lt, 1);
    printf("epoll: with a ready entry %#x\n", poll_one(ep, POLLIN, 0));
    read_u64(lt);
    printf("epoll: once drained %#x\n", poll_one(ep, POLLIN, 0));
    close(lt);
    close(et);
    close(out);
    close(ep);
}

/* ---- timerfd: one-shot, interval, absolute, errors ---- */

static struct itimerspec spec(long value_ms, long interval_ms) {
    struct itimerspec s;
    s.it_value.tv_sec = value_ms / 1000;
    s.it_value.tv_nsec = (value_ms % 1000) * 1000000L;
    s.it_interval.tv_sec = interval_ms / 1000;
    s.it_interval.tv_nsec = (interval_ms % 1000) * 1000000L;
    return s;
}

static long ms_of(struct timespec ts) { return ts.tv_sec * 1000 + (ts.tv_nsec + 999999) / 1000000; }

static void t_timerfd(void) {
    FAILS(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
    FAILS(timerfd_create(CLOCK_MONOTONIC, 0x40), EINVAL);
    int fd = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(fd >= 0, "timerfd_create: %s", strerror(errno));
    printf("timerfd: link %s\n", link_of(fd));
    check_anon(fd);

    struct itimerspec cur;
    CHECK(timerfd_gettime(fd, &cur) == 0, "gettime: %s", strerror(errno));
    printf("timerfd: new: value %ld ms interval %ld ms\n", ms_of(cur.it_value), ms_of(cur.it_interval));

    /* One-shot, relative. */
    /* Timed from before the arming: the calls in between may take long on a loaded host. */
    struct itimerspec s = spec(100, 0), old;
    double t0 = mono_now();
    CHECK(timerfd_settime(fd, 0, &s, &old) == 0, "settime: %s", strerror(errno));
    printf("timerfd: old value %ld ms\n", ms_of(old.it_value));
    timerfd_gettime(fd, &cur);
    CHECK(ms_of(cur.it_value) > 0 && ms_of(cur.it_value) <= 100, "left %ld ms", ms_of(cur.it_value));
    printf("timerfd: one-shot read %llu\n", (unsigned long long)read_u64(fd));
    check_elapsed("one-shot", t0, 100);
    timerfd_gettime(fd, &cur);
    printf("timerfd: expired: value %ld ms interval %ld ms\n", ms_of(cur.it_value), ms_of(cur.it_interval));
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    uint64_t v;
    FAILS(read(fd, &v, 8), EAGAIN);
    char small[4];
    FAILS(read(fd, small, 4), EINVAL);
    FAILS(write(fd, &v, 8), EINVAL);

    /* Interval: expirations pile up while nobody reads. */
    s = spec(20, 20);
    timerfd_settime(fd, 0, &s, NULL);
    sleep_ms(110);
    v = read_u64(fd);
    CHECK(v >= 4 && v <= 6, "%llu expirations in 110 ms of a 20 ms timer", (unsigned long long)v);
    timerfd_gettime(fd, &cur);
    CHECK(ms_of(cur.it_value) > 0 && ms_of(cur.it_value) <= 20, "left %ld ms", ms_of(cur.it_value));
    printf("timerfd: interval %ld ms\n", ms_of(cur.it_interval));
    /* Setting it again resets the count; 0 disarms it. */
    s = spec(0, 0);
    CHECK(timerfd_settime(fd, 0, &s, &old) == 0, "disarm: %s", strerror(errno));
    printf("timerfd: old interval %ld ms\n", ms_of(old.it_interval));
    FAILS(read(fd, &v, 8), EAGAIN);
    timerfd_gettime(fd, &cur);
    printf("timerfd: disarmed: value %ld ms interval %ld ms\n", ms_of(cur.it_value), ms_of(cur.it_interval));
    fcntl(fd, F_SETFL, flags);

    /* Absolute on CLOCK_MONOTONIC; in the past with an interval it counts
     * every period since. */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    s = spec(0, 0);
    s.it_value = now;
    s.it_value.tv_nsec += 100000000;
    if (s.it_value.tv_nsec >= 1000000000) s.it_value.tv_sec++, s.it_value.tv_nsec -= 1000000000;
    t0 = mono_now();
    CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL) == 0, "abstime: %s", strerror(errno));
    printf("timerfd: absolute read %llu\n", (unsigned long long)read_u64(fd));
    check_elapsed("absolute", t0, 90);
    clock_gettime(CLOCK_MONOTONIC, &now);
    s = spec(0, 100);
    s.it_value = now;
    s.it_value.tv_sec -= 1;
    timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL);
    v = read_u64(fd);
    CHECK(v == 11 || v == 12, "%llu expirations of a 100 ms timer set 1 s in the past", (unsigned long long)v);
    printf("timerfd: past absolute counted its periods\n");

    FAILS(timerfd_settime(fd, 4, &s, NULL), EINVAL);
    s.it_value.tv_nsec = 1000000000;
    FAILS(timerfd_settime(fd, 0, &s, NULL), EINVAL);
    s = spec(10, 0);
    FAILS(timerfd_settime(-1, 0, &s, NULL), EBADF);
    FAILS(timerfd_settime(1, 0, &s, NULL), EINVAL);
    FAILS(timerfd_gettime(1, &cur), EINVAL);
    close(fd);

    /* CLOCK_REALTIME, absolute (with TFD_TIMER_CANCEL_ON_SET), and CLOCK_BOOTTIME. */
    fd = timerfd_create(CLOCK_REALTIME, TFD_CLOEXEC);
    printf("timerfd: cloexec %d\n", fcntl(fd, F_GETFD));
    clock_gettime(CLOCK_REALTIME, &now);
    s = spec(0, 0);
    s.it_value = now;
    s.it_value.tv_nsec += 100000000;
    if (s.it_value.tv_nsec >= 1000000000) s.it_value.tv_sec++, s.it_value.tv_nsec -= 1000000000;
    t0 = mono_now();
    CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &s, NULL) == 0, "realtime: %s",
          strerror(errno));
    printf("timerfd: realtime absolute read %llu\n", (unsigned long long)read_u64(fd));
    check_elapsed("realtime absolute", t0, 90);
    close(fd);
    fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK);
    s = spec(50, 0);
    timerfd_settime(fd, 0, &s, NULL);
    FAILS(read(fd, &v, 8), EAGAIN);
    printf("timerfd: boottime polls %#x\n", poll_one(fd, POLLIN, 5000));
    printf("timerfd: boottime read %llu\n", (unsigned long long)read_u64(fd));
    close(fd);
}

/* ---- timerfd: poll, select and epoll wake on expiry; no CPU spent waiting ---- */

static void t_timerfd_poll(void) {
    unsigned ev[8];
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec s = spec(100, 0);
    double t0 = mono_now();
    timerfd_settime(fd, 0, &s, NULL);
    CHECK(poll_one(fd, POLLIN, 0) == 0, "ready before its time");
    printf("timerfd-poll: poll woke with %#x\n", poll_one(fd, POLLIN, 5000));
    check_elapsed("poll", t0, 100);
    printf("timerfd-poll: read %llu\n", (unsigned long long)read_u64(fd));

    t0 = mono_now();
    timerfd_settime(fd, 0, &s, NULL);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(fd, &r);
    struct timeval tv = {5, 0};
    int n = select(fd + 1, &r, NULL, NULL, &tv);
    printf("timerfd-poll: select %d readable %d\n", n, FD_ISSET(fd, &r));
    check_elapsed("select", t0, 100);
    read_u64(fd);

    /* A blocking read of a timer spends no CPU time waiting. */
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    s = spec(300, 0);
    timerfd_settime(fd, 0, &s, NULL);
    double c0 = cpu_now();
    read_u64(fd);
    CHECK(cpu_now() - c0 < 0.1, "%.3f s of CPU time in a 300 ms wait", cpu_now() - c0);
    fcntl(fd, F_SETFL, flags);

    /* epoll: level-triggered reports an expired timer until it is read;
     * edge-triggered once per expiry after a read (an interval timer that
     * nobody reads does not fire again). */
    int lt = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    int ep = epoll_create1(0);
    add(ep, fd, EPOLLIN | EPOLLET, 1);
    add(ep, lt, EPOLLIN, 2);
    s = spec(50, 50);
    timerfd_settime(fd, 0, &s, NULL);
    t0 = mono_now();
    n = wait_events(ep, 5000, ev, 8);
    printf("timerfd-poll: epoll woke: %d event %#x\n", n, n ? ev[0] : 0);
    check_elapsed("epoll_wait", t0, 50);
    n = wait_events(ep, 200, ev, 8);
    printf("timerfd-poll: unread, 200 ms later: %d events\n", n);
    uint64_t v = read_u64(fd);
    CHECK(v >= 4, "%llu expirations", (unsigned long long)v);
    n = wait_events(ep, 5000, ev, 8);
    printf("timerfd-poll: after the read: %d event %#x\n", n, n ? ev[0] : 0);
    s = spec(0, 0);
    timerfd_settime(fd, 0, &s, NULL);

    s = spec(30, 0);
    timerfd_settime(lt, 0, &s, NULL);
    n = wait_events(ep, 5000, ev, 8);
    printf("timerfd-poll: level-triggered: %d event %#x\n", n, n ? ev[0] : 0);
    n = wait_events(ep, 0, ev, 8);
    printf("timerfd-poll: level-triggered again: %d event %#x\n", n, n ? ev[0] : 0);
    read_u64(lt);
    CHECK(wait_events(ep, 0, ev, 8) == 0, "ready after the read");
    close(lt);
    close(ep);
    close(fd);
}

/* ---- signalfd: reading blocked signals with their siginfo ---- */

static void t_signalfd(void) {
    block_signals(SIGUSR1, SIGUSR2);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGKILL); /* silently left out */
    int fd = signalfd(-1, &m, SFD_NONBLOCK);
    CHECK(fd >= 0, "signalfd: %s", strerror(errno));
    printf("signalfd: link %s\n", link_of(fd));
    check_anon(fd);
    struct signalfd_siginfo si[4];
    FAILS(read(fd, si, sizeof si), EAGAIN);
    printf("signalfd: idle polls %#x\n", poll_one(fd, POLLIN, 0));

    kill(getpid(), SIGUSR1);
    printf("signalfd: after kill polls %#x\n", poll_one(fd, POLLIN, 0));
    ssize_t n = read(fd, si, sizeof si);
    printf("signalfd: read %zd: signo %u code %d pid-ok %d uid-ok %d\n", n, si[0].ssi_signo, si[0].ssi_code,
           si[0].ssi_pid == (uint32_t)getpid(), si[0].ssi_uid == (uint32_t)getuid());
    sigset_t p;
    sigpending(&p);
    printf("signalfd: still pending %d\n", sigismember(&p, SIGUSR1));

    raise(SIGUSR1);
    n = read(fd, si, sizeof si);
    printf("signalfd: raise: %zd signo %u code %d\n", n, si[0].ssi_signo, si[0].ssi_code);
    union sigval val = {.sival_int = 42};
    sigqueue(getpid(), SIGUSR1, val);
    n = read(fd, si, sizeof si);
    printf("signalfd: sigqueue: %zd signo %u code %d int %d\n", n, si[0].ssi_signo, si[0].ssi_code, si[0].ssi_int);

    /* A signal outside the mask stays pending; a new mask takes it. */
    raise(SIGUSR2);
    FAILS(read(fd, si, sizeof si), EAGAIN);
    sigaddset(&m, SIGUSR2);
    int again = signalfd(fd, &m, 0);
    printf("signalfd: new mask on the same fd: %d\n", again == fd);
    n = read(fd, si, sizeof si);
    printf("signalfd: then read %zd signo %u\n", n, si[0].ssi_signo);
    printf("signalfd: still nonblocking %d\n", !!(fcntl(fd, F_GETFL) & O_NONBLOCK));

    /* Real-time signals queue: several records in one read, in order. */
    block_signals(SIGRTMIN, 0);
    sigaddset(&m, SIGRTMIN);
    signalfd(fd, &m, 0);
    for (int i = 1; i <= 3; i++) {
        val.sival_int = i;
        sigqueue(getpid(), SIGRTMIN, val);
    }
    n = read(fd, si, sizeof si);
    printf("signalfd: %zd bytes:", n);
    for (int i = 0; i < n / (ssize_t)sizeof si[0]; i++) printf(" %d", si[i].ssi_int);
    printf("\n");
    for (int i = 1; i <= 2; i++) {
        val.sival_int = 10 + i;
        sigqueue(getpid(), SIGRTMIN, val);
    }
    n = read(fd, si, sizeof si[0] + 100);
    printf("signalfd: a read with room for one: %zd bytes, %d\n", n, si[0].ssi_int);
    n = read(fd, si, sizeof si);
    printf("signalfd: then %zd bytes, %d\n", n, si[0].ssi_int);

    /* Signals whose default action is to ignore them are queued while blocked. */
    block_signals(SIGCHLD, SIGWINCH);
    sigaddset(&m, SIGCHLD);
    sigaddset(&m, SIGWINCH);
    signalfd(fd, &m, 0);
    kill(getpid(), SIGWINCH);
    kill(getpid(), SIGCHLD);
    n = read(fd, si, sizeof si);
    printf("signalfd: %zd bytes: signo %u code %d, signo %u\n", n, si[0].ssi_signo, si[0].ssi_code,
           si[1].ssi_signo);

    FAILS(read(fd, si, sizeof si[0] - 1), EINVAL);
    FAILS(write(fd, si, sizeof si[0]), EINVAL);
    FAILS(syscall(SYS_signalfd4, -1, &m, 4, 0), EINVAL);
    FAILS(signalfd(-1, &m, 0x10), EINVAL);
    int efd = eventfd(0, 0);
    FAILS(signalfd(efd, &m, 0), EINVAL);
    FAILS(signalfd(999, &m, 0), EBADF);
    close(efd);
    close(fd);

    fd = (int)syscall(SYS_signalfd, -1, &m, 8);
    CHECK(fd >= 0, "SYS_signalfd: %s", strerror(errno));
    printf("signalfd: SYS_signalfd cloexec %d nonblock %d\n", fcntl(fd, F_GETFD), !!(fcntl(fd, F_GETFL) & O_NONBLOCK));
    close(fd);
    fd = signalfd(-1, &m, SFD_CLOEXEC);
    printf("signalfd: SFD_CLOEXEC cloexec %d\n", fcntl(fd, F_GETFD));
    close(fd);
}

/* ---- signalfd: a blocked read wakes for a signal from another thread or a timer; epoll ---- */

static void *kill_later(void *arg) {
    sleep_ms(100);
    if (arg)
        pthread_kill(main_thread, SIGUSR2);
    else
        kill(getpid(), SIGUSR1);
    return NULL;
}

static void t_signalfd_block(void) {
    unsigned ev[8];
    /* Blocked before any thread starts: no thread takes them but the signalfd. */
    block_signals(SIGUSR1, SIGUSR2);
    block_signals(SIGALRM, 0);
    main_thread = pthread_self();
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR1);
    sigaddset(&m, SIGUSR2);
    sigaddset(&m, SIGALRM);
    int fd = signalfd(-1, &m, 0);
    struct signalfd_siginfo si;

    double t0 = mono_now();
    pthread_t t = spawn(kill_later, NULL);
    ssize_t n = read(fd, &si, sizeof si);
    printf("signalfd-block: kill from a thread: %zd signo %u code %d\n", n, si.ssi_signo, si.ssi_code);
    check_elapsed("kill", t0, 100);
    join(t);

    t0 = mono_now();
    t = spawn(kill_later, (void *)1);
    n = read(fd, &si, sizeof si);
    printf("signalfd-block: pthread_kill to this thread: %zd signo %u code %d\n", n, si.ssi_signo, si.ssi_code);
    check_elapsed("pthread_kill", t0, 100);
    join(t);

    /* A timer's signal. */
    struct itimerval it = {{0, 0}, {0, 100000}};
    t0 = mono_now();
    setitimer(ITIMER_REAL, &it, NULL);
    n = read(fd, &si, sizeof si);
    printf("signalfd-block: ITIMER_REAL: %zd signo %u code %d\n", n, si.ssi_signo, si.ssi_code);
    check_elapsed("itimer", t0, 100);

    /* poll and epoll wake when a signal arrives. */
    t0 = mono_now();
    t = spawn(kill_later, NULL);
    printf("signalfd-block: poll woke with %#x\n", poll_one(fd, POLLIN, 5000));
    check_elapsed("poll", t0, 100);
    join(t);
    read(fd, &si, sizeof si);

    int ep = epoll_create1(0);
    int et = signalfd(-1, &m, SFD_NONBLOCK);
    add(ep, et, EPOLLIN | EPOLLET, 7);
    add(ep, fd, EPOLLIN, 8);
    t0 = mono_now();
    t = spawn(kill_later, NULL);
    int k = wait_events(ep, 5000, ev, 8);
    printf("signalfd-block: epoll woke: %d events:", k);
    for (int i = 0; i < k; i++) printf(" %#x", ev[i]);
    printf("\n");
    check_elapsed("epoll", t0, 100);
    join(t);
    k = wait_events(ep, 0, ev, 8);
    printf("signalfd-block: epoll again: %d events:", k);
    for (int i = 0; i < k; i++) printf(" %#x", ev[i]);
    printf("\n");
    /* Another signal: the edge-triggered one reports again. */
    raise(SIGUSR2);
    k = wait_events(ep, 0, ev, 8);
    printf("signalfd-block: another signal: %d events:", k);
    for (int i = 0; i < k; i++) printf(" %#x", ev[i]);
    printf("\n");
    struct signalfd_siginfo two[2];
    n = read(et, two, sizeof two);
    printf("signalfd-block: read %zd bytes: %u %u\n", n, two[0].ssi_signo, two[1].ssi_signo);
    CHECK(wait_events(ep, 0, ev, 8) == 0, "ready after the read");
    close(et);
    close(ep);
    close(fd);
    /* SIGALRM serves as the watchdog again. */
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
    alarm(30);
}

/* ---- epoll: one-shot, exclusive, epoll_pwait2, strict edge triggering,
 * on a pipe and on sockets ---- */

enum { K_PIPE, K_UNIX, K_UDGRAM, K_TCP, KINDS };
static const char *const kind_names[KINDS] = {"pipe", "unix stream", "unix dgram", "tcp"};

/* A non-blocking channel of `kind`: data written to `wr` is read from `rd`. */
static void make_pair(int kind, int *rd, int *wr) {
    int fds[2] = {-1, -1};
    if (kind == K_PIPE) {
        CHECK(pipe2(fds, O_NONBLOCK) == 0, "pipe2: %s", strerror(errno));
    } else if (kind == K_UNIX || kind == K_UDGRAM) {
        int type = (kind == K_UNIX ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK;
        CHECK(socketpair(AF_UNIX, type, 0, fds) == 0, "socketpair: %s", strerror(errno));
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        int ls = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 1) == 0 &&
                  getsockname(ls, (struct sockaddr *)&a, &len) == 0,
              "listener: %s", strerror(errno));
        fds[1] = socket(AF_INET, SOCK_STREAM, 0);
        CHECK(connect(fds[1], (struct sockaddr *)&a, sizeof a) == 0, "connect: %s", strerror(errno));
        fds[0] = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
        CHECK(fds[0] >= 0, "accept: %s", strerror(errno));
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        int one = 1;
        setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        close(ls);
    }
    *rd = fds[0];
    *wr = fds[1];
}

static void put(int fd, const char *s) {
    ssize_t n = write(fd, s, strlen(s));
    CHECK(n == (ssize_t)strlen(s), "write '%s': %zd (%s)", s, n, strerror(errno));
}

/* Reads what is there (all of it, or one read of `max` bytes); returns the count. */
static size_t take(int fd, size_t max, int all) {
    char buf[256];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, max < sizeof buf ? max : sizeof buf)) > 0) {
        total += (size_t)n;
        if (!all) break;
    }
    return total;
}

/* One epoll_wait, printed as "SUBTEST: KIND: WHAT: N events[: E...]". */
static int show_wait(const char *kind, const char *what, int ep, int timeout_ms) {
    unsigned ev[8];
    int n = wait_events(ep, timeout_ms, ev, 8);
    printf("%s: %s: %s: %d event%s", current, kind, what, n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) printf("%s%#x", i ? " " : ": ", ev[i]);
    printf("\n");
    return n;
}

static int ctl(int ep, int op, int fd, unsigned events, unsigned data) {
    struct epoll_event e = {.events = events, .data.u32 = data};
    return epoll_ctl(ep, op, fd, &e);
}

static void t_epoll_oneshot(void) {
    for (int k = 0; k < KINDS; k++) {
        const char *kn = kind_names[k];
        int rd, wr, ep = epoll_create1(0);
        make_pair(k, &rd, &wr);
        CHECK(ctl(ep, EPOLL_CTL_ADD, rd, EPOLLIN | EPOLLONESHOT, 1) == 0, "ADD: %s", strerror(errno));
        show_wait(kn, "nothing written", ep, 0);
        put(wr, "a");
        show_wait(kn, "after a write", ep, 1000);
        show_wait(kn, "again, unread", ep, 100);
        put(wr, "b");
        show_wait(kn, "after another write", ep, 100);
        CHECK(ctl(ep, EPOLL_CTL_MOD, rd, EPOLLIN | EPOLLONESHOT, 2) == 0, "MOD: %s", strerror(errno));
        show_wait(kn, "re-armed by EPOLL_CTL_MOD", ep, 0);
        show_wait(kn, "again", ep, 0);
        FAILS(ctl(ep, EPOLL_CTL_ADD, rd, EPOLLIN, 9), EEXIST);
        CHECK(ctl(ep, EPOLL_CTL_MOD, rd, EPOLLIN, 3) == 0, "MOD: %s", strerror(errno));
        show_wait(kn, "level-triggered after MOD", ep, 0);
        show_wait(kn, "level-triggered again", ep, 0);
        take(rd, 256, 1);
        /* One-shot and edge-triggered. */
        CHECK(ctl(ep, EPOLL_CTL_MOD, rd, EPOLLIN | EPOLLET | EPOLLONESHOT, 4) == 0, "MOD: %s", strerror(errno));
        show_wait(kn, "EPOLLET|EPOLLONESHOT, drained", ep, 0);
        put(wr, "c");
        show_wait(kn, "EPOLLET|EPOLLONESHOT, after a write", ep, 1000);
        put(wr, "d");
        show_wait(kn, "EPOLLET|EPOLLONESHOT, after another write", ep, 100);
        take(rd, 256, 1);
        /* A disarmed entry is deleted and added again; a blocked wait wakes once. */
        CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, rd, NULL) == 0, "DEL: %s", strerror(errno));
        CHECK(ctl(ep, EPOLL_CTL_ADD, rd, EPOLLIN | EPOLLONESHOT, 5) == 0, "ADD: %s", strerror(errno));
        shared_fd = wr;
        double t0 = mono_now();
        pthread_t t = spawn(write_later, (void *)1);
        show_wait(kn, "a blocked wait, written to by a thread", ep, 5000);
        check_elapsed("blocked epoll_wait", t0, 100);
        join(t);
        show_wait(kn, "then", ep, 100);
        close(rd);
        close(wr);
        close(ep);
    }
}

static pthread_barrier_t exclusive_ready;

static void *exclusive_waiter(void *arg) {
    int ep = (int)(intptr_t)arg;
    struct epoll_event e;
    pthread_barrier_wait(&exclusive_ready);
    return (void *)(intptr_t)epoll_wait(ep, &e, 1, 1000);
}

/* Prints an epoll_ctl's result; an entry added by mistake is deleted again. */
static int show_ctl(const char *what, int ep, int op, int fd, unsigned events, unsigned data) {
    int r = ctl(ep, op, fd, events, data);
    int e = errno;
    printf("%s: %s: %s\n", current, what,
           r == 0 ? "ok" : e == EINVAL ? "EINVAL" : e == EEXIST ? "EEXIST" : e == ENOENT ? "ENOENT" : strerror(e));
    return r;
}

static void add_refused(const char *what, int ep, int fd, unsigned events) {
    if (show_ctl(what, ep, EPOLL_CTL_ADD, fd, events, 9) == 0) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

static void t_epoll_exclusive(void) {
    int p[2], sv[2];
    CHECK(pipe2(p, O_NONBLOCK) == 0, "pipe2: %s", strerror(errno));
    int ep = epoll_create1(0);
    show_ctl("ADD EPOLLIN|EPOLLEXCLUSIVE", ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 1);
    show_ctl("MOD of an exclusive entry to EPOLLIN", ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 2);
    show_ctl("MOD of an exclusive entry to EPOLLIN|EPOLLEXCLUSIVE", ep, EPOLL_CTL_MOD, p[0],
             EPOLLIN | EPOLLEXCLUSIVE, 2);
    show_wait("pipe", "nothing written", ep, 0);
    put(p[1], "x");
    show_wait("pipe", "after a write", ep, 1000);
    show_wait("pipe", "level-triggered, again", ep, 0);
    take(p[0], 256, 1);
    show_ctl("DEL", ep, EPOLL_CTL_DEL, p[0], 0, 0);
    show_ctl("ADD EPOLLIN", ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 3);
    show_ctl("MOD of a plain entry to EPOLLIN|EPOLLEXCLUSIVE", ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 3);
    show_ctl("DEL", ep, EPOLL_CTL_DEL, p[0], 0, 0);
    add_refused("ADD EPOLLIN|EPOLLEXCLUSIVE|EPOLLONESHOT", ep, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT);
    add_refused("ADD EPOLLIN|EPOLLEXCLUSIVE|EPOLLRDHUP", ep, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLRDHUP);
    add_refused("ADD EPOLLPRI|EPOLLEXCLUSIVE", ep, p[0], EPOLLPRI | EPOLLEXCLUSIVE);
    add_refused("ADD EPOLLIN|EPOLLET|EPOLLEXCLUSIVE", ep, p[0], EPOLLIN | EPOLLET | EPOLLEXCLUSIVE);
    show_ctl("ADD EPOLLOUT|EPOLLEXCLUSIVE of the write end", ep, EPOLL_CTL_ADD, p[1], EPOLLOUT | EPOLLEXCLUSIVE, 6);
    show_wait("pipe", "the write end", ep, 0);
    int inner = epoll_create1(0);
    add_refused("ADD an epoll descriptor with EPOLLEXCLUSIVE", ep, inner, EPOLLIN | EPOLLEXCLUSIVE);
    close(inner);
    close(ep);

    /* A socket. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0, "socketpair: %s", strerror(errno));
    ep = epoll_create1(0);
    show_ctl("socket: ADD EPOLLIN|EPOLLOUT|EPOLLEXCLUSIVE", ep, EPOLL_CTL_ADD, sv[0],
             EPOLLIN | EPOLLOUT | EPOLLEXCLUSIVE, 1);
    show_ctl("socket: MOD of the exclusive entry", ep, EPOLL_CTL_MOD, sv[0], EPOLLIN, 2);
    show_wait("unix stream", "nothing written", ep, 0);
    put(sv[1], "x");
    show_wait("unix stream", "after a write", ep, 1000);
    close(ep);

    /* Two epoll instances with exclusive entries for one pipe, a thread
     * blocked on each: a write wakes one or more of them. */
    int e1 = epoll_create1(0), e2 = epoll_create1(0);
    take(p[0], 256, 1);
    CHECK(ctl(e1, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 1) == 0, "ADD: %s", strerror(errno));
    CHECK(ctl(e2, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 2) == 0, "ADD: %s", strerror(errno));
    pthread_barrier_init(&exclusive_ready, NULL, 3);
    pthread_t t1 = spawn(exclusive_waiter, (void *)(intptr_t)e1), t2 = spawn(exclusive_waiter, (void *)(intptr_t)e2);
    pthread_barrier_wait(&exclusive_ready);
    sleep_ms(100);
    put(p[1], "y");
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    CHECK((intptr_t)r1 >= 0 && (intptr_t)r2 >= 0, "epoll_wait: %ld %ld", (long)(intptr_t)r1, (long)(intptr_t)r2);
    printf("epoll-exclusive: two blocked waiters, one write: at least one woke %d\n",
           (intptr_t)r1 + (intptr_t)r2 >= 1);
    pthread_barrier_destroy(&exclusive_ready);
    close(e1);
    close(e2);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static int pwait2(int ep, int max, const struct timespec *ts, const sigset_t *mask, size_t masklen) {
    struct epoll_event ev[8];
    return (int)syscall(SYS_epoll_pwait2, ep, ev, max, ts, mask, masklen);
}

static void t_epoll_pwait2(void) {
    for (int k = 0; k < KINDS; k++) {
        const char *kn = kind_names[k];
        int rd, wr, ep = epoll_create1(0);
        make_pair(k, &rd, &wr);
        add(ep, rd, EPOLLIN, 1);
        struct timespec ts = {0, 50000000};
        double t0 = mono_now();
        int n = pwait2(ep, 8, &ts, NULL, 8);
        printf("epoll-pwait2: %s: 50 ms timeout: %d\n", kn, n);
        check_elapsed("a 50 ms timeout", t0, 50);
        ts = (struct timespec){0, 0};
        t0 = mono_now();
        n = pwait2(ep, 8, &ts, NULL, 8);
        printf("epoll-pwait2: %s: zero timeout: %d\n", kn, n);
        CHECK(mono_now() - t0 < 0.04, "a zero timeout took %.3f s", mono_now() - t0);
        put(wr, "x");
        ts = (struct timespec){5, 0};
        t0 = mono_now();
        n = pwait2(ep, 8, &ts, NULL, 8);
        printf("epoll-pwait2: %s: ready, 5 s timeout: %d\n", kn, n);
        CHECK(mono_now() - t0 < 1, "a ready descriptor took %.3f s", mono_now() - t0);
        take(rd, 256, 1);
        shared_fd = wr;
        t0 = mono_now();
        pthread_t t = spawn(write_later, (void *)1);
        n = pwait2(ep, 8, NULL, NULL, 8);
        printf("epoll-pwait2: %s: no timeout, written to by a thread: %d\n", kn, n);
        check_elapsed("no timeout", t0, 100);
        join(t);
        close(rd);
        close(wr);
        close(ep);
    }
    int ep = epoll_create1(0), p[2];
    CHECK(pipe(p) == 0, "pipe: %s", strerror(errno));
    add(ep, p[0], EPOLLIN, 1);
    struct timespec bad = {0, 1000000000};
    FAILS(pwait2(ep, 8, &bad, NULL, 8), EINVAL);
    bad = (struct timespec){-1, 0};
    FAILS(pwait2(ep, 8, &bad, NULL, 8), EINVAL);
    struct timespec ts = {0, 0};
    FAILS(pwait2(ep, 0, &ts, NULL, 8), EINVAL);
    sigset_t none;
    sigemptyset(&none);
    FAILS(pwait2(ep, 8, &ts, &none, 4), EINVAL);
    FAILS(pwait2(p[0], 8, &ts, NULL, 8), EINVAL);
    FAILS(pwait2(-1, 8, &ts, NULL, 8), EBADF);

    /* The mask is in force only during the wait: a blocked signal interrupts it. */
    block_signals(SIGUSR1, 0);
    main_thread = pthread_self();
    handled = 0;
    set_action(SIGUSR1, on_usr1, 0);
    ts = (struct timespec){5, 0};
    pthread_t t = spawn(signal_then_write, NULL);
    double t0 = mono_now();
    FAILS(pwait2(ep, 8, &ts, &none, 8), EINTR);
    CHECK(mono_now() - t0 < 2, "interrupted after %.3f s", mono_now() - t0);
    join(t);
    sigset_t now;
    pthread_sigmask(SIG_BLOCK, NULL, &now);
    printf("epoll-pwait2: interrupted by a signal: handlers ran %d, blocked again %d\n", (int)handled,
           sigismember(&now, SIGUSR1));
    set_action(SIGUSR1, SIG_DFL, 0);
    close(p[0]);
    close(p[1]);
    close(ep);
}

/* Edge-triggered: an edge is reported once; waiting again without reading
 * and without new data reports nothing (Linux's semantics). On pipes, which
 * hx serves in its kernel, and on sockets, host files whose wake-ups the
 * monitor counts. */
static void t_epoll_edge(void) {
    for (int k = K_PIPE; k < KINDS; k++) {
        const char *kn = kind_names[k];
        int rd, wr, ep = epoll_create1(0);
        make_pair(k, &rd, &wr);
        put(wr, "x");
        add(ep, rd, EPOLLIN | EPOLLET, 1);
        show_wait(kn, "unread data when added", ep, 1000);
        show_wait(kn, "again, nothing read, nothing new", ep, 100);
        show_wait(kn, "a third time", ep, 0);
        put(wr, "y");
        show_wait(kn, "after a write", ep, 1000);
        show_wait(kn, "again", ep, 100);
        printf("epoll-edge: %s: read %zu byte\n", kn, take(rd, 1, 0));
        show_wait(kn, "after reading part", ep, 100);
        put(wr, "z");
        show_wait(kn, "after another write", ep, 1000);
        size_t n = take(rd, 256, 1);
        printf("epoll-edge: %s: drained %zu bytes\n", kn, n);
        show_wait(kn, "drained", ep, 100);
        /* Level-triggered, for contrast. */
        CHECK(ctl(ep, EPOLL_CTL_MOD, rd, EPOLLIN, 2) == 0, "MOD: %s", strerror(errno));
        put(wr, "w");
        show_wait(kn, "level-triggered", ep, 1000);
        show_wait(kn, "level-triggered again", ep, 0);
        /* Both directions, edge-triggered, re-armed by MOD. */
        CHECK(ctl(ep, EPOLL_CTL_MOD, rd, EPOLLIN | EPOLLOUT | EPOLLET, 3) == 0, "MOD: %s", strerror(errno));
        show_wait(kn, "EPOLLIN|EPOLLOUT|EPOLLET", ep, 0);
        show_wait(kn, "again", ep, 100);
        put(wr, "v");
        show_wait(kn, "after a write", ep, 1000);
        show_wait(kn, "again", ep, 100);
        /* The write end, EPOLLOUT|EPOLLET: once, not again while nothing changes. */
        int ew = epoll_create1(0);
        add(ew, wr, EPOLLOUT | EPOLLET, 4);
        show_wait(kn, "write end, EPOLLOUT|EPOLLET", ew, 0);
        show_wait(kn, "write end, again", ew, 100);
        close(ew);
        close(rd);
        close(wr);
        close(ep);
    }
}

/* A descriptor closed while in an epoll set leaves it (Linux: when its file
 * is released): a wait with nothing else ready then waits its whole timeout
 * and reports nothing, and a new file at the same descriptor number can be
 * added. On every kind of file, edge and level triggered. */
static void t_epoll_closed(void) {
    for (int k = K_PIPE; k < KINDS; k++) {
        for (int et = 0; et < 2; et++) {
            const char *kn = kind_names[k];
            int rd, wr, ep = epoll_create1(0);
            make_pair(k, &rd, &wr);
            put(wr, "x");
            add(ep, rd, EPOLLIN | (et ? EPOLLET : 0), 1);
            show_wait(kn, et ? "edge-triggered, data" : "level-triggered, data", ep, 1000);
            close(rd);
            double t0 = mono_now();
            struct epoll_event ev[4];
            int n = epoll_wait(ep, ev, 4, 300);
            double waited = mono_now() - t0;
            printf("epoll-closed: %s: after close: %d events, waited the timeout: %d\n", kn, n, waited > 0.25);
            int again, other;
            make_pair(k, &again, &other);
            int moved = again == rd ? again : dup2(again, rd);
            if (moved != again) close(again);
            printf("epoll-closed: %s: a new file at the same number: ADD %s\n", kn,
                   ctl(ep, EPOLL_CTL_ADD, rd, EPOLLIN, 2) == 0 ? "ok" : strerror(errno));
            put(other, "y");
            show_wait(kn, "the new file", ep, 1000);
            close(rd);
            close(other);
            close(wr);
            close(ep);
        }
    }
}

/* epoll instances inside epoll instances: a ready pipe is seen through a
 * chain of them; a chain deeper than Linux allows and a cycle are ELOOP. */
static void t_epoll_nested(void) {
    int p[2];
    if (pipe(p)) return;
    int chain[6], prev = p[0];
    for (int i = 0; i < 6; i++) {
        chain[i] = epoll_create1(0);
        int r = ctl(chain[i], EPOLL_CTL_ADD, prev, EPOLLIN, (unsigned)prev);
        printf("epoll-nested: level %d ADD: %s\n", i + 1, r == 0 ? "ok" : strerror(errno));
        if (r == 0) prev = chain[i];
    }
    put(p[1], "x");
    for (int i = 0; i < 5; i++) {
        char what[32];
        snprintf(what, sizeof what, "level %d", i + 1);
        show_wait("pipe", what, chain[i], 1000);
    }
    int a = epoll_create1(0), b = epoll_create1(0);
    printf("epoll-nested: a in b: %s\n", ctl(b, EPOLL_CTL_ADD, a, EPOLLIN, 1) == 0 ? "ok" : strerror(errno));
    printf("epoll-nested: b in a (a cycle): %s\n", ctl(a, EPOLL_CTL_ADD, b, EPOLLIN, 2) == 0 ? "ok" : strerror(errno));
    printf("epoll-nested: chain top in a (a cycle through b? no): %s\n",
           ctl(a, EPOLL_CTL_ADD, chain[0], EPOLLIN, 3) == 0 ? "ok" : strerror(errno));
    printf("epoll-nested: b in level 2 (too deep): %s\n",
           ctl(chain[1], EPOLL_CTL_ADD, b, EPOLLIN, 4) == 0 ? "ok" : strerror(errno));
    for (int i = 0; i < 6; i++) close(chain[i]);
    close(a);
    close(b);
    close(p[0]);
    close(p[1]);
}

static const struct {
    const char *name;
    void (*run)(void);
} subtests[] = {
    {"epoll-nested", t_epoll_nested},
    {"eventfd", t_eventfd},
    {"eventfd-block", t_eventfd_block},
    {"eventfd-poll", t_eventfd_poll},
    {"eventfd-epoll", t_eventfd_epoll},
    {"timerfd", t_timerfd},
    {"timerfd-poll", t_timerfd_poll},
    {"signalfd", t_signalfd},
    {"signalfd-block", t_signalfd_block},
    {"epoll-oneshot", t_epoll_oneshot},
    {"epoll-exclusive", t_epoll_exclusive},
    {"epoll-pwait2", t_epoll_pwait2},
    {"epoll-edge", t_epoll_edge},
    {"epoll-closed", t_epoll_closed},
};

int main(int argc, char **argv) {
    const char *only_name = argc > 1 ? argv[1] : NULL;
    int ran = 0, failed = 0;
    alarm(30);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof subtests / sizeof subtests[0]; i++) {
        if (only_name && strcmp(only_name, subtests[i].name) != 0) continue;
        current = subtests[i].name;
        atomic_store(&failures, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        alarm(30);
        subtests[i].run();
        if (atomic_load(&failures)) {
            printf("%s: FAILED\n", current);
            failed++;
        } else {
            printf("%s: ok\n", current);
        }
        fflush(stdout);
        ran++;
    }
    if (!ran) {
        fprintf(stderr, "events: unknown sub-test %s\n", only_name);
        return 100;
    }
    return failed;
}
