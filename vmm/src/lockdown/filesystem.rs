//! Landlock: the monitor's own view of the host file system shrinks to the
//! guest's mounts (read-only ones readable, read-write ones writable) and the
//! few files it serves itself, so a flaw in the path walk still cannot open a
//! host file outside them.
use crate::sandbox::Sandbox;
use anyhow::Result;
use landlock::{Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, ABI};
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
    let status = ruleset.restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => FileRestriction::Full,
        RulesetStatus::PartiallyEnforced => FileRestriction::Partial,
        RulesetStatus::NotEnforced => FileRestriction::Unavailable,
    })
}
