//! `/proc/self/mounts`, `/proc/self/mountinfo` and `/proc/filesystems`:
//! the guest's mounts as the monitor's sandbox has them (`op::MOUNTS`),
//! plus the kernel's own `/proc`, and the virtual root above the mounts
//! when nothing is mounted at `/` (a read-only file system made only of
//! mount points, which `statfs` reports as Linux's rootfs, a ramfs).
//!
//! Device numbers are the host's (what `stat` under each mount reports, so
//! a program can find a file's mount by `st_dev`); each mount's root shows
//! as `/`: the host paths behind the mounts stay the monitor's.
use super::text::Text;
use super::PROC_DEV;
use crate::host;
use alloc::vec::Vec;
use hx_abi::hypercall::{op, MountRecord, Request, MOUNT_WRITABLE};

const PROC_SUPER_MAGIC: u64 = 0x9fa0;
const RAMFS_MAGIC: u64 = 0x8584_58f6;
/// The most the monitor's answer may take (far more than any mount list).
const ANSWER_MAX: usize = 64 * 1024;

struct Mount {
    path: Vec<u8>,
    dev: u64,
    fs_type: u64,
    writable: bool,
    /// `/proc` is mounted `nosuid,nodev,noexec`, as Linux's usually is.
    proc: bool,
}

/// Linux's names for the file system types a mount may have on the host.
const TYPE_NAMES: &[(u64, &[u8], bool)] = &[
    // (magic, name, needs a block device)
    (0xef53, b"ext4", true),
    (0x0102_1994, b"tmpfs", false),
    (0x794c_7630, b"overlay", false),
    (0x5846_5342, b"xfs", true),
    (0x9123_683e, b"btrfs", true),
    (0x7371_7368, b"squashfs", true),
    (0xe0f5_e1e2, b"erofs", true),
    (0x6969, b"nfs", false),
    (0xff53_4d42, b"cifs", false),
    (0x6573_5546, b"fuse", false),
    (0x0102_1997, b"9p", false),
    (0x2fc1_2fc1, b"zfs", false),
    (0x4d44, b"vfat", true),
    (0x5346_544e, b"ntfs", true),
    (0x9660, b"iso9660", true),
    (0xf15f, b"ecryptfs", false),
    (0x6165_676c, b"pstorefs", false),
    (RAMFS_MAGIC, b"ramfs", false),
    (PROC_SUPER_MAGIC, b"proc", false),
];

fn type_name(magic: u64) -> (&'static [u8], bool) {
    TYPE_NAMES.iter().find(|(m, _, _)| *m == magic).map_or((b"unknown", false), |&(_, n, dev)| (n, dev))
}

/// The guest's mounts, parents before children (by depth; a mount made
/// later at the same depth comes later, as Linux lists them in mount order).
fn list() -> Vec<Mount> {
    let mut buf = alloc::vec![0u8; ANSWER_MAX];
    let mut req = Request::new(op::MOUNTS);
    req.nsegs = 1;
    req.segs[0] = host::kernel_segment(buf.as_mut_ptr() as u64, buf.len());
    let n = host::result(host::call(&mut req)).unwrap_or(0) as usize;
    let mut out = Vec::new();
    let head = core::mem::size_of::<MountRecord>();
    let mut at = 0;
    while at + head <= n.min(buf.len()) {
        // SAFETY: `head` bytes at `at` are inside the buffer; MountRecord is
        // plain old data, read unaligned.
        let r: MountRecord = unsafe { core::ptr::read_unaligned(buf[at..].as_ptr().cast()) };
        let Some(path) = buf.get(at + head..at + head + r.path_len as usize) else { break };
        out.push(Mount {
            path: path.to_vec(),
            dev: r.dev,
            fs_type: r.fs_type,
            writable: r.flags & MOUNT_WRITABLE != 0,
            proc: false,
        });
        at = (at + head + r.path_len as usize).next_multiple_of(8);
    }
    if !out.iter().any(|m| m.path == b"/") {
        out.push(Mount { path: b"/".to_vec(), dev: 0, fs_type: RAMFS_MAGIC, writable: false, proc: false });
    }
    out.retain(|m| m.path != b"/proc");
    out.push(Mount { path: b"/proc".to_vec(), dev: PROC_DEV, fs_type: PROC_SUPER_MAGIC, writable: true, proc: true });
    out.sort_by_key(|m| depth(&m.path));
    out
}

fn depth(path: &[u8]) -> usize {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty()).count()
}

/// What `source` says: a memory file system by its type, as Linux names
/// them; the rest are the host's, whose devices the guest does not see.
fn source(m: &Mount) -> &'static [u8] {
    match m.fs_type {
        RAMFS_MAGIC => b"rootfs",
        _ => match type_name(m.fs_type) {
            (name, false) if name != b"unknown" => name,
            _ => b"hx",
        },
    }
}

fn type_of(m: &Mount) -> &'static [u8] {
    if m.fs_type == RAMFS_MAGIC {
        b"rootfs"
    } else {
        type_name(m.fs_type).0
    }
}

fn options(t: &mut Text, m: &Mount) {
    t.s(if m.writable { b"rw" } else { b"ro" });
    if m.proc {
        t.s(b",nosuid,nodev,noexec");
    }
    t.s(b",relatime");
}

/// A path as Linux's `mangle` writes it: space, tab, newline and backslash
/// as octal escapes, so a line splits on blanks.
fn escaped(t: &mut Text, path: &[u8]) {
    for &b in path {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            t.c(b'\\').c(b'0' + (b >> 6)).c(b'0' + ((b >> 3) & 7)).c(b'0' + (b & 7));
        } else {
            t.c(b);
        }
    }
}

/// `/proc/self/mounts` (and `/proc/mounts`): fstab's format.
pub fn mounts() -> Vec<u8> {
    let mut t = Text::new();
    for m in list() {
        t.s(source(&m)).c(b' ');
        escaped(&mut t, &m.path);
        t.c(b' ').s(type_of(&m)).c(b' ');
        options(&mut t, &m);
        t.s(b" 0 0").nl();
    }
    t.into_bytes()
}

fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

/// The id `mountinfo` gives the mount at `index` (the first one's parent,
/// 1, is outside the list, as a namespace's root's parent is on Linux).
const FIRST_ID: u64 = 21;

fn is_below(path: &[u8], parent: &[u8]) -> bool {
    path != parent && (parent == b"/" || (path.starts_with(parent) && path.get(parent.len()) == Some(&b'/')))
}

/// The `mountinfo` id of the mount `path` (absolute) lies in.
pub fn id_of(path: &[u8]) -> u64 {
    let all = list();
    all.iter()
        .enumerate()
        .filter(|(_, m)| m.path == path || is_below(path, &m.path))
        .max_by_key(|(_, m)| m.path.len())
        .map_or(FIRST_ID, |(i, _)| FIRST_ID + i as u64)
}

/// `/proc/self/mountinfo`: one line per mount with its id, its parent's,
/// its device and options.
pub fn mountinfo() -> Vec<u8> {
    let all = list();
    let mut t = Text::new();
    for (i, m) in all.iter().enumerate() {
        let parent = all[..i]
            .iter()
            .enumerate()
            .filter(|(_, p)| is_below(&m.path, &p.path))
            .max_by_key(|(_, p)| p.path.len())
            .map_or(1, |(k, _)| FIRST_ID + k as u64);
        t.u(FIRST_ID + i as u64).c(b' ').u(parent).c(b' ').u(major(m.dev)).c(b':').u(minor(m.dev)).s(b" / ");
        escaped(&mut t, &m.path);
        t.c(b' ');
        options(&mut t, m);
        t.s(b" - ").s(type_of(m)).c(b' ').s(source(m)).c(b' ').s(if m.writable { b"rw" } else { b"ro" }).nl();
    }
    t.into_bytes()
}

/// `/proc/filesystems`: the kernel's own file systems, then those of the
/// mounts (a type that needs no block device marked `nodev`, as Linux does).
pub fn filesystems() -> Vec<u8> {
    let mut t = Text::new();
    for (name, block) in filesystem_types() {
        t.s(if block { b"" } else { b"nodev" }).c(b'\t').s(name).nl();
    }
    t.into_bytes()
}

/// The mount point of the file system on device (`major`, `minor`), as
/// `stat` reports its `st_dev` (`ustat`).
pub fn mount_of_device(major: u64, minor: u64) -> Option<Vec<u8>> {
    use crate::fs::stat;
    list()
        .into_iter()
        .find(|m| stat::major(m.dev) as u64 == major && stat::minor(m.dev) as u64 == minor)
        .map(|m| m.path)
}

/// The file system types the kernel knows, in `/proc/filesystems`' order
/// (`sysfs(2)` numbers them so), and whether each needs a block device.
pub fn filesystem_types() -> Vec<(&'static [u8], bool)> {
    let mut names: Vec<(&'static [u8], bool)> = alloc::vec![
        (b"tmpfs", false),
        (b"proc", false),
        (b"ramfs", false),
        (b"pipefs", false),
        (b"sockfs", false),
        (b"anon_inodefs", false),
    ];
    for m in list() {
        let (name, block) = type_name(m.fs_type);
        if name != b"unknown" && !names.iter().any(|(n, _)| *n == name) {
            names.push((name, block));
        }
    }
    names
}
