//! The files of `/proc` and `/proc/sys` that describe the guest as a whole:
//! its memory, CPUs, clocks and the kernel's names. The guest is the VM:
//! its RAM is `--memory`, its CPUs are the vCPUs, its uptime is the
//! monotonic clock (`CLOCK_BOOTTIME` and `sysinfo` count from the same zero).
use super::process::USER_HZ;
use super::text::Text;
use super::Global;
use crate::sched;
use alloc::vec::Vec;
use hx_abi::hypercall::sysv_limits;

/// The kernel's names, as `uname` gives them (`syscall::process::uname`).
pub const OSTYPE: &[u8] = b"Linux";
pub const OSRELEASE: &[u8] = b"6.1.0-hx";
pub const VERSION: &[u8] = b"#1 SMP hx unikernel";
/// The boot's host name, as the monitor gave it (`--hostname`).
pub fn boot_hostname() -> &'static [u8] {
    let boot = crate::boot_info();
    &boot.hostname[..(boot.hostname_len as usize).min(boot.hostname.len())]
}
pub const DOMAINNAME: &[u8] = b"(none)";

/// Linux's highest pid on 64 bits (`PID_MAX_LIMIT`): hx's pids only grow.
const PID_MAX: u64 = 4 * 1024 * 1024;

/// The index in `hx_abi::hypercall::SYSV_LIMITS` of an IPC limit file.
pub fn ipc_limit(g: Global) -> Option<u64> {
    Some(match g {
        Global::ShmMax => 0,
        Global::ShmAll => 1,
        Global::ShmMni => 2,
        Global::MsgMax => 3,
        Global::MsgMnb => 4,
        Global::MsgMni => 5,
        Global::Sem => 6,
        Global::MqQueuesMax => 7,
        Global::MqMsgMax => 8,
        Global::MqMsgsizeMax => 9,
        Global::MqMsgDefault => 10,
        Global::MqMsgsizeDefault => 11,
        _ => return None,
    })
}

pub fn text(g: Global) -> Vec<u8> {
    // The IPC limits are the tree's namespace's, which any process may change.
    if let Some(text) = ipc_limit(g).and_then(crate::syscall::sysv::limit_text) {
        return text;
    }
    let mut t = Text::new();
    match g {
        Global::ConfigGz => return super::config::gzipped(),
        Global::Cpuinfo => return super::cpuinfo::text(),
        Global::Meminfo => return meminfo(),
        Global::Stat => return stat(),
        Global::SysvipcShm => return super::sysvipc::shm(),
        Global::SysvipcSem => return super::sysvipc::sem(),
        Global::SysvipcMsg => return super::sysvipc::msg(),
        Global::Filesystems => return super::mounts::filesystems(),
        Global::Swaps => {
            t.s(b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority").nl();
        }
        Global::Uptime => {
            let up = crate::time::monotonic_ns() / 10_000_000;
            t.hundredths(up).c(b' ').hundredths(idle_ns() / 10_000_000).nl();
        }
        Global::Loadavg => {
            let threads = sched::threads().len() as u64;
            t.s(b"0.00 0.00 0.00 1/").u(threads).c(b' ').u(crate::syscall::process::pid()).nl();
        }
        Global::Version => {
            t.s(b"Linux version ").s(OSRELEASE).s(b" (hx@hx) (hx guest kernel) ").s(VERSION).nl();
        }
        Global::CapLastCap => {
            t.u(hx_abi::uapi::CAP_LAST_CAP as u64).nl();
        }
        Global::Domainname => {
            t.s(&crate::syscall::process::domainname()).nl();
        }
        Global::Hostname => {
            t.s(&crate::syscall::process::hostname()).nl();
        }
        Global::NgroupsMax => {
            t.u(65536).nl();
        }
        Global::Osrelease => {
            t.s(OSRELEASE).nl();
        }
        Global::Ostype => {
            t.s(OSTYPE).nl();
        }
        Global::PidMax => {
            t.u(PID_MAX).nl();
        }
        Global::ThreadsMax => {
            t.u(threads_max()).nl();
        }
        Global::KernelVersion => {
            t.s(VERSION).nl();
        }
        Global::Uuid => uuid(&mut t),
        // The guest's random bytes come from a generator the host seeded:
        // its pool is always full, as Linux 5.18 on reports its own.
        Global::EntropyAvail | Global::Poolsize => {
            t.u(256).nl();
        }
        // The console log levels (`syslog`'s, the process's own).
        Global::Printk => {
            let levels = &crate::syscall::process::PRINTK_LEVELS;
            for (i, l) in levels.iter().enumerate() {
                if i > 0 {
                    t.c(b'\t');
                }
                t.i(l.load(core::sync::atomic::Ordering::Relaxed) as i64);
            }
            t.nl();
        }
        // Linux's defaults: the largest pipe an unprivileged process may ask
        // for (F_SETPIPE_SZ), no per-user pipe page limit, the descriptor limits.
        Global::PipeMaxSize => {
            t.u(1 << 20).nl();
        }
        Global::InotifyMaxQueuedEvents => {
            t.u(16384).nl();
        }
        Global::InotifyMaxUserInstances => {
            t.u(128).nl();
        }
        Global::MqMsgDefault | Global::MqMsgMax => {
            t.u(10).nl();
        }
        Global::MqMsgsizeDefault | Global::MqMsgsizeMax => {
            t.u(8192).nl();
        }
        Global::MqQueuesMax => {
            t.u(256).nl();
        }
        Global::InotifyMaxUserWatches => {
            t.u(65536).nl();
        }
        Global::PipeUserPagesHard => {
            t.u(0).nl();
        }
        Global::MsgMax => {
            t.u(sysv_limits::MSGMAX.into()).nl();
        }
        Global::MsgMnb => {
            t.u(sysv_limits::MSGMNB.into()).nl();
        }
        Global::MsgMni => {
            t.u(sysv_limits::MSGMNI.into()).nl();
        }
        Global::Sem => {
            let l = [sysv_limits::SEMMSL, sysv_limits::SEMMNS, sysv_limits::SEMOPM, sysv_limits::SEMMNI];
            for (i, v) in l.iter().enumerate() {
                t.s(if i == 0 { b"" } else { b"\t" }).u((*v).into());
            }
            t.nl();
        }
        Global::ShmAll => {
            t.u(crate::boot_info().mem_size / 4096 * sysv_limits::SHMALL_RAMS).nl();
        }
        Global::ShmMax => {
            t.u(crate::boot_info().mem_size).nl();
        }
        Global::Tainted => {
            t.u(0).nl();
        }
        Global::CorePattern => {
            t.s(&crate::signal::coredump::pattern()).nl();
        }
        Global::CoreUsesPid => {
            t.u(crate::signal::coredump::uses_pid() as u64).nl();
        }
        Global::ShmMni => {
            t.u(sysv_limits::SHMMNI.into()).nl();
        }
        Global::PipeUserPagesSoft => {
            t.u(16384).nl();
        }
        Global::NrOpen => {
            t.u(1 << 20).nl();
        }
        Global::FileMax => {
            t.u(i64::MAX as u64).nl();
        }
        Global::MaxMapCount => {
            t.u(crate::mm::max_map_count()).nl();
        }
        // Every mapping is backed when it is made: the guest never
        // overcommits (Linux's "strict" mode, 2).
        Global::OvercommitMemory => {
            t.u(2).nl();
        }
    }
    t.into_bytes()
}

/// Linux's formula: RAM pages over eight kernel stacks' worth.
pub fn threads_max() -> u64 {
    let per_thread = 8 * crate::sched::thread::KSTACK_SIZE;
    (crate::boot_info().mem_size / per_thread).clamp(20, 0x3fff_ffff)
}

/// Time the vCPUs spent without a thread to run, summed (approximately:
/// uptime on every vCPU less the CPU time the threads used).
fn idle_ns() -> u64 {
    (crate::time::monotonic_ns() * sched::ncpus() as u64).saturating_sub(sched::process_cpu_ns())
}

fn meminfo() -> Vec<u8> {
    let total = crate::boot_info().mem_size;
    let free = crate::mm::with_space(|s| s.frames.free_bytes());
    let used = crate::mm::with_space(|s| s.resident_bytes());
    let kernel_stacks = sched::threads().len() as u64 * crate::sched::thread::KSTACK_SIZE;
    let mut t = Text::new();
    let lines: [(&[u8], u64); 49] = [
        (b"MemTotal", total),
        (b"MemFree", free),
        (b"MemAvailable", free),
        (b"Buffers", 0),
        (b"Cached", 0),
        (b"SwapCached", 0),
        (b"Active", used),
        (b"Inactive", 0),
        (b"Active(anon)", used),
        (b"Inactive(anon)", 0),
        (b"Active(file)", 0),
        (b"Inactive(file)", 0),
        (b"Unevictable", 0),
        (b"Mlocked", 0),
        (b"SwapTotal", 0),
        (b"SwapFree", 0),
        (b"Zswap", 0),
        (b"Zswapped", 0),
        (b"Dirty", 0),
        (b"Writeback", 0),
        (b"AnonPages", used),
        (b"Mapped", 0),
        (b"Shmem", 0),
        (b"KReclaimable", 0),
        (b"Slab", 0),
        (b"SReclaimable", 0),
        (b"SUnreclaim", 0),
        (b"KernelStack", kernel_stacks),
        (b"PageTables", 0),
        (b"SecPageTables", 0),
        (b"NFS_Unstable", 0),
        (b"Bounce", 0),
        (b"WritebackTmp", 0),
        (b"CommitLimit", total),
        (b"Committed_AS", used),
        (b"VmallocTotal", 34_359_738_367 * 1024),
        (b"VmallocUsed", 0),
        (b"VmallocChunk", 0),
        (b"Percpu", 0),
        (b"AnonHugePages", 0),
        (b"ShmemHugePages", 0),
        (b"ShmemPmdMapped", 0),
        (b"FileHugePages", 0),
        (b"FilePmdMapped", 0),
        (b"HugePages_Total", u64::MAX),
        (b"HugePages_Free", u64::MAX),
        (b"HugePages_Rsvd", u64::MAX),
        (b"HugePages_Surp", u64::MAX),
        (b"Hugepagesize", 2048 * 1024),
    ];
    for (name, bytes) in lines {
        if bytes == u64::MAX {
            // Counts, not sizes: "HugePages_Total:       0".
            t.s(name).c(b':').pad_to(16, 0).s(b"   ").u_width(0, 5).nl();
        } else {
            t.kb(name, 16, bytes);
        }
    }
    for name in [&b"Hugetlb"[..], b"DirectMap4k", b"DirectMap2M", b"DirectMap1G"] {
        t.kb(name, 16, 0);
    }
    t.into_bytes()
}

/// `/proc/stat`: CPU time in ticks (the threads' time as user time, the
/// rest idle), the boot time, and counts hx keeps.
fn stat() -> Vec<u8> {
    let ncpus = sched::ncpus() as u64;
    let tick = 1_000_000_000 / USER_HZ;
    let user = sched::process_cpu_ns() / tick;
    let idle = idle_ns() / tick;
    let mut t = Text::new();
    let cpu_line = |t: &mut Text, user: u64, idle: u64| {
        t.c(b' ').u(user).s(b" 0 0 ").u(idle).s(b" 0 0 0 0 0 0\n");
    };
    t.s(b"cpu ");
    cpu_line(&mut t, user, idle);
    for cpu in 0..ncpus {
        t.s(b"cpu").u(cpu);
        cpu_line(&mut t, user / ncpus, idle / ncpus);
    }
    let boot = (crate::time::realtime_ns().saturating_sub(crate::time::monotonic_ns())) / 1_000_000_000;
    t.s(b"intr 0\nctxt 0\nbtime ").u(boot).nl();
    t.s(b"processes ").u(crate::syscall::process::pid()).nl();
    t.s(b"procs_running 1\nprocs_blocked 0\n");
    t.s(b"softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    t.into_bytes()
}

/// A fresh random UUID (version 4), as `/proc/sys/kernel/random/uuid` gives.
fn uuid(t: &mut Text) {
    let mut b = [0u8; 16];
    crate::host::random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            t.c(b'-');
        }
        t.hex(*byte as u64, 2);
    }
    t.nl();
}
