//! Futexes between processes: a futex that is not process-private, in a
//! `MAP_SHARED` mapping, may be waited on and woken by another guest
//! process, which runs in another VM. Such waits and wakes go to the host
//! (`op::FUTEX`), where the word's page is the same file page in every
//! monitor. The monitor waits in the host on the thread's behalf and writes
//! the outcome into a word of kernel memory; the thread waits here without
//! holding its vCPU and is woken as a poller of host files is.
use crate::errno::{Errno, SysResult, EAGAIN, EFAULT, EINTR, EINVAL, ENOMEM, ERESTARTSYS, ETIMEDOUT};
use crate::{host, mm, sched, signal, time};
use alloc::boxed::Box;
use core::sync::atomic::{AtomicU32, Ordering};
use hx_abi::hypercall::{op, FUTEX_CANCEL, FUTEX_CHANGED, FUTEX_WAIT, FUTEX_WAITING, FUTEX_WAKE, FUTEX_WOKEN};

/// The guest-physical address of the futex word at `uaddr`, checked mapped.
fn word_phys(uaddr: u64) -> Result<u64, Errno> {
    if !uaddr.is_multiple_of(4) {
        return Err(EINVAL);
    }
    mm::with_space(|s| s.check(uaddr, 4, false).ok().and_then(|()| s.phys_at(uaddr))).ok_or(EFAULT)
}

/// FUTEX_WAIT(_BITSET) on a word other processes share.
pub fn wait(uaddr: u64, val: u32, deadline: Option<u64>, bitset: u32) -> SysResult {
    if bitset == 0 {
        return Err(EINVAL);
    }
    let phys = word_phys(uaddr)?;
    // The outcome word lives until the monitor can no longer write it (the
    // wait ended with an outcome, or was cancelled).
    let outcome = Box::new(AtomicU32::new(FUTEX_WAITING));
    let outcome_phys = host::phys_of(&*outcome as *const AtomicU32 as u64);
    match host::simple(op::FUTEX, &[FUTEX_WAIT, phys, u64::from(val), u64::from(bitset), outcome_phys]) {
        Ok(_) => {}
        Err(EAGAIN) => return Err(EAGAIN),
        // The monitor has too many waits: wait here, looking at the word.
        Err(ENOMEM) => return super::futex::wait(uaddr, val, deadline, bitset),
        Err(e) => return Err(e),
    }
    let look = || match outcome.load(Ordering::Acquire) {
        FUTEX_WOKEN => Some(Ok(0)),
        FUTEX_CHANGED => Some(Err(EAGAIN)),
        _ => None,
    };
    let cancel = || {
        let _ = host::simple(op::FUTEX, &[FUTEX_CANCEL, outcome_phys]);
    };
    match await_helper(look, deadline, cancel) {
        Ok(r) => r,
        Err(Ended::TimedOut) => Err(ETIMEDOUT),
        Err(Ended::Signal) if deadline.is_some() => Err(EINTR),
        Err(Ended::Signal) => Err(ERESTARTSYS),
    }
}

/// Why a wait for a monitor helper ended without its outcome.
pub enum Ended {
    TimedOut,
    Signal,
}

/// Blocks until `look` finds the outcome a monitor helper writes into
/// kernel memory (`crate::waits` in the monitor), the `deadline` passes or a
/// signal is pending; then `cancel`s the helper's wait and looks once more
/// (an outcome written before the cancel took counts, as on Linux).
pub fn await_helper<R>(look: impl Fn() -> Option<R>, deadline: Option<u64>, cancel: impl FnOnce()) -> Result<R, Ended> {
    let result = loop {
        // Each host event takes every poller off the list: back on it before
        // looking, so that an outcome written after the look wakes this thread.
        super::poll::register_poller();
        if let Some(r) = look() {
            break Ok(r);
        }
        let timed_out = deadline.is_some_and(|d| time::monotonic_ns() >= d);
        if timed_out || signal::pending() {
            cancel();
            break match look() {
                Some(r) => Ok(r),
                None if timed_out => Err(Ended::TimedOut),
                None => Err(Ended::Signal),
            };
        }
        sched::block(deadline);
    };
    super::poll::unregister_poller();
    result
}

/// FUTEX_WAKE(_BITSET): wakes up to `n` waiters in the host; how many it woke.
pub fn wake(uaddr: u64, n: u64, bitset: u32) -> SysResult {
    if bitset == 0 {
        return Err(EINVAL);
    }
    let phys = word_phys(uaddr)?;
    host::simple(op::FUTEX, &[FUTEX_WAKE, phys, n, u64::from(bitset)])
}
