//! Host requests under load, through the ring and through exits: many
//! threads on several vCPUs make file requests at once; every record comes
//! back intact, every count is right (no request lost, served twice or
//! answered to another thread), and the output matches a native run.
mod common;

use common::{build, status_code, text, Flavor, HX_RUN};
use std::process::Command;

fn run(hx: bool, exe: &str, dir: &std::path::Path, threads: &str, rounds: &str) -> std::process::Output {
    let d = dir.to_str().unwrap();
    let mut cmd = if hx {
        let mut c = Command::new(HX_RUN);
        c.args(["--cpus", "2", "--mount", &format!("{d}:{d}:rw"), exe, d, threads, rounds]);
        c
    } else {
        let mut c = Command::new(exe);
        c.args([d, threads, rounds]);
        c
    };
    cmd.output().unwrap()
}

#[test]
fn many_threads_making_requests_at_once_lose_none_and_get_their_own_answers() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("requests", flavor, &["-pthread"]);
        let exe = exe.to_str().unwrap();
        let (nd, hd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let n = run(false, exe, nd.path(), "16", "300");
        let h = run(true, exe, hd.path(), "16", "300");
        assert_eq!(
            text(&h.stdout),
            text(&n.stdout),
            "{flavor:?}: stdout differs (stderr under hx: {})",
            text(&h.stderr)
        );
        assert!(text(&n.stdout).contains("errors 0"));
        assert!(!text(&h.stdout).contains("errors 1"), "{}", text(&h.stdout));
        assert_eq!(status_code(&h), status_code(&n));
        // Both files are byte for byte the same.
        assert!(std::fs::read(nd.path().join("shared")).unwrap() == std::fs::read(hd.path().join("shared")).unwrap());
    }
}

#[test]
fn the_ring_carries_requests_and_an_idle_guest_costs_no_host_cpu() {
    // A start-up's file requests mostly travel without an exit...
    let out = Command::new(HX_RUN).args(["--stats", "/bin/ls", "/"]).output().unwrap();
    let err = text(&out.stderr);
    let count = |key: &str| -> u64 {
        err.lines()
            .find_map(|l| l.split_once(key).and_then(|(_, v)| v.split_whitespace().next()?.parse().ok()))
            .unwrap_or_else(|| panic!("no {key:?} in {err}"))
    };
    let (exits, polled) = (count("exits to the host:"), count("served without an exit:"));
    // How many depends on the host CPU the poller gets (tests run side by side here).
    assert!(polled > 0, "{exits} exits, {polled} without: {err}");
    // ...and a guest that sleeps keeps no host CPU busy (the poller sleeps too).
    // Reaped by wait4 below, which also reports its CPU time: without the
    // front process, whose CPU time would not include the monitor's.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(HX_RUN).args(["--front=off", "/bin/sleep", "2"]).spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(r > 0 && status == 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = secs(usage.ru_utime) + secs(usage.ru_stime);
    assert!(used < 0.3, "an idle 2 s guest used {used:.3} s of host CPU");
}
