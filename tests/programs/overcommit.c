#define _GNU_SOURCE
/* Mappings larger than the memory behind them, as Linux allows: a sparse
 * file of 4 GiB mapped shared and written at a few places, anonymous memory
 * of 8 GiB (MAP_NORESERVE) touched at a few pages, a PROT_NONE reservation
 * opened up, a forked child reading what its parent wrote, system calls
 * reading and writing such memory, and mprotect/munmap over it. Every
 * result is printed, so the run under hx must print what Linux prints. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GiB (1ULL << 30)

static void check(const char *what, long ok) {
    printf("%s: %s\n", what, ok ? "ok" : strerror(errno));
}

/* The resident size of the process, in MiB (VmRSS). */
static long rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kib = atol(line + 6);
    if (f) fclose(f);
    return kib / 1024;
}

static void sparse_file(void) {
    const uint64_t size = 4 * GiB + 4096;
    int fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check("open", fd >= 0);
    check("ftruncate 4 GiB", ftruncate(fd, size) == 0);
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    check("mmap shared 4 GiB", m != MAP_FAILED);
    if (m == MAP_FAILED) return;
    close(fd);
    const uint64_t at[] = {0, 2 * GiB - 1, 2 * GiB, 3 * GiB + 12345, size - 1};
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) m[at[i]] = (char)('a' + i);
    printf("read back: %c%c%c%c%c, untouched byte %d\n", m[at[0]], m[at[1]], m[at[2]], m[at[3]], m[at[4]],
           m[GiB]);
    /* The file holds what the mapping wrote (pread through another descriptor). */
    fd = open("sparse", O_RDONLY);
    char c = 0;
    check("pread at 3 GiB", pread(fd, &c, 1, 3 * GiB + 12345) == 1);
    printf("file byte at 3 GiB: %c\n", c);
    /* A write() from the mapping and a read() into it (the kernel touches it). */
    int out = open("copy", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check("write from the mapping", write(out, m + 2 * GiB - 1, 2) == 2);
    check("pread", pread(out, m + 3 * GiB + 100, 2, 0) == 2);
    printf("copied: %c%c\n", m[3 * GiB + 100], m[3 * GiB + 101]);
    close(out);
    pid_t child = fork();
    if (child == 0) {
        printf("child reads: %c%c, writes\n", m[2 * GiB], m[size - 1]);
        m[GiB + 7] = 'z';
        _exit(0);
    }
    waitpid(child, NULL, 0);
    printf("parent sees the child's write: %c\n", m[GiB + 7]);
    check("msync", msync(m + GiB, 4096, MS_SYNC) == 0);
    check("pread the child's byte", pread(fd, &c, 1, GiB + 7) == 1);
    printf("file byte at 1 GiB + 7: %c\n", c);
    check("mprotect read-only", mprotect(m, size, PROT_READ) == 0);
    printf("after mprotect: %c %d\n", m[2 * GiB], m[GiB / 2]);
    check("munmap part", munmap(m + GiB, GiB) == 0);
    check("munmap", munmap(m, size) == 0);
    close(fd);
    struct stat st;
    stat("sparse", &st);
    printf("file size %lld, under 64 MiB on disk: %d\n", (long long)st.st_size, st.st_blocks * 512 < (64 << 20));
}

static void anonymous(void) {
    const uint64_t size = 8 * GiB;
    long before = rss_mib();
    char *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    check("mmap anonymous 8 GiB", m != MAP_FAILED);
    if (m == MAP_FAILED) return;
    for (uint64_t off = 0; off < size; off += GiB) m[off + 5] = (char)(off / GiB + 1);
    long sum = 0;
    for (uint64_t off = 0; off < size; off += GiB) sum += m[off + 5] + m[off + 4096];
    printf("sum %ld, resident grew by less than 64 MiB: %d\n", sum, rss_mib() - before < 64);
    pid_t child = fork();
    if (child == 0) {
        m[7 * GiB + 5] = 99; /* its own copy */
        printf("child: %d %d\n", m[GiB + 5], m[7 * GiB + 5]);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    printf("parent: %d\n", m[7 * GiB + 5]);
    char *g = mremap(m, size, size + GiB, MREMAP_MAYMOVE);
    check("mremap to 9 GiB", g != MAP_FAILED);
    if (g == MAP_FAILED) return;
    m = g;
    printf("after mremap: %d %d %d\n", m[5], m[7 * GiB + 5], m[8 * GiB + 5]);
    check("madvise DONTNEED", madvise(m, 2 * GiB, MADV_DONTNEED) == 0);
    printf("after DONTNEED: %d %d\n", m[5], m[GiB + 5]);
    check("munmap", munmap(m, size + GiB) == 0);

    /* A PROT_NONE reservation larger than the guest, opened up in part. */
    char *r = mmap(NULL, 16 * GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    check("reserve 16 GiB", r != MAP_FAILED);
    check("open up 6 GiB", mprotect(r + GiB, 6 * GiB, PROT_READ | PROT_WRITE) == 0);
    r[GiB] = 1;
    r[7 * GiB - 1] = 2;
    printf("reservation: %d %d\n", r[GiB], r[7 * GiB - 1]);
    check("munmap the reservation", munmap(r, 16 * GiB) == 0);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && !strcmp(argv[1], "file")) sparse_file();
    else if (argc == 2 && !strcmp(argv[1], "anonymous")) anonymous();
    else {
        fprintf(stderr, "usage: overcommit file|anonymous\n");
        return 2;
    }
    return 0;
}
