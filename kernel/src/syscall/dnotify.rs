//! dnotify (`fcntl(F_NOTIFY)`): changes in a directory signal the process
//! (`SIGIO`, or the descriptor's `F_SETSIG` signal with `si_fd`). The
//! directory is a host one, so a host inotify instance of the process's own
//! (`op::INOTIFY`, made at the first registration) watches it; its events
//! arrive like any host file's readiness (`WATCH`), and the kernel turns them
//! into signals as host events are taken (`on_host_events`). A registration
//! without `DN_MULTISHOT` ends at its first signal; one whose descriptor was
//! closed (or now names another file) ends silently, as closing ends it on Linux.
use crate::errno::{SysResult, EINVAL, ENOTDIR};
use crate::fs::{table, Kind, OpenFile};
use crate::host;
use crate::signal::Queued;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use hx_abi::hypercall::{op, Request, INOTIFY_ADD, INOTIFY_INIT, RW_NOWAIT};

const DN_ACCESS: u64 = 0x1;
const DN_MODIFY: u64 = 0x2;
const DN_CREATE: u64 = 0x4;
const DN_DELETE: u64 = 0x8;
const DN_RENAME: u64 = 0x10;
const DN_ATTRIB: u64 = 0x20;
const DN_MULTISHOT: u64 = 0x8000_0000;
const DN_ALL: u64 = DN_ACCESS | DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB;

// inotify's event bits.
const IN_ACCESS: u32 = 0x1;
const IN_MODIFY: u32 = 0x2;
const IN_ATTRIB: u32 = 0x4;
const IN_MOVED_FROM: u32 = 0x40;
const IN_MOVED_TO: u32 = 0x80;
const IN_CREATE: u32 = 0x100;
const IN_DELETE: u32 = 0x200;
const IN_ONLYDIR: u64 = 0x0100_0000;

/// The inotify events each dnotify event stands for.
const MAP: [(u64, u32); 6] = [
    (DN_ACCESS, IN_ACCESS),
    (DN_MODIFY, IN_MODIFY),
    (DN_CREATE, IN_CREATE | IN_MOVED_TO),
    (DN_DELETE, IN_DELETE | IN_MOVED_FROM),
    (DN_RENAME, IN_MOVED_FROM | IN_MOVED_TO),
    (DN_ATTRIB, IN_ATTRIB),
];

struct Registration {
    fd: u64,
    file: Arc<OpenFile>,
    /// The host watch (one per directory: inotify merges them).
    wd: u32,
    events: u64,
    multishot: bool,
}

struct Dnotify {
    /// The host inotify instance's handle.
    instance: u64,
    registrations: Vec<Registration>,
}

static STATE: spin::Mutex<Option<Dnotify>> = spin::Mutex::new(None);
/// Whether any registration exists: host events cost one load otherwise.
static ACTIVE: AtomicBool = AtomicBool::new(false);

fn inotify_mask(events: u64) -> u64 {
    MAP.iter().filter(|(dn, _)| events & dn != 0).fold(0, |m, (_, i)| m | u64::from(*i))
}

/// `fcntl(fd, F_NOTIFY, arg)`.
pub fn fcntl_notify(fd: u64, file: &Arc<OpenFile>, arg: u64) -> SysResult {
    if !matches!(file.kind, Kind::Host(_)) || super::fs::stat_of(file)?.mode & 0o170000 != 0o040000 {
        return Err(ENOTDIR);
    }
    let mut state = STATE.lock();
    // No event (bits Linux does not know are ignored): the registration goes.
    if arg & !DN_MULTISHOT == 0 {
        if let Some(s) = state.as_mut() {
            s.registrations.retain(|r| !Arc::ptr_eq(&r.file, file));
        }
        return Ok(0);
    }
    let instance = match state.as_ref() {
        Some(s) => s.instance,
        None => {
            let h = host::simple(op::INOTIFY, &[INOTIFY_INIT, 1])?;
            *state = Some(Dnotify { instance: h, registrations: Vec::new() });
            h
        }
    };
    let s = state.as_mut().ok_or(EINVAL)?;
    // Linux keeps one registration per file: a new one adds to it.
    let (mut events, mut multishot) = (arg & DN_ALL, arg & DN_MULTISHOT != 0);
    if let Some(old) = s.registrations.iter().position(|r| Arc::ptr_eq(&r.file, file)) {
        let r = s.registrations.swap_remove(old);
        events |= r.events;
        multishot |= r.multishot;
    }
    if events == 0 {
        return Ok(0);
    }
    // The host watch carries every registration's events on this directory.
    let path = file.path.clone();
    let union = s.registrations.iter().filter(|r| r.file.path == path).fold(events, |m, r| m | r.events);
    let args = [INOTIFY_ADD, instance, inotify_mask(union) | IN_ONLYDIR];
    let wd = host::path_request(op::INOTIFY, &args, &[&path], &mut []).0? as u32;
    s.registrations.push(Registration { fd, file: file.clone(), wd, events, multishot });
    ACTIVE.store(true, Ordering::Release);
    drop(state);
    arm(instance);
    Ok(0)
}

/// Asks to hear of the instance's next events (one-shot, as every `WATCH`).
fn arm(instance: u64) {
    let _ = super::poll::watch_host(instance, super::poll::POLLIN);
}

/// Whether any directory is watched.
#[inline(always)]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// After a call that may change a directory or a file in one: its events
/// are in the host instance already (the host made them during the call),
/// so their signals are pending before the call returns, as on Linux.
pub fn after_call(nr: u64) {
    const CHANGES: &[u64] = &[
        1, 2, 18, 20, 40, 76, 77, 82, 83, 84, 85, 86, 87, 88, 90, 91, 92, 93, 94, 132, 133, 188, 189, 190, 197, 198,
        199, 235, 257, 258, 259, 260, 261, 263, 264, 265, 266, 268, 275, 280, 285, 296, 316, 326, 328, 437, 452,
    ];
    if CHANGES.contains(&nr) {
        take_events(false);
    }
}

/// Host events arrived: the directories' changes become signals.
pub fn on_host_events() {
    take_events(true);
}

/// Reads the instance's events and sends their signals; then asks to hear
/// of the next ones (the watch is one-shot: only needed again once it
/// fired, or once events were taken).
fn take_events(fired: bool) {
    if !ACTIVE.load(Ordering::Acquire) {
        return;
    }
    let Some(instance) = STATE.lock().as_ref().map(|s| s.instance) else { return };
    let mut buf = [0u8; 4096];
    let mut req = Request::new(op::READ);
    req.args[0] = instance;
    req.args[2] = RW_NOWAIT;
    req.segs[0] = host::kernel_segment(buf.as_mut_ptr() as u64, buf.len());
    req.nsegs = 1;
    let Ok(n) = host::result(host::call(&mut req)) else {
        if fired {
            arm(instance); // nothing to read yet
        }
        return;
    };
    let mut signals: Vec<Queued> = Vec::new();
    let mut at = 0usize;
    while at + 16 <= n as usize {
        let word = |i: usize| u32::from_ne_bytes(buf[at + i..at + i + 4].try_into().unwrap_or_default());
        let (wd, mask, len) = (word(0), word(4), word(12) as usize);
        at += 16 + len;
        let mut state = STATE.lock();
        let Some(s) = state.as_mut() else { break };
        s.registrations.retain(|r| {
            // Closed, or the descriptor now names another file: gone.
            table::get(r.fd).is_ok_and(|f| Arc::ptr_eq(&f, &r.file))
        });
        for r in s.registrations.iter_mut().filter(|r| r.wd == wd) {
            let hit = MAP.iter().any(|(dn, i)| r.events & dn != 0 && mask & i != 0);
            if !hit {
                continue;
            }
            signals.push(signal_for(r));
            if !r.multishot {
                r.events = 0;
            }
        }
        s.registrations.retain(|r| r.events != 0);
        ACTIVE.store(!s.registrations.is_empty(), Ordering::Release);
    }
    for q in signals {
        crate::signal::send_process(q);
    }
    arm(instance);
}

/// `F_SETSIG`'s signal with `si_fd` and `si_band`, or a plain `SIGIO`.
fn signal_for(r: &Registration) -> Queued {
    Queued::io_message(r.file.io_signal.load(Ordering::Relaxed), r.fd)
}

/// A forked child: the parent's registrations stay the parent's (they
/// signal the process that made them).
pub fn after_fork() {
    if let Some(s) = STATE.lock().take() {
        host::close(s.instance);
    }
    ACTIVE.store(false, Ordering::Release);
}
