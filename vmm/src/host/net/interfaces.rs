//! The network interfaces the guest's netlink route sockets describe
//! (`getifaddrs`, `if_nameindex`, Node's `os.networkInterfaces()`, `ip`):
//! the host's, read once at start (before the monitor is locked down), as
//! the guest shares the host's network by default; under `--net none` only
//! a loopback interface, as a container without a network has.
//!
//! The monitor encodes each interface and address as the body of an
//! `RTM_NEWLINK` or `RTM_NEWADDR` message (Linux's `ifinfomsg`/`ifaddrmsg`
//! and attributes); the guest kernel frames them for each request
//! (`NET_INTERFACES`). Nothing of the guest's reaches this code.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use super::policy::Mode;
use hx_abi::hypercall::{RTM_NEWADDR, RTM_NEWLINK};
use std::ffi::CStr;
use std::net::{Ipv4Addr, Ipv6Addr};

const IFLA_ADDRESS: u16 = 1;
const IFLA_BROADCAST: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_HOST: u8 = 254;
const ARPHRD_LOOPBACK: u16 = 772;
const IF_OPER_UNKNOWN: u8 = 0;
const IF_OPER_DOWN: u8 = 2;
const IF_OPER_UP: u8 = 6;

struct Message {
    kind: u16,
    body: Vec<u8>,
}

fn attr(body: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    body.extend_from_slice(&(len as u16).to_le_bytes());
    body.extend_from_slice(&kind.to_le_bytes());
    body.extend_from_slice(value);
    body.resize(body.len().next_multiple_of(4), 0);
}

fn name_attr(body: &mut Vec<u8>, kind: u16, name: &[u8]) {
    let mut z = name.to_vec();
    z.push(0);
    attr(body, kind, &z);
}

struct Link<'a> {
    index: i32,
    name: &'a [u8],
    flags: u32,
    hw_type: u16,
    hw_addr: &'a [u8],
    hw_broadcast: &'a [u8],
}

/// An interface's MTU and transmit queue length (`SIOCGIFMTU`,
/// `SIOCGIFTXQLEN` on any socket; a few µs, where reading sysfs cost
/// ≈ 0.15 ms of every start).
fn link_numbers(sock: Option<&std::os::fd::OwnedFd>, name: &[u8], loopback: bool) -> (u32, u32) {
    use std::os::fd::AsRawFd;
    let defaults = if loopback { (65536, 1000) } else { (1500, 1000) };
    let Some(sock) = sock.filter(|_| name.len() < libc::IFNAMSIZ) else { return defaults };
    // SAFETY: an all-zero ifreq is valid; the name fits (checked above).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    let mut ask = |what: libc::c_ulong| {
        // SAFETY: an interface ioctl on our socket, into our ifreq.
        let ok = unsafe { libc::ioctl(sock.as_raw_fd(), what, &mut req) } == 0;
        // SAFETY: these ioctls fill the union's int (zero otherwise).
        ok.then_some(unsafe { req.ifr_ifru.ifru_mtu } as u32)
    };
    const SIOCGIFTXQLEN: libc::c_ulong = 0x8942;
    (ask(libc::SIOCGIFMTU).unwrap_or(defaults.0), ask(SIOCGIFTXQLEN).unwrap_or(defaults.1))
}

fn link(l: &Link, numbers: (u32, u32)) -> Message {
    let mut body = Vec::new();
    // ifinfomsg: family, pad, type, index, flags, change.
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&l.hw_type.to_le_bytes());
    body.extend_from_slice(&l.index.to_le_bytes());
    body.extend_from_slice(&l.flags.to_le_bytes());
    body.extend_from_slice(&0u32.to_le_bytes());
    name_attr(&mut body, IFLA_IFNAME, l.name);
    attr(&mut body, IFLA_TXQLEN, &numbers.1.to_le_bytes());
    // Linux's operational state as its flags show it (a loopback's is "unknown").
    let up = (libc::IFF_UP | libc::IFF_RUNNING) as u32;
    let oper = if l.hw_type == ARPHRD_LOOPBACK {
        IF_OPER_UNKNOWN
    } else if l.flags & up == up {
        IF_OPER_UP
    } else {
        IF_OPER_DOWN
    };
    attr(&mut body, IFLA_OPERSTATE, &[oper]);
    attr(&mut body, IFLA_MTU, &numbers.0.to_le_bytes());
    attr(&mut body, IFLA_ADDRESS, l.hw_addr);
    attr(&mut body, IFLA_BROADCAST, l.hw_broadcast);
    Message { kind: RTM_NEWLINK, body }
}

struct Address<'a> {
    index: i32,
    label: &'a [u8],
    ip: std::net::IpAddr,
    prefix: u8,
    broadcast: Option<Ipv4Addr>,
}

fn address(a: &Address) -> Message {
    let (family, scope, bytes) = match a.ip {
        std::net::IpAddr::V4(v4) => {
            let scope = if v4.is_loopback() { RT_SCOPE_HOST } else { RT_SCOPE_UNIVERSE };
            (libc::AF_INET as u8, scope, v4.octets().to_vec())
        }
        std::net::IpAddr::V6(v6) => {
            let scope = if v6.is_loopback() {
                RT_SCOPE_HOST
            } else if v6.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80) {
                RT_SCOPE_LINK
            } else {
                RT_SCOPE_UNIVERSE
            };
            (libc::AF_INET6 as u8, scope, v6.octets().to_vec())
        }
    };
    let mut body = vec![family, a.prefix, IFA_F_PERMANENT as u8, scope];
    body.extend_from_slice(&a.index.to_le_bytes());
    attr(&mut body, IFA_ADDRESS, &bytes);
    if family == libc::AF_INET as u8 {
        attr(&mut body, IFA_LOCAL, &bytes);
        if let Some(b) = a.broadcast {
            attr(&mut body, IFA_BROADCAST, &b.octets());
        }
        name_attr(&mut body, IFA_LABEL, a.label);
    }
    attr(&mut body, IFA_FLAGS, &IFA_F_PERMANENT.to_le_bytes());
    Message { kind: RTM_NEWADDR, body }
}

/// A loopback interface alone (`--net none`, or a host that lists none).
fn loopback_only() -> Vec<Message> {
    const LOOPBACK_FLAGS: u32 = (libc::IFF_UP | libc::IFF_LOOPBACK | libc::IFF_RUNNING) as u32 | 0x1_0000; // IFF_LOWER_UP
    let zeros = [0u8; 6];
    vec![
        link(
            &Link {
                index: 1,
                name: b"lo",
                flags: LOOPBACK_FLAGS,
                hw_type: ARPHRD_LOOPBACK,
                hw_addr: &zeros,
                hw_broadcast: &zeros,
            },
            (65536, 1000),
        ),
        address(&Address { index: 1, label: b"lo", ip: Ipv4Addr::LOCALHOST.into(), prefix: 8, broadcast: None }),
        address(&Address { index: 1, label: b"lo", ip: Ipv6Addr::LOCALHOST.into(), prefix: 128, broadcast: None }),
    ]
}

fn prefix_len(mask: &[u8]) -> u8 {
    mask.iter().map(|b| b.count_ones()).sum::<u32>() as u8
}

/// The host's interfaces and addresses, links first (as a dump lists them).
fn host_interfaces() -> Vec<Message> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return loopback_only();
    }
    let (mut links, mut addrs) = (Vec::new(), Vec::new());
    // SAFETY: a datagram socket for the interface ioctls, closed when dropped.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    // SAFETY: `fd` was just made and is ours.
    let sock = (fd >= 0).then(|| unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    let mut at = head;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs made, alive until freeifaddrs.
        let ifa = unsafe { &*at };
        at = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: a NUL-terminated name from getifaddrs.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_bytes();
        // SAFETY: ifa_addr is non-null and starts with a family.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        // SAFETY: if_nametoindex reads the NUL-terminated name.
        let index = unsafe { libc::if_nametoindex(ifa.ifa_name) } as i32;
        match family {
            libc::AF_PACKET => {
                // SAFETY: an AF_PACKET address is a sockaddr_ll.
                let ll = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_ll) };
                let hw = ll.sll_addr.get(..usize::from(ll.sll_halen).min(8)).unwrap_or(&[]);
                let broadcast: Vec<u8> = if ifa.ifa_ifu.is_null() {
                    vec![0; hw.len()]
                } else {
                    // SAFETY: for AF_PACKET the broadcast address is a sockaddr_ll too.
                    let b = unsafe { &*(ifa.ifa_ifu as *const libc::sockaddr_ll) };
                    b.sll_addr.get(..usize::from(b.sll_halen).min(8)).unwrap_or(&[]).to_vec()
                };
                let numbers = link_numbers(sock.as_ref(), name, ll.sll_hatype == ARPHRD_LOOPBACK);
                links.push(link(
                    &Link {
                        index: ll.sll_ifindex,
                        name,
                        flags: ifa.ifa_flags,
                        hw_type: ll.sll_hatype,
                        hw_addr: hw,
                        hw_broadcast: &broadcast,
                    },
                    numbers,
                ));
            }
            libc::AF_INET => {
                // SAFETY: an AF_INET address is a sockaddr_in (so is its netmask).
                let ip = Ipv4Addr::from(u32::from_be(unsafe {
                    (*(ifa.ifa_addr as *const libc::sockaddr_in)).sin_addr.s_addr
                }));
                let prefix = if ifa.ifa_netmask.is_null() {
                    32
                } else {
                    // SAFETY: as above.
                    let m = unsafe { (*(ifa.ifa_netmask as *const libc::sockaddr_in)).sin_addr.s_addr };
                    prefix_len(&m.to_ne_bytes())
                };
                let broadcast =
                    (ifa.ifa_flags & libc::IFF_BROADCAST as u32 != 0 && !ifa.ifa_ifu.is_null()).then(|| {
                        // SAFETY: with IFF_BROADCAST, ifa_ifu is the broadcast sockaddr_in.
                        Ipv4Addr::from(u32::from_be(unsafe {
                            (*(ifa.ifa_ifu as *const libc::sockaddr_in)).sin_addr.s_addr
                        }))
                    });
                addrs.push(address(&Address { index, label: name, ip: ip.into(), prefix, broadcast }));
            }
            libc::AF_INET6 => {
                // SAFETY: an AF_INET6 address is a sockaddr_in6 (so is its netmask).
                let ip = Ipv6Addr::from(unsafe { (*(ifa.ifa_addr as *const libc::sockaddr_in6)).sin6_addr.s6_addr });
                let prefix = if ifa.ifa_netmask.is_null() {
                    128
                } else {
                    // SAFETY: as above.
                    prefix_len(&unsafe { (*(ifa.ifa_netmask as *const libc::sockaddr_in6)).sin6_addr.s6_addr })
                };
                addrs.push(address(&Address { index, label: name, ip: ip.into(), prefix, broadcast: None }));
            }
            _ => {}
        }
    }
    // SAFETY: frees the list getifaddrs made; nothing points into it any more.
    unsafe { libc::freeifaddrs(head) };
    if links.is_empty() {
        return loopback_only();
    }
    links.extend(addrs);
    links
}

/// What `NET_INTERFACES` answers: records of `u16` message type, `u16` 0,
/// `u32` body length, the body (padded to 4 bytes), links first.
pub fn snapshot(mode: Mode) -> Vec<u8> {
    let messages = if mode == Mode::None { loopback_only() } else { host_interfaces() };
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(&m.kind.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&(m.body.len() as u32).to_le_bytes());
        out.extend_from_slice(&m.body);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}
