//! Shared helpers for hx's integration tests: build a C program from
//! tests/programs, run it natively and under hx-run, compare the two.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const HX_RUN: &str = env!("CARGO_BIN_EXE_hx-run");

/// Where compiled test programs go (one directory per test process).
fn build_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::Builder::new().prefix("hx-tests").tempdir().unwrap()).path()
}

pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs")
}

/// A way to build a static program.
#[derive(Clone, Copy, Debug)]
pub enum Flavor {
    MuslStatic,
    GlibcStatic,
    GlibcStaticPie,
    CxxStatic,
    CxxStaticPie,
    FortranStatic,
    GlibcDynamic,
    GlibcDynamicNoPie,
    MuslDynamic,
    CxxDynamic,
    SharedLibrary,
}

impl Flavor {
    /// The C flavors.
    pub const ALL: [Flavor; 3] = [Flavor::MuslStatic, Flavor::GlibcStatic, Flavor::GlibcStaticPie];

    fn command(self) -> (&'static str, &'static [&'static str], &'static str) {
        match self {
            Flavor::MuslStatic => ("musl-gcc", &["-static"], "c"),
            Flavor::GlibcStatic => ("gcc", &["-static", "-no-pie"], "c"),
            Flavor::GlibcStaticPie => ("gcc", &["-static-pie", "-fPIE"], "c"),
            Flavor::CxxStatic => ("g++", &["-static", "-no-pie", "-std=c++17"], "cpp"),
            Flavor::CxxStaticPie => ("g++", &["-static-pie", "-fPIE", "-std=c++17"], "cpp"),
            Flavor::FortranStatic => ("gfortran", &["-static"], "f90"),
            Flavor::GlibcDynamic => ("gcc", &["-pie", "-fPIE"], "c"),
            Flavor::GlibcDynamicNoPie => ("gcc", &["-no-pie"], "c"),
            Flavor::MuslDynamic => ("musl-gcc", &[], "c"),
            Flavor::CxxDynamic => ("g++", &["-std=c++17"], "cpp"),
            Flavor::SharedLibrary => ("gcc", &["-shared", "-fPIC"], "c"),
        }
    }
}

/// Compiles tests/programs/`name`.{c,cpp,f90} with `flavor` and `extra` flags.
pub fn build(name: &str, flavor: Flavor, extra: &[&str]) -> PathBuf {
    // Tests run in parallel and share builds: one compiler at a time, and a
    // program appears under its name only once it is complete.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let (cc, flags, ext) = flavor.command();
    let out = build_dir().join(format!("{name}-{flavor:?}{}", extra.join("").replace(['-', '='], "_")));
    if out.exists() {
        return out;
    }
    let src = programs_dir().join(format!("{name}.{ext}"));
    let partial = out.with_extension("partial");
    let status = Command::new(cc)
        .args(flags)
        .args(if extra.iter().any(|f| f.starts_with("-O")) { &["-g", "-o"][..] } else { &["-O2", "-g", "-o"][..] })
        .arg(&partial)
        .arg(&src)
        .args(extra)
        .status()
        .unwrap_or_else(|e| panic!("running {cc} (is it installed? .ci/run installs it): {e}"));
    assert!(status.success(), "{cc} failed to build {}", src.display());
    std::fs::rename(&partial, &out).unwrap();
    out
}

/// Exit status as a shell reports it: the code, or 128 + the signal.
pub fn status_code(out: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    out.status.code().unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0))
}

fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn native(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args).envs(env.iter().copied());
    run(cmd, None)
}

pub fn hx(hx_flags: &[&str], program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(HX_RUN);
    cmd.args(hx_flags).arg(program).args(args).envs(env.iter().copied());
    run(cmd, None)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The rows of `--stats`' syscall table in hx-run's `stderr` (`name  trap /
/// vector / rewritten`, and `total`): each syscall's counts by path. Each
/// process of the guest prints its table when it ends: these are the last
/// one's, the first process's when it waits for its children.
pub fn stats_rows(stderr: &str) -> Vec<(String, [u64; 3])> {
    let last_table = stderr.rfind("syscalls (trap path / vector / rewritten):").map_or("", |at| &stderr[at..]);
    last_table
        .lines()
        .filter_map(|line| match line.split_whitespace().collect::<Vec<_>>()[..] {
            [name, trap, "/", vector, "/", rewritten] => {
                Some((name.to_string(), [trap.parse().ok()?, vector.parse().ok()?, rewritten.parse().ok()?]))
            }
            _ => None,
        })
        .collect()
}

/// Each syscall's trap-path count in `--stats` (see [`stats_rows`]).
pub fn trap_path_rows(stderr: &str) -> Vec<(String, u64)> {
    stats_rows(stderr).into_iter().map(|(name, counts)| (name, counts[0])).collect()
}

/// The trap-path total of `--stats` in hx-run's `stderr`.
pub fn trap_path_total(stderr: &str) -> u64 {
    let rows = trap_path_rows(stderr);
    rows.iter().find(|(name, _)| name == "total").unwrap_or_else(|| panic!("no --stats table:\n{stderr}")).1
}

/// Asserts hx-run's stdout, stderr and status equal the native run's.
pub fn assert_same(what: &str, native: &Output, hx: &Output) {
    assert_eq!(text(&hx.stdout), text(&native.stdout), "{what}: stdout differs");
    assert_eq!(text(&hx.stderr), text(&native.stderr), "{what}: stderr differs");
    assert_eq!(status_code(hx), status_code(native), "{what}: exit status differs");
}

/// Runs `program` natively and under hx-run and asserts the same result.
pub fn compare(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let n = native(program, args, env);
    let h = hx(&[], program, args, env);
    assert_same(&program.display().to_string(), &n, &h);
    h
}

/// Runs `argv` (a host program and its arguments) natively and under hx-run
/// in fresh working directories, each first given copies of `files`;
/// asserts the same stdout, stderr and status.
pub fn compare_with_files(argv: &[&str], files: &[&Path], env: &[(&str, &str)]) -> Output {
    compare_with_files_flags(&[], argv, files, env)
}

/// [`compare_with_files`] with `hx_flags` for hx-run.
pub fn compare_with_files_flags(hx_flags: &[&str], argv: &[&str], files: &[&Path], env: &[(&str, &str)]) -> Output {
    let (dn, dh) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [dn.path(), dh.path()] {
        for f in files {
            std::fs::copy(f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    let mut n = Command::new(argv[0]);
    n.args(&argv[1..]).current_dir(dn.path()).envs(env.iter().copied());
    let n = run(n, None);
    let mut h = Command::new(HX_RUN);
    h.args(hx_flags).args(argv).current_dir(dh.path()).envs(env.iter().copied());
    let h = run(h, None);
    assert_same(&argv.join(" "), &n, &h);
    h
}

/// Runs `program` natively and under hx-run (`hx_flags`) in fresh working
/// directories with `stdin` as input, and asserts the same result.
pub fn compare_in_dirs(program: &Path, args: &[&str], stdin: Option<&[u8]>, hx_flags: &[&str]) -> Output {
    let (dn, dh) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut n = Command::new(program);
    n.args(args).current_dir(dn.path());
    let n = run(n, stdin);
    let mut h = Command::new(HX_RUN);
    h.args(hx_flags).arg(program).args(args).current_dir(dh.path());
    let h = run(h, stdin);
    assert_same(&program.display().to_string(), &n, &h);
    h
}

pub fn hx_with_stdin(hx_flags: &[&str], program: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(HX_RUN);
    cmd.args(hx_flags).arg(program).args(args);
    run(cmd, Some(stdin))
}

/// A loopback port free now for TCP and UDP, taken from below the kernel's
/// ephemeral range: a port from that range (what binding port 0 returns)
/// may become some connection's local port between this check and the
/// test's use of it, as happened when 200-connection tests ran alongside.
pub fn free_port() -> u16 {
    use std::net::{TcpListener, UdpSocket};
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (low, span) = (10_000u32, 22_000u32);
    let start = std::process::id().wrapping_mul(7919)
        + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    loop {
        let port = (low + (start + NEXT.fetch_add(1, Ordering::Relaxed) * 389) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_ok()
            && UdpSocket::bind(("0.0.0.0", port)).is_ok()
        {
            return port;
        }
    }
}

/// Builds tests/programs/go/threads.go with Debian's Go, offline, with its
/// caches in a temporary directory: a static binary (CGO_ENABLED=0).
pub fn build_go_program(dir: &Path) -> PathBuf {
    assert!(
        Path::new("/usr/bin/go").exists(),
        "/usr/bin/go is missing: .ci/setup installs it (Debian package golang-go)"
    );
    std::fs::copy(programs_dir().join("go/threads.go"), dir.join("threads.go")).unwrap();
    std::fs::write(dir.join("go.mod"), "module threads\n\ngo 1.19\n").unwrap();
    let out = dir.join("threads");
    let status = Command::new("/usr/bin/go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(dir)
        .env("CGO_ENABLED", "0")
        .env("GOCACHE", dir.join("cache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GOENV", "off")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .status()
        .unwrap();
    assert!(status.success(), "go build of tests/programs/go/threads.go failed");
    out
}

/// The musl CPython's prefix (`target/musl-python`, resolved), built by
/// tests/scripts/build-musl-python.sh; its interpreter is `bin/python3.11`.
#[allow(dead_code)]
pub fn musl_python() -> PathBuf {
    let prefix = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/musl-python");
    let python = prefix.join("bin/python3.11");
    assert!(
        python.is_file(),
        "{} is missing: run tests/scripts/build-musl-python.sh (.ci/setup does)",
        python.display()
    );
    prefix.canonicalize().unwrap()
}
