//! The ABI between hx's guest kernel and its monitor (`hx-run`).
//!
//! Both sides compile this crate: the kernel as `no_std`, the monitor with the
//! `host` feature, which lets vm-memory read and write these structures in guest
//! RAM. Anything both sides must agree on lives here and nowhere else.
#![no_std]

pub mod boot;
pub mod hypercall;
pub mod ioctl;
pub mod layout;
pub mod percpu;
pub mod ring;
pub mod stats;
pub mod syscalls;
pub mod uapi;

#[cfg(feature = "host")]
mod host_impls {
    // SAFETY: every type below is `#[repr(C)]`, made only of integers and arrays
    // of integers, with explicit padding, so any byte pattern is a valid value.
    unsafe impl vm_memory::ByteValued for crate::boot::BootInfo {}
    unsafe impl vm_memory::ByteValued for crate::boot::ExecState {}
    unsafe impl vm_memory::ByteValued for crate::boot::UserRegion {}
    unsafe impl vm_memory::ByteValued for crate::hypercall::Request {}
    unsafe impl vm_memory::ByteValued for crate::hypercall::Segment {}
    unsafe impl vm_memory::ByteValued for crate::hypercall::PollEntry {}
    unsafe impl vm_memory::ByteValued for crate::hypercall::ProcIdentity {}
    unsafe impl vm_memory::ByteValued for crate::hypercall::ProcInfo {}
    unsafe impl vm_memory::ByteValued for crate::stats::Stats {}
    unsafe impl vm_memory::ByteValued for crate::percpu::PerCpu {}
    unsafe impl vm_memory::ByteValued for crate::percpu::Shared {}
}
