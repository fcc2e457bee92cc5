//! Signal syscalls: actions, masks, waiting for signals, sending them, and
//! the timers that send them. The machinery is in `crate::signal`.
use super::process::pid;
use super::time::{read_timespec, timespec_ns};
use super::Args;
use crate::errno::{SysResult, EAGAIN, EINTR, EINVAL, EOPNOTSUPP, ERESTARTNOHAND, ESRCH};
use crate::signal::timers::{self, Notify, Timer, ITIMER_REAL_ID, MAX_TIMERS};
use crate::signal::{self, Action, Queued, SIGKILL, SIGSTOP, SI_QUEUE, SI_TKILL, SI_USER, UNBLOCKABLE};
use crate::{mm, sched, time};
use hx_abi::uapi;

const NS: u64 = 1_000_000_000;

fn valid_signal(sig: u64) -> Result<u32, crate::errno::Errno> {
    if (1..=signal::NSIG as u64).contains(&sig) {
        Ok(sig as u32)
    } else {
        Err(EINVAL)
    }
}

/// A CPU-time clock id (`~pid << 3 | kind`, bit 2 for a thread; what the C
/// library passes for `CLOCK_*_CPUTIME_ID`) as a timer's clock and thread:
/// this process's, or one of its threads'.
fn cpu_timer_clock(clock: i32) -> Result<(u64, u32), crate::errno::Errno> {
    if clock & 3 == 3 {
        return Err(EINVAL);
    }
    let id = !(clock >> 3) as u32;
    if clock & 4 != 0 {
        let tid = if id == 0 { sched::current().tid } else { id };
        sched::thread(tid).ok_or(EINVAL)?;
        return Ok((timers::CLOCK_THREAD_CPUTIME_ID, tid));
    }
    if id == 0 || id as u64 == pid() {
        return Ok((timers::CLOCK_PROCESS_CPUTIME_ID, 0));
    }
    Err(EINVAL)
}

pub fn rt_sigaction([sig, act, oldact, sigsetsize, ..]: Args) -> SysResult {
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let sig = valid_signal(sig)?;
    if act != 0 && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(EINVAL);
    }
    let new = if act != 0 {
        let a: uapi::sigaction = mm::read_user(act)?;
        Some(Action {
            handler: a.sa_handler,
            flags: a.sa_flags,
            restorer: a.sa_restorer,
            mask: a.sa_mask & !UNBLOCKABLE,
        })
    } else {
        None
    };
    let old = signal::set_action(sig, new);
    if oldact != 0 {
        let a = uapi::sigaction {
            sa_handler: old.handler,
            sa_flags: old.flags,
            sa_restorer: old.restorer,
            sa_mask: old.mask,
        };
        mm::write_user(oldact, &a)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask([how, set, oldset, sigsetsize, ..]: Args) -> SysResult {
    const SIG_BLOCK: u64 = 0;
    const SIG_UNBLOCK: u64 = 1;
    const SIG_SETMASK: u64 = 2;
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let new: Option<u64> = if set != 0 { Some(mm::read_user(set)?) } else { None };
    let t = sched::current();
    let previous = {
        let mut s = t.signals.lock();
        let previous = s.mask;
        if let Some(n) = new {
            s.mask = match how {
                SIG_BLOCK => previous | n,
                SIG_UNBLOCK => previous & !n,
                SIG_SETMASK => n,
                _ => return Err(EINVAL),
            } & !UNBLOCKABLE;
        }
        previous
    };
    if oldset != 0 {
        mm::write_user(oldset, &previous)?;
    }
    Ok(0)
}

pub fn rt_sigpending([set, sigsetsize, ..]: Args) -> SysResult {
    if sigsetsize > 8 {
        return Err(EINVAL);
    }
    let t = sched::current();
    let mine = t.signals.lock().pending.set;
    let all = (mine | signal::process_pending()) & t.signals.lock().mask;
    mm::copy_to_user(set, &all.to_le_bytes()[..sigsetsize as usize])?;
    Ok(0)
}

/// Blocks until a signal is taken. `sigsuspend`, `pause`.
fn wait_for_signal() -> SysResult {
    while !signal::pending() {
        sched::block(None);
    }
    Err(ERESTARTNOHAND)
}

pub fn rt_sigsuspend([mask, sigsetsize, ..]: Args) -> SysResult {
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let m: u64 = mm::read_user(mask)?;
    let t = sched::current();
    {
        let mut s = t.signals.lock();
        s.saved_mask = Some(s.mask);
        s.mask = m & !UNBLOCKABLE;
    }
    wait_for_signal()
}

pub fn pause(_: Args) -> SysResult {
    wait_for_signal()
}

pub fn rt_sigtimedwait([set, info, timeout, sigsetsize, ..]: Args) -> SysResult {
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let wanted: u64 = mm::read_user::<u64>(set)? & !UNBLOCKABLE;
    let deadline = if timeout != 0 { Some(time::monotonic_ns().saturating_add(read_timespec(timeout)?)) } else { None };
    let t = sched::current();
    t.signals.lock().waiting = wanted;
    let result = loop {
        if let Some(q) = signal::dequeue_from(wanted) {
            if info != 0 {
                mm::write_user(info, &q.info)?;
            }
            break Ok(q.sig as u64);
        }
        if signal::pending() {
            break Err(EINTR);
        }
        if sched::block(deadline) == sched::Wake::TimedOut {
            break Err(EAGAIN);
        }
    };
    t.signals.lock().waiting = 0;
    result
}

pub fn rt_sigreturn(_: Args) -> SysResult {
    let t = sched::current();
    // SAFETY: the frame of the current thread's entry, at its kernel stack top.
    let frame = unsafe { &mut *t.frame() };
    signal::frame::sigreturn(frame, t)
}

pub fn sigaltstack([ss, old, ..]: Args) -> SysResult {
    let t = sched::current();
    // SAFETY: the current thread's entry frame.
    let sp = unsafe { (*t.frame()).rsp };
    let on = signal::on_altstack(sp);
    let current = t.signals.lock().altstack;
    if ss != 0 {
        if on {
            return Err(crate::errno::EPERM);
        }
        let s: uapi::stack_t = mm::read_user(ss)?;
        signal::set_altstack(t, s.ss_sp as u64, s.ss_flags as u32, s.ss_size)?;
    }
    if old != 0 {
        let flags = if on { signal::frame::SS_ONSTACK } else { current.1 };
        let s =
            uapi::stack_t { ss_sp: current.0 as *mut core::ffi::c_void, ss_flags: flags as i32, ss_size: current.2 };
        mm::write_user(old, &s)?;
    }
    Ok(0)
}

/// `kill`: this process is signalled here; others (a pid, a group, or every
/// process for -1) through the monitors.
pub fn kill([target, sig, ..]: Args) -> SysResult {
    let target = target as i32 as i64;
    let me = pid() as i64;
    if sig > 64 {
        return Err(EINVAL);
    }
    // -INT_MIN names no process group (Linux: ESRCH).
    if target == i64::from(i32::MIN) {
        return Err(ESRCH);
    }
    let local = match target {
        p if p == me => true,
        0 => true,
        -1 => false,
        p if p < -1 => super::process::getpgrp([0; 6]).is_ok_and(|g| g as i64 == -p),
        _ => false,
    };
    let remote = target != me;
    let mut found = local;
    if remote {
        let cap_kill = u64::from(super::cred::capable(hx_abi::uapi::CAP_KILL));
        match crate::host::simple(hx_abi::hypercall::op::KILL, &[target as u64, sig, cap_kill]) {
            Ok(_) => found = true,
            Err(e) if !local => return Err(e),
            Err(_) => {}
        }
    }
    if !found {
        return Err(ESRCH);
    }
    if local && sig != 0 {
        if let Some(q) = signal::limit_queue(Queued::from_user(valid_signal(sig)?, SI_USER), None)? {
            signal::send_process(q);
        }
    }
    Ok(0)
}

fn to_thread(tid: u64, sig: u64, q: Queued) -> SysResult {
    let t = sched::thread(tid as u32).ok_or(ESRCH)?;
    if sig != 0 {
        if let Some(q) = signal::limit_queue(q, Some(&t))? {
            signal::send_thread(&t, q);
        }
    }
    Ok(0)
}

pub fn tkill([tid, sig, ..]: Args) -> SysResult {
    if (tid as i32) <= 0 {
        return Err(EINVAL);
    }
    let q = if sig == 0 { Queued::new(1, 0) } else { Queued::from_user(valid_signal(sig)?, SI_TKILL) };
    to_thread(tid, sig, q)
}

pub fn tgkill([tgid, tid, sig, ..]: Args) -> SysResult {
    // pid_t arguments: only their low 32 bits count.
    if (tid as i32) <= 0 || (tgid as i32) <= 0 {
        return Err(EINVAL);
    }
    if tgid as u32 as u64 != pid() {
        return Err(ESRCH);
    }
    tkill([tid, sig, 0, 0, 0, 0])
}

/// `rt_sigqueueinfo`: a signal with the caller's `siginfo` (its code must not pose as the kernel's).
pub fn rt_sigqueueinfo([tgid, sig, info, ..]: Args) -> SysResult {
    if sig == 0 {
        // Signal 0: the checks alone (the siginfo's, then the target's existence and permission).
        user_queued(32, info, tgid == sched::current().tid as u64)?;
        if tgid == 0 || tgid > i32::MAX as u64 {
            return Err(ESRCH);
        }
        return kill([tgid, 0, 0, 0, 0, 0]);
    }
    // As Linux, the id may name any thread of the process: the signal is the process's.
    let q = user_queued(sig, info, tgid == sched::current().tid as u64)?;
    if tgid != pid() && (tgid == 0 || tgid > u32::MAX as u64 || sched::thread(tgid as u32).is_none()) {
        if tgid == 0 || tgid > i32::MAX as u64 {
            return Err(ESRCH);
        }
        // Another process: its monitor checks the permission and queues the
        // siginfo for it.
        let info = q.info_bytes();
        let cap_kill = u64::from(super::cred::capable(hx_abi::uapi::CAP_KILL));
        let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::KILL);
        req.args = [tgid, sig, cap_kill, hx_abi::hypercall::KILL_WITH_INFO, 0, 0, 0, 0];
        req.segs[0] = crate::host::kernel_segment(info.as_ptr() as u64, info.len());
        req.nsegs = 1;
        let r = crate::host::call(&mut req);
        return if r < 0 { Err(crate::errno::Errno(-r)) } else { Ok(0) };
    }
    if let Some(q) = signal::limit_queue(q, None)? {
        signal::send_process(q);
    }
    Ok(0)
}

pub fn rt_tgsigqueueinfo([tgid, tid, sig, info, ..]: Args) -> SysResult {
    if tgid != pid() {
        return Err(ESRCH);
    }
    let q = user_queued(sig, info, tid == sched::current().tid as u64)?;
    to_thread(tid, sig, q)
}

/// A program's own siginfo: a code the kernel would send (>= 0, or
/// SI_TKILL) only to the calling thread itself, as Linux allows.
fn user_queued(sig: u64, info: u64, to_self: bool) -> Result<Queued, crate::errno::Errno> {
    let sig = valid_signal(sig)?;
    let mut q = Queued::new(sig, SI_QUEUE);
    q.info = mm::read_user(info)?;
    let code = q.code();
    if (code >= 0 || code == SI_TKILL) && !to_self {
        return Err(crate::errno::EPERM);
    }
    q.set_signo(sig);
    Ok(q)
}

fn timespec(ns: u64) -> uapi::timespec {
    uapi::timespec { tv_sec: (ns / NS) as i64, tv_nsec: (ns % NS) as i64 }
}

/// The `setitimer` timer `which` (ITIMER_REAL, _VIRTUAL, _PROF): its id, made on first use.
/// VIRTUAL and PROF both count the program's CPU time (hx does not split user from kernel time).
fn itimer(which: u64) -> Result<i32, crate::errno::Errno> {
    const SIGVTALRM: u32 = 26;
    const SIGPROF: u32 = 27;
    let (id, clock, sig) = match which {
        0 => (ITIMER_REAL_ID, 1, signal::SIGALRM),
        1 => (timers::ITIMER_VIRTUAL_ID, timers::CLOCK_PROCESS_CPUTIME_ID, SIGVTALRM),
        2 => (timers::ITIMER_PROF_ID, timers::CLOCK_PROCESS_CPUTIME_ID, SIGPROF),
        _ => return Err(EINVAL),
    };
    timers::TIMERS.lock().entry(id).or_insert(Timer {
        clock,
        deadline: 0,
        interval: 0,
        notify: Notify::Process { sig, value: 0 },
        overrun: 0,
        carried: 0,
        thread: 0,
    });
    Ok(id)
}

pub fn alarm([secs, ..]: Args) -> SysResult {
    let id = itimer(0)?;
    let (left, _) = timers::set(id, secs.min(u32::MAX as u64) * NS, 0).unwrap_or((0, 0));
    // Rounded to the nearest second, at least 1 if armed (as Linux).
    Ok(if left == 0 { 0 } else { left.div_ceil(NS).max(1) })
}

/// `struct itimerval` as (value, interval) ns.
fn read_itimerval(ptr: u64) -> Result<(u64, u64), crate::errno::Errno> {
    let v: uapi::itimerval = mm::read_user(ptr)?;
    let ns = |t: uapi::timeval| {
        if t.tv_sec < 0 || !(0..1_000_000).contains(&t.tv_usec) {
            return Err(EINVAL);
        }
        Ok((t.tv_sec as u64).saturating_mul(NS).saturating_add(t.tv_usec as u64 * 1000))
    };
    Ok((ns(v.it_value)?, ns(v.it_interval)?))
}

fn write_itimerval(ptr: u64, (value, interval): (u64, u64)) -> SysResult {
    // Rounded up, as Linux does, so an armed timer never reads as zero.
    let tv = |ns: u64| uapi::timeval { tv_sec: (ns / NS) as i64, tv_usec: (ns % NS).div_ceil(1000) as i64 };
    mm::write_user(ptr, &uapi::itimerval { it_interval: tv(interval), it_value: tv(value) })?;
    Ok(0)
}

pub fn setitimer([which, new, old, ..]: Args) -> SysResult {
    let id = itimer(which)?;
    let previous = if new != 0 {
        let (value, interval) = read_itimerval(new)?;
        timers::set(id, value, interval).unwrap_or((0, 0))
    } else {
        timers::get(id).unwrap_or((0, 0))
    };
    if old != 0 {
        write_itimerval(old, previous)?;
    }
    Ok(0)
}

pub fn getitimer([which, cur, ..]: Args) -> SysResult {
    let id = itimer(which)?;
    write_itimerval(cur, timers::get(id).unwrap_or((0, 0)))
}

pub fn timer_create([clock, sevp, id_out, ..]: Args) -> SysResult {
    const SIGEV_SIGNAL: i32 = 0;
    const SIGEV_NONE: i32 = 1;
    const SIGEV_THREAD_ID: i32 = 4;
    const SIGEV_THREAD: i32 = 2;
    let (clock, thread) = match clock {
        // REALTIME, MONOTONIC, PROCESS_CPUTIME_ID, BOOTTIME, TAI
        0..=2 | 7 | 11 => (clock, 0),
        3 => (timers::CLOCK_THREAD_CPUTIME_ID, sched::current().tid),
        8 | 9 => return Err(EOPNOTSUPP), // the _ALARM clocks: no wake-up clock here, as on a host without an RTC
        c if (c as i32) < 0 => cpu_timer_clock(c as i32)?,
        _ => return Err(EINVAL),
    };
    let mut timers_map = timers::TIMERS.lock();
    if timers_map.len() >= MAX_TIMERS {
        return Err(EAGAIN);
    }
    let id = (0..).find(|i| !timers_map.contains_key(i)).unwrap_or(0);
    let notify = if sevp == 0 {
        Notify::Process { sig: signal::SIGALRM, value: id as u64 }
    } else {
        let ev: uapi::sigevent = mm::read_user(sevp)?;
        // SAFETY: both union members are plain data; the value is kept as the bits it is.
        let value = unsafe { ev.sigev_value.sival_ptr } as u64;
        let sig = ev.sigev_signo as u32;
        // SAFETY: `_tid` is an int inside a union of plain data.
        let tid = unsafe { ev._sigev_un._tid } as u64;
        match ev.sigev_notify {
            SIGEV_NONE => Notify::None,
            // SIGEV_THREAD is the C library's: to the kernel it is a signal, as SIGEV_SIGNAL.
            SIGEV_SIGNAL | SIGEV_THREAD => Notify::Process { sig: valid_signal(sig as u64)?, value },
            SIGEV_THREAD_ID => {
                let tid = tid as u32;
                if sched::thread(tid).is_none() {
                    return Err(EINVAL);
                }
                Notify::Thread { tid, sig: valid_signal(sig as u64)?, value }
            }
            _ => return Err(EINVAL),
        }
    };
    mm::write_user(id_out, &id)?;
    timers_map.insert(id, Timer { clock, deadline: 0, interval: 0, notify, overrun: 0, carried: 0, thread });
    Ok(0)
}

pub fn timer_settime([id, flags, new, old, ..]: Args) -> SysResult {
    const TIMER_ABSTIME: u64 = 1;
    let id = id as i32;
    if id < 0 {
        return Err(EINVAL);
    }
    if new == 0 {
        return Err(EINVAL);
    }
    let spec: uapi::itimerspec = mm::read_user(new)?;
    let interval = timespec_ns(spec.it_interval)?;
    let mut value = timespec_ns(spec.it_value)?;
    let mut late = 0;
    if flags & TIMER_ABSTIME != 0 && value != 0 {
        let clock = timers::TIMERS.lock().get(&id).map(|t| t.clock).ok_or(EINVAL)?;
        let now = match clock {
            0 => time::realtime_ns(),
            11 => time::realtime_ns() + 37_000_000_000, // TAI, as clock_gettime reads it
            _ => timers::clock_now(id).ok_or(EINVAL)?,
        };
        late = now.saturating_sub(value);
        value = value.saturating_sub(now).max(1);
    }
    let previous = timers::set_at(id, value, late, interval).ok_or(EINVAL)?;
    if old != 0 {
        write_itimerspec(old, previous)?;
    }
    Ok(0)
}

fn write_itimerspec(ptr: u64, (value, interval): (u64, u64)) -> SysResult {
    mm::write_user(ptr, &uapi::itimerspec { it_interval: timespec(interval), it_value: timespec(value) })?;
    Ok(0)
}

pub fn timer_gettime([id, cur, ..]: Args) -> SysResult {
    let v = timers::get(id as i32).ok_or(EINVAL)?;
    write_itimerspec(cur, v)
}

pub fn timer_getoverrun([id, ..]: Args) -> SysResult {
    timers::TIMERS.lock().get(&(id as i32)).map(|t| t.overrun as u64).ok_or(EINVAL)
}

pub fn timer_delete([id, ..]: Args) -> SysResult {
    let id = id as i32;
    if id < 0 || timers::TIMERS.lock().remove(&id).is_none() {
        return Err(EINVAL);
    }
    timers::rearm();
    Ok(0)
}

/// The program sends itself `sig` (`SIGPIPE` from a write).
pub fn raise(sig: u32) {
    if let Some(t) = sched::thread(sched::current().tid) {
        signal::send_thread(&t, Queued::new(sig, SI_USER));
    }
}
