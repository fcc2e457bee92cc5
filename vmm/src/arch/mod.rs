//! x86-64 machine state: descriptor tables, page tables, registers, CPUID.
pub mod cpuid;
pub mod gdt;
pub mod paging;
pub mod regs;
