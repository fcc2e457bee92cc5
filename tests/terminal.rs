//! hx-run at a terminal: what the terminal's keys do to the guest's
//! processes, compared with the same program run natively on a pty.
mod common;

use common::*;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A pseudo-terminal without echo: (master, slave).
fn pty() -> (std::fs::File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two new descriptors into the ints we own.
    let r = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned from here on.
    let (master, slave) = unsafe { (std::fs::File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    // SAFETY: tcgetattr/tcsetattr on the slave we own, with a termios we own.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave.as_raw_fd(), &mut t), 0);
        t.c_lflag &= !libc::ECHO;
        assert_eq!(libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t), 0);
    }
    (master, slave)
}

/// Runs `argv` as the foreground job of a new terminal session, types
/// `key` once it printed "ready", and returns all it printed and its status.
fn at_terminal(argv: &[&str], key: u8) -> (String, i32) {
    let (mut master, slave) = pty();
    let fd = slave.as_raw_fd();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    // SAFETY: between fork and exec: setsid, ioctl, signal and sigprocmask
    // are async-signal-safe; the slave becomes the controlling terminal of
    // the new session, and the keys' signals get their default actions (a
    // test run in the background inherits them ignored).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(fd, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in [libc::SIGINT, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
                libc::sigaddset(&mut set, sig);
            }
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let stdio = || Stdio::from(slave.try_clone().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut child = cmd.current_dir(dir.path()).stdin(stdio()).stdout(stdio()).stderr(stdio()).spawn().unwrap();
    // The master reads EOF (EIO) once no process holds the slave: ours go.
    drop(cmd);
    drop(slave);
    let mut out = Vec::new();
    let mut typed = false;
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        // EIO once every holder of the slave is gone.
        let n = master.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        // The whole line first: the terminal drops output it has not passed
        // on yet when it sends the signal (a newline still on its way was lost).
        if !typed && String::from_utf8_lossy(&out).contains("ready\r\n") {
            master.write_all(&[key]).unwrap();
            typed = true;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "{argv:?} still running: {}", text(&out));
    }
    let status = child.wait().unwrap();
    (text(&out).replace("\r\n", "\n"), status_code(&std::process::Output { status, stdout: vec![], stderr: vec![] }))
}

#[test]
fn ctrl_c_reaches_the_foreground_process_group_only() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let prog = build("ctrl_c_groups", flavor, &[]);
        let prog = prog.to_str().unwrap();
        let native = at_terminal(&[prog], 3);
        assert!(native.0.contains("child in its own session: no SIGINT"), "natively: {}", native.0);
        let hx = at_terminal(&[HX_RUN, prog], 3);
        assert_eq!(hx, native, "{flavor:?}: under hx-run (left) and natively (right)");
    }
}

#[test]
fn ctrl_backslash_quits_the_foreground_process_group() {
    let prog = build("ctrl_c_groups", Flavor::GlibcDynamic, &[]);
    let prog = prog.to_str().unwrap();
    // SIGQUIT's default action: the parent and its child in the group die.
    let native = at_terminal(&[prog], 0x1c);
    assert_eq!(native.1, 128 + libc::SIGQUIT, "natively: {native:?}");
    // hx-run reports the first process's death by a core-dumping signal (no
    // shell reports it here as "Quit"): that line aside, the same.
    let (out, status) = at_terminal(&[HX_RUN, prog], 0x1c);
    let out: String = out.lines().filter(|l| !l.starts_with("hx-run: ")).map(|l| format!("{l}\n")).collect();
    assert_eq!((out, status), native, "under hx-run (left) and natively (right)");
}

/// The guest's own ptys (tests/programs/pty_signals.c): ^C, ^\ and ^Z
/// written to a master signal the foreground group of the session the slave
/// is the controlling terminal of, a new window size sends SIGWINCH (the
/// same size again nothing), a background group gets none, and with ISIG
/// off ^C is a byte. In hx none of these signals came: the guest's
/// sessions live in the monitor, which the host's line discipline cannot
/// signal (a shell under `script` could not interrupt its command).
#[test]
fn the_guests_ptys_signal_their_foreground_group() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let prog = build("pty_signals", flavor, &[]);
        let n = Command::new(&prog).output().unwrap();
        assert!(text(&n.stdout).contains("^C: Interrupt\n"), "natively: {}", text(&n.stdout));
        let h = Command::new(HX_RUN).arg(&prog).output().unwrap();
        assert_eq!(text(&h.stdout), text(&n.stdout), "{flavor:?}: hx stderr: {}", text(&h.stderr));
        assert_eq!(status_code(&h), status_code(&n));
    }
}
