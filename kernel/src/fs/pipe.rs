//! Pipes, served in the guest: a write and a read cost no exit.
use crate::errno::{Errno, SysResult, EAGAIN, ERESTARTNOINTR, ERESTARTSYS};
use crate::mm;
use crate::sched::{self, Thread};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;

/// Linux's default pipe capacity, and the most an unprivileged
/// `F_SETPIPE_SZ` may ask for (`/proc/sys/fs/pipe-max-size`).
pub const CAPACITY: usize = 64 * 1024;
pub const MAX_CAPACITY: usize = 1024 * 1024;

/// Linux keeps a pipe's bytes in page buffers, a ring of `capacity / PAGE`
/// slots: a write fills the last page while its sub-page part fits there,
/// else takes free slots; a read frees a slot when it empties its page. The
/// slots, not the bytes, decide when a pipe is full (`POLLOUT`, `EAGAIN`,
/// writers woken): half of a full one-page pipe read leaves it full.
const PAGE: usize = 4096;

/// One page buffer: the bytes of it not yet read, and where its data ends
/// in the page (a write may add to it up to the page's end).
#[derive(Clone, Copy)]
struct Slot {
    len: usize,
    end: usize,
}

pub struct Pipe {
    /// Its number (`fstat`'s inode, `pipe:[N]` in `/proc/self/fd`).
    id: u64,
    buf: VecDeque<u8>,
    /// How `buf`'s bytes lie in page buffers, oldest first.
    slots: VecDeque<Slot>,
    pub readers: usize,
    pub writers: usize,
    /// Threads blocked on this pipe (readers waiting for data, writers for room).
    waiters: Vec<Arc<Thread>>,
    /// Bytes it holds at most (`F_SETPIPE_SZ`).
    capacity: usize,
    /// The wake-ups Linux sends epoll for each end: readers at every write
    /// and when the last writer goes; writers when a read makes room in a
    /// full pipe and when the last reader goes. Edge-triggered epoll reports
    /// a ready end again only once its count moved.
    pub read_edges: u64,
    pub write_edges: u64,
    /// Moved to the host (`move_to_host`): a thread still blocked on it
    /// restarts its call, which then finds the host pipe.
    moved: bool,
}

pub type Shared = Arc<Mutex<Pipe>>;

pub fn new() -> Shared {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    Arc::new(Mutex::new(Pipe {
        id,
        buf: VecDeque::new(),
        slots: VecDeque::new(),
        readers: 1,
        writers: 1,
        waiters: Vec::new(),
        capacity: CAPACITY,
        read_edges: 0,
        write_edges: 0,
        moved: false,
    }))
}

pub fn id(p: &Shared) -> u64 {
    p.lock().id
}

/// Blocks until the pipe changes; the caller holds the pipe's lock in `pipe`
/// (released here). `ERESTARTSYS` when a signal arrives first.
fn wait(mut pipe: spin::MutexGuard<'_, Pipe>) -> Result<(), Errno> {
    if crate::signal::pending() {
        return Err(ERESTARTSYS);
    }
    pipe.waiters.push(sched::current_arc());
    drop(pipe);
    sched::block(None);
    Ok(())
}

/// Wakes every thread blocked on the pipe (and pollers): it changed.
pub fn changed(mut pipe: spin::MutexGuard<'_, Pipe>) {
    let waiters = core::mem::take(&mut pipe.waiters);
    drop(pipe);
    for t in waiters {
        sched::wake(&t);
    }
    crate::syscall::poll::wake_pollers();
}

pub fn read(p: &Shared, buf: u64, count: u64, nonblock: bool) -> SysResult {
    let r = read_locked(p, buf, count, nonblock);
    // Room freed: the write end's `O_ASYNC` owner hears of it.
    if r.is_ok_and(|n| n > 0) {
        crate::syscall::fasync::pipe_event(p, false);
    }
    r
}

fn read_locked(p: &Shared, buf: u64, count: u64, nonblock: bool) -> SysResult {
    let mut pipe = p.lock();
    if pipe.moved {
        return Err(ERESTARTNOINTR);
    }
    while pipe.buf.is_empty() {
        if pipe.writers == 0 || count == 0 {
            return Ok(0);
        }
        if nonblock {
            return Err(EAGAIN);
        }
        wait(pipe)?;
        pipe = p.lock();
        if pipe.moved {
            return Err(ERESTARTNOINTR);
        }
    }
    let n = (count as usize).min(pipe.buf.len());
    let (a, b) = pipe.buf.as_slices();
    let first = n.min(a.len());
    mm::copy_to_user(buf, &a[..first])?;
    if n > first {
        mm::copy_to_user(buf + first as u64, &b[..n - first])?;
    }
    pipe.take(n);
    changed(pipe);
    Ok(n as u64)
}

impl Pipe {
    fn full(&self) -> bool {
        self.slots.len() >= self.capacity / PAGE
    }

    /// Drops the first `n` bytes and the page buffers they empty; a writer
    /// is woken (epoll's edge) when that frees a slot of a full pipe.
    fn take(&mut self, n: usize) {
        let was_full = self.full();
        self.buf.drain(..n);
        let mut left = n;
        while left > 0 {
            let Some(first) = self.slots.front_mut() else { break };
            let k = left.min(first.len);
            first.len -= k;
            left -= k;
            if first.len == 0 {
                self.slots.pop_front();
                if was_full {
                    self.write_edges += 1;
                }
            }
        }
    }

    /// How many of `left` bytes a write may put in now, as Linux's
    /// `pipe_write` would: the sub-page part of the whole write (`chars`)
    /// into the last page if it fits there and this is the write's start,
    /// else one page into a free slot.
    fn room_for(&self, left: usize, chars: usize, starting: bool) -> usize {
        if starting && chars != 0 {
            if let Some(last) = self.slots.back() {
                if last.end + chars <= PAGE {
                    return chars;
                }
            }
        }
        if self.full() {
            0
        } else {
            left.min(PAGE)
        }
    }

    /// Adds `chunk`, which [`Pipe::room_for`] allowed.
    fn put(&mut self, chunk: &[u8], chars: usize, starting: bool) {
        let merged = starting
            && chars == chunk.len()
            && chars != 0
            && self.slots.back().is_some_and(|last| last.end + chars <= PAGE);
        match self.slots.back_mut() {
            Some(last) if merged => {
                last.len += chunk.len();
                last.end += chunk.len();
            }
            _ => self.slots.push_back(Slot { len: chunk.len(), end: chunk.len() }),
        }
        self.buf.extend(chunk);
        self.read_edges += 1;
    }
}

/// Linux's pipe write: a blocking one returns once every byte is in (or a
/// signal came after some were: their count), a non-blocking one writes
/// what fits in page buffers (`EAGAIN` if nothing does); the readers gone,
/// `EPIPE` unless some bytes went in first (the caller raises SIGPIPE).
/// A write of up to a page (`PIPE_BUF`) goes into one page buffer: it is
/// never split by another writer's.
pub fn write(p: &Shared, buf: u64, count: u64, nonblock: bool) -> Result<u64, Errno> {
    written(p, write_from(p, count, nonblock, |done, chunk| mm::copy_from_user(buf + done, chunk)))
}

/// [`write`] of bytes the kernel holds (`splice`).
pub fn write_kernel(p: &Shared, data: &[u8], nonblock: bool) -> Result<u64, Errno> {
    let r = write_from(p, data.len() as u64, nonblock, |done, chunk| {
        chunk.copy_from_slice(&data[done as usize..done as usize + chunk.len()]);
        Ok(())
    });
    written(p, r)
}

/// Bytes went in: the read end's `O_ASYNC` owner hears of it.
fn written(p: &Shared, r: Result<u64, Errno>) -> Result<u64, Errno> {
    if r.is_ok_and(|n| n > 0) {
        crate::syscall::fasync::pipe_event(p, true);
    }
    r
}

/// [`write`] of `count` bytes that `fill` copies in, `done` bytes on.
fn write_from(
    p: &Shared,
    count: u64,
    nonblock: bool,
    fill: impl Fn(u64, &mut [u8]) -> Result<(), Errno>,
) -> Result<u64, Errno> {
    if count == 0 {
        return Ok(0);
    }
    let chars = (count as usize) % PAGE;
    let mut done = 0u64;
    let mut pipe = p.lock();
    loop {
        if pipe.moved {
            return if done > 0 { Ok(done) } else { Err(ERESTARTNOINTR) };
        }
        if pipe.readers == 0 {
            return if done > 0 { Ok(done) } else { Err(crate::errno::EPIPE) };
        }
        let n = pipe.room_for((count - done) as usize, chars, done == 0);
        if n > 0 {
            let mut chunk = alloc::vec![0u8; n];
            if let Err(e) = fill(done, &mut chunk) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            pipe.put(&chunk, chars, done == 0);
            done += n as u64;
            if done == count {
                changed(pipe);
                return Ok(done);
            }
            continue;
        }
        if nonblock {
            changed(pipe);
            return if done > 0 { Ok(done) } else { Err(EAGAIN) };
        }
        if done > 0 {
            // Readers see what is in so far while this writer waits.
            changed(pipe);
            pipe = p.lock();
            if pipe.room_for((count - done) as usize, chars, false) > 0 {
                continue;
            }
        }
        if let Err(e) = wait(pipe) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        pipe = p.lock();
    }
}

/// Up to `max` of the bytes the pipe holds, left in it (`splice` takes
/// only what it could pass on, with [`consume`]); waits for some as a read
/// does. Empty: no writer is left (the end of the data).
pub fn peek(p: &Shared, max: usize, nonblock: bool) -> Result<Vec<u8>, Errno> {
    let mut pipe = p.lock();
    loop {
        if pipe.moved {
            return Err(ERESTARTNOINTR);
        }
        if !pipe.buf.is_empty() || pipe.writers == 0 {
            break;
        }
        if nonblock {
            return Err(EAGAIN);
        }
        wait(pipe)?;
        pipe = p.lock();
    }
    let n = max.min(pipe.buf.len());
    Ok(pipe.buf.iter().take(n).copied().collect())
}

/// Drops the first `n` bytes (after [`peek`]).
pub fn consume(p: &Shared, n: usize) {
    let mut pipe = p.lock();
    let n = n.min(pipe.buf.len());
    if n == 0 {
        return;
    }
    pipe.take(n);
    changed(pipe);
}

/// Waits until the pipe has a free page buffer, as a write does; the room
/// in bytes (whole free pages). `EPIPE` when no reader is left.
pub fn wait_for_room(p: &Shared, nonblock: bool) -> Result<usize, Errno> {
    let mut pipe = p.lock();
    loop {
        if pipe.moved {
            return Err(ERESTARTNOINTR);
        }
        if pipe.readers == 0 {
            return Err(crate::errno::EPIPE);
        }
        let room = (pipe.capacity / PAGE).saturating_sub(pipe.slots.len()) * PAGE;
        if room > 0 {
            return Ok(room);
        }
        if nonblock {
            return Err(EAGAIN);
        }
        wait(pipe)?;
        pipe = p.lock();
    }
}

/// poll(2) readiness: (readable, writable, hung up).
pub fn readiness(p: &Shared) -> (bool, bool, bool) {
    let pipe = p.lock();
    (!pipe.buf.is_empty(), !pipe.full(), pipe.writers == 0)
}

/// The count of epoll wake-ups for the end `reading` or not, as
/// [`Pipe::read_edges`] says.
pub fn edges(p: &Shared, reading: bool) -> u64 {
    let pipe = p.lock();
    if reading {
        pipe.read_edges
    } else {
        pipe.write_edges
    }
}

/// `F_GETPIPE_SZ`.
/// Bytes waiting to be read (`FIONREAD`).
pub fn buffered(p: &Shared) -> usize {
    p.lock().buf.len()
}

pub fn capacity(p: &Shared) -> u64 {
    p.lock().capacity as u64
}

/// `F_SETPIPE_SZ`: a power of two pages, at least one page, at most
/// `MAX_CAPACITY` without CAP_SYS_RESOURCE; never below what it holds.
pub fn set_capacity(p: &Shared, want: u64) -> SysResult {
    // Past 2^31 Linux rounds to no page at all: EINVAL, whatever the privilege.
    if want > 1 << 31 {
        return Err(crate::errno::EINVAL);
    }
    let size = (want.max(4096) as usize).checked_next_power_of_two().ok_or(crate::errno::EINVAL)?;
    // Beyond pipe-max-size: EPERM (the per-user pipe limits say the same
    // to root on Linux for sizes this large).
    if size > MAX_CAPACITY {
        return Err(crate::errno::EPERM);
    }
    let mut pipe = p.lock();
    if pipe.slots.len() > size / PAGE {
        return Err(crate::errno::Errno(16)); // EBUSY
    }
    pipe.capacity = size;
    pipe.write_edges += 1;
    changed(pipe);
    Ok(size as u64)
}

/// Whether the pipe's read end is closed everywhere (its write end then
/// polls as an error, as on Linux).
pub fn no_readers(p: &Shared) -> bool {
    p.lock().readers == 0
}

/// Before a `fork` or an `execve`: every pipe the kernel keeps becomes a host
/// pipe, so that another process (another VM) shares it. Buffered bytes move
/// into the host pipe first; an end no descriptor holds is closed, so EOF and
/// EPIPE stay right. Descriptors sharing an open file description still do.
pub fn move_to_host() -> Result<(), Errno> {
    use super::{table, Kind, OpenFile, O_NONBLOCK};
    use hx_abi::hypercall::op;
    let mut moved_files: Vec<(*const OpenFile, Arc<OpenFile>)> = Vec::new();
    // Per pipe: (identity, read handle, write handle, read end used, write end used).
    let mut pipes: Vec<(*const Mutex<Pipe>, u64, u64, bool, bool)> = Vec::new();
    for (fd, entry) in table::snapshot() {
        let (p, reading) = match &entry.file.kind {
            Kind::PipeRead(p) => (p.clone(), true),
            Kind::PipeWrite(p) => (p.clone(), false),
            _ => continue,
        };
        let old = Arc::as_ptr(&entry.file);
        let file = match moved_files.iter().find(|(o, _)| *o == old) {
            Some((_, f)) => f.clone(),
            None => {
                let key = Arc::as_ptr(&p);
                let slot = match pipes.iter().position(|x| x.0 == key) {
                    Some(i) => i,
                    None => {
                        let (r, args) = crate::host::path_request(op::PIPE, &[0, 0, 0], &[], &mut []);
                        r?;
                        let (data, capacity): (Vec<u8>, usize) = {
                            let mut pipe = p.lock();
                            pipe.moved = true;
                            pipe.slots.clear();
                            (pipe.buf.drain(..).collect(), pipe.capacity)
                        };
                        // Threads blocked on it start over on the host pipe.
                        changed(p.lock());
                        if capacity != CAPACITY {
                            let size = hx_abi::hypercall::SETFL_PIPE_SIZE | capacity as u64;
                            let _ = crate::host::simple(op::SETFL, &[args[1], size, 1031]);
                        }
                        if !data.is_empty() {
                            crate::host::path_request(op::WRITE, &[args[1]], &[&data], &mut []).0?;
                        }
                        pipes.push((key, args[0], args[1], false, false));
                        pipes.len() - 1
                    }
                };
                let (_, rh, wh, used_r, used_w) = &mut pipes[slot];
                let handle = if reading {
                    *used_r = true;
                    *rh
                } else {
                    *used_w = true;
                    *wh
                };
                let status = entry.file.status();
                // Its flags, owner and I/O signal go with it.
                let kept = status & (O_NONBLOCK | crate::syscall::fasync::O_ASYNC);
                if kept != 0 {
                    let _ = crate::host::simple(op::SETFL, &[handle, kept as u64]);
                }
                let f = Arc::new(OpenFile::new(Kind::Host(handle), status, entry.file.path.clone()));
                f.owner.store(
                    entry.file.owner.load(core::sync::atomic::Ordering::Relaxed),
                    core::sync::atomic::Ordering::Relaxed,
                );
                f.io_signal.store(
                    entry.file.io_signal.load(core::sync::atomic::Ordering::Relaxed),
                    core::sync::atomic::Ordering::Relaxed,
                );
                crate::syscall::fasync::replaced(&entry.file, &f);
                moved_files.push((old, f.clone()));
                f
            }
        };
        table::swap_file(fd, file);
    }
    // Epoll entries follow their descriptors to the host pipes (they would
    // otherwise look like entries of descriptors since closed, and leave).
    let replaced: Vec<(usize, usize)> =
        moved_files.iter().map(|(old, new)| (*old as usize, Arc::as_ptr(new) as usize)).collect();
    crate::syscall::epoll::files_replaced(&replaced);
    for (_, rh, wh, used_r, used_w) in pipes {
        if !used_r {
            crate::host::close(rh);
        }
        if !used_w {
            crate::host::close(wh);
        }
    }
    Ok(())
}
