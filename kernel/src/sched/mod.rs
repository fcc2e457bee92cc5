//! Threads and the scheduler.
//!
//! One global run queue and timer queue under one lock ([`HandoffLock`]),
//! held across a context switch and released by the thread switched to, so a
//! thread is never picked by one vCPU while another still runs on its stack.
//! A vCPU with nothing to run asks the monitor to block its host thread
//! (`IDLE`); waking a thread while a vCPU idles kicks that vCPU (`KICK`).
//! The monitor's timer thread reads [`Shared`](hx_abi::percpu::Shared) and
//! preempts a vCPU when a timer is due or threads wait for a vCPU.
pub mod lock;
pub mod quiesce;
pub mod thread;
pub mod upcall;

use crate::arch::{entry, percpu};
use crate::{host, time};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use hx_abi::hypercall::{op, MAX_TID_BLOCK};
use hx_abi::layout::direct_virt;
use hx_abi::percpu::{CPU_AREA_SIZE, IDLE_STACK_TOP_OFFSET};
use lock::HandoffLock;
use spin::{Mutex, Once};
pub use thread::{RunState, Thread};

struct Sched {
    runq: VecDeque<Arc<Thread>>,
    /// Sleeping threads by (deadline, tid).
    timers: BTreeMap<(u64, u32), Arc<Thread>>,
    /// vCPUs idle in the monitor (bit per vCPU).
    idle_cpus: u64,
    /// vCPUs that have run this kernel (the others wait, unstarted, for a kick).
    started_cpus: u64,
    /// A thread that exited on vCPU `i`, dropped by the next thread there.
    zombies: [Option<Arc<Thread>>; hx_abi::percpu::MAX_CPUS],
}

static SCHED: HandoffLock<Sched> = HandoffLock::new(Sched {
    runq: VecDeque::new(),
    timers: BTreeMap::new(),
    idle_cpus: 0,
    started_cpus: 0,
    zombies: [const { None }; hx_abi::percpu::MAX_CPUS],
});

/// Every live program thread, by tid.
static THREADS: Mutex<BTreeMap<u32, Arc<Thread>>> = Mutex::new(BTreeMap::new());
/// Live program threads (a cheap "is the program multi-threaded").
static LIVE: AtomicU32 = AtomicU32::new(0);
/// Thread ids reserved from the tree's pid space and not yet used: [next, end).
static TIDS: Mutex<(u32, u32)> = Mutex::new((0, 0));
static IDLE: Once<Vec<Arc<Thread>>> = Once::new();
static NCPUS: AtomicU64 = AtomicU64::new(1);
/// Kernel-virtual address of the vCPUs' blocks.
static AREAS: AtomicU64 = AtomicU64::new(0);
/// The earliest signal timer (`signal::timers`), u64::MAX: none.
static SIGNAL_TIMER: AtomicU64 = AtomicU64::new(u64::MAX);
/// Cached earliest timer (mirrors `Shared::next_deadline_ns`; u64::MAX: none).
static NEXT_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);

pub fn ncpus() -> usize {
    NCPUS.load(Ordering::Relaxed) as usize
}

/// Whether another thread may run on another vCPU right now.
pub fn multi_threaded() -> bool {
    LIVE.load(Ordering::Relaxed) > 1
}

/// Sets up every vCPU's idle thread; called once by vCPU 0 at boot.
pub fn init(ncpus: u64, areas_phys: u64) {
    NCPUS.store(ncpus, Ordering::Relaxed);
    let areas = direct_virt(areas_phys);
    AREAS.store(areas, Ordering::Relaxed);
    IDLE.call_once(|| {
        (0..ncpus).map(|i| Arc::new(Thread::idle(areas + i * CPU_AREA_SIZE + IDLE_STACK_TOP_OFFSET))).collect()
    });
}

fn idle_thread(cpu: usize) -> &'static Arc<Thread> {
    &IDLE.get().expect("sched::init runs first")[cpu]
}

/// The thread running on this vCPU.
pub fn current() -> &'static Thread {
    // SAFETY: `current` always points at a live thread: a program thread is
    // kept alive by THREADS (or the zombie slot) while it runs, an idle one forever.
    unsafe { &*(percpu::current() as *const Thread) }
}

pub fn current_arc() -> Arc<Thread> {
    let p = percpu::current() as *const Thread;
    // SAFETY: as in `current`: the pointer came from an Arc that is still alive.
    unsafe {
        Arc::increment_strong_count(p);
        Arc::from_raw(p)
    }
}

pub fn thread(tid: u32) -> Option<Arc<Thread>> {
    THREADS.lock().get(&tid).cloned()
}

pub fn threads() -> Vec<Arc<Thread>> {
    THREADS.lock().values().cloned().collect()
}

/// An id for a new thread, unique among the tree's pids and tids as on
/// Linux (a tid equal to another process's pid would confuse `kill`,
/// `/proc` and robust futexes; equal to this process's own, the thread table).
/// Taken in blocks: one host request per [`MAX_TID_BLOCK`] threads.
pub fn alloc_tid() -> Option<u32> {
    {
        let mut ids = TIDS.lock();
        if ids.0 < ids.1 {
            ids.0 += 1;
            return Some(ids.0 - 1);
        }
    }
    let first = host::simple(op::PGRP, &[hx_abi::hypercall::PGRP_TIDS, 0, MAX_TID_BLOCK]).ok()? as u32;
    let mut ids = TIDS.lock();
    // Another thread may have refilled it meanwhile: the newer block wins.
    *ids = (first + 1, first + MAX_TID_BLOCK as u32);
    Some(first)
}

/// Whether `t` runs or may run now (else it waits, or has ended).
pub fn runnable(t: &Thread) -> bool {
    let _sched = SCHED.lock();
    // SAFETY: the scheduler's lock is held; the state is read and dropped under it.
    let state = unsafe { t.sched().state };
    SCHED.unlock();
    matches!(state, RunState::Running | RunState::Ready)
}

/// Makes a new thread runnable.
pub fn spawn(t: Thread) -> Arc<Thread> {
    let t = Arc::new(t);
    THREADS.lock().insert(t.tid, t.clone());
    LIVE.fetch_add(1, Ordering::Relaxed);
    let s = SCHED.lock();
    s.runq.push_back(t.clone());
    let kick = pick_idle(s, &t);
    publish(s);
    SCHED.unlock();
    kick_cpu(kick);
    t
}

/// An idle vCPU to kick for `t`, which became runnable: one `t` may run on
/// (its bit is cleared so only one waker kicks it). None if this vCPU may
/// run it, or every vCPU it may run on is busy (they take it when their
/// current thread switches away: time slices end).
fn pick_idle(s: &mut Sched, t: &Thread) -> Option<usize> {
    let me = percpu::cpu();
    let allowed = t.affinity.load(Ordering::Relaxed);
    // A vCPU not started yet starts at its first kick: for a thread barred
    // from this one, it is as good as idle (the monitor's time slices only
    // kick the first idle vCPU, which may be this one).
    let unstarted = if may_run_on(t, me) { 0 } else { online_cpus() & !s.started_cpus };
    let others = (s.idle_cpus | unstarted) & !(1 << me) & allowed;
    if others == 0 {
        return None;
    }
    let cpu = others.trailing_zeros() as usize;
    s.idle_cpus &= !(1 << cpu);
    Some(cpu)
}

fn online_cpus() -> u64 {
    if ncpus() >= 64 {
        u64::MAX
    } else {
        (1u64 << ncpus()) - 1
    }
}

/// Whether `t` may run on vCPU `cpu` (`sched_setaffinity`).
fn may_run_on(t: &Thread, cpu: usize) -> bool {
    t.affinity.load(Ordering::Relaxed) & (1 << cpu) != 0
}

fn kick_cpu(cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        let _ = host::simple(op::KICK, &[cpu as u64]);
    }
}

/// Tells the monitor's timer thread the earliest deadline and how many wait.
fn publish(s: &Sched) {
    let next = earliest(s);
    NEXT_DEADLINE.store(next, Ordering::Relaxed);
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.next_deadline_ns).store(if next == u64::MAX { 0 } else { next }, Ordering::Relaxed);
    percpu::shared_field(&shared.waiting).store(s.runq.len() as u64, Ordering::Relaxed);
}

fn earliest(s: &Sched) -> u64 {
    let sleeper = s.timers.keys().next().map_or(u64::MAX, |&(d, _)| d);
    sleeper.min(SIGNAL_TIMER.load(Ordering::Relaxed))
}

/// The earliest signal timer changed.
pub fn set_signal_timer_deadline(deadline: u64) {
    SIGNAL_TIMER.store(deadline, Ordering::Relaxed);
    let s = SCHED.lock();
    publish(s);
    SCHED.unlock();
}

/// Which signals the program catches, for the monitor's fault handling.
pub fn publish_caught(mask: u64) {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.caught).store(mask, Ordering::Relaxed);
}

/// Where the program's memory is backed at first touch, for the monitor to
/// send page faults there to the kernel (more ranges than the table holds:
/// every page fault).
pub fn publish_lazy(ranges: &[[u64; 2]]) {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    for (slot, r) in shared.lazy.iter().zip(ranges) {
        percpu::shared_field(&slot[0]).store(r[0], Ordering::Relaxed);
        percpu::shared_field(&slot[1]).store(r[1], Ordering::Relaxed);
    }
    percpu::shared_field(&shared.lazy_count).store(ranges.len() as u64, Ordering::SeqCst);
}

/// The parent's pid as the monitor last published it.
pub fn parent_pid() -> u64 {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.ppid).load(Ordering::Relaxed)
}

/// How many times the monitor saw a watched host file become ready.
pub fn host_events() -> u64 {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.host_events).load(Ordering::Acquire)
}

/// Signals the monitor forwarded (cheap when there are none).
/// Who sent forwarded signal `sig` (`pid | uid << 32`; 0: unknown), taken.
pub fn take_host_signal_sender(sig: usize) -> u64 {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    match sig.checked_sub(1).and_then(|i| shared.host_signal_senders.get(i)) {
        Some(slot) => percpu::shared_field(slot).swap(0, Ordering::AcqRel),
        None => 0,
    }
}

/// `Shared::queued_signals`: moves when other processes queued signals
/// with their own siginfo for this one.
pub fn queued_signals() -> u64 {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.queued_signals).load(Ordering::Acquire)
}

/// `Shared::nice_request`: another process's last `setpriority` of this one.
pub fn nice_request() -> u64 {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.nice_request).load(Ordering::Acquire)
}

/// Whether the monitor forwarded signals not taken yet.
pub fn host_signals_waiting() -> bool {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    percpu::shared_field(&shared.host_signals).load(Ordering::Acquire) != 0
}

pub fn take_host_signals() -> u64 {
    let shared = percpu::shared(AREAS.load(Ordering::Relaxed));
    let word = percpu::shared_field(&shared.host_signals);
    if word.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    word.swap(0, Ordering::AcqRel)
}

/// Fires signal timers that are due (outside the scheduler's lock).
fn run_signal_timers() {
    if SIGNAL_TIMER.load(Ordering::Relaxed) <= time::monotonic_ns() {
        crate::signal::timers::run_due();
    }
}

/// Moves threads whose timers are due to the run queue.
fn expire(s: &mut Sched, now: u64) {
    while let Some((&(deadline, tid), _)) = s.timers.iter().next() {
        if deadline > now {
            break;
        }
        let Some(t) = s.timers.remove(&(deadline, tid)) else { break };
        // SAFETY: the scheduler's lock is held.
        let f = unsafe { t.sched() };
        f.deadline = None;
        if f.state == RunState::Blocked {
            f.state = RunState::Ready;
            f.timed_out = true;
            s.runq.push_back(t);
        }
    }
}

/// Whether a timer is due (cheap: no lock).
pub fn timers_due() -> bool {
    let next = NEXT_DEADLINE.load(Ordering::Relaxed);
    next != u64::MAX && time::monotonic_ns() >= next
}

/// While a vfork child runs on a thread of the parent (`syscall::vfork`),
/// that thread is the only one that may run (0: any).
static EXCLUSIVE: AtomicU32 = AtomicU32::new(0);

pub fn set_exclusive(tid: u32) {
    EXCLUSIVE.store(tid, Ordering::SeqCst);
}

/// Whether this vCPU may take `t` from the run queue now.
fn eligible(t: &Thread, cpu: usize) -> bool {
    let only = EXCLUSIVE.load(Ordering::Relaxed);
    (only == 0 || t.tid == only) && may_run_on(t, cpu)
}

/// Takes the next thread this vCPU may run from the run queue.
fn next_runnable(s: &mut Sched) -> Option<Arc<Thread>> {
    let cpu = percpu::cpu();
    let at = s.runq.iter().position(|t| eligible(t, cpu))?;
    s.runq.remove(at)
}

/// Whether a thread waits that [`next_runnable`] would give.
fn has_runnable(s: &Sched) -> bool {
    let cpu = percpu::cpu();
    s.runq.iter().any(|t| eligible(t, cpu))
}

/// Switches this vCPU away from `cur` (whose state the caller set) to the
/// next runnable thread, or to the vCPU's idle thread. Called with the lock
/// held; returns with it released, once `cur` runs again.
fn switch_away(s: &mut Sched, cur: &Thread) {
    let cpu = percpu::cpu();
    let next = match next_runnable(s) {
        Some(t) => t,
        None if cur.is_idle() => {
            SCHED.unlock();
            return;
        }
        None => idle_thread(cpu).clone(),
    };
    if core::ptr::eq(Arc::as_ptr(&next), cur) {
        // SAFETY: the lock is held.
        unsafe { cur.sched() }.state = RunState::Running;
        publish(s);
        SCHED.unlock();
        return;
    }
    // SAFETY: the lock is held.
    let next_rsp = unsafe {
        let f = next.sched();
        f.state = RunState::Running;
        f.saved_rsp
    };
    publish(s);
    let next_ptr = Arc::as_ptr(&next);
    let next_top = next.kstack_top;
    // THREADS, the idle list or the zombie slot keep `next` alive.
    drop(next);
    if !cur.stack_intact() {
        panic!("kernel stack overflow in thread {}", cur.tid);
    }
    cur.save_user_state();
    account(cur, next_ptr);
    percpu::set_current(next_ptr as u64, next_top);
    // SAFETY: `next_rsp` was saved by a switch or made by `entry::new_context`;
    // `saved_rsp` of `cur` is only read once `cur` is picked again, under the lock.
    unsafe { entry::switch(core::ptr::addr_of_mut!((*cur.sched.get()).saved_rsp), next_rsp) };
    finish_switch(cur);
}

/// CPU time: `cur` stops running, `next` starts.
fn account(cur: &Thread, next: *const Thread) {
    let now = time::monotonic_ns();
    let since = cur.running_since.swap(0, Ordering::Relaxed);
    if since != 0 {
        let used = now.saturating_sub(since);
        cur.cpu_ns.fetch_add(used, Ordering::Relaxed);
        if cur.sched_state_dead() {
            EXITED_CPU_NS.fetch_add(cur.cpu_ns.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
    // SAFETY: `next` is alive (see `switch_away`).
    let next = unsafe { &*next };
    if !next.is_idle() {
        next.running_since.store(now.max(1), Ordering::Relaxed);
    }
}

/// CPU time of threads that have ended.
static EXITED_CPU_NS: AtomicU64 = AtomicU64::new(0);

/// The program's CPU time: every thread's, living or ended.
pub fn process_cpu_ns() -> u64 {
    EXITED_CPU_NS.load(Ordering::Relaxed) + threads().iter().map(|t| t.cpu_time()).sum::<u64>()
}

/// The second half of a switch, run by the thread switched to.
fn finish_switch(cur: &Thread) {
    cur.restore_user_state();
    let s = SCHED.lock_held();
    let zombie = s.zombies[percpu::cpu()].take();
    SCHED.unlock();
    drop(zombie);
    if !cur.is_idle() {
        crate::syscall::thread::rseq_set_cpu(cur);
    }
}

/// A new thread's first instructions in the kernel (from `hx_thread_start`).
pub extern "C" fn thread_start(frame: &mut entry::Frame) {
    finish_switch(current());
    crate::syscall::dispatch::exit_work(frame);
}

/// Why [`block`] returned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wake {
    /// [`wake`] was called (or a signal arrived): re-check the condition.
    Woken,
    TimedOut,
}

/// Blocks the current thread until [`wake`] or `deadline` (monotonic ns).
/// Callers re-check what they wait for: a wake-up can be for something else.
pub fn block(deadline: Option<u64>) -> Wake {
    let cur = current();
    let s = SCHED.lock();
    // SAFETY: the lock is held.
    let f = unsafe { cur.sched() };
    if f.wake_pending {
        f.wake_pending = false;
        SCHED.unlock();
        return Wake::Woken;
    }
    if let Some(d) = deadline {
        if time::monotonic_ns() >= d {
            SCHED.unlock();
            return Wake::TimedOut;
        }
        f.deadline = Some(d);
        s.timers.insert((d, cur.tid), current_arc());
    }
    f.state = RunState::Blocked;
    f.timed_out = false;
    switch_away(s, cur);
    SCHED.lock();
    // SAFETY: the lock is held.
    let f = unsafe { cur.sched() };
    let timed_out = core::mem::take(&mut f.timed_out);
    f.wake_pending = false;
    SCHED.unlock();
    if timed_out {
        Wake::TimedOut
    } else {
        Wake::Woken
    }
}

/// Makes `t` runnable if it is blocked; otherwise its next [`block`] returns at once.
pub fn wake(t: &Arc<Thread>) {
    let s = SCHED.lock();
    // SAFETY: the lock is held.
    let f = unsafe { t.sched() };
    let mut kick = None;
    match f.state {
        RunState::Blocked => {
            if let Some(d) = f.deadline.take() {
                s.timers.remove(&(d, t.tid));
            }
            f.state = RunState::Ready;
            s.runq.push_back(t.clone());
            kick = pick_idle(s, t);
            publish(s);
        }
        RunState::Running | RunState::Ready => f.wake_pending = true,
        RunState::Dead => {}
    }
    SCHED.unlock();
    kick_cpu(kick);
}

/// Lets other runnable threads run (`sched_yield`, preemption).
pub fn yield_now() {
    run_signal_timers();
    let cur = current();
    let s = SCHED.lock();
    expire(s, time::monotonic_ns());
    if !has_runnable(s) {
        publish(s);
        SCHED.unlock();
        return;
    }
    // SAFETY: the lock is held.
    unsafe { cur.sched() }.state = RunState::Ready;
    s.runq.push_back(current_arc());
    switch_away(s, cur);
}

/// Moves the current thread off this vCPU if its affinity no longer allows
/// it here (`sched_setaffinity`): to an idle vCPU it may run on, else to the
/// next that switches.
pub fn migrate_if_barred() {
    let cur = current();
    if cur.is_idle() || may_run_on(cur, percpu::cpu()) {
        return;
    }
    let s = SCHED.lock();
    // SAFETY: the lock is held.
    unsafe { cur.sched() }.state = RunState::Ready;
    let me = current_arc();
    s.runq.push_back(me.clone());
    let kick = pick_idle(s, &me);
    drop(me);
    kick_cpu(kick);
    switch_away(s, cur);
}

/// Ends the current thread (its exit bookkeeping is done). The last thread
/// ends the program with `status`.
pub fn exit_thread(status: u64) -> ! {
    let cur = current_arc();
    let last = {
        let mut all = THREADS.lock();
        all.remove(&cur.tid);
        all.is_empty()
    };
    LIVE.fetch_sub(1, Ordering::Relaxed);
    if last {
        host::exit(status);
    }
    let s = SCHED.lock();
    // SAFETY: the lock is held.
    unsafe { cur.sched() }.state = RunState::Dead;
    let raw: &Thread = current();
    s.zombies[percpu::cpu()] = Some(cur);
    switch_away(s, raw);
    unreachable!("a dead thread was switched back in")
}

/// This vCPU's idle loop: run what is runnable, else give the host thread
/// back to the monitor until a kick or the next timer.
pub fn idle_loop() -> ! {
    let cpu = percpu::cpu();
    let me = idle_thread(cpu).clone();
    percpu::set_current(Arc::as_ptr(&me) as u64, me.kstack_top);
    quiesce::leave_safe();
    let s = SCHED.lock();
    s.started_cpus |= 1 << cpu;
    SCHED.unlock();
    loop {
        run_signal_timers();
        crate::signal::take_host_signals();
        let s = SCHED.lock();
        expire(s, time::monotonic_ns());
        if has_runnable(s) {
            switch_away(s, &me);
            continue;
        }
        s.idle_cpus |= 1 << cpu;
        let deadline = match earliest(s) {
            u64::MAX => 0,
            d => d,
        };
        publish(s);
        SCHED.unlock();
        quiesce::enter_safe();
        let _ = host::simple(op::IDLE, &[deadline, crate::syscall::poll::host_events_seen()]);
        quiesce::leave_safe();
        let s = SCHED.lock();
        s.idle_cpus &= !(1 << cpu);
        SCHED.unlock();
    }
}

/// Wakes vCPU `cpu` so that it handles its `work` bits (a signal for a
/// thread it runs): through the monitor, which stops it where it is.
pub fn interrupt_cpu(cpu: usize) {
    if cpu != percpu::cpu() {
        let _ = host::simple(op::INTERRUPT, &[cpu as u64]);
    }
}

/// The vCPU `t` runs on, if it runs.
pub fn running_on(t: &Thread) -> Option<usize> {
    let areas = AREAS.load(Ordering::Relaxed);
    (0..ncpus()).find(|&cpu| {
        let block = areas + cpu as u64 * CPU_AREA_SIZE;
        // SAFETY: reading the `current` word of a live PerCpu; a stale answer
        // only delays a signal until that thread's next kernel entry.
        let current = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*(block as *const hx_abi::percpu::PerCpu)).current))
        };
        current == t as *const Thread as u64
    })
}

/// In a forked child: only the thread that called `fork` goes on, now with
/// tid `tid` (the child's pid). The others' structures stay reachable from
/// wait queues, so they are marked dead: a late wake-up finds nothing to run.
/// The caller holds no scheduler lock; the other vCPUs have not started yet.
pub fn after_fork(tid: u32) {
    let cur = current_arc();
    let others: Vec<Arc<Thread>> = {
        let mut all = THREADS.lock();
        let others = all.values().filter(|t| !Arc::ptr_eq(t, &cur)).cloned().collect();
        all.clear();
        // SAFETY: no other thread of this process runs (the child has one), so
        // nothing reads the tid while it changes.
        unsafe { (*(Arc::as_ptr(&cur) as *mut Thread)).tid = tid };
        all.insert(tid, cur.clone());
        others
    };
    LIVE.store(1, Ordering::Relaxed);
    // The parent's unused ids stay the parent's.
    *TIDS.lock() = (0, 0);
    let s = SCHED.lock();
    for t in &others {
        // SAFETY: the lock is held.
        unsafe { t.sched() }.state = RunState::Dead;
    }
    s.runq.clear();
    s.timers.clear();
    // The other vCPUs of the new VM wait, unstarted, for their first kick:
    // counting them idle makes the next runnable thread start one.
    let all = if ncpus() >= 64 { u64::MAX } else { (1u64 << ncpus()) - 1 };
    s.idle_cpus = all & !(1 << percpu::cpu());
    s.started_cpus = 1 << percpu::cpu();
    for z in s.zombies.iter_mut() {
        *z = None;
    }
    publish(s);
    SCHED.unlock();
}
