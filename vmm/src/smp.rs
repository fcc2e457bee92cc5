//! Several vCPUs: one host thread each, and what they do for one another.
//!
//! A vCPU with nothing to run blocks in `IDLE` until a `KICK` (or its next
//! timer); a vCPU that must stop where it is — to take a time slice away, to
//! notice a signal, to drop stale TLB entries — is forced out of `KVM_RUN`
//! with `immediate_exit` and a host signal, then handled by its own thread.
//! A timer thread preempts a vCPU when a guest timer is due or threads wait
//! for a vCPU, reading what the kernel publishes in guest memory, no exit.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::memory::GuestRam;
use hx_abi::percpu::{Shared, CPU_AREA_SIZE, SHARED_OFFSET, WORK_RESCHED};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Where a vCPU's thread is.
pub const IN_MONITOR: u8 = 0;
pub const IN_GUEST: u8 = 1;
pub const IDLE: u8 = 2;

/// `Vcpu::requests` bits: what the vCPU's thread must do before it re-enters.
pub const REQ_PREEMPT: u64 = 1 << 0;
pub const REQ_FLUSH_TLB: u64 = 1 << 1;
pub const REQ_WAKE: u64 = 1 << 2;

/// The time slice while threads wait for a vCPU.
pub const TIME_SLICE: Duration = Duration::from_millis(4);
/// How often an idle vCPU looks for signals sent to hx-run and kicks: only a
/// safety net, as both wake its futex (an idle guest must cost the host
/// nothing: each wake-up is tens of µs of host CPU on this machine kind).
const HOST_SIGNAL_POLL: Duration = Duration::from_millis(250);
/// How often the timer thread looks at the guest's timers when nothing is due.
const TIMER_POLL: Duration = Duration::from_millis(10);
/// Its longest sleep while every vCPU idles (a safety net: a vCPU leaving
/// its idle state wakes it).
const REST: Duration = Duration::from_secs(1);

pub struct Vcpu {
    pub state: AtomicU8,
    pub requests: AtomicU64,
    /// TLB generation this vCPU has flushed up to.
    pub flushed: AtomicU64,
    /// Set by a kick; `wake_seq` is the futex an idle vCPU sleeps on (a
    /// signal handler can wake it too, which a condition variable cannot).
    kicked: AtomicBool,
    wake_seq: AtomicU32,
    /// The vCPU's `kvm_run.immediate_exit` byte and its host thread, once running.
    immediate_exit: AtomicU64,
    thread: AtomicU64,
}

pub struct Smp {
    pub vcpus: Vec<Vcpu>,
    /// Set when the VM ends: every vCPU thread returns.
    pub stop: AtomicBool,
    /// TLB shootdown generation.
    tlb_generation: AtomicU64,
    /// Guest-physical address of the vCPUs' blocks.
    pub areas_phys: u64,
    /// The first vCPU's thread starts at once; the others on their first kick.
    started: Vec<AtomicBool>,
    /// The vCPU that runs first (0, or the one a forked child resumes on);
    /// signals to hx-run are passed to the guest through it.
    pub first: usize,
    /// Wakes the timer thread when the VM ends, or when a vCPU leaves its
    /// idle state while the timer thread sleeps for good (`timer_resting`).
    timer_stop: Mutex<bool>,
    timer_wake: Condvar,
    timer_resting: AtomicBool,
    /// vCPUs not idle (counted running until they first idle): none means
    /// every guest thread waits, which `/proc/PID/stat` shows as `S`.
    busy: AtomicUsize,
}

/// The host signal that forces a vCPU thread out of `KVM_RUN`.
pub const KICK_SIGNAL: libc::c_int = libc::SIGUSR1;

extern "C" fn on_kick(_: libc::c_int) {}

/// Installs the (empty) handler of [`KICK_SIGNAL`], without SA_RESTART so that
/// `KVM_RUN` returns `EINTR`.
pub fn install_kick_handler() {
    // SAFETY: installs an empty, async-signal-safe handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_kick as *const () as usize;
        libc::sigaction(KICK_SIGNAL, &sa, std::ptr::null_mut());
    }
}

impl Smp {
    pub fn new(n: usize, areas_phys: u64, resumed: Option<usize>) -> Smp {
        let first = resumed.unwrap_or(0).min(n.saturating_sub(1));
        Smp {
            vcpus: (0..n)
                .map(|_| Vcpu {
                    state: AtomicU8::new(IN_MONITOR),
                    requests: AtomicU64::new(0),
                    flushed: AtomicU64::new(0),
                    kicked: AtomicBool::new(false),
                    wake_seq: AtomicU32::new(0),
                    immediate_exit: AtomicU64::new(0),
                    thread: AtomicU64::new(0),
                })
                .collect(),
            stop: AtomicBool::new(false),
            tlb_generation: AtomicU64::new(0),
            areas_phys,
            started: (0..n).map(|i| AtomicBool::new(i == first)).collect(),
            first,
            timer_stop: Mutex::new(false),
            timer_wake: Condvar::new(),
            timer_resting: AtomicBool::new(false),
            busy: AtomicUsize::new(n),
        }
    }

    /// Tells the other processes whether every vCPU idles (looking again
    /// after the store, so that two vCPUs changing at once leave it right).
    fn publish_sleeping(&self) {
        loop {
            let sleeping = self.busy.load(Ordering::SeqCst) == 0;
            crate::process::table::set_sleeping(sleeping);
            if (self.busy.load(Ordering::SeqCst) == 0) == sleeping {
                return;
            }
        }
    }

    /// Records the calling thread as vCPU `i`'s, with its `immediate_exit` byte.
    pub fn attach(&self, i: usize, immediate_exit: *mut u8) {
        if let Some(v) = self.vcpus.get(i) {
            v.immediate_exit.store(immediate_exit as u64, Ordering::SeqCst);
            // SAFETY: pthread_self cannot fail.
            v.thread.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
            if i == self.first {
                crate::signals::forward_through(immediate_exit, &v.wake_seq);
            }
        }
    }

    /// Forces vCPU `i` out of `KVM_RUN` if it is there.
    fn force_exit(&self, i: usize) {
        let Some(v) = self.vcpus.get(i) else { return };
        let p = v.immediate_exit.load(Ordering::SeqCst) as *mut u8;
        if p.is_null() {
            return;
        }
        // SAFETY: the byte lives in the vCPU's kvm_run mapping, alive while its
        // thread runs; writing it from another thread is how KVM is meant to be stopped.
        unsafe { p.write_volatile(1) };
        let thread = v.thread.load(Ordering::SeqCst);
        // SAFETY: the vCPU's thread is alive until `stop` (threads are joined after it).
        unsafe { libc::pthread_kill(thread as libc::pthread_t, KICK_SIGNAL) };
    }

    /// Asks vCPU `i` to handle `req` before it runs guest code again, now.
    pub fn request(&self, i: usize, req: u64) {
        let Some(v) = self.vcpus.get(i) else { return };
        v.requests.fetch_or(req, Ordering::SeqCst);
        match v.state.load(Ordering::SeqCst) {
            IN_GUEST => self.force_exit(i),
            IDLE => self.kick(i),
            _ => {}
        }
    }

    /// Gets the guest kernel to look at what the monitor published: an idle
    /// vCPU is kicked; otherwise one running the program is interrupted.
    pub fn wake_any(&self) {
        if let Some(i) = self.vcpus.iter().position(|v| v.state.load(Ordering::SeqCst) == IDLE) {
            self.kick(i);
            return;
        }
        let i = self.vcpus.iter().position(|v| v.state.load(Ordering::SeqCst) == IN_GUEST).unwrap_or(self.first);
        self.request(i, REQ_WAKE);
    }

    /// `KICK`: wakes vCPU `i` from `IDLE` (or makes its next `IDLE` return at once).
    pub fn kick(&self, i: usize) {
        let Some(v) = self.vcpus.get(i) else { return };
        if let Some(s) = self.started.get(i) {
            s.store(true, Ordering::SeqCst);
        }
        v.kicked.store(true, Ordering::SeqCst);
        wake_futex(&v.wake_seq);
    }

    /// `IDLE`: blocks vCPU `i` until a kick, `deadline` (host CLOCK_MONOTONIC
    /// ns, 0: none), a signal to hx-run (`watch_signals`) or the end of the VM.
    pub fn idle(&self, i: usize, deadline_ns: u64) {
        self.idle_until(i, deadline_ns, true)
    }

    fn idle_until(&self, i: usize, deadline_ns: u64, watch_signals: bool) {
        let Some(v) = self.vcpus.get(i) else { return };
        v.state.store(IDLE, Ordering::SeqCst);
        if self.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.publish_sleeping();
        }
        loop {
            let seen = v.wake_seq.load(Ordering::SeqCst);
            if v.kicked.load(Ordering::SeqCst)
                || self.stop.load(Ordering::SeqCst)
                || v.requests.load(Ordering::SeqCst) != 0
                || (watch_signals && crate::signals::has_pending())
            {
                break;
            }
            // The futex wait is cut short by kicks and by hx-run's signal
            // handlers; the poll interval only bounds a wake-up missed between them.
            let wait = if deadline_ns == 0 {
                HOST_SIGNAL_POLL
            } else {
                let now = monotonic_ns();
                if now >= deadline_ns {
                    break;
                }
                Duration::from_nanos(deadline_ns - now).min(HOST_SIGNAL_POLL)
            };
            wait_futex(&v.wake_seq, seen, wait);
        }
        v.kicked.store(false, Ordering::SeqCst);
        v.state.store(IN_MONITOR, Ordering::SeqCst);
        if self.busy.fetch_add(1, Ordering::SeqCst) == 0 {
            self.publish_sleeping();
        }
        if self.timer_resting.load(Ordering::SeqCst) {
            // Under the lock: the timer thread is either not yet waiting
            // (and then sees this vCPU busy) or waiting (and then woken).
            let _stopped = self.timer_stop.lock().unwrap_or_else(|e| e.into_inner());
            self.timer_wake.notify_all();
        }
    }

    /// Blocks a vCPU that has not been started until its first kick.
    pub fn wait_for_start(&self, i: usize) {
        while !self.started.get(i).is_some_and(|s| s.load(Ordering::SeqCst)) && !self.stop.load(Ordering::SeqCst) {
            self.idle_until(i, 0, false);
        }
    }

    /// `SHOOTDOWN` from vCPU `me`: returns once no other vCPU can still use a
    /// TLB entry from before the call (each running one flushed; the others
    /// flush before they next enter the guest).
    pub fn shootdown(&self, me: usize) {
        let generation = self.tlb_generation.fetch_add(1, Ordering::SeqCst) + 1;
        for (i, v) in self.vcpus.iter().enumerate() {
            if i != me && self.started.get(i).is_some_and(|s| s.load(Ordering::SeqCst)) {
                v.requests.fetch_or(REQ_FLUSH_TLB, Ordering::SeqCst);
                if v.state.load(Ordering::SeqCst) == IN_GUEST {
                    self.force_exit(i);
                }
            }
        }
        let start = Instant::now();
        for (i, v) in self.vcpus.iter().enumerate() {
            if i == me {
                continue;
            }
            while v.state.load(Ordering::SeqCst) == IN_GUEST
                && v.flushed.load(Ordering::SeqCst) < generation
                && v.requests.load(Ordering::SeqCst) & REQ_FLUSH_TLB != 0
                && !self.stop.load(Ordering::SeqCst)
            {
                if start.elapsed() > Duration::from_millis(1) {
                    self.force_exit(i);
                    std::thread::sleep(Duration::from_micros(50));
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }

    /// The generation a vCPU has flushed up to once it handled `REQ_FLUSH_TLB`.
    pub fn flushed(&self, i: usize) {
        if let Some(v) = self.vcpus.get(i) {
            v.flushed.store(self.tlb_generation.load(Ordering::SeqCst), Ordering::SeqCst);
        }
    }

    /// Ends the VM: every vCPU thread returns.
    pub fn stop_all(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // A vCPU blocked in a host call (a terminal read) is stopped by the
        // signal below; its call must then give up instead of retrying.
        crate::signals::stopping();
        *self.timer_stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.timer_wake.notify_all();
        for i in 0..self.vcpus.len() {
            self.kick(i);
            self.force_exit(i);
        }
    }

    /// The timer thread: preempts a vCPU when a guest timer is due or threads
    /// wait for one, and wakes an idle vCPU for a due timer.
    pub fn run_timers(&self, mem: &GuestRam) {
        let shared_at = self.areas_phys + SHARED_OFFSET;
        let mut last_slice = Instant::now();
        while !self.stop.load(Ordering::SeqCst) {
            let shared: Shared = mem.read_obj(shared_at).unwrap_or_default();
            let now = monotonic_ns();
            let due = shared.next_deadline_ns != 0 && now >= shared.next_deadline_ns;
            let slice_over = shared.waiting > 0 && last_slice.elapsed() >= TIME_SLICE;
            if due || slice_over {
                last_slice = Instant::now();
                let idle = self.vcpus.iter().position(|v| v.state.load(Ordering::SeqCst) == IDLE);
                match idle {
                    Some(i) if !slice_over => self.kick(i),
                    _ => {
                        // Every vCPU running guest code gives up its slice.
                        for (i, v) in self.vcpus.iter().enumerate() {
                            if v.state.load(Ordering::SeqCst) == IN_GUEST {
                                let work = self.areas_phys + i as u64 * CPU_AREA_SIZE + hx_abi::percpu::OFF_WORK as u64;
                                if let Ok(w) = mem.atomic_u64(work) {
                                    w.fetch_or(WORK_RESCHED, Ordering::SeqCst);
                                }
                                self.request(i, REQ_PREEMPT);
                            }
                        }
                        if let Some(i) = idle {
                            self.kick(i);
                        }
                    }
                }
            }
            let mut sleep = if shared.waiting > 0 { TIME_SLICE } else { TIMER_POLL };
            if shared.next_deadline_ns > now {
                sleep = sleep.min(Duration::from_nanos(shared.next_deadline_ns - now));
            }
            // A wait the end of the VM cuts short (hx-run must not linger at exit).
            let stopped = self.timer_stop.lock().unwrap_or_else(|e| e.into_inner());
            // With every vCPU idle in the monitor nothing runs to preempt, and
            // each idle vCPU wakes itself for its deadline: rest until one
            // leaves its idle state (it notifies under this lock).
            self.timer_resting.store(true, Ordering::SeqCst);
            if self.vcpus.iter().all(|v| v.state.load(Ordering::SeqCst) == IDLE) {
                sleep = REST;
            } else {
                self.timer_resting.store(false, Ordering::SeqCst);
            }
            if !*stopped {
                let _ = self.timer_wake.wait_timeout(stopped, sleep.max(Duration::from_micros(100)));
            }
            self.timer_resting.store(false, Ordering::SeqCst);
        }
    }
}

pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Wakes the thread sleeping on `word` (async-signal-safe: one atomic add and one syscall).
pub fn wake_futex(word: &AtomicU32) {
    word.fetch_add(1, Ordering::SeqCst);
    // SAFETY: FUTEX_WAKE on a word we own; no memory is written.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG, 1) };
}

/// Sleeps while `word` still holds `seen`, at most `timeout`.
fn wait_futex(word: &AtomicU32, seen: u32, timeout: Duration) {
    let ts =
        libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as libc::c_long };
    // SAFETY: FUTEX_WAIT on a word we own with a timeout we own; it only sleeps.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG, seen, &ts) };
}
