//! Stopping the other vCPUs for `fork`. A forked child gets a copy of all
//! kernel memory at one instant; a lock another vCPU held at that instant
//! would stay held in the child forever (its holder does not exist there).
//! So before the copy, every other vCPU is brought to a point where it holds
//! no lock: idle in the monitor, or waiting at the gate on its way back to
//! the program. Linux needs none of this because a fork copies only the
//! address space, not the kernel's own state.
//!
//! `ACTIVE` has a bit per vCPU that may be running kernel or program code.
//! A vCPU clears it only where it holds no lock, and sets it again before it
//! takes one, then checks `GATE`: if a fork closed it meanwhile, it backs
//! off. The forker closes `GATE`, then waits for the other bits to clear.
//! Both sides store then load with `SeqCst`, so at least one sees the other.
use crate::arch::percpu;
use crate::{host, time};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use hx_abi::hypercall::op;

/// 0: open; else 1 + the vCPU whose fork closed it.
static GATE: AtomicU32 = AtomicU32::new(0);
static ACTIVE: AtomicU64 = AtomicU64::new(0);

/// How long a vCPU at the gate spins before it gives its host thread back.
const SPIN_NS: u64 = 20_000;
/// How long it then sleeps between looks (a fork takes milliseconds).
const NAP_NS: u64 = 300_000;
/// How often the forker interrupts a vCPU that has not stopped yet.
const NUDGE_NS: u64 = 1_000_000;

fn my_bit() -> u64 {
    1 << percpu::cpu()
}

/// This vCPU holds no lock and will check the gate before it takes one.
pub fn enter_safe() {
    ACTIVE.fetch_and(!my_bit(), Ordering::SeqCst);
}

/// This vCPU is about to take locks: wait while a fork has the gate.
pub fn leave_safe() {
    loop {
        ACTIVE.fetch_or(my_bit(), Ordering::SeqCst);
        if !closed_by_another(GATE.load(Ordering::SeqCst)) {
            return;
        }
        ACTIVE.fetch_and(!my_bit(), Ordering::SeqCst);
        wait_for_open_gate();
    }
}

/// On the way back to the program (no lock held): stop here while a fork
/// has the gate. One relaxed load when none does.
#[inline]
pub fn stop_here_if_forking() {
    if closed_by_another(GATE.load(Ordering::Relaxed)) {
        enter_safe();
        leave_safe();
    }
}

/// Whether `gate` (a value of `GATE`) holds this vCPU back: closed, and not
/// by this vCPU's own fork (its thread may switch while the copy is made).
fn closed_by_another(gate: u32) -> bool {
    gate != 0 && gate != percpu::cpu() as u32 + 1
}

fn wait_for_open_gate() {
    let start = time::monotonic_ns();
    while closed_by_another(GATE.load(Ordering::Acquire)) {
        let now = time::monotonic_ns();
        if now - start < SPIN_NS {
            core::hint::spin_loop();
        } else {
            let _ = host::simple(op::IDLE, &[now + NAP_NS]);
        }
    }
}

/// Holds every other vCPU away from kernel locks until dropped.
pub struct Stopped(());

impl Drop for Stopped {
    fn drop(&mut self) {
        GATE.store(0, Ordering::Release);
    }
}

/// Whether this vCPU has the other vCPUs stopped (a `vfork` child runs).
pub fn held_here() -> bool {
    GATE.load(Ordering::Relaxed) == percpu::cpu() as u32 + 1
}

/// Brings every other vCPU to a point where it holds no lock. The caller
/// holds none either (a vCPU may wait for it).
pub fn stop_others() -> Stopped {
    let me = percpu::cpu() as u32 + 1;
    while GATE.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        // Another vCPU forks: be one of those it waits for.
        enter_safe();
        wait_for_open_gate();
        leave_safe();
    }
    let mut nudged_at = 0;
    loop {
        let others = ACTIVE.load(Ordering::SeqCst) & !my_bit();
        if others == 0 {
            return Stopped(());
        }
        let now = time::monotonic_ns();
        if now - nudged_at >= NUDGE_NS {
            // A vCPU in program code enters the kernel and reaches the gate
            // on its way back; one in kernel code reaches it by itself.
            for cpu in (0..64).filter(|c| others & (1 << c) != 0) {
                super::interrupt_cpu(cpu);
            }
            nudged_at = now;
        }
        core::hint::spin_loop();
    }
}

/// As [`stop_others`], for work that may be skipped (rewriting a syscall
/// site): gives up — `None`, the gate open again — if another vCPU has the
/// gate, or if the others have not all stopped within `patience_ns`. A vCPU
/// whose thread waits in a host call (a blocking send to a full socket)
/// stops only when that call returns, which may wait for this very thread.
pub fn try_stop_others(patience_ns: u64) -> Option<Stopped> {
    let me = percpu::cpu() as u32 + 1;
    GATE.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst).ok()?;
    let start = time::monotonic_ns();
    let mut nudged_at = 0;
    loop {
        let others = ACTIVE.load(Ordering::SeqCst) & !my_bit();
        if others == 0 {
            return Some(Stopped(()));
        }
        let now = time::monotonic_ns();
        if now - start >= patience_ns {
            GATE.store(0, Ordering::Release);
            return None;
        }
        if now - nudged_at >= NUDGE_NS {
            for cpu in (0..64).filter(|c| others & (1 << c) != 0) {
                super::interrupt_cpu(cpu);
            }
            nudged_at = now;
        }
        core::hint::spin_loop();
    }
}

/// In a forked child, once its state holds nothing of the parent's other
/// threads: lets its other vCPUs go. They held no lock at the copy and wait
/// at the gate if they started (their bits are taken off first: one that
/// sets its bit after this sees the gate either closed, and backs off, or open).
pub fn after_fork(stopped: Stopped) {
    ACTIVE.store(my_bit(), Ordering::SeqCst);
    drop(stopped);
}
