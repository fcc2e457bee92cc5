//! Whose permissions a path request is made with: the guest process's own
//! ids once it stopped being root.
//!
//! A monitor running as root serves a guest that started as root. When the
//! program switches to another user (`setuid`, `setgroups`…), its kernel
//! tells the monitor (`op::CREDS`), and from then on the thread serving
//! one of its path requests takes the guest's filesystem uid, gid and
//! supplementary groups for that request only (raw per-thread
//! `setfsuid`/`setfsgid`/`setgroups`), so the host checks the file's
//! permissions as Linux checks the program's and new files belong to it.
//! Losing filesystem uid 0 drops the filesystem capabilities
//! (`CAP_DAC_OVERRIDE`, `CAP_CHOWN`, `CAP_FOWNER`…) from the thread, and
//! taking it back restores them: the host kernel does that itself.
//!
//! The ids are untrusted like every request: a forged `CREDS` can only make
//! the monitor act as a user with less than root's rights, which the guest
//! had already (a file it creates may belong to any uid, as a root guest's
//! `chown` may give it). A monitor that is not root (`--user`) acts as
//! itself, as before.
use hx_abi::hypercall::MAX_GUEST_GROUPS;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The guest process's ids for file requests.
#[derive(Clone, Debug, PartialEq, Eq)]
struct GuestIds {
    fs_uid: u32,
    fs_gid: u32,
    real_uid: u32,
    real_gid: u32,
    groups: Vec<libc::gid_t>,
}

/// Set while the guest acts as someone other than root (no switch otherwise:
/// the common case costs one load).
static SWITCHED: AtomicBool = AtomicBool::new(false);
static IDS: Mutex<Option<GuestIds>> = Mutex::new(None);

/// `op::CREDS`: `args` = fs uid, fs gid, real uid, real gid, effective
/// uid, saved uid; `groups` = the supplementary groups' bytes (native-endian `u32`s).
pub fn set(args: &[u64; 8], groups: &[u8]) -> Result<i64, libc::c_int> {
    if !groups.len().is_multiple_of(4) || groups.len() / 4 > MAX_GUEST_GROUPS {
        return Err(libc::EINVAL);
    }
    let id = |a: u64| u32::try_from(a).ok().filter(|&v| v != u32::MAX).ok_or(libc::EINVAL);
    let [fs_uid, fs_gid, real_uid, real_gid, effective_uid, saved_uid, ..] = *args;
    crate::process::table::publish_uids(id(real_uid)?, id(effective_uid)?, id(saved_uid)?);
    let groups: Vec<libc::gid_t> =
        groups.chunks_exact(4).map(|b| u32::from_ne_bytes(b.try_into().unwrap_or_default())).collect();
    let ids =
        GuestIds { fs_uid: id(fs_uid)?, fs_gid: id(fs_gid)?, real_uid: id(real_uid)?, real_gid: id(real_gid)?, groups };
    adopt(ids);
    Ok(0)
}

/// The ids an `execve`d image starts with (`ExecCredentials`): a spare
/// monitor may still hold those of the process it was forked from.
pub fn set_from_exec(c: &hx_abi::boot::ExecCredentials) {
    if c.present == 0 {
        // SAFETY: getuid cannot fail: the first image runs as hx-run's user.
        let uid = unsafe { libc::getuid() };
        crate::process::table::publish_uids(uid, uid, uid);
        adopt(GuestIds { fs_uid: 0, fs_gid: 0, real_uid: 0, real_gid: 0, groups: Vec::new() });
        return;
    }
    crate::process::table::publish_uids(c.uids[0], c.uids[1], c.uids[2]);
    adopt(GuestIds {
        fs_uid: c.uids[3],
        fs_gid: c.gids[3],
        real_uid: c.uids[0],
        real_gid: c.gids[0],
        groups: c.groups.iter().take(c.ngroups as usize).copied().collect(),
    });
}

fn adopt(ids: GuestIds) {
    let root = ids.fs_uid == 0 && ids.fs_gid == 0 && ids.real_uid == 0 && ids.real_gid == 0 && ids.groups.is_empty();
    let mut held = IDS.lock().unwrap_or_else(|e| e.into_inner());
    *held = (!root).then_some(ids);
    SWITCHED.store(!root, Ordering::SeqCst);
}

/// The serving thread acting as the guest for one request, until dropped.
pub struct ActingAs {
    /// The monitor's own groups, to put back.
    groups: Vec<libc::gid_t>,
}

/// Makes this thread act as the guest (its real ids if `real`, as `access`
/// checks, else its filesystem ids), if the guest is not root and the
/// monitor is.
pub fn act_as_guest(real: bool) -> Option<ActingAs> {
    if !SWITCHED.load(Ordering::SeqCst) {
        return None;
    }
    let ids = IDS.lock().unwrap_or_else(|e| e.into_inner()).clone()?;
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let (uid, gid) = if real { (ids.real_uid, ids.real_gid) } else { (ids.fs_uid, ids.fs_gid) };
    let mut mine = vec![0 as libc::gid_t; 256];
    // SAFETY: getgroups writes at most 256 ids into the buffer we own.
    let n = unsafe { libc::getgroups(256, mine.as_mut_ptr()) };
    mine.truncate(n.max(0) as usize);
    // SAFETY: raw syscalls change this thread's credentials only (libc's
    // wrappers would change every thread's): groups and gid first, while the
    // thread still has CAP_SETGID, then the filesystem uid. setfsuid and
    // setfsgid cannot fail for root.
    unsafe {
        libc::syscall(libc::SYS_setgroups, ids.groups.len(), ids.groups.as_ptr());
        libc::syscall(libc::SYS_setfsgid, gid);
        libc::syscall(libc::SYS_setfsuid, uid);
    }
    Some(ActingAs { groups: mine })
}

impl Drop for ActingAs {
    fn drop(&mut self) {
        // SAFETY: this thread back to the monitor's ids (its real and
        // effective uid stayed root's, so setfsuid(0) brings the filesystem
        // capabilities back), uid first.
        unsafe {
            libc::syscall(libc::SYS_setfsuid, 0u32);
            libc::syscall(libc::SYS_setfsgid, libc::getegid());
            libc::syscall(libc::SYS_setgroups, self.groups.len(), self.groups.as_ptr());
        }
    }
}
