/* fcntl's file owner: F_SETOWN/F_GETOWN for a process, a group and none,
 * F_SETOWN_EX/F_GETOWN_EX with each owner kind, F_SETSIG/F_GETSIG, and
 * each refusal's errno (no such process, a bad kind, a bad signal). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : ""); }

static int fd;
static void *in_thread(void *arg) {
    (void)arg;
    struct f_owner_ex o = {F_OWNER_TID, (pid_t)syscall(SYS_gettid)};
    show("thread owns", fcntl(fd, F_SETOWN_EX, &o));
    struct f_owner_ex got;
    fcntl(fd, F_GETOWN_EX, &got);
    printf("  kind %d, is the thread %d\n", got.type, got.pid == o.pid);
    return NULL;
}

int main(void) {
    int p[2];
    pipe(p);
    fd = p[0];
    pid_t me = getpid();
    show("getown at first", fcntl(fd, F_GETOWN));
    show("setown self", fcntl(fd, F_SETOWN, me));
    printf("  getown is self: %d\n", fcntl(fd, F_GETOWN) == me);
    show("setown group", fcntl(fd, F_SETOWN, -getpgrp()));
    printf("  getown is -group: %d\n", fcntl(fd, F_GETOWN) == -getpgrp());
    show("setown none", fcntl(fd, F_SETOWN, 0));
    show("getown none", fcntl(fd, F_GETOWN));
    show("setown no such pid", fcntl(fd, F_SETOWN, 999999));
    struct f_owner_ex o = {F_OWNER_PID, me}, got;
    show("setown_ex pid", fcntl(fd, F_SETOWN_EX, &o));
    fcntl(fd, F_GETOWN_EX, &got);
    printf("  kind %d, is self %d\n", got.type, got.pid == me);
    o.type = F_OWNER_PGRP;
    o.pid = getpgrp();
    show("setown_ex group", fcntl(fd, F_SETOWN_EX, &o));
    fcntl(fd, F_GETOWN_EX, &got);
    printf("  kind %d, is the group %d\n", got.type, got.pid == getpgrp());
    o.type = 7;
    show("setown_ex bad kind", fcntl(fd, F_SETOWN_EX, &o));
    o.type = F_OWNER_PID;
    o.pid = 999999;
    show("setown_ex no such pid", fcntl(fd, F_SETOWN_EX, &o));
    pthread_t t;
    pthread_create(&t, NULL, in_thread, NULL);
    pthread_join(t, NULL);
    show("getsig at first", fcntl(fd, F_GETSIG));
    show("setsig", fcntl(fd, F_SETSIG, SIGUSR1));
    show("getsig", fcntl(fd, F_GETSIG));
    show("setsig bad", fcntl(fd, F_SETSIG, 1000));
    return 0;
}
