//! Host requests: the kernel fills a `Request` in its own memory and executes
//! `out %eax, %dx` with `dx = HYPERCALL_PORT` and `eax` = the request's physical
//! address. The monitor serves it before the vCPU resumes and writes `ret`.
//!
//! Buffers never travel as guest-virtual addresses: the kernel translates them
//! into physical `segs` (it owns the page tables), and the monitor checks every
//! segment against guest RAM.

/// Physical pieces a request's buffer may be split into.
pub const MAX_SEGMENTS: usize = 16;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Segment {
    pub phys: u64,
    pub len: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub op: u32,
    pub nsegs: u32,
    pub args: [u64; 8],
    /// The result: a count or value, or `-errno`.
    pub ret: i64,
    pub segs: [Segment; MAX_SEGMENTS],
}

impl Request {
    pub const fn new(op: u32) -> Self {
        Self { op, nsegs: 0, args: [0; 8], ret: 0, segs: [Segment { phys: 0, len: 0 }; MAX_SEGMENTS] }
    }
}

/// Request numbers (`Request::op`).
pub mod op {
    /// The program exits: `args[0]` = status, `args[1]` = physical address of the
    /// kernel's `Stats`, `args[3]` = the signal that killed it (0: none), with
    /// [`super::EXIT_CORE_DUMPED`] if it left a core file. Never returns.
    pub const EXIT: u32 = 1;
    /// Write `segs` to host stream `args[0]`; `ret` = bytes written.
    pub const WRITE: u32 = 2;
    /// Read into `segs` from host stream `args[0]`; `ret` = bytes read.
    pub const READ: u32 = 3;
    /// `fstat` of host stream `args[0]` into `segs[0]` (a Linux `struct stat`).
    pub const FSTAT: u32 = 4;
    /// `ioctl(args[1])` on host file `args[0]`, one of those `crate::ioctl`
    /// lists: a by-value argument in `args[2]`, a structure in or out in `segs[0]`.
    pub const IOCTL: u32 = 5;
    /// Host clocks now: `args[0]` = CLOCK_REALTIME ns, `args[1]` = CLOCK_MONOTONIC ns.
    pub const CLOCK: u32 = 6;
    /// Fill `segs` with random bytes from the host.
    pub const RANDOM: u32 = 7;
    /// The program called syscall `args[0]`, which hx does not implement (`args[1..7]` its arguments).
    pub const UNSUPPORTED: u32 = 8;
    /// One `--strace` line: `args[0]` = number, `args[1..7]` = arguments, `ret` = result,
    /// `args[7]` = path (`PATH_TRAP`/`PATH_VECTOR`); `segs` hold the strings
    /// the arguments point to, in argument order.
    pub const STRACE: u32 = 9;
    /// A message from the kernel itself (`segs` = UTF-8 text), printed with a prefix.
    pub const LOG: u32 = 10;

    // Files. Paths are absolute guest paths in `segs[0]` (the kernel resolves
    // relative ones); the monitor resolves them inside its mounts. A handle
    // names a host file the monitor holds open for the guest.

    /// Open `segs[0]` with Linux `args[0]` = flags, `args[1]` = mode; `ret` = handle.
    /// The resolved guest path goes to `segs[1]`, its length to `args[2]`.
    /// openat2's `RESOLVE_*` flags in `args[2]` act from the start directory
    /// whose path is the first `args[3]` bytes of `segs[0]` (0: the root).
    /// `OPEN`, `STAT` and `ACCESS` (with [`super::PATH_HAND_BACK`]) answer
    /// [`super::EREDIRECT`] when a symlink leads out of the mounts.
    pub const OPEN: u32 = 11;
    /// Close handle `args[0]`.
    pub const CLOSE: u32 = 12;
    /// Read/write `segs` at offset `args[1]` of handle `args[0]`.
    pub const PREAD: u32 = 13;
    pub const PWRITE: u32 = 14;
    /// `lseek(handle args[0], args[1], whence args[2])`.
    pub const LSEEK: u32 = 15;
    /// `stat` of path `segs[0]` into `segs[1]`; `args[0]` = 1 to follow a final symlink.
    /// With a third segment, the resolved guest path goes there and its length to `args[2]`.
    pub const STAT: u32 = 16;
    /// `access(segs[0], mode args[0])`; `args[1]` = 1 to follow a final
    /// symlink; `args[2]` = `ACCESS_EFFECTIVE` or 0 (see `CREDS`).
    pub const ACCESS: u32 = 17;
    /// Target of symlink `segs[0]` into `segs[1]`; `ret` = its length.
    pub const READLINK: u32 = 18;
    /// Directory entries (`linux_dirent64`) of handle `args[0]` into `segs[0]`.
    pub const GETDENTS: u32 = 19;
    /// Remove `segs[0]`; `args[0]` = `AT_REMOVEDIR` for a directory.
    pub const UNLINK: u32 = 20;
    /// `mkdir(segs[0], mode args[0])`; with `args[1]` = `S_IFIFO` or
    /// `S_IFREG`, `mknod` of a FIFO or an empty regular file instead.
    pub const MKDIR: u32 = 21;
    /// `renameat2(segs[0], segs[1], flags args[0])`.
    pub const RENAME: u32 = 22;
    /// `ftruncate(handle args[0], length args[1])`.
    pub const FTRUNCATE: u32 = 23;
    /// `fsync(handle args[0])` (`args[1]` = 1: fdatasync).
    pub const FSYNC: u32 = 24;
    /// Set times: of path `segs[0]`, or of handle `args[0]` when there is no path;
    /// `segs[1]`, if present, holds two `timespec`s; `args[1]` = 1: do not follow a symlink.
    pub const UTIMENS: u32 = 25;
    /// `statfs` of path `segs[0]` (or handle `args[0]` with no path) into the last segment.
    pub const STATFS: u32 = 26;
    /// Sleep `args[0]` nanoseconds on the host.
    pub const SLEEP: u32 = 27;
    /// `fcntl(F_SETFL)`: status flags `args[1]` (O_APPEND, O_NONBLOCK) of handle `args[0]`.
    /// With `SETFL_PIPE_SIZE` set in `args[1]`: a host pipe's size instead
    /// (`args[2]` = `F_GETPIPE_SZ`, or `F_SETPIPE_SZ` to the low 32 bits).
    /// With `SETFL_SEALS`: a memory file's seals (`args[2]` = `F_GET_SEALS`,
    /// or `F_ADD_SEALS` of the `SEALS` among the low 32 bits).
    pub const SETFL: u32 = 28;
    /// `chmod` of path `segs[0]`, or of handle `args[0]` with no path, to `args[1]`.
    pub const CHMOD: u32 = 29;
    /// `symlink(target segs[0], path segs[1])`.
    pub const SYMLINK: u32 = 30;
    /// `link(segs[0], segs[1])`; with `args[1]` = `LINK_HANDLE`, a new name
    /// `segs[0]` for the open file of handle `args[2]` (`linkat` with
    /// `AT_EMPTY_PATH`, or through `/proc/self/fd/N`).
    pub const LINK: u32 = 31;
    /// `poll` on handles: `segs[0]` holds `PollEntry`s, `args[0]` the timeout in
    /// ms (negative: none); `revents` are written back, `ret` = how many are ready.
    pub const POLL: u32 = 32;

    // Scheduling. A vCPU with nothing to run gives its host thread back.

    /// The calling vCPU has nothing to run: block until another vCPU kicks it
    /// or host CLOCK_MONOTONIC reaches `args[0]` ns (0: no deadline).
    pub const IDLE: u32 = 33;
    /// Wake vCPU `args[0]` from `IDLE` (or make its next `IDLE` return at once).
    pub const KICK: u32 = 34;
    /// The kernel changed mappings other vCPUs may cache: every other running
    /// vCPU drops its TLB before this returns.
    pub const SHOOTDOWN: u32 = 35;
    /// Stop vCPU `args[0]` where it is, so that it handles its `PerCpu::work`
    /// (preempted by the kernel at once if it runs program code).
    pub const INTERRUPT: u32 = 36;
    /// The guest no longer needs the contents of `segs` (whole pages): the
    /// host drops them, and they read back as zero (`madvise(MADV_DONTNEED)`).
    pub const DISCARD: u32 = 37;

    // Processes: one VM per guest process, each served by its own monitor process.

    /// `fork`: the monitor forks itself; the child runs a fresh VM over its
    /// copy of guest RAM with this vCPU's state. `ret` = the child's pid in the
    /// parent; in the child `ret` = 0, `args[0]` = its own pid, `args[1]` = its parent's.
    pub const FORK: u32 = 38;
    /// `execve`: `segs[0]` = the guest path (absolute, resolved by the kernel),
    /// `segs[1]` = argv, `segs[2]` = envp (each a run of NUL-terminated strings,
    /// `args[0]`/`args[1]` strings), `segs[3]` = the `ExecState` the new image's
    /// kernel starts from. `ret` = `-errno` if the image cannot run; else never returns.
    pub const EXEC: u32 = 39;
    /// `wait4`: child `args[0]` (as `i64`: > 0 a pid, -1 any, 0 or < -1 a group)
    /// with options `args[1]`; `ret` = the pid reaped (0: none ready with
    /// WNOHANG), `args[2]` = its wait status, `segs[0]` (optional) receives a
    /// Linux `struct rusage`.
    pub const WAIT: u32 = 40;
    /// `kill(args[0] as i64, args[1])` to other guest processes (> 0 a pid,
    /// 0 / < -1 a group, -1 every process but the caller); `args[2]` = 1 if
    /// the sender has CAP_KILL (else only processes of its own user: EPERM);
    /// `args[3]` = [`KILL_WITH_INFO`](super::KILL_WITH_INFO): to process
    /// `args[0]` with the program's own siginfo in `segs[0]` (`rt_sigqueueinfo`).
    pub const KILL: u32 = 41;
    /// A host pipe: `ret` = 0 and `args[0]`, `args[1]` = read and write handles
    /// (`args[2]` = `O_NONBLOCK` or 0), shared with the processes that inherit them.
    pub const PIPE: u32 = 42;
    /// Process groups and sessions: `args[0]` = `PGRP_*`, `args[1]` = pid, `args[2]` = pgid.
    pub const PGRP: u32 = 43;

    // Credentials. 38–44 are reserved for the process requests above.

    /// `chown` of path `segs[0]`, or of handle `args[0]` with no path, to owner
    /// `args[1]` and group `args[2]` (`u32::MAX`, C's `-1`: unchanged);
    /// `args[3]` = 1: do not follow a final symlink. Set-user-ID and
    /// set-group-ID bits of a non-directory are cleared, as Linux does.
    pub const CHOWN: u32 = 45;

    /// Sockets, served on host sockets under the network policy (`--net`,
    /// `-p`): `args[0]` = `NET_*`, the rest as each operation says.
    pub const NET: u32 = 46;

    /// The page where requests are posted without exits (`crate::ring`):
    /// `args[0]` = its physical address (page-aligned). Once per VM (`EBUSY` after).
    pub const RING: u32 = 47;
    /// The kernel posted a request into slot `args[0]` and found the poller
    /// asleep: the monitor makes sure it is served before this returns.
    pub const RING_WAKE: u32 = 48;

    /// Tell the guest when any of the host files in `segs[0]` (`PollEntry`s:
    /// handle and events) becomes ready: the monitor bumps
    /// `Shared::host_events` and interrupts a vCPU, once per `WATCH`. Returns
    /// at once, so a thread waits for a host file without holding its vCPU.
    /// Entries with `POLL_EDGES` wait for a new edge; `ret` = 1 when one of
    /// them had an edge since the look that gave its `edges` (look again).
    pub const WATCH: u32 = 49;

    /// Shared mappings: the guest pages in `segs` (page-aligned, in order)
    /// become the host file `args[0]`'s pages from offset `args[1]` on
    /// (`NO_HANDLE`: fresh shared memory, for `MAP_SHARED|MAP_ANONYMOUS`),
    /// writable if `args[2]` = 1. Processes forked later share them, and
    /// every process mapping the file sees the same bytes as the host.
    pub const MAP_SHARED: u32 = 50;
    /// The guest pages in `segs` are private, zeroed memory again (after
    /// `munmap` of a shared mapping, before the kernel reuses them).
    pub const UNMAP_SHARED: u32 = 51;
    /// `msync(MS_SYNC)`: the file pages behind the guest pages in `segs` are
    /// written back to storage.
    pub const SYNC_SHARED: u32 = 52;
    /// A fresh host memory file (`memfd_create`) holding the bytes of
    /// `segs[0]` (may be empty), its offset at `args[0]`, made with the
    /// `MEMFD_FLAGS` of `args[1]`: `ret` = its handle.
    pub const MEMFD: u32 = 53;
    /// Locks on host file `args[0]`, never waiting: `args[1]` = `F_GETLK`,
    /// `F_SETLK`, `F_OFD_GETLK` or `F_OFD_SETLK` with a Linux `struct flock`
    /// in `segs[0]` (read and written back), or `LOCK_FLOCK` with the
    /// `flock` operation in `args[2]`.
    pub const LOCK: u32 = 54;
    /// `fallocate(handle args[0], mode args[1], offset args[2], len args[3])`.
    pub const FALLOCATE: u32 = 55;
    /// Guest RAM the guest may use is reachable in two parts, `[0, low)`
    /// and `[high, size)` (KVM memory slots, grown as the frame allocator
    /// reaches them: a slot costs KVM metadata in proportion to its size).
    /// The guest is about to use memory below `args[0]` or from `args[1]`
    /// up; the answer (always an exit) leaves the parts in `args[0]` and
    /// `args[1]`, at least that large.
    pub const MEMORY: u32 = 56;
    /// A child that shares the caller's memory until it execs (`vfork`,
    /// posix_spawn's `CLONE_VM|CLONE_VFORK`) runs in the caller's VM; the
    /// monitor only holds its pid. `args[0]` = `VFORK_START` with the exit
    /// signal in `args[1]`: reserves the child's pid (`ret`) and makes this
    /// monitor answer process requests (`PGRP`, `KILL`, `WAIT`) as that
    /// child until the reservation ends. While it holds, `EXEC` starts the
    /// child process with the image (the caller's VM goes on: `ret` = 0), and
    /// `VFORK_END` says the child ended without one (`args[1]` = exit status,
    /// `args[2]` = the signal that killed it or 0): `ret` = the child's pid.
    pub const VFORK: u32 = 57;
    /// A kernel booted with `FLAG_AWAIT_PROGRAM` waits here for its program:
    /// `ret` = 0 once the monitor wrote it and the rest of the `BootInfo`.
    /// Refused (`EINVAL`) but once, in such a VM.
    pub const LAUNCH: u32 = 58;
    /// `tee` between two host pipes the guest holds (args: handle in,
    /// handle out, length): never waits (`EAGAIN`: the kernel watches them).
    pub const TEE: u32 = 59;
    /// Futexes in memory shared with other guest processes (`MAP_SHARED`):
    /// `args[0]` = `FUTEX_WAIT`, `FUTEX_WAKE` or `FUTEX_CANCEL`. A wait
    /// returns at once (`EAGAIN`: the word no longer holds the value); the
    /// monitor waits in the host and, when it ends, writes `FUTEX_WOKEN` or
    /// `FUTEX_CHANGED` into the outcome word and wakes the guest as `WATCH`
    /// does. After `FUTEX_CANCEL` the outcome word is never written again.
    pub const FUTEX: u32 = 60;
    /// inotify on host files: `args[0]` = `INOTIFY_INIT` (`args[1]` = 1 for
    /// a non-blocking instance; `ret` = its handle, read and polled as any
    /// host file), `INOTIFY_ADD` (handle `args[1]`, event mask `args[2]`,
    /// the absolute guest path in `segs[0]`; `ret` = the watch) or
    /// `INOTIFY_RM` (handle `args[1]`, watch `args[2]`).
    pub const INOTIFY: u32 = 61;
    /// System V IPC (shared memory, semaphores, message queues) in the
    /// tree's own host IPC namespace: `args[0]` = a `SYSV_*` call. A call
    /// that must wait (`SYSV_SEMOP`, `SYSV_MSGSND`, `SYSV_MSGRCV`) returns
    /// `SYSV_STARTED` in `args[7]` instead of waiting; a monitor helper waits
    /// and writes the result into the outcome word (guest-physical, 8-aligned,
    /// in kernel memory), then wakes the guest as `WATCH` does. After
    /// `SYSV_CANCEL` the outcome word and the message buffer are never
    /// written again.
    pub const SYSV: u32 = 62;
    /// Extended attributes (the `user.` namespace) of a host file:
    /// `args[0]` = an `XATTR_*` call, `args[1]` = a handle (or `NO_HANDLE`:
    /// the absolute guest path in `segs[0]`), `args[2]` = 1 to follow a final
    /// symlink, `args[3]` = `setxattr`'s flags; the name in `segs[1]`, the
    /// value (or the list) in `segs[2]`, whose length is the caller's size.
    pub const XATTR: u32 = 63;
    /// The ids the guest process's file requests are checked as (it changed
    /// them): `args[0]` = filesystem uid, `args[1]` = filesystem gid,
    /// `args[2]` = real uid, `args[3]` = real gid, `args[4]` = effective uid,
    /// `args[5]` = saved uid (whom signals may reach); the supplementary groups
    /// in `segs[0]` (`u32`s, at most `MAX_GUEST_GROUPS`). A monitor running
    /// as root then makes each path request with these (real ones for
    /// `access` without `ACCESS_EFFECTIVE`); one that is not root ignores them.
    pub const CREDS: u32 = 64;
    /// The guest's mounts (for `/proc/self/mounts` and `mountinfo`), as
    /// `MountRecord`s into `segs[0]`, each followed by its guest path
    /// (absolute, padded with NULs to 8 bytes); `ret` = bytes written, or
    /// `ERANGE` when the segment cannot hold them all.
    pub const MOUNTS: u32 = 65;
    /// The process stops (job control: the default action of stop signal
    /// `args[0]`, SIGSTOP, SIGTSTP, SIGTTIN or SIGTTOU): its monitor stops
    /// on the host, where its parent's `waitid` sees it, until a SIGCONT;
    /// then `ret` = 0.
    pub const STOP: u32 = 66;
    /// A host eventfd counting `args[0]` (below `u64::MAX`), with `args[1]`
    /// = `EFD_SEMAPHORE` (1) and/or `O_NONBLOCK`: an eventfd of the guest's
    /// that another process will share (at `fork`, `execve`, or passed in
    /// a message); `ret` = its handle.
    pub const EVENTFD: u32 = 67;
    /// POSIX message queues, the host's in the tree's own IPC namespace (as
    /// `SYSV`): `args[0]` = an `MQ_*` call, `args[6]` = who it is made as
    /// (as `SYSV`'s). Never waits: a send to a full queue or a receive from
    /// an empty one in blocking mode is `ETIMEDOUT` (the guest then polls
    /// the handle), in non-blocking mode `EAGAIN`.
    pub const MQUEUE: u32 = 68;
    /// File leases, the host's on the monitor's descriptor: `args[0]` =
    /// `LEASE_SET` (handle `args[1]`, `F_RDLCK`/`F_WRLCK`/`F_UNLCK` in
    /// `args[2]`), `LEASE_GET` (handle `args[1]`; `ret` = the lease type),
    /// or `LEASE_BREAKS` (`segs[0]` takes the handles whose leases broke
    /// since the last call, as u64s; `ret` = how many). A break is a host
    /// event (`Shared::host_events`).
    pub const LEASE: u32 = 69;
    /// Opens the file of handle `args[0]` again, as a new description with
    /// Linux open flags `args[1]` (`/proc/self/fd/N` of a file with no name
    /// left: an `O_TMPFILE` file, a memory file); `ret` = the new handle.
    pub const REOPEN: u32 = 70;
}

/// `LEASE` calls.
pub const LEASE_SET: u64 = 0;
pub const LEASE_GET: u64 = 1;
pub const LEASE_BREAKS: u64 = 2;

/// `MQUEUE` calls. Open: the name (no '/') in `segs[0]`, flags `args[1]`
/// (access mode, `O_CREAT`, `O_EXCL`, `O_NONBLOCK`), mode `args[2]`, and
/// `args[3]` = 1 with the `mq_attr` in `segs[1]`; `ret` = a handle.
pub const MQ_OPEN: u64 = 0;
/// Unlink: the name in `segs[0]`.
pub const MQ_UNLINK: u64 = 1;
/// Send: handle `args[1]`, priority `args[2]`, the message in `segs[0]`.
pub const MQ_SEND: u64 = 2;
/// Receive: handle `args[1]`, into `segs[0]`; `ret` = the message's
/// length, its priority in `args[2]`.
pub const MQ_RECEIVE: u64 = 3;
/// `mq_getsetattr`: handle `args[1]`, the old attributes into `segs[0]`
/// (an `mq_attr`), and with `args[2]` = 1 the new ones from `segs[1]`.
pub const MQ_ATTR: u64 = 4;
/// `mq_notify`: handle `args[1]`; `args[2]` = [`MQ_NOTIFY_NONE`] to
/// register the process without a signal (`SIGEV_NONE`),
/// [`MQ_NOTIFY_KERNEL`] to register it for a notification the kernel turns
/// into the program's signal or thread (`LEASE_BREAKS` reports it: the
/// handle, `SI_MESGQ` and the sender's guest pid as the band),
/// [`MQ_NOTIFY_OFF`] to unregister it.
pub const MQ_NOTIFY: u64 = 5;
pub const MQ_NOTIFY_OFF: u64 = 0;
pub const MQ_NOTIFY_NONE: u64 = 1;
pub const MQ_NOTIFY_KERNEL: u64 = 2;
/// Bytes of a `struct mq_attr`.
pub const MQ_ATTR_SIZE: usize = 64;

/// One mount in a `MOUNTS` answer; `path_len` bytes of path follow it.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct MountRecord {
    /// The host `st_dev` of the mount's root (what `stat` there reports).
    pub dev: u64,
    /// The host file system's `statfs` type (its magic number).
    pub fs_type: u64,
    pub path_len: u32,
    /// `MOUNT_WRITABLE` or 0.
    pub flags: u32,
}

/// `MountRecord::flags`: a read-write mount.
pub const MOUNT_WRITABLE: u32 = 1;

/// The most supplementary groups `CREDS` carries (Linux's `NGROUPS_MAX`).
pub const MAX_GUEST_GROUPS: usize = 65536;

/// `ACCESS`'s `args[2]`: check with the effective (filesystem) ids, as
/// `AT_EACCESS` asks; else with the real ones, as `access` does.
pub const ACCESS_EFFECTIVE: u64 = 1;

pub const XATTR_GET: u64 = 0;
pub const XATTR_SET: u64 = 1;
pub const XATTR_LIST: u64 = 2;
pub const XATTR_REMOVE: u64 = 3;

/// `SYSV` calls. Get: key `args[1]`, then size or count `args[2]` (shm, sem), flags `args[3]`.
pub const SYSV_SHMGET: u64 = 0;
pub const SYSV_SEMGET: u64 = 1;
pub const SYSV_MSGGET: u64 = 2;
/// The size of segment `args[1]` (`ret`).
pub const SYSV_SHM_SIZE: u64 = 3;
/// Attach segment `args[1]` over the guest pages of `segs[0]` (exactly its
/// size, in pages); `args[2]` = `shmat`'s flags.
pub const SYSV_SHMAT: u64 = 4;
/// `shmctl`/`semctl`/`msgctl`: kind `args[1]` (`SYSV_KIND_*`), id `args[2]`,
/// command `args[3]`, semaphore number `args[4]`, value `args[5]`; the
/// structure or array the command reads or writes in `segs[0]`.
pub const SYSV_CTL: u64 = 5;
/// `semtimedop` on set `args[1]`: the `sembuf`s in `segs[0]`; outcome word `args[3]`.
pub const SYSV_SEMOP: u64 = 6;
/// `msgsnd` to queue `args[1]`, flags `args[2]`: `mtype` and text in `segs[0]`; outcome word `args[3]`.
pub const SYSV_MSGSND: u64 = 7;
/// `msgrcv` from queue `args[1]`, type `args[2]`, flags `args[3]`, into
/// `segs[0]` (`mtype` and room for the text); outcome word `args[4]`.
pub const SYSV_MSGRCV: u64 = 8;
/// Give up the wait whose outcome word is at guest-physical `args[1]`.
pub const SYSV_CANCEL: u64 = 9;
/// An IPC limit of the tree's namespace (`SYSV_LIMITS`' index `args[1]`):
/// its text into `segs[0]` (`ret` = bytes), or with `args[2]` = 1 the
/// text in `segs[0]` written there (each number at most what `hx-run` set,
/// else `EINVAL`).
pub const SYSV_LIMIT: u64 = 10;
/// The limits `SYSV_LIMIT` reaches: `/proc/sys/kernel/*` and `/proc/sys/fs/mqueue/*`.
pub const SYSV_LIMITS: [&str; 12] = [
    "kernel/shmmax",
    "kernel/shmall",
    "kernel/shmmni",
    "kernel/msgmax",
    "kernel/msgmnb",
    "kernel/msgmni",
    "kernel/sem",
    "fs/mqueue/queues_max",
    "fs/mqueue/msg_max",
    "fs/mqueue/msgsize_max",
    "fs/mqueue/msg_default",
    "fs/mqueue/msgsize_default",
];
pub const SYSV_KIND_SHM: u64 = 0;
pub const SYSV_KIND_SEM: u64 = 1;
pub const SYSV_KIND_MSG: u64 = 2;
/// `args[6]` of every `SYSV` request: who the call is made as — this value
/// for a process with `CAP_IPC_OWNER`, else its effective gid (high half)
/// and uid (low half), whose permissions the host checks.
pub const SYSV_PRIVILEGED: u64 = u64::MAX;
/// `args[7]` of an answered wait: a helper waits, the outcome word will tell.
pub const SYSV_STARTED: u64 = 1;
/// An outcome word not written yet (else: the call's result, or `-errno`).
pub const SYSV_WAITING: u64 = u64::MAX;

pub const INOTIFY_INIT: u64 = 0;
pub const INOTIFY_ADD: u64 = 1;
pub const INOTIFY_RM: u64 = 2;

/// `FUTEX` operations. Wait: the word at guest-physical `args[1]` holds
/// `args[2]`; bitset `args[3]`; the outcome word at guest-physical `args[4]`.
pub const FUTEX_WAIT: u64 = 0;
/// Wake: up to `args[2]` waiters of the word at `args[1]`, bitset `args[3]`; `ret` = how many.
pub const FUTEX_WAKE: u64 = 1;
/// Cancel the wait whose outcome word is at guest-physical `args[1]`.
pub const FUTEX_CANCEL: u64 = 2;
/// Outcome words: still waiting, woken, or the word changed first.
pub const FUTEX_WAITING: u32 = 0;
pub const FUTEX_WOKEN: u32 = 1;
pub const FUTEX_CHANGED: u32 = 2;

/// `VFORK` operations.
pub const VFORK_START: u64 = 0;
pub const VFORK_END: u64 = 1;

/// `op::LOCK`'s `flock` form.
pub const LOCK_FLOCK: u64 = u64::MAX;

/// See `op::SETFL`.
pub const SETFL_PIPE_SIZE: u64 = 1 << 40;
pub const SETFL_SEALS: u64 = 1 << 41;
/// `fcntl`'s seal commands and seals (`F_SEAL_SEAL`, `_SHRINK`, `_GROW`,
/// `_WRITE`, `_FUTURE_WRITE`, `_EXEC`).
pub const F_ADD_SEALS: u64 = 1033;
pub const F_GET_SEALS: u64 = 1034;
pub const SEALS: u64 = 0x3f;
pub const SEAL_WRITE: u64 = 0x08;
pub const SEAL_FUTURE_WRITE: u64 = 0x10;
/// `MEMFD`'s flags: `MFD_ALLOW_SEALING`, `MFD_NOEXEC_SEAL`, `MFD_EXEC`.
pub const MEMFD_FLAGS: u64 = 0x2 | 0x8 | 0x10;

/// `READ` with `args[2]` = `RW_NOWAIT`: `-EAGAIN` instead of waiting when
/// nothing is there to read (the guest then waits with `WATCH`).
pub const RW_NOWAIT: u64 = 1;

/// `EXEC`'s `args[3]`: the program was named through a close-on-exec
/// descriptor (`fexecve`, `execveat` with a relative path), so a `#!`
/// interpreter could not open it: a script fails with ENOENT, as on Linux.
pub const EXEC_PATH_INACCESSIBLE: u64 = 1;

// `NET` operations. Socket addresses travel as Linux `struct sockaddr` bytes
// (at most `MAX_SOCKADDR`), in the guest's own terms: the monitor translates
// published ports and socket paths both ways.

/// `socket(args[1], args[2], args[3])` (type without `SOCK_CLOEXEC`): `ret` = a handle.
pub const NET_SOCKET: u64 = 0;
/// `socketpair(args[1], args[2], args[3])`: `ret` = 0, `args[1]`, `args[2]` = the handles.
pub const NET_SOCKETPAIR: u64 = 1;
/// `bind(handle args[1], address segs[0])`; `segs[1]` = a socket path's absolute guest form.
pub const NET_BIND: u64 = 2;
/// `listen(handle args[1], backlog args[2])`.
pub const NET_LISTEN: u64 = 3;
/// `connect(handle args[1], address segs[0])` (`segs[1]` as for `NET_BIND`); may block.
pub const NET_CONNECT: u64 = 4;
/// `accept4(handle args[1], flags args[2] (`SOCK_NONBLOCK` or 0))`; may block.
/// `ret` = the new handle, the peer's address into `segs[0]`, its length in `args[3]`.
pub const NET_ACCEPT: u64 = 5;
/// `sendmsg(handle args[1], flags args[2])`: `segs[0]` = the destination
/// (empty: none), `segs[1]` = its absolute guest path for a socket path,
/// `segs[2]` = handles to pass (`u64` each, `SCM_RIGHTS`), `segs[3..]` = the
/// data. `ret` = bytes sent; may block. On `-EPIPE`, `args[3]` = 1 if Linux
/// raises SIGPIPE (a stream socket).
pub const NET_SEND: u64 = 6;
/// `recvmsg(handle args[1], flags args[2])`, accepting up to `args[3]`
/// passed descriptors: `segs[0]` receives the source address (its length in
/// `args[4]`), `segs[1]` the new handles (`u64` each, their count in
/// `args[6]`), `segs[2..]` the data; `args[5]` = the message's flags.
/// `ret` = bytes received; may block.
pub const NET_RECV: u64 = 7;
/// `shutdown(handle args[1], how args[2])`.
pub const NET_SHUTDOWN: u64 = 8;
/// The socket's own address (`args[2]` = 0) or its peer's (1) into `segs[0]`: `ret` = its length.
pub const NET_NAME: u64 = 9;
/// `getsockopt(handle args[1], level args[2], name args[3])` into `segs[0]`: `ret` = the value's length.
pub const NET_GETOPT: u64 = 10;
/// `setsockopt(handle args[1], level args[2], name args[3], value segs[0])`.
pub const NET_SETOPT: u64 = 11;
/// The network interfaces and addresses a netlink route dump lists, into
/// `segs[0]` (`ERANGE` if it cannot hold them): records of a `u16` message
/// type (`RTM_NEWLINK`, `RTM_NEWADDR`), a `u16` 0, a `u32` body length and
/// the body (Linux's `ifinfomsg`/`ifaddrmsg` and attributes) padded to 4
/// bytes. `ret` = bytes written.
pub const NET_INTERFACES: u64 = 12;
/// Netlink route message types (`linux/rtnetlink.h`).
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_NEWADDR: u16 = 20;
/// Largest socket address (Linux's `struct sockaddr_storage`).
pub const MAX_SOCKADDR: usize = 128;
/// Most descriptors one message passes (Linux's `SCM_MAX_FD`).
pub const MAX_PASSED_FDS: usize = 253;

/// `FSYNC` modes (`args[1]`): `fsync`, `fdatasync`, `syncfs` of the file
/// system of handle `args[0]`, and `sync` of every read-write mount.
pub const FSYNC_FILE: u64 = 0;
pub const FSYNC_DATA: u64 = 1;
pub const FSYNC_FS: u64 = 2;
pub const FSYNC_ALL: u64 = 3;

/// `op::KILL`'s `args[3]`: the signal goes with the siginfo in `segs[0]`.
pub const KILL_WITH_INFO: u64 = 1;

/// `PGRP` operations.
pub const PGRP_GET: u64 = 0;
pub const PGRP_SET: u64 = 1;
pub const PGRP_GETSID: u64 = 2;
pub const PGRP_SETSID: u64 = 3;
/// `PR_SET_PDEATHSIG`/`PR_GET_PDEATHSIG`: the signal the caller gets when its parent ends.
pub const PGRP_SET_PDEATHSIG: u64 = 5;
pub const PGRP_GET_PDEATHSIG: u64 = 6;
/// What other processes' `/proc/<pid>` shows of the caller: `segs[0]` = its
/// `ProcIdentity` (name, command line, ids).
pub const PGRP_SET_IDENTITY: u64 = 7;
/// The guest pids of every process of the tree into `segs[0]` (`u32` each): `ret` = how many.
pub const PGRP_LIST: u64 = 8;
/// Process `args[1]` as `/proc/<pid>` shows it: a `ProcInfo` into `segs[0]`.
pub const PGRP_INFO: u64 = 9;

/// Reserves `args[2]` (1..=[`MAX_TID_BLOCK`]) ids for new threads, from the
/// tree's pid space (Linux's tids and pids are one namespace): `ret` = the first.
pub const PGRP_TIDS: u64 = 10;
/// `RLIMIT_FSIZE` changed to (`args[1]` soft, `args[2]` hard): the monitor,
/// which makes the guest's file writes, keeps them within the soft one.
pub const PGRP_SET_FSIZE: u64 = 11;
/// Whether process `args[1]` has ended (a pidfd's readiness): `ret` = 1 if
/// it is a zombie, 0 while it runs, `-ESRCH` once reaped (or never there).
pub const PGRP_ENDED: u64 = 12;
/// The process's scheduling policy (`args[1]`) and nice value (`args[2]`)
/// changed: other processes read them (`PGRP_INFO`).
pub const PGRP_SET_SCHED: u64 = 13;
/// The process becomes a child subreaper (`args[1]` = 1) or stops being
/// one (0): its descendants' orphans come to it, not to the tree's pid 1.
pub const PGRP_SET_SUBREAPER: u64 = 14;
/// Whether the process is a child subreaper: `ret` = 1 or 0.
pub const PGRP_GET_SUBREAPER: u64 = 15;
/// Takes the signals other processes queued for the caller with their own
/// siginfo (`sigqueue`, real-time signals), oldest first: as many 128-byte
/// siginfos as fit in `segs[0]`; `ret` = how many.
pub const PGRP_TAKE_QUEUED: u64 = 16;
/// The nice value of other processes (`setpriority`/`getpriority`):
/// `args[1]` = `PRIO_PROCESS`, `PRIO_PGRP` or `PRIO_USER`, `args[2]` = the
/// id (0: the caller's), `args[3]` = the nice value to set, `args[4]` = 1 if
/// the caller has `CAP_SYS_NICE`, `args[5]` = 1 to ask instead of set:
/// `ret` = 20 - the lowest nice value among them (as `getpriority`). A set answers `ret` bit 0 =
/// the caller is among them (its kernel sets its own).
pub const PGRP_RENICE: u64 = 17;
pub const MAX_TID_BLOCK: u64 = 64;

/// Longest command line another process's `/proc/<pid>/cmdline` shows.
pub const PROC_CMDLINE_MAX: usize = 448;

/// What a process publishes of itself for the others' `/proc`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ProcIdentity {
    pub uid: u32,
    pub gid: u32,
    pub cmdline_len: u32,
    pub _pad: u32,
    pub comm: [u8; 16],
    pub cmdline: [u8; PROC_CMDLINE_MAX],
}

impl Default for ProcIdentity {
    fn default() -> Self {
        Self { uid: 0, gid: 0, cmdline_len: 0, _pad: 0, comm: [0; 16], cmdline: [0; PROC_CMDLINE_MAX] }
    }
}

/// `ProcInfo::state`: a thread of it runs (`R`), every one waits (`S`), it
/// ended and its parent has not reaped it yet (`Z`).
pub const PROC_RUNNING: u32 = 0;
pub const PROC_SLEEPING: u32 = 1;
/// Stopped by a stop signal (`T`).
pub const PROC_STOPPED: u32 = 3;
pub const PROC_ZOMBIE: u32 = 2;

/// Another process, as `PGRP_INFO` reports it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// `PROC_RUNNING`, `PROC_SLEEPING` or `PROC_ZOMBIE`, as `/proc` shows it.
    pub state: u32,
    /// Its scheduling policy (with `SCHED_RESET_ON_FORK`) and nice value.
    pub policy: u32,
    pub nice: i32,
    pub identity: ProcIdentity,
}

/// The last request number (the fuzzers cover 1..=LAST_OP).
/// (38–44 are reserved for the process requests.)
pub const LAST_OP: u32 = op::REOPEN;

/// Handle value meaning "no handle" in requests that take a path or a handle.
pub const NO_HANDLE: u64 = u64::MAX;

/// `STAT` (`args[1]`) and `ACCESS` (`args[3]`): hand a path that leaves the
/// mounts for the kernel's back (`EREDIRECT`) even without a segment for
/// it (`args[2]` = 0 then: the kernel asks again with one).
pub const PATH_HAND_BACK: u64 = 1;

/// `LINK` of an open file (its handle in `args[2]`).
pub const LINK_HANDLE: u64 = 1;

/// `EXIT`'s signal bit: the process dumped core.
pub const EXIT_CORE_DUMPED: u64 = 0x80;

/// Not a Linux errno: the path left the monitor's mounts through a symlink
/// for a guest path the kernel may serve (`/proc/...`, `/dev/null`), written
/// where the request's resolved path goes (its length in `args[2]`).
pub const EREDIRECT: i64 = 600;

/// How a syscall reached the kernel (for `--strace`/`--stats`).
pub const PATH_TRAP: u64 = 0;
pub const PATH_VECTOR: u64 = 1;
/// A `syscall` instruction the kernel rewrote into a jump to its stub.
pub const PATH_REWRITTEN: u64 = 2;

/// Host streams the guest's descriptors 0, 1, 2 start out connected to.
pub const HOST_STDIN: u64 = 0;
pub const HOST_STDOUT: u64 = 1;
pub const HOST_STDERR: u64 = 2;

/// One entry of a `POLL` request.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct PollEntry {
    pub handle: u64,
    pub events: i16,
    pub revents: i16,
    /// With `POLL_EDGES` in `events`: how many times the file woke up (new
    /// data, room, a connection, a hang-up) in the directions of `events`
    /// since its edges were first asked for (wrapping). For `WATCH`, the
    /// flag means: wait for a new edge, not for the file to be ready.
    pub edges: u32,
}

/// `PollEntry::events`: count this file's edges (edge-triggered epoll).
pub const POLL_EDGES: i16 = 0x4000;

/// The System V IPC limits `hx-run` sets in the tree's IPC namespace
/// (`/proc/sys/kernel` shows the guest the same numbers). Linux's defaults,
/// but for the total sizes, which bound what a guest can make the host keep.
pub mod sysv_limits {
    /// `shmall`: all segments together, in units of the guest's RAM.
    pub const SHMALL_RAMS: u64 = 4;
    pub const SHMMNI: u32 = 4096;
    pub const MSGMNI: u32 = 256;
    pub const MSGMNB: u32 = 16384;
    pub const MSGMAX: u32 = 8192;
    pub const SEMMSL: u32 = 32000;
    pub const SEMMNS: u32 = 256_000;
    pub const SEMOPM: u32 = 500;
    pub const SEMMNI: u32 = 256;
}

/// What a `SYSV_CTL` command (kind, command) copies between the program and
/// the host — one table for the kernel (which copies the program's buffer)
/// and the monitor (which checks the guest's against it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SysvBuffer {
    /// A number or nothing (`IPC_RMID`, `GETVAL`, `SETVAL`, `SHM_LOCK`...).
    None,
    /// A structure of this size the command reads (`IPC_SET`).
    In(usize),
    /// A structure of this size the command writes (`IPC_STAT`, `*_INFO`...).
    Out(usize),
    /// `GETALL` (out) or `SETALL` (in): one `u16` per semaphore of the set.
    Values { reads: bool },
}

/// `None`: a command Linux does not have for that kind (`EINVAL`).
pub fn sysv_ctl_buffer(kind: u64, cmd: i32) -> Option<SysvBuffer> {
    use SysvBuffer::{In, None as No, Out, Values};
    const IPC_RMID: i32 = 0;
    const IPC_SET: i32 = 1;
    const IPC_STAT: i32 = 2;
    const IPC_INFO: i32 = 3;
    Some(match (kind, cmd) {
        (SYSV_KIND_SHM | SYSV_KIND_SEM | SYSV_KIND_MSG, IPC_RMID) => No,
        // SHM_STAT 13, SHM_INFO 14, SHM_STAT_ANY 15, SHM_LOCK 11, SHM_UNLOCK 12.
        (SYSV_KIND_SHM, IPC_STAT | 13 | 15) => Out(112),
        (SYSV_KIND_SHM, IPC_SET) => In(112),
        (SYSV_KIND_SHM, IPC_INFO) => Out(72),
        (SYSV_KIND_SHM, 14) => Out(48),
        (SYSV_KIND_SHM, 11 | 12) => No,
        // SEM_STAT 18, SEM_INFO 19, SEM_STAT_ANY 20; GETPID 11, GETVAL 12,
        // GETNCNT 14, GETZCNT 15, SETVAL 16; GETALL 13, SETALL 17.
        (SYSV_KIND_SEM, IPC_STAT | 18 | 20) => Out(104),
        (SYSV_KIND_SEM, IPC_SET) => In(104),
        (SYSV_KIND_SEM, IPC_INFO | 19) => Out(40),
        (SYSV_KIND_SEM, 11 | 12 | 14 | 15 | 16) => No,
        (SYSV_KIND_SEM, 13) => Values { reads: false },
        (SYSV_KIND_SEM, 17) => Values { reads: true },
        // MSG_STAT 11, MSG_INFO 12, MSG_STAT_ANY 13.
        (SYSV_KIND_MSG, IPC_STAT | 11 | 13) => Out(120),
        (SYSV_KIND_MSG, IPC_SET) => In(120),
        (SYSV_KIND_MSG, IPC_INFO | 12) => Out(32),
        _ => return Option::None,
    })
}
