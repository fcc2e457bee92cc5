//! Files as the program sees them: open file descriptions, the descriptor
//! table, path resolution against the working directory, and the devices the
//! kernel serves itself (`/dev/null`, `/dev/zero`, `/dev/urandom`, ...).
pub mod anon;
pub mod dev;
pub mod eventfd;
pub mod generated;
pub mod path;
pub mod pidfd;
pub mod pipe;
pub mod proc;
pub mod signalfd;
pub mod stat;
pub mod table;
pub mod timerfd;

use crate::errno::{Errno, EBADF};
use crate::host;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

pub const O_ACCMODE: u32 = 3;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 1;
pub const O_RDWR: u32 = 2;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_CLOEXEC: u32 = 0o2000000;
/// Large-file access: Linux sets it on every file opened by name (64 bits).
pub const O_LARGEFILE: u32 = 0o100000;
/// `F_SETFL`'s direct and no-atime flags (with `O_APPEND` and `O_NONBLOCK`,
/// the status flags a description may change).
pub const O_DIRECT: u32 = 0o40000;
pub const O_NOATIME: u32 = 0o1000000;
/// A handle on the name only: most calls on it are EBADF, as Linux.
pub const O_PATH: u32 = 0o10000000;

#[derive(Clone)]
pub enum Kind {
    /// A file the monitor holds open, by handle (standard streams included).
    Host(u64),
    /// A device the kernel answers itself.
    Device(dev::Device),
    /// The two ends of a pipe the kernel keeps.
    PipeRead(pipe::Shared),
    PipeWrite(pipe::Shared),
    /// A file or directory the kernel makes (sysfs CPU lists, `/proc`).
    Generated(alloc::sync::Arc<generated::Generated>),
    /// An epoll instance.
    Epoll(alloc::sync::Arc<crate::syscall::epoll::Epoll>),
    /// An eventfd, timerfd or signalfd.
    Anon(anon::Anon),
}

/// An open file description: shared by descriptors made with dup().
pub struct OpenFile {
    pub kind: Kind,
    /// Access mode and status flags (O_APPEND, O_NONBLOCK).
    status: AtomicU32,
    /// The guest path it was opened by (for *at() calls, fchdir, /proc/self/fd).
    pub path: Vec<u8>,
    /// `F_SETOWN`/`F_SETOWN_EX`: the owner's kind (`F_OWNER_*`) in the high
    /// half, its id in the low one (0: none).
    pub owner: core::sync::atomic::AtomicU64,
    /// `F_SETSIG`: the signal for I/O events (0: SIGIO).
    pub io_signal: AtomicU32,
}

impl OpenFile {
    pub fn new(kind: Kind, status: u32, path: Vec<u8>) -> Self {
        Self {
            kind,
            status: AtomicU32::new(status),
            path,
            owner: core::sync::atomic::AtomicU64::new(0),
            io_signal: AtomicU32::new(0),
        }
    }

    /// Whether this is a `memfd_create` file (named `/memfd:NAME (deleted)`,
    /// as Linux shows it, also when opened again through `/proc/self/fd`).
    pub fn is_memfd(&self) -> bool {
        matches!(self.kind, Kind::Host(_)) && self.path.starts_with(b"/memfd:")
    }

    pub fn status(&self) -> u32 {
        self.status.load(Ordering::Relaxed)
    }

    pub fn set_status(&self, flags: u32) {
        self.status.store(flags, Ordering::Relaxed)
    }

    /// EBADF for an `O_PATH` descriptor, which Linux lets only a few calls
    /// use (`fstat`, `fchdir`, `dup`, `fcntl`, `close`, a `*at` call's directory).
    pub fn usable(&self) -> Result<(), Errno> {
        if self.status() & O_PATH != 0 {
            return Err(EBADF);
        }
        Ok(())
    }

    pub fn readable(&self) -> Result<(), Errno> {
        self.usable()?;
        if self.status() & O_ACCMODE == O_WRONLY {
            return Err(EBADF);
        }
        Ok(())
    }

    pub fn writable(&self) -> Result<(), Errno> {
        self.usable()?;
        if self.status() & O_ACCMODE == O_RDONLY {
            return Err(EBADF);
        }
        Ok(())
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        match &self.kind {
            Kind::Host(h) => host::close(*h),
            Kind::PipeRead(p) => {
                let mut pipe = p.lock();
                pipe.readers -= 1;
                pipe.write_edges += 1;
                pipe::changed(pipe);
            }
            Kind::PipeWrite(p) => {
                let mut pipe = p.lock();
                pipe.writers -= 1;
                pipe.read_edges += 1;
                pipe::changed(pipe);
            }
            Kind::Device(_) | Kind::Generated(_) | Kind::Epoll(_) | Kind::Anon(_) => {}
        }
    }
}

/// Before a `fork`, an `execve`, or a descriptor passed in a message: the
/// pipes and eventfds the kernel keeps become the host's, so that another
/// process (another VM) shares them.
pub fn share_with_host() -> Result<(), crate::errno::Errno> {
    pipe::move_to_host()?;
    eventfd::move_to_host()
}
