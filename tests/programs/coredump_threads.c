// A core file of a process with three threads: two parked in their own
// functions, the third dying of SIGSEGV. The parent counts the threads'
// NT_PRSTATUS notes and checks each names a thread and a stack pointer
// inside a dumped mapping; `keep` leaves the core for a debugger (whose
// `thread apply all bt` shows park_one and park_two).
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int parked;

__attribute__((noinline)) static void park_one(void) {
    __atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
    for (;;)
        pause();
}

__attribute__((noinline)) static void park_two(void) {
    __atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
    for (;;)
        pause();
}

static void *one(void *arg) {
    (void)arg;
    park_one();
    return NULL;
}

static void *two(void *arg) {
    (void)arg;
    park_two();
    return NULL;
}

int main(int argc, char **argv) {
    unlink("core");
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY};
        setrlimit(RLIMIT_CORE, &r);
        pthread_t a, b;
        pthread_create(&a, NULL, one, NULL);
        pthread_create(&b, NULL, two, NULL);
        while (__atomic_load_n(&parked, __ATOMIC_SEQ_CST) < 2)
            usleep(1000);
        usleep(20000);
        *(volatile int *)16 = 1;
        _exit(0);
    }
    int st;
    waitpid(child, &st, 0);
    printf("signal %d, core %d\n", WTERMSIG(st), WCOREDUMP(st) ? 1 : 0);
    int fd = open("core", O_RDONLY);
    struct stat s;
    if (fd < 0 || fstat(fd, &s) != 0)
        return 1;
    char *buf = malloc(s.st_size);
    if (read(fd, buf, s.st_size) != s.st_size)
        return 1;
    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    Elf64_Phdr *ph = (Elf64_Phdr *)(buf + eh->e_phoff);
    int threads = 0, first_is_dying = 0, stacks_dumped = 0, tids_distinct = 1, seen[8] = {0};
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_NOTE)
            continue;
        for (char *n = buf + ph[i].p_offset; n < buf + ph[i].p_offset + ph[i].p_filesz;) {
            Elf64_Nhdr *h = (Elf64_Nhdr *)n;
            char *desc = n + sizeof *h + ((h->n_namesz + 3) & ~3);
            if (h->n_type == NT_PRSTATUS) {
                int tid;
                memcpy(&tid, desc + 32, 4);
                uint64_t rip, rsp;
                memcpy(&rip, desc + 112 + 16 * 8, 8);
                memcpy(&rsp, desc + 112 + 19 * 8, 8);
                if (threads == 0 && tid == child)
                    first_is_dying = 1;
                for (int k = 0; k < threads && k < 8; k++)
                    if (seen[k] == tid)
                        tids_distinct = 0;
                if (threads < 8)
                    seen[threads] = tid;
                for (int j = 0; j < eh->e_phnum; j++)
                    if (ph[j].p_type == PT_LOAD && rsp >= ph[j].p_vaddr && rsp < ph[j].p_vaddr + ph[j].p_filesz)
                        stacks_dumped++;
                threads++;
            }
            n = desc + ((h->n_descsz + 3) & ~3);
        }
    }
    printf("threads %d, the dying one first %d, distinct ids %d, stacks in the file %d\n", threads, first_is_dying,
           tids_distinct, stacks_dumped);
    if (argc < 2 || strcmp(argv[1], "keep") != 0)
        unlink("core");
    return 0;
}
