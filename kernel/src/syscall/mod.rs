//! The Linux syscall ABI. `table.rs` maps numbers to handlers; the other files
//! hold the handlers, grouped by subsystem.
pub mod aio;
pub mod cred;
pub mod dispatch;
pub mod dnotify;
pub mod epoll;
pub mod exec;
pub mod fasync;
pub mod fork;
pub mod fs;
pub mod futex;
mod futex_shared;
pub mod inotify;
pub mod lease;
pub mod madvise;
pub mod mlock;
pub mod mm;
pub mod mqueue;
pub mod net;
pub mod netlink;
pub mod numa;
pub mod path;
pub mod poll;
pub mod process;
pub mod procmem;
pub mod seccomp;
pub mod signal;
pub mod splice;
pub mod sysv;
pub mod table;
pub mod thread;
pub mod time;
pub mod vfork;
pub mod xattr;

/// The six raw arguments of a syscall.
pub type Args = [u64; 6];
