//! `VFORK`: a child that shares its parent's memory until it execs
//! (`vfork`, posix_spawn's `CLONE_VM|CLONE_VFORK`) runs inside its parent's
//! VM, as the guest kernel arranges; this monitor only reserves its pid and
//! answers process requests as that child meanwhile. When the child execs,
//! the monitor forks and the new monitor boots the image in a fresh VM:
//! no child VM is built over a copy of the parent to run the few calls
//! between `vfork` and `execve`, which is most of what a `fork` costs here.
use super::table::{self, Entry};
use crate::host::files::Files;
use crate::report::Report;
use crate::vcpu::Machine;
use anyhow::{Context, Result};
use hx_abi::hypercall::{Request, VFORK_END, VFORK_START};
use std::sync::atomic::{AtomicPtr, Ordering};

/// The child in its parent's VM, if one is (at most one: the guest kernel
/// stops the parent's other threads meanwhile).
static RESERVED: AtomicPtr<Entry> = AtomicPtr::new(std::ptr::null_mut());

/// The child this monitor answers for while it runs in its parent's VM.
pub fn reserved() -> Option<&'static Entry> {
    // SAFETY: null or an entry of the process table, which is never unmapped.
    unsafe { RESERVED.load(Ordering::SeqCst).as_ref() }
}

fn take_reserved() -> Option<&'static Entry> {
    // SAFETY: as in `reserved`.
    unsafe { RESERVED.swap(std::ptr::null_mut(), Ordering::SeqCst).as_ref() }
}

fn answer(m: &Machine, addr: u64, mut req: Request, ret: i64) -> Result<()> {
    req.ret = ret;
    m.mem.write_obj(addr, req)
}

/// Serves `VFORK` (from a vCPU thread: ending a child forks this monitor).
pub fn serve(m: &Machine, addr: u64) -> Result<()> {
    let req: Request = m.mem.read_obj(addr)?;
    m.host.lock().unwrap_or_else(|e| e.into_inner()).0.count_request(req.op);
    match req.args[0] {
        VFORK_START => {
            let Some(exit_signal) = i32::try_from(req.args[1]).ok().filter(|s| (0..=64).contains(s)) else {
                return answer(m, addr, req, -(libc::EINVAL as i64));
            };
            if reserved().is_some() {
                return answer(m, addr, req, -(libc::EBUSY as i64));
            }
            let Some(me) = table::me() else { return answer(m, addr, req, -(libc::EAGAIN as i64)) };
            let Some((slot, pid)) = table::reserve(me, exit_signal) else {
                return answer(m, addr, req, -(libc::EAGAIN as i64));
            };
            RESERVED.store(slot as *const Entry as *mut Entry, Ordering::SeqCst);
            answer(m, addr, req, pid as i64)
        }
        VFORK_END => {
            let end = match (i32::try_from(req.args[2]), i32::try_from(req.args[1] & 0xff)) {
                (Ok(0), Ok(status)) => super::End::Exit(status),
                (Ok(sig), _) if (1..=64).contains(&sig) => super::End::Killed(sig, false),
                _ => return answer(m, addr, req, -(libc::EINVAL as i64)),
            };
            let Some(slot) = reserved() else { return answer(m, addr, req, -(libc::ECHILD as i64)) };
            let pid = slot.pid.load(Ordering::SeqCst);
            match start(m, move |_, _| end) {
                Ok(()) => answer(m, addr, req, pid as i64),
                Err(e) => {
                    // No process can stand for the child: the reservation
                    // goes (a later vfork would be EBUSY for ever).
                    if let Some(slot) = take_reserved() {
                        table::release(slot);
                    }
                    answer(m, addr, req, -(e as i64))
                }
            }
        }
        _ => answer(m, addr, req, -(libc::EINVAL as i64)),
    }
}

/// `EXEC` while a child is reserved: the child's image, checked as an
/// `execve`'s (a refusal goes back to the child, which may try another),
/// boots in a new monitor; the caller's VM goes on with `ret` = 0.
pub fn serve_exec(m: &Machine, addr: u64) -> Result<()> {
    let req: Request = m.mem.read_obj(addr).context("a host request")?;
    let launch = {
        let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
        let (report, files) = &mut *guard;
        report.count_request(req.op);
        super::exec::prepare(m, files, &req)
    };
    let launch = match launch {
        Ok(l) => l,
        Err(e) => return answer(m, addr, req, -(e as i64)),
    };
    super::spare::note_spawn();
    // A spare monitor made ahead takes the image at once; else one is forked.
    let launch = {
        let guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
        let Some(slot) = reserved() else { return answer(m, addr, req, -(libc::ECHILD as i64)) };
        match super::spare::hand_over(guard.1, slot, Box::new(launch)) {
            Ok(()) => {
                take_reserved();
                drop(guard);
                super::spare::make(m);
                return answer(m, addr, req, 0);
            }
            Err(launch) => *launch,
        }
    };
    let run = move |report: &mut Report, files: &mut Files| match boot_child(m, report, files, launch) {
        Ok(end) => end,
        Err(e) => {
            eprintln!("hx-run: spawned process: {e:#}");
            super::End::Exit(125)
        }
    };
    match start(m, run) {
        Ok(()) => {
            super::spare::make(m);
            answer(m, addr, req, 0)
        }
        Err(e) => answer(m, addr, req, -(e as i64)),
    }
}

/// Forks this monitor for the reserved child, whose monitor runs `child`
/// and ends; in the parent the reservation ends. `Err`: an errno.
fn start(m: &Machine, child: impl FnOnce(&mut Report, &mut Files) -> super::End) -> std::result::Result<(), i32> {
    let slot = reserved().ok_or(libc::ECHILD)?;
    // The request lock is held across the fork, so the child's handles and
    // report are not caught mid-change.
    let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
    // As for `fork`: the child's monitor takes no announcement before it
    // knows its own entry.
    let announcements = crate::signals::block_guest_signal();
    // The child boots a new image or only ends: the parent's RAM stays out of it.
    if let Err(e) = m.mem.keep_from_fork(true) {
        eprintln!("hx-run: {e:#}");
        return Err(libc::ENOMEM);
    }
    // SAFETY: fork of this process; the child only uses this thread and
    // never returns into the parent's frames (`child` does not return).
    let host_pid = unsafe { libc::fork() };
    if host_pid != 0 {
        let _ = m.mem.keep_from_fork(false);
    }
    if host_pid < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EAGAIN));
    }
    if host_pid > 0 {
        drop(announcements);
        slot.host_pid.store(host_pid, Ordering::SeqCst);
        take_reserved();
        return Ok(());
    }
    // SAFETY: getpid cannot fail.
    slot.host_pid.store(unsafe { libc::getpid() }, Ordering::SeqCst);
    table::became(slot);
    take_reserved();
    super::spare::forget();
    drop(announcements);
    let (report, files) = &mut *guard;
    super::exit_child(child(report, files))
}

/// The new monitor: a fresh VM with the image, as an `execve` boots it.
fn boot_child(m: &Machine, report: &mut Report, files: &mut Files, launch: crate::vm::Launch) -> Result<super::End> {
    crate::signals::restarting();
    super::exec::keep_inherited(files, &launch);
    let w = m.world;
    // Guest RAM was left out of the fork: fresh memory where it was.
    w.mem.remap_fresh()?;
    files.shared.clear(w.mem);
    let vm = crate::vm::create_vm(w.kvm)?;
    let slots = crate::slots::Slots::new(vm, w.mem, 0)?;
    let mut vcpus = crate::vm::first_vcpu_only(&slots, w.cfg.cpus, 0)?;
    let program = crate::fault::Binary { path: launch.name.clone(), bytes: Default::default(), bias: 0 };
    crate::vm::serve(w, &slots, &mut vcpus, report, files, Some(launch), None, program, 0)
}
