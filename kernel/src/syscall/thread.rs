//! Threads: `clone`/`clone3` for threads, thread exit with its wake-ups, and
//! the per-thread registrations (`set_tid_address`, robust futex lists).
use super::{futex, Args};
use crate::errno::{Errno, SysResult, EAGAIN, EINVAL, ENOSYS};
use crate::sched::{self, Thread};
use crate::signal::ThreadSignals;
use crate::{arch, host, mm};
use core::sync::atomic::Ordering;
use hx_abi::uapi::{
    self, CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_DETACHED, CLONE_FILES, CLONE_FS, CLONE_PARENT_SETTID,
    CLONE_PTRACE, CLONE_SETTLS, CLONE_SIGHAND, CLONE_SYSVSEM, CLONE_THREAD, CLONE_UNTRACED, CLONE_VFORK, CLONE_VM,
};

const CSIGNAL: u64 = 0xff;

/// Threads a program may have at once (Linux's default `threads-max` is far higher;
/// each hx thread holds a kernel stack).
const MAX_THREADS: usize = 4096;

/// What a new thread needs from `clone` or `clone3`.
struct CloneArgs {
    flags: u64,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
}

fn clone_thread(a: CloneArgs) -> SysResult {
    const THREAD: u64 = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
    const IGNORED: u64 = CLONE_SYSVSEM | CLONE_DETACHED | CLONE_UNTRACED | CLONE_PTRACE;
    const HANDLED: u64 =
        THREAD | IGNORED | CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID | CLONE_CHILD_SETTID;
    if a.flags & CLONE_THREAD != 0 && a.flags & CLONE_SIGHAND == 0
        || a.flags & CLONE_SIGHAND != 0 && a.flags & CLONE_VM == 0
    {
        return Err(EINVAL);
    }
    // A new process: fork, vfork, posix_spawn's CLONE_VM|CLONE_VFORK (a copy
    // here, as each process is its own VM; see syscall::fork).
    const PROCESS: u64 = CLONE_VM
        | CLONE_VFORK
        | CLONE_SETTLS
        | CLONE_PARENT_SETTID
        | CLONE_CHILD_CLEARTID
        | CLONE_CHILD_SETTID
        | IGNORED;
    if a.flags & (CLONE_THREAD | CLONE_SIGHAND | CLONE_FILES | CLONE_FS) == 0 && a.flags & !PROCESS & !CSIGNAL == 0 {
        let f = super::fork::ForkArgs {
            flags: a.flags,
            stack: a.stack,
            parent_tid: a.parent_tid,
            child_tid: a.child_tid,
            tls: a.tls,
        };
        return super::fork::fork_process(f);
    }
    if a.flags & THREAD != THREAD || a.flags & !HANDLED & !CSIGNAL != 0 {
        // Namespaces, or sharing only some of what a thread shares.
        host::log(
            b"clone: this combination of flags (namespaces, or a partly shared process) is not supported: ENOSYS",
        );
        return Err(ENOSYS);
    }
    if sched::threads().len() >= MAX_THREADS || super::vfork::active() {
        return Err(EAGAIN);
    }
    let parent = sched::current();
    // SAFETY: the current thread's entry frame, at its kernel stack top.
    let mut frame = unsafe { *parent.frame() };
    frame.rax = 0;
    frame.orig_rax = u64::MAX;
    if a.stack != 0 {
        frame.rsp = a.stack;
    }
    let tls = if a.flags & CLONE_SETTLS != 0 {
        if a.tls >= hx_abi::layout::USER_END {
            return Err(crate::errno::EPERM);
        }
        a.tls
    } else {
        arch::read_fs_base()
    };
    let tid = sched::alloc_tid().ok_or(EAGAIN)?;
    // Linux: the new thread inherits the mask, has nothing pending, no alternate stack.
    let signals = ThreadSignals { mask: parent.signals.lock().mask, altstack: (0, 2, 0), ..Default::default() };
    let child = Thread::new(tid, &frame, tls, signals).ok_or(EAGAIN)?;
    // A new thread runs where its creator may (Linux copies the mask).
    child.affinity.store(sched::current().affinity.load(Ordering::Relaxed), Ordering::Relaxed);
    *child.seccomp.lock() = parent.seccomp.lock().clone();
    super::numa::inherit(parent.tid, tid);
    if a.flags & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid.store(a.child_tid, Ordering::Relaxed);
    }
    if a.flags & CLONE_PARENT_SETTID != 0 {
        mm::write_user(a.parent_tid, &tid)?;
    }
    if a.flags & CLONE_CHILD_SETTID != 0 {
        mm::write_user(a.child_tid, &tid)?;
    }
    sched::spawn(child);
    Ok(tid as u64)
}

pub fn clone([flags, stack, parent_tid, child_tid, tls, _]: Args) -> SysResult {
    clone_thread(CloneArgs { flags, stack, parent_tid, child_tid, tls })
}

pub fn clone3([args, size, ..]: Args) -> SysResult {
    const CLONE_ARGS_SIZE_VER0: u64 = 64;
    if !(CLONE_ARGS_SIZE_VER0..=4096).contains(&size) {
        return Err(EINVAL);
    }
    // An older, shorter struct leaves the newer fields zero; a longer one's
    // extra fields must be zero (Linux: E2BIG otherwise).
    let mut a = uapi::clone_args::default();
    let known = core::mem::size_of::<uapi::clone_args>() as u64;
    // SAFETY: clone_args is plain u64 fields; its bytes are filled from the program.
    let bytes = unsafe { core::slice::from_raw_parts_mut(&mut a as *mut uapi::clone_args as *mut u8, known as usize) };
    mm::copy_from_user(args, &mut bytes[..size.min(known) as usize])?;
    if size > known {
        let mut extra = alloc::vec![0u8; (size - known) as usize];
        mm::copy_from_user(args + known, &mut extra)?;
        if extra.iter().any(|&b| b != 0) {
            return Err(Errno(7)); // E2BIG
        }
    }
    let uapi::clone_args {
        flags,
        child_tid,
        parent_tid,
        exit_signal,
        stack,
        stack_size,
        tls,
        set_tid,
        set_tid_size,
        ..
    } = a;
    if set_tid != 0 || set_tid_size != 0 || exit_signal & !CSIGNAL != 0 {
        return Err(EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(EINVAL);
    }
    let stack = if stack != 0 { stack.checked_add(stack_size).ok_or(EINVAL)? } else { 0 };
    clone_thread(CloneArgs { flags: flags | exit_signal, stack, parent_tid, child_tid, tls })
}

pub fn gettid(_: Args) -> SysResult {
    Ok(sched::current().tid as u64)
}

pub fn set_tid_address([tidptr, ..]: Args) -> SysResult {
    let t = sched::current();
    t.clear_child_tid.store(tidptr, Ordering::Relaxed);
    Ok(t.tid as u64)
}

pub fn set_robust_list([head, len, ..]: Args) -> SysResult {
    if len != 24 {
        return Err(EINVAL);
    }
    *sched::current().robust_list.lock() = (head, len);
    Ok(0)
}

pub fn get_robust_list([tid, head_ptr, len_ptr, ..]: Args) -> SysResult {
    let t = if tid == 0 { sched::current_arc() } else { sched::thread(tid as u32).ok_or(crate::errno::ESRCH)? };
    let (head, len) = *t.robust_list.lock();
    mm::write_user(head_ptr, &head)?;
    mm::write_user(len_ptr, &len)?;
    Ok(0)
}

/// What Linux does for a thread that ends: its robust futexes are marked
/// OWNER_DIED (waking a waiter), and its `clear_child_tid` is zeroed and woken.
pub fn exit_bookkeeping(t: &Thread) {
    let (head, _) = *t.robust_list.lock();
    if head != 0 {
        let _ = release_robust_list(t.tid, head);
    }
    let ctid = t.clear_child_tid.swap(0, Ordering::Relaxed);
    if ctid != 0 && mm::write_user(ctid, &0u32).is_ok() {
        let _ = futex::wake(ctid, 1, u32::MAX);
    }
}

/// Walks `struct robust_list_head` (bounded, like Linux's ROBUST_LIST_LIMIT).
fn release_robust_list(tid: u32, head: u64) -> Result<(), Errno> {
    const LIMIT: usize = 2048;
    let h: uapi::robust_list_head = mm::read_user(head)?;
    let (mut entry, offset, pending) = (h.list.next as u64, h.futex_offset, h.list_op_pending as u64);
    let mut seen = 0;
    while entry != head && seen < LIMIT {
        let next: u64 = mm::read_user(entry)?;
        if entry != pending {
            futex::owner_died(tid, entry.wrapping_add_signed(offset));
        }
        entry = next;
        seen += 1;
    }
    if pending != 0 {
        futex::owner_died(tid, pending.wrapping_add_signed(offset));
    }
    Ok(())
}

/// `unshare`: a single-threaded process already has its own descriptor
/// table, file-system context and System V undo list, so unsharing them is
/// done; a multi-threaded one's are shared by its threads for good in hx
/// (EINVAL, said once). Namespaces: EINVAL, as from a Linux built without
/// them (`/proc/config.gz` says so).
pub fn unshare([flags, ..]: Args) -> SysResult {
    const CLONE_VM: u64 = 0x100;
    const CLONE_FS: u64 = 0x200;
    const CLONE_FILES: u64 = 0x400;
    const CLONE_SIGHAND: u64 = 0x800;
    const CLONE_THREAD: u64 = 0x10000;
    const CLONE_SYSVSEM: u64 = 0x40000;
    const NAMESPACES: u64 =
        0x20000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x80;
    let known = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | NAMESPACES;
    if flags & !known != 0 || flags & NAMESPACES != 0 {
        return Err(EINVAL);
    }
    if sched::threads().len() > 1 && flags != 0 {
        if flags & (CLONE_FILES | CLONE_FS) != 0 {
            host::log(b"unshare: a thread's own descriptor table or cwd is not supported: EINVAL");
        }
        return Err(EINVAL);
    }
    Ok(0)
}

/// `setns`: no descriptor names a namespace here (there are none to open
/// under `/proc/<pid>/ns`): EINVAL for an open one, EBADF for a closed one.
pub fn setns([fd, _nstype, ..]: Args) -> SysResult {
    crate::fs::table::get(fd)?;
    Err(EINVAL)
}

/// `exit`: this thread ends; the last one ends the program.
pub fn exit([status, ..]: Args) -> SysResult {
    if super::vfork::active() {
        return super::vfork::exited(status);
    }
    let t = sched::current();
    exit_bookkeeping(t);
    sched::exit_thread(status & 0xff)
}

/// `exit_group`: the whole program ends.
pub fn exit_group([status, ..]: Args) -> SysResult {
    if super::vfork::active() {
        return super::vfork::exited(status);
    }
    host::exit(status & 0xff)
}

/// `rseq`: the registration is kept per thread; its `cpu_id` is written
/// whenever the thread is switched in, and a preempted or signalled
/// critical section restarts at its abort handler, as on Linux.
pub fn rseq([ptr, len, flags, sig, ..]: Args) -> SysResult {
    const RSEQ_FLAG_UNREGISTER: u64 = 1;
    const RSEQ_MIN_LEN: u64 = 32;
    let t = sched::current();
    let current = t.rseq.load(Ordering::Relaxed);
    if flags & RSEQ_FLAG_UNREGISTER != 0 {
        if current != ptr {
            return Err(EINVAL);
        }
        t.rseq.store(0, Ordering::Relaxed);
        return Ok(0);
    }
    if flags != 0 || len < RSEQ_MIN_LEN || ptr % 32 != 0 {
        return Err(EINVAL);
    }
    if current != 0 {
        return Err(if current == ptr { Errno(16) } else { EINVAL }); // EBUSY
    }
    let _ = sig;
    let cpu = arch::percpu::cpu() as u32;
    mm::write_user(ptr, &[cpu, cpu])?;
    t.rseq.store(ptr, Ordering::Relaxed);
    Ok(0)
}

/// Writes the thread's CPU into its `struct rseq` (after a switch).
pub fn rseq_set_cpu(t: &Thread) {
    let ptr = t.rseq.load(Ordering::Relaxed);
    if ptr != 0 {
        let cpu = arch::percpu::cpu() as u32;
        let _ = mm::write_user(ptr, &[cpu, cpu]);
    }
}

/// A thread interrupted inside an rseq critical section resumes at its abort handler.
pub fn rseq_fixup(t: &Thread, frame: &mut arch::entry::Frame) {
    let ptr = t.rseq.load(Ordering::Relaxed);
    if ptr == 0 {
        return;
    }
    let Ok(cs) = mm::read_user::<u64>(ptr + 8) else { return };
    if cs == 0 {
        return;
    }
    let _ = mm::write_user(ptr + 8, &0u64);
    // struct rseq_cs: version, flags (u32 each), start_ip, post_commit_offset, abort_ip.
    let Ok([_, start, len, abort]) = mm::read_user::<[u64; 4]>(cs) else { return };
    if frame.rip.wrapping_sub(start) < len {
        frame.rip = abort;
    }
}

/// `membarrier`: once it returns, every thread of the program that runs has
/// passed a memory barrier. The monitor's shootdown stops every other running
/// vCPU (an exit serializes it), so it serves as the barrier too.
pub fn membarrier([cmd, flags, ..]: Args) -> SysResult {
    use core::sync::atomic::AtomicBool;
    const QUERY: u64 = 0;
    const GLOBAL: u64 = 1;
    const GLOBAL_EXPEDITED: u64 = 2;
    const REGISTER_GLOBAL_EXPEDITED: u64 = 4;
    const PRIVATE_EXPEDITED: u64 = 8;
    const REGISTER_PRIVATE_EXPEDITED: u64 = 16;
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if flags != 0 {
        return Err(EINVAL);
    }
    match cmd {
        QUERY => {
            Ok(GLOBAL | GLOBAL_EXPEDITED | REGISTER_GLOBAL_EXPEDITED | PRIVATE_EXPEDITED | REGISTER_PRIVATE_EXPEDITED)
        }
        REGISTER_GLOBAL_EXPEDITED | REGISTER_PRIVATE_EXPEDITED => {
            REGISTERED.store(true, Ordering::SeqCst);
            Ok(0)
        }
        PRIVATE_EXPEDITED if !REGISTERED.load(Ordering::SeqCst) => Err(Errno(1)), // EPERM
        GLOBAL | GLOBAL_EXPEDITED | PRIVATE_EXPEDITED => {
            core::sync::atomic::fence(Ordering::SeqCst);
            if sched::multi_threaded() && sched::ncpus() > 1 {
                let _ = host::simple(hx_abi::hypercall::op::SHOOTDOWN, &[]);
            }
            Ok(0)
        }
        _ => Err(EINVAL),
    }
}
