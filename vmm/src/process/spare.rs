//! A spare monitor: forked ahead of this process's next `posix_spawn` (or
//! `vfork` + `execve`), it makes its VM, writes the kernel into it and
//! boots it; the kernel waits in `LAUNCH`. When the child execs, the parent
//! hands the spare the image and the descriptors the image inherits over a
//! socket, instead of forking a monitor that only then makes a VM and boots
//! the kernel: those steps are off the child's way (most of a spawn's cost
//! on this host kind).
//!
//! A monitor makes its spares right after its program started a child this
//! way (a shell, make, a test runner start many): their making overlaps
//! that child's run. It keeps two (`SPARES`): making one takes longer than
//! a short child's run, so the next spawn takes the one made a spawn
//! earlier, booted by now. A spare holds none of the parent's guest
//! descriptors (a pipe's write end held there would keep the reader from
//! ever seeing EOF), dies with its parent (`PR_SET_PDEATHSIG`) and is
//! listed in the process table, so its end is no guest's SIGCHLD.
//!
//! A spare's process may end and leave the monitor reusable: when the
//! child ends (its end published), had no children of its own and its
//! parent is still there, the monitor discards the guest's RAM, boots a new
//! kernel in the same VM and comes back to its parent as a spare
//! (`come_back`): no VM is made and none torn down, which is most of the
//! host's work per spawn here (making a VM alone costs more host CPU than
//! a native spawn takes).
use super::table;
use crate::host::files::Files;
use crate::host::handles::{HandedOver, SocketNames};
use crate::report::Report;
use crate::vcpu::Machine;
use crate::vm::{BootedAhead, Launch, World};
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// Spares a monitor keeps: two, so that back-to-back spawns find one that
/// was made a spawn earlier and has booted by now (making one takes longer
/// than a short child's run). Each slot: the spare's host pid and this
/// monitor's end of its socket (0 and -1: none), the oldest first. Atomics
/// rather than a lock: a forked monitor drops its copy. Only the thread
/// that serves a `VFORK` child changes them.
const SPARES: usize = 2;
static PIDS: [AtomicI32; SPARES] = [const { AtomicI32::new(0) }; SPARES];
static CHANNELS: [AtomicI32; SPARES] = [const { AtomicI32::new(-1) }; SPARES];
/// Children this monitor's program started in their own VMs (`VFORK`),
/// up to `SPARES`: one spare after the first, two from the second on (a
/// program that starts one child wastes no second VM).
static SPAWNED: AtomicUsize = AtomicUsize::new(0);

/// Spares lent to a child that may come back when it ends: host pid and
/// this monitor's end of the socket (0 and -1: none), and whether it said
/// it is on its way back. Changed only by the thread that serves `VFORK`.
const LENT_MAX: usize = 4;
static LENT_PIDS: [AtomicI32; LENT_MAX] = [const { AtomicI32::new(0) }; LENT_MAX];
static LENT_CHANNELS: [AtomicI32; LENT_MAX] = [const { AtomicI32::new(-1) }; LENT_MAX];
static LENT_RETURNING: [AtomicBool; LENT_MAX] = [const { AtomicBool::new(false) }; LENT_MAX];
/// When each was lent (ms, monotonic clock).
static LENT_AT: [AtomicU64; LENT_MAX] = [const { AtomicU64::new(0) }; LENT_MAX];
/// A spare lent this recently may well come back before it is needed (its
/// child is a short one, as most a shell or a build starts); one lent
/// longer ago stands for a long-running child, and counts for nothing.
const SOON_MS: u64 = 100;

fn now_ms() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime into a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// What a spare says on its socket: it took the child, the child ended and
/// it is being made again, it is ready again.
const TOOK: u8 = 1;
const RETURNING: u8 = 3;
const BACK: u8 = 2;

/// In a spare that took a child: its end of the socket (-1: none), kept to
/// come back on, and the host pid of the monitor that made it.
static RETURN_CHANNEL: AtomicI32 = AtomicI32::new(-1);
static MAKER: AtomicI32 = AtomicI32::new(0);
/// Set when the child's end is published and the monitor comes back.
static COMING_BACK: AtomicBool = AtomicBool::new(false);

/// The most descriptors one hand-over carries (`SCM_MAX_FD` is 253).
const MAX_FDS: usize = 250;
/// A hand-over's first word.
const MAGIC: u64 = 0x6878_7370_6172_6501;

/// The program started a child in its own VM: the next one may find a spare.
pub fn note_spawn() {
    let _ = SPAWNED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| (n < SPARES).then_some(n + 1));
}

/// The first free slot, if a spare should be made now (see the module
/// comment): one on its way back, or lent just now, fills a slot too.
fn wanted() -> Option<usize> {
    let keep = SPAWNED.load(Ordering::Relaxed);
    let now = now_ms();
    let coming = (0..LENT_MAX)
        .filter(|&i| {
            LENT_PIDS[i].load(Ordering::Relaxed) > 0
                && (LENT_RETURNING[i].load(Ordering::Relaxed)
                    || now.saturating_sub(LENT_AT[i].load(Ordering::Relaxed)) < SOON_MS)
        })
        .count();
    let free = PIDS.iter().take(keep).filter(|p| p.load(Ordering::Relaxed) == 0).count();
    (free > coming).then(|| PIDS.iter().position(|p| p.load(Ordering::Relaxed) == 0)).flatten()
}

fn close_fd(fd: RawFd) {
    if fd >= 0 {
        // SAFETY: this process's own descriptor, which nothing else uses.
        unsafe { libc::close(fd) };
    }
}

/// A forked monitor's copies of its parent's spares (and of its parent's
/// way back, if the parent was a spare) are not its own.
pub fn forget() {
    SPAWNED.store(0, Ordering::Relaxed);
    for (pid, channel) in PIDS.iter().zip(&CHANNELS).chain(LENT_PIDS.iter().zip(&LENT_CHANNELS)) {
        pid.store(0, Ordering::SeqCst);
        close_fd(channel.swap(-1, Ordering::SeqCst));
    }
    for r in &LENT_RETURNING {
        r.store(false, Ordering::SeqCst);
    }
    close_fd(RETURN_CHANNEL.swap(-1, Ordering::SeqCst));
}

/// Keeps the socket of a spare that took a child: it may come back.
fn lend(host_pid: i32, channel: std::fs::File) {
    if let Some(i) = LENT_PIDS.iter().position(|p| p.load(Ordering::SeqCst) == 0) {
        LENT_RETURNING[i].store(false, Ordering::SeqCst);
        LENT_AT[i].store(now_ms(), Ordering::SeqCst);
        LENT_CHANNELS[i].store(channel.into_raw_fd(), Ordering::SeqCst);
        LENT_PIDS[i].store(host_pid, Ordering::SeqCst);
    }
}

/// Reads, without waiting, what the lent spares said: one that is back
/// takes a free slot (or, with none free, is sent away: its socket closes),
/// one that ended is forgotten.
fn reclaim() {
    for i in 0..LENT_MAX {
        let fd = LENT_CHANNELS[i].load(Ordering::SeqCst);
        if fd < 0 {
            continue;
        }
        loop {
            let mut byte = [0u8; 1];
            let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
            // SAFETY: a zeroed msghdr is valid; its one iovec outlives the call.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            // SAFETY: a one-byte non-blocking read from our own socket into `byte`.
            let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
            let e = std::io::Error::last_os_error().raw_os_error();
            match (n, byte[0]) {
                (1, RETURNING) => LENT_RETURNING[i].store(true, Ordering::SeqCst),
                (1, BACK) => {
                    let host_pid = LENT_PIDS[i].swap(0, Ordering::SeqCst);
                    LENT_CHANNELS[i].store(-1, Ordering::SeqCst);
                    LENT_RETURNING[i].store(false, Ordering::SeqCst);
                    let keep = SPAWNED.load(Ordering::Relaxed);
                    match PIDS.iter().take(keep).position(|p| p.load(Ordering::SeqCst) == 0) {
                        Some(slot) => {
                            CHANNELS[slot].store(fd, Ordering::SeqCst);
                            PIDS[slot].store(host_pid, Ordering::SeqCst);
                        }
                        // Not needed: it sees its socket close, and ends.
                        None => close_fd(fd),
                    }
                    break;
                }
                (-1, _) if e == Some(libc::EINTR) => {}
                (-1, _) if e == Some(libc::EAGAIN) => break,
                _ => {
                    // It ended (or said something no spare says): forgotten.
                    LENT_PIDS[i].store(0, Ordering::SeqCst);
                    LENT_CHANNELS[i].store(-1, Ordering::SeqCst);
                    LENT_RETURNING[i].store(false, Ordering::SeqCst);
                    close_fd(fd);
                    break;
                }
            }
        }
    }
}

/// With no spare ready but one on its way back: waits for it a little
/// (making it again takes far less than making a new VM would).
fn await_returning() {
    let Some(i) = LENT_RETURNING.iter().position(|r| r.load(Ordering::SeqCst)) else { return };
    let fd = LENT_CHANNELS[i].load(Ordering::SeqCst);
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: poll on one descriptor of ours, with a bounded wait.
    unsafe { libc::poll(&mut p, 1, 20) };
    reclaim();
}

/// Forks spares until the monitor holds its two. Each dies with the thread
/// that forked it (`PR_SET_PDEATHSIG`): a vCPU thread ends with its VM, at
/// the program's end or `execve`; a later hand-over then finds it gone and forks.
pub fn make(m: &Machine) {
    reclaim();
    while let Some(slot) = wanted() {
        if !make_one(m, slot) {
            return;
        }
    }
}

/// Forks one spare into `slot`; false if it could not.
fn make_one(m: &Machine, slot: usize) -> bool {
    let mut pair = [-1; 2];
    // SAFETY: socketpair into an array of two we own.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: two fresh descriptors we own.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(pair[0]), OwnedFd::from_raw_fd(pair[1])) };
    // As for a fork: the handles are not caught mid-change, and the spare
    // takes no announcement before it stands for a process.
    let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
    let announcements = crate::signals::block_guest_signal();
    if m.mem.keep_from_fork(true).is_err() {
        return false;
    }
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };
    // SAFETY: fork of this process; the child only uses this thread and
    // never returns into the parent's frames (`wait_for_program` does not return).
    let host_pid = unsafe { libc::fork() };
    if host_pid != 0 {
        let _ = m.mem.keep_from_fork(false);
    }
    if host_pid != 0 {
        if host_pid > 0 {
            table::add_spare(host_pid);
            CHANNELS[slot].store(ours.into_raw_fd(), Ordering::SeqCst);
            PIDS[slot].store(host_pid, Ordering::SeqCst);
        }
        return host_pid > 0;
    }
    drop(ours);
    let (report, files) = &mut *guard;
    wait_for_program(m.world, report, files, theirs, parent, announcements)
}

/// The spare's side: makes the VM, then waits for the program (or for its
/// parent's end, which kills it); comes back after the program if it can.
fn wait_for_program(
    w: &World,
    report: &mut Report,
    files: &mut Files,
    channel: OwnedFd,
    parent: i32,
    announcements: crate::signals::GuestSignalBlocked,
) -> ! {
    // SAFETY: prctl and getppid on this process only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
    }
    MAKER.store(parent, Ordering::SeqCst);
    table::became_none();
    forget();
    // The guest's descriptors first (their handles go too), then every other
    // copy of the parent's (its VM, its vCPUs, its watcher) but what a new VM needs.
    files.close_all();
    let mut keep = files.sandbox.raw_fds();
    keep.extend([channel.as_raw_fd(), w.kvm.as_raw_fd()]);
    keep.extend(w.kernel.source_fd());
    keep.extend(crate::host::sysv::limit_fds());
    close_all_but(keep);
    let channel = std::fs::File::from(channel);
    let (slots, mut vcpus) = match make_vm(w, files) {
        Ok(vm) => vm,
        Err(e) => step_aside(channel, e),
    };
    let (mut channel, mut announcements, mut fresh) = (channel, announcements, true);
    loop {
        let ahead = match boot(w, files, &slots, &vcpus, fresh) {
            Ok(ahead) => ahead,
            Err(e) => step_aside(channel, e),
        };
        // One made again says it is ready: its parent lists it once more.
        if !fresh && channel.write_all(&[BACK]).is_err() {
            quiet_end(anyhow::anyhow!("the parent went away"));
        }
        fresh = false;
        let ring_phys = ahead.ring_phys();
        *AWAITING.lock().unwrap_or_else(|e| e.into_inner()) = Some(Awaiting { channel, ahead, announcements });
        crate::signals::restarting();
        // The kernel boots now and waits in `op::LAUNCH` (`serve_launch`).
        let placeholder = crate::fault::Binary { path: String::new(), bytes: Default::default(), bias: 0 };
        let end = crate::vm::serve(w, &slots, &mut vcpus, report, files, None, None, placeholder, ring_phys);
        if !LAUNCHED.load(Ordering::SeqCst) {
            // The VM ended before any program came: nothing stood for a process.
            let e = end.err().unwrap_or_else(|| anyhow::anyhow!("the kernel ended before its program came"));
            let channel = AWAITING.lock().unwrap_or_else(|e| e.into_inner()).take().map(|a| a.channel);
            match channel {
                Some(channel) => step_aside(channel, e),
                None => quiet_end(e),
            }
        }
        let end = end.unwrap_or_else(|e| {
            eprintln!("hx-run: spawned process: {e:#}");
            super::End::Exit(125)
        });
        if !COMING_BACK.load(Ordering::SeqCst) {
            super::exit_child(end);
        }
        (channel, announcements) = match come_back(w, report, files, &slots, &vcpus) {
            Ok(back) => back,
            Err(e) => quiet_end(e),
        };
    }
}

/// Whether this monitor, whose process just ended (its end published),
/// comes back as a spare: it was one, its parent is still the monitor that
/// made it, and it has no host children (the process never forked, or
/// every child is gone).
pub fn comes_back() -> bool {
    let no_children = || {
        // SAFETY: a non-blocking look (nothing reaped) at this process's children.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        let r = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
        r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
    };
    // SAFETY: getppid cannot fail.
    let back = LAUNCHED.load(Ordering::SeqCst)
        && RETURN_CHANNEL.load(Ordering::SeqCst) >= 0
        && unsafe { libc::getppid() } == MAKER.load(Ordering::SeqCst)
        && no_children()
        // Its SEM_UNDO adjustments apply only when this host process ends.
        && !crate::host::sysv::undo_used();
    COMING_BACK.store(back, Ordering::SeqCst);
    back
}

/// Makes the monitor a spare again after its process ended: it tells its
/// parent, leaves the process's table slot (a zombie until reaped), drops
/// every descriptor and all of guest RAM and resets the vCPUs' state; the
/// loop in `wait_for_program` boots a new kernel in the same VM.
fn come_back(
    w: &World,
    report: &mut Report,
    files: &mut Files,
    slots: &crate::slots::Slots,
    vcpus: &[Option<kvm_ioctls::VcpuFd>],
) -> Result<(std::fs::File, crate::signals::GuestSignalBlocked)> {
    let announcements = crate::signals::block_guest_signal();
    table::detach();
    COMING_BACK.store(false, Ordering::SeqCst);
    LAUNCHED.store(false, Ordering::SeqCst);
    let fd = RETURN_CHANNEL.swap(-1, Ordering::SeqCst);
    anyhow::ensure!(fd >= 0, "no way back");
    // SAFETY: the socket kept at launch, taken out of `RETURN_CHANNEL` above.
    let mut channel = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    channel.write_all(&[RETURNING])?;
    // Dies with its parent again, as a spare does.
    // SAFETY: prctl and getppid on this process only.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        anyhow::ensure!(libc::getppid() == MAKER.load(Ordering::SeqCst), "the parent went away");
    }
    files.close_all();
    let mut keep = files.sandbox.raw_fds();
    keep.extend([channel.as_raw_fd(), w.kvm.as_raw_fd()]);
    keep.extend(w.kernel.source_fd());
    keep.extend(crate::host::sysv::limit_fds());
    keep.extend(vcpus.iter().flatten().map(|v| v.as_raw_fd()));
    keep.push(slots.vm.as_raw_fd());
    close_all_but(keep);
    report.restart();
    files.shared.clear(w.mem);
    w.mem.discard_all()?;
    // Nothing of the last program's registers reaches the next: every
    // extended state component back to its initial state.
    for vcpu in vcpus.iter().flatten() {
        let mut xsave = vcpu.get_xsave().context("KVM_GET_XSAVE")?;
        xsave.region.fill(0);
        // SAFETY: an all-initial XSAVE image (empty header) for a vCPU of this CPUID.
        unsafe { vcpu.set_xsave(&xsave) }.context("KVM_SET_XSAVE")?;
    }
    crate::signals::forget_pending();
    Ok((channel, announcements))
}

/// What a spare's booted kernel waits for, until its program comes.
struct Awaiting {
    channel: std::fs::File,
    ahead: BootedAhead,
    /// Announcements wait until the spare stands for the child.
    announcements: crate::signals::GuestSignalBlocked,
}

static AWAITING: std::sync::Mutex<Option<Awaiting>> = std::sync::Mutex::new(None);
/// The spare took a program: it stands for a process now.
static LAUNCHED: AtomicBool = AtomicBool::new(false);

/// A spare that cannot serve says so (the parent then forks as it would
/// have without one) and ends. Nothing else ends a spare but its parent.
fn step_aside(mut channel: std::fs::File, e: anyhow::Error) -> ! {
    let _ = channel.write_all(&[0]);
    quiet_end(e)
}

fn quiet_end(e: anyhow::Error) -> ! {
    if std::env::var_os("HX_DEBUG_SPARE").is_some() {
        eprintln!("hx-run: spare monitor: {e:#}");
    }
    // SAFETY: ends this spare, which holds nothing of the guest's.
    unsafe { libc::_exit(0) }
}

/// `LAUNCH`: the spare's kernel has booted and waits for its program. Takes
/// the hand-over, loads the program and completes the boot block, then
/// stands for the child. Refused but once, in a spare.
pub fn serve_launch(m: &Machine, vcpu: &kvm_ioctls::VcpuFd, addr: u64) -> Result<()> {
    let mut req: hx_abi::hypercall::Request = m.mem.read_obj(addr).context("a host request")?;
    let Some(Awaiting { mut channel, ahead, announcements }) =
        AWAITING.lock().unwrap_or_else(|e| e.into_inner()).take()
    else {
        req.ret = -(libc::EINVAL as i64);
        return m.mem.write_obj(addr, req);
    };
    // Blocks until the next spawn (the request lock is not held meanwhile).
    let given = receive_raw(&mut channel);
    let slot = {
        let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
        let (report, files) = &mut *guard;
        report.count_request(req.op);
        let launched = given.and_then(|(bytes, fds)| take(&bytes, fds, files)).and_then(|(slot, launch)| {
            let program = crate::vm::launch_ahead(m.world, m.slots, files, &launch, ahead)?;
            Ok((slot, program))
        });
        // A process outlives its parent (it becomes an orphan): only a spare
        // dies with the thread that made it. Cleared before the parent learns
        // that the spare took the child.
        // SAFETY: prctl on this process only.
        let lives_on = launched.is_ok() && unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) } == 0;
        match launched {
            Ok((slot, program)) if lives_on && channel.write_all(&[TOOK]).is_ok() => {
                *m.program.lock().unwrap_or_else(|e| e.into_inner()) = program;
                // Its way back, when the child ends.
                RETURN_CHANNEL.store(channel.into_raw_fd(), Ordering::SeqCst);
                slot
            }
            Ok(_) => quiet_end(anyhow::anyhow!("the parent went away")),
            Err(e) => step_aside(channel, e),
        }
    };
    LAUNCHED.store(true, Ordering::SeqCst);
    table::usage_starts_now();
    // What the handlers saw so far was meant for no process of this one's.
    crate::signals::forget_pending();
    // SAFETY: getpid cannot fail.
    slot.host_pid.store(unsafe { libc::getpid() }, Ordering::SeqCst);
    table::became(slot);
    // An announcement sent before this point is taken now.
    drop(announcements);
    crate::vcpu::publish_ppid(m)?;
    crate::vm::answer_launch(m.mem, vcpu, addr)
}

/// Closes every descriptor from 3 up but `keep`'s.
fn close_all_but(mut keep: Vec<RawFd>) {
    keep.sort_unstable();
    let mut from: u32 = 3;
    for fd in keep.into_iter().filter_map(|fd| u32::try_from(fd).ok()).filter(|&fd| fd >= 3) {
        if fd > from {
            // SAFETY: closes descriptors of this process that nothing here uses any more.
            unsafe { libc::syscall(libc::SYS_close_range, from, fd - 1, 0) };
        }
        from = fd + 1;
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0) };
}

type Vm = (crate::slots::Slots, Vec<Option<kvm_ioctls::VcpuFd>>);

/// What a spawned monitor makes before it knows its program: fresh guest
/// RAM, the VM and its first vCPU.
fn make_vm(w: &World, files: &mut Files) -> Result<Vm> {
    w.mem.remap_fresh()?;
    files.shared.clear(w.mem);
    let vm = crate::vm::create_vm(w.kvm)?;
    let slots = crate::slots::Slots::new(vm, w.mem, 0)?;
    let vcpus = crate::vm::first_vcpu_only(&slots, w.cfg.cpus, 0)?;
    Ok((slots, vcpus))
}

/// The kernel and the boot block's machine part, in empty guest RAM, every
/// vCPU at the kernel's entry (`fresh`: they never ran, and take their CPUID).
fn boot(
    w: &World,
    files: &mut Files,
    slots: &crate::slots::Slots,
    vcpus: &[Option<kvm_ioctls::VcpuFd>],
    fresh: bool,
) -> Result<BootedAhead> {
    let ready = crate::vm::write_machine(w, &mut files.shared)?;
    crate::vm::setup_vcpus(w, vcpus, fresh)?;
    crate::vm::boot_ahead(w, slots, vcpus, ready, crate::vm::program_room(w.mem.size()), true)
}

/// Hands the reserved child `slot` and its image to the spare, if there is
/// one that takes them; else gives the image back.
pub fn hand_over(files: &Files, slot: &table::Entry, launch: Box<Launch>) -> std::result::Result<(), Box<Launch>> {
    reclaim();
    if PIDS[0].load(Ordering::SeqCst) == 0 {
        await_returning();
    }
    // The oldest spare; the next moves up.
    let host_pid = PIDS[0].load(Ordering::SeqCst);
    let fd = CHANNELS[0].swap(-1, Ordering::SeqCst);
    for i in 1..SPARES {
        PIDS[i - 1].store(PIDS[i].swap(0, Ordering::SeqCst), Ordering::SeqCst);
        CHANNELS[i - 1].store(CHANNELS[i].swap(-1, Ordering::SeqCst), Ordering::SeqCst);
    }
    if host_pid <= 0 || fd < 0 {
        return Err(launch);
    }
    // SAFETY: our end of the spare's socket, taken out of `CHANNELS` above.
    let mut channel = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // From here on the spare's end is the child's: its SIGCHLD is news. A
    // spare no longer listed ended and was reaped (its pid may be another
    // process's by now): nothing is sent to it, nor killed.
    if !table::forget_spare(host_pid) {
        return Err(launch);
    }
    slot.host_pid.store(host_pid, Ordering::SeqCst);
    let taken = encode(files, slot, &launch)
        .and_then(|(bytes, fds)| send(&channel, &bytes, &fds))
        .and_then(|()| {
            let mut answer = [0u8; 1];
            channel.read_exact(&mut answer)?;
            Ok(answer[0] == TOOK)
        })
        .unwrap_or(false);
    if taken {
        lend(host_pid, channel);
        return Ok(());
    }
    // SAFETY: our own child, which failed us: ended and reaped.
    unsafe {
        libc::kill(host_pid, libc::SIGKILL);
        libc::waitpid(host_pid, std::ptr::null_mut(), 0);
    }
    // Its end was no child's: the slot is reserved again, unannounced.
    slot.host_pid.store(-1, Ordering::SeqCst);
    slot.announced.store(false, Ordering::SeqCst);
    Err(launch)
}

/// The hand-over's bytes and the descriptors that go with them.
fn encode(files: &Files, slot: &table::Entry, l: &Launch) -> std::io::Result<(Vec<u8>, Vec<RawFd>)> {
    let mut out = Writer(Vec::with_capacity(16 << 10));
    let mut fds: Vec<RawFd> = Vec::new();
    out.u64(MAGIC);
    out.u64(slot.pid.load(Ordering::SeqCst) as u64);
    out.bytes(l.name.as_bytes());
    out.bytes(&l.guest_path);
    out.bytes(&l.execfn);
    match l.bytes.file() {
        Some(fd) => {
            out.u64(0);
            out.u64(l.bytes.len() as u64);
            fds.push(fd);
        }
        None => {
            out.u64(1);
            out.bytes(&l.bytes);
        }
    }
    out.list(&l.argv);
    out.list(&l.envp);
    out.bytes(vm_memory::ByteValued::as_slice(&l.state));
    out.bytes(&l.cwd);
    out.u64(u64::from(l.umask));
    let n = (l.state.nfds as usize).min(hx_abi::boot::MAX_INHERITED_FDS);
    let mut handles: Vec<u64> =
        l.state.fds[..n].iter().filter(|f| f.handle & hx_abi::boot::DEVICE_HANDLE == 0).map(|f| f.handle).collect();
    handles.sort_unstable();
    handles.dedup();
    // The descriptors stay open: the caller holds `files` (and the request lock).
    let parts: Vec<_> = handles.iter().filter_map(|&h| files.hand_over(h).map(|p| (h, p))).collect();
    out.u64(parts.len() as u64);
    for (handle, (what, fd)) in parts {
        out.u64(handle);
        match what {
            HandedOver::Host { metadata, memory } => {
                out.u64(0);
                out.u64(u64::from(metadata) | u64::from(memory) << 1);
            }
            HandedOver::Virtual { guest, offset } => {
                out.u64(1);
                out.bytes(&guest);
                out.u64(offset as u64);
            }
            HandedOver::Socket { names } => {
                out.u64(2);
                out.option(names.own.as_deref());
                out.option(names.peer.as_deref());
            }
        }
        if let Some(fd) = fd {
            fds.push(fd.as_raw_fd());
        }
    }
    if fds.len() > MAX_FDS {
        return Err(std::io::Error::from_raw_os_error(libc::EMFILE));
    }
    Ok((out.0, fds))
}

/// Sends the length and descriptors in one message, then the bytes.
fn send(channel: &std::fs::File, bytes: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    let len = (bytes.len() as u64).to_le_bytes();
    if crate::fdpass::send(channel.as_raw_fd(), &len, fds)? != len.len() {
        return Err(std::io::Error::from_raw_os_error(libc::EPIPE));
    }
    // SIGPIPE is ignored in hx-run (Rust's runtime): a dead spare is EPIPE.
    let mut channel = channel;
    channel.write_all(bytes)
}

/// The spare's side of `send`: the bytes and the descriptors.
fn receive_raw(channel: &mut std::fs::File) -> Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut len = [0u8; 8];
    let mut iov = libc::iovec { iov_base: len.as_mut_ptr().cast(), iov_len: len.len() };
    let mut control = crate::fdpass::room(MAX_FDS);
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() * 8;
    let n = loop {
        // SAFETY: recvmsg into the buffers above.
        let n = unsafe { libc::recvmsg(channel.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_WAITALL) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break n;
    };
    let fds = crate::fdpass::received(&msg);
    if n != len.len() as isize {
        bail!("no program came (the parent ended?)");
    }
    let len = u64::from_le_bytes(len);
    anyhow::ensure!(len <= 1 << 30, "a hand-over of {len} bytes");
    let mut bytes = vec![0u8; len as usize];
    channel.read_exact(&mut bytes)?;
    Ok((bytes, fds))
}

/// Takes the hand-over: the child's table slot and its image; its handles
/// go into `files`.
fn take(bytes: &[u8], fds: Vec<OwnedFd>, files: &mut Files) -> Result<(&'static table::Entry, Launch)> {
    let mut fds: Vec<Option<OwnedFd>> = fds.into_iter().map(Some).collect();
    let mut next_fd = 0;
    let mut take_fd = || -> Result<OwnedFd> {
        let fd = fds.get_mut(next_fd).and_then(Option::take).context("a descriptor is missing")?;
        next_fd += 1;
        Ok(fd)
    };
    let mut r = Reader(bytes);
    anyhow::ensure!(r.u64()? == MAGIC, "not a hand-over");
    let pid = r.u64()? as i32;
    let slot = table::all_entries().find(|e| e.pid.load(Ordering::SeqCst) == pid).context("the child's slot")?;
    let name = String::from_utf8_lossy(r.bytes()?).into_owned();
    let guest_path = r.bytes()?.to_vec();
    let execfn = r.bytes()?.to_vec();
    let image = match r.u64()? {
        0 => {
            let len = r.u64()?;
            crate::image::Image::of(std::fs::File::from(take_fd()?), len)?
        }
        _ => crate::image::Image::from(r.bytes()?.to_vec()),
    };
    let argv = r.list()?;
    let envp = r.list()?;
    // Copied out: the bytes need not be aligned for the struct.
    let mut state = hx_abi::boot::ExecState::default();
    let raw = r.bytes()?;
    let dest = vm_memory::ByteValued::as_mut_slice(&mut state);
    anyhow::ensure!(raw.len() == dest.len(), "the image's process state");
    dest.copy_from_slice(raw);
    let cwd = r.bytes()?.to_vec();
    let umask = r.u64()? as u32;
    for _ in 0..r.u64()? {
        let handle = r.u64()?;
        let (what, fd) = match r.u64()? {
            0 => {
                let flags = r.u64()?;
                (HandedOver::Host { metadata: flags & 1 != 0, memory: flags & 2 != 0 }, Some(take_fd()?))
            }
            1 => {
                let guest = r.bytes()?.to_vec();
                (HandedOver::Virtual { guest, offset: r.u64()? as usize }, None)
            }
            _ => {
                let names = SocketNames { own: r.option()?, peer: r.option()? };
                (HandedOver::Socket { names }, Some(take_fd()?))
            }
        };
        files.take_over(handle, what, fd).map_err(|e| anyhow::anyhow!("handle {handle}: errno {e}"))?;
    }
    let launch = Launch { name, guest_path, execfn, bytes: std::sync::Arc::new(image), argv, envp, state, cwd, umask };
    Ok((slot, launch))
}

struct Writer(Vec<u8>);

impl Writer {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn list(&mut self, items: &[Vec<u8>]) {
        self.u64(items.len() as u64);
        for i in items {
            self.bytes(i);
        }
    }
    fn option(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.u64(1);
                self.bytes(b);
            }
            None => self.u64(0),
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        anyhow::ensure!(n <= self.0.len(), "the hand-over is cut short");
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.u64()?)?;
        self.take(n)
    }
    fn list(&mut self) -> Result<Vec<Vec<u8>>> {
        let n = self.u64()?;
        (0..n).map(|_| self.bytes().map(<[u8]>::to_vec)).collect()
    }
    fn option(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(match self.u64()? {
            0 => None,
            _ => Some(self.bytes()?.to_vec()),
        })
    }
}
