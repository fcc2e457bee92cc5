//! GDT, TSS (with the I/O bitmap that lets CPL3 code reach the hypercall
//! port) and IDT, written once into guest RAM at boot.
use crate::memory::GuestRam;
use anyhow::Result;
use hx_abi::layout::*;

const GDT_ENTRIES: [u64; 8] = [
    0,
    0,
    0x00af_9b00_0000_ffff, // 0x10 kernel code (64-bit, DPL 0): the CPL0 stubs
    0x00cf_9300_0000_ffff, // 0x18 kernel data
    0x00cf_fb00_0000_ffff, // 0x23 user code (32-bit): only for STAR's layout
    0x00cf_f300_0000_ffff, // 0x2b user data (DPL 3)
    0x00af_fb00_0000_ffff, // 0x33 user code (64-bit, DPL 3): kernel and program
    0,
];

const TSS_IOMAP_OFFSET: u64 = 0x68;
/// The TSS with its I/O bitmap and the terminating 0xff byte.
pub const TSS_LIMIT: u64 = TSS_IOMAP_OFFSET + IO_BITMAP_PORTS as u64 / 8;

/// Gate types.
const TRAP_GATE_DPL0: u8 = 0x8f;
const TRAP_GATE_DPL3: u8 = 0xef;

/// `tss`: vCPU 0's TSS (kernel-virtual); each vCPU's task register names its own.
pub fn write_gdt(mem: &GuestRam, tss: u64) -> Result<()> {
    for (i, e) in GDT_ENTRIES.iter().enumerate() {
        mem.write_obj(GDT_PHYS + 8 * i as u64, *e)?;
    }
    let base = tss;
    let low = (TSS_LIMIT & 0xffff) | ((base & 0xff_ffff) << 16) | (0x89 << 40) | (((base >> 24) & 0xff) << 56);
    mem.write_obj(GDT_PHYS + TSS_SELECTOR as u64, low)?;
    mem.write_obj(GDT_PHYS + TSS_SELECTOR as u64 + 8, base >> 32)
}

pub fn gdt_limit() -> u16 {
    TSS_SELECTOR + 16 - 1
}

/// A vCPU's TSS at `tss_phys`, with `cpl0_stack` (virtual) as its RSP0.
pub fn write_tss(mem: &GuestRam, tss_phys: u64, cpl0_stack: u64) -> Result<()> {
    // rsp0: the stack the CPU switches to when an event enters a CPL0 stub.
    mem.write_obj(tss_phys + 4, cpl0_stack)?;
    mem.write_obj(tss_phys + 0x66, TSS_IOMAP_OFFSET as u16)?;
    // The bitmap (ports 0..IO_BITMAP_PORTS) stays zero, "allowed"; its end marker:
    mem.write_obj(tss_phys + TSS_LIMIT, 0xffu8)
}

fn gate(handler: u64, kind: u8) -> [u64; 2] {
    let low =
        (handler & 0xffff) | ((KERNEL_CS as u64) << 16) | ((kind as u64) << 40) | (((handler >> 16) & 0xffff) << 48);
    [low, handler >> 32]
}

/// Exceptions go to the kernel's CPL0 stubs (`int3` may be raised from CPL3).
pub fn write_idt(mem: &GuestRam, exception_stubs: &[u64; 32]) -> Result<()> {
    for (v, &h) in exception_stubs.iter().enumerate() {
        let kind = if v == 3 { TRAP_GATE_DPL3 } else { TRAP_GATE_DPL0 };
        mem.write_obj(IDT_PHYS + 16 * v as u64, gate(h, kind))?;
    }
    Ok(())
}

pub fn idt_limit() -> u16 {
    (256 * 16 - 1) as u16
}
