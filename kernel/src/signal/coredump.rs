//! Core dumps: a signal whose default action dumps core writes the process's
//! registers and memory as an ELF core file that Linux's tools read
//! (`gdb program core`), when `RLIMIT_CORE` and `PR_SET_DUMPABLE` allow it,
//! named by `/proc/sys/kernel/core_pattern` in the process's directory, as
//! Linux's `do_coredump` names and writes it. The file goes through the
//! monitor like any other write: only where the program could write.
//!
//! What is in it: the dumping thread's registers (`NT_PRSTATUS`, and its
//! FPU state), the process (`NT_PRPSINFO`), the signal (`NT_SIGINFO`), the
//! auxiliary vector, the mapped files (`NT_FILE`), and the memory of every
//! mapping Linux's default `coredump_filter` dumps (anonymous memory,
//! shared or not, and private file mappings the program could write); pages
//! never touched are holes. Every thread's registers are there (the others
//! stopped first, as Linux stops them), the dying thread's first.
use crate::arch::entry::Frame;
use crate::errno::{Errno, EINVAL};
use crate::fs::proc::process::{map_pieces, MapPiece};
use crate::fs::proc::startup;
use crate::{host, mm};
use alloc::vec::Vec;
use hx_abi::boot::{PROT_READ, PROT_WRITE};
use hx_abi::hypercall::{op, Request, Segment};
use hx_abi::layout::{direct_virt, PAGE_SIZE};
use spin::Mutex;

/// Linux's `core_pattern` (at most 127 bytes), and `core_uses_pid`.
static PATTERN: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static USES_PID: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
const PATTERN_MAX: usize = 128;

/// `/proc/self/coredump_filter`: which mappings' memory a core file holds
/// (bit 0 anonymous private, 1 anonymous shared, 2 file private, 3 file
/// shared; the others name kinds of memory hx has not: huge pages, DAX).
static FILTER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0x33);
/// The bits Linux keeps (`MMF_DUMP_FILTER_MASK`).
const FILTER_MASK: u64 = 0x1ff;

pub fn filter() -> u64 {
    FILTER.load(core::sync::atomic::Ordering::Relaxed)
}

pub fn set_filter(bits: u64) {
    FILTER.store(bits & FILTER_MASK, core::sync::atomic::Ordering::Relaxed);
}

/// A write to `/proc/self/coredump_filter`: a number as `strtoul(.., 0)`
/// reads it (hex with `0x`, octal with `0`, else decimal).
pub fn store_filter(data: &[u8]) -> Result<(), Errno> {
    let text = core::str::from_utf8(data).map_err(|_| EINVAL)?.trim();
    let (digits, radix) = match text {
        t if t.starts_with("0x") || t.starts_with("0X") => (&t[2..], 16),
        t if t.len() > 1 && t.starts_with('0') => (&t[1..], 8),
        t => (t, 10),
    };
    let v = u64::from_str_radix(digits, radix).map_err(|_| EINVAL)?;
    set_filter(v);
    Ok(())
}

/// Ranges `MADV_DONTDUMP` left out of core files (`MADV_DODUMP` puts back).
static NOT_DUMPED: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// `madvise(MADV_DONTDUMP)` (`dump` false) or `MADV_DODUMP` on `[start, end)`.
pub fn set_dumped(start: u64, end: u64, dump: bool) {
    let mut ranges = NOT_DUMPED.lock();
    crate::syscall::mlock::remove(&mut ranges, start, end);
    if !dump {
        ranges.push((start, end));
        ranges.sort_unstable();
    }
}

/// `[start, end)` was unmapped or mapped afresh: its mark went with it.
pub fn forget(start: u64, end: u64) {
    if !NOT_DUMPED.lock().is_empty() {
        set_dumped(start, end, true);
    }
}

/// The pieces cut where `MADV_DONTDUMP` marks begin and end, each with
/// whether it is marked.
fn cut_at_marks(pieces: Vec<MapPiece>) -> Vec<(MapPiece, bool)> {
    let marks = NOT_DUMPED.lock().clone();
    let mut out = Vec::new();
    for p in pieces {
        let mut cuts: Vec<u64> =
            marks.iter().flat_map(|&(s, e)| [s, e]).filter(|&c| c > p.start && c < p.end).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut at = p.start;
        for end in cuts.into_iter().chain([p.end]) {
            let marked = marks.iter().any(|&(s, e)| s <= at && at < e);
            let offset = p.offset + (at - p.start);
            out.push((MapPiece { start: at, end, offset, name: p.name.clone(), ..p }, marked));
            at = end;
        }
    }
    out
}

/// `core_pattern` as `/proc/sys/kernel/core_pattern` shows it.
pub fn pattern() -> Vec<u8> {
    let p = PATTERN.lock();
    if p.is_empty() {
        b"core".to_vec()
    } else {
        p.clone()
    }
}

/// A write to `/proc/sys/kernel/core_pattern` (one trailing newline dropped).
pub fn store_pattern(data: &[u8]) -> Result<(), Errno> {
    let data = data.strip_suffix(b"\n").unwrap_or(data);
    if data.len() >= PATTERN_MAX {
        return Err(EINVAL);
    }
    *PATTERN.lock() = if data.is_empty() { b"core".to_vec() } else { data.to_vec() };
    super::publish_caught();
    Ok(())
}

pub fn uses_pid() -> bool {
    USES_PID.load(core::sync::atomic::Ordering::Relaxed)
}

pub fn store_uses_pid(data: &[u8]) -> Result<(), Errno> {
    let text = core::str::from_utf8(data).map_err(|_| EINVAL)?;
    let v: i64 = text.trim().parse().map_err(|_| EINVAL)?;
    USES_PID.store(v != 0, core::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The file name `core_pattern` gives this process, or None for a pattern
/// that pipes to a helper (`|...`: a host program, never run for a guest).
fn core_name(sig: u32) -> Option<Vec<u8>> {
    let pattern = pattern();
    if pattern.first() == Some(&b'|') {
        return None;
    }
    let pid = crate::syscall::process::pid();
    let mut name = Vec::new();
    let mut has_pid = false;
    let mut it = pattern.iter().copied();
    while let Some(b) = it.next() {
        if b != b'%' {
            name.push(b);
            continue;
        }
        let num = |n: u64, name: &mut Vec<u8>| name.extend_from_slice(decimal(n).as_slice());
        match it.next() {
            Some(b'%') => name.push(b'%'),
            Some(b'p' | b'P' | b'i' | b'I') => {
                has_pid = true;
                num(pid, &mut name);
            }
            Some(b'u') => num(crate::syscall::cred::current().user.real as u64, &mut name),
            Some(b'g') => num(crate::syscall::cred::current().group.real as u64, &mut name),
            Some(b's') => num(sig as u64, &mut name),
            Some(b't') => num(crate::time::realtime_ns() / 1_000_000_000, &mut name),
            Some(b'h') => name.extend_from_slice(&crate::syscall::process::hostname()),
            Some(b'e') => name.extend(comm().iter().map(|&c| if c == b'/' { b'!' } else { c })),
            Some(b'c') => num(crate::syscall::process::soft_limit(RLIMIT_CORE), &mut name),
            // Unknown specifiers vanish, as in Linux's format_corename.
            _ => {}
        }
    }
    if uses_pid() && !has_pid {
        name.push(b'.');
        name.extend_from_slice(&decimal(pid));
    }
    Some(name)
}

fn decimal(mut n: u64) -> Vec<u8> {
    let mut digits = Vec::new();
    loop {
        digits.push(b'0' + (n % 10) as u8);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

fn comm() -> Vec<u8> {
    crate::fs::proc::process::comm_of(crate::sched::current())
}

const RLIMIT_CORE: usize = 4;
/// How long the dying thread waits for the others to stop (else their
/// registers are left out).
const STOP_PATIENCE_NS: u64 = 50_000_000;

/// Whether a fatal signal would write a core file now (the monitor then
/// leaves faults to the kernel: see `signal::publish_caught`).
pub fn wanted() -> bool {
    crate::syscall::process::soft_limit(RLIMIT_CORE) >= PAGE_SIZE
        && crate::syscall::process::dumpable()
        && PATTERN.lock().first() != Some(&b'|')
}

/// Writes the core file for `sig` (its `siginfo` is `info`) taken at
/// `frame`; whether one was written (the parent's wait then says so).
pub fn dump(sig: u32, info: &[u8; 128], frame: Option<&Frame>) -> bool {
    let limit = crate::syscall::process::soft_limit(RLIMIT_CORE);
    // Linux writes none below one page, or for a process made undumpable.
    if !wanted() {
        return false;
    }
    let Some(name) = core_name(sig) else { return false };
    let abs = if name.first() == Some(&b'/') {
        name
    } else {
        let mut p = crate::fs::path::cwd();
        if p.last() != Some(&b'/') {
            p.push(b'/');
        }
        p.extend_from_slice(&name);
        p
    };
    // Linux unlinks an old core first and creates the file afresh, never
    // through a symlink, owner-only.
    const O_WRONLY: u64 = 1;
    const O_CREAT: u64 = 0o100;
    const O_EXCL: u64 = 0o200;
    const O_NOFOLLOW: u64 = 0o400000;
    let _ = host::path_request(op::UNLINK, &[0], &[&abs], &mut []);
    let mut resolved = alloc::vec![0u8; crate::fs::path::PATH_MAX];
    let mode = 0o600 & !crate::syscall::path::current_umask() as u64;
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
    let Ok(handle) = host::path_request(op::OPEN, &[flags, mode], &[&abs], &mut [&mut resolved]).0 else {
        return false;
    };
    let written = write_core(handle, sig, info, frame, limit);
    host::close(handle);
    written
}

/// One ELF note: name "CORE" (or "LINUX"), type, and its bytes.
struct Note {
    name: &'static [u8],
    kind: u32,
    desc: Vec<u8>,
}

const NT_PRSTATUS: u32 = 1;
const NT_PRFPREG: u32 = 2;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_SIGINFO: u32 = 0x5349_4749;
const NT_FILE: u32 = 0x4649_4c45;

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

impl Note {
    fn size(&self) -> usize {
        12 + pad4(self.name.len() + 1) + pad4(self.desc.len())
    }

    fn write(&self, out: &mut Vec<u8>) {
        put32(out, self.name.len() as u32 + 1);
        put32(out, self.desc.len() as u32);
        put32(out, self.kind);
        out.extend_from_slice(self.name);
        out.resize(out.len() + pad4(self.name.len() + 1) - self.name.len(), 0);
        out.extend_from_slice(&self.desc);
        out.resize(out.len() + pad4(self.desc.len()) - self.desc.len(), 0);
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Whether Linux's default `coredump_filter` (0x33) dumps the memory of
/// `piece`: anonymous and shared memory, and private file mappings the
/// program may have written (its data and bss); not read-only file text,
/// which the tools read from the files `NT_FILE` names.
fn dumped(piece: &MapPiece) -> bool {
    use crate::mm::Kind;
    const ANON_PRIVATE: u64 = 1 << 0;
    const ANON_SHARED: u64 = 1 << 1;
    const FILE_PRIVATE: u64 = 1 << 2;
    const FILE_SHARED: u64 = 1 << 3;
    let writable = piece.vma.prot & PROT_WRITE != 0;
    let bit = match (piece.vma.kind, piece.vma.file) {
        (Kind::Stack | Kind::Heap, _) => ANON_PRIVATE,
        (_, Some(f)) if f.shared => FILE_SHARED,
        // A private file mapping the program may write, or wrote (RELRO
        // data made read-only after its relocation), holds its own copies
        // of pages: anonymous memory to Linux.
        (Kind::Image, _) | (_, Some(_)) if writable || mm::with_space(|s| s.written_in(piece.start, piece.end)) => {
            ANON_PRIVATE
        }
        (Kind::Image, _) | (_, Some(_)) => FILE_PRIVATE,
        (Kind::Shared, None) => ANON_SHARED,
        (Kind::Anon, None) => ANON_PRIVATE,
    };
    filter() & bit != 0
}

fn write_core(handle: u64, sig: u32, info: &[u8; 128], frame: Option<&Frame>, limit: u64) -> bool {
    // The other threads stop away from the program (as Linux's zap_threads
    // stops them) while the file is written, if they do so soon.
    let stopped = crate::sched::quiesce::try_stop_others(STOP_PATIENCE_NS);
    let pieces = cut_at_marks(map_pieces());
    let all: Vec<MapPiece> = pieces.iter().map(|(p, _)| p.clone()).collect();
    let notes = notes(sig, info, frame, &all, stopped.is_some());
    let phnum = 1 + pieces.len();
    let notes_at = 64 + 56 * phnum;
    let notes_size: usize = notes.iter().map(Note::size).sum();
    let data_at = (notes_at + notes_size).next_multiple_of(PAGE_SIZE as usize) as u64;

    let mut head = Vec::with_capacity(notes_at + notes_size);
    // The ELF header: a 64-bit little-endian x86-64 core file.
    head.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    head.extend_from_slice(&[0; 8]);
    put16(&mut head, 4); // ET_CORE
    put16(&mut head, 62); // EM_X86_64
    put32(&mut head, 1);
    put64(&mut head, 0); // entry
    put64(&mut head, 64); // program headers right after
    put64(&mut head, 0); // no sections
    put32(&mut head, 0);
    put16(&mut head, 64);
    put16(&mut head, 56);
    put16(&mut head, phnum as u16);
    put16(&mut head, 64);
    put16(&mut head, 0);
    put16(&mut head, 0);
    // PT_NOTE, then a PT_LOAD per mapping.
    put32(&mut head, 4);
    put32(&mut head, 0);
    put64(&mut head, notes_at as u64);
    put64(&mut head, 0);
    put64(&mut head, 0);
    put64(&mut head, notes_size as u64);
    put64(&mut head, 0);
    put64(&mut head, 0);
    // What of each mapping the file holds, and whether its pages are a
    // file's own (the vDSO, ELF headers: in memory whether used or not).
    let sizes: Vec<(u64, bool)> = pieces
        .iter()
        .map(|(p, marked)| match () {
            _ if *marked => (0, false),
            _ if p.name == b"[vdso]" => (p.end - p.start, true),
            _ if dumped(p) => (p.end - p.start, false),
            _ if elf_header(p) => (PAGE_SIZE, true),
            _ => (0, false),
        })
        .collect();
    let mut offset = data_at;
    for ((p, _), &(filesz, _)) in pieces.iter().zip(&sizes) {
        let size = p.end - p.start;
        let prot = p.vma.prot;
        let flags = (prot & PROT_READ != 0) as u32 * 4 + (prot & PROT_WRITE != 0) as u32 * 2 + (prot & 4 != 0) as u32;
        put32(&mut head, 1); // PT_LOAD
        put32(&mut head, flags);
        put64(&mut head, offset);
        put64(&mut head, p.start);
        put64(&mut head, 0);
        put64(&mut head, filesz);
        put64(&mut head, size);
        put64(&mut head, PAGE_SIZE);
        offset += filesz;
    }
    for n in &notes {
        n.write(&mut head);
    }
    if pwrite(handle, 0, &head).is_err() {
        return false;
    }
    // The memory, page by page: a page in memory is written from its frame
    // (whatever its protection), one never touched stays a hole (zeros).
    let end_of_file = offset.min(limit);
    let mut at = data_at;
    for ((p, _), &(filesz, file_pages)) in pieces.iter().zip(&sizes).filter(|(_, s)| s.0 > 0) {
        let mut batch: Vec<Segment> = Vec::new();
        let mut batch_at = at;
        let mut va = p.start;
        let end = p.start + filesz;
        while va < end && at < end_of_file {
            // Frames mapped ahead of any use (the stack's) are no page to
            // Linux; a page of zeros reads back the same as a hole.
            let present = |s: &mut mm::space::AddressSpace| if file_pages { s.resident(va) } else { s.used(va) };
            let phys = mm::with_space(|s| if present(s) { s.phys_at(va) } else { None }).filter(|&phys| !is_zero(phys));
            match phys {
                Some(phys) => {
                    if batch.is_empty() {
                        batch_at = at;
                    }
                    batch.push(Segment { phys, len: PAGE_SIZE.min(end_of_file - at) });
                    if batch.len() == hx_abi::hypercall::MAX_SEGMENTS {
                        flush(handle, batch_at, &mut batch);
                    }
                }
                None => flush(handle, batch_at, &mut batch),
            }
            va += PAGE_SIZE;
            at += PAGE_SIZE;
        }
        flush(handle, batch_at, &mut batch);
        at += end.saturating_sub(va);
    }
    // The holes at the end are part of the file too.
    let _ = host::simple(op::FTRUNCATE, &[handle, end_of_file]);
    true
}

/// Linux's filter bit 4 (on by default): the first page of a file mapping
/// that holds an ELF header is dumped, so that a debugger finds each
/// library's headers (its build id, its dynamic section) in the core.
fn elf_header(piece: &MapPiece) -> bool {
    const ELF_HEADERS: u64 = 1 << 4;
    filter() & ELF_HEADERS != 0
        && piece.offset == 0
        && piece.vma.prot & PROT_READ != 0
        && (piece.vma.file.is_some() || piece.vma.kind == crate::mm::Kind::Image)
        && mm::with_space(|s| s.resident(piece.start).then(|| s.phys_at(piece.start)).flatten())
            // SAFETY: the direct map covers guest RAM; four bytes of a frame the mapping holds.
            .is_some_and(|phys| unsafe { (direct_virt(phys) as *const [u8; 4]).read() } == *b"\x7fELF")
}

/// Whether the page at `phys` holds only zeros.
fn is_zero(phys: u64) -> bool {
    // SAFETY: the direct map covers all of guest RAM; `phys` is a frame of
    // the dying process's own mappings, read under no one's feet (its other
    // threads no longer matter).
    let page = unsafe { core::slice::from_raw_parts(direct_virt(phys) as *const u64, (PAGE_SIZE / 8) as usize) };
    page.iter().all(|&w| w == 0)
}

/// Writes the pages of `batch` to the file at `at`, and empties it.
fn flush(handle: u64, at: u64, batch: &mut Vec<Segment>) {
    if batch.is_empty() {
        return;
    }
    let mut req = Request::new(op::PWRITE);
    req.args[0] = handle;
    req.args[1] = at;
    req.nsegs = batch.len() as u32;
    req.segs[..batch.len()].copy_from_slice(batch);
    host::call(&mut req);
    batch.clear();
}

fn pwrite(handle: u64, at: u64, bytes: &[u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < bytes.len() {
        let n = host::path_request(op::PWRITE, &[handle, at + done as u64], &[&bytes[done..]], &mut []).0?;
        if n == 0 {
            return Err(crate::errno::EIO);
        }
        done += n as usize;
    }
    Ok(())
}

/// The notes, in Linux's order: the dying thread's status and the process's
/// notes, then each other thread's status and registers (`threads`: their
/// registers can be read — they are stopped away from the program).
fn notes(sig: u32, info: &[u8; 128], frame: Option<&Frame>, pieces: &[MapPiece], threads: bool) -> Vec<Note> {
    let mut notes = Vec::new();
    let me = crate::sched::current();
    let fs_base = crate::arch::read_fs_base();
    notes.push(Note { name: b"CORE", kind: NT_PRSTATUS, desc: prstatus(sig, me, frame, fs_base) });
    notes.push(Note { name: b"CORE", kind: NT_PRPSINFO, desc: prpsinfo() });
    notes.push(Note { name: b"CORE", kind: NT_SIGINFO, desc: info.to_vec() });
    let auxv = startup::get().auxv.iter().flat_map(|&(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes()));
    notes.push(Note { name: b"CORE", kind: NT_AUXV, desc: auxv.collect() });
    notes.push(Note { name: b"CORE", kind: NT_FILE, desc: mapped_files(pieces) });
    if let Some(f) = frame {
        notes.push(Note { name: b"CORE", kind: NT_PRFPREG, desc: fpregs(f) });
    }
    if threads {
        for t in crate::sched::threads().iter().filter(|t| t.tid != me.tid && !t.is_idle() && !t.sched_state_dead()) {
            // SAFETY: the thread is stopped away from the program (the
            // other vCPUs are held at the gate): the registers it entered
            // the kernel with lie at the top of its kernel stack, plain data.
            let f = unsafe { t.frame().read_volatile() };
            let fs_base = t.fs_base.load(core::sync::atomic::Ordering::Relaxed);
            notes.push(Note { name: b"CORE", kind: NT_PRSTATUS, desc: prstatus(sig, t, Some(&f), fs_base) });
            notes.push(Note { name: b"CORE", kind: NT_PRFPREG, desc: fpregs(&f) });
        }
    }
    notes
}

/// `struct elf_prstatus` (336 bytes on x86-64) of thread `t`, whose
/// registers are `frame` and `fs_base`.
fn prstatus(sig: u32, t: &crate::sched::Thread, frame: Option<&Frame>, fs_base: u64) -> Vec<u8> {
    let mut d = Vec::with_capacity(336);
    put32(&mut d, sig); // pr_info.si_signo
    put32(&mut d, 0);
    put32(&mut d, 0);
    put16(&mut d, sig as u16); // pr_cursig
    put16(&mut d, 0);
    let (pending, mask) = {
        let s = t.signals.lock();
        (s.pending.set, s.mask)
    };
    put64(&mut d, pending);
    put64(&mut d, mask);
    let pid = crate::syscall::process::pid() as u32;
    put32(&mut d, t.tid);
    put32(&mut d, crate::sched::parent_pid() as u32);
    put32(&mut d, crate::syscall::process::getpgid([0; 6]).unwrap_or(pid as u64) as u32);
    put32(&mut d, crate::syscall::process::getsid([0; 6]).unwrap_or(pid as u64) as u32);
    d.resize(d.len() + 4 * 16, 0); // user, system and children's times
    let regs: [u64; 27] = match frame {
        Some(f) => [
            f.r15, f.r14, f.r13, f.r12, f.rbp, f.rbx, f.r11, f.r10, f.r9, f.r8, f.rax, f.rcx, f.rdx, f.rsi, f.rdi,
            f.orig_rax, f.rip, 0x33, // cs: user code
            f.rflags, f.rsp, 0x2b, // ss: user data
            fs_base, 0, 0, 0, 0, 0,
        ],
        None => [0; 27],
    };
    for r in regs {
        put64(&mut d, r);
    }
    put32(&mut d, frame.is_some() as u32); // pr_fpvalid
    put32(&mut d, 0);
    d
}

/// The SSE registers the entry saved, in `fxsave`'s 512-byte layout
/// (control words at Linux's defaults; the x87 stack is not kept).
fn fpregs(f: &Frame) -> Vec<u8> {
    let mut d = alloc::vec![0u8; 512];
    d[0..2].copy_from_slice(&0x037fu16.to_le_bytes()); // fcw
    d[24..28].copy_from_slice(&0x1f80u32.to_le_bytes()); // mxcsr
    d[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // mxcsr mask
    for (i, x) in f.xmm.iter().enumerate() {
        let at = 160 + i * 16;
        d[at..at + 8].copy_from_slice(&x[0].to_le_bytes());
        d[at + 8..at + 16].copy_from_slice(&x[1].to_le_bytes());
    }
    d
}

/// `struct elf_prpsinfo` (136 bytes): state, ids, name and arguments.
fn prpsinfo() -> Vec<u8> {
    let mut d = Vec::with_capacity(136);
    d.extend_from_slice(&[0, b'R', 0, 0]); // state, sname, zombie, nice
    put32(&mut d, 0);
    put64(&mut d, 0x0040_0000); // pr_flag: PF_DUMPCORE
    let c = crate::syscall::cred::current();
    put32(&mut d, c.user.real);
    put32(&mut d, c.group.real);
    let pid = crate::syscall::process::pid() as u32;
    put32(&mut d, pid);
    put32(&mut d, crate::sched::parent_pid() as u32);
    put32(&mut d, crate::syscall::process::getpgid([0; 6]).unwrap_or(pid as u64) as u32);
    put32(&mut d, crate::syscall::process::getsid([0; 6]).unwrap_or(pid as u64) as u32);
    let mut fname = [0u8; 16];
    let comm = comm();
    let n = comm.len().min(15);
    fname[..n].copy_from_slice(&comm[..n]);
    d.extend_from_slice(&fname);
    // The first 79 bytes of the command line, its NULs as spaces.
    let s = startup::get();
    let mut args = [0u8; 80];
    let len = s.arg_end.saturating_sub(s.arg_start).min(79) as usize;
    if mm::copy_from_user(s.arg_start, &mut args[..len]).is_ok() {
        for b in args[..len.saturating_sub(1)].iter_mut().filter(|b| **b == 0) {
            *b = b' ';
        }
    }
    d.extend_from_slice(&args);
    d
}

/// `NT_FILE`: every file-backed piece (start, end, offset in pages) and its name.
fn mapped_files(pieces: &[MapPiece]) -> Vec<u8> {
    let files: Vec<&MapPiece> = pieces.iter().filter(|p| p.name.first() == Some(&b'/')).collect();
    let mut d = Vec::new();
    put64(&mut d, files.len() as u64);
    put64(&mut d, PAGE_SIZE);
    for p in &files {
        put64(&mut d, p.start);
        put64(&mut d, p.end);
        put64(&mut d, p.offset / PAGE_SIZE);
    }
    for p in &files {
        d.extend_from_slice(&p.name);
        d.push(0);
    }
    d
}
