//! Sockets: the guest's socket calls served on host sockets the monitor holds
//! as handles, under the network policy (`policy`). Every address, option,
//! flag and passed descriptor is checked here; a host socket is only ever
//! created, bound, connected or configured by these functions.
//!
//! Calls that may block (connect, accept, send, receive) are checked under
//! the monitor's lock, run without it (`Blocking::run`), and their results
//! are installed under it again (`Blocking::finish`).
mod addr;
pub mod interfaces;
mod options;
pub mod policy;

use super::files::{sys, Files};
use super::guest::Segs;
use super::handles::{Handle, SocketNames};
use crate::memory::GuestRam;
use crate::sandbox::Errno;
use addr::{HostAddr, UnixName};
use hx_abi::hypercall::*;
use policy::{Policy, Proto};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Send and receive flags the guest may use (the rest are refused with EINVAL).
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT
    | libc::MSG_NOSIGNAL
    | libc::MSG_MORE
    | libc::MSG_OOB
    | libc::MSG_EOR
    | libc::MSG_CONFIRM
    | libc::MSG_DONTROUTE;
/// `MSG_ERRQUEUE` reads the socket's error queue, never waiting (`EAGAIN` when empty).
const RECV_FLAGS: i32 =
    libc::MSG_DONTWAIT | libc::MSG_PEEK | libc::MSG_WAITALL | libc::MSG_TRUNC | libc::MSG_OOB | libc::MSG_ERRQUEUE;
/// Segment layout of `NET_SEND` / `NET_RECV`.
const SEG_ADDR: usize = 0;
const SEG_PATH: usize = 1;
const SEG_SEND_HANDLES: usize = 2;
const SEG_SEND_DATA: usize = 3;
const SEG_RECV_HANDLES: usize = 1;
const SEG_RECV_DATA: usize = 2;

pub struct Net {
    pub policy: Policy,
    /// Put before the guest's abstract socket names: the host's abstract
    /// namespace is shared with every host process, the guest sees only its tree's.
    abstract_prefix: Vec<u8>,
    /// Why a call was refused, for the user (the caller prints it once).
    pub hint: Option<String>,
    /// Socket paths are bound by their host path (Landlock confines socket
    /// creation to the writable mounts): peers then see a name.
    pub direct_paths: bool,
    /// The interfaces netlink route dumps list (`interfaces::snapshot`).
    interfaces: Vec<u8>,
}

impl Default for Net {
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

impl Net {
    pub fn new(policy: Policy) -> Self {
        // SAFETY: getpid cannot fail. (Forked monitors inherit the prefix: one per tree.)
        let pid = unsafe { libc::getpid() };
        let interfaces = interfaces::snapshot(policy.mode);
        Self { policy, abstract_prefix: format!("hx{pid}.").into_bytes(), hint: None, direct_paths: false, interfaces }
    }
}

fn errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful host call and is ours.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// An `int` socket option of a host socket.
fn int_option(fd: i32, level: i32, name: i32) -> Result<i32, Errno> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`.
    sys(|| unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut i32).cast(), &mut len) } as isize)?;
    Ok(v)
}

fn proto_of(fd: i32) -> Proto {
    if int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE) == Ok(libc::SOCK_DGRAM) {
        Proto::Udp
    } else {
        Proto::Tcp
    }
}

/// The host socket's own or peer address (`sockaddr` bytes).
fn host_name(fd: i32, peer: bool) -> Result<Vec<u8>, Errno> {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut raw: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of_val(&raw) as libc::socklen_t;
    let p = (&mut raw as *mut libc::sockaddr_storage).cast();
    // SAFETY: the call writes at most `len` bytes into `raw`.
    sys(|| unsafe {
        if peer {
            libc::getpeername(fd, p, &mut len)
        } else {
            libc::getsockname(fd, p, &mut len)
        }
    } as isize)?;
    Ok(storage_bytes(&raw, len))
}

fn storage_bytes(raw: &libc::sockaddr_storage, len: libc::socklen_t) -> Vec<u8> {
    let len = (len as usize).min(std::mem::size_of_val(raw));
    // SAFETY: views the first `len` bytes of the storage.
    unsafe { std::slice::from_raw_parts((raw as *const libc::sockaddr_storage).cast::<u8>(), len) }.to_vec()
}

/// A blocking socket call, checked and ready to run without the monitor's lock.
pub enum Blocking {
    Connect { handle: u64, fd: Arc<OwnedFd>, to: HostAddr, guest: Vec<u8> },
    Accept { handle: u64, fd: Arc<OwnedFd>, flags: i32, got: Option<(OwnedFd, Vec<u8>)> },
    Send { fd: Arc<OwnedFd>, flags: i32, to: Option<HostAddr>, passed: Vec<Arc<OwnedFd>>, iovs: Vec<libc::iovec> },
    Recv { fd: Arc<OwnedFd>, flags: i32, max_fds: usize, iovs: Vec<libc::iovec>, got: Option<Received> },
}

/// What a receive brought besides the data.
pub struct Received {
    from: Vec<u8>,
    fds: Vec<OwnedFd>,
    msg_flags: i32,
}

impl Net {
    /// Serves a `NET` request that cannot block.
    pub fn serve(files: &mut Files, req: &mut Request, segs: &Segs) -> Result<i64, Errno> {
        let a = req.args;
        match a[0] {
            NET_SOCKET => Self::socket(files, a[1], a[2], a[3]),
            NET_SOCKETPAIR => Self::socketpair(files, req),
            NET_BIND => Self::bind(files, a[1], segs),
            NET_LISTEN => Self::listen(files, a[1], a[2]),
            NET_SHUTDOWN => {
                let fd = socket_fd(files, a[1])?;
                let how = i32::try_from(a[2]).map_err(|_| libc::EINVAL)?;
                // SAFETY: shutdown of a socket we hold.
                sys(|| unsafe { libc::shutdown(fd.as_raw_fd(), how) } as isize)
            }
            NET_NAME => Self::name(files, a[1], a[2] != 0, segs),
            NET_INTERFACES => {
                let all = &files.net.interfaces;
                match segs.get(0) {
                    Some(s) if usize::try_from(s.len).unwrap_or(usize::MAX) >= all.len() => {
                        segs.write(0, all)?;
                        Ok(all.len() as i64)
                    }
                    _ => Err(libc::ERANGE),
                }
            }
            NET_GETOPT => Self::getopt(files, a[1], a[2], a[3], segs),
            NET_SETOPT => Self::setopt(files, a[1], a[2], a[3], segs),
            _ => Err(libc::EINVAL),
        }
    }

    /// Checks a `NET` request that may block; `None` for one that cannot.
    pub fn prepare(files: &Files, req: &Request, segs: &Segs) -> Option<Result<Blocking, Errno>> {
        let a = req.args;
        match a[0] {
            NET_CONNECT => Some(Self::prepare_connect(files, a[1], segs)),
            NET_ACCEPT => Some(Self::prepare_accept(files, a[1], a[2])),
            NET_SEND => Some(Self::prepare_send(files, a[1], a[2], segs)),
            NET_RECV => Some(Self::prepare_recv(files, a[1], a[2], a[3], segs)),
            _ => None,
        }
    }

    fn socket(files: &mut Files, domain: u64, ty: u64, protocol: u64) -> Result<i64, Errno> {
        let (domain, ty, protocol) = checked_kind(&files.net.policy, domain, ty, protocol)?;
        files.handles.room()?;
        // SAFETY: a new host socket of a checked family, type and protocol.
        let fd = owned(sys(|| unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) } as isize)?);
        files.handles.insert(Handle::Socket { fd: Arc::new(fd), names: SocketNames::default() }).map(|h| h as i64)
    }

    fn socketpair(files: &mut Files, req: &mut Request) -> Result<i64, Errno> {
        // The family, type and protocol are checked as for `socket` first
        // (Linux makes the sockets, then finds their protocol has no pairs).
        let (domain, ty, protocol) = checked_kind(&files.net.policy, req.args[1], req.args[2], req.args[3])?;
        if domain != libc::AF_UNIX {
            return Err(libc::EOPNOTSUPP);
        }
        files.handles.room()?;
        let mut fds = [0i32; 2];
        // SAFETY: socketpair writes two descriptors into the array we own.
        sys(|| unsafe { libc::socketpair(domain, ty | libc::SOCK_CLOEXEC, protocol, fds.as_mut_ptr()) } as isize)?;
        let [x, y] = fds.map(|fd| Arc::new(owned(fd as i64)));
        let first = files.handles.insert(Handle::Socket { fd: x, names: SocketNames::default() })?;
        match files.handles.insert(Handle::Socket { fd: y, names: SocketNames::default() }) {
            Ok(second) => {
                req.args[1] = first;
                req.args[2] = second;
                Ok(0)
            }
            Err(e) => {
                let _ = files.handles.close(first);
                Err(e)
            }
        }
    }

    fn bind(files: &mut Files, handle: u64, segs: &Segs) -> Result<i64, Errno> {
        let fd = socket_fd(files, handle)?;
        let guest = segs.bytes(SEG_ADDR, MAX_SOCKADDR, libc::EINVAL)?;
        let domain = int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_DOMAIN)?;
        let net = &mut files.net;
        let (to, _dir) = match domain {
            libc::AF_UNIX => match addr::unix_name(&guest)? {
                UnixName::Unnamed => (addr::abstract_addr(&net.abstract_prefix, &autobind_name())?, None),
                UnixName::Abstract(name) => (addr::abstract_addr(&net.abstract_prefix, name)?, None),
                UnixName::Path(_) => {
                    let path = segs.path(SEG_PATH)?;
                    let (to, dir) = addr::path_for_bind(&files.sandbox, &path, net.direct_paths)?;
                    (to, Some(dir))
                }
            },
            _ => {
                if addr::family(&guest)? != domain {
                    return Err(libc::EAFNOSUPPORT);
                }
                let proto = proto_of(fd.as_raw_fd());
                match addr::inet_bind(&net.policy, proto, &guest) {
                    Err(libc::EACCES) => {
                        net.hint = Some(unpublished_hint(&guest, proto));
                        return Err(libc::EACCES);
                    }
                    r => (r?, None),
                }
            }
        };
        // SAFETY: bind of a socket we hold to a checked address.
        sys(|| unsafe { libc::bind(fd.as_raw_fd(), to.ptr(), to.len) } as isize)?;
        let own = if domain == libc::AF_UNIX {
            matches!(addr::unix_name(&guest)?, UnixName::Path(_)).then(|| addr::unix_canonical(&guest))
        } else {
            // The guest's own IP where the host socket got the published one.
            (addr::ip_of(&guest) != addr::ip_of(to.bytes())).then(|| guest.clone())
        };
        if let Ok(Handle::Socket { names, .. }) = files.handles.get_mut(handle) {
            names.own = own;
        }
        Ok(0)
    }

    fn listen(files: &mut Files, handle: u64, backlog: u64) -> Result<i64, Errno> {
        let fd = socket_fd(files, handle)?;
        let fd = fd.as_raw_fd();
        let domain = int_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
        // A datagram socket cannot listen (EOPNOTSUPP), whatever the policy says.
        let kind = int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
        if domain != libc::AF_UNIX && kind == libc::SOCK_STREAM {
            let own = host_name(fd, false)?;
            let ip = addr::ip_of(&own).ok_or(libc::EINVAL)?;
            let port = u16::from_be_bytes([own.get(2).copied().unwrap_or(0), own.get(3).copied().unwrap_or(0)]);
            // Unbound, the host would pick an ephemeral port on every address.
            let ip = if port == 0 { std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) } else { ip };
            if !files.net.policy.may_listen(ip, port) {
                files.net.hint = Some(format!(
                    "the guest's listen() on {ip} port {port} was refused (EACCES): publish a port with -p HOST_PORT:GUEST_PORT, or use --net host"
                ));
                return Err(libc::EACCES);
            }
        }
        let backlog = i32::try_from(backlog.min(i32::MAX as u64)).unwrap_or(i32::MAX);
        // SAFETY: listen on a socket we hold.
        sys(|| unsafe { libc::listen(fd, backlog) } as isize)
    }

    fn name(files: &Files, handle: u64, peer: bool, segs: &Segs) -> Result<i64, Errno> {
        let Handle::Socket { fd, names } = files.handles.get(handle)? else { return Err(libc::ENOTSOCK) };
        let fd = fd.as_raw_fd();
        let host = host_name(fd, peer)?;
        let known = if peer { &names.peer } else { &names.own };
        let guest = match addr::family(&host)? {
            libc::AF_UNIX => known
                .clone()
                .unwrap_or_else(|| addr::unix_to_guest(&files.net.abstract_prefix, &host, Some(&files.sandbox))),
            libc::AF_INET | libc::AF_INET6 => {
                let a = addr::inet_to_guest(&files.net.policy, proto_of(fd), &host, !peer);
                match known.as_deref().filter(|_| !peer) {
                    Some(bound) => addr::with_ip_of(&a, bound),
                    None => a,
                }
            }
            _ => host,
        };
        segs.write(0, &guest)?;
        Ok(guest.len() as i64)
    }

    fn getopt(files: &Files, handle: u64, level: u64, name: u64, segs: &Segs) -> Result<i64, Errno> {
        let fd = socket_fd(files, handle)?;
        let (level, name) = option_id(level, name)?;
        if !options::may_get(level, name) {
            return Err(refusal_errno(fd.as_raw_fd(), level, name));
        }
        let mut value = [0u8; options::MAX_VALUE];
        let want = segs.get(0).map_or(0, |s| s.len).min(options::MAX_VALUE as u64);
        let mut len = want as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `value`.
        sys(|| unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, value.as_mut_ptr().cast(), &mut len) } as isize)?;
        if (level, name) == (libc::SOL_SOCKET, libc::SO_PEERCRED) {
            options::peer_as_guest(&mut value);
        }
        segs.write(0, value.get(..len as usize).ok_or(libc::EINVAL)?)?;
        Ok(i64::from(len))
    }

    fn setopt(files: &Files, handle: u64, level: u64, name: u64, segs: &Segs) -> Result<i64, Errno> {
        let fd = socket_fd(files, handle)?;
        let (level, name) = option_id(level, name)?;
        // Linux's setsockopt answers ENOPROTOOPT for a level it does not
        // know too (its getsockopt says EOPNOTSUPP, see `refusal_errno`).
        if !options::may_set(level, name) {
            return Err(libc::ENOPROTOOPT);
        }
        let value = segs.bytes(0, options::MAX_VALUE, libc::EINVAL)?;
        // SAFETY: setsockopt reads `value.len()` bytes from `value`.
        sys(|| unsafe {
            libc::setsockopt(fd.as_raw_fd(), level, name, value.as_ptr().cast(), value.len() as libc::socklen_t)
        } as isize)
    }

    /// The host address a guest address names, for a connect or a send.
    fn peer_addr(files: &Files, fd: i32, guest: &[u8], segs: &Segs) -> Result<HostAddr, Errno> {
        let domain = int_option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
        let family = addr::family(guest)?;
        match domain {
            libc::AF_UNIX => match addr::unix_name(guest)? {
                UnixName::Unnamed => Err(libc::EINVAL),
                UnixName::Abstract(name) => addr::abstract_addr(&files.net.abstract_prefix, name),
                UnixName::Path(_) => addr::path_for_connect(&files.sandbox, &segs.path(SEG_PATH)?),
            },
            _ if family == libc::AF_UNSPEC => addr::inet_peer(&files.net.policy, Proto::Tcp, guest),
            _ => addr::inet_peer(&files.net.policy, proto_of(fd), guest),
        }
    }

    fn prepare_connect(files: &Files, handle: u64, segs: &Segs) -> Result<Blocking, Errno> {
        let fd = socket_fd(files, handle)?;
        let guest = segs.bytes(SEG_ADDR, MAX_SOCKADDR, libc::EINVAL)?;
        let to = Self::peer_addr(files, fd.as_raw_fd(), &guest, segs)?;
        Ok(Blocking::Connect { handle, fd, to, guest: addr::unix_canonical(&guest) })
    }

    fn prepare_accept(files: &Files, handle: u64, flags: u64) -> Result<Blocking, Errno> {
        let fd = socket_fd(files, handle)?;
        if flags & !(libc::SOCK_NONBLOCK as u64) != 0 {
            return Err(libc::EINVAL);
        }
        files.handles.room()?;
        Ok(Blocking::Accept { handle, fd, flags: flags as i32, got: None })
    }

    fn prepare_send(files: &Files, handle: u64, flags: u64, segs: &Segs) -> Result<Blocking, Errno> {
        let fd = socket_fd(files, handle)?;
        let flags = i32::try_from(flags).ok().filter(|f| f & !SEND_FLAGS == 0).ok_or(libc::EINVAL)?;
        let to = match segs.get(SEG_ADDR).map_or(0, |s| s.len) {
            0 => None,
            _ => {
                let guest = segs.bytes(SEG_ADDR, MAX_SOCKADDR, libc::EINVAL)?;
                Some(Self::peer_addr(files, fd.as_raw_fd(), &guest, segs)?)
            }
        };
        let raw = segs.bytes(SEG_SEND_HANDLES, MAX_PASSED_FDS * 8, libc::ETOOMANYREFS)?;
        let passed = raw
            .chunks_exact(8)
            .map(|c| {
                files.handles.shared_fd(u64::from_le_bytes(c.try_into().unwrap_or_default())).map_err(|_| libc::EBADF)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let iovs = data_iovecs(segs, SEG_SEND_DATA)?;
        Ok(Blocking::Send { fd, flags, to, passed, iovs })
    }

    fn prepare_recv(files: &Files, handle: u64, flags: u64, max_fds: u64, segs: &Segs) -> Result<Blocking, Errno> {
        let fd = socket_fd(files, handle)?;
        let flags = i32::try_from(flags).ok().filter(|f| f & !RECV_FLAGS == 0).ok_or(libc::EINVAL)?;
        let max_fds = usize::try_from(max_fds).unwrap_or(usize::MAX).min(MAX_PASSED_FDS);
        let iovs = data_iovecs(segs, SEG_RECV_DATA)?;
        Ok(Blocking::Recv { fd, flags, max_fds, iovs, got: None })
    }
}

/// The guest's socket family, type and protocol, if hx serves them.
fn checked_kind(policy: &Policy, domain: u64, ty: u64, protocol: u64) -> Result<(i32, i32, i32), Errno> {
    let domain = i32::try_from(domain).map_err(|_| libc::EAFNOSUPPORT)?;
    policy.allows_family(domain)?;
    let ty = i32::try_from(ty).map_err(|_| libc::EINVAL)?;
    let (base, flags) = (ty & 0xf, ty & !0xf);
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(libc::EINVAL);
    }
    let protocol = i32::try_from(protocol).map_err(|_| libc::EPROTONOSUPPORT)?;
    let ok = match (domain, base) {
        (libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET) => {
            protocol == 0 || protocol == libc::PF_UNIX
        }
        (_, libc::SOCK_STREAM) => protocol == 0 || protocol == libc::IPPROTO_TCP,
        (_, libc::SOCK_DGRAM) => protocol == 0 || protocol == libc::IPPROTO_UDP,
        // A raw socket names its protocol (Linux: EPROTONOSUPPORT without
        // one); with one (type 3, and the obsolete SOCK_PACKET, 10) it needs
        // privileges the guest has not.
        (_, libc::SOCK_RAW) if protocol == 0 => return Err(libc::EPROTONOSUPPORT),
        (_, libc::SOCK_RAW | 10) => return Err(libc::EPERM),
        (_, libc::SOCK_SEQPACKET | libc::SOCK_RDM) => return Err(libc::ESOCKTNOSUPPORT),
        _ => return Err(libc::EINVAL),
    };
    if !ok {
        return Err(libc::EPROTONOSUPPORT);
    }
    Ok((domain, base | (flags & libc::SOCK_NONBLOCK), protocol))
}

/// The host socket behind `handle`: `ENOTSOCK` for another file.
fn socket_fd(files: &Files, handle: u64) -> Result<Arc<OwnedFd>, Errno> {
    match files.handles.get(handle)? {
        Handle::Socket { fd, .. } => Ok(fd.clone()),
        _ => Err(libc::ENOTSOCK),
    }
}

/// The errno for an option the guest may not read: the host's own error for
/// the pair when it has one (a level the socket's protocol does not know is
/// EOPNOTSUPP, as Linux's getsockopt says), else ENOPROTOOPT. Only a
/// `getsockopt` into a scratch buffer: nothing of the host's answer but
/// the errno reaches the guest.
fn refusal_errno(fd: i32, level: i32, name: i32) -> Errno {
    let mut scratch = [0u8; options::MAX_VALUE];
    let mut len = scratch.len() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into our scratch buffer.
    let r = unsafe { libc::getsockopt(fd, level, name, scratch.as_mut_ptr().cast(), &mut len) };
    match std::io::Error::last_os_error().raw_os_error() {
        Some(e) if r < 0 && e == libc::EOPNOTSUPP => e,
        _ => libc::ENOPROTOOPT,
    }
}

fn option_id(level: u64, name: u64) -> Result<(i32, i32), Errno> {
    let level = i32::try_from(level).map_err(|_| libc::ENOPROTOOPT)?;
    let name = i32::try_from(name).map_err(|_| libc::ENOPROTOOPT)?;
    Ok((level, name))
}

/// Host iovecs over the data segments from `first` on.
fn data_iovecs(segs: &Segs, first: usize) -> Result<Vec<libc::iovec>, Errno> {
    let data = segs.all().get(first..).unwrap_or_default();
    segs.mem().iovecs(data).map_err(|_| libc::EFAULT)
}

/// A fresh abstract name for a socket bound without one (Linux: five hex digits).
fn autobind_name() -> Vec<u8> {
    let mut b = [0u8; 4];
    // SAFETY: getrandom writes at most 4 bytes into `b`.
    unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    format!("{:05x}", u32::from_ne_bytes(b) & 0xfffff).into_bytes()
}

fn unpublished_hint(guest: &[u8], proto: Proto) -> String {
    let port = u16::from_be_bytes([guest.get(2).copied().unwrap_or(0), guest.get(3).copied().unwrap_or(0)]);
    let udp = if proto == Proto::Udp { "/udp" } else { "" };
    format!("the guest's bind() to port {port}{udp} was refused (EACCES): publish it with -p HOST_PORT:{port}{udp}, or use --net host")
}

impl Blocking {
    /// Runs the call without the monitor's lock.
    pub fn run(&mut self) -> Result<i64, Errno> {
        match self {
            Blocking::Connect { fd, to, .. } => {
                // A socket file must be writable by the guest's ids.
                let _as_guest = super::identity::act_as_guest(false);
                // SAFETY: connect of a socket we hold to a checked address.
                let r = unsafe { libc::connect(fd.as_raw_fd(), to.ptr(), to.len) };
                if r == 0 {
                    return Ok(0);
                }
                let e = errno();
                if e != libc::EINTR || crate::signals::interrupted() {
                    return Err(e);
                }
                // The monitor's own wake-up signal (not the guest's) cut the
                // wait short; the connection goes on in the background (a
                // second connect would say EALREADY): wait for its outcome.
                let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
                // SAFETY: poll on one descriptor we hold.
                sys(|| unsafe { libc::poll(&mut p, 1, -1) } as isize)?;
                match int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ERROR)? {
                    0 => Ok(0),
                    err => Err(err),
                }
            }
            Blocking::Accept { fd, flags, got, .. } => {
                // SAFETY: an all-zero sockaddr_storage is valid.
                let mut raw: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of_val(&raw) as libc::socklen_t;
                let p = (&mut raw as *mut libc::sockaddr_storage).cast();
                // SAFETY: accept4 writes at most `len` bytes into `raw`.
                let new = sys(
                    || unsafe { libc::accept4(fd.as_raw_fd(), p, &mut len, *flags | libc::SOCK_CLOEXEC) } as isize
                )?;
                *got = Some((owned(new), storage_bytes(&raw, len)));
                Ok(0)
            }
            Blocking::Send { fd, flags, to, passed, iovs } => {
                // SAFETY: an all-zero msghdr is valid.
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                if let Some(to) = to {
                    msg.msg_name = to.ptr() as *mut libc::c_void;
                    msg.msg_namelen = to.len;
                }
                msg.msg_iov = iovs.as_mut_ptr();
                msg.msg_iovlen = iovs.len();
                let mut control = crate::fdpass::rights(&passed.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>());
                if !control.is_empty() {
                    msg.msg_control = control.as_mut_ptr().cast();
                    msg.msg_controllen = control.len() * 8;
                }
                // MSG_NOSIGNAL: a closed peer is the guest's EPIPE (its kernel raises SIGPIPE), never the monitor's.
                let flags = *flags | libc::MSG_NOSIGNAL;
                // SAFETY: the iovecs point into guest RAM (checked by `Segs`), the
                // name and control buffers live until the call returns.
                sys(|| unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) })
            }
            Blocking::Recv { fd, flags, max_fds, iovs, got } => {
                // SAFETY: an all-zero msghdr and sockaddr_storage are valid.
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                let mut raw: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
                msg.msg_name = (&mut raw as *mut libc::sockaddr_storage).cast();
                msg.msg_namelen = std::mem::size_of_val(&raw) as libc::socklen_t;
                msg.msg_iov = iovs.as_mut_ptr();
                msg.msg_iovlen = iovs.len();
                // Room for the descriptors the guest accepts (at least one
                // cmsg, so that any passed to it are closed here, not leaked).
                let mut control = crate::fdpass::room((*max_fds).max(1));
                msg.msg_control = control.as_mut_ptr().cast();
                msg.msg_controllen = control.len() * 8;
                let flags = *flags | libc::MSG_CMSG_CLOEXEC;
                // SAFETY: the iovecs point into guest RAM (checked by `Segs`); the
                // name and control buffers are ours and sized in `msg`.
                let n = sys(|| unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;
                let fds = crate::fdpass::received(&msg);
                *got = Some(Received { from: storage_bytes(&raw, msg.msg_namelen), fds, msg_flags: msg.msg_flags });
                Ok(n)
            }
        }
    }

    /// Installs what the call brought (new handles, names) under the
    /// monitor's lock and fills in the request.
    pub fn finish(self, files: &mut Files, mem: &GuestRam, req: &mut Request, ret: i64) -> i64 {
        match self {
            Blocking::Connect { handle, fd, guest, .. } => {
                if ret == 0 || ret == -(libc::EINPROGRESS as i64) {
                    if let Ok(Handle::Socket { fd: held, names }) = files.handles.get_mut(handle) {
                        if Arc::ptr_eq(held, &fd) && addr::family(&guest) == Ok(libc::AF_UNIX) {
                            names.peer = Some(guest);
                        }
                    }
                }
                ret
            }
            Blocking::Accept { handle, got: Some((new, from)), .. } => {
                // A path the listener was bound to names the accepted socket
                // too; an IP socket's own address is its connection's.
                let own = match files.handles.get(handle) {
                    Ok(Handle::Socket { names, .. }) => {
                        names.own.clone().filter(|o| addr::family(o) == Ok(libc::AF_UNIX))
                    }
                    _ => None,
                };
                let guest_from = to_guest(files, new.as_raw_fd(), &from, true);
                let Ok(h) =
                    files.handles.insert(Handle::Socket { fd: Arc::new(new), names: SocketNames { own, peer: None } })
                else {
                    return -(libc::EMFILE as i64);
                };
                req.args[3] = write_seg(mem, req, SEG_ADDR, &guest_from) as u64;
                h as i64
            }
            Blocking::Recv { fd, got: Some(got), max_fds, .. } => {
                let from =
                    if got.from.is_empty() { Vec::new() } else { to_guest(files, fd.as_raw_fd(), &got.from, true) };
                req.args[4] = write_seg(mem, req, SEG_ADDR, &from) as u64;
                // Linux reports MSG_CMSG_CLOEXEC back; it was the monitor's, not the guest's.
                let mut flags = got.msg_flags & !libc::MSG_CMSG_CLOEXEC;
                let mut handles = Vec::new();
                for f in got.fds {
                    if handles.len() >= max_fds {
                        flags |= libc::MSG_CTRUNC;
                        continue;
                    }
                    let is_socket = crate::sandbox::fstat_fd(f.as_raw_fd())
                        .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFSOCK);
                    let fd = Arc::new(f);
                    let handle = if is_socket {
                        Handle::Socket { fd, names: SocketNames::default() }
                    } else {
                        // Passed files keep their metadata out of reach (as a standard stream's).
                        Handle::Host { fd, metadata: false }
                    };
                    match files.handles.insert(handle) {
                        Ok(h) => handles.push(h),
                        Err(_) => flags |= libc::MSG_CTRUNC,
                    }
                }
                let bytes: Vec<u8> = handles.iter().flat_map(|h| h.to_le_bytes()).collect();
                write_seg(mem, req, SEG_RECV_HANDLES, &bytes);
                req.args[5] = flags as u32 as u64;
                req.args[6] = handles.len() as u64;
                ret
            }
            Blocking::Send { fd, .. } => {
                // Linux raises SIGPIPE for a closed peer of a stream socket only.
                let stream = int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_TYPE) == Ok(libc::SOCK_STREAM);
                req.args[3] = u64::from(ret == -(libc::EPIPE as i64) && stream);
                ret
            }
            Blocking::Accept { .. } | Blocking::Recv { .. } => ret,
        }
    }
}

/// A peer's host address as the guest sees it.
fn to_guest(files: &Files, fd: i32, host: &[u8], peer: bool) -> Vec<u8> {
    match addr::family(host) {
        Ok(libc::AF_UNIX) => addr::unix_to_guest(&files.net.abstract_prefix, host, Some(&files.sandbox)),
        Ok(libc::AF_INET | libc::AF_INET6) => addr::inet_to_guest(&files.net.policy, proto_of(fd), host, !peer),
        _ => host.to_vec(),
    }
}

/// Copies `bytes` into segment `i` of `req` (cut to its length); returns the full length.
fn write_seg(mem: &GuestRam, req: &Request, i: usize, bytes: &[u8]) -> usize {
    if let Some(s) = req.segs.get(i).filter(|_| i < req.nsegs as usize) {
        let n = bytes.len().min(usize::try_from(s.len).unwrap_or(0));
        if let Some(part) = bytes.get(..n) {
            let _ = mem.write(s.phys, part);
        }
    }
    bytes.len()
}
