/* Shared mappings (MAP_SHARED) between processes and with the file:
 *   shmap DIR   runs every check in DIR and prints what it saw. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char path[512];

static void anon_across_fork(void) {
    int *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    *p = 1;
    pid_t c = fork();
    if (c == 0) {
        *p = 42;
        _exit(0);
    }
    waitpid(c, 0, 0);
    printf("anonymous shared after fork: %d\n", *p);
    int *q = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *q = 1;
    c = fork();
    if (c == 0) {
        *q = 42;
        _exit(0);
    }
    waitpid(c, 0, 0);
    printf("anonymous private after fork: %d\n", *q);
    munmap(p, 4096);
    munmap(q, 4096);
}

static void file_coherence(void) {
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(fd, "hello world, shared!", 20);
    char *m = mmap(0, 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(m, "HELLO", 5);
    char buf[21] = {0};
    pread(fd, buf, 20, 0);
    printf("read after a write through the mapping: %s\n", buf);
    pwrite(fd, "WORLD", 5, 6);
    printf("mapping after a write to the file: %.20s\n", m);
    printf("msync: %d\n", msync(m, 20, MS_SYNC));
    printf("msync of unmapped memory: %d %s\n", msync((void *)0x10000, 4096, MS_SYNC), strerror(errno));
    pid_t c = fork();
    if (c == 0) {
        memcpy(m + 13, "CHILD!", 6);
        _exit(0);
    }
    waitpid(c, 0, 0);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 20, 0);
    printf("file after the child wrote: %s\n", buf);
    /* A second, independent mapping sees the same bytes. */
    char *m2 = mmap(0, 20, PROT_READ, MAP_SHARED, fd, 0);
    printf("second mapping: %.20s\n", m2);
    munmap(m, 20);
    munmap(m2, 20);
    struct stat st;
    fstat(fd, &st);
    printf("size still %lld\n", (long long)st.st_size);
    close(fd);
}

static sigjmp_buf jb;
static void on_bus(int s) { siglongjmp(jb, s); }

/* Reads *p with `sig` caught: the signal the read raised, or 0. */
static int read_faults(volatile char *p, int sig) {
    signal(sig, on_bus);
    int s = sigsetjmp(jb, 1);
    if (s == 0) {
        volatile char c = *p;
        (void)c;
    }
    signal(sig, SIG_DFL);
    return s;
}

static void past_eof(void) {
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    write(fd, "x", 1);
    char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("first page: %c, rest of it zero: %d\n", m[0], m[4095]);
    int s = read_faults(m + 4096, SIGBUS);
    if (s == 0) printf("no signal past the end\n");
    else printf("past the end of the file: signal %d\n", s);
    munmap(m, 8192);
    close(fd);
}

static void process_shared_locks(void) {
    struct shared {
        pthread_mutex_t lock;
        sem_t sem;
        long counter;
    } *s = mmap(0, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&s->lock, &a);
    sem_init(&s->sem, 1, 0);
    pid_t kids[3];
    for (int k = 0; k < 3; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < 2000; i++) {
                pthread_mutex_lock(&s->lock);
                s->counter++;
                pthread_mutex_unlock(&s->lock);
            }
            sem_post(&s->sem);
            _exit(0);
        }
    }
    for (int k = 0; k < 3; k++) sem_wait(&s->sem);
    for (int k = 0; k < 3; k++) waitpid(kids[k], 0, 0);
    printf("counter from three processes: %ld\n", s->counter);
}

static void shm_by_name(void) {
    int fd = shm_open("/hx-test-shm", O_CREAT | O_RDWR | O_EXCL, 0600);
    ftruncate(fd, 4096);
    char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    strcpy(m, "before");
    pid_t c = fork();
    if (c == 0) {
        /* The child opens it again by name: a mapping of its own. */
        int f2 = shm_open("/hx-test-shm", O_RDWR, 0);
        char *m2 = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f2, 0);
        printf("child sees: %s\n", m2);
        fflush(stdout);
        strcpy(m2, "after");
        _exit(0);
    }
    waitpid(c, 0, 0);
    printf("parent sees: %s\n", m);
    shm_unlink("/hx-test-shm");
}

/* Shrinking a shared mapping in place (CPython's mmap.resize does): the
 * head stays, shared; the tail is gone (touching it is SIGSEGV). */
static void shrink(void) {
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    ftruncate(fd, 8192);
    char *m = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    strcpy(m, "head");
    strcpy(m + 4096, "tail");
    char *s = mremap(m, 8192, 512, MREMAP_MAYMOVE);
    printf("file mapping shrunk in place: %d, head kept: %s\n", s == m, s);
    strcpy(s, "HEAD");
    char back[8] = {0};
    pread(fd, back, 4, 0);
    printf("write after the shrink reaches the file: %s\n", back);
    int sig = read_faults(m + 4096, SIGSEGV);
    if (sig == 0) printf("the tail is still mapped\n");
    else printf("the tail is gone: signal %d\n", sig);
    munmap(s, 512);
    close(fd);
    char *a = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    a[0] = 'a';
    char *b = mremap(a, 8192, 4096, MREMAP_MAYMOVE);
    printf("anonymous shared mapping shrunk in place: %d %c\n", b == a, b[0]);
    munmap(b, 4096);
}

/* A shared mapping of a file opened read-only can never become writable:
 * mmap with PROT_WRITE and a later mprotect(PROT_WRITE) are EACCES; the
 * same file opened read-write may. /dev/zero behaves the same way. */
static void read_only_files(void) {
    const char *names[] = {path, "/dev/zero"};
    for (int i = 0; i < 2; i++) {
        int ro = open(names[i], O_RDONLY);
        char *w = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
        printf("%s read-only, shared PROT_WRITE: %s\n", i ? "/dev/zero" : "file",
               w == MAP_FAILED ? strerror(errno) : "mapped");
        char *r = mmap(0, 4096, PROT_READ, MAP_SHARED, ro, 0);
        int e = mprotect(r, 4096, PROT_READ | PROT_WRITE) ? errno : 0;
        printf("%s read-only, shared, then mprotect(PROT_WRITE): %s\n", i ? "/dev/zero" : "file",
               e ? strerror(e) : "ok");
        int p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, ro, 0) != MAP_FAILED;
        printf("%s read-only, private PROT_READ: %d\n", i ? "/dev/zero" : "file", p);
        munmap(r, 4096);
        close(ro);
    }
    int rw = open(path, O_RDWR);
    char *r = mmap(0, 4096, PROT_READ, MAP_SHARED, rw, 0);
    printf("file read-write, shared, then mprotect(PROT_WRITE): %s\n",
           mprotect(r, 4096, PROT_READ | PROT_WRITE) ? strerror(errno) : "ok");
    munmap(r, 4096);
    close(rw);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    setvbuf(stdout, 0, _IONBF, 0);
    snprintf(path, sizeof path, "%s/shared.bin", argv[1]);
    anon_across_fork();
    file_coherence();
    past_eof();
    shrink();
    read_only_files();
    process_shared_locks();
    shm_by_name();
    return 0;
}
