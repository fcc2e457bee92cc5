//! The vCPU run loop: every exit to the monitor is routed from here.
use crate::fault::{self, Binary};
use crate::host::files::Files;
use crate::host::{Host, Outcome};
use crate::kernel_image::KernelImage;
use crate::memory::GuestRam;
use crate::report::Report;
use anyhow::{bail, Context, Result};
use hx_abi::layout::{FAULT_PORT, HYPERCALL_PORT};
use kvm_ioctls::{VcpuExit, VcpuFd};
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// The vCPU's `immediate_exit` byte, so a signal can stop a running guest.
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let p = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: points into the vCPU's kvm_run mapping, alive while the loop runs.
        unsafe { p.write_volatile(1) };
    }
}

/// Ctrl-C (and SIGTERM) stop the guest: KVM_RUN returns and hx-run exits 130/143.
fn catch_interrupts(vcpu: &mut VcpuFd) {
    IMMEDIATE_EXIT.store(&mut vcpu.get_kvm_run().immediate_exit, Ordering::SeqCst);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installs an async-signal-safe handler (atomic stores only),
        // without SA_RESTART so a blocked KVM_RUN returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as *const () as usize;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn run(
    mut vcpu: VcpuFd,
    mem: &GuestRam,
    report: &mut Report,
    files: &mut Files,
    program: &Binary,
    kernel: &KernelImage,
) -> Result<i32> {
    catch_interrupts(&mut vcpu);
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            eprintln!("hx-run: interrupted; guest stopped");
            return Ok(130);
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
                let addr = u32::from_le_bytes(data.try_into().unwrap()) as u64;
                let mut host = Host { mem, report, files: &mut *files };
                match host.serve(addr)? {
                    Outcome::Resume => {}
                    Outcome::Exit(status) => return Ok(status),
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
