//! The socket options a guest may read or set: an allow-list, so that no
//! option reaches the host that could attach a filter, pick an interface,
//! mark packets or otherwise act beyond the guest's own socket.

/// Largest option value copied either way (`TCP_INFO` is the largest listed).
pub const MAX_VALUE: usize = 256;

/// Options both readable and settable.
const SETTABLE: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_REUSEADDR),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE),
    (libc::SOL_SOCKET, libc::SO_RCVBUF),
    (libc::SOL_SOCKET, libc::SO_SNDBUF),
    (libc::SOL_SOCKET, libc::SO_LINGER),
    (libc::SOL_SOCKET, libc::SO_RCVTIMEO),
    (libc::SOL_SOCKET, libc::SO_SNDTIMEO),
    (libc::SOL_SOCKET, libc::SO_RCVLOWAT),
    (libc::SOL_SOCKET, libc::SO_BROADCAST),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE),
    (libc::SOL_SOCKET, libc::SO_PRIORITY),
    (libc::SOL_SOCKET, libc::SO_TIMESTAMP),
    (libc::SOL_SOCKET, libc::SO_ZEROCOPY),
    (libc::SOL_SOCKET, libc::SO_BUSY_POLL),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT),
    (libc::IPPROTO_TCP, libc::TCP_CORK),
    (libc::IPPROTO_TCP, libc::TCP_QUICKACK),
    (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT),
    (libc::IPPROTO_TCP, libc::TCP_FASTOPEN),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG),
    (libc::IPPROTO_TCP, libc::TCP_NOTSENT_LOWAT),
    (libc::IPPROTO_IP, libc::IP_TOS),
    (libc::IPPROTO_IP, libc::IP_TTL),
    (libc::IPPROTO_IP, libc::IP_RECVERR),
    (libc::IPPROTO_IP, libc::IP_PKTINFO),
    (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL),
    (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS),
    (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVERR),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS),
    (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP),
];

/// Options only read.
const READABLE: &[(i32, i32)] = &[
    (libc::SOL_SOCKET, libc::SO_ERROR),
    (libc::SOL_SOCKET, libc::SO_TYPE),
    (libc::SOL_SOCKET, libc::SO_DOMAIN),
    (libc::SOL_SOCKET, libc::SO_PROTOCOL),
    (libc::SOL_SOCKET, libc::SO_ACCEPTCONN),
    // Translated: `peer_as_guest`.
    (libc::SOL_SOCKET, libc::SO_PEERCRED),
    (libc::IPPROTO_TCP, libc::TCP_INFO),
    (libc::IPPROTO_IP, libc::IP_MTU),
    (libc::IPPROTO_IPV6, libc::IPV6_MTU),
];

/// `SO_PEERCRED`'s `struct ucred` (pid, uid, gid, as the host saw the peer
/// when it connected) in the guest's terms: a peer of this tree (its
/// monitor's host pid) is its guest pid and effective ids; a process
/// outside the tree has no pid the guest can name (0, as Linux reports a
/// peer outside the caller's pid namespace).
pub fn peer_as_guest(ucred: &mut [u8; MAX_VALUE]) {
    use std::sync::atomic::Ordering;
    let word = |b: &[u8; MAX_VALUE], at: usize| {
        b.get(at..at + 4).and_then(|w| <[u8; 4]>::try_from(w).ok()).map_or(0, i32::from_ne_bytes)
    };
    let host_pid = word(ucred, 0);
    let guest = crate::process::table::by_host_pid(host_pid).map(|e| {
        let identity = crate::process::table::identity_of(e);
        (e.pid.load(Ordering::SeqCst), e.euid.load(Ordering::SeqCst), identity.gid)
    });
    let (pid, uid, gid) = match guest {
        Some((pid, uid, gid)) => (pid, uid, gid),
        None => (0, word(ucred, 4) as u32, word(ucred, 8) as u32),
    };
    for (at, v) in [(0, pid as u32), (4, uid), (8, gid)] {
        if let Some(w) = ucred.get_mut(at..at + 4) {
            w.copy_from_slice(&v.to_ne_bytes());
        }
    }
}

pub fn may_get(level: i32, name: i32) -> bool {
    SETTABLE.contains(&(level, name)) || READABLE.contains(&(level, name))
}

pub fn may_set(level: i32, name: i32) -> bool {
    SETTABLE.contains(&(level, name))
}
