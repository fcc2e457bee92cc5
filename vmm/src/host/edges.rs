//! Edges of host files, for the guest's edge-triggered epoll (`EPOLLET`) on
//! sockets, host pipes and terminals. Linux reports such an entry once per
//! wake-up of the file (data arriving, a peer reading, a connection
//! queued), not while it stays ready; a level-triggered stand-in makes an
//! event loop that registers `EPOLLOUT|EPOLLET` on a writable socket (Go's
//! netpoller, nginx) spin. The monitor keeps the files the guest asks edges
//! for in a host epoll instance of its own, edge-triggered, and counts the
//! wake-ups it reports, by direction; a `POLL` entry flagged `POLL_EDGES`
//! gets its count, and a `WATCH` on such an entry waits for that instance
//! to have a new edge rather than for the file to be ready.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::sandbox::Errno;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Files counted at once (each is a registration in the host epoll; only
/// handles the guest holds are counted, and no more than its handle limit).
const MAX_TRACKED: usize = 1 << 16;

struct Tracked {
    /// Held, so the descriptor number stays this file's while registered.
    fd: Arc<OwnedFd>,
    inward: u32,
    outward: u32,
}

#[derive(Default)]
pub struct Edges {
    /// The edge-triggered host epoll and the process that made it (a forked
    /// monitor makes its own: an epoll instance is shared across `fork`,
    /// and the two would take each other's edges).
    epoll: Option<(OwnedFd, u32)>,
    tracked: HashMap<u64, Tracked>,
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

const INWARD: u32 = (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32;
const OUTWARD: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;

fn register(epoll: RawFd, handle: u64, fd: RawFd) -> Result<(), Errno> {
    let events = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLPRI | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
    let mut ev = libc::epoll_event { events, u64: handle };
    // SAFETY: adds a descriptor we hold to our own epoll instance.
    if unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
        return Err(errno());
    }
    Ok(())
}

impl Edges {
    /// This process's epoll instance (made, or remade after a fork with
    /// every tracked file added again).
    fn epoll(&mut self) -> Result<RawFd, Errno> {
        let me = std::process::id();
        if let Some((fd, owner)) = &self.epoll {
            if *owner == me {
                return Ok(fd.as_raw_fd());
            }
        }
        // SAFETY: creates a descriptor we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(errno());
        }
        // SAFETY: just created, ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        self.tracked.retain(|&h, t| register(fd.as_raw_fd(), h, t.fd.as_raw_fd()).is_ok());
        let raw = fd.as_raw_fd();
        self.epoll = Some((fd, me));
        Ok(raw)
    }

    /// Takes the edges the host reported since the last look into the counts.
    /// Once per request, before any count is read: an edge taken in after a
    /// count was read would be lost to that entry (its file may be ready and
    /// its count unchanged, and nothing left pending for a `WATCH`).
    fn drain(&mut self, epoll: RawFd) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        loop {
            // SAFETY: epoll_wait without waiting fills at most 64 entries of our array.
            let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), 64, 0) };
            let got = events.get(..n.max(0) as usize).unwrap_or_default();
            for e in got {
                if let Some(t) = self.tracked.get_mut(&{ e.u64 }) {
                    if e.events & INWARD != 0 {
                        t.inward = t.inward.wrapping_add(1);
                    }
                    if e.events & OUTWARD != 0 {
                        t.outward = t.outward.wrapping_add(1);
                    }
                }
            }
            if got.len() < events.len() {
                return;
            }
        }
    }

    /// The edge counts of `files` (handle, host descriptor, poll bits), in
    /// the directions each asks for, counting from when its edges were
    /// first asked for.
    pub fn counts(&mut self, files: &[(u64, &Arc<OwnedFd>, i16)]) -> Result<Vec<u32>, Errno> {
        let epoll = self.epoll()?;
        for &(handle, fd, _) in files {
            let known = self.tracked.get(&handle).is_some_and(|t| Arc::ptr_eq(&t.fd, fd));
            if !known {
                self.forget(handle);
                if self.tracked.len() >= MAX_TRACKED {
                    return Err(libc::ENOMEM);
                }
                // A file epoll cannot watch (a directory) has no edges: its
                // count stays 0, so it is reported once, as a ready file is.
                let _ = register(epoll, handle, fd.as_raw_fd());
                self.tracked.insert(handle, Tracked { fd: fd.clone(), inward: 0, outward: 0 });
            }
        }
        self.drain(epoll);
        Ok(files.iter().map(|&(handle, _, events)| self.count(handle, events)).collect())
    }

    fn count(&self, handle: u64, events: i16) -> u32 {
        let Some(t) = self.tracked.get(&handle) else { return 0 };
        let events = events as u16 as u32;
        let (wants_in, wants_out) = (events & (INWARD & !OUTWARD) != 0, events & libc::EPOLLOUT as u32 != 0);
        match (wants_in, wants_out) {
            (true, false) => t.inward,
            (false, true) => t.outward,
            _ => t.inward.wrapping_add(t.outward),
        }
    }

    /// What a `WATCH` on edges waits for: readable when an edge is pending.
    pub fn pending_fd(&mut self) -> Result<RawFd, Errno> {
        self.epoll()
    }

    /// `handle` is closed (or replaced): its edges are no longer counted.
    pub fn forget(&mut self, handle: u64) {
        if let Some(t) = self.tracked.remove(&handle) {
            if let Some((epoll, owner)) = &self.epoll {
                if *owner == std::process::id() {
                    // SAFETY: removes a descriptor we still hold from our own epoll instance.
                    unsafe {
                        libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, t.fd.as_raw_fd(), std::ptr::null_mut())
                    };
                }
            }
        }
    }
}
