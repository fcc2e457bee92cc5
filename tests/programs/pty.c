/* Pseudo-terminals and terminal ioctls, printed so that a native run and an
 * hx run compare line by line (no pty numbers, only relations): openpty,
 * ttyname/ptsname/stat agreeing, canonical and raw mode through
 * tcsetattr, window size set on one side and read on the other, FIONREAD
 * on a terminal and a pipe, the terminal commands a pipe refuses, and
 * forkpty: a child in its own session with the pty as its controlling
 * terminal (tcgetpgrp, tcgetsid, setsid refused), its output read from
 * the master. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "NO"); }

static int pending(int fd) {
    int n = -1;
    return ioctl(fd, FIONREAD, &n) == 0 ? n : -errno;
}

/* Reads from the master until `want` bytes or end of output. */
static int drain(int master, char *buf, int want) {
    int got = 0;
    while (got < want) {
        int n = read(master, buf + got, want - got);
        if (n <= 0) break;
        got += n;
    }
    buf[got] = 0;
    return got;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int master, slave;
    if (openpty(&master, &slave, NULL, NULL, NULL) != 0) { printf("openpty: %s\n", strerror(errno)); return 1; }
    check("slave is a terminal", isatty(slave));
    check("master is a terminal", isatty(master));
    char *name = ttyname(slave), *pts = ptsname(master);
    check("ttyname of the slave is ptsname of the master", name && pts && strcmp(name, pts) == 0);
    check("under /dev/pts/", pts && strncmp(pts, "/dev/pts/", 9) == 0);
    struct stat by_path, by_fd;
    check("stat of its name is the slave", stat(pts, &by_path) == 0 && fstat(slave, &by_fd) == 0 &&
          S_ISCHR(by_path.st_mode) && by_path.st_rdev == by_fd.st_rdev);
    int again = open(pts, O_RDWR | O_NOCTTY);
    check("its name opens again", again >= 0);
    close(again);

    /* Canonical mode: a line arrives whole, with echo off. */
    struct termios t;
    tcgetattr(slave, &t);
    check("canonical mode by default", (t.c_lflag & ICANON) != 0);
    t.c_lflag &= ~ECHO;
    check("tcsetattr", tcsetattr(slave, TCSANOW, &t) == 0);
    write(master, "line one\n", 9);
    char buf[2048];
    int n = read(slave, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    printf("canonical read: %d '%s'\n", n, strtok(buf, "\n"));

    /* Raw mode: bytes as they come, counted by FIONREAD. */
    struct termios raw = t;
    cfmakeraw(&raw);
    check("raw mode set", tcsetattr(slave, TCSAFLUSH, &raw) == 0);
    tcgetattr(slave, &t);
    check("raw mode read back", (t.c_lflag & (ICANON | ECHO)) == 0);
    write(master, "abc", 3);
    usleep(20000);
    printf("FIONREAD on the slave: %d\n", pending(slave));
    n = read(slave, buf, sizeof buf);
    printf("raw read: %d\n", n);
    check("tcflush", tcflush(slave, TCIOFLUSH) == 0);
    check("tcdrain", tcdrain(slave) == 0);

    struct winsize ws = {.ws_row = 33, .ws_col = 101};
    check("TIOCSWINSZ on the master", ioctl(master, TIOCSWINSZ, &ws) == 0);
    struct winsize back = {0};
    ioctl(slave, TIOCGWINSZ, &back);
    printf("window size seen on the slave: %dx%d\n", back.ws_row, back.ws_col);

    int p[2];
    pipe(p);
    write(p[1], "12345", 5);
    printf("FIONREAD on a pipe: %d\n", pending(p[0]));
    printf("tcgetattr on a pipe: %s\n", tcgetattr(p[0], &t) == 0 ? "ok" : strerror(errno));
    printf("tcgetpgrp on a pipe: %s\n", tcgetpgrp(p[0]) >= 0 ? "ok" : strerror(errno));
    printf("tcgetpgrp on a pty that is nobody's terminal: %s\n", tcgetpgrp(slave) >= 0 ? "ok" : strerror(errno));
    close(master);
    close(slave);

    /* /dev/tty names the caller's controlling terminal: a character device 5:0 for anyone. */
    struct stat dt;
    int dt_ok = stat("/dev/tty", &dt) == 0 && S_ISCHR(dt.st_mode);
    printf("/dev/tty: %s, device %u:%u\n", dt_ok ? "character device" : "missing", major(dt.st_rdev), minor(dt.st_rdev));
    printf("access to /dev/tty and /dev/ptmx: %d %d\n", access("/dev/tty", R_OK | W_OK), access("/dev/ptmx", R_OK | W_OK));

    /* forkpty: the child leads a new session on the pty. */
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    if (pid < 0) { printf("forkpty: %s\n", strerror(errno)); return 1; }
    if (pid == 0) {
        struct termios ct;
        tcgetattr(0, &ct);
        ct.c_oflag &= ~OPOST; /* no \r\n for \n */
        tcsetattr(0, TCSANOW, &ct);
        printf("child: stdin, stdout are terminals: %d %d\n", isatty(0), isatty(1));
        printf("child: session leader: %d\n", getsid(0) == getpid());
        printf("child: foreground group is mine: %d\n", tcgetpgrp(1) == getpgrp());
        printf("child: terminal's session is mine: %d\n", tcgetsid(1) == getsid(0));
        printf("child: setsid again: %s\n", setsid() < 0 ? strerror(errno) : "succeeded");
        printf("child: tcsetpgrp to my group: %d\n", tcsetpgrp(1, getpgrp()));
        printf("child: tcsetpgrp to no group: %s\n", tcsetpgrp(1, 99999) < 0 ? strerror(errno) : "succeeded");
        /* /dev/tty: the controlling terminal, whatever its name. */
        int tty = open("/dev/tty", O_RDWR);
        printf("child: /dev/tty opens: %d\n", tty >= 0);
        printf("child: /dev/tty is my terminal: %d\n", tty >= 0 && isatty(tty) && tcgetsid(tty) == getsid(0));
        if (tty >= 0) {
            fflush(stdout);
            dprintf(tty, "child: written through /dev/tty\n");
            close(tty);
        }
        fflush(stdout);
        _exit(7);
    }
    n = drain(master, buf, sizeof buf - 1);
    fputs(buf, stdout);
    int status;
    waitpid(pid, &status, 0);
    printf("child exit status: %d\n", WEXITSTATUS(status));
    return 0;
}
