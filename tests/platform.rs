//! Platform bring-up: hx-run boots its kernel at CPL3 and runs static
//! binaries exactly as Linux does; the trap path keeps every register; bad
//! input gets one clear line and a non-zero exit.
mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn static_hello_worlds_match_native_runs() {
    for flavor in Flavor::ALL {
        let prog = build("hello", flavor, &[]);
        compare(&prog, &[], &[]);
        compare(&prog, &["one", "two words", "--three"], &[("HX_TEST_VAR", "from the host")]);
    }
}

#[test]
fn syscall_preserves_registers_vector_state_and_red_zone() {
    for flavor in Flavor::ALL {
        let prog = build("registers", flavor, &[]);
        let out = compare(&prog, &[], &[]);
        assert_eq!(text(&out.stdout), "registers preserved\n");
    }
}

/// A program's alignment-check flag does not reach the kernel's code (which
/// runs at CPL3 beside it): Linux clears it on entry, and so does `syscall`
/// here (SFMASK). Before, the kernel died of its first misaligned access.
#[test]
fn the_alignment_check_flag_stays_the_programs() {
    for flavor in [Flavor::GlibcStatic, Flavor::MuslStatic] {
        let prog = build("alignment_check", flavor, &[]);
        let out = compare(&prog, &[], &[]);
        assert_eq!(text(&out.stdout), "getpid right, getuid right\n");
    }
}

#[test]
fn exit_status_of_the_program_is_hx_runs() {
    let prog = build("hello", Flavor::MuslStatic, &[]);
    let out = hx(&[], &prog, &["a", "b", "c", "d"], &[]);
    assert_eq!(status_code(&out), 5);
}

#[test]
fn environment_can_be_set_and_cleared() {
    let prog = build("hello", Flavor::GlibcStatic, &[]);
    let out = hx(&["--env-clear", "-e", "HX_TEST_VAR=set by -e"], &prog, &[], &[("HX_TEST_VAR", "host")]);
    assert!(text(&out.stdout).contains("HX_TEST_VAR = set by -e\n"), "{}", text(&out.stdout));
}

#[test]
fn guest_faults_end_like_a_crashed_process_and_are_named() {
    let cases = [
        ("null", 139, "page fault"),
        ("ud2", 132, "invalid opcode"),
        ("div0", 136, "divide error"),
        ("stack", 139, "page fault"),
    ];
    for flavor in [Flavor::GlibcStatic, Flavor::MuslStatic] {
        let prog = build("fault", flavor, &[]);
        for (arg, status, what) in cases {
            let n = native(&prog, &[arg], &[]);
            let h = hx(&[], &prog, &[arg], &[]);
            assert_eq!(status_code(&n), status, "native {arg}");
            assert_eq!(status_code(&h), status, "hx {arg}: {}", text(&h.stderr));
            let err = text(&h.stderr);
            assert_eq!(err.lines().count(), 1, "one line: {err}");
            assert!(err.contains(what) && err.contains("rip 0x"), "{arg}: {err}");
            assert!(err.contains(prog.to_str().unwrap()), "names the binary: {err}");
        }
        // The faulting function is named.
        let err = text(&hx(&[], &prog, &["null"], &[]).stderr);
        assert!(err.contains("read_null+0x"), "{err}");
        assert!(err.contains("at address 0x0"), "{err}");
    }
}

/// One line on stderr, no panic, the given status.
fn assert_rejected(out: &std::process::Output, status: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(status_code(out), status, "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("hx-run: ") && err.contains(needle), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    assert_rejected(&hx(&[], &missing, &[], &[]), 127, "No such file or directory");

    let text_file = dir.path().join("script.txt");
    std::fs::write(&text_file, "echo hi\n").unwrap();
    assert_rejected(&hx(&[], &text_file, &[], &[]), 126, "not an ELF file");

    let hello = std::fs::read(build("hello", Flavor::GlibcStatic, &[])).unwrap();
    let mut elf32 = hello.clone();
    elf32[4] = 1; // ELFCLASS32
    let p = dir.path().join("elf32");
    std::fs::write(&p, &elf32).unwrap();
    assert_rejected(&hx(&[], &p, &[], &[]), 126, "32-bit");

    let mut arm = hello.clone();
    arm[18..20].copy_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    let p = dir.path().join("arm");
    std::fs::write(&p, &arm).unwrap();
    assert_rejected(&hx(&[], &p, &[], &[]), 126, "x86-64 binaries only");

    let p = dir.path().join("truncated");
    std::fs::write(&p, &hello[..hello.len() / 3]).unwrap();
    assert_rejected(&hx(&[], &p, &[], &[]), 126, "truncated");

    let p = dir.path().join("header-only");
    std::fs::write(&p, &hello[..40]).unwrap();
    assert_rejected(&hx(&[], &p, &[], &[]), 126, "corrupt ELF");

    let prog = build("hello", Flavor::MuslStatic, &[]);
    assert_rejected(&hx(&["--kvm-device", "/nonexistent/kvm"], &prog, &[], &[]), 125, "does not exist");
    assert_rejected(&hx(&["--platform", "kvm"], &prog, &[], &[]), 125, "no hardware-assisted KVM");
    assert_rejected(&hx(&["--memory", "1M"], &prog, &[], &[]), 2, "--memory");
}

#[test]
fn no_permission_on_dev_kvm_says_how_to_fix_it() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        let prog = build("hello", Flavor::MuslStatic, &[]);
        let out = hx(&[], &prog, &[], &[]);
        if status_code(&out) == 125 {
            assert_rejected(&out, 125, "permission");
        }
        return;
    }
    // As root: drop to an unprivileged user, who cannot open the root-only /dev/kvm.
    let prog = build("hello", Flavor::MuslStatic, &[]);
    let dir = tempfile::tempdir().unwrap();
    let copy_hx = dir.path().join("hx-run");
    std::fs::copy(HX_RUN, &copy_hx).unwrap();
    let copy_prog = dir.path().join("hello");
    std::fs::copy(&prog, &copy_prog).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let kvm_mode = std::fs::metadata("/dev/kvm").unwrap().permissions().mode();
    if kvm_mode & 0o006 != 0 {
        return; // world-accessible /dev/kvm: nothing to refuse
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&copy_hx)
        .arg(&copy_prog)
        .output()
        .expect("setpriv (util-linux)");
    assert_rejected(&out, 125, "no permission to open /dev/kvm");
}

#[test]
fn unimplemented_syscall_fails_with_enosys_and_is_named_once() {
    let prog = build("nosys", Flavor::GlibcStatic, &[]);
    let out = hx(&[], &prog, &[], &[]);
    assert_eq!(text(&out.stdout), "get_thread_area = -1, errno = ENOSYS\n".repeat(2));
    let err = text(&out.stderr);
    assert_eq!(err.matches("unimplemented syscall get_thread_area (211)").count(), 1, "{err}");
    assert_eq!(status_code(&out), 0);
}

#[test]
fn strace_shows_each_syscall_with_arguments_and_result() {
    let prog = build("hello", Flavor::MuslStatic, &[]);
    let out = hx(&["--strace"], &prog, &["x"], &[]);
    let err = text(&out.stderr);
    assert!(err.contains("[trap] arch_prctl(0x1002, 0x"), "{err}");
    assert!(err.contains("[trap] writev(1, 0x"), "{err}");
    assert!(err.contains("[trap] exit_group(2) = ?"), "{err}");
    assert_eq!(text(&out.stdout), text(&native(&prog, &["x"], &[]).stdout));
}

#[test]
fn stats_count_syscalls_and_exits() {
    let prog = build("hello", Flavor::GlibcStatic, &[]);
    let out = hx(&["--stats"], &prog, &[], &[]);
    let err = text(&out.stderr);
    assert!(err.contains("exit_group") && err.contains("exits to the host:"), "{err}");
    assert!(err.contains("CPL0 stub entries:"), "{err}");
}

#[test]
fn ctrl_c_reaches_a_runaway_program() {
    let prog = build("spin", Flavor::MuslStatic, &[]);
    let mut cmd = Command::new(HX_RUN);
    cmd.arg(&prog).stderr(std::process::Stdio::piped());
    // As from an interactive shell: SIGINT at its default even when the tests
    // run where it is ignored (a background job), which the program inherits.
    // SAFETY: signal() is async-signal-safe, called in the child before exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: sends SIGINT to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    // The program takes SIGINT's default action, as natively: it dies of it.
    assert_eq!(status_code(&out), 130, "{}", text(&out.stderr));
}

#[test]
fn ignored_signals_and_the_signal_mask_are_inherited_as_across_exec() {
    // `nohup` and shells' background jobs start programs with signals
    // ignored; a blocked mask is inherited too. hx-run passes both on.
    let prog = build("signal_state", Flavor::GlibcStatic, &[]);
    let start = |cmd: &mut Command| {
        // SAFETY: async-signal-safe calls in the child before exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                // Whatever the tests inherited (a background job has SIGINT
                // and SIGQUIT ignored), then exactly these.
                for sig in 1..32 {
                    if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                        libc::signal(sig, libc::SIG_DFL);
                    }
                }
                libc::signal(libc::SIGHUP, libc::SIG_IGN);
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGUSR1);
                libc::sigaddset(&mut set, libc::SIGTERM);
                libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        cmd.output().unwrap()
    };
    let native = start(&mut Command::new(&prog));
    let hx = start(Command::new(HX_RUN).arg(&prog));
    assert_same("inherited signal state", &native, &hx);
    assert_eq!(text(&hx.stdout), "ignored 1\nignored 2\nblocked 10\nblocked 15\n");
}

#[test]
fn timeout_stops_the_whole_tree_and_names_what_still_ran() {
    // A shell whose child never ends: both are stopped, listed, and nothing
    // is left on the host; the status is timeout(1)'s.
    let start = Instant::now();
    let out =
        Command::new(HX_RUN).args(["--timeout", "1s", "/bin/sh", "-c", "/bin/sleep 3600 & wait"]).output().unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(status_code(&out), 124, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("did not end within --timeout 1s"), "{err}");
    assert!(err.contains("pid 1 (parent 0): sh") && err.contains("pid 2 (parent 1): sleep"), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    let left = Command::new("pgrep").args(["-f", "hx-run --timeout 1s"]).output().unwrap();
    assert!(left.stdout.is_empty(), "monitors left behind: {}", text(&left.stdout));
    // A program that ends in time is not affected.
    let prog = build("hello", Flavor::MuslStatic, &[]);
    let out = Command::new(HX_RUN).args(["--timeout", "60"]).arg(&prog).output().unwrap();
    assert_same("hello within its timeout", &native(&prog, &[], &[]), &out);
}

#[test]
fn cpl0_stubs_contain_no_sse_or_avx_instructions() {
    use goblin::elf::Elf;
    use iced_x86::{Decoder, DecoderOptions, Instruction, OpKind};
    let bytes = std::fs::read(env!("HX_KERNEL_ELF")).unwrap();
    let elf = Elf::parse(&bytes).unwrap();
    let sym =
        |name: &str| elf.syms.iter().find(|s| elf.strtab.get_at(s.st_name) == Some(name)).map(|s| s.st_value).unwrap();
    let (start, end) = (sym("__cpl0_start"), sym("__cpl0_end"));
    let text = elf.section_headers.iter().find(|s| (s.sh_addr..s.sh_addr + s.sh_size).contains(&start)).unwrap();
    let off = (text.sh_offset + (start - text.sh_addr)) as usize;
    let code = &bytes[off..off + (end - start) as usize];
    let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
    let mut count = 0;
    let mut insn = Instruction::default();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        count += 1;
        let features = insn.cpuid_features();
        assert!(
            !features.iter().any(|f| {
                let n = format!("{f:?}");
                n.starts_with("SSE") || n.starts_with("AVX") || n.starts_with("MMX") || n == "FPU"
            }),
            "{:?} at {:#x} uses {features:?}",
            insn.mnemonic(),
            insn.ip()
        );
        for i in 0..insn.op_count() {
            if insn.op_kind(i) == OpKind::Register {
                let r = insn.op_register(i);
                assert!(
                    !(r.is_xmm() || r.is_ymm() || r.is_zmm()),
                    "{:?} at {:#x} uses {r:?}",
                    insn.mnemonic(),
                    insn.ip()
                );
            }
        }
    }
    assert!(count > 40, "decoded only {count} instructions: are the stubs where the symbols say?");
}

#[test]
fn syscall_coverage_page_is_generated_from_the_table() {
    let out = Command::new(HX_RUN).arg("--syscalls").output().unwrap();
    assert!(out.status.success());
    let generated = text(&out.stdout);
    assert!(generated.contains("| 1 | `write` | implemented |"), "{generated}");
    assert!(generated.contains("| 179 | `quotactl` | refused: ENOSYS"), "{generated}");
    assert!(generated.contains("| 165 | `mount` | refused: EPERM"), "{generated}");
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/syscalls.md")).unwrap();
    assert!(
        committed == generated,
        "docs/syscalls.md is stale: regenerate it with `hx-run --syscalls > docs/syscalls.md`"
    );
}

#[test]
fn the_syscall_vector_serves_calls_from_the_auxv_and_is_counted_apart() {
    for flavor in [Flavor::GlibcStatic, Flavor::MuslStatic, Flavor::GlibcDynamic] {
        let prog = build("vector", flavor, &[]);
        // Natively the auxv has no vector: the same program uses `syscall`.
        let out = compare(&prog, &[], &[]);
        assert!(text(&out.stdout).contains("bad fd: -9"), "{}", text(&out.stdout));
        let stats = text(&hx(&["--stats"], &prog, &[], &[]).stderr);
        let rows = stats_rows(&stats);
        let vector_count = |name: &str| -> u64 {
            rows.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name}: {stats}")).1[1]
        };
        assert_eq!(vector_count("getppid"), 1, "{stats}");
        assert_eq!(vector_count("close"), 1, "{stats}");
        assert!(vector_count("write") >= 1, "{stats}");
    }
}

#[test]
fn libc_time_calls_go_through_hxs_vdso_not_the_trap_path() {
    for flavor in [Flavor::GlibcStatic, Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let prog = build("clock", flavor, &[]);
        let out = compare(&prog, &[], &[]);
        assert!(text(&out.stdout).contains("monotonic: 1"));
        let stats = text(&hx(&["--stats"], &prog, &[], &[]).stderr);
        let rows = stats_rows(&stats);
        let [trap, vector, _] = rows.iter().find(|(n, _)| n == "clock_gettime").unwrap_or_else(|| panic!("{stats}")).1;
        assert_eq!(trap, 0, "{flavor:?}: {stats}");
        assert!(vector >= 1000, "{flavor:?}: {stats}");
    }
}

/// `--hostname` names the guest for every process of it (`uname`, /proc,
/// a child after `fork`, `exec` and a spawn); a name Linux would not take
/// is refused before anything runs.
#[test]
fn hostname_option_names_the_guest_in_every_process() {
    let out = Command::new(HX_RUN)
        .args(["--hostname", "box.example", "/bin/sh", "-c"])
        .arg("uname -n; cat /proc/sys/kernel/hostname; (uname -n); /usr/bin/python3 -c 'import socket; print(socket.gethostname())'")
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "box.example\n".repeat(4), "{}", text(&out.stderr));
    let default = Command::new(HX_RUN).args(["/bin/uname", "-n"]).output().unwrap();
    assert_eq!(text(&default.stdout), "hx\n");
    for bad in [String::new(), "a".repeat(65)] {
        let out = Command::new(HX_RUN).args(["--hostname", &bad, "/bin/true"]).output().unwrap();
        assert_eq!(status_code(&out), 2, "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("a host name has 1 to 64 bytes"), "{}", text(&out.stderr));
    }
}

/// The monitor `hx-run` forks (its front process only passes signals on and
/// reports the status): its only child once the program runs.
fn monitor_of(front: u32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children = std::fs::read_to_string(format!("/proc/{front}/task/{front}/children")).unwrap_or_default();
        if let Some(pid) = children.split_whitespace().next().and_then(|p| p.parse().ok()) {
            return pid;
        }
        assert!(Instant::now() < deadline, "hx-run {front} started no monitor");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn gone_within(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        // A zombie no longer runs; its reaper (init here) takes it soon.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty() || state.rsplit(')').next().is_some_and(|s| s.trim_start().starts_with('Z')) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn the_monitor_dies_with_hx_run_and_hx_run_with_the_monitor() {
    use std::os::unix::process::ExitStatusExt;
    // SIGKILL to hx-run (nothing can pass it on): its monitor goes too.
    let mut front = Command::new(HX_RUN).args(["/bin/sleep", "30"]).spawn().unwrap();
    let monitor = monitor_of(front.id());
    front.kill().unwrap();
    assert_eq!(front.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(gone_within(monitor, Duration::from_secs(5)), "monitor {monitor} outlived hx-run");
    // A monitor that dies without a status: hx-run dies the same way, also
    // when its caller had SIGCHLD ignored (which reaps children unseen).
    for ignore_sigchld in [false, true] {
        let mut cmd = Command::new(HX_RUN);
        cmd.args(["/bin/sleep", "30"]);
        if ignore_sigchld {
            // SAFETY: signal() is async-signal-safe, called in the child before exec.
            unsafe {
                use std::os::unix::process::CommandExt;
                cmd.pre_exec(|| {
                    libc::signal(libc::SIGCHLD, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        let mut front = cmd.spawn().unwrap();
        let monitor = monitor_of(front.id());
        // SAFETY: kills the monitor hx-run started for this test.
        unsafe { libc::kill(monitor, libc::SIGKILL) };
        let start = Instant::now();
        assert_eq!(front.wait().unwrap().signal(), Some(libc::SIGKILL), "SIGCHLD ignored: {ignore_sigchld}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}

#[test]
fn signals_sent_to_hx_run_reach_the_program() {
    // Through the front process: SIGTERM and SIGHUP at their default
    // actions end the program by them; hx-run's status says which, as the
    // shell's status of the native program does.
    let prog = build("spin", Flavor::MuslStatic, &[]);
    let signalled = |mut cmd: Command, sig: i32, under_hx: bool| {
        // SAFETY: async-signal-safe calls in the child before exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                libc::signal(sig, libc::SIG_DFL);
                Ok(())
            });
        }
        let child = cmd.stderr(std::process::Stdio::piped()).spawn().unwrap();
        if under_hx {
            monitor_of(child.id());
        }
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        (status_code(&out), text(&out.stderr))
    };
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let (native, _) = signalled(Command::new(&prog), sig, false);
        let mut hx = Command::new(HX_RUN);
        hx.arg(&prog);
        let (status, stderr) = signalled(hx, sig, true);
        assert_eq!(status, native, "{stderr}");
        assert_eq!(status, code, "{stderr}");
    }
}

/// KVM's supported CPUID is kept per boot in the user's cache directory; a
/// kept file is used only whole and private, else asked for and kept anew.
#[test]
fn the_kept_kvm_cpuid_is_used_only_when_whole_and_private() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let prog = build("hello", Flavor::GlibcStatic, &[]);
    let cache = tempfile::tempdir().unwrap();
    let native = Command::new(&prog).output().unwrap();
    let run = || {
        let out = Command::new(HX_RUN).arg(&prog).env("XDG_CACHE_HOME", cache.path()).output().unwrap();
        assert_same("hello with a kept CPUID", &native, &out);
    };
    let kept = || {
        let dir = cache.path().join("hx");
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    };
    run();
    let file = kept();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert!(meta.len() > 0 && meta.len().is_multiple_of(40), "{} bytes", meta.len());
    let good = std::fs::read(&file).unwrap();
    // Used as it is: not written again.
    let inode = meta.ino();
    run();
    assert_eq!(std::fs::metadata(kept()).unwrap().ino(), inode);
    // Part of a record, or open to others: asked for again and replaced (as
    // many records; KVM's answer names the host CPU that asked, so the bytes
    // may differ).
    std::fs::write(&file, &good[..good.len() - 3]).unwrap();
    run();
    assert_eq!(std::fs::read(kept()).unwrap().len(), good.len());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let inode = std::fs::metadata(&file).unwrap().ino();
    run();
    let meta = std::fs::metadata(kept()).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.len()), (0o600, good.len() as u64));
    assert_ne!(meta.ino(), inode, "the file open to others was used");
}

/// A signal the caller ignored still reaches a program that handles it
/// (hx-run's front process passes it on), as natively.
#[test]
fn a_signal_the_caller_ignored_reaches_a_program_that_handles_it() {
    use std::io::BufRead;
    let script = "import signal, sys, time\n\
                  signal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(3)))\n\
                  print('ready', flush=True)\n\
                  time.sleep(30)";
    let run = |mut cmd: Command| {
        // SAFETY: signal() is async-signal-safe, called in the child before exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                Ok(())
            });
        }
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
        // SAFETY: signals our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        (child.wait().unwrap().code(), line + &rest)
    };
    let mut native = Command::new("/usr/bin/python3");
    native.args(["-c", script]);
    let mut hx = Command::new(HX_RUN);
    hx.args(["/usr/bin/python3", "-c", script]);
    let expected = run(native);
    assert_eq!(expected, (Some(3), "ready\ngot TERM\n".to_string()));
    assert_eq!(run(hx), expected);
}
