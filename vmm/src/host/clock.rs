//! Time and randomness from the host.
use super::guest::Segs;

fn clock(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(id, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// (CLOCK_REALTIME, CLOCK_MONOTONIC) in nanoseconds.
pub fn now() -> (u64, u64) {
    (clock(libc::CLOCK_REALTIME), clock(libc::CLOCK_MONOTONIC))
}

pub fn random(segs: &Segs) -> i64 {
    let iovs = match segs.iovecs() {
        Ok(v) => v,
        Err(e) => return -(e as i64),
    };
    let mut total = 0;
    for iov in iovs {
        let mut got = 0;
        while got < iov.iov_len {
            // SAFETY: the iovec was bounds-checked against guest RAM.
            let n = unsafe { libc::getrandom(iov.iov_base.cast::<u8>().add(got).cast(), iov.iov_len - got, 0) };
            if n < 0 {
                return -(std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO) as i64);
            }
            got += n as usize;
        }
        total += got as i64;
    }
    total
}

/// Sleeps `ns` on the host; a signal to hx-run (Ctrl-C) cuts it short.
pub fn sleep(ns: u64) -> i64 {
    let ts = libc::timespec { tv_sec: (ns / 1_000_000_000) as i64, tv_nsec: (ns % 1_000_000_000) as i64 };
    // SAFETY: nanosleep reads one timespec we own.
    let r = unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
    if r < 0 {
        -(libc::EINTR as i64)
    } else {
        0
    }
}
