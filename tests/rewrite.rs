//! `--rewrite-syscalls`: the kernel replaces the `syscall` instructions of
//! unmodified binaries with jumps to stubs that enter it without a trap.
//! Each program's output and status must equal its native run, and the
//! calls must really take the rewritten path (`--stats`).
mod common;
use common::*;

const REWRITE: &[&str] = &["--rewrite-syscalls"];

/// `--stats`' totals in hx-run's stderr: [trap path, vector, rewritten].
fn totals(stderr: &str) -> [u64; 3] {
    stats_rows(stderr).into_iter().find(|(name, _)| name == "total").unwrap_or_else(|| panic!("{stderr}")).1
}

/// Runs `prog` natively and in hx with `--rewrite-syscalls --stats`:
/// stdout and status must match; returns hx's totals.
fn matches_native_rewritten(prog: &std::path::Path, args: &[&str]) -> [u64; 3] {
    let native = native(prog, args, &[]);
    let flags = [REWRITE, &["--stats"]].concat();
    let out = hx(&flags, prog, args, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), text(&native.stdout), "{}: stdout differs; hx stderr:\n{stderr}", prog.display());
    assert_eq!(status_code(&out), status_code(&native), "{}: status differs; hx stderr:\n{stderr}", prog.display());
    totals(&stderr)
}

/// Registers, vector state, flags, the red zone, and `rcx`/`r11` as Linux
/// leaves them, through a site the first call rewrote.
#[test]
fn rewritten_syscalls_keep_registers_flags_and_the_red_zone() {
    for flavor in [
        Flavor::GlibcStatic,
        Flavor::GlibcStaticPie,
        Flavor::GlibcDynamic,
        Flavor::GlibcDynamicNoPie,
        Flavor::MuslStatic,
    ] {
        let prog = build("registers", flavor, &[]);
        let native = native(&prog, &[], &[]);
        assert_eq!(text(&native.stdout), "registers preserved\n", "{flavor:?} natively");
        let out = hx(&[REWRITE, &["--stats"]].concat(), &prog, &[], &[]);
        assert_eq!(text(&out.stdout), text(&native.stdout), "{flavor:?}: {}", text(&out.stderr));
        assert_eq!(status_code(&out), status_code(&native), "{flavor:?}");
        let stderr = text(&out.stderr);
        let rows = stats_rows(&stderr);
        let getrandom = rows.iter().find(|(n, _)| n == "getrandom").unwrap_or_else(|| panic!("{stderr}")).1;
        assert!(getrandom[2] >= 1, "{flavor:?}: the second getrandom did not go through its stub:\n{stderr}");
    }
}

/// Loops of common calls, two threads at once, a blocking read restarted
/// after a signal handler (SA_RESTART) through a rewritten site, and a
/// read through NULL that must still be SIGSEGV: as natively, with almost
/// every call through a stub for glibc programs, static or dynamic, and
/// static musl ones (whose wrappers only the symbol table delimits).
#[test]
fn programs_make_almost_every_syscall_through_a_stub() {
    for flavor in [Flavor::GlibcDynamic, Flavor::GlibcStatic, Flavor::GlibcStaticPie, Flavor::MuslStatic] {
        let prog = build("rewrite", flavor, &["-pthread"]);
        let [trap, vector, rewritten] = matches_native_rewritten(&prog, &["null"]);
        let share = (vector + rewritten) as f64 / (trap + vector + rewritten) as f64;
        assert!(share >= 0.95, "{flavor:?}: only {:.1} % of calls avoided the trap ({trap} trapped)", share * 100.0);
        // The program unmaps the stub areas: the sites get their bytes back.
        matches_native_rewritten(&prog, &["unmap"]);
    }
}

/// On by default; `--rewrite-syscalls=off` rewrites nothing.
#[test]
fn rewriting_is_on_by_default_and_can_be_turned_off() {
    let prog = build("rewrite", Flavor::GlibcDynamic, &["-pthread"]);
    let native = native(&prog, &[], &[]);
    for (flags, rewrites) in [(&["--stats", "--rewrite-syscalls=off"][..], false), (&["--stats"][..], true)] {
        let out = hx(flags, &prog, &[], &[]);
        assert_eq!(text(&out.stdout), text(&native.stdout), "{flags:?}");
        assert_eq!(totals(&text(&out.stderr))[2] > 0, rewrites, "{flags:?}: {}", text(&out.stderr));
    }
}

/// A short-lived program never pays for a rewrite: nothing is rewritten
/// before the process made 1000 trap-path calls.
#[test]
fn a_short_program_is_left_as_it_is() {
    let prog = build("hello", Flavor::GlibcStatic, &[]);
    let native = native(&prog, &[], &[]);
    let out = hx(&["--stats"], &prog, &[], &[]);
    assert_eq!(text(&out.stdout), text(&native.stdout));
    assert_eq!(totals(&text(&out.stderr))[2], 0);
}

/// Programs that fork, exec, wait, take signals and use threads, with
/// every site they reach rewritten along the way.
#[test]
fn processes_signals_and_threads_behave_as_natively() {
    let events = build("events", Flavor::GlibcDynamic, &["-pthread"]);
    for sub in ["eventfd-block", "signalfd", "timerfd"] {
        matches_native_rewritten(&events, &[sub]);
    }
    let processes = build("processes", Flavor::GlibcDynamic, &[]);
    for sub in ["wait_any_killed", "sigchld"] {
        matches_native_rewritten(&processes, &[sub]);
    }
}

/// Debian's python3: its exercise script identical (it makes fewer than
/// 1000 calls: nothing is rewritten), and a loop of os calls identical and
/// mostly through stubs.
#[test]
fn python_runs_identically_and_its_loops_are_rewritten() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts/exercise.py");
    let env = [("PYTHONDONTWRITEBYTECODE", "1")];
    compare_with_files_flags(&[], &["/usr/bin/python3", "exercise.py", "."], &[&script], &env);
    let looping = "import os\n\
        total = 0\n\
        for i in range(3000):\n\
        \x20   total += os.getppid() >= 0\n\
        \x20   fd = os.open('.', os.O_RDONLY)\n\
        \x20   total += os.fstat(fd).st_size >= 0\n\
        \x20   os.close(fd)\n\
        \x20   total += len(os.listdir('.'))\n\
        print(total)\n";
    let native = native(std::path::Path::new("/usr/bin/python3"), &["-c", looping], &env);
    let out = hx(&["--stats"], std::path::Path::new("/usr/bin/python3"), &["-c", looping], &env);
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), text(&native.stdout), "{stderr}");
    let [trap, _, rewritten] = totals(&stderr);
    assert!(rewritten > 2 * trap, "{trap} trapped, {rewritten} rewritten");
}

/// A Go program (static, CGO_ENABLED=0, no unwind tables: its functions
/// come from `.gopclntab`): goroutines on two vCPUs, timers, a collector
/// that runs many times, panics from SIGSEGV and SIGFPE, asynchronous
/// preemption by signal. Identical to native, and its runtime's syscalls
/// (`Syscall6`, futex, write...) mostly through stubs.
#[test]
fn go_programs_are_rewritten_and_behave_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let prog = build_go_program(dir.path());
    let native = native(&prog, &[], &[]);
    let out = hx(&[REWRITE, &["--stats", "--cpus", "2"]].concat(), &prog, &[], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), text(&native.stdout), "hx stderr:\n{stderr}");
    assert_eq!(status_code(&out), status_code(&native), "hx stderr:\n{stderr}");
    let [trap, vector, rewritten] = totals(&stderr);
    assert!(rewritten > trap, "{trap} trapped, {vector} through the vDSO, {rewritten} rewritten");
}
