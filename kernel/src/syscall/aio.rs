//! Linux native AIO (`io_setup`, `io_submit`, `io_getevents`...). Linux
//! runs a buffered file's request inside `io_submit` too; here every
//! request runs there, as the matching `pread`/`pwrite`/`fsync` would, and
//! its completion lands in the context's ring at once — the ring Linux maps
//! into the process (`aio_context_t` is its address), which libaio reads.
//! `IOCB_CMD_POLL` is refused as by a kernel before 4.18 (EINVAL).
use super::Args;
use crate::errno::{Errno, SysResult, EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EOPNOTSUPP};
use crate::fs::table;
use crate::fs::{Kind, OpenFile};
use crate::mm;
use crate::sched::{self, Thread};
use alloc::sync::Arc;
use alloc::vec::Vec;
use spin::Mutex;

/// `struct aio_ring`'s header (then `struct io_event`s, 32 bytes each).
const RING_HEADER: u64 = 32;
const EVENT_SIZE: u64 = 32;
const AIO_RING_MAGIC: u32 = 0xa10a_10a1;
/// `fs.aio-max-nr`'s default: the most requests all contexts may ask for.
const AIO_MAX_NR: u64 = 65536;

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_CMD_FSYNC: u16 = 2;
const IOCB_CMD_FDSYNC: u16 = 3;
const IOCB_CMD_PREADV: u16 = 7;
const IOCB_CMD_PWRITEV: u16 = 8;
const IOCB_FLAG_RESFD: u32 = 1;
const IOCB_FLAG_IOPRIO: u32 = 2;
/// `aio_rw_flags` served: RWF_HIPRI (no effect here), RWF_DSYNC, RWF_SYNC.
const RWF_HIPRI: u32 = 1;
const RWF_DSYNC: u32 = 2;
const RWF_SYNC: u32 = 4;
/// `UIO_MAXIOV`.
const MAX_IOV: u64 = 1024;

/// `struct iocb`, as the program lays it out.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Iocb {
    data: u64,
    key: u32,
    rw_flags: u32,
    opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Event {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

struct Context {
    /// The ring's address: the context's id.
    ring: u64,
    /// Events the ring holds (one slot always stays free).
    nr: u64,
    /// Where the next event goes (the program may move `head`, never this).
    tail: u64,
    /// What `io_setup` asked for, counted against `AIO_MAX_NR`.
    max_reqs: u64,
    waiters: Vec<Arc<Thread>>,
}

static CONTEXTS: Mutex<Vec<Context>> = Mutex::new(Vec::new());

/// A forked child has none of its parent's contexts (Linux does not copy
/// the rings' mappings either).
pub fn after_fork() {
    let rings: Vec<(u64, u64)> = CONTEXTS.lock().drain(..).map(|c| (c.ring, ring_bytes(c.nr))).collect();
    for (ring, len) in rings {
        let _ = super::mm::munmap([ring, len, 0, 0, 0, 0]);
    }
}

fn ring_bytes(nr: u64) -> u64 {
    hx_abi::layout::align_up(RING_HEADER + nr * EVENT_SIZE, hx_abi::layout::PAGE_SIZE)
}

/// The ring's `head`, as the program left it (in range).
fn head(c: &Context) -> Result<u64, Errno> {
    let head: u32 = mm::read_user(c.ring + 8)?;
    Ok(u64::from(head) % c.nr)
}

/// Events in the ring not yet taken.
fn queued(c: &Context) -> Result<u64, Errno> {
    Ok((c.tail + c.nr - head(c)?) % c.nr)
}

pub fn io_setup([nr_events, ctxp, ..]: Args) -> SysResult {
    let nr_events = nr_events as u32 as u64;
    let current: u64 = mm::read_user(ctxp)?;
    if current != 0 || nr_events == 0 {
        return Err(EINVAL);
    }
    // Linux doubles the count (and keeps at least 4 per possible CPU), in
    // 32 bits: a count from 2^31 up wraps.
    let cpus = crate::boot_info().ncpus.clamp(1, 1 << 16) as u32;
    let doubled = u64::from((nr_events as u32).max(cpus * 4).wrapping_mul(2));
    if doubled > 0x1000_0000 / EVENT_SIZE {
        return Err(EINVAL);
    }
    let mut contexts = CONTEXTS.lock();
    let asked: u64 = contexts.iter().map(|c| c.max_reqs).sum();
    if doubled == 0 || nr_events > AIO_MAX_NR || asked + nr_events > AIO_MAX_NR {
        return Err(EAGAIN);
    }
    let len = ring_bytes(doubled);
    let nr = (len - RING_HEADER) / EVENT_SIZE;
    const PROT_RW: u64 = 3;
    const MAP_PRIVATE_ANON: u64 = 0x22;
    let ring = super::mm::mmap([0, len, PROT_RW, MAP_PRIVATE_ANON, u64::MAX, 0])?;
    let header: [u32; 8] = [u32::MAX, nr as u32, 0, 0, AIO_RING_MAGIC, 1, 0, RING_HEADER as u32];
    let written = mm::write_user(ring, &header).and_then(|()| mm::write_user(ctxp, &ring));
    if let Err(e) = written {
        let _ = super::mm::munmap([ring, len, 0, 0, 0, 0]);
        return Err(e);
    }
    contexts.push(Context { ring, nr, tail: 0, max_reqs: nr_events, waiters: Vec::new() });
    Ok(0)
}

pub fn io_destroy([ctx, ..]: Args) -> SysResult {
    let c = {
        let mut contexts = CONTEXTS.lock();
        let i = contexts.iter().position(|c| c.ring == ctx).ok_or(EINVAL)?;
        contexts.remove(i)
    };
    // Threads waiting in io_getevents on it see it gone.
    crate::fs::anon::wake(c.waiters);
    let _ = super::mm::munmap([c.ring, ring_bytes(c.nr), 0, 0, 0, 0]);
    Ok(0)
}

pub fn io_submit([ctx, nr, iocbpp, ..]: Args) -> SysResult {
    if (nr as i64) < 0 {
        return Err(EINVAL);
    }
    let slots = {
        let contexts = CONTEXTS.lock();
        let c = contexts.iter().find(|c| c.ring == ctx).ok_or(EINVAL)?;
        c.nr
    };
    let nr = nr.min(slots);
    let mut done = 0;
    let mut err = None;
    for i in 0..nr {
        let submitted = mm::read_user::<u64>(iocbpp + 8 * i).and_then(|user_iocb| submit_one(ctx, user_iocb));
        match submitted {
            Ok(()) => done += 1,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    match (done, err) {
        (0, Some(e)) => Err(e),
        _ => Ok(done),
    }
}

/// Checks one request, runs it and posts its completion.
fn submit_one(ctx: u64, user_iocb: u64) -> Result<(), Errno> {
    let iocb: Iocb = mm::read_user(user_iocb)?;
    if iocb.reserved2 != 0 || (iocb.nbytes as i64) < 0 {
        return Err(EINVAL);
    }
    // A free slot in the ring (one always stays free).
    {
        let contexts = CONTEXTS.lock();
        let c = contexts.iter().find(|c| c.ring == ctx).ok_or(EINVAL)?;
        if queued(c)? + 1 >= c.nr {
            return Err(EAGAIN);
        }
    }
    let file = table::get(u64::from(iocb.fildes))?;
    let resfd = if iocb.flags & IOCB_FLAG_RESFD != 0 { Some(eventfd(iocb.resfd)?) } else { None };
    // IOCB_FLAG_IOPRIO is taken: a priority has no effect in the guest.
    if iocb.flags & !(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO) != 0 {
        return Err(EINVAL);
    }
    mm::write_user(user_iocb + 8, &0u32)?; // aio_key: KIOCB_KEY
    let res = run(&file, &iocb)?;
    let event = Event { data: iocb.data, obj: user_iocb, res, res2: 0 };
    post(ctx, &event)?;
    if let Some(e) = resfd {
        e.signal(1);
    }
    Ok(())
}

fn eventfd(fd: u32) -> Result<Arc<crate::fs::eventfd::EventFd>, Errno> {
    match &table::get(u64::from(fd))?.kind {
        Kind::Anon(crate::fs::anon::Anon::Event(e)) => Ok(Arc::clone(e)),
        _ => Err(EINVAL),
    }
}

/// Runs the request: `Err` is io_submit's error (a request it refuses),
/// `Ok` the completion's result (bytes, or a negative errno).
fn run(file: &OpenFile, iocb: &Iocb) -> Result<i64, Errno> {
    let result = |r: SysResult| match r {
        Ok(n) => n as i64,
        Err(e) => -e.0,
    };
    match iocb.opcode {
        IOCB_CMD_PREAD | IOCB_CMD_PWRITE | IOCB_CMD_PREADV | IOCB_CMD_PWRITEV => {
            let write = matches!(iocb.opcode, IOCB_CMD_PWRITE | IOCB_CMD_PWRITEV);
            if iocb.rw_flags & !(RWF_HIPRI | RWF_DSYNC | RWF_SYNC) != 0 {
                return Err(EOPNOTSUPP);
            }
            if write { file.writable() } else { file.readable() }.map_err(|_| EBADF)?;
            if iocb.offset < 0 {
                return Err(EINVAL);
            }
            let vectored = matches!(iocb.opcode, IOCB_CMD_PREADV | IOCB_CMD_PWRITEV);
            if vectored && iocb.nbytes > MAX_IOV {
                return Err(EINVAL);
            }
            let args = [u64::from(iocb.fildes), iocb.buf, iocb.nbytes, iocb.offset as u64, 0, 0];
            // Streams (pipes, sockets) ignore the offset, as in Linux.
            let at = |f: fn(Args) -> SysResult, stream: fn(Args) -> SysResult| match f(args) {
                Err(crate::errno::ESPIPE) => stream(args),
                r => r,
            };
            let r = match (write, vectored) {
                (false, false) => at(super::fs::pread64, super::fs::read),
                (true, false) => at(super::fs::pwrite64, super::fs::write),
                (false, true) => at(super::fs::preadv, super::fs::readv),
                (true, true) => at(super::fs::pwritev, super::fs::writev),
            };
            if write && r.is_ok() && iocb.rw_flags & (RWF_DSYNC | RWF_SYNC) != 0 {
                let sync = if iocb.rw_flags & RWF_SYNC != 0 { super::fs::fsync } else { super::fs::fdatasync };
                if let Err(e) = sync(args) {
                    return Ok(-e.0);
                }
            }
            Ok(result(r))
        }
        IOCB_CMD_FSYNC | IOCB_CMD_FDSYNC => {
            if iocb.buf != 0 || iocb.offset != 0 || iocb.nbytes != 0 || iocb.rw_flags != 0 {
                return Err(EINVAL);
            }
            if !matches!(file.kind, Kind::Host(_)) {
                return Err(EINVAL);
            }
            let sync = if iocb.opcode == IOCB_CMD_FSYNC { super::fs::fsync } else { super::fs::fdatasync };
            Ok(result(sync([u64::from(iocb.fildes), 0, 0, 0, 0, 0])))
        }
        _ => Err(EINVAL),
    }
}

/// Puts a completion in the ring and wakes the threads waiting for one.
fn post(ctx: u64, event: &Event) -> Result<(), Errno> {
    let mut contexts = CONTEXTS.lock();
    // The context may have gone meanwhile (io_destroy in another thread).
    let Some(c) = contexts.iter_mut().find(|c| c.ring == ctx) else { return Ok(()) };
    mm::write_user(c.ring + RING_HEADER + c.tail * EVENT_SIZE, event)?;
    c.tail = (c.tail + 1) % c.nr;
    mm::write_user(c.ring + 12, &(c.tail as u32))?;
    let woken = core::mem::take(&mut c.waiters);
    drop(contexts);
    crate::fs::anon::wake(woken);
    Ok(())
}

pub fn io_getevents([ctx, min_nr, nr, events, timeout, _]: Args) -> SysResult {
    getevents(ctx, min_nr, nr, events, timeout)
}

pub fn io_pgetevents([ctx, min_nr, nr, events, timeout, usig]: Args) -> SysResult {
    // `struct __aio_sigset { const sigset_t *sigmask; size_t sigsetsize; }`.
    let (mask, size) = if usig == 0 { (0, 8) } else { (mm::read_user::<u64>(usig)?, mm::read_user::<u64>(usig + 8)?) };
    super::poll::with_mask(mask, size, || getevents(ctx, min_nr, nr, events, timeout))
}

fn getevents(ctx: u64, min_nr: u64, nr: u64, events: u64, timeout: u64) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        let ts: [i64; 2] = mm::read_user(timeout)?;
        let ns = ts[0].max(0) as u64 * 1_000_000_000 + ts[1].max(0) as u64;
        Some(crate::time::monotonic_ns().saturating_add(ns))
    };
    let (min_nr, nr) = (min_nr as i64, nr as i64);
    if !CONTEXTS.lock().iter().any(|c| c.ring == ctx) || min_nr > nr || min_nr < 0 {
        return Err(EINVAL);
    }
    let mut got = 0i64;
    loop {
        got += take(ctx, (nr - got) as u64, events + got as u64 * EVENT_SIZE)? as i64;
        if got >= min_nr || deadline.is_some_and(|d| crate::time::monotonic_ns() >= d) {
            return Ok(got as u64);
        }
        if crate::signal::pending() {
            return if got > 0 { Ok(got as u64) } else { Err(EINTR) };
        }
        {
            let mut contexts = CONTEXTS.lock();
            let Some(c) = contexts.iter_mut().find(|c| c.ring == ctx) else { return Ok(got as u64) };
            // A completion that came since `take` looked: no wait.
            if queued(c)? > 0 {
                continue;
            }
            c.waiters.push(sched::current_arc());
        }
        sched::block(deadline);
    }
}

/// Copies up to `max` events from the ring to `out`; returns how many.
fn take(ctx: u64, max: u64, out: u64) -> Result<u64, Errno> {
    let contexts = CONTEXTS.lock();
    let Some(c) = contexts.iter().find(|c| c.ring == ctx) else { return Ok(0) };
    let mut head = head(c)?;
    let mut n = 0;
    while n < max && head != c.tail {
        let e: Event = mm::read_user(c.ring + RING_HEADER + head * EVENT_SIZE)?;
        if let Err(err) = mm::write_user(out + n * EVENT_SIZE, &e) {
            if n == 0 {
                return Err(err);
            }
            break;
        }
        head = (head + 1) % c.nr;
        n += 1;
    }
    mm::write_user(c.ring + 8, &(head as u32))?;
    Ok(n)
}

/// Every request completes in `io_submit`: none is left to cancel (Linux's
/// answer for a request that completed).
pub fn io_cancel([ctx, iocb, _result, ..]: Args) -> SysResult {
    let key: u32 = mm::read_user(iocb + 8).map_err(|_| EFAULT)?;
    if key != 0 || !CONTEXTS.lock().iter().any(|c| c.ring == ctx) {
        return Err(EINVAL);
    }
    Err(EINVAL)
}
