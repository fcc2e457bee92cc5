//! `O_ASYNC` (`fcntl(F_SETFL)`): I/O signals to a descriptor's owner
//! (`F_SETOWN`/`F_SETOWN_EX`: a thread, a process or a process group) when
//! it becomes readable or writable — `SIGIO`, or `F_SETSIG`'s signal with
//! `si_fd`, `si_code` (`POLL_IN`, `POLL_OUT`, ...) and `si_band`, as Linux's
//! `kill_fasync`. The kernel's pipes raise them themselves; host files
//! (sockets, host pipes, terminals) through the monitor, which the host
//! signals (`lease::on_host_events` passes those on here). No owner, no
//! signal (Linux).
use crate::fs::{Kind, OpenFile};
use crate::signal::Queued;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;

pub const O_ASYNC: u32 = 0o20000;
pub const POLL_IN: i32 = 1;
pub const POLL_OUT: i32 = 2;
/// `si_band` for `POLL_IN` and `POLL_OUT` (Linux's `band_table`).
const BAND_IN: i64 = 0x1 | 0x40;
const BAND_OUT: i64 = 0x4 | 0x100 | 0x200;

/// Descriptors with `O_ASYNC` set, and their files.
static ASYNC: Mutex<Vec<(u64, Weak<OpenFile>)>> = Mutex::new(Vec::new());
static ACTIVE: AtomicBool = AtomicBool::new(false);

pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// `F_SETFL` set (`on`) or cleared `O_ASYNC` on descriptor `fd`.
pub fn set(fd: u64, file: &Arc<OpenFile>, on: bool) {
    let mut list = ASYNC.lock();
    list.retain(|(_, f)| f.strong_count() > 0 && !f.upgrade().is_some_and(|f| Arc::ptr_eq(&f, file)));
    if on {
        list.push((fd, Arc::downgrade(file)));
    }
    ACTIVE.store(!list.is_empty(), Ordering::Release);
}

/// A file moved (a kernel pipe to the host before a fork): its
/// registration follows.
pub fn replaced(old: &Arc<OpenFile>, new: &Arc<OpenFile>) {
    let mut list = ASYNC.lock();
    for (_, f) in list.iter_mut() {
        if f.upgrade().is_some_and(|f| Arc::ptr_eq(&f, old)) {
            *f = Arc::downgrade(new);
        }
    }
}

/// The registered files `pick` chooses, with their descriptors.
fn matching(pick: impl Fn(&OpenFile) -> bool) -> Vec<(u64, Arc<OpenFile>)> {
    if !active() {
        return Vec::new();
    }
    ASYNC
        .lock()
        .iter()
        .filter_map(|(fd, f)| f.upgrade().map(|f| (*fd, f)))
        .filter(|(_, f)| f.status() & O_ASYNC != 0 && pick(f))
        .collect()
}

/// A kernel pipe became readable (`readable`) or writable: its ends'
/// owners hear of it.
pub fn pipe_event(pipe: &crate::fs::pipe::Shared, readable: bool) {
    let ends = matching(|f| match &f.kind {
        Kind::PipeRead(p) => readable && Arc::ptr_eq(p, pipe),
        Kind::PipeWrite(p) => !readable && Arc::ptr_eq(p, pipe),
        _ => false,
    });
    for (fd, f) in ends {
        let (code, band) = if readable { (POLL_IN, BAND_IN) } else { (POLL_OUT, BAND_OUT) };
        notify(&f, fd, code, band);
    }
}

/// The host signalled I/O on handle `handle`.
pub fn host_event(handle: u64, code: i32, band: i64) {
    for (fd, f) in matching(|f| matches!(f.kind, Kind::Host(h) if h == handle)) {
        notify(&f, fd, code, band);
    }
}

/// Sends the I/O signal of descriptor `fd` of `file` to its owner.
fn notify(file: &OpenFile, fd: u64, code: i32, band: i64) {
    const F_OWNER_TID: u64 = 0;
    const F_OWNER_PGRP: u64 = 2;
    let owner = file.owner.load(Ordering::Relaxed);
    let (kind, id) = (owner >> 32, owner as u32 as u64);
    if id == 0 {
        return;
    }
    let q = Queued::io(file.io_signal.load(Ordering::Relaxed), fd, code, band);
    let me = super::process::pid();
    match kind {
        F_OWNER_TID => {
            if let Some(t) = crate::sched::thread(id as u32) {
                crate::signal::send_thread(&t, q);
            }
        }
        _ if kind != F_OWNER_PGRP && id == me => crate::signal::send_process(q),
        // Another process or a group: the signal travels, its siginfo not
        // (another process is another VM).
        _ => {
            let target = if kind == F_OWNER_PGRP { (id as i64).wrapping_neg() as u64 } else { id };
            let _ = super::signal::kill([target, u64::from(q.sig), 0, 0, 0, 0]);
        }
    }
}
