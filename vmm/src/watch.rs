//! The watcher: lets a guest thread wait for a host file (a socket, a pipe,
//! a terminal) without holding its vCPU. `WATCH` adds the files to an epoll
//! instance (one-shot); when one is ready the watcher thread bumps
//! `Shared::host_events` and interrupts a vCPU, whose kernel wakes the
//! threads waiting for host files, and they look again. Futex waits shared
//! with other guest processes end the same way (`crate::futex`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::memory::GuestRam;
use crate::sandbox::Errno;
use crate::smp::Smp;
use anyhow::{Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::Ordering;

/// The epoll key of the descriptor that stops the watcher.
const STOP_KEY: u64 = u64::MAX;
/// The epoll key of the eventfd the wait helpers write (`crate::waits`).
const FUTEX_KEY: u64 = u64::MAX - 1;

pub struct Watcher {
    epoll: OwnedFd,
    /// An eventfd: written when the VM ends.
    stop: OwnedFd,
    /// Waits in the host on the guest's behalf (`crate::waits`): a helper
    /// whose wait ended writes its eventfd, and the guest is woken as for a file.
    pub waits: std::sync::Arc<crate::waits::Waits>,
    /// Waits on futexes shared with other guest processes.
    pub futexes: crate::futex::Futexes,
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

impl Watcher {
    pub fn new() -> Result<Self> {
        // SAFETY: creates new descriptors we own.
        let (epoll, stop) = unsafe { (libc::epoll_create1(libc::EPOLL_CLOEXEC), libc::eventfd(0, libc::EFD_CLOEXEC)) };
        anyhow::ensure!(epoll >= 0 && stop >= 0, "creating the host-file watcher: {}", std::io::Error::last_os_error());
        // SAFETY: both were just created and are ours.
        let (epoll, stop) = unsafe { (OwnedFd::from_raw_fd(epoll), OwnedFd::from_raw_fd(stop)) };
        // SAFETY: creates a new descriptor we own.
        let done = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        anyhow::ensure!(done >= 0, "creating the host-file watcher: {}", std::io::Error::last_os_error());
        // SAFETY: just created and ours.
        let waits = std::sync::Arc::new(crate::waits::Waits::new(unsafe { OwnedFd::from_raw_fd(done) }));
        let futexes = crate::futex::Futexes::new(waits.clone());
        for (fd, key) in [(stop.as_raw_fd(), STOP_KEY), (waits.done_fd(), FUTEX_KEY)] {
            let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: key };
            // SAFETY: adds our eventfd to our epoll instance.
            let r = unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
            anyhow::ensure!(r == 0, "creating the host-file watcher: {}", std::io::Error::last_os_error());
        }
        Ok(Self { epoll, stop, waits, futexes })
    }

    /// Watches `fd` for `events` (poll bits) once. `Ok(true)`: it is ready
    /// now and always (a regular file, which epoll refuses).
    pub fn watch(&self, fd: RawFd, events: i16) -> Result<bool, Errno> {
        let wanted =
            (events as u16 as u32) & (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLPRI | libc::EPOLLRDHUP) as u32;
        let mut ev = libc::epoll_event { events: wanted | libc::EPOLLONESHOT as u32, u64: fd as u64 };
        // SAFETY: re-arms or adds a descriptor we hold in our epoll instance.
        let r = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) };
        if r == 0 {
            return Ok(false);
        }
        // SAFETY: as above.
        let r = unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        match r {
            0 => Ok(false),
            // A regular file is always ready: the guest looks again at once.
            _ if errno() == libc::EPERM => Ok(true),
            _ => Err(errno()),
        }
    }

    /// The VM is ending: the watcher thread returns.
    pub fn stop(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to our eventfd.
        unsafe { libc::write(self.stop.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// The watcher thread: until `stop`, each time a watched file is ready,
    /// bumps `host_events` at `events_at` and interrupts a vCPU.
    pub fn run(&self, mem: &GuestRam, smp: &Smp, events_at: u64) -> Result<()> {
        let counter = mem.atomic_u64(events_at).context("host_events")?;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
        loop {
            // SAFETY: epoll_wait fills at most 64 entries of our array.
            let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), 64, -1) };
            if n < 0 {
                if errno() == libc::EINTR {
                    continue;
                }
                anyhow::bail!("the host-file watcher: {}", std::io::Error::last_os_error());
            }
            let ready = events.get(..n as usize).unwrap_or_default();
            if ready.iter().any(|e| e.u64 == STOP_KEY) || smp.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            if ready.iter().any(|e| e.u64 == FUTEX_KEY) {
                let mut count = 0u64;
                // SAFETY: reads (resets) our non-blocking eventfd into a u64.
                unsafe { libc::read(self.waits.done_fd(), (&mut count as *mut u64).cast(), 8) };
            }
            if !ready.is_empty() {
                counter.fetch_add(1, Ordering::SeqCst);
                smp.wake_any();
            }
        }
    }
}
