//! Waits a monitor helper thread makes in the host on a guest thread's
//! behalf (a futex shared with another process, a System V semaphore or
//! message queue): the guest thread must not hold its vCPU, so the call
//! returns at once and a helper waits; when it is done it writes the
//! outcome into guest kernel memory and wakes the guest as the watcher does
//! for host files (`Shared::host_events`). A wait the guest gives up (a
//! signal, its timeout) is cancelled: once the cancel returns the helper
//! never writes guest memory for it again.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use crate::sandbox::Errno;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

/// Helper threads (waits in progress) one monitor keeps at most.
const MAX_WAITS: usize = 1024;
const HELPER_STACK: usize = 64 * 1024;

/// One guest wait in the host.
struct Wait {
    /// Set by a cancel (or the VM's end, or the outcome written): guest
    /// memory is the helper's to write only while this is false, under the lock.
    over: Mutex<bool>,
    /// The helper's host thread id (0 until it runs), for the kick that
    /// cuts its blocking host call short when the wait is given up.
    tid: AtomicI32,
}

impl Wait {
    /// Ends the wait for its helper: the helper writes nothing more and a
    /// blocking call it makes returns (`EINTR`) at the kick.
    fn give_up(&self) {
        if let Ok(mut over) = self.over.lock() {
            *over = true;
        }
        let tid = self.tid.load(Ordering::SeqCst);
        if tid > 0 {
            // SAFETY: signals a thread of this process with the kick signal,
            // whose handler does nothing (a thread id reused meanwhile by
            // another thread of the monitor only sees a spurious kick).
            unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, crate::smp::KICK_SIGNAL) };
        }
    }
}

type Registry = Arc<Mutex<HashMap<u64, Arc<Wait>>>>;

/// Helper threads still running (their `Helper` not yet dropped).
static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The waits of one VM, by the guest-physical address of their outcome word.
pub struct Waits {
    waits: Registry,
    /// Written by a helper whose wait ended: the watcher wakes the guest.
    done: Arc<OwnedFd>,
}

/// What a helper holds of its wait.
pub struct Helper {
    wait: Arc<Wait>,
    waits: Registry,
    done: Arc<OwnedFd>,
    outcome_phys: u64,
}

impl Helper {
    /// Whether the guest gave the wait up.
    pub fn cancelled(&self) -> bool {
        self.wait.over.lock().map_or(true, |over| *over)
    }

    /// Runs `attempt` under the wait's lock unless the guest gave it up:
    /// `attempt` writes the outcome into guest memory and returns true when
    /// the wait is over. `None`: cancelled (nothing ran).
    pub fn try_finish(&self, attempt: impl FnOnce() -> bool) -> Option<bool> {
        let mut over = self.wait.over.lock().ok()?;
        if *over {
            return None;
        }
        let finished = attempt();
        if finished {
            *over = true;
            drop(over);
            self.wake_guest();
        }
        Some(finished)
    }

    /// Writes the outcome with `deliver` unless the guest gave the wait up;
    /// whether it did.
    pub fn finish(&self, deliver: impl FnOnce()) -> bool {
        self.try_finish(|| {
            deliver();
            true
        }) == Some(true)
    }

    fn wake_guest(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes to our eventfd.
        unsafe { libc::write(self.done.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
        if let Ok(mut w) = self.waits.lock() {
            if w.get(&self.outcome_phys).is_some_and(|x| Arc::ptr_eq(x, &self.wait)) {
                w.remove(&self.outcome_phys);
            }
        }
    }
}

impl Waits {
    pub fn new(done: OwnedFd) -> Self {
        // The kick that ends a helper's blocking call must find its handler.
        crate::smp::install_kick_handler();
        Self { waits: Default::default(), done: Arc::new(done) }
    }

    pub fn done_fd(&self) -> i32 {
        self.done.as_raw_fd()
    }

    /// Starts a helper thread running `body` for the wait reporting at
    /// `outcome_phys` (ENOMEM: too many waits, or no thread).
    pub fn start(
        &self,
        outcome_phys: u64,
        name: &str,
        body: impl FnOnce(Helper) + Send + 'static,
    ) -> Result<(), Errno> {
        let wait = Arc::new(Wait { over: Mutex::new(false), tid: AtomicI32::new(0) });
        {
            let mut waits = self.waits.lock().map_err(|_| libc::EIO)?;
            if waits.len() >= MAX_WAITS {
                return Err(libc::ENOMEM);
            }
            // The guest reuses a word only once it is done with its last wait
            // (an outcome read, or cancelled): that one's helper may not write.
            if let Some(old) = waits.insert(outcome_phys, wait.clone()) {
                old.give_up();
            }
        }
        RUNNING.fetch_add(1, Ordering::SeqCst);
        let helper = Helper { wait, waits: self.waits.clone(), done: self.done.clone(), outcome_phys };
        let spawned = std::thread::Builder::new().name(name.into()).stack_size(HELPER_STACK).spawn(move || {
            block_signals();
            // SAFETY: gettid has no arguments and cannot fail.
            helper.wait.tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
            body(helper)
        });
        if spawned.is_err() {
            self.waits.lock().map_err(|_| libc::EIO)?.remove(&outcome_phys);
            return Err(libc::ENOMEM);
        }
        Ok(())
    }

    /// The guest gives up the wait reporting at `outcome_phys`.
    pub fn cancel(&self, outcome_phys: u64) {
        let wait = self.waits.lock().ok().and_then(|mut w| w.remove(&outcome_phys));
        if let Some(wait) = wait {
            wait.give_up();
        }
    }

    /// The guest's program ended: every wait is given up now (a semaphore
    /// helper blocked in the host would still count as a waiter there).
    /// It returns once the helpers left their host calls (bounded): a
    /// semaphore helper still blocked there would be counted by `GETNCNT`
    /// after the parent reaped this process. A kick that lands between a
    /// helper's look and its call is lost, so it is sent again meanwhile.
    pub fn cancel_all(&self) {
        let given_up: Vec<Arc<Wait>> = match self.waits.lock() {
            Ok(mut waits) => waits.drain().map(|(_, w)| w).collect(),
            Err(_) => return,
        };
        for wait in &given_up {
            wait.give_up();
        }
        let start = std::time::Instant::now();
        while RUNNING.load(Ordering::SeqCst) > 0 && start.elapsed() < std::time::Duration::from_millis(100) {
            std::thread::sleep(std::time::Duration::from_millis(2));
            for wait in &given_up {
                wait.give_up();
            }
        }
    }
}

impl Drop for Waits {
    /// The VM ends (or execs): no helper may write into its memory again.
    fn drop(&mut self) {
        self.cancel_all();
    }
}

/// Signals are for the vCPU threads and the main thread; a helper takes
/// only the kick (`Wait::give_up`), whose handler does nothing.
fn block_signals() {
    // SAFETY: sets this thread's signal mask only.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigdelset(&mut all, crate::smp::KICK_SIGNAL);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
    }
}
