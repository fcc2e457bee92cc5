//! signalfd: the signals of a mask, read as `struct signalfd_siginfo`
//! records. A read takes pending signals of the mask from the calling
//! thread's queue, then the process's (as `sigwaitinfo` does), and blocks
//! until one comes; the program blocks those signals, or they are delivered
//! as usual first. poll and epoll see it readable when the polling thread
//! has one of them pending.
use super::anon::{self, Anon, POLLIN};
use crate::errno::{SysResult, EAGAIN, EFAULT, EINVAL, ERESTARTSYS};
use crate::mm;
use crate::sched::{self, Thread};
use crate::signal::{self, Queued, UNBLOCKABLE};
use crate::syscall::Args;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use hx_abi::uapi::{self, signalfd_siginfo, SFD_CLOEXEC, SFD_NONBLOCK};
use spin::Mutex;

const RECORD: u64 = core::mem::size_of::<signalfd_siginfo>() as u64;
const _: () = assert!(RECORD == 128);

pub struct SignalFd {
    mask: AtomicU64,
}

/// Live signalfds: while there are none a signal costs nothing more.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Threads blocked reading a signalfd (any: a signal wakes them all).
static WAITERS: Mutex<Vec<Arc<Thread>>> = Mutex::new(Vec::new());
/// Signals queued (and masks changed) so far: Linux wakes every signalfd
/// of the process then, which is what edge-triggered epoll counts.
static ARRIVALS: AtomicU64 = AtomicU64::new(0);

impl Drop for SignalFd {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A signal was queued for the process or one of its threads: readers and
/// pollers of signalfds look again (it may be blocked, so nothing else
/// wakes them).
pub fn signal_arrived() {
    if LIVE.load(Ordering::Relaxed) == 0 {
        return;
    }
    ARRIVALS.fetch_add(1, Ordering::Relaxed);
    anon::wake(core::mem::take(&mut *WAITERS.lock()));
}

pub fn edges() -> u64 {
    ARRIVALS.load(Ordering::Relaxed)
}

/// The signals of `mask` the calling thread could take now (its own and the process's).
fn pending_in(mask: u64) -> u64 {
    (sched::current().signals.lock().pending.set | signal::process_pending()) & mask
}

impl SignalFd {
    /// The signals it reads (also `/proc/<pid>/fdinfo`'s `sigmask`).
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::Relaxed)
    }

    pub fn readiness(&self) -> i16 {
        if pending_in(self.mask()) != 0 {
            POLLIN
        } else {
            0
        }
    }

    pub fn read(&self, buf: u64, count: u64, nonblock: bool) -> SysResult {
        if count < RECORD {
            return Err(EINVAL);
        }
        let room = count / RECORD;
        let mut taken = 0u64;
        loop {
            while taken < room {
                let Some(q) = signal::dequeue_from(self.mask()) else { break };
                if mm::write_user(buf + taken * RECORD, &record(&q)).is_err() {
                    // The signal is lost, as on Linux.
                    return if taken > 0 { Ok(taken * RECORD) } else { Err(EFAULT) };
                }
                taken += 1;
            }
            if taken > 0 {
                return Ok(taken * RECORD);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if signal::pending() {
                return Err(ERESTARTSYS);
            }
            WAITERS.lock().push(sched::current_arc());
            // Registered first: a signal queued from here on wakes this thread.
            if pending_in(self.mask()) == 0 {
                sched::block(None);
            }
        }
    }
}

/// Linux's `siginfo` layouts (which union member a signal's code means).
enum Layout {
    Kill,
    Timer,
    Poll,
    Fault,
    FaultMce,
    Child,
    Rt,
    Sys,
}

fn layout(sig: u32, code: i32) -> Layout {
    use signal::{SIGBUS, SIGCHLD, SIGFPE, SIGILL, SIGSEGV, SIGTRAP};
    const SIGPOLL: u32 = 29;
    const SIGSYS: u32 = 31;
    if code > signal::SI_USER && code < signal::SI_KERNEL {
        // The signal's own codes, each up to its last one.
        let own = match sig {
            SIGILL => Some((uapi::NSIGILL, Layout::Fault)),
            SIGFPE => Some((uapi::NSIGFPE, Layout::Fault)),
            SIGSEGV => Some((uapi::NSIGSEGV, Layout::Fault)),
            SIGBUS if code == uapi::BUS_MCEERR_AR as i32 || code == uapi::BUS_MCEERR_AO as i32 => {
                Some((uapi::NSIGBUS, Layout::FaultMce))
            }
            SIGBUS => Some((uapi::NSIGBUS, Layout::Fault)),
            SIGTRAP => Some((uapi::NSIGTRAP, Layout::Fault)),
            SIGCHLD => Some((uapi::NSIGCHLD, Layout::Child)),
            SIGPOLL => Some((uapi::NSIGPOLL, Layout::Poll)),
            SIGSYS => Some((uapi::NSIGSYS, Layout::Sys)),
            _ => None,
        };
        match own {
            Some((last, l)) if code as u32 <= last => l,
            _ if code as u32 <= uapi::NSIGPOLL => Layout::Poll,
            _ => Layout::Kill,
        }
    } else if code == signal::SI_TIMER {
        Layout::Timer
    } else if code == uapi::SI_SIGIO {
        Layout::Poll
    } else if code < 0 {
        Layout::Rt
    } else {
        Layout::Kill
    }
}

/// The `signalfd_siginfo` for a dequeued signal: the fields of its layout.
fn record(q: &Queued) -> signalfd_siginfo {
    // SAFETY: `siginfo_t`'s common header and every member of its union are
    // plain integers (and pointers kept as data): any bytes are valid.
    let (head, f) = unsafe {
        let h = &q.info.__bindgen_anon_1.__bindgen_anon_1;
        ((h.si_signo, h.si_errno, h.si_code), h._sifields)
    };
    let mut r =
        signalfd_siginfo { ssi_signo: head.0 as u32, ssi_errno: head.1, ssi_code: head.2, ..Default::default() };
    // SAFETY: as above: reading any union member is reading integers.
    unsafe {
        match layout(q.sig, head.2) {
            Layout::Kill => {
                r.ssi_pid = f._kill._pid as u32;
                r.ssi_uid = f._kill._uid;
            }
            Layout::Timer => {
                r.ssi_tid = f._timer._tid as u32;
                r.ssi_overrun = f._timer._overrun as u32;
                r.ssi_ptr = f._timer._sigval.sival_ptr as u64;
                r.ssi_int = f._timer._sigval.sival_int;
            }
            Layout::Poll => {
                r.ssi_band = f._sigpoll._band as u32;
                r.ssi_fd = f._sigpoll._fd;
            }
            Layout::Fault => r.ssi_addr = f._sigfault._addr as u64,
            Layout::FaultMce => {
                r.ssi_addr = f._sigfault._addr as u64;
                r.ssi_addr_lsb = f._sigfault.__bindgen_anon_1._addr_lsb as u16;
            }
            Layout::Child => {
                r.ssi_pid = f._sigchld._pid as u32;
                r.ssi_uid = f._sigchld._uid;
                r.ssi_status = f._sigchld._status;
                r.ssi_utime = f._sigchld._utime as u64;
                r.ssi_stime = f._sigchld._stime as u64;
            }
            Layout::Rt => {
                r.ssi_pid = f._rt._pid as u32;
                r.ssi_uid = f._rt._uid;
                r.ssi_ptr = f._rt._sigval.sival_ptr as u64;
                r.ssi_int = f._rt._sigval.sival_int;
            }
            Layout::Sys => {
                r.ssi_call_addr = f._sigsys._call_addr as u64;
                r.ssi_syscall = f._sigsys._syscall;
                r.ssi_arch = f._sigsys._arch;
            }
        }
    }
    r
}

/// `signalfd4(fd, mask, sizemask, flags)`: a new signalfd (fd -1) or a new
/// mask for an existing one.
pub fn signalfd4([fd, mask, size, flags, ..]: Args) -> SysResult {
    if size != 8 {
        return Err(EINVAL);
    }
    let m = mm::read_user::<u64>(mask)? & !UNBLOCKABLE;
    if flags & !((SFD_CLOEXEC | SFD_NONBLOCK) as u64) != 0 {
        return Err(EINVAL);
    }
    if fd as i32 == -1 {
        LIVE.fetch_add(1, Ordering::Relaxed);
        let s = SignalFd { mask: AtomicU64::new(m) };
        return anon::install(Anon::Signal(Arc::new(s)), flags);
    }
    match anon::get(fd)? {
        Anon::Signal(s) => {
            s.mask.store(m, Ordering::Relaxed);
            // Readers and pollers look again with the new mask.
            signal_arrived();
            Ok(fd)
        }
        _ => Err(EINVAL),
    }
}

/// `signalfd(fd, mask, sizemask)`: signalfd4 without flags.
pub fn signalfd([fd, mask, size, ..]: Args) -> SysResult {
    signalfd4([fd, mask, size, 0, 0, 0])
}
