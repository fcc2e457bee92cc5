//! Where the pieces of a program go in the guest's address space.
use anyhow::{bail, Result};
use goblin::elf::{program_header as ph, Elf};
use hx_abi::boot::{FunctionTable, FUNCTIONS_EH_FRAME, FUNCTIONS_GO_PCLNTAB, PROT_EXEC, PROT_READ, PROT_WRITE};
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
    /// Where its functions are listed in memory, for the guest kernel, when
    /// no `PT_GNU_EH_FRAME` indexes them (static executables).
    pub functions: FunctionTable,
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
    Ok(Image {
        bias,
        entry,
        segments,
        phdr,
        phnum,
        phent,
        end: align_up(end, PAGE_SIZE),
        functions: FunctionTable::default(),
    })
}

/// Where an image placed at `bias` lists its functions when no
/// `PT_GNU_EH_FRAME` indexes them: its `.eh_frame`, else Go's `.gopclntab`.
/// Only the section headers and their names are read; none if there is no
/// such section or the table is corrupt.
pub fn unindexed_function_table(bytes: &[u8], elf: &Elf, bias: u64) -> FunctionTable {
    if elf.program_headers.iter().any(|p| p.p_type == ph::PT_GNU_EH_FRAME) {
        return FunctionTable::default();
    }
    let section = |name: &[u8]| section_in_memory(bytes, elf, name).map(|(at, len)| (at.wrapping_add(bias), len));
    if let Some((at, len)) = section(b".eh_frame") {
        return FunctionTable { kind: FUNCTIONS_EH_FRAME, at, len };
    }
    if let Some((at, len)) = section(b".gopclntab") {
        return FunctionTable { kind: FUNCTIONS_GO_PCLNTAB, at, len };
    }
    FunctionTable::default()
}

/// The address and size of the loaded section called `name`.
fn section_in_memory(bytes: &[u8], elf: &Elf, name: &[u8]) -> Option<(u64, u64)> {
    use goblin::elf::section_header::SectionHeader;
    let h = &elf.header;
    let count = h.e_shnum as usize;
    let fits = (h.e_shoff as usize).checked_add(count.saturating_mul(64)).is_some_and(|end| end <= bytes.len());
    if count == 0 || count > 4096 || h.e_shentsize != 64 || !fits {
        return None;
    }
    let sections = SectionHeader::parse(bytes, h.e_shoff as usize, count, goblin::container::Ctx::default()).ok()?;
    let names = sections.get(h.e_shstrndx as usize)?;
    let name_of = |s: &SectionHeader| {
        let at = (names.sh_offset as usize).checked_add(s.sh_name)?;
        let rest = bytes.get(at..)?;
        Some(&rest[..rest.iter().position(|&b| b == 0)?])
    };
    sections
        .iter()
        .find(|s| s.sh_addr != 0 && s.sh_size != 0 && name_of(s) == Some(name))
        .map(|s| (s.sh_addr, s.sh_size))
}
