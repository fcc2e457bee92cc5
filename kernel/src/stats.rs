//! The counters `--stats` prints; the monitor reads them from guest memory at exit.
use core::cell::UnsafeCell;
use hx_abi::stats::Stats;

struct Counters(UnsafeCell<Stats>);
// SAFETY: one vCPU and no preemption: counters are only touched by the
// running syscall path.
unsafe impl Sync for Counters {}

static COUNTERS: Counters = Counters(UnsafeCell::new(Stats::new()));

fn with<R>(f: impl FnOnce(&mut Stats) -> R) -> R {
    // SAFETY: see `Counters`: no two accesses are ever live at once.
    f(unsafe { &mut *COUNTERS.0.get() })
}

pub fn count_trap(nr: usize) {
    with(|s| s.trap[nr] += 1);
}

pub fn count_vector(nr: usize) {
    with(|s| s.vector[nr] += 1);
}

pub fn count_cpl0() {
    with(|s| s.cpl0_entries += 1);
}

pub fn count_hypercall() {
    with(|s| s.hypercalls += 1);
}

/// Physical address of the counters, for the exit request.
pub fn phys_addr() -> u64 {
    crate::host::phys_of(COUNTERS.0.get() as u64)
}
