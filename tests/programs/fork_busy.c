// Forks while other threads keep the kernel busy (thread create/exit,
// futexes, sleeps): every child must run and exit.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sched.h>
#include <time.h>

static volatile int stop;
static void *nothing(void *a) { return a; }
static void *churn(void *a) {
    (void)a;
    while (!stop) {
        pthread_t t;
        if (pthread_create(&t, 0, nothing, 0) == 0) pthread_join(t, 0);
        sched_yield();
        struct timespec ts = {0, 1000};
        nanosleep(&ts, 0);
    }
    return 0;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200;
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], 0, churn, 0);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        pid_t p = fork();
        if (p == 0) {
            pthread_t c;
            // The child uses the scheduler, the heap and threads at once.
            if (pthread_create(&c, 0, nothing, 0) == 0) pthread_join(c, 0);
            void *m = malloc(1000); free(m);
            _exit(7);
        }
        int st;
        int w = p > 0 ? waitpid(p, &st, 0) : -1;
        if (w == p && WIFEXITED(st) && WEXITSTATUS(st) == 7) ok++;
        else fprintf(stderr, "fork %d: pid %d wait %d status %#x\n", i, p, w, st);
    }
    stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(t[i], 0);
    printf("%d of %d children ran\n", ok, n);
    return ok == n ? 0 : 1;
}
