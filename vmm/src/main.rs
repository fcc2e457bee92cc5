//! `hx-run`: runs an unmodified Linux x86-64 binary as a unikernel.
use hx_vmm::{kernel_image, platform, report, vm};

use clap::Parser;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "hx-run",
    version,
    about = "Run an unmodified Linux x86-64 binary as a unikernel in a KVM virtual machine"
)]
struct Cli {
    /// Guest RAM (bytes, or with a K/M/G suffix). Reserved lazily: untouched memory costs the host nothing.
    #[arg(long, default_value = "2G", value_parser = parse_size)]
    memory: u64,
    /// Kind of KVM host: detected by default.
    #[arg(long, value_enum, default_value = "auto")]
    platform: platform::Choice,
    /// The KVM device to open.
    #[arg(long, default_value = "/dev/kvm", hide = true)]
    kvm_device: PathBuf,
    /// Print every syscall with its arguments, result and path (trap or vector) on stderr.
    #[arg(long)]
    strace: bool,
    /// Print syscall counts by path and exits to the host by reason at exit.
    #[arg(long)]
    stats: bool,
    /// Make host directory HOST visible at guest path GUEST, read-only (ro, the
    /// default) or read-write (rw). Repeatable; overrides a default mount at the same path.
    #[arg(long = "mount", value_name = "HOST:GUEST[:ro|rw]", value_parser = parse_mount)]
    mounts: Vec<vm::MountSpec>,
    /// Start with no default mounts (see the README) — only what --mount gives.
    #[arg(long)]
    no_default_mounts: bool,
    /// Set an environment variable for the program (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    env: Vec<OsString>,
    /// Start the program with an empty environment (plus any -e).
    #[arg(long)]
    env_clear: bool,
    /// Run a musl-linked dynamic binary on hx's patched musl (sysroot/lib/libc.so):
    /// every syscall becomes a function call into the kernel.
    #[arg(long)]
    fast_libc: bool,
    /// Function-call syscalls for any binary (on by default): the guest kernel
    /// replaces each `syscall` instruction that keeps trapping (in code it can
    /// decode from a function's start) with a jump to a stub that enters it
    /// without a trap. Nothing changes on disk. `--rewrite-syscalls=off`: every
    /// `syscall` instruction traps.
    #[arg(long, value_name = "on|off", num_args = 0..=1, default_value = "on", default_missing_value = "on",
          hide_possible_values = true, value_parser = clap::builder::BoolishValueParser::new())]
    rewrite_syscalls: bool,
    /// Where the patched musl lives (default: $HX_SYSROOT, else the sysroot next
    /// to hx-run or in its source tree).
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// vCPUs, one host thread each (default: the host CPUs hx-run may use, as `docker run`).
    #[arg(long, value_name = "N")]
    cpus: Option<String>,
    /// Host files the guest may hold open at once (beyond it, the guest gets EMFILE).
    #[arg(long, value_name = "N", default_value_t = hx_vmm::host::handles::DEFAULT_LIMIT)]
    max_open_files: usize,
    /// Started as root: run as this user (UID[:GID] or NAME[:GROUP]), so host
    /// permissions apply to the guest's files as to that user.
    #[arg(long, value_name = "USER[:GROUP]", value_parser = hx_vmm::lockdown::parse_user)]
    user: Option<hx_vmm::lockdown::User>,
    /// Network: `default` (the host's network for outgoing traffic; listening
    /// only on ports published with -p), `none` (only AF_UNIX sockets) or
    /// `host` (the host's network without limits).
    #[arg(long, value_name = "MODE", default_value = "default")]
    net: hx_vmm::host::net::policy::Mode,
    /// Publish guest port GUEST_PORT at host port HOST_PORT (on HOST_IP, else
    /// on the address the guest binds). Repeatable.
    #[arg(short = 'p', long = "publish", value_name = "[HOST_IP:]HOST_PORT:GUEST_PORT[/udp]")]
    publish: Vec<hx_vmm::host::net::policy::Publish>,
    /// Stop the program (and every process it started) if it has not ended
    /// after this long (`90`, `90s`, `5m`, `1h`): hx-run then lists the
    /// guest's processes and exits with status 124, as timeout(1) does.
    #[arg(long, value_name = "DURATION", env = "HX_RUN_TIMEOUT", value_parser = parse_duration)]
    timeout: Option<std::time::Duration>,
    /// The guest's host name, as `uname -n` and `hostname` show it (as
    /// `docker run --hostname`).
    #[arg(long, value_name = "NAME", default_value = "hx", value_parser = parse_hostname)]
    hostname: String,
    /// `off`: no front process (`hx_vmm::front`): hx-run itself is the
    /// monitor, and its exit waits for the VM's teardown. For measuring the
    /// monitor's own resource use (`wait4`), as the benchmarks do.
    #[arg(long, hide = true, value_name = "on|off", num_args = 0..=1, default_value = "on", default_missing_value = "on",
          value_parser = clap::builder::BoolishValueParser::new())]
    front: bool,
    /// For hx's own tests: `seccomp` (make a forbidden host call) or `open:PATH`.
    #[arg(long, hide = true, value_parser = parse_self_test)]
    self_test: Option<vm::SelfTest>,
    /// Print the syscall coverage table (markdown) and exit.
    #[arg(long, conflicts_with = "command")]
    syscalls: bool,
    /// The Linux binary to run, then its arguments (everything after the
    /// binary belongs to it, options included).
    #[arg(
        value_name = "PROGRAM [ARGS]...",
        required_unless_present = "syscalls",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<OsString>,
}

/// A host name as Linux takes one: 1 to 64 bytes, none of them NUL.
fn parse_hostname(s: &str) -> Result<String, String> {
    let len = s.len();
    if len == 0 || len > hx_abi::boot::HOSTNAME_MAX || s.contains('\0') {
        return Err(format!("a host name has 1 to {} bytes, got {len}", hx_abi::boot::HOSTNAME_MAX));
    }
    Ok(s.to_string())
}

fn parse_mount(s: &str) -> Result<vm::MountSpec, String> {
    let mut parts: Vec<&str> = s.split(':').collect();
    let writable = match parts.last() {
        Some(&"rw") if parts.len() == 3 => true,
        Some(&"ro") if parts.len() == 3 => false,
        _ if parts.len() == 2 => false,
        _ => return Err(format!("expected HOST:GUEST[:ro|rw], got {s}")),
    };
    if parts.len() == 3 {
        parts.pop();
    }
    if !parts[1].starts_with('/') {
        return Err(format!("the guest path must be absolute: {}", parts[1]));
    }
    Ok(vm::MountSpec { host: PathBuf::from(parts[0]), guest: parts[1].as_bytes().to_vec(), writable })
}

fn parse_self_test(s: &str) -> Result<vm::SelfTest, String> {
    match s.split_once(':') {
        None if s == "seccomp" => Ok(vm::SelfTest::Seccomp),
        Some(("open", path)) => Ok(vm::SelfTest::HostOpen(PathBuf::from(path))),
        _ => Err(format!("unknown self-test {s}")),
    }
}

fn parse_cpus(s: &str) -> Result<usize, String> {
    let max = hx_abi::percpu::MAX_CPUS;
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected a number of vCPUs from 1 to {max}")),
    }
}

/// The CPUs this process may run on (its affinity mask), as a container runtime counts them.
fn host_cpus() -> usize {
    // SAFETY: sched_getaffinity fills the cpu_set_t we own.
    let n = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            libc::CPU_COUNT(&set) as usize
        } else {
            1
        }
    };
    n.clamp(1, hx_abi::percpu::MAX_CPUS)
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (digits, unit) = match s.as_bytes().last() {
        Some(b's') => (&s[..s.len() - 1], 1),
        Some(b'm') => (&s[..s.len() - 1], 60),
        Some(b'h') => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => Ok(std::time::Duration::from_secs(n.saturating_mul(unit))),
        _ => Err(format!("expected a positive number of seconds, optionally with s, m or h: {s}")),
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: u64 = digits.parse().map_err(|_| format!("not a size: {s}"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("too large: {s}"))
}

/// The program's environment: hx-run's own unless cleared, then each `-e`.
fn environment(cli: &Cli) -> Vec<OsString> {
    let mut env: Vec<OsString> = if cli.env_clear {
        Vec::new()
    } else {
        std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect()
    };
    for e in &cli.env {
        let key = e.as_bytes().split(|&b| b == b'=').next().unwrap_or_default().to_vec();
        env.retain(|x| x.as_bytes().split(|&b| b == b'=').next() != Some(&key[..]));
        env.push(e.clone());
    }
    env
}

fn main() {
    // No guest input should reach a panic; should one, it is one line and the
    // status of a monitor failure, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("hx-run: internal error (a bug in hx-run: please report it): {info}");
        std::process::exit(125);
    }));
    let cli = Cli::parse();
    if cli.syscalls {
        match kernel_image::KernelImage::parse().and_then(|k| k.implemented_syscalls()) {
            Ok(nrs) => print!("{}", report::coverage_markdown(&nrs)),
            Err(e) => {
                eprintln!("hx-run: {e:#}");
                std::process::exit(125);
            }
        }
        return;
    }
    let cfg = vm::Config {
        env: environment(&cli),
        program: PathBuf::from(&cli.command[0]),
        args: cli.command[1..].to_vec(),
        memory: cli.memory,
        kvm_device: cli.kvm_device,
        platform: cli.platform,
        strace: cli.strace,
        stats: cli.stats,
        mounts: cli.mounts,
        fast_libc: cli.fast_libc,
        rewrite_syscalls: cli.rewrite_syscalls,
        sysroot: cli.sysroot,
        default_mounts: !cli.no_default_mounts,
        max_open_files: cli.max_open_files,
        user: cli.user,
        self_test: cli.self_test,
        net: hx_vmm::host::net::policy::Policy { mode: cli.net, published: cli.publish },
        timeout: cli.timeout,
        hostname: cli.hostname.into_bytes(),
        cpus: match cli.cpus.as_deref().map(parse_cpus) {
            None => host_cpus(),
            Some(Ok(n)) => n,
            Some(Err(e)) => {
                eprintln!("hx-run: --cpus: {e}");
                std::process::exit(2);
            }
        },
    };
    let reporter = if cli.front { hx_vmm::front::split() } else { hx_vmm::front::Reporter::none() };
    let status = match vm::run(&cfg) {
        Ok(status) => status,
        Err(e) => {
            let status = e.downcast_ref::<vm::Rejected>().map_or(125, |r| r.status);
            eprintln!("hx-run: {e:#}");
            status
        }
    };
    reporter.report(status);
    std::process::exit(status);
}
