//! Finding and reading the program a process runs: the first one (a path, or
//! a name searched on `PATH` like `execvp`), and each image an `execve`
//! names, with `#!` scripts run by their interpreter as Linux's binfmt_script
//! does. `EXEC` requests end the VM's run; `vm::serve` boots the new image.
use crate::host::files::Files;
use crate::vcpu::Machine;
use crate::vm::{rejected, Config, Launch};
use anyhow::{Context, Result};
use hx_abi::boot::{ExecState, DEVICE_HANDLE, MAX_INHERITED_FDS};
use hx_abi::hypercall::Request;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// How deep `#!` interpreters may nest (Linux's limit).
const MAX_SCRIPT_DEPTH: usize = 5;
/// The `#!` line Linux reads (BINPRM_BUF_SIZE).
const SCRIPT_LINE_MAX: usize = 256;
/// argv and the environment together (Linux allows a quarter of the 8 MiB stack).
const MAX_ARG_BYTES: usize = 2 << 20;
/// PATH when the environment has none (glibc's execvp default).
const DEFAULT_PATH: &[u8] = b"/usr/local/bin:/usr/bin:/bin";

/// The first program, read from the host as the user named it.
pub struct Found {
    pub name: String,
    pub host_path: PathBuf,
    pub bytes: crate::image::Image,
}

/// Why an image cannot run: an errno for the guest (and a line for the user).
pub enum Refused {
    Errno(i32, String),
    Other(anyhow::Error),
}

fn env_path(env: &[impl AsRef<[u8]>]) -> Vec<u8> {
    env.iter()
        .map(|e| e.as_ref())
        .find_map(|e| e.strip_prefix(b"PATH="))
        .map_or_else(|| DEFAULT_PATH.to_vec(), <[u8]>::to_vec)
}

fn is_executable_file(p: &std::path::Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `cfg.program`, or the first executable of that name on the guest's `PATH`.
pub fn find_first(cfg: &Config) -> Result<Found> {
    let prog = cfg.program.as_os_str();
    let name = prog.to_string_lossy().into_owned();
    let host_path = if prog.as_bytes().contains(&b'/') {
        cfg.program.clone()
    } else {
        let path = env_path(&cfg.env.iter().map(|e| e.as_bytes()).collect::<Vec<_>>());
        let found = path.split(|&b| b == b':').find_map(|dir| {
            let dir = if dir.is_empty() { &b"."[..] } else { dir };
            let p = std::path::Path::new(std::ffi::OsStr::from_bytes(dir)).join(prog);
            is_executable_file(&p).then_some(p)
        });
        found.ok_or_else(|| rejected(127, format!("{name}: command not found (searched PATH)")))?
    };
    let bytes = crate::image::Image::open(&host_path).map_err(|e| {
        let status = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        rejected(status, format!("{name}: {text}"))
    })?;
    let host_path = std::fs::canonicalize(&host_path).unwrap_or(host_path);
    Ok(Found { name, host_path, bytes })
}

fn why(e: i32) -> String {
    let text = std::io::Error::from_raw_os_error(e).to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

/// The interpreter and its optional argument from a `#!` line, as Linux
/// splits it: the name up to white space, the rest (trimmed) one argument.
fn parse_shebang(bytes: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let line = bytes.strip_prefix(b"#!")?;
    let line = &line[..line.len().min(SCRIPT_LINE_MAX - 2)];
    let end = line.iter().position(|&b| b == b'\n')?;
    let line = &line[..end];
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b))?;
    let line = &line[start..];
    let name_end = line.iter().position(blank).unwrap_or(line.len());
    let (interp, rest) = line.split_at(name_end);
    let rest: &[u8] = {
        let s = rest.iter().position(|b| !blank(b)).unwrap_or(rest.len());
        let e = rest.iter().rposition(|b| !blank(b)).map_or(s, |e| e + 1);
        rest.get(s..e).unwrap_or_default()
    };
    Some((interp.to_vec(), (!rest.is_empty()).then(|| rest.to_vec())))
}

/// Resolves `#!` scripts in `l` until an ELF image remains.
pub fn interpret(files: &Files, mut l: Launch, first: bool) -> std::result::Result<Launch, Refused> {
    // The name of the file being interpreted, as the caller named it: the
    // script argument its interpreter gets.
    let mut current = l.execfn.clone();
    for _ in 0..=MAX_SCRIPT_DEPTH {
        if l.bytes.starts_with(b"\x7fELF") {
            if first {
                warn_if_not_for_fast_libc(files, &l);
            }
            return Ok(l);
        }
        let Some((interp, arg)) = parse_shebang(&l.bytes) else {
            let msg = format!("{}: cannot execute: not an ELF file or a #! script", l.name);
            return Err(Refused::Errno(libc::ENOEXEC, msg));
        };
        if interp.is_empty() {
            return Err(Refused::Errno(libc::ENOEXEC, format!("{}: an empty #! line", l.name)));
        }
        let abs = if interp.first() == Some(&b'/') {
            interp.clone()
        } else {
            let mut p = l.cwd.clone();
            if p.last() != Some(&b'/') {
                p.push(b'/');
            }
            p.extend_from_slice(&interp);
            p
        };
        let shown = String::from_utf8_lossy(&interp).into_owned();
        let bytes = files
            .sandbox
            .read_executable(&abs)
            .map_err(|e| Refused::Errno(e, format!("{}: bad interpreter {shown}: {}", l.name, why(e))))?;
        let mut argv = vec![interp.clone()];
        argv.extend(arg);
        argv.push(std::mem::replace(&mut current, interp.clone()));
        argv.extend(l.argv.iter().skip(1).cloned());
        l = Launch { name: shown, guest_path: abs, bytes: bytes.into(), argv, ..l };
    }
    Err(Refused::Errno(libc::ELOOP, format!("{}: #! interpreters nested too deep", l.name)))
}

/// `--fast-libc` applies to musl-linked dynamic programs only: say so once.
fn warn_if_not_for_fast_libc(files: &Files, l: &Launch) {
    if files.fast_libc().is_none() {
        return;
    }
    match ld_loader::classify(&l.name, &l.bytes) {
        Ok((ld_loader::Kind::Dynamic { interp, .. }, _)) if crate::vm::is_musl_loader(&interp) => {}
        Ok((ld_loader::Kind::Dynamic { interp, .. }, _)) => eprintln!(
            "hx-run: --fast-libc needs a musl-linked binary; {} uses {interp}: running it on the trap path",
            l.name
        ),
        Ok(_) => eprintln!(
            "hx-run: --fast-libc needs a dynamically linked musl binary; {} is static: running it on the trap path",
            l.name
        ),
        Err(_) => {}
    }
}

/// NUL-terminated strings, `count` of them, from a blob the kernel packed.
fn strings(blob: &[u8], count: u64) -> Option<Vec<Vec<u8>>> {
    if blob.last().is_some_and(|&b| b != 0) {
        return None;
    }
    let v: Vec<Vec<u8>> = blob.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
    // The split leaves one empty piece after the last NUL.
    let v = match v.split_last() {
        Some((_, rest)) => rest.to_vec(),
        None => Vec::new(),
    };
    (v.len() as u64 == count).then_some(v)
}

/// Reads and checks an `EXEC` request: the image to boot, or an errno.
pub fn prepare(m: &Machine, files: &Files, req: &Request) -> std::result::Result<Launch, i32> {
    let segs = crate::host::guest::Segs::of(m.mem, req)?;
    let path = segs.path(0)?;
    if path.first() != Some(&b'/') {
        return Err(libc::EINVAL);
    }
    let argv = strings(&segs.bytes(1, MAX_ARG_BYTES, libc::E2BIG)?, req.args[0]).ok_or(libc::EINVAL)?;
    let envp = strings(&segs.bytes(2, MAX_ARG_BYTES, libc::E2BIG)?, req.args[1]).ok_or(libc::EINVAL)?;
    let raw = segs.bytes(3, std::mem::size_of::<ExecState>(), libc::EINVAL)?;
    if raw.len() != std::mem::size_of::<ExecState>() {
        return Err(libc::EINVAL);
    }
    // SAFETY: ExecState is plain integers: any bytes of its size are a value.
    let mut state: ExecState = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
    let execfn = segs.path(4)?;
    let cwd = segs.path(5)?;
    if cwd.first() != Some(&b'/') {
        return Err(libc::EINVAL);
    }
    let bytes = files.sandbox.read_executable(&path)?;
    if req.args[3] & hx_abi::hypercall::EXEC_PATH_INACCESSIBLE != 0 && bytes.starts_with(b"#!") {
        return Err(libc::ENOENT);
    }
    let name = String::from_utf8_lossy(&path).into_owned();
    let umask = (req.args[2] & 0o777) as u32;
    let l = Launch { name, guest_path: path, execfn, bytes: bytes.into(), argv, envp, state, cwd, umask };
    let l = interpret(files, l, false).map_err(|r| match r {
        Refused::Errno(e, _) => e,
        Refused::Other(_) => libc::EIO,
    })?;
    check_image(files, &l)?;
    // Only valid descriptors pass; the monitor keeps exactly their handles.
    let n = (state.nfds as usize).min(MAX_INHERITED_FDS);
    let mut kept = Vec::with_capacity(n);
    for f in state.fds.iter().take(n) {
        let valid =
            f.fd < 1024 && (f.handle & DEVICE_HANDLE != 0 && f.handle < DEVICE_HANDLE + 16 || files.holds(f.handle));
        if valid {
            kept.push(*f);
        }
    }
    state.nfds = kept.len() as u64;
    state.fds[..kept.len()].copy_from_slice(&kept);
    // The seccomp filters travel in a memory file the process made: a
    // handle it holds, of a bounded length, or the exec fails (the new
    // image must not run unconfined).
    if state.seccomp_len != 0
        && (state.seccomp_len > hx_abi::boot::MAX_SECCOMP_BYTES || !files.holds(state.seccomp_handle))
    {
        return Err(libc::EINVAL);
    }
    Ok(Launch { state, ..l })
}

/// The process that boots `l` keeps exactly the host handles it inherits.
pub fn keep_inherited(files: &mut Files, l: &Launch) {
    let n = (l.state.nfds as usize).min(MAX_INHERITED_FDS);
    let mut handles: Vec<u64> =
        l.state.fds.iter().take(n).filter(|f| f.handle & DEVICE_HANDLE == 0).map(|f| f.handle).collect();
    if l.state.seccomp_len != 0 {
        handles.push(l.state.seccomp_handle);
    }
    files.keep_only(&handles);
}

/// Errors Linux's `execve` reports before the old image is gone: a corrupt
/// or foreign ELF (`ENOEXEC`), a dynamic loader that is not there (`ENOENT`).
fn check_image(files: &Files, l: &Launch) -> std::result::Result<(), i32> {
    let (kind, elf) = ld_loader::classify(&l.name, &l.bytes).map_err(|_| libc::ENOEXEC)?;
    let bias = match kind {
        ld_loader::Kind::Static | ld_loader::Kind::Dynamic { pie: false, .. } => 0,
        _ => hx_abi::layout::PIE_BASE,
    };
    ld_loader::plan(&l.name, &elf, bias).map_err(|_| libc::ENOEXEC)?;
    if let ld_loader::Kind::Dynamic { interp, .. } = kind {
        let musl_fast = files.fast_libc().is_some() && crate::vm::is_musl_loader(&interp);
        if !musl_fast {
            files.sandbox.open_executable(interp.as_bytes()).map(drop).or_else(|e| match e {
                libc::EACCES => Ok(()),
                e => Err(e),
            })?;
        }
    }
    Ok(())
}

/// Serves `EXEC`: `Some(image)` to boot it (the old image is gone), or
/// `None` after answering the guest with an errno.
pub fn serve(m: &Machine, addr: u64) -> Result<Option<Box<Launch>>> {
    let mut req: Request = m.mem.read_obj(addr).context("a host request")?;
    let mut guard = m.host.lock().unwrap_or_else(|e| e.into_inner());
    let (report, files) = &mut *guard;
    report.count_request(req.op);
    match prepare(m, files, &req) {
        Ok(l) => {
            keep_inherited(files, &l);
            Ok(Some(Box::new(l)))
        }
        Err(e) => {
            req.ret = -(e as i64);
            m.mem.write_obj(addr, req)?;
            Ok(None)
        }
    }
}
