//! The fast libc: musl with its syscall call sites patched to call the hx
//! kernel's syscall vector. Built by musl-patch/build.sh into sysroot/.
mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn patched_libc() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sysroot/lib/libc.so");
    assert!(p.is_file(), "{} is missing: run musl-patch/build.sh (.ci/setup does)", p.display());
    p
}

const PROGRAMS: [&str; 8] = ["hello", "args_env", "files", "memory", "tls", "clock", "pipes", "vector"];

#[test]
fn musl_programs_under_fast_libc_match_native_with_no_trap_path_syscall() {
    patched_libc();
    for name in PROGRAMS {
        let prog = build(name, Flavor::MuslDynamic, &[]);
        compare_in_dirs(&prog, &["arg"], None, &["--fast-libc"]);
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(HX_RUN)
            .args(["--fast-libc", "--stats"])
            .arg(&prog)
            .arg("arg")
            .current_dir(dir.path())
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(trap_path_total(&err), 0, "{name}: every syscall must go through the vector:\n{err}");
    }
    let input = b"through the fast libc\n".repeat(50);
    compare_in_dirs(&build("stdin_pipe", Flavor::MuslDynamic, &[]), &[], Some(&input), &["--fast-libc"]);
}

#[test]
fn the_patched_libc_runs_natively_on_its_fallback_path() {
    let libc_so = patched_libc();
    // args_env is left out: started through the loader, AT_EXECFN names the
    // loader, natively as with any dynamic loader.
    for name in PROGRAMS.iter().filter(|&&n| n != "args_env") {
        let prog = build(name, Flavor::MuslDynamic, &[]);
        let (dn, dp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = Command::new(&prog).arg("arg").current_dir(dn.path()).output().unwrap();
        // musl's dynamic loader is libc.so: run the program through the patched one.
        let p = Command::new(&libc_so).arg(&prog).arg("arg").current_dir(dp.path()).output().unwrap();
        assert_same(name, &n, &p);
    }
}

#[test]
fn fast_libc_on_a_glibc_or_static_binary_says_so_and_runs_on_the_trap_path() {
    for (flavor, needle) in [(Flavor::GlibcDynamic, "needs a musl-linked binary"), (Flavor::MuslStatic, "is static")] {
        let prog = build("hello", flavor, &[]);
        let out = hx(&["--fast-libc"], &prog, &[], &[]);
        let err = text(&out.stderr);
        assert!(err.lines().next().unwrap_or("").contains(needle), "{err}");
        assert_eq!(text(&out.stdout), text(&native(&prog, &[], &[]).stdout));
    }
}

#[test]
fn lua_built_with_musl_runs_the_lua_script_through_the_vector_only() {
    patched_libc();
    let lua = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/musl-lua/lua");
    assert!(lua.is_file(), "{} is missing: run tests/scripts/build-musl-lua.sh (.ci/setup does)", lua.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts/exercise.lua");
    let lua = lua.canonicalize().unwrap();
    let lua = lua.to_str().unwrap();
    let out = compare_with_files_flags(&["--fast-libc"], &[lua, "exercise.lua", "."], &[&script], &[]);
    assert_eq!(status_code(&out), 4);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&script, dir.path().join("exercise.lua")).unwrap();
    let out = Command::new(HX_RUN)
        .args(["--fast-libc", "--stats", lua, "exercise.lua", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(trap_path_total(&text(&out.stderr)), 0, "{}", text(&out.stderr));
}

/// CPython built with musl-gcc (tests/scripts/build-musl-python.sh) under
/// `--fast-libc`: every extension module a user expects imports and works
/// (tests/scripts/python_modules.py), identically to its native run, and no
/// process — the interpreter and the one it starts — makes a trap-path call.
#[test]
fn cpython_built_with_musl_runs_through_the_vector_only() {
    patched_libc();
    let prefix = musl_python();
    let python = prefix.join("bin/python3.11");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scripts/python_modules.py");
    // The guest sees the prefix (its standard library) at the same path.
    let mount = format!("{0}:{0}", prefix.display());
    let argv = [python.to_str().unwrap(), "python_modules.py"];
    compare_with_files_flags(&["--fast-libc", "--mount", &mount], &argv, &[&script], &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&script, dir.path().join("python_modules.py")).unwrap();
    let out = Command::new(HX_RUN)
        .args(["--fast-libc", "--stats", "--mount", &mount])
        .args(argv)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    // Each process prints its own table: the first count of its total row is the trap path's.
    let totals: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("total"))
        .map(|counts| counts.split('/').next().unwrap_or_default().trim())
        .collect();
    assert_eq!(totals, ["0", "0"], "two processes, no trap-path call:\n{stderr}");
}
