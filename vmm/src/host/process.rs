//! Requests about other guest processes: `WAIT`, `KILL`, `PGRP`. Guest pids
//! are looked up in the monitors' shared process table
//! (`crate::process::table`); a guest can only name processes of its own
//! `hx-run` tree, and only wait for its own children.
use super::guest::Segs;
use crate::process::table::{self, Entry};
use crate::sandbox::Errno;
use hx_abi::hypercall::{
    ProcIdentity, ProcInfo, Request, MAX_TID_BLOCK, PGRP_ENDED, PGRP_GET, PGRP_GETSID, PGRP_GET_PDEATHSIG,
    PGRP_GET_SUBREAPER, PGRP_INFO, PGRP_LIST, PGRP_RENICE, PGRP_SET, PGRP_SETSID, PGRP_SET_IDENTITY,
    PGRP_SET_PDEATHSIG, PGRP_SET_SCHED, PGRP_SET_SUBREAPER, PGRP_TAKE_QUEUED, PGRP_TIDS, PROC_RUNNING, PROC_SLEEPING,
    PROC_STOPPED, PROC_ZOMBIE,
};
use std::sync::atomic::Ordering;

/// The process asking: this monitor's, or the child running in its VM
/// until it execs (`crate::process::spawn`).
fn me() -> Result<&'static Entry, Errno> {
    crate::process::spawn::reserved().or_else(table::me).ok_or(libc::ESRCH)
}

fn pid_of(e: &Entry) -> i32 {
    e.pid.load(Ordering::SeqCst)
}

/// `WAIT`: a child whose monitor published its end (it may still be tearing
/// its VM down), else a `waitid` on the host for the child monitor(s),
/// always without blocking (the guest blocks its thread until the next
/// SIGCHLD instead).
pub fn wait(req: &mut Request, segs: &Segs) -> i64 {
    const WALL: u64 = libc::__WALL as u32 as u64;
    const WCLONE: u64 = libc::__WCLONE as u32 as u64;
    const ALLOWED: u64 =
        (libc::WNOHANG | libc::WSTOPPED | libc::WEXITED | libc::WCONTINUED | libc::WNOWAIT) as u64 | WALL | WCLONE;
    let options = req.args[1];
    if options & !ALLOWED != 0 || options & (libc::WSTOPPED | libc::WEXITED | libc::WCONTINUED) as u64 == 0 {
        return -(libc::EINVAL as i64);
    }
    let Ok(me) = me() else { return -(libc::ECHILD as i64) };
    let my_pid = pid_of(me);
    table::reap_finished(my_pid);
    let pid = req.args[0] as i64;
    // Which children this wait sees: by default those that signal SIGCHLD
    // when they end, with __WCLONE the others, with __WALL all (Linux).
    let eligible = move |e: &Entry| {
        let clone_child = e.exit_signal.load(Ordering::SeqCst) != libc::SIGCHLD;
        options & WALL != 0 || (options & WCLONE != 0) == clone_child
    };
    let all_children = || {
        table::entries()
            .filter(move |e| e.ppid.load(Ordering::SeqCst) == my_pid && e.host_pid.load(Ordering::SeqCst) > 0)
    };
    let candidates: Vec<&'static Entry> = if pid > 0 {
        match table::by_pid(i32::try_from(pid).unwrap_or(0)) {
            Some(c)
                if c.ppid.load(Ordering::SeqCst) == my_pid && c.host_pid.load(Ordering::SeqCst) > 0 && eligible(c) =>
            {
                vec![c]
            }
            _ => return -(libc::ECHILD as i64),
        }
    } else if pid == -1 {
        all_children().filter(|e| eligible(e)).collect()
    } else {
        // A process group (0: the caller's): the guest's groups are not host
        // groups, so each child in it is asked in turn.
        let group = if pid == 0 { me.pgid.load(Ordering::SeqCst) } else { i32::try_from(-pid).unwrap_or(0) };
        all_children().filter(|e| eligible(e) && e.pgid.load(Ordering::SeqCst) == group).collect()
    };
    if candidates.is_empty() {
        return -(libc::ECHILD as i64);
    }
    let published = (options & libc::WEXITED as u64 != 0)
        .then(|| candidates.iter().copied().find(|c| table::end_of(c).is_some()))
        .flatten();
    // The host's waitid knows nothing of exit signals: its options without them.
    let flags = ((options & !(WALL | WCLONE)) | libc::WNOHANG as u64) as libc::c_int;
    let (child, code, status, usage, host_reaped) = if let Some(c) = published {
        let (code, status) = table::end_of(c).unwrap_or_default();
        (c, code, status, table::usage_of(c), false)
    } else {
        // One waitid for them all when they are all this wait's children and
        // no reaped child's monitor is still ending (it would answer).
        let ending =
            table::all_entries().any(|e| e.reaped.load(Ordering::SeqCst) && e.ppid.load(Ordering::SeqCst) == my_pid);
        let waited = if pid == -1 && !ending && candidates.len() == all_children().count() {
            any_child_change(flags, &candidates)
        } else {
            first_change(candidates.iter().map(|e| e.host_pid.load(Ordering::SeqCst)).collect(), flags)
        };
        let (info, usage) = match waited {
            Ok(Some(w)) => w,
            Ok(None) => return 0,
            Err(e) => return -(e as i64),
        };
        // SAFETY: waitid filled `info` for a child that changed state.
        let (host_pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        let Some(child) = table::by_host_pid(host_pid).filter(|c| !c.reaped.load(Ordering::SeqCst)) else {
            return 0;
        };
        // What its monitor published wins over how the monitor itself ended.
        let (code, status) = table::end_of(child).unwrap_or((info.si_code, status));
        (child, code, status, usage, true)
    };
    let guest_pid = pid_of(child);
    // A stop is its monitor's SIGSTOP on the host: the guest's stop signal
    // stands for it. A stop or a continuation that is the host's alone (the
    // terminal's SIGTSTP stops every monitor of the tree) is nobody's news.
    let status = match (code, child.stop_signal.load(Ordering::SeqCst)) {
        (libc::CLD_STOPPED, 0) => return 0,
        (libc::CLD_STOPPED, sig) => sig,
        (libc::CLD_CONTINUED, _) if !child.continued.load(Ordering::SeqCst) => return 0,
        _ => status,
    };
    if code == libc::CLD_CONTINUED && options & libc::WNOWAIT as u64 == 0 {
        child.continued.store(false, Ordering::SeqCst);
    }
    // The wait status wait4 reports.
    let wstatus: u32 = match code {
        libc::CLD_EXITED => ((status as u32) & 0xff) << 8,
        libc::CLD_KILLED => status as u32 & 0x7f,
        libc::CLD_DUMPED => (status as u32 & 0x7f) | 0x80,
        libc::CLD_STOPPED | libc::CLD_TRAPPED => ((status as u32 & 0xff) << 8) | 0x7f,
        libc::CLD_CONTINUED => 0xffff,
        _ => 0,
    };
    let reaped =
        matches!(code, libc::CLD_EXITED | libc::CLD_KILLED | libc::CLD_DUMPED) && options & libc::WNOWAIT as u64 == 0;
    if reaped {
        table::reaped_maxrss(usage.ru_maxrss);
        table::orphan_children_of(guest_pid);
        if host_reaped {
            table::release(child);
        } else {
            // Gone for the guest; its monitor may still be ending.
            child.reaped.store(true, Ordering::SeqCst);
            table::reap_finished(my_pid);
        }
    }
    // Signals sent before the child changed come first (the vCPU passes
    // them on before the guest sees this answer).
    crate::signals::take_entry_signals_now();
    req.args[2] = wstatus as u64;
    req.args[3] = code as u64;
    req.args[4] = status as u32 as u64;
    req.args[5] = child.exit_signal.load(Ordering::SeqCst) as u32 as u64;
    // Linux's struct rusage is libc's on x86-64.
    // SAFETY: rusage is plain data.
    let bytes = unsafe {
        std::slice::from_raw_parts(&usage as *const libc::rusage as *const u8, std::mem::size_of::<libc::rusage>())
    };
    let _ = segs.write(0, bytes);
    guest_pid as i64
}

/// Sends guest signal `sig` (0: none, only "your entry changed") to the
/// process of `e`, ignoring failure (it may have ended).
pub fn signal_entry(e: &Entry, sig: u64) {
    if sig == 0 {
        let host_pid = e.host_pid.load(Ordering::SeqCst);
        // A detached zombie's monitor stands for another process now.
        if host_pid > 0 && !e.detached.load(Ordering::SeqCst) {
            // SAFETY: a monitor of this tree (from the table).
            unsafe { libc::kill(host_pid, crate::signals::GUEST_SIGNAL) };
        }
        return;
    }
    let _ = signal_from(e, sig, None);
}

/// Sends guest signal `sig` to the process of `e` (0: only check it exists),
/// naming `sender` (a guest process) as its source.
fn signal_from(e: &Entry, sig: u64, sender: Option<&Entry>) -> Result<(), Errno> {
    let host_pid = e.host_pid.load(Ordering::SeqCst);
    if host_pid <= 0 {
        return Err(libc::ESRCH);
    }
    // A zombie (its monitor may still be ending) takes signals and ignores them.
    if sig == 0 || table::end_of(e).is_some() {
        return Ok(());
    }
    if sig == libc::SIGKILL as u64 {
        // SAFETY: kill of a monitor of this tree (from the table).
        unsafe { libc::kill(host_pid, libc::SIGKILL) };
        return Ok(());
    }
    if sig == libc::SIGCONT as u64 {
        // A stopped process (its monitor stopped on the host, `STOP`)
        // continues as the signal is sent, as on Linux, even if it blocks
        // or ignores it; its guest then takes it as any other.
        if e.stop_signal.load(Ordering::SeqCst) != 0 {
            e.continued.store(true, Ordering::SeqCst);
        }
        // SAFETY: as above.
        unsafe { libc::kill(host_pid, libc::SIGCONT) };
    }
    // A signal whose sender cannot travel with its bit (above
    // `SENDER_SIGNALS`: the real-time ones, which Linux queues one per
    // `kill`, each with its sender) goes through the process's queue.
    if let Some(s) = sender.filter(|_| sig as usize > hx_abi::percpu::SENDER_SIGNALS) {
        let real_uid = (s.signal_uids.load(Ordering::SeqCst) & 0xffff_ffff) as u32;
        if table::queue_signal(e, &user_siginfo(sig, pid_of(s), real_uid)) {
            e.sleeping.store(false, Ordering::SeqCst);
            // SAFETY: as above; its monitor passes the queue on to its guest.
            unsafe { libc::kill(host_pid, crate::signals::GUEST_SIGNAL) };
            return Ok(());
        }
    }
    // A pending standard signal keeps its first sender, as on Linux.
    let bit = 1u64 << (sig - 1);
    if let (Some(slot), Some(s)) = (e.senders.get(sig as usize - 1), sender) {
        if e.signals.load(Ordering::SeqCst) & bit == 0 {
            let real_uid = s.signal_uids.load(Ordering::SeqCst) & 0xffff_ffff;
            slot.store(pid_of(s) as u32 as u64 | real_uid << 32, Ordering::SeqCst);
        }
    }
    e.signals.fetch_or(bit, Ordering::SeqCst);
    // Runnable from now on, as Linux makes a sleeping receiver: a sender that
    // waits for it to sleep again must not see it asleep before it woke.
    e.sleeping.store(false, Ordering::SeqCst);
    // SAFETY: as above; the monitor's handler passes the table's bits to its guest.
    unsafe { libc::kill(host_pid, crate::signals::GUEST_SIGNAL) };
    Ok(())
}

/// The first change among all of this monitor's host children, for a wait
/// on every guest child (`candidates`): one `waitid` for them all. Host
/// children that stand for no guest child — a spare monitor that ended, or
/// one sent away after it came back — are reaped on the way: the host
/// reports the first child that changed, and an ended spare ahead of a
/// guest child would otherwise hide that child's end from every wait
/// (asyncio's FastChildWatcher then waited forever for a killed child).
fn any_child_change(
    flags: libc::c_int,
    candidates: &[&'static Entry],
) -> Result<Option<(libc::siginfo_t, libc::rusage)>, Errno> {
    // Looked at without reaping, then reaped as the guest asked if it is theirs.
    let look = flags | libc::WNOWAIT;
    for _ in 0..64 {
        let found = match host_waitid(libc::P_ALL, 0, look) {
            // No host child at all: the children are orphans another
            // monitor started (their ends come published).
            Err(libc::ECHILD) => break,
            r => r?,
        };
        let Some((info, _)) = found else { return Ok(None) };
        // SAFETY: waitid filled `info` for the child it returns.
        let host_pid = unsafe { info.si_pid() };
        let theirs = candidates.iter().any(|c| c.host_pid.load(Ordering::SeqCst) == host_pid);
        if theirs {
            return if flags & libc::WNOWAIT != 0 {
                Ok(found)
            } else {
                host_waitid(libc::P_PID, host_pid as libc::id_t, flags)
            };
        }
        table::forget_spare(host_pid);
        if !matches!(host_waitid(libc::P_PID, host_pid as libc::id_t, libc::WEXITED | libc::WNOHANG), Ok(Some(_))) {
            // Not an end (a stop, say) that would come first again: ask each child instead.
            break;
        }
    }
    first_change(candidates.iter().map(|e| e.host_pid.load(Ordering::SeqCst)).collect(), flags)
}

/// The first of the host children `hosts` with a state change (asked one
/// by one), or the first error. A guest child that is not this monitor's
/// host child (an orphan reparented to the guest's pid 1 from another
/// process's monitor) is not the host's to report: its end comes
/// published in the table, and it must not hide the other children
/// (`ECHILD` for it made bash's `wait` return with a pipeline still running).
fn first_change(hosts: Vec<i32>, flags: libc::c_int) -> Result<Option<(libc::siginfo_t, libc::rusage)>, Errno> {
    for host in hosts {
        match host_waitid(libc::P_PID, host as libc::id_t, flags) {
            Ok(None) | Err(libc::ECHILD) => {}
            found => return found,
        }
    }
    Ok(None)
}

/// Whether the process of `e` has ended: its monitor published its end, or
/// (killed on the host by SIGKILL, it could not) the host says so to its
/// host parent, without reaping it (the guest parent's wait does that).
fn has_ended(e: &Entry) -> bool {
    if table::end_of(e).is_some() {
        return true;
    }
    let host_pid = e.host_pid.load(Ordering::SeqCst);
    if host_pid <= 0 || e.detached.load(Ordering::SeqCst) {
        return false;
    }
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    matches!(host_waitid(libc::P_PID, host_pid as libc::id_t, flags), Ok(Some(_)))
}

/// A host `waitid` that never waits: the child's state change and resource
/// use, or `None` when no child of `idtype`/`id` changed state.
fn host_waitid(
    idtype: libc::idtype_t,
    id: libc::id_t,
    flags: libc::c_int,
) -> Result<Option<(libc::siginfo_t, libc::rusage)>, Errno> {
    // SAFETY: zeroed siginfo and rusage are valid outputs for waitid to fill.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: raw waitid (its fifth argument, the child's rusage, is not in libc's wrapper) into our buffers.
    let r = unsafe { libc::syscall(libc::SYS_waitid, idtype, id, &mut info, flags, &mut usage) };
    if r < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::ECHILD));
    }
    // SAFETY: waitid filled `info`; a zero si_pid means no child was ready.
    Ok((unsafe { info.si_pid() } != 0).then_some((info, usage)))
}

/// `STOP`: the default action of a stop signal. The whole monitor stops
/// on the host (every vCPU, every helper thread: the program's threads
/// with them), as a stopped Linux process; its parent's monitor sees the
/// stop with `waitid(WSTOPPED)` and gets SIGCHLD from the host. A SIGCONT
/// (another guest process's `kill`, or the host's) lets it go on.
pub fn stop(req: &Request) -> i64 {
    let sig = req.args[0];
    if ![libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].iter().any(|&s| s as u64 == sig) {
        return -(libc::EINVAL as i64);
    }
    let Ok(me) = me() else { return -(libc::ESRCH as i64) };
    me.continued.store(false, Ordering::SeqCst);
    me.stop_signal.store(sig as i32, Ordering::SeqCst);
    // SAFETY: stops this process until a SIGCONT.
    unsafe { libc::raise(libc::SIGSTOP) };
    me.stop_signal.store(0, Ordering::SeqCst);
    0
}

/// The siginfo of `kill`: `SI_USER` from guest process `pid` and real uid `uid`.
fn user_siginfo(sig: u64, pid: i32, uid: u32) -> [u8; table::SIGINFO_BYTES] {
    let mut info = [0u8; table::SIGINFO_BYTES];
    info[..4].copy_from_slice(&(sig as i32).to_le_bytes());
    info[16..20].copy_from_slice(&pid.to_le_bytes());
    info[20..24].copy_from_slice(&uid.to_le_bytes());
    info
}

/// `KILL` with `KILL_WITH_INFO`: `rt_sigqueueinfo` to another process.
/// The siginfo is the program's own (`segs[0]`, 128 bytes): as Linux, only
/// a code no kernel sends (negative, not `SI_TKILL`) may go to another
/// process, its signal number is the one asked for, and a full queue is
/// `EAGAIN`.
fn queue_to(req: &Request, segs: &Segs) -> Result<i64, Errno> {
    const SI_TKILL: i32 = -6;
    let (pid, sig) = (req.args[0] as i64, req.args[1]);
    if !(1..=64).contains(&sig) {
        return Err(libc::EINVAL);
    }
    let target = match i32::try_from(pid) {
        Ok(p) if p > 0 => table::by_pid(p).ok_or(libc::ESRCH)?,
        _ => return Err(libc::ESRCH),
    };
    let bytes = segs.bytes(0, table::SIGINFO_BYTES, libc::EFAULT)?;
    let mut info = [0u8; table::SIGINFO_BYTES];
    if bytes.len() != info.len() {
        return Err(libc::EFAULT);
    }
    info.copy_from_slice(&bytes);
    let code = i32::from_le_bytes([info[8], info[9], info[10], info[11]]);
    info[..4].copy_from_slice(&(sig as i32).to_le_bytes());
    let me = me()?;
    // A process may queue any siginfo for itself (its kernel passes its
    // pending signals on across `execve` this way); to another, only what
    // a program may send.
    if !std::ptr::eq(target, me) && (code >= 0 || code == SI_TKILL) {
        return Err(libc::EPERM);
    }
    if !table::may_signal(me, target, sig, req.args[2] != 0) {
        return Err(libc::EPERM);
    }
    let host_pid = target.host_pid.load(Ordering::SeqCst);
    if host_pid <= 0 {
        return Err(libc::ESRCH);
    }
    // A zombie takes signals and ignores them; SIGKILL and SIGCONT act as sent.
    if table::end_of(target).is_some() {
        return Ok(0);
    }
    if sig == libc::SIGKILL as u64 || sig == libc::SIGCONT as u64 {
        return signal_from(target, sig, Some(me)).map(|_| 0);
    }
    if !table::queue_signal(target, &info) {
        return Err(libc::EAGAIN);
    }
    target.sleeping.store(false, Ordering::SeqCst);
    // SAFETY: kill of a monitor of this tree (from the table); its monitor
    // passes the queue on to its guest.
    unsafe { libc::kill(host_pid, crate::signals::GUEST_SIGNAL) };
    Ok(0)
}

/// `KILL` to other processes (the kernel handles its own process itself).
pub fn kill(req: &Request, segs: &Segs) -> i64 {
    if req.args[3] & hx_abi::hypercall::KILL_WITH_INFO != 0 {
        return queue_to(req, segs).unwrap_or_else(|e| -(e as i64));
    }
    let (pid, sig) = (req.args[0] as i64, req.args[1]);
    if sig > 64 {
        return -(libc::EINVAL as i64);
    }
    let Ok(me) = me() else { return -(libc::ESRCH as i64) };
    let my_pid = pid_of(me);
    let targets: Vec<&Entry> = match pid {
        p if p > 0 => table::by_pid(i32::try_from(p).unwrap_or(0)).into_iter().collect(),
        -1 => table::entries().filter(|e| pid_of(e) != my_pid && pid_of(e) != 1).collect(),
        p => {
            // -INT_MIN is no group (Linux: ESRCH), and neither is anything past i32.
            let group = match p {
                0 => me.pgid.load(Ordering::SeqCst),
                p => match i32::try_from(-p) {
                    Ok(g) if g > 1 => g,
                    _ => return -(libc::ESRCH as i64),
                },
            };
            table::entries().filter(|e| e.pgid.load(Ordering::SeqCst) == group && pid_of(e) != my_pid).collect()
        }
    };
    // args[2]: the sender has CAP_KILL (the guest's own capabilities: a
    // forged one only lets one guest process signal another).
    let cap_kill = req.args[2] != 0;
    let (mut sent, mut refused) = (0, 0);
    for e in targets.iter().filter(|e| pid_of(e) != my_pid) {
        if !table::may_signal(me, e, sig, cap_kill) {
            refused += 1;
        } else if signal_from(e, sig, Some(me)).is_ok() {
            sent += 1;
        }
    }
    if sent == 0 && refused > 0 {
        return -(libc::EPERM as i64);
    }
    // A group the caller is in counts as found even if it is alone there.
    if sent == 0 && !(pid == 0 || (pid < -1 && me.pgid.load(Ordering::SeqCst) as i64 == -pid)) {
        return -(libc::ESRCH as i64);
    }
    0
}

/// `PGRP_RENICE`: the nice value of the processes `which`/`who` names, set
/// (Linux's `set_one_prio`: another user's process needs CAP_SYS_NICE
/// (EPERM), a lower value too (EACCES); the last failure is the answer) or
/// asked (the lowest among them). The caller's own is its kernel's to set.
fn renice(me: &'static Entry, a: &[u64; 8]) -> Result<i64, Errno> {
    let (which, who, nice, cap, ask) = (a[1], a[2] as u32 as i32, a[3] as i32, a[4] != 0, a[5] != 0);
    let nice_of = |e: &Entry| e.sched.load(Ordering::SeqCst) as u32 as i32;
    let real_uid = |e: &Entry| e.signal_uids.load(Ordering::SeqCst) as u32;
    let my_euid = me.euid.load(Ordering::SeqCst);
    let running = |e: &&'static Entry| table::end_of(e).is_none();
    let targets: Vec<&'static Entry> = match which as u32 {
        libc::PRIO_PROCESS => {
            let pid = if who == 0 { pid_of(me) } else { who };
            table::by_pid(pid).into_iter().filter(running).collect()
        }
        libc::PRIO_PGRP => {
            let group = if who == 0 { me.pgid.load(Ordering::SeqCst) } else { who };
            table::entries().filter(running).filter(|e| e.pgid.load(Ordering::SeqCst) == group).collect()
        }
        libc::PRIO_USER => {
            let uid = if who == 0 { my_euid } else { who as u32 };
            table::entries().filter(running).filter(|e| real_uid(e) == uid).collect()
        }
        _ => return Err(libc::EINVAL),
    };
    if ask {
        // As the raw syscall answers, 20 - nice: never negative, so never an errno.
        return targets.iter().map(|e| nice_of(e)).min().map(|n| i64::from(20 - n)).ok_or(libc::ESRCH);
    }
    let nice = nice.clamp(-20, 19);
    let (mut error, mut mine) = (Some(libc::ESRCH), false);
    for e in targets {
        if real_uid(e) != my_euid && e.euid.load(Ordering::SeqCst) != my_euid && !cap {
            error = Some(libc::EPERM);
            continue;
        }
        if nice < nice_of(e) && !cap {
            error = Some(libc::EACCES);
            continue;
        }
        if error == Some(libc::ESRCH) {
            error = None;
        }
        if std::ptr::eq(e, me) {
            mine = true;
            continue;
        }
        let sched = e.sched.load(Ordering::SeqCst);
        e.sched.store(sched & !0xffff_ffff | u64::from(nice as u32), Ordering::SeqCst);
        let number = (e.nice_request.load(Ordering::SeqCst) >> 32) + 1;
        e.nice_request.store(number << 32 | u64::from(nice as u32), Ordering::SeqCst);
        signal_entry(e, 0);
    }
    match error {
        Some(e) => Err(e),
        None => Ok(i64::from(mine)),
    }
}

/// `PGRP_SET_IDENTITY`: the caller's name and command line for the others' `/proc`.
fn set_identity(me: &Entry, segs: &Segs) -> Result<i64, Errno> {
    let size = std::mem::size_of::<ProcIdentity>();
    let bytes = segs.bytes(0, size, libc::EINVAL)?;
    if bytes.len() != size {
        return Err(libc::EINVAL);
    }
    for (w, chunk) in me.identity.iter().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        w.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }
    Ok(0)
}

/// `PGRP`: process groups and sessions, with Linux's rules.
pub fn pgrp(req: &Request, segs: &Segs) -> i64 {
    let Ok(me) = me() else { return -(libc::ESRCH as i64) };
    let my_pid = pid_of(me);
    let target = |pid: u64| -> Result<&'static Entry, Errno> {
        match pid {
            0 => Ok(me),
            p => table::by_pid(i32::try_from(p).map_err(|_| libc::ESRCH)?).ok_or(libc::ESRCH),
        }
    };
    let r = match req.args[0] {
        PGRP_GET => target(req.args[1]).map(|e| e.pgid.load(Ordering::SeqCst) as i64),
        PGRP_GETSID => target(req.args[1]).map(|e| e.sid.load(Ordering::SeqCst) as i64),
        PGRP_ENDED => target(req.args[1]).map(|e| i64::from(has_ended(e))),
        PGRP_SET_PDEATHSIG if req.args[1] <= 64 => {
            me.pdeathsig.store(req.args[1] as i32, Ordering::SeqCst);
            Ok(0)
        }
        PGRP_GET_PDEATHSIG => Ok(me.pdeathsig.load(Ordering::SeqCst) as i64),
        PGRP_SET_SUBREAPER if req.args[1] <= 1 => {
            me.subreaper.store(req.args[1] == 1, Ordering::SeqCst);
            Ok(0)
        }
        PGRP_GET_SUBREAPER => Ok(i64::from(me.subreaper.load(Ordering::SeqCst))),
        PGRP_SET_SCHED => {
            // Only read back by other guest processes: any numbers do.
            me.sched.store(req.args[1] << 32 | (req.args[2] & 0xffff_ffff), Ordering::SeqCst);
            Ok(0)
        }
        PGRP_TIDS if (1..=MAX_TID_BLOCK).contains(&req.args[2]) => {
            table::reserve_tids(req.args[2] as i32).map(i64::from).ok_or(libc::EAGAIN)
        }
        PGRP_SET_IDENTITY => set_identity(me, segs),
        PGRP_RENICE => renice(me, &req.args),
        PGRP_TAKE_QUEUED => {
            let room = segs.get(0).map_or(0, |s| s.len as usize) / table::SIGINFO_BYTES;
            let taken: Vec<u8> = table::take_queued(room).concat();
            segs.write(0, &taken).map(|_| (taken.len() / table::SIGINFO_BYTES) as i64)
        }
        PGRP_LIST => {
            let pids: Vec<u8> = table::entries()
                .filter(|e| e.host_pid.load(Ordering::SeqCst) > 0)
                .flat_map(|e| (pid_of(e) as u32).to_le_bytes())
                .collect();
            let room = segs.get(0).map_or(0, |s| s.len as usize);
            segs.write(0, pids.get(..room.min(pids.len())).unwrap_or_default()).map(|_| (pids.len() / 4) as i64)
        }
        PGRP_INFO => target(req.args[1]).and_then(|e| {
            let identity = table::identity_of(e);
            let info = ProcInfo {
                pid: pid_of(e),
                ppid: e.ppid.load(Ordering::SeqCst),
                pgid: e.pgid.load(Ordering::SeqCst),
                sid: e.sid.load(Ordering::SeqCst),
                policy: (e.sched.load(Ordering::SeqCst) >> 32) as u32,
                nice: e.sched.load(Ordering::SeqCst) as u32 as i32,
                state: if has_ended(e) {
                    PROC_ZOMBIE
                } else if e.stop_signal.load(Ordering::SeqCst) != 0 {
                    PROC_STOPPED
                } else if e.sleeping.load(Ordering::SeqCst) {
                    PROC_SLEEPING
                } else {
                    PROC_RUNNING
                },
                identity,
            };
            segs.write(0, vm_memory::ByteValued::as_slice(&info)).map(|_| 0)
        }),
        PGRP_SETSID => {
            let leads = table::entries().any(|e| e.pgid.load(Ordering::SeqCst) == my_pid);
            if leads {
                Err(libc::EPERM)
            } else {
                me.pgid.store(my_pid, Ordering::SeqCst);
                me.sid.store(my_pid, Ordering::SeqCst);
                Ok(my_pid as i64)
            }
        }
        PGRP_SET => target(req.args[1]).and_then(|e| {
            let is_self = std::ptr::eq(e, me);
            if !is_self && e.ppid.load(Ordering::SeqCst) != my_pid {
                return Err(libc::ESRCH);
            }
            if e.sid.load(Ordering::SeqCst) != me.sid.load(Ordering::SeqCst) {
                return Err(libc::EPERM);
            }
            if !is_self && e.execed.load(Ordering::SeqCst) {
                return Err(libc::EACCES); // a child that ran execve
            }
            if e.sid.load(Ordering::SeqCst) == pid_of(e) {
                return Err(libc::EPERM); // a session leader
            }
            let pgid = match req.args[2] {
                0 => pid_of(e),
                g => i32::try_from(g).map_err(|_| libc::EINVAL)?,
            };
            let exists = pgid == pid_of(e)
                || table::entries().any(|x| {
                    x.pgid.load(Ordering::SeqCst) == pgid
                        && x.sid.load(Ordering::SeqCst) == me.sid.load(Ordering::SeqCst)
                });
            if !exists {
                return Err(libc::EPERM);
            }
            e.pgid.store(pgid, Ordering::SeqCst);
            Ok(0)
        }),
        _ => Err(libc::EINVAL),
    };
    r.unwrap_or_else(|e| -(e as i64))
}

/// The host device number of the caller's controlling terminal: the one
/// its session's leader holds while it runs (`TIOCSCTTY`).
pub fn controlling_terminal() -> Option<u64> {
    let sid = me().ok()?.sid.load(Ordering::SeqCst);
    session_leader(sid)?.ctty.load(Ordering::SeqCst).checked_sub(1)
}

/// A terminal's signal character: `sig` to every process of the
/// foreground group of the session whose controlling terminal is the host
/// device `rdev` (none: nothing, as Linux signals no group then).
pub fn signal_foreground(rdev: u64, sig: u64) {
    let tty = rdev + 1;
    let leader = table::entries().find(|e| {
        e.ctty.load(Ordering::SeqCst) == tty
            && e.end.load(Ordering::SeqCst) == 0
            && session_leader(e.sid.load(Ordering::SeqCst)).is_some_and(|l| std::ptr::eq(l, *e))
    });
    let Some(leader) = leader else { return };
    let group = leader.foreground.load(Ordering::SeqCst);
    for e in table::entries().filter(|e| e.pgid.load(Ordering::SeqCst) == group) {
        let _ = signal_from(e, sig, None);
    }
}

/// The leader of session `sid` while it runs: it holds the session's terminal.
fn session_leader(sid: i32) -> Option<&'static Entry> {
    table::by_pid(sid).filter(|l| l.sid.load(Ordering::SeqCst) == sid && l.end.load(Ordering::SeqCst) == 0)
}

/// A session command of `hx_abi::ioctl` on the terminal with host device
/// number `rdev`, as Linux answers it for the caller's session: `value` is
/// the by-value argument, `given` the one read from the program; returns
/// the result and the value to write back (TIOCGPGRP, TIOCGSID).
pub fn terminal(cmd: u64, rdev: u64, value: u64, given: i32) -> Result<(i64, i32), Errno> {
    use hx_abi::ioctl::{TIOCGPGRP, TIOCGSID, TIOCNOTTY, TIOCSCTTY, TIOCSPGRP};
    let me = me()?;
    let my_pid = pid_of(me);
    let sid = me.sid.load(Ordering::SeqCst);
    let leader = session_leader(sid);
    let tty = rdev + 1;
    let ours = leader.filter(|l| l.ctty.load(Ordering::SeqCst) == tty);
    match cmd {
        TIOCSCTTY => {
            let Some(l) = leader.filter(|_| sid == my_pid) else { return Err(libc::EPERM) };
            match l.ctty.load(Ordering::SeqCst) {
                t if t == tty => return Ok((0, 0)),
                0 => {}
                _ => return Err(libc::EPERM),
            }
            // Another session's terminal stays theirs (stealing it, with
            // `value` 1, takes CAP_SYS_ADMIN, which the guest never has).
            let held = table::entries().any(|e| {
                e.ctty.load(Ordering::SeqCst) == tty && e.end.load(Ordering::SeqCst) == 0 && !std::ptr::eq(e, l)
            });
            if held {
                return Err(libc::EPERM);
            }
            let _ = value;
            l.foreground.store(me.pgid.load(Ordering::SeqCst), Ordering::SeqCst);
            l.ctty.store(tty, Ordering::SeqCst);
            Ok((0, 0))
        }
        TIOCNOTTY => {
            let l = ours.ok_or(libc::ENOTTY)?;
            if sid == my_pid {
                l.ctty.store(0, Ordering::SeqCst);
            }
            Ok((0, 0))
        }
        TIOCGPGRP => Ok((0, ours.ok_or(libc::ENOTTY)?.foreground.load(Ordering::SeqCst))),
        TIOCGSID => ours.map(|_| (0, sid)).ok_or(libc::ENOTTY),
        TIOCSPGRP => {
            let l = ours.ok_or(libc::ENOTTY)?;
            if given < 0 {
                return Err(libc::EINVAL);
            }
            let group = table::entries()
                .filter(|e| e.pgid.load(Ordering::SeqCst) == given && e.end.load(Ordering::SeqCst) == 0);
            let mut any = false;
            for e in group {
                if e.sid.load(Ordering::SeqCst) != sid {
                    return Err(libc::EPERM);
                }
                any = true;
            }
            if !any {
                return Err(libc::ESRCH);
            }
            l.foreground.store(given, Ordering::SeqCst);
            Ok((0, 0))
        }
        _ => Err(libc::ENOTTY),
    }
}
