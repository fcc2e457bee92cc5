/* Tries to reach files through each path given: prints what it read, or the
 * error. "write TARGET" plants a symlink to TARGET and writes through it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_read(const char *path) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("open %.60s: %s\n", path, strerror(errno));
        return;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    printf("read %.60s: %zd [%s]\n", path, n, n > 0 ? buf : "");
    close(fd);
}

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "write")) {
        printf("symlink: %d\n", symlink(argv[2], "planted"));
        int fd = open("planted", O_WRONLY | O_TRUNC);
        printf("write through planted link: %s\n", fd < 0 ? strerror(errno) : "opened");
        if (fd >= 0) write(fd, "PWNED", 5);
        printf("hard link out of the mount: %s\n", link(argv[3], "hard") ? strerror(errno) : "made");
        printf("rename out of the mount: %s\n", rename("planted", argv[4]) ? strerror(errno) : "renamed");
        return 0;
    }
    for (int i = 1; i < argc; i++)
        try_read(argv[i]);
    return 0;
}
