//! The guest's file requests, resolved through the sandbox and served on the
//! handles the monitor holds. Each host call acts on exactly what the sandbox
//! checked: a single name in a directory handle, never following a symlink.
use super::flags;
use super::guest::Segs;
use super::handles::{Handle, Handles};
use crate::sandbox::{self, fstat_fd as fstat, lstat_at, Errno, Resolved, Rules, Sandbox, Walked};
use hx_abi::hypercall::{
    op, PollEntry, Request, FSYNC_ALL, FSYNC_DATA, FSYNC_FS, F_ADD_SEALS, F_GET_SEALS, MEMFD_FLAGS, NO_HANDLE,
    POLL_EDGES, RW_NOWAIT, SEALS, SETFL_PIPE_SIZE, SETFL_SEALS,
};
use hx_abi::ioctl::Arg;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Largest directory listing one request returns (a shorter one is Linux's answer too).
const MAX_DENTS: usize = 64 * 1024;
/// Most entries in one `POLL` request (Linux's `RLIMIT_NOFILE` default hard limit).
const MAX_POLL: usize = 4096;

/// An opened file: its handle, the guest path it resolved to, its type.
type Opened = (u64, Vec<u8>, u32);

/// [`hx_abi::hypercall::EREDIRECT`] as a request's error.
const EREDIRECT: Errno = hx_abi::hypercall::EREDIRECT as Errno;

pub struct Files {
    pub sandbox: Sandbox,
    pub(super) handles: Handles,
    pub net: super::net::Net,
    /// Guest pages backed by shared memory (`MAP_SHARED`).
    pub shared: super::shared::SharedRanges,
    /// With --fast-libc: the patched libc.so that replaces musl's everywhere.
    fast_libc: Option<std::path::PathBuf>,
    /// What the guest's memory files may hold together (its RAM size).
    pub memory_budget: u64,
    /// The guest's `RLIMIT_FSIZE` (soft): no write or size change of a
    /// regular file reaches past it (`u64::MAX`: none).
    pub file_size_limit: u64,
    /// The pseudo-terminals the guest made (`/dev/ptmx`, `/dev/pts/N`).
    ptys: super::pty::Ptys,
    /// How the host tells of broken leases and I/O (`super::io_signals`).
    pub(super) leases: super::io_signals::Leases,
}

/// `Files::memory_budget` until the VM's RAM size is known.
const DEFAULT_MEMORY_BUDGET: u64 = 256 << 20;

/// File names under which a program may look for musl's libc.
const MUSL_LIBC_NAMES: [&[u8]; 3] = [b"libc.so", b"libc.musl-x86_64.so.1", b"ld-musl-x86_64.so.1"];

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Runs a host call, retrying after EINTR from hx-run's own signal handlers —
/// unless SIGINT/SIGTERM asked to stop the guest, which must not hang here.
pub fn sys(mut f: impl FnMut() -> isize) -> Result<i64, Errno> {
    loop {
        let n = f();
        if n >= 0 {
            return Ok(n as i64);
        }
        let e = errno();
        if e != libc::EINTR || crate::signals::interrupted() {
            return Err(e);
        }
    }
}

/// A host call that may block, checked under the monitor's lock and run
/// without it (see `Files::prepare_io`). The host files it uses stay open
/// while it lives, whatever another vCPU closes meanwhile.
pub enum BlockingCall {
    /// A read or write on a host file.
    /// `nowait`: `EAGAIN` rather than waiting for data or room (the guest
    /// waits with `WATCH`, without holding its vCPU).
    Rw { fd: std::sync::Arc<OwnedFd>, iovs: Vec<libc::iovec>, offset: Option<i64>, write: bool, nowait: bool },
    /// A poll on host files (`None`: a handle the guest does not hold); the
    /// `revents` go back to the guest-physical array at `at`.
    Poll { fds: Vec<Option<std::sync::Arc<OwnedFd>>>, entries: Vec<PollEntry>, at: u64, timeout: i32 },
    /// A socket call; its results are installed under the lock again (`net::Blocking::finish`).
    Net(Box<super::net::Blocking>),
    /// An `ioctl` that may wait (`tcdrain`, `TCSETSW`, a break): it reads
    /// its argument, writes nothing back.
    Ioctl { fd: std::sync::Arc<OwnedFd>, call: super::ioctl::Ioctl },
}

/// The first `n` bytes the iovecs (into guest RAM, checked by `Segs`) hold, in place.
fn written_slices(iovs: &[libc::iovec], n: usize) -> Vec<&[u8]> {
    let mut left = n;
    let mut out = Vec::new();
    for v in iovs {
        let take = v.iov_len.min(left);
        // SAFETY: each iovec was checked to lie in guest RAM, which stays mapped.
        out.push(unsafe { std::slice::from_raw_parts(v.iov_base as *const u8, take) });
        left -= take;
        if left == 0 {
            break;
        }
    }
    out
}

impl BlockingCall {
    /// Runs the call: bytes moved or descriptors ready, or the host's errno.
    pub fn run(&mut self, mem: &crate::memory::GuestRam) -> Result<i64, Errno> {
        match self {
            BlockingCall::Rw { fd, iovs, offset, write, nowait } => {
                let fd = fd.as_raw_fd();
                if *nowait && !ready_now(fd, if *write { libc::POLLOUT } else { libc::POLLIN }) {
                    return Err(libc::EAGAIN);
                }
                if *nowait && *write && offset.is_none() {
                    // A socket takes what fits and says EAGAIN for the rest.
                    // SAFETY: an all-zero msghdr is valid; the iovecs point into guest RAM (checked by `Segs`).
                    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                    msg.msg_iov = iovs.as_mut_ptr();
                    msg.msg_iovlen = iovs.len();
                    // SAFETY: as above; `fd` stays open meanwhile.
                    match sys(|| unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) }) {
                        Err(libc::ENOTSOCK) => {}
                        r => return r,
                    }
                }
                let n = iovs.len() as i32;
                let at = iovs.as_ptr();
                // SAFETY: the iovecs point into guest RAM, checked by `Segs`; the
                // host reads or writes only there, and `fd` stays open meanwhile.
                let done = sys(|| unsafe {
                    match (*offset, *write) {
                        (None, false) => libc::readv(fd, at, n),
                        (None, true) => libc::writev(fd, at, n),
                        (Some(o), false) => libc::preadv(fd, at, n, o),
                        (Some(o), true) => libc::pwritev(fd, at, n, o),
                    }
                })?;
                if *write && offset.is_none() && super::pty::master_opened() {
                    super::pty::line_signals(fd, &written_slices(iovs, done as usize));
                }
                Ok(done)
            }
            BlockingCall::Poll { fds, entries, at, timeout } => {
                let mut polled: Vec<libc::pollfd> = entries
                    .iter()
                    .zip(fds.iter())
                    .map(|(e, f)| libc::pollfd {
                        fd: f.as_ref().map_or(-1, |f| f.as_raw_fd()),
                        events: e.events & !POLL_EDGES,
                        revents: 0,
                    })
                    .collect();
                let timeout = *timeout;
                // SAFETY: poll on descriptors we hold (or -1, which poll skips).
                let ready = sys(|| unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as u64, timeout) } as isize)?;
                let size = std::mem::size_of::<PollEntry>() as u64;
                for (i, (e, p)) in entries.iter_mut().zip(&polled).enumerate() {
                    e.revents = if p.fd < 0 { libc::POLLNVAL } else { p.revents };
                    mem.write_obj(*at + i as u64 * size, *e).map_err(|_| libc::EFAULT)?;
                }
                Ok(ready)
            }
            BlockingCall::Net(call) => call.run(),
            BlockingCall::Ioctl { fd, call } => call.run(fd.as_raw_fd()),
        }
    }
}

/// Whether `fd` has `events` now (a poll that does not wait).
fn ready_now(fd: i32, events: i16) -> bool {
    let mut p = libc::pollfd { fd, events, revents: 0 };
    // SAFETY: poll on one descriptor we hold, without waiting.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents != 0
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

fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: views a plain C struct (no padding-dependent meaning) as its bytes.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful host call and is ours.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// `chmod` of exactly the file `name` names in `dir`, never a symlink's target
/// (which a second guest sharing the directory could swap in after the check).
pub fn chmod_at(dir: &OwnedFd, name: &CStr, mode: u32) -> Result<i64, Errno> {
    // SAFETY: fchmodat2 of one name in a directory we hold, not following a symlink.
    let r = sys(|| unsafe {
        libc::syscall(libc::SYS_fchmodat2, dir.as_raw_fd(), name.as_ptr(), mode, libc::AT_SYMLINK_NOFOLLOW)
    } as isize);
    if r != Err(libc::ENOSYS) {
        return r;
    }
    // Hosts before Linux 6.6: pin the inode with an O_PATH handle, then change
    // it through its /proc/self/fd link, which names that inode and no other.
    // SAFETY: openat O_PATH of one name, not following a symlink.
    let fd = owned(sys(|| unsafe {
        libc::openat(dir.as_raw_fd(), name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
    } as isize)?);
    if fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(libc::EOPNOTSUPP);
    }
    let proc = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| libc::EINVAL)?;
    // SAFETY: chmod of a /proc/self/fd link to the inode pinned above.
    sys(|| unsafe { libc::chmod(proc.as_ptr(), mode) } as isize)
}

/// `chmod` of the file `name` names in `dir` to `mode`, plus set-group-ID
/// if it is a directory: the inode is pinned (O_PATH) before its kind is
/// looked at, so no file swapped in meanwhile can get the bit.
fn chmod_dir_at(dir: &OwnedFd, name: &CStr, mode: u32) -> Result<i64, Errno> {
    // SAFETY: openat O_PATH of one name, not following a symlink.
    let fd = owned(sys(|| unsafe {
        libc::openat(dir.as_raw_fd(), name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC)
    } as isize)?);
    if fstat(fd.as_raw_fd())?.st_mode & libc::S_IFMT != libc::S_IFDIR {
        return chmod_at(dir, name, mode);
    }
    let proc = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|_| libc::EINVAL)?;
    // SAFETY: chmod of a /proc/self/fd link to the directory pinned above.
    sys(|| unsafe { libc::chmod(proc.as_ptr(), mode | libc::S_ISGID) } as isize)
}

/// The mode a file must have after its owner changed, if it keeps a bit
/// Linux clears then: on a non-directory, set-user-ID, and set-group-ID with
/// group execute (without it the bit marks mandatory locking, not a
/// privilege: `execve` ignores it). The host kernel clears them itself;
/// this makes sure of it whatever the host file system does.
fn cleared_by_chown(mode: u32) -> Option<u32> {
    let kind = mode & libc::S_IFMT;
    if kind == libc::S_IFDIR || kind == libc::S_IFLNK {
        return None;
    }
    let kill = libc::S_ISUID | if mode & libc::S_IXGRP != 0 { libc::S_ISGID } else { 0 };
    (mode & kill != 0).then_some(mode & 0o7777 & !kill)
}

/// `chown` of exactly the file `name` names in `dir` (a symlink itself,
/// never its target), to `uid` and `gid` (`u32::MAX`: unchanged); a
/// non-directory loses the set-id bits Linux clears.
pub fn chown_at(dir: &OwnedFd, name: &CStr, uid: u32, gid: u32) -> Result<i64, Errno> {
    // SAFETY: fchownat of one name in a directory we hold, not following a symlink.
    sys(|| unsafe { libc::fchownat(dir.as_raw_fd(), name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) } as isize)?;
    if let Some(mode) = cleared_by_chown(lstat_at(dir, name)?.st_mode) {
        chmod_at(dir, name, mode)?;
    }
    Ok(0)
}

impl Files {
    pub fn new(sandbox: Sandbox, fast_libc: Option<std::path::PathBuf>, max_handles: usize) -> Self {
        Self::with_streams(sandbox, fast_libc, max_handles, Handles::std_streams())
    }

    /// With `streams` as the guest's standard streams (the fuzz harness gives /dev/null).
    pub fn with_streams(
        sandbox: Sandbox,
        fast_libc: Option<std::path::PathBuf>,
        max_handles: usize,
        streams: [Option<OwnedFd>; 3],
    ) -> Self {
        Self {
            sandbox,
            handles: Handles::new(max_handles, streams),
            fast_libc,
            net: Default::default(),
            shared: Default::default(),
            memory_budget: DEFAULT_MEMORY_BUDGET,
            file_size_limit: u64::MAX,
            ptys: Default::default(),
            leases: Default::default(),
        }
    }

    /// The patched libc.so served for musl's under --fast-libc.
    pub fn fast_libc(&self) -> Option<&std::path::Path> {
        self.fast_libc.as_deref()
    }

    /// Host files the guest holds open.
    pub fn open_handles(&self) -> usize {
        self.handles.count()
    }

    /// Serves file request `req`; returns its result (`-errno` on failure).
    /// `PIPE`: a host pipe (processes that inherit its ends share it).
    /// `EVENTFD`: a host eventfd counting `count`, with `flags`
    /// (`EFD_SEMAPHORE`, `O_NONBLOCK`).
    pub fn eventfd(&mut self, count: u64, flags: u64) -> Result<i64, Errno> {
        const EFD_SEMAPHORE: u64 = 1;
        if flags & !(EFD_SEMAPHORE | libc::O_NONBLOCK as u64) != 0 || count == u64::MAX {
            return Err(libc::EINVAL);
        }
        self.handles.room()?;
        // SAFETY: a new eventfd we own, with allow-listed flags.
        let fd = owned(sys(|| unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | flags as i32) } as isize)?);
        if count > 0 {
            let bytes = count.to_ne_bytes();
            // SAFETY: writes our 8 bytes to our eventfd (from 0, any count below u64::MAX fits).
            sys(|| unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), 8) })?;
        }
        self.handles.insert(Handle::Host { fd: std::sync::Arc::new(fd), metadata: false }).map(|h| h as i64)
    }

    pub fn pipe(&mut self, req: &mut Request) -> i64 {
        let nonblock = req.args[2] & libc::O_NONBLOCK as u64 != 0;
        if req.args[2] & !(libc::O_NONBLOCK as u64) != 0 {
            return -(libc::EINVAL as i64);
        }
        if let Err(e) = self.handles.room() {
            return -(e as i64);
        }
        let mut fds = [0i32; 2];
        let flags = libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
        // SAFETY: pipe2 writes two descriptors into the array we own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
            return -(errno() as i64);
        }
        let [r, w] = fds.map(|fd| owned(fd as i64));
        let r = match self.handles.insert(Handle::Host { fd: std::sync::Arc::new(r), metadata: false }) {
            Ok(h) => h,
            Err(e) => return -(e as i64),
        };
        match self.handles.insert(Handle::Host { fd: std::sync::Arc::new(w), metadata: false }) {
            Ok(h) => {
                req.args[0] = r;
                req.args[1] = h;
                0
            }
            Err(e) => {
                let _ = self.handles.close(r);
                -(e as i64)
            }
        }
    }

    /// After `execve`: only the handles the new image inherits stay open.
    /// The handles another monitor process takes over (`process::spare`).
    pub fn hand_over(&self, handle: u64) -> Option<(super::handles::HandedOver, Option<std::sync::Arc<OwnedFd>>)> {
        self.handles.hand_over(handle)
    }

    pub fn take_over(
        &mut self,
        handle: u64,
        what: super::handles::HandedOver,
        fd: Option<OwnedFd>,
    ) -> Result<(), Errno> {
        self.handles.take_over(handle, what, fd)
    }

    /// Closes every handle, and their descriptors even where a copy of the
    /// handle lives on elsewhere in this (forked) process: a spare monitor
    /// must hold no end of its parent's pipes.
    pub fn close_all(&mut self) {
        let fds = self.handles.raw_fds();
        self.handles.retain(|_| false);
        for fd in fds {
            // SAFETY: descriptors of the handles just dropped; an already
            // closed one only gives EBADF (nothing opens meanwhile).
            unsafe { libc::close(fd) };
        }
    }

    /// `op::TEE`: the host's `tee` between two pipes the guest holds, never
    /// waiting; at most 1 MiB (a pipe's largest default limit) a request.
    pub fn tee(&self, from: u64, to: u64, len: u64) -> Result<i64, Errno> {
        let (fd_in, fd_out) = (self.handles.fd(from)?, self.handles.fd(to)?);
        for fd in [fd_in, fd_out] {
            if fstat(fd)?.st_mode & libc::S_IFMT != libc::S_IFIFO {
                return Err(libc::EINVAL);
            }
        }
        let len = len.min(1 << 20) as usize;
        // SAFETY: tee between two descriptors we hold; it touches no memory of ours.
        sys(|| unsafe { libc::tee(fd_in, fd_out, len, libc::SPLICE_F_NONBLOCK) as isize })
    }

    pub fn keep_only(&mut self, keep: &[u64]) {
        self.handles.retain(|h| keep.contains(&h));
    }

    /// Whether reading or writing `handle` returns at once: a regular file
    /// or directory, or a descriptor in non-blocking mode (the guest's
    /// `O_NONBLOCK` is the host descriptor's). A handle the guest does not
    /// hold fails at once too.
    pub fn never_blocks(&self, handle: u64) -> bool {
        let Ok(fd) = self.handles.fd(handle) else { return true };
        let Ok(st) = fstat(fd) else { return true };
        if matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK) {
            return true;
        }
        // SAFETY: F_GETFL on a descriptor we hold.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        flags >= 0 && flags & libc::O_NONBLOCK != 0
    }

    /// `WATCH`: the host files of the `PollEntry`s in segment 0 join the
    /// watcher, which tells the guest once any of them is ready.
    /// `WATCH`; `Ok(true)`: an entry counting edges has had one since the
    /// guest looked (its `edges` differs), so nothing is armed and the guest
    /// looks again at once (another request may have taken that edge in).
    pub fn watch(&self, watcher: &crate::watch::Watcher, segs: &Segs) -> Result<bool, Errno> {
        let seg = segs.get(0).ok_or(libc::EINVAL)?;
        let size = std::mem::size_of::<PollEntry>();
        let n = usize::try_from(seg.len).map_err(|_| libc::EINVAL)? / size;
        if n > MAX_POLL {
            return Err(libc::EINVAL);
        }
        let mut counted = Vec::new();
        let mut ready_now = false;
        for i in 0..n {
            let e: PollEntry = segs.mem().read_obj(seg.phys + (i * size) as u64).map_err(|_| libc::EFAULT)?;
            if e.events & POLL_EDGES != 0 {
                if let Ok(fd) = self.handles.shared_fd(e.handle) {
                    counted.push((e, fd));
                }
            } else if let Ok(fd) = self.handles.fd(e.handle) {
                ready_now |= watcher.watch(fd, e.events)?;
            }
        }
        if ready_now || counted.is_empty() {
            return Ok(ready_now);
        }
        // Edge-triggered: the next edge of any counted file, not readiness.
        let files: Vec<_> = counted.iter().map(|(e, fd)| (e.handle, fd, e.events & !POLL_EDGES)).collect();
        let mut edges = self.handles.edges.lock().unwrap_or_else(|e| e.into_inner());
        let counts = edges.counts(&files)?;
        if counted.iter().zip(&counts).any(|((e, _), &n)| e.edges != n) {
            return Ok(true);
        }
        watcher.watch(edges.pending_fd()?, libc::POLLIN)
    }

    /// `LOCK`: record locks (`fcntl`) and `flock` on a host file, held by
    /// this monitor for its guest process, so they conflict with other
    /// processes' — guest or host — as on Linux. Never waits: the guest's
    /// kernel retries a waiting lock.
    pub fn lock(&self, segs: &Segs, handle: u64, cmd: u64, op: u64) -> Result<i64, Errno> {
        let fd = self.handles.fd(handle)?;
        if cmd == hx_abi::hypercall::LOCK_FLOCK {
            let op = i32::try_from(op).map_err(|_| libc::EINVAL)?;
            if op & !(libc::LOCK_SH | libc::LOCK_EX | libc::LOCK_UN | libc::LOCK_NB) != 0 {
                return Err(libc::EINVAL);
            }
            // SAFETY: flock on a descriptor we hold, never waiting.
            return sys(|| unsafe { libc::flock(fd, op | libc::LOCK_NB) } as isize);
        }
        let cmd = match cmd {
            5 => libc::F_GETLK,
            6 => libc::F_SETLK,
            36 => libc::F_OFD_GETLK,
            37 => libc::F_OFD_SETLK,
            _ => return Err(libc::EINVAL),
        };
        let raw = segs.bytes(0, std::mem::size_of::<libc::flock>(), libc::EINVAL)?;
        if raw.len() != std::mem::size_of::<libc::flock>() {
            return Err(libc::EINVAL);
        }
        // SAFETY: a plain C struct read from exactly its size of bytes.
        let mut fl: libc::flock = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
        // SAFETY: fcntl with a flock we own.
        sys(|| unsafe { libc::fcntl(fd, cmd, &mut fl) } as isize)?;
        if (cmd == libc::F_GETLK || cmd == libc::F_OFD_GETLK) && fl.l_type != libc::F_UNLCK as i16 && fl.l_pid > 0 {
            // The holder as the guest names it: a process of its tree, or
            // one outside its namespace (0), as Linux reports.
            fl.l_pid = crate::process::table::by_host_pid(fl.l_pid)
                .map_or(0, |e| e.pid.load(std::sync::atomic::Ordering::SeqCst));
        }
        // SAFETY: views the struct as its bytes.
        let out =
            unsafe { std::slice::from_raw_parts((&fl as *const libc::flock).cast::<u8>(), std::mem::size_of_val(&fl)) };
        segs.write(0, out)?;
        Ok(0)
    }

    /// `FALLOCATE`: space for (or holes in) a host file; only the modes
    /// Linux's common file systems take, and only in a read-write mount (a
    /// file of a read-only mount is `EBADF` or `EROFS`, as for a write).
    pub fn fallocate(&self, handle: u64, mode: u64, offset: u64, len: u64) -> Result<i64, Errno> {
        const MODES: i32 = libc::FALLOC_FL_KEEP_SIZE
            | libc::FALLOC_FL_PUNCH_HOLE
            | libc::FALLOC_FL_ZERO_RANGE
            | libc::FALLOC_FL_COLLAPSE_RANGE
            | libc::FALLOC_FL_INSERT_RANGE;
        let mode = i32::try_from(mode).ok().filter(|m| m & !MODES == 0).ok_or(libc::EOPNOTSUPP)?;
        let offset = i64::try_from(offset).map_err(|_| libc::EINVAL)?;
        let len = i64::try_from(len).map_err(|_| libc::EINVAL)?;
        let fd = self.handles.fd_for_metadata(handle).map_err(|e| match self.handles.fd(handle) {
            // Open but in a read-only mount: as Linux for a file not open for writing.
            Ok(_) if e == libc::EROFS => libc::EBADF,
            Ok(_) => e,
            Err(e) => e,
        })?;
        if mode & (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_COLLAPSE_RANGE) == 0 {
            self.memory_allows(handle, Some(offset), len as u64)?;
        }
        // A size it would grow the file to, past the file size limit: EFBIG.
        if mode & libc::FALLOC_FL_INSERT_RANGE != 0 {
            self.size_within_limit((fstat(fd)?.st_size as u64).saturating_add(len as u64))?;
        } else if mode & (libc::FALLOC_FL_KEEP_SIZE | libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_COLLAPSE_RANGE) == 0
        {
            self.size_within_limit((offset as u64).saturating_add(len as u64))?;
        }
        // SAFETY: fallocate on a descriptor we hold, with allow-listed modes.
        sys(|| unsafe { libc::fallocate(fd, mode, offset, len) } as isize)
    }

    /// Host memory files may hold as much as guest RAM, all together (they
    /// are memory the guest uses, as Linux charges them to the process):
    /// `ENOSPC`, as a full tmpfs says, when `more` bytes would pass that.
    /// `[offset, offset + len)` (`offset` `None`: from the file position) is
    /// what a write or an allocation covers; pages it holds already cost nothing.
    /// The file size limit a new image starts with (kept across `execve`,
    /// handed to a spawned child); the first image has none.
    pub fn take_file_size_limit(&mut self, sched: &hx_abi::boot::SchedState) {
        const RLIMIT_FSIZE: usize = 1;
        self.file_size_limit = if sched.rlimits_set != 0 { sched.rlimits[RLIMIT_FSIZE][0] } else { u64::MAX };
    }

    /// How many of `len` bytes a write to `fd` at `offset` (else its
    /// position, or its end when appending) may put within the file size
    /// limit: all for anything but a regular file; `EFBIG` when it starts at
    /// or past the limit (the guest's kernel raises SIGXFSZ), as Linux.
    fn within_file_size_limit(&self, fd: i32, offset: Option<i64>, len: u64) -> Result<u64, Errno> {
        let limit = self.file_size_limit;
        if limit == u64::MAX || len == 0 {
            return Ok(len);
        }
        let st = fstat(fd)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            return Ok(len);
        }
        // SAFETY: F_GETFL and lseek(SEEK_CUR, 0) only read the descriptor's state.
        let start = match offset {
            Some(o) => o as u64,
            None if unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_APPEND != 0 => st.st_size as u64,
            None => unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }.max(0) as u64,
        };
        if start >= limit {
            return Err(libc::EFBIG);
        }
        Ok(len.min(limit - start))
    }

    /// A size change to `size`: `EFBIG` past the file size limit.
    fn size_within_limit(&self, size: u64) -> Result<(), Errno> {
        if size > self.file_size_limit {
            return Err(libc::EFBIG);
        }
        Ok(())
    }

    fn memory_allows(&self, handle: u64, offset: Option<i64>, len: u64) -> Result<(), Errno> {
        if !self.handles.is_memory(handle) || len == 0 {
            return Ok(());
        }
        let fd = self.handles.fd(handle)?;
        // SAFETY: lseek on a descriptor we hold (SEEK_CUR with 0 only reads the position).
        let start = offset.unwrap_or_else(|| unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }).max(0);
        // SAFETY: as above; SEEK_HOLE finds the first hole at or after `start` (or the end).
        let hole = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
        let allocated = hole >= 0 && (hole as u64).saturating_sub(start as u64) >= len;
        let more = if allocated { 0 } else { len };
        match self.handles.memory_in_use().checked_add(more) {
            Some(total) if total <= self.memory_budget => Ok(()),
            _ => Err(libc::ENOSPC),
        }
    }

    /// `MEMFD`: a fresh host memory file holding segment 0's bytes, at
    /// `offset`, made with `flags` (within `MEMFD_FLAGS`: sealing allowed, or not executable).
    pub fn memfd(&mut self, segs: &Segs, offset: u64, flags: u64) -> Result<i64, Errno> {
        self.handles.room()?;
        if flags & !MEMFD_FLAGS != 0 {
            return Err(libc::EINVAL);
        }
        let flags = libc::MFD_CLOEXEC | flags as libc::c_uint;
        // SAFETY: a new anonymous memory file we own.
        let fd = sys(|| unsafe { libc::memfd_create(c"hx-memfd".as_ptr(), flags) } as isize)?;
        let fd = owned(fd);
        if let Some(seg) = segs.get(0).filter(|s| s.len > 0) {
            let iov = segs.mem().iovecs(std::slice::from_ref(seg)).map_err(|_| libc::EFAULT)?;
            let mut done = 0usize;
            let total = seg.len as usize;
            while done < total {
                let Some(v) = iov.first() else { break };
                // SAFETY: writes from guest RAM (checked by `Segs`) to our memory file.
                let n = sys(|| unsafe {
                    libc::pwrite(fd.as_raw_fd(), v.iov_base.cast::<u8>().add(done).cast(), total - done, done as i64)
                } as isize)?;
                if n == 0 {
                    break;
                }
                done += n as usize;
            }
        }
        let offset = i64::try_from(offset).map_err(|_| libc::EINVAL)?;
        // SAFETY: lseek on our own memory file.
        sys(|| unsafe { libc::lseek(fd.as_raw_fd(), offset, libc::SEEK_SET) } as isize)?;
        self.handles.insert_memory(fd).map(|h| h as i64)
    }

    /// `MAP_SHARED`: the pages of `segs` become file `handle`'s (or fresh shared memory).
    pub fn map_shared(&mut self, segs: &Segs, handle: u64, offset: u64, writable: bool) -> Result<i64, Errno> {
        let file = if handle == NO_HANDLE { None } else { Some(self.handles.shared_fd(handle)?) };
        self.shared.map(segs, file.as_deref(), offset, writable)
    }

    /// Whether `handle` is open.
    pub fn holds(&self, handle: u64) -> bool {
        self.handles.get(handle).is_ok()
    }

    pub fn serve(&mut self, req: &mut Request, segs: &Segs) -> i64 {
        let a = req.args;
        let r = match req.op {
            op::READ => self.rw(segs, a[0], None, false, a[2] & RW_NOWAIT != 0),
            op::WRITE => self.rw(segs, a[0], None, true, a[2] & RW_NOWAIT != 0),
            op::PREAD => self.rw(segs, a[0], Some(a[1]), false, false),
            op::PWRITE => self.rw(segs, a[0], Some(a[1]), true, false),
            op::OPEN => segs.path(0).and_then(|path| {
                let rules = flags::resolve(a[2], a[3], &path)?;
                let (h, guest, kind) = match self.open(&path, a[0] as i32, flags::mode(a[1]), &rules)? {
                    Walked::Kernel(guest) => {
                        req.args[2] = segs.write(1, &guest)? as u64;
                        return Err(EREDIRECT);
                    }
                    Walked::Here(opened) => opened,
                };
                // A FIFO is a stream: the kernel waits for its other end itself.
                req.args[3] = u64::from(kind == libc::S_IFIFO);
                match segs.write(1, &guest) {
                    Ok(n) => {
                        req.args[2] = n as u64;
                        Ok(h as i64)
                    }
                    Err(e) => {
                        let _ = self.handles.close(h);
                        Err(e)
                    }
                }
            }),
            op::CLOSE => self.handles.close(a[0]).map(|_| 0),
            op::LSEEK => self.lseek(a[0], a[1], a[2]),
            op::FSTAT => self.fstat(segs, a[0]),
            op::IOCTL => self.ioctl(segs, a[0], a[1], a[2]),
            op::STAT => segs.path(0).and_then(|path| {
                let hand_back = segs.len() > 2 || a[1] == hx_abi::hypercall::PATH_HAND_BACK;
                let (st, guest) = match self.stat(&path, a[0] != 0, hand_back)? {
                    Walked::Here(found) => found,
                    Walked::Kernel(guest) => {
                        req.args[2] = segs.write(2, &guest)? as u64;
                        return Err(EREDIRECT);
                    }
                };
                segs.write(1, bytes_of(&st))?;
                if segs.len() > 2 {
                    req.args[2] = segs.write(2, &guest)? as u64;
                }
                Ok(0)
            }),
            op::ACCESS => segs.path(0).and_then(|path| {
                let hand_back = segs.len() > 1 || a[3] == hx_abi::hypercall::PATH_HAND_BACK;
                match self.access(&path, flags::access(a[0])?, a[1] != 0, hand_back)? {
                    Walked::Here(r) => Ok(r),
                    Walked::Kernel(guest) => {
                        req.args[2] = segs.write(1, &guest)? as u64;
                        Err(EREDIRECT)
                    }
                }
            }),
            op::READLINK => segs.path(0).and_then(|path| self.readlink(segs, &path)),
            op::GETDENTS => self.getdents(segs, a[0]),
            op::UNLINK => segs.path(0).and_then(|path| {
                let how = flags::unlink(a[0])?;
                self.modify(&path, false, |parent, name| {
                    // SAFETY: unlinkat on a single name in a directory we hold.
                    sys(|| unsafe { libc::unlinkat(parent.as_raw_fd(), name.as_ptr(), how) } as isize)
                })
            }),
            op::MKDIR => segs.path(0).and_then(|path| {
                let mode = flags::mode(a[0]);
                let kind = a[1] as u32;
                if kind != 0 && kind != libc::S_IFIFO && kind != libc::S_IFREG {
                    return Err(libc::EINVAL);
                }
                self.modify(&path, true, |parent, name| {
                    let dir = parent.as_raw_fd();
                    match kind {
                        // SAFETY: mkfifoat of a single name in a directory we hold.
                        libc::S_IFIFO => sys(|| unsafe { libc::mkfifoat(dir, name.as_ptr(), mode) } as isize),
                        libc::S_IFREG => {
                            let flags =
                                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
                            // SAFETY: creates a single name in a directory we hold.
                            let fd = sys(|| unsafe { libc::openat(dir, name.as_ptr(), flags, mode) } as isize)?;
                            drop(owned(fd));
                            Ok(0)
                        }
                        // SAFETY: mkdirat of a single name in a directory we hold.
                        _ => sys(|| unsafe { libc::mkdirat(dir, name.as_ptr(), mode) } as isize),
                    }
                })
            }),
            op::SYMLINK => self.symlink(segs),
            op::LINK if a[1] == hx_abi::hypercall::LINK_HANDLE => self.link_handle(segs, a[2]),
            op::RENAME | op::LINK => self.two_paths(segs, req.op, a[0]),
            // A size change is a write: the host refuses it on a descriptor not
            // open for writing, and nothing in a read-only mount is.
            op::FTRUNCATE => self.handles.fd(a[0]).and_then(|fd| {
                let len = i64::try_from(a[1]).map_err(|_| libc::EINVAL)?;
                if fstat(fd)?.st_mode & libc::S_IFMT == libc::S_IFREG {
                    self.size_within_limit(a[1])?;
                }
                // SAFETY: ftruncate on a descriptor we hold.
                sys(|| unsafe { libc::ftruncate(fd, len) } as isize)
            }),
            // `sync`: every file system the guest can have written to (its read-write mounts).
            op::FSYNC if a[1] == FSYNC_ALL => Ok(self.sandbox.sync_writable()),
            op::FSYNC if a[1] <= FSYNC_FS => self.handles.fd(a[0]).and_then(|fd| {
                // SAFETY: fsync/fdatasync/syncfs on a descriptor we hold.
                sys(|| unsafe {
                    match a[1] {
                        FSYNC_DATA => libc::fdatasync(fd),
                        FSYNC_FS => libc::syncfs(fd),
                        _ => libc::fsync(fd),
                    }
                } as isize)
            }),
            op::FSYNC => Err(libc::EINVAL),
            op::SETFL if a[1] & SETFL_PIPE_SIZE != 0 => self.handles.fd(a[0]).and_then(|fd| {
                let cmd = if a[2] == libc::F_GETPIPE_SZ as u64 { libc::F_GETPIPE_SZ } else { libc::F_SETPIPE_SZ };
                let size = (a[1] & 0xffff_ffff) as i32;
                // SAFETY: the pipe size of a descriptor we hold (the host limits it as for any process).
                sys(|| unsafe { libc::fcntl(fd, cmd, size) } as isize)
            }),
            op::SETFL if a[1] & SETFL_SEALS != 0 => self.handles.fd(a[0]).and_then(|fd| {
                let seals = (a[1] & 0xffff_ffff) as i32;
                match a[2] {
                    // SAFETY: the seals of a descriptor we hold (the host refuses them on anything but a memory file).
                    F_GET_SEALS => sys(|| unsafe { libc::fcntl(fd, libc::F_GET_SEALS) } as isize),
                    F_ADD_SEALS if seals as u64 & !SEALS == 0 => {
                        // SAFETY: as above, with known seals only.
                        sys(|| unsafe { libc::fcntl(fd, libc::F_ADD_SEALS, seals) } as isize)
                    }
                    _ => Err(libc::EINVAL),
                }
            }),
            op::SETFL => self.handles.fd(a[0]).and_then(|fd| {
                let status = flags::status(a[1]);
                // SAFETY: F_SETFL with allow-listed status flags only.
                sys(|| unsafe { libc::fcntl(fd, libc::F_SETFL, status) } as isize)
            }),
            op::UTIMENS => self.utimens(segs, a[0], a[1] != 0),
            op::CHMOD => self.chmod(segs, a[0], flags::mode(a[1]), a[1] & u64::from(libc::S_ISGID) != 0),
            op::CHOWN => self.chown(segs, a[0], [a[1], a[2]], a[3]),
            op::STATFS => self.statfs(segs, a[0]),
            op::XATTR => super::xattr::serve(self, &a, segs),
            op::POLL => self.poll(segs, a[0] as i64),
            _ => Err(libc::ENOSYS),
        };
        r.unwrap_or_else(|e| -(e as i64))
    }

    fn rw(&mut self, segs: &Segs, handle: u64, offset: Option<u64>, write: bool, nowait: bool) -> Result<i64, Errno> {
        self.prepare_rw(segs, handle, offset, write, nowait)?.run(segs.mem())
    }

    /// A request that may block (a read or write — a terminal, a pipe from
    /// the host — or a poll), checked, ready to run without the monitor's
    /// lock. `None` for any other request.
    pub fn prepare_io(&self, req: &Request, segs: &Segs) -> Option<Result<BlockingCall, Errno>> {
        let a = req.args;
        match req.op {
            op::READ => Some(self.prepare_rw(segs, a[0], None, false, a[2] & RW_NOWAIT != 0)),
            op::WRITE => Some(self.prepare_rw(segs, a[0], None, true, a[2] & RW_NOWAIT != 0)),
            op::PREAD => Some(self.prepare_rw(segs, a[0], Some(a[1]), false, false)),
            op::PWRITE => Some(self.prepare_rw(segs, a[0], Some(a[1]), true, false)),
            op::POLL => Some(self.prepare_poll(segs, a[0] as i64)),
            op::IOCTL if hx_abi::ioctl::may_wait(a[1]) && !hx_abi::ioctl::is_session(a[1]) => {
                let call = super::ioctl::Ioctl::checked(segs, a[1], a[2]);
                Some(call.and_then(|call| Ok(BlockingCall::Ioctl { fd: self.handles.shared_fd(a[0])?, call })))
            }
            op::NET => super::net::Net::prepare(self, req, segs).map(|r| r.map(|b| BlockingCall::Net(Box::new(b)))),
            _ => None,
        }
    }

    fn prepare_rw(
        &self,
        segs: &Segs,
        handle: u64,
        offset: Option<u64>,
        write: bool,
        nowait: bool,
    ) -> Result<BlockingCall, Errno> {
        let fd = self.handles.shared_fd(handle)?;
        let mut iovs = segs.iovecs()?;
        let offset = offset.map(i64::try_from).transpose().map_err(|_| libc::EINVAL)?;
        if write {
            let len: u64 = iovs.iter().map(|v| v.iov_len as u64).sum();
            let allowed = self.within_file_size_limit(fd.as_raw_fd(), offset, len)?;
            if allowed < len {
                trim_iovecs(&mut iovs, allowed);
            }
            self.memory_allows(handle, offset, allowed)?;
        }
        Ok(BlockingCall::Rw { fd, iovs, offset, write, nowait })
    }

    fn prepare_poll(&self, segs: &Segs, timeout_ms: i64) -> Result<BlockingCall, Errno> {
        let seg = segs.get(0).ok_or(libc::EINVAL)?;
        let size = std::mem::size_of::<PollEntry>();
        let n = usize::try_from(seg.len).map_err(|_| libc::EINVAL)? / size;
        if n > MAX_POLL {
            return Err(libc::EINVAL);
        }
        let mut entries: Vec<PollEntry> = Vec::with_capacity(n);
        for i in 0..n {
            entries.push(segs.mem().read_obj(seg.phys + (i * size) as u64).map_err(|_| libc::EFAULT)?);
        }
        let fds: Vec<_> = entries.iter().map(|e| self.handles.shared_fd(e.handle).ok()).collect();
        // Edges are counted before the look at readiness: an edge in between
        // shows as readiness now, and as a count at the next look.
        type Counted<'a> = (usize, (u64, &'a std::sync::Arc<OwnedFd>, i16));
        let counted: Vec<Counted> = entries
            .iter()
            .zip(&fds)
            .enumerate()
            .filter(|(_, (e, _))| e.events & POLL_EDGES != 0)
            .filter_map(|(i, (e, fd))| Some((i, (e.handle, fd.as_ref()?, e.events & !POLL_EDGES))))
            .collect();
        if !counted.is_empty() {
            let files: Vec<_> = counted.iter().map(|&(_, f)| f).collect();
            let counts = self.handles.edges.lock().unwrap_or_else(|e| e.into_inner()).counts(&files)?;
            for (&(i, _), n) in counted.iter().zip(counts) {
                if let Some(e) = entries.get_mut(i) {
                    e.edges = n;
                }
            }
        }
        let timeout = if timeout_ms < 0 { -1 } else { timeout_ms.min(i32::MAX as i64) as i32 };
        Ok(BlockingCall::Poll { fds, entries, at: seg.phys, timeout })
    }

    fn lseek(&self, handle: u64, offset: u64, whence: u64) -> Result<i64, Errno> {
        let fd = self.handles.fd(handle)?;
        let whence = flags::whence(whence)?;
        // SAFETY: lseek on a descriptor we hold.
        sys(|| unsafe { libc::lseek(fd, offset as i64, whence) } as isize)
    }

    fn fstat(&self, segs: &Segs, handle: u64) -> Result<i64, Errno> {
        let st = match self.handles.get(handle)? {
            Handle::Virtual { .. } => virtual_dir_stat(),
            Handle::Host { fd, .. } | Handle::Socket { fd, .. } => fstat(fd.as_raw_fd())?,
        };
        segs.write(0, bytes_of(&st))?;
        Ok(0)
    }

    /// Opens `path`: the handle, the guest path it resolved to, and the
    /// file's type (`S_IFMT` bits as the walk saw it; 0 for a new file).
    fn open(&mut self, path: &[u8], flags: i32, mode: u32, rules: &Rules) -> Result<Walked<Opened>, Errno> {
        let host_flags = flags::open(flags)?;
        let acc = flags & libc::O_ACCMODE;
        // --fast-libc: every musl libc the program opens is the patched one.
        if let Some(libc_so) = &self.fast_libc {
            let name = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
            if acc == libc::O_RDONLY && MUSL_LIBC_NAMES.contains(&name) && self.sandbox.resolve(path, true).is_ok() {
                let f = std::fs::File::open(libc_so).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
                let h = self.handles.insert(Handle::Host { fd: std::sync::Arc::new(f.into()), metadata: false })?;
                return Ok(Walked::Here((h, path.to_vec(), libc::S_IFREG)));
            }
        }
        if let Some(pty) = super::pty::parse(path) {
            let (fd, guest) = self.ptys.open(pty, flags)?;
            let h = self.handles.insert(Handle::Host { fd: std::sync::Arc::new(fd), metadata: false })?;
            return Ok(Walked::Here((h, guest, libc::S_IFCHR)));
        }
        // O_PATH: a handle on the name only; Linux ignores O_CREAT, O_TRUNC and the access mode.
        let flags =
            if flags & libc::O_PATH != 0 { flags & !(libc::O_CREAT | libc::O_TRUNC | libc::O_ACCMODE) } else { flags };
        let acc = if flags & libc::O_PATH != 0 { libc::O_RDONLY } else { acc };
        let writes = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        let follow = flags & libc::O_NOFOLLOW == 0;
        let resolved = match self.sandbox.walk(path, follow, rules) {
            Ok(Walked::Kernel(guest)) => return Ok(Walked::Kernel(guest)),
            Ok(Walked::Here(r)) => Ok(r),
            Err(e) => Err(e),
        };
        let resolved =
            if flags & libc::O_CREAT != 0 { self.no_new_names_in_virtual(path, resolved)? } else { resolved? };
        match resolved {
            Resolved::Virtual { guest } => {
                if writes || flags & libc::O_CREAT != 0 {
                    return Err(libc::EISDIR);
                }
                let h = self.handles.insert(Handle::Virtual { guest: guest.clone(), offset: 0 })?;
                Ok(Walked::Here((h, guest, libc::S_IFDIR)))
            }
            Resolved::Host { mount, object_mount, parent, name, guest } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                let kind = lstat_at(&parent, &name).ok().map(|st| st.st_mode & libc::S_IFMT);
                let exists = kind.is_some();
                let kind = kind.unwrap_or(0);
                if !exists && flags & libc::O_CREAT == 0 {
                    return Err(libc::ENOENT);
                }
                if flags & libc::O_TMPFILE == libc::O_TMPFILE {
                    return self
                        .open_unnamed(object_mount, &parent, &name, host_flags, mode, kind, guest)
                        .map(Walked::Here);
                }
                // A new name changes the parent's mount; writing an existing file, the file's.
                let governing = if exists { object_mount } else { mount };
                if (writes || !exists) && !self.sandbox.writable(governing) {
                    return Err(libc::EROFS);
                }
                // A program of the tree runs from this file: it may not be
                // written (or truncated under the running image).
                if writes && kind == libc::S_IFREG {
                    if let Ok(st) = lstat_at(&parent, &name) {
                        if crate::process::table::runs_from(st.st_dev, st.st_ino) {
                            return Err(libc::ETXTBSY);
                        }
                    }
                }
                // Past the limit, nothing is opened or created.
                self.handles.room()?;
                // Never waiting at open (a FIFO without its other end would
                // hold the monitor): a file that is not regular or a
                // directory opens O_NONBLOCK, taken off after if the guest
                // did not ask for it; the guest kernel waits for a FIFO's peer.
                // (A regular file swapped for a FIFO after the look above
                // stalls only this guest's own monitor; Ctrl-C still ends it.)
                let may_wait =
                    host_flags & libc::O_PATH == 0 && exists && kind != libc::S_IFREG && kind != libc::S_IFDIR;
                let opened = if may_wait { host_flags | libc::O_NONBLOCK } else { host_flags };
                // SAFETY: openat of a single name in a directory we hold, never following a symlink.
                let fd = sys(|| unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), opened, mode) } as isize)?;
                if opened & libc::O_NONBLOCK != 0 && host_flags & libc::O_NONBLOCK == 0 {
                    // SAFETY: fcntl on the descriptor just opened.
                    unsafe {
                        libc::fcntl(fd as i32, libc::F_SETFL, libc::fcntl(fd as i32, libc::F_GETFL) & !libc::O_NONBLOCK)
                    };
                }
                let metadata = self.sandbox.writable(object_mount);
                let h = self.handles.insert(Handle::Host { fd: std::sync::Arc::new(owned(fd)), metadata })?;
                Ok(Walked::Here((h, guest, kind)))
            }
        }
    }

    /// `O_TMPFILE`: an unnamed regular file in directory `name` of `parent`
    /// (in a writable mount), shown as Linux shows it: `DIR/#INODE (deleted)`.
    #[allow(clippy::too_many_arguments)]
    fn open_unnamed(
        &mut self,
        mount: usize,
        parent: &OwnedFd,
        name: &CStr,
        host_flags: i32,
        mode: u32,
        kind: u32,
        guest: Vec<u8>,
    ) -> Result<(u64, Vec<u8>, u32), Errno> {
        if kind != libc::S_IFDIR {
            return Err(libc::ENOTDIR);
        }
        if !self.sandbox.writable(mount) {
            return Err(libc::EROFS);
        }
        self.handles.room()?;
        // SAFETY: openat of a directory we hold's entry, making an unnamed file in it.
        let fd = owned(sys(|| unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), host_flags, mode) } as isize)?);
        let ino = fstat(fd.as_raw_fd())?.st_ino;
        let mut shown = guest;
        if shown.last() != Some(&b'/') {
            shown.push(b'/');
        }
        shown.extend_from_slice(format!("#{ino} (deleted)").as_bytes());
        let h = self.handles.insert(Handle::Host { fd: std::sync::Arc::new(fd), metadata: true })?;
        Ok((h, shown, libc::S_IFREG))
    }

    /// `stat` of `path`; with `redirect`, a symlink out of the mounts hands
    /// its guest path back (else it is ENOENT).
    fn stat(&self, path: &[u8], follow: bool, redirect: bool) -> Result<Walked<(libc::stat, Vec<u8>)>, Errno> {
        if let Some(pty) = super::pty::parse(path) {
            return self.ptys.stat(pty).map(Walked::Here);
        }
        let found = match self.sandbox.walk(path, follow, &Rules::default())? {
            Walked::Kernel(guest) if redirect => return Ok(Walked::Kernel(guest)),
            Walked::Kernel(_) => return Err(libc::ENOENT),
            Walked::Here(r) => r,
        };
        Ok(Walked::Here(match found {
            Resolved::Virtual { guest } => (virtual_dir_stat(), guest),
            Resolved::Host { parent, name: None, guest, .. } => (fstat(parent.as_raw_fd())?, guest),
            Resolved::Host { parent, name: Some(name), guest, .. } => (lstat_at(&parent, &name)?, guest),
        }))
    }

    fn access(&self, path: &[u8], mode: i32, follow: bool, redirect: bool) -> Result<Walked<i64>, Errno> {
        if let Some(pty) = super::pty::parse(path) {
            // Read and write for anyone: the guest's ptys are its own.
            return self.ptys.stat(pty).map(|_| Walked::Here(0));
        }
        let found = match self.sandbox.walk(path, follow, &Rules::default())? {
            Walked::Kernel(guest) if redirect => return Ok(Walked::Kernel(guest)),
            Walked::Kernel(_) => return Err(libc::ENOENT),
            Walked::Here(r) => r,
        };
        match found {
            Resolved::Virtual { .. } if mode & libc::W_OK != 0 => Err(libc::EROFS),
            Resolved::Virtual { .. } => Ok(Walked::Here(0)),
            Resolved::Host { object_mount, parent, name, .. } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                lstat_at(&parent, &name)?;
                if mode & libc::W_OK != 0 && !self.sandbox.writable(object_mount) {
                    return Err(libc::EROFS);
                }
                // With the thread's filesystem ids (AT_EACCESS): the guest's
                // (real or effective, see `identity`), else the monitor's own.
                let flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EACCESS;
                // SAFETY: faccessat of a single name, not following a symlink on the host.
                sys(|| unsafe { libc::faccessat(parent.as_raw_fd(), name.as_ptr(), mode, flags) } as isize)
                    .map(Walked::Here)
            }
        }
    }

    fn readlink(&self, segs: &Segs, path: &[u8]) -> Result<i64, Errno> {
        match self.sandbox.resolve(path, false)? {
            Resolved::Host { parent, name: Some(name), .. } => {
                let target = sandbox::readlink_at(&parent, &name)?;
                Ok(segs.write(1, &target)? as i64)
            }
            _ => Err(libc::EINVAL),
        }
    }

    fn symlink(&self, segs: &Segs) -> Result<i64, Errno> {
        // The target is only text: the walk never follows it on the host.
        let target = CString::new(segs.path(0)?).map_err(|_| libc::EINVAL)?;
        if target.is_empty() {
            return Err(libc::ENOENT);
        }
        let path = segs.path(1)?;
        self.modify(&path, true, |parent, name| {
            // SAFETY: symlinkat creates one name in a directory we hold.
            sys(|| unsafe { libc::symlinkat(target.as_ptr(), parent.as_raw_fd(), name.as_ptr()) } as isize)
        })
    }

    /// The file an extended-attribute call names — `path` (following a final
    /// symlink if `follow`) or else `handle` — opened for the call, and its
    /// type; `None` for an object that cannot carry `user.` attributes (not
    /// a regular file or a directory, or a directory hx makes up). `write`:
    /// the call changes it, so its mount must be writable (`EROFS`).
    pub fn xattr_target(
        &self,
        path: Option<&[u8]>,
        handle: u64,
        follow: bool,
        write: bool,
    ) -> Result<Option<std::sync::Arc<OwnedFd>>, Errno> {
        let carries = |mode: u32| matches!(mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR);
        let Some(path) = path else {
            let fd = if write { self.handles.fd_for_metadata(handle)? } else { self.handles.fd(handle)? };
            return carries(fstat(fd)?.st_mode).then(|| self.handles.shared_fd(handle)).transpose();
        };
        match self.sandbox.resolve(path, follow)? {
            Resolved::Virtual { .. } if write => Err(libc::EROFS),
            Resolved::Virtual { .. } => Ok(None),
            Resolved::Host { object_mount, parent, name, .. } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                let st = lstat_at(&parent, &name)?;
                if write && !self.sandbox.writable(object_mount) {
                    return Err(libc::EROFS);
                }
                if !carries(st.st_mode) {
                    return Ok(None);
                }
                let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_NOCTTY;
                // SAFETY: opens one name in a directory we hold, never following a symlink.
                let fd = sys(|| unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), flags) } as isize)?;
                // SAFETY: the descriptor was just opened and is ours.
                Ok(Some(std::sync::Arc::new(unsafe { OwnedFd::from_raw_fd(fd as i32) })))
            }
        }
    }

    /// Runs `f(parent, name)` to create or remove `path` in a writable mount.
    /// `creates`: the name must be missing (mkdir, symlink); else it must exist.
    fn modify(
        &self,
        path: &[u8],
        creates: bool,
        f: impl FnOnce(&OwnedFd, &CStr) -> Result<i64, Errno>,
    ) -> Result<i64, Errno> {
        let resolved = self.sandbox.resolve(path, false);
        let resolved = if creates { self.no_new_names_in_virtual(path, resolved)? } else { resolved? };
        let busy = if creates { libc::EEXIST } else { libc::EBUSY };
        if resolved.is_mount_root() {
            return Err(busy);
        }
        let Resolved::Host { mount, parent, name: Some(name), .. } = resolved else { return Err(busy) };
        let exists = lstat_at(&parent, &name).is_ok();
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

    /// A name to create that is not there, in a directory hx makes up (`/`,
    /// `/dev`, the levels above a mount): EROFS, as Linux says for a new
    /// name on a read-only file system, not ENOENT (which says its
    /// directory is missing: `os.makedirs` would climb forever).
    fn no_new_names_in_virtual(&self, path: &[u8], r: Result<Resolved, Errno>) -> Result<Resolved, Errno> {
        if r.as_ref().err() != Some(&libc::ENOENT) {
            return r;
        }
        let trimmed = path.strip_suffix(b"/").unwrap_or(path);
        let parent = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(0) => &b"/"[..],
            Some(i) => trimmed.get(..i).unwrap_or(b"/"),
            None => return r,
        };
        match self.sandbox.resolve(parent, true) {
            Ok(Resolved::Virtual { .. }) => Err(libc::EROFS),
            _ => r,
        }
    }

    /// Runs `f(parent, name)` to change the metadata of the existing `path`.
    fn change(
        &self,
        path: &[u8],
        follow: bool,
        f: impl FnOnce(&OwnedFd, &CStr) -> Result<i64, Errno>,
    ) -> Result<i64, Errno> {
        match self.sandbox.resolve(path, follow)? {
            Resolved::Virtual { .. } => Err(libc::EROFS),
            Resolved::Host { object_mount, parent, name, .. } => {
                let name = name.unwrap_or_else(|| c".".to_owned());
                lstat_at(&parent, &name)?;
                if !self.sandbox.writable(object_mount) {
                    return Err(libc::EROFS);
                }
                f(&parent, &name)
            }
        }
    }

    fn two_paths(&self, segs: &Segs, op: u32, flags: u64) -> Result<i64, Errno> {
        let (from, to) = (segs.path(0)?, segs.path(1)?);
        let (rename_flags, follow) =
            if op == op::RENAME { (flags::rename(flags)?, false) } else { (0, flags::link_follows(flags)?) };
        let (r1, r2) = (self.sandbox.resolve(&from, follow)?, self.sandbox.resolve(&to, false)?);
        if r1.is_mount_root() || r2.is_mount_root() {
            return Err(libc::EBUSY);
        }
        let (
            Resolved::Host { mount: m1, parent: p1, name: Some(n1), .. },
            Resolved::Host { mount: m2, parent: p2, name: Some(n2), .. },
        ) = (r1, r2)
        else {
            return Err(libc::EBUSY);
        };
        lstat_at(&p1, &n1)?;
        if m1 != m2 {
            return Err(libc::EXDEV);
        }
        if !self.sandbox.writable(m1) {
            return Err(libc::EROFS);
        }
        // SAFETY: renameat2/linkat on single names in directories we hold;
        // linkat without AT_SYMLINK_FOLLOW links the name itself.
        sys(|| unsafe {
            if op == op::RENAME {
                libc::renameat2(p1.as_raw_fd(), n1.as_ptr(), p2.as_raw_fd(), n2.as_ptr(), rename_flags)
            } else {
                libc::linkat(p1.as_raw_fd(), n1.as_ptr(), p2.as_raw_fd(), n2.as_ptr(), 0)
            }
        } as isize)
    }

    /// `REOPEN`: the file of `handle` opened again, a new description with
    /// `flags` (through the host's `/proc/self/fd`, as Linux reopens a file
    /// by its magic link). Only a file of a writable mount or a memory file
    /// (what has no name left: `O_TMPFILE`, `memfd_create`) — never hx-run's
    /// own standard streams, whose files lie outside the mounts.
    pub fn reopen(&mut self, handle: u64, flags: u64) -> Result<i64, Errno> {
        let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
        let (fd, writable) = match self.handles.get(handle)? {
            Handle::Host { fd, metadata: true } => (fd.as_raw_fd(), true),
            _ => return Err(libc::ENXIO),
        };
        // The link is followed (it is the point); nothing is created.
        let host_flags = flags::open(flags)? & !(libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL);
        self.handles.room()?;
        let path = CString::new(format!("/proc/self/fd/{fd}")).map_err(|_| libc::EINVAL)?;
        // SAFETY: opens this process's own descriptor's file anew.
        let new = sys(|| unsafe { libc::open(path.as_ptr(), host_flags) } as isize)?;
        let h = self.handles.insert(Handle::Host { fd: std::sync::Arc::new(owned(new)), metadata: writable })?;
        Ok(h as i64)
    }

    /// A new name `segs[0]` for the file `handle` holds open (an `O_TMPFILE`
    /// file's first): only for a file of a writable mount, into a directory
    /// of the same host file system (a link across mounts would let a
    /// read-only mount's file be written through a writable one).
    fn link_handle(&self, segs: &Segs, handle: u64) -> Result<i64, Errno> {
        let to = segs.path(0)?;
        let (fd, writable) = match self.handles.get(handle)? {
            Handle::Host { fd, metadata } => (fd.as_raw_fd(), *metadata),
            _ => return Err(libc::ENOENT),
        };
        let file = fstat(fd)?;
        if file.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(libc::EPERM);
        }
        let Resolved::Host { mount, parent, name: Some(name), .. } = self.sandbox.resolve(&to, false)? else {
            return Err(libc::EEXIST);
        };
        if !self.sandbox.writable(mount) {
            return Err(libc::EROFS);
        }
        if !writable || fstat(parent.as_raw_fd())?.st_dev != file.st_dev {
            return Err(libc::EXDEV);
        }
        // SAFETY: linkat of a descriptor we hold (AT_EMPTY_PATH: the file
        // itself) to a single name in a directory we hold.
        sys(|| unsafe { libc::linkat(fd, c"".as_ptr(), parent.as_raw_fd(), name.as_ptr(), libc::AT_EMPTY_PATH) }
            as isize)
    }

    fn getdents(&mut self, segs: &Segs, handle: u64) -> Result<i64, Errno> {
        let seg = segs.get(0).ok_or(libc::EINVAL)?;
        let mut buf = vec![0u8; usize::try_from(seg.len).unwrap_or(MAX_DENTS).min(MAX_DENTS)];
        let n = match self.handles.get_mut(handle)? {
            Handle::Host { fd, .. } => {
                let fd = fd.as_raw_fd();
                // SAFETY: getdents64 writes at most buf.len() bytes into buf.
                sys(|| unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) } as isize)?
                    as usize
            }
            Handle::Virtual { guest, offset } => {
                let mut names: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec()];
                names.extend(self.sandbox.virtual_entries(guest));
                virtual_dents(&names, offset, &mut buf)?
            }
            Handle::Socket { .. } => return Err(libc::ENOTDIR),
        };
        segs.write(0, buf.get(..n).ok_or(libc::EIO)?)?;
        Ok(n as i64)
    }

    fn utimens(&self, segs: &Segs, handle: u64, nofollow: bool) -> Result<i64, Errno> {
        let mut times = [libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW }; 2];
        let times_seg = if handle == NO_HANDLE { 1 } else { 0 };
        if segs.get(times_seg).is_some() {
            let raw = segs.bytes(times_seg, 32, libc::EINVAL)?;
            if raw.len() != 32 {
                return Err(libc::EINVAL);
            }
            for (t, chunk) in times.iter_mut().zip(raw.chunks_exact(16)) {
                let (sec, nsec) = chunk.split_at(8);
                t.tv_sec = i64::from_le_bytes(sec.try_into().map_err(|_| libc::EINVAL)?);
                t.tv_nsec = i64::from_le_bytes(nsec.try_into().map_err(|_| libc::EINVAL)?);
            }
        }
        if handle != NO_HANDLE {
            let fd = self.handles.fd_for_metadata(handle)?;
            // SAFETY: futimens on a descriptor we hold with two timespecs.
            return sys(|| unsafe { libc::futimens(fd, times.as_ptr()) } as isize);
        }
        let path = segs.path(0)?;
        self.change(&path, !nofollow, |parent, name| {
            // SAFETY: utimensat of one name in a directory we hold, never following a host symlink.
            sys(|| unsafe {
                libc::utimensat(parent.as_raw_fd(), name.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
            } as isize)
        })
    }

    /// `chmod` of a path, or of a handle when there is no path. `setgid`:
    /// the guest asked for the set-group-ID bit, which a directory keeps
    /// (its new files take its group: no privilege), anything else not.
    fn chmod(&self, segs: &Segs, handle: u64, mode: u32, setgid: bool) -> Result<i64, Errno> {
        if segs.is_empty() {
            let fd = self.handles.fd_for_metadata(handle)?;
            let dir = setgid && fstat(fd)?.st_mode & libc::S_IFMT == libc::S_IFDIR;
            let mode = if dir { mode | libc::S_ISGID } else { mode };
            // SAFETY: fchmod on a descriptor we hold.
            return sys(|| unsafe { libc::fchmod(fd, mode) } as isize);
        }
        let path = segs.path(0)?;
        if setgid {
            return self.change(&path, true, |parent, name| chmod_dir_at(parent, name, mode));
        }
        self.change(&path, true, |parent, name| chmod_at(parent, name, mode))
    }

    /// `chown` of a path, or of a handle when there is no path, as the host
    /// allows it to the user hx-run runs as.
    fn chown(&self, segs: &Segs, handle: u64, [uid, gid]: [u64; 2], nofollow: u64) -> Result<i64, Errno> {
        let (uid, gid, follow) = (flags::owner(uid)?, flags::owner(gid)?, flags::follows(nofollow)?);
        if segs.is_empty() {
            let fd = self.handles.fd_for_metadata(handle)?;
            // SAFETY: fchown on a descriptor we hold.
            sys(|| unsafe { libc::fchown(fd, uid, gid) } as isize)?;
            if let Some(mode) = cleared_by_chown(fstat(fd)?.st_mode) {
                // SAFETY: fchmod on a descriptor we hold, clearing bits only.
                sys(|| unsafe { libc::fchmod(fd, mode) } as isize)?;
            }
            return Ok(0);
        }
        let path = segs.path(0)?;
        self.change(&path, follow, |parent, name| chown_at(parent, name, uid, gid))
    }

    fn statfs(&self, segs: &Segs, handle: u64) -> Result<i64, Errno> {
        /// `statfs`'s type of Linux's ramfs (its rootfs), `MountRecord`'s for the virtual root.
        const RAMFS_MAGIC: libc::__fsword_t = 0x8584_58f6;
        // SAFETY: an all-zero statfs is valid; fstatfs fills it.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        let (_held, fd) = if segs.len() >= 2 {
            let path = segs.path(0)?;
            match self.sandbox.resolve(&path, true)? {
                Resolved::Virtual { .. } => {
                    // A directory made only of mount points: hx's own
                    // read-only root file system, as empty as Linux's rootfs.
                    st.f_type = RAMFS_MAGIC;
                    st.f_bsize = 4096;
                    st.f_frsize = 4096;
                    st.f_namelen = 255;
                    let mut bytes = bytes_of(&st).to_vec();
                    // `f_flags`, which the libc crate does not name (Linux's offset).
                    if let Some(flags) = bytes.get_mut(80..88) {
                        flags.copy_from_slice(&(libc::ST_RDONLY | libc::ST_RELATIME).to_le_bytes());
                    }
                    segs.write(segs.len().saturating_sub(1), &bytes)?;
                    return Ok(0);
                }
                Resolved::Host { parent, name: None, .. } => {
                    let raw = parent.as_raw_fd();
                    (Some(parent), raw)
                }
                Resolved::Host { parent, name: Some(name), .. } => {
                    // SAFETY: openat O_PATH of one name in a directory we hold.
                    let fd = owned(sys(|| unsafe {
                        libc::openat(
                            parent.as_raw_fd(),
                            name.as_ptr(),
                            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                        )
                    } as isize)?);
                    let raw = fd.as_raw_fd();
                    (Some(fd), raw)
                }
            }
        } else {
            (None, self.handles.fd(handle)?)
        };
        // SAFETY: fstatfs on a descriptor we hold.
        sys(|| unsafe { libc::fstatfs(fd, &mut st) } as isize)?;
        segs.write(segs.len().saturating_sub(1), bytes_of(&st))?;
        Ok(0)
    }

    fn poll(&self, segs: &Segs, timeout_ms: i64) -> Result<i64, Errno> {
        self.prepare_poll(segs, timeout_ms)?.run(segs.mem())
    }

    /// A session command (`hx_abi::ioctl::is_session`) on a terminal: the
    /// guest's sessions answer it, from the monitor's process table.
    fn session_ioctl(&self, segs: &Segs, fd: std::os::fd::RawFd, cmd: u64, value: u64, arg: Arg) -> Result<i64, Errno> {
        let mut termios = [0u8; 64];
        // SAFETY: TCGETS writes a kernel termios (36 bytes) into the buffer we own.
        sys(|| unsafe { libc::ioctl(fd, libc::TCGETS, termios.as_mut_ptr()) } as isize)?;
        let rdev = fstat(fd)?.st_rdev;
        let given = match arg {
            Arg::In(4) => i32::from_le_bytes(segs.bytes(0, 4, libc::EFAULT)?.try_into().map_err(|_| libc::EFAULT)?),
            _ => 0,
        };
        let (ret, out) = super::process::terminal(cmd, rdev, value, given)?;
        if let Arg::Out(4) = arg {
            segs.write(0, &out.to_le_bytes())?;
        }
        Ok(ret)
    }

    /// `IOCTL`: one of the commands `hx_abi::ioctl` lists, its argument
    /// checked against the table (`super::ioctl::Ioctl`), run on the host
    /// file. The host answers for the file: ENOTTY from a pipe asked for a
    /// terminal's settings. One that may wait runs without the lock
    /// (`prepare_io`).
    fn ioctl(&self, segs: &Segs, handle: u64, cmd: u64, value: u64) -> Result<i64, Errno> {
        let fd = self.handles.fd(handle)?;
        let arg = hx_abi::ioctl::arg_of(cmd).ok_or(libc::ENOTTY)?;
        if hx_abi::ioctl::is_session(cmd) {
            return self.session_ioctl(segs, fd, cmd, value, arg);
        }
        let mut call = super::ioctl::Ioctl::checked(segs, cmd, value)?;
        let resized =
            cmd == hx_abi::ioctl::TIOCSWINSZ && super::pty::window_size(fd) != Some(segs.bytes(0, 8, libc::EFAULT)?);
        let ret = call.run(fd)?;
        call.write_back(segs)?;
        if resized {
            super::pty::resized(fd);
        }
        Ok(ret)
    }
}

/// `linux_dirent64` records for `names` from `*offset` on, into `buf`; returns the bytes used.
fn virtual_dents(names: &[Vec<u8>], offset: &mut usize, buf: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while let Some(name) = names.get(*offset) {
        let reclen = (19 + name.len() + 1).div_ceil(8) * 8;
        let Some(rec) = buf.get_mut(n..n + reclen) else {
            return if n == 0 { Err(libc::EINVAL) } else { Ok(n) };
        };
        let next = (*offset as u64 + 1).to_le_bytes();
        // d_ino, d_off, d_reclen, d_type, d_name + NUL and padding.
        let mut record = Vec::with_capacity(reclen);
        record.extend_from_slice(&next);
        record.extend_from_slice(&next);
        record.extend_from_slice(&(reclen as u16).to_le_bytes());
        record.push(libc::DT_DIR);
        record.extend_from_slice(name);
        record.resize(reclen, 0);
        rec.copy_from_slice(&record);
        n += reclen;
        *offset += 1;
    }
    Ok(n)
}

/// Cuts `iovs` to their first `keep` bytes.
fn trim_iovecs(iovs: &mut Vec<libc::iovec>, keep: u64) {
    let mut left = keep as usize;
    iovs.retain_mut(|v| {
        let take = v.iov_len.min(left);
        v.iov_len = take;
        left -= take;
        take > 0
    });
}

#[cfg(test)]
mod tests {
    use super::cleared_by_chown;

    #[test]
    fn chown_clears_set_user_id_and_executable_set_group_id_of_non_directories() {
        assert_eq!(cleared_by_chown(libc::S_IFREG | 0o4755), Some(0o755));
        assert_eq!(cleared_by_chown(libc::S_IFREG | 0o6755), Some(0o755));
        assert_eq!(cleared_by_chown(libc::S_IFREG | 0o2755), Some(0o755));
        assert_eq!(cleared_by_chown(libc::S_IFREG | 0o6745), Some(0o2745));
        // Without group execute set-group-ID only marks mandatory locking.
        assert_eq!(cleared_by_chown(libc::S_IFREG | 0o2745), None);
        assert_eq!(cleared_by_chown(libc::S_IFREG | 0o1755), None);
        assert_eq!(cleared_by_chown(libc::S_IFDIR | 0o2755), None);
        assert_eq!(cleared_by_chown(libc::S_IFLNK | 0o777), None);
    }
}
