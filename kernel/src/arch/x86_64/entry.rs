//! Ways into the kernel at CPL3: the boot entry and the trap-path syscall entry.
//!
//! The syscall entry never touches the program's stack (a leaf function may
//! keep data in its red zone below `rsp`): it saves `rsp` in a scratch slot and
//! switches to the kernel stack first. `syscall` preserves every register but
//! `rax`, `rcx` and `r11`, vector registers included, so the entry saves all
//! general registers and `xmm0`–`xmm15` (the kernel is compiled for SSE2 only,
//! so it never touches the upper halves of `ymm`/`zmm`).
use crate::syscall::dispatch::{dispatch, TrapFrame};

pub const KERNEL_STACK_SIZE: usize = 64 * 1024;

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
_start:
    /* rdi = boot info (virtual), set by the monitor */
    lea hx_kernel_stack_top(%rip), %rsp
    xor %ebp, %ebp
    call {kmain}
    ud2

    .globl hx_syscall_entry
    .balign 16
hx_syscall_entry:
    /* CPL3: rcx = program rip, r11 = program rflags, rsp = program rsp */
    mov %rsp, hx_user_rsp(%rip)
    lea hx_kernel_stack_top(%rip), %rsp
    pushq hx_user_rsp(%rip)
    push %rcx
    push %r11
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
    push %rax
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
    cld
    lea 256(%rsp), %rdi
    call {dispatch}
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
    add $256, %rsp
    add $8, %rsp            /* the syscall number; rax holds the result */
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
    pop %r11
    pop %rcx
    push %r11               /* rflags back through the kernel stack, not the program's */
    popfq
    pop %rsp
    jmp *%rcx

    /* Hardware KVM: the CPL0 stub (cpl0.rs) sysrets here with the program's rip parked. */
    .globl hx_syscall_from_cpl0
hx_syscall_from_cpl0:
    mov hx_cpl0_saved_rip(%rip), %rcx
    jmp hx_syscall_entry

    .bss
    .balign 16
    .globl hx_user_rsp
hx_user_rsp: .quad 0
    .globl hx_cpl0_saved_rip
hx_cpl0_saved_rip: .quad 0
    .balign 4096
hx_kernel_stack: .space {stack_size}
    .globl hx_kernel_stack_top
hx_kernel_stack_top:
    .text
"#,
    kmain = sym crate::kmain,
    dispatch = sym dispatch,
    stack_size = const KERNEL_STACK_SIZE,
    options(att_syntax)
);

// Keeps the frame layout and the assembly above in step.
const _: () = assert!(core::mem::size_of::<TrapFrame>() == 16 * 8);

/// Leaves the kernel for the program's first instruction: the stack Linux's
/// `execve` builds, every general register zero (`rdx` = 0: no exit handler).
pub fn enter_program(entry: u64, sp: u64) -> ! {
    // SAFETY: `sp` is the initial stack the monitor built and `entry` the
    // program's entry point; nothing of the kernel's stack is needed again.
    unsafe {
        core::arch::asm!(
            "mov rsp, {sp}",
            "xor eax, eax", "xor ebx, ebx", "xor ecx, ecx", "xor edx, edx",
            "xor esi, esi", "xor edi, edi", "xor ebp, ebp",
            "xor r8d, r8d", "xor r9d, r9d", "xor r10d, r10d", "xor r11d, r11d",
            "xor r12d, r12d", "xor r13d, r13d", "xor r14d, r14d",
            "jmp r15",
            sp = in(reg) sp,
            in("r15") entry,
            options(noreturn)
        )
    }
}
