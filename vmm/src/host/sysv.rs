//! `op::SYSV`: System V IPC. The guest's segments, semaphore sets and
//! message queues are the host kernel's, in an IPC namespace of the
//! `hx-run` tree's own (made before anything else, so every monitor of the
//! tree shares it and nothing reaches the host's objects): Linux's
//! semantics — keys, permissions, `SEM_UNDO` (a monitor is its guest
//! process to the host), `IPC_RMID` while attached — come with them.
//!
//! Everything from the guest is checked: commands and flags against
//! allow-lists, buffer sizes against the structure each command reads or
//! writes, limits set in the namespace at start (and `msg_qbytes` held to
//! them, which the root monitor could otherwise raise). A call that must
//! wait runs in a helper thread (`crate::waits`) that writes the outcome
//! into guest kernel memory. A segment is attached over the guest's frames
//! in place (`shmat(SHM_REMAP)`), as shared mappings are (`shared`).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::guest::Segs;
use crate::futex::word_address;
use crate::memory::GuestRam;
use crate::sandbox::Errno;
use crate::waits::{Helper, Waits};
use hx_abi::hypercall::sysv_limits as limits;
use hx_abi::hypercall::{
    sysv_ctl_buffer, Request, SysvBuffer, SYSV_CANCEL, SYSV_CTL, SYSV_KIND_MSG, SYSV_KIND_SEM, SYSV_KIND_SHM,
    SYSV_LIMIT, SYSV_MSGGET, SYSV_MSGRCV, SYSV_MSGSND, SYSV_SEMGET, SYSV_SEMOP, SYSV_SHMAT, SYSV_SHMGET, SYSV_SHM_SIZE,
    SYSV_STARTED,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set once this process's threads use the tree's private IPC namespace.
static PRIVATE_NAMESPACE: AtomicBool = AtomicBool::new(false);
/// Set once `unshare_namespace` made it (before its limits are set).
static NAMESPACE_MADE: AtomicBool = AtomicBool::new(false);
/// Set once this monitor made a `SEM_UNDO` operation: its host process must
/// end with its guest process (the adjustments apply then), so it is never
/// made a spare again.
static UNDO_USED: AtomicBool = AtomicBool::new(false);

const IPC_CREAT: u64 = 0o1000;
const IPC_EXCL: u64 = 0o2000;
const IPC_NOWAIT: i32 = 0o4000;
const SHM_NORESERVE: u64 = 0o10000;
const SHM_HUGETLB: u64 = 0o4000;
const SHM_RDONLY: i32 = 0o10000;
const SHM_REMAP: i32 = 0o40000;
const SHM_EXEC: i32 = 0o100000;
const SEM_UNDO: i16 = 0x1000;
const MSG_NOERROR: i32 = 0o10000;
const MSG_EXCEPT: i32 = 0o20000;
const MSG_COPY: i32 = 0o40000;

/// A blocked semaphore operation looks whether it was cancelled this often.
const SEM_SLICE: Duration = Duration::from_millis(50);
/// A waiting message call tries again after this, doubling up to `MSG_POLL_MAX`.
const MSG_POLL_MIN: Duration = Duration::from_micros(20);
const MSG_POLL_MAX: Duration = Duration::from_millis(2);

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn check(r: i64) -> Result<i64, Errno> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// Gives this thread, and the threads and processes it starts from now on,
/// an IPC namespace of their own. `hx-run` calls it before it starts any
/// thread; without it (not root), every System V call is `ENOSYS`.
pub fn unshare_namespace() -> std::io::Result<()> {
    // SAFETY: unshare changes only this thread's IPC namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWIPC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    NAMESPACE_MADE.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether this process is in the tree's own IPC namespace (its limits may
/// still be on their way: [`available`] says when calls are served).
pub fn in_private_namespace() -> bool {
    NAMESPACE_MADE.load(Ordering::SeqCst)
}

/// Sets the namespace's limits for a guest of `memory` bytes (from a thread
/// started after `unshare_namespace`), which makes System V IPC available.
pub fn set_limits(memory: u64) -> std::io::Result<()> {
    let pages = memory / 4096;
    let settings = [
        ("shmmax", memory.to_string()),
        ("shmall", (pages * limits::SHMALL_RAMS).to_string()),
        ("shmmni", limits::SHMMNI.to_string()),
        ("msgmni", limits::MSGMNI.to_string()),
        ("msgmnb", limits::MSGMNB.to_string()),
        ("msgmax", limits::MSGMAX.to_string()),
        ("sem", format!("{} {} {} {}", limits::SEMMSL, limits::SEMMNS, limits::SEMOPM, limits::SEMMNI)),
    ];
    for (name, value) in settings {
        std::fs::write(format!("/proc/sys/kernel/{name}"), value)?;
    }
    limit_message_queues()?;
    keep_limit_files()?;
    PRIVATE_NAMESPACE.store(true, Ordering::SeqCst);
    Ok(())
}

/// The namespace's limit files (`SYSV_LIMITS`), opened before the monitor
/// locks itself down (Landlock keeps it from opening them later), each
/// with the most its numbers may be: what `hx-run` set, so that a guest
/// root may lower a limit and raise it back, never past what bounds the
/// host memory its objects hold.
static LIMIT_FILES: std::sync::OnceLock<Vec<(std::fs::File, Vec<u64>)>> = std::sync::OnceLock::new();

fn numbers(text: &[u8]) -> Option<Vec<u64>> {
    let text = std::str::from_utf8(text).ok()?;
    text.split_ascii_whitespace().map(|w| w.parse().ok()).collect()
}

fn keep_limit_files() -> std::io::Result<()> {
    let mut files = Vec::new();
    for name in hx_abi::hypercall::SYSV_LIMITS {
        let file = std::fs::OpenOptions::new().read(true).write(true).open(format!("/proc/sys/{name}"))?;
        let caps = numbers(std::fs::read(format!("/proc/sys/{name}"))?.as_slice()).unwrap_or_default();
        files.push((file, caps));
    }
    let _ = LIMIT_FILES.set(files);
    Ok(())
}

/// The descriptors of the limit files (a spare keeps them).
pub fn limit_fds() -> Vec<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    LIMIT_FILES.get().map(|f| f.iter().map(|(file, _)| file.as_raw_fd()).collect()).unwrap_or_default()
}

/// `SYSV_LIMIT`: reads limit `which`, or writes the numbers in `segs[0]`
/// (as many as it has, each at most its cap).
fn limit(which: u64, write: bool, segs: &Segs) -> Result<i64, Errno> {
    use std::os::unix::fs::FileExt;
    let files = LIMIT_FILES.get().ok_or(libc::ENOSYS)?;
    let (file, caps) = usize::try_from(which).ok().and_then(|i| files.get(i)).ok_or(libc::EINVAL)?;
    let io = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EIO);
    if write {
        let text = segs.bytes(0, 256, libc::EINVAL)?;
        let values = numbers(&text).ok_or(libc::EINVAL)?;
        if values.is_empty() || values.len() > caps.len() || values.iter().zip(caps).any(|(v, cap)| v > cap) {
            return Err(libc::EINVAL);
        }
        let line: Vec<String> = values.iter().map(u64::to_string).collect();
        file.write_at(line.join(" ").as_bytes(), 0).map_err(io)?;
        return Ok(0);
    }
    let mut buf = [0u8; 256];
    let n = file.read_at(&mut buf, 0).map_err(io)?;
    segs.write(0, buf.get(..n).ok_or(libc::EIO)?).map(|n| n as i64)
}

/// POSIX message queues (`mqueue.rs`) hold at most this many bytes of the
/// host's memory (`RLIMIT_MSGQUEUE` counts each queue's full size when it
/// is made); the namespace's own queue and message limits are Linux's defaults.
const MQUEUE_BYTES: u64 = 8 << 20;

fn limit_message_queues() -> std::io::Result<()> {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on this process's own limit, with our struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_MSGQUEUE, &mut r) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        r.rlim_cur = r.rlim_cur.min(MQUEUE_BYTES);
        r.rlim_max = r.rlim_max.min(MQUEUE_BYTES);
        if libc::setrlimit(libc::RLIMIT_MSGQUEUE, &r) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Why every System V call is `ENOSYS` when `unshare_namespace` failed.
pub const UNAVAILABLE: &str =
    "System V IPC (shm*, sem*, msg*) is ENOSYS: it needs a private IPC namespace, which only root can make; start hx-run as root (and use --user to run as another user)";

/// Whether the tree has its private IPC namespace.
pub fn available() -> bool {
    PRIVATE_NAMESPACE.load(Ordering::SeqCst)
}

/// The calling thread acting as the guest process for one System V call:
/// its effective ids and no supplementary groups, so the host checks the
/// object's permissions against the guest's ids and records them as its
/// owner and creator, as Linux does for the caller. Only this thread
/// changes (raw syscalls: credentials are per thread to the host kernel);
/// back to the monitor's own when dropped. A monitor that is not root
/// (`--user`) acts as itself.
pub(super) struct AsGuest {
    restore: Option<(u32, Vec<libc::gid_t>)>,
}

impl AsGuest {
    pub(super) fn switch(who: u64) -> Self {
        // SAFETY: geteuid cannot fail.
        if who == hx_abi::hypercall::SYSV_PRIVILEGED || unsafe { libc::geteuid() } != 0 {
            return Self { restore: None };
        }
        let (uid, gid) = (who as u32, (who >> 32) as u32);
        let mut groups = vec![0 as libc::gid_t; 256];
        // SAFETY: getegid cannot fail; getgroups writes at most 256 ids into ours.
        let (egid, n) = unsafe { (libc::getegid(), libc::getgroups(256, groups.as_mut_ptr())) };
        groups.truncate(n.max(0) as usize);
        let keep = u32::MAX;
        // SAFETY: changes this thread's credentials only (raw syscalls, not
        // libc's process-wide wrappers): the groups and gid first, while the
        // thread still has the privilege to, then the uid.
        let switched = unsafe {
            libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) == 0
                && libc::syscall(libc::SYS_setresgid, keep, gid, keep) == 0
                && libc::syscall(libc::SYS_setresuid, keep, uid, keep) == 0
        };
        let me = Self { restore: Some((egid, groups)) };
        if !switched {
            drop(me);
            return Self { restore: None };
        }
        me
    }
}

impl Drop for AsGuest {
    fn drop(&mut self) {
        if let Some((egid, groups)) = self.restore.take() {
            let keep = u32::MAX;
            // SAFETY: this thread's credentials back to the monitor's (its
            // saved uid is root's, so it may), the uid first.
            unsafe {
                libc::syscall(libc::SYS_setresuid, keep, 0u32, keep);
                libc::syscall(libc::SYS_setresgid, keep, egid, keep);
                libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr());
            }
        }
    }
}

/// Whether this monitor's process must end with its guest process.
pub fn undo_used() -> bool {
    UNDO_USED.load(Ordering::SeqCst)
}

/// `op::SYSV` (see `hx_abi::hypercall::op::SYSV`).
pub fn serve(
    shared: &mut super::shared::SharedRanges,
    waits: Option<&Arc<Waits>>,
    req: &mut Request,
    segs: &Segs,
) -> Result<i64, Errno> {
    if !available() {
        return Err(libc::ENOSYS);
    }
    let a = req.args;
    let id = || i32::try_from(a[1]).map_err(|_| libc::EINVAL);
    let waits = || waits.ok_or(libc::ENOSYS);
    req.args[7] = 0;
    let _as_guest = AsGuest::switch(a[6]);
    match a[0] {
        SYSV_SHMGET => {
            let flags = get_flags(a[3], SHM_NORESERVE)?;
            if a[3] & SHM_HUGETLB != 0 {
                // The guest has no huge page sizes: Linux without them says EINVAL.
                return Err(libc::EINVAL);
            }
            let size = usize::try_from(a[2]).map_err(|_| libc::EINVAL)?;
            // SAFETY: shmget takes only numbers.
            check(i64::from(unsafe { libc::shmget(a[1] as i32, size, flags) }))
        }
        SYSV_SEMGET => {
            let nsems = i32::try_from(a[2]).map_err(|_| libc::EINVAL)?;
            // SAFETY: semget takes only numbers.
            check(i64::from(unsafe { libc::semget(a[1] as i32, nsems, get_flags(a[3], 0)?) }))
        }
        SYSV_MSGGET => {
            // SAFETY: msgget takes only numbers.
            check(i64::from(unsafe { libc::msgget(a[1] as i32, get_flags(a[2], 0)?) }))
        }
        SYSV_SHM_SIZE => {
            let ds = shm_stat(id()?)?;
            req.args[1] = ds.shm_perm.__key as u32 as u64;
            Ok(ds.shm_segsz as i64)
        }
        SYSV_SHMAT => shared.attach_sysv(segs, id()?, a[2] as i32).map(|()| 0),
        SYSV_CTL => ctl(segs, &a),
        SYSV_SEMOP => {
            let ops = sembufs(segs)?;
            let started = semop(segs.mem(), waits()?, id()?, ops, a[3], a[6])?;
            req.args[7] = u64::from(started) * SYSV_STARTED;
            Ok(0)
        }
        SYSV_MSGSND => {
            let text = segs.bytes(0, 8 + limits::MSGMAX as usize, libc::EINVAL)?;
            let started = msgsnd(segs.mem(), waits()?, id()?, text, a[2] as i32, a[3], a[6])?;
            req.args[7] = u64::from(started) * SYSV_STARTED;
            Ok(0)
        }
        SYSV_MSGRCV => {
            let buf = single_buffer(segs, 8 + limits::MSGMAX as u64)?;
            match msgrcv(segs.mem(), waits()?, id()?, buf, (a[2] as i64, a[3] as i32), a[4], a[6])? {
                Some(n) => Ok(n),
                None => {
                    req.args[7] = SYSV_STARTED;
                    Ok(0)
                }
            }
        }
        SYSV_LIMIT => limit(a[1], a[2] == 1, segs),
        SYSV_CANCEL => {
            waits()?.cancel(a[1]);
            Ok(0)
        }
        _ => Err(libc::EINVAL),
    }
}

/// The `*get` flags: `IPC_CREAT`, `IPC_EXCL`, the mode and `extra`; Linux
/// ignores any other bit, and so does the host call here.
fn get_flags(flags: u64, extra: u64) -> Result<i32, Errno> {
    i32::try_from(flags & (IPC_CREAT | IPC_EXCL | 0o777 | extra)).map_err(|_| libc::EINVAL)
}

/// The one segment of a kernel buffer of at most `max` bytes: (host address, length).
fn single_buffer(segs: &Segs, max: u64) -> Result<(u64, usize), Errno> {
    match segs.all() {
        [s] if s.len >= 8 && s.len <= max => Ok((segs.mem().host_base() + s.phys, s.len as usize)),
        _ => Err(libc::EINVAL),
    }
}

fn shm_stat(id: i32) -> Result<libc::shmid_ds, Errno> {
    // SAFETY: an all-zero shmid_ds is valid; IPC_STAT fills it.
    let mut ds: libc::shmid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: IPC_STAT writes one shmid_ds into ours.
    check(i64::from(unsafe { libc::shmctl(id, libc::IPC_STAT, &mut ds) }))?;
    Ok(ds)
}

/// Attaches segment `id` at host address `at` (over guest RAM) with the guest's
/// `flags`. The host mapping stays writable where the host allows it, as all
/// guest RAM does for the monitor; the guest's page tables keep a read-only
/// attachment read-only.
pub fn attach_at(id: i32, at: u64, len: u64, flags: i32) -> Result<(), Errno> {
    let remap = SHM_REMAP | (flags & SHM_EXEC);
    let attach = |extra: i32| {
        // SAFETY: replaces pages of the guest RAM mapping (checked by the caller) with the segment's.
        let p = unsafe { libc::shmat(id, at as *const libc::c_void, remap | extra) };
        if p as isize == -1 {
            Err(errno())
        } else if p as u64 != at {
            // SAFETY: detaches what was just attached elsewhere (never expected).
            unsafe { libc::shmdt(p) };
            Err(libc::EINVAL)
        } else {
            Ok(())
        }
    };
    match attach(0) {
        Err(libc::EACCES) if flags & SHM_RDONLY != 0 => attach(SHM_RDONLY),
        r => r,
    }?;
    if let Ok(mut attached) = ATTACHED.lock() {
        attached.push((at, len));
    }
    Ok(())
}

/// Host ranges where segments were attached (some may be detached since).
static ATTACHED: std::sync::Mutex<Vec<(u64, u64)>> = std::sync::Mutex::new(Vec::new());

/// The guest process ended (its vCPUs stopped): its segments are detached
/// now, before its parent may look (`shm_nattch`), not when the monitor's
/// host process ends after its teardown.
pub fn detach_all() {
    let Ok(mut attached) = ATTACHED.lock() else { return };
    for (at, len) in attached.drain(..) {
        // SAFETY: replaces pages of guest RAM, whose program has ended, with
        // private zero pages; detaches whatever segment was attached there.
        unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            );
        }
    }
}

/// `shmctl`/`semctl`/`msgctl`.
fn ctl(segs: &Segs, a: &[u64; 8]) -> Result<i64, Errno> {
    let id = i32::try_from(a[2]).map_err(|_| libc::EINVAL)?;
    let cmd = i32::try_from(a[3]).map_err(|_| libc::EINVAL)?;
    let (kind, semnum) = (a[1], a[4] as i32);
    let layout = Layout::of(kind, cmd, id)?;
    let given = segs.get(0).map_or(0, |s| s.len as usize);
    let mut buf = vec![0u8; layout.size];
    if layout.size > 0 && given < layout.size {
        return Err(libc::EFAULT);
    }
    if layout.reads {
        let s = segs.get(0).ok_or(libc::EFAULT)?;
        segs.mem().read(s.phys, &mut buf).map_err(|_| libc::EFAULT)?;
        if kind == SYSV_KIND_MSG && cmd == libc::IPC_SET {
            hold_queue_size(&buf)?;
        }
    }
    let ptr = if layout.size > 0 { buf.as_mut_ptr() as usize } else { 0 };
    // SAFETY: each call reads or writes at most `layout.size` bytes at `ptr`
    // (the structure or array its command takes), or takes a number.
    let r = unsafe {
        match kind {
            SYSV_KIND_SHM => libc::syscall(libc::SYS_shmctl, id, cmd, ptr),
            SYSV_KIND_SEM if cmd == libc::SETVAL => libc::syscall(libc::SYS_semctl, id, semnum, cmd, a[5] as i32),
            SYSV_KIND_SEM => libc::syscall(libc::SYS_semctl, id, semnum, cmd, ptr),
            _ => libc::syscall(libc::SYS_msgctl, id, cmd, ptr),
        }
    };
    let r = check(r)?;
    if layout.writes {
        for at in layout.pids {
            translate_pid(&mut buf, *at);
        }
        segs.write(0, &buf)?;
    }
    if kind == SYSV_KIND_SEM && cmd == GETPID {
        return Ok(guest_pid(r as i32).into());
    }
    Ok(r)
}

const GETPID: i32 = 11;

/// What a control command reads or writes in the guest's buffer.
struct Layout {
    size: usize,
    reads: bool,
    writes: bool,
    /// Offsets of host process ids in it, which the guest sees as its own.
    pids: &'static [usize],
}

impl Layout {
    fn of(kind: u64, cmd: i32, id: i32) -> Result<Self, Errno> {
        let (size, reads) = match sysv_ctl_buffer(kind, cmd).ok_or(libc::EINVAL)? {
            SysvBuffer::None => (0, false),
            SysvBuffer::In(n) => (n, true),
            SysvBuffer::Out(n) => (n, false),
            SysvBuffer::Values { reads } => (2 * sem_count(id)?, reads),
        };
        // Host process ids in IPC_STAT and the *_STAT structures (shm_cpid,
        // shm_lpid; msg_lspid, msg_lrpid), which the guest sees as its own.
        let pids: &[usize] = match (kind, size) {
            (SYSV_KIND_SHM, 112) => &[80, 84],
            (SYSV_KIND_MSG, 120) => &[96, 100],
            _ => &[],
        };
        Ok(Layout { size, reads, writes: size > 0 && !reads, pids })
    }
}

/// How many semaphores set `id` has.
fn sem_count(id: i32) -> Result<usize, Errno> {
    let mut ds = [0u8; 104];
    // SAFETY: IPC_STAT writes one semid_ds (104 bytes) into ours.
    check(unsafe { libc::syscall(libc::SYS_semctl, id, 0, libc::IPC_STAT, ds.as_mut_ptr()) })?;
    let n = ds.get(80..88).and_then(|b| b.try_into().ok()).map_or(0, u64::from_ne_bytes);
    usize::try_from(n).map_err(|_| libc::EINVAL)
}

/// `msg_qbytes` above the namespace's limit needs a privilege the guest
/// has not got from the host (the monitor may have it): EPERM, as Linux
/// answers an unprivileged process.
fn hold_queue_size(ds: &[u8]) -> Result<(), Errno> {
    let qbytes = ds.get(80..88).and_then(|b| b.try_into().ok()).map_or(0, u64::from_ne_bytes);
    if qbytes > u64::from(limits::MSGMNB) {
        return Err(libc::EPERM);
    }
    Ok(())
}

/// The guest's pid for host process `host` (its monitor); 0 if none is known.
fn guest_pid(host: i32) -> i32 {
    if host == 0 {
        return 0;
    }
    crate::process::table::by_host_pid(host).map_or(0, |e| e.pid.load(Ordering::SeqCst))
}

fn translate_pid(buf: &mut [u8], at: usize) {
    if let Some(b) = buf.get_mut(at..at + 4) {
        let host = <[u8; 4]>::try_from(&*b).map_or(0, i32::from_ne_bytes);
        b.copy_from_slice(&guest_pid(host).to_ne_bytes());
    }
}

/// The `sembuf`s of segment 0 (at most `SEMOPM`).
fn sembufs(segs: &Segs) -> Result<Vec<libc::sembuf>, Errno> {
    let raw = segs.bytes(0, 6 * limits::SEMOPM as usize, libc::E2BIG)?;
    if raw.is_empty() || raw.len() % 6 != 0 {
        return Err(libc::EINVAL);
    }
    let half = |c: &[u8], at: usize| c.get(at..at + 2).and_then(|b| <[u8; 2]>::try_from(b).ok()).unwrap_or_default();
    Ok(raw
        .chunks_exact(6)
        .map(|c| libc::sembuf {
            sem_num: u16::from_ne_bytes(half(c, 0)),
            sem_op: i16::from_ne_bytes(half(c, 2)),
            sem_flg: i16::from_ne_bytes(half(c, 4)),
        })
        .collect())
}

fn semtimedop(id: i32, ops: &mut [libc::sembuf], timeout: Option<&libc::timespec>) -> Result<(), Errno> {
    let t = timeout.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: reads `ops.len()` sembufs from ours and the optional timeout.
    check(unsafe { libc::syscall(libc::SYS_semtimedop, id, ops.as_mut_ptr(), ops.len(), t) }).map(|_| ())
}

/// `semtimedop`: done at once (`false`) or waited for by a helper (`true`).
fn semop(
    mem: &GuestRam,
    waits: &Arc<Waits>,
    id: i32,
    mut ops: Vec<libc::sembuf>,
    outcome: u64,
    who: u64,
) -> Result<bool, Errno> {
    if ops.iter().any(|o| o.sem_flg & SEM_UNDO != 0) {
        UNDO_USED.store(true, Ordering::SeqCst);
    }
    let mut now: Vec<libc::sembuf> =
        ops.iter().map(|o| libc::sembuf { sem_flg: o.sem_flg | IPC_NOWAIT as i16, ..*o }).collect();
    match semtimedop(id, &mut now, None) {
        Err(libc::EAGAIN) if ops.iter().any(|o| o.sem_flg & IPC_NOWAIT as i16 == 0) => {}
        r => return r.map(|()| false),
    }
    let word = word_address(mem, outcome, 8)?;
    // The guest is told it waits only once its helper is about to wait in
    // the host, where GETNCNT/GETZCNT count it (a program that sees the
    // waiter asleep reads them next).
    let (about_to_wait, ready) = std::sync::mpsc::sync_channel::<()>(1);
    waits.start(outcome, "hx-semop", move |h| {
        let _as_guest = AsGuest::switch(who);
        let result = loop {
            if h.cancelled() {
                return;
            }
            let _ = about_to_wait.try_send(());
            let began = Instant::now();
            match semtimedop(id, &mut ops, Some(&timespec(SEM_SLICE))) {
                Ok(()) => break 0,
                // The slice ended (Linux's semtimedop says EAGAIN then too).
                Err(libc::EAGAIN) if began.elapsed() >= SEM_SLICE * 9 / 10 => continue,
                Err(libc::EINTR) => continue,
                // Removed between two slices: a waiter sees EIDRM.
                Err(libc::EINVAL) => break -i64::from(libc::EIDRM),
                Err(e) => break -i64::from(e),
            }
        };
        if !h.finish(|| store(word, result)) && result == 0 {
            undo(id, &ops); // done after the guest gave up: as if never done
        }
    })?;
    let _ = ready.recv_timeout(Duration::from_millis(20));
    Ok(true)
}

/// Reverts operations a helper completed for a guest that no longer waited.
fn undo(id: i32, ops: &[libc::sembuf]) {
    let mut back: Vec<libc::sembuf> = ops
        .iter()
        .filter(|o| o.sem_op != 0)
        .map(|o| libc::sembuf {
            sem_num: o.sem_num,
            sem_op: o.sem_op.saturating_neg(),
            sem_flg: (o.sem_flg & SEM_UNDO) | IPC_NOWAIT as i16,
        })
        .collect();
    if !back.is_empty() {
        let _ = semtimedop(id, &mut back, None);
    }
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
}

/// Writes `value` into the 8-byte outcome word at host address `word`.
fn store(word: u64, value: i64) {
    // SAFETY: `word` is an 8-byte-aligned word of guest RAM the guest gave for
    // this wait (checked by `word_address`), written only while it waits.
    unsafe { AtomicU64::from_ptr(word as *mut u64) }.store(value as u64, Ordering::SeqCst);
}

/// Runs `attempt` (which never waits) until it is not `EAGAIN`/`ENOMSG`,
/// backing off between tries, and stores its result for the guest.
fn poll_until_done(h: &Helper, word: u64, mut attempt: impl FnMut() -> Result<i64, Errno>) {
    let mut pause = MSG_POLL_MIN;
    loop {
        let finished = h.try_finish(|| {
            let result = match attempt() {
                Err(libc::EAGAIN | libc::ENOMSG | libc::EINTR) => return false,
                // Removed meanwhile: a waiter sees EIDRM.
                Err(libc::EINVAL) => -i64::from(libc::EIDRM),
                Err(e) => -i64::from(e),
                Ok(n) => n,
            };
            store(word, result);
            true
        });
        if finished != Some(false) {
            return;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(MSG_POLL_MAX);
    }
}

/// `msgsnd` of `text` (`mtype` first): done at once or by a helper (`true`).
fn msgsnd(
    mem: &GuestRam,
    waits: &Arc<Waits>,
    id: i32,
    text: Vec<u8>,
    flags: i32,
    outcome: u64,
    who: u64,
) -> Result<bool, Errno> {
    if text.len() < 8 {
        return Err(libc::EINVAL);
    }
    let send = move |extra: i32| {
        // SAFETY: msgsnd reads the mtype and `len - 8` bytes of text from our buffer.
        check(i64::from(unsafe { libc::msgsnd(id, text.as_ptr().cast(), text.len() - 8, flags | extra) }))
    };
    match send(IPC_NOWAIT) {
        Err(libc::EAGAIN) if flags & IPC_NOWAIT == 0 => {}
        r => return r.map(|_| false),
    }
    poll_in_helper(mem, waits, outcome, who, move || send(IPC_NOWAIT))?;
    Ok(true)
}

/// `msgrcv` into the kernel buffer `(host address, length)` (`mtype` first):
/// the text's length, or `None` when a helper waits for a message.
fn msgrcv(
    mem: &GuestRam,
    waits: &Arc<Waits>,
    id: i32,
    (buf, len): (u64, usize),
    (kind, flags): (i64, i32),
    outcome: u64,
    who: u64,
) -> Result<Option<i64>, Errno> {
    if flags & !(IPC_NOWAIT | MSG_NOERROR | MSG_EXCEPT | MSG_COPY) != 0 {
        return Err(libc::EINVAL);
    }
    let receive = move |extra: i32| {
        // SAFETY: `buf` is a guest kernel buffer of `len` bytes inside guest RAM
        // (`single_buffer`); msgrcv writes at most the mtype and `len - 8` bytes.
        check(unsafe { libc::msgrcv(id, buf as *mut libc::c_void, len - 8, kind, flags | extra) } as i64)
    };
    match receive(IPC_NOWAIT) {
        Err(libc::ENOMSG) if flags & IPC_NOWAIT == 0 => {}
        r => return r.map(Some),
    }
    // The helper receives only while the guest still waits (under the wait's
    // lock), so a message is never taken for a guest that gave up.
    poll_in_helper(mem, waits, outcome, who, move || receive(IPC_NOWAIT))?;
    Ok(None)
}

/// Starts a helper that runs `attempt` as the guest (`poll_until_done`)
/// for the wait reporting at guest-physical `outcome`.
fn poll_in_helper(
    mem: &GuestRam,
    waits: &Arc<Waits>,
    outcome: u64,
    who: u64,
    attempt: impl FnMut() -> Result<i64, Errno> + Send + 'static,
) -> Result<(), Errno> {
    let word = word_address(mem, outcome, 8)?;
    waits.start(outcome, "hx-msg", move |h| {
        let _as_guest = AsGuest::switch(who);
        poll_until_done(&h, word, attempt)
    })
}
