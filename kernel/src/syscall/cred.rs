//! Credentials: the process's user and group ids (real, effective, saved and
//! filesystem), its supplementary groups and its capability sets, changed by
//! Linux's rules (kernel/sys.c, kernel/groups.c, kernel/capability.c and
//! security/commoncap.c). The program starts as the user hx-run runs as
//! (`BootInfo::uid`/`gid`): root in the guest, with every capability, when
//! hx-run runs as root; no supplementary groups.
//!
//! The guest kernel checks them where Linux would (the set*id calls, capset,
//! chown), as a convenience for well-behaved programs, and tells the monitor
//! each change of the ids files are checked with (`op::CREDS`): a monitor
//! running as root then makes path requests as them (docs/security.md).
//!
//! Linux keeps credentials per thread, but glibc and musl change every
//! thread's together; hx keeps one state for the process, behind one lock, in
//! guest memory (so a forked copy of the VM has its parent's). `execve` passes
//! them to the new image in its `ExecState` ([`for_exec`]), changed as Linux
//! changes them; hx's mounts act as `nosuid`: a set-id file gives no ids.
use super::Args;
use crate::errno::{Errno, SysResult, EINVAL, EPERM, ESRCH};
use crate::fs::stat::Stat;
use crate::{host, mm};
use alloc::vec::Vec;
use hx_abi::boot::{ExecCredentials, MAX_EXEC_GROUPS};
use hx_abi::uapi::{self, __user_cap_data_struct as CapData};
use spin::Mutex;

/// A set of capabilities: bit `CAP_*` for each.
pub type CapSet = u64;

const fn cap(c: u32) -> CapSet {
    1 << c
}

/// Every capability Linux defines (`CAP_LAST_CAP` and below).
pub const CAP_FULL: CapSet = cap(uapi::CAP_LAST_CAP + 1) - 1;

/// The capabilities that go with filesystem uid 0 (Linux's `CAP_FS_SET`).
const CAP_FS_SET: CapSet = cap(uapi::CAP_CHOWN)
    | cap(uapi::CAP_DAC_OVERRIDE)
    | cap(uapi::CAP_DAC_READ_SEARCH)
    | cap(uapi::CAP_FOWNER)
    | cap(uapi::CAP_FSETID)
    | cap(uapi::CAP_LINUX_IMMUTABLE)
    | cap(uapi::CAP_MKNOD)
    | cap(uapi::CAP_MAC_OVERRIDE);

/// C's `(uid_t)-1`: "unchanged" to the set*id calls and chown; never a valid id.
pub const UNCHANGED: u32 = u32::MAX;

const ROOT: u32 = 0;

/// One family of ids: the user's or the group's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ids {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
    /// What file permission checks use (follows `effective` unless set apart).
    pub fs: u32,
}

impl Ids {
    fn all(id: u32) -> Self {
        Self { real: id, effective: id, saved: id, fs: id }
    }

    /// One of the real, effective or saved ids: what an unprivileged process may switch to.
    fn holds(&self, id: u32) -> bool {
        id == self.real || id == self.effective || id == self.saved
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    User,
    Group,
}

impl Family {
    /// The capability that lifts the restrictions on changing this family's ids.
    fn setid_cap(self) -> u32 {
        match self {
            Family::User => uapi::CAP_SETUID,
            Family::Group => uapi::CAP_SETGID,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: Ids,
    pub group: Ids,
    /// Supplementary groups, sorted (Linux sorts what `setgroups` gives it).
    pub groups: Vec<u32>,
    pub effective: CapSet,
    pub permitted: CapSet,
    pub inheritable: CapSet,
    pub bounding: CapSet,
    pub ambient: CapSet,
    /// `SECBIT_*` flags (`PR_SET_SECUREBITS`, `PR_SET_KEEPCAPS`).
    pub securebits: u32,
}

/// Linux's securebits (`linux/securebits.h`): each flag, and its lock one bit above.
pub const SECBIT_NOROOT: u32 = 1 << 0;
pub const SECBIT_NO_SETUID_FIXUP: u32 = 1 << 2;
pub const SECBIT_KEEP_CAPS: u32 = 1 << 4;
pub const SECBIT_NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
const SECURE_ALL_BITS: u32 = 0x55;
const SECURE_ALL_LOCKS: u32 = 0xaa;

impl Credentials {
    /// A process of user `uid` and group `gid`, as a login starts it: root
    /// holds the capabilities hx-run has (`root_caps`: effective, permitted,
    /// bounding; all zero: every one), anyone else none.
    pub fn new(uid: u32, gid: u32, root_caps: [u64; 3]) -> Self {
        let [effective, permitted, bounding] =
            if root_caps[2] == 0 { [CAP_FULL; 3] } else { root_caps.map(|c| c & CAP_FULL) };
        let (effective, permitted) = if uid == ROOT { (effective, permitted) } else { (0, 0) };
        Self {
            user: Ids::all(uid),
            group: Ids::all(gid),
            groups: Vec::new(),
            effective,
            permitted,
            inheritable: 0,
            bounding,
            ambient: 0,
            securebits: 0,
        }
    }

    /// What the image `execve` starts keeps (Linux's `cap_bprm_creds_from_file`
    /// for a file without set-id bits or file capabilities): the saved and
    /// filesystem ids become the effective ones; root (real or effective) is
    /// permitted its bounding and inheritable sets, and has them in effect
    /// only with effective uid 0; anyone else keeps only its ambient set.
    fn after_exec(&self) -> Self {
        let mut new = self.clone();
        for ids in [&mut new.user, &mut new.group] {
            ids.saved = ids.effective;
            ids.fs = ids.effective;
        }
        new.securebits &= !SECBIT_KEEP_CAPS;
        let root = (new.user.effective == ROOT || new.user.real == ROOT) && self.securebits & SECBIT_NOROOT == 0;
        new.permitted = if root { self.bounding | self.inheritable } else { 0 } | self.ambient;
        new.effective = if new.user.effective == ROOT { new.permitted } else { self.ambient };
        new
    }

    /// The credentials an `execve` passed in `e` (written by [`for_exec`] in
    /// the old image: only this process's own data).
    fn from_exec(e: &ExecCredentials) -> Self {
        let ids = |v: [u32; 4]| Ids { real: v[0], effective: v[1], saved: v[2], fs: v[3] };
        let mut groups = e.groups[..(e.ngroups as usize).min(MAX_EXEC_GROUPS)].to_vec();
        groups.sort_unstable();
        let [effective, permitted, inheritable, bounding, ambient] = e.caps.map(|c| c & CAP_FULL);
        let securebits = e.securebits & (SECURE_ALL_BITS | SECURE_ALL_LOCKS);
        Self {
            user: ids(e.uids),
            group: ids(e.gids),
            groups,
            effective,
            permitted,
            inheritable,
            bounding,
            ambient,
            securebits,
        }
    }

    /// Whether capability `c` (a `CAP_*` number) is in the effective set.
    pub fn capable(&self, c: u32) -> bool {
        self.effective & cap(c) != 0
    }

    /// Whether `gid` is the filesystem group or a supplementary one (Linux's `in_group_p`).
    pub fn in_group(&self, gid: u32) -> bool {
        gid == self.group.fs || self.groups.binary_search(&gid).is_ok()
    }

    fn ids_mut(&mut self, family: Family) -> &mut Ids {
        match family {
            Family::User => &mut self.user,
            Family::Group => &mut self.group,
        }
    }

    /// The capabilities after the user ids changed from `old`'s (Linux's
    /// `cap_emulate_setxuid`): leaving uid 0 behind entirely clears the
    /// permitted, effective and ambient sets; an effective uid leaving 0
    /// clears the effective set, and one returning to 0 restores it from the
    /// permitted set.
    fn fix_caps_after_setuid(&mut self, old: &Ids) {
        if self.securebits & SECBIT_NO_SETUID_FIXUP != 0 {
            return;
        }
        let (new, was_root) = (self.user, old.holds(ROOT));
        if was_root && !new.holds(ROOT) {
            // SECBIT_KEEP_CAPS keeps the permitted set (the effective one
            // still leaves with effective uid 0, below).
            if self.securebits & SECBIT_KEEP_CAPS == 0 {
                self.permitted = 0;
                self.effective = 0;
            }
            self.ambient = 0;
        }
        if old.effective == ROOT && new.effective != ROOT {
            self.effective = 0;
        }
        if old.effective != ROOT && new.effective == ROOT {
            self.effective = self.permitted;
        }
    }

    /// The capabilities after the filesystem uid changed from `old_fs`: the
    /// filesystem ones leave with uid 0 and come back (if permitted) with it.
    fn fix_caps_after_setfsuid(&mut self, old_fs: u32) {
        if self.securebits & SECBIT_NO_SETUID_FIXUP != 0 {
            return;
        }
        if old_fs == ROOT && self.user.fs != ROOT {
            self.effective &= !CAP_FS_SET;
        }
        if old_fs != ROOT && self.user.fs == ROOT {
            self.effective |= self.permitted & CAP_FS_SET;
        }
    }

    /// After any change of ids: user-id changes move the capabilities.
    fn fix_caps(&mut self, family: Family, old: &Ids) {
        if family == Family::User {
            self.fix_caps_after_setuid(old);
        }
    }
}

static CREDENTIALS: Mutex<Option<Credentials>> = Mutex::new(None);

/// Runs `f` on the process's credentials: at first those `execve` passed
/// on, or the boot user's.
fn with<R>(f: impl FnOnce(&mut Credentials) -> R) -> R {
    let mut held = CREDENTIALS.lock();
    let creds = held.get_or_insert_with(|| {
        let boot = crate::boot_info();
        if boot.exec.creds.present != 0 {
            Credentials::from_exec(&boot.exec.creds)
        } else {
            Credentials::new(boot.uid, boot.gid, boot.root_caps)
        }
    });
    let before = (creds.user, creds.group);
    let r = f(creds);
    if (creds.user, creds.group) != before {
        let changed = creds.clone();
        drop(held);
        tell_monitor(&changed);
    }
    r
}

/// Tells the monitor the ids the host should check this process's path
/// requests with (`op::CREDS`; it ignores them unless it runs as root).
fn tell_monitor(c: &Credentials) {
    let mut req = hx_abi::hypercall::Request::new(hx_abi::hypercall::op::CREDS);
    req.args[..6].copy_from_slice(
        &[c.user.fs, c.group.fs, c.user.real, c.group.real, c.user.effective, c.user.saved].map(u64::from),
    );
    if !c.groups.is_empty() {
        req.segs[0] = host::kernel_segment(c.groups.as_ptr() as u64, c.groups.len() * 4);
        req.nsegs = 1;
    }
    host::call(&mut req);
}

/// `PR_CAPBSET_READ`: whether capability `cap` is in the bounding set.
pub fn in_bounding_set(cap: u32) -> bool {
    with(|c| c.bounding & (1 << cap) != 0)
}

/// `PR_CAPBSET_DROP`: takes `cap` out of the bounding set (needs CAP_SETPCAP).
pub fn drop_from_bounding_set(cap: u32) -> Result<(), crate::errno::Errno> {
    with(|c| {
        if !c.capable(hx_abi::uapi::CAP_SETPCAP) {
            return Err(crate::errno::EPERM);
        }
        c.bounding &= !(1 << cap);
        Ok(())
    })
}

/// `PR_GET_SECUREBITS`.
pub fn securebits() -> u32 {
    with(|c| c.securebits)
}

/// `PR_SET_SECUREBITS` (Linux's rules, every refusal `EPERM`): a locked
/// flag cannot change, a lock cannot be undone, only known flags, and
/// only with CAP_SETPCAP.
pub fn set_securebits(bits: u64) -> Result<(), crate::errno::Errno> {
    with(|c| {
        let old = c.securebits as u64;
        let locked = (old & SECURE_ALL_LOCKS as u64) >> 1;
        if locked & (old ^ bits) != 0
            || old & SECURE_ALL_LOCKS as u64 & !bits != 0
            || bits & !((SECURE_ALL_BITS | SECURE_ALL_LOCKS) as u64) != 0
            || !c.capable(uapi::CAP_SETPCAP)
        {
            return Err(crate::errno::EPERM);
        }
        c.securebits = bits as u32;
        Ok(())
    })
}

/// `PR_SET_KEEPCAPS`: `SECBIT_KEEP_CAPS` alone (`EPERM` once locked).
pub fn set_keepcaps(on: bool) -> Result<(), crate::errno::Errno> {
    with(|c| {
        if c.securebits & (SECBIT_KEEP_CAPS << 1) != 0 {
            return Err(crate::errno::EPERM);
        }
        if on {
            c.securebits |= SECBIT_KEEP_CAPS;
        } else {
            c.securebits &= !SECBIT_KEEP_CAPS;
        }
        Ok(())
    })
}

/// `PR_CAP_AMBIENT`: `IS_SET` (1), `RAISE` (2: the capability must be
/// permitted and inheritable, and raising not forbidden by securebits),
/// `LOWER` (3), `CLEAR_ALL` (4).
pub fn ambient(op: u64, cap_nr: u64) -> SysResult {
    if op != 4 && cap_nr > uapi::CAP_LAST_CAP as u64 {
        return Err(EINVAL);
    }
    let bit = if op == 4 { 0 } else { cap(cap_nr as u32) };
    with(|c| match op {
        1 => Ok(u64::from(c.ambient & bit != 0)),
        2 => {
            if c.permitted & c.inheritable & bit == 0 || c.securebits & SECBIT_NO_CAP_AMBIENT_RAISE != 0 {
                return Err(EPERM);
            }
            c.ambient |= bit;
            Ok(0)
        }
        3 => {
            c.ambient &= !bit;
            Ok(0)
        }
        4 if cap_nr == 0 => {
            c.ambient = 0;
            Ok(0)
        }
        _ => Err(EINVAL),
    })
}

/// A copy of the process's credentials.
pub fn current() -> Credentials {
    with(|c| c.clone())
}

/// The credentials, put aside while a vfork child may change its copy.
pub struct Saved(Option<Credentials>);

pub fn save() -> Saved {
    Saved(CREDENTIALS.lock().clone())
}

pub fn restore(saved: Saved) {
    *CREDENTIALS.lock() = saved.0;
}

/// Held across a `fork`'s copy (see `syscall::fork`), so that the child's
/// copy is never one another vCPU was changing.
pub fn lock_for_fork() -> spin::MutexGuard<'static, Option<Credentials>> {
    CREDENTIALS.lock()
}

/// The credentials a new image starts with, for `execve` to pass on.
pub fn for_exec() -> ExecCredentials {
    let c = with(|c| c.after_exec());
    if c.groups.len() > MAX_EXEC_GROUPS {
        host::log(b"execve: more supplementary groups than hx passes on; the highest are dropped");
    }
    let n = c.groups.len().min(MAX_EXEC_GROUPS);
    let ids = |i: Ids| [i.real, i.effective, i.saved, i.fs];
    let mut e = ExecCredentials {
        present: 1,
        ngroups: n as u32,
        uids: ids(c.user),
        gids: ids(c.group),
        caps: [c.effective, c.permitted, c.inheritable, c.bounding, c.ambient],
        securebits: c.securebits,
        ..Default::default()
    };
    e.groups[..n].copy_from_slice(&c.groups[..n]);
    e
}

/// The real user id (what `si_uid` reports to a signal's receiver).
pub fn real_uid() -> u32 {
    with(|c| c.user.real)
}

/// The filesystem uid (what file permission checks use).
pub fn fs_uid() -> u32 {
    with(|c| c.user.fs)
}

/// Whether the process has capability `which` (a `CAP_*` number) in its effective set.
pub fn capable(which: u32) -> bool {
    with(|c| c.capable(which))
}

/// An id argument: uid_t and gid_t are 32 bits; the upper half is ignored, as by Linux.
fn id(arg: u64) -> u32 {
    arg as u32
}

/// `EINVAL` for `(uid_t)-1` where an id must be given.
fn valid(id: u32) -> Result<u32, Errno> {
    if id == UNCHANGED {
        Err(EINVAL)
    } else {
        Ok(id)
    }
}

/// `setuid`/`setgid`: with the capability, all four ids become `id`; without
/// it, only the effective and filesystem ones, and only to the real or saved id.
fn set_id(family: Family, id: u32) -> SysResult {
    let id = valid(id)?;
    with(|c| {
        let old = *c.ids_mut(family);
        let privileged = c.capable(family.setid_cap());
        if !privileged && id != old.real && id != old.saved {
            return Err(EPERM);
        }
        let ids = c.ids_mut(family);
        if privileged {
            ids.real = id;
            ids.saved = id;
        }
        ids.effective = id;
        ids.fs = id;
        c.fix_caps(family, &old);
        Ok(0)
    })
}

/// `setreuid`/`setregid`: the real id may become the effective one, the
/// effective id any of the three (anything with the capability). The saved
/// id follows the new effective one when the real id is set or the effective
/// one differs from the old real id.
fn set_re(family: Family, real: u32, effective: u32) -> SysResult {
    with(|c| {
        let old = *c.ids_mut(family);
        let privileged = c.capable(family.setid_cap());
        let mut new = old;
        if real != UNCHANGED {
            if !privileged && real != old.real && real != old.effective {
                return Err(EPERM);
            }
            new.real = real;
        }
        if effective != UNCHANGED {
            if !privileged && !old.holds(effective) {
                return Err(EPERM);
            }
            new.effective = effective;
        }
        if real != UNCHANGED || (effective != UNCHANGED && effective != old.real) {
            new.saved = new.effective;
        }
        new.fs = new.effective;
        *c.ids_mut(family) = new;
        c.fix_caps(family, &old);
        Ok(0)
    })
}

/// `setresuid`/`setresgid`: each id given may become any of the three old
/// ones (anything with the capability); the filesystem id follows the
/// effective one.
fn set_res(family: Family, real: u32, effective: u32, saved: u32) -> SysResult {
    with(|c| {
        let old = *c.ids_mut(family);
        let given = [real, effective, saved];
        // Checked before anything changes: a refused call changes nothing.
        if given.iter().any(|&id| id != UNCHANGED && !old.holds(id)) && !c.capable(family.setid_cap()) {
            return Err(EPERM);
        }
        let mut new = old;
        for (slot, id) in [&mut new.real, &mut new.effective, &mut new.saved].into_iter().zip(given) {
            if id != UNCHANGED {
                *slot = id;
            }
        }
        new.fs = new.effective;
        if new == old {
            return Ok(0);
        }
        *c.ids_mut(family) = new;
        c.fix_caps(family, &old);
        Ok(0)
    })
}

/// `setfsuid`/`setfsgid`: returns the old filesystem id whether or not it
/// changed (never an error). The new one may be any of the four old ids
/// (anything with the capability).
fn set_fs(family: Family, id: u32) -> SysResult {
    with(|c| {
        let old = *c.ids_mut(family);
        let allowed = id != UNCHANGED && (old.holds(id) || id == old.fs || c.capable(family.setid_cap()));
        if allowed && id != old.fs {
            c.ids_mut(family).fs = id;
            if family == Family::User {
                c.fix_caps_after_setfsuid(old.fs);
            }
        }
        Ok(old.fs as u64)
    })
}

pub fn getuid(_: Args) -> SysResult {
    Ok(with(|c| c.user.real) as u64)
}

pub fn geteuid(_: Args) -> SysResult {
    Ok(with(|c| c.user.effective) as u64)
}

pub fn getgid(_: Args) -> SysResult {
    Ok(with(|c| c.group.real) as u64)
}

pub fn getegid(_: Args) -> SysResult {
    Ok(with(|c| c.group.effective) as u64)
}

/// Writes the real, effective and saved ids, in that order (a fault stops there).
fn put_res(ids: Ids, [real, effective, saved, ..]: Args) -> SysResult {
    mm::write_user(real, &ids.real)?;
    mm::write_user(effective, &ids.effective)?;
    mm::write_user(saved, &ids.saved)?;
    Ok(0)
}

pub fn getresuid(a: Args) -> SysResult {
    put_res(with(|c| c.user), a)
}

pub fn getresgid(a: Args) -> SysResult {
    put_res(with(|c| c.group), a)
}

pub fn setuid([uid, ..]: Args) -> SysResult {
    set_id(Family::User, id(uid))
}

pub fn setgid([gid, ..]: Args) -> SysResult {
    set_id(Family::Group, id(gid))
}

pub fn setreuid([ruid, euid, ..]: Args) -> SysResult {
    set_re(Family::User, id(ruid), id(euid))
}

pub fn setregid([rgid, egid, ..]: Args) -> SysResult {
    set_re(Family::Group, id(rgid), id(egid))
}

pub fn setresuid([ruid, euid, suid, ..]: Args) -> SysResult {
    set_res(Family::User, id(ruid), id(euid), id(suid))
}

pub fn setresgid([rgid, egid, sgid, ..]: Args) -> SysResult {
    set_res(Family::Group, id(rgid), id(egid), id(sgid))
}

pub fn setfsuid([uid, ..]: Args) -> SysResult {
    set_fs(Family::User, id(uid))
}

pub fn setfsgid([gid, ..]: Args) -> SysResult {
    set_fs(Family::Group, id(gid))
}

/// `getgroups(size, list)`: with size 0 only the count; `EINVAL` if the
/// groups do not fit.
pub fn getgroups([size, list, ..]: Args) -> SysResult {
    let size = size as u32 as i32;
    if size < 0 {
        return Err(EINVAL);
    }
    let groups = with(|c| c.groups.clone());
    if size > 0 {
        if groups.len() > size as usize {
            return Err(EINVAL);
        }
        let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
        mm::copy_to_user(list, &bytes)?;
    }
    Ok(groups.len() as u64)
}

/// `setgroups(size, list)`: needs CAP_SETGID; at most `NGROUPS_MAX` groups,
/// none of them `-1`.
pub fn setgroups([size, list, ..]: Args) -> SysResult {
    if !capable(uapi::CAP_SETGID) {
        return Err(EPERM);
    }
    let size = size as u32;
    if size > uapi::NGROUPS_MAX {
        return Err(EINVAL);
    }
    let mut bytes = alloc::vec![0u8; size as usize * 4];
    mm::copy_from_user(list, &mut bytes)?;
    let mut groups: Vec<u32> = bytes.chunks_exact(4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect();
    if groups.contains(&UNCHANGED) {
        return Err(EINVAL);
    }
    groups.sort_unstable();
    let changed = with(|c| {
        let changed = c.groups != groups;
        c.groups = groups;
        changed.then(|| c.clone())
    });
    if let Some(c) = changed {
        tell_monitor(&c);
    }
    Ok(0)
}

/// The 32-bit words of each capability set a header's version carries
/// (1 for version 1, 2 for versions 2 and 3). An unknown version is
/// `EINVAL`, and the header is given the version this kernel prefers.
fn cap_words(header: u64) -> Result<usize, Errno> {
    let version: u32 = mm::read_user(header)?;
    match version {
        uapi::_LINUX_CAPABILITY_VERSION_1 => Ok(uapi::_LINUX_CAPABILITY_U32S_1 as usize),
        uapi::_LINUX_CAPABILITY_VERSION_2 => Ok(uapi::_LINUX_CAPABILITY_U32S_2 as usize),
        uapi::_LINUX_CAPABILITY_VERSION_3 => Ok(uapi::_LINUX_CAPABILITY_U32S_3 as usize),
        _ => {
            mm::write_user(header, &uapi::_LINUX_CAPABILITY_VERSION_3)?;
            Err(EINVAL)
        }
    }
}

/// The header's pid (`EINVAL` if negative).
fn cap_pid(header: u64) -> Result<u32, Errno> {
    let pid: i32 = mm::read_user(header + 4)?;
    u32::try_from(pid).map_err(|_| EINVAL)
}

/// `capget(header, data)`: the sets of this process (pid 0, its own, or one
/// of its threads'). With no `data` it only checks (or reports) the version.
pub fn capget([header, data, ..]: Args) -> SysResult {
    let words = match cap_words(header) {
        Err(e) if e == EINVAL && data == 0 => return Ok(0),
        r => r?,
    };
    if data == 0 {
        return Ok(0);
    }
    let pid = cap_pid(header)?;
    let own = pid == 0 || pid as u64 == super::process::getpid([0; 6])?;
    if !own && crate::sched::thread(pid).is_none() {
        return Err(ESRCH);
    }
    let c = current();
    for word in 0..words {
        let part = |set: CapSet| (set >> (32 * word)) as u32;
        let d =
            CapData { effective: part(c.effective), permitted: part(c.permitted), inheritable: part(c.inheritable) };
        mm::write_user(data + (word * core::mem::size_of::<CapData>()) as u64, &d)?;
    }
    Ok(0)
}

/// `capset(header, data)`: the caller's own sets only. The permitted set may
/// only shrink, the effective one must lie within it, and the inheritable
/// one within the bounding set and (without CAP_SETPCAP) the old
/// inheritable and permitted sets.
pub fn capset([header, data, ..]: Args) -> SysResult {
    let words = cap_words(header)?;
    let pid = cap_pid(header)?;
    if pid != 0 && pid != crate::sched::current().tid {
        return Err(EPERM);
    }
    let (mut effective, mut permitted, mut inheritable) = (0, 0, 0);
    for word in 0..words {
        let d: CapData = mm::read_user(data + (word * core::mem::size_of::<CapData>()) as u64)?;
        effective |= (d.effective as CapSet) << (32 * word);
        permitted |= (d.permitted as CapSet) << (32 * word);
        inheritable |= (d.inheritable as CapSet) << (32 * word);
    }
    let (effective, permitted, inheritable) = (effective & CAP_FULL, permitted & CAP_FULL, inheritable & CAP_FULL);
    let subset = |a: CapSet, b: CapSet| a & !b == 0;
    with(|c| {
        if !c.capable(uapi::CAP_SETPCAP) && !subset(inheritable, c.inheritable | c.permitted) {
            return Err(EPERM);
        }
        if !subset(inheritable, c.inheritable | c.bounding)
            || !subset(permitted, c.permitted)
            || !subset(effective, permitted)
        {
            return Err(EPERM);
        }
        c.effective = effective;
        c.permitted = permitted;
        c.inheritable = inheritable;
        c.ambient &= permitted & inheritable;
        Ok(0)
    })
}

/// Whether the caller may give the file `st` owner `uid` and group `gid`
/// (`UNCHANGED`: kept), as Linux's `chown_ok` and `chgrp_ok` decide: with
/// CAP_CHOWN anything; else only the file's owner (by filesystem uid), only
/// to itself, and only to a group it is in.
pub fn may_chown(st: &Stat, uid: u32, gid: u32) -> Result<(), Errno> {
    with(|c| {
        if c.capable(uapi::CAP_CHOWN) {
            return Ok(());
        }
        let owner = st.uid == c.user.fs;
        let uid_ok = uid == UNCHANGED || (owner && uid == st.uid);
        let gid_ok = gid == UNCHANGED || (owner && (gid == st.gid || c.in_group(gid)));
        if uid_ok && gid_ok {
            Ok(())
        } else {
            Err(EPERM)
        }
    })
}
