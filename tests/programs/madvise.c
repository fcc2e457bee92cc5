/* madvise as Linux answers it: which advice goes with which mapping (each
 * errno printed), and the advice a forked child sees: MADV_WIPEONFORK gives
 * it zero pages, MADV_KEEPONFORK undoes that, MADV_DONTFORK leaves the
 * range out of the child (mincore says ENOMEM there). Run natively and in hx;
 * the outputs must match. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096

static const char *err(int r) { return r == 0 ? "ok" : strerror(errno); }

static void show(const char *what, void *p, size_t len, int advice) {
    printf("%-40s %s\n", what, err(madvise(p, len, advice)));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    /* (MADV_MERGEABLE is left out: its answer is the kernel's CONFIG_KSM, the
     * host's natively; hx's kernel has no KSM and says EINVAL.) */
    char *anon = mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *shared = mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fd = open("madvise.data", O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 2 * PAGE)) return 1;
    char *file = mmap(0, 2 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    char *hole = mmap(0, 3 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole + PAGE, PAGE);

    show("unaligned address", anon + 1, PAGE, MADV_NORMAL);
    show("unknown advice 1212", anon, PAGE, 1212);
    show("MADV_NORMAL over a hole", hole, 3 * PAGE, MADV_NORMAL);
    show("MADV_WILLNEED over a hole", hole, 3 * PAGE, MADV_WILLNEED);
    show("MADV_FREE on a file mapping", file, PAGE, MADV_FREE);
    show("MADV_FREE on anonymous memory", anon, PAGE, MADV_FREE);
    show("MADV_REMOVE on a private mapping", anon, PAGE, MADV_REMOVE);
    show("MADV_WIPEONFORK on a file mapping", file, PAGE, MADV_WIPEONFORK);
    show("MADV_WIPEONFORK on shared memory", shared, PAGE, MADV_WIPEONFORK);
    show("zero length", anon, 0, MADV_WIPEONFORK);

    memset(anon, 'p', 4 * PAGE);
    show("MADV_WIPEONFORK pages 0-2", anon, 3 * PAGE, MADV_WIPEONFORK);
    show("MADV_KEEPONFORK page 1", anon + PAGE, PAGE, MADV_KEEPONFORK);
    char *gone = mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(gone, 'g', 2 * PAGE);
    show("MADV_DONTFORK", gone, 2 * PAGE, MADV_DONTFORK);
    pid_t c = fork();
    if (c == 0) {
        printf("child sees pages 0-3: %c %c %c %c\n", anon[0] ? anon[0] : '0', anon[PAGE] ? anon[PAGE] : '0',
               anon[2 * PAGE] ? anon[2 * PAGE] : '0', anon[3 * PAGE] ? anon[3 * PAGE] : '0');
        unsigned char v;
        printf("child: the DONTFORK range: %s\n", err(mincore(gone, PAGE, &v)));
        fflush(stdout);
        /* Its own child inherits the wipe marks of what it kept. */
        memset(anon, 'c', PAGE);
        pid_t g = fork();
        if (g == 0) {
            printf("grandchild sees page 0: %c\n", anon[0] ? anon[0] : '0');
            _exit(0);
        }
        waitpid(g, NULL, 0);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    printf("parent keeps pages 0-3: %c %c %c %c, DONTFORK range: %c\n", anon[0], anon[PAGE], anon[2 * PAGE],
           anon[3 * PAGE], gone[0]);
    /* MADV_DONTNEED reads back zero even where only the kernel wrote: a
     * read() into fresh memory, and memory mremap moved. */
    char *fresh = mmap(0, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lseek(fd, 0, SEEK_SET);
    if (write(fd, "data", 4) != 4 || pread(fd, fresh + PAGE, 4, 0) != 4) return 1;
    printf("%-40s %s\n", "DONTNEED after read()", err(madvise(fresh, 64 * PAGE, MADV_DONTNEED)));
    printf("after read() and DONTNEED: %d\n", fresh[PAGE]);
    fresh[0] = 'm';
    char *blocker = mmap(fresh + 64 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    char *moved = mremap(fresh, 64 * PAGE, 128 * PAGE, MREMAP_MAYMOVE);
    printf("moved: %d, keeps %c\n", moved != MAP_FAILED && moved != fresh, moved != MAP_FAILED ? moved[0] : '?');
    printf("%-40s %s\n", "DONTNEED after mremap", err(madvise(moved, 128 * PAGE, MADV_DONTNEED)));
    printf("after mremap and DONTNEED: %d\n", moved[0]);
    /* ...and where mprotect took write access away and gave it back. */
    char *reprotected = mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(reprotected, 'r', 2 * PAGE);
    mprotect(reprotected, 2 * PAGE, PROT_READ);
    mprotect(reprotected, 2 * PAGE, PROT_READ | PROT_WRITE);
    printf("%-40s %s\n", "DONTNEED after mprotect", err(madvise(reprotected, 2 * PAGE, MADV_DONTNEED)));
    printf("after mprotect and DONTNEED: %d %d\n", reprotected[0], reprotected[PAGE]);
    munmap(blocker, PAGE);
    unlink("madvise.data");
    return 0;
}
