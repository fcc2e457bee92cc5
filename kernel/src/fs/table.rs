//! The descriptor table: descriptor number → open file description + CLOEXEC.
use super::{dev, Kind, OpenFile};
use crate::errno::{Errno, EBADF, EINVAL, EMFILE};
use alloc::sync::Arc;
use alloc::vec::Vec;
use hx_abi::boot::{ExecState, InheritedFd, DEVICE_HANDLE};
use spin::Mutex;

#[derive(Clone)]
pub struct Entry {
    pub file: Arc<OpenFile>,
    pub cloexec: bool,
}

static TABLE: Mutex<Vec<Option<Entry>>> = Mutex::new(Vec::new());

/// The most descriptors a process may have (Linux's `nr_open`, the ceiling
/// of `RLIMIT_NOFILE`); the table grows only as far as it is used.
pub const MAX_FDS: usize = 1 << 20;

/// The descriptors the process starts with: for the first process the
/// standard streams (monitor handles 0–2), after `execve` what it passed on.
///
/// Descriptors that shared an open file before `execve` (`2>&1`, a shell's
/// `dup2` of one terminal onto 0, 1 and 2) travel as one host handle and
/// share one open file again: closing one of them must leave the others
/// working, and they keep sharing the offset and status flags.
pub fn init(exec: &ExecState) {
    let mut t = TABLE.lock();
    t.clear();
    let mut opened: Vec<(u64, Arc<OpenFile>)> = Vec::new();
    for f in exec.fds.iter().take((exec.nfds as usize).min(exec.fds.len())) {
        let kind = if f.handle & DEVICE_HANDLE != 0 {
            match dev::Device::from_code(f.handle - DEVICE_HANDLE) {
                Some(d) => Kind::Device(d),
                None => continue,
            }
        } else {
            Kind::Host(f.handle)
        };
        let fd = f.fd as usize;
        if fd >= MAX_FDS {
            continue;
        }
        if t.len() <= fd {
            t.resize(fd + 1, None);
        }
        // The shell opened the standard streams with the access it chose and
        // the host enforces it, so the guest's view of them is read-write.
        // A device's handle names the device, not an open file: each is its own.
        let shared = matches!(kind, Kind::Host(_)).then(|| opened.iter().find(|(h, _)| *h == f.handle)).flatten();
        let file = match shared {
            Some((_, file)) => file.clone(),
            None => {
                let file = Arc::new(OpenFile::new(kind, f.status, Vec::new()));
                opened.push((f.handle, file.clone()));
                file
            }
        };
        t[fd] = Some(Entry { file, cloexec: false });
    }
}

/// What an `execve` passes on: descriptors without close-on-exec that the
/// next image's kernel can rebuild (host files and devices; the kernel's
/// own pipes, epoll instances, eventfds, timerfds, signalfds and generated
/// files cannot travel).
/// Returns them and the host handles made for them here (generated files'
/// memory files), which the caller closes unless a new image took them.
pub fn inheritable() -> (Vec<InheritedFd>, Vec<u64>) {
    // A generated file (`cmd < /proc/cpuinfo`) travels as a host memory
    // file holding its text, at its offset: made outside the table's lock.
    let open: Vec<(u64, Entry)> = snapshot();
    let mut made = Vec::new();
    let fds = open
        .into_iter()
        .filter(|(_, e)| !e.cloexec)
        .filter_map(|(fd, e)| {
            let handle = match &e.file.kind {
                Kind::Host(h) => *h,
                Kind::Device(d) => DEVICE_HANDLE + d.code(),
                Kind::Generated(g) => {
                    let (text, offset) = g.snapshot()?;
                    let h = crate::host::memfd(&text, offset).ok()?;
                    made.push(h);
                    h
                }
                _ => return None,
            };
            Some(InheritedFd { fd: fd as u32, status: e.file.status(), handle })
        })
        .collect();
    (fds, made)
}

pub fn get(fd: u64) -> Result<Arc<OpenFile>, Errno> {
    TABLE.lock().get(fd as usize).and_then(|e| e.as_ref()).map(|e| e.file.clone()).ok_or(EBADF)
}

pub fn entry(fd: u64) -> Result<Entry, Errno> {
    TABLE.lock().get(fd as usize).and_then(|e| e.clone()).ok_or(EBADF)
}

/// Descriptors a process may have: below `RLIMIT_NOFILE`'s soft limit
/// (as on Linux), and below the table's size.
pub fn limit() -> usize {
    const RLIMIT_NOFILE: usize = 7;
    usize::try_from(crate::syscall::process::soft_limit(RLIMIT_NOFILE)).unwrap_or(usize::MAX).min(MAX_FDS)
}

/// Installs `file` at the lowest free descriptor ≥ `min`.
pub fn install_from(file: Arc<OpenFile>, cloexec: bool, min: usize) -> Result<u64, Errno> {
    let limit = limit();
    if min >= limit {
        return Err(EINVAL);
    }
    let mut t = TABLE.lock();
    let fd = match (min..t.len()).find(|&i| t[i].is_none()) {
        Some(i) => i,
        None => t.len().max(min),
    };
    if fd >= limit {
        return Err(EMFILE);
    }
    if fd >= t.len() {
        t.resize(fd + 1, None);
    }
    t[fd] = Some(Entry { file, cloexec });
    Ok(fd as u64)
}

pub fn install(file: Arc<OpenFile>, cloexec: bool) -> Result<u64, Errno> {
    install_from(file, cloexec, 0)
}

/// Puts `file` at exactly `fd`, closing what was there (dup2/dup3).
pub fn install_at(fd: u64, file: Arc<OpenFile>, cloexec: bool) -> Result<u64, Errno> {
    if fd >= limit() as u64 {
        return Err(EBADF);
    }
    let old = {
        let mut t = TABLE.lock();
        if fd as usize >= t.len() {
            t.resize(fd as usize + 1, None);
        }
        t[fd as usize].replace(Entry { file, cloexec })
    };
    if let Some(e) = old {
        closed(e); // outside the lock
    }
    Ok(fd)
}

/// A descriptor went away. Linux releases the process's POSIX record locks
/// on a file when *any* of its descriptors for it closes: the host does so
/// when the last one (the handle) closes, so a descriptor closed while a
/// `dup` of it remains releases them explicitly.
fn closed(e: Entry) {
    if Arc::strong_count(&e.file) > 1 {
        crate::syscall::fs::release_posix_locks(&e.file);
    }
}

pub fn close(fd: u64) -> Result<(), Errno> {
    let old = TABLE.lock().get_mut(fd as usize).and_then(|e| e.take());
    match old {
        Some(e) => {
            closed(e);
            Ok(())
        }
        None => Err(EBADF),
    }
}

pub fn set_cloexec(fd: u64, cloexec: bool) -> Result<(), Errno> {
    let mut t = TABLE.lock();
    match t.get_mut(fd as usize).and_then(|e| e.as_mut()) {
        Some(e) => {
            e.cloexec = cloexec;
            Ok(())
        }
        None => Err(EBADF),
    }
}

/// Held across a `fork`'s copy, so the child's table is not caught mid-change.
pub fn lock_for_fork() -> spin::MutexGuard<'static, Vec<Option<Entry>>> {
    TABLE.lock()
}

/// A whole table, put aside while a vfork child uses a copy (`syscall::vfork`).
pub struct Saved(Vec<Option<Entry>>);

/// A copy of the table (the same open files) to put back with [`restore`].
pub fn save() -> Saved {
    Saved(TABLE.lock().clone())
}

/// Puts a saved table back; the files only the replaced one held are closed.
pub fn restore(saved: Saved) {
    let replaced = core::mem::replace(&mut *TABLE.lock(), saved.0);
    drop(replaced); // closes outside the lock
}

/// Every open descriptor, as it is now.
pub fn snapshot() -> Vec<(u64, Entry)> {
    TABLE.lock().iter().enumerate().filter_map(|(fd, e)| e.clone().map(|e| (fd as u64, e))).collect()
}

/// Points descriptor `fd` at `file` (its close-on-exec flag stays).
pub fn swap_file(fd: u64, file: Arc<OpenFile>) {
    let old = {
        let mut t = TABLE.lock();
        t.get_mut(fd as usize).and_then(|e| e.as_mut()).map(|e| core::mem::replace(&mut e.file, file))
    };
    drop(old); // closes outside the lock
}
