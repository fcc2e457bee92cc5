//! Memory: physical frames, page tables, the program's address space, and
//! checked access to program memory.
pub mod frames;
pub mod names;
pub mod paging;
pub mod space;

use crate::errno::{Errno, EFAULT, ENAMETOOLONG};
use alloc::vec::Vec;
use hx_abi::boot::{BootInfo, REGION_STACK};
use hx_abi::hypercall::Segment;
use hx_abi::layout::{direct_virt, PML4_PHYS};
use linked_list_allocator::LockedHeap;
use spin::Mutex;

pub use space::{AddressSpace, Backing, Kind, Lazy};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// `/proc/sys/vm/max_map_count`: the most mappings a process may have
/// (Linux's default; the process's own, passed on by `fork` and `execve`).
pub static MAX_MAP_COUNT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(65530);

pub fn max_map_count() -> u64 {
    MAX_MAP_COUNT.load(core::sync::atomic::Ordering::Relaxed)
}

/// A write to `/proc/sys/vm/max_map_count` (root's, by the file's mode).
pub fn store_max_map_count(data: &[u8]) -> Result<(), Errno> {
    let text = core::str::from_utf8(data).map_err(|_| crate::errno::EINVAL)?;
    let v: i32 = text.trim().parse().map_err(|_| crate::errno::EINVAL)?;
    if v < 0 {
        return Err(crate::errno::EINVAL);
    }
    MAX_MAP_COUNT.store(v as u64, core::sync::atomic::Ordering::Relaxed);
    Ok(())
}

static SPACE: Mutex<Option<AddressSpace>> = Mutex::new(None);

/// Sets up the frames and the kernel heap (all the program's frames lie
/// below `boot.phys_free`).
pub fn init(boot: &BootInfo) {
    let mut frames = frames::Frames::new(boot.phys_free, boot.mem_size, boot.ram_low, boot.ram_high);
    let heap_size = hx_abi::layout::kernel_heap_size(boot.mem_size);
    let heap = frames.alloc_contiguous(heap_size).expect("guest RAM too small for the kernel heap");
    // SAFETY: the range is fresh RAM, reached through the direct map, used by nothing else.
    unsafe { HEAP.lock().init(direct_virt(heap) as *mut u8, heap_size as usize) };
    *SPACE.lock() = Some(AddressSpace::new(PML4_PHYS, frames, 0));
}

/// Adopts the regions the monitor mapped for the program. A program loaded
/// after the kernel's boot (`FLAG_AWAIT_PROGRAM`) took the start of the room
/// kept for it, up to `boot.phys_free`; the rest, up to `room_end`, is fresh.
pub fn adopt_program(boot: &BootInfo, room_end: Option<u64>) {
    with_space(|space| {
        space.set_brk_start(boot.brk_start);
        for r in &boot.regions[..boot.nregions as usize] {
            let kind = if r.kind == REGION_STACK { Kind::Stack } else { Kind::Image };
            space.adopt(r.start, r.end, r.prot, kind);
        }
        if let Some(end) = room_end {
            space.frames.give_room(boot.phys_free, end);
        }
    });
}

/// The program touched memory mapped at first touch at `addr`, and it could
/// not be backed (`e`: `ENOMEM`, the guest RAM is used up; else the
/// monitor could not map a file's pages): killed, as Linux's out-of-memory
/// killer (SIGKILL) or a failed file read (SIGBUS) ends a process.
pub fn out_of_memory(addr: u64, e: Errno) {
    let (msg, sig): (&[u8], u64) = if e == crate::errno::ENOMEM {
        (b"out of memory: the program touched more memory than the guest has (hx-run --memory sets it)", 9)
    } else {
        (b"a page of a file mapping could not be mapped: the program gets SIGBUS", 7)
    };
    let _ = addr;
    crate::host::log(msg);
    crate::host::exit_signaled(sig)
}

/// Runs `f` on the address space.
pub fn with_space<R>(f: impl FnOnce(&mut AddressSpace) -> R) -> R {
    f(SPACE.lock().as_mut().expect("mm::init runs first"))
}

/// `size` bytes of physically contiguous kernel memory, returned as its
/// direct-map address (kernel stacks; they are recycled, never freed).
pub fn alloc_kernel_run(size: u64) -> Option<u64> {
    with_space(|s| s.frames.alloc_run(size)).map(direct_virt)
}

/// See [`AddressSpace::segments`].
pub fn user_segments(addr: u64, len: u64, write: bool, out: &mut [Segment]) -> Result<(usize, u64), Errno> {
    with_space(|s| s.segments(addr, len, write, out))
}

/// Copies `src` to program memory at `addr`. The copy runs under the
/// address space's lock: another thread's `mprotect` or `munmap` cannot
/// take the pages away between the check and the copy (the kernel has no
/// fault fixup: a fault here would end the VM).
pub fn copy_to_user(addr: u64, src: &[u8]) -> Result<(), Errno> {
    with_space(|s| {
        s.check(addr, src.len() as u64, true)?;
        // SAFETY: checked just above, under the lock that every change of
        // the mappings takes: the range stays mapped writable during the copy.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), addr as *mut u8, src.len()) };
        Ok(())
    })
}

/// Copies program memory at `addr` into `dst` (under the lock, as `copy_to_user`).
pub fn copy_from_user(addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
    with_space(|s| {
        s.check(addr, dst.len() as u64, false)?;
        // SAFETY: checked just above, under the lock: the range stays mapped readable.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    })
}

/// Writes a plain-data value to program memory.
pub fn write_user<T: Copy>(addr: u64, value: &T) -> Result<(), Errno> {
    // SAFETY: `T: Copy` plain data viewed as its bytes.
    let bytes = unsafe { core::slice::from_raw_parts(value as *const T as *const u8, core::mem::size_of::<T>()) };
    copy_to_user(addr, bytes)
}

/// Reads a plain-data value from program memory. `T` must be valid for any bytes.
pub fn read_user<T: Copy + Default>(addr: u64) -> Result<T, Errno> {
    let mut v = T::default();
    // SAFETY: `T` is plain data for which any byte pattern is valid (callers use integer structs).
    let bytes = unsafe { core::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, core::mem::size_of::<T>()) };
    copy_from_user(addr, bytes)?;
    Ok(v)
}

/// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
/// Checks one page at a time, not one byte: paths are read on every path syscall.
pub fn read_cstr(addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
    use hx_abi::layout::{align_down, PAGE_SIZE};
    let mut out = Vec::new();
    let mut at = addr;
    loop {
        let page_end = align_down(at, PAGE_SIZE) + PAGE_SIZE;
        let chunk = (page_end - at) as usize;
        let end = with_space(|s| {
            s.check(at, chunk as u64, false).map_err(|_| EFAULT)?;
            // SAFETY: checked readable just above, under the lock (as `copy_from_user`).
            let bytes = unsafe { core::slice::from_raw_parts(at as *const u8, chunk) };
            let nul = bytes.iter().position(|&b| b == 0);
            out.extend_from_slice(&bytes[..nul.unwrap_or(chunk)]);
            Ok::<bool, Errno>(nul.is_some())
        })?;
        if end {
            return if out.len() > max { Err(ENAMETOOLONG) } else { Ok(out) };
        }
        if out.len() > max {
            return Err(ENAMETOOLONG);
        }
        at = page_end;
    }
}

/// Runs `f` with the address space's and the kernel heap's locks held, so a
/// `fork` copies both consistent (another vCPU cannot be half-way through an
/// allocation). `f` must not allocate.
pub fn with_memory_locked<R>(f: impl FnOnce() -> R) -> R {
    let _space = SPACE.lock();
    let _heap = HEAP.lock();
    f()
}

/// Reads every page of the kernel's image once. A kernel booted ahead of its
/// program does it while it waits: the host's shadow page tables then hold
/// all of the image, and the program's first system calls do not pay a
/// host page fault (a few µs each on PVM-style hosts) per kernel page they
/// reach for the first time.
pub fn warm_image() {
    extern "C" {
        static __kernel_start: u8;
        static __kernel_end: u8;
    }
    // Only the linker's symbols' addresses are taken.
    let (start, end) = (&raw const __kernel_start as usize, &raw const __kernel_end as usize);
    for page in (start..end).step_by(hx_abi::layout::PAGE_SIZE as usize) {
        // SAFETY: a byte inside the kernel's own image, mapped for its whole life.
        unsafe { core::ptr::read_volatile(page as *const u8) };
    }
}
