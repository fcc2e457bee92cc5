//! `execve`/`execveat`: the monitor boots the new image in a fresh VM of the
//! same process; what Linux keeps across the call (pid, descriptors without
//! close-on-exec, ignored signals, the mask, pending signals, working
//! directory, umask, credentials) travels in an `ExecState`.
use super::{process, Args};
use crate::errno::{Errno, SysResult, E2BIG, EFAULT, ENOENT};
use crate::{fs, host, mm, signal};
use alloc::boxed::Box;
use alloc::vec::Vec;
use hx_abi::boot::{ExecState, MAX_INHERITED_FDS};
use hx_abi::hypercall::{op, Request, Segment};

const AT_FDCWD: u64 = -100i64 as u64;
const AT_EMPTY_PATH: u64 = 0x1000;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// Linux's limits: one string, and argv + environment together.
const MAX_ARG_STRLEN: usize = 32 * 4096;
const MAX_ARG_BYTES: usize = 2 << 20;

pub fn execve([path, argv, envp, ..]: Args) -> SysResult {
    execveat([AT_FDCWD, path, argv, envp, 0, 0])
}

/// The strings of a NULL-terminated array of pointers, packed with their NULs.
fn pack(array: u64, budget: &mut usize) -> Result<(Vec<u8>, u64), Errno> {
    let mut blob = Vec::new();
    let mut count = 0u64;
    if array == 0 {
        return Ok((blob, 0));
    }
    loop {
        let p: u64 = mm::read_user(array + 8 * count).map_err(|_| EFAULT)?;
        if p == 0 {
            return Ok((blob, count));
        }
        let s = mm::read_cstr(p, MAX_ARG_STRLEN).map_err(|e| if e == EFAULT { EFAULT } else { E2BIG })?;
        *budget = budget.checked_sub(s.len() + 1 + 8).ok_or(E2BIG)?;
        blob.extend_from_slice(&s);
        blob.push(0);
        count += 1;
    }
}

fn segment_of(bytes: &[u8]) -> Segment {
    if bytes.is_empty() {
        return Segment { phys: 0, len: 0 };
    }
    Segment { phys: host::phys_of(bytes.as_ptr() as u64), len: bytes.len() as u64 }
}

pub fn execveat([dirfd, path, argv, envp, flags, _]: Args) -> SysResult {
    if flags & !(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
        return Err(crate::errno::EINVAL);
    }
    let given = fs::path::read(path)?;
    if given.is_empty() {
        // AT_EMPTY_PATH: the program is the file `dirfd` is open on.
        if flags & AT_EMPTY_PATH == 0 {
            return Err(ENOENT);
        }
    }
    let abs = if given.is_empty() { fs::table::get(dirfd)?.path.clone() } else { fs::path::absolute(dirfd, &given)? };
    if flags & AT_SYMLINK_NOFOLLOW != 0 && !given.is_empty() {
        const S_IFMT: u32 = 0o170000;
        const S_IFLNK: u32 = 0o120000;
        if super::path::stat_path(&abs, false).is_ok_and(|st| st.mode & S_IFMT == S_IFLNK) {
            return Err(crate::errno::ELOOP);
        }
    }
    // Linux names such a program /dev/fd/N[/path] for its interpreter, which
    // a close-on-exec descriptor leaves unreachable.
    let relative = given.is_empty() || given.first() != Some(&b'/');
    let inaccessible = dirfd != AT_FDCWD && relative && fs::table::entry(dirfd).is_ok_and(|e| e.cloexec);
    let abs = fs::proc::exec_path(abs)?;
    let mut budget = MAX_ARG_BYTES;
    let (mut args, mut argc) = pack(argv, &mut budget)?;
    // An empty argv gets one empty argument, as Linux (5.18 on) gives it:
    // programs take argv[0] to be there.
    if argc == 0 {
        args.push(0);
        argc = 1;
    }
    let (env, envc) = pack(envp, &mut budget)?;
    let mut state = Box::new(ExecState {
        pid: process::pid(),
        sigmask: signal::current_mask(),
        sig_ignored: signal::ignored_set(),
        sig_pending: signal::pending_for_exec(),
        creds: super::cred::for_exec(),
        sched: process::sched_for_exec(),
        // A vfork child execs here: it has no children of its own.
        clone_children: u64::from(super::fork::may_have_clone_children() && !super::vfork::active()),
        ..Default::default()
    });
    state.no_new_privs = process::no_new_privs() as u64;
    state.uts = process::uts_for_exec();
    state.printk = process::printk_levels();
    state.coredump_filter = crate::signal::coredump::filter();
    state.max_map_count = crate::mm::max_map_count();
    let filters = super::seccomp::for_exec();
    if !filters.is_empty() {
        state.seccomp_handle = host::memfd(&filters, 0)?;
        state.seccomp_len = filters.len() as u64;
    }
    fs::share_with_host()?;
    let (fds, mut made) = fs::table::inheritable();
    if !filters.is_empty() {
        made.push(state.seccomp_handle);
    }
    if fds.len() > MAX_INHERITED_FDS {
        host::log(b"execve: more open descriptors than hx passes on; the highest are closed");
    }
    let n = fds.len().min(MAX_INHERITED_FDS);
    state.fds[..n].copy_from_slice(&fds[..n]);
    state.nfds = n as u64;
    let cwd = fs::path::cwd();
    // SAFETY: ExecState is plain integers; its bytes are what the monitor reads.
    let state_bytes = unsafe {
        core::slice::from_raw_parts(&*state as *const ExecState as *const u8, core::mem::size_of::<ExecState>())
    };
    let execfn = if given.is_empty() { abs.clone() } else { given };
    let mut req = Request::new(op::EXEC);
    req.args[0] = argc;
    req.args[1] = envc;
    req.args[2] = super::path::current_umask() as u64;
    req.args[3] = if inaccessible { hx_abi::hypercall::EXEC_PATH_INACCESSIBLE } else { 0 };
    for (i, b) in [&abs[..], &args, &env, state_bytes, &execfn, &cwd].into_iter().enumerate() {
        req.segs[i] = segment_of(b);
    }
    req.nsegs = 6;
    let ret = host::call(&mut req);
    // The memory files made for generated files stay with this monitor
    // unless it booted the new image itself.
    if ret < 0 || super::vfork::active() {
        for h in made {
            host::close(h);
        }
    }
    if super::vfork::active() && ret == 0 {
        // A vfork child's image runs in a process of its own now.
        return super::vfork::execed();
    }
    // Only a refusal comes back: a new image never returns here.
    Err(Errno(-ret.min(-1)))
}
