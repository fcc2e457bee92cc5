//! timerfd: a timer read as a descriptor. A read returns how many times it
//! expired since it was set or last read, and blocks until it has.
//!
//! Deadlines are kept on the monotonic clock. CLOCK_BOOTTIME is the
//! monotonic clock here (a guest does not suspend); a CLOCK_REALTIME
//! absolute time is turned into a monotonic deadline when the timer is set
//! (the guest's realtime clock is the host's as read at boot, carried on by
//! the TSC: it never jumps, and the guest cannot set it). For the same reason
//! TFD_TIMER_CANCEL_ON_SET is accepted and never fires: no clock change is
//! ever there to report.
//!
//! Expiries are counted when looked at (a read, poll, `timerfd_gettime`),
//! from the deadline and the interval. What wakes blocked readers and
//! pollers on time is one deadline the signal timers publish to the
//! scheduler ([`next_deadline`], [`run_due`]): the earliest deadline of a
//! timer with nothing to read, so that, as on Linux, an interval timer
//! nobody reads costs one wake-up, not one per period.
use super::anon::{self, Anon, POLLIN};
use crate::errno::{Errno, SysResult, EAGAIN, EINVAL, EPERM};
use crate::sched::Thread;
use crate::syscall::Args;
use crate::{mm, time};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::uapi::{
    itimerspec, timespec, CAP_WAKE_ALARM, TFD_CLOEXEC, TFD_NONBLOCK, TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET,
};
use spin::Mutex;

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_BOOTTIME: u64 = 7;
const CLOCK_REALTIME_ALARM: u64 = 8;
const CLOCK_BOOTTIME_ALARM: u64 = 9;
const NS: u64 = 1_000_000_000;

pub struct TimerFd {
    clock: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The next expiry not yet counted, monotonic ns (0: disarmed).
    deadline: u64,
    /// The period (0: one-shot).
    interval: u64,
    /// Expiries counted and not yet read.
    ticks: u64,
    /// Times the count went from 0 to more (Linux's wake-ups, for epoll).
    fired: u64,
    waiters: Vec<Arc<Thread>>,
}

impl State {
    /// Counts the expiries up to `now`; returns the threads to wake if the
    /// timer became readable.
    fn catch_up(&mut self, now: u64) -> Option<Vec<Arc<Thread>>> {
        if self.deadline == 0 || now < self.deadline {
            return None;
        }
        let n = match (now - self.deadline).checked_div(self.interval) {
            Some(periods) => {
                let n = periods + 1;
                self.deadline = self.deadline.saturating_add(n.saturating_mul(self.interval)).max(1);
                n
            }
            None => {
                self.deadline = 0;
                1
            }
        };
        let was_zero = self.ticks == 0;
        self.ticks = self.ticks.saturating_add(n);
        if !was_zero {
            return None;
        }
        self.fired += 1;
        Some(core::mem::take(&mut self.waiters))
    }

    /// (time left, interval), as `timerfd_gettime` reports them.
    fn current(&self, now: u64) -> (u64, u64) {
        let left = if self.deadline == 0 { 0 } else { self.deadline.saturating_sub(now).max(1) };
        (left, self.interval)
    }
}

fn waiters(s: &mut State) -> &mut Vec<Arc<Thread>> {
    &mut s.waiters
}

/// Every timerfd there is (dead ones are dropped as the list is walked).
static ALL: Mutex<Vec<Weak<TimerFd>>> = Mutex::new(Vec::new());
/// The earliest deadline of a timer with nothing to read (u64::MAX: none).
static NEXT: AtomicU64 = AtomicU64::new(u64::MAX);

/// For the signal timers: the earliest moment a timerfd wakes someone.
pub fn next_deadline() -> u64 {
    NEXT.load(Ordering::Relaxed)
}

/// Counts what expired by `now` on every timerfd, wakes their readers and
/// pollers, and works out the next deadline (the signal timers call this
/// when [`next_deadline`] is due, then publish the new one).
pub fn run_due(now: u64) {
    if NEXT.load(Ordering::Relaxed) > now {
        return;
    }
    for t in live() {
        t.expire(now);
    }
    update_next();
}

/// The live timerfds. (A `TimerFd` has no `Drop` of its own: the last
/// reference may go while the list is locked.)
fn live() -> Vec<Arc<TimerFd>> {
    let mut all = ALL.lock();
    all.retain(|w| w.strong_count() > 0);
    all.iter().filter_map(Weak::upgrade).collect()
}

/// Works out [`NEXT`] again. The store happens under the list's lock, after
/// every state was read, so the last store follows the last change.
fn update_next() {
    let all = ALL.lock();
    let mut next = u64::MAX;
    for t in all.iter().filter_map(Weak::upgrade) {
        let s = t.state.lock();
        if s.ticks == 0 && s.deadline != 0 {
            next = next.min(s.deadline);
        }
    }
    NEXT.store(next, Ordering::Relaxed);
}

/// The deadline changed: tell the scheduler (through the signal timers).
fn republish() {
    update_next();
    crate::signal::timers::rearm();
}

impl TimerFd {
    /// Counts expiries up to `now`, waking readers and pollers if it became readable.
    fn expire(&self, now: u64) {
        let woken = self.state.lock().catch_up(now);
        if let Some(w) = woken {
            anon::wake(w);
        }
    }

    pub fn read(&self, buf: u64, count: u64, nonblock: bool) -> SysResult {
        if count < 8 {
            return Err(EINVAL);
        }
        anon::writable(buf, 8)?;
        loop {
            let now = time::monotonic_ns();
            self.expire(now);
            let mut s = self.state.lock();
            if s.ticks > 0 {
                let ticks = core::mem::take(&mut s.ticks);
                drop(s);
                // An interval timer is due to wake someone again.
                republish();
                mm::copy_to_user(buf, &ticks.to_ne_bytes())?;
                return Ok(8);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            let deadline = (s.deadline != 0).then_some(s.deadline);
            anon::wait(s, waiters, deadline)?;
        }
    }

    pub fn readiness(&self) -> i16 {
        self.expire(time::monotonic_ns());
        if self.state.lock().ticks > 0 {
            POLLIN
        } else {
            0
        }
    }

    pub fn edges(&self) -> u64 {
        self.state.lock().fired
    }

    /// Monotonic ns for an absolute time on this timer's clock.
    fn deadline_of(&self, abs: u64) -> u64 {
        match self.clock {
            CLOCK_REALTIME | CLOCK_REALTIME_ALARM => {
                // One offset between the two clocks (see the module's notes).
                let (rt, mono) = (time::realtime_ns(), time::monotonic_ns());
                abs.saturating_sub(rt.saturating_sub(mono))
            }
            _ => abs,
        }
    }
}

fn timespec_of(ns: u64) -> timespec {
    timespec { tv_sec: (ns / NS) as i64, tv_nsec: (ns % NS) as i64 }
}

fn write_itimerspec(ptr: u64, (value, interval): (u64, u64)) -> Result<(), Errno> {
    mm::write_user(ptr, &itimerspec { it_interval: timespec_of(interval), it_value: timespec_of(value) })
}

fn timerfd(fd: u64) -> Result<Arc<TimerFd>, Errno> {
    match anon::get(fd)? {
        Anon::Timer(t) => Ok(t),
        _ => Err(EINVAL),
    }
}

pub fn timerfd_create([clock, flags, ..]: Args) -> SysResult {
    if flags & !((TFD_CLOEXEC | TFD_NONBLOCK) as u64) != 0 {
        return Err(EINVAL);
    }
    match clock {
        CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME => {}
        CLOCK_REALTIME_ALARM | CLOCK_BOOTTIME_ALARM => {
            if !crate::syscall::cred::capable(CAP_WAKE_ALARM) {
                return Err(EPERM);
            }
        }
        _ => return Err(EINVAL),
    }
    let t = Arc::new(TimerFd { clock, state: Mutex::new(State::default()) });
    let mut all = ALL.lock();
    all.retain(|w| w.strong_count() > 0);
    all.push(Arc::downgrade(&t));
    drop(all);
    anon::install(Anon::Timer(t), flags)
}

pub fn timerfd_settime([fd, flags, new, old, ..]: Args) -> SysResult {
    let spec: itimerspec = mm::read_user(new)?;
    if flags & !((TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) as u64) != 0 {
        return Err(EINVAL);
    }
    let value = crate::syscall::time::timespec_ns(spec.it_value)?;
    let interval = crate::syscall::time::timespec_ns(spec.it_interval)?;
    let t = timerfd(fd)?;
    let now = time::monotonic_ns();
    let deadline = match value {
        0 => 0,
        v if flags & TFD_TIMER_ABSTIME as u64 != 0 => t.deadline_of(v).max(1),
        v => now.saturating_add(v),
    };
    t.expire(now);
    let (previous, woken) = {
        let mut s = t.state.lock();
        let previous = s.current(now);
        s.deadline = deadline;
        s.interval = interval;
        s.ticks = 0;
        // Blocked readers wait for the old deadline: they look again.
        (previous, core::mem::take(&mut s.waiters))
    };
    anon::wake(woken);
    republish();
    if old != 0 {
        write_itimerspec(old, previous)?;
    }
    Ok(0)
}

pub fn timerfd_gettime([fd, cur, ..]: Args) -> SysResult {
    let t = timerfd(fd)?;
    let now = time::monotonic_ns();
    t.expire(now);
    let current = t.state.lock().current(now);
    write_itimerspec(cur, current)?;
    Ok(0)
}
