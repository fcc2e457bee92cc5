//! The vCPU's boot state: long mode with paging, the kernel and program at CPL3.
use super::gdt;
use anyhow::{Context, Result};
use hx_abi::layout::*;
use kvm_bindings::{kvm_fpu, kvm_msr_entry, kvm_regs, kvm_segment, kvm_xcrs, Msrs};
use kvm_ioctls::VcpuFd;

const CR0_PE_MP_ET_NE_WP_AM_PG: u64 = 0x8005_0033;
/// PAE, OSFXSR, OSXMMEXCPT, FSGSBASE, OSXSAVE (no SMEP/SMAP: CPL0 stubs touch user pages).
const CR4: u64 = 0x5_0620;
const EFER_SCE_LME_LMA_NXE: u64 = (1 << 0) | (1 << 8) | (1 << 10) | (1 << 11);

const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_SFMASK: u32 = 0xc000_0084;

fn segment(selector: u16, code: bool, long: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 11 } else { 3 },
        present: 1,
        dpl: 3,
        db: (!long) as u8,
        s: 1,
        l: long as u8,
        g: 1,
        ..Default::default()
    }
}

/// Back to CPL3 (after a CPL0 stub): the user code and data segments.
pub fn set_user_segments(vcpu: &VcpuFd) -> Result<()> {
    let mut s = vcpu.get_sregs().context("KVM_GET_SREGS")?;
    s.cs = segment(USER_CS, true, true);
    s.ss = segment(USER_DS, false, false);
    vcpu.set_sregs(&s).context("KVM_SET_SREGS")
}

/// `tss` and `gs_base`: this vCPU's TSS and `PerCpu` (kernel-virtual).
pub fn set_sregs(vcpu: &VcpuFd, tss: u64, gs_base: u64) -> Result<()> {
    let mut s = vcpu.get_sregs().context("KVM_GET_SREGS")?;
    // The host decides CPL from the CS descriptor's DPL: 3, so all runs natively.
    s.cs = segment(USER_CS, true, true);
    s.ss = segment(USER_DS, false, false);
    let null = kvm_segment { unusable: 1, ..segment(0, false, false) };
    (s.ds, s.es, s.fs, s.gs) = (null, null, null, null);
    s.gs.base = gs_base;
    s.tr = kvm_segment {
        base: tss,
        limit: gdt::TSS_LIMIT as u32,
        selector: TSS_SELECTOR,
        type_: 11,
        present: 1,
        ..Default::default()
    };
    s.gdt.base = kernel_virt(GDT_PHYS);
    s.gdt.limit = gdt::gdt_limit();
    s.idt.base = kernel_virt(IDT_PHYS);
    s.idt.limit = gdt::idt_limit();
    s.cr0 = CR0_PE_MP_ET_NE_WP_AM_PG;
    s.cr3 = PML4_PHYS;
    s.cr4 = CR4;
    s.efer = EFER_SCE_LME_LMA_NXE;
    vcpu.set_sregs(&s).context("KVM_SET_SREGS")
}

/// Flags `syscall` clears on the way into the kernel, as Linux's SFMASK does:
/// the kernel runs at CPL3 too, so a program's alignment check (AC), trap
/// (TF) or direction (DF) flag would otherwise apply to the kernel's own
/// code. IF stays out: once cleared, CPL3 could not set it again.
const SYSCALL_FLAG_MASK: u64 = 0x100 | 0x400 | 0x4000 | 0x4_0000;

/// `syscall` lands at `lstar`.
pub fn set_msrs(vcpu: &VcpuFd, lstar: u64) -> Result<()> {
    let star = ((USER32_CS as u64) << 48) | ((KERNEL_CS as u64) << 32);
    let entries = [(MSR_LSTAR, lstar), (MSR_STAR, star), (MSR_SFMASK, SYSCALL_FLAG_MASK)]
        .map(|(index, data)| kvm_msr_entry { index, data, ..Default::default() });
    let msrs = Msrs::from_entries(&entries).context("MSR list")?;
    let n = vcpu.set_msrs(&msrs).context("KVM_SET_MSRS")?;
    anyhow::ensure!(n == entries.len(), "KVM_SET_MSRS set {n} of {} MSRs", entries.len());
    Ok(())
}

pub fn set_xcr0(vcpu: &VcpuFd, xcr0: u64) -> Result<()> {
    let mut x = kvm_xcrs { nr_xcrs: 1, ..Default::default() };
    x.xcrs[0].xcr = 0;
    x.xcrs[0].value = xcr0;
    vcpu.set_xcrs(&x).context("KVM_SET_XCRS")
}

/// x87 and SSE control words as Linux starts a process.
pub fn set_fpu(vcpu: &VcpuFd) -> Result<()> {
    let fpu = kvm_fpu { fcw: 0x37f, mxcsr: 0x1f80, ..Default::default() };
    vcpu.set_fpu(&fpu).context("KVM_SET_FPU")
}

/// The kernel's `_start` with the boot info, the vCPU's index and its idle stack.
pub fn set_entry(vcpu: &VcpuFd, rip: u64, boot_info: u64, cpu: u64, stack: u64) -> Result<()> {
    let regs = kvm_regs { rip, rdi: boot_info, rsi: cpu, rsp: stack, rflags: 0x202, ..Default::default() };
    vcpu.set_regs(&regs).context("KVM_SET_REGS")
}
