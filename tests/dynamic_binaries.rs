//! Dynamically linked binaries on the trap path, through their own dynamic
//! loader: C (glibc PIE and non-PIE, musl), C++ with the shared libstdc++,
//! dlopen, Debian's python3 and lua5.4, and host tools.
mod common;

use common::*;
use std::path::Path;
use std::process::Command;

const DYNAMIC_C: [Flavor; 3] = [Flavor::GlibcDynamic, Flavor::GlibcDynamicNoPie, Flavor::MuslDynamic];

#[test]
fn dynamic_c_programs_match_native() {
    let input = b"some input\nfor the pipe\n".repeat(100);
    for flavor in DYNAMIC_C {
        for name in ["hello", "args_env", "files", "memory", "tls", "clock", "pipes"] {
            let prog = build(name, flavor, &[]);
            compare_in_dirs(&prog, &["an arg"], None, &[]);
        }
        compare_in_dirs(&build("stdin_pipe", flavor, &[]), &[], Some(&input), &[]);
    }
}

#[test]
fn dlopen_and_dlsym_of_a_library_built_here() {
    let lib = build("plugin", Flavor::SharedLibrary, &[]);
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslDynamic] {
        let prog = build("dl", flavor, &["-ldl"]);
        let out = compare_in_dirs(&prog, &[lib.to_str().unwrap()], None, &[]);
        assert!(text(&out.stdout).starts_with("plugin v1: "), "{}", text(&out.stdout));
    }
}

#[test]
fn cxx_with_the_shared_libstdcxx_matches_native() {
    let prog = build("exceptions", Flavor::CxxDynamic, &[]);
    compare_in_dirs(&prog, &[], None, &[]);
}

#[test]
fn the_dynamic_loader_can_be_run_directly() {
    let prog = build("hello", Flavor::GlibcDynamic, &[]);
    let ld = "/lib64/ld-linux-x86-64.so.2";
    // The loader opens the program itself, so the program's directory must be
    // visible in the guest: it is the working directory (mounted read-write).
    let dir = prog.parent().unwrap();
    let n = Command::new(ld).arg(&prog).arg("x").current_dir(dir).output().unwrap();
    let h = Command::new(HX_RUN).arg(ld).arg(&prog).arg("x").current_dir(dir).output().unwrap();
    assert_same("ld.so directly", &n, &h);
}

#[test]
fn a_missing_library_gets_the_dynamic_loaders_own_message() {
    let libdir = tempfile::tempdir().unwrap();
    let lib = libdir.path().join("libplugin.so");
    std::fs::copy(build("plugin", Flavor::SharedLibrary, &[]), &lib).unwrap();
    let bindir = tempfile::tempdir().unwrap();
    let prog = bindir.path().join("needs_lib");
    let src = programs_dir().join("needs_lib.c");
    let ok = Command::new("gcc")
        .arg("-o")
        .arg(&prog)
        .arg(&src)
        .arg(format!("-L{}", libdir.path().display()))
        .arg("-lplugin")
        .status()
        .unwrap();
    assert!(ok.success());
    drop(libdir); // the library is gone
    let n = native(&prog, &[], &[]);
    let h = hx(&[], &prog, &[], &[]);
    assert_eq!(status_code(&n), 127);
    assert!(text(&n.stderr).contains("cannot open shared object file"), "{}", text(&n.stderr));
    assert_same("missing library", &n, &h);
}

#[test]
fn a_missing_interpreter_is_one_clear_line() {
    let mut bytes = std::fs::read(build("hello", Flavor::GlibcDynamic, &[])).unwrap();
    let needle = b"/lib64/ld-linux-x86-64.so.2";
    let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap();
    bytes[at + needle.len() - 1] = b'9';
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("bad-interp");
    std::fs::write(&prog, &bytes).unwrap();
    let out = hx(&[], &prog, &[], &[]);
    let err = text(&out.stderr);
    assert_eq!(status_code(&out), 127, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/lib64/ld-linux-x86-64.so.9") && err.contains("No such file or directory"), "{err}");
}

fn scripts_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts")
}

#[test]
fn debian_python3_runs_a_script_like_native() {
    let py = "/usr/bin/python3";
    assert!(Path::new(py).exists(), "python3 is installed by .ci/setup");
    let out =
        compare_with_files(&[py, "-c", "print('hello from', __import__('sys').implementation.name, 6 * 7)"], &[], &[]);
    assert_eq!(text(&out.stdout), "hello from cpython 42\n");
    let script = scripts_dir().join("exercise.py");
    let out = compare_with_files(&[py, "exercise.py", "."], &[&script], &[("PYTHONDONTWRITEBYTECODE", "1")]);
    assert_eq!(status_code(&out), 3);
    assert!(text(&out.stdout).contains("roundtrip: 1024"), "{}", text(&out.stdout));
}

#[test]
fn debian_lua_runs_a_script_like_native() {
    let lua = "/usr/bin/lua5.4";
    assert!(Path::new(lua).exists(), "lua5.4 is installed by .ci/setup");
    let script = scripts_dir().join("exercise.lua");
    let out = compare_with_files(&[lua, "exercise.lua", "."], &[&script], &[]);
    assert_eq!(status_code(&out), 4);
    assert!(text(&out.stdout).contains("coroutines\t10\t20\t30\tdone"), "{}", text(&out.stdout));
}

/// stdout and status as natively; stderr may only add hx-run's own warnings
/// (ls asks for a socket to reach nscd: unimplemented, named once).
fn assert_same_output(what: &str, n: &std::process::Output, h: &std::process::Output) {
    assert_eq!(text(&h.stdout), text(&n.stdout), "{what}: stdout differs");
    assert_eq!(status_code(h), status_code(n), "{what}: status differs");
    let extra: Vec<String> = text(&h.stderr)
        .lines()
        .filter(|l| !l.starts_with("hx-run: warning: unimplemented syscall"))
        .map(String::from)
        .collect();
    assert_eq!(extra.join("\n"), text(&n.stderr).trim_end(), "{what}: stderr differs");
}

#[test]
fn host_tools_give_native_output() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("words.txt");
    std::fs::write(&file, "pear\napple\nfig\nbanana\napple\n").unwrap();
    let env = [("LC_ALL", "C")];
    for argv in [
        &["/usr/bin/sort", "words.txt"][..],
        &["/usr/bin/sort", "-u", "-r", "words.txt"][..],
        &["/usr/bin/sha256sum", "words.txt"][..],
        &["/bin/cat", "words.txt", "words.txt"][..],
        &["/bin/ls", "-l", "--time-style=+%s", "."][..],
        &["/usr/bin/wc", "words.txt"][..],
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(&file, dir.path().join("words.txt")).unwrap();
        let n = Command::new(argv[0]).args(&argv[1..]).envs(env).current_dir(dir.path()).output().unwrap();
        let h = Command::new(HX_RUN).args(argv).envs(env).current_dir(dir.path()).output().unwrap();
        assert_same_output(&argv.join(" "), &n, &h);
    }
}

/// `cp -a` and `tar --xattrs` keep modes and times silently, as natively: the mounts
/// are file systems without ACLs (`system.posix_acl_*` is `EOPNOTSUPP`,
/// which coreutils takes for "keep the mode bits"); hx answered `EPERM`,
/// and `cp -a` printed "preserving permissions ... Operation not
/// permitted" and failed.
#[test]
fn cp_a_and_tar_keep_modes_and_times_as_natively() {
    let script = "mkdir a && touch -d '2001-02-03 04:05:06' a/f && chmod 640 a/f && chmod 750 a \
                  && cp -a a b && stat -c '%a %n' b && stat -c '%a %Y %n' b/f \
                  && tar -cf t.tar --xattrs a && mkdir x && tar -xf t.tar --xattrs -C x && stat -c '%a %Y %n' x/a/f";
    let argv = ["/bin/sh", "-c", script];
    let native_dir = tempfile::tempdir().unwrap();
    let hx_dir = tempfile::tempdir().unwrap();
    let n = Command::new(argv[0]).args(&argv[1..]).current_dir(native_dir.path()).output().unwrap();
    let h = Command::new(HX_RUN).args(argv).current_dir(hx_dir.path()).output().unwrap();
    assert_eq!(text(&n.stdout), "750 b\n640 981173106 b/f\n640 981173106 x/a/f\n", "{}", text(&n.stderr));
    assert_same_output("cp -a, tar --xattrs", &n, &h);
}
