//! Signals in hx with threads (`hx-run --cpus N`): tests/programs/signals.c,
//! built for glibc and musl, static and dynamic, behaves under hx on one and
//! on two vCPUs, and on the fast libc, exactly as natively — one test per
//! sub-test. A program killed by signal n natively must make hx-run exit with
//! 128 + n.
mod common;
mod vcpus;

use vcpus::{matches_native, sub_test};

macro_rules! sub_tests {
    ($($(#[$doc:meta])* $test:ident => $sub_test:literal;)*) => {$(
        $(#[$doc])*
        #[test]
        fn $test() {
            sub_test("signals", $sub_test);
        }
    )*};
}

sub_tests! {
    /// SIGKILL, SIGSTOP, 0 and NSIG cannot be caught (EINVAL); sigaction
    /// returns the old handler, flags and mask; SIGKILL and SIGSTOP cannot be
    /// blocked; a bad `how` is EINVAL.
    sigaction_refuses_what_cannot_be_caught_and_returns_the_old_action => "sigaction";
    /// SA_SIGINFO: kill gives SI_USER with the sender's pid and uid, raise and
    /// tgkill SI_TKILL, sigqueue SI_QUEUE with its value — delivered before
    /// the sending call returns; uc_sigmask is the mask to restore.
    siginfo_names_the_sender_and_how_it_sent => "siginfo";
    /// A blocked signal stays pending (once, however often raised) and is
    /// delivered when unblocked; SIG_IGN discards a pending signal.
    blocked_signals_stay_pending_until_unblocked => "mask";
    /// Real-time signals queue, each with its value, in order; standard
    /// signals are delivered before real-time ones, lowest number first.
    realtime_signals_queue_and_the_lowest_number_comes_first => "queue";
    /// A handler's own signal and its sa_mask are blocked inside it (a
    /// re-raise waits), unless SA_NODEFER (the re-raise nests).
    a_handler_blocks_its_own_signal_unless_sa_nodefer => "nodefer";
    /// SA_RESETHAND: the handler runs once, then the default action (ignore,
    /// for SIGWINCH, SIGURG and SIGCHLD) applies.
    sa_resethand_runs_the_handler_once => "resethand";
    /// Signals whose default is to be ignored, and SIG_IGN ones, do nothing.
    ignored_signals_do_nothing => "ignore";
    /// sigaltstack: too small is ENOMEM; SA_ONSTACK handlers run on the
    /// alternate stack, see SS_ONSTACK and cannot change it (EPERM).
    sa_onstack_handlers_run_on_the_alternate_stack => "altstack";
    /// A handler's frame that cannot be written (a read-only alternate
    /// stack) forces a SIGSEGV, whose handler runs and the program goes on.
    an_unwritable_signal_frame_forces_a_sigsegv_the_program_may_handle => "altstack-fault";
    /// sigsuspend returns EINTR after a handler ran, for a pending signal and
    /// for one another thread sends later, and restores the mask.
    sigsuspend_waits_with_a_temporary_mask => "sigsuspend";
    /// sigtimedwait times out with EAGAIN after 100 ms, polls with a zero
    /// timeout, and takes a raised or queued signal with its siginfo.
    sigtimedwait_times_out_or_takes_a_pending_signal => "sigtimedwait";
    /// sigwaitinfo and sigwait take signals another thread sends to the
    /// process.
    sigwaitinfo_takes_a_signal_another_thread_sends => "sigwaitinfo";
    /// tkill to this thread; tgkill and tkill to another thread run the
    /// handler there.
    tgkill_and_tkill_reach_the_chosen_thread => "tkill";
    /// kill to the process reaches the one thread that does not block it.
    a_process_signal_goes_to_a_thread_that_does_not_block_it => "process";
    /// alarm(5) then alarm(1) returns 5; SIGALRM comes after a second.
    alarm_delivers_sigalrm_after_its_seconds => "alarm";
    /// ITIMER_REAL fires periodically and disarms; ITIMER_VIRTUAL fires on
    /// CPU time.
    interval_timers_fire => "itimer";
    /// A SIGALRM handler without SA_RESTART makes a blocked pipe read return
    /// EINTR.
    a_handler_without_sa_restart_interrupts_a_read => "eintr";
    /// With SA_RESTART a pipe read survives two SIGALRMs and completes with
    /// what the third handler writes.
    sa_restart_restarts_an_interrupted_read => "restart";
    /// With SA_RESTART the interrupted read completes with what another
    /// thread writes after the handler ran.
    a_restarted_read_gets_what_another_thread_writes => "restart-thread";
    /// nanosleep (with the time left), clock_nanosleep, poll and select return
    /// EINTR even with SA_RESTART.
    sleeps_poll_and_select_are_interrupted_even_with_sa_restart => "sleeps";
    /// timer_create(CLOCK_MONOTONIC, SIGEV_SIGNAL): one-shot, periodic and
    /// absolute timers deliver SI_TIMER with their value.
    posix_timers_deliver_their_signal => "timer";
    /// timer_create takes any real signal and SIGEV_THREAD as a signal, not
    /// an _ALARM clock here; a CLOCK_THREAD_CPUTIME_ID timer fires after
    /// the thread's CPU time; an absolute expiry 3 s late with a 1 ns period
    /// reports INT_MAX overruns; timer_settime(NULL) is EINVAL.
    posix_timer_edges_match_linux => "timer-edges";
    /// timer_create with SIGEV_THREAD calls its function in another thread.
    posix_timers_with_sigev_thread_notify_in_a_thread => "timer-thread";
    /// SIGSEGV for PROT_NONE, read-only, unmapped and NULL accesses, with
    /// SEGV_ACCERR or SEGV_MAPERR and the faulting address; siglongjmp out.
    sigsegv_names_the_faulting_address_and_cause => "segv";
    /// A SIGSEGV handler moves rip past the 2-byte faulting instruction and
    /// sets rdx; the interrupted code resumes with both.
    a_sigsegv_handler_can_edit_the_context_and_resume => "skip";
    /// Integer division by zero and INT_MIN / -1 raise SIGFPE (FPE_INTDIV)
    /// at the idiv.
    integer_division_errors_raise_sigfpe => "fpe";
    /// ud2 raises SIGILL (ILL_ILLOPN) at the ud2.
    ud2_raises_sigill => "ill";
    /// int3 raises SIGTRAP (SI_KERNEL); the handler returns and execution
    /// goes on after the int3.
    int3_raises_sigtrap_and_execution_resumes => "trap";
    /// A file mapping read past the end of the file raises SIGBUS
    /// (BUS_ADRERR) at that address.
    touching_a_mapping_past_the_end_of_its_file_raises_sigbus => "bus";
    /// A thread's stack overflow is caught by a SIGSEGV handler on its
    /// alternate stack.
    a_stack_overflow_is_caught_on_the_alternate_stack => "overflow";
    /// A handler starts with the default MXCSR; the interrupted code keeps its
    /// MXCSR, xmm and ymm registers.
    handlers_get_a_clean_fpu_state_and_leave_the_interrupted_one_intact => "fpstate";
}

#[test]
fn every_sub_test_in_one_process_matches_native() {
    matches_native("signals", &[], 0);
}

#[test]
fn default_actions_end_the_process_by_the_signal_or_ignore_it() {
    let ends = [libc::SIGHUP, libc::SIGINT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM, libc::SIGTERM];
    let ends_with_core = [libc::SIGQUIT, libc::SIGABRT, libc::SIGSEGV, libc::SIGKILL];
    for sig in ends.into_iter().chain(ends_with_core) {
        matches_native("signals", &["die", &sig.to_string()], 128 + sig);
    }
    for ignored in [libc::SIGCHLD, libc::SIGWINCH] {
        matches_native("signals", &["die", &ignored.to_string()], 0);
    }
}

#[test]
fn a_signal_raised_in_a_thread_ends_the_whole_process() {
    for sig in [libc::SIGTERM, libc::SIGUSR2] {
        matches_native("signals", &["die-thread", &sig.to_string()], 128 + sig);
    }
}

#[test]
fn writing_to_a_pipe_without_readers_dies_of_sigpipe() {
    matches_native("signals", &["die-pipe"], 128 + libc::SIGPIPE);
}

#[test]
fn abort_ends_the_process_even_when_the_sigabrt_handler_returns() {
    matches_native("signals", &["die-abort"], 128 + libc::SIGABRT);
}
