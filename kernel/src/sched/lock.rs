//! The scheduler's lock: a spinlock that one thread takes and another
//! releases (it is held across a context switch and released by the thread
//! switched to), which a guard-based mutex cannot express.
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub struct HandoffLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the data is only reached between `lock` and `unlock`.
unsafe impl<T: Send> Sync for HandoffLock<T> {}

impl<T> HandoffLock<T> {
    pub const fn new(data: T) -> Self {
        Self { locked: AtomicBool::new(false), data: UnsafeCell::new(data) }
    }

    /// Takes the lock and returns the data it guards.
    ///
    /// The caller must call [`HandoffLock::unlock`] exactly once later (on
    /// this thread or the one it switches to) and must not keep the
    /// reference past it.
    #[allow(clippy::mut_from_ref)]
    pub fn lock(&self) -> &mut T {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        // SAFETY: the lock is held, so no other reference to the data is live.
        unsafe { &mut *self.data.get() }
    }

    /// The data, for a thread the lock was handed to by a context switch.
    ///
    /// The caller must be that thread, and unlock before anything else takes it.
    #[allow(clippy::mut_from_ref)]
    pub fn lock_held(&self) -> &mut T {
        debug_assert!(self.locked.load(Ordering::Relaxed));
        // SAFETY: the lock is held on the caller's behalf (see above).
        unsafe { &mut *self.data.get() }
    }

    pub fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}
