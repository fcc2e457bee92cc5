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
use hx_abi::hypercall::{FUTEX_CANCEL, FUTEX_WAIT, FUTEX_WAITING, FUTEX_WAKE, FUTEX_WOKEN};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Helper threads (waits in progress) one monitor keeps at most.
const MAX_WAITS: usize = 1024;
/// A helper looks whether its wait was cancelled this often.
const SLICE: Duration = Duration::from_millis(20);
const HELPER_STACK: usize = 64 * 1024;

/// One guest wait in the host.
struct Wait {
    /// Set by `FUTEX_CANCEL` (or the VM's end); the outcome word is the
    /// guest's only while this is false, and only written under the lock.
    cancelled: Mutex<bool>,
}

/// The waits of one VM, by the guest-physical address of their outcome word.
pub struct Futexes {
    waits: Arc<Mutex<HashMap<u64, Arc<Wait>>>>,
    /// Written by a helper whose wait ended: the watcher wakes the guest.
    done: Arc<OwnedFd>,
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

impl Futexes {
    pub fn new(done: OwnedFd) -> Self {
        Self { waits: Default::default(), done: Arc::new(done) }
    }

    pub fn done_fd(&self) -> i32 {
        self.done.as_raw_fd()
    }

    /// `op::FUTEX`: `args[0]` = `FUTEX_WAIT`, `FUTEX_WAKE` or `FUTEX_CANCEL`.
    pub fn serve(&self, mem: &GuestRam, args: &[u64; 8]) -> Result<i64, Errno> {
        match args[0] {
            // The word at `args[1]` (guest-physical) still holds `args[2]`: wait
            // on it (bitset `args[3]`), and report in the word at `args[4]`.
            FUTEX_WAIT => self.wait(mem, args[1], args[2] as u32, args[3] as u32, args[4]).map(|()| 0),
            // Wake up to `args[2]` waiters of the word at `args[1]` (bitset `args[3]`).
            FUTEX_WAKE => {
                let word = word_address(mem, args[1])?;
                let count = args[2].min(i32::MAX as u64) as u32;
                futex(word, libc::FUTEX_WAKE_BITSET, count, None, bitset(args[3])?)
            }
            // Give up the wait reporting at `args[1]`.
            FUTEX_CANCEL => {
                self.cancel(args[1]);
                Ok(0)
            }
            _ => Err(libc::EINVAL),
        }
    }

    fn wait(&self, mem: &GuestRam, phys: u64, val: u32, mask: u32, outcome_phys: u64) -> Result<(), Errno> {
        let word = word_address(mem, phys)?;
        let outcome = word_address(mem, outcome_phys)?;
        let mask = bitset(u64::from(mask))?;
        // SAFETY: `word` is a 4-byte-aligned address inside guest RAM, which
        // stays mapped while the monitor runs; read atomically.
        if unsafe { AtomicU32::from_ptr(word as *mut u32) }.load(Ordering::SeqCst) != val {
            return Err(libc::EAGAIN);
        }
        let wait = Arc::new(Wait { cancelled: Mutex::new(false) });
        {
            let mut waits = self.waits.lock().map_err(|_| libc::EIO)?;
            if waits.len() >= MAX_WAITS {
                return Err(libc::ENOMEM);
            }
            // The guest reuses a word only once it is done with its last wait
            // (an outcome read, or cancelled): that one's helper may not write.
            if let Some(old) = waits.insert(outcome_phys, wait.clone()) {
                if let Ok(mut c) = old.cancelled.lock() {
                    *c = true;
                }
            }
        }
        let (waits, done) = (self.waits.clone(), self.done.clone());
        let helper = std::thread::Builder::new()
            .name("hx-futex".into())
            .stack_size(HELPER_STACK)
            .spawn(move || helper(word, val, mask, outcome, &wait, &done, &waits, outcome_phys));
        if helper.is_err() {
            self.waits.lock().map_err(|_| libc::EIO)?.remove(&outcome_phys);
            return Err(libc::ENOMEM);
        }
        Ok(())
    }

    fn cancel(&self, outcome_phys: u64) {
        let wait = self.waits.lock().ok().and_then(|mut w| w.remove(&outcome_phys));
        if let Some(wait) = wait {
            if let Ok(mut c) = wait.cancelled.lock() {
                *c = true;
            }
        }
    }
}

impl Drop for Futexes {
    /// The VM ends (or execs): no helper may write into its memory again.
    fn drop(&mut self) {
        if let Ok(mut waits) = self.waits.lock() {
            for (_, wait) in waits.drain() {
                if let Ok(mut c) = wait.cancelled.lock() {
                    *c = true;
                }
            }
        }
    }
}

/// The host address of the 4-byte-aligned guest word at `phys`.
fn word_address(mem: &GuestRam, phys: u64) -> Result<u64, Errno> {
    if !phys.is_multiple_of(4) || phys.checked_add(4).is_none_or(|end| end > mem.size()) {
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

/// Waits in the host until woken, the word changes, or the wait is cancelled.
#[allow(clippy::too_many_arguments)]
fn helper(
    word: u64,
    val: u32,
    mask: u32,
    outcome: u64,
    wait: &Wait,
    done: &OwnedFd,
    waits: &Mutex<HashMap<u64, Arc<Wait>>>,
    outcome_phys: u64,
) {
    // Signals are for the vCPU threads (kicks) and the main thread.
    // SAFETY: blocks every signal in this thread only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
    let result = loop {
        if wait.cancelled.lock().map_or(true, |c| *c) {
            return;
        }
        // FUTEX_WAIT_BITSET's timeout is absolute (CLOCK_MONOTONIC).
        let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: writes the current time into our timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
        let nanos = now.tv_nsec as u64 + SLICE.as_nanos() as u64;
        let until = libc::timespec {
            tv_sec: now.tv_sec + (nanos / 1_000_000_000) as libc::time_t,
            tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
        };
        match futex(word, libc::FUTEX_WAIT_BITSET, val, Some(&until), mask) {
            Ok(_) => break FUTEX_WOKEN,
            Err(libc::EAGAIN) => break hx_abi::hypercall::FUTEX_CHANGED,
            Err(_) => continue, // the slice ended (ETIMEDOUT) or EINTR: look again
        }
    };
    let delivered = match wait.cancelled.lock() {
        Ok(mut cancelled) if !*cancelled => {
            // SAFETY: `outcome` is a 4-byte-aligned word of guest RAM the
            // guest gave for this wait, not yet cancelled (checked under the lock).
            unsafe { AtomicU32::from_ptr(outcome as *mut u32) }.store(result, Ordering::SeqCst);
            // Written once: from here the word is the guest's again.
            *cancelled = true;
            true
        }
        _ => false,
    };
    if let Ok(mut w) = waits.lock() {
        if w.get(&outcome_phys).is_some_and(|x| std::ptr::eq(Arc::as_ptr(x), wait)) {
            w.remove(&outcome_phys);
        }
    }
    if delivered {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to our eventfd.
        unsafe { libc::write(done.as_raw_fd(), (&one as *const u64).cast(), 8) };
    } else if result == FUTEX_WOKEN {
        // Woken after the guest gave up: the wake-up goes to another waiter.
        let _ = futex(word, libc::FUTEX_WAKE_BITSET, 1, None, mask);
    }
    debug_assert_ne!(result, FUTEX_WAITING);
}
