//! The guest's `/proc`, made by the kernel from its own state: the host's
//! `/proc` is never mounted and no request under `/proc` reaches the monitor.
//!
//! A path reaches here when its first component is `proc` (or it is one of
//! `/dev/fd`, `/dev/stdin`, `/dev/stdout`, `/dev/stderr`, Linux's links into
//! `/proc/self/fd`). [`resolve`] walks it over the tree below, `..` and the
//! symlinks included; a path that leaves `/proc` (`..` above it, or a link
//! such as `cwd` or `exe` to a host path) goes on to the monitor as the path
//! it became. Files are `Kind::Generated` (see `fs::generated`): their text
//! is made when they are read from the start.
//!
//! The calling process is there in full (its pid and its threads' ids); the
//! tree's other processes, each its own VM, with what the monitors' process
//! table knows of them (`others`): `stat`, `status`, `cmdline`, `comm`.
mod config;
mod cpuinfo;
pub(crate) mod mounts;
pub mod others;
pub(crate) mod process;
pub mod startup;
pub mod system;
mod sysvipc;
pub mod text;

use super::generated::{Body, DirEntry, Generated, DT_DIR, DT_LNK, DT_REG};
use super::stat::{Stat, S_IFDIR};
use super::{table, Kind, OpenFile, O_ACCMODE, O_RDONLY};
use crate::errno::{Errno, EACCES, EEXIST, EINVAL, EIO, EISDIR, ELOOP, ENOENT, ENOTDIR, EPERM, EROFS};
use crate::syscall::cred;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use text::Text;

pub use startup::init;

/// A file of `/proc` or `/proc/sys` that is the same for every process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Global {
    ConfigGz,
    Cpuinfo,
    Loadavg,
    Meminfo,
    Stat,
    Uptime,
    Version,
    CapLastCap,
    Domainname,
    Hostname,
    NgroupsMax,
    Osrelease,
    Ostype,
    PidMax,
    ThreadsMax,
    KernelVersion,
    Uuid,
    EntropyAvail,
    Poolsize,
    Printk,
    MaxMapCount,
    OvercommitMemory,
    FileMax,
    NrOpen,
    PipeMaxSize,
    PipeUserPagesHard,
    PipeUserPagesSoft,
    InotifyMaxQueuedEvents,
    InotifyMaxUserInstances,
    InotifyMaxUserWatches,
    MqMsgDefault,
    MqMsgMax,
    MqMsgsizeDefault,
    MqMsgsizeMax,
    MqQueuesMax,
    /// System V IPC's limits (`hx_abi::hypercall::sysv_limits`, which the
    /// monitor set in the tree's IPC namespace).
    MsgMax,
    MsgMnb,
    MsgMni,
    Sem,
    ShmAll,
    ShmMax,
    ShmMni,
    /// `tainted` (never: 0) and `core_pattern` (Linux's default, `core`;
    /// hx writes no core files).
    Tainted,
    CorePattern,
    CoreUsesPid,
    SysvipcMsg,
    SysvipcSem,
    SysvipcShm,
    Filesystems,
    /// `/proc/swaps`: the header alone (guest memory is never swapped).
    Swaps,
}

/// A file of `/proc/<pid>` and `/proc/<pid>/task/<tid>`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskFile {
    Auxv,
    Cmdline,
    Comm,
    CoredumpFilter,
    Environ,
    Limits,
    Maps,
    OomAdj,
    OomScore,
    Pagemap,
    OomScoreAdj,
    Mountinfo,
    Mounts,
    Personality,
    Cgroup,
    Smaps,
    Stat,
    Statm,
    Status,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskLink {
    Cwd,
    Exe,
    Root,
}

type Table = &'static [(&'static [u8], Entry)];

#[derive(Clone, Copy, Debug)]
enum Entry {
    Dir(Table),
    File(Global),
    /// A symlink, relative to `/proc`'s directory holding it.
    Link(&'static [u8]),
}

const SYS_KERNEL_RANDOM: Table = &[
    (b"entropy_avail", Entry::File(Global::EntropyAvail)),
    (b"poolsize", Entry::File(Global::Poolsize)),
    (b"uuid", Entry::File(Global::Uuid)),
];
const SYS_KERNEL: Table = &[
    (b"cap_last_cap", Entry::File(Global::CapLastCap)),
    (b"core_pattern", Entry::File(Global::CorePattern)),
    (b"core_uses_pid", Entry::File(Global::CoreUsesPid)),
    (b"domainname", Entry::File(Global::Domainname)),
    (b"hostname", Entry::File(Global::Hostname)),
    (b"msgmax", Entry::File(Global::MsgMax)),
    (b"msgmnb", Entry::File(Global::MsgMnb)),
    (b"msgmni", Entry::File(Global::MsgMni)),
    (b"ngroups_max", Entry::File(Global::NgroupsMax)),
    (b"osrelease", Entry::File(Global::Osrelease)),
    (b"ostype", Entry::File(Global::Ostype)),
    (b"pid_max", Entry::File(Global::PidMax)),
    (b"printk", Entry::File(Global::Printk)),
    (b"random", Entry::Dir(SYS_KERNEL_RANDOM)),
    (b"sem", Entry::File(Global::Sem)),
    (b"shmall", Entry::File(Global::ShmAll)),
    (b"shmmax", Entry::File(Global::ShmMax)),
    (b"shmmni", Entry::File(Global::ShmMni)),
    (b"tainted", Entry::File(Global::Tainted)),
    (b"threads-max", Entry::File(Global::ThreadsMax)),
    (b"version", Entry::File(Global::KernelVersion)),
];
const SYS_VM: Table = &[
    (b"max_map_count", Entry::File(Global::MaxMapCount)),
    (b"overcommit_memory", Entry::File(Global::OvercommitMemory)),
];
/// inotify's limits: Linux's defaults (the host's instances enforce its own).
const SYS_FS_INOTIFY: Table = &[
    (b"max_queued_events", Entry::File(Global::InotifyMaxQueuedEvents)),
    (b"max_user_instances", Entry::File(Global::InotifyMaxUserInstances)),
    (b"max_user_watches", Entry::File(Global::InotifyMaxUserWatches)),
];
/// POSIX message queues' limits: those of the tree's IPC namespace, where
/// the queues live (Linux's defaults for a new namespace).
const SYS_FS_MQUEUE: Table = &[
    (b"msg_default", Entry::File(Global::MqMsgDefault)),
    (b"msg_max", Entry::File(Global::MqMsgMax)),
    (b"msgsize_default", Entry::File(Global::MqMsgsizeDefault)),
    (b"msgsize_max", Entry::File(Global::MqMsgsizeMax)),
    (b"queues_max", Entry::File(Global::MqQueuesMax)),
];
const SYS_FS: Table = &[
    (b"file-max", Entry::File(Global::FileMax)),
    (b"inotify", Entry::Dir(SYS_FS_INOTIFY)),
    (b"mqueue", Entry::Dir(SYS_FS_MQUEUE)),
    (b"nr_open", Entry::File(Global::NrOpen)),
    (b"pipe-max-size", Entry::File(Global::PipeMaxSize)),
    (b"pipe-user-pages-hard", Entry::File(Global::PipeUserPagesHard)),
    (b"pipe-user-pages-soft", Entry::File(Global::PipeUserPagesSoft)),
];
const SYS: Table = &[(b"fs", Entry::Dir(SYS_FS)), (b"kernel", Entry::Dir(SYS_KERNEL)), (b"vm", Entry::Dir(SYS_VM))];
const SYSVIPC: Table = &[
    (b"msg", Entry::File(Global::SysvipcMsg)),
    (b"sem", Entry::File(Global::SysvipcSem)),
    (b"shm", Entry::File(Global::SysvipcShm)),
];
const ROOT: Table = &[
    (b"config.gz", Entry::File(Global::ConfigGz)),
    (b"cpuinfo", Entry::File(Global::Cpuinfo)),
    (b"filesystems", Entry::File(Global::Filesystems)),
    (b"loadavg", Entry::File(Global::Loadavg)),
    (b"meminfo", Entry::File(Global::Meminfo)),
    (b"mounts", Entry::Link(b"self/mounts")),
    (b"stat", Entry::File(Global::Stat)),
    (b"swaps", Entry::File(Global::Swaps)),
    (b"sys", Entry::Dir(SYS)),
    (b"sysvipc", Entry::Dir(SYSVIPC)),
    (b"uptime", Entry::File(Global::Uptime)),
    (b"version", Entry::File(Global::Version)),
];

#[derive(Clone, Copy, Debug)]
enum TaskEntry {
    File(TaskFile),
    Link(TaskLink),
    Fds,
    FdInfos,
    Tasks,
}

const TASK: &[(&[u8], TaskEntry)] = &[
    (b"auxv", TaskEntry::File(TaskFile::Auxv)),
    (b"cgroup", TaskEntry::File(TaskFile::Cgroup)),
    (b"cmdline", TaskEntry::File(TaskFile::Cmdline)),
    (b"comm", TaskEntry::File(TaskFile::Comm)),
    (b"coredump_filter", TaskEntry::File(TaskFile::CoredumpFilter)),
    (b"cwd", TaskEntry::Link(TaskLink::Cwd)),
    (b"environ", TaskEntry::File(TaskFile::Environ)),
    (b"exe", TaskEntry::Link(TaskLink::Exe)),
    (b"fd", TaskEntry::Fds),
    (b"fdinfo", TaskEntry::FdInfos),
    (b"limits", TaskEntry::File(TaskFile::Limits)),
    (b"maps", TaskEntry::File(TaskFile::Maps)),
    (b"mountinfo", TaskEntry::File(TaskFile::Mountinfo)),
    (b"mounts", TaskEntry::File(TaskFile::Mounts)),
    (b"oom_adj", TaskEntry::File(TaskFile::OomAdj)),
    (b"pagemap", TaskEntry::File(TaskFile::Pagemap)),
    (b"oom_score", TaskEntry::File(TaskFile::OomScore)),
    (b"oom_score_adj", TaskEntry::File(TaskFile::OomScoreAdj)),
    (b"personality", TaskEntry::File(TaskFile::Personality)),
    (b"root", TaskEntry::Link(TaskLink::Root)),
    (b"smaps", TaskEntry::File(TaskFile::Smaps)),
    (b"stat", TaskEntry::File(TaskFile::Stat)),
    (b"statm", TaskEntry::File(TaskFile::Statm)),
    (b"status", TaskEntry::File(TaskFile::Status)),
    (b"task", TaskEntry::Tasks),
];

/// A place in `/proc`. `Option<u32>` is the thread: `None` for
/// `/proc/<pid>` itself, `Some(tid)` under `/proc/<pid>/task/<tid>`.
#[derive(Clone, Copy, Debug)]
enum Node {
    Root,
    Dir(Table),
    File(Global),
    SelfLink,
    ThreadSelfLink,
    Task(Option<u32>),
    TaskFile(Option<u32>, TaskFile),
    TaskLink(TaskLink),
    Tasks,
    Fds,
    Fd(u64),
    FdInfos,
    FdInfo(u64),
    /// `/dev/fd`, `/dev/stdin`, ...: Linux's links into `/proc/self/fd`.
    DevLink(&'static [u8]),
    /// `/proc/<pid>` of another process of the tree, and a file in it.
    Other(u32),
    OtherFile(u32, TaskFile),
}

/// What a path names.
enum Found {
    /// Not in `/proc` (or no longer): the path for the monitor.
    Host(Vec<u8>),
    /// A node, and its path with `self` and `..` resolved.
    Node(Node, Vec<u8>),
    /// `/proc/<pid>/fd/N` followed: the open file itself (Linux's magic link).
    File(Arc<OpenFile>),
}

/// The kernel's answer, or the path to carry on with at the monitor.
pub enum Then<T> {
    Done(Result<T, Errno>),
    Host(Vec<u8>),
}

impl<T> Then<T> {
    /// The kernel's answer made into another, the path left as it is.
    pub fn map_done<U>(self, f: impl FnOnce(T) -> U) -> Then<U> {
        match self {
            Then::Done(r) => Then::Done(r.map(f)),
            Then::Host(p) => Then::Host(p),
        }
    }
}

/// `let abs = proc::or_host!(proc::open(abs, ...));`: returns the kernel's
/// answer for a `/proc` path, else goes on with the path.
macro_rules! or_host {
    ($e:expr) => {
        match $e {
            $crate::fs::proc::Then::Done(r) => return r,
            $crate::fs::proc::Then::Host(p) => p,
        }
    };
}
pub(crate) use or_host;

/// Links followed in one lookup before ELOOP (Linux's limit).
const MAX_LINKS: usize = 40;
/// `st_dev` of every `/proc` entry (an anonymous device, as Linux gives proc).
pub(super) const PROC_DEV: u64 = 0x17;

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".")
}

/// Whether the kernel answers for `path` (cheap: on every path syscall).
fn ours(path: &[u8]) -> bool {
    let mut c = components(path);
    match c.next() {
        Some(b"proc") => true,
        Some(b"dev") => matches!(c.next(), Some(b"fd" | b"stdin" | b"stdout" | b"stderr")),
        _ => false,
    }
}

/// A decimal number as Linux's `/proc` accepts one (no sign, no leading zero).
fn number(name: &[u8]) -> Option<u64> {
    if name.is_empty() || name.len() > 10 || (name.len() > 1 && name[0] == b'0') {
        return None;
    }
    name.iter().try_fold(0u64, |n, &d| d.is_ascii_digit().then(|| n * 10 + (d - b'0') as u64))
}

fn pid() -> u64 {
    crate::syscall::process::pid()
}

fn live_thread(tid: u64) -> bool {
    tid <= u32::MAX as u64 && crate::sched::thread(tid as u32).is_some()
}

fn child(node: Node, name: &[u8]) -> Result<Node, Errno> {
    let table_entry = |t: Table| {
        t.iter().find(|(n, _)| *n == name).map(|(_, e)| match *e {
            Entry::Dir(t) => Node::Dir(t),
            Entry::File(g) => Node::File(g),
            Entry::Link(target) => Node::DevLink(target),
        })
    };
    match node {
        Node::Root => match name {
            b"self" => Ok(Node::SelfLink),
            b"thread-self" => Ok(Node::ThreadSelfLink),
            _ => match number(name) {
                Some(n) if n == pid() => Ok(Node::Task(None)),
                // A thread's id names it too (not listed), as on Linux.
                Some(n) if live_thread(n) => Ok(Node::Task(Some(n as u32))),
                Some(n) if n <= i32::MAX as u64 && others::info(n as u32).is_some() => Ok(Node::Other(n as u32)),
                Some(_) => Err(ENOENT),
                None => table_entry(ROOT).ok_or(ENOENT),
            },
        },
        Node::Dir(t) => table_entry(t).ok_or(ENOENT),
        Node::Task(tid) => {
            let (_, e) = TASK.iter().find(|(n, _)| *n == name).ok_or(ENOENT)?;
            match *e {
                TaskEntry::File(f) => Ok(Node::TaskFile(tid, f)),
                TaskEntry::Link(l) => Ok(Node::TaskLink(l)),
                TaskEntry::Fds => Ok(Node::Fds),
                TaskEntry::FdInfos => Ok(Node::FdInfos),
                TaskEntry::Tasks if tid.is_none() => Ok(Node::Tasks),
                TaskEntry::Tasks => Err(ENOENT),
            }
        }
        Node::Other(pid) => {
            others::FILES.iter().find(|(n, _)| *n == name).map(|(_, f)| Node::OtherFile(pid, *f)).ok_or(ENOENT)
        }
        Node::Tasks => match number(name) {
            Some(n) if live_thread(n) => Ok(Node::Task(Some(n as u32))),
            _ => Err(ENOENT),
        },
        Node::Fds => match number(name) {
            Some(n) if table::get(n).is_ok() => Ok(Node::Fd(n)),
            _ => Err(ENOENT),
        },
        Node::FdInfos => match number(name) {
            Some(n) if table::get(n).is_ok() => Ok(Node::FdInfo(n)),
            _ => Err(ENOENT),
        },
        _ => Err(ENOTDIR),
    }
}

fn is_dir(node: Node) -> bool {
    matches!(node, Node::Root | Node::Dir(_) | Node::Task(_) | Node::Tasks | Node::Fds | Node::FdInfos | Node::Other(_))
}

fn is_link(node: Node) -> bool {
    matches!(node, Node::SelfLink | Node::ThreadSelfLink | Node::TaskLink(_) | Node::Fd(_) | Node::DevLink(_))
}

fn current_tid() -> u32 {
    crate::sched::current().tid
}

/// The text of a link (`readlink`).
fn link_text(node: Node) -> Result<Vec<u8>, Errno> {
    let mut t = Text::new();
    match node {
        Node::SelfLink => {
            t.u(pid());
        }
        Node::ThreadSelfLink => {
            t.u(pid()).s(b"/task/").u(current_tid() as u64);
        }
        Node::TaskLink(TaskLink::Exe) => return Ok(crate::exe_path().to_vec()),
        Node::TaskLink(TaskLink::Cwd) => return Ok(super::path::cwd()),
        Node::TaskLink(TaskLink::Root) => return Ok(b"/".to_vec()),
        Node::Fd(fd) => return Ok(process::fd_name(&*table::get(fd).map_err(|_| ENOENT)?)),
        Node::DevLink(target) => return Ok(target.to_vec()),
        _ => return Err(EINVAL),
    }
    Ok(t.into_bytes())
}

/// The path `/proc/<pid>/fd/N` for `file` can be followed as: a file the
/// monitor or the kernel opens again by name. Pipes, epoll instances and
/// the descriptors the guest did not open by name have none.
fn path_of(file: &OpenFile) -> Option<Vec<u8>> {
    match &file.kind {
        Kind::Host(_) | Kind::Device(_) | Kind::Generated(_) if file.path.starts_with(b"/") => Some(file.path.clone()),
        _ => None,
    }
}

enum Step {
    Done(Found),
    Again(Vec<u8>),
}

fn join(mut base: Vec<u8>, rest: &[&[u8]]) -> Vec<u8> {
    for c in rest {
        if base.last() != Some(&b'/') {
            base.push(b'/');
        }
        base.extend_from_slice(c);
    }
    if base.is_empty() {
        base.push(b'/');
    }
    base
}

/// Whether `path` ends in a slash (or `.`, `..`): its last component must
/// be a directory, and a link there is followed.
fn names_dir(path: &[u8]) -> bool {
    path.ends_with(b"/") || path.ends_with(b"/.") || path.ends_with(b"/..")
}

/// `join(base, rest)`, keeping `path`'s trailing slash.
fn join_like(path: &[u8], base: Vec<u8>, rest: &[&[u8]]) -> Vec<u8> {
    let mut p = join(base, rest);
    if names_dir(path) && p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p
}

/// One walk over `path`, up to the first link that leads elsewhere.
fn step(path: &[u8], follow: bool) -> Result<Step, Errno> {
    let follow = follow || names_dir(path);
    let comps: Vec<&[u8]> = components(path).collect();
    if comps.first() == Some(&&b"dev"[..]) {
        let target: &'static [u8] = match comps.get(1).copied() {
            Some(b"fd") => b"/proc/self/fd",
            Some(b"stdin") => b"/proc/self/fd/0",
            Some(b"stdout") => b"/proc/self/fd/1",
            Some(b"stderr") => b"/proc/self/fd/2",
            _ => return Ok(Step::Done(Found::Host(path.to_vec()))),
        };
        if comps.len() == 2 && !follow {
            return Ok(Step::Done(Found::Node(Node::DevLink(target), join(b"/dev".to_vec(), &comps[1..]))));
        }
        return Ok(Step::Again(join_like(path, target.to_vec(), &comps[2..])));
    }
    if comps.first() != Some(&&b"proc"[..]) {
        return Ok(Step::Done(Found::Host(path.to_vec())));
    }
    let mut nodes = alloc::vec![Node::Root];
    let mut names: Vec<&[u8]> = Vec::new();
    for (i, &c) in comps.iter().enumerate().skip(1) {
        let rest = &comps[i + 1..];
        if c == b".." {
            if nodes.pop().is_none() || nodes.is_empty() {
                return Ok(Step::Again(join_like(path, Vec::new(), rest)));
            }
            names.pop();
            continue;
        }
        let node = child(*nodes.last().ok_or(ENOENT)?, c)?;
        if is_link(node) && (follow || !rest.is_empty()) {
            if let Node::Fd(fd) = node {
                let file = table::get(fd).map_err(|_| ENOENT)?;
                return match path_of(&file) {
                    _ if rest.is_empty() => Ok(Step::Done(Found::File(file))),
                    Some(p) => Ok(Step::Again(join_like(path, p, rest))),
                    None => Err(ENOTDIR),
                };
            }
            let mut target = link_text(node)?;
            if target.first() != Some(&b'/') {
                target = join(b"/proc".to_vec(), &[&target]);
            }
            return Ok(Step::Again(join_like(path, target, rest)));
        }
        nodes.push(node);
        names.push(c);
    }
    let canon = join(b"/proc".to_vec(), &names);
    let node = *nodes.last().ok_or(ENOENT)?;
    if names_dir(path) && !is_dir(node) {
        return Err(ENOTDIR);
    }
    Ok(Step::Done(Found::Node(node, canon)))
}

/// What the absolute path `abs` names, following a final link if `follow`.
fn resolve(abs: Vec<u8>, follow: bool) -> Result<Found, Errno> {
    if !ours(&abs) {
        return Ok(Found::Host(abs));
    }
    let mut path = abs;
    for _ in 0..MAX_LINKS {
        match step(&path, follow)? {
            Step::Done(found) => return Ok(found),
            Step::Again(next) if !ours(&next) => return Ok(Found::Host(next)),
            Step::Again(next) => path = next,
        }
    }
    Err(ELOOP)
}

/// Linux's inode numbers are arbitrary but stable: a hash of the path.
fn inode(path: &[u8]) -> u64 {
    if path == b"/proc" {
        return 1;
    }
    let h = path.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    (h ^ (h >> 32)) & 0xffff_ffff | 0x1000
}

/// Sysctls Linux lets root write that hx keeps fixed (EROFS); the
/// writable ones have a store (`generated`).
fn is_sysctl_refused(node: Node) -> bool {
    use Global::*;
    matches!(node, Node::File(PidMax | ThreadsMax | OvercommitMemory))
}

/// Whether `node` belongs to the process (owned by its effective ids).
fn per_task(node: Node) -> bool {
    matches!(
        node,
        Node::Task(_)
            | Node::TaskFile(..)
            | Node::TaskLink(_)
            | Node::Tasks
            | Node::Fds
            | Node::Fd(_)
            | Node::FdInfos
            | Node::FdInfo(_)
    )
}

fn stat_node(node: Node, canon: &[u8]) -> Stat {
    const S_IFREG: u32 = 0o100000;
    const S_IFLNK: u32 = 0o120000;
    let mode = match node {
        Node::Fds => S_IFDIR | 0o500,
        _ if is_dir(node) => S_IFDIR | 0o555,
        Node::Fd(fd) => {
            S_IFLNK
                | match table::get(fd).map(|f| f.status() & O_ACCMODE) {
                    Ok(O_RDONLY) => 0o500,
                    Ok(1) => 0o300,
                    _ => 0o700,
                }
        }
        _ if is_link(node) => S_IFLNK | 0o777,
        Node::TaskFile(_, TaskFile::Environ | TaskFile::Auxv | TaskFile::Personality | TaskFile::Pagemap) => {
            S_IFREG | 0o400
        }
        _ if is_sysctl_refused(node) || store_of(node).is_some() => S_IFREG | 0o644,
        _ => S_IFREG | 0o444,
    };
    let (uid, gid) = match node {
        Node::Other(pid) | Node::OtherFile(pid, _) => {
            others::info(pid).map_or((0, 0), |i| (i.identity.uid, i.identity.gid))
        }
        _ if per_task(node) => {
            let c = cred::current();
            (c.user.effective, c.group.effective)
        }
        _ => (0, 0),
    };
    let nlink =
        if is_dir(node) { 2 + entries(node, canon).iter().filter(|e| e.kind == DT_DIR).count() as u64 - 2 } else { 1 };
    let now = crate::time::realtime_ns();
    let (sec, nsec) = ((now / 1_000_000_000) as i64, (now % 1_000_000_000) as i64);
    Stat {
        dev: PROC_DEV,
        ino: inode(canon),
        nlink,
        mode,
        uid,
        gid,
        size: if matches!(node, Node::Fd(_)) { 64 } else { 0 },
        blksize: 1024,
        atime: sec,
        atime_nsec: nsec,
        mtime: sec,
        mtime_nsec: nsec,
        ctime: sec,
        ctime_nsec: nsec,
        ..Default::default()
    }
}

/// A directory's entries, `.` and `..` first.
fn entries(node: Node, canon: &[u8]) -> Vec<DirEntry> {
    let parent = match canon.iter().rposition(|&b| b == b'/') {
        Some(0) | None => b"/".to_vec(),
        Some(i) => canon[..i].to_vec(),
    };
    let mut out = alloc::vec![
        DirEntry { ino: inode(canon), kind: DT_DIR, name: b".".to_vec() },
        DirEntry { ino: inode(&parent), kind: DT_DIR, name: b"..".to_vec() },
    ];
    let mut add = |name: &[u8], kind: u8| {
        let ino = inode(&join(canon.to_vec(), &[name]));
        out.push(DirEntry { ino, kind, name: name.to_vec() });
    };
    let table_kind = |e: &Entry| match e {
        Entry::Dir(_) => DT_DIR,
        Entry::File(_) => DT_REG,
        Entry::Link(_) => DT_LNK,
    };
    match node {
        Node::Root => {
            for (name, e) in ROOT {
                add(name, table_kind(e));
            }
            add(b"self", DT_LNK);
            add(b"thread-self", DT_LNK);
            // Every process of the tree, in pid order as Linux lists them.
            let mut pids: Vec<u64> = others::list().into_iter().map(u64::from).collect();
            pids.push(pid());
            pids.sort_unstable();
            pids.dedup();
            for p in pids {
                add(Text::new().u(p).0.as_slice(), DT_DIR);
            }
        }
        Node::Other(_) => {
            for (name, _) in others::FILES {
                add(name, DT_REG);
            }
        }
        Node::Dir(t) => {
            for (name, e) in t {
                add(name, table_kind(e));
            }
        }
        Node::Task(tid) => {
            for (name, e) in TASK {
                let kind = match e {
                    TaskEntry::File(_) => DT_REG,
                    TaskEntry::Link(_) => DT_LNK,
                    TaskEntry::Fds | TaskEntry::FdInfos => DT_DIR,
                    TaskEntry::Tasks if tid.is_none() => DT_DIR,
                    TaskEntry::Tasks => continue,
                };
                add(name, kind);
            }
        }
        Node::Tasks => {
            for t in crate::sched::threads() {
                add(Text::new().u(t.tid as u64).0.as_slice(), DT_DIR);
            }
        }
        Node::Fds => {
            for (fd, _) in table::snapshot() {
                add(Text::new().u(fd).0.as_slice(), DT_LNK);
            }
        }
        Node::FdInfos => {
            for (fd, _) in table::snapshot() {
                add(Text::new().u(fd).0.as_slice(), DT_REG);
            }
        }
        _ => {}
    }
    out
}

/// Whether the process may access `st` for `want` (`R_OK` 4, `W_OK` 2,
/// `X_OK` 1), with its real ids (`access`) or its filesystem ids.
fn permitted(st: &Stat, want: u32, real: bool) -> bool {
    let c = cred::current();
    let (uid, gid) = if real { (c.user.real, c.group.real) } else { (c.user.fs, c.group.fs) };
    let privileged = if real { c.user.real == 0 } else { c.capable(hx_abi::uapi::CAP_DAC_OVERRIDE) };
    if privileged {
        // Root reads and writes anything; it executes what someone may.
        return want & 1 == 0 || st.mode & S_IFDIR != 0 || st.mode & 0o111 != 0;
    }
    let bits = if uid == st.uid {
        st.mode >> 6
    } else if gid == st.gid || c.groups.contains(&st.gid) {
        st.mode >> 3
    } else {
        st.mode
    };
    bits & want == want
}

/// A `Generated` file or directory for `node`.
fn generated(node: Node, canon: &[u8], st: Stat) -> Generated {
    let body = if is_dir(node) {
        let canon = canon.to_vec();
        Body::Dir(Box::new(move || entries(node, &canon)))
    } else if matches!(node, Node::TaskFile(_, TaskFile::Pagemap)) {
        Body::Range(Box::new(process::pagemap))
    } else {
        Body::Text(Box::new(move || match node {
            Node::File(g) => system::text(g),
            Node::TaskFile(tid, f) => process::text(tid, f),
            Node::OtherFile(pid, f) => others::text(pid, f),
            Node::FdInfo(fd) => process::fdinfo(fd),
            _ => Vec::new(),
        }))
    };
    // What Linux answers a write to a file root opened for writing.
    let write_error = if matches!(node, Node::TaskFile(..)) { EINVAL } else { EIO };
    let g = Generated::new(body, st, write_error);
    match store_of(node) {
        Some(store) => g.writable(store),
        None => g,
    }
}

/// What takes a write to `node`, for the files root may write (their mode
/// says 0644 by it).
fn store_of(node: Node) -> Option<super::generated::Store> {
    use crate::syscall::process as proc_;
    Some(match node {
        Node::TaskFile(_, TaskFile::OomScoreAdj) => Arc::new(process::store_oom_score_adj),
        Node::TaskFile(_, TaskFile::OomAdj) => Arc::new(process::store_oom_adj),
        Node::TaskFile(_, TaskFile::CoredumpFilter) => Arc::new(crate::signal::coredump::store_filter),
        Node::File(Global::Printk) => Arc::new(proc_::store_printk),
        Node::File(Global::CorePattern) => Arc::new(crate::signal::coredump::store_pattern),
        Node::File(Global::CoreUsesPid) => Arc::new(crate::signal::coredump::store_uses_pid),
        Node::File(Global::Hostname) => Arc::new(proc_::store_hostname),
        Node::File(Global::Domainname) => Arc::new(proc_::store_domainname),
        Node::File(Global::MaxMapCount) => Arc::new(crate::mm::store_max_map_count),
        Node::File(g) => {
            let which = system::ipc_limit(g)?;
            Arc::new(move |data: &[u8]| crate::syscall::sysv::store_limit(which, data))
        }
        _ => return None,
    })
}

const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_TRUNC: u64 = 0o1000;
const O_DIRECTORY: u64 = 0o200000;
const O_NOFOLLOW: u64 = 0o400000;

/// `openat` of `abs`; `status` is the new description's access mode and flags.
pub fn open(abs: Vec<u8>, flags: u64, status: u32, cloexec: bool) -> Then<u64> {
    let found = match resolve(abs, flags & O_NOFOLLOW == 0) {
        Ok(f) => f,
        Err(e) => return Then::Done(Err(e)),
    };
    Then::Done(match found {
        Found::Host(p) => return Then::Host(p),
        // Opening a descriptor's link opens its file again: by its name when
        // the monitor has one, else as another descriptor of the same description.
        Found::File(f) if nameless(&f) => reopen(&f, flags, status, cloexec),
        Found::File(f) => match path_of(&f) {
            Some(p) => return open(p, flags, status, cloexec),
            None if flags & O_DIRECTORY != 0 && !matches!(&f.kind, Kind::Generated(g) if g.is_dir()) => Err(ENOTDIR),
            // Linux's anonymous inodes (eventfd, timerfd, signalfd) cannot be opened again.
            None if matches!(f.kind, Kind::Anon(_)) => Err(crate::errno::Errno(6)), // ENXIO
            None => table::install(f, cloexec),
        },
        Found::Node(node, canon) => open_node(node, canon, flags, status, cloexec),
    })
}

/// A host file whose name is gone (an `O_TMPFILE` file, a memory file):
/// reopened by the file itself, not by a name.
fn nameless(f: &OpenFile) -> bool {
    matches!(f.kind, Kind::Host(_)) && (f.is_memfd() || f.path.ends_with(b" (deleted)"))
}

fn reopen(f: &OpenFile, flags: u64, status: u32, cloexec: bool) -> Result<u64, Errno> {
    let Kind::Host(h) = f.kind else { return Err(ENOENT) };
    let handle = crate::host::simple(hx_abi::hypercall::op::REOPEN, &[h, flags])?;
    table::install(Arc::new(OpenFile::new(Kind::Host(handle), status, f.path.clone())), cloexec)
}

fn open_node(node: Node, canon: Vec<u8>, flags: u64, status: u32, cloexec: bool) -> Result<u64, Errno> {
    if flags & O_CREAT != 0 && flags & O_EXCL != 0 {
        return Err(EEXIST);
    }
    if is_link(node) {
        return Err(ELOOP); // O_NOFOLLOW on the link itself
    }
    let writing = status & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0;
    if is_dir(node) && (writing || flags & O_CREAT != 0) {
        return Err(EISDIR);
    }
    if !is_dir(node) && flags & O_DIRECTORY != 0 {
        return Err(ENOTDIR);
    }
    let st = stat_node(node, &canon);
    let mut want = if status & O_ACCMODE != 1 { 4 } else { 0 };
    if writing {
        want |= 2;
    }
    if !permitted(&st, want, false) {
        return Err(EACCES);
    }
    if writing && is_sysctl_refused(node) {
        return Err(EROFS);
    }
    let file = Arc::new(generated(node, &canon, st));
    table::install(Arc::new(OpenFile::new(Kind::Generated(file), status, canon)), cloexec)
}

/// openat2's `RESOLVE_NO_SYMLINKS` (`any`) and `RESOLVE_NO_MAGICLINKS`
/// for a path in `/proc`: `ELOOP` if the lookup would follow a link there
/// (any, or a magic one: `exe`, `cwd`, `root`, `fd/N`), the last name's
/// only if `follow`.
pub fn refuse_links(abs: &[u8], any: bool, follow: bool) -> Result<(), Errno> {
    let names: Vec<&[u8]> = components(abs).collect();
    for n in 1..=names.len() {
        if n == names.len() && !follow {
            break;
        }
        let mut prefix = Vec::new();
        for c in &names[..n] {
            prefix.push(b'/');
            prefix.extend_from_slice(c);
        }
        if !ours(&prefix) {
            continue;
        }
        if let Ok(Found::Node(node, _)) = resolve(prefix, false) {
            let magic = matches!(node, Node::TaskLink(_) | Node::Fd(_));
            if is_link(node) && (any || magic) {
                return Err(ELOOP);
            }
        }
    }
    Ok(())
}

/// The open file `abs` leads to through a descriptor's magic link
/// (`/proc/self/fd/N`, followed), if it does.
pub fn magic_file(abs: &[u8]) -> Option<Arc<OpenFile>> {
    match resolve(abs.to_vec(), true) {
        Ok(Found::File(f)) => Some(f),
        _ => None,
    }
}

/// `stat`/`lstat` of `abs`.
pub fn stat(abs: Vec<u8>, follow: bool) -> Then<Stat> {
    match resolve(abs, follow) {
        Ok(Found::Host(p)) => Then::Host(p),
        Ok(Found::File(f)) => Then::Done(crate::syscall::fs::stat_of(&f)),
        Ok(Found::Node(node, canon)) => Then::Done(Ok(stat_node(node, &canon))),
        Err(e) => Then::Done(Err(e)),
    }
}

/// `access` of `abs` for `mode` (checked with the real ids).
pub fn access(abs: Vec<u8>, mode: u64, follow: bool) -> Then<u64> {
    match resolve(abs, follow) {
        Ok(Found::Host(p)) => Then::Host(p),
        Ok(Found::File(f)) => match path_of(&f) {
            Some(p) => access(p, mode, follow),
            None => Then::Done(Ok(0)),
        },
        Ok(Found::Node(node, canon)) => {
            let ok = permitted(&stat_node(node, &canon), mode as u32 & 7, true);
            Then::Done(if ok { Ok(0) } else { Err(EACCES) })
        }
        Err(e) => Then::Done(Err(e)),
    }
}

/// `readlink` of `abs`.
pub fn readlink(abs: Vec<u8>) -> Then<Vec<u8>> {
    match resolve(abs, false) {
        Ok(Found::Host(p)) => Then::Host(p),
        Ok(Found::Node(node, _)) if is_link(node) => Then::Done(link_text(node)),
        Ok(_) => Then::Done(Err(EINVAL)),
        Err(e) => Then::Done(Err(e)),
    }
}

/// The file `execve(abs)` runs: a path through `/proc` (`/proc/self/exe`,
/// `/dev/fd/N`) becomes the guest path it leads to; `/proc`'s own files
/// cannot be run (EACCES, as Linux says of a file without execute permission).
pub fn exec_path(abs: Vec<u8>) -> Result<Vec<u8>, Errno> {
    if !ours(&abs) {
        return Ok(abs);
    }
    match resolve(abs, true)? {
        Found::Host(p) => Ok(p),
        Found::File(f) => path_of(&f).ok_or(EACCES),
        Found::Node(..) => Err(EACCES),
    }
}

/// `chdir` to `abs`: a `/proc` directory becomes the working directory.
pub fn chdir(abs: Vec<u8>) -> Then<u64> {
    match resolve(abs, true) {
        Ok(Found::Host(p)) => Then::Host(p),
        Ok(Found::File(f)) => match path_of(&f) {
            Some(p) => chdir(p),
            None => Then::Done(Err(ENOTDIR)),
        },
        Ok(Found::Node(node, canon)) if is_dir(node) => {
            super::path::set_cwd(canon);
            Then::Done(Ok(0))
        }
        Ok(Found::Node(..)) => Then::Done(Err(ENOTDIR)),
        Err(e) => Then::Done(Err(e)),
    }
}

/// A call that would change `abs` (unlink, mkdir, rename, chmod, ...):
/// `/proc` refuses as Linux does (`creating`: the call makes `abs`, which
/// then exists already): EPERM, or EACCES where the permission check on
/// the root-owned directory comes first. A path that leads out goes on to
/// the monitor.
pub fn change(abs: Vec<u8>, follow: bool, creating: bool) -> Then<u64> {
    match resolve(abs, follow) {
        Ok(Found::Host(p)) => Then::Host(p),
        Ok(Found::File(f)) => match path_of(&f) {
            Some(p) => change(p, follow, creating),
            None => Then::Done(Err(EPERM)),
        },
        Ok(Found::Node(..)) if creating => Then::Done(Err(EEXIST)),
        Ok(Found::Node(node, _)) if per_task(node) || cred::capable(hx_abi::uapi::CAP_DAC_OVERRIDE) => {
            Then::Done(Err(EPERM))
        }
        Ok(Found::Node(..)) => Then::Done(Err(EACCES)),
        Err(e) => Then::Done(Err(e)),
    }
}

/// `struct statfs` (120 bytes) of Linux's proc file system.
pub fn statfs_bytes() -> [u8; 120] {
    const PROC_SUPER_MAGIC: u64 = 0x9fa0;
    const ST_NOSUID: u64 = 2;
    const ST_NODEV: u64 = 4;
    const ST_NOEXEC: u64 = 8;
    const ST_RELATIME: u64 = 0x1000;
    let mut b = [0u8; 120];
    let words =
        [(0, PROC_SUPER_MAGIC), (8, 4096), (64, 255), (72, 4096), (80, ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME)];
    for (off, v) in words {
        b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
    b
}

/// `statfs` of `abs`.
pub fn statfs(abs: Vec<u8>) -> Then<[u8; 120]> {
    match resolve(abs, true) {
        Ok(Found::Host(p)) => Then::Host(p),
        Ok(Found::File(f)) => match path_of(&f) {
            Some(p) => statfs(p),
            None => Then::Done(Ok(statfs_bytes())),
        },
        Ok(Found::Node(..)) => Then::Done(Ok(statfs_bytes())),
        Err(e) => Then::Done(Err(e)),
    }
}
