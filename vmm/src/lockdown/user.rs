//! `--user`: hx-run started as root runs the guest as another user, so the
//! host's permissions apply to every file request as they would to that user.
use anyhow::{bail, Context, Result};
use std::ffi::CString;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

/// `UID[:GID]` or `NAME[:GROUP]`; a user given by name without a group takes its primary group.
pub fn parse_user(spec: &str) -> Result<User, String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (uid, None),
        Err(_) => {
            let name = CString::new(user).map_err(|_| format!("not a user: {user}"))?;
            // SAFETY: getpwnam reads the password database; we copy the fields at once.
            let pw = unsafe { libc::getpwnam(name.as_ptr()) };
            if pw.is_null() {
                return Err(format!("no such user: {user}"));
            }
            // SAFETY: `pw` is non-null and points to getpwnam's static record.
            unsafe { ((*pw).pw_uid, Some((*pw).pw_gid)) }
        }
    };
    let gid = match group {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => {
                let name = CString::new(g).map_err(|_| format!("not a group: {g}"))?;
                // SAFETY: getgrnam reads the group database; we copy the id at once.
                let gr = unsafe { libc::getgrnam(name.as_ptr()) };
                if gr.is_null() {
                    return Err(format!("no such group: {g}"));
                }
                // SAFETY: `gr` is non-null and points to getgrnam's static record.
                unsafe { (*gr).gr_gid }
            }
        },
        None => primary.unwrap_or(uid),
    };
    Ok(User { uid, gid })
}

/// Becomes `user` for good: no supplementary groups, real, effective and saved ids all changed.
pub fn drop_to(user: User) -> Result<()> {
    // SAFETY: the set*id calls change only this process's credentials.
    unsafe {
        if libc::geteuid() != 0 {
            if libc::geteuid() == user.uid && libc::getegid() == user.gid {
                return Ok(());
            }
            bail!("--user needs hx-run to be started as root");
        }
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(std::io::Error::last_os_error()).context("--user: setgroups");
        }
        if libc::setresgid(user.gid, user.gid, user.gid) != 0 {
            return Err(std::io::Error::last_os_error()).context("--user: setresgid");
        }
        if libc::setresuid(user.uid, user.uid, user.uid) != 0 {
            return Err(std::io::Error::last_os_error()).context("--user: setresuid");
        }
        if user.uid != 0 && (libc::setuid(0) == 0 || libc::geteuid() == 0) {
            bail!("--user: could not give up root");
        }
    }
    Ok(())
}

/// The capability sets hx-run started with (effective, permitted,
/// bounding), read once: a root guest starts with them (`BootInfo::root_caps`).
/// All zero if they cannot be read.
pub fn host_caps() -> [u64; 3] {
    static CAPS: std::sync::OnceLock<[u64; 3]> = std::sync::OnceLock::new();
    *CAPS.get_or_init(|| {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy, Default)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const VERSION_3: u32 = 0x2008_0522;
        let mut header = Header { version: VERSION_3, pid: 0 };
        let mut data = [Data::default(); 2];
        // SAFETY: capget writes two data records into the array we own.
        if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
            return [0; 3];
        }
        let join = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
        let [low, high] = data;
        // Up to the host's last capability (the first EINVAL), not 64 calls
        // at every start.
        let bounding = (0..64u64)
            // SAFETY: PR_CAPBSET_READ only reads the calling thread's bounding set.
            .map_while(|c| match unsafe { libc::prctl(libc::PR_CAPBSET_READ, c) } {
                r if r < 0 => None,
                r => Some(u64::from(r == 1) << c),
            })
            .fold(0u64, |set, bit| set | bit);
        [join(low.effective, high.effective), join(low.permitted, high.permitted), bounding]
    })
}
