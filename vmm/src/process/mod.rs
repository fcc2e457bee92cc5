//! Guest processes: one VM per process, each served by its own monitor
//! process. `fork` forks the monitor (the host copies guest RAM on write) and
//! the child runs a fresh VM over its copy; `execve` boots a new image in the
//! same monitor; the monitors share a process table (`table`) for pids,
//! groups and signals between them.
pub mod exec;
pub mod fork;
pub mod spare;
pub mod spawn;
pub mod table;

use std::sync::atomic::Ordering;

/// How the program of this monitor ended.
pub enum End {
    Exit(i32),
    /// Killed by a signal; whether it left a core file.
    Killed(i32, bool),
}

/// The first process ended: no other process of the tree outlives it (as
/// when init ends in a container).
pub fn end_of_tree() {
    // SAFETY: getpid cannot fail.
    let me = unsafe { libc::getpid() };
    for e in table::all_entries() {
        let pid = e.host_pid.load(Ordering::SeqCst);
        if pid > 0 && pid != me {
            // SAFETY: a monitor of this tree, from the table.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// `--timeout`: after `limit`, lists the guest's processes (what was still
/// running is what a hung run needs to show), ends the tree and exits with
/// timeout(1)'s status. Started in the first monitor only: a forked monitor
/// keeps none of its parent's threads.
pub fn stop_tree_after(limit: std::time::Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        let mut msg = format!("hx-run: the program did not end within --timeout {}s; stopped it", limit.as_secs());
        for e in table::entries() {
            let comm = table::identity_of(e).comm;
            let len = comm.iter().position(|&b| b == 0).unwrap_or(comm.len());
            msg.push_str(&format!(
                "\nhx-run:   still running: pid {} (parent {}): {}",
                e.pid.load(Ordering::SeqCst),
                e.ppid.load(Ordering::SeqCst),
                String::from_utf8_lossy(&comm[..len])
            ));
        }
        eprintln!("{msg}");
        end_of_tree();
        // SAFETY: ends this monitor at once, vCPU threads included.
        unsafe { libc::_exit(124) }
    });
}

/// A child process's monitor ends as its program did: the parent's wait
/// sees the same status (or signal) as for a native process.
pub fn exit_child(end: End) -> ! {
    if let Some(me) = table::me() {
        table::orphan_children_of(me.pid.load(Ordering::SeqCst));
    }
    match end {
        End::Exit(status) => std::process::exit(status),
        End::Killed(sig, _) => {
            // SAFETY: back to the default action (no core file: RLIMIT_CORE is
            // 0 for monitors), unblocked, then raised: the process dies of it.
            unsafe {
                let limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                libc::setrlimit(libc::RLIMIT_CORE, &limit);
                libc::signal(sig, libc::SIG_DFL);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, sig);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                libc::raise(sig);
            }
            std::process::exit(128 + sig)
        }
    }
}
