//! inotify: each instance is a host inotify instance the monitor holds
//! (`op::INOTIFY`), read, polled and closed as any host file; a watch is
//! added on the guest path, which the monitor resolves in its sandbox.
use super::Args;
use crate::errno::{SysResult, EINVAL};
use crate::fs::{path, table, Kind, OpenFile, O_NONBLOCK, O_RDONLY};
use crate::host;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use hx_abi::hypercall::{op, INOTIFY_ADD, INOTIFY_INIT, INOTIFY_RM};
use spin::Mutex;

/// A watch as `/proc/<pid>/fdinfo` shows it: the watched file's inode and
/// device (as `stat` gave them) and the mask the program asked for.
#[derive(Clone, Copy)]
struct Watch {
    ino: u64,
    dev: u64,
    mask: u32,
}

/// Each instance's watches by descriptor, as added and removed here (one
/// the host drops by itself, its file deleted or a one-shot fired, stays
/// listed until removed).
static WATCHES: Mutex<Vec<(Weak<OpenFile>, Watches)>> = Mutex::new(Vec::new());

/// One instance's watches, by watch descriptor.
type Watches = BTreeMap<u32, Watch>;

const IN_DONT_FOLLOW: u64 = 0x0200_0000;
const IN_EXCL_UNLINK: u64 = 0x0400_0000;
const IN_MASK_ADD: u64 = 0x2000_0000;
const IN_ONESHOT: u64 = 0x8000_0000;

fn with_watches<R>(file: &Arc<OpenFile>, f: impl FnOnce(&mut Watches) -> R) -> R {
    let mut all = WATCHES.lock();
    all.retain(|(w, _)| w.strong_count() > 0);
    let i = match all.iter().position(|(w, _)| core::ptr::eq(w.as_ptr(), Arc::as_ptr(file))) {
        Some(i) => i,
        None => {
            all.push((Arc::downgrade(file), BTreeMap::new()));
            all.len() - 1
        }
    };
    f(&mut all[i].1)
}

/// The `inotify wd:... ino:... sdev:... mask:...` lines of `fdinfo` for
/// the instance open as `file` (Linux's format; `sdev` is the kernel's
/// device number, major << 20 | minor).
pub fn fdinfo_lines(file: &Arc<OpenFile>, t: &mut crate::fs::proc::text::Text) {
    if file.path != NAME {
        return;
    }
    // Newest first, as Linux lists its marks (descriptors only grow).
    let watches: Vec<(u32, Watch)> = with_watches(file, |w| w.iter().rev().map(|(k, v)| (*k, *v)).collect());
    for (wd, w) in watches {
        let major = ((w.dev >> 8) & 0xfff) | ((w.dev >> 32) & !0xfff);
        let minor = (w.dev & 0xff) | ((w.dev >> 12) & !0xff);
        t.s(b"inotify wd:").hex(u64::from(wd), 1).s(b" ino:").hex(w.ino, 1);
        t.s(b" sdev:").hex(major << 20 | minor, 1).s(b" mask:").hex(u64::from(w.mask), 1);
        t.s(b" ignored_mask:0").nl();
    }
}

const IN_NONBLOCK: u64 = 0o4000;
const IN_CLOEXEC: u64 = 0o2000000;
/// What `/proc/self/fd` shows for an instance, as Linux names it.
const NAME: &[u8] = b"anon_inode:inotify";

pub fn inotify_init(_: Args) -> SysResult {
    inotify_init1([0; 6])
}

pub fn inotify_init1([flags, ..]: Args) -> SysResult {
    if flags & !(IN_NONBLOCK | IN_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let nonblock = flags & IN_NONBLOCK != 0;
    let h = host::simple(op::INOTIFY, &[INOTIFY_INIT, u64::from(nonblock)])?;
    let status = O_RDONLY | if nonblock { O_NONBLOCK } else { 0 };
    table::install(Arc::new(OpenFile::new(Kind::Host(h), status, NAME.to_vec())), flags & IN_CLOEXEC != 0)
}

/// The host handle of the inotify instance at `fd` (EINVAL: another file).
fn instance(fd: u64) -> Result<u64, crate::errno::Errno> {
    let file = table::get(fd)?;
    match file.kind {
        Kind::Host(h) if file.path == NAME => Ok(h),
        _ => Err(EINVAL),
    }
}

/// The event bits (`IN_ALL_EVENTS`): a watch must ask for one of them.
const IN_ALL_EVENTS: u64 = 0xfff;

pub fn inotify_add_watch([fd, pathname, mask, ..]: Args) -> SysResult {
    let h = instance(fd)?;
    if mask & IN_ALL_EVENTS == 0 {
        return Err(EINVAL);
    }
    let abs = path::at(path::AT_FDCWD, pathname)?;
    let wd = host::path_request(op::INOTIFY, &[INOTIFY_ADD, h, mask & 0xffff_ffff], &[&abs], &mut []).0?;
    // What fdinfo shows: the events and the flags Linux keeps with the mark.
    if let (Ok(file), Ok(st)) = (table::get(fd), super::path::stat_path(&abs, mask & IN_DONT_FOLLOW == 0)) {
        let shown = (mask & (IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT)) as u32;
        with_watches(&file, |w| {
            let old = w.get(&(wd as u32)).map_or(0, |o| o.mask);
            let mask = if mask & IN_MASK_ADD != 0 { old | shown } else { shown };
            w.insert(wd as u32, Watch { ino: st.ino, dev: st.dev, mask });
        });
    }
    Ok(wd)
}

pub fn inotify_rm_watch([fd, wd, ..]: Args) -> SysResult {
    let h = instance(fd)?;
    host::simple(op::INOTIFY, &[INOTIFY_RM, h, u64::from(wd as u32)])?;
    if let Ok(file) = table::get(fd) {
        with_watches(&file, |w| w.remove(&(wd as u32)));
    }
    Ok(0)
}
