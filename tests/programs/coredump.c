// Core dumps: children die of signals under different RLIMIT_CORE and
// PR_SET_DUMPABLE settings; the parent reports what wait says (WCOREDUMP,
// waitid's CLD_DUMPED) and what the core file holds: an x86-64 ELF core
// whose NT_PRSTATUS names the signal and whose rip lies in the function
// that faulted. Needs core_pattern "core" (Linux's default), run from a
// scratch directory; `keep` leaves the last core for a debugger.
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) void crash_here(int how) {
    if (how == 0) {
        volatile int *p = (int *)8;
        *p = 1;
    } else if (how == 1) {
        abort();
    } else {
        volatile int zero = 0, one = 1;
        int r = one / zero;
        printf("%d\n", r);
    }
}

// The core file's signal and whether its rip is in crash_here (or, for
// a signal sent by kill, anywhere: "-").
static void inspect(int expect_rip) {
    int fd = open("core", O_RDONLY);
    if (fd < 0) {
        printf("  no core file\n");
        return;
    }
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc(st.st_size);
    if (read(fd, buf, st.st_size) != st.st_size) {
        printf("  short read\n");
        return;
    }
    close(fd);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    printf("  core file: %s type %d machine %d mode %o\n", memcmp(eh->e_ident, ELFMAG, SELFMAG) ? "not ELF" : "ELF",
           eh->e_type, eh->e_machine, st.st_mode & 0777);
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + eh->e_phoff);
    int loads = 0, stack_found = 0;
    uintptr_t sp_probe = (uintptr_t)&loads;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD) {
            loads++;
            (void)sp_probe;
        }
        if (ph[i].p_type != PT_NOTE)
            continue;
        char *n = buf + ph[i].p_offset, *end = n + ph[i].p_filesz;
        while (n < end) {
            Elf64_Nhdr *h = (Elf64_Nhdr *)n;
            char *desc = n + sizeof *h + ((h->n_namesz + 3) & ~3);
            if (h->n_type == NT_PRSTATUS) {
                short cursig;
                memcpy(&cursig, desc + 12, 2);
                uint64_t regs[27];
                memcpy(regs, desc + 112, sizeof regs);
                uint64_t rip = regs[16], rsp = regs[19];
                int in_fn = rip >= (uint64_t)(uintptr_t)crash_here && rip < (uint64_t)(uintptr_t)crash_here + 256;
                printf("  NT_PRSTATUS: signal %d, rip %s\n", cursig,
                       expect_rip ? (in_fn ? "in crash_here" : "elsewhere") : "-");
                // The stack the registers point into is in the file.
                for (int j = 0; j < eh->e_phnum; j++)
                    if (ph[j].p_type == PT_LOAD && rsp >= ph[j].p_vaddr && rsp < ph[j].p_vaddr + ph[j].p_filesz)
                        stack_found = 1;
            }
            if (h->n_type == NT_PRPSINFO)
                printf("  NT_PRPSINFO: %s\n", desc + 40);
            if (h->n_type == NT_AUXV)
                printf("  NT_AUXV present\n");
            n = desc + ((h->n_descsz + 3) & ~3);
        }
    }
    printf("  loads %s, stack in the file: %s\n", loads > 3 ? "several" : "few", stack_found ? "yes" : "no");
    free(buf);
}

// A 64-byte pattern made at run time (so that no text of the program holds it).
static void pattern(char *out, int seed) {
    char base = seed % 2 ? 'A' : 'a';
    for (int i = 0; i < 64; i++)
        out[i] = (char)(base + (unsigned)(i * 7 + seed * 3 + seed / 26) % 26);
}

// Whether the core file holds the pattern of `seed`.
static int core_holds(int seed) {
    char marker[64];
    pattern(marker, seed);
    int fd = open("core", O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    fstat(fd, &st);
    char *buf = malloc(st.st_size + 1);
    ssize_t n = read(fd, buf, st.st_size);
    close(fd);
    size_t len = sizeof marker;
    int found = 0;
    for (ssize_t i = 0; i + (ssize_t)len <= n && !found; i++)
        found = memcmp(buf + i, marker, len) == 0;
    free(buf);
    return found;
}

// A child marks two pages with distinct texts, leaves one out of core
// files (MADV_DONTDUMP) or sets its coredump_filter, and dies of SIGSEGV.
static void dump_choice(const char *what, const char *filter, int dontdump) {
    unlink("core");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
        setrlimit(RLIMIT_CORE, &r);
        char *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        // Seeds only known at run time: no constant the compiler folds.
        pattern(a, 2 * getpid());
        pattern(b, 2 * getpid() + 1);
        if (dontdump)
            madvise(a, 4096, MADV_DONTDUMP);
        if (filter) {
            int fd = open("/proc/self/coredump_filter", O_WRONLY);
            if (fd < 0 || write(fd, filter, strlen(filter)) < 0)
                _exit(2);
            close(fd);
        }
        crash_here(0);
    }
    wait(NULL);
    int in_private = core_holds(2 * child), in_shared = core_holds(2 * child + 1);
    printf("%s: private page dumped %d, shared page dumped %d\n", what, in_private, in_shared);
}

static void child_dies(const char *what, rlim_t limit, int dumpable, int how, int by_kill) {
    unlink("core");
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        struct rlimit r = {limit, RLIM_INFINITY};
        setrlimit(RLIMIT_CORE, &r);
        prctl(PR_SET_DUMPABLE, dumpable);
        // Some memory worth dumping.
        char *heap = malloc(1 << 20);
        memset(heap, 0x5a, 1 << 20);
        if (by_kill) {
            // Its default action, whatever the test's caller left (a
            // background shell job ignores SIGQUIT).
            signal(by_kill, SIG_DFL);
            kill(getpid(), by_kill);
            pause();
        }
        crash_here(how);
        _exit(0);
    }
    siginfo_t info;
    memset(&info, 0, sizeof info);
    waitid(P_PID, p, &info, WEXITED | WNOWAIT);
    int st;
    waitpid(p, &st, 0);
    printf("%s: signaled %d sig %d core %d, waitid code %s\n", what, WIFSIGNALED(st), WTERMSIG(st),
           WCOREDUMP(st) ? 1 : 0, info.si_code == CLD_DUMPED ? "CLD_DUMPED" : info.si_code == CLD_KILLED ? "CLD_KILLED" : "other");
    inspect(!by_kill);
}

int main(int argc, char **argv) {
    child_dies("SIGSEGV, unlimited", RLIM_INFINITY, 1, 0, 0);
    child_dies("SIGSEGV, no limit set", 0, 1, 0, 0);
    child_dies("SIGSEGV, limit below a page", 1000, 1, 0, 0);
    child_dies("SIGSEGV, not dumpable", RLIM_INFINITY, 0, 0, 0);
    child_dies("abort", RLIM_INFINITY, 1, 1, 0);
    child_dies("SIGFPE", RLIM_INFINITY, 1, 2, 0);
    child_dies("SIGQUIT by kill", RLIM_INFINITY, 1, 0, SIGQUIT);
    child_dies("SIGTERM by kill", RLIM_INFINITY, 1, 0, SIGTERM);
    char filter[32] = {0};
    int ffd = open("/proc/self/coredump_filter", O_RDONLY);
    if (ffd >= 0 && read(ffd, filter, sizeof filter - 1) > 0)
        printf("coredump_filter: %s", filter);
    close(ffd);
    dump_choice("default filter", NULL, 0);
    dump_choice("MADV_DONTDUMP on the private page", NULL, 1);
    dump_choice("filter 0x1 (anonymous private only)", "0x1", 0);
    dump_choice("filter 2 (anonymous shared only)", "2", 0);

    // A core left behind is replaced, not appended to (the last one, kept
    // for a debugger with `keep`).
    int fd = open("core", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd >= 0 && write(fd, "old", 3) == 3)
        close(fd);
    fflush(stdout);
    if (fork() == 0) {
        struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
        setrlimit(RLIMIT_CORE, &r);
        crash_here(0);
    }
    wait(NULL);
    printf("old core replaced:\n");
    inspect(1);

    if (argc < 2 || strcmp(argv[1], "keep") != 0)
        unlink("core");
    return 0;
}
