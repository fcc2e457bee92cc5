/* Smaller calls, each printed with its result and errno: mlock family,
 * mincore, preadv2/pwritev2, readahead, utime/utimes/futimesat,
 * personality, copy_file_range, ioprio_get/ioprio_set, sync/syncfs,
 * sync_file_range, restart_syscall, the old getdents. Run in a scratch
 * directory given as argv[1]. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "show.h"
#include <utime.h>


static void show_times(const char *path) {
    struct stat st;
    stat(path, &st);
    printf("  times: %ld.%09ld %ld.%09ld\n", (long)st.st_atime, st.st_atim.tv_nsec, (long)st.st_mtime,
           st.st_mtim.tv_nsec);
}

/* The old getdents record: the name at offset 18, the type in the last byte. */
struct old_dirent {
    unsigned long d_ino, d_off;
    unsigned short d_reclen;
    char d_name[];
};

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void show_old_getdents(void) {
    mkdir("dents", 0755);
    close(open("dents/a-file", O_CREAT | O_WRONLY, 0644));
    mkdir("dents/a-dir", 0755);
    symlink("a-file", "dents/a-link");
    int d = open("dents", O_RDONLY | O_DIRECTORY);
    char buf[4096];
    char *lines[16];
    int n = 0;
    long got;
    while ((got = syscall(SYS_getdents, d, buf, sizeof buf)) > 0) {
        for (long at = 0; at < got && n < 16;) {
            struct old_dirent *e = (struct old_dirent *)(buf + at);
            char type = buf[at + e->d_reclen - 1];
            lines[n] = malloc(300);
            snprintf(lines[n], 300, "  %s type %d inode %s", e->d_name, type, e->d_ino ? "set" : "0");
            n++;
            at += e->d_reclen;
        }
    }
    SHOW("getdents at the end", got);
    qsort(lines, n, sizeof lines[0], by_name);
    for (int i = 0; i < n; i++) printf("%s\n", lines[i]);
    SHOW("getdents with a tiny buffer", (lseek(d, 0, SEEK_SET), syscall(SYS_getdents, d, buf, 8)));
    SHOW("getdents of a file", syscall(SYS_getdents, open("dents/a-file", O_RDONLY), buf, sizeof buf));
    close(d);
}

/* VmLck in /proc/self/status, kB. */
static long vm_lck_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmLck: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) return 2;
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(0, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m[0] = 1;
    SHOW("mlock", mlock(m, 2 * page));
    SHOW("munlock", munlock(m, 2 * page));
    SHOW("mlock2 MLOCK_ONFAULT", mlock2(m, page, MLOCK_ONFAULT));
    munmap(m + 2 * page, page);
    SHOW("mlock over a hole", mlock(m, 4 * page));
    SHOW("munlock over a hole", munlock(m, 4 * page));
    SHOW("mlock2 bad flags", mlock2(m, page, 8));
    SHOW("mlockall(0)", mlockall(0));
    SHOW("mlockall(MCL_ONFAULT)", mlockall(MCL_ONFAULT));
    SHOW("munlockall", munlockall());
    unsigned char v[4] = {9, 9, 9, 9};
    SHOW("mincore unaligned", mincore(m + 1, page, v));
    SHOW("mincore over a hole", mincore(m, 4 * page, v));
    SHOW("mincore of a touched page", mincore(m, page, v));
    printf("  resident: %d\n", v[0] & 1);

    int fd = open("misc.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec out[2] = {{"hello ", 6}, {"world\n", 6}};
    SHOW("pwritev2 at -1", pwritev2(fd, out, 2, -1, 0));
    SHOW("position", lseek(fd, 0, SEEK_CUR));
    SHOW("pwritev2 at 0, RWF_DSYNC", pwritev2(fd, out, 1, 0, RWF_DSYNC));
    SHOW("pwritev2 at 6, RWF_SYNC|RWF_HIPRI", pwritev2(fd, out + 1, 1, 6, RWF_SYNC | RWF_HIPRI));
    char a[4] = {0}, b[8] = {0};
    struct iovec in[2] = {{a, 3}, {b, 7}};
    SHOW("preadv2 at 2", preadv2(fd, in, 2, 2, 0));
    printf("  '%s' '%s'\n", a, b);
    lseek(fd, 1, SEEK_SET);
    SHOW("preadv2 at -1", preadv2(fd, in, 2, -1, 0));
    SHOW("position", lseek(fd, 0, SEEK_CUR));
    SHOW("preadv2 at -2", preadv2(fd, in, 2, -2, 0));
    SHOW("readahead", readahead(fd, 0, 4096));
    int p[2];
    pipe(p);
    SHOW("readahead of a pipe", readahead(p[0], 0, 10));
    SHOW("readahead of a bad fd", readahead(99, 0, 10));
    int wo = open("misc.txt", O_WRONLY);
    SHOW("readahead of a write-only fd", readahead(wo, 0, 10));

    struct utimbuf ub = {1000000000, 1100000000};
    SHOW("utime", utime("misc.txt", &ub));
    show_times("misc.txt");
    struct timeval tv[2] = {{1200000000, 5}, {1300000000, 999999}};
    SHOW("utimes", utimes("misc.txt", tv));
    show_times("misc.txt");
    tv[1].tv_sec = 1400000000;
    SHOW("futimesat", futimesat(AT_FDCWD, "misc.txt", tv));
    show_times("misc.txt");
    tv[0].tv_usec = 1000000;
    SHOW("utimes with 10^6 microseconds", utimes("misc.txt", tv));
    SHOW("utime of a missing file", utime("missing.txt", &ub));
    SHOW("utime to now", utime("misc.txt", NULL));

    SHOW("personality query", personality(0xffffffff));
    SHOW("personality ADDR_NO_RANDOMIZE", personality(ADDR_NO_RANDOMIZE));
    SHOW("personality query", personality(0xffffffff));
    SHOW("personality back to PER_LINUX", personality(PER_LINUX));

    int src = open("src.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(src, "0123456789abcdefghij", 20);
    int dst = open("dst.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    loff_t oi = 5, oo = 2;
    SHOW("copy_file_range with offsets", copy_file_range(src, &oi, dst, &oo, 8, 0));
    printf("  offsets now %ld %ld\n", (long)oi, (long)oo);
    lseek(src, 10, SEEK_SET);
    SHOW("copy_file_range at the positions", copy_file_range(src, NULL, dst, NULL, 100, 0));
    SHOW("  source position", lseek(src, 0, SEEK_CUR));
    SHOW("  destination position", lseek(dst, 0, SEEK_CUR));
    char got[32] = {0};
    SHOW("  destination bytes", pread(dst, got, sizeof got - 1, 0));
    for (int i = 0; i < 31; i++) if (got[i] == 0) got[i] = '.';
    printf("  '%s'\n", got);
    SHOW("copy_file_range at the end", copy_file_range(src, NULL, dst, NULL, 100, 0));
    SHOW("copy_file_range flags 1", copy_file_range(src, NULL, dst, NULL, 1, 1));
    oi = 0; oo = 4;
    SHOW("copy_file_range overlapping", copy_file_range(src, &oi, src, &oo, 8, 0));
    SHOW("copy_file_range to a pipe", copy_file_range(src, NULL, p[1], NULL, 1, 0));
    int app = open("dst.txt", O_WRONLY | O_APPEND);
    SHOW("copy_file_range to O_APPEND", copy_file_range(src, &oi, app, NULL, 1, 0));

    SHOW("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    SHOW("ioprio_set idle", syscall(SYS_ioprio_set, 1, 0, 3 << 13));
    SHOW("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    SHOW("ioprio_set best-effort 7", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 7));
    SHOW("ioprio_get", syscall(SYS_ioprio_get, 1, 0));
    SHOW("ioprio_set best-effort 8", syscall(SYS_ioprio_set, 1, 0, (2 << 13) | 8));
    SHOW("ioprio_set class 5", syscall(SYS_ioprio_set, 1, 0, 5 << 13));
    SHOW("ioprio_set none, level 1", syscall(SYS_ioprio_set, 1, 0, 1));
    SHOW("ioprio_get bad which", syscall(SYS_ioprio_get, 7, 0));

    sync();
    printf("sync returned\n");
    SHOW("syncfs of a file", syncfs(fd));
    SHOW("syncfs of a pipe", syncfs(p[0]));
    SHOW("syncfs of a bad fd", syncfs(99));

    SHOW("sync_file_range WRITE", sync_file_range(fd, 0, 6, SYNC_FILE_RANGE_WRITE));
    SHOW("sync_file_range all three", sync_file_range(fd, 0, 0, 7));
    SHOW("sync_file_range no flags", sync_file_range(fd, 2, 2, 0));
    SHOW("sync_file_range bad flags", sync_file_range(fd, 0, 6, 8));
    SHOW("sync_file_range negative offset", sync_file_range(fd, -1, 6, 1));
    SHOW("sync_file_range negative length", sync_file_range(fd, 0, -6, 1));
    SHOW("sync_file_range of a pipe", sync_file_range(p[1], 0, 6, 1));
    SHOW("sync_file_range of a bad fd", sync_file_range(99, 0, 6, 1));
    SHOW("restart_syscall", syscall(SYS_restart_syscall));
    show_old_getdents();
    /* Flags a stat call refuses (EINVAL), and the sync types statx allows one of. */
    struct stat st;
    char sx[256];
    SHOW("newfstatat, unknown flags 9999", syscall(SYS_newfstatat, AT_FDCWD, ".", &st, 9999));
    SHOW("newfstatat, AT_STATX_DONT_SYNC", syscall(SYS_newfstatat, AT_FDCWD, ".", &st, 0x4000));
    SHOW("statx, both sync types", syscall(SYS_statx, AT_FDCWD, ".", 0x6000, 0x7ff, sx));
    SHOW("statx, a reserved mask bit", syscall(SYS_statx, AT_FDCWD, ".", 0, 0x80000000u, sx));
    SHOW("statx, AT_STATX_FORCE_SYNC", syscall(SYS_statx, AT_FDCWD, ".", 0x2000, 0x7ff, sx));
    /* A name looked up relative to a descriptor that is no directory: ENOTDIR. */
    int pp[2];
    pipe(pp);
    close(open("plain-file", O_CREAT | O_WRONLY, 0644));
    int plain = open("plain-file", O_RDONLY);
    SHOW("fstatat relative to a pipe", syscall(SYS_newfstatat, pp[0], "x", &st, 0));
    SHOW("openat relative to a pipe", openat(pp[0], "x", O_RDONLY));
    SHOW("fstatat relative to a regular file", syscall(SYS_newfstatat, plain, "x", &st, 0));
    SHOW("openat relative to a regular file", openat(plain, "x", O_RDONLY));
    /* arch_prctl: no CPUID faulting (cpuid stays enabled). */
    SHOW("arch_prctl(ARCH_GET_CPUID)", syscall(SYS_arch_prctl, 0x1011, 0));
    /* socketpair checks family, type and protocol as socket does, then says
     * that only AF_UNIX makes pairs. */
    int sv[2];
    SHOW("socketpair, family 0", socketpair(0, SOCK_STREAM, 0, sv));
    SHOW("socketpair, AF_INET, type 75", socketpair(AF_INET, 75, 0, sv));
    SHOW("socketpair, AF_INET, raw, protocol 0", socketpair(AF_INET, SOCK_RAW, 0, sv));
    SHOW("socketpair, AF_INET, datagram, UDP", socketpair(AF_INET, SOCK_DGRAM, 17, sv));
    SHOW("socketpair, AF_INET, datagram, TCP", socketpair(AF_INET, SOCK_DGRAM, 6, sv));
    SHOW("socketpair, AF_INET, stream, ICMP", socketpair(AF_INET, SOCK_STREAM, 1, sv));
    /* Reads and writes at an offset on a pipe: ESPIPE, before the access mode. */
    char ch = 'x';
    SHOW("pwrite on a pipe's read end", pwrite(pp[0], &ch, 1, 0));
    SHOW("pread on a pipe's write end", pread(pp[1], &ch, 1, 0));
    struct iovec one = {&ch, 1};
    SHOW("pwritev2 on a pipe's read end", pwritev2(pp[0], &one, 1, 0, 0));
    SHOW("preadv at an offset on a pipe", preadv(pp[0], &one, 1, 0));
    /* Locked memory: counted in VmLck, not discarded (DONTNEED: EINVAL), not
     * invalidated (MS_INVALIDATE: EBUSY); unlocked, it is again. */
    char *lk = mmap(0, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    long before = vm_lck_kb();
    SHOW("mlock 2 pages", mlock(lk, 2 * page));
    printf("VmLck grew by %ld kB\n", vm_lck_kb() - before);
    SHOW("MADV_DONTNEED on locked pages", madvise(lk, page, MADV_DONTNEED));
    SHOW("msync MS_INVALIDATE on locked pages", msync(lk, page, MS_INVALIDATE));
    SHOW("MADV_DONTNEED on the unlocked page after them", madvise(lk + 2 * page, page, MADV_DONTNEED));
    SHOW("munlock", munlock(lk, 2 * page));
    printf("VmLck back: %d\n", vm_lck_kb() == before);
    SHOW("MADV_DONTNEED once unlocked", madvise(lk, page, MADV_DONTNEED));
    char *ml = mmap(0, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, -1, 0);
    printf("MAP_LOCKED: VmLck grew by %ld kB\n", vm_lck_kb() - before);
    munmap(ml, 3 * page);
    printf("after munmap: VmLck back: %d\n", vm_lck_kb() == before);

    /* readlinkat with an empty name: the link an O_PATH|O_NOFOLLOW descriptor holds. */
    char target[64] = {0};
    symlink("target-of-link", "link");
    int lfd = open("link", O_PATH | O_NOFOLLOW);
    SHOW("readlinkat(O_PATH symlink, \"\")", readlinkat(lfd, "", target, sizeof target));
    printf("  '%s'\n", target);
    int pfd = open("misc.txt", O_PATH);
    SHOW("readlinkat(O_PATH file, \"\")", readlinkat(pfd, "", target, sizeof target));
    SHOW("readlinkat(AT_FDCWD, \"\")", readlinkat(AT_FDCWD, "", target, sizeof target));
    return 0;
}
