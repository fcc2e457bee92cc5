//! The process: exit, identity, TLS, limits, signal bookkeeping, randomness.
use super::Args;
use crate::errno::{Errno, SysResult, EINVAL, EPERM, ESRCH};
use crate::{arch, host, mm};
use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use spin::Mutex;

/// This process's pid and its parent's: the first process is pid 1 (its
/// parent 0), like init in a container; a forked child learns its own from the monitor.
static PID: AtomicU64 = AtomicU64::new(1);

pub fn pid() -> u64 {
    PID.load(Ordering::Relaxed)
}

pub fn set_identity(pid: u64) {
    PID.store(pid, Ordering::Relaxed);
}

pub fn getpid(_: Args) -> SysResult {
    Ok(pid())
}

/// The parent may have ended since (its children then belong to pid 1): the
/// monitor keeps the answer in guest memory, so this costs no exit.
pub fn getppid(_: Args) -> SysResult {
    if let Some(parent) = super::vfork::parent_pid() {
        return Ok(parent);
    }
    Ok(crate::sched::parent_pid())
}

/// Scheduling policies: every guest thread is `SCHED_OTHER` (the guest
/// scheduler has no real-time class, so asking for one is refused as Linux
/// refuses an unprivileged process: EPERM).
const SCHED_OTHER: u64 = 0;
const SCHED_FIFO: u64 = 1;
const SCHED_RR: u64 = 2;
const SCHED_BATCH: u64 = 3;
const SCHED_IDLE: u64 = 5;

/// Whether `pid` (0: the caller) names this process or one of its threads.
/// Whose scheduling a call names.
enum Whom {
    /// This process (or one of its threads).
    Own,
    /// Another process of the tree, as its kernel published its policy and
    /// nice value; only its own kernel changes them.
    Other { policy: u64, nice: i32 },
}

fn sched_target(pid: u64) -> Result<Whom, crate::errno::Errno> {
    match pid as i32 {
        p if p < 0 => Err(EINVAL),
        0 => Ok(Whom::Own),
        p if p as u64 == self::pid() || crate::sched::thread(p as u32).is_some() => Ok(Whom::Own),
        p => crate::fs::proc::others::info(p as u32)
            .map(|i| Whom::Other { policy: u64::from(i.policy), nice: i.nice })
            .ok_or(crate::errno::ESRCH),
    }
}

/// Another process of the tree, as its kernel published its scheduling.
fn other_process(pid: u32) -> Option<Whom> {
    crate::fs::proc::others::info(pid).map(|i| Whom::Other { policy: u64::from(i.policy), nice: i.nice })
}

/// A setter's target: only this process (another's is refused as for a
/// caller without the privilege over it).
fn sched_own(pid: u64) -> Result<(), crate::errno::Errno> {
    match sched_target(pid)? {
        Whom::Own => Ok(()),
        Whom::Other { .. } => Err(crate::errno::EPERM),
    }
}

pub fn sched_get_priority_max([policy, ..]: Args) -> SysResult {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok(99),
        // SCHED_DEADLINE (6) has no static priority: 0, as Linux says.
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | 6 => Ok(0),
        _ => Err(EINVAL),
    }
}

pub fn sched_get_priority_min([policy, ..]: Args) -> SysResult {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok(1),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | 6 => Ok(0),
        _ => Err(EINVAL),
    }
}

/// The process's policy as the program set it (`SCHED_OTHER`, `SCHED_BATCH`
/// or `SCHED_IDLE`, with `SCHED_RESET_ON_FORK`); the guest scheduler treats
/// every thread alike whatever it is, as those policies only tune a
/// time-sharing scheduler.
static POLICY: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(SCHED_OTHER);
const SCHED_RESET_ON_FORK: u64 = 0x4000_0000;
const SCHED_DEADLINE: u64 = 6;

pub fn sched_getscheduler([pid, ..]: Args) -> SysResult {
    Ok(match sched_target(pid)? {
        Whom::Own => POLICY.load(core::sync::atomic::Ordering::Relaxed),
        Whom::Other { policy, .. } => policy,
    })
}

/// Sets a time-sharing policy; real-time ones are refused as for an
/// unprivileged process.
fn set_policy(policy: u64, prio: i64) -> SysResult {
    match policy & !SCHED_RESET_ON_FORK {
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE if prio == 0 => {
            POLICY.store(policy, core::sync::atomic::Ordering::Relaxed);
            publish_sched();
            Ok(0)
        }
        SCHED_FIFO | SCHED_RR if (1..=99).contains(&prio) => Err(crate::errno::EPERM),
        SCHED_DEADLINE => Err(crate::errno::EPERM),
        _ => Err(EINVAL),
    }
}

pub fn sched_setscheduler([pid, policy, param, ..]: Args) -> SysResult {
    // Linux's order: a null parameter or negative pid, the parameter's
    // memory, then the process.
    if param == 0 || (pid as i64) < 0 {
        return Err(EINVAL);
    }
    let prio: i32 = mm::read_user(param)?;
    if let Whom::Other { .. } = sched_target(pid)? {
        // Linux looks at the policy before the permission.
        return match policy & !SCHED_RESET_ON_FORK {
            SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_FIFO | SCHED_RR | SCHED_DEADLINE => Err(crate::errno::EPERM),
            _ => Err(EINVAL),
        };
    }
    set_policy(policy, prio as i64)
}

/// In a forked child, `SCHED_RESET_ON_FORK` is cleared and takes back what
/// it covers: a negative nice value (real-time policies never get here);
/// `SCHED_BATCH` and `SCHED_IDLE` stay, as on Linux.
pub fn policy_after_fork() {
    use core::sync::atomic::Ordering;
    DEFAULT_TIMER_SLACK.store(TIMER_SLACK.load(Ordering::Relaxed), Ordering::Relaxed);
    let policy = POLICY.load(Ordering::Relaxed);
    if policy & SCHED_RESET_ON_FORK != 0 {
        POLICY.store(policy & !SCHED_RESET_ON_FORK, Ordering::Relaxed);
        if NICE.load(Ordering::Relaxed) < 0 {
            NICE.store(0, Ordering::Relaxed);
        }
        publish_sched();
    }
}

/// Tells the monitor the policy and nice value, which other processes of
/// the tree read (`sched_getscheduler`, `getpriority` of this pid).
fn publish_sched() {
    use core::sync::atomic::Ordering;
    let (policy, nice) = (POLICY.load(Ordering::Relaxed), NICE.load(Ordering::Relaxed));
    let _ = crate::host::simple(
        hx_abi::hypercall::op::PGRP,
        &[hx_abi::hypercall::PGRP_SET_SCHED, policy, nice as i64 as u64],
    );
}

/// What `execve` passes on of the scheduling attributes.
pub fn sched_for_exec() -> hx_abi::boot::SchedState {
    use core::sync::atomic::Ordering;
    hx_abi::boot::SchedState {
        nice: NICE.load(Ordering::Relaxed) as i64,
        policy: POLICY.load(Ordering::Relaxed),
        ioprio: u64::from(IOPRIO.load(Ordering::Relaxed)),
        personality: u64::from(PERSONALITY.load(Ordering::Relaxed)),
        rlimits_set: 1,
        rlimits: RLIMITS.lock().map(|(soft, hard)| [soft, hard]),
        oom_score_adj: [OOM_SCORE_ADJ.load(Ordering::Relaxed), OOM_SCORE_ADJ_MIN.load(Ordering::Relaxed)],
    }
}

/// The attributes a new image starts with (from the monitor: checked, as
/// anything it passes through).
pub fn sched_from_exec(s: &hx_abi::boot::SchedState) {
    use core::sync::atomic::Ordering;
    NICE.store(s.nice.clamp(-20, 19) as i32, Ordering::Relaxed);
    let policy = match s.policy & !SCHED_RESET_ON_FORK {
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE => s.policy & (SCHED_RESET_ON_FORK | 7),
        _ => SCHED_OTHER,
    };
    POLICY.store(policy, Ordering::Relaxed);
    IOPRIO.store(s.ioprio as u16 as u32, Ordering::Relaxed);
    PERSONALITY.store(s.personality as u32, Ordering::Relaxed);
    OOM_SCORE_ADJ.store(s.oom_score_adj[0].clamp(-1000, 1000), Ordering::Relaxed);
    OOM_SCORE_ADJ_MIN.store(s.oom_score_adj[1].clamp(-1000, 1000), Ordering::Relaxed);
    if s.rlimits_set != 0 {
        // A pair out of order is the monitor's slip, not a limit: the soft one gives way.
        *RLIMITS.lock() = s.rlimits.map(|[soft, hard]| (soft.min(hard), hard));
        let [soft, hard] = s.rlimits[0];
        crate::signal::timers::arm_cpu_limit(soft.min(hard), hard);
    } else {
        // The first process: Linux starts init with RLIMIT_NPROC and
        // RLIMIT_SIGPENDING at half of threads-max (`fork_init`).
        let half = crate::fs::proc::system::threads_max() / 2;
        let mut limits = RLIMITS.lock();
        limits[6] = (half, half);
        limits[11] = (half, half);
        // The descriptors hx-run may have, as its shell gave them, but never
        // above Linux's defaults: the guest's files are host handles, which
        // `--max-open-files` bounds (4096 by default), and a limit above it
        // would end in an early EMFILE from the host instead of at the limit.
        let [soft, hard] = s.rlimits[RLIMIT_NOFILE as usize];
        if hard != 0 {
            let (default_soft, default_hard) = limits[RLIMIT_NOFILE as usize];
            let hard = hard.min(default_hard);
            limits[RLIMIT_NOFILE as usize] = (soft.min(default_soft).min(hard), hard);
        }
    }
}

/// `struct sched_attr` (its first version, 48 bytes; the kernel's is 56).
const SCHED_ATTR_SIZE_VER0: u32 = 48;
const SCHED_ATTR_SIZE: u32 = 56;
const SCHED_FLAG_RESET_ON_FORK: u64 = 1;
const SCHED_FLAG_KEEP_POLICY: u64 = 8;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP: u64 = 0x60;
/// `SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN`: deadline-only, accepted and
/// then refused with the policy (EPERM).
const SCHED_FLAG_DEADLINE: u64 = 6;

pub fn sched_getattr([pid, attr, size, flags, ..]: Args) -> SysResult {
    if attr == 0 || flags != 0 || size < SCHED_ATTR_SIZE_VER0 as u64 || size > 4096 {
        return Err(EINVAL);
    }
    let (policy, nice) = match sched_target(pid)? {
        Whom::Own => {
            (POLICY.load(core::sync::atomic::Ordering::Relaxed), NICE.load(core::sync::atomic::Ordering::Relaxed))
        }
        Whom::Other { policy, nice } => (policy, nice),
    };
    let mut a = [0u8; SCHED_ATTR_SIZE as usize];
    let size_out = (size as u32).min(SCHED_ATTR_SIZE);
    a[0..4].copy_from_slice(&size_out.to_ne_bytes());
    a[4..8].copy_from_slice(&((policy & !SCHED_RESET_ON_FORK) as u32).to_ne_bytes());
    let flags = if policy & SCHED_RESET_ON_FORK != 0 { SCHED_FLAG_RESET_ON_FORK } else { 0 };
    a[8..16].copy_from_slice(&flags.to_ne_bytes());
    a[16..20].copy_from_slice(&nice.to_ne_bytes());
    // util_max: the largest utilization (no clamp).
    a[52..56].copy_from_slice(&1024u32.to_ne_bytes());
    mm::copy_to_user(attr, &a[..size_out as usize])?;
    Ok(0)
}

pub fn sched_setattr([pid, attr, flags, ..]: Args) -> SysResult {
    if attr == 0 || flags != 0 {
        return Err(EINVAL);
    }
    sched_own(pid)?;
    let mut size: u32 = mm::read_user(attr)?;
    if size == 0 {
        size = SCHED_ATTR_SIZE_VER0;
    }
    if !(SCHED_ATTR_SIZE_VER0..=4096).contains(&size) {
        mm::write_user(attr, &SCHED_ATTR_SIZE)?;
        return Err(crate::errno::E2BIG);
    }
    let mut a = [0u8; SCHED_ATTR_SIZE as usize];
    let known = size.min(SCHED_ATTR_SIZE) as usize;
    mm::copy_from_user(attr, &mut a[..known])?;
    // A newer structure's extra bytes must be zero (Linux's rule for growing ABIs).
    let mut extra = [0u8; 64];
    let mut at = attr + SCHED_ATTR_SIZE as u64;
    while at < attr + size as u64 {
        let n = ((attr + size as u64 - at) as usize).min(extra.len());
        mm::copy_from_user(at, &mut extra[..n])?;
        if extra[..n].iter().any(|&b| b != 0) {
            mm::write_user(attr, &SCHED_ATTR_SIZE)?;
            return Err(crate::errno::E2BIG);
        }
        at += n as u64;
    }
    let word = |r: core::ops::Range<usize>| -> u64 {
        let mut b = [0u8; 8];
        b[..r.len()].copy_from_slice(&a[r]);
        u64::from_ne_bytes(b)
    };
    let policy = word(4..8);
    let sched_flags = word(8..16);
    let nice = word(16..20) as u32 as i32;
    let prio = word(20..24) as u32 as i32;
    if sched_flags
        & !(SCHED_FLAG_RESET_ON_FORK
            | SCHED_FLAG_KEEP_POLICY
            | SCHED_FLAG_KEEP_PARAMS
            | SCHED_FLAG_UTIL_CLAMP
            | SCHED_FLAG_DEADLINE)
        != 0
    {
        return Err(EINVAL);
    }
    if sched_flags & SCHED_FLAG_UTIL_CLAMP != 0 {
        return Err(crate::errno::EOPNOTSUPP);
    }
    let policy = if sched_flags & SCHED_FLAG_KEEP_POLICY != 0 {
        POLICY.load(core::sync::atomic::Ordering::Relaxed) & !SCHED_RESET_ON_FORK
    } else {
        policy
    };
    let reset = if sched_flags & SCHED_FLAG_RESET_ON_FORK != 0 { SCHED_RESET_ON_FORK } else { 0 };
    if matches!(policy, SCHED_OTHER | SCHED_BATCH | SCHED_IDLE) {
        if prio != 0 {
            return Err(EINVAL);
        }
        // The nice value belongs to the fair policies (SCHED_IDLE has none).
        if policy != SCHED_IDLE && sched_flags & SCHED_FLAG_KEEP_PARAMS == 0 {
            set_nice(nice, crate::errno::EPERM)?;
        }
    }
    set_policy(policy | reset, prio as i64)
}

pub fn sched_getparam([pid, param, ..]: Args) -> SysResult {
    if param == 0 || (pid as i64) < 0 {
        return Err(EINVAL);
    }
    sched_target(pid)?;
    mm::write_user(param, &0i32).map(|_| 0)
}

pub fn sched_setparam([pid, param, ..]: Args) -> SysResult {
    if param == 0 || (pid as i64) < 0 {
        return Err(EINVAL);
    }
    let prio: i32 = mm::read_user(param)?;
    sched_own(pid)?;
    if prio != 0 {
        return Err(EINVAL);
    }
    Ok(0)
}

/// `sched_rr_get_interval`: 0 — the round-robin quantum only means
/// something for SCHED_RR, which no guest thread has (what Linux reports
/// for a SCHED_OTHER task on an idle run queue too).
pub fn sched_rr_get_interval([pid, tp, ..]: Args) -> SysResult {
    sched_target(pid)?;
    mm::write_user(tp, &[0i64, 0]).map(|_| 0)
}

/// The process's nice value (every thread's: hx keeps one per process). The
/// guest scheduler runs threads round-robin whatever it is.
static NICE: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(0);

const PRIO_PROCESS: u64 = 0;
const PRIO_PGRP: u64 = 1;
const PRIO_USER: u64 = 2;

/// Whose nice value `getpriority`/`setpriority` name.
fn priority_target(which: u64, who: u64) -> Result<Whom, crate::errno::Errno> {
    let who = who as u32 as u64;
    let ours = match which {
        PRIO_PROCESS => who == 0 || who == pid() || crate::sched::thread(who as u32).is_some(),
        PRIO_PGRP => who == 0 || who == pgrp(0, 0, 0).unwrap_or(0),
        PRIO_USER => who == 0 || who == super::cred::current().user.effective as u64,
        _ => return Err(EINVAL),
    };
    if ours {
        return Ok(Whom::Own);
    }
    let other = if which == PRIO_PROCESS { other_process(who as u32) } else { None };
    other.ok_or(crate::errno::ESRCH)
}

/// `getpriority`: as the raw syscall, 20 - nice (of a group or a user:
/// the highest priority among its processes, as Linux answers).
pub fn getpriority([which, who, ..]: Args) -> SysResult {
    let own = NICE.load(core::sync::atomic::Ordering::Relaxed);
    let nice = match (which, priority_target(which, who)) {
        (PRIO_PROCESS, Ok(Whom::Own)) => own,
        (_, Ok(Whom::Other { nice, .. })) => nice,
        (PRIO_PGRP | PRIO_USER, Ok(_) | Err(crate::errno::ESRCH)) => {
            let args = [hx_abi::hypercall::PGRP_RENICE, which, who as u32 as u64, 0, 0, 1];
            return crate::host::simple(hx_abi::hypercall::op::PGRP, &args);
        }
        (_, r) => return r.map(|_| 0),
    };
    Ok((20 - nice) as u64)
}

pub fn setpriority([which, who, prio, ..]: Args) -> SysResult {
    let nice = (prio as i32).clamp(-20, 19);
    // This process alone: its own kernel's.
    if which == PRIO_PROCESS && matches!(priority_target(which, who)?, Whom::Own) {
        return set_nice(nice, crate::errno::EACCES).map(|()| 0);
    }
    if which > PRIO_USER {
        return Err(EINVAL);
    }
    // A group, a user or another process: the monitor sets the others'
    // (with Linux's permission rules) and says whether this one is among them.
    let cap = u64::from(super::cred::capable(hx_abi::uapi::CAP_SYS_NICE));
    let args = [hx_abi::hypercall::PGRP_RENICE, which, who as u32 as u64, nice as i64 as u64, cap, 0];
    let mine = crate::host::simple(hx_abi::hypercall::op::PGRP, &args)?;
    if mine & 1 != 0 {
        NICE.store(nice, core::sync::atomic::Ordering::Relaxed);
        publish_sched();
    }
    Ok(0)
}

/// The last `setpriority` of this process by another one (`Shared::nice_request`) taken.
pub fn take_nice_request() {
    use core::sync::atomic::{AtomicU64, Ordering};
    static TAKEN: AtomicU64 = AtomicU64::new(0);
    let request = crate::sched::nice_request();
    if request >> 32 != TAKEN.load(Ordering::Relaxed) >> 32 {
        TAKEN.store(request, Ordering::Relaxed);
        NICE.store((request as u32 as i32).clamp(-20, 19), Ordering::Relaxed);
    }
}

/// Sets the nice value (clamped to -20..=19); lowering it needs
/// `CAP_SYS_NICE`, else `refused` (`setpriority` says EACCES,
/// `sched_setattr` EPERM).
fn set_nice(nice: i32, refused: crate::errno::Errno) -> Result<(), crate::errno::Errno> {
    let nice = nice.clamp(-20, 19);
    if nice < NICE.load(core::sync::atomic::Ordering::Relaxed) && !super::cred::capable(hx_abi::uapi::CAP_SYS_NICE) {
        return Err(refused);
    }
    NICE.store(nice, core::sync::atomic::Ordering::Relaxed);
    publish_sched();
    Ok(())
}

/// The process's I/O priority as `ioprio_set` gave it (0: none set, as
/// Linux reports it). hx does no I/O scheduling of its own; the host's
/// applies to the monitor.
static IOPRIO: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_CLASS_NONE: u32 = 0;
const IOPRIO_CLASS_RT: u32 = 1;
const IOPRIO_CLASS_BE: u32 = 2;
const IOPRIO_CLASS_IDLE: u32 = 3;

pub fn ioprio_get([which, who, ..]: Args) -> SysResult {
    Ok(match priority_target(which.wrapping_sub(1), who)? {
        Whom::Own => u64::from(IOPRIO.load(core::sync::atomic::Ordering::Relaxed)),
        // Another process's I/O priority is its kernel's: none set, as Linux shows it by default.
        Whom::Other { .. } => 0,
    })
}

pub fn ioprio_set([which, who, ioprio, ..]: Args) -> SysResult {
    let ioprio = ioprio as u32;
    let (class, level) = (ioprio >> IOPRIO_CLASS_SHIFT, ioprio & 7);
    match class {
        IOPRIO_CLASS_RT | IOPRIO_CLASS_BE => {
            if class == IOPRIO_CLASS_RT
                && !super::cred::capable(hx_abi::uapi::CAP_SYS_NICE)
                && !super::cred::capable(hx_abi::uapi::CAP_SYS_ADMIN)
            {
                return Err(crate::errno::EPERM);
            }
        }
        IOPRIO_CLASS_IDLE => {}
        IOPRIO_CLASS_NONE if level == 0 => {}
        _ => return Err(EINVAL),
    }
    if let Whom::Other { .. } = priority_target(which.wrapping_sub(1), who)? {
        return Err(crate::errno::EPERM);
    }
    IOPRIO.store(ioprio, core::sync::atomic::Ordering::Relaxed);
    Ok(0)
}

pub fn sched_yield(_: Args) -> SysResult {
    crate::sched::yield_now();
    Ok(0)
}

pub fn arch_prctl([code, addr, ..]: Args) -> SysResult {
    const ARCH_SET_GS: u64 = 0x1001;
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    const ARCH_GET_GS: u64 = 0x1004;
    const ARCH_GET_CPUID: u64 = 0x1011;
    const ARCH_SET_CPUID: u64 = 0x1012;
    match code {
        ARCH_SET_FS | ARCH_SET_GS if addr >= hx_abi::layout::USER_END => Err(EPERM),
        ARCH_SET_FS => {
            arch::write_fs_base(addr);
            Ok(0)
        }
        ARCH_GET_FS => mm::write_user(addr, &arch::read_fs_base()).map(|_| 0),
        // hx keeps each vCPU's kernel data at its GS base (docs/design.md).
        ARCH_SET_GS => {
            host::log(b"arch_prctl(ARCH_SET_GS): GS is reserved for hx's kernel; returning EINVAL");
            Err(EINVAL)
        }
        ARCH_GET_GS => mm::write_user(addr, &0u64).map(|_| 0),
        // CPUID faulting is not offered (a CPU without it, as Linux answers):
        // `cpuid` always runs, and cannot be made to fault.
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(crate::errno::ENODEV),
        _ => Err(EINVAL),
    }
}

/// The process's host and domain names once it set one (`sethostname`,
/// `setdomainname`), or an image before it did (`execve` keeps them); a
/// forked child has its parent's (its kernel is a copy). Each process of
/// the tree has its own: unlike Linux's UTS namespace, which every process
/// in it shares, one that renames itself does not rename the others.
static UTS: Mutex<Option<hx_abi::boot::UtsNames>> = Mutex::new(None);

fn uts() -> hx_abi::boot::UtsNames {
    if let Some(u) = *UTS.lock() {
        return u;
    }
    let mut u = crate::boot_info().exec.uts;
    if u.hostname_len == 0 || u.hostname_len > u.hostname.len() as u64 {
        let boot = crate::fs::proc::system::boot_hostname();
        u.hostname[..boot.len()].copy_from_slice(boot);
        u.hostname_len = boot.len() as u64;
    }
    if u.domainname_len == 0 || u.domainname_len > u.domainname.len() as u64 {
        let none = crate::fs::proc::system::DOMAINNAME;
        u.domainname[..none.len()].copy_from_slice(none);
        u.domainname_len = none.len() as u64;
    }
    u
}

pub fn hostname() -> alloc::vec::Vec<u8> {
    let u = uts();
    u.hostname[..u.hostname_len as usize].to_vec()
}

pub fn domainname() -> alloc::vec::Vec<u8> {
    let u = uts();
    u.domainname[..u.domainname_len as usize].to_vec()
}

/// What an `execve` keeps.
pub fn uts_for_exec() -> hx_abi::boot::UtsNames {
    uts()
}

/// `sethostname` and `setdomainname`: CAP_SYS_ADMIN, then at most 64 bytes.
fn set_uts_name(name: u64, len: u64, domain: bool) -> SysResult {
    if !super::cred::capable(hx_abi::uapi::CAP_SYS_ADMIN) {
        return Err(crate::errno::EPERM);
    }
    let len = len as i32;
    if !(0..=hx_abi::boot::HOSTNAME_MAX as i32).contains(&len) {
        return Err(EINVAL);
    }
    let mut bytes = [0u8; hx_abi::boot::HOSTNAME_MAX];
    mm::copy_from_user(name, &mut bytes[..len as usize])?;
    store_uts_name(bytes, len as u64, domain);
    Ok(0)
}

fn store_uts_name(bytes: [u8; hx_abi::boot::HOSTNAME_MAX], len: u64, domain: bool) {
    let mut u = uts();
    if domain {
        (u.domainname, u.domainname_len) = (bytes, len);
    } else {
        (u.hostname, u.hostname_len) = (bytes, len);
    }
    *UTS.lock() = Some(u);
}

/// A write to `/proc/sys/kernel/hostname` or `domainname` (root's, by the
/// file's mode): the text up to its first newline, cut to 64 bytes, as
/// Linux's `proc_dostring` takes it.
fn store_uts_text(data: &[u8], domain: bool) -> Result<(), Errno> {
    let text = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let len = text.len().min(hx_abi::boot::HOSTNAME_MAX);
    let mut bytes = [0u8; hx_abi::boot::HOSTNAME_MAX];
    bytes[..len].copy_from_slice(&text[..len]);
    store_uts_name(bytes, len as u64, domain);
    Ok(())
}

pub fn store_hostname(data: &[u8]) -> Result<(), Errno> {
    store_uts_text(data, false)
}

pub fn store_domainname(data: &[u8]) -> Result<(), Errno> {
    store_uts_text(data, true)
}

pub fn sethostname([name, len, ..]: Args) -> SysResult {
    set_uts_name(name, len, false)
}

pub fn setdomainname([name, len, ..]: Args) -> SysResult {
    set_uts_name(name, len, true)
}

/// `reboot`, as Linux answers it inside a PID namespace (the guest's tree
/// is one): CAP_SYS_BOOT first, then the magic numbers; Ctrl-Alt-Del's
/// setting is taken (it has no key to act on); a restart, halt or power-off
/// ends the tree — the first process killed by SIGHUP (restart) or SIGINT
/// (halt, power-off), as the namespace's parent sees its init end, when it
/// calls itself; when another process calls, the first process is killed
/// (SIGKILL) and the caller ends. Anything else is EINVAL.
pub fn reboot([magic1, magic2, cmd, ..]: Args) -> SysResult {
    const MAGIC1: u32 = 0xfee1_dead;
    const MAGIC2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
    const CAD_OFF: u32 = 0;
    const CAD_ON: u32 = 0x89ab_cdef;
    const RESTART: u32 = 0x0123_4567;
    const RESTART2: u32 = 0xa1b2_c3d4;
    const HALT: u32 = 0xcdef_0123;
    const POWER_OFF: u32 = 0x4321_fedc;
    if !super::cred::capable(hx_abi::uapi::CAP_SYS_BOOT) {
        return Err(EPERM);
    }
    if magic1 as u32 != MAGIC1 || !MAGIC2.contains(&(magic2 as u32)) {
        return Err(EINVAL);
    }
    let sig = match cmd as u32 {
        CAD_ON | CAD_OFF => return Ok(0),
        RESTART | RESTART2 => 1, // SIGHUP
        HALT | POWER_OFF => 2,   // SIGINT
        _ => return Err(EINVAL),
    };
    if pid() == 1 {
        host::exit_signaled(sig);
    }
    super::signal::kill([1, crate::signal::SIGKILL as u64, 0, 0, 0, 0])?;
    super::thread::exit_group([0; 6])
}

pub fn uname([buf, ..]: Args) -> SysResult {
    let mut u = [0u8; 6 * 65];
    let (host, domain) = (hostname(), domainname());
    let fields: [&[u8]; 6] = [b"Linux", &host, b"6.1.0-hx", b"#1 SMP hx unikernel", b"x86_64", &domain];
    for (i, f) in fields.iter().enumerate() {
        u[i * 65..i * 65 + f.len()].copy_from_slice(f);
    }
    mm::copy_to_user(buf, &u)?;
    Ok(0)
}

/// Resource limits, as Linux starts a process with them: (soft, hard).
static RLIMITS: Mutex<[(u64, u64); hx_abi::boot::RLIMITS]> = Mutex::new({
    const INF: u64 = u64::MAX;
    let mut l = [(INF, INF); hx_abi::boot::RLIMITS];
    l[3] = (8 << 20, INF); // RLIMIT_STACK
    l[4] = (0, INF); // RLIMIT_CORE
    l[7] = (1024, 4096); // RLIMIT_NOFILE
    l[8] = (8 << 20, 8 << 20); // RLIMIT_MEMLOCK
    l[13] = (0, 0); // RLIMIT_NICE
    l[14] = (0, 0); // RLIMIT_RTPRIO
    l
});

const RLIMIT_FSIZE: u64 = 1;
const RLIMIT_CORE: u64 = 4;
const RLIMIT_CPU: u64 = 0;

/// `RLIMIT_CPU`'s soft limit moved on by its watch (Linux's `check_rlimit`).
pub fn raise_cpu_soft_limit(soft: u64) {
    let mut limits = RLIMITS.lock();
    limits[0].0 = soft.min(limits[0].1);
}
const RLIMIT_NOFILE: u64 = 7;

pub fn getrlimit([resource, old, ..]: Args) -> SysResult {
    prlimit64([0, resource, 0, old, 0, 0])
}

/// Every resource's (soft, hard) limits, in Linux's order.
pub fn limits() -> [(u64, u64); hx_abi::boot::RLIMITS] {
    *RLIMITS.lock()
}

/// The soft limit of `resource` (`RLIM_INFINITY`: none).
pub fn soft_limit(resource: usize) -> u64 {
    RLIMITS.lock().get(resource).map_or(u64::MAX, |l| l.0)
}

/// The execution domain (`personality`): Linux's (`PER_LINUX`) with any
/// flags the program sets. hx's address-space layout is not randomized, so
/// `ADDR_NO_RANDOMIZE` holds whatever it says.
static PERSONALITY: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

/// The execution domain now (`/proc/<pid>/personality`).
pub fn personality_now() -> u32 {
    PERSONALITY.load(core::sync::atomic::Ordering::Relaxed)
}

pub fn personality([persona, ..]: Args) -> SysResult {
    use core::sync::atomic::Ordering;
    let old = PERSONALITY.load(Ordering::Relaxed);
    let persona = persona as u32;
    if persona != u32::MAX {
        PERSONALITY.store(persona, Ordering::Relaxed);
    }
    Ok(old as u64)
}

pub fn setrlimit([resource, new, ..]: Args) -> SysResult {
    prlimit64([0, resource, new, 0, 0, 0])
}

pub fn prlimit64([pid, resource, new, old, ..]: Args) -> SysResult {
    if pid != 0 && pid != self::pid() {
        return Err(ESRCH);
    }
    let mut limits = RLIMITS.lock();
    let slot = limits.get_mut(resource as usize).ok_or(EINVAL)?;
    let previous = *slot;
    if new != 0 {
        let (soft, hard): (u64, u64) = (mm::read_user(new)?, mm::read_user(new + 8)?);
        if soft > hard {
            return Err(EINVAL);
        }
        // Raising a hard limit takes CAP_SYS_RESOURCE; no descriptor limit
        // goes past nr_open (Linux's rules).
        if hard > previous.1 && !super::cred::capable(hx_abi::uapi::CAP_SYS_RESOURCE) {
            return Err(EPERM);
        }
        if resource == RLIMIT_NOFILE && hard > crate::fs::table::MAX_FDS as u64 {
            return Err(EPERM);
        }
        *slot = (soft, hard);
        if resource == RLIMIT_CPU {
            drop(limits);
            crate::signal::timers::arm_cpu_limit(soft, hard);
            if old != 0 {
                mm::write_user(old, &[previous.0, previous.1])?;
            }
            return Ok(0);
        }
        if resource == RLIMIT_CORE {
            drop(limits);
            // Faults then dump core (or no longer): the monitor is told.
            crate::signal::publish_caught();
        } else if resource == RLIMIT_FSIZE && (soft, hard) != previous {
            // The monitor writes the guest's files: its host limit is the guest's.
            let _ = host::simple(hx_abi::hypercall::op::PGRP, &[hx_abi::hypercall::PGRP_SET_FSIZE, soft, hard]);
        }
    }
    if old != 0 {
        mm::write_user(old, &[previous.0, previous.1])?;
    }
    Ok(0)
}

/// A forked child draws fresh randomness (its copy of the generator would
/// repeat the parent's).
pub fn reseed_after_fork() {
    *RNG.lock() = None;
    // The boot seed is the parent's too, used or not: the child asks the host.
    BOOT_SEED_TAKEN.store(true, Ordering::Relaxed);
}

/// A ChaCha20 generator seeded once: from the seed the monitor gave at
/// boot, or (a forked child, whose copy of that seed is its parent's) from
/// the host.
static RNG: Mutex<Option<ChaCha20Rng>> = Mutex::new(None);
static BOOT_SEED_TAKEN: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

pub fn getrandom([buf, len, flags, ..]: Args) -> SysResult {
    const VALID: u64 = 0x1 | 0x2 | 0x4; // GRND_NONBLOCK, GRND_RANDOM, GRND_INSECURE
    if flags & !VALID != 0 {
        return Err(EINVAL);
    }
    let len = len.min(i32::MAX as u64);
    mm::with_space(|s| s.check(buf, len, true))?;
    let mut rng = RNG.lock();
    let rng = rng.get_or_insert_with(|| {
        let mut seed = [0u8; 32];
        if BOOT_SEED_TAKEN.swap(true, Ordering::Relaxed) {
            host::random(&mut seed);
        } else {
            seed = crate::boot_info().random_seed;
        }
        ChaCha20Rng::from_seed(seed)
    });
    // SAFETY: checked writable above.
    let out = unsafe { core::slice::from_raw_parts_mut(buf as *mut u8, len as usize) };
    rng.fill_bytes(out);
    Ok(len)
}

/// Process groups and sessions live in the monitors' process table (another
/// process may change a group, `setpgid` on a child).
fn pgrp(what: u64, pid: u64, pgid: u64) -> SysResult {
    host::simple(hx_abi::hypercall::op::PGRP, &[what, pid, pgid])
}

pub fn getpgrp(_: Args) -> SysResult {
    pgrp(hx_abi::hypercall::PGRP_GET, 0, 0)
}

pub fn getpgid([pid, ..]: Args) -> SysResult {
    pgrp(hx_abi::hypercall::PGRP_GET, pid, 0)
}

pub fn getsid([pid, ..]: Args) -> SysResult {
    pgrp(hx_abi::hypercall::PGRP_GETSID, pid, 0)
}

pub fn setpgid([pid, pgid, ..]: Args) -> SysResult {
    if (pgid as i64) < 0 {
        return Err(EINVAL);
    }
    pgrp(hx_abi::hypercall::PGRP_SET, pid, pgid)
}

pub fn setsid(_: Args) -> SysResult {
    pgrp(hx_abi::hypercall::PGRP_SETSID, 0, 0)
}

/// A thread of this process by pid/tid (0: the caller).
fn target(pid: u64) -> Result<alloc::sync::Arc<crate::sched::Thread>, crate::errno::Errno> {
    match pid {
        0 => Ok(crate::sched::current_arc()),
        p if p == self::pid() => {
            crate::sched::thread(p as u32).or_else(|| crate::sched::threads().into_iter().next()).ok_or(ESRCH)
        }
        p => crate::sched::thread(p as u32).ok_or(ESRCH),
    }
}

/// The vCPUs as a CPU mask.
fn online_mask() -> u64 {
    let n = crate::sched::ncpus();
    if n >= 64 {
        u64::MAX
    } else {
        (1 << n) - 1
    }
}

/// Affinity masks bind threads to vCPUs (the scheduler runs a thread only
/// on a vCPU its mask holds).
pub fn sched_getaffinity([pid, len, mask, ..]: Args) -> SysResult {
    // Another process of the tree: its kernel keeps its mask; every vCPU.
    let t = match target(pid) {
        Err(_) if matches!(sched_target(pid), Ok(Whom::Other { .. })) => None,
        t => Some(t?),
    };
    if len < 8 || len % 8 != 0 {
        return Err(EINVAL);
    }
    let m = t.map_or(u64::MAX, |t| t.affinity.load(core::sync::atomic::Ordering::Relaxed)) & online_mask();
    mm::write_user(mask, &m)?;
    Ok(8)
}

pub fn sched_setaffinity([pid, len, mask, ..]: Args) -> SysResult {
    let t = match target(pid) {
        Err(_) if matches!(sched_target(pid), Ok(Whom::Other { .. })) => return Err(crate::errno::EPERM),
        t => t?,
    };
    if len == 0 {
        return Err(EINVAL);
    }
    let mut bytes = [0u8; 8];
    let n = (len as usize).min(8);
    mm::copy_from_user(mask, &mut bytes[..n])?;
    let m = u64::from_le_bytes(bytes) & online_mask();
    if m == 0 {
        return Err(EINVAL);
    }
    t.affinity.store(m, core::sync::atomic::Ordering::Relaxed);
    // The caller leaves a vCPU it may no longer run on at once, as on Linux
    // (another thread leaves at its next switch).
    crate::sched::migrate_if_barred();
    Ok(0)
}

/// `getcpu`: the vCPU the caller runs on, NUMA node 0.
pub fn getcpu([cpu, node, ..]: Args) -> SysResult {
    let c = crate::arch::percpu::cpu() as u32;
    if cpu != 0 {
        mm::write_user(cpu, &c)?;
    }
    if node != 0 {
        mm::write_user(node, &0u32)?;
    }
    Ok(0)
}

/// `struct rusage` (144 bytes): user time is the time the program has run.
/// What the reaped children used (`RUSAGE_CHILDREN`): times summed, the
/// largest peak size, as Linux adds a child's usage when it is waited for.
static CHILDREN: spin::Mutex<[u64; 18]> = spin::Mutex::new([0; 18]);

/// A forked child starts counting its own children's use from zero.
pub fn forget_children_usage() {
    *CHILDREN.lock() = [0; 18];
}

pub fn add_children_usage(r: &[u64; 18]) {
    let mut c = CHILDREN.lock();
    for (sec, usec) in [(0, 1), (2, 3)] {
        let total = (c[sec] + r[sec]) * 1_000_000 + c[usec] + r[usec];
        c[sec] = total / 1_000_000;
        c[usec] = total % 1_000_000;
    }
    c[4] = c[4].max(r[4]);
    for i in 5..18 {
        c[i] = c[i].wrapping_add(r[i]);
    }
}

pub fn getrusage([who, usage, ..]: Args) -> SysResult {
    const RUSAGE_SELF: i64 = 0;
    const RUSAGE_CHILDREN: i64 = -1;
    const RUSAGE_THREAD: i64 = 1;
    let mut r = [0u64; 18];
    match who as i32 as i64 {
        RUSAGE_SELF | RUSAGE_THREAD => {
            let ns = if who as i32 as i64 == RUSAGE_THREAD {
                crate::sched::current().cpu_time()
            } else {
                crate::sched::process_cpu_ns()
            };
            r[0] = ns / 1_000_000_000;
            r[1] = (ns % 1_000_000_000) / 1000;
            r[4] = mm::with_space(|s| s.resident_bytes()) / 1024; // ru_maxrss, KiB
        }
        RUSAGE_CHILDREN => r = *CHILDREN.lock(),
        _ => return Err(EINVAL),
    }
    mm::write_user(usage, &r)?;
    Ok(0)
}

/// `times`: clock ticks (100 Hz) of the process's user and system time and
/// of its waited-for children's (as `RUSAGE_CHILDREN` adds them up); the
/// return value counts ticks since boot.
pub fn times([buf, ..]: Args) -> SysResult {
    const TICK_US: u64 = 10_000;
    let ticks = crate::sched::process_cpu_ns() / (TICK_US * 1000);
    if buf != 0 {
        let c = *CHILDREN.lock();
        let child_ticks = |sec: u64, usec: u64| (sec * 1_000_000 + usec) / TICK_US;
        mm::write_user(buf, &[ticks, 0u64, child_ticks(c[0], c[1]), child_ticks(c[2], c[3])])?;
    }
    Ok(crate::time::monotonic_ns() / (TICK_US * 1000))
}

/// `struct sysinfo` (112 bytes).
pub fn sysinfo([info, ..]: Args) -> SysResult {
    let mut s = [0u8; 112];
    let uptime = crate::time::monotonic_ns() / 1_000_000_000;
    let total = crate::boot_info().mem_size;
    let used = mm::with_space(|sp| sp.resident_bytes());
    s[0..8].copy_from_slice(&uptime.to_le_bytes());
    s[32..40].copy_from_slice(&total.to_le_bytes());
    s[40..48].copy_from_slice(&total.saturating_sub(used).to_le_bytes());
    s[80..82].copy_from_slice(&(crate::sched::threads().len() as u16).to_le_bytes()); // procs
    s[104..108].copy_from_slice(&1u32.to_le_bytes()); // mem_unit
    mm::copy_to_user(info, &s)?;
    Ok(0)
}

/// Thread names (`PR_SET_NAME`) that differ from the program's: by tid.
static THREAD_NAMES: Mutex<alloc::collections::BTreeMap<u32, [u8; 16]>> =
    Mutex::new(alloc::collections::BTreeMap::new());
/// `PR_SET_DUMPABLE`, `PR_SET_NO_NEW_PRIVS`, `PR_SET_TIMERSLACK`.
static DUMPABLE: AtomicU64 = AtomicU64::new(1);

/// Whether a fatal signal may write a core file (`PR_GET_DUMPABLE`).
pub fn dumpable() -> bool {
    DUMPABLE.load(Ordering::Relaxed) == 1
}
static NO_NEW_PRIVS: AtomicU64 = AtomicU64::new(0);

/// The process's `oom_score_adj` and the least it may set without
/// CAP_SYS_RESOURCE (Linux's `oom_score_adj_min`); both survive `fork` and
/// `execve`.
static OOM_SCORE_ADJ: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(0);
static OOM_SCORE_ADJ_MIN: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(0);

pub fn oom_score_adj() -> i32 {
    OOM_SCORE_ADJ.load(Ordering::Relaxed)
}

/// Linux's `__set_oom_adj`: below the minimum needs CAP_SYS_RESOURCE
/// (`EACCES`), which also moves the minimum (not through the legacy file).
pub fn set_oom_score_adj(v: i32, legacy: bool) -> Result<(), crate::errno::Errno> {
    let privileged = super::cred::capable(hx_abi::uapi::CAP_SYS_RESOURCE);
    if v < OOM_SCORE_ADJ_MIN.load(Ordering::Relaxed) && !privileged {
        return Err(crate::errno::EACCES);
    }
    OOM_SCORE_ADJ.store(v, Ordering::Relaxed);
    if !legacy && privileged {
        OOM_SCORE_ADJ_MIN.store(v, Ordering::Relaxed);
    }
    Ok(())
}

/// `PR_GET_NO_NEW_PRIVS` (seccomp's precondition, kept across `execve`).
pub fn no_new_privs() -> bool {
    NO_NEW_PRIVS.load(Ordering::Relaxed) != 0
}

pub fn set_no_new_privs(on: bool) {
    NO_NEW_PRIVS.store(u64::from(on), Ordering::Relaxed);
}
static TIMER_SLACK: AtomicU64 = AtomicU64::new(50_000);
/// What `PR_SET_TIMERSLACK` 0 goes back to: 50 µs, or in a forked child the
/// parent's slack at the fork (Linux's `default_timer_slack_ns`).
static DEFAULT_TIMER_SLACK: AtomicU64 = AtomicU64::new(50_000);

/// The calling thread's name: as set, else the program's file name (Linux's `comm`).
pub fn thread_name() -> [u8; 16] {
    let tid = crate::sched::current().tid;
    if let Some(n) = name_set_for(tid) {
        return n;
    }
    let exe = crate::exe_path();
    let base = exe.rsplit(|&b| b == b'/').next().unwrap_or(exe);
    let mut n = [0u8; 16];
    let len = base.len().min(15);
    n[..len].copy_from_slice(&base[..len]);
    n
}

/// The name `PR_SET_NAME` gave thread `tid`, if it did.
pub fn name_set_for(tid: u32) -> Option<[u8; 16]> {
    THREAD_NAMES.lock().get(&tid).copied()
}

pub fn prctl([option, arg2, arg3, arg4, arg5, ..]: Args) -> SysResult {
    use hx_abi::uapi;
    const PR_SET_PDEATHSIG: u64 = uapi::PR_SET_PDEATHSIG as u64;
    const PR_GET_PDEATHSIG: u64 = uapi::PR_GET_PDEATHSIG as u64;
    const PR_GET_DUMPABLE: u64 = uapi::PR_GET_DUMPABLE as u64;
    const PR_SET_DUMPABLE: u64 = uapi::PR_SET_DUMPABLE as u64;
    const PR_SET_NAME: u64 = uapi::PR_SET_NAME as u64;
    const PR_GET_NAME: u64 = uapi::PR_GET_NAME as u64;
    const PR_SET_TIMERSLACK: u64 = uapi::PR_SET_TIMERSLACK as u64;
    const PR_GET_TIMERSLACK: u64 = uapi::PR_GET_TIMERSLACK as u64;
    const PR_SET_NO_NEW_PRIVS: u64 = uapi::PR_SET_NO_NEW_PRIVS as u64;
    const PR_GET_NO_NEW_PRIVS: u64 = uapi::PR_GET_NO_NEW_PRIVS as u64;
    const PR_GET_SECCOMP: u64 = uapi::PR_GET_SECCOMP as u64;
    const PR_SET_SECCOMP: u64 = uapi::PR_SET_SECCOMP as u64;
    const PR_GET_KEEPCAPS: u64 = uapi::PR_GET_KEEPCAPS as u64;
    const PR_SET_KEEPCAPS: u64 = uapi::PR_SET_KEEPCAPS as u64;
    const PR_GET_SECUREBITS: u64 = uapi::PR_GET_SECUREBITS as u64;
    const PR_SET_SECUREBITS: u64 = uapi::PR_SET_SECUREBITS as u64;
    const PR_CAP_AMBIENT: u64 = 47;
    const PR_SET_CHILD_SUBREAPER: u64 = uapi::PR_SET_CHILD_SUBREAPER as u64;
    const PR_GET_CHILD_SUBREAPER: u64 = uapi::PR_GET_CHILD_SUBREAPER as u64;
    const PR_CAPBSET_READ: u64 = uapi::PR_CAPBSET_READ as u64;
    const PR_CAPBSET_DROP: u64 = uapi::PR_CAPBSET_DROP as u64;
    use hx_abi::hypercall::{op, PGRP_GET_PDEATHSIG, PGRP_SET_PDEATHSIG};
    match option {
        PR_SET_PDEATHSIG if arg2 <= 64 => host::simple(op::PGRP, &[PGRP_SET_PDEATHSIG, arg2, 0]).map(|_| 0),
        PR_SET_PDEATHSIG => Err(EINVAL),
        PR_GET_PDEATHSIG => {
            let sig = host::simple(op::PGRP, &[PGRP_GET_PDEATHSIG, 0, 0])? as i32;
            mm::write_user(arg2, &sig).map(|_| 0)
        }
        PR_GET_DUMPABLE => Ok(DUMPABLE.load(Ordering::Relaxed)),
        PR_SET_DUMPABLE if arg2 <= 1 => {
            DUMPABLE.store(arg2, Ordering::Relaxed);
            crate::signal::publish_caught();
            Ok(0)
        }
        PR_SET_NAME => {
            let name = mm::read_cstr(arg2, 4096)?;
            let mut n = [0u8; 16];
            let len = name.len().min(15);
            n[..len].copy_from_slice(&name[..len]);
            THREAD_NAMES.lock().insert(crate::sched::current().tid, n);
            Ok(0)
        }
        PR_GET_NAME => mm::write_user(arg2, &thread_name()).map(|_| 0),
        PR_SET_TIMERSLACK => {
            let slack = if arg2 == 0 { DEFAULT_TIMER_SLACK.load(Ordering::Relaxed) } else { arg2 };
            TIMER_SLACK.store(slack, Ordering::Relaxed);
            Ok(0)
        }
        PR_GET_TIMERSLACK => Ok(TIMER_SLACK.load(Ordering::Relaxed)),
        // The other arguments must be 0 (Linux: EINVAL), as for the next.
        PR_SET_NO_NEW_PRIVS if arg2 == 1 && arg3 | arg4 | arg5 == 0 => {
            NO_NEW_PRIVS.store(1, Ordering::Relaxed);
            Ok(0)
        }
        PR_SET_NO_NEW_PRIVS => Err(EINVAL),
        PR_GET_NO_NEW_PRIVS if arg2 | arg3 | arg4 | arg5 == 0 => Ok(NO_NEW_PRIVS.load(Ordering::Relaxed)),
        PR_GET_NO_NEW_PRIVS => Err(EINVAL),
        PR_GET_SECCOMP => Ok(super::seccomp::mode_number()),
        PR_SET_SECCOMP => super::seccomp::set_by_prctl(arg2, arg3),
        PR_GET_KEEPCAPS => Ok(u64::from(super::cred::securebits() & super::cred::SECBIT_KEEP_CAPS != 0)),
        PR_SET_KEEPCAPS if arg2 <= 1 => super::cred::set_keepcaps(arg2 == 1).map(|()| 0),
        PR_SET_KEEPCAPS => Err(EINVAL),
        PR_GET_SECUREBITS => Ok(u64::from(super::cred::securebits())),
        PR_SET_SECUREBITS => super::cred::set_securebits(arg2).map(|()| 0),
        PR_CAP_AMBIENT if arg4 == 0 && arg5 == 0 => super::cred::ambient(arg2, arg3),
        PR_CAP_AMBIENT => Err(EINVAL),
        // Kept by the monitors' process table, where orphans find their reaper.
        PR_SET_CHILD_SUBREAPER => {
            host::simple(op::PGRP, &[hx_abi::hypercall::PGRP_SET_SUBREAPER, u64::from(arg2 != 0)]).map(|_| 0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let on = host::simple(op::PGRP, &[hx_abi::hypercall::PGRP_GET_SUBREAPER])? as i32;
            mm::write_user(arg2, &on).map(|_| 0)
        }
        // The capability bounding set (kept with the credentials: inherited
        // by fork and execve as Linux does).
        PR_CAPBSET_READ if arg2 <= uapi::CAP_LAST_CAP as u64 => {
            Ok(u64::from(super::cred::in_bounding_set(arg2 as u32)))
        }
        PR_CAPBSET_DROP if arg2 <= uapi::CAP_LAST_CAP as u64 => {
            super::cred::drop_from_bounding_set(arg2 as u32).map(|()| 0)
        }
        PR_CAPBSET_READ | PR_CAPBSET_DROP => Err(EINVAL),
        _ => {
            host::log(b"prctl: an option hx does not implement: EINVAL");
            Err(EINVAL)
        }
    }
}

/// The console log levels (`/proc/sys/kernel/printk`): console,
/// default message, minimum console and default console level, Linux's
/// defaults at first. Each process keeps its own (its own kernel), passed
/// on by `fork` and `execve`: a change reaches the process's later
/// children, not its parent (Linux's are global).
pub static PRINTK_LEVELS: [AtomicI32; 4] = [AtomicI32::new(4), AtomicI32::new(4), AtomicI32::new(1), AtomicI32::new(7)];

pub fn printk_levels() -> [i32; 4] {
    core::array::from_fn(|i| PRINTK_LEVELS[i].load(Ordering::Relaxed))
}

pub fn set_printk_levels(levels: [i32; 4]) {
    for (level, v) in PRINTK_LEVELS.iter().zip(levels) {
        level.store(v, Ordering::Relaxed);
    }
}

/// A write to `/proc/sys/kernel/printk`: up to four levels, as Linux's
/// `proc_dointvec` takes them (the ones given, from the first).
pub fn store_printk(data: &[u8]) -> Result<(), Errno> {
    let text = core::str::from_utf8(data).map_err(|_| EINVAL)?;
    let mut values = [0i32; 4];
    let mut n = 0;
    for word in text.split_ascii_whitespace() {
        if n == 4 {
            break;
        }
        values[n] = word.parse().map_err(|_| EINVAL)?;
        n += 1;
    }
    if n == 0 {
        return Err(EINVAL);
    }
    for (level, v) in PRINTK_LEVELS.iter().zip(&values[..n]) {
        level.store(*v, Ordering::Relaxed);
    }
    Ok(())
}

/// `syslog`: the guest kernel's log, which stays empty (hx's kernel logs to
/// the monitor, never to the program; the host's log stays the host's).
/// Every action needs CAP_SYSLOG (or CAP_SYS_ADMIN), as with Debian's
/// `dmesg_restrict`; then Linux's checks: a read of nothing returns 0, a
/// blocking read waits for a message that never comes (until a signal).
pub fn syslog([action, buf, len, ..]: Args) -> SysResult {
    const READ: u64 = 2;
    const READ_ALL: u64 = 3;
    const READ_CLEAR: u64 = 4;
    const CONSOLE_LEVEL: u64 = 8;
    const SIZE_BUFFER: u64 = 10;
    /// Linux's default log buffer (`CONFIG_LOG_BUF_SHIFT` 17).
    const LOG_BUF_LEN: u64 = 1 << 17;
    if !super::cred::capable(hx_abi::uapi::CAP_SYSLOG) && !super::cred::capable(hx_abi::uapi::CAP_SYS_ADMIN) {
        return Err(EPERM);
    }
    let len = len as i32;
    match action as i32 as i64 as u64 {
        READ | READ_ALL | READ_CLEAR => {
            if buf == 0 || len < 0 {
                return Err(EINVAL);
            }
            if len == 0 {
                return Ok(0);
            }
            mm::with_space(|s| s.check(buf, len as u64, true))?;
            if action == READ {
                // Waits for a new message: none comes.
                loop {
                    if crate::signal::pending() {
                        return Err(crate::errno::ERESTARTSYS);
                    }
                    crate::sched::block(None);
                }
            }
            Ok(0)
        }
        CONSOLE_LEVEL => {
            if !(1..=8).contains(&len) {
                return Err(EINVAL);
            }
            let minimum = PRINTK_LEVELS[2].load(Ordering::Relaxed);
            PRINTK_LEVELS[0].store(len.max(minimum), Ordering::Relaxed);
            Ok(0)
        }
        SIZE_BUFFER => Ok(LOG_BUF_LEN),
        // Close, open, clear, console off and on, the unread size (none).
        0 | 1 | 5 | 6 | 7 | 9 => Ok(0),
        _ => Err(EINVAL),
    }
}

/// `restart_syscall`: a program calling it itself has no interrupted call to
/// resume (hx restarts calls by re-entering them), which Linux answers EINTR.
pub fn restart_syscall(_: Args) -> SysResult {
    Err(crate::errno::EINTR)
}
