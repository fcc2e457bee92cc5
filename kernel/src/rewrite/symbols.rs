//! Function bounds from the executable's symbol table, for a static image
//! whose unwind data does not cover its syscall wrappers (musl's `libc.a` is
//! built without unwind tables). `.symtab` is not loaded into memory, so it
//! is read from the file once, through the monitor like any guest read, and
//! only if the file's ELF and program headers are the ones in memory.
use crate::host;
use alloc::vec::Vec;
use hx_abi::hypercall::op;

/// Bound on the symbol table read (24 bytes a symbol: 700 000 symbols).
const MAX_SYMTAB: u64 = 16 << 20;
/// Read in pieces of this size (a few host requests for a large table).
const CHUNK: usize = 256 * 1024;
const SHT_SYMTAB: u32 = 2;
const STT_FUNC: u8 = 2;
const SYMBOL_SIZE: usize = 24;
const SECTION_HEADER_SIZE: usize = 64;

/// Every sized function symbol of the executable, as (start, end) in
/// memory (`bias` added), sorted; empty if the file has none or is not the
/// image at `base`.
pub fn exe_functions(base: u64, bias: u64) -> Vec<(u64, u64)> {
    let mut resolved = alloc::vec![0u8; 1];
    let flags = u64::from(crate::fs::O_RDONLY | crate::fs::O_CLOEXEC);
    let Ok(handle) = host::path_request(op::OPEN, &[flags, 0], &[crate::exe_path()], &mut [&mut resolved]).0 else {
        return Vec::new();
    };
    let functions = read_functions(handle, base, bias).unwrap_or_default();
    host::close(handle);
    functions
}

fn read_functions(handle: u64, base: u64, bias: u64) -> Option<Vec<(u64, u64)>> {
    let header = read(handle, 0, 64)?;
    let (phoff, phnum) = (u64_at(&header, 32), u16_at(&header, 56) as usize);
    let (shoff, shnum) = (u64_at(&header, 40), u16_at(&header, 60) as usize);
    if u16_at(&header, 58) as usize != SECTION_HEADER_SIZE || shnum == 0 || shnum > 4096 || phnum > 64 {
        return None;
    }
    // The same file as the image in memory: identical ELF and program headers.
    let phdrs = read(handle, phoff, phnum * 56)?;
    let mut in_memory = alloc::vec![0u8; 64 + phdrs.len()];
    crate::mm::copy_from_user(base, &mut in_memory[..64]).ok()?;
    crate::mm::copy_from_user(base.checked_add(phoff)?, &mut in_memory[64..]).ok()?;
    if in_memory[..64] != header[..] || in_memory[64..] != phdrs[..] {
        return None;
    }
    let sections = read(handle, shoff, shnum * SECTION_HEADER_SIZE)?;
    let symtab = sections.chunks_exact(SECTION_HEADER_SIZE).find(|s| u32_at(s, 4) == SHT_SYMTAB)?;
    let (offset, size) = (u64_at(symtab, 24), u64_at(symtab, 32));
    if u64_at(symtab, 56) != SYMBOL_SIZE as u64 || size > MAX_SYMTAB {
        return None;
    }
    let mut out = Vec::new();
    let mut at = 0u64;
    while at < size {
        let want = (size - at).min(CHUNK as u64) as usize / SYMBOL_SIZE * SYMBOL_SIZE;
        let chunk = read(handle, offset.checked_add(at)?, want)?;
        for sym in chunk.chunks_exact(SYMBOL_SIZE) {
            let (info, shndx, value, len) = (sym[4], u16_at(sym, 6), u64_at(sym, 8), u64_at(sym, 16));
            // Sized functions only: an assembly routine without `.size` has
            // no end to decode to, and one defined elsewhere (index 0) no code.
            if info & 0xf == STT_FUNC && shndx != 0 && len != 0 {
                let start = value.wrapping_add(bias);
                out.push((start, start.saturating_add(len)));
            }
        }
        at += want as u64;
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Exactly `len` bytes of the file at `offset`, or nothing.
fn read(handle: u64, offset: u64, len: usize) -> Option<Vec<u8>> {
    let mut buf = alloc::vec![0u8; len];
    let mut done = 0;
    while done < len {
        let rest = &mut buf[done..];
        let (r, _) = host::path_request(op::PREAD, &[handle, offset + done as u64], &[], &mut [rest]);
        match r {
            Ok(n) if n > 0 => done += n as usize,
            _ => return None,
        }
    }
    Some(buf)
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
