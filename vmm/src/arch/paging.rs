//! The initial page tables, written by the monitor (host-side writes cost the
//! guest nothing): the direct map of all RAM, the kernel window, and the
//! program's first mappings. The kernel owns and edits them from then on.
use crate::memory::GuestRam;
use anyhow::{bail, Result};
use hx_abi::layout::*;

const TABLE: u64 = PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_ACCESSED;

pub struct PageTables<'a> {
    mem: &'a GuestRam,
    next_table: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PageSize {
    Small,
    Huge,
    Giant,
}

impl PageSize {
    fn level(self) -> u32 {
        match self {
            PageSize::Small => 1,
            PageSize::Huge => 2,
            PageSize::Giant => 3,
        }
    }
    pub fn bytes(self) -> u64 {
        match self {
            PageSize::Small => PAGE_SIZE,
            PageSize::Huge => HUGE_PAGE_SIZE,
            PageSize::Giant => GIGA_PAGE_SIZE,
        }
    }
}

impl<'a> PageTables<'a> {
    pub fn new(mem: &'a GuestRam) -> Self {
        Self { mem, next_table: PT_POOL_PHYS }
    }

    /// Goes on with tables already written (up to `next_table`, from [`Self::next_table`]).
    pub fn resume(mem: &'a GuestRam, next_table: u64) -> Self {
        Self { mem, next_table: next_table.clamp(PT_POOL_PHYS, PT_POOL_END_PHYS) }
    }

    pub fn next_table(&self) -> u64 {
        self.next_table
    }

    fn alloc_table(&mut self) -> Result<u64> {
        if self.next_table >= PT_POOL_END_PHYS {
            bail!("the program's initial mappings need more page tables than the boot pool holds");
        }
        let t = self.next_table;
        self.next_table += PAGE_SIZE;
        Ok(t)
    }

    /// Maps one page of `size` at `va` to `pa` with leaf `flags`.
    pub fn map(&mut self, va: u64, pa: u64, size: PageSize, flags: u64) -> Result<()> {
        let mut table = PML4_PHYS;
        for level in (size.level() + 1..=4).rev() {
            let slot = table + 8 * ((va >> (12 + 9 * (level - 1))) & 511);
            let entry: u64 = self.mem.read_obj(slot)?;
            table = if entry & PTE_PRESENT != 0 {
                entry & PTE_ADDR_MASK
            } else {
                let t = self.alloc_table()?;
                self.mem.write_obj(slot, t | TABLE)?;
                t
            };
        }
        let huge = if size == PageSize::Small { 0 } else { PTE_HUGE };
        let slot = table + 8 * ((va >> (12 + 9 * (size.level() - 1))) & 511);
        self.mem.write_obj(slot, pa | flags | huge)
    }

    pub fn map_range(&mut self, va: u64, pa: u64, len: u64, size: PageSize, flags: u64) -> Result<()> {
        let step = size.bytes();
        for off in (0..align_up(len, step)).step_by(step as usize) {
            self.map(va + off, pa + off, size, flags)?;
        }
        Ok(())
    }
}

/// Leaf flags for a Linux protection (every page is user-accessible).
pub fn prot_flags(prot: u32) -> u64 {
    use hx_abi::boot::{PROT_EXEC, PROT_WRITE};
    // The program's image, stack and vDSO: A and D set ahead (a page the
    // monitor mapped is resident, and counts as written for `MADV_DONTNEED`).
    let mut f = PTE_PRESENT | PTE_USER | PTE_ACCESSED;
    if prot & PROT_WRITE != 0 {
        f |= PTE_WRITABLE | PTE_DIRTY;
    }
    if prot & PROT_EXEC == 0 {
        f |= PTE_NX;
    }
    f
}
