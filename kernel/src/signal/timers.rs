//! Timers that send signals: `alarm`/`setitimer(ITIMER_REAL)` and POSIX
//! `timer_create` timers, on the scheduler's clock.
use super::{Queued, SI_KERNEL, SI_TIMER};
use crate::{sched, time};
use alloc::collections::BTreeMap;
use spin::Mutex;

#[derive(Clone, Copy)]
pub enum Notify {
    None,
    /// `RLIMIT_CPU` reached (see [`arm_cpu_limit`]).
    CpuLimit,
    Process {
        sig: u32,
        value: u64,
    },
    Thread {
        tid: u32,
        sig: u32,
        value: u64,
    },
}

#[derive(Clone, Copy)]
pub struct Timer {
    /// Which clock it counts (`CLOCK_*`: realtime timers still run on the monotonic clock here).
    pub clock: u64,
    /// Next expiry, monotonic ns (0: disarmed), and the period (0: one-shot).
    pub deadline: u64,
    pub interval: u64,
    pub notify: Notify,
    pub overrun: u32,
    /// The thread whose CPU time a `CLOCK_THREAD_CPUTIME_ID` timer counts.
    pub thread: u32,
    /// Periods an absolute expiry set in the past had already missed: the
    /// first expiry reports them (monotonic time may not reach back that far).
    pub carried: u64,
}

/// The `setitimer` timers' ids in [`TIMERS`] (POSIX timers count from 0).
pub const ITIMER_REAL_ID: i32 = -1;
pub const ITIMER_VIRTUAL_ID: i32 = -2;
pub const ITIMER_PROF_ID: i32 = -3;
/// The `RLIMIT_CPU` watch: a CPU-time timer at the soft limit.
const CPU_LIMIT_ID: i32 = -4;

/// Watches the program's CPU time against `RLIMIT_CPU` (seconds; `u64::MAX`:
/// none): at the soft limit SIGXCPU, then another each further second
/// (Linux raises the soft limit by one each time), SIGKILL at the hard one.
pub fn arm_cpu_limit(soft: u64, hard: u64) {
    let mut timers = TIMERS.lock();
    let limit = soft.min(hard);
    if limit == u64::MAX {
        timers.remove(&CPU_LIMIT_ID);
    } else {
        let deadline = limit.saturating_mul(1_000_000_000).max(1);
        timers.insert(
            CPU_LIMIT_ID,
            Timer {
                clock: CLOCK_PROCESS_CPUTIME_ID,
                deadline,
                interval: 0,
                notify: Notify::CpuLimit,
                overrun: 0,
                thread: 0,
                carried: 0,
            },
        );
    }
    drop(timers);
    rearm();
}

/// The CPU-time limit fired: SIGKILL at the hard limit, else SIGXCPU and
/// the soft limit one second further, as Linux's `check_rlimit`.
fn cpu_limit_reached() {
    const SIGXCPU: u32 = 24;
    let (soft, hard) = crate::syscall::process::limits()[0];
    let used = sched::process_cpu_ns() / 1_000_000_000;
    if hard != u64::MAX && used >= hard {
        super::send_process(Queued::new(super::SIGKILL, SI_KERNEL));
        return;
    }
    super::send_process(Queued::new(SIGXCPU, SI_KERNEL));
    if soft < hard {
        crate::syscall::process::raise_cpu_soft_limit(soft + 1);
    }
    let (soft, hard) = crate::syscall::process::limits()[0];
    arm_cpu_limit(if soft <= used { used + 1 } else { soft }, hard);
}
/// A timer on this clock counts the program's CPU time.
pub const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
/// ...and on this one, its thread's (a thread that ended counts no more).
pub const CLOCK_THREAD_CPUTIME_ID: u64 = 3;

fn counts_cpu(clock: u64) -> bool {
    matches!(clock, CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID)
}

/// Now on a timer's clock (`cpu`: the program's CPU time, if read already).
fn now_for(t: &Timer, cpu: Option<u64>) -> u64 {
    match t.clock {
        CLOCK_PROCESS_CPUTIME_ID => cpu.unwrap_or_else(sched::process_cpu_ns),
        CLOCK_THREAD_CPUTIME_ID => sched::thread(t.thread).map_or(0, |th| th.cpu_time()),
        _ => time::monotonic_ns(),
    }
}

/// Now on the clock of timer `id`.
pub fn clock_now(id: i32) -> Option<u64> {
    TIMERS.lock().get(&id).map(|t| now_for(t, None))
}
pub const MAX_TIMERS: usize = 1024;

pub static TIMERS: Mutex<BTreeMap<i32, Timer>> = Mutex::new(BTreeMap::new());

/// Tells the scheduler the earliest expiry.
pub fn rearm() {
    let now = time::monotonic_ns();
    // A CPU-time timer cannot fire before its CPU time could have passed in wall time: look then.
    let next = TIMERS
        .lock()
        .values()
        .filter(|t| t.deadline != 0)
        .map(|t| match counts_cpu(t.clock) {
            true => now.saturating_add(t.deadline.saturating_sub(now_for(t, None)).max(1_000_000)),
            false => t.deadline,
        })
        .min();
    // timerfds wake their readers and pollers through the same deadline.
    sched::set_signal_timer_deadline(next.unwrap_or(u64::MAX).min(crate::fs::timerfd::next_deadline()));
}

/// Fires every timer that is due.
pub fn run_due() {
    let wall = time::monotonic_ns();
    let cpu = sched::process_cpu_ns();
    let mut fired = alloc::vec::Vec::new();
    {
        let mut timers = TIMERS.lock();
        for (&id, t) in timers.iter_mut() {
            let now = match t.clock {
                CLOCK_PROCESS_CPUTIME_ID => cpu,
                CLOCK_THREAD_CPUTIME_ID => now_for(t, None),
                _ => wall,
            };
            if t.deadline == 0 || t.deadline > now {
                continue;
            }
            if let Some(missed) = (now - t.deadline).checked_div(t.interval) {
                let missed = missed.saturating_add(core::mem::take(&mut t.carried));
                t.overrun = missed.min(i32::MAX as u64) as u32;
                t.deadline += (missed + 1) * t.interval;
            } else {
                t.deadline = 0;
            }
            fired.push((id, t.notify, t.overrun));
        }
    }
    crate::fs::timerfd::run_due(wall);
    rearm();
    if fired.is_empty() {
        return;
    }
    for (id, notify, overrun) in fired {
        match notify {
            Notify::None => {}
            Notify::CpuLimit => cpu_limit_reached(),
            Notify::Process { sig, value } => super::send_process(queued(id, sig, value, overrun)),
            Notify::Thread { tid, sig, value } => {
                if let Some(t) = sched::thread(tid) {
                    super::send_thread(&t, queued(id, sig, value, overrun));
                }
            }
        }
    }
}

fn queued(id: i32, sig: u32, value: u64, overrun: u32) -> Queued {
    if id < 0 {
        return Queued::new(sig, SI_KERNEL);
    }
    let mut q = Queued::new(sig, SI_TIMER);
    q.set_timer(id, overrun.min(i32::MAX as u32) as i32, value);
    q
}

/// Arms (or with `value` 0 disarms) timer `id`; returns the old (remaining, interval).
pub fn set(id: i32, value: u64, interval: u64) -> Option<(u64, u64)> {
    set_at(id, value, 0, interval)
}

/// `set` for an absolute expiry already `late` ns in the past: it fires at
/// once, and its overruns count from that expiry (as Linux counts them).
pub fn set_at(id: i32, value: u64, late: u64, interval: u64) -> Option<(u64, u64)> {
    let old = {
        let mut timers = TIMERS.lock();
        let t = timers.get_mut(&id)?;
        let now = now_for(t, None);
        let old = (if t.deadline == 0 { 0 } else { t.deadline.saturating_sub(now).max(1) }, t.interval);
        t.carried = 0;
        t.deadline = match (value, late) {
            (0, _) => 0,
            (_, 0) => now.saturating_add(value),
            // Periodic: the last expiry due (after `now - interval`), with
            // the earlier ones counted as overruns.
            (_, late) if interval > 0 => {
                t.carried = late / interval;
                now.saturating_sub(late % interval).max(1)
            }
            (_, late) => now.saturating_sub(late).max(1),
        };
        t.interval = interval;
        t.overrun = 0;
        old
    };
    rearm();
    Some(old)
}

/// (remaining, interval) of timer `id`.
pub fn get(id: i32) -> Option<(u64, u64)> {
    TIMERS.lock().get(&id).map(|t| {
        let now = now_for(t, None);
        (if t.deadline == 0 { 0 } else { t.deadline.saturating_sub(now).max(1) }, t.interval)
    })
}
