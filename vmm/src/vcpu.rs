//! The vCPU run loops: one host thread per vCPU; every exit to the monitor
//! is routed from here.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::arch::regs;
use crate::fault::{self, Binary};
use crate::host::files::Files;
use crate::host::{Host, Outcome, Prepared};
use crate::kernel_image::KernelImage;
use crate::memory::GuestRam;
use crate::report::Report;
use crate::signals;
use crate::smp::{self, Smp, REQ_FLUSH_TLB, REQ_PREEMPT, REQ_WAKE};
use anyhow::{bail, Context, Result};
use hx_abi::hypercall::{op, Request};
use hx_abi::layout::{FAULT_PORT, HYPERCALL_PORT, USER_END};
use hx_abi::percpu::{PerCpu, CPU_AREA_SIZE, UPCALL_FAULT, UPCALL_PREEMPT, UPCALL_SIGNAL};
use kvm_ioctls::{VcpuExit, VcpuFd};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// How a VM's run ended.
pub enum Ended {
    /// The program exited with this status (or died of a signal: 128 + n).
    Exit(i32),
    /// It died of signal n (a child process's monitor dies of it too).
    /// (And whether it left a core file.)
    Killed(i32, bool),
    /// It called `execve`: boot this image next.
    Exec(Box<crate::vm::Launch>),
}

/// What every vCPU thread shares.
pub struct Machine<'a> {
    pub world: &'a crate::vm::World<'a>,
    pub mem: &'a GuestRam,
    pub smp: Smp,
    /// Host requests are served one at a time (they are short; IDLE and the
    /// other scheduling requests never take this lock).
    pub host: Mutex<(&'a mut Report, &'a mut Files)>,
    /// The program, for fault reports (a spare monitor's comes at its launch).
    pub program: Mutex<Binary>,
    pub kernel: &'a KernelImage,
    /// The kernel's `hx_upcall_entry`.
    pub upcall_entry: u64,
    /// Requests posted without exits, and the thread that serves them.
    pub ring: crate::ring::Ring,
    /// Host files guest threads wait for, and the thread that watches them.
    pub watch: crate::watch::Watcher,
    /// The VM and the guest RAM its vCPUs reach.
    pub slots: &'a crate::slots::Slots,
}

/// Runs every vCPU on its own thread (vCPU 0 on this one) until the program
/// ends; returns its exit status.
pub fn run(vcpus: &mut [Option<VcpuFd>], m: &Machine) -> Result<Ended> {
    publish_ppid(m)?;
    let result: Mutex<Option<Result<Ended>>> = Mutex::new(None);
    std::thread::scope(|scope| {
        let mut first = None;
        let mut others = Vec::new();
        for (i, vcpu) in vcpus.iter_mut().enumerate() {
            if i == m.smp.first {
                first = Some((i, vcpu));
            } else {
                others.push((i, vcpu));
            }
        }
        let result = &result;
        // The helper threads are started from another thread (a few hundred
        // µs here), while this one runs the program at once. Each copes with
        // a VM that ended before it started (it finds the stop already set).
        scope.spawn(move || {
            for (i, vcpu) in others {
                scope.spawn(move || finish(m, result, run_one(i, vcpu, m)));
            }
            // Time slices and timers due while every vCPU runs program code
            // need the timer thread, one vCPU or many.
            scope.spawn(|| m.smp.run_timers(m.mem));
            scope.spawn(|| m.ring.run(m.mem, &m.host, &m.watch));
            let events_at = m.smp.areas_phys
                + hx_abi::percpu::SHARED_OFFSET
                + std::mem::offset_of!(hx_abi::percpu::Shared, host_events) as u64;
            if let Err(e) = m.watch.run(m.mem, &m.smp, events_at) {
                finish(m, result, Err(e));
            }
        });
        if let Some((i, vcpu)) = first {
            finish(m, result, run_one(i, vcpu, m));
        }
    });
    crate::signals::release();
    result.into_inner().unwrap_or_else(|e| e.into_inner()).unwrap_or(Ok(Ended::Exit(0)))
}

/// Records the first vCPU's outcome and stops the others.
fn finish(m: &Machine, result: &Mutex<Option<Result<Ended>>>, r: Result<Option<Ended>>) {
    let r = match r {
        Ok(None) => return, // stopped because another vCPU ended the VM
        Ok(Some(status)) => Ok(status),
        Err(e) => Err(e),
    };
    let mut slot = result.lock().unwrap_or_else(|e| e.into_inner());
    let end = match (&r, slot.is_none()) {
        (Ok(Ended::Exit(status)), true) => Some(crate::process::End::Exit(*status)),
        (Ok(Ended::Killed(sig, core)), true) => Some(crate::process::End::Killed(*sig, *core)),
        _ => None,
    };
    if slot.is_none() {
        *slot = Some(r);
    }
    drop(slot);
    m.smp.stop_all();
    m.ring.stop();
    m.watch.stop();
    if let Some(end) = end {
        // The parent may reap the child now, not after this VM's teardown,
        // and a child's monitor has nothing left to do but end the same way
        // (its threads and VM go with the process), unless it becomes a
        // spare again (then the vCPUs stop and `serve` returns).
        crate::host::sysv::detach_all();
        m.watch.waits.cancel_all();
        // Its files close before its parent can learn of its end, as
        // Linux closes them in `exit`: the record locks and leases it held
        // are free by the time the parent's `wait` returns.
        m.host.lock().unwrap_or_else(|e| e.into_inner()).1.keep_only(&[]);
        if crate::host::sysv::undo_used() {
            // Its SEM_UNDO adjustments apply only when this host process
            // ends: its parent learns of the end from the host then.
            if crate::process::table::me().is_some_and(|me| me.ppid.load(Ordering::SeqCst) != 0) {
                crate::process::exit_child(end);
            }
        } else if crate::process::table::publish_end(&end) && !crate::process::spare::comes_back() {
            crate::process::exit_child(end);
        }
    }
}

fn area(m: &Machine, i: usize) -> u64 {
    m.smp.areas_phys + i as u64 * CPU_AREA_SIZE
}

/// Enters the kernel at `hx_upcall_entry` on vCPU `i`, which was stopped in
/// program code at (`rip`, `rsp`, `rflags`); `regs` become the entry's.
fn upcall(
    m: &Machine,
    i: usize,
    vcpu: &VcpuFd,
    mut r: kvm_bindings::kvm_regs,
    kind: u64,
    fault: [u64; 3],
) -> Result<()> {
    let base = area(m, i);
    let mut p: PerCpu = m.mem.read_obj(base)?;
    if p.kstack_top == 0 {
        bail!("vCPU {i} stopped in program code with no thread");
    }
    p.upcall_rip = r.rip;
    p.upcall_rsp = r.rsp;
    p.upcall_rflags = r.rflags;
    p.upcall_kind = kind;
    [p.fault_vector, p.fault_error, p.fault_addr] = fault;
    // Only the upcall fields: `work` and the rest belong to the kernel.
    let off = std::mem::offset_of!(PerCpu, upcall_rip) as u64;
    for (k, v) in [p.upcall_rip, p.upcall_rsp, p.upcall_rflags].iter().enumerate() {
        m.mem.write_obj(base + off + 8 * k as u64, *v)?;
    }
    m.mem.write_obj(base + std::mem::offset_of!(PerCpu, upcall_kind) as u64, kind)?;
    let fault_off = std::mem::offset_of!(PerCpu, fault_vector) as u64;
    for (k, v) in fault.iter().enumerate() {
        m.mem.write_obj(base + fault_off + 8 * k as u64, *v)?;
    }
    r.rip = m.upcall_entry;
    r.rsp = p.kstack_top;
    r.rflags = 0x202;
    vcpu.set_regs(&r).context("KVM_SET_REGS")
}

/// Stops vCPU `i` in program code for the kernel (`kind`), if it is there;
/// in kernel code the kernel sees its `work` bits on its way out anyway.
fn interrupt_program(m: &Machine, i: usize, vcpu: &VcpuFd, kind: u64) -> Result<()> {
    let r = vcpu.get_regs().context("KVM_GET_REGS")?;
    if r.rip < USER_END {
        upcall(m, i, vcpu, r, kind, [0; 3])?;
    }
    Ok(())
}

/// Drops the vCPU's TLB: reloading its control registers makes KVM rebuild
/// its view of the guest's page tables.
pub fn flush_tlb(vcpu: &VcpuFd) -> Result<()> {
    let s = vcpu.get_sregs().context("KVM_GET_SREGS")?;
    vcpu.set_sregs(&s).context("KVM_SET_SREGS")
}

/// A fault in program code whose signal the program handles: into the kernel,
/// which delivers it. Returns false if the fault is the monitor's to report.
fn fault_to_program(m: &Machine, i: usize, vcpu: &VcpuFd) -> Result<bool> {
    let r = vcpu.get_regs()?;
    let Some(base) = fault::kernel_phys(r.rsp) else { return Ok(false) };
    let mut frame = [0u64; 8];
    for (k, w) in frame.iter_mut().enumerate() {
        *w = m.mem.read_obj(base + 8 * k as u64)?;
    }
    let [rax, vector, error, rip, cs, rflags, rsp, _ss] = frame;
    if cs & 3 != 3 || rip >= USER_END {
        return Ok(false);
    }
    let signal = fault::signal_of(vector) as u32;
    // A page fault may be SIGBUS too (a file mapping past its end): the kernel tells which.
    let mut wanted = 1u64 << (signal - 1);
    if vector == 14 {
        wanted |= 1 << (libc::SIGBUS - 1);
    }
    let shared: hx_abi::percpu::Shared = m.mem.read_obj(m.smp.areas_phys + hx_abi::percpu::SHARED_OFFSET)?;
    let cr2 = vcpu.get_sregs()?.cr2;
    // A page fault in memory mapped at first touch is the kernel's to serve.
    let lazy = vector == 14 && shared.lazy_at(cr2);
    if shared.caught & wanted == 0 && !lazy {
        return Ok(false);
    }
    // Back to CPL3 with the program's registers; the upcall takes it from there.
    regs::set_user_segments(vcpu)?;
    let user = kvm_bindings::kvm_regs { rax, rip, rsp, rflags, ..r };
    upcall(m, i, vcpu, user, UPCALL_FAULT, [vector, error, cr2])?;
    Ok(true)
}

/// Tells the guest kernel its parent's pid (which changes when the parent ends).
pub fn publish_ppid(m: &Machine) -> Result<()> {
    let ppid = crate::process::table::me().map_or(0, |e| e.ppid.load(Ordering::SeqCst));
    let at =
        m.smp.areas_phys + hx_abi::percpu::SHARED_OFFSET + std::mem::offset_of!(hx_abi::percpu::Shared, ppid) as u64;
    m.mem.atomic_u64(at)?.store(ppid.max(0) as u64, Ordering::SeqCst);
    Ok(())
}

/// Whether the guest has forwarded signals or host-file events it has not
/// taken yet (`seen`: the events count it last took).
fn guest_has_news(m: &Machine, seen: u64) -> Result<bool> {
    let shared = m.smp.areas_phys + hx_abi::percpu::SHARED_OFFSET;
    let signals = m.mem.atomic_u64(shared + std::mem::offset_of!(hx_abi::percpu::Shared, host_signals) as u64)?;
    let events = m.mem.atomic_u64(shared + std::mem::offset_of!(hx_abi::percpu::Shared, host_events) as u64)?;
    Ok(signals.load(Ordering::SeqCst) != 0 || events.load(Ordering::SeqCst) != seen)
}

/// One vCPU at a time passes signals on: a vCPU about to resume its guest
/// (after a `wait` answered, say) must not find `PENDING` taken by another
/// that has not yet written the bits for the guest.
static FORWARDING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Sets the guest's word at `offset` in the shared block to `value` if it
/// differs, and wakes a vCPU to look at it.
fn tell_guest(m: &Machine, offset: usize, value: u64) -> Result<()> {
    let word = m.mem.atomic_u64(m.smp.areas_phys + hx_abi::percpu::SHARED_OFFSET + offset as u64)?;
    if word.load(Ordering::SeqCst) != value {
        word.store(value, Ordering::SeqCst);
        m.smp.request(m.smp.first, REQ_WAKE);
    }
    Ok(())
}

/// Passes SIGINT/SIGQUIT/SIGTERM/SIGHUP that hx-run received on to the program.
fn forward_host_signals(m: &Machine) -> Result<()> {
    if signals::take_entry_changed() {
        publish_ppid(m)?;
    }
    let _one = FORWARDING.lock().unwrap_or_else(|e| e.into_inner());
    // Signals queued with their siginfo: the guest takes them when this
    // word moves (also a new image's, whose word starts at 0).
    let queued = crate::process::table::queued_gen();
    tell_guest(m, std::mem::offset_of!(hx_abi::percpu::Shared, queued_signals), queued)?;
    // Another process's `setpriority`: the request word, as the guest's.
    if let Some(me) = crate::process::table::me() {
        let request = me.nice_request.load(Ordering::SeqCst);
        tell_guest(m, std::mem::offset_of!(hx_abi::percpu::Shared, nice_request), request)?;
    }
    let bits = signals::take_pending();
    if bits == 0 {
        return Ok(());
    }
    let senders = m.smp.areas_phys
        + hx_abi::percpu::SHARED_OFFSET
        + std::mem::offset_of!(hx_abi::percpu::Shared, host_signal_senders) as u64;
    for sig in 1..=hx_abi::percpu::SENDER_SIGNALS {
        if bits & (1 << (sig - 1)) != 0 {
            let from = signals::take_sender(sig);
            m.mem.atomic_u64(senders + 8 * (sig as u64 - 1))?.store(from, Ordering::SeqCst);
        }
    }
    let at = m.smp.areas_phys
        + hx_abi::percpu::SHARED_OFFSET
        + std::mem::offset_of!(hx_abi::percpu::Shared, host_signals) as u64;
    m.mem.atomic_u64(at)?.fetch_or(bits, Ordering::SeqCst);
    m.smp.request(m.smp.first, REQ_WAKE);
    Ok(())
}

/// One vCPU's loop. `Ok(Some(status))`: the program ended; `Ok(None)`:
/// another vCPU ended the VM.
fn run_one(i: usize, vcpu: &mut Option<VcpuFd>, m: &Machine) -> Result<Option<Ended>> {
    m.smp.wait_for_start(i);
    if m.smp.stop.load(Ordering::SeqCst) {
        return Ok(None);
    }
    if vcpu.is_none() {
        *vcpu = Some(crate::vm::late_vcpu(m.world, m.slots, i)?);
    }
    let vcpu = vcpu.as_mut().context("vCPU")?;
    m.smp.attach(i, &mut vcpu.get_kvm_run().immediate_exit);
    let me = m.smp.vcpus.get(i).context("vCPU index")?;
    loop {
        if m.smp.stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        forward_host_signals(m)?;
        let requests = me.requests.swap(0, Ordering::SeqCst);
        if requests & REQ_FLUSH_TLB != 0 {
            flush_tlb(vcpu)?;
            m.smp.flushed(i);
        }
        if requests & REQ_PREEMPT != 0 {
            interrupt_program(m, i, vcpu, UPCALL_PREEMPT)?;
        } else if requests & REQ_WAKE != 0 {
            interrupt_program(m, i, vcpu, UPCALL_SIGNAL)?;
        }
        me.state.store(smp::IN_GUEST, Ordering::SeqCst);
        if me.requests.load(Ordering::SeqCst) & REQ_FLUSH_TLB != 0 {
            me.state.store(smp::IN_MONITOR, Ordering::SeqCst);
            continue;
        }
        let exit = vcpu.run();
        me.state.store(smp::IN_MONITOR, Ordering::SeqCst);
        let exit = match exit {
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
                let op = m.mem.read_obj::<u32>(addr).context("a host request")?;
                let ended = match op {
                    op::FORK => crate::process::fork::serve(m, i, vcpu, addr).map(|()| None)?,
                    op::LAUNCH => crate::process::spare::serve_launch(m, vcpu, addr).map(|()| None)?,
                    op::EXEC if crate::process::spawn::reserved().is_some() => {
                        crate::process::spawn::serve_exec(m, addr).map(|()| None)?
                    }
                    op::EXEC => crate::process::exec::serve(m, addr)?.map(Ended::Exec),
                    op::VFORK => crate::process::spawn::serve(m, addr).map(|()| None)?,
                    _ => hypercall(m, i, addr)?,
                };
                if ended.is_some() {
                    return Ok(ended);
                }
            }
            VcpuExit::IoOut(FAULT_PORT, _) => {
                if fault_to_program(m, i, vcpu)? {
                    continue;
                }
                let mut host = m.host.lock().unwrap_or_else(|e| e.into_inner());
                host.0.count_exit("fault");
                // A child's death is its parent's to report (as a shell does),
                // unless --strace asks for every detail.
                let first = crate::process::table::me().is_none_or(|e| e.pid.load(Ordering::SeqCst) == 1);
                let quiet = !first && !m.world.cfg.strace;
                let signal =
                    fault::report(vcpu, m.mem, &m.program.lock().unwrap_or_else(|e| e.into_inner()), m.kernel, quiet)?;
                // --stats, as at an exit: the counters are at their symbol.
                if let Some(phys) = m.kernel.symbol("HX_STATS").ok().and_then(crate::kernel_image::window_phys) {
                    host.0.exit_stats(m.mem, phys);
                }
                return Ok(Some(Ended::Killed(signal, false)));
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

/// Serves the request at guest-physical `addr` from vCPU `i`; `Some(status)`
/// when the program ended.
fn hypercall(m: &Machine, i: usize, addr: u64) -> Result<Option<Ended>> {
    let mut req: Request = m.mem.read_obj(addr).context("a host request")?;
    let scheduling = match req.op {
        op::IDLE => {
            // A REQ_WAKE that found this vCPU in kernel code was dropped; the
            // guest may have looked at its host signals and events just
            // before. Sleep only if nothing waits there (args[1]: the host
            // events count the guest has seen).
            if !guest_has_news(m, req.args[1])? {
                m.smp.idle(i, req.args[0]);
            }
            true
        }
        op::KICK => {
            m.smp.kick(req.args[0].min(usize::MAX as u64) as usize);
            true
        }
        op::SHOOTDOWN => {
            m.smp.shootdown(i);
            true
        }
        op::INTERRUPT => {
            m.smp.request(req.args[0].min(usize::MAX as u64) as usize, REQ_WAKE);
            true
        }
        op::MEMORY => {
            // Under the request lock: a fork copies the slots while holding it.
            let mut host = m.host.lock().unwrap_or_else(|e| e.into_inner());
            host.0.count_request(req.op);
            match m.slots.reach(m.mem, req.args[0], req.args[1]) {
                Ok((low, high)) => {
                    (req.args[0], req.args[1], req.ret) = (low, high, 0);
                }
                Err(e) => {
                    eprintln!("hx-run: could not give the guest more of its RAM: {e:#}");
                    req.ret = -(libc::ENOMEM as i64);
                }
            }
            drop(host);
            m.mem.write_obj(addr, req)?;
            return Ok(None);
        }
        op::RING => {
            req.ret = m.ring.register(m.mem, req.args[0]);
            m.mem.write_obj(addr, req)?;
            m.host.lock().unwrap_or_else(|e| e.into_inner()).0.count_request(req.op);
            return Ok(None);
        }
        op::RING_WAKE => {
            m.host.lock().unwrap_or_else(|e| e.into_inner()).0.count_request(req.op);
            req.ret = m.ring.wake_for(m.mem, req.args[0], &m.host, &m.watch);
            m.mem.write_obj(addr, req)?;
            return Ok(None);
        }
        _ => false,
    };
    if scheduling {
        let mut host = m.host.lock().unwrap_or_else(|e| e.into_inner());
        host.0.count_request(req.op);
        drop(host);
        req.ret = 0;
        m.mem.write_obj(addr, req)?;
        return Ok(None);
    }
    let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
    let (report, files) = &mut *guard;
    let mut host = Host { mem: m.mem, report, files, watch: Some(&m.watch) };
    let outcome = match host.serve_or_prepare(addr).context("a host request")? {
        Prepared::Done(outcome) => outcome,
        Prepared::Io(io, req) => {
            // Reads and writes run without the lock: one may block (a terminal).
            drop(guard);
            crate::host::finish_io(m.mem, addr, req, io, |f| {
                let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
                f(guard.1)
            })
            .context("a host request")?;
            Outcome::Resume
        }
    };
    match outcome {
        Outcome::Resume => {
            // A program that made one host request is likely to make more: poll for them.
            m.ring.nudge();
            Ok(None)
        }
        Outcome::Exit(status) => Ok(Some(Ended::Exit(status))),
        Outcome::Killed(sig, core) => Ok(Some(Ended::Killed(sig, core))),
        Outcome::KernelPanic => bail!("the guest kernel panicked (message above)"),
    }
}
