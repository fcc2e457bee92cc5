//! Netlink route sockets (`AF_NETLINK`, `NETLINK_ROUTE`), served by the
//! kernel: what `getifaddrs`, `if_nameindex`, glibc's address-family check
//! of `getaddrinfo`, Node's `os.networkInterfaces()`, Go's `net.Interfaces`
//! and `ip link`/`ip addr` ask. A dump of links or addresses answers from
//! the interfaces the monitor lists (`NET_INTERFACES`: the host's, or a
//! loopback alone under `--net none`); every other request is refused as
//! Linux refuses it to a process that may not change the network
//! (`EPERM`), or as an operation hx does not have (`EOPNOTSUPP`), in an
//! `NLMSG_ERROR` reply. No multicast group ever sends anything.
//!
//! Replies queue as datagrams of at most one page of messages (a dump in
//! several, its `NLMSG_DONE` in its own, as Linux's `netlink_dump` makes
//! them); `recv` takes one per call, with `MSG_PEEK` and `MSG_TRUNC`.
use crate::errno::{Errno, SysResult, EAGAIN, EINVAL, EOPNOTSUPP, ERESTARTSYS};

const ENOPROTOOPT: Errno = Errno(92);
use crate::fs::anon::{self, Anon, POLLIN, POLLOUT};
use crate::host;
use crate::sched::Thread;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use hx_abi::hypercall::{op, Request, NET_INTERFACES, RTM_NEWADDR, RTM_NEWLINK};
use spin::Mutex;

pub const AF_NETLINK: u64 = 16;
const NETLINK_ROUTE: u64 = 0;
const SOCK_DGRAM: u64 = 2;
const SOCK_RAW: u64 = 3;
const SOL_SOCKET: u64 = 1;
const SOL_NETLINK: u64 = 270;

const NLMSG_HDR: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_MULTI: u16 = 2;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_CAPPED: u16 = 0x100;
const RTM_GETLINK: u16 = 18;
const RTM_GETADDR: u16 = 22;
/// The first route message type; below it, netlink's own (noop, done...).
const RTM_BASE: u16 = 16;
const IFLA_IFNAME: u16 = 3;
/// Linux's `NLMSG_GOODSIZE` on 4 KiB pages: what one dump datagram holds.
const DATAGRAM_MAX: usize = 3776;
/// A request buffer's most (Linux caps a send at the socket's send buffer).
const SEND_MAX: usize = 64 * 1024;
const EPERM: i32 = 1;
const ENODEV: i32 = 19;
const EOPNOTSUPP_RAW: i32 = 95;

struct Inner {
    queue: VecDeque<Vec<u8>>,
    /// The socket's port id (0 until bound, explicitly or by a send).
    port: u32,
    groups: u32,
    kind: u64,
    rcvbuf: u32,
    sndbuf: u32,
    /// `SOL_NETLINK` options as set (`NETLINK_CAP_ACK` shapes error replies).
    options: [u32; 16],
    waiters: Vec<Arc<Thread>>,
    /// Wake-ups (a reply queued), for edge-triggered epoll.
    edges: u64,
}

pub struct Netlink(Mutex<Inner>);

/// The port ids of this process's bound netlink sockets. Linux gives the
/// first socket to bind without one the process's pid while no other
/// holds it, else one counted down from -4096.
static PORTS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
static ROVER: AtomicU32 = AtomicU32::new(0);

fn take_port(wanted: u32) -> Result<u32, Errno> {
    let mut ports = PORTS.lock();
    let port = if wanted != 0 {
        wanted
    } else {
        let pid = super::process::pid() as u32;
        let mut candidate = pid;
        while ports.contains(&candidate) {
            candidate = (-4096i32 - ROVER.fetch_add(1, Ordering::Relaxed) as i32) as u32;
        }
        candidate
    };
    if ports.contains(&port) {
        return Err(crate::errno::Errno(98)); // EADDRINUSE
    }
    ports.push(port);
    Ok(port)
}

impl Drop for Netlink {
    fn drop(&mut self) {
        let port = self.0.lock().port;
        if port != 0 {
            PORTS.lock().retain(|&p| p != port);
        }
    }
}

/// `socket(AF_NETLINK, ty, protocol)`.
pub fn socket(ty: u64, protocol: u64, flags: u64) -> SysResult {
    let kind = ty & 0xf;
    if kind != SOCK_RAW && kind != SOCK_DGRAM {
        return Err(crate::errno::Errno(94)); // ESOCKTNOSUPPORT
    }
    if protocol != NETLINK_ROUTE {
        return Err(crate::errno::Errno(93)); // EPROTONOSUPPORT
    }
    let inner = Inner {
        queue: VecDeque::new(),
        port: 0,
        groups: 0,
        kind,
        rcvbuf: 212_992,
        sndbuf: 212_992,
        options: [0; 16],
        waiters: Vec::new(),
        edges: 0,
    };
    anon::install(Anon::Netlink(Arc::new(Netlink(Mutex::new(inner)))), flags)
}

/// The netlink socket `fd` is, if it is one.
pub fn of(fd: u64) -> Option<Arc<Netlink>> {
    match anon::get(fd) {
        Ok(Anon::Netlink(n)) => Some(n),
        _ => None,
    }
}

fn sockaddr(port: u32, groups: u32) -> [u8; 12] {
    let mut a = [0u8; 12];
    a[..2].copy_from_slice(&(AF_NETLINK as u16).to_le_bytes());
    a[4..8].copy_from_slice(&port.to_le_bytes());
    a[8..12].copy_from_slice(&groups.to_le_bytes());
    a
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn message(kind: u16, flags: u16, seq: u32, port: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(NLMSG_HDR + body.len());
    m.extend_from_slice(&((NLMSG_HDR + body.len()) as u32).to_le_bytes());
    m.extend_from_slice(&kind.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend_from_slice(&port.to_le_bytes());
    m.extend_from_slice(body);
    m.resize(m.len().next_multiple_of(4), 0);
    m
}

/// The (type, body) of every link and address message the monitor lists.
fn interfaces() -> Vec<(u16, Vec<u8>)> {
    let mut buf = alloc::vec![0u8; 64 * 1024];
    let mut req = Request::new(op::NET);
    req.args[0] = NET_INTERFACES;
    req.nsegs = 1;
    req.segs[0] = host::kernel_segment(buf.as_mut_ptr() as u64, buf.len());
    let n = host::result(host::call(&mut req)).unwrap_or(0) as usize;
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= n.min(buf.len()) {
        let (kind, len) = (u16_at(&buf, at), u32_at(&buf, at + 4) as usize);
        let Some(body) = buf.get(at + 8..at + 8 + len) else { break };
        out.push((kind, body.to_vec()));
        at = (at + 8 + len).next_multiple_of(4);
    }
    out
}

/// The name (`IFLA_IFNAME`) among a link request's attributes, if any.
fn requested_name(body: &[u8]) -> Option<&[u8]> {
    let mut at = 16; // after struct ifinfomsg
    while at + 4 <= body.len() {
        let (len, kind) = (u16_at(body, at) as usize, u16_at(body, at + 2));
        if len < 4 || at + len > body.len() {
            return None;
        }
        if kind == IFLA_IFNAME {
            let v = &body[at + 4..at + len];
            return Some(v.split(|&b| b == 0).next().unwrap_or(v));
        }
        at += len.next_multiple_of(4);
    }
    None
}

impl Netlink {
    fn bound_port(inner: &mut Inner) -> Result<u32, Errno> {
        if inner.port == 0 {
            inner.port = take_port(0)?;
        }
        Ok(inner.port)
    }

    /// `bind`: a port id of 0 takes one; multicast groups are kept (none sends).
    pub fn bind(&self, addr: &[u8]) -> SysResult {
        if addr.len() < 12 || u16_at(addr, 0) as u64 != AF_NETLINK {
            return Err(EINVAL);
        }
        let mut inner = self.0.lock();
        let port = u32_at(addr, 4);
        if inner.port != 0 && port != 0 && port != inner.port {
            return Err(EINVAL);
        }
        if inner.port == 0 {
            inner.port = take_port(port)?;
        }
        inner.groups = u32_at(addr, 8);
        Ok(0)
    }

    /// `connect`: only the kernel (port 0) can be the peer; binds if unbound.
    pub fn connect(&self, addr: &[u8]) -> SysResult {
        if addr.len() < 2 {
            return Err(EINVAL);
        }
        if u16_at(addr, 0) == 0 {
            return Ok(0); // AF_UNSPEC: disconnect
        }
        if addr.len() < 12 || u16_at(addr, 0) as u64 != AF_NETLINK {
            return Err(EINVAL);
        }
        Self::bound_port(&mut self.0.lock())?;
        Ok(0)
    }

    /// `getsockname` (`peer` false) or `getpeername`: a `sockaddr_nl`.
    pub fn name(&self, peer: bool) -> [u8; 12] {
        let inner = self.0.lock();
        if peer {
            sockaddr(0, 0)
        } else {
            sockaddr(inner.port, inner.groups)
        }
    }

    /// `send`: answers every request in `data` (a datagram of netlink messages).
    pub fn send(&self, data: &[u8]) -> SysResult {
        if data.len() > SEND_MAX {
            return Err(crate::errno::EMSGSIZE);
        }
        let port = Self::bound_port(&mut self.0.lock())?;
        let mut replies: Vec<Vec<u8>> = Vec::new();
        let mut at = 0;
        while at + NLMSG_HDR <= data.len() {
            let len = u32_at(data, at) as usize;
            if len < NLMSG_HDR || at + len > data.len() {
                break;
            }
            let msg = &data[at..at + len];
            self.answer(msg, port, &mut replies);
            at += len.next_multiple_of(4);
        }
        if !replies.is_empty() {
            self.queue(replies);
        }
        Ok(data.len() as u64)
    }

    /// Queues datagrams for the socket's reader and wakes it.
    fn queue(&self, datagrams: Vec<Vec<u8>>) {
        let mut inner = self.0.lock();
        inner.queue.extend(datagrams);
        inner.edges += 1;
        let waiters = core::mem::take(&mut inner.waiters);
        drop(inner);
        anon::wake(waiters);
        super::poll::wake_pollers();
    }

    /// Queues `datagram` for the socket's reader, as the kernel's own
    /// message (a message queue's notification cookie, `mq_notify`'s
    /// `SIGEV_THREAD`).
    pub fn deliver(&self, datagram: Vec<u8>) {
        self.queue(alloc::vec![datagram]);
    }

    fn error(&self, msg: &[u8], errno: i32, port: u32) -> Vec<u8> {
        let cap_ack = self.0.lock().options[10] != 0; // NETLINK_CAP_ACK
        let whole = errno != 0 && !cap_ack;
        let echoed = if whole { msg } else { &msg[..NLMSG_HDR] };
        let mut body = Vec::with_capacity(4 + echoed.len());
        body.extend_from_slice(&(-errno).to_le_bytes());
        body.extend_from_slice(echoed);
        let flags = if whole { 0 } else { NLM_F_CAPPED };
        message(NLMSG_ERROR, flags, u32_at(msg, 8), port, &body)
    }

    fn answer(&self, msg: &[u8], port: u32, replies: &mut Vec<Vec<u8>>) {
        let (kind, flags, seq) = (u16_at(msg, 4), u16_at(msg, 6), u32_at(msg, 8));
        if flags & NLM_F_REQUEST == 0 || kind < RTM_BASE {
            return; // Linux ignores what is not a request, and netlink's own types
        }
        let body = &msg[NLMSG_HDR..];
        match kind {
            RTM_GETLINK | RTM_GETADDR if flags & NLM_F_DUMP == NLM_F_DUMP => {
                let want = if kind == RTM_GETLINK { RTM_NEWLINK } else { RTM_NEWADDR };
                // An address dump may ask for one family (ifaddrmsg's first byte).
                let family = if kind == RTM_GETADDR { body.first().copied().unwrap_or(0) } else { 0 };
                let mut datagram = Vec::new();
                for (t, b) in interfaces() {
                    if t != want || (family != 0 && b.first() != Some(&family)) {
                        continue;
                    }
                    let m = message(t, NLM_F_MULTI, seq, port, &b);
                    if !datagram.is_empty() && datagram.len() + m.len() > DATAGRAM_MAX {
                        replies.push(core::mem::take(&mut datagram));
                    }
                    datagram.extend_from_slice(&m);
                }
                if !datagram.is_empty() {
                    replies.push(datagram);
                }
                replies.push(message(NLMSG_DONE, NLM_F_MULTI, seq, port, &0i32.to_le_bytes()));
            }
            RTM_GETLINK => {
                // One link, by index (ifinfomsg's) or by name.
                let index = u32_at(body, 4) as i32;
                let name = requested_name(body);
                let found = interfaces().into_iter().find(|(t, b)| {
                    *t == RTM_NEWLINK
                        && ((index != 0 && u32_at(b, 4) as i32 == index)
                            || (index == 0 && name.is_some() && requested_name(b) == name))
                });
                match found {
                    Some((t, b)) => {
                        replies.push(message(t, 0, seq, port, &b));
                        if flags & NLM_F_ACK != 0 {
                            replies.push(self.error(msg, 0, port));
                        }
                    }
                    None => replies.push(self.error(msg, ENODEV, port)),
                }
            }
            // Other tables (routes, neighbours, rules...) are not kept.
            _ if kind & 3 == 2 => replies.push(self.error(msg, EOPNOTSUPP_RAW, port)),
            // Changes to the network (new, delete, set) are not the guest's to make.
            _ => replies.push(self.error(msg, EPERM, port)),
        }
    }

    /// `recv`: the next datagram into `out` (cut to its room): `(bytes
    /// copied or, with `MSG_TRUNC` in `flags`, the datagram's length, the
    /// datagram's length)`. Waits unless `nonblock`.
    pub fn recv(&self, room: usize, flags: u64, nonblock: bool, out: &mut Vec<u8>) -> Result<(usize, usize), Errno> {
        const MSG_PEEK: u64 = 2;
        const MSG_TRUNC: u64 = 0x20;
        const MSG_DONTWAIT: u64 = 0x40;
        loop {
            let mut inner = self.0.lock();
            if let Some(d) = inner.queue.front() {
                let len = d.len();
                out.extend_from_slice(&d[..len.min(room)]);
                if flags & MSG_PEEK == 0 {
                    inner.queue.pop_front();
                }
                let n = if flags & MSG_TRUNC != 0 { len } else { len.min(room) };
                return Ok((n, len));
            }
            if nonblock || flags & MSG_DONTWAIT != 0 {
                return Err(EAGAIN);
            }
            anon::wait(inner, |i| &mut i.waiters, None).map_err(|_| ERESTARTSYS)?;
        }
    }

    pub fn setsockopt(&self, level: u64, name: u64, value: &[u8]) -> SysResult {
        let v = u32_at(value, 0);
        if value.len() < 4 {
            return Err(EINVAL);
        }
        let mut inner = self.0.lock();
        match (level, name) {
            // SO_SNDBUF, SO_RCVBUF (and their FORCE forms): Linux keeps double.
            (SOL_SOCKET, 7 | 32) => inner.sndbuf = v.saturating_mul(2).clamp(4608, 1 << 30),
            (SOL_SOCKET, 8 | 33) => inner.rcvbuf = v.saturating_mul(2).clamp(2304, 1 << 30),
            (SOL_SOCKET, 16 | 29 | 35) => {} // SO_PASSCRED, SO_TIMESTAMP, SO_TIMESTAMPNS: nothing to stamp
            (SOL_NETLINK, 1..=12) => inner.options[name as usize] = v,
            _ => return Err(ENOPROTOOPT),
        }
        Ok(0)
    }

    /// `getsockopt`'s value (an int).
    pub fn getsockopt(&self, level: u64, name: u64) -> Result<u32, Errno> {
        let inner = self.0.lock();
        Ok(match (level, name) {
            (SOL_SOCKET, 3) => inner.kind as u32,     // SO_TYPE
            (SOL_SOCKET, 4) => 0,                     // SO_ERROR
            (SOL_SOCKET, 7) => inner.sndbuf,          // SO_SNDBUF
            (SOL_SOCKET, 8) => inner.rcvbuf,          // SO_RCVBUF
            (SOL_SOCKET, 38) => NETLINK_ROUTE as u32, // SO_PROTOCOL
            (SOL_SOCKET, 39) => AF_NETLINK as u32,    // SO_DOMAIN
            (SOL_NETLINK, 1..=12) => inner.options[name as usize],
            _ => return Err(ENOPROTOOPT),
        })
    }

    pub fn readiness(&self) -> i16 {
        if self.0.lock().queue.is_empty() {
            POLLOUT
        } else {
            POLLIN | POLLOUT
        }
    }

    pub fn edges(&self) -> (u64, u64) {
        (self.0.lock().edges, 0)
    }
}

/// What `listen`, `accept` and `shutdown` answer on a netlink socket.
pub fn unsupported() -> SysResult {
    Err(EOPNOTSUPP)
}

/// One interface as the `SIOCGIF*` ioctls see it (from the same list the
/// route dumps answer with).
struct Iface {
    index: i32,
    name: Vec<u8>,
    flags: u32,
    hw_type: u16,
    hw_addr: Vec<u8>,
    mtu: u32,
    txqlen: u32,
    /// Its first IPv4 address: (address, prefix length, broadcast).
    ipv4: Option<([u8; 4], u8, Option<[u8; 4]>)>,
}

/// The attributes after a message's fixed header: (type, value) pairs.
fn attributes(body: &[u8], from: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = from;
    while at + 4 <= body.len() {
        let (len, kind) = (u16_at(body, at) as usize, u16_at(body, at + 2));
        if len < 4 || at + len > body.len() {
            break;
        }
        out.push((kind, &body[at + 4..at + len]));
        at += len.next_multiple_of(4);
    }
    out
}

fn ifaces() -> Vec<Iface> {
    const IFLA_ADDRESS: u16 = 1;
    const IFLA_MTU: u16 = 4;
    const IFLA_TXQLEN: u16 = 13;
    const IFA_ADDRESS: u16 = 1;
    const IFA_BROADCAST: u16 = 4;
    let all = interfaces();
    let mut out: Vec<Iface> = Vec::new();
    for (kind, body) in &all {
        if *kind != RTM_NEWLINK || body.len() < 16 {
            continue;
        }
        let mut i = Iface {
            index: u32_at(body, 4) as i32,
            name: requested_name(body).unwrap_or_default().to_vec(),
            flags: u32_at(body, 8),
            hw_type: u16_at(body, 2),
            hw_addr: Vec::new(),
            mtu: 0,
            txqlen: 0,
            ipv4: None,
        };
        for (t, v) in attributes(body, 16) {
            match t {
                IFLA_ADDRESS => i.hw_addr = v.to_vec(),
                IFLA_MTU => i.mtu = u32_at(v, 0),
                IFLA_TXQLEN => i.txqlen = u32_at(v, 0),
                _ => {}
            }
        }
        out.push(i);
    }
    for (kind, body) in &all {
        if *kind != RTM_NEWADDR || body.len() < 8 || body[0] != 2 {
            continue;
        }
        let index = u32_at(body, 4) as i32;
        let Some(i) = out.iter_mut().find(|i| i.index == index && i.ipv4.is_none()) else { continue };
        let attrs = attributes(body, 8);
        let v4 = |t: u16| attrs.iter().find(|(k, v)| *k == t && v.len() == 4).map(|(_, v)| [v[0], v[1], v[2], v[3]]);
        if let Some(addr) = v4(IFA_ADDRESS) {
            i.ipv4 = Some((addr, body[1], v4(IFA_BROADCAST)));
        }
    }
    out
}

/// `sockaddr_in` bytes for an IPv4 address (16 bytes).
fn sockaddr_in(addr: [u8; 4]) -> [u8; 16] {
    let mut s = [0u8; 16];
    s[0] = 2; // AF_INET
    s[4..8].copy_from_slice(&addr);
    s
}

/// The interface requests on a socket (`SIOCGIFINDEX`, `SIOCGIFNAME`,
/// `SIOCGIFFLAGS`, ..., `SIOCGIFCONF`), answered from the interfaces the
/// monitor listed: `None` for any other command. Setting is `EPERM`.
pub fn interface_ioctl(cmd: u64, arg: u64) -> Option<SysResult> {
    const SIOCGIFNAME: u64 = 0x8910;
    const SIOCGIFCONF: u64 = 0x8912;
    const SIOCGIFFLAGS: u64 = 0x8913;
    const SIOCGIFADDR: u64 = 0x8915;
    const SIOCGIFBRDADDR: u64 = 0x8919;
    const SIOCGIFNETMASK: u64 = 0x891b;
    const SIOCGIFMTU: u64 = 0x8921;
    const SIOCGIFHWADDR: u64 = 0x8927;
    const SIOCGIFINDEX: u64 = 0x8933;
    const SIOCGIFTXQLEN: u64 = 0x8942;
    const IFREQ: usize = 40;
    let setter = matches!(cmd, 0x8911 | 0x8914 | 0x8916..=0x8918 | 0x891a | 0x891c | 0x8922 | 0x8924 | 0x8934 | 0x8943);
    if setter {
        // Linux reads the request before it checks the privilege.
        let mut r = [0u8; IFREQ];
        return Some(crate::mm::copy_from_user(arg, &mut r).and(Err(crate::errno::EPERM)));
    }
    let known = [
        SIOCGIFNAME,
        SIOCGIFCONF,
        SIOCGIFFLAGS,
        SIOCGIFADDR,
        SIOCGIFBRDADDR,
        SIOCGIFNETMASK,
        SIOCGIFMTU,
        SIOCGIFHWADDR,
        SIOCGIFINDEX,
        SIOCGIFTXQLEN,
    ];
    if !known.contains(&cmd) {
        return None;
    }
    Some((|| {
        let all = ifaces();
        if cmd == SIOCGIFCONF {
            // struct ifconf { int ifc_len; union { char *buf; struct ifreq *req; } }
            let [len, buf]: [u64; 2] = crate::mm::read_user(arg)?;
            let len = len as u32 as usize;
            let mut out = Vec::new();
            for i in all.iter().filter(|i| i.ipv4.is_some()) {
                if buf != 0 && out.len() + IFREQ > len {
                    break;
                }
                let mut r = [0u8; IFREQ];
                let n = i.name.len().min(15);
                r[..n].copy_from_slice(&i.name[..n]);
                r[16..32].copy_from_slice(&sockaddr_in(i.ipv4.map_or([0; 4], |a| a.0)));
                out.extend_from_slice(&r);
            }
            if buf != 0 {
                crate::mm::copy_to_user(buf, &out)?;
            }
            crate::mm::write_user(arg, &(out.len() as i32))?;
            return Ok(0);
        }
        let mut r = [0u8; IFREQ];
        crate::mm::copy_from_user(arg, &mut r)?;
        let found = if cmd == SIOCGIFNAME {
            let index = u32_at(&r, 16) as i32;
            all.iter().find(|i| i.index == index)
        } else {
            let name: &[u8] = r[..16].split(|&b| b == 0).next().unwrap_or_default();
            all.iter().find(|i| i.name == name)
        };
        let i = found.ok_or(crate::errno::Errno(19))?; // ENODEV
        let mut value = [0u8; 24];
        match cmd {
            SIOCGIFNAME => {
                let n = i.name.len().min(15);
                r[..16].fill(0);
                r[..n].copy_from_slice(&i.name[..n]);
                crate::mm::copy_to_user(arg, &r)?;
                return Ok(0);
            }
            SIOCGIFINDEX => value[..4].copy_from_slice(&i.index.to_le_bytes()),
            SIOCGIFFLAGS => value[..2].copy_from_slice(&(i.flags as u16).to_le_bytes()),
            SIOCGIFMTU => value[..4].copy_from_slice(&i.mtu.to_le_bytes()),
            SIOCGIFTXQLEN => value[..4].copy_from_slice(&i.txqlen.to_le_bytes()),
            SIOCGIFHWADDR => {
                value[..2].copy_from_slice(&i.hw_type.to_le_bytes());
                let n = i.hw_addr.len().min(14);
                value[2..2 + n].copy_from_slice(&i.hw_addr[..n]);
            }
            _ => {
                let (addr, prefix, broadcast) = i.ipv4.ok_or(crate::errno::Errno(99))?; // EADDRNOTAVAIL
                let a = match cmd {
                    SIOCGIFADDR => addr,
                    SIOCGIFNETMASK => (u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)).to_be_bytes(),
                    _ => broadcast.ok_or(crate::errno::Errno(99))?,
                };
                value[..16].copy_from_slice(&sockaddr_in(a));
            }
        }
        r[16..].copy_from_slice(&value);
        crate::mm::copy_to_user(arg, &r)?;
        Ok(0)
    })())
}
