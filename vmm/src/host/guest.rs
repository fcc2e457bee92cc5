//! A request's buffers in guest RAM, checked once: every segment lies inside
//! RAM and together they are no larger than RAM (so overlapping segments
//! cannot multiply the host's work), and every copy out of the guest has a
//! fixed bound before anything is allocated.
use crate::memory::GuestRam;
use crate::sandbox::{Errno, PATH_MAX};
use hx_abi::hypercall::{Request, Segment, MAX_SEGMENTS};

/// Largest string the monitor copies out of one segment (log and trace text).
pub const MAX_TEXT: usize = 4096;

pub struct Segs<'a> {
    mem: &'a GuestRam,
    segs: &'a [Segment],
}

impl<'a> Segs<'a> {
    /// The segments of `req`: `EINVAL` for a bad count or a total larger than
    /// guest RAM, `EFAULT` for a segment outside it.
    pub fn of(mem: &'a GuestRam, req: &'a Request) -> Result<Self, Errno> {
        let n = usize::try_from(req.nsegs).map_err(|_| libc::EINVAL)?;
        let segs = req.segs.get(..n).filter(|_| n <= MAX_SEGMENTS).ok_or(libc::EINVAL)?;
        let mut total: u64 = 0;
        for s in segs {
            let end = s.phys.checked_add(s.len).ok_or(libc::EFAULT)?;
            if end > mem.size() {
                return Err(libc::EFAULT);
            }
            total = total.checked_add(s.len).ok_or(libc::EINVAL)?;
        }
        if total > mem.size() {
            return Err(libc::EINVAL);
        }
        Ok(Self { mem, segs })
    }

    pub fn len(&self) -> usize {
        self.segs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Segment> {
        self.segs.get(i)
    }

    pub fn all(&self) -> &[Segment] {
        self.segs
    }

    pub fn mem(&self) -> &GuestRam {
        self.mem
    }

    /// The bytes of segment `i`, which may be at most `max` long.
    pub fn bytes(&self, i: usize, max: usize, too_long: Errno) -> Result<Vec<u8>, Errno> {
        let s = self.segs.get(i).ok_or(libc::EINVAL)?;
        let len = usize::try_from(s.len).ok().filter(|&l| l <= max).ok_or(too_long)?;
        let mut b = vec![0u8; len];
        self.mem.read(s.phys, &mut b).map_err(|_| libc::EFAULT)?;
        Ok(b)
    }

    /// The bytes of segment `i`, cut to `max`.
    pub fn text(&self, i: usize, max: usize) -> Vec<u8> {
        let Some(s) = self.segs.get(i) else { return Vec::new() };
        let mut b = vec![0u8; usize::try_from(s.len).unwrap_or(max).min(max)];
        match self.mem.read(s.phys, &mut b) {
            Ok(()) => b,
            Err(_) => Vec::new(),
        }
    }

    /// A path the kernel sent in segment `i` (not NUL-terminated, no NUL inside).
    pub fn path(&self, i: usize) -> Result<Vec<u8>, Errno> {
        let p = self.bytes(i, PATH_MAX, libc::ENAMETOOLONG)?;
        if p.contains(&0) {
            return Err(libc::EINVAL);
        }
        Ok(p)
    }

    /// Copies `bytes` into segment `i` (cut to its length); returns the count.
    /// A missing segment takes nothing.
    pub fn write(&self, i: usize, bytes: &[u8]) -> Result<usize, Errno> {
        let Some(s) = self.segs.get(i) else { return Ok(0) };
        let n = bytes.len().min(usize::try_from(s.len).unwrap_or(usize::MAX));
        let part = bytes.get(..n).ok_or(libc::EFAULT)?;
        self.mem.write(s.phys, part).map_err(|_| libc::EFAULT)?;
        Ok(n)
    }

    /// Host iovecs over every segment.
    pub fn iovecs(&self) -> Result<Vec<libc::iovec>, Errno> {
        self.mem.iovecs(self.segs).map_err(|_| libc::EFAULT)
    }
}
