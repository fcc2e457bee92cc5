/* futex's refusals: a shared futex (no FUTEX_PRIVATE_FLAG) on unmapped or
 * PROT_NONE memory is EFAULT (Linux looks the page up), a private one is
 * not; a negative requeue count is EINVAL. Compared with Linux. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static long futex(void *a, int op, int val, long val2, void *a2, int val3) {
    return syscall(SYS_futex, a, op, val, val2, a2, val3);
}

static void show(const char *what, long r) { printf("%s: %ld %s\n", what, r, r < 0 ? strerror(errno) : ""); }

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    uint32_t *gone = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, page);
    uint32_t *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    static uint32_t word, other;
    show("wake, unmapped", futex(gone, FUTEX_WAKE, 1, 0, NULL, 0));
    show("wake, PROT_NONE", futex(none, FUTEX_WAKE, 1, 0, NULL, 0));
    show("wake private, unmapped", futex(gone, FUTEX_WAKE_PRIVATE, 1, 0, NULL, 0));
    show("wake, mapped", futex(&word, FUTEX_WAKE, 1, 0, NULL, 0));
    show("cmp_requeue, uaddr2 PROT_NONE", futex(&word, FUTEX_CMP_REQUEUE, 1, 1, none, 0));
    show("cmp_requeue, uaddr unmapped", futex(gone, FUTEX_CMP_REQUEUE, 1, 1, &other, 0));
    show("cmp_requeue, wake -1", futex(&word, FUTEX_CMP_REQUEUE, -1, 1, &other, 0));
    show("cmp_requeue, requeue -1", futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, -1, &other, 0));
    show("cmp_requeue, value differs", futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &other, 5));
    show("cmp_requeue", futex(&word, FUTEX_CMP_REQUEUE_PRIVATE, 1, 1, &other, 0));
    return 0;
}
