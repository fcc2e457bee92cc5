/* POSIX message queues: attributes, priorities, size and priority checks,
 * O_EXCL, non-blocking mode, timeouts, a blocked receive woken by another
 * process (which opens the queue by name), poll, read of the descriptor,
 * mq_notify's registration, unlink. Names carry the pid: native runs share
 * the host's queues. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }

static void show(const char *what, mqd_t q) {
    struct mq_attr a;
    if (mq_getattr(q, &a) < 0) {
        printf("%s: getattr %s\n", what, strerror(errno));
        return;
    }
    printf("%s: flags %s maxmsg %ld msgsize %ld curmsgs %ld\n", what, a.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0",
           a.mq_maxmsg, a.mq_msgsize, a.mq_curmsgs);
}

static struct timespec in_ms(long ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += ms * 1000000;
    t.tv_sec += t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

int main(void) {
    char name[64], missing[64];
    snprintf(name, sizeof name, "/hx-mqueue-%d", getpid());
    snprintf(missing, sizeof missing, "/hx-mqueue-missing-%d", getpid());
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    printf("create: %s\n", err(q));
    if (q < 0) return 1;
    show("fresh", q);
    printf("create again, O_EXCL: %s\n", err(mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0600, &attr)));
    printf("open missing: %s\n", err(mq_open(missing, O_RDWR)));
    struct mq_attr bad = {.mq_maxmsg = 0, .mq_msgsize = 64};
    printf("create with maxmsg 0: %s\n", err(mq_open(missing, O_CREAT | O_RDWR, 0600, &bad)));
    printf("access mode 3: %s\n", err(mq_open(name, 3)));

    printf("send prio 1: %s\n", err(mq_send(q, "one", 3, 1)));
    printf("send prio 5: %s\n", err(mq_send(q, "five!", 5, 5)));
    printf("send prio 3: %s\n", err(mq_send(q, "three", 5, 3)));
    char big[65] = {0};
    printf("send 65 bytes: %s\n", err(mq_send(q, big, 65, 0)));
    printf("send prio 32768: %s\n", err(mq_send(q, "x", 1, 32768)));
    show("three queued", q);
    char status[128] = {0};
    ssize_t n = read(q, status, sizeof status - 1);
    printf("read of the descriptor: %zd %.12s\n", n, status);
    struct pollfd p = {.fd = q, .events = POLLIN | POLLOUT};
    int ready = poll(&p, 1, 0);
    printf("poll: %d revents %#x\n", ready, p.revents);

    char buf[64];
    unsigned prio;
    printf("receive into 63 bytes: %s\n", err(mq_receive(q, buf, 63, &prio)));
    for (int i = 0; i < 3; i++) {
        n = mq_receive(q, buf, sizeof buf, &prio);
        printf("receive: %zd '%.*s' prio %u\n", n, (int)(n > 0 ? n : 0), buf, prio);
    }

    struct timespec t = in_ms(50);
    printf("timed receive on empty: %s\n", err(mq_timedreceive(q, buf, sizeof buf, &prio, &t)));
    struct timespec invalid = {.tv_sec = 0, .tv_nsec = 2000000000};
    mq_send(q, "here", 4, 0);
    printf("invalid timeout, a message waiting: %s\n", err(mq_timedreceive(q, buf, sizeof buf, &prio, &invalid)));
    mq_receive(q, buf, sizeof buf, &prio);

    struct mq_attr nb = {.mq_flags = O_NONBLOCK}, old;
    printf("set O_NONBLOCK: %s\n", err(mq_setattr(q, &nb, &old)));
    printf("old flags: %s\n", old.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0");
    show("non-blocking", q);
    printf("receive on empty: %s\n", err(mq_receive(q, buf, sizeof buf, &prio)));
    for (int i = 0; i < 4; i++) mq_send(q, "fill", 4, 0);
    printf("send to full: %s\n", err(mq_send(q, "more", 4, 0)));
    for (int i = 0; i < 4; i++) mq_receive(q, buf, sizeof buf, &prio);
    nb.mq_flags = 0;
    mq_setattr(q, &nb, 0);

    /* A receive waits for a message another process sends. */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        mqd_t c = mq_open(name, O_WRONLY);
        usleep(100000);
        mq_send(c, "from the child", 14, 7);
        _exit(0);
    }
    n = mq_receive(q, buf, sizeof buf, &prio);
    printf("blocking receive: %zd '%.*s' prio %u\n", n, (int)(n > 0 ? n : 0), buf, prio);
    waitpid(child, 0, 0);

    struct sigevent none = {.sigev_notify = SIGEV_NONE};
    printf("notify register: %s\n", err(mq_notify(q, &none)));
    fflush(stdout);
    child = fork();
    if (child == 0) {
        mqd_t c = mq_open(name, O_RDONLY);
        printf("notify from another process: %s\n", err(mq_notify(c, &none)));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, 0, 0);
    printf("notify register again: %s\n", err(mq_notify(q, &none)));
    printf("notify unregister: %s\n", err(mq_notify(q, 0)));
    printf("notify on a pipe: %s\n", err(mq_notify(0, &none)));

    printf("close: %s\n", err(mq_close(q)));
    printf("unlink: %s\n", err(mq_unlink(name)));
    printf("unlink again: %s\n", err(mq_unlink(name)));
    printf("getattr of stdin: %s\n", err(mq_getattr(0, &old)));
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    printf("getattr of a directory: %s\n", err(mq_getattr(dir, &old)));
    printf("send to a directory: %s\n", err(mq_send(dir, "x", 1, 0)));
    FILE *limits = fopen("/proc/sys/fs/mqueue/msgsize_max", "r");
    printf("/proc/sys/fs/mqueue/msgsize_max: %s\n", limits ? "present" : strerror(errno));
    return 0;
}
