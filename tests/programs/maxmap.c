/* max_map_count: mappings until the limit refuses one (ENOMEM), then the
 * changes that would make one more — a hole in the middle of a mapping,
 * an mprotect cutting one in three — are ENOMEM too, while cutting at an
 * edge still works. With an argument (hx only: natively it would set the
 * host's), that limit is written to /proc/sys/vm/max_map_count first. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static const char *err(int r) { return r ? (errno == ENOMEM ? "ENOMEM" : strerror(errno)) : "ok"; }

int main(int argc, char **argv) {
    long limit = 0;
    if (argc > 1) {
        FILE *f = fopen("/proc/sys/vm/max_map_count", "w");
        if (!f || fprintf(f, "%s\n", argv[1]) < 0 || fclose(f) != 0) {
            perror("max_map_count");
            return 1;
        }
        f = fopen("/proc/sys/vm/max_map_count", "r");
        if (!f || fscanf(f, "%ld", &limit) != 1) return 1;
        fclose(f);
        printf("max_map_count now %ld\n", limit);
    }
    const size_t page = 4096, size = 3 * page;
    char **maps = malloc(70000 * sizeof *maps);
    uintptr_t addr = 0x10000000;
    int n = 0;
    for (;;) {
        char *p = mmap((void *)addr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        addr += 2 * size; /* a gap: neighbours would merge */
        if (p == MAP_FAILED && errno == EEXIST) continue;
        if (p == MAP_FAILED) break;
        maps[n++] = p;
    }
    printf("mapping stopped with: %s\n", err(-1));
    if (limit) printf("stopped near the limit: %d\n", n > limit - 100 && n <= limit + 1);
    printf("a hole in the middle: %s\n", err(munmap(maps[2] + page, page)));
    printf("mprotect of the middle: %s\n", err(mprotect(maps[3] + page, page, PROT_READ)));
    printf("unmapping an edge page: %s\n", err(munmap(maps[4], page)));
    printf("mprotect of an edge page: %s\n", err(mprotect(maps[5] + 2 * page, page, PROT_READ)));
    for (int i = 0; i < n; i++) munmap(maps[i], size);
    printf("after unmapping them all, a hole: %s\n", err(munmap(maps[0], page) || mmap(maps[0], size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED ? -1 : munmap(maps[0] + page, page)));
    return 0;
}
