//! poll, ppoll, select, pselect6: readiness of pipes and devices is known in
//! the guest; the monitor polls the host files among them, in one request.
use super::Args;
use crate::errno::{Errno, SysResult, EINVAL};
use crate::fs::{pipe, table, Kind};
use crate::{host, mm};
use alloc::vec::Vec;
use hx_abi::hypercall::{op, PollEntry, Request, Segment};

pub const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const POLLERR: i16 = 0x8;
const POLLHUP: i16 = 0x10;
const POLLNVAL: i16 = 0x20;

#[derive(Clone, Copy, Default)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
    /// Edge-triggered epoll on a host file: set `want_edges`, and each look
    /// leaves the file's edge count (`PollEntry::edges`) in `edges`.
    pub want_edges: bool,
    pub edges: Option<u32>,
}

/// Threads in `poll` waiting for a pipe to change.
static POLLERS: spin::Mutex<Vec<alloc::sync::Arc<crate::sched::Thread>>> = spin::Mutex::new(Vec::new());

/// A pipe changed: pollers look again.
pub fn wake_pollers() {
    let waiting = core::mem::take(&mut *POLLERS.lock());
    for t in waiting {
        crate::sched::wake(&t);
    }
}

/// Fills every `revents`, waiting up to `timeout_ms` (negative: forever); returns how many are ready.
pub fn poll_core(fds: &mut [PollFd], timeout_ms: i64) -> Result<usize, Errno> {
    poll_filtered(fds, timeout_ms, &mut |_| false)
}

/// As [`poll_core`], with `filter` run over the readiness found in the guest
/// at every look, before it counts (epoll's edge-triggered entries clear
/// what they reported already). A filter that returns `true` ends the wait
/// with what is ready now, maybe nothing (an epoll set changed: its caller
/// looks at the new set).
pub fn poll_filtered(
    fds: &mut [PollFd],
    timeout_ms: i64,
    filter: &mut dyn FnMut(&mut [PollFd]) -> bool,
) -> Result<usize, Errno> {
    let deadline = (timeout_ms >= 0).then(|| crate::time::monotonic_ns().saturating_add(timeout_ms as u64 * 1_000_000));
    // Only a child's end wakes pollers: a pidfd of another process is
    // looked at again every so often.
    let relook = crate::fs::pidfd::among(fds.iter().map(|f| f.fd));
    loop {
        // Registered before looking, so a change in between is not missed.
        if timeout_ms != 0 {
            register_poller();
        }
        match poll_once(fds, timeout_ms, filter) {
            Ok(Some(n)) => {
                unregister_poller();
                return Ok(n);
            }
            Err(e) => {
                unregister_poller();
                return Err(e);
            }
            Ok(None) => {}
        }
        if crate::signal::pending() {
            unregister_poller();
            return Err(crate::errno::ERESTARTNOHAND);
        }
        let now = crate::time::monotonic_ns();
        let wake_at = match (deadline, relook) {
            (d, false) => d,
            (Some(d), true) => Some(d.min(now + crate::fs::pidfd::RELOOK_NS)),
            (None, true) => Some(now + crate::fs::pidfd::RELOOK_NS),
        };
        if crate::sched::block(wake_at) == crate::sched::Wake::TimedOut && wake_at == deadline {
            unregister_poller();
            return Ok(0);
        }
    }
}

/// Puts the current thread among the pollers (once).
pub(crate) fn register_poller() {
    let me = crate::sched::current_arc();
    let mut p = POLLERS.lock();
    if !p.iter().any(|t| alloc::sync::Arc::ptr_eq(t, &me)) {
        p.push(me);
    }
}

/// Takes the current thread out of the pollers (its wait is over).
pub(crate) fn unregister_poller() {
    let me = crate::sched::current();
    POLLERS.lock().retain(|t| !core::ptr::eq(alloc::sync::Arc::as_ptr(t), me));
}

/// One look: `Some(ready)` when done (something ready, host files polled,
/// or no timeout), `None` to wait for a pipe or a host file to change.
fn poll_once(
    fds: &mut [PollFd],
    timeout_ms: i64,
    filter: &mut dyn FnMut(&mut [PollFd]) -> bool,
) -> Result<Option<usize>, Errno> {
    let mut host_entries: Vec<(usize, PollEntry)> = Vec::new();
    for (i, p) in fds.iter_mut().enumerate() {
        p.revents = 0;
        if p.fd < 0 {
            continue;
        }
        let Ok(file) = table::get(p.fd as u64) else {
            p.revents = POLLNVAL;
            continue;
        };
        // POLLHUP and POLLERR are reported whether asked for or not.
        let wanted = p.events | POLLHUP | POLLERR;
        p.revents = match &file.kind {
            Kind::Device(_) | Kind::Generated(_) => (POLLIN | POLLOUT) & wanted,
            Kind::Epoll(e) => {
                if super::epoll::readiness(e) {
                    POLLIN & wanted
                } else {
                    0
                }
            }
            Kind::Anon(a) => a.readiness() & wanted,
            Kind::PipeRead(pp) | Kind::PipeWrite(pp) => {
                let (r, w, hup) = pipe::readiness(pp);
                let is_read = matches!(file.kind, Kind::PipeRead(_));
                let mut ev = 0;
                if is_read && r {
                    ev |= POLLIN;
                }
                if !is_read && w {
                    ev |= POLLOUT;
                }
                if is_read && hup {
                    ev |= POLLHUP;
                }
                if !is_read && pipe::no_readers(pp) {
                    ev |= POLLERR;
                }
                ev & wanted
            }
            Kind::Host(h) => {
                let events = p.events | if p.want_edges { hx_abi::hypercall::POLL_EDGES } else { 0 };
                host_entries.push((i, PollEntry { handle: *h, events, ..Default::default() }));
                0
            }
        };
    }
    let ready = |fds: &[PollFd]| fds.iter().filter(|p| p.revents != 0).count();
    if host_entries.is_empty() {
        let stop = filter(fds);
        let n = ready(fds);
        return Ok((n > 0 || timeout_ms == 0 || stop).then_some(n));
    }
    let mut entries: Vec<PollEntry> = host_entries.iter().map(|(_, e)| *e).collect();
    // The host files are only looked at, never waited for in the host: a
    // thread waits (`watch`, then the caller blocks) without holding its vCPU.
    let mut look = |fds: &mut [PollFd], entries: &mut [PollEntry]| -> Result<(usize, bool), Errno> {
        host_poll(entries)?;
        for ((i, _), e) in host_entries.iter().zip(entries.iter()) {
            fds[*i].revents = e.revents;
            fds[*i].edges = fds[*i].want_edges.then_some(e.edges);
        }
        let stop = filter(fds);
        Ok((ready(fds), stop))
    };
    let (mut n, mut stop) = look(fds, &mut entries)?;
    if n == 0 && !stop && timeout_ms != 0 {
        // An event loop under load finds its next event within a few µs:
        // look again through the ring (no exit) before going to sleep.
        let start = crate::time::tsc_ns();
        while n == 0 && !stop && crate::ring::polling() && crate::time::tsc_ns() - start < HOST_SPIN_NS {
            (n, stop) = look(fds, &mut entries)?;
        }
    }
    if n > 0 || timeout_ms == 0 || stop {
        return Ok(Some(n));
    }
    if watch(&mut entries)? {
        // An edge came in meanwhile (another request may have counted it):
        // look again instead of waiting for one.
        crate::sched::wake(&crate::sched::current_arc());
    }
    Ok(None)
}

/// How long a poll that found nothing ready keeps looking through the ring.
const HOST_SPIN_NS: u64 = 30_000;

/// One look at host files (no waiting): how many are ready; fills `revents`.
fn host_poll(entries: &mut [PollEntry]) -> Result<usize, Errno> {
    let r = entries_request(op::POLL, entries)?;
    // SAFETY: the monitor wrote `revents` into `entries` (another thread, as far as the compiler knows).
    for e in entries.iter_mut() {
        *e = unsafe { core::ptr::read_volatile(e) };
    }
    Ok(r as usize)
}

/// Asks the monitor to tell the guest when any of `entries` is ready
/// (`Shared::host_events`, then [`take_host_events`] wakes the pollers);
/// true when an edge-counting entry already had a new edge (nothing armed).
fn watch(entries: &mut [PollEntry]) -> Result<bool, Errno> {
    entries_request(op::WATCH, entries).map(|r| r > 0)
}

/// A `POLL` (timeout 0: never waiting) or `WATCH` request over `entries`.
fn entries_request(o: u32, entries: &mut [PollEntry]) -> Result<u64, Errno> {
    let mut req = Request::new(o);
    req.segs[0] =
        Segment { phys: host::phys_of(entries.as_mut_ptr() as u64), len: core::mem::size_of_val(entries) as u64 };
    req.nsegs = 1;
    let r = host::call(&mut req);
    if r < 0 {
        return Err(Errno(-r));
    }
    Ok(r as u64)
}

/// The `host_events` count last seen.
static HOST_EVENTS_SEEN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// The `host_events` count the guest last took (the monitor's `IDLE` does
/// not sleep while the count has moved past it).
pub fn host_events_seen() -> u64 {
    HOST_EVENTS_SEEN.load(core::sync::atomic::Ordering::Acquire)
}

/// A host file the guest watches became ready: every thread waiting for
/// host files (or pipes) looks again. Cheap when nothing changed.
pub fn take_host_events() {
    use core::sync::atomic::Ordering;
    let now = crate::sched::host_events();
    if HOST_EVENTS_SEEN.load(Ordering::Relaxed) != now && HOST_EVENTS_SEEN.swap(now, Ordering::AcqRel) != now {
        wake_pollers();
        super::dnotify::on_host_events();
        super::lease::on_host_events();
    }
}

/// Asks the monitor to report host file `handle`'s next `events` (as host
/// events), without waiting here; true if it is ready now.
pub fn watch_host(handle: u64, events: i16) -> Result<bool, Errno> {
    let mut entries = [PollEntry { handle, events, ..Default::default() }];
    watch(&mut entries)
}

/// Whether host file `handle` has `events` now.
pub fn host_ready(handle: u64, events: i16) -> Result<bool, Errno> {
    let mut entries = [PollEntry { handle, events, ..Default::default() }];
    Ok(host_poll(&mut entries)? > 0)
}

/// Waits (without holding the vCPU) until host file `handle` may have
/// `events`, a signal arrives, or something else wakes the thread; the
/// caller tries again. `ERESTARTSYS` when a signal is pending.
pub fn wait_host(handle: u64, events: i16) -> Result<(), Errno> {
    register_poller();
    let mut entries = [PollEntry { handle, events, ..Default::default() }];
    let r = watch(&mut entries).and_then(|ready_now| {
        if crate::signal::pending() {
            return Err(crate::errno::ERESTARTSYS);
        }
        // Always ready (a regular file): the caller tries again at once.
        if ready_now {
            return Ok(());
        }
        crate::sched::block(None);
        if crate::signal::pending() {
            return Err(crate::errno::ERESTARTSYS);
        }
        Ok(())
    });
    unregister_poller();
    r
}

fn read_pollfds(ptr: u64, n: u64) -> Result<Vec<PollFd>, Errno> {
    // Linux: more entries than `RLIMIT_NOFILE` allows descriptors is EINVAL.
    if n > table::limit() as u64 {
        return Err(EINVAL);
    }
    let mut raw = alloc::vec![0u8; n as usize * 8];
    mm::copy_from_user(ptr, &mut raw)?;
    Ok(raw
        .chunks_exact(8)
        .map(|c| PollFd {
            fd: i32::from_le_bytes(c[..4].try_into().unwrap()),
            events: i16::from_le_bytes(c[4..6].try_into().unwrap()),
            ..Default::default()
        })
        .collect())
}

fn write_revents(ptr: u64, fds: &[PollFd]) -> Result<(), Errno> {
    for (i, p) in fds.iter().enumerate() {
        mm::write_user(ptr + i as u64 * 8 + 6, &p.revents)?;
    }
    Ok(())
}

/// A timespec pointer as milliseconds (NULL: forever).
pub fn timespec_ms(ptr: u64) -> Result<i64, Errno> {
    if ptr == 0 {
        return Ok(-1);
    }
    let [sec, nsec]: [i64; 2] = mm::read_user(ptr)?;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(EINVAL);
    }
    Ok(sec.saturating_mul(1000).saturating_add((nsec as u64).div_ceil(1_000_000) as i64))
}

pub fn poll([fds, nfds, timeout, ..]: Args) -> SysResult {
    let mut v = read_pollfds(fds, nfds)?;
    let n = poll_core(&mut v, timeout as i32 as i64)?;
    write_revents(fds, &v)?;
    Ok(n as u64)
}

pub fn ppoll([fds, nfds, tmo, mask, size, _]: Args) -> SysResult {
    let mut v = read_pollfds(fds, nfds)?;
    let n = with_mask(mask, size, || poll_core(&mut v, timespec_ms(tmo)?).map(|n| n as u64))?;
    write_revents(fds, &v)?;
    Ok(n)
}

/// Runs a wait with the signal mask at `mask` (if any) in force, as
/// `ppoll`, `pselect6` and `epoll_pwait` do: if a signal interrupts it, the
/// old mask comes back once the handler has run, otherwise at once.
pub fn with_mask(mask: u64, size: u64, wait: impl FnOnce() -> SysResult) -> SysResult {
    if mask == 0 {
        return wait();
    }
    if size != 8 {
        return Err(EINVAL);
    }
    let m: u64 = mm::read_user(mask)?;
    let t = crate::sched::current();
    let old = {
        let mut s = t.signals.lock();
        let old = s.mask;
        s.mask = m & !crate::signal::UNBLOCKABLE;
        old
    };
    let r = wait();
    let mut s = t.signals.lock();
    if matches!(r, Err(crate::errno::ERESTARTNOHAND) | Err(crate::errno::EINTR)) {
        s.saved_mask = Some(old);
    } else {
        s.mask = old;
    }
    r
}

/// select/pselect6 on top of poll: fd_set bit maps in, bit maps out.
fn select_core(nfds: u64, sets: [u64; 3], timeout_ms: i64) -> SysResult {
    if nfds > table::MAX_FDS as u64 {
        return Err(EINVAL);
    }
    let words = nfds.div_ceil(64) as usize;
    let mut maps = [alloc::vec![0u64; words], alloc::vec![0u64; words], alloc::vec![0u64; words]];
    for (m, &ptr) in maps.iter_mut().zip(&sets) {
        if ptr != 0 {
            for (w, word) in m.iter_mut().enumerate() {
                *word = mm::read_user(ptr + 8 * w as u64)?;
            }
        }
    }
    let bit = |m: &Vec<u64>, fd: usize| m[fd / 64] >> (fd % 64) & 1 != 0;
    let mut fds: Vec<PollFd> = Vec::new();
    for fd in 0..nfds as usize {
        let mut events = 0;
        if bit(&maps[0], fd) {
            events |= POLLIN;
        }
        if bit(&maps[1], fd) {
            events |= POLLOUT;
        }
        if bit(&maps[2], fd) {
            events |= 0x2; // POLLPRI
        }
        if events != 0 {
            fds.push(PollFd { fd: fd as i32, events, ..Default::default() });
        }
    }
    poll_core(&mut fds, timeout_ms)?;
    if fds.iter().any(|p| p.revents & POLLNVAL != 0) {
        return Err(crate::errno::EBADF);
    }
    let mut out = [alloc::vec![0u64; words], alloc::vec![0u64; words], alloc::vec![0u64; words]];
    let mut count = 0;
    for p in &fds {
        let fd = p.fd as usize;
        // Linux's sets: an error makes a descriptor readable and writable.
        for (k, mask) in [(0, POLLIN | POLLHUP | POLLERR), (1, POLLOUT | POLLERR), (2, 0x2)] {
            if p.events & (if k == 0 { POLLIN } else { mask }) != 0 && p.revents & mask != 0 {
                out[k][fd / 64] |= 1 << (fd % 64);
                count += 1;
            }
        }
    }
    for (m, &ptr) in out.iter().zip(&sets) {
        if ptr != 0 {
            for (w, word) in m.iter().enumerate() {
                mm::write_user(ptr + 8 * w as u64, word)?;
            }
        }
    }
    Ok(count)
}

pub fn select([nfds, r, w, e, tv, _]: Args) -> SysResult {
    let ms = if tv == 0 {
        -1
    } else {
        let [sec, usec]: [i64; 2] = mm::read_user(tv)?;
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(EINVAL);
        }
        sec * 1000 + (usec as u64).div_ceil(1000) as i64
    };
    select_core(nfds, [r, w, e], ms)
}

pub fn pselect6([nfds, r, w, e, ts, sig]: Args) -> SysResult {
    // The sixth argument points at { const sigset_t *mask; size_t size; }.
    let [mask, size]: [u64; 2] = if sig != 0 { mm::read_user(sig)? } else { [0, 0] };
    let ms = timespec_ms(ts)?;
    with_mask(mask, size, || select_core(nfds, [r, w, e], ms))
}
