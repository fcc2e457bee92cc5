//! The signal frame Linux x86-64 builds on the program's stack
//! (`struct rt_sigframe`: return address, `ucontext`, `siginfo`, then the
//! `xsave` image the `ucontext` points to), and `rt_sigreturn`.
use super::{Action, Queued, SA_ONSTACK, UNBLOCKABLE};
use crate::arch::entry::Frame;
use crate::errno::{Errno, SysResult, EFAULT};
use crate::sched::Thread;
use crate::{arch, boot_info, mm};
use hx_abi::uapi;

pub const SS_ONSTACK: u32 = uapi::SS_ONSTACK;
pub const SS_DISABLE: u32 = uapi::SS_DISABLE;

// `struct rt_sigframe`: the return address, then a `ucontext`, then a `siginfo`.
const UC: u64 = 8;
const INFO: u64 = UC + core::mem::size_of::<uapi::ucontext>() as u64;
const FRAME_BYTES: u64 = INFO + core::mem::size_of::<uapi::siginfo_t>() as u64;

const UC_FP_XSTATE: u64 = uapi::UC_FP_XSTATE as u64;
const UC_SIGCONTEXT_SS: u64 = uapi::UC_SIGCONTEXT_SS as u64;
const UC_STRICT_RESTORE_SS: u64 = uapi::UC_STRICT_RESTORE_SS as u64;
const FP_XSTATE_MAGIC1: u32 = uapi::FP_XSTATE_MAGIC1;
const FP_XSTATE_MAGIC2: u32 = uapi::FP_XSTATE_MAGIC2;
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

/// The registers of `frame` as a `sigcontext` holds them.
fn to_sigcontext(f: &Frame) -> uapi::sigcontext {
    uapi::sigcontext {
        r8: f.r8,
        r9: f.r9,
        r10: f.r10,
        r11: f.r11,
        r12: f.r12,
        r13: f.r13,
        r14: f.r14,
        r15: f.r15,
        rdi: f.rdi,
        rsi: f.rsi,
        rbp: f.rbp,
        rbx: f.rbx,
        rdx: f.rdx,
        rax: f.rax,
        rcx: f.rcx,
        rsp: f.rsp,
        rip: f.rip,
        eflags: f.rflags,
        cs: hx_abi::layout::USER_CS,
        __bindgen_anon_1: uapi::sigcontext__bindgen_ty_1 { ss: hx_abi::layout::USER_DS },
        ..Default::default()
    }
}

/// The general registers of `sc` into `f` (flags are the caller's to filter).
fn from_sigcontext(f: &mut Frame, sc: &uapi::sigcontext) {
    (f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15) =
        (sc.r8, sc.r9, sc.r10, sc.r11, sc.r12, sc.r13, sc.r14, sc.r15);
    (f.rdi, f.rsi, f.rbp, f.rbx, f.rdx, f.rax, f.rcx) = (sc.rdi, sc.rsi, sc.rbp, sc.rbx, sc.rdx, sc.rax, sc.rcx);
    (f.rsp, f.rip) = (sc.rsp, sc.rip);
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
    let alt_state = if alt_flags & SS_DISABLE != 0 {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        0
    };
    let mut mcontext = to_sigcontext(frame);
    mcontext.trapno = q.fault[0];
    mcontext.err = q.fault[1];
    mcontext.cr2 = q.fault[2];
    mcontext.oldmask = old_mask;
    mcontext.fpstate = fpstate as *mut uapi::_fpstate_64;
    let uc = uapi::ucontext {
        uc_flags: UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS,
        uc_link: core::ptr::null_mut(),
        uc_stack: uapi::stack_t {
            ss_sp: alt_base as *mut core::ffi::c_void,
            ss_flags: alt_state as i32,
            ss_size: alt_size,
        },
        uc_mcontext: mcontext,
        uc_sigmask: old_mask,
    };
    mm::write_user(sp, &a.restorer)?;
    mm::write_user(sp + UC, &uc)?;
    mm::write_user(sp + INFO, &q.info)?;

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
    let uc: uapi::ucontext = match mm::read_user(frame.rsp) {
        Ok(uc) => uc,
        // Linux: a bad frame kills the process with SIGSEGV.
        Err(_) => crate::host::exit_signaled(super::SIGSEGV as u64),
    };
    let flags = frame.rflags;
    from_sigcontext(frame, &uc.uc_mcontext);
    frame.rflags = (flags & !USER_FLAGS) | (uc.uc_mcontext.eflags & USER_FLAGS);
    frame.orig_rax = u64::MAX;
    // The whole context comes back, flags included, whichever way sigreturn was called.
    frame.entry = crate::arch::entry::ENTRY_UPCALL;
    crate::rewrite::handler_returned();
    t.signals.lock().mask = uc.uc_sigmask & !UNBLOCKABLE;
    let st = uc.uc_stack;
    let _ = super::set_altstack(t, st.ss_sp as u64, st.ss_flags as u32, st.ss_size);
    let fpstate = uc.uc_mcontext.fpstate as u64;
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
