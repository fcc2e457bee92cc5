/* sched_getattr/sched_setattr and the time-sharing policies, each printed
 * with its result and errno (no real-time policy: that needs privileges),
 * and the scheduling another process of the tree reads as. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

struct attr {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
    char tail[16];
};


static void get(const char *what, unsigned size) {
    struct attr a;
    memset(&a, 0x55, sizeof a);
    errno = 0;
    long r = syscall(SYS_sched_getattr, 0, &a, size, 0);
    printf("%s = %ld (errno %d)", what, r, r < 0 ? errno : 0);
    if (r == 0) printf(": size %u policy %u flags %llu nice %d priority %u", a.size, a.policy, (unsigned long long)a.flags, a.nice, a.priority);
    printf("\n");
}

int main(void) {
    get("getattr, 48 bytes", 48);
    get("getattr, 56 bytes", 56);
    get("getattr, 40 bytes", 40);
    struct attr a = {.size = 48, .policy = SCHED_BATCH, .nice = 5};
    SHOW("setattr SCHED_BATCH nice 5", syscall(SYS_sched_setattr, 0, &a, 0));
    SHOW("getscheduler", sched_getscheduler(0));
    get("getattr", 48);
    SHOW("getpriority", getpriority(0, 0));
    a = (struct attr){.size = 48, .policy = SCHED_IDLE, .flags = 1 /* RESET_ON_FORK */, .nice = 7};
    SHOW("setattr SCHED_IDLE, reset on fork", syscall(SYS_sched_setattr, 0, &a, 0));
    SHOW("getscheduler", sched_getscheduler(0));
    get("getattr", 48);
    pid_t child = fork();
    if (child == 0) {
        printf("child: getscheduler = %d\n", sched_getscheduler(0));
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, 0, 0);
    a = (struct attr){.size = 48, .policy = SCHED_OTHER, .priority = 1};
    SHOW("setattr SCHED_OTHER priority 1", syscall(SYS_sched_setattr, 0, &a, 0));
    a = (struct attr){.size = 32, .policy = SCHED_OTHER};
    SHOW("setattr size 32", syscall(SYS_sched_setattr, 0, &a, 0));
    printf("  size written back: %u\n", a.size);
    a = (struct attr){.size = sizeof a, .policy = SCHED_OTHER};
    a.tail[3] = 1;
    SHOW("setattr, non-zero bytes past the known structure", syscall(SYS_sched_setattr, 0, &a, 0));
    printf("  size written back: %u\n", a.size);
    a = (struct attr){.size = sizeof a, .policy = SCHED_BATCH, .nice = 8};
    SHOW("setattr SCHED_BATCH nice 8, a longer structure", syscall(SYS_sched_setattr, 0, &a, 0));
    get("getattr", 56);
    a = (struct attr){.size = 48, .policy = 42};
    SHOW("setattr policy 42", syscall(SYS_sched_setattr, 0, &a, 0));
    a = (struct attr){.size = 48, .policy = SCHED_OTHER, .flags = 0x1000};
    SHOW("setattr unknown flag", syscall(SYS_sched_setattr, 0, &a, 0));
    SHOW("setattr flags argument 1", syscall(SYS_sched_setattr, 0, &a, 1));
    SHOW("getattr of a missing pid", syscall(SYS_sched_getattr, 999999, &a, 48, 0));
    struct sched_param sp = {0};
    SHOW("setscheduler SCHED_BATCH", sched_setscheduler(0, SCHED_BATCH, &sp));
    SHOW("getscheduler", sched_getscheduler(0));
    SHOW("setscheduler SCHED_OTHER", sched_setscheduler(0, SCHED_OTHER, &sp));
    SHOW("getscheduler", sched_getscheduler(0));
    /* A null parameter or a negative pid: EINVAL before anything else. */
    SHOW("getparam NULL", syscall(SYS_sched_getparam, 0, NULL));
    SHOW("setparam NULL", syscall(SYS_sched_setparam, 0, NULL));
    SHOW("setscheduler NULL", syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL));
    SHOW("setscheduler pid -1", syscall(SYS_sched_setscheduler, -1, SCHED_OTHER, &sp));
    SHOW("getparam pid -1", syscall(SYS_sched_getparam, -1, &sp));
    /* Another process (the parent, from a child): its policy and nice
       value read as the defaults it has; tgkill's ids are 32-bit. */
    fflush(stdout);
    pid_t parent = getpid();
    prctl(PR_SET_TIMERSLACK, 70000);
    pid_t reader = fork();
    if (reader == 0) {
        sp.sched_priority = 7;
        SHOW("the parent's getparam", sched_getparam(parent, &sp));
        printf("  priority %d\n", sp.sched_priority);
        SHOW("the parent's getscheduler", sched_getscheduler(parent));
        SHOW("the parent's getpriority", syscall(SYS_getpriority, PRIO_PROCESS, parent));
        cpu_set_t set;
        CPU_ZERO(&set);
        SHOW("the parent's getaffinity", sched_getaffinity(parent, sizeof set, &set) == 0 && CPU_ISSET(0, &set));
        SHOW("tgkill of tgid -1 (32 bits)", syscall(SYS_tgkill, 0xffffffffUL, getpid(), 0));
        SHOW("tgkill of tid -1 (32 bits)", syscall(SYS_tgkill, getpid(), 0xffffffffUL, 0));
        /* The timer slack at the fork is the child's, and its default. */
        SHOW("the child's timer slack", prctl(PR_GET_TIMERSLACK));
        prctl(PR_SET_TIMERSLACK, 90000);
        prctl(PR_SET_TIMERSLACK, 0);
        SHOW("back to its default", prctl(PR_GET_TIMERSLACK));
        fflush(stdout);
        _exit(0);
    }
    waitpid(reader, NULL, 0);
    return 0;
}
