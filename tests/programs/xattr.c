/* Extended attributes of files in the working directory: the user.
 * namespace set, read, listed and removed by path, through a symlink, by
 * descriptor, with Linux's errors (flags, names, sizes, missing ones,
 * symlinks, FIFOs, pipes, /proc). With "privileged", the namespaces only
 * root may write (hx's guest never may) and a read-only mount, apart: run
 * natively as root those would change the host (hx's tests run it in hx). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "show.h"

static void list(const char *what, long n, const char *names) {
    printf("%s = %ld:", what, n);
    for (long i = 0; i < n; i += (long)strlen(names + i) + 1) printf(" %s", names + i);
    printf("\n");
}

static char huge[65537];

static void by_path(void) {
    char v[100] = {0}, long_name[300];
    SHOW("set", setxattr("f", "user.a", "hello", 5, 0));
    SHOW("set, XATTR_CREATE of an existing one", setxattr("f", "user.a", "x", 1, XATTR_CREATE));
    SHOW("set, XATTR_REPLACE of a missing one", setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
    SHOW("set, unknown flag", setxattr("f", "user.b", "x", 1, 4));
    SHOW("set, unknown namespace", setxattr("f", "bogus.a", "x", 1, 0));
    SHOW("set, empty name", setxattr("f", "", "x", 1, 0));
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    memcpy(long_name, "user.", 5);
    SHOW("set, 299-byte name", setxattr("f", long_name, "x", 1, 0));
    SHOW("set, 64 KiB + 1 value", setxattr("f", "user.big", huge, sizeof huge, 0));
    SHOW("set on a directory", setxattr("d", "user.d", "dd", 2, 0));
    SHOW("lset on a symlink", lsetxattr("l", "user.s", "x", 1, 0));
    SHOW("set through a symlink", setxattr("l", "user.c", "via", 3, 0));
    SHOW("set on a FIFO", setxattr("p", "user.a", "x", 1, 0));
    SHOW("set on a missing file", setxattr("nope", "user.a", "x", 1, 0));
    SHOW("get, size 0", getxattr("f", "user.a", NULL, 0));
    SHOW("get", getxattr("f", "user.a", v, sizeof v));
    printf("  value '%s'\n", v);
    SHOW("get into 2 bytes", getxattr("f", "user.a", v, 2));
    SHOW("get a missing one", getxattr("f", "user.zz", v, sizeof v));
    SHOW("get on the directory", getxattr("d", "user.d", v, sizeof v));
    SHOW("lget on the symlink", lgetxattr("l", "user.a", v, sizeof v));
    SHOW("get on the FIFO", getxattr("p", "user.a", v, sizeof v));
    SHOW("get on /proc", getxattr("/proc/self/status", "user.a", v, sizeof v));
    char names[200];
    list("list", listxattr("f", names, sizeof names), names);
    SHOW("list, size 0", listxattr("f", NULL, 0));
    SHOW("list into 3 bytes", listxattr("f", names, 3));
    list("llist of the symlink", llistxattr("l", names, sizeof names), names);
    SHOW("remove", removexattr("f", "user.a"));
    SHOW("remove again", removexattr("f", "user.a"));
    list("list after", listxattr("f", names, sizeof names), names);
}

static void by_descriptor(void) {
    char v[100] = {0}, names[200];
    int fd = open("f", O_RDONLY);
    SHOW("fget", fgetxattr(fd, "user.c", v, sizeof v));
    SHOW("fset", fsetxattr(fd, "user.f", "1", 1, 0));
    list("flist", flistxattr(fd, names, sizeof names), names);
    SHOW("fremove", fremovexattr(fd, "user.f"));
    SHOW("fremove again", fremovexattr(fd, "user.f"));
    close(fd);
    SHOW("fget of a closed descriptor", fgetxattr(fd, "user.c", v, sizeof v));
    int opath = open("f", O_PATH);
    SHOW("fget of an O_PATH descriptor", fgetxattr(opath, "user.c", v, sizeof v));
    int p[2];
    if (pipe(p) != 0) return;
    SHOW("fget of a pipe", fgetxattr(p[0], "user.a", v, sizeof v));
    SHOW("fset of a pipe", fsetxattr(p[0], "user.a", "x", 1, 0));
    SHOW("flist of a pipe", flistxattr(p[0], names, sizeof names));
}

int main(int argc, char **argv) {
    close(open("f", O_CREAT | O_WRONLY, 0644));
    mkdir("d", 0755);
    if (symlink("f", "l") != 0 || mkfifo("p", 0644) != 0) return 2;
    if (argc > 1 && !strcmp(argv[1], "privileged")) {
        SHOW("set trusted.a", setxattr("f", "trusted.a", "x", 1, 0));
        SHOW("set security.a", setxattr("f", "security.a", "x", 1, 0));
        SHOW("remove security.selinux", removexattr("f", "security.selinux"));
        SHOW("set on /usr, a read-only mount", setxattr("/usr", "user.hx", "1", 1, 0));
        return 0;
    }
    by_path();
    by_descriptor();
    return 0;
}
