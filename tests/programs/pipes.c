/* Pipes and readiness: pipe2, poll, select, non-blocking reads, EOF, EPIPE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

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
    return 0;
}
