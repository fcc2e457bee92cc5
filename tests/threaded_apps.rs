//! Real multi-threaded applications under `hx-run --cpus N`, each compared
//! with a native run: an OpenMP program (libgomp), Python's threading with
//! signals, Ctrl-C reaching a Python program,
//! zstd's worker threads, and a Go program (goroutines, timers, the garbage
//! collector, panics from SIGSEGV and SIGFPE, preemption by SIGURG).
//! Every tool comes from .ci/setup: a missing one fails the test, saying so.
mod common;

use common::*;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts")
}

fn require(tool: &str, package: &str) {
    assert!(Path::new(tool).exists(), "{tool} is missing: .ci/setup installs it (Debian package {package})");
}

/// Collects a child's stdout and stderr while it runs, so a full pipe never
/// stalls it.
fn collect(child: &mut Child) -> (mpsc::Receiver<Vec<u8>>, mpsc::Receiver<Vec<u8>>) {
    fn drain(mut from: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = from.read_to_end(&mut all);
            let _ = tx.send(all);
        });
        rx
    }
    (drain(child.stdout.take().unwrap()), drain(child.stderr.take().unwrap()))
}

/// Runs `cmd` (stdin closed) for at most `limit`; a run that takes longer
/// is killed and fails the test with what it printed so far.
fn run_within(mut cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (out, err) = collect(&mut child);
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Output { status, stdout: out.recv().unwrap(), stderr: err.recv().unwrap() };
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "{what}: still running after {limit:?}, killed\n--- stdout:\n{}\n--- stderr:\n{}",
                text(&out.recv().unwrap()),
                text(&err.recv().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `argv` natively, in `dir`.
fn native_in(dir: &Path, argv: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).current_dir(dir).envs(env.iter().copied());
    cmd
}

/// `argv` under hx-run with `hx_flags`, in `dir` (which hx mounts read-write).
fn hx_in(dir: &Path, hx_flags: &[&str], argv: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(HX_RUN);
    cmd.args(hx_flags).args(argv).current_dir(dir).envs(env.iter().copied());
    cmd
}

/// Runs `argv` natively and under hx-run with each of `cpu_counts`, each in
/// a fresh working directory given copies of `files`; asserts the same
/// stdout, stderr and status. Returns the native run.
fn compare_threaded(cpu_counts: &[&str], argv: &[&str], files: &[&Path], env: &[(&str, &str)]) -> Output {
    let fresh = || {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::copy(f, dir.path().join(f.file_name().unwrap())).unwrap();
        }
        dir
    };
    let dir = fresh();
    let n = run_within(native_in(dir.path(), argv, env), Duration::from_secs(60));
    for cpus in cpu_counts {
        let dir = fresh();
        let h = run_within(hx_in(dir.path(), &["--cpus", cpus], argv, env), Duration::from_secs(180));
        assert_same(&format!("hx-run --cpus {cpus} {}", argv.join(" ")), &n, &h);
    }
    n
}

#[test]
fn openmp_reductions_on_two_threads_match_native() {
    let prog = build("openmp", Flavor::GlibcDynamic, &["-fopenmp", "-O2"]);
    let n = compare_threaded(&["2"], &[prog.to_str().unwrap()], &[], &[("OMP_NUM_THREADS", "2")]);
    let out = text(&n.stdout);
    assert!(out.starts_with("threads: 2\n") && out.contains("threads with work: 2"), "{out}");
}

#[test]
fn python_threading_queues_pools_timers_and_signals_match_native() {
    let script = scripts_dir().join("threads.py");
    let n =
        compare_threaded(&["1", "2"], &[PYTHON, "threads.py", "."], &[&script], &[("PYTHONDONTWRITEBYTECODE", "1")]);
    let out = text(&n.stdout);
    assert!(out.contains("alarm handler: True\n") && out.contains("faulthandler: ok\n"), "{out}");
}

/// Starts `argv` (natively, or under hx-run with `hx_flags`), waits for its
/// first line "ready", sends it SIGINT and returns its output, the first line
/// included, and how long it took to end after the signal.
fn interrupt_when_ready(hx_flags: Option<&[&str]>, argv: &[&str]) -> (Output, Duration) {
    let mut cmd = match hx_flags {
        Some(flags) => {
            let mut c = Command::new(HX_RUN);
            c.args(flags).args(argv);
            c
        }
        None => {
            let mut c = Command::new(argv[0]);
            c.args(&argv[1..]);
            c
        }
    };
    let dir = tempfile::tempdir().unwrap();
    cmd.current_dir(dir.path()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: signal() is async-signal-safe; it gives the child SIGINT's
    // default action whatever this process inherited (a shell's background
    // job starts with SIGINT ignored, and Python keeps an ignored SIGINT).
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let rest = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let _ = line_tx.send(first.clone());
        let mut all = first.into_bytes();
        let _ = reader.read_to_end(&mut all);
        all
    });
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = BufReader::new(stderr).read_to_end(&mut all);
        all
    });
    let first = line_rx.recv_timeout(Duration::from_secs(60));
    if first.as_deref() != Ok("ready\n") {
        let _ = child.kill();
        child.wait().unwrap();
        panic!("{argv:?}: no \"ready\" line: {first:?}\n{}", text(&err.join().unwrap()));
    }
    // CPython checks for signals between bytecodes, not just before it blocks:
    // a SIGINT that lands inside time.sleep's call before clock_nanosleep waits
    // out the sleep, natively too. hx widens that window (the first call into
    // time.sleep takes page faults), so give the program time to block first.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    let took = start.elapsed();
    (Output { status, stdout: rest.join().unwrap(), stderr: err.join().unwrap() }, took)
}

#[test]
fn ctrl_c_raises_keyboard_interrupt_in_a_sleeping_python_program() {
    let argv = [PYTHON, "-c", "import time; print('ready', flush=True); time.sleep(30)"];
    let (n, _) = interrupt_when_ready(None, &argv);
    assert!(text(&n.stderr).ends_with("KeyboardInterrupt\n"), "{}", text(&n.stderr));
    assert_eq!(status_code(&n), 130, "Python ends an uncaught KeyboardInterrupt by dying of SIGINT");
    let (h, took) = interrupt_when_ready(Some(&[]), &argv);
    assert_same("python3 interrupted while sleeping", &n, &h);
    assert!(took < Duration::from_secs(5), "hx-run took {took:?} to end after SIGINT");
}

#[test]
fn a_python_program_that_ignores_sigint_keeps_running() {
    let argv = [
        PYTHON,
        "-c",
        "import signal, time\n\
         signal.signal(signal.SIGINT, signal.SIG_IGN)\n\
         print('ready', flush=True)\n\
         time.sleep(1)\n\
         print('still running after SIGINT')",
    ];
    let (n, _) = interrupt_when_ready(None, &argv);
    assert_eq!(text(&n.stdout), "ready\nstill running after SIGINT\n");
    assert_eq!(status_code(&n), 0);
    let (h, took) = interrupt_when_ready(Some(&[]), &argv);
    assert_same("python3 ignoring SIGINT", &n, &h);
    assert!(took < Duration::from_secs(10), "hx-run took {took:?} to end");
}

/// About 20 MB of text that compresses about fivefold, the same every time.
fn compressible_data() -> Vec<u8> {
    const WORDS: [&str; 12] =
        ["alpha", "beta", "gamma", "delta", "hx", "kvm", "guest", "thread", "futex", "signal", "zstd", "page"];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(20_000_100);
    let mut line = 0u64;
    while data.len() < 20_000_000 {
        data.extend_from_slice(format!("{line:08}").as_bytes());
        for _ in 0..8 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            data.push(b' ');
            data.extend_from_slice(WORDS[(state >> 33) as usize % WORDS.len()].as_bytes());
        }
        data.push(b'\n');
        line += 1;
    }
    data
}

/// stdout and status as natively; stderr may only add hx-run's own warnings
/// (zstd copies the input's owner to the output with chown).
fn assert_same_but_warnings(what: &str, n: &Output, h: &Output) {
    assert_eq!(text(&h.stdout), text(&n.stdout), "{what}: stdout differs");
    assert_eq!(status_code(h), status_code(n), "{what}: status differs\n{}", text(&h.stderr));
    let stderr = text(&h.stderr);
    let own: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("hx-run: warning: unimplemented syscall")).collect();
    assert_eq!(own.join("\n"), text(&n.stderr).trim_end(), "{what}: stderr differs");
}

/// zstd -T2 compresses with two worker threads (and decompresses with an
/// I/O thread); its output does not depend on the thread count, so the
/// compressed file must be byte for byte the native one.
#[test]
fn zstd_with_two_threads_round_trips_and_compresses_like_native() {
    require("/usr/bin/zstd", "zstd");
    let data = compressible_data();
    let compress = ["/usr/bin/zstd", "-T2", "-q", "data", "-o", "data.zst"];
    let decompress = ["/usr/bin/zstd", "-T2", "-q", "-d", "data.zst", "-o", "data.out"];
    let (dn, dh) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [dn.path(), dh.path()] {
        std::fs::write(dir.join("data"), &data).unwrap();
    }
    let limit = Duration::from_secs(120);
    for argv in [&compress[..], &decompress[..]] {
        let n = run_within(native_in(dn.path(), argv, &[]), limit);
        assert!(n.status.success(), "native {argv:?}: {}", text(&n.stderr));
        let h = run_within(hx_in(dh.path(), &["--cpus", "2"], argv, &[]), limit);
        assert_same_but_warnings(&format!("hx-run --cpus 2 {}", argv.join(" ")), &n, &h);
    }
    let native_zst = std::fs::read(dn.path().join("data.zst")).unwrap();
    let hx_zst = std::fs::read(dh.path().join("data.zst")).unwrap();
    assert!(native_zst.len() < data.len() / 3, "compressed to {} bytes", native_zst.len());
    assert!(hx_zst == native_zst, "the compressed file differs from the native one");
    assert!(std::fs::read(dh.path().join("data.out")).unwrap() == data, "the round trip under hx changed the data");
}

#[test]
fn go_goroutines_timers_gc_and_recovered_panics_match_native() {
    let build_dir = tempfile::tempdir().unwrap();
    let prog = build_go_program(build_dir.path());
    let n = compare_threaded(&["2", "1"], &[prog.to_str().unwrap()], &[], &[]);
    let out = text(&n.stdout);
    for line in [
        "gc ran more than 10 times: true",
        "nil pointer: runtime error: invalid memory address or nil pointer dereference",
        "preempted a spinning goroutine: true",
    ] {
        assert!(out.contains(line), "native run lacks {line:?}:\n{out}");
    }
}
