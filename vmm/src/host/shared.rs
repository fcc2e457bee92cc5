//! Shared mappings (`MAP_SHARED`): guest pages whose host memory is a host
//! file's pages (or fresh shared memory), mapped over guest RAM in place.
//! A forked monitor inherits them shared, so parent and child processes
//! share the bytes as on Linux; a file's pages are the host's page cache,
//! so every process mapping the file — guest or host — sees the same bytes.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::guest::Segs;
use crate::sandbox::Errno;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const PAGE: u64 = 4096;
/// Shared ranges one guest may have at once (each costs the host a mapping).
const MAX_RANGES: usize = 16384;

/// The guest-physical ranges currently backed by shared memory.
#[derive(Default)]
pub struct SharedRanges {
    ranges: BTreeMap<u64, u64>,
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Maps `len` bytes of `fd` from `offset` (or anonymous private memory if
/// `fd` is None) over the host memory of guest-physical `phys`.
fn map_over(base: u64, phys: u64, len: u64, fd: Option<i32>, offset: u64, writable: bool) -> Result<(), Errno> {
    // Guest RAM stays writable for the monitor whatever the guest maps: a
    // read-only mapping is the file's pages copy-on-write (it still sees the
    // file change, as a shared read-only mapping does; the guest's page
    // tables keep it from writing, and a monitor write only copies a page).
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    let (flags, fd) = match fd {
        Some(fd) if writable => (libc::MAP_SHARED | libc::MAP_FIXED, fd),
        Some(fd) => (libc::MAP_PRIVATE | libc::MAP_FIXED, fd),
        None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED, -1),
    };
    let offset = i64::try_from(offset).map_err(|_| libc::EINVAL)?;
    // SAFETY: replaces pages inside the guest RAM mapping (the caller checked
    // the range with `Segs`): only guest memory changes.
    let p = unsafe { libc::mmap((base + phys) as *mut libc::c_void, len as usize, prot, flags, fd, offset) };
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    Ok(())
}

impl SharedRanges {
    /// `MAP_SHARED`: backs the pages of `segs` with `file` (None: fresh shared memory).
    pub fn map(&mut self, segs: &Segs, file: Option<&OwnedFd>, offset: u64, writable: bool) -> Result<i64, Errno> {
        if !offset.is_multiple_of(PAGE)
            || segs.all().iter().any(|s| !s.phys.is_multiple_of(PAGE) || !s.len.is_multiple_of(PAGE))
        {
            return Err(libc::EINVAL);
        }
        let total: u64 = segs.all().iter().map(|s| s.len).sum();
        if total == 0 {
            return Err(libc::EINVAL);
        }
        if self.ranges.len() + segs.len() > MAX_RANGES {
            return Err(libc::ENOMEM);
        }
        let memfd;
        let fd = match file {
            Some(f) => {
                let st = crate::sandbox::fstat_fd(f.as_raw_fd())?;
                if st.st_mode & libc::S_IFMT != libc::S_IFREG {
                    return Err(libc::ENODEV);
                }
                // Only pages that hold part of the file: the guest gives pages past its end SIGBUS.
                let size = (st.st_size.max(0) as u64).div_ceil(PAGE) * PAGE;
                if offset.checked_add(total).is_none_or(|end| end > size) {
                    return Err(libc::EINVAL);
                }
                f.as_raw_fd()
            }
            None => {
                // SAFETY: a new anonymous memory file we own.
                let fd = unsafe { libc::memfd_create(c"hx-shared".as_ptr(), libc::MFD_CLOEXEC) };
                if fd < 0 {
                    return Err(errno());
                }
                // SAFETY: `fd` was just created and is ours.
                memfd = unsafe { OwnedFd::from_raw_fd(fd) };
                // SAFETY: sizes our own memory file.
                if unsafe { libc::ftruncate(memfd.as_raw_fd(), total as i64) } != 0 {
                    return Err(errno());
                }
                memfd.as_raw_fd()
            }
        };
        let base = segs.mem().host_base();
        let mut at = offset;
        for (i, s) in segs.all().iter().enumerate() {
            if let Err(e) = map_over(base, s.phys, s.len, Some(fd), at, writable) {
                for done in segs.all().iter().take(i) {
                    let _ = map_over(base, done.phys, done.len, None, 0, true);
                    self.ranges.remove(&done.phys);
                }
                return Err(e);
            }
            self.ranges.insert(s.phys, s.len);
            at += s.len;
        }
        Ok(0)
    }

    /// `SYSV_SHMAT`: attaches System V segment `id` over the pages of the one
    /// segment of `segs`, which must be exactly its size in whole pages. A
    /// forked monitor inherits the attachment; making the pages private
    /// again (`unmap`, `clear`) detaches it.
    pub fn attach_sysv(&mut self, segs: &Segs, id: i32, flags: i32) -> Result<(), Errno> {
        let [s] = segs.all() else { return Err(libc::EINVAL) };
        if !s.phys.is_multiple_of(PAGE) || s.len == 0 || !s.len.is_multiple_of(PAGE) {
            return Err(libc::EINVAL);
        }
        if self.ranges.len() >= MAX_RANGES {
            return Err(libc::ENOMEM);
        }
        // SAFETY: an all-zero shmid_ds is valid; IPC_STAT fills it.
        let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
        // SAFETY: IPC_STAT writes one shmid_ds into ours.
        if unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) } != 0 {
            return Err(errno());
        }
        if (ds.shm_segsz as u64).div_ceil(PAGE) * PAGE != s.len {
            return Err(libc::EINVAL);
        }
        super::sysv::attach_at(id, segs.mem().host_base() + s.phys, s.len, flags)?;
        self.forget(s.phys, s.phys + s.len);
        self.ranges.insert(s.phys, s.len);
        Ok(())
    }

    /// `UNMAP_SHARED`: the pages of `segs` are private zeroed memory again.
    pub fn unmap(&mut self, segs: &Segs) -> Result<i64, Errno> {
        if segs.all().iter().any(|s| !s.phys.is_multiple_of(PAGE) || !s.len.is_multiple_of(PAGE)) {
            return Err(libc::EINVAL);
        }
        let base = segs.mem().host_base();
        for s in segs.all() {
            map_over(base, s.phys, s.len, None, 0, true)?;
            self.forget(s.phys, s.phys + s.len);
        }
        Ok(0)
    }

    /// `SYNC_SHARED`: writes back the file pages behind `segs` (only pages
    /// that are shared; a private page has nothing to write back).
    pub fn sync(&self, segs: &Segs) -> Result<i64, Errno> {
        let base = segs.mem().host_base();
        for s in segs.all() {
            if !s.phys.is_multiple_of(PAGE) || !s.len.is_multiple_of(PAGE) {
                return Err(libc::EINVAL);
            }
            let inside = self.ranges.range(..=s.phys).next_back().is_some_and(|(&p, &l)| s.phys + s.len <= p + l);
            if !inside {
                continue;
            }
            // SAFETY: msync of pages of our guest RAM mapping that map a file.
            if unsafe { libc::msync((base + s.phys) as *mut libc::c_void, s.len as usize, libc::MS_SYNC) } != 0 {
                return Err(errno());
            }
        }
        Ok(0)
    }

    /// Drops `[start, end)` from the record, keeping the parts of ranges outside it.
    fn forget(&mut self, start: u64, end: u64) {
        let overlapping: Vec<(u64, u64)> =
            self.ranges.range(..end).filter(|(&p, &l)| p + l > start).map(|(&p, &l)| (p, l)).collect();
        for (p, l) in overlapping {
            self.ranges.remove(&p);
            if p < start {
                self.ranges.insert(p, start - p);
            }
            if p + l > end {
                self.ranges.insert(end, p + l - end);
            }
        }
    }

    /// Backs `[phys, phys + len)` with `fd`'s pages from `offset`, copy-on-write:
    /// the monitor's own loading (the kernel, a program's segments), so a
    /// page the guest only reads is the host page cache's, shared by every VM.
    pub fn map_private(
        &mut self,
        mem: &crate::memory::GuestRam,
        phys: u64,
        len: u64,
        fd: i32,
        offset: u64,
    ) -> Result<(), Errno> {
        let aligned = [phys, len, offset].iter().all(|v| v.is_multiple_of(PAGE));
        if !aligned || len == 0 || phys.checked_add(len).is_none_or(|end| end > mem.size()) {
            return Err(libc::EINVAL);
        }
        if self.ranges.len() >= MAX_RANGES {
            return Err(libc::ENOMEM);
        }
        map_over(mem.host_base(), phys, len, Some(fd), offset, false)?;
        self.forget(phys, phys + len);
        self.ranges.insert(phys, len);
        Ok(())
    }

    /// Pages of `[phys, phys + len)` that map a file become private zero
    /// memory again (before they are discarded: a file page would read back
    /// as the file's bytes, not as zeros).
    pub fn unshare(&mut self, mem: &crate::memory::GuestRam, phys: u64, len: u64) -> Result<(), Errno> {
        let end = phys.saturating_add(len);
        let overlapping: Vec<(u64, u64)> =
            self.ranges.range(..end).filter(|(&p, &l)| p + l > phys).map(|(&p, &l)| (p, l)).collect();
        for (p, l) in overlapping {
            let (start, stop) = (p.max(phys), (p + l).min(end));
            map_over(mem.host_base(), start, stop - start, None, 0, true)?;
            self.forget(start, stop);
        }
        Ok(())
    }

    /// Whether no guest page maps a file or shared memory.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// A new image (`execve`): every shared range becomes private memory again.
    pub fn clear(&mut self, mem: &crate::memory::GuestRam) {
        let base = mem.host_base();
        for (&p, &l) in &self.ranges {
            let _ = map_over(base, p, l, None, 0, true);
        }
        self.ranges.clear();
    }
}

/// Guest RAM's host range, for the SIGBUS handler.
static RAM_START: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static RAM_END: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A file page the guest mapped shared and then cut off (`ftruncate`) raises
/// SIGBUS when the monitor touches it: the page becomes a zero page of
/// private memory instead, and the monitor goes on (the guest lost a page
/// of a file it shortened itself). Any other SIGBUS is a monitor bug.
/// This records guest RAM's range for the handler (`catch_truncated_files`).
pub fn guard_against_truncated_files(mem: &crate::memory::GuestRam) {
    use std::sync::atomic::Ordering;
    RAM_START.store(mem.host_base(), Ordering::SeqCst);
    RAM_END.store(mem.host_base() + mem.size(), Ordering::SeqCst);
}

/// Installs the SIGBUS handler (for guest RAM once it is known, and for the
/// images the monitor maps, `crate::image`, from the start).
pub fn catch_truncated_files() {
    // SAFETY: installs a handler that only makes one mmap call or restores the default.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigbus as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
        libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    use std::sync::atomic::Ordering;
    // SAFETY: the kernel passes a valid siginfo for SIGBUS with SA_SIGINFO.
    let addr = unsafe { (*info).si_addr() } as u64;
    let (start, end) = (RAM_START.load(Ordering::SeqCst), RAM_END.load(Ordering::SeqCst));
    if addr >= start && addr < end || crate::image::guarded(addr) {
        let page = addr & !(PAGE - 1);
        // SAFETY: replaces one page of guest RAM with a private zero page (async-signal-safe).
        let p = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                PAGE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return;
        }
    }
    // SAFETY: back to the default action: the re-raised SIGBUS ends the process.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}
