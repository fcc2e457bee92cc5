// Part of hx's fast libc: rewrites musl's syscall call sites into the
// vector-or-instruction macros that musl-patch/patches/0001-syscall-vector.patch
// adds to src/internal/syscall.h. With the hx kernel's vector in the auxv a
// syscall becomes a plain function call; without it, the syscall instruction.
//
// The open(2) family: __sys_open, sys_open and their cancellable forms, which
// add O_LARGEFILE and pick open or openat by arity.

// __sys_open(path, flags[, mode]): open(2) with O_LARGEFILE, raw result.
@ open_raw @
expression list ES;
@@
- __sys_open
+ __hx_sys_open
  (ES)

// sys_open(...): the same, setting errno.
@ open_errno @
expression list ES;
@@
- sys_open(ES)
+ __syscall_ret(__hx_sys_open(ES))

// __sys_open_cp(...): open(2) as a cancellation point.
@ open_cp_raw @
expression list ES;
@@
- __sys_open_cp
+ __hx_sys_open_cp
  (ES)

// sys_open_cp(...): the same, setting errno.
@ open_cp_errno @
expression list ES;
@@
- sys_open_cp(ES)
+ __syscall_ret(__hx_sys_open_cp(ES))
