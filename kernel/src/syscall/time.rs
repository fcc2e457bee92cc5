//! Time syscalls, answered in the guest from the TSC.
use super::Args;
use crate::errno::{Errno, SysResult, EINVAL};
use crate::{mm, time};

const NS: u64 = 1_000_000_000;

fn clock_ns(clock: u64) -> Result<u64, Errno> {
    match clock {
        0 | 5 | 8 => Ok(time::realtime_ns()), // REALTIME, REALTIME_COARSE, REALTIME_ALARM
        1 | 4 | 6 | 7 | 9 => Ok(time::monotonic_ns()), // MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM
        2 | 3 => Ok(time::cputime_ns()),      // PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID
        11 => Ok(time::realtime_ns() + 37 * NS), // TAI
        _ => Err(EINVAL),
    }
}

pub fn clock_gettime([clock, ts, ..]: Args) -> SysResult {
    let ns = clock_ns(clock)?;
    mm::write_user(ts, &[ns / NS, ns % NS])?;
    Ok(0)
}

pub fn clock_getres([clock, res, ..]: Args) -> SysResult {
    clock_ns(clock)?;
    if res != 0 {
        mm::write_user(res, &[0u64, 1])?;
    }
    Ok(0)
}

pub fn gettimeofday([tv, tz, ..]: Args) -> SysResult {
    if tv != 0 {
        let ns = time::realtime_ns();
        mm::write_user(tv, &[ns / NS, (ns % NS) / 1000])?;
    }
    if tz != 0 {
        mm::write_user(tz, &[0u32, 0])?;
    }
    Ok(0)
}

pub fn time([tloc, ..]: Args) -> SysResult {
    let secs = time::realtime_ns() / NS;
    if tloc != 0 {
        mm::write_user(tloc, &secs)?;
    }
    Ok(secs)
}
