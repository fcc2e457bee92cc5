//! Memory locks (`mlock`, `mlockall`, `MAP_LOCKED`): guest memory is never
//! paged out, so a lock changes no page; what it changes is what Linux
//! reports and refuses on locked memory — `VmLck` in `/proc/self/status`,
//! `MADV_DONTNEED`/`MADV_REMOVE` (EINVAL) and `msync(MS_INVALIDATE)`
//! (EBUSY) on it, and `RLIMIT_MEMLOCK`, counted on what is locked. A
//! forked child inherits no lock (Linux).
use super::Args;
use crate::errno::{Errno, SysResult, EINVAL, ENOMEM, EPERM};
use crate::mm::with_space;
use alloc::vec::Vec;
use hx_abi::layout::{align_up, PAGE_SIZE, USER_END};
use spin::Mutex;

struct Locks {
    /// Locked ranges, disjoint and sorted.
    ranges: Vec<(u64, u64)>,
    /// `MCL_FUTURE`: mappings made from now on are locked.
    future: bool,
}

static LOCKS: Mutex<Locks> = Mutex::new(Locks { ranges: Vec::new(), future: false });

const RLIMIT_MEMLOCK: usize = 8;

/// Takes `[start, end)` out of sorted, disjoint `ranges` (cutting the ones it overlaps).
pub(crate) fn remove(ranges: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    let mut kept = Vec::with_capacity(ranges.len() + 1);
    for &(s, e) in ranges.iter() {
        if e <= start || s >= end {
            kept.push((s, e));
            continue;
        }
        if s < start {
            kept.push((s, start));
        }
        if e > end {
            kept.push((end, e));
        }
    }
    *ranges = kept;
}

fn add(ranges: &mut Vec<(u64, u64)>, start: u64, end: u64) {
    remove(ranges, start, end);
    ranges.push((start, end));
    ranges.sort_unstable();
    // Adjacent ranges become one.
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(s, e) in ranges.iter() {
        match merged.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => merged.push((s, e)),
        }
    }
    *ranges = merged;
}

fn locked_bytes(ranges: &[(u64, u64)]) -> u64 {
    ranges.iter().map(|(s, e)| e - s).sum()
}

/// Bytes locked (`VmLck`).
pub fn locked() -> u64 {
    locked_bytes(&LOCKS.lock().ranges)
}

/// Bytes of `[start, end)` that are locked (smaps' `Locked`).
pub fn locked_in(start: u64, end: u64) -> u64 {
    LOCKS.lock().ranges.iter().map(|&(s, e)| e.min(end).saturating_sub(s.max(start))).sum()
}

/// Whether any page of `[start, end)` is locked.
pub fn any_locked(start: u64, end: u64) -> bool {
    LOCKS.lock().ranges.iter().any(|&(s, e)| s < end && e > start)
}

/// `[start, end)` was unmapped or mapped afresh: its lock went with it.
pub fn forget(start: u64, end: u64) {
    let mut l = LOCKS.lock();
    if !l.ranges.is_empty() {
        remove(&mut l.ranges, start, end);
    }
}

/// A new mapping at `[start, end)`: locked if asked (`MAP_LOCKED`) or if
/// `mlockall(MCL_FUTURE)` is in force (within `RLIMIT_MEMLOCK`, else EAGAIN).
pub fn mapped(start: u64, end: u64, map_locked: bool) -> Result<(), Errno> {
    let mut l = LOCKS.lock();
    if !(map_locked || l.future) {
        return Ok(());
    }
    let total = locked_bytes(&l.ranges) + (end - start);
    within_limit(total).map_err(|_| crate::errno::EAGAIN)?;
    add(&mut l.ranges, start, end);
    Ok(())
}

/// In a forked child: no lock is inherited.
pub fn after_fork() {
    let mut l = LOCKS.lock();
    l.ranges.clear();
    l.future = false;
}

/// Without `CAP_IPC_LOCK`, at most `RLIMIT_MEMLOCK` bytes (`EPERM` when it is 0).
fn within_limit(bytes: u64) -> Result<(), Errno> {
    if super::cred::capable(hx_abi::uapi::CAP_IPC_LOCK) {
        return Ok(());
    }
    let limit = super::process::soft_limit(RLIMIT_MEMLOCK);
    if limit == 0 {
        return Err(EPERM);
    }
    if bytes > limit {
        return Err(ENOMEM);
    }
    Ok(())
}

/// The page range `mlock`/`munlock` act on; it must be mapped (ENOMEM).
fn page_range(addr: u64, len: u64) -> Result<(u64, u64), Errno> {
    let start = addr & !(PAGE_SIZE - 1);
    let end = addr.checked_add(len).map(|e| align_up(e, PAGE_SIZE)).ok_or(ENOMEM)?;
    if end > USER_END || !with_space(|s| s.covered(start, end)) {
        return Err(ENOMEM);
    }
    Ok((start, end))
}

pub fn mlock([addr, len, ..]: Args) -> SysResult {
    lock(addr, len, true)
}

/// Locks `[addr, addr+len)`; `populate`: its pages are made present (all
/// but `MLOCK_ONFAULT`, which locks only those the program touches).
fn lock(addr: u64, len: u64, populate: bool) -> SysResult {
    let (start, end) = page_range(addr, len)?;
    let mut l = LOCKS.lock();
    let mut after = l.ranges.clone();
    add(&mut after, start, end);
    within_limit(locked_bytes(&after))?;
    l.ranges = after;
    drop(l);
    if populate {
        with_space(|s| s.mark_populated(start, end))?;
    }
    Ok(0)
}

pub fn mlock2([addr, len, flags, ..]: Args) -> SysResult {
    const MLOCK_ONFAULT: u64 = 1;
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(EINVAL);
    }
    lock(addr, len, flags & MLOCK_ONFAULT == 0)
}

pub fn munlock([addr, len, ..]: Args) -> SysResult {
    let (start, end) = page_range(addr, len)?;
    remove(&mut LOCKS.lock().ranges, start, end);
    Ok(0)
}

pub fn mlockall([flags, ..]: Args) -> SysResult {
    const MCL_CURRENT: u64 = 1;
    const MCL_FUTURE: u64 = 2;
    const MCL_ONFAULT: u64 = 4;
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT {
        return Err(EINVAL);
    }
    let mut l = LOCKS.lock();
    if flags & MCL_CURRENT != 0 {
        let all: Vec<(u64, u64)> = with_space(|s| s.vmas().iter().map(|v| (v.start, v.end)).collect());
        let mut after = l.ranges.clone();
        for (s, e) in all {
            add(&mut after, s, e);
        }
        within_limit(locked_bytes(&after))?;
        l.ranges = after;
    }
    l.future = flags & MCL_FUTURE != 0;
    Ok(0)
}

pub fn munlockall(_: Args) -> SysResult {
    let mut l = LOCKS.lock();
    l.ranges.clear();
    l.future = false;
    Ok(0)
}
