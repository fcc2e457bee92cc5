//! The CPL0 stubs: the only kernel code that runs at CPL0. On PVM-style hosts
//! every instruction here is emulated (and SSE would stop the VM), so they are
//! a few plain instructions each, in their own section (`.text.cpl0`) that a
//! test disassembles. Each entry costs ~15 µs on such hosts (≈0.6 µs more
//! per emulated instruction): they are counted, and each service runs in as
//! few instructions as it can.
use crate::stats;

// The services are entered through #UD: `int n` from CPL3 is not delivered on
// PVM-style hosts, but exceptions reach CPL0 handlers on every host. The #UD
// stub recognises the `ud2` of each service's entry (`hx_cpl0_invlpg_one`,
// `hx_cpl0_reload_cr3`, `hx_cpl0_invlpg_range`), commonest first, and runs
// the service instead of reporting a fault.
/// Above this many pages one CR3 reload is cheaper than an invlpg each:
/// measured on a PVM-style host (a process with 64k small entries), an
/// invlpg costs ≈ 2.5 µs of emulation per page and a reload about as much as
/// four, the host resynchronising only the shadow tables the guest changed.
pub const INVLPG_MAX_PAGES: u64 = 4;

core::arch::global_asm!(
    r#"
    .section .text.cpl0, "ax"

    /* Exceptions: push a zero error code where the CPU pushes none, then the
       vector and rax, and report to the monitor, which reads this frame. */
    .macro hx_exc vec
    .balign 16
hx_exc_\vec:
    .if \vec == 6
    cmpq $hx_cpl0_invlpg_one, (%rsp)
    je hx_cpl0_invlpg
    cmpq $hx_cpl0_reload_cr3, (%rsp)
    je hx_cpl0_reload
    cmpq $hx_cpl0_invlpg_range, (%rsp)
    je hx_cpl0_range
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

    /* The services (rdi = address, rsi = pages): each returns past its ud2. */
    .balign 16
hx_cpl0_invlpg:
    invlpg (%rdi)
    addq $2, (%rsp)
    iretq
hx_cpl0_reload:
    mov %cr3, %rdi
    mov %rdi, %cr3
    addq $2, (%rsp)
    iretq
hx_cpl0_range:
    invlpg (%rdi)
    add $4096, %rdi
    dec %rsi
    jnz hx_cpl0_range
    addq $2, (%rsp)
    iretq

    /* Hardware KVM only: `syscall` lands here at CPL0. Park the program's rip
       and return to the CPL3 entry at once (r11 still holds its rflags). */
    .globl hx_cpl0_syscall
    .balign 16
hx_cpl0_syscall:
    mov %rcx, hx_cpl0_saved_rip(%rip)
    lea hx_syscall_from_cpl0(%rip), %rcx
    sysretq

    /* CPL3: the C-ABI entries into the services (they clobber rdi and rsi). */
    .text
    .globl hx_cpl0_invlpg_one
    .balign 16
hx_cpl0_invlpg_one:
    ud2
    ret
    .globl hx_cpl0_reload_cr3
hx_cpl0_reload_cr3:
    ud2
    ret
    .globl hx_cpl0_invlpg_range
hx_cpl0_invlpg_range:
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
    options(att_syntax)
);

extern "C" {
    fn hx_cpl0_invlpg_one(addr: u64);
    fn hx_cpl0_reload_cr3();
    fn hx_cpl0_invlpg_range(addr: u64, pages: u64);
}

/// Drops every TLB entry (a CR3 reload): one CPL0 entry for a whole batch.
pub fn flush_tlb() {
    stats::count_cpl0();
    // SAFETY: the service reloads CR3 with its own value and returns; it
    // follows the C ABI (clobbers rdi only).
    unsafe { hx_cpl0_reload_cr3() }
}

/// Drops the TLB entries of `pages` pages from `addr`: one CPL0 entry; above
/// `INVLPG_MAX_PAGES`, a whole flush instead.
pub fn flush_range(addr: u64, pages: u64) {
    match pages {
        0 => {}
        1 => {
            stats::count_cpl0();
            // SAFETY: invalidates one TLB entry and returns (clobbers rdi only).
            unsafe { hx_cpl0_invlpg_one(addr) }
        }
        2..=INVLPG_MAX_PAGES => {
            stats::count_cpl0();
            // SAFETY: invalidates `pages` entries and returns (clobbers rdi and rsi only).
            unsafe { hx_cpl0_invlpg_range(addr, pages) }
        }
        _ => flush_tlb(),
    }
}
