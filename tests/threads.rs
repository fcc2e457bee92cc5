//! Threads in hx (`hx-run --cpus N`): tests/programs/threads.c, built for
//! glibc and musl, static and dynamic, behaves under hx on one and on two
//! vCPUs, and on the fast libc, exactly as natively — one test per sub-test.
mod common;
mod vcpus;

use common::*;
use vcpus::{matches_native, sub_test};

macro_rules! sub_tests {
    ($($(#[$doc:meta])* $test:ident => $sub_test:literal;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $test() {
            sub_test("threads", $sub_test);
        }
    )*};
}

sub_tests! {
    /// A thread started 1.5 s after the process, spinning beside the main
    /// thread (so on a second vCPU, made only then), reads the same
    /// monotonic clock (KVM syncs the TSC only of vCPUs made within a second).
    a_thread_on_a_vcpu_made_late_reads_the_same_clock => "late-clock";
    /// 200 threads (128 KiB stacks) and 4 with default attributes: each
    /// returns its value through pthread_join and has its own tid.
    two_hundred_threads_are_created_and_joined_with_their_results => "create";
    /// Four threads count to 400000 under one mutex; waiters sleep while it is
    /// held; trylock says EBUSY; error-checking and recursive kinds report
    /// EDEADLK and EPERM.
    mutexes_count_exactly_and_report_misuse => "mutex";
    /// Two threads alternate 1000 times on a condition variable; a broadcast
    /// wakes all of eight waiters.
    condition_variables_alternate_and_broadcast => "condvar";
    /// Four readers hold a rwlock at once; a writer excludes them; writers
    /// and readers never see a half-done update.
    rwlocks_share_readers_and_exclude_writers => "rwlock";
    /// Eight threads go through 200 barrier waits in lock step, one serial
    /// thread per wait.
    barriers_keep_threads_in_lock_step => "barrier";
    /// sem_t counts, trywait says EAGAIN, sem_wait sleeps until a post, a
    /// 3-slot semaphore admits at most three threads.
    semaphores_count_block_and_bound_concurrency => "semaphore";
    /// `__thread` variables start from their initial image in each thread,
    /// stay per thread (errno too) and honour 64-byte alignment.
    thread_local_variables_and_errno_are_per_thread => "tls";
    /// pthread_key_create destructors run at thread exit (return or
    /// pthread_exit), again when a destructor sets a value, never for NULL.
    key_destructors_run_at_thread_exit => "tsd";
    /// pthread_cancel ends a thread blocked in read, in pthread_cond_wait (the
    /// cleanup handler unlocks the mutex) and in sleep, or pending until
    /// cancellation is enabled; join returns PTHREAD_CANCELED.
    deferred_cancellation_ends_blocked_threads_and_runs_cleanup_handlers => "cancel";
    /// 40 detached threads (by attribute and by pthread_detach) all finish.
    detached_threads_run_to_completion => "detach";
    /// Four producers and three consumers pass 100000 items through a
    /// 16-slot queue: none lost, none reordered.
    producers_and_consumers_share_a_bounded_queue => "prodcons";
    /// Four threads: 800000 atomic increments and as many under a spinlock.
    atomic_counters_and_a_spinlock_are_exact => "atomic";
    /// pthread_cond_timedwait (CLOCK_REALTIME and a CLOCK_MONOTONIC condattr),
    /// sem_timedwait and pthread_mutex_timedlock time out with ETIMEDOUT after
    /// their 100 ms, and return early when woken.
    timed_waits_time_out_after_their_timeout => "timed";
    /// pthread_kill runs the handler in the chosen thread (a worker, then the
    /// main thread); new threads inherit their creator's signal mask.
    pthread_kill_reaches_the_chosen_thread => "kill";
    /// PTHREAD_PRIO_INHERIT mutexes lock and unlock under contention, or the
    /// libc refuses them with ENOTSUP/ENOSYS and plain mutexes work.
    priority_inheritance_mutexes_work_or_are_refused => "pi";
    /// sysconf(_SC_NPROCESSORS_ONLN), sched_getaffinity and
    /// /sys/devices/system/cpu/online all say N for `--cpus N`.
    the_cpu_count_is_the_number_of_vcpus => "cpus";
    /// sched_setaffinity moves the caller to the CPU it names (getcpu says
    /// so at once), a new thread inherits the mask, an offline CPU is EINVAL.
    sched_setaffinity_moves_threads_to_their_cpus => "pin";
    /// munmap on one thread while another reads the page: the reader gets
    /// SIGSEGV at once (other vCPUs drop their stale TLB entries).
    munmap_on_one_thread_faults_a_reader_on_another => "munmap";
    /// futex_waitv: Linux's EINVAL/EAGAIN cases, absolute timeouts on both
    /// clocks, the index of the word woken; a finished wait's other words
    /// take no wake-up meant for a plain waiter.
    futex_waitv_waits_on_several_words_and_names_the_one_woken => "waitv";
}

#[test]
fn exit_in_a_thread_ends_the_process_with_its_status() {
    matches_native("threads", &["exit"], 3);
}

#[test]
fn the_process_outlives_its_main_thread() {
    matches_native("threads", &["main-exit"], 0);
}

#[test]
fn a_fault_in_a_thread_kills_the_whole_process() {
    matches_native("threads", &["fault"], 128 + libc::SIGSEGV);
}

#[test]
fn every_sub_test_in_one_process_matches_native() {
    matches_native("threads", &[], 0);
}

#[test]
fn cpus_accepts_one_or_two_and_refuses_zero_or_too_many_in_one_line() {
    let prog = build("hello", Flavor::MuslStatic, &[]);
    let n = native(&prog, &[], &[]);
    for cpus in ["1", "2"] {
        let h = hx(&["--cpus", cpus], &prog, &[], &[]);
        assert_same(&format!("hello with --cpus {cpus}"), &n, &h);
    }
    for n in ["0", "100000"] {
        let out = hx(&["--cpus", n], &prog, &[], &[]);
        let err = text(&out.stderr);
        assert_ne!(status_code(&out), 0, "--cpus {n} accepted: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "--cpus {n}: one line: {err}");
        assert!(err.contains("--cpus"), "--cpus {n}: the message names the option: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty(), "--cpus {n}: the program ran: {}", text(&out.stdout));
    }
}

/// A thread blocked reading (or polling) a host pipe (stdin) does not hold up another
/// thread's writes on another vCPU: the lines arrive while stdin stays open.
/// (With one vCPU the blocked read holds that vCPU until host requests stop
/// needing an exit.)
#[test]
fn a_thread_blocked_in_a_host_read_does_not_stall_another_threads_output() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let prog = build("blocked_reader", Flavor::GlibcStatic, &["-pthread"]);
    let native = native(&prog, &[], &[]);
    let cpus = "2";
    for how in ["read", "poll"] {
        let mut child = Command::new(HX_RUN)
            .args(["--cpus", cpus])
            .arg(&prog)
            .arg(how)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read every line with stdin still open: a stalled write would hang here.
        let stdin = child.stdin.take();
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let lines: Vec<String> = BufReader::new(stdout).lines().map_while(Result::ok).collect();
            let _ = tx.send(lines);
        });
        let lines = rx.recv_timeout(std::time::Duration::from_secs(20));
        drop(stdin);
        let _ = child.kill();
        let _ = child.wait();
        let lines = lines.unwrap_or_else(|_| panic!("--cpus {cpus}: the output stalled behind the blocked {how}"));
        assert_eq!(lines.join("\n") + "\n", text(&native.stdout), "--cpus {cpus}, {how}");
    }
}
