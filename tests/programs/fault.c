/* Crashes the way its argument says: null (read through NULL), ud2 (illegal
 * instruction), div0 (integer divide by zero), stack (unbounded recursion). */
#include <stdio.h>
#include <string.h>

__attribute__((noinline)) int read_null(volatile int *p) { return *p; }

__attribute__((noinline)) int recurse(volatile char *prev) {
    volatile char frame[4096];
    frame[0] = prev ? prev[0] + 1 : 0;
    return recurse(frame) + frame[1];
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "null";
    volatile int zero = 0;
    fflush(stdout);
    if (!strcmp(what, "null")) return read_null(0);
    if (!strcmp(what, "ud2")) __asm__ volatile("ud2");
    if (!strcmp(what, "div0")) return 10 / zero;
    if (!strcmp(what, "stack")) return recurse(0);
    return 0;
}
