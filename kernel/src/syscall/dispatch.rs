//! From a trapped `syscall` to its handler and back, with `--strace`/`--stats`.
use super::{table, Args};
use crate::errno::ENOSYS;
use crate::{host, mm, stats};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::boot::FLAG_STRACE;
use hx_abi::hypercall::PATH_TRAP;
use hx_abi::syscalls::{self, MAX_SYSCALLS};

/// What the entry saved on the kernel stack (see `arch::entry`), lowest address first.
#[repr(C)]
pub struct TrapFrame {
    pub nr: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub r10: u64,
    pub r8: u64,
    pub r9: u64,
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rflags: u64,
    pub rip: u64,
    pub rsp: u64,
}

static FLAGS: AtomicU64 = AtomicU64::new(0);
/// Unimplemented syscalls already reported (one warning per number).
static REPORTED: [AtomicU64; MAX_SYSCALLS / 64] = [const { AtomicU64::new(0) }; MAX_SYSCALLS / 64];

pub fn init(flags: u64) {
    FLAGS.store(flags, Ordering::Relaxed);
}

/// Called by the trap-path entry with the saved registers; returns `rax`.
pub extern "C" fn dispatch(frame: &mut TrapFrame) -> i64 {
    let args = [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9];
    if (frame.nr as usize) < MAX_SYSCALLS {
        stats::count_trap(frame.nr as usize);
    }
    invoke(frame.nr, table::handler(frame.nr), args, PATH_TRAP)
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
        None => {
            report_unsupported(nr, &args);
            -ENOSYS.0
        }
    };
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
