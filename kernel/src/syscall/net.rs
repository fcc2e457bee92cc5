//! Sockets. Every socket is a host socket the monitor holds (a `Kind::Host`
//! file here), so reads, writes, polling, `fork` and `execve` treat it as
//! any host file; the calls below carry addresses, options and passed
//! descriptors to the monitor, which applies the network policy.
use super::{netlink, Args};
use crate::errno::{Errno, SysResult, EBADF, EFAULT, EINVAL, ENOTSOCK, EPIPE};
use crate::fs::{path, table, Kind, OpenFile, O_NONBLOCK, O_RDWR};
use crate::{host, mm};
use alloc::sync::Arc;
use alloc::vec::Vec;
use hx_abi::hypercall::*;

const SOCK_NONBLOCK: u64 = 0o4000;
const SOCK_CLOEXEC: u64 = 0o2000000;
const AF_UNIX: u16 = 1;
const SOL_SOCKET: i32 = 1;
const SCM_RIGHTS: i32 = 1;
const MSG_CMSG_CLOEXEC: u64 = 0x4000_0000;
const MSG_NOSIGNAL: u64 = 0x4000;
const MSG_DONTWAIT: u64 = 0x40;
const MSG_WAITFORONE: u64 = 0x10000;
const SIGPIPE: u32 = 13;
/// Largest message that goes through a kernel buffer when the program's
/// buffers are in more pieces than one request carries.
const BOUNCE_MAX: usize = 256 * 1024;
/// `sizeof(struct cmsghdr)`, and an option value's largest size.
const CMSG_HDR: usize = 16;
const MAX_OPTION: usize = 256;

/// The monitor's handle for socket `fd`.
fn handle(fd: u64) -> Result<u64, Errno> {
    Ok(handle_via(fd, 0)?.0)
}

/// The handle for socket `fd`, and how a call on it that may wait travels:
/// through the ring only if it cannot wait (`O_NONBLOCK`, `MSG_DONTWAIT`).
fn handle_via(fd: u64, flags: u64) -> Result<(u64, host::Via), Errno> {
    let file = table::get(fd)?;
    file.usable()?;
    match file.kind {
        // Reading the error queue never waits either (EAGAIN when it is empty).
        Kind::Host(h) if flags & (MSG_DONTWAIT | MSG_ERRQUEUE) != 0 => Ok((h, host::Via::Any)),
        Kind::Host(h) => Ok((h, super::fs::via(&file))),
        _ => Err(ENOTSOCK),
    }
}

fn request(sub: u64, args: &[u64]) -> Request {
    let mut req = Request::new(op::NET);
    req.args[0] = sub;
    req.args[1..=args.len()].copy_from_slice(args);
    req
}

fn push(req: &mut Request, seg: Segment) {
    req.segs[req.nsegs as usize] = seg;
    req.nsegs += 1;
}

fn kernel_seg(buf: &[u8]) -> Segment {
    host::kernel_segment(buf.as_ptr() as u64, buf.len())
}

/// A segment the monitor writes into (taken from a `&mut`, so the compiler
/// knows the buffer changes across the request).
fn out_seg(buf: &mut [u8]) -> Segment {
    host::kernel_segment(buf.as_mut_ptr() as u64, buf.len())
}

const MSG_ERRQUEUE: u64 = 0x2000;
const POLLIN: i16 = 1;
const POLLOUT: i16 = 4;

/// Sends a send or receive request; on a blocking socket (`via` = Exit) it
/// does not wait in the host but with `MSG_DONTWAIT` and, while the socket
/// is not ready for `events`, waits in the guest without holding the vCPU.
/// A stream send that moved part of its data returns that part.
fn blocking_call(req: &mut Request, h: u64, via: host::Via, events: i16) -> SysResult {
    if via != host::Via::Exit {
        return host::result(host::call_via(req, via));
    }
    req.args[2] |= MSG_DONTWAIT;
    let shape = *req;
    loop {
        match host::result(host::call_via(req, host::Via::Any)) {
            Err(crate::errno::EAGAIN) => {
                super::poll::wait_host(h, events)?;
                *req = shape;
            }
            r => return r,
        }
    }
}

/// A new descriptor for socket handle `h` (the handle is closed if there is no room).
fn install(h: u64, nonblock: bool, cloexec: bool) -> SysResult {
    let status = O_RDWR | if nonblock { O_NONBLOCK } else { 0 };
    table::install(Arc::new(OpenFile::new(Kind::Host(h), status, Vec::new())), cloexec)
}

pub fn socket([domain, ty, protocol, ..]: Args) -> SysResult {
    if domain == netlink::AF_NETLINK {
        return netlink::socket(ty, protocol, ty & (SOCK_NONBLOCK | SOCK_CLOEXEC));
    }
    let mut req = request(NET_SOCKET, &[domain, ty & !SOCK_CLOEXEC, protocol]);
    let h = host::result(host::call(&mut req))?;
    install(h, ty & SOCK_NONBLOCK != 0, ty & SOCK_CLOEXEC != 0)
}

pub fn socketpair([domain, ty, protocol, sv, ..]: Args) -> SysResult {
    mm::write_user(sv, &[-1i32, -1])?; // EFAULT before any socket exists
    let mut req = request(NET_SOCKETPAIR, &[domain, ty & !SOCK_CLOEXEC, protocol]);
    host::result(host::call(&mut req))?;
    let (nonblock, cloexec) = (ty & SOCK_NONBLOCK != 0, ty & SOCK_CLOEXEC != 0);
    let a = install(req.args[1], nonblock, cloexec);
    let b = install(req.args[2], nonblock, cloexec);
    match (a, b) {
        (Ok(a), Ok(b)) => {
            mm::write_user(sv, &[a as i32, b as i32])?;
            Ok(0)
        }
        (a, b) => {
            for fd in [a, b].into_iter().flatten() {
                let _ = table::close(fd);
            }
            Err(crate::errno::EMFILE)
        }
    }
}

/// A socket address from the program, and for a socket path its absolute
/// guest form (which the monitor resolves; the address itself is kept as given).
fn read_addr(ptr: u64, len: u64) -> Result<(Vec<u8>, Vec<u8>), Errno> {
    if len as usize > MAX_SOCKADDR || len < 2 {
        return Err(EINVAL);
    }
    let mut a = alloc::vec![0u8; len as usize];
    mm::copy_from_user(ptr, &mut a)?;
    let resolved = match a.get(2..) {
        Some(p) if u16::from_ne_bytes([a[0], a[1]]) == AF_UNIX && !p.is_empty() && p[0] != 0 => {
            let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            path::absolute(path::AT_FDCWD, &p[..end])?
        }
        _ => Vec::new(),
    };
    Ok((a, resolved))
}

fn address_request(sub: u64, fd: u64, addr: u64, len: u64) -> SysResult {
    let (h, via) = handle_via(fd, 0)?;
    let (a, resolved) = read_addr(addr, len)?;
    let mut req = request(sub, &[h]);
    push(&mut req, kernel_seg(&a));
    push(&mut req, kernel_seg(&resolved));
    host::result(host::call_via(&mut req, via))
}

/// The program's socket address for a netlink socket's `bind` or `connect`.
fn netlink_addr(addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
    if len as usize > MAX_SOCKADDR {
        return Err(EINVAL);
    }
    let mut a = alloc::vec![0u8; len as usize];
    mm::copy_from_user(addr, &mut a)?;
    Ok(a)
}

pub fn bind([fd, addr, len, ..]: Args) -> SysResult {
    if let Some(n) = netlink::of(fd) {
        return n.bind(&netlink_addr(addr, len)?);
    }
    // The guest's own rule, before the host's: a port below 1024
    // (`ip_unprivileged_port_start`) needs CAP_NET_BIND_SERVICE.
    if len >= 4 && addr != 0 {
        let [family, port]: [u16; 2] = mm::read_user(addr)?;
        let port = u16::from_be(port);
        let inet = matches!(family, 2 | 10); // AF_INET, AF_INET6
        if inet && (1..1024).contains(&port) && !super::cred::capable(hx_abi::uapi::CAP_NET_BIND_SERVICE) {
            return Err(crate::errno::EACCES);
        }
    }
    address_request(NET_BIND, fd, addr, len)
}

pub fn connect([fd, addr, len, ..]: Args) -> SysResult {
    if let Some(n) = netlink::of(fd) {
        return n.connect(&netlink_addr(addr, len)?);
    }
    address_request(NET_CONNECT, fd, addr, len)
}

pub fn listen([fd, backlog, ..]: Args) -> SysResult {
    if netlink::of(fd).is_some() {
        return netlink::unsupported();
    }
    host::result(host::call(&mut request(NET_LISTEN, &[handle(fd)?, backlog as u32 as i32 as i64 as u64])))
}

pub fn shutdown([fd, how, ..]: Args) -> SysResult {
    if netlink::of(fd).is_some() {
        return netlink::unsupported();
    }
    host::result(host::call(&mut request(NET_SHUTDOWN, &[handle(fd)?, how])))
}

/// Writes an address the monitor returned to the program's `(addr, *len)` pair, as Linux: cut to
/// the room given, the full length reported.
fn write_addr(addr: u64, lenp: u64, bytes: &[u8]) -> Result<(), Errno> {
    if addr == 0 || lenp == 0 {
        return Ok(());
    }
    let room: i32 = mm::read_user(lenp)?;
    if room < 0 {
        return Err(EINVAL);
    }
    let n = bytes.len().min(room as usize);
    mm::copy_to_user(addr, &bytes[..n])?;
    mm::write_user(lenp, &(bytes.len() as u32))
}

pub fn accept([fd, addr, lenp, ..]: Args) -> SysResult {
    accept4([fd, addr, lenp, 0, 0, 0])
}

pub fn accept4([fd, addr, lenp, flags, ..]: Args) -> SysResult {
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    if netlink::of(fd).is_some() {
        return netlink::unsupported();
    }
    let (h, via) = handle_via(fd, 0)?;
    if addr != 0 {
        let room: i32 = mm::read_user(lenp)?;
        if room < 0 {
            return Err(EINVAL);
        }
    }
    let mut buf = [0u8; MAX_SOCKADDR];
    let mut req = request(NET_ACCEPT, &[h, flags & SOCK_NONBLOCK]);
    push(&mut req, out_seg(&mut buf));
    if via == host::Via::Exit && !super::poll::host_ready(h, POLLIN)? && listening(h) {
        // Waits for a connection without holding the vCPU; the accept itself then returns at once.
        // (A socket that does not listen fails at once: EINVAL, or EOPNOTSUPP for a datagram one.)
        while !super::poll::host_ready(h, POLLIN)? {
            super::poll::wait_host(h, POLLIN)?;
        }
    }
    let new = host::result(host::call_via(&mut req, via))?;
    let n = (req.args[3] as usize).min(buf.len());
    let fd = install(new, flags & SOCK_NONBLOCK != 0, flags & SOCK_CLOEXEC != 0)?;
    if let Err(e) = write_addr(addr, lenp, &buf[..n]) {
        let _ = table::close(fd);
        return Err(e);
    }
    Ok(fd)
}

fn name(fd: u64, addr: u64, lenp: u64, peer: u64) -> SysResult {
    if let Some(n) = netlink::of(fd) {
        if addr == 0 || lenp == 0 {
            return Err(EFAULT);
        }
        return write_addr(addr, lenp, &n.name(peer != 0)).map(|_| 0);
    }
    let h = handle(fd)?;
    let mut buf = [0u8; MAX_SOCKADDR];
    let mut req = request(NET_NAME, &[h, peer]);
    push(&mut req, out_seg(&mut buf));
    let n = host::result(host::call(&mut req))? as usize;
    // Linux reads the length first: no length (or no buffer) is EFAULT.
    if addr == 0 || lenp == 0 {
        return Err(EFAULT);
    }
    write_addr(addr, lenp, &buf[..n.min(buf.len())])?;
    Ok(0)
}

pub fn getsockname([fd, addr, lenp, ..]: Args) -> SysResult {
    name(fd, addr, lenp, 0)
}

pub fn getpeername([fd, addr, lenp, ..]: Args) -> SysResult {
    name(fd, addr, lenp, 1)
}

pub fn setsockopt([fd, level, optname, val, len, ..]: Args) -> SysResult {
    let netlink = netlink::of(fd);
    let h = if netlink.is_some() { 0 } else { handle(fd)? };
    if len as u32 as usize > MAX_OPTION {
        return Err(EINVAL);
    }
    let mut v = alloc::vec![0u8; len as u32 as usize];
    mm::copy_from_user(val, &mut v)?;
    if let Some(n) = netlink {
        return n.setsockopt(level as u32 as u64, optname as u32 as u64, &v);
    }
    // SO_SNDBUFFORCE, SO_RCVBUFFORCE: CAP_NET_ADMIN's way past the size
    // limit. The host's limit stays (its monitor would pass it): the plain
    // option, which clamps there, as Linux clamps the forced one to INT_MAX/2.
    const SO_SNDBUFFORCE: u64 = 32;
    const SO_RCVBUFFORCE: u64 = 33;
    let optname = match (level as u32 as i32, optname as u32 as u64) {
        (1 /* SOL_SOCKET */, f @ (SO_SNDBUFFORCE | SO_RCVBUFFORCE)) => {
            if !super::cred::capable(hx_abi::uapi::CAP_NET_ADMIN) {
                return Err(crate::errno::EPERM);
            }
            f - 25 // SO_SNDBUF (7), SO_RCVBUF (8)
        }
        _ => optname,
    };
    let mut req = request(NET_SETOPT, &[h, level as u32 as i32 as i64 as u64, optname as u32 as i32 as i64 as u64]);
    push(&mut req, kernel_seg(&v));
    host::result(host::call(&mut req))
}

pub fn getsockopt([fd, level, optname, val, lenp, ..]: Args) -> SysResult {
    let netlink = netlink::of(fd);
    let h = if netlink.is_some() { 0 } else { handle(fd)? };
    let room: i32 = mm::read_user(lenp)?;
    if room < 0 {
        return Err(EINVAL);
    }
    if let Some(nl) = netlink {
        let v = nl.getsockopt(level as u32 as u64, optname as u32 as u64)?.to_le_bytes();
        let n = (room as usize).min(v.len());
        mm::copy_to_user(val, &v[..n])?;
        mm::write_user(lenp, &(n as u32))?;
        return Ok(0);
    }
    let mut buf = alloc::vec![0u8; (room as usize).min(MAX_OPTION)];
    let mut req = request(NET_GETOPT, &[h, level as u32 as i32 as i64 as u64, optname as u32 as i32 as i64 as u64]);
    push(&mut req, out_seg(&mut buf));
    let n = (host::result(host::call(&mut req))? as usize).min(buf.len());
    mm::copy_to_user(val, &buf[..n])?;
    mm::write_user(lenp, &(n as u32))?;
    Ok(0)
}

/// A `struct msghdr` from the program.
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct MsgHdr {
    name: u64,
    namelen: u32,
    _pad: u32,
    iov: u64,
    iovlen: u64,
    control: u64,
    controllen: u64,
    flags: i32,
    _pad2: u32,
}

/// A message's iovecs: more than `UIO_MAXIOV` is EMSGSIZE for a message
/// (EINVAL only for readv/writev).
fn read_iovs(iov: u64, n: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if n > 1024 {
        return Err(crate::errno::EMSGSIZE);
    }
    let mut v = Vec::with_capacity(n as usize);
    for i in 0..n {
        let [base, len]: [u64; 2] = mm::read_user(iov + i * 16)?;
        if (len as i64) < 0 {
            return Err(EINVAL);
        }
        v.push((base, len));
    }
    Ok(v)
}

/// Puts the program's buffers into `req` as segments from `first` on: `true`
/// if they all fit, `false` if they are in more pieces than one request holds.
fn user_data(req: &mut Request, iovs: &[(u64, u64)], writes_user: bool) -> Result<bool, Errno> {
    for &(base, len) in iovs {
        if len == 0 {
            continue;
        }
        let free = &mut req.segs[req.nsegs as usize..];
        if free.is_empty() {
            return Ok(false);
        }
        let (n, covered) = mm::user_segments(base, len, writes_user, free).map_err(|_| EFAULT)?;
        req.nsegs += n as u32;
        if covered < len {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The handles of the descriptors an `SCM_RIGHTS` message passes.
fn passed_handles(control: u64, len: u64) -> Result<Vec<u64>, Errno> {
    let mut handles = Vec::new();
    let mut at = 0u64;
    while at + CMSG_HDR as u64 <= len {
        let [clen, kind]: [u64; 2] = mm::read_user(control + at)?;
        let (level, ty) = (kind as u32 as i32, (kind >> 32) as u32 as i32);
        if clen < CMSG_HDR as u64 || at + clen > len {
            return Err(EINVAL);
        }
        if level != SOL_SOCKET || ty != SCM_RIGHTS {
            return Err(EINVAL);
        }
        for i in 0..(clen - CMSG_HDR as u64) / 4 {
            let fd: i32 = mm::read_user(control + at + CMSG_HDR as u64 + i * 4)?;
            handles.push(host_handle(fd as u64)?);
            if handles.len() > MAX_PASSED_FDS {
                return Err(crate::errno::Errno(109)); // ETOOMANYREFS
            }
        }
        at += (clen + 7) & !7;
    }
    Ok(handles)
}

/// The monitor's handle for any descriptor being passed: the kernel's own
/// pipes move to the host first (a passed descriptor leaves this VM).
fn host_handle(fd: u64) -> Result<u64, Errno> {
    if matches!(
        table::get(fd)?.kind,
        Kind::PipeRead(_) | Kind::PipeWrite(_) | Kind::Anon(crate::fs::anon::Anon::Event(_))
    ) {
        crate::fs::share_with_host()?;
    }
    match table::get(fd)?.kind {
        Kind::Host(h) => Ok(h),
        _ => Err(EBADF),
    }
}

/// A send. A blocking stream send moves all its data (a datagram is never
/// cut): after a part, the rest goes on until done or an error, which then
/// ends it early with the count so far. A loop, not a recursion: a 16 MiB
/// send in parts of a socket buffer's size overflowed the kernel stack.
fn send_core(fd: u64, msg: &MsgHdr, iovs: &[(u64, u64)], flags: u64) -> SysResult {
    if let Some(n) = netlink::of(fd) {
        let total: u64 = iovs.iter().map(|v| v.1).sum();
        return n.send(&gather(iovs, 0, (total as usize).min(1 << 17))?);
    }
    let mut sent = 0u64;
    let mut rest: Vec<(u64, u64)> = iovs.to_vec();
    let mut first = true;
    loop {
        let header = if first { *msg } else { MsgHdr::default() };
        let (r, more) = send_part(fd, &header, &rest, flags);
        first = false;
        match r {
            Ok(n) => {
                sent += n;
                if !more {
                    return Ok(sent);
                }
                rest = skip(&rest, n);
            }
            Err(e) => return if sent > 0 { Ok(sent) } else { Err(e) },
        }
    }
}

/// One try at a send; with `true` when a blocking stream send moved only
/// part of its data and goes on with the rest.
fn send_part(fd: u64, msg: &MsgHdr, iovs: &[(u64, u64)], flags: u64) -> (SysResult, bool) {
    match send_once(fd, msg, iovs, flags) {
        Ok((r, via, total)) => {
            let more = matches!(r, Ok(n) if via == host::Via::Exit && n > 0 && n < total);
            (r, more)
        }
        Err(e) => (Err(e), false),
    }
}

fn send_once(fd: u64, msg: &MsgHdr, iovs: &[(u64, u64)], flags: u64) -> Result<(SysResult, host::Via, u64), Errno> {
    let (h, via) = handle_via(fd, flags)?;
    let (addr, resolved) = if msg.name != 0 && msg.namelen != 0 {
        read_addr(msg.name, msg.namelen as u64)?
    } else {
        (Vec::new(), Vec::new())
    };
    let handles =
        if msg.control != 0 && msg.controllen != 0 { passed_handles(msg.control, msg.controllen)? } else { Vec::new() };
    let handle_bytes: Vec<u8> = handles.iter().flat_map(|h| h.to_le_bytes()).collect();
    let total: u64 = iovs.iter().map(|v| v.1).sum();
    let host_flags = flags & !MSG_NOSIGNAL;
    let new_request = || {
        let mut req = request(NET_SEND, &[h, host_flags]);
        push(&mut req, kernel_seg(&addr));
        push(&mut req, kernel_seg(&resolved));
        push(&mut req, kernel_seg(&handle_bytes));
        req
    };
    let mut req = new_request();
    let r = if user_data(&mut req, iovs, false)? {
        blocking_call(&mut req, h, via, POLLOUT)
    } else {
        // In more pieces than a request holds: through a kernel buffer, in
        // chunks (a datagram up to BOUNCE_MAX is still one message).
        let mut done = 0u64;
        let mut result = Ok(0);
        while done < total {
            let chunk = gather(iovs, done, BOUNCE_MAX)?;
            req = new_request();
            if done > 0 {
                req.segs[2].len = 0; // descriptors go with the first chunk only
            }
            push(&mut req, kernel_seg(&chunk));
            match blocking_call(&mut req, h, via, POLLOUT) {
                Ok(n) => {
                    done += n;
                    result = Ok(done);
                    if n < chunk.len() as u64 {
                        break;
                    }
                }
                Err(e) => {
                    if done == 0 {
                        result = Err(e);
                    }
                    break;
                }
            }
        }
        result
    };
    if r == Err(EPIPE) && flags & MSG_NOSIGNAL == 0 && req_sigpipe(&req) {
        super::signal::raise(SIGPIPE);
    }
    Ok((r, via, total))
}

/// Whether an `EPIPE` from writing host file `h` raises SIGPIPE: for a pipe
/// or a stream socket, not for a datagram or seqpacket socket (Linux).
/// Whether socket `h` listens (`SO_ACCEPTCONN`).
fn listening(h: u64) -> bool {
    const SO_ACCEPTCONN: u64 = 30;
    let mut v = [0u8; 4];
    let mut req = request(NET_GETOPT, &[h, SOL_SOCKET as u64, SO_ACCEPTCONN]);
    push(&mut req, out_seg(&mut v));
    matches!(host::result(host::call(&mut req)), Ok(4)) && i32::from_le_bytes(v) != 0
}

pub fn epipe_raises_sigpipe(h: u64) -> bool {
    const SO_TYPE: u64 = 3;
    const SOCK_STREAM: i32 = 1;
    let mut v = [0u8; 4];
    let mut req = request(NET_GETOPT, &[h, SOL_SOCKET as u64, SO_TYPE]);
    push(&mut req, out_seg(&mut v));
    match host::result(host::call(&mut req)) {
        Ok(4) => i32::from_le_bytes(v) == SOCK_STREAM,
        _ => true, // not a socket: a pipe
    }
}

/// Whether the monitor said an `EPIPE` send raises SIGPIPE (a stream socket).
fn req_sigpipe(req: &Request) -> bool {
    req.args[3] != 0
}

/// The buffers `iovs` describe after their first `n` bytes.
fn skip(iovs: &[(u64, u64)], mut n: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for &(base, len) in iovs {
        if n >= len {
            n -= len;
            continue;
        }
        out.push((base + n, len - n));
        n = 0;
    }
    out
}

/// Up to `max` bytes of the program's buffers from offset `skip` on, copied.
fn gather(iovs: &[(u64, u64)], mut skip: u64, max: usize) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    for &(base, len) in iovs {
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = ((len - skip) as usize).min(max - out.len());
        let at = out.len();
        out.resize(at + n, 0);
        mm::copy_from_user(base + skip, &mut out[at..])?;
        skip = 0;
        if out.len() == max {
            break;
        }
    }
    Ok(out)
}

/// Copies `data` into the program's buffers in order.
fn scatter(iovs: &[(u64, u64)], mut data: &[u8]) -> Result<(), Errno> {
    for &(base, len) in iovs {
        if data.is_empty() {
            break;
        }
        let n = (len as usize).min(data.len());
        mm::copy_to_user(base, &data[..n])?;
        data = &data[n..];
    }
    Ok(())
}

/// A receive: bytes received; fills the message's name length, control and
/// flags, and the source address into `name_out` (the callers write it out).
fn recv_core(
    fd: u64,
    msg: &mut MsgHdr,
    iovs: &[(u64, u64)],
    flags: u64,
    name_out: &mut [u8; MAX_SOCKADDR],
) -> SysResult {
    if let Some(nl) = netlink::of(fd) {
        let room: u64 = iovs.iter().map(|v| v.1).sum();
        let nonblock = table::get(fd)?.status() & O_NONBLOCK != 0;
        let mut data = Vec::new();
        let (n, whole) = nl.recv(room as usize, flags, nonblock, &mut data)?;
        scatter(iovs, &data)?;
        let from = nl.name(true);
        name_out[..from.len()].copy_from_slice(&from);
        msg.namelen = from.len() as u32;
        msg.controllen = 0;
        msg.flags = if whole > room as usize { 0x20 } else { 0 }; // MSG_TRUNC
        return Ok(n as u64);
    }
    let (h, via) = handle_via(fd, flags)?;
    let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
    let max_fds = if msg.control != 0 { msg.controllen.saturating_sub(CMSG_HDR as u64) / 4 } else { 0 };
    let mut name = [0u8; MAX_SOCKADDR];
    let mut handles = alloc::vec![0u8; (max_fds.min(MAX_PASSED_FDS as u64) * 8) as usize];
    let total: u64 = iovs.iter().map(|v| v.1).sum();
    let mut req = request(NET_RECV, &[h, flags & !MSG_CMSG_CLOEXEC, max_fds.min(MAX_PASSED_FDS as u64)]);
    push(&mut req, out_seg(&mut name));
    push(&mut req, out_seg(&mut handles));
    let mut bounce = Vec::new();
    if !user_data(&mut req, iovs, true)? {
        req.nsegs = 2;
        bounce = alloc::vec![0u8; (total as usize).min(BOUNCE_MAX)];
        push(&mut req, out_seg(&mut bounce));
    }
    let n = blocking_call(&mut req, h, via, POLLIN)?;
    if !bounce.is_empty() {
        scatter(iovs, &bounce[..(n as usize).min(bounce.len())])?;
    }
    let namelen = (req.args[4] as usize).min(MAX_SOCKADDR);
    let mut msg_flags = req.args[5] as u32 as i32;
    // The passed descriptors, as the program's own.
    let count = (req.args[6] as usize).min(handles.len() / 8);
    let mut fds = Vec::with_capacity(count);
    for i in 0..count {
        let h = u64::from_le_bytes(handles[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        let status = O_RDWR;
        match table::install(Arc::new(OpenFile::new(Kind::Host(h), status, Vec::new())), cloexec) {
            Ok(fd) => fds.push(fd as i32),
            Err(_) => msg_flags |= 0x8, // MSG_CTRUNC: the handle closed with its file
        }
    }
    name_out[..namelen].copy_from_slice(&name[..namelen]);
    msg.namelen = namelen as u32;
    if fds.is_empty() {
        msg.controllen = 0;
    } else {
        let len = CMSG_HDR + 4 * fds.len();
        let mut c = Vec::with_capacity(len);
        c.extend_from_slice(&(len as u64).to_le_bytes());
        c.extend_from_slice(&SOL_SOCKET.to_le_bytes());
        c.extend_from_slice(&SCM_RIGHTS.to_le_bytes());
        for fd in &fds {
            c.extend_from_slice(&fd.to_le_bytes());
        }
        // Linux reports the message's aligned space, but never more than the room given.
        let n = c.len().min(msg.controllen as usize);
        mm::copy_to_user(msg.control, &c[..n])?;
        msg.controllen = (((len + 7) & !7) as u64).min(msg.controllen);
    }
    msg.flags = msg_flags;
    Ok(n)
}

pub fn sendto([fd, buf, len, flags, addr, addrlen]: Args) -> SysResult {
    let msg = MsgHdr { name: addr, namelen: addrlen as u32, ..Default::default() };
    send_core(fd, &msg, &[(buf, len)], flags)
}

pub fn recvfrom([fd, buf, len, flags, addr, lenp]: Args) -> SysResult {
    if addr != 0 {
        let room: i32 = mm::read_user(lenp)?;
        if room < 0 {
            return Err(EINVAL);
        }
    }
    let mut name = [0u8; MAX_SOCKADDR];
    let mut msg = MsgHdr::default();
    let n = recv_core(fd, &mut msg, &[(buf, len)], flags, &mut name)?;
    if addr != 0 {
        write_addr(addr, lenp, &name[..msg.namelen as usize])?;
    }
    Ok(n)
}

/// Writes a received address into a `msghdr`'s name buffer (cut to its room).
fn msg_name_out(given: &MsgHdr, got: &MsgHdr, name: &[u8; MAX_SOCKADDR]) -> Result<(), Errno> {
    if given.name != 0 {
        let n = (got.namelen as usize).min(given.namelen as usize);
        mm::copy_to_user(given.name, &name[..n])?;
    }
    Ok(())
}

pub fn sendmsg([fd, msg, flags, ..]: Args) -> SysResult {
    let m: MsgHdr = mm::read_user(msg)?;
    send_core(fd, &m, &read_iovs(m.iov, m.iovlen)?, flags)
}

pub fn recvmsg([fd, msg, flags, ..]: Args) -> SysResult {
    let given: MsgHdr = mm::read_user(msg)?;
    let mut m = given;
    let iovs = read_iovs(m.iov, m.iovlen)?;
    let mut name = [0u8; MAX_SOCKADDR];
    let n = recv_core(fd, &mut m, &iovs, flags, &mut name)?;
    msg_name_out(&given, &m, &name)?;
    mm::write_user(msg, &m)?;
    Ok(n)
}

/// `struct mmsghdr`: a message header and the count sent or received.
const MMSG_SIZE: u64 = 64;

pub fn sendmmsg([fd, vec, n, flags, ..]: Args) -> SysResult {
    let n = n.min(1024);
    let mut sent = 0;
    while sent < n {
        let at = vec + sent * MMSG_SIZE;
        let m: MsgHdr = mm::read_user(at)?;
        match send_core(fd, &m, &read_iovs(m.iov, m.iovlen)?, flags) {
            Ok(bytes) => mm::write_user(at + 56, &(bytes as u32))?,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
        sent += 1;
    }
    Ok(sent)
}

/// `recvmmsg`: as Linux, the timeout is looked at only after each message
/// received (a receive that waits is not cut short by it); one that is not
/// a valid timespec is EINVAL.
pub fn recvmmsg([fd, vec, n, flags, timeout, ..]: Args) -> SysResult {
    let deadline = if timeout != 0 {
        let [sec, nsec]: [i64; 2] = mm::read_user(timeout)?;
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(EINVAL);
        }
        let ns = (sec as u64).saturating_mul(1_000_000_000).saturating_add(nsec as u64);
        Some(crate::time::monotonic_ns().saturating_add(ns))
    } else {
        None
    };
    // The descriptor before the vector (EBADF, ENOTSOCK first, as Linux).
    if netlink::of(fd).is_none() {
        handle(fd)?;
    }
    let n = n.min(1024);
    let mut got = 0;
    let mut flags = flags;
    while got < n {
        let at = vec + got * MMSG_SIZE;
        let given: MsgHdr = mm::read_user(at)?;
        let mut m = given;
        let iovs = read_iovs(m.iov, m.iovlen)?;
        let mut name = [0u8; MAX_SOCKADDR];
        match recv_core(fd, &mut m, &iovs, flags & !MSG_WAITFORONE, &mut name) {
            Ok(bytes) => {
                msg_name_out(&given, &m, &name)?;
                mm::write_user(at, &m)?;
                mm::write_user(at + 56, &(bytes as u32))?;
            }
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        got += 1;
        if flags & MSG_WAITFORONE != 0 {
            flags |= MSG_DONTWAIT;
        }
        if deadline.is_some_and(|d| crate::time::monotonic_ns() >= d) {
            break;
        }
    }
    // What is left of the timeout goes back to the caller.
    if let Some(d) = deadline {
        let left = d.saturating_sub(crate::time::monotonic_ns());
        mm::write_user(timeout, &[(left / 1_000_000_000) as i64, (left % 1_000_000_000) as i64])?;
    }
    Ok(got)
}
