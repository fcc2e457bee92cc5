/* A file a process runs cannot be opened for writing (ETXTBSY), whichever
 * process asks; once nothing runs it, it can. Copies itself to ./runner,
 * runs the copy in a child, and tries to write and truncate it meanwhile.
 * Run in a scratch directory; the output must equal the native run's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void try_open(const char *what, const char *path, int flags) {
    int fd = open(path, flags);
    printf("%s: %s\n", what, fd >= 0 ? "opened" : strerror(errno));
    if (fd >= 0) close(fd);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc > 1) { /* the copy, running: wait until told to end */
        char b;
        read(0, &b, 1);
        return 0;
    }
    int in = open("/proc/self/exe", O_RDONLY), out = open("runner", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
    close(in);
    close(out);
    int p[2];
    pipe(p);
    pid_t c = fork();
    if (c == 0) {
        dup2(p[0], 0);
        close(p[1]);
        execl("./runner", "runner", "run", (char *)NULL);
        _exit(127);
    }
    close(p[0]);
    int busy = 0;
    for (int i = 0; i < 2000 && !busy; i++) { /* until the child's exec took */
        int fd = open("runner", O_WRONLY);
        if (fd >= 0) close(fd);
        busy = fd < 0 && errno == ETXTBSY;
        if (!busy) usleep(1000);
    }
    printf("the running copy, for writing: %s\n", busy ? strerror(ETXTBSY) : "opened");
    try_open("the running copy, truncated", "runner", O_WRONLY | O_TRUNC);
    try_open("the running copy, for reading", "runner", O_RDONLY);
    close(p[1]);
    int st;
    waitpid(c, &st, 0);
    printf("child status: %d\n", WEXITSTATUS(st));
    try_open("the copy, nothing running it", "runner", O_WRONLY | O_TRUNC);
    unlink("runner");
    return 0;
}
