//! The files of `/proc/<pid>` (and of `/proc/<pid>/task/<tid>`), in
//! Linux's formats, from the kernel's own state: the descriptor table, the
//! address space, the threads, the credentials and signal dispositions, and
//! what the process started with (`startup`). What hx does not track
//! (faults, context switches, nice values...) reads as 0.
use super::startup::{self, Startup};
use super::text::Text;
use super::TaskFile;
use crate::fs::stat::{major, minor, Stat};
use crate::fs::{pipe, table, Kind, OpenFile};
use crate::mm::{self, names, Kind as VmaKind};
use crate::sched::{self, Thread};
use crate::signal;
use crate::syscall::{cred, process};
use alloc::sync::Arc;
use alloc::vec::Vec;
use hx_abi::boot::{PROT_EXEC, PROT_READ, PROT_WRITE};
use hx_abi::hypercall::op;
use hx_abi::layout::{align_down, align_up, PAGE_SIZE};
use spin::Once;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, `AT_CLKTCK`).
pub const USER_HZ: u64 = 100;

pub fn text(tid: Option<u32>, f: TaskFile) -> Vec<u8> {
    // `/proc/<pid>` shows the main thread (whose tid is the pid), as Linux
    // shows the thread group leader; the caller if it has exited.
    let main = process::pid() as u32;
    let thread = sched::thread(tid.unwrap_or(main)).unwrap_or_else(sched::current_arc);
    match f {
        TaskFile::Auxv => auxv(),
        TaskFile::Cmdline => {
            let s = startup::get();
            user_bytes(s.arg_start, s.arg_end)
        }
        TaskFile::Comm => {
            let mut t = Text::new();
            t.s(&comm_of(&thread)).nl();
            t.into_bytes()
        }
        TaskFile::Environ => {
            let s = startup::get();
            user_bytes(s.env_start, s.env_end)
        }
        TaskFile::Limits => limits(),
        TaskFile::Maps => maps(false),
        // Read by ranges (`pagemap`), never made whole.
        TaskFile::Pagemap => Vec::new(),
        TaskFile::Mounts => super::mounts::mounts(),
        TaskFile::OomScoreAdj => {
            let mut t = Text::new();
            t.i(process::oom_score_adj() as i64).nl();
            t.into_bytes()
        }
        // Eight hex digits, as Linux prints it.
        TaskFile::CoredumpFilter => {
            let mut t = Text::new();
            t.hex(crate::signal::coredump::filter(), 8).nl();
            t.into_bytes()
        }
        TaskFile::OomAdj => {
            // The legacy scale: -17 (OOM_DISABLE) to 15.
            let adj = process::oom_score_adj() as i64;
            let legacy = if adj == 1000 { 15 } else { adj * 17 / 1000 };
            let mut t = Text::new();
            t.i(legacy).nl();
            t.into_bytes()
        }
        TaskFile::OomScore => oom_score(),
        TaskFile::Mountinfo => super::mounts::mountinfo(),
        TaskFile::Personality => {
            let mut t = Text::new();
            t.hex(process::personality_now() as u64, 8).nl();
            t.into_bytes()
        }
        // One unified (v2) hierarchy, the process at its root: hx puts no
        // limits of its own on the guest beyond the VM's.
        TaskFile::Cgroup => b"0::/\n".to_vec(),
        TaskFile::Smaps => maps(true),
        TaskFile::Stat => stat(&thread, tid.is_some()),
        TaskFile::Statm => statm(),
        TaskFile::Status => status(&thread),
    }
}

/// `/proc/<pid>/fdinfo/<fd>`: the description's position, status flags
/// (with `O_CLOEXEC` for the descriptor's own flag) as `0%o`, its mount's
/// id (as `mountinfo` numbers them; the kernel's pipes, sockets and
/// anonymous files have internal mounts of their own), its inode, then
/// what the file kind adds (an eventfd's count, a signalfd's mask, an
/// epoll instance's entries), in Linux's format.
pub fn fdinfo(fd: u64) -> Vec<u8> {
    use crate::fs::anon::Anon;
    let Ok(entry) = table::entry(fd) else { return Vec::new() };
    let file = &entry.file;
    let pos = match &file.kind {
        Kind::Host(h) => crate::host::simple(op::LSEEK, &[*h, 0, 1]).unwrap_or(0),
        Kind::Generated(g) => g.seek(0, 1).unwrap_or(0),
        _ => 0,
    };
    let flags = file.status() as u64 | if entry.cloexec { crate::fs::O_CLOEXEC as u64 } else { 0 };
    let st = crate::syscall::fs::stat_of(file).unwrap_or_default();
    let mount = match &file.kind {
        Kind::PipeRead(_) | Kind::PipeWrite(_) => PIPEFS_MOUNT,
        // Sockets and host pipes have no name; a descriptor the guest
        // started with (a terminal, a file) is shown on the root mount.
        Kind::Host(_) if !file.path.starts_with(b"/") => match st.mode & 0o170000 {
            0o140000 => SOCKFS_MOUNT,
            0o010000 => PIPEFS_MOUNT,
            _ => super::mounts::id_of(b"/"),
        },
        Kind::Anon(_) | Kind::Epoll(_) => ANON_INODE_MOUNT,
        _ => super::mounts::id_of(&file.path),
    };
    let mut t = Text::new();
    t.s(b"pos:\t").u(pos).nl();
    t.s(b"flags:\t0").octal_width(flags, 1).nl();
    t.s(b"mnt_id:\t").u(mount).nl();
    t.s(b"ino:\t").u(st.ino).nl();
    match &file.kind {
        Kind::Anon(Anon::Event(e)) => {
            t.s(b"eventfd-count: ").hex_width(e.count(), 16).nl();
            t.s(b"eventfd-id: ").u(st.ino).nl();
            t.s(b"eventfd-semaphore: ").u(u64::from(e.is_semaphore())).nl();
        }
        Kind::Anon(Anon::Signal(s)) => {
            t.s(b"sigmask:\t").hex(s.mask(), 16).nl();
        }
        Kind::Host(_) => crate::syscall::inotify::fdinfo_lines(file, &mut t),
        Kind::Epoll(ep) => {
            for (tfd, events, data) in crate::syscall::epoll::entries_of(ep) {
                let target = table::get(tfd as u64).ok().and_then(|f| crate::syscall::fs::stat_of(&f).ok());
                let target = target.unwrap_or_default();
                t.s(b"tfd: ").i_width(tfd as i64, 8).s(b" events: ").hex_width(events as u64, 8);
                t.s(b" data: ").hex_width(data, 16).s(b"  pos:0 ino:").hex(target.ino, 1);
                t.s(b" sdev:").hex(target.dev, 1).nl();
            }
        }
        _ => {}
    }
    t.into_bytes()
}

/// The internal mounts of Linux's pipes, sockets and anonymous files (not
/// in `mountinfo`: ids below the first one it lists).
const PIPEFS_MOUNT: u64 = 13;
const SOCKFS_MOUNT: u64 = 14;
const ANON_INODE_MOUNT: u64 = 15;

/// `oom_score`: Linux's badness (resident memory against the guest's RAM,
/// moved by `oom_score_adj`), on its 0–1333 scale.
fn oom_score() -> Vec<u8> {
    let total = (crate::boot_info().mem_size / PAGE_SIZE).max(1) as i64;
    let resident = (mm::with_space(|s| s.resident_bytes()) / PAGE_SIZE) as i64;
    let adj = process::oom_score_adj() as i64;
    let badness = if adj == -1000 { i64::MIN / 2 } else { resident + adj * total / 1000 };
    let points = (1000 + badness.max(-1000 * total / 1000) * 1000 / total).max(0);
    let mut t = Text::new();
    t.u((points * 2 / 3) as u64).nl();
    t.into_bytes()
}

/// Parses a write to an oom file: one decimal integer, blanks around it.
fn written_int(data: &[u8]) -> Result<i64, crate::errno::Errno> {
    let s = core::str::from_utf8(data).map_err(|_| crate::errno::EINVAL)?.trim();
    s.parse::<i64>().map_err(|_| crate::errno::EINVAL)
}

/// A write to `oom_score_adj`: -1000 to 1000.
pub fn store_oom_score_adj(data: &[u8]) -> Result<(), crate::errno::Errno> {
    let v = written_int(data)?;
    if !(-1000..=1000).contains(&v) {
        return Err(crate::errno::EINVAL);
    }
    process::set_oom_score_adj(v as i32, false)
}

/// A write to the legacy `oom_adj`: -17 (disable) to 15, scaled to 1000.
pub fn store_oom_adj(data: &[u8]) -> Result<(), crate::errno::Errno> {
    let v = written_int(data)?;
    if !(-17..=15).contains(&v) {
        return Err(crate::errno::EINVAL);
    }
    let adj = if v == -17 {
        -1000
    } else if v == 15 {
        1000
    } else {
        v * 1000 / 17
    };
    process::set_oom_score_adj(adj as i32, true)
}

/// `/proc/<pid>/limits`: Linux's table (`proc_pid_limits`), with its
/// names, units and column widths.
fn limits() -> Vec<u8> {
    const NAMES: [(&[u8], &[u8]); hx_abi::boot::RLIMITS] = [
        (b"Max cpu time", b"seconds"),
        (b"Max file size", b"bytes"),
        (b"Max data size", b"bytes"),
        (b"Max stack size", b"bytes"),
        (b"Max core file size", b"bytes"),
        (b"Max resident set", b"bytes"),
        (b"Max processes", b"processes"),
        (b"Max open files", b"files"),
        (b"Max locked memory", b"bytes"),
        (b"Max address space", b"bytes"),
        (b"Max file locks", b"locks"),
        (b"Max pending signals", b"signals"),
        (b"Max msgqueue size", b"bytes"),
        (b"Max nice priority", b""),
        (b"Max realtime priority", b""),
        (b"Max realtime timeout", b"us"),
    ];
    let mut t = Text::new();
    let column = |t: &mut Text, text: &[u8], width: usize| {
        let start = t.0.len();
        t.s(text);
        while t.0.len() < start + width {
            t.c(b' ');
        }
        t.c(b' ');
    };
    column(&mut t, b"Limit", 25);
    column(&mut t, b"Soft Limit", 20);
    column(&mut t, b"Hard Limit", 20);
    t.s(b"Units     ").nl();
    for ((name, unit), (soft, hard)) in NAMES.iter().zip(process::limits()) {
        column(&mut t, name, 25);
        for v in [soft, hard] {
            if v == u64::MAX {
                column(&mut t, b"unlimited", 20);
            } else {
                column(&mut t, Text::new().u(v).0.as_slice(), 20);
            }
        }
        if !unit.is_empty() {
            t.s(unit);
            for _ in unit.len()..10 {
                t.c(b' ');
            }
        }
        t.nl();
    }
    t.into_bytes()
}

/// Program memory `[start, end)` as it is now (Linux reads argv and the
/// environment live, so a program that rewrites them is seen doing so).
fn user_bytes(start: u64, end: u64) -> Vec<u8> {
    let len = end.saturating_sub(start).min(1 << 20) as usize;
    let mut out = alloc::vec![0u8; len];
    match mm::copy_from_user(start, &mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

fn auxv() -> Vec<u8> {
    startup::get().auxv.iter().flat_map(|&(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes())).collect()
}

/// What `readlink("/proc/<pid>/fd/N")` says of `file`, as Linux names it.
pub fn fd_name(file: &OpenFile) -> Vec<u8> {
    let mut t = Text::new();
    match &file.kind {
        Kind::PipeRead(p) | Kind::PipeWrite(p) => {
            t.s(b"pipe:[").u(pipe::id(p)).c(b']');
        }
        Kind::Epoll(_) => {
            t.s(b"anon_inode:[eventpoll]");
        }
        Kind::Anon(a) => {
            t.s(a.name());
        }
        Kind::Device(d) if file.path.is_empty() => {
            t.s(d.path());
        }
        Kind::Device(_) | Kind::Generated(_) => {
            t.s(&file.path);
        }
        // A path, or the anonymous inode of one of the kernel's files moved
        // to the host (an eventfd shared with another process).
        Kind::Host(_) if file.path.starts_with(b"/") || file.path.starts_with(b"anon_inode:") => {
            t.s(&file.path);
        }
        // A host descriptor the guest did not open by name (a standard
        // stream, a pipe moved to the host, what an execve passed on).
        Kind::Host(h) => {
            let mut st = Stat::default();
            let _ = crate::host::fstat(*h, st.as_bytes_mut());
            host_name(&mut t, &st);
        }
    }
    t.into_bytes()
}

fn host_name(t: &mut Text, st: &Stat) {
    const S_IFMT: u32 = 0o170000;
    const S_IFIFO: u32 = 0o010000;
    const S_IFCHR: u32 = 0o020000;
    const S_IFSOCK: u32 = 0o140000;
    match st.mode & S_IFMT {
        S_IFIFO => {
            t.s(b"pipe:[").u(st.ino).c(b']');
        }
        S_IFSOCK => {
            t.s(b"socket:[").u(st.ino).c(b']');
        }
        S_IFCHR => {
            let (ma, mi) = (major(st.rdev), minor(st.rdev));
            match (ma, mi) {
                (1, 3) => t.s(b"/dev/null"),
                (1, 5) => t.s(b"/dev/zero"),
                (1, 7) => t.s(b"/dev/full"),
                (1, 8) => t.s(b"/dev/random"),
                (1, 9) => t.s(b"/dev/urandom"),
                (5, 0) => t.s(b"/dev/tty"),
                (5, 1) => t.s(b"/dev/console"),
                (5, 2) => t.s(b"/dev/ptmx"),
                (4, n) if n < 64 => t.s(b"/dev/tty").u(n as u64),
                (4, n) => t.s(b"/dev/ttyS").u(n as u64 - 64),
                (136..=143, n) => t.s(b"/dev/pts/").u((ma as u64 - 136) * 256 + n as u64),
                _ => t.s(b"/dev/char/").u(ma as u64).c(b':').u(mi as u64),
            };
        }
        // A file or directory outside the guest's view: no guest path.
        _ => {
            t.s(b"host:[").u(st.ino).c(b']');
        }
    }
}

/// Sizes Linux derives from the address space, in bytes.
#[derive(Default)]
struct Usage {
    size: u64,
    rss: u64,
    file_rss: u64,
    data: u64,
    stack: u64,
    exec: u64,
    text: u64,
}

fn usage() -> Usage {
    let s = startup::get();
    let mut u = Usage::default();
    let vmas = mm::with_space(|sp| sp.vmas().into_iter().map(|v| (v, sp.resident_of(&v))).collect::<Vec<_>>());
    for (v, resident) in vmas {
        let len = v.end - v.start;
        u.size += len;
        if v.prot != 0 {
            u.rss += resident;
            if v.kind == VmaKind::Image || v.file.is_some() {
                u.file_rss += resident;
            }
        }
        if v.kind == VmaKind::Stack {
            u.stack += len;
        } else if v.prot & PROT_WRITE != 0 {
            u.data += len;
        } else if v.prot & PROT_EXEC != 0 {
            u.exec += len;
        }
    }
    if s.exe.end_code > s.exe.start_code {
        u.text = align_up(s.exe.end_code, PAGE_SIZE) - align_down(s.exe.start_code, PAGE_SIZE);
    }
    u
}

fn status(thread: &Arc<Thread>) -> Vec<u8> {
    let c = cred::current();
    let pid = process::pid();
    let mut t = Text::new();
    t.field(b"Name").s(&comm_of(thread)).nl();
    let umask = crate::syscall::path::current_umask();
    t.field(b"Umask");
    for shift in [9, 6, 3, 0] {
        t.c(b'0' + ((umask >> shift) & 7) as u8);
    }
    t.nl();
    t.field(b"State").s(state(thread).1).nl();
    t.field(b"Tgid").u(pid).nl();
    t.field(b"Ngid").u(0).nl();
    t.field(b"Pid").u(thread.tid as u64).nl();
    t.field(b"PPid").u(ppid()).nl();
    t.field(b"TracerPid").u(0).nl();
    for (name, ids) in [(&b"Uid"[..], c.user), (b"Gid", c.group)] {
        t.field(name).u(ids.real as u64).c(b'\t').u(ids.effective as u64).c(b'\t').u(ids.saved as u64);
        t.c(b'\t').u(ids.fs as u64).nl();
    }
    let fds = table::snapshot().last().map_or(0, |(fd, _)| *fd as usize + 1);
    t.field(b"FDSize").u(fds.max(64).next_power_of_two() as u64).nl();
    t.field(b"Groups");
    for (i, g) in c.groups.iter().enumerate() {
        if i > 0 {
            t.c(b' ');
        }
        t.u(*g as u64);
    }
    t.s(b" \n");
    t.field(b"NStgid").u(pid).nl();
    t.field(b"NSpid").u(thread.tid as u64).nl();
    t.field(b"NSpgid").u(pgrp()).nl();
    t.field(b"NSsid").u(session()).nl();
    let u = usage();
    let kb = |t: &mut Text, name: &[u8], bytes: u64| {
        t.field(name).u_width(bytes / 1024, 8).s(b" kB\n");
    };
    kb(&mut t, b"VmPeak", u.size);
    kb(&mut t, b"VmSize", u.size);
    kb(&mut t, b"VmLck", crate::syscall::mlock::locked());
    kb(&mut t, b"VmPin", 0);
    kb(&mut t, b"VmHWM", u.rss);
    kb(&mut t, b"VmRSS", u.rss);
    kb(&mut t, b"RssAnon", u.rss - u.file_rss);
    kb(&mut t, b"RssFile", u.file_rss);
    kb(&mut t, b"RssShmem", 0);
    kb(&mut t, b"VmData", u.data);
    kb(&mut t, b"VmStk", u.stack);
    kb(&mut t, b"VmExe", u.text);
    kb(&mut t, b"VmLib", u.exec.saturating_sub(u.text));
    kb(&mut t, b"VmPTE", 0);
    kb(&mut t, b"VmSwap", 0);
    t.field(b"HugetlbPages").u_width(0, 8).s(b" kB\n");
    t.field(b"CoreDumping").u(0).nl();
    t.field(b"THP_enabled").u(1).nl();
    t.field(b"Threads").u(sched::threads().len() as u64).nl();
    t.field(b"SigQ").u(0).c(b'/').u(super::system::threads_max() / 2).nl();
    let sigs = Signals::now(thread);
    for (name, set) in [
        (&b"SigPnd"[..], sigs.thread_pending),
        (b"ShdPnd", sigs.process_pending),
        (b"SigBlk", sigs.blocked),
        (b"SigIgn", sigs.ignored),
        (b"SigCgt", sigs.caught),
        (b"CapInh", c.inheritable),
        (b"CapPrm", c.permitted),
        (b"CapEff", c.effective),
        (b"CapBnd", c.bounding),
        (b"CapAmb", c.ambient),
    ] {
        t.field(name).hex(set, 16).nl();
    }
    let (seccomp, filters) = crate::syscall::seccomp::of_thread(thread);
    t.field(b"NoNewPrivs").u(u64::from(process::no_new_privs())).nl();
    t.field(b"Seccomp").u(seccomp).nl();
    t.field(b"Seccomp_filters").u(filters).nl();
    let cpus = thread.affinity.load(core::sync::atomic::Ordering::Relaxed) & online_mask();
    t.field(b"Cpus_allowed").hex(cpus, 1).nl();
    t.field(b"Cpus_allowed_list");
    cpu_list(&mut t, cpus);
    t.nl();
    t.field(b"Mems_allowed").hex(1, 8).nl();
    t.field(b"Mems_allowed_list").u(0).nl();
    t.field(b"voluntary_ctxt_switches").u(0).nl();
    t.field(b"nonvoluntary_ctxt_switches").u(0).nl();
    t.into_bytes()
}

fn online_mask() -> u64 {
    match sched::ncpus() {
        n if n >= 64 => u64::MAX,
        n => (1 << n) - 1,
    }
}

/// Linux's list format for a CPU mask: `0-1,3`.
fn cpu_list(t: &mut Text, mask: u64) {
    let mut first = true;
    let mut cpu = 0;
    while cpu < 64 {
        if mask & (1 << cpu) == 0 {
            cpu += 1;
            continue;
        }
        let start = cpu;
        while cpu + 1 < 64 && mask & (1 << (cpu + 1)) != 0 {
            cpu += 1;
        }
        if !first {
            t.c(b',');
        }
        first = false;
        t.u(start);
        if cpu > start {
            t.c(b'-').u(cpu);
        }
        cpu += 1;
    }
}

struct Signals {
    thread_pending: u64,
    process_pending: u64,
    blocked: u64,
    ignored: u64,
    caught: u64,
}

impl Signals {
    fn now(thread: &Thread) -> Self {
        let (thread_pending, blocked) = {
            let s = thread.signals.lock();
            (s.pending.set, s.mask)
        };
        let caught = (1..=signal::NSIG as u32)
            .filter(|&s| signal::action(s).handler > signal::SIG_IGN)
            .fold(0, |m, s| m | signal::bit(s));
        Signals {
            thread_pending,
            process_pending: signal::process_pending(),
            blocked,
            ignored: signal::ignored_set(),
            caught,
        }
    }
}

/// A thread's `comm`: the name `PR_SET_NAME` gave it, else the program's.
pub(crate) fn comm_of(thread: &Thread) -> Vec<u8> {
    match process::name_set_for(thread.tid) {
        Some(n) => n[..n.iter().position(|&b| b == 0).unwrap_or(n.len())].to_vec(),
        None => startup::get().comm.to_vec(),
    }
}

/// The thread's state letter and `status` text: running or ready to
/// (the reader is), or sleeping (blocked in the guest kernel).
fn state(thread: &Thread) -> (u8, &'static [u8]) {
    if thread.tid == sched::current().tid || sched::runnable(thread) {
        (b'R', b"R (running)")
    } else {
        (b'S', b"S (sleeping)")
    }
}

fn ppid() -> u64 {
    process::getppid([0; 6]).unwrap_or(0)
}

fn pgrp() -> u64 {
    process::getpgrp([0; 6]).unwrap_or(0)
}

fn session() -> u64 {
    process::getsid([0; 6]).unwrap_or(0)
}

/// Ticks since boot: the guest's boot is the monotonic clock's zero, as
/// `/proc/uptime` and `sysinfo` count it.
fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

/// `/proc/<pid>/stat` (52 fields; `thread_only`: a `task/<tid>/stat`, whose
/// times are the thread's).
fn stat(thread: &Thread, thread_only: bool) -> Vec<u8> {
    let s = startup::get();
    let u = usage();
    let sigs = Signals::now(thread);
    let cpu_ns = if thread_only { thread.cpu_time() } else { sched::process_cpu_ns() };
    let processor = if thread.tid == sched::current().tid {
        crate::arch::percpu::cpu()
    } else {
        sched::running_on(thread).unwrap_or(0)
    };
    let (start_brk, _) = mm::with_space(|sp| sp.heap());
    let mut t = Text::new();
    t.u(thread.tid as u64).s(b" (").s(&comm_of(thread)).s(b") ").c(state(thread).0);
    let fields: [i64; 49] = [
        ppid() as i64,
        pgrp() as i64,
        session() as i64,
        0,  // tty_nr
        -1, // tpgid
        0,  // flags
        0,  // minflt
        0,  // cminflt
        0,  // majflt
        0,  // cmajflt
        ticks(cpu_ns) as i64,
        0, // stime
        0, // cutime
        0, // cstime
        20,
        0, // nice
        sched::threads().len() as i64,
        0, // itrealvalue
        ticks(startup::started_ns()) as i64,
        u.size as i64,
        (u.rss / PAGE_SIZE) as i64,
        -1, // rsslim: RLIMIT_RSS, unlimited
        s.exe.start_code as i64,
        s.exe.end_code as i64,
        s.stack_start as i64,
        0, // kstkesp
        0, // kstkeip
        (sigs.thread_pending | sigs.process_pending) as i64,
        sigs.blocked as i64,
        sigs.ignored as i64,
        sigs.caught as i64,
        0,  // wchan
        0,  // nswap
        0,  // cnswap
        17, // exit_signal: SIGCHLD
        processor as i64,
        0, // rt_priority
        0, // policy
        0, // delayacct_blkio_ticks
        0, // guest_time
        0, // cguest_time
        s.exe.start_data as i64,
        s.exe.end_data as i64,
        start_brk as i64,
        s.arg_start as i64,
        s.arg_end as i64,
        s.env_start as i64,
        s.env_end as i64,
        0, // exit_code
    ];
    for (i, v) in fields.iter().enumerate() {
        t.c(b' ');
        // rsslim, the masks and addresses are unsigned in Linux's output.
        if *v < 0 && i != 4 {
            t.u(*v as u64);
        } else {
            t.i(*v);
        }
    }
    t.nl();
    t.into_bytes()
}

fn statm() -> Vec<u8> {
    let u = usage();
    let pages = |b: u64| b / PAGE_SIZE;
    let mut t = Text::new();
    t.u(pages(u.size)).c(b' ').u(pages(u.rss)).c(b' ').u(pages(u.file_rss)).c(b' ').u(pages(u.text));
    t.s(b" 0 ").u(pages(u.data + u.stack)).s(b" 0\n");
    t.into_bytes()
}

/// A file the monitor holds: its guest path with links resolved (as
/// Linux's `d_path` gives it), device and inode.
pub struct Identity {
    pub path: Vec<u8>,
    pub dev: u64,
    pub ino: u64,
}

/// What the monitor says of the file at `path` (one request; the path
/// itself and no numbers if it is gone).
fn identify(path: &[u8]) -> Identity {
    let mut resolved = alloc::vec![0u8; crate::fs::path::PATH_MAX];
    let mut st = Stat::default();
    let (r, out) = crate::host::path_request(op::STAT, &[1], &[path], &mut [st.as_bytes_mut(), &mut resolved]);
    if r.is_err() {
        return Identity { path: path.to_vec(), dev: 0, ino: 0 };
    }
    resolved.truncate(out[2] as usize);
    Identity { path: resolved, dev: st.dev, ino: st.ino }
}

/// The program's file and its interpreter's, asked of the monitor the
/// first time `maps` shows them. The program goes by the path `exe` gives
/// (the monitor's, which costs no request: static glibc reads `exe` at every
/// start), the interpreter by the file its `PT_INTERP` path leads to.
fn images() -> &'static [Identity; 2] {
    static IDS: Once<[Identity; 2]> = Once::new();
    IDS.call_once(|| {
        let interp = match &startup::get().interp {
            Some((_, name)) => identify(name),
            None => Identity { path: Vec::new(), dev: 0, ino: 0 },
        };
        [Identity { path: crate::exe_path().to_vec(), ..identify(crate::exe_path()) }, interp]
    })
}

/// What a piece of an image mapping is: (name, file offset, dev, inode), or
/// `None` for zero fill past the file's bytes.
fn image_piece<'a>(s: &Startup, ids: &'a [Identity; 2], addr: u64) -> Option<(&'a [u8], u64, u64, u64)> {
    let interp = s.interp.as_ref().map(|(img, _)| img);
    for (img, id) in [Some(&s.exe), interp].into_iter().zip(ids) {
        let Some(l) = img.and_then(|img| img.loads.iter().find(|l| (l.start..l.end).contains(&addr))) else {
            continue;
        };
        return (addr < l.file_end).then_some((id.path.as_slice(), l.offset + (addr - l.start), id.dev, id.ino));
    }
    if s.vdso.contains(addr) {
        return Some((b"[vdso]", 0, 0, 0));
    }
    None
}

/// The device and inode of the file at `path` (0s if it is gone).
fn stat_ids(path: &[u8]) -> (u64, u64) {
    let mut st = Stat::default();
    match crate::host::path_request(op::STAT, &[1], &[path], &mut [st.as_bytes_mut()]).0 {
        Ok(_) => (st.dev, st.ino),
        Err(_) => (0, 0),
    }
}

/// `/proc/<pid>/maps`: one line per mapping, image mappings split where
/// Linux's would be (per segment, file bytes apart from zero fill).
/// `/proc/self/maps`, or with `detail` `/proc/self/smaps` (each mapping's
/// memory use after its line, in Linux 6.1's fields).
/// `/proc/self/pagemap`: 8 bytes per page of the address space from byte
/// `start`, at most `len` bytes (whole entries, as Linux asks: EINVAL
/// otherwise). Bit 63: a page is there (anonymous memory once used, a
/// file's page once mapped); 61: a file's page or shared memory; 56: mapped
/// by this process alone; the frame number only for CAP_SYS_ADMIN (zeros
/// otherwise, as Linux since 4.2). No soft-dirty bits (no `clear_refs`).
pub fn pagemap(start: u64, len: usize) -> Result<Vec<u8>, crate::errno::Errno> {
    const PRESENT: u64 = 1 << 63;
    const FILE_OR_SHARED: u64 = 1 << 61;
    const EXCLUSIVE: u64 = 1 << 56;
    if !start.is_multiple_of(8) || !len.is_multiple_of(8) {
        return Err(crate::errno::EINVAL);
    }
    let pfns = cred::capable(hx_abi::uapi::CAP_SYS_ADMIN);
    let first = start / 8;
    let count = (len / 8) as u64;
    let end = first.saturating_add(count).min(hx_abi::layout::USER_END / PAGE_SIZE);
    let mut out = Vec::with_capacity(len);
    mm::with_space(|s| {
        let mut page = first;
        while page < end {
            let va = page * PAGE_SIZE;
            let entry = match s.vma_at(va) {
                None => 0,
                Some(v) => {
                    let file_or_shared = v.file.is_some() || v.kind == VmaKind::Shared || v.kind == VmaKind::Image;
                    let present = s.present(va);
                    let pfn = if pfns && present { s.phys_at(va).map_or(0, |p| p / PAGE_SIZE) } else { 0 };
                    let flags = if file_or_shared { PRESENT | EXCLUSIVE | FILE_OR_SHARED } else { PRESENT | EXCLUSIVE };
                    if present {
                        flags | pfn
                    } else {
                        0
                    }
                }
            };
            out.extend_from_slice(&entry.to_ne_bytes());
            page += 1;
        }
    });
    Ok(out)
}

/// One line of `/proc/<pid>/maps`: a mapping, or the part of one that
/// lies over one piece of a loaded image (text, data, bss).
#[derive(Clone)]
pub(crate) struct MapPiece {
    pub vma: mm::space::Vma,
    pub start: u64,
    pub end: u64,
    pub shared: bool,
    pub offset: u64,
    pub dev: u64,
    pub ino: u64,
    pub name: Vec<u8>,
}

/// The process's mappings as `maps` lists them.
pub(crate) fn map_pieces() -> Vec<MapPiece> {
    let s = startup::get();
    let ids = images();
    let vmas = mm::with_space(|sp| sp.vmas());
    let mut cuts: Vec<u64> = Vec::new();
    for img in [Some(&s.exe), s.interp.as_ref().map(|(i, _)| i), Some(&s.vdso)].into_iter().flatten() {
        for l in &img.loads {
            cuts.extend([l.start, l.file_end, l.end]);
        }
    }
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    for v in vmas {
        let mut at = v.start;
        while at < v.end {
            let end = match v.kind {
                VmaKind::Image => cuts.iter().copied().find(|&c| c > at).unwrap_or(v.end).min(v.end),
                _ => v.end,
            };
            let (name, offset, dev, ino): (Vec<u8>, u64, u64, u64) = match (v.kind, v.file) {
                (VmaKind::Image, _) => {
                    image_piece(s, ids, at).map_or((Vec::new(), 0, 0, 0), |(n, o, d, i)| (n.to_vec(), o, d, i))
                }
                (VmaKind::Stack, _) => (b"[stack]".to_vec(), 0, 0, 0),
                (VmaKind::Heap, _) => (b"[heap]".to_vec(), 0, 0, 0),
                (VmaKind::Anon | VmaKind::Shared, Some(f)) => {
                    let (dev, ino) = names::ids(f.name, stat_ids);
                    (names::path(f.name), f.offset, dev, ino)
                }
                (VmaKind::Anon, None) => (Vec::new(), 0, 0, 0),
                // Shared anonymous memory: Linux names it after its shmem file.
                (VmaKind::Shared, None) => (b"/dev/zero (deleted)".to_vec(), 0, 0, 0),
            };
            // A private file mapping is host-shared memory underneath, private to the program.
            let shared = v.file.map_or(v.kind == VmaKind::Shared, |f| f.shared);
            pieces.push(MapPiece { vma: v, start: at, end, shared, offset, dev, ino, name });
            at = end;
        }
    }
    pieces
}

fn maps(detail: bool) -> Vec<u8> {
    let mut t = Text::new();
    for p in map_pieces() {
        map_line(&mut t, p.start, p.end, p.vma.prot, p.shared, p.offset, p.dev, p.ino, &p.name);
        if detail {
            smap_fields(&mut t, &p.vma, p.start, p.end, p.shared);
        }
    }
    t.into_bytes()
}

/// The memory use of `[start, end)` of mapping `v` as smaps shows it. Every
/// page is the process's own (`Private_*`: hx never maps a page into two
/// processes' tables, sharing is the host's); written anonymous memory is
/// dirty, file pages clean.
fn smap_fields(t: &mut Text, v: &mm::space::Vma, start: u64, end: u64, shared: bool) {
    const W: usize = 16;
    let rss = mm::with_space(|sp| sp.resident_in(start, end));
    let anon = v.file.is_none() && v.kind != VmaKind::Image && v.kind != VmaKind::Shared;
    let dirty = if anon || v.prot & PROT_WRITE != 0 { rss } else { 0 };
    let locked = crate::syscall::mlock::locked_in(start, end).min(rss);
    t.kb(b"Size", W, end - start).kb(b"KernelPageSize", W, PAGE_SIZE).kb(b"MMUPageSize", W, PAGE_SIZE);
    t.kb(b"Rss", W, rss).kb(b"Pss", W, rss).kb(b"Pss_Dirty", W, dirty);
    t.kb(b"Shared_Clean", W, 0).kb(b"Shared_Dirty", W, 0);
    t.kb(b"Private_Clean", W, rss - dirty).kb(b"Private_Dirty", W, dirty);
    t.kb(b"Referenced", W, rss).kb(b"Anonymous", W, if anon { rss } else { 0 });
    for name in [&b"LazyFree"[..], b"AnonHugePages", b"ShmemPmdMapped", b"FilePmdMapped"] {
        t.kb(name, W, 0);
    }
    for name in [&b"Shared_Hugetlb"[..], b"Private_Hugetlb", b"Swap", b"SwapPss"] {
        t.kb(name, W, 0);
    }
    t.kb(b"Locked", W, locked);
    t.s(b"THPeligible:    0\n");
    t.s(b"VmFlags: ");
    let flags: [(bool, &[u8]); 11] = [
        (v.prot & PROT_READ != 0, b"rd"),
        (v.prot & PROT_WRITE != 0, b"wr"),
        (v.prot & PROT_EXEC != 0, b"ex"),
        (shared, b"sh"),
        (true, b"mr"),
        (!shared || v.file.is_none_or(|f| !f.read_only), b"mw"),
        (true, b"me"),
        (shared, b"ms"),
        (v.kind == VmaKind::Stack, b"gd"),
        (!shared && v.prot & PROT_WRITE != 0, b"ac"),
        (locked > 0, b"lo"),
    ];
    for (_, name) in flags.iter().filter(|(on, _)| *on) {
        t.s(name).c(b' ');
    }
    t.nl();
}

#[allow(clippy::too_many_arguments)]
fn map_line(t: &mut Text, start: u64, end: u64, prot: u32, shared: bool, offset: u64, dev: u64, ino: u64, name: &[u8]) {
    t.hex(start, 8).c(b'-').hex(end, 8).c(b' ');
    t.c(if prot & PROT_READ != 0 { b'r' } else { b'-' });
    t.c(if prot & PROT_WRITE != 0 { b'w' } else { b'-' });
    t.c(if prot & PROT_EXEC != 0 { b'x' } else { b'-' });
    t.c(if shared { b's' } else { b'p' }).c(b' ').hex(offset, 8).c(b' ');
    t.hex(major(dev) as u64, 2).c(b':').hex(minor(dev) as u64, 2).c(b' ').u(ino).c(b' ');
    if !name.is_empty() {
        t.pad_to(72, 0).c(b' ').s(name);
    }
    t.nl();
}
