/* pidfds, compared with Linux: pidfd_open's checks, a child's pidfd polling
 * readable only once it ended (poll and epoll), waitid(P_PIDFD) with and
 * without O_NONBLOCK, pidfd_send_signal (a signal to a child, a zombie, a
 * reaped one: ESRCH, bad flags, a descriptor that is no pidfd, a /proc/<pid>
 * directory, which Linux takes as a pidfd here only), and its
 * /proc/self/fd name. Raw syscalls: musl has no wrappers. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define PIDFD_NONBLOCK O_NONBLOCK

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
    return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static const char *err(int r) { return r < 0 ? strerror(errno) : "ok"; }
static int readable(int fd, int ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, ms);
    return n == 1 && (p.revents & POLLIN);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("pidfd_open(0): %s\n", err(pidfd_open(0, 0)));
    printf("pidfd_open(-1): %s\n", err(pidfd_open(-1, 0)));
    printf("pidfd_open(bad flags): %s\n", err(pidfd_open(getpid(), 1)));
    printf("pidfd_open(no such pid): %s\n", err(pidfd_open(4000000, 0)));
    int self = pidfd_open(getpid(), 0);
    printf("pidfd_open(self): %s, close-on-exec %d\n", err(self), (fcntl(self, F_GETFD) & FD_CLOEXEC) != 0);
    printf("self readable: %d\n", readable(self, 0));
    char buf[64];
    printf("read: %s\n", err(read(self, buf, 8)));
    char link[64] = {0}, path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", self);
    readlink(path, link, sizeof link - 1);
    printf("name: %s\n", link);
    printf("send_signal(bad flags): %s\n", err(pidfd_send_signal(self, 0, NULL, 0x100)));
    printf("send_signal(not a pidfd): %s\n", err(pidfd_send_signal(1, 0, NULL, 0)));
    printf("send_signal(self, 0): %s\n", err(pidfd_send_signal(self, 0, NULL, 0)));
    siginfo_t other;
    memset(&other, 0, sizeof other);
    other.si_signo = SIGUSR2;
    other.si_code = SI_QUEUE;
    printf("send_signal(info of another signal): %s\n", err(pidfd_send_signal(self, SIGUSR1, &other, 0)));
    snprintf(path, sizeof path, "/proc/%d", getpid());
    int dir = open(path, O_RDONLY | O_DIRECTORY);
    printf("send_signal(/proc/<pid> directory, 0): %s\n", err(pidfd_send_signal(dir, 0, NULL, 0)));
    printf("waitid(P_PIDFD, /proc/<pid> directory): %s\n", err(waitid(P_PIDFD, dir, NULL, WEXITED | WNOHANG)));

    /* A child that waits to be killed. */
    pid_t pid = fork();
    if (pid == 0) { pause(); _exit(3); }
    int fd = pidfd_open(pid, 0);
    printf("child readable while it runs: %d\n", readable(fd, 50));
    int efd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN}, out;
    epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev);
    printf("epoll while it runs: %d\n", epoll_wait(efd, &out, 1, 20));
    int nb = pidfd_open(pid, PIDFD_NONBLOCK);
    siginfo_t si = {0};
    printf("waitid(P_PIDFD, nonblocking) while it runs: %s\n", err(waitid(P_PIDFD, nb, &si, WEXITED)));
    printf("send_signal(child, SIGTERM): %s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 0)));
    printf("child readable once it ended: %d\n", readable(fd, 5000));
    printf("epoll once it ended: %d\n", epoll_wait(efd, &out, 1, 5000));
    printf("send_signal(zombie child): %s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 0)));
    int r = waitid(P_PIDFD, fd, &si, WEXITED);
    printf("waitid(P_PIDFD): %s, pid matches %d, code %d, status %d\n", err(r), si.si_pid == pid, si.si_code, si.si_status);
    printf("waitid(P_PIDFD) again: %s\n", err(waitid(P_PIDFD, fd, &si, WEXITED)));
    printf("send_signal(reaped child): %s\n", err(pidfd_send_signal(fd, SIGTERM, NULL, 0)));
    printf("waitid(P_PIDFD, not a pidfd): %s\n", err(waitid(P_PIDFD, 1, &si, WEXITED)));

    /* A child killed by SIGKILL: its pidfd polls readable before any wait. */
    pid = fork();
    if (pid == 0) { pause(); _exit(4); }
    fd = pidfd_open(pid, 0);
    kill(pid, SIGKILL);
    printf("readable after SIGKILL: %d\n", readable(fd, 5000));
    r = waitid(P_PIDFD, fd, &si, WEXITED);
    printf("killed: code %d, signal %d\n", si.si_code, si.si_status);

    /* A child that ends on its own, waited for through poll alone. */
    pid = fork();
    if (pid == 0) { usleep(100000); _exit(5); }
    fd = pidfd_open(pid, 0);
    printf("poll until it ends: %d\n", readable(fd, -1));
    r = waitid(P_PIDFD, fd, &si, WEXITED);
    printf("its status: %d\n", si.si_status);
    return 0;
}
