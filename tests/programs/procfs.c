/* /proc as a program sees it: its own files (/proc/self), its descriptors,
 * the errors /proc gives, the system files and the threads. Each sub-test
 * prints facts as "what: yes|no" (or values that are the same on any Linux),
 * so that a native run and a run under hx must print the same lines.
 *
 *   procfs self ARGS...  /proc/self: links, cmdline, environ, status, stat, maps, auxv...
 *   procfs fds           /proc/self/fd lists exactly the open descriptors
 *   procfs errors        what /proc refuses, with which errno
 *   procfs system        cpuinfo, meminfo, uptime, loadavg, version, stat, sys/
 *   procfs threads       task/ and thread-self with a second thread
 *   procfs sysctl-write  opening a sysctl for writing (hx refuses)
 *   procfs fork          a child's view (hx: other pids are not there)
 *   procfs pids          the numeric entries of /proc
 *   procfs print FILE... the files' bytes, as they are
 *   procfs limits        /proc/self/limits after setting every limit
 *   procfs mounts        mounts and mountinfo agree with stat and statfs
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void check(const char *what, int ok) { printf("%s: %s\n", what, ok ? "yes" : "no"); }

static const char *err_name(int e) {
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    case ELOOP: return "ELOOP";
    default: return "other";
    }
}

/* "0" for success, else the errno's name. */
static const char *result(long r) { return r < 0 ? err_name(errno) : "0"; }

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* The whole file (NUL-terminated; *len without the NUL); NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap) buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) { free(buf); close(fd); return NULL; }
        if (r == 0) break;
        n += r;
    }
    close(fd);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static char *text(const char *path) {
    char *t = slurp(path, NULL);
    return t ? t : strdup("");
}

/* The value of "Key:\t..." in a status-like text (static buffer). */
static const char *field(const char *txt, const char *key) {
    static char out[512];
    size_t k = strlen(key);
    for (const char *l = txt; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, key, k) == 0 && l[k] == ':') {
            const char *v = l + k + 1;
            while (*v == '\t' || *v == ' ') v++;
            size_t n = strcspn(v, "\n");
            if (n >= sizeof out) n = sizeof out - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;
}

static int has_key(const char *txt, const char *key) { return field(txt, key) != NULL; }

static char *link_of(const char *path) {
    static char buf[PATH_MAX + 1];
    ssize_t n = readlink(path, buf, PATH_MAX);
    if (n < 0) return strcpy(buf, "(error)");
    buf[n] = 0;
    return buf;
}

static int dir_has(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) found |= strcmp(e->d_name, name) == 0;
    closedir(d);
    return found;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void handler(int sig) { (void)sig; }

/* ---------------------------------------------------------------- self */

struct maps_facts {
    int parsed, columns, sorted, text, stack, heap, vdso, printf_named;
};

static struct maps_facts check_maps(const char *exe, uintptr_t code, uintptr_t local, uintptr_t fn) {
    struct maps_facts f = {1, 1, 1, 0, 0, 0, 0, 0};
    char *m = text("/proc/self/maps");
    uintptr_t prev_end = 0, brk_now = (uintptr_t)sbrk(0), vdso = getauxval(AT_SYSINFO_EHDR);
    int heap_exists = 0;
    for (char *l = strtok(m, "\n"); l; l = strtok(NULL, "\n")) {
        unsigned long start, end, off, ino;
        unsigned maj, min;
        char perms[8];
        int n = 0;
        if (sscanf(l, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &off, &maj, &min, &ino, &n) != 7) {
            f.parsed = 0;
            continue;
        }
        const char *name = l + n;
        if (*name && n != 73) f.columns = 0; /* a name starts in column 74 */
        if (start < prev_end || end <= start) f.sorted = 0;
        prev_end = end;
        int in = 0;
        if (code >= start && code < end) in = 1;
        if (in && strcmp(perms, "r-xp") == 0 && strcmp(name, exe) == 0) f.text = 1;
        if (local >= start && local < end && strcmp(name, "[stack]") == 0) f.stack = 1;
        if (strcmp(name, "[heap]") == 0) {
            heap_exists = 1;
            if (brk_now > start && brk_now <= end) f.heap = 1;
        }
        if (vdso && vdso >= start && vdso < end && strcmp(name, "[vdso]") == 0) f.vdso = 1;
        if (fn >= start && fn < end && perms[2] == 'x' && *name == '/') f.printf_named = 1;
    }
    if (!heap_exists) f.heap = 1; /* no program break in use: nothing to show */
    if (!vdso) f.vdso = 1;
    free(m);
    return f;
}

static void self(int argc, char **argv) {
    char expect[PATH_MAX * 2];
    pid_t pid = getpid();
    int local = 0;

    /* What the checks below look for: a blocked, an ignored and a caught signal. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGTERM, handler);

    snprintf(expect, sizeof expect, "%d", pid);
    check("/proc/self is the pid", strcmp(link_of("/proc/self"), expect) == 0);
    snprintf(expect, sizeof expect, "%d/task/%d", pid, gettid_());
    check("/proc/thread-self is pid/task/tid", strcmp(link_of("/proc/thread-self"), expect) == 0);
    char real[PATH_MAX];
    check("exe is the program", realpath(argv[0], real) && strcmp(link_of("/proc/self/exe"), real) == 0);
    char cwd[PATH_MAX];
    check("cwd is the working directory", getcwd(cwd, sizeof cwd) && strcmp(link_of("/proc/self/cwd"), cwd) == 0);
    check("root is /", strcmp(link_of("/proc/self/root"), "/") == 0);
    struct stat a, b;
    check("exe leads to the program's file",
          stat("/proc/self/exe", &a) == 0 && stat(argv[0], &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev);
    check("exe is a symlink", lstat("/proc/self/exe", &a) == 0 && S_ISLNK(a.st_mode));

    /* cmdline: argv, each with its NUL; read live, as Linux does. */
    size_t len, want = 0;
    char *cmd = slurp("/proc/self/cmdline", &len);
    char *joined = malloc(65536), *p = joined;
    for (int i = 0; i < argc; i++) p = stpcpy(p, argv[i]) + 1;
    want = p - joined;
    check("cmdline is argv", cmd && len == want && memcmp(cmd, joined, want) == 0);
    if (argc > 2) {
        argv[2][0] = 'X';
        free(cmd);
        cmd = slurp("/proc/self/cmdline", &len);
        check("cmdline shows argv as it is now", cmd && memchr(cmd, 'X', len) != NULL);
    }
    char *env = slurp("/proc/self/environ", &len);
    p = joined;
    for (char **e = environ; *e; e++) p = stpcpy(p, *e) + 1;
    want = p - joined;
    check("environ is the environment", env && len == want && memcmp(env, joined, want) == 0);

    char comm[32];
    snprintf(comm, sizeof comm, "%.15s\n", base_name(argv[0]));
    char *c = text("/proc/self/comm");
    check("comm is the program's name", strcmp(c, comm) == 0);
    comm[strlen(comm) - 1] = 0;

    /* status */
    char *st = text("/proc/self/status");
    const char *keys[] = {"Name",    "Umask",  "State",  "Tgid",   "Ngid",    "Pid",     "PPid",    "TracerPid",
                          "Uid",     "Gid",    "FDSize", "Groups", "NStgid",  "NSpid",   "NSpgid",  "NSsid",
                          "VmPeak",  "VmSize", "VmRSS",  "VmData", "VmStk",   "VmExe",   "VmLib",   "Threads",
                          "SigQ",    "SigPnd", "ShdPnd", "SigBlk", "SigIgn",  "SigCgt",  "CapInh",  "CapPrm",
                          "CapEff",  "CapBnd", "CapAmb", "Seccomp", "Cpus_allowed", "Cpus_allowed_list",
                          "voluntary_ctxt_switches", NULL};
    for (const char **k = keys; *k; k++) {
        char what[64];
        snprintf(what, sizeof what, "status has %s", *k);
        check(what, has_key(st, *k));
    }
    const char *v;
    check("status Name", (v = field(st, "Name")) && strcmp(v, comm) == 0);
    check("status State is running", (v = field(st, "State")) && strcmp(v, "R (running)") == 0);
    check("status Pid is getpid()", (v = field(st, "Pid")) && atoi(v) == pid);
    check("status Tgid is getpid()", (v = field(st, "Tgid")) && atoi(v) == pid);
    check("status PPid is getppid()", (v = field(st, "PPid")) && atoi(v) == getppid());
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    snprintf(expect, sizeof expect, "%u\t%u\t%u\t%d", r, e, s, setfsuid(-1));
    check("status Uid", (v = field(st, "Uid")) && strcmp(v, expect) == 0);
    snprintf(expect, sizeof expect, "%u\t%u\t%u\t%d", gr, ge, gs, setfsgid(-1));
    check("status Gid", (v = field(st, "Gid")) && strcmp(v, expect) == 0);
    mode_t um = umask(022);
    umask(um);
    snprintf(expect, sizeof expect, "%04o", um);
    check("status Umask", (v = field(st, "Umask")) && strcmp(v, expect) == 0);
    check("status Threads is 1", (v = field(st, "Threads")) && atoi(v) == 1);
    check("status VmRSS is some kB", (v = field(st, "VmRSS")) && atol(v) > 0 && strstr(v, " kB"));
    check("status SigBlk has SIGUSR1", (v = field(st, "SigBlk")) && strtoull(v, NULL, 16) == 1ull << (SIGUSR1 - 1));
    check("status SigIgn has SIGUSR2", (v = field(st, "SigIgn")) && (strtoull(v, NULL, 16) >> (SIGUSR2 - 1) & 1));
    check("status SigCgt has SIGTERM", (v = field(st, "SigCgt")) && (strtoull(v, NULL, 16) >> (SIGTERM - 1) & 1));
    check("status SigCgt lacks SIGUSR2", (v = field(st, "SigCgt")) && !(strtoull(v, NULL, 16) >> (SIGUSR2 - 1) & 1));
    struct {
        uint32_t version;
        int pid;
    } h = {0x20080522, 0};
    struct {
        uint32_t eff, perm, inh;
    } d[2];
    if (syscall(SYS_capget, &h, d) == 0) {
        unsigned long long eff = d[0].eff | (unsigned long long)d[1].eff << 32;
        check("status CapEff is capget's", (v = field(st, "CapEff")) && strtoull(v, NULL, 16) == eff);
    }
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) {
        unsigned long long mask = 0;
        for (int i = 0; i < 64; i++)
            if (CPU_ISSET(i, &cpus)) mask |= 1ull << i;
        check("status Cpus_allowed is the affinity", (v = field(st, "Cpus_allowed")) && strtoull(v, NULL, 16) == mask);
    }

    /* stat: 52 fields, as Linux 6.1 prints them */
    char *sl = text("/proc/self/stat");
    char *close_paren = strrchr(sl, ')');
    char name_in_stat[64] = "";
    sscanf(sl, "%*d (%63[^)])", name_in_stat);
    check("stat's comm", strcmp(name_in_stat, comm) == 0);
    /* PR_SET_NAME renames the thread: comm, status and stat follow. */
    char task_comm[64];
    snprintf(task_comm, sizeof task_comm, "/proc/self/task/%d/comm", (int)gettid_());
    prctl(PR_SET_NAME, "renamed-thread");
    check("comm after PR_SET_NAME", strcmp(text("/proc/self/comm"), "renamed-thread\n") == 0);
    check("task comm after PR_SET_NAME", strcmp(text(task_comm), "renamed-thread\n") == 0);
    check("status Name after PR_SET_NAME", (v = field(text("/proc/self/status"), "Name")) && !strcmp(v, "renamed-thread"));
    prctl(PR_SET_NAME, comm);
    unsigned long long fld[64] = {0};
    int nf = 2;
    char state = 0;
    if (close_paren) {
        char *q = close_paren + 2;
        state = *q;
        nf = 3;
        q++;
        while (*q == ' ' && nf < 60) {
            fld[++nf] = strtoull(q + 1, &q, 10);
        }
    }
    check("stat has 52 fields", nf == 52);
    check("stat's pid", atoi(sl) == pid);
    check("stat's state is R", state == 'R');
    check("stat's ppid", (pid_t)fld[4] == getppid());
    check("stat's pgrp", (pid_t)fld[5] == getpgrp());
    check("stat's session", (pid_t)fld[6] == getsid(0));
    check("stat's num_threads", fld[20] == 1);
    check("stat's rsslim is unlimited", fld[25] == ULLONG_MAX);
    check("stat's code holds main", fld[26] <= (uintptr_t)check && (uintptr_t)check < fld[27]);
    check("stat's stack start lies above main's locals", fld[28] > (uintptr_t)&local);
    check("stat's blocked is SIGUSR1", fld[32] == 1ull << (SIGUSR1 - 1));
    check("stat's exit_signal is SIGCHLD", fld[38] == SIGCHLD);
    check("stat's arg_start is argv[0]", fld[48] == (uintptr_t)argv[0]);
    check("stat's env_start is the environment", !environ[0] || fld[50] == (uintptr_t)environ[0]);
    double up = 0;
    char *ut = text("/proc/uptime");
    sscanf(ut, "%lf", &up);
    check("stat's starttime is before now", fld[22] <= (unsigned long long)(up * 100) + 1);
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long sz, res;
    char *sm = text("/proc/self/statm");
    check("statm has 7 numbers", sscanf(sm, "%llu %llu %*u %*u %*u %*u %*u", &sz, &res) == 2 && sz >= res &&
                                     sz * page >= fld[24] * page);

    /* maps */
    void *heap = malloc(100);
    struct maps_facts mf = check_maps(real, (uintptr_t)check, (uintptr_t)&local, (uintptr_t)printf);
    free(heap);
    check("maps lines parse", mf.parsed);
    check("maps names start in column 74", mf.columns);
    check("maps ranges are sorted", mf.sorted);
    check("maps has the program's text", mf.text);
    check("maps has the stack", mf.stack);
    check("maps has the heap", mf.heap);
    check("maps has the vDSO", mf.vdso);
    check("printf lies in a file's executable mapping", mf.printf_named);

    /* auxv: what getauxval says of the entries that describe the image */
    unsigned long *aux = (unsigned long *)slurp("/proc/self/auxv", &len);
    int aux_ok = aux && len % 16 == 0 && len >= 32, seen = 0;
    const unsigned long tags[] = {AT_PAGESZ, AT_PHDR, AT_PHNUM, AT_ENTRY, AT_RANDOM, AT_EXECFN, AT_SYSINFO_EHDR};
    for (size_t i = 0; aux && i + 1 < len / 8 && aux[i]; i += 2)
        for (size_t t = 0; t < sizeof tags / sizeof *tags; t++)
            if (aux[i] == tags[t]) seen++, aux_ok &= getauxval(aux[i]) == aux[i + 1];
    check("auxv is getauxval's", aux_ok && seen == sizeof tags / sizeof *tags);

    /* the directories */
    const char *entries[] = {"auxv", "cmdline", "comm", "cwd", "environ", "exe", "fd",
                             "maps", "root", "stat", "statm", "status", "task", NULL};
    for (const char **n = entries; *n; n++) {
        char what[64];
        snprintf(what, sizeof what, "/proc/self lists %s", *n);
        check(what, dir_has("/proc/self", *n));
    }
    DIR *td = opendir("/proc/self/task");
    int tasks = 0, task_is_tid = 0;
    struct dirent *de;
    while (td && (de = readdir(td)))
        if (de->d_name[0] != '.') tasks++, task_is_tid = atoi(de->d_name) == gettid_();
    if (td) closedir(td);
    check("task lists the one thread", tasks == 1 && task_is_tid);

    /* a /proc directory as working directory and as dirfd */
    char here[PATH_MAX], there[PATH_MAX];
    getcwd(here, sizeof here);
    snprintf(expect, sizeof expect, "/proc/%d", pid);
    check("chdir /proc/self", chdir("/proc/self") == 0 && getcwd(there, sizeof there) && strcmp(there, expect) == 0);
    int fd = open("status", O_RDONLY);
    check("status opens relative to it", fd >= 0);
    close(fd);
    check("and .. is /proc", chdir("..") == 0 && getcwd(there, sizeof there) && strcmp(there, "/proc") == 0);
    chdir(here);
    int dfd = open("/proc/self", O_RDONLY | O_DIRECTORY);
    fd = openat(dfd, "stat", O_RDONLY);
    check("openat a /proc/self dirfd", fd >= 0 && fstat(fd, &a) == 0 && S_ISREG(a.st_mode) &&
                                            (a.st_mode & 07777) == 0444 && a.st_size == 0);
    check("fstat the dirfd", fstat(dfd, &a) == 0 && S_ISDIR(a.st_mode) && (a.st_mode & 07777) == 0555);
    check("owned by the effective ids", a.st_uid == geteuid() && a.st_gid == getegid());
    char b1[64] = "", b2[64] = "";
    check("read again from the start", read(fd, b1, 20) == 20 && lseek(fd, 0, SEEK_SET) == 0 &&
                                           read(fd, b2, 20) == 20 && memcmp(b1, b2, 20) == 0);
    check("pread from the start", pread(fd, b2, 20, 0) == 20 && memcmp(b1, b2, 20) == 0);
    close(fd);
    close(dfd);
    struct statfs sfs;
    check("statfs says proc", statfs("/proc/self", &sfs) == 0 && sfs.f_type == 0x9fa0);
}

/* ---------------------------------------------------------------- fds */

static const char *kind_of(const char *target) {
    if (strncmp(target, "pipe:[", 6) == 0) return "a pipe";
    if (strcmp(target, "/dev/null") == 0) return "/dev/null";
    return "something else";
}

static void fds(void) {
    syscall(SYS_close_range, 3, ~0u, 0);
    int f = open("fds.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    write(f, "contents", 8);
    int null = open("/dev/null", O_WRONLY);
    int p[2];
    pipe(p);
    dup2(p[0], 10);
    DIR *d = opendir("/proc/self/fd");
    int listed[1024] = {0}, open_now[1024] = {0};
    for (int fd = 0; fd < 1024; fd++) open_now[fd] = fcntl(fd, F_GETFD) >= 0;
    struct dirent *e;
    int same = 1;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd < 0 || fd >= 1024 || e->d_type != DT_LNK) same = 0;
        else listed[fd] = 1;
    }
    for (int fd = 0; fd < 1024; fd++) same &= listed[fd] == open_now[fd];
    check("fd lists exactly the open descriptors", d && same);
    if (d) closedir(d);

    for (int fd = 0; fd < 3; fd++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        printf("fd %d is %s\n", fd, kind_of(link_of(path)));
    }
    char cwd[PATH_MAX], want[PATH_MAX + 16], path[64];
    getcwd(cwd, sizeof cwd);
    snprintf(want, sizeof want, "%s/fds.txt", cwd);
    snprintf(path, sizeof path, "/proc/self/fd/%d", f);
    check("a file's link is its path", strcmp(link_of(path), want) == 0);
    struct stat a, b;
    check("its stat is the file's", stat(path, &a) == 0 && fstat(f, &b) == 0 && a.st_ino == b.st_ino &&
                                        S_ISREG(a.st_mode));
    check("read-write: lrwx------", lstat(path, &a) == 0 && a.st_mode == (S_IFLNK | 0700));
    int again = open(path, O_RDONLY);
    char buf[16] = "";
    check("opening it opens the file", again >= 0 && read(again, buf, 8) == 8 && memcmp(buf, "contents", 8) == 0);
    close(again);
    snprintf(path, sizeof path, "/proc/self/fd/%d", null);
    check("/dev/null's link", strcmp(link_of(path), "/dev/null") == 0);
    check("write-only: l-wx------", lstat(path, &a) == 0 && a.st_mode == (S_IFLNK | 0300));
    char pipe_r[64], pipe_w[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    snprintf(pipe_r, sizeof pipe_r, "%s", link_of(path));
    check("read-only: lr-x------", lstat(path, &a) == 0 && a.st_mode == (S_IFLNK | 0500));
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    snprintf(pipe_w, sizeof pipe_w, "%s", link_of(path));
    unsigned long long ino = 0;
    check("a pipe's link is pipe:[inode]", sscanf(pipe_r, "pipe:[%llu]", &ino) == 1 && fstat(p[0], &b) == 0 &&
                                               b.st_ino == ino && strcmp(pipe_r, pipe_w) == 0);
    check("a dup has the same link", strcmp(link_of("/proc/self/fd/10"), pipe_r) == 0);
    check("stat follows it to the pipe", stat(path, &a) == 0 && S_ISFIFO(a.st_mode));
    snprintf(path, sizeof path, "/dev/fd/%d", p[1]);
    int w = open(path, O_WRONLY);
    check("/dev/fd/N opens the pipe", w >= 0 && write(w, "hi", 2) == 2 && read(p[0], buf, 2) == 2 &&
                                          memcmp(buf, "hi", 2) == 0);
    close(w);
    check("/dev/fd is /proc/self/fd", strcmp(link_of("/dev/fd"), "/proc/self/fd") == 0);
    check("/dev/stdin is /proc/self/fd/0", strcmp(link_of("/dev/stdin"), "/proc/self/fd/0") == 0);
    check("/dev/stderr is /proc/self/fd/2", strcmp(link_of("/dev/stderr"), "/proc/self/fd/2") == 0);
    int dir = open("/proc/self", O_RDONLY | O_DIRECTORY), stat_fd = open("/proc/self/stat", O_RDONLY);
    snprintf(path, sizeof path, "/proc/self/fd/%d/status", dir);
    check("a /proc directory's link leads into it", stat(path, &a) == 0 && S_ISREG(a.st_mode));
    snprintf(path, sizeof path, "/proc/self/fd/%d", dir);
    again = open(path, O_RDONLY | O_DIRECTORY);
    check("and opens it again", again >= 0 && fstat(again, &a) == 0 && S_ISDIR(a.st_mode));
    close(again);
    snprintf(path, sizeof path, "/proc/self/fd/%d", stat_fd);
    again = open(path, O_RDONLY);
    check("a /proc file's link opens it again", again >= 0 && read(again, buf, 1) == 1 && lseek(stat_fd, 0, SEEK_CUR) == 0);
    close(again);
    close(dir);
    close(stat_fd);
    close(p[1]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
    check("a closed descriptor is gone", lstat(path, &a) < 0 && errno == ENOENT);
    unlink("fds.txt");
}

/* ---------------------------------------------------------------- errors */

static void errors(void) {
    int fd = open("/proc/self/status", O_WRONLY);
    printf("open status O_WRONLY: %s", result(fd));
    if (fd >= 0) printf(", write: %s", result(write(fd, "x", 1)));
    printf("\n");
    close(fd);
    fd = open("/proc/cpuinfo", O_RDWR);
    printf("open cpuinfo O_RDWR: %s", result(fd));
    if (fd >= 0) printf(", write: %s", result(write(fd, "x", 1)));
    printf("\n");
    close(fd);
    printf("open missing: %s\n", result(open("/proc/self/nonexistent", O_RDONLY)));
    printf("open another pid: %s\n", result(open("/proc/999999999/status", O_RDONLY)));
    printf("open a leading zero: %s\n", result(open("/proc/01/status", O_RDONLY)));
    printf("open a file O_DIRECTORY: %s\n", result(open("/proc/self/status", O_RDONLY | O_DIRECTORY)));
    printf("open a directory O_WRONLY: %s\n", result(open("/proc/self", O_WRONLY)));
    printf("open a link O_NOFOLLOW: %s\n", result(open("/proc/self/exe", O_RDONLY | O_NOFOLLOW)));
    printf("create in /proc: %s\n", result(open("/proc/newfile", O_CREAT | O_WRONLY, 0644)));
    printf("create O_EXCL over a file: %s\n", result(open("/proc/self/status", O_CREAT | O_EXCL | O_WRONLY, 0644)));
    printf("mkdir in /proc: %s\n", result(mkdir("/proc/newdir", 0755)));
    printf("unlink a /proc file: %s\n", result(unlink("/proc/self/status")));
    printf("readlink a file: %s\n", result(readlink("/proc/self/status", (char[8]){0}, 8)));
    printf("access R_OK: %s\n", result(access("/proc/self/status", R_OK)));
    printf("access W_OK: %s\n", result(access("/proc/self/status", W_OK)));
    printf("access X_OK: %s\n", result(access("/proc/self/status", X_OK)));
    printf("access a directory X_OK: %s\n", result(access("/proc/self", X_OK)));
    struct stat st;
    printf("stat a missing fd: %s\n", result(stat("/proc/self/fd/999", &st)));
    printf("stat a file as a directory: %s\n", result(stat("/proc/self/status/", &st)));
    fd = open("/proc/self/status", O_RDONLY);
    printf("write a read-only descriptor: %s\n", result(write(fd, "x", 1)));
    printf("seek to the end: %s\n", result(lseek(fd, 0, SEEK_END)));
    char buf[256];
    printf("getdents on a file: %s\n", result(syscall(SYS_getdents64, fd, buf, sizeof buf)));
    close(fd);
    fd = open("/proc/self", O_RDONLY);
    printf("read a directory: %s\n", result(read(fd, buf, sizeof buf)));
    close(fd);
    check("/proc/self/.. is /proc", stat("/proc/self/..", &st) == 0 && st.st_ino == (stat("/proc", &st), st.st_ino));
    printf("a path back out of /proc: %s\n", result(access("/proc/../proc/self/./status", R_OK)));
}

/* ---------------------------------------------------------------- system */

static void system_files(void) {
    struct utsname u;
    uname(&u);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    /* cpuinfo, against what cpuid says here */
    char *ci = text("/proc/cpuinfo");
    int procs = 0;
    for (char *l = ci; (l = strstr(l, "processor\t: ")); l++) procs++;
    check("cpuinfo has a block per CPU", procs == ncpu);
    const char *keys[] = {"processor",  "vendor_id", "cpu family", "model",        "model name",    "stepping",
                          "cpu MHz",    "flags",     "bogomips",   "clflush size", "cache_alignment", NULL};
    for (const char **k = keys; *k; k++) {
        char what[64], pat[64];
        snprintf(what, sizeof what, "cpuinfo has %s", *k);
        snprintf(pat, sizeof pat, "\n%s\t", *k);
        check(what, strncmp(ci, "processor\t", 10) == 0 && (strcmp(*k, "processor") == 0 || strstr(ci, pat)));
    }
    unsigned eax, ebx, ecx, edx;
    char vendor[13] = "";
    __cpuid(0, eax, ebx, ecx, edx);
    memcpy(vendor, &ebx, 4), memcpy(vendor + 4, &edx, 4), memcpy(vendor + 8, &ecx, 4);
    const char *v = strstr(ci, "vendor_id\t: ");
    check("cpuinfo's vendor_id is cpuid's", v && strncmp(v + 12, vendor, 12) == 0 && v[24] == '\n');
    char brand[49] = "";
    unsigned *bw = (unsigned *)brand;
    for (unsigned i = 0; i < 3; i++) __cpuid(0x80000002 + i, bw[4 * i], bw[4 * i + 1], bw[4 * i + 2], bw[4 * i + 3]);
    char *bs = brand;
    while (*bs == ' ') bs++;
    for (char *end = bs + strlen(bs); end > bs && end[-1] == ' ';) *--end = 0;
    v = strstr(ci, "model name\t: ");
    check("cpuinfo's model name is cpuid's", v && strncmp(v + 13, bs, strlen(bs)) == 0 && v[13 + strlen(bs)] == '\n');
    __cpuid(1, eax, ebx, ecx, edx);
    unsigned family = (eax >> 8) & 0xf;
    if (family == 0xf) family += (eax >> 20) & 0xff;
    char want[64];
    snprintf(want, sizeof want, "cpu family\t: %u\n", family);
    check("cpuinfo's cpu family is cpuid's", strstr(ci, want) != NULL);
    char *fl = strstr(ci, "\nflags\t\t: ");
    char flags[4096] = " ";
    if (fl) sscanf(fl + 10, "%4000[^\n]", flags + 1);
    strcat(flags, " ");
    check("flags has fpu sse2 lm", strstr(flags, " fpu ") && strstr(flags, " sse2 ") && strstr(flags, " lm "));
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    check("flags has avx2 as cpuid says", !!strstr(flags, " avx2 ") == !!(ebx & (1 << 5)));
    __cpuid(1, eax, ebx, ecx, edx);
    check("flags has sse4_2 as cpuid says", !!strstr(flags, " sse4_2 ") == !!(ecx & (1 << 20)));

    /* meminfo */
    char *mi = text("/proc/meminfo");
    const char *mkeys[] = {"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",      "SwapTotal",
                           "SwapFree", "Shmem",   "SReclaimable", "Slab",    "Hugepagesize", NULL};
    for (const char **k = mkeys; *k; k++) {
        char what[64];
        snprintf(what, sizeof what, "meminfo has %s", *k);
        check(what, has_key(mi, *k));
    }
    /* "Name:" padded to 16 columns, the number right-aligned in 8, " kB". */
    int lines_ok = 1;
    char *copy = strdup(mi);
    for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
        size_t len = strlen(l), colon = strcspn(l, ":");
        if (colon >= len || colon > 15) lines_ok = 0;
        if (len < 3 || strcmp(l + len - 3, " kB") != 0) continue; /* counts (HugePages_*) */
        size_t digits = 0;
        while (digits < len - 3 && l[len - 4 - digits] >= '0' && l[len - 4 - digits] <= '9') digits++;
        if (digits == 0 || len != 16 + (digits > 8 ? digits : 8) + 3) lines_ok = 0;
    }
    free(copy);
    check("meminfo lines are Linux's", lines_ok);
    unsigned long long total = strtoull(field(mi, "MemTotal"), NULL, 10),
                       avail = strtoull(field(mi, "MemFree"), NULL, 10);
    struct sysinfo si;
    sysinfo(&si);
    check("MemTotal is sysinfo's", total * 1024 == (unsigned long long)si.totalram * si.mem_unit);
    check("MemFree is below MemTotal", avail <= total && total > 0);

    /* uptime, loadavg, version, stat */
    char *ut = text("/proc/uptime");
    double up, idle;
    char tail;
    check("uptime is two numbers", sscanf(ut, "%lf %lf%c", &up, &idle, &tail) == 3 && tail == '\n');
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    check("uptime is CLOCK_BOOTTIME", up - (ts.tv_sec + ts.tv_nsec / 1e9) < 1 && (ts.tv_sec + ts.tv_nsec / 1e9) - up < 1);
    char *la = text("/proc/loadavg");
    double l1, l5, l15;
    int running, total_threads, last;
    check("loadavg's format", sscanf(la, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &running, &total_threads, &last) == 6 &&
                                  running >= 1 && total_threads >= running);
    char *ver = text("/proc/version");
    snprintf(want, sizeof want, "Linux version %s ", u.release);
    check("version names the release", strncmp(ver, want, strlen(want)) == 0);
    char *ps = text("/proc/stat");
    int cpus = 0;
    for (char *l = ps; (l = strstr(l, "\ncpu")); l++) cpus++;
    check("stat has a line per CPU", cpus == ncpu && strncmp(ps, "cpu ", 4) == 0);
    const char *bt = strstr(ps, "\nbtime ");
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    long btime = bt ? atol(bt + 7) : 0;
    check("stat's btime is the boot time", labs(btime - (rt.tv_sec - ts.tv_sec)) <= 2);

    /* sys */
    char *sv;
    check("osrelease is uname's", (sv = text("/proc/sys/kernel/osrelease")) && strncmp(sv, u.release, strlen(u.release)) == 0);
    check("ostype is uname's", (sv = text("/proc/sys/kernel/ostype")) && strncmp(sv, u.sysname, strlen(u.sysname)) == 0);
    check("hostname is uname's", (sv = text("/proc/sys/kernel/hostname")) && strncmp(sv, u.nodename, strlen(u.nodename)) == 0 &&
                                     sv[strlen(u.nodename)] == '\n');
    check("kernel/version is uname's", (sv = text("/proc/sys/kernel/version")) && strncmp(sv, u.version, strlen(u.version)) == 0);
    check("pid_max is above the pid", atol(text("/proc/sys/kernel/pid_max")) >= getpid());
    check("ngroups_max is Linux's", atol(text("/proc/sys/kernel/ngroups_max")) == 65536);
    check("threads-max is a number", atol(text("/proc/sys/kernel/threads-max")) > 0);
    check("cap_last_cap is a number", atol(text("/proc/sys/kernel/cap_last_cap")) >= 36);
    long oc = atol(text("/proc/sys/vm/overcommit_memory"));
    check("overcommit_memory is a mode", oc >= 0 && oc <= 2);
    long pipe_max = atol(text("/proc/sys/fs/pipe-max-size"));
    int pp[2];
    pipe(pp);
    check("pipe-max-size is a size a pipe takes",
          pipe_max >= 4096 && fcntl(pp[0], F_SETPIPE_SZ, (int)pipe_max) >= pipe_max);
    close(pp[0]);
    close(pp[1]);
    check("nr_open bounds RLIMIT_NOFILE", atol(text("/proc/sys/fs/nr_open")) >= 1024);
    char u1[64] = "", u2[64] = "";
    sscanf(text("/proc/sys/kernel/random/uuid"), "%63s", u1);
    sscanf(text("/proc/sys/kernel/random/uuid"), "%63s", u2);
    check("uuid is a fresh uuid", strlen(u1) == 36 && u1[8] == '-' && u1[14] == '4' && strcmp(u1, u2) != 0);

    /* the directory */
    const char *top[] = {"self", "thread-self", "cpuinfo", "meminfo", "uptime", "loadavg",
                         "version", "stat", "sys", NULL};
    for (const char **n = top; *n; n++) {
        char what[64];
        snprintf(what, sizeof what, "/proc lists %s", *n);
        check(what, dir_has("/proc", *n));
    }
    char me[16];
    snprintf(me, sizeof me, "%d", getpid());
    check("/proc lists the pid", dir_has("/proc", me));
    struct stat st;
    check("/proc is a directory r-xr-xr-x", stat("/proc", &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0555);
    check("/proc/self is a symlink", lstat("/proc/self", &st) == 0 && S_ISLNK(st.st_mode));
    check("cpuinfo is r--r--r-- root, size 0", stat("/proc/cpuinfo", &st) == 0 && st.st_mode == (S_IFREG | 0444) &&
                                                   st.st_uid == 0 && st.st_size == 0);
    check("pid_max is rw-r--r--", stat("/proc/sys/kernel/pid_max", &st) == 0 && st.st_mode == (S_IFREG | 0644));
}

/* ---------------------------------------------------------------- threads */

static pthread_barrier_t barrier;
static pid_t other_tid;
static char other_self[64];

static void *second(void *arg) {
    (void)arg;
    other_tid = gettid_();
    snprintf(other_self, sizeof other_self, "%s", link_of("/proc/thread-self"));
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    return NULL;
}

static void threads(void) {
    pthread_t t;
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&t, NULL, second, NULL);
    pthread_barrier_wait(&barrier);
    pid_t pid = getpid();
    char want[128], path[128];
    snprintf(want, sizeof want, "%d/task/%d", pid, other_tid);
    check("thread-self in the thread is pid/task/tid", strcmp(other_self, want) == 0);
    const char *v = field(text("/proc/self/status"), "Threads");
    check("status counts two threads", v && atoi(v) == 2);
    int n = 0, saw_main = 0, saw_other = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        n++;
        saw_main |= atoi(e->d_name) == pid;
        saw_other |= atoi(e->d_name) == other_tid;
    }
    if (d) closedir(d);
    check("task lists both threads", n == 2 && saw_main && saw_other);
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", other_tid);
    char *st = text(path);
    check("the thread's stat has its tid", atoi(st) == other_tid && strstr(st, ") "));
    snprintf(path, sizeof path, "/proc/self/task/%d/status", other_tid);
    char *ss = text(path);
    check("the thread's status has its tid", (v = field(ss, "Pid")) && atoi(v) == other_tid);
    check("and the process's", (v = field(ss, "Tgid")) && atoi(v) == pid);
    snprintf(path, sizeof path, "/proc/self/task/%d/task", other_tid);
    check("a thread's directory has no task/", access(path, F_OK) < 0 && errno == ENOENT);
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
}

/* ---------------------------------------------------------------- hx-only views */

static void print_pids(void) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') printf("%s\n", e->d_name);
    if (d) closedir(d);
}

static void fork_view(void) {
    pid_t parent = getpid();
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char path[64];
        const char *st = text("/proc/self/status"), *v;
        printf("child Pid is getpid(): %s\n", (v = field(st, "Pid")) && atoi(v) == getpid() ? "yes" : "no");
        printf("child PPid is the parent: %s\n", (v = field(st, "PPid")) && atoi(v) == parent ? "yes" : "no");
        snprintf(path, sizeof path, "/proc/%d/status", parent);
        printf("the parent's status: %s\n", result(open(path, O_RDONLY)));
        printf("/proc/1/environ: %s\n", result(open("/proc/1/environ", O_RDONLY)));
        snprintf(path, sizeof path, "%d", getpid());
        printf("self: %s\n", strcmp(link_of("/proc/self"), path) == 0 ? "yes" : "no");
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
}

/* The state letter of process `pid` in /proc/PID/stat ('?' if unreadable). */
static char state_at(const char *path) {
    char buf[512];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return '?';
    buf[n] = 0;
    char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' ? paren[2] : '?';
}

static char state_of(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return state_at(path);
}

/* Polls (up to 10 s) until thread `tid` of this process shows `want`. */
static int thread_reaches(pid_t tid, char want) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    for (int i = 0; i < 10000; i++) {
        if (state_at(path) == want) return 1;
        usleep(1000);
    }
    return 0;
}

#define FUTEX_WAIT_PRIVATE 128 /* linux/futex.h: not in musl-gcc's headers */
#define FUTEX_WAKE_PRIVATE 129
static volatile int spin_stop, futex_word;
static volatile pid_t spinner_tid, sleeper_tid;

static void *spinner(void *arg) {
    (void)arg;
    spinner_tid = (pid_t)syscall(SYS_gettid);
    while (!spin_stop) {
    }
    return NULL;
}

static void *sleeper(void *arg) {
    (void)arg;
    sleeper_tid = (pid_t)syscall(SYS_gettid);
    while (!futex_word) syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

/* This process's threads: one that spins runs (R), one waiting on a futex
   sleeps (S): LTP's futex tests wait for 'S' before they wake. */
static void thread_states(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, spinner, NULL);
    pthread_create(&b, NULL, sleeper, NULL);
    while (!spinner_tid || !sleeper_tid) usleep(1000);
    check("a spinning thread runs (R)", thread_reaches(spinner_tid, 'R'));
    check("a thread waiting on a futex sleeps (S)", thread_reaches(sleeper_tid, 'S'));
    spin_stop = 1;
    futex_word = 1;
    syscall(SYS_futex, &futex_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
}

/* Polls (up to 10 s) until `pid` shows `want`: whether it did. */
static int reaches(pid_t pid, char want) {
    for (int i = 0; i < 10000; i++) {
        if (state_of(pid) == want) return 1;
        usleep(1000);
    }
    return 0;
}

/* Another process's state: S while it waits, R while it runs, Z once it
   ended and is not reaped, and R at once after a signal wakes it (LTP's
   and others' "wait until the child sleeps" loops read these). */
static void states(void) {
    int go[2];
    if (pipe(go) != 0) return;
    pid_t waiter = fork();
    if (waiter == 0) {
        char c;
        close(go[1]);
        ssize_t r = read(go[0], &c, 1); /* sleeps until told */
        for (volatile unsigned long i = 0; i < 3000000000UL && r >= 0; i++) {
        } /* then runs */
        _exit(0);
    }
    close(go[0]);
    check("a child blocked in read sleeps (S)", reaches(waiter, 'S'));
    if (write(go[1], "x", 1) != 1) return;
    check("and runs (R) once woken", reaches(waiter, 'R'));
    kill(waiter, SIGKILL);
    check("a killed child is a zombie (Z) until reaped", reaches(waiter, 'Z'));
    int status;
    waitpid(waiter, &status, 0);
    check("then gone", state_of(waiter) == '?');
    pid_t pauser = fork();
    if (pauser == 0) {
        signal(SIGUSR1, SIG_IGN);
        for (;;) pause();
    }
    check("a child in pause sleeps (S)", reaches(pauser, 'S'));
    kill(pauser, SIGKILL);
    waitpid(pauser, &status, 0);
    close(go[1]);
    thread_states();
}

/* The smaps record of the mapping holding `at`: its fields' values by name (in
 * `rss`, `locked`, `size` kB) and its VmFlags line. 0 if not found. */
static int smap_of(void *at, long *size, long *rss, long *locked, char *flags, size_t flags_len) {
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx", &start, &end) == 2) {
            if (found) break;
            found = start <= (unsigned long)at && (unsigned long)at < end;
            continue;
        }
        if (!found) continue;
        sscanf(line, "Size: %ld kB", size);
        sscanf(line, "Rss: %ld kB", rss);
        sscanf(line, "Locked: %ld kB", locked);
        if (!strncmp(line, "VmFlags:", 8)) snprintf(flags, flags_len, "%s", line);
    }
    if (f) fclose(f);
    return found;
}

/* /proc/self/smaps: a mapping's size, what of it is resident, what mlock
 * locked, its flags. */
static void smaps(void) {
    char *m = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(m, 1, 64 << 10);
    long size = -1, rss = -1, locked = -1;
    char flags[256] = "";
    check("smaps has the mapping", smap_of(m, &size, &rss, &locked, flags, sizeof flags));
    /* (Neighbouring mappings may have merged with it: at least its own size.) */
    printf("size and resident at least 64 kB: %d %d, locked %ld kB\n", size >= 64, rss >= 64, locked);
    check("flags say read, write, private", strstr(flags, " rd wr ") && !strstr(flags, " sh ") && !strstr(flags, " lo "));
    check("mlock", mlock(m, 64 << 10) == 0);
    smap_of(m, &size, &rss, &locked, flags, sizeof flags);
    printf("after mlock: locked %ld kB, resident at least that: %d\n", locked, rss >= locked);
    check("flags say locked", strstr(flags, " lo ") != NULL);
    char *none = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    smap_of(none, &size, &rss, &locked, flags, sizeof flags);
    printf("PROT_NONE: size %ld kB, resident %ld kB\n", size, rss);
}


/* Every limit set (lowered: anyone may), then the table as Linux prints it. */
static void limits(void) {
    static const struct { int res; rlim_t soft, hard; } set[] = {
        {RLIMIT_CPU, 3600, RLIM_INFINITY}, {RLIMIT_DATA, 1ULL << 40, 1ULL << 41},
        {RLIMIT_STACK, 8 << 20, 64 << 20}, {RLIMIT_CORE, 0, 4096},
        {RLIMIT_RSS, 1ULL << 30, 1ULL << 31}, {RLIMIT_NPROC, 500, 1000},
        {RLIMIT_NOFILE, 64, 128}, {RLIMIT_MEMLOCK, 65536, 65536},
        {RLIMIT_AS, 1ULL << 44, 1ULL << 45}, {RLIMIT_LOCKS, 100, 200},
        {RLIMIT_SIGPENDING, 500, 1000}, {RLIMIT_MSGQUEUE, 4096, 8192},
        {RLIMIT_RTTIME, 1000000, 2000000},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        struct rlimit r = {set[i].soft, set[i].hard};
        if (setrlimit(set[i].res, &r)) printf("setrlimit %d: %s\n", set[i].res, err_name(errno));
    }
    size_t n;
    char *t = slurp("/proc/self/limits", &n);
    if (t) fwrite(t, 1, n, stdout);
    check("limits read", t != NULL);
}

/* A mount point as mountinfo escapes it (\040 for a space...), undone. */
static void unescape(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 3;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

/* mountinfo and mounts agree with each other, with stat's st_dev at every
 * mount point (the last mount at a path is the one seen), and with statfs. */
static void mounts(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    check("mountinfo opens", f != NULL);
    if (!f) return;
    char line[4096], points[256][512];
    unsigned devs[256][2];
    int n = 0, parsed = 1, ids_unique = 1, sep = 1;
    int ids[256], parents[256]; /* a parent may be outside the namespace */
    while (n < 256 && fgets(line, sizeof line, f)) {
        char root[512], point[512];
        if (sscanf(line, "%d %d %u:%u %511s %511s", &ids[n], &parents[n], &devs[n][0], &devs[n][1], root, point) != 6) {
            parsed = 0;
            continue;
        }
        sep &= strstr(line, " - ") != NULL;
        unescape(point);
        snprintf(points[n], sizeof points[n], "%s", point);
        n++;
    }
    fclose(f);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i != j && ids[i] == ids[j]) ids_unique = 0;
        }
    check("mountinfo lines parse", parsed && n > 0);
    check("mountinfo has the separator", sep);
    check("mount ids are unique", ids_unique);
    int devs_match = 1, has_root = 0, has_proc = 0;
    for (int i = 0; i < n; i++) {
        int last = 1;
        for (int j = i + 1; j < n; j++) last &= strcmp(points[i], points[j]) != 0;
        has_root |= !strcmp(points[i], "/");
        has_proc |= !strcmp(points[i], "/proc");
        struct stat st;
        if (!last || stat(points[i], &st)) continue;
        if (major(st.st_dev) != devs[i][0] || minor(st.st_dev) != devs[i][1]) {
            devs_match = 0;
            fprintf(stderr, "%s: mountinfo %u:%u, stat %u:%u\n", points[i], devs[i][0], devs[i][1],
                    major(st.st_dev), minor(st.st_dev));
        }
    }
    check("mountinfo lists / and /proc", has_root && has_proc);
    check("each mount point's st_dev is mountinfo's", devs_match);
    /* mounts: the same mount points, in the same order. */
    f = fopen("/proc/mounts", "r");
    int same = f != NULL, k = 0, proc_type = 0;
    while (f && fgets(line, sizeof line, f)) {
        char src[512], point[512], type[64];
        if (sscanf(line, "%511s %511s %63s", src, point, type) != 3) { same = 0; continue; }
        unescape(point);
        same &= k < n && !strcmp(point, points[k]);
        if (!strcmp(point, "/proc")) proc_type = !strcmp(type, "proc");
        k++;
    }
    if (f) fclose(f);
    check("/proc/mounts names the same mount points", same && k == n);
    check("/proc is of type proc", proc_type);
    char link[64] = {0};
    check("/proc/mounts is a link to self/mounts",
          readlink("/proc/mounts", link, sizeof link - 1) > 0 && !strcmp(link, "self/mounts"));
    struct statfs sf;
    check("statfs / succeeds", statfs("/", &sf) == 0);
    check("statfs /proc says proc", statfs("/proc", &sf) == 0 && sf.f_type == 0x9fa0);
    size_t len;
    char *fs = slurp("/proc/filesystems", &len);
    check("/proc/filesystems lists proc as nodev", fs && strstr(fs, "nodev\tproc\n"));
    char *cg = slurp("/proc/self/cgroup", &len);
    check("/proc/self/cgroup has a hierarchy line", cg && strchr(cg, ':') && cg[len - 1] == '\n');
    char *pers = slurp("/proc/self/personality", &len);
    check("/proc/self/personality is personality()", pers && strtoul(pers, NULL, 16) == (unsigned long)personality(0xffffffff));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "self")) self(argc, argv);
    else if (!strcmp(cmd, "fds")) fds();
    else if (!strcmp(cmd, "errors")) errors();
    else if (!strcmp(cmd, "system")) system_files();
    else if (!strcmp(cmd, "threads")) threads();
    else if (!strcmp(cmd, "pids")) print_pids();
    else if (!strcmp(cmd, "fork")) fork_view();
    else if (!strcmp(cmd, "states")) states();
    else if (!strcmp(cmd, "smaps")) smaps();
    else if (!strcmp(cmd, "limits")) limits();
    else if (!strcmp(cmd, "mounts")) mounts();
    else if (!strcmp(cmd, "sysctl-write")) printf("open pid_max O_WRONLY: %s\n", result(open("/proc/sys/kernel/pid_max", O_WRONLY)));
    else if (!strcmp(cmd, "print")) {
        for (int i = 2; i < argc; i++) {
            size_t n;
            char *t = slurp(argv[i], &n);
            if (!t) printf("%s: %s\n", argv[i], err_name(errno));
            else fwrite(t, 1, n, stdout);
        }
    } else return 2;
    return 0;
}
