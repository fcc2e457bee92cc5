//! Which kind of KVM host this is, and the few things that differ between
//! them: where `syscall` lands. Everything else is the same on both.
use anyhow::{bail, Result};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// Detect the host kind.
    Auto,
    /// KVM without hardware virtualization (PVM-style: CPL3 runs natively, `syscall` stays at CPL3).
    Pvm,
    /// Hardware-assisted KVM (Intel VT-x / AMD-V).
    Kvm,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Pvm,
    HardwareKvm,
}

fn has_module(name: &str) -> bool {
    Path::new("/sys/module").join(name).exists()
}

fn has_hardware_kvm() -> bool {
    has_module("kvm_intel") || has_module("kvm_amd")
}

fn has_pvm() -> bool {
    has_module("kvm_pvm")
}

pub fn select(choice: Choice) -> Result<Platform> {
    match choice {
        Choice::Auto if has_hardware_kvm() => Ok(Platform::HardwareKvm),
        Choice::Auto if has_pvm() => Ok(Platform::Pvm),
        Choice::Auto => bail!(
            "cannot tell which kind of KVM host this is (no kvm_intel, kvm_amd or kvm_pvm module): pass --platform pvm or --platform kvm"
        ),
        Choice::Pvm if has_pvm() => Ok(Platform::Pvm),
        Choice::Pvm => bail!("--platform pvm: this host has no PVM-style KVM (the kvm_pvm module is not loaded)"),
        Choice::Kvm if has_hardware_kvm() => Ok(Platform::HardwareKvm),
        Choice::Kvm => bail!(
            "--platform kvm: this host has no hardware-assisted KVM (neither kvm_intel nor kvm_amd is loaded)"
        ),
    }
}

impl Platform {
    /// The kernel symbol `LSTAR` points at: the CPL3 entry itself on PVM-style
    /// hosts; on hardware KVM, `syscall` enters CPL0, so a stub that returns
    /// to the CPL3 entry at once.
    pub fn syscall_entry_symbol(self) -> &'static str {
        match self {
            Platform::Pvm => "hx_syscall_entry",
            Platform::HardwareKvm => "hx_cpl0_syscall",
        }
    }

    pub fn boot_flags(self) -> u64 {
        match self {
            Platform::Pvm => 0,
            Platform::HardwareKvm => hx_abi::boot::FLAG_HW_KVM,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Pvm => "PVM-style KVM (no hardware virtualization)",
            Platform::HardwareKvm => "hardware KVM",
        }
    }
}
