//! `madvise`: Linux's checks (which advice goes with which kind of
//! mapping), the advice that changes what the program sees (`DONTNEED`),
//! and the advice that changes what a forked child gets (`WIPEONFORK`: zero
//! pages; `DONTFORK`: no mapping at all), applied in the child right after
//! `fork`. The rest are hints with no visible effect.
use super::Args;
use crate::errno::{SysResult, EACCES, EINVAL, ENOMEM, EOPNOTSUPP, EPERM};
use crate::mm::space::Kind;
use crate::mm::with_space;
use alloc::vec::Vec;
use spin::Mutex;

const MADV_DONTNEED: u64 = 4;
const MADV_FREE: u64 = 8;
const MADV_REMOVE: u64 = 9;
const MADV_DONTFORK: u64 = 10;
const MADV_DOFORK: u64 = 11;
const MADV_MERGEABLE: u64 = 12;
const MADV_UNMERGEABLE: u64 = 13;
const MADV_DONTDUMP: u64 = 16;
const MADV_DODUMP: u64 = 17;
const MADV_WIPEONFORK: u64 = 18;
const MADV_KEEPONFORK: u64 = 19;
const MADV_HWPOISON: u64 = 100;
const MADV_SOFT_OFFLINE: u64 = 101;

#[derive(Clone, Copy, PartialEq, Eq)]
enum AtFork {
    Wipe,
    Drop,
}

/// Ranges a forked child gets zeroed (`Wipe`) or without (`Drop`).
static AT_FORK: Mutex<Vec<(u64, u64, AtFork)>> = Mutex::new(Vec::new());

/// Takes `[start, end)` out of the ranges marked `what` (all marks if None).
fn unmark(start: u64, end: u64, what: Option<AtFork>) {
    let mut marks = AT_FORK.lock();
    let mut kept = Vec::with_capacity(marks.len());
    for &(s, e, w) in marks.iter() {
        if e <= start || s >= end || what.is_some_and(|x| x != w) {
            kept.push((s, e, w));
            continue;
        }
        if s < start {
            kept.push((s, start, w));
        }
        if e > end {
            kept.push((end, e, w));
        }
    }
    *marks = kept;
}

/// `[start, end)` was unmapped or mapped afresh: its marks went with it.
pub fn forget(start: u64, end: u64) {
    if !AT_FORK.lock().is_empty() {
        unmark(start, end, None);
    }
}

/// In a forked child: what the parent marked is wiped or dropped.
pub fn after_fork() {
    let marks = core::mem::take(&mut *AT_FORK.lock());
    with_space(|s| {
        for &(start, end, what) in &marks {
            let _ = match what {
                AtFork::Wipe => s.zero_range(start, end),
                AtFork::Drop => s.unmap(start, end),
            };
        }
        s.flush();
    });
    // The marks of what the child kept hold for its own children.
    AT_FORK.lock().extend(marks.into_iter().filter(|m| m.2 == AtFork::Wipe));
}

pub fn madvise([addr, len, advice, ..]: Args) -> SysResult {
    let (start, end) = super::mm::range(addr, len)?;
    match advice {
        0..=4 | 8..=11 | 14..=25 => {}
        // A kernel without CONFIG_KSM, as Linux answers.
        MADV_MERGEABLE | MADV_UNMERGEABLE => return Err(EINVAL),
        // Memory-failure injection needs CAP_SYS_ADMIN, which the guest never has.
        MADV_HWPOISON | MADV_SOFT_OFFLINE => return Err(EPERM),
        _ => return Err(EINVAL),
    }
    if start == end {
        return Ok(0);
    }
    let vmas = with_space(|s| {
        let vmas = s.vmas();
        vmas.into_iter().filter(|v| v.start < end && v.end > start).collect::<Vec<_>>()
    });
    let covered = with_space(|s| s.covered(start, end));
    let private_anonymous =
        vmas.iter().all(|v| matches!(v.kind, Kind::Anon | Kind::Heap | Kind::Stack) && v.file.is_none());
    let shared = vmas.iter().all(|v| v.kind == Kind::Shared && v.file.is_none_or(|f| f.shared));
    // Locked pages stay (Linux: EINVAL).
    if matches!(advice, MADV_DONTNEED | MADV_REMOVE) && super::mlock::any_locked(start, end) {
        return Err(EINVAL);
    }
    let r = match advice {
        // Anonymous private memory reads back as zero after DONTNEED.
        MADV_DONTNEED => return with_space(|s| s.zero_range(start, end)).map(|_| 0),
        // Only private anonymous memory may be freed lazily (then a read may
        // still see the old bytes or zeros: keeping them is one answer).
        MADV_FREE | MADV_WIPEONFORK if !private_anonymous => return Err(EINVAL),
        MADV_WIPEONFORK => {
            unmark(start, end, Some(AtFork::Wipe));
            AT_FORK.lock().push((start, end, AtFork::Wipe));
            Ok(0)
        }
        MADV_KEEPONFORK => {
            unmark(start, end, Some(AtFork::Wipe));
            Ok(0)
        }
        MADV_DONTFORK => {
            unmark(start, end, Some(AtFork::Drop));
            AT_FORK.lock().push((start, end, AtFork::Drop));
            Ok(0)
        }
        MADV_DOFORK => {
            unmark(start, end, Some(AtFork::Drop));
            Ok(0)
        }
        // What a core file leaves out (VM_DONTDUMP).
        MADV_DONTDUMP | MADV_DODUMP => {
            crate::signal::coredump::set_dumped(start, end, advice == MADV_DODUMP);
            Ok(0)
        }
        // Punching holes in the memory behind a shared mapping is not built:
        // said, not pretended. A shared mapping that may never be written
        // cannot have it (EACCES), nor a private one (EINVAL), as on Linux.
        MADV_REMOVE if shared && vmas.iter().any(|v| v.file.is_some_and(|f| f.read_only)) => return Err(EACCES),
        MADV_REMOVE if shared => return Err(EOPNOTSUPP),
        MADV_REMOVE => return Err(EINVAL),
        // Hints with no effect on what the program observes.
        _ => Ok(0),
    };
    // Advice over a range with holes applies to what is mapped and says ENOMEM (Linux).
    if covered {
        r
    } else {
        Err(ENOMEM)
    }
}

/// `process_madvise(pidfd, iovec, vlen, advice, flags)`: any advice for the
/// caller's own memory, and for another process's the ones Linux takes
/// (`MADV_COLD`, `MADV_PAGEOUT`, `MADV_WILLNEED`, `MADV_COLLAPSE`: hints that
/// change nothing a program observes), for each range in turn; the bytes
/// advised. The caller's own ranges are checked as
/// `madvise` checks them (an unmapped one ends the call: what went before
/// counts, as on Linux). Another process is another VM whose mappings this
/// kernel cannot see: its ranges are taken as given (a hint may do nothing).
pub fn process_madvise([pidfd, iov, vlen, advice, flags, _]: Args) -> SysResult {
    const MADV_WILLNEED: u64 = 3;
    const MADV_COLD: u64 = 20;
    const MADV_PAGEOUT: u64 = 21;
    const MADV_COLLAPSE: u64 = 25;
    const UIO_MAXIOV: u64 = 1024;
    if flags != 0 || vlen > UIO_MAXIOV {
        return Err(EINVAL);
    }
    let (pid, _) = crate::fs::pidfd::target(pidfd)?;
    let own = pid as u64 == super::process::pid();
    // The caller's own memory takes any advice `madvise` takes (Linux 6.13 on).
    if !own && !matches!(advice, MADV_WILLNEED | MADV_COLD | MADV_PAGEOUT | MADV_COLLAPSE) {
        return Err(EINVAL);
    }
    if !own && !crate::fs::pidfd::alive(pid) {
        return Err(crate::errno::ESRCH);
    }
    let mut done = 0u64;
    for i in 0..vlen {
        let mut pair = [0u8; 16];
        crate::mm::copy_from_user(iov + 16 * i, &mut pair)?;
        let base = u64::from_le_bytes(pair[..8].try_into().unwrap_or_default());
        let len = u64::from_le_bytes(pair[8..].try_into().unwrap_or_default());
        if own {
            match madvise([base, len, advice, 0, 0, 0]) {
                Ok(_) => {}
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        } else {
            super::mm::range(base, len)?;
        }
        done = done.saturating_add(len);
    }
    Ok(done)
}
