//! Futexes between guest processes (`op::FUTEX`). Each guest process is its
//! own VM, so a futex word in memory two processes share (`MAP_SHARED`) is
//! waited on and woken in the host: its guest page is a page of the same
//! host file in every monitor that maps it, and a host futex that is not
//! process-private is keyed by that file page, whoever maps it.
//!
//! A guest thread's wait must not hold its vCPU, so a helper thread waits in
//! the host for it and, when woken, writes the outcome into a word of guest
//! kernel memory and wakes the guest as the watcher does for host files
//! (`Shared::host_events`). A wait the guest gives up (a signal, its
//! timeout) is cancelled: after `FUTEX_CANCEL` returns the monitor never
//! writes its word again, and a wake-up its helper got too late is passed on.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::memory::GuestRam;
use crate::sandbox::Errno;
use crate::waits::{Helper, Waits};
use hx_abi::hypercall::{FUTEX_CANCEL, FUTEX_CHANGED, FUTEX_WAIT, FUTEX_WAKE, FUTEX_WOKEN};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A helper looks whether its wait was cancelled this often.
const SLICE: Duration = Duration::from_millis(20);

/// The futex waits of one VM (`crate::waits`).
pub struct Futexes {
    waits: Arc<Waits>,
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

impl Futexes {
    pub fn new(waits: Arc<Waits>) -> Self {
        Self { waits }
    }

    /// `op::FUTEX`: `args[0]` = `FUTEX_WAIT`, `FUTEX_WAKE` or `FUTEX_CANCEL`.
    pub fn serve(&self, mem: &GuestRam, args: &[u64; 8]) -> Result<i64, Errno> {
        match args[0] {
            // The word at `args[1]` (guest-physical) still holds `args[2]`: wait
            // on it (bitset `args[3]`), and report in the word at `args[4]`.
            FUTEX_WAIT => self.wait(mem, args[1], args[2] as u32, args[3] as u32, args[4]).map(|()| 0),
            // Wake up to `args[2]` waiters of the word at `args[1]` (bitset `args[3]`).
            FUTEX_WAKE => {
                let word = word_address(mem, args[1], 4)?;
                let count = args[2].min(i32::MAX as u64) as u32;
                futex(word, libc::FUTEX_WAKE_BITSET, count, None, bitset(args[3])?)
            }
            // Give up the wait reporting at `args[1]`.
            FUTEX_CANCEL => {
                self.waits.cancel(args[1]);
                Ok(0)
            }
            _ => Err(libc::EINVAL),
        }
    }

    fn wait(&self, mem: &GuestRam, phys: u64, val: u32, mask: u32, outcome_phys: u64) -> Result<(), Errno> {
        let word = word_address(mem, phys, 4)?;
        let outcome = word_address(mem, outcome_phys, 4)?;
        let mask = bitset(u64::from(mask))?;
        // SAFETY: `word` is a 4-byte-aligned address inside guest RAM, which
        // stays mapped while the monitor runs; read atomically.
        if unsafe { AtomicU32::from_ptr(word as *mut u32) }.load(Ordering::SeqCst) != val {
            return Err(libc::EAGAIN);
        }
        self.waits.start(outcome_phys, "hx-futex", move |h| helper(word, val, mask, outcome, &h))
    }
}

/// The host address of the `align`-byte-aligned guest word at `phys`.
pub fn word_address(mem: &GuestRam, phys: u64, align: u64) -> Result<u64, Errno> {
    if !phys.is_multiple_of(align) || phys.checked_add(align).is_none_or(|end| end > mem.size()) {
        return Err(libc::EINVAL);
    }
    Ok(mem.host_base() + phys)
}

fn bitset(mask: u64) -> Result<u32, Errno> {
    match mask as u32 {
        0 => Err(libc::EINVAL),
        m => Ok(m),
    }
}

/// A host futex call on the word at host address `word` (never process-private).
fn futex(word: u64, op: i32, val: u32, timeout: Option<&libc::timespec>, mask: u32) -> Result<i64, Errno> {
    let timeout = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` lies in guest RAM (checked by `word_address`), which
    // stays mapped; the kernel only reads it (WAIT) or looks up its waiters.
    let r = unsafe { libc::syscall(libc::SYS_futex, word, op, val, timeout, 0usize, mask) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// The `CLOCK_MONOTONIC` time `after` from now, as an absolute timespec.
pub fn monotonic_after(after: Duration) -> libc::timespec {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes the current time into our timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let nanos = now.tv_nsec as u64 + after.as_nanos() as u64;
    libc::timespec {
        tv_sec: now.tv_sec + (nanos / 1_000_000_000) as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}

/// Waits in the host until woken, the word changes, or the wait is cancelled.
fn helper(word: u64, val: u32, mask: u32, outcome: u64, h: &Helper) {
    let result = loop {
        if h.cancelled() {
            return;
        }
        // FUTEX_WAIT_BITSET's timeout is absolute (CLOCK_MONOTONIC).
        match futex(word, libc::FUTEX_WAIT_BITSET, val, Some(&monotonic_after(SLICE)), mask) {
            Ok(_) => break FUTEX_WOKEN,
            Err(libc::EAGAIN) => break FUTEX_CHANGED,
            Err(_) => continue, // the slice ended (ETIMEDOUT) or EINTR: look again
        }
    };
    // SAFETY: `outcome` is a 4-byte-aligned word of guest RAM the guest gave
    // for this wait, written only while the wait is not over (`finish`).
    let delivered = h.finish(|| unsafe { AtomicU32::from_ptr(outcome as *mut u32) }.store(result, Ordering::SeqCst));
    if !delivered && result == FUTEX_WOKEN {
        // Woken after the guest gave up: the wake-up goes to another waiter.
        let _ = futex(word, libc::FUTEX_WAKE_BITSET, 1, None, mask);
    }
}
