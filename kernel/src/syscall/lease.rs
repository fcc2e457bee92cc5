//! File leases (`F_SETLEASE`/`F_GETLEASE`): the host's, on the monitor's
//! descriptor (`op::LEASE`), so that any process opening the file — in
//! another VM or on the host — breaks the lease as on Linux. A break comes
//! as a host event; the kernel then asks which handles' leases broke and
//! sends the process the signal Linux sends the lease holder: `SIGIO`, or
//! the descriptor's `F_SETSIG` signal with `si_fd` (the descriptor the lease
//! was taken through) and `si_band`.
use crate::errno::{SysResult, EINVAL};
use crate::fs::{Kind, OpenFile};
use crate::host;
use crate::signal::Queued;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use hx_abi::hypercall::{op, Request, LEASE_BREAKS, LEASE_GET, LEASE_SET};
use spin::Mutex;

const F_UNLCK: u64 = 2;

/// A lease taken: through descriptor `fd` of `file`, on host `handle`.
struct Lease {
    fd: u64,
    file: Weak<OpenFile>,
    handle: u64,
}

static LEASES: Mutex<Vec<Lease>> = Mutex::new(Vec::new());
/// Some lease is held (host events then ask for breaks).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// `F_SETLEASE` on descriptor `fd`: only a host file can carry one (Linux:
/// regular files only, EINVAL otherwise); the host checks the rest (a read
/// lease on a file open for writing, a write lease on a file open elsewhere).
pub fn set(fd: u64, file: &Arc<OpenFile>, kind: u64) -> SysResult {
    let Kind::Host(handle) = file.kind else { return Err(EINVAL) };
    if kind > F_UNLCK {
        return Err(EINVAL);
    }
    host::simple(op::LEASE, &[LEASE_SET, handle, kind])?;
    let mut leases = LEASES.lock();
    leases.retain(|l| l.handle != handle && l.file.strong_count() > 0);
    if kind != F_UNLCK {
        leases.push(Lease { fd, file: Arc::downgrade(file), handle });
    }
    ACTIVE.store(!leases.is_empty(), Ordering::Release);
    Ok(0)
}

/// `F_GETLEASE`: the host file's lease, `F_UNLCK` for anything else.
pub fn get(file: &OpenFile) -> SysResult {
    match file.kind {
        Kind::Host(handle) => host::simple(op::LEASE, &[LEASE_GET, handle]),
        _ => Ok(F_UNLCK),
    }
}

/// Host events arrived: the signals the host sent the monitor for the
/// guest's files — lease breaks (`POLL_MSG` on a leased handle) and
/// `O_ASYNC`'s I/O signals (`super::fasync`) — reach the program.
pub fn on_host_events() {
    const POLL_MSG: i32 = 3;
    const SI_MESGQ: i32 = -3;
    if !ACTIVE.load(Ordering::Acquire) && !super::fasync::active() && !super::mqueue::notifications_active() {
        return;
    }
    // Pairs: handle, then si_code | si_band << 32.
    let mut records = [0u64; 128];
    let mut req = Request::new(op::LEASE);
    req.args[0] = LEASE_BREAKS;
    req.segs[0] = host::kernel_segment(records.as_mut_ptr() as u64, core::mem::size_of_val(&records));
    req.nsegs = 1;
    let Ok(n) = host::result(host::call(&mut req)) else { return };
    let n = (n as usize).min(records.len() / 2);
    for pair in records[..2 * n].chunks_exact(2) {
        let (handle, code, band) = (pair[0], pair[1] as u32 as i32, (pair[1] >> 32) as u32 as i64);
        if code == SI_MESGQ {
            // A message queue's notification: the sender's uid above the handle.
            super::mqueue::notified(handle & 0xffff_ffff, band as u32, (handle >> 32) as u32);
            continue;
        }
        let lease: Option<Queued> = {
            let mut leases = LEASES.lock();
            leases.retain(|l| l.file.strong_count() > 0);
            ACTIVE.store(!leases.is_empty(), Ordering::Release);
            leases
                .iter()
                .filter(|l| code == POLL_MSG && l.handle == handle)
                .find_map(|l| l.file.upgrade().map(|f| Queued::io_message(f.io_signal.load(Ordering::Relaxed), l.fd)))
        };
        match lease {
            Some(q) => crate::signal::send_process(q),
            None => super::fasync::host_event(handle, code, band),
        }
    }
}
