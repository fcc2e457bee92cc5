//! How hx starts a Linux x86-64 binary.
//!
//! [`classify`] reads an ELF and says what it is, [`layout`] decides where each
//! loadable segment goes, and [`stack`] builds the initial process stack a Linux
//! kernel would give it (argc, argv, envp, auxv). The monitor does the copying.
pub mod classify;
pub mod layout;
pub mod stack;

pub use classify::{classify, Kind};
pub use layout::{plan, unindexed_function_table, Image, Segment};
pub use stack::{build_stack, StackImage, StackInput};
