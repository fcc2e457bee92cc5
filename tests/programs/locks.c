/* Record locks and flock between two guest processes: a conflicting F_SETLK
 * fails, F_GETLK names the holder, F_SETLKW waits for the unlock. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    int fd = open("lockfile", O_CREAT | O_RDWR, 0600);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    printf("parent setlk: %d\n", fcntl(fd, F_SETLK, &fl));
    pid_t c = fork();
    if (c == 0) {
        int f2 = open("lockfile", O_RDWR);
        struct flock t = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
        int r = fcntl(f2, F_SETLK, &t);
        printf("child setlk: %d %s\n", r, r ? strerror(errno) : "");
        struct flock g = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
        fcntl(f2, F_GETLK, &g);
        printf("child getlk: type %s, holder is parent: %d\n", g.l_type == F_WRLCK ? "write" : "other", g.l_pid == getppid());
        t.l_type = F_WRLCK;
        r = fcntl(f2, F_SETLKW, &t); /* waits for the parent's unlock */
        printf("child setlkw: %d\n", r);
        printf("child flock nb: %d\n", flock(f2, LOCK_EX | LOCK_NB));
        _exit(0);
    }
    usleep(300000);
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    waitpid(c, 0, 0);
    printf("parent flock: %d\n", flock(fd, LOCK_EX));
    return 0;
}
