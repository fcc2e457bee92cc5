// File leases: taking, reading back and refusing them as Linux does, and a
// lease broken by another process opening the file: the holder gets its
// signal (F_SETSIG's with si_fd, or SIGIO), gives the lease up, and the
// opener, which waited, goes on. Run from a scratch directory.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *res(int r) {
    if (r >= 0)
        return r == F_RDLCK ? "F_RDLCK" : r == F_WRLCK ? "F_WRLCK" : r == F_UNLCK ? "F_UNLCK" : "ok";
    return errno == EAGAIN ? "EAGAIN" : errno == EINVAL ? "EINVAL" : errno == EBADF ? "EBADF" : "other";
}

// A call's result: 0 as "ok" (F_SETLEASE), anything else by its errno.
static const char *ok(int r) { return r == 0 ? "ok" : res(r); }

static void broken_by_child(int sig_set, int opener_flags) {
    int fd = open("file", O_RDONLY);
    if (sig_set)
        fcntl(fd, F_SETSIG, SIGRTMIN + 1);
    printf("  read lease: %s\n", ok(fcntl(fd, F_SETLEASE, F_RDLCK)));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        int w = open("file", opener_flags);
        _exit(w >= 0 ? 0 : 1);
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    sigaddset(&set, SIGIO);
    siginfo_t info;
    struct timespec limit = {20, 0};
    int sig = sigtimedwait(&set, &info, &limit);
    if (sig < 0) {
        printf("  no signal\n");
    } else {
        printf("  signal %s, si_fd matches %d, si_code %s\n", sig == SIGIO ? "SIGIO" : sig == SIGRTMIN + 1 ? "F_SETSIG's" : "other",
               sig_set ? info.si_fd == fd : 1, info.si_code == POLL_MSG ? "POLL_MSG" : info.si_code == SI_KERNEL ? "SI_KERNEL" : "other");
    }
    printf("  unlock: %s\n", ok(fcntl(fd, F_SETLEASE, F_UNLCK)));
    int status;
    waitpid(child, &status, 0);
    printf("  the opener went on: %d\n", WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
}

int main(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN + 1);
    sigaddset(&set, SIGIO);
    sigprocmask(SIG_BLOCK, &set, NULL);
    close(open("file", O_CREAT | O_WRONLY | O_TRUNC, 0644));

    int rd = open("file", O_RDONLY);
    printf("no lease: %s\n", res(fcntl(rd, F_GETLEASE)));
    printf("read lease: %s\n", ok(fcntl(rd, F_SETLEASE, F_RDLCK)));
    printf("reads back: %s\n", res(fcntl(rd, F_GETLEASE)));
    printf("unlock: %s\n", ok(fcntl(rd, F_SETLEASE, F_UNLCK)));
    printf("bad type: %s\n", ok(fcntl(rd, F_SETLEASE, 7)));
    printf("write lease while only this one is open: %s\n", ok(fcntl(rd, F_SETLEASE, F_WRLCK)));
    fcntl(rd, F_SETLEASE, F_UNLCK);
    int other = open("file", O_RDONLY);
    printf("write lease with another open: %s\n", ok(fcntl(rd, F_SETLEASE, F_WRLCK)));
    close(other);
    int rw = open("file", O_RDWR);
    printf("read lease on a file open for writing: %s\n", ok(fcntl(rd, F_SETLEASE, F_RDLCK)));
    close(rw);
    close(rd);
    int p[2];
    pipe(p);
    printf("lease on a pipe: %s, reads back %s\n", ok(fcntl(p[0], F_SETLEASE, F_RDLCK)), res(fcntl(p[0], F_GETLEASE)));

    printf("broken by an open for writing, F_SETSIG:\n");
    broken_by_child(1, O_WRONLY);
    printf("broken by an open for writing, SIGIO:\n");
    broken_by_child(0, O_RDWR);
    return 0;
}
