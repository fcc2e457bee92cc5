/* Futexes between processes: words in MAP_SHARED memory that a forked child
 * and its parent (or two children) wait on and wake. Each check prints one
 * line; the output must equal the native run's.
 *   checkpoint: the child waits with the word unchanged (as LTP's
 *     checkpoints do); the parent wakes until FUTEX_WAKE reports a waiter.
 *   timeout:    a wait nobody wakes ends with ETIMEDOUT.
 *   changed:    a wait on a value the word no longer holds is EAGAIN.
 *   signal:     a wait a signal handler interrupts is EINTR.
 *   semaphores: two processes hand a token back and forth 200 times
 *     through process-shared POSIX semaphores (sem_post / sem_wait).
 *   mutex:      process-shared pthread mutex + condition variable: two
 *     processes each add 1000 to a shared counter under the mutex.
 *   private:    a FUTEX_PRIVATE_FLAG wake does not reach another process.
 * With an argument, the shared memory is that file, mapped MAP_SHARED
 * (as LTP's checkpoints are), instead of anonymous shared memory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* linux/futex.h's numbers (musl-gcc has no kernel headers). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | 128)

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *t) {
    return syscall(SYS_futex, uaddr, op, val, t, NULL, 0);
}

struct shared {
    uint32_t word;
    uint32_t word2;
    sem_t ping, pong;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int counter;
    int turn;
};

static struct shared *sh;

static int waited(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void checkpoint(void) {
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec t = {10, 0};
        long r = futex(&sh->word, FUTEX_WAIT, 0, &t);
        _exit(r == 0 ? 0 : 10 + errno);
    }
    long woken = 0;
    for (int ms = 0; ms < 10000 && woken == 0; ms++) {
        woken = futex(&sh->word, FUTEX_WAKE, 1, NULL);
        if (woken == 0) usleep(1000);
    }
    printf("checkpoint: woke %ld, child status %d\n", woken, waited(pid));
}

static void timeout(void) {
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec t = {0, 50 * 1000 * 1000};
        long r = futex(&sh->word, FUTEX_WAIT, 0, &t);
        _exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
    }
    printf("timeout: child status %d\n", waited(pid));
}

static void changed(void) {
    long r = futex(&sh->word, FUTEX_WAIT, 7, NULL);
    printf("changed: %ld %s\n", r, r == -1 && errno == EAGAIN ? "EAGAIN" : "?");
}

static void on_alarm(int sig) { (void)sig; }

static void interrupted(void) {
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART */
        struct itimerval it = {{0, 0}, {0, 100 * 1000}};
        setitimer(ITIMER_REAL, &it, NULL);
        struct timespec t = {10, 0};
        long r = futex(&sh->word, FUTEX_WAIT, 0, &t);
        _exit(r == -1 && errno == EINTR ? 0 : 1);
    }
    printf("signal: child status %d\n", waited(pid));
}

static void semaphores(void) {
    sem_init(&sh->ping, 1, 0);
    sem_init(&sh->pong, 1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 200; i++) {
            sem_wait(&sh->ping);
            sh->counter++;
            sem_post(&sh->pong);
        }
        _exit(0);
    }
    sh->counter = 0;
    for (int i = 0; i < 200; i++) {
        sem_post(&sh->ping);
        sem_wait(&sh->pong);
    }
    printf("semaphores: counter %d, child status %d\n", sh->counter, waited(pid));
}

static void add(int me) {
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&sh->mutex);
        while (sh->turn != me) pthread_cond_wait(&sh->cond, &sh->mutex);
        sh->counter++;
        sh->turn = 1 - me;
        pthread_cond_broadcast(&sh->cond);
        pthread_mutex_unlock(&sh->mutex);
    }
}

static void mutex(void) {
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&sh->mutex, &ma);
    pthread_cond_init(&sh->cond, &ca);
    sh->counter = 0;
    sh->turn = 0;
    pid_t pid = fork();
    if (pid == 0) {
        add(1);
        _exit(0);
    }
    add(0);
    printf("mutex: counter %d, child status %d\n", sh->counter, waited(pid));
}

static void private_wake(void) {
    sh->word2 = 0;
    pid_t pid = fork();
    if (pid == 0) {
        struct timespec t = {0, 200 * 1000 * 1000};
        long r = futex(&sh->word2, FUTEX_WAIT, 0, &t);
        _exit(r == -1 && errno == ETIMEDOUT ? 0 : 1);
    }
    usleep(50 * 1000);
    long woken = futex(&sh->word2, FUTEX_WAKE_PRIVATE, 1, NULL);
    printf("private: woke %ld, child status %d\n", woken, waited(pid));
}

int main(int argc, char **argv) {
    if (argc > 1) {
        int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || ftruncate(fd, 4096) != 0) return 1;
        sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    } else {
        sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    }
    if (sh == MAP_FAILED) return 1;
    checkpoint();
    timeout();
    changed();
    interrupted();
    semaphores();
    mutex();
    private_wake();
    return 0;
}
