// Files with no name: an O_TMPFILE file given a name with linkat (through
// /proc/self/fd/N, or AT_EMPTY_PATH), reopened through its magic link, a
// memory file reopened for writing, and the errors Linux gives (O_EXCL
// keeps a file nameless; a pipe is on another file system). Run from a
// scratch directory, as root (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *res(int r) {
    if (r >= 0)
        return "ok";
    return errno == ENOENT ? "ENOENT" : errno == EXDEV ? "EXDEV" : errno == EEXIST ? "EEXIST" : strerror(errno);
}

static void contents(const char *what, const char *name) {
    char buf[32] = {0};
    int fd = open(name, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    printf("%-40s %s\n", what, n >= 0 ? buf : "unreadable");
    if (fd >= 0)
        close(fd);
}

int main(void) {
    char link[64];
    int t = open(".", O_TMPFILE | O_RDWR, 0600);
    write(t, "first", 5);
    snprintf(link, sizeof link, "/proc/self/fd/%d", t);
    printf("%-40s %s\n", "linkat through /proc/self/fd:", res(linkat(AT_FDCWD, link, AT_FDCWD, "named1", AT_SYMLINK_FOLLOW)));
    contents("  named1 holds", "named1");
    printf("%-40s %s\n", "linkat to a name taken:", res(linkat(AT_FDCWD, link, AT_FDCWD, "named1", AT_SYMLINK_FOLLOW)));
    int t2 = open(".", O_TMPFILE | O_RDWR, 0600);
    write(t2, "second", 6);
    printf("%-40s %s\n", "linkat AT_EMPTY_PATH:", res(linkat(t2, "", AT_FDCWD, "named2", AT_EMPTY_PATH)));
    contents("  named2 holds", "named2");

    int t3 = open(".", O_TMPFILE | O_RDWR, 0600);
    write(t3, "third", 5);
    snprintf(link, sizeof link, "/proc/self/fd/%d", t3);
    int again = open(link, O_RDONLY);
    char buf[16] = {0};
    printf("%-40s %s, reads \"%s\"\n", "reopen through /proc/self/fd:", res(again), again >= 0 && pread(again, buf, 15, 0) >= 0 ? buf : "");
    printf("%-40s %s\n", "  a new description (offset 0):", lseek(again, 0, SEEK_CUR) == 0 && lseek(t3, 0, SEEK_CUR) == 5 ? "yes" : "no");

    int ex = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600);
    snprintf(link, sizeof link, "/proc/self/fd/%d", ex);
    printf("%-40s %s\n", "linkat of an O_EXCL O_TMPFILE file:", res(linkat(AT_FDCWD, link, AT_FDCWD, "named3", AT_SYMLINK_FOLLOW)));

    int p[2];
    pipe(p);
    snprintf(link, sizeof link, "/proc/self/fd/%d", p[0]);
    printf("%-40s %s\n", "linkat of a pipe:", res(linkat(AT_FDCWD, link, AT_FDCWD, "named4", AT_SYMLINK_FOLLOW)));

    int m = memfd_create("mem", 0);
    write(m, "memory", 6);
    snprintf(link, sizeof link, "/proc/self/fd/%d", m);
    int w = open(link, O_RDWR);
    printf("%-40s %s\n", "memfd reopened for writing:", res(w));
    if (w >= 0) {
        pwrite(w, "MEM", 3, 0);
        memset(buf, 0, sizeof buf);
        pread(m, buf, 15, 0);
        printf("%-40s %s\n", "  the same file:", buf);
    }
    unlink("named1");
    unlink("named2");
    return 0;
}
