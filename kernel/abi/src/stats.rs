//! Counters the kernel keeps for `--stats`; the monitor reads them at exit.
use crate::syscalls::MAX_SYSCALLS;

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Syscalls that arrived through the `syscall` instruction, by number.
    pub trap: [u64; MAX_SYSCALLS],
    /// Syscalls that arrived as calls through the kernel's vector, by number.
    pub vector: [u64; MAX_SYSCALLS],
    /// Syscalls that arrived from a rewritten `syscall` instruction's stub.
    pub rewritten: [u64; MAX_SYSCALLS],
    /// Entries into CPL0 stubs the kernel made (TLB flushes and the like).
    pub cpl0_entries: u64,
    /// Requests the kernel sent to the monitor.
    pub hypercalls: u64,
}

impl Stats {
    pub const fn new() -> Self {
        Self {
            trap: [0; MAX_SYSCALLS],
            vector: [0; MAX_SYSCALLS],
            rewritten: [0; MAX_SYSCALLS],
            cpl0_entries: 0,
            hypercalls: 0,
        }
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}
