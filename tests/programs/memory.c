#define _GNU_SOURCE
/* malloc of small and large blocks, realloc, and mmap/munmap/mprotect. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void) {
    uint64_t sum = 0;
    char *small[1000];
    for (int i = 0; i < 1000; i++) {
        small[i] = malloc(16 + i % 200);
        memset(small[i], i & 0xff, 16 + i % 200);
    }
    for (int i = 0; i < 1000; i++) sum += (unsigned char)small[i][i % 16], free(small[i]);
    printf("small blocks: %llu\n", (unsigned long long)sum);

    size_t big = 64 << 20;
    char *p = malloc(big);
    for (size_t i = 0; i < big; i += 4096) p[i] = (char)(i >> 12);
    sum = 0;
    for (size_t i = 0; i < big; i += 4096) sum += (unsigned char)p[i];
    printf("64 MiB block: %llu\n", (unsigned long long)sum);
    p = realloc(p, 2 * big);
    sum = 0;
    for (size_t i = 0; i < big; i += 4096) sum += (unsigned char)p[i];
    p[2 * big - 1] = 7;
    printf("after realloc to 128 MiB: %llu %d\n", (unsigned long long)sum, p[2 * big - 1]);
    free(p);

    char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap ok: %d, zeroed: %d\n", m != MAP_FAILED, m[12345] == 0);
    strcpy(m + 8192, "hello");
    printf("mprotect ro: %d\n", mprotect(m + 8192, 4096, PROT_READ));
    printf("still readable: %s\n", m + 8192);
    printf("munmap middle: %d\n", munmap(m + 4096, 4096));
    printf("mprotect over hole: %s\n", mprotect(m, 3 * 4096, PROT_READ) ? strerror(errno) : "ok?");
    printf("munmap rest: %d\n", munmap(m, 1 << 20));
    printf("bad munmap: %s\n", munmap((void *)1, 4096) ? strerror(errno) : "ok?");
    char *fixed = mmap((void *)0x200000000, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("MAP_FIXED at the asked address: %d\n", fixed == (void *)0x200000000);
    char *r = mremap(fixed, 8192, 3 << 20, MREMAP_MAYMOVE);
    printf("mremap grows: %d\n", r != MAP_FAILED);
    void *brk0 = sbrk(0);
    printf("sbrk grows: %d\n", sbrk(1 << 20) == brk0 && sbrk(0) == (char *)brk0 + (1 << 20));
    return 0;
}
