/* System V IPC with Linux semantics: shared memory segments (sizes, attach
 * counts across fork, read-only and placed attaches, removal while
 * attached), semaphore sets (values, blocked waiters and their counts,
 * timeouts, undo at exit, interruption, removal under a waiter) and message
 * queues (selection by type, truncation, byte limits, blocked senders and
 * receivers), with every refusal's errno. Keys are IPC_PRIVATE but one ftok
 * key on a file made in the cwd; every object is removed before exit, a
 * timeout included. Run in a scratch directory; the output is compared with
 * the same run on Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun { int val; struct semid_ds *buf; unsigned short *array; };
struct msg { long mtype; char mtext[128]; };

#define NAME(e) \
    case e: return #e;
static const char *errname(int e) {
    static char b[16];
    switch (e) {
        NAME(EINVAL) NAME(EEXIST) NAME(ENOENT) NAME(EAGAIN) NAME(EINTR)
        NAME(EIDRM) NAME(E2BIG) NAME(EFBIG) NAME(ERANGE) NAME(ENOMSG)
        NAME(EACCES) NAME(EPERM)
    }
    snprintf(b, sizeof b, "%d", e);
    return b;
}

/* A call's outcome: its result, or the errno's name when it failed. */
static const char *res(long r) {
    static char b[24];
    if (r == -1) return errname(errno);
    snprintf(b, sizeof b, "%ld", r);
    return b;
}

/* What a child reports through its exit status: 0, or the errno. */
static int outcome(long r) { return r == -1 ? errno : 0; }

/* Every object made, so that any exit (a timeout too) removes it. */
enum { SHM = 1, SEM, MSG };
static struct { int kind, id; } objs[16];

static int track(int kind, int id) {
    if (id == -1) {
        printf("creating an object: %s\n", errname(errno));
        exit(1);
    }
    for (int i = 0; i < 16; i++)
        if (!objs[i].kind) {
            objs[i].kind = kind, objs[i].id = id;
            break;
        }
    return id;
}

static int rm(int kind, int id) {
    for (int i = 0; i < 16; i++)
        if (objs[i].kind == kind && objs[i].id == id) objs[i].kind = 0;
    if (kind == SHM) return shmctl(id, IPC_RMID, NULL);
    if (kind == SEM) return semctl(id, 0, IPC_RMID);
    return msgctl(id, IPC_RMID, NULL);
}

static void cleanup(void) {
    for (int i = 0; i < 16; i++)
        if (objs[i].kind) rm(objs[i].kind, objs[i].id);
}

static void on_timeout(int s) { (void)s; cleanup(); unlink("sysv.key"); _exit(124); }

/* Handshakes with a child: a byte down one pipe or the other. */
static int to_child[2], to_parent[2];
static void tell(int fd) { if (write(fd, "x", 1) != 1) _exit(98); }
static void hear(int fd) { char c; if (read(fd, &c, 1) != 1) _exit(98); }

/* Prints how a child ended: exit 0, the errno it exited with, or the
 * signal that killed it. */
static void reap(const char *what, pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    if (WIFEXITED(st)) printf("%s: exit %s\n", what, WEXITSTATUS(st) ? errname(WEXITSTATUS(st)) : "0");
    else printf("%s: signal %d\n", what, WTERMSIG(st));
}

static void on_alarm(int s) { (void)s; }

/* A SIGALRM in 100 ms whose handler does not restart calls. */
static void alarm_in_100ms(void) {
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 0}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static long nattch(int id) {
    struct shmid_ds ds = {0};
    return shmctl(id, IPC_STAT, &ds) == -1 ? -1 : (long)ds.shm_nattch;
}

/* A segment's size and attach count, through fork and shmdt. */
static void shm_attaches(void) {
    size_t size = 3 * 4096 + 100;
    int id = track(SHM, shmget(IPC_PRIVATE, size, IPC_CREAT | 0600));
    struct shmid_ds ds = {0};
    shmctl(id, IPC_STAT, &ds);
    printf("shm: segsz %zu, nattch %ld\n", (size_t)ds.shm_segsz, (long)ds.shm_nattch);
    char *p = shmat(id, NULL, 0);
    for (size_t i = 0; i < size; i++) p[i] = (char)(i % 251);
    printf("shm: nattch after shmat: %ld\n", nattch(id));
    pid_t pid = fork();
    if (pid == 0) {
        int same = 1;
        for (size_t i = 0; i < size; i++) same &= p[i] == (char)(i % 251);
        tell(to_parent[1]);
        hear(to_child[0]);
        strcpy(p + size - 10, "child");
        _exit(same ? 0 : 99);
    }
    hear(to_parent[0]);
    printf("shm: nattch while the child is attached: %ld\n", nattch(id));
    tell(to_child[1]);
    reap("shm: child that checked the pattern", pid);
    printf("shm: parent sees the child's write: %d\n", strcmp(p + size - 10, "child") == 0);
    printf("shm: nattch after the child's exit: %ld\n", nattch(id));
    printf("shm: shmdt: %s\n", res(shmdt(p)));
    printf("shm: nattch after shmdt: %ld\n", nattch(id));
    printf("shm: shmdt again: %s\n", res(shmdt(p)));
    char *plain = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("shm: shmdt of a plain mapping: %s\n", res(shmdt(plain)));
    munmap(plain, 4096);
    rm(SHM, id);
}

/* A read-only attach reads what a writable one wrote; a write through it
 * is a SIGSEGV. */
static void shm_readonly(void) {
    int id = track(SHM, shmget(IPC_PRIVATE, 4096, 0600));
    char *w = shmat(id, NULL, 0);
    strcpy(w, "written");
    volatile char *r = shmat(id, NULL, SHM_RDONLY);
    printf("shm: read-only attach reads: %s\n", (char *)r);
    printf("shm: nattch with two attaches: %ld\n", nattch(id));
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_CORE, &none);
        r[0] = 'X';
        _exit(0);
    }
    reap("shm: child writing through the read-only attach", pid);
    printf("shm: contents after: %s\n", w);
    shmdt((void *)r);
    shmdt(w);
    rm(SHM, id);
}

/* Attaches at a chosen address: SHM_RND rounds it down to SHMLBA, and an
 * unaligned one without it is refused. */
static void shm_placement(void) {
    int id = track(SHM, shmget(IPC_PRIVATE, 4096, 0600));
    char *base = mmap(NULL, 4 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(base, 4 * 4096);
    char *want = base + SHMLBA;
    char *got = shmat(id, want + 123, SHM_RND);
    printf("shm: SHM_RND attach at the rounded-down address: %d\n", got == want);
    shmdt(got);
    got = shmat(id, want + 123, 0);
    printf("shm: unaligned attach without SHM_RND: %s\n", got == (void *)-1 ? errname(errno) : "attached");
    rm(SHM, id);
}

/* A segment removed while attached stays usable until its last detach. */
static void shm_removed_while_attached(void) {
    int id = track(SHM, shmget(IPC_PRIVATE, 4096, 0600));
    int *p = shmat(id, NULL, 0);
    printf("shm: IPC_RMID while attached: %s\n", res(rm(SHM, id)));
    p[0] = 42;
    struct shmid_ds ds = {0};
    printf("shm: IPC_STAT after IPC_RMID: %s", res(shmctl(id, IPC_STAT, &ds)));
    printf(", SHM_DEST %d, nattch %ld\n", (ds.shm_perm.mode & SHM_DEST) != 0, (long)ds.shm_nattch);
    printf("shm: memory still usable: %d\n", p[0]);
    printf("shm: shmdt: %s\n", res(shmdt(p)));
    printf("shm: IPC_STAT after the last detach: %s\n", res(shmctl(id, IPC_STAT, &ds)));
}

/* One attach shared by parent and child, who take turns incrementing. */
static void shm_shared_counter(void) {
    int id = track(SHM, shmget(IPC_PRIVATE, 4096, 0600));
    volatile int *n = shmat(id, NULL, 0);
    rm(SHM, id);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < 100; i++) {
            hear(to_child[0]);
            (*n)++;
            tell(to_parent[1]);
        }
        _exit(0);
    }
    for (int i = 0; i < 100; i++) {
        (*n)++;
        tell(to_child[1]);
        hear(to_parent[0]);
    }
    reap("shm: counting child", pid);
    printf("shm: counter after 100 turns each: %d\n", *n);
    shmdt((void *)n);
}

/* Whether /proc/sysvipc/shm lists segment `id` with key `k`, size 4096 and mode 600. */
static int listed(key_t k, int id) {
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    if (!f) return 0;
    char line[512];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        int key, shmid;
        unsigned mode;
        unsigned long size;
        if (sscanf(line, "%d %d %o %lu", &key, &shmid, &mode, &size) == 4)
            found |= key == k && shmid == id && mode == 0600 && size == 4096;
    }
    fclose(f);
    return found;
}

/* A key from ftok and the errors of shmget and shmctl. */
static void shm_keys_and_errors(void) {
    close(open("sysv.key", O_CREAT | O_WRONLY | O_TRUNC, 0600));
    key_t k = ftok("sysv.key", 'h');
    printf("shm: ftok twice gives one key: %d\n", k != -1 && k == ftok("sysv.key", 'h'));
    int id = track(SHM, shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600));
    printf("shm: IPC_EXCL of an existing key: %s\n", res(shmget(k, 4096, IPC_CREAT | IPC_EXCL | 0600)));
    printf("shm: the key finds the segment: %d\n", shmget(k, 0, 0) == id);
    printf("shm: /proc/sysvipc/shm lists it: %d\n", listed(k, id));
    printf("shm: the key asking for more than its size: %s\n", res(shmget(k, 8192, 0)));
    rm(SHM, id);
    printf("shm: the key after IPC_RMID: %s\n", res(shmget(k, 0, 0)));
    unlink("sysv.key");
    struct shmid_ds ds = {0};
    printf("shm: IPC_STAT of a removed id: %s\n", res(shmctl(id, IPC_STAT, &ds)));
    printf("shm: new segment of size 0: %s\n", res(shmget(IPC_PRIVATE, 0, 0600)));
    printf("shm: shmctl of id -1: %s\n", res(shmctl(-1, IPC_STAT, &ds)));
}

static int semop1(int id, unsigned short num, short op, short flags) {
    struct sembuf b = {num, op, flags};
    return semop(id, &b, 1);
}

static int setval(int id, int num, int val) {
    union semun a = {.val = val};
    return semctl(id, num, SETVAL, a);
}

/* Polls GETNCNT or GETZCNT until a child is counted (5 s at most). */
static int counted(int id, int num, int cmd) {
    int n = 0;
    for (int i = 0; i < 5000 && (n = semctl(id, num, cmd)) != 1; i++) usleep(1000);
    return n;
}

/* Values in and out, operations that would block, and the errors. */
static void sem_values(void) {
    int id = track(SEM, semget(IPC_PRIVATE, 3, 0600));
    struct semid_ds ds = {0};
    union semun a = {.buf = &ds};
    semctl(id, 0, IPC_STAT, a);
    printf("sem: nsems %lu\n", (unsigned long)ds.sem_nsems);
    unsigned short v[3] = {1, 2, 3};
    a.array = v;
    semctl(id, 0, SETALL, a);
    memset(v, 0, sizeof v);
    semctl(id, 0, GETALL, a);
    printf("sem: GETALL after SETALL: %u %u %u\n", v[0], v[1], v[2]);
    setval(id, 2, 7);
    printf("sem: GETVAL after SETVAL 7: %d\n", semctl(id, 2, GETVAL));
    printf("sem: SETVAL 32768: %s\n", res(setval(id, 2, 32768)));
    printf("sem: taking the 1 of sem 0: %s\n", res(semop1(id, 0, -1, 0)));
    printf("sem: taking it again, IPC_NOWAIT: %s\n", res(semop1(id, 0, -1, IPC_NOWAIT)));
    struct timespec ts = {0, 50000000};
    struct sembuf take = {0, -1, 0};
    printf("sem: semtimedop of 50 ms: %s\n", res(semtimedop(id, &take, 1, &ts)));
    struct sembuf two[2] = {{1, -1, 0}, {0, -1, IPC_NOWAIT}};
    printf("sem: two ops, the second would block: %s", res(semop(id, two, 2)));
    printf(", sem 1 still %d\n", semctl(id, 1, GETVAL));
    static struct sembuf many[501];
    printf("sem: 501 ops: %s\n", res(semop(id, many, 501)));
    printf("sem: no ops: %s\n", res(semop(id, many, 0)));
    printf("sem: sem_num 3 of 3: %s\n", res(semop1(id, 3, 1, 0)));
    printf("sem: semctl of id -1: %s\n", res(semctl(-1, 0, GETVAL)));
    rm(SEM, id);
    printf("sem: semop on a removed set: %s\n", res(semop1(id, 0, 1, 0)));
}

/* A child blocked taking a semaphore, then one waiting for zero: each is
 * counted while it waits and wakes when the value allows. */
static void sem_waiters(void) {
    int id = track(SEM, semget(IPC_PRIVATE, 2, 0600));
    pid_t pid = fork();
    if (pid == 0) _exit(outcome(semop1(id, 0, -1, 0)));
    printf("sem: ncnt while the child waits: %d\n", counted(id, 0, GETNCNT));
    semop1(id, 0, 1, 0);
    reap("sem: child taking sem 0", pid);
    printf("sem: value and ncnt after: %d %d\n", semctl(id, 0, GETVAL), semctl(id, 0, GETNCNT));
    setval(id, 1, 1);
    pid = fork();
    if (pid == 0) _exit(outcome(semop1(id, 1, 0, 0)));
    printf("sem: zcnt while the child waits: %d\n", counted(id, 1, GETZCNT));
    semop1(id, 1, -1, 0);
    reap("sem: child waiting for zero", pid);
    printf("sem: zcnt after: %d\n", semctl(id, 1, GETZCNT));
    rm(SEM, id);
}

/* SEM_UNDO: a child's +2 is taken back when it exits. */
static void sem_undo(void) {
    int id = track(SEM, semget(IPC_PRIVATE, 2, 0600));
    setval(id, 1, 5);
    pid_t pid = fork();
    if (pid == 0) {
        int r = semop1(id, 1, 2, SEM_UNDO);
        printf("sem: value in the child after +2: %d\n", semctl(id, 1, GETVAL));
        _exit(outcome(r));
    }
    reap("sem: child with SEM_UNDO", pid);
    printf("sem: value after the child's exit: %d\n", semctl(id, 1, GETVAL));
    rm(SEM, id);
}

/* A blocked semop ends with EINTR on a signal and with EIDRM when its set
 * is removed. */
static void sem_interrupted_and_removed(void) {
    int id = track(SEM, semget(IPC_PRIVATE, 1, 0600));
    pid_t pid = fork();
    if (pid == 0) {
        alarm_in_100ms();
        _exit(outcome(semop1(id, 0, -1, 0)));
    }
    reap("sem: child interrupted in semop", pid);
    pid = fork();
    if (pid == 0) _exit(outcome(semop1(id, 0, -1, 0)));
    printf("sem: ncnt before IPC_RMID: %d\n", counted(id, 0, GETNCNT));
    rm(SEM, id);
    reap("sem: child whose set was removed", pid);
}

static int post(int id, long type, const char *text, int flags) {
    struct msg m = {type, ""};
    size_t n = strlen(text);
    memcpy(m.mtext, text, n);
    return msgsnd(id, &m, n, flags);
}

static void take(const char *what, int id, size_t size, long type, int flags) {
    struct msg m;
    memset(&m, 0, sizeof m);
    ssize_t n = msgrcv(id, &m, size, type, flags);
    if (n == -1) printf("msg: %s: %s\n", what, errname(errno));
    else printf("msg: %s: type %ld, %zd bytes \"%.*s\"\n", what, m.mtype, n, (int)n, m.mtext);
}

/* The queue's contents (not its limit, which is the host's msgmnb). */
static void queue(int id) {
    struct msqid_ds ds = {0};
    msgctl(id, IPC_STAT, &ds);
    printf("msg: qnum %lu, cbytes %lu\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.msg_cbytes);
}

/* Which message each kind of msgrcv takes, truncation and the errors. */
static void msg_types(void) {
    int id = track(MSG, msgget(IPC_PRIVATE, 0600));
    post(id, 1, "one", 0);
    post(id, 2, "two", 0);
    post(id, 3, "three", 0);
    queue(id);
    take("type 0", id, 128, 0, 0);
    take("type 3", id, 128, 3, 0);
    post(id, 1, "uno", 0);
    take("type -2", id, 128, -2, 0);
    post(id, 5, "five", 0);
    take("type 2, MSG_EXCEPT", id, 128, 2, MSG_EXCEPT);
    take("type 0", id, 128, 0, 0);
    take("empty queue, IPC_NOWAIT", id, 128, 0, IPC_NOWAIT);
    post(id, 4, "abcdefghijklmnopqrst", 0);
    take("8-byte buffer", id, 8, 0, 0);
    queue(id);
    take("8-byte buffer, MSG_NOERROR", id, 8, 0, MSG_NOERROR);
    queue(id);
    printf("msg: msgsnd of type 0: %s\n", res(post(id, 0, "zero", 0)));
    struct msqid_ds ds = {0};
    printf("msg: msgctl of id -1: %s\n", res(msgctl(-1, IPC_STAT, &ds)));
    rm(MSG, id);
    printf("msg: msgsnd to a removed queue: %s\n", res(post(id, 1, "gone", 0)));
}

/* A queue limited to 64 bytes refuses what does not fit, and a sender
 * blocks until a child makes room. */
static void msg_limits(void) {
    int id = track(MSG, msgget(IPC_PRIVATE, 0600));
    struct msqid_ds ds = {0};
    msgctl(id, IPC_STAT, &ds);
    ds.msg_qbytes = 64;
    printf("msg: IPC_SET of qbytes 64: %s", res(msgctl(id, IPC_SET, &ds)));
    msgctl(id, IPC_STAT, &ds);
    printf(", qbytes now %lu\n", (unsigned long)ds.msg_qbytes);
    char text[101] = {0};
    memset(text, 'b', 100);
    printf("msg: 100 bytes, IPC_NOWAIT: %s\n", res(post(id, 1, text, IPC_NOWAIT)));
    text[60] = 0;
    printf("msg: 60 bytes: %s\n", res(post(id, 1, text, IPC_NOWAIT)));
    printf("msg: 10 more, IPC_NOWAIT: %s\n", res(post(id, 2, "0123456789", IPC_NOWAIT)));
    queue(id);
    pid_t pid = fork();
    if (pid == 0) {
        struct msg m;
        usleep(100000);
        _exit(msgrcv(id, &m, 128, 0, 0) == 60 ? 0 : 99);
    }
    printf("msg: 10 more, blocking: %s\n", res(post(id, 2, "0123456789", 0)));
    reap("msg: child that made room", pid);
    queue(id);
    rm(MSG, id);
}

/* A child blocked in msgrcv gets the type it waits for, skipping others;
 * a signal ends a blocked msgrcv with EINTR and removal with EIDRM. */
static void msg_blocking(void) {
    int id = track(MSG, msgget(IPC_PRIVATE, 0600));
    post(id, 1, "not this one", 0);
    pid_t pid = fork();
    if (pid == 0) {
        take("child waiting for type 7", id, 128, 7, 0);
        _exit(0);
    }
    usleep(20000);
    post(id, 7, "seven", 0);
    reap("msg: child waiting for type 7", pid);
    take("left in the queue", id, 128, 0, IPC_NOWAIT);
    pid = fork();
    if (pid == 0) {
        struct msg m;
        alarm_in_100ms();
        _exit(outcome(msgrcv(id, &m, 128, 0, 0)));
    }
    reap("msg: child interrupted in msgrcv", pid);
    pid = fork();
    if (pid == 0) {
        usleep(100000);
        _exit(outcome(msgctl(id, IPC_RMID, NULL)));
    }
    take("blocked while a child removes the queue", id, 128, 0, 0);
    reap("msg: child removing the queue", pid);
    rm(MSG, id);
}

/* Objects of root's, mode 0600, seen by another user (a child that gave
 * up root): refused, as Linux checks the caller's ids; what that user
 * makes is its own (owner and creator). */
static void another_user(void) {
    int shm = track(SHM, shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600));
    int sem = track(SEM, semget(IPC_PRIVATE, 1, IPC_CREAT | 0600));
    int msq = track(MSG, msgget(IPC_PRIVATE, IPC_CREAT | 0600));
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(99);
        struct shmid_ds ds;
        struct sembuf up = {0, 1, 0};
        struct msg m = {1, "x"};
        printf("user: shmat of root's 0600 segment: %s\n", shmat(shm, NULL, 0) == (void *)-1 ? errname(errno) : "0");
        printf("user: IPC_STAT of it: %s\n", res(shmctl(shm, IPC_STAT, &ds)));
        printf("user: IPC_RMID of it: %s\n", res(shmctl(shm, IPC_RMID, NULL)));
        printf("user: semop on root's set: %s\n", res(semop(sem, &up, 1)));
        printf("user: msgsnd to root's queue: %s\n", res(msgsnd(msq, &m, 1, IPC_NOWAIT)));
        int own = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        int ok = shmctl(own, IPC_STAT, &ds) == 0;
        printf("user: its own segment: owner %d creator %d\n", ok && ds.shm_perm.uid == 65534,
               ok && ds.shm_perm.cuid == 65534);
        shmctl(own, IPC_RMID, NULL);
        _exit(0);
    }
    reap("user: child", pid);
    rm(SHM, shm);
    rm(SEM, sem);
    rm(MSG, msq);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGALRM, on_timeout);
    alarm(30);
    atexit(cleanup);
    if (pipe(to_child) || pipe(to_parent)) return 1;
    shm_attaches();
    shm_readonly();
    shm_placement();
    shm_removed_while_attached();
    shm_shared_counter();
    shm_keys_and_errors();
    sem_values();
    sem_waiters();
    sem_undo();
    sem_interrupted_and_removed();
    msg_types();
    msg_limits();
    msg_blocking();
    another_user();
    return 0;
}
