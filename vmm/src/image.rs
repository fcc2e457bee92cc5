//! Program images the monitor loads: a file mapped read-only rather than
//! read into a buffer, so an `execve`d image is copied once (into guest
//! RAM) instead of twice, and the copy reads the host page cache directly.
//! Reading a 760 KiB static binary into a fresh buffer cost ≈ 1.2 ms on a
//! PVM-style host (a host page fault per 4 KiB of the buffer); mapping it,
//! ≈ 0.05 ms.
//!
//! A file another process shortens while it is mapped would raise SIGBUS
//! in the monitor: the mapped ranges are listed for the SIGBUS handler
//! (`host::shared`), which replaces such a page with zeros (the guest then
//! loads a corrupt image of a file cut under it, as it might on Linux).
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

/// Mapped images at once (a program, its interpreter, an image being
/// prepared by `execve`); beyond that an image is read into a buffer.
const SLOTS: usize = 8;

/// The host ranges of mapped images: (start, end), 0 when free.
static GUARDED: [(AtomicU64, AtomicU64); SLOTS] = [const { (AtomicU64::new(0), AtomicU64::new(0)) }; SLOTS];

/// Whether `addr` lies in a mapped image (for the SIGBUS handler).
pub fn guarded(addr: u64) -> bool {
    GUARDED.iter().any(|(s, e)| {
        let start = s.load(Ordering::SeqCst);
        start != 0 && addr >= start && addr < e.load(Ordering::SeqCst)
    })
}

pub enum Image {
    /// The file stays open: the loader maps its pages into guest RAM.
    Mapped {
        ptr: *const u8,
        len: usize,
        slot: usize,
        file: std::fs::File,
    },
    Owned(Vec<u8>),
}

// SAFETY: a mapped image is read-only memory that lives as long as the value.
unsafe impl Send for Image {}
// SAFETY: as above: nothing writes through it.
unsafe impl Sync for Image {}

impl Default for Image {
    fn default() -> Self {
        Image::Owned(Vec::new())
    }
}

impl From<Vec<u8>> for Image {
    fn from(v: Vec<u8>) -> Self {
        Image::Owned(v)
    }
}

impl Image {
    /// `file`'s first `len` bytes, mapped (or read when no guard slot is
    /// free or the mapping fails).
    pub fn of(file: std::fs::File, len: u64) -> std::io::Result<Self> {
        use std::os::fd::AsRawFd;
        let len = len as usize;
        if len == 0 {
            return Ok(Image::Owned(Vec::new()));
        }
        let Some(slot) = GUARDED
            .iter()
            .position(|(s, _)| s.compare_exchange(0, u64::MAX, Ordering::SeqCst, Ordering::SeqCst).is_ok())
        else {
            return read(&file, len);
        };
        // SAFETY: a new private read-only mapping of a file we hold open.
        let p =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            GUARDED[slot].0.store(0, Ordering::SeqCst);
            return read(&file, len);
        }
        let start = p as u64;
        GUARDED[slot].1.store(start + len as u64, Ordering::SeqCst);
        GUARDED[slot].0.store(start, Ordering::SeqCst);
        Ok(Image::Mapped { ptr: p as *const u8, len, slot, file })
    }

    /// The whole of the host file at `path` (one the monitor opens itself:
    /// the first program, the fast libc; guest files go through the sandbox).
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        Self::of(f, len)
    }

    /// The file the bytes are (for mapping its pages), if they are mapped.
    pub fn file(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        match self {
            Image::Mapped { file, .. } => Some(file.as_raw_fd()),
            Image::Owned(_) => None,
        }
    }
}

fn read(file: &std::fs::File, len: usize) -> std::io::Result<Image> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut bytes)?;
    Ok(Image::Owned(bytes))
}

impl Deref for Image {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            // SAFETY: `len` readable bytes mapped at `ptr` for the value's life.
            Image::Mapped { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
            Image::Owned(v) => v,
        }
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        if let Image::Mapped { ptr, len, slot, .. } = *self {
            GUARDED[slot].0.store(0, Ordering::SeqCst);
            // SAFETY: unmaps the mapping this value made; nothing borrows it any more.
            unsafe { libc::munmap(ptr as *mut libc::c_void, len) };
        }
    }
}
