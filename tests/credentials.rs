//! Credentials as a process attribute: tests/programs/credentials.c, built for
//! glibc and musl, runs each sub-test natively and under hx-run, each in a
//! fresh working directory; stdout, stderr and the exit status must match.
//! CI runs as root, so the programs take root's paths and give root up
//! themselves to check an unprivileged process's; run as root, the tests
//! also start hx-run with `--user` next to a native run as that user.
//! Ownership changes reach the host through the monitor, which never leaves a
//! set-id file and never changes a read-only mount.
mod common;

use common::{assert_same, build, status_code, text, Flavor, HX_RUN};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The user and group `--user` runs as, which the program's own ids avoid.
const USER: u32 = 40_010;
const GROUP: u32 = 50_010;

fn program(flavor: Flavor) -> PathBuf {
    build("credentials", flavor, &["-pthread"])
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A fresh working directory anyone may search (a program that gave up root
/// still reaches its files), with `prepare` run on it.
fn workdir(prepare: &dyn Fn(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    prepare(dir.path());
    dir
}

fn output(mut cmd: Command, dir: &Path) -> Output {
    cmd.current_dir(dir).stdin(Stdio::null());
    // A program copied just before may still be open for writing in a child
    // another test thread is forking (until its exec): ETXTBSY, briefly.
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            r => return r.unwrap(),
        }
    }
    panic!("{cmd:?}: the program stayed busy (ETXTBSY)")
}

fn native(prog: &Path, args: &[&str], dir: &Path) -> Output {
    let mut cmd = Command::new(prog);
    cmd.args(args);
    output(cmd, dir)
}

fn hx(flags: &[&str], prog: &Path, args: &[&str], dir: &Path) -> Output {
    let mut cmd = Command::new(HX_RUN);
    cmd.args(flags).arg(prog).args(args);
    output(cmd, dir)
}

/// Runs `credentials args` natively and under hx-run in every flavour,
/// each in its own directory `prepare` fills; the runs must agree. Returns
/// the native output (the same for every flavour).
fn matches_native(args: &[&str], prepare: &dyn Fn(&Path)) -> String {
    let mut first: Option<String> = None;
    for flavor in Flavor::ALL {
        let prog = program(flavor);
        let (dn, dh) = (workdir(prepare), workdir(prepare));
        let n = native(&prog, args, dn.path());
        assert_eq!(status_code(&n), 0, "{args:?} ({flavor:?}) natively:\n{}{}", text(&n.stdout), text(&n.stderr));
        let h = hx(&[], &prog, args, dh.path());
        assert_same(&format!("{args:?} ({flavor:?})"), &n, &h);
        let stdout = text(&n.stdout);
        if let Some(f) = &first {
            assert_eq!(&stdout, f, "{args:?}: glibc and musl disagree natively");
        }
        first = Some(stdout);
    }
    first.unwrap_or_default()
}

/// Asserts the native run printed `line`: the sub-test took the path it is
/// meant to check (a program that printed nothing would match hx trivially).
fn assert_printed(stdout: &str, line: &str) {
    assert!(stdout.lines().any(|l| l == line), "expected the line {line:?} in:\n{stdout}");
}

fn nothing(_: &Path) {}

#[test]
fn the_program_starts_with_the_ids_and_capabilities_of_the_user_hx_run_runs_as() {
    let out = matches_native(&["start"], &nothing);
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_printed(&out, &format!("start: uid {uid} {uid} {uid} fsuid {uid}, gid {gid} {gid} {gid} fsgid {gid}"));
    if is_root() {
        assert!(out.contains("start: caps effective 0 1 3 5 6 7 8"), "root without its capabilities:\n{out}");
    }
}

#[test]
fn root_switches_ids_freely_and_its_capabilities_follow_the_effective_uid() {
    let out = matches_native(&["root"], &nothing);
    if is_root() {
        assert_printed(&out, "setfsuid: caps effective 5 6 7 8, permitted 0 1 3 5 6 7 8 27, effective within permitted, inheritable empty");
        assert_printed(&out, "setreuid both: uid 0 40002 40002 fsuid 40002, gid 50002 50002 50002 fsgid 50003");
        assert_printed(&out, "setuid: caps effective, permitted, effective = permitted, inheritable empty");
        assert_printed(&out, "setuid(0) = -1 EPERM");
    }
}

#[test]
fn an_unprivileged_process_only_switches_among_its_real_effective_and_saved_ids() {
    let out = matches_native(&["unprivileged"], &nothing);
    assert_printed(&out, "setuid(0) = -1 EPERM");
    assert_printed(&out, "setgroups(0, NULL) = -1 EPERM");
    if is_root() {
        assert_printed(&out, "rotated uids: uid 40003 40001 40002 fsuid 40001, gid 50001 50002 50003 fsgid 50002");
    }
}

#[test]
fn supplementary_groups_need_cap_setgid_and_come_back_sorted() {
    let out = matches_native(&["groups"], &nothing);
    if is_root() {
        assert_printed(&out, "groups (6): 0 7 50001 50001 50002 50003");
        assert_printed(&out, "setgroups(1, (gid_t *)8) = -1 EFAULT");
    }
}

#[test]
fn capget_and_capset_follow_linuxs_rules() {
    let out = matches_native(&["capabilities"], &nothing);
    assert_printed(&out, "preferred version 0x20080522");
    if is_root() {
        assert_printed(&out, "fchown(fd, U1, -1) = -1 EPERM");
        assert_printed(&out, "capset_v3(1 << CAP_KILL, 1 << CAP_KILL, 0) = -1 EPERM");
    }
}

/// Securebits, `PR_SET_KEEPCAPS` and the ambient set (what `setpriv`,
/// `runuser` and `capsh` ask): setuid keeps the permitted set with
/// KEEP_CAPS, changes nothing with NO_SETUID_FIXUP, locks hold.
#[test]
fn securebits_keepcaps_and_ambient_capabilities_follow_linuxs_rules() {
    let dir = workdir(&|d: &Path| std::fs::write(d.join("caps.py"), CAPS_PY).unwrap());
    let py = Path::new("/usr/bin/python3");
    let (n, h) = (native(py, &["caps.py"], dir.path()), hx(&[], py, &["caps.py"], dir.path()));
    assert_same("caps.py", &n, &h);
    if is_root() {
        assert_printed(&text(&h.stdout), "after setresuid with keepcaps: ffff 0000 0000");
    }
    // setpriv's own use of them.
    let args =
        ["--inh-caps", "+net_bind_service", "--ambient-caps", "+net_bind_service", "--reuid=65534", "--regid=65534"];
    let mut argv: Vec<&str> = args.to_vec();
    argv.extend(["--clear-groups", "grep", "Cap", "/proc/self/status"]);
    let setpriv = Path::new("/usr/bin/setpriv");
    if setpriv.exists() {
        assert_same("setpriv", &native(setpriv, &argv, dir.path()), &hx(&[], setpriv, &argv, dir.path()));
    }
}

const CAPS_PY: &str = r#"import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def prctl(*a):
    a = list(a) + [0] * (5 - len(a))
    r = libc.prctl(*[ctypes.c_ulong(x) for x in a])
    return r if r >= 0 else "E%d" % ctypes.get_errno()
def caps():
    st = open("/proc/self/status").read().split("\n")
    return " ".join(l.split()[1][-4:] for l in st if l.startswith(("CapPrm", "CapEff", "CapAmb")))
print("keepcaps", prctl(7), "securebits", prctl(27))
print("keepcaps 2:", prctl(8, 2))
print("ambient raise, not inheritable:", prctl(47, 2, 10))
print("ambient is set, bad cap:", prctl(47, 1, 99))
print("clear all with a cap:", prctl(47, 4, 1))
pid = os.fork()
if pid == 0:
    print("set keepcaps", prctl(8, 1), prctl(7), prctl(27))
    os.setresuid(1000, 1000, 1000)
    print("after setresuid with keepcaps:", caps())
    os._exit(0)
os.waitpid(pid, 0)
pid = os.fork()
if pid == 0:
    os.setresuid(1000, 1000, 1000)
    print("after setresuid without:", caps())
    os._exit(0)
os.waitpid(pid, 0)
pid = os.fork()
if pid == 0:
    print("lock keepcaps:", prctl(28, 0x30), prctl(27))
    print("then keepcaps 0:", prctl(8, 0), "securebits 0:", prctl(28, 0))
    print("no setuid fixup:", prctl(28, 0x34))
    os.setresuid(1000, 1000, 1000)
    print("after setresuid, no fixup:", caps())
    os._exit(0)
os.waitpid(pid, 0)
print("unknown bits:", prctl(28, 0x10000))
"#;

/// Signals between users: a process may signal another only if its real or
/// effective uid is the target's real or saved one (or with CAP_KILL, or
/// SIGCONT in its session); any other process got every signal before.
#[test]
fn signals_to_another_users_processes_need_its_uid_or_cap_kill() {
    if !is_root() {
        return; // natively, only root can start processes of two users
    }
    let dir = workdir(&|d: &Path| std::fs::write(d.join("kill.py"), KILL_PY).unwrap());
    let py = Path::new("/usr/bin/python3");
    let (n, h) = (native(py, &["kill.py"], dir.path()), hx(&[], py, &["kill.py"], dir.path()));
    assert_same("kill.py", &n, &h);
    assert_printed(&text(&h.stdout), "2000 signal 0: EPERM");
}

const KILL_PY: &str = r#"import os, signal, time
def result(f):
    try:
        f(); return "ok"
    except OSError as e:
        return __import__("errno").errorcode[e.errno]
r, w = os.pipe()
a = os.fork()
if a == 0:
    os.setpgid(0, 0)
    os.setresuid(1000, 1000, 1000)
    os.write(w, b"r")
    time.sleep(3)
    os._exit(0)
os.read(r, 1)
for uid in (1000, 2000):
    b = os.fork()
    if b == 0:
        os.setresuid(uid, uid, uid)
        print(uid, "signal 0:", result(lambda: os.kill(a, 0)))
        print(uid, "SIGCONT, same session:", result(lambda: os.kill(a, signal.SIGCONT)))
        print(uid, "to the group:", result(lambda: os.killpg(a, 0)))
        print(uid, "to its parent (root):", result(lambda: os.kill(os.getppid(), 0)))
        os._exit(0)
    os.waitpid(b, 0)
c = os.fork()
if c == 0:
    os.setresuid(2000, 1000, 2000)  # effective 1000 alone is enough
    print("effective 1000:", result(lambda: os.kill(a, 0)))
    os.setresuid(2000, 2000, 1000)  # a saved uid does not count for the sender
    print("saved 1000:", result(lambda: os.kill(a, 0)))
    os._exit(0)
os.waitpid(c, 0)
print("root:", result(lambda: os.kill(a, signal.SIGTERM)))
print(os.waitpid(a, 0)[1] & 0x7f)
"#;

#[test]
fn chown_changes_owners_where_the_host_allows_it() {
    let out = matches_native(&["chown"], &nothing);
    assert_printed(&out, "fchownat(AT_FDCWD, \"f\", -1, -1, 0x8000) = -1 EINVAL");
    if is_root() {
        assert_printed(&out, "chown to another user: owner 40001 group mine=0 mode 644");
        assert_printed(&out, "fchownat AT_SYMLINK_NOFOLLOW: the link: owner 40002 group 50002 mode 777");
        assert_printed(&out, "fchownat AT_SYMLINK_NOFOLLOW: the file: owner me=0 group mine=0 mode 644");
    } else {
        assert_printed(&out, "chown(\"f\", U1, -1) = -1 EPERM");
    }
}

#[test]
fn once_root_is_given_up_chown_is_checked_against_the_guests_own_ids() {
    let out = matches_native(&["dropped-chown"], &nothing);
    if is_root() {
        assert_printed(&out, "to a supplementary group: owner me=40001 group 50002 mode 644");
        assert_printed(&out, "chown(\"roots\", U1, -1) = -1 EPERM");
        assert_printed(&out, "fchown(fd, U1, -1) = -1 EPERM");
    }
}

#[test]
fn once_root_is_given_up_the_host_checks_file_permissions_as_the_guests_ids() {
    let out = matches_native(&["permissions"], &nothing);
    if is_root() {
        assert_printed(&out, "open(\"secret\", O_RDONLY) = -1 EACCES");
        assert_printed(&out, "execl(\"owner-runs\", \"owner-runs\", (char *)NULL) = -1 EACCES");
        assert_printed(&out, "execl(\"closed/runs\", \"runs\", (char *)NULL) = -1 EACCES");
        assert_printed(&out, "a new file: owner me=40001 group mine=50001 mode 640");
        assert_printed(&out, "a new file in a set-group-ID directory: owner me=40001 group 50003 mode 644");
        assert_printed(&out, "faccessat(AT_FDCWD, \"secret\", R_OK, AT_EACCESS) = -1 EACCES");
        assert_printed(&out, "root's new file: owner me=0 group mine=0 mode 644");
    }
}

/// Files with set-id bits, as a host user may have left them in the working directory.
fn set_id_files(dir: &Path) {
    for (name, mode) in [("suid", 0o4755), ("sgid", 0o2755), ("sgid-noexec", 0o2745), ("both", 0o6755)] {
        std::fs::write(dir.join(name), "").unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::create_dir(dir.join("sgid-dir")).unwrap();
    std::fs::set_permissions(dir.join("sgid-dir"), std::fs::Permissions::from_mode(0o2755)).unwrap();
}

#[test]
fn chown_clears_set_user_id_and_executable_set_group_id_as_linux_does() {
    let out = matches_native(&["setid-chown"], &set_id_files);
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    for (file, mode) in [("suid", 755), ("sgid", 755), ("sgid-noexec", 2745), ("both", 755), ("sgid-dir", 2755)] {
        assert_printed(&out, &format!("{file}: owner me={uid} group mine={gid} mode {mode}"));
    }
}

/// Every file under `dir` with a set-user-ID or set-group-ID bit, but a
/// directory's set-group-ID (its new files take its group: no privilege).
fn set_id_files_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let privileged = if meta.is_dir() { 0o4000 } else { 0o6000 };
        if meta.mode() & privileged != 0 {
            found.push(format!("{} {:o}", path.display(), meta.mode() & 0o7777));
        }
        if meta.is_dir() {
            found.extend(set_id_files_in(&path));
        }
    }
    found
}

#[test]
fn hx_run_never_leaves_a_set_id_file_on_the_host() {
    for flavor in Flavor::ALL {
        let prog = program(flavor);
        let dh = workdir(&nothing);
        let h = hx(&[], &prog, &["make-setid"], dh.path());
        assert_eq!(status_code(&h), 0, "{}{}", text(&h.stdout), text(&h.stderr));
        let found = set_id_files_in(dh.path());
        assert!(found.is_empty(), "hx-run left set-id files ({flavor:?}):\n{}", found.join("\n"));
        // Natively (as root, or as the files' owner) the same calls leave them:
        // the program does try.
        let dn = workdir(&nothing);
        native(&prog, &["make-setid"], dn.path());
        assert!(!set_id_files_in(dn.path()).is_empty(), "natively the program made no set-id file");
    }
}

#[test]
fn a_chown_in_a_read_only_mount_is_erofs_and_changes_nothing_on_the_host() {
    let ro = tempfile::tempdir().unwrap();
    let file = ro.path().join("file");
    std::fs::write(&file, "host file").unwrap();
    let before = std::fs::metadata(&file).unwrap();
    let mount = format!("{}:/ro:ro", ro.path().display());
    let dh = workdir(&nothing);
    for flavor in Flavor::ALL {
        let h = hx(&["--mount", &mount], &program(flavor), &["chown-at", "/ro/file"], dh.path());
        let out = text(&h.stdout);
        assert_eq!(status_code(&h), 0, "{out}{}", text(&h.stderr));
        let refused = out.lines().filter(|l| l.ends_with("= -1 EROFS")).count();
        assert_eq!(refused, 5, "every chown of the read-only file is EROFS ({flavor:?}):\n{out}");
        let after = std::fs::metadata(&file).unwrap();
        assert_eq!((after.uid(), after.gid(), after.mode()), (before.uid(), before.gid(), before.mode()));
    }
}

#[test]
fn execve_keeps_ids_and_groups_and_recomputes_capabilities_as_linux_does() {
    let cases = [
        (
            "euid",
            "uid 0 40001 40001 fsuid 40001",
            "caps effective, permitted 0 1 3 5 6 7 8 27, effective within permitted, inheritable empty",
        ),
        (
            "dropped",
            "uid 40001 40002 40002 fsuid 40002",
            "caps effective, permitted, effective = permitted, inheritable empty",
        ),
        (
            "capset",
            "uid 0 0 0 fsuid 0",
            "caps effective 0 1 3 5 6 7 8 27, permitted 0 1 3 5 6 7 8 27, effective = permitted, inheritable set",
        ),
        (
            "fsuid",
            "uid 0 0 0 fsuid 0",
            "caps effective 0 1 3 5 6 7 8 27, permitted 0 1 3 5 6 7 8 27, effective = permitted, inheritable empty",
        ),
    ];
    for (how, ids, caps) in cases {
        let out = matches_native(&["exec", how], &nothing);
        if is_root() {
            assert_printed(&out, &format!("after exec: {ids}, gid 50001 50002 50002 fsgid 50002"));
            assert_printed(&out, &format!("after exec: {caps}"));
            assert_printed(&out, "after exec: groups (2): 50001 50002");
        }
    }
}

#[test]
fn a_forked_child_has_its_parents_credentials_and_changes_only_its_own() {
    let out = matches_native(&["fork"], &nothing);
    if is_root() {
        assert_printed(&out, "child: uid 0 40002 40003 fsuid 40002, gid 50001 50002 50003 fsgid 50002");
        assert_printed(&out, "parent: uid 0 40002 40003 fsuid 40002, gid 50001 50002 50003 fsgid 50002");
    }
}

#[test]
fn threads_change_their_ids_together() {
    let out = matches_native(&["threads"], &nothing);
    if is_root() {
        assert_printed(&out, "other thread: euid 40001 egid 50001");
    }
}

/// A copy of `prog` another user may run.
fn runnable_by_anyone(prog: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(prog.file_name().unwrap());
    std::fs::copy(prog, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[test]
fn hx_run_as_another_user_gives_the_program_that_users_ids_and_no_capabilities() {
    if !is_root() {
        eprintln!("skipped: --user needs the tests to run as root");
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_user = |dir: &Path| std::os::unix::fs::chown(dir, Some(USER), Some(GROUP)).unwrap();
    let user = format!("{USER}:{GROUP}");
    for flavor in Flavor::ALL {
        let prog = runnable_by_anyone(&program(flavor), bin.path());
        for sub_test in ["start", "unprivileged", "groups", "capabilities", "chown"] {
            let (dn, dh) = (workdir(&as_user), workdir(&as_user));
            let mut cmd = Command::new(&prog);
            cmd.arg(sub_test).uid(USER).gid(GROUP);
            let n = output(cmd, dn.path());
            let h = hx(&["--user", &user], &prog, &[sub_test], dh.path());
            assert_eq!(status_code(&n), 0, "{sub_test} natively as {user}: {}", text(&n.stderr));
            assert_same(&format!("{sub_test} as {user} ({flavor:?})"), &n, &h);
            let out = text(&n.stdout);
            match sub_test {
                "start" => assert_printed(
                    &out,
                    &format!("start: uid {USER} {USER} {USER} fsuid {USER}, gid {GROUP} {GROUP} {GROUP} fsgid {GROUP}"),
                ),
                "chown" => assert_printed(&out, "chown(\"f\", U1, -1) = -1 EPERM"),
                "groups" => assert_printed(&out, "setgroups(1, &g) = -1 EPERM"),
                _ => {}
            }
        }
    }
}
