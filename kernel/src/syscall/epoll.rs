//! epoll over the same readiness `poll` sees (pipes and devices in the
//! guest, host files through the monitor). Interest is kept by descriptor.
//! An edge-triggered entry on a file the guest serves (a pipe, an eventfd,
//! a timerfd, a signalfd) reports it once per new wake-up, as on Linux: each
//! counts its wake-ups (see `edge_filter`). A host file (a socket, a host
//! pipe, a terminal) has its wake-ups counted by the monitor
//! (`vmm/src/host/edges.rs`), and an edge-triggered wait for it waits for
//! its next wake-up, not for readiness. EPOLLONESHOT disables an entry once
//! reported.
use super::poll::{poll_filtered, PollFd};
use super::Args;
use crate::errno::{Errno, SysResult, EEXIST, EINVAL, ELOOP, ENOENT};
use crate::fs::{table, Kind, OpenFile, O_RDWR};
use crate::mm;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use spin::Mutex;

const EPOLL_CTL_ADD: u64 = 1;
const EPOLL_CTL_DEL: u64 = 2;
const EPOLL_CTL_MOD: u64 = 3;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLET: u32 = 1 << 31;
/// The readiness bits epoll and poll share (IN, PRI, OUT, ERR, HUP, RDNORM.., RDHUP).
const EVENT_BITS: u32 = 0x3fff;
const EPOLLERR: u32 = 0x8;
const EPOLLHUP: u32 = 0x10;
const EPOLLIN: u32 = 0x1;
const EPOLLOUT: u32 = 0x4;
const EPOLLWAKEUP: u32 = 1 << 29;
const POLLNVAL: i16 = 0x20;
/// What may go with EPOLLEXCLUSIVE (Linux's EPOLLEXCLUSIVE_OK_BITS).
const EXCLUSIVE_OK: u32 = EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
const O_CLOEXEC: u64 = 0o2000000;
/// Events one `epoll_wait` may return (Linux: INT_MAX / sizeof(struct epoll_event)).
const MAX_EVENTS: u64 = (i32::MAX / 12) as u64;

#[derive(Clone, Copy)]
struct Interest {
    events: u32,
    data: u64,
    /// EPOLLONESHOT fired: reported nothing more until EPOLL_CTL_MOD.
    disabled: bool,
    /// Edge-triggered: its file's wake-up count when last reported.
    edge_seen: Option<u64>,
    /// The open file it was added for: a descriptor closed (and maybe
    /// reused for another file) leaves the set, as on Linux.
    file: usize,
}

/// The identity of the open file at `fd`, if any.
fn file_at(fd: i32) -> Option<usize> {
    table::get(fd as u64).ok().map(|f| Arc::as_ptr(&f) as usize)
}

/// Open files replaced by others that stand for the same thing (a kernel
/// pipe moved to the host before `fork` or `execve`): (old, new) as
/// pointers. Every epoll instance's entries for them follow; an
/// edge-triggered one reports its next readiness afresh (the edge count
/// is the host file's now).
pub fn files_replaced(replaced: &[(usize, usize)]) {
    if replaced.is_empty() {
        return;
    }
    for (_, entry) in table::snapshot() {
        let Kind::Epoll(ep) = &entry.file.kind else { continue };
        for i in ep.interest.lock().values_mut() {
            if let Some(&(_, new)) = replaced.iter().find(|(old, _)| *old == i.file) {
                i.file = new;
                i.edge_seen = None;
            }
        }
    }
}

/// The entries of `ep` that are still their descriptors' (the others leave the set).
/// Each entry's descriptor, events and data (`/proc/<pid>/fdinfo`'s `tfd` lines).
pub fn entries_of(ep: &Epoll) -> Vec<(i32, u32, u64)> {
    ep.interest.lock().iter().map(|(&fd, i)| (fd, i.events, i.data)).collect()
}

fn live_entries(ep: &Epoll) -> Vec<(i32, Interest)> {
    let mut interest = ep.interest.lock();
    interest.retain(|&fd, i| file_at(fd) == Some(i.file));
    interest.iter().filter(|(_, i)| !i.disabled).map(|(&fd, &i)| (fd, i)).collect()
}

#[derive(Default)]
pub struct Epoll {
    interest: Mutex<BTreeMap<i32, Interest>>,
    /// Where the next wait starts looking (0, or after the last descriptor
    /// reported when `maxevents` cut a wait short), so every ready
    /// descriptor gets its turn (Linux moves reported entries to the back of
    /// its ready list).
    resume_from: core::sync::atomic::AtomicI32,
    /// Moves at every `epoll_ctl`: a wait in progress looks at the new set.
    changes: core::sync::atomic::AtomicU64,
}

fn create(flags: u64) -> SysResult {
    if flags & !O_CLOEXEC != 0 {
        return Err(EINVAL);
    }
    let file = OpenFile::new(Kind::Epoll(Arc::new(Epoll::default())), O_RDWR, b"anon_inode:[eventpoll]".to_vec());
    table::install(Arc::new(file), flags & O_CLOEXEC != 0)
}

pub fn epoll_create([size, ..]: Args) -> SysResult {
    if size as i32 <= 0 {
        return Err(EINVAL);
    }
    create(0)
}

pub fn epoll_create1([flags, ..]: Args) -> SysResult {
    create(flags)
}

fn instance(epfd: u64) -> Result<Arc<Epoll>, Errno> {
    match &table::get(epfd)?.kind {
        Kind::Epoll(e) => Ok(e.clone()),
        _ => Err(EINVAL),
    }
}

pub fn epoll_ctl([epfd, op, fd, event, ..]: Args) -> SysResult {
    let ep = instance(epfd)?;
    let target = table::get(fd)?;
    target.usable()?;
    if epfd == fd || matches!(target.kind, Kind::Epoll(_)) && Arc::ptr_eq(&instance(fd)?, &ep) {
        return Err(EINVAL);
    }
    // An epoll instance inside another: no cycle, and no chain deeper than Linux allows.
    if let (Kind::Epoll(inner), EPOLL_CTL_ADD) = (&target.kind, op) {
        if reaches(inner, &ep, 0) || depth_above(&ep, 0) + 1 + depth_below(inner, 0) > MAX_NESTS {
            return Err(ELOOP);
        }
    }
    // EPERM: files that cannot be polled (regular files, directories, the
    // kernel's devices and generated /proc files), as Linux says of them.
    let pollable = match target.kind {
        Kind::Host(_) => !is_regular_host_file(&target),
        Kind::Device(_) => false,
        // Linux polls /proc's own files, not a process's nor a generated file elsewhere.
        Kind::Generated(_) => is_global_proc_file(&target.path),
        _ => true,
    };
    if !pollable {
        return Err(crate::errno::Errno(1));
    }
    let read_event = || -> Result<Interest, Errno> {
        let raw: [u8; 12] = read_bytes(event)?;
        let events = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        let data = u64::from_le_bytes(raw[4..12].try_into().unwrap_or_default());
        // Linux: EPOLLEXCLUSIVE only at EPOLL_CTL_ADD, with in/out and the
        // bits that go with them, and never on another epoll instance.
        if events & EPOLLEXCLUSIVE != 0
            && (op == EPOLL_CTL_MOD || matches!(target.kind, Kind::Epoll(_)) || events & !EXCLUSIVE_OK != 0)
        {
            return Err(EINVAL);
        }
        // Errors and hang-ups are always reported.
        let file = Arc::as_ptr(&target) as usize;
        Ok(Interest { events: events | EPOLLERR | EPOLLHUP, data, disabled: false, edge_seen: None, file })
    };
    let mut interest = ep.interest.lock();
    let fd = fd as i32;
    // An entry left by a descriptor since closed is gone.
    if interest.get(&fd).is_some_and(|i| i.file != Arc::as_ptr(&target) as usize) {
        interest.remove(&fd);
    }
    match op {
        EPOLL_CTL_ADD => {
            let i = read_event()?;
            if interest.contains_key(&fd) {
                return Err(EEXIST);
            }
            interest.insert(fd, i);
        }
        EPOLL_CTL_MOD => {
            let i = read_event()?;
            let slot = interest.get_mut(&fd).ok_or(ENOENT)?;
            // An exclusive entry cannot be modified (Linux: EINVAL).
            if slot.events & EPOLLEXCLUSIVE != 0 {
                return Err(EINVAL);
            }
            *slot = i;
        }
        EPOLL_CTL_DEL => {
            interest.remove(&fd).ok_or(ENOENT)?;
        }
        _ => return Err(EINVAL),
    }
    drop(interest);
    // A waiter may now have something to report, or a new entry to wait for.
    ep.changes.fetch_add(1, Ordering::Release);
    super::poll::wake_pollers();
    Ok(0)
}

fn read_bytes<const N: usize>(ptr: u64) -> Result<[u8; N], Errno> {
    let mut b = [0u8; N];
    mm::copy_from_user(ptr, &mut b)?;
    Ok(b)
}

/// A file of /proc that is not a process's (`/proc/cpuinfo`, /proc/sys).
fn is_global_proc_file(path: &[u8]) -> bool {
    let Some(rest) = path.strip_prefix(b"/proc/") else { return false };
    let first = rest.split(|&b| b == b'/').next().unwrap_or_default();
    !(first == b"self" || first == b"thread-self" || !first.is_empty() && first.iter().all(u8::is_ascii_digit))
}

/// A regular file or a directory: always ready, so epoll refuses it (EPERM).
fn is_regular_host_file(file: &OpenFile) -> bool {
    super::fs::stat_of(file).map(|st| matches!(st.mode & 0o170000, 0o100000 | 0o040000)).unwrap_or(false)
}

/// What poll looks at for an entry.
fn entry_poll(fd: i32, i: &Interest) -> PollFd {
    PollFd { fd, events: (i.events & EVENT_BITS) as i16, want_edges: i.events & EPOLLET != 0, ..Default::default() }
}

/// Clears the readiness of edge-triggered entries whose file had no new
/// event (Linux: no wake-up) since they were last reported;
/// `edges` gets the wake-up count of the others.
/// A closed descriptor (`POLLNVAL`) is not ready either: it leaves the set
/// after the wait, and must not end a wait early with nothing to report.
fn edge_filter<'a>(
    watched: &'a [(i32, Interest)],
    edges: &'a mut [Option<u64>],
) -> impl FnMut(&mut [PollFd]) -> bool + 'a {
    move |fds| {
        for (k, p) in fds.iter_mut().enumerate() {
            let (fd, i) = watched[k];
            if p.revents & POLLNVAL != 0 {
                p.revents = 0;
                continue;
            }
            if i.events & EPOLLET == 0 || p.revents == 0 {
                continue;
            }
            let Ok(file) = table::get(fd as u64) else { continue };
            let n = match &file.kind {
                Kind::Anon(a) => a.edges(i.events),
                Kind::PipeRead(pp) => crate::fs::pipe::edges(pp, true),
                Kind::PipeWrite(pp) => crate::fs::pipe::edges(pp, false),
                Kind::Host(_) => match p.edges {
                    Some(n) => n as u64,
                    None => continue,
                },
                Kind::Device(_) | Kind::Generated(_) | Kind::Epoll(_) => continue,
            };
            if i.edge_seen == Some(n) {
                p.revents = 0;
            } else {
                edges[k] = Some(n);
            }
        }
        false
    }
}

/// Waits for the set's entries: Linux's `epoll_wait` returns 0 only when
/// its timeout passed, so a wait that ends with nothing to report (a ready
/// descriptor closed or deleted before it was reported) waits again, and an
/// `epoll_ctl` by another thread during the wait makes it look at the new
/// set (a descriptor added then is waited for, as on Linux).
fn wait(epfd: u64, events: u64, max: u64, timeout_ms: i64) -> SysResult {
    if max == 0 || max > MAX_EVENTS {
        return Err(EINVAL);
    }
    let ep = instance(epfd)?;
    let deadline = (timeout_ms > 0).then(|| crate::time::monotonic_ns().saturating_add(timeout_ms as u64 * 1_000_000));
    loop {
        let left = match deadline {
            None => timeout_ms,
            Some(d) => d.saturating_sub(crate::time::monotonic_ns()).div_ceil(1_000_000) as i64,
        };
        let changes = ep.changes.load(Ordering::Acquire);
        let out = wait_once(&ep, max, left, changes)?;
        if !out.is_empty() || left == 0 {
            mm::copy_to_user(events, &out)?;
            return Ok(out.len() as u64 / 12);
        }
    }
}

/// One wait over the set as it is now, up to `timeout_ms`, ended early when
/// the set changes from `changes`: the events to report, `struct
/// epoll_event`s.
fn wait_once(ep: &Epoll, max: u64, timeout_ms: i64, changes: u64) -> Result<Vec<u8>, Errno> {
    let watched = live_entries(ep);
    let mut fds: Vec<PollFd> = watched.iter().map(|&(fd, i)| entry_poll(fd, &i)).collect();
    let mut edges = alloc::vec![None; watched.len()];
    let mut filter = edge_filter(&watched, &mut edges);
    poll_filtered(&mut fds, timeout_ms, &mut |fds| filter(fds) || ep.changes.load(Ordering::Acquire) != changes)?;
    drop(filter);
    let mut out = Vec::new();
    let mut interest = ep.interest.lock();
    let from = ep.resume_from.load(Ordering::Relaxed);
    let start = watched.iter().position(|(fd, _)| *fd >= from).unwrap_or(0);
    let order = (start..watched.len()).chain(0..start);
    let mut last = None;
    for k in order {
        let (p, (fd, i)) = (&fds[k], &watched[k]);
        let ready = p.revents as u16 as u32 & ((i.events & EVENT_BITS) | EPOLLERR | EPOLLHUP);
        if ready == 0 || out.len() as u64 >= max * 12 {
            continue;
        }
        // A descriptor closed (and its number reused) during the wait is not
        // this entry's any more: it leaves the set at the next wait.
        if file_at(*fd) != Some(i.file) {
            continue;
        }
        let Some(slot) = interest.get_mut(fd) else { continue };
        slot.disabled |= i.events & EPOLLONESHOT != 0;
        slot.edge_seen = edges[k].or(slot.edge_seen);
        out.extend_from_slice(&ready.to_le_bytes());
        out.extend_from_slice(&i.data.to_le_bytes());
        last = Some(*fd);
    }
    drop(interest);
    let full = out.len() as u64 >= max * 12;
    let next = if full { last.map_or(0, |fd| fd + 1) } else { 0 };
    ep.resume_from.store(next, Ordering::Relaxed);
    Ok(out)
}

pub fn epoll_wait([epfd, events, max, timeout, ..]: Args) -> SysResult {
    wait(epfd, events, max, timeout as i32 as i64)
}

/// `epoll_pwait`: with a temporary signal mask, like `ppoll`.
pub fn epoll_pwait([epfd, events, max, timeout, mask, size]: Args) -> SysResult {
    super::poll::with_mask(mask, size, || wait(epfd, events, max, timeout as i32 as i64))
}

pub fn epoll_pwait2([epfd, events, max, timeout, mask, size]: Args) -> SysResult {
    let ms = super::poll::timespec_ms(timeout)?;
    super::poll::with_mask(mask, size, || wait(epfd, events, max, ms))
}

/// Linux's `EP_MAX_NESTS`: epoll instances may be nested this many links deep.
const MAX_NESTS: usize = 4;

/// The epoll instances `ep` watches directly.
fn nested(ep: &Epoll) -> Vec<Arc<Epoll>> {
    live_entries(ep)
        .into_iter()
        .filter_map(|(fd, _)| match &table::get(fd as u64).ok()?.kind {
            Kind::Epoll(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `target` is `from` or lies inside it (at any depth; the walk is
/// bounded, and past the bound counts as reaching, which refuses the add).
fn reaches(from: &Arc<Epoll>, target: &Arc<Epoll>, depth: usize) -> bool {
    Arc::ptr_eq(from, target) || depth > MAX_NESTS || nested(from).iter().any(|n| reaches(n, target, depth + 1))
}

/// The longest chain of epoll instances inside `ep`.
fn depth_below(ep: &Epoll, depth: usize) -> usize {
    if depth > MAX_NESTS {
        return MAX_NESTS + 1;
    }
    nested(ep).iter().map(|n| 1 + depth_below(n, depth + 1)).max().unwrap_or(0)
}

/// The longest chain of epoll instances (of this process's descriptors) that `ep` lies inside.
fn depth_above(ep: &Arc<Epoll>, depth: usize) -> usize {
    if depth > MAX_NESTS {
        return MAX_NESTS + 1;
    }
    table::snapshot()
        .into_iter()
        .filter_map(|(_, entry)| match &entry.file.kind {
            Kind::Epoll(outer) if nested(outer).iter().any(|n| Arc::ptr_eq(n, ep)) => Some(outer.clone()),
            _ => None,
        })
        .map(|outer| 1 + depth_above(&outer, depth + 1))
        .max()
        .unwrap_or(0)
}

/// An epoll descriptor polled or epolled itself: readable when one of its
/// entries is ready, a nested epoll instance's entries included.
pub fn readiness(ep: &Epoll) -> bool {
    readiness_at(ep, 0)
}

fn readiness_at(ep: &Epoll, depth: usize) -> bool {
    type Entries = Vec<(i32, Interest)>;
    let (inner, watched): (Entries, Entries) = live_entries(ep)
        .into_iter()
        .partition(|(fd, _)| matches!(table::get(*fd as u64).map(|f| matches!(f.kind, Kind::Epoll(_))), Ok(true)));
    // Nested instances are looked into here (no cycle exists: `epoll_ctl` refuses one).
    if depth < MAX_NESTS
        && inner.iter().any(|&(fd, i)| {
            i.events & EPOLLIN != 0
                && matches!(
                    table::get(fd as u64).map(|f| match &f.kind {
                        Kind::Epoll(e) => readiness_at(e, depth + 1),
                        _ => false,
                    }),
                    Ok(true)
                )
        })
    {
        return true;
    }
    let mut fds: Vec<PollFd> = watched.iter().map(|&(fd, i)| entry_poll(fd, &i)).collect();
    let mut edges = alloc::vec![None; watched.len()];
    let ready = poll_filtered(&mut fds, 0, &mut edge_filter(&watched, &mut edges));
    ready.is_ok_and(|n| n > 0)
}
