/* The guest-side request fuzzer: forges host requests the way a hostile
 * program can — writing them into guest RAM through the kernel's direct map
 * and ringing the hypercall port itself, bypassing every check of the guest
 * kernel — and goes on until it has sent ITERATIONS requests of each op.
 *   forge RAM_BYTES ITERATIONS SEED [OP]
 *   forge outside ADDRESS       one request at a physical address beyond RAM
 *   forge vfork                 VFORK requests out of order and out of range
 * Requests and the buffers they name live in a scratch megabyte of physical
 * memory nobody else uses (1-2 MiB: above the boot structures, below the
 * kernel image). Destinations the monitor may write are inside the scratch
 * area or invalid (beyond RAM, overflowing): never the guest's own memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define DIRECT_MAP 0xffff888000000000ULL
#define SCRATCH 0x100000ULL
#define SCRATCH_LEN 0x100000ULL
#define REQ_PHYS SCRATCH
#define DATA_PHYS (SCRATCH + 0x1000)
#define DATA_LEN (SCRATCH_LEN - 0x1000)
#define PORT 0x500
#define MAX_SEGMENTS 16
#define OP_EXIT 1
#define OP_SLEEP 27
#define OP_POLL 32
/* The last request (FALLOCATE). */
#define LAST_OP 70
#define OP_IDLE 33
#define OP_CHOWN 45
#define OP_NET 46
/* A forged FORK forks (each copy would go on forging); KILL may name -1,
 * which is every process of the tree: both are left to tests/processes.rs. */
#define OP_FORK 38
#define OP_KILL 41
#define OP_VFORK 57
/* A forged STOP stops the forger until a SIGCONT nobody sends: tests/processes.rs tries it. */
#define OP_STOP 66
#define OP_EVENTFD 67

struct segment { uint64_t phys, len; };
struct request {
    uint32_t op, nsegs;
    uint64_t args[8];
    int64_t ret;
    struct segment segs[MAX_SEGMENTS];
};

static uint64_t state;
static uint64_t next(void) {
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545f4914f6cdd1dULL;
}
static uint64_t below(uint64_t n) { return n ? next() % n : 0; }

static uint64_t ram;
static volatile uint8_t *phys(uint64_t p) { return (volatile uint8_t *)(DIRECT_MAP + p); }

static uint64_t boundary(void) {
    const uint64_t v[] = {0, 1, 2, 3, 4, 7, 0xff, 0x1000, 0xfff, 4097, 04777, 0x200, 4 /* RENAME_WHITEOUT */,
                          0x40 | 2 /* O_CREAT|O_RDWR */, 020200000 /* O_TMPFILE */, 0x7fffffff, 0x80000000ULL,
                          0xffffffffULL, 1ULL << 32, 0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
                          ram - 1, ram, ram + 1};
    return v[below(sizeof v / sizeof v[0])];
}
static uint64_t value(void) {
    switch (below(4)) {
    case 0: return next();
    case 1: return below(16);
    default: return boundary();
    }
}

static const char *paths[] = {"/", "/work", "/work/f.txt", "/work/new", "/work/dir", "/work/dir/x", "/work/ro",
                              "/work/ro/r.txt", "/work/../..", "/work/up/secret", "/proc/self/root/etc/passwd",
                              "/work/link", "/work/loop", "relative", "/work/a\377b", ""};

static struct segment segment(uint32_t op, uint64_t *cursor) {
    struct segment s;
    switch (below(8)) {
    case 0: case 1: case 2: {
        const char *p = paths[below(sizeof paths / sizeof paths[0])];
        size_t n = strlen(p);
        uint64_t at = DATA_PHYS + (*cursor % (DATA_LEN - 4096));
        *cursor += 4096;
        for (size_t i = 0; i < n; i++) phys(at)[i] = p[i];
        if (n && below(4) == 0) phys(at)[below(n)] = (uint8_t)next();
        s.phys = at;
        s.len = n;
        return s;
    }
    case 3: case 4: {
        const uint64_t lens[] = {0, 1, 8, 16, 32, 144, 4096, 65536};
        s.len = lens[below(8)];
        s.phys = DATA_PHYS + below(DATA_LEN - s.len);
        return s;
    }
    case 5: /* across the end of guest RAM */
        s.phys = ram - below(64);
        s.len = 64 + below(8192);
        return s;
    case 6: /* beyond RAM, or overflowing */
        s.phys = ram + below(1ULL << 40);
        s.len = value();
        return s;
    default: /* all of RAM: only where the monitor reads guest memory, never writes it */
        s.phys = 0;
        s.len = ram;
        if (op == 2 || op == 9 || op == 10 || op == 14) return s; /* WRITE, STRACE, LOG, PWRITE */
        s.phys = ~0ULL - below(4096);
        return s;
    }
}

/* Requests whose args[0] is a handle. */
static int takes_handle(uint32_t op) {
    switch (op) {
    case 2: case 3: case 4: case 5: case 12: case 13: case 14: case 15:
    case 19: case 23: case 24: case 25: case 26: case 28: case 29: case 45: return 1;
    default: return 0;
    }
}

static void ring(uint32_t at) { __asm__ volatile("outl %%eax, %%dx" ::"a"(at), "d"((uint16_t)PORT) : "memory"); }

static int64_t hypercall(void) {
    ring((uint32_t)REQ_PHYS);
    return ((volatile struct request *)phys(REQ_PHYS))->ret;
}

/* One VFORK request as a hostile program sends it; prints what came back. */
static int64_t vfork_request(const char *what, uint64_t a0, uint64_t a1, uint64_t a2) {
    volatile struct request *r = (volatile struct request *)phys(REQ_PHYS);
    memset((void *)r, 0, sizeof *r);
    r->op = OP_VFORK;
    r->args[0] = a0, r->args[1] = a1, r->args[2] = a2;
    int64_t ret = hypercall();
    printf("%s: %s\n", what, ret > 0 ? "a pid" : ret == 0 ? "0" : ret == -22 ? "EINVAL" : ret == -16 ? "EBUSY" : ret == -10 ? "ECHILD" : "other error");
    return ret;
}

int main(int argc, char **argv) {
    if (argc == 2 && !strcmp(argv[1], "vfork")) {
        vfork_request("end with nothing reserved", 1, 3, 0);
        vfork_request("start, exit signal 65", 0, 65, 0);
        vfork_request("unknown operation", 7, 0, 0);
        int64_t pid = vfork_request("start", 0, 17, 0);
        vfork_request("start again", 0, 17, 0);
        vfork_request("end killed by signal 99", 1, 0, 99);
        int64_t ended = vfork_request("end with status 3", 1, 3, 0);
        printf("the same child: %d\n", ended == pid);
        vfork_request("end again", 1, 3, 0);
        /* The child the monitor started for the reservation is a real one. */
        int status = 0;
        int got = waitpid((int)pid, &status, 0);
        printf("waited: %d, exited %d\n", got == pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "outside")) {
        /* A request the monitor cannot even read: the VM must end, in one line. */
        ring((uint32_t)strtoull(argv[2], 0, 0));
        printf("still running\n");
        return 0;
    }
    if (argc < 4) {
        fprintf(stderr, "usage: forge RAM_BYTES ITERATIONS SEED [OP] | forge outside ADDRESS\n");
        return 2;
    }
    ram = strtoull(argv[1], 0, 0);
    uint64_t iterations = strtoull(argv[2], 0, 0);
    state = strtoull(argv[3], 0, 0) * 0x9e3779b97f4a7c15ULL | 1;
    int only = argc > 4 ? atoi(argv[4]) : 0;
    uint64_t sent = 0, errors = 0;
    for (uint32_t op = 0; op <= LAST_OP + 2; op++) {
        if (op == OP_EXIT || (only && op != (uint32_t)only)) continue;
        /* The process requests are not forged here: a forged FORK forks the
         * forger, whose copy goes on forging (EXEC, WAIT, KILL, PIPE, PGRP
         * come with it). */
        if (op == OP_FORK || op == OP_KILL || op == OP_VFORK || op == OP_STOP) continue;
        for (uint64_t i = 0; i < iterations; i++) {
            volatile struct request *r = (volatile struct request *)phys(REQ_PHYS);
            struct request q;
            memset(&q, 0, sizeof q);
            q.op = op == LAST_OP + 2 ? (uint32_t)next() : op;
            if (q.op == OP_EXIT || q.op == OP_STOP) q.op = 0;
            for (int a = 0; a < 8; a++) q.args[a] = value();
            /* Reads and writes: mostly handles the guest may hold. */
            if (q.op == 2 || q.op == 3 || q.op == 13 || q.op == 14) q.args[0] = below(8) ? 3 + below(8) : value();
            /* The guest's own standard streams stay as they are (open, blocking): what a forged
             * request does to them is the guest's business, and the run must still print its
             * result. The monitor treats handles 0-2 as any other. */
            if (takes_handle(q.op) && q.args[0] < 3) q.args[0] = 3 + below(8);
            if (q.op == OP_SLEEP) q.args[0] %= 100000;
            /* An idle vCPU sleeps until its deadline: a forged one waits briefly (the monitor
             * takes any deadline; a guest that idles forever only stops itself). */
            if (q.op == OP_IDLE) q.args[0] = 1;
            if (q.op == OP_POLL) q.args[0] = 0;
            /* A blocking eventfd read of 0 would wait for ever (as on Linux): forged ones do not block. */
            if (q.op == OP_EVENTFD) q.args[1] |= 04000;
            /* CHOWN: mostly a valid "do not follow" flag, so that the ids and paths get tried. */
            if (q.op == OP_CHOWN && below(4)) q.args[3] = below(2);
            /* Sockets: mostly a real operation (args[0]) on a handle (args[1]) other than the
             * streams; never one that waits (non-blocking sockets, sends and receives). */
            if (q.op == OP_NET) {
                if (below(8)) q.args[0] = below(12);
                if (below(8) && q.args[1] < 3) q.args[1] = 3 + below(8);
                if (q.args[0] <= 1) { /* SOCKET, SOCKETPAIR */
                    if (below(4)) { const uint64_t fam[] = {1, 2, 10, 16}; q.args[1] = fam[below(4)]; q.args[2] = below(6); }
                    q.args[2] |= 04000; /* SOCK_NONBLOCK */
                }
                if (q.args[0] == 5) q.args[2] = 04000;       /* ACCEPT: SOCK_NONBLOCK */
                if (q.args[0] == 6 || q.args[0] == 7) q.args[2] |= 0x40; /* MSG_DONTWAIT */
                if (q.args[1] < 3 && q.args[0] >= 2) q.args[1] = 3 + below(8);
            }
            q.nsegs = below(20) == 0 ? (uint32_t)value() : (uint32_t)below(MAX_SEGMENTS + 1);
            uint64_t cursor = 0;
            for (uint32_t s = 0; s < MAX_SEGMENTS && s < q.nsegs; s++) q.segs[s] = segment(q.op, &cursor);
            memcpy((void *)r, &q, sizeof q);
            if (hypercall() < 0) errors++;
            sent++;
        }
    }
    printf("forged %llu requests (%llu refused); the monitor answered them all\n", (unsigned long long)sent,
           (unsigned long long)errors);
    return 0;
}
