//! The standard streams: the guest's descriptors 0–2 start out as hx-run's own.
use crate::memory::GuestRam;
use anyhow::{bail, Result};
use hx_abi::hypercall::Segment;

fn host_fd(stream: u64) -> Result<i32> {
    match stream {
        0..=2 => Ok(stream as i32),
        _ => bail!("request names host stream {stream}, which does not exist"),
    }
}

fn errno() -> i64 {
    -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as i64)
}

/// Retries a host call that a signal interrupted (hx-run's Ctrl-C handler).
fn retry(mut f: impl FnMut() -> isize) -> i64 {
    loop {
        let n = f();
        if n >= 0 {
            return n as i64;
        }
        let e = errno();
        if e != -(libc::EINTR as i64) {
            return e;
        }
    }
}

pub fn write(mem: &GuestRam, stream: u64, segs: &[Segment]) -> Result<i64> {
    let fd = host_fd(stream)?;
    let iovs = mem.iovecs(segs)?;
    // SAFETY: the iovecs point into guest RAM, checked by `iovecs`.
    Ok(retry(|| unsafe { libc::writev(fd, iovs.as_ptr(), iovs.len() as i32) }))
}

pub fn read(mem: &GuestRam, stream: u64, segs: &[Segment]) -> Result<i64> {
    let fd = host_fd(stream)?;
    let iovs = mem.iovecs(segs)?;
    // SAFETY: as in `write`; the host writes only into guest RAM.
    Ok(retry(|| unsafe { libc::readv(fd, iovs.as_ptr(), iovs.len() as i32) }))
}

/// Copies a host-filled structure into the guest's one segment.
fn answer(mem: &GuestRam, segs: &[Segment], bytes: &[u8]) -> Result<()> {
    let Some(s) = segs.first() else { bail!("request without a result buffer") };
    let n = bytes.len().min(s.len as usize);
    mem.write(s.phys, &bytes[..n])
}

pub fn fstat(mem: &GuestRam, stream: u64, segs: &[Segment]) -> Result<i64> {
    let fd = host_fd(stream)?;
    // SAFETY: an all-zero `stat` is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one struct stat we own.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Ok(errno());
    }
    // SAFETY: viewing a plain C struct as its bytes (same layout as the guest's).
    let bytes =
        unsafe { std::slice::from_raw_parts(&st as *const libc::stat as *const u8, std::mem::size_of::<libc::stat>()) };
    answer(mem, segs, bytes)?;
    Ok(0)
}

pub fn tty_ioctl(mem: &GuestRam, stream: u64, cmd: u64, segs: &[Segment]) -> Result<i64> {
    let fd = host_fd(stream)?;
    if cmd != libc::TCGETS && cmd != libc::TIOCGWINSZ {
        bail!("terminal ioctl {cmd:#x} is not one the monitor serves");
    }
    let mut buf = [0u8; 64];
    // SAFETY: TCGETS writes a kernel termios (36 bytes) and TIOCGWINSZ a winsize (8 bytes) into `buf`.
    if unsafe { libc::ioctl(fd, cmd, buf.as_mut_ptr()) } < 0 {
        return Ok(errno());
    }
    answer(mem, segs, &buf)?;
    Ok(0)
}
