//! `FORK`: the monitor forks itself; the child process builds a fresh VM
//! over its copy-on-write copy of guest RAM, gives the forking vCPU's state
//! to the same vCPU there, and serves it. The parent goes on unchanged.
use super::table;
use crate::vcpu::Machine;
use anyhow::{Context, Result};
use hx_abi::hypercall::Request;
use kvm_ioctls::VcpuFd;
use std::sync::atomic::Ordering;

/// Everything of a vCPU a program can observe or the kernel relies on.
pub struct VcpuState {
    regs: kvm_bindings::kvm_regs,
    sregs: kvm_bindings::kvm_sregs,
    xsave: kvm_bindings::kvm_xsave,
    xcrs: kvm_bindings::kvm_xcrs,
}

impl VcpuState {
    pub fn save(vcpu: &VcpuFd) -> Result<Self> {
        Ok(Self {
            regs: vcpu.get_regs().context("KVM_GET_REGS")?,
            sregs: vcpu.get_sregs().context("KVM_GET_SREGS")?,
            xsave: vcpu.get_xsave().context("KVM_GET_XSAVE")?,
            xcrs: vcpu.get_xcrs().context("KVM_GET_XCRS")?,
        })
    }

    pub fn restore(&self, vcpu: &VcpuFd) -> Result<()> {
        vcpu.set_sregs(&self.sregs).context("KVM_SET_SREGS")?;
        vcpu.set_xcrs(&self.xcrs).context("KVM_SET_XCRS")?;
        // SAFETY: a state KVM_GET_XSAVE produced for a vCPU of the same CPUID.
        unsafe { vcpu.set_xsave(&self.xsave) }.context("KVM_SET_XSAVE")?;
        vcpu.set_regs(&self.regs).context("KVM_SET_REGS")
    }
}

fn answer(m: &Machine, addr: u64, mut req: Request, ret: i64) -> Result<()> {
    req.ret = ret;
    m.mem.write_obj(addr, req)
}

/// Serves `FORK` from vCPU `i`. Returns in the parent; the child never returns.
pub fn serve(m: &Machine, i: usize, vcpu: &VcpuFd, addr: u64) -> Result<()> {
    let req: Request = m.mem.read_obj(addr)?;
    // The exit signal (`clone`'s CSIGNAL bits): a signal number or 0.
    let Some(exit_signal) = i32::try_from(req.args[0]).ok().filter(|s| (0..=64).contains(s)) else {
        return answer(m, addr, req, -(libc::EINVAL as i64));
    };
    let Some(me) = table::me() else { return answer(m, addr, req, -(libc::EAGAIN as i64)) };
    let Some((slot, pid)) = table::reserve(me, exit_signal) else {
        return answer(m, addr, req, -(libc::EAGAIN as i64));
    };
    let state = VcpuState::save(vcpu)?;
    // The request lock is held across the copy, so the child's handles and
    // report are not caught mid-change.
    let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
    guard.0.count_request(req.op);
    // Another process may signal the child as soon as the parent answers;
    // the child's monitor must not take that announcement before it knows
    // its own table entry (it would read the parent's): blocked until then.
    let mut announcements = Some(crate::signals::block_guest_signal());
    // SAFETY: fork of this process. The child only uses this thread: it
    // builds its own VM and threads and never returns into the parent's frames.
    let host_pid = unsafe { libc::fork() };
    if host_pid != 0 {
        announcements = None;
    }
    if host_pid < 0 {
        let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN);
        table::release(slot);
        drop(guard);
        return answer(m, addr, req, -(e as i64));
    }
    if host_pid > 0 {
        slot.host_pid.store(host_pid, Ordering::SeqCst);
        drop(guard);
        return answer(m, addr, req, pid as i64);
    }
    // The child.
    // SAFETY: getpid cannot fail.
    slot.host_pid.store(unsafe { libc::getpid() }, Ordering::SeqCst);
    table::became(slot);
    // Host signals the parent's monitor took and had not passed on yet are
    // the parent's (its children's ends, a SIGTERM to it): a forked process
    // starts with none pending (Linux). Signals sent to this child come
    // through its entry, whose announcement stays blocked until its VM runs.
    crate::signals::forget_pending();
    super::spare::forget();
    let mut child = req;
    child.args[0] = pid as u64;
    child.args[1] = me.pid.load(Ordering::SeqCst) as u64;
    let (report, files) = &mut *guard;
    let end = answer(m, addr, child, 0).and_then(|()| run_child(m, i, &state, report, files, announcements));
    match end {
        Ok(end) => super::exit_child(end),
        Err(e) => {
            eprintln!("hx-run: forked process {pid}: {e:#}");
            super::exit_child(super::End::Exit(125))
        }
    }
}

/// The child's VM: new, over the same (now copied) guest RAM, vCPU `i` resuming.
fn run_child(
    m: &Machine,
    i: usize,
    state: &VcpuState,
    report: &mut crate::report::Report,
    files: &mut crate::host::files::Files,
    announcements: Option<crate::signals::GuestSignalBlocked>,
) -> Result<super::End> {
    crate::signals::restarting();
    let w = m.world;
    let vm = crate::vm::create_vm(w.kvm)?;
    let slots = crate::slots::Slots::copy_of(m.slots, vm, w.mem)?;
    let mut vcpus = crate::vm::first_vcpu_only(&slots, w.cfg.cpus, i)?;
    crate::vm::setup_vcpus(w, &vcpus, true)?;
    state.restore(vcpus.get(i).and_then(Option::as_ref).context("the forking vCPU")?)?;
    // This monitor knows its own entry and its VM is built (no KVM call left
    // for the announcement to interrupt): take signals posted meanwhile.
    drop(announcements);
    let program = m.program.lock().unwrap_or_else(|e| e.into_inner()).clone();
    crate::vm::serve(w, &slots, &mut vcpus, report, files, None, Some(i), program, 0)
}
