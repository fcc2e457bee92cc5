//! pidfds (`pidfd_open`): a descriptor naming a process of the tree. It
//! polls readable once the process has ended, signals it
//! (`pidfd_send_signal`) and waits for it (`waitid(P_PIDFD)`). Whether a
//! process ended is the monitors' process table's to say (`PGRP_ENDED`);
//! a child's end wakes pollers at once, another process's is seen by
//! looking again every `RELOOK_NS` while a pidfd is polled.
use super::anon::{self, Anon, POLLIN};
use super::{table, Kind, O_CLOEXEC, O_NONBLOCK};
use crate::errno::{Errno, SysResult, EBADF, EINVAL};
use crate::host;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};
use hx_abi::hypercall::{op, PGRP_ENDED, PGRP_GET};

/// How often a poll that holds a pidfd looks again on its own.
pub const RELOOK_NS: u64 = 10_000_000;

pub struct PidFd {
    pub pid: i32,
}

/// pidfds the process holds: a poll looks for one among its descriptors
/// only when there is any (the look is on every poll's path).
static LIVE: AtomicUsize = AtomicUsize::new(0);

impl PidFd {
    fn new(pid: i32) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self { pid }
    }

    /// Whether the process has ended: a zombie, or reaped since.
    pub fn ended(&self) -> bool {
        if self.pid as u64 == crate::syscall::process::pid() {
            return false;
        }
        !matches!(host::simple(op::PGRP, &[PGRP_ENDED, self.pid as u64]), Ok(0))
    }

    pub fn readiness(&self) -> i16 {
        if self.ended() {
            POLLIN
        } else {
            0
        }
    }

    /// Edge-triggered epoll: the end is the one event.
    pub fn edges(&self) -> u64 {
        u64::from(self.ended())
    }
}

impl Drop for PidFd {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether `fds` hold a pidfd, which a poll must look at again on its own.
pub fn among(fds: impl Iterator<Item = i32>) -> bool {
    LIVE.load(Ordering::Relaxed) > 0 && fds.into_iter().any(|fd| target(fd as u64).is_ok())
}

/// `pidfd_open`: a running process or a zombie, named by its pid (a thread
/// that is not its process's first is EINVAL, as on Linux without
/// PIDFD_THREAD). Always close-on-exec.
pub fn pidfd_open([pid, flags, ..]: crate::syscall::Args) -> SysResult {
    let pid = pid as i64;
    if flags & !(O_NONBLOCK as u64) != 0 || pid <= 0 || pid > i32::MAX as i64 {
        return Err(EINVAL);
    }
    let me = crate::syscall::process::pid() as i64;
    if pid != me {
        if crate::sched::thread(pid as u32).is_some() {
            return Err(EINVAL);
        }
        // The process group query fails with ESRCH for a pid no process has.
        host::simple(op::PGRP, &[PGRP_GET, pid as u64])?;
    }
    anon::install(Anon::Pid(Arc::new(PidFd::new(pid as i32))), flags | O_CLOEXEC as u64)
}

/// Whether process `pid` of another VM still runs (not a zombie, not reaped).
pub fn alive(pid: i32) -> bool {
    matches!(host::simple(op::PGRP, &[PGRP_ENDED, pid as u64]), Ok(0))
}

/// `process_mrelease(pidfd, flags)`: Linux frees a dying process's memory
/// early. Only a process that has been killed and is ending qualifies: a
/// running one is `EINVAL`; one that ended (its memory already gone with
/// its VM) is `ESRCH`, as for a process whose memory is gone.
pub fn process_mrelease([pidfd, flags, ..]: crate::syscall::Args) -> SysResult {
    if flags != 0 {
        return Err(EINVAL);
    }
    let (pid, _) = target(pidfd)?;
    if pid as u64 == crate::syscall::process::pid() || alive(pid) {
        return Err(EINVAL);
    }
    Err(crate::errno::ESRCH)
}

/// The process pidfd `fd` names (EBADF for any other descriptor), and
/// whether the descriptor is non-blocking.
pub fn target(fd: u64) -> Result<(i32, bool), Errno> {
    let file = table::get(fd)?;
    match &file.kind {
        Kind::Anon(Anon::Pid(p)) => Ok((p.pid, file.status() & O_NONBLOCK != 0)),
        _ => Err(EBADF),
    }
}

/// `pidfd_getfd(pidfd, targetfd, flags)`: a copy of the process's
/// descriptor, close-on-exec. The caller's own process is served; another
/// one is another VM whose files this kernel does not hold (`EPERM`, as
/// for a process the caller may not trace).
pub fn pidfd_getfd([pidfd, targetfd, flags, ..]: crate::syscall::Args) -> crate::errno::SysResult {
    if flags != 0 {
        return Err(crate::errno::EINVAL);
    }
    let (pid, _) = target(pidfd)?;
    if pid as u64 != crate::syscall::process::pid() {
        return Err(crate::errno::EPERM);
    }
    let file = table::get(targetfd)?;
    table::install(file, true)
}

/// The process a `/proc/<pid>` directory descriptor names: Linux's
/// `pidfd_send_signal` takes one as it takes a pidfd.
fn proc_dir_pid(fd: u64) -> Option<i32> {
    let file = table::get(fd).ok()?;
    if !matches!(file.kind, Kind::Generated(_)) {
        return None;
    }
    let digits = file.path.strip_prefix(b"/proc/")?;
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || digits.len() > 9 {
        return None;
    }
    Some(digits.iter().fold(0i32, |n, d| n * 10 + i32::from(d - b'0')))
}

/// `pidfd_send_signal`: `kill` of the pidfd's process (a zombie takes it
/// too; one reaped is ESRCH). A `siginfo` is delivered as
/// `rt_sigqueueinfo` delivers one: to the caller itself only.
pub fn pidfd_send_signal([fd, sig, info, flags, ..]: crate::syscall::Args) -> SysResult {
    if flags != 0 {
        return Err(EINVAL);
    }
    let pid = target(fd).map(|(pid, _)| pid).or_else(|e| proc_dir_pid(fd).ok_or(e))?;
    if pid as u64 != crate::syscall::process::pid() {
        host::simple(op::PGRP, &[PGRP_ENDED, pid as u64])?;
    }
    if info != 0 {
        // Unlike rt_sigqueueinfo, the siginfo must name the signal sent.
        let signo: i32 = crate::mm::read_user(info)?;
        if signo as i64 as u64 != sig {
            return Err(EINVAL);
        }
        return crate::syscall::signal::rt_sigqueueinfo([pid as u64, sig, info, 0, 0, 0]);
    }
    crate::syscall::signal::kill([pid as u64, sig, 0, 0, 0, 0])
}
