//! The x86-64 platform layer. Only this module knows how the CPU reaches the
//! kernel (`syscall` straight to CPL3 on PVM-style hosts, through a CPL0 stub on
//! hardware KVM) and how the CPL0 stubs are entered.
pub mod cpl0;
pub mod entry;
pub mod percpu;

/// Reads the time-stamp counter (runs natively at CPL3).
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc only reads the TSC into edx:eax.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// `cpuid` leaf `leaf`, subleaf `sub`: (eax, ebx, ecx, edx) as the monitor set them.
pub fn cpuid(leaf: u32, sub: u32) -> [u32; 4] {
    #[allow(unused_unsafe)]
    // SAFETY: cpuid only reads the CPU's identification into registers.
    let r = unsafe { core::arch::x86_64::__cpuid_count(leaf, sub) };
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// Sets the FS base (TLS) without a CPL0 transition: CR4.FSGSBASE is on.
#[inline]
pub fn write_fs_base(value: u64) {
    // SAFETY: wrfsbase changes only the FS base, which only the program uses.
    unsafe { core::arch::asm!("wrfsbase {}", in(reg) value, options(nostack, preserves_flags)) }
}

#[inline]
pub fn read_fs_base() -> u64 {
    let v: u64;
    // SAFETY: rdfsbase only reads the FS base.
    unsafe { core::arch::asm!("rdfsbase {}", out(reg) v, options(nostack, nomem, preserves_flags)) }
    v
}

/// Saves every enabled piece of the vector/FPU state to `area` (64-byte aligned).
#[inline]
pub fn xsave(area: u64) {
    // SAFETY: `area` is a 64-byte aligned buffer of at least the xsave size
    // the monitor reported; xsave only writes there (CR4.OSXSAVE is set).
    unsafe {
        core::arch::asm!("xsave64 [{}]", in(reg) area, in("eax") u32::MAX, in("edx") u32::MAX,
                         options(nostack, preserves_flags))
    }
}

/// Loads the vector/FPU state `xsave` saved to `area`.
#[inline]
pub fn xrstor(area: u64) {
    // SAFETY: `area` holds an image `xsave` wrote.
    unsafe {
        core::arch::asm!("xrstor64 [{}]", in(reg) area, in("eax") u32::MAX, in("edx") u32::MAX,
                         clobber_abi("C"), options(nostack, preserves_flags))
    }
}

/// An `xsave` image of the initial vector state: nothing in use, MXCSR 0x1f80.
#[repr(C, align(64))]
struct InitialFpu([u8; 576]);

static INITIAL_FPU: InitialFpu = InitialFpu({
    let mut a = [0u8; 576];
    a[24] = 0x80; // MXCSR = 0x1f80, little-endian
    a[25] = 0x1f;
    a
});

/// Puts the vector/FPU state in its initial state (what a signal handler starts with).
#[inline]
pub fn fpu_init() {
    // SAFETY: the image is a valid standard-format xsave area whose header
    // marks every component as initial, so only its first 576 bytes are read.
    unsafe {
        core::arch::asm!("xrstor64 [{}]", in(reg) INITIAL_FPU.0.as_ptr(), in("eax") u32::MAX, in("edx") u32::MAX,
                         clobber_abi("C"), options(nostack, preserves_flags))
    }
}
