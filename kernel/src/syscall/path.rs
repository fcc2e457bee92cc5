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
    let status = open_status(flags as u32);
    let cloexec = flags as u32 & O_CLOEXEC != 0;
    let abs = proc::or_host!(proc::open(path::at(dirfd, path)?, flags, status, cloexec));
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
    let (handle, out) = loop {
        let (r, out) = host::path_request(op::OPEN, &[flags, mode], &[&abs], &mut [&mut resolved]);
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
    let abs = &proc::or_host!(proc::stat(abs.to_vec(), follow));
    if let Some(d) = dev::lookup(&path::tidy(abs)) {
        return Ok(dev::stat(d));
    }
    if let Some(g) = crate::fs::generated::lookup(&path::tidy(abs)) {
        return g.stat();
    }
    let mut st = Stat::default();
    host::path_request(op::STAT, &[follow as u64], &[abs], &mut [st.as_bytes_mut()]).0?;
    Ok(st)
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
    let abs = proc::or_host!(proc::access(abs, mode, follow));
    if dev::lookup(&path::tidy(&abs)).is_some() {
        return Ok(0);
    }
    let effective = if flags & AT_EACCESS != 0 { hx_abi::hypercall::ACCESS_EFFECTIVE } else { 0 };
    host::path_request(op::ACCESS, &[mode, follow as u64, effective], &[&abs], &mut []).0
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
    let from = proc::or_host!(proc::change(path::at(olddir, old)?, false, false));
    let to = proc::or_host!(proc::change(path::at(newdir, new)?, false, false));
    host::path_request(op::RENAME, &[flags], &[&from, &to], &mut []).0
}

pub fn link([old, new, ..]: Args) -> SysResult {
    linkat([AT_FDCWD, old, AT_FDCWD, new, 0, 0])
}

pub fn linkat([olddir, old, newdir, new, flags, _]: Args) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(EINVAL);
    }
    let (from, to) = (path::at(olddir, old)?, path::at(newdir, new)?);
    // A file of /proc linked from elsewhere: another file system (EXDEV,
    // once the source is found), as Linux checks the mounts first.
    if let proc::Then::Done(found) = proc::stat(from.clone(), flags & AT_SYMLINK_FOLLOW != 0) {
        found?;
        if matches!(proc::stat(to.clone(), false), proc::Then::Host(_)) {
            return Err(crate::errno::Errno(18)); // EXDEV
        }
    }
    let from = proc::or_host!(proc::change(from, flags & AT_SYMLINK_FOLLOW != 0, false));
    let to = proc::or_host!(proc::change(to, false, true));
    host::path_request(op::LINK, &[flags], &[&from, &to], &mut []).0
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
    let abs = proc::or_host!(proc::chdir(path::at(AT_FDCWD, path)?));
    let mut st = Stat::default();
    let mut resolved = alloc::vec![0u8; PATH_MAX];
    let (r, out) = host::path_request(op::STAT, &[1], &[&abs], &mut [st.as_bytes_mut(), &mut resolved]);
    r?;
    if st.mode & S_IFMT != S_IFDIR {
        return Err(ENOTDIR);
    }
    resolved.truncate(out[2] as usize);
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
