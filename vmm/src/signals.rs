//! SIGINT and SIGTERM to hx-run stop the guest, wherever the monitor is: in
//! `KVM_RUN` (the handler sets `immediate_exit`) or blocked in a host call on
//! the guest's behalf (the call returns `EINTR`, which request handlers pass
//! on instead of retrying once this flag is set).
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The vCPU's `immediate_exit` byte, so a signal can stop a running guest.
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_interrupt(sig: libc::c_int) {
    SIGNAL.store(sig, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
    let p = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: points into the vCPU's kvm_run mapping, alive while the run loop runs.
        unsafe { p.write_volatile(1) };
    }
}

/// Installs the handlers; `immediate_exit` is the vCPU's byte to set.
pub fn catch_interrupts(immediate_exit: *mut u8) {
    IMMEDIATE_EXIT.store(immediate_exit, Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (atomic stores only),
        // without SA_RESTART so a blocked host call returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as *const () as usize;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether SIGINT or SIGTERM arrived: the guest must stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The exit status for the signal that stopped the guest (130 or 143, as a shell reports it).
pub fn status() -> i32 {
    128 + SIGNAL.load(Ordering::SeqCst).max(libc::SIGINT)
}
