//! Static binaries at full breadth: C (glibc and musl, PIE or not, -O0 and
//! -O2), C++ and Fortran programs behave inside hx exactly as natively.
mod common;

use common::*;

/// Every C flavour at both optimisation levels.
fn c_builds(name: &str) -> Vec<std::path::PathBuf> {
    Flavor::ALL.iter().flat_map(|&f| [build(name, f, &["-O0"]), build(name, f, &["-O2"])]).collect()
}

#[test]
fn argv_environment_and_auxv_match_native() {
    for prog in c_builds("args_env") {
        let args = ["plain", "with space", "", "ünïcødé", "--flag=1"];
        let n = native(&prog, &args, &[("HX_ONE", "1"), ("HX_TWO", "two words")]);
        let h = hx(&[], &prog, &args, &[("HX_ONE", "1"), ("HX_TWO", "two words")]);
        assert_same("args_env", &n, &h);
    }
}

#[test]
fn stdin_from_a_pipe_matches_native() {
    let input: Vec<u8> = (0..20000).map(|i| b"hello hx\nsecond line\n"[i % 21]).collect();
    for prog in c_builds("stdin_pipe") {
        compare_in_dirs(&prog, &[], Some(&input), &[]);
    }
}

#[test]
fn file_operations_in_a_read_write_directory_match_native() {
    for prog in c_builds("files") {
        let out = compare_in_dirs(&prog, &[], None, &[]);
        let out = text(&out.stdout);
        assert!(out.contains("rmdir: 0") && out.contains("big read: 819200, same: 1"), "{out}");
    }
}

#[test]
fn memory_allocation_and_mappings_match_native() {
    for prog in c_builds("memory") {
        compare_in_dirs(&prog, &[], None, &[]);
    }
}

#[test]
fn pipes_poll_and_select_match_native() {
    for prog in c_builds("pipes") {
        let out = compare_in_dirs(&prog, &[], None, &[]);
        assert!(text(&out.stdout).contains("read: 5 hello"), "{}", text(&out.stdout));
    }
}

#[test]
fn thread_local_variables_match_native() {
    for prog in c_builds("tls") {
        compare_in_dirs(&prog, &[], None, &[]);
    }
}

#[test]
fn clocks_are_monotonic_and_sleeps_last() {
    for prog in c_builds("clock") {
        let out = compare_in_dirs(&prog, &[], None, &[]);
        assert!(text(&out.stdout).contains("nanosleep 50 ms: ok"));
    }
}

/// The kernel's clocks start from an anchor the monitor reads as it boots
/// the VM (no exit): a program's first reads lie between the host's clocks
/// read before and after the run.
#[test]
fn a_programs_first_clock_reads_are_the_hosts() {
    let now = |clock| {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime into a timespec we own.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec * 1_000_000_000 + ts.tv_nsec
    };
    for prog in c_builds("clock") {
        let (rt0, mono0) = (now(libc::CLOCK_REALTIME), now(libc::CLOCK_MONOTONIC));
        let out = std::process::Command::new(HX_RUN).arg(&prog).arg("now").output().unwrap();
        let (rt1, mono1) = (now(libc::CLOCK_REALTIME), now(libc::CLOCK_MONOTONIC));
        let line = text(&out.stdout);
        let read: Vec<i64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        assert_eq!(read.len(), 2, "{}: {line} {}", prog.display(), text(&out.stderr));
        assert!((rt0..=rt1).contains(&read[0]), "realtime {} not within the run [{rt0}, {rt1}]", read[0]);
        assert!((mono0..=mono1).contains(&read[1]), "monotonic {} not within the run [{mono0}, {mono1}]", read[1]);
    }
}

#[test]
fn cxx_exceptions_and_iostreams_match_native() {
    for flavor in [Flavor::CxxStatic, Flavor::CxxStaticPie] {
        for opt in ["-O0", "-O2"] {
            let prog = build("exceptions", flavor, &[opt]);
            let out = compare_in_dirs(&prog, &[], None, &[]);
            assert!(text(&out.stdout).contains("caught: bottom reached"));
        }
    }
}

#[test]
fn fortran_formatted_output_matches_native() {
    for opt in ["-O0", "-O2"] {
        let prog = build("formatted", Flavor::FortranStatic, &[opt]);
        let out = compare_in_dirs(&prog, &[], None, &[]);
        assert!(text(&out.stdout).contains("roots"));
    }
}

#[test]
fn a_guest_out_of_memory_gets_enomem() {
    for flavor in [Flavor::GlibcStatic, Flavor::MuslStatic] {
        let prog = build("oom", flavor, &[]);
        let out = hx(&["--memory", "64M"], &prog, &[], &[]);
        let stdout = text(&out.stdout);
        assert_eq!(status_code(&out), 0, "{stdout} {}", text(&out.stderr));
        let mib: u32 = stdout.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect(&stdout);
        assert!(mib > 8 && mib < 64, "{stdout}");
        assert!(stdout.contains("Cannot allocate memory") || stdout.contains("Out of memory"), "{stdout}");
    }
}

/// Guest RAM reaches the vCPUs through KVM memory slots that grow as the
/// kernel hands out frames (vmm/src/slots.rs): a program using most of RAM
/// from the bottom (small allocations) and the top (2 MiB frames) until the
/// two parts meet reads back every byte it wrote, as natively, after only a
/// few `MEMORY` requests (the parts at least double each time).
#[test]
fn most_of_guest_ram_is_usable_from_both_ends() {
    let prog = build("ram_use", Flavor::GlibcStatic, &["-O2"]);
    let args = ["150", "300"];
    let n = native(&prog, &args, &[]);
    let h = hx(&["--memory", "512M", "--stats"], &prog, &args, &[]);
    let stderr = text(&h.stderr);
    assert_eq!(text(&n.stdout), text(&h.stdout), "{stderr}");
    assert_eq!((status_code(&n), status_code(&h)), (0, 0), "{stderr}");
    let exits = stderr.lines().find(|l| l.contains("exits to the host:")).expect(&stderr);
    let requests: u64 =
        exits.split(['(', ',', ')']).find_map(|part| part.trim().strip_prefix("memory ")?.parse().ok()).unwrap_or(0);
    assert!((1..=16).contains(&requests), "{requests} MEMORY requests: {exits}");
}

#[test]
fn writes_outside_a_read_write_mount_fail_with_erofs() {
    let prog = build("files", Flavor::GlibcStatic, &[]);
    let dir = tempfile::tempdir().unwrap();
    // The working directory mounted read-only: every write the program tries fails.
    let mount = format!("{}:{}:ro", dir.path().display(), dir.path().display());
    let out = {
        let mut cmd = std::process::Command::new(HX_RUN);
        cmd.args(["--mount", &mount]).arg(&prog).current_dir(dir.path());
        cmd.output().unwrap()
    };
    assert_eq!(status_code(&out), 1, "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("Read-only file system"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was written");
}
