//! Linux errno values. Handlers return `Err(Errno)`; the syscall layer turns it
#![allow(dead_code)] // errno values are filled in as syscalls arrive
//! into the raw `-errno` Linux returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i64);

pub const EPERM: Errno = Errno(1);
pub const ENOENT: Errno = Errno(2);
pub const E2BIG: Errno = Errno(7);
pub const ECHILD: Errno = Errno(10);
pub const ESRCH: Errno = Errno(3);
pub const EINTR: Errno = Errno(4);
pub const EIO: Errno = Errno(5);
pub const EBADF: Errno = Errno(9);
pub const EAGAIN: Errno = Errno(11);
pub const ENOMEM: Errno = Errno(12);
pub const EACCES: Errno = Errno(13);
pub const EFAULT: Errno = Errno(14);
pub const EEXIST: Errno = Errno(17);
pub const EBUSY: Errno = Errno(16);
pub const ENODEV: Errno = Errno(19);
pub const ENOTDIR: Errno = Errno(20);
pub const EISDIR: Errno = Errno(21);
pub const EINVAL: Errno = Errno(22);
pub const EMFILE: Errno = Errno(24);
pub const ENOTTY: Errno = Errno(25);
pub const ESPIPE: Errno = Errno(29);
pub const EFBIG: Errno = Errno(27);
pub const ENOSPC: Errno = Errno(28);
pub const EROFS: Errno = Errno(30);
pub const EPIPE: Errno = Errno(32);
pub const ERANGE: Errno = Errno(34);
pub const ENAMETOOLONG: Errno = Errno(36);
pub const ENOSYS: Errno = Errno(38);
pub const ELOOP: Errno = Errno(40);
pub const EXDEV: Errno = Errno(18);

pub type SysResult = Result<u64, Errno>;
pub const ENOTSOCK: Errno = Errno(88);
pub const EOPNOTSUPP: Errno = Errno(95);
pub const ENXIO: Errno = Errno(6);
pub const EMSGSIZE: Errno = Errno(90);
pub const ETIMEDOUT: Errno = Errno(110);

// Never seen by the program: a syscall a signal interrupted, restarted or
// turned into EINTR when the signal is delivered (Linux's values).
pub const ERESTARTSYS: Errno = Errno(512);
pub const ERESTARTNOINTR: Errno = Errno(513);
pub const ERESTARTNOHAND: Errno = Errno(514);
pub const ERESTART_RESTARTBLOCK: Errno = Errno(516);
