// Part of hx's fast libc: rewrites musl's syscall call sites into the
// vector-or-instruction macros that musl-patch/patches/0001-syscall-vector.patch
// adds to src/internal/syscall.h. With the hx kernel's vector in the auxv a
// syscall becomes a plain function call; without it, the syscall instruction.
//
// Cancellable syscalls (pthread cancellation points): __syscall_cp and
// syscall_cp. Without the vector they still go through musl's cancellation
// machinery.

// __syscall_cp(n, ...): a cancellation point, raw result.
@ cancellable @
expression list ES;
@@
- __syscall_cp
+ __hx_syscall_cp
  (ES)

// syscall_cp(n, ...): a cancellation point that sets errno.
@ cancellable_errno @
expression list ES;
@@
- syscall_cp(ES)
+ __syscall_ret(__hx_syscall_cp(ES))
