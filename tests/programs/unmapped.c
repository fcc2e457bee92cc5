/* After munmap or an mprotect that takes access away, every page of the
 * range faults at once — pages the program used (whose translations a TLB
 * may hold) and pages it never touched — for ranges of 1, 3 and 8 pages
 * (hx flushes those three ways). Also: what was read, written or never
 * touched, and access given back. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf env;
static void on_segv(int sig) { siglongjmp(env, sig); }

/* 'r' if reading `p` works, '-' if it faults; then the same for writing. */
static void probe(const char *what, volatile char *p) {
    volatile char r = '-', w = '-';
    if (sigsetjmp(env, 1) == 0) {
        (void)*p;
        r = 'r';
    }
    if (sigsetjmp(env, 1) == 0) {
        *p = 1;
        w = 'w';
    }
    printf("%-34s %c%c\n", what, r, w);
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_segv;
    sigaction(SIGSEGV, &sa, 0);
    int sizes[] = {1, 3, 8};
    for (int s = 0; s < 3; s++) {
        int n = sizes[s];
        char what[64];
        /* Page 0 written, page 1 read, the rest never touched. */
        char *p = mmap(0, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 'x';
        if (n > 1) (void)*(volatile char *)(p + page);
        munmap(p, n * page);
        for (int i = 0; i < n; i++) {
            snprintf(what, sizeof what, "%d pages unmapped, page %d:", n, i);
            probe(what, p + i * page);
        }
        p = mmap(0, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 'x';
        if (n > 1) (void)*(volatile char *)(p + page);
        mprotect(p, n * page, PROT_READ);
        for (int i = 0; i < n; i++) {
            snprintf(what, sizeof what, "%d pages read-only, page %d:", n, i);
            probe(what, p + i * page);
        }
        mprotect(p, n * page, PROT_NONE);
        for (int i = 0; i < n; i++) {
            snprintf(what, sizeof what, "%d pages no access, page %d:", n, i);
            probe(what, p + i * page);
        }
        mprotect(p, n * page, PROT_READ | PROT_WRITE);
        printf("%d pages given back: keeps %c\n", n, p[0]);
        probe("  and writable:", p + (n - 1) * page);
        munmap(p, n * page);
    }
    return 0;
}
