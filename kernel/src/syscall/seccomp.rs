//! seccomp: a program's filters on its own system calls (`seccomp`,
//! `prctl(PR_SET_SECCOMP)`), with Linux's semantics: classic BPF programs
//! over `struct seccomp_data`, checked when installed, run on every call
//! (every path: trap, rewritten, the fast libc's vector) newest first, the
//! strictest action winning; strict mode; per thread, inherited by new
//! threads, `fork` and `execve`; `SECCOMP_FILTER_FLAG_TSYNC`.
//!
//! The guest kernel shares the program's privilege level, so a filter here
//! confines the program's well-behaved calls, as the program asked; it is
//! no boundary against the program itself (the monitor is that boundary).
//! User notification (a supervisor answering calls) is not there:
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER` is `EINVAL`, `SECCOMP_RET_USER_NOTIF`
//! without a listener `ENOSYS`, as on Linux.
use super::Args;
use crate::arch::entry::Frame;
use crate::errno::{Errno, SysResult, EACCES, EFAULT, EINVAL, ENOMEM, ENOSYS, EOPNOTSUPP, ESRCH};
use crate::{mm, sched};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

const SECCOMP_SET_MODE_STRICT: u64 = 0;
const SECCOMP_SET_MODE_FILTER: u64 = 1;
const SECCOMP_GET_ACTION_AVAIL: u64 = 2;
const SECCOMP_GET_NOTIF_SIZES: u64 = 3;
const FLAG_TSYNC: u64 = 1;
const FLAG_LOG: u64 = 2;
const FLAG_SPEC_ALLOW: u64 = 4;
const FLAG_TSYNC_ESRCH: u64 = 16;

pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_KILL_THREAD: u32 = 0;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ACTION_FULL: u32 = 0xffff_0000;
const RET_DATA: u32 = 0x0000_ffff;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// Linux's limits: instructions in one program, and in all of a thread's
/// (each program counting 4 more).
const BPF_MAXINSNS: usize = 4096;
const MAX_INSNS_PER_PATH: usize = 32768;
/// `struct seccomp_data`: nr, arch, instruction_pointer, args[6].
const DATA_SIZE: u32 = 64;

/// One classic BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A thread's filters: the newest, with the ones before it.
pub struct Filter {
    insns: Vec<Insn>,
    prev: Option<Arc<Filter>>,
    /// `SECCOMP_FILTER_FLAG_LOG`: actions other than ALLOW are logged.
    log: bool,
}

/// What confines a thread.
#[derive(Clone, Default)]
pub enum Mode {
    #[default]
    None,
    /// Only read, write, exit and rt_sigreturn.
    Strict,
    Filter(Arc<Filter>),
}

/// Whether any thread of this process was ever confined (the common case
/// costs one load per call).
static ANY: AtomicBool = AtomicBool::new(false);

fn check_program(insns: &[Insn]) -> Result<(), Errno> {
    // Classic BPF opcodes (linux/filter.h) by class, with seccomp's rule
    // that loads read `seccomp_data` by aligned words only.
    const ALU: u16 = 0x04;
    const JMP: u16 = 0x05;
    const RET: u16 = 0x06;
    let n = insns.len();
    if n == 0 || n > BPF_MAXINSNS {
        return Err(EINVAL);
    }
    for (pc, i) in insns.iter().enumerate() {
        let ok = match i.code {
            // ld w abs (aligned, inside seccomp_data); ld/ldx len; ld/ldx imm; ld/ldx mem
            0x20 => i.k < DATA_SIZE && i.k % 4 == 0,
            0x80 | 0x81 => true,
            0x00 | 0x01 => true,
            0x60 | 0x61 | 0x02 | 0x03 => i.k < 16,
            // alu: add sub mul div or and lsh rsh neg mod xor, with k or x
            c if c & 0x07 == ALU => {
                let op = c & 0xf0;
                let k_form = c & 0x08 == 0;
                matches!(op, 0x00 | 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0x80 | 0x90 | 0xa0)
                    && c & !0xf8 == ALU
                    && !(k_form && matches!(op, 0x30 | 0x90) && i.k == 0)
            }
            // ja; jeq jgt jge jset with k or x
            0x05 => (pc + 1).checked_add(i.k as usize).is_some_and(|t| t < n),
            c if c & 0x07 == JMP => {
                matches!(c & 0xf0, 0x10 | 0x20 | 0x30 | 0x40)
                    && c & !0xf8 == JMP
                    && pc + 1 + (i.jt as usize) < n
                    && pc + 1 + (i.jf as usize) < n
            }
            // ret k, ret a
            0x06 | 0x16 => true,
            // tax, txa
            0x07 | 0x87 => true,
            _ => false,
        };
        if !ok {
            return Err(EINVAL);
        }
    }
    if insns[n - 1].code & 0x07 != RET {
        return Err(EINVAL);
    }
    Ok(())
}

/// Runs one program over `data` (the words of `seccomp_data`).
fn run(insns: &[Insn], data: &[u32; 16]) -> u32 {
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    // Every jump goes forward (checked at install): at most one pass.
    while let Some(i) = insns.get(pc) {
        pc += 1;
        let k = i.k;
        let src = if i.code & 0x08 != 0 { x } else { k };
        match i.code {
            0x20 => a = data[(k / 4) as usize],
            0x80 => a = DATA_SIZE,
            0x81 => x = DATA_SIZE,
            0x00 => a = k,
            0x01 => x = k,
            0x60 => a = mem[k as usize & 15],
            0x61 => x = mem[k as usize & 15],
            0x02 => mem[k as usize & 15] = a,
            0x03 => mem[k as usize & 15] = x,
            0x06 => return k,
            0x16 => return a,
            0x07 => x = a,
            0x87 => a = x,
            0x05 => pc += k as usize,
            c if c & 0x07 == 0x04 => {
                a = match c & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a.checked_div(src).unwrap_or(0),
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.checked_shl(src).unwrap_or(0),
                    0x70 => a.checked_shr(src).unwrap_or(0),
                    0x80 => a.wrapping_neg(),
                    0x90 => a.checked_rem(src).unwrap_or(0),
                    _ => a ^ src,
                }
            }
            c => {
                let taken = match c & 0xf0 {
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    _ => a & src != 0,
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
        }
    }
    RET_KILL_PROCESS
}

/// What the filters say of a call: the action and its data.
fn decide(filter: &Filter, nr: u64, args: &Args, ip: u64) -> u32 {
    let mut data = [0u32; 16];
    data[0] = nr as u32;
    data[1] = AUDIT_ARCH_X86_64;
    data[2] = ip as u32;
    data[3] = (ip >> 32) as u32;
    for (i, a) in args.iter().enumerate() {
        data[4 + 2 * i] = *a as u32;
        data[5 + 2 * i] = (*a >> 32) as u32;
    }
    let mut verdict = RET_ALLOW;
    let mut at = Some(filter);
    while let Some(f) = at {
        let r = run(&f.insns, &data);
        // The strictest wins: actions compare as signed numbers.
        if ((r & RET_ACTION_FULL) as i32) < ((verdict & RET_ACTION_FULL) as i32) {
            verdict = r;
        }
        at = f.prev.as_deref();
    }
    verdict
}

/// Before syscall `nr` runs: `None` to run it, else the value it returns
/// instead (the thread may be ended or signalled here).
pub fn before(frame: &Frame, nr: u64, args: &Args) -> Option<i64> {
    if !ANY.load(Ordering::Relaxed) {
        return None;
    }
    let mode = sched::current().seccomp.lock().clone();
    match mode {
        Mode::None => None,
        Mode::Strict => {
            const READ: u64 = 0;
            const WRITE: u64 = 1;
            const RT_SIGRETURN: u64 = 15;
            const EXIT: u64 = 60;
            if matches!(nr, READ | WRITE | RT_SIGRETURN | EXIT) {
                None
            } else {
                crate::host::exit_signaled(9) // SIGKILL
            }
        }
        Mode::Filter(f) => {
            let verdict = decide(&f, nr, args, frame.rip);
            let data = verdict & RET_DATA;
            match verdict & RET_ACTION_FULL {
                RET_ALLOW => None,
                RET_LOG => None,
                RET_ERRNO => Some(-(data.min(4095) as i64)),
                RET_TRAP => {
                    crate::signal::seccomp_trap(frame.rip, nr, AUDIT_ARCH_X86_64, data);
                    // Skipped without a return value: rax keeps the call's
                    // number, as on Linux (a SIGSYS handler sets its own).
                    Some(nr as i64)
                }
                // No tracer, no listener: the call fails (Linux's answer).
                RET_TRACE | RET_USER_NOTIF => Some(-ENOSYS.0),
                RET_KILL_THREAD if sched::threads().len() > 1 => {
                    super::thread::exit_bookkeeping(sched::current());
                    sched::exit_thread(31 /* SIGSYS */)
                }
                _ => crate::host::exit_signaled(31),
            }
        }
    }
}

fn install(mode: Mode, sync: bool) -> Result<(), Errno> {
    let me = sched::current();
    let threads = if sync { sched::threads() } else { alloc::vec![sched::current_arc()] };
    if sync {
        // TSYNC: every thread must have this thread's filters as ancestors
        // (none has diverged); else the first that did is named.
        let mine = me.seccomp.lock().clone();
        for t in &threads {
            let theirs = t.seccomp.lock().clone();
            let same = match (&mine, &theirs) {
                (_, Mode::None) => true,
                (Mode::Filter(a), Mode::Filter(b)) => descends(a, b),
                _ => false,
            };
            if !same {
                return Err(Errno(t.tid as i64));
            }
        }
    }
    ANY.store(true, Ordering::Relaxed);
    for t in threads {
        *t.seccomp.lock() = mode.clone();
    }
    Ok(())
}

/// Whether `b` is `a` or one of the filters before it.
fn descends(a: &Arc<Filter>, b: &Arc<Filter>) -> bool {
    let mut at = Some(a);
    while let Some(f) = at {
        if Arc::ptr_eq(f, b) {
            return true;
        }
        at = f.prev.as_ref();
    }
    false
}

fn may_install() -> Result<(), Errno> {
    if super::process::no_new_privs() || super::cred::capable(hx_abi::uapi::CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(EACCES)
    }
}

/// A `struct sock_fprog` from the program: its instructions.
fn read_program(fprog: u64) -> Result<Vec<Insn>, Errno> {
    if fprog == 0 {
        return Err(EFAULT);
    }
    let [len, ptr]: [u64; 2] = mm::read_user(fprog)?;
    let len = (len & 0xffff) as usize;
    if len == 0 || len > BPF_MAXINSNS {
        return Err(EINVAL);
    }
    let mut insns = alloc::vec![Insn::default(); len];
    // SAFETY: Insn is plain integers (8 bytes, no padding); the buffer is ours.
    let bytes = unsafe { core::slice::from_raw_parts_mut(insns.as_mut_ptr().cast::<u8>(), len * 8) };
    mm::copy_from_user(ptr, bytes)?;
    Ok(insns)
}

fn add_filter(flags: u64, fprog: u64) -> SysResult {
    if flags & !(FLAG_TSYNC | FLAG_LOG | FLAG_SPEC_ALLOW | FLAG_TSYNC_ESRCH) != 0 {
        return Err(EINVAL);
    }
    let insns = read_program(fprog)?;
    check_program(&insns)?;
    may_install()?;
    let prev = match sched::current().seccomp.lock().clone() {
        Mode::Filter(f) => Some(f),
        Mode::Strict => return Err(EINVAL),
        Mode::None => None,
    };
    let mut total = insns.len() + 4;
    let mut at = prev.as_deref();
    while let Some(f) = at {
        total += f.insns.len() + 4;
        at = f.prev.as_deref();
    }
    if total > MAX_INSNS_PER_PATH {
        return Err(ENOMEM);
    }
    let filter = Arc::new(Filter { insns, prev, log: flags & FLAG_LOG != 0 });
    match install(Mode::Filter(filter), flags & FLAG_TSYNC != 0) {
        Ok(()) => Ok(0),
        // TSYNC names the thread that could not follow (or ESRCH if asked).
        Err(Errno(tid)) if flags & FLAG_TSYNC != 0 && tid > 0 => {
            if flags & FLAG_TSYNC_ESRCH != 0 {
                Err(ESRCH)
            } else {
                Ok(tid as u64)
            }
        }
        Err(e) => Err(e),
    }
}

fn strict() -> SysResult {
    if matches!(*sched::current().seccomp.lock(), Mode::Filter(_)) {
        return Err(EINVAL);
    }
    install(Mode::Strict, false).map(|()| 0)
}

/// `seccomp(operation, flags, args)`.
pub fn seccomp([op, flags, args, ..]: Args) -> SysResult {
    match op {
        SECCOMP_SET_MODE_STRICT if flags == 0 && args == 0 => strict(),
        SECCOMP_SET_MODE_FILTER => add_filter(flags, args),
        SECCOMP_GET_ACTION_AVAIL if flags == 0 => {
            let action: u32 = mm::read_user(args)?;
            match action {
                RET_KILL_PROCESS | RET_KILL_THREAD | RET_TRAP | RET_ERRNO | RET_TRACE | RET_LOG | RET_ALLOW => Ok(0),
                _ => Err(EOPNOTSUPP),
            }
        }
        // struct seccomp_notif_sizes: the notification, the response, seccomp_data.
        SECCOMP_GET_NOTIF_SIZES if flags == 0 => mm::write_user(args, &[80u16, 24, 64]).map(|_| 0),
        _ => Err(EINVAL),
    }
}

/// `prctl(PR_GET_SECCOMP)`: 0, 1 (strict) or 2 (filters).
pub fn mode_number() -> u64 {
    of_thread(sched::current()).0
}

/// A thread's mode (as `mode_number`) and how many filters it has
/// (`/proc/<pid>/status`'s `Seccomp` and `Seccomp_filters`).
pub fn of_thread(t: &sched::Thread) -> (u64, u64) {
    match &*t.seccomp.lock() {
        Mode::None => (0, 0),
        Mode::Strict => (1, 0),
        Mode::Filter(f) => {
            let (mut n, mut at) = (0, Some(&**f));
            while let Some(x) = at {
                n += 1;
                at = x.prev.as_deref();
            }
            (2, n)
        }
    }
}

/// `prctl(PR_SET_SECCOMP, mode, fprog)`.
pub fn set_by_prctl(mode: u64, fprog: u64) -> SysResult {
    match mode {
        1 => strict(),
        2 => add_filter(0, fprog),
        _ => Err(EINVAL),
    }
}

/// The calling thread's filters as bytes for the next image (`execve`
/// keeps them): for each program, oldest first, its length and its
/// instructions; a leading word says strict (1) or filters (2).
pub fn for_exec() -> Vec<u8> {
    let mut out = Vec::new();
    match sched::current().seccomp.lock().clone() {
        Mode::None => {}
        Mode::Strict => out.extend_from_slice(&1u32.to_le_bytes()),
        Mode::Filter(f) => {
            out.extend_from_slice(&2u32.to_le_bytes());
            let mut chain = Vec::new();
            let mut at = Some(&*f);
            while let Some(x) = at {
                chain.push(x);
                at = x.prev.as_deref();
            }
            for x in chain.iter().rev() {
                out.extend_from_slice(&(x.insns.len() as u32 | u32::from(x.log) << 31).to_le_bytes());
                for i in &x.insns {
                    out.extend_from_slice(&i.code.to_le_bytes());
                    out.extend_from_slice(&[i.jt, i.jf]);
                    out.extend_from_slice(&i.k.to_le_bytes());
                }
            }
        }
    }
    out
}

/// At boot after `execve`: the old image's filters on the first thread
/// `main` (read from the memory file it left, which is closed); a process
/// whose filters cannot be read back ends (SIGKILL) rather than run without them.
pub fn init_from_exec(main: &sched::Thread, exec: &hx_abi::boot::ExecState) {
    if exec.seccomp_len == 0 {
        return;
    }
    let len = exec.seccomp_len.min(hx_abi::boot::MAX_SECCOMP_BYTES) as usize;
    let mut bytes = alloc::vec![0u8; len];
    let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::PREAD);
    req.args[0] = exec.seccomp_handle;
    req.nsegs = 1;
    req.segs[0] = crate::host::kernel_segment(bytes.as_mut_ptr() as u64, len);
    let read = crate::host::result(crate::host::call(&mut req));
    crate::host::close(exec.seccomp_handle);
    match read.ok().filter(|&n| n as usize == len).map(|_| parse(&bytes)) {
        Some(Ok(mode)) => {
            ANY.store(true, Ordering::Relaxed);
            *main.seccomp.lock() = mode;
        }
        _ => {
            crate::host::log(b"execve: the seccomp filters could not be carried over: the process is killed");
            crate::host::exit_signaled(9)
        }
    }
}

/// What [`for_exec`] wrote, as a mode; a malformed record is an error.
fn parse(bytes: &[u8]) -> Result<Mode, Errno> {
    let word = |at: usize| bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    Ok(match word(0) {
        None => Mode::None,
        Some(1) => Mode::Strict,
        Some(2) => {
            let mut prev: Option<Arc<Filter>> = None;
            let mut at = 4;
            while at < bytes.len() {
                let head = word(at).ok_or(EINVAL)?;
                let (n, log) = ((head & 0x7fff_ffff) as usize, head >> 31 != 0);
                at += 4;
                let body = bytes.get(at..at + n * 8).ok_or(EINVAL)?;
                let insns: Vec<Insn> = body
                    .chunks_exact(8)
                    .map(|c| Insn {
                        code: u16::from_le_bytes([c[0], c[1]]),
                        jt: c[2],
                        jf: c[3],
                        k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
                    })
                    .collect();
                check_program(&insns)?;
                at += n * 8;
                prev = Some(Arc::new(Filter { insns, prev, log }));
            }
            Mode::Filter(prev.ok_or(EINVAL)?)
        }
        Some(_) => return Err(EINVAL),
    })
}
