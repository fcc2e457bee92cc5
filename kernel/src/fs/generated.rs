//! Files and directories whose contents the kernel makes: what Linux's sysfs
//! says about the CPUs (which the C libraries read to count them) and the
//! guest's `/proc` (`fs::proc`). A file's text is made when it is read from
//! its start, a directory's entries when they are listed from the first, so
//! a file kept open and read again from offset 0 shows the present, as
//! Linux's seq_file does.
use super::stat::Stat;
use crate::errno::{Errno, SysResult, EBADF, EINVAL, EISDIR, ENOTDIR};
use crate::mm;
use alloc::boxed::Box;
use alloc::vec::Vec;
use spin::Mutex;

pub const S_IFREG: u32 = 0o100000;

/// Linux's `d_type` values.
pub const DT_DIR: u8 = 4;
pub const DT_REG: u8 = 8;
pub const DT_LNK: u8 = 10;

pub struct DirEntry {
    pub ino: u64,
    pub kind: u8,
    pub name: Vec<u8>,
}

pub type MakeText = Box<dyn Fn() -> Vec<u8> + Send + Sync>;
pub type MakeEntries = Box<dyn Fn() -> Vec<DirEntry> + Send + Sync>;
/// Makes the bytes at an offset, at most a length, of a file too large to
/// make whole (`/proc/self/pagemap`: 8 bytes per page of the address space).
pub type MakeRange = Box<dyn Fn(u64, usize) -> Result<Vec<u8>, Errno> + Send + Sync>;
/// Takes what a program writes to a writable generated file.
pub type Store = alloc::sync::Arc<dyn Fn(&[u8]) -> Result<(), Errno> + Send + Sync>;

pub enum Body {
    Text(MakeText),
    Dir(MakeEntries),
    Range(MakeRange),
}

/// What was made at the last read from the start.
enum Made {
    Nothing,
    Text(Vec<u8>),
    Entries(Vec<DirEntry>),
}

pub struct Generated {
    body: Body,
    stat: Stat,
    /// What a write returns (EBADF unless the file was opened for writing).
    write_error: Errno,
    /// A file that takes writes (`/proc/<pid>/oom_score_adj`).
    store: Option<Store>,
    state: Mutex<(u64, Made)>,
}

/// The generated file at `path` (tidied) outside `/proc`, if it is one.
pub fn lookup(path: &[u8]) -> Option<Generated> {
    match path {
        b"/sys/devices/system/cpu/online"
        | b"/sys/devices/system/cpu/possible"
        | b"/sys/devices/system/cpu/present" => {
            // sysfs files report a size of 4096 whatever they hold.
            let stat =
                Stat { mode: S_IFREG | 0o444, nlink: 1, size: 4096, blksize: 4096, ino: 3000, ..Default::default() };
            Some(Generated::new(Body::Text(Box::new(|| cpu_list(crate::sched::ncpus()))), stat, EBADF))
        }
        _ => None,
    }
}

/// Linux's CPU list format: "0" or "0-3", with a newline.
pub fn cpu_list(n: usize) -> Vec<u8> {
    let mut s = super::proc::text::Text::new();
    s.c(b'0');
    if n > 1 {
        s.c(b'-').u(n as u64 - 1);
    }
    s.nl();
    s.into_bytes()
}

impl Generated {
    pub fn new(body: Body, stat: Stat, write_error: Errno) -> Self {
        Self { body, stat, write_error, store: None, state: Mutex::new((0, Made::Nothing)) }
    }

    /// A file whose writes `store` takes (one value per write, as Linux's
    /// simple proc files: the whole buffer, at most a page).
    pub fn writable(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// The text, made afresh when the read starts at offset 0 (or nothing was made yet).
    fn text_at<'a>(&self, made: &'a mut Made, start: u64) -> Result<&'a [u8], Errno> {
        let Body::Text(make) = &self.body else { return Err(EISDIR) };
        if start == 0 || !matches!(made, Made::Text(_)) {
            *made = Made::Text(make());
        }
        match made {
            Made::Text(t) => Ok(t),
            _ => Err(EISDIR),
        }
    }

    pub fn read(&self, buf: u64, count: u64, at: Option<u64>) -> SysResult {
        let mut state = self.state.lock();
        let (offset, made) = &mut *state;
        let start = at.unwrap_or(*offset);
        if let Body::Range(make) = &self.body {
            // At most 64 KiB a read (a short read, as Linux's pagemap gives).
            let bytes = make(start, (count as usize).min(64 * 1024))?;
            mm::copy_to_user(buf, &bytes)?;
            if at.is_none() {
                *offset = start + bytes.len() as u64;
            }
            return Ok(bytes.len() as u64);
        }
        let text = self.text_at(made, start)?;
        let from = start.min(text.len() as u64) as usize;
        let n = (count as usize).min(text.len() - from);
        mm::copy_to_user(buf, &text[from..from + n])?;
        if at.is_none() {
            *offset = (from + n) as u64;
        }
        Ok(n as u64)
    }

    pub fn write(&self, buf: u64, count: u64) -> SysResult {
        let Some(store) = &self.store else {
            return Err(self.write_error);
        };
        let mut data = alloc::vec![0u8; count.min(4095) as usize];
        mm::copy_from_user(buf, &mut data)?;
        store(&data)?;
        Ok(count)
    }

    /// A text file's bytes and the read offset (for `execve`, which passes
    /// it on as a host memory file); `None` for a directory.
    pub fn snapshot(&self) -> Option<(Vec<u8>, u64)> {
        if matches!(self.body, Body::Range(_)) {
            return Some((Vec::new(), self.state.lock().0));
        }
        let mut state = self.state.lock();
        let (offset, made) = &mut *state;
        let at = *offset;
        let text = self.text_at(made, at).ok()?.to_vec();
        Some((text, at))
    }

    pub fn seek(&self, off: u64, whence: u64) -> SysResult {
        let mut state = self.state.lock();
        let new = match whence {
            0 => off as i64,
            1 => state.0 as i64 + off as i64,
            // Linux's proc files know no end; sysfs files (a size) do.
            2 if self.stat.size == 0 => return Err(EINVAL),
            2 => {
                let (_, made) = &mut *state;
                self.text_at(made, 0)?.len() as i64 + off as i64
            }
            _ => return Err(EINVAL),
        };
        if new < 0 {
            return Err(EINVAL);
        }
        state.0 = new as u64;
        Ok(new as u64)
    }

    pub fn stat(&self) -> Result<Stat, Errno> {
        Ok(self.stat)
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    /// `getdents64`: `struct linux_dirent64` records from the current entry on;
    /// the offset counts entries.
    pub fn getdents(&self, buf: u64, count: u64) -> SysResult {
        let Body::Dir(make) = &self.body else { return Err(ENOTDIR) };
        let mut state = self.state.lock();
        let (offset, made) = &mut *state;
        if *offset == 0 || !matches!(made, Made::Entries(_)) {
            *made = Made::Entries(make());
        }
        let Made::Entries(entries) = made else { return Err(ENOTDIR) };
        let mut out: Vec<u8> = Vec::new();
        let mut next = *offset as usize;
        while let Some(e) = entries.get(next) {
            let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
            if out.len() + reclen > count as usize {
                break;
            }
            out.extend_from_slice(&e.ino.to_le_bytes());
            out.extend_from_slice(&(next as u64 + 1).to_le_bytes());
            out.extend_from_slice(&(reclen as u16).to_le_bytes());
            out.push(e.kind);
            out.extend_from_slice(&e.name);
            out.resize(out.len() + reclen - 19 - e.name.len(), 0);
            next += 1;
        }
        if out.is_empty() && next < entries.len() {
            return Err(EINVAL); // the buffer cannot hold the next entry
        }
        mm::copy_to_user(buf, &out)?;
        *offset = next as u64;
        Ok(out.len() as u64)
    }
}
