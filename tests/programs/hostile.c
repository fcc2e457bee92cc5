/* What a hostile program tries with ordinary syscalls; prints each result.
 *   metadata FILE     fchmod/futimens/ftruncate through an O_RDONLY descriptor
 *   nested DIR        rename DIR (an ancestor of a read-only mount), then write below it
 *   setid DIR         create and chmod files and directories with set-id bits
 *   whiteout DIR      renameat2(RENAME_WHITEOUT), which makes a device node
 *   emfile FILE       open FILE until it fails
 *   memfd             grow memory files past any guest's RAM
 *   stdin             block reading stdin
 *   poll              block in poll on stdin */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *res(long r) { return r < 0 ? strerror(errno) : "ok"; }

static void mode_of(const char *path) {
    struct stat st;
    if (stat(path, &st)) printf("stat %s: %s\n", path, strerror(errno));
    else printf("mode %s: %o\n", path, st.st_mode & 07777);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *what = argv[1], *arg = argc > 2 ? argv[2] : ".";
    char path[512];
    if (!strcmp(what, "metadata")) {
        int fd = open(arg, O_RDONLY);
        printf("open: %s\n", res(fd));
        printf("fchmod: %s\n", res(fchmod(fd, 04777)));
        struct timespec ts[2] = {{1, 0}, {1, 0}};
        printf("futimens: %s\n", res(futimens(fd, ts)));
        printf("chmod: %s\n", res(chmod(arg, 0777)));
        printf("utimensat: %s\n", res(utimensat(AT_FDCWD, arg, ts, 0)));
        printf("truncate: %s\n", res(truncate(arg, 0)));
    } else if (!strcmp(what, "nested")) {
        snprintf(path, sizeof path, "%s.moved", arg);
        printf("rename ancestor: %s\n", res(rename(arg, path)));
        snprintf(path, sizeof path, "%s.moved/ro/file.txt", arg);
        int fd = open(path, O_WRONLY | O_TRUNC);
        printf("open for writing: %s\n", res(fd));
        if (fd >= 0) printf("write: %s\n", res(write(fd, "PWNED", 5)));
        printf("chmod: %s\n", res(chmod(path, 0777)));
        printf("unlink: %s\n", res(unlink(path)));
        snprintf(path, sizeof path, "%s.moved/ro/new.txt", arg);
        printf("create: %s\n", res(open(path, O_CREAT | O_WRONLY, 0644)));
        snprintf(path, sizeof path, "%s.moved/ro", arg);
        char to[600];
        snprintf(to, sizeof to, "%s.moved/elsewhere", arg);
        printf("rename the mount: %s\n", res(rename(path, to)));
        printf("rmdir the mount: %s\n", res(rmdir(path)));
    } else if (!strcmp(what, "setid")) {
        snprintf(path, sizeof path, "%s/suid", arg);
        close(open(path, O_CREAT | O_WRONLY, 04755));
        mode_of(path);
        printf("chmod: %s\n", res(chmod(path, 06755)));
        mode_of(path);
        int fd = open(path, O_RDONLY);
        printf("fchmod: %s\n", res(fchmod(fd, 04711)));
        mode_of(path);
        snprintf(path, sizeof path, "%s/sgid-dir", arg);
        printf("mkdir: %s\n", res(mkdir(path, 02775)));
        mode_of(path);
    } else if (!strcmp(what, "whiteout")) {
        snprintf(path, sizeof path, "%s/a", arg);
        close(open(path, O_CREAT | O_WRONLY, 0644));
        char to[600];
        snprintf(to, sizeof to, "%s/b", arg);
        long r = syscall(SYS_renameat2, AT_FDCWD, path, AT_FDCWD, to, 4 /* RENAME_WHITEOUT */);
        printf("renameat2 whiteout: %s\n", res(r));
        r = syscall(SYS_renameat2, AT_FDCWD, path, AT_FDCWD, to, 0x80);
        printf("renameat2 unknown flag: %s\n", res(r));
    } else if (!strcmp(what, "emfile")) {
        int n = 0;
        while (open(arg, O_RDONLY) >= 0) n++;
        printf("opened %s %d times, then: %s\n", arg, n >= 1000 ? 1000 : n, strerror(errno));
        printf("at least 60: %d\n", n >= 60);
    } else if (!strcmp(what, "memfd")) {
        /* Far more than the guest's RAM: a host with that much would run out. */
        const off_t huge = (off_t)1 << 50;
        int a = syscall(SYS_memfd_create, "a", 0), b = syscall(SYS_memfd_create, "b", 0);
        printf("fallocate past RAM: %s\n", res(fallocate(a, 0, 0, huge)));
        printf("ftruncate (sparse): %s\n", res(ftruncate(a, huge)));
        static char chunk[1 << 20];
        memset(chunk, 7, sizeof chunk);
        long written = 0;
        /* Two files, so the limit is on what they hold together. */
        for (int i = 0; i < 4096; i++) {
            int fd = i % 2 ? a : b;
            if (pwrite(fd, chunk, sizeof chunk, (off_t)(i / 2) << 20) != (ssize_t)sizeof chunk) break;
            written += sizeof chunk;
        }
        printf("writes stopped at %ld MiB: %s\n", written >> 20, strerror(errno));
        printf("a small write still works: %s\n", res(pwrite(b, "x", 1, 0)));
    } else if (!strcmp(what, "stdin")) {
        char c;
        printf("blocking\n");
        fflush(stdout);
        printf("read: %zd\n", read(0, &c, 1));
    } else if (!strcmp(what, "poll")) {
        struct pollfd p = {0, POLLIN, 0};
        printf("blocking\n");
        fflush(stdout);
        printf("poll: %d\n", poll(&p, 1, -1));
    } else {
        return 2;
    }
    return 0;
}
