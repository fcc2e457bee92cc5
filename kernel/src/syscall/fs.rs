//! Descriptor syscalls: I/O, seeking, duplication, fcntl, ioctl, fstat,
//! directory listing, truncation and sync.
use super::{cred, Args};
use crate::errno::{Errno, SysResult, EBADF, EINVAL, ENOSPC, ENOTDIR, ENOTTY, EPIPE, ESPIPE};
use crate::fs::dev::{self, Device};
use crate::fs::stat::Stat;
use crate::fs::{pipe, table, Kind, OpenFile, O_ACCMODE, O_APPEND, O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY};
use alloc::sync::Arc;

pub const SIGPIPE: u32 = 13;
use crate::{host, mm};
use alloc::vec::Vec;
use hx_abi::hypercall::{op, Request};
use hx_abi::ioctl;
use hx_abi::uapi::CAP_CHOWN;

const FIONBIO: u64 = 0x5421;
const FIONCLEX: u64 = 0x5450;
const FIOCLEX: u64 = 0x5451;
/// The kernel's `struct termios` (the ioctl ABI), not libc's larger one.
const IOV_MAX: u64 = 1024;

/// Reads from a device into the program's buffer.
fn device_read(d: Device, buf: u64, count: u64) -> SysResult {
    match d {
        Device::Null => Ok(0),
        Device::Zero | Device::Full => {
            mm::with_space(|s| s.check(buf, count, true))?;
            // SAFETY: checked writable above.
            unsafe { core::ptr::write_bytes(buf as *mut u8, 0, count as usize) };
            Ok(count)
        }
        Device::Random => super::process::getrandom([buf, count, 0, 0, 0, 0]),
    }
}

pub fn device_write(d: Device, count: u64) -> SysResult {
    match d {
        Device::Full => Err(ENOSPC),
        _ => Ok(count),
    }
}

/// How a read or write of a host file may travel: a file opened by path
/// (regular, mostly) or one in non-blocking mode never blocks, so the ring
/// may carry it; a stream (a pipe, a socket, a terminal) in blocking mode
/// may wait, which only an exit does.
pub fn via(file: &OpenFile) -> host::Via {
    if file.status() & O_NONBLOCK != 0 || file.path.starts_with(b"/") {
        host::Via::Any
    } else {
        host::Via::Exit
    }
}

/// `sendfile`: from a host file to a host file, pipe or socket, through a
/// kernel buffer (the program's memory is never touched); `offset` given,
/// the input's own position stays where it was.
pub fn sendfile([out_fd, in_fd, offset, count, ..]: Args) -> SysResult {
    const CHUNK: usize = 64 * 1024;
    let (input, output) = (table::get(in_fd)?, table::get(out_fd)?);
    input.readable()?;
    output.writable()?;
    let (Kind::Host(hin), Kind::Host(hout)) = (&input.kind, &output.kind) else { return Err(EINVAL) };
    let mut at: Option<u64> = if offset != 0 { Some(mm::read_user::<u64>(offset)?) } else { None };
    if at.is_some_and(|a| (a as i64) < 0) {
        return Err(EINVAL);
    }
    let mut buf = alloc::vec![0u8; CHUNK.min(count as usize).max(1)];
    let mut done = 0u64;
    while done < count {
        let want = ((count - done) as usize).min(buf.len());
        let chunk = match read_chunk(*hin, at, &mut buf[..want]) {
            Ok(c) if c.is_empty() => break,
            Ok(c) => c,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let got = chunk.len();
        let mut sent = 0;
        while sent < got {
            match host::path_request(op::WRITE, &[*hout], &[&chunk[sent..]], &mut []).0 {
                Ok(0) => break,
                Ok(n) => sent += n as usize,
                Err(EPIPE) if done == 0 && sent == 0 => {
                    super::signal::raise(SIGPIPE);
                    return Err(EPIPE);
                }
                Err(e) if done == 0 && sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        done += sent as u64;
        if let Some(a) = at.as_mut() {
            *a += sent as u64;
        }
        if sent < got {
            break;
        }
    }
    if let Some(a) = at {
        mm::write_user(offset, &a)?;
    }
    Ok(done)
}

/// `fallocate`: on a host file, the host's (space reserved, holes punched);
/// the kernel's own files take none.
pub fn fallocate([fd, mode, offset, len, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    if (offset as i64) < 0 || (len as i64) <= 0 {
        return Err(EINVAL);
    }
    match file.kind {
        Kind::Host(h) => {
            if file.status() & O_ACCMODE == O_RDONLY {
                return Err(EBADF);
            }
            past_file_size_limit(host::simple(op::FALLOCATE, &[h, mode as u32 as u64, offset, len]))
        }
        Kind::PipeRead(_) | Kind::PipeWrite(_) => Err(ESPIPE),
        _ => Err(crate::errno::ENODEV),
    }
}

/// `memfd_create`: an anonymous file in memory — a host memory file the
/// monitor holds (`/proc/self/fd` shows `/memfd:NAME (deleted)`, as Linux).
pub fn memfd_create([name, flags, ..]: Args) -> SysResult {
    const MFD_CLOEXEC: u64 = 1;
    const MFD_ALLOW_SEALING: u64 = 2;
    const MFD_NOEXEC_SEAL: u64 = 8;
    const MFD_EXEC: u64 = 0x10;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC) != 0 {
        // MFD_HUGETLB and its sizes: the guest has no hugetlbfs.
        return Err(EINVAL);
    }
    let name = crate::mm::read_cstr(name, 249).map_err(|e| if e == crate::errno::ENAMETOOLONG { EINVAL } else { e })?;
    // Sealing, and the executable bit, are the host memory file's own.
    let h = host::memfd_with(&[], 0, flags & (MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC))?;
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let file = alloc::sync::Arc::new(OpenFile::new(Kind::Host(h), crate::fs::O_RDWR | crate::fs::O_LARGEFILE, path));
    table::install(file, flags & MFD_CLOEXEC != 0)
}

/// Runs a lock attempt; while `waits` and the lock is held elsewhere
/// (EAGAIN/EACCES), sleeps and tries again, until a signal (EINTR, as
/// Linux's F_SETLKW and flock).
fn retry_while_locked<T>(waits: bool, mut attempt: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    let mut sleep_ms = 1;
    loop {
        match attempt() {
            Err(crate::errno::EAGAIN | crate::errno::EACCES) if waits => {
                if crate::signal::pending() {
                    return Err(crate::errno::EINTR);
                }
                crate::sched::block(Some(crate::time::monotonic_ns() + sleep_ms * 1_000_000));
                sleep_ms = (sleep_ms * 2).min(20);
            }
            r => return r,
        }
    }
}

/// Whether the process ever took a POSIX record lock (else closing a
/// descriptor has none to release).
static POSIX_LOCKS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Releases the process's POSIX record locks on `file` (F_UNLCK of the
/// whole file through its still-open handle; OFD locks stay, as on Linux).
pub fn release_posix_locks(file: &OpenFile) {
    const F_SETLK: u64 = 6;
    let Kind::Host(h) = file.kind else { return };
    if !POSIX_LOCKS.load(core::sync::atomic::Ordering::Relaxed) {
        return;
    }
    // struct flock: l_type F_UNLCK (2), l_whence SEEK_SET, l_start 0, l_len 0 (to the end).
    let mut fl = [0u8; 32];
    fl[0] = 2;
    let mut req = Request::new(op::LOCK);
    req.args[0] = h;
    req.args[1] = F_SETLK;
    req.segs[0] = host::kernel_segment(fl.as_mut_ptr() as u64, fl.len());
    req.nsegs = 1;
    let _ = host::call(&mut req);
}

/// `flock`: on a host file, the monitor's host lock (shared with every
/// process that opened the same file description, conflicting with the
/// others); on the kernel's own files no other holder can exist.
pub fn flock([fd, operation, ..]: Args) -> SysResult {
    const LOCK_SH: u64 = 1;
    const LOCK_EX: u64 = 2;
    const LOCK_NB: u64 = 4;
    const LOCK_UN: u64 = 8;
    let file = table::get(fd)?;
    let kind = operation & !LOCK_NB;
    if !matches!(kind, LOCK_SH | LOCK_EX | LOCK_UN) {
        return Err(EINVAL);
    }
    let Kind::Host(h) = file.kind else { return Ok(0) };
    retry_while_locked(operation & LOCK_NB == 0 && kind != LOCK_UN, || {
        let r = host::simple(op::LOCK, &[h, hx_abi::hypercall::LOCK_FLOCK, kind | LOCK_NB]);
        // flock says EWOULDBLOCK (= EAGAIN) when held.
        r
    })
}

/// A blocking read of a host stream (a pipe, a socket, a terminal): the
/// thread waits for data without holding its vCPU, so other threads run.
fn stream_read(h: u64, buf: u64, count: u64) -> SysResult {
    if count == 0 {
        return Ok(0);
    }
    loop {
        match host::read(h, buf, count, host::Via::NoWait) {
            Err(crate::errno::EAGAIN) => super::poll::wait_host(h, POLLIN)?,
            r => return r,
        }
    }
}

/// A blocking write of a host stream: all of it, waiting for room without
/// holding the vCPU; a signal ends it early (with what was written, if any).
fn stream_write(h: u64, buf: u64, count: u64) -> SysResult {
    let mut done = 0;
    loop {
        match host::write(h, buf + done, count - done, host::Via::NoWait) {
            Ok(n) => {
                done += n;
                if done >= count || n == 0 {
                    return Ok(done);
                }
            }
            Err(crate::errno::EAGAIN) => {}
            Err(EPIPE) if done == 0 => {
                if super::net::epipe_raises_sigpipe(h) {
                    super::signal::raise(SIGPIPE);
                }
                return Err(EPIPE);
            }
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        }
        if let Err(e) = super::poll::wait_host(h, POLLOUT) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
    }
}

const POLLIN: i16 = 1;
const POLLOUT: i16 = 4;

fn read_file(file: &OpenFile, buf: u64, count: u64, offset: Option<u64>) -> SysResult {
    file.readable()?;
    match (&file.kind, offset) {
        (Kind::Host(h), None) if via(file) == host::Via::Exit => stream_read(*h, buf, count),
        (Kind::Host(h), None) => host::read(*h, buf, count, via(file)),
        (Kind::Host(h), Some(o)) => host::pread(*h, buf, count, o, via(file)),
        (Kind::Device(d), _) => device_read(*d, buf, count),
        (Kind::Generated(g), at) => g.read(buf, count, at),
        (Kind::Epoll(_), _) => Err(EINVAL),
        (Kind::Anon(a), None) => a.read(buf, count, file.status() & O_NONBLOCK != 0),
        (Kind::Anon(_), Some(_)) => Err(ESPIPE),
        (Kind::PipeRead(p), None) => pipe::read(p, buf, count, file.status() & O_NONBLOCK != 0),
        (Kind::PipeRead(_) | Kind::PipeWrite(_), Some(_)) => Err(ESPIPE),
        (Kind::PipeWrite(_), None) => Err(EBADF),
    }
}

fn write_file(file: &OpenFile, buf: u64, count: u64, offset: Option<u64>) -> SysResult {
    file.writable()?;
    let r = write_file_as_is(file, buf, count, offset);
    past_file_size_limit(r)
}

/// A write or size change refused for `RLIMIT_FSIZE` (`EFBIG` from the
/// monitor, which applies the guest's limit) raises SIGXFSZ, as Linux does;
/// without a limit, `EFBIG` is the file system's maximum size and raises
/// nothing.
pub fn past_file_size_limit(r: SysResult) -> SysResult {
    const RLIMIT_FSIZE: usize = 1;
    if r == Err(crate::errno::EFBIG) && super::process::soft_limit(RLIMIT_FSIZE) != u64::MAX {
        super::signal::raise(SIGXFSZ);
    }
    r
}

const SIGXFSZ: u32 = 25;

fn write_file_as_is(file: &OpenFile, buf: u64, count: u64, offset: Option<u64>) -> SysResult {
    match (&file.kind, offset) {
        (Kind::Host(h), None) if via(file) == host::Via::Exit => stream_write(*h, buf, count),
        (Kind::Host(h), None) => match host::write(*h, buf, count, via(file)) {
            Err(EPIPE) => {
                if super::net::epipe_raises_sigpipe(*h) {
                    super::signal::raise(SIGPIPE);
                }
                Err(EPIPE)
            }
            r => r,
        },
        (Kind::Host(h), Some(o)) => host::pwrite(*h, buf, count, o, via(file)),
        (Kind::Device(d), _) => device_write(*d, count),
        (Kind::Generated(g), _) => g.write(buf, count),
        (Kind::Epoll(_), _) => Err(EINVAL),
        (Kind::Anon(a), None) => a.write(buf, count, file.status() & O_NONBLOCK != 0),
        (Kind::Anon(_), Some(_)) => Err(ESPIPE),
        (Kind::PipeWrite(p), None) => match pipe::write(p, buf, count, file.status() & O_NONBLOCK != 0) {
            Err(EPIPE) => {
                super::signal::raise(SIGPIPE);
                Err(EPIPE)
            }
            r => r,
        },
        (Kind::PipeRead(_) | Kind::PipeWrite(_), Some(_)) => Err(ESPIPE),
        (Kind::PipeRead(_), None) => Err(EBADF),
    }
}

pub fn read([fd, buf, count, ..]: Args) -> SysResult {
    read_file(&*table::get(fd)?, buf, count, None)
}

pub fn write([fd, buf, count, ..]: Args) -> SysResult {
    write_file(&*table::get(fd)?, buf, count, None)
}

/// The file at `fd` for a read or write at an offset: a pipe has no
/// offsets (ESPIPE, which Linux checks before the access mode).
fn positional(fd: u64) -> Result<Arc<OpenFile>, Errno> {
    let file = table::get(fd)?;
    if matches!(file.kind, Kind::PipeRead(_) | Kind::PipeWrite(_)) {
        return Err(ESPIPE);
    }
    Ok(file)
}

pub fn pread64([fd, buf, count, offset, ..]: Args) -> SysResult {
    if (offset as i64) < 0 {
        return Err(EINVAL);
    }
    read_file(&*positional(fd)?, buf, count, Some(offset))
}

pub fn pwrite64([fd, buf, count, offset, ..]: Args) -> SysResult {
    if (offset as i64) < 0 {
        return Err(EINVAL);
    }
    write_file(&*positional(fd)?, buf, count, Some(offset))
}

/// The `(base, len)` pairs of an iovec array.
fn iovecs(iov: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(EINVAL);
    }
    let mut raw = alloc::vec![0u8; count as usize * 16];
    mm::copy_from_user(iov, &mut raw)?;
    let v: Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| (u64::from_le_bytes(c[..8].try_into().unwrap()), u64::from_le_bytes(c[8..].try_into().unwrap())))
        .collect();
    if v.iter().try_fold(0u64, |acc, &(_, l)| acc.checked_add(l)).is_none_or(|t| t > i64::MAX as u64) {
        return Err(EINVAL);
    }
    Ok(v)
}

/// Runs `each` over the buffers until one comes back short, as Linux's readv/writev.
fn vectored(iovs: &[(u64, u64)], mut each: impl FnMut(u64, u64) -> SysResult) -> SysResult {
    let mut total = 0;
    for &(base, len) in iovs {
        match each(base, len) {
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

pub fn writev([fd, iov, count, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    let iovs = iovecs(iov, count)?;
    file.writable()?;
    match file.kind {
        // Gathered into as few host requests as fit.
        Kind::Host(h) if via(&file) != host::Via::Exit => host::write_iov(h, &iovs, via(&file)),
        _ => vectored(&iovs, |b, l| write_file(&file, b, l, None)),
    }
}

pub fn readv([fd, iov, count, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    let iovs = iovecs(iov, count)?;
    vectored(&iovs, |b, l| read_file(&file, b, l, None))
}

/// preadv/pwritev: the buffers in turn, at consecutive offsets from `offset`.
fn vectored_at(fd: u64, iov: u64, count: u64, offset: u64, write: bool) -> SysResult {
    let file = positional(fd)?;
    let iovs = iovecs(iov, count)?;
    let mut at = offset;
    vectored(&iovs, |b, l| {
        let n = if write { write_file(&file, b, l, Some(at))? } else { read_file(&file, b, l, Some(at))? };
        at += n;
        Ok(n)
    })
}

pub fn preadv([fd, iov, count, offset, ..]: Args) -> SysResult {
    vectored_at(fd, iov, count, offset, false)
}

pub fn pwritev([fd, iov, count, offset, ..]: Args) -> SysResult {
    vectored_at(fd, iov, count, offset, true)
}

/// One read of host file `h` (at `at`, or at its position) into the kernel
/// buffer `buf`; the bytes read (none at the end of the file).
pub(super) fn read_chunk(h: u64, at: Option<u64>, buf: &mut [u8]) -> Result<Vec<u8>, Errno> {
    let got = match at {
        Some(a) => host::path_request(op::PREAD, &[h, a], &[], &mut [&mut *buf]).0,
        None => host::path_request(op::READ, &[h], &[], &mut [&mut *buf]).0,
    }? as usize;
    // SAFETY: the monitor filled the buffer (read it back as memory).
    Ok(buf[..got.min(buf.len())].iter().map(|b| unsafe { core::ptr::read_volatile(b) }).collect())
}

/// `copy_file_range`: bytes from one regular file to another through a
/// kernel buffer, at the given offsets (updated) or the files' positions.
pub fn copy_file_range([fd_in, off_in, fd_out, off_out, len, flags]: Args) -> SysResult {
    const CHUNK: usize = 64 * 1024;
    if flags != 0 {
        return Err(EINVAL);
    }
    let (input, output) = (table::get(fd_in)?, table::get(fd_out)?);
    input.readable()?;
    output.writable()?;
    if output.status() & crate::fs::O_APPEND != 0 {
        return Err(EBADF);
    }
    let (Kind::Host(hin), Kind::Host(hout)) = (&input.kind, &output.kind) else { return Err(EINVAL) };
    let (sin, sout) = (stat_of(&input)?, stat_of(&output)?);
    for st in [&sin, &sout] {
        match st.mode & 0o170000 {
            0o100000 => {}
            0o040000 => return Err(crate::errno::EISDIR),
            _ => return Err(EINVAL),
        }
    }
    let read_at = |p: u64| -> Result<Option<u64>, Errno> {
        if p == 0 {
            return Ok(None);
        }
        let v: i64 = mm::read_user(p)?;
        if v < 0 {
            return Err(EINVAL);
        }
        Ok(Some(v as u64))
    };
    let (mut at_in, mut at_out) = (read_at(off_in)?, read_at(off_out)?);
    if sin.dev == sout.dev && sin.ino == sout.ino {
        // The same file: overlapping ranges are refused, as Linux refuses them.
        let pos = |h: u64| host::simple(op::LSEEK, &[h, 0, 1]);
        let a = match at_in {
            Some(a) => a,
            None => pos(*hin)?,
        };
        let b = match at_out {
            Some(b) => b,
            None => pos(*hout)?,
        };
        if a < b.saturating_add(len) && b < a.saturating_add(len) {
            return Err(EINVAL);
        }
    }
    let mut buf = alloc::vec![0u8; CHUNK.min(len as usize).max(1)];
    let mut done = 0u64;
    while done < len {
        let want = ((len - done) as usize).min(buf.len());
        let chunk = match read_chunk(*hin, at_in, &mut buf[..want]) {
            Ok(c) if c.is_empty() => break,
            Ok(c) => c,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        let got = chunk.len();
        let put = match at_out {
            Some(b) => host::path_request(op::PWRITE, &[*hout, b], &[&chunk], &mut []).0,
            None => host::path_request(op::WRITE, &[*hout], &[&chunk], &mut []).0,
        };
        let put = match put {
            Ok(n) => n,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        done += put;
        if let Some(a) = at_in.as_mut() {
            *a += put;
        }
        if let Some(b) = at_out.as_mut() {
            *b += put;
        }
        if (put as usize) < got {
            // Part of what was read was not written: give the input position back.
            if at_in.is_none() {
                let back = (got as u64 - put) as i64;
                host::simple(op::LSEEK, &[*hin, (-back) as u64, 1])?;
            }
            break;
        }
    }
    if let Some(a) = at_in {
        mm::write_user(off_in, &a)?;
    }
    if let Some(b) = at_out {
        mm::write_user(off_out, &b)?;
    }
    Ok(done)
}

/// `RWF_*` flags `preadv2`/`pwritev2` honour: a polling hint (no effect on
/// what the program sees) and synchronous writes. Others (`RWF_NOWAIT`,
/// `RWF_APPEND`, …) are `EOPNOTSUPP`, as on a file system without them.
const RWF_HIPRI: u64 = 1;
const RWF_DSYNC: u64 = 2;
const RWF_SYNC: u64 = 4;

/// `preadv2`/`pwritev2`: `offset` -1 reads or writes at the file position,
/// as `readv`/`writev`.
fn vectored2([fd, iov, count, offset, _, flags]: Args, write: bool) -> SysResult {
    if flags & !(RWF_HIPRI | RWF_DSYNC | RWF_SYNC) != 0 {
        return Err(crate::errno::EOPNOTSUPP);
    }
    let n = match (offset as i64, write) {
        (-1, false) => readv([fd, iov, count, 0, 0, 0])?,
        (-1, true) => writev([fd, iov, count, 0, 0, 0])?,
        (o, _) if o < 0 => return Err(EINVAL),
        (_, w) => vectored_at(fd, iov, count, offset, w)?,
    };
    if write && flags & (RWF_DSYNC | RWF_SYNC) != 0 && n > 0 {
        if let Kind::Host(h) = table::get(fd)?.kind {
            host::simple(op::FSYNC, &[h, u64::from(flags & RWF_SYNC == 0)])?;
        }
    }
    Ok(n)
}

pub fn preadv2(a: Args) -> SysResult {
    vectored2(a, false)
}

pub fn pwritev2(a: Args) -> SysResult {
    vectored2(a, true)
}

/// `readahead`: a hint for a regular file open for reading.
pub fn readahead([fd, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    file.readable()?;
    let st = stat_of(&file).map_err(|_| EINVAL)?;
    if st.mode & 0o170000 != 0o100000 {
        return Err(EINVAL);
    }
    Ok(0)
}

pub fn lseek([fd, offset, whence, ..]: Args) -> SysResult {
    match table::get(fd)?.kind {
        Kind::Host(h) => host::simple(op::LSEEK, &[h, offset, whence]),
        Kind::Device(_) if whence <= 4 => Ok(0),
        Kind::Device(_) => Err(EINVAL),
        Kind::Generated(ref g) => g.seek(offset, whence),
        Kind::Epoll(_) => Err(ESPIPE),
        Kind::Anon(_) => Ok(0), // Linux's noop_llseek
        Kind::PipeRead(_) | Kind::PipeWrite(_) => Err(ESPIPE),
    }
}

pub fn close([fd, ..]: Args) -> SysResult {
    table::close(fd).map(|_| 0)
}

/// `close_range`: closes (or with CLOSE_RANGE_CLOEXEC marks) every open
/// descriptor from `first` to `last`; CLOSE_RANGE_UNSHARE has nothing to
/// unshare (the table is the process's own).
pub fn close_range([first, last, flags, ..]: Args) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u64 = 2;
    const CLOSE_RANGE_CLOEXEC: u64 = 4;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(EINVAL);
    }
    let last = (last as u32 as u64).min(table::MAX_FDS as u64 - 1);
    for (fd, _) in table::snapshot().into_iter().filter(|(fd, _)| (first..=last).contains(fd)) {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            table::set_cloexec(fd, true)?;
        } else {
            let _ = table::close(fd);
        }
    }
    Ok(0)
}

pub fn dup([fd, ..]: Args) -> SysResult {
    table::install(table::get(fd)?, false)
}

pub fn dup2([old, new, ..]: Args) -> SysResult {
    let file = table::get(old)?;
    if old == new {
        return Ok(new);
    }
    table::install_at(new, file, false)
}

pub fn dup3([old, new, flags, ..]: Args) -> SysResult {
    if old == new || flags & !(O_CLOEXEC as u64) != 0 {
        return Err(EINVAL);
    }
    table::install_at(new, table::get(old)?, flags != 0)
}

pub fn fcntl([fd, cmd, arg, ..]: Args) -> SysResult {
    const F_DUPFD: u64 = 0;
    const F_GETFD: u64 = 1;
    const F_SETFD: u64 = 2;
    const F_GETFL: u64 = 3;
    const F_SETFL: u64 = 4;
    const F_GETLK: u64 = 5;
    const F_SETLK: u64 = 6;
    const F_SETLKW: u64 = 7;
    const F_OFD_GETLK: u64 = 36;
    const F_OFD_SETLK: u64 = 37;
    const F_OFD_SETLKW: u64 = 38;
    const F_DUPFD_CLOEXEC: u64 = 1030;
    const F_SETPIPE_SZ: u64 = 1031;
    const F_GETPIPE_SZ: u64 = 1032;
    use hx_abi::hypercall::{F_ADD_SEALS, F_GET_SEALS};
    const F_UNLCK: i16 = 2;
    const F_SETOWN: u64 = 8;
    const F_GETOWN: u64 = 9;
    const F_SETSIG: u64 = 10;
    const F_GETSIG: u64 = 11;
    const F_SETOWN_EX: u64 = 15;
    const F_GETOWN_EX: u64 = 16;
    const F_NOTIFY: u64 = 1026;
    const F_SETLEASE: u64 = 1024;
    const F_GETLEASE: u64 = 1025;
    let entry = table::entry(fd)?;
    match cmd {
        F_SETLEASE => super::lease::set(fd, &entry.file, arg as u32 as u64),
        F_GETLEASE => super::lease::get(&entry.file),
        F_NOTIFY => super::dnotify::fcntl_notify(fd, &entry.file, arg as u32 as u64),
        F_SETOWN => set_owner(&entry.file, arg as i32),
        F_GETOWN => Ok(owner_for_getown(&entry.file) as u64),
        F_SETOWN_EX => {
            let [kind, id]: [i32; 2] = mm::read_user(arg)?;
            set_owner_ex(&entry.file, kind, id)
        }
        F_GETOWN_EX => {
            let owner = entry.file.owner.load(core::sync::atomic::Ordering::Relaxed);
            mm::write_user(arg, &[(owner >> 32) as i32, owner as u32 as i32]).map(|_| 0)
        }
        F_SETSIG if arg <= 64 => {
            entry.file.io_signal.store(arg as u32, core::sync::atomic::Ordering::Relaxed);
            Ok(0)
        }
        F_GETSIG => Ok(u64::from(entry.file.io_signal.load(core::sync::atomic::Ordering::Relaxed))),
        F_DUPFD | F_DUPFD_CLOEXEC => table::install_from(entry.file, cmd == F_DUPFD_CLOEXEC, arg as usize),
        F_GETFD => Ok(entry.cloexec as u64),
        F_SETFD => table::set_cloexec(fd, arg & 1 != 0).map(|_| 0),
        F_GETFL => Ok(entry.file.status() as u64),
        F_SETFL => {
            // A host file takes O_DIRECT and O_NOATIME too (the host applies
            // them); on the kernel's pipes O_DIRECT would be packet mode.
            use super::fasync::O_ASYNC;
            let changeable = match entry.file.kind {
                Kind::Host(_) => O_APPEND | O_NONBLOCK | O_ASYNC | crate::fs::O_DIRECT | crate::fs::O_NOATIME,
                _ => O_APPEND | O_NONBLOCK | O_ASYNC,
            };
            let status = (entry.file.status() & !changeable) | (arg as u32 & changeable);
            if let Kind::Host(h) = &entry.file.kind {
                let h = *h;
                host::simple(op::SETFL, &[h, (status & changeable) as u64])?;
            }
            entry.file.set_status(status);
            // I/O signals come from the kernel's pipes and host files.
            if matches!(entry.file.kind, Kind::Host(_) | Kind::PipeRead(_) | Kind::PipeWrite(_)) {
                super::fasync::set(fd, &entry.file, status & O_ASYNC != 0);
            }
            Ok(0)
        }
        // A memory file's seals are the host's (it enforces them on writes,
        // truncation and mappings); anything else has none to show.
        F_ADD_SEALS | F_GET_SEALS => match entry.file.kind {
            Kind::Host(h) if entry.file.is_memfd() => {
                if cmd == F_ADD_SEALS && entry.file.status() & O_ACCMODE == crate::fs::O_RDONLY {
                    return Err(crate::errno::EPERM);
                }
                host::simple(op::SETFL, &[h, hx_abi::hypercall::SETFL_SEALS | (arg as u32 as u64), cmd])
            }
            _ => Err(EINVAL),
        },
        F_SETPIPE_SZ | F_GETPIPE_SZ => match &entry.file.kind {
            Kind::PipeRead(p) | Kind::PipeWrite(p) if cmd == F_GETPIPE_SZ => Ok(pipe::capacity(p)),
            Kind::PipeRead(p) | Kind::PipeWrite(p) => pipe::set_capacity(p, arg as u32 as u64),
            // A host pipe: the host's own size.
            Kind::Host(h) => {
                host::simple(op::SETFL, &[*h, hx_abi::hypercall::SETFL_PIPE_SIZE | (arg as u32 as u64), cmd])
            }
            _ => Err(EBADF),
        },
        // A host file: the monitor holds the lock on the host, where other
        // processes (guest or host) meet it; a waiting lock retries here.
        F_GETLK | F_OFD_GETLK | F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW
            if matches!(entry.file.kind, Kind::Host(_)) =>
        {
            let Kind::Host(h) = entry.file.kind else { return Err(EBADF) };
            let waits = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
            let base = match cmd {
                F_SETLKW => F_SETLK,
                F_OFD_SETLKW => F_OFD_SETLK,
                c => c,
            };
            let mut fl = [0u8; 32];
            mm::copy_from_user(arg, &mut fl)?;
            if base == F_SETLK {
                POSIX_LOCKS.store(true, core::sync::atomic::Ordering::Relaxed);
            }
            let r = retry_while_locked(waits, || {
                let mut req = Request::new(op::LOCK);
                req.args[0] = h;
                req.args[1] = base;
                let mut out = fl;
                req.segs[0] = host::kernel_segment(out.as_mut_ptr() as u64, out.len());
                req.nsegs = 1;
                let r = host::result(host::call(&mut req));
                // SAFETY: the monitor wrote the struct back (read it as memory).
                r.map(|_| unsafe { core::ptr::read_volatile(&out) })
            })?;
            if base == F_GETLK || base == F_OFD_GETLK {
                mm::copy_to_user(arg, &r)?;
            }
            Ok(0)
        }
        // The kernel's own files (pipes, /proc): one process holds them, so
        // no other lock holder can ever conflict.
        F_GETLK | F_OFD_GETLK => mm::write_user(arg, &F_UNLCK).map(|_| 0),
        F_SETLK | F_SETLKW | F_OFD_SETLK | F_OFD_SETLKW => Ok(0),
        _ => Err(EINVAL),
    }
}

const F_OWNER_TID: i32 = 0;
const F_OWNER_PID: i32 = 1;
const F_OWNER_PGRP: i32 = 2;

/// `F_SETOWN`: a process (`who` > 0), a process group (`who` < 0) or none;
/// one that does not exist is `ESRCH`, as Linux.
fn set_owner(file: &OpenFile, who: i32) -> SysResult {
    match who {
        w if w >= 0 => set_owner_ex(file, F_OWNER_PID, w),
        w => set_owner_ex(file, F_OWNER_PGRP, w.checked_neg().ok_or(EINVAL)?),
    }
}

/// `F_SETOWN_EX`: the owner's kind and id, checked to exist.
fn set_owner_ex(file: &OpenFile, kind: i32, id: i32) -> SysResult {
    if !matches!(kind, F_OWNER_TID | F_OWNER_PID | F_OWNER_PGRP) {
        return Err(EINVAL);
    }
    if id < 0 {
        return Err(EINVAL);
    }
    if id > 0 {
        // Whether it exists: signal 0 to the thread's process, the process or the group.
        let target = if kind == F_OWNER_PGRP { -(id as i64) } else { id as i64 };
        let exists = if kind == F_OWNER_TID && super::signal::tkill([id as u64, 0, 0, 0, 0, 0]).is_ok() {
            Ok(0)
        } else {
            super::signal::kill([target as u64, 0, 0, 0, 0, 0])
        };
        match exists {
            Ok(_) | Err(crate::errno::EPERM) => {}
            Err(_) => return Err(crate::errno::ESRCH),
        }
    }
    let packed = (kind as u32 as u64) << 32 | id as u32 as u64;
    file.owner.store(packed, core::sync::atomic::Ordering::Relaxed);
    Ok(0)
}

/// What `F_GETOWN` reports: a group as its negated id.
fn owner_for_getown(file: &OpenFile) -> i64 {
    let owner = file.owner.load(core::sync::atomic::Ordering::Relaxed);
    let id = owner as u32 as i32 as i64;
    if (owner >> 32) as i32 == F_OWNER_PGRP {
        -id
    } else {
        id
    }
}

pub fn ioctl([fd, cmd, arg, ..]: Args) -> SysResult {
    // The command is an `unsigned int`: musl passes the high ones sign-extended.
    let cmd = cmd as u32 as u64;
    let entry = table::entry(fd)?;
    entry.file.usable()?;
    match cmd {
        FIOCLEX | FIONCLEX => return table::set_cloexec(fd, cmd == FIOCLEX).map(|_| 0),
        FIONBIO => {
            let on: i32 = mm::read_user(arg)?;
            let flags = (entry.file.status() & !O_NONBLOCK) | if on != 0 { O_NONBLOCK } else { 0 };
            return fcntl([fd, 4, flags as u64, 0, 0, 0]);
        }
        _ => {}
    }
    // A socket's interface requests: from the interface list the monitor made.
    let interface_request = (0x8910..=0x8943).contains(&cmd);
    if interface_request && stat_of(&entry.file).is_ok_and(|st| st.mode & 0o170000 == 0o140000) {
        if let Some(r) = super::netlink::interface_ioctl(cmd, arg) {
            return r;
        }
    }
    let h = match &entry.file.kind {
        Kind::Host(h) => *h,
        // Either end tells what the pipe holds, as on Linux.
        Kind::PipeRead(p) | Kind::PipeWrite(p) if cmd == ioctl::FIONREAD => {
            mm::write_user(arg, &(pipe::buffered(p) as i32))?;
            return Ok(0);
        }
        // /dev/random and /dev/urandom: the entropy count Linux (5.18 on)
        // reports once its generator is seeded; adding entropy needs
        // CAP_SYS_ADMIN, and the host's pool is not the guest's to feed.
        Kind::Device(dev::Device::Random) => return random_ioctl(cmd, arg),
        _ => return Err(ENOTTY),
    };
    // The monitor runs the commands of its table on the host file, which
    // answers for itself (a pipe refuses a terminal's commands).
    let mut buf = [0u8; ioctl::MAX_ARG];
    match ioctl::arg_of(cmd).ok_or(ENOTTY)? {
        ioctl::Arg::Value => host::ioctl(h, cmd, arg, &mut []),
        ioctl::Arg::In(n) => {
            mm::copy_from_user(arg, &mut buf[..n])?;
            host::ioctl(h, cmd, 0, &mut buf[..n])
        }
        ioctl::Arg::Out(n) => {
            let ret = host::ioctl(h, cmd, 0, &mut buf[..n])?;
            mm::copy_to_user(arg, &buf[..n])?;
            Ok(ret)
        }
    }
}

fn random_ioctl(cmd: u64, arg: u64) -> SysResult {
    const RNDGETENTCNT: u64 = 0x8004_5200;
    const RNDADDTOENTCNT: u64 = 0x4004_5201;
    const RNDADDENTROPY: u64 = 0x4008_5203;
    const RNDZAPENTCNT: u64 = 0x5204;
    const RNDCLEARPOOL: u64 = 0x5206;
    const RNDRESEEDCRNG: u64 = 0x5207;
    match cmd {
        RNDGETENTCNT => mm::write_user(arg, &256i32).map(|_| 0),
        RNDADDTOENTCNT | RNDADDENTROPY | RNDZAPENTCNT | RNDCLEARPOOL | RNDRESEEDCRNG => {
            if super::cred::capable(hx_abi::uapi::CAP_SYS_ADMIN) {
                // Accepted as Linux accepts it; the host's generator mixes on its own.
                Ok(0)
            } else {
                Err(crate::errno::EPERM)
            }
        }
        // RNDGETPOOL is gone from Linux; the driver answers EINVAL to
        // anything it does not know, a terminal's requests included.
        _ => Err(EINVAL),
    }
}

/// The stat of an open file.
pub fn stat_of(file: &OpenFile) -> Result<Stat, Errno> {
    match &file.kind {
        Kind::Host(h) => {
            let mut st = Stat::default();
            host::fstat(*h, st.as_bytes_mut())?;
            Ok(st)
        }
        Kind::Device(d) => Ok(dev::stat(*d)),
        Kind::Generated(g) => g.stat(),
        Kind::Epoll(_) => Ok(Stat { mode: 0o600, nlink: 1, blksize: 4096, ino: 4000, ..Default::default() }),
        // A netlink socket is a socket (S_IFSOCK), as Linux's sockfs shows it.
        Kind::Anon(crate::fs::anon::Anon::Netlink(_)) => Ok(Stat { mode: 0o140777, ..crate::fs::anon::stat() }),
        Kind::Anon(_) => Ok(crate::fs::anon::stat()),
        Kind::PipeRead(p) | Kind::PipeWrite(p) => {
            Ok(Stat { mode: 0o010600, nlink: 1, blksize: 4096, ino: pipe::id(p), ..Default::default() })
        }
    }
}

pub fn fstat([fd, statbuf, ..]: Args) -> SysResult {
    let st = stat_of(&*table::get(fd)?)?;
    mm::write_user(statbuf, &st)?;
    Ok(0)
}

pub fn getdents64([fd, buf, count, ..]: Args) -> SysResult {
    match table::get(fd)?.kind {
        Kind::Host(h) => host::getdents(h, buf, count),
        Kind::Generated(ref g) => g.getdents(buf, count),
        _ => Err(ENOTDIR),
    }
}

/// `getdents`, the old record format (`linux_dirent`): the same records as
/// `getdents64`'s, of the same sizes, with the name moved up a byte and the
/// type in the record's last byte.
pub fn getdents([fd, buf, count, ..]: Args) -> SysResult {
    let n = getdents64([fd, buf, count, 0, 0, 0])?;
    let mut records = alloc::vec![0u8; n as usize];
    mm::copy_from_user(buf, &mut records)?;
    let mut at = 0;
    while at + 19 <= records.len() {
        let reclen = usize::from(u16::from_le_bytes([records[at + 16], records[at + 17]]));
        if reclen < 20 || at + reclen > records.len() {
            break;
        }
        let d_type = records[at + 18];
        records.copy_within(at + 19..at + reclen, at + 18);
        records[at + reclen - 1] = d_type;
        at += reclen;
    }
    mm::copy_to_user(buf, &records)?;
    Ok(n)
}

/// `sync_file_range`: Linux's argument checks, then the file's data written
/// back (all of it: more than the range, never less).
pub fn sync_file_range([fd, offset, nbytes, flags, ..]: Args) -> SysResult {
    const VALID: u64 = 1 | 2 | 4; // WAIT_BEFORE | WRITE | WAIT_AFTER
    if flags & !VALID != 0 || (offset as i64) < 0 || (nbytes as i64) < 0 {
        return Err(EINVAL);
    }
    if (offset as i64).checked_add(nbytes as i64).is_none() {
        return Err(EINVAL);
    }
    let file = table::get(fd)?;
    let Kind::Host(h) = file.kind else { return Err(ESPIPE) };
    const S_IFMT: u32 = 0o170000;
    let regular = stat_of(&file).map(|st| matches!(st.mode & S_IFMT, 0o100000 | 0o040000 | 0o060000 | 0o120000))?;
    if !regular {
        return Err(ESPIPE);
    }
    if flags == 0 {
        return Ok(0);
    }
    host::simple(op::FSYNC, &[h, hx_abi::hypercall::FSYNC_DATA])
}

pub fn ftruncate([fd, length, ..]: Args) -> SysResult {
    if (length as i64) < 0 {
        return Err(EINVAL);
    }
    let file = table::get(fd)?;
    if file.status() & O_ACCMODE == 0 {
        return Err(EINVAL);
    }
    match file.kind {
        Kind::Host(h) => past_file_size_limit(host::simple(op::FTRUNCATE, &[h, length])),
        _ => Err(EINVAL),
    }
}

pub fn fsync([fd, ..]: Args) -> SysResult {
    match table::get(fd)?.kind {
        Kind::Host(h) => host::simple(op::FSYNC, &[h, 0]),
        _ => Err(EINVAL),
    }
}

/// `syncfs`: the file system of a host file; in-guest objects (pipes,
/// devices, event files) have nothing to write back.
pub fn syncfs([fd, ..]: Args) -> SysResult {
    match table::get(fd)?.kind {
        Kind::Host(h) => host::simple(op::FSYNC, &[h, hx_abi::hypercall::FSYNC_FS]),
        _ => Ok(0),
    }
}

/// `sync`: every file system the guest can have written to.
pub fn sync(_: Args) -> SysResult {
    let _ = host::simple(op::FSYNC, &[hx_abi::hypercall::NO_HANDLE, hx_abi::hypercall::FSYNC_ALL]);
    Ok(0)
}

pub fn fdatasync([fd, ..]: Args) -> SysResult {
    match table::get(fd)?.kind {
        Kind::Host(h) => host::simple(op::FSYNC, &[h, 1]),
        _ => Err(EINVAL),
    }
}

pub fn fchmod([fd, mode, ..]: Args) -> SysResult {
    match table::get(fd)?.kind {
        Kind::Host(h) => host::path_request(op::CHMOD, &[h, mode & 0o7777], &[], &mut []).0,
        _ => Ok(0),
    }
}

/// `fchown`: as `fchownat` on the open file. Only host files change; the
/// kernel's own (pipes, devices) keep their owner.
pub fn fchown([fd, owner, group, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    let Kind::Host(h) = file.kind else { return Ok(0) };
    let (uid, gid) = (owner as u32, group as u32);
    if !cred::capable(CAP_CHOWN) {
        cred::may_chown(&stat_of(&file)?, uid, gid).map_err(|e| super::path::chown_refused(&file.path, true, e))?;
    }
    host::path_request(op::CHOWN, &[h, uid as u64, gid as u64, 0], &[], &mut []).0
}

pub fn fadvise64([fd, _offset, _len, advice, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    if advice > 5 {
        return Err(EINVAL);
    }
    match file.kind {
        Kind::PipeRead(_) | Kind::PipeWrite(_) => Err(ESPIPE),
        _ => Ok(0), // advice only: nothing the program can observe
    }
}

pub fn pipe2([fds, flags, ..]: Args) -> SysResult {
    if flags & !((O_CLOEXEC | O_NONBLOCK) as u64 | 0o40000) != 0 {
        return Err(EINVAL); // O_DIRECT (packet mode) is accepted, like Linux
    }
    mm::with_space(|s| s.check(fds, 8, true))?;
    let p = pipe::new();
    let status = flags as u32 & O_NONBLOCK;
    let cloexec = flags as u32 & O_CLOEXEC != 0;
    let r = table::install(
        Arc::new(OpenFile::new(Kind::PipeRead(p.clone()), O_RDONLY | status, b"pipe:".to_vec())),
        cloexec,
    )?;
    let w = match table::install(
        Arc::new(OpenFile::new(Kind::PipeWrite(p), O_WRONLY | status, b"pipe:".to_vec())),
        cloexec,
    ) {
        Ok(w) => w,
        Err(e) => {
            let _ = table::close(r);
            return Err(e);
        }
    };
    mm::write_user(fds, &[r as i32, w as i32])?;
    Ok(0)
}

pub fn pipe([fds, ..]: Args) -> SysResult {
    pipe2([fds, 0, 0, 0, 0, 0])
}

/// `fanotify_mark`: no fanotify group can exist (`fanotify_init` needs a
/// capability the guest never has), so no descriptor is one: `EBADF` for a
/// closed one, else `EINVAL`, as Linux answers a descriptor of another kind.
pub fn fanotify_mark([fd, flags, ..]: Args) -> SysResult {
    const ALL_FLAGS: u64 = 0x7ff;
    const ADD_REMOVE_FLUSH: u64 = 0x1 | 0x2 | 0x80;
    // The flags are checked first, as Linux does: one of add, remove, flush.
    let action = flags & ADD_REMOVE_FLUSH;
    if flags & !ALL_FLAGS != 0 || !action.is_power_of_two() {
        return Err(EINVAL);
    }
    table::get(fd)?;
    Err(EINVAL)
}
