//! The `ioctl` commands the monitor runs on a host file for the guest
//! (`op::IOCTL`), and how each one's argument travels. Both sides read this
//! one table: the kernel copies an argument in or out of the program's
//! memory by it, the monitor checks every request against it (a command
//! not here is ENOTTY, as Linux says for a command a file does not know).
//!
//! The session commands (`TIOCSCTTY`, `TIOCGPGRP`…) name the guest's
//! sessions and process groups, not the host's: the monitor answers them
//! from its process table (`is_session`) and never runs them on the host.
//!
//! Left out on purpose: `TIOCSTI` (it types into the terminal, which
//! outlives the guest), `TIOCEXCL` (it would lock the user's terminal
//! against reopening after hx exits) and modem lines.

/// How a command's third argument travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arg {
    /// An integer passed by value (`args[2]` of the request).
    Value,
    /// A structure of this many bytes the command reads.
    In(usize),
    /// A structure of this many bytes the command writes.
    Out(usize),
}

pub const TCGETS: u64 = 0x5401;
pub const TCSETS: u64 = 0x5402;
pub const TCSETSW: u64 = 0x5403;
pub const TCSETSF: u64 = 0x5404;
pub const TCGETA: u64 = 0x5405;
pub const TCSETA: u64 = 0x5406;
pub const TCSETAW: u64 = 0x5407;
pub const TCSETAF: u64 = 0x5408;
pub const TCSBRK: u64 = 0x5409;
pub const TCXONC: u64 = 0x540a;
pub const TCFLSH: u64 = 0x540b;
pub const TIOCSCTTY: u64 = 0x540e;
pub const TIOCGPGRP: u64 = 0x540f;
pub const TIOCSPGRP: u64 = 0x5410;
pub const TIOCOUTQ: u64 = 0x5411;
pub const TIOCNOTTY: u64 = 0x5422;
pub const TIOCGSID: u64 = 0x5429;
pub const TIOCGWINSZ: u64 = 0x5413;
pub const TIOCSWINSZ: u64 = 0x5414;
/// `FIONREAD`, `TIOCINQ` and `SIOCINQ`: bytes ready to read.
pub const FIONREAD: u64 = 0x541b;
pub const TIOCPKT: u64 = 0x5420;
pub const TCSBRKP: u64 = 0x5425;
pub const TCGETS2: u64 = 0x802c_542a;
pub const TCSETS2: u64 = 0x402c_542b;
pub const TCSETSW2: u64 = 0x402c_542c;
pub const TCSETSF2: u64 = 0x402c_542d;
pub const TIOCGPTN: u64 = 0x8004_5430;
pub const TIOCSPTLCK: u64 = 0x4004_5431;
pub const TIOCGPKT: u64 = 0x8004_5438;
pub const TIOCGPTLCK: u64 = 0x8004_5439;
/// `SIOCOUTQ` (= `TIOCOUTQ`) has its own number for unsent bytes: `SIOCOUTQNSD`.
pub const SIOCOUTQNSD: u64 = 0x894b;
/// `SIOCATMARK`: whether the socket's read position is at the urgent mark.
pub const SIOCATMARK: u64 = 0x8905;

/// `struct termios` (the kernel's, 36 bytes), `struct termio` (18),
/// `struct termios2` (44), `struct winsize` (8).
const TERMIOS: usize = 36;
const TERMIO: usize = 18;
const TERMIOS2: usize = 44;
const WINSIZE: usize = 8;

/// Every command the monitor runs on a host file (its system call filter
/// allows these): the table's but the session commands.
pub const ALL: &[u64] = &[
    TCGETS,
    TCSETS,
    TCSETSW,
    TCSETSF,
    TCGETA,
    TCSETA,
    TCSETAW,
    TCSETAF,
    TCGETS2,
    TCSETS2,
    TCSETSW2,
    TCSETSF2,
    TIOCGWINSZ,
    TIOCSWINSZ,
    TCSBRK,
    TCSBRKP,
    TCXONC,
    TCFLSH,
    FIONREAD,
    TIOCOUTQ,
    SIOCOUTQNSD,
    SIOCATMARK,
    TIOCGPTN,
    TIOCGPKT,
    TIOCGPTLCK,
    TIOCPKT,
    TIOCSPTLCK,
];

/// How `cmd`'s argument travels, if the monitor runs it.
pub fn arg_of(cmd: u64) -> Option<Arg> {
    Some(match cmd {
        TCGETS => Arg::Out(TERMIOS),
        TCSETS | TCSETSW | TCSETSF => Arg::In(TERMIOS),
        TCGETA => Arg::Out(TERMIO),
        TCSETA | TCSETAW | TCSETAF => Arg::In(TERMIO),
        TCGETS2 => Arg::Out(TERMIOS2),
        TCSETS2 | TCSETSW2 | TCSETSF2 => Arg::In(TERMIOS2),
        TIOCGWINSZ => Arg::Out(WINSIZE),
        TIOCSWINSZ => Arg::In(WINSIZE),
        TCSBRK | TCSBRKP | TCXONC | TCFLSH => Arg::Value,
        FIONREAD | TIOCOUTQ | SIOCOUTQNSD | SIOCATMARK | TIOCGPTN | TIOCGPKT | TIOCGPTLCK => Arg::Out(4),
        TIOCPKT | TIOCSPTLCK | TIOCSPGRP => Arg::In(4),
        TIOCGPGRP | TIOCGSID => Arg::Out(4),
        TIOCSCTTY | TIOCNOTTY => Arg::Value,
        _ => return None,
    })
}

/// A session command: the guest's controlling terminal and foreground
/// process group, kept in the monitor's process table.
pub fn is_session(cmd: u64) -> bool {
    matches!(cmd, TIOCSCTTY | TIOCNOTTY | TIOCGPGRP | TIOCSPGRP | TIOCGSID)
}

/// Whether `cmd` may wait (for output to drain, for a break to end): the
/// monitor's poller, which never waits, sends it back to travel by exit.
pub fn may_wait(cmd: u64) -> bool {
    matches!(cmd, TCSBRK | TCSBRKP | TCSETSW | TCSETSF | TCSETAW | TCSETAF | TCSETSW2 | TCSETSF2)
}

/// The largest argument structure in the table.
pub const MAX_ARG: usize = TERMIOS2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_command_has_an_argument_that_fits() {
        for &cmd in ALL {
            match arg_of(cmd) {
                Some(Arg::In(n) | Arg::Out(n)) => assert!(n > 0 && n <= MAX_ARG, "{cmd:#x}"),
                Some(Arg::Value) => {}
                None => panic!("{cmd:#x} is listed but has no argument"),
            }
        }
        assert_eq!(arg_of(0x5412), None, "TIOCSTI must stay out");
        // One that may wait runs without the monitor's lock and writes nothing back.
        for &cmd in ALL.iter().filter(|&&c| may_wait(c)) {
            assert!(!matches!(arg_of(cmd), Some(Arg::Out(_))), "{cmd:#x}");
        }
        // The filter allows only `ALL`: a command the table runs but `ALL`
        // missed would stop the monitor.
        let more = [TCGETS2, TCSETS2, TCSETSW2, TCSETSF2, TIOCGPTN, TIOCSPTLCK, TIOCGPKT, TIOCGPTLCK];
        for cmd in (0x5400..0x5500).chain(0x8900..0x8a00).chain(more) {
            assert!(arg_of(cmd).is_none() || ALL.contains(&cmd) != is_session(cmd), "{cmd:#x}: ALL or session");
        }
    }
}
