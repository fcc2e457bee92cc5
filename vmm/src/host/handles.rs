//! The host descriptors the monitor holds for the guest, by handle: the guest
//! names a file by a small number the monitor checks against this table, never
//! by a host descriptor number. The table has a limit, so a guest cannot
//! exhaust the host's descriptors.
use crate::sandbox::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Default bound on handles one guest may hold (the guest kernel's own
/// descriptor limit is 1024: this leaves room for the monitor's own).
pub const DEFAULT_LIMIT: usize = 4096;

pub enum Handle {
    /// `metadata`: whether the guest may change the file's mode, times or
    /// size — only for files opened in a read-write mount. Shared so that a
    /// read or write can run outside the monitor's lock while a `CLOSE` from
    /// another vCPU only drops the table's reference.
    Host { fd: Arc<OwnedFd>, metadata: bool },
    /// A directory that exists only above mount points: its guest path and
    /// how many of its entries were already read.
    Virtual { guest: Vec<u8>, offset: usize },
    /// A host socket, with the guest's names for it where the host's differ
    /// (a socket path is bound and reached through the monitor's own handles).
    Socket { fd: Arc<OwnedFd>, names: SocketNames },
}

/// A socket's addresses as the guest gave them (`struct sockaddr` bytes).
#[derive(Clone, Default)]
pub struct SocketNames {
    pub own: Option<Vec<u8>>,
    pub peer: Option<Vec<u8>>,
}

/// What a handle is, without its descriptor (see [`Handles::hand_over`]).
pub enum HandedOver {
    Host { metadata: bool, memory: bool },
    Virtual { guest: Vec<u8>, offset: usize },
    Socket { names: SocketNames },
}

pub struct Handles {
    slots: Vec<Option<Handle>>,
    limit: usize,
    /// Handles of host memory files (`memfd_create`): their pages are host
    /// memory the guest could otherwise grow without bound.
    memory: Vec<u64>,
    /// Edge counts of the handles the guest's edge-triggered epoll watches.
    pub edges: std::sync::Mutex<super::edges::Edges>,
}

impl Handles {
    /// The table with `streams` as handles 0–2 (the guest's standard streams).
    pub fn new(limit: usize, streams: [Option<OwnedFd>; 3]) -> Self {
        // The streams are the user's: the guest may read and write them, never chmod them.
        let slots =
            streams.into_iter().map(|s| s.map(|fd| Handle::Host { fd: Arc::new(fd), metadata: false })).collect();
        Self { slots, limit: limit.max(3), memory: Vec::new(), edges: Default::default() }
    }

    /// Duplicates of hx-run's own standard streams: the guest's close(1)
    /// leaves hx-run's stdout open.
    pub fn std_streams() -> [Option<OwnedFd>; 3] {
        [0, 1, 2].map(|fd| {
            // SAFETY: F_DUPFD_CLOEXEC on a standard stream; a closed one gives -1.
            let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
            // SAFETY: `d` is a fresh descriptor we own.
            (d >= 0).then(|| unsafe { OwnedFd::from_raw_fd(d) })
        })
    }

    /// Handles in use.
    pub fn count(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// `EMFILE` when the guest holds `limit` handles already: checked before
    /// a host file is opened or created, so nothing happens past the limit.
    pub fn room(&self) -> Result<(), Errno> {
        if self.slots.len() >= self.limit && self.slots.iter().all(Option::is_some) {
            return Err(libc::EMFILE);
        }
        Ok(())
    }

    /// Stores `h`; `EMFILE` when the guest holds `limit` handles already.
    pub fn insert(&mut self, h: Handle) -> Result<u64, Errno> {
        if let Some((i, slot)) = self.slots.iter_mut().enumerate().find(|(_, s)| s.is_none()) {
            *slot = Some(h);
            return Ok(i as u64);
        }
        if self.slots.len() >= self.limit {
            return Err(libc::EMFILE);
        }
        self.slots.push(Some(h));
        Ok(self.slots.len() as u64 - 1)
    }

    /// Stores a host memory file (see [`Handles::memory_in_use`]).
    pub fn insert_memory(&mut self, fd: OwnedFd) -> Result<u64, Errno> {
        let h = self.insert(Handle::Host { fd: Arc::new(fd), metadata: true })?;
        self.memory.push(h);
        Ok(h)
    }

    pub fn is_memory(&self, handle: u64) -> bool {
        self.memory.contains(&handle)
    }

    /// Bytes of host memory the guest's memory files hold.
    pub fn memory_in_use(&self) -> u64 {
        let blocks = |h: &u64| {
            let fd = self.fd(*h).ok()?;
            // SAFETY: fstat into a zeroed struct we own, on a descriptor we hold.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st.st_blocks as u64 * 512)
        };
        self.memory.iter().filter_map(blocks).sum()
    }

    pub fn get(&self, handle: u64) -> Result<&Handle, Errno> {
        usize::try_from(handle).ok().and_then(|i| self.slots.get(i)).and_then(Option::as_ref).ok_or(libc::EBADF)
    }

    pub fn get_mut(&mut self, handle: u64) -> Result<&mut Handle, Errno> {
        usize::try_from(handle).ok().and_then(|i| self.slots.get_mut(i)).and_then(Option::as_mut).ok_or(libc::EBADF)
    }

    /// The host file behind `handle`, kept open for as long as the caller holds it.
    pub fn shared_fd(&self, handle: u64) -> Result<Arc<OwnedFd>, Errno> {
        match self.get(handle)? {
            Handle::Host { fd, .. } | Handle::Socket { fd, .. } => Ok(fd.clone()),
            Handle::Virtual { .. } => Err(libc::EISDIR),
        }
    }

    /// The host descriptor behind `handle`.
    pub fn fd(&self, handle: u64) -> Result<i32, Errno> {
        match self.get(handle)? {
            Handle::Host { fd, .. } | Handle::Socket { fd, .. } => Ok(fd.as_raw_fd()),
            Handle::Virtual { .. } => Err(libc::EISDIR),
        }
    }

    /// The host descriptor behind `handle`, for a change to the file's
    /// metadata: `EROFS` for a file of a read-only mount.
    pub fn fd_for_metadata(&self, handle: u64) -> Result<i32, Errno> {
        match self.get(handle)? {
            Handle::Host { fd, metadata: true } => Ok(fd.as_raw_fd()),
            Handle::Host { .. } | Handle::Virtual { .. } | Handle::Socket { .. } => Err(libc::EROFS),
        }
    }

    pub fn close(&mut self, handle: u64) -> Result<(), Errno> {
        let slot = usize::try_from(handle).ok().and_then(|i| self.slots.get_mut(i)).ok_or(libc::EBADF)?;
        let closed = slot.take().map(drop).ok_or(libc::EBADF);
        self.memory.retain(|&h| h != handle);
        self.edges.lock().unwrap_or_else(|e| e.into_inner()).forget(handle);
        closed
    }

    /// Closes every handle `keep` rejects.
    /// Handle `handle` as another monitor process takes it over (a spare
    /// monitor, `process::spare`): what it is, and its descriptor, which
    /// travels apart (`SCM_RIGHTS`).
    pub fn hand_over(&self, handle: u64) -> Option<(HandedOver, Option<Arc<OwnedFd>>)> {
        Some(match self.get(handle).ok()? {
            Handle::Host { fd, metadata } => {
                (HandedOver::Host { metadata: *metadata, memory: self.is_memory(handle) }, Some(fd.clone()))
            }
            Handle::Virtual { guest, offset } => (HandedOver::Virtual { guest: guest.clone(), offset: *offset }, None),
            Handle::Socket { fd, names } => (HandedOver::Socket { names: names.clone() }, Some(fd.clone())),
        })
    }

    /// Puts a handle handed over by another monitor at its number (which
    /// must be free and under the limit).
    pub fn take_over(&mut self, handle: u64, what: HandedOver, fd: Option<OwnedFd>) -> Result<(), Errno> {
        let i = usize::try_from(handle).ok().filter(|&i| i < self.limit).ok_or(libc::EMFILE)?;
        if self.slots.get(i).is_some_and(Option::is_some) {
            return Err(libc::EBUSY);
        }
        let h = match (what, fd) {
            (HandedOver::Host { metadata, memory }, Some(fd)) => {
                if memory {
                    self.memory.push(handle);
                }
                Handle::Host { fd: Arc::new(fd), metadata }
            }
            (HandedOver::Virtual { guest, offset }, None) => Handle::Virtual { guest, offset },
            (HandedOver::Socket { names }, Some(fd)) => Handle::Socket { fd: Arc::new(fd), names },
            _ => return Err(libc::EINVAL),
        };
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        *self.slots.get_mut(i).ok_or(libc::EMFILE)? = Some(h);
        Ok(())
    }

    /// The handles that hold host descriptor `fd`.
    pub fn with_fd(&self, fd: i32) -> Vec<u64> {
        (0u64..)
            .zip(self.slots.iter())
            .filter_map(|(h, slot)| match slot {
                Some(Handle::Host { fd: f, .. } | Handle::Socket { fd: f, .. }) if f.as_raw_fd() == fd => Some(h),
                _ => None,
            })
            .collect()
    }

    /// The descriptors of every handle held.
    pub fn raw_fds(&self) -> Vec<i32> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|h| match h {
                Handle::Host { fd, .. } | Handle::Socket { fd, .. } => Some(fd.as_raw_fd()),
                Handle::Virtual { .. } => None,
            })
            .collect()
    }

    pub fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.memory.retain(|&h| keep(h));
        let mut edges = self.edges.lock().unwrap_or_else(|e| e.into_inner());
        for (i, slot) in self.slots.iter_mut().enumerate() {
            if !keep(i as u64) {
                *slot = None;
                edges.forget(i as u64);
            }
        }
    }
}
