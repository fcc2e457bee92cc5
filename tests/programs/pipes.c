/* Pipes and readiness: pipe2, poll, select, non-blocking reads, EOF, EPIPE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

static char data[1 << 20];
static long drained, drained_sum;

static void *drain(void *arg) {
    int fd = *(int *)arg;
    char b[1000];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) {
        for (ssize_t i = 0; i < n; i++) drained_sum += (unsigned char)b[i] * ((drained + i) % 251);
        drained += n;
    }
    return NULL;
}

static void on_alarm(int s) { (void)s; }

/* A blocking write larger than the pipe goes in whole while a reader
 * drains it; one a signal interrupts returns what went in; non-blocking
 * writes take what fits, and one of at most PIPE_BUF bytes all or nothing. */
static void big_writes(void) {
    long sum = 0;
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (char)(i * 7);
        sum += (unsigned char)data[i] * (long)(i % 251);
    }
    int p[2];
    pipe(p);
    pthread_t t;
    pthread_create(&t, NULL, drain, &p[0]);
    ssize_t w = write(p[1], data, sizeof data);
    close(p[1]);
    pthread_join(t, NULL);
    printf("big write: %zd, drained %ld, same bytes %d\n", w, drained, drained_sum == sum);
    close(p[0]);
    pipe(p);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    w = write(p[1], data, sizeof data);
    printf("interrupted write: %zd\n", w);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    w = write(p[1], data, 10);
    printf("full pipe: %zd %s\n", w, strerror(errno));
    char b[8192];
    read(p[0], b, sizeof b);
    w = write(p[1], data, 5000);
    printf("non-blocking write with room: %zd\n", w);
    w = write(p[1], data, 4096);
    printf("atomic write without room: %zd %s\n", w, strerror(errno));
    w = write(p[1], data, 0);
    printf("empty write: %zd\n", w);
    close(p[0]);
    w = write(p[1], data, 0);
    printf("empty write, no reader: %zd\n", w);
    close(p[1]);
}

/* Linux keeps a pipe's bytes in page buffers: small writes share a page
 * while they fit, a pipe is full when its slots are (not its bytes), and
 * a read makes room only when it empties a page. */
static void page_buffers(void) {
    static char b[70000];
    int p[2];
    pipe2(p, O_NONBLOCK);
    long total = 0;
    ssize_t w;
    while ((w = write(p[1], b, 100)) > 0) total += w;
    int queued = 0;
    ioctl(p[0], FIONREAD, &queued);
    printf("100-byte writes until full: %ld (%s), FIONREAD %d\n", total, strerror(errno), queued);
    struct pollfd out = {p[1], POLLOUT, 0};
    read(p[0], b, 3000);
    int ready = poll(&out, 1, 0);
    w = write(p[1], b, 1);
    printf("after reading part of a page: poll %d, write %zd\n", ready, w);
    read(p[0], b, 1000);
    ready = poll(&out, 1, 0);
    w = write(p[1], b, 5000);
    printf("after emptying the page: poll %d, write 5000: %zd\n", ready, w);
    int r = fcntl(p[1], F_SETPIPE_SZ, 4096);
    printf("shrink below what it holds: %d %s\n", r, strerror(errno));
    r = fcntl(p[1], F_SETPIPE_SZ, (1U << 31) + 1);
    printf("past 2^31: %d %s\n", r, strerror(errno));
    close(p[0]);
    close(p[1]);

    /* LTP's epoll_wait06: a one-page pipe, edge-triggered. */
    pipe2(p, O_NONBLOCK);
    printf("one page: %d\n", fcntl(p[1], F_SETPIPE_SZ, 4096));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = p[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev = (struct epoll_event){.events = EPOLLOUT | EPOLLET, .data.fd = p[1]};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    struct epoll_event got[2];
    int n = epoll_wait(ep, got, 2, 0);
    printf("empty: %d ready, writer %d\n", n, n > 0 && got[0].data.fd == p[1]);
    w = write(p[1], b, 4096);
    ssize_t more = write(p[1], b, 4096);
    printf("fill: %zd, more: %zd %s\n", w, more, strerror(errno));
    n = epoll_wait(ep, got, 2, 0);
    printf("ready: %d, reader %d\n", n, n > 0 && got[0].data.fd == p[0]);
    read(p[0], b, 2048);
    n = epoll_wait(ep, got, 2, 0);
    w = write(p[1], b, 1);
    printf("half read: %d ready, write 1: %zd\n", n, w);
    read(p[0], b, 2048);
    n = epoll_wait(ep, got, 2, 0);
    printf("emptied: %d ready, writer %d\n", n, n > 0 && got[0].data.fd == p[1] && (got[0].events & EPOLLOUT));
    /* A write of a page and a bit: the bit first, into the last page if it fits. */
    ssize_t a = write(p[1], b, 2000);
    ssize_t c = write(p[1], b, 6000);
    ssize_t d = write(p[1], b, 10);
    printf("2000: %zd, then 6000: %zd, then 10: %zd %s\n", a, c, d, strerror(errno));
    read(p[0], b, sizeof b);
    fcntl(p[1], F_SETPIPE_SZ, 65536);
    a = write(p[1], b, 2000);
    c = write(p[1], b, 6000);
    d = write(p[1], b, 3000);
    ioctl(p[0], FIONREAD, &queued);
    printf("2000, 6000, 3000 into 16 pages: %zd %zd %zd, FIONREAD %d\n", a, c, d, queued);
    close(ep);
    close(p[0]);
    close(p[1]);
}

int main(void) {
    int p[2];
    printf("pipe2: %d\n", pipe2(p, O_CLOEXEC));
    printf("cloexec: %d\n", fcntl(p[0], F_GETFD));
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}, {1, POLLOUT, 0}};
    int n = poll(fds, 3, 0);
    printf("poll: %d %x %x %x\n", n, fds[0].revents, fds[1].revents, fds[2].revents);
    write(p[1], "hello", 5);
    n = poll(fds, 1, 100);
    printf("poll after write: %d %x\n", n, fds[0].revents);
    char buf[16] = {0};
    ssize_t r = read(p[0], buf, sizeof buf);
    printf("read: %zd %s\n", r, buf);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    r = read(p[0], buf, 4);
    printf("empty nonblocking read: %zd %s\n", r, strerror(errno));
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(p[0], &rs);
    struct timeval tv = {0, 20000};
    printf("select timeout: %d\n", select(p[0] + 1, &rs, NULL, NULL, &tv));
    write(p[1], "x", 1);
    FD_SET(p[0], &rs);
    printf("select ready: %d %d\n", select(p[0] + 1, &rs, NULL, NULL, NULL), FD_ISSET(p[0], &rs));
    read(p[0], buf, 1);
    close(p[1]);
    printf("read at EOF: %zd\n", read(p[0], buf, 4));
    n = poll(fds, 1, 0);
    printf("poll at EOF: %d %x\n", n, fds[0].revents);
    signal(SIGPIPE, SIG_IGN);
    int q[2];
    pipe(q);
    close(q[0]);
    r = write(q[1], "x", 1);
    printf("write with no reader: %zd %s\n", r, strerror(errno));
    big_writes();
    page_buffers();
    return 0;
}
