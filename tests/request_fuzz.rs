//! Host-side fuzzing of the monitor's request dispatcher, without KVM: forged
//! requests (every op, boundary and random values, mutated valid requests,
//! segments across the end of guest RAM, huge counts) placed in a guest-RAM
//! buffer and served by `Host::serve`, as a hostile program could hand them
//! over. After the run, nothing outside the read-write mount may have changed,
//! no set-id bit or device node may exist, and no panic may have happened.
//!
//! CI runs a fixed number of requests; `HX_FUZZ_SECS=3600` runs for an hour
//! (`HX_FUZZ_SEED` picks another sequence).
#[path = "common/rng.rs"]
mod rng;

use hx_abi::hypercall::{op, PollEntry, Request, Segment, MAX_SEGMENTS, NO_HANDLE};
use hx_vmm::host::files::Files;
use hx_vmm::host::{Host, Outcome, Prepared};
use hx_vmm::memory::GuestRam;
use hx_vmm::report::Report;
use hx_vmm::sandbox::Sandbox;
use rng::Rng;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

const RAM: u64 = 64 << 20;

/// The most the monitor may allocate to serve one request (docs/security.md).
const MAX_REQUEST_HEAP: usize = 16 << 20;

/// Counts the heap this test process holds, to check the bound per request.
mod heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub struct Counting;
    static NOW: AtomicUsize = AtomicUsize::new(0);
    static PEAK: AtomicUsize = AtomicUsize::new(0);

    // SAFETY: forwards to the system allocator; only counts.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
            // SAFETY: as the caller's contract.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            NOW.fetch_sub(layout.size(), Ordering::Relaxed);
            // SAFETY: as the caller's contract.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    /// Starts a measurement: returns the bytes held now.
    pub fn reset() -> usize {
        let now = NOW.load(Ordering::Relaxed);
        PEAK.store(now, Ordering::Relaxed);
        now
    }

    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }
}

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;
/// Where forged requests go, and the buffers their segments name.
const REQ_AT: u64 = 0x1000;
const DATA: u64 = 0x10000;
const DATA_LEN: u64 = 1 << 20;
const LIMIT: usize = 64;

/// Guest paths worth trying: inside and outside the mounts, through symlinks
/// and `..`, nested mounts, long and odd names.
const PATHS: &[&[u8]] = &[
    b"/",
    b"/ro",
    b"/ro/a.txt",
    b"/ro/sub",
    b"/ro/sub/b.txt",
    b"/ro/link",
    b"/rw",
    b"/rw/f.txt",
    b"/rw/new",
    b"/rw/dir",
    b"/rw/dir/x",
    b"/rw/nested",
    b"/rw/nested/n.txt",
    b"/rw/dir/../nested/n.txt",
    b"/rw/abs",
    b"/rw/up",
    b"/rw/loop",
    b"/rw/deep",
    b"/rw/../../outside/secret",
    b"/proc/self/root/etc/passwd",
    b"/rw/./././f.txt/",
    b"/rw/\xff\xfe",
    b"/rw/a\0b",
    b"relative",
    b"",
];

struct Tree {
    dir: tempfile::TempDir,
}

/// What `Tree::snapshot` records of each entry, by path.
type Snapshot = BTreeMap<String, (u32, u64, Vec<u8>, (u32, u32))>;

impl Tree {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        for d in ["ro/sub", "rw/dir", "rw/nested", "outside"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        std::fs::write(p.join("ro/a.txt"), "read-only").unwrap();
        std::fs::write(p.join("ro/sub/b.txt"), "read-only too").unwrap();
        std::fs::write(p.join("rw/f.txt"), "writable").unwrap();
        std::fs::write(p.join("rw/nested/n.txt"), "nested read-only").unwrap();
        std::fs::write(p.join("outside/secret"), "SECRET").unwrap();
        std::os::unix::fs::symlink("a.txt", p.join("ro/link")).unwrap();
        std::os::unix::fs::symlink("/ro/a.txt", p.join("rw/abs")).unwrap();
        std::os::unix::fs::symlink("../outside", p.join("rw/up")).unwrap();
        std::os::unix::fs::symlink("loop", p.join("rw/loop")).unwrap();
        let mut deep = p.join("rw/deep");
        for _ in 0..40 {
            deep = deep.join("d");
        }
        std::fs::create_dir_all(deep).unwrap();
        Self { dir }
    }

    fn sandbox(&self) -> Sandbox {
        let p = self.dir.path();
        let mut sb = Sandbox::new();
        sb.mount(&p.join("ro"), b"/ro", false).unwrap();
        sb.mount(&p.join("rw"), b"/rw", true).unwrap();
        sb.mount(&p.join("rw/nested"), b"/rw/nested", false).unwrap();
        sb
    }

    /// Every entry under `dir` with its kind and mode, size, contents and owner.
    fn snapshot(dir: &Path) -> Snapshot {
        let mut out = BTreeMap::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let path = e.unwrap().path();
                let md = std::fs::symlink_metadata(&path).unwrap();
                let content = if md.is_file() { std::fs::read(&path).unwrap() } else { Vec::new() };
                if md.is_dir() {
                    todo.push(path.clone());
                }
                out.insert(path.display().to_string(), (md.mode(), md.len(), content, (md.uid(), md.gid())));
            }
        }
        out
    }
}

/// Interesting numbers: bounds of every field type and of guest RAM.
fn boundary(rng: &mut Rng) -> u64 {
    const VALUES: &[u64] = &[
        0,
        1,
        2,
        3,
        4,
        5,
        7,
        0x7f,
        0x80,
        0xff,
        0x100,
        0x1ff,
        0x200,
        0o777,
        0o4777,
        0o2755,
        0o7777,
        4095,
        4096,
        4097,
        65536,
        RAM - 1,
        RAM,
        RAM + 1,
        (1 << 31) - 1,
        1 << 31,
        u32::MAX as u64,
        1 << 32,
        i64::MAX as u64,
        i64::MIN as u64,
        u64::MAX,
        u64::MAX - 1,
        NO_HANDLE,
        libc::O_CREAT as u64 | libc::O_RDWR as u64,
        libc::O_TMPFILE as u64,
        libc::O_PATH as u64,
        libc::O_ASYNC as u64 | libc::O_WRONLY as u64,
        libc::RENAME_WHITEOUT as u64,
        libc::RENAME_EXCHANGE as u64,
        libc::AT_REMOVEDIR as u64,
        libc::AT_SYMLINK_FOLLOW as u64,
        libc::TCGETS,
        libc::TIOCGWINSZ,
    ];
    *rng.pick(VALUES)
}

fn value(rng: &mut Rng) -> u64 {
    match rng.below(4) {
        0 => rng.next(),
        1 => rng.below(16),
        _ => boundary(rng),
    }
}

/// A segment: a buffer in the data area, one holding a path, or a hostile one.
fn segment(rng: &mut Rng, mem: &GuestRam, cursor: &mut u64) -> Segment {
    match rng.below(10) {
        0..=3 => {
            let path = *rng.pick(PATHS);
            let mut path = path.to_vec();
            if rng.chance(4) {
                // A mutated path: a byte changed, inserted or the tail cut.
                let i = rng.below(path.len() as u64 + 1) as usize;
                match rng.below(3) {
                    0 if i < path.len() => path[i] = rng.next() as u8,
                    1 => path.insert(i.min(path.len()), *rng.pick(&[b'/', b'.', 0, b'a'])),
                    _ => path.truncate(i),
                }
            }
            let at = DATA + (*cursor % (DATA_LEN - 8192));
            *cursor += 8192;
            mem.write(at, &path).unwrap();
            Segment { phys: at, len: path.len() as u64 }
        }
        4..=6 => {
            let len = *rng.pick(&[0, 1, 8, 16, 32, 144, 4096, 65536, 300_000]);
            let at = DATA + rng.below(DATA_LEN - len);
            Segment { phys: at, len }
        }
        7 => Segment { phys: RAM - rng.below(64), len: 64 + rng.below(4096) },
        8 => Segment { phys: 0, len: RAM },
        _ => Segment { phys: value(rng), len: value(rng) },
    }
}

const OPS: &[u32] = &[
    op::WRITE,
    op::READ,
    op::FSTAT,
    op::IOCTL,
    op::CLOCK,
    op::RANDOM,
    op::UNSUPPORTED,
    op::STRACE,
    op::LOG,
    op::OPEN,
    op::CLOSE,
    op::PREAD,
    op::PWRITE,
    op::LSEEK,
    op::STAT,
    op::ACCESS,
    op::READLINK,
    op::GETDENTS,
    op::UNLINK,
    op::MKDIR,
    op::RENAME,
    op::FTRUNCATE,
    op::FSYNC,
    op::UTIMENS,
    op::STATFS,
    op::SLEEP,
    op::SETFL,
    op::CHMOD,
    op::SYMLINK,
    op::LINK,
    op::POLL,
    op::WAIT,
    op::KILL,
    op::PIPE,
    op::PGRP,
    op::CHOWN,
    op::NET,
    op::NET,
    op::NET,
    // Served by the vCPU loop, not `Host` (which must still refuse them cleanly).
    op::IDLE,
    op::KICK,
    op::SHOOTDOWN,
    op::INTERRUPT,
    op::DISCARD,
    op::FORK,
    op::EXEC,
    op::RING,
    op::RING_WAKE,
    op::WATCH,
    op::MAP_SHARED,
    op::UNMAP_SHARED,
    op::SYNC_SHARED,
    op::MEMFD,
    op::LOCK,
    op::FALLOCATE,
    op::MEMORY,
    op::VFORK,
    op::LAUNCH,
    op::TEE,
    op::FUTEX,
    op::INOTIFY,
    op::SYSV,
    op::XATTR,
    op::CREDS,
    op::MOUNTS,
    op::STOP,
    op::EVENTFD,
    op::MQUEUE,
    op::LEASE,
    op::REOPEN,
    op::EXIT,
    0,
    44,
    1000,
    u32::MAX,
];

/// A watcher for `WATCH` requests (its thread never runs here: registering is what is fuzzed).
fn watcher() -> &'static hx_vmm::watch::Watcher {
    static W: std::sync::OnceLock<hx_vmm::watch::Watcher> = std::sync::OnceLock::new();
    W.get_or_init(|| hx_vmm::watch::Watcher::new().unwrap())
}

fn forge(rng: &mut Rng, mem: &GuestRam, handles: &[u64]) -> Request {
    let mut req = Request::new(*rng.pick(OPS));
    let mut cursor = 0;
    for a in req.args.iter_mut() {
        *a = value(rng);
    }
    // Handles: mostly ones the guest has, sometimes any number.
    if !handles.is_empty() && !rng.chance(4) {
        req.args[0] = *rng.pick(handles);
    }
    let n = if rng.chance(20) { value(rng) as u32 } else { rng.below(MAX_SEGMENTS as u64 + 1) as u32 };
    req.nsegs = n;
    for s in req.segs.iter_mut().take(n.min(MAX_SEGMENTS as u32) as usize) {
        *s = segment(rng, mem, &mut cursor);
    }
    match req.op {
        // The guest may sleep or wait as long as it likes; the fuzzer must not.
        op::SLEEP => req.args[0] %= 1000,
        // A stop would stop the fuzzer: only signals that are not stop signals.
        op::STOP => req.args[0] = rng.below(17),
        // A guest reading its own empty pipe blocks, as on Linux: the fuzzer's
        // pipes never block (the guest could ask for that too), nor does an
        // F_SETFL take that away.
        op::PIPE => req.args[2] = libc::O_NONBLOCK as u64,
        op::EVENTFD => req.args[1] |= libc::O_NONBLOCK as u64,
        op::INOTIFY if req.args[0] == hx_abi::hypercall::INOTIFY_INIT => req.args[1] = 1,
        op::SETFL => req.args[1] |= libc::O_NONBLOCK as u64,
        // Half the signals go with a forged siginfo; a quarter of the
        // process requests take the caller's queued signals.
        op::KILL if rng.chance(2) => req.args[3] = hx_abi::hypercall::KILL_WITH_INFO,
        op::PGRP if rng.chance(4) => {
            req.args[0] = *rng.pick(&[hx_abi::hypercall::PGRP_TAKE_QUEUED, hx_abi::hypercall::PGRP_RENICE])
        }
        // Mostly a valid "do not follow" flag, so that the ids and paths get tried.
        op::CHOWN if !rng.chance(4) => req.args[3] = rng.below(2),
        // Sockets: mostly a real operation on a handle the guest has, with the
        // families and types hx serves. Nothing may block the fuzzer: its
        // sockets are non-blocking and its sends and receives do not wait.
        op::NET => {
            if !rng.chance(8) {
                req.args[0] = rng.below(hx_abi::hypercall::NET_SETOPT + 1);
            }
            if !handles.is_empty() && !rng.chance(4) {
                req.args[1] = *rng.pick(handles);
            }
            match req.args[0] {
                hx_abi::hypercall::NET_SOCKET | hx_abi::hypercall::NET_SOCKETPAIR => {
                    if !rng.chance(4) {
                        req.args[1] = *rng.pick(&[1, 2, 10, 16, 17]);
                        req.args[2] = rng.below(6);
                    }
                    req.args[2] |= libc::SOCK_NONBLOCK as u64;
                }
                hx_abi::hypercall::NET_ACCEPT => req.args[2] = libc::SOCK_NONBLOCK as u64,
                hx_abi::hypercall::NET_SEND | hx_abi::hypercall::NET_RECV => req.args[2] |= libc::MSG_DONTWAIT as u64,
                _ => {}
            }
        }
        op::POLL => {
            req.args[0] = 0;
            if rng.chance(2) {
                let entries: Vec<PollEntry> = (0..rng.below(8))
                    .map(|_| PollEntry { handle: value(rng), events: rng.next() as i16, revents: 0, edges: 0 })
                    .collect();
                for (i, e) in entries.iter().enumerate() {
                    mem.write_obj(DATA + (i * 16) as u64, *e).unwrap();
                }
                req.segs[0] = Segment { phys: DATA, len: (entries.len() * 16) as u64 };
                req.nsegs = req.nsegs.max(1);
            }
        }
        // Statistics the guest leaves for the monitor to print: any values.
        op::EXIT if rng.chance(2) => {
            let size = std::mem::size_of::<hx_abi::stats::Stats>() as u64;
            let at = DATA + rng.below(DATA_LEN - size);
            let fill = if rng.chance(2) { 0xff } else { rng.next() as u8 };
            mem.write(at, &vec![fill; size as usize]).unwrap();
            req.args[1] = at;
        }
        // Reads from the guest's stdin are reads of /dev/null here.
        _ => {}
    }
    req
}

fn check_tree(tree: &Tree, before_ro: &Snapshot) {
    let p = tree.dir.path();
    let mut ro_now = Tree::snapshot(&p.join("ro"));
    ro_now.extend(Tree::snapshot(&p.join("outside")));
    ro_now.extend(Tree::snapshot(&p.join("rw/nested")));
    assert_eq!(&ro_now, before_ro, "a file outside the read-write mount changed");
    for (path, (mode, ..)) in Tree::snapshot(&p.join("rw")) {
        let kind = mode & libc::S_IFMT;
        // A directory may keep set-group-ID (new names inherit its group:
        // no privilege, as `chmod` of a directory allows it); nothing else
        // carries a set-id bit.
        let allowed = if kind == libc::S_IFDIR { libc::S_ISGID } else { 0 };
        assert_eq!(mode & 0o6000 & !allowed, 0, "{path}: set-id bit {mode:o} on a host file");
        assert!(
            kind == libc::S_IFREG || kind == libc::S_IFDIR || kind == libc::S_IFLNK,
            "{path}: the guest created a host file of type {kind:o}"
        );
    }
}

fn run_fuzz(seed: u64, iterations: u64) -> u64 {
    let tree = Tree::new();
    let p = tree.dir.path();
    let mut before = Tree::snapshot(&p.join("ro"));
    before.extend(Tree::snapshot(&p.join("outside")));
    before.extend(Tree::snapshot(&p.join("rw/nested")));
    let mem = GuestRam::new(RAM).unwrap();
    let null = || Some(std::fs::File::options().read(true).write(true).open("/dev/null").unwrap().into());
    let mut files = Files::with_streams(tree.sandbox(), None, LIMIT, [null(), null(), null()]);
    let mut report = Report::new(true, "fuzz");
    report.set_quiet();
    let mut rng = Rng::new(seed);
    let mut handles: Vec<u64> = vec![0, 1, 2];
    let (count, deadline) = rng::budget(iterations);
    let mut done = 0;
    while done < count && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        let req = forge(&mut rng, &mem, &handles);
        mem.write_obj(REQ_AT, req).unwrap();
        let mut host = Host { mem: &mem, report: &mut report, files: &mut files, watch: Some(watcher()) };
        // Tests run in parallel threads and share the counter: the bound is
        // checked against everything the process allocated meanwhile.
        let base = heap::reset();
        // The three ways requests are served: whole, as the poller serves a
        // posted one, or reads and writes checked under the lock and run outside it.
        let served = if rng.chance(3) {
            host.serve(REQ_AT)
        } else if rng.chance(2) {
            // As the poller serves a request posted without an exit.
            host.serve_polled(REQ_AT).map(|()| Outcome::Resume)
        } else {
            host.serve_or_prepare(REQ_AT).and_then(|p| match p {
                Prepared::Done(outcome) => Ok(outcome),
                Prepared::Io(io, req) => {
                    hx_vmm::host::finish_io(&mem, REQ_AT, req, io, |f| f(&mut *host.files)).map(|_| Outcome::Resume)
                }
            })
        };
        let used = heap::peak().saturating_sub(base);
        assert!(used <= MAX_REQUEST_HEAP, "op {} allocated {used} bytes", req.op);
        match served {
            Ok(Outcome::Resume) => {
                let back: Request = mem.read_obj(REQ_AT).unwrap();
                if req.op == op::OPEN && back.ret >= 0 {
                    handles.push(back.ret as u64);
                }
            }
            Ok(Outcome::Exit(_) | Outcome::Killed(..) | Outcome::KernelPanic) => {}
            Err(e) => panic!("a request inside guest RAM ended the VM: {e:#}"),
        }
        assert!(files.open_handles() <= LIMIT, "the handle limit did not hold");
        done += 1;
        if done % 5000 == 0 {
            check_tree(&tree, &before);
        }
    }
    check_tree(&tree, &before);
    assert!(report.warned_count() <= 256, "the set of warned-about syscalls grew without bound");
    // A request outside guest RAM cannot be answered: an error, not a panic.
    let mut host = Host { mem: &mem, report: &mut report, files: &mut files, watch: Some(watcher()) };
    assert!(host.serve(RAM - 8).is_err());
    done
}

#[test]
fn forged_requests_never_crash_or_escape_the_monitor() {
    // System V requests act in an IPC namespace of this thread's own (and
    // its helpers'), as hx-run's do in the tree's: never on the host's objects.
    // The other tests here forge no System V request.
    hx_vmm::host::sysv::unshare_namespace().expect("a private IPC namespace (the tests run as root)");
    hx_vmm::host::sysv::set_limits(RAM).unwrap();
    let (iterations, _) = rng::budget(40_000);
    let done = run_fuzz(rng::seed(), iterations);
    println!("request fuzzer: {done} requests, no crash, no change outside the read-write mount");
}

#[test]
fn oversized_lengths_get_an_errno_not_an_allocation() {
    let tree = Tree::new();
    let mem = GuestRam::new(RAM).unwrap();
    let mut files = Files::with_streams(tree.sandbox(), None, LIMIT, [None, None, None]);
    let mut report = Report::new(false, "fuzz");
    report.set_quiet();
    // Each of these allocated or copied in proportion to a guest length before.
    let cases: &[(u32, u32, Segment)] = &[
        (op::GETDENTS, 1, Segment { phys: DATA, len: 1 << 40 }),
        (op::STRACE, 16, Segment { phys: DATA, len: u64::MAX / 2 }),
        (op::LOG, 1, Segment { phys: 0, len: RAM }),
        (op::POLL, 1, Segment { phys: 0, len: RAM }),
        (op::OPEN, 1, Segment { phys: DATA, len: 1 << 33 }),
        (op::RANDOM, 16, Segment { phys: 0, len: RAM }),
        (op::WRITE, 17, Segment { phys: 0, len: 8 }),
    ];
    for &(op, nsegs, seg) in cases {
        let mut req = Request::new(op);
        req.nsegs = nsegs;
        for s in req.segs.iter_mut() {
            *s = seg;
        }
        mem.write_obj(REQ_AT, req).unwrap();
        let mut host = Host { mem: &mem, report: &mut report, files: &mut files, watch: Some(watcher()) };
        assert!(matches!(host.serve(REQ_AT), Ok(Outcome::Resume)), "op {op}");
        let back: Request = mem.read_obj(REQ_AT).unwrap();
        assert!(back.ret < 0 || op == op::STRACE || op == op::LOG, "op {op}: {}", back.ret);
    }
}

#[test]
fn deep_and_looping_paths_cost_bounded_time() {
    let tree = Tree::new();
    let rw = tree.dir.path().join("rw");
    // A chain 600 directories deep and a symlink that goes to its bottom and
    // climbs back: following it 40 times walked the chain again per `..`.
    let mut deep = rw.clone();
    for _ in 0..600 {
        deep = deep.join("a");
        std::fs::create_dir(&deep).unwrap();
    }
    let target = format!("{}{}", "a/".repeat(600), "../".repeat(600));
    std::os::unix::fs::symlink(&target, rw.join("L")).unwrap();
    let sb = tree.sandbox();
    let path = format!("/rw{}", "/L".repeat(45));
    let start = std::time::Instant::now();
    let r = sb.resolve(path.as_bytes(), true);
    assert!(matches!(r, Err(libc::ELOOP)), "40 links, then ELOOP");
    let r = sb.resolve(format!("/rw{}/f.txt", "/L".repeat(39)).as_bytes(), true);
    assert!(r.is_ok(), "39 links resolve: {:?}", r.err());
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "took {:?}", start.elapsed());
}

#[test]
fn metadata_changes_act_on_the_checked_file_not_a_swapped_in_symlink() {
    // The race: the walk checked a regular file; before the host call a
    // second guest sharing the directory swaps in a symlink to a host file.
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "host file").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::os::unix::fs::symlink(&victim, shared.join("name")).unwrap();
    let fd: std::os::fd::OwnedFd = std::fs::File::open(&shared).unwrap().into();
    let r = hx_vmm::host::files::chmod_at(&fd, c"name", 0o777);
    assert_eq!(r, Err(libc::EOPNOTSUPP));
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "chmod followed the symlink to the host file");
    // chown changes the symlink itself (where the host allows it), never its target.
    let owner = |p: &Path| std::fs::symlink_metadata(p).map(|m| (m.uid(), m.gid())).unwrap();
    let victim_owner = owner(&victim);
    let (uid, gid) = (victim_owner.0 + 1, victim_owner.1 + 1);
    match hx_vmm::host::files::chown_at(&fd, c"name", uid, gid) {
        Ok(_) => assert_eq!(owner(&shared.join("name")), (uid, gid), "the symlink's owner did not change"),
        Err(e) => assert_eq!(e, libc::EPERM, "chown of the symlink: {e}"),
    }
    assert_eq!(owner(&victim), victim_owner, "chown followed the symlink to the host file");
}

/// Serves `req` with `paths` as its first segments; returns it answered.
fn serve_one(files: &mut Files, mut req: Request, paths: &[&[u8]]) -> Request {
    let mem = GuestRam::new(RAM).unwrap();
    let mut report = Report::new(false, "fuzz");
    report.set_quiet();
    for (i, path) in paths.iter().enumerate() {
        let at = DATA + i as u64 * 8192;
        mem.write(at, path).unwrap();
        req.segs[i] = Segment { phys: at, len: path.len() as u64 };
    }
    req.nsegs = paths.len() as u32;
    mem.write_obj(REQ_AT, req).unwrap();
    let mut host = Host { mem: &mem, report: &mut report, files, watch: Some(watcher()) };
    assert!(matches!(host.serve(REQ_AT), Ok(Outcome::Resume)));
    mem.read_obj(REQ_AT).unwrap()
}

/// `CHOWN` of `path` (or of `handle` with no path) to `uid` and `gid`: its result.
fn chown(files: &mut Files, path: Option<&[u8]>, handle: u64, uid: u64, gid: u64) -> i64 {
    let mut req = Request::new(op::CHOWN);
    req.args[..4].copy_from_slice(&[handle, uid, gid, 0]);
    serve_one(files, req, path.as_slice()).ret
}

#[test]
fn chown_leaves_no_set_id_bit_and_no_trace_in_a_read_only_mount() {
    let tree = Tree::new();
    let p = tree.dir.path();
    let mut files = Files::with_streams(tree.sandbox(), None, LIMIT, [None, None, None]);
    let set_mode =
        |path: &str, mode: u32| std::fs::set_permissions(p.join(path), std::fs::Permissions::from_mode(mode)).unwrap();
    let mode = |path: &str| std::fs::metadata(p.join(path)).unwrap().mode() & 0o7777;
    let meta = std::fs::metadata(p.join("rw/f.txt")).unwrap();
    let (uid, gid) = (meta.uid() as u64, meta.gid() as u64);
    let unchanged = u32::MAX as u64;
    // By path, to the owner it has: the set-id bits go, as on Linux.
    set_mode("rw/f.txt", 0o6755);
    assert_eq!(chown(&mut files, Some(b"/rw/f.txt"), NO_HANDLE, unchanged, unchanged), 0);
    assert_eq!(mode("rw/f.txt"), 0o755);
    // Through a handle.
    set_mode("rw/f.txt", 0o4711);
    let handle = serve_one(&mut files, Request::new(op::OPEN), &[b"/rw/f.txt"]).ret;
    assert!(handle >= 0, "open: {handle}");
    assert_eq!(chown(&mut files, None, handle as u64, uid, gid), 0);
    assert_eq!(mode("rw/f.txt"), 0o711);
    // A directory keeps its set-group-ID bit (Linux's rule).
    set_mode("rw/dir", 0o2755);
    assert_eq!(chown(&mut files, Some(b"/rw/dir"), NO_HANDLE, uid, gid), 0);
    assert_eq!(mode("rw/dir"), 0o2755);
    set_mode("rw/dir", 0o755);
    // Ids beyond 32 bits are refused; read-only mounts are EROFS, whoever asks.
    assert_eq!(chown(&mut files, Some(b"/rw/f.txt"), NO_HANDLE, 1 << 32, gid), -(libc::EINVAL as i64));
    let mut before = Tree::snapshot(&p.join("ro"));
    before.extend(Tree::snapshot(&p.join("rw/nested")));
    for path in [&b"/ro/a.txt"[..], b"/ro/link", b"/rw/nested/n.txt", b"/ro", b"/"] {
        let r = chown(&mut files, Some(path), NO_HANDLE, uid + 1, gid + 1);
        assert_eq!(r, -(libc::EROFS as i64), "{}", String::from_utf8_lossy(path));
    }
    let mut after = Tree::snapshot(&p.join("ro"));
    after.extend(Tree::snapshot(&p.join("rw/nested")));
    assert_eq!(after, before, "a chown changed a read-only mount");
}

/// Every request the ABI defines must be fuzzed, here and by the guest-side
/// forger: a new request cannot join the protocol unexamined.
#[test]
fn every_request_op_is_fuzzed() {
    let abi = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../kernel/abi/src/hypercall.rs")).unwrap();
    let module = abi.split("pub mod op {").nth(1).unwrap().split("\n}").next().unwrap();
    let ops: Vec<u32> = module
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub const "))
        .filter_map(|l| l.split('=').nth(1)?.trim().trim_end_matches(';').parse().ok())
        .collect();
    assert!(ops.len() >= 30, "found only {} ops in hypercall.rs", ops.len());
    let forge = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/programs/forge.c")).unwrap();
    let last: u32 =
        forge.lines().find_map(|l| l.strip_prefix("#define LAST_OP ")).and_then(|v| v.trim().parse().ok()).unwrap();
    for op in ops {
        assert!(OPS.contains(&op), "request op {op} is not in the host-side fuzzer's list");
        assert!(op <= last, "request op {op} is beyond forge.c's LAST_OP {last}");
    }
}

/// System V requests naming live objects (a segment, a semaphore set, a
/// queue), with any call, command, flags and buffers: an errno or a
/// result, never a crash or an allocation beyond the bound; what they make
/// lives in this thread's own IPC namespace.
#[test]
fn system_v_requests_on_live_objects_are_checked() {
    use hx_abi::hypercall::{SYSV_MSGGET, SYSV_SEMGET, SYSV_SHMGET};
    hx_vmm::host::sysv::unshare_namespace().expect("a private IPC namespace (the tests run as root)");
    hx_vmm::host::sysv::set_limits(RAM).unwrap();
    let tree = Tree::new();
    let mem = GuestRam::new(RAM).unwrap();
    let mut files = Files::with_streams(tree.sandbox(), None, LIMIT, [None, None, None]);
    let mut report = Report::new(false, "fuzz");
    report.set_quiet();
    let mut rng = Rng::new(rng::seed());
    let mut ids = vec![];
    for (call, size) in [(SYSV_SHMGET, 3 * 4096 + 5), (SYSV_SEMGET, 4), (SYSV_MSGGET, 0)] {
        let mut req = Request::new(op::SYSV);
        req.args[..4].copy_from_slice(&[call, 0, size, 0o600]);
        if call == SYSV_MSGGET {
            req.args[2] = 0o600;
        }
        let back = serve_one(&mut files, req, &[]);
        assert!(back.ret >= 0, "call {call}: {}", back.ret);
        ids.push(back.ret as u64);
    }
    let (count, _) = rng::budget(20_000);
    for _ in 0..count {
        let mut req = Request::new(op::SYSV);
        req.args[0] = rng.below(11);
        req.args[1] = if rng.chance(4) { value(&mut rng) } else { *rng.pick(&ids) };
        for a in &mut req.args[2..7] {
            *a = match rng.below(4) {
                0 => value(&mut rng),
                1 => rng.below(24),
                2 => *rng.pick(&ids),
                _ => DATA + rng.below(DATA_LEN / 8) * 8, // an outcome word
            };
        }
        let mut cursor = rng.next();
        req.nsegs = rng.below(3) as u32;
        for s in &mut req.segs[..req.nsegs as usize] {
            *s = if rng.chance(2) {
                Segment { phys: DATA + rng.below(DATA_LEN / 4096) * 4096, len: rng.below(4) * 4096 + rng.below(130) }
            } else {
                segment(&mut rng, &mem, &mut cursor)
            };
        }
        if req.args[0] == hx_abi::hypercall::SYSV_SHMAT && rng.chance(2) {
            // The segment's own size (4 pages), so that some attach.
            req.segs[0] = Segment { phys: DATA + rng.below(DATA_LEN / 4096 - 4) * 4096, len: 4 * 4096 };
            req.nsegs = 1;
        }
        mem.write_obj(REQ_AT, req).unwrap();
        let base = heap::reset();
        let mut host = Host { mem: &mem, report: &mut report, files: &mut files, watch: Some(watcher()) };
        let served =
            if rng.chance(2) { host.serve(REQ_AT) } else { host.serve_polled(REQ_AT).map(|()| Outcome::Resume) };
        assert!(served.is_ok(), "a request inside guest RAM ended the VM");
        let used = heap::peak().saturating_sub(base);
        assert!(used <= MAX_REQUEST_HEAP, "SYSV call {} allocated {used} bytes", req.args[0]);
    }
}
