// Part of hx's fast libc: rewrites musl's syscall call sites into the
// vector-or-instruction macros that musl-patch/patches/0001-syscall-vector.patch
// adds to src/internal/syscall.h. With the hx kernel's vector in the auxv a
// syscall becomes a plain function call; without it, the syscall instruction.
//
// Errno-setting syscalls: musl's internal syscall(n, ...) macro, which wraps
// the raw result in __syscall_ret (errno and -1 on failure).

// syscall(n, ...) (musl's internal macro): sets errno, returns -1 on failure.
@ with_errno @
expression list ES;
@@
- syscall(ES)
+ __syscall_ret(__hx_syscall(ES))
