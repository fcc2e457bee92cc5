//! Pipes, served in the guest: a write and a read cost no exit.
use crate::errno::{Errno, SysResult, EAGAIN};
use crate::{host, mm};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use hx_abi::hypercall::op;
use spin::Mutex;

/// Linux's default pipe capacity.
pub const CAPACITY: usize = 64 * 1024;

pub struct Pipe {
    buf: VecDeque<u8>,
    pub readers: usize,
    pub writers: usize,
}

pub type Shared = Arc<Mutex<Pipe>>;

pub fn new() -> Shared {
    Arc::new(Mutex::new(Pipe { buf: VecDeque::new(), readers: 1, writers: 1 }))
}

/// One thread can never see a blocked pipe change: wait as Linux would (forever, on the host).
fn block_forever() -> ! {
    loop {
        let _ = host::simple(op::SLEEP, &[3_600_000_000_000]);
    }
}

pub fn read(p: &Shared, buf: u64, count: u64, nonblock: bool) -> SysResult {
    let mut pipe = p.lock();
    if pipe.buf.is_empty() {
        if pipe.writers == 0 || count == 0 {
            return Ok(0);
        }
        if nonblock {
            return Err(EAGAIN);
        }
        drop(pipe);
        block_forever();
    }
    let n = (count as usize).min(pipe.buf.len());
    let (a, b) = pipe.buf.as_slices();
    let first = n.min(a.len());
    mm::copy_to_user(buf, &a[..first])?;
    if n > first {
        mm::copy_to_user(buf + first as u64, &b[..n - first])?;
    }
    pipe.buf.drain(..n);
    Ok(n as u64)
}

/// Writes; `Err(EPIPE)` (the caller raises SIGPIPE) when no reader is left.
pub fn write(p: &Shared, buf: u64, count: u64, nonblock: bool) -> Result<u64, Errno> {
    let mut pipe = p.lock();
    if pipe.readers == 0 {
        return Err(crate::errno::EPIPE);
    }
    let room = CAPACITY - pipe.buf.len();
    if room == 0 && count > 0 {
        if nonblock {
            return Err(EAGAIN);
        }
        drop(pipe);
        block_forever();
    }
    let n = (count as usize).min(room);
    let mut chunk = alloc::vec![0u8; n];
    mm::copy_from_user(buf, &mut chunk)?;
    pipe.buf.extend(chunk);
    Ok(n as u64)
}

/// poll(2) readiness: (readable, writable, hung up).
pub fn readiness(p: &Shared) -> (bool, bool, bool) {
    let pipe = p.lock();
    (!pipe.buf.is_empty(), pipe.buf.len() < CAPACITY && pipe.readers > 0, pipe.writers == 0)
}
