//! Extended attributes: the `user.` attributes of host files, read and
//! written by the monitor through its sandbox (`op::XATTR`); another
//! namespace reads as absent and cannot be set, as for an unprivileged
//! Linux process. Files the guest kernel makes (`/proc`, pipes, event
//! files) carry none, as their Linux counterparts carry no `user.` ones.
use super::Args;
use crate::errno::{Errno, SysResult, E2BIG, EOPNOTSUPP, EPERM, ERANGE};
use crate::fs::{path, proc, table, Kind};
use crate::{host, mm};
use alloc::vec;
use alloc::vec::Vec;
use hx_abi::hypercall::{op, NO_HANDLE, XATTR_GET, XATTR_LIST, XATTR_REMOVE, XATTR_SET};

const ENODATA: Errno = Errno(61);
/// Linux's `XATTR_NAME_MAX`, `XATTR_SIZE_MAX` and `XATTR_LIST_MAX`.
const NAME_MAX: usize = 255;
const SIZE_MAX: u64 = 65536;
const LIST_MAX: u64 = 65536;

/// What a call names: a host file (by path or handle), or a file with no
/// `user.` attributes (answered here: what a get, list or change says).
enum Target {
    /// A path, and whether a final symlink is followed.
    Path(Vec<u8>, bool),
    Handle(u64),
    Without(Errno),
}

/// The file at `pathname` (a `/proc` file: none of its own).
fn by_path(pathname: u64, follow: bool) -> Result<Target, Errno> {
    match proc::stat(path::at(path::AT_FDCWD, pathname)?, follow) {
        proc::Then::Host(abs) => Ok(Target::Path(abs, follow)),
        proc::Then::Done(r) => r.map(|_| Target::Without(EOPNOTSUPP)),
    }
}

/// The file open at `fd`.
fn by_fd(fd: u64) -> Result<Target, Errno> {
    let file = table::get(fd)?;
    file.usable()?;
    Ok(match file.kind {
        Kind::Host(h) => Target::Handle(h),
        Kind::Generated(_) => Target::Without(EOPNOTSUPP),
        // Pipes, devices, event files: not regular files or directories.
        _ => Target::Without(ENODATA),
    })
}

/// The attribute name at `name`: `ERANGE` if empty or too long, as Linux.
fn read_name(name: u64) -> Result<Vec<u8>, Errno> {
    match mm::read_cstr(name, NAME_MAX) {
        Ok(n) if n.is_empty() => Err(ERANGE),
        Ok(n) => Ok(n),
        Err(crate::errno::ENAMETOOLONG) => Err(ERANGE),
        Err(e) => Err(e),
    }
}

/// One request: the path (if any), the name, then `buf` (the value or list).
fn request(call: u64, target: &Target, flags: u64, name: &[u8], buf: &mut [u8]) -> SysResult {
    let (handle, path, follow): (u64, &[u8], bool) = match target {
        Target::Path(p, follow) => (NO_HANDLE, p, *follow),
        Target::Handle(h) => (*h, b"", true),
        Target::Without(_) => return Err(EOPNOTSUPP),
    };
    host::path_request(op::XATTR, &[call, handle, u64::from(follow), flags], &[path, name], &mut [buf]).0
}

fn get(target: Result<Target, Errno>, name: u64, value: u64, size: u64) -> SysResult {
    let name = read_name(name)?;
    let target = target?;
    if let Target::Without(e) = target {
        return Err(e);
    }
    let mut buf = vec![0u8; size.min(SIZE_MAX) as usize];
    let n = request(XATTR_GET, &target, 0, &name, &mut buf)?;
    if size > 0 {
        mm::copy_to_user(value, &buf[..(n as usize).min(buf.len())])?;
    }
    Ok(n)
}

fn list(target: Result<Target, Errno>, out: u64, size: u64) -> SysResult {
    let target = target?;
    if let Target::Without(_) = target {
        return Ok(0);
    }
    let mut buf = vec![0u8; size.min(LIST_MAX) as usize];
    let n = request(XATTR_LIST, &target, 0, &[], &mut buf)?;
    if size > 0 {
        mm::copy_to_user(out, &buf[..(n as usize).min(buf.len())])?;
    }
    Ok(n)
}

fn set(target: impl FnOnce() -> Result<Target, Errno>, name: u64, value: u64, size: u64, flags: u64) -> SysResult {
    const XATTR_CREATE: u64 = 1;
    const XATTR_REPLACE: u64 = 2;
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(crate::errno::EINVAL);
    }
    let name = read_name(name)?;
    if size > SIZE_MAX {
        return Err(E2BIG);
    }
    let mut v = vec![0u8; size as usize];
    mm::copy_from_user(value, &mut v)?;
    match target()? {
        Target::Without(ENODATA) => Err(EPERM),
        t => request(XATTR_SET, &t, flags, &name, &mut v),
    }
}

fn remove(target: Result<Target, Errno>, name: u64) -> SysResult {
    let name = read_name(name)?;
    match target? {
        Target::Without(ENODATA) => Err(EPERM),
        t => request(XATTR_REMOVE, &t, 0, &name, &mut []),
    }
}

pub fn getxattr([p, name, value, size, ..]: Args) -> SysResult {
    get(by_path(p, true), name, value, size)
}

pub fn lgetxattr([p, name, value, size, ..]: Args) -> SysResult {
    get(by_path(p, false), name, value, size)
}

pub fn fgetxattr([fd, name, value, size, ..]: Args) -> SysResult {
    get(by_fd(fd), name, value, size)
}

pub fn listxattr([p, list_out, size, ..]: Args) -> SysResult {
    list(by_path(p, true), list_out, size)
}

pub fn llistxattr([p, list_out, size, ..]: Args) -> SysResult {
    list(by_path(p, false), list_out, size)
}

pub fn flistxattr([fd, list_out, size, ..]: Args) -> SysResult {
    list(by_fd(fd), list_out, size)
}

pub fn setxattr([p, name, value, size, flags, ..]: Args) -> SysResult {
    set(|| by_path(p, true), name, value, size, flags)
}

pub fn lsetxattr([p, name, value, size, flags, ..]: Args) -> SysResult {
    set(|| by_path(p, false), name, value, size, flags)
}

pub fn fsetxattr([fd, name, value, size, flags, ..]: Args) -> SysResult {
    set(|| by_fd(fd), name, value, size, flags)
}

pub fn removexattr([p, name, ..]: Args) -> SysResult {
    remove(by_path(p, true), name)
}

pub fn lremovexattr([p, name, ..]: Args) -> SysResult {
    remove(by_path(p, false), name)
}

pub fn fremovexattr([fd, name, ..]: Args) -> SysResult {
    remove(by_fd(fd), name)
}
