//! hx's guest kernel: a library kernel that runs beside one Linux program, at
//! the program's privilege level (CPL3), in its address space. The monitor
//! loads both, and enters `_start` with a pointer to the `BootInfo`.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod errno;
mod fs;
mod host;
mod mem;
mod mm;
mod rewrite;
mod ring;
mod sched;
mod signal;
mod stats;
mod syscall;
mod time;

use hx_abi::boot::{BootInfo, BOOT_MAGIC, FLAG_AWAIT_PROGRAM, FLAG_WARM_IMAGE};
use spin::Once;

static BOOT: Once<&'static BootInfo> = Once::new();

/// What the monitor said at boot.
pub fn boot_info() -> &'static BootInfo {
    BOOT.get().expect("set at boot")
}

/// The program's path as the guest sees it.
pub fn exe_path() -> &'static [u8] {
    let b = boot_info();
    &b.exe_path[..(b.exe_path_len as usize).min(b.exe_path.len())]
}

/// Rust entry, called by `_start` on each vCPU's idle stack. vCPU 0 sets
/// the kernel up and makes the program's first thread; the others only run
/// once the monitor starts them, after that.
///
/// `boot` is a raw pointer: with `FLAG_AWAIT_PROGRAM` the monitor writes the
/// block while this function waits, which no reference argument may see.
extern "C" fn kmain(boot_block: *const BootInfo, cpu: u64) -> ! {
    // SAFETY: the monitor's boot block, in the direct map for good; it
    // changes only inside `host::await_program` (a host call, which the
    // compiler assumes may write any memory).
    let boot: &'static BootInfo = unsafe { &*boot_block };
    // In a forked child the kernel is set up already (its memory is a copy):
    // every vCPU but the one that resumed the forking thread only idles.
    if cpu != 0 || BOOT.is_completed() {
        sched::idle_loop();
    }
    if boot.magic != BOOT_MAGIC {
        host::log(b"boot info has the wrong magic: kernel and monitor disagree on the ABI");
        host::exit_panic();
    }
    BOOT.call_once(|| boot);
    // The machine's part: what no program changes.
    mm::init(boot);
    time::init(boot.tsc_khz, boot.clock_tsc, boot.clock_realtime_ns, boot.clock_monotonic_ns);
    syscall::dispatch::init(boot.flags);
    rewrite::init(boot.flags);
    sched::init(boot.ncpus, boot.cpu_areas_phys);
    ring::init();
    let room_end = if boot.flags & FLAG_AWAIT_PROGRAM != 0 {
        let room_end = boot.phys_free;
        if boot.flags & FLAG_WARM_IMAGE != 0 {
            mm::warm_image();
        }
        host::await_program();
        Some(room_end)
    } else {
        None
    };
    // SAFETY: as above; read afresh (`black_box`: nothing read before the
    // launch is taken for what the block holds now).
    let boot: &'static BootInfo = unsafe { &*core::hint::black_box(boot_block) };
    if room_end.is_some() {
        // The clocks' anchor is the launch's.
        time::init(boot.tsc_khz, boot.clock_tsc, boot.clock_realtime_ns, boot.clock_monotonic_ns);
    }
    // The program's part.
    mm::adopt_program(boot, room_end);
    fs::proc::init(boot);
    fs::table::init(&boot.exec);
    syscall::process::set_identity(boot.exec.pid);
    syscall::process::sched_from_exec(&boot.exec.sched);
    syscall::fork::inherit_clone_children(boot.exec.clone_children != 0);
    let cwd = &boot.cwd[..(boot.cwd_len as usize).min(boot.cwd.len())];
    fs::path::init(cwd);
    syscall::path::init_umask(boot.umask);
    let frame = arch::entry::initial_frame(boot.user_entry, boot.user_sp);
    let main = sched::Thread::new(boot.exec.pid as u32, &frame, 0, signal::ThreadSignals::initial())
        .expect("guest RAM too small for the first thread");
    syscall::process::set_no_new_privs(boot.exec.no_new_privs != 0);
    syscall::process::set_printk_levels(boot.exec.printk);
    signal::coredump::set_filter(boot.exec.coredump_filter);
    mm::MAX_MAP_COUNT.store(boot.exec.max_map_count, core::sync::atomic::Ordering::Relaxed);
    syscall::seccomp::init_from_exec(&main, &boot.exec);
    let main = sched::spawn(main);
    signal::init_from_exec(&main, boot.exec.sig_ignored, boot.exec.sigmask, boot.exec.sig_pending);
    sched::idle_loop()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    struct Buf([u8; 512], usize);
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.0.len() - self.1);
            self.0[self.1..self.1 + n].copy_from_slice(&s.as_bytes()[..n]);
            self.1 += n;
            Ok(())
        }
    }
    let mut b = Buf([0; 512], 0);
    let _ = write!(b, "kernel panic: {info}");
    host::log(&b.0[..b.1]);
    host::exit_panic()
}

/// The prebuilt `alloc` refers to this; with `panic = "abort"` it is never called.
#[no_mangle]
extern "C" fn rust_eh_personality() {}
