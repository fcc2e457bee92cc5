//! Landlock: the monitor's own view of the host file system shrinks to the
//! guest's mounts (read-only ones readable, read-write ones writable) and the
//! few files it serves itself, so a flaw in the path walk still cannot open a
//! host file outside them.
use crate::sandbox::Sandbox;
use anyhow::Result;
use landlock::{Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, ABI};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// The newest Landlock ABI hx asks for; older host kernels enforce what they know.
const ABI_WANTED: ABI = ABI::V5;

#[derive(Debug, PartialEq, Eq)]
pub enum FileRestriction {
    Full,
    Partial,
    /// The host kernel has no Landlock (or it is disabled).
    Unavailable,
}

/// The root of the message-queue file system of this thread's IPC
/// namespace (where `mq_open` opens queues): a mount made detached, in no
/// mount table, only to name its root to Landlock (its superblock is the
/// namespace's own, the one `mq_open` uses). None if the host cannot.
fn message_queue_root() -> Option<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    let call = |r: libc::c_long| (r >= 0).then_some(r as i32);
    // SAFETY: a NUL-terminated file system name; the result is a new descriptor.
    let fs = call(unsafe { libc::syscall(libc::SYS_fsopen, c"mqueue".as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: `fs` is the descriptor fsopen just returned, owned here alone.
    let fs = unsafe { OwnedFd::from_raw_fd(fs) };
    // SAFETY: a plain command on our fs context, with no key or value.
    let null = std::ptr::null::<libc::c_char>();
    call(unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), FSCONFIG_CMD_CREATE, null, null, 0) })?;
    // SAFETY: makes a detached mount of our context; the result is a new descriptor.
    let root = call(unsafe { libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0) })?;
    // SAFETY: `root` is the descriptor fsmount just returned, owned here alone.
    Some(unsafe { OwnedFd::from_raw_fd(root) })
}

/// Restricts this process (every thread created after) to `sandbox`'s mounts
/// plus read access to `extra_files`.
pub fn restrict_files(sandbox: &Sandbox, extra_files: &[&Path]) -> Result<FileRestriction> {
    let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(ABI_WANTED))?.create()?;
    for m in sandbox.mounts() {
        let access = if m.writable { AccessFs::from_all(ABI_WANTED) } else { AccessFs::from_read(ABI_WANTED) };
        ruleset = ruleset.add_rule(PathBeneath::new(m.dir(), access))?;
    }
    // Pseudo-terminals (`host::pty`, which lets the guest reach only the
    // ptys it made): open, read, write and terminal ioctls.
    let tty = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::IoctlDev;
    for dev in ["/dev/ptmx", "/dev/pts"] {
        if let Ok(fd) = PathFd::new(dev) {
            ruleset = ruleset.add_rule(PathBeneath::new(fd, tty))?;
        }
    }
    for file in extra_files {
        let fd = PathFd::new(file)?;
        ruleset = ruleset.add_rule(PathBeneath::new(fd, AccessFs::ReadFile | AccessFs::Execute))?;
    }
    // POSIX message queues are files of the IPC namespace's own mqueue file
    // system (`host::mqueue`): the tree's, never the host's. (Its limits
    // may still be being set on the VM builder's thread.)
    if crate::host::sysv::in_private_namespace() {
        if let Some(root) = message_queue_root() {
            let queues = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::MakeReg | AccessFs::RemoveFile;
            ruleset = ruleset.add_rule(PathBeneath::new(root, queues))?;
        }
    }
    let status = ruleset.restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => FileRestriction::Full,
        RulesetStatus::PartiallyEnforced => FileRestriction::Partial,
        RulesetStatus::NotEnforced => FileRestriction::Unavailable,
    })
}
