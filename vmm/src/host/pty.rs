//! Pseudo-terminals for the guest: `/dev/ptmx` opens a new host pty master
//! (the host's line discipline does the terminal's work: echo, canonical
//! mode, signals characters, window size), and `/dev/pts/N` its slave —
//! only for a pty this monitor made (inherited by its forked children), so
//! the guest never reaches another program's terminal. Nothing else of
//! the host's `/dev` is visible.
use crate::sandbox::Errno;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Pty masters one monitor may open in its life: the host's ptys are shared
/// by all its programs (`kernel.pty.max`), a guest must not use them up.
const MAX_MASTERS: usize = 256;

/// A path naming a pty device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtyPath {
    Master,
    Slave(u32),
    /// `/dev/tty`: the caller's controlling terminal.
    Controlling,
}

/// `/dev/ptmx`, `/dev/pts/N` (N in decimal, no sign, no leading zero) or `/dev/tty`.
pub fn parse(path: &[u8]) -> Option<PtyPath> {
    if path == b"/dev/ptmx" {
        return Some(PtyPath::Master);
    }
    if path == b"/dev/tty" {
        return Some(PtyPath::Controlling);
    }
    let digits = path.strip_prefix(b"/dev/pts/")?;
    if digits.is_empty() || digits.len() > 9 || (digits.starts_with(b"0") && digits.len() > 1) {
        return None;
    }
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(PtyPath::Slave(n))
}

#[derive(Default)]
pub struct Ptys {
    /// The numbers of the ptys this monitor (or its parent, before the fork) made.
    made: BTreeSet<u32>,
    opened: usize,
}

impl Ptys {
    /// Opens `which` with the guest's open `flags` (access mode and
    /// O_NONBLOCK count; a pty never becomes the monitor's controlling
    /// terminal). The guest path comes back with the descriptor.
    pub fn open(&mut self, which: PtyPath, flags: i32) -> Result<(OwnedFd, Vec<u8>), Errno> {
        if flags & libc::O_DIRECTORY != 0 {
            return Err(libc::ENOTDIR);
        }
        let keep = flags & (libc::O_ACCMODE | libc::O_NONBLOCK);
        let host_flags = keep | libc::O_NOCTTY | libc::O_CLOEXEC;
        match which {
            PtyPath::Master => {
                if self.opened >= MAX_MASTERS {
                    return Err(libc::ENOSPC);
                }
                let fd = open_host(b"/dev/ptmx", host_flags)?;
                let mut n: libc::c_uint = 0;
                // SAFETY: TIOCGPTN writes the pty's number into the int we own.
                if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) } != 0 {
                    return Err(errno());
                }
                self.opened += 1;
                self.made.insert(n);
                MASTER_OPENED.store(true, std::sync::atomic::Ordering::Relaxed);
                Ok((fd, b"/dev/ptmx".to_vec()))
            }
            PtyPath::Slave(n) => {
                if !self.made.contains(&n) {
                    return Err(libc::ENOENT);
                }
                let path = format!("/dev/pts/{n}").into_bytes();
                Ok((open_host(&path, host_flags)?, path))
            }
            PtyPath::Controlling => {
                // The session's terminal if it is one of this monitor's
                // ptys; a session without one (the host's terminal is never
                // the guest's) gets ENXIO, as on Linux.
                let slave = crate::host::process::controlling_terminal().and_then(slave_number).ok_or(libc::ENXIO)?;
                let (fd, _) = self.open(PtyPath::Slave(slave), flags)?;
                Ok((fd, b"/dev/tty".to_vec()))
            }
        }
    }

    /// `stat` of a pty device the guest may see.
    pub fn stat(&self, which: PtyPath) -> Result<(libc::stat, Vec<u8>), Errno> {
        let path = match which {
            PtyPath::Master => b"/dev/ptmx".to_vec(),
            PtyPath::Slave(n) if self.made.contains(&n) => format!("/dev/pts/{n}").into_bytes(),
            PtyPath::Slave(_) => return Err(libc::ENOENT),
            PtyPath::Controlling => return Ok((controlling_stat(), b"/dev/tty".to_vec())),
        };
        let c = CString::new(path.clone()).map_err(|_| libc::EINVAL)?;
        // SAFETY: an all-zero stat is valid; stat writes into it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a NUL-terminated path and a stat we own.
        if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
            return Err(errno());
        }
        Ok((st, path))
    }
}

/// What Linux's `stat("/dev/tty")` reports, whoever asks: character device
/// 5:0, readable and writable by all.
fn controlling_stat() -> libc::stat {
    // SAFETY: an all-zero stat is valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    st.st_mode = libc::S_IFCHR | 0o666;
    st.st_nlink = 1;
    st.st_rdev = libc::makedev(5, 0);
    st.st_blksize = 4096;
    st.st_ino = 11;
    st
}

/// The number N of `/dev/pts/N` for host device number `rdev`, if it is a
/// Unix98 pty slave (majors 136–143).
fn slave_number(rdev: u64) -> Option<u32> {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    (136..=143).contains(&major).then(|| (major - 136) * 256 + minor)
}

fn open_host(path: &[u8], flags: i32) -> Result<OwnedFd, Errno> {
    let c = CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: a NUL-terminated path; the descriptor is owned from here on.
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: `fd` was just opened and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Whether this monitor made a pty master: before that, no write needs a look.
static MASTER_OPENED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this monitor (or the one it was forked from) made a pty master:
/// only then may a write need [`line_signals`] (checked before the written
/// bytes are even gathered: every stream write passes here).
pub fn master_opened() -> bool {
    MASTER_OPENED.load(std::sync::atomic::Ordering::Relaxed)
}

/// What a pty master's line discipline does for the guest's sessions: a
/// signal character (`VINTR`, `VQUIT`, `VSUSP`, with `ISIG` on) written to
/// the master signals the foreground process group of the session whose
/// controlling terminal is its slave. The host's line discipline still
/// echoes the character and flushes the input, but cannot signal: the
/// guest's sessions and process groups live in the monitor's process
/// table, not on the host. `written`: the bytes the host took.
pub fn line_signals(fd: std::os::fd::RawFd, written: &[&[u8]]) {
    // Signal characters are control characters (an `stty intr x` to a
    // printable one is not followed): other writes cost nothing more.
    let control = |b: &u8| *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r') || *b == 0x7f;
    if !written.iter().any(|part| part.iter().any(control)) {
        return;
    }
    if char_device(fd) != Some(libc::makedev(5, 2)) {
        return;
    }
    // SAFETY: an all-zero termios is valid; tcgetattr fills it (the slave's settings).
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: as above, on a descriptor we hold.
    if unsafe { libc::tcgetattr(fd, &mut t) } != 0 || t.c_lflag & libc::ISIG == 0 {
        return;
    }
    let Some(slave) = slave_of_master(fd) else { return };
    let chars = [(libc::VINTR, libc::SIGINT), (libc::VQUIT, libc::SIGQUIT), (libc::VSUSP, libc::SIGTSTP)];
    for &b in written.iter().flat_map(|part| part.iter()) {
        // _POSIX_VDISABLE (0) turns a character off.
        let found = chars.iter().find(|(at, _)| b != 0 && t.c_cc.get(*at) == Some(&b));
        if let Some(&(_, sig)) = found {
            crate::host::process::signal_foreground(slave, sig as u64);
        }
    }
}

/// The device number of a character device (`None`: another kind of file).
fn char_device(fd: std::os::fd::RawFd) -> Option<u64> {
    // SAFETY: an all-zero stat is valid; fstat fills it for a descriptor we hold.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    ok.then_some(st.st_rdev)
}

/// The device number of the slave of the pty master `fd`.
fn slave_of_master(fd: std::os::fd::RawFd) -> Option<u64> {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes the pty's number into the int we own.
    (unsafe { libc::ioctl(fd, libc::TIOCGPTN, &mut n) } == 0).then(|| libc::makedev(136 + n / 256, n % 256))
}

/// A terminal's window size (`struct winsize`'s 8 bytes), if `fd` is one.
pub fn window_size(fd: std::os::fd::RawFd) -> Option<Vec<u8>> {
    let mut w = [0u8; 8];
    // SAFETY: TIOCGWINSZ writes a struct winsize (8 bytes) into the buffer we own.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, w.as_mut_ptr()) } == 0).then(|| w.to_vec())
}

/// A pty's window size changed (`TIOCSWINSZ` on its master or slave):
/// SIGWINCH to the foreground process group of the session it is the
/// controlling terminal of, as Linux sends it.
pub fn resized(fd: std::os::fd::RawFd) {
    let slave = match char_device(fd) {
        Some(rdev) if rdev == libc::makedev(5, 2) => slave_of_master(fd),
        Some(rdev) if slave_number(rdev).is_some() => Some(rdev),
        _ => None,
    };
    if let Some(slave) = slave {
        crate::host::process::signal_foreground(slave, libc::SIGWINCH as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_master_and_numbered_slaves_are_pty_paths() {
        assert_eq!(parse(b"/dev/ptmx"), Some(PtyPath::Master));
        assert_eq!(parse(b"/dev/pts/0"), Some(PtyPath::Slave(0)));
        assert_eq!(parse(b"/dev/pts/17"), Some(PtyPath::Slave(17)));
        assert_eq!(parse(b"/dev/tty"), Some(PtyPath::Controlling));
        for no in [&b"/dev/pts/"[..], b"/dev/pts/01", b"/dev/pts/-1", b"/dev/pts/ptmx", b"/dev/pts/1/x", b"/dev/tty0"] {
            assert_eq!(parse(no), None, "{}", String::from_utf8_lossy(no));
        }
    }

    #[test]
    fn a_slave_this_monitor_did_not_make_is_not_there() {
        let ptys = Ptys::default();
        assert_eq!(ptys.stat(PtyPath::Slave(0)).err(), Some(libc::ENOENT));
        let mut ptys = ptys;
        assert_eq!(ptys.open(PtyPath::Slave(0), libc::O_RDWR).err(), Some(libc::ENOENT));
    }
}
