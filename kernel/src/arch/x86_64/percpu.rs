//! This vCPU's [`PerCpu`], reached through the GS base the monitor set.
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::percpu::{PerCpu, Shared, SHARED_OFFSET};

/// This vCPU's block.
#[inline]
pub fn this() -> &'static PerCpu {
    // SAFETY: the monitor points each vCPU's GS base at its own PerCpu, which
    // lives as long as the VM; fields that change concurrently are read
    // through `work()`'s atomic view.
    unsafe { &*this_mut() }
}

/// The PerCpu's address, from its own first word (a plain `%gs:` load, cheaper than `rdgsbase`).
#[inline]
fn this_mut() -> *mut PerCpu {
    let p: u64;
    // SAFETY: `self_virt` is the first field of the PerCpu at the GS base.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    p as *mut PerCpu
}

pub fn cpu() -> usize {
    this().cpu as usize
}

/// Records the thread this vCPU now runs and the kernel stack its entries use.
pub fn set_current(thread: u64, kstack_top: u64) {
    let p = this_mut();
    // SAFETY: only this vCPU writes these two fields of its own block.
    unsafe {
        (*p).current = thread;
        (*p).kstack_top = kstack_top;
    }
}

pub fn current() -> u64 {
    this().current
}

/// This vCPU's pending work bits.
pub fn work() -> &'static AtomicU64 {
    // SAFETY: as in `work_of`.
    unsafe { AtomicU64::from_ptr(core::ptr::addr_of_mut!((*this_mut()).work)) }
}

pub fn take_work() -> u64 {
    let w = work();
    if w.load(Ordering::Relaxed) == 0 {
        return 0;
    }
    w.swap(0, Ordering::AcqRel)
}

/// The block shared with the monitor's timer thread (in vCPU 0's area).
pub fn shared(areas: u64) -> &'static Shared {
    // SAFETY: the Shared block lies inside vCPU 0's area, live as long as the VM.
    unsafe { &*((areas + SHARED_OFFSET) as *const Shared) }
}

pub fn shared_field(field: &u64) -> &AtomicU64 {
    // SAFETY: a naturally aligned u64 inside Shared, written only atomically by the kernel.
    unsafe { AtomicU64::from_ptr(field as *const u64 as *mut u64) }
}
