//! The program's address space: its VMAs (what is mapped where, with which
//! protection) and the pages behind them. Pages are mapped when the VMA is
//! made (a page fault costs a CPL0 round trip and an exit here, far more
//! than mapping ahead), large pages wherever a 2 MiB range allows. Only a
//! mapping larger than the free guest RAM (Linux overcommits memory) is
//! backed at first touch instead, 2 MiB at a time ([`Lazy`]): a page fault
//! there, or a system call's access to it, maps the block around it.
use super::frames::Frames;
use super::paging::{cached, pte_flags, PageTable};
use crate::arch::cpl0;
use crate::errno::{Errno, SysResult, EEXIST, EFAULT, EINVAL, ENOMEM};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use hx_abi::boot::{PROT_READ, PROT_WRITE};
use hx_abi::hypercall::Segment;
use hx_abi::layout::{
    align_down, align_up, HUGE_PAGE_SIZE, MMAP_TOP, PAGE_SIZE, PTE_ACCESSED, PTE_DIRTY, PTE_HUGE, USER_END, USER_MIN,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A segment of an ELF the monitor loaded.
    Image,
    Stack,
    /// The program break (`brk`).
    Heap,
    /// Anonymous `mmap`.
    Anon,
    /// `MAP_SHARED`: pages whose memory the monitor shares (a host file's,
    /// or shared memory processes forked later see too). Never zeroed or
    /// reused before the monitor makes them private again.
    Shared,
}

/// The file a mapping holds the bytes of (for `/proc/self/maps`): its
/// path (a `names` number), the file offset at the mapping's start, and
/// whether it was mapped shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backing {
    pub name: u32,
    pub offset: u64,
    pub shared: bool,
    /// A shared mapping of a file not opened for writing: it may never be
    /// made writable (`mprotect`: EACCES, as Linux clears `VM_MAYWRITE`).
    pub read_only: bool,
}

impl Backing {
    /// The same file `delta` bytes further in.
    fn at(self, delta: u64) -> Self {
        Self { offset: self.offset + delta, ..self }
    }
}

/// How a mapping backed at first touch gets its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lazy {
    /// Fresh zero pages (anonymous memory).
    Zero,
    /// The pages of host file `handle` from `offset` (at the mapping's
    /// start), which the monitor maps over the frames: shared (writes reach
    /// the file), or copy-on-write.
    File { handle: u64, offset: u64, shared: bool },
}

impl Lazy {
    /// The same source `delta` bytes further in.
    fn at(self, delta: u64) -> Self {
        match self {
            Lazy::File { handle, offset, shared } => Lazy::File { handle, offset: offset + delta, shared },
            Lazy::Zero => Lazy::Zero,
        }
    }
}

/// The block a first touch backs at once: one large page's worth.
const LAZY_BLOCK: u64 = HUGE_PAGE_SIZE;

#[derive(Clone, Copy, Debug)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    pub kind: Kind,
    pub file: Option<Backing>,
    /// Backed at first touch (else every page is backed, or parked, from the start).
    pub lazy: Option<Lazy>,
}

impl Vma {
    /// Whether `next`, which starts where this ends, continues it.
    fn continued_by(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.prot == next.prot
            && self.kind == next.kind
            && self.file.map(|f| f.at(self.end - self.start)) == next.file
            && self.lazy.map(|l| l.at(self.end - self.start)) == next.lazy
    }
}

pub struct AddressSpace {
    pt: PageTable,
    pub frames: Frames,
    vmas: BTreeMap<u64, Vma>,
    brk_start: u64,
    brk: u64,
    /// The range whose entries were removed or narrowed since the last TLB flush.
    stale: Option<(u64, u64)>,
    /// Some mapping is backed at first touch ([`Lazy`]).
    has_lazy: bool,
    /// The lazy mappings changed since the monitor was last told (`flush`).
    lazy_changed: bool,
}

// Linux mmap flags.
const MAP_TYPE: u64 = 0x0f;
const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_SHARED_VALIDATE: u64 = 0x03;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_32BIT: u64 = 0x40;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;
const LOW_2G: u64 = 0x8000_0000;

/// From this size on, `zero_range` gives pages back to the host instead of zeroing them.
const DISCARD_MIN: u64 = 64 * 1024;

/// Sends the pages in `batch` back to the host (they read back as zero) and empties it.
/// Makes the guest pages of `batch` private memory again (`UNMAP_SHARED`).
fn unshare_frames(batch: &mut Vec<Segment>) {
    if batch.is_empty() {
        return;
    }
    let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::UNMAP_SHARED);
    req.nsegs = batch.len() as u32;
    req.segs[..batch.len()].copy_from_slice(batch);
    crate::host::call(&mut req);
    batch.clear();
}

fn discard_frames(batch: &mut Vec<Segment>) {
    if batch.is_empty() {
        return;
    }
    let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::DISCARD);
    req.nsegs = batch.len() as u32;
    req.segs[..batch.len()].copy_from_slice(batch);
    if crate::host::call(&mut req) < 0 {
        // The host refused: zero them here.
        for s in batch.iter() {
            super::frames::zero(s.phys, s.len);
        }
    }
    batch.clear();
}

impl AddressSpace {
    pub fn new(root: u64, frames: Frames, brk_start: u64) -> Self {
        Self {
            pt: PageTable::new(root),
            frames,
            vmas: BTreeMap::new(),
            brk_start,
            brk: brk_start,
            stale: None,
            has_lazy: false,
            lazy_changed: false,
        }
    }

    /// Where the program's break starts (its image's end).
    pub fn set_brk_start(&mut self, brk_start: u64) {
        (self.brk_start, self.brk) = (brk_start, brk_start);
    }

    /// How many mappings (VMAs) the process has (Linux's `map_count`).
    pub fn map_count(&self) -> u64 {
        self.vmas.len() as u64
    }

    /// How many mappings changing `[start, end)` would cut in two: one
    /// straddling `start`, one straddling `end` (the same one twice when
    /// the range lies inside it).
    pub fn splits(&self, start: u64, end: u64) -> u64 {
        let cut = |at: u64| self.vma_at(at).is_some_and(|v| v.start < at && at < v.end);
        u64::from(cut(start)) + u64::from(end > start && cut(end))
    }

    /// Records a region the monitor already mapped at boot.
    pub fn adopt(&mut self, start: u64, end: u64, prot: u32, kind: Kind) {
        self.insert(Vma { start, end, prot, kind, file: None, lazy: None });
    }

    fn insert(&mut self, mut vma: Vma) {
        if vma.lazy.is_some() {
            self.lazy_changed = true;
        }
        // Merge with neighbours of the same kind and protection, as Linux does,
        // so long-lived programs do not accumulate fragments.
        if let Some((_, prev)) = self.vmas.range(..vma.start).next_back() {
            if prev.continued_by(&vma) {
                vma.start = prev.start;
                vma.file = prev.file;
                self.vmas.remove(&prev.start.clone());
            }
        }
        if let Some(next) = self.vmas.get(&vma.end).copied() {
            if vma.continued_by(&next) {
                vma.end = next.end;
                self.vmas.remove(&next.start);
            }
        }
        self.vmas.insert(vma.start, vma);
    }

    /// VMAs that overlap `[start, end)`.
    /// Whether a mapping (of any protection, even none) covers `addr`.
    /// The mapping `addr` lies in.
    pub fn vma_at(&self, addr: u64) -> Option<Vma> {
        self.overlapping(addr, addr.saturating_add(1)).into_iter().next()
    }

    pub fn is_mapped(&self, addr: u64) -> bool {
        addr < u64::MAX && !self.overlapping(addr, addr + 1).is_empty()
    }

    fn overlapping(&self, start: u64, end: u64) -> Vec<Vma> {
        let first = self.vmas.range(..=start).next_back().map(|(k, _)| *k).unwrap_or(0);
        self.vmas.range(first..end).map(|(_, v)| *v).filter(|v| v.end > start).collect()
    }

    fn is_free(&self, start: u64, end: u64) -> bool {
        self.overlapping(start, end).is_empty()
    }

    /// The highest free range of `len` bytes that ends at or below `top`.
    fn find_free(&self, len: u64, top: u64, align: u64) -> Option<u64> {
        let mut hole_end = top;
        for v in self.vmas.values().rev() {
            if v.start >= hole_end {
                continue;
            }
            if v.end < hole_end {
                let cand = align_down(hole_end.checked_sub(len)?, align);
                if cand >= v.end && cand >= USER_MIN {
                    return Some(cand);
                }
            }
            hole_end = hole_end.min(v.start);
        }
        let cand = align_down(hole_end.checked_sub(len)?, align);
        (cand >= USER_MIN).then_some(cand)
    }

    /// Cuts the VMA that straddles `addr` in two.
    fn split_at(&mut self, addr: u64) {
        let Some((_, v)) = self.vmas.range(..addr).next_back() else {
            return;
        };
        let v = *v;
        if v.end > addr {
            self.vmas.insert(v.start, Vma { end: addr, ..v });
            let (file, lazy) = (v.file.map(|f| f.at(addr - v.start)), v.lazy.map(|l| l.at(addr - v.start)));
            self.vmas.insert(addr, Vma { start: addr, file, lazy, ..v });
        }
    }

    /// Frees the pages of `[start, end)` (page aligned).
    fn depopulate(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        let mut va = start;
        while va < end {
            let Some(leaf) = self.pt.leaf(va) else {
                va = past_empty_block(va);
                continue;
            };
            if leaf.huge && (!va.is_multiple_of(HUGE_PAGE_SIZE) || end - va < HUGE_PAGE_SIZE) {
                if self.pt.split_huge(&mut self.frames, va)? {
                    self.mark_stale(align_down(va, HUGE_PAGE_SIZE), align_down(va, HUGE_PAGE_SIZE) + HUGE_PAGE_SIZE);
                }
                continue;
            }
            if leaf.is_backed() {
                let frame = leaf.frame();
                if cached(leaf.replace(0)) {
                    self.mark_stale(va, va + leaf.size());
                }
                if leaf.huge {
                    self.frames.free_huge(frame);
                } else {
                    self.frames.free(frame);
                }
            }
            va += leaf.size();
        }
        Ok(())
    }

    /// Maps fresh anonymous memory at `[start, end)`, which must be free:
    /// backed now (`ENOMEM` if the RAM cannot), unless the program asked
    /// for no reservation (`MAP_NORESERVE`, `noreserve`) and it is larger
    /// than the free RAM: then at first touch. A reservation without
    /// access keeps that request for when `mprotect` opens it up.
    fn map_new(&mut self, start: u64, end: u64, prot: u32, kind: Kind, noreserve: bool) -> Result<(), Errno> {
        let lazy = (noreserve && (prot == 0 || self.too_large(end - start))).then_some(Lazy::Zero);
        if prot != 0 && lazy.is_none() {
            if let Err(e) = self.populate(start, end, prot) {
                self.depopulate(start, end)?;
                return Err(e);
            }
        }
        self.insert(Vma { start, end, prot, kind, file: None, lazy });
        Ok(())
    }

    /// Whether `len` bytes are more than the free RAM can back now.
    fn too_large(&self, len: u64) -> bool {
        len > self.frames.free_bytes()
    }

    /// Makes `[start, end)` (a fresh mapping, unbacked) a mapping of `kind`
    /// and `prot` backed at first touch from `source`.
    pub fn map_lazily(&mut self, start: u64, end: u64, prot: u32, kind: Kind, source: Lazy) {
        self.split_at(start);
        self.split_at(end);
        for v in self.overlapping(start, end) {
            self.vmas.remove(&v.start);
            self.insert(Vma { kind, prot, lazy: Some(source.at(v.start - start)), ..v });
        }
    }

    /// Backs the pages of mappings made at first touch in `[start, end)`
    /// (the blocks around them): before the kernel reads or writes program
    /// memory, and for the program's page faults there. `ENOMEM` when the
    /// RAM is exhausted (Linux's out-of-memory killer would end the
    /// process), `EIO` when the monitor cannot map a file's pages.
    pub fn fault_in(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        if !self.has_lazy {
            return Ok(());
        }
        for v in self.overlapping(start, end.max(start + 1)) {
            let Some(source) = v.lazy.filter(|_| v.prot != 0) else { continue };
            let from = align_down(start.max(v.start), LAZY_BLOCK).max(v.start);
            let to = align_up(end.min(v.end), LAZY_BLOCK).min(v.end);
            match source {
                Lazy::Zero => self.populate(from, to, v.prot)?,
                Lazy::File { handle, offset, shared } => {
                    self.back_file(from, to, v.prot, handle, offset + (from - v.start), shared)?
                }
            }
        }
        Ok(())
    }

    /// A page fault of the program at `addr` (`error`: the CPU's error
    /// code): backs the block around it if it lies in memory mapped at first
    /// touch with a protection that allows the access. `Ok(false)`: not
    /// such a fault (the program gets its signal).
    pub fn fault_lazy(&mut self, addr: u64, error: u64) -> Result<bool, Errno> {
        const WRITE: u64 = 2;
        const FETCH: u64 = 16;
        let Some(v) = self.vma_at(addr).filter(|v| v.lazy.is_some()) else { return Ok(false) };
        let allowed = if error & WRITE != 0 {
            v.prot & PROT_WRITE != 0
        } else if error & FETCH != 0 {
            v.prot & hx_abi::boot::PROT_EXEC != 0
        } else {
            v.prot != 0
        };
        if !allowed {
            return Ok(false);
        }
        // Another thread may have backed it since (both faulted on the block).
        self.fault_in(addr, addr + 1)?;
        Ok(true)
    }

    /// Backs the unbacked pages of `[start, end)` with fresh zero pages
    /// mapped with `prot`: large pages wherever a whole free 2 MiB block allows.
    fn populate(&mut self, start: u64, end: u64, prot: u32) -> Result<(), Errno> {
        let flags = pte_flags(prot);
        let mut va = start;
        while va < end {
            match self.pt.leaf(va) {
                None if va.is_multiple_of(HUGE_PAGE_SIZE) && end - va >= HUGE_PAGE_SIZE => {
                    if let Some(f) = self.frames.alloc_huge() {
                        if self.pt.map_huge(&mut self.frames, va, f, flags).is_ok() {
                            va += HUGE_PAGE_SIZE;
                            continue;
                        }
                        self.frames.free_huge(f);
                    }
                    let f = self.frames.alloc().ok_or(ENOMEM)?;
                    self.pt.map_page(&mut self.frames, va, f, flags)?;
                    va += PAGE_SIZE;
                }
                Some(leaf) if leaf.is_backed() => va = align_down(va, leaf.size()) + leaf.size(),
                _ => {
                    let f = self.frames.alloc().ok_or(ENOMEM)?;
                    self.pt.map_page(&mut self.frames, va, f, flags)?;
                    va += PAGE_SIZE;
                }
            }
        }
        Ok(())
    }

    /// Backs the unbacked pages of `[start, end)` with the pages of host
    /// file `handle` from `offset` (at `start`): each run of unbacked pages
    /// gets contiguous frames, which the monitor maps the file over.
    fn back_file(
        &mut self,
        start: u64,
        end: u64,
        prot: u32,
        handle: u64,
        offset: u64,
        shared: bool,
    ) -> Result<(), Errno> {
        let flags = pte_flags(prot);
        let mut va = start;
        while va < end {
            if let Some(leaf) = self.pt.leaf(va).filter(|l| l.is_backed()) {
                va = align_down(va, leaf.size()) + leaf.size();
                continue;
            }
            let mut run_end = va + PAGE_SIZE;
            while run_end < end && self.pt.leaf(run_end).is_none_or(|l| !l.is_backed()) {
                run_end += PAGE_SIZE;
            }
            // Contiguous frames for the run, else for its first page only.
            let (phys, len) = match self.frames.alloc_run(run_end - va) {
                Some(p) => (p, run_end - va),
                None => (self.frames.alloc().ok_or(ENOMEM)?, PAGE_SIZE),
            };
            let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::MAP_SHARED);
            req.args[..3].copy_from_slice(&[handle, offset + (va - start), u64::from(shared)]);
            req.segs[0] = Segment { phys, len };
            req.nsegs = 1;
            if crate::host::call(&mut req) < 0 {
                for page in (0..len).step_by(PAGE_SIZE as usize) {
                    self.frames.free(phys + page);
                }
                return Err(crate::errno::EIO);
            }
            for page in (0..len).step_by(PAGE_SIZE as usize) {
                self.pt.map_page(&mut self.frames, va + page, phys + page, flags)?;
            }
            va += len;
        }
        Ok(())
    }

    /// Tells the monitor where page faults are the kernel's (mappings backed
    /// at first touch), if that changed.
    fn publish_lazy(&mut self) {
        if !self.lazy_changed {
            return;
        }
        self.lazy_changed = false;
        let mut ranges: Vec<[u64; 2]> = Vec::new();
        for v in self.vmas.values().filter(|v| v.lazy.is_some() && v.prot != 0) {
            match ranges.last_mut() {
                Some(last) if last[1] == v.start => last[1] = v.end,
                _ => ranges.push([v.start, v.end]),
            }
        }
        self.has_lazy = !ranges.is_empty();
        crate::sched::publish_lazy(&ranges);
    }

    /// The handles of the files mappings backed at first touch still read.
    pub fn lazy_handles(&self) -> Vec<u64> {
        let handles = self.vmas.values().filter_map(|v| match v.lazy {
            Some(Lazy::File { handle, .. }) => Some(handle),
            _ => None,
        });
        handles.collect()
    }

    /// Records that `[start, end)` (mapped) holds the bytes of `file`.
    pub fn set_backing(&mut self, start: u64, end: u64, file: Backing) {
        self.split_at(start);
        self.split_at(end);
        for v in self.overlapping(start, end) {
            self.vmas.remove(&v.start);
            self.insert(Vma { file: Some(file.at(v.start - start)), ..v });
        }
    }

    /// Removes every mapping in `[start, end)`.
    pub fn unmap(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        self.split_at(start);
        self.split_at(end);
        let vmas = self.overlapping(start, end);
        if vmas.iter().any(|v| v.lazy.is_some()) {
            self.lazy_changed = true;
        }
        // Shared pages become private memory before their frames are freed.
        for v in vmas.iter().filter(|v| v.kind == Kind::Shared) {
            self.unshare(v.start.max(start), v.end.min(end));
        }
        for v in vmas {
            self.vmas.remove(&v.start);
        }
        crate::syscall::numa::forget(start, end);
        self.depopulate(start, end)
    }

    /// Tells the monitor the frames behind `[start, end)` are private again.
    fn unshare(&mut self, start: u64, end: u64) {
        let mut batch: Vec<Segment> = Vec::new();
        let mut va = start;
        while va < end {
            let Some(leaf) = self.pt.leaf(va) else {
                va = past_empty_block(va);
                continue;
            };
            if leaf.is_backed() && !leaf.huge {
                let phys = leaf.frame();
                match batch.last_mut() {
                    Some(last) if last.phys + last.len == phys => last.len += PAGE_SIZE,
                    _ => {
                        if batch.len() == hx_abi::hypercall::MAX_SEGMENTS {
                            unshare_frames(&mut batch);
                        }
                        batch.push(Segment { phys, len: PAGE_SIZE });
                    }
                }
            }
            va += PAGE_SIZE;
        }
        unshare_frames(&mut batch);
    }

    /// Backs the first `backed` bytes of the fresh `PROT_NONE` mapping at
    /// `start` with contiguous frames mapped with `prot`, as a shared
    /// mapping; returns their physical address (for the monitor to share).
    pub fn back_shared(&mut self, start: u64, backed: u64, prot: u32) -> Result<u64, Errno> {
        let phys = self.frames.alloc_run(backed).ok_or(ENOMEM)?;
        let flags = pte_flags(prot);
        let mut off = 0;
        let mut replaced_cached = false;
        while off < backed {
            replaced_cached |= cached(self.pt.map_page(&mut self.frames, start + off, phys + off, flags)?);
            off += PAGE_SIZE;
        }
        self.split_at(start);
        self.split_at(start + backed);
        for v in self.overlapping(start, start + backed) {
            self.vmas.remove(&v.start);
            self.insert(Vma { kind: Kind::Shared, prot, ..v });
        }
        if replaced_cached {
            self.mark_stale(start, start + backed);
        }
        self.flush();
        Ok(phys)
    }

    /// The physical pieces of the shared pages in `[start, end)`; `ENOMEM` if
    /// part of the range is unmapped (as Linux's `msync`).
    pub fn shared_segments(&self, start: u64, end: u64) -> Result<Vec<Segment>, Errno> {
        let mut cursor = start;
        let mut out: Vec<Segment> = Vec::new();
        for v in self.overlapping(start, end) {
            if v.start > cursor {
                return Err(ENOMEM);
            }
            cursor = v.end;
            if v.kind != Kind::Shared {
                continue;
            }
            let mut va = v.start.max(start);
            while va < v.end.min(end) {
                if let Some(leaf) = self.pt.leaf(va).filter(|l| l.is_backed() && !l.huge) {
                    match out.last_mut() {
                        Some(last) if last.phys + last.len == leaf.frame() => last.len += PAGE_SIZE,
                        _ => out.push(Segment { phys: leaf.frame(), len: PAGE_SIZE }),
                    }
                }
                va += PAGE_SIZE;
            }
        }
        if cursor < end {
            return Err(ENOMEM);
        }
        Ok(out)
    }

    /// Whether every page of `[start, end)` is mapped (any protection).
    pub fn covered(&self, start: u64, end: u64) -> bool {
        let mut cursor = start;
        for v in self.overlapping(start, end) {
            if v.start > cursor {
                return false;
            }
            cursor = v.end;
        }
        cursor >= end
    }

    /// Whether the page at `va` is in memory (`mincore`).
    pub fn resident(&self, va: u64) -> bool {
        self.pt.leaf(va).is_some_and(|l| l.is_backed())
    }

    /// Whether the program has used the page at `va` (its frame may have
    /// been mapped ahead of any use: Linux would have no page there yet).
    pub fn touched(&self, va: u64) -> bool {
        self.pt.leaf(va).is_some_and(|l| l.is_backed() && l.is_accessed())
    }

    /// Whether Linux would have a page at `va`: backed, and used — by the
    /// program (the A bit), written by the kernel or the host (the D bit
    /// `mark_dirty` sets), or populated (`mark_populated`).
    pub fn used(&self, va: u64) -> bool {
        self.pt.leaf(va).is_some_and(|l| l.is_backed() && (l.is_accessed() || l.is_dirty()))
    }

    /// Whether Linux would have a page at `va` (`mincore`, `pagemap`):
    /// anonymous memory once used, a file's page once backed (its cache's).
    pub fn present(&self, va: u64) -> bool {
        match self.vma_at(va) {
            Some(v) if v.file.is_none() && v.kind != Kind::Image => self.used(va),
            Some(_) => self.resident(va),
            None => false,
        }
    }

    /// Whether any page of `[start, end)` was written (the D bit): a private
    /// file mapping then holds copies of its own, anonymous memory to Linux.
    pub fn written_in(&self, start: u64, end: u64) -> bool {
        (start..end)
            .step_by(PAGE_SIZE as usize)
            .any(|va| self.pt.leaf(va).is_some_and(|l| l.is_backed() && l.is_dirty()))
    }

    /// `[start, end)` populated (`mlock`, `MAP_POPULATE`): backed now, and
    /// every page counts as in use (`used`).
    pub fn mark_populated(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        self.fault_in(start, end)?;
        let mut va = start;
        while va < end {
            if let Some(l) = self.pt.leaf(va).filter(|l| l.is_backed()) {
                l.mark_used();
            }
            va += PAGE_SIZE;
        }
        Ok(())
    }

    /// Whether `addr` lies in memory other processes may share (`MAP_SHARED`;
    /// a private file mapping the monitor made copy-on-write is not).
    pub fn shared_at(&self, addr: u64) -> bool {
        self.overlapping(addr, addr + 1)
            .first()
            .is_some_and(|v| v.kind == Kind::Shared && v.file.is_none_or(|f| f.shared))
    }

    /// Changes the protection of `[start, end)`; `ENOMEM` if part of it is unmapped.
    pub fn protect(&mut self, start: u64, end: u64, prot: u32) -> Result<(), Errno> {
        let vmas = self.overlapping(start, end);
        // A reservation made without one (MAP_NORESERVE) opened up beyond
        // what the free RAM backs is backed at first touch.
        let open_lazily = prot != 0 && self.too_large(end - start);
        if vmas.iter().any(|v| v.lazy.is_some()) {
            self.lazy_changed = true;
        }
        let mut cursor = start;
        for v in &vmas {
            if v.start > cursor {
                return Err(ENOMEM);
            }
            cursor = v.end;
        }
        if cursor < end {
            return Err(ENOMEM);
        }
        if prot & PROT_WRITE != 0 && vmas.iter().any(|v| v.file.is_some_and(|f| f.read_only)) {
            return Err(crate::errno::EACCES);
        }
        self.split_at(start);
        self.split_at(end);
        let flags = pte_flags(prot);
        for v in self.overlapping(start, end) {
            // Unbacked pages stay so in memory backed at first touch.
            let lazy = match v.lazy {
                Some(Lazy::File { .. }) => true,
                Some(Lazy::Zero) => open_lazily,
                None => false,
            };
            let mut va = v.start;
            while va < v.end {
                match self.pt.leaf(va) {
                    Some(leaf) if leaf.huge && (!va.is_multiple_of(HUGE_PAGE_SIZE) || v.end - va < HUGE_PAGE_SIZE) => {
                        if self.pt.split_huge(&mut self.frames, va)? {
                            let block = align_down(va, HUGE_PAGE_SIZE);
                            self.mark_stale(block, block + HUGE_PAGE_SIZE);
                        }
                    }
                    Some(leaf) if leaf.is_backed() => {
                        // The D bit stays (MADV_DONTNEED must still zero a
                        // page written before), and so does A: it is true.
                        let frame = leaf.frame();
                        let old = leaf.update(|v| frame | flags | (v & (PTE_HUGE | PTE_ACCESSED | PTE_DIRTY)));
                        if cached(old) {
                            self.mark_stale(va, va + leaf.size());
                        }
                        va += leaf.size();
                    }
                    None if lazy => va = past_empty_block(va).min(v.end),
                    _ => {
                        // Never backed (it was PROT_NONE): back it now if it becomes accessible.
                        if prot != 0 && !lazy {
                            self.populate(va, va + PAGE_SIZE, prot)?;
                        }
                        va += PAGE_SIZE;
                    }
                }
            }
            self.vmas.remove(&v.start);
            // Zero memory backed now is an ordinary mapping from here on.
            let lazy = if v.lazy == Some(Lazy::Zero) && prot != 0 && !lazy { None } else { v.lazy };
            self.insert(Vma { prot, lazy, ..v });
        }
        Ok(())
    }

    /// `MADV_DONTNEED`: the range reads back as zero; `ENOMEM` if part is unmapped.
    pub fn zero_range(&mut self, start: u64, end: u64) -> Result<(), Errno> {
        let mut cursor = start;
        for v in self.overlapping(start, end) {
            if v.start > cursor {
                return Err(ENOMEM);
            }
            cursor = v.end;
        }
        if cursor < end {
            return Err(ENOMEM);
        }
        // Large ranges (a thread's stack at its exit, freed heap) go back to
        // the host, which hands out zero pages again: cheaper than writing
        // zeros, and the host reclaims the memory.
        let discard = end - start >= DISCARD_MIN;
        let mut batch: Vec<Segment> = Vec::new();
        let mut va = start;
        // Shared pages keep their bytes (a file's, or memory shared with other
        // processes): Linux reads them back from there too.
        let shared: Vec<(u64, u64)> =
            self.overlapping(start, end).iter().filter(|v| v.kind == Kind::Shared).map(|v| (v.start, v.end)).collect();
        while va < end {
            if let Some(&(_, e)) = shared.iter().find(|(s, e)| (*s..*e).contains(&va)) {
                va = e;
                continue;
            }
            match self.pt.leaf(va) {
                Some(leaf) if leaf.is_backed() => {
                    let page = leaf.size();
                    let chunk = (align_down(va, page) + page).min(end) - va;
                    let phys = leaf.frame() + (va & (page - 1));
                    if !leaf.is_dirty() {
                        // Never written since it was mapped zeroed: it still reads as zero.
                    } else if discard && phys.is_multiple_of(PAGE_SIZE) && chunk.is_multiple_of(PAGE_SIZE) {
                        batch.push(Segment { phys, len: chunk });
                        if batch.len() == hx_abi::hypercall::MAX_SEGMENTS {
                            discard_frames(&mut batch);
                        }
                    } else {
                        super::frames::zero(phys, chunk);
                    }
                    va += chunk;
                }
                _ => va += PAGE_SIZE,
            }
        }
        discard_frames(&mut batch);
        Ok(())
    }

    pub fn mmap(&mut self, addr: u64, len: u64, prot: u32, flags: u64) -> SysResult {
        if len == 0 || prot & !7 != 0 {
            return Err(EINVAL);
        }
        if !matches!(flags & MAP_TYPE, MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE) {
            return Err(EINVAL);
        }
        if flags & MAP_ANONYMOUS == 0 {
            return Err(crate::errno::ENODEV);
        }
        let len = align_up(len.checked_add(0).ok_or(ENOMEM)?, PAGE_SIZE);
        if len == 0 || len > USER_END {
            return Err(ENOMEM);
        }
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let start = if fixed {
            if !addr.is_multiple_of(PAGE_SIZE) {
                return Err(EINVAL);
            }
            let end = addr.checked_add(len).ok_or(ENOMEM)?;
            if addr < USER_MIN || end > USER_END {
                return Err(if addr < USER_MIN { crate::errno::EPERM } else { ENOMEM });
            }
            if !self.is_free(addr, end) {
                if flags & MAP_FIXED_NOREPLACE != 0 {
                    return Err(EEXIST);
                }
                self.unmap(addr, end)?;
            }
            addr
        } else {
            let hint = align_down(addr, PAGE_SIZE);
            let hint_ok =
                hint >= USER_MIN && hint.checked_add(len).is_some_and(|e| e <= USER_END && self.is_free(hint, e));
            if hint_ok {
                hint
            } else {
                let top = if flags & MAP_32BIT != 0 { LOW_2G } else { MMAP_TOP };
                // Large mappings start on a 2 MiB boundary so they can use large pages.
                let align = if len >= HUGE_PAGE_SIZE { HUGE_PAGE_SIZE } else { PAGE_SIZE };
                self.find_free(len, top, align).ok_or(ENOMEM)?
            }
        };
        const MAP_NORESERVE: u64 = 0x4000;
        self.map_new(start, start + len, prot, Kind::Anon, flags & MAP_NORESERVE != 0)?;
        self.flush();
        Ok(start)
    }

    /// Maps `len` bytes of fresh read+execute memory within `reach` bytes
    /// of `near` (below it if there is room, else above): where the
    /// syscall rewriter puts its stubs, which `near`'s code jumps to.
    pub fn map_near(&mut self, near: u64, len: u64, reach: u64) -> Option<u64> {
        let below = self.find_free(len, near, PAGE_SIZE).filter(|&s| near - s <= reach);
        let above = || {
            let top = near.saturating_add(reach).min(MMAP_TOP);
            self.find_free(len, top, PAGE_SIZE).filter(|&s| s >= near)
        };
        let start = below.or_else(above)?;
        self.map_new(start, start + len, PROT_READ | hx_abi::boot::PROT_EXEC, Kind::Anon, false).ok()?;
        Some(start)
    }

    /// The physical address behind program address `va`, whatever its protection.
    pub fn phys_at(&self, va: u64) -> Option<u64> {
        let leaf = self.pt.leaf(va).filter(|l| l.is_backed())?;
        Some(leaf.frame() + (va & (leaf.size() - 1)))
    }

    /// Every mapping, in address order (for `/proc/self/maps`).
    pub fn vmas(&self) -> Vec<Vma> {
        self.vmas.values().copied().collect()
    }

    /// The program break: where the heap starts and where it ends now.
    pub fn heap(&self) -> (u64, u64) {
        (self.brk_start, self.brk)
    }

    /// Bytes mapped to the program: every accessible mapping is backed,
    /// but those backed at first touch, whose backed pages are counted.
    pub fn resident_bytes(&self) -> u64 {
        self.vmas.values().filter(|v| v.prot != 0).map(|v| self.resident_of(v)).sum()
    }

    /// Bytes of `v` in memory: all of it, but for a mapping backed at first
    /// touch, which has only what was touched.
    pub fn resident_of(&self, v: &Vma) -> u64 {
        if v.lazy.is_some() {
            self.backed_bytes(v.start, v.end)
        } else {
            v.end - v.start
        }
    }

    /// Bytes of `[start, end)` in memory (`/proc/self/smaps`' `Rss`).
    pub fn resident_in(&self, start: u64, end: u64) -> u64 {
        self.backed_bytes(start, end)
    }

    /// Bytes of `[start, end)` backed by frames.
    fn backed_bytes(&self, start: u64, end: u64) -> u64 {
        let (mut va, mut n) = (start, 0);
        while va < end {
            match self.pt.leaf(va) {
                None => va = past_empty_block(va),
                Some(leaf) => {
                    let next = (align_down(va, leaf.size()) + leaf.size()).min(end);
                    if leaf.is_backed() {
                        n += next - va;
                    }
                    va = next;
                }
            }
        }
        n
    }

    /// Copies `len` bytes of memory from `src` to `dst` through the direct
    /// map, whatever either side's protection.
    /// A destination backed at first touch gets the pages the source has.
    fn copy_pages(&mut self, src: u64, dst: u64, len: u64) -> Result<(), Errno> {
        let mut off = 0;
        while off < len {
            let Some(s) = self.pt.leaf(src + off).filter(|l| l.is_backed()) else {
                off += PAGE_SIZE;
                continue;
            };
            if self.pt.leaf(dst + off).is_none_or(|l| !l.is_backed()) {
                self.fault_in(dst + off, dst + off + PAGE_SIZE)?;
            }
            let Some(d) = self.pt.leaf(dst + off) else {
                off += PAGE_SIZE;
                continue;
            };
            if d.is_backed() {
                let sp = s.frame() + ((src + off) & (s.size() - 1));
                let dp = d.frame() + ((dst + off) & (d.size() - 1));
                // SAFETY: both frames belong to mappings of this address space,
                // reached through the direct map; one page at a time.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        hx_abi::layout::direct_virt(sp) as *const u8,
                        hx_abi::layout::direct_virt(dp) as *mut u8,
                        PAGE_SIZE as usize,
                    )
                };
                // Written, though not by the CPU: MADV_DONTNEED must clear it.
                d.mark_dirty();
            }
            off += PAGE_SIZE;
        }
        Ok(())
    }

    /// `mremap`: shrink in place, grow in place if the space after is free,
    /// else move (with MREMAP_MAYMOVE) to a new range.
    pub fn mremap(&mut self, old: u64, old_len: u64, new_len: u64, flags: u64, new_addr: u64) -> SysResult {
        const MAYMOVE: u64 = 1;
        const FIXED: u64 = 2;
        const DONTUNMAP: u64 = 4;
        // Shrinking a shared mapping in place is unmapping its tail; moving
        // or growing one is not built: said, not faked.
        let shrinking =
            flags & FIXED == 0 && new_len != 0 && align_up(new_len, PAGE_SIZE) <= align_up(old_len, PAGE_SIZE);
        if !shrinking
            && self.overlapping(old, old.saturating_add(old_len.max(1))).iter().any(|v| v.kind == Kind::Shared)
        {
            return Err(EINVAL);
        }
        if !old.is_multiple_of(PAGE_SIZE) || new_len == 0 || flags & !(MAYMOVE | FIXED | DONTUNMAP) != 0 {
            return Err(EINVAL);
        }
        if flags & (FIXED | DONTUNMAP) != 0 && flags & MAYMOVE == 0 {
            return Err(EINVAL);
        }
        let old_len = align_up(old_len, PAGE_SIZE);
        let new_len = align_up(new_len, PAGE_SIZE);
        let vma = self.overlapping(old, old + old_len.max(PAGE_SIZE));
        let Some(v) = vma.first().copied().filter(|v| vma.len() == 1 && v.start <= old && old + old_len <= v.end)
        else {
            return Err(EFAULT);
        };
        if flags & FIXED == 0 {
            if new_len <= old_len {
                self.unmap(old + new_len, old + old_len)?;
                self.flush();
                return Ok(old);
            }
            let tail = (old + old_len, old + new_len);
            if tail.1 <= USER_END && self.is_free(tail.0, tail.1) {
                self.map_new(tail.0, tail.1, v.prot, v.kind, v.lazy == Some(Lazy::Zero))?;
                if let Some(f) = v.file {
                    self.set_backing(tail.0, tail.1, f.at(tail.0 - v.start));
                }
                return Ok(old);
            }
            if flags & MAYMOVE == 0 {
                return Err(ENOMEM);
            }
        }
        let dest = if flags & FIXED != 0 {
            if !new_addr.is_multiple_of(PAGE_SIZE)
                || new_addr < USER_MIN
                || new_addr.checked_add(new_len).is_none_or(|e| e > USER_END)
            {
                return Err(EINVAL);
            }
            if new_addr < old + old_len && old < new_addr + new_len {
                return Err(EINVAL);
            }
            self.unmap(new_addr, new_addr + new_len)?;
            new_addr
        } else {
            let align = if new_len >= HUGE_PAGE_SIZE { HUGE_PAGE_SIZE } else { PAGE_SIZE };
            self.find_free(new_len, MMAP_TOP, align).ok_or(ENOMEM)?
        };
        // Memory mapped without a reservation keeps going without one.
        self.map_new(dest, dest + new_len, v.prot, Kind::Anon, v.lazy == Some(Lazy::Zero))?;
        if let Some(f) = v.file {
            self.set_backing(dest, dest + new_len, f.at(old - v.start));
        }
        self.copy_pages(old, dest, old_len.min(new_len))?;
        if flags & DONTUNMAP == 0 {
            self.unmap(old, old + old_len)?;
        } else {
            self.zero_range(old, old + old_len)?;
        }
        self.flush();
        Ok(dest)
    }

    pub fn brk(&mut self, new: u64) -> u64 {
        let old_end = align_up(self.brk, PAGE_SIZE);
        if new < self.brk_start || new > USER_END {
            return self.brk;
        }
        let new_end = align_up(new, PAGE_SIZE);
        if new_end > old_end {
            if !self.is_free(old_end, new_end)
                || self.map_new(old_end, new_end, PROT_READ | PROT_WRITE, Kind::Heap, false).is_err()
            {
                return self.brk;
            }
        } else if new_end < old_end && self.unmap(new_end, old_end).is_err() {
            return self.brk;
        }
        self.flush();
        self.brk = new;
        new
    }

    /// Notes that the entries of `[start, end)` changed.
    fn mark_stale(&mut self, start: u64, end: u64) {
        self.stale = Some(match self.stale {
            Some((s, e)) => (s.min(start), e.max(end)),
            None => (start, end),
        });
    }

    /// Flushes the TLB if entries were removed or narrowed: once per syscall,
    /// page by page for a small range.
    pub fn flush(&mut self) {
        self.publish_lazy();
        if let Some((start, end)) = self.stale.take() {
            let start = align_down(start, PAGE_SIZE);
            cpl0::flush_range(start, (align_up(end, PAGE_SIZE) - start) / PAGE_SIZE);
            // Other vCPUs may cache the old entries too: they drop them before this returns.
            if crate::sched::multi_threaded() && crate::sched::ncpus() > 1 {
                let _ = crate::host::simple(hx_abi::hypercall::op::SHOOTDOWN, &[]);
            }
        }
    }

    /// Checks that the program may access `[addr, addr+len)` (for writing if
    /// `write`), and backs what of it is mapped at first touch.
    pub fn check(&mut self, addr: u64, len: u64, write: bool) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        self.check_access(addr, len, write)?;
        self.fault_in(addr, addr + len)
    }

    fn check_access(&self, addr: u64, len: u64, write: bool) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).ok_or(EFAULT)?;
        if end > USER_END {
            return Err(EFAULT);
        }
        let need = if write { PROT_WRITE } else { PROT_READ | PROT_WRITE | hx_abi::boot::PROT_EXEC };
        // On every syscall's hot path: walk the VMAs in place, no allocation.
        let first = self.vmas.range(..=addr).next_back().map_or(addr, |(k, _)| *k);
        let mut cursor = addr;
        for v in self.vmas.range(first..end).map(|(_, v)| v).filter(|v| v.end > addr) {
            if v.start > cursor || v.prot & need == 0 {
                return Err(EFAULT);
            }
            cursor = v.end;
            if cursor >= end {
                return Ok(());
            }
        }
        Err(EFAULT)
    }

    /// Like [`Self::segments`] for the kernel's own use: ignores the pages'
    /// protection (it fills read-only file mappings), but every page must be backed.
    pub fn frame_segments(&mut self, addr: u64, len: u64, out: &mut [Segment]) -> Result<(usize, u64), Errno> {
        self.fault_in(addr, addr.saturating_add(len))?;
        self.collect_segments(addr, len, out, true, |l| l.is_backed())
    }

    /// The physical pieces of `[addr, addr+len)`, at most `out.len()` of them;
    /// returns how many and how many bytes they cover.
    pub fn segments(&mut self, addr: u64, len: u64, write: bool, out: &mut [Segment]) -> Result<(usize, u64), Errno> {
        self.check(addr, len, write)?;
        self.collect_segments(addr, len, out, write, |l| l.is_present())
    }

    /// Walks the page tables over the range, merging physically contiguous
    /// pages; every page's entry must satisfy `usable`. `written`: the host
    /// will write the pages.
    fn collect_segments(
        &self,
        addr: u64,
        len: u64,
        out: &mut [Segment],
        written: bool,
        usable: impl Fn(&super::paging::Leaf) -> bool,
    ) -> Result<(usize, u64), Errno> {
        let mut n = 0;
        let mut va = addr;
        let end = addr + len;
        while va < end {
            let leaf = self.pt.leaf(va).filter(|l| usable(l)).ok_or(EFAULT)?;
            if written && !leaf.is_dirty() {
                // The host writes it, unseen by the CPU: MADV_DONTNEED must
                // not take it for a page still zero.
                leaf.mark_dirty();
            }
            let page = leaf.size();
            let phys = leaf.frame() + (va & (page - 1));
            let chunk = (align_down(va, page) + page).min(end) - va;
            if n > 0 && out[n - 1].phys + out[n - 1].len == phys {
                out[n - 1].len += chunk;
            } else if n == out.len() {
                break;
            } else {
                out[n] = Segment { phys, len: chunk };
                n += 1;
            }
            va += chunk;
        }
        Ok((n, va - addr))
    }
}

/// The start of the next 2 MiB block after `va`'s, which no page table
/// reaches (`PageTable::leaf` found nothing there).
fn past_empty_block(va: u64) -> u64 {
    align_down(va, HUGE_PAGE_SIZE) + HUGE_PAGE_SIZE
}
