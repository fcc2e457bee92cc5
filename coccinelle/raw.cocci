// Part of hx's fast libc: rewrites musl's syscall call sites into the
// vector-or-instruction macros that musl-patch/patches/0001-syscall-vector.patch
// adds to src/internal/syscall.h. With the hx kernel's vector in the auxv a
// syscall becomes a plain function call; without it, the syscall instruction.
//
// Raw syscalls: __syscall(n, ...) and the fixed-arity __syscallN(n, ...) return
// the kernel's result as is (-errno on failure). Only the called macro is
// renamed, so nested calls (__syscall(SYS_setuid, __syscall(SYS_getuid))) are
// rewritten too.

// __syscall(n, ...): the raw result (-errno on failure).
@ raw @
expression list ES;
@@
- __syscall
+ __hx_syscall
  (ES)

// __syscall0(n, ...): a direct call of the 0-argument inline.
@ fixed_arity_0 @
expression list ES;
@@
- __syscall0
+ __hx_syscall0
  (ES)

// __syscall1(n, ...): a direct call of the 1-argument inline.
@ fixed_arity_1 @
expression list ES;
@@
- __syscall1
+ __hx_syscall1
  (ES)

// __syscall2(n, ...): a direct call of the 2-argument inline.
@ fixed_arity_2 @
expression list ES;
@@
- __syscall2
+ __hx_syscall2
  (ES)

// __syscall3(n, ...): a direct call of the 3-argument inline.
@ fixed_arity_3 @
expression list ES;
@@
- __syscall3
+ __hx_syscall3
  (ES)

// __syscall4(n, ...): a direct call of the 4-argument inline.
@ fixed_arity_4 @
expression list ES;
@@
- __syscall4
+ __hx_syscall4
  (ES)

// __syscall5(n, ...): a direct call of the 5-argument inline.
@ fixed_arity_5 @
expression list ES;
@@
- __syscall5
+ __hx_syscall5
  (ES)

// __syscall6(n, ...): a direct call of the 6-argument inline.
@ fixed_arity_6 @
expression list ES;
@@
- __syscall6
+ __hx_syscall6
  (ES)
