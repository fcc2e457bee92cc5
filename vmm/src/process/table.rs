//! The process table every monitor of one `hx-run` tree shares: guest pid →
//! host pid, parent, process group and session. It lives in one
//! `MAP_SHARED` mapping made before the first fork, so each forked monitor
//! sees every other's entries; guests never see it (it is monitor memory,
//! not guest RAM). Its size is the guest's process limit: a fork bomb ends
//! with `EAGAIN` when it is full, and the host sees at most that many monitors.
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

/// Guest processes alive (or zombies) at once in one `hx-run` tree.
pub const MAX_PROCESSES: usize = 512;

/// One slot; `host_pid` 0 means free.
#[repr(C)]
pub struct Entry {
    pub host_pid: AtomicI32,
    pub pid: AtomicI32,
    pub ppid: AtomicI32,
    pub pgid: AtomicI32,
    pub sid: AtomicI32,
    /// Guest signals sent to this process and not yet passed to its guest (bit n-1 for n).
    pub signals: AtomicU64,
    /// `PR_SET_PDEATHSIG`: the signal this process gets when its parent ends (0: none).
    pub pdeathsig: AtomicI32,
    /// The signal its parent gets when it ends (`clone`'s exit signal; 0:
    /// none). A child whose exit signal is not SIGCHLD is a "clone child":
    /// only `__WCLONE` or `__WALL` waits see it, as on Linux.
    pub exit_signal: AtomicI32,
    /// Its `hx_abi::hypercall::ProcIdentity`, as the others' `/proc` shows it
    /// (written by its own monitor only, word by word).
    pub identity: [AtomicU64; IDENTITY_WORDS],
}

/// `ProcIdentity` in words.
pub const IDENTITY_WORDS: usize = std::mem::size_of::<hx_abi::hypercall::ProcIdentity>() / 8;

#[repr(C)]
struct Table {
    next_pid: AtomicI32,
    entries: [Entry; MAX_PROCESSES],
}

static TABLE: std::sync::OnceLock<&'static Table> = std::sync::OnceLock::new();

/// Maps the table and enters the first process as pid 1 (its own group and
/// session, like init in a container).
pub fn init() -> std::io::Result<()> {
    let size = std::mem::size_of::<Table>();
    // SAFETY: a fresh shared anonymous mapping, zero-filled, never unmapped:
    // all-zero bytes are a valid `Table` (atomics).
    let table = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        &*(p as *const Table)
    };
    table.next_pid.store(2, Ordering::SeqCst);
    let first = &table.entries[0];
    first.pid.store(1, Ordering::SeqCst);
    // The first guest process stays in hx-run's process group and session, as
    // the first process of a new pid namespace does. When hx-run does not lead
    // them, their leader is outside the guest's namespace and Linux reports
    // such ids as 0; when it does, the guest (hx-run's stand-in) leads them.
    // SAFETY: getpid/getpgrp/getsid(0) only read this process's ids.
    let (host_pid, host_pgid, host_sid) = unsafe { (libc::getpid(), libc::getpgrp(), libc::getsid(0)) };
    first.pgid.store(i32::from(host_pgid == host_pid), Ordering::SeqCst);
    first.sid.store(i32::from(host_sid == host_pid), Ordering::SeqCst);
    first.host_pid.store(host_pid, Ordering::SeqCst);
    became(first);
    let _ = TABLE.set(table);
    // Orphaned guest processes become host children of the first monitor, as
    // Linux gives orphans to init (pid 1, the first guest process).
    // SAFETY: prctl on this process only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    Ok(())
}

fn table() -> Option<&'static Table> {
    TABLE.get().copied()
}

/// Every live entry.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    table().into_iter().flat_map(|t| t.entries.iter()).filter(|e| e.host_pid.load(Ordering::SeqCst) != 0)
}

pub fn by_pid(pid: i32) -> Option<&'static Entry> {
    entries().find(|e| e.pid.load(Ordering::SeqCst) == pid)
}

pub fn by_host_pid(host_pid: i32) -> Option<&'static Entry> {
    entries().find(|e| e.host_pid.load(Ordering::SeqCst) == host_pid)
}

/// What `e`'s monitor last published about its program (read word by word:
/// a racing update may mix two, as a racing read of Linux's /proc may).
pub fn identity_of(e: &Entry) -> hx_abi::hypercall::ProcIdentity {
    let bytes: Vec<u8> = e.identity.iter().flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes()).collect();
    vm_memory::ByteValued::from_slice(&bytes).copied().unwrap_or_default()
}

/// This monitor's own entry (set by `init` and in a forked monitor by
/// `became`; async-signal-safe, so the signal handlers use it).
static ME: std::sync::atomic::AtomicPtr<Entry> = std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

pub fn me() -> Option<&'static Entry> {
    // SAFETY: null or an entry of the table, which is never unmapped.
    unsafe { ME.load(Ordering::SeqCst).as_ref() }
}

/// The calling (forked) monitor is the process of `e`.
pub fn became(e: &'static Entry) {
    ME.store(e as *const Entry as *mut Entry, Ordering::SeqCst);
}

/// Ids stay below this (they are never reused: the space is not recycled).
const MAX_ID: i32 = i32::MAX - (1 << 20);

/// Takes `n` consecutive ids from the tree's pid space; `None` when it is used up.
fn take_ids(t: &Table, n: i32) -> Option<i32> {
    // Never past the limit: a guest asking forever must not wrap the counter.
    t.next_pid
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |next| (next > 0 && next <= MAX_ID - n).then_some(next + n))
        .ok()
}

/// Ids for `n` new threads of the caller (guest tids share the pid space).
pub fn reserve_tids(n: i32) -> Option<i32> {
    take_ids(table()?, n)
}

/// Reserves a slot for a child of `parent` (its host pid is stored once the
/// host fork returns). `None`: the table is full (EAGAIN).
pub fn reserve(parent: &Entry, exit_signal: i32) -> Option<(&'static Entry, i32)> {
    let t = table()?;
    let pid = take_ids(t, 1)?;
    // A reserved slot holds host pid -1 until the fork returns.
    let slot =
        t.entries.iter().find(|e| e.host_pid.compare_exchange(0, -1, Ordering::SeqCst, Ordering::SeqCst).is_ok())?;
    slot.pid.store(pid, Ordering::SeqCst);
    slot.ppid.store(parent.pid.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.pgid.store(parent.pgid.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.sid.store(parent.sid.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.signals.store(0, Ordering::SeqCst);
    slot.pdeathsig.store(0, Ordering::SeqCst);
    slot.exit_signal.store(exit_signal, Ordering::SeqCst);
    // A forked child shows its parent's name and command line until it execs.
    for (w, p) in slot.identity.iter().zip(parent.identity.iter()) {
        w.store(p.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    Some((slot, pid))
}

/// What the others' `/proc/<pid>` shows of this process from now on: the
/// image it runs (`comm`: the last component of the name it was started
/// by, 15 bytes at most, as Linux), its arguments and its effective ids.
pub fn publish_identity(execfn: &[u8], argv: &[Vec<u8>], uid: u32, gid: u32) {
    let Some(me) = me() else { return };
    let mut id = hx_abi::hypercall::ProcIdentity { uid, gid, ..Default::default() };
    let base = execfn.rsplit(|&b| b == b'/').next().unwrap_or_default();
    let n = base.len().min(15);
    id.comm[..n].copy_from_slice(&base[..n]);
    let mut len = 0;
    for a in argv {
        for &b in a.iter().chain(std::iter::once(&0)) {
            if len < id.cmdline.len() {
                id.cmdline[len] = b;
                len += 1;
            }
        }
    }
    id.cmdline_len = len as u32;
    let bytes = vm_memory::ByteValued::as_slice(&id);
    for (w, chunk) in me.identity.iter().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        w.store(u64::from_le_bytes(b), Ordering::Relaxed);
    }
}

/// Frees a slot (a reaped child, or a fork that failed).
pub fn release(e: &Entry) {
    e.signals.store(0, Ordering::SeqCst);
    e.host_pid.store(0, Ordering::SeqCst);
}

/// Children of guest `pid` are given to pid 1 when `pid` ends (Linux reparents
/// orphans to init; on the host, the first monitor is their subreaper); the
/// ones that asked for a signal at their parent's death get it.
pub fn orphan_children_of(pid: i32) {
    for e in entries() {
        if e.ppid.load(Ordering::SeqCst) == pid {
            e.ppid.store(1, Ordering::SeqCst);
            // An orphan signals its new parent with SIGCHLD (Linux resets it).
            e.exit_signal.store(libc::SIGCHLD, Ordering::SeqCst);
            let sig = e.pdeathsig.load(Ordering::SeqCst);
            // The child's monitor re-reads its entry (and passes a signal on).
            crate::host::process::signal_entry(e, if (1..=64).contains(&sig) { sig as u64 } else { 0 });
        }
    }
}
