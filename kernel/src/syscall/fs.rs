//! Descriptor I/O: read/write and friends, stat, terminal ioctls, readlink.
use super::Args;
use crate::errno::{SysResult, EFAULT, EINVAL, ENOENT, ENOTTY};
use crate::fd::{self, File};
use crate::{host, mm};

const AT_EMPTY_PATH: u64 = 0x1000;
const TCGETS: u64 = 0x5401;
const TIOCGWINSZ: u64 = 0x5413;
const STAT_SIZE: usize = 144;
// The kernel's `struct termios` (the ioctl ABI), not libc's larger one.
const TERMIOS_SIZE: usize = 36;
const WINSIZE_SIZE: usize = 8;
const IOV_MAX: u64 = 1024;

pub fn read([fd, buf, count, ..]: Args) -> SysResult {
    match fd::get(fd)? {
        File::Host(h) => host::read(h, buf, count),
    }
}

pub fn write([fd, buf, count, ..]: Args) -> SysResult {
    match fd::get(fd)? {
        File::Host(h) => host::write(h, buf, count),
    }
}

/// The `(base, len)` pairs of an iovec array.
fn iovecs(iov: u64, count: u64) -> Result<alloc::vec::Vec<(u64, u64)>, crate::errno::Errno> {
    if count > IOV_MAX {
        return Err(EINVAL);
    }
    let mut raw = alloc::vec![0u8; count as usize * 16];
    mm::copy_from_user(iov, &mut raw)?;
    let v: alloc::vec::Vec<(u64, u64)> = raw
        .chunks_exact(16)
        .map(|c| (u64::from_le_bytes(c[..8].try_into().unwrap()), u64::from_le_bytes(c[8..].try_into().unwrap())))
        .collect();
    if v.iter().try_fold(0u64, |acc, &(_, l)| acc.checked_add(l)).is_none_or(|t| t > i64::MAX as u64) {
        return Err(EINVAL);
    }
    Ok(v)
}

pub fn writev([fd, iov, count, ..]: Args) -> SysResult {
    let file = fd::get(fd)?;
    let iovs = iovecs(iov, count)?;
    match file {
        File::Host(h) => host::write_iov(h, &iovs),
    }
}

pub fn readv([fd, iov, count, ..]: Args) -> SysResult {
    let file = fd::get(fd)?;
    let iovs = iovecs(iov, count)?;
    let mut total = 0;
    for (base, len) in iovs {
        let n = match file {
            File::Host(h) => host::read(h, base, len),
        };
        match n {
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

pub fn close([fd, ..]: Args) -> SysResult {
    fd::close(fd).map(|_| 0)
}

pub fn fstat([fd, statbuf, ..]: Args) -> SysResult {
    let mut st = [0u8; STAT_SIZE];
    match fd::get(fd)? {
        File::Host(h) => host::fstat(h, &mut st)?,
    };
    mm::copy_to_user(statbuf, &st)?;
    Ok(0)
}

pub fn newfstatat([dirfd, path, statbuf, flags, ..]: Args) -> SysResult {
    let name = mm::read_cstr(path, 4096)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fstat([dirfd, statbuf, 0, 0, 0, 0]);
    }
    // No file system is mounted in the guest yet.
    Err(ENOENT)
}

pub fn ioctl([fd, cmd, arg, ..]: Args) -> SysResult {
    let File::Host(h) = fd::get(fd)?;
    let len = match cmd {
        TCGETS => TERMIOS_SIZE,
        TIOCGWINSZ => WINSIZE_SIZE,
        _ => return Err(ENOTTY),
    };
    let mut out = [0u8; TERMIOS_SIZE];
    host::tty_ioctl(h, cmd, &mut out[..len])?;
    mm::copy_to_user(arg, &out[..len]).map_err(|_| EFAULT)?;
    Ok(0)
}

pub fn readlink([path, buf, size, ..]: Args) -> SysResult {
    readlinkat([crate::syscall::process::AT_FDCWD, path, buf, size, 0, 0])
}

pub fn readlinkat([_dirfd, path, buf, size, ..]: Args) -> SysResult {
    if size as i64 <= 0 {
        return Err(EINVAL);
    }
    let name = mm::read_cstr(path, 4096)?;
    if name == b"/proc/self/exe" {
        let exe = crate::exe_path();
        let n = exe.len().min(size as usize);
        mm::copy_to_user(buf, &exe[..n])?;
        return Ok(n as u64);
    }
    Err(ENOENT)
}
