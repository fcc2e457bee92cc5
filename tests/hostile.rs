//! A hostile guest against the monitor: the holes a review found (writes into
//! read-only mounts, nested mounts, set-id bits, flags passed through, hangs),
//! the guest-side request forger, the resource limits, and the lockdown layers
//! (seccomp, Landlock, --user). Every assertion is about hx's own boundary:
//! what a native run would allow is not the question here.
mod common;

use common::*;
use std::io::BufRead;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

fn hx_in(dir: &Path, flags: &[&str], prog: &Path, args: &[&str]) -> std::process::Output {
    Command::new(HX_RUN)
        .arg("--no-default-mounts")
        .args(flags)
        .arg(prog)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn descriptors_cannot_change_files_of_read_only_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, "read-only").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mtime = std::fs::metadata(&file).unwrap().mtime();
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let mount = format!("{}:/ro:ro", dir.path().display());
    let out = hx_in(dir.path(), &["--mount", &mount], &prog, &["metadata", "/ro/f.txt"]);
    let stdout = text(&out.stdout);
    assert_eq!(status_code(&out), 0, "{stdout}{}", text(&out.stderr));
    for call in ["fchmod", "futimens", "chmod", "utimensat", "truncate"] {
        assert!(stdout.contains(&format!("{call}: Read-only file system")), "{call}:\n{stdout}");
    }
    assert_eq!(mode(&file), 0o644, "the host file's mode changed");
    assert_eq!(std::fs::metadata(&file).unwrap().mtime(), mtime, "the host file's times changed");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "read-only");
}

#[test]
fn a_nested_read_only_mount_stays_read_only_when_its_ancestor_is_renamed() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    let ro = work.join("sub/ro");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::write(ro.join("file.txt"), "protected").unwrap();
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let rw = format!("{}:/work:rw", work.display());
    let nested = format!("{}:/work/sub/ro:ro", ro.display());
    let out = hx_in(&work, &["--mount", &rw, "--mount", &nested], &prog, &["nested", "/work/sub"]);
    let stdout = text(&out.stdout);
    assert_eq!(status_code(&out), 0, "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("rename ancestor: ok"), "{stdout}");
    for what in ["open for writing", "chmod", "unlink", "create"] {
        assert!(stdout.contains(&format!("{what}: Read-only file system")), "{what}:\n{stdout}");
    }
    assert!(stdout.contains("rename the mount: Device or resource busy"), "{stdout}");
    assert!(stdout.contains("rmdir the mount: Device or resource busy"), "{stdout}");
    let moved = work.join("sub.moved/ro");
    assert_eq!(std::fs::read_to_string(moved.join("file.txt")).unwrap(), "protected");
    assert_eq!(std::fs::read_dir(&moved).unwrap().count(), 1, "nothing created in the read-only mount");
}

#[test]
fn set_id_bits_never_reach_host_files() {
    let dir = tempfile::tempdir().unwrap();
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let rw = format!("{}:/w:rw", dir.path().display());
    let out = hx_in(dir.path(), &["--mount", &rw], &prog, &["setid", "/w"]);
    let stdout = text(&out.stdout);
    assert_eq!(status_code(&out), 0, "{stdout}{}", text(&out.stderr));
    for name in ["suid", "sgid-dir"] {
        let m = mode(&dir.path().join(name));
        assert_eq!(m & 0o6000, 0, "{name} has mode {m:o}:\n{stdout}");
    }
    assert!(stdout.contains("mode /w/suid: 711"), "the permission bits still apply:\n{stdout}");
}

#[test]
fn rename_flags_are_allow_listed() {
    let dir = tempfile::tempdir().unwrap();
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let rw = format!("{}:/w:rw", dir.path().display());
    let out = hx_in(dir.path(), &["--mount", &rw], &prog, &["whiteout", "/w"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("renameat2 whiteout: Operation not permitted"), "{stdout}");
    assert!(stdout.contains("renameat2 unknown flag: Invalid argument"), "{stdout}");
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let ft = e.unwrap().file_type().unwrap();
        assert!(ft.is_file() || ft.is_dir(), "a device node or other special file was created");
    }
}

/// Memory files are host memory: together they may hold as much as the
/// guest's RAM and no more (a guest could otherwise exhaust the host's).
#[test]
fn memory_files_cannot_grow_past_the_guests_ram() {
    let dir = tempfile::tempdir().unwrap();
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let out = hx_in(dir.path(), &["--memory", "256M"], &prog, &["memfd"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("fallocate past RAM: No space left on device"), "{stdout}");
    assert!(stdout.contains("ftruncate (sparse): ok"), "{stdout}");
    let mib: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("writes stopped at "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!((200..=256).contains(&mib), "memory files held {mib} MiB with 256 MiB of guest RAM:\n{stdout}");
    assert!(stdout.contains("writes stopped at") && stdout.contains("No space left on device"), "{stdout}");
    assert!(stdout.contains("a small write still works: ok"), "{stdout}");
    assert_eq!(status_code(&out), 0);
}

#[test]
fn a_guest_opening_files_forever_gets_emfile_and_the_host_survives() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "x").unwrap();
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let rw = format!("{}:/w:rw", dir.path().display());
    // The guest kernel's own limit is Linux's default soft RLIMIT_NOFILE: the
    // same program natively under that limit gives the same answer.
    let mut native = Command::new(&prog);
    native.args(["emfile", "f"]).current_dir(dir.path()).stdin(Stdio::null());
    // SAFETY: setrlimit in the child before exec touches only the child.
    unsafe {
        use std::os::unix::process::CommandExt;
        native.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 1024, rlim_max: 1024 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let native = native.output().unwrap();
    let out = hx_in(dir.path(), &["--mount", &rw], &prog, &["emfile", "f"]);
    assert_same("emfile", &native, &out);
    assert!(text(&out.stdout).contains("1000 times, then: Too many open files"), "{}", text(&out.stdout));
    // The monitor's limit on host files, enforced on its side of the boundary
    // whatever the guest kernel does (hx's own: no native counterpart).
    let out = hx_in(dir.path(), &["--mount", &rw, "--max-open-files", "64"], &prog, &["emfile", "f"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("opened f 61 times, then: Too many open files"), "{stdout}");
    assert_eq!(status_code(&out), 0);
}

/// Starts `hostile WHAT` (under hx-run, or natively) with a stdin that stays
/// open, waits until it blocks, sends `signal` and returns its status, the
/// seccomp modes of its threads and how long it took to stop.
fn block_then_signal(under_hx: bool, what: &str, signal: i32) -> (i32, Vec<String>, std::time::Duration) {
    let prog = build("hostile", Flavor::GlibcStatic, &[]);
    let mut cmd = if under_hx {
        let mut c = Command::new(HX_RUN);
        c.arg(&prog);
        c
    } else {
        Command::new(&prog)
    };
    // The signal at its default action, as from an interactive shell, even
    // where the tests run with it ignored (a background job has SIGINT and
    // SIGQUIT ignored, which the program would inherit and never end).
    // SAFETY: signal() is async-signal-safe, called in the child before exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            libc::signal(signal, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = cmd.arg(what).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line, "blocking\n");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut modes = Vec::new();
    // hx-run's threads and, under hx, those of the monitor it forked (its front process's child).
    let mut pids = vec![child.id().to_string()];
    if under_hx {
        let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap();
        pids.extend(children.split_whitespace().map(str::to_string));
        assert_eq!(pids.len(), 2, "hx-run and its monitor: {pids:?}");
    }
    for pid in pids {
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
            modes.extend(status.lines().filter(|l| l.starts_with("Seccomp:")).map(|l| l.to_string()));
        }
    }
    let start = std::time::Instant::now();
    // Held open until the end (`wait` would close it first): the program
    // must end by the signal, not by EOF on stdin.
    let stdin = child.stdin.take();
    // SAFETY: sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let status = child.wait().unwrap();
    drop(stdin);
    let code = {
        use std::os::unix::process::ExitStatusExt;
        status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
    };
    (code, modes, start.elapsed())
}

#[test]
fn sigterm_stops_a_guest_blocked_reading_stdin() {
    let (native, _, _) = block_then_signal(false, "stdin", libc::SIGTERM);
    let (code, modes, took) = block_then_signal(true, "stdin", libc::SIGTERM);
    assert_eq!(code, native, "the status a shell sees, as for the native program");
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    // While it ran, every thread of hx-run and its monitor was under a seccomp filter.
    assert!(modes.len() > 2, "{modes:?}");
    assert!(modes.iter().all(|m| m == "Seccomp:\t2"), "{modes:?}");
}

#[test]
fn sigint_stops_a_guest_blocked_in_poll() {
    let (native, _, _) = block_then_signal(false, "poll", libc::SIGINT);
    let (code, _, took) = block_then_signal(true, "poll", libc::SIGINT);
    assert_eq!(code, native, "the status a shell sees, as for the native program");
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_forbidden_host_call_stops_only_the_monitor_with_a_clear_message() {
    let prog = build("hello", Flavor::GlibcStatic, &[]);
    let out = hx(&["--self-test", "seccomp"], &prog, &[], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(status_code(&out), 125, "{stderr}");
    assert!(stderr.contains("hx-run: seccomp: the monitor made host syscall 41, which its filter forbids"), "{stderr}");
}

#[test]
fn landlock_confines_the_monitor_to_the_mounts() {
    let dir = tempfile::tempdir().unwrap();
    let (inside, outside) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir(&inside).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(inside.join("ok"), "x").unwrap();
    std::fs::write(outside.join("secret"), "x").unwrap();
    let prog = build("hello", Flavor::GlibcStatic, &[]);
    let mount = format!("{}:/in:ro", inside.display());
    let probe = |file: &Path| {
        let test = format!("open:{}", file.display());
        let out = hx_in(dir.path(), &["--mount", &mount, "--self-test", &test], &prog, &[]);
        assert_eq!(status_code(&out), 1, "hello exits with argc: {}", text(&out.stderr));
        text(&out.stderr)
    };
    let denied = probe(&outside.join("secret"));
    if denied.contains("Landlock Unavailable") {
        println!("skipped: this host kernel has no Landlock ({denied})");
        return;
    }
    assert!(denied.contains("Permission denied"), "the monitor opened a host file outside the mounts: {denied}");
    assert!(probe(&inside.join("ok")).contains(": ok"), "a file inside a mount stays readable");
}

#[test]
fn user_runs_the_guest_with_that_users_host_permissions() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: --user needs hx-run started as root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.path().join("secret"), "root only").unwrap();
    std::fs::set_permissions(dir.path().join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(dir.path().join("ok.txt"), "visible").unwrap();
    let prog = build("escape", Flavor::GlibcStatic, &[]);
    let mount = format!("{}:/w:ro", dir.path().display());
    let out = hx_in(dir.path(), &["--mount", &mount, "--user", "65534:65534"], &prog, &["/w/secret", "/w/ok.txt"]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("open /w/secret: Permission denied"), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("[visible]"), "{stdout}");
    let out = hx_in(dir.path(), &["--mount", &mount], &prog, &["/w/secret"]);
    assert!(text(&out.stdout).contains("[root only]"), "as root, the file is readable");
}

/// The guest-side fuzzer: `HX_FUZZ_ITERS` requests per op (CI: 150).
#[test]
fn forged_requests_from_the_guest_never_crash_the_monitor() {
    let iterations = std::env::var("HX_FUZZ_ITERS").unwrap_or_else(|_| "150".into());
    let seeds = std::env::var("HX_FUZZ_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2u64);
    let dir = tempfile::tempdir().unwrap();
    let (work, outside) = (dir.path().join("work"), dir.path().join("outside"));
    std::fs::create_dir_all(work.join("dir")).unwrap();
    std::fs::create_dir_all(work.join("ro")).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(work.join("f.txt"), "writable").unwrap();
    std::fs::write(work.join("ro/r.txt"), "read-only").unwrap();
    std::fs::write(outside.join("secret"), "SECRET").unwrap();
    std::os::unix::fs::symlink("../outside", work.join("up")).unwrap();
    std::os::unix::fs::symlink("loop", work.join("loop")).unwrap();
    let prog = build("forge", Flavor::GlibcStatic, &[]);
    let ram = 64u64 << 20;
    let rw = format!("{}:/work:rw", work.display());
    let ro = format!("{}:/work/ro:ro", work.join("ro").display());
    let owner = |p: &Path| std::fs::symlink_metadata(p).map(|m| (m.uid(), m.gid(), m.mode())).unwrap();
    let protected = [outside.join("secret"), outside.clone(), work.join("ro/r.txt"), work.join("ro")];
    let before: Vec<_> = protected.iter().map(|p| owner(p)).collect();
    for seed in 1..=seeds {
        let out = hx_in(
            &work,
            &["--memory", "64M", "--mount", &rw, "--mount", &ro],
            &prog,
            &[&ram.to_string(), &iterations, &seed.to_string()],
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        // Forged LOG requests print guest memory, which may hold any text: look at line starts.
        let crashed = stderr.lines().any(|l| l.starts_with("hx-run: internal error") || l.starts_with("thread '"));
        assert!(!crashed, "seed {seed}: {stderr}");
        assert_eq!(status_code(&out), 0, "seed {seed}: {stderr}");
        let last = stdout.lines().last().unwrap_or_default();
        assert!(last.contains("the monitor answered them all"), "seed {seed}: {last}");
        println!("seed {seed}: {}", &last[last.find("forged").unwrap_or(0)..]);
    }
    assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "SECRET");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1);
    assert_eq!(std::fs::read_to_string(work.join("ro/r.txt")).unwrap(), "read-only");
    assert_eq!(std::fs::read_dir(work.join("ro")).unwrap().count(), 1);
    let after: Vec<_> = protected.iter().map(|p| owner(p)).collect();
    assert_eq!(after, before, "a forged request changed the owner or mode of a protected file");
}

#[test]
fn a_second_guest_swapping_in_a_symlink_cannot_redirect_a_chmod() {
    // Guest A chmods a name in a shared read-write directory, again and again;
    // guest B keeps replacing that name with a symlink to a host file outside
    // every mount. The monitor checked a regular file: the host call must
    // never follow the symlink that replaced it.
    let dir = tempfile::tempdir().unwrap();
    let (shared, victim) = (dir.path().join("shared"), dir.path().join("victim"));
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(&victim, "host file").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(shared.join("x"), "").unwrap();
    let prog = build("race", Flavor::GlibcStatic, &[]);
    let mount = format!("{}:/s:rw", shared.display());
    let guest = |args: &[&str]| {
        Command::new(HX_RUN)
            .args(["--no-default-mounts", "--mount", &mount])
            .arg(&prog)
            .args(args)
            .current_dir(&shared)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let victim_text = victim.display().to_string();
    let a = guest(&["chmod", "/s/x", "3"]);
    let b = guest(&["swap", "/s/x", &victim_text, "3"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(text(&a.stdout).starts_with("chmod: "), "{}", text(&a.stdout));
    assert!(text(&b.stdout).starts_with("swap: "), "{}", text(&b.stdout));
    assert_eq!(mode(&victim), 0o600, "a chmod followed a swapped-in symlink to a host file");
}

/// `VFORK` forged out of order or out of range gets an errno; the one
/// reservation a monitor holds ends once, in a child the guest can wait for.
#[test]
fn forged_vfork_requests_get_errnos_and_at_most_one_child() {
    let prog = build("forge", Flavor::GlibcStatic, &[]);
    let out = hx(&[], &prog, &["vfork"], &[]);
    assert_eq!(
        text(&out.stdout),
        "end with nothing reserved: ECHILD\nstart, exit signal 65: EINVAL\nunknown operation: EINVAL\n\
         start: a pid\nstart again: EBUSY\nend killed by signal 99: EINVAL\nend with status 3: a pid\n\
         the same child: 1\nend again: ECHILD\nwaited: 1, exited 3\n",
        "stderr: {}",
        text(&out.stderr)
    );
    assert_eq!(status_code(&out), 0);
}

#[test]
fn a_request_outside_guest_ram_ends_the_vm_in_one_line() {
    let prog = build("forge", Flavor::GlibcStatic, &[]);
    let out = hx(&["--memory", "64M"], &prog, &["outside", &(65u64 << 20).to_string()], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(status_code(&out), 125, "{stderr}");
    assert!(!text(&out.stdout).contains("still running"));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("hx-run: a host request: reading guest RAM at 0x4100000"), "{stderr}");
}
