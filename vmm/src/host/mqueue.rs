//! `op::MQUEUE`: POSIX message queues. They are the host kernel's, in the
//! tree's own IPC namespace (the one System V IPC uses, `sysv.rs`): every
//! guest process of the tree — each its own VM — opens the same queues by
//! name, and Linux's semantics (names, permissions and owners made as the
//! guest's ids, attributes, priorities, limits, one registered notifier)
//! come with them, none of the host's queues in reach.
//!
//! Everything from the guest is checked: names (bounded, no NUL), open
//! flags against an allow-list, message sizes bounded before anything is
//! allocated, handles through the handle table. Nothing waits here: a call
//! that would block gets `ETIMEDOUT` (an already expired timeout), and the
//! guest polls the queue's handle before it tries again.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::files::Files;
use super::guest::Segs;
use super::handles::Handle;
use super::sysv::{self, AsGuest};
use crate::sandbox::Errno;
use hx_abi::hypercall::{
    Request, MQ_ATTR, MQ_ATTR_SIZE, MQ_NOTIFY, MQ_NOTIFY_KERNEL, MQ_NOTIFY_NONE, MQ_NOTIFY_OFF, MQ_OPEN, MQ_RECEIVE,
    MQ_SEND, MQ_UNLINK,
};
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};

/// Linux's largest message (`HARD_MSGSIZEMAX`): no queue takes more.
const MAX_MESSAGE: usize = 16 << 20;
/// Linux's `NAME_MAX`: a longer name is `ENAMETOOLONG` there too.
const NAME_MAX: usize = 255;

/// Why every message queue call is `ENOSYS` without the tree's own IPC namespace.
pub const UNAVAILABLE: &str =
    "POSIX message queues (mq_*) are ENOSYS: they need a private IPC namespace, which only root can make; start hx-run as root (and use --user to run as another user)";

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn check(r: libc::c_long) -> Result<i64, Errno> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

/// The queue name in segment 0, as the host takes it.
fn name(segs: &Segs) -> Result<CString, Errno> {
    let n = segs.bytes(0, NAME_MAX + 1, libc::ENAMETOOLONG)?;
    CString::new(n).map_err(|_| libc::EINVAL)
}

/// The message buffer: segment 0 alone, in guest RAM, at most Linux's
/// largest message (the host reads or writes it in place: no copy, no
/// allocation sized by the guest).
fn message(segs: &Segs) -> Result<libc::iovec, Errno> {
    let seg = segs.get(0).ok_or(libc::EINVAL)?;
    if segs.len() != 1 || seg.len > MAX_MESSAGE as u64 {
        return Err(libc::EMSGSIZE);
    }
    segs.iovecs()?.first().copied().ok_or(libc::EINVAL)
}

/// A past timeout: the host answers at once, `ETIMEDOUT` where it would wait.
const NOW: libc::timespec = libc::timespec { tv_sec: 0, tv_nsec: 0 };

/// `op::MQUEUE` (see `hx_abi::hypercall::op::MQUEUE`).
pub fn serve(
    files: &mut Files,
    watch: Option<&crate::watch::Watcher>,
    req: &mut Request,
    segs: &Segs,
) -> Result<i64, Errno> {
    if !sysv::available() {
        return Err(libc::ENOSYS);
    }
    let a = req.args;
    let _as_guest = AsGuest::switch(a[6]);
    // Any handle that is no queue is EBADF, as Linux answers (the host says
    // so for files; a directory's handle has no descriptor to ask with).
    let fd = |files: &Files| files.handles.fd(a[1]).map_err(|_| libc::EBADF);
    match a[0] {
        MQ_OPEN => {
            let allowed = (libc::O_ACCMODE | libc::O_CREAT | libc::O_EXCL | libc::O_NONBLOCK) as u64;
            if a[1] & !allowed != 0 {
                return Err(libc::EINVAL);
            }
            let name = name(segs)?;
            let mut attr = [0u8; MQ_ATTR_SIZE];
            let attr_ptr = if a[3] == 1 {
                let given = segs.bytes(1, MQ_ATTR_SIZE, libc::EINVAL)?;
                attr.get_mut(..given.len()).ok_or(libc::EINVAL)?.copy_from_slice(&given);
                attr.as_ptr()
            } else {
                std::ptr::null()
            };
            files.handles.room()?;
            let flags = a[1] as libc::c_int | libc::O_CLOEXEC;
            let mode = (a[2] & 0o777) as libc::mode_t;
            // SAFETY: a NUL-terminated name, allow-listed flags, and an
            // mq_attr of ours (or null); the result is a new descriptor.
            let r = check(unsafe { libc::syscall(libc::SYS_mq_open, name.as_ptr(), flags, mode, attr_ptr) })?;
            // SAFETY: mq_open returned a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(r as i32) };
            files.handles.insert(Handle::Host { fd: std::sync::Arc::new(fd), metadata: false }).map(|h| h as i64)
        }
        MQ_UNLINK => {
            let name = name(segs)?;
            // SAFETY: a NUL-terminated name.
            check(unsafe { libc::syscall(libc::SYS_mq_unlink, name.as_ptr()) })
        }
        MQ_SEND => {
            let fd = fd(files)?;
            let prio = u32::try_from(a[2]).map_err(|_| libc::EINVAL)?;
            let msg = message(segs)?;
            // SAFETY: `msg` is guest RAM checked by `message` (the host only
            // reads it); our timespec. The host checks the descriptor is a
            // queue open for writing and the size against the queue's.
            check(unsafe { libc::syscall(libc::SYS_mq_timedsend, fd, msg.iov_base, msg.iov_len, prio, &NOW) })
        }
        MQ_RECEIVE => {
            let fd = fd(files)?;
            let buf = message(segs)?;
            let mut prio: libc::c_uint = 0;
            // SAFETY: `buf` is guest RAM checked by `message`, which the host
            // writes at most `iov_len` bytes of; our priority word and timespec.
            let n = check(unsafe {
                libc::syscall(libc::SYS_mq_timedreceive, fd, buf.iov_base, buf.iov_len, &mut prio, &NOW)
            })?;
            req.args[2] = u64::from(prio);
            Ok(n)
        }
        MQ_ATTR => {
            let fd = fd(files)?;
            let new = if a[2] == 1 {
                let given = segs.bytes(1, MQ_ATTR_SIZE, libc::EINVAL)?;
                let mut attr = [0u8; MQ_ATTR_SIZE];
                attr.get_mut(..given.len()).ok_or(libc::EINVAL)?.copy_from_slice(&given);
                Some(attr)
            } else {
                None
            };
            let mut old = [0u8; MQ_ATTR_SIZE];
            let new_ptr = new.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
            // SAFETY: two mq_attr buffers of ours (the new one may be null).
            check(unsafe { libc::syscall(libc::SYS_mq_getsetattr, fd, new_ptr, old.as_mut_ptr()) })?;
            segs.write(0, &old)?;
            Ok(0)
        }
        MQ_NOTIFY => {
            let fd = fd(files)?;
            // SAFETY: all-zero bytes are a valid sigevent (plain integers and a pointer).
            let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
            match a[2] {
                MQ_NOTIFY_NONE => sev.sigev_notify = libc::SIGEV_NONE,
                MQ_NOTIFY_KERNEL => {
                    // The host tells this monitor (its I/O signal, read from
                    // the same signalfd as lease breaks) with the handle as
                    // the value; the guest kernel signals or wakes as the
                    // program asked.
                    files.leases.listen(watch)?;
                    sev.sigev_notify = libc::SIGEV_SIGNAL;
                    sev.sigev_signo = super::io_signals::signal();
                    sev.sigev_value = libc::sigval { sival_ptr: a[1] as usize as *mut libc::c_void };
                }
                MQ_NOTIFY_OFF => {}
                _ => return Err(libc::EINVAL),
            }
            let sev = if a[2] == MQ_NOTIFY_OFF { std::ptr::null() } else { &sev as *const libc::sigevent };
            // SAFETY: a sigevent of ours (or null): no signal, or the monitor's own.
            check(unsafe { libc::syscall(libc::SYS_mq_notify, fd, sev) })
        }
        _ => Err(libc::EINVAL),
    }
}
