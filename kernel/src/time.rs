//! Clocks from the TSC: one host request the first time a clock is read, to
//! anchor the TSC to the host's clocks; every later read is a `rdtsc`.
use crate::{arch, host};
use spin::Once;

struct Anchor {
    tsc: u64,
    realtime_ns: u64,
    monotonic_ns: u64,
}

static ANCHOR: Once<Anchor> = Once::new();
/// Nanoseconds per TSC tick as a 32.32 fixed-point factor: a multiply, not a
/// division, on every clock read.
static mut NS_PER_TICK_32: u64 = 0;
static BOOT_TSC: Once<u64> = Once::new();

pub fn init(tsc_khz: u64) {
    // SAFETY: written once at boot, before the program runs.
    unsafe { NS_PER_TICK_32 = (1_000_000u64 << 32) / tsc_khz.max(1) };
    BOOT_TSC.call_once(arch::rdtsc);
}

fn anchor() -> &'static Anchor {
    ANCHOR.call_once(|| {
        let before = arch::rdtsc();
        let (realtime_ns, monotonic_ns) = host::clocks();
        let after = arch::rdtsc();
        Anchor { tsc: before + (after - before) / 2, realtime_ns, monotonic_ns }
    })
}

fn ticks_to_ns(ticks: u64) -> u64 {
    // SAFETY: only written by `init`, before any reader.
    let factor = unsafe { NS_PER_TICK_32 };
    ((ticks as u128 * factor as u128) >> 32) as u64
}

/// CLOCK_MONOTONIC, in nanoseconds (the host's monotonic clock, carried on by the TSC).
pub fn monotonic_ns() -> u64 {
    let a = anchor();
    a.monotonic_ns + ticks_to_ns(arch::rdtsc().saturating_sub(a.tsc))
}

pub fn realtime_ns() -> u64 {
    let a = anchor();
    a.realtime_ns + ticks_to_ns(arch::rdtsc().saturating_sub(a.tsc))
}
