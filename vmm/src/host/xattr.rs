//! `op::XATTR`: extended attributes of host files, in the `user.`
//! namespace only — the one an unprivileged Linux process owns. `trusted.`
//! and `security.` read as absent (a host file's label is not the guest's
//! to see) and cannot be set (`EPERM`, as for a process without the
//! privilege); `system.` (ACLs) is `EOPNOTSUPP`, as on a file system
//! without ACLs. Names, sizes and flags are checked as Linux
//! checks them before any host call; the file is opened through the
//! sandbox (a change needs a read-write mount) and only the descriptor
//! calls (`f*xattr`) reach the host, so no path is walked there.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::files::{sys, Files};
use super::guest::Segs;
use crate::sandbox::Errno;
use hx_abi::hypercall::{NO_HANDLE, XATTR_GET, XATTR_LIST, XATTR_REMOVE, XATTR_SET};
use std::ffi::CString;
use std::os::fd::AsRawFd;

/// Linux's `XATTR_NAME_MAX`, `XATTR_SIZE_MAX` and `XATTR_LIST_MAX`.
const NAME_MAX: usize = 255;
const SIZE_MAX: usize = 65536;
const LIST_MAX: usize = 65536;
const XATTR_CREATE: u64 = 1;
const XATTR_REPLACE: u64 = 2;
const USER: &[u8] = b"user.";
/// POSIX ACLs (`system.posix_acl_access`, `_default`) and the rest of
/// `system.`: the guest's mounts are file systems without ACLs (a host
/// file's ACL is not the guest's, and one set by the guest would grant host
/// users access), so they answer `EOPNOTSUPP` as Linux does on such a file
/// system — what `cp -a`, `tar --acls` and `rsync -A` take for "no ACLs
/// here" and go on with the mode bits.
const SYSTEM: &[u8] = b"system.";

pub fn serve(files: &Files, a: &[u64; 8], segs: &Segs) -> Result<i64, Errno> {
    let (call, handle, follow, flags) = (a[0], a[1], a[2] != 0, a[3]);
    let path = if handle == NO_HANDLE { Some(segs.path(0)?) } else { None };
    let room = segs.get(2).map_or(0, |s| s.len as usize);
    match call {
        XATTR_GET => {
            let name = name(segs)?;
            let Some(file) = files.xattr_target(path.as_deref(), handle, follow, false)? else {
                return Err(libc::ENODATA);
            };
            if name.as_bytes().starts_with(SYSTEM) {
                return Err(libc::EOPNOTSUPP);
            }
            if !name.as_bytes().starts_with(USER) {
                return Err(libc::ENODATA);
            }
            let mut value = vec![0u8; room.min(SIZE_MAX)];
            // SAFETY: reads at most `value.len()` bytes into our buffer.
            let n = sys(|| unsafe {
                libc::fgetxattr(file.as_raw_fd(), name.as_ptr(), value.as_mut_ptr().cast(), value.len())
            })?;
            segs.write(2, value.get(..n as usize).unwrap_or_default())?;
            Ok(n)
        }
        XATTR_LIST => {
            let Some(file) = files.xattr_target(path.as_deref(), handle, follow, false)? else {
                return Ok(0);
            };
            let mut all = vec![0u8; LIST_MAX];
            // SAFETY: writes at most `all.len()` bytes into our buffer.
            let n = sys(|| unsafe { libc::flistxattr(file.as_raw_fd(), all.as_mut_ptr().cast(), all.len()) })?;
            let users: Vec<u8> = all
                .get(..n as usize)
                .unwrap_or_default()
                .split_inclusive(|&b| b == 0)
                .filter(|name| name.starts_with(USER))
                .flatten()
                .copied()
                .collect();
            if room == 0 {
                return Ok(users.len() as i64);
            }
            if users.len() > room {
                return Err(libc::ERANGE);
            }
            segs.write(2, &users)?;
            Ok(users.len() as i64)
        }
        XATTR_SET => {
            if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
                return Err(libc::EINVAL);
            }
            let name = name(segs)?;
            let value = segs.bytes(2, SIZE_MAX, libc::E2BIG)?;
            let file = writable_user_attribute(files, path.as_deref(), handle, follow, &name)?;
            // SAFETY: sets one attribute from our buffer on a descriptor we hold.
            sys(|| unsafe {
                libc::fsetxattr(file.as_raw_fd(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags as i32)
                    as isize
            })
        }
        XATTR_REMOVE => {
            let name = name(segs)?;
            let file = writable_user_attribute(files, path.as_deref(), handle, follow, &name)?;
            // SAFETY: removes one attribute of a descriptor we hold.
            sys(|| unsafe { libc::fremovexattr(file.as_raw_fd(), name.as_ptr()) } as isize)
        }
        _ => Err(libc::EINVAL),
    }
}

/// The attribute name in segment 1: `ERANGE` if empty or too long, as Linux;
/// `EOPNOTSUPP` outside the namespaces Linux knows.
fn name(segs: &Segs) -> Result<CString, Errno> {
    let name = segs.bytes(1, NAME_MAX, libc::ERANGE)?;
    if name.is_empty() {
        return Err(libc::ERANGE);
    }
    let known = [&b"user."[..], b"trusted.", b"security.", b"system."];
    if !known.iter().any(|p| name.starts_with(p)) {
        return Err(libc::EOPNOTSUPP);
    }
    CString::new(name).map_err(|_| libc::EINVAL)
}

/// The open file whose `user.` attribute `name` a call changes: `EPERM` for
/// another namespace or a file that cannot carry one (Linux's answers to an
/// unprivileged process), `EROFS` in a read-only mount.
fn writable_user_attribute(
    files: &Files,
    path: Option<&[u8]>,
    handle: u64,
    follow: bool,
    name: &CString,
) -> Result<std::sync::Arc<std::os::fd::OwnedFd>, Errno> {
    let file = files.xattr_target(path, handle, follow, true)?;
    if name.as_bytes().starts_with(SYSTEM) {
        return Err(libc::EOPNOTSUPP);
    }
    if !name.as_bytes().starts_with(USER) {
        return Err(libc::EPERM);
    }
    file.ok_or(libc::EPERM)
}
