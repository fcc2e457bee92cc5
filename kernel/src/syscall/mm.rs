//! Memory syscalls: brk, mmap, munmap, mprotect, madvise.
use super::Args;
use crate::errno::{SysResult, EACCES, EINVAL, ENODEV, ENOMEM};
use crate::fs::dev::Device;
use crate::fs::{table, Kind, O_ACCMODE, O_RDWR, O_WRONLY};
use crate::mm::{with_space, Backing, Lazy};
use hx_abi::hypercall::{op, Request};
use hx_abi::layout::{align_up, PAGE_SIZE, USER_END};

pub fn brk([addr, ..]: Args) -> SysResult {
    Ok(with_space(|s| s.brk(addr)))
}

const MAP_SHARED: u64 = 0x01;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_NORESERVE: u64 = 0x4000;
const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;

pub fn mmap(args: Args) -> SysResult {
    const MAP_LOCKED: u64 = 0x2000;
    // Too many mappings already (Linux lets the count reach one past the limit).
    if args[1] != 0 && with_space(|s| s.map_count()) > crate::mm::max_map_count() {
        return Err(ENOMEM);
    }
    let start = map(args);
    // A fixed mapping may have replaced one that held a file open.
    release_lazy_files();
    let start = start?;
    let end = start.saturating_add(align_up(args[1], PAGE_SIZE));
    // What the range held before is gone: so is any rewritten code there.
    crate::rewrite::forget(start, end);
    if let Err(e) = super::mlock::mapped(start, end, args[3] & MAP_LOCKED != 0) {
        let _ = munmap([start, end - start, 0, 0, 0, 0]);
        return Err(e);
    }
    // MAP_POPULATE (and a locked mapping): its pages exist from now on.
    const MAP_POPULATE: u64 = 0x8000;
    if args[3] & (MAP_POPULATE | MAP_LOCKED) != 0 || super::mlock::any_locked(start, end) {
        with_space(|s| s.mark_populated(start, end))?;
    }
    Ok(start)
}

fn map([addr, len, prot, flags, fd, offset]: Args) -> SysResult {
    if !offset.is_multiple_of(PAGE_SIZE) {
        return Err(EINVAL);
    }
    // MAP_SHARED_VALIDATE: a flag Linux does not know (or MAP_SYNC, which
    // needs DAX) is EOPNOTSUPP rather than ignored.
    const MAP_SHARED_VALIDATE: u64 = 0x03;
    const KNOWN: u64 = 0x0f
        | 0x10
        | 0x20
        | 0x40
        | 0x100
        | 0x800
        | 0x1000
        | 0x2000
        | 0x4000
        | 0x8000
        | 0x10000
        | 0x20000
        | 0x40000
        | 0x100000
        | 0x400_0000
        | (0x3f << 26);
    if flags & MAP_TYPE == MAP_SHARED_VALIDATE && flags & !KNOWN != 0 {
        return Err(crate::errno::EOPNOTSUPP);
    }
    let shared = matches!(flags & MAP_TYPE, 0x01 | 0x03); // MAP_SHARED, MAP_SHARED_VALIDATE
    if flags & MAP_ANONYMOUS != 0 && shared && len != 0 {
        // Shared with the processes forked later: memory the monitor shares.
        return mmap_shared(addr, len, prot, flags, None, 0, align_up(len, PAGE_SIZE));
    }
    if flags & MAP_ANONYMOUS != 0 {
        let start = with_space(|s| s.mmap(addr, len, prot as u32, flags))?;
        forget_past_eof(start, start + align_up(len, PAGE_SIZE));
        return Ok(start);
    }
    let file = table::get(fd)?;
    // Linux's order: the descriptor, then the length and the mapping type, then access.
    if len == 0 || !matches!(flags & MAP_TYPE, 0x01..=0x03) {
        return Err(EINVAL);
    }
    if file.status() & O_ACCMODE == O_WRONLY {
        return Err(EACCES);
    }
    let writable = file.status() & O_ACCMODE == O_RDWR;
    if flags & MAP_SHARED != 0 && prot & PROT_WRITE != 0 && !writable {
        return Err(EACCES);
    }
    // A memory file sealed against writing maps shared only read-only and
    // never becomes writable (Linux clears VM_MAYWRITE; PROT_WRITE: EPERM).
    let write_sealed = shared && writable && file.is_memfd() && write_sealed(&file);
    if write_sealed && prot & PROT_WRITE != 0 {
        return Err(crate::errno::EPERM);
    }
    let writable = writable && !write_sealed;
    let handle = match file.kind {
        Kind::Host(h) => h,
        Kind::PipeRead(_) | Kind::PipeWrite(_) => return Err(ENODEV),
        // A mapping of /dev/zero is anonymous memory (shared: never made
        // writable later if /dev/zero was opened read-only).
        Kind::Device(Device::Zero) => {
            let start = with_space(|s| s.mmap(addr, len, prot as u32, flags | MAP_ANONYMOUS))?;
            if shared && !writable && len != 0 {
                let backing =
                    Backing { name: crate::mm::names::intern(b"/dev/zero"), offset, shared: true, read_only: true };
                with_space(|s| s.set_backing(start, start + align_up(len, PAGE_SIZE), backing));
            }
            return Ok(start);
        }
        Kind::Device(_) | Kind::Generated(_) | Kind::Epoll(_) | Kind::Anon(_) => return Err(ENODEV),
    };
    if shared && len != 0 {
        // The file's own pages (the host's page cache), as far as the file
        // goes: writes reach it, other processes see the same bytes.
        let size = super::fs::stat_of(&file)?.size.max(0) as u64;
        let in_file = align_up(size, PAGE_SIZE).saturating_sub(offset).min(align_up(len, PAGE_SIZE));
        let mapped =
            Mapped { handle, open: Some(file.clone()), path: &file.path, writes_reach_file: writable, shared: true };
        return mmap_shared(addr, len, prot, flags, Some(mapped), offset, in_file);
    }
    if len != 0 {
        // A private mapping: the file's pages, copy-on-write, mapped over the
        // guest's frames by the monitor (the host's page cache, shared by
        // every VM that maps the file: nothing is read or copied until a page
        // is touched, as on Linux). Where it cannot be (no run of frames that
        // long, the monitor's mapping limit), the bytes are copied instead.
        let size = super::fs::stat_of(&file)?.size.max(0) as u64;
        let in_file = align_up(size, PAGE_SIZE).saturating_sub(offset).min(align_up(len, PAGE_SIZE));
        if in_file > 0 {
            let mapped =
                Mapped { handle, open: Some(file.clone()), path: &file.path, writes_reach_file: false, shared: false };
            if let Ok(start) = mmap_shared(addr, len, prot, flags, Some(mapped), offset, in_file) {
                return Ok(start);
            }
        }
    }
    // The file's bytes are copied in when mapped (a private snapshot).
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
    let backing = Backing {
        name: crate::mm::names::intern(&file.path),
        offset,
        shared: flags & MAP_SHARED != 0,
        read_only: flags & MAP_SHARED != 0 && !writable,
    };
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
pub(super) fn forget_past_eof(start: u64, end: u64) {
    PAST_EOF.lock().retain(|&(s, e)| e <= start || s >= end);
    // So does what madvise marked for a fork, and any lock.
    super::madvise::forget(start, end);
    super::mlock::forget(start, end);
    super::sysv::forget(start, end);
    crate::signal::coredump::forget(start, end);
}

const MAP_TYPE: u64 = 0x0f;

/// The file behind a mapping the monitor makes.
struct Mapped<'a> {
    handle: u64,
    /// The open file, for a mapping that must keep it open.
    open: Option<alloc::sync::Arc<crate::fs::OpenFile>>,
    path: &'a [u8],
    /// A shared mapping of a file open for writing: writes reach the file.
    writes_reach_file: bool,
    /// `MAP_SHARED` (else a private, copy-on-write mapping).
    shared: bool,
}

/// A `MAP_SHARED` mapping (or a private one of a file, copy-on-write) of `len` bytes: its first `shared` bytes are
/// pages the monitor shares (file `handle` from `offset`, or fresh shared
/// memory); the rest lies past the end of the file (SIGBUS, as on Linux).
fn mmap_shared(
    addr: u64,
    len: u64,
    prot: u64,
    flags: u64,
    file: Option<Mapped>,
    offset: u64,
    shared: u64,
) -> SysResult {
    // Placed like a private PROT_NONE mapping first (no reservation request:
    // its pages are the file's or shared memory).
    let flags = (flags & !(MAP_TYPE | MAP_NORESERVE)) | MAP_ANONYMOUS | 0x02;
    let start = with_space(|s| s.mmap(addr, len, 0, flags))?;
    let end = start + align_up(len, PAGE_SIZE);
    forget_past_eof(start, end);
    let fail = |e| {
        with_space(|s| {
            let _ = s.unmap(start, end);
            s.flush();
        });
        Err(e)
    };
    if shared > 0 {
        let phys = match with_space(|s| s.back_shared(start, shared, prot as u32)) {
            Ok(p) => Some(p),
            // A file's pages the free RAM cannot back at once (a large or
            // sparse file, or no run of frames that long) are mapped at
            // first touch, a block at a time, as Linux maps every file page.
            Err(ENOMEM) if file.is_some() => None,
            Err(e) => return fail(e),
        };
        let Some(phys) = phys else {
            let f = file.as_ref().map(|f| (f.handle, f.writes_reach_file, f.open.clone())).unwrap_or_default();
            let source = Lazy::File { handle: f.0, offset, shared: f.1 };
            with_space(|s| {
                s.map_lazily(start, start + shared, prot as u32, crate::mm::Kind::Shared, source);
                s.flush();
            });
            // The mapping keeps its file open (as Linux's vm_file) until it is unmapped.
            LAZY_FILES.lock().extend(f.2);
            return finish_shared(start, end, shared, offset, file);
        };
        let mut req = Request::new(op::MAP_SHARED);
        req.args[0] = file.as_ref().map_or(hx_abi::hypercall::NO_HANDLE, |f| f.handle);
        req.args[1] = offset;
        // Shared (writes reach the file and other processes) whenever the
        // file may be written, so a later mprotect(PROT_WRITE) shares too.
        req.args[2] = u64::from(file.as_ref().is_none_or(|f| f.writes_reach_file));
        req.segs[0] = hx_abi::hypercall::Segment { phys, len: shared };
        req.nsegs = 1;
        let r = crate::host::call(&mut req);
        if r < 0 {
            return fail(crate::errno::Errno(-r));
        }
    }
    finish_shared(start, end, shared, offset, file)
}

/// Whether the memory file `file` holds `F_SEAL_WRITE` or `F_SEAL_FUTURE_WRITE`.
fn write_sealed(file: &crate::fs::OpenFile) -> bool {
    use hx_abi::hypercall::{F_GET_SEALS, SEAL_FUTURE_WRITE, SEAL_WRITE, SETFL_SEALS};
    let Kind::Host(h) = file.kind else { return false };
    crate::host::simple(op::SETFL, &[h, SETFL_SEALS, F_GET_SEALS])
        .is_ok_and(|s| s & (SEAL_WRITE | SEAL_FUTURE_WRITE) != 0)
}

/// Records what the mapping `[start, end)` holds, and that what lies past
/// its first `shared` bytes is past the end of the file.
fn finish_shared(start: u64, end: u64, shared: u64, offset: u64, file: Option<Mapped>) -> SysResult {
    if let Some(f) = file {
        let backing = Backing {
            name: crate::mm::names::intern(f.path),
            offset,
            shared: f.shared,
            read_only: f.shared && !f.writes_reach_file,
        };
        with_space(|s| s.set_backing(start, end, backing));
    }
    if start + shared < end {
        PAST_EOF.lock().push((start + shared, end));
    }
    Ok(start)
}

/// The files mappings backed at first touch still read: held open (the
/// program may close its descriptor), let go once no mapping reads them.
static LAZY_FILES: spin::Mutex<alloc::vec::Vec<alloc::sync::Arc<crate::fs::OpenFile>>> =
    spin::Mutex::new(alloc::vec::Vec::new());

/// Lets go of the files no lazily backed mapping reads any more.
pub(super) fn release_lazy_files() {
    let mut files = LAZY_FILES.lock();
    if files.is_empty() {
        return;
    }
    let handles = with_space(|s| s.lazy_handles());
    files.retain(|f| matches!(f.kind, Kind::Host(h) if handles.contains(&h)));
}

/// `msync`: shared file pages reach the file at once here (they are the
/// host's page cache); `MS_SYNC` also writes them back to storage.
pub fn msync([addr, len, flags, ..]: Args) -> SysResult {
    const MS_ASYNC: u64 = 1;
    const MS_INVALIDATE: u64 = 2;
    const MS_SYNC: u64 = 4;
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 || flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
        return Err(EINVAL);
    }
    let (start, end) = range(addr, len)?;
    // Locked pages cannot be invalidated (Linux: EBUSY).
    if flags & MS_INVALIDATE != 0 && super::mlock::any_locked(start, end) {
        return Err(crate::errno::EBUSY);
    }
    let segs = with_space(|s| s.shared_segments(start, end))?;
    if flags & MS_SYNC != 0 {
        for chunk in segs.chunks(hx_abi::hypercall::MAX_SEGMENTS) {
            let mut req = Request::new(op::SYNC_SHARED);
            req.segs[..chunk.len()].copy_from_slice(chunk);
            req.nsegs = chunk.len() as u32;
            let r = crate::host::call(&mut req);
            if r < 0 {
                return Err(crate::errno::Errno(-r));
            }
        }
    }
    Ok(0)
}

/// Whether `addr` lies in a shared mapping (`MAP_SHARED`).
pub fn in_shared_mapping(addr: u64) -> bool {
    with_space(|s| s.shared_at(addr))
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
pub(super) fn range(addr: u64, len: u64) -> Result<(u64, u64), crate::errno::Errno> {
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
    let r = with_space(|s| s.mremap(old, old_len, new_len, flags, new_addr));
    if let Ok(at) = r {
        crate::rewrite::forget(old, old.saturating_add(old_len));
        crate::rewrite::forget(at, at.saturating_add(new_len));
    }
    if r == Ok(old) && new_len != 0 && new_len <= old_len {
        // Shrunk in place: its tail is no longer a mapping past its file's end.
        forget_past_eof(old + align_up(new_len, PAGE_SIZE), old + align_up(old_len, PAGE_SIZE));
    }
    release_lazy_files();
    r
}

pub fn munmap([addr, len, ..]: Args) -> SysResult {
    if len == 0 {
        return Err(EINVAL);
    }
    let (start, end) = range(addr, len)?;
    // A hole in the middle of a mapping makes one more: not past the limit
    // (cuts at an edge may go above it for a moment, as on Linux).
    if with_space(|s| s.splits(start, end) == 2 && s.map_count() >= crate::mm::max_map_count()) {
        return Err(ENOMEM);
    }
    forget_past_eof(start, end);
    crate::rewrite::forget(start, end);
    let r = with_space(|s| {
        let r = s.unmap(start, end);
        s.flush();
        r.map(|_| 0)
    });
    release_lazy_files();
    r
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
    // Each mapping cut in two must find room under the limit (Linux's split_vma).
    let (splits, count) = with_space(|s| (s.splits(start, end), s.map_count()));
    if splits > 0 && count + splits > crate::mm::max_map_count() {
        return Err(ENOMEM);
    }
    with_space(|s| {
        let r = s.protect(start, end, prot as u32);
        s.flush();
        r.map(|_| 0)
    })
}

/// `mincore`: one byte per page, 1 where the page is in memory (backed in
/// the guest's page tables); the range must be mapped.
pub fn mincore([addr, len, vec, ..]: Args) -> SysResult {
    if !addr.is_multiple_of(PAGE_SIZE) {
        return Err(EINVAL);
    }
    let end = addr.checked_add(len).map(|e| align_up(e, PAGE_SIZE)).ok_or(ENOMEM)?;
    if end > USER_END || !with_space(|s| s.covered(addr, end)) {
        return Err(ENOMEM);
    }
    // In pieces: a mapped range may be far larger than the kernel's heap.
    const PIECE: u64 = 4096;
    let mut out = [0u8; PIECE as usize];
    let mut va = addr;
    while va < end {
        let n = ((end - va) / PAGE_SIZE).min(PIECE) as usize;
        with_space(|s| {
            for (i, b) in out[..n].iter_mut().enumerate() {
                // Frames mapped ahead of any use are no pages to Linux.
                *b = u8::from(s.present(va + i as u64 * PAGE_SIZE));
            }
        });
        crate::mm::copy_to_user(vec + (va - addr) / PAGE_SIZE, &out[..n])?;
        va += n as u64 * PAGE_SIZE;
    }
    Ok(0)
}
