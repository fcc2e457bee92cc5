//! Static, static-PIE or dynamic: what the ELF header and program headers say.
use anyhow::{bail, Context, Result};
use goblin::elf::{header, program_header, Elf};

/// Largest program header table accepted (Linux's limit).
const MAX_PHDRS_SIZE: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ET_EXEC` without an interpreter: loaded at its link address.
    Static,
    /// `ET_DYN` without an interpreter: relocates itself, loaded at `PIE_BASE`.
    StaticPie,
    /// Has `PT_INTERP`: the named dynamic loader starts it.
    Dynamic { interp: String, pie: bool },
}

/// Parses `bytes` (the file `name`) and checks it is a 64-bit x86-64 executable
/// hx can run. Errors name the file and say what is wrong with it.
pub fn classify<'a>(name: &str, bytes: &'a [u8]) -> Result<(Kind, Elf<'a>)> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        bail!("{name}: not an ELF file");
    }
    if bytes.len() > 4 && bytes[4] != header::ELFCLASS64 {
        bail!("{name}: a 32-bit ELF; hx runs x86-64 binaries only");
    }
    if bytes.len() > 5 && bytes[5] != header::ELFDATA2LSB {
        bail!("{name}: a big-endian ELF; hx runs x86-64 binaries only");
    }
    // Only the header and program headers: starting a program needs no
    // symbols, and a large binary's tables take milliseconds to parse.
    let header = Elf::parse_header(bytes).with_context(|| format!("{name}: corrupt ELF"))?;
    let mut elf = Elf::lazy_parse(header).with_context(|| format!("{name}: corrupt ELF"))?;
    // Linux refuses program header tables over 64 KiB (load_elf_phdrs); so does hx.
    let ph_size = header.e_phnum as usize * header.e_phentsize as usize;
    if ph_size > MAX_PHDRS_SIZE {
        bail!("{name}: corrupt ELF (program header table of {ph_size} bytes)");
    }
    let ph_end = usize::try_from(header.e_phoff).ok().and_then(|off| off.checked_add(ph_size));
    if ph_end.is_none_or(|end| end > bytes.len()) {
        bail!("{name}: truncated ELF (the program headers lie beyond the end of the file)");
    }
    elf.program_headers = program_header::ProgramHeader::parse(
        bytes,
        header.e_phoff as usize,
        header.e_phnum as usize,
        goblin::container::Ctx::default(),
    )
    .with_context(|| format!("{name}: corrupt ELF"))?;
    if elf.header.e_machine != header::EM_X86_64 {
        bail!("{name}: an ELF for {}; hx runs x86-64 binaries only", header::machine_to_str(elf.header.e_machine));
    }
    let pie = match elf.header.e_type {
        header::ET_EXEC => false,
        header::ET_DYN => true,
        t => bail!("{name}: not an executable (ELF type {})", header::et_to_str(t)),
    };
    for ph in &elf.program_headers {
        let end = ph.p_offset.checked_add(ph.p_filesz);
        let in_file = matches!(ph.p_type, program_header::PT_LOAD | program_header::PT_INTERP);
        if in_file && end.is_none_or(|e| e > bytes.len() as u64) {
            bail!("{name}: truncated ELF (a segment lies beyond the end of the file)");
        }
    }
    if !elf.program_headers.iter().any(|p| p.p_type == program_header::PT_LOAD) {
        bail!("{name}: corrupt ELF (no loadable segment)");
    }
    let interp = elf.program_headers.iter().find(|p| p.p_type == program_header::PT_INTERP).map(|p| {
        // In the file: checked above.
        let raw = bytes.get(p.p_offset as usize..(p.p_offset + p.p_filesz) as usize).unwrap_or_default();
        String::from_utf8_lossy(raw.split(|&b| b == 0).next().unwrap_or_default()).into_owned()
    });
    if let Some(path) = &interp {
        if path.is_empty() || path.len() >= 4096 {
            bail!("{name}: corrupt ELF (interpreter path of {} bytes)", path.len());
        }
    }
    let kind = match interp {
        Some(interp) => Kind::Dynamic { interp, pie },
        None if pie => Kind::StaticPie,
        None => Kind::Static,
    };
    Ok((kind, elf))
}
