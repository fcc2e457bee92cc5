//! `hx_abi::uapi` agrees with the C compiler about the kernel's UAPI headers:
//! every generated structure's size and alignment, every field's offset and
//! size, every typedef's size and every constant's value are compared with
//! what a C program built by `cc` from the same `uapi.h` prints.
#![allow(unused_unsafe)] // The field-size closures need `unsafe` only through unions.

use hx_abi::uapi::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::Path;
use std::process::Command;

/// What bindgen generated, to find anything the lists below leave out.
const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/uapi.rs"));

struct Record {
    name: &'static str,
    size: usize,
    align: usize,
    fields: Vec<Field>,
}

/// A field reached from a record by a path of Rust field names; bindgen names
/// C's anonymous unions and structs `__bindgen_anon_N`, which C's own
/// designator skips.
struct Field {
    path: &'static [&'static str],
    offset: usize,
    size: usize,
}

impl Field {
    fn c_designator(&self) -> String {
        let named: Vec<&str> = self.path.iter().copied().filter(|p| !p.starts_with("__bindgen_anon_")).collect();
        named.join(".")
    }
}

/// The size of the field a (never called) accessor reaches.
fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! record {
    ($t:ident { $($($f:ident).+),* $(,)? }) => {
        Record {
            name: stringify!($t),
            size: size_of::<$t>(),
            align: align_of::<$t>(),
            fields: vec![$(Field {
                path: &[$(stringify!($f)),+],
                offset: offset_of!($t, $($f).+),
                size: field_size(|r: &$t| unsafe { &r$(.$f)+ }),
            }),*],
        }
    };
}

/// Every generated structure and union (by its Rust name; C's is `struct` or
/// `union` and the same name), with paths that reach every field of it and of
/// the anonymous records inside it.
fn records() -> Vec<Record> {
    vec![
        record!(sigaction { sa_handler, sa_flags, sa_restorer, sa_mask }),
        record!(sigaltstack { ss_sp, ss_flags, ss_size }),
        record!(sigval { sival_int, sival_ptr }),
        record!(siginfo {
            __bindgen_anon_1.__bindgen_anon_1.si_signo,
            __bindgen_anon_1.__bindgen_anon_1.si_errno,
            __bindgen_anon_1.__bindgen_anon_1.si_code,
            __bindgen_anon_1.__bindgen_anon_1._sifields,
            __bindgen_anon_1._si_pad,
        }),
        record!(__sifields {
            _kill._pid,
            _kill._uid,
            _timer._tid,
            _timer._overrun,
            _timer._sigval,
            _timer._sys_private,
            _rt._pid,
            _rt._uid,
            _rt._sigval,
            _sigchld._pid,
            _sigchld._uid,
            _sigchld._status,
            _sigchld._utime,
            _sigchld._stime,
            _sigfault._addr,
            _sigfault.__bindgen_anon_1._trapno,
            _sigfault.__bindgen_anon_1._addr_lsb,
            _sigfault.__bindgen_anon_1._addr_bnd._dummy_bnd,
            _sigfault.__bindgen_anon_1._addr_bnd._lower,
            _sigfault.__bindgen_anon_1._addr_bnd._upper,
            _sigfault.__bindgen_anon_1._addr_pkey._dummy_pkey,
            _sigfault.__bindgen_anon_1._addr_pkey._pkey,
            _sigfault.__bindgen_anon_1._perf._data,
            _sigfault.__bindgen_anon_1._perf._type,
            _sigfault.__bindgen_anon_1._perf._flags,
            _sigpoll._band,
            _sigpoll._fd,
            _sigsys._call_addr,
            _sigsys._syscall,
            _sigsys._arch,
        }),
        record!(sigevent {
            sigev_value,
            sigev_signo,
            sigev_notify,
            _sigev_un._pad,
            _sigev_un._tid,
            _sigev_un._sigev_thread._function,
            _sigev_un._sigev_thread._attribute,
        }),
        record!(_fpx_sw_bytes { magic1, extended_size, xfeatures, xstate_size, padding }),
        record!(_fpstate_64 {
            cwd,
            swd,
            twd,
            fop,
            rip,
            rdp,
            mxcsr,
            mxcsr_mask,
            st_space,
            xmm_space,
            reserved2,
            __bindgen_anon_1.reserved3,
            __bindgen_anon_1.sw_reserved,
        }),
        record!(_header { xfeatures, reserved1, reserved2 }),
        record!(_ymmh_state { ymmh_space }),
        record!(_xstate { fpstate, xstate_hdr, ymmh }),
        record!(sigcontext {
            r8,
            r9,
            r10,
            r11,
            r12,
            r13,
            r14,
            r15,
            rdi,
            rsi,
            rbp,
            rbx,
            rdx,
            rax,
            rcx,
            rsp,
            rip,
            eflags,
            cs,
            gs,
            fs,
            __bindgen_anon_1.ss,
            __bindgen_anon_1.__pad0,
            err,
            trapno,
            oldmask,
            cr2,
            fpstate,
            reserved1,
        }),
        record!(ucontext { uc_flags, uc_link, uc_stack, uc_mcontext, uc_sigmask }),
        record!(__kernel_timespec { tv_sec, tv_nsec }),
        record!(timespec { tv_sec, tv_nsec }),
        record!(timeval { tv_sec, tv_usec }),
        record!(itimerspec { it_interval, it_value }),
        record!(itimerval { it_interval, it_value }),
        record!(robust_list { next }),
        record!(robust_list_head { list, futex_offset, list_op_pending }),
        record!(futex_waitv { val, uaddr, flags, __reserved }),
        record!(clone_args {
            flags,
            pidfd,
            child_tid,
            parent_tid,
            exit_signal,
            stack,
            stack_size,
            tls,
            set_tid,
            set_tid_size,
            cgroup,
        }),
        record!(stat {
            st_dev,
            st_ino,
            st_nlink,
            st_mode,
            st_uid,
            st_gid,
            __pad0,
            st_rdev,
            st_size,
            st_blksize,
            st_blocks,
            st_atime,
            st_atime_nsec,
            st_mtime,
            st_mtime_nsec,
            st_ctime,
            st_ctime_nsec,
            __unused,
        }),
        record!(rseq_cs { version, flags, start_ip, post_commit_offset, abort_ip }),
        record!(rseq { cpu_id_start, cpu_id, rseq_cs, flags }),
        record!(__user_cap_header_struct { version, pid }),
        record!(__user_cap_data_struct { effective, permitted, inheritable }),
        record!(signalfd_siginfo {
            ssi_signo,
            ssi_errno,
            ssi_code,
            ssi_pid,
            ssi_uid,
            ssi_fd,
            ssi_tid,
            ssi_band,
            ssi_overrun,
            ssi_trapno,
            ssi_status,
            ssi_int,
            ssi_ptr,
            ssi_utime,
            ssi_stime,
            ssi_addr,
            ssi_addr_lsb,
            __pad2,
            ssi_syscall,
            ssi_call_addr,
            ssi_arch,
            __pad,
        }),
    ]
}

/// Typedefs the kernel's code names, as (C type, size, alignment);
/// `__sighandler_t` and `__sigrestore_t` are `uapi.rs`'s own integers for C's
/// function pointers, and `_fpstate` is a macro in C.
fn typedefs() -> Vec<(&'static str, usize, usize)> {
    macro_rules! typedef {
        ($($t:ident),*) => { vec![$((stringify!($t), size_of::<$t>(), align_of::<$t>())),*] };
    }
    let mut all = typedef!(sigset_t, stack_t, siginfo_t, sigevent_t, sigval_t, __sighandler_t, __sigrestore_t);
    all.push(("struct _fpstate", size_of::<_fpstate>(), align_of::<_fpstate>()));
    all
}

/// One generated record: its kind (`struct` or `union`) and its fields with
/// their Rust types.
struct Generated {
    kind: &'static str,
    fields: Vec<(String, String)>,
}

/// What bindgen's output declares.
#[derive(Default)]
struct Bindings {
    records: BTreeMap<String, Generated>,
    /// `pub type` aliases: name to target.
    aliases: BTreeMap<String, String>,
    constants: Vec<(String, i128)>,
}

/// Reads bindgen's output, one declaration or field a line.
fn parse_generated() -> Bindings {
    let mut found = Bindings::default();
    let mut open: Option<String> = None;
    for line in GENERATED.lines() {
        if let Some(name) = &open {
            if line == "}" {
                open = None;
            } else if let Some((field, ty)) = line.trim().strip_prefix("pub ").and_then(|l| l.split_once(": ")) {
                let record = found.records.get_mut(name).unwrap();
                record.fields.push((field.to_string(), ty.trim_end_matches(',').to_string()));
            }
        } else if let Some(rest) = line.strip_prefix("pub struct ").or_else(|| line.strip_prefix("pub union ")) {
            let name = rest.trim_end_matches(" {").to_string();
            let kind = if line.starts_with("pub struct") { "struct" } else { "union" };
            found.records.insert(name.clone(), Generated { kind, fields: Vec::new() });
            open = Some(name);
        } else if let Some((name, ty)) = line.strip_prefix("pub type ").and_then(|l| l.split_once(" = ")) {
            found.aliases.insert(name.to_string(), ty.trim_end_matches(';').to_string());
        } else if let Some((name, value)) = line.strip_prefix("pub const ").and_then(|l| l.split_once(" = ")) {
            let name = name.split_once(':').unwrap().0.to_string();
            found.constants.push((name, value.trim_end_matches(';').parse().unwrap()));
        }
    }
    found
}

/// The generated record a Rust field type names, through type aliases.
fn record_of<'a>(ty: &str, bindings: &'a Bindings) -> &'a str {
    let mut ty = ty;
    while let Some(target) = bindings.aliases.get(ty) {
        ty = target;
    }
    bindings
        .records
        .get_key_value(ty)
        .map(|(k, _)| k.as_str())
        .unwrap_or_else(|| panic!("{ty} is not a generated record"))
}

/// Compiles and runs `source` (C, including uapi.h) as `name`, returning its
/// output lines.
fn run_c(name: &str, source: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("uapi_layout");
    std::fs::create_dir_all(&dir).unwrap();
    let (c, exe) = (dir.join(format!("{name}.c")), dir.join(name));
    std::fs::write(&c, source).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .arg("-I")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("-o")
        .arg(&exe)
        .arg(&c)
        .status()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(status.success(), "compiling {}", c.display());
    let out = Command::new(&exe).output().unwrap();
    assert!(out.status.success(), "running {}", exe.display());
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

#[test]
fn every_generated_record_is_listed_with_every_field() {
    let bindings = parse_generated();
    let generated = &bindings.records;
    let mut reached = BTreeSet::new();
    for record in records() {
        assert!(generated.contains_key(record.name), "{} is listed but not generated", record.name);
        reached.insert((record.name.to_string(), None));
        for field in &record.fields {
            let mut owner = record.name;
            for (i, step) in field.path.iter().enumerate() {
                reached.insert((owner.to_string(), Some(step.to_string())));
                if i + 1 < field.path.len() {
                    let ty = &generated[owner].fields.iter().find(|(f, _)| f == step).unwrap().1;
                    owner = record_of(ty, &bindings);
                }
            }
        }
    }
    let mut missing = Vec::new();
    for (name, record) in generated {
        if !name.contains("__bindgen_ty_") && !reached.contains(&(name.clone(), None)) {
            missing.push(format!("{} {name}", record.kind));
        }
        for (field, _) in &record.fields {
            if !reached.contains(&(name.clone(), Some(field.clone()))) {
                missing.push(format!("{name}.{field}"));
            }
        }
    }
    assert!(missing.is_empty(), "generated but not checked:\n{}", missing.join("\n"));
}

#[test]
fn layouts_match_the_c_compiler() {
    let generated = parse_generated().records;
    let mut c = String::from(
        "#include \"uapi.h\"\nint printf(const char *, ...);\n\
         #define RECORD(T) printf(\"%lu %lu\\n\", (unsigned long)sizeof(T), (unsigned long)_Alignof(T))\n\
         #define FIELD(T, m) printf(\"%lu %lu\\n\", (unsigned long)__builtin_offsetof(T, m), \
         (unsigned long)sizeof(((T *)0)->m))\n\
         int main(void) {\n",
    );
    let mut expected = Vec::new();
    for record in records() {
        let c_type = format!("{} {}", generated[record.name].kind, record.name);
        writeln!(c, "RECORD({c_type});").unwrap();
        expected.push((format!("{c_type}: size, alignment"), format!("{} {}", record.size, record.align)));
        for field in &record.fields {
            let designator = field.c_designator();
            writeln!(c, "FIELD({c_type}, {designator});").unwrap();
            expected.push((format!("{c_type}.{designator}: offset, size"), format!("{} {}", field.offset, field.size)));
        }
    }
    for (name, size, align) in typedefs() {
        writeln!(c, "RECORD({name});").unwrap();
        expected.push((format!("{name}: size, alignment"), format!("{size} {align}")));
    }
    c.push_str("return 0;\n}\n");
    let actual = run_c("layouts", &c);
    assert_eq!(actual.len(), expected.len(), "the C program printed {} lines", actual.len());
    let wrong: Vec<String> = expected
        .iter()
        .zip(&actual)
        .filter(|((_, rust), c)| rust != *c)
        .map(|((what, rust), c)| format!("{what}: Rust {rust}, C {c}"))
        .collect();
    assert!(wrong.is_empty(), "layouts differ from C's:\n{}", wrong.join("\n"));
}

#[test]
fn constants_match_the_c_compiler() {
    let constants = parse_generated().constants;
    assert!(constants.iter().any(|(name, _)| name == "CLONE_THREAD"));
    assert!(constants.iter().any(|(name, _)| name == "FUTEX_WAIT_BITSET"));
    let mut c = String::from("#include \"uapi.h\"\nint printf(const char *, ...);\nint main(void) {\n");
    for (name, _) in &constants {
        writeln!(c, "printf(\"%lld\\n\", (long long)({name}));").unwrap();
    }
    c.push_str("return 0;\n}\n");
    let actual = run_c("constants", &c);
    assert_eq!(actual.len(), constants.len());
    let wrong: Vec<String> = constants
        .iter()
        .zip(&actual)
        .filter(|((_, rust), c)| c.parse::<i128>().unwrap() != *rust as i64 as i128)
        .map(|((name, rust), c)| format!("{name}: Rust {rust}, C {c}"))
        .collect();
    assert!(wrong.is_empty(), "constants differ from C's:\n{}", wrong.join("\n"));
    assert_eq!((SIG_DFL, SIG_IGN), (0, 1), "asm-generic/signal-defs.h: SIG_DFL ((__sighandler_t)0), SIG_IGN 1");
}
