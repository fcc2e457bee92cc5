//! System V IPC: shared memory segments, semaphore sets and message queues
//! are the host kernel's, in the IPC namespace of the `hx-run` tree
//! (`op::SYSV`), so every guest process of the tree — each its own VM —
//! meets the same objects with Linux's semantics. This side checks and
//! copies the program's buffers, maps attached segments, and waits without
//! holding its vCPU while a monitor helper waits in the host.
use super::futex_shared::{await_helper, Ended};
use super::Args;
use crate::errno::{Errno, SysResult, E2BIG, EAGAIN, EEXIST, EFAULT, EINTR, EINVAL};
use crate::mm::{with_space, Backing};
use crate::{host, mm, time};
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::hypercall::{
    op, sysv_ctl_buffer, sysv_limits, Request, SysvBuffer, SYSV_CANCEL, SYSV_CTL, SYSV_KIND_MSG, SYSV_KIND_SEM,
    SYSV_KIND_SHM, SYSV_LIMIT, SYSV_MSGGET, SYSV_MSGRCV, SYSV_MSGSND, SYSV_PRIVILEGED, SYSV_SEMGET, SYSV_SEMOP,
    SYSV_SHMAT, SYSV_SHMGET, SYSV_SHM_SIZE, SYSV_STARTED, SYSV_WAITING,
};
use hx_abi::layout::{align_down, align_up, PAGE_SIZE};

/// Who the monitor acts as (`args[6]` of every request): `SYSV_PRIVILEGED`
/// for a process with `CAP_IPC_OWNER` (the guest's root), else its effective
/// group and user ids, whose permissions the host then checks, as Linux
/// checks the caller's.
pub(super) fn who() -> u64 {
    if super::cred::capable(hx_abi::uapi::CAP_IPC_OWNER) {
        return SYSV_PRIVILEGED;
    }
    let c = super::cred::current();
    u64::from(c.group.effective) << 32 | u64::from(c.user.effective)
}

pub fn shmget([key, size, flags, ..]: Args) -> SysResult {
    host::simple(op::SYSV, &[SYSV_SHMGET, key, size, flags, 0, 0, who()])
}

pub fn semget([key, nsems, flags, ..]: Args) -> SysResult {
    host::simple(op::SYSV, &[SYSV_SEMGET, key, nsems as i32 as i64 as u64, flags, 0, 0, who()])
}

pub fn msgget([key, flags, ..]: Args) -> SysResult {
    host::simple(op::SYSV, &[SYSV_MSGGET, key, flags, 0, 0, 0, who()])
}

/// The text of the namespace's IPC limit `which` (`SYSV_LIMITS`), as
/// `/proc/sys` shows it; None without the tree's namespace.
pub fn limit_text(which: u64) -> Option<Vec<u8>> {
    let mut buf = [0u8; 256];
    let (r, _) = host::path_request(op::SYSV, &[SYSV_LIMIT, which, 0, 0, 0, 0, who()], &[], &mut [&mut buf]);
    r.ok().map(|n| buf[..(n as usize).min(buf.len())].to_vec())
}

/// A write to the IPC limit file `which`: its numbers, each at most what
/// `hx-run` set (`EINVAL` above, as a sysctl's range).
pub fn store_limit(which: u64, data: &[u8]) -> Result<(), Errno> {
    host::path_request(op::SYSV, &[SYSV_LIMIT, which, 1, 0, 0, 0, who()], &[data], &mut []).0.map(|_| ())
}

/// An id argument (an int; a negative one is no object).
fn id(v: u64) -> Result<u64, Errno> {
    match v as i32 {
        i if i < 0 => Err(EINVAL),
        i => Ok(i as u64),
    }
}

// ---- control commands ----

const SETVAL: u64 = 16;

/// One control request, with `buf` as its structure.
fn ctl_request(kind: u64, id: u64, cmd: u64, semnum: u64, value: u64, buf: &mut [u8]) -> SysResult {
    let (r, _) = host::path_request(op::SYSV, &[SYSV_CTL, kind, id, cmd, semnum, value, who()], &[], &mut [buf]);
    r
}

fn ctl(kind: u64, id: u64, cmd: u64, semnum: u64, arg: u64) -> SysResult {
    let cmd = cmd as i32;
    let buffer = match sysv_ctl_buffer(kind, cmd) {
        // The monitor refuses what Linux does not have.
        None => SysvBuffer::None,
        Some(SysvBuffer::Values { reads }) if reads => SysvBuffer::In(2 * sem_count(id)?),
        Some(SysvBuffer::Values { .. }) => SysvBuffer::Out(2 * sem_count(id)?),
        Some(b) => b,
    };
    let cmd = cmd as u64;
    match buffer {
        SysvBuffer::In(n) => {
            let mut buf = vec![0u8; n];
            mm::copy_from_user(arg, &mut buf)?;
            ctl_request(kind, id, cmd, semnum, 0, &mut buf)
        }
        SysvBuffer::Out(n) => {
            let mut buf = vec![0u8; n];
            let r = ctl_request(kind, id, cmd, semnum, 0, &mut buf)?;
            mm::copy_to_user(arg, &buf)?;
            Ok(r)
        }
        _ => ctl_request(kind, id, cmd, semnum, arg, &mut []),
    }
}

/// How many semaphores set `id` has (`IPC_STAT`'s `sem_nsems`).
fn sem_count(id: u64) -> Result<usize, Errno> {
    let mut ds = [0u8; 104];
    ctl_request(SYSV_KIND_SEM, id, 2, 0, 0, &mut ds)?;
    let n = u64::from_ne_bytes(ds[80..88].try_into().unwrap_or_default());
    Ok(n.min(u64::from(sysv_limits::SEMMSL)) as usize)
}

pub fn shmctl([shmid, cmd, buf, ..]: Args) -> SysResult {
    ctl(SYSV_KIND_SHM, id(shmid)?, cmd, 0, buf)
}

pub fn semctl([semid, semnum, cmd, arg, ..]: Args) -> SysResult {
    // SETVAL's argument is the value itself (the union's `int val`).
    let arg = if cmd as i32 as u64 == SETVAL { arg as i32 as u32 as u64 } else { arg };
    ctl(SYSV_KIND_SEM, id(semid)?, cmd, semnum as i32 as u32 as u64, arg)
}

pub fn msgctl([msqid, cmd, buf, ..]: Args) -> SysResult {
    ctl(SYSV_KIND_MSG, id(msqid)?, cmd, 0, buf)
}

// ---- waiting calls ----

/// Sends a call that may have to wait (`SYSV_SEMOP`, `SYSV_MSGSND`,
/// `SYSV_MSGRCV`), whose outcome word is `args[outcome_at]`, with kernel
/// buffer `buf`; waits for the monitor's helper if it started one. A
/// timeout is `EAGAIN` (semaphores), a signal `EINTR`: System V calls are
/// never restarted, as on Linux.
fn waiting_call(args: &mut [u64], outcome_at: usize, buf: &mut [u8], deadline: Option<u64>) -> SysResult {
    // The word and `buf` live until the helper can no longer write them
    // (an outcome written, or the wait cancelled).
    let outcome = Box::new(AtomicU64::new(SYSV_WAITING));
    let outcome_phys = host::phys_of(&*outcome as *const AtomicU64 as u64);
    args[outcome_at] = outcome_phys;
    let mut req = Request::new(op::SYSV);
    req.args[..args.len()].copy_from_slice(args);
    req.args[6] = who();
    req.segs[0] = host::kernel_segment(buf.as_mut_ptr() as u64, buf.len());
    req.nsegs = 1;
    let r = host::result(host::call(&mut req))?;
    if req.args[7] != SYSV_STARTED {
        return Ok(r);
    }
    let look = || match outcome.load(Ordering::Acquire) {
        SYSV_WAITING => None,
        v => Some(host::result(v as i64)),
    };
    let cancel = || {
        let _ = host::simple(op::SYSV, &[SYSV_CANCEL, outcome_phys]);
    };
    match await_helper(look, deadline, cancel) {
        Ok(r) => r,
        Err(Ended::TimedOut) => Err(EAGAIN),
        Err(Ended::Signal) => Err(EINTR),
    }
}

pub fn semop([semid, sops, nsops, ..]: Args) -> SysResult {
    semtimedop([semid, sops, nsops, 0, 0, 0])
}

pub fn semtimedop([semid, sops, nsops, timeout, ..]: Args) -> SysResult {
    if nsops == 0 || (semid as i32) < 0 {
        return Err(EINVAL);
    }
    if nsops > u64::from(sysv_limits::SEMOPM) {
        return Err(E2BIG);
    }
    let mut ops = vec![0u8; 6 * nsops as usize];
    mm::copy_from_user(sops, &mut ops)?;
    let deadline = match timeout {
        0 => None,
        t => Some(time::monotonic_ns().saturating_add(super::time::read_timespec(t)?)),
    };
    waiting_call(&mut [SYSV_SEMOP, semid, 0, 0], 3, &mut ops, deadline)
}

pub fn msgsnd([msqid, msgp, msgsz, msgflg, ..]: Args) -> SysResult {
    let mtype: i64 = mm::read_user(msgp)?;
    if msgsz > u64::from(sysv_limits::MSGMAX) || (msqid as i32) < 0 || mtype < 1 {
        return Err(EINVAL);
    }
    let mut msg = vec![0u8; 8 + msgsz as usize];
    mm::copy_from_user(msgp, &mut msg)?;
    waiting_call(&mut [SYSV_MSGSND, msqid, msgflg as i32 as u32 as u64, 0], 3, &mut msg, None)
}

pub fn msgrcv([msqid, msgp, msgsz, msgtyp, msgflg, ..]: Args) -> SysResult {
    if (msgsz as i64) < 0 || (msqid as i32) < 0 {
        return Err(EINVAL);
    }
    // No message is longer than the namespace's limit.
    let room = msgsz.min(u64::from(sysv_limits::MSGMAX)) as usize;
    let mut msg = vec![0u8; 8 + room];
    let flags = msgflg as i32 as u32 as u64;
    let n = waiting_call(&mut [SYSV_MSGRCV, msqid, msgtyp, flags, 0], 4, &mut msg, None)?;
    mm::copy_to_user(msgp, &msg[..8 + (n as usize).min(room)])?;
    Ok(n)
}

// ---- attached segments ----

const SHM_RDONLY: u64 = 0o10000;
const SHM_RND: u64 = 0o20000;
const SHM_REMAP: u64 = 0o40000;
const SHM_EXEC: u64 = 0o100000;
/// x86-64's attach alignment.
const SHMLBA: u64 = PAGE_SIZE;

/// The program's attachments: (address, length).
static ATTACHED: spin::Mutex<Vec<(u64, u64)>> = spin::Mutex::new(Vec::new());

/// `[start, end)` was unmapped or mapped afresh: attachments there are gone.
pub fn forget(start: u64, end: u64) {
    ATTACHED.lock().retain(|&(s, l)| s + l <= start || s >= end);
}

pub fn shmat([shmid, shmaddr, shmflg, ..]: Args) -> SysResult {
    let shmid = id(shmid)?;
    let mut at = shmaddr;
    if at % SHMLBA != 0 {
        if shmflg & SHM_RND == 0 {
            return Err(EINVAL);
        }
        at = align_down(at, SHMLBA);
    }
    if shmflg & SHM_REMAP != 0 && shmaddr == 0 {
        return Err(EINVAL);
    }
    let (size, args) = host::path_request(op::SYSV, &[SYSV_SHM_SIZE, shmid, 0, 0, 0, 0, who()], &[], &mut []);
    let len = align_up(size?, PAGE_SIZE);
    let key = args[1] as u32;
    const PROT_READ: u32 = 1;
    const PROT_WRITE: u32 = 2;
    const PROT_EXEC: u32 = 4;
    let prot = PROT_READ
        | if shmflg & SHM_RDONLY == 0 { PROT_WRITE } else { 0 }
        | if shmflg & SHM_EXEC != 0 { PROT_EXEC } else { 0 };
    // MAP_PRIVATE | MAP_ANONYMOUS, at the address if given: over what is
    // mapped there only with SHM_REMAP (MAP_FIXED), else never
    // (MAP_FIXED_NOREPLACE: Linux's shmat says EINVAL).
    const MAP_FIXED: u64 = 0x10;
    const MAP_FIXED_NOREPLACE: u64 = 0x100000;
    let fixed = match (at, shmflg & SHM_REMAP != 0) {
        (0, _) => 0,
        (_, true) => MAP_FIXED,
        (_, false) => MAP_FIXED_NOREPLACE,
    };
    let start = with_space(|s| s.mmap(at, len, 0, 0x22 | fixed)).map_err(|e| if e == EEXIST { EINVAL } else { e })?;
    let end = start + len;
    super::mm::forget_past_eof(start, end);
    crate::rewrite::forget(start, end);
    let fail = |e| {
        with_space(|s| {
            let _ = s.unmap(start, end);
            s.flush();
        });
        Err(e)
    };
    let phys = match with_space(|s| s.back_shared(start, len, prot)) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut req = Request::new(op::SYSV);
    req.args[..3].copy_from_slice(&[SYSV_SHMAT, shmid, shmflg & (SHM_RDONLY | SHM_EXEC)]);
    req.args[6] = who();
    req.segs[0] = hx_abi::hypercall::Segment { phys, len };
    req.nsegs = 1;
    if let Err(e) = host::result(host::call(&mut req)) {
        return fail(e);
    }
    let backing = Backing {
        name: crate::mm::names::intern(&segment_name(key)),
        offset: 0,
        shared: true,
        // A read-only attachment can never be made writable (mprotect: EACCES).
        read_only: shmflg & SHM_RDONLY != 0,
    };
    with_space(|s| s.set_backing(start, end, backing));
    ATTACHED.lock().push((start, len));
    Ok(start)
}

/// What `/proc/self/maps` shows for a segment, as Linux names it.
fn segment_name(key: u32) -> Vec<u8> {
    let mut name = b"/SYSV".to_vec();
    for shift in (0..8).rev() {
        name.push(b"0123456789abcdef"[(key >> (shift * 4)) as usize & 0xf]);
    }
    name.extend_from_slice(b" (deleted)");
    name
}

pub fn shmdt([shmaddr, ..]: Args) -> SysResult {
    let found = ATTACHED.lock().iter().find(|&&(s, _)| s == shmaddr).copied();
    let (start, len) = found.ok_or(EINVAL)?;
    // What is left of the attachment there goes (pages the program
    // unmapped or replaced since are not it any more).
    super::mm::munmap([start, len, 0, 0, 0, 0]).map_err(|_| EFAULT)
}

// ---- /proc/sysvipc ----

/// The `*_STAT_ANY` structure of every object of `kind` (`SYSV_KIND_*`),
/// with its id: what `/proc/sysvipc` lists.
pub fn all_objects(kind: u64) -> Vec<(u64, Vec<u8>)> {
    // (*_INFO, *_STAT_ANY, the structure's size)
    let (info, stat_any, size) = match kind {
        SYSV_KIND_SHM => (14, 15, 112),
        SYSV_KIND_SEM => (19, 20, 104),
        _ => (12, 13, 120),
    };
    let info_size = match sysv_ctl_buffer(kind, info as i32) {
        Some(SysvBuffer::Out(n)) => n,
        _ => 0,
    };
    let mut scratch = vec![0u8; info_size];
    let Ok(highest) = ctl_request(kind, 0, info, 0, 0, &mut scratch) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for index in 0..=highest.min(u64::from(sysv_limits::SHMMNI)) {
        let mut ds = vec![0u8; size];
        if let Ok(id) = ctl_request(kind, index, stat_any, 0, 0, &mut ds) {
            out.push((id, ds));
        }
    }
    out
}
