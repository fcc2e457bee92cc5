//! Every guest address hx uses, physical and virtual, in one place.
//!
//! Physical RAM starts at 0 and is `mem_size` bytes. The low megabyte holds the
//! boot structures the monitor writes; the kernel image is loaded at
//! [`KERNEL_PHYS`]; everything above the kernel is frames for the program.
//!
//! Virtual: the program owns the lower half; the kernel sees all of RAM through
//! [`DIRECT_MAP`] and runs from [`KERNEL_WINDOW`] (the top 2 GiB, so it can be
//! linked with the `kernel` code model). Every page carries the U bit: kernel
//! and program both run at CPL3.

pub const PAGE_SIZE: u64 = 4096;
pub const HUGE_PAGE_SIZE: u64 = 2 << 20;

/// The kernel heap's size for `mem_size` bytes of guest RAM (its first
/// frames after the boot image; untouched heap pages cost the host nothing).
pub const fn kernel_heap_size(mem_size: u64) -> u64 {
    let size = mem_size / 32;
    let size = if size < 4 << 20 {
        4 << 20
    } else if size > 64 << 20 {
        64 << 20
    } else {
        size
    };
    size & !(HUGE_PAGE_SIZE - 1)
}
pub const GIGA_PAGE_SIZE: u64 = 1 << 30;

// --- physical: boot structures (all below 1 MiB) ---
pub const PML4_PHYS: u64 = 0x1000;
pub const GDT_PHYS: u64 = 0x2000;
pub const TSS_PHYS: u64 = 0x3000;
pub const IDT_PHYS: u64 = 0x4000;
pub const BOOT_INFO_PHYS: u64 = 0x5000;
/// Stack the CPU switches to when an event enters a CPL0 stub (TSS.RSP0).
pub const CPL0_STACK_BOTTOM_PHYS: u64 = 0x8000;
pub const CPL0_STACK_TOP_PHYS: u64 = 0x10000;
/// Page-table pages the monitor builds the initial tables from.
pub const PT_POOL_PHYS: u64 = 0x10000;
pub const PT_POOL_END_PHYS: u64 = 0x100000;
/// Where the kernel image is loaded; its link address is `KERNEL_WINDOW + KERNEL_PHYS`.
pub const KERNEL_PHYS: u64 = 0x20_0000;

// --- virtual ---
/// `KERNEL_WINDOW + p` maps physical `p` for the low part of RAM that holds the
/// boot structures and the kernel image.
pub const KERNEL_WINDOW: u64 = 0xffff_ffff_8000_0000;
/// `DIRECT_MAP + p` maps every physical byte `p` of guest RAM.
pub const DIRECT_MAP: u64 = 0xffff_8880_0000_0000;
/// First address a program may map (Linux's `mmap_min_addr`): NULL dereferences fault.
pub const USER_MIN: u64 = 0x1_0000;
/// End of the program's half of the address space.
pub const USER_END: u64 = 0x0000_7fff_ffff_f000;
/// Top of the initial stack (2 MiB aligned so the stack can use large pages).
pub const STACK_TOP: u64 = 0x0000_7fff_ffe0_0000;
/// Size of the stack mapping (Linux's default `RLIMIT_STACK`).
pub const STACK_SIZE: u64 = 8 << 20;
/// mmap allocations go top-down from here, below a gap under the stack.
pub const MMAP_TOP: u64 = 0x0000_7fff_f000_0000;
/// Load base of position-independent executables (Linux's, without ASLR).
pub const PIE_BASE: u64 = 0x0000_5555_5555_4000;
/// Where the vDSO is mapped (between the mmap area and the stack).
pub const VDSO_BASE: u64 = 0x0000_7fff_f800_0000;
/// Load base of the dynamic loader.
pub const INTERP_BASE: u64 = 0x0000_7fff_f7e0_0000;

// --- GDT selectors (the STAR layout needs USER32_CS, USER_DS, USER_CS in this order) ---
pub const KERNEL_CS: u16 = 0x10;
pub const KERNEL_DS: u16 = 0x18;
pub const USER32_CS: u16 = 0x23;
pub const USER_DS: u16 = 0x2b;
pub const USER_CS: u16 = 0x33;
pub const TSS_SELECTOR: u16 = 0x40;

// --- I/O ports (the TSS I/O bitmap opens 0..IO_BITMAP_PORTS to CPL3) ---
/// `out %eax, %dx` here with the physical address of a `Request`: one host call.
pub const HYPERCALL_PORT: u16 = 0x500;
/// A CPL0 exception stub writes the vector here; the monitor reports the fault.
pub const FAULT_PORT: u16 = 0xf0;
pub const IO_BITMAP_PORTS: u16 = 0x800;

// --- page-table entry bits ---
pub const PTE_PRESENT: u64 = 1 << 0;
pub const PTE_WRITABLE: u64 = 1 << 1;
pub const PTE_USER: u64 = 1 << 2;
/// Set ahead where nothing reads them back: under shadow paging the host
/// sets a missing A (or D, at the first write) bit in the guest's entry
/// itself (a write into the table, and for D a second fault), and prefetches
/// a faulting page's neighbours only if their entries have A set.
pub const PTE_ACCESSED: u64 = 1 << 5;
pub const PTE_DIRTY: u64 = 1 << 6;
pub const PTE_HUGE: u64 = 1 << 7;
pub const PTE_NX: u64 = 1 << 63;
pub const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

pub const fn kernel_virt(phys: u64) -> u64 {
    KERNEL_WINDOW + phys
}

pub const fn direct_virt(phys: u64) -> u64 {
    DIRECT_MAP + phys
}

pub const fn align_down(x: u64, a: u64) -> u64 {
    x & !(a - 1)
}

pub const fn align_up(x: u64, a: u64) -> u64 {
    (x + a - 1) & !(a - 1)
}
