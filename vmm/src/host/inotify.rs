//! `op::INOTIFY`: the guest's inotify instances are host inotify instances
//! the monitor holds as ordinary host-file handles (so reads, `poll`,
//! `epoll` and `close` need nothing more). A watch is added on the name the
//! sandbox resolved, through the directory descriptor it holds and never
//! following a final symlink: no path outside the mounts can be watched.
//! Events carry watch numbers and names within watched directories only.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::files::Files;
use super::guest::Segs;
use super::handles::Handle;
use crate::sandbox::{Errno, Resolved};
use hx_abi::hypercall::{INOTIFY_ADD, INOTIFY_INIT, INOTIFY_RM};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// `args[0]` = `INOTIFY_INIT` (`args[1]`: non-blocking), `INOTIFY_ADD`
/// (handle `args[1]`, mask `args[2]`, the absolute guest path in `segs[0]`)
/// or `INOTIFY_RM` (handle `args[1]`, watch `args[2]`).
pub fn serve(files: &mut Files, args: &[u64; 8], segs: &Segs) -> Result<i64, Errno> {
    match args[0] {
        INOTIFY_INIT => {
            files.handles.room()?;
            let flags = libc::IN_CLOEXEC | if args[1] != 0 { libc::IN_NONBLOCK } else { 0 };
            // SAFETY: creates a new descriptor we own.
            let fd = unsafe { libc::inotify_init1(flags) };
            if fd < 0 {
                return Err(errno());
            }
            // SAFETY: just created and ours.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            files.handles.insert(Handle::Host { fd: Arc::new(fd), metadata: false }).map(|h| h as i64)
        }
        INOTIFY_ADD => {
            let instance = files.handles.shared_fd(args[1])?;
            let mask = u32::try_from(args[2]).map_err(|_| libc::EINVAL)?;
            let path = segs.path(0)?;
            let follow = mask & libc::IN_DONT_FOLLOW == 0;
            let Resolved::Host { parent, name, .. } = files.sandbox.resolve(&path, follow)? else {
                // A directory above the mounts exists only in the guest's view.
                return Err(libc::EACCES);
            };
            // `/proc/self/fd/N` is a symlink itself: always a component before
            // the last (`.` for the directory), never the one not followed.
            let mut at = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            at.extend_from_slice(name.as_ref().map_or(&b"."[..], |n| n.as_bytes()));
            let at = std::ffi::CString::new(at).map_err(|_| libc::EINVAL)?;
            // The sandbox followed what may be followed: the host never does.
            // SAFETY: adds a watch to an inotify instance we hold on a NUL-terminated path.
            let wd = unsafe { libc::inotify_add_watch(instance.as_raw_fd(), at.as_ptr(), mask | libc::IN_DONT_FOLLOW) };
            if wd < 0 {
                return Err(errno());
            }
            Ok(i64::from(wd))
        }
        INOTIFY_RM => {
            let instance = files.handles.shared_fd(args[1])?;
            let wd = i32::try_from(args[2]).map_err(|_| libc::EINVAL)?;
            // SAFETY: removes a watch from an inotify instance we hold.
            if unsafe { libc::inotify_rm_watch(instance.as_raw_fd(), wd) } < 0 {
                return Err(errno());
            }
            Ok(0)
        }
        _ => Err(libc::EINVAL),
    }
}
