//! Descriptors on Linux's anonymous inode that the kernel serves itself:
//! eventfd, timerfd, signalfd and pidfd (epoll has its own kind). What they share:
//! reading and writing as one 8-byte or `signalfd_siginfo` record, their
//! readiness for poll and epoll, the events edge-triggered epoll reports,
//! their `/proc/self/fd` name, and blocking a thread on them.
//!
//! They live in this VM's memory: an `execve` does not pass them on (the
//! new image's kernel starts without them, as with epoll instances), and a
//! forked child gets its own copy of each (Linux shares one object between
//! the two processes: an eventfd written in the child is not seen by its
//! parent; a timerfd runs on in both; a signalfd reads the caller's signals
//! in either process, as on Linux).
use super::stat::Stat;
use super::{eventfd, pidfd, signalfd, table, timerfd, Kind, OpenFile, O_CLOEXEC, O_NONBLOCK, O_RDWR};
use crate::errno::{Errno, SysResult, ERESTARTSYS};
use crate::sched::{self, Thread};
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::MutexGuard;

pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;

#[derive(Clone)]
pub enum Anon {
    Event(Arc<eventfd::EventFd>),
    Timer(Arc<timerfd::TimerFd>),
    Signal(Arc<signalfd::SignalFd>),
    Pid(Arc<pidfd::PidFd>),
    /// A netlink route socket (`syscall::netlink`).
    Netlink(Arc<crate::syscall::netlink::Netlink>),
}

impl Anon {
    /// What `readlink("/proc/self/fd/N")` says.
    pub fn name(&self) -> &'static [u8] {
        match self {
            Anon::Event(_) => b"anon_inode:[eventfd]",
            Anon::Timer(_) => b"anon_inode:[timerfd]",
            Anon::Signal(_) => b"anon_inode:[signalfd]",
            Anon::Pid(_) => b"anon_inode:[pidfd]",
            Anon::Netlink(_) => b"socket:[4027]",
        }
    }

    pub fn read(&self, buf: u64, count: u64, nonblock: bool) -> SysResult {
        match self {
            Anon::Event(e) => e.read(buf, count, nonblock),
            Anon::Timer(t) => t.read(buf, count, nonblock),
            Anon::Signal(s) => s.read(buf, count, nonblock),
            Anon::Pid(_) => Err(crate::errno::EINVAL),
            Anon::Netlink(n) => {
                writable(buf, count)?;
                let mut out = Vec::new();
                let (got, _) = n.recv(count as usize, 0, nonblock, &mut out)?;
                crate::mm::copy_to_user(buf, &out)?;
                Ok(got as u64)
            }
        }
    }

    pub fn write(&self, buf: u64, count: u64, nonblock: bool) -> SysResult {
        match self {
            Anon::Event(e) => e.write(buf, count, nonblock),
            // Linux's timerfd and signalfd have no write.
            Anon::Timer(_) | Anon::Signal(_) | Anon::Pid(_) => Err(crate::errno::EINVAL),
            Anon::Netlink(n) => {
                let mut data = alloc::vec![0u8; count.min(1 << 16) as usize];
                crate::mm::copy_from_user(buf, &mut data)?;
                n.send(&data)
            }
        }
    }

    /// poll(2)'s bits for it now (a signalfd: for the calling thread).
    pub fn readiness(&self) -> i16 {
        match self {
            Anon::Event(e) => e.readiness(),
            Anon::Timer(t) => t.readiness(),
            Anon::Signal(s) => s.readiness(),
            Anon::Pid(p) => p.readiness(),
            Anon::Netlink(n) => n.readiness(),
        }
    }

    /// A count of the wake-ups Linux sends to epoll for the events in
    /// `events` (EPOLLIN, EPOLLOUT): edge-triggered epoll reports a ready
    /// entry again only once this count has moved.
    pub fn edges(&self, events: u32) -> u64 {
        let (readable, writable) = match self {
            Anon::Event(e) => e.edges(),
            Anon::Timer(t) => (t.edges(), 0),
            Anon::Signal(_) => (signalfd::edges(), 0),
            Anon::Pid(p) => (p.edges(), 0),
            Anon::Netlink(n) => n.edges(),
        };
        let mut n = 0u64;
        if events & POLLIN as u32 != 0 {
            n = n.wrapping_add(readable);
        }
        if events & POLLOUT as u32 != 0 {
            n = n.wrapping_add(writable);
        }
        n
    }
}

/// `fstat`: Linux's anonymous inode (one for all, mode 0600), as epoll's.
pub fn stat() -> Stat {
    Stat { mode: 0o600, nlink: 1, blksize: 4096, ino: 4000, ..Default::default() }
}

/// Installs a new descriptor for `anon`; `flags` may hold O_NONBLOCK and O_CLOEXEC.
pub fn install(anon: Anon, flags: u64) -> SysResult {
    let status = O_RDWR | (flags as u32 & O_NONBLOCK);
    let name = anon.name().to_vec();
    table::install(Arc::new(OpenFile::new(Kind::Anon(anon), status, name)), flags as u32 & O_CLOEXEC != 0)
}

/// The open file `fd` is, if it is one of these.
pub fn get(fd: u64) -> Result<Anon, Errno> {
    match &table::get(fd)?.kind {
        Kind::Anon(a) => Ok(a.clone()),
        _ => Err(crate::errno::EINVAL),
    }
}

/// Blocks the calling thread until its object wakes it, or until `deadline`
/// (monotonic ns). `guard` holds the object's lock and `waiters` finds its
/// list of blocked threads inside it; the lock is released here. Callers
/// look again after it returns. `ERESTARTSYS` when a signal is to be taken.
pub fn wait<T>(
    mut guard: MutexGuard<'_, T>,
    waiters: fn(&mut T) -> &mut Vec<Arc<Thread>>,
    deadline: Option<u64>,
) -> Result<(), Errno> {
    if crate::signal::pending() {
        return Err(ERESTARTSYS);
    }
    waiters(&mut guard).push(sched::current_arc());
    drop(guard);
    sched::block(deadline);
    Ok(())
}

/// Wakes the threads blocked on an object that changed, and every poller.
/// The calling thread may be in the list (a timed wait that ran out): it
/// runs already, and a wake-up would only cut its next wait short.
pub fn wake(waiters: Vec<Arc<Thread>>) {
    let me = sched::current() as *const Thread;
    for t in waiters.iter().filter(|t| !core::ptr::eq(Arc::as_ptr(t), me)) {
        sched::wake(t);
    }
    crate::syscall::poll::wake_pollers();
}

/// Checks that the program's `len` bytes at `buf` can be written, before a
/// read consumes what it will return.
pub fn writable(buf: u64, len: u64) -> Result<(), Errno> {
    crate::mm::with_space(|s| s.check(buf, len, true))
}
