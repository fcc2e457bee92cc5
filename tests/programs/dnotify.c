/* dnotify (fcntl F_NOTIFY): a directory's changes as signals — F_SETSIG's
 * real-time signal with si_fd, si_code and si_band, plain SIGIO without it,
 * multishot and one-shot registrations and how a second F_NOTIFY adds to
 * the first, events not asked for, and the errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static sigset_t waited;

/* The next signal within `ms` (or -1 with the errno). */
static int next(siginfo_t *si, long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    return sigtimedwait(&waited, si, &t);
}

static void touch(const char *path) { close(open(path, O_CREAT | O_WRONLY, 0644)); }

int main(void) {
    mkdir("w", 0755);
    int d = open("w", O_RDONLY | O_DIRECTORY);
    sigemptyset(&waited);
    sigaddset(&waited, SIGRTMIN + 1);
    sigaddset(&waited, SIGIO);
    sigprocmask(SIG_BLOCK, &waited, NULL);
    printf("F_NOTIFY with DN_MULTISHOT alone: %d\n", fcntl(d, F_NOTIFY, DN_MULTISHOT));
    int f = open("plain", O_CREAT | O_WRONLY, 0644);
    int r = fcntl(f, F_NOTIFY, DN_CREATE);
    printf("F_NOTIFY on a file: %d errno %d\n", r, r < 0 ? errno : 0);
    printf("F_NOTIFY with an unknown bit: %d\n", fcntl(d, F_NOTIFY, 0x1000));
    printf("F_SETSIG: %d\n", fcntl(d, F_SETSIG, SIGRTMIN + 1));
    printf("F_NOTIFY DN_CREATE|DN_MULTISHOT: %d\n", fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
    touch("w/a");
    siginfo_t si;
    int sig = next(&si, 2000);
    printf("create: F_SETSIG's signal %d, si_fd is the directory %d, si_code %d, si_band %#lx\n", sig == SIGRTMIN + 1,
           si.si_fd == d, si.si_code, si.si_band);
    touch("w/b");
    printf("another create: %d\n", next(&si, 2000) == SIGRTMIN + 1);
    unlink("w/a");
    sig = next(&si, 200);
    printf("a delete, not asked for: %d errno %d\n", sig, sig < 0 ? errno : 0);
    fcntl(d, F_SETSIG, 0);
    printf("F_NOTIFY DN_DELETE (adds to the registration): %d\n", fcntl(d, F_NOTIFY, DN_DELETE));
    unlink("w/b");
    sig = next(&si, 2000);
    printf("delete: SIGIO %d, si_code %d\n", sig == SIGIO, si.si_code);
    touch("w/c");
    printf("create again (still multishot): SIGIO %d\n", next(&si, 2000) == SIGIO);
    printf("F_NOTIFY 0 (removes it): %d\n", fcntl(d, F_NOTIFY, 0));
    unlink("w/c");
    sig = next(&si, 200);
    printf("after the removal: %d errno %d\n", sig, sig < 0 ? errno : 0);
    int one = open("w", O_RDONLY | O_DIRECTORY);
    printf("one-shot DN_CREATE on another descriptor: %d\n", fcntl(one, F_NOTIFY, DN_CREATE));
    touch("w/d");
    printf("first create: SIGIO %d\n", next(&si, 2000) == SIGIO);
    touch("w/e");
    sig = next(&si, 200);
    printf("second create, after the one shot: %d errno %d\n", sig, sig < 0 ? errno : 0);
    printf("closed descriptor's registration: %d\n", fcntl(one, F_NOTIFY, DN_DELETE | DN_MULTISHOT));
    close(one);
    unlink("w/d");
    sig = next(&si, 200);
    printf("a delete after its close: %d errno %d\n", sig, sig < 0 ? errno : 0);
    /* The signal is pending when the change returns (LTP fcntl38): the
     * directory and, for DN_ATTRIB on a subdirectory, its parent too. */
    mkdir("w/sub", 0700);
    int parent = open("w", O_RDONLY | O_DIRECTORY), sub = open("w/sub", O_RDONLY | O_DIRECTORY);
    fcntl(parent, F_SETSIG, SIGRTMIN + 1);
    fcntl(sub, F_SETSIG, SIGRTMIN + 1);
    fcntl(parent, F_NOTIFY, DN_ATTRIB | DN_MULTISHOT);
    fcntl(sub, F_NOTIFY, DN_ATTRIB | DN_MULTISHOT);
    chmod("w/sub", 0755);
    int on_parent = 0, on_sub = 0;
    while (next(&si, 0) == SIGRTMIN + 1) {
        on_parent += si.si_fd == parent;
        on_sub += si.si_fd == sub;
    }
    printf("chmod of a watched subdirectory, pending at its return: parent %d, itself %d\n", on_parent, on_sub);
    close(parent);
    close(sub);
    rmdir("w/sub");
    unlink("w/e");
    rmdir("w");
    unlink("plain");
    return 0;
}
