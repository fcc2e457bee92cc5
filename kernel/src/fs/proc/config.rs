//! `/proc/config.gz`: the guest kernel's configuration as Linux's
//! `CONFIG_IKCONFIG_PROC` shows it, so that programs that look for a
//! feature there (test suites, container checkers) see what hx implements:
//! `=y` for what it serves, "is not set" for what it answers as a kernel
//! built without it (ENOSYS, or the errno such a kernel gives). gzip with
//! stored deflate blocks: readable by any gunzip, no compressor in the kernel.
use alloc::vec::Vec;

/// Whether an option shows as set.
#[derive(Clone, Copy)]
enum Shown {
    Set,
    Unset,
    /// Set if the syscall table serves this number (the option's own call):
    /// the configuration cannot drift from what the kernel does.
    Serves(usize),
}
use Shown::{Serves, Set, Unset};

/// Each line as `make` writes it. Kept to what hx's syscalls show.
const OPTIONS: &[(&str, Shown)] = &[
    ("CONFIG_64BIT", Set),
    ("CONFIG_X86_64", Set),
    ("CONFIG_MMU", Set),
    ("CONFIG_SMP", Set),
    ("CONFIG_MULTIUSER", Set),
    ("CONFIG_PROC_FS", Set),
    ("CONFIG_IKCONFIG", Set),
    ("CONFIG_IKCONFIG_PROC", Set),
    ("CONFIG_FUTEX", Serves(202)),
    ("CONFIG_EPOLL", Serves(291)),
    ("CONFIG_SIGNALFD", Serves(289)),
    ("CONFIG_TIMERFD", Serves(283)),
    ("CONFIG_EVENTFD", Serves(290)),
    ("CONFIG_AIO", Serves(206)),
    ("CONFIG_POSIX_TIMERS", Serves(222)),
    ("CONFIG_HIGH_RES_TIMERS", Set),
    ("CONFIG_FILE_LOCKING", Serves(73)),
    ("CONFIG_MEMFD_CREATE", Serves(319)),
    ("CONFIG_RSEQ", Serves(334)),
    ("CONFIG_MEMBARRIER", Serves(324)),
    ("CONFIG_UNIX", Set),
    ("CONFIG_INET", Set),
    ("CONFIG_IPV6", Set),
    ("CONFIG_UNIX98_PTYS", Set),
    ("CONFIG_SYSVIPC", Serves(68)),
    ("CONFIG_INOTIFY_USER", Serves(294)),
    // `fcntl(F_NOTIFY)`.
    ("CONFIG_DNOTIFY", Set),
    ("CONFIG_SECCOMP", Serves(317)),
    ("CONFIG_SECCOMP_FILTER", Serves(317)),
    ("CONFIG_CROSS_MEMORY_ATTACH", Serves(310)),
    ("CONFIG_KCMP", Serves(312)),
    ("CONFIG_SYSFS_SYSCALL", Serves(139)),
    // Refused as a kernel with them refuses an unprivileged caller.
    ("CONFIG_USERFAULTFD", Set),
    ("CONFIG_BPF_SYSCALL", Set),
    ("CONFIG_PERF_EVENTS", Set),
    ("CONFIG_FANOTIFY", Set),
    // Not there: ENOSYS, or the answer of a kernel without them.
    ("CONFIG_IO_URING", Serves(425)),
    ("CONFIG_KEYS", Serves(248)),
    ("CONFIG_POSIX_MQUEUE", Serves(240)),
    ("CONFIG_BSD_PROCESS_ACCT", Serves(163)),
    ("CONFIG_NAMESPACES", Unset),
    ("CONFIG_USER_NS", Unset),
    ("CONFIG_PID_NS", Unset),
    ("CONFIG_NET_NS", Unset),
    ("CONFIG_UTS_NS", Unset),
    ("CONFIG_IPC_NS", Unset),
    ("CONFIG_TIME_NS", Unset),
    // /proc/PID/map_files, clone3's set_tid, PR_SET_MM: not there.
    ("CONFIG_CHECKPOINT_RESTORE", Unset),
    ("CONFIG_MODULES", Unset),
    ("CONFIG_BLK_DEV_LOOP", Unset),
    ("CONFIG_SECURITY_LANDLOCK", Unset),
    ("CONFIG_IA32_EMULATION", Unset),
];

/// The configuration's text.
fn text() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"#\n# hx guest kernel configuration (what hx implements)\n#\n");
    for &(name, option) in OPTIONS {
        let set = match option {
            Set => true,
            Unset => false,
            Serves(nr) => crate::syscall::table::handler(nr as u64).is_some(),
        };
        if set {
            t.extend_from_slice(name.as_bytes());
            t.extend_from_slice(b"=y\n");
        } else {
            t.extend_from_slice(b"# ");
            t.extend_from_slice(name.as_bytes());
            t.extend_from_slice(b" is not set\n");
        }
    }
    t
}

/// `/proc/config.gz`'s bytes.
pub fn gzipped() -> Vec<u8> {
    gzip_stored(&text())
}

/// `data` as a gzip member of stored (uncompressed) deflate blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    // ID1 ID2, deflate, no flags, no time, no extra flags, OS Unix.
    let mut out = Vec::with_capacity(data.len() + 32);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
    let mut blocks = data.chunks(0xffff).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(last as u8);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The CRC-32 gzip carries (IEEE 802.3, reflected), bit by bit: the file is small.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
