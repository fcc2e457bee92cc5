//! Clocks from the TSC: one host request the first time a clock is read, to
//! anchor the TSC to the host's clocks; every later read is a `rdtsc`.
use crate::{arch, host};
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;

/// TSC value and host clocks read at the same moment (0 tsc: not anchored yet).
static ANCHOR_TSC: AtomicU64 = AtomicU64::new(0);
static ANCHOR_REALTIME: AtomicU64 = AtomicU64::new(0);
static ANCHOR_MONOTONIC: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick as a 32.32 fixed-point factor: a multiply, not a
/// division, on every clock read.
static mut NS_PER_TICK_32: u64 = 0;
static BOOT_TSC: Once<u64> = Once::new();

/// The TSC's rate, and the monitor's anchor if it gave one (`tsc` 0: none).
pub fn init(tsc_khz: u64, tsc: u64, realtime_ns: u64, monotonic_ns: u64) {
    // SAFETY: written once at boot, before the program runs.
    unsafe { NS_PER_TICK_32 = (1_000_000u64 << 32) / tsc_khz.max(1) };
    BOOT_TSC.call_once(arch::rdtsc);
    // Taken only if the TSC has not gone backwards from it (a wrong offset).
    if tsc != 0 && tsc <= arch::rdtsc() {
        ANCHOR_REALTIME.store(realtime_ns, Ordering::Relaxed);
        ANCHOR_MONOTONIC.store(monotonic_ns, Ordering::Relaxed);
        ANCHOR_TSC.store(tsc, Ordering::Release);
    }
}

/// (tsc, realtime, monotonic) of the anchor, made on first use.
#[inline]
fn anchor() -> (u64, u64, u64) {
    let tsc = ANCHOR_TSC.load(Ordering::Acquire);
    if tsc != 0 {
        return (tsc, ANCHOR_REALTIME.load(Ordering::Relaxed), ANCHOR_MONOTONIC.load(Ordering::Relaxed));
    }
    let before = arch::rdtsc();
    let (realtime_ns, monotonic_ns) = host::clocks();
    let after = arch::rdtsc();
    let tsc = (before + (after - before) / 2).max(1);
    ANCHOR_REALTIME.store(realtime_ns, Ordering::Relaxed);
    ANCHOR_MONOTONIC.store(monotonic_ns, Ordering::Relaxed);
    ANCHOR_TSC.store(tsc, Ordering::Release);
    (tsc, realtime_ns, monotonic_ns)
}

/// A forked process runs on a new VM whose TSC started afresh: anchor again
/// (only its one thread runs while this happens).
pub fn reanchor() {
    ANCHOR_TSC.store(0, Ordering::Release);
}

fn ticks_to_ns(ticks: u64) -> u64 {
    // SAFETY: only written by `init`, before any reader.
    let factor = unsafe { NS_PER_TICK_32 };
    ((ticks as u128 * factor as u128) >> 32) as u64
}

/// Nanoseconds on the TSC alone, from an arbitrary origin: for measuring
/// short intervals where a host request is not allowed (the request path
/// itself), so never anchored to the host's clocks.
pub fn tsc_ns() -> u64 {
    ticks_to_ns(arch::rdtsc())
}

/// CLOCK_MONOTONIC, in nanoseconds (the host's monotonic clock, carried on by the TSC).
pub fn monotonic_ns() -> u64 {
    let (tsc, _, monotonic) = anchor();
    monotonic + ticks_to_ns(arch::rdtsc().saturating_sub(tsc))
}

pub fn realtime_ns() -> u64 {
    let (tsc, realtime, _) = anchor();
    realtime + ticks_to_ns(arch::rdtsc().saturating_sub(tsc))
}
