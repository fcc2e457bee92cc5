//! seccomp: once the guest runs, the monitor's threads may make only the host
//! calls serving requests needs (built with rust-vmm's seccompiler). Any other
//! call — a bug, or code a guest found a way to steer — stops hx-run with a
//! clear line instead of reaching the host kernel.
use anyhow::{Context, Result};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

use super::number_tree;

/// Host calls allowed with any arguments: file requests on held descriptors,
/// time, memory for the monitor's own allocator, signals and exit.
const ALLOWED: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_preadv,
    libc::SYS_pwritev,
    libc::SYS_preadv2,
    libc::SYS_pwritev2,
    libc::SYS_openat,
    libc::SYS_close,
    // A spare monitor drops its parent's descriptors (process/spare.rs).
    libc::SYS_close_range,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_lseek,
    libc::SYS_getdents64,
    libc::SYS_unlinkat,
    libc::SYS_mkdirat,
    libc::SYS_symlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_linkat,
    libc::SYS_ftruncate,
    libc::SYS_fsync,
    libc::SYS_fdatasync,
    libc::SYS_syncfs,
    libc::SYS_fcntl,
    // Lease breaks are read from a signalfd (host/lease.rs).
    libc::SYS_signalfd4,
    libc::SYS_fchmod,
    libc::SYS_fchmodat,
    libc::SYS_fchmodat2,
    libc::SYS_chmod,
    libc::SYS_fchown,
    libc::SYS_utimensat,
    libc::SYS_fstatfs,
    libc::SYS_poll,
    libc::SYS_ppoll,
    libc::SYS_readlinkat,
    libc::SYS_faccessat,
    libc::SYS_faccessat2,
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_getrandom,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_brk,
    libc::SYS_madvise,
    libc::SYS_mprotect,
    libc::SYS_mincore,
    libc::SYS_futex,
    libc::SYS_sched_yield,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_getpid,
    // A child monitor publishes its end and resource use to its parent (process::table).
    libc::SYS_getrusage,
    libc::SYS_getppid,
    libc::SYS_gettid,
    libc::SYS_tgkill,
    libc::SYS_exit,
    libc::SYS_exit_group,
    // Starting the vCPU threads (after the filter is on, so they inherit it
    // and Landlock): what the C library's pthread_create needs. `clone` is
    // only allowed for threads (below); `clone3` fails so it falls back to `clone`.
    libc::SYS_rseq,
    libc::SYS_set_robust_list,
    libc::SYS_clone3, // turned into ENOSYS by the second filter
    libc::SYS_sched_getaffinity,
    // Booting an image after `execve` (ids for the auxv and boot info) and
    // processes: a forked monitor's wait for its children, signals to the
    // monitors of its own tree (pids from the process table), host pipes, and
    // a monitor dying of its program's signal.
    libc::SYS_getuid,
    libc::SYS_getgid,
    libc::SYS_geteuid,
    libc::SYS_getegid,
    libc::SYS_waitid,
    libc::SYS_wait4,
    libc::SYS_kill,
    libc::SYS_pipe2,
    libc::SYS_setrlimit,
    libc::SYS_prlimit64,
    libc::SYS_rt_sigaction,
    // The watcher of host files guest threads wait for (vmm/src/watch.rs).
    libc::SYS_epoll_create1,
    libc::SYS_epoll_ctl,
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_eventfd2,
    // The guest's inotify instances (vmm/src/host/inotify.rs).
    libc::SYS_inotify_init1,
    libc::SYS_inotify_add_watch,
    libc::SYS_inotify_rm_watch,
    // `user.` extended attributes of files the sandbox opened (vmm/src/host/xattr.rs).
    libc::SYS_fgetxattr,
    libc::SYS_fsetxattr,
    libc::SYS_flistxattr,
    libc::SYS_fremovexattr,
    // System V IPC, in the tree's own IPC namespace (vmm/src/host/sysv.rs),
    // made as the guest's ids by the serving thread alone (setres[ug]id,
    // setgroups on that thread; a monitor that dropped root cannot regain it).
    libc::SYS_setresuid,
    libc::SYS_setresgid,
    libc::SYS_setgroups,
    libc::SYS_getgroups,
    // Path requests made as a guest that is not root (vmm/src/host/identity.rs).
    libc::SYS_setfsuid,
    libc::SYS_setfsgid,
    libc::SYS_shmget,
    libc::SYS_shmat,
    libc::SYS_shmdt,
    libc::SYS_shmctl,
    libc::SYS_semget,
    libc::SYS_semtimedop,
    libc::SYS_semctl,
    libc::SYS_msgget,
    libc::SYS_msgsnd,
    libc::SYS_msgrcv,
    libc::SYS_msgctl,
    // POSIX message queues, in the same namespace (host/mqueue.rs): never waiting.
    libc::SYS_mq_open,
    libc::SYS_mq_unlink,
    libc::SYS_mq_timedsend,
    libc::SYS_mq_timedreceive,
    libc::SYS_mq_getsetattr,
    libc::SYS_mq_notify,
    // Fresh shared memory for MAP_SHARED|MAP_ANONYMOUS (vmm/src/host/shared.rs).
    libc::SYS_memfd_create,
    libc::SYS_msync,
    // Record locks and flock on held files, never waiting (F_SETLK, LOCK_NB).
    libc::SYS_flock,
    libc::SYS_fallocate,
    // `tee` between two pipes the guest holds (host/files.rs).
    libc::SYS_tee,
    // The guest's sockets (created only as the rules in `filter` allow).
    libc::SYS_bind,
    libc::SYS_listen,
    libc::SYS_accept4,
    libc::SYS_connect,
    libc::SYS_sendmsg,
    libc::SYS_recvmsg,
    libc::SYS_shutdown,
    libc::SYS_getsockname,
    libc::SYS_getpeername,
    libc::SYS_setsockopt,
    libc::SYS_getsockopt,
];

/// `ioctl` requests allowed: running the vCPU, reading its registers for a
/// fault report, building a VM for a forked process or an `execve`d image,
/// and the commands the guest may run on its host files (`hx_abi::ioctl`).
const IOCTLS: &[u64] = &[
    kvm_ioctls_numbers::KVM_RUN,
    kvm_ioctls_numbers::KVM_GET_REGS,
    kvm_ioctls_numbers::KVM_GET_SREGS,
    kvm_ioctls_numbers::KVM_SET_REGS,
    kvm_ioctls_numbers::KVM_SET_SREGS,
    kvm_ioctls_numbers::KVM_CREATE_VM,
    kvm_ioctls_numbers::KVM_CHECK_EXTENSION,
    kvm_ioctls_numbers::KVM_GET_VCPU_MMAP_SIZE,
    kvm_ioctls_numbers::KVM_CREATE_VCPU,
    kvm_ioctls_numbers::KVM_SET_USER_MEMORY_REGION,
    kvm_ioctls_numbers::KVM_GET_MSRS,
    kvm_ioctls_numbers::KVM_SET_MSRS,
    kvm_ioctls_numbers::KVM_SET_FPU,
    kvm_ioctls_numbers::KVM_SET_CPUID2,
    kvm_ioctls_numbers::KVM_GET_TSC_KHZ,
    kvm_ioctls_numbers::KVM_GET_XSAVE,
    kvm_ioctls_numbers::KVM_SET_XSAVE,
    kvm_ioctls_numbers::KVM_GET_XCRS,
    kvm_ioctls_numbers::KVM_SET_XCRS,
    crate::tsc::KVM_GET_DEVICE_ATTR,
    crate::tsc::KVM_SET_DEVICE_ATTR,
];

/// The KVM request numbers (`_IO`/`_IOR` encodings from linux/kvm.h).
mod kvm_ioctls_numbers {
    const KVMIO: u64 = 0xAE;
    const fn io(nr: u64) -> u64 {
        (KVMIO << 8) | nr
    }
    const fn ior(nr: u64, size: u64) -> u64 {
        (2 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    pub const KVM_RUN: u64 = io(0x80);
    pub const KVM_GET_REGS: u64 = ior(0x81, std::mem::size_of::<kvm_bindings::kvm_regs>() as u64);
    pub const KVM_GET_SREGS: u64 = ior(0x83, std::mem::size_of::<kvm_bindings::kvm_sregs>() as u64);
    const fn iow(nr: u64, size: u64) -> u64 {
        (1 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    pub const KVM_SET_REGS: u64 = iow(0x82, std::mem::size_of::<kvm_bindings::kvm_regs>() as u64);
    pub const KVM_SET_SREGS: u64 = iow(0x84, std::mem::size_of::<kvm_bindings::kvm_sregs>() as u64);
    const fn iowr(nr: u64, size: u64) -> u64 {
        (3 << 30) | (size << 16) | (KVMIO << 8) | nr
    }
    // A fresh VM for a forked process, and every vCPU's boot state after `execve`.
    pub const KVM_CREATE_VM: u64 = io(0x01);
    pub const KVM_CHECK_EXTENSION: u64 = io(0x03);
    pub const KVM_GET_VCPU_MMAP_SIZE: u64 = io(0x04);
    pub const KVM_CREATE_VCPU: u64 = io(0x41);
    pub const KVM_SET_USER_MEMORY_REGION: u64 =
        iow(0x46, std::mem::size_of::<kvm_bindings::kvm_userspace_memory_region>() as u64);
    pub const KVM_GET_MSRS: u64 = iowr(0x88, std::mem::size_of::<kvm_bindings::kvm_msrs>() as u64);
    pub const KVM_SET_MSRS: u64 = iow(0x89, std::mem::size_of::<kvm_bindings::kvm_msrs>() as u64);
    pub const KVM_SET_FPU: u64 = iow(0x8d, std::mem::size_of::<kvm_bindings::kvm_fpu>() as u64);
    pub const KVM_SET_CPUID2: u64 = iow(0x90, std::mem::size_of::<kvm_bindings::kvm_cpuid2>() as u64);
    pub const KVM_GET_TSC_KHZ: u64 = io(0xa3);
    pub const KVM_GET_XSAVE: u64 = ior(0xa4, std::mem::size_of::<kvm_bindings::kvm_xsave>() as u64);
    pub const KVM_SET_XSAVE: u64 = iow(0xa5, std::mem::size_of::<kvm_bindings::kvm_xsave>() as u64);
    pub const KVM_GET_XCRS: u64 = ior(0xa6, std::mem::size_of::<kvm_bindings::kvm_xcrs>() as u64);
    pub const KVM_SET_XCRS: u64 = iow(0xa7, std::mem::size_of::<kvm_bindings::kvm_xcrs>() as u64);
}

/// The main filter's rules: a syscall number, allowed if one of its rules
/// matches (an empty list: with any arguments).
fn rules(inet: bool) -> Result<BTreeMap<i64, Vec<SeccompRule>>> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = ALLOWED.iter().map(|&nr| (nr, Vec::new())).collect();
    let ioctl = IOCTLS
        .iter()
        .chain(hx_abi::ioctl::ALL)
        .map(|&req| SeccompRule::new(vec![SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, req)?]))
        .collect::<Result<Vec<_>, _>>()?;
    rules.insert(libc::SYS_ioctl, ioctl);
    // New threads, or a copy of the monitor for a guest `fork` (no shared
    // memory: a process clone without CLONE_VM).
    let thread = libc::CLONE_THREAD as u64;
    let vm = (libc::CLONE_VM | libc::CLONE_THREAD) as u64;
    rules.insert(
        libc::SYS_clone,
        vec![
            SeccompRule::new(vec![SeccompCondition::new(
                0,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(thread),
                thread,
            )?])?,
            SeccompRule::new(vec![SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(vm), 0)?])?,
        ],
    );
    // chown of one name in a held directory, never through a symlink.
    rules.insert(
        libc::SYS_fchownat,
        vec![SeccompRule::new(vec![SeccompCondition::new(
            4,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::Eq,
            libc::AT_SYMLINK_NOFOLLOW as u64,
        )?])?],
    );
    // mknod of FIFOs only (`mkfifoat`): never a device node.
    rules.insert(
        libc::SYS_mknodat,
        vec![SeccompRule::new(vec![SeccompCondition::new(
            2,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(libc::S_IFMT as u64),
            libc::S_IFIFO as u64,
        )?])?],
    );
    // Naming a new thread (the Rust runtime does), and a spare monitor's
    // death with its parent (process/spare.rs).
    let prctl_option = |option: i32| -> Result<SeccompRule> {
        Ok(SeccompRule::new(vec![SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, option as u64)?])?)
    };
    rules.insert(libc::SYS_prctl, vec![prctl_option(libc::PR_SET_NAME)?, prctl_option(libc::PR_SET_PDEATHSIG)?]);

    // Sockets of the families the network policy allows: AF_UNIX, and the
    // IP families unless the guest has no network.
    let families: &[i32] = if inet { &[libc::AF_UNIX, libc::AF_INET, libc::AF_INET6] } else { &[libc::AF_UNIX] };
    let family_rules = |families: &[i32]| -> Result<Vec<SeccompRule>> {
        families
            .iter()
            .map(|&f| {
                Ok(SeccompRule::new(vec![SeccompCondition::new(
                    0,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::Eq,
                    f as u64,
                )?])?)
            })
            .collect()
    };
    rules.insert(libc::SYS_socket, family_rules(families)?);
    rules.insert(libc::SYS_socketpair, family_rules(&[libc::AF_UNIX])?);
    Ok(rules)
}

/// `clone3` takes its flags in memory, out of a filter's reach: it fails
/// with ENOSYS, and the C library uses `clone`, whose flags the filter sees.
fn no_clone3() -> Result<BpfProgram> {
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [(libc::SYS_clone3, Vec::new())].into_iter().collect();
    let filter =
        SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(libc::ENOSYS as u32), TargetArch::x86_64)?;
    Ok(filter.try_into()?)
}

/// Appends the decimal digits of `n` to `buf` at `*at`.
fn put_number(buf: &mut [u8], at: &mut usize, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        if let Some(slot) = buf.get_mut(*at) {
            *slot = d;
            *at += 1;
        }
    }
}

fn put(buf: &mut [u8], at: &mut usize, text: &[u8]) {
    for &b in text {
        if let Some(slot) = buf.get_mut(*at) {
            *slot = b;
            *at += 1;
        }
    }
}

/// SIGSYS from the filter: name the call and stop, allocating nothing.
extern "C" fn on_forbidden(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SIGSYS's siginfo: after signo, errno, code and padding (16 bytes), the
    // call's address (8 bytes), then the syscall number.
    // SAFETY: the kernel passes a valid siginfo for SIGSYS with SA_SIGINFO.
    let nr = unsafe { info.cast::<u8>().add(24).cast::<i32>().read_unaligned() };
    let mut buf = [0u8; 192];
    let mut at = 0;
    put(&mut buf, &mut at, b"hx-run: seccomp: the monitor made host syscall ");
    put_number(&mut buf, &mut at, nr as u64);
    put(&mut buf, &mut at, b", which its filter forbids; monitor stopped (a bug in hx-run: please report it)\n");
    // SAFETY: write and exit_group are allowed by the filter and async-signal-safe.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), at);
        libc::syscall(libc::SYS_exit_group, 125);
    }
}

/// The front process's filter (`crate::front`): the calls it makes while it
/// waits for the monitor's status and passes signals on, and its end; any
/// other call kills it (and the monitor with it).
pub fn confine_front() -> Result<()> {
    let allowed = [
        libc::SYS_poll,
        libc::SYS_read,
        libc::SYS_kill,
        libc::SYS_wait4,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_getpid,
        libc::SYS_gettid,
        libc::SYS_tgkill,
        libc::SYS_restart_syscall,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    let rules: BTreeMap<i64, Vec<SeccompRule>> = allowed.into_iter().map(|nr| (nr, Vec::new())).collect();
    let filter = SeccompFilter::new(rules, SeccompAction::KillProcess, SeccompAction::Allow, TargetArch::x86_64)?;
    let program: BpfProgram = filter.try_into()?;
    seccompiler::apply_filter(&program).context("installing the front's seccomp filter")
}

/// Installs the filter on every thread of hx-run (and `no_new_privs`);
/// `inet`: the guest may have IP sockets.
pub fn confine_syscalls(inet: bool) -> Result<()> {
    let rules = rules(inet).context("building the seccomp filter")?;
    // The tree also lets the next two filters be installed (`seccomp`); the
    // main filter, installed last, forbids it again.
    let numbers: Vec<i64> = rules.keys().copied().chain([libc::SYS_seccomp]).collect();
    let program: BpfProgram = SeccompFilter::new(rules, SeccompAction::Trap, SeccompAction::Allow, TargetArch::x86_64)
        .and_then(BpfProgram::try_from)
        .context("building the seccomp filter")?;
    // SAFETY: installs a SIGSYS handler that only writes to stderr and exits.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_forbidden as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
    }
    // The number tree first (it makes installing the main filter cheap: see
    // number_tree.rs), then clone3's: installing a filter needs prctl, which
    // the main filter forbids.
    let tree = number_tree::number_filter(&numbers, libc::SECCOMP_RET_TRAP);
    seccompiler::apply_filter_all_threads(&tree).context("installing the seccomp filter")?;
    let clone3 = no_clone3().context("building the seccomp filter")?;
    seccompiler::apply_filter_all_threads(&clone3).context("installing the seccomp filter")?;
    seccompiler::apply_filter_all_threads(&program).context("installing the seccomp filter")
}

/// For the self-test: a host call no request needs (a netlink `socket`), which the filter must stop.
pub fn forbidden_call_for_test() {
    // SAFETY: creating a socket has no effect on memory; the filter stops it.
    unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, 0) };
}
