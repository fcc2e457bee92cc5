/* Exercises the syscall sites a rewriter changes: a loop of common calls
 * (hx rewrites sites that keep trapping once the process made 1000 traps), the same loop in
 * two threads at once, a blocking read that a signal handler interrupts and
 * SA_RESTART restarts (through a site already rewritten), and a call a
 * handler makes while the main thread waits in another. Prints what every
 * call returned, summed, so any difference shows. `null` ends with a read
 * through NULL, which must still be a SIGSEGV; `unmap` runs the loop once
 * more after unmapping every nameless executable mapping (natively none;
 * in hx the rewriter's stub areas, whose sites must then work again). */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define ROUNDS 4000

static long loop(void) {
    long sum = 0;
    char c = 'x';
    int devnull = open("/dev/null", O_WRONLY);
    int devzero = open("/dev/zero", O_RDONLY);
    for (int i = 0; i < ROUNDS; i++) {
        struct stat st;
        sum += getppid() >= 0;
        sum += write(devnull, &c, 1);
        sum += read(devzero, &c, 1);
        sum += c == 0;
        c = 'x';
        int fd = open("/dev/null", O_RDONLY);
        sum += fd >= 0;
        sum += fstat(fd, &st) == 0 && S_ISCHR(st.st_mode);
        sum += lseek(fd, 0, SEEK_CUR) == 0;
        sum += close(fd) == 0;
        sum += getpid() > 0;
    }
    close(devnull);
    close(devzero);
    return sum;
}

static void *thread_loop(void *arg) {
    *(long *)arg = loop();
    return NULL;
}

static volatile sig_atomic_t handled;
static int pipe_fds[2];

static void on_alarm(int sig) {
    (void)sig;
    handled++;
    /* A call from the handler while main waits in read(). */
    if (handled == 3 && write(pipe_fds[1], "k", 1) != 1)
        _exit(3);
}

/* Unmaps the anonymous executable mappings /proc/self/maps lists. */
static void unmap_anonymous_code(void) {
    unsigned long ranges[64][2];
    int n = 0;
    char line[512];
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps)
        return;
    while (n < 64 && fgets(line, sizeof line, maps)) {
        unsigned long start, end, offset, inode;
        char perms[8], dev[16], name[256] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &start, &end, perms, &offset, dev, &inode, name) < 6)
            continue;
        if (perms[2] == 'x' && inode == 0 && name[0] == 0)
            ranges[n][0] = start, ranges[n][1] = end, n++;
    }
    fclose(maps);
    for (int i = 0; i < n; i++)
        munmap((void *)ranges[i][0], ranges[i][1] - ranges[i][0]);
}

int main(int argc, char **argv) {
    printf("loop: %ld\n", loop());

    pthread_t t[2];
    long sums[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, thread_loop, &sums[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    printf("threads: %ld %ld\n", sums[0], sums[1]);

    if (pipe(pipe_fds) != 0)
        return 1;
    char c;
    /* Warm up the read site (past what makes hx rewrite it), then block in it. */
    for (int i = 0; i < 40; i++)
        if (write(pipe_fds[1], "w", 1) != 1 || read(pipe_fds[0], &c, 1) != 1)
            return 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval every = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &every, NULL);
    ssize_t n = read(pipe_fds[0], &c, 1);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("restarted read: %zd '%c' after %d handlers\n", n, c, handled >= 3 ? 3 : (int)handled);

    if (argc > 1 && !strcmp(argv[1], "unmap")) {
        unmap_anonymous_code();
        printf("loop after unmapping: %ld\n", loop());
    }
    if (argc > 1 && !strcmp(argv[1], "null")) {
        fflush(stdout);
        return *(volatile int *)0;
    }
    return 0;
}
