//! A thread: its kernel stack, its saved user state (the vector registers
//! and TLS base that a switch must carry), and what Linux keeps per thread.
use crate::arch::{self, entry};
use crate::signal::ThreadSignals;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Kernel stack bytes per thread (the syscall handlers keep large buffers on
/// the heap, not here).
pub const KSTACK_SIZE: u64 = 32 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RunState {
    Running,
    Ready,
    Blocked,
    Dead,
}

/// What only the scheduler touches, with its lock held.
pub struct SchedFields {
    pub state: RunState,
    /// A wake-up arrived while the thread was not blocked: its next block returns at once.
    pub wake_pending: bool,
    /// When its timer fires (the key in the scheduler's timer queue).
    pub deadline: Option<u64>,
    pub timed_out: bool,
    /// The kernel `rsp` saved at its last switch out.
    pub saved_rsp: u64,
}

pub struct Thread {
    pub tid: u32,
    pub sched: UnsafeCell<SchedFields>,
    pub kstack_top: u64,
    /// The kernel-stack block (xsave area at its bottom); 0 for an idle thread.
    block: u64,
    block_size: u64,
    /// `xsave` area for the program's vector state while switched out (0: none, idle threads).
    xsave_area: u64,
    /// The program's FS base while switched out.
    pub fs_base: AtomicU64,
    /// `CLONE_CHILD_CLEARTID` / `set_tid_address`.
    pub clear_child_tid: AtomicU64,
    /// `set_robust_list`: head and length.
    pub robust_list: Mutex<(u64, u64)>,
    pub signals: Mutex<ThreadSignals>,
    /// `sched_setaffinity`'s mask (kept and reported).
    pub affinity: AtomicU64,
    /// `rseq` registration (0: none).
    pub rseq: AtomicU64,
    /// CPU time used up to its last switch out, and when it last started running (ns).
    pub cpu_ns: AtomicU64,
    pub running_since: AtomicU64,
    /// Its seccomp filters (`syscall::seccomp`): a new thread gets its creator's.
    pub seccomp: Mutex<crate::syscall::seccomp::Mode>,
}

// SAFETY: `sched` is only reached with the scheduler's lock held; the rest is
// atomics, mutexes, or fixed at creation.
unsafe impl Sync for Thread {}
unsafe impl Send for Thread {}

/// Written at the bottom of each kernel stack (see [`Thread::stack_intact`]).
const STACK_CANARY: u64 = 0x6878_5f73_7461_636b;

/// Freed kernel-stack blocks, by size, reused before fresh memory.
static STACK_CACHE: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

fn xsave_size() -> u64 {
    hx_abi::layout::align_up(crate::boot_info().xsave_size.max(576), 64)
}

impl Thread {
    /// A program thread with a fresh kernel stack whose first switch-in
    /// returns to the program with `frame` and `fs_base`, and with the
    /// vector state the caller has now (a clone gets its parent's).
    pub fn new(tid: u32, frame: &entry::Frame, fs_base: u64, signals: ThreadSignals) -> Option<Thread> {
        let xsave = hx_abi::layout::align_up(xsave_size(), 4096);
        let size = KSTACK_SIZE + xsave;
        let reused = {
            let mut cache = STACK_CACHE.lock();
            cache.iter().position(|&(_, s)| s == size).map(|i| cache.swap_remove(i).0)
        };
        let block = match reused {
            Some(b) => b,
            None => crate::mm::alloc_kernel_run(size)?,
        };
        let kstack_top = block + size;
        // SAFETY: the lowest word of the stack part of a block we own.
        unsafe { ((kstack_top - KSTACK_SIZE) as *mut u64).write_volatile(STACK_CANARY) };
        arch::xsave(block);
        let rsp = entry::new_context(kstack_top, frame);
        Some(Thread {
            tid,
            sched: UnsafeCell::new(SchedFields {
                state: RunState::Ready,
                wake_pending: false,
                deadline: None,
                timed_out: false,
                saved_rsp: rsp,
            }),
            kstack_top,
            block,
            block_size: size,
            xsave_area: block,
            fs_base: AtomicU64::new(fs_base),
            clear_child_tid: AtomicU64::new(0),
            robust_list: Mutex::new((0, 0)),
            signals: Mutex::new(signals),
            affinity: AtomicU64::new(u64::MAX),
            rseq: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            running_since: AtomicU64::new(0),
            seccomp: Mutex::new(crate::syscall::seccomp::Mode::None),
        })
    }

    /// A vCPU's idle thread, on the idle stack the monitor set up for it.
    pub fn idle(kstack_top: u64) -> Thread {
        Thread {
            tid: 0,
            sched: UnsafeCell::new(SchedFields {
                state: RunState::Running,
                wake_pending: false,
                deadline: None,
                timed_out: false,
                saved_rsp: 0,
            }),
            kstack_top,
            block: 0,
            block_size: 0,
            xsave_area: 0,
            fs_base: AtomicU64::new(0),
            clear_child_tid: AtomicU64::new(0),
            robust_list: Mutex::new((0, 0)),
            signals: Mutex::new(ThreadSignals { altstack: (0, 2, 0), ..Default::default() }),
            affinity: AtomicU64::new(u64::MAX),
            rseq: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            running_since: AtomicU64::new(0),
            seccomp: Mutex::new(crate::syscall::seccomp::Mode::None),
        }
    }

    /// Whether the lowest word of its kernel stack still holds the canary
    /// (a handler that went deeper than `KSTACK_SIZE` overwrote it, and
    /// whatever lies below: that must stop the kernel, not corrupt it).
    pub fn stack_intact(&self) -> bool {
        if self.block == 0 {
            return true;
        }
        // SAFETY: the lowest word of this thread's kernel stack, which it owns.
        unsafe { ((self.kstack_top - KSTACK_SIZE) as *const u64).read_volatile() == STACK_CANARY }
    }

    /// The thread's xsave buffer, free for the kernel's use while the thread runs.
    pub fn xsave_scratch(&self) -> u64 {
        self.xsave_area
    }

    /// CPU time it has used (time it held a vCPU, in the kernel or not).
    pub fn cpu_time(&self) -> u64 {
        let since = self.running_since.load(Ordering::Relaxed);
        let running = if since != 0 { crate::time::monotonic_ns().saturating_sub(since) } else { 0 };
        self.cpu_ns.load(Ordering::Relaxed) + running
    }

    /// Whether it has exited (scheduler lock held by the caller).
    pub fn sched_state_dead(&self) -> bool {
        // SAFETY: called by the scheduler with its lock held.
        unsafe { self.sched() }.state == RunState::Dead
    }

    pub fn is_idle(&self) -> bool {
        self.tid == 0
    }

    /// The scheduler's fields.
    ///
    /// # Safety
    /// The scheduler's lock must be held, and the reference not kept past it.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn sched(&self) -> &mut SchedFields {
        // SAFETY: the caller holds the scheduler's lock.
        unsafe { &mut *self.sched.get() }
    }

    /// The frame its entries save (valid while it is in the kernel from the program).
    pub fn frame(&self) -> *mut entry::Frame {
        entry::frame_at(self.kstack_top)
    }

    /// Saves the program state a switch must carry (vector registers, FS base).
    pub fn save_user_state(&self) {
        if self.xsave_area != 0 {
            arch::xsave(self.xsave_area);
            self.fs_base.store(arch::read_fs_base(), Ordering::Relaxed);
        }
    }

    pub fn restore_user_state(&self) {
        if self.xsave_area != 0 {
            arch::xrstor(self.xsave_area);
            arch::write_fs_base(self.fs_base.load(Ordering::Relaxed));
        }
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        if self.block != 0 {
            STACK_CACHE.lock().push((self.block, self.block_size));
        }
    }
}
