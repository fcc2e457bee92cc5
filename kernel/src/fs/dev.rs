//! Devices the kernel serves without the host: reading `/dev/zero` or
//! writing `/dev/null` costs no exit.
use super::stat::{Stat, S_IFCHR};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    Null,
    Zero,
    Full,
    Random,
}

impl Device {
    /// A small number naming the device across `execve`.
    pub fn code(self) -> u64 {
        match self {
            Device::Null => 0,
            Device::Zero => 1,
            Device::Full => 2,
            Device::Random => 3,
        }
    }

    pub fn from_code(code: u64) -> Option<Self> {
        [Device::Null, Device::Zero, Device::Full, Device::Random].get(code as usize).copied()
    }

    /// The path Linux names it by (`/proc/self/fd`).
    pub fn path(self) -> &'static [u8] {
        match self {
            Device::Null => b"/dev/null",
            Device::Zero => b"/dev/zero",
            Device::Full => b"/dev/full",
            Device::Random => b"/dev/urandom",
        }
    }
}

/// The device at guest path `path` (already tidied), if it is one of ours.
pub fn lookup(path: &[u8]) -> Option<Device> {
    match path {
        b"/dev/null" => Some(Device::Null),
        b"/dev/zero" => Some(Device::Zero),
        b"/dev/full" => Some(Device::Full),
        b"/dev/random" | b"/dev/urandom" => Some(Device::Random),
        _ => None,
    }
}

/// Linux's device numbers for these, so `stat` tells the truth about them.
pub fn stat(d: Device) -> Stat {
    let minor = match d {
        Device::Null => 3,
        Device::Zero => 5,
        Device::Full => 7,
        Device::Random => 9,
    };
    Stat {
        mode: S_IFCHR | 0o666,
        nlink: 1,
        rdev: (1 << 8) | minor,
        blksize: 4096,
        ino: 1000 + minor,
        ..Default::default()
    }
}
