//! A guest fault: which exception, at which address and instruction, in which
//! function of which binary; and the status of a process Linux would have
//! killed with the matching signal.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::kernel_image::{window_phys, KernelImage};
use crate::memory::GuestRam;
use anyhow::Result;
use goblin::elf::Elf;
use kvm_ioctls::VcpuFd;

/// The physical address of a kernel address (its image window or the direct map).
pub fn kernel_phys(addr: u64) -> Option<u64> {
    window_phys(addr).or_else(|| addr.checked_sub(hx_abi::layout::DIRECT_MAP))
}

/// The signal Linux sends for exception `vector`.
pub fn signal_of(vector: u64) -> i32 {
    exception(vector).1
}

/// A loaded ELF the monitor can name addresses in.
#[derive(Clone)]
pub struct Binary {
    pub path: String,
    /// Shared with the launch it came from: an image is never copied for this.
    pub bytes: std::sync::Arc<crate::image::Image>,
    pub bias: u64,
}

fn exception(vector: u64) -> (&'static str, i32, &'static str) {
    match vector {
        0 => ("divide error", libc::SIGFPE, "SIGFPE"),
        1 => ("debug exception", libc::SIGTRAP, "SIGTRAP"),
        3 => ("breakpoint", libc::SIGTRAP, "SIGTRAP"),
        4 => ("overflow", libc::SIGSEGV, "SIGSEGV"),
        5 => ("bound range exceeded", libc::SIGSEGV, "SIGSEGV"),
        6 => ("invalid opcode", libc::SIGILL, "SIGILL"),
        7 => ("device not available", libc::SIGSEGV, "SIGSEGV"),
        8 => ("double fault", libc::SIGSEGV, "SIGSEGV"),
        10 => ("invalid TSS", libc::SIGSEGV, "SIGSEGV"),
        11 => ("segment not present", libc::SIGBUS, "SIGBUS"),
        12 => ("stack-segment fault", libc::SIGBUS, "SIGBUS"),
        13 => ("general protection fault", libc::SIGSEGV, "SIGSEGV"),
        14 => ("page fault", libc::SIGSEGV, "SIGSEGV"),
        16 => ("x87 floating-point exception", libc::SIGFPE, "SIGFPE"),
        17 => ("alignment check", libc::SIGBUS, "SIGBUS"),
        18 => ("machine check", libc::SIGBUS, "SIGBUS"),
        19 => ("SIMD floating-point exception", libc::SIGFPE, "SIGFPE"),
        _ => ("exception", libc::SIGSEGV, "SIGSEGV"),
    }
}

fn page_fault_detail(error: u64) -> String {
    let access = if error & 0x10 != 0 {
        "instruction fetch"
    } else if error & 2 != 0 {
        "write"
    } else {
        "read"
    };
    let why = if error & 1 != 0 { "protection violation" } else { "not mapped" };
    format!("{access}, {why}")
}

/// `name+0x12` for the function of `elf` (loaded at `bias`) containing `addr`.
fn symbolize(elf: &Elf, bias: u64, addr: u64) -> Option<String> {
    let addr = addr.checked_sub(bias)?;
    let best = elf
        .syms
        .iter()
        .chain(elf.dynsyms.iter())
        .filter(|s| s.is_function() && s.st_value != 0 && s.st_value <= addr)
        .filter(|s| s.st_size == 0 || addr < s.st_value + s.st_size)
        .max_by_key(|s| s.st_value)?;
    let name = elf.strtab.get_at(best.st_name).or_else(|| elf.dynstrtab.get_at(best.st_name))?;
    Some(format!("{name}+{:#x}", addr - best.st_value))
}

fn locate(addr: u64, program: &Binary, kernel: &KernelImage) -> String {
    if window_phys(addr).is_some() {
        let sym = kernel.elf().and_then(|elf| symbolize(elf, 0, addr)).unwrap_or_else(|| "?".into());
        return format!("{sym} in the hx kernel");
    }
    match Elf::parse(&program.bytes) {
        Ok(elf) => {
            let inside = elf.program_headers.iter().any(|p| {
                p.p_type == goblin::elf::program_header::PT_LOAD
                    && (p.p_vaddr + program.bias..p.p_vaddr + program.bias + p.p_memsz).contains(&addr)
            });
            match (inside, symbolize(&elf, program.bias, addr)) {
                (true, Some(sym)) => format!("{sym} in {}", program.path),
                (true, None) => format!("in {}", program.path),
                (false, _) => "outside any loaded binary".into(),
            }
        }
        Err(_) => format!("in {}", program.path),
    }
}

/// Reports the fault the CPL0 stub announced and returns the signal that
/// ends the program. `quiet`: a child process, whose parent (a shell) reports
/// its death as on Linux.
pub fn report(vcpu: &VcpuFd, mem: &GuestRam, program: &Binary, kernel: &KernelImage, quiet: bool) -> Result<i32> {
    let regs = vcpu.get_regs()?;
    let sregs = vcpu.get_sregs()?;
    // The stub's frame on the CPL0 stack: rax, vector, error code, then what the CPU pushed.
    let base = kernel_phys(regs.rsp).ok_or_else(|| anyhow::anyhow!("fault frame outside the kernel window"))?;
    let mut frame = [0u64; 8];
    for (i, w) in frame.iter_mut().enumerate() {
        *w = mem.read_obj(base + 8 * i as u64)?;
    }
    let [_rax, vector, error, rip, _cs, _rflags, rsp, _ss] = frame;
    let (what, signal, signame) = exception(vector);
    if quiet {
        return Ok(signal);
    }
    let mut msg = format!("hx-run: guest fault: {what}");
    if vector == 14 {
        msg += &format!(" ({}) at address {:#x}", page_fault_detail(error), sregs.cr2);
    } else if error != 0 {
        msg += &format!(" (error code {error:#x})");
    }
    msg += &format!(", rip {rip:#x} ({}), rsp {rsp:#x}; killed by {signame}", locate(rip, program, kernel));
    eprintln!("{msg}");
    Ok(signal)
}
