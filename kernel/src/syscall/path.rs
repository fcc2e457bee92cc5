//! Syscalls that name files by path: open, stat, access, readlink, unlink,
//! mkdir, rename, link, symlink, chdir, getcwd, utimensat, chmod, chown,
//! truncate, statfs, umask. Paths become absolute guest paths here; the monitor
//! resolves them inside its mounts.
use super::fs::stat_of;
use super::{cred, Args};
use crate::errno::{Errno, SysResult, EINVAL, ENOENT, ENOTDIR, ENXIO, ERANGE, EROFS};
use crate::fs::path::{self, AT_FDCWD, PATH_MAX};
use crate::fs::stat::{to_statx, Stat, S_IFDIR, S_IFMT};
use crate::fs::{dev, proc, table, Kind, OpenFile, O_ACCMODE, O_APPEND, O_CLOEXEC, O_NONBLOCK};
use crate::{host, mm};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use hx_abi::hypercall::{op, NO_HANDLE};
use hx_abi::uapi::CAP_CHOWN;

const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const AT_REMOVEDIR: u64 = 0x200;
const AT_SYMLINK_FOLLOW: u64 = 0x400;
const AT_EMPTY_PATH: u64 = 0x1000;
const O_CREAT: u64 = 0o100;
const O_TRUNC: u64 = 0o1000;
const O_WRONLY: u64 = 1;

static UMASK: AtomicU32 = AtomicU32::new(0o022);

pub fn init_umask(mask: u32) {
    UMASK.store(mask & 0o777, Ordering::Relaxed);
}

/// The current mask (for `execve`, which keeps it).
pub fn current_umask() -> u32 {
    UMASK.load(Ordering::Relaxed)
}

pub fn umask([mask, ..]: Args) -> SysResult {
    Ok(UMASK.swap(mask as u32 & 0o777, Ordering::Relaxed) as u64)
}

fn apply_umask(mode: u64) -> u64 {
    mode & 0o7777 & !(UMASK.load(Ordering::Relaxed) as u64)
}

pub fn open([path, flags, mode, ..]: Args) -> SysResult {
    openat([AT_FDCWD, path, flags, mode, 0, 0])
}

pub fn creat([path, mode, ..]: Args) -> SysResult {
    openat([AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0, 0])
}

/// The status flags a description opened with `flags` keeps (what
/// `F_GETFL` and fdinfo show), as Linux's `f_flags`: the open's own flags
/// but those that act only at the open, with `O_LARGEFILE` (forced on 64
/// bits); an `O_PATH` descriptor keeps only `O_PATH`, `O_DIRECTORY` and
/// `O_NOFOLLOW`.
fn open_status(flags: u32) -> u32 {
    use crate::fs::{O_LARGEFILE, O_PATH};
    const O_DSYNC: u32 = 0o10000;
    const O_ASYNC: u32 = 0o20000;
    const O_DIRECT: u32 = 0o40000;
    const O_DIRECTORY: u32 = 0o200000;
    const O_NOFOLLOW: u32 = 0o400000;
    const O_NOATIME: u32 = 0o1000000;
    const O_SYNC: u32 = 0o4010000;
    const O_TMPFILE: u32 = 0o20200000;
    const VALID: u32 = O_ACCMODE
        | O_APPEND
        | O_NONBLOCK
        | O_DSYNC
        | O_SYNC
        | O_ASYNC
        | O_DIRECT
        | O_LARGEFILE
        | O_DIRECTORY
        | O_NOFOLLOW
        | O_NOATIME
        | O_PATH
        | O_TMPFILE;
    if flags & O_PATH != 0 {
        return flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW);
    }
    // O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC and O_CLOEXEC act at the open only.
    (flags | O_LARGEFILE) & VALID
}

pub fn openat([dirfd, path, flags, mode, ..]: Args) -> SysResult {
    open_at(path::at(dirfd, path)?, flags, mode, Resolve::default())
}

/// openat2's `RESOLVE_*` flags, and the bytes of the path that name its
/// start directory (the monitor applies them from there).
#[derive(Clone, Copy, Default)]
struct Resolve {
    flags: u64,
    base_len: u64,
}

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;
const RESOLVE_IN_ROOT: u64 = 0x10;
const RESOLVE_CACHED: u64 = 0x20;

/// Not an errno the program sees: the monitor's walk left its mounts through
/// a symlink for a path the kernel may serve, handed back to look up again.
const REDIRECTED: Errno = Errno(hx_abi::hypercall::EREDIRECT);
/// Asks `STAT`/`ACCESS` for hand-backs (`hx_abi::hypercall::PATH_HAND_BACK`).
const HAND_BACK: u64 = hx_abi::hypercall::PATH_HAND_BACK;
/// Such hand-backs in one lookup before `ELOOP` (they are symlinks followed).
const MAX_REDIRECTS: usize = 40;

/// Runs `attempt` on `abs`, then on each path the monitor hands back
/// (`REDIRECTED`, the path in `next`): a host symlink to `/proc/mounts` or
/// `/dev/null` reaches the kernel's file as the same name given directly.
fn redirecting<T>(
    mut abs: Vec<u8>,
    mut attempt: impl FnMut(Vec<u8>, &mut Vec<u8>) -> Result<T, Errno>,
) -> Result<T, Errno> {
    for _ in 0..MAX_REDIRECTS {
        let mut next = Vec::new();
        match attempt(abs, &mut next) {
            Err(REDIRECTED) => abs = next,
            r => return r,
        }
    }
    Err(crate::errno::ELOOP)
}

fn open_at(abs: Vec<u8>, flags: u64, mode: u64, resolve: Resolve) -> SysResult {
    let status = open_status(flags as u32);
    let cloexec = flags as u32 & O_CLOEXEC != 0;
    let mut resolve = resolve;
    redirecting(abs, |abs, next| {
        if resolve.flags & (RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) != 0 {
            const O_NOFOLLOW: u64 = 0o400000;
            proc::refuse_links(&abs, resolve.flags & RESOLVE_NO_SYMLINKS != 0, flags & O_NOFOLLOW == 0)?;
        }
        let abs = proc::or_host!(proc::open(abs, flags, status, cloexec));
        let r = open_host(abs, flags, mode, status, cloexec, resolve, next);
        // A hand-back keeps only the link rules: the monitor applied the rest.
        resolve = Resolve { flags: resolve.flags & (RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), base_len: 0 };
        r
    })
}

/// The part of `openat` past `/proc`: the kernel's devices and generated
/// files, else the monitor's.
fn open_host(
    abs: Vec<u8>,
    flags: u64,
    mode: u64,
    status: u32,
    cloexec: bool,
    resolve: Resolve,
    next: &mut Vec<u8>,
) -> SysResult {
    if let Some(d) = dev::lookup(&path::tidy(&abs)) {
        let file = OpenFile::new(Kind::Device(d), status, path::tidy(&abs));
        return table::install(Arc::new(file), cloexec);
    }
    if let Some(g) = crate::fs::generated::lookup(&path::tidy(&abs)) {
        if status & O_ACCMODE != crate::fs::O_RDONLY {
            return Err(crate::errno::EACCES);
        }
        let file = OpenFile::new(Kind::Generated(Arc::new(g)), status, path::tidy(&abs));
        return table::install(Arc::new(file), cloexec);
    }
    // A name ending in '/' is a directory's: O_CREAT cannot make one (Linux).
    if flags & O_CREAT != 0 && abs.ends_with(b"/") {
        return Err(crate::errno::EISDIR);
    }
    // O_TMPFILE makes a file too: its mode, less the umask.
    const O_TMPFILE: u64 = 0o20200000;
    let mode = if flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE { apply_umask(mode) } else { 0 };
    let mut resolved = alloc::vec![0u8; PATH_MAX];
    let mut wait_ms = 1;
    let args = [flags, mode, resolve.flags & !(RESOLVE_NO_MAGICLINKS | RESOLVE_CACHED), resolve.base_len];
    let (handle, out) = loop {
        let (r, out) = host::path_request(op::OPEN, &args, &[&abs], &mut [&mut resolved]);
        match r {
            // A FIFO opened for writing before any reader: the monitor never
            // waits at open, so a blocking open waits here (Linux's wait).
            Err(ENXIO) if status & O_NONBLOCK == 0 && status & O_ACCMODE == crate::fs::O_WRONLY && is_fifo(&abs) => {
                if crate::signal::pending() {
                    return Err(crate::errno::ERESTARTSYS);
                }
                crate::sched::block(Some(crate::time::monotonic_ns() + wait_ms * 1_000_000));
                wait_ms = (wait_ms * 2).min(20);
            }
            Err(REDIRECTED) => {
                resolved.truncate(out[2] as usize);
                *next = resolved;
                return Err(REDIRECTED);
            }
            r => break (r?, out),
        }
    };
    resolved.truncate(out[2] as usize);
    // From here the handle is owned by the open file: dropping it closes it.
    let file = Arc::new(OpenFile::new(Kind::Host(handle), status, resolved));
    let fd = table::install(file, cloexec)?;
    // A FIFO opened to read waits, blocking, for a writer (its data or its close).
    if out[3] != 0 && status & O_NONBLOCK == 0 && status & O_ACCMODE == crate::fs::O_RDONLY {
        if let Err(e) = super::poll::wait_host(handle, 1 /* POLLIN */) {
            let _ = table::close(fd);
            return Err(e);
        }
    }
    Ok(fd)
}

/// `openat2`: `openat` with a versioned `struct open_how` (flags, mode and
/// `RESOLVE_*` flags), checked as Linux's `build_open_flags` checks it.
pub fn openat2([dirfd, path_ptr, how, size, ..]: Args) -> SysResult {
    use crate::errno::{E2BIG, EAGAIN, EXDEV};
    const OPEN_HOW_SIZE: u64 = 24;
    const VALID_FLAGS: u64 = 0o3
        | 0o100
        | 0o200
        | 0o400
        | 0o1000
        | 0o2000
        | 0o4000
        | 0o4010000
        | 0o10000
        | 0o20000
        | 0o40000
        | 0o100000
        | 0o200000
        | 0o400000
        | 0o1000000
        | 0o2000000
        | 0o10000000
        | 0o20000000;
    const VALID_RESOLVE: u64 = RESOLVE_NO_XDEV
        | RESOLVE_NO_MAGICLINKS
        | RESOLVE_NO_SYMLINKS
        | RESOLVE_BENEATH
        | RESOLVE_IN_ROOT
        | RESOLVE_CACHED;
    const O_PATH: u64 = 0o10000000;
    const O_TMPFILE: u64 = 0o20200000;
    const O_PATH_FLAGS: u64 = 0o200000 | 0o400000 | O_PATH | 0o2000000;
    if size < OPEN_HOW_SIZE {
        return Err(EINVAL);
    }
    if size > hx_abi::layout::PAGE_SIZE {
        return Err(E2BIG);
    }
    let mut raw = [0u8; OPEN_HOW_SIZE as usize];
    mm::copy_from_user(how, &mut raw)?;
    // A larger struct from a newer program: its fields past ours must be zero.
    if size > OPEN_HOW_SIZE {
        let mut rest = alloc::vec![0u8; (size - OPEN_HOW_SIZE) as usize];
        mm::copy_from_user(how + OPEN_HOW_SIZE, &mut rest)?;
        if rest.iter().any(|&b| b != 0) {
            return Err(E2BIG);
        }
    }
    let field = |i: usize| u64::from_ne_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    let (flags, mode, resolve) = (field(0), field(1), field(2));
    if flags & !VALID_FLAGS != 0 || resolve & !VALID_RESOLVE != 0 {
        return Err(EINVAL);
    }
    if resolve & RESOLVE_BENEATH != 0 && resolve & RESOLVE_IN_ROOT != 0 {
        return Err(EINVAL);
    }
    let creates = flags & O_CREAT != 0 || flags & O_TMPFILE == O_TMPFILE;
    if (creates && mode & !0o7777 != 0) || (!creates && mode != 0) {
        return Err(EINVAL);
    }
    if flags & O_TMPFILE != 0 && (flags & O_TMPFILE != O_TMPFILE || flags & O_ACCMODE as u64 == 0) {
        return Err(EINVAL);
    }
    if flags & O_PATH != 0 && flags & !O_PATH_FLAGS != 0 {
        return Err(EINVAL);
    }
    // Every lookup here may wait for the monitor: nothing counts as cached
    // for a call that would create or truncate (Linux's EAGAIN).
    if resolve & RESOLVE_CACHED != 0 && (flags & (O_TRUNC | O_CREAT) != 0 || flags & O_TMPFILE == O_TMPFILE) {
        return Err(EAGAIN);
    }
    let name = path::read(path_ptr)?;
    if name.is_empty() {
        return Err(ENOENT);
    }
    let absolute = name.first() == Some(&b'/');
    if absolute && resolve & RESOLVE_BENEATH != 0 {
        return Err(EXDEV);
    }
    let scoped = resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0;
    let (abs, base_len) = if absolute && !(scoped && resolve & RESOLVE_IN_ROOT != 0) {
        (name, 0)
    } else {
        // The start directory's path, then the name below it (an absolute
        // name under RESOLVE_IN_ROOT is taken from it).
        let mut base = if dirfd as u32 as i32 == -100 { path::cwd() } else { table::get(dirfd)?.path.clone() };
        if base.first() != Some(&b'/') {
            return Err(ENOTDIR);
        }
        while base.len() > 1 && base.last() == Some(&b'/') {
            base.pop();
        }
        let base_len = if base == b"/" { 0 } else { base.len() };
        base.truncate(base_len);
        base.push(b'/');
        base.extend(name.iter().skip_while(|&&b| b == b'/'));
        if base.len() >= PATH_MAX {
            return Err(crate::errno::ENAMETOOLONG);
        }
        (base, base_len as u64)
    };
    // RESOLVE_NO_XDEV from a start in `/proc` or into it: another mount.
    if resolve & RESOLVE_NO_XDEV != 0 && proc_side(&abs[..base_len as usize]) != proc_side(&abs) {
        return Err(EXDEV);
    }
    open_at(abs, flags, mode, Resolve { flags: resolve, base_len })
}

/// Whether `abs` lies in the kernel's `/proc`.
fn proc_side(abs: &[u8]) -> bool {
    let t = path::tidy(abs);
    t == b"/proc" || t.starts_with(b"/proc/")
}

/// Whether `abs` names a FIFO.
fn is_fifo(abs: &[u8]) -> bool {
    stat_path(abs, true).is_ok_and(|st| st.mode & 0o170000 == 0o010000)
}

pub fn mknod([path, mode, dev, ..]: Args) -> SysResult {
    mknodat([AT_FDCWD, path, mode, dev, 0, 0])
}

/// `mknod`: FIFOs and empty regular files (in read-write mounts); device
/// nodes need a privilege the guest never has on the host (EPERM).
pub fn mknodat([dirfd, path, mode, _dev, ..]: Args) -> SysResult {
    const S_IFMT: u64 = 0o170000;
    let kind = match mode & S_IFMT {
        0 | 0o100000 => 0o100000,
        0o010000 => 0o010000,
        0o020000 | 0o060000 => return Err(crate::errno::EPERM),
        0o140000 => return Err(crate::errno::EPERM),
        _ => return Err(crate::errno::EINVAL),
    };
    let abs = proc::or_host!(proc::change(path::at(dirfd, path)?, false, true));
    host::path_request(op::MKDIR, &[apply_umask(mode & 0o7777), kind], &[&abs], &mut []).0
}

/// The stat of `path` relative to `dirfd` (`flags`: AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH).
fn stat_at(dirfd: u64, path_ptr: u64, flags: u64) -> Result<Stat, Errno> {
    let name = path::read(path_ptr)?;
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            return stat_path(&path::cwd(), true);
        }
        return stat_of(&*table::get(dirfd)?);
    }
    let abs = path::absolute(dirfd, &name)?;
    stat_path(&abs, flags & AT_SYMLINK_NOFOLLOW == 0)
}

pub(super) fn stat_path(abs: &[u8], follow: bool) -> Result<Stat, Errno> {
    redirecting(abs.to_vec(), |abs, next| {
        let abs = proc::or_host!(proc::stat(abs, follow));
        let tidy = path::tidy(&abs);
        if let Some(d) = dev::lookup(&tidy) {
            return Ok(dev::stat(d));
        }
        if let Some(g) = crate::fs::generated::lookup(&tidy) {
            return g.stat();
        }
        let mut st = Stat::default();
        let args = [follow as u64, HAND_BACK];
        let r = host::path_request(op::STAT, &args, &[&abs], &mut [st.as_bytes_mut()]).0;
        if r == Err(REDIRECTED) {
            *next = handed_back(op::STAT, &args, &abs, true);
        }
        r.map(|_| st)
    })
}

/// Asks the monitor for a hand-back's path (asked again with room for it:
/// the common request carries no buffer); `with_stat`: the request's first
/// out segment is a `stat` (STAT), else the path is the only one (ACCESS).
fn handed_back(op: u32, args: &[u64], abs: &[u8], with_stat: bool) -> Vec<u8> {
    let mut st = Stat::default();
    let mut path = alloc::vec![0u8; PATH_MAX];
    let (r, out) = if with_stat {
        host::path_request(op, args, &[abs], &mut [st.as_bytes_mut(), &mut path])
    } else {
        host::path_request(op, args, &[abs], &mut [&mut path])
    };
    // Anything else (the file changed meanwhile): an empty path, not found.
    path.truncate(if r == Err(REDIRECTED) { (out[2] as usize).min(PATH_MAX) } else { 0 });
    path
}

pub fn stat([path, statbuf, ..]: Args) -> SysResult {
    newfstatat([AT_FDCWD, path, statbuf, 0, 0, 0])
}

pub fn lstat([path, statbuf, ..]: Args) -> SysResult {
    newfstatat([AT_FDCWD, path, statbuf, AT_SYMLINK_NOFOLLOW, 0, 0])
}

/// The `*at` flags a stat call accepts (Linux's `vfs_statx`): no-follow,
/// no-automount, empty path, and the statx sync types.
const STAT_FLAGS: u64 = AT_SYMLINK_NOFOLLOW | 0x800 | AT_EMPTY_PATH | STATX_SYNC_TYPE;
const STATX_SYNC_TYPE: u64 = 0x6000;
/// `STATX__RESERVED`: a mask bit no Linux defines.
const STATX_RESERVED: u64 = 0x8000_0000;

pub fn newfstatat([dirfd, path, statbuf, flags, ..]: Args) -> SysResult {
    if flags & !STAT_FLAGS != 0 {
        return Err(EINVAL);
    }
    let st = stat_at(dirfd, path, flags)?;
    mm::write_user(statbuf, &st)?;
    Ok(0)
}

pub fn statx([dirfd, path, flags, mask, buf, ..]: Args) -> SysResult {
    if flags & !STAT_FLAGS != 0 || flags & STATX_SYNC_TYPE == STATX_SYNC_TYPE || mask & STATX_RESERVED != 0 {
        return Err(EINVAL);
    }
    let st = stat_at(dirfd, path, flags)?;
    mm::copy_to_user(buf, &to_statx(&st))?;
    Ok(0)
}

pub fn access([path, mode, ..]: Args) -> SysResult {
    faccessat2([AT_FDCWD, path, mode, 0, 0, 0])
}

pub fn faccessat([dirfd, path, mode, ..]: Args) -> SysResult {
    faccessat2([dirfd, path, mode, 0, 0, 0])
}

pub fn faccessat2([dirfd, path, mode, flags, ..]: Args) -> SysResult {
    const AT_EACCESS: u64 = 0x200;
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let name = path::read(path)?;
    let abs = if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if dirfd == AT_FDCWD {
            path::cwd()
        } else {
            table::get(dirfd)?.path.clone()
        }
    } else {
        path::absolute(dirfd, &name)?
    };
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let effective = if flags & AT_EACCESS != 0 { hx_abi::hypercall::ACCESS_EFFECTIVE } else { 0 };
    redirecting(abs, |abs, next| {
        let abs = proc::or_host!(proc::access(abs, mode, follow));
        if dev::lookup(&path::tidy(&abs)).is_some() {
            return Ok(0);
        }
        let args = [mode, follow as u64, effective, HAND_BACK];
        let r = host::path_request(op::ACCESS, &args, &[&abs], &mut []).0;
        if r == Err(REDIRECTED) {
            *next = handed_back(op::ACCESS, &args, &abs, false);
        }
        r
    })
}

pub fn readlink([path, buf, size, ..]: Args) -> SysResult {
    readlinkat([AT_FDCWD, path, buf, size, 0, 0])
}

pub fn readlinkat([dirfd, path, buf, size, ..]: Args) -> SysResult {
    if size as i64 <= 0 {
        return Err(EINVAL);
    }
    let name = path::read(path)?;
    // An empty name reads the link `dirfd` itself holds (opened with
    // O_PATH|O_NOFOLLOW), as Linux does; any other file there: ENOENT.
    let own_link = name.is_empty() && dirfd as u32 as i32 != -100;
    let abs = if own_link {
        let file = table::get(dirfd)?;
        if file.path.first() != Some(&b'/') {
            return Err(ENOENT);
        }
        file.path.clone()
    } else {
        path::absolute(dirfd, &name)?
    };
    let target = match proc::readlink(abs) {
        proc::Then::Done(r) => r,
        proc::Then::Host(abs) => {
            let mut out = alloc::vec![0u8; PATH_MAX];
            host::path_request(op::READLINK, &[], &[&abs], &mut [&mut out]).0.map(|n| {
                out.truncate(n as usize);
                out
            })
        }
    };
    let target = match target {
        Err(EINVAL) if own_link => return Err(ENOENT),
        t => t?,
    };
    let n = target.len().min(size as usize);
    mm::copy_to_user(buf, &target[..n])?;
    Ok(n as u64)
}

pub fn unlink([path, ..]: Args) -> SysResult {
    unlinkat([AT_FDCWD, path, 0, 0, 0, 0])
}

pub fn rmdir([path, ..]: Args) -> SysResult {
    unlinkat([AT_FDCWD, path, AT_REMOVEDIR, 0, 0, 0])
}

pub fn unlinkat([dirfd, path, flags, ..]: Args) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(EINVAL);
    }
    let abs = proc::or_host!(proc::change(path::at(dirfd, path)?, false, false));
    host::path_request(op::UNLINK, &[flags], &[&abs], &mut []).0
}

pub fn mkdir([path, mode, ..]: Args) -> SysResult {
    mkdirat([AT_FDCWD, path, mode, 0, 0, 0])
}

pub fn mkdirat([dirfd, path, mode, ..]: Args) -> SysResult {
    let abs = proc::or_host!(proc::change(path::at(dirfd, path)?, false, true));
    host::path_request(op::MKDIR, &[apply_umask(mode)], &[&abs], &mut []).0
}

pub fn rename([old, new, ..]: Args) -> SysResult {
    renameat2([AT_FDCWD, old, AT_FDCWD, new, 0, 0])
}

pub fn renameat([olddir, old, newdir, new, ..]: Args) -> SysResult {
    renameat2([olddir, old, newdir, new, 0, 0])
}

pub fn renameat2([olddir, old, newdir, new, flags, _]: Args) -> SysResult {
    const RENAME_EXCHANGE: u64 = 2;
    let from = proc::or_host!(proc::change(path::at(olddir, old)?, false, false));
    let to = proc::or_host!(proc::change(path::at(newdir, new)?, false, false));
    host::path_request(op::RENAME, &[flags], &[&from, &to], &mut []).0?;
    // The working directory is kept by path: it moves with a rename of it
    // or of a directory above it (made by this process).
    if !path::cwd_moved(&from, &to) && flags & RENAME_EXCHANGE != 0 {
        path::cwd_moved(&to, &from);
    }
    Ok(0)
}

pub fn link([old, new, ..]: Args) -> SysResult {
    linkat([AT_FDCWD, old, AT_FDCWD, new, 0, 0])
}

pub fn linkat([olddir, old, newdir, new, flags, _]: Args) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let name = path::read(old)?;
    // The open file itself: `AT_EMPTY_PATH` (Linux 6.1 asks for
    // CAP_DAC_READ_SEARCH: ENOENT without), or a descriptor's magic link.
    if name.is_empty() && flags & AT_EMPTY_PATH != 0 {
        if !cred::capable(hx_abi::uapi::CAP_DAC_READ_SEARCH) {
            return Err(ENOENT);
        }
        let file = if olddir as u32 as i32 == -100 {
            return Err(crate::errno::EPERM); // the working directory: a directory
        } else {
            table::get(olddir)?
        };
        return link_open_file(&file, path::at(newdir, new)?);
    }
    let (from, to) = (path::absolute(olddir, &name)?, path::at(newdir, new)?);
    if flags & AT_SYMLINK_FOLLOW != 0 {
        if let Some(file) = proc::magic_file(&from) {
            return link_open_file(&file, to);
        }
    }
    // A file of /proc linked from elsewhere: another file system (EXDEV,
    // once the source is found), as Linux checks the mounts first.
    if let proc::Then::Done(found) = proc::stat(from.clone(), flags & AT_SYMLINK_FOLLOW != 0) {
        found?;
        if matches!(proc::stat(to.clone(), false), proc::Then::Host(_)) {
            return Err(crate::errno::EXDEV);
        }
    }
    let from = proc::or_host!(proc::change(from, flags & AT_SYMLINK_FOLLOW != 0, false));
    let to = proc::or_host!(proc::change(to, false, true));
    host::path_request(op::LINK, &[flags], &[&from, &to], &mut []).0
}

/// A new name `to` for an open file (its first, for an `O_TMPFILE` file):
/// the monitor links the file it holds; the kernel's own files (pipes,
/// `/proc`) are on other file systems.
fn link_open_file(file: &OpenFile, to: Vec<u8>) -> SysResult {
    let Kind::Host(handle) = file.kind else { return Err(crate::errno::EXDEV) };
    let to = proc::or_host!(proc::change(to, false, true));
    host::path_request(op::LINK, &[0, hx_abi::hypercall::LINK_HANDLE, handle], &[&to], &mut []).0
}

pub fn symlink([target, linkpath, ..]: Args) -> SysResult {
    symlinkat([target, AT_FDCWD, linkpath, 0, 0, 0])
}

pub fn symlinkat([target, newdir, linkpath, ..]: Args) -> SysResult {
    let target = path::read(target)?;
    if target.is_empty() {
        return Err(ENOENT);
    }
    let at = proc::or_host!(proc::change(path::at(newdir, linkpath)?, false, true));
    host::path_request(op::SYMLINK, &[], &[&target, &at], &mut []).0
}

pub fn chdir([path, ..]: Args) -> SysResult {
    let abs = path::at(AT_FDCWD, path)?;
    let (st, resolved) = redirecting(abs, |abs, next| {
        let abs = proc::or_host!(proc::chdir(abs).map_done(|_| (Stat::default(), Vec::new())));
        let mut st = Stat::default();
        let mut resolved = alloc::vec![0u8; PATH_MAX];
        let (r, out) = host::path_request(op::STAT, &[1], &[&abs], &mut [st.as_bytes_mut(), &mut resolved]);
        resolved.truncate((out[2] as usize).min(PATH_MAX));
        if r == Err(REDIRECTED) {
            *next = resolved;
            return Err(REDIRECTED);
        }
        r.map(|_| (st, resolved))
    })?;
    if resolved.is_empty() {
        return Ok(0); // a directory of /proc: the kernel's chdir did it
    }
    if st.mode & S_IFMT != S_IFDIR {
        return Err(ENOTDIR);
    }
    may_search(&resolved)?;
    path::set_cwd(resolved);
    Ok(0)
}

pub fn fchdir([fd, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    if stat_of(&file)?.mode & S_IFMT != S_IFDIR {
        return Err(ENOTDIR);
    }
    may_search(&file.path)?;
    path::set_cwd(file.path.clone());
    Ok(0)
}

/// A working directory must be searchable (`EACCES` otherwise), which the
/// host checks as the guest's ids (a filesystem uid 0 may search anything).
fn may_search(dir: &[u8]) -> Result<(), crate::errno::Errno> {
    const X_OK: u64 = 1;
    if cred::fs_uid() == 0 || dev::lookup(&path::tidy(dir)).is_some() || dir.starts_with(b"/proc") {
        return Ok(());
    }
    host::path_request(op::ACCESS, &[X_OK, 1, hx_abi::hypercall::ACCESS_EFFECTIVE], &[dir], &mut []).0.map(|_| ())
}

pub fn getcwd([buf, size, ..]: Args) -> SysResult {
    let mut cwd = path::cwd();
    cwd.push(0);
    if (size as usize) < cwd.len() {
        return Err(ERANGE);
    }
    mm::copy_to_user(buf, &cwd)?;
    Ok(cwd.len() as u64)
}

pub fn utimensat([dirfd, path, times, flags, ..]: Args) -> SysResult {
    let mut t = [0u8; 32];
    if times != 0 {
        mm::copy_from_user(times, &mut t)?;
    }
    set_times(dirfd, path, (times != 0).then_some(t), flags)
}

/// `futimesat`/`utimes`: times as two `timeval`s (microseconds; `EINVAL`
/// beyond a second), or now.
pub fn futimesat([dirfd, path, tv, ..]: Args) -> SysResult {
    if tv == 0 {
        return set_times(dirfd, path, None, 0);
    }
    let v: [i64; 4] = mm::read_user(tv)?;
    if [v[1], v[3]].iter().any(|&us| !(0..1_000_000).contains(&us)) {
        return Err(crate::errno::EINVAL);
    }
    set_times(dirfd, path, Some(timespecs([v[0], v[1] * 1000, v[2], v[3] * 1000])), 0)
}

pub fn utimes([path, tv, ..]: Args) -> SysResult {
    futimesat([AT_FDCWD, path, tv, 0, 0, 0])
}

/// `utime`: access and modification times in whole seconds (`utimbuf`), or now.
pub fn utime([path, buf, ..]: Args) -> SysResult {
    if buf == 0 {
        return set_times(AT_FDCWD, path, None, 0);
    }
    let [atime, mtime]: [i64; 2] = mm::read_user(buf)?;
    set_times(AT_FDCWD, path, Some(timespecs([atime, 0, mtime, 0])), 0)
}

/// Two `timespec`s as `utimensat` takes them.
fn timespecs(v: [i64; 4]) -> [u8; 32] {
    let mut t = [0u8; 32];
    for (chunk, x) in t.chunks_exact_mut(8).zip(v) {
        chunk.copy_from_slice(&x.to_ne_bytes());
    }
    t
}

/// Sets a file's times (`None`: now), as `utimensat` does.
fn set_times(dirfd: u64, path: u64, times: Option<[u8; 32]>, flags: u64) -> SysResult {
    let mut outs: Vec<&[u8]> = Vec::new();
    let t = times.unwrap_or([0; 32]);
    let nofollow = (flags & AT_SYMLINK_NOFOLLOW != 0) as u64;
    if path == 0 {
        // futimens(fd, times)
        let Kind::Host(h) = table::get(dirfd)?.kind.clone() else { return Ok(0) };
        if times.is_some() {
            outs.push(&t);
        }
        return host::path_request(op::UTIMENS, &[h, nofollow], &outs, &mut []).0;
    }
    let abs = proc::or_host!(proc::change(path::at(dirfd, path)?, nofollow == 0, false));
    let mut ins: Vec<&[u8]> = alloc::vec![&abs];
    if times.is_some() {
        ins.push(&t);
    }
    host::path_request(op::UTIMENS, &[NO_HANDLE, nofollow], &ins, &mut []).0
}

pub fn chmod([path, mode, ..]: Args) -> SysResult {
    fchmodat([AT_FDCWD, path, mode, 0, 0, 0])
}

pub fn fchmodat([dirfd, path, mode, ..]: Args) -> SysResult {
    let abs = proc::or_host!(proc::change(path::at(dirfd, path)?, true, false));
    host::path_request(op::CHMOD, &[NO_HANDLE, mode & 0o7777], &[&abs], &mut []).0
}

pub fn chown([path, owner, group, ..]: Args) -> SysResult {
    fchownat([AT_FDCWD, path, owner, group, 0, 0])
}

pub fn lchown([path, owner, group, ..]: Args) -> SysResult {
    fchownat([AT_FDCWD, path, owner, group, AT_SYMLINK_NOFOLLOW, 0])
}

/// `fchownat`: the guest's credentials must allow the change (Linux's rules,
/// `cred::may_chown`), then the monitor makes it on the host file, where the
/// host lets the user hx-run runs as (as in a rootless container).
pub fn fchownat([dirfd, path, owner, group, flags, _]: Args) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let name = path::read(path)?;
    let empty = name.is_empty() && flags & AT_EMPTY_PATH != 0;
    if empty && dirfd != AT_FDCWD {
        return super::fs::fchown([dirfd, owner, group, 0, 0, 0]);
    }
    let abs = if empty { path::cwd() } else { path::absolute(dirfd, &name)? };
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let abs = proc::or_host!(proc::change(abs, follow, false));
    let (uid, gid) = (owner as u32, group as u32);
    if !cred::capable(CAP_CHOWN) {
        let st = stat_path(&abs, follow)?;
        cred::may_chown(&st, uid, gid).map_err(|e| chown_refused(&abs, follow, e))?;
    }
    let nofollow = !follow as u64;
    host::path_request(op::CHOWN, &[NO_HANDLE, uid as u64, gid as u64, nofollow], &[&abs], &mut []).0
}

/// The error for a chown of `abs` the credentials refuse (`e`): a read-only
/// file system refuses before the permission check, as on Linux.
pub(super) fn chown_refused(abs: &[u8], follow: bool, e: Errno) -> Errno {
    const W_OK: u64 = 2;
    match host::path_request(op::ACCESS, &[W_OK, follow as u64], &[abs], &mut []).0 {
        Err(EROFS) => EROFS,
        _ => e,
    }
}

pub fn truncate([path, length, ..]: Args) -> SysResult {
    if (length as i64) < 0 {
        return Err(EINVAL);
    }
    let abs = proc::or_host!(proc::change(path::at(AT_FDCWD, path)?, true, false));
    let mut resolved = alloc::vec![0u8; 1];
    let handle = host::path_request(op::OPEN, &[O_WRONLY, 0], &[&abs], &mut [&mut resolved]).0?;
    let r = super::fs::past_file_size_limit(host::simple(op::FTRUNCATE, &[handle, length]));
    host::close(handle);
    r
}

const STATFS_SIZE: usize = 120;

pub fn statfs([path, buf, ..]: Args) -> SysResult {
    let abs = match proc::statfs(path::at(AT_FDCWD, path)?) {
        proc::Then::Done(r) => return mm::copy_to_user(buf, &r?).map(|_| 0),
        proc::Then::Host(abs) => abs,
    };
    let mut out = [0u8; STATFS_SIZE];
    host::path_request(op::STATFS, &[NO_HANDLE], &[&abs], &mut [&mut out]).0?;
    mm::copy_to_user(buf, &out)?;
    Ok(0)
}

/// `ustat`: free blocks and inodes of the file system on device `dev`
/// (the old 32-bit encoding), from its `statfs`; an unknown device is EINVAL.
pub fn ustat([dev, buf, ..]: Args) -> SysResult {
    let dev = dev as u32 as u64;
    let (major, minor) = ((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    let mount = crate::fs::proc::mounts::mount_of_device(major, minor).ok_or(EINVAL)?;
    let mut st = [0u8; STATFS_SIZE];
    let abs = match proc::statfs(mount) {
        proc::Then::Done(r) => {
            st = r?;
            None
        }
        proc::Then::Host(abs) => Some(abs),
    };
    if let Some(abs) = abs {
        host::path_request(op::STATFS, &[NO_HANDLE], &[&abs], &mut [&mut st]).0?;
    }
    let field = |i: usize| u64::from_ne_bytes(st[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    // struct ustat: f_tfree (int), f_tinode (unsigned long), f_fname[6], f_fpack[6].
    let mut out = [0u8; 32];
    out[0..4].copy_from_slice(&(field(3) as u32).to_ne_bytes());
    out[8..16].copy_from_slice(&field(6).to_ne_bytes());
    mm::copy_to_user(buf, &out)?;
    Ok(0)
}

/// `sysfs(2)`: the file system types the kernel knows, by index (option 1:
/// a name's index, 2: index to name, 3: how many).
pub fn sysfs([option, arg1, arg2, ..]: Args) -> SysResult {
    let types = crate::fs::proc::mounts::filesystem_types();
    match option {
        1 => {
            let name = mm::read_cstr(arg1, PATH_MAX)?;
            types.iter().position(|(n, _)| *n == name.as_slice()).map(|i| i as u64).ok_or(EINVAL)
        }
        2 => {
            let (name, _) = types.get(arg1 as usize).ok_or(EINVAL)?;
            let mut out = name.to_vec();
            out.push(0);
            mm::copy_to_user(arg2, &out)?;
            Ok(0)
        }
        3 => Ok(types.len() as u64),
        _ => Err(EINVAL),
    }
}

pub fn fstatfs([fd, buf, ..]: Args) -> SysResult {
    let file = table::get(fd)?;
    let Kind::Host(h) = file.kind else {
        if file.path.starts_with(b"/proc") {
            return mm::copy_to_user(buf, &proc::statfs_bytes()).map(|_| 0);
        }
        return Err(EINVAL);
    };
    let mut out = [0u8; STATFS_SIZE];
    host::path_request(op::STATFS, &[h], &[], &mut [&mut out]).0?;
    mm::copy_to_user(buf, &out)?;
    Ok(0)
}
