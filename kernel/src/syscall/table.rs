//! Syscall number → handler. Names and argument formats live in
//! `hx_abi::syscalls`; a number with no entry here is unimplemented: it
//! returns `-ENOSYS` and the monitor names it in a warning.
use super::{epoll, fs, futex, mm, path, poll, process, signal, thread, time, Args};
use crate::errno::SysResult;
use hx_abi::syscalls::MAX_SYSCALLS;

pub type Handler = fn(Args) -> SysResult;

macro_rules! table {
    ($($nr:literal => $handler:path,)*) => {
        /// A `const`, so that a vector entry indexing it with a constant number
        /// compiles to a direct call of the handler.
        pub const TABLE: [Option<Handler>; MAX_SYSCALLS] = {
            let mut t: [Option<Handler>; MAX_SYSCALLS] = [None; MAX_SYSCALLS];
            $( t[$nr] = Some($handler); )*
            t
        };

        /// Which numbers have a handler, as a bitmap the monitor reads from
        /// the kernel image (for `hx-run --syscalls` and docs/syscalls.md).
        #[no_mangle]
        #[used]
        #[link_section = ".rodata.hx_syscalls"]
        static HX_IMPLEMENTED_SYSCALLS: [u64; MAX_SYSCALLS / 64] = {
            let mut bits = [0u64; MAX_SYSCALLS / 64];
            $( bits[$nr / 64] |= 1 << ($nr % 64); )*
            bits
        };
    };
}

table! {
    0 => fs::read,
    1 => fs::write,
    2 => path::open,
    3 => fs::close,
    4 => path::stat,
    5 => fs::fstat,
    6 => path::lstat,
    7 => poll::poll,
    8 => fs::lseek,
    9 => mm::mmap,
    10 => mm::mprotect,
    11 => mm::munmap,
    12 => mm::brk,
    13 => signal::rt_sigaction,
    14 => signal::rt_sigprocmask,
    15 => signal::rt_sigreturn,
    16 => fs::ioctl,
    17 => fs::pread64,
    18 => fs::pwrite64,
    19 => fs::readv,
    20 => fs::writev,
    21 => path::access,
    22 => fs::pipe,
    23 => poll::select,
    24 => process::sched_yield,
    25 => mm::mremap,
    28 => mm::madvise,
    32 => fs::dup,
    33 => fs::dup2,
    34 => signal::pause,
    35 => time::nanosleep,
    36 => signal::getitimer,
    37 => signal::alarm,
    38 => signal::setitimer,
    39 => process::getpid,
    56 => thread::clone,
    60 => thread::exit,
    62 => signal::kill,
    63 => process::uname,
    72 => fs::fcntl,
    74 => fs::fsync,
    75 => fs::fdatasync,
    76 => path::truncate,
    77 => fs::ftruncate,
    79 => path::getcwd,
    80 => path::chdir,
    81 => path::fchdir,
    82 => path::rename,
    83 => path::mkdir,
    84 => path::rmdir,
    85 => path::creat,
    86 => path::link,
    87 => path::unlink,
    88 => path::symlink,
    89 => path::readlink,
    90 => path::chmod,
    91 => fs::fchmod,
    95 => path::umask,
    96 => time::gettimeofday,
    97 => process::getrlimit,
    98 => process::getrusage,
    99 => process::sysinfo,
    100 => process::times,
    102 => process::getuid,
    104 => process::getgid,
    107 => process::geteuid,
    108 => process::getegid,
    109 => process::setpgid,
    110 => process::getppid,
    111 => process::getpgrp,
    115 => process::getgroups,
    121 => process::getpgid,
    124 => process::getsid,
    127 => signal::rt_sigpending,
    128 => signal::rt_sigtimedwait,
    129 => signal::rt_sigqueueinfo,
    130 => signal::rt_sigsuspend,
    131 => signal::sigaltstack,
    137 => path::statfs,
    138 => path::fstatfs,
    158 => process::arch_prctl,
    160 => process::setrlimit,
    186 => thread::gettid,
    200 => signal::tkill,
    191 => fs::xattr_unsupported,
    192 => fs::xattr_unsupported,
    193 => fs::xattr_unsupported,
    194 => fs::xattr_unsupported,
    195 => fs::xattr_unsupported,
    196 => fs::xattr_unsupported,
    201 => time::time,
    202 => futex::futex,
    203 => process::sched_setaffinity,
    204 => process::sched_getaffinity,
    217 => fs::getdents64,
    218 => thread::set_tid_address,
    213 => epoll::epoll_create,
    221 => fs::fadvise64,
    222 => signal::timer_create,
    223 => signal::timer_settime,
    224 => signal::timer_gettime,
    225 => signal::timer_getoverrun,
    226 => signal::timer_delete,
    228 => time::clock_gettime,
    229 => time::clock_getres,
    230 => time::clock_nanosleep,
    231 => thread::exit_group,
    232 => epoll::epoll_wait,
    233 => epoll::epoll_ctl,
    234 => signal::tgkill,
    257 => path::openat,
    258 => path::mkdirat,
    262 => path::newfstatat,
    263 => path::unlinkat,
    264 => path::renameat,
    265 => path::linkat,
    266 => path::symlinkat,
    267 => path::readlinkat,
    268 => path::fchmodat,
    270 => poll::pselect6,
    271 => poll::ppoll,
    269 => path::faccessat,
    273 => thread::set_robust_list,
    274 => thread::get_robust_list,
    280 => path::utimensat,
    281 => epoll::epoll_pwait,
    291 => epoll::epoll_create1,
    292 => fs::dup3,
    293 => fs::pipe2,
    295 => fs::preadv,
    297 => signal::rt_tgsigqueueinfo,
    296 => fs::pwritev,
    302 => process::prlimit64,
    316 => path::renameat2,
    309 => process::getcpu,
    318 => process::getrandom,
    324 => thread::membarrier,
    332 => path::statx,
    334 => thread::rseq,
    435 => thread::clone3,
    439 => path::faccessat2,
    441 => epoll::epoll_pwait2,
}

/// The handler for syscall `nr`, if hx implements it.
pub fn handler(nr: u64) -> Option<Handler> {
    TABLE.get(nr as usize).copied().flatten()
}
