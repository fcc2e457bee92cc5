// Descriptors that share an open file (dup2) keep sharing it across
// execve: closing one leaves the others working, and they share the file
// offset and status flags. A shell's `dup2` of one terminal onto 0, 1 and 2
// followed by `exec` is the common case: in hx, a program that closed its
// stdin then lost stdout and stderr (every pipeline under `script` failed).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void after_exec(const char *kind) {
    close(5);
    int r = (int)write(6, "abc", 3);
    printf("%s: write to 6 after closing 5: %d (%s)\n", kind, r, r < 0 ? strerror(errno) : "ok");
    if (!strcmp(kind, "file")) {
        printf("file: offset seen through 7: %ld\n", (long)lseek(7, 0, SEEK_CUR));
        fcntl(6, F_SETFL, O_APPEND | O_WRONLY);
        printf("file: O_APPEND set through 6 seen through 7: %d\n", (fcntl(7, F_GETFL) & O_APPEND) != 0);
    }
    if (!strcmp(kind, "pipe")) {
        char buf[8] = {0};
        close(6);
        int n = (int)read(8, buf, sizeof buf - 1);
        printf("pipe: read %d bytes: %s\n", n, buf);
    }
}

int main(int argc, char **argv) {
    if (argc > 2) {
        after_exec(argv[1]);
        return 0;
    }
    const char *kinds[] = {"null", "file", "pipe"};
    for (int k = 0; k < 3; k++) {
        fflush(stdout);
        if (fork() == 0) {
            int f;
            if (k == 0) {
                f = open("/dev/null", O_WRONLY);
            } else if (k == 1) {
                f = open("exec_shared_fds.tmp", O_RDWR | O_CREAT | O_TRUNC, 0600);
            } else {
                int p[2];
                pipe(p);
                dup2(p[0], 8);
                f = p[1];
                close(p[0]);
            }
            dup2(f, 5);
            dup2(f, 6);
            dup2(f, 7);
            close(f);
            execl("/proc/self/exe", argv[0], kinds[k], "again", (char *)0);
            _exit(127);
        }
        int status;
        wait(&status);
    }
    unlink("exec_shared_fds.tmp");
    return 0;
}
