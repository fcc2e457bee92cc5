//! The file-descriptor table: what each of the program's descriptors refers to.
use crate::errno::{Errno, EBADF};
use alloc::vec::Vec;
use hx_abi::hypercall::{HOST_STDERR, HOST_STDIN, HOST_STDOUT};
use spin::Mutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum File {
    /// A stream the monitor holds open (the standard streams), by its handle.
    Host(u64),
}

static TABLE: Mutex<Vec<Option<File>>> = Mutex::new(Vec::new());

pub fn init() {
    let mut t = TABLE.lock();
    t.clear();
    t.extend([Some(File::Host(HOST_STDIN)), Some(File::Host(HOST_STDOUT)), Some(File::Host(HOST_STDERR))]);
}

pub fn get(fd: u64) -> Result<File, Errno> {
    TABLE.lock().get(fd as usize).copied().flatten().ok_or(EBADF)
}

pub fn close(fd: u64) -> Result<(), Errno> {
    let mut t = TABLE.lock();
    match t.get_mut(fd as usize) {
        Some(slot @ Some(_)) => {
            *slot = None;
            Ok(())
        }
        _ => Err(EBADF),
    }
}
