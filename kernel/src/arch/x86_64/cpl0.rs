//! The CPL0 stubs: the only kernel code that runs at CPL0. On PVM-style hosts
//! every instruction here is emulated (and SSE would stop the VM), so they are
//! a few plain instructions each, in their own section (`.text.cpl0`) that a
//! test disassembles. Each entry costs ~25 µs on such hosts: they are counted.
use crate::stats;

// The service is entered through #UD: `int n` from CPL3 is not delivered on
// PVM-style hosts, but exceptions reach CPL0 handlers on every host. The #UD
// stub recognises the one `ud2` at `hx_cpl0_trap` and runs the service
// instead of reporting a fault.
const OP_FLUSH_TLB: u64 = 1;
const OP_INVLPG_RANGE: u64 = 2;
/// Above this many pages one CR3 reload is cheaper than an invlpg each (every
/// CPL0 instruction is emulated on PVM-style hosts, and a CR3 reload makes the
/// host resynchronise all of its shadow page tables).
pub const INVLPG_MAX_PAGES: u64 = 64;

core::arch::global_asm!(
    r#"
    .section .text.cpl0, "ax"

    /* Exceptions: push a zero error code where the CPU pushes none, then the
       vector and rax, and report to the monitor, which reads this frame. */
    .macro hx_exc vec
    .balign 16
hx_exc_\vec:
    .if \vec == 6
    cmpq $hx_cpl0_trap, (%rsp)
    je hx_cpl0_service
    .endif
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp hx_exc_common
    .endm

    hx_exc 0
    hx_exc 1
    hx_exc 2
    hx_exc 3
    hx_exc 4
    hx_exc 5
    hx_exc 6
    hx_exc 7
    hx_exc 8
    hx_exc 9
    hx_exc 10
    hx_exc 11
    hx_exc 12
    hx_exc 13
    hx_exc 14
    hx_exc 15
    hx_exc 16
    hx_exc 17
    hx_exc 18
    hx_exc 19
    hx_exc 20
    hx_exc 21
    hx_exc 22
    hx_exc 23
    hx_exc 24
    hx_exc 25
    hx_exc 26
    hx_exc 27
    hx_exc 28
    hx_exc 29
    hx_exc 30
    hx_exc 31

hx_exc_common:
    push %rax
    mov 8(%rsp), %eax
    out %al, ${fault_port}
1:  hlt
    jmp 1b

    /* Service: rdi = operation, rsi = address, rdx = page count (non-zero);
       returns past the ud2. */
    .globl hx_cpl0_service
    .balign 16
hx_cpl0_service:
    addq $2, (%rsp)
    cmp ${op_flush}, %rdi
    jne 2f
    mov %cr3, %rsi
    mov %rsi, %cr3
    iretq
2:  cmp ${op_invlpg}, %rdi
    jne 3f
4:  invlpg (%rsi)
    add $4096, %rsi
    dec %rdx
    jnz 4b
3:  iretq

    /* Hardware KVM only: `syscall` lands here at CPL0. Park the program's rip
       and return to the CPL3 entry at once (r11 still holds its rflags). */
    .globl hx_cpl0_syscall
    .balign 16
hx_cpl0_syscall:
    mov %rcx, hx_cpl0_saved_rip(%rip)
    lea hx_syscall_from_cpl0(%rip), %rcx
    sysretq

    /* CPL3: the C-ABI call into the service (rdi = op, rsi = arg). */
    .text
    .globl hx_cpl0_call
    .balign 16
hx_cpl0_call:
    .globl hx_cpl0_trap
hx_cpl0_trap:
    ud2
    ret

    .section .rodata.hx_stubs, "a"
    .balign 8
    .globl hx_exception_stubs
hx_exception_stubs:
    .quad hx_exc_0
    .quad hx_exc_1
    .quad hx_exc_2
    .quad hx_exc_3
    .quad hx_exc_4
    .quad hx_exc_5
    .quad hx_exc_6
    .quad hx_exc_7
    .quad hx_exc_8
    .quad hx_exc_9
    .quad hx_exc_10
    .quad hx_exc_11
    .quad hx_exc_12
    .quad hx_exc_13
    .quad hx_exc_14
    .quad hx_exc_15
    .quad hx_exc_16
    .quad hx_exc_17
    .quad hx_exc_18
    .quad hx_exc_19
    .quad hx_exc_20
    .quad hx_exc_21
    .quad hx_exc_22
    .quad hx_exc_23
    .quad hx_exc_24
    .quad hx_exc_25
    .quad hx_exc_26
    .quad hx_exc_27
    .quad hx_exc_28
    .quad hx_exc_29
    .quad hx_exc_30
    .quad hx_exc_31
    .text
"#,
    fault_port = const hx_abi::layout::FAULT_PORT,
    op_flush = const OP_FLUSH_TLB,
    op_invlpg = const OP_INVLPG_RANGE,
    options(att_syntax)
);

extern "C" {
    fn hx_cpl0_call(op: u64, addr: u64, pages: u64);
}

fn service(op: u64, addr: u64, pages: u64) {
    stats::count_cpl0();
    // SAFETY: the service only flushes TLB entries and returns; it follows
    // the C ABI (clobbers rsi and rdx only).
    unsafe { hx_cpl0_call(op, addr, pages) }
}

/// Drops every TLB entry (a CR3 reload): one CPL0 entry for a whole batch.
pub fn flush_tlb() {
    service(OP_FLUSH_TLB, 0, 1);
}

/// Drops the TLB entries of `pages` pages from `addr`: one CPL0 entry; above
/// `INVLPG_MAX_PAGES`, a whole flush instead.
pub fn flush_range(addr: u64, pages: u64) {
    match pages {
        0 => {}
        1..=INVLPG_MAX_PAGES => service(OP_INVLPG_RANGE, addr, pages),
        _ => flush_tlb(),
    }
}
