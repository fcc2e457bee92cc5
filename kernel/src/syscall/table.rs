//! Syscall number → handler. Names and argument formats live in
//! `hx_abi::syscalls`; a number with no entry here is unimplemented: it
//! returns `-ENOSYS` and the monitor names it in a warning.
use super::{fs, mm, process, time, Args};
use crate::errno::SysResult;
use hx_abi::syscalls::MAX_SYSCALLS;

pub type Handler = fn(Args) -> SysResult;

macro_rules! table {
    ($($nr:literal => $handler:path,)*) => {
        static TABLE: [Option<Handler>; MAX_SYSCALLS] = {
            let mut t: [Option<Handler>; MAX_SYSCALLS] = [None; MAX_SYSCALLS];
            $( t[$nr] = Some($handler); )*
            t
        };
    };
}

table! {
    0 => fs::read,
    1 => fs::write,
    3 => fs::close,
    5 => fs::fstat,
    9 => mm::mmap,
    10 => mm::mprotect,
    11 => mm::munmap,
    12 => mm::brk,
    13 => process::rt_sigaction,
    14 => process::rt_sigprocmask,
    16 => fs::ioctl,
    19 => fs::readv,
    20 => fs::writev,
    24 => process::sched_yield,
    28 => mm::madvise,
    39 => process::getpid,
    60 => process::exit,
    63 => process::uname,
    89 => fs::readlink,
    96 => time::gettimeofday,
    102 => process::getuid,
    104 => process::getgid,
    107 => process::geteuid,
    108 => process::getegid,
    110 => process::getppid,
    158 => process::arch_prctl,
    186 => process::gettid,
    201 => time::time,
    218 => process::set_tid_address,
    228 => time::clock_gettime,
    229 => time::clock_getres,
    231 => process::exit_group,
    262 => fs::newfstatat,
    267 => fs::readlinkat,
    273 => process::set_robust_list,
    302 => process::prlimit64,
    318 => process::getrandom,
    334 => process::rseq,
}

/// The handler for syscall `nr`, if hx implements it.
pub fn handler(nr: u64) -> Option<Handler> {
    TABLE.get(nr as usize).copied().flatten()
}
