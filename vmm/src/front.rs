//! The front process: the one `hx-run`'s caller waits for.
//!
//! `hx-run` forks before it does anything else: the child is the monitor,
//! the parent (the front) only passes signals on and ends with the exit
//! status the monitor reports as soon as the program's end is known. The
//! monitor then closes its streams and ends on its own: tearing down its
//! threads, its VM and its memory (≈ 1.5 ms of host work on this host kind,
//! most of it unmapping guest RAM) no longer lies between the program's
//! exit and the status the caller sees.
//!
//! A program that stops (a stop signal's default action: its monitor stops
//! on the host) stops `hx-run` too; a SIGCONT to `hx-run` continues it.
//!
//! Signals: the monitor acts on SIGINT, SIGQUIT, SIGTERM and SIGHUP sent to
//! `hx-run`; the front passes those on, unless the terminal sent them (it
//! sent them to the monitor as well: both are in the caller's process
//! group). Even those the caller ignores: the front takes them blocked (a
//! blocked signal is queued whatever its action), and the program may have
//! a handler for one its parent ignored. Other signals take their default
//! action in the front; the monitor dies with it (`PR_SET_PDEATHSIG`), as
//! it would have died of them itself.
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Signals the monitor passes to its program (`signals::catch_interrupts`).
const PASSED_ON: [i32; 4] = [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP];

/// The monitor's end of the status pipe (none without a front).
pub struct Reporter(Option<OwnedFd>);

impl Reporter {
    /// No front: the status is the process's own.
    pub fn none() -> Self {
        Self(None)
    }

    /// Tells the front the exit status, after closing every stream of the
    /// caller's this process holds (a caller reading the output until EOF
    /// must not wait for the teardown either). Only the exit may follow.
    pub fn report(self, status: i32) {
        let Some(fd) = self.0 else { return };
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let keep = fd.as_raw_fd() as u32;
        // SAFETY: closes descriptors of this process, which is about to exit
        // and uses none of them any more (the status pipe stays open).
        unsafe {
            if keep > 0 {
                libc::syscall(libc::SYS_close_range, 0u32, keep - 1, 0u32);
            }
            libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32);
        }
        let bytes = status.to_le_bytes();
        // SAFETY: writes our buffer to our own pipe.
        unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

fn sigset(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: builds a set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Forks the monitor, which this call returns in. The front never returns:
/// it exits with the status the monitor reports. Without a pipe or a fork
/// (out of resources), there is no front and this process is the monitor.
/// Must run while the process has one thread.
pub fn split() -> Reporter {
    let passed: Vec<i32> = PASSED_ON.to_vec();
    let mut watched = passed.clone();
    watched.push(libc::SIGCHLD);
    let set = sigset(&watched);
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Reporter::none();
    }
    // SAFETY: the descriptors were just made and are ours alone.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Blocked before the fork, so that none sent meanwhile is lost: the
    // front takes them from a signalfd, the monitor gets its mask back.
    let mut old: libc::sigset_t = sigset(&[]);
    // SAFETY: changes this (only) thread's mask with sets we own.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) };
    // A caller's ignored SIGCHLD would reap the monitor unseen, even one
    // that died before the front's first step: default before the fork, the
    // monitor takes the caller's back (for its program).
    // SAFETY: an all-zero sigaction is valid; sigaction fills it from this process's own.
    let mut chld: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: reads this process's own SIGCHLD disposition into our struct.
    unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut chld) };
    // SAFETY: changes this process's own disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_DFL) };
    // SAFETY: getpid cannot fail.
    let front = unsafe { libc::getpid() };
    // SAFETY: the process has one thread; the child goes on as the monitor.
    match unsafe { libc::fork() } {
        0 => {
            drop(read);
            // SAFETY: restores this thread's mask; prctl and getppid on this process only.
            unsafe {
                libc::sigaction(libc::SIGCHLD, &chld, std::ptr::null_mut());
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                if libc::getppid() != front {
                    libc::_exit(125);
                }
            }
            Reporter(Some(write))
        }
        -1 => {
            // SAFETY: restores this thread's mask and SIGCHLD disposition.
            unsafe {
                libc::sigaction(libc::SIGCHLD, &chld, std::ptr::null_mut());
                libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            }
            Reporter::none()
        }
        monitor => {
            drop(write);
            serve(monitor, read, &set, &passed)
        }
    }
}

/// The front's whole life: passes signals on until the status comes.
fn serve(monitor: i32, status: OwnedFd, set: &libc::sigset_t, passed: &[i32]) -> ! {
    // SAFETY: a signalfd for the signals this thread blocked.
    let sfd = unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC) };
    // It handles no guest input, but may as well be able to do nothing else.
    let _ = crate::lockdown::confine_front();
    if sfd < 0 {
        // Nothing can be passed on: wait for the status alone.
        mirror(monitor, await_status(&status))
    }
    loop {
        let mut polled = [
            libc::pollfd { fd: status.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: sfd, events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: polls two descriptors we own.
        if unsafe { libc::poll(polled.as_mut_ptr(), 2, -1) } < 0 {
            continue;
        }
        if polled[0].revents != 0 {
            mirror(monitor, read_status(&status))
        }
        if polled[1].revents != 0 {
            // SAFETY: an all-zero siginfo is valid; read fills it from our signalfd.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reads into the struct we own, of its size.
            if unsafe { libc::read(sfd, (&mut info as *mut libc::signalfd_siginfo).cast(), size) } as usize != size {
                continue;
            }
            let sig = info.ssi_signo as i32;
            if sig == libc::SIGCHLD {
                // It may have reported before it ended: the status wins.
                if let Some(s) = try_read_status(&status) {
                    exit_with(s)
                }
                let mut ws = 0;
                // SAFETY: reaps our own child without waiting (or sees it stopped).
                if unsafe { libc::waitpid(monitor, &mut ws, libc::WNOHANG | libc::WUNTRACED) } == monitor {
                    if libc::WIFSTOPPED(ws) {
                        // The program stopped (job control: its monitor stops
                        // on the host): so does `hx-run` for its caller, and
                        // when the caller lets it go on, so does the monitor.
                        // SAFETY: stops this process, then continues our own child.
                        unsafe {
                            libc::raise(libc::SIGSTOP);
                            libc::kill(monitor, libc::SIGCONT);
                        }
                        continue;
                    }
                    die_like(ws)
                }
            } else if info.ssi_code != libc::SI_KERNEL && passed.contains(&sig) {
                // SAFETY: passes the signal to our own child.
                unsafe { libc::kill(monitor, sig) };
            }
        }
    }
}

fn read_status(fd: &OwnedFd) -> Option<i32> {
    let mut b = [0u8; 4];
    // SAFETY: reads into our buffer from our own pipe.
    let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len()) };
    (n == 4).then(|| i32::from_le_bytes(b))
}

fn try_read_status(fd: &OwnedFd) -> Option<i32> {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: polls one descriptor we own, without waiting.
    (unsafe { libc::poll(&mut p, 1, 0) } == 1).then(|| read_status(fd)).flatten()
}

fn await_status(fd: &OwnedFd) -> Option<i32> {
    loop {
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: polls one descriptor we own.
        if unsafe { libc::poll(&mut p, 1, -1) } == 1 {
            return read_status(fd);
        }
    }
}

/// Ends with the reported status, else as the monitor ended.
fn mirror(monitor: i32, status: Option<i32>) -> ! {
    if let Some(s) = status {
        exit_with(s)
    }
    let mut ws = 0;
    // SAFETY: reaps our own child.
    while unsafe { libc::waitpid(monitor, &mut ws, 0) } < 0 {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            exit_with(125)
        }
    }
    die_like(ws)
}

fn exit_with(status: i32) -> ! {
    // SAFETY: ends the front; it holds no buffered output.
    unsafe { libc::_exit(status) }
}

/// Ends as the monitor did: with its exit status, or of its signal.
fn die_like(ws: i32) -> ! {
    if libc::WIFSIGNALED(ws) {
        let sig = libc::WTERMSIG(ws);
        // SAFETY: takes the signal's default action in this process.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            let set = sigset(&[sig]);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
        }
        exit_with(128 + sig)
    }
    exit_with(if libc::WIFEXITED(ws) { libc::WEXITSTATUS(ws) } else { 125 })
}
