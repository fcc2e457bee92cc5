//! Physical frames. Guest RAM arrives zeroed from the host and its first touch
//! is expensive, so fresh frames are handed out from bump pointers without
//! ever being written; frames that come back are reused first and zeroed then.
//! 4 KiB frames grow up from the bottom of free RAM and 2 MiB frames down from
//! the top, the half the monitor backs with huge host pages.
use alloc::vec::Vec;
use hx_abi::layout::{align_up, direct_virt, HUGE_PAGE_SIZE, PAGE_SIZE};

pub struct Frames {
    /// Fresh (never used, still zero) memory is `[next, top)`.
    next: u64,
    top: u64,
    /// Frames that were used and freed: they must be zeroed before reuse.
    dirty: Vec<u64>,
    /// The guest RAM the vCPUs can reach: `[0, low)` and `[high, end)`
    /// (`op::MEMORY`); `next` stays below `low` and `top` above `high`.
    low: u64,
    high: u64,
    /// Fresh memory below `next` handed out first: what a program loaded
    /// after the kernel's boot left of the room kept for it (`give_room`).
    room: (u64, u64),
}

impl Frames {
    /// Frames of `[start, end)`, of which `[0, low)` and `[high, end)` are reachable.
    pub fn new(start: u64, end: u64, low: u64, high: u64) -> Self {
        Self {
            next: align_up(start, PAGE_SIZE),
            top: end & !(PAGE_SIZE - 1),
            dirty: Vec::new(),
            low,
            high,
            room: (0, 0),
        }
    }

    /// Fresh (never used) frames `[start, end)` below the bump pointer, all reachable.
    pub fn give_room(&mut self, start: u64, end: u64) {
        let (start, end) = (align_up(start, PAGE_SIZE), end & !(PAGE_SIZE - 1));
        if start < end && end <= self.next && self.reachable(start, end) {
            self.room = (start, end);
        }
    }

    /// `size` bytes of the room, page aligned.
    fn take_from_room(&mut self, size: u64) -> Option<u64> {
        let (start, end) = self.room;
        if end - start < size {
            return None;
        }
        self.room.0 += size;
        Some(start)
    }

    /// Asks the monitor to make guest RAM below `low` and from `high` up
    /// reachable; false if it could not.
    fn reach(&mut self, low: u64, high: u64) -> bool {
        let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::MEMORY);
        if crate::host::exit_call(&mut req, &[low, high]) < 0 {
            return false;
        }
        // Never less than before: the monitor only adds memory slots.
        self.low = self.low.max(req.args[0]);
        self.high = self.high.min(req.args[1]);
        self.low >= self.high || self.low >= low && self.high <= high
    }

    /// Whether the vCPUs reach all of `[start, end)` (all of RAM once the
    /// two parts meet).
    fn reachable(&self, start: u64, end: u64) -> bool {
        self.low >= self.high || end <= self.low || start >= self.high
    }

    /// A zero-filled 4 KiB frame.
    pub fn alloc(&mut self) -> Option<u64> {
        if let Some(f) = self.dirty.pop() {
            zero(f, PAGE_SIZE);
            return Some(f);
        }
        self.take_from_room(PAGE_SIZE).or_else(|| self.bump(PAGE_SIZE, PAGE_SIZE))
    }

    /// A zero-filled, 2 MiB aligned 2 MiB frame (only from fresh memory, so
    /// fragmentation never forces a 2 MiB memset).
    pub fn alloc_huge(&mut self) -> Option<u64> {
        let start = (self.top & !(HUGE_PAGE_SIZE - 1)).checked_sub(HUGE_PAGE_SIZE)?;
        if start < self.next || !self.reachable(start, start + HUGE_PAGE_SIZE) && !self.reach(self.low, start) {
            return None;
        }
        self.top = start;
        Some(start)
    }

    /// `size` bytes of fresh contiguous memory (for the kernel heap).
    pub fn alloc_contiguous(&mut self, size: u64) -> Option<u64> {
        self.bump(size, HUGE_PAGE_SIZE)
    }

    /// `size` bytes of fresh contiguous memory, page aligned (kernel stacks).
    pub fn alloc_run(&mut self, size: u64) -> Option<u64> {
        self.take_from_room(align_up(size, PAGE_SIZE)).or_else(|| self.bump(size, PAGE_SIZE))
    }

    /// Bytes not handed out (fresh or given back): `/proc/meminfo`'s MemFree.
    pub fn free_bytes(&self) -> u64 {
        self.top.saturating_sub(self.next) + (self.room.1 - self.room.0) + self.dirty.len() as u64 * PAGE_SIZE
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
        if end > self.top || !self.reachable(start, end) && !self.reach(end, self.high) {
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
