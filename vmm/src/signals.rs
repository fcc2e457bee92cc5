//! Host signals that reach the guest program: SIGINT, SIGQUIT, SIGTERM and
//! SIGHUP to hx-run (as they would reach a native process; a terminal's keys
//! only to its foreground process group), SIGCHLD when a child
//! process's monitor ends, and [`GUEST_SIGNAL`], by which another guest
//! process's monitor says "signals for you are in the process table". The
//! handlers record them and stop the forwarding vCPU wherever it is (in
//! `KVM_RUN`, idle, or blocked in a host call, which returns `EINTR` and is
//! not retried once a signal arrived); the vCPU threads pass them on to the
//! guest kernel, which takes the program's action for them.
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Sent by one monitor to another: guest signals wait in the receiver's
/// process-table entry.
pub const GUEST_SIGNAL: libc::c_int = libc::SIGUSR2;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Another monitor changed this process's table entry (its parent ended).
static ENTRY_CHANGED: AtomicBool = AtomicBool::new(false);
/// Signals received and not yet passed on (bit n-1 for signal n).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// The senders of the guest signals in `PENDING` (`pid | uid << 32`), by signal.
static SENDERS: [AtomicU64; hx_abi::percpu::SENDER_SIGNALS] =
    [const { AtomicU64::new(0) }; hx_abi::percpu::SENDER_SIGNALS];
/// The forwarding vCPU's `immediate_exit` byte, idle futex and thread.
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static WAKE_SEQ: AtomicPtr<std::sync::atomic::AtomicU32> = AtomicPtr::new(std::ptr::null_mut());
static VCPU_THREAD: AtomicU64 = AtomicU64::new(0);

/// Stops the forwarding vCPU so that it passes `PENDING` on.
fn poke_forwarder() {
    let p = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: points into the vCPU's kvm_run mapping, alive while the run loop runs.
        unsafe { p.write_volatile(1) };
    }
    let w = WAKE_SEQ.load(Ordering::SeqCst);
    if !w.is_null() {
        // SAFETY: the vCPU's idle futex, alive while its VM runs.
        crate::smp::wake_futex(unsafe { &*w });
    }
    let thread = VCPU_THREAD.load(Ordering::SeqCst);
    // SAFETY: pthread_self/pthread_kill are async-signal-safe; the thread is
    // the vCPU's, alive while the VM runs.
    if thread != 0 && thread != unsafe { libc::pthread_self() } as u64 {
        unsafe { libc::pthread_kill(thread as libc::pthread_t, crate::smp::KICK_SIGNAL) };
    }
}

/// A terminal's Ctrl-C or Ctrl-\\ (the kernel's `SI_KERNEL`) reaches every
/// monitor of the tree, as they all sit in hx-run's host process group; on
/// Linux it reaches the terminal's foreground process group only. The first
/// monitor (guest pid 1, whose group is the foreground one) passes it to the
/// guest processes still in that group; the others leave it to it. Returns
/// whether this monitor's own guest process takes it.
fn route_terminal_signal(sig: libc::c_int) -> bool {
    let Some(me) = crate::process::table::me() else { return true };
    if me.pid.load(Ordering::SeqCst) != 1 {
        return false;
    }
    let foreground = me.pgid.load(Ordering::SeqCst);
    for e in crate::process::table::entries() {
        if e.host_pid.load(Ordering::SeqCst) > 0
            && e.pid.load(Ordering::SeqCst) != 1
            && e.pgid.load(Ordering::SeqCst) == foreground
        {
            crate::host::process::signal_entry(e, sig as u64);
        }
    }
    true
}

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_terminal = !info.is_null() && unsafe { (*info).si_code } == libc::SI_KERNEL;
    if from_terminal && (sig == libc::SIGINT || sig == libc::SIGQUIT) && !route_terminal_signal(sig) {
        return;
    }
    // SAFETY: as above.
    // SAFETY: as above (si_code > 0: the host kernel reports a child's change).
    if sig == libc::SIGCHLD
        && !info.is_null()
        && !crate::process::table::sigchld_is_news(unsafe { (*info).si_pid() }, unsafe { (*info).si_code })
    {
        return;
    }
    let bits = if sig == GUEST_SIGNAL {
        ENTRY_CHANGED.store(true, Ordering::SeqCst);
        entry_signals()
    } else {
        1 << (sig - 1)
    };
    if bits == 0 {
        poke_forwarder();
        return;
    }
    PENDING.fetch_or(bits, Ordering::SeqCst);
    // A child's end must not cut a blocked host call short: the guest restarts
    // nothing for a signal it ignores (SIGCHLD's default).
    if sig != libc::SIGCHLD {
        INTERRUPTED.store(true, Ordering::SeqCst);
    }
    poke_forwarder();
}

/// Moves the guest signals other processes left in this process's table
/// entry (and their senders) into `PENDING`; returns them. Published before
/// they leave the entry, so that a concurrent look (a handler preempted
/// half-way, a `wait` answering) always finds them in one place or both.
fn entry_signals() -> u64 {
    crate::process::table::me().map_or(0, |e| {
        let bits = e.signals.load(Ordering::SeqCst);
        if bits == 0 {
            return 0;
        }
        for (i, (from, to)) in e.senders.iter().zip(SENDERS.iter()).enumerate() {
            if bits & (1 << i) != 0 {
                to.store(from.load(Ordering::SeqCst), Ordering::SeqCst);
            }
        }
        PENDING.fetch_or(bits, Ordering::SeqCst);
        e.signals.fetch_and(!bits, Ordering::SeqCst);
        bits
    })
}

/// A `wait` is about to report a child's change: the signals that child
/// (or anyone) sent this process before it are passed on first, as Linux
/// has them pending by the time `kill` returned — not after the wait, when
/// the host's `GUEST_SIGNAL` for them may still be on its way (a late
/// heartbeat signal crashed LTP's library, which had unmapped its handler's data).
pub fn take_entry_signals_now() {
    entry_signals();
}

/// What the program inherits from hx-run's own start, as across `execve`:
/// the signals ignored (`nohup` ignores SIGHUP; a shell's background job,
/// SIGINT and SIGQUIT) and the blocked mask, as bit sets (bit n-1 for n).
/// SIGPIPE is left out: Rust's runtime ignores it in hx-run before `main`,
/// so its inherited disposition is unknown (the default is Linux's usual one).
/// Read before [`catch_interrupts`] installs hx-run's handlers.
pub fn inherited() -> (u64, u64) {
    let mut ignored = 0u64;
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || sig == libc::SIGPIPE {
            continue;
        }
        // SAFETY: queries the disposition into a sigaction we own.
        let old = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(sig, std::ptr::null(), &mut old) == 0).then_some(old)
        };
        if old.is_some_and(|o| o.sa_sigaction == libc::SIG_IGN) {
            ignored |= 1 << (sig - 1);
        }
    }
    let mut mask = 0u64;
    // SAFETY: reads this thread's mask into a sigset_t we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set) == 0 {
            for sig in 1..=64 {
                // The lease signal is blocked for the monitor (host/io_signals.rs), not by its caller.
                let monitors =
                    sig == crate::host::io_signals::signal() && crate::host::io_signals::blocked_by_the_monitor();
                if sig != libc::SIGKILL && sig != libc::SIGSTOP && !monitors && libc::sigismember(&set, sig) == 1 {
                    mask |= 1 << (sig - 1);
                }
            }
        }
    }
    (ignored, mask)
}

/// Installs the handlers (before any vCPU runs).
pub fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP, libc::SIGCHLD, GUEST_SIGNAL] {
        // SAFETY: installs an async-signal-safe handler (atomics, futex wake
        // and pthread_kill only); without SA_RESTART so a blocked host call
        // returns EINTR (SIGCHLD's restarts it).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO;
            // Without SA_NOCLDSTOP: a child that stops or goes on (job
            // control: its monitor stops on the host) is its guest's news.
            if sig == libc::SIGCHLD {
                sa.sa_flags |= libc::SA_RESTART;
            }
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Blocks [`GUEST_SIGNAL`] in the calling thread until the guard is dropped
/// (a pending one is taken then).
pub fn block_guest_signal() -> GuestSignalBlocked {
    // SAFETY: changes the calling thread's own mask with sets we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, GUEST_SIGNAL);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        GuestSignalBlocked(set)
    }
}

pub struct GuestSignalBlocked(libc::sigset_t);

impl Drop for GuestSignalBlocked {
    fn drop(&mut self) {
        // SAFETY: unblocks the signal this guard blocked, in the same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &self.0, std::ptr::null_mut()) };
    }
}

/// The calling thread runs the vCPU that passes signals on: `immediate_exit`
/// is its byte, `wake_seq` its idle futex.
pub fn forward_through(immediate_exit: *mut u8, wake_seq: &std::sync::atomic::AtomicU32) {
    IMMEDIATE_EXIT.store(immediate_exit, Ordering::SeqCst);
    WAKE_SEQ.store(wake_seq as *const _ as *mut _, Ordering::SeqCst);
    // SAFETY: pthread_self cannot fail.
    VCPU_THREAD.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
}

/// Whether a signal arrived, or the VM is ending: a host call that returns
/// EINTR is not retried (the guest gets EINTR and takes the signal).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst) || STOPPING.load(Ordering::SeqCst)
}

/// The VM is ending: host calls that block for a vCPU give up (see `smp::Smp::stop_all`).
static STOPPING: AtomicBool = AtomicBool::new(false);

pub fn stopping() {
    STOPPING.store(true, Ordering::SeqCst);
}

/// A new VM runs (after `execve`, or in a forked monitor): host calls block again.
pub fn restarting() {
    STOPPING.store(false, Ordering::SeqCst);
    release();
}

/// Drops what the handlers noted so far: a spare monitor's signals were
/// sent before it stood for any process (`process::spare`).
pub fn forget_pending() {
    PENDING.store(0, Ordering::SeqCst);
    INTERRUPTED.store(false, Ordering::SeqCst);
    ENTRY_CHANGED.store(false, Ordering::SeqCst);
}

/// The sender of pending guest signal `sig` (1..=24), taken.
pub fn take_sender(sig: usize) -> u64 {
    sig.checked_sub(1).and_then(|i| SENDERS.get(i)).map_or(0, |s| s.swap(0, Ordering::SeqCst))
}

/// Signals received since the last call (bit n-1 for signal n).
pub fn take_pending() -> u64 {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    PENDING.swap(0, Ordering::SeqCst)
}

/// The vCPUs are gone: a late signal must not touch their mappings.
pub fn release() {
    IMMEDIATE_EXIT.store(std::ptr::null_mut(), Ordering::SeqCst);
    WAKE_SEQ.store(std::ptr::null_mut(), Ordering::SeqCst);
    VCPU_THREAD.store(0, Ordering::SeqCst);
}

/// Whether signals wait to be passed on.
pub fn has_pending() -> bool {
    PENDING.load(Ordering::Relaxed) != 0 || ENTRY_CHANGED.load(Ordering::Relaxed)
}

/// Whether this process's table entry changed since the last call.
pub fn take_entry_changed() -> bool {
    ENTRY_CHANGED.load(Ordering::Relaxed) && ENTRY_CHANGED.swap(false, Ordering::SeqCst)
}
