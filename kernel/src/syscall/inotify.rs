//! inotify: each instance is a host inotify instance the monitor holds
//! (`op::INOTIFY`), read, polled and closed as any host file; a watch is
//! added on the guest path, which the monitor resolves in its sandbox.
use super::Args;
use crate::errno::{SysResult, EINVAL};
use crate::fs::{path, table, Kind, OpenFile, O_NONBLOCK, O_RDONLY};
use crate::host;
use alloc::sync::Arc;
use hx_abi::hypercall::{op, INOTIFY_ADD, INOTIFY_INIT, INOTIFY_RM};

const IN_NONBLOCK: u64 = 0o4000;
const IN_CLOEXEC: u64 = 0o2000000;
/// What `/proc/self/fd` shows for an instance, as Linux names it.
const NAME: &[u8] = b"anon_inode:inotify";

pub fn inotify_init(_: Args) -> SysResult {
    inotify_init1([0; 6])
}

pub fn inotify_init1([flags, ..]: Args) -> SysResult {
    if flags & !(IN_NONBLOCK | IN_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let nonblock = flags & IN_NONBLOCK != 0;
    let h = host::simple(op::INOTIFY, &[INOTIFY_INIT, u64::from(nonblock)])?;
    let status = O_RDONLY | if nonblock { O_NONBLOCK } else { 0 };
    table::install(Arc::new(OpenFile::new(Kind::Host(h), status, NAME.to_vec())), flags & IN_CLOEXEC != 0)
}

/// The host handle of the inotify instance at `fd` (EINVAL: another file).
fn instance(fd: u64) -> Result<u64, crate::errno::Errno> {
    let file = table::get(fd)?;
    match file.kind {
        Kind::Host(h) if file.path == NAME => Ok(h),
        _ => Err(EINVAL),
    }
}

/// The event bits (`IN_ALL_EVENTS`): a watch must ask for one of them.
const IN_ALL_EVENTS: u64 = 0xfff;

pub fn inotify_add_watch([fd, pathname, mask, ..]: Args) -> SysResult {
    let h = instance(fd)?;
    if mask & IN_ALL_EVENTS == 0 {
        return Err(EINVAL);
    }
    let abs = path::at(path::AT_FDCWD, pathname)?;
    host::path_request(op::INOTIFY, &[INOTIFY_ADD, h, mask & 0xffff_ffff], &[&abs], &mut []).0
}

pub fn inotify_rm_watch([fd, wd, ..]: Args) -> SysResult {
    let h = instance(fd)?;
    host::simple(op::INOTIFY, &[INOTIFY_RM, h, u64::from(wd as u32)])
}
