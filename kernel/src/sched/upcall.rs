//! The monitor's way into the kernel while the program runs: it stops a vCPU
//! in program code and enters `hx_upcall_entry` (time slice over, a timer
//! due, a signal for the thread, or a fault the program handles).
use crate::arch::entry::Frame;
use crate::arch::percpu;
use hx_abi::percpu::{UPCALL_FAULT, UPCALL_PREEMPT};

pub extern "C" fn from_upcall(frame: &mut Frame) {
    let p = percpu::this();
    match p.upcall_kind {
        UPCALL_PREEMPT => {
            super::yield_now();
            crate::syscall::thread::rseq_fixup(super::current(), frame);
        }
        UPCALL_FAULT => crate::signal::fault(frame, p.fault_vector, p.fault_error, p.fault_addr),
        _ => {}
    }
    crate::syscall::dispatch::exit_work(frame);
}
