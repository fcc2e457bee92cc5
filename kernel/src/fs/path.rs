//! Turning a (dirfd, path) pair into the absolute guest path the monitor
//! resolves. `..` and symlinks are left to the monitor's walk, which resolves
//! them in the guest's namespace; only the working directory lives here.
use super::table;
use crate::errno::{Errno, ENAMETOOLONG, ENOENT, ENOTDIR};
use crate::mm;
use alloc::vec::Vec;
use spin::Mutex;

pub const AT_FDCWD: u64 = -100i64 as u64;
pub const PATH_MAX: usize = 4096;

static CWD: Mutex<Vec<u8>> = Mutex::new(Vec::new());

pub fn init(cwd: &[u8]) {
    *CWD.lock() = if cwd.is_empty() { b"/".to_vec() } else { cwd.to_vec() };
}

pub fn cwd() -> Vec<u8> {
    CWD.lock().clone()
}

pub fn set_cwd(path: Vec<u8>) {
    *CWD.lock() = path;
}

/// `from` was renamed to `to`: if the working directory is `from` or lies
/// below it, it follows (whether it moved).
pub fn cwd_moved(from: &[u8], to: &[u8]) -> bool {
    let mut cwd = CWD.lock();
    let current = tidy(&cwd);
    let (Some(from), Some(to)) = (lexical(from, &current), lexical(to, &current)) else { return false };
    if from == b"/" {
        return false;
    }
    let Some(rest) = current.strip_prefix(from.as_slice()) else { return false };
    if !rest.is_empty() && rest.first() != Some(&b'/') {
        return false;
    }
    let mut moved = to;
    moved.extend_from_slice(rest);
    *cwd = moved;
    true
}

/// `path` with its `..` taken away, where that is sure: a `..` may only
/// climb out of components of `resolved` (the working directory, a path
/// the monitor resolved: real directories), never out of a name that may
/// be a symlink. None where unsure.
fn lexical(path: &[u8], resolved: &[u8]) -> Option<Vec<u8>> {
    let known: Vec<&[u8]> = resolved.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    let mut stack: Vec<&[u8]> = Vec::new();
    for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".") {
        if c == b".." {
            // Climbing is sure only along the resolved path.
            if !known.starts_with(&stack) {
                return None;
            }
            stack.pop();
        } else {
            stack.push(c);
        }
    }
    let mut out = Vec::new();
    for c in stack {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Some(out)
}

/// Reads the path argument at `ptr` (EFAULT, ENAMETOOLONG as Linux).
pub fn read(ptr: u64) -> Result<Vec<u8>, Errno> {
    mm::read_cstr(ptr, PATH_MAX - 1)
}

/// The absolute guest path of `path` relative to `dirfd`.
pub fn absolute(dirfd: u64, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.is_empty() {
        return Err(ENOENT);
    }
    if path[0] == b'/' {
        return Ok(path.to_vec());
    }
    let mut base =
        if dirfd as u32 as i32 == -100 || dirfd == AT_FDCWD { cwd() } else { table::get(dirfd)?.path.clone() };
    // A pipe, a socket, an eventfd... (named `pipe:[n]` and the like, no
    // path in the file system) is no directory to look a name up in.
    if base.first() != Some(&b'/') {
        return Err(ENOTDIR);
    }
    if base.last() != Some(&b'/') {
        base.push(b'/');
    }
    base.extend_from_slice(path);
    if base.len() >= PATH_MAX {
        return Err(ENAMETOOLONG);
    }
    Ok(base)
}

/// Reads the path at `ptr` and makes it absolute against `dirfd`.
pub fn at(dirfd: u64, ptr: u64) -> Result<Vec<u8>, Errno> {
    absolute(dirfd, &read(ptr)?)
}

/// `path` with `.` components and repeated slashes removed (no `..` handling):
/// the form special paths such as `/dev/null` are matched in.
pub fn tidy(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".") {
        out.push(b'/');
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}
