#define _GNU_SOURCE
/* File system work in the working directory: create, write, read, seek,
 * stat, rename, list, link, truncate, unlink, directories. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }

static void list(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { printf("opendir %s: %s\n", dir, strerror(errno)); return; }
    char *names[64]; int n = 0; struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("%s:", dir);
    for (int i = 0; i < n; i++) printf(" %s", names[i]), free(names[i]);
    printf("\n");
}

int main(void) {
    FILE *f = fopen("notes.txt", "w");
    if (!f) { perror("fopen"); return 1; }
    for (int i = 0; i < 100; i++) fprintf(f, "line %d\n", i);
    fclose(f);

    struct stat st;
    if (stat("notes.txt", &st)) perror("stat");
    printf("size %lld regular %d mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode), st.st_mode & 0777);

    int fd = open("notes.txt", O_RDWR);
    char buf[32] = {0};
    lseek(fd, 10, SEEK_SET);
    read(fd, buf, 6);
    printf("at 10: [%s]\n", buf);
    printf("seek end: %lld\n", (long long)lseek(fd, 0, SEEK_END));
    pwrite(fd, "LINE", 4, 0);
    memset(buf, 0, sizeof buf);
    pread(fd, buf, 10, 0);
    printf("pread: [%s]\n", buf);
    ftruncate(fd, 20);
    fstat(fd, &st);
    printf("truncated size %lld\n", (long long)st.st_size);
    int fd2 = dup(fd);
    lseek(fd2, 0, SEEK_SET);
    printf("dup shares offset: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("cloexec after dup3: %d\n", fcntl(dup3(fd, 50, O_CLOEXEC), F_GETFD));
    close(fd); close(fd2); close(50);

    printf("mkdir: %d\n", mkdir("sub", 0750));
    printf("mkdir again: %s\n", mkdir("sub", 0750) ? strerror(errno) : "ok");
    printf("rename: %d\n", rename("notes.txt", "sub/moved.txt"));
    printf("symlink: %d\n", symlink("sub/moved.txt", "link"));
    char target[64] = {0};
    printf("readlink: %zd [%s]\n", readlink("link", target, sizeof target - 1), target);
    printf("lstat is link: %d\n", lstat("link", &st) == 0 && S_ISLNK(st.st_mode));
    printf("stat through link: %lld\n", stat("link", &st) == 0 ? (long long)st.st_size : -1LL);
    printf("hard link: %d\n", link("sub/moved.txt", "sub/hard.txt"));
    stat("sub/hard.txt", &st);
    printf("nlink %ld\n", (long)st.st_nlink);
    list(".");
    list("sub");

    struct timespec times[2] = {{1000000000, 0}, {1234567890, 0}};
    printf("utimensat: %d\n", utimensat(AT_FDCWD, "sub/moved.txt", times, 0));
    stat("sub/moved.txt", &st);
    printf("mtime %lld\n", (long long)st.st_mtime);
    printf("chmod: %d\n", chmod("sub/moved.txt", 0600));
    stat("sub/moved.txt", &st);
    printf("mode now %o\n", st.st_mode & 0777);
    printf("access W_OK: %d\n", access("sub/moved.txt", W_OK));
    printf("missing: %s\n", access("nope", F_OK) ? strerror(errno) : "exists?");
    printf("open missing: %s\n", open("nope/x", O_RDONLY) < 0 ? strerror(errno) : "opened?");
    printf("rmdir non-empty: %s\n", rmdir("sub") ? strerror(errno) : "removed?");

    char cwd[4096];
    getcwd(cwd, sizeof cwd);
    printf("chdir sub: %d\n", chdir("sub"));
    printf("relative open after chdir: %d\n", (fd = open("moved.txt", O_RDONLY)) >= 0);
    close(fd);
    int dirfd = open(".", O_RDONLY | O_DIRECTORY);
    chdir(cwd);
    printf("openat via dirfd: %d\n", (fd = openat(dirfd, "hard.txt", O_RDONLY)) >= 0);
    close(fd); close(dirfd);

    unlink("link");
    unlink("sub/hard.txt");
    unlink("sub/moved.txt");
    printf("rmdir: %d\n", rmdir("sub"));
    list(".");

    int devnull = open("/dev/null", O_WRONLY);
    printf("/dev/null write: %zd\n", write(devnull, "abc", 3));
    int zero = open("/dev/zero", O_RDONLY);
    memset(buf, 1, 8);
    printf("/dev/zero read: %zd %d\n", read(zero, buf, 8), buf[0] + buf[7]);

    /* A regular file is read whole in one read(), however many pieces the
     * buffer's memory is in: pages freed in a scattered order are what a new
     * mapping gets first (hx once stopped after one request's worth). */
    enum { PAGES = 512 };
    size_t big = 200 * 4096;
    char *data = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (size_t i = 0; i < big; i++) data[i] = (char)(i * 7);
    fd = open("big.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    printf("big write: %zd\n", write(fd, data, big));
    static char *pages[PAGES];
    for (int i = 0; i < PAGES; i++) {
        pages[i] = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        pages[i][0] = 1;
    }
    for (int i = 0; i < PAGES; i += 2) munmap(pages[i], 4096);
    char *back = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    lseek(fd, 0, SEEK_SET);
    ssize_t got = read(fd, back, big);
    printf("big read: %zd, same: %d\n", got, !memcmp(data, back, big));
    memset(back, 0, big);
    got = pread(fd, back, big, 0);
    printf("big pread: %zd, same: %d\n", got, !memcmp(data, back, big));
    close(fd);
    unlink("big.bin");
    return 0;
}
