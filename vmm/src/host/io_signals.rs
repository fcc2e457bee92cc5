//! Signals the host sends the holder of a file: lease breaks
//! (`F_SETLEASE`/`F_GETLEASE`: the host's lease, taken on the monitor's
//! descriptor of the guest's file, so that every process that opens the
//! file — another guest process in its own VM, or a host program — breaks it
//! as on Linux, the host kernel making the opener wait) and `O_ASYNC`'s I/O
//! signals (sockets, host pipes, terminals).
//!
//! The host sends them to the monitor. Its descriptors are set to raise
//! [`signal()`], which every monitor thread blocks from the start (a stray
//! one is queued, never fatal), and which a signalfd reads; the watcher
//! reports that descriptor ready as a host event, and the guest kernel asks
//! which of its handles had one (`LEASE_BREAKS`: handle, `si_code`,
//! `si_band`) and signals the program as Linux does (`SIGIO`, or
//! `F_SETSIG`'s signal with `si_fd`, to the descriptor's owner).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::files::Files;
use super::guest::Segs;
use crate::sandbox::Errno;
use hx_abi::hypercall::{LEASE_BREAKS, LEASE_GET, LEASE_SET};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The host signal lease breaks raise (a real-time one, so each break
/// queues its `si_fd`).
pub fn signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

/// Whether hx-run's caller had [`signal()`] blocked (the program inherits
/// that, not the monitor's own blocking).
static BLOCKED_BEFORE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Whether every thread of this process blocks [`signal()`] (set up before
/// any thread started): only then may a host file raise it — unblocked in
/// some thread, its default action would end the process.
static BLOCKED_EVERYWHERE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Blocks [`signal()`] in the calling thread and those it starts later: call
/// before the monitor starts any thread.
pub fn block_signal() {
    // SAFETY: changes the calling thread's own mask with sets we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal());
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        BLOCKED_BEFORE.store(libc::sigismember(&old, signal()) == 1, std::sync::atomic::Ordering::SeqCst);
    }
    BLOCKED_EVERYWHERE.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether [`signal()`] is blocked for the monitor's own use only.
pub fn blocked_by_the_monitor() -> bool {
    !BLOCKED_BEFORE.load(std::sync::atomic::Ordering::SeqCst)
}

/// What a host I/O signal is about.
#[derive(PartialEq)]
enum Target {
    /// The host descriptor `si_fd` names (a lease break, `O_ASYNC`).
    Fd(i32),
    /// The guest's handle, from the value a notification was asked with (`mq_notify`).
    Handle(u64),
}

/// Linux's `F_SETSIG` (not in the libc crate).
const F_SETSIG: libc::c_int = 10;

/// The monitor's signalfd for [`signal()`], made at the first lease.
#[derive(Default)]
pub struct Leases {
    breaks: Option<OwnedFd>,
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `op::LEASE`: `args[0]` = `LEASE_SET` (handle `args[1]`, Linux's lease
/// type `args[2]`), `LEASE_GET` (handle `args[1]`), or `LEASE_BREAKS` (the
/// signals since the last call, as pairs of u64s into `segs[0]`: handle,
/// then `si_code | si_band << 32`; `ret` = how many pairs).
pub fn serve(
    files: &mut Files,
    watch: Option<&crate::watch::Watcher>,
    args: &[u64; 8],
    segs: &Segs,
) -> Result<i64, Errno> {
    match args[0] {
        LEASE_SET => {
            let kind = match args[2] {
                0 => libc::F_RDLCK,
                1 => libc::F_WRLCK,
                2 => libc::F_UNLCK,
                _ => return Err(libc::EINVAL),
            };
            // Only on a file of a writable mount: a lease makes other
            // openers wait, and a read-only mount's files (or hx-run's own
            // streams) are the host's to use without waiting for the guest.
            let fd = match files.handles.get(args[1])? {
                super::handles::Handle::Host { fd, metadata: true } => fd.as_raw_fd(),
                super::handles::Handle::Host { .. } => return Err(libc::EACCES),
                _ => return Err(libc::EINVAL),
            };
            if kind != libc::F_UNLCK {
                files.leases.listen(watch)?;
                // SAFETY: the break signal of a descriptor we hold.
                if unsafe { libc::fcntl(fd, F_SETSIG, signal()) } != 0 {
                    return Err(errno());
                }
            }
            // SAFETY: a lease on a descriptor we hold; the host checks the rest.
            match unsafe { libc::fcntl(fd, libc::F_SETLEASE, kind) } {
                0 => Ok(0),
                _ => Err(errno()),
            }
        }
        LEASE_GET => {
            let fd = files.handles.fd(args[1])?;
            // SAFETY: reads the lease of a descriptor we hold.
            match unsafe { libc::fcntl(fd, libc::F_GETLEASE) } {
                r if r >= 0 => Ok(i64::from(r)),
                _ => Err(errno()),
            }
        }
        LEASE_BREAKS => {
            let room = segs.get(0).map_or(0, |s| usize::try_from(s.len / 16).unwrap_or(0));
            let signals = files.leases.take_signals(watch);
            let records: Vec<(u64, u64)> = signals
                .into_iter()
                .flat_map(|(target, what)| match target {
                    Target::Fd(fd) => files.handles.with_fd(fd).into_iter().map(move |h| (h, what)).collect(),
                    Target::Handle(h) => vec![(h, what)],
                })
                .take(room)
                .collect();
            let bytes: Vec<u8> =
                records.iter().flat_map(|(h, w)| h.to_ne_bytes().into_iter().chain(w.to_ne_bytes())).collect();
            segs.write(0, &bytes)?;
            Ok(records.len() as i64)
        }
        _ => Err(libc::EINVAL),
    }
}

/// `fcntl(F_SETFL)` with `O_ASYNC` on handle `handle` (`flags`: the status
/// flags): the host signals the monitor of its I/O, as of a lease break.
pub fn set_async(
    files: &mut Files,
    watch: Option<&crate::watch::Watcher>,
    handle: u64,
    flags: u64,
) -> Result<i64, Errno> {
    let fd = files.handles.fd(handle)?;
    files.leases.listen(watch)?;
    // SAFETY: the signal owner, signal and status flags of a descriptor we
    // hold; the owner is this monitor, the signal one it reads from a signalfd.
    unsafe {
        if libc::fcntl(fd, libc::F_SETOWN, libc::getpid()) != 0
            || libc::fcntl(fd, F_SETSIG, signal()) != 0
            || libc::fcntl(fd, libc::F_SETFL, super::flags::status(flags) | libc::O_ASYNC) != 0
        {
            return Err(errno());
        }
    }
    Ok(0)
}

impl Leases {
    /// Makes the signalfd (once) and asks the watcher to report it readable.
    /// Refused (`EINVAL`) in a process whose threads do not all block the
    /// signal (a host that serves requests outside hx-run, as a test does).
    pub fn listen(&mut self, watch: Option<&crate::watch::Watcher>) -> Result<(), Errno> {
        if !BLOCKED_EVERYWHERE.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(libc::EINVAL);
        }
        if self.breaks.is_none() {
            // SAFETY: a set we own, for a new descriptor.
            let fd = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, signal());
                libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
            };
            if fd < 0 {
                return Err(errno());
            }
            // SAFETY: just made, ours.
            self.breaks = Some(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        self.arm(watch);
        Ok(())
    }

    fn arm(&self, watch: Option<&crate::watch::Watcher>) {
        if let (Some(fd), Some(w)) = (&self.breaks, watch) {
            let _ = w.watch(fd.as_raw_fd(), libc::POLLIN);
        }
    }

    /// The signals since the last look: the host descriptor (a message
    /// queue's notification: the guest's handle), and its `si_code |
    /// si_band << 32` (the same twice only once).
    fn take_signals(&self, watch: Option<&crate::watch::Watcher>) -> Vec<(Target, u64)> {
        let Some(fd) = &self.breaks else { return Vec::new() };
        let mut out = Vec::new();
        loop {
            // SAFETY: a zeroed plain struct, filled by read from our signalfd.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reads one record into the struct we own.
            let n = unsafe { libc::read(fd.as_raw_fd(), (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
            if n != size as isize {
                break;
            }
            if info.ssi_code == libc::SI_MESGQ {
                // A message queue's notification: its handle is the value; the
                // band is the sender, as the guest names it (0: outside the guest).
                // The handle word carries the sender's real uid above the handle.
                let entry = crate::process::table::by_host_pid(info.ssi_pid as i32);
                let sender = entry.map_or(0, |e| e.pid.load(std::sync::atomic::Ordering::SeqCst) as u32);
                let uid =
                    entry.map_or(info.ssi_uid, |e| e.signal_uids.load(std::sync::atomic::Ordering::SeqCst) as u32);
                let what = u64::from(libc::SI_MESGQ as u32) | u64::from(sender) << 32;
                out.push((Target::Handle(info.ssi_ptr & 0xffff_ffff | u64::from(uid) << 32), what));
                continue;
            }
            let what = u64::from(info.ssi_code as u32) | u64::from(info.ssi_band as u32) << 32;
            if !out.contains(&(Target::Fd(info.ssi_fd), what)) {
                out.push((Target::Fd(info.ssi_fd), what));
            }
        }
        self.arm(watch);
        out
    }
}
