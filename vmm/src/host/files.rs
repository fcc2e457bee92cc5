//! The guest's files: host file descriptors the monitor holds for it, by
//! handle (the guest never sees a host descriptor number), and every file
//! request, resolved through the sandbox.
use crate::memory::GuestRam;
use crate::sandbox::{self, Errno, Resolved, Sandbox};
use anyhow::{bail, Result};
use hx_abi::hypercall::{Request, Segment, NO_HANDLE};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

enum Handle {
    Host(OwnedFd),
    /// A directory that exists only above mount points: its guest path and
    /// how many of its entries were already read.
    Virtual {
        guest: Vec<u8>,
        offset: usize,
    },
}

pub struct Files {
    pub sandbox: Sandbox,
    handles: Vec<Option<Handle>>,
    /// With --fast-libc: the patched libc.so that replaces musl's everywhere.
    fast_libc: Option<std::path::PathBuf>,
}

/// File names under which a program may look for musl's libc.
const MUSL_LIBC_NAMES: [&[u8]; 3] = [b"libc.so", b"libc.musl-x86_64.so.1", b"ld-musl-x86_64.so.1"];

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Runs a host call, retrying after EINTR (hx-run's own signal handlers).
fn sys(mut f: impl FnMut() -> isize) -> Result<i64, Errno> {
    loop {
        let n = f();
        if n >= 0 {
            return Ok(n as i64);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// The struct stat of a directory that exists only above mount points.
fn virtual_dir_stat() -> libc::stat {
    // SAFETY: an all-zero stat is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_mode = libc::S_IFDIR | 0o555;
    st.st_nlink = 2;
    st.st_blksize = 4096;
    st.st_ino = 1;
    st
}

fn bytes_of<T>(v: &T) -> &[u8] {
    // SAFETY: views a plain C struct as its bytes (same layout in the guest).
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

impl Files {
    pub fn new(sandbox: Sandbox, fast_libc: Option<std::path::PathBuf>) -> Result<Self> {
        let mut handles = Vec::new();
        for fd in 0..3 {
            // The guest's 0-2 are duplicates: its close(1) leaves hx-run's stdout open.
            // SAFETY: F_DUPFD_CLOEXEC on a standard stream; a closed one gives -1.
            let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            // SAFETY: `d` is a fresh descriptor we own.
            handles.push((d >= 0).then(|| Handle::Host(unsafe { OwnedFd::from_raw_fd(d) })));
        }
        Ok(Self { sandbox, handles, fast_libc })
    }

    fn fd(&self, handle: u64) -> Result<i32, Errno> {
        match self.handles.get(handle as usize) {
            Some(Some(Handle::Host(fd))) => Ok(fd.as_raw_fd()),
            Some(Some(Handle::Virtual { .. })) => Err(libc::EISDIR),
            _ => Err(libc::EBADF),
        }
    }

    fn insert(&mut self, h: Handle) -> u64 {
        match self.handles.iter().position(|s| s.is_none()) {
            Some(i) => {
                self.handles[i] = Some(h);
                i as u64
            }
            None => {
                self.handles.push(Some(h));
                (self.handles.len() - 1) as u64
            }
        }
    }

    /// Serves file request `req`; returns its result (`-errno` on failure).
    pub fn serve(&mut self, mem: &GuestRam, req: &mut Request) -> Result<i64> {
        use hx_abi::hypercall::op;
        let segs: Vec<Segment> = req.segs[..req.nsegs as usize].to_vec();
        let a = req.args;
        let r = match req.op {
            op::READ => self.rw(mem, a[0], &segs, None, false),
            op::WRITE => self.rw(mem, a[0], &segs, None, true),
            op::PREAD => self.rw(mem, a[0], &segs, Some(a[1] as i64), false),
            op::PWRITE => self.rw(mem, a[0], &segs, Some(a[1] as i64), true),
            op::OPEN => {
                let path = read_path(mem, &segs, 0)?;
                match self.open(&path, a[0] as i32, a[1] as u32) {
                    Ok((h, guest)) => {
                        req.args[2] = write_out(mem, &segs, 1, &guest)? as u64;
                        Ok(h as i64)
                    }
                    Err(e) => Err(e),
                }
            }
            op::CLOSE => match self.handles.get_mut(a[0] as usize) {
                Some(slot @ Some(_)) => {
                    *slot = None;
                    Ok(0)
                }
                _ => Err(libc::EBADF),
            },
            op::LSEEK => self.fd(a[0]).and_then(|fd| {
                // SAFETY: lseek on a descriptor we hold.
                sys(|| unsafe { libc::lseek(fd, a[1] as i64, a[2] as i32) } as isize)
            }),
            op::FSTAT => match self.handles.get(a[0] as usize) {
                Some(Some(Handle::Virtual { .. })) => {
                    write_out(mem, &segs, 0, bytes_of(&virtual_dir_stat()))?;
                    Ok(0)
                }
                _ => match self.fd(a[0]).and_then(fstat) {
                    Ok(st) => write_out(mem, &segs, 0, bytes_of(&st)).map(|_| 0).map_err(|_| libc::EFAULT),
                    Err(e) => Err(e),
                },
            },
            op::TTY_IOCTL => self.tty_ioctl(mem, a[0], a[1], &segs),
            op::STAT => {
                let path = read_path(mem, &segs, 0)?;
                match self.stat(&path, a[0] != 0) {
                    Ok((st, guest)) => {
                        write_out(mem, &segs, 1, bytes_of(&st))?;
                        if segs.len() > 2 {
                            req.args[2] = write_out(mem, &segs, 2, &guest)? as u64;
                        }
                        Ok(0)
                    }
                    Err(e) => Err(e),
                }
            }
            op::ACCESS => {
                let path = read_path(mem, &segs, 0)?;
                self.access(&path, a[0] as i32, a[1] != 0)
            }
            op::READLINK => {
                let path = read_path(mem, &segs, 0)?;
                match self.sandbox.resolve(&path, false) {
                    Ok(Resolved::Host { parent, name: Some(name), .. }) => match sandbox::readlink_at(&parent, &name) {
                        Ok(target) => {
                            let n = write_out(mem, &segs, 1, &target)?;
                            Ok(n as i64)
                        }
                        Err(e) => Err(e),
                    },
                    Ok(_) => Err(libc::EINVAL),
                    Err(e) => Err(e),
                }
            }
            op::GETDENTS => self.getdents(mem, a[0], &segs),
            op::UNLINK => {
                let path = read_path(mem, &segs, 0)?;
                self.modify(&path, false, |parent, name| {
                    // SAFETY: unlinkat on a single name in a directory we hold.
                    sys(|| unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), a[0] as i32) } as isize)
                })
            }
            op::MKDIR => {
                let path = read_path(mem, &segs, 0)?;
                self.modify(&path, true, |parent, name| {
                    // SAFETY: mkdirat of a single name in a directory we hold.
                    sys(|| unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), a[0] as u32) } as isize)
                })
            }
            op::SYMLINK => {
                let target = CString::new(read_path(mem, &segs, 0)?).unwrap_or_default();
                let path = read_path(mem, &segs, 1)?;
                self.modify(&path, true, |parent, name| {
                    // SAFETY: symlinkat creates one name in a directory we hold; the
                    // target is only text (the walk never follows it on the host).
                    sys(|| unsafe { libc::symlinkat(target.as_ptr(), parent.as_raw_fd(), name.as_ptr()) } as isize)
                })
            }
            op::RENAME | op::LINK => {
                let (from, to) = (read_path(mem, &segs, 0)?, read_path(mem, &segs, 1)?);
                self.two_paths(req.op, &from, &to, a[0] as u32)
            }
            op::FTRUNCATE => self.fd(a[0]).and_then(|fd| {
                // SAFETY: ftruncate on a descriptor we hold.
                sys(|| unsafe { libc::ftruncate(fd, a[1] as i64) } as isize)
            }),
            op::FSYNC => self.fd(a[0]).and_then(|fd| {
                // SAFETY: fsync/fdatasync on a descriptor we hold.
                sys(|| unsafe {
                    if a[1] != 0 {
                        libc::fdatasync(fd)
                    } else {
                        libc::fsync(fd)
                    }
                } as isize)
            }),
            op::SETFL => self.fd(a[0]).and_then(|fd| {
                // SAFETY: F_SETFL with status flags only.
                sys(|| unsafe { libc::fcntl(fd, libc::F_SETFL, a[1] as i32) } as isize)
            }),
            op::UTIMENS => self.utimens(mem, &segs, a[0], a[1] != 0),
            op::CHMOD => {
                if segs.is_empty() {
                    self.fd(a[0]).and_then(|fd| {
                        // SAFETY: fchmod on a descriptor we hold.
                        sys(|| unsafe { libc::fchmod(fd, a[1] as u32) } as isize)
                    })
                } else {
                    let path = read_path(mem, &segs, 0)?;
                    self.modify_existing(&path, true, |parent, name| {
                        // SAFETY: fchmodat of a single name in a directory we hold.
                        sys(|| unsafe { libc::fchmodat(parent.as_raw_fd(), name.as_ptr(), a[1] as u32, 0) } as isize)
                    })
                }
            }
            op::STATFS => self.statfs(mem, &segs, a[0]),
            op::POLL => self.poll(mem, &segs, a[0] as i64),
            other => bail!("unknown file request {other}"),
        };
        Ok(r.unwrap_or_else(|e| -(e as i64)))
    }

    fn rw(
        &mut self,
        mem: &GuestRam,
        handle: u64,
        segs: &[Segment],
        offset: Option<i64>,
        write: bool,
    ) -> Result<i64, Errno> {
        let fd = self.fd(handle)?;
        let iovs = mem.iovecs(segs).map_err(|_| libc::EFAULT)?;
        let n = iovs.len() as i32;
        // SAFETY: the iovecs point into guest RAM, checked by `iovecs`; the host
        // reads or writes only there.
        sys(|| unsafe {
            match (offset, write) {
                (None, false) => libc::readv(fd, iovs.as_ptr(), n),
                (None, true) => libc::writev(fd, iovs.as_ptr(), n),
                (Some(o), false) => libc::preadv(fd, iovs.as_ptr(), n, o),
                (Some(o), true) => libc::pwritev(fd, iovs.as_ptr(), n, o),
            }
        })
    }

    fn open(&mut self, path: &[u8], flags: i32, mode: u32) -> Result<(u64, Vec<u8>), Errno> {
        let acc = flags & libc::O_ACCMODE;
        // --fast-libc: every musl libc the program opens is the patched one.
        if let Some(libc_so) = &self.fast_libc {
            let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
            if acc == libc::O_RDONLY && MUSL_LIBC_NAMES.contains(&name) && self.sandbox.resolve(path, true).is_ok() {
                let f = std::fs::File::open(libc_so).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
                return Ok((self.insert(Handle::Host(f.into())), path.to_vec()));
            }
        }
        let writes = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let follow = flags & libc::O_NOFOLLOW == 0;
        if flags & libc::O_TMPFILE == libc::O_TMPFILE {
            return Err(libc::EOPNOTSUPP);
        }
        match self.sandbox.resolve(path, follow)? {
            Resolved::Virtual { guest } => {
                if writes || flags & libc::O_CREAT != 0 {
                    return Err(libc::EISDIR);
                }
                Ok((self.insert(Handle::Virtual { guest: guest.clone(), offset: 0 }), guest))
            }
            Resolved::Host { mount, parent, name, guest } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                let exists = lstat_exists(&parent, &name);
                if !exists && flags & libc::O_CREAT == 0 {
                    return Err(libc::ENOENT);
                }
                if (writes || !exists) && !self.sandbox.writable(mount) {
                    return Err(libc::EROFS);
                }
                // The walk resolved every symlink: the host must not follow one now.
                let host_flags = (flags & !(libc::O_NOCTTY | libc::O_PATH)) | libc::O_NOFOLLOW | libc::O_CLOEXEC;
                // SAFETY: openat of a single name in a directory we hold.
                let fd = sys(|| unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), host_flags, mode) } as isize)?;
                // SAFETY: `fd` was just opened and is ours.
                let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
                Ok((self.insert(Handle::Host(fd)), guest))
            }
        }
    }

    fn stat(&self, path: &[u8], follow: bool) -> Result<(libc::stat, Vec<u8>), Errno> {
        match self.sandbox.resolve(path, follow)? {
            Resolved::Virtual { guest } => Ok((virtual_dir_stat(), guest)),
            Resolved::Host { parent, name: None, guest, .. } => Ok((fstat(parent.as_raw_fd())?, guest)),
            Resolved::Host { parent, name: Some(name), guest, .. } => {
                // SAFETY: an all-zero stat is valid; fstatat fills it.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: fstatat of a single name, never following a symlink on the host.
                sys(
                    || unsafe { libc::fstatat(parent.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) }
                        as isize,
                )?;
                Ok((st, guest))
            }
        }
    }

    fn access(&self, path: &[u8], mode: i32, follow: bool) -> Result<i64, Errno> {
        match self.sandbox.resolve(path, follow)? {
            Resolved::Virtual { .. } => Ok(if mode & libc::W_OK != 0 { return Err(libc::EROFS) } else { 0 }),
            Resolved::Host { mount, parent, name, .. } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                if !lstat_exists(&parent, &name) {
                    return Err(libc::ENOENT);
                }
                if mode & libc::W_OK != 0 && !self.sandbox.writable(mount) {
                    return Err(libc::EROFS);
                }
                // SAFETY: faccessat of a single name, not following a symlink on the host.
                sys(|| unsafe { libc::faccessat(parent.as_raw_fd(), name.as_ptr(), mode, libc::AT_SYMLINK_NOFOLLOW) }
                    as isize)
            }
        }
    }

    /// Runs `f(parent, name)` for a change to `path` in a writable mount.
    /// `creates`: the name may be missing (mkdir, symlink); else it must exist.
    fn modify(
        &self,
        path: &[u8],
        creates: bool,
        f: impl FnOnce(&OwnedFd, &CStr) -> Result<i64, Errno>,
    ) -> Result<i64, Errno> {
        match self.sandbox.resolve(path, false)? {
            Resolved::Virtual { .. } => Err(if creates { libc::EEXIST } else { libc::EBUSY }),
            Resolved::Host { name: None, .. } => Err(if creates { libc::EEXIST } else { libc::EBUSY }),
            Resolved::Host { mount, parent, name: Some(name), .. } => {
                let exists = lstat_exists(&parent, &name);
                if !creates && !exists {
                    return Err(libc::ENOENT);
                }
                if creates && exists {
                    return Err(libc::EEXIST);
                }
                if !self.sandbox.writable(mount) {
                    return Err(libc::EROFS);
                }
                f(&parent, &name)
            }
        }
    }

    /// Like `modify` for an existing object, following a final symlink if asked.
    fn modify_existing(
        &self,
        path: &[u8],
        follow: bool,
        f: impl FnOnce(&OwnedFd, &CStr) -> Result<i64, Errno>,
    ) -> Result<i64, Errno> {
        match self.sandbox.resolve(path, follow)? {
            Resolved::Virtual { .. } => Err(libc::EROFS),
            Resolved::Host { mount, parent, name, .. } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                if !lstat_exists(&parent, &name) {
                    return Err(libc::ENOENT);
                }
                if !self.sandbox.writable(mount) {
                    return Err(libc::EROFS);
                }
                f(&parent, &name)
            }
        }
    }

    fn two_paths(&self, op: u32, from: &[u8], to: &[u8], flags: u32) -> Result<i64, Errno> {
        let (
            Resolved::Host { mount: m1, parent: p1, name: Some(n1), .. },
            Resolved::Host { mount: m2, parent: p2, name: Some(n2), .. },
        ) = (self.sandbox.resolve(from, false)?, self.sandbox.resolve(to, false)?)
        else {
            return Err(libc::EBUSY);
        };
        if !lstat_exists(&p1, &n1) {
            return Err(libc::ENOENT);
        }
        if m1 != m2 {
            return Err(libc::EXDEV);
        }
        if !self.sandbox.writable(m1) {
            return Err(libc::EROFS);
        }
        // SAFETY: renameat2/linkat on single names in directories we hold.
        sys(|| unsafe {
            if op == hx_abi::hypercall::op::RENAME {
                libc::renameat2(p1.as_raw_fd(), n1.as_ptr(), p2.as_raw_fd(), n2.as_ptr(), flags)
            } else {
                libc::linkat(p1.as_raw_fd(), n1.as_ptr(), p2.as_raw_fd(), n2.as_ptr(), 0)
            }
        } as isize)
    }

    fn getdents(&mut self, mem: &GuestRam, handle: u64, segs: &[Segment]) -> Result<i64, Errno> {
        let Some(seg) = segs.first() else { return Err(libc::EINVAL) };
        let mut buf = vec![0u8; seg.len as usize];
        let n = match self.handles.get_mut(handle as usize) {
            Some(Some(Handle::Host(fd))) => {
                let fd = fd.as_raw_fd();
                // SAFETY: getdents64 writes at most buf.len() bytes into buf.
                sys(|| unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) } as isize)?
                    as usize
            }
            Some(Some(Handle::Virtual { guest, offset })) => {
                let mut names: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec()];
                names.extend(self.sandbox.virtual_entries(guest));
                let mut n = 0;
                while *offset < names.len() {
                    let name = &names[*offset];
                    let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
                    if n + reclen > buf.len() {
                        if n == 0 {
                            return Err(libc::EINVAL);
                        }
                        break;
                    }
                    let rec = &mut buf[n..n + reclen];
                    rec[..8].copy_from_slice(&(*offset as u64 + 1).to_le_bytes());
                    rec[8..16].copy_from_slice(&(*offset as u64 + 1).to_le_bytes());
                    rec[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
                    rec[18] = libc::DT_DIR;
                    rec[19..19 + name.len()].copy_from_slice(name);
                    n += reclen;
                    *offset += 1;
                }
                n
            }
            _ => return Err(libc::EBADF),
        };
        mem.write(seg.phys, &buf[..n]).map_err(|_| libc::EFAULT)?;
        Ok(n as i64)
    }

    fn utimens(&self, mem: &GuestRam, segs: &[Segment], handle: u64, nofollow: bool) -> Result<i64, Errno> {
        let mut times = [libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW }; 2];
        let times_seg = if handle == NO_HANDLE { segs.get(1) } else { segs.first() };
        if let Some(s) = times_seg {
            let mut raw = [0u8; 32];
            mem.read(s.phys, &mut raw[..(s.len as usize).min(32)]).map_err(|_| libc::EFAULT)?;
            for (i, t) in times.iter_mut().enumerate() {
                t.tv_sec = i64::from_le_bytes(raw[i * 16..i * 16 + 8].try_into().unwrap());
                t.tv_nsec = i64::from_le_bytes(raw[i * 16 + 8..i * 16 + 16].try_into().unwrap());
            }
        }
        if handle != NO_HANDLE {
            let fd = self.fd(handle)?;
            // SAFETY: futimens on a descriptor we hold with two timespecs.
            return sys(|| unsafe { libc::futimens(fd, times.as_ptr()) } as isize);
        }
        let path = read_path(mem, segs, 0).map_err(|_| libc::EFAULT)?;
        self.modify_existing(&path, !nofollow, |parent, name| {
            // SAFETY: utimensat of one name in a directory we hold, never following a host symlink.
            sys(|| unsafe {
                libc::utimensat(parent.as_raw_fd(), name.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
            } as isize)
        })
    }

    fn statfs(&self, mem: &GuestRam, segs: &[Segment], handle: u64) -> Result<i64, Errno> {
        // SAFETY: an all-zero statfs is valid; fstatfs fills it.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        let (fd_owned, fd) = if segs.len() >= 2 {
            let path = read_path(mem, segs, 0).map_err(|_| libc::EFAULT)?;
            match self.sandbox.resolve(&path, true)? {
                Resolved::Virtual { .. } => return Err(libc::ENOSYS),
                Resolved::Host { parent, name: None, .. } => {
                    let raw = parent.as_raw_fd();
                    (Some(parent), raw)
                }
                Resolved::Host { parent, name: Some(name), .. } => {
                    // SAFETY: openat O_PATH of one name in a directory we hold.
                    let fd = sys(|| unsafe {
                        libc::openat(
                            parent.as_raw_fd(),
                            name.as_ptr(),
                            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                        )
                    } as isize)?;
                    // SAFETY: just opened, ours.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd as i32) };
                    (Some(owned), fd as i32)
                }
            }
        } else {
            (None, self.fd(handle)?)
        };
        // SAFETY: fstatfs on a descriptor we hold.
        sys(|| unsafe { libc::fstatfs(fd, &mut st) } as isize)?;
        drop(fd_owned);
        write_out(mem, segs, segs.len().saturating_sub(1), bytes_of(&st)).map_err(|_| libc::EFAULT)?;
        Ok(0)
    }

    fn poll(&self, mem: &GuestRam, segs: &[Segment], timeout_ms: i64) -> Result<i64, Errno> {
        use hx_abi::hypercall::PollEntry;
        let Some(seg) = segs.first() else { return Err(libc::EINVAL) };
        let n = seg.len as usize / std::mem::size_of::<PollEntry>();
        let mut entries: Vec<PollEntry> = Vec::with_capacity(n);
        for i in 0..n {
            entries.push(
                mem.read_obj(seg.phys + (i * std::mem::size_of::<PollEntry>()) as u64).map_err(|_| libc::EFAULT)?,
            );
        }
        let mut fds: Vec<libc::pollfd> = entries
            .iter()
            .map(|e| libc::pollfd { fd: self.fd(e.handle).unwrap_or(-1), events: e.events, revents: 0 })
            .collect();
        let timeout = if timeout_ms < 0 { -1 } else { timeout_ms.min(i32::MAX as i64) as i32 };
        // SAFETY: poll on descriptors we hold (or -1, which poll skips).
        let ready = sys(|| unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as u64, timeout) } as isize)?;
        for (i, (e, f)) in entries.iter_mut().zip(&fds).enumerate() {
            e.revents = if f.fd < 0 { libc::POLLNVAL } else { f.revents };
            mem.write_obj(seg.phys + (i * std::mem::size_of::<PollEntry>()) as u64, *e).map_err(|_| libc::EFAULT)?;
        }
        Ok(ready)
    }

    fn tty_ioctl(&self, mem: &GuestRam, handle: u64, cmd: u64, segs: &[Segment]) -> Result<i64, Errno> {
        let fd = self.fd(handle)?;
        if cmd != libc::TCGETS && cmd != libc::TIOCGWINSZ {
            return Err(libc::ENOTTY);
        }
        let mut buf = [0u8; 64];
        // SAFETY: TCGETS writes a kernel termios (36 bytes), TIOCGWINSZ a winsize (8) into `buf`.
        sys(|| unsafe { libc::ioctl(fd, cmd, buf.as_mut_ptr()) } as isize)?;
        write_out(mem, segs, 0, &buf).map_err(|_| libc::EFAULT)?;
        Ok(0)
    }
}

fn fstat(fd: i32) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on a descriptor we hold.
    sys(|| unsafe { libc::fstat(fd, &mut st) } as isize)?;
    Ok(st)
}

fn lstat_exists(dir: &OwnedFd, name: &CStr) -> bool {
    // SAFETY: an all-zero stat is valid; fstatat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstatat of one name, not following symlinks.
    unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) == 0 }
}

/// The bytes of segment `i` (a path the kernel sent), at most PATH_MAX.
fn read_path(mem: &GuestRam, segs: &[Segment], i: usize) -> Result<Vec<u8>> {
    let Some(s) = segs.get(i) else { bail!("file request without path segment {i}") };
    if s.len as usize > sandbox::PATH_MAX {
        bail!("path segment longer than PATH_MAX");
    }
    let mut b = vec![0u8; s.len as usize];
    mem.read(s.phys, &mut b)?;
    Ok(b)
}

/// Copies `bytes` into segment `i` (truncating to its length); returns the count.
fn write_out(mem: &GuestRam, segs: &[Segment], i: usize, bytes: &[u8]) -> Result<usize> {
    let Some(s) = segs.get(i) else { return Ok(0) };
    let n = bytes.len().min(s.len as usize);
    mem.write(s.phys, &bytes[..n])?;
    Ok(n)
}
