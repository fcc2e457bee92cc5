//! The counters `--stats` prints; the monitor reads them from guest memory at exit.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::stats::Stats;

struct Counters(UnsafeCell<Stats>);
// SAFETY: every counter is only ever updated atomically (see `bump`).
unsafe impl Sync for Counters {}

/// Named so that the monitor finds the counters of a program that dies of a
/// fault too (it never makes its exit request).
#[export_name = "HX_STATS"]
static COUNTERS: Counters = Counters(UnsafeCell::new(Stats::new()));

/// Adds one to a counter; several vCPUs may count at once.
fn bump(counter: impl FnOnce(*mut Stats) -> *mut u64) {
    let p = counter(COUNTERS.0.get());
    // SAFETY: `p` points at an aligned u64 inside the static counters, which
    // are only accessed through atomics while the program runs.
    unsafe { AtomicU64::from_ptr(p) }.fetch_add(1, Ordering::Relaxed);
}

/// Syscall `nr` arrived by `path` (`PATH_TRAP`, `PATH_VECTOR` or `PATH_REWRITTEN`).
pub fn count(nr: usize, path: u64) {
    use hx_abi::hypercall::{PATH_REWRITTEN, PATH_VECTOR};
    // SAFETY (all four): a field of the static counters; the caller bounds `nr`.
    match path {
        PATH_VECTOR => bump(|s| unsafe { core::ptr::addr_of_mut!((*s).vector[nr]) }),
        PATH_REWRITTEN => bump(|s| unsafe { core::ptr::addr_of_mut!((*s).rewritten[nr]) }),
        _ => bump(|s| unsafe { core::ptr::addr_of_mut!((*s).trap[nr]) }),
    }
}

pub fn count_cpl0() {
    bump(|s| unsafe { core::ptr::addr_of_mut!((*s).cpl0_entries) });
}

pub fn count_hypercall() {
    bump(|s| unsafe { core::ptr::addr_of_mut!((*s).hypercalls) });
}

/// Physical address of the counters, for the exit request.
pub fn phys_addr() -> u64 {
    crate::host::phys_of(COUNTERS.0.get() as u64)
}
