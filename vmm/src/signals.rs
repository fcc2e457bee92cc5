//! SIGINT, SIGTERM and SIGHUP to hx-run go to the program, as they would to
//! a native process: the handler records them and stops vCPU 0 wherever it
//! is (in `KVM_RUN`, or blocked in a host call, which returns `EINTR` and is
//! not retried once a signal arrived), and the vCPU threads pass them on to
//! the guest kernel, which takes the program's action for them.
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Signals received and not yet passed on (bit n-1 for signal n).
static PENDING: AtomicU64 = AtomicU64::new(0);
/// vCPU 0's `immediate_exit` byte and thread, so a signal can stop it.
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static VCPU_THREAD: AtomicU64 = AtomicU64::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    PENDING.fetch_or(1 << (sig - 1), Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
    let p = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: points into vCPU 0's kvm_run mapping, alive while the run loop runs.
        unsafe { p.write_volatile(1) };
    }
    let thread = VCPU_THREAD.load(Ordering::SeqCst);
    // SAFETY: pthread_self/pthread_kill are async-signal-safe; the thread is
    // vCPU 0's, alive while the VM runs.
    if thread != 0 && thread != unsafe { libc::pthread_self() } as u64 {
        unsafe { libc::pthread_kill(thread as libc::pthread_t, crate::smp::KICK_SIGNAL) };
    }
}

/// Installs the handlers; `immediate_exit` is vCPU 0's byte, and the caller is its thread.
pub fn catch_interrupts(immediate_exit: *mut u8) {
    IMMEDIATE_EXIT.store(immediate_exit, Ordering::SeqCst);
    // SAFETY: pthread_self cannot fail.
    VCPU_THREAD.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: installs an async-signal-safe handler (atomics and
        // pthread_kill only), without SA_RESTART so a blocked host call returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
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
    VCPU_THREAD.store(0, Ordering::SeqCst);
}

/// Whether signals wait to be passed on.
pub fn has_pending() -> bool {
    PENDING.load(Ordering::Relaxed) != 0
}
