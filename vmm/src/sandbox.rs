//! The guest's file namespace: host directories mounted at guest paths, and
//! the path walk that keeps every lookup inside them.
//!
//! The monitor resolves each guest path itself, one component at a time, with
//! `openat`/`fstatat`/`readlinkat` on a directory it already holds and a single
//! name that is never `..` and never followed if it is a symlink. Symlinks are
//! read and resolved in the *guest's* namespace (an absolute target starts
//! again at the guest root), `..` pops a component of the resolved guest path.
//! So no path, symlink or `/proc` trick can reach a host file outside a mount.
use anyhow::{bail, Context, Result};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Symlinks followed in one walk before `ELOOP`, as Linux.
const MAX_LINKS: usize = 40;
pub const PATH_MAX: usize = 4096;

pub struct Mount {
    /// Guest path components (empty: the root).
    pub guest: Vec<Vec<u8>>,
    pub host: PathBuf,
    dir: OwnedFd,
    pub writable: bool,
}

pub struct Sandbox {
    mounts: Vec<Mount>,
}

/// Where a guest path leads.
pub enum Resolved {
    /// `name` in the host directory `parent` of `mount` (`name` None: `parent` itself).
    Host { mount: usize, parent: OwnedFd, name: Option<CString>, guest: Vec<u8> },
    /// A directory that exists only because mounts lie below it.
    Virtual { guest: Vec<u8> },
}

pub type Errno = i32;

fn last_errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn components(path: &[u8]) -> Vec<Vec<u8>> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").map(|c| c.to_vec()).collect()
}

fn join(stack: &[Vec<u8>]) -> Vec<u8> {
    if stack.is_empty() {
        return b"/".to_vec();
    }
    stack.iter().flat_map(|c| std::iter::once(b'/').chain(c.iter().copied())).collect()
}

/// `openat(dir, name, O_PATH | O_NOFOLLOW | extra)`.
fn open_path(dir: &OwnedFd, name: &CStr, extra: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: a plain openat on a directory we own, with a single-component name.
    let fd = unsafe {
        libc::openat(dir.as_raw_fd(), name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC | extra)
    };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: `fd` was just returned by openat and is ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn lstat_at(dir: &OwnedFd, name: &CStr) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero stat is valid; fstatat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; AT_SYMLINK_NOFOLLOW: the name itself, never its target.
    if unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } < 0 {
        return Err(last_errno());
    }
    Ok(st)
}

pub fn readlink_at(dir: &OwnedFd, name: &CStr) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; PATH_MAX];
    // SAFETY: readlinkat writes at most buf.len() bytes into buf.
    let n = unsafe { libc::readlinkat(dir.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(last_errno());
    }
    buf.truncate(n as usize);
    Ok(buf)
}

pub fn dup(fd: &OwnedFd) -> Result<OwnedFd, Errno> {
    fd.try_clone().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

impl Sandbox {
    pub fn new() -> Self {
        Self { mounts: Vec::new() }
    }

    /// Mounts host directory `host` at guest path `guest`.
    pub fn mount(&mut self, host: &Path, guest: &[u8], writable: bool) -> Result<()> {
        if guest.first() != Some(&b'/') {
            bail!("mount point {} must be an absolute path", String::from_utf8_lossy(guest));
        }
        let guest = components(guest);
        if guest.iter().any(|c| c == b"..") {
            bail!("mount point must not contain '..'");
        }
        let c = CString::new(host.as_os_str().as_bytes()).context("host path with a NUL byte")?;
        // SAFETY: opens the host directory the user named, as a path handle.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            bail!("mount {}: {}", host.display(), std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is ours.
        let dir = unsafe { OwnedFd::from_raw_fd(fd) };
        self.mounts.retain(|m| m.guest != guest);
        self.mounts.push(Mount { guest, host: host.to_path_buf(), dir, writable });
        Ok(())
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The deepest mount containing `stack`.
    fn mount_of(&self, stack: &[Vec<u8>]) -> Option<usize> {
        (0..self.mounts.len())
            .filter(|&i| stack.starts_with(&self.mounts[i].guest))
            .max_by_key(|&i| self.mounts[i].guest.len())
    }

    fn is_virtual_dir(&self, stack: &[Vec<u8>]) -> bool {
        self.mounts.iter().any(|m| m.guest.len() > stack.len() && m.guest.starts_with(stack))
    }

    /// The names of mount points directly below the virtual directory `stack`.
    pub fn virtual_entries(&self, guest: &[u8]) -> Vec<Vec<u8>> {
        let stack = components(guest);
        let mut names: Vec<Vec<u8>> = self
            .mounts
            .iter()
            .filter(|m| m.guest.len() > stack.len() && m.guest.starts_with(&stack))
            .map(|m| m.guest[stack.len()].clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The host directory for the fully resolved `stack` (no symlinks in it).
    fn locate(&self, stack: &[Vec<u8>]) -> Result<Option<(usize, OwnedFd)>, Errno> {
        let Some(m) = self.mount_of(stack) else {
            return if stack.is_empty() || self.is_virtual_dir(stack) { Ok(None) } else { Err(libc::ENOENT) };
        };
        let mut fd = dup(&self.mounts[m].dir)?;
        for c in &stack[self.mounts[m].guest.len()..] {
            let name = CString::new(c.clone()).map_err(|_| libc::EINVAL)?;
            fd = open_path(&fd, &name, libc::O_DIRECTORY)?;
        }
        Ok(Some((m, fd)))
    }

    /// Resolves guest path `path` (absolute). `follow` says whether a symlink
    /// in the last component is followed. A missing last component is not an
    /// error here: the caller's host operation reports it (or creates it).
    pub fn resolve(&self, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        if path.first() != Some(&b'/') {
            return Err(libc::EINVAL);
        }
        if path.len() >= PATH_MAX {
            return Err(libc::ENAMETOOLONG);
        }
        let mut pending: std::collections::VecDeque<Vec<u8>> = components(path).into();
        let trailing_slash = path.ends_with(b"/");
        let mut stack: Vec<Vec<u8>> = Vec::new();
        let mut cur = self.locate(&stack)?;
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c.len() > 255 {
                return Err(libc::ENAMETOOLONG);
            }
            if c == b".." {
                stack.pop();
                cur = self.locate(&stack)?;
                continue;
            }
            let last = pending.is_empty();
            let mut next = stack.clone();
            next.push(c.clone());
            // A mount point shadows whatever lies at its path.
            if let Some(m) = self.mounts.iter().position(|m| m.guest == next) {
                stack = next;
                cur = Some((m, dup(&self.mounts[m].dir)?));
                continue;
            }
            let Some((m, dir)) = cur.as_ref() else {
                if self.is_virtual_dir(&next) {
                    stack = next;
                    continue;
                }
                return Err(libc::ENOENT);
            };
            let name = CString::new(c).map_err(|_| libc::EINVAL)?;
            match lstat_at(dir, &name) {
                Err(libc::ENOENT) if last => {
                    return Ok(Resolved::Host { mount: *m, parent: dup(dir)?, name: Some(name), guest: join(&next) })
                }
                Err(e) => return Err(e),
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK && (!last || follow || trailing_slash) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(libc::ELOOP);
                    }
                    let target = readlink_at(dir, &name)?;
                    let mut comps: std::collections::VecDeque<Vec<u8>> = components(&target).into();
                    comps.extend(pending.drain(..));
                    pending = comps;
                    if target.first() == Some(&b'/') {
                        stack.clear();
                        cur = self.locate(&stack)?;
                    }
                }
                Ok(st) if !last => {
                    if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        return Err(libc::ENOTDIR);
                    }
                    let fd = open_path(dir, &name, libc::O_DIRECTORY)?;
                    cur = Some((*m, fd));
                    stack = next;
                }
                Ok(st) => {
                    if trailing_slash && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        return Err(libc::ENOTDIR);
                    }
                    return Ok(Resolved::Host { mount: *m, parent: dup(dir)?, name: Some(name), guest: join(&next) });
                }
            }
        }
        Ok(match cur {
            Some((mount, parent)) => Resolved::Host { mount, parent, name: None, guest: join(&stack) },
            None => Resolved::Virtual { guest: join(&stack) },
        })
    }

    /// The whole contents of guest file `path` (for the monitor's own loading).
    pub fn read_file(&self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        use std::io::Read;
        let (parent, name) = match self.resolve(path, true)? {
            Resolved::Host { parent, name: Some(name), .. } => (parent, name),
            _ => return Err(libc::EISDIR),
        };
        // SAFETY: openat of a single name in a directory we hold, never following a symlink.
        let fd = unsafe {
            libc::openat(parent.as_raw_fd(), name.as_ptr(), libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        };
        if fd < 0 {
            return Err(last_errno());
        }
        // SAFETY: just opened, ours.
        let mut f = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        Ok(bytes)
    }

    pub fn writable(&self, mount: usize) -> bool {
        self.mounts[mount].writable
    }
}
