/* Threads and their synchronisation, as a program sees them through its libc
 * (glibc or musl): creation and join, mutexes, condition variables, rwlocks,
 * barriers, semaphores, thread-local storage and key destructors,
 * cancellation, detached threads, a producer/consumer stress, timed waits,
 * pthread_kill, priority-inheritance mutexes, futex_waitv and the CPU count.
 *
 *   threads [SUB-TEST]
 *
 * With no argument every default sub-test runs in turn; with one, only that
 * one (also the sub-tests that end the process: exit, main-exit, fault).
 * Each sub-test prints deterministic lines ending with "NAME: ok" or
 * "NAME: FAILED"; failed checks print "NAME: FAIL ..." lines. The exit status
 * is the number of failed sub-tests.
 *
 * The "cpus" sub-test checks the CPU count against $HX_EXPECT_CPUS and prints
 * nothing about it when that is unset. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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

/* Checks a pthread-style result (0 or an error number). */
#define CHECK_RC(call)                                                        \
    do {                                                                      \
        int rc_ = (call);                                                     \
        CHECK(rc_ == 0, "%s", strerror(rc_));                                 \
    } while (0)

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static double mono_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* An absolute deadline `ms` from now on `clock`. */
static struct timespec deadline(clockid_t clock, long ms) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
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

static void *join(pthread_t t) {
    void *ret = NULL;
    int rc = pthread_join(t, &ret);
    CHECK(rc == 0, "pthread_join: %s", strerror(rc));
    return ret;
}

/* ---- create: 200 threads, each returning a value ---- */

#define NCREATE 200
struct create_slot {
    int idx;
    pid_t tid;
    pthread_t self;
};

static void *create_fn(void *arg) {
    struct create_slot *s = arg;
    s->self = pthread_self();
    s->tid = gettid_();
    return (void *)(intptr_t)(s->idx * 3 + 1);
}

static int cmp_pid(const void *a, const void *b) {
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

static void t_create(void) {
    static struct create_slot slots[NCREATE];
    static pthread_t th[NCREATE];
    static pid_t tids[NCREATE];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    CHECK_RC(pthread_attr_setstacksize(&attr, 128 * 1024));
    for (int i = 0; i < NCREATE; i++) {
        slots[i].idx = i;
        int rc = pthread_create(&th[i], &attr, create_fn, &slots[i]);
        CHECK(rc == 0, "thread %d: %s", i, strerror(rc));
        if (rc != 0) return;
    }
    pthread_attr_destroy(&attr);
    long sum = 0;
    for (int i = 0; i < NCREATE; i++) {
        intptr_t r = (intptr_t)join(th[i]);
        CHECK(r == i * 3 + 1, "thread %d returned %ld", i, (long)r);
        CHECK(pthread_equal(th[i], slots[i].self), "thread %d: pthread_self differs from its handle", i);
        sum += r;
        tids[i] = slots[i].tid;
    }
    qsort(tids, NCREATE, sizeof tids[0], cmp_pid);
    int distinct = 1;
    for (int i = 0; i < NCREATE; i++) {
        if ((i > 0 && tids[i] == tids[i - 1]) || tids[i] == getpid() || tids[i] <= 0) distinct = 0;
    }
    CHECK(distinct, "thread ids are not distinct, positive and different from the pid");
    CHECK(gettid_() == getpid(), "main thread's tid %d is not the pid %d", gettid_(), getpid());
    printf("create: %d threads joined, sum %ld\n", NCREATE, sum);

    /* A few with default attributes (the libc's default stack). */
    struct create_slot more[4];
    pthread_t mt[4];
    for (int i = 0; i < 4; i++) {
        more[i].idx = 1000 + i;
        mt[i] = spawn(create_fn, &more[i]);
    }
    for (int i = 0; i < 4; i++) CHECK((intptr_t)join(mt[i]) == 3001 + 3 * i, "default-attribute thread %d", i);
}

/* ---- mutex: counting, trylock, error-checking and recursive kinds ---- */

static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;
static long mtx_counter;
#define MUTEX_ROUNDS 100000

static void *mutex_adder(void *arg) {
    (void)arg;
    for (int i = 0; i < MUTEX_ROUNDS; i++) {
        pthread_mutex_lock(&mtx);
        mtx_counter++;
        pthread_mutex_unlock(&mtx);
    }
    return NULL;
}

static void *mutex_try(void *arg) { return (void *)(intptr_t)pthread_mutex_trylock(arg); }
static void *mutex_unlock_foreign(void *arg) { return (void *)(intptr_t)pthread_mutex_unlock(arg); }

static void *mutex_blocker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mtx);
    mtx_counter += 1000;
    pthread_mutex_unlock(&mtx);
    return NULL;
}

static void t_mutex(void) {
    pthread_t t[4];
    mtx_counter = 0;
    for (int i = 0; i < 4; i++) t[i] = spawn(mutex_adder, NULL);
    for (int i = 0; i < 4; i++) join(t[i]);
    CHECK(mtx_counter == 4L * MUTEX_ROUNDS, "counter %ld", mtx_counter);

    /* Waiters that must sleep on the lock while it is held. */
    pthread_mutex_lock(&mtx);
    for (int i = 0; i < 4; i++) t[i] = spawn(mutex_blocker, NULL);
    sleep_ms(20);
    CHECK(mtx_counter == 4L * MUTEX_ROUNDS, "a waiter got in while the lock was held");
    pthread_mutex_unlock(&mtx);
    for (int i = 0; i < 4; i++) join(t[i]);
    CHECK(mtx_counter == 4L * MUTEX_ROUNDS + 4000, "counter %ld", mtx_counter);

    /* trylock from another thread while held. */
    pthread_mutex_lock(&mtx);
    CHECK((intptr_t)join(spawn(mutex_try, &mtx)) == EBUSY, "trylock of a held mutex");
    pthread_mutex_unlock(&mtx);

    pthread_mutexattr_t a;
    pthread_mutex_t m;
    pthread_mutexattr_init(&a);
    CHECK_RC(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK));
    CHECK_RC(pthread_mutex_init(&m, &a));
    CHECK_RC(pthread_mutex_lock(&m));
    CHECK(pthread_mutex_lock(&m) == EDEADLK, "error-checking relock");
    CHECK((intptr_t)join(spawn(mutex_unlock_foreign, &m)) == EPERM, "error-checking unlock by a non-owner");
    CHECK_RC(pthread_mutex_unlock(&m));
    CHECK(pthread_mutex_unlock(&m) == EPERM, "error-checking unlock of an unlocked mutex");
    pthread_mutex_destroy(&m);

    CHECK_RC(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE));
    CHECK_RC(pthread_mutex_init(&m, &a));
    for (int i = 0; i < 3; i++) CHECK_RC(pthread_mutex_lock(&m));
    CHECK((intptr_t)join(spawn(mutex_try, &m)) == EBUSY, "trylock of a held recursive mutex");
    for (int i = 0; i < 3; i++) CHECK_RC(pthread_mutex_unlock(&m));
    CHECK(pthread_mutex_unlock(&m) == EPERM, "recursive unlock once too often");
    CHECK((intptr_t)join(spawn(mutex_try, &m)) == 0, "trylock of a released recursive mutex");
    pthread_mutex_destroy(&m);
    pthread_mutexattr_destroy(&a);
}

/* ---- condvar: ping-pong and broadcast ---- */

static pthread_mutex_t cv_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cv_turn, cv_log_len, cv_waiting, cv_go, cv_woken;
static int cv_log[2000];
#define PINGPONG 1000

static void *pingpong(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int i = 0; i < PINGPONG; i++) {
        pthread_mutex_lock(&cv_mtx);
        while (cv_turn != me) pthread_cond_wait(&cv, &cv_mtx);
        cv_log[cv_log_len++] = me;
        cv_turn = 1 - me;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&cv_mtx);
    }
    return NULL;
}

static void *bcast_waiter(void *arg) {
    (void)arg;
    pthread_mutex_lock(&cv_mtx);
    cv_waiting++;
    pthread_cond_broadcast(&cv); /* tell main */
    while (!cv_go) pthread_cond_wait(&cv, &cv_mtx);
    cv_woken++;
    pthread_mutex_unlock(&cv_mtx);
    return NULL;
}

static void t_condvar(void) {
    cv_turn = 0;
    cv_log_len = 0;
    pthread_t a = spawn(pingpong, (void *)0), b = spawn(pingpong, (void *)1);
    join(a);
    join(b);
    int alternates = cv_log_len == 2 * PINGPONG;
    for (int i = 0; i < cv_log_len; i++)
        if (cv_log[i] != i % 2) alternates = 0;
    CHECK(alternates, "ping-pong did not alternate (%d steps)", cv_log_len);

    pthread_t t[8];
    cv_waiting = cv_go = cv_woken = 0;
    for (int i = 0; i < 8; i++) t[i] = spawn(bcast_waiter, NULL);
    pthread_mutex_lock(&cv_mtx);
    while (cv_waiting < 8) pthread_cond_wait(&cv, &cv_mtx);
    CHECK(cv_woken == 0, "woken before the broadcast");
    cv_go = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&cv_mtx);
    for (int i = 0; i < 8; i++) join(t[i]);
    CHECK(cv_woken == 8, "%d of 8 woken", cv_woken);
    CHECK_RC(pthread_cond_signal(&cv)); /* nobody waits: a no-op */
    printf("condvar: %d ping-pong steps, %d woken by broadcast\n", cv_log_len, cv_woken);
}

/* ---- rwlock: shared readers, exclusive writers ---- */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t rw_bar;
static long rw_a, rw_b;
static atomic_int rw_torn;

static void *rw_reader_holding(void *arg) {
    (void)arg;
    pthread_rwlock_rdlock(&rw);
    pthread_barrier_wait(&rw_bar); /* all readers inside at once */
    pthread_barrier_wait(&rw_bar); /* main has probed */
    pthread_rwlock_unlock(&rw);
    return NULL;
}

static void *rw_probe(void *arg) {
    (void)arg;
    int r = pthread_rwlock_tryrdlock(&rw), w = pthread_rwlock_trywrlock(&rw);
    return (void *)(intptr_t)(r * 1000 + w);
}

static void *rw_writer(void *arg) {
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        pthread_rwlock_wrlock(&rw);
        rw_a++;
        rw_b++;
        pthread_rwlock_unlock(&rw);
    }
    return NULL;
}

static void *rw_reader(void *arg) {
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        pthread_rwlock_rdlock(&rw);
        if (rw_a != rw_b) atomic_fetch_add(&rw_torn, 1);
        pthread_rwlock_unlock(&rw);
    }
    return NULL;
}

static void t_rwlock(void) {
    pthread_t t[5];
    pthread_barrier_init(&rw_bar, NULL, 5);
    for (int i = 0; i < 4; i++) t[i] = spawn(rw_reader_holding, NULL);
    pthread_barrier_wait(&rw_bar);
    CHECK(pthread_rwlock_trywrlock(&rw) == EBUSY, "trywrlock with four readers inside");
    int r = pthread_rwlock_tryrdlock(&rw);
    CHECK(r == 0, "tryrdlock with readers inside: %s", strerror(r));
    if (r == 0) pthread_rwlock_unlock(&rw);
    pthread_barrier_wait(&rw_bar);
    for (int i = 0; i < 4; i++) join(t[i]);
    pthread_barrier_destroy(&rw_bar);

    CHECK_RC(pthread_rwlock_wrlock(&rw));
    intptr_t probe = (intptr_t)join(spawn(rw_probe, NULL));
    CHECK(probe == EBUSY * 1000 + EBUSY, "tryrdlock/trywrlock against a writer: %ld", (long)probe);
    CHECK_RC(pthread_rwlock_unlock(&rw));

    rw_a = rw_b = 0;
    atomic_store(&rw_torn, 0);
    for (int i = 0; i < 2; i++) t[i] = spawn(rw_writer, NULL);
    for (int i = 2; i < 5; i++) t[i] = spawn(rw_reader, NULL);
    for (int i = 0; i < 5; i++) join(t[i]);
    CHECK(rw_a == 20000 && rw_b == 20000, "a %ld b %ld", rw_a, rw_b);
    CHECK(atomic_load(&rw_torn) == 0, "readers saw a half-done write %d times", atomic_load(&rw_torn));
}

/* ---- barrier: lock-step rounds ---- */

#define BAR_THREADS 8
#define BAR_ROUNDS 100
static pthread_barrier_t bar;
static int bar_slot[BAR_THREADS];
static atomic_int bar_serial, bar_bad;

static void *bar_fn(void *arg) {
    int me = (int)(intptr_t)arg;
    for (int round = 1; round <= BAR_ROUNDS; round++) {
        bar_slot[me] = round;
        int r = pthread_barrier_wait(&bar);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&bar_serial, 1);
        else if (r != 0) atomic_fetch_add(&bar_bad, 1);
        for (int i = 0; i < BAR_THREADS; i++)
            if (bar_slot[i] != round) atomic_fetch_add(&bar_bad, 1);
        r = pthread_barrier_wait(&bar);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD) atomic_fetch_add(&bar_serial, 1);
    }
    return NULL;
}

static void t_barrier(void) {
    pthread_t t[BAR_THREADS];
    CHECK_RC(pthread_barrier_init(&bar, NULL, BAR_THREADS));
    for (int i = 0; i < BAR_THREADS; i++) t[i] = spawn(bar_fn, (void *)(intptr_t)i);
    for (int i = 0; i < BAR_THREADS; i++) join(t[i]);
    CHECK(atomic_load(&bar_bad) == 0, "%d threads ran ahead of the barrier", atomic_load(&bar_bad));
    CHECK(atomic_load(&bar_serial) == 2 * BAR_ROUNDS, "%d serial threads for %d waits", atomic_load(&bar_serial),
          2 * BAR_ROUNDS);
    pthread_barrier_destroy(&bar);
    printf("barrier: %d threads, %d rounds\n", BAR_THREADS, BAR_ROUNDS);
}

/* ---- semaphore: counting, trywait, blocking wait, bounded concurrency ---- */

static sem_t sem, sem_slots;
static atomic_int sem_active, sem_max, sem_done;

static void *sem_poster(void *arg) {
    (void)arg;
    sleep_ms(20);
    sem_post(&sem);
    return NULL;
}

static void *sem_bounded(void *arg) {
    (void)arg;
    while (sem_wait(&sem_slots) != 0) {
    }
    int now = atomic_fetch_add(&sem_active, 1) + 1;
    int max = atomic_load(&sem_max);
    while (now > max && !atomic_compare_exchange_weak(&sem_max, &max, now)) {
    }
    sleep_ms(2);
    atomic_fetch_sub(&sem_active, 1);
    atomic_fetch_add(&sem_done, 1);
    sem_post(&sem_slots);
    return NULL;
}

static void t_semaphore(void) {
    int v = -1;
    CHECK(sem_init(&sem, 0, 0) == 0, "sem_init: %s", strerror(errno));
    errno = 0;
    CHECK(sem_trywait(&sem) == -1 && errno == EAGAIN, "trywait on zero: errno %d", errno);
    for (int i = 0; i < 3; i++) sem_post(&sem);
    sem_getvalue(&sem, &v);
    CHECK(v == 3, "value %d after three posts", v);
    for (int i = 0; i < 3; i++) CHECK(sem_trywait(&sem) == 0, "trywait %d", i);
    pthread_t p = spawn(sem_poster, NULL);
    CHECK(sem_wait(&sem) == 0, "sem_wait: %s", strerror(errno));
    join(p);
    sem_getvalue(&sem, &v);
    CHECK(v == 0, "value %d after the wait", v);
    sem_destroy(&sem);

    pthread_t t[10];
    sem_init(&sem_slots, 0, 3);
    for (int i = 0; i < 10; i++) t[i] = spawn(sem_bounded, NULL);
    for (int i = 0; i < 10; i++) join(t[i]);
    CHECK(atomic_load(&sem_max) <= 3 && atomic_load(&sem_max) >= 1, "%d threads inside a 3-slot section",
          atomic_load(&sem_max));
    CHECK(atomic_load(&sem_done) == 10, "%d of 10 done", atomic_load(&sem_done));
    sem_getvalue(&sem_slots, &v);
    CHECK(v == 3, "value %d at the end", v);
    sem_destroy(&sem_slots);
}

/* ---- tls: __thread variables and errno are per thread ---- */

#define TLS_THREADS 8
static __thread int tls_value = 7;
static __thread char tls_buf[64];
static __thread _Alignas(64) char tls_aligned[8];
static pthread_barrier_t tls_bar;
static void *tls_addr[TLS_THREADS + 1];

static void *tls_fn(void *arg) {
    int me = (int)(intptr_t)arg, bad = 0;
    if (tls_value != 7) bad |= 1;
    for (size_t i = 0; i < sizeof tls_buf; i++)
        if (tls_buf[i]) bad |= 2;
    if ((uintptr_t)tls_aligned % 64) bad |= 4;
    tls_value = 100 + me;
    memset(tls_buf, 'a' + me, sizeof tls_buf);
    errno = 1000 + me;
    tls_addr[me] = &tls_value;
    pthread_barrier_wait(&tls_bar); /* every thread has written its own copy */
    sched_yield();
    if (tls_value != 100 + me) bad |= 8;
    if (tls_buf[me] != 'a' + me) bad |= 16;
    if (errno != 1000 + me) bad |= 32;
    return (void *)(intptr_t)bad;
}

static void t_tls(void) {
    pthread_t t[TLS_THREADS];
    tls_value = 1;
    tls_addr[TLS_THREADS] = &tls_value;
    pthread_barrier_init(&tls_bar, NULL, TLS_THREADS);
    for (int i = 0; i < TLS_THREADS; i++) t[i] = spawn(tls_fn, (void *)(intptr_t)i);
    for (int i = 0; i < TLS_THREADS; i++) {
        intptr_t bad = (intptr_t)join(t[i]);
        CHECK(bad == 0, "thread %d: problems %#lx (1 init, 2 zero, 4 align, 8 value, 16 array, 32 errno)", i,
              (long)bad);
    }
    pthread_barrier_destroy(&tls_bar);
    CHECK(tls_value == 1, "main's copy changed to %d", tls_value);
    int distinct = 1;
    for (int i = 0; i <= TLS_THREADS; i++)
        for (int j = 0; j < i; j++)
            if (tls_addr[i] == tls_addr[j]) distinct = 0;
    CHECK(distinct, "two threads share a TLS address");
}

/* ---- tsd: pthread_key_create destructors ---- */

static pthread_key_t tsd_key, tsd_key_plain;
static atomic_int tsd_calls, tsd_sum;

static void tsd_dtor(void *v) {
    intptr_t x = (intptr_t)v;
    atomic_fetch_add(&tsd_calls, 1);
    atomic_fetch_add(&tsd_sum, (int)x);
    if (x == 1) pthread_setspecific(tsd_key, (void *)2); /* once more: a second round */
}

static void *tsd_fn(void *arg) {
    intptr_t v = (intptr_t)arg;
    int ok = pthread_getspecific(tsd_key) == NULL;
    if (v) pthread_setspecific(tsd_key, (void *)v);
    pthread_setspecific(tsd_key_plain, (void *)(v + 1)); /* no destructor */
    ok = ok && pthread_getspecific(tsd_key) == (void *)v;
    if (v % 2) pthread_exit((void *)(intptr_t)ok); /* destructors run on pthread_exit too */
    return (void *)(intptr_t)ok;
}

static void t_tsd(void) {
    CHECK_RC(pthread_key_create(&tsd_key, tsd_dtor));
    CHECK_RC(pthread_key_create(&tsd_key_plain, NULL));
    pthread_t t[11];
    for (int i = 0; i < 11; i++) t[i] = spawn(tsd_fn, (void *)(intptr_t)(i == 0 ? 1 : i == 10 ? 0 : i + 10));
    for (int i = 0; i < 11; i++) CHECK((intptr_t)join(t[i]) == 1, "thread %d saw the wrong value", i);
    /* Ten threads set a value (one re-sets it once), one set nothing. */
    CHECK(atomic_load(&tsd_calls) == 11, "%d destructor calls", atomic_load(&tsd_calls));
    int want = 1 + 2;
    for (int i = 1; i < 10; i++) want += i + 10;
    CHECK(atomic_load(&tsd_sum) == want, "destructors saw sum %d, want %d", atomic_load(&tsd_sum), want);
    CHECK(pthread_getspecific(tsd_key) == NULL, "main sees another thread's value");
    CHECK_RC(pthread_key_delete(tsd_key));
    CHECK_RC(pthread_key_delete(tsd_key_plain));
    printf("tsd: %d destructor calls\n", atomic_load(&tsd_calls));
}

/* ---- cancel: deferred cancellation at cancellation points ---- */

static int cancel_pipe[2];
static sem_t cancel_ready, cancel_go;
static atomic_int cleanup_ran, still_running;
static pthread_mutex_t cancel_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cancel_cv = PTHREAD_COND_INITIALIZER;
static int cancel_waiting;

static void cleanup(void *arg) { atomic_store(&cleanup_ran, (int)(intptr_t)arg); }
static void cleanup_unlock(void *arg) {
    atomic_store(&cleanup_ran, 3);
    pthread_mutex_unlock(arg);
}

static void *cancel_reader(void *arg) {
    (void)arg;
    char c;
    ssize_t n = 0;
    pthread_cleanup_push(cleanup, (void *)1);
    sem_post(&cancel_ready);
    n = read(cancel_pipe[0], &c, 1); /* blocks: nothing is ever written */
    pthread_cleanup_pop(0);
    return (void *)(intptr_t)(100 + n);
}

static void *cancel_disabled(void *arg) {
    (void)arg;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    pthread_cleanup_push(cleanup, (void *)2);
    sem_post(&cancel_ready);
    while (sem_wait(&cancel_go) != 0) {
    }
    atomic_store(&still_running, 1); /* the cancel request is pending */
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    pthread_testcancel();
    pthread_cleanup_pop(0);
    return NULL;
}

static void *cancel_condwait(void *arg) {
    (void)arg;
    pthread_mutex_lock(&cancel_mtx);
    pthread_cleanup_push(cleanup_unlock, &cancel_mtx);
    cancel_waiting = 1;
    for (;;) pthread_cond_wait(&cancel_cv, &cancel_mtx);
    pthread_cleanup_pop(0);
    return NULL;
}

static void *cancel_sleeper(void *arg) {
    (void)arg;
    pthread_cleanup_push(cleanup, (void *)4);
    sem_post(&cancel_ready);
    sleep(20);
    pthread_cleanup_pop(0);
    return NULL;
}

static void t_cancel(void) {
    CHECK(pipe(cancel_pipe) == 0, "pipe");
    sem_init(&cancel_ready, 0, 0);
    sem_init(&cancel_go, 0, 0);

    pthread_t t = spawn(cancel_reader, NULL);
    sem_wait(&cancel_ready);
    sleep_ms(20); /* most likely blocked in read by now; either way read is a cancellation point */
    CHECK_RC(pthread_cancel(t));
    void *r = join(t);
    CHECK(r == PTHREAD_CANCELED, "read: join returned %p", r);
    CHECK(atomic_load(&cleanup_ran) == 1, "read: cleanup handler %d", atomic_load(&cleanup_ran));

    atomic_store(&cleanup_ran, 0);
    t = spawn(cancel_disabled, NULL);
    sem_wait(&cancel_ready);
    CHECK_RC(pthread_cancel(t));
    sem_post(&cancel_go);
    r = join(t);
    CHECK(r == PTHREAD_CANCELED, "disabled then enabled: join returned %p", r);
    CHECK(atomic_load(&still_running) == 1, "cancelled while cancellation was disabled");
    CHECK(atomic_load(&cleanup_ran) == 2, "disabled: cleanup handler %d", atomic_load(&cleanup_ran));

    atomic_store(&cleanup_ran, 0);
    t = spawn(cancel_condwait, NULL);
    for (;;) { /* the waiter holds the mutex until it sleeps in pthread_cond_wait */
        pthread_mutex_lock(&cancel_mtx);
        int w = cancel_waiting;
        pthread_mutex_unlock(&cancel_mtx);
        if (w) break;
        sleep_ms(1);
    }
    CHECK_RC(pthread_cancel(t));
    r = join(t);
    CHECK(r == PTHREAD_CANCELED, "cond_wait: join returned %p", r);
    CHECK(atomic_load(&cleanup_ran) == 3, "cond_wait: cleanup handler %d", atomic_load(&cleanup_ran));
    int rc = pthread_mutex_trylock(&cancel_mtx);
    CHECK(rc == 0, "the cleanup handler did not release the mutex: %s", strerror(rc));
    if (rc == 0) pthread_mutex_unlock(&cancel_mtx);

    atomic_store(&cleanup_ran, 0);
    double t0 = mono_now();
    t = spawn(cancel_sleeper, NULL);
    sem_wait(&cancel_ready);
    CHECK_RC(pthread_cancel(t));
    r = join(t);
    CHECK(r == PTHREAD_CANCELED, "sleep: join returned %p", r);
    CHECK(atomic_load(&cleanup_ran) == 4, "sleep: cleanup handler %d", atomic_load(&cleanup_ran));
    CHECK(mono_now() - t0 < 10, "the sleeper was not woken by the cancel");

    close(cancel_pipe[0]);
    close(cancel_pipe[1]);
    sem_destroy(&cancel_ready);
    sem_destroy(&cancel_go);
}

/* ---- detach: detached threads report through a semaphore ---- */

static sem_t detach_done;
static atomic_long detach_sum;

static void *detached_fn(void *arg) {
    long x = (long)(intptr_t)arg, s = 0;
    for (long i = 0; i <= x * 100; i++) s += i;
    atomic_fetch_add(&detach_sum, s);
    sem_post(&detach_done);
    return NULL;
}

static void t_detach(void) {
    sem_init(&detach_done, 0, 0);
    pthread_attr_t a;
    pthread_attr_init(&a);
    CHECK_RC(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    long want = 0;
    for (int i = 0; i < 40; i++) {
        pthread_t t;
        if (i < 20) {
            CHECK_RC(pthread_create(&t, &a, detached_fn, (void *)(intptr_t)i));
        } else {
            t = spawn(detached_fn, (void *)(intptr_t)i);
            CHECK_RC(pthread_detach(t));
        }
        want += (long)(i * 100) * (i * 100 + 1) / 2;
    }
    pthread_attr_destroy(&a);
    for (int i = 0; i < 40; i++)
        while (sem_wait(&detach_done) != 0) {
        }
    CHECK(atomic_load(&detach_sum) == want, "sum %ld want %ld", atomic_load(&detach_sum), want);
    printf("detach: 40 detached threads finished\n");
}

/* ---- prodcons: bounded queue, several producers and consumers ---- */

#define QSIZE 16
#define PRODUCERS 4
#define CONSUMERS 3
#define ITEMS 25000
static long queue[QSIZE];
static int q_head, q_len;
static pthread_mutex_t q_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_not_full = PTHREAD_COND_INITIALIZER, q_not_empty = PTHREAD_COND_INITIALIZER;

struct consumed {
    long count, sum, last[PRODUCERS];
    int out_of_order;
};

static void q_put(long v) {
    pthread_mutex_lock(&q_mtx);
    while (q_len == QSIZE) pthread_cond_wait(&q_not_full, &q_mtx);
    queue[(q_head + q_len++) % QSIZE] = v;
    pthread_cond_signal(&q_not_empty);
    pthread_mutex_unlock(&q_mtx);
}

static long q_get(void) {
    pthread_mutex_lock(&q_mtx);
    while (q_len == 0) pthread_cond_wait(&q_not_empty, &q_mtx);
    long v = queue[q_head];
    q_head = (q_head + 1) % QSIZE;
    q_len--;
    pthread_cond_signal(&q_not_full);
    pthread_mutex_unlock(&q_mtx);
    return v;
}

static void *producer(void *arg) {
    long p = (long)(intptr_t)arg;
    for (long i = 0; i < ITEMS; i++) q_put(p * 1000000 + i);
    return NULL;
}

static void *consumer(void *arg) {
    struct consumed *c = arg;
    for (int p = 0; p < PRODUCERS; p++) c->last[p] = -1;
    for (;;) {
        long v = q_get();
        if (v < 0) return NULL;
        long p = v / 1000000, i = v % 1000000;
        if (i <= c->last[p]) c->out_of_order++; /* one FIFO queue: each producer's items arrive in order */
        c->last[p] = i;
        c->count++;
        c->sum += v;
    }
}

static void t_prodcons(void) {
    pthread_t p[PRODUCERS], c[CONSUMERS];
    static struct consumed got[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) c[i] = spawn(consumer, &got[i]);
    for (int i = 0; i < PRODUCERS; i++) p[i] = spawn(producer, (void *)(intptr_t)i);
    for (int i = 0; i < PRODUCERS; i++) join(p[i]);
    for (int i = 0; i < CONSUMERS; i++) q_put(-1);
    long count = 0, sum = 0;
    int disorder = 0;
    for (int i = 0; i < CONSUMERS; i++) {
        join(c[i]);
        count += got[i].count;
        sum += got[i].sum;
        disorder += got[i].out_of_order;
    }
    long want = 0;
    for (long pr = 0; pr < PRODUCERS; pr++)
        for (long i = 0; i < ITEMS; i++) want += pr * 1000000 + i;
    CHECK(count == (long)PRODUCERS * ITEMS, "%ld items consumed", count);
    CHECK(sum == want, "checksum %ld want %ld", sum, want);
    CHECK(disorder == 0, "%d items out of order", disorder);
    printf("prodcons: %ld items, checksum %ld\n", count, sum);
}

/* ---- atomic: lock-free counters and a spinlock ---- */

static atomic_long at_counter;
static atomic_flag at_lock = ATOMIC_FLAG_INIT;
static long at_plain;

static void *atomic_fn(void *arg) {
    (void)arg;
    for (int i = 0; i < 200000; i++) {
        atomic_fetch_add(&at_counter, 1);
        while (atomic_flag_test_and_set_explicit(&at_lock, memory_order_acquire)) sched_yield();
        at_plain++;
        atomic_flag_clear_explicit(&at_lock, memory_order_release);
    }
    return NULL;
}

static void t_atomic(void) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++) t[i] = spawn(atomic_fn, NULL);
    for (int i = 0; i < 4; i++) join(t[i]);
    CHECK(atomic_load(&at_counter) == 800000, "atomic counter %ld", atomic_load(&at_counter));
    CHECK(at_plain == 800000, "spinlocked counter %ld", at_plain);
}

/* ---- timed: timed waits time out with ETIMEDOUT after their timeout ---- */

#define TIMEOUT_MS 100
static pthread_mutex_t timed_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timed_cv = PTHREAD_COND_INITIALIZER;
static sem_t timed_held, timed_release;
static int timed_flag;

/* Elapsed time is checked loosely: at least the timeout (CLOCK_REALTIME
 * deadlines get 5 ms for clock slewing), less than the timeout + 2 s. */
static void check_elapsed(const char *what, double t0, long ms, double slack) {
    double e = mono_now() - t0;
    CHECK(e >= ms / 1000.0 - slack && e < ms / 1000.0 + 2, "%s: waited %.3f s for a %ld ms timeout", what, e, ms);
}

static void *timed_holder(void *arg) {
    (void)arg;
    pthread_mutex_lock(&timed_mtx);
    sem_post(&timed_held);
    while (sem_wait(&timed_release) != 0) {
    }
    sleep_ms(20);
    pthread_mutex_unlock(&timed_mtx);
    return NULL;
}

static void *timed_signaller(void *arg) {
    (void)arg;
    sleep_ms(20);
    pthread_mutex_lock(&timed_mtx);
    timed_flag = 1;
    pthread_cond_signal(&timed_cv);
    pthread_mutex_unlock(&timed_mtx);
    return NULL;
}

static void t_timed(void) {
    int rc;
    double t0;
    struct timespec dl;

    pthread_mutex_lock(&timed_mtx);
    t0 = mono_now();
    dl = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    while ((rc = pthread_cond_timedwait(&timed_cv, &timed_mtx, &dl)) == 0) {
    }
    pthread_mutex_unlock(&timed_mtx);
    CHECK(rc == ETIMEDOUT, "cond_timedwait (CLOCK_REALTIME): %s", strerror(rc));
    check_elapsed("cond_timedwait (CLOCK_REALTIME)", t0, TIMEOUT_MS, 0.005);

    pthread_condattr_t ca;
    pthread_cond_t mono_cv;
    pthread_condattr_init(&ca);
    CHECK_RC(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
    CHECK_RC(pthread_cond_init(&mono_cv, &ca));
    pthread_mutex_lock(&timed_mtx);
    t0 = mono_now();
    dl = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
    while ((rc = pthread_cond_timedwait(&mono_cv, &timed_mtx, &dl)) == 0) {
    }
    pthread_mutex_unlock(&timed_mtx);
    CHECK(rc == ETIMEDOUT, "cond_timedwait (CLOCK_MONOTONIC): %s", strerror(rc));
    check_elapsed("cond_timedwait (CLOCK_MONOTONIC)", t0, TIMEOUT_MS, 0);
    pthread_cond_destroy(&mono_cv);
    pthread_condattr_destroy(&ca);

    /* A deadline already past times out at once. */
    pthread_mutex_lock(&timed_mtx);
    dl = deadline(CLOCK_REALTIME, 0);
    dl.tv_sec -= 1;
    rc = pthread_cond_timedwait(&timed_cv, &timed_mtx, &dl);
    pthread_mutex_unlock(&timed_mtx);
    CHECK(rc == ETIMEDOUT, "cond_timedwait with a past deadline: %s", strerror(rc));

    /* Signalled before the deadline: returns 0. */
    timed_flag = 0;
    pthread_t s = spawn(timed_signaller, NULL);
    pthread_mutex_lock(&timed_mtx);
    t0 = mono_now();
    dl = deadline(CLOCK_REALTIME, 2000);
    rc = 0;
    while (!timed_flag && rc == 0) rc = pthread_cond_timedwait(&timed_cv, &timed_mtx, &dl);
    pthread_mutex_unlock(&timed_mtx);
    join(s);
    CHECK(rc == 0 && timed_flag, "signalled cond_timedwait: %s", strerror(rc));
    CHECK(mono_now() - t0 < 1.9, "signalled cond_timedwait waited until its deadline");

    sem_t sm;
    sem_init(&sm, 0, 0);
    t0 = mono_now();
    dl = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    while ((rc = sem_timedwait(&sm, &dl)) != 0 && errno == EINTR) {
    }
    CHECK(rc == -1 && errno == ETIMEDOUT, "sem_timedwait: rc %d %s", rc, strerror(errno));
    check_elapsed("sem_timedwait", t0, TIMEOUT_MS, 0.005);
    dl.tv_nsec = 1000000000L;
    errno = 0;
    rc = sem_timedwait(&sm, &dl);
    CHECK(rc == -1 && errno == EINVAL, "sem_timedwait with tv_nsec 1e9: rc %d %s", rc, strerror(errno));
    sem_destroy(&sm);

    sem_init(&timed_held, 0, 0);
    sem_init(&timed_release, 0, 0);
    s = spawn(timed_holder, NULL);
    sem_wait(&timed_held);
    t0 = mono_now();
    dl = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    rc = pthread_mutex_timedlock(&timed_mtx, &dl);
    CHECK(rc == ETIMEDOUT, "mutex_timedlock: %s", strerror(rc));
    check_elapsed("mutex_timedlock", t0, TIMEOUT_MS, 0.005);
    sem_post(&timed_release);
    dl = deadline(CLOCK_REALTIME, 2000);
    rc = pthread_mutex_timedlock(&timed_mtx, &dl);
    CHECK(rc == 0, "mutex_timedlock of a mutex released in time: %s", strerror(rc));
    if (rc == 0) pthread_mutex_unlock(&timed_mtx);
    join(s);
    sem_destroy(&timed_held);
    sem_destroy(&timed_release);
}

/* ---- kill: pthread_kill reaches the chosen thread ---- */

static pthread_t kill_target;
static atomic_int kill_hits, kill_in_target;
static sem_t kill_ready, bystander_go;
static atomic_int bystander_inherited;

static void kill_handler(int sig) {
    (void)sig;
    if (pthread_equal(pthread_self(), kill_target)) atomic_fetch_add(&kill_in_target, 1);
    atomic_fetch_add(&kill_hits, 1);
}

static void *kill_victim(void *arg) {
    (void)arg;
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGUSR1);
    sem_post(&kill_ready);
    while (atomic_load(&kill_hits) == 0) sigsuspend(&wait_mask);
    return NULL;
}

static void *bystander(void *arg) {
    (void)arg;
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    atomic_store(&bystander_inherited, sigismember(&cur, SIGUSR2) && !sigismember(&cur, SIGUSR1));
    while (sem_wait(&bystander_go) != 0) {
    }
    return NULL;
}

static void *kill_main_thread(void *arg) {
    sem_wait(&kill_ready);
    return (void *)(intptr_t)pthread_kill(*(pthread_t *)arg, SIGUSR1);
}

static void t_kill(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kill_handler;
    sigaction(SIGUSR1, &sa, NULL);
    sem_init(&kill_ready, 0, 0);
    sem_init(&bystander_go, 0, 0);

    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, &old);
    pthread_t by = spawn(bystander, NULL); /* inherits the blocked SIGUSR2, SIGUSR1 open */
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    pthread_t victim = spawn(kill_victim, NULL);
    kill_target = victim;
    sem_wait(&kill_ready);
    CHECK(pthread_kill(victim, 0) == 0, "pthread_kill(live thread, 0)");
    CHECK_RC(pthread_kill(victim, SIGUSR1));
    join(victim);
    CHECK(atomic_load(&kill_hits) == 1 && atomic_load(&kill_in_target) == 1,
          "to a thread: %d handler runs, %d in the target", atomic_load(&kill_hits), atomic_load(&kill_in_target));
    sem_post(&bystander_go);
    join(by);
    CHECK(atomic_load(&bystander_inherited), "a new thread did not inherit its creator's signal mask");

    /* From a thread to the main thread, which waits in sigsuspend. */
    atomic_store(&kill_hits, 0);
    atomic_store(&kill_in_target, 0);
    pthread_t self = pthread_self();
    kill_target = self;
    sigset_t usr1, wait_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, &wait_mask);
    sigdelset(&wait_mask, SIGUSR1);
    pthread_t k = spawn(kill_main_thread, &self);
    sem_post(&kill_ready);
    while (atomic_load(&kill_hits) == 0) sigsuspend(&wait_mask);
    CHECK((intptr_t)join(k) == 0, "pthread_kill(main thread)");
    CHECK(atomic_load(&kill_in_target) == 1, "the main thread's handler ran elsewhere");
    pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
    signal(SIGUSR1, SIG_DFL);
    sem_destroy(&kill_ready);
    sem_destroy(&bystander_go);
}

/* ---- pi: priority-inheritance mutexes work, or are refused cleanly ---- */

static pthread_mutex_t *pi_m;
static long pi_counter;

static void *pi_fn(void *arg) {
    (void)arg;
    for (int i = 0; i < 10000; i++) {
        if (pthread_mutex_lock(pi_m) != 0) return (void *)1;
        pi_counter++;
        if (pthread_mutex_unlock(pi_m) != 0) return (void *)1;
    }
    return NULL;
}

static void *pi_try(void *arg) { return (void *)(intptr_t)pthread_mutex_trylock(arg); }

/* Two threads share `m`, first while main holds it (so they must sleep on it). */
static void exercise_mutex(pthread_mutex_t *m) {
    pi_m = m;
    pi_counter = 0;
    CHECK_RC(pthread_mutex_lock(m));
    CHECK((intptr_t)join(spawn(pi_try, m)) == EBUSY, "trylock of a held mutex");
    pthread_t a = spawn(pi_fn, NULL), b = spawn(pi_fn, NULL);
    sleep_ms(20);
    CHECK_RC(pthread_mutex_unlock(m));
    CHECK(join(a) == NULL && join(b) == NULL, "lock or unlock failed in a thread");
    CHECK(pi_counter == 20000, "counter %ld", pi_counter);
}

/* ---- waitv: futex_waitv waits on several words and says which woke ---- */
#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
struct waitv_entry { /* linux/futex.h's struct futex_waitv */
    uint64_t val, uaddr;
    uint32_t flags, reserved;
};
#define WAITV_U32 2
#define WAITV_PRIVATE 128
#define WAIT_PRIVATE 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */
#define WAKE_PRIVATE 129 /* FUTEX_WAKE | FUTEX_PRIVATE_FLAG */
static _Alignas(8) atomic_uint waitv_words[3];
static atomic_uint waitv_plain;

static long waitv(struct waitv_entry *w, unsigned n, unsigned flags, struct timespec *ts, int clock) {
    long r = syscall(SYS_futex_waitv, w, n, flags, ts, clock);
    return r < 0 ? -errno : r;
}

static void waitv_fill(struct waitv_entry *w) {
    for (int i = 0; i < 3; i++) w[i] = (struct waitv_entry){0, (uintptr_t)&waitv_words[i], WAITV_U32 | WAITV_PRIVATE, 0};
}

static void *waitv_waker(void *arg) {
    int i = (int)(intptr_t)arg;
    sleep_ms(30);
    atomic_store(&waitv_words[i], 1);
    syscall(SYS_futex, &waitv_words[i], WAKE_PRIVATE, 1, NULL, NULL, 0);
    return NULL;
}

static void *waitv_plain_waiter(void *arg) {
    (void)arg;
    long r = syscall(SYS_futex, &waitv_plain, WAIT_PRIVATE, 0, NULL, NULL, 0);
    return (void *)(intptr_t)(r == 0 ? 0 : -errno);
}

static void t_waitv(void) {
    struct waitv_entry w[3];
    struct timespec ts;
    waitv_fill(w);
    CHECK(waitv(w, 3, 1, NULL, CLOCK_MONOTONIC) == -EINVAL, "flags");
    CHECK(waitv(w, 0, 0, NULL, CLOCK_MONOTONIC) == -EINVAL, "no futexes");
    CHECK(waitv(w, 129, 0, NULL, CLOCK_MONOTONIC) == -EINVAL, "129 futexes");
    CHECK(waitv(NULL, 1, 0, NULL, CLOCK_MONOTONIC) == -EINVAL, "NULL");
    w[1].flags = WAITV_PRIVATE;
    CHECK(waitv(w, 3, 0, NULL, CLOCK_MONOTONIC) == -EINVAL, "no size flag");
    waitv_fill(w);
    w[2].reserved = 1;
    CHECK(waitv(w, 3, 0, NULL, CLOCK_MONOTONIC) == -EINVAL, "reserved field");
    waitv_fill(w);
    w[0].uaddr += 1;
    CHECK(waitv(w, 3, 0, NULL, CLOCK_MONOTONIC) == -EINVAL, "misaligned word");
    waitv_fill(w);
    w[1].val = 7;
    CHECK(waitv(w, 3, 0, NULL, CLOCK_MONOTONIC) == -EAGAIN, "a word with another value");
    waitv_fill(w);
    ts = deadline(CLOCK_MONOTONIC, 10);
    CHECK(waitv(w, 3, 0, &ts, CLOCK_PROCESS_CPUTIME_ID) == -EINVAL, "clock");
    ts.tv_nsec = 1000000000L;
    CHECK(waitv(w, 3, 0, &ts, CLOCK_MONOTONIC) == -EINVAL, "tv_nsec");

    /* Absolute timeouts on both clocks. */
    double t0 = mono_now();
    ts = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
    CHECK(waitv(w, 3, 0, &ts, CLOCK_MONOTONIC) == -ETIMEDOUT, "monotonic timeout");
    check_elapsed("futex_waitv (CLOCK_MONOTONIC)", t0, TIMEOUT_MS, 0);
    t0 = mono_now();
    ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    CHECK(waitv(w, 3, 0, &ts, CLOCK_REALTIME) == -ETIMEDOUT, "realtime timeout");
    check_elapsed("futex_waitv (CLOCK_REALTIME)", t0, TIMEOUT_MS, 0.005);
    ts = deadline(CLOCK_MONOTONIC, 0);
    ts.tv_sec -= 1;
    CHECK(waitv(w, 3, 0, &ts, CLOCK_MONOTONIC) == -ETIMEDOUT, "a past deadline");

    /* A wake-up on any of the words ends the wait with its index. */
    for (int i = 2; i >= 0; i -= 2) {
        for (int j = 0; j < 3; j++) atomic_store(&waitv_words[j], 0);
        pthread_t t = spawn(waitv_waker, (void *)(intptr_t)i);
        ts = deadline(CLOCK_MONOTONIC, 5000);
        long r = waitv(w, 3, 0, &ts, CLOCK_MONOTONIC);
        CHECK(r == i, "woken on word %d: returned %ld", i, r);
        join(t);
    }

    /* Once the wait ended, its other words take no wake-up from a plain waiter. */
    for (int j = 0; j < 3; j++) atomic_store(&waitv_words[j], 0);
    atomic_store(&waitv_plain, 0);
    struct waitv_entry two[2] = {{0, (uintptr_t)&waitv_plain, WAITV_U32, 0}, w[1]};
    pthread_t plain = spawn(waitv_plain_waiter, NULL);
    pthread_t waker = spawn(waitv_waker, (void *)(intptr_t)1);
    ts = deadline(CLOCK_MONOTONIC, 5000);
    long r = waitv(two, 2, 0, &ts, CLOCK_MONOTONIC);
    CHECK(r == 1, "woken on the second word: returned %ld", r);
    join(waker);
    long woke = 0;
    for (int tries = 0; tries < 500 && woke == 0; tries++) {
        woke = syscall(SYS_futex, &waitv_plain, WAKE_PRIVATE, 1, NULL, NULL, 0);
        if (woke == 0) sleep_ms(2); /* the plain waiter is not queued yet */
    }
    CHECK(woke == 1, "the plain waiter was not woken (%ld)", woke);
    CHECK(join(plain) == NULL, "the plain waiter's wait failed");
}

static void t_pi(void) {
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    pthread_mutexattr_init(&a);
    int rc = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    if (rc == 0) rc = pthread_mutex_init(&m, &a);
    pthread_mutexattr_destroy(&a);
    if (rc == ENOTSUP || rc == ENOSYS) {
        /* No PI futexes: the libc refused; a normal mutex must still work. */
        pthread_mutex_init(&m, NULL);
        exercise_mutex(&m);
        pthread_mutex_destroy(&m);
        return;
    }
    CHECK(rc == 0, "PI mutex init: %s", strerror(rc));
    if (rc != 0) return;
    rc = pthread_mutex_lock(&m);
    if (rc == ENOSYS || rc == ENOTSUP) {
        /* The libc let it be created but the kernel has no PI futexes. */
        pthread_mutex_destroy(&m);
        pthread_mutex_init(&m, NULL);
        exercise_mutex(&m);
        pthread_mutex_destroy(&m);
        return;
    }
    CHECK(rc == 0, "PI mutex lock: %s", strerror(rc));
    if (rc != 0) return;
    CHECK_RC(pthread_mutex_unlock(&m));
    exercise_mutex(&m);
    CHECK_RC(pthread_mutex_destroy(&m));
}

/* ---- cpus: the CPU count, compared with $HX_EXPECT_CPUS ---- */

static void t_cpus(void) {
    const char *want = getenv("HX_EXPECT_CPUS");
    if (!want) {
        printf("cpus: not checked (HX_EXPECT_CPUS unset)\n");
        return;
    }
    long n = atol(want);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online == n) printf("cpus: match\n");
    else printf("cpus: %ld\n", online);

    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) printf("affinity: error %s\n", strerror(errno));
    else if (CPU_COUNT(&set) == n) printf("affinity: match\n");
    else printf("affinity: %d\n", CPU_COUNT(&set));

    char buf[64] = "", expect[64];
    int fd = open("/sys/devices/system/cpu/online", O_RDONLY);
    ssize_t len = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (len < 0) {
        printf("online: unreadable\n");
        return;
    }
    buf[len] = 0;
    buf[strcspn(buf, "\n")] = 0;
    if (n == 1) snprintf(expect, sizeof expect, "0");
    else snprintf(expect, sizeof expect, "0-%ld", n - 1);
    if (!strcmp(buf, expect)) printf("online: match\n");
    else printf("online: %s\n", buf);
}

/* ---- pin: sched_setaffinity moves a thread to the CPU it names ---- */

static int pinned_cpu;
static void *pin_check(void *arg) {
    (void)arg;
    /* A new thread inherits its creator's mask. */
    int ok = sched_getcpu() == pinned_cpu;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    ok = ok && sched_setaffinity(0, sizeof set, &set) == 0 && sched_getcpu() == 0;
    return (void *)(long)ok;
}

static void t_pin(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int ok = 1;
    for (int round = 0; round < 20; round++) {
        for (int cpu = (int)online - 1; cpu >= 0; cpu--) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            CHECK(sched_setaffinity(0, sizeof set, &set) == 0, "sched_setaffinity(%d): %s", cpu, strerror(errno));
            unsigned got = 99;
            syscall(SYS_getcpu, &got, NULL, NULL);
            if ((int)got != cpu || sched_getcpu() != cpu) ok = 0;
        }
    }
    pinned_cpu = (int)online - 1;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pinned_cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
    pthread_t t;
    void *res;
    pthread_create(&t, NULL, pin_check, NULL);
    pthread_join(t, &res);
    ok = ok && res == (void *)1L && sched_getcpu() == pinned_cpu;
    /* A mask of no online CPU is refused. */
    CPU_ZERO(&set);
    CPU_SET(online, &set);
    errno = 0;
    ok = ok && sched_setaffinity(0, sizeof set, &set) == -1 && errno == EINVAL;
    CHECK(ok, "a thread ran on a CPU its mask excludes, or an offline CPU was taken");
}

/* ---- sub-tests that end the process ---- */

static int exit_pipe[2];

/* munmap on one thread while another reads the page: the reader faults at
 * once, as on Linux (no other vCPU may keep using a stale TLB entry). */
static volatile char *unmapped_page;
static atomic_int reader_started, reader_faulted;
static sigjmp_buf reader_jump;

static void reader_segv(int sig) {
    (void)sig;
    atomic_store(&reader_faulted, 1);
    siglongjmp(reader_jump, 1);
}

static void *page_reader(void *arg) {
    (void)arg;
    if (sigsetjmp(reader_jump, 1) == 0) {
        for (long sum = 0;; sum += unmapped_page[0]) atomic_store(&reader_started, 1);
    }
    return NULL;
}

static void t_munmap(void) {
    unmapped_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(unmapped_page != MAP_FAILED, "mmap");
    unmapped_page[0] = 1;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = reader_segv;
    sigaction(SIGSEGV, &sa, &old);
    pthread_t t;
    CHECK_RC(pthread_create(&t, NULL, page_reader, NULL));
    while (!atomic_load(&reader_started)) sched_yield();
    sleep_ms(20);
    CHECK(munmap((void *)unmapped_page, 4096) == 0, "munmap");
    CHECK_RC(pthread_join(t, NULL));
    CHECK(atomic_load(&reader_faulted), "the reader never faulted after munmap");
    sigaction(SIGSEGV, &old, NULL);
}

static void at_exit_handler(void) { printf("exit: atexit handler ran\n"); }

static void *exit_fn(void *arg) {
    (void)arg;
    sleep_ms(20);
    printf("exit: a thread calls exit(3)\n");
    exit(3);
}

/* A thread calls exit while the main thread is blocked: the whole process
 * ends with its status and the atexit handlers run. */
static void t_exit(void) {
    char c;
    atexit(at_exit_handler);
    if (pipe(exit_pipe) != 0) return;
    spawn(exit_fn, NULL);
    ssize_t n = read(exit_pipe[0], &c, 1);
    printf("exit: read returned %zd\n", n);
}

static sem_t main_gone;

static void *outliving_fn(void *arg) {
    (void)arg;
    while (sem_wait(&main_gone) != 0) {
    }
    sleep_ms(50);
    printf("main-exit: the last thread finishes\n");
    return NULL; /* the last thread to end ends the process, with status 0 */
}

/* The main thread calls pthread_exit: the process lives on until its last thread ends. */
static void t_main_exit(void) {
    sem_init(&main_gone, 0, 0);
    spawn(outliving_fn, NULL);
    printf("main-exit: the main thread leaves\n");
    fflush(stdout);
    sem_post(&main_gone);
    pthread_exit(NULL);
}

static volatile uintptr_t null_address;

static void *fault_fn(void *arg) {
    (void)arg;
    printf("fault: a thread writes through NULL\n");
    fflush(stdout);
    *(volatile int *)null_address = 1;
    printf("fault: survived\n");
    return NULL;
}

/* A fault in a second thread with no handler kills the whole process by SIGSEGV. */
static void t_fault(void) { join(spawn(fault_fn, NULL)); }

/* A second thread that starts long after the process (so its vCPU is
 * made late) reads the same monotonic clock as the first. */
static _Atomic double late_first, late_last;

static void *late_clock_fn(void *arg) {
    (void)arg;
    double first = mono_now(), last = first;
    while (last - first < 0.05) last = mono_now();
    late_first = first;
    late_last = last;
    return NULL;
}

static void t_late_clock(void) {
    struct timespec pause = {1, 500000000};
    nanosleep(&pause, NULL);
    double start = mono_now();
    pthread_t t = spawn(late_clock_fn, NULL);
    /* Both spin at once: the thread runs on another vCPU where there is one. */
    double end = start;
    while (end - start < 0.1) end = mono_now();
    join(t);
    double later = mono_now();
    CHECK(late_first >= start - 0.001 && late_first <= later, "the thread's clock read %.6f, outside [%.6f, %.6f]",
          (double)late_first, start, later);
    CHECK(late_last >= late_first && late_last <= later, "the thread's clock ended at %.6f, after %.6f",
          (double)late_last, later);
}

/* ---- driver ---- */

static const struct {
    const char *name;
    void (*run)(void);
    int by_default;
} subtests[] = {
    {"create", t_create, 1},   {"mutex", t_mutex, 1},         {"condvar", t_condvar, 1}, {"rwlock", t_rwlock, 1},
    {"barrier", t_barrier, 1}, {"semaphore", t_semaphore, 1}, {"tls", t_tls, 1},         {"tsd", t_tsd, 1},
    {"cancel", t_cancel, 1},   {"detach", t_detach, 1},       {"prodcons", t_prodcons, 1}, {"atomic", t_atomic, 1},
    {"timed", t_timed, 1},     {"kill", t_kill, 1},           {"pi", t_pi, 1},           {"cpus", t_cpus, 1},
    {"munmap", t_munmap, 1},   {"waitv", t_waitv, 1},         {"pin", t_pin, 1},
    {"exit", t_exit, 0},       {"main-exit", t_main_exit, 0}, {"fault", t_fault, 0},
    {"late-clock", t_late_clock, 0},
};

int main(int argc, char **argv) {
    const char *only = argc > 1 ? argv[1] : NULL;
    int ran = 0, failed = 0;
    for (size_t i = 0; i < sizeof subtests / sizeof subtests[0]; i++) {
        if (only ? strcmp(only, subtests[i].name) != 0 : !subtests[i].by_default) continue;
        current = subtests[i].name;
        atomic_store(&failures, 0);
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
        fprintf(stderr, "threads: unknown sub-test %s\n", only);
        return 100;
    }
    return failed;
}
