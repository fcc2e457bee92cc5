// O_ASYNC: I/O signals to a descriptor's owner when it becomes readable
// (or writable), as Linux's kill_fasync sends them: F_SETSIG's signal with
// si_fd, si_code and si_band, or SIGIO; no owner, no signal. Pipes within
// the process, a pipe shared with a child that writes, and a socket pair.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int SIG;

static void expect(const char *what, int fd) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    sigaddset(&set, SIGIO);
    siginfo_t info;
    struct timespec limit = {5, 0};
    int sig = sigtimedwait(&set, &info, &limit);
    if (sig < 0) {
        printf("%-42s no signal\n", what);
        return;
    }
    const char *code = info.si_code == POLL_IN    ? "POLL_IN"
                       : info.si_code == POLL_OUT ? "POLL_OUT"
                       : info.si_code == SI_KERNEL ? "SI_KERNEL"
                                                   : "other";
    printf("%-42s %s, si_fd ok %d, %s, band %#lx\n", what, sig == SIGIO ? "SIGIO" : sig == SIG ? "F_SETSIG's" : "other",
           sig == SIGIO || info.si_fd == fd, code, sig == SIGIO ? 0L : (long)info.si_band);
}

static void none(const char *what) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    sigaddset(&set, SIGIO);
    struct timespec limit = {0, 200 * 1000 * 1000};
    printf("%-42s %s\n", what, sigtimedwait(&set, NULL, &limit) < 0 ? "no signal" : "a signal");
}

static void async_on(int fd, int sig, pid_t owner) {
    fcntl(fd, F_SETOWN, owner);
    fcntl(fd, F_SETSIG, sig);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
}

int main(void) {
    SIG = SIGRTMIN + 2;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIG);
    sigaddset(&set, SIGIO);
    sigprocmask(SIG_BLOCK, &set, NULL);
    char c;

    int p[2];
    pipe(p);
    async_on(p[0], SIG, getpid());
    printf("F_GETFL shows O_ASYNC: %d\n", (fcntl(p[0], F_GETFL) & O_ASYNC) != 0);
    write(p[1], "x", 1);
    expect("pipe read end, a write:", p[0]);
    async_on(p[1], SIG, getpid());
    read(p[0], &c, 1);
    expect("pipe write end, a read:", p[1]);
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) & ~O_ASYNC);
    fcntl(p[0], F_SETSIG, 0);
    write(p[1], "y", 1);
    expect("pipe read end, no F_SETSIG:", p[0]);
    read(p[0], &c, 1);
    fcntl(p[0], F_SETOWN, 0);
    write(p[1], "z", 1);
    none("no owner:");
    read(p[0], &c, 1);
    close(p[0]);
    close(p[1]);

    // Shared with a child, which writes.
    pipe(p);
    async_on(p[0], SIG, getpid());
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        usleep(100 * 1000);
        write(p[1], "c", 1);
        _exit(0);
    }
    expect("pipe shared with a writing child:", p[0]);
    waitpid(child, NULL, 0);

    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    async_on(s[0], SIG, getpid());
    write(s[1], "s", 1);
    expect("socket pair, the peer writes:", s[0]);
    return 0;
}
