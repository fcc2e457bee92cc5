//! What hx-run tells the user about the guest: `--strace` lines, `--stats`
//! counters, warnings for unimplemented syscalls, and guest faults.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::memory::GuestRam;
use hx_abi::hypercall::{op, Request, PATH_REWRITTEN, PATH_VECTOR};
use hx_abi::stats::Stats;
use hx_abi::syscalls;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

pub struct Report {
    stats: bool,
    platform: &'static str,
    /// VM exits by reason.
    exits: BTreeMap<&'static str, u64>,
    /// Requests the poller served without an exit, by request.
    polled: BTreeMap<&'static str, u64>,
    warned: HashSet<u64>,
    warned_enough: bool,
    /// No guest-driven output at all (the fuzz harness).
    quiet: bool,
    /// Hints printed (see `hint`).
    hinted: Vec<String>,
}

/// Distinct unimplemented syscalls named in warnings.
const MAX_WARNED: usize = 256;

fn op_name(op: u32) -> &'static str {
    match op {
        op::EXIT => "exit",
        op::WRITE => "write",
        op::READ => "read",
        op::FSTAT => "fstat",
        op::IOCTL => "ioctl",
        op::CLOCK => "clock",
        op::RANDOM => "random",
        op::UNSUPPORTED => "unsupported-syscall",
        op::STRACE => "strace",
        op::LOG => "log",
        op::OPEN => "open",
        op::CLOSE => "close",
        op::PREAD => "pread",
        op::PWRITE => "pwrite",
        op::LSEEK => "lseek",
        op::STAT => "stat",
        op::ACCESS => "access",
        op::READLINK => "readlink",
        op::GETDENTS => "getdents",
        op::UNLINK => "unlink",
        op::MKDIR => "mkdir",
        op::RENAME => "rename",
        op::FTRUNCATE => "ftruncate",
        op::FSYNC => "fsync",
        op::UTIMENS => "utimens",
        op::STATFS => "statfs",
        op::SLEEP => "sleep",
        op::SETFL => "setfl",
        op::CHMOD => "chmod",
        op::SYMLINK => "symlink",
        op::LINK => "link",
        op::POLL => "poll",
        op::IDLE => "idle",
        op::KICK => "kick",
        op::SHOOTDOWN => "shootdown",
        op::INTERRUPT => "interrupt",
        op::DISCARD => "discard",
        op::FORK => "fork",
        op::VFORK => "vfork",
        op::FUTEX => "futex",
        op::INOTIFY => "inotify",
        op::SYSV => "sysv",
        op::XATTR => "xattr",
        op::CREDS => "creds",
        op::MOUNTS => "mounts",
        op::STOP => "stop",
        op::EVENTFD => "eventfd",
        op::MQUEUE => "mqueue",
        op::LEASE => "lease",
        op::REOPEN => "reopen",
        op::TEE => "tee",
        op::LAUNCH => "launch",
        op::EXEC => "exec",
        op::MEMORY => "memory",
        op::WAIT => "wait",
        op::KILL => "kill",
        op::PIPE => "pipe",
        op::PGRP => "pgrp",
        op::CHOWN => "chown",
        op::NET => "net",
        op::RING => "ring",
        op::RING_WAKE => "ring-wake",
        op::WATCH => "watch",
        op::MAP_SHARED => "map-shared",
        op::UNMAP_SHARED => "unmap-shared",
        op::SYNC_SHARED => "sync-shared",
        op::MEMFD => "memfd",
        op::LOCK => "lock",
        op::FALLOCATE => "fallocate",
        _ => "unknown",
    }
}

pub fn syscall_name(nr: u64) -> String {
    syscalls::info(nr).map_or_else(|| format!("syscall_{nr}"), |s| s.name.to_string())
}

pub fn errno_name(e: i64) -> &'static str {
    match e {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        24 => "EMFILE",
        25 => "ENOTTY",
        28 => "ENOSPC",
        29 => "ESPIPE",
        30 => "EROFS",
        32 => "EPIPE",
        34 => "ERANGE",
        36 => "ENAMETOOLONG",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        _ => "E?",
    }
}

fn quote(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

impl Report {
    pub fn new(stats: bool, platform: &'static str) -> Self {
        Self {
            stats,
            platform,
            exits: BTreeMap::new(),
            polled: BTreeMap::new(),
            warned: HashSet::new(),
            warned_enough: false,
            quiet: false,
            hinted: Vec::new(),
        }
    }

    /// A monitor that stands for another process from now on (a spare
    /// made again, `process::spare`): that process's warnings and counts
    /// start afresh.
    pub fn restart(&mut self) {
        let quiet = self.quiet;
        *self = Self::new(self.stats, self.platform);
        self.quiet = quiet;
    }

    /// Distinct syscall numbers warned about (bounded by `MAX_WARNED`).
    pub fn warned_count(&self) -> usize {
        self.warned.len()
    }

    /// Drops every line the guest causes (warnings, trace, kernel log, stats):
    /// they are still formatted, so the fuzz harness exercises that code.
    pub fn set_quiet(&mut self) {
        self.quiet = true;
    }

    /// A message from the guest kernel.
    pub fn kernel_log(&self, text: &[u8]) {
        if !self.quiet {
            eprintln!("hx-run: guest kernel: {}", String::from_utf8_lossy(text));
        }
    }

    pub fn count_exit(&mut self, reason: &'static str) {
        *self.exits.entry(reason).or_default() += 1;
    }

    /// A request the poller served without an exit.
    pub fn count_polled(&mut self, op: u32) {
        *self.polled.entry(op_name(op)).or_default() += 1;
    }

    pub fn count_request(&mut self, op: u32) {
        self.count_exit(op_name(op));
    }

    /// A one-line hint for the user (why a policy refused a call), each text
    /// once, up to `MAX_WARNED` distinct texts.
    pub fn hint(&mut self, text: String) {
        if self.hinted.len() < MAX_WARNED && !self.hinted.contains(&text) {
            if !self.quiet {
                eprintln!("hx-run: {text}");
            }
            self.hinted.push(text);
        }
    }

    /// Warns once per syscall number; after `MAX_WARNED` distinct numbers (a
    /// program probing at random) once more, and then stays quiet.
    pub fn unsupported(&mut self, nr: u64) {
        if self.warned.len() < MAX_WARNED {
            if self.warned.insert(nr) && !self.quiet {
                eprintln!("hx-run: warning: unimplemented syscall {} ({nr}) returned ENOSYS", syscall_name(nr));
            }
        } else if !self.warned_enough {
            self.warned_enough = true;
            if !self.quiet {
                eprintln!("hx-run: warning: more unimplemented syscalls returned ENOSYS (not listed)");
            }
        }
    }

    /// Formats one `--strace` record: `[trap] write(1, "hi\n", 3) = 3`.
    pub fn strace(&mut self, req: &Request, strings: &[Vec<u8>]) {
        let nr = req.args[0];
        let fmt = syscalls::info(nr).map_or("xxxxxx", |s| s.args);
        let mut line = String::new();
        let path = match req.args[7] {
            PATH_VECTOR => "vector",
            PATH_REWRITTEN => "rewritten",
            _ => "trap",
        };
        let _ = write!(line, "[{path}] {}(", syscall_name(nr));
        let mut strings = strings.iter();
        for (i, c) in fmt.chars().enumerate().take(6) {
            if i > 0 {
                line.push_str(", ");
            }
            let a = req.args.get(1 + i).copied().unwrap_or_default();
            match c {
                'd' => {
                    let _ = write!(line, "{}", a as i64);
                }
                'u' => {
                    let _ = write!(line, "{a}");
                }
                'o' => {
                    let _ = write!(line, "0{a:o}");
                }
                'f' if a as i64 == -100 => line.push_str("AT_FDCWD"),
                'f' => {
                    let _ = write!(line, "{}", a as i32);
                }
                's' | 'w' => {
                    let s = strings.next().map(|v| v.as_slice()).unwrap_or_default();
                    quote(s, &mut line);
                    if c == 'w' && (s.len() as u64) < req.args.get(2 + i).copied().unwrap_or_default() {
                        line.push_str("...");
                    }
                }
                _ if a == 0 && c == 'p' => line.push_str("NULL"),
                _ => {
                    let _ = write!(line, "{a:#x}");
                }
            }
        }
        line.push(')');
        let is_exit = matches!(syscall_name(nr).as_str(), "exit" | "exit_group");
        if is_exit {
            line.push_str(" = ?");
        } else if (-4095..0).contains(&req.ret) {
            let _ = write!(line, " = -1 {}", errno_name(-req.ret));
        } else if fmt.starts_with('x') && matches!(syscall_name(nr).as_str(), "mmap" | "brk" | "mremap") {
            let _ = write!(line, " = {:#x}", req.ret);
        } else {
            let _ = write!(line, " = {}", req.ret);
        }
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// Prints `--stats` at exit from the kernel's counters at `stats_phys`.
    pub fn exit_stats(&mut self, mem: &GuestRam, stats_phys: u64) {
        if !self.stats {
            return;
        }
        let stats: Stats = match mem.read_obj(stats_phys) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hx-run: stats: unreadable ({e})");
                return;
            }
        };
        let mut out = format!(
            "hx-run: stats: platform: {}\nhx-run: stats: syscalls (trap path / vector / rewritten):\n",
            self.platform
        );
        let (mut trap, mut vector, mut rewritten) = (0, 0, 0);
        // The counters live in guest memory: any value, so no arithmetic that could overflow.
        for (nr, ((&t, &v), &r)) in stats.trap.iter().zip(stats.vector.iter()).zip(stats.rewritten.iter()).enumerate() {
            if t != 0 || v != 0 || r != 0 {
                let _ = writeln!(out, "  {:<24} {t:>8} / {v} / {r}", syscall_name(nr as u64));
                trap = u64::saturating_add(trap, t);
                vector = u64::saturating_add(vector, v);
                rewritten = u64::saturating_add(rewritten, r);
            }
        }
        let _ = writeln!(out, "  {:<24} {trap:>8} / {vector} / {rewritten}", "total");
        let total: u64 = self.exits.values().sum();
        let reasons: Vec<String> = self.exits.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "hx-run: stats: exits to the host: {total} ({})", reasons.join(", "));
        let polled: u64 = self.polled.values().sum();
        let reasons: Vec<String> = self.polled.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "hx-run: stats: requests served without an exit: {polled} ({})", reasons.join(", "));
        let _ =
            writeln!(out, "hx-run: stats: hypercalls: {}, CPL0 stub entries: {}", stats.hypercalls, stats.cpl0_entries);
        let _ = writeln!(out, "hx-run: stats: guest RAM touched: {} KiB", mem.touched_bytes() / 1024);
        if !self.quiet {
            eprint!("{out}");
        }
    }
}

/// The syscall coverage page (docs/syscalls.md), from the ABI's table of
/// names and the kernel's table of handlers.
pub fn coverage_markdown(implemented: &[u64]) -> String {
    let mut out = String::from(
        "# Syscall coverage\n\nGenerated by `hx-run --syscalls` from the kernel's syscall table; a test keeps it\n\
         current. A refused syscall returns the errno Linux gives a process without the privilege it needs\n\
         (the guest never has it, as a container without that capability) or a kernel built without the\n\
         feature. Every other syscall not implemented returns `-ENOSYS` and is named once on stderr.\n\n",
    );
    let refused = syscalls::REFUSALS.iter().filter(|r| !implemented.contains(&(r.nr as u64))).count();
    let _ = writeln!(
        out,
        "{} of {} x86-64 syscalls implemented, {refused} refused as Linux refuses them, {} not implemented.\n",
        implemented.len(),
        syscalls::SYSCALLS.len(),
        syscalls::SYSCALLS.len() - implemented.len() - refused
    );
    out.push_str("| nr | syscall | status |\n|---:|---|---|\n");
    for s in syscalls::SYSCALLS {
        let status = match syscalls::refusal(s.nr as u64) {
            _ if implemented.contains(&(s.nr as u64)) => "implemented".to_string(),
            Some(r) => format!("refused: {} ({})", errno_name(i64::from(r.errno)), r.why),
            None => "ENOSYS".to_string(),
        };
        let _ = writeln!(out, "| {} | `{}` | {status} |", s.nr, s.name);
    }
    out
}
