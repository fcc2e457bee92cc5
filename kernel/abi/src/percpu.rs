//! Per-vCPU data the kernel and the monitor share.
//!
//! Each vCPU's GS base points at its own [`PerCpu`] (set once by the monitor;
//! the program's own GS is not available, see docs/design.md), so the kernel's
//! entry code finds its per-CPU state with `%gs:` addressing without spending
//! a register. The monitor allocates one [`CPU_AREA_SIZE`] block per vCPU
//! right after the kernel image: the `PerCpu` and the vCPU's TSS in the first
//! page, its CPL0 stack in the second, its idle stack in the rest.

/// Most vCPUs `--cpus` accepts.
pub const MAX_CPUS: usize = 64;
/// Bytes of guest RAM per vCPU.
pub const CPU_AREA_SIZE: u64 = 32 * 1024;
/// Offsets inside a vCPU's block.
pub const TSS_OFFSET: u64 = 0x400;
pub const CPL0_STACK_TOP_OFFSET: u64 = 0x2000;
pub const IDLE_STACK_TOP_OFFSET: u64 = CPU_AREA_SIZE;

/// `PerCpu::work` bits: something for the kernel to do before it returns to
/// the program (set by other vCPUs and by the monitor).
pub const WORK_RESCHED: u64 = 1 << 0;

/// Why the monitor entered the kernel at `hx_upcall_entry` (`PerCpu::upcall_kind`).
pub const UPCALL_PREEMPT: u64 = 1;
pub const UPCALL_FAULT: u64 = 2;
pub const UPCALL_SIGNAL: u64 = 3;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PerCpu {
    /// This structure's kernel-virtual address.
    pub self_virt: u64,
    /// The program's `rsp` while the syscall entry switches stacks.
    pub scratch_rsp: u64,
    /// Top of the running thread's kernel stack.
    pub kstack_top: u64,
    /// The running thread (a kernel pointer).
    pub current: u64,
    /// Where the return path jumps once the program's registers are back.
    pub scratch_rip: u64,
    /// Set by the monitor before it enters `hx_upcall_entry`: the program's
    /// `rip`, `rsp` and `rflags` at the moment it was stopped.
    pub upcall_rip: u64,
    pub upcall_rsp: u64,
    pub upcall_rflags: u64,
    /// `WORK_*` bits (atomic).
    pub work: u64,
    /// This vCPU's index.
    pub cpu: u64,
    /// `UPCALL_*`: why the upcall happened.
    pub upcall_kind: u64,
    /// For `UPCALL_FAULT`: exception vector, error code, faulting address (CR2).
    pub fault_vector: u64,
    pub fault_error: u64,
    pub fault_addr: u64,
}

/// What the kernel tells the monitor's timer thread, in vCPU 0's block at
/// [`SHARED_OFFSET`]: read by the monitor without an exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Shared {
    /// The earliest kernel timer, host CLOCK_MONOTONIC ns (0: none).
    pub next_deadline_ns: u64,
    /// Runnable threads waiting for a vCPU.
    pub waiting: u64,
    /// Signals the program handles (bit n-1 for signal n): a fault whose
    /// signal is here goes to the program's handler, not the fault report.
    pub caught: u64,
    /// Signals sent to hx-run (SIGINT, SIGTERM, SIGHUP) for the program
    /// (bit n-1 for signal n), set by the monitor, taken by the kernel.
    pub host_signals: u64,
    /// The process's parent (it becomes 1 when the parent ends), kept by the
    /// monitor so that `getppid` costs no exit.
    pub ppid: u64,
    /// Bumped by the monitor each time a host file a `WATCH` named became
    /// ready: threads waiting for host files look again.
    pub host_events: u64,
    /// How many ranges of program memory the kernel backs at first touch
    /// (mappings larger than the free guest RAM) `lazy` lists; more than
    /// `MAX_LAZY_RANGES`: every page fault goes to the kernel.
    pub lazy_count: u64,
    /// `[start, end)` of each such range: a page fault there goes to the
    /// kernel, which maps the page, whether or not the program catches SIGSEGV.
    pub lazy: [[u64; 2]; MAX_LAZY_RANGES],
    /// Who sent each forwarded signal 1..=`SENDER_SIGNALS` that another
    /// guest process sent (`pid | real uid << 32`; 0: none known), written
    /// by the monitor before the signal's bit, taken by the kernel with it.
    pub host_signal_senders: [u64; SENDER_SIGNALS],
    /// Moves when other processes queued signals with their own siginfo
    /// for this one (`sigqueue`, real-time signals): the kernel takes them
    /// from the monitor (`PGRP_TAKE_QUEUED`).
    pub queued_signals: u64,
    /// Another process set this one's nice value (`setpriority`): the
    /// request's number (high half) and the value (low half, as `i32`).
    pub nice_request: u64,
}

/// Signals whose sender travels with them (1 to 24: the standard ones
/// programs send each other; the shared block has room for no more).
pub const SENDER_SIGNALS: usize = 24;

/// The most ranges `Shared::lazy` lists one by one.
pub const MAX_LAZY_RANGES: usize = 15;

impl Shared {
    /// Whether a page fault at `addr` is the kernel's to serve (it lies in
    /// memory mapped at first touch).
    pub fn lazy_at(&self, addr: u64) -> bool {
        let n = self.lazy_count as usize;
        n > MAX_LAZY_RANGES || self.lazy.iter().take(n).any(|&[s, e]| (s..e).contains(&addr))
    }
}

pub const SHARED_OFFSET: u64 = 0x200;

/// Byte offsets the entry assembly uses (checked against the struct below).
pub const OFF_SCRATCH_RSP: usize = 0x08;
pub const OFF_KSTACK_TOP: usize = 0x10;
pub const OFF_CURRENT: usize = 0x18;
pub const OFF_SCRATCH_RIP: usize = 0x20;
pub const OFF_UPCALL_RIP: usize = 0x28;
pub const OFF_UPCALL_RSP: usize = 0x30;
pub const OFF_UPCALL_RFLAGS: usize = 0x38;
pub const OFF_WORK: usize = 0x40;

const _: () = {
    assert!(core::mem::offset_of!(PerCpu, scratch_rsp) == OFF_SCRATCH_RSP);
    assert!(core::mem::offset_of!(PerCpu, kstack_top) == OFF_KSTACK_TOP);
    assert!(core::mem::offset_of!(PerCpu, current) == OFF_CURRENT);
    assert!(core::mem::offset_of!(PerCpu, scratch_rip) == OFF_SCRATCH_RIP);
    assert!(core::mem::offset_of!(PerCpu, upcall_rip) == OFF_UPCALL_RIP);
    assert!(core::mem::offset_of!(PerCpu, upcall_rsp) == OFF_UPCALL_RSP);
    assert!(core::mem::offset_of!(PerCpu, upcall_rflags) == OFF_UPCALL_RFLAGS);
    assert!(core::mem::offset_of!(PerCpu, work) == OFF_WORK);
    assert!(core::mem::size_of::<PerCpu>() <= SHARED_OFFSET as usize);
    assert!(SHARED_OFFSET as usize + core::mem::size_of::<Shared>() <= TSS_OFFSET as usize);
};
