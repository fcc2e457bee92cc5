//! The guest kernel, embedded in `hx-run` by the build script.
use crate::host::shared::SharedRanges;
use crate::memory::GuestRam;
use anyhow::{bail, Context, Result};
use goblin::elf::{program_header::PT_LOAD, Elf};
use hx_abi::layout::{kernel_virt, KERNEL_PHYS, KERNEL_WINDOW};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub static KERNEL_ELF: &[u8] = include_bytes!(env!("HX_KERNEL_ELF"));

pub struct KernelImage {
    elf: Elf<'static>,
    /// First physical byte after the image (bss included).
    pub phys_end: u64,
    /// The image as it lies in guest RAM from `KERNEL_PHYS`, in a sealed
    /// memory file: each boot maps it copy-on-write instead of copying it
    /// (≈ 0.5 ms of host page faults per boot, and one copy in host memory
    /// for every VM of the tree).
    memfd: Option<OwnedFd>,
    symbols: std::sync::OnceLock<std::collections::HashMap<&'static str, u64>>,
}

const PAGE: u64 = 4096;

impl KernelImage {
    pub fn parse() -> Result<Self> {
        let elf = Elf::parse(KERNEL_ELF).context("the embedded kernel is not a valid ELF")?;
        let phys_end = elf
            .program_headers
            .iter()
            .filter(|p| p.p_type == PT_LOAD)
            .map(|p| p.p_paddr + p.p_memsz)
            .max()
            .context("the embedded kernel has no loadable segment")?;
        let mut image = Self { elf, phys_end, memfd: None, symbols: std::sync::OnceLock::new() };
        image.memfd = image.sealed_copy().ok();
        Ok(image)
    }

    /// Bytes from `KERNEL_PHYS` the image spans, in whole pages.
    fn span(&self) -> u64 {
        (self.phys_end - KERNEL_PHYS).div_ceil(PAGE) * PAGE
    }

    fn segments(&self) -> impl Iterator<Item = &goblin::elf::ProgramHeader> {
        self.elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD)
    }

    fn sealed_copy(&self) -> std::io::Result<OwnedFd> {
        use std::os::unix::fs::FileExt;
        // SAFETY: creates a memory file we own.
        let fd = unsafe { libc::memfd_create(c"hx-kernel".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is ours alone.
        let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        file.set_len(self.span())?;
        for p in self.segments() {
            if p.p_paddr < KERNEL_PHYS {
                return Err(std::io::ErrorKind::InvalidData.into());
            }
            let data = &KERNEL_ELF[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize];
            file.write_all_at(data, p.p_paddr - KERNEL_PHYS)?;
        }
        let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        // SAFETY: fcntl on our own descriptor.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(file.into())
    }

    /// The sealed copy's descriptor, if there is one.
    pub fn memfd(&self) -> Option<std::os::fd::RawFd> {
        self.memfd.as_ref().map(|fd| fd.as_raw_fd())
    }

    pub fn entry(&self) -> u64 {
        self.elf.header.e_entry
    }

    /// Puts the image into guest RAM at its physical addresses: its sealed
    /// copy mapped copy-on-write (recorded in `shared`, so an `execve`
    /// makes the range plain memory again), else copied. Its bss is not
    /// written: guest RAM starts zeroed.
    pub fn load(&self, mem: &GuestRam, shared: &mut SharedRanges) -> Result<()> {
        if self.phys_end > mem.size() {
            bail!("the embedded kernel does not fit in guest RAM");
        }
        if let Some(fd) = &self.memfd {
            if shared.map_private(mem, KERNEL_PHYS, self.span(), fd.as_raw_fd(), 0).is_ok() {
                return Ok(());
            }
        }
        for p in self.segments() {
            if p.p_paddr < KERNEL_PHYS || p.p_paddr + p.p_memsz > mem.size() {
                bail!("the embedded kernel does not fit in guest RAM");
            }
            let data = &KERNEL_ELF[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize];
            mem.write(p.p_paddr, data)?;
        }
        Ok(())
    }

    /// A symbol's address. Every boot looks up a few: the table is indexed
    /// once per tree (forked monitors inherit it) rather than scanned each time.
    pub fn symbol(&self, name: &str) -> Result<u64> {
        let index = self.symbols.get_or_init(|| {
            self.elf.syms.iter().filter_map(|s| Some((self.elf.strtab.get_at(s.st_name)?, s.st_value))).collect()
        });
        index.get(name).copied().with_context(|| format!("the embedded kernel has no symbol {name}"))
    }

    /// Reads `N` words at a kernel symbol from guest RAM (after `load`).
    pub fn read_words<const N: usize>(&self, mem: &GuestRam, name: &str) -> Result<[u64; N]> {
        let phys = self.symbol(name)? - KERNEL_WINDOW;
        let mut out = [0u64; N];
        for (i, w) in out.iter_mut().enumerate() {
            *w = mem.read_obj(phys + 8 * i as u64)?;
        }
        Ok(out)
    }

    /// The syscall numbers the kernel implements (its `HX_IMPLEMENTED_SYSCALLS` bitmap).
    pub fn implemented_syscalls(&self) -> Result<Vec<u64>> {
        let addr = self.symbol("HX_IMPLEMENTED_SYSCALLS")?;
        let ph = self
            .elf
            .program_headers
            .iter()
            .find(|p| p.p_type == PT_LOAD && (p.p_vaddr..p.p_vaddr + p.p_filesz).contains(&addr))
            .context("the syscall bitmap is not in a loaded segment")?;
        let off = (ph.p_offset + (addr - ph.p_vaddr)) as usize;
        let words = hx_abi::syscalls::MAX_SYSCALLS / 64;
        let bytes = KERNEL_ELF.get(off..off + 8 * words).context("the syscall bitmap is truncated")?;
        let mut nrs = Vec::new();
        for (w, chunk) in bytes.chunks_exact(8).enumerate() {
            let bits = u64::from_le_bytes(chunk.try_into().unwrap());
            nrs.extend((0..64).filter(|b| bits & (1 << b) != 0).map(|b| (w * 64 + b) as u64));
        }
        Ok(nrs)
    }

    pub fn elf(&self) -> &Elf<'static> {
        &self.elf
    }
}

/// The physical address of a kernel-window virtual address.
pub fn window_phys(virt: u64) -> Option<u64> {
    virt.checked_sub(KERNEL_WINDOW).filter(|_| virt >= kernel_virt(0))
}
