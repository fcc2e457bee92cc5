// openat2 and its RESOLVE_* rules, and host symlinks that lead into the
// kernel's own files (/proc, /dev/null): each result printed as the name
// of the errno (or "ok" and what was opened), to compare with Linux.
// Run from a scratch directory it fills.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_BENEATH 0x08
#define RESOLVE_IN_ROOT 0x10
#define RESOLVE_CACHED 0x20

struct how {
    uint64_t flags, mode, resolve;
};

static const char *err_name(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EXDEV: return "EXDEV";
    case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL";
    case E2BIG: return "E2BIG";
    case EAGAIN: return "EAGAIN";
    case ENOTDIR: return "ENOTDIR";
    case EFAULT: return "EFAULT";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case EISDIR: return "EISDIR";
    default: return "other";
    }
}

// What the descriptor reads (its first line), so that where it led shows.
static void show(const char *what, long fd) {
    if (fd < 0) {
        printf("%-40s %s\n", what, err_name(errno));
        return;
    }
    char buf[64] = {0};
    ssize_t n = read((int)fd, buf, sizeof buf - 1);
    if (n > 0) {
        buf[strcspn(buf, "\n")] = 0;
        buf[13] = 0; // "Linux version", "Name:\topenat2": the same on both
    }
    printf("%-40s ok %s\n", what, n >= 0 ? buf : err_name(errno));
    close((int)fd);
}

static long o2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct how h = {flags, mode, resolve};
    return syscall(SYS_openat2, dirfd, path, &h, sizeof h);
}

int main(void) {
    mkdir("root", 0755);
    mkdir("root/sub", 0755);
    int f = open("root/file", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (f < 0 || write(f, "in root\n", 8) != 8)
        return 1;
    close(f);
    f = open("outside", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (f < 0 || write(f, "outside\n", 8) != 8)
        return 1;
    close(f);
    symlink("/file", "root/abs");            // absolute: the root's file under IN_ROOT
    symlink("../outside", "root/up");        // leaves root
    symlink("sub/../file", "root/rel");      // stays inside
    symlink("/proc/version", "root/version"); // into the kernel's /proc
    symlink("/dev/null", "root/null");
    // Relative, climbing to the root and down into /proc.
    char cwd[512], up[2048] = "../../";
    if (!getcwd(cwd, sizeof cwd))
        return 1;
    for (char *c = cwd; *c; c++)
        if (*c == '/')
            strcat(up, "../");
    symlink(strcat(up, "proc/self/status"), "root/sub/status");

    int root = open("root", O_DIRECTORY | O_RDONLY);
    if (root < 0)
        return 1;

    // Plain opens and the struct's checks.
    show("plain", o2(root, "file", O_RDONLY, 0, 0));
    struct how big[2] = {{O_RDONLY, 0, 0}, {0, 0, 0}};
    show("size 48, zero tail", syscall(SYS_openat2, root, "file", big, sizeof big));
    big[1].flags = 1;
    show("size 48, nonzero tail", syscall(SYS_openat2, root, "file", big, sizeof big));
    show("size 16", syscall(SYS_openat2, root, "file", big, (size_t)16));
    show("unknown flag", o2(root, "file", O_RDONLY | (1ULL << 40), 0, 0));
    show("unknown resolve", o2(root, "file", O_RDONLY, 0, 0x40));
    show("mode without O_CREAT", o2(root, "file", O_RDONLY, 0644, 0));
    show("mode beyond 07777", o2(root, "new", O_RDWR | O_CREAT, 010000, 0));
    show("beneath and in_root", o2(root, "file", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
    show("O_PATH with O_APPEND", o2(root, "file", O_PATH | O_APPEND, 0, 0));
    show("cached, O_CREAT", o2(root, "file", O_RDONLY | O_CREAT, 0644, RESOLVE_CACHED));
    show("bad dirfd", o2(99, "file", O_RDONLY, 0, 0));
    show("file as dirfd", o2(open("root/file", O_RDONLY), "x", O_RDONLY, 0, 0));

    // RESOLVE_BENEATH
    show("beneath file", o2(root, "file", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath sub/../file", o2(root, "sub/../file", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath ../outside", o2(root, "../outside", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath absolute name", o2(root, "/etc/hostname", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath absolute link", o2(root, "abs", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath link up", o2(root, "up", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath link rel", o2(root, "rel", O_RDONLY, 0, RESOLVE_BENEATH));
    show("beneath create", o2(root, "sub/made", O_RDWR | O_CREAT, 0600, RESOLVE_BENEATH));

    // RESOLVE_IN_ROOT
    show("in_root absolute link", o2(root, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("in_root absolute name", o2(root, "/file", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("in_root ../../file", o2(root, "../../file", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("in_root link up", o2(root, "up", O_RDONLY, 0, RESOLVE_IN_ROOT));
    show("in_root /proc/version", o2(root, "/proc/version", O_RDONLY, 0, RESOLVE_IN_ROOT));

    // RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS
    show("no_symlinks file", o2(root, "file", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("no_symlinks link", o2(root, "rel", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("no_symlinks link O_NOFOLLOW", o2(root, "rel", O_RDONLY | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
    long p = o2(root, "rel", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS);
    printf("%-40s %s\n", "no_symlinks link O_PATH|O_NOFOLLOW", p >= 0 ? "ok" : err_name(errno));
    if (p >= 0)
        close((int)p);
    show("no_symlinks /proc/self/status", o2(root, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
    show("no_magiclinks /proc/self/status", o2(root, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
    show("no_magiclinks /proc/self/exe", o2(root, "/proc/self/exe", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", root);
    show("no_magiclinks /proc/self/fd/N/file", o2(AT_FDCWD, strcat(fdpath, "/file"), O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
    show("magic fd link/file, no rules", o2(AT_FDCWD, fdpath, O_RDONLY, 0, 0));

    // RESOLVE_NO_XDEV
    show("no_xdev file", o2(root, "sub/../file", O_RDONLY, 0, RESOLVE_NO_XDEV));
    show("no_xdev /proc/version", o2(root, "/proc/version", O_RDONLY, 0, RESOLVE_NO_XDEV));
    show("no_xdev link to /proc", o2(root, "version", O_RDONLY, 0, RESOLVE_NO_XDEV));
    // A lookup not in the cache may be EAGAIN: either answer is Linux's.
    long c = o2(root, "file", O_RDONLY, 0, RESOLVE_CACHED);
    printf("%-40s %s\n", "cached file", c >= 0 || errno == EAGAIN ? "ok or EAGAIN" : err_name(errno));
    if (c >= 0)
        close((int)c);

    // Host symlinks into the kernel's files, through every kind of lookup.
    show("open link to /proc/version", o2(root, "version", O_RDONLY, 0, 0));
    show("open link to /dev/null", openat(root, "null", O_RDWR));
    show("open relative link to /proc", openat(root, "sub/status", O_RDONLY));
    struct stat st;
    printf("%-40s %s\n", "stat link to /dev/null",
           fstatat(root, "null", &st, 0) == 0 ? (S_ISCHR(st.st_mode) ? "chr" : "not chr") : err_name(errno));
    printf("%-40s %s\n", "lstat link to /dev/null",
           fstatat(root, "null", &st, AT_SYMLINK_NOFOLLOW) == 0 ? (S_ISLNK(st.st_mode) ? "lnk" : "not lnk")
                                                              : err_name(errno));
    printf("%-40s %s\n", "access link to /proc/version",
           faccessat(root, "version", R_OK, 0) == 0 ? "ok" : err_name(errno));
    symlink("/proc/self", "root/procself");
    printf("%-40s %s\n", "chdir through link to /proc/self", chdir("root/procself") == 0 ? "ok" : err_name(errno));
    show("  then open status", open("status", O_RDONLY));
    return 0;
}
