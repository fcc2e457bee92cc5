//! The guest's /proc, which the guest kernel makes from its own state:
//! tests/programs/procfs.c checks its own /proc/self, descriptors, errors,
//! the system files and threads against what it knows (getpid, argv,
//! cpuid, getauxval, fstat...) and prints "what: yes|no"; each run natively
//! and under hx-run must print the same lines, with no "no". Then what only
//! hx shows: the guest's own pid, memory and CPUs, never the host's, and
//! procps' `ps` and `ls -l /proc/self/fd` reading it.
mod common;

use common::{build, compare_in_dirs, status_code, text, Flavor, HX_RUN};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const STATIC: [Flavor; 3] = [Flavor::MuslStatic, Flavor::GlibcStatic, Flavor::GlibcStaticPie];
const ALL: [Flavor; 5] =
    [Flavor::MuslStatic, Flavor::GlibcStatic, Flavor::GlibcStaticPie, Flavor::GlibcDynamic, Flavor::MuslDynamic];

fn program(flavor: Flavor) -> PathBuf {
    build("procfs", flavor, &["-pthread"])
}

/// Runs `procfs args` natively and under hx-run for each flavour (fresh
/// working directories): the same stdout, stderr and status, every check
/// passed natively (so the sub-test checked something), at least `min` lines.
fn matches_native(args: &[&str], flavors: &[Flavor], min: usize) -> String {
    let mut first = None;
    for &flavor in flavors {
        let out = compare_in_dirs(&program(flavor), args, None, &[]);
        let stdout = text(&out.stdout);
        assert_eq!(status_code(&out), 0, "{args:?} ({flavor:?}): {stdout}");
        let failed: Vec<&str> = stdout.lines().filter(|l| l.ends_with(": no")).collect();
        assert!(failed.is_empty(), "{args:?} ({flavor:?}) fails natively too: {failed:?}");
        assert!(stdout.lines().count() >= min, "{args:?} ({flavor:?}) printed too little:\n{stdout}");
        first.get_or_insert(stdout);
    }
    first.unwrap_or_default()
}

/// /proc/self/smaps: every mapping with its size, resident and locked
/// memory and flags, as tools (pmap, psutil) and mlock's users read them.
#[test]
fn smaps_shows_each_mappings_memory_as_linux() {
    let out = matches_native(&["smaps"], &[Flavor::GlibcDynamic, Flavor::MuslStatic], 7);
    assert!(out.contains("after mlock: locked 64 kB, resident at least that: 1"), "{out}");
}

/// /proc/self/limits in Linux's table, after the program set every limit.
#[test]
fn proc_self_limits_is_linuxs_table_of_the_limits_set() {
    let out = matches_native(&["limits"], &[Flavor::GlibcStatic, Flavor::MuslDynamic], 18);
    assert!(out.contains("Max open files            64                   128                  files     \n"), "{out}");
}

/// mounts and mountinfo (what df, findmnt, psutil and the JVM read) agree
/// with each other and with stat and statfs at every mount point.
#[test]
fn mounts_and_mountinfo_agree_with_stat_as_on_linux() {
    matches_native(&["mounts"], &[Flavor::GlibcStatic, Flavor::MuslStatic], 14);
    // hx's tree is whole: each mount's parent is the mount it lies in.
    let info = text(&hx_run(&[], &["/bin/cat", "/proc/self/mountinfo"]).stdout);
    let lines: Vec<Vec<&str>> = info.lines().map(|l| l.split(' ').collect()).collect();
    assert!(lines.len() >= 3 && lines[0][4] == "/", "{info}");
    for l in &lines[1..] {
        let parent = lines.iter().find(|p| p[0] == l[1]).unwrap_or_else(|| panic!("no parent for {l:?}: {info}"));
        let under = if parent[4] == "/" { "/".to_string() } else { format!("{}/", parent[4]) };
        assert!(l[4].starts_with(&under), "{} is not below its parent {}: {info}", l[4], parent[4]);
    }
    // df finds the mount of a path through them.
    let out = hx_run(&[], &["/bin/df", "-P", "/usr", "/tmp"]);
    assert_eq!(status_code(&out), 0, "{}", text(&out.stderr));
    let rows = table(&out);
    assert_eq!(
        rows.iter().skip(1).map(|r| r.last().unwrap().as_str()).collect::<Vec<_>>(),
        ["/usr", "/tmp"],
        "{rows:?}"
    );
}

/// hx-run `flags` `argv` in a fresh directory (stdin: /dev/null).
fn hx_run(flags: &[&str], argv: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(HX_RUN).args(flags).args(argv).current_dir(dir.path()).stdin(Stdio::null()).output().unwrap()
}

fn hx_procfs(flags: &[&str], args: &[&str]) -> String {
    let prog = program(Flavor::GlibcStatic);
    let mut argv = vec![prog.to_str().unwrap()];
    argv.extend_from_slice(args);
    let out = hx_run(flags, &argv);
    assert_eq!(status_code(&out), 0, "procfs {args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The value of `key:` in a status- or meminfo-like text.
fn value<'a>(txt: &'a str, key: &str) -> Option<&'a str> {
    txt.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':')).map(str::trim)
}

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn proc_self_describes_the_process_as_linux_does() {
    let out = matches_native(&["self", "first", "second"], &ALL, 100);
    for line in ["exe is the program: yes", "cmdline is argv: yes", "maps has the program's text: yes"] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
}

#[test]
fn other_processes_show_linuxs_states() {
    let out = matches_native(&["states"], &ALL, 5);
    assert!(out.contains("a killed child is a zombie (Z) until reaped: yes"), "{out}");
}

#[test]
fn proc_self_fd_lists_exactly_the_open_descriptors() {
    let out = matches_native(&["fds"], &[Flavor::MuslStatic, Flavor::GlibcStatic, Flavor::GlibcDynamic], 15);
    assert!(out.contains("fd lists exactly the open descriptors: yes"), "{out}");
    assert!(out.contains("fd 0 is /dev/null\nfd 1 is a pipe\nfd 2 is a pipe\n"), "{out}");
}

#[test]
fn proc_refuses_what_linux_refuses_with_the_same_errno() {
    let out = matches_native(&["errors"], &STATIC, 20);
    for line in ["open missing: ENOENT", "open a link O_NOFOLLOW: ELOOP", "read a directory: EISDIR"] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing:\n{out}");
    }
}

#[test]
fn an_unprivileged_process_is_refused_as_on_linux() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    if !is_root() {
        eprintln!("skipped: --user needs the tests to run as root");
        return;
    }
    let (user, group) = (40_011u32, 50_011u32);
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let prog = bin.path().join("procfs");
    std::fs::copy(program(Flavor::GlibcStatic), &prog).unwrap();
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub_test in ["errors", "sysctl-write"] {
        let n = Command::new(&prog).arg(sub_test).uid(user).gid(group).current_dir("/").output().unwrap();
        let h = Command::new(HX_RUN)
            .args(["--user", &format!("{user}:{group}")])
            .arg(&prog)
            .arg(sub_test)
            .current_dir("/")
            .output()
            .unwrap();
        assert_eq!(text(&h.stdout), text(&n.stdout), "{sub_test} as {user}: stderr under hx: {}", text(&h.stderr));
        assert!(text(&n.stdout).contains("EACCES"), "{}", text(&n.stdout));
    }
}

#[test]
fn system_files_describe_the_guest() {
    let out = matches_native(&["system"], &[Flavor::MuslStatic, Flavor::GlibcStatic, Flavor::GlibcDynamic], 50);
    assert!(out.contains("cpuinfo's vendor_id is cpuid's: yes"), "{out}");
    // What the guest is made of, not the host: its RAM and its vCPUs.
    let files = ["/proc/meminfo", "/proc/cpuinfo", "/proc/sys/kernel/hostname", "/proc/version", "/proc/loadavg"];
    let mut args = vec!["print"];
    args.extend(files);
    let out = hx_procfs(&["--memory", "256M", "--cpus", "1"], &args);
    assert_eq!(value(&out, "MemTotal"), Some("262144 kB"), "{out}");
    let free: u64 = value(&out, "MemFree").and_then(|v| v.strip_suffix(" kB")?.parse().ok()).unwrap();
    assert!(free > 0 && free < 262144, "{out}");
    assert_eq!(out.matches("processor\t: ").count(), 1, "one vCPU, one block:\n{out}");
    let host = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    assert_eq!(value(&out, "vendor_id"), value(&host, "vendor_id"), "the same CPU vendor");
    assert!(out.contains("\nhx\nLinux version 6.1.0-hx "), "hostname and version are hx's:\n{out}");
    assert!(out.lines().last().unwrap().ends_with(" 1/1 1"), "loadavg: one thread, pid 1:\n{out}");
    let out = hx_procfs(&["--cpus", "2"], &["print", "/proc/cpuinfo", "/proc/stat"]);
    assert_eq!(out.matches("processor\t: ").count(), 2, "{out}");
    assert!(out.contains("\ncpu0 ") && out.contains("\ncpu1 ") && !out.contains("\ncpu2 "), "{out}");
}

/// /proc/config.gz, as a kernel built with CONFIG_IKCONFIG_PROC has it: a
/// gzip file any gunzip reads (LTP reads it with zcat), naming as set what
/// hx implements and as not set what it answers as a kernel without it.
#[test]
fn proc_config_gz_tells_which_features_the_guest_kernel_has() {
    let out = hx_run(&[], &["/bin/sh", "-c", "gzip -t /proc/config.gz && zcat /proc/config.gz"]);
    let config = text(&out.stdout);
    assert_eq!(status_code(&out), 0, "{}{config}", text(&out.stderr));
    for set in ["CONFIG_EVENTFD=y", "CONFIG_TIMERFD=y", "CONFIG_AIO=y", "CONFIG_INET=y", "CONFIG_IKCONFIG_PROC=y"] {
        assert!(
            config.lines().any(|l| l == set),
            "{set} missing:
{config}"
        );
    }
    for unset in ["CONFIG_IO_URING", "CONFIG_USER_NS", "CONFIG_PID_NS"] {
        assert!(
            config.lines().any(|l| l == format!("# {unset} is not set")),
            "{unset}:
{config}"
        );
    }
    // An option that has its own syscall is set exactly when the syscall
    // table (`hx-run --syscalls`) serves that call.
    let table = text(&Command::new(HX_RUN).arg("--syscalls").output().unwrap().stdout);
    for (option, call) in [
        ("CONFIG_SYSVIPC", "msgget"),
        ("CONFIG_INOTIFY_USER", "inotify_init1"),
        ("CONFIG_SECCOMP", "seccomp"),
        ("CONFIG_CROSS_MEMORY_ATTACH", "process_vm_readv"),
        ("CONFIG_POSIX_MQUEUE", "mq_open"),
        ("CONFIG_KEYS", "add_key"),
        ("CONFIG_IO_URING", "io_uring_setup"),
    ] {
        let served = table.lines().any(|l| l.contains(&format!("| `{call}` | implemented")));
        let set = config.lines().any(|l| l == format!("{option}=y"));
        assert_eq!(set, served, "{option} and {call}:\n{config}");
    }
}

#[test]
fn threads_have_their_own_entries_in_task() {
    let out = matches_native(&["threads"], &[Flavor::MuslStatic, Flavor::GlibcStatic, Flavor::GlibcDynamic], 7);
    assert!(out.contains("task lists both threads: yes"), "{out}");
}

#[test]
fn no_host_proc_data_reaches_the_guest() {
    // The first guest process is pid 1: its /proc/1 is its own.
    let environ = hx_procfs(&["--env-clear", "-e", "HX_PROC_ONLY=1"], &["print", "/proc/1/environ"]);
    assert_eq!(environ, "HX_PROC_ONLY=1\0");
    let status = hx_procfs(&[], &["print", "/proc/self/status", "/proc/self/stat"]);
    assert_eq!(
        (value(&status, "Pid"), value(&status, "Tgid"), value(&status, "PPid")),
        (Some("1"), Some("1"), Some("0"))
    );
    assert!(status.contains("\n1 (procfs-GlibcSta) R 0 "), "{status}");
    // Only the guest process itself is there, and no file hx does not make.
    assert_eq!(hx_procfs(&[], &["pids"]), "1\n");
    let missing = hx_procfs(&[], &["print", "/proc/kallsyms", "/proc/self/wchan", "/proc/2/status"]);
    assert_eq!(missing, "/proc/kallsyms: ENOENT\n/proc/self/wchan: ENOENT\n/proc/2/status: ENOENT\n");
    // A forked child sees itself, and its parent's ids, name and command
    // line (each process is its own VM: the others' memory, environment and
    // files are not there — ENOENT, never anything of the host's).
    let fork = hx_procfs(&[], &["fork"]);
    assert_eq!(
        fork,
        "child Pid is getpid(): yes\nchild PPid is the parent: yes\nthe parent's status: 0\n\
         /proc/1/environ: ENOENT\nself: yes\n"
    );
    let expected = if is_root() { "EROFS" } else { "EACCES" };
    assert_eq!(hx_procfs(&[], &["sysctl-write"]), format!("open pid_max O_WRONLY: {expected}\n"));
    let cmdline = hx_run(&[], &["/bin/cat", "/proc/1/cmdline"]);
    assert_eq!(text(&cmdline.stdout), "/bin/cat\0/proc/1/cmdline\0");
}

#[test]
fn paths_that_leave_proc_reach_the_files_they_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello\n").unwrap();
    let through_root = format!("/proc/self/root{}/hello.txt", dir.path().display());
    let argv = ["/bin/cat", "/proc/self/cwd/hello.txt", "/proc/self/cwd/../", &through_root, "/dev/stdin"];
    let run = |hx: bool| {
        let mut cmd = if hx { Command::new(HX_RUN) } else { Command::new(argv[0]) };
        if hx {
            cmd.arg(argv[0]);
        }
        cmd.args(&argv[1..]).current_dir(dir.path()).stdin(Stdio::null()).output().unwrap()
    };
    let (n, h) = (run(false), run(true));
    assert_eq!(text(&h.stdout), "hello\nhello\n");
    assert_eq!(text(&h.stdout), text(&n.stdout));
    assert_eq!(status_code(&h), status_code(&n), "cat of a directory fails: {}", text(&h.stderr));
}

fn tool(path: &str) -> Option<&Path> {
    Path::new(path).exists().then(|| Path::new(path))
}

/// `ps`'s table as words per line.
fn table(out: &Output) -> Vec<Vec<String>> {
    text(&out.stdout).lines().map(|l| l.split_whitespace().map(String::from).collect()).collect()
}

#[test]
fn ps_and_ls_read_the_guests_proc() {
    let Some(ps) = tool("/bin/ps") else {
        eprintln!("skipped: no /bin/ps (procps)");
        return;
    };
    let out = hx_run(&[], &[ps.to_str().unwrap(), "-o", "pid,comm"]);
    assert_eq!(status_code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(table(&out), [["PID", "COMMAND"], ["1", "ps"]]);
    let out = hx_run(&[], &["/bin/sh", "-c", "ps -o pid,ppid,stat,comm"]);
    assert_eq!(status_code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(table(&out), [["PID", "PPID", "STAT", "COMMAND"], ["1", "0", "S", "sh"], ["2", "1", "R", "ps"]]);
    let out = hx_run(&[], &["/bin/ls", "-l", "/proc/self/fd/"]);
    let listing = text(&out.stdout);
    for link in [" 0 -> /dev/null\n", " 1 -> pipe:[", " 2 -> pipe:[", " 3 -> /proc/1/fd\n"] {
        assert!(listing.contains(link), "{link:?} missing:\n{listing}");
    }
    assert_eq!(listing.lines().count(), 5, "total, then exactly four descriptors:\n{listing}");
}

/// syslog(2): the guest kernel's log (empty) with Linux's checks, compared
/// with a native run on actions that change nothing on the host; then,
/// in hx only (natively they would set the host's), the console level
/// syslog sets shows in /proc/sys/kernel/printk, which root may write.
#[test]
fn syslog_checks_as_linux_and_sets_the_console_level_printk_shows() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("syslog", flavor, &[]);
        let out = text(&compare_in_dirs(&exe, &[], None, &[]).stdout);
        assert!(out.contains("read, no buffer"), "{out}");
        assert!(out.contains("unprivileged size"), "{out}");
    }
    let script = "import ctypes\nlibc = ctypes.CDLL(None)\n\
                  print(open('/proc/sys/kernel/printk').read().split())\n\
                  print(libc.syscall(103, 8, None, 3), open('/proc/sys/kernel/printk').read().split())\n\
                  open('/proc/sys/kernel/printk', 'w').write('6 5')\n\
                  print(open('/proc/sys/kernel/printk').read().split())\n\
                  print(libc.syscall(103, 10, None, 0), libc.syscall(103, 9, None, 0))\n";
    let out = hx_run(&[], &["/usr/bin/python3", "-c", script]);
    assert_eq!(
        text(&out.stdout),
        "['4', '4', '1', '7']\n0 ['3', '4', '1', '7']\n['6', '5', '1', '7']\n131072 0\n",
        "{}",
        text(&out.stderr)
    );
}
