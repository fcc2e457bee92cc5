//! Signals with Linux's semantics: actions shared by all threads, a mask and
//! pending set per thread plus the process's pending set, delivery on the
//! way back to the program (a `rt_sigframe` on its stack), `rt_sigreturn`,
//! default actions, and signals from faults.
pub mod coredump;
pub mod frame;
pub mod timers;

use crate::arch::entry::{Frame, ENTRY_VECTOR};
use crate::errno::{Errno, EINTR, ERESTARTNOHAND, ERESTARTNOINTR, ERESTARTSYS, ERESTART_RESTARTBLOCK};
use crate::host;
use crate::sched::{self, Thread};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::uapi;
use spin::Mutex;

pub const NSIG: usize = 64;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGSYS: u32 = 31;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGSEGV: u32 = 11;
pub const SIGALRM: u32 = 14;
pub const SIGCHLD: u32 = 17;
pub const SIGIO: u32 = 29;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_TKILL: i32 = -6;

pub const fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals no mask can block and no handler can catch.
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);

/// A `sigaction` as the kernel keeps it.
#[derive(Clone, Copy, Default, Debug)]
pub struct Action {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// A queued signal: its number and the `siginfo` it is delivered with.
#[derive(Clone, Copy)]
pub struct Queued {
    pub sig: u32,
    pub info: uapi::siginfo_t,
    /// For a fault: trap number, error code, faulting address (for the `sigcontext`).
    pub fault: [u64; 3],
}

// SAFETY: the raw pointers in `siginfo` are program addresses kept as data
// (`si_addr`, `si_value`); the kernel never dereferences them.
unsafe impl Send for Queued {}

impl Queued {
    /// The `siginfo_t` as the 128 bytes Linux lays it out in.
    pub fn info_bytes(&self) -> [u8; 128] {
        const _: () = assert!(core::mem::size_of::<uapi::siginfo_t>() == 128);
        // SAFETY: siginfo_t is plain data of exactly 128 bytes (checked above).
        unsafe { core::mem::transmute_copy(&self.info) }
    }

    /// A signal with the siginfo `bytes` (128, as Linux lays it out), for signal `sig`.
    pub fn from_bytes(sig: u32, bytes: &[u8; 128]) -> Self {
        let mut q = Self::new(sig, 0);
        // SAFETY: siginfo_t is plain data of exactly 128 bytes (`info_bytes`).
        q.info = unsafe { core::mem::transmute_copy(bytes) };
        q.set_signo(sig);
        q
    }

    /// A message queue's notification (`SI_MESGQ`): the sender's pid and
    /// uid, and the value the registration gave.
    pub fn mesgq(sig: u32, pid: i32, uid: u32, value: u64) -> Self {
        const SI_MESGQ: i32 = -3;
        let mut q = Self::new(sig, SI_MESGQ);
        q.fields()._rt = uapi::__sifields__bindgen_ty_3 {
            _pid: pid,
            _uid: uid,
            _sigval: uapi::sigval { sival_ptr: value as *mut core::ffi::c_void },
        };
        q
    }

    /// A signal with `siginfo`'s common fields: number and code.
    pub fn new(sig: u32, code: i32) -> Self {
        let mut info = uapi::siginfo_t::default();
        info.__bindgen_anon_1.__bindgen_anon_1 = uapi::siginfo__bindgen_ty_1__bindgen_ty_1 {
            si_signo: sig as i32,
            si_errno: 0,
            si_code: code,
            _sifields: uapi::__sifields::default(),
        };
        Self { sig, info, fault: [0; 3] }
    }

    fn fields(&mut self) -> &mut uapi::__sifields {
        // SAFETY: `new` stored the common header; every variant of the union
        // is plain integers, so any bytes are a valid value of each.
        unsafe { &mut self.info.__bindgen_anon_1.__bindgen_anon_1._sifields }
    }

    /// From another process or thread (`kill`): `si_pid`, `si_uid`.
    pub fn from_user(sig: u32, code: i32) -> Self {
        let mut q = Self::new(sig, code);
        q.fields()._kill = uapi::__sifields__bindgen_ty_1 {
            _pid: crate::syscall::process::pid() as i32,
            _uid: crate::syscall::cred::real_uid(),
        };
        q
    }

    /// A child's state change (`SIGCHLD`): `si_pid`, `si_uid`, `si_status`.
    pub fn set_child(&mut self, pid: i32, uid: u32, status: i32) {
        self.fields()._sigchld =
            uapi::__sifields__bindgen_ty_4 { _pid: pid, _uid: uid, _status: status, _utime: 0, _stime: 0 };
    }

    /// A fault at `addr` (`si_addr`).
    pub fn set_addr(&mut self, addr: u64) {
        self.fields()._sigfault._addr = addr as *mut core::ffi::c_void;
    }

    /// A POSIX timer's expiry: `si_timerid`, `si_overrun`, `si_value`.
    pub fn set_timer(&mut self, id: i32, overrun: i32, value: u64) {
        self.fields()._timer = uapi::__sifields__bindgen_ty_2 {
            _tid: id,
            _overrun: overrun,
            _sigval: uapi::sigval { sival_ptr: value as *mut core::ffi::c_void },
            _sys_private: 0,
        };
    }

    /// An I/O readiness signal: `si_band`, `si_fd`.
    /// The signal Linux's `kill_fasync(..., POLL_MSG)` sends for descriptor
    /// `fd` of a file whose `F_SETSIG` is `io_signal`: a plain `SIGIO`
    /// (0), else that signal with `si_fd` and `si_band` POLLIN|POLLRDNORM|POLLMSG.
    pub fn io_message(io_signal: u32, fd: u64) -> Self {
        const POLL_MSG: i32 = 3;
        const BAND_MSG: i64 = 0x1 | 0x40 | 0x400;
        Self::io(io_signal, fd, POLL_MSG, BAND_MSG)
    }

    /// Linux's `send_sigio` for descriptor `fd` with `F_SETSIG` `io_signal`:
    /// a plain `SIGIO` (0), else that signal with `si_code` `code`
    /// (`POLL_IN`...), `si_band` and `si_fd`.
    pub fn io(io_signal: u32, fd: u64, code: i32, band: i64) -> Self {
        match io_signal {
            0 => Queued::new(SIGIO, SI_KERNEL),
            sig => {
                let mut q = Queued::new(sig, code);
                q.set_poll(band, fd as i32);
                q
            }
        }
    }

    pub fn set_poll(&mut self, band: i64, fd: i32) {
        self.fields()._sigpoll = uapi::__sifields__bindgen_ty_6 { _band: band, _fd: fd };
    }

    /// The `si_code` (what a program sets in `rt_sigqueueinfo`).
    pub fn code(&self) -> i32 {
        // SAFETY: the common header is plain integers, valid for any bytes.
        unsafe { self.info.__bindgen_anon_1.__bindgen_anon_1.si_code }
    }

    pub fn set_signo(&mut self, sig: u32) {
        self.sig = sig;
        self.info.__bindgen_anon_1.__bindgen_anon_1.si_signo = sig as i32;
    }
}

/// Pending signals: standard ones once each, real-time ones queued.
#[derive(Default)]
pub struct Pending {
    pub set: u64,
    queue: VecDeque<Queued>,
}

impl Pending {
    fn add(&mut self, q: Queued) {
        let rt = q.sig >= 32;
        if self.set & bit(q.sig) != 0 && !rt {
            return;
        }
        self.set |= bit(q.sig);
        self.queue.push_back(q);
        QUEUED.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes one instance of `sig`.
    fn take(&mut self, sig: u32) -> Option<Queued> {
        let i = self.queue.iter().position(|q| q.sig == sig)?;
        let q = self.queue.remove(i)?;
        QUEUED.fetch_sub(1, Ordering::Relaxed);
        if !self.queue.iter().any(|q| q.sig == sig) {
            self.set &= !bit(sig);
        }
        Some(q)
    }

    fn discard(&mut self, sig: u32) {
        let before = self.queue.len();
        self.queue.retain(|q| q.sig != sig);
        QUEUED.fetch_sub((before - self.queue.len()) as u64, Ordering::Relaxed);
        self.set &= !bit(sig);
    }
}

/// Signals queued anywhere (any thread's or the process's): while none is,
/// the way back to the program skips every signal check.
static QUEUED: AtomicU64 = AtomicU64::new(0);

/// `RLIMIT_SIGPENDING` for a signal a program sends (to `t`, or to the
/// process): once the process has as many signals queued as the limit
/// allows (Linux counts per user; a guest process is its own user here),
/// a real-time signal with its own siginfo (`sigqueue`, `tgkill`) is
/// `EAGAIN`; any other is still sent, but without its siginfo (Linux's
/// "silent loss of information"): merged into a pending one of the same
/// number (`None`), else delivered as a bare `SI_USER`. Standard signals
/// from `kill` are never limited.
pub fn limit_queue(q: Queued, t: Option<&Thread>) -> Result<Option<Queued>, Errno> {
    const RLIMIT_SIGPENDING: usize = 11;
    const SIGRTMIN: u32 = 32;
    let rt = q.sig >= SIGRTMIN;
    let overridden = !rt && q.code() >= 0;
    if overridden || QUEUED.load(Ordering::Relaxed) < crate::syscall::process::soft_limit(RLIMIT_SIGPENDING) {
        return Ok(Some(q));
    }
    if rt && q.code() != SI_USER {
        return Err(crate::errno::EAGAIN);
    }
    let pending = PROCESS_PENDING.lock().set | t.map_or(0, |t| t.signals.lock().pending.set);
    if pending & bit(q.sig) != 0 {
        return Ok(None);
    }
    Ok(Some(Queued::new(q.sig, SI_USER)))
}

/// Whether any signal is queued at all (a cheap first check).
pub fn any_queued() -> bool {
    QUEUED.load(Ordering::Relaxed) != 0
}

/// What each thread keeps.
#[derive(Default)]
pub struct ThreadSignals {
    pub mask: u64,
    pub pending: Pending,
    /// `sigaltstack`: base, flags, size.
    pub altstack: (u64, u32, u64),
    /// Signals `sigtimedwait` waits for (blocked, but they wake this thread).
    pub waiting: u64,
    /// `sigsuspend`/`ppoll`'s temporary mask: the mask to restore once a
    /// handler has been set up.
    pub saved_mask: Option<u64>,
}

impl ThreadSignals {
    /// The first thread's: nothing blocked or pending, no alternate stack.
    pub fn initial() -> Self {
        Self { altstack: (0, frame::SS_DISABLE, 0), ..Default::default() }
    }
}

static ACTIONS: Mutex<[Action; NSIG]> = Mutex::new([Action { handler: 0, flags: 0, restorer: 0, mask: 0 }; NSIG]);
static PROCESS_PENDING: Mutex<Pending> = Mutex::new(Pending { set: 0, queue: VecDeque::new() });

/// Held across a `fork`'s copy (see `syscall::fork`).
pub fn lock_for_fork() -> (spin::MutexGuard<'static, [Action; NSIG]>, spin::MutexGuard<'static, Pending>) {
    (ACTIONS.lock(), PROCESS_PENDING.lock())
}

/// In a forked child (Linux): nothing pending, no timers; actions and the mask are inherited.
pub fn after_fork() {
    *PROCESS_PENDING.lock() = Pending { set: 0, queue: VecDeque::new() };
    sched::current().signals.lock().pending = Pending { set: 0, queue: VecDeque::new() };
    timers::TIMERS.lock().clear();
    timers::rearm();
}

/// Signal actions put aside while a vfork child may change its copy.
pub struct SavedActions([Action; NSIG]);

pub fn save_actions() -> SavedActions {
    SavedActions(*ACTIONS.lock())
}

pub fn restore_actions(saved: SavedActions) {
    *ACTIONS.lock() = saved.0;
}

/// The process's and the current thread's pending signals, put aside while
/// a vfork child runs on the thread: they are the parent's, the child
/// starts with none (see `syscall::vfork`).
pub struct SavedPending(Pending, Pending, Option<u64>);

pub fn take_pending_for_vfork() -> SavedPending {
    let process = core::mem::take(&mut *PROCESS_PENDING.lock());
    let mut s = sched::current().signals.lock();
    SavedPending(process, core::mem::take(&mut s.pending), s.saved_mask.take())
}

/// Puts the parent's pending signals back (the child's left are dropped).
pub fn restore_pending(saved: SavedPending) {
    *PROCESS_PENDING.lock() = saved.0;
    let mut s = sched::current().signals.lock();
    s.pending = saved.1;
    s.saved_mask = saved.2;
}

/// The current thread's signal mask.
pub fn current_mask() -> u64 {
    sched::current().signals.lock().mask
}

/// What `execve` keeps: the ignored signals (caught ones revert to default).
pub fn ignored_set() -> u64 {
    let a = ACTIONS.lock();
    (1..=NSIG as u32).filter(|&s| a[s as usize - 1].handler == SIG_IGN).fold(0u64, |m, s| m | bit(s))
}

/// The pending signals a new image inherits (the process's and this thread's).
pub fn pending_set() -> u64 {
    PROCESS_PENDING.lock().set | sched::current().signals.lock().pending.set
}

/// What `execve` passes on of the pending signals. Linux keeps each queued
/// instance with its siginfo: they go, oldest first, into the monitor's
/// queue for this process, which the new image takes at its start (a
/// failed `execve` takes them back the same way). Returns the pending set
/// left to pass as bits: what the queue had no room for, and everything
/// in a vfork child (whose process the monitor stands in for).
pub fn pending_for_exec() -> u64 {
    if crate::syscall::vfork::active() {
        return pending_set();
    }
    let mut queued: Vec<Queued> = Vec::new();
    let mut drain = |p: &mut Pending| {
        QUEUED.fetch_sub(p.queue.len() as u64, Ordering::Relaxed);
        queued.extend(p.queue.drain(..));
        p.set = 0;
    };
    drain(&mut PROCESS_PENDING.lock());
    drain(&mut sched::current().signals.lock().pending);
    let me = crate::syscall::process::pid();
    let mut left = 0;
    for q in queued {
        let info = q.info_bytes();
        let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::KILL);
        req.args[..4].copy_from_slice(&[me, u64::from(q.sig), 0, hx_abi::hypercall::KILL_WITH_INFO]);
        req.segs[0] = host::kernel_segment(info.as_ptr() as u64, info.len());
        req.nsegs = 1;
        if host::call(&mut req) < 0 {
            left |= bit(q.sig);
        }
    }
    left
}

/// A new image starts with the ignored signals, the mask and the pending
/// signals `execve` passed on (`main`: its first thread).
pub fn init_from_exec(main: &Thread, ignored: u64, mask: u64, pending: u64) {
    let mut a = ACTIONS.lock();
    for sig in 1..=NSIG as u32 {
        if ignored & bit(sig) != 0 && sig != SIGKILL && sig != SIGSTOP {
            a[sig as usize - 1].handler = SIG_IGN;
        }
    }
    drop(a);
    main.signals.lock().mask = mask & !UNBLOCKABLE;
    for sig in 1..=NSIG as u32 {
        if pending & bit(sig) != 0 {
            PROCESS_PENDING.lock().add(Queued::new(sig, SI_USER));
        }
    }
}

pub fn action(sig: u32) -> Action {
    ACTIONS.lock()[sig as usize - 1]
}

/// Replaces `sig`'s action; returns the old one. Ignoring a signal discards
/// its pending instances, as on Linux.
pub fn set_action(sig: u32, new: Option<Action>) -> Action {
    let old;
    {
        let mut a = ACTIONS.lock();
        old = a[sig as usize - 1];
        if let Some(n) = new {
            a[sig as usize - 1] = n;
        }
    }
    if let Some(n) = new {
        // Children that end from now on leave no zombie; those that did keep theirs.
        const SA_NOCLDWAIT: u64 = 2;
        let reaps = |a: &Action| a.handler == SIG_IGN || a.flags & SA_NOCLDWAIT != 0;
        if sig == SIGCHLD && reaps(&n) && !reaps(&old) {
            crate::syscall::fork::keep_current_zombies();
        }
        if ignored(sig, &n) {
            PROCESS_PENDING.lock().discard(sig);
            for t in sched::threads() {
                t.signals.lock().pending.discard(sig);
            }
        }
        publish_caught();
    }
    old
}

/// Tells the monitor which fault signals the kernel takes (it stops at a
/// fault otherwise, with its report): those with handlers, and all that
/// dump core while a core file would be written.
pub fn publish_caught() {
    let core = coredump::wanted();
    let a = ACTIONS.lock();
    let caught = (1..=NSIG as u32)
        .filter(|&s| a[s as usize - 1].handler > SIG_IGN || (core && dumps_core(s)))
        .fold(0u64, |m, s| m | bit(s));
    sched::publish_caught(caught);
}

/// Signals whose default action is to do nothing.
fn ignored_by_default(sig: u32) -> bool {
    matches!(sig, SIGCHLD | SIGCONT | 23 | 28) // SIGURG, SIGWINCH
}

/// Stop signals: by default they stop the process (`STOP`) until a SIGCONT.
fn stops_by_default(sig: u32) -> bool {
    matches!(sig, SIGSTOP | 20 | 21 | 22) // SIGTSTP, SIGTTIN, SIGTTOU
}

fn dumps_core(sig: u32) -> bool {
    matches!(sig, SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | 24 | 25 | 31)
}

fn ignored(sig: u32, a: &Action) -> bool {
    a.handler == SIG_IGN || (a.handler == SIG_DFL && ignored_by_default(sig))
}

/// Whether the current thread has a signal to take (blocking waits return
/// `EINTR`/`ERESTARTSYS` when it does).
pub fn pending() -> bool {
    let t = sched::current();
    let s = t.signals.lock();
    let unblocked = !s.mask | UNBLOCKABLE;
    (s.pending.set & unblocked) != 0 || (PROCESS_PENDING.lock().set & unblocked) != 0
}

/// Signals the monitor forwarded from hx-run's own (SIGINT from a terminal,
/// SIGTERM, SIGHUP) become process signals, sent by "the outside" (pid 0).
/// SIGCHLD ignored or `SA_NOCLDWAIT`: children leave no zombie (Linux).
pub fn children_reaped_at_exit() -> bool {
    const SA_NOCLDWAIT: u64 = 2;
    let a = action(SIGCHLD);
    a.handler == SIG_IGN || a.flags & SA_NOCLDWAIT != 0
}

/// Held while forwarded signals go from the shared word to the queues.
static TAKING: Mutex<()> = Mutex::new(());

/// `Shared::queued_signals` when the kernel last took the queued signals.
static QUEUED_TAKEN: AtomicU64 = AtomicU64::new(0);

/// The signals other processes sent with their own siginfo (`sigqueue`,
/// real-time signals with their sender), each queued as sent, oldest first.
fn take_queued_signals() {
    const BATCH: usize = 16;
    loop {
        let mut infos = alloc::vec![[0u8; 128]; BATCH];
        let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::PGRP);
        req.args[0] = hx_abi::hypercall::PGRP_TAKE_QUEUED;
        req.segs[0] = crate::host::kernel_segment(infos.as_mut_ptr() as u64, BATCH * 128);
        req.nsegs = 1;
        let n = crate::host::call(&mut req);
        let taken = usize::try_from(n).unwrap_or(0).min(BATCH);
        for info in &infos[..taken] {
            let sig = u32::from_le_bytes([info[0], info[1], info[2], info[3]]);
            if !(1..=NSIG as u32).contains(&sig) {
                continue;
            }
            let q = Queued::from_bytes(sig, info);
            if sig == SIGCONT {
                queue_process(q);
            } else {
                send_process(q);
            }
        }
        if taken < BATCH {
            return;
        }
    }
}

pub fn take_host_signals() {
    crate::syscall::poll::take_host_events();
    // Signals the monitor forwards are the parent's: they wait while its
    // vfork child runs on its thread.
    if crate::syscall::vfork::active() {
        return;
    }
    // Another vCPU may have taken the word and not yet queued its signals:
    // a thread on its way back to its program waits for that (else a signal
    // sent before, say, the exit a `wait` reports would come after it).
    crate::syscall::process::take_nice_request();
    let queued = sched::queued_signals();
    let queued_news = queued != QUEUED_TAKEN.load(Ordering::Relaxed);
    if !sched::host_signals_waiting() && !TAKING.is_locked() && !queued_news {
        return;
    }
    let _taking = TAKING.lock();
    if QUEUED_TAKEN.swap(queued, Ordering::Relaxed) != queued {
        take_queued_signals();
    }
    let mut bits = sched::take_host_signals();
    if bits == 0 {
        return;
    }
    // A SIGCONT from another process acted when it was sent (the monitor
    // went on at once): a stop signal that came with it is taken to be the
    // one it ended (their order is lost in the bits), and the stop signals
    // this process raised since must stay.
    let stops = bit(SIGSTOP) | bit(20) | bit(21) | bit(22);
    let continued = bits & bit(SIGCONT) != 0;
    if continued {
        bits &= !stops;
    }
    if bits & bit(SIGCHLD) != 0 {
        if children_reaped_at_exit() {
            crate::syscall::fork::reap_all();
        }
        crate::syscall::fork::child_changed();
    }
    for sig in 1..=NSIG as u32 {
        if bits & bit(sig) == 0 {
            continue;
        }
        if sig == SIGCHLD {
            send_sigchld();
        } else {
            let mut q = Queued::new(sig, SI_USER);
            let from = sched::take_host_signal_sender(sig as usize);
            if from != 0 {
                q.fields()._kill =
                    uapi::__sifields__bindgen_ty_1 { _pid: from as u32 as i32, _uid: (from >> 32) as u32 };
            }
            if sig == SIGCONT {
                queue_process(q);
            } else {
                send_process(q);
            }
        }
    }
}

/// Clone children (exit signal not SIGCHLD) whose end was already
/// signalled: a zombie not yet waited for must not be signalled again at
/// every later child's change.
static CLONE_SIGNALLED: spin::Mutex<VecDeque<u64>> = spin::Mutex::new(VecDeque::new());

/// The signal of a child's state change (SIGCHLD, or the exit signal a
/// `clone` chose, or none), with the child, how it changed and its status,
/// as Linux sends it. The monitor only says that a child changed: one that
/// can be waited for is looked at without reaping it — among the children
/// that signal SIGCHLD (the first one waitable: Linux names the newest),
/// then among the clone children not yet signalled.
fn send_sigchld() {
    const CLD_STOPPED: u32 = 5;
    const CLD_CONTINUED: u32 = 6;
    const SA_NOCLDSTOP: u64 = 1;
    // Each look is a host request: none where its signal would be dropped
    // anyway (SIGCHLD at its default action, mostly), none for clone
    // children where there are none.
    let sigchld_dropped = discarded(SIGCHLD);
    let plain = if sigchld_dropped { None } else { crate::syscall::fork::peek_child(false) };
    let clone = if crate::syscall::fork::may_have_clone_children() {
        crate::syscall::fork::peek_child(true).filter(|c| !CLONE_SIGNALLED.lock().contains(&c.0))
    } else {
        None
    };
    if plain.is_none() && clone.is_none() {
        if !sigchld_dropped {
            send_process(Queued::new(SIGCHLD, SI_USER));
        }
        return;
    }
    for (pid, code, status, exit_signal) in plain.into_iter().chain(clone) {
        let stopped = matches!(code, CLD_STOPPED | CLD_CONTINUED);
        if !stopped && exit_signal != SIGCHLD {
            let mut seen = CLONE_SIGNALLED.lock();
            if seen.len() >= 64 {
                seen.pop_front();
            }
            seen.push_back(pid);
        }
        // Stops and continues always say SIGCHLD; an end says the exit signal.
        let sig = if stopped { SIGCHLD } else { exit_signal };
        if sig == 0 || sig > NSIG as u32 || stopped && action(SIGCHLD).flags & SA_NOCLDSTOP != 0 {
            continue;
        }
        let mut q = Queued::new(sig, code as i32);
        q.set_child(pid as i32, crate::boot_info().uid, status as i32);
        send_process(q);
    }
}

pub fn process_pending() -> u64 {
    PROCESS_PENDING.lock().set
}

/// Makes a thread that should take a signal notice it: wakes it if it
/// blocks, stops its vCPU if it runs program code there.
fn notify(t: &Arc<Thread>) {
    sched::wake(t);
    if let Some(cpu) = sched::running_on(t) {
        sched::interrupt_cpu(cpu);
    }
}

/// Whether a signal for the whole process would be dropped as it comes:
/// ignored, and blocked by no thread (Linux never ignores a blocked
/// signal: its action may change before it is unblocked, and sigwaitinfo
/// or a signalfd may take it).
fn discarded(sig: u32) -> bool {
    ignored(sig, &action(sig)) && !sched::threads().iter().any(|t| t.signals.lock().mask & bit(sig) != 0)
}

/// A signal for the whole process (`kill`, a timer, the monitor).
pub fn send_process(q: Queued) {
    if q.sig == SIGKILL {
        host::exit_signaled(SIGKILL as u64);
    }
    cancel_opposites(q.sig);
    queue_process(q);
}

/// [`send_process`] without its generation-time effects.
fn queue_process(q: Queued) {
    let sig = q.sig;
    // Blocked signals are never ignored (Linux): their action may change
    // before they are unblocked, and sigwaitinfo or a signalfd may take them.
    if discarded(sig) {
        return;
    }
    PROCESS_PENDING.lock().add(q);
    crate::fs::signalfd::signal_arrived();
    // The thread to take it: the current one if it does not block it, else any that does not.
    let cur = sched::current();
    if !cur.is_idle() && cur.signals.lock().mask & bit(sig) == 0 {
        return;
    }
    let takes = |t: &Arc<Thread>| {
        let s = t.signals.lock();
        s.mask & bit(sig) == 0 || s.waiting & bit(sig) != 0
    };
    if let Some(t) = sched::threads().into_iter().find(takes) {
        notify(&t);
    }
}

/// As Linux at a signal's generation: a SIGCONT discards the pending stop
/// signals, a stop signal the pending SIGCONT (the process's and every thread's).
fn cancel_opposites(sig: u32) {
    let gone: &[u32] = match sig {
        SIGCONT => &[SIGSTOP, 20, 21, 22],
        s if stops_by_default(s) => &[SIGCONT],
        _ => return,
    };
    let mut process = PROCESS_PENDING.lock();
    gone.iter().for_each(|&s| process.discard(s));
    drop(process);
    for t in sched::threads() {
        let mut s = t.signals.lock();
        gone.iter().for_each(|&g| s.pending.discard(g));
    }
}

/// A signal for one thread (`tgkill`, a fault, `pthread_kill`).
pub fn send_thread(t: &Arc<Thread>, q: Queued) {
    let sig = q.sig;
    if sig == SIGKILL {
        host::exit_signaled(SIGKILL as u64);
    }
    cancel_opposites(sig);
    if ignored(sig, &action(sig)) && t.signals.lock().mask & bit(sig) == 0 {
        return;
    }
    t.signals.lock().pending.add(q);
    crate::fs::signalfd::signal_arrived();
    if !core::ptr::eq(Arc::as_ptr(t), sched::current()) {
        notify(t);
    }
}

/// Takes the next signal the current thread may take: its own first, lowest
/// number first (synchronous ones are low), then the process's.
fn dequeue(t: &Thread, mask: u64) -> Option<Queued> {
    let allowed = !mask | UNBLOCKABLE;
    let mut s = t.signals.lock();
    let own = s.pending.set & allowed;
    if own != 0 {
        return s.pending.take(own.trailing_zeros() + 1);
    }
    drop(s);
    let mut p = PROCESS_PENDING.lock();
    let shared = p.set & allowed;
    if shared != 0 {
        return p.take(shared.trailing_zeros() + 1);
    }
    None
}

/// Takes a pending signal in `set` for `sigtimedwait` (whatever the mask).
pub fn dequeue_from(set: u64) -> Option<Queued> {
    dequeue(sched::current(), !set)
}

/// The default action of `q`'s signal: the process ends (most, a core
/// file written first for those that dump core), or nothing. `frame` is
/// where the thread was (for the core file's registers).
fn default_action(q: &Queued, frame: Option<&Frame>) {
    let sig = q.sig;
    if ignored_by_default(sig) {
        return;
    }
    if stops_by_default(sig) {
        // The monitor stops on the host, every vCPU with it; the call
        // returns once a SIGCONT came.
        let _ = host::simple(hx_abi::hypercall::op::STOP, &[sig as u64]);
        return;
    }
    let dumped = dumps_core(sig) && self::coredump::dump(sig, &q.info_bytes(), frame);
    // The first process's death is reported (no shell will say it); a
    // child's goes to its parent, whose shell reports it as on Linux.
    if dumps_core(sig) && crate::syscall::process::pid() == 1 {
        let mut msg = crate::fs::proc::text::Text::new();
        msg.s(b"the program was killed by ").s(name(sig).as_bytes());
        // A fault the kernel took (core files on): where, as the monitor's report says it.
        if let (Some(f), [vector, _, addr]) = (frame, q.fault) {
            if vector != 0 || addr != 0 {
                msg.s(b" at rip 0x").hex(f.rip, 1).s(b", address 0x").hex(addr, 1);
            }
        }
        if dumped {
            msg.s(b" (core dumped)");
        }
        host::log(&msg.into_bytes());
    }
    host::exit_killed(sig as u64, dumped)
}

pub fn name(sig: u32) -> &'static str {
    const NAMES: [&str; 31] = [
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    NAMES.get(sig as usize - 1).copied().unwrap_or("a real-time signal")
}

/// Settles a syscall a signal interrupted before a handler runs (or, with
/// `handler` = None, when no handler runs): restart it or return EINTR.
fn settle_syscall(frame: &mut Frame, handler: Option<&Action>) {
    if frame.orig_rax == u64::MAX {
        return;
    }
    let err = Errno(-(frame.rax as i64));
    let restart = match (err, handler) {
        (ERESTARTNOINTR, _) => true,
        (ERESTARTSYS | ERESTARTNOHAND | ERESTART_RESTARTBLOCK, None) => true,
        (ERESTARTSYS, Some(a)) => a.flags & SA_RESTART != 0,
        (ERESTARTNOHAND | ERESTART_RESTARTBLOCK, Some(_)) => false,
        _ => return,
    };
    if restart {
        restart_syscall(frame);
    } else {
        frame.rax = (-EINTR.0) as u64;
    }
    frame.orig_rax = u64::MAX;
}

/// Makes the program issue its syscall again when it resumes.
fn restart_syscall(frame: &mut Frame) {
    let nr = frame.orig_rax;
    frame.rax = nr;
    if frame.entry == ENTRY_VECTOR {
        // Back to the vector entry's stub, the return address still on the stack.
        frame.rip = crate::arch::entry::vector_stub(nr);
        frame.rsp -= 8;
    } else if let Some(stub) = crate::rewrite::restart_point(frame.rip) {
        // The `syscall` was rewritten (maybe since this call began): its
        // stub does what the instruction did.
        frame.rip = stub;
    } else {
        frame.rip -= 2; // the `syscall` instruction
    }
}

/// On the way back to the program: runs the default action of, or sets up
/// the handler for, one pending signal. Returns whether it did anything (the
/// caller asks again).
pub fn deliver(frame: &mut Frame) -> bool {
    let t = sched::current();
    let mask = t.signals.lock().mask;
    let Some(q) = dequeue(t, mask) else {
        // Nothing to take: a syscall that was interrupted restarts (the
        // signal was ignored or went to another thread).
        settle_syscall(frame, None);
        if let Some(saved) = t.signals.lock().saved_mask.take() {
            t.signals.lock().mask = saved;
        }
        return false;
    };
    let a = action(q.sig);
    if a.handler == SIG_IGN {
        return true;
    }
    if a.handler == SIG_DFL {
        default_action(&q, Some(frame));
        return true;
    }
    settle_syscall(frame, Some(&a));
    let old_mask = t.signals.lock().saved_mask.take().unwrap_or(mask);
    if frame::push(frame, t, &q, &a, old_mask).is_err() {
        // The frame cannot be written (no room, a read-only stack): Linux
        // forces a SIGSEGV, which its handler may take (on another stack);
        // if the SIGSEGV's own frame fails, the default action kills.
        t.signals.lock().saved_mask = Some(old_mask);
        force_sigsegv(t, q.sig == SIGSEGV, frame);
        return true;
    }
    crate::rewrite::handler_pushed();
    let mut s = t.signals.lock();
    s.mask |= a.mask | if a.flags & SA_NODEFER == 0 { bit(q.sig) } else { 0 };
    s.mask &= !UNBLOCKABLE;
    drop(s);
    if a.flags & SA_RESETHAND != 0 {
        // Only the handler goes back to the default: the flags and mask stay
        // what sigaction reads back (Linux's SA_ONESHOT).
        set_action(q.sig, Some(Action { handler: SIG_DFL, ..a }));
    }
    true
}

/// Linux's `force_sigsegv`: a SIGSEGV for `t` that it cannot block or
/// ignore (either resets it to the default action), or the default action
/// at once when `again` (the SIGSEGV handler's own frame failed).
fn force_sigsegv(t: &Thread, again: bool, frame: &Frame) {
    let blocked = t.signals.lock().mask & bit(SIGSEGV) != 0;
    let a = action(SIGSEGV);
    if again || blocked || a.handler == SIG_IGN {
        set_action(SIGSEGV, Some(Action::default()));
    }
    if again || a.handler == SIG_DFL || blocked || a.handler == SIG_IGN {
        default_action(&Queued::new(SIGSEGV, SI_KERNEL), Some(frame));
        return;
    }
    t.signals.lock().pending.add(Queued::new(SIGSEGV, SI_KERNEL));
}

/// A fault in program code that has a handler (the monitor checked): the
/// signal Linux sends for it, delivered at once.
pub fn fault(frame: &mut Frame, vector: u64, error: u64, addr: u64) {
    use uapi::{BUS_ADRALN, BUS_ADRERR, FPE_INTDIV, ILL_ILLOPN, SEGV_ACCERR, SEGV_MAPERR, TRAP_TRACE};
    if vector == 14 {
        // First touch of memory mapped lazily: back it, and the program
        // runs the instruction again.
        match crate::mm::with_space(|s| s.fault_lazy(addr, error)) {
            Ok(true) => return,
            Ok(false) => {}
            Err(e) => return crate::mm::out_of_memory(addr, e),
        }
    }
    let (sig, code, at) = match vector {
        0 => (SIGFPE, FPE_INTDIV as i32, frame.rip),
        1 => (SIGTRAP, TRAP_TRACE as i32, frame.rip),
        3 => (SIGTRAP, SI_KERNEL, 0),
        6 => (SIGILL, ILL_ILLOPN as i32, frame.rip),
        14 if crate::syscall::mm::past_eof(addr) => (SIGBUS, BUS_ADRERR as i32, addr),
        // Not present, and no mapping there (a PROT_NONE mapping is present to Linux).
        14 if error & 1 == 0 && !crate::mm::with_space(|s| s.is_mapped(addr)) => (SIGSEGV, SEGV_MAPERR as i32, addr),
        14 => (SIGSEGV, SEGV_ACCERR as i32, addr),
        16 | 19 => (SIGFPE, 0, frame.rip),
        17 => (SIGBUS, BUS_ADRALN as i32, addr),
        _ => (SIGSEGV, SI_KERNEL, 0),
    };
    let mut q = Queued::new(sig, code);
    q.set_addr(at);
    q.fault = [vector, error, addr];
    let t = sched::current();
    let blocked = t.signals.lock().mask & bit(sig) != 0;
    let a = action(sig);
    if blocked || a.handler <= SIG_IGN {
        // A blocked or ignored fault signal kills the process, as on Linux.
        if a.handler != SIG_DFL || blocked {
            set_action(sig, Some(Action::default()));
        }
        default_action(&q, Some(frame));
        return;
    }
    t.signals.lock().pending.add(q);
}

/// `SECCOMP_RET_TRAP`: SIGSYS for the calling thread, forced as a fault's
/// signal is (blocked or ignored, it ends the process), with `si_call_addr`
/// the address after the call, `si_syscall`, `si_arch`, and the filter's
/// data in `si_errno`.
pub fn seccomp_trap(call_addr: u64, nr: u64, arch: u32, data: u32) {
    const SYS_SECCOMP: i32 = 1;
    let mut q = Queued::new(SIGSYS, SYS_SECCOMP);
    q.info.__bindgen_anon_1.__bindgen_anon_1.si_errno = data as i32;
    q.fields()._sigsys = uapi::__sifields__bindgen_ty_7 {
        _call_addr: call_addr as *mut core::ffi::c_void,
        _syscall: nr as i32,
        _arch: arch,
    };
    let t = sched::current();
    let blocked = t.signals.lock().mask & bit(SIGSYS) != 0;
    let a = action(SIGSYS);
    if blocked || a.handler <= SIG_IGN {
        if a.handler != SIG_DFL || blocked {
            set_action(SIGSYS, Some(Action::default()));
        }
        default_action(&q, None);
        return;
    }
    t.signals.lock().pending.add(q);
}

/// `sigaltstack`'s checks and update; returns the old (base, flags, size).
pub fn set_altstack(t: &Thread, base: u64, flags: u32, size: u64) -> Result<(u64, u32, u64), Errno> {
    use frame::{SS_DISABLE, SS_ONSTACK};
    const SS_AUTODISARM: u32 = 1 << 31;
    const MINSIGSTKSZ: u64 = 2048;
    let mut s = t.signals.lock();
    let old = s.altstack;
    if flags & !(SS_DISABLE | SS_ONSTACK | SS_AUTODISARM) != 0 {
        return Err(crate::errno::EINVAL);
    }
    if flags & SS_DISABLE != 0 {
        s.altstack = (0, SS_DISABLE, 0);
    } else {
        if size < MINSIGSTKSZ {
            return Err(crate::errno::ENOMEM);
        }
        s.altstack = (base, flags & SS_AUTODISARM, size);
    }
    Ok(old)
}

/// Whether the current thread runs on its alternate signal stack at `sp`.
pub fn on_altstack(sp: u64) -> bool {
    let (base, flags, size) = sched::current().signals.lock().altstack;
    flags & frame::SS_DISABLE == 0 && sp > base && sp - base <= size
}
