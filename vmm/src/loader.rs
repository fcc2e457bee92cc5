//! Puts the program into guest RAM: its segments (where ld-loader placed
//! them), its stack, and the page-table entries for both.
use crate::arch::paging::{prot_flags, PageSize, PageTables};
use crate::memory::GuestRam;
use anyhow::{bail, Result};
use hx_abi::boot::{UserRegion, PROT_READ, PROT_WRITE, REGION_IMAGE, REGION_STACK};
use hx_abi::layout::*;
use ld_loader::Image;
use std::collections::BTreeMap;

/// Hands out guest-physical memory above the kernel, in order.
pub struct PhysAlloc {
    pub next: u64,
    pub end: u64,
}

impl PhysAlloc {
    pub fn alloc(&mut self, size: u64, align: u64) -> Result<u64> {
        let start = align_up(self.next, align);
        if start + size > self.end {
            bail!("guest RAM ({} MiB) is too small to load the program: raise --memory", self.end >> 20);
        }
        self.next = start + size;
        Ok(start)
    }
}

/// Shorter runs of pages are copied: a mapping costs more than a few faults.
const MIN_MAPPED_PAGES: u64 = 16;

/// The file an image's bytes come from, when its pages can be mapped.
pub struct Source<'a> {
    pub fd: std::os::fd::RawFd,
    pub shared: &'a mut crate::host::shared::SharedRanges,
}

/// Loads `image` (from the file `bytes`) and returns the regions it occupies.
/// With a `source`, the pages a segment's file bytes fill entirely are the
/// file's pages, copy-on-write, rather than a copy: nothing is read until
/// the program touches it, and the host page cache backs them.
pub fn load_image(
    mem: &GuestRam,
    pt: &mut PageTables,
    phys: &mut PhysAlloc,
    image: &Image,
    bytes: &[u8],
    mut source: Option<Source>,
) -> Result<Vec<UserRegion>> {
    // Page -> (frame, protection): segments may share a page at their edges,
    // which then gets both segments' bytes and the union of their protections.
    let mut pages: BTreeMap<u64, (u64, u32)> = BTreeMap::new();
    // Overlapping segments could make this loop revisit the same pages without
    // bound: no more visits than the pages guest RAM could hold, twice over.
    let mut visits = 2 * (mem.size() / PAGE_SIZE);
    for seg in &image.segments {
        let first = align_down(seg.vaddr, PAGE_SIZE);
        let last = align_up(seg.vaddr + seg.memsz, PAGE_SIZE);
        for va in (first..last).step_by(PAGE_SIZE as usize) {
            visits = match visits.checked_sub(1) {
                Some(v) => v,
                None => bail!("the program's segments overlap too much to load (corrupt ELF?)"),
            };
            let entry = match pages.get(&va) {
                Some(&(pa, prot)) => (pa, prot | seg.prot),
                None => (phys.alloc(PAGE_SIZE, PAGE_SIZE)?, seg.prot),
            };
            pages.insert(va, entry);
        }
        let range = seg.file_offset as usize..(seg.file_offset as usize).saturating_add(seg.filesz as usize);
        let Some(data) = bytes.get(range) else { bail!("a segment lies beyond the end of the file") };
        let mapped = match source.as_mut() {
            Some(src) => map_whole_pages(mem, src, image, seg, &pages),
            None => 0..0,
        };
        // Copy the other file bytes page by page (frames need not be contiguous).
        let mut done = 0usize;
        while done < data.len() {
            let va = seg.vaddr + done as u64;
            let in_page = (PAGE_SIZE - va % PAGE_SIZE) as usize;
            let n = in_page.min(data.len() - done);
            if !mapped.contains(&align_down(va, PAGE_SIZE)) {
                let Some(&(pa, _)) = pages.get(&align_down(va, PAGE_SIZE)) else { bail!("segment page not allocated") };
                mem.write(pa + va % PAGE_SIZE, &data[done..done + n])?;
            }
            done += n;
        }
    }
    let mut regions: Vec<UserRegion> = Vec::new();
    for (&va, &(pa, prot)) in &pages {
        pt.map(va, pa, PageSize::Small, prot_flags(prot))?;
        match regions.last_mut() {
            Some(r) if r.end == va && r.prot == prot => r.end += PAGE_SIZE,
            _ => regions.push(UserRegion { start: va, end: va + PAGE_SIZE, prot, kind: REGION_IMAGE }),
        }
    }
    Ok(regions)
}

/// Maps the file's pages over the frames of the pages `seg`'s file bytes
/// fill entirely and no other segment touches; returns those pages' range
/// (empty when they are too few, or the file offsets are not page aligned
/// with the addresses, or a mapping fails: then everything is copied).
fn map_whole_pages(
    mem: &GuestRam,
    src: &mut Source,
    image: &Image,
    seg: &ld_loader::Segment,
    pages: &BTreeMap<u64, (u64, u32)>,
) -> std::ops::Range<u64> {
    let (first, last) = (align_up(seg.vaddr, PAGE_SIZE), align_down(seg.vaddr + seg.filesz, PAGE_SIZE));
    if last < first + MIN_MAPPED_PAGES * PAGE_SIZE || seg.file_offset % PAGE_SIZE != seg.vaddr % PAGE_SIZE {
        return 0..0;
    }
    let shares_pages = image.segments.iter().filter(|o| !std::ptr::eq(*o, seg)).any(|o| {
        let (start, end) = (align_down(o.vaddr, PAGE_SIZE), align_up(o.vaddr + o.memsz, PAGE_SIZE));
        start < last && end > first
    });
    // The frames must be one run (the allocator hands them out in order).
    let frame = |va: u64| pages.get(&va).map(|&(pa, _)| pa);
    let Some(pa) = frame(first) else { return 0..0 };
    let contiguous = (first..last).step_by(PAGE_SIZE as usize).all(|va| frame(va) == Some(pa + (va - first)));
    if shares_pages || !contiguous {
        return 0..0;
    }
    let offset = seg.file_offset + (first - seg.vaddr);
    match src.shared.map_private(mem, pa, last - first, src.fd, offset) {
        Ok(()) => first..last,
        Err(_) => 0..0,
    }
}

/// The stack's frames (large pages: untouched, they cost nothing).
pub fn stack_frames(phys: &mut PhysAlloc) -> Result<u64> {
    phys.alloc(STACK_SIZE, HUGE_PAGE_SIZE)
}

/// Maps the stack at frames `pa` and writes the initial stack contents
/// that end at `STACK_TOP`.
pub fn load_stack(mem: &GuestRam, pt: &mut PageTables, pa: u64, contents: &[u8]) -> Result<UserRegion> {
    let start = STACK_TOP - STACK_SIZE;
    let prot = PROT_READ | PROT_WRITE;
    pt.map_range(start, pa, STACK_SIZE, PageSize::Huge, prot_flags(prot))?;
    if contents.len() as u64 > STACK_SIZE / 2 {
        bail!("the arguments and environment do not fit on the stack");
    }
    mem.write(pa + STACK_SIZE - contents.len() as u64, contents)?;
    Ok(UserRegion { start, end: STACK_TOP, prot, kind: REGION_STACK })
}
