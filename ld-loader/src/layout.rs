//! Where the pieces of a program go in the guest's address space.
use anyhow::{bail, Result};
use goblin::elf::{program_header as ph, Elf};
use hx_abi::boot::{PROT_EXEC, PROT_READ, PROT_WRITE};
use hx_abi::layout::{align_up, PAGE_SIZE, USER_END, USER_MIN};

/// One `PT_LOAD` segment at its final (biased) address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub file_offset: u64,
    pub filesz: u64,
    pub prot: u32,
}

/// A loaded ELF: its segments and what the auxv says about it.
#[derive(Clone, Debug)]
pub struct Image {
    pub bias: u64,
    pub entry: u64,
    pub segments: Vec<Segment>,
    /// Address of the program headers in memory (for `AT_PHDR`).
    pub phdr: u64,
    pub phnum: u64,
    pub phent: u64,
    /// First page after the highest segment (where the program break starts).
    pub end: u64,
}

/// Places `elf` (named `name` in errors) at `bias` (0 for `ET_EXEC`).
pub fn plan(name: &str, elf: &Elf, bias: u64) -> Result<Image> {
    let mut segments = Vec::new();
    let mut end = 0;
    for p in elf.program_headers.iter().filter(|p| p.p_type == ph::PT_LOAD) {
        if p.p_memsz < p.p_filesz {
            bail!("{name}: corrupt ELF (segment smaller in memory than in the file)");
        }
        if p.p_align > PAGE_SIZE && (p.p_vaddr % PAGE_SIZE) != (p.p_offset % PAGE_SIZE) {
            bail!("{name}: corrupt ELF (segment offset and address disagree modulo the page size)");
        }
        let vaddr = p.p_vaddr.checked_add(bias);
        let seg_end = vaddr.and_then(|v| v.checked_add(p.p_memsz));
        let (Some(vaddr), Some(seg_end)) = (vaddr, seg_end) else {
            bail!("{name}: corrupt ELF (segment address overflows)");
        };
        if vaddr < USER_MIN || seg_end > USER_END {
            bail!("{name}: a segment at {vaddr:#x} lies outside the program's address range");
        }
        let mut prot = 0;
        if p.is_read() {
            prot |= PROT_READ;
        }
        if p.is_write() {
            prot |= PROT_WRITE;
        }
        if p.is_executable() {
            prot |= PROT_EXEC;
        }
        segments.push(Segment { vaddr, memsz: p.p_memsz, file_offset: p.p_offset, filesz: p.p_filesz, prot });
        end = end.max(seg_end);
    }
    let phnum = elf.header.e_phnum as u64;
    let phent = elf.header.e_phentsize as u64;
    // Addresses the program only reads (auxv values, the entry point) wrap as
    // on Linux; a wrong one faults in the guest, never in the monitor.
    let phoff = elf.header.e_phoff;
    let phdr = match elf.program_headers.iter().find(|p| p.p_type == ph::PT_PHDR) {
        Some(p) => p.p_vaddr.wrapping_add(bias),
        // No PT_PHDR: find the segment whose file range holds the headers.
        None => segments
            .iter()
            .find(|s| {
                let table_end = phoff.checked_add(phnum * phent);
                phoff >= s.file_offset && table_end.is_some_and(|e| e <= s.file_offset + s.filesz)
            })
            .map(|s| s.vaddr + (phoff - s.file_offset))
            .unwrap_or(0),
    };
    let entry = elf.header.e_entry.wrapping_add(bias);
    Ok(Image { bias, entry, segments, phdr, phnum, phent, end: align_up(end, PAGE_SIZE) })
}
