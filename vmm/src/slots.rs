//! Guest RAM as KVM memory slots that grow with use. KVM allocates and
//! zeroes metadata for every page of a slot when it is made and walks it
//! when guest RAM is discarded or the VM ends: for the default 2 GiB, ≈ 1.2 ms
//! to create (every forked process pays it) and more at each `execve` and
//! exit. A process uses a few MiB, so the guest reaches RAM in two parts
//! that grow as its frame allocator needs them (`op::MEMORY`): `[0, low)`
//! from the bottom (4 KiB frames, the kernel heap, the image) and
//! `[high, size)` from the top (2 MiB frames), each step at least doubling
//! the part, so a process makes a handful of requests in its life.
//!
//! The VM's file descriptor lives here: slots are made under the request
//! lock (a fork holds it too, so a forked monitor copies a consistent state).
use crate::memory::GuestRam;
use anyhow::{Context, Result};
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Both parts grow in steps of whole 2 MiB pages.
const GRAIN: u64 = 2 << 20;
/// What a process reaches before it asks: the boot image and a small program.
const FIRST_LOW: u64 = 32 << 20;
/// The first 2 MiB frames from the top.
pub const FIRST_HIGH: u64 = 16 << 20;
/// Slots per VM; the last one closes whatever gap is left.
const MAX_SLOTS: u32 = 64;

pub struct Slots {
    pub vm: VmFd,
    /// The TSC offset of the VM's first vCPU, for the vCPUs made later (`crate::tsc`).
    pub tsc_offset: std::sync::OnceLock<u64>,
    size: u64,
    low: AtomicU64,
    high: AtomicU64,
    count: AtomicU32,
}

fn align_up(v: u64) -> u64 {
    v.div_ceil(GRAIN) * GRAIN
}

impl Slots {
    fn empty(vm: VmFd, size: u64) -> Self {
        Self {
            vm,
            tsc_offset: std::sync::OnceLock::new(),
            size,
            low: AtomicU64::new(0),
            high: AtomicU64::new(size),
            count: AtomicU32::new(0),
        }
    }

    /// A new VM's slots: at least `[0, low)` reachable.
    pub fn new(vm: VmFd, mem: &GuestRam, low: u64) -> Result<Self> {
        let s = Self::empty(vm, mem.size());
        s.grow_low(mem, align_up(low.max(FIRST_LOW)).min(s.size))?;
        Ok(s)
    }

    /// A forked process's VM: the parent's reachable parts, as two slots.
    pub fn copy_of(parent: &Slots, vm: VmFd, mem: &GuestRam) -> Result<Self> {
        let (low, high) = parent.parts();
        let s = Self::empty(vm, parent.size);
        s.grow_low(mem, low)?;
        s.grow_high(mem, high)?;
        Ok(s)
    }

    /// The reachable parts: `[0, low)` and `[high, size)`, `low <= high`
    /// (all of RAM when they meet).
    pub fn parts(&self) -> (u64, u64) {
        (self.low.load(Ordering::SeqCst), self.high.load(Ordering::SeqCst))
    }

    /// Makes at least `[0, want_low)` and `[want_high, size)` reachable (the
    /// guest's numbers, clamped to its RAM). Returns the parts.
    pub fn reach(&self, mem: &GuestRam, want_low: u64, want_high: u64) -> Result<(u64, u64)> {
        let (low, high) = self.parts();
        let new_low = if want_low.min(self.size) > low { align_up(want_low.max(2 * low)) } else { low };
        let new_high = if want_high < high {
            let doubled = self.size.saturating_sub(2 * (self.size - high).max(FIRST_HIGH / 2));
            want_high.min(doubled) / GRAIN * GRAIN
        } else {
            high
        };
        let last = self.count.load(Ordering::SeqCst) + 2 >= MAX_SLOTS;
        if new_low >= new_high || last && (new_low, new_high) != (low, high) {
            // The parts would meet (or slots run out): one slot closes the gap.
            self.grow_low(mem, high)?;
        } else {
            self.grow_low(mem, new_low)?;
            self.grow_high(mem, new_high)?;
        }
        Ok(self.parts())
    }

    /// Extends the bottom part to `[0, end)`.
    fn grow_low(&self, mem: &GuestRam, end: u64) -> Result<()> {
        let low = self.low.load(Ordering::SeqCst);
        if end > low {
            self.add(mem, low, end)?;
            self.low.store(end, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Extends the top part to `[start, size)`.
    fn grow_high(&self, mem: &GuestRam, start: u64) -> Result<()> {
        let high = self.high.load(Ordering::SeqCst);
        if start < high {
            self.add(mem, start, high)?;
            self.high.store(start, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Registers `[start, end)` of guest RAM as the next slot.
    fn add(&self, mem: &GuestRam, start: u64, end: u64) -> Result<()> {
        let slot = self.count.load(Ordering::SeqCst);
        let region = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: start,
            memory_size: end - start,
            userspace_addr: mem.host_base() + start,
        };
        // SAFETY: a range of guest RAM, mapped for as long as the VM exists,
        // inside the gap between the parts, so it overlaps no other slot.
        unsafe { self.vm.set_user_memory_region(region) }.context("KVM_SET_USER_MEMORY_REGION")?;
        self.count.store(slot + 1, Ordering::SeqCst);
        Ok(())
    }
}
