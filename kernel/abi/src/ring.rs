//! Requests without exits: a page of guest RAM where the kernel posts a
//! request (its physical address) into a free slot and a monitor thread,
//! polling while requests keep coming, serves it while the vCPU spins on the
//! slot. When that thread is asleep (`Header::active` = 0) a request goes
//! the usual way, through an exit, and wakes it for the next ones.
//!
//! A slot's `state` moves FREE → CLAIMED (kernel) → POSTED (kernel) →
//! TAKEN (monitor) → DONE (monitor) → FREE (kernel). The kernel stores
//! POSTED and then reads `active` (both sequentially consistent); the monitor
//! stores `active` = 0 and then looks at every slot once more before it
//! sleeps: one of the two always sees the other, so no posted request waits
//! for a thread that went to sleep. If the kernel sees `active` = 0 after
//! posting, it sends `op::RING_WAKE` for its slot, and the vCPU's own monitor
//! thread serves it (or waits for the poller that took it).

/// Slots of the page: one header line, then one line per slot.
pub const SLOTS: usize = 63;
pub const LINE: u64 = 64;
/// The page's size (and alignment).
pub const PAGE: u64 = 4096;

/// `Header::active` at offset 0: whether the monitor's poller is running.
pub const OFF_ACTIVE: u64 = 0;
/// A slot's `state` and `req` (the request's physical address), at `LINE * (1 + i)`.
pub const OFF_STATE: u64 = 0;
pub const OFF_REQ: u64 = 8;

pub const FREE: u64 = 0;
pub const CLAIMED: u64 = 1;
pub const POSTED: u64 = 2;
pub const TAKEN: u64 = 3;
pub const DONE: u64 = 4;

/// The offset of slot `i`.
pub const fn slot(i: usize) -> u64 {
    LINE * (1 + i as u64)
}

/// `Request::ret` of a request the poller will not serve without blocking
/// (a blocking read, a poll that must wait, an exit): the kernel sends it
/// again through an exit. No errno is this large.
pub const RETRY: i64 = -(1 << 40);

/// Requests that never travel through the ring: they block, end or reshape
/// the VM, fork the monitor, or are the ring's own. The kernel sends them
/// through an exit; the poller answers `RETRY` to one posted anyway.
pub fn exits_only(op: u32) -> bool {
    use crate::hypercall::op;
    matches!(
        op,
        op::EXIT
            | op::FORK
            | op::VFORK
            | op::EXEC
            | op::IDLE
            | op::KICK
            | op::SHOOTDOWN
            | op::INTERRUPT
            | op::SLEEP
            | op::MEMORY
            | op::WAIT
            | op::KILL
            | op::STOP
            | op::PGRP
            | op::RING
            | op::RING_WAKE
    )
}
