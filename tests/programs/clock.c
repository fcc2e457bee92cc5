/* Clocks move forward, sleeps take about as long as asked. Prints only
 * verdicts, so the output is the same wherever it runs. */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static double ms(struct timespec a, struct timespec b) {
    return (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
    struct timespec prev, now;
    if (argc > 1 && !strcmp(argv[1], "now")) {
        /* The first reads, raw: the test compares them with the host's. */
        struct timespec r, m;
        clock_gettime(CLOCK_REALTIME, &r);
        clock_gettime(CLOCK_MONOTONIC, &m);
        printf("%lld %lld\n", (long long)r.tv_sec * 1000000000 + r.tv_nsec, (long long)m.tv_sec * 1000000000 + m.tv_nsec);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &prev);
    int monotonic = 1;
    for (int i = 0; i < 1000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (ms(prev, now) < 0) monotonic = 0;
        prev = now;
    }
    printf("monotonic: %d\n", monotonic);
    struct timespec a, b, req = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &a);
    nanosleep(&req, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double slept = ms(a, b);
    printf("nanosleep 50 ms: %s\n", slept >= 49 && slept < 500 ? "ok" : "out of bounds");
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    printf("realtime after 2020: %d\n", rt.tv_sec > 1577836800);
    printf("gettimeofday agrees: %d\n", tv.tv_sec - rt.tv_sec <= 1 && tv.tv_sec >= rt.tv_sec);
    printf("time agrees: %d\n", time(NULL) - rt.tv_sec <= 1);
    struct timespec res;
    printf("clock_getres: %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    printf("cputime readable: %d\n", now.tv_sec >= 0);
    return 0;
}
