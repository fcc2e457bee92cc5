//! `futex`: wait queues keyed by the futex word's address (one process, so
//! private and shared futexes are the same), with Linux's operations:
//! WAIT/WAKE (and their BITSET forms), REQUEUE/CMP_REQUEUE, WAKE_OP, and
//! timeouts on either clock, and `futex_waitv` (a wait on up to 128 words at
//! once). Priority-inheritance operations return ENOSYS, which glibc and musl
//! turn into "PI mutexes not supported".
use super::Args;
use crate::errno::{Errno, SysResult, EAGAIN, EFAULT, EINTR, EINVAL, ENOSYS, ERESTARTSYS, ETIMEDOUT};
use crate::sched::{self, Thread, Wake};
use crate::{mm, signal, time};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use spin::Mutex;

use hx_abi::uapi::{FUTEX_OWNER_DIED, FUTEX_TID_MASK, FUTEX_WAITERS};

/// A wait or wake that matches every bitset (linux/futex.h's, a cast bindgen cannot evaluate).
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

// The operations, as the syscall's `u64` argument compares them.
const FUTEX_WAIT: u64 = hx_abi::uapi::FUTEX_WAIT as u64;
const FUTEX_WAKE: u64 = hx_abi::uapi::FUTEX_WAKE as u64;
const FUTEX_REQUEUE: u64 = hx_abi::uapi::FUTEX_REQUEUE as u64;
const FUTEX_CMP_REQUEUE: u64 = hx_abi::uapi::FUTEX_CMP_REQUEUE as u64;
const FUTEX_WAKE_OP: u64 = hx_abi::uapi::FUTEX_WAKE_OP as u64;
const FUTEX_LOCK_PI: u64 = hx_abi::uapi::FUTEX_LOCK_PI as u64;
const FUTEX_UNLOCK_PI: u64 = hx_abi::uapi::FUTEX_UNLOCK_PI as u64;
const FUTEX_TRYLOCK_PI: u64 = hx_abi::uapi::FUTEX_TRYLOCK_PI as u64;
const FUTEX_WAIT_BITSET: u64 = hx_abi::uapi::FUTEX_WAIT_BITSET as u64;
const FUTEX_WAKE_BITSET: u64 = hx_abi::uapi::FUTEX_WAKE_BITSET as u64;
const FUTEX_WAIT_REQUEUE_PI: u64 = hx_abi::uapi::FUTEX_WAIT_REQUEUE_PI as u64;
const FUTEX_CMP_REQUEUE_PI: u64 = hx_abi::uapi::FUTEX_CMP_REQUEUE_PI as u64;
const FUTEX_LOCK_PI2: u64 = hx_abi::uapi::FUTEX_LOCK_PI2 as u64;
const FUTEX_PRIVATE: u64 = hx_abi::uapi::FUTEX_PRIVATE_FLAG as u64;
const FUTEX_CLOCK_REALTIME: u64 = hx_abi::uapi::FUTEX_CLOCK_REALTIME as u64;

struct Waiter {
    thread: Arc<Thread>,
    /// The futex it waits on (changes on requeue).
    key: AtomicU64,
    bitset: u32,
    /// Its place in its thread's wait (0 but for `futex_waitv`).
    index: u64,
    /// Shared by every entry of one wait: 1 + the index of the first entry
    /// woken, 0 while none is.
    woken: Arc<AtomicU64>,
}

impl Waiter {
    fn is_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire) != 0
    }
}

/// Waiters by futex address, in arrival order.
static QUEUES: Mutex<BTreeMap<u64, VecDeque<Arc<Waiter>>>> = Mutex::new(BTreeMap::new());

/// The futex word, for atomic access. Checks it is mapped (writable if `write`).
fn word(uaddr: u64, write: bool) -> Result<&'static AtomicU32, Errno> {
    if !uaddr.is_multiple_of(4) {
        return Err(EINVAL);
    }
    mm::with_space(|s| s.check(uaddr, 4, write)).map_err(|_| EFAULT)?;
    // SAFETY: checked mapped above, 4-byte aligned; the program's memory is
    // shared with other threads, so it is only accessed atomically.
    Ok(unsafe { AtomicU32::from_ptr(uaddr as *mut u32) })
}

/// How often a waiter on a shared mapping looks at its word.
const SHARED_LOOK_NS: u64 = 1_000_000;

pub(super) fn wait(uaddr: u64, val: u32, deadline: Option<u64>, bitset: u32) -> SysResult {
    if bitset == 0 {
        return Err(EINVAL);
    }
    wait_on(&[(uaddr, val)], deadline, bitset)
}

/// Waits until a wake-up on one of the `words` (address, expected value),
/// the `deadline` or a signal; returns the index of the word woken. EAGAIN
/// at once if a word does not hold its value.
fn wait_on(words: &[(u64, u32)], deadline: Option<u64>, bitset: u32) -> SysResult {
    let thread = sched::current_arc();
    let woken = Arc::new(AtomicU64::new(0));
    let entries: Vec<Arc<Waiter>> = (0..words.len() as u64)
        .map(|index| {
            Arc::new(Waiter {
                thread: thread.clone(),
                key: AtomicU64::new(words[index as usize].0),
                bitset,
                index,
                woken: woken.clone(),
            })
        })
        .collect();
    {
        let mut queues = QUEUES.lock();
        // Read under the queue lock: a waker that changed the word and then
        // woke takes the same lock, so the wake-up cannot be missed.
        for &(uaddr, val) in words {
            if word(uaddr, false)?.load(Ordering::SeqCst) != val {
                return Err(EAGAIN);
            }
        }
        for e in &entries {
            queues.entry(e.key.load(Ordering::Relaxed)).or_default().push_back(e.clone());
        }
    }
    // Takes every entry out of its queue: the index woken, if any was. An
    // entry a waker already took counts as woken even if the waker has not
    // marked it yet (it takes under the lock and marks after).
    let leave = || {
        let mut taken = None;
        for e in &entries {
            if !remove(e) && taken.is_none() {
                taken = Some(e.index);
            }
        }
        woken.load(Ordering::Acquire).checked_sub(1).or(taken)
    };
    // A word in a shared mapping may be changed and woken by another guest
    // process (another VM): its wake-up never reaches this queue, so the
    // waiter also looks at the word every millisecond.
    let shared = words.iter().any(|&(uaddr, _)| super::mm::in_shared_mapping(uaddr));
    loop {
        if woken.load(Ordering::Acquire) != 0 {
            return Ok(leave().unwrap_or(0));
        }
        let interrupted = signal::pending();
        let slice = if shared {
            let next = crate::time::monotonic_ns() + SHARED_LOOK_NS;
            Some(deadline.map_or(next, |d| d.min(next)))
        } else {
            deadline
        };
        let timed_out = !interrupted && sched::block(slice) == Wake::TimedOut;
        if woken.load(Ordering::Acquire) != 0 {
            return Ok(leave().unwrap_or(0));
        }
        let really_timed_out = timed_out && deadline.is_some_and(|d| crate::time::monotonic_ns() >= d);
        if shared && timed_out && !really_timed_out && !interrupted && !signal::pending() {
            // Changed elsewhere: as if woken.
            if let Some(i) = words
                .iter()
                .position(|&(uaddr, val)| word(uaddr, false).map_or(true, |w| w.load(Ordering::SeqCst) != val))
            {
                return Ok(leave().unwrap_or(i as u64));
            }
            continue;
        }
        let timed_out = if shared { really_timed_out } else { timed_out };
        if interrupted || timed_out || signal::pending() {
            if let Some(i) = leave() {
                return Ok(i); // woken while giving up: the wake-up counts
            }
            return Err(if timed_out {
                ETIMEDOUT
            } else if deadline.is_some() {
                EINTR
            } else {
                ERESTARTSYS
            });
        }
    }
}

/// In a forked child: the waiters were the parent's other threads, which
/// the child does not have. Left queued, they would take wake-ups meant for
/// the child's own threads (a `pthread_join` in the child would never end).
pub fn after_fork() {
    QUEUES.lock().clear();
}

/// Takes `w` out of its queue; false if a waker already took it.
fn remove(w: &Arc<Waiter>) -> bool {
    let mut queues = QUEUES.lock();
    let key = w.key.load(Ordering::Relaxed);
    let Some(q) = queues.get_mut(&key) else { return false };
    let Some(i) = q.iter().position(|x| Arc::ptr_eq(x, w)) else { return false };
    q.remove(i);
    if q.is_empty() {
        queues.remove(&key);
    }
    true
}

/// Takes up to `n` waiters of `uaddr` matching `bitset` out of the queues.
fn take(queues: &mut BTreeMap<u64, VecDeque<Arc<Waiter>>>, uaddr: u64, n: u64, bitset: u32) -> Vec<Arc<Waiter>> {
    let mut out = Vec::new();
    if let Some(q) = queues.get_mut(&uaddr) {
        let mut i = 0;
        while i < q.len() && (out.len() as u64) < n {
            if q[i].is_woken() {
                // A `futex_waitv` entry whose wait another word already ended:
                // not a waiter any more, so it takes no wake-up from others.
                q.remove(i);
            } else if q[i].bitset & bitset != 0 {
                if let Some(w) = q.remove(i) {
                    out.push(w);
                }
            } else {
                i += 1;
            }
        }
        if q.is_empty() {
            queues.remove(&uaddr);
        }
    }
    out
}

fn wake_all(woken: Vec<Arc<Waiter>>) -> u64 {
    let n = woken.len() as u64;
    for w in woken {
        let _ = w.woken.compare_exchange(0, w.index + 1, Ordering::AcqRel, Ordering::Relaxed);
        sched::wake(&w.thread);
    }
    n
}

/// Wakes up to `n` waiters of `uaddr` whose bitset meets `bitset`.
pub fn wake(uaddr: u64, n: u64, bitset: u32) -> SysResult {
    if bitset == 0 {
        return Err(EINVAL);
    }
    let woken = take(&mut QUEUES.lock(), uaddr, n, bitset);
    Ok(wake_all(woken))
}

/// Wakes waiters of a futex in shared memory: this process's own (queued
/// here by `futex_waitv`), then those waiting in the host.
fn wake_between_processes(uaddr: u64, n: u64, bitset: u32) -> SysResult {
    let n = n.min(i32::MAX as u64);
    let here = wake(uaddr, n, bitset)?;
    if here >= n {
        return Ok(here);
    }
    Ok(here + super::futex_shared::wake(uaddr, n - here, bitset)?)
}

fn requeue(uaddr: u64, n_wake: u64, n_requeue: u64, uaddr2: u64, cmp: Option<u32>) -> SysResult {
    if !uaddr2.is_multiple_of(4) {
        return Err(EINVAL);
    }
    let (woken, moved) = {
        let mut queues = QUEUES.lock();
        if let Some(expected) = cmp {
            if word(uaddr, false)?.load(Ordering::SeqCst) != expected {
                return Err(EAGAIN);
            }
        }
        let woken = take(&mut queues, uaddr, n_wake, FUTEX_BITSET_MATCH_ANY);
        let moved = take(&mut queues, uaddr, n_requeue, FUTEX_BITSET_MATCH_ANY);
        let count = moved.len() as u64;
        if !moved.is_empty() {
            let dest = queues.entry(uaddr2).or_default();
            for w in moved {
                w.key.store(uaddr2, Ordering::Relaxed);
                dest.push_back(w);
            }
        }
        (woken, count)
    };
    Ok(wake_all(woken) + moved)
}

/// FUTEX_WAKE_OP: an atomic operation on `uaddr2`, then wake-ups on both words.
fn wake_op(uaddr: u64, n: u64, n2: u64, uaddr2: u64, encoded: u32) -> SysResult {
    let op = (encoded >> 28) & 0xf;
    let cmp = (encoded >> 24) & 0xf;
    let sign12 = |v: u32| ((v << 20) as i32) >> 20;
    let mut oparg = sign12((encoded >> 12) & 0xfff) as u32;
    let cmparg = sign12(encoded & 0xfff);
    if op & 8 != 0 {
        if oparg > 31 {
            return Err(EINVAL);
        }
        oparg = 1 << oparg;
    }
    let (woken, woken2) = {
        let mut queues = QUEUES.lock();
        let w2 = word(uaddr2, true)?;
        let old = w2
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| match op & 7 {
                0 => Some(oparg),
                1 => Some(v.wrapping_add(oparg)),
                2 => Some(v | oparg),
                3 => Some(v & !oparg),
                4 => Some(v ^ oparg),
                _ => None,
            })
            .map_err(|_| ENOSYS)? as i32;
        let hit = match cmp {
            0 => old == cmparg,
            1 => old != cmparg,
            2 => old < cmparg,
            3 => old <= cmparg,
            4 => old > cmparg,
            5 => old >= cmparg,
            _ => return Err(ENOSYS),
        };
        let woken = take(&mut queues, uaddr, n, FUTEX_BITSET_MATCH_ANY);
        let woken2 = if hit { take(&mut queues, uaddr2, n2, FUTEX_BITSET_MATCH_ANY) } else { Vec::new() };
        (woken, woken2)
    };
    Ok(wake_all(woken) + wake_all(woken2))
}

/// A robust futex whose owner `tid` died: mark it and wake one waiter.
pub fn owner_died(tid: u32, uaddr: u64) {
    let Ok(w) = word(uaddr, true) else { return };
    let mut waiters = false;
    let _ = w.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
        if v & FUTEX_TID_MASK != tid {
            return None;
        }
        waiters = v & FUTEX_WAITERS != 0;
        Some((v & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
    });
    if waiters {
        let _ = wake(uaddr, 1, FUTEX_BITSET_MATCH_ANY);
    }
}

/// A timeout argument as an absolute monotonic deadline.
fn deadline(cmd: u64, op: u64, timeout: u64) -> Result<Option<u64>, Errno> {
    if timeout == 0 {
        return Ok(None);
    }
    let ts: hx_abi::uapi::__kernel_timespec = mm::read_user(timeout)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(EINVAL);
    }
    let t = (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64);
    let now = time::monotonic_ns();
    Ok(Some(if cmd == FUTEX_WAIT {
        now.saturating_add(t) // relative
    } else if op & FUTEX_CLOCK_REALTIME != 0 {
        now.saturating_add(t.saturating_sub(time::realtime_ns()))
    } else {
        t
    }))
}

pub fn futex([uaddr, op, val, timeout, uaddr2, val3]: Args) -> SysResult {
    let cmd = op & !(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0
        && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET | FUTEX_WAIT_REQUEUE_PI | FUTEX_LOCK_PI2)
    {
        return Err(ENOSYS);
    }
    if uaddr % 4 != 0 {
        return Err(EINVAL);
    }
    // Requeue counts are ints: a negative one is EINVAL, as Linux.
    if matches!(cmd, FUTEX_REQUEUE | FUTEX_CMP_REQUEUE) && ((val as u32 as i32) < 0 || (timeout as u32 as i32) < 0) {
        return Err(EINVAL);
    }
    // A shared futex (no FUTEX_PRIVATE_FLAG) is found by its page, as
    // Linux looks it up: unmapped or PROT_NONE memory is EFAULT.
    if op & FUTEX_PRIVATE == 0 && matches!(cmd, FUTEX_WAKE | FUTEX_WAKE_BITSET | FUTEX_REQUEUE | FUTEX_CMP_REQUEUE) {
        word(uaddr, false)?;
        if matches!(cmd, FUTEX_REQUEUE | FUTEX_CMP_REQUEUE) {
            word(uaddr2, false)?;
        }
    }
    // A shared futex in memory other guest processes may map is waited on
    // and woken in the host, where every process mapping it meets.
    let between_processes = op & FUTEX_PRIVATE == 0 && super::mm::in_shared_mapping(uaddr);
    match cmd {
        FUTEX_WAIT if between_processes => {
            super::futex_shared::wait(uaddr, val as u32, deadline(cmd, op, timeout)?, FUTEX_BITSET_MATCH_ANY)
        }
        FUTEX_WAIT_BITSET if between_processes => {
            super::futex_shared::wait(uaddr, val as u32, deadline(cmd, op, timeout)?, val3 as u32)
        }
        FUTEX_WAKE if between_processes => wake_between_processes(uaddr, val, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_BITSET if between_processes => wake_between_processes(uaddr, val, val3 as u32),
        FUTEX_WAIT => wait(uaddr, val as u32, deadline(cmd, op, timeout)?, FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAIT_BITSET => wait(uaddr, val as u32, deadline(cmd, op, timeout)?, val3 as u32),
        FUTEX_WAKE => wake(uaddr, val.min(i32::MAX as u64), FUTEX_BITSET_MATCH_ANY),
        FUTEX_WAKE_BITSET => wake(uaddr, val.min(i32::MAX as u64), val3 as u32),
        // The fourth argument is a count here, not a timeout.
        FUTEX_REQUEUE => requeue(uaddr, val, timeout.min(i32::MAX as u64), uaddr2, None),
        FUTEX_CMP_REQUEUE => requeue(uaddr, val, timeout.min(i32::MAX as u64), uaddr2, Some(val3 as u32)),
        FUTEX_WAKE_OP => wake_op(uaddr, val, timeout.min(i32::MAX as u64), uaddr2, val3 as u32),
        // glibc probes for these when a PI mutex is made, and reports ENOTSUP:
        // the answer is the report (see docs/design.md), not a warning.
        FUTEX_LOCK_PI
        | FUTEX_UNLOCK_PI
        | FUTEX_TRYLOCK_PI
        | FUTEX_WAIT_REQUEUE_PI
        | FUTEX_CMP_REQUEUE_PI
        | FUTEX_LOCK_PI2 => Err(ENOSYS),
        _ => Err(ENOSYS),
    }
}

/// `futex_waitv(waiters, nr_futexes, flags, timeout, clockid)`: waits on up
/// to 128 32-bit futexes at once and returns the index of one woken; the
/// timeout is absolute, on CLOCK_MONOTONIC or CLOCK_REALTIME.
pub fn futex_waitv([waiters, count, flags, timeout, clockid, _]: Args) -> SysResult {
    const FUTEX2_SIZE_U32: u32 = hx_abi::uapi::FUTEX_32;
    const FUTEX2_VALID: u32 = hx_abi::uapi::FUTEX_32 | hx_abi::uapi::FUTEX_PRIVATE_FLAG;
    const MAX: u64 = hx_abi::uapi::FUTEX_WAITV_MAX as u64;
    if flags != 0 || count == 0 || count > MAX || waiters == 0 {
        return Err(EINVAL);
    }
    let deadline = match timeout {
        0 => None,
        t => {
            let realtime = match clockid {
                0 => true,  // CLOCK_REALTIME
                1 => false, // CLOCK_MONOTONIC
                _ => return Err(EINVAL),
            };
            let ts: hx_abi::uapi::__kernel_timespec = mm::read_user(t)?;
            if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
                return Err(EINVAL);
            }
            let at = (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_nsec as u64);
            let now = time::monotonic_ns();
            Some(if realtime { now.saturating_add(at.saturating_sub(time::realtime_ns())) } else { at })
        }
    };
    let mut words = Vec::with_capacity(count as usize);
    for i in 0..count {
        let w: hx_abi::uapi::futex_waitv =
            mm::read_user(waiters + i * core::mem::size_of::<hx_abi::uapi::futex_waitv>() as u64)?;
        if w.flags & !FUTEX2_VALID != 0 || w.flags & FUTEX2_SIZE_U32 == 0 || w.__reserved != 0 {
            return Err(EINVAL);
        }
        // A 32-bit futex's value must fit its word; the word must be aligned.
        if w.val > u64::from(u32::MAX) || !w.uaddr.is_multiple_of(4) {
            return Err(EINVAL);
        }
        words.push((w.uaddr, w.val as u32));
    }
    wait_on(&words, deadline, FUTEX_BITSET_MATCH_ANY)
}
