//! Shared mappings (`MAP_SHARED`): anonymous shared memory and file
//! mappings shared by forked processes, coherent with the file (reads,
//! writes, `msync`, a second mapping), SIGBUS past the end of the file,
//! process-shared mutexes and semaphores across processes, and POSIX shared
//! memory opened by name in /dev/shm, System V IPC — each compared with a
//! native run.
mod common;

use common::{build, status_code, text, Flavor, HX_RUN};
use std::process::Command;

/// Runs `exe .` natively and in hx, each in a fresh directory; asserts the
/// same stdout and status, and that `file`, which the program wrote there,
/// ends the same. Returns the native stdout.
fn same_with_file(exe: &std::path::Path, file: &str) -> String {
    let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let n = Command::new(exe).arg(".").current_dir(nd.path()).output().unwrap();
    let h = Command::new(HX_RUN).arg(exe).arg(".").current_dir(hd.path()).output().unwrap();
    let what = exe.display();
    assert_eq!(text(&h.stdout), text(&n.stdout), "{what}: stdout differs (stderr under hx: {})", text(&h.stderr));
    assert_eq!(status_code(&h), status_code(&n), "{what}");
    assert_eq!(
        std::fs::read(hd.path().join(file)).unwrap(),
        std::fs::read(nd.path().join(file)).unwrap(),
        "{what}: {file}"
    );
    text(&n.stdout)
}

#[test]
fn shared_mappings_behave_as_on_linux() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        // The file the guest wrote through its mapping is the host's file.
        let out = same_with_file(&build("shmap", flavor, &["-pthread"]), "shared.bin");
        assert!(out.contains("counter from three processes: 6000"));
    }
}

#[test]
fn private_file_mappings_are_copy_on_write_as_on_linux() {
    // hx maps the file's pages copy-on-write rather than copying them in:
    // privacy of writes, fork, the end of the file and reuse of the memory
    // must stay Linux's.
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let out = same_with_file(&build("private_map", flavor, &[]), "private.bin");
        assert!(out.contains("fresh anonymous memory reads zero: 1"));
    }
}

#[test]
fn mappings_larger_than_the_guest_are_backed_at_first_touch() {
    // The guest has 2 GiB: a sparse 4 GiB file mapped shared and 8 GiB of
    // anonymous memory only fit because pages are backed as they are touched.
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("overcommit", flavor, &[]);
        let out = common::compare_in_dirs(&exe, &["file"], None, &[]);
        let out = text(&out.stdout);
        assert!(out.contains("parent sees the child's write: z"), "{out}");
        assert!(out.contains("file byte at 3 GiB: d"), "{out}");
        let out = common::compare_in_dirs(&exe, &["anonymous"], None, &[]);
        let out = text(&out.stdout);
        assert!(out.contains("resident grew by less than 64 MiB: 1"), "{out}");
        assert!(out.contains("reservation: 1 2"), "{out}");
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

/// Futexes in shared memory between processes (each its own VM): a wait
/// with the word unchanged that only a wake ends (LTP's checkpoints), a
/// timeout, EAGAIN, EINTR from a signal, process-shared semaphores, mutexes
/// and condition variables, and a private wake that must not cross — over
/// anonymous shared memory and over a shared file mapping.
#[test]
fn futexes_wait_and_wake_across_processes() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("shared_futex", flavor, &["-pthread"]);
        for args in [&[][..], &["futex-file"][..]] {
            let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let n = Command::new(&exe).args(args).current_dir(nd.path()).output().unwrap();
            let h = Command::new(HX_RUN).arg(&exe).args(args).current_dir(hd.path()).output().unwrap();
            let out = text(&n.stdout);
            assert!(out.contains("checkpoint: woke 1, child status 0"), "natively: {out}");
            assert_eq!(text(&h.stdout), out, "{flavor:?} {args:?} (stderr under hx: {})", text(&h.stderr));
            assert_eq!(status_code(&h), status_code(&n), "{flavor:?} {args:?}");
        }
    }
}

/// System V IPC between processes (each its own VM): segments attached,
/// shared across fork, read-only, removed while attached; semaphores with
/// waiters counted (GETNCNT/GETZCNT), SEM_UNDO at exit, EINTR and EIDRM;
/// message queues by type, blocking senders and receivers, EINTR and EIDRM
/// — compared with a native run (whose objects live in the host's IPC
/// namespace; hx's in the tree's own).
#[test]
fn system_v_ipc_behaves_as_on_linux() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("sysv", flavor, &[]);
        let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = Command::new(&exe).current_dir(nd.path()).output().unwrap();
        let h = Command::new(HX_RUN).arg(&exe).current_dir(hd.path()).output().unwrap();
        let out = text(&n.stdout);
        assert!(out.contains("sem: value after the child's exit: 5"), "natively: {out}");
        assert!(out.contains("shm: /proc/sysvipc/shm lists it: 1"), "natively: {out}");
        assert_eq!(text(&h.stdout), out, "{flavor:?} (stderr under hx: {})", text(&h.stderr));
        assert_eq!(status_code(&h), status_code(&n), "{flavor:?}");
    }
}

/// POSIX message queues between processes: attributes, priority order,
/// size and priority checks, O_EXCL, non-blocking mode, timeouts, a receive
/// woken by another process's send, poll and read of the descriptor,
/// mq_notify's one registered process, unlink — compared with a native run
/// (whose queues are the host's; hx's live in the tree's IPC namespace).
#[test]
fn posix_message_queues_behave_as_on_linux() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("mqueue", flavor, &["-lrt"]);
        let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = Command::new(&exe).current_dir(nd.path()).output().unwrap();
        let h = Command::new(HX_RUN).arg(&exe).current_dir(hd.path()).output().unwrap();
        let out = text(&n.stdout);
        assert!(out.contains("blocking receive: 14 'from the child' prio 7"), "natively: {out}");
        assert!(out.contains("receive: 5 'five!' prio 5"), "natively: {out}");
        assert_eq!(text(&h.stdout), out, "{flavor:?} (stderr under hx: {})", text(&h.stderr));
        assert_eq!(status_code(&h), status_code(&n), "{flavor:?}");
    }
}
