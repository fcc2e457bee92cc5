//! Function-call syscalls for unmodified binaries (`--rewrite-syscalls`).
//!
//! A `syscall` instruction costs a trap here (the host intercepts it); a jump
//! costs nothing. Once a process has made enough trap-path syscalls, when a
//! `syscall` instruction keeps trapping (`HOT`), the kernel finds the
//! function it came from in its image's unwind table (`image`), decodes the
//! function from its first byte (`plan`), and replaces each `syscall` in it,
//! together with the instructions just before it, by a jump to a stub of
//! its own (`stubs`). The stub runs the moved instructions and enters the
//! kernel exactly as the instruction would (`rcx` = the address after it,
//! `r11` = the flags, the stack untouched, red zone included), so the call
//! behaves as through the trap path, restarts and signals included.
//!
//! Code is rewritten only where no saved context points inside a window
//! being replaced: no signal handler is running (an interrupted context on
//! a signal stack could be anywhere), and the process's other threads are
//! stopped (`quiesce`, as for `fork`) with their saved registers looked at:
//! a window one of them is inside stays as it is. A syscall about to be
//! restarted at a `syscall` instruction that a window has replaced since
//! starts again at the window's stub instead (`restart_point`), which does
//! the same.
//! Writable and shared mappings are never rewritten (JIT code stays on the
//! trap path), and nothing reaches the file: a mapping's pages are private.
mod image;
mod plan;
mod stubs;
mod symbols;

use crate::sched::quiesce;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use spin::Mutex;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Signal frames pushed and not yet returned from (`rt_sigreturn`). A
/// handler left by `longjmp` keeps it above zero: rewriting then stops,
/// which is always safe.
static HANDLERS: AtomicI64 = AtomicI64::new(0);

/// Sites and functions looked at are remembered so that each costs one look;
/// past these many, new ones are no longer looked at.
const MAX_REMEMBERED: usize = 16 * 1024;

/// When to rewrite, as a rent-or-buy choice: a process's first rewrite
/// costs ≈ 1.5 ms here (the decoder builds its tables, the stub area and a
/// copied code page are touched for the first time), a trap ≈ 1.3 µs. So a
/// process rewrites only once it has spent about as much on traps
/// (`PROCESS_TRAPS`), and then only sites that keep trapping (`HOT` more
/// times; sites are counted only from then on, so that the traps of a
/// short-lived program cost one atomic add here and no lock): a
/// short-lived program (a shell, `python3 -c`) never pays, a loop pays it
/// back within a few thousand calls.
const PROCESS_TRAPS: u64 = 1000;
const HOT: u32 = 16;
/// How long a rewrite waits for the other vCPUs to stop before it gives up.
const STOP_PATIENCE_NS: u64 = 5_000_000;
const CONSIDERED: u32 = u32::MAX;
/// A site whose rewrite was put off — the other vCPUs did not stop in time
/// (a loaded host may not run their threads for milliseconds), or another
/// thread stood inside its window — is tried again once it traps twice as
/// many times as before, at most this many times.
const MAX_TRIES: u8 = 6;

/// Trap-path syscalls this process made.
static TRAPS: AtomicU64 = AtomicU64::new(0);

struct State {
    /// Traps from each `syscall` instruction (by its return address) so
    /// far; `CONSIDERED` once its function was looked at.
    sites: BTreeMap<u64, u32>,
    /// Starts of functions already decoded.
    functions: BTreeSet<u64>,
    /// Each rewritten site, by the address after its `syscall`.
    installed: BTreeMap<u64, Installed>,
    areas: Vec<stubs::Area>,
    listed: image::Listed,
    /// Sites whose rewrite was put off, with how many times.
    put_off: BTreeMap<u64, u8>,
    /// Windows of functions already decoded that were left out because
    /// another thread stood inside, by the address after their `syscall`.
    deferred: BTreeMap<u64, Replacement>,
}

struct Installed {
    /// Where its stub enters the kernel: a restarted syscall starts there again.
    restart: u64,
    /// The window and the bytes it held, put back if the stub goes away.
    start: u64,
    original: Vec<u8>,
}

static STATE: Mutex<State> = Mutex::new(State {
    sites: BTreeMap::new(),
    functions: BTreeSet::new(),
    installed: BTreeMap::new(),
    areas: Vec::new(),
    listed: BTreeMap::new(),
    put_off: BTreeMap::new(),
    deferred: BTreeMap::new(),
});

pub fn init(flags: u64) {
    ENABLED.store(flags & hx_abi::boot::FLAG_REWRITE != 0, Ordering::Relaxed);
}

pub fn handler_pushed() {
    HANDLERS.fetch_add(1, Ordering::Relaxed);
}

pub fn handler_returned() {
    let _ = HANDLERS.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some((n - 1).max(0)));
}

/// A trap-path syscall whose `syscall` instruction ends at `site_end`
/// returned `ret` to the program: rewrite its function if that is safe now.
pub fn after_trap(site_end: u64, ret: u64) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    // Until the process made enough traps, one atomic add is all a trap costs here.
    if TRAPS.fetch_add(1, Ordering::Relaxed) < PROCESS_TRAPS {
        return;
    }
    // A syscall about to restart goes back to its `syscall` instruction.
    let restarting = (-(ret as i64)) as u64 & !0xf == 512;
    if restarting || HANDLERS.load(Ordering::Relaxed) != 0 || quiesce::held_here() {
        return;
    }
    {
        let mut state = STATE.lock();
        let full = state.sites.len() >= MAX_REMEMBERED;
        let hot = HOT << state.put_off.get(&site_end).copied().unwrap_or(0);
        let traps = match state.sites.get_mut(&site_end) {
            Some(n) => n,
            None if full => return,
            None => state.sites.entry(site_end).or_insert(0),
        };
        if *traps == CONSIDERED {
            return;
        }
        *traps += 1;
        if *traps < hot {
            return;
        }
    }
    // No lock is held here, as stopping the other vCPUs requires. One that
    // does not stop soon (its thread waits in a host call, maybe for this
    // one) means no rewrite of this site: waiting could be for ever.
    let _stopped = if crate::sched::multi_threaded() {
        match quiesce::try_stop_others(STOP_PATIENCE_NS) {
            Some(stopped) => Some(stopped),
            None => {
                STATE.lock().put_off(site_end);
                return;
            }
        }
    } else {
        None
    };
    if HANDLERS.load(Ordering::Relaxed) != 0 {
        return;
    }
    let mut state = STATE.lock();
    if state.sites.insert(site_end, CONSIDERED) == Some(CONSIDERED) {
        return;
    }
    let elsewhere = other_threads_rips();
    if let Some(window) = state.deferred.remove(&site_end) {
        state.install(window, &elsewhere);
        return;
    }
    let Some(function) = image::function_at(site_end - 2, &mut state.listed) else {
        return;
    };
    if !state.functions.insert(function.start) {
        return;
    }
    let Some(code) = image::code(&function) else {
        return;
    };
    for window in plan::windows(&code, function.start) {
        let original = code[(window.start - function.start) as usize..(window.end - function.start) as usize].to_vec();
        state.install(Replacement { window, original }, &elsewhere);
    }
}

/// A window with the bytes it replaces.
struct Replacement {
    window: plan::Window,
    original: Vec<u8>,
}

impl State {
    /// Installs `w`'s stub, unless a thread's saved `rip` (`elsewhere`) is
    /// inside it: then it waits until its site is hot again.
    fn install(&mut self, w: Replacement, elsewhere: &[u64]) {
        let (start, end) = (w.window.start, w.window.end);
        if elsewhere.iter().any(|&rip| start < rip && rip < end) {
            if self.put_off(end) {
                self.deferred.insert(end, w);
            }
            return;
        }
        if let Some(restart) = stubs::install(&mut self.areas, &w.window) {
            self.installed.insert(end, Installed { restart, start, original: w.original });
        }
    }

    /// The rewrite of the site ending at `site_end` could not be done now:
    /// it is tried again later, unless it was tried too often. Returns
    /// whether it will be.
    fn put_off(&mut self, site_end: u64) -> bool {
        let tries = self.put_off.entry(site_end).or_insert(0);
        *tries += 1;
        let again = *tries < MAX_TRIES;
        self.sites.insert(site_end, if again { 0 } else { CONSIDERED });
        again
    }
}

/// `[start, end)` was unmapped or mapped anew: its sites, functions and
/// stub areas are no longer what was looked at.
pub fn forget(start: u64, end: u64) {
    // Before its 1000th trap a process has recorded nothing: every mmap and
    // munmap comes here, most of them in programs that never rewrite.
    if !ENABLED.load(Ordering::Relaxed) || start >= end || TRAPS.load(Ordering::Relaxed) < PROCESS_TRAPS {
        return;
    }
    let mut state = STATE.lock();
    // Every mmap and munmap comes here: only the ranges touched are walked.
    let sites: Vec<u64> = state.sites.range(start..end).map(|(&s, _)| s).collect();
    sites.iter().for_each(|s| _ = state.sites.remove(s));
    let functions: Vec<u64> = state.functions.range(start..end).copied().collect();
    functions.iter().for_each(|f| _ = state.functions.remove(f));
    let put_off: Vec<u64> = state.put_off.range(start..=end).map(|(&s, _)| s).collect();
    put_off.iter().for_each(|s| _ = state.put_off.remove(s));
    let deferred: Vec<u64> = state.deferred.range(start..=end).map(|(&s, _)| s).collect();
    deferred.iter().for_each(|s| _ = state.deferred.remove(s));
    let gone: Vec<u64> = state.installed.range(start..=end).map(|(&s, _)| s).collect();
    gone.iter().for_each(|s| _ = state.installed.remove(s));
    if state.areas.iter().any(|a| a.overlaps(start, end)) {
        // The program unmapped or replaced a stub area: the sites that jump
        // there get their own instructions back.
        state.areas.retain(|a| !a.overlaps(start, end));
        let State { installed, .. } = &mut *state;
        installed.retain(|_, i| {
            let lost = (start..end).contains(&i.restart);
            if lost {
                let _ = stubs::write(i.start, &i.original);
            }
            !lost
        });
    }
}

/// Where the process's other threads (all stopped) will resume the program.
fn other_threads_rips() -> Vec<u64> {
    let me = crate::sched::current().tid;
    let threads = crate::sched::threads();
    threads
        .iter()
        .filter(|t| t.tid != me)
        // SAFETY: a stopped thread's registers are the frame at its kernel
        // stack top (saved at its last entry); it changes only when it runs.
        .map(|t| unsafe { (*crate::arch::entry::frame_at(t.kstack_top)).rip })
        .collect()
}

/// Where a syscall that came from a rewritten site ending at `site_end`
/// starts again (its stub's way into the kernel).
pub fn restart_point(site_end: u64) -> Option<u64> {
    STATE.lock().installed.get(&site_end).map(|i| i.restart)
}
