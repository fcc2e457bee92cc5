//! Guest RAM: one anonymous `MAP_NORESERVE` mapping (untouched pages cost the
//! host nothing), reached only through vm-memory's bounds-checked accessors.
use anyhow::{anyhow, bail, Context, Result};
use hx_abi::hypercall::Segment;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

pub struct GuestRam {
    mem: GuestMemoryMmap,
    size: u64,
}

/// Host-side 2 MiB alignment of guest RAM: only then can transparent huge
/// pages back the guest's 2 MiB pages, which makes a guest's first touch of
/// memory cheaper than a native one on PVM-style hosts.
const HOST_ALIGN: usize = 2 << 20;

/// Reserves `size` bytes (not committed: `MAP_NORESERVE`) at a 2 MiB aligned
/// host address, and asks for huge pages in its upper half.
fn map_aligned(size: usize) -> std::io::Result<*mut u8> {
    let span = size + HOST_ALIGN;
    // SAFETY: a new anonymous mapping; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let start = p as usize;
    let aligned = (start + HOST_ALIGN - 1) & !(HOST_ALIGN - 1);
    // SAFETY: trims the unaligned head and the tail of the mapping made above;
    // `[aligned, aligned + size)` stays mapped. madvise only changes paging policy.
    unsafe {
        if aligned > start {
            libc::munmap(p, aligned - start);
        }
        let tail = start + span - (aligned + size);
        if tail > 0 {
            libc::munmap((aligned + size) as *mut libc::c_void, tail);
        }
    }
    huge_pages_on_top(aligned, size);
    Ok(aligned as *mut u8)
}

/// Only the upper half: the kernel takes 2 MiB frames from the top of RAM
/// and 4 KiB frames from the bottom, so huge host pages back large mappings
/// while small programs do not pay 2 MiB of RSS per page touched.
fn huge_pages_on_top(start: usize, size: usize) {
    let half = (size / 2) & !(HOST_ALIGN - 1);
    // SAFETY: madvise only changes the paging policy of our own mapping.
    unsafe { libc::madvise((start + half) as *mut libc::c_void, size - half, libc::MADV_HUGEPAGE) };
}

impl GuestRam {
    pub fn new(size: u64) -> Result<Self> {
        let host = map_aligned(size as usize).with_context(|| format!("reserving {} MiB of guest RAM", size >> 20))?;
        // SAFETY: `host` is a fresh private anonymous mapping of `size` bytes
        // that lives as long as the process; nothing else uses it.
        let region = unsafe {
            MmapRegion::<()>::build_raw(
                host,
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE,
            )
        }
        .context("guest RAM")?;
        let region = GuestRegionMmap::new(region, GuestAddress(0)).ok_or_else(|| anyhow!("guest RAM overflows"))?;
        let mem = GuestMemoryMmap::from_regions(vec![region]).context("guest RAM")?;
        Ok(Self { mem, size })
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of guest RAM the host has actually backed (pages touched so far).
    pub fn touched_bytes(&self) -> u64 {
        let pages = (self.size / 4096) as usize;
        let mut vec = vec![0u8; pages];
        // SAFETY: mincore only reports residency of our own mapping into `vec`,
        // which has one byte per page of it.
        let r = unsafe { libc::mincore(self.host_base() as *mut libc::c_void, self.size as usize, vec.as_mut_ptr()) };
        if r != 0 {
            return 0;
        }
        vec.iter().filter(|&&b| b & 1 != 0).count() as u64 * 4096
    }

    /// The host address of guest RAM (for `KVM_SET_USER_MEMORY_REGION`).
    pub fn host_base(&self) -> u64 {
        self.mem.get_host_address(GuestAddress(0)).expect("RAM starts at 0") as u64
    }

    pub fn write(&self, addr: u64, bytes: &[u8]) -> Result<()> {
        self.mem.write_slice(bytes, GuestAddress(addr)).with_context(|| format!("writing guest RAM at {addr:#x}"))
    }

    pub fn read(&self, addr: u64, bytes: &mut [u8]) -> Result<()> {
        self.mem.read_slice(bytes, GuestAddress(addr)).with_context(|| format!("reading guest RAM at {addr:#x}"))
    }

    pub fn write_obj<T: vm_memory::ByteValued>(&self, addr: u64, v: T) -> Result<()> {
        self.mem.write_obj(v, GuestAddress(addr)).with_context(|| format!("writing guest RAM at {addr:#x}"))
    }

    pub fn read_obj<T: vm_memory::ByteValued>(&self, addr: u64) -> Result<T> {
        self.mem.read_obj(GuestAddress(addr)).with_context(|| format!("reading guest RAM at {addr:#x}"))
    }

    /// A u64 of guest RAM the guest updates atomically (an aligned address
    /// the monitor chose, such as a vCPU's `PerCpu::work`).
    pub fn atomic_u64(&self, addr: u64) -> Result<&std::sync::atomic::AtomicU64> {
        if !addr.is_multiple_of(8) || addr.checked_add(8).is_none_or(|e| e > self.size) {
            bail!("{addr:#x} is not an aligned word of guest RAM");
        }
        let host = self.mem.get_host_address(GuestAddress(addr)).context("atomic word")?;
        // SAFETY: an aligned u64 inside the guest RAM mapping, which lives as
        // long as `self`; the guest accesses it only atomically too.
        Ok(unsafe { std::sync::atomic::AtomicU64::from_ptr(host.cast()) })
    }

    /// Host iovecs for guest-physical segments, every one checked to lie in RAM.
    pub fn iovecs(&self, segs: &[Segment]) -> Result<Vec<libc::iovec>> {
        segs.iter()
            .map(|s| {
                let end = s.phys.checked_add(s.len).filter(|&e| e <= self.size);
                if end.is_none() {
                    bail!("segment {:#x}+{:#x} lies outside guest RAM", s.phys, s.len);
                }
                let host = self.mem.get_host_address(GuestAddress(s.phys)).context("segment")?;
                Ok(libc::iovec { iov_base: host.cast(), iov_len: s.len as usize })
            })
            .collect()
    }
}

impl GuestRam {
    /// Drops every page (an `execve` starts from empty RAM): they read back as zero.
    /// Whether a host `fork` leaves guest RAM out of the child (which then
    /// has none there until [`GuestRam::remap_fresh`]): a child that boots a
    /// new image needs none of the parent's, and a fork that copies no page
    /// table of it is several times cheaper.
    pub fn keep_from_fork(&self, keep: bool) -> Result<()> {
        let advice = if keep { libc::MADV_DONTFORK } else { libc::MADV_DOFORK };
        // SAFETY: madvise on our own mapping only changes what fork copies.
        let r = unsafe { libc::madvise(self.host_base() as *mut libc::c_void, self.size as usize, advice) };
        anyhow::ensure!(r == 0, "marking guest RAM for fork: {}", std::io::Error::last_os_error());
        Ok(())
    }

    /// Fresh, zeroed guest RAM at the same host address (after a fork that
    /// left it out, or instead of discarding an old image page by page).
    pub fn remap_fresh(&self) -> Result<()> {
        let flags = libc::MAP_ANONYMOUS | libc::MAP_PRIVATE | libc::MAP_NORESERVE | libc::MAP_FIXED;
        let base = self.host_base() as *mut libc::c_void;
        // SAFETY: replaces exactly our own guest-RAM range (MAP_FIXED), which
        // no vCPU runs on while it is replaced; its accessors stay valid.
        let p = unsafe { libc::mmap(base, self.size as usize, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
        anyhow::ensure!(p == base, "remapping guest RAM: {}", std::io::Error::last_os_error());
        huge_pages_on_top(base as usize, self.size as usize);
        Ok(())
    }

    pub fn discard_all(&self) -> Result<()> {
        // SAFETY: our own private anonymous mapping; MADV_DONTNEED only makes
        // its pages read back as zero. No vCPU runs while the image is replaced.
        let r =
            unsafe { libc::madvise(self.host_base() as *mut libc::c_void, self.size as usize, libc::MADV_DONTNEED) };
        anyhow::ensure!(r == 0, "discarding guest RAM: {}", std::io::Error::last_os_error());
        Ok(())
    }
}
