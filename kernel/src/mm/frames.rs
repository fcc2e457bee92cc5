//! Physical frames. Guest RAM arrives zeroed from the host and its first touch
//! is expensive, so fresh frames are handed out from a bump pointer without
//! ever being written; frames that come back are reused first and zeroed then.
use alloc::vec::Vec;
use hx_abi::layout::{align_up, direct_virt, HUGE_PAGE_SIZE, PAGE_SIZE};

pub struct Frames {
    /// Next fresh (never used, still zero) byte, and the end of RAM.
    next: u64,
    end: u64,
    /// Fresh 4 KiB frames skipped to align a huge frame.
    fresh: Vec<u64>,
    /// Frames that were used and freed: they must be zeroed before reuse.
    dirty: Vec<u64>,
}

impl Frames {
    pub fn new(start: u64, end: u64) -> Self {
        Self { next: align_up(start, PAGE_SIZE), end, fresh: Vec::new(), dirty: Vec::new() }
    }

    /// A zero-filled 4 KiB frame.
    pub fn alloc(&mut self) -> Option<u64> {
        if let Some(f) = self.fresh.pop() {
            return Some(f);
        }
        if let Some(f) = self.dirty.pop() {
            zero(f, PAGE_SIZE);
            return Some(f);
        }
        self.bump(PAGE_SIZE, PAGE_SIZE)
    }

    /// A zero-filled, 2 MiB aligned 2 MiB frame (only from fresh memory, so
    /// fragmentation never forces a 2 MiB memset).
    pub fn alloc_huge(&mut self) -> Option<u64> {
        let aligned = align_up(self.next, HUGE_PAGE_SIZE);
        if aligned.checked_add(HUGE_PAGE_SIZE)? > self.end {
            return None;
        }
        let mut gap = self.next;
        while gap < aligned {
            self.fresh.push(gap);
            gap += PAGE_SIZE;
        }
        self.next = aligned;
        self.bump(HUGE_PAGE_SIZE, HUGE_PAGE_SIZE)
    }

    /// `size` bytes of fresh contiguous memory (for the kernel heap).
    pub fn alloc_contiguous(&mut self, size: u64) -> Option<u64> {
        self.bump(size, HUGE_PAGE_SIZE)
    }

    pub fn free(&mut self, frame: u64) {
        self.dirty.push(frame);
    }

    pub fn free_huge(&mut self, frame: u64) {
        self.dirty.extend((0..HUGE_PAGE_SIZE / PAGE_SIZE).map(|i| frame + i * PAGE_SIZE));
    }

    fn bump(&mut self, size: u64, align: u64) -> Option<u64> {
        let start = align_up(self.next, align);
        let end = start.checked_add(size)?;
        if end > self.end {
            return None;
        }
        self.next = end;
        Some(start)
    }
}

/// Zeroes physical memory through the direct map.
pub fn zero(phys: u64, len: u64) {
    // SAFETY: the direct map covers all of guest RAM and `phys` is a frame the
    // caller owns.
    unsafe { core::ptr::write_bytes(direct_virt(phys) as *mut u8, 0, len as usize) }
}
