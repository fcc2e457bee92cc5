/* System calls Linux refuses to a process without the privileges they need
 * (hx's guest never has them), and ones Linux does not have: each called
 * with harmless arguments, its result and errno printed. The test runs it
 * natively as an unprivileged user and in hx, and compares. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static void show(const char *name, long r) {
    printf("%-16s %ld %s\n", name, r, r < 0 ? strerrorname_np(errno) : "-");
}

#define CALL(name, ...) show(#name, syscall(__VA_ARGS__))

int main(void) {
    struct timeval now;
    gettimeofday(&now, NULL);
    CALL(mount, SYS_mount, "none", "/mnt", "tmpfs", 0L, NULL);
    CALL(umount2, SYS_umount2, "/mnt", 0L);
    CALL(chroot, SYS_chroot, "/");
    CALL(acct, SYS_acct, NULL);
    CALL(settimeofday, SYS_settimeofday, &now, NULL);
    CALL(swapon, SYS_swapon, "/nonexistent", 0L);
    CALL(swapoff, SYS_swapoff, "/nonexistent");
    CALL(iopl, SYS_iopl, 3L);
    CALL(ioperm, SYS_ioperm, 0x80L, 1L, 1L);
    CALL(init_module, SYS_init_module, NULL, 0L, "");
    CALL(finit_module, SYS_finit_module, -1L, "", 0L);
    CALL(delete_module, SYS_delete_module, "hx_no_such_module", 0L);
    CALL(kexec_load, SYS_kexec_load, 0L, 0L, NULL, 0L);
    CALL(pivot_root, SYS_pivot_root, ".", ".");
    CALL(vhangup, SYS_vhangup);
    CALL(fanotify_init, SYS_fanotify_init, 0L, 0L);
    CALL(fsopen, SYS_fsopen, "tmpfs", 0L);
    /* Not in Linux: ENOSYS everywhere. */
    CALL(create_module, SYS_create_module);
    CALL(get_kernel_syms, SYS_get_kernel_syms);
    CALL(query_module, SYS_query_module);
    CALL(nfsservctl, SYS_nfsservctl);
    CALL(getpmsg, SYS_getpmsg);
    CALL(putpmsg, SYS_putpmsg);
    CALL(afs_syscall, SYS_afs_syscall);
    CALL(tuxcall, SYS_tuxcall);
    CALL(security, SYS_security);
    CALL(vserver, SYS_vserver);
    CALL(epoll_ctl_old, SYS_epoll_ctl_old);
    CALL(epoll_wait_old, SYS_epoll_wait_old);
    CALL(_sysctl, SYS__sysctl, NULL);
    return 0;
}
