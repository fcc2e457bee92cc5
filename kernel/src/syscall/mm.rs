//! Memory syscalls: brk, mmap, munmap, mprotect, madvise.
use super::Args;
use crate::errno::{SysResult, EINVAL, ENOMEM};
use crate::mm::with_space;
use hx_abi::layout::{align_up, PAGE_SIZE, USER_END};

pub fn brk([addr, ..]: Args) -> SysResult {
    Ok(with_space(|s| s.brk(addr)))
}

pub fn mmap([addr, len, prot, flags, fd, offset]: Args) -> SysResult {
    if flags & 0x20 == 0 {
        // File-backed mappings arrive with the dynamic-binaries work: a
        // descriptor is checked, then refused as a device that cannot be mapped.
        crate::fs::table::get(fd)?;
    }
    if offset % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    with_space(|s| s.mmap(addr, len, prot as u32, flags))
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
    with_space(|s| {
        let r = s.unmap(start, end);
        s.flush();
        r.map(|_| 0)
    })
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
