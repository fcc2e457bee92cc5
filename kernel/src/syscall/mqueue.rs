//! POSIX message queues: the host's, in the IPC namespace of the `hx-run`
//! tree (`op::MQUEUE`, as System V IPC), so every guest process — each its
//! own VM — opens the same queues by name. A queue descriptor is a host
//! file (read, polled, closed, inherited as one). This side checks what
//! Linux checks before the queue is reached (timeouts, priorities, sizes),
//! copies the messages, and waits for a full or empty queue by polling its
//! descriptor: the monitor never waits.
use super::{poll, sysv, Args};
use crate::errno::{Errno, SysResult, EBADF, EINVAL, EMSGSIZE, ERESTARTSYS, ETIMEDOUT};
use crate::fs::{table, Kind, OpenFile};
use crate::{host, mm};
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use hx_abi::hypercall::{
    op, Request, MQ_ATTR, MQ_ATTR_SIZE, MQ_NOTIFY, MQ_NOTIFY_KERNEL, MQ_NOTIFY_NONE, MQ_NOTIFY_OFF, MQ_OPEN,
    MQ_RECEIVE, MQ_SEND, MQ_UNLINK,
};
use spin::Mutex;

/// Linux's `MQ_PRIO_MAX`: priorities are below it.
const MQ_PRIO_MAX: u64 = 32768;
const O_CLOEXEC: u64 = 0o2000000;
/// The open flags a queue takes (others are ignored, as Linux does).
const OPEN_FLAGS: u64 = 0o3 | 0o100 | 0o200 | 0o4000; // access mode, O_CREAT, O_EXCL, O_NONBLOCK
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;

/// Each open queue's message size (fixed when the queue is made): sends
/// and receives check it as Linux does before they copy anything.
static MESSAGE_SIZES: Mutex<Vec<(Weak<OpenFile>, u64)>> = Mutex::new(Vec::new());

/// The host handle of the queue descriptor `fd` (EBADF for anything else).
fn queue(fd: u64) -> Result<(Arc<OpenFile>, u64), Errno> {
    let file = table::get(fd)?;
    match file.kind {
        Kind::Host(h) => Ok((file.clone(), h)),
        _ => Err(EBADF),
    }
}

/// The queue's attributes (`mq_flags`, `mq_maxmsg`, `mq_msgsize`, `mq_curmsgs`),
/// setting `new`'s `O_NONBLOCK` first if given.
fn attributes(handle: u64, new: Option<&[u8; MQ_ATTR_SIZE]>) -> Result<[i64; 4], Errno> {
    let mut old = [0u8; MQ_ATTR_SIZE];
    let mut req = Request::new(op::MQUEUE);
    req.args[..3].copy_from_slice(&[MQ_ATTR, handle, new.is_some() as u64]);
    req.args[6] = sysv::who();
    req.segs[0] = host::kernel_segment(old.as_mut_ptr() as u64, old.len());
    req.nsegs = 1;
    if let Some(n) = new {
        req.segs[1] = host::kernel_segment(n.as_ptr() as u64, n.len());
        req.nsegs = 2;
    }
    host::result(host::call(&mut req))?;
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&old[i * 8..i * 8 + 8]);
        i64::from_ne_bytes(b)
    };
    Ok([word(0), word(1), word(2), word(3)])
}

/// The message size of the queue open as `file` (asked once per description).
fn message_size(file: &Arc<OpenFile>, handle: u64) -> Result<u64, Errno> {
    let mut sizes = MESSAGE_SIZES.lock();
    sizes.retain(|(f, _)| f.strong_count() > 0);
    if let Some((_, size)) = sizes.iter().find(|(f, _)| core::ptr::eq(f.as_ptr(), Arc::as_ptr(file))) {
        return Ok(*size);
    }
    drop(sizes);
    let size = attributes(handle, None)?[2].max(0) as u64;
    MESSAGE_SIZES.lock().push((Arc::downgrade(file), size));
    Ok(size)
}

/// An absolute `CLOCK_REALTIME` timeout (ns), checked as Linux checks it
/// before anything else; None when the caller gave none.
fn deadline(timeout: u64) -> Result<Option<u64>, Errno> {
    if timeout == 0 {
        return Ok(None);
    }
    super::time::read_timespec(timeout).map(Some)
}

/// Waits until `fd` has `events` or the deadline passes (`ETIMEDOUT`).
fn wait(fd: u64, events: i16, deadline: Option<u64>) -> Result<(), Errno> {
    let timeout_ms = match deadline {
        None => -1,
        Some(d) => {
            let now = crate::time::realtime_ns();
            if now >= d {
                return Err(ETIMEDOUT);
            }
            // The realtime clock may be set meanwhile: look again at least every second.
            ((d - now).div_ceil(1_000_000)).min(1000) as i64
        }
    };
    let mut fds = [poll::PollFd { fd: fd as i32, events, ..Default::default() }];
    match poll::poll_core(&mut fds, timeout_ms) {
        Ok(_) => Ok(()),
        Err(e) if e == crate::errno::ERESTARTNOHAND => Err(ERESTARTSYS),
        Err(e) => Err(e),
    }
}

pub fn mq_open([name, oflag, mode, attr, ..]: Args) -> SysResult {
    let name = crate::fs::path::read(name)?;
    let mut given = [0u8; MQ_ATTR_SIZE];
    if attr != 0 {
        mm::copy_from_user(attr, &mut given)?;
    }
    let mode = mode & 0o777 & !(super::path::current_umask() as u64);
    let args = [MQ_OPEN, oflag & OPEN_FLAGS, mode, (attr != 0) as u64, 0, 0, sysv::who()];
    let ins: &[&[u8]] = if attr != 0 { &[&name, &given] } else { &[&name] };
    let handle = host::path_request(op::MQUEUE, &args, ins, &mut []).0?;
    let file = OpenFile::new(Kind::Host(handle), (oflag & (3 | 0o4000)) as u32, Vec::new());
    table::install(Arc::new(file), oflag & O_CLOEXEC != 0)
}

pub fn mq_unlink([name, ..]: Args) -> SysResult {
    let name = crate::fs::path::read(name)?;
    host::path_request(op::MQUEUE, &[MQ_UNLINK, 0, 0, 0, 0, 0, sysv::who()], &[&name], &mut []).0
}

pub fn mq_timedsend([mqd, msg, len, prio, timeout, ..]: Args) -> SysResult {
    let deadline = deadline(timeout)?;
    if prio >= MQ_PRIO_MAX {
        return Err(EINVAL);
    }
    let (file, handle) = queue(mqd)?;
    if len > message_size(&file, handle)? {
        return Err(EMSGSIZE);
    }
    let mut bytes = vec![0u8; len as usize];
    mm::copy_from_user(msg, &mut bytes)?;
    loop {
        let args = [MQ_SEND, handle, prio, 0, 0, 0, sysv::who()];
        match host::path_request(op::MQUEUE, &args, &[&bytes], &mut []).0 {
            Err(ETIMEDOUT) => wait(mqd, 0x4 /* POLLOUT */, deadline)?,
            r => return r,
        }
    }
}

pub fn mq_timedreceive([mqd, msg, len, prio_out, timeout, ..]: Args) -> SysResult {
    let deadline = deadline(timeout)?;
    let (file, handle) = queue(mqd)?;
    let size = message_size(&file, handle)?;
    if len < size {
        return Err(EMSGSIZE);
    }
    let mut bytes = vec![0u8; size as usize];
    loop {
        let args = [MQ_RECEIVE, handle, 0, 0, 0, 0, sysv::who()];
        match host::path_request(op::MQUEUE, &args, &[], &mut [&mut bytes]) {
            (Err(ETIMEDOUT), _) => wait(mqd, poll::POLLIN, deadline)?,
            (Err(e), _) => return Err(e),
            (Ok(n), out) => {
                // Received: a bad buffer loses the message, as on Linux.
                if prio_out != 0 {
                    mm::write_user(prio_out, &(out[2] as u32))?;
                }
                mm::copy_to_user(msg, &bytes[..n as usize])?;
                return Ok(n);
            }
        }
    }
}

/// A notification this process registered for the queue of `handle`.
struct Notification {
    handle: u64,
    how: How,
}

enum How {
    /// `SIGEV_SIGNAL`: the signal and the value it comes with.
    Signal { signo: u32, value: u64 },
    /// `SIGEV_THREAD` as glibc asks for it: the cookie goes to its netlink
    /// socket, its last byte saying why (`NOTIFY_WOKENUP`, `NOTIFY_REMOVED`).
    Thread { socket: Arc<super::netlink::Netlink>, cookie: [u8; NOTIFY_COOKIE_LEN] },
}

/// Linux's `NOTIFY_COOKIE_LEN` and the reasons in a cookie's last byte.
const NOTIFY_COOKIE_LEN: usize = 32;
const NOTIFY_WOKENUP: u8 = 1;
const NOTIFY_REMOVED: u8 = 2;

impl How {
    /// The registration ends: a thread's cookie says so (`NOTIFY_REMOVED`).
    fn removed(self) {
        if let How::Thread { socket, mut cookie } = self {
            cookie[NOTIFY_COOKIE_LEN - 1] = NOTIFY_REMOVED;
            socket.deliver(cookie.to_vec());
        }
    }
}

/// The notifications by signal this process registered (the host tells the
/// monitor; the kernel signals the program).
static NOTIFICATIONS: Mutex<Vec<Notification>> = Mutex::new(Vec::new());

/// Whether a notification by signal may come (`lease::on_host_events` asks the monitor then).
pub fn notifications_active() -> bool {
    !NOTIFICATIONS.lock().is_empty()
}

/// The host notified queue `handle` (a message arrived in it while empty),
/// sent by guest process `pid` (0: outside the guest) of real uid `uid`:
/// the registration is used up, and the program gets its signal with
/// `SI_MESGQ`, the sender and the value, as on Linux.
pub fn notified(handle: u64, pid: u32, uid: u32) {
    let found = {
        let mut list = NOTIFICATIONS.lock();
        let at = list.iter().position(|n| n.handle == handle);
        at.map(|i| list.swap_remove(i))
    };
    match found.map(|n| n.how) {
        Some(How::Signal { signo, value }) => {
            crate::signal::send_process(crate::signal::Queued::mesgq(signo, pid as i32, uid, value));
        }
        Some(How::Thread { socket, mut cookie }) => {
            cookie[NOTIFY_COOKIE_LEN - 1] = NOTIFY_WOKENUP;
            socket.deliver(cookie.to_vec());
        }
        None => {}
    }
}

pub fn mq_notify([mqd, sevp, ..]: Args) -> SysResult {
    let mut how = None;
    let mode = if sevp == 0 {
        MQ_NOTIFY_OFF
    } else {
        let mut sev = [0u8; 16];
        mm::copy_from_user(sevp, &mut sev)?;
        let value = u64::from_ne_bytes(sev[..8].try_into().unwrap_or_default());
        let notify = i32::from_ne_bytes([sev[12], sev[13], sev[14], sev[15]]);
        let signo = i32::from_ne_bytes([sev[8], sev[9], sev[10], sev[11]]);
        match notify {
            SIGEV_NONE => MQ_NOTIFY_NONE,
            SIGEV_SIGNAL if !(1..=64).contains(&signo) => return Err(EINVAL),
            SIGEV_SIGNAL => {
                how = Some(How::Signal { signo: signo as u32, value });
                MQ_NOTIFY_KERNEL
            }
            SIGEV_THREAD => {
                // Linux's: the cookie at `sigev_value`, the netlink socket at
                // `sigev_signo`, which gets it when a message comes.
                let mut cookie = [0u8; NOTIFY_COOKIE_LEN];
                mm::copy_from_user(value, &mut cookie)?;
                let socket = match super::netlink::of(signo as u64) {
                    Some(s) => s,
                    None if table::get(signo as u64).is_err() => return Err(EBADF),
                    None => return Err(EINVAL),
                };
                how = Some(How::Thread { socket, cookie });
                MQ_NOTIFY_KERNEL
            }
            _ => return Err(EINVAL),
        }
    };
    let (_, handle) = queue(mqd)?;
    host::simple(op::MQUEUE, &[MQ_NOTIFY, handle, mode, 0, 0, 0, sysv::who()])?;
    let replaced = {
        let mut list = NOTIFICATIONS.lock();
        let at = list.iter().position(|n| n.handle == handle);
        let replaced = at.map(|i| list.swap_remove(i).how);
        if let Some(how) = how {
            list.push(Notification { handle, how });
        }
        replaced
    };
    if let Some(old) = replaced {
        old.removed();
    }
    Ok(0)
}

pub fn mq_getsetattr([mqd, new, old, ..]: Args) -> SysResult {
    let mut given = [0u8; MQ_ATTR_SIZE];
    if new != 0 {
        mm::copy_from_user(new, &mut given)?;
    }
    let (_, handle) = queue(mqd)?;
    let attrs = attributes(handle, (new != 0).then_some(&given))?;
    if old != 0 {
        let mut bytes = [0u8; MQ_ATTR_SIZE];
        for (i, a) in attrs.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&a.to_ne_bytes());
        }
        mm::write_user(old, &bytes)?;
    }
    Ok(0)
}
