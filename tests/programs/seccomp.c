/* seccomp as a program uses it on itself: filters installed with seccomp()
 * and prctl(), each action (ERRNO, TRAP with SIGSYS's siginfo, TRACE without
 * a tracer, KILL_PROCESS, KILL_THREAD, LOG, ALLOW), the strictest of several
 * filters winning, strict mode, refused programs, and what keeps the
 * filters: new threads, TSYNC, fork and execve (with no_new_privs).
 * Prints facts that are the same on any Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NR offsetof(struct seccomp_data, nr)
#define ARCH offsetof(struct seccomp_data, arch)
#define ARG0 offsetof(struct seccomp_data, args[0])

/* A filter: the x86-64 check, then `nr` gets `action`, the rest `otherwise`. */
static int install_for(int nr, unsigned action, unsigned otherwise, unsigned flags) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARCH),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, otherwise),
    };
    struct sock_fprog p = {sizeof f / sizeof f[0], f};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p);
}

static const char *res(long r) {
    static char b[64];
    if (r >= 0) snprintf(b, sizeof b, "%ld", r);
    else snprintf(b, sizeof b, "-1 errno %d", errno);
    return b;
}

static volatile int trapped_nr, trapped_code, trapped_arch_ok, trapped_errno, trapped_addr_ok;
static void on_sigsys(int sig, siginfo_t *si, void *uc) {
    (void)sig, (void)uc;
    trapped_nr = si->si_syscall;
    trapped_code = si->si_code;
    trapped_arch_ok = si->si_arch == AUDIT_ARCH_X86_64;
    trapped_errno = si->si_errno;
    trapped_addr_ok = si->si_call_addr != NULL;
}

/* Runs `body` in a child; says how it ended. */
static void in_child(const char *what, void (*body)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        body();
        fflush(stdout);
        _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (WIFSIGNALED(st)) printf("%s: killed by signal %d\n", what, WTERMSIG(st));
    else printf("%s: exit %d\n", what, WEXITSTATUS(st));
}

static void errno_action(void) {
    /* Every other argument must be 0. */
    int bad = prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0);
    printf("no_new_privs with arg3: %d %d\n", bad, bad < 0 ? errno : 0);
    bad = prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0);
    printf("get no_new_privs with arg2: %d %d\n", bad, bad < 0 ? errno : 0);
    printf("no_new_privs: %d\n", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    printf("install: %d\n", install_for(SYS_getppid, SECCOMP_RET_ERRNO | 42, SECCOMP_RET_ALLOW, 0));
    printf("PR_GET_SECCOMP: %d\n", prctl(PR_GET_SECCOMP));
    char line[256];
    FILE *st = fopen("/proc/self/status", "r");
    while (st && fgets(line, sizeof line, st))
        if (!strncmp(line, "NoNewPrivs", 10) || !strncmp(line, "Seccomp", 7)) fputs(line, stdout);
    if (st) fclose(st);
    printf("getppid: %s\n", res(syscall(SYS_getppid)));
    printf("getpid allowed: %d\n", syscall(SYS_getpid) > 0);
    /* A second filter: the strictest action wins (TRAP over ERRNO). */
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSYS, &sa, NULL);
    printf("second: %d\n", install_for(SYS_getppid, SECCOMP_RET_TRAP | 7, SECCOMP_RET_ALLOW, 0));
    long r = syscall(SYS_getppid);
    printf("getppid now: %s; SIGSYS nr %d code %d arch %d data %d addr %d\n", res(r), trapped_nr, trapped_code,
           trapped_arch_ok, trapped_errno, trapped_addr_ok);
    /* ERRNO's data is capped at 4095. */
    install_for(SYS_getuid, SECCOMP_RET_ERRNO | 5000, SECCOMP_RET_ALLOW, 0);
    printf("getuid: %s\n", res(syscall(SYS_getuid)));
    /* TRACE without a tracer: ENOSYS. LOG: the call runs. */
    install_for(SYS_getgid, SECCOMP_RET_TRACE, SECCOMP_RET_ALLOW, 0);
    printf("getgid traced: %s\n", res(syscall(SYS_getgid)));
    install_for(SYS_geteuid, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW, 0);
    printf("geteuid logged: %d\n", syscall(SYS_geteuid) >= 0);
}

static void *thread_getppid(void *arg) {
    (void)arg;
    long r = syscall(SYS_getppid);
    return (void *)(r < 0 ? (long)errno : 0L);
}

static void *wait_then_getppid(void *arg) {
    volatile int *go = arg;
    while (!*go) usleep(1000);
    return thread_getppid(NULL);
}

static void thread_rules(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    static volatile int go1, go2;
    pthread_t before, before2, after;
    pthread_create(&before, NULL, wait_then_getppid, (void *)&go1);
    install_for(SYS_getppid, SECCOMP_RET_ERRNO | 11, SECCOMP_RET_ALLOW, 0);
    go1 = 1;
    void *r;
    pthread_join(before, &r);
    printf("a thread from before, without TSYNC: errno %ld\n", (long)r);
    pthread_create(&after, NULL, thread_getppid, NULL);
    pthread_join(after, &r);
    printf("a thread made after: errno %ld\n", (long)r);
    pthread_create(&before2, NULL, wait_then_getppid, (void *)&go2);
    printf("TSYNC: %d\n", install_for(SYS_getppid, SECCOMP_RET_ERRNO | 12, SECCOMP_RET_ALLOW, SECCOMP_FILTER_FLAG_TSYNC));
    go2 = 1;
    pthread_join(before2, &r);
    printf("a thread from before, with TSYNC: errno %ld\n", (long)r);
}

static void kill_process(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    install_for(SYS_getppid, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ALLOW, 0);
    printf("before the killing call\n");
    fflush(stdout);
    syscall(SYS_getppid);
    printf("not reached\n");
}

static void kill_thread_of_one(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    install_for(SYS_getppid, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_ALLOW, 0);
    syscall(SYS_getppid);
    printf("not reached\n");
}

static void trap_unhandled(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    install_for(SYS_getppid, SECCOMP_RET_TRAP, SECCOMP_RET_ALLOW, 0);
    syscall(SYS_getppid);
    printf("not reached\n");
}

static void strict(void) {
    printf("strict: %ld\n", syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL));
    fflush(stdout);
    const char m[] = "write still works\n";
    syscall(SYS_write, 1, m, sizeof m - 1);
    syscall(SYS_getpid);
    syscall(SYS_write, 1, "not reached\n", 12);
}

static void refused(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    struct sock_filter bad_jump[] = {
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter no_ret[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR)};
    struct sock_filter odd_load[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter past_data[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter byte_load[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_filter div_zero[] = {
        BPF_STMT(BPF_ALU | BPF_DIV | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct {
        const char *name;
        struct sock_filter *f;
        unsigned short n;
    } cases[] = {{"jump out of the program", bad_jump, 2}, {"no return at the end", no_ret, 1},
                 {"unaligned load", odd_load, 2},        {"load past seccomp_data", past_data, 2},
                 {"byte load", byte_load, 2},            {"division by zero", div_zero, 2},
                 {"empty", bad_jump, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sock_fprog p = {cases[i].n, cases[i].f};
        printf("%s: %s\n", cases[i].name, res(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)));
    }
    printf("unknown flag: %s\n", res(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 1u << 20, NULL)));
    printf("unknown operation: %s\n", res(syscall(SYS_seccomp, 99, 0, NULL)));
    unsigned action = SECCOMP_RET_KILL_PROCESS;
    printf("action available (kill process): %s\n", res(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action)));
    action = 0x12340000;
    printf("action available (unknown): %s\n", res(syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action)));
    struct seccomp_notif_sizes sizes;
    syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
    printf("notif sizes: %u %u %u\n", sizes.seccomp_notif, sizes.seccomp_notif_resp, sizes.seccomp_data);
    /* A filter on an argument: getpriority(PRIO_PROCESS=0, ...) refused, others allowed. */
    struct sock_filter on_arg[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, NR),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpriority, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 3),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog p = {6, on_arg};
    printf("on an argument: %d\n", prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p, 0, 0));
    printf("getpriority(PRIO_PGRP): %s\n", res(syscall(SYS_getpriority, 1, 0)));
    printf("getpriority(PRIO_PROCESS) allowed: %d\n", syscall(SYS_getpriority, 0, 0) >= 0);
    printf("strict after a filter: %s\n", res(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL)));
}

static char *self;
static void across_exec(void) {
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    install_for(SYS_getppid, SECCOMP_RET_ERRNO | 33, SECCOMP_RET_ALLOW, 0);
    execl(self, self, "after-exec", (char *)NULL);
    printf("execl: %s\n", strerror(errno));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    self = argv[0];
    if (argc > 1 && !strcmp(argv[1], "after-exec")) {
        printf("after exec: getppid %s, no_new_privs %d, PR_GET_SECCOMP %d\n", res(syscall(SYS_getppid)),
               prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), prctl(PR_GET_SECCOMP));
        return 0;
    }
    printf("PR_GET_SECCOMP at start: %d\n", prctl(PR_GET_SECCOMP));
    in_child("errno, trap, trace, log", errno_action);
    in_child("threads", thread_rules);
    in_child("kill process", kill_process);
    in_child("kill thread (the only one)", kill_thread_of_one);
    in_child("trap without a handler", trap_unhandled);
    in_child("strict", strict);
    in_child("refused programs", refused);
    in_child("across execve", across_exec);
    /* fork keeps the filter. */
    if (fork() == 0) {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        install_for(SYS_getppid, SECCOMP_RET_ERRNO | 44, SECCOMP_RET_ALLOW, 0);
        fflush(stdout);
        pid_t g = fork();
        if (g == 0) {
            printf("forked child: getppid %s\n", res(syscall(SYS_getppid)));
            fflush(stdout);
            _exit(0);
        }
        waitpid(g, NULL, 0);
        _exit(0);
    }
    wait(NULL);
    printf("the parent was never filtered: %d\n", syscall(SYS_getppid) >= 0);
    return 0;
}
