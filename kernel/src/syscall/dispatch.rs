//! From a trapped `syscall` to its handler and back, with `--strace`/`--stats`.
use super::{table, Args};
use crate::arch::entry::{Frame, ENTRY_REWRITE, ENTRY_TRAP, ENTRY_VECTOR};
use crate::arch::percpu;
use crate::errno::ENOSYS;
use crate::{host, mm, sched, signal, stats};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::boot::{FLAG_STATS, FLAG_STRACE};
use hx_abi::hypercall::{PATH_REWRITTEN, PATH_TRAP, PATH_VECTOR};
use hx_abi::percpu::WORK_RESCHED;
use hx_abi::syscalls::{self, MAX_SYSCALLS};

static FLAGS: AtomicU64 = AtomicU64::new(0);
/// Unimplemented syscalls already reported (one warning per number).
static REPORTED: [AtomicU64; MAX_SYSCALLS / 64] = [const { AtomicU64::new(0) }; MAX_SYSCALLS / 64];

pub fn init(flags: u64) {
    FLAGS.store(flags, Ordering::Relaxed);
}

/// Syscalls are counted only for `--stats` (a shared counter costs a locked
/// add on every call, a good part of a vector call).
#[inline]
fn counting() -> bool {
    FLAGS.load(Ordering::Relaxed) & FLAG_STATS != 0
}

/// Called by the trap-path and the vector entries with the program's
/// registers (the frame's `entry` says which way it came).
pub extern "C" fn from_program(frame: &mut Frame) {
    let nr = frame.orig_rax;
    let path = match frame.entry {
        ENTRY_VECTOR => PATH_VECTOR,
        ENTRY_REWRITE => PATH_REWRITTEN,
        _ => PATH_TRAP,
    };
    if (nr as usize) < MAX_SYSCALLS && counting() {
        stats::count(nr as usize, path);
    }
    let args = [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9];
    let site_end = frame.rip;
    if let Some(ret) = super::seccomp::before(frame, nr, &args) {
        // The filters answered for it: the call does not run.
        frame.rax = ret as u64;
        exit_work(frame);
        return;
    }
    frame.rax = invoke(nr, table::handler(nr), args, path) as u64;
    // Still the same context (not a new image, not a signal frame restored).
    if frame.entry == ENTRY_TRAP && frame.rip == site_end {
        crate::rewrite::after_trap(site_end, frame.rax);
    }
    exit_work(frame);
}

/// What must happen before the program runs again: another thread's turn
/// (time slice over, a timer due), then signals.
pub fn exit_work(frame: &mut Frame) {
    sched::quiesce::stop_here_if_forking();
    let mut interrupted = false;
    signal::take_host_signals();
    // The common case, on every syscall: nothing to do.
    let restartable = (-(frame.rax as i64)) as u64 & !0xf == 512 && frame.orig_rax != u64::MAX;
    if !signal::any_queued() && !restartable && percpu::work().load(Ordering::Relaxed) == 0 && !sched::timers_due() {
        return;
    }
    loop {
        let work = percpu::take_work();
        if work & WORK_RESCHED != 0 || sched::timers_due() {
            sched::yield_now();
            interrupted = true;
        }
        if interrupted || signal::pending() {
            super::thread::rseq_fixup(sched::current(), frame);
            interrupted = false;
        }
        if !signal::deliver(frame) {
            break;
        }
    }
}

/// Runs syscall `nr` with its `handler` and returns the raw Linux result.
#[inline(always)]
pub fn invoke(nr: u64, handler: Option<table::Handler>, args: Args, path: u64) -> i64 {
    let tracing = FLAGS.load(Ordering::Relaxed) & FLAG_STRACE != 0;
    const EXIT: u64 = 60;
    const EXIT_GROUP: u64 = 231;
    let exits = nr == EXIT || nr == EXIT_GROUP;
    if tracing && exits {
        trace(nr, &args, 0, path);
    }
    let ret = match handler {
        Some(h) => match h(args) {
            Ok(v) => v as i64,
            Err(e) => -e.0,
        },
        // A refusal is Linux's own answer (docs/syscalls.md): nothing to report.
        None => match syscalls::refusal(nr) {
            Some(r) => -(r.errno as i64),
            None => {
                report_unsupported(nr, &args);
                -ENOSYS.0
            }
        },
    };
    if ret >= 0 && super::dnotify::active() {
        super::dnotify::after_call(nr);
    }
    if tracing && !exits {
        trace(nr, &args, ret, path);
    }
    ret
}

fn report_unsupported(nr: u64, args: &Args) {
    let slot = (nr as usize).min(MAX_SYSCALLS - 1);
    let bit = 1 << (slot % 64);
    if REPORTED[slot / 64].fetch_or(bit, Ordering::Relaxed) & bit == 0 {
        host::unsupported(nr, args);
    }
}

/// Sends one `--strace` record, with copies of the strings the arguments point to.
fn trace(nr: u64, args: &Args, ret: i64, path: u64) {
    const MAX_SHOWN: usize = 96;
    let fmt = syscalls::info(nr).map(|s| s.args).unwrap_or("");
    let mut strings: Vec<Vec<u8>> = Vec::new();
    for (i, c) in fmt.chars().enumerate().take(6) {
        match c {
            's' => strings.push(mm::read_cstr(args[i], 4096).unwrap_or_default()),
            'w' => {
                let len = (args.get(i + 1).copied().unwrap_or(0) as usize).min(MAX_SHOWN);
                let mut buf = alloc::vec![0u8; len];
                if mm::copy_from_user(args[i], &mut buf).is_err() {
                    buf.clear();
                }
                strings.push(buf);
            }
            _ => {}
        }
    }
    let refs: Vec<&[u8]> = strings.iter().map(|s| s.as_slice()).collect();
    host::strace(nr, args, ret, path, &refs);
}
