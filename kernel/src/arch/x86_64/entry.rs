//! Ways into the kernel at CPL3 and back out: the boot entry, the trap-path
//! syscall entry, the syscall vector's entry, the monitor's upcall entry, a
//! new thread's first return to the program, and the kernel-stack switch.
//!
//! Every way in saves the program's registers as one [`Frame`] at the top of
//! the running thread's kernel stack, and every way out goes through
//! `hx_return_to_user`, which restores a `Frame` exactly. So a signal handler,
//! `sigreturn`, a new thread or a preempted one are all just a `Frame`.
//!
//! The syscall entry never touches the program's stack (a leaf function may
//! keep data in its red zone below `rsp`): it parks `rsp` in this vCPU's
//! `PerCpu` (`%gs:`) and switches to the thread's kernel stack first.
//! `syscall` preserves every register but `rax`, `rcx` and `r11`, vector
//! registers included, so the entry saves `xmm0`–`xmm15` (the kernel is
//! compiled for SSE2 only); the rest of the vector state is saved with
//! `xsave` when a thread is switched out.
use hx_abi::percpu::{
    OFF_KSTACK_TOP, OFF_SCRATCH_RIP, OFF_SCRATCH_RSP, OFF_UPCALL_RFLAGS, OFF_UPCALL_RIP, OFF_UPCALL_RSP,
};

/// How the program entered the kernel (`Frame::entry`).
pub const ENTRY_TRAP: u64 = 0;
pub const ENTRY_VECTOR: u64 = 1;
pub const ENTRY_UPCALL: u64 = 2;
/// From a rewritten `syscall` instruction's stub (`crate::rewrite`): in
/// every other respect a trap-path entry.
pub const ENTRY_REWRITE: u64 = 3;

/// The program's registers, as every entry saves them, lowest address first.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Frame {
    pub xmm: [[u64; 2]; 16],
    /// The syscall's result on the way out.
    pub rax: u64,
    /// The syscall number (-1 for an upcall): what a restarted syscall needs.
    pub orig_rax: u64,
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
    pub rcx: u64,
    pub r11: u64,
    pub rflags: u64,
    pub rip: u64,
    pub rsp: u64,
    pub entry: u64,
}

pub const FRAME_SIZE: usize = core::mem::size_of::<Frame>();
// The entries push exactly these words, and keep the stack 16-byte aligned.
const _: () = assert!(FRAME_SIZE == 256 + 20 * 8 && FRAME_SIZE.is_multiple_of(16));

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
_start:
    /* rdi = boot info (virtual), rsi = vCPU index, rsp = the vCPU's idle
       stack, GS base = its PerCpu: all set by the monitor. */
    xor %ebp, %ebp
    call {kmain}
    ud2

    /* The frame's general registers, from `entry` down to `rax`. */
    .macro hx_push_gprs
    push %r11
    push %rcx
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %r9
    push %r8
    push %r10
    push %rdx
    push %rsi
    push %rdi
    .endm

    .macro hx_save_xmm
    sub $256, %rsp
    movdqa %xmm0, 0x00(%rsp)
    movdqa %xmm1, 0x10(%rsp)
    movdqa %xmm2, 0x20(%rsp)
    movdqa %xmm3, 0x30(%rsp)
    movdqa %xmm4, 0x40(%rsp)
    movdqa %xmm5, 0x50(%rsp)
    movdqa %xmm6, 0x60(%rsp)
    movdqa %xmm7, 0x70(%rsp)
    movdqa %xmm8, 0x80(%rsp)
    movdqa %xmm9, 0x90(%rsp)
    movdqa %xmm10, 0xa0(%rsp)
    movdqa %xmm11, 0xb0(%rsp)
    movdqa %xmm12, 0xc0(%rsp)
    movdqa %xmm13, 0xd0(%rsp)
    movdqa %xmm14, 0xe0(%rsp)
    movdqa %xmm15, 0xf0(%rsp)
    .endm

    /* Trap path: rcx = program rip, r11 = program rflags, rsp = program rsp. */
    .globl hx_syscall_entry
    .balign 16
hx_syscall_entry:
    mov %rsp, %gs:{scratch_rsp}
    mov %gs:{kstack_top}, %rsp
    pushq ${entry_trap}
hx_syscall_save:
    pushq %gs:{scratch_rsp}
    push %rcx
    push %r11
    hx_push_gprs
    push %rax
    push %rax
    hx_save_xmm
    cld
    mov %rsp, %rdi
    call {from_program}
    jmp hx_return_to_user

    /* A rewritten `syscall`'s stub jumps here with what the instruction
       leaves: rcx = the program's rip after it, r11 = its rflags, rsp = its
       rsp. The flags `syscall` would clear (SFMASK) are cleared here. */
    .globl hx_rewrite_entry
    .balign 16
hx_rewrite_entry:
    mov %rsp, %gs:{scratch_rsp}
    mov %gs:{kstack_top}, %rsp
    pushq $0x202
    popfq
    pushq ${entry_rewrite}
    jmp hx_syscall_save

    /* Hardware KVM: the CPL0 stub (cpl0.rs) sysrets here with the program's rip parked. */
    .globl hx_syscall_from_cpl0
hx_syscall_from_cpl0:
    mov hx_cpl0_saved_rip(%rip), %rcx
    jmp hx_syscall_entry

    /* The vector: a C call with the arguments in rdi, rsi, rdx, rcx, r8, r9
       and the syscall number in eax (set by the entry's stub below). */
    .balign 16
hx_vector_common:
    mov %rsp, %r11
    mov %gs:{kstack_top}, %rsp
    pushq ${entry_vector}
    lea 8(%r11), %r10
    push %r10               /* rsp once returned */
    pushq (%r11)            /* rip: the return address */
    pushq $0x202            /* rflags: a C call keeps none (pushfq is slow) */
    push %r11
    push %rcx
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    push %r9
    push %r8
    push %rcx               /* the 4th argument, where the syscall ABI has it */
    push %rdx
    push %rsi
    push %rdi
    push %rax
    push %rax
    sub $256, %rsp          /* vector registers are the caller's to save */
    cld
    mov %rsp, %rdi
    call {from_program}
    jmp hx_return_to_user

    /* The monitor stopped the program (preemption, a fault, a signal): it
       set rsp = the thread's kernel stack top and parked the program's rip,
       rsp and rflags in the PerCpu; every other register is the program's. */
    .globl hx_upcall_entry
    .balign 16
hx_upcall_entry:
    pushq ${entry_upcall}
    pushq %gs:{upcall_rsp}
    pushq %gs:{upcall_rip}
    pushq %gs:{upcall_rflags}
    hx_push_gprs
    pushq $-1
    push %rax
    hx_save_xmm
    cld
    mov %rsp, %rdi
    call {from_upcall}
    jmp hx_return_to_user

    /* A new thread's first run: hx_switch "returns" here with rsp = its frame. */
    .globl hx_thread_start
hx_thread_start:
    mov %rsp, %rdi
    call {thread_start}
    jmp hx_return_to_user

    /* hx_resume(frame): the thread's frame at its kernel stack top, from
       any depth of kernel calls (what they left on the stack is dropped). */
    .globl hx_resume
hx_resume:
    mov %rdi, %rsp
    jmp hx_return_to_user

    /* rsp = a Frame: restore it exactly and jump back into the program. */
    .globl hx_return_to_user
hx_return_to_user:
    /* A C call (the vector) keeps neither vector registers nor flags: skip
       their restore (and popfq, which is slow on virtualised hosts). */
    cmpq ${entry_vector}, {entry_at}(%rsp)
    je 2f
    movdqa 0x00(%rsp), %xmm0
    movdqa 0x10(%rsp), %xmm1
    movdqa 0x20(%rsp), %xmm2
    movdqa 0x30(%rsp), %xmm3
    movdqa 0x40(%rsp), %xmm4
    movdqa 0x50(%rsp), %xmm5
    movdqa 0x60(%rsp), %xmm6
    movdqa 0x70(%rsp), %xmm7
    movdqa 0x80(%rsp), %xmm8
    movdqa 0x90(%rsp), %xmm9
    movdqa 0xa0(%rsp), %xmm10
    movdqa 0xb0(%rsp), %xmm11
    movdqa 0xc0(%rsp), %xmm12
    movdqa 0xd0(%rsp), %xmm13
    movdqa 0xe0(%rsp), %xmm14
    movdqa 0xf0(%rsp), %xmm15
2:  add $256, %rsp
    pop %rax
    add $8, %rsp            /* orig_rax */
    pop %rdi
    pop %rsi
    pop %rdx
    pop %r10
    pop %r8
    pop %r9
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    pop %rcx
    pop %r11
    cmpq ${entry_vector}, 24(%rsp)   /* the frame's `entry`, past rflags, rip, rsp */
    je 1f
    popfq
    popq %gs:{scratch_rip}
    pop %rsp
    jmp *%gs:{scratch_rip}
1:  add $8, %rsp
    popq %gs:{scratch_rip}
    pop %rsp
    jmp *%gs:{scratch_rip}

    /* hx_switch(&prev_saved_rsp, next_saved_rsp): the kernel-stack switch.
       Only callee-saved registers travel; the caller saves the rest. */
    .globl hx_switch
    .balign 16
hx_switch:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    /* The vector's entries: one 16-byte stub per syscall number. */
    .balign 16
    .globl hx_vector_stubs
hx_vector_stubs:
    .set hx_nr, 0
    .rept {max}
    .balign 16
    mov $hx_nr, %eax
    jmp hx_vector_common
    .set hx_nr, hx_nr + 1
    .endr

    .section .rodata.hx_vector, "a"
    .balign 8
    .globl HX_SYSCALL_VECTOR
HX_SYSCALL_VECTOR:
    .set hx_nr, 0
    .rept {max}
    .quad hx_vector_stubs + 16 * hx_nr
    .set hx_nr, hx_nr + 1
    .endr

    .bss
    .balign 16
    .globl hx_cpl0_saved_rip
hx_cpl0_saved_rip: .quad 0
    .text
"#,
    kmain = sym crate::kmain,
    from_program = sym crate::syscall::dispatch::from_program,
    from_upcall = sym crate::sched::upcall::from_upcall,
    thread_start = sym crate::sched::thread_start,
    scratch_rsp = const OFF_SCRATCH_RSP,
    scratch_rip = const OFF_SCRATCH_RIP,
    kstack_top = const OFF_KSTACK_TOP,
    upcall_rip = const OFF_UPCALL_RIP,
    upcall_rsp = const OFF_UPCALL_RSP,
    upcall_rflags = const OFF_UPCALL_RFLAGS,
    entry_trap = const ENTRY_TRAP,
    entry_vector = const ENTRY_VECTOR,
    entry_upcall = const ENTRY_UPCALL,
    entry_rewrite = const ENTRY_REWRITE,
    max = const hx_abi::syscalls::MAX_SYSCALLS,
    entry_at = const core::mem::offset_of!(Frame, entry),
    options(att_syntax)
);

extern "C" {
    fn hx_resume(frame: *mut Frame) -> !;
    fn hx_switch(prev_rsp: *mut u64, next_rsp: u64);
    fn hx_thread_start();
    static hx_vector_stubs: u8;
}

/// Returns to the program with `frame`, abandoning the kernel calls below.
///
/// # Safety
/// `frame` must be the current thread's frame at its kernel stack top, and
/// nothing on the stack below it may still be needed (no lock held there).
pub unsafe fn resume(frame: *mut Frame) -> ! {
    // SAFETY: see the function's contract.
    unsafe { hx_resume(frame) }
}

/// Switches kernel stacks: saves the callee-saved registers and `rsp` into
/// `*prev_rsp` and resumes the context saved at `next_rsp`.
///
/// # Safety
/// `next_rsp` must be a context saved by `switch` or made by [`new_context`].
pub unsafe fn switch(prev_rsp: *mut u64, next_rsp: u64) {
    // SAFETY: see the function's contract; hx_switch follows the C ABI.
    unsafe { hx_switch(prev_rsp, next_rsp) }
}

/// A kernel stack whose first switch-in returns to the program with `frame`:
/// the frame at the top, under it a switch context that "returns" to
/// `hx_thread_start`. Returns the saved `rsp` for [`switch`].
pub fn new_context(kstack_top: u64, frame: &Frame) -> u64 {
    let frame_at = kstack_top - FRAME_SIZE as u64;
    let ctx = frame_at - 7 * 8;
    // SAFETY: the stack is the new thread's own, unused memory of at least a page.
    unsafe {
        (frame_at as *mut Frame).write(*frame);
        let words = ctx as *mut u64;
        for i in 0..6 {
            words.add(i).write(0);
        }
        words.add(6).write(hx_thread_start as *const () as u64);
    }
    ctx
}

/// The frame a thread's entries save, at the top of its kernel stack.
pub fn frame_at(kstack_top: u64) -> *mut Frame {
    (kstack_top - FRAME_SIZE as u64) as *mut Frame
}

/// Where a call through the vector for `nr` starts (to restart it).
pub fn vector_stub(nr: u64) -> u64 {
    core::ptr::addr_of!(hx_vector_stubs) as u64 + 16 * nr
}

/// The program's first instruction: the stack Linux's `execve` builds, every
/// general register zero (`rdx` = 0: no exit handler).
pub fn initial_frame(entry: u64, sp: u64) -> Frame {
    Frame {
        xmm: [[0; 2]; 16],
        rax: 0,
        orig_rax: u64::MAX,
        rdi: 0,
        rsi: 0,
        rdx: 0,
        r10: 0,
        r8: 0,
        r9: 0,
        r15: 0,
        r14: 0,
        r13: 0,
        r12: 0,
        rbp: 0,
        rbx: 0,
        rcx: 0,
        r11: 0,
        rflags: 0x202,
        rip: entry,
        rsp: sp,
        entry: ENTRY_UPCALL,
    }
}
