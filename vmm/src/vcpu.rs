//! The vCPU run loop: every exit to the monitor is routed from here.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::fault::{self, Binary};
use crate::host::files::Files;
use crate::host::{Host, Outcome};
use crate::kernel_image::KernelImage;
use crate::memory::GuestRam;
use crate::report::Report;
use crate::signals;
use anyhow::{bail, Context, Result};
use hx_abi::layout::{FAULT_PORT, HYPERCALL_PORT};
use kvm_ioctls::{VcpuExit, VcpuFd};

pub fn run(
    mut vcpu: VcpuFd,
    mem: &GuestRam,
    report: &mut Report,
    files: &mut Files,
    program: &Binary,
    kernel: &KernelImage,
) -> Result<i32> {
    loop {
        if signals::interrupted() {
            eprintln!("hx-run: interrupted; guest stopped");
            return Ok(signals::status());
        }
        let exit = match vcpu.run() {
            Ok(exit) => exit,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                vcpu.set_kvm_immediate_exit(0);
                continue;
            }
            Err(e) => return Err(e).context("KVM_RUN"),
        };
        match exit {
            VcpuExit::IoOut(HYPERCALL_PORT, data) if data.len() == 4 => {
                let mut word = [0u8; 4];
                word.copy_from_slice(data);
                let addr = u32::from_le_bytes(word) as u64;
                let mut host = Host { mem, report, files: &mut *files };
                match host.serve(addr).context("a host request")? {
                    Outcome::Resume => {}
                    Outcome::Exit(status) => return Ok(status),
                    Outcome::KernelPanic => bail!("the guest kernel panicked (message above)"),
                }
            }
            VcpuExit::IoOut(FAULT_PORT, _) => {
                report.count_exit("fault");
                return fault::report(&vcpu, mem, program, kernel);
            }
            VcpuExit::IoOut(port, _) | VcpuExit::IoIn(port, _) => {
                bail!("guest used I/O port {port:#x}, which hx does not serve")
            }
            VcpuExit::MmioRead(addr, _) | VcpuExit::MmioWrite(addr, _) => {
                bail!("guest touched guest-physical {addr:#x}, outside its RAM")
            }
            VcpuExit::Shutdown => bail!("the guest shut down (triple fault)"),
            VcpuExit::Hlt => bail!("the guest halted"),
            VcpuExit::InternalError => {
                let rip = vcpu.get_regs().map(|r| r.rip).unwrap_or(0);
                bail!("KVM could not run the guest (internal error) at rip {rip:#x}")
            }
            VcpuExit::FailEntry(reason, _) => {
                bail!("KVM failed to enter the guest (reason {reason:#x})")
            }
            other => bail!("unexpected exit from the guest: {other:?}"),
        }
    }
}
