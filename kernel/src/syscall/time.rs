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

/// `adjtimex`: the guest kernel runs no NTP discipline, so it answers as
/// a Linux whose clock nothing synchronizes (`TIME_ERROR`, `STA_UNSYNC`,
/// the limits' initial values), the time being the guest's realtime clock.
/// Changes would move the host's clock: refused (`EPERM`) whatever the
/// caller's capabilities.
pub fn adjtimex([buf, ..]: Args) -> SysResult {
    adjust_realtime(buf)
}

/// `clock_adjtime`: `adjtimex` for CLOCK_REALTIME; no other clock is adjustable.
pub fn clock_adjtime([clock, buf, ..]: Args) -> SysResult {
    match clock {
        0 => adjust_realtime(buf),
        _ => {
            clock_ns(clock)?;
            Err(crate::errno::Errno(95)) // EOPNOTSUPP
        }
    }
}

fn adjust_realtime(buf: u64) -> SysResult {
    const TIMEX_SIZE: usize = 208;
    const ADJ_OFFSET_SINGLESHOT: u32 = 0x0001;
    const ADJ_OFFSET_SS_READ: u32 = 0xa001;
    const ADJ_ADJTIME: u32 = 0x8000;
    const STA_UNSYNC: i32 = 0x40;
    const TIME_ERROR: u64 = 5;
    const NTP_PHASE_LIMIT: i64 = 16_000_000;
    let mut t = [0u8; TIMEX_SIZE];
    mm::copy_from_user(buf, &mut t)?;
    let modes = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    if modes & ADJ_ADJTIME != 0 && modes != ADJ_OFFSET_SS_READ && modes & ADJ_OFFSET_SINGLESHOT == 0 {
        return Err(crate::errno::EINVAL);
    }
    if modes != 0 && modes != ADJ_OFFSET_SS_READ {
        return Err(crate::errno::EPERM);
    }
    let now = crate::time::realtime_ns();
    let mut put = |at: usize, v: i64| t[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put(8, 0); // offset
    put(16, 0); // freq
    put(24, NTP_PHASE_LIMIT); // maxerror
    put(32, NTP_PHASE_LIMIT); // esterror
    put(48, 2); // constant
    put(56, 1); // precision (µs)
    put(64, 32_768_000); // tolerance (500 ppm, scaled)
    put(72, (now / 1_000_000_000) as i64);
    put(80, ((now % 1_000_000_000) / 1000) as i64);
    put(88, 10_000); // tick (µs, USER_HZ 100)
    for at in [96, 104, 120, 128, 136, 144, 152] {
        put(at, 0);
    }
    t[40..44].copy_from_slice(&STA_UNSYNC.to_le_bytes());
    t[112..116].copy_from_slice(&0i32.to_le_bytes());
    t[160..164].copy_from_slice(&0i32.to_le_bytes());
    mm::copy_to_user(buf, &t)?;
    Ok(TIME_ERROR)
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
