//! What the process started with, read once at boot from the initial stack
//! the monitor built (as Linux's `execve` lays it out) and from the ELF
//! headers of the images it loaded: where argv and the environment lie (for
//! `cmdline` and `environ`, which read them live, as Linux does), the auxv,
//! the name, and which addresses belong to the program, its interpreter and
//! the vDSO (for `maps`, `stat` and `status`).
use crate::mm;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use hx_abi::boot::BootInfo;
use hx_abi::layout::{align_down, align_up, PAGE_SIZE};
use spin::Once;

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHNUM: u64 = 5;
const AT_BASE: u64 = 7;
const AT_EXECFN: u64 = 31;
const AT_SYSINFO_EHDR: u64 = 33;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PF_X: u32 = 1;
const PHDR_SIZE: usize = 56;
/// The most program headers read from an image (Linux refuses more than 64 KiB of them).
const MAX_PHDRS: usize = 256;

/// One `PT_LOAD` segment, in pages as it is mapped.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub start: u64,
    /// End of the pages that hold file bytes; the rest up to `end` is zero fill.
    pub file_end: u64,
    pub end: u64,
    /// File offset of `start`.
    pub offset: u64,
}

/// An ELF image in memory: its segments and the layout numbers `stat` reports.
#[derive(Default, Debug)]
pub struct Image {
    pub loads: Vec<Load>,
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
}

impl Image {
    pub fn contains(&self, addr: u64) -> bool {
        self.loads.iter().any(|l| (l.start..l.end).contains(&addr))
    }
}

#[derive(Default)]
pub struct Startup {
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    /// The initial stack pointer (where argc lies).
    pub stack_start: u64,
    pub auxv: Vec<(u64, u64)>,
    /// The command name: the last component of the name the program was
    /// started by, at most 15 bytes (Linux's `comm`).
    pub comm: Vec<u8>,
    pub exe: Image,
    /// The dynamic loader, by the name the program asks for (`PT_INTERP`).
    pub interp: Option<(Image, Vec<u8>)>,
    pub vdso: Image,
}

static STARTUP: Once<Startup> = Once::new();
/// When the process (this image) started, monotonic ns. A forked child
/// keeps its parent's: `syscall::fork` does not tell this module (yet).
static STARTED: AtomicU64 = AtomicU64::new(0);

pub fn get() -> &'static Startup {
    STARTUP.call_once(Startup::default)
}

/// Reads what the program starts with; after `mm::init`, before it runs.
pub fn init(boot: &BootInfo) {
    STARTUP.call_once(|| read(boot.user_sp));
    STARTED.store(crate::time::monotonic_ns(), Ordering::Relaxed);
}

pub fn started_ns() -> u64 {
    STARTED.load(Ordering::Relaxed)
}

fn word(addr: u64) -> u64 {
    mm::read_user::<u64>(addr).unwrap_or(0)
}

/// The length of the string at `addr` with its NUL (bounded).
fn cstr_len(addr: u64) -> u64 {
    mm::read_cstr(addr, crate::fs::path::PATH_MAX * 32).map_or(0, |s| s.len() as u64 + 1)
}

fn read(sp: u64) -> Startup {
    let mut s = Startup { stack_start: sp, ..Default::default() };
    let argc = word(sp).min(1 << 20);
    let argv = sp + 8;
    if argc > 0 {
        s.arg_start = word(argv);
        let last = word(argv + 8 * (argc - 1));
        s.arg_end = last + cstr_len(last);
    }
    let mut p = argv + 8 * (argc + 1);
    let mut envs = Vec::new();
    while envs.len() < (1 << 20) {
        let e = word(p);
        p += 8;
        if e == 0 {
            break;
        }
        envs.push(e);
    }
    if let (Some(&first), Some(&last)) = (envs.first(), envs.last()) {
        s.env_start = first;
        s.env_end = last + cstr_len(last);
    } else {
        (s.env_start, s.env_end) = (s.arg_end, s.arg_end);
    }
    while s.auxv.len() < 64 {
        let (k, v) = (word(p), word(p + 8));
        p += 16;
        s.auxv.push((k, v));
        if k == AT_NULL {
            break;
        }
    }
    let aux = |tag: u64| s.auxv.iter().find(|(k, _)| *k == tag).map_or(0, |(_, v)| *v);
    let execfn = mm::read_cstr(aux(AT_EXECFN), crate::fs::path::PATH_MAX).unwrap_or_default();
    let base = execfn.rsplit(|&b| b == b'/').next().unwrap_or(&[]);
    s.comm = base[..base.len().min(15)].to_vec();
    let phdrs = headers(aux(AT_PHDR), aux(AT_PHNUM) as usize);
    let bias = exe_bias(&phdrs, aux(AT_PHDR));
    s.exe = image(&phdrs, bias);
    if let Some(interp) = phdrs.iter().find(|h| h.kind == PT_INTERP) {
        let name = mm::read_cstr(bias + interp.vaddr, crate::fs::path::PATH_MAX).unwrap_or_default();
        s.interp = Some((image_at(aux(AT_BASE)), name));
    }
    s.vdso = image_at(aux(AT_SYSINFO_EHDR));
    s
}

#[derive(Clone, Copy)]
struct Phdr {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

fn headers(at: u64, n: usize) -> Vec<Phdr> {
    let n = n.min(MAX_PHDRS);
    let mut raw = alloc::vec![0u8; n * PHDR_SIZE];
    if at == 0 || mm::copy_from_user(at, &mut raw).is_err() {
        return Vec::new();
    }
    let u32_at = |c: &[u8], o: usize| u32::from_le_bytes(c[o..o + 4].try_into().unwrap());
    let u64_at = |c: &[u8], o: usize| u64::from_le_bytes(c[o..o + 8].try_into().unwrap());
    raw.chunks_exact(PHDR_SIZE)
        .map(|c| Phdr {
            kind: u32_at(c, 0),
            flags: u32_at(c, 4),
            offset: u64_at(c, 8),
            vaddr: u64_at(c, 16),
            filesz: u64_at(c, 32),
            memsz: u64_at(c, 40),
        })
        .collect()
}

/// Where the program was loaded relative to its link addresses: from
/// `PT_PHDR`, else from the ELF header that precedes the program headers
/// in the first segment (static-PIE binaries have no `PT_PHDR`).
fn exe_bias(phdrs: &[Phdr], at_phdr: u64) -> u64 {
    if let Some(p) = phdrs.iter().find(|h| h.kind == PT_PHDR) {
        return at_phdr.wrapping_sub(p.vaddr);
    }
    let Some(first) = phdrs.iter().find(|h| h.kind == PT_LOAD && h.offset == 0) else { return 0 };
    let ehdr = at_phdr.wrapping_sub(64);
    if word(ehdr) & 0xffff_ffff == 0x464c_457f && word(ehdr + 32) == 64 {
        ehdr.wrapping_sub(first.vaddr)
    } else {
        0
    }
}

/// The image whose ELF header is mapped at `base` (interpreter, vDSO).
fn image_at(base: u64) -> Image {
    if base == 0 || word(base) & 0xffff_ffff != 0x464c_457f {
        return Image::default();
    }
    let phoff = word(base + 32);
    let phnum = (word(base + 56) & 0xffff) as usize;
    image(&headers(base + phoff, phnum), base)
}

fn image(phdrs: &[Phdr], bias: u64) -> Image {
    let mut img = Image { start_code: u64::MAX, ..Default::default() };
    for h in phdrs.iter().filter(|h| h.kind == PT_LOAD) {
        let start = align_down(bias + h.vaddr, PAGE_SIZE);
        img.loads.push(Load {
            start,
            file_end: align_up(bias + h.vaddr + h.filesz, PAGE_SIZE),
            end: align_up(bias + h.vaddr + h.memsz, PAGE_SIZE),
            offset: align_down(h.offset, PAGE_SIZE),
        });
        // Linux's load_elf_binary: code is what the executable segments
        // hold, data starts at the last segment.
        let (k, file_end) = (bias + h.vaddr, bias + h.vaddr + h.filesz);
        if h.flags & PF_X != 0 {
            img.start_code = img.start_code.min(k);
            img.end_code = img.end_code.max(file_end);
        }
        img.start_data = img.start_data.max(k);
        img.end_data = img.end_data.max(file_end);
    }
    if img.start_code == u64::MAX {
        img.start_code = 0;
    }
    img
}
