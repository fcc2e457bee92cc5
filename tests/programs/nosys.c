/* Calls a syscall hx does not implement, twice: it must fail with ENOSYS.
 * get_thread_area sets 32-bit TLS descriptors in the GDT, which a guest at
 * CPL3 cannot reach. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(void) {
    for (int i = 0; i < 2; i++) {
        long r = syscall(SYS_get_thread_area, NULL);
        printf("get_thread_area = %ld, errno = %s\n", r, errno == ENOSYS ? "ENOSYS" : "other");
    }
    return 0;
}
