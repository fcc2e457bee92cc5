/* Private file mappings (MAP_PRIVATE): the file's bytes, copy-on-write.
 * Writes stay private (not in the file, not in another mapping, not in the
 * parent after a fork), the tail of the last page reads zero, a page wholly
 * past the end of the file is SIGBUS, and memory mapped afresh where a file
 * mapping was reads zero. Run in a scratch directory given as argv[1]. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jump;
static void on_bus(int sig) { siglongjmp(jump, sig); }

int main(int argc, char **argv) {
    if (argc < 2 || chdir(argv[1]) != 0) return 2;
    long page = sysconf(_SC_PAGESIZE);
    int fd = open("private.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    char buf[6000];
    for (int i = 0; i < (int)sizeof buf; i++) buf[i] = 'a' + i % 26;
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) return 3;

    /* Three pages: the file covers one and a half of them. */
    char *p = mmap(0, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *q = mmap(0, 2 * page, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED || q == MAP_FAILED) return 4;
    printf("read through the mapping: %.10s ... %.3s\n", p, p + 5997);
    printf("tail of the last page is zero: %d\n", p[6000] == 0 && p[2 * page - 1] == 0);
    p[0] = 'X';
    char first;
    pread(fd, &first, 1, 0);
    printf("a private write reaches the file: %d, another mapping: %d\n", first == 'X', q[0] == 'X');

    pid_t child = fork();
    if (child == 0) {
        printf("the child sees the parent's write: %d\n", p[0] == 'X');
        p[1] = 'Y';
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, 0, 0);
    printf("the parent sees the child's write: %d\n", p[1] == 'Y');

    signal(SIGBUS, on_bus);
    int sig = sigsetjmp(jump, 1);
    if (sig == 0) {
        volatile char c = p[2 * page];
        (void)c;
        printf("past the end of the file: no signal\n");
    } else {
        printf("past the end of the file: signal %d\n", sig);
    }

    /* Read-only, then made writable. */
    mprotect(q, page, PROT_READ | PROT_WRITE);
    q[5] = 'Z';
    printf("after mprotect: %c%c, the file still has %c\n", q[4], q[5], buf[5]);

    /* Anonymous memory mapped over part of it, and after munmap, reads zero. */
    char *a = mmap(p, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("anonymous memory over it reads zero: %d, the next page still the file: %c\n", a[0] == 0 && a[1] == 0,
           p[page]);
    munmap(p, 3 * page);
    munmap(q, 2 * page);
    int zero = 1;
    for (int i = 0; i < 64; i++) {
        char *z = mmap(0, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        for (long k = 0; k < 3 * page; k++) zero &= z[k] == 0;
        munmap(z, 3 * page);
    }
    printf("fresh anonymous memory reads zero: %d\n", zero);
    close(fd);
    return 0;
}
