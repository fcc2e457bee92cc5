// process_madvise, process_mrelease and fanotify_mark as Linux answers a
// process without fanotify groups: the caller's own ranges advised (bytes
// counted, an unmapped one ENOMEM, a bad advice or flag EINVAL), a running
// child's memory is not released (EINVAL), a reaped one's is gone (ESRCH),
// a closed descriptor is EBADF and any other EINVAL. hx answered ENOSYS.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_process_mrelease
#define SYS_process_mrelease 448
#endif

static void show(const char *what, long r) {
    printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    int self = (int)syscall(SYS_pidfd_open, getpid(), 0);
    char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + 3 * page, page);
    struct iovec v[2] = {{m, 2 * page}, {m + 2 * page, page}};
    show("advise two ranges cold", syscall(SYS_process_madvise, self, v, 2, MADV_COLD, 0));
    show("advise pageout", syscall(SYS_process_madvise, self, v, 1, MADV_PAGEOUT, 0));
    struct iovec gone[1] = {{m + 3 * page, page}};
    show("advise an unmapped range", syscall(SYS_process_madvise, self, gone, 1, MADV_COLD, 0));
    struct iovec then[2] = {{m, page}, {m + 3 * page, page}};
    show("a mapped then an unmapped range", syscall(SYS_process_madvise, self, then, 2, MADV_COLD, 0));
    show("advise don't-need", syscall(SYS_process_madvise, self, v, 1, MADV_DONTNEED, 0));
    show("advise with flags", syscall(SYS_process_madvise, self, v, 1, MADV_COLD, 1));
    show("advise through a pipe", syscall(SYS_process_madvise, 0, v, 1, MADV_COLD, 0));

    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    int child = (int)syscall(SYS_pidfd_open, c, 0);
    show("release a running child", syscall(SYS_process_mrelease, child, 0));
    show("release with flags", syscall(SYS_process_mrelease, child, 1));
    kill(c, SIGKILL);
    waitpid(c, NULL, 0);
    show("release a reaped child", syscall(SYS_process_mrelease, child, 0));
    show("release through a closed descriptor", syscall(SYS_process_mrelease, 99, 0));

    show("fanotify mark through a closed descriptor", syscall(SYS_fanotify_mark, 99, 1, 0x20, AT_FDCWD, "."));
    show("fanotify mark through a pipe", syscall(SYS_fanotify_mark, 0, 1, 0x20, AT_FDCWD, "."));
    show("fanotify mark with no action", syscall(SYS_fanotify_mark, 0, 0, 0x20, AT_FDCWD, "."));
    return 0;
}
