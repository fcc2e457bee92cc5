//! Shared by the threads and signals tests: a threaded program from
//! tests/programs, built for glibc and musl (static and dynamic), runs
//! natively and under hx-run on one and on two vCPUs, and on the fast libc;
//! its stdout and exit status must be the native ones.
#![allow(dead_code)]

use crate::common::{build, status_code, text, trap_path_rows, Flavor, HX_RUN};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Every libc flavour a threaded program is built in.
pub const FLAVORS: [Flavor; 4] = [Flavor::GlibcStatic, Flavor::GlibcDynamic, Flavor::MuslStatic, Flavor::MuslDynamic];

/// The vCPU counts each flavour runs with under hx.
pub const CPUS: [usize; 2] = [1, 2];

/// A run that takes longer has hung (a lost wake-up, a signal never
/// delivered); natively each program takes about a second.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// Where a program runs.
#[derive(Clone, Copy, Debug)]
pub enum Place {
    Native,
    Hx { cpus: usize, fast_libc: bool },
}

pub fn build_threaded(name: &str, flavor: Flavor) -> PathBuf {
    build(name, flavor, &["-pthread"])
}

/// The patched musl the fast libc runs on (built by .ci/setup).
pub fn patched_libc() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sysroot/lib/libc.so");
    assert!(p.is_file(), "{} is missing: run musl-patch/build.sh (.ci/setup does)", p.display());
    p
}

/// The CPUs the host has online, as the native program counts them.
fn native_cpus() -> usize {
    // SAFETY: sysconf only reads system information.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1)
}

/// Runs `program args` at `place` in a fresh working directory, with
/// HX_EXPECT_CPUS set to the CPU count the program should see; fails the
/// test if it runs longer than [`TIME_LIMIT`].
pub fn run_at(program: &Path, args: &[&str], place: Place) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (mut cmd, cpus) = match place {
        Place::Native => (Command::new(program), native_cpus()),
        Place::Hx { cpus, fast_libc } => {
            let mut cmd = Command::new(HX_RUN);
            if fast_libc {
                // --stats: the fast-libc run must show no trap-path syscall of the libc's own.
                cmd.args(["--fast-libc", "--stats"]);
            }
            cmd.args(["--cpus", &cpus.to_string()]).arg(program);
            (cmd, cpus)
        }
    };
    cmd.args(args)
        .env("HX_EXPECT_CPUS", cpus.to_string())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawning");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, false);
        }
        if start.elapsed() > TIME_LIMIT {
            child.kill().unwrap();
            break (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() };
    assert!(
        !timed_out,
        "{} {args:?} ({place:?}) still running after {TIME_LIMIT:?}: killed\n--- stdout\n{}--- stderr\n{}",
        program.display(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The native run's CPU lines as hx must print them: natively the online
/// count, the affinity mask and /sys may disagree (a restricted cpuset, a
/// taskset), and what is under test is that hx reports its vCPUs everywhere.
fn normalise_native(stdout: &str) -> String {
    stdout
        .lines()
        .map(|line| match line.split_once(": ") {
            Some(("cpus", count)) if count.parse::<usize>().is_ok() => "cpus: match".to_string(),
            Some((key @ ("affinity" | "online"), _)) => format!("{key}: match"),
            _ => line.to_string(),
        })
        .map(|line| line + "\n")
        .collect()
}

/// Runs `name args` natively (which must end with `native_status`, the
/// shell's number: 128 + n for death by signal n) and under hx in every
/// flavour on 1 and 2 vCPUs, and the musl build on the fast libc on 2 vCPUs:
/// each hx run's stdout and status must equal the native run's. hx-run ends
/// with 128 + n when its program dies of signal n.
pub fn matches_native(name: &str, args: &[&str], native_status: i32) {
    patched_libc();
    for flavor in FLAVORS {
        let prog = build_threaded(name, flavor);
        let n = run_at(&prog, args, Place::Native);
        assert_eq!(
            status_code(&n),
            native_status,
            "{name} {args:?} ({flavor:?}) natively: the program itself misbehaves on this host\n{}{}",
            text(&n.stdout),
            text(&n.stderr)
        );
        let native_stdout = normalise_native(&text(&n.stdout));
        let mut places: Vec<Place> = CPUS.iter().map(|&cpus| Place::Hx { cpus, fast_libc: false }).collect();
        if matches!(flavor, Flavor::MuslDynamic) {
            places.push(Place::Hx { cpus: 2, fast_libc: true });
        }
        for place in places {
            let h = run_at(&prog, args, place);
            let what = format!("{name} {args:?} ({flavor:?}, {place:?})");
            let err = text(&h.stderr);
            assert_eq!(text(&h.stdout), native_stdout, "{what}: stdout differs; hx stderr:\n{err}");
            assert_eq!(status_code(&h), status_code(&n), "{what}: exit status differs; hx stderr:\n{err}");
            if let Place::Hx { fast_libc: true, .. } = place {
                assert_only_own_traps(name, &what, &err);
            }
        }
    }
}

/// Syscalls a test program issues with the `syscall` instruction itself
/// (inline assembly), which no libc can route: on the fast libc, the only
/// trap-path rows `--stats` may show.
const OWN_SYSCALL_INSTRUCTIONS: &[(&str, &str)] = &[("signals", "tgkill")];

/// On the fast libc every syscall of the libc, its assembly entries included
/// (`clone`, a thread's `exit`, `__unmapself`'s `munmap`, `rt_sigreturn`,
/// `vfork`), goes through the kernel's vector: `--stats` (in `stderr`) shows
/// trap-path calls only for what the program issues itself.
fn assert_only_own_traps(name: &str, what: &str, stderr: &str) {
    let rows = trap_path_rows(stderr);
    assert!(rows.iter().any(|(row, _)| row == "total"), "{what}: no --stats table:\n{stderr}");
    for (row, traps) in rows.iter().filter(|(row, traps)| row != "total" && *traps > 0) {
        assert!(
            OWN_SYSCALL_INSTRUCTIONS.contains(&(name, row.as_str())),
            "{what}: {traps} {row} call(s) on the trap path under --fast-libc:\n{stderr}"
        );
    }
}

/// One sub-test, which must pass natively and under hx.
pub fn sub_test(name: &str, sub_test: &str) {
    matches_native(name, &[sub_test], 0);
}
