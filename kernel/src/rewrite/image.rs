//! Which function an address belongs to: the ELF image mapped around it and
//! that image's unwind table (`PT_GNU_EH_FRAME`, a sorted table of every
//! function's start), read in place from the program's memory.
use crate::mm::{self, Kind};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use gimli::{BaseAddresses, CieOrFde, EhFrame, EhFrameHdr, NativeEndian, Pointer, UnwindSection};
use hx_abi::boot::{
    FunctionTable, FUNCTIONS_EH_FRAME, FUNCTIONS_GO_PCLNTAB, FUNCTIONS_NONE, PROT_EXEC, PROT_READ, PROT_WRITE,
};

/// Functions longer than this are not decoded (none of a libc's syscall wrappers is).
const MAX_FUNCTION: u64 = 256 * 1024;
/// Bound on the unwind data read for one lookup.
const MAX_EH_FRAME: u64 = 64 << 20;

const PT_LOAD: u32 = 1;
const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
const PF_X: u32 = 1;
const EM_X86_64: u16 = 62;

pub struct Function {
    pub start: u64,
    pub end: u64,
}

/// Functions of images without an index (signal trampolines left out, as
/// in [`indexed_lookup`]), by their table's address: (start, end), sorted,
/// listed once per image.
pub type Listed = BTreeMap<u64, Vec<(u64, u64)>>;

/// Where [`Listed`] keeps the executable's symbol table (no table lies at 0).
const EXE_SYMBOLS: u64 = 0;

/// The function holding `addr`, if `addr` lies in private, read-only code
/// of an ELF image whose unwind table lists it, or, in the executable, whose
/// symbol table does.
pub fn function_at(addr: u64, listed: &mut Listed) -> Option<Function> {
    let base = image_base(addr)?;
    let (table, bias) = unwind_table(base, addr)?;
    let found = match table {
        Table::Indexed(hdr, len) => indexed_lookup(hdr, len, addr),
        Table::Listed(t) => {
            let functions = listed.entry(t.at).or_insert_with(|| match t.kind {
                FUNCTIONS_EH_FRAME => list_functions(t.at, t.len),
                FUNCTIONS_GO_PCLNTAB => list_go_functions(t.at, t.len),
                _ => Vec::new(),
            });
            containing(functions, addr)
        }
        Table::Unlisted => None,
    };
    let (start, end) = match found {
        Some(f) => f,
        None if crate::fs::proc::startup::get().exe.contains(addr) => {
            let functions = listed.entry(EXE_SYMBOLS).or_insert_with(|| super::symbols::exe_functions(base, bias));
            containing(functions, addr)?
        }
        None => return None,
    };
    (start <= addr && addr < end && end - start <= MAX_FUNCTION).then_some(Function { start, end })
}

/// The entry of `functions` (sorted by start) that holds `addr`.
fn containing(functions: &[(u64, u64)], addr: u64) -> Option<(u64, u64)> {
    let i = functions.partition_point(|&(start, _)| start <= addr).checked_sub(1)?;
    Some(functions[i]).filter(|&(_, end)| addr < end)
}

/// Every function Go's `.gopclntab` (Go 1.18 on) lists, sorted by start:
/// after its header, `nfunc + 1` pairs of 32-bit (entry offset from the
/// text start, data offset), the last one the end of the text.
fn list_go_functions(at: u64, len: u64) -> Vec<(u64, u64)> {
    const MAGICS: [u32; 2] = [0xffff_fff0, 0xffff_fff1];
    let Some(tab) = user_bytes(at, len.min(MAX_EH_FRAME)) else {
        return Vec::new();
    };
    if tab.len() < 72 || !MAGICS.contains(&read_u32(tab, 0)) || tab[7] != 8 {
        return Vec::new();
    }
    let (nfunc, text_start, functab) = (read_u64(tab, 8) as usize, read_u64(tab, 24), read_u64(tab, 64) as usize);
    let Some(entries) = nfunc.checked_add(1).and_then(|n| n.checked_mul(8)) else {
        return Vec::new();
    };
    let Some(table) = functab.checked_add(entries).and_then(|end| tab.get(functab..end)) else {
        return Vec::new();
    };
    let starts: Vec<u64> = table.chunks(8).map(|e| text_start.wrapping_add(read_u32(e, 0) as u64)).collect();
    let mut out: Vec<(u64, u64)> = starts.windows(2).filter(|w| w[0] < w[1]).map(|w| (w[0], w[1])).collect();
    out.sort_unstable();
    out
}

/// Every function an `.eh_frame` section describes, sorted by start.
fn list_functions(at: u64, len: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let Some(bytes) = user_bytes(at, len.min(MAX_EH_FRAME)) else {
        return out;
    };
    let section = EhFrame::new(bytes, NativeEndian);
    let bases = BaseAddresses::default().set_eh_frame(at);
    let mut entries = section.entries(&bases);
    while let Ok(Some(entry)) = entries.next() {
        if let CieOrFde::Fde(partial) = entry {
            match partial.parse(EhFrame::cie_from_offset) {
                Ok(fde) if !fde.is_signal_trampoline() => out.push((fde.initial_address(), fde.end_address())),
                _ => {}
            }
        }
    }
    out.sort_unstable();
    out
}

/// Looks `addr` up in a `PT_GNU_EH_FRAME` index: the function's (start, end).
fn indexed_lookup(hdr: u64, hdr_len: u64, addr: u64) -> Option<(u64, u64)> {
    let bases = BaseAddresses::default().set_eh_frame_hdr(hdr);
    let parsed = EhFrameHdr::new(user_bytes(hdr, hdr_len)?, NativeEndian).parse(&bases, 8).ok()?;
    let Pointer::Direct(eh_frame) = parsed.eh_frame_ptr() else {
        return None;
    };
    let eh_len = readable_run(eh_frame, MAX_EH_FRAME);
    let section = EhFrame::new(user_bytes(eh_frame, eh_len)?, NativeEndian);
    let bases = bases.set_eh_frame(eh_frame);
    let fde = parsed.table()?.fde_for_address(&section, &bases, addr, EhFrame::cie_from_offset).ok()?;
    // A signal trampoline's entry starts a byte early (unwinders look up the
    // return address minus one): not an instruction boundary to decode from.
    (!fde.is_signal_trampoline()).then(|| (fde.initial_address(), fde.end_address()))
}

/// A copy of the function's code, if all of it is private, read-only code.
pub fn code(f: &Function) -> Option<Vec<u8>> {
    if !mm::with_space(|s| (f.start..f.end).step_by(4096).chain([f.end - 1]).all(|a| rewritable(s.vma_at(a)))) {
        return None;
    }
    let mut bytes = alloc::vec![0u8; (f.end - f.start) as usize];
    mm::copy_from_user(f.start, &mut bytes).ok()?;
    Some(bytes)
}

/// Code the rewriter may change: executable, not writable by the program
/// (no JIT), and private (nothing reaches a file or another process). A
/// private file mapping's pages are the host's copy-on-write mapping of the
/// file (`Kind::Shared` with a private backing): a write makes them the
/// process's own.
fn rewritable(vma: Option<mm::space::Vma>) -> bool {
    vma.is_some_and(|v| {
        let private = match v.kind {
            Kind::Image | Kind::Anon => v.file.is_none_or(|f| !f.shared),
            Kind::Shared => v.file.is_some_and(|f| !f.shared),
            _ => false,
        };
        private && v.prot & PROT_EXEC != 0 && v.prot & PROT_WRITE == 0
    })
}

/// Where the ELF image holding `addr` starts (its header): the mapping of
/// the same file at offset 0, or for an image the monitor loaded, the
/// nearest such mapping below that starts with an ELF header.
fn image_base(addr: u64) -> Option<u64> {
    mm::with_space(|s| {
        let v = s.vma_at(addr).filter(|v| rewritable(Some(*v)))?;
        let below = s.vmas().into_iter().rev().filter(|w| w.start <= v.start);
        match v.file {
            Some(f) => below.into_iter().find(|w| w.file.is_some_and(|g| g.name == f.name && g.offset == 0)),
            None => {
                below.take_while(|w| w.kind == Kind::Image).find(|w| w.prot & PROT_READ != 0 && starts_elf(w.start))
            }
        }
        .map(|w| w.start)
    })
}

fn starts_elf(at: u64) -> bool {
    let mut magic = [0u8; 4];
    // SAFETY: the caller holds the address space: `at` starts a readable mapping.
    unsafe { core::ptr::copy_nonoverlapping(at as *const u8, magic.as_mut_ptr(), 4) };
    magic == *b"\x7fELF"
}

fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn read_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

enum Table {
    /// `PT_GNU_EH_FRAME`: an index sorted by function (address, length).
    Indexed(u64, u64),
    /// A list the monitor found when it loaded the image (`.eh_frame`, Go's
    /// `.gopclntab`).
    Listed(FunctionTable),
    /// Neither.
    Unlisted,
}

/// The image's unwind table and load bias, if `addr` lies in one of its
/// executable segments.
fn unwind_table(base: u64, addr: u64) -> Option<(Table, u64)> {
    let mut eh = [0u8; 64];
    mm::copy_from_user(base, &mut eh).ok()?;
    if eh[4] != 2 || eh[5] != 1 || read_u16(&eh, 18) != EM_X86_64 || read_u16(&eh, 54) != 56 {
        return None;
    }
    let (phoff, phnum) = (read_u64(&eh, 32), read_u16(&eh, 56) as usize);
    if phnum == 0 || phnum > 64 {
        return None;
    }
    let mut ph = alloc::vec![0u8; phnum * 56];
    mm::copy_from_user(base.checked_add(phoff)?, &mut ph).ok()?;
    let headers: Vec<(u32, u32, u64, u64, u64)> = ph
        .chunks(56)
        .map(|p| (read_u32(p, 0), read_u32(p, 4), read_u64(p, 8), read_u64(p, 16), read_u64(p, 40)))
        .collect();
    // The segment mapped at the base holds the header: file offset 0.
    let first = headers.iter().find(|h| h.0 == PT_LOAD && h.2 == 0)?;
    let bias = base.wrapping_sub(first.3 & !0xfff);
    let in_code = headers.iter().any(|&(kind, flags, _, vaddr, memsz)| {
        let start = bias.wrapping_add(vaddr);
        kind == PT_LOAD && flags & PF_X != 0 && start <= addr && addr - start < memsz
    });
    if !in_code {
        return None;
    }
    if let Some(&(_, _, _, vaddr, memsz)) = headers.iter().find(|h| h.0 == PT_GNU_EH_FRAME) {
        return Some((Table::Indexed(bias.wrapping_add(vaddr), memsz), bias));
    }
    let inside = |at: u64| {
        headers.iter().any(|&(kind, _, _, vaddr, memsz)| {
            let start = bias.wrapping_add(vaddr);
            kind == PT_LOAD && start <= at && at - start < memsz
        })
    };
    let boot = crate::boot_info();
    let table = boot.function_tables.iter().find(|t| t.kind != FUNCTIONS_NONE && t.len != 0 && inside(t.at));
    Some((table.map_or(Table::Unlisted, |&t| Table::Listed(t)), bias))
}

/// How many bytes from `at` on (at most `max`) are mapped readable.
fn readable_run(at: u64, max: u64) -> u64 {
    mm::with_space(|s| {
        let mut end = at;
        while end - at < max {
            match s.vma_at(end).filter(|v| v.prot & PROT_READ != 0) {
                Some(v) => end = v.end,
                None => break,
            }
        }
        (end - at).min(max)
    })
}

/// The program's bytes at `[at, at + len)`, read in place.
fn user_bytes(at: u64, len: u64) -> Option<&'static [u8]> {
    mm::with_space(|s| s.check(at, len, false)).ok()?;
    // SAFETY: checked mapped and readable; the program has one thread and is
    // inside a syscall, so nothing unmaps it while the slice is used.
    Some(unsafe { core::slice::from_raw_parts(at as *const u8, len as usize) })
}
