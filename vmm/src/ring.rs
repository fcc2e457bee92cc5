//! The poller: serves requests the kernel posts into its ring page
//! (`hx_abi::ring`) without an exit, while they keep coming.
//!
//! It sleeps until a vCPU serves a request through an exit (a program that
//! makes one host request is likely to make more), then polls the page, and
//! goes back to sleep after `WINDOW` without a request: an idle guest costs
//! no host CPU, a busy one no exits.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::host::Host;
use crate::memory::GuestRam;
use hx_abi::ring::{self, DONE, OFF_ACTIVE, OFF_REQ, OFF_STATE, POSTED, SLOTS, TAKEN};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::watch::Watcher;

/// The monitor's request state, as the vCPU threads share it.
type HostLock<'a> = Mutex<(&'a mut crate::report::Report, &'a mut crate::host::files::Files)>;

/// How long the poller keeps polling after the last request. An exit costs
/// 30–70 µs on this machine kind; a program between two requests rarely
/// computes longer than this, and an idle one stops the polling soon.
const WINDOW: Duration = Duration::from_micros(400);
/// Empty scans between two yields of the host CPU while polling.
const SPINS_PER_YIELD: u32 = 64;

#[derive(Default)]
pub struct Ring {
    /// Guest-physical address of the ring page (0: none registered).
    page: AtomicU64,
    /// Set to make the poller poll; with `wake`, how a vCPU rouses it.
    wanted: Mutex<bool>,
    wake: Condvar,
    /// Whether the poller is polling (a vCPU signals it only when not: also
    /// before its thread started, which happens while the program runs).
    polling: AtomicBool,
    stop: AtomicBool,
}

impl Ring {
    /// `RING`: uses the page at `phys` (page-aligned, inside guest RAM). Once
    /// per VM: the kernel registers its page at boot, and a page moved later
    /// (a forged request) would have the poller write slot states into
    /// memory the kernel uses for something else.
    pub fn register(&self, mem: &GuestRam, phys: u64) -> i64 {
        if phys == 0 || !phys.is_multiple_of(ring::PAGE) || mem.atomic_u64(phys + ring::PAGE - 8).is_err() {
            return -(libc::EINVAL as i64);
        }
        match self.page.compare_exchange(0, phys, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => 0,
            Err(_) => -(libc::EBUSY as i64),
        }
    }

    /// A vCPU served a request through an exit: more are likely, so poll.
    pub fn nudge(&self) {
        if self.page.load(Ordering::Relaxed) != 0 && !self.polling.load(Ordering::Relaxed) {
            *self.wanted.lock().unwrap_or_else(|e| e.into_inner()) = true;
            self.wake.notify_one();
        }
    }

    /// The VM is ending: the poller returns.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        *self.wanted.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_one();
    }

    /// The poller thread's loop, until `stop`.
    pub fn run(&self, mem: &GuestRam, host: &HostLock, watch: &Watcher) {
        loop {
            self.polling.store(false, Ordering::SeqCst);
            {
                let mut wanted = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
                while !*wanted {
                    wanted = self.wake.wait(wanted).unwrap_or_else(|e| e.into_inner());
                }
                *wanted = false;
            }
            self.polling.store(true, Ordering::SeqCst);
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let page = self.page.load(Ordering::SeqCst);
            let Ok(active) = mem.atomic_u64(page + OFF_ACTIVE) else { continue };
            // The slots' state words, found once: the spin below reads them
            // thousands of times.
            let Ok(states) = (0..SLOTS)
                .map(|i| mem.atomic_u64(page + ring::slot(i) + OFF_STATE))
                .collect::<anyhow::Result<Vec<_>>>()
            else {
                continue;
            };
            active.store(1, Ordering::SeqCst);
            let mut last = Instant::now();
            let mut empty = 0u32;
            loop {
                if self.scan(mem, page, &states, host, watch) {
                    last = Instant::now();
                    empty = 0;
                    continue;
                }
                if self.stop.load(Ordering::Relaxed) {
                    active.store(0, Ordering::SeqCst);
                    return;
                }
                if last.elapsed() > WINDOW {
                    // Asleep from here on; one more look catches a request
                    // posted before the kernel could see that.
                    active.store(0, Ordering::SeqCst);
                    self.scan(mem, page, &states, host, watch);
                    break;
                }
                empty += 1;
                if empty.is_multiple_of(SPINS_PER_YIELD) {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
        }
    }

    /// Serves every posted request once; whether there was any.
    fn scan(&self, mem: &GuestRam, page: u64, states: &[&AtomicU64], host: &HostLock, watch: &Watcher) -> bool {
        let mut any = false;
        for (i, state) in states.iter().enumerate() {
            let at = page + ring::slot(i);
            if state.load(Ordering::Acquire) == POSTED
                && state.compare_exchange(POSTED, TAKEN, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                serve_slot(mem, at, host, watch);
                any = true;
            }
        }
        any
    }

    /// `RING_WAKE` for slot `i`: serves it on this vCPU's thread unless the
    /// poller took it first, then waits until it is done; and polls again.
    pub fn wake_for(&self, mem: &GuestRam, i: u64, host: &HostLock, watch: &Watcher) -> i64 {
        let page = self.page.load(Ordering::SeqCst);
        let Some(at) = usize::try_from(i).ok().filter(|&i| i < SLOTS && page != 0).map(|i| page + ring::slot(i)) else {
            return -(libc::EINVAL as i64);
        };
        let Ok(state) = mem.atomic_u64(at + OFF_STATE) else { return -(libc::EINVAL as i64) };
        if state.compare_exchange(POSTED, TAKEN, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            serve_slot(mem, at, host, watch);
        } else {
            // Taken by the poller (or never posted: a forged wake): wait briefly for it.
            let start = Instant::now();
            while state.load(Ordering::Acquire) == TAKEN && start.elapsed() < Duration::from_secs(1) {
                std::thread::yield_now();
            }
        }
        self.nudge();
        0
    }
}

/// Serves the request a slot names and marks the slot done.
fn serve_slot(mem: &GuestRam, at: u64, host: &HostLock, watch: &Watcher) {
    let req_at = mem.atomic_u64(at + OFF_REQ).map(|r| r.load(Ordering::Acquire)).unwrap_or(u64::MAX);
    {
        let mut guard = host.lock().unwrap_or_else(|e| e.into_inner());
        let (report, files) = &mut *guard;
        let mut h = Host { mem, report, files, watch: Some(watch) };
        // A request outside guest RAM cannot be answered; the slot still ends.
        let _ = h.serve_polled(req_at);
    }
    if let Ok(state) = mem.atomic_u64(at + OFF_STATE) {
        state.store(DONE, Ordering::Release);
    }
}
