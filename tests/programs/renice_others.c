// setpriority/getpriority on other processes (what renice does): a child's
// nice value set by its parent by pid and by process group, seen by the
// child itself and by the parent; a missing process or group is ESRCH.
// hx answered EPERM (and ESRCH for another group).
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
    int go[2], back[2];
    pipe(go);
    pipe(back);
    pid_t c = fork();
    if (c == 0) {
        setpgid(0, 0);
        char b;
        for (int round = 0; round < 2; round++) {
            write(back[1], "r", 1);
            read(go[0], &b, 1);
            // Seen by the child itself (errno cleared: -1 is a valid answer).
            errno = 0;
            int n = getpriority(PRIO_PROCESS, 0);
            dprintf(back[1], "%3d", n);
        }
        _exit(0);
    }
    char b, seen[4] = {0};
    read(back[0], &b, 1);
    printf("by pid: %d\n", setpriority(PRIO_PROCESS, c, 5));
    printf("the parent sees: %d\n", getpriority(PRIO_PROCESS, c));
    write(go[1], "g", 1);
    read(back[0], seen, 3);
    printf("the child sees: %s\n", seen);
    read(back[0], &b, 1);
    printf("by group: %d\n", setpriority(PRIO_PGRP, c, 7));
    printf("the group's: %d\n", getpriority(PRIO_PGRP, c));
    write(go[1], "g", 1);
    read(back[0], seen, 3);
    printf("the child sees: %s\n", seen);
    waitpid(c, NULL, 0);
    int r = setpriority(PRIO_PROCESS, 999999, 1);
    printf("a missing process: %d %s\n", r, strerror(errno));
    r = setpriority(PRIO_PGRP, 999999, 1);
    printf("a missing group: %d %s\n", r, strerror(errno));
    errno = 0;
    r = getpriority(PRIO_PGRP, 999999);
    printf("a missing group's: %d %s\n", r, strerror(errno));
    return 0;
}
