//! Serving the kernel's host requests. One file per request family; this file
//! reads the request, checks its segments, and routes it.
//!
//! Everything in a request is untrusted: the program shares CPL3 and every
//! page with the guest kernel, so it can forge any request. A malformed
//! request gets an errno; only a request the monitor cannot even read back
//! (outside guest RAM) ends the VM. No handler allocates more than a fixed
//! bound (see `guest::Segs`) or panics on guest data.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod clock;
pub mod edges;
pub mod files;
mod flags;
pub mod guest;
pub mod handles;
pub mod identity;
mod inotify;
pub mod io_signals;
mod ioctl;
mod mqueue;
pub mod net;
pub mod process;
mod pty;
pub mod shared;
pub mod sysv;
mod xattr;

use crate::memory::GuestRam;
use crate::report::Report;
use anyhow::Result;
use guest::{Segs, MAX_TEXT};
use hx_abi::hypercall::{op, Request, NET_ACCEPT, NET_CONNECT, NET_RECV, NET_SEND, RW_NOWAIT};
use hx_abi::ring;

pub enum Outcome {
    Resume,
    Exit(i32),
    /// The program died of this signal (and whether it dumped core).
    Killed(i32, bool),
    /// The guest kernel reported its own panic (the message went out as a log line).
    KernelPanic,
}

/// What `Host::serve_or_prepare` did with a request.
pub enum Prepared {
    /// Served (or refused): the outcome.
    Done(Outcome),
    /// A checked read, write or poll for the caller to run without the
    /// monitor's lock (`finish_io`), so that one blocked on a terminal or a
    /// host pipe does not hold up every other vCPU's requests.
    Io(files::BlockingCall, Box<Request>),
}

pub struct Host<'a> {
    pub mem: &'a GuestRam,
    pub report: &'a mut Report,
    pub files: &'a mut files::Files,
    /// Where `WATCH` registers host files (None: the fuzz harness).
    pub watch: Option<&'a crate::watch::Watcher>,
}

impl Host<'_> {
    /// Serves the request at guest-physical `addr`. An error means the
    /// request itself lies outside guest RAM: the VM cannot go on.
    pub fn serve(&mut self, addr: u64) -> Result<Outcome> {
        let mut req: Request = self.mem.read_obj(addr)?;
        self.report.count_request(req.op);
        let outcome = self.dispatch(&mut req);
        if matches!(outcome, Outcome::Resume) {
            self.mem.write_obj(addr, req)?;
        }
        Ok(outcome)
    }

    /// Like `serve`, but a read, write or poll request is only checked and
    /// returned for the caller to run (then `finish_io`).
    pub fn serve_or_prepare(&mut self, addr: u64) -> Result<Prepared> {
        let mut req: Request = self.mem.read_obj(addr)?;
        if !matches!(req.op, op::READ | op::WRITE | op::PREAD | op::PWRITE | op::POLL | op::NET | op::IOCTL) {
            return self.serve(addr).map(Prepared::Done);
        }
        let shape = req;
        let prepared = match Segs::of(self.mem, &shape) {
            Ok(segs) => self.files.prepare_io(&shape, &segs),
            Err(e) => Some(Err(e)),
        };
        let Some(prepared) = prepared else {
            // A socket request or an ioctl that cannot block: served here.
            return self.serve(addr).map(Prepared::Done);
        };
        self.report.count_request(req.op);
        self.print_hint();
        match prepared {
            Ok(io) => Ok(Prepared::Io(io, Box::new(req))),
            Err(e) => {
                req.ret = -(e as i64);
                self.mem.write_obj(addr, req)?;
                Ok(Prepared::Done(Outcome::Resume))
            }
        }
    }

    fn dispatch(&mut self, req: &mut Request) -> Outcome {
        // The segments are read from a copy: the handlers write results into `req`.
        let shape = *req;
        let segs = match Segs::of(self.mem, &shape) {
            Ok(s) => s,
            Err(e) => {
                req.ret = -(e as i64);
                return Outcome::Resume;
            }
        };
        // Path requests are checked as the guest's ids, once it is not root.
        let _as_guest = match req.op {
            op::ACCESS => identity::act_as_guest(req.args[2] & hx_abi::hypercall::ACCESS_EFFECTIVE == 0),
            op::OPEN
            | op::STAT
            | op::READLINK
            | op::UNLINK
            | op::MKDIR
            | op::RENAME
            | op::UTIMENS
            | op::STATFS
            | op::CHMOD
            | op::SYMLINK
            | op::LINK
            | op::CHOWN
            | op::XATTR => identity::act_as_guest(false),
            // A socket's file is made as the guest (connect: `net::Blocking::run`).
            op::NET if req.args[0] == hx_abi::hypercall::NET_BIND => identity::act_as_guest(false),
            _ => None,
        };
        let setfl_async = req.op == op::SETFL
            && req.args[1] & (hx_abi::hypercall::SETFL_PIPE_SIZE | hx_abi::hypercall::SETFL_SEALS) == 0
            && req.args[1] & libc::O_ASYNC as u64 != 0;
        let ret = match req.op {
            // O_ASYNC: the host signals the monitor, which tells the guest.
            op::SETFL if setfl_async => {
                io_signals::set_async(self.files, self.watch, req.args[0], req.args[1]).unwrap_or_else(|e| -(e as i64))
            }
            op::WRITE | op::READ | op::FSTAT | op::IOCTL | op::OPEN..=op::POLL if req.op != op::SLEEP => {
                self.files.serve(req, &segs)
            }
            op::CHOWN | op::XATTR => self.files.serve(req, &segs),
            op::SLEEP => clock::sleep(req.args[0]),
            op::CLOCK => {
                let (real, mono) = clock::now();
                req.args[0] = real;
                req.args[1] = mono;
                0
            }
            op::RANDOM => clock::random(&segs),
            op::DISCARD => discard(&segs, &mut self.files.shared),
            op::WAIT => process::wait(req, &segs),
            op::KILL => process::kill(req, &segs),
            op::STOP => process::stop(req),
            op::PGRP if req.args[0] == hx_abi::hypercall::PGRP_SET_FSIZE => {
                self.files.file_size_limit = req.args[1];
                0
            }
            op::PGRP => process::pgrp(req, &segs),
            op::PIPE => self.files.pipe(req),
            op::EVENTFD => self.files.eventfd(req.args[0], req.args[1]).unwrap_or_else(|e| -(e as i64)),
            op::MAP_SHARED => {
                self.files.map_shared(&segs, req.args[0], req.args[1], req.args[2] != 0).unwrap_or_else(|e| -(e as i64))
            }
            op::UNMAP_SHARED => self.files.shared.unmap(&segs).unwrap_or_else(|e| -(e as i64)),
            op::TEE => self.files.tee(req.args[0], req.args[1], req.args[2]).unwrap_or_else(|e| -(e as i64)),
            op::SYNC_SHARED => self.files.shared.sync(&segs).unwrap_or_else(|e| -(e as i64)),
            op::MEMFD => self.files.memfd(&segs, req.args[0], req.args[1]).unwrap_or_else(|e| -(e as i64)),
            op::LOCK => self.files.lock(&segs, req.args[0], req.args[1], req.args[2]).unwrap_or_else(|e| -(e as i64)),
            op::FALLOCATE => {
                self.files.fallocate(req.args[0], req.args[1], req.args[2], req.args[3]).unwrap_or_else(|e| -(e as i64))
            }
            op::WATCH => match self.watch {
                Some(w) => self.files.watch(w, &segs).map_or_else(|e| -(e as i64), i64::from),
                None => -(libc::ENOSYS as i64),
            },
            op::INOTIFY => inotify::serve(self.files, &req.args, &segs).unwrap_or_else(|e| -(e as i64)),
            op::REOPEN => self.files.reopen(req.args[0], req.args[1]).unwrap_or_else(|e| -(e as i64)),
            op::LEASE => io_signals::serve(self.files, self.watch, &req.args, &segs).unwrap_or_else(|e| -(e as i64)),
            op::FUTEX => match self.watch {
                Some(w) => w.futexes.serve(self.mem, &req.args).unwrap_or_else(|e| -(e as i64)),
                None => -(libc::ENOSYS as i64),
            },
            op::SYSV => {
                let waits = self.watch.map(|w| &w.waits);
                let r = sysv::serve(&mut self.files.shared, waits, req, &segs);
                if r == Err(libc::ENOSYS) && !sysv::available() {
                    self.report.hint(sysv::UNAVAILABLE.into());
                }
                r.unwrap_or_else(|e| -(e as i64))
            }
            op::MQUEUE => {
                let r = mqueue::serve(self.files, self.watch, req, &segs);
                if r == Err(libc::ENOSYS) && !sysv::available() {
                    self.report.hint(mqueue::UNAVAILABLE.into());
                }
                r.unwrap_or_else(|e| -(e as i64))
            }
            op::NET => {
                let r = net::Net::serve(self.files, req, &segs).unwrap_or_else(|e| -(e as i64));
                self.print_hint();
                r
            }
            op::CREDS => {
                let groups = if segs.is_empty() {
                    Ok(Vec::new())
                } else {
                    segs.bytes(0, hx_abi::hypercall::MAX_GUEST_GROUPS * 4, libc::EINVAL)
                };
                groups.and_then(|g| identity::set(&req.args, &g)).unwrap_or_else(|e| -(e as i64))
            }
            op::MOUNTS => match segs.get(0) {
                Some(_) => self.files.sandbox.describe_mounts(&segs).unwrap_or_else(|e| -(e as i64)),
                None => -(libc::EINVAL as i64),
            },
            op::UNSUPPORTED => {
                self.report.unsupported(req.args[0]);
                0
            }
            op::STRACE => {
                let strings: Vec<Vec<u8>> = (0..segs.len()).map(|i| segs.text(i, MAX_TEXT)).collect();
                self.report.strace(req, &strings);
                0
            }
            op::LOG => {
                self.report.kernel_log(&segs.text(0, MAX_TEXT));
                0
            }
            op::EXIT => {
                self.report.exit_stats(self.mem, req.args[1]);
                if req.args[2] != 0 {
                    return Outcome::KernelPanic;
                }
                let sig = req.args[3] & !hx_abi::hypercall::EXIT_CORE_DUMPED;
                if (1..=64).contains(&sig) {
                    return Outcome::Killed(sig as i32, req.args[3] & hx_abi::hypercall::EXIT_CORE_DUMPED != 0);
                }
                return Outcome::Exit(req.args[0] as i32 & 0xff);
            }
            _ => -(libc::ENOSYS as i64),
        };
        req.ret = ret;
        Outcome::Resume
    }
}

impl Host<'_> {
    /// Serves the request at `addr` for the poller (`crate::ring`), which
    /// must never block: a request that could (a blocking read, a poll that
    /// must wait, a sleep, a process request) gets `ring::RETRY` and comes
    /// again through an exit. An error means the request lies outside guest RAM.
    pub fn serve_polled(&mut self, addr: u64) -> Result<()> {
        let mut req: Request = self.mem.read_obj(addr)?;
        let a = req.args;
        let blocking_net = req.op == op::NET
            && matches!(a[0], NET_CONNECT | NET_ACCEPT | NET_SEND | NET_RECV)
            && !(matches!(a[0], NET_SEND | NET_RECV) && a[2] & libc::MSG_DONTWAIT as u64 != 0);
        let retry = match req.op {
            op::READ | op::WRITE if a[2] & RW_NOWAIT != 0 => false,
            op::READ | op::WRITE | op::PREAD | op::PWRITE => !self.files.never_blocks(a[0]),
            op::NET if blocking_net => !self.files.never_blocks(a[1]),
            op::NET | op::POLL => false,
            op::IOCTL => hx_abi::ioctl::may_wait(a[1]),
            o => hx_abi::ring::exits_only(o),
        };
        if retry {
            req.ret = ring::RETRY;
            return self.mem.write_obj(addr, req);
        }
        self.report.count_polled(req.op);
        let waits = req.op == op::POLL && req.args[0] != 0;
        if req.op == op::POLL {
            req.args[0] = 0; // look, never wait
        }
        let shape = req;
        let prepared = match Segs::of(self.mem, &shape) {
            Ok(segs) => self.files.prepare_io(&shape, &segs),
            Err(e) => Some(Err(e)),
        };
        match prepared {
            None => {
                let outcome = self.dispatch(&mut req);
                self.print_hint();
                debug_assert!(matches!(outcome, Outcome::Resume));
            }
            Some(Err(e)) => req.ret = -(e as i64),
            Some(Ok(mut io)) => {
                req.ret = match io.run(self.mem) {
                    Ok(n) => n,
                    Err(e) => -(e as i64),
                };
                if let files::BlockingCall::Net(call) = io {
                    let ret = req.ret;
                    req.ret = (*call).finish(self.files, self.mem, &mut req, ret);
                }
                self.print_hint();
            }
        }
        if waits && req.ret == 0 {
            req.ret = ring::RETRY; // nothing ready yet: the exit waits
            req.args[0] = shape.args[0];
        }
        self.mem.write_obj(addr, req)
    }

    /// Tells the user once why the network policy refused a call.
    fn print_hint(&mut self) {
        if let Some(hint) = self.files.net.hint.take() {
            self.report.hint(hint);
        }
    }
}

/// `DISCARD`: drops whole pages of guest RAM; they read back as zero.
fn discard(segs: &Segs, shared: &mut shared::SharedRanges) -> i64 {
    const PAGE: u64 = 4096;
    if segs.all().iter().any(|s| s.phys % PAGE != 0 || s.len % PAGE != 0) {
        return -(libc::EINVAL as i64);
    }
    // Pages of a loaded image map its file: zero memory must replace them.
    for s in segs.all() {
        if let Err(e) = shared.unshare(segs.mem(), s.phys, s.len) {
            return -(e as i64);
        }
    }
    let Ok(iovecs) = segs.iovecs() else { return -(libc::EFAULT as i64) };
    for v in iovecs {
        // SAFETY: the range is whole pages inside the guest RAM mapping
        // (checked by `Segs`); dropping them only zeroes guest memory.
        if unsafe { libc::madvise(v.iov_base, v.iov_len, libc::MADV_DONTNEED) } != 0 {
            return -(libc::EINVAL as i64);
        }
    }
    0
}

/// Runs a call `serve_or_prepare` returned and answers the request at
/// `addr`; a socket call's results are installed through `with_files`,
/// which lends the files under the monitor's lock again.
pub fn finish_io(
    mem: &GuestRam,
    addr: u64,
    mut req: Box<Request>,
    mut io: files::BlockingCall,
    with_files: impl FnOnce(&mut dyn FnMut(&mut files::Files)),
) -> Result<()> {
    req.ret = match io.run(mem) {
        Ok(n) => n,
        Err(e) => -(e as i64),
    };
    if let files::BlockingCall::Net(call) = io {
        let mut call = Some(call);
        with_files(&mut |files| {
            if let Some(call) = call.take() {
                let ret = req.ret;
                req.ret = (*call).finish(files, mem, &mut req, ret);
            }
        });
    }
    mem.write_obj(addr, *req)
}
