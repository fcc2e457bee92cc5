//! What the monitor tells the kernel at boot: one `BootInfo` at `BOOT_INFO_PHYS`.

pub const BOOT_MAGIC: u64 = 0x6878_626f_6f74_0005; // "hxboot", version 5
pub const MAX_USER_REGIONS: usize = 24;

/// Boot flags.
pub const FLAG_STRACE: u64 = 1 << 0;
pub const FLAG_STATS: u64 = 1 << 1;
/// The host has hardware virtualization: `syscall` enters CPL0 at LSTAR.
pub const FLAG_HW_KVM: u64 = 1 << 2;
/// The kernel boots before its program is known (a spare monitor made it
/// ahead): after its own set-up it asks `op::LAUNCH` and then reads the
/// program's part of the `BootInfo`, which the monitor wrote meanwhile.
/// `phys_free` at first is the end of the room kept for the program's
/// frames; at launch, the end of what the program took of it.
pub const FLAG_AWAIT_PROGRAM: u64 = 1 << 3;
/// `--rewrite-syscalls`: the kernel replaces the `syscall` instructions it
/// traps from with jumps to stubs that enter it without a trap (`rewrite`).
pub const FLAG_REWRITE: u64 = 1 << 4;
/// With `FLAG_AWAIT_PROGRAM`: read the whole kernel image while waiting, so
/// the program's first calls take no shadow page fault per kernel page. A
/// spare waits long enough for it; the first VM's kernel waits only for its
/// monitor's lockdown, and reading ≈ 250 pages there would delay the program.
pub const FLAG_WARM_IMAGE: u64 = 1 << 5;

/// Private auxv tag: the address of the kernel's syscall vector (an array of
/// `long f(long a1, ..., long a6)` indexed by syscall number), for a libc that
/// calls the kernel directly. Outside hx the tag is absent.
pub const AT_HX_SYSCALL_VECTOR: u64 = 0x6878_0001;

/// Memory protections of a region (Linux `PROT_*` values).
pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;

/// What a region the monitor mapped is for; the kernel keeps these as VMAs.
pub const REGION_IMAGE: u32 = 1;
pub const REGION_STACK: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct UserRegion {
    pub start: u64,
    pub end: u64,
    pub prot: u32,
    pub kind: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    pub magic: u64,
    pub flags: u64,
    /// Bytes of guest RAM.
    pub mem_size: u64,
    /// First physical byte the kernel may hand out as a frame.
    pub phys_free: u64,
    /// Guest RAM reachable at boot: `[0, ram_low)` and `[ram_high, mem_size)`
    /// (`op::MEMORY` reaches more).
    pub ram_low: u64,
    pub ram_high: u64,
    /// Where the program (or its interpreter) starts, and its initial stack.
    pub user_entry: u64,
    pub user_sp: u64,
    /// Initial program break: the page after the highest loaded segment.
    pub brk_start: u64,
    /// TSC ticks per millisecond, for the clocks.
    pub tsc_khz: u64,
    /// The user's host uid and gid, which the program sees as its own.
    pub uid: u32,
    pub gid: u32,
    /// The capability sets hx-run itself started with (effective,
    /// permitted, bounding), which a root program starts with: a host root
    /// without some capability (a container's) gives its guest none of it
    /// either. All zero: unknown (a root program gets every capability).
    pub root_caps: [u64; 3],
    pub nregions: u64,
    pub regions: [UserRegion; MAX_USER_REGIONS],
    /// The program's path as the guest sees it (for `/proc/self/exe`), not NUL-terminated.
    pub exe_path_len: u64,
    pub exe_path: [u8; EXE_PATH_MAX],
    /// The initial working directory (a guest path), not NUL-terminated.
    pub cwd_len: u64,
    pub cwd: [u8; EXE_PATH_MAX],
    /// The file-mode creation mask the program starts with.
    pub umask: u32,
    pub _pad: u32,
    /// vCPUs (`--cpus`), and the physical address of their per-CPU blocks
    /// (`percpu::CPU_AREA_SIZE` bytes each, vCPU 0 first).
    pub ncpus: u64,
    pub cpu_areas_phys: u64,
    /// Bytes `xsave` writes for the features XCR0 enables (CPUID 0xD).
    pub xsave_size: u64,
    /// What the process keeps across `execve` (its identity, descriptors,
    /// signal state); the first process's comes from the monitor.
    pub exec: ExecState,
    /// The ring page (`crate::ring`), zeroed and already registered by the
    /// monitor: the kernel starts without the `RING` exit (0: none given).
    pub ring_phys: u64,
    /// Seed for the kernel's random generator, so that the first
    /// `getrandom` costs no `RANDOM` exit (a forked child asks the host).
    pub random_seed: [u8; 32],
    /// The clocks' anchor, read by the monitor as it booted the VM: the
    /// vCPU's TSC and the host's realtime and monotonic clocks at that
    /// moment, so reading a clock costs the kernel no `CLOCK` exit at start
    /// (`clock_tsc` 0: none given, the kernel asks).
    pub clock_tsc: u64,
    pub clock_realtime_ns: u64,
    pub clock_monotonic_ns: u64,
    /// The guest's host name (`--hostname`), `hostname_len` bytes: what
    /// `uname` and /proc/sys/kernel/hostname show.
    pub hostname_len: u64,
    pub hostname: [u8; HOSTNAME_MAX],
    /// Where the program's and its interpreter's functions are listed, as
    /// loaded, when no `PT_GNU_EH_FRAME` indexes them (static executables):
    /// for `--rewrite-syscalls`; a hint the kernel reads as program memory.
    pub function_tables: [FunctionTable; 2],
}

/// A table in a loaded image that lists its functions.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FunctionTable {
    pub kind: u64,
    pub at: u64,
    pub len: u64,
}

/// `FunctionTable::kind`: none.
pub const FUNCTIONS_NONE: u64 = 0;
/// An `.eh_frame` section: one FDE per function.
pub const FUNCTIONS_EH_FRAME: u64 = 1;
/// Go's `.gopclntab` (Go 1.18 and later): its function table.
pub const FUNCTIONS_GO_PCLNTAB: u64 = 2;

/// The longest host name Linux takes (`__NEW_UTS_LEN`).
pub const HOSTNAME_MAX: usize = 64;

/// Descriptors an `execve` can pass on.
pub const MAX_INHERITED_FDS: usize = 256;

/// An inherited descriptor: `handle` is a monitor handle, or
/// `DEVICE_HANDLE + n` for the kernel's own device `n`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct InheritedFd {
    pub fd: u32,
    /// Access mode and status flags.
    pub status: u32,
    pub handle: u64,
}

/// Marks an `InheritedFd` that is one of the kernel's devices.
pub const DEVICE_HANDLE: u64 = 1 << 62;

/// The process state that survives `execve` (Linux's rules: ignored signals
/// stay ignored, caught ones revert to default, the mask and pending signals stay).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecState {
    pub pid: u64,
    pub sigmask: u64,
    pub sig_ignored: u64,
    pub sig_pending: u64,
    pub nfds: u64,
    pub fds: [InheritedFd; MAX_INHERITED_FDS],
    pub creds: ExecCredentials,
    /// Scheduling attributes that survive `execve` as on Linux: the nice
    /// value, the policy (`SCHED_OTHER`/`BATCH`/`IDLE`, with
    /// `SCHED_RESET_ON_FORK`), the I/O priority and the personality.
    pub sched: SchedState,
    /// Nonzero: the image before made children that signal something else
    /// than SIGCHLD at their end (`clone`'s exit signal), which the new
    /// image inherits; else the kernel never asks the monitor about such children.
    pub clone_children: u64,
    /// `PR_SET_NO_NEW_PRIVS`, which `execve` keeps.
    pub no_new_privs: u64,
    /// The seccomp filters `execve` keeps: a memory file the old image
    /// wrote (a handle the new image reads and closes) and its length (0: none).
    pub seccomp_handle: u64,
    pub seccomp_len: u64,
    /// The host and domain names the image before set (`sethostname`,
    /// `setdomainname`), which the new one keeps.
    pub uts: UtsNames,
    /// The console log levels (`/proc/sys/kernel/printk`, `syslog`'s),
    /// which the new image keeps.
    pub printk: [i32; 4],
    /// `/proc/sys/vm/max_map_count`, which the new image keeps.
    pub max_map_count: u64,
    /// `/proc/self/coredump_filter`, which `execve` keeps.
    pub coredump_filter: u64,
}

/// A process's host and domain names (lengths 0: the boot's host name and
/// Linux's `(none)`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct UtsNames {
    pub hostname_len: u64,
    pub hostname: [u8; HOSTNAME_MAX],
    pub domainname_len: u64,
    pub domainname: [u8; HOSTNAME_MAX],
}

impl Default for UtsNames {
    fn default() -> Self {
        Self { hostname_len: 0, hostname: [0; HOSTNAME_MAX], domainname_len: 0, domainname: [0; HOSTNAME_MAX] }
    }
}

/// The most bytes of seccomp filters an `execve` carries (Linux's limit of
/// 32768 instructions across a thread's filters, 8 bytes each, with headers).
pub const MAX_SECCOMP_BYTES: u64 = 32768 * 8 + 4096;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedState {
    pub nice: i64,
    pub policy: u64,
    pub ioprio: u64,
    pub personality: u64,
    /// Resource limits (soft, hard) by resource, kept across `execve` as
    /// on Linux; `rlimits_set` 0 (the first image): Linux's defaults, with
    /// `RLIMIT_NOFILE` lowered to `hx-run`'s own limits when that entry is
    /// not zero (a program run natively inherits its shell's `ulimit -n`).
    pub rlimits_set: u64,
    pub rlimits: [[u64; 2]; RLIMITS],
    /// `oom_score_adj` and its minimum (`/proc/<pid>/oom_score_adj`).
    pub oom_score_adj: [i32; 2],
}

/// Resource limits Linux has (`RLIM_NLIMITS`).
pub const RLIMITS: usize = 16;

/// Supplementary groups an `execve` passes on (a process rarely has more
/// than a few dozen; Linux allows 65536).
pub const MAX_EXEC_GROUPS: usize = 256;

/// The credentials a new image starts with, as `execve` computed them
/// (kernel/src/syscall/cred.rs); the monitor passes them through.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecCredentials {
    /// 0 for the first image, which starts as the user hx-run runs as
    /// (`BootInfo::uid`/`gid`): the rest is then unused.
    pub present: u32,
    pub ngroups: u32,
    /// Real, effective, saved and filesystem ids.
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Capability sets: effective, permitted, inheritable, bounding, ambient.
    pub caps: [u64; 5],
    /// `PR_SET_SECUREBITS`'s flags (`SECBIT_KEEP_CAPS` already cleared, as exec does).
    pub securebits: u32,
    pub groups: [u32; MAX_EXEC_GROUPS],
}

impl Default for ExecCredentials {
    fn default() -> Self {
        Self {
            present: 0,
            ngroups: 0,
            uids: [0; 4],
            gids: [0; 4],
            caps: [0; 5],
            securebits: 0,
            groups: [0; MAX_EXEC_GROUPS],
        }
    }
}

impl Default for ExecState {
    fn default() -> Self {
        Self {
            pid: 1,
            sigmask: 0,
            sig_ignored: 0,
            sig_pending: 0,
            nfds: 0,
            fds: [InheritedFd::default(); MAX_INHERITED_FDS],
            creds: ExecCredentials::default(),
            sched: SchedState::default(),
            clone_children: 0,
            no_new_privs: 0,
            seccomp_handle: 0,
            seccomp_len: 0,
            uts: UtsNames::default(),
            printk: [4, 4, 1, 7],
            max_map_count: 65530,
            coredump_filter: 0x33,
        }
    }
}

pub const EXE_PATH_MAX: usize = 1024;

impl Default for BootInfo {
    fn default() -> Self {
        Self {
            magic: BOOT_MAGIC,
            flags: 0,
            mem_size: 0,
            phys_free: 0,
            ram_low: 0,
            ram_high: 0,
            user_entry: 0,
            user_sp: 0,
            brk_start: 0,
            tsc_khz: 0,
            uid: 0,
            gid: 0,
            root_caps: [0; 3],
            nregions: 0,
            regions: [UserRegion::default(); MAX_USER_REGIONS],
            exe_path_len: 0,
            exe_path: [0; EXE_PATH_MAX],
            cwd_len: 0,
            cwd: [0; EXE_PATH_MAX],
            umask: 0o022,
            _pad: 0,
            ncpus: 1,
            cpu_areas_phys: 0,
            xsave_size: 0,
            exec: ExecState::default(),
            ring_phys: 0,
            random_seed: [0; 32],
            clock_tsc: 0,
            clock_realtime_ns: 0,
            clock_monotonic_ns: 0,
            hostname_len: 2,
            hostname: {
                let mut h = [0; HOSTNAME_MAX];
                h[0] = b'h';
                h[1] = b'x';
                h
            },
            function_tables: [FunctionTable::default(); 2],
        }
    }
}

// The boot block must fit between BOOT_INFO_PHYS and the CPL0 stack.
const _: () = assert!(
    core::mem::size_of::<BootInfo>() as u64 <= crate::layout::CPL0_STACK_BOTTOM_PHYS - crate::layout::BOOT_INFO_PHYS
);
