//! Signals in a single process: handlers and masks are remembered; a signal
//! the program sends itself takes its default action (delivery to handlers
//! arrives with the signals work).
use super::process::PID;
use super::Args;
use crate::errno::{SysResult, EINVAL, ESRCH};
use crate::{host, mm};
use spin::Mutex;

/// Signal bookkeeping: handlers and the mask are remembered and reported
/// back; nothing delivers signals yet (there is no second process to send one).
static SIG_ACTIONS: Mutex<[[u64; 4]; 64]> = Mutex::new([[0; 4]; 64]);
static SIG_MASK: Mutex<u64> = Mutex::new(0);
const SIGKILL: u64 = 9;
const SIGSTOP: u64 = 19;

pub fn rt_sigaction([sig, act, oldact, sigsetsize, ..]: Args) -> SysResult {
    if sigsetsize != 8 || !(1..=64).contains(&sig) {
        return Err(EINVAL);
    }
    if act != 0 && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(EINVAL);
    }
    let mut actions = SIG_ACTIONS.lock();
    let slot = &mut actions[sig as usize - 1];
    let previous = *slot;
    if act != 0 {
        *slot = mm::read_user::<[u64; 4]>(act)?;
    }
    if oldact != 0 {
        mm::write_user(oldact, &previous)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask([how, set, oldset, sigsetsize, ..]: Args) -> SysResult {
    const SIG_BLOCK: u64 = 0;
    const SIG_UNBLOCK: u64 = 1;
    const SIG_SETMASK: u64 = 2;
    if sigsetsize != 8 {
        return Err(EINVAL);
    }
    let mut mask = SIG_MASK.lock();
    let previous = *mask;
    if set != 0 {
        let s: u64 = mm::read_user(set)?;
        let unblockable = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
        *mask = match how {
            SIG_BLOCK => previous | s,
            SIG_UNBLOCK => previous & !s,
            SIG_SETMASK => s,
            _ => return Err(EINVAL),
        } & !unblockable;
    }
    if oldset != 0 {
        mm::write_user(oldset, &previous)?;
    }
    Ok(0)
}

/// The alternate signal stack is remembered for when signals are delivered.
pub fn sigaltstack([ss, old, ..]: Args) -> SysResult {
    const SS_DISABLE: u32 = 2;
    const MINSIGSTKSZ: u64 = 2048;
    static STACK: Mutex<[u64; 3]> = Mutex::new([0, SS_DISABLE as u64, 0]);
    let mut cur = STACK.lock();
    let previous = *cur;
    if ss != 0 {
        let new: [u64; 3] = mm::read_user(ss)?;
        let flags = new[1] as u32;
        if flags & !(SS_DISABLE | (1 << 31)) != 0 {
            return Err(EINVAL);
        }
        if flags & SS_DISABLE == 0 && new[2] < MINSIGSTKSZ {
            return Err(crate::errno::Errno(12)); // ENOMEM, as Linux for a too-small stack
        }
        *cur = new;
    }
    if old != 0 {
        mm::write_user(old, &previous)?;
    }
    Ok(0)
}

/// Signals whose default action is to do nothing.
fn ignored_by_default(sig: u64) -> bool {
    matches!(sig, 17 | 18 | 23 | 28) // SIGCHLD, SIGCONT, SIGURG, SIGWINCH
}

/// The program sends itself `sig`.
pub fn raise(sig: u64) -> SysResult {
    if sig == 0 {
        return Ok(0);
    }
    if !(1..=64).contains(&sig) {
        return Err(EINVAL);
    }
    let handler = SIG_ACTIONS.lock()[sig as usize - 1][0];
    const SIG_IGN: u64 = 1;
    if handler == SIG_IGN || (handler == 0 && ignored_by_default(sig)) {
        return Ok(0);
    }
    if handler != 0 {
        host::log(b"signal handlers are not run yet: taking the signal's default action");
    }
    // The default action: the process dies of the signal.
    host::exit(128 + sig)
}

pub fn kill([pid, sig, ..]: Args) -> SysResult {
    match pid as i64 {
        0 | -1 => raise(sig),
        p if p as u64 == PID => raise(sig),
        _ => Err(ESRCH),
    }
}

pub fn tkill([tid, sig, ..]: Args) -> SysResult {
    if tid != PID {
        return Err(if (tid as i64) <= 0 { EINVAL } else { ESRCH });
    }
    raise(sig)
}

pub fn tgkill([tgid, tid, sig, ..]: Args) -> SysResult {
    if tgid != PID || tid != PID {
        return Err(if (tid as i64) <= 0 || (tgid as i64) <= 0 { EINVAL } else { ESRCH });
    }
    raise(sig)
}
