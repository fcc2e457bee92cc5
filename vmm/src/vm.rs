//! Building and running one VM: guest RAM, the kernel, the boot structures,
//! the program and its stack, the vCPU.
use crate::arch::paging::{PageSize, PageTables};
use crate::arch::{cpuid, gdt, regs};
use crate::fault::Binary;
use crate::host::files::Files;
use crate::kernel_image::KernelImage;
use crate::loader::{self, PhysAlloc};
use crate::memory::GuestRam;
use crate::platform::{self, Platform};
use crate::report::Report;
use crate::sandbox::Sandbox;
use crate::{lockdown, signals};
use anyhow::{Context, Result};
use hx_abi::boot::{BootInfo, EXE_PATH_MAX, FLAG_STATS, FLAG_STRACE, MAX_USER_REGIONS};
use hx_abi::layout::*;
use hx_abi::percpu::{PerCpu, CPL0_STACK_TOP_OFFSET, CPU_AREA_SIZE, IDLE_STACK_TOP_OFFSET, TSS_OFFSET};
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use ld_loader::stack::at;
use ld_loader::{build_stack, classify, plan, Kind, StackInput};
use std::ffi::OsString;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
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
    pub sysroot: Option<PathBuf>,
    /// Host files the guest may hold open at once.
    pub max_open_files: usize,
    /// Started as root: run as this user.
    pub user: Option<lockdown::User>,
    pub self_test: Option<SelfTest>,
    /// vCPUs (`--cpus`).
    pub cpus: usize,
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
fn is_musl_loader(interp: &str) -> bool {
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

/// The guest's file namespace: defaults first, so `--mount` can override them.
fn sandbox(cfg: &Config, exe: &std::path::Path) -> Result<(Sandbox, Vec<u8>, Vec<u8>)> {
    let mut sb = Sandbox::new();
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
        sb.mount(&cwd, cwd.as_os_str().as_bytes(), true)?;
    }
    for m in &cfg.mounts {
        sb.mount(&m.host, &m.guest, m.writable).map_err(|e| rejected(2, format!("--mount: {e:#}")))?;
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
    Ok((sb, guest_exe, guest_cwd))
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

fn rejected(status: i32, message: impl Into<String>) -> anyhow::Error {
    Rejected { status, message: message.into() }.into()
}

/// Smallest guest that holds the boot structures, kernel, stack and kernel heap.
pub const MIN_MEMORY: u64 = 32 << 20;

pub fn run(cfg: &Config) -> Result<i32> {
    let name = cfg.program.display().to_string();
    let bytes = std::fs::read(&cfg.program).map_err(|e| {
        let status = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        rejected(status, format!("{name}: {text}"))
    })?;
    let (kind, elf) = classify(&name, &bytes).map_err(|e| rejected(126, format!("{e:#}")))?;
    let (bias, interp_path) = match kind {
        Kind::Static => (0, None),
        Kind::StaticPie => (PIE_BASE, None),
        Kind::Dynamic { interp, pie } => (if pie { PIE_BASE } else { 0 }, Some(interp)),
    };
    let image = plan(&name, &elf, bias).map_err(|e| rejected(126, format!("{e:#}")))?;
    drop(elf);
    if cfg.memory < MIN_MEMORY {
        return Err(rejected(2, format!("--memory must be at least {} MiB", MIN_MEMORY >> 20)));
    }
    let exe = std::fs::canonicalize(&cfg.program).unwrap_or_else(|_| cfg.program.clone());
    let (sandbox, guest_exe, guest_cwd) = sandbox(cfg, &exe)?;
    let platform = platform::select(cfg.platform).map_err(|e| rejected(125, format!("{e:#}")))?;
    let kvm = open_kvm(&cfg.kvm_device)?;
    raise_file_limit(cfg.max_open_files);
    // What needs the user's full rights — KVM, the mounts — is open: give up root now.
    if let Some(user) = cfg.user {
        lockdown::drop_to(user).map_err(|e| rejected(125, format!("{e:#}")))?;
    }
    let fast_libc = if cfg.fast_libc {
        match &interp_path {
            Some(i) if is_musl_loader(i) => Some(fast_libc_path(cfg)?),
            Some(i) => {
                eprintln!(
                    "hx-run: --fast-libc needs a musl-linked binary; {name} uses {i}: running it on the trap path"
                );
                None
            }
            None => {
                eprintln!("hx-run: --fast-libc needs a dynamically linked musl binary; {name} is static: running it on the trap path");
                None
            }
        }
    } else {
        None
    };
    // The dynamic loader comes from the guest's file system, as on Linux
    // (with --fast-libc, musl's comes from the patched sysroot).
    let interp = match &interp_path {
        Some(path) => {
            let from_sysroot = fast_libc.as_ref().map(std::fs::read);
            let ibytes = match from_sysroot {
                Some(r) => r.with_context(|| format!("reading {}", fast_libc.as_ref().unwrap().display()))?,
                None => sandbox.read_file(path.as_bytes()).map_err(|e| {
                    let why = std::io::Error::from_raw_os_error(e).to_string();
                    let why = why.split(" (os error").next().unwrap_or(&why).to_string();
                    rejected(127, format!("{name}: cannot execute: its interpreter {path} is not in the guest ({why})"))
                })?,
            };
            let (ikind, ielf) = classify(path, &ibytes).map_err(|e| rejected(126, format!("{e:#}")))?;
            if !matches!(ikind, Kind::StaticPie) {
                return Err(rejected(126, format!("{name}: interpreter {path} is not a self-relocating ELF")));
            }
            let iimage = plan(path, &ielf, INTERP_BASE).map_err(|e| rejected(126, format!("{e:#}")))?;
            drop(ielf);
            Some((iimage, ibytes))
        }
        None => None,
    };

    let vm = kvm.create_vm().context("KVM_CREATE_VM")?;
    let mem = GuestRam::new(cfg.memory)?;
    register_memory(&vm, &mem)?;
    let kernel = KernelImage::parse()?;
    kernel.load(&mem)?;
    let cpuid = cpuid::supported(&kvm)?;

    let stubs: [u64; 32] = kernel.read_words(&mem, "hx_exception_stubs")?;
    gdt::write_idt(&mem, &stubs)?;

    let mut pt = PageTables::new(&mem);
    let kernel_flags = PTE_PRESENT | PTE_WRITABLE | PTE_USER;
    let direct = if cpuid::has_giant_pages(&cpuid) { PageSize::Giant } else { PageSize::Huge };
    pt.map_range(DIRECT_MAP, 0, mem.size(), direct, kernel_flags | PTE_NX)?;
    pt.map_range(KERNEL_WINDOW, 0, align_up(kernel.phys_end, HUGE_PAGE_SIZE), PageSize::Huge, kernel_flags)?;

    let mut phys = PhysAlloc { next: align_up(kernel.phys_end, HUGE_PAGE_SIZE), end: mem.size() };
    let areas = write_cpu_areas(&mem, &mut phys, cfg.cpus)?;
    gdt::write_gdt(&mem, direct_virt(areas + TSS_OFFSET))?;
    let mut regions = loader::load_image(&mem, &mut pt, &mut phys, &image, &bytes)?;
    if let Some((iimage, ibytes)) = &interp {
        regions.extend(loader::load_image(&mem, &mut pt, &mut phys, iimage, ibytes)?);
    }
    let interp_base = interp.as_ref().map_or(0, |(i, _)| i.bias);
    let vector = kernel.symbol("HX_SYSCALL_VECTOR")?;
    regions.extend(load_vdso(&mem, &mut pt, &mut phys, vector)?);
    let stack = initial_stack(cfg, &image, interp_base, vector)?;
    regions.push(loader::load_stack(&mem, &mut pt, &mut phys, &stack.bytes)?);
    anyhow::ensure!(regions.len() <= MAX_USER_REGIONS, "{name}: too many segments");

    let mut boot = BootInfo {
        flags: platform.boot_flags()
            | if cfg.strace { FLAG_STRACE } else { 0 }
            | if cfg.stats { FLAG_STATS } else { 0 },
        mem_size: mem.size(),
        phys_free: phys.next,
        user_entry: interp.as_ref().map_or(image.entry, |(i, _)| i.entry),
        user_sp: stack.sp,
        brk_start: image.end,
        nregions: regions.len() as u64,
        // SAFETY: getuid/getgid cannot fail.
        uid: unsafe { libc::getuid() },
        gid: unsafe { libc::getgid() },
        ncpus: cfg.cpus as u64,
        cpu_areas_phys: areas,
        xsave_size: xsave_size(),
        ..Default::default()
    };
    boot.regions[..regions.len()].copy_from_slice(&regions);
    boot.exe_path_len = copy_path(&mut boot.exe_path, &guest_exe);
    boot.cwd_len = copy_path(&mut boot.cwd, &guest_cwd);
    // The guest's umask applies in the guest; the host must not apply it again.
    // SAFETY: umask only swaps this process's creation mask.
    boot.umask = unsafe { libc::umask(0) };
    let mut files = Files::new(sandbox, fast_libc, cfg.max_open_files);

    let mut vcpus = Vec::with_capacity(cfg.cpus);
    for i in 0..cfg.cpus {
        vcpus.push(vm.create_vcpu(i as u64).with_context(|| format!("KVM_CREATE_VCPU {i}"))?);
    }
    boot.tsc_khz = vcpus[0].get_tsc_khz().map(u64::from).unwrap_or_else(|_| host_tsc_khz());
    mem.write_obj(BOOT_INFO_PHYS, boot)?;
    for (i, vcpu) in vcpus.iter().enumerate() {
        setup_vcpu(vcpu, &cpuid, &kernel, platform, i as u64, areas + i as u64 * CPU_AREA_SIZE)?;
    }

    let mut report = Report::new(cfg.stats, platform.name());
    let program = Binary { path: name, bytes, bias };
    signals::catch_interrupts(&mut vcpus[0].get_kvm_run().immediate_exit);
    crate::smp::install_kick_handler();
    // The C library sets up its thread signals at the first thread it
    // starts: do that now, while the seccomp filter does not yet forbid it.
    let _ = std::thread::spawn(|| {}).join();
    lock_down(cfg, &files)?;
    let machine = crate::vcpu::Machine {
        mem: &mem,
        smp: crate::smp::Smp::new(cfg.cpus, areas),
        host: std::sync::Mutex::new((&mut report, &mut files)),
        program: &program,
        kernel: &kernel,
        upcall_entry: kernel.symbol("hx_upcall_entry")?,
    };
    let status = crate::vcpu::run(&mut vcpus, &machine);
    signals::release();
    status
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
fn xsave_size() -> u64 {
    let leaf = core::arch::x86_64::__cpuid_count(0xd, 0);
    u64::from(leaf.ecx).max(576)
}

/// Lets hx-run hold the guest's host files plus its own (KVM, mounts, walks):
/// the soft descriptor limit goes up as far as the hard one allows.
fn raise_file_limit(guest_files: usize) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit on this process's own limit, with a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            let want = (guest_files as u64).saturating_add(1024).min(lim.rlim_max);
            if want > lim.rlim_cur {
                lim.rlim_cur = want;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}

/// Landlock and seccomp, then the self-tests that show they hold.
fn lock_down(cfg: &Config, files: &Files) -> Result<()> {
    let extra: Vec<&std::path::Path> = files.fast_libc().into_iter().collect();
    let landlock = lockdown::restrict_files(&files.sandbox, &extra).context("Landlock")?;
    lockdown::confine_syscalls()?;
    if cfg.stats {
        eprintln!("hx-run: stats: lockdown: seccomp filter on, Landlock {landlock:?}");
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

fn register_memory(vm: &VmFd, mem: &GuestRam) -> Result<()> {
    let region = kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0,
        memory_size: mem.size(),
        userspace_addr: mem.host_base(),
    };
    // SAFETY: the region is guest RAM, mapped for as long as the VM exists.
    unsafe { vm.set_user_memory_region(region) }.context("KVM_SET_USER_MEMORY_REGION")
}

/// vCPU `index`'s boot state; `area` is its block (physical).
fn setup_vcpu(
    vcpu: &VcpuFd,
    cpuid: &kvm_bindings::CpuId,
    kernel: &KernelImage,
    platform: Platform,
    index: u64,
    area: u64,
) -> Result<()> {
    vcpu.set_cpuid2(cpuid).context("KVM_SET_CPUID2")?;
    regs::set_sregs(vcpu, direct_virt(area + TSS_OFFSET), direct_virt(area))?;
    regs::set_msrs(vcpu, kernel.symbol(platform.syscall_entry_symbol())?)?;
    let xcr0 = cpuid::xcr0(cpuid);
    regs::set_xcr0(vcpu, xcr0).or_else(|_| regs::set_xcr0(vcpu, 0x7))?;
    regs::set_fpu(vcpu)?;
    regs::set_entry(vcpu, kernel.entry(), kernel_virt(BOOT_INFO_PHYS), index, direct_virt(area + IDLE_STACK_TOP_OFFSET))
}

/// The TSC rate when KVM cannot say: the host kernel's calibration.
fn host_tsc_khz() -> u64 {
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
    loader::load_image(mem, pt, phys, &plan, &image)
}

/// hx-run's auxiliary vector as the host kernel built it.
fn host_auxv() -> Vec<(u64, u64)> {
    let raw = std::fs::read("/proc/self/auxv").unwrap_or_default();
    raw.chunks_exact(16)
        .map(|c| (u64::from_le_bytes(c[..8].try_into().unwrap()), u64::from_le_bytes(c[8..].try_into().unwrap())))
        .take_while(|&(k, _)| k != 0)
        .collect()
}

/// argv, the environment and the auxv a Linux kernel would give the program.
fn initial_stack(
    cfg: &Config,
    image: &ld_loader::Image,
    interp_base: u64,
    vector: u64,
) -> Result<ld_loader::StackImage> {
    let argv: Vec<Vec<u8>> = std::iter::once(cfg.program.as_os_str())
        .chain(cfg.args.iter().map(|a| a.as_os_str()))
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let envp: Vec<Vec<u8>> = cfg.env.iter().map(|e| e.as_bytes().to_vec()).collect();
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
    Ok(build_stack(
        STACK_TOP,
        &StackInput { argv: &argv, envp: &envp, auxv: &auxv, execfn: argv[0].as_slice(), random },
    ))
}
