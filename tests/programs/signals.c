/* Signals as a program sees them through its libc (glibc or musl): actions
 * and their flags, masks, pending and queued signals, waiting for signals,
 * signals to threads, timers, interrupted and restarted system calls,
 * hardware exceptions turned into signals, and death by a signal.
 *
 *   signals [SUB-TEST [ARG]]
 *
 * With no argument every default sub-test runs in turn, each starting with
 * default actions and an empty mask; with one, only that one (also the
 * sub-tests that end the process: die SIGNUM, die-thread SIGNUM, die-pipe,
 * die-abort). Each sub-test prints deterministic lines ending with "NAME: ok"
 * or "NAME: FAILED"; failed checks print "NAME: FAIL ..." lines. The exit
 * status is the number of failed sub-tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <limits.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>
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

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }
static int tgkill_(pid_t tgid, pid_t tid, int sig) { return (int)syscall(SYS_tgkill, tgid, tid, sig); }
static int tkill_(pid_t tid, int sig) { return (int)syscall(SYS_tkill, tid, sig); }

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

/* Elapsed time is checked loosely: at least `ms`, less than `ms` + 2 s. */
static void check_elapsed(const char *what, double t0, long ms) {
    double e = mono_now() - t0;
    CHECK(e >= ms / 1000.0 && e < ms / 1000.0 + 2, "%s: %.3f s for %ld ms", what, e, ms);
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

static void set_action(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): %s", sig, strerror(errno));
}

static void set_info_action(int sig, void (*action)(int, siginfo_t *, void *), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = action;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(sig, &sa, NULL) == 0, "sigaction(%d): %s", sig, strerror(errno));
}

static sigset_t only(int sig) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    return s;
}

static void block(int sig) {
    sigset_t s = only(sig);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void unblock(int sig) {
    sigset_t s = only(sig);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

static int is_blocked(int sig) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

static int is_pending(int sig) {
    sigset_t p;
    sigpending(&p);
    return sigismember(&p, sig);
}

/* The current mask without `sig`: what sigsuspend waits with. */
static sigset_t mask_without(int sig) {
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    sigdelset(&cur, sig);
    return cur;
}

static void disarm_itimer(void) {
    struct itimerval zero;
    memset(&zero, 0, sizeof zero);
    setitimer(ITIMER_REAL, &zero, NULL);
}

/* Every sub-test starts from default actions, an empty mask, no timers. */
static void reset(void) {
    alarm(0);
    disarm_itimer();
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP || (sig > SIGSYS && sig < SIGRTMIN)) continue;
        signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
}

/* What a handler saw, recorded for the sub-test to check. */
static volatile sig_atomic_t hits, depth, max_depth;
static volatile int seen_signo, seen_code, seen_errno_ok;
static volatile pid_t seen_pid, seen_tid;
static volatile uid_t seen_uid;
static volatile int seen_value;
static void *volatile seen_addr;
static volatile int order[8];
static volatile sig_atomic_t order_len;

static void count_handler(int sig) {
    (void)sig;
    hits++;
    seen_tid = gettid_();
}

static void info_handler(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    hits++;
    seen_signo = si->si_signo;
    seen_code = si->si_code;
    seen_pid = si->si_pid;
    seen_uid = si->si_uid;
    seen_value = si->si_value.sival_int;
    seen_tid = gettid_();
    (void)sig;
}

static void clear_seen(void) {
    hits = depth = max_depth = 0;
    seen_signo = seen_code = seen_value = 0;
    seen_pid = seen_tid = 0;
    seen_uid = (uid_t)-1;
    seen_addr = NULL;
    order_len = 0;
}

/* ---- sigaction: what may be caught, old actions, unblockable signals ---- */

static void t_sigaction(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_handler;
    errno = 0;
    CHECK(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL, "SIGKILL caught: errno %d", errno);
    errno = 0;
    CHECK(sigaction(SIGSTOP, &sa, NULL) == -1 && errno == EINVAL, "SIGSTOP caught: errno %d", errno);
    errno = 0;
    CHECK(sigaction(0, &sa, NULL) == -1 && errno == EINVAL, "signal 0: errno %d", errno);
    errno = 0;
    CHECK(sigaction(NSIG, &sa, NULL) == -1 && errno == EINVAL, "signal NSIG: errno %d", errno);

    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "install");
    memset(&old, 0, sizeof old);
    CHECK(sigaction(SIGUSR1, NULL, &old) == 0, "query");
    CHECK(old.sa_handler == count_handler, "old handler differs");
    CHECK(old.sa_flags & SA_RESTART, "old flags %#x lack SA_RESTART", (unsigned)old.sa_flags);
    CHECK(sigismember(&old.sa_mask, SIGUSR2) && !sigismember(&old.sa_mask, SIGTERM), "old mask differs");
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0 && old.sa_handler == count_handler, "swap returns the old action");
    CHECK(sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == SIG_IGN, "SIG_IGN installed");

    sigset_t all, cur;
    sigfillset(&all);
    CHECK(sigprocmask(SIG_BLOCK, &all, NULL) == 0, "block everything");
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK(!sigismember(&cur, SIGKILL) && !sigismember(&cur, SIGSTOP), "SIGKILL or SIGSTOP blocked");
    CHECK(sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGRTMAX), "SIGUSR1 or SIGRTMAX not blocked");
    errno = 0;
    CHECK(sigprocmask(12345, &all, NULL) == -1 && errno == EINVAL, "bad how: errno %d", errno);
    sigemptyset(&all);
    CHECK(sigprocmask(SIG_SETMASK, &all, NULL) == 0, "unblock everything");
}

/* ---- siginfo: SA_SIGINFO fields for kill, raise, sigqueue, tgkill ---- */

static volatile int uc_mask_ok;
static void uc_mask_handler(int sig, siginfo_t *si, void *ctx) {
    ucontext_t *uc = ctx;
    info_handler(sig, si, ctx);
    /* uc_sigmask is the mask to restore: SIGUSR2 as blocked before, SIGUSR1 not. */
    uc_mask_ok = sigismember(&uc->uc_sigmask, SIGUSR2) && !sigismember(&uc->uc_sigmask, SIGUSR1) &&
                 is_blocked(SIGUSR1);
}

static void t_siginfo(void) {
    set_info_action(SIGUSR1, info_handler, 0);
    clear_seen();
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill");
    CHECK(hits == 1, "kill: %d handler runs before kill returned", (int)hits);
    CHECK(seen_signo == SIGUSR1 && seen_code == SI_USER, "kill: signo %d code %d", seen_signo, seen_code);
    CHECK(seen_pid == getpid() && seen_uid == getuid(), "kill: si_pid %s, si_uid %s",
          seen_pid == getpid() ? "ok" : "wrong", seen_uid == getuid() ? "ok" : "wrong");

    clear_seen();
    raise(SIGUSR1);
    CHECK(hits == 1 && seen_code == SI_TKILL && seen_pid == getpid(), "raise: %d runs, code %d", (int)hits,
          seen_code);

    clear_seen();
    union sigval v = {.sival_int = 42};
    CHECK(sigqueue(getpid(), SIGUSR1, v) == 0, "sigqueue");
    CHECK(hits == 1 && seen_code == SI_QUEUE && seen_value == 42 && seen_pid == getpid(),
          "sigqueue: %d runs, code %d value %d", (int)hits, seen_code, seen_value);

    clear_seen();
    CHECK(tgkill_(getpid(), gettid_(), SIGUSR1) == 0, "tgkill");
    CHECK(hits == 1 && seen_code == SI_TKILL && seen_tid == getpid(), "tgkill: %d runs, code %d", (int)hits,
          seen_code);

    set_info_action(SIGUSR1, uc_mask_handler, 0);
    block(SIGUSR2);
    raise(SIGUSR1);
    CHECK(uc_mask_ok, "ucontext's uc_sigmask or the mask inside the handler is wrong");
    CHECK(is_blocked(SIGUSR2) && !is_blocked(SIGUSR1), "mask after the handler");
}

/* ---- mask: blocked signals stay pending, one instance, until unblocked ---- */

static void t_mask(void) {
    set_action(SIGUSR1, count_handler, 0);
    clear_seen();
    block(SIGUSR1);
    raise(SIGUSR1);
    raise(SIGUSR1);
    CHECK(hits == 0, "a blocked signal was delivered");
    CHECK(is_pending(SIGUSR1), "SIGUSR1 not pending");
    CHECK(!is_pending(SIGUSR2), "SIGUSR2 pending");
    unblock(SIGUSR1);
    CHECK(hits == 1, "%d deliveries of a standard signal raised twice while blocked", (int)hits);
    CHECK(!is_pending(SIGUSR1), "still pending after delivery");

    /* Setting SIG_IGN discards a pending signal. */
    block(SIGUSR2);
    raise(SIGUSR2);
    CHECK(is_pending(SIGUSR2), "SIGUSR2 not pending");
    signal(SIGUSR2, SIG_IGN);
    CHECK(!is_pending(SIGUSR2), "ignoring did not discard the pending SIGUSR2");
    unblock(SIGUSR2);
}

/* ---- queue: real-time signals queue with values; lowest number first ---- */

static void order_handler(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    if (order_len < 8) order[order_len++] = sig >= SIGRTMIN ? 1000 + si->si_value.sival_int : sig;
}

static void t_queue(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = order_handler;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask); /* one handler at a time: the order is the delivery order */
    sigaction(SIGRTMIN + 1, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);

    clear_seen();
    block(SIGRTMIN + 1);
    for (int i = 1; i <= 3; i++) sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = i});
    CHECK(order_len == 0, "delivered while blocked");
    unblock(SIGRTMIN + 1);
    CHECK(order_len == 3 && order[0] == 1001 && order[1] == 1002 && order[2] == 1003,
          "queued SIGRTMIN+1 values: %d deliveries: %d %d %d", (int)order_len, order[0], order[1], order[2]);

    clear_seen();
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGRTMIN + 1);
    sigprocmask(SIG_BLOCK, &set, &old);
    sigqueue(getpid(), SIGRTMIN + 1, (union sigval){.sival_int = 9});
    raise(SIGUSR2);
    raise(SIGUSR1);
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK(order_len == 3 && order[0] == SIGUSR1 && order[1] == SIGUSR2 && order[2] == 1009,
          "delivery order %d signals: %d %d %d", (int)order_len, order[0], order[1], order[2]);
}

/* ---- nodefer: a handler's own signal is blocked inside it unless SA_NODEFER ---- */

static volatile int inside_blocked, inside_usr2_blocked;
static void nest_handler(int sig) {
    hits++;
    depth++;
    if (depth > max_depth) max_depth = depth;
    if (hits == 1) {
        inside_blocked = is_blocked(sig);
        inside_usr2_blocked = is_blocked(SIGUSR2);
        raise(sig);
    }
    depth--;
}

static void t_nodefer(void) {
    clear_seen();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nest_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK(hits == 2 && max_depth == 1, "default: %d runs, depth %d", (int)hits, (int)max_depth);
    CHECK(inside_blocked && inside_usr2_blocked, "default: SIGUSR1 %s, SIGUSR2 (sa_mask) %s inside the handler",
          inside_blocked ? "blocked" : "open", inside_usr2_blocked ? "blocked" : "open");
    CHECK(!is_blocked(SIGUSR1) && !is_blocked(SIGUSR2), "mask not restored");

    clear_seen();
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK(hits == 2 && max_depth == 2, "SA_NODEFER: %d runs, depth %d", (int)hits, (int)max_depth);
    CHECK(!inside_blocked && inside_usr2_blocked, "SA_NODEFER: SIGUSR1 %s, SIGUSR2 %s inside the handler",
          inside_blocked ? "blocked" : "open", inside_usr2_blocked ? "blocked" : "open");
}

/* ---- resethand: SA_RESETHAND runs the handler once, then the default ---- */

static void t_resethand(void) {
    int sigs[] = {SIGWINCH, SIGURG, SIGCHLD}; /* default action: ignore */
    for (int i = 0; i < 3; i++) {
        clear_seen();
        set_action(sigs[i], count_handler, SA_RESETHAND | SA_NOCLDSTOP);
        raise(sigs[i]);
        struct sigaction now;
        sigaction(sigs[i], NULL, &now);
        CHECK(now.sa_handler == SIG_DFL, "signal %d: action not reset", sigs[i]);
        /* Only the handler is reset: the flags read back as set (Linux). */
        CHECK(now.sa_flags & SA_NOCLDSTOP, "signal %d: flags %#x after the reset", sigs[i], (unsigned)now.sa_flags);
        raise(sigs[i]);
        CHECK(hits == 1, "signal %d: %d handler runs", sigs[i], (int)hits);
    }
}

/* ---- ignore: default-ignored and SIG_IGN signals do nothing ---- */

static void t_ignore(void) {
    raise(SIGCHLD);
    raise(SIGURG);
    raise(SIGWINCH);
    kill(getpid(), SIGCONT);
    signal(SIGUSR1, SIG_IGN);
    raise(SIGUSR1);
    signal(SIGTERM, SIG_IGN);
    kill(getpid(), SIGTERM);
    signal(SIGRTMIN, SIG_IGN);
    raise(SIGRTMIN);
    CHECK(!is_pending(SIGUSR1) && !is_pending(SIGTERM), "an ignored signal is pending");
    printf("ignore: still alive\n");
}

/* ---- altstack: SA_ONSTACK handlers run on the alternate stack ---- */

#define ALT_SIZE (64 * 1024)
static char *alt_base;
static volatile int on_alt, alt_flags_onstack, alt_change_eperm;

static void alt_handler(int sig) {
    (void)sig;
    volatile char here = 0;
    on_alt = (char *)&here >= alt_base && (char *)&here < alt_base + ALT_SIZE;
    stack_t cur;
    sigaltstack(NULL, &cur);
    alt_flags_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
    stack_t other = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0};
    errno = 0;
    alt_change_eperm = sigaltstack(&other, NULL) == -1 && errno == EPERM;
    hits++;
}

static void t_altstack(void) {
    stack_t ss, old;
    CHECK(sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE), "an alternate stack at start");
    alt_base = malloc(ALT_SIZE);
    ss.ss_sp = alt_base;
    ss.ss_size = 1024; /* below MINSIGSTKSZ */
    ss.ss_flags = 0;
    errno = 0;
    CHECK(sigaltstack(&ss, NULL) == -1 && errno == ENOMEM, "a 1 KiB alternate stack: errno %d", errno);
    ss.ss_size = ALT_SIZE;
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack: %s", strerror(errno));
    CHECK(sigaltstack(NULL, &old) == 0 && old.ss_sp == alt_base && old.ss_size == ALT_SIZE && old.ss_flags == 0,
          "query after setting");

    clear_seen();
    set_action(SIGUSR1, alt_handler, SA_ONSTACK);
    raise(SIGUSR1);
    CHECK(hits == 1 && on_alt, "SA_ONSTACK handler %s the alternate stack", on_alt ? "on" : "not on");
    CHECK(alt_flags_onstack, "inside: ss_flags lacks SS_ONSTACK");
    CHECK(alt_change_eperm, "changing the alternate stack while on it did not fail with EPERM");
    CHECK(sigaltstack(NULL, &old) == 0 && old.ss_flags == 0, "after: ss_flags %d", old.ss_flags);

    clear_seen();
    set_action(SIGUSR1, alt_handler, 0);
    raise(SIGUSR1);
    CHECK(hits == 1 && !on_alt, "a handler without SA_ONSTACK ran on the alternate stack");

    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0, "disable");
    free(alt_base);
}

/* ---- altstack-fault: a handler's frame that cannot be written ---- */

static volatile int forced_code;

static void forced_handler(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    forced_code = sig == SIGSEGV ? si->si_code : -1;
}

/* SIGUSR1's SA_ONSTACK handler, with the alternate stack read-only: the
   kernel cannot write the frame and forces a SIGSEGV (SI_KERNEL), whose
   handler runs on the ordinary stack; the program goes on. */
static void t_altstack_fault(void) {
    char *ro = mmap(NULL, ALT_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = ro, .ss_size = ALT_SIZE, .ss_flags = 0};
    CHECK(ro != MAP_FAILED && sigaltstack(&ss, NULL) == 0, "a read-only alternate stack");
    clear_seen();
    set_info_action(SIGSEGV, forced_handler, 0);
    set_action(SIGUSR1, count_handler, SA_ONSTACK);
    forced_code = 0;
    raise(SIGUSR1);
    CHECK(hits == 0, "the SIGUSR1 handler ran on a read-only stack");
    CHECK(forced_code == SI_KERNEL, "the forced SIGSEGV: si_code %d", forced_code);
    ss.ss_flags = SS_DISABLE;
    CHECK(sigaltstack(&ss, NULL) == 0, "disable");
    munmap(ro, ALT_SIZE);
}

/* ---- sigsuspend: waits with a temporary mask, restores the old one ---- */

static void *kill_process_later(void *arg) {
    sleep_ms(20);
    kill(getpid(), (int)(intptr_t)arg);
    return NULL;
}

static void t_sigsuspend(void) {
    set_action(SIGUSR1, count_handler, 0);
    clear_seen();
    block(SIGUSR1);
    raise(SIGUSR1);
    sigset_t m = mask_without(SIGUSR1);
    errno = 0;
    int rc = sigsuspend(&m);
    CHECK(rc == -1 && errno == EINTR && hits == 1, "pending: rc %d errno %d runs %d", rc, errno, (int)hits);
    CHECK(is_blocked(SIGUSR1), "mask not restored after sigsuspend");

    /* From another thread (which inherited the block) to the process. */
    clear_seen();
    pthread_t t = spawn(kill_process_later, (void *)(intptr_t)SIGUSR1);
    while (hits == 0) sigsuspend(&m);
    join(t);
    CHECK(hits == 1 && seen_tid == getpid(), "from a thread: %d runs, %s thread", (int)hits,
          seen_tid == getpid() ? "main" : "other");
    unblock(SIGUSR1);
}

/* ---- sigtimedwait: a timeout, a pending signal, a queued value ---- */

static void t_sigtimedwait(void) {
    sigset_t set = only(SIGUSR2);
    siginfo_t si;
    block(SIGUSR2);
    struct timespec to = {0, 100 * 1000000L};
    double t0 = mono_now();
    errno = 0;
    int rc = sigtimedwait(&set, &si, &to);
    CHECK(rc == -1 && errno == EAGAIN, "nothing pending: rc %d errno %d", rc, errno);
    check_elapsed("timeout", t0, 100);

    struct timespec zero = {0, 0};
    errno = 0;
    rc = sigtimedwait(&set, &si, &zero);
    CHECK(rc == -1 && errno == EAGAIN, "zero timeout: rc %d errno %d", rc, errno);

    raise(SIGUSR2);
    memset(&si, 0, sizeof si);
    rc = sigtimedwait(&set, &si, &to);
    /* raise() sends with tgkill (SI_TKILL); glibc's sigtimedwait reports that as SI_USER. */
    CHECK(rc == SIGUSR2 && si.si_signo == SIGUSR2 && (si.si_code == SI_TKILL || si.si_code == SI_USER),
          "raised: rc %d code %d", rc, si.si_code);
    CHECK(!is_pending(SIGUSR2), "still pending after sigtimedwait took it");

    sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 7});
    memset(&si, 0, sizeof si);
    rc = sigtimedwait(&set, &si, &to);
    CHECK(rc == SIGUSR2 && si.si_code == SI_QUEUE && si.si_value.sival_int == 7 && si.si_pid == getpid(),
          "queued: rc %d code %d value %d", rc, si.si_code, si.si_value.sival_int);
    unblock(SIGUSR2);
}

/* ---- sigwaitinfo: a signal sent by another thread ---- */

static void *sigqueue_later(void *arg) {
    sleep_ms(20);
    sigqueue(getpid(), (int)(intptr_t)arg, (union sigval){.sival_int = 5});
    return NULL;
}

static void t_sigwaitinfo(void) {
    sigset_t set = only(SIGUSR2);
    siginfo_t si;
    block(SIGUSR2); /* before the thread starts, so that it inherits the block */
    pthread_t t = spawn(kill_process_later, (void *)(intptr_t)SIGUSR2);
    memset(&si, 0, sizeof si);
    int rc;
    while ((rc = sigwaitinfo(&set, &si)) == -1 && errno == EINTR) {
    }
    join(t);
    CHECK(rc == SIGUSR2 && si.si_code == SI_USER && si.si_pid == getpid(), "kill: rc %d code %d", rc, si.si_code);

    sigset_t rt = only(SIGRTMIN + 2);
    block(SIGRTMIN + 2);
    t = spawn(sigqueue_later, (void *)(intptr_t)(SIGRTMIN + 2));
    int sig = 0;
    rc = sigwait(&rt, &sig);
    join(t);
    CHECK(rc == 0 && sig == SIGRTMIN + 2, "sigwait: rc %d, SIGRTMIN%+d", rc, sig - SIGRTMIN);
    unblock(SIGUSR2);
    unblock(SIGRTMIN + 2);
}

/* ---- tkill: tgkill and tkill to this thread and to another ---- */

static volatile pid_t other_tid;
static sem_t tk_ready, tk_next;

static void *tk_target(void *arg) {
    (void)arg;
    sigset_t m = mask_without(SIGUSR1); /* SIGUSR1 arrives only inside sigsuspend */
    other_tid = gettid_();
    sem_post(&tk_ready);
    while (hits < 1) sigsuspend(&m);
    sem_post(&tk_next);
    while (hits < 2) sigsuspend(&m);
    return NULL;
}

static void t_tkill(void) {
    set_info_action(SIGUSR1, info_handler, 0);
    clear_seen();
    CHECK(tkill_(gettid_(), SIGUSR1) == 0, "tkill self");
    CHECK(hits == 1 && seen_code == SI_TKILL && seen_tid == getpid(), "tkill self: %d runs code %d", (int)hits,
          seen_code);

    clear_seen();
    sem_init(&tk_ready, 0, 0);
    sem_init(&tk_next, 0, 0);
    block(SIGUSR1);
    pthread_t t = spawn(tk_target, NULL);
    sem_wait(&tk_ready);
    pid_t tid = other_tid;
    CHECK(tid != getpid(), "the thread's tid is the pid");
    CHECK(tgkill_(getpid(), tid, 0) == 0, "tgkill(thread, 0)");
    CHECK(tgkill_(getpid(), tid, SIGUSR1) == 0, "tgkill(thread)");
    sem_wait(&tk_next);
    CHECK(hits == 1 && seen_tid == tid && seen_code == SI_TKILL, "tgkill: %d runs, %s thread, code %d", (int)hits,
          seen_tid == tid ? "target" : "wrong", seen_code);
    seen_tid = 0;
    CHECK(tkill_(tid, SIGUSR1) == 0, "tkill(thread)");
    join(t);
    CHECK(hits == 2 && seen_tid == tid, "tkill: %d runs, %s thread", (int)hits, seen_tid == tid ? "target" : "wrong");
    CHECK(!is_pending(SIGUSR1), "SIGUSR1 pending in main");
    unblock(SIGUSR1);
    sem_destroy(&tk_ready);
    sem_destroy(&tk_next);
}

/* ---- process: a process-directed signal goes to a thread not blocking it ---- */

static sem_t pr_ready, pr_done;

static void *pr_receiver(void *arg) {
    (void)arg;
    sigset_t m = mask_without(SIGUSR1);
    other_tid = gettid_();
    sem_post(&pr_ready);
    while (hits == 0) sigsuspend(&m);
    return NULL;
}

static void *pr_bystander(void *arg) {
    (void)arg;
    while (sem_wait(&pr_done) != 0) {
    }
    return NULL;
}

static void t_process(void) {
    set_action(SIGUSR1, count_handler, 0);
    clear_seen();
    sem_init(&pr_ready, 0, 0);
    sem_init(&pr_done, 0, 0);
    block(SIGUSR1); /* every thread blocks SIGUSR1 but the receiver, inside sigsuspend */
    pthread_t by = spawn(pr_bystander, NULL);
    pthread_t rx = spawn(pr_receiver, NULL);
    sem_wait(&pr_ready);
    CHECK(kill(getpid(), SIGUSR1) == 0, "kill");
    join(rx);
    sem_post(&pr_done);
    join(by);
    CHECK(hits == 1 && seen_tid == other_tid, "%d runs, in %s", (int)hits,
          seen_tid == other_tid ? "the receiver" : "another thread");
    unblock(SIGUSR1);
    sem_destroy(&pr_ready);
    sem_destroy(&pr_done);
}

/* ---- alarm: alarm() delivers SIGALRM after its seconds ---- */

static void t_alarm(void) {
    set_action(SIGALRM, count_handler, 0);
    clear_seen();
    block(SIGALRM);
    sigset_t m = mask_without(SIGALRM);
    double t0 = mono_now();
    CHECK(alarm(5) == 0, "first alarm");
    unsigned left = alarm(1);
    CHECK(left == 5, "alarm returned %u seconds left of 5", left);
    while (hits == 0) sigsuspend(&m);
    check_elapsed("alarm(1)", t0, 1000);
    CHECK(alarm(0) == 0, "alarm still set after firing");
    unblock(SIGALRM);
}

/* ---- itimer: ITIMER_REAL periodic, ITIMER_VIRTUAL on CPU time ---- */

static void t_itimer(void) {
    set_action(SIGALRM, count_handler, 0);
    clear_seen();
    block(SIGALRM);
    sigset_t m = mask_without(SIGALRM);
    struct itimerval it = {.it_interval = {0, 20000}, .it_value = {0, 50000}}, old, now;
    double t0 = mono_now();
    CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
    while (hits < 3) sigsuspend(&m);
    check_elapsed("three ITIMER_REAL expiries", t0, 90);
    memset(&it, 0, sizeof it);
    CHECK(setitimer(ITIMER_REAL, &it, &old) == 0, "disarm");
    CHECK(old.it_interval.tv_sec == 0 && old.it_interval.tv_usec == 20000, "old interval %ld.%06ld",
          (long)old.it_interval.tv_sec, (long)old.it_interval.tv_usec);
    getitimer(ITIMER_REAL, &now);
    CHECK(now.it_value.tv_sec == 0 && now.it_value.tv_usec == 0, "still armed after disarming");
    unblock(SIGALRM);

    clear_seen();
    set_action(SIGVTALRM, count_handler, 0);
    struct itimerval v = {.it_interval = {0, 0}, .it_value = {0, 20000}};
    CHECK(setitimer(ITIMER_VIRTUAL, &v, NULL) == 0, "setitimer virtual");
    t0 = mono_now();
    volatile unsigned long spin = 0;
    while (hits == 0 && mono_now() - t0 < 5) spin++;
    CHECK(hits == 1, "ITIMER_VIRTUAL did not fire within 5 s of busy looping");
}

/* ---- eintr: a handler without SA_RESTART interrupts a blocked read ---- */

static int sig_pipe[2];
static volatile int restart_fire_at;

static void alarm_writer(int sig) {
    (void)sig;
    hits++;
    if (hits == restart_fire_at) {
        disarm_itimer();
        char c = 'x';
        if (write(sig_pipe[1], &c, 1) != 1) hits = 100;
    }
}

static void arm_ms(long first_ms, long every_ms) {
    struct itimerval it = {.it_interval = {0, every_ms * 1000},
                           .it_value = {first_ms / 1000, (first_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void t_eintr(void) {
    CHECK(pipe(sig_pipe) == 0, "pipe");
    set_action(SIGALRM, count_handler, 0);
    clear_seen();
    char c;
    double t0 = mono_now();
    arm_ms(50, 0);
    errno = 0;
    ssize_t n = read(sig_pipe[0], &c, 1);
    CHECK(n == -1 && errno == EINTR && hits == 1, "read returned %zd errno %d after %d handler runs", n, errno,
          (int)hits);
    check_elapsed("interrupted read", t0, 50);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
}

/* ---- restart: with SA_RESTART the read restarts and completes ---- */

static void t_restart(void) {
    CHECK(pipe(sig_pipe) == 0, "pipe");
    clear_seen();
    restart_fire_at = 3; /* the third expiry writes to the pipe */
    set_action(SIGALRM, alarm_writer, SA_RESTART);
    char c = 0;
    arm_ms(30, 20);
    errno = 0;
    ssize_t n = read(sig_pipe[0], &c, 1);
    CHECK(n == 1 && c == 'x' && hits == 3, "read returned %zd errno %d after %d handler runs", n, errno, (int)hits);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
}

/* ---- restart-thread: the restarted read gets what another thread writes ---- */

static sem_t rt_fired;

static void alarm_post(int sig) {
    (void)sig;
    hits++;
    sem_post(&rt_fired);
}

static void *rt_writer(void *arg) {
    (void)arg;
    while (sem_wait(&rt_fired) != 0) {
    }
    char c = 'y';
    if (write(sig_pipe[1], &c, 1) != 1) return (void *)1;
    return NULL;
}

static void t_restart_thread(void) {
    CHECK(pipe(sig_pipe) == 0, "pipe");
    clear_seen();
    sem_init(&rt_fired, 0, 0);
    set_action(SIGALRM, alarm_post, SA_RESTART);
    block(SIGALRM); /* the writer inherits the block: SIGALRM goes to main */
    pthread_t t = spawn(rt_writer, NULL);
    unblock(SIGALRM);
    char c = 0;
    arm_ms(30, 0);
    errno = 0;
    ssize_t n = read(sig_pipe[0], &c, 1);
    CHECK(join(t) == NULL, "write failed");
    CHECK(n == 1 && c == 'y' && hits == 1, "read returned %zd errno %d after %d handler runs", n, errno, (int)hits);
    sem_destroy(&rt_fired);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
}

/* ---- sleeps: nanosleep, poll and select are interrupted even with SA_RESTART ---- */

static void t_sleeps(void) {
    set_action(SIGALRM, count_handler, SA_RESTART);

    clear_seen();
    struct timespec req = {2, 0}, rem = {0, 0};
    arm_ms(30, 0);
    errno = 0;
    int rc = nanosleep(&req, &rem);
    CHECK(rc == -1 && errno == EINTR && hits == 1, "nanosleep: rc %d errno %d", rc, errno);
    CHECK((rem.tv_sec > 0 || rem.tv_nsec > 0) && rem.tv_sec < 2, "nanosleep: %ld.%09ld s remaining of 2",
          (long)rem.tv_sec, rem.tv_nsec);

    clear_seen();
    arm_ms(30, 0);
    rc = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL);
    CHECK(rc == EINTR && hits == 1, "clock_nanosleep: rc %d", rc);

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    clear_seen();
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    arm_ms(30, 0);
    errno = 0;
    rc = poll(&pfd, 1, 2000);
    CHECK(rc == -1 && errno == EINTR && hits == 1, "poll: rc %d errno %d", rc, errno);

    clear_seen();
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    struct timeval tv = {2, 0};
    arm_ms(30, 0);
    errno = 0;
    rc = select(p[0] + 1, &rd, NULL, NULL, &tv);
    CHECK(rc == -1 && errno == EINTR && hits == 1, "select: rc %d errno %d", rc, errno);
    close(p[0]);
    close(p[1]);
}

/* ---- timer: POSIX timers with SIGEV_SIGNAL ---- */

/* A timer on `clock` that sends `sig` with `value` (SIGEV_SIGNAL). */
static timer_t signal_timer(clockid_t clock, int sig, int value) {
    timer_t tm;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = sig;
    sev.sigev_value.sival_int = value;
    CHECK(timer_create(clock, &sev, &tm) == 0, "timer_create(%d): %s", (int)clock, strerror(errno));
    return tm;
}

static void t_timer(void) {
    int sig = SIGRTMIN + 3;
    timer_t tm = signal_timer(CLOCK_MONOTONIC, sig, 77);

    block(sig);
    sigset_t set = only(sig);
    struct itimerspec its = {.it_interval = {0, 0}, .it_value = {0, 50 * 1000000L}}, cur;
    double t0 = mono_now();
    CHECK(timer_settime(tm, 0, &its, NULL) == 0, "timer_settime");
    timer_gettime(tm, &cur);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 50 * 1000000L,
          "timer_gettime while armed");
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc;
    while ((rc = sigwaitinfo(&set, &si)) == -1 && errno == EINTR) {
    }
    check_elapsed("one-shot timer", t0, 50);
    CHECK(rc == sig && si.si_code == SI_TIMER && si.si_value.sival_int == 77, "one-shot: rc %d code %d value %d",
          rc, si.si_code, si.si_value.sival_int);
    CHECK(timer_getoverrun(tm) == 0, "overrun of a one-shot timer");
    timer_gettime(tm, &cur);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0, "still armed after firing");

    /* Periodic, to a handler. */
    clear_seen();
    set_info_action(sig, info_handler, 0);
    sigset_t m = mask_without(sig);
    its.it_value.tv_nsec = 10 * 1000000L;
    its.it_interval.tv_nsec = 10 * 1000000L;
    t0 = mono_now();
    timer_settime(tm, 0, &its, NULL);
    while (hits < 3) sigsuspend(&m);
    check_elapsed("three periodic expiries", t0, 30);
    CHECK(seen_code == SI_TIMER && seen_value == 77, "periodic: code %d value %d", seen_code, seen_value);
    memset(&its, 0, sizeof its);
    timer_settime(tm, 0, &its, NULL);

    /* An absolute expiry time. */
    clear_seen();
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    t0 = mono_now();
    its.it_value = now;
    its.it_value.tv_nsec += 30 * 1000000L;
    if (its.it_value.tv_nsec >= 1000000000L) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000L;
    }
    CHECK(timer_settime(tm, TIMER_ABSTIME, &its, NULL) == 0, "TIMER_ABSTIME");
    while (hits < 1) sigsuspend(&m);
    check_elapsed("absolute timer", t0, 29);
    CHECK(timer_delete(tm) == 0, "timer_delete");
    unblock(sig);
}

/* ---- timer-edges: what timer_create accepts, CPU-time and late timers ---- */

static long raw_timer_create(clockid_t clock, int notify, int signo, int *id) {
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = notify;
    sev.sigev_signo = signo;
    return syscall(SYS_timer_create, clock, &sev, id);
}

static void t_timer_edges(void) {
    int id;
    /* Signals a timer may send (any real one), and SIGEV_THREAD as the kernel sees it. */
    int refused[] = {0, 65, -1};
    for (unsigned i = 0; i < sizeof refused / sizeof *refused; i++) {
        errno = 0;
        CHECK(raw_timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL, refused[i], &id) == -1 && errno == EINVAL,
              "timer_create with signal %d: errno %d", refused[i], errno);
    }
    int taken[] = {SIGKILL, SIGSEGV, SIGRTMAX};
    for (unsigned i = 0; i < sizeof taken / sizeof *taken; i++) {
        CHECK(raw_timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL, taken[i], &id) == 0, "timer_create with signal %d: %s",
              taken[i], strerror(errno));
        syscall(SYS_timer_delete, id);
    }
    errno = 0;
    CHECK(raw_timer_create(CLOCK_REALTIME_ALARM, SIGEV_SIGNAL, SIGUSR1, &id) == -1, "an _ALARM clock's timer");
    CHECK(raw_timer_create(CLOCK_MONOTONIC, SIGEV_THREAD, SIGUSR1, &id) == 0, "raw SIGEV_THREAD: %s",
          strerror(errno));
    syscall(SYS_timer_delete, id);
    errno = 0;
    CHECK(syscall(SYS_timer_settime, 0, 0, NULL, NULL) == -1 && errno == EINVAL, "timer_settime(NULL): %d", errno);

    /* A thread CPU-time timer fires once this thread used 20 ms of CPU. */
    int sig = SIGRTMIN + 4;
    timer_t tm = signal_timer(CLOCK_THREAD_CPUTIME_ID, sig, 0);
    block(sig);
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    struct itimerspec its = {.it_interval = {0, 0}, .it_value = {0, 20 * 1000000L}};
    CHECK(timer_settime(tm, 0, &its, NULL) == 0, "timer_settime(THREAD_CPUTIME)");
    sigset_t pending;
    do {
        sigpending(&pending);
    } while (!sigismember(&pending, sig));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double used = (c1.tv_sec - c0.tv_sec) * 1e3 + (c1.tv_nsec - c0.tv_nsec) / 1e6;
    CHECK(used >= 19.9, "the thread CPU-time timer fired after %.2f ms of CPU", used);
    sigset_t set = only(sig);
    siginfo_t si;
    CHECK(sigwaitinfo(&set, &si) == sig && si.si_code == SI_TIMER, "thread CPU-time timer's signal");
    timer_delete(tm);

    /* Absolute, 3 s in the past, every nanosecond: Linux counts the missed
     * periods as overruns of the first expiry, capped at INT_MAX. */
    tm = signal_timer(CLOCK_REALTIME, sig, 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    its.it_value = now;
    its.it_value.tv_sec -= 3;
    its.it_interval.tv_nsec = 1;
    CHECK(timer_settime(tm, TIMER_ABSTIME, &its, NULL) == 0, "a late absolute expiry");
    CHECK(sigwaitinfo(&set, &si) == sig, "the late timer's signal");
    CHECK(si.si_overrun == INT_MAX, "si_overrun %d", si.si_overrun);
    memset(&its, 0, sizeof its);
    timer_settime(tm, 0, &its, NULL);
    timer_delete(tm);
    unblock(sig);
}

/* ---- timer-thread: a POSIX timer with SIGEV_THREAD ---- */

static sem_t tt_fired;
static pthread_t tt_main;
static volatile int tt_value, tt_in_main;

static void tt_notify(union sigval v) {
    tt_value = v.sival_int;
    tt_in_main = pthread_equal(pthread_self(), tt_main);
    sem_post(&tt_fired);
}

static void t_timer_thread(void) {
    timer_t tm;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD;
    sev.sigev_notify_function = tt_notify;
    sev.sigev_value.sival_int = 5;
    tt_main = pthread_self();
    sem_init(&tt_fired, 0, 0);
    CHECK(timer_create(CLOCK_MONOTONIC, &sev, &tm) == 0, "timer_create: %s", strerror(errno));
    struct itimerspec its = {.it_interval = {0, 0}, .it_value = {0, 30 * 1000000L}};
    double t0 = mono_now();
    CHECK(timer_settime(tm, 0, &its, NULL) == 0, "timer_settime");
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    int rc;
    while ((rc = sem_timedwait(&tt_fired, &dl)) != 0 && errno == EINTR) {
    }
    CHECK(rc == 0, "the notification did not come within 5 s");
    check_elapsed("SIGEV_THREAD timer", t0, 30);
    CHECK(tt_value == 5 && !tt_in_main, "value %d, in %s", tt_value, tt_in_main ? "main" : "another thread");
    CHECK(timer_delete(tm) == 0, "timer_delete");
}

/* ---- faults: SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGBUS from the CPU ---- */

static sigjmp_buf jump;

static void jump_handler(int sig, siginfo_t *si, void *ctx) {
    (void)ctx;
    hits++;
    seen_signo = sig;
    seen_code = si->si_code;
    seen_addr = si->si_addr;
    siglongjmp(jump, 1);
}

static volatile uintptr_t null_address;

/* Runs `touch` under a jump_handler for `sig`: 1 if it faulted. */
static int faults(int sig, void (*touch)(void *), void *arg) {
    clear_seen();
    if (sigsetjmp(jump, 1) == 0) {
        touch(arg);
        return 0;
    }
    CHECK(!is_blocked(sig), "signal %d still blocked after siglongjmp", sig);
    return 1;
}

static void read_at(void *p) { (void)*(volatile int *)p; }
static void write_at(void *p) { *(volatile int *)p = 1; }

static void t_segv(void) {
    set_info_action(SIGSEGV, jump_handler, 0);
    long page = sysconf(_SC_PAGESIZE);
    char *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *gone = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, page);

    CHECK(faults(SIGSEGV, write_at, none + 8), "write to PROT_NONE did not fault");
    CHECK(seen_code == SEGV_ACCERR && seen_addr == none + 8, "PROT_NONE write: code %d, address %s", seen_code,
          seen_addr == none + 8 ? "ok" : "wrong");
    CHECK(faults(SIGSEGV, read_at, none + 100), "read of PROT_NONE did not fault");
    CHECK(seen_code == SEGV_ACCERR && seen_addr == none + 100, "PROT_NONE read: code %d", seen_code);
    CHECK(faults(SIGSEGV, write_at, ro + 16), "write to PROT_READ did not fault");
    CHECK(seen_code == SEGV_ACCERR && seen_addr == ro + 16, "PROT_READ write: code %d", seen_code);
    CHECK(!faults(SIGSEGV, read_at, ro + 16), "read of PROT_READ faulted");
    CHECK(faults(SIGSEGV, read_at, (void *)null_address), "NULL read did not fault");
    CHECK(seen_code == SEGV_MAPERR && seen_addr == NULL, "NULL read: code %d", seen_code);
    CHECK(faults(SIGSEGV, write_at, gone + 24), "write to an unmapped page did not fault");
    CHECK(seen_code == SEGV_MAPERR && seen_addr == gone + 24, "unmapped write: code %d", seen_code);
    /* mprotect makes the page usable. */
    mprotect(none, page, PROT_READ | PROT_WRITE);
    CHECK(!faults(SIGSEGV, write_at, none + 8), "write after mprotect faulted");
    munmap(none, page);
    munmap(ro, page);
}

/* ---- skip: a SIGSEGV handler edits the context and returns ---- */

static volatile uintptr_t skip_rip;
static void *skip_bad;

static void skip_handler(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    ucontext_t *uc = ctx;
    greg_t *g = uc->uc_mcontext.gregs;
    hits++;
    seen_addr = si->si_addr;
    seen_code = si->si_code;
    if ((uintptr_t)g[REG_RIP] == skip_rip && (uintptr_t)g[REG_RAX] == (uintptr_t)skip_bad) {
        g[REG_RDX] = 0x1234; /* seen by the interrupted code after sigreturn */
        g[REG_RIP] += 2;     /* the faulting instruction is 2 bytes long */
    } else {
        siglongjmp(jump, 1); /* somewhere unexpected: give up */
    }
}

static void t_skip(void) {
    set_info_action(SIGSEGV, skip_handler, 0);
    long page = sysconf(_SC_PAGESIZE);
    skip_bad = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    clear_seen();
    unsigned long rdx = 0;
    if (sigsetjmp(jump, 1) == 0) {
        __asm__ volatile("lea 1f(%%rip), %%rdx\n\t"
                         "mov %%rdx, %[rip]\n\t"
                         "xor %%edx, %%edx\n"
                         "1:\t.byte 0x89, 0x08\n\t" /* movl %ecx, (%rax): 2 bytes */
                         "mov %%rdx, %[out]\n\t"
                         : [out] "=&r"(rdx), [rip] "=m"(skip_rip)
                         : "a"(skip_bad), "c"(1)
                         : "rdx", "memory");
        CHECK(hits == 1 && rdx == 0x1234, "%d handler runs, rdx %#lx after the skip", (int)hits, rdx);
        CHECK(seen_addr == skip_bad && seen_code == SEGV_ACCERR, "code %d address %s", seen_code,
              seen_addr == skip_bad ? "ok" : "wrong");
    } else {
        CHECK(0, "the handler saw an unexpected rip or rax");
    }
    munmap(skip_bad, page);
}

/* ---- fpe: integer division by zero and overflow ---- */

static volatile uintptr_t fault_rip;

static void idiv(void *arg) {
    int *ops = arg, a = ops[0];
    __asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
                     "mov %%rcx, %[rip]\n\t"
                     "cltd\n"
                     "1:\tidivl %[d]\n\t"
                     : "+a"(a), [rip] "=m"(fault_rip)
                     : [d] "r"(ops[1])
                     : "rdx", "rcx", "memory");
    ops[2] = a;
}

static void t_fpe(void) {
    set_info_action(SIGFPE, jump_handler, 0);
    int ops[3] = {10, 0, 0};
    CHECK(faults(SIGFPE, idiv, ops), "10 / 0 did not fault");
    CHECK(seen_code == FPE_INTDIV && (uintptr_t)seen_addr == fault_rip, "10 / 0: code %d, address %s", seen_code,
          (uintptr_t)seen_addr == fault_rip ? "ok" : "wrong");
    int ovf[3] = {INT32_MIN, -1, 0};
    CHECK(faults(SIGFPE, idiv, ovf), "INT_MIN / -1 did not fault");
    CHECK(seen_code == FPE_INTDIV && (uintptr_t)seen_addr == fault_rip, "INT_MIN / -1: code %d", seen_code);
    int fine[3] = {10, 3, 0};
    CHECK(!faults(SIGFPE, idiv, fine) && fine[2] == 3, "10 / 3 faulted or gave %d", fine[2]);
}

/* ---- ill: ud2 ---- */

static void ud2(void *arg) {
    (void)arg;
    __asm__ volatile("lea 1f(%%rip), %%rcx\n\t"
                     "mov %%rcx, %[rip]\n"
                     "1:\tud2\n\t"
                     : [rip] "=m"(fault_rip)
                     :
                     : "rcx", "memory");
}

static void t_ill(void) {
    set_info_action(SIGILL, jump_handler, 0);
    CHECK(faults(SIGILL, ud2, NULL), "ud2 did not fault");
    CHECK(seen_signo == SIGILL && seen_code == ILL_ILLOPN && (uintptr_t)seen_addr == fault_rip,
          "ud2: code %d, address %s", seen_code, (uintptr_t)seen_addr == fault_rip ? "ok" : "wrong");
}

/* ---- trap: int3, the handler returns, execution goes on after it ---- */

static volatile uintptr_t trap_rip_seen;

static void trap_handler(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    ucontext_t *uc = ctx;
    hits++;
    seen_code = si->si_code;
    trap_rip_seen = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
}

static void t_trap(void) {
    set_info_action(SIGTRAP, trap_handler, 0);
    clear_seen();
    uintptr_t after = 0;
    __asm__ volatile("int3\n"
                     "1:\tlea 1b(%%rip), %[after]\n\t"
                     : [after] "=r"(after)
                     :
                     : "memory");
    CHECK(hits == 1, "%d handler runs", (int)hits);
    CHECK(seen_code == SI_KERNEL, "int3: si_code %d", seen_code);
    CHECK(trap_rip_seen == after, "the context's rip is not just after the int3");
}

/* ---- bus: touching a file mapping beyond the end of the file ---- */

static void t_bus(void) {
    set_info_action(SIGBUS, jump_handler, 0);
    long page = sysconf(_SC_PAGESIZE);
    char name[] = "sigbus-XXXXXX";
    int fd = mkstemp(name);
    CHECK(fd >= 0, "mkstemp in the working directory: %s", strerror(errno));
    if (fd < 0) return;
    unlink(name);
    static char data[4096];
    memset(data, 'b', sizeof data);
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data, "write");
    /* A private, read-only mapping two pages long of a one-page file. */
    char *p = mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
    if (p == MAP_FAILED) return;
    CHECK(!faults(SIGBUS, read_at, p + 8) && p[8] == 'b', "read inside the file faulted");
    CHECK(faults(SIGBUS, read_at, p + page + 4), "read past the end of the file did not fault");
    CHECK(seen_code == BUS_ADRERR && seen_addr == p + page + 4, "past the end: code %d, address %s", seen_code,
          seen_addr == p + page + 4 ? "ok" : "wrong");
    munmap(p, 2 * page);
    close(fd);
}

/* ---- overflow: a stack overflow caught on the alternate stack ---- */

static char *ovf_alt;
static volatile int ovf_on_alt;
static sigjmp_buf ovf_jump;
static volatile int ovf_never; /* keeps the compiler from calling the recursion infinite */

static void ovf_handler(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)si;
    (void)ctx;
    volatile char here = 0;
    ovf_on_alt = (char *)&here >= ovf_alt && (char *)&here < ovf_alt + ALT_SIZE;
    siglongjmp(ovf_jump, 1);
}

__attribute__((noinline)) static int recurse(volatile char *prev) {
    volatile char frame[512];
    if (ovf_never) return 0;
    frame[0] = prev ? prev[0] + 1 : 0;
    return recurse(frame) + frame[1];
}

static void *ovf_thread(void *arg) {
    (void)arg;
    stack_t ss = {.ss_sp = ovf_alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) return (void *)1;
    if (sigsetjmp(ovf_jump, 1) == 0) return (void *)(intptr_t)(2 + recurse(NULL));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    return NULL;
}

static void t_overflow(void) {
    ovf_alt = malloc(ALT_SIZE);
    set_info_action(SIGSEGV, ovf_handler, SA_ONSTACK);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    pthread_attr_setguardsize(&a, 64 * 1024);
    pthread_t t;
    CHECK(pthread_create(&t, &a, ovf_thread, NULL) == 0, "pthread_create");
    pthread_attr_destroy(&a);
    void *r = join(t);
    CHECK(r == NULL, "thread result %p", r);
    CHECK(ovf_on_alt, "the SIGSEGV handler was not on the alternate stack");
    free(ovf_alt);
}

/* ---- fpstate: a handler gets a clean FPU state; the interrupted code keeps its own ---- */

static volatile unsigned handler_mxcsr;

static void fp_handler(int sig) {
    (void)sig;
    unsigned m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    handler_mxcsr = m;
    m = 0x3f80; /* round down */
    __asm__ volatile("ldmxcsr %0\n\t"
                     "pcmpeqd %%xmm8, %%xmm8\n\t"
                     "pxor %%xmm9, %%xmm9" ::"m"(m)
                     : "xmm8", "xmm9");
    if (__builtin_cpu_supports("avx")) __asm__ volatile("vpcmpeqd %%ymm8, %%ymm8, %%ymm8" ::: "xmm8");
    hits++;
}

static void t_fpstate(void) {
    __builtin_cpu_init();
    set_action(SIGUSR1, fp_handler, 0);
    clear_seen();
    unsigned long in = 0x4010800000000000UL /* 4.125 */, out = 0;
    unsigned mx = 0x7f80 /* round toward zero */, mx_after = 0, saved;
    __asm__ volatile("stmxcsr %0" : "=m"(saved));
    long nr = SYS_tgkill;
    __asm__ volatile("ldmxcsr %[mx]\n\t"
                     "movq %[in], %%xmm8\n\t"
                     "syscall\n\t" /* tgkill(self): the handler runs on the way out */
                     "movq %%xmm8, %[out]\n\t"
                     "stmxcsr %[after]\n\t"
                     : [out] "=r"(out), [after] "=m"(mx_after), "+a"(nr)
                     : [in] "r"(in), [mx] "m"(mx), "D"((long)getpid()), "S"((long)gettid_()), "d"((long)SIGUSR1)
                     : "rcx", "r11", "xmm8", "memory");
    __asm__ volatile("ldmxcsr %0" ::"m"(saved));
    CHECK(nr == 0 && hits == 1, "tgkill returned %ld, %d handler runs", nr, (int)hits);
    CHECK(out == in, "xmm8 changed across the handler");
    CHECK(mx_after == 0x7f80, "mxcsr %#x after the handler", mx_after);
    CHECK(handler_mxcsr == 0x1f80, "the handler started with mxcsr %#x", handler_mxcsr);

    if (__builtin_cpu_supports("avx")) {
        double lanes[4] = {1.5, 2.5, 3.5, 4.5}, back[4] = {0, 0, 0, 0};
        nr = SYS_tgkill;
        __asm__ volatile("vmovupd %[lanes], %%ymm8\n\t"
                         "syscall\n\t"
                         "vmovupd %%ymm8, %[back]\n\t"
                         "vzeroupper\n\t"
                         : [back] "=m"(back), "+a"(nr)
                         : [lanes] "m"(lanes), "D"((long)getpid()), "S"((long)gettid_()), "d"((long)SIGUSR1)
                         : "rcx", "r11", "xmm8", "memory");
        CHECK(memcmp(lanes, back, sizeof lanes) == 0, "ymm8 changed across the handler");
    }
}

/* ---- sub-tests that end the process ---- */

static void no_core_dumps(void) {
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
}

static int die_sig;

static void die_raise(void) {
    no_core_dumps();
    signal(die_sig, SIG_DFL);
    unblock(die_sig);
    printf("%s: raising signal %d\n", current, die_sig);
    fflush(stdout);
    raise(die_sig);
}

/* A signal with its default action ends the process (or not). */
static void t_die(void) {
    die_raise();
    printf("die: survived signal %d\n", die_sig);
}

static void *die_thread_fn(void *arg) {
    (void)arg;
    die_raise();
    return NULL;
}

/* The same, raised in a second thread: the whole process ends. */
static void t_die_thread(void) {
    join(spawn(die_thread_fn, NULL));
    printf("die-thread: survived signal %d\n", die_sig);
}

/* Writing to a pipe nobody reads: SIGPIPE. */
static void t_die_pipe(void) {
    int p[2];
    no_core_dumps();
    if (pipe(p) != 0) return;
    close(p[0]);
    printf("die-pipe: writing to a pipe without readers\n");
    fflush(stdout);
    ssize_t n = write(p[1], "x", 1);
    printf("die-pipe: survived, write returned %zd\n", n);
}

static void abort_handler(int sig) {
    (void)sig;
    static const char msg[] = "die-abort: the SIGABRT handler returns\n";
    if (write(1, msg, sizeof msg - 1) < 0) _exit(99);
}

/* abort() ends the process by SIGABRT even when a handler returns. */
static void t_die_abort(void) {
    no_core_dumps();
    set_action(SIGABRT, abort_handler, 0);
    printf("die-abort: calling abort\n");
    fflush(stdout);
    abort();
}

/* ---- driver ---- */

static const struct {
    const char *name;
    void (*run)(void);
    int by_default;
} subtests[] = {
    {"sigaction", t_sigaction, 1},
    {"siginfo", t_siginfo, 1},
    {"mask", t_mask, 1},
    {"queue", t_queue, 1},
    {"nodefer", t_nodefer, 1},
    {"resethand", t_resethand, 1},
    {"ignore", t_ignore, 1},
    {"altstack", t_altstack, 1},
    {"altstack-fault", t_altstack_fault, 1},
    {"sigsuspend", t_sigsuspend, 1},
    {"sigtimedwait", t_sigtimedwait, 1},
    {"sigwaitinfo", t_sigwaitinfo, 1},
    {"tkill", t_tkill, 1},
    {"process", t_process, 1},
    {"alarm", t_alarm, 1},
    {"itimer", t_itimer, 1},
    {"eintr", t_eintr, 1},
    {"restart", t_restart, 1},
    {"restart-thread", t_restart_thread, 1},
    {"sleeps", t_sleeps, 1},
    {"timer", t_timer, 1},
    {"timer-edges", t_timer_edges, 1},
    {"segv", t_segv, 1},
    {"skip", t_skip, 1},
    {"fpe", t_fpe, 1},
    {"ill", t_ill, 1},
    {"trap", t_trap, 1},
    {"bus", t_bus, 1},
    {"overflow", t_overflow, 1},
    {"fpstate", t_fpstate, 1},
    {"timer-thread", t_timer_thread, 1}, /* last: glibc keeps a helper thread afterwards */
    {"die", t_die, 0},
    {"die-thread", t_die_thread, 0},
    {"die-pipe", t_die_pipe, 0},
    {"die-abort", t_die_abort, 0},
};

int main(int argc, char **argv) {
    const char *only_name = argc > 1 ? argv[1] : NULL;
    die_sig = argc > 2 ? atoi(argv[2]) : SIGTERM;
    int ran = 0, failed = 0;
    for (size_t i = 0; i < sizeof subtests / sizeof subtests[0]; i++) {
        if (only_name ? strcmp(only_name, subtests[i].name) != 0 : !subtests[i].by_default) continue;
        current = subtests[i].name;
        atomic_store(&failures, 0);
        reset();
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
        fprintf(stderr, "signals: unknown sub-test %s\n", only_name);
        return 100;
    }
    return failed;
}
