//! Processes: `fork`/`vfork`/`clone` of a new process and `wait4`/`waitid`.
//! Each guest process is its own VM with its own monitor process: `fork`
//! asks the monitor to fork itself, and the child resumes here, alone, in a
//! fresh VM over a copy-on-write copy of this one's memory. Waiting is the
//! monitors' business too (a guest child is a host child of its parent's
//! monitor); the guest only blocks until a child changes state.
use super::{process, Args};
use crate::errno::{Errno, SysResult, EFAULT, EINVAL, ERESTARTSYS};
use crate::sched::{self, Thread};
use crate::{arch, host, mm, signal, time};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use hx_abi::hypercall::{op, Request, Segment};
use hx_abi::uapi::{self, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID, CLONE_SETTLS};
use spin::Mutex;

/// What a new process needs from `fork`, `vfork`, `clone` or `clone3`.
pub struct ForkArgs {
    pub flags: u64,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

pub fn fork(_: Args) -> SysResult {
    fork_process(ForkArgs { flags: 17, stack: 0, parent_tid: 0, child_tid: 0, tls: 0 })
}

/// `vfork`: a copy like `fork` (the processes are separate VMs); the parent
/// does not wait for the child's `exec`, which nothing observable needs as
/// the child cannot write the parent's memory.
pub fn vfork(_: Args) -> SysResult {
    fork_process(ForkArgs {
        flags: uapi::CLONE_VM | uapi::CLONE_VFORK | 17,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
    })
}

/// This process made (or its earlier image did) a child that signals
/// another signal than SIGCHLD, or none, when it ends: a "clone child".
static CLONE_CHILDREN: AtomicBool = AtomicBool::new(false);

/// Whether this process may have clone children (see `CLONE_CHILDREN`).
pub fn may_have_clone_children() -> bool {
    CLONE_CHILDREN.load(Ordering::Relaxed)
}

/// A new image starts knowing whether the image before made clone children.
pub fn inherit_clone_children(made: bool) {
    CLONE_CHILDREN.store(made, Ordering::Relaxed);
}

/// A new process; in the child it returns 0 on `stack` (if given) with the
/// caller's registers otherwise.
pub fn fork_process(a: ForkArgs) -> SysResult {
    if a.flags & CLONE_SETTLS != 0 && a.tls >= hx_abi::layout::USER_END {
        return Err(crate::errno::EPERM);
    }
    // The signal the parent gets when the child ends (CSIGNAL).
    let exit_signal = a.flags & 0xff;
    if exit_signal > 64 {
        return Err(EINVAL);
    }
    if super::vfork::active() {
        return Err(crate::errno::EAGAIN);
    }
    if exit_signal != u64::from(signal::SIGCHLD) {
        CLONE_CHILDREN.store(true, Ordering::Relaxed);
    }
    // A child sharing the caller's memory until it execs runs in this VM.
    if a.flags & (uapi::CLONE_VM | uapi::CLONE_VFORK) == uapi::CLONE_VM | uapi::CLONE_VFORK {
        return super::vfork::start(&a, exit_signal);
    }
    // Pipes and eventfds the kernel keeps become the host's, shared with the child.
    crate::fs::share_with_host()?;
    let mut req = Request::new(op::FORK);
    req.args[0] = exit_signal;
    // No other vCPU may hold a kernel lock at the instant of the copy.
    let stopped = sched::quiesce::stop_others();
    // The child's copy of kernel memory must not hold a lock another vCPU
    // had at that instant: the fd table, signals, credentials, the address
    // space and the heap are held across the copy (the scheduler's lock is
    // never held across a host call).
    let ret = {
        let _fds = crate::fs::table::lock_for_fork();
        let _signals = signal::lock_for_fork();
        let _creds = super::cred::lock_for_fork();
        mm::with_memory_locked(|| host::call(&mut req))
    };
    if ret < 0 {
        drop(stopped);
        return Err(Errno(-ret));
    }
    if ret > 0 {
        drop(stopped);
        if a.flags & CLONE_PARENT_SETTID != 0 {
            mm::write_user(a.parent_tid, &(ret as u32))?;
        }
        return Ok(ret as u64);
    }
    // The child: this thread alone, with the pid the monitor gave.
    let pid = req.args[0];
    // First: the parent's poller did not come along (its page says it runs).
    crate::ring::after_fork();
    // Then, before anything may block and switch: the parent's other threads
    // (in the run queue, in wait queues) must never run here.
    sched::after_fork(pid as u32);
    super::futex::after_fork();
    process::set_identity(pid);
    time::reanchor();
    process::reseed_after_fork();
    process::policy_after_fork();
    super::dnotify::after_fork();
    signal::after_fork();
    super::aio::after_fork();
    super::madvise::after_fork();
    super::mlock::after_fork();
    // A new process has no children, nor their resource use.
    inherit_clone_children(false);
    super::process::forget_children_usage();
    // Only now may the child's other vCPUs run (the monitor may have started
    // one already, for a timer the parent had set): nothing of the parent's
    // threads is left for them to pick.
    sched::quiesce::after_fork(stopped);
    let cur: &Thread = sched::current();
    child_side(&a, pid)?;
    if a.flags & CLONE_CHILD_CLEARTID != 0 {
        cur.clear_child_tid.store(a.child_tid, Ordering::Relaxed);
    }
    Ok(0)
}

/// What `clone` asks of the new process on the calling thread: its stack,
/// its TLS, its pid written for it (a forked child, or a vfork child).
pub fn child_side(a: &ForkArgs, pid: u64) -> Result<(), Errno> {
    if a.stack != 0 {
        // SAFETY: the current thread's entry frame, at its kernel stack top.
        unsafe { (*sched::current().frame()).rsp = a.stack };
    }
    if a.flags & CLONE_SETTLS != 0 {
        arch::write_fs_base(a.tls);
    }
    if a.flags & CLONE_CHILD_SETTID != 0 {
        mm::write_user(a.child_tid, &(pid as u32))?;
    }
    Ok(())
}

/// Child state changes seen (host SIGCHLDs forwarded), and the threads waiting for one.
struct ChildEvents {
    generation: u64,
    waiters: Vec<Arc<Thread>>,
}

static EVENTS: Mutex<ChildEvents> = Mutex::new(ChildEvents { generation: 0, waiters: Vec::new() });

/// The monitor forwarded a SIGCHLD: a child may have changed state.
pub fn child_changed() {
    // A pidfd of the child polls readable now.
    super::poll::wake_pollers();
    let waiters = {
        let mut e = EVENTS.lock();
        e.generation += 1;
        core::mem::take(&mut e.waiters)
    };
    for t in waiters {
        sched::wake(&t);
    }
}

/// A child that can be waited for (`waitid` without reaping it): a child
/// that signals SIGCHLD, or with `clone_child` one that signals another
/// signal or none. Its pid, `si_code`, status and exit signal — what the
/// signal it sends its parent tells.
pub fn peek_child(clone_child: bool) -> Option<(u64, u32, u32, u32)> {
    let kind = if clone_child { WCLONE } else { 0 };
    let r = wait_child(-1, WEXITED | WSTOPPED | WCONTINUED | WNOHANG | WNOWAIT | kind).ok()??;
    Some((r.pid, r.code, r.value, r.exit_signal))
}

/// Children that were zombies already when SIGCHLD came to be ignored (or
/// got SA_NOCLDWAIT): Linux keeps them for a wait; only later ones go.
static KEPT: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// This process's children (from the tree's process table).
fn children() -> Vec<u64> {
    let me = process::pid() as i32;
    crate::fs::proc::others::list()
        .into_iter()
        .filter(|&pid| crate::fs::proc::others::info(pid).is_some_and(|i| i.ppid == me))
        .map(u64::from)
        .collect()
}

/// SIGCHLD is now ignored or has SA_NOCLDWAIT: the children that ended
/// before stay waitable.
pub fn keep_current_zombies() {
    let zombies: Vec<u64> = children()
        .into_iter()
        .filter(|&pid| matches!(wait_child(pid as i64, WEXITED | WNOHANG | WNOWAIT), Ok(Some(_))))
        .collect();
    *KEPT.lock() = zombies;
}

/// Reaps every child that has ended (SIGCHLD ignored: no zombies stay)
/// but those kept from before.
pub fn reap_all() {
    let kept = KEPT.lock().clone();
    if kept.is_empty() {
        while let Ok(Some(_)) = wait_child(-1, WEXITED | WNOHANG) {}
        return;
    }
    for pid in children().into_iter().filter(|p| !kept.contains(p)) {
        let _ = wait_child(pid as i64, WEXITED | WNOHANG);
    }
}

fn generation() -> u64 {
    EVENTS.lock().generation
}

/// Blocks until a child changes state after `seen`, or a signal arrives.
fn wait_for_child(seen: u64) -> Result<(), Errno> {
    {
        let mut e = EVENTS.lock();
        if e.generation != seen {
            return Ok(());
        }
        e.waiters.push(sched::current_arc());
    }
    if signal::pending() {
        return Err(ERESTARTSYS);
    }
    sched::block(None);
    if signal::pending() {
        return Err(ERESTARTSYS);
    }
    Ok(())
}

const WNOHANG: u64 = uapi::WNOHANG as u64;
const WSTOPPED: u64 = uapi::WSTOPPED as u64;
const WEXITED: u64 = uapi::WEXITED as u64;
const WCONTINUED: u64 = uapi::WCONTINUED as u64;
const WNOWAIT: u64 = uapi::WNOWAIT as u64;
const WNOTHREAD: u64 = uapi::__WNOTHREAD as u64;
const WALL: u64 = uapi::__WALL as u64;
const WCLONE: u64 = uapi::__WCLONE as u64;

/// What one reaped (or observed) child reported.
struct Reaped {
    pid: u64,
    status: u32,
    code: u32,
    value: u32,
    rusage: [u64; 18],
    /// The signal it sends its parent when it ends (0: none).
    exit_signal: u32,
}

/// Waits as `waitid` does, with `options` in its form; `None`: WNOHANG and nothing ready.
fn wait_child(pid: i64, options: u64) -> Result<Option<Reaped>, Errno> {
    loop {
        let seen = generation();
        let mut rusage = [0u64; 18];
        let mut req = Request::new(op::WAIT);
        req.args[0] = pid as u64;
        req.args[1] = options | WNOHANG;
        req.segs[0] = Segment { phys: host::phys_of(rusage.as_mut_ptr() as u64), len: 144 };
        req.nsegs = 1;
        let ret = host::call(&mut req);
        if ret < 0 {
            return Err(Errno(-ret));
        }
        if ret > 0 {
            let (status, code, value) = (req.args[2] as u32, req.args[3] as u32, req.args[4] as u32);
            let exit_signal = req.args[5] as u32;
            // SAFETY: the monitor wrote the rusage (read it back as memory).
            let rusage = unsafe { core::ptr::read_volatile(&rusage) };
            if options & WNOWAIT == 0 {
                let kept = {
                    let mut k = KEPT.lock();
                    let was = k.contains(&(ret as u64));
                    k.retain(|&p| p != ret as u64);
                    was
                };
                // SIGCHLD ignored or SA_NOCLDWAIT: Linux reaps such a child
                // when it ends, so no wait ever returns it (its end can reach
                // this wait before the SIGCHLD that would reap it does).
                const CLD_EXITED: u32 = 1;
                const CLD_DUMPED: u32 = 3;
                if (CLD_EXITED..=CLD_DUMPED).contains(&code) && !kept && signal::children_reaped_at_exit() {
                    continue;
                }
                super::process::add_children_usage(&rusage);
            }
            return Ok(Some(Reaped { pid: ret as u64, status, code, value, rusage, exit_signal }));
        }
        if options & WNOHANG != 0 {
            return Ok(None);
        }
        wait_for_child(seen)?;
    }
}

pub fn wait4([pid, status, options, rusage, ..]: Args) -> SysResult {
    const WUNTRACED: u64 = uapi::WUNTRACED as u64;
    // An int: a C library may pass __WCLONE sign-extended.
    let options = options as u32 as u64;
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(EINVAL);
    }
    let pid = pid as i64 as i32 as i64;
    if pid == i32::MIN as i64 {
        return Err(crate::errno::ESRCH);
    }
    let mut wanted = WEXITED | (options & (WNOHANG | WCONTINUED));
    if options & WUNTRACED != 0 {
        wanted |= WSTOPPED;
    }
    let Some(r) = wait_child(pid, wanted | (options & (WALL | WCLONE)))? else { return Ok(0) };
    if status != 0 {
        mm::write_user(status, &r.status).map_err(|_| EFAULT)?;
    }
    if rusage != 0 {
        mm::write_user(rusage, &r.rusage)?;
    }
    Ok(r.pid)
}

pub fn waitid([idtype, id, infop, options, rusage, _]: Args) -> SysResult {
    let options = options as u32 as u64;
    const P_ALL: u64 = uapi::P_ALL as u64;
    const P_PID: u64 = uapi::P_PID as u64;
    const P_PGID: u64 = uapi::P_PGID as u64;
    const P_PIDFD: u64 = 3;
    if options & !(WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE) != 0
        || options & (WSTOPPED | WEXITED | WCONTINUED) == 0
    {
        return Err(EINVAL);
    }
    // A pidfd opened O_NONBLOCK makes the wait WNOHANG, and says EAGAIN
    // rather than nothing when the child runs on.
    let mut options = options;
    let mut eagain = false;
    let pid = match idtype {
        P_PIDFD => {
            let (pid, nonblock) = crate::fs::pidfd::target(id)?;
            if nonblock && options & WNOHANG == 0 {
                options |= WNOHANG;
                eagain = true;
            }
            pid as i64
        }
        P_ALL => -1,
        P_PID if (id as i32) > 0 => id as i32 as i64,
        P_PGID if (id as i32) >= 0 => -(id as i32 as i64),
        _ => return Err(EINVAL),
    };
    let pid = if pid == 0 { 0 } else { pid };
    let reaped = wait_child(pid, options & (WNOHANG | WSTOPPED | WEXITED | WCONTINUED | WNOWAIT | WALL | WCLONE))?;
    if eagain && reaped.is_none() {
        return Err(crate::errno::EAGAIN);
    }
    if infop != 0 {
        // siginfo_t: signo, errno, code, then pid, uid, status (128 bytes).
        let mut info = [0u32; 32];
        if let Some(r) = &reaped {
            info[0] = 17; // SIGCHLD
            info[2] = r.code;
            info[4] = r.pid as u32;
            info[5] = crate::boot_info().uid;
            info[6] = r.value;
        }
        mm::write_user(infop, &info)?;
    }
    if let (Some(r), true) = (&reaped, rusage != 0) {
        mm::write_user(rusage, &r.rusage)?;
    }
    Ok(0)
}
