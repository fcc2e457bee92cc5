//! CPUID: what KVM supports is passed to the guest unchanged. (On PVM-style
//! hosts CPL3 `cpuid` reads the host directly; on hardware KVM libc sees this.)
use anyhow::{Context, Result};
use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::Kvm;

pub fn supported(kvm: &Kvm) -> Result<CpuId> {
    kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).context("KVM_GET_SUPPORTED_CPUID")
}

fn leaf(cpuid: &CpuId, function: u32, index: u32) -> Option<&kvm_bindings::kvm_cpuid_entry2> {
    cpuid.as_slice().iter().find(|e| e.function == function && e.index == index)
}

/// 1 GiB pages (CPUID 0x8000_0001 EDX bit 26), for the direct map.
pub fn has_giant_pages(cpuid: &CpuId) -> bool {
    leaf(cpuid, 0x8000_0001, 0).is_some_and(|e| e.edx & (1 << 26) != 0)
}

/// The XCR0 to run with: every state component KVM offers among x87, SSE,
/// AVX and AVX-512 (so libc picks the same code paths as natively).
pub fn xcr0(cpuid: &CpuId) -> u64 {
    const WANTED: u64 = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80;
    let offered = leaf(cpuid, 0xd, 0).map(|e| e.eax as u64).unwrap_or(0x3);
    let mut x = offered & WANTED;
    // AVX-512 state is all or nothing.
    if x & 0xe0 != 0xe0 {
        x &= !0xe0;
    }
    x | 0x3
}
