//! The page tables (4-level, shared by kernel and program). The kernel edits
//! them through the direct map. Every present entry carries the U bit: the
//! kernel runs at CPL3 too. On PVM-style hosts every write to a live table is
//! trapped by the host, so callers batch changes and flush the TLB once.
use super::frames::Frames;
use crate::errno::{Errno, ENOMEM};
use hx_abi::boot::{PROT_EXEC, PROT_WRITE};
use hx_abi::layout::{
    direct_virt, HUGE_PAGE_SIZE, PAGE_SIZE, PTE_ACCESSED, PTE_ADDR_MASK, PTE_DIRTY, PTE_HUGE, PTE_NX, PTE_PRESENT,
    PTE_USER, PTE_WRITABLE,
};

/// Software bit: a not-present entry that still owns its frame (`PROT_NONE`).
const PTE_PARKED: u64 = 1 << 9;
const TABLE_FLAGS: u64 = PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_ACCESSED;

/// Leaf entry bits for a Linux protection (`PROT_NONE` parks the frame).
/// Whether a TLB may hold a translation through the entry `old`: a CPU
/// caches one only after setting the entry's A bit (and KVM's shadow
/// paging makes its shadow entry only then, or prefetches only entries
/// with A set), and the kernel maps pages without it. An entry replaced
/// atomically with A clear therefore needs no flush; one the monitor wrote
/// (A preset) always gets one.
pub fn cached(old: u64) -> bool {
    old & PTE_ACCESSED != 0
}

pub fn pte_flags(prot: u32) -> u64 {
    if prot == 0 {
        return PTE_PARKED;
    }
    let mut f = PTE_PRESENT | PTE_USER;
    if prot & PROT_WRITE != 0 {
        f |= PTE_WRITABLE;
    }
    if prot & PROT_EXEC == 0 {
        f |= PTE_NX;
    }
    f
}

/// A leaf entry found by [`PageTable::leaf`].
pub struct Leaf {
    entry: *mut u64,
    pub huge: bool,
}

impl Leaf {
    pub fn get(&self) -> u64 {
        // SAFETY: `entry` points into a live page table reached through the direct map.
        unsafe { self.entry.read_volatile() }
    }
    /// The entry as an atomic word: the CPU (or the host's shadow paging)
    /// sets its A and D bits concurrently with the kernel's changes.
    fn atomic(&self) -> &core::sync::atomic::AtomicU64 {
        // SAFETY: `entry` is an aligned u64 in a live page table, only ever
        // accessed atomically or by the CPU's locked A/D updates.
        unsafe { core::sync::atomic::AtomicU64::from_ptr(self.entry) }
    }

    /// Replaces the entry, returning the old one in the same atomic step:
    /// its A bit then says whether any TLB may hold it (see [`cached`]).
    pub fn replace(&self, v: u64) -> u64 {
        self.atomic().swap(v, core::sync::atomic::Ordering::SeqCst)
    }

    /// Replaces the entry by `f` of its value in one atomic step (A and D
    /// bits set meanwhile are not lost); returns the old entry.
    pub fn update(&self, f: impl Fn(u64) -> u64) -> u64 {
        let r = self.atomic().fetch_update(
            core::sync::atomic::Ordering::SeqCst,
            core::sync::atomic::Ordering::SeqCst,
            |v| Some(f(v)),
        );
        r.unwrap_or_else(|v| v)
    }
    pub fn frame(&self) -> u64 {
        self.get() & PTE_ADDR_MASK & if self.huge { !(HUGE_PAGE_SIZE - 1) } else { !0 }
    }
    /// Whether the CPU has written through this entry since it was made (the D bit).
    pub fn is_dirty(&self) -> bool {
        self.get() & (1 << 6) != 0
    }

    /// Records a write the kernel made through the direct map (the D bit),
    /// which the CPU did not see.
    pub fn mark_dirty(&self) {
        // Atomic: a plain read-modify-write could drop an A bit set meanwhile.
        self.atomic().fetch_or(PTE_DIRTY, core::sync::atomic::Ordering::SeqCst);
    }

    /// Records that the page is in use though the CPU has not touched it
    /// (`mlock`, `MAP_POPULATE`: Linux's page exists from then on): the A
    /// bit, which also makes its unmapping flush the TLB, conservatively.
    pub fn mark_used(&self) {
        self.atomic().fetch_or(PTE_ACCESSED, core::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the CPU has used this entry since it was made (the A bit).
    pub fn is_accessed(&self) -> bool {
        self.get() & (1 << 5) != 0
    }

    /// Holds a frame, present or parked.
    pub fn is_backed(&self) -> bool {
        self.get() & (PTE_PRESENT | PTE_PARKED) != 0
    }
    pub fn is_present(&self) -> bool {
        self.get() & PTE_PRESENT != 0
    }
    pub fn size(&self) -> u64 {
        if self.huge {
            HUGE_PAGE_SIZE
        } else {
            PAGE_SIZE
        }
    }
}

pub struct PageTable {
    root: u64,
}

fn entry(table: u64, index: u64) -> *mut u64 {
    (direct_virt(table) + index * 8) as *mut u64
}

fn index(va: u64, level: u32) -> u64 {
    (va >> (12 + 9 * (level - 1))) & 511
}

impl PageTable {
    pub fn new(root: u64) -> Self {
        Self { root }
    }

    /// The table at `level` (1 = page table) covering `va`, created if `frames` is given.
    fn table(&self, va: u64, level: u32, mut frames: Option<&mut Frames>) -> Result<Option<u64>, Errno> {
        let mut table = self.root;
        for l in (level + 1..=4).rev() {
            let e = entry(table, index(va, l));
            // SAFETY: `e` lies in a page-table frame reached through the direct map.
            let v = unsafe { e.read_volatile() };
            if v & PTE_HUGE != 0 {
                return Ok(None);
            } else if v & PTE_PRESENT == 0 {
                let Some(f) = frames.as_deref_mut() else {
                    return Ok(None);
                };
                let new = f.alloc().ok_or(ENOMEM)?;
                // SAFETY: as above; the new table is zeroed.
                unsafe { e.write_volatile(new | TABLE_FLAGS) };
                table = new;
            } else {
                table = v & PTE_ADDR_MASK;
            }
        }
        Ok(Some(table))
    }

    /// The leaf entry mapping `va`, 4 KiB or 2 MiB, if any table reaches it.
    pub fn leaf(&self, va: u64) -> Option<Leaf> {
        let pd = self.table(va, 2, None).ok()??;
        let pde = entry(pd, index(va, 2));
        // SAFETY: `pde` lies in a live page directory.
        let v = unsafe { pde.read_volatile() };
        if v & PTE_HUGE != 0 {
            return Some(Leaf { entry: pde, huge: true });
        }
        if v & PTE_PRESENT == 0 {
            return None;
        }
        Some(Leaf { entry: entry(v & PTE_ADDR_MASK, index(va, 1)), huge: false })
    }

    /// Maps a 4 KiB page; returns the entry it replaced (see [`cached`]).
    pub fn map_page(&mut self, frames: &mut Frames, va: u64, pa: u64, flags: u64) -> Result<u64, Errno> {
        let pt = self.table(va, 1, Some(frames))?.ok_or(ENOMEM)?;
        Ok(Leaf { entry: entry(pt, index(va, 1)), huge: false }.replace(pa | flags))
    }

    /// Maps a 2 MiB page; `va` must be 2 MiB aligned with no table below it.
    pub fn map_huge(&mut self, frames: &mut Frames, va: u64, pa: u64, flags: u64) -> Result<(), Errno> {
        let pd = self.table(va, 2, Some(frames))?.ok_or(ENOMEM)?;
        // SAFETY: `pd` is a live page directory.
        unsafe { entry(pd, index(va, 2)).write_volatile(pa | flags | PTE_HUGE) };
        Ok(())
    }

    /// Replaces the 2 MiB page around `va` by 512 4 KiB entries with the same
    /// frames and flags, so part of it can change; returns whether a TLB
    /// may hold the 2 MiB entry (see [`cached`]).
    pub fn split_huge(&mut self, frames: &mut Frames, va: u64) -> Result<bool, Errno> {
        let Some(leaf) = self.leaf(va) else {
            return Ok(false);
        };
        if !leaf.huge {
            return Ok(false);
        }
        let v = leaf.get();
        let base = v & PTE_ADDR_MASK & !(HUGE_PAGE_SIZE - 1);
        let flags = v & !(PTE_ADDR_MASK | PTE_HUGE);
        let pt = frames.alloc().ok_or(ENOMEM)?;
        for i in 0..512 {
            // SAFETY: `pt` is a fresh table frame owned here, not yet linked.
            unsafe { entry(pt, i).write_volatile((base + i * PAGE_SIZE) | flags) };
        }
        // The small entries inherit A and D; the huge one's bits may have
        // changed since it was read: its last value decides.
        Ok(cached(leaf.replace(pt | TABLE_FLAGS)))
    }
}
