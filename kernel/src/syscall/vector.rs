//! The syscall vector: the fast path for a patched libc. Entry `n` is a C
//! function `long f(long a1, ..., long a6)` returning the raw Linux result; the
//! monitor passes the table's address in the auxv (`AT_HX_SYSCALL_VECTOR`).
//!
//! Each entry is generated for its number, so it calls its handler directly
//! (`TABLE[N]` is a constant) — no second dispatch. It switches to the kernel
//! stack first: kernel code may then hand its own buffers to the monitor by
//! physical address, and a program's small stack never holds a kernel frame.
use super::dispatch::invoke;
use super::table::TABLE;
use super::Args;
use crate::stats;
use hx_abi::hypercall::PATH_VECTOR;
use hx_abi::syscalls::MAX_SYSCALLS;

pub type VectorFn = extern "C" fn(u64, u64, u64, u64, u64, u64) -> i64;

core::arch::global_asm!(
    r#"
    .text
    .globl hx_on_kernel_stack
    .balign 16
/* i64 hx_on_kernel_stack(i64 (*f)(const u64 *args), const u64 *args):
   runs f(args) on the kernel stack and returns its result. */
hx_on_kernel_stack:
    mov %rsp, %rax
    lea hx_kernel_stack_top(%rip), %rsp
    push %rax
    sub $8, %rsp
    mov %rdi, %rax
    mov %rsi, %rdi
    call *%rax
    add $8, %rsp
    pop %rsp
    ret
"#,
    options(att_syntax)
);

extern "C" {
    fn hx_on_kernel_stack(f: extern "C" fn(&Args) -> i64, args: &Args) -> i64;
}

extern "C" fn on_kernel_stack<const NR: usize>(args: &Args) -> i64 {
    stats::count_vector(NR);
    invoke(NR as u64, TABLE[NR], *args, PATH_VECTOR)
}

extern "C" fn entry<const NR: usize>(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, a6: u64) -> i64 {
    let args = [a1, a2, a3, a4, a5, a6];
    // SAFETY: the trampoline calls `on_kernel_stack::<NR>` with `args` and
    // returns its result; the kernel stack is free (one thread, and the trap
    // path never calls the vector).
    unsafe { hx_on_kernel_stack(on_kernel_stack::<NR>, &args) }
}

/// The vector itself, exported by name for the monitor.
#[no_mangle]
#[used]
#[link_section = ".rodata.hx_vector"]
pub static HX_SYSCALL_VECTOR: [VectorFn; MAX_SYSCALLS] = seq_macro::seq!(N in 0..512 { [ #( entry::<N>, )* ] });
