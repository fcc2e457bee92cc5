//! Defence in depth for the monitor, applied once the VM is built and before
//! the guest runs: even a bug in the request handlers cannot reach more of the
//! host than the guest's mounts (Landlock) or make host calls the monitor
//! never needs (seccomp). Started as root, hx-run can also give up root first
//! (`--user`). docs/security.md describes what each layer stops.
mod filesystem;
mod number_tree;
mod seccomp;
mod user;

pub use filesystem::{restrict_files, FileRestriction};
pub use seccomp::{confine_front, confine_syscalls, forbidden_call_for_test};
pub use user::{drop_to, host_caps, parse_user, User};
