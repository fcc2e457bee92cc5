//! Socket addresses between the guest's terms and the host's: published
//! ports, the tree's own abstract names, and socket paths reached through
//! the sandbox's directory handles (never through a host path the guest
//! could redirect with a symlink).
use super::policy::{Policy, Proto};
use crate::sandbox::{Errno, Resolved, Sandbox};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `offsetof(struct sockaddr_un, sun_path)` and the path's capacity.
const SUN_PATH_AT: usize = 2;
const SUN_PATH_MAX: usize = 108;

/// A host socket address, with what must stay open while it is in use.
pub struct HostAddr {
    pub raw: libc::sockaddr_storage,
    pub len: libc::socklen_t,
    /// For a socket path: the monitor's handle on the socket file the address
    /// names through `/proc/self/fd` (so nothing can swap the file in between).
    _pin: Option<OwnedFd>,
}

impl HostAddr {
    fn from_bytes(bytes: &[u8], pin: Option<OwnedFd>) -> Result<Self, Errno> {
        // SAFETY: an all-zero sockaddr_storage is valid.
        let mut raw: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        if bytes.len() > std::mem::size_of_val(&raw) {
            return Err(libc::EINVAL);
        }
        // SAFETY: copies at most the storage's size into it (checked above).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), (&mut raw as *mut libc::sockaddr_storage).cast(), bytes.len())
        };
        Ok(Self { raw, len: bytes.len() as libc::socklen_t, _pin: pin })
    }

    pub fn ptr(&self) -> *const libc::sockaddr {
        (&self.raw as *const libc::sockaddr_storage).cast()
    }

    /// The address's bytes, as the guest's were.
    pub fn bytes(&self) -> &[u8] {
        let len = (self.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        // SAFETY: `len` bytes of the storage we own, which is plain bytes.
        unsafe { std::slice::from_raw_parts((&self.raw as *const libc::sockaddr_storage).cast(), len) }
    }
}

/// The family a guest address names (its first two bytes).
pub fn family(guest: &[u8]) -> Result<i32, Errno> {
    match guest {
        [a, b, ..] => Ok(i32::from(u16::from_ne_bytes([*a, *b]))),
        _ => Err(libc::EINVAL),
    }
}

/// The smallest address length Linux accepts for `family`.
fn min_len(family: i32) -> usize {
    match family {
        libc::AF_INET => 16,
        libc::AF_INET6 => 24,
        _ => 2,
    }
}

fn port_of(a: &[u8]) -> u16 {
    match a {
        [_, _, hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 0,
    }
}

fn set_port(a: &mut [u8], port: u16) {
    if let Some(p) = a.get_mut(2..4) {
        p.copy_from_slice(&port.to_be_bytes());
    }
}

/// The IP address in an `AF_INET`/`AF_INET6` address.
pub fn ip_of(a: &[u8]) -> Option<IpAddr> {
    match family(a).ok()? {
        libc::AF_INET => {
            let b: [u8; 4] = a.get(4..8)?.try_into().ok()?;
            Some(IpAddr::from(b))
        }
        libc::AF_INET6 => {
            let b: [u8; 16] = a.get(8..24)?.try_into().ok()?;
            Some(IpAddr::from(b))
        }
        _ => None,
    }
}

fn set_ip(a: &mut [u8], ip: IpAddr) {
    match (family(a), ip) {
        (Ok(libc::AF_INET), IpAddr::V4(v4)) => {
            if let Some(b) = a.get_mut(4..8) {
                b.copy_from_slice(&v4.octets());
            }
        }
        (Ok(libc::AF_INET6), IpAddr::V6(v6)) => {
            if let Some(b) = a.get_mut(8..24) {
                b.copy_from_slice(&v6.octets());
            }
        }
        _ => {}
    }
}

/// Whether an IP address is the host's loopback (an IPv4-mapped one included).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// A guest IP address to `bind`: the published host port (and address) for
/// its port, `EACCES` for a port that is not published.
pub fn inet_bind(policy: &Policy, proto: Proto, guest: &[u8]) -> Result<HostAddr, Errno> {
    let family = family(guest)?;
    if guest.len() < min_len(family) {
        return Err(libc::EINVAL);
    }
    let mut a = guest.to_vec();
    match policy.bind(proto, port_of(guest)) {
        super::policy::Bind::Unpublished => return Err(libc::EACCES),
        super::policy::Bind::Port { port, ip } => {
            set_port(&mut a, port);
            if let Some(ip) = ip {
                set_ip(&mut a, ip);
            }
        }
    }
    HostAddr::from_bytes(&a, None)
}

/// `a` (a host address as the guest sees it) with the IP of `bound`: the
/// address the guest bound where the publishing rule bound another one on
/// the host (`-p 127.0.0.1:…` for a guest bound to 0.0.0.0).
pub fn with_ip_of(a: &[u8], bound: &[u8]) -> Vec<u8> {
    let mut a = a.to_vec();
    if let Some(ip) = ip_of(bound) {
        set_ip(&mut a, ip);
    }
    a
}

/// A guest IP address to connect or send to: loopback reaches the guest's
/// own published ports at their host ports.
pub fn inet_peer(policy: &Policy, proto: Proto, guest: &[u8]) -> Result<HostAddr, Errno> {
    let mut a = guest.to_vec();
    if ip_of(guest).is_some_and(is_loopback) {
        set_port(&mut a, policy.loopback_port(proto, port_of(guest)));
    }
    HostAddr::from_bytes(&a, None)
}

/// A host IP address as the guest sees it: a published host port shows as
/// the guest port it publishes, on the socket's own side or (over loopback)
/// on its peer's.
pub fn inet_to_guest(policy: &Policy, proto: Proto, host: &[u8], own: bool) -> Vec<u8> {
    let mut a = host.to_vec();
    if own || ip_of(host).is_some_and(is_loopback) {
        set_port(&mut a, policy.guest_port(proto, port_of(host)));
    }
    a
}

/// The guest's socket path or abstract name in an `AF_UNIX` address.
pub enum UnixName<'a> {
    /// Only the family: unnamed (bind: autobind).
    Unnamed,
    Abstract(&'a [u8]),
    Path(&'a [u8]),
}

pub fn unix_name(guest: &[u8]) -> Result<UnixName<'_>, Errno> {
    if family(guest)? != libc::AF_UNIX {
        return Err(libc::EINVAL);
    }
    let path = guest.get(SUN_PATH_AT..).unwrap_or_default();
    if path.len() > SUN_PATH_MAX {
        return Err(libc::EINVAL);
    }
    Ok(match path {
        [] => UnixName::Unnamed,
        [0, name @ ..] => UnixName::Abstract(name),
        _ => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            UnixName::Path(path.get(..end).unwrap_or_default())
        }
    })
}

/// The guest's address as Linux reports it back (a path with its NUL).
pub fn unix_canonical(guest: &[u8]) -> Vec<u8> {
    match unix_name(guest) {
        Ok(UnixName::Path(p)) => {
            let mut a = guest.get(..SUN_PATH_AT).unwrap_or_default().to_vec();
            a.extend_from_slice(p);
            a.push(0);
            a
        }
        _ => guest.to_vec(),
    }
}

fn unix_addr(path: &[u8], pin: Option<OwnedFd>) -> Result<HostAddr, Errno> {
    if path.len() > SUN_PATH_MAX {
        return Err(libc::ENAMETOOLONG);
    }
    let mut a = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    a.extend_from_slice(path);
    HostAddr::from_bytes(&a, pin)
}

/// The host's name for a guest abstract name: the tree's prefix, so that the
/// guest neither reaches nor shadows the host's own abstract sockets. A
/// name too long to take the prefix (a whole `sockaddr_un` given as the
/// length: the name, then zeros up to 107 bytes) goes under the tree's
/// other prefix (`long_prefix`) with its trailing zeros counted in a last
/// byte instead of written out; every monitor of the tree reads it back.
pub fn abstract_addr(prefix: &[u8], name: &[u8]) -> Result<HostAddr, Errno> {
    let mut path = vec![0u8];
    if 1 + prefix.len() + name.len() <= SUN_PATH_MAX {
        path.extend_from_slice(prefix);
        path.extend_from_slice(name);
    } else {
        let kept = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let zeros = u8::try_from(name.len() - kept).map_err(|_| libc::EINVAL)?;
        path.extend_from_slice(&long_prefix(prefix));
        path.extend_from_slice(name.get(..kept).unwrap_or_default());
        path.push(zeros);
    }
    if path.len() > SUN_PATH_MAX {
        return Err(libc::EINVAL);
    }
    unix_addr(&path, None)
}

/// The prefix of the tree's long abstract names: its prefix (`hx<pid>.`)
/// with `~` for the final dot, so that no short name can look like one.
fn long_prefix(prefix: &[u8]) -> Vec<u8> {
    let mut p = prefix.to_vec();
    if let Some(last) = p.last_mut() {
        *last = b'~';
    }
    p
}

/// The host address to `bind` a socket at guest path `resolved` (absolute,
/// from the kernel), in a writable mount. With `direct` (Landlock confines
/// socket creation to the writable mounts, so a directory swapped for a
/// symlink meanwhile leads nowhere else) it is the host path, which peers
/// see and the monitor maps back to the guest path; else the name in the
/// monitor's directory handle, through `/proc/self/fd` (peers see no name).
/// Returns the directory handle too, which must stay open until the bind.
pub fn path_for_bind(sandbox: &Sandbox, resolved: &[u8], direct: bool) -> Result<(HostAddr, OwnedFd), Errno> {
    match sandbox.resolve(resolved, false)? {
        Resolved::Host { mount, parent, name: Some(name), guest, .. } => {
            if !sandbox.writable(mount) {
                return Err(libc::EROFS);
            }
            if direct {
                if let Some(host) = host_path(sandbox, mount, &guest).filter(|p| p.len() < SUN_PATH_MAX) {
                    return Ok((unix_addr(&host, None)?, parent));
                }
            }
            let mut path = format!("/proc/self/fd/{}/", parent.as_raw_fd()).into_bytes();
            path.extend_from_slice(name.to_bytes());
            Ok((unix_addr(&path, None)?, parent))
        }
        Resolved::Host { name: None, .. } | Resolved::Virtual { .. } => Err(libc::EADDRINUSE),
    }
}

/// The host path of guest path `guest` (resolved) in mount `mount`.
fn host_path(sandbox: &Sandbox, mount: usize, guest: &[u8]) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let m = sandbox.mounts().get(mount)?;
    let mut rest: Vec<&[u8]> = guest.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    for c in &m.guest {
        if rest.first() != Some(&c.as_slice()) {
            return None;
        }
        rest.remove(0);
    }
    let mut p = m.host.as_os_str().as_bytes().to_vec();
    for c in rest {
        p.push(b'/');
        p.extend_from_slice(c);
    }
    Some(p)
}

/// The guest path of host path `host`, if it lies in a mount.
fn guest_path(sandbox: &Sandbox, host: &[u8]) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let (m, rest) = sandbox
        .mounts()
        .iter()
        .filter_map(|m| {
            let rest = host.strip_prefix(m.host.as_os_str().as_bytes())?;
            (rest.is_empty() || rest.first() == Some(&b'/')).then_some((m, rest))
        })
        .max_by_key(|(m, _)| m.host.as_os_str().len())?;
    let mut g: Vec<u8> = Vec::new();
    for c in &m.guest {
        g.push(b'/');
        g.extend_from_slice(c);
    }
    g.extend_from_slice(rest);
    if g.is_empty() {
        g.push(b'/');
    }
    Some(g)
}

/// The host address to reach the socket at guest path `resolved`: only a
/// socket file in a writable mount (the guest's own, or one the user shared
/// on purpose); the host's sockets in read-only mounts stay out of reach.
pub fn path_for_connect(sandbox: &Sandbox, resolved: &[u8]) -> Result<HostAddr, Errno> {
    let Resolved::Host { mount, parent, name: Some(name), .. } = sandbox.resolve(resolved, true)? else {
        return Err(libc::ECONNREFUSED);
    };
    // SAFETY: openat O_PATH of one name in a directory we hold, not following a symlink.
    let fd =
        unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::ENOENT));
    }
    // SAFETY: `fd` was just returned by openat and is ours.
    let pin = unsafe { OwnedFd::from_raw_fd(fd) };
    if crate::sandbox::fstat_fd(pin.as_raw_fd())?.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(libc::ECONNREFUSED);
    }
    if !sandbox.writable(mount) {
        return Err(libc::EACCES);
    }
    let path = format!("/proc/self/fd/{}", pin.as_raw_fd()).into_bytes();
    unix_addr(&path, Some(pin))
}

/// A host `AF_UNIX` address as the guest sees it: the tree's abstract names
/// without their prefix; a host path inside a mount as its guest path; any
/// other path (a `/proc/self/fd` name, the host's own) as unnamed.
pub fn unix_to_guest(prefix: &[u8], host: &[u8], sandbox: Option<&Sandbox>) -> Vec<u8> {
    let family = host.get(..SUN_PATH_AT).unwrap_or_default();
    match host.get(SUN_PATH_AT..) {
        Some([0, rest @ ..]) => match (rest.strip_prefix(prefix), rest.strip_prefix(&long_prefix(prefix)[..])) {
            (Some(name), _) => [family, &[0], name].concat(),
            (None, Some([core @ .., zeros])) => [family, &[0], core, &vec![0; usize::from(*zeros)]].concat(),
            _ => host.to_vec(),
        },
        Some(path) if path.first() == Some(&b'/') => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            match sandbox.and_then(|sb| guest_path(sb, path.get(..end).unwrap_or_default())) {
                Some(g) if !g.starts_with(b"/proc/") => [family, &g, &[0]].concat(),
                _ => family.to_vec(),
            }
        }
        _ => family.to_vec(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn inet(ip: [u8; 4], port: u16) -> Vec<u8> {
        let mut a = (libc::AF_INET as u16).to_ne_bytes().to_vec();
        a.extend_from_slice(&port.to_be_bytes());
        a.extend_from_slice(&ip);
        a.extend_from_slice(&[0; 8]);
        a
    }

    #[test]
    fn ports_translate_only_where_published() {
        let policy = Policy { mode: super::super::policy::Mode::Default, published: vec!["8080:80".parse().unwrap()] };
        let bound = inet_bind(&policy, Proto::Tcp, &inet([0, 0, 0, 0], 80)).unwrap();
        assert_eq!(bound.raw.ss_family as i32, libc::AF_INET);
        assert_eq!(inet_bind(&policy, Proto::Tcp, &inet([0, 0, 0, 0], 81)).err(), Some(libc::EACCES));
        let back = inet_to_guest(&policy, Proto::Tcp, &inet([0, 0, 0, 0], 8080), true);
        assert_eq!(port_of(&back), 80);
        let outside = inet_to_guest(&policy, Proto::Tcp, &inet([10, 0, 0, 1], 8080), false);
        assert_eq!(port_of(&outside), 8080);
        let HostAddr { raw, .. } = inet_peer(&policy, Proto::Tcp, &inet([127, 0, 0, 1], 80)).unwrap();
        // SAFETY: an AF_INET address in the storage.
        let sin: libc::sockaddr_in = unsafe { std::mem::transmute_copy(&raw) };
        assert_eq!(u16::from_be(sin.sin_port), 8080);
    }

    #[test]
    fn long_abstract_names_come_back_whole() {
        let mut name = b"long".to_vec();
        name.resize(107, 0);
        let a = abstract_addr(b"hx1.", &name).unwrap();
        let bytes = a.bytes();
        let back = unix_to_guest(b"hx1.", bytes, None);
        assert_eq!(&back[SUN_PATH_AT..], &[&[0u8][..], &name].concat()[..]);
        let full = [b'x'; 107];
        assert_eq!(abstract_addr(b"hx1.", &full).err(), Some(libc::EINVAL));
    }

    #[test]
    fn abstract_names_carry_the_tree_prefix_both_ways() {
        let a = abstract_addr(b"hx1.", b"name").unwrap();
        assert_eq!(a.len as usize, 2 + 1 + 4 + 4);
        let mut host = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        host.extend_from_slice(b"\0hx1.name");
        let guest = unix_to_guest(b"hx1.", &host, None);
        assert_eq!(&guest[2..], b"\0name");
        let mut path = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        path.extend_from_slice(b"/proc/self/fd/7/s\0");
        assert_eq!(unix_to_guest(b"hx1.", &path, None).len(), 2);
    }
}
