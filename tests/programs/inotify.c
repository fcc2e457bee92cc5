/* inotify on files in a scratch directory: create, write, rename and delete
 * events with their names, a watch on one file, IN_ONESHOT, a blocking read
 * woken by another process's change, poll readiness, the errors for bad
 * arguments. Prints what it saw; the output must equal the native run's.
 * `inotify outside PATH`: tries to watch PATH, directly and through a symlink. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int wd_dir, wd_file;

/* A call's result and errno, printed (the errno read after the call). */
static void say(const char *what, long r) {
    int e = errno;
    printf("%s: %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(e) : "");
}

static const char *what(uint32_t mask) {
    static char b[128];
    b[0] = 0;
    static const struct { uint32_t bit; const char *name; } n[] = {
        {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"}, {IN_CLOSE_WRITE, "CLOSE_WRITE"},
        {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"},
        {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
        {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"},
    };
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        if (mask & n[i].bit) snprintf(b + strlen(b), sizeof b - strlen(b), "%s%s", b[0] ? "|" : "", n[i].name);
    return b;
}

/* Reads what is there (non-blocking) and prints each event. */
static void drain(int fd, const char *when) {
    char buf[4096] __attribute__((aligned(8)));
    printf("%s:\n", when);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN) printf("  read: %s\n", strerror(errno));
            return;
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            const char *watch = e->wd == wd_dir ? "dir" : e->wd == wd_file ? "file" : "?";
            printf("  %s %s %s%s\n", watch, what(e->mask), e->len ? e->name : "", e->cookie ? " (cookie)" : "");
            p += sizeof *e + e->len;
        }
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc == 3 && !strcmp(argv[1], "outside")) {
        /* A watch on a host path, directly and through a symlink. */
        symlink(argv[2], "out");
        int fd = inotify_init();
        say("watch the path", inotify_add_watch(fd, argv[2], IN_ALL_EVENTS));
        say("watch through a symlink", inotify_add_watch(fd, "out", IN_ALL_EVENTS));
        return 0;
    }
    mkdir("watched", 0755);
    close(open("watched/existing", O_CREAT | O_WRONLY, 0644));
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    wd_dir = inotify_add_watch(fd, "watched", IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE);
    wd_file = inotify_add_watch(fd, "watched/existing", IN_ATTRIB | IN_MODIFY | IN_ONESHOT);
    printf("watches: %d %d\n", wd_dir > 0, wd_file > 0);
    drain(fd, "nothing yet");
    int f = open("watched/new", O_CREAT | O_WRONLY, 0644);
    write(f, "x", 1);
    close(f);
    drain(fd, "create, write, close");
    chmod("watched/existing", 0600);
    chmod("watched/existing", 0644);
    drain(fd, "chmod twice (the file's watch is one-shot)");
    rename("watched/new", "watched/renamed");
    unlink("watched/renamed");
    drain(fd, "rename, unlink");
    struct pollfd p = {fd, POLLIN, 0};
    printf("poll with nothing: %d\n", poll(&p, 1, 0));
    close(open("watched/ready", O_CREAT | O_WRONLY, 0644));
    printf("poll after a change: %d %s\n", poll(&p, 1, 1000), p.revents & POLLIN ? "POLLIN" : "");
    drain(fd, "after poll");
    printf("rm_watch: %d\n", inotify_rm_watch(fd, wd_dir));
    drain(fd, "after rm_watch");
    say("rm_watch again", inotify_rm_watch(fd, wd_dir));
    say("watch a missing file", inotify_add_watch(fd, "watched/missing", IN_ALL_EVENTS));
    say("watch with no events", inotify_add_watch(fd, "watched", 0));
    say("watch on a non-inotify fd", inotify_add_watch(1, "watched", IN_CREATE));
    say("init1 with bad flags", inotify_init1(1));
    /* The working directory itself, as ".". */
    int d = inotify_init1(IN_NONBLOCK);
    wd_dir = inotify_add_watch(d, ".", IN_CREATE);
    close(open("in-the-working-directory", O_CREAT | O_WRONLY, 0644));
    drain(d, "a watch on \".\"");
    /* A blocking instance: a read waits until another process changes the directory. */
    int b = inotify_init();
    wd_dir = inotify_add_watch(b, "watched", IN_CREATE);
    pid_t c = fork();
    if (c == 0) {
        usleep(100 * 1000);
        close(open("watched/from-child", O_CREAT | O_WRONLY, 0644));
        _exit(0);
    }
    char buf[4096] __attribute__((aligned(8)));
    ssize_t n = read(b, buf, sizeof buf);
    struct inotify_event *e = (struct inotify_event *)buf;
    printf("blocking read: %s %s\n", n > 0 ? what(e->mask) : strerror(errno), n > 0 ? e->name : "");
    waitpid(c, NULL, 0);
    return 0;
}
