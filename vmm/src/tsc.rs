//! The TSC a vCPU made late sees. KVM gives each new vCPU a TSC offset; one
//! made within a second of the VM's others gets theirs (it is "syncing"),
//! one made later starts its TSC afresh. The guest kernel reads time from
//! the TSC on every vCPU, so a vCPU made when the guest first needs it
//! (`vm::late_vcpu`) takes the first vCPU's offset explicitly.
use anyhow::{Context, Result};
use kvm_bindings::{kvm_device_attr, KVM_VCPU_TSC_CTRL, KVM_VCPU_TSC_OFFSET};
use kvm_ioctls::VcpuFd;
use std::os::fd::AsRawFd;

/// `KVM_SET_DEVICE_ATTR`/`KVM_GET_DEVICE_ATTR` (`_IOW(KVMIO, 0xe1/0xe2,
/// struct kvm_device_attr)`), which kvm-ioctls offers on x86 vCPUs only for
/// `has`; the seccomp filter allows both (a vCPU made late makes them).
pub const KVM_SET_DEVICE_ATTR: libc::c_ulong = 0x4018_aee1;
pub const KVM_GET_DEVICE_ATTR: libc::c_ulong = 0x4018_aee2;

fn attr(value: &mut u64) -> kvm_device_attr {
    kvm_device_attr {
        flags: 0,
        group: KVM_VCPU_TSC_CTRL,
        attr: u64::from(KVM_VCPU_TSC_OFFSET),
        addr: value as *mut u64 as u64,
    }
}

/// The TSC offset KVM gave `vcpu` (`None` where KVM has no TSC attributes).
pub fn offset(vcpu: &VcpuFd) -> Option<u64> {
    let mut value = 0u64;
    let a = attr(&mut value);
    // SAFETY: KVM writes one u64 to `a.addr`, our `value`, which outlives the call.
    let r = unsafe { libc::ioctl(vcpu.as_raw_fd(), KVM_GET_DEVICE_ATTR, &a) };
    (r == 0).then_some(value)
}

/// Gives `vcpu` (not yet run) the TSC offset `value`.
pub fn set_offset(vcpu: &VcpuFd, mut value: u64) -> Result<()> {
    let a = attr(&mut value);
    // SAFETY: KVM reads one u64 from `a.addr`, our `value`, which outlives the call.
    let r = unsafe { libc::ioctl(vcpu.as_raw_fd(), KVM_SET_DEVICE_ATTR, &a) };
    if r != 0 {
        return Err(std::io::Error::last_os_error()).context("setting a vCPU's TSC offset");
    }
    Ok(())
}
