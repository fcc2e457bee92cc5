//! Files whose text the kernel makes when they are opened: what Linux's
//! sysfs says about the CPUs (which the C libraries read to count them).
use super::stat::Stat;
use crate::errno::{Errno, SysResult, EINVAL};
use crate::mm;
use alloc::vec::Vec;
use spin::Mutex;

pub struct Generated {
    text: Vec<u8>,
    offset: Mutex<u64>,
}

pub const S_IFREG: u32 = 0o100000;

/// The text of generated file `path` (tidied), if it is one.
pub fn lookup(path: &[u8]) -> Option<Generated> {
    let text = match path {
        b"/sys/devices/system/cpu/online"
        | b"/sys/devices/system/cpu/possible"
        | b"/sys/devices/system/cpu/present" => cpu_list(crate::sched::ncpus()),
        _ => return None,
    };
    Some(Generated { text, offset: Mutex::new(0) })
}

/// Linux's CPU list format: "0" or "0-3", with a newline.
fn cpu_list(n: usize) -> Vec<u8> {
    let mut s = Vec::from(&b"0"[..]);
    if n > 1 {
        s.push(b'-');
        s.extend_from_slice(decimal(n as u64 - 1).as_slice());
    }
    s.push(b'\n');
    s
}

fn decimal(mut v: u64) -> Vec<u8> {
    let mut digits = Vec::new();
    loop {
        digits.push(b'0' + (v % 10) as u8);
        v /= 10;
        if v == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

impl Generated {
    pub fn read(&self, buf: u64, count: u64, at: Option<u64>) -> SysResult {
        let mut offset = self.offset.lock();
        let start = at.unwrap_or(*offset).min(self.text.len() as u64) as usize;
        let n = (count as usize).min(self.text.len() - start);
        mm::copy_to_user(buf, &self.text[start..start + n])?;
        if at.is_none() {
            *offset = (start + n) as u64;
        }
        Ok(n as u64)
    }

    pub fn seek(&self, off: u64, whence: u64) -> SysResult {
        let mut offset = self.offset.lock();
        let new = match whence {
            0 => off as i64,
            1 => *offset as i64 + off as i64,
            2 => self.text.len() as i64 + off as i64,
            _ => return Err(EINVAL),
        };
        if new < 0 {
            return Err(EINVAL);
        }
        *offset = new as u64;
        Ok(new as u64)
    }

    /// sysfs files report a size of 4096 whatever they hold.
    pub fn stat(&self) -> Result<Stat, Errno> {
        Ok(Stat { mode: S_IFREG | 0o444, nlink: 1, size: 4096, blksize: 4096, ino: 3000, ..Default::default() })
    }
}
