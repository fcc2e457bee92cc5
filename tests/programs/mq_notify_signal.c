// mq_notify with SIGEV_SIGNAL: a message into an empty queue signals the
// registered process once (SI_MESGQ, the sender's pid, the value it asked
// for), from another process or from itself; a second registration is
// EBUSY; mq_notify(NULL) unregisters. With SIGEV_THREAD the C library's
// thread runs the function with its value (glibc and musl take the
// kernel's cookie on a netlink socket). hx answered ENOSYS to both.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static mqd_t q;
static volatile sig_atomic_t handled_value = -1;

static void handler(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    if (si->si_code == SI_MESGQ)
        handled_value = si->si_value.sival_int;
}

static int thread_pipe[2];

static void in_thread(union sigval v) {
    write(thread_pipe[1], &v.sival_int, sizeof v.sival_int);
}

static void thread_notified(const char *what) {
    int v = -1;
    struct timeval tv = {2, 0};
    fd_set r;
    FD_ZERO(&r);
    FD_SET(thread_pipe[0], &r);
    if (select(thread_pipe[0] + 1, &r, NULL, NULL, &tv) == 1)
        read(thread_pipe[0], &v, sizeof v);
    printf("%s: the thread ran with %d\n", what, v);
}

static void wait_for(const char *what, pid_t from) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    siginfo_t si;
    struct timespec t = {0, 500000000};
    int s = sigtimedwait(&set, &si, &t);
    if (s < 0)
        printf("%s: no signal\n", what);
    else
        printf("%s: SIGUSR1 %s, from %s, value %d\n", what, si.si_code == SI_MESGQ ? "SI_MESGQ" : "other",
               si.si_pid == from ? "the sender" : "someone else", si.si_value.sival_int);
}

static void drain(void) {
    char buf[64];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    while (mq_timedreceive(q, buf, sizeof buf, NULL, &now) >= 0)
        ;
}

static void notify(int value) {
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
    sev.sigev_value.sival_int = value;
    printf("register %d: %d\n", value, mq_notify(q, &sev));
}

int main(void) {
    char name[64];
    snprintf(name, sizeof name, "/hx-mq-notify-%d", getpid());
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 16};
    q = mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &attr);
    if (q == (mqd_t)-1) {
        perror("mq_open");
        return 1;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);

    notify(42);
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
        int r = mq_notify(q, &sev);
        printf("another process registers: %d %s\n", r, r ? strerror(errno) : "");
        fflush(stdout);
        mq_send(q, "a", 1, 0);
        mq_send(q, "b", 1, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    wait_for("a message from another process", c);
    wait_for("a second message (the registration is used up)", c);
    drain();

    notify(7);
    mq_send(q, "c", 1, 0);
    wait_for("its own message", getpid());
    drain();

    notify(8);
    printf("unregister: %d\n", mq_notify(q, NULL));
    mq_send(q, "d", 1, 0);
    wait_for("after unregistering", getpid());
    drain();

    struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO};
    sigaction(SIGUSR2, &sa, NULL);
    struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    sev.sigev_value.sival_int = 99;
    mq_notify(q, &sev);
    fflush(stdout);
    if ((c = fork()) == 0) {
        mq_send(q, "e", 1, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    for (int i = 0; i < 100 && handled_value < 0; i++)
        usleep(10000);
    printf("handler got value: %d\n", (int)handled_value);
    drain();

    pipe(thread_pipe);
    struct sigevent tsev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = in_thread};
    tsev.sigev_value.sival_int = 5;
    printf("register a thread: %d\n", mq_notify(q, &tsev));
    printf("unregister it: %d\n", mq_notify(q, NULL));
    tsev.sigev_value.sival_int = 6;
    printf("register a thread again: %d\n", mq_notify(q, &tsev));
    fflush(stdout);
    if ((c = fork()) == 0) {
        mq_send(q, "f", 1, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    thread_notified("a message from another process");
    mq_unlink(name);
    return 0;
}
