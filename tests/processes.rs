//! Processes inside hx: fork, exec, wait, pipes between processes, process
//! groups, scripts, PATH search — shells, make and Python's subprocess —
//! each compared with the same command run natively (stdout, stderr, status).
mod common;

use common::{build, status_code, text, trap_path_total, Flavor, HX_RUN};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `argv` in a fresh directory holding `files` (name, contents, mode),
/// natively or under hx-run.
fn run_in_dir(hx: bool, argv: &[&str], files: &[(&str, &str, u32)], env: &[(&str, &str)]) -> Output {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for (name, body, mode) in files {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode)).unwrap();
    }
    let mut cmd = if hx {
        let mut c = Command::new(HX_RUN);
        c.args(argv);
        c
    } else {
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.current_dir(dir.path()).envs(env.iter().copied()).stdin(Stdio::null());
    let out = cmd.output().unwrap();
    // Nothing the guest started may outlive hx-run.
    out
}

fn same(what: &str, argv: &[&str], files: &[(&str, &str, u32)], env: &[(&str, &str)]) -> Output {
    let n = run_in_dir(false, argv, files, env);
    let h = run_in_dir(true, argv, files, env);
    assert_eq!(text(&h.stdout), text(&n.stdout), "{what}: stdout differs (stderr under hx: {})", text(&h.stderr));
    assert_eq!(text(&h.stderr), text(&n.stderr), "{what}: stderr differs");
    assert_eq!(status_code(&h), status_code(&n), "{what}: exit status differs");
    h
}

fn bash(what: &str, script: &str) -> Output {
    same(what, &["/bin/bash", "-c", script], &[], &[])
}

fn sub_test(name: &str) {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("processes", flavor, &[]);
        let exe = exe.to_str().unwrap();
        same(&format!("{name} ({flavor:?})"), &[exe, name], &[], &[]);
    }
}

/// musl's own assembly (vfork, posix_spawn's clone, a child's exit) and its C
/// wrappers (fork, wait4, kill) go through the kernel's vector on the fast
/// libc: the same output as natively and no trap-path syscall of its own.
#[test]
fn fork_vfork_and_posix_spawn_on_the_fast_libc_make_no_trap_path_syscall() {
    let exe = build("processes", Flavor::MuslDynamic, &[]);
    let exe = exe.to_str().unwrap();
    for name in ["spawn", "fork_wait", "sigchld", "pipe"] {
        let what = format!("{name} (musl, --fast-libc)");
        let n = run_in_dir(false, &[exe, name], &[], &[]);
        let h = run_in_dir(true, &["--fast-libc", "--stats", exe, name], &[], &[]);
        let err = text(&h.stderr);
        assert_eq!(text(&h.stdout), text(&n.stdout), "{what}: stdout differs (stderr under hx: {err})");
        assert_eq!(status_code(&h), status_code(&n), "{what}: exit status differs");
        assert_eq!(trap_path_total(&err), 0, "{what}: every syscall must go through the vector:\n{err}");
    }
}

#[test]
fn fork_and_wait_report_exit_statuses_and_deaths_by_signal() {
    sub_test("fork_wait");
}

#[test]
fn a_forked_child_has_a_copy_of_memory() {
    sub_test("memory");
}

#[test]
fn a_pipe_between_two_processes_carries_data_both_ways_and_reports_eof_and_epipe() {
    sub_test("pipe");
}

#[test]
fn exec_of_a_missing_file_a_directory_a_non_elf_and_a_missing_interpreter_fail_as_on_linux() {
    sub_test("exec_errors");
}

#[test]
fn exec_keeps_the_pid_inherited_descriptors_and_ignored_signals() {
    sub_test("exec_keeps");
}

#[test]
fn a_program_runs_itself_again_through_proc_self_exe() {
    sub_test("selfexec");
}

#[test]
fn posix_spawn_and_vfork_start_programs() {
    sub_test("spawn");
}

/// Spawns after the first find a monitor made ahead: it holds none of the
/// parent's descriptors (a pipe's reader sees EOF), gets the child's file
/// actions, argv, environment and directory, and takes a signal sent the
/// moment the spawn returns.
#[test]
fn a_monitor_made_ahead_takes_each_spawned_child_as_a_fresh_one() {
    sub_test("spare");
}

/// A spawner that ends first leaves its children running (orphans, as on
/// Linux), even those whose monitors were made ahead of the spawn.
#[test]
fn children_spawned_from_spares_outlive_their_parent() {
    sub_test("spawner_ends_first");
}

/// A wait for any child, right after one is killed, finds it even when
/// monitors made ahead of spawns came back and were sent away (host
/// children that stand for no process; one found first hid the killed
/// child from every `waitpid(-1, WNOHANG)`, and asyncio waited forever).
#[test]
fn a_wait_for_any_child_finds_a_killed_one_behind_ended_spares() {
    sub_test("wait_any_killed");
}

/// Zombies whose monitors came back as spares keep their statuses, take a
/// SIGKILL as zombies do, and report only their own CPU time.
#[test]
fn zombies_of_monitors_made_spares_again_stay_apart_from_newer_children() {
    sub_test("spare_zombies");
}

/// Children that run threads on several vCPUs, then plain ones: a monitor
/// that comes back as a spare after either boots the next child.
#[test]
fn spares_come_back_after_children_with_threads() {
    sub_test("spare_threads");
}

/// An image exec'd with an empty argv gets one empty argument, as Linux
/// gives it (programs take argv[0] to be there).
#[test]
fn an_empty_argv_gets_one_empty_argument() {
    sub_test("empty_argv");
}

/// A killed child whose monitor kept a spare (it had started children):
/// the spare's end, which may come with the child's as one host SIGCHLD,
/// must not hide the child's from its parent's wait.
#[test]
fn a_killed_child_that_spawned_is_reaped_at_once() {
    sub_test("kill_spawner");
}

/// One blocking send of 16 MiB to a reader in another process moves it all
/// (the kernel went on part after part by recursion, and overflowed its stack).
#[test]
fn a_big_blocking_send_to_another_process_moves_everything() {
    sub_test("big_send");
}

/// A fork moves the kernel's pipes to the host: an epoll set watching one
/// keeps watching it (a SIGCHLD handler's self-pipe, as in Python's forkserver).
#[test]
fn epoll_keeps_watching_a_pipe_across_a_fork() {
    sub_test("epoll_fork");
}

/// A thread blocked reading a pipe while another thread forks (the pipe
/// moves to the host then) reads what the child writes, not an early EOF.
#[test]
fn a_reader_blocked_on_a_pipe_across_another_threads_fork_gets_the_data() {
    sub_test("fork_in_thread");
}

/// A vfork child runs in its parent's VM until it execs: its writes are the
/// parent's, its descriptors, signal actions, umask and working directory
/// its own; its end, a failed exec and a fatal signal come back as on Linux.
#[test]
fn a_vfork_child_shares_memory_but_keeps_its_own_process_state() {
    sub_test("vfork");
}

/// The kernel's generator is seeded from the boot's seed: a forked child
/// must not draw its parent's bytes (it asks the host for its own seed).
#[test]
fn a_forked_child_draws_other_random_bytes_than_its_parent() {
    sub_test("fork_random");
}

/// A child's monitor tells the parent of the end before it tears its VM
/// down; the host's SIGCHLD when that monitor ends is not a second one.
#[test]
fn each_child_end_sends_one_sigchld() {
    sub_test("one_sigchld");
}

#[test]
fn sigchld_arrives_and_kill_reaches_a_child() {
    sub_test("sigchld");
}

#[test]
fn process_groups_and_sessions_follow_linux_rules() {
    sub_test("groups");
}

#[test]
fn an_orphan_gets_a_new_parent() {
    sub_test("orphan");
    sub_test("orphan_wait");
    sub_test("orphan_wait_nested");
}

#[test]
fn ignored_sigchld_leaves_no_zombies() {
    sub_test("nocldwait");
}

#[test]
fn pr_set_pdeathsig_signals_a_child_when_its_parent_ends() {
    sub_test("pdeathsig");
}

#[test]
fn waitid_reports_exits_and_signals_by_pid_or_any_and_wnowait_leaves_the_child() {
    sub_test("waitid");
}

#[test]
fn waitid_by_process_group_reaps_only_that_groups_children() {
    sub_test("waitid_pgid");
}

#[test]
fn wait4_fills_the_childs_resource_usage() {
    sub_test("rusage");
}

/// A SIGCHLD handler with SA_SIGINFO is told which child changed state and
/// how: CLD_EXITED with the exit status, CLD_KILLED with the signal (hx told
/// SI_USER from pid 0, as for a signal from the outside).
#[test]
fn sigchld_tells_a_siginfo_handler_the_child_and_how_it_ended() {
    sub_test("sigchld_info");
}

/// `clone` with an exit signal other than SIGCHLD: the child's end sends
/// that signal (none for 0), plain waits do not see it (ECHILD, or only the
/// plain children), `__WCLONE` and `__WALL` do — as on Linux (hx gave every
/// child SIGCHLD and let every wait take it).
#[test]
fn clone_children_send_their_exit_signal_and_need_wclone_or_wall() {
    sub_test("clone_exit_signal");
}

/// SA_NOCLDWAIT: children that end afterwards leave no zombie and the
/// handler still runs; a zombie from before the flag stays waitable (hx
/// reaped it too).
#[test]
fn sa_nocldwait_reaps_new_children_and_the_handler_still_runs() {
    sub_test("sa_nocldwait");
}

#[test]
fn a_signal_sent_right_after_fork_reaches_the_child() {
    sub_test("kill_new_children");
}

#[test]
fn kill_of_a_process_group_reaches_its_members_only() {
    sub_test("kill_group");
}

/// kill(-1) signals every process the caller may: natively that is only
/// safe as the init of a pid namespace of its own (the program refuses to
/// call it unless it is pid 1); under hx the program is pid 1 of its guest.
#[test]
fn kill_minus_one_reaches_every_other_process_but_not_the_caller() {
    let expected = "kill(-1, SIGTERM): 0\nchild in our group: killed by Terminated\n\
                    child in its own group: killed by Terminated\ncaller survives\n\
                    kill(-1, 0) with nobody else: -1 No such process\n";
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("processes", flavor, &[]);
        let exe = exe.to_str().unwrap();
        let n = run_in_dir(false, &["unshare", "--pid", "--fork", "--kill-child", exe, "kill_all"], &[], &[]);
        if n.status.success() {
            assert_eq!(text(&n.stdout), expected, "kill_all ({flavor:?}) natively in a pid namespace");
        } else {
            eprintln!("no pid namespace natively ({}): hx compared with the expected text only", text(&n.stderr));
        }
        let h = run_in_dir(true, &[exe, "kill_all"], &[], &[]);
        assert_eq!(text(&h.stdout), expected, "kill_all ({flavor:?}) under hx: {}", text(&h.stderr));
        assert_eq!(status_code(&h), 0);
    }
}

#[test]
fn fexecve_and_execveat_run_a_program_from_a_descriptor_or_a_directory() {
    sub_test("exec_at");
}

#[test]
fn exec_at_edges_nofollow_unknown_flag_directory_and_a_close_on_exec_script() {
    sub_test("exec_at_edges");
}

#[test]
fn raw_clone_and_clone3_without_clone_vm_act_like_fork() {
    sub_test("clone_fork");
}

#[test]
fn a_forked_child_shares_the_file_offset_with_its_parent() {
    sub_test("shared_offset");
}

#[test]
fn execve_of_scripts_passes_the_interpreter_argument_and_limits_nesting() {
    sub_test("scripts");
}

#[test]
fn bash_pipelines_and_lists() {
    bash("pipeline", "seq 1000 | sort -rn | head -3");
    bash("and/or lists", "true && echo yes || echo no; false && echo yes || echo no");
    bash("command substitution", "x=$(echo inner; echo two); echo \"[$x]\"; echo $(( $(seq 10 | wc -l) * 2 ))");
    bash("while read", "printf 'a 1\\nb 2\\nc 3\\n' | while read k v; do echo \"$v=$k\"; done");
    bash(
        "redirections",
        "echo one > f; echo two >> f; wc -l < f; cat f 2>&1 >/dev/null; ls nothere 2>/dev/null || echo missing",
    );
    bash(
        "status of a pipeline and a subshell",
        "(exit 3); echo $?; false | true; echo $?; set -o pipefail; false | true; echo $?",
    );
}

#[test]
fn a_child_shell_killed_by_a_signal_reports_the_native_status() {
    // The outer shell reports the death with the child's pid: that line is
    // dropped (pids differ between runs), the status is compared.
    bash("kill -9 $$ in a child", "sh -c \"bash -c 'kill -9 \\$\\$'; echo status \\$?\" 2>/dev/null");
    bash("kill -TERM in a child", "sh -c 'kill -TERM $$'; echo \"status $?\"");
    bash("exit status of the last command", "sh -c 'exit 42'");
}

#[test]
fn scripts_run_through_their_interpreter() {
    let script = "#!/bin/sh\necho \"script $0 with $# args: $*\"\nexit 5\n";
    same("a #! script", &["./s.sh", "a", "b"], &[("s.sh", script, 0o755)], &[]);
    let nested = "#!./s.sh extra\n";
    same("a script as interpreter", &["./n", "z"], &[("s.sh", script, 0o755), ("n", nested, 0o755)], &[]);
    let py = "#!/usr/bin/env python3\nimport sys\nprint('python', sys.argv[1:])\n";
    same("#! through env", &["./p.py", "1"], &[("p.py", py, 0o755)], &[]);
}

#[test]
fn a_program_without_a_slash_is_found_on_path() {
    same("ls", &["ls", "-1"], &[("b", "", 0o644), ("a", "", 0o644)], &[]);
    same("env", &["env", "-i", "A=1", "B=2", "env"], &[], &[]);
    let out = run_in_dir(true, &["no-such-program-anywhere"], &[], &[]);
    assert_eq!(status_code(&out), 127, "{}", text(&out.stderr));
}

#[test]
fn make_runs_recipes_and_propagates_a_failure() {
    let makefile = "all: a b\n\t@echo done\na:\n\t@echo building a\nb: a\n\t@echo building b; echo b > b.out\n\
                    fail:\n\t@echo about to fail\n\t@false\n\t@echo not reached\n";
    same("make", &["make", "-s"], &[("Makefile", makefile, 0o644)], &[]);
    same("make fail", &["make", "-s", "fail"], &[("Makefile", makefile, 0o644)], &[]);
}

#[test]
fn xargs_find_exec_and_timeout() {
    let files = [("one.txt", "1\n", 0o644), ("two.txt", "22\n", 0o644), ("three.log", "333\n", 0o644)];
    same("xargs", &["/bin/sh", "-c", "ls *.txt | xargs wc -c | sort"], &files, &[]);
    same("find -exec", &["/bin/sh", "-c", "find . -name '*.txt' -exec cat {} \\; | sort"], &files, &[]);
    same("timeout", &["timeout", "5", "sh", "-c", "echo in time"], &[], &[]);
    same("timeout expires", &["timeout", "0.2", "sleep", "5"], &[], &[]);
}

#[test]
fn python_subprocess_fork_and_exec() {
    let script = r#"
import os, subprocess, sys
print(subprocess.run(["echo", "run"], capture_output=True, text=True).stdout, end="")
print(subprocess.check_output("seq 3 | tac", shell=True, text=True), end="")
p = subprocess.Popen(["tr", "a-z", "A-Z"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
print(p.communicate("popen with pipes\n")[0], end="")
print("returncode", subprocess.run(["sh", "-c", "exit 6"]).returncode)
pid = os.fork()
if pid == 0:
    os._exit(11)
_, status = os.waitpid(pid, 0)
print("fork status", os.waitstatus_to_exitcode(status))
sys.stdout.flush()
if os.fork() == 0:
    os.execv("/bin/echo", ["echo", "execv", "ok"])
os.wait()
"#;
    same("python subprocess", &["/usr/bin/python3", "-c", script], &[], &[("PYTHONDONTWRITEBYTECODE", "1")]);
}

#[test]
fn multiprocessing_pool_maps_over_two_workers() {
    // Its locks are POSIX semaphores in a MAP_SHARED /dev/shm file, shared
    // by the forked workers; Value and Array live in shared anonymous memory.
    let script = "import multiprocessing as mp\n\
                  def sq(x):\n    return x * x\n\
                  def add(v, a):\n    with v.get_lock():\n        v.value += 1\n    a[0] += 10\n\
                  if __name__ == '__main__':\n    with mp.Pool(2) as p:\n        print(p.map(sq, range(10)))\n\
                  \x20   v, a = mp.Value('i', 0), mp.Array('i', [1, 2])\n\
                  \x20   ps = [mp.Process(target=add, args=(v, a)) for _ in range(3)]\n\
                  \x20   [p.start() for p in ps]\n    [p.join() for p in ps]\n\
                  \x20   print(v.value, a[:])\n";
    same("multiprocessing", &["/usr/bin/python3", "m.py"], &[("m.py", script, 0o644)], &[]);
}

#[test]
fn a_fork_bomb_is_stopped_by_the_process_limit_and_hx_run_cleans_up() {
    // Each process forks until fork fails; the first reports and ends the tree.
    let bomb = r#"
import os, sys
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print("fork failed:", e.errno == 11, flush=True)
        break
    if pid == 0:
        import time; time.sleep(60); os._exit(0)
    n += 1
print("forked more than 100:", n > 100, flush=True)
os._exit(0)
"#;
    let out = run_in_dir(true, &["--memory", "64M", "/usr/bin/python3", "-c", bomb], &[], &[]);
    assert_eq!(text(&out.stdout), "fork failed: True\nforked more than 100: True\n", "{}", text(&out.stderr));
    assert_eq!(status_code(&out), 0);
    // The guest's processes were the first process's; none is left on the host.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left = Command::new("pgrep").args(["-f", "hx-run --memory 64M"]).output().unwrap();
    assert!(left.stdout.is_empty(), "monitors left behind: {}", text(&left.stdout));
}

#[test]
fn gcc_compiles_and_links_inside_hx() {
    let hello = "#include <stdio.h>\nint main(void) { printf(\"compiled inside hx\\n\"); return 0; }\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.c"), hello).unwrap();
    let out = Command::new(HX_RUN)
        .args(["/bin/sh", "-c", "gcc -O2 hello.c -o hello && ./hello"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "compiled inside hx\n", "{}", text(&out.stderr));
    assert!(out.status.success());
    // The binary runs natively with the same output.
    let native = Command::new(dir.path().join("hello")).output().unwrap();
    assert_eq!(text(&native.stdout), "compiled inside hx\n");
    let _ = Path::new("");
}

#[test]
fn fast_libc_applies_to_a_musl_image_execd_inside() {
    let libc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sysroot/lib/libc.so");
    assert!(libc.is_file(), "{} is missing: run musl-patch/build.sh (.ci/setup does)", libc.display());
    let launcher = build("execv", Flavor::MuslDynamic, &[]);
    let hello = build("hello", Flavor::MuslDynamic, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(HX_RUN)
        .args(["--fast-libc", "--stats"])
        .arg(&launcher)
        .arg(&hello)
        .arg("x")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(text(&out.stdout), "hello, world\nargv[1] = x\nHX_TEST_VAR = (unset)\n", "{err}");
    assert_eq!(status_code(&out), 2, "hello exits with its argc");
    // The statistics are the last image's: the exec'd hello made no trap-path syscall.
    assert_eq!(trap_path_total(&err), 0, "the exec'd image must use the fast libc:\n{err}");
}

#[test]
fn other_processes_appear_in_proc_and_ps() {
    // Each process is its own VM: /proc/<pid> of the others comes from the
    // monitors' process table (ids, name, command line). The child shows
    // as sh until its exec of sleep: wait for that (a loaded host is slow).
    let script = "sleep 5 & p=$!; until grep -q '^Name:.sleep' /proc/$p/status; do :; done; ps -o pid=,ppid=,comm=; tr '\\0' ' ' < /proc/$p/cmdline; echo; \
                  grep -E '^(Name|PPid)' /proc/$p/status; ls /proc | grep -c '^[0-9]*$'; kill $p";
    let out = run_in_dir(true, &["/bin/sh", "-c", script], &[], &[]);
    let got = text(&out.stdout);
    let rows: Vec<Vec<String>> =
        got.lines().take(3).map(|l| l.split_whitespace().map(str::to_string).collect()).collect();
    assert_eq!(rows[0], ["1", "0", "sh"], "{got}");
    assert_eq!(rows[1], ["2", "1", "sleep"], "{got}");
    assert_eq!(rows[2][1..], ["1", "ps"], "{got}");
    assert!(got.contains("\nsleep 5 \n"), "{got}");
    assert!(got.contains("Name:\tsleep\nPPid:\t1\n"), "{got}");
    // sh, sleep, and the pipeline's ls and grep.
    assert!(got.lines().last().is_some_and(|n| n.trim().parse::<u32>().is_ok_and(|n| n >= 3)), "{got}");
    assert_eq!(status_code(&out), 0, "{}", text(&out.stderr));
}

#[test]
fn fifos_connect_a_reader_and_a_writer_whichever_opens_first() {
    // mkfifo in the working directory (a read-write mount); a blocking open
    // waits for the other end, whichever side comes first. (The fifo is made
    // before either side starts: a background mkfifo raced the reader.)
    bash(
        "fifo",
        "mkfifo f && ls -l f | cut -c1; (sleep 0.3; echo first > f) & cat f; \
         (sleep 0.3; cat f) & echo second > f; wait; mknod g p && ls -l g | cut -c1",
    );
}

#[test]
fn scheduling_priority_and_child_usage_calls_answer_as_linux() {
    let script = "import os, time, resource, subprocess\n\
        print(os.sched_get_priority_min(os.SCHED_RR), os.sched_get_priority_max(os.SCHED_RR), os.sched_getscheduler(0))\n\
        print('deadline', os.sched_get_priority_min(6), os.sched_get_priority_max(6))\n\
        print(os.getpriority(os.PRIO_PROCESS, 0)); os.setpriority(os.PRIO_PROCESS, 0, 5); print(os.getpriority(os.PRIO_PROCESS, 0))\n\
        try:\n    time.clock_settime(time.CLOCK_MONOTONIC, 0)\nexcept OSError as e:\n    print('settime', e.errno)\n\
        subprocess.run(['/bin/true'])\n\
        r = resource.getrusage(resource.RUSAGE_CHILDREN)\nprint(r.ru_utime >= 0, r.ru_maxrss > 0)\n\
        print(os.sched_rr_get_interval(0))\n";
    same("scheduling", &["/usr/bin/python3", "s.py"], &[("s.py", script, 0o644)], &[]);
}

#[test]
fn fork_while_other_threads_are_busy_in_the_kernel() {
    // The child's copy of kernel memory is taken while two threads create,
    // join and sleep on the other vCPU: no lock of theirs, wait-queue entry
    // or queued thread may reach the child, and its thread ids must not
    // collide with any pid (each child creates a thread and exits with 7).
    for (flavor, forks) in [(Flavor::GlibcDynamic, "300"), (Flavor::MuslStatic, "200")] {
        let exe = build("fork_busy", flavor, &[]);
        let native = common::native(&exe, &[forks], &[]);
        let hx = common::hx(&["--cpus", "2"], &exe, &[forks], &[]);
        common::assert_same(&format!("fork_busy ({flavor:?})"), &native, &hx);
    }
}

/// Job control: a stop signal's default action stops the process (its
/// monitor stops on the host), its parent's wait and `/proc` see it stopped
/// with that signal, SIGCONT continues it (WCONTINUED), SIGCHLD reports both
/// unless SA_NOCLDSTOP, a caught SIGTSTP does not stop, SIGKILL ends a
/// stopped process (tests/programs/jobs.c, compared with the native run).
#[test]
fn stop_signals_stop_processes_and_sigcont_continues_them() {
    for flavor in [Flavor::GlibcDynamic, Flavor::MuslStatic] {
        let exe = build("jobs", flavor, &[]);
        same(&format!("jobs ({flavor:?})"), &[exe.to_str().unwrap()], &[], &[]);
    }
    // A shell's own view: a background job stopped and continued.
    bash(
        "a stopped background job",
        "sleep 0.3 & kill -STOP $!; sleep 0.1; ps_state=$(cut -d' ' -f3 /proc/$!/stat); \
         echo state $ps_state; kill -CONT $!; wait $!; echo waited $?",
    );
}

/// The program itself stopping stops `hx-run` for its caller (a shell sees
/// its job stopped), and a SIGCONT to `hx-run` lets the program go on.
#[test]
fn a_stopped_program_stops_hx_run_until_sigcont() {
    use std::os::unix::process::ExitStatusExt;
    let child = Command::new(HX_RUN)
        .args(["/bin/sh", "-c", "kill -STOP $$; echo went on"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: waits for our own child (stopped or ended).
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    assert_eq!(r, pid);
    assert!(libc::WIFSTOPPED(status), "hx-run did not stop: status {status:#x}");
    // SAFETY: continues our own child.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(text(&out.stdout), "went on\n");
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status.signal());
}

/// `reboot` as Linux answers it in a PID namespace (the guest's tree is
/// one): bad magic numbers are EINVAL, Ctrl-Alt-Del's setting is taken, and
/// a power-off ends the tree as its first process killed by SIGINT (a
/// restart: SIGHUP), also when a child asks. Not compared with a native run:
/// natively, root's reboot would act on the machine.
#[test]
fn reboot_ends_the_tree_as_in_a_pid_namespace() {
    let script = r#"import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def reboot(cmd, magic2=672274793):
    r = libc.syscall(169, 0xfee1dead, magic2, cmd, None)
    return r if r == 0 else errno.errorcode[ctypes.get_errno()]
print("bad magic", reboot(0x4321fedc, magic2=1), flush=True)
print("bad command", reboot(0x12345678), flush=True)
print("ctrl-alt-del on", reboot(0x89abcdef), flush=True)
if sys.argv[1] == "child":
    if os.fork() == 0:
        reboot(0x01234567)
        os._exit(3)
    os.wait()
else:
    reboot(0x4321fedc)
print("still here", flush=True)
"#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.py"), script).unwrap();
    for (who, status) in [("self", 128 + libc::SIGINT), ("child", 128 + libc::SIGKILL)] {
        let out = Command::new(HX_RUN)
            .args(["/usr/bin/python3", "t.py", who])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            text(&out.stdout),
            "bad magic EINVAL\nbad command EINVAL\nctrl-alt-del on 0\n",
            "{who}: {}",
            text(&out.stderr)
        );
        assert_eq!(status_code(&out), status, "{who}: {}", text(&out.stderr));
    }
}
