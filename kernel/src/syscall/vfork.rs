//! `vfork` and posix_spawn's `clone(CLONE_VM|CLONE_VFORK)`, without a copy.
//! Linux runs such a child in its parent's memory while the parent waits
//! until the child execs or ends. hx does the same inside the parent's VM:
//! the calling thread becomes the child (its own pid, descriptor table,
//! signal actions, credentials, working directory and umask: copies of the
//! parent's), the parent's other threads stop (`quiesce`) and no other
//! thread runs on this vCPU meanwhile. The child's `execve` asks the monitor
//! to start the child process with the new image (`EXEC` under a `VFORK`
//! reservation); its end without one is reported with `VFORK_END`. Either
//! way the thread then becomes the parent again, returning the child's pid
//! from its `clone`. No VM is built to run the child's few calls before
//! `execve`, which is most of what a `fork` costs here.
use super::fork::ForkArgs;
use crate::arch::{self, entry::Frame};
use crate::errno::{SysResult, EAGAIN};
use crate::sched::{self, quiesce};
use crate::{fs, host, mm, signal};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use hx_abi::hypercall::{op, Request, VFORK_END, VFORK_START};
use hx_abi::uapi::CLONE_PARENT_SETTID;
use spin::Mutex;

/// The parent while its child runs in its place.
struct Parent {
    pid: u64,
    child: u64,
    frame: Frame,
    fs_base: u64,
    mask: u64,
    fds: fs::table::Saved,
    actions: signal::SavedActions,
    pending: signal::SavedPending,
    creds: super::cred::Saved,
    cwd: Vec<u8>,
    umask: u32,
    sched: hx_abi::boot::SchedState,
    _others_stopped: quiesce::Stopped,
}

static PARENT: Mutex<Option<Parent>> = Mutex::new(None);
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether a vfork child runs on the calling thread (cheap: one load).
#[inline]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The parent's pid while its child runs (`getppid` in the child).
pub fn parent_pid() -> Option<u64> {
    if !active() {
        return None;
    }
    PARENT.lock().as_ref().map(|p| p.pid)
}

/// Starts the child on the calling thread; returns 0 in it.
pub fn start(a: &ForkArgs, exit_signal: u64) -> SysResult {
    if active() {
        // A vfork child's own vfork: Linux allows it, hx keeps one at a time.
        return Err(EAGAIN);
    }
    // Pipes the kernel keeps become host pipes, so the process the child
    // execs shares them with the parent.
    fs::share_with_host()?;
    let others_stopped = quiesce::stop_others();
    let child = host::simple(op::VFORK, &[VFORK_START, exit_signal])?;
    let cur = sched::current();
    // SAFETY: the current thread's entry frame, at its kernel stack top.
    let frame = unsafe { *cur.frame() };
    let mask = cur.signals.lock().mask;
    let parent = Parent {
        pid: super::process::pid(),
        child,
        frame,
        fs_base: arch::read_fs_base(),
        mask,
        fds: fs::table::save(),
        actions: signal::save_actions(),
        pending: signal::take_pending_for_vfork(),
        creds: super::cred::save(),
        cwd: fs::path::cwd(),
        umask: super::path::current_umask(),
        sched: super::process::sched_for_exec(),
        _others_stopped: others_stopped,
    };
    *PARENT.lock() = Some(parent);
    ACTIVE.store(true, Ordering::SeqCst);
    sched::set_exclusive(cur.tid);
    super::process::set_identity(child);
    if a.flags & CLONE_PARENT_SETTID != 0 {
        mm::write_user(a.parent_tid, &(child as u32))?;
    }
    super::fork::child_side(a, child)?;
    Ok(0)
}

/// The child's `execve` started the child process: the thread is the
/// parent again. Returns what the parent's `clone` returns.
pub fn execed() -> SysResult {
    Ok(become_parent())
}

/// The child ended without an `execve` (`_exit`, a fatal signal): the
/// parent goes on where it called `clone`, from wherever the child was.
pub fn ended(status: u64, signal: u64) -> ! {
    let mut req = Request::new(op::VFORK);
    req.args[0] = VFORK_END;
    req.args[1] = status & 0xff;
    req.args[2] = signal;
    let ret = host::call(&mut req);
    if ret < 0 {
        host::log(b"vfork: the monitor could not record the child's end");
    }
    let pid = become_parent();
    let cur = sched::current();
    // SAFETY: the parent's frame goes back at the kernel stack top, whatever
    // the child's kernel calls left below it (nothing they hold is needed).
    unsafe {
        let frame = cur.frame();
        (*frame).rax = pid;
        arch::entry::resume(frame)
    }
}

/// `exit`/`exit_group` in the child: as [`ended`], returning the pid as
/// the parent's `clone` result.
pub fn exited(status: u64) -> SysResult {
    let mut req = Request::new(op::VFORK);
    req.args[0] = VFORK_END;
    req.args[1] = status & 0xff;
    if host::call(&mut req) < 0 {
        host::log(b"vfork: the monitor could not record the child's end");
    }
    Ok(become_parent())
}

/// Puts the parent's state back on the calling thread; returns the
/// child's pid.
fn become_parent() -> u64 {
    let Some(p) = PARENT.lock().take() else { return 0 };
    let cur = sched::current();
    // SAFETY: the current thread's entry frame, at its kernel stack top; the
    // syscall's result is written into it afterwards.
    unsafe { *cur.frame() = p.frame };
    arch::write_fs_base(p.fs_base);
    cur.signals.lock().mask = p.mask;
    fs::table::restore(p.fds);
    signal::restore_actions(p.actions);
    signal::restore_pending(p.pending);
    super::cred::restore(p.creds);
    fs::path::set_cwd(p.cwd);
    super::path::init_umask(p.umask);
    super::process::sched_from_exec(&p.sched);
    super::process::set_identity(p.pid);
    sched::set_exclusive(0);
    ACTIVE.store(false, Ordering::SeqCst);
    let child = p.child;
    // The parent's other threads go on.
    drop(p._others_stopped);
    child
}
