/* memfd_create: a file in memory, readable, writable, mappable shared, shown
 * as /memfd:NAME (deleted); unknown flags are EINVAL. Seals: without
 * MFD_ALLOW_SEALING none may be added; with it, each seal stops what it
 * names (writes, mappings that may write, shrinking, growing, more seals). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>
static void show(const char *what, long r) {
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

static void seals(void) {
    int plain = memfd_create("plain", 0);
    show("no sealing: get", fcntl(plain, F_GET_SEALS));
    show("no sealing: add", fcntl(plain, F_ADD_SEALS, F_SEAL_WRITE));
    close(plain);
    int fd = memfd_create("sealed", MFD_ALLOW_SEALING);
    show("get", fcntl(fd, F_GET_SEALS));
    show("write", write(fd, "0123456789", 10));
    show("unknown seal", fcntl(fd, F_ADD_SEALS, 0x1000));
    /* A shared mapping that may write (even PROT_READ, the file open for writing) stops F_SEAL_WRITE. */
    void *m = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    show("seal write while mapped shared", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
    munmap(m, 4096);
    show("seal write and shrink", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK));
    show("get", fcntl(fd, F_GET_SEALS));
    show("write after", write(fd, "x", 1));
    show("pwrite after", pwrite(fd, "x", 1, 0));
    show("shrink", ftruncate(fd, 5));
    show("grow", ftruncate(fd, 8192));
    m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    show("map shared writable", m == MAP_FAILED ? -1 : 0);
    m = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    show("map shared read-only", m == MAP_FAILED ? -1 : 0);
    if (m != MAP_FAILED) {
        printf("reads %.10s\n", (char *)m);
        show("mprotect writable", mprotect(m, 4096, PROT_READ | PROT_WRITE));
        munmap(m, 4096);
    }
    m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    show("map private writable", m == MAP_FAILED ? -1 : 0);
    if (m != MAP_FAILED) {
        memcpy(m, "private", 7);
        char b[11] = {0};
        pread(fd, b, 10, 0);
        printf("file still %s\n", b);
        munmap(m, 4096);
    }
    int dup_fd = dup(fd);
    show("seal grow through a dup", fcntl(dup_fd, F_ADD_SEALS, F_SEAL_GROW));
    show("get", fcntl(fd, F_GET_SEALS));
    show("grow now", ftruncate(fd, 16384));
    show("seal seal", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
    show("seal after seal", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
    int file = open("/proc/self/exe", O_RDONLY);
    show("a regular file: get", fcntl(file, F_GET_SEALS));
    int p[2];
    pipe(p);
    show("a pipe: add", fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE));
}

int main(void) {
    int fd = memfd_create("test", MFD_CLOEXEC);
    write(fd, "hello memfd", 11);
    char b[32] = {0};
    pread(fd, b, 11, 0);
    printf("%s\n", b);
    ftruncate(fd, 4096);
    char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(m, "HELLO", 5);
    pread(fd, b, 11, 0);
    printf("%s\n", b);
    char link[64] = {0};
    char p[32]; snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    readlink(p, link, sizeof link);
    printf("%s\n", link);
    printf("%d\n", memfd_create("x", 0x100) < 0);
    seals();
    return 0;
}
