// /proc/self/pagemap: which pages are there, as Linux reports them to a
// process: anonymous pages once used, populated ones, shared and file
// pages (bit 61), soft-dirty bits, no frame numbers without
// CAP_SYS_ADMIN (run as a non-root user natively), and its read rules.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int pm;

static void show(const char *what, char *p, int pages) {
    printf("%-34s", what);
    for (int i = 0; i < pages; i++) {
        uint64_t e = 0;
        if (pread(pm, &e, 8, (uintptr_t)(p + i * 4096) / 4096 * 8) != 8) {
            printf(" read failed");
            break;
        }
        printf(" %c%c%c", e >> 63 & 1 ? 'P' : '-', e >> 61 & 1 ? 'F' : '-', e >> 55 & 1 ? 'd' : '-');
    }
    putchar('\n');
}

int main(void) {
    pm = open("/proc/self/pagemap", O_RDONLY);
    printf("open: %s\n", pm >= 0 ? "ok" : strerror(errno));
    char *a = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("anonymous, untouched", a, 4);
    a[4096] = 1;
    show("page 1 written", a, 4);
    char *b = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    show("MAP_POPULATE", b, 3);
    char *c = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    c[0] = 1;
    show("shared, page 0 written", c, 2);
    munmap(a + 2 * 4096, 4096);
    show("page 2 unmapped", a, 3);
    uint64_t e;
    printf("offset not a multiple of 8: %s\n", pread(pm, &e, 8, 4) < 0 && errno == EINVAL ? "EINVAL" : "other");
    printf("length not a multiple of 8: %s\n", pread(pm, &e, 4, 8) < 0 && errno == EINVAL ? "EINVAL" : "other");
    a[0] = 1;
    pread(pm, &e, 8, (uintptr_t)a / 4096 * 8);
    printf("frame number shown: %s\n", (e & ((1ULL << 55) - 1)) ? "yes" : "no");
    return 0;
}
