//! `/proc/config.gz`: the guest kernel's configuration as Linux's
//! `CONFIG_IKCONFIG_PROC` shows it, so that programs that look for a
//! feature there (test suites, container checkers) see what hx implements:
//! `=y` for what it serves, "is not set" for what it answers as a kernel
//! built without it (ENOSYS, or the errno such a kernel gives). gzip with
//! stored deflate blocks: readable by any gunzip, no compressor in the kernel.
use alloc::vec::Vec;

/// Each line as `make` writes it. Kept to what hx's syscalls show.
const OPTIONS: &[(&str, bool)] = &[
    ("CONFIG_64BIT", true),
    ("CONFIG_X86_64", true),
    ("CONFIG_MMU", true),
    ("CONFIG_SMP", true),
    ("CONFIG_MULTIUSER", true),
    ("CONFIG_PROC_FS", true),
    ("CONFIG_IKCONFIG", true),
    ("CONFIG_IKCONFIG_PROC", true),
    ("CONFIG_FUTEX", true),
    ("CONFIG_EPOLL", true),
    ("CONFIG_SIGNALFD", true),
    ("CONFIG_TIMERFD", true),
    ("CONFIG_EVENTFD", true),
    ("CONFIG_AIO", true),
    ("CONFIG_POSIX_TIMERS", true),
    ("CONFIG_HIGH_RES_TIMERS", true),
    ("CONFIG_FILE_LOCKING", true),
    ("CONFIG_MEMFD_CREATE", true),
    ("CONFIG_RSEQ", true),
    ("CONFIG_MEMBARRIER", true),
    ("CONFIG_UNIX", true),
    ("CONFIG_INET", true),
    ("CONFIG_IPV6", true),
    ("CONFIG_UNIX98_PTYS", true),
    // Refused as a kernel with them refuses an unprivileged caller.
    ("CONFIG_USERFAULTFD", true),
    ("CONFIG_BPF_SYSCALL", true),
    ("CONFIG_PERF_EVENTS", true),
    ("CONFIG_FANOTIFY", true),
    // Not there: ENOSYS, or the answer of a kernel without them.
    ("CONFIG_IO_URING", false),
    ("CONFIG_KEYS", false),
    ("CONFIG_SYSVIPC", false),
    ("CONFIG_POSIX_MQUEUE", false),
    ("CONFIG_INOTIFY_USER", false),
    ("CONFIG_DNOTIFY", false),
    ("CONFIG_SECCOMP", false),
    ("CONFIG_NAMESPACES", false),
    ("CONFIG_USER_NS", false),
    ("CONFIG_PID_NS", false),
    ("CONFIG_NET_NS", false),
    ("CONFIG_UTS_NS", false),
    ("CONFIG_IPC_NS", false),
    ("CONFIG_TIME_NS", false),
    ("CONFIG_CHECKPOINT_RESTORE", false),
    ("CONFIG_CROSS_MEMORY_ATTACH", false),
    ("CONFIG_BSD_PROCESS_ACCT", false),
    ("CONFIG_MODULES", false),
    ("CONFIG_BLK_DEV_LOOP", false),
    ("CONFIG_SECURITY_LANDLOCK", false),
    ("CONFIG_IA32_EMULATION", false),
];

/// The configuration's text.
fn text() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"#\n# hx guest kernel configuration (what hx implements)\n#\n");
    for &(name, set) in OPTIONS {
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
