/* Memory policies through the raw syscalls, on a machine with one memory
 * node (the machines hx runs on, and a guest): set_mempolicy and
 * get_mempolicy, mbind on ranges (kept until unmapped), the home node,
 * migrate_pages and move_pages, with each refusal's errno. The output is
 * compared with the same run on Linux. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4
#define MPOL_MF_STRICT 1
#define MPOL_MF_MOVE 2

static long show(const char *what, long r) {
    if (r < 0) printf("%s = -1 %s\n", what, strerror(errno));
    else printf("%s = %ld\n", what, r);
    return r;
}

static void policy(const char *what, unsigned long flags, void *addr) {
    int mode = -1;
    unsigned long mask[2] = {0xdead, 0xdead};
    long r = syscall(SYS_get_mempolicy, &mode, mask, 129, addr, flags);
    if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
    else printf("%s: mode %#x mask %#lx %#lx\n", what, mode, mask[0], mask[1]);
}

static long set(int mode, unsigned long mask) {
    return syscall(SYS_set_mempolicy, mode, mask == ~0ul ? NULL : &mask, 65);
}

static long bind(void *p, size_t len, int mode, unsigned long mask, unsigned flags) {
    return syscall(SYS_mbind, p, len, mode, &mask, 65, flags);
}

int main(void) {
    policy("default", 0, 0);
    policy("mems allowed", MPOL_F_MEMS_ALLOWED, 0);
    policy("node without an address", MPOL_F_NODE, 0);
    policy("an address without MPOL_F_ADDR", 0, (void *)4096);
    policy("unknown flag", 8, 0);
    int mode;
    unsigned long m;
    show("get into a 0-node mask", syscall(SYS_get_mempolicy, &mode, &m, 0, 0, 0));

    show("bind to node 0", set(MPOL_BIND, 1));
    policy("after bind", 0, 0);
    show("bind to node 1 only", set(MPOL_BIND, 2));
    show("bind to no node", set(MPOL_BIND, 0));
    show("default with nodes", set(MPOL_DEFAULT, 1));
    show("local", set(MPOL_LOCAL, ~0ul));
    policy("after local", 0, 0);
    show("local with nodes", set(MPOL_LOCAL, 1));
    show("preferred with no node", set(MPOL_PREFERRED, ~0ul));
    policy("after preferred with no node", 0, 0);
    show("interleave over node 0", set(MPOL_INTERLEAVE, 1));
    policy("the next interleave node", MPOL_F_NODE, 0);
    show("static and relative at once", set(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, 1));
    show("static nodes 0 and 5", set(MPOL_BIND | MPOL_F_STATIC_NODES, 0x21));
    policy("after static", 0, 0);
    show("relative node 3", set(MPOL_PREFERRED | MPOL_F_RELATIVE_NODES, 0x8));
    policy("after relative", 0, 0);
    show("unknown mode", set(77, 1));
    show("back to default", set(MPOL_DEFAULT, ~0ul));
    policy("default again", 0, 0);

    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(0, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("mbind 4 pages to node 0", bind(p, 4 * pg, MPOL_BIND, 1, 0));
    policy("page 0", MPOL_F_ADDR, p);
    policy("page 3", MPOL_F_ADDR, p + 3 * pg);
    show("mbind page 1 interleaved", bind(p + pg, pg, MPOL_INTERLEAVE, 1, MPOL_MF_STRICT | MPOL_MF_MOVE));
    policy("page 1", MPOL_F_ADDR, p + pg);
    policy("page 2", MPOL_F_ADDR, p + 2 * pg);
    p[0] = 1;
    policy("node of page 0", MPOL_F_ADDR | MPOL_F_NODE, p);
    show("mbind page 2 back to default", bind(p + 2 * pg, pg, MPOL_DEFAULT, 0, MPOL_MF_STRICT));
    policy("page 2 now", MPOL_F_ADDR, p + 2 * pg);
    show("mbind unaligned", bind(p + 1, pg, MPOL_BIND, 1, 0));
    show("mbind no length", bind(p, 0, MPOL_BIND, 1, 0));
    show("mbind bad flags", bind(p, pg, MPOL_BIND, 1, 64));
    show("mbind to node 1", bind(p, pg, MPOL_BIND, 2, 0));
    show("home node 0 of a bound range", syscall(450, p, pg, 0, 0));
    show("home node over an interleaved page", syscall(450, p, 2 * pg, 0, 0));
    show("home node 1", syscall(450, p, pg, 1, 0));
    show("home node with flags", syscall(450, p, pg, 0, 1));
    show("home node unaligned", syscall(450, p + 1, pg, 0, 0));
    munmap(p + 3 * pg, pg);
    show("mbind over a hole", bind(p, 4 * pg, MPOL_BIND, 1, 0));
    policy("unmapped page", MPOL_F_ADDR, p + 3 * pg);
    char *q = mmap(p + 3 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    policy("a new mapping where a bound one was", MPOL_F_ADDR, q);

    unsigned long one = 1, two = 2;
    show("migrate own pages to node 0", syscall(SYS_migrate_pages, 0, 65, &one, &one));
    show("migrate to no node", syscall(SYS_migrate_pages, 0, 65, &one, &(unsigned long){0}));
    show("migrate a missing process", syscall(SYS_migrate_pages, 999999, 65, &one, &one));
    (void)two;

    void *pages[3] = {p, p + 2 * pg, (void *)16};
    int status[3] = {7, 7, 7};
    show("move_pages query", syscall(SYS_move_pages, 0, 3, pages, NULL, status, 0));
    printf("  status %d %d %d\n", status[0], status[1], status[2]);
    int nodes[1] = {0};
    show("move page 0 to node 0", syscall(SYS_move_pages, 0, 1, pages, nodes, status, MPOL_MF_MOVE));
    printf("  status %d\n", status[0]);
    nodes[0] = 1;
    show("move to node 1", syscall(SYS_move_pages, 0, 1, pages, nodes, status, MPOL_MF_MOVE));
    show("move_pages bad flags", syscall(SYS_move_pages, 0, 1, pages, NULL, status, 8));
    show("move_pages of a missing process", syscall(SYS_move_pages, 999999, 1, pages, NULL, status, 0));
    return 0;
}
