//! The descriptor table: descriptor number → open file description + CLOEXEC.
use super::{Kind, OpenFile, O_RDWR};
use crate::errno::{Errno, EBADF, EINVAL, EMFILE};
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

#[derive(Clone)]
pub struct Entry {
    pub file: Arc<OpenFile>,
    pub cloexec: bool,
}

static TABLE: Mutex<Vec<Option<Entry>>> = Mutex::new(Vec::new());

/// Descriptors a process may have (RLIMIT_NOFILE's default soft limit).
pub const MAX_FDS: usize = 1024;

/// The standard streams, connected to hx-run's own (monitor handles 0–2).
pub fn init() {
    let mut t = TABLE.lock();
    t.clear();
    // The shell opened the streams with the access it chose and the host
    // enforces it, so the guest's view of them is read-write.
    for h in 0..3 {
        t.push(Some(Entry { file: Arc::new(OpenFile::new(Kind::Host(h), O_RDWR, Vec::new())), cloexec: false }));
    }
}

pub fn get(fd: u64) -> Result<Arc<OpenFile>, Errno> {
    TABLE.lock().get(fd as usize).and_then(|e| e.as_ref()).map(|e| e.file.clone()).ok_or(EBADF)
}

pub fn entry(fd: u64) -> Result<Entry, Errno> {
    TABLE.lock().get(fd as usize).and_then(|e| e.clone()).ok_or(EBADF)
}

/// Installs `file` at the lowest free descriptor ≥ `min`.
pub fn install_from(file: Arc<OpenFile>, cloexec: bool, min: usize) -> Result<u64, Errno> {
    if min >= MAX_FDS {
        return Err(EINVAL);
    }
    let mut t = TABLE.lock();
    let fd = match (min..t.len()).find(|&i| t[i].is_none()) {
        Some(i) => i,
        None => t.len().max(min),
    };
    if fd >= MAX_FDS {
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
    if fd as usize >= MAX_FDS {
        return Err(EBADF);
    }
    let old = {
        let mut t = TABLE.lock();
        if fd as usize >= t.len() {
            t.resize(fd as usize + 1, None);
        }
        t[fd as usize].replace(Entry { file, cloexec })
    };
    drop(old); // closes outside the lock
    Ok(fd)
}

pub fn close(fd: u64) -> Result<(), Errno> {
    let old = TABLE.lock().get_mut(fd as usize).and_then(|e| e.take());
    match old {
        Some(e) => {
            drop(e);
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
