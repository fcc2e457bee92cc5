//! Memory syscalls: brk, mmap, munmap, mprotect, madvise.
use super::Args;
use crate::errno::{SysResult, EACCES, EINVAL, ENODEV, ENOMEM};
use crate::fs::dev::Device;
use crate::fs::{table, Kind, O_ACCMODE, O_RDWR, O_WRONLY};
use crate::mm::{with_space, Backing};
use hx_abi::hypercall::{op, Request};
use hx_abi::layout::{align_up, PAGE_SIZE, USER_END};

pub fn brk([addr, ..]: Args) -> SysResult {
    Ok(with_space(|s| s.brk(addr)))
}

const MAP_SHARED: u64 = 0x01;
const MAP_ANONYMOUS: u64 = 0x20;
const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;

pub fn mmap([addr, len, prot, flags, fd, offset]: Args) -> SysResult {
    if !offset.is_multiple_of(PAGE_SIZE) {
        return Err(EINVAL);
    }
    if flags & MAP_ANONYMOUS != 0 {
        let start = with_space(|s| s.mmap(addr, len, prot as u32, flags))?;
        forget_past_eof(start, start + align_up(len, PAGE_SIZE));
        return Ok(start);
    }
    let file = table::get(fd)?;
    if file.status() & O_ACCMODE == O_WRONLY {
        return Err(EACCES);
    }
    let handle = match file.kind {
        Kind::Host(h) => h,
        Kind::PipeRead(_) | Kind::PipeWrite(_) => return Err(ENODEV),
        // A private mapping of /dev/zero is anonymous memory.
        Kind::Device(Device::Zero) => return with_space(|s| s.mmap(addr, len, prot as u32, flags | MAP_ANONYMOUS)),
        Kind::Device(_) | Kind::Generated(_) | Kind::Epoll(_) | Kind::Anon(_) => return Err(ENODEV),
    };
    if flags & MAP_SHARED != 0 && prot & PROT_WRITE != 0 {
        // Writes would have to reach the file: not supported (yet), and said so.
        if file.status() & O_ACCMODE != O_RDWR {
            return Err(EACCES);
        }
        crate::host::log(b"shared writable file mappings are not supported: mmap returns ENODEV");
        return Err(ENODEV);
    }
    // The file's bytes are copied in when mapped (a private snapshot; a shared
    // read-only mapping sees the file as it was then).
    let start = with_space(|s| s.mmap(addr, len, (prot | PROT_READ) as u32, flags | MAP_ANONYMOUS))?;
    forget_past_eof(start, start + align_up(len, PAGE_SIZE));
    let filled = match fill_from_file(start, align_up(len, PAGE_SIZE), handle, offset) {
        Ok(n) => n,
        Err(e) => {
            with_space(|s| {
                let _ = s.unmap(start, start + align_up(len, PAGE_SIZE));
                s.flush();
            });
            return Err(e);
        }
    };
    let backing = Backing { name: crate::mm::names::intern(&file.path), offset, shared: flags & MAP_SHARED != 0 };
    with_space(|s| s.set_backing(start, start + align_up(len, PAGE_SIZE), backing));
    // Whole pages past the end of the file: touching them is SIGBUS, as on Linux.
    let eof_page = start + align_up(filled, PAGE_SIZE);
    let end = start + align_up(len, PAGE_SIZE);
    if eof_page < end {
        with_space(|s| {
            let r = s.protect(eof_page, end, 0);
            s.flush();
            r
        })?;
        PAST_EOF.lock().push((eof_page, end));
    }
    if prot & PROT_READ == 0 {
        with_space(|s| {
            let r = s.protect(start, start + align_up(len, PAGE_SIZE), prot as u32);
            s.flush();
            r
        })?;
    }
    Ok(start)
}

/// Ranges of file mappings that lie wholly past the end of their file.
static PAST_EOF: spin::Mutex<alloc::vec::Vec<(u64, u64)>> = spin::Mutex::new(alloc::vec::Vec::new());

/// Whether `addr` lies in a file mapping past the end of its file.
pub fn past_eof(addr: u64) -> bool {
    PAST_EOF.lock().iter().any(|&(s, e)| (s..e).contains(&addr))
}

/// `[start, end)` was unmapped or mapped afresh.
fn forget_past_eof(start: u64, end: u64) {
    PAST_EOF.lock().retain(|&(s, e)| e <= start || s >= end);
}

/// Reads the file behind `handle` from `offset` into the fresh mapping at
/// `start`; returns how many bytes the file had there.
fn fill_from_file(start: u64, len: u64, handle: u64, offset: u64) -> Result<u64, crate::errno::Errno> {
    let mut done = 0;
    while done < len {
        let mut req = Request::new(op::PREAD);
        req.args[0] = handle;
        req.args[1] = offset + done;
        let (n, covered) = with_space(|s| s.frame_segments(start + done, len - done, &mut req.segs))?;
        req.nsegs = n as u32;
        let got = crate::host::call(&mut req);
        if got < 0 {
            return Err(crate::errno::Errno(-got));
        }
        done += got as u64;
        if (got as u64) < covered {
            break; // end of file: the rest stays zero
        }
    }
    Ok(done)
}

/// The page-aligned range `[addr, addr+len)` a munmap/mprotect names.
fn range(addr: u64, len: u64) -> Result<(u64, u64), crate::errno::Errno> {
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(EINVAL);
    }
    let end = addr.checked_add(align_up(len, PAGE_SIZE)).ok_or(ENOMEM)?;
    if end > USER_END {
        return Err(ENOMEM);
    }
    Ok((addr, end))
}

pub fn mremap([old, old_len, new_len, flags, new_addr, _]: Args) -> SysResult {
    with_space(|s| s.mremap(old, old_len, new_len, flags, new_addr))
}

pub fn munmap([addr, len, ..]: Args) -> SysResult {
    if len == 0 {
        return Err(EINVAL);
    }
    let (start, end) = range(addr, len)?;
    forget_past_eof(start, end);
    with_space(|s| {
        let r = s.unmap(start, end);
        s.flush();
        r.map(|_| 0)
    })
}

/// Memory protection keys: the guest's CPU has none (CPUID shows no OSPKE),
/// so these answer as Linux does on such a CPU: no key can be allocated,
/// and `pkey_mprotect` with key -1 is `mprotect`.
pub fn pkey_alloc([flags, access, ..]: Args) -> SysResult {
    if flags != 0 || access & !3 != 0 {
        return Err(EINVAL);
    }
    Err(crate::errno::ENOSPC)
}

pub fn pkey_free(_: Args) -> SysResult {
    Err(EINVAL)
}

pub fn pkey_mprotect([addr, len, prot, pkey, ..]: Args) -> SysResult {
    if pkey as i32 != -1 {
        return Err(EINVAL);
    }
    mprotect([addr, len, prot, 0, 0, 0])
}

pub fn mprotect([addr, len, prot, ..]: Args) -> SysResult {
    // PROT_GROWSDOWN/PROT_GROWSUP are accepted and mean nothing for a fully mapped stack.
    let prot = prot & !0x0300_0000;
    if prot & !7 != 0 {
        return Err(EINVAL);
    }
    let (start, end) = range(addr, len)?;
    if start == end {
        return Ok(0);
    }
    with_space(|s| {
        let r = s.protect(start, end, prot as u32);
        s.flush();
        r.map(|_| 0)
    })
}

pub fn madvise([addr, len, advice, ..]: Args) -> SysResult {
    const MADV_DONTNEED: u64 = 4;
    let (start, end) = range(addr, len)?;
    match advice {
        // Anonymous private memory reads back as zero after DONTNEED.
        MADV_DONTNEED => with_space(|s| s.zero_range(start, end)).map(|_| 0),
        // Hints with no effect on what the program observes.
        0..=3 | 8..=21 | 100 | 101 => Ok(0),
        _ => Err(EINVAL),
    }
}
