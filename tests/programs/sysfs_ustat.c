// sysfs(2) and ustat(2), old calls some programs still make: answers that
// hold on any Linux (the type list itself differs from host to host).
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ustat_buf {
    int f_tfree;
    unsigned long f_tinode;
    char f_fname[6], f_fpack[6];
};

static const char *res(long r) {
    return r >= 0 ? "ok" : errno == EINVAL ? "EINVAL" : errno == EFAULT ? "EFAULT" : "other";
}

int main(void) {
    long count = syscall(SYS_sysfs, 3);
    printf("count > 1: %d\n", count > 1);
    long i = syscall(SYS_sysfs, 1, "proc");
    char name[64] = {0};
    long r = syscall(SYS_sysfs, 2, i, name);
    printf("proc's index names proc: %s %s\n", res(r), strcmp(name, "proc") == 0 ? "yes" : name);
    int all_named = 1;
    for (long k = 0; k < count; k++) {
        memset(name, 0, sizeof name);
        if (syscall(SYS_sysfs, 2, k, name) != 0 || syscall(SYS_sysfs, 1, name) != k)
            all_named = 0;
    }
    printf("every index round-trips: %d\n", all_named);
    printf("unknown name: %s\n", res(syscall(SYS_sysfs, 1, "no-such-fs")));
    printf("index past the end: %s\n", res(syscall(SYS_sysfs, 2, count, name)));
    printf("bad option: %s\n", res(syscall(SYS_sysfs, 4)));
    printf("bad name pointer: %s\n", res(syscall(SYS_sysfs, 1, (void *)16)));

    struct stat st;
    stat(".", &st);
    struct ustat_buf u;
    memset(&u, 0xff, sizeof u);
    r = syscall(SYS_ustat, (unsigned)st.st_dev, &u);
    printf("ustat of .'s device: %s, names zeroed %d\n", res(r), u.f_fname[0] == 0 && u.f_fpack[0] == 0);
    stat("/proc/self", &st);
    printf("ustat of /proc's device: %s\n", res(syscall(SYS_ustat, (unsigned)st.st_dev, &u)));
    printf("ustat of no device: %s\n", res(syscall(SYS_ustat, (unsigned)-1, &u)));
    stat(".", &st);
    printf("ustat into a bad pointer: %s\n", res(syscall(SYS_ustat, (unsigned)st.st_dev, (void *)-1)));
    return 0;
}
