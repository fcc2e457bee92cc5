//! The network policy (`--net`, `-p`): which sockets the guest may have on
//! the host's network, and the published ports it may listen on. The words
//! and defaults are Docker's: outgoing connections are allowed, a listener
//! is reachable from outside only on a published port.
use crate::sandbox::Errno;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// The host's network for outgoing traffic; listening only on published
    /// ports (and on loopback ephemeral ports, which nothing outside reaches).
    #[default]
    Default,
    /// No network: only `AF_UNIX` sockets.
    None,
    /// The host's network without limits (an explicit opt-in).
    Host,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" | "bridge" => Ok(Mode::Default),
            "none" => Ok(Mode::None),
            "host" => Ok(Mode::Host),
            _ => Err(format!("unknown network mode {s:?} (default, none or host)")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// `-p [HOST_IP:]HOST_PORT:GUEST_PORT[/udp]`: a guest port the host reaches at `host_port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub guest_port: u16,
    pub proto: Proto,
}

impl std::str::FromStr for Publish {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (spec, proto) = match s.rsplit_once('/') {
            Some((spec, "tcp")) => (spec, Proto::Tcp),
            Some((spec, "udp")) => (spec, Proto::Udp),
            Some((_, p)) => return Err(format!("unknown protocol {p:?} (tcp or udp)")),
            None => (s, Proto::Tcp),
        };
        let port = |p: &str| -> Result<u16, String> {
            p.parse::<u16>().ok().filter(|&n| n != 0).ok_or_else(|| format!("{p:?} is not a port (1-65535)"))
        };
        // The guest port is after the last colon, the host port before it; an
        // IPv6 host address may be bracketed ([::1]:8080:80).
        let (rest, guest) = spec.rsplit_once(':').ok_or("expected HOST_PORT:GUEST_PORT")?;
        let (host_ip, host_port) = match rest.rsplit_once(':') {
            Some((ip, hp)) => {
                let ip = ip.trim_start_matches('[').trim_end_matches(']');
                let ip: IpAddr = ip.parse().map_err(|_| format!("{ip:?} is not an IP address"))?;
                (Some(ip), hp)
            }
            None => (None, rest),
        };
        Ok(Publish { host_ip, host_port: port(host_port)?, guest_port: port(guest)?, proto })
    }
}

#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub mode: Mode,
    pub published: Vec<Publish>,
}

/// What a guest `bind` to an IP port becomes on the host.
#[derive(Debug, PartialEq, Eq)]
pub enum Bind {
    /// Bind the host socket to this port (and the published host address, if any).
    Port { port: u16, ip: Option<IpAddr> },
    /// Refused: the port is not published.
    Unpublished,
}

impl Policy {
    /// Whether the guest may have sockets of address family `family`.
    pub fn allows_family(&self, family: i32) -> Result<(), Errno> {
        match family {
            libc::AF_UNIX => Ok(()),
            libc::AF_INET | libc::AF_INET6 if self.mode != Mode::None => Ok(()),
            _ => Err(libc::EAFNOSUPPORT),
        }
    }

    /// The host port (and address) for a guest `bind` to `port`.
    pub fn bind(&self, proto: Proto, port: u16) -> Bind {
        if port == 0 || self.mode == Mode::Host {
            return Bind::Port { port, ip: None };
        }
        match self.published.iter().find(|p| p.proto == proto && p.guest_port == port) {
            Some(p) => Bind::Port { port: p.host_port, ip: p.host_ip },
            None => Bind::Unpublished,
        }
    }

    /// The guest's port for host port `port` of a bound socket (a published
    /// host port shows as the guest port it publishes).
    pub fn guest_port(&self, proto: Proto, port: u16) -> u16 {
        if self.mode == Mode::Host {
            return port;
        }
        self.published.iter().find(|p| p.proto == proto && p.host_port == port).map_or(port, |p| p.guest_port)
    }

    /// Where a guest connection to loopback port `port` goes: the guest's own
    /// published listener answers at the host port.
    pub fn loopback_port(&self, proto: Proto, port: u16) -> u16 {
        if self.mode == Mode::Host {
            return port;
        }
        self.published.iter().find(|p| p.proto == proto && p.guest_port == port).map_or(port, |p| p.host_port)
    }

    /// Whether a socket bound to host port `port` on `ip` may listen: a
    /// published port, or an ephemeral one on loopback.
    pub fn may_listen(&self, ip: IpAddr, port: u16) -> bool {
        self.mode == Mode::Host
            || self.published.iter().any(|p| p.proto == Proto::Tcp && p.host_port == port)
            || ip.is_loopback()
    }

    /// At start: every published host port must be free now, so that a
    /// clash is a clear error before the program runs, not an EADDRINUSE later.
    pub fn check_free(&self) -> anyhow::Result<()> {
        for p in &self.published {
            let ip = p.host_ip.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            let addr = std::net::SocketAddr::new(ip, p.host_port);
            let r = match p.proto {
                Proto::Tcp => std::net::TcpListener::bind(addr).map(drop),
                Proto::Udp => std::net::UdpSocket::bind(addr).map(drop),
            };
            if let Err(e) = r {
                anyhow::bail!("-p {}:{}: cannot use host port {} on {ip}: {e}", p.host_port, p.guest_port, p.host_port);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn publish_specs_parse_as_docker_writes_them() {
        let p: Publish = "8080:80".parse().unwrap();
        assert_eq!((p.host_ip, p.host_port, p.guest_port, p.proto), (None, 8080, 80, Proto::Tcp));
        let p: Publish = "127.0.0.1:5353:53/udp".parse().unwrap();
        assert_eq!(
            (p.host_ip, p.host_port, p.guest_port, p.proto),
            (Some("127.0.0.1".parse().unwrap()), 5353, 53, Proto::Udp)
        );
        let p: Publish = "[::1]:8443:443".parse().unwrap();
        assert_eq!(p.host_ip, Some("::1".parse().unwrap()));
        for bad in ["80", "0:80", "a:80", "8080:80/sctp", "1.2.3:8080:80", "70000:80"] {
            assert!(bad.parse::<Publish>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_published_ports_bind_and_they_translate_both_ways() {
        let policy = Policy { mode: Mode::Default, published: vec!["8080:80".parse().unwrap()] };
        assert_eq!(policy.bind(Proto::Tcp, 80), Bind::Port { port: 8080, ip: None });
        assert_eq!(policy.bind(Proto::Udp, 80), Bind::Unpublished);
        assert_eq!(policy.bind(Proto::Tcp, 81), Bind::Unpublished);
        assert_eq!(policy.bind(Proto::Tcp, 0), Bind::Port { port: 0, ip: None });
        assert_eq!(policy.guest_port(Proto::Tcp, 8080), 80);
        assert_eq!(policy.loopback_port(Proto::Tcp, 80), 8080);
        assert!(policy.may_listen("0.0.0.0".parse().unwrap(), 8080));
        assert!(!policy.may_listen("0.0.0.0".parse().unwrap(), 40000));
        assert!(policy.may_listen("127.0.0.1".parse().unwrap(), 40000));
        let none = Policy { mode: Mode::None, published: vec![] };
        assert_eq!(none.allows_family(libc::AF_INET), Err(libc::EAFNOSUPPORT));
        assert_eq!(none.allows_family(libc::AF_UNIX), Ok(()));
    }
}
