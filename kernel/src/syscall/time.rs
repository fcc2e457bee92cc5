//! Time syscalls, answered in the guest from the TSC.
use super::Args;
use crate::errno::{Errno, SysResult, EINVAL};
use crate::{mm, time};

const NS: u64 = 1_000_000_000;

fn clock_ns(clock: u64) -> Result<u64, Errno> {
    match clock {
        0 | 5 | 8 => Ok(time::realtime_ns()), // REALTIME, REALTIME_COARSE, REALTIME_ALARM
        1 | 4 | 6 | 7 | 9 => Ok(time::monotonic_ns()), // MONOTONIC, _RAW, _COARSE, BOOTTIME, BOOTTIME_ALARM
        2 => Ok(crate::sched::process_cpu_ns()), // PROCESS_CPUTIME_ID
        3 => Ok(crate::sched::current().cpu_time()), // THREAD_CPUTIME_ID
        11 => Ok(time::realtime_ns() + 37 * NS), // TAI
        c if (c as i32) < 0 => cpu_clock_ns(c as i32),
        _ => Err(EINVAL),
    }
}

/// A CPU-time clock id (`clock_getcpuclockid`, `pthread_getcpuclockid`):
/// `~pid << 3 | kind`, with bit 2 for a thread. Kinds PROF (0) and SCHED (2)
/// count CPU time; VIRT (1), user time only, is the same here (the guest
/// kernel's time is the program's). This process and its threads only.
fn cpu_clock_ns(clock: i32) -> Result<u64, Errno> {
    let id = !(clock >> 3) as u32;
    let thread = clock & 4 != 0;
    if clock & 3 == 3 {
        return Err(EINVAL);
    }
    if thread {
        let t = if id == 0 { Some(crate::sched::current_arc()) } else { crate::sched::thread(id) };
        return t.map(|t| t.cpu_time()).ok_or(EINVAL);
    }
    if id == 0 || id as u64 == crate::syscall::process::pid() {
        return Ok(crate::sched::process_cpu_ns());
    }
    Err(EINVAL)
}

pub fn clock_gettime([clock, ts, ..]: Args) -> SysResult {
    let ns = clock_ns(clock)?;
    mm::write_user(ts, &[ns / NS, ns % NS])?;
    Ok(0)
}

/// `clock_settime`: the guest's clocks follow the host's and cannot be set
/// (EPERM, as for a process without CAP_SYS_TIME); clocks Linux never sets: EINVAL.
pub fn clock_settime([clock, ts, ..]: Args) -> SysResult {
    let [sec, nsec]: [i64; 2] = crate::mm::read_user(ts)?;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(crate::errno::EINVAL);
    }
    match clock {
        0 /* CLOCK_REALTIME */ => Err(crate::errno::EPERM),
        _ => Err(crate::errno::EINVAL),
    }
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

/// A `timespec` in ns, rejecting what Linux rejects.
pub fn timespec_ns(ts: hx_abi::uapi::timespec) -> Result<u64, Errno> {
    if ts.tv_sec < 0 || !(0..NS as i64).contains(&ts.tv_nsec) {
        return Err(EINVAL);
    }
    Ok((ts.tv_sec as u64).saturating_mul(NS).saturating_add(ts.tv_nsec as u64))
}

/// Reads a `timespec` from the program, in ns.
pub fn read_timespec(ptr: u64) -> Result<u64, Errno> {
    timespec_ns(mm::read_user(ptr)?)
}

/// Sleeps until `deadline` (monotonic ns) unless a signal comes first;
/// then writes the time left to `rem` (if non-zero) and returns EINTR.
fn sleep_until(deadline: u64, rem: u64) -> SysResult {
    loop {
        if crate::signal::pending() {
            if rem != 0 {
                let left = deadline.saturating_sub(time::monotonic_ns());
                mm::write_user(rem, &[left / NS, left % NS])?;
            }
            return Err(crate::errno::EINTR);
        }
        if crate::sched::block(Some(deadline)) == crate::sched::Wake::TimedOut {
            return Ok(0);
        }
    }
}

pub fn nanosleep([req, rem, ..]: Args) -> SysResult {
    let ns = read_timespec(req)?;
    sleep_until(time::monotonic_ns().saturating_add(ns), rem)
}

pub fn clock_nanosleep([clock, flags, req, rem, ..]: Args) -> SysResult {
    const TIMER_ABSTIME: u64 = 1;
    let now = clock_ns(clock)?;
    // A thread's CPU clock has no sleep in Linux (EOPNOTSUPP); the process's
    // CPU clock would sleep until that much CPU time is used, which hx does not.
    if clock == 3 {
        return Err(crate::errno::EOPNOTSUPP);
    }
    if clock == 2 {
        return Err(EINVAL);
    }
    let t = read_timespec(req)?;
    let ns = if flags & TIMER_ABSTIME != 0 { t.saturating_sub(now) } else { t };
    // An absolute sleep reports no remaining time.
    sleep_until(time::monotonic_ns().saturating_add(ns), if flags & TIMER_ABSTIME != 0 { 0 } else { rem })
}
