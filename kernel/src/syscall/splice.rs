//! `splice`, `tee` and `vmsplice`: bytes between a pipe and a file, socket
//! or another pipe, copies from one pipe to another, and bytes between a
//! pipe and program memory, with Linux's checks. Linux moves page references; here the bytes pass through a
//! kernel buffer, at most 64 KiB (a pipe's default size) a call. A kernel
//! pipe's bytes leave it only once the other side took them; a host pipe's
//! (a pipe after a fork) are read first, then written whole.
use super::Args;
use crate::errno::{Errno, SysResult, EAGAIN, EBADF, EFAULT, EINVAL, EPIPE, ERESTARTNOINTR, ESPIPE};
use crate::fs::{pipe, table, Kind, OpenFile, O_APPEND, O_NONBLOCK};
use crate::host;
use crate::mm;
use alloc::vec::Vec;
use hx_abi::hypercall::op;

const SPLICE_F_NONBLOCK: u64 = 2;
const SPLICE_F_ALL: u64 = 0xf;
const CHUNK: u64 = 64 * 1024;
const S_IFMT: u32 = 0o170000;
const S_IFIFO: u32 = 0o010000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;

/// What a descriptor is to `splice`.
enum End {
    /// A pipe kept in the guest (read or write end).
    Kernel(pipe::Shared),
    /// A host pipe.
    HostPipe(u64),
    /// A host file or socket; whether it takes an offset (`pread`/`pwrite`).
    Host(u64, bool),
    /// One of the kernel's devices (`/dev/null` takes any bytes).
    Device(crate::fs::dev::Device),
    /// What has no splice in Linux either (an eventfd, an epoll instance, a
    /// `/proc` file...): EINVAL before anything waits.
    Unsupported,
}

fn end_of(file: &OpenFile) -> Result<End, Errno> {
    Ok(match &file.kind {
        Kind::PipeRead(p) | Kind::PipeWrite(p) => End::Kernel(p.clone()),
        Kind::Host(h) => {
            let mode = super::fs::stat_of(file)?.mode & S_IFMT;
            match mode {
                S_IFIFO => End::HostPipe(*h),
                _ => End::Host(*h, mode == S_IFREG || mode == S_IFBLK),
            }
        }
        Kind::Device(d) => End::Device(*d),
        _ => End::Unsupported,
    })
}

fn is_pipe(e: &End) -> bool {
    matches!(e, End::Kernel(_) | End::HostPipe(_))
}

/// A 64-bit offset from the program (`None` for a null pointer).
fn offset_at(p: u64) -> Result<Option<i64>, Errno> {
    if p == 0 {
        return Ok(None);
    }
    mm::read_user::<i64>(p).map(Some).map_err(|_| EFAULT)
}

pub fn splice([fd_in, off_in, fd_out, off_out, len, flags]: Args) -> SysResult {
    if len == 0 {
        return Ok(0);
    }
    if flags & !SPLICE_F_ALL != 0 {
        return Err(EINVAL);
    }
    let (input, output) = (table::get(fd_in)?, table::get(fd_out)?);
    let (from, to) = (end_of(&input)?, end_of(&output)?);
    if is_pipe(&from) && off_in != 0 || is_pipe(&to) && off_out != 0 {
        return Err(ESPIPE);
    }
    let (mut at_in, mut at_out) = (offset_at(off_in)?, offset_at(off_out)?);
    input.readable().map_err(|_| EBADF)?;
    output.writable().map_err(|_| EBADF)?;
    if matches!(from, End::Unsupported) || matches!(to, End::Unsupported) {
        return Err(EINVAL);
    }
    let len = len.min(CHUNK) as usize;
    let nb = |f: &OpenFile| flags & SPLICE_F_NONBLOCK != 0 || f.status() & O_NONBLOCK != 0;
    let moved = match (is_pipe(&from), is_pipe(&to)) {
        (true, true) => {
            if let (End::Kernel(a), End::Kernel(b)) = (&from, &to) {
                if alloc::sync::Arc::ptr_eq(a, b) {
                    return Err(EINVAL);
                }
            }
            pass(&from, &to, None, len, nb(&input) || nb(&output))?
        }
        (true, false) => {
            if at_out.is_some() && !matches!(to, End::Host(_, true)) || output.status() & O_APPEND != 0 {
                return Err(EINVAL);
            }
            if at_out.is_some_and(|a| a < 0) {
                return Err(EINVAL);
            }
            let n = pass(&from, &to, at_out.map(|a| a as u64), len, nb(&input))?;
            at_out = at_out.map(|a| a + n as i64);
            n
        }
        (false, true) => {
            if at_in.is_some() && !matches!(from, End::Host(_, true)) {
                return Err(EINVAL);
            }
            if at_in.is_some_and(|a| a < 0) {
                return Err(EINVAL);
            }
            // A directory has nothing to splice from (EINVAL, not the read's EISDIR).
            let n = fill(&from, &to, at_in.map(|a| a as u64), len, nb(&output)).map_err(|e| {
                if e == crate::errno::Errno(21) {
                    EINVAL
                } else {
                    e
                }
            })?;
            at_in = at_in.map(|a| a + n as i64);
            n
        }
        (false, false) => return Err(EINVAL),
    };
    if let Some(a) = at_out {
        mm::write_user(off_out, &a).map_err(|_| EFAULT)?;
    }
    if let Some(a) = at_in {
        mm::write_user(off_in, &a).map_err(|_| EFAULT)?;
    }
    Ok(moved as u64)
}

/// `tee`: copies up to `len` bytes of what pipe `fd_in` holds into pipe
/// `fd_out`, leaving them in `fd_in`; waits for bytes (0: no writer is
/// left) and for room, as Linux does.
pub fn tee([fd_in, fd_out, len, flags, ..]: Args) -> SysResult {
    if flags & !SPLICE_F_ALL != 0 {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let (input, output) = (table::get(fd_in)?, table::get(fd_out)?);
    input.readable().map_err(|_| EBADF)?;
    output.writable().map_err(|_| EBADF)?;
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || (input.status() | output.status()) & O_NONBLOCK != 0;
    let len = len.min(CHUNK) as usize;
    match (end_of(&input)?, end_of(&output)?) {
        (End::Kernel(a), End::Kernel(b)) => {
            if alloc::sync::Arc::ptr_eq(&a, &b) {
                return Err(EINVAL);
            }
            let data = pipe::peek(&a, len, nonblock)?;
            if data.is_empty() {
                return Ok(0);
            }
            let room = pipe::wait_for_room(&b, nonblock).inspect_err(|e| raise_on_epipe(*e))?;
            let n = pipe::write_kernel(&b, &data[..room.min(data.len())], true).inspect_err(|e| raise_on_epipe(*e))?;
            Ok(n)
        }
        (End::HostPipe(a), End::HostPipe(b)) => loop {
            match host::simple(op::TEE, &[a, b, len as u64]) {
                Err(EAGAIN) if !nonblock => {
                    // Nothing to copy, or no room: wait for whichever is missing.
                    if super::poll::host_ready(a, POLLIN)? {
                        super::poll::wait_host(b, POLLOUT)?;
                    } else {
                        super::poll::wait_host(a, POLLIN)?;
                    }
                }
                r => return r.inspect_err(|e| raise_on_epipe(*e)),
            }
        },
        // A kernel pipe and a host one (after a fork): every pipe moves to
        // the host, and the call starts again with both there.
        (End::Kernel(_), End::HostPipe(_)) | (End::HostPipe(_), End::Kernel(_)) => {
            pipe::move_to_host()?;
            Err(ERESTARTNOINTR)
        }
        _ => Err(EINVAL),
    }
}

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;

/// From a pipe to anything: what the pipe holds (waiting for some), up to `len`.
fn pass(from: &End, to: &End, at: Option<u64>, len: usize, nonblock: bool) -> Result<usize, Errno> {
    let data = match from {
        End::Kernel(p) => pipe::peek(p, len, nonblock)?,
        End::HostPipe(h) => read_host(*h, None, len)?,
        _ => return Err(EINVAL),
    };
    if data.is_empty() {
        return Ok(0);
    }
    let written = write_to(to, at, &data, nonblock)?;
    if let End::Kernel(p) = from {
        pipe::consume(p, written);
    }
    Ok(written)
}

/// From a file or socket into a pipe: as much as the pipe has room for.
fn fill(from: &End, to: &End, at: Option<u64>, len: usize, nonblock: bool) -> Result<usize, Errno> {
    let room = match to {
        End::Kernel(p) => pipe::wait_for_room(p, nonblock).inspect_err(|e| raise_on_epipe(*e))?,
        _ => len,
    };
    let data = match from {
        End::Host(h, _) => read_host(*h, at, len.min(room))?,
        _ => return Err(EINVAL),
    };
    if data.is_empty() {
        return Ok(0);
    }
    write_to(to, None, &data, false)
}

fn read_host(h: u64, at: Option<u64>, len: usize) -> Result<Vec<u8>, Errno> {
    super::fs::read_chunk(h, at, &mut alloc::vec![0u8; len])
}

/// Writes `data`: to a kernel pipe as a write does (all of it, or what
/// fits without blocking); elsewhere all of it. Bytes written.
fn write_to(to: &End, at: Option<u64>, data: &[u8], nonblock: bool) -> Result<usize, Errno> {
    match to {
        End::Kernel(p) => pipe::write_kernel(p, data, nonblock).map(|n| n as usize).inspect_err(|e| raise_on_epipe(*e)),
        End::Device(d) => super::fs::device_write(*d, data.len() as u64).map(|n| n as usize),
        End::HostPipe(h) | End::Host(h, _) => {
            let mut sent = 0;
            while sent < data.len() {
                let r = match at {
                    Some(a) => host::path_request(op::PWRITE, &[*h, a + sent as u64], &[&data[sent..]], &mut []).0,
                    None => host::path_request(op::WRITE, &[*h], &[&data[sent..]], &mut []).0,
                };
                match r {
                    Ok(0) => break,
                    Ok(n) => sent += n as usize,
                    Err(e) if sent == 0 => {
                        raise_on_epipe(e);
                        return Err(e);
                    }
                    Err(_) => break,
                }
            }
            Ok(sent)
        }
        _ => Err(EINVAL),
    }
}

/// A write to a pipe without readers raises SIGPIPE, as Linux's splice does.
fn raise_on_epipe(e: Errno) {
    if e == EPIPE {
        super::signal::raise(super::fs::SIGPIPE);
    }
}

pub fn vmsplice([fd, iov, nr_segs, flags, ..]: Args) -> SysResult {
    if flags & !SPLICE_F_ALL != 0 {
        return Err(EINVAL);
    }
    let file = table::get(fd)?;
    let writing = file.writable().is_ok();
    if !writing && file.readable().is_err() {
        return Err(EBADF);
    }
    if nr_segs > 1024 {
        return Err(EINVAL);
    }
    let mut segs = Vec::new();
    for i in 0..nr_segs {
        let seg: [u64; 2] = mm::read_user(iov + 16 * i).map_err(|_| EFAULT)?;
        if (seg[1] as i64) < 0 {
            return Err(EINVAL);
        }
        segs.push(seg);
    }
    let end = end_of(&file)?;
    if !is_pipe(&end) {
        return Err(EBADF);
    }
    let total: u64 = segs.iter().map(|s| s[1]).sum();
    if total == 0 {
        return Ok(0);
    }
    let nonblock = flags & SPLICE_F_NONBLOCK != 0 || file.status() & O_NONBLOCK != 0;
    match (&end, writing) {
        // Into a kernel pipe: as much as fits once there is room.
        (End::Kernel(p), true) => {
            let room = pipe::wait_for_room(p, nonblock).inspect_err(|e| raise_on_epipe(*e))? as u64;
            let mut data = Vec::new();
            for s in &segs {
                let take = s[1].min(room - data.len() as u64);
                let mut part = alloc::vec![0u8; take as usize];
                mm::copy_from_user(s[0], &mut part)?;
                data.extend(part);
                if data.len() as u64 == room {
                    break;
                }
            }
            pipe::write_kernel(p, &data, true)
        }
        // Out of a kernel pipe: what it holds (waiting for some), up to the total.
        (End::Kernel(p), false) => {
            let data = pipe::peek(p, total as usize, nonblock)?;
            let mut done = 0usize;
            for s in &segs {
                let n = (s[1] as usize).min(data.len() - done);
                mm::copy_to_user(s[0], &data[done..done + n])?;
                done += n;
            }
            pipe::consume(p, done);
            Ok(done as u64)
        }
        (_, true) => super::fs::writev([fd, iov, nr_segs, 0, 0, 0]),
        (_, false) => super::fs::readv([fd, iov, nr_segs, 0, 0, 0]),
    }
}
