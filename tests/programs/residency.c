// mincore's view of anonymous memory: a page exists once touched, locked
// (mlock, not MLOCK_ONFAULT) or populated (MAP_POPULATE, MAP_LOCKED),
// private or shared, as Linux counts it.
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGES 8

static void show(const char *what, char *p) {
    unsigned char vec[PAGES];
    if (mincore(p, PAGES * 4096, vec) != 0) {
        printf("%-40s mincore failed\n", what);
        return;
    }
    printf("%-40s ", what);
    for (int i = 0; i < PAGES; i++)
        putchar(vec[i] & 1 ? '1' : '0');
    putchar('\n');
}

static char *map(int flags) {
    return mmap(NULL, PAGES * 4096, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
}

int main(void) {
    for (int shared = 0; shared < 2; shared++) {
        int type = shared ? MAP_SHARED : MAP_PRIVATE;
        printf("%s:\n", shared ? "shared" : "private");
        char *p = map(type);
        show("  untouched", p);
        p[0] = 1;
        p[3 * 4096] = 1;
        show("  pages 0 and 3 written", p);
        volatile char c = p[5 * 4096];
        (void)c;
        show("  page 5 read", p);
        munmap(p, PAGES * 4096);

        p = map(type);
        mlock(p + 4096, 2 * 4096);
        show("  pages 1-2 locked", p);
        munlock(p, PAGES * 4096);
        munmap(p, PAGES * 4096);

        p = map(type);
        p[6 * 4096] = 1;
        syscall(SYS_mlock2, p, PAGES * 4096, 1 /* MLOCK_ONFAULT */);
        show("  all locked on fault, page 6 written", p);
        munlock(p, PAGES * 4096);
        munmap(p, PAGES * 4096);

        p = map(type | MAP_POPULATE);
        show("  MAP_POPULATE", p);
        munmap(p, PAGES * 4096);

        p = map(type | MAP_LOCKED);
        show("  MAP_LOCKED", p);
        munmap(p, PAGES * 4096);
    }
    return 0;
}
