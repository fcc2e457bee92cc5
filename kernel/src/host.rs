//! The hypercall client: every request the kernel sends to the monitor goes
//! through [`call`]. Buffers travel as physical segments (see `hx_abi::hypercall`).
use crate::errno::{Errno, SysResult, EFAULT};
use crate::mm;
use crate::stats;
use hx_abi::hypercall::{op, Request, Segment, MAX_SEGMENTS};
use hx_abi::layout::{DIRECT_MAP, HYPERCALL_PORT, KERNEL_WINDOW};

/// Physical address of kernel memory (its image, stack, or the direct map).
pub fn phys_of(virt: u64) -> u64 {
    if virt >= KERNEL_WINDOW {
        virt - KERNEL_WINDOW
    } else if virt >= DIRECT_MAP {
        virt - DIRECT_MAP
    } else {
        panic!("phys_of: {virt:#x} is not kernel memory")
    }
}

/// Sends `req` to the monitor and returns its `ret`: through the ring
/// while the monitor polls it, else through an exit.
pub fn call(req: &mut Request) -> i64 {
    call_via(req, Via::Any)
}

/// How a request may travel.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The ring if the poller runs, else an exit.
    Any,
    /// An exit: the request may block (a read of a pipe, a socket or a
    /// terminal without O_NONBLOCK), which the poller never does.
    Exit,
    /// A read or write that must not wait (`RW_NOWAIT`: `EAGAIN` instead),
    /// so the ring may carry it: the caller waits with `WATCH` if it must.
    NoWait,
}

pub fn call_via(req: &mut Request, via: Via) -> i64 {
    if via != Via::Exit {
        if let Some(ret) = crate::ring::try_call(req) {
            return ret;
        }
    }
    doorbell(req)
}

/// Sends a request with `args` through an exit, never the ring.
pub fn exit_call(req: &mut Request, args: &[u64]) -> i64 {
    req.args[..args.len()].copy_from_slice(args);
    doorbell(req)
}

fn nowait_flag(via: Via) -> u64 {
    if via == Via::NoWait {
        hx_abi::hypercall::RW_NOWAIT
    } else {
        0
    }
}

/// An exit: the monitor serves `req` before the vCPU resumes.
fn doorbell(req: &mut Request) -> i64 {
    stats::count_hypercall();
    let phys = phys_of(req as *mut Request as u64);
    debug_assert!(phys < u32::MAX as u64);
    // SAFETY: the port is the monitor's hypercall doorbell; it reads and writes
    // only `req` and the segments it names. Without `nomem` the compiler treats
    // the asm as reading and writing memory, so `req` is in memory before the
    // exit and read back after it.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") HYPERCALL_PORT, in("eax") phys as u32,
                         options(nostack, preserves_flags));
    }
    req.ret
}

pub fn result(ret: i64) -> SysResult {
    if ret < 0 {
        Err(Errno(-ret))
    } else {
        Ok(ret as u64)
    }
}

/// One segment for a kernel buffer (kernel memory is physically contiguous).
pub fn kernel_segment(ptr: u64, len: usize) -> Segment {
    if len == 0 {
        // An empty slice's pointer is dangling: it names no memory.
        return Segment { phys: 0, len: 0 };
    }
    Segment { phys: phys_of(ptr), len: len as u64 }
}

/// Runs `op` over the user buffer `[addr, addr+len)` in as many requests as its
/// physical pieces need; stops early on a short transfer, like Linux's
/// `read`/`write`. `writes_user` says whether the host writes into the buffer;
/// the first request travels by `via`, the later ones by `later`.
fn user_transfer(
    op: u32,
    fd: u64,
    (addr, len): (u64, u64),
    writes_user: bool,
    offset: Option<u64>,
    (via, later): (Via, Via),
) -> SysResult {
    let mut done = 0u64;
    while done < len {
        let this_via = if done == 0 { via } else { later };
        let mut req = Request::new(op);
        req.args[0] = fd;
        req.args[1] = offset.map_or(0, |o| o + done);
        req.args[2] = nowait_flag(this_via);
        let covered = mm::user_segments(addr + done, len - done, writes_user, &mut req.segs).map_err(|_| EFAULT);
        let (nsegs, covered) = match covered {
            Ok(v) => v,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        };
        req.nsegs = nsegs as u32;
        match result(call_via(&mut req, this_via)) {
            Ok(n) => {
                done += n;
                if n < covered {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

pub fn write(handle: u64, addr: u64, len: u64, via: Via) -> SysResult {
    user_transfer(op::WRITE, handle, (addr, len), false, None, (via, via))
}

pub fn pwrite(handle: u64, addr: u64, len: u64, offset: u64, via: Via) -> SysResult {
    user_transfer(op::PWRITE, handle, (addr, len), false, Some(offset), (via, via))
}

pub fn pread(handle: u64, addr: u64, len: u64, offset: u64, via: Via) -> SysResult {
    user_read(op::PREAD, handle, addr, len, offset, via)
}

/// `writev`: gathers the pieces of every buffer into as few requests as fit.
pub fn write_iov(fd: u64, iovs: &[(u64, u64)], via: Via) -> SysResult {
    let mut done = 0u64;
    let mut req = Request::new(op::WRITE);
    req.args[0] = fd;
    req.args[2] = nowait_flag(via);
    let mut pending = 0u64;
    // Sends what `req` holds; false when the transfer ends here (short or failed).
    let send = |req: &mut Request, pending: &mut u64, done: &mut u64| -> Result<bool, Errno> {
        if req.nsegs == 0 {
            return Ok(true);
        }
        let ret = call_via(req, via);
        req.nsegs = 0;
        let expected = core::mem::take(pending);
        match result(ret) {
            Ok(n) => {
                *done += n;
                Ok(n == expected)
            }
            Err(e) if *done == 0 => Err(e),
            Err(_) => Ok(false),
        }
    };
    for &(base, len) in iovs {
        let mut off = 0;
        while off < len {
            if req.nsegs as usize == MAX_SEGMENTS && !send(&mut req, &mut pending, &mut done)? {
                return Ok(done);
            }
            let free = &mut req.segs[req.nsegs as usize..];
            match mm::user_segments(base + off, len - off, false, free) {
                Ok((n, covered)) => {
                    req.nsegs += n as u32;
                    pending += covered;
                    off += covered;
                }
                Err(_) => {
                    if done == 0 && pending == 0 {
                        return Err(EFAULT);
                    }
                    send(&mut req, &mut pending, &mut done)?;
                    return Ok(done);
                }
            }
        }
    }
    send(&mut req, &mut pending, &mut done)?;
    Ok(done)
}

pub fn read(handle: u64, addr: u64, len: u64, via: Via) -> SysResult {
    user_read(op::READ, handle, addr, len, 0, via)
}

/// A read returns what is there, it does not wait for more: a buffer with
/// more physical pieces than one request carries takes more requests only
/// while each one was filled, and those never wait (a regular file is read
/// whole, as Linux reads it; a pipe gives what it holds).
fn user_read(op: u32, handle: u64, addr: u64, len: u64, offset: u64, via: Via) -> SysResult {
    // A pread's offset moves on; a read's file position does by itself.
    let offset = (op == op::PREAD).then_some(offset);
    user_transfer(op, handle, (addr, len), true, offset, (via, Via::NoWait))
}

/// Directory entries of `handle` into the program's buffer.
pub fn getdents(handle: u64, addr: u64, len: u64) -> SysResult {
    // The monitor fills one segment: hand it a kernel bounce buffer.
    let mut buf = alloc::vec![0u8; len.min(64 * 1024) as usize];
    let n = into_kernel(op::GETDENTS, &[handle], &mut buf)?;
    mm::copy_to_user(addr, &buf[..n as usize])?;
    Ok(n)
}

/// A request naming paths (`ins`) and kernel buffers to fill (`outs`), in that segment order.
pub fn path_request(op: u32, args: &[u64], ins: &[&[u8]], outs: &mut [&mut [u8]]) -> (SysResult, [u64; 8]) {
    let mut req = Request::new(op);
    req.args[..args.len()].copy_from_slice(args);
    for p in ins {
        req.segs[req.nsegs as usize] = kernel_segment(p.as_ptr() as u64, p.len());
        req.nsegs += 1;
    }
    for o in outs.iter_mut() {
        req.segs[req.nsegs as usize] = kernel_segment(o.as_mut_ptr() as u64, o.len());
        req.nsegs += 1;
    }
    let r = result(call(&mut req));
    (r, req.args)
}

/// A fresh host memory file holding `bytes`, its offset at `offset`: its handle.
pub fn memfd(bytes: &[u8], offset: u64) -> SysResult {
    memfd_with(bytes, offset, 0)
}

/// [`memfd`] made with `flags` (`hx_abi::hypercall::MEMFD_FLAGS`).
pub fn memfd_with(bytes: &[u8], offset: u64, flags: u64) -> SysResult {
    let mut req = Request::new(op::MEMFD);
    req.args[0] = offset;
    req.args[1] = flags;
    req.segs[0] = kernel_segment(bytes.as_ptr() as u64, bytes.len());
    req.nsegs = 1;
    result(call(&mut req))
}

pub fn close(handle: u64) {
    let mut req = Request::new(op::CLOSE);
    req.args[0] = handle;
    call(&mut req);
}

/// A request with only scalar arguments.
pub fn simple(op: u32, args: &[u64]) -> SysResult {
    let mut req = Request::new(op);
    req.args[..args.len()].copy_from_slice(args);
    result(call(&mut req))
}

/// Host request whose answer lands in a kernel buffer `out`.
fn into_kernel(op: u32, args: &[u64], out: &mut [u8]) -> SysResult {
    let mut req = Request::new(op);
    req.args[..args.len()].copy_from_slice(args);
    req.segs[0] = kernel_segment(out.as_mut_ptr() as u64, out.len());
    req.nsegs = 1;
    result(call(&mut req))
}

pub fn fstat(handle: u64, out: &mut [u8]) -> SysResult {
    into_kernel(op::FSTAT, &[handle], out)
}

/// `ioctl` `cmd` on host file `handle`: `value` by value, or `arg` in or out
/// (empty for a by-value command).
pub fn ioctl(handle: u64, cmd: u64, value: u64, arg: &mut [u8]) -> SysResult {
    let mut req = Request::new(op::IOCTL);
    req.args[..3].copy_from_slice(&[handle, cmd, value]);
    if !arg.is_empty() {
        req.segs[0] = kernel_segment(arg.as_mut_ptr() as u64, arg.len());
        req.nsegs = 1;
    }
    let via = if hx_abi::ioctl::may_wait(cmd) { Via::Exit } else { Via::Any };
    result(call_via(&mut req, via))
}

pub fn random(out: &mut [u8]) {
    let _ = into_kernel(op::RANDOM, &[], out);
}

/// The host's (CLOCK_REALTIME, CLOCK_MONOTONIC) in nanoseconds.
pub fn clocks() -> (u64, u64) {
    let mut req = Request::new(op::CLOCK);
    call(&mut req);
    (req.args[0], req.args[1])
}

pub fn unsupported(nr: u64, args: &[u64; 6]) {
    let mut req = Request::new(op::UNSUPPORTED);
    req.args[0] = nr;
    req.args[1..7].copy_from_slice(args);
    call(&mut req);
}

/// One `--strace` record; `strings` are kernel copies of the string arguments.
pub fn strace(nr: u64, args: &[u64; 6], ret: i64, path: u64, strings: &[&[u8]]) {
    let mut req = Request::new(op::STRACE);
    req.args[0] = nr;
    req.args[1..7].copy_from_slice(args);
    req.args[7] = path;
    req.ret = ret;
    for (seg, s) in req.segs.iter_mut().zip(strings.iter().take(MAX_SEGMENTS)) {
        *seg = kernel_segment(s.as_ptr() as u64, s.len());
        req.nsegs += 1;
    }
    call(&mut req);
}

/// A message for the monitor to print (the kernel has no console of its own).
pub fn log(msg: &[u8]) {
    let mut req = Request::new(op::LOG);
    req.segs[0] = kernel_segment(msg.as_ptr() as u64, msg.len());
    req.nsegs = 1;
    call(&mut req);
}

pub fn exit(status: u64) -> ! {
    exit_request(status, 0, 0)
}

/// The program dies of signal `sig` (the status a shell shows: 128 + sig;
/// a parent process sees the signal).
pub fn exit_signaled(sig: u64) -> ! {
    exit_request(128 + sig, 0, sig)
}

/// Ends the process killed by `sig`, saying whether it left a core file
/// (its parent's `wait` reports `WCOREDUMP`).
pub fn exit_killed(sig: u64, core_dumped: bool) -> ! {
    exit_request(128 + sig, 0, sig | if core_dumped { hx_abi::hypercall::EXIT_CORE_DUMPED } else { 0 })
}

/// Ends the VM after a kernel bug (the message went out through [`log`] first).
pub fn exit_panic() -> ! {
    exit_request(0, 1, 0)
}

/// Waits for the program of a kernel booted ahead of it
/// (`FLAG_AWAIT_PROGRAM`); a monitor that has none for it ends the VM.
pub fn await_program() {
    let mut req = Request::new(op::LAUNCH);
    if exit_call(&mut req, &[]) != 0 {
        exit_panic();
    }
}

fn exit_request(status: u64, panicked: u64, signal: u64) -> ! {
    if panicked == 0 && crate::syscall::vfork::active() {
        // A vfork child's fatal signal ends the child, not its parent.
        crate::syscall::vfork::ended(status, signal);
    }
    let mut req = Request::new(op::EXIT);
    req.args[0] = status;
    req.args[1] = stats::phys_addr();
    req.args[2] = panicked;
    req.args[3] = signal;
    call(&mut req);
    // The monitor never resumes the vCPU after an exit request.
    loop {
        core::hint::spin_loop();
    }
}
