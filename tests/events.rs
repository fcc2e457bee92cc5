//! eventfd, timerfd and signalfd in hx, and epoll's one-shot, exclusive,
//! epoll_pwait2 and strict edge-triggered behaviour on pipes and sockets:
//! tests/programs/events.c, built for glibc (dynamic) and musl (static),
//! prints and exits under hx on one and on two vCPUs exactly as natively —
//! one test per sub-test. The program checks blocking, waking across
//! threads, poll, select and epoll (level and edge triggered) itself and
//! prints what it saw.
mod common;
mod vcpus;

use common::{build, status_code, text, Flavor};
use vcpus::{run_at, Place};

fn sub_test(name: &str) {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let prog = build("events", flavor, &["-pthread"]);
        let n = run_at(&prog, &[name], Place::Native);
        let native = text(&n.stdout);
        assert_eq!(status_code(&n), 0, "events {name} ({flavor:?}) natively:\n{native}{}", text(&n.stderr));
        assert!(native.ends_with(&format!("{name}: ok\n")), "events {name} ({flavor:?}) natively:\n{native}");
        for cpus in [1, 2] {
            let h = run_at(&prog, &[name], Place::Hx { cpus, fast_libc: false });
            let what = format!("events {name} ({flavor:?}, {cpus} vCPUs)");
            let err = text(&h.stderr);
            assert_eq!(text(&h.stdout), native, "{what}: stdout differs; hx stderr:\n{err}");
            assert_eq!(status_code(&h), status_code(&n), "{what}: exit status differs; hx stderr:\n{err}");
        }
    }
}

/// Counting, EFD_SEMAPHORE, EFD_NONBLOCK/EFD_CLOEXEC, short buffers
/// (EINVAL), writing 2^64-1 (EINVAL), the 0xfffffffffffffffe limit (EAGAIN,
/// no POLLOUT), pread (ESPIPE), the old eventfd call, the /proc/self/fd name.
#[test]
fn eventfd_counts_and_refuses_what_linux_refuses() {
    sub_test("eventfd");
}

/// A read blocked on 0 wakes when another thread writes; a write blocked on
/// a full counter wakes when another thread reads; a handler interrupts a
/// blocked read (EINTR) or restarts it (SA_RESTART).
#[test]
fn eventfd_blocked_readers_and_writers_wake() {
    sub_test("eventfd-block");
}

/// poll, ppoll, select and pselect see an eventfd's readiness and wake when
/// another thread writes.
#[test]
fn eventfd_wakes_poll_and_select() {
    sub_test("eventfd-poll");
}

/// epoll: level-triggered entries report until read; edge-triggered ones
/// once per write (EPOLLIN) or read (EPOLLOUT), again after EPOLL_CTL_MOD;
/// a blocked epoll_wait wakes; an epoll descriptor polls readable.
#[test]
fn eventfd_in_epoll_level_and_edge_triggered() {
    sub_test("eventfd-epoll");
}

/// One-shot, interval (expirations counted), absolute (monotonic, in the
/// past, realtime with TFD_TIMER_CANCEL_ON_SET), CLOCK_BOOTTIME; gettime
/// and the old value; disarming; the errors of create, settime, read, write.
#[test]
fn timerfd_counts_expirations() {
    sub_test("timerfd");
}

/// poll, select and epoll wake when a timer expires; edge-triggered epoll
/// reports an interval timer again only after a read; a blocked read costs
/// no CPU time.
#[test]
fn timerfd_wakes_poll_select_and_epoll() {
    sub_test("timerfd-poll");
}

/// Blocked signals read with their siginfo (kill, raise, sigqueue), several
/// at once in order, a new mask on the same descriptor, blocked signals whose
/// default is to be ignored, the errors.
#[test]
fn signalfd_reads_blocked_signals() {
    sub_test("signalfd");
}

/// A blocked read, poll and epoll (level and edge triggered) wake for a
/// signal from another thread, to this thread, and from ITIMER_REAL.
#[test]
fn signalfd_wakes_for_signals_from_threads_and_timers() {
    sub_test("signalfd-block");
}

/// EPOLLONESHOT on a pipe, AF_UNIX stream and datagram pairs and a TCP
/// connection: one event, then none (even for new data) until EPOLL_CTL_MOD
/// re-arms it; with EPOLLET too; a disarmed entry is deleted and added
/// again; a blocked wait wakes once.
#[test]
fn epoll_oneshot_reports_once_until_rearmed() {
    sub_test("epoll-oneshot");
}

/// EPOLLEXCLUSIVE: accepted by EPOLL_CTL_ADD (with EPOLLIN, EPOLLOUT,
/// EPOLLET), EINVAL for EPOLL_CTL_MOD of an exclusive entry or to one, with
/// EPOLLONESHOT, EPOLLRDHUP or EPOLLPRI, and for an epoll descriptor; two
/// waiters on one pipe: a write wakes at least one.
#[test]
fn epoll_exclusive_is_accepted_on_add_and_refused_where_linux_refuses_it() {
    sub_test("epoll-exclusive");
}

/// epoll_pwait2 on a pipe and on sockets: a 50 ms timespec times out with
/// no event, a zero one returns at once, a ready descriptor returns at once,
/// no timeout waits for a thread's write; a bad timespec, maxevents or
/// sigsetsize is EINVAL; its signal mask lets a blocked signal interrupt it.
#[test]
fn epoll_pwait2_times_out_wakes_and_takes_a_signal_mask() {
    sub_test("epoll-pwait2");
}

/// Strict edge triggering on pipes (served in the guest kernel) and on
/// unix stream, unix datagram and TCP sockets (host files, whose wake-ups
/// the monitor counts): an edge is reported once; a second epoll_wait with
/// no read and no new data reports nothing (nor after a partial read);
/// each write is a new edge; EPOLLOUT|EPOLLET on the write end once.
/// A descriptor closed while in an epoll set leaves it: a wait with nothing
/// else ready waits its whole timeout (hx returned 0 at once: the closed
/// entry ended the wait and was then dropped, which made an edge-triggered
/// echo server give up with "nothing happened"), and a new file at the same
/// number can be added (hx said EEXIST).
#[test]
fn epoll_drops_closed_descriptors_and_waits_its_timeout() {
    sub_test("epoll-closed");
}

#[test]
fn epoll_edge_triggered_reports_each_edge_once_on_pipes_and_sockets() {
    sub_test("epoll-edge");
}

/// epoll instances nested in each other: a ready pipe is reported through a
/// chain of five; a sixth level, a chain grown too deep from above and a
/// cycle are ELOOP (Linux's EP_MAX_NESTS), as natively.
#[test]
fn nested_epoll_instances_report_readiness_and_refuse_cycles() {
    sub_test("epoll-nested");
}

/// `epoll_ctl` from another thread during a wait (tests/programs/
/// epoll_ctl_during_wait.c): a descriptor added to an empty set wakes the
/// waiter (hx waited on the set as it was when the wait began, forever),
/// a modified entry reports its new data, and a deleted one never ends the
/// wait with nothing to report: `epoll_wait` returns 0 only after its
/// timeout (hx returned 0 from an infinite wait when a ready descriptor was
/// closed before it was reported, and Node aborted in libuv's
/// `assert(timeout != -1)` at exit).
#[test]
fn epoll_ctl_during_a_wait_changes_what_it_waits_for() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let prog = build("epoll_ctl_during_wait", flavor, &["-pthread"]);
        let n = run_at(&prog, &[], Place::Native);
        assert_eq!(status_code(&n), 0);
        assert!(text(&n.stdout).contains("added to an empty set: 1 event(s), data 7"), "{}", text(&n.stdout));
        for cpus in [1, 2] {
            let h = run_at(&prog, &[], Place::Hx { cpus, fast_libc: false });
            let what = format!("epoll_ctl_during_wait ({flavor:?}, {cpus} vCPUs)");
            assert_eq!(text(&h.stdout), text(&n.stdout), "{what}: stdout differs; hx stderr:\n{}", text(&h.stderr));
            assert_eq!(status_code(&h), 0, "{what}: {}", text(&h.stderr));
        }
    }
}
