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
