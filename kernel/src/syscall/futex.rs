//! futex for a single thread: wakes find no waiters, and a wait either
//! fails at once (the value changed) or, since no other thread can change
//! it, lasts until its timeout — or forever, as it would on Linux.
use super::Args;
use crate::errno::{Errno, SysResult, EAGAIN, EINVAL, ENOSYS};
use crate::{host, mm, time};
use hx_abi::hypercall::op;

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_CLOCK_REALTIME: u64 = 256;
const FUTEX_PRIVATE: u64 = 128;
const ETIMEDOUT: Errno = Errno(110);

pub fn futex([uaddr, op_, val, timeout, _uaddr2, val3]: Args) -> SysResult {
    let cmd = op_ & !(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
    if uaddr % 4 != 0 {
        return Err(EINVAL);
    }
    match cmd {
        FUTEX_WAKE | FUTEX_WAKE_BITSET | FUTEX_REQUEUE | FUTEX_CMP_REQUEUE | FUTEX_WAKE_OP => {
            if cmd == FUTEX_WAKE_BITSET && val3 == 0 {
                return Err(EINVAL);
            }
            if cmd == FUTEX_CMP_REQUEUE {
                let cur: u32 = mm::read_user(uaddr)?;
                if cur != val3 as u32 {
                    return Err(EAGAIN);
                }
            }
            Ok(0)
        }
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let cur: u32 = mm::read_user(uaddr)?;
            if cur != val as u32 {
                return Err(EAGAIN);
            }
            if timeout == 0 {
                // Nothing can ever wake this thread: wait as Linux would, on the host.
                loop {
                    host::simple(op::SLEEP, &[3_600_000_000_000])?;
                }
            }
            let [sec, nsec]: [i64; 2] = mm::read_user(timeout)?;
            if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
                return Err(EINVAL);
            }
            let t = sec as u64 * 1_000_000_000 + nsec as u64;
            // FUTEX_WAIT takes a relative timeout; FUTEX_WAIT_BITSET an absolute one.
            let ns = if cmd == FUTEX_WAIT {
                t
            } else if op_ & FUTEX_CLOCK_REALTIME != 0 {
                t.saturating_sub(time::realtime_ns())
            } else {
                t.saturating_sub(time::monotonic_ns())
            };
            if ns > 0 {
                host::simple(op::SLEEP, &[ns])?;
            }
            Err(ETIMEDOUT)
        }
        _ => Err(ENOSYS),
    }
}
