//! The guest's file namespace: host directories mounted at guest paths, and
//! the path walk that keeps every lookup inside them.
//!
//! The monitor resolves each guest path itself, one component at a time, with
//! `openat`/`fstatat`/`readlinkat` on a directory it already holds and a single
//! name that is never `..` and never followed if it is a symlink. Symlinks are
//! read and resolved in the *guest's* namespace (an absolute target starts
//! again at the guest root), `..` pops a component of the resolved guest path.
//! So no path, symlink or `/proc` trick can reach a host file outside a mount.
//!
//! A mount is also recognised by the identity (device, inode) of its host
//! directory, not only by its guest path: a read-only mount nested in a
//! read-write one stays read-only when the guest renames one of its ancestors
//! and reaches the same host directory under another name.
//!
//! Every walk has a fixed budget of host calls, so no path — however deep its
//! directories or long its symlink chains — costs more than a bounded time.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Symlinks followed in one walk before `ELOOP`, as Linux.
const MAX_LINKS: usize = 40;
pub const PATH_MAX: usize = 4096;
/// Longest single name, as Linux's `NAME_MAX`.
const NAME_MAX: usize = 255;
/// Host calls one walk may make before it fails with `ELOOP`. Real paths need a
/// few dozen; the bound makes a hostile walk cost milliseconds, not minutes.
const WALK_BUDGET: usize = 1 << 18;
/// Directory handles a walk keeps for the levels above it, so that `..` costs
/// no new walk from the mount (a deeper `..` re-walks, within the budget).
const DIR_CACHE: usize = 32;

/// Largest file the monitor reads whole for itself (a program's interpreter).
const MAX_LOADED_FILE: u64 = 1 << 30;

pub type Errno = i32;

/// A host file's identity.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Identity {
    dev: u64,
    ino: u64,
}

impl Identity {
    fn of(st: &libc::stat) -> Self {
        Self { dev: st.st_dev, ino: st.st_ino }
    }
}

pub struct Mount {
    /// Guest path components (empty: the root).
    pub guest: Vec<Vec<u8>>,
    pub host: PathBuf,
    dir: OwnedFd,
    id: Identity,
    pub writable: bool,
}

impl Mount {
    /// The handle on the mount's host directory.
    pub fn dir(&self) -> &OwnedFd {
        &self.dir
    }
}

#[derive(Default)]
pub struct Sandbox {
    mounts: Vec<Mount>,
}

/// Where a guest path leads.
pub enum Resolved {
    /// `name` in the host directory `parent` (`name` None: `parent` itself).
    /// `mount` governs `parent` (creating or removing names in it);
    /// `object_mount` governs the object itself (writing it, changing its
    /// metadata): they differ when the object is the root of another mount.
    Host { mount: usize, object_mount: usize, parent: OwnedFd, name: Option<CString>, guest: Vec<u8> },
    /// A directory that exists only because mounts lie below it.
    Virtual { guest: Vec<u8> },
}

impl Resolved {
    /// Whether the object is a mount's root directory (which cannot be renamed or removed).
    pub fn is_mount_root(&self) -> bool {
        match self {
            Resolved::Host { mount, object_mount, .. } => mount != object_mount,
            Resolved::Virtual { .. } => true,
        }
    }
}

/// What a walk found — a place in the mounts (or what a request made of it)
/// — or a guest path the kernel serves (a symlink led out of the mounts
/// into `/proc`, `/dev`...: `hx_abi::hypercall::EREDIRECT`).
pub enum Walked<T = Resolved> {
    Here(T),
    Kernel(Vec<u8>),
}

/// How a walk treats its last name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Not followed if a symlink (`O_NOFOLLOW`, `lstat`).
    Keep,
    Follow,
    /// The path ended in '/': followed, and it must be a directory.
    Directory,
    /// A directory the walk goes on from (openat2's start).
    Enter,
}

/// openat2's scoping of `..` and absolute symlinks to the start directory.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    None,
    /// `RESOLVE_BENEATH`: leaving it is `EXDEV`.
    Beneath,
    /// `RESOLVE_IN_ROOT`: it is the root (`..` stays, `/` comes back to it).
    InRoot,
}

/// openat2's `RESOLVE_*` rules for one walk, from the start directory on.
#[derive(Clone, Copy, Default)]
pub struct Rules {
    /// Bytes of the path that name the start directory (0: the guest root).
    base_len: usize,
    /// `RESOLVE_NO_SYMLINKS`: any symlink to follow is `ELOOP`.
    no_symlinks: bool,
    /// `RESOLVE_NO_XDEV`: crossing into another mount is `EXDEV`.
    no_xdev: bool,
    scope: Scope,
    /// Components of the start directory, and its mount (set by the walk).
    depth: usize,
    start: Option<usize>,
}

impl Rules {
    pub fn new(base_len: usize, no_symlinks: bool, no_xdev: bool, scope: Scope) -> Self {
        Self { base_len, no_symlinks, no_xdev, scope, ..Self::default() }
    }

    /// `RESOLVE_NO_XDEV`: the walk must stay on its start's mount.
    fn check_mount(&self, walk: &Walk) -> Result<(), Errno> {
        if self.no_xdev && walk.top_mount() != self.start {
            return Err(libc::EXDEV);
        }
        Ok(())
    }
}

fn last_errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").map(|c| c.to_vec())
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

pub fn lstat_at(dir: &OwnedFd, name: &CStr) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero stat is valid; fstatat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above; AT_SYMLINK_NOFOLLOW: the name itself, never its target.
    if unsafe { libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) } < 0 {
        return Err(last_errno());
    }
    Ok(st)
}

/// `fstat` of a descriptor the monitor holds.
pub fn fstat_fd(fd: std::os::fd::RawFd) -> Result<libc::stat, Errno> {
    // SAFETY: an all-zero stat is valid; fstat fills it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on a descriptor we hold.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
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

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Opens directory `name` in `dir` (of `mount`), switching to the mount whose
/// root it is, if any — judged on the opened directory itself, so a rename
/// between the check and the open cannot slip a read-only mount past it.
fn enter(sb: &Sandbox, mount: usize, dir: &OwnedFd, name: &CStr) -> Result<(usize, OwnedFd), Errno> {
    let fd = open_path(dir, name, libc::O_DIRECTORY)?;
    let st = fstat_fd(fd.as_raw_fd())?;
    Ok((sb.mount_with_root(Identity::of(&st)).unwrap_or(mount), fd))
}

/// One level of the walk: the host directory (and its mount) for a prefix of
/// the guest path; `None` above the mounts (a virtual directory) or where the
/// cache dropped the handle.
enum Level {
    Host(usize, OwnedFd),
    Virtual,
    Dropped,
}

/// The state of one path walk.
struct Walk<'a> {
    sb: &'a Sandbox,
    /// Resolved guest components so far (no symlinks, no `..`).
    stack: Vec<Vec<u8>>,
    /// `levels[i]` is the directory for `stack[..i]`: one more than `stack`.
    levels: Vec<Level>,
    budget: usize,
}

impl<'a> Walk<'a> {
    fn new(sb: &'a Sandbox) -> Result<Self, Errno> {
        Ok(Self { sb, stack: Vec::new(), levels: vec![sb.root()?], budget: WALK_BUDGET })
    }

    /// The mount of the directory on top (None: above the mounts).
    fn top_mount(&self) -> Option<usize> {
        match self.levels.last() {
            Some(Level::Host(m, _)) => Some(*m),
            _ => None,
        }
    }

    /// Back to the directory `depth` components deep (`RESOLVE_IN_ROOT`'s root).
    fn back_to(&mut self, depth: usize) -> Result<(), Errno> {
        self.stack.truncate(depth);
        self.levels.truncate(depth + 1);
        if matches!(self.levels.last(), Some(Level::Dropped)) {
            self.refill()?;
        }
        Ok(())
    }

    /// Charges `calls` host calls to the walk's budget.
    fn spend(&mut self, calls: usize) -> Result<(), Errno> {
        self.budget = self.budget.checked_sub(calls).ok_or(libc::ELOOP)?;
        Ok(())
    }

    /// Back to the guest root (an absolute symlink).
    fn restart(&mut self) -> Result<(), Errno> {
        self.stack.clear();
        self.levels = vec![self.sb.root()?];
        Ok(())
    }

    fn push(&mut self, component: Vec<u8>, level: Level) {
        self.stack.push(component);
        self.levels.push(level);
        // Keep handles for the last DIR_CACHE levels and for every
        // DIR_CACHE-th level above them: a walk holds few host descriptors
        // however deep it goes, and a `..` past the recent levels re-walks at
        // most DIR_CACHE names from the checkpoint above it.
        if let Some(old) = self.levels.len().checked_sub(DIR_CACHE + 1).filter(|o| o % DIR_CACHE != 0) {
            if let Some(level @ Level::Host(..)) = self.levels.get_mut(old) {
                *level = Level::Dropped;
            }
        }
    }

    fn pop(&mut self) -> Result<(), Errno> {
        if self.stack.pop().is_some() {
            self.levels.pop();
        }
        if matches!(self.levels.last(), Some(Level::Dropped)) {
            self.refill()?;
        }
        Ok(())
    }

    /// Re-opens the dropped levels between the nearest kept one and the top.
    /// Levels above the mounts are virtual and never dropped, so each dropped
    /// level is either a mount point or a directory inside the level above it.
    fn refill(&mut self) -> Result<(), Errno> {
        let kept = self.levels.iter().rposition(|l| !matches!(l, Level::Dropped)).ok_or(libc::EIO)?;
        for depth in kept + 1..self.levels.len() {
            self.spend(1)?;
            let prefix = self.stack.get(..depth).ok_or(libc::EIO)?;
            // A mount point shadows what lies at its path, as in the walk.
            let level = match self.sb.mounts.iter().position(|m| m.guest.as_slice() == prefix) {
                Some(m) => Level::Host(m, dup(&self.sb.mount_at_index(m)?.dir)?),
                None => {
                    let Some(Level::Host(m, dir)) = self.levels.get(depth - 1) else { return Err(libc::EIO) };
                    let name = CString::new(prefix.last().cloned().unwrap_or_default()).map_err(|_| libc::EINVAL)?;
                    let (m, fd) = enter(self.sb, *m, dir, &name)?;
                    Level::Host(m, fd)
                }
            };
            if let Some(slot) = self.levels.get_mut(depth) {
                *slot = level;
            }
        }
        Ok(())
    }

    /// The mount whose guest path is exactly `stack` + `c`.
    fn mount_at(&self, c: &[u8]) -> Option<usize> {
        let n = self.stack.len();
        self.sb.mounts.iter().position(|m| {
            m.guest.len() == n + 1
                && m.guest.last().map(|l| l.as_slice()) == Some(c)
                && m.guest.starts_with(&self.stack)
        })
    }

    /// Whether a mount lies strictly below `stack` + `c`.
    fn virtual_child(&self, c: &[u8]) -> bool {
        let n = self.stack.len();
        self.sb.mounts.iter().any(|m| {
            m.guest.len() > n + 1 && m.guest.starts_with(&self.stack) && m.guest.get(n).map(|x| x.as_slice()) == Some(c)
        })
    }

    fn current(&self) -> Result<Option<(usize, &OwnedFd)>, Errno> {
        match self.levels.last() {
            Some(Level::Host(m, fd)) => Ok(Some((*m, fd))),
            Some(Level::Virtual) => Ok(None),
            _ => Err(libc::EIO),
        }
    }

    fn resolved_here(
        &self,
        mount: usize,
        dir: &OwnedFd,
        name: CString,
        object: Option<&libc::stat>,
    ) -> Result<Resolved, Errno> {
        let object_mount = object.and_then(|st| self.sb.mount_with_root(Identity::of(st))).unwrap_or(mount);
        let mut guest = join(&self.stack);
        if guest.len() > 1 {
            guest.push(b'/');
        }
        guest.extend_from_slice(name.as_bytes());
        Ok(Resolved::Host { mount, object_mount, parent: dup(dir)?, name: Some(name), guest })
    }
}

impl Sandbox {
    /// The descriptors the sandbox holds (its mounts' directories).
    pub fn raw_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.mounts.iter().map(|m| m.dir.as_raw_fd()).collect()
    }

    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts host directory `host` at guest path `guest`.
    pub fn mount(&mut self, host: &Path, guest: &[u8], writable: bool) -> Result<()> {
        if guest.first() != Some(&b'/') {
            bail!("mount point {} must be an absolute path", String::from_utf8_lossy(guest));
        }
        let guest: Vec<Vec<u8>> = components(guest).collect();
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
        let st = fstat_fd(dir.as_raw_fd()).map_err(std::io::Error::from_raw_os_error).context("mount")?;
        self.mounts.retain(|m| m.guest != guest);
        self.mounts.push(Mount { guest, host: host.to_path_buf(), dir, id: Identity::of(&st), writable });
        Ok(())
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// `MOUNTS`: every mount as a `MountRecord` and its guest path, into
    /// the request's first segment (`ERANGE` if they do not all fit). The
    /// host paths behind them stay the monitor's.
    pub fn describe_mounts(&self, segs: &crate::host::guest::Segs) -> Result<i64, Errno> {
        use hx_abi::hypercall::{MountRecord, MOUNT_WRITABLE};
        let room = segs.get(0).map_or(0, |s| usize::try_from(s.len).unwrap_or(usize::MAX));
        let mut out = Vec::new();
        for m in &self.mounts {
            let st = fstat_fd(m.dir.as_raw_fd())?;
            // SAFETY: an all-zero statfs is valid; fstatfs fills it.
            let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
            // SAFETY: fstatfs on the mount's own descriptor, into our struct.
            if unsafe { libc::fstatfs(m.dir.as_raw_fd(), &mut fs) } != 0 {
                return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO));
            }
            let mut path = Vec::new();
            for c in &m.guest {
                path.push(b'/');
                path.extend_from_slice(c);
            }
            if path.is_empty() {
                path.push(b'/');
            }
            let record = MountRecord {
                dev: st.st_dev,
                fs_type: fs.f_type as u64,
                path_len: u32::try_from(path.len()).map_err(|_| libc::ERANGE)?,
                flags: if m.writable { MOUNT_WRITABLE } else { 0 },
            };
            // SAFETY: MountRecord is plain old data without padding.
            out.extend_from_slice(unsafe {
                std::slice::from_raw_parts((&record as *const MountRecord).cast::<u8>(), size_of::<MountRecord>())
            });
            out.extend_from_slice(&path);
            out.resize(out.len().next_multiple_of(8), 0);
            if out.len() > room {
                return Err(libc::ERANGE);
            }
        }
        segs.write(0, &out)?;
        Ok(out.len() as i64)
    }

    /// `syncfs` on the file system of every read-write mount (what a guest
    /// `sync` can have made dirty); always 0, as `sync` never fails.
    pub fn sync_writable(&self) -> i64 {
        for m in self.mounts.iter().filter(|m| m.writable) {
            // The mount's own descriptor is O_PATH, which syncfs refuses: open
            // the directory itself for it.
            // SAFETY: opens "." under a directory descriptor we hold; the new
            // descriptor is closed by the OwnedFd.
            let fd = unsafe {
                libc::openat(m.dir.as_raw_fd(), c".".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
            };
            if fd >= 0 {
                // SAFETY: `fd` was just opened and is ours.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                // SAFETY: syncfs on that descriptor.
                unsafe { libc::syncfs(fd.as_raw_fd()) };
            }
        }
        0
    }

    fn mount_at_index(&self, m: usize) -> Result<&Mount, Errno> {
        self.mounts.get(m).ok_or(libc::EIO)
    }

    /// The walk's first level: the mount at `/`, or a virtual root above the mounts.
    fn root(&self) -> Result<Level, Errno> {
        match self.mounts.iter().position(|m| m.guest.is_empty()) {
            Some(m) => Ok(Level::Host(m, dup(&self.mount_at_index(m)?.dir)?)),
            None => Ok(Level::Virtual),
        }
    }

    /// The mount whose host root is the directory `id` (a read-only one first,
    /// should the same directory be mounted twice).
    fn mount_with_root(&self, id: Identity) -> Option<usize> {
        let matching = self.mounts.iter().enumerate().filter(|(_, m)| m.id == id);
        matching.min_by_key(|(_, m)| m.writable).map(|(i, _)| i)
    }

    /// The names of mount points directly below the virtual directory `guest`.
    pub fn virtual_entries(&self, guest: &[u8]) -> Vec<Vec<u8>> {
        let stack: Vec<Vec<u8>> = components(guest).collect();
        let mut names: Vec<Vec<u8>> = self
            .mounts
            .iter()
            .filter(|m| m.guest.len() > stack.len() && m.guest.starts_with(&stack))
            .filter_map(|m| m.guest.get(stack.len()).cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Resolves guest path `path` (absolute). `follow` says whether a symlink
    /// in the last component is followed. A missing last component is not an
    /// error here: the caller's host operation reports it (or creates it).
    /// A path that leaves the mounts for one the guest kernel serves is ENOENT
    /// here (see [`Sandbox::walk`] for the requests that hand it back).
    pub fn resolve(&self, path: &[u8], follow: bool) -> Result<Resolved, Errno> {
        match self.walk(path, follow, &Rules::default())? {
            Walked::Here(r) => Ok(r),
            Walked::Kernel(_) => Err(libc::ENOENT),
        }
    }

    /// Resolves `path` as [`Sandbox::resolve`], under openat2's `rules`; a
    /// symlink that leads out of the mounts into a guest path the monitor does
    /// not hold (`/proc/...`, `/dev/null`: the guest kernel's) is handed back
    /// as that path, for the kernel to resolve.
    pub fn walk(&self, path: &[u8], follow: bool, rules: &Rules) -> Result<Walked, Errno> {
        if path.first() != Some(&b'/') {
            return Err(libc::EINVAL);
        }
        if path.len() >= PATH_MAX {
            return Err(libc::ENAMETOOLONG);
        }
        if path.contains(&0) {
            return Err(libc::EINVAL);
        }
        let (base, rest) = path.split_at(rules.base_len.min(path.len()));
        let mut walk = Walk::new(self)?;
        // The start directory (openat2's dirfd) is a path the walk resolved
        // before: it is walked without the rules, which act from there on.
        if self.walk_components(&mut walk, components(base).collect(), Last::Enter, &Rules::default())?.is_some() {
            return Err(libc::ENOENT);
        }
        let rules = Rules { depth: walk.stack.len(), start: walk.top_mount(), ..*rules };
        let last = match (follow, path.ends_with(b"/")) {
            (_, true) => Last::Directory,
            (true, false) => Last::Follow,
            (false, false) => Last::Keep,
        };
        if let Some(w) = self.walk_components(&mut walk, components(rest).collect(), last, &rules)? {
            return Ok(w);
        }
        let guest = join(&walk.stack);
        Ok(Walked::Here(match walk.levels.pop() {
            Some(Level::Host(mount, parent)) => {
                Resolved::Host { mount, object_mount: mount, parent, name: None, guest }
            }
            _ => Resolved::Virtual { guest },
        }))
    }

    /// Walks `pending` from where `walk` stands. `Some`: the walk ended at a
    /// last name (found or not) or left for the kernel; `None`: it ended on
    /// the directory `walk` now holds on top.
    fn walk_components(
        &self,
        walk: &mut Walk,
        mut pending: VecDeque<Vec<u8>>,
        how: Last,
        rules: &Rules,
    ) -> Result<Option<Walked>, Errno> {
        let trailing_slash = how == Last::Directory;
        let follow = how == Last::Follow;
        let mut links = 0;
        while let Some(c) = pending.pop_front() {
            if c.len() > NAME_MAX {
                return Err(libc::ENAMETOOLONG);
            }
            if c == b".." {
                if walk.stack.len() <= rules.depth {
                    match rules.scope {
                        Scope::Beneath => return Err(libc::EXDEV),
                        Scope::InRoot => continue,
                        Scope::None => {}
                    }
                }
                walk.pop()?;
                rules.check_mount(walk)?;
                continue;
            }
            let last = pending.is_empty() && how != Last::Enter;
            // A mount point shadows whatever lies at its path.
            if let Some(m) = walk.mount_at(&c) {
                let fd = dup(&self.mount_at_index(m)?.dir)?;
                walk.push(c, Level::Host(m, fd));
                rules.check_mount(walk)?;
                continue;
            }
            // Two host calls at most per name: lstat, then readlink or open.
            walk.spend(2)?;
            let Some((m, dir)) = walk.current()? else {
                if walk.virtual_child(&c) {
                    walk.push(c, Level::Virtual);
                    rules.check_mount(walk)?;
                    continue;
                }
                // Out of the mounts through a symlink: perhaps the kernel's.
                if links > 0 {
                    let mut rest: Vec<Vec<u8>> = walk.stack.clone();
                    rest.push(c);
                    rest.extend(pending);
                    let mut guest = join(&rest);
                    if trailing_slash {
                        guest.push(b'/');
                    }
                    return Ok(Some(Walked::Kernel(guest)));
                }
                return Err(libc::ENOENT);
            };
            let name = CString::new(c).map_err(|_| libc::EINVAL)?;
            match lstat_at(dir, &name) {
                Err(libc::ENOENT) if last => {
                    return walk.resolved_here(m, dir, name, None).map(|r| Some(Walked::Here(r)))
                }
                Err(e) => return Err(e),
                Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFLNK && (!last || follow || trailing_slash) => {
                    if rules.no_symlinks {
                        return Err(libc::ELOOP);
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(libc::ELOOP);
                    }
                    let target = readlink_at(dir, &name)?;
                    let rest = std::mem::take(&mut pending);
                    pending = components(&target).collect();
                    pending.extend(rest);
                    if target.first() == Some(&b'/') {
                        match rules.scope {
                            Scope::Beneath => return Err(libc::EXDEV),
                            Scope::InRoot => walk.back_to(rules.depth)?,
                            Scope::None => walk.restart()?,
                        }
                        rules.check_mount(walk)?;
                    }
                }
                Ok(st) if !last => {
                    if !is_dir(&st) {
                        return Err(libc::ENOTDIR);
                    }
                    let (m, fd) = enter(self, m, dir, &name)?;
                    walk.push(name.into_bytes(), Level::Host(m, fd));
                    rules.check_mount(walk)?;
                }
                Ok(st) => {
                    if trailing_slash && !is_dir(&st) {
                        return Err(libc::ENOTDIR);
                    }
                    let r = walk.resolved_here(m, dir, name, Some(&st))?;
                    if rules.no_xdev && r.is_mount_root() {
                        return Err(libc::EXDEV);
                    }
                    return Ok(Some(Walked::Here(r)));
                }
            }
        }
        Ok(None)
    }

    /// Opens guest file `path` read-only, following a final symlink in the
    /// guest's namespace, the host call never following one.
    fn open_file(&self, path: &[u8]) -> Result<std::fs::File, Errno> {
        let (parent, name) = match self.resolve(path, true)? {
            Resolved::Host { parent, name: Some(name), .. } => (parent, name),
            _ => return Err(libc::EISDIR),
        };
        // SAFETY: openat of a single name in a directory we hold, never following a symlink.
        let fd = unsafe {
            libc::openat(
                parent.as_raw_fd(),
                name.as_ptr(),
                libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK,
            )
        };
        if fd < 0 {
            return Err(last_errno());
        }
        // SAFETY: just opened, ours.
        Ok(std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// A file's contents for the monitor's own loading, mapped (`image`).
    fn map_all(f: std::fs::File) -> Result<crate::image::Image, Errno> {
        let size = fstat_fd(f.as_raw_fd())?.st_size as u64;
        crate::image::Image::of(f, size.min(MAX_LOADED_FILE)).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The whole contents of guest file `path` (for the monitor's own loading).
    pub fn read_file(&self, path: &[u8]) -> Result<crate::image::Image, Errno> {
        Self::map_all(self.open_file(path)?)
    }

    /// A program file for `execve`, opened, with Linux's errors: a directory
    /// or a file without execute permission is `EACCES`.
    pub fn open_executable(&self, path: &[u8]) -> Result<std::fs::File, Errno> {
        // A guest that gave up root needs search permission on the way and
        // execute permission on the file itself: the walk and the check are
        // made as its ids (the image is then read as the monitor, as Linux
        // runs a file it may execute but not read).
        if let Some(_as_guest) = crate::host::identity::act_as_guest(false) {
            if let Resolved::Host { parent, name: Some(name), .. } = self.resolve(path, true)? {
                let flags = libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW;
                // SAFETY: faccessat2 of one name in a directory we hold.
                let r = unsafe {
                    libc::syscall(libc::SYS_faccessat2, parent.as_raw_fd(), name.as_ptr(), libc::X_OK, flags)
                };
                if r != 0 {
                    return Err(last_errno());
                }
            }
        }
        let f = self.open_file(path).map_err(|e| if e == libc::EISDIR { libc::EACCES } else { e })?;
        let st = fstat_fd(f.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_mode & 0o111 == 0 {
            return Err(libc::EACCES);
        }
        Ok(f)
    }

    /// The contents of a program file for `execve` (see `open_executable`).
    pub fn read_executable(&self, path: &[u8]) -> Result<crate::image::Image, Errno> {
        Self::map_all(self.open_executable(path)?)
    }

    pub fn writable(&self, mount: usize) -> bool {
        self.mounts.get(mount).is_some_and(|m| m.writable)
    }
}
