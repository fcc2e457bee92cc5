/* Prints CLOCK_MONOTONIC at the first line of main, for the time from launch
 * to the program's first instruction (hx's guest clock follows the host's). */
#include <stdio.h>
#include <time.h>

int main(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    printf("t %lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
    return 0;
}
