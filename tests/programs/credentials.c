#define _GNU_SOURCE
/* Credentials as Linux keeps them: user and group ids, supplementary groups,
 * capabilities and chown, one sub-test per run (`credentials NAME`). Every
 * call's result is printed, so the run under hx must print exactly what the
 * native run prints. Sub-tests that need root say "skipped: not root" when
 * run as anyone else. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* linux/capability.h (not in musl's headers). */
#define CAP_V1 0x19980330
#define CAP_V3 0x20080522
#define CAP_CHOWN 0
#define CAP_DAC_OVERRIDE 1
#define CAP_FOWNER 3
#define CAP_KILL 5
#define CAP_SETGID 6
#define CAP_SETUID 7
#define CAP_SETPCAP 8
#define CAP_MKNOD 27
struct cap_header { uint32_t version; int pid; };
struct cap_data { uint32_t effective, permitted, inheritable; };

/* Ids an unprivileged user is not (and that no test host gives the runner). */
#define U1 40001
#define U2 40002
#define U3 40003
#define G1 50001
#define G2 50002
#define G3 50003

static const char *err_name(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    case EACCES: return "EACCES";
    case ENOTDIR: return "ENOTDIR";
    case ELOOP: return "ELOOP";
    default: return "other";
    }
}

/* Prints a call's result: its value, or -1 and the errno's name. */
static void show(const char *what, long r) {
    if (r < 0) printf("%s = -1 %s\n", what, err_name(errno));
    else printf("%s = %ld\n", what, r);
}

#define SHOW(call) show(#call, (long)(call))

static void ids(const char *when) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    /* setfsuid/setfsgid with an invalid id change nothing and return the current one. */
    printf("%s: uid %u %u %u fsuid %d, gid %u %u %u fsgid %d\n", when, r, e, s, setfsuid(-1), gr, ge, gs,
           setfsgid(-1));
    if (getuid() != r || geteuid() != e || getgid() != gr || getegid() != ge) printf("%s: get*id disagree\n", when);
}

static int capget_v3(struct cap_data d[2]) {
    struct cap_header h = {CAP_V3, 0};
    return syscall(SYS_capget, &h, d);
}

static int capset_v3(uint64_t eff, uint64_t perm, uint64_t inh) {
    struct cap_header h = {CAP_V3, 0};
    struct cap_data d[2] = {{(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
                            {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)}};
    return syscall(SYS_capset, &h, d);
}

static void sets(uint64_t *eff, uint64_t *perm, uint64_t *inh) {
    struct cap_data d[2];
    if (capget_v3(d)) { printf("capget: %s\n", err_name(errno)); exit(1); }
    *eff = d[0].effective | (uint64_t)d[1].effective << 32;
    *perm = d[0].permitted | (uint64_t)d[1].permitted << 32;
    *inh = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
}

/* The capability sets, as far as they do not depend on the host's bounding
 * set (a container's root lacks some): a few capabilities every root has,
 * and how the sets relate. */
static void caps(const char *when) {
    uint64_t eff, perm, inh;
    sets(&eff, &perm, &inh);
    static const int some[] = {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_SETGID, CAP_SETUID,
                               CAP_SETPCAP, CAP_MKNOD};
    printf("%s: caps effective", when);
    for (unsigned i = 0; i < sizeof some / sizeof some[0]; i++)
        if (eff >> some[i] & 1) printf(" %d", some[i]);
    printf(", permitted");
    for (unsigned i = 0; i < sizeof some / sizeof some[0]; i++)
        if (perm >> some[i] & 1) printf(" %d", some[i]);
    printf(", effective %s permitted, inheritable %s\n", eff == perm ? "=" : eff & ~perm ? "beyond" : "within",
           inh ? "set" : "empty");
}

static int root(void) {
    if (geteuid() == 0) return 1;
    printf("skipped: not root\n");
    return 0;
}

/* The ids and capabilities the program starts with. */
static void start(void) {
    ids("start");
    caps("start");
    int n = getgroups(0, NULL);
    gid_t list[256];
    printf("getgroups counts %s\n", n >= 0 && getgroups(256, list) == n ? "agree" : "disagree");
}

/* Root switching among ids with CAP_SETUID and CAP_SETGID, and the
 * capabilities following the effective and filesystem uids. */
static void as_root(void) {
    if (!root()) return;
    SHOW(seteuid(U1));
    ids("seteuid");
    caps("seteuid");
    SHOW(seteuid(0));
    caps("seteuid back");
    SHOW(setfsuid(U2));
    ids("setfsuid");
    caps("setfsuid");
    SHOW(setfsuid(0));
    caps("setfsuid back");
    SHOW(setresgid(G1, G2, G3));
    ids("setresgid");
    SHOW(setregid(G3, -1));
    ids("setregid real");
    SHOW(setregid(-1, G1));
    ids("setregid effective");
    SHOW(setgid(G2));
    ids("setgid");
    SHOW(setfsgid(G3));
    ids("setfsgid");
    SHOW(setresuid(U1, 0, U3));
    ids("setresuid");
    caps("setresuid");
    SHOW(setresuid(0, 0, 0));
    SHOW(setreuid(U1, -1));
    ids("setreuid real");
    caps("setreuid real");
    SHOW(setreuid(0, U2));
    ids("setreuid both");
    caps("setreuid both");
    SHOW(setreuid(-1, 0));
    ids("setreuid back");
    caps("setreuid back");
    SHOW(setuid(U1));
    ids("setuid");
    caps("setuid");
    SHOW(setuid(0));
    SHOW(seteuid(0));
    SHOW(setresuid(-1, -1, 0));
    ids("after the drop");
    SHOW(setuid(-1));
    SHOW(setgid(-1));
}

/* An unprivileged process: ids may move only among the real, effective and
 * saved ones. Root first drops to distinct ids (the path CI, running as root,
 * takes); anyone else checks what it is. */
static void unprivileged(void) {
    if (geteuid() == 0) {
        SHOW(setresgid(G1, G2, G3));
        SHOW(setresuid(U1, U2, U3));
    }
    ids("dropped");
    caps("dropped");
    uid_t r, e, s;
    getresuid(&r, &e, &s);
    gid_t gr, ge, gs;
    getresgid(&gr, &ge, &gs);
    SHOW(setuid(0));
    SHOW(seteuid(0));
    SHOW(setreuid(0, -1));
    SHOW(setreuid(-1, 0));
    SHOW(setresuid(0, -1, -1));
    SHOW(setresuid(-1, -1, 0));
    SHOW(setgid(0));
    SHOW(setresgid(-1, 0, -1));
    SHOW(setregid(-1, 0));
    gid_t g = 0;
    SHOW(setgroups(1, &g));
    SHOW(setgroups(0, NULL));
    ids("refused");
    SHOW(setfsuid(0));
    SHOW(setfsgid(0));
    ids("setfs refused");
    /* Switching among one's own ids is allowed. */
    SHOW(setresuid(s, r, e));
    ids("rotated uids");
    SHOW(setresgid(gs, gr, ge));
    ids("rotated gids");
    SHOW(setreuid(s, -1));
    ids("setreuid to effective");
    SHOW(setreuid(-1, e));
    ids("setreuid effective to saved");
    SHOW(setuid(r));
    ids("setuid to real");
    SHOW(setuid(s));
    ids("setuid to saved");
    SHOW(setfsuid(r));
    ids("setfsuid to real");
    SHOW(setegid(gr));
    ids("setegid to real");
    SHOW(setgid(ge));
    ids("setgid");
    caps("still none");
}

/* Supplementary groups: CAP_SETGID to set, sorted, counted, checked. */
static void groups(void) {
    if (!root()) {
        gid_t g = 0;
        SHOW(setgroups(1, &g));
        return;
    }
    gid_t set[] = {G3, G1, 7, G2, G1, 0};
    SHOW(setgroups(6, set));
    gid_t got[16] = {0};
    SHOW(getgroups(0, NULL));
    SHOW(getgroups(5, got));
    int n = getgroups(16, got);
    printf("groups (%d):", n);
    for (int i = 0; i < n; i++) printf(" %u", got[i]);
    printf("\n");
    SHOW(syscall(SYS_getgroups, -1, got));
    SHOW(syscall(SYS_setgroups, -1, set));
    SHOW(syscall(SYS_setgroups, 65537, set));
    gid_t bad[] = {1, (gid_t)-1};
    SHOW(setgroups(2, bad));
    SHOW(setgroups(1, (gid_t *)8));
    SHOW(getgroups(0, NULL));
    SHOW(setgroups(0, NULL));
    SHOW(getgroups(0, NULL));
    SHOW(setgroups(1, set));
    SHOW(setuid(U1));
    SHOW(setgroups(0, NULL));
    n = getgroups(16, got);
    printf("kept after the drop (%d): %u\n", n, got[0]);
}

/* capget and capset: versions, pids, and the rules for changing the sets. */
static void capabilities(void) {
    struct cap_header h = {0x12345678, 0};
    struct cap_data d[2];
    SHOW(syscall(SYS_capget, &h, NULL));
    printf("preferred version %#x\n", h.version);
    h.version = 0x12345678;
    SHOW(syscall(SYS_capget, &h, d));
    printf("preferred version %#x\n", h.version);
    h = (struct cap_header){CAP_V3, 0};
    SHOW(syscall(SYS_capget, &h, NULL));
    h.pid = -1;
    SHOW(syscall(SYS_capget, &h, d));
    h.pid = getpid();
    SHOW(syscall(SYS_capget, &h, d));
    h.pid = 999999;
    SHOW(syscall(SYS_capget, &h, d));
    h = (struct cap_header){CAP_V1, 0};
    d[1] = (struct cap_data){0xdead, 0xbeef, 0xf00d};
    SHOW(syscall(SYS_capget, &h, d));
    printf("version 1 leaves the second word: %s\n", d[1].effective == 0xdead ? "yes" : "no");
    caps("start");
    if (!root()) {
        SHOW(capset_v3(1 << CAP_CHOWN, 1 << CAP_CHOWN, 0));
        return;
    }
    uint64_t eff, perm, inh;
    sets(&eff, &perm, &inh);
    h = (struct cap_header){CAP_V3, 999999};
    SHOW(syscall(SYS_capset, &h, d));
    SHOW(capset_v3(eff & ~(1ull << CAP_CHOWN), perm, 0));
    caps("without CAP_CHOWN");
    int fd = open("owned", O_CREAT | O_WRONLY, 0644);
    SHOW(fchown(fd, U1, -1));
    SHOW(capset_v3(eff, perm, 0));
    caps("CAP_CHOWN back");
    SHOW(fchown(fd, U1, -1));
    close(fd);
    SHOW(capset_v3(eff, perm, 1ull << CAP_KILL));
    caps("inheritable");
    SHOW(capset_v3(perm | 1ull << 63, perm, 0));
    SHOW(capset_v3(eff, perm & ~(1ull << CAP_SETUID), 0));
    caps("effective beyond permitted");
    SHOW(capset_v3(eff & ~(1ull << CAP_SETUID), perm & ~(1ull << CAP_SETUID), 0));
    caps("without CAP_SETUID");
    SHOW(capset_v3(eff, perm, 0));
    SHOW(setuid(U1));
    SHOW(setresuid(U1, U1, U1));
    SHOW(seteuid(0));
    SHOW(capset_v3(0, 0, 0));
    caps("dropped all");
    SHOW(capset_v3(1 << CAP_KILL, 1 << CAP_KILL, 0));
    /* Version 1 sets only the low word: the rest goes. */
    h = (struct cap_header){CAP_V1, 0};
    d[0] = (struct cap_data){0, 0, 0};
    SHOW(syscall(SYS_capset, &h, d));
    ids("end");
}

static void owner(const char *what, const char *path, int follow) {
    struct stat st;
    if ((follow ? stat : lstat)(path, &st)) { printf("%s: %s\n", what, err_name(errno)); return; }
    printf("%s: owner %s%u group %s%u mode %o\n", what, st.st_uid == getuid() ? "me=" : "", st.st_uid,
           st.st_gid == getgid() ? "mine=" : "", st.st_gid, st.st_mode & 07777);
}

/* chown, fchown, lchown and fchownat of files in the working directory. */
static void chowns(void) {
    int fd = open("f", O_CREAT | O_WRONLY, 0644);
    owner("new file", "f", 1);
    SHOW(chown("f", getuid(), -1));
    SHOW(chown("f", -1, -1));
    SHOW(chown("f", -1, getgid()));
    SHOW(fchown(fd, getuid(), getgid()));
    SHOW(chown("f", U1, -1));
    owner("chown to another user", "f", 1);
    SHOW(chown("f", -1, G1));
    owner("chown to another group", "f", 1);
    SHOW(fchown(fd, U2, G2));
    owner("fchown", "f", 1);
    SHOW(fchownat(fd, "", U3, -1, AT_EMPTY_PATH));
    owner("fchownat AT_EMPTY_PATH", "f", 1);
    SHOW(chown("f", getuid(), getgid()));
    owner("back", "f", 1);
    SHOW(symlink("f", "link"));
    SHOW(lchown("link", U1, G1));
    owner("lchown: the link", "link", 0);
    owner("lchown: the file", "f", 1);
    SHOW(fchownat(AT_FDCWD, "link", U2, G2, AT_SYMLINK_NOFOLLOW));
    owner("fchownat AT_SYMLINK_NOFOLLOW: the link", "link", 0);
    owner("fchownat AT_SYMLINK_NOFOLLOW: the file", "f", 1);
    SHOW(fchownat(AT_FDCWD, "link", U3, G3, 0));
    owner("fchownat following: the link", "link", 0);
    owner("fchownat following: the file", "f", 1);
    SHOW(fchownat(AT_FDCWD, "f", -1, -1, 0x8000));
    SHOW(chown("missing", getuid(), -1));
    SHOW(chown("f/x", getuid(), -1));
    SHOW(mkdir("d", 0755));
    SHOW(chown("d", U1, G1));
    owner("directory", "d", 1);
    int dir = open(".", O_RDONLY | O_DIRECTORY);
    SHOW(fchownat(dir, "d", U2, -1, 0));
    owner("fchownat in a directory", "d", 1);
    close(dir);
    close(fd);
}

/* Ownership checked by the guest's own credentials once root gave them up:
 * only the owner, only to itself, only to its own groups. */
static void dropped_chowns(void) {
    if (!root()) return;
    int fd = open("mine", O_CREAT | O_WRONLY, 0644);
    SHOW(fchown(fd, U1, G1));
    close(fd);
    SHOW(close(open("roots", O_CREAT | O_WRONLY, 0644)));
    SHOW(symlink("mine", "link"));
    SHOW(lchown("link", U1, G1));
    gid_t extra = G2;
    SHOW(setgroups(1, &extra));
    SHOW(setresgid(G1, G1, G1));
    SHOW(setresuid(U1, U1, U1));
    SHOW(chown("mine", U1, -1));
    SHOW(chown("mine", -1, G1));
    SHOW(chown("mine", -1, G2));
    owner("to a supplementary group", "mine", 1);
    SHOW(chown("mine", -1, G3));
    SHOW(chown("mine", U2, -1));
    SHOW(chown("mine", 0, 0));
    SHOW(chown("roots", U1, -1));
    SHOW(chown("roots", -1, -1));
    SHOW(lchown("link", -1, G2));
    owner("link", "link", 0);
    SHOW(fchownat(AT_FDCWD, "link", U2, -1, AT_SYMLINK_NOFOLLOW));
    fd = open("roots", O_RDONLY);
    SHOW(fchown(fd, U1, -1));
    SHOW(fchown(fd, -1, -1));
    close(fd);
    SHOW(chown("missing", U1, -1));
    owner("mine", "mine", 1);
    owner("roots", "roots", 1);
}

/* File permissions checked as the process's ids once root gave them up: the
 * owner's, group's (also a supplementary group's) or others' bits; new files
 * and directories belong to the process (a set-group-ID directory gives its
 * group); access() asks with the real ids, AT_EACCESS with the effective ones;
 * a saved root comes back with all its rights. */
static void permissions(void) {
    if (!root()) return;
    SHOW(close(open("secret", O_CREAT | O_WRONLY, 0600)));
    SHOW(close(open("public", O_CREAT | O_WRONLY, 0644)));
    SHOW(close(open("grouped", O_CREAT | O_WRONLY, 0640)));
    SHOW(chown("grouped", 0, G2));
    SHOW(close(open("owner-runs", O_CREAT | O_WRONLY, 0744)));
    SHOW(mkdir("closed", 0700));
    SHOW(close(open("closed/inner", O_CREAT | O_WRONLY, 0644)));
    SHOW(close(open("closed/runs", O_CREAT | O_WRONLY, 0755)));
    SHOW(mkdir("open", 0777));
    SHOW(chmod("open", 0777));
    SHOW(mkdir("sticky", 01777));
    SHOW(chmod("sticky", 01777));
    SHOW(close(open("sticky/roots", O_CREAT | O_WRONLY, 0666)));
    SHOW(close(open("open/roots", O_CREAT | O_WRONLY, 0666)));
    SHOW(mkdir("setgid", 02777));
    SHOW(chown("setgid", 0, G3));
    SHOW(chmod("setgid", 02777));
    owner("a set-group-ID directory", "setgid", 1);
    gid_t extra = G2;
    SHOW(setgroups(1, &extra));
    SHOW(setresgid(G1, G1, G1));
    SHOW(setresuid(U1, U1, 0));
    SHOW(open("secret", O_RDONLY));
    pid_t child = fork();
    if (child == 0) {
        SHOW(execl("owner-runs", "owner-runs", (char *)NULL));
        SHOW(execl("closed/runs", "runs", (char *)NULL));
        _exit(0);
    }
    waitpid(child, NULL, 0);
    int fd = open("public", O_RDONLY);
    SHOW(fd);
    close(fd);
    SHOW(open("public", O_WRONLY));
    SHOW(open("public", O_RDWR | O_TRUNC));
    fd = open("grouped", O_RDONLY);
    SHOW(fd);
    close(fd);
    SHOW(open("closed/inner", O_RDONLY));
    struct stat st;
    SHOW(stat("closed/inner", &st));
    SHOW(stat("closed", &st));
    SHOW(access("public", R_OK));
    SHOW(access("public", W_OK));
    SHOW(access("secret", R_OK));
    SHOW(open("new-in-root-dir", O_CREAT | O_WRONLY, 0644));
    SHOW(mkdir("dir-in-root-dir", 0755));
    fd = open("open/mine", O_CREAT | O_WRONLY, 0640);
    SHOW(fd);
    close(fd);
    owner("a new file", "open/mine", 1);
    SHOW(mkdir("open/mydir", 0750));
    owner("a new directory", "open/mydir", 1);
    fd = open("setgid/mine", O_CREAT | O_WRONLY, 0644);
    SHOW(fd);
    close(fd);
    owner("a new file in a set-group-ID directory", "setgid/mine", 1);
    SHOW(symlink("mine", "open/link"));
    owner("a new symlink", "open/link", 0);
    SHOW(chmod("public", 0666));
    SHOW(chmod("open/mine", 0600));
    owner("chmod of my file", "open/mine", 1);
    SHOW(truncate("public", 0));
    SHOW(utimensat(AT_FDCWD, "public", NULL, 0));
    SHOW(utimensat(AT_FDCWD, "open/mine", NULL, 0));
    SHOW(unlink("sticky/roots"));
    SHOW(unlink("open/roots"));
    SHOW(rename("open/mine", "open/renamed"));
    SHOW(rename("public", "open/public"));
    SHOW(unlink("secret"));
    SHOW(rmdir("open/mydir"));
    /* Real root, effective U1: access() answers for root, AT_EACCESS for U1. */
    SHOW(setresuid(0, U1, 0));
    SHOW(access("secret", R_OK));
    SHOW(faccessat(AT_FDCWD, "secret", R_OK, AT_EACCESS));
    SHOW(open("secret", O_RDONLY));
    /* Back to root: every right again. */
    SHOW(setresuid(0, 0, 0));
    SHOW(setresgid(0, 0, 0));
    fd = open("secret", O_RDONLY);
    SHOW(fd);
    close(fd);
    SHOW(stat("closed/inner", &st));
    fd = open("roots-again", O_CREAT | O_WRONLY, 0644);
    SHOW(fd);
    close(fd);
    owner("root's new file", "roots-again", 1);
}

/* chown of files with set-id bits (which the test made): Linux clears
 * set-user-ID and (with group execute) set-group-ID on a non-directory. */
static void setid_chowns(void) {
    static const char *files[] = {"suid", "sgid", "sgid-noexec", "both", "sgid-dir"};
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++) {
        owner(files[i], files[i], 1);
        printf("chown %s to %s: ", files[i], "itself");
        SHOW(chown(files[i], -1, -1));
        owner(files[i], files[i], 1);
    }
    if (!root()) return;
    SHOW(chown("sgid-noexec", U1, G1));
    owner("sgid-noexec", "sgid-noexec", 1);
    SHOW(chown("sgid-dir", U1, G1));
    owner("sgid-dir", "sgid-dir", 1);
}

/* Every way a program could leave a set-id file in the working directory. */
static void make_setid(void) {
    SHOW(close(open("created", O_CREAT | O_WRONLY, 04755)));
    SHOW(close(open("plain", O_CREAT | O_WRONLY, 0755)));
    SHOW(chmod("plain", 06755));
    int fd = open("fchmodded", O_CREAT | O_WRONLY, 0755);
    SHOW(fchmod(fd, 04711));
    SHOW(fchown(fd, getuid(), getgid()));
    close(fd);
    SHOW(fchmodat(AT_FDCWD, "plain", 02755, 0));
    SHOW(chown("plain", getuid(), getgid()));
    SHOW(mkdir("dir", 06755));
    SHOW(chmod("dir", 02755));
}

/* chown of a file the test names (in a read-only mount), as root and after
 * giving root up. */
static void chown_at(const char *path) {
    SHOW(chown(path, U1, G1));
    SHOW(lchown(path, -1, -1));
    int fd = open(path, O_RDONLY);
    SHOW(fchown(fd, U1, -1));
    if (geteuid() == 0) SHOW(setresuid(U1, U1, U1));
    SHOW(chown(path, U1, -1));
    SHOW(fchown(fd, U1, -1));
    close(fd);
}

/* glibc and musl change every thread's ids together (setxid signals): a
 * second thread sees the new ones. */
static pthread_barrier_t barrier;

static void *thread_ids(void *arg) {
    (void)arg;
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    printf("other thread: euid %ld egid %ld\n", syscall(SYS_geteuid), syscall(SYS_getegid));
    return NULL;
}

static void threads(void) {
    if (!root()) return;
    pthread_t t;
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&t, NULL, thread_ids, NULL);
    pthread_barrier_wait(&barrier);
    SHOW(setegid(G1));
    SHOW(seteuid(U1));
    SHOW(setgroups(0, NULL));
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
    SHOW(seteuid(0));
    SHOW(setresuid(U2, U2, U2));
    ids("after");
}

/* What execve keeps and changes: the ids (the saved ones become the
 * effective ones), the groups, and the capabilities Linux recomputes (root
 * gets its permitted set back; the effective set follows the effective uid). */
static void after_exec(void) {
    ids("after exec");
    caps("after exec");
    gid_t got[16];
    int n = getgroups(16, got);
    printf("after exec: groups (%d):", n);
    for (int i = 0; i < n; i++) printf(" %u", got[i]);
    printf("\n");
}

static void exec_after(const char *self, const char *how) {
    if (!root()) return;
    gid_t groups[] = {G2, G1};
    SHOW(setgroups(2, groups));
    SHOW(setresgid(G1, G2, G3));
    if (!strcmp(how, "euid")) SHOW(seteuid(U1));
    if (!strcmp(how, "dropped")) SHOW(setresuid(U1, U2, U3));
    if (!strcmp(how, "capset")) {
        uint64_t eff, perm, inh;
        sets(&eff, &perm, &inh);
        uint64_t keep = ~(1ull << CAP_CHOWN);
        SHOW(capset_v3(eff & keep, perm & keep, 1ull << CAP_KILL));
        caps("before exec");
    }
    if (!strcmp(how, "fsuid")) SHOW(setfsuid(U1));
    fflush(stdout);
    execl(self, self, "after-exec", (char *)NULL);
    printf("execl: %s\n", err_name(errno));
}

/* A child has its parent's credentials, and changes only its own. */
static void forked(void) {
    if (!root()) return;
    gid_t groups[] = {G3};
    SHOW(setgroups(1, groups));
    SHOW(setresgid(G1, G2, G3));
    SHOW(setresuid(0, U2, U3));
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        ids("child");
        caps("child");
        SHOW(setresuid(U3, U3, U3));
        ids("child changed");
        fflush(stdout);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    printf("child exited %d\n", WEXITSTATUS(status));
    ids("parent");
    caps("parent");
    SHOW(seteuid(0));
    caps("parent back to root");
}

int main(int argc, char **argv) {
    static const struct { const char *name; void (*run)(void); } tests[] = {
        {"start", start},         {"root", as_root},          {"unprivileged", unprivileged},
        {"groups", groups},       {"capabilities", capabilities}, {"chown", chowns},
        {"dropped-chown", dropped_chowns}, {"permissions", permissions}, {"setid-chown", setid_chowns}, {"make-setid", make_setid},
        {"threads", threads},     {"fork", forked},
    };
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 3 && !strcmp(argv[1], "exec")) {
        exec_after(argv[0], argv[2]);
        return 0;
    }
    if (argc == 2 && !strcmp(argv[1], "after-exec")) {
        after_exec();
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "chown-at")) {
        chown_at(argv[2]);
        return 0;
    }
    for (unsigned i = 0; argc == 2 && i < sizeof tests / sizeof tests[0]; i++) {
        if (!strcmp(argv[1], tests[i].name)) {
            tests[i].run();
            return 0;
        }
    }
    fprintf(stderr, "usage: credentials start|root|unprivileged|groups|capabilities|chown|dropped-chown|"
                    "permissions|setid-chown|make-setid|threads|fork | credentials chown-at PATH | credentials exec euid|dropped|capset|fsuid\n");
    return 2;
}
