//! Shared mappings (`MAP_SHARED`): anonymous shared memory and file
//! mappings shared by forked processes, coherent with the file (reads,
//! writes, `msync`, a second mapping), SIGBUS past the end of the file,
//! process-shared mutexes and semaphores across processes, and POSIX shared
//! memory opened by name in /dev/shm — each compared with a native run.
mod common;

use common::{build, status_code, text, Flavor, HX_RUN};
use std::process::Command;

#[test]
fn shared_mappings_behave_as_on_linux() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("shmap", flavor, &["-pthread"]);
        let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = Command::new(&exe).arg(".").current_dir(nd.path()).output().unwrap();
        let h = Command::new(HX_RUN).arg(&exe).arg(".").current_dir(hd.path()).output().unwrap();
        assert_eq!(
            text(&h.stdout),
            text(&n.stdout),
            "{flavor:?}: stdout differs (stderr under hx: {})",
            text(&h.stderr)
        );
        assert_eq!(status_code(&h), status_code(&n), "{flavor:?}");
        assert!(text(&n.stdout).contains("counter from three processes: 6000"));
        // The file the guest wrote through its mapping is the host's file.
        assert_eq!(
            std::fs::read(hd.path().join("shared.bin")).unwrap(),
            std::fs::read(nd.path().join("shared.bin")).unwrap()
        );
    }
}

#[test]
fn private_file_mappings_are_copy_on_write_as_on_linux() {
    // hx maps the file's pages copy-on-write rather than copying them in:
    // privacy of writes, fork, the end of the file and reuse of the memory
    // must stay Linux's.
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("private_map", flavor, &[]);
        let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = Command::new(&exe).arg(".").current_dir(nd.path()).output().unwrap();
        let h = Command::new(HX_RUN).arg(&exe).arg(".").current_dir(hd.path()).output().unwrap();
        assert_eq!(text(&h.stdout), text(&n.stdout), "{flavor:?} (stderr under hx: {})", text(&h.stderr));
        assert_eq!(status_code(&h), status_code(&n), "{flavor:?}");
        assert!(text(&n.stdout).contains("fresh anonymous memory reads zero: 1"));
        assert_eq!(
            std::fs::read(hd.path().join("private.bin")).unwrap(),
            std::fs::read(nd.path().join("private.bin")).unwrap()
        );
    }
}

#[test]
fn memfd_create_is_a_file_in_memory() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("memfd", flavor, &[]);
        let n = Command::new(&exe).output().unwrap();
        let h = Command::new(HX_RUN).arg(&exe).output().unwrap();
        assert_eq!(text(&h.stdout), text(&n.stdout), "{flavor:?} (stderr under hx: {})", text(&h.stderr));
        assert_eq!(status_code(&h), status_code(&n));
    }
}

#[test]
fn a_proc_file_redirected_into_an_execd_program_keeps_its_text() {
    // The shell opens /proc/cpuinfo (a file the guest kernel makes) and execs
    // grep with it as stdin: it crosses execve as a memory file.
    let script = "a=$(grep -c ^processor < /proc/cpuinfo); b=$(grep -c ^processor /proc/cpuinfo); \
                  [ \"$a\" = \"$b\" ] && [ \"$a\" -ge 1 ] && echo same: $a";
    let h = Command::new(HX_RUN).args(["/bin/sh", "-c", script]).output().unwrap();
    assert!(text(&h.stdout).starts_with("same: "), "{} {}", text(&h.stdout), text(&h.stderr));
}

#[test]
fn record_locks_and_flock_conflict_between_processes() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("locks", flavor, &[]);
        let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = Command::new(&exe).current_dir(nd.path()).output().unwrap();
        let h = Command::new(HX_RUN).arg(&exe).current_dir(hd.path()).output().unwrap();
        assert_eq!(text(&h.stdout), text(&n.stdout), "{flavor:?} (stderr under hx: {})", text(&h.stderr));
        assert!(text(&n.stdout).contains("child setlk: -1"), "{}", text(&n.stdout));
        assert_eq!(status_code(&h), status_code(&n));
    }
}
