//! Requests without exits (`hx_abi::ring`): while the monitor's poller is
//! running, [`try_call`] posts a request into a free slot of the ring page
//! and spins until the poller has served it; otherwise, or for a request
//! the poller will not serve (one that may block), the caller exits as usual.
use crate::host;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::hypercall::{op, Request};
use hx_abi::ring::{self, CLAIMED, DONE, FREE, OFF_ACTIVE, OFF_REQ, OFF_STATE, POSTED, SLOTS};

/// The ring page (kernel-virtual; 0 before `init`).
static PAGE: AtomicU64 = AtomicU64::new(0);

/// How long a posted request may wait for the poller to take it before the
/// vCPU asks the monitor to serve it through an exit: the poller may not
/// have a host CPU (2 cores: this vCPU, the poller, a client), and a vCPU
/// spinning longer only keeps it from one.
const WAIT_BEFORE_WAKE_NS: u64 = 20_000;

fn word(page: u64, offset: u64) -> &'static AtomicU64 {
    // SAFETY: `page` is the ring page, which lives for the kernel's lifetime;
    // every offset used is an aligned word inside it.
    unsafe { &*((page + offset) as *const AtomicU64) }
}

/// Takes the ring page the monitor registered at boot, or allocates one
/// and tells the monitor (an exit).
pub fn init() {
    let given = crate::boot_info().ring_phys;
    if given != 0 {
        PAGE.store(hx_abi::layout::DIRECT_MAP + given, Ordering::SeqCst);
        return;
    }
    let layout = core::alloc::Layout::from_size_align(ring::PAGE as usize, ring::PAGE as usize).unwrap();
    // SAFETY: a non-zero-sized layout; the page is never freed.
    let page = unsafe { alloc::alloc::alloc_zeroed(layout) } as u64;
    if page == 0 {
        return;
    }
    register(page);
}

fn register(page: u64) {
    if host::simple(op::RING, &[host::phys_of(page)]).is_ok() {
        PAGE.store(page, Ordering::SeqCst);
    }
}

/// In a forked child: the slots of the threads that did not come along are
/// free again, and the child's monitor learns the page (its poller is new).
pub fn after_fork() {
    let page = PAGE.swap(0, Ordering::SeqCst);
    if page == 0 {
        return;
    }
    word(page, OFF_ACTIVE).store(0, Ordering::SeqCst);
    for i in 0..SLOTS {
        word(page, ring::slot(i) + OFF_STATE).store(FREE, Ordering::SeqCst);
    }
    register(page);
}

/// Whether the monitor's poller runs (a request now would travel without an exit).
pub fn polling() -> bool {
    let page = PAGE.load(Ordering::Relaxed);
    page != 0 && word(page, OFF_ACTIVE).load(Ordering::Relaxed) != 0 && !backing_off()
}

/// After the poller was late (it had no host CPU: waiting for it costs more
/// than an exit), requests go through exits until `SKIP_UNTIL` (TSC ns), a
/// pause that doubles while it stays late, from `MIN_BACKOFF_NS` up to
/// `MAX_BACKOFF_NS`; 0 once it is on time. A pause in time, not in requests:
/// a host that takes the poller's core for a few ms (softirq work after
/// another VM's teardown) would otherwise send a short program's every
/// request through an exit.
static BACKOFF_NS: AtomicU64 = AtomicU64::new(0);
static SKIP_UNTIL: AtomicU64 = AtomicU64::new(0);
const MIN_BACKOFF_NS: u64 = 50_000;
const MAX_BACKOFF_NS: u64 = 2_000_000;

/// Serves `req` without an exit if the poller runs and takes it: `Some(ret)`.
pub fn try_call(req: &mut Request) -> Option<i64> {
    post(req).filter(|&ret| ret != ring::RETRY)
}

/// One trip through the ring: the request's `ret` (maybe `RETRY`), or
/// `None` if it could not travel this way.
fn post(req: &mut Request) -> Option<i64> {
    let page = PAGE.load(Ordering::Relaxed);
    if page == 0 || ring::exits_only(req.op) || word(page, OFF_ACTIVE).load(Ordering::Relaxed) == 0 {
        return None;
    }
    if backing_off() {
        return None;
    }
    let start = (crate::arch::percpu::cpu() * 7) % SLOTS;
    let i = (0..SLOTS).map(|k| (start + k) % SLOTS).find(|&i| {
        word(page, ring::slot(i) + OFF_STATE)
            .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    })?;
    let state = word(page, ring::slot(i) + OFF_STATE);
    word(page, ring::slot(i) + OFF_REQ).store(host::phys_of(req as *mut Request as u64), Ordering::Relaxed);
    state.store(POSTED, Ordering::SeqCst);
    let mut woken = false;
    let mut spins = 0u32;
    // The TSC alone: a clock read that needs a host request would come back here.
    let posted_at = crate::time::tsc_ns();
    while state.load(Ordering::Acquire) != DONE {
        let asleep = spins == 0 && word(page, OFF_ACTIVE).load(Ordering::SeqCst) == 0;
        let late = spins % 64 == 63 && crate::time::tsc_ns() - posted_at > WAIT_BEFORE_WAKE_NS;
        if !woken && (asleep || late) && state.load(Ordering::Acquire) == POSTED {
            woken = true;
            if late {
                let b = (BACKOFF_NS.load(Ordering::Relaxed) * 2).clamp(MIN_BACKOFF_NS, MAX_BACKOFF_NS);
                BACKOFF_NS.store(b, Ordering::Relaxed);
                SKIP_UNTIL.store(crate::time::tsc_ns() + b, Ordering::Relaxed);
            }
            if wake(i) < 0 && state.compare_exchange(POSTED, CLAIMED, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                // No poller at all: take the request back and exit with it.
                state.store(FREE, Ordering::Release);
                return None;
            }
        }
        spins = spins.saturating_add(1);
        core::hint::spin_loop();
    }
    if !woken && BACKOFF_NS.load(Ordering::Relaxed) != 0 {
        BACKOFF_NS.store(0, Ordering::Relaxed);
    }
    // The monitor wrote the request from another thread: read it back as memory.
    // SAFETY: `req` is a valid, exclusively borrowed request.
    *req = unsafe { core::ptr::read_volatile(req) };
    state.store(FREE, Ordering::Release);
    Some(req.ret)
}

/// Whether requests skip the ring for now (the poller was late lately).
fn backing_off() -> bool {
    let until = SKIP_UNTIL.load(Ordering::Relaxed);
    until != 0 && crate::time::tsc_ns() < until
}

/// Asks the monitor (through an exit) to serve slot `i` or wait for the
/// poller that took it; negative if the monitor has no ring.
fn wake(i: usize) -> i64 {
    host::exit_call(&mut Request::new(op::RING_WAKE), &[i as u64])
}
