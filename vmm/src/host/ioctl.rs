//! One `IOCTL` request, checked against `hx_abi::ioctl`'s table: the
//! argument's shape, and for a structure the command reads, its bytes
//! (exactly the table's size). Run under the monitor's lock when the
//! command cannot wait, or without it (`BlockingCall::Ioctl`) when it may:
//! `tcdrain` on a pty waits for the other end, which may need the lock.
use super::files::sys;
use super::guest::Segs;
use crate::sandbox::Errno;
use hx_abi::ioctl::{Arg, MAX_ARG};
use std::os::fd::RawFd;

pub struct Ioctl {
    cmd: u64,
    value: u64,
    arg: Arg,
    buf: [u8; MAX_ARG],
}

impl Ioctl {
    /// `cmd` with its by-value `value` or its structure in segment 0.
    pub fn checked(segs: &Segs, cmd: u64, value: u64) -> Result<Self, Errno> {
        let arg = hx_abi::ioctl::arg_of(cmd).ok_or(libc::ENOTTY)?;
        let mut buf = [0u8; MAX_ARG];
        let size = match arg {
            Arg::In(n) | Arg::Out(n) => n,
            Arg::Value => 0,
        };
        if size > 0 && segs.get(0).map(|s| s.len) != Some(size as u64) {
            return Err(libc::EFAULT);
        }
        if let Arg::In(n) = arg {
            buf.get_mut(..n).ok_or(libc::EINVAL)?.copy_from_slice(&segs.bytes(0, n, libc::EFAULT)?);
        }
        Ok(Self { cmd, value, arg, buf })
    }

    /// Runs it on host descriptor `fd`.
    pub fn run(&mut self, fd: RawFd) -> Result<i64, Errno> {
        let (cmd, value) = (self.cmd, self.value);
        let buf = self.buf.as_mut_ptr();
        match self.arg {
            // SAFETY: a command whose argument is an integer, passed as one.
            Arg::Value => sys(|| unsafe { libc::ioctl(fd, cmd, value as libc::c_ulong) } as isize),
            // SAFETY: the command reads or writes at most its table size, which `buf` holds.
            Arg::In(_) | Arg::Out(_) => sys(|| unsafe { libc::ioctl(fd, cmd, buf) } as isize),
        }
    }

    /// Copies what the command wrote into segment 0.
    pub fn write_back(&self, segs: &Segs) -> Result<(), Errno> {
        if let Arg::Out(n) = self.arg {
            segs.write(0, self.buf.get(..n).ok_or(libc::EINVAL)?)?;
        }
        Ok(())
    }
}
