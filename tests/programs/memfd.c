/* memfd_create: a file in memory, readable, writable, mappable shared, shown
 * as /memfd:NAME (deleted); unknown flags are EINVAL. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <fcntl.h>
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
    return 0;
}
