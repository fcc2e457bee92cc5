/* syslog(2)'s checks and the actions that change nothing (a native run
 * must not touch the host's console level): close, open, reads of nothing,
 * bad buffers and lengths, out-of-range console levels, an unknown action,
 * and EPERM for an unprivileged caller. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void try(const char *what, int type, char *buf, int len) {
    long r = syscall(SYS_syslog, type, buf, len);
    printf("%-28s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

int main(void) {
    char buf[64];
    try("close", 0, 0, 0);
    try("open", 1, 0, 0);
    try("read, length 0", 2, buf, 0);
    try("read, no buffer", 2, 0, 16);
    try("read all, length 0", 3, buf, 0);
    try("read all, length -1", 3, buf, -1);
    try("read and clear, no buffer", 4, 0, 8);
    try("console level 0", 8, 0, 0);
    try("console level 9", 8, 0, 9);
    try("console level -1", 8, 0, -1);
    try("action 100", 100, 0, 0);
    try("action -1", -1, 0, 0);
    fflush(stdout);
    if (fork() == 0) {
        if (setuid(65534) != 0) return 1;
        try("unprivileged close", 0, 0, 0);
        try("unprivileged read all", 3, buf, sizeof buf);
        try("unprivileged size", 10, 0, 0);
        fflush(stdout);
        _exit(0);
    }
    wait(0);
    return 0;
}
