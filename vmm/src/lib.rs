//! hx's monitor: the library behind `hx-run` (and the host-side fuzz harness,
//! which drives the request handlers without KVM).
pub mod arch;
pub mod fault;
pub mod fdpass;
pub mod front;
pub mod futex;
pub mod host;
pub mod image;
pub mod kernel_image;
pub mod loader;
pub mod lockdown;
pub mod memory;
pub mod platform;
pub mod process;
pub mod report;
pub mod ring;
pub mod sandbox;
pub mod signals;
pub mod slots;
pub mod smp;
pub mod tsc;
pub mod vcpu;
pub mod vm;
pub mod waits;
pub mod watch;
