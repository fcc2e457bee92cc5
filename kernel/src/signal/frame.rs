//! The signal frame Linux x86-64 builds on the program's stack
//! (`struct rt_sigframe`: return address, `ucontext`, `siginfo`, then the
//! `xsave` image the `ucontext` points to), and `rt_sigreturn`.
use super::{Action, Queued, SA_ONSTACK, UNBLOCKABLE};
use crate::arch::entry::Frame;
use crate::errno::{Errno, SysResult, EFAULT};
use crate::sched::Thread;
use crate::{arch, boot_info, mm};

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;

// Offsets in `struct rt_sigframe`.
const UC: u64 = 8;
const UC_SIZE: usize = 304;
const INFO: u64 = UC + UC_SIZE as u64;
const FRAME_BYTES: u64 = INFO + 128;
// Offsets in `struct ucontext`.
const UC_FLAGS: usize = 0;
const UC_STACK: usize = 16;
const UC_MCONTEXT: usize = 40;
const UC_SIGMASK: usize = 296;
// In `struct sigcontext` (= glibc's gregs order).
const SC_EFLAGS: usize = 17;
const SC_CSGSFS: usize = 18;
const SC_ERR: usize = 19;
const SC_TRAPNO: usize = 20;
const SC_OLDMASK: usize = 21;
const SC_CR2: usize = 22;
const SC_FPSTATE: usize = 23;

const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;
const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// The flags a program may change through `rt_sigreturn`.
const USER_FLAGS: u64 = 0x50dd5;
/// Flags cleared for a handler: TF, DF, RF, AC.
const HANDLER_CLEARS: u64 = 0x100 | 0x400 | 0x1_0000 | 0x4_0000;

fn xsave_size() -> u64 {
    boot_info().xsave_size.max(576)
}

fn xcr0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: xgetbv(0) reads XCR0; CR4.OSXSAVE is set.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (hi as u64) << 32 | lo as u64
}

/// The general registers in `struct sigcontext` order.
fn gregs(f: &Frame) -> [u64; 17] {
    [
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx, f.rax, f.rcx, f.rsp,
        f.rip,
    ]
}

fn set_gregs(f: &mut Frame, g: &[u64]) {
    [
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15, f.rdi, f.rsi, f.rbp, f.rbx, f.rdx, f.rax, f.rcx, f.rsp,
        f.rip,
    ] = [g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15], g[16]];
}

fn on_altstack(t: &Thread, sp: u64) -> bool {
    let (base, flags, size) = t.signals.lock().altstack;
    flags & SS_DISABLE == 0 && sp > base && sp - base <= size
}

/// Builds the frame for `q`'s handler `a` on the program's stack and points
/// `frame` at the handler.
pub fn push(frame: &mut Frame, t: &Thread, q: &Queued, a: &Action, old_mask: u64) -> Result<(), Errno> {
    let (alt_base, alt_flags, alt_size) = t.signals.lock().altstack;
    let on_alt = on_altstack(t, frame.rsp);
    let mut sp = if a.flags & SA_ONSTACK != 0 && alt_flags & SS_DISABLE == 0 && !on_alt {
        alt_base + alt_size
    } else {
        frame.rsp.wrapping_sub(128) // the red zone
    };
    // The vector state: the program's, except xmm0-15, which the entry saved in `frame`.
    let size = xsave_size();
    sp = (sp - size - 4) & !63;
    let fpstate = sp;
    let area = t.xsave_scratch();
    arch::xsave(area);
    // SAFETY: `area` is the thread's own xsave buffer of `size` bytes (unused while it runs).
    let image = unsafe { core::slice::from_raw_parts_mut(area as *mut u8, size as usize) };
    for (i, x) in frame.xmm.iter().enumerate() {
        image[160 + 16 * i..168 + 16 * i].copy_from_slice(&x[0].to_le_bytes());
        image[168 + 16 * i..176 + 16 * i].copy_from_slice(&x[1].to_le_bytes());
    }
    let bv = u64::from_le_bytes(image[512..520].try_into().unwrap_or_default()) | 2;
    image[512..520].copy_from_slice(&bv.to_le_bytes());
    // `struct _fpx_sw_bytes`: says the image is an xsave one, and how large.
    image[464..468].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
    image[468..472].copy_from_slice(&((size + 4) as u32).to_le_bytes());
    image[472..480].copy_from_slice(&xcr0().to_le_bytes());
    image[480..484].copy_from_slice(&(size as u32).to_le_bytes());
    mm::copy_to_user(fpstate, image).map_err(|_| EFAULT)?;
    mm::write_user(fpstate + size, &FP_XSTATE_MAGIC2)?;

    sp = ((sp - FRAME_BYTES) & !15) - 8;
    let mut uc = [0u64; UC_SIZE / 8];
    uc[UC_FLAGS / 8] = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
    uc[UC_STACK / 8] = alt_base;
    uc[UC_STACK / 8 + 1] = if alt_flags & SS_DISABLE != 0 {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        0
    } as u64;
    uc[UC_STACK / 8 + 2] = alt_size;
    let mc = UC_MCONTEXT / 8;
    uc[mc..mc + 17].copy_from_slice(&gregs(frame));
    uc[mc + SC_EFLAGS] = frame.rflags;
    uc[mc + SC_CSGSFS] = hx_abi::layout::USER_CS as u64 | (hx_abi::layout::USER_DS as u64) << 48;
    uc[mc + SC_ERR] = q.fault[1];
    uc[mc + SC_TRAPNO] = q.fault[0];
    uc[mc + SC_OLDMASK] = old_mask;
    uc[mc + SC_CR2] = q.fault[2];
    uc[mc + SC_FPSTATE] = fpstate;
    uc[UC_SIGMASK / 8] = old_mask;
    mm::write_user(sp, &a.restorer)?;
    let bytes: alloc::vec::Vec<u8> = uc.iter().flat_map(|w| w.to_le_bytes()).collect();
    mm::copy_to_user(sp + UC, &bytes)?;
    mm::copy_to_user(sp + INFO, &q.info)?;

    frame.rdi = q.sig as u64;
    frame.rsi = sp + INFO;
    frame.rdx = sp + UC;
    frame.rax = 0;
    frame.rsp = sp;
    frame.rip = a.handler;
    frame.rflags &= !HANDLER_CLEARS;
    frame.orig_rax = u64::MAX;
    // The handler starts with a clean vector state, as on Linux.
    arch::fpu_init();
    frame.xmm = [[0; 2]; 16];
    Ok(())
}

/// `rt_sigreturn`: the registers, mask, alternate stack and vector state
/// from the `ucontext` at the program's `rsp`.
pub fn sigreturn(frame: &mut Frame, t: &Thread) -> SysResult {
    let uc_addr = frame.rsp;
    let mut raw = [0u8; UC_SIZE];
    if mm::copy_from_user(uc_addr, &mut raw).is_err() {
        // Linux: a bad frame kills the process with SIGSEGV.
        crate::host::exit_signaled(super::SIGSEGV as u64);
    }
    let mut uc = [0u64; UC_SIZE / 8];
    for (w, b) in uc.iter_mut().zip(raw.chunks_exact(8)) {
        *w = u64::from_le_bytes(b.try_into().unwrap_or_default());
    }
    let mc = UC_MCONTEXT / 8;
    let flags = frame.rflags;
    set_gregs(frame, &uc[mc..mc + 17]);
    frame.rflags = (flags & !USER_FLAGS) | (uc[mc + SC_EFLAGS] & USER_FLAGS);
    frame.orig_rax = u64::MAX;
    t.signals.lock().mask = uc[UC_SIGMASK / 8] & !UNBLOCKABLE;
    let _ = super::set_altstack(t, uc[UC_STACK / 8], uc[UC_STACK / 8 + 1] as u32, uc[UC_STACK / 8 + 2]);
    let fpstate = uc[mc + SC_FPSTATE];
    if fpstate != 0 {
        restore_vector_state(frame, t, fpstate)?;
    }
    Ok(frame.rax)
}

/// Loads the program's saved vector image, made safe for `xrstor` first
/// (bad bits in it would fault in the kernel).
fn restore_vector_state(frame: &mut Frame, t: &Thread, fpstate: u64) -> Result<(), Errno> {
    let size = xsave_size();
    let area = t.xsave_scratch();
    // SAFETY: the thread's own xsave buffer of `size` bytes.
    let image = unsafe { core::slice::from_raw_parts_mut(area as *mut u8, size as usize) };
    mm::copy_from_user(fpstate, image)?;
    let word = |image: &[u8], at: usize| u64::from_le_bytes(image[at..at + 8].try_into().unwrap_or_default());
    let bv = word(image, 512) & xcr0();
    image[512..520].copy_from_slice(&bv.to_le_bytes());
    image[520..576].fill(0); // xcomp_bv and reserved: standard format
    let mxcsr_mask = match u32::from_le_bytes(image[28..32].try_into().unwrap_or_default()) {
        0 => 0xffbf,
        m => m,
    };
    let mxcsr = u32::from_le_bytes(image[24..28].try_into().unwrap_or_default()) & mxcsr_mask;
    image[24..28].copy_from_slice(&mxcsr.to_le_bytes());
    arch::xrstor(area);
    for (i, x) in frame.xmm.iter_mut().enumerate() {
        *x = [word(image, 160 + 16 * i), word(image, 168 + 16 * i)];
    }
    Ok(())
}
