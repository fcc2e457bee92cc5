//! The process table every monitor of one `hx-run` tree shares: guest pid →
//! host pid, parent, process group and session. It lives in one
//! `MAP_SHARED` mapping made before the first fork, so each forked monitor
//! sees every other's entries; guests never see it (it is monitor memory,
//! not guest RAM). Its size is the guest's process limit: a fork bomb ends
//! with `EAGAIN` when it is full, and the host sees at most that many monitors.
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

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
    /// How its program ended, published by its monitor before that monitor
    /// tears its VM down (see [`publish_end`]): 0 while it runs.
    pub end: AtomicU64,
    /// Its resource use at that point (µs of user and system time, KiB of
    /// peak resident memory), for the parent's `wait4`.
    pub usage: [AtomicU64; 3],
    /// The parent's monitor has told its guest of the end (once per child).
    pub announced: AtomicBool,
    /// The guest parent has reaped it: no guest sees it any more; the slot
    /// stays taken until its host process is reaped too.
    pub reaped: AtomicBool,
    /// Its monitor stands for another process now (a spare made again,
    /// `process::spare`): its `host_pid` is no longer this process's, and
    /// the slot goes as soon as the guest reaps it.
    pub detached: AtomicBool,
    /// In a session leader's entry: its session's controlling terminal
    /// (the host device number + 1; 0: none) and foreground process group.
    pub ctty: AtomicU64,
    pub foreground: AtomicI32,
    /// It ran `execve` since it was forked: its parent may no longer move
    /// it to another process group (`setpgid`: EACCES, as Linux).
    pub execed: AtomicBool,
    /// `PR_SET_CHILD_SUBREAPER`: orphans below it come to it.
    pub subreaper: AtomicBool,
    /// Its real (low half) and saved (high half) user ids, and its
    /// effective one: who may signal it, and whom it may signal (Linux's
    /// `kill_ok_by_cred`).
    pub signal_uids: AtomicU64,
    pub euid: AtomicU32,
    /// The sender of each pending signal 1..=24 (`pid | real uid << 32`),
    /// set by the sending monitor before the signal's bit.
    pub senders: [AtomicU64; hx_abi::percpu::SENDER_SIGNALS],
    /// The files its image runs from (the executable, its interpreter), as
    /// host device and inode pairs (0: none): while it runs, no guest
    /// process may open them for writing (ETXTBSY, as Linux).
    pub running: [AtomicU64; 4],
    /// Every thread of its program waits (all its vCPUs idle): `/proc`
    /// shows it `S`, else `R`, as LTP's and others' "wait until the child
    /// sleeps" loops read it.
    pub sleeping: AtomicBool,
    /// The stop signal its program stopped with (`STOP`: its monitor is
    /// stopped on the host), 0 while it runs: what its parent's `wait`
    /// reports and its `/proc` state (`T`).
    pub stop_signal: AtomicI32,
    /// A guest SIGCONT ended its `STOP` and its parent's wait has not
    /// reported that yet (a continuation of the host's own, after the
    /// terminal stopped every monitor, is no guest's news).
    pub continued: AtomicBool,
    /// Its scheduling policy (high half) and nice value (low half, as u32),
    /// which its guest kernel publishes when they change (`PGRP_SET_SCHED`).
    pub sched: AtomicU64,
    /// Another process set its nice value: the request's number (high
    /// half) and the value (low half); its monitor passes it to its guest.
    pub nice_request: AtomicU64,
}

/// `Entry::end`: set, with the `si_code` and status a `waitid` reports.
const ENDED: u64 = 1 << 63;

/// `ProcIdentity` in words.
pub const IDENTITY_WORDS: usize = std::mem::size_of::<hx_abi::hypercall::ProcIdentity>() / 8;

#[repr(C)]
struct Table {
    next_pid: AtomicI32,
    /// Slots ever taken: `[0, used)`. Walks stop there, so the table's
    /// untouched pages are never faulted in (ending a run walked all 512).
    used: AtomicUsize,
    entries: [Entry; MAX_PROCESSES],
    /// Host pids of the spare monitors waiting for a program (at most one
    /// per monitor, `process::spare`): not processes of the guest, so their
    /// end is nobody's news.
    spares: [AtomicI32; MAX_PROCESSES],
    /// Each slot's signals sent with a siginfo of their own, by index as
    /// `entries` (apart from them: walks of the entries never touch these pages).
    queues: [SigQueue; MAX_PROCESSES],
}

/// Signals another process sent with a siginfo of their own (`sigqueue`,
/// and `kill`'s real-time signals, each of which Linux queues with its
/// sender): one process's, at most [`QUEUED_SIGNALS`] at a time.
#[repr(C)]
pub struct SigQueue {
    /// Moves when a signal is queued: its monitor tells its guest to take them.
    pub gen: AtomicU64,
    next_seq: AtomicU64,
    slots: [QueuedSlot; QUEUED_SIGNALS],
}

/// Signals a process may have queued by other processes at once (Linux
/// bounds them by the sender's `RLIMIT_SIGPENDING`; a `sigqueue` past this
/// is `EAGAIN`, a `kill` goes without its sender's siginfo).
pub const QUEUED_SIGNALS: usize = 64;

/// A siginfo's bytes.
pub const SIGINFO_BYTES: usize = 128;

#[repr(C)]
struct QueuedSlot {
    /// 0: free; `CLAIMED`: being written or read; else the order it was sent in (from 1).
    state: AtomicU64,
    info: [AtomicU64; SIGINFO_BYTES / 8],
}

const CLAIMED: u64 = u64::MAX;

/// The signal queue of entry `e`.
fn queue_of(e: &Entry) -> Option<&'static SigQueue> {
    let t = table()?;
    let index = (e as *const Entry as usize).checked_sub(t.entries.as_ptr() as usize)? / std::mem::size_of::<Entry>();
    t.queues.get(index)
}

/// Queues `info` (a siginfo, its signal number in it) for the process of
/// `e`: false if its queue is full. Its monitor learns of it from `gen`.
pub fn queue_signal(e: &Entry, info: &[u8; SIGINFO_BYTES]) -> bool {
    let Some(q) = queue_of(e) else { return false };
    let Some(slot) =
        q.slots.iter().find(|s| s.state.compare_exchange(0, CLAIMED, Ordering::SeqCst, Ordering::SeqCst).is_ok())
    else {
        return false;
    };
    for (w, chunk) in slot.info.iter().zip(info.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        w.store(u64::from_le_bytes(b), Ordering::SeqCst);
    }
    let seq = q.next_seq.fetch_add(1, Ordering::SeqCst) + 1;
    slot.state.store(seq, Ordering::SeqCst);
    q.gen.fetch_add(1, Ordering::SeqCst);
    true
}

/// The signals queued for this process, oldest first, at most `room`: taken.
pub fn take_queued(room: usize) -> Vec<[u8; SIGINFO_BYTES]> {
    let Some(q) = me().and_then(queue_of) else { return Vec::new() };
    let mut ready: Vec<(u64, &QueuedSlot)> = q
        .slots
        .iter()
        .map(|s| (s.state.load(Ordering::SeqCst), s))
        .filter(|&(state, _)| state != 0 && state != CLAIMED)
        .collect();
    ready.sort_by_key(|&(seq, _)| seq);
    let mut out = Vec::new();
    for (seq, slot) in ready {
        if out.len() == room {
            break;
        }
        // Another vCPU's request may take it first.
        if slot.state.compare_exchange(seq, CLAIMED, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            continue;
        }
        let mut info = [0u8; SIGINFO_BYTES];
        for (chunk, w) in info.chunks_exact_mut(8).zip(slot.info.iter()) {
            chunk.copy_from_slice(&w.load(Ordering::SeqCst).to_le_bytes());
        }
        slot.state.store(0, Ordering::SeqCst);
        out.push(info);
    }
    out
}

/// This process's queue's `gen`: when it moves, its guest takes the queue.
pub fn queued_gen() -> u64 {
    me().and_then(queue_of).map_or(0, |q| q.gen.load(Ordering::SeqCst))
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
    table.used.store(1, Ordering::SeqCst);
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

/// Every process a guest can see: running, or a zombie not yet reaped.
pub fn entries() -> impl Iterator<Item = &'static Entry> {
    all_entries().filter(|e| !e.reaped.load(Ordering::SeqCst))
}

/// Every taken slot, with the processes reaped by their guest parent whose
/// monitor has not ended yet (the host's business only).
pub fn all_entries() -> impl Iterator<Item = &'static Entry> {
    table()
        .into_iter()
        .flat_map(|t| t.entries.iter().take(t.used.load(Ordering::SeqCst)))
        .filter(|e| e.host_pid.load(Ordering::SeqCst) != 0)
}

pub fn by_pid(pid: i32) -> Option<&'static Entry> {
    entries().find(|e| e.pid.load(Ordering::SeqCst) == pid)
}

pub fn by_host_pid(host_pid: i32) -> Option<&'static Entry> {
    all_entries().find(|e| e.host_pid.load(Ordering::SeqCst) == host_pid && !e.detached.load(Ordering::SeqCst))
}

/// How a child's program ended, from its monitor: (`si_code`, status).
pub fn end_of(e: &Entry) -> Option<(i32, i32)> {
    let end = e.end.load(Ordering::SeqCst);
    (end & ENDED != 0).then_some(((end >> 32) as u8 as i32, end as u32 as i32))
}

/// This monitor's program ended (and it is some guest process's child): the
/// parent may reap it now, while this monitor still tears its VM down,
/// which takes milliseconds here. Its monitor then ends the same way.
/// Returns whether it published (not for the first process, whose parent
/// is outside the guest).
pub fn publish_end(end: &super::End) -> bool {
    let Some(me) = me() else { return false };
    if me.ppid.load(Ordering::SeqCst) == 0 {
        return false;
    }
    let (code, status) = match *end {
        super::End::Exit(status) => (libc::CLD_EXITED, status & 0xff),
        super::End::Killed(sig, false) => (libc::CLD_KILLED, sig),
        super::End::Killed(sig, true) => (libc::CLD_DUMPED, sig),
    };
    // What the host's waitid would report of this monitor and its reaped children.
    let usage = |who| {
        // SAFETY: getrusage into a zeroed struct we own.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut r) };
        r
    };
    let (own, children) = (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_CHILDREN));
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    let [user, system] = [us(own.ru_utime) + us(children.ru_utime), us(own.ru_stime) + us(children.ru_stime)];
    let [user_before, system_before] = USED_BEFORE.each_ref().map(|u| u.load(Ordering::SeqCst));
    me.usage[0].store(user.saturating_sub(user_before), Ordering::SeqCst);
    me.usage[1].store(system.saturating_sub(system_before), Ordering::SeqCst);
    // The largest of its own and its descendants' (Linux's `cmaxrss`, the
    // children its guest reaped included: their monitors need not be this
    // one's host children).
    let maxrss = (own.ru_maxrss.max(children.ru_maxrss) as u64).max(REAPED_MAXRSS.load(Ordering::SeqCst));
    me.usage[2].store(maxrss, Ordering::SeqCst);
    orphan_children_of(me.pid.load(Ordering::SeqCst));
    me.end.store(ENDED | (code as u64) << 32 | status as u32 as u64, Ordering::SeqCst);
    // SAFETY: getppid cannot fail; the host parent is the guest parent's
    // monitor (or, for an orphan, the first monitor: guest pid 1).
    unsafe { libc::kill(libc::getppid(), libc::SIGCHLD) };
    // An orphan a subreaper took: its host parent is still pid 1's monitor,
    // so the subreaper's monitor hears of the end from here.
    let parent = me.ppid.load(Ordering::SeqCst);
    if let Some(p) = by_pid(parent).filter(|_| parent > 1) {
        let host = p.host_pid.load(Ordering::SeqCst);
        // SAFETY: getppid cannot fail; kill signals a monitor of this tree.
        if host > 0 && host != unsafe { libc::getppid() } {
            unsafe { libc::kill(host, libc::SIGCHLD) };
        }
    }
    true
}

/// The largest peak resident size (KiB) among the children this process's
/// guest reaped: its own children's figure includes it, as on Linux.
static REAPED_MAXRSS: AtomicU64 = AtomicU64::new(0);

/// The guest reaped a child whose peak resident size was `kib`.
pub fn reaped_maxrss(kib: i64) {
    REAPED_MAXRSS.fetch_max(kib.max(0) as u64, Ordering::SeqCst);
}

/// CPU time (µs of user and system time) this monitor used before its
/// process started: a spare's boot, or the processes it stood for before.
static USED_BEFORE: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// This monitor's process starts now: its `wait4` usage counts from here.
pub fn usage_starts_now() {
    let usage = |who| {
        // SAFETY: getrusage into a zeroed struct we own.
        let mut r: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut r) };
        r
    };
    let (own, children) = (usage(libc::RUSAGE_SELF), usage(libc::RUSAGE_CHILDREN));
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    USED_BEFORE[0].store(us(own.ru_utime) + us(children.ru_utime), Ordering::SeqCst);
    REAPED_MAXRSS.store(0, Ordering::SeqCst);
    USED_BEFORE[1].store(us(own.ru_stime) + us(children.ru_stime), Ordering::SeqCst);
}

/// This monitor's process ended (its end is published) and the monitor
/// becomes a spare again: the slot stays, a zombie, until the guest reaps
/// it; this monitor is listed as a spare, standing for nobody.
pub fn detach() {
    if let Some(me) = me() {
        me.detached.store(true, Ordering::SeqCst);
    }
    became_none();
    // SAFETY: getpid cannot fail.
    add_spare(unsafe { libc::getpid() });
}

/// The resource use published with the end, as a `struct rusage`.
pub fn usage_of(e: &Entry) -> libc::rusage {
    // SAFETY: all-zero is a valid rusage.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    let tv = |us: u64| libc::timeval { tv_sec: (us / 1_000_000) as i64, tv_usec: (us % 1_000_000) as i64 };
    r.ru_utime = tv(e.usage[0].load(Ordering::SeqCst));
    r.ru_stime = tv(e.usage[1].load(Ordering::SeqCst));
    r.ru_maxrss = e.usage[2].load(Ordering::SeqCst) as i64;
    r
}

/// Whether a host SIGCHLD sent by host process `from` is news for the
/// guest (async-signal-safe). A child's end reaches the guest once: when
/// its monitor publishes it, or (a monitor killed outright) when the host
/// reports it; the SIGCHLD of a monitor ending after it published is not.
/// A SIGCHLD from outside the tree reaches the guest as on Linux; one the
/// host kernel sends (`from_kernel`) is always about a host child of this
/// monitor, even one whose slot is gone already (its end reaped by a wait).
/// A child's stop or continuation (`code` CLD_STOPPED, CLD_CONTINUED: its
/// monitor stopped or went on, job control) is news each time.
pub fn sigchld_is_news(from: i32, code: i32) -> bool {
    let from_kernel = code > 0;
    if matches!(code, libc::CLD_STOPPED | libc::CLD_CONTINUED) {
        return true;
    }
    // A spare monitor's end (ours, or an orphan handed to this subreaper
    // when its parent ended) is nobody's news; it is reaped here. Its
    // SIGCHLD may stand for a child's too (they coalesce): the children
    // are looked at all the same.
    let from_spare = from > 0 && forget_spare(from);
    if from_spare {
        // SAFETY: a non-blocking waitid reaping that one host process; async-signal-safe.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        unsafe { libc::waitid(libc::P_PID, from as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG) };
    }
    let Some(me) = me() else { return !from_spare };
    let my_pid = me.pid.load(Ordering::SeqCst);
    let mine = |e: &Entry| e.ppid.load(Ordering::SeqCst) == my_pid;
    let from_child =
        from_spare || from_kernel || all_entries().any(|e| e.host_pid.load(Ordering::SeqCst) == from && mine(e));
    reap_finished(my_pid);
    if !from_child {
        return true;
    }
    let mut news = false;
    // Coalesced SIGCHLDs name one sender: every child is looked at.
    for e in entries().filter(|e| mine(e)) {
        let host = e.host_pid.load(Ordering::SeqCst);
        let ended = end_of(e).is_some()
            || host > 0 && {
                // SAFETY: a non-blocking look (nothing reaped) at one host child.
                let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
                let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
                let r = unsafe { libc::waitid(libc::P_PID, host as libc::id_t, &mut info, flags) };
                // SAFETY: waitid filled `info` (si_pid 0: still running).
                r == 0 && unsafe { info.si_pid() } == host
            };
        if ended && !e.announced.swap(true, Ordering::SeqCst) {
            news = true;
        }
        // A stop or a continuation not waited for yet: the SIGCHLD that
        // told it may have merged with one about another child.
        if host > 0 && !ended {
            // SAFETY: a non-blocking look (nothing reaped) at one host child.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let flags = libc::WSTOPPED | libc::WCONTINUED | libc::WNOHANG | libc::WNOWAIT;
            let r = unsafe { libc::waitid(libc::P_PID, host as libc::id_t, &mut info, flags) };
            // SAFETY: waitid filled `info` (si_pid 0: no such change).
            news |= r == 0 && unsafe { info.si_pid() } == host;
        }
    }
    news
}

/// Reaps, without waiting, the host processes of this monitor's children
/// that the guest already reaped, and frees their slots (async-signal-safe).
pub fn reap_finished(my_pid: i32) {
    for e in all_entries() {
        if e.reaped.load(Ordering::SeqCst) && e.ppid.load(Ordering::SeqCst) == my_pid {
            if e.detached.load(Ordering::SeqCst) {
                release(e);
                continue;
            }
            let host = e.host_pid.load(Ordering::SeqCst);
            // SAFETY: a non-blocking waitid for one host child, into a struct we own.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let r = unsafe { libc::waitid(libc::P_PID, host as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG) };
            // SAFETY: waitid filled `info` (si_pid 0: still running).
            if r == 0 && unsafe { info.si_pid() } == host {
                release(e);
            }
        }
    }
}

/// What `e`'s monitor last published about its program (read word by word:
/// a racing update may mix two, as a racing read of Linux's /proc may).
pub fn identity_of(e: &Entry) -> hx_abi::hypercall::ProcIdentity {
    let bytes: Vec<u8> = e.identity.iter().flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes()).collect();
    vm_memory::ByteValued::from_slice(&bytes).copied().unwrap_or_default()
}

/// Records host process `host_pid` as a spare monitor.
pub fn add_spare(host_pid: i32) -> bool {
    let Some(t) = table() else { return false };
    t.spares.iter().any(|s| s.compare_exchange(0, host_pid, Ordering::SeqCst, Ordering::SeqCst).is_ok())
}

/// Forgets spare `host_pid` (it became a process, or ended); whether it was one.
pub fn forget_spare(host_pid: i32) -> bool {
    let Some(t) = table() else { return false };
    t.spares.iter().any(|s| s.compare_exchange(host_pid, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok())
}

/// A spare monitor stands for no process until it is given one.
pub fn became_none() {
    ME.store(std::ptr::null_mut(), Ordering::SeqCst);
}

/// This monitor's own entry (set by `init` and in a forked monitor by
/// `became`; async-signal-safe, so the signal handlers use it).
static ME: std::sync::atomic::AtomicPtr<Entry> = std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Whether every thread of this monitor's program waits (see `Entry::sleeping`).
pub fn set_sleeping(sleeping: bool) {
    if let Some(me) = me() {
        me.sleeping.store(sleeping, Ordering::SeqCst);
    }
}

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
    let index = (slot as *const Entry as usize - t.entries.as_ptr() as usize) / std::mem::size_of::<Entry>();
    t.used.fetch_max(index + 1, Ordering::SeqCst);
    slot.pid.store(pid, Ordering::SeqCst);
    slot.ppid.store(parent.pid.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.pgid.store(parent.pgid.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.sid.store(parent.sid.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.signals.store(0, Ordering::SeqCst);
    slot.pdeathsig.store(0, Ordering::SeqCst);
    slot.exit_signal.store(exit_signal, Ordering::SeqCst);
    // A child starts with its parent's (its kernel publishes what a reset on fork changes).
    slot.sched.store(parent.sched.load(Ordering::SeqCst), Ordering::SeqCst);
    slot.nice_request.store(0, Ordering::SeqCst);
    slot.end.store(0, Ordering::SeqCst);
    slot.sleeping.store(false, Ordering::SeqCst);
    slot.stop_signal.store(0, Ordering::SeqCst);
    slot.continued.store(false, Ordering::SeqCst);
    slot.announced.store(false, Ordering::SeqCst);
    slot.reaped.store(false, Ordering::SeqCst);
    slot.detached.store(false, Ordering::SeqCst);
    slot.ctty.store(0, Ordering::SeqCst);
    slot.execed.store(false, Ordering::SeqCst);
    // Not inherited (Linux's is_child_subreaper).
    slot.subreaper.store(false, Ordering::SeqCst);
    slot.signal_uids.store(parent.signal_uids.load(Ordering::SeqCst), Ordering::SeqCst);
    for sender in &slot.senders {
        sender.store(0, Ordering::SeqCst);
    }
    // Nothing a previous process of this slot was sent is the child's.
    if let Some(q) = queue_of(slot) {
        for s in &q.slots {
            s.state.store(0, Ordering::SeqCst);
        }
    }
    slot.euid.store(parent.euid.load(Ordering::SeqCst), Ordering::SeqCst);
    // A forked child runs its parent's image until it execs.
    for (w, p) in slot.running.iter().zip(parent.running.iter()) {
        w.store(p.load(Ordering::SeqCst), Ordering::SeqCst);
    }
    // A forked child shows its parent's name and command line until it execs.
    for (w, p) in slot.identity.iter().zip(parent.identity.iter()) {
        w.store(p.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    Some((slot, pid))
}

/// The scheduling policy and nice value an image starts with (`execve`
/// keeps them; the first process's come from hx-run's own), as its kernel
/// would publish them: other processes read them (`getpriority` of a group).
pub fn publish_sched(sched: &hx_abi::boot::SchedState) {
    let Some(me) = me() else { return };
    let nice = sched.nice.clamp(-20, 19) as i32;
    me.sched.store(sched.policy << 32 | u64::from(nice as u32), Ordering::SeqCst);
}

/// This process's real, effective and saved user ids (for signals' permission).
pub fn publish_uids(real: u32, effective: u32, saved: u32) {
    let Some(me) = me() else { return };
    me.signal_uids.store(u64::from(real) | u64::from(saved) << 32, Ordering::SeqCst);
    me.euid.store(effective, Ordering::SeqCst);
}

/// Whether `sender` may signal `target` with `sig` (Linux's rule: its real
/// or effective uid is the target's real or saved one; CAP_KILL, `cap_kill`;
/// SIGCONT within the session).
pub fn may_signal(sender: &Entry, target: &Entry, sig: u64, cap_kill: bool) -> bool {
    let ids = |e: &Entry| {
        let v = e.signal_uids.load(Ordering::SeqCst);
        (v as u32, (v >> 32) as u32)
    };
    let (s_real, _) = ids(sender);
    let s_effective = sender.euid.load(Ordering::SeqCst);
    let (t_real, t_saved) = ids(target);
    cap_kill
        || (sig == libc::SIGCONT as u64 && sender.sid.load(Ordering::SeqCst) == target.sid.load(Ordering::SeqCst))
        || [s_real, s_effective].iter().any(|u| *u == t_real || *u == t_saved)
}

/// What the others' `/proc/<pid>` shows of this process from now on: the
/// image it runs (`comm`: the last component of the name it was started
/// by, 15 bytes at most, as Linux), its arguments and its effective ids.
pub fn publish_identity(execfn: &[u8], argv: &[Vec<u8>], uid: u32, gid: u32) {
    let Some(me) = me() else { return };
    // Called as each image starts: from here this process has exec'd.
    me.execed.store(true, Ordering::SeqCst);
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

/// The files the image this process starts now runs from (`(device,
/// inode)` of the executable and of its interpreter, if any).
pub fn publish_running(files: [Option<(u64, u64)>; 2]) {
    let Some(me) = me() else { return };
    for (pair, file) in me.running.chunks_exact(2).zip(files) {
        let (dev, ino) = file.unwrap_or((0, 0));
        pair[0].store(dev, Ordering::SeqCst);
        pair[1].store(ino, Ordering::SeqCst);
    }
}

/// Whether a process of the tree that has not ended runs from this file.
pub fn runs_from(dev: u64, ino: u64) -> bool {
    entries().filter(|e| e.end.load(Ordering::SeqCst) == 0).any(|e| {
        e.running.chunks_exact(2).any(|p| p[0].load(Ordering::SeqCst) == dev && p[1].load(Ordering::SeqCst) == ino)
    })
}

/// Frees a slot (a reaped child, or a fork that failed).
pub fn release(e: &Entry) {
    e.signals.store(0, Ordering::SeqCst);
    e.reaped.store(false, Ordering::SeqCst);
    e.detached.store(false, Ordering::SeqCst);
    e.end.store(0, Ordering::SeqCst);
    e.host_pid.store(0, Ordering::SeqCst);
}

/// Children of guest `pid` are given to pid 1 when `pid` ends (Linux reparents
/// orphans to init; on the host, the first monitor is their subreaper); the
/// ones that asked for a signal at their parent's death get it.
/// Who takes the orphans of `pid`: its nearest ancestor that is a child
/// subreaper and has not ended, else the tree's pid 1 (Linux's `find_new_reaper`).
fn reaper_for(pid: i32) -> i32 {
    let mut at = by_pid(pid).map_or(1, |e| e.ppid.load(Ordering::SeqCst));
    // Bounded: a table of forged parents cannot make this loop.
    for _ in 0..MAX_PROCESSES {
        if at <= 1 {
            break;
        }
        let Some(e) = by_pid(at) else { break };
        if e.subreaper.load(Ordering::SeqCst) && end_of(e).is_none() {
            return at;
        }
        at = e.ppid.load(Ordering::SeqCst);
    }
    1
}

pub fn orphan_children_of(pid: i32) {
    let reaper = reaper_for(pid);
    for e in all_entries() {
        if e.ppid.load(Ordering::SeqCst) == pid {
            e.ppid.store(reaper, Ordering::SeqCst);
            if reaper != 1 && end_of(e).is_some() {
                // A zombie handed over: its new parent hears of it now.
                if let Some(r) = by_pid(reaper) {
                    // SAFETY: a signal to a monitor of this tree.
                    unsafe { libc::kill(r.host_pid.load(Ordering::SeqCst), libc::SIGCHLD) };
                }
            }
            if e.reaped.load(Ordering::SeqCst) {
                // Reaped, its monitor still ending: the subreaper reaps that.
                continue;
            }
            // Its end, if it came already, is news for its new parent.
            e.announced.store(false, Ordering::SeqCst);
            // An orphan signals its new parent with SIGCHLD (Linux resets it).
            e.exit_signal.store(libc::SIGCHLD, Ordering::SeqCst);
            let sig = e.pdeathsig.load(Ordering::SeqCst);
            // The child's monitor re-reads its entry (and passes a signal on).
            crate::host::process::signal_entry(e, if (1..=64).contains(&sig) { sig as u64 } else { 0 });
        }
    }
}
