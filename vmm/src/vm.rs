//! Building and running one VM: guest RAM, the kernel, the boot structures,
//! the program and its stack, the vCPU.
use crate::arch::paging::{PageSize, PageTables};
use crate::arch::{cpuid, gdt, regs};
use crate::fault::Binary;
use crate::host::files::Files;
use crate::host::shared::SharedRanges;
use crate::kernel_image::KernelImage;
use crate::loader::{self, PhysAlloc};
use crate::memory::GuestRam;
use crate::platform::{self, Platform};
use crate::report::Report;
use crate::sandbox::Sandbox;
use crate::{lockdown, signals};
use anyhow::{Context, Result};
use hx_abi::boot::{
    BootInfo, EXE_PATH_MAX, FLAG_AWAIT_PROGRAM, FLAG_REWRITE, FLAG_STATS, FLAG_STRACE, FLAG_WARM_IMAGE,
    MAX_USER_REGIONS,
};
use hx_abi::layout::*;
use hx_abi::percpu::{PerCpu, CPL0_STACK_TOP_OFFSET, CPU_AREA_SIZE, IDLE_STACK_TOP_OFFSET, TSS_OFFSET};
use kvm_ioctls::{Kvm, VcpuFd};
use ld_loader::stack::at;
use ld_loader::{build_stack, classify, plan, Kind, StackInput};
use std::ffi::OsString;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

pub struct Config {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<OsString>,
    pub memory: u64,
    pub kvm_device: PathBuf,
    pub platform: platform::Choice,
    pub strace: bool,
    pub stats: bool,
    /// `--mount` requests: host directory, guest path, writable.
    pub mounts: Vec<MountSpec>,
    pub default_mounts: bool,
    pub fast_libc: bool,
    /// `--rewrite-syscalls`.
    pub rewrite_syscalls: bool,
    pub sysroot: Option<PathBuf>,
    /// Host files the guest may hold open at once.
    pub max_open_files: usize,
    /// Started as root: run as this user.
    pub user: Option<lockdown::User>,
    pub self_test: Option<SelfTest>,
    /// vCPUs (`--cpus`).
    pub cpus: usize,
    /// The network policy (`--net`, `-p`).
    pub net: crate::host::net::policy::Policy,
    /// `--timeout`: how long the program may run.
    pub timeout: Option<std::time::Duration>,
    /// `--hostname`: the guest's host name (1 to 64 bytes).
    pub hostname: Vec<u8>,
}

/// The patched musl `libc.so` for `--fast-libc`.
fn fast_libc_path(cfg: &Config) -> Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = &cfg.sysroot {
        candidates.push(dir.clone());
    } else {
        if let Some(dir) = std::env::var_os("HX_SYSROOT") {
            candidates.push(dir.into());
        }
        if let Ok(exe) = std::env::current_exe() {
            if let Some(dir) = exe.parent() {
                candidates.push(dir.join("sysroot"));
                candidates.push(dir.join("../../sysroot"));
            }
        }
    }
    candidates.iter().map(|d| d.join("lib/libc.so")).find(|p| p.is_file()).ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
        rejected(
            2,
            format!(
                "--fast-libc: no patched libc.so in {}: build it with musl-patch/build.sh, or pass --sysroot",
                looked.join(", ")
            ),
        )
    })
}

/// Whether `interp` is musl's dynamic loader (which is musl's libc.so).
pub fn is_musl_loader(interp: &str) -> bool {
    interp.rsplit('/').next().is_some_and(|n| n.starts_with("ld-musl-"))
}

#[derive(Clone, Debug)]
pub struct MountSpec {
    pub host: PathBuf,
    pub guest: Vec<u8>,
    pub writable: bool,
}

/// Host directories that ordinary binaries and interpreters read their
/// libraries, modules and configuration from, mounted read-only at the same
/// guest paths; the working directory is mounted read-write.
const DEFAULT_READ_ONLY: [&str; 6] = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc"];

/// The guest's file namespace, where the program and the working directory
/// appear in it, and its private /tmp.
struct Namespace {
    sandbox: Sandbox,
    guest_exe: Vec<u8>,
    guest_cwd: Vec<u8>,
    tmp: Option<PrivateTmp>,
}

/// Builds the namespace: defaults first, so `--mount` can override them.
fn sandbox(cfg: &Config, exe: &std::path::Path) -> Result<Namespace> {
    let mut sb = Sandbox::new();
    let mut tmp = None;
    let cwd = std::env::current_dir().context("the current directory")?;
    if cfg.default_mounts {
        for dir in DEFAULT_READ_ONLY {
            let p = std::path::Path::new(dir);
            // Merged-/usr systems make /lib and friends symlinks: mount their targets.
            if let Ok(real) = std::fs::canonicalize(p) {
                if real.is_dir() {
                    sb.mount(&real, dir.as_bytes(), false)?;
                }
            }
        }
        if let Some(dir) = exe.parent() {
            if !sb.mounts().iter().any(|m| dir.starts_with(&m.host)) {
                sb.mount(dir, dir.as_os_str().as_bytes(), false)?;
            }
        }
        // A private, empty /tmp and /dev/shm (as a container's), removed when hx-run ends.
        let t = PrivateTmp::new()?;
        sb.mount(&t.tmp(), b"/tmp", true)?;
        sb.mount(&t.shm(), b"/dev/shm", true)?;
        tmp = Some(t);
        sb.mount(&cwd, cwd.as_os_str().as_bytes(), true)?;
    }
    for m in &cfg.mounts {
        sb.mount(&m.host, &m.guest, m.writable).map_err(|e| rejected(2, format!("--mount: {e:#}")))?;
    }
    // $HOME where no mount holds it: a private, empty, writable directory,
    // as a container's image gives one (programs keep dot-files there).
    let mut private_home = None;
    if let (Some(t), Some(home)) = (&tmp, guest_home(cfg)) {
        if !sb.mounts().iter().any(|m| home.starts_with(&m.guest)) {
            let guest: Vec<u8> = home.iter().flat_map(|c| std::iter::once(b'/').chain(c.iter().copied())).collect();
            let dir = t.home(cfg.user)?;
            sb.mount(&dir, &guest, true)?;
            private_home = Some((home, dir));
        }
    }
    // Mount points below the private /tmp and home (the working directory,
    // often) get their directories there, so that walks and listings reach them.
    let private = tmp.iter().map(|t| (vec![b"tmp".to_vec()], t.tmp())).chain(private_home);
    for (at, dir) in private {
        for m in sb.mounts() {
            if let Some(rest) = m.guest.strip_prefix(at.as_slice()).filter(|r| !r.is_empty()) {
                let below: std::path::PathBuf = rest.iter().map(|c| std::ffi::OsStr::from_bytes(c)).collect();
                let _ = std::fs::create_dir_all(dir.join(below));
            }
        }
    }
    // Where the program and the working directory appear in the guest.
    let guest_of = |host: &std::path::Path| -> Option<Vec<u8>> {
        sb.mounts().iter().filter(|m| host.starts_with(&m.host)).max_by_key(|m| m.host.as_os_str().len()).map(|m| {
            let rest = host.strip_prefix(&m.host).unwrap();
            let mut g: Vec<u8> = m.guest.iter().flat_map(|c| std::iter::once(b'/').chain(c.iter().copied())).collect();
            for c in rest.components() {
                g.push(b'/');
                g.extend_from_slice(c.as_os_str().as_bytes());
            }
            if g.is_empty() {
                g.push(b'/');
            }
            g
        })
    };
    let guest_exe = guest_of(exe).unwrap_or_else(|| exe.as_os_str().as_bytes().to_vec());
    let guest_cwd = guest_of(&cwd).unwrap_or_else(|| b"/".to_vec());
    Ok(Namespace { sandbox: sb, guest_exe, guest_cwd, tmp })
}

/// The components of the guest's `$HOME`, if it is an absolute path
/// (without `.` or `..`).
fn guest_home(cfg: &Config) -> Option<Vec<Vec<u8>>> {
    let value = cfg.env.iter().find_map(|e| e.as_bytes().strip_prefix(b"HOME="))?;
    let rest = value.strip_prefix(b"/")?;
    let parts: Vec<Vec<u8>> = rest.split(|&b| b == b'/').filter(|c| !c.is_empty()).map(<[u8]>::to_vec).collect();
    if parts.iter().any(|c| c == b"." || c == b"..") {
        return None;
    }
    Some(parts)
}

/// The guest's private /tmp and /dev/shm: two directories in a fresh host
/// directory, removed with their contents once every monitor of the tree has ended. The removal needs a
/// right the lockdown takes away (removing a directory of the host's /tmp),
/// so a small process forked before it waits for the end and does it.
///
/// The same process holds the first VM's descriptor (`outlive`): KVM then
/// destroys that VM (about a millisecond of host work: its vCPUs, debugfs
/// entries, shadow tables) there, after `hx-run` has ended, not on the way
/// to `hx-run`'s exit status.
pub struct PrivateTmp {
    path: std::path::PathBuf,
    /// The cleaner's socket: it sees EOF when the last monitor holding this ends.
    alive: std::os::fd::OwnedFd,
}

impl PrivateTmp {
    fn tmp(&self) -> std::path::PathBuf {
        self.path.join("tmp")
    }

    fn shm(&self) -> std::path::PathBuf {
        self.path.join("shm")
    }

    /// A private home directory, only `user`'s (the `--user` hx-run drops
    /// to, else the one it runs as).
    fn home(&self, user: Option<crate::lockdown::User>) -> Result<std::path::PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        let home = self.path.join("home");
        let made = std::fs::DirBuilder::new().mode(0o700).create(&home);
        let owned = user.map_or(Ok(()), |u| std::os::unix::fs::chown(&home, Some(u.uid), Some(u.gid)));
        made.and(owned).with_context(|| format!("creating the guest's home ({})", home.display()))?;
        Ok(home)
    }

    /// Gives the cleaner a copy of `fd`, which it holds until the tree ends.
    pub fn outlive(&self, fd: std::os::fd::RawFd) {
        // A failure only leaves the VM's teardown on the way to the exit status.
        let _ = crate::fdpass::send(std::os::fd::AsRawFd::as_raw_fd(&self.alive), &[0], &[fd]);
    }

    /// Where the private directories live on the host: `$TMPDIR` if the
    /// user set it, else host memory (`/dev/shm`, where it is a writable
    /// tmpfs: the guest's /tmp is a memory filesystem, as a container's, and
    /// making it costs µs where a disk's directories cost ≈ 0.1 ms each),
    /// else the host's /tmp.
    fn backing() -> std::path::PathBuf {
        if let Some(dir) = std::env::var_os("TMPDIR").filter(|d| !d.is_empty()) {
            return dir.into();
        }
        let shm = std::path::Path::new("/dev/shm");
        // SAFETY: statfs and access only read the path we pass.
        let in_memory = unsafe {
            let mut fs: libc::statfs = std::mem::zeroed();
            libc::statfs(c"/dev/shm".as_ptr(), &mut fs) == 0
                && fs.f_type == libc::TMPFS_MAGIC
                && libc::access(c"/dev/shm".as_ptr(), libc::W_OK | libc::X_OK) == 0
        };
        if in_memory {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        }
    }

    fn new() -> Result<Self> {
        use std::os::fd::FromRawFd;
        let mut template = Self::backing().join("hx-tmp-XXXXXX").into_os_string().into_vec();
        template.push(0);
        // SAFETY: mkdtemp fills in the NUL-terminated template we own.
        let p = unsafe { libc::mkdtemp(template.as_mut_ptr().cast()) };
        anyhow::ensure!(!p.is_null(), "creating the guest's /tmp: {}", std::io::Error::last_os_error());
        template.pop();
        let path = std::path::PathBuf::from(OsString::from_vec(template));
        // World-writable and sticky, as /tmp and /dev/shm are: mkdtemp made
        // the root 0700 for the user hx-run started as, which --user may not be.
        use std::os::unix::fs::PermissionsExt;
        let made = (|| -> std::io::Result<()> {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            for dir in ["tmp", "shm"] {
                std::fs::create_dir(path.join(dir))?;
                std::fs::set_permissions(path.join(dir), std::fs::Permissions::from_mode(0o1777))?;
            }
            Ok(())
        })();
        made.with_context(|| format!("creating the guest's /tmp ({})", path.display()))?;
        let mut fds = [0i32; 2];
        // SAFETY: socketpair writes two descriptors into the array we own.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0
        {
            let _ = std::fs::remove_dir(&path);
            anyhow::bail!("creating the guest's /tmp: {}", std::io::Error::last_os_error());
        }
        // SAFETY: fork while hx-run has one thread; the child only waits on
        // the pipe, removes the directory and exits.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: the child's own signal dispositions and descriptors.
                unsafe {
                    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                        libc::signal(sig, libc::SIG_IGN);
                    }
                    // Only the pipe stays open: hx-run's own streams must
                    // reach EOF when hx-run ends, not when the cleaner does.
                    libc::dup2(fds[0], 0);
                    libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32);
                    fds[0] = 0;
                    // EOF once every monitor holding the other end has
                    // exited; descriptors passed meanwhile stay open until then.
                    let mut b = 0u8;
                    let mut control = [0u64; 8];
                    loop {
                        let mut iov = libc::iovec { iov_base: (&mut b as *mut u8).cast(), iov_len: 1 };
                        let mut msg: libc::msghdr = std::mem::zeroed();
                        msg.msg_iov = &mut iov;
                        msg.msg_iovlen = 1;
                        msg.msg_control = control.as_mut_ptr().cast();
                        msg.msg_controllen = std::mem::size_of_val(&control);
                        let n = libc::recvmsg(fds[0], &mut msg, 0);
                        if n == 0 || n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                        {
                            break;
                        }
                    }
                }
                let _ = std::fs::remove_dir_all(&path);
                // SAFETY: ends the cleaner without running the parent's atexit handlers.
                unsafe { libc::_exit(0) }
            }
            -1 => {
                let _ = std::fs::remove_dir(&path);
                anyhow::bail!("creating the guest's /tmp: {}", std::io::Error::last_os_error())
            }
            _ => {
                // SAFETY: both ends are ours; the write end stays open (and is
                // inherited by forked monitors) until the tree ends.
                unsafe { libc::close(fds[0]) };
                Ok(Self { path, alive: unsafe { std::os::fd::OwnedFd::from_raw_fd(fds[1]) } })
            }
        }
    }
}

/// An error that is the user's to fix, with the exit status to report it by.
#[derive(Debug)]
pub struct Rejected {
    pub status: i32,
    pub message: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejected {}

pub fn rejected(status: i32, message: impl Into<String>) -> anyhow::Error {
    Rejected { status, message: message.into() }.into()
}

/// Smallest guest that holds the boot structures, kernel, stack and kernel heap.
pub const MIN_MEMORY: u64 = 32 << 20;

/// A program about to boot: its image and what its process carries into it.
pub struct Launch {
    /// How messages name it.
    pub name: String,
    /// Its path in the guest (`/proc/self/exe`).
    pub guest_path: Vec<u8>,
    /// The name it was started by (`AT_EXECFN`).
    pub execfn: Vec<u8>,
    pub bytes: std::sync::Arc<crate::image::Image>,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    /// What survives `execve`: identity, descriptors, signal state.
    pub state: hx_abi::boot::ExecState,
    pub cwd: Vec<u8>,
    pub umask: u32,
}

/// What every VM of this monitor process is built from (a forked monitor
/// builds a fresh VM from its copy of the same).
pub struct World<'a> {
    pub cfg: &'a Config,
    pub kvm: &'a Kvm,
    pub mem: &'a GuestRam,
    pub kernel: &'a KernelImage,
    pub cpuid: &'a kvm_bindings::CpuId,
    pub platform: Platform,
}

/// The parts of the first VM that need nothing of the program.
struct Built {
    mem: GuestRam,
    kernel: KernelImage,
    slots: crate::slots::Slots,
    vcpus: Vec<Option<VcpuFd>>,
    /// The kernel's image, mapped from `hx-run`'s file (`Files::shared`'s first ranges).
    shared: SharedRanges,
    /// The kernel, booted ahead: it waits for its program in `op::LAUNCH`.
    ahead: Option<FirstAhead>,
}

/// A first kernel booted while the main thread prepared the program.
struct FirstAhead {
    booted: BootedAhead,
    /// Where its `LAUNCH` request is, to be answered.
    request: u64,
}

impl Built {
    /// Makes them, sending the host's CPUID on `cpuid` first: asking KVM
    /// for it is a call the seccomp filter forbids once it is on. Given a
    /// room for the program on `room`, boots the kernel there ahead too.
    fn make(
        kvm: &Kvm,
        cfg: &Config,
        platform: Platform,
        set_ipc_limits: bool,
        cpuid: std::sync::mpsc::Sender<Result<(kvm_bindings::CpuId, bool)>>,
        room: std::sync::mpsc::Receiver<Option<u64>>,
    ) -> Result<Self> {
        let host_cpuid = cpuid::supported_cached(kvm, &cfg.kvm_device);
        let _ = cpuid.send(host_cpuid.as_ref().map(Clone::clone).map_err(|e| anyhow::anyhow!("{e:#}")));
        let (host_cpuid, _) = host_cpuid?;
        if set_ipc_limits {
            // Off the main thread's way, before the lockdown forbids these
            // files; without them every System V call is ENOSYS.
            let _ = crate::host::sysv::set_limits(cfg.memory);
        }
        let vm = create_vm(kvm)?;
        let mem = GuestRam::new(cfg.memory)?;
        let kernel = KernelImage::parse()?;
        let slots = crate::slots::Slots::new(vm, &mem, 0)?;
        let mut vcpus = first_vcpu_only(&slots, cfg.cpus, 0)?;
        let mut shared = SharedRanges::default();
        // None: the main thread failed, or the program needs the regular boot.
        let ahead = match room.recv() {
            Ok(Some(room)) => {
                let w = World { cfg, kvm, mem: &mem, kernel: &kernel, cpuid: &host_cpuid, platform };
                Some(boot_first_ahead(&w, &slots, &mut vcpus, &mut shared, room)?)
            }
            _ => None,
        };
        Ok(Self { mem, kernel, slots, vcpus, shared, ahead })
    }
}

/// The kernel and its machine part, booted before the first program is
/// ready to load, up to its `LAUNCH` request: the first `KVM_RUN` and the
/// kernel's own set-up (≈ 0.5 ms of shadow page faults and CPL0 work here)
/// overlap the main thread's lockdown. Runs no program code, so it serves
/// nothing but that request.
fn boot_first_ahead(
    w: &World,
    slots: &crate::slots::Slots,
    vcpus: &mut [Option<VcpuFd>],
    shared: &mut SharedRanges,
    room: u64,
) -> Result<FirstAhead> {
    let ready = write_machine(w, shared)?;
    setup_vcpus(w, vcpus, true)?;
    let booted = boot_ahead(w, slots, vcpus, ready, room, false)?;
    let vcpu = vcpus.first_mut().and_then(Option::as_mut).context("the first vCPU")?;
    loop {
        match vcpu.run() {
            Ok(kvm_ioctls::VcpuExit::IoOut(HYPERCALL_PORT, data)) if data.len() == 4 => {
                let request = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as u64;
                let op = w.mem.read_obj::<u32>(request).context("a host request")?;
                anyhow::ensure!(op == hx_abi::hypercall::op::LAUNCH, "the kernel booting ahead made request {op}");
                return Ok(FirstAhead { booted, request });
            }
            Ok(exit) => anyhow::bail!("the kernel booting ahead stopped: {exit:?}"),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                // A host signal (the kick handler sets this flag) is the main thread's to act on.
                vcpu.set_kvm_immediate_exit(0);
            }
            Err(e) => return Err(e).context("KVM_RUN"),
        }
    }
}

/// Answers the `LAUNCH` request at `addr` of a kernel booted ahead, its
/// program now loaded: success, with the vCPU's translations dropped (the
/// kernel ran with the boot tables; the program's mappings are new to it).
pub fn answer_launch(mem: &GuestRam, vcpu: &VcpuFd, addr: u64) -> Result<()> {
    crate::vcpu::flush_tlb(vcpu)?;
    let mut req: hx_abi::hypercall::Request = mem.read_obj(addr).context("a host request")?;
    req.ret = 0;
    mem.write_obj(addr, req)
}

/// The guest RAM the first program needs in the room of a kernel booted
/// ahead: its image's loadable span, with 16 MiB for an interpreter, the
/// vDSO and slack. None if the image cannot say, or the room would take
/// much of guest RAM: that program boots the regular way.
fn first_room(image: &[u8], mem_size: u64) -> Option<u64> {
    use goblin::elf::program_header::{ProgramHeader, PT_LOAD};
    let header = goblin::elf::Elf::parse_header(image).ok()?;
    let ctx = goblin::container::Ctx::default();
    let phdrs = ProgramHeader::parse(image, header.e_phoff as usize, header.e_phnum as usize, ctx).ok()?;
    let span = phdrs.iter().filter(|p| p.p_type == PT_LOAD).try_fold(0u64, |sum, p| {
        let start = p.p_vaddr / PAGE_SIZE * PAGE_SIZE;
        let end = p.p_vaddr.checked_add(p.p_memsz)?.checked_add(PAGE_SIZE - 1)? / PAGE_SIZE * PAGE_SIZE;
        sum.checked_add(end - start.min(end))
    })?;
    let room = span.checked_add(16 << 20)?.max(program_room(mem_size));
    (room <= mem_size / 4).then_some(room)
}

/// Loads the first program into the room of a kernel booted ahead and
/// answers its `LAUNCH`, then serves the VM. Should the program not load
/// there, the kernel's RAM is dropped and it boots the regular way (which
/// reports a program that cannot load).
fn launch_first(
    w: &World,
    slots: &crate::slots::Slots,
    vcpus: &mut [Option<VcpuFd>],
    report: &mut Report,
    files: &mut Files,
    launch: Launch,
    ahead: FirstAhead,
) -> Result<crate::process::End> {
    let ring = ahead.booted.ring_phys();
    match launch_ahead(w, slots, files, &launch, ahead.booted) {
        Ok(program) => {
            report.count_request(hx_abi::hypercall::op::LAUNCH);
            let vcpu = vcpus.first().and_then(Option::as_ref).context("the first vCPU")?;
            answer_launch(w.mem, vcpu, ahead.request)?;
            serve(w, slots, vcpus, report, files, None, None, program, ring)
        }
        Err(_) => {
            files.shared.clear(w.mem);
            w.mem.discard_all()?;
            let (program, ring) = boot(w, slots, files, &launch, vcpus, false)?;
            serve(w, slots, vcpus, report, files, None, None, program, ring)
        }
    }
}

/// `KVM_CREATE_VM`, made again when a signal to the monitor (a child's
/// SIGCHLD, a guest signal) interrupted it: the host says EINTR then.
pub fn create_vm(kvm: &Kvm) -> Result<kvm_ioctls::VmFd> {
    loop {
        match kvm.create_vm() {
            Err(e) if e.errno() == libc::EINTR => continue,
            r => return r.context("KVM_CREATE_VM"),
        }
    }
}

pub fn run(cfg: &Config) -> Result<i32> {
    if cfg.memory < MIN_MEMORY {
        return Err(rejected(2, format!("--memory must be at least {} MiB", MIN_MEMORY >> 20)));
    }
    crate::host::shared::catch_truncated_files();
    // Before any thread starts: lease breaks are read from a signalfd.
    crate::host::io_signals::block_signal();
    // Read before anything drops them (--user) or forbids asking (seccomp).
    crate::lockdown::host_caps();
    // Before any thread starts: every thread and monitor of the tree shares it.
    let private_ipc = crate::host::sysv::unshare_namespace().is_ok();
    // Its limits need root: set by the VM's builder, off the way, unless
    // the monitor gives root up before that (`--user`).
    let ipc_limits_later = private_ipc && cfg.user.is_none();
    if private_ipc && !ipc_limits_later {
        let _ = crate::host::sysv::set_limits(cfg.memory);
    }
    let found = crate::process::exec::find_first(cfg)?;
    let platform = platform::select(cfg.platform).map_err(|e| rejected(125, format!("{e:#}")))?;
    let kvm = open_kvm(&cfg.kvm_device)?;
    // The VM is made on a second thread while this one sets up the sandbox,
    // lays out the program and locks the monitor down (≈ 1.5 ms each of a
    // static hello's start here); it boots the kernel ahead too. The builder
    // handles no guest input and runs under the seccomp filter once it is on
    // (TSYNC); Landlock binds this thread and the threads it starts later,
    // not the builder, which only makes KVM calls, runs no program code and
    // ends before the guest runs. It starts at once, unless hx-run gives up
    // root first (`--user`: the identity change must not interrupt its calls).
    let (cpuid_tx, cpuid_rx) = std::sync::mpsc::channel();
    let (room_tx, room_rx) = std::sync::mpsc::channel();
    let (built, prepared) = std::thread::scope(|scope| {
        let kvm = &kvm;
        let mut make = Some(move || Built::make(kvm, cfg, platform, ipc_limits_later, cpuid_tx, room_rx));
        let mut builder = None;
        if cfg.user.is_none() {
            builder = make.take().map(|make| scope.spawn(make));
        }
        let prepared = (|| -> Result<(Files, Launch, kvm_bindings::CpuId, Option<PrivateTmp>)> {
            // Dropped on any early return too: the builder waits for it.
            let room_tx = room_tx;
            let Namespace { sandbox, guest_exe, guest_cwd, tmp: private_tmp } = sandbox(cfg, &found.host_path)?;
            let nofile = raise_file_limit(cfg.max_open_files);
            // What needs the user's full rights — KVM, the mounts — is open: give up root now.
            if let Some(user) = cfg.user {
                lockdown::drop_to(user).map_err(|e| rejected(125, format!("{e:#}")))?;
            }
            if let Some(make) = make.take() {
                builder = Some(scope.spawn(make));
            }
            let fast_libc = if cfg.fast_libc { Some(fast_libc_path(cfg)?) } else { None };
            if cfg.net.mode == crate::host::net::policy::Mode::None && !cfg.net.published.is_empty() {
                return Err(rejected(2, "-p publishes a port of the guest's network, and --net none gives it none"));
            }
            cfg.net.check_free().map_err(|e| rejected(125, format!("{e:#}")))?;
            let mut files = Files::new(sandbox, fast_libc, cfg.max_open_files);
            files.net = crate::host::net::Net::new(cfg.net.clone());
            files.memory_budget = cfg.memory;
            let argv: Vec<Vec<u8>> = std::iter::once(cfg.program.as_os_str())
                .chain(cfg.args.iter().map(|a| a.as_os_str()))
                .map(|a| a.as_bytes().to_vec())
                .collect();
            let envp: Vec<Vec<u8>> = cfg.env.iter().map(|e| e.as_bytes().to_vec()).collect();
            let mut state = hx_abi::boot::ExecState::default();
            for fd in 0..3u32 {
                state.fds[fd as usize] = hx_abi::boot::InheritedFd { fd, status: 2, handle: fd as u64 };
            }
            state.nfds = 3;
            (state.sig_ignored, state.sigmask) = signals::inherited();
            state.sched = inherited_sched(nofile);
            // The guest's umask applies in the guest; the host must not apply it again.
            // SAFETY: umask only swaps this process's creation mask.
            let umask = unsafe { libc::umask(0) };
            let execfn = argv[0].clone();
            let first = Launch {
                name: found.name,
                guest_path: guest_exe,
                execfn,
                bytes: std::sync::Arc::new(found.bytes),
                argv,
                envp,
                state,
                cwd: guest_cwd,
                umask,
            };
            let launch = crate::process::exec::interpret(&files, first, true).map_err(|e| match e {
                crate::process::exec::Refused::Errno(n, msg) => {
                    rejected(if n == libc::ENOENT { 127 } else { 126 }, msg)
                }
                crate::process::exec::Refused::Other(e) => e,
            })?;
            // Not with --user: the boot block's machine part names the user hx-run runs as.
            let room = if cfg.user.is_none() { first_room(&launch.bytes, cfg.memory) } else { None };
            let _ = room_tx.send(room);

            // What later boots need from /proc, read while it is still visible.
            host_auxv();
            host_tsc_khz();
            crate::process::table::init().context("the process table")?;
            if let Some(limit) = cfg.timeout {
                crate::process::stop_tree_after(limit);
            }
            crate::smp::install_kick_handler();
            signals::catch_interrupts();
            let (cpuid, fresh) = cpuid_rx.recv().map_err(|_| anyhow::anyhow!("building the VM failed"))??;
            if fresh {
                // Here, before the lockdown forbids writing it (the builder may be past that already).
                cpuid::remember(&cpuid, &cfg.kvm_device);
            }
            lock_down(cfg, &mut files)?;
            Ok((files, launch, cpuid, private_tmp))
        })();
        let built = match builder {
            Some(b) => b.join().unwrap_or_else(|_| Err(anyhow::anyhow!("building the VM failed"))),
            None => Err(anyhow::anyhow!("the VM was not built")),
        };
        (built, prepared)
    });
    let (mut files, launch, cpuid, private_tmp) = prepared?;
    let Built { mem, kernel, slots, mut vcpus, shared, ahead } = built?;
    files.shared = shared;
    if let Some(t) = &private_tmp {
        t.outlive(std::os::fd::AsRawFd::as_raw_fd(&slots.vm));
    }
    crate::host::shared::guard_against_truncated_files(&mem);
    let world = World { cfg, kvm: &kvm, mem: &mem, kernel: &kernel, cpuid: &cpuid, platform };
    let mut report = Report::new(cfg.stats, platform.name());
    let program = Binary { path: launch.name.clone(), bytes: Default::default(), bias: 0 };
    let end = match ahead {
        Some(ahead) => launch_first(&world, &slots, &mut vcpus, &mut report, &mut files, launch, ahead),
        None => serve(&world, &slots, &mut vcpus, &mut report, &mut files, Some(launch), None, program, 0),
    };
    signals::release();
    crate::process::end_of_tree();
    match end? {
        crate::process::End::Exit(status) => Ok(status),
        crate::process::End::Killed(sig, _) => Ok(128 + sig),
    }
}

/// Boots `launch` (if given; else the vCPUs hold a forked child's state,
/// with vCPU `resumed` running) and serves the VM until the program ends,
/// booting each image it `execve`s in turn.
#[allow(clippy::too_many_arguments)]
pub fn serve(
    w: &World,
    slots: &crate::slots::Slots,
    vcpus: &mut [Option<VcpuFd>],
    report: &mut Report,
    files: &mut Files,
    mut launch: Option<Launch>,
    mut resumed: Option<usize>,
    mut program: Binary,
    mut ring_phys: u64,
) -> Result<crate::process::End> {
    let areas = cpu_areas_phys(w);
    // vCPUs that never ran take their CPUID; KVM refuses to change it later.
    // A kernel booted ahead (its ring page given) runs before any image:
    // its RAM and vCPUs are not fresh at the first `execve`.
    let mut fresh = resumed.is_none() && ring_phys == 0;
    loop {
        if let Some(l) = launch.take() {
            // Fresh RAM reads as zero already; an exec's old image must go.
            if !fresh {
                // Shared mappings first: discarding them would only drop
                // their pages, and the new image's writes would reach the files.
                files.shared.clear(w.mem);
                w.mem.discard_all()?;
            }
            (program, ring_phys) = boot(w, slots, files, &l, vcpus, fresh)?;
            fresh = false;
        }
        let machine = crate::vcpu::Machine {
            world: w,
            mem: w.mem,
            smp: crate::smp::Smp::new(w.cfg.cpus, areas, resumed.take()),
            host: std::sync::Mutex::new((&mut *report, &mut *files)),
            program: std::sync::Mutex::new(program.clone()),
            kernel: w.kernel,
            upcall_entry: w.kernel.symbol("hx_upcall_entry")?,
            ring: Default::default(),
            watch: crate::watch::Watcher::new()?,
            slots,
        };
        // The page a fresh boot (or one ahead) gave the kernel; a forked kernel registers its own.
        let given_ring = std::mem::take(&mut ring_phys);
        if given_ring != 0 {
            anyhow::ensure!(machine.ring.register(w.mem, given_ring) == 0, "registering the ring page");
        }
        let ended = crate::vcpu::run(vcpus, &machine)?;
        drop(machine);
        match ended {
            crate::vcpu::Ended::Exit(status) => return Ok(crate::process::End::Exit(status)),
            crate::vcpu::Ended::Killed(sig, core) => return Ok(crate::process::End::Killed(sig, core)),
            crate::vcpu::Ended::Exec(next) => {
                signals::restarting();
                launch = Some(*next);
            }
        }
    }
}

/// Where the per-vCPU blocks go: right after the kernel, every boot the same.
fn cpu_areas_phys(w: &World) -> u64 {
    align_up(w.kernel.phys_end, HUGE_PAGE_SIZE)
}

/// Writes everything `launch` needs into (empty) guest RAM and sets every
/// vCPU to its boot state. Returns the program, for fault reports, and the
/// ring page the kernel starts with.
fn boot(
    w: &World,
    slots: &crate::slots::Slots,
    files: &mut Files,
    l: &Launch,
    vcpus: &[Option<VcpuFd>],
    fresh: bool,
) -> Result<(Binary, u64)> {
    let planned = plan_program(files, l)?;
    files.take_file_size_limit(&l.state.sched);
    crate::process::table::publish_sched(&l.state.sched);
    let ready = write_machine(w, &mut files.shared)?;
    setup_vcpus(w, vcpus, fresh)?;
    let (mut pt, mut phys) = (PageTables::resume(w.mem, ready.next_table), ready.phys);
    let loaded = load_program(w, files, l, &planned, &mut pt, &mut phys, None)?;
    // The ring page the kernel starts with (registered with the Machine).
    let ring_phys = phys.alloc(hx_abi::ring::PAGE, hx_abi::ring::PAGE)?;
    let ram = reach_for_boot(w, slots, phys.next)?;
    let mut boot = machine_info(w, slots, vcpus.iter().flatten().next(), ready.areas, ring_phys, phys.next, ram);
    program_info(&mut boot, l, &loaded);
    w.mem.write_obj(BOOT_INFO_PHYS, boot)?;
    Ok((planned.binary(l), ring_phys))
}

/// An image and its interpreter, checked and laid out, not loaded yet.
struct Planned {
    name: String,
    image: ld_loader::Image,
    bias: u64,
    interp: Option<(ld_loader::Image, crate::image::Image)>,
}

impl Planned {
    /// The program, for fault reports.
    fn binary(&self, l: &Launch) -> Binary {
        Binary { path: self.name.clone(), bytes: std::sync::Arc::clone(&l.bytes), bias: self.bias }
    }
}

/// Checks `l`'s image and finds its interpreter (the dynamic loader comes
/// from the guest's file system, as on Linux; with --fast-libc, musl's from
/// the patched sysroot).
fn plan_program(files: &Files, l: &Launch) -> Result<Planned> {
    // What the tree's other processes see of this one in their /proc.
    let creds = &l.state.creds;
    crate::host::identity::set_from_exec(creds);
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) =
        if creds.present != 0 { (creds.uids[1], creds.gids[1]) } else { unsafe { (libc::geteuid(), libc::getegid()) } };
    crate::process::table::publish_identity(&l.execfn, &l.argv, uid, gid);
    let name = l.name.clone();
    let (kind, elf) = classify(&name, &l.bytes).map_err(|e| rejected(126, format!("{e:#}")))?;
    let (bias, interp_path) = match kind {
        Kind::Static => (0, None),
        Kind::StaticPie => (PIE_BASE, None),
        Kind::Dynamic { interp, pie } => (if pie { PIE_BASE } else { 0 }, Some(interp)),
    };
    let mut image = plan(&name, &elf, bias).map_err(|e| rejected(126, format!("{e:#}")))?;
    image.functions = ld_loader::unindexed_function_table(&l.bytes, &elf, bias);
    drop(elf);
    let fast_libc = match (files.fast_libc(), &interp_path) {
        (Some(lib), Some(i)) if is_musl_loader(i) => Some(lib.to_path_buf()),
        _ => None,
    };
    let interp = match &interp_path {
        Some(path) => {
            let ibytes = match &fast_libc {
                Some(lib) => crate::image::Image::open(lib).with_context(|| format!("reading {}", lib.display()))?,
                None => files.sandbox.read_file(path.as_bytes()).map_err(|e| {
                    let why = std::io::Error::from_raw_os_error(e).to_string();
                    let why = why.split(" (os error").next().unwrap_or(&why).to_string();
                    rejected(127, format!("{name}: cannot execute: its interpreter {path} is not in the guest ({why})"))
                })?,
            };
            let (ikind, ielf) = classify(path, &ibytes).map_err(|e| rejected(126, format!("{e:#}")))?;
            if !matches!(ikind, Kind::StaticPie) {
                return Err(rejected(126, format!("{name}: interpreter {path} is not a self-relocating ELF")));
            }
            let mut iimage = plan(path, &ielf, INTERP_BASE).map_err(|e| rejected(126, format!("{e:#}")))?;
            iimage.functions = ld_loader::unindexed_function_table(&ibytes, &ielf, INTERP_BASE);
            drop(ielf);
            Some((iimage, ibytes))
        }
        None => None,
    };
    // The files now running: writing them is ETXTBSY for every process of the tree.
    let file_id = |fd: Option<std::os::fd::RawFd>| {
        fd.and_then(|fd| crate::sandbox::fstat_fd(fd).ok()).map(|st| (st.st_dev, st.st_ino))
    };
    crate::process::table::publish_running([
        file_id(l.bytes.file()),
        interp.as_ref().and_then(|(_, ibytes)| file_id(ibytes.file())),
    ]);
    Ok(Planned { name, image, bias, interp })
}

/// What a loaded program tells the kernel.
struct Loaded {
    regions: Vec<hx_abi::boot::UserRegion>,
    entry: u64,
    sp: u64,
    brk_start: u64,
    function_tables: [hx_abi::boot::FunctionTable; 2],
}

/// Loads the image, its interpreter, the vDSO and the initial stack.
fn load_program(
    w: &World,
    files: &mut Files,
    l: &Launch,
    p: &Planned,
    pt: &mut PageTables,
    phys: &mut PhysAlloc,
    stack_pa: Option<u64>,
) -> Result<Loaded> {
    let mem = w.mem;
    let src = l.bytes.file().map(|fd| loader::Source { fd, shared: &mut files.shared });
    let mut regions = loader::load_image(mem, pt, phys, &p.image, &l.bytes, src)?;
    if let Some((iimage, ibytes)) = &p.interp {
        let src = ibytes.file().map(|fd| loader::Source { fd, shared: &mut files.shared });
        regions.extend(loader::load_image(mem, pt, phys, iimage, ibytes, src)?);
    }
    let interp_base = p.interp.as_ref().map_or(0, |(i, _)| i.bias);
    let vector = w.kernel.symbol("HX_SYSCALL_VECTOR")?;
    regions.extend(load_vdso(mem, pt, phys, vector)?);
    let stack = initial_stack(l, &p.image, interp_base, vector)?;
    let stack_pa = match stack_pa {
        Some(pa) => pa,
        None => loader::stack_frames(phys)?,
    };
    regions.push(loader::load_stack(mem, pt, stack_pa, &stack.bytes)?);
    anyhow::ensure!(regions.len() <= MAX_USER_REGIONS, "{}: too many segments", p.name);
    let entry = p.interp.as_ref().map_or(p.image.entry, |(i, _)| i.entry);
    let function_tables = [p.image.functions, p.interp.as_ref().map(|(i, _)| i.functions).unwrap_or_default()];
    Ok(Loaded { regions, entry, sp: stack.sp, brk_start: p.image.end, function_tables })
}

/// The boot block's machine part: what is the same for every program this
/// VM could run (`phys_free`: where the kernel's frames start).
fn machine_info(
    w: &World,
    slots: &crate::slots::Slots,
    vcpu: Option<&VcpuFd>,
    areas: u64,
    ring_phys: u64,
    phys_free: u64,
    (ram_low, ram_high): (u64, u64),
) -> BootInfo {
    let cfg = w.cfg;
    let mut boot = BootInfo {
        flags: w.platform.boot_flags()
            | if cfg.strace { FLAG_STRACE } else { 0 }
            | if cfg.stats { FLAG_STATS } else { 0 }
            | if cfg.rewrite_syscalls { FLAG_REWRITE } else { 0 },
        mem_size: w.mem.size(),
        phys_free,
        ram_low,
        ram_high,
        // SAFETY: getuid/getgid cannot fail.
        uid: unsafe { libc::getuid() },
        gid: unsafe { libc::getgid() },
        root_caps: crate::lockdown::host_caps(),
        ncpus: cfg.cpus as u64,
        cpu_areas_phys: areas,
        xsave_size: xsave_size(),
        ring_phys,
        ..Default::default()
    };
    let name = &cfg.hostname[..cfg.hostname.len().min(hx_abi::boot::HOSTNAME_MAX)];
    boot.hostname[..name.len()].copy_from_slice(name);
    boot.hostname_len = name.len() as u64;
    boot.tsc_khz = vcpu.and_then(|v| v.get_tsc_khz().ok()).map(u64::from).unwrap_or_else(host_tsc_khz);
    (boot.clock_tsc, boot.clock_realtime_ns, boot.clock_monotonic_ns) = clock_anchor(slots);
    boot
}

/// The boot block's program part (and a fresh random seed: a kernel
/// booted ahead takes it at its launch).
fn program_info(boot: &mut BootInfo, l: &Launch, loaded: &Loaded) {
    boot.user_entry = loaded.entry;
    boot.user_sp = loaded.sp;
    boot.brk_start = loaded.brk_start;
    boot.function_tables = loaded.function_tables;
    boot.nregions = loaded.regions.len() as u64;
    boot.regions[..loaded.regions.len()].copy_from_slice(&loaded.regions);
    boot.exec = l.state;
    boot.umask = l.umask;
    boot.random_seed = random_seed();
    boot.exe_path_len = copy_path(&mut boot.exe_path, &l.guest_path);
    boot.cwd_len = copy_path(&mut boot.cwd, &l.cwd);
}

/// What a boot writes before the program: the kernel, its tables and the
/// vCPUs' blocks. A spare monitor (`process::spare`) writes it, and boots
/// the kernel, ahead of the program it will run.
pub struct MachineReady {
    next_table: u64,
    phys: PhysAlloc,
    areas: u64,
}

/// Writes the kernel, its interrupt table, the page tables every program
/// shares (direct map, kernel window) and the vCPUs' blocks into fresh RAM.
pub fn write_machine(w: &World, shared: &mut SharedRanges) -> Result<MachineReady> {
    let (mem, kernel) = (w.mem, w.kernel);
    kernel.load(mem, shared)?;
    let stubs: [u64; 32] = kernel.read_words(mem, "hx_exception_stubs")?;
    gdt::write_idt(mem, &stubs)?;
    let mut pt = PageTables::new(mem);
    let kernel_flags = PTE_PRESENT | PTE_WRITABLE | PTE_USER | PTE_ACCESSED | PTE_DIRTY;
    let direct = if cpuid::has_giant_pages(w.cpuid) { PageSize::Giant } else { PageSize::Huge };
    pt.map_range(DIRECT_MAP, 0, mem.size(), direct, kernel_flags | PTE_NX)?;
    pt.map_range(KERNEL_WINDOW, 0, align_up(kernel.phys_end, HUGE_PAGE_SIZE), PageSize::Huge, kernel_flags)?;
    let mut phys = PhysAlloc { next: cpu_areas_phys(w), end: mem.size() };
    let areas = write_cpu_areas(mem, &mut phys, w.cfg.cpus)?;
    gdt::write_gdt(mem, direct_virt(areas + TSS_OFFSET))?;
    Ok(MachineReady { next_table: pt.next_table(), phys, areas })
}

/// A kernel booted before its program (`FLAG_AWAIT_PROGRAM`): the stack's
/// frames, and the boot block it booted with (its `phys_free`: the end of
/// the room the program's frames must fit in).
pub struct BootedAhead {
    ready: MachineReady,
    stack_pa: u64,
    machine: Box<BootInfo>,
}

impl BootedAhead {
    /// The ring page the kernel started with.
    pub fn ring_phys(&self) -> u64 {
        self.machine.ring_phys
    }
}

/// The most guest RAM kept for a program loaded after its kernel's boot:
/// the image, its interpreter and the vDSO (a larger program makes the
/// spare step aside for a fork). The kernel takes what the program leaves
/// of it. Each MiB the VM reaches at boot costs KVM a few µs.
pub fn program_room(mem_size: u64) -> u64 {
    (16u64 << 20).min(mem_size / 16)
}

/// Writes the boot block for a kernel that boots before its program: the
/// machine part, with `phys_free` past the room kept for the program.
pub fn boot_ahead(
    w: &World,
    slots: &crate::slots::Slots,
    vcpus: &[Option<VcpuFd>],
    mut ready: MachineReady,
    room: u64,
    warm: bool,
) -> Result<BootedAhead> {
    let ring_phys = ready.phys.alloc(hx_abi::ring::PAGE, hx_abi::ring::PAGE)?;
    let stack_pa = loader::stack_frames(&mut ready.phys)?;
    let room_end = align_up(ready.phys.next, PAGE_SIZE) + room;
    anyhow::ensure!(room_end < w.mem.size(), "guest RAM too small to boot ahead");
    let ram = reach_for_boot(w, slots, room_end)?;
    let mut machine =
        Box::new(machine_info(w, slots, vcpus.iter().flatten().next(), ready.areas, ring_phys, room_end, ram));
    machine.flags |= FLAG_AWAIT_PROGRAM | if warm { FLAG_WARM_IMAGE } else { 0 };
    w.mem.write_obj(BOOT_INFO_PHYS, *machine)?;
    ready.phys.end = room_end;
    Ok(BootedAhead { ready, stack_pa, machine })
}

/// Loads `l` into the room a kernel booted ahead kept for it, and completes
/// its boot block (its kernel waits in `op::LAUNCH` meanwhile). Fails,
/// writing nothing the kernel reads, if the program does not fit.
pub fn launch_ahead(
    w: &World,
    slots: &crate::slots::Slots,
    files: &mut Files,
    l: &Launch,
    ahead: BootedAhead,
) -> Result<Binary> {
    let planned = plan_program(files, l)?;
    files.take_file_size_limit(&l.state.sched);
    crate::process::table::publish_sched(&l.state.sched);
    let (mut pt, mut phys) = (PageTables::resume(w.mem, ahead.ready.next_table), ahead.ready.phys);
    let loaded = load_program(w, files, l, &planned, &mut pt, &mut phys, Some(ahead.stack_pa))?;
    let mut boot = *ahead.machine;
    boot.phys_free = phys.next;
    (boot.clock_tsc, boot.clock_realtime_ns, boot.clock_monotonic_ns) = clock_anchor(slots);
    program_info(&mut boot, l, &loaded);
    w.mem.write_obj(BOOT_INFO_PHYS, boot)?;
    Ok(planned.binary(l))
}

/// Makes what the monitor wrote (up to `phys_next`), the kernel's heap and a
/// small program's frames reachable; the kernel asks for more as it goes.
pub fn reach_for_boot(w: &World, slots: &crate::slots::Slots, phys_next: u64) -> Result<(u64, u64)> {
    let size = w.mem.size();
    let heap_end = align_up(phys_next, HUGE_PAGE_SIZE) + hx_abi::layout::kernel_heap_size(size) + (16 << 20);
    slots.reach(w.mem, heap_end, size.saturating_sub(crate::slots::FIRST_HIGH))
}

/// The clocks' anchor for the boot block: the vCPUs' TSC now (the host's
/// plus the offset KVM gave the first vCPU: hx never scales the TSC) and
/// the host's clocks, read together. Zeros (the kernel then asks with a
/// `CLOCK` exit) where KVM does not say the offset.
fn clock_anchor(slots: &crate::slots::Slots) -> (u64, u64, u64) {
    let Some(&offset) = slots.tsc_offset.get() else { return (0, 0, 0) };
    let now = |clock| {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime into a timespec we own.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    };
    let realtime = now(libc::CLOCK_REALTIME);
    // SAFETY: rdtsc only reads the TSC.
    let tsc = unsafe { core::arch::x86_64::_rdtsc() };
    let monotonic = now(libc::CLOCK_MONOTONIC);
    (tsc.wrapping_add(offset).max(1), realtime, monotonic)
}

/// 32 bytes from the host's generator for the kernel's own.
fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let mut got = 0;
    while got < seed.len() {
        // SAFETY: getrandom writes at most the rest of our buffer.
        let n = unsafe { libc::getrandom(seed[got..].as_mut_ptr().cast(), seed.len() - got, 0) };
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    seed
}

/// Every vCPU made so far to its boot state (vCPU 0 sets the kernel up,
/// the others idle).
pub fn setup_vcpus(w: &World, vcpus: &[Option<VcpuFd>], fresh: bool) -> Result<()> {
    let areas = cpu_areas_phys(w);
    for (i, vcpu) in vcpus.iter().enumerate() {
        let Some(vcpu) = vcpu else { continue };
        if fresh {
            vcpu.set_cpuid2(w.cpuid).context("KVM_SET_CPUID2")?;
        }
        setup_vcpu(vcpu, w, i as u64, areas + i as u64 * CPU_AREA_SIZE)?;
    }
    Ok(())
}

/// `cpus` vCPU slots with only vCPU `first` made: the others are made when
/// the guest first needs them (`late_vcpu`). Making a vCPU and giving it its
/// CPUID costs a few hundred µs on this host kind, and a program that never
/// runs two threads at once never needs a second.
pub fn first_vcpu_only(slots: &crate::slots::Slots, cpus: usize, first: usize) -> Result<Vec<Option<VcpuFd>>> {
    let mut vcpus: Vec<Option<VcpuFd>> = (0..cpus).map(|_| None).collect();
    let slot = vcpus.get_mut(first).context("the first vCPU's index")?;
    let vcpu = slots.vm.create_vcpu(first as u64).with_context(|| format!("KVM_CREATE_VCPU {first}"))?;
    if let Some(offset) = crate::tsc::offset(&vcpu) {
        let _ = slots.tsc_offset.set(offset);
    }
    *slot = Some(vcpu);
    Ok(vcpus)
}

/// vCPU `i`, made when the guest first kicks it: it enters the kernel's
/// idle loop, as the vCPUs made at boot do.
pub fn late_vcpu(w: &World, slots: &crate::slots::Slots, i: usize) -> Result<VcpuFd> {
    let vcpu = slots.vm.create_vcpu(i as u64).with_context(|| format!("KVM_CREATE_VCPU {i}"))?;
    // Its TSC must agree with the first vCPU's: KVM syncs only vCPUs made
    // within a second of each other.
    if let Some(&offset) = slots.tsc_offset.get() {
        crate::tsc::set_offset(&vcpu, offset)?;
    }
    vcpu.set_cpuid2(w.cpuid).context("KVM_SET_CPUID2")?;
    setup_vcpu(&vcpu, w, i as u64, cpu_areas_phys(w) + i as u64 * CPU_AREA_SIZE)?;
    Ok(vcpu)
}

/// Each vCPU's block: its `PerCpu`, its TSS (RSP0 = its CPL0 stack) and its
/// idle stack. Returns the blocks' physical address.
fn write_cpu_areas(mem: &GuestRam, phys: &mut PhysAlloc, cpus: usize) -> Result<u64> {
    let areas = phys.alloc(cpus as u64 * CPU_AREA_SIZE, PAGE_SIZE)?;
    for i in 0..cpus as u64 {
        let base = areas + i * CPU_AREA_SIZE;
        let percpu = PerCpu { self_virt: direct_virt(base), cpu: i, ..Default::default() };
        mem.write_obj(base, percpu)?;
        gdt::write_tss(mem, base + TSS_OFFSET, direct_virt(base + CPL0_STACK_TOP_OFFSET))?;
    }
    Ok(areas)
}

/// Bytes `xsave` needs for every state component the CPU supports (CPUID 0xD).
/// Once per tree: `cpuid` leaves the VM on this host kind (tens of µs),
/// and every boot, each forked or spawned process's included, needs this.
fn xsave_size() -> u64 {
    static SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SIZE.get_or_init(|| {
        let leaf = core::arch::x86_64::__cpuid_count(0xd, 0);
        u64::from(leaf.ecx).max(576)
    })
}

/// Lets hx-run hold the guest's host files plus its own (KVM, mounts, walks):
/// the soft descriptor limit goes up as far as the hard one allows. Returns
/// the limit (soft, hard) hx-run was started with, which the program
/// inherits ([0, 0] if unknown).
fn raise_file_limit(guest_files: usize) -> [u64; 2] {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on this process's own limit, with a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return [0, 0];
        }
        let started_with = [lim.rlim_cur, lim.rlim_max];
        let want = (guest_files as u64).saturating_add(1024).min(lim.rlim_max);
        if want > lim.rlim_cur {
            lim.rlim_cur = want;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        started_with
    }
}

/// Landlock and seccomp, then the self-tests that show they hold.
fn lock_down(cfg: &Config, files: &mut Files) -> Result<()> {
    let extra: Vec<&std::path::Path> = files.fast_libc().into_iter().collect();
    let start = std::time::Instant::now();
    let landlock = lockdown::restrict_files(&files.sandbox, &extra).context("Landlock")?;
    let landlock_time = start.elapsed();
    // Socket paths bound by host path only where Landlock keeps socket creation in the writable mounts.
    files.net.direct_paths = landlock == lockdown::FileRestriction::Full;
    lockdown::confine_syscalls(files.net.policy.mode != crate::host::net::policy::Mode::None)?;
    if cfg.stats {
        let seccomp_time = start.elapsed() - landlock_time;
        eprintln!(
            "hx-run: stats: lockdown: seccomp filter on ({} µs), Landlock {landlock:?} ({} µs)",
            seccomp_time.as_micros(),
            landlock_time.as_micros()
        );
    }
    match &cfg.self_test {
        Some(SelfTest::Seccomp) => lockdown::forbidden_call_for_test(),
        Some(SelfTest::HostOpen(path)) => {
            let result = std::fs::File::open(path).map(|_| "ok".to_string()).unwrap_or_else(|e| e.to_string());
            eprintln!("hx-run: self-test: Landlock {landlock:?}: open {}: {result}", path.display());
        }
        None => {}
    }
    Ok(())
}

/// Hidden checks for hx's own tests: that seccomp and Landlock hold once the guest runs.
#[derive(Clone, Debug)]
pub enum SelfTest {
    /// Make a host call the filter forbids.
    Seccomp,
    /// Try to open a host file (allowed only inside the mounts).
    HostOpen(PathBuf),
}

fn copy_path(dest: &mut [u8; EXE_PATH_MAX], path: &[u8]) -> u64 {
    let n = path.len().min(EXE_PATH_MAX);
    dest[..n].copy_from_slice(&path[..n]);
    n as u64
}

/// The scheduling attributes hx-run itself runs with, which the program
/// inherits as across `execve` (`nice -n 10 hx-run …`). A real-time policy
/// is not passed on: the guest scheduler has none. `nofile`: the open-file
/// limit hx-run was started with.
fn inherited_sched(nofile: [u64; 2]) -> hx_abi::boot::SchedState {
    // SAFETY: these calls only read this process's own attributes.
    unsafe {
        *libc::__errno_location() = 0;
        let nice = libc::getpriority(libc::PRIO_PROCESS, 0);
        let nice = if *libc::__errno_location() == 0 { nice } else { 0 };
        let policy = libc::sched_getscheduler(0);
        let policy = match policy & !libc::SCHED_RESET_ON_FORK {
            libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => policy as u64,
            _ => 0,
        };
        let ioprio = libc::syscall(libc::SYS_ioprio_get, 1, 0).max(0) as u64;
        let personality = libc::personality(0xffff_ffff).max(0) as u64;
        // Resource limits: Linux's defaults (`rlimits_set` 0), the open-file
        // one lowered by the kernel to this process's, as a program run here
        // natively would inherit a lower one.
        let mut rlimits = [[0; 2]; hx_abi::boot::RLIMITS];
        rlimits[libc::RLIMIT_NOFILE as usize] = nofile;
        hx_abi::boot::SchedState { nice: i64::from(nice), policy, ioprio, personality, rlimits, ..Default::default() }
    }
}

fn open_kvm(device: &std::path::Path) -> Result<Kvm> {
    let path = device.display();
    let cpath = std::ffi::CString::new(device.as_os_str().as_bytes())
        .map_err(|_| rejected(2, format!("{path}: a path with a NUL byte")))?;
    let fd = Kvm::open_with_cloexec_at(&cpath, true).map_err(|e| {
        let msg = match e.errno() {
            libc::ENOENT => format!("{path} does not exist: this host has no KVM (load the kvm module, or enable virtualization)"),
            libc::EACCES | libc::EPERM => format!("no permission to open {path}: add your user to the 'kvm' group (sudo usermod -aG kvm $USER, then log in again) or run as root"),
            _ => format!("cannot open {path}: {e}"),
        };
        rejected(125, msg)
    })?;
    // SAFETY: `fd` was just opened on the KVM device and is owned by the Kvm from here on.
    Ok(unsafe { Kvm::from_raw_fd(fd) })
}

/// vCPU `index`'s boot state; `area` is its block (physical).
fn setup_vcpu(vcpu: &VcpuFd, w: &World, index: u64, area: u64) -> Result<()> {
    let kernel = w.kernel;
    regs::set_sregs(vcpu, direct_virt(area + TSS_OFFSET), direct_virt(area))?;
    regs::set_msrs(vcpu, kernel.symbol(w.platform.syscall_entry_symbol())?)?;
    let xcr0 = cpuid::xcr0(w.cpuid);
    regs::set_xcr0(vcpu, xcr0).or_else(|_| regs::set_xcr0(vcpu, 0x7))?;
    regs::set_fpu(vcpu)?;
    regs::set_entry(vcpu, kernel.entry(), kernel_virt(BOOT_INFO_PHYS), index, direct_virt(area + IDLE_STACK_TOP_OFFSET))
}

/// The TSC rate when KVM cannot say: the host kernel's calibration (read
/// once, before the lockdown).
fn host_tsc_khz() -> u64 {
    static KHZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *KHZ.get_or_init(host_tsc_khz_uncached)
}

fn host_tsc_khz_uncached() -> u64 {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("cpu MHz"))
                .and_then(|l| l.split(':').nth(1))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .map_or(2_000_000, |mhz| (mhz * 1000.0) as u64)
}

static VDSO: &[u8] = include_bytes!(env!("HX_VDSO_SO"));

/// Maps the vDSO, with the syscall vector's address written into it.
fn load_vdso(
    mem: &GuestRam,
    pt: &mut PageTables,
    phys: &mut PhysAlloc,
    vector: u64,
) -> Result<Vec<hx_abi::boot::UserRegion>> {
    let elf = goblin::elf::Elf::parse(VDSO).context("the embedded vDSO")?;
    let sym = elf
        .syms
        .iter()
        .find(|s| elf.strtab.get_at(s.st_name) == Some("hx_vector_addr"))
        .context("the vDSO has no hx_vector_addr")?;
    let seg = elf
        .program_headers
        .iter()
        .find(|p| {
            p.p_type == goblin::elf::program_header::PT_LOAD
                && (p.p_vaddr..p.p_vaddr + p.p_filesz).contains(&sym.st_value)
        })
        .context("hx_vector_addr is not in the vDSO's file image")?;
    let at = (seg.p_offset + sym.st_value - seg.p_vaddr) as usize;
    let mut image = VDSO.to_vec();
    image[at..at + 8].copy_from_slice(&vector.to_le_bytes());
    let plan = ld_loader::plan("vdso", &elf, VDSO_BASE)?;
    loader::load_image(mem, pt, phys, &plan, &image, None)
}

/// hx-run's auxiliary vector as the host kernel built it (read once, before
/// the lockdown hides /proc; every image booted later reuses it).
fn host_auxv() -> &'static [(u64, u64)] {
    static AUXV: std::sync::OnceLock<Vec<(u64, u64)>> = std::sync::OnceLock::new();
    AUXV.get_or_init(|| {
        let raw = std::fs::read("/proc/self/auxv").unwrap_or_default();
        raw.chunks_exact(16)
            .map(|c| (u64::from_le_bytes(c[..8].try_into().unwrap()), u64::from_le_bytes(c[8..].try_into().unwrap())))
            .take_while(|&(k, _)| k != 0)
            .collect()
    })
}

/// argv, the environment and the auxv a Linux kernel would give the program.
fn initial_stack(l: &Launch, image: &ld_loader::Image, interp_base: u64, vector: u64) -> Result<ld_loader::StackImage> {
    let (argv, envp) = (&l.argv, &l.envp);
    // The host kernel's own values, as it gave them to hx-run (glibc's
    // getauxval(AT_HWCAP) would return glibc's rewritten bits instead).
    let host_aux = host_auxv();
    let aux = |tag: u64| host_aux.iter().find(|(k, _)| *k == tag).map_or(0, |(_, v)| *v);
    let (hwcap, hwcap2, clktck, minsig) = (aux(at::HWCAP), aux(at::HWCAP2), aux(at::CLKTCK), aux(at::MINSIGSTKSZ));
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid() as u64, libc::getgid() as u64) };
    let auxv = [
        (at::PHDR, image.phdr),
        (at::PHENT, image.phent),
        (at::PHNUM, image.phnum),
        (at::PAGESZ, PAGE_SIZE),
        (at::BASE, interp_base),
        (at::FLAGS, 0),
        (at::ENTRY, image.entry),
        (at::UID, uid),
        (at::EUID, uid),
        (at::GID, gid),
        (at::EGID, gid),
        (at::HWCAP, hwcap),
        (at::HWCAP2, hwcap2),
        (at::CLKTCK, if clktck == 0 { 100 } else { clktck }),
        (at::SECURE, 0),
        (at::MINSIGSTKSZ, if minsig == 0 { 2048 } else { minsig }),
        (hx_abi::boot::AT_HX_SYSCALL_VECTOR, vector),
        (at::SYSINFO_EHDR, VDSO_BASE),
    ];
    let mut random = [0u8; 16];
    // SAFETY: getrandom fills the 16-byte buffer we own.
    unsafe { libc::getrandom(random.as_mut_ptr().cast(), 16, 0) };
    Ok(build_stack(STACK_TOP, &StackInput { argv, envp, auxv: &auxv, execfn: l.execfn.as_slice(), random }))
}
