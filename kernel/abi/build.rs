//! Generates `uapi.rs` in OUT_DIR: the Linux user-API structures and constants
//! that hx's signal, thread, timer and credentials code shares with
//! applications, taken by bindgen from the installed kernel headers
//! (`uapi.h`), never copied by hand.
//! bindgen needs libclang (Debian's libclang-dev; `.ci/setup` installs it).
use bindgen::callbacks::{IntKind, ParseCallbacks};
use std::path::PathBuf;

/// The structures (with what they contain, which bindgen follows by itself).
const TYPES: &[&str] = &[
    "sigaction",
    "sigset_t",
    "stack_t",
    "siginfo_t",
    "sigevent_t",
    "ucontext",
    "sigcontext",
    "_fpstate_64",
    "_xstate",
    "itimerspec",
    "itimerval",
    "__kernel_timespec",
    "robust_list_head",
    "futex_waitv",
    "clone_args",
    "stat",
    "rseq",
    "rseq_cs",
    // rseq.h's constants are enumerators: generated as constants of these types.
    "rseq_cpu_id_state",
    "rseq_flags",
    "rseq_cs_flags_bit",
    "rseq_cs_flags",
    "__user_cap_header_struct",
    "__user_cap_data_struct",
    "signalfd_siginfo",
];

/// The constant families, as regular expressions over macro names.
const CONSTANTS: &[&str] = &[
    "SIG[A-Z0-9_]+",
    "SA_[A-Z0-9_]+",
    "SS_[A-Z_]+",
    "MINSIGSTKSZ",
    "SI_[A-Z0-9_]+",
    "(ILL|FPE|SEGV|BUS|TRAP|CLD|POLL)_[A-Z0-9_]+",
    "UC_[A-Z_]+",
    "FP_XSTATE_MAGIC[12]",
    "FUTEX_[A-Z0-9_]+",
    "ROBUST_LIST_LIMIT",
    "CLONE_[A-Z_]+",
    "CAP_[A-Z_]+",
    "_LINUX_CAPABILITY_[A-Z0-9_]+",
    "NGROUPS_MAX",
    "W(NOHANG|UNTRACED|STOPPED|EXITED|CONTINUED|NOWAIT)",
    "__W(NOTHREAD|ALL|CLONE)",
    "P_(ALL|PID|PGID)",
    "PR_(SET|GET)_[A-Z_]+",
    "PR_CAPBSET_(READ|DROP)",
    "MPOL_[A-Z_]+",
    // The last si_code of each signal's own codes (which `siginfo` layout a code means).
    "NSIG(ILL|FPE|SEGV|BUS|TRAP|CHLD|POLL|SYS)",
    "SFD_(CLOEXEC|NONBLOCK)",
    "TFD_(TIMER_ABSTIME|TIMER_CANCEL_ON_SET|CLOEXEC|NONBLOCK)",
];

/// C function-pointer types that are user addresses to the kernel (`SIG_DFL`
/// is 0, `SIG_IGN` 1, a handler is wherever the program put it): `uapi.rs`
/// defines them as `u64`, the same size and alignment.
const ADDRESS_TYPES: &[&str] = &["__sighandler_t", "__sigrestore_t"];

/// Flag families typed as the 64-bit fields they go into (`clone_args.flags`,
/// `sigaction.sa_flags`); every other constant keeps bindgen's choice.
#[derive(Debug)]
struct FieldTypes;

impl ParseCallbacks for FieldTypes {
    fn int_macro(&self, name: &str, _value: i64) -> Option<IntKind> {
        (name.starts_with("CLONE_") || name.starts_with("SA_")).then_some(IntKind::U64)
    }
}

fn main() {
    let header = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("uapi.h");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("uapi.rs");
    let mut builder = bindgen::Builder::default()
        .header(header.to_str().expect("uapi.h's path is UTF-8"))
        .use_core()
        .ctypes_prefix("core::ffi")
        .layout_tests(false)
        .derive_default(true)
        .derive_copy(true)
        .derive_debug(true)
        .impl_debug(true)
        .generate_comments(false)
        .prepend_enum_name(false)
        .parse_callbacks(Box::new(FieldTypes))
        // Reruns this script when uapi.h or any header it includes changes.
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for ty in TYPES {
        builder = builder.allowlist_type(ty);
    }
    for ty in ADDRESS_TYPES {
        builder = builder.blocklist_type(ty);
    }
    // What those two alias, unused once they are integers.
    builder = builder.blocklist_type("__signalfn_t|__restorefn_t");
    for constant in CONSTANTS {
        builder = builder.allowlist_var(constant);
    }
    let bindings = builder.generate().unwrap_or_else(|e| panic!("bindgen over {}: {e}", header.display()));
    bindings.write_to_file(&out).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
