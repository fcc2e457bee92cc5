//! eventfd: a 64-bit counter as a descriptor. A write adds to it, a read
//! takes it all (or one, with EFD_SEMAPHORE) and blocks while it is 0; a
//! write that would take it past 0xffff_ffff_ffff_fffe blocks until a read
//! makes room. Only the kernel's own signal (an AIO completion) may take it
//! to 0xffff_ffff_ffff_ffff, the overflow Linux reports as POLLERR.
use super::anon::{self, Anon, POLLERR, POLLIN, POLLOUT};
use super::{O_CLOEXEC, O_NONBLOCK};
use crate::errno::{Errno, SysResult, EAGAIN, EINVAL, ERESTARTNOINTR};
use crate::mm;
use crate::sched::Thread;
use crate::syscall::Args;
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

/// `<sys/eventfd.h>`'s EFD_SEMAPHORE (Linux has no UAPI header for the eventfd
/// flags; EFD_CLOEXEC and EFD_NONBLOCK are O_CLOEXEC and O_NONBLOCK).
const EFD_SEMAPHORE: u64 = 1;
/// The largest value the counter holds.
const MAX: u64 = u64::MAX - 1;

pub struct EventFd {
    semaphore: bool,
    state: Mutex<State>,
}

struct State {
    count: u64,
    /// Writes and reads so far: the wake-ups Linux sends (EPOLLIN, EPOLLOUT).
    writes: u64,
    reads: u64,
    waiters: Vec<Arc<Thread>>,
    /// Moved to the host (`move_to_host`): its handle there. A thread still
    /// blocked on it restarts its call, which then finds the host eventfd.
    moved: Option<u64>,
}

fn waiters(s: &mut State) -> &mut Vec<Arc<Thread>> {
    &mut s.waiters
}

impl EventFd {
    /// The counter now (`/proc/<pid>/fdinfo`'s `eventfd-count`).
    pub fn count(&self) -> u64 {
        self.state.lock().count
    }

    pub fn is_semaphore(&self) -> bool {
        self.semaphore
    }

    pub fn read(&self, buf: u64, count: u64, nonblock: bool) -> SysResult {
        if count < 8 {
            return Err(EINVAL);
        }
        anon::writable(buf, 8)?;
        let mut s = self.state.lock();
        while s.count == 0 {
            if s.moved.is_some() {
                return Err(ERESTARTNOINTR);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            anon::wait(s, waiters, None)?;
            s = self.state.lock();
        }
        if s.moved.is_some() {
            return Err(ERESTARTNOINTR);
        }
        let value = if self.semaphore { 1 } else { s.count };
        s.count -= value;
        s.reads += 1;
        let woken = core::mem::take(&mut s.waiters);
        drop(s);
        anon::wake(woken);
        mm::copy_to_user(buf, &value.to_ne_bytes())?;
        Ok(8)
    }

    pub fn write(&self, buf: u64, count: u64, nonblock: bool) -> SysResult {
        if count < 8 {
            return Err(EINVAL);
        }
        let value: u64 = mm::read_user(buf)?;
        if value == u64::MAX {
            return Err(EINVAL);
        }
        let mut s = self.state.lock();
        // Room for `value` below MAX (none at all once overflowed to u64::MAX).
        while u64::MAX - s.count <= value || s.moved.is_some() {
            if s.moved.is_some() {
                return Err(ERESTARTNOINTR);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            anon::wait(s, waiters, None)?;
            s = self.state.lock();
        }
        s.count += value;
        s.writes += 1;
        let woken = core::mem::take(&mut s.waiters);
        drop(s);
        anon::wake(woken);
        Ok(8)
    }

    /// Adds `n` from inside the kernel (an AIO completion), never blocking:
    /// as Linux's `eventfd_signal`, the count stops at u64::MAX, which a
    /// write never reaches: the overflow, polled as POLLERR and read as such.
    pub fn signal(&self, n: u64) {
        let mut s = self.state.lock();
        if let Some(h) = s.moved {
            // Shared with another process now: the host's counter takes it.
            drop(s);
            let _ = crate::host::path_request(hx_abi::hypercall::op::WRITE, &[h], &[&n.to_ne_bytes()], &mut []).0;
            return;
        }
        s.count = s.count.saturating_add(n);
        s.writes += 1;
        let woken = core::mem::take(&mut s.waiters);
        drop(s);
        anon::wake(woken);
    }

    pub fn readiness(&self) -> i16 {
        let s = self.state.lock();
        let mut ev = 0;
        if s.count > 0 {
            ev |= POLLIN;
        }
        if s.count < MAX {
            ev |= POLLOUT;
        }
        if s.count == u64::MAX {
            ev |= POLLERR;
        }
        ev
    }

    /// (writes, reads): what makes it readable, what makes it writable.
    pub fn edges(&self) -> (u64, u64) {
        let s = self.state.lock();
        (s.writes, s.reads)
    }
}

/// `eventfd2(initval, flags)`.
pub fn eventfd2([initval, flags, ..]: Args) -> SysResult {
    if flags & !(EFD_SEMAPHORE | (O_CLOEXEC | O_NONBLOCK) as u64) != 0 {
        return Err(EINVAL);
    }
    let state = State { count: initval as u32 as u64, writes: 0, reads: 0, waiters: Vec::new(), moved: None };
    let e = EventFd { semaphore: flags & EFD_SEMAPHORE != 0, state: Mutex::new(state) };
    anon::install(Anon::Event(Arc::new(e)), flags)
}

/// Before a `fork` or an `execve`, or when one is passed in a message: every
/// eventfd the kernel keeps becomes a host eventfd with the same count, so
/// that another process (another VM) shares it, as the pipes do
/// (`pipe::move_to_host`). Descriptors sharing an open file description
/// still do; epoll entries follow them.
pub fn move_to_host() -> Result<(), Errno> {
    use super::{table, Kind, OpenFile};
    let mut moved: Vec<(*const OpenFile, Arc<OpenFile>)> = Vec::new();
    for (fd, entry) in table::snapshot() {
        let Kind::Anon(Anon::Event(e)) = &entry.file.kind else { continue };
        let old = Arc::as_ptr(&entry.file);
        let file = match moved.iter().find(|(o, _)| *o == old) {
            Some((_, f)) => f.clone(),
            None => {
                let status = entry.file.status();
                let flags = u64::from(e.semaphore) | u64::from(status & O_NONBLOCK);
                let h = {
                    let mut s = e.state.lock();
                    let h = crate::host::simple(hx_abi::hypercall::op::EVENTFD, &[s.count, flags])?;
                    s.moved = Some(h);
                    s.count = 0;
                    h
                };
                // Threads blocked on it start over on the host eventfd.
                let woken = core::mem::take(&mut e.state.lock().waiters);
                anon::wake(woken);
                let f = Arc::new(OpenFile::new(Kind::Host(h), status, b"anon_inode:[eventfd]".to_vec()));
                moved.push((old, f.clone()));
                f
            }
        };
        table::swap_file(fd, file);
    }
    let replaced: Vec<(usize, usize)> =
        moved.iter().map(|(old, new)| (*old as usize, Arc::as_ptr(new) as usize)).collect();
    crate::syscall::epoll::files_replaced(&replaced);
    Ok(())
}

/// `eventfd(initval)`: eventfd2 without flags.
pub fn eventfd([initval, ..]: Args) -> SysResult {
    eventfd2([initval, 0, 0, 0, 0, 0])
}
