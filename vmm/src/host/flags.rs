//! What the guest may ask of the host, as allow-lists: the flags of every file
//! request and the mode bits of every file it creates or changes. A bit that is
//! not listed never reaches a host call.
use crate::sandbox::Errno;

/// `open` flags passed on to the host; others are dropped, as Linux ignores
/// unknown ones (`O_ASYNC` in particular would signal hx-run itself).
const OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_LARGEFILE
    | libc::O_NOATIME
    | libc::O_DIRECT
    | libc::O_PATH;

/// Status flags `fcntl(F_SETFL)` may change (Linux's set, without `O_ASYNC`).
const STATUS_FLAGS: i32 = libc::O_APPEND | libc::O_NONBLOCK | libc::O_DIRECT | libc::O_NOATIME;

/// Permission bits the guest may give a host file: never set-user-ID or
/// set-group-ID (as a rootless container), whatever the guest asks.
const MODE_BITS: u32 = 0o1777;

/// Host `open` flags for guest flags `flags`: always `O_NOFOLLOW` (the walk
/// resolved every symlink) and `O_CLOEXEC`.
pub fn open(flags: i32) -> Result<i32, Errno> {
    if flags & libc::O_ACCMODE == libc::O_ACCMODE {
        return Err(libc::EINVAL);
    }
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        // An unnamed file in the directory named (Linux: written or read
        // and written, never created by name).
        if flags & libc::O_ACCMODE == libc::O_RDONLY || flags & libc::O_CREAT != 0 {
            return Err(libc::EINVAL);
        }
        return Ok(flags & OPEN_FLAGS & !libc::O_CREAT | libc::O_TMPFILE | libc::O_CLOEXEC);
    }
    if flags & libc::O_PATH != 0 {
        // A handle on the name only (Linux ignores the other flags): no
        // access to the file's bytes, nothing created or truncated.
        return Ok(libc::O_PATH | (flags & libc::O_DIRECTORY) | libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    Ok(flags & OPEN_FLAGS | libc::O_NOFOLLOW | libc::O_CLOEXEC)
}

/// openat2's rules for an `OPEN` of `path`: `RESOLVE_*` flags `resolve`
/// (magic links and `RESOLVE_CACHED` are the kernel's: the monitor's mounts
/// hold none, and every lookup counts as cached), acting from the start
/// directory named by the first `base_len` bytes of `path`.
pub fn resolve(resolve: u64, base_len: u64, path: &[u8]) -> Result<crate::sandbox::Rules, Errno> {
    use crate::sandbox::{Rules, Scope};
    const NO_XDEV: u64 = 0x01;
    const NO_MAGICLINKS: u64 = 0x02;
    const NO_SYMLINKS: u64 = 0x04;
    const BENEATH: u64 = 0x08;
    const IN_ROOT: u64 = 0x10;
    const CACHED: u64 = 0x20;
    if resolve & !(NO_XDEV | NO_MAGICLINKS | NO_SYMLINKS | BENEATH | IN_ROOT | CACHED) != 0 {
        return Err(libc::EINVAL);
    }
    let base_len = usize::try_from(base_len).map_err(|_| libc::EINVAL)?;
    // The start is a whole path of components: the rest begins with '/'.
    if base_len > path.len() || (base_len > 0 && base_len < path.len() && path.get(base_len) != Some(&b'/')) {
        return Err(libc::EINVAL);
    }
    let scope = match (resolve & BENEATH != 0, resolve & IN_ROOT != 0) {
        (true, true) => return Err(libc::EINVAL),
        (true, false) => Scope::Beneath,
        (false, true) => Scope::InRoot,
        (false, false) => Scope::None,
    };
    Ok(Rules::new(base_len, resolve & NO_SYMLINKS != 0, resolve & NO_XDEV != 0, scope))
}

pub fn status(flags: u64) -> i32 {
    flags as i32 & STATUS_FLAGS
}

pub fn mode(mode: u64) -> u32 {
    mode as u32 & MODE_BITS
}

/// A user or group id for `chown`: 32 bits, `u32::MAX` (C's `-1`) for "unchanged".
pub fn owner(id: u64) -> Result<u32, Errno> {
    u32::try_from(id).map_err(|_| libc::EINVAL)
}

/// Whether a request that takes a "do not follow" argument (`CHOWN`) follows
/// a final symlink: 0 follows, 1 does not.
pub fn follows(nofollow: u64) -> Result<bool, Errno> {
    match nofollow {
        0 => Ok(true),
        1 => Ok(false),
        _ => Err(libc::EINVAL),
    }
}

/// `renameat2` flags: `RENAME_NOREPLACE` or `RENAME_EXCHANGE`. `RENAME_WHITEOUT`
/// creates a device node, which an unprivileged process may not.
pub fn rename(flags: u64) -> Result<u32, Errno> {
    let flags = u32::try_from(flags).map_err(|_| libc::EINVAL)?;
    match flags {
        0 | libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE => Ok(flags),
        f if f & libc::RENAME_WHITEOUT != 0 && f & !(libc::RENAME_WHITEOUT | libc::RENAME_NOREPLACE) == 0 => {
            Err(libc::EPERM)
        }
        _ => Err(libc::EINVAL),
    }
}

/// `unlinkat` flags: 0 or `AT_REMOVEDIR`.
pub fn unlink(flags: u64) -> Result<i32, Errno> {
    match flags {
        0 => Ok(0),
        f if f == libc::AT_REMOVEDIR as u64 => Ok(libc::AT_REMOVEDIR),
        _ => Err(libc::EINVAL),
    }
}

/// `linkat` flags: whether the source's final symlink is followed (the walk
/// follows it in the guest; the host call never does).
pub fn link_follows(flags: u64) -> Result<bool, Errno> {
    match flags {
        0 => Ok(false),
        f if f == libc::AT_SYMLINK_FOLLOW as u64 => Ok(true),
        _ => Err(libc::EINVAL),
    }
}

/// `access` mode: `F_OK` or any of `R_OK | W_OK | X_OK`.
pub fn access(mode: u64) -> Result<i32, Errno> {
    if mode & !7 != 0 {
        return Err(libc::EINVAL);
    }
    Ok(mode as i32)
}

/// `lseek` whence: SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE.
pub fn whence(whence: u64) -> Result<i32, Errno> {
    if whence > libc::SEEK_HOLE as u64 {
        return Err(libc::EINVAL);
    }
    Ok(whence as i32)
}
