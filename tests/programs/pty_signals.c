// A pty's line discipline signals the foreground process group of the
// session whose controlling terminal it is: ^C (SIGINT), ^\ (SIGQUIT) and
// ^Z (SIGTSTP) written to the master with ISIG on, a new window size
// (SIGWINCH); with ISIG off ^C is a byte the reader gets. A process in a
// background group gets none of them. In hx these signals never came
// (an interactive shell under `script` could not interrupt a command).
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int report;

static void on_signal(int sig) {
    char b = (char)sig;
    write(report, &b, 1);
}

static void child(const char *slave_name, int to_parent, int go, int background) {
    report = to_parent;
    setsid();
    int s = open(slave_name, O_RDWR);
    ioctl(s, TIOCSCTTY, 0);
    int sigs[] = {SIGINT, SIGQUIT, SIGTSTP, SIGWINCH};
    for (int i = 0; i < 4; i++)
        signal(sigs[i], on_signal);
    if (background) {
        // A second process in a group of its own: not the foreground one.
        if (fork() == 0) {
            setpgid(0, 0);
            close(go);
            for (int i = 0; i < 25; i++)
                usleep(100000);
            _exit(0);
        }
    }
    char b;
    read(go, &b, 1); // ISIG off now
    struct termios t;
    tcgetattr(s, &t);
    t.c_lflag &= ~(ISIG | ICANON);
    tcsetattr(s, TCSANOW, &t);
    write(to_parent, "R", 1);
    char got;
    if (read(s, &got, 1) == 1)
        dprintf(to_parent, "B%d", got);
    read(go, &b, 1);
    _exit(0);
}

static void expect(int from_child, const char *what) {
    char b = 0;
    struct timeval tv = {2, 0};
    fd_set r;
    FD_ZERO(&r);
    FD_SET(from_child, &r);
    if (select(from_child + 1, &r, NULL, NULL, &tv) == 1 && read(from_child, &b, 1) == 1)
        printf("%s: %s\n", what, b == 'R' ? "ready" : b == 'B' ? "byte" : strsignal(b));
    else
        printf("%s: nothing\n", what);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    grantpt(m);
    unlockpt(m);
    char name[64];
    ptsname_r(m, name, sizeof name);
    int up[2], down[2];
    pipe(up);
    pipe(down);
    pid_t c = fork();
    if (c == 0) {
        close(up[0]);
        close(down[1]);
        child(name, up[1], down[0], 1);
    }
    close(up[1]);
    close(down[0]);
    usleep(200000);
    write(m, "\x03", 1);
    expect(up[0], "^C");
    write(m, "\x1c", 1);
    expect(up[0], "^\\");
    write(m, "\x1a", 1);
    expect(up[0], "^Z");
    struct winsize w = {.ws_row = 33, .ws_col = 99};
    ioctl(m, TIOCSWINSZ, &w);
    expect(up[0], "new window size");
    ioctl(m, TIOCSWINSZ, &w);
    expect(up[0], "the same window size again");
    write(down[1], "g", 1);
    expect(up[0], "ISIG off");
    write(m, "\x03", 1);
    expect(up[0], "^C without ISIG");
    char n[8] = {0};
    read(up[0], n, sizeof n - 1);
    printf("the byte read: %s\n", n);
    write(down[1], "gg", 2);
    int status;
    waitpid(c, &status, 0);
    printf("child exit: %d\n", WEXITSTATUS(status));
    return 0;
}
