//! The guest kernel, embedded in `hx-run` by the build script.
use crate::host::shared::SharedRanges;
use crate::memory::GuestRam;
use anyhow::{bail, Context, Result};
use goblin::elf::Elf;
use hx_abi::layout::{kernel_virt, KERNEL_PHYS, KERNEL_WINDOW};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The kernel ELF at a page boundary of `hx-run`'s own file (a page-aligned
/// address has a page-aligned file offset in an ELF image), so each boot
/// maps its segments straight from that file.
#[repr(C, align(4096))]
struct PageAligned<T: ?Sized>(T);
static KERNEL_PAGES: &PageAligned<[u8]> = &PageAligned(*include_bytes!(env!("HX_KERNEL_ELF")));
pub static KERNEL_ELF: &[u8] = &KERNEL_PAGES.0;

/// A loadable segment of the kernel ELF (from its program headers).
pub struct Segment {
    pub offset: u64,
    pub vaddr: u64,
    pub paddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

/// The ELF's entry, segments and exported symbols, read by the build script.
mod layout {
    use super::Segment;
    include!(concat!(env!("OUT_DIR"), "/kernel_layout.rs"));
}

pub struct KernelImage {
    /// First physical byte after the image (bss included).
    pub phys_end: u64,
    /// A file holding the ELF's bytes from a page-aligned offset: `hx-run`'s
    /// own executable, else a sealed memory copy. Each boot maps the
    /// segments' whole pages from it copy-on-write instead of copying them
    /// (≈ 0.5 ms of host page faults per boot, and one copy in host memory
    /// for every VM of the tree); the executable saves making the copy
    /// (≈ 0.5 ms per `hx-run`).
    source: Option<(OwnedFd, u64)>,
    /// The whole ELF parsed, for fault reports only.
    elf: std::sync::OnceLock<Option<Elf<'static>>>,
}

const PAGE: u64 = 4096;

impl KernelImage {
    pub fn parse() -> Result<Self> {
        let phys_end = layout::SEGMENTS
            .iter()
            .map(|p| p.paddr + p.memsz)
            .max()
            .context("the embedded kernel has no loadable segment")?;
        let source = in_own_executable().or_else(|| sealed_copy().ok().map(|fd| (fd, 0)));
        Ok(Self { phys_end, source, elf: std::sync::OnceLock::new() })
    }

    fn segments(&self) -> impl Iterator<Item = &'static Segment> {
        layout::SEGMENTS.iter()
    }

    /// The descriptor the segments are mapped from, if there is one.
    pub fn source_fd(&self) -> Option<std::os::fd::RawFd> {
        self.source.as_ref().map(|(fd, _)| fd.as_raw_fd())
    }

    pub fn entry(&self) -> u64 {
        layout::ENTRY
    }

    /// Puts the image into guest RAM at its physical addresses: its sealed
    /// copy mapped copy-on-write (recorded in `shared`, so an `execve`
    /// makes the range plain memory again), else copied. Its bss is not
    /// written: guest RAM starts zeroed.
    pub fn load(&self, mem: &GuestRam, shared: &mut SharedRanges) -> Result<()> {
        if self.phys_end > mem.size() {
            bail!("the embedded kernel does not fit in guest RAM");
        }
        for p in self.segments() {
            if p.paddr < KERNEL_PHYS || p.paddr + p.memsz > mem.size() || p.filesz > p.memsz {
                bail!("the embedded kernel does not fit in guest RAM");
            }
            let data = KERNEL_ELF
                .get(p.offset as usize..(p.offset + p.filesz) as usize)
                .context("the embedded kernel is truncated")?;
            // Whole pages of file bytes are mapped; the last part page is
            // copied (the file's next bytes are not this segment's).
            let whole = p.filesz / PAGE * PAGE;
            let mapped = match &self.source {
                Some((fd, base)) if whole > 0 && p.paddr % PAGE == 0 => {
                    shared.map_private(mem, p.paddr, whole, fd.as_raw_fd(), base + p.offset).is_ok()
                }
                _ => false,
            };
            let copied = if mapped { whole as usize } else { 0 };
            mem.write(p.paddr + copied as u64, &data[copied..])?;
        }
        Ok(())
    }

    /// An exported (global, unmangled) kernel symbol's address.
    pub fn symbol(&self, name: &str) -> Result<u64> {
        let found = layout::SYMBOLS.binary_search_by(|(n, _)| (*n).cmp(name));
        found.map(|i| layout::SYMBOLS[i].1).map_err(|_| anyhow::anyhow!("the embedded kernel has no symbol {name}"))
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
            .segments()
            .find(|p| (p.vaddr..p.vaddr + p.filesz).contains(&addr))
            .context("the syscall bitmap is not in a loaded segment")?;
        let off = (ph.offset + (addr - ph.vaddr)) as usize;
        let words = hx_abi::syscalls::MAX_SYSCALLS / 64;
        let bytes = KERNEL_ELF.get(off..off + 8 * words).context("the syscall bitmap is truncated")?;
        let mut nrs = Vec::new();
        for (w, chunk) in bytes.chunks_exact(8).enumerate() {
            let bits = u64::from_le_bytes(chunk.try_into().unwrap());
            nrs.extend((0..64).filter(|b| bits & (1 << b) != 0).map(|b| (w * 64 + b) as u64));
        }
        Ok(nrs)
    }

    /// The whole ELF with its symbol table, parsed at the first fault report.
    pub fn elf(&self) -> Option<&Elf<'static>> {
        self.elf.get_or_init(|| Elf::parse(KERNEL_ELF).ok()).as_ref()
    }
}

/// The physical address of a kernel-window virtual address.
pub fn window_phys(virt: u64) -> Option<u64> {
    virt.checked_sub(KERNEL_WINDOW).filter(|_| virt >= kernel_virt(0))
}

/// Where `KERNEL_ELF` lies in `hx-run`'s own file, opened: the file offset
/// of its address in the loaded segment that holds it.
fn in_own_executable() -> Option<(OwnedFd, u64)> {
    struct Found {
        addr: u64,
        offset: Option<u64>,
    }
    unsafe extern "C" fn each(info: *mut libc::dl_phdr_info, _: libc::size_t, data: *mut libc::c_void) -> libc::c_int {
        // SAFETY: the loader passes a valid info; `data` is our `Found`.
        let (info, found) = unsafe { (&*info, &mut *data.cast::<Found>()) };
        // SAFETY: the program headers the loader describes.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        for ph in phdrs.iter().filter(|ph| ph.p_type == libc::PT_LOAD) {
            let start = info.dlpi_addr + ph.p_vaddr;
            if (start..start + ph.p_filesz).contains(&found.addr) {
                found.offset = Some(ph.p_offset + (found.addr - start));
            }
        }
        1 // the first object is the executable itself
    }
    let mut found = Found { addr: KERNEL_ELF.as_ptr() as u64, offset: None };
    // SAFETY: walks the loaded objects with a callback that only reads them.
    unsafe { libc::dl_iterate_phdr(Some(each), (&mut found as *mut Found).cast()) };
    let offset = found.offset.filter(|o| o % PAGE == 0)?;
    let file = std::fs::File::open("/proc/self/exe").ok()?;
    // The bytes there must be the kernel's (a binary replaced on disk since is not).
    let mut head = [0u8; 64];
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, offset).ok()?;
    (KERNEL_ELF.get(..64) == Some(&head[..])).then(|| (file.into(), offset))
}

/// A sealed memory copy of the ELF (where the executable cannot be mapped).
fn sealed_copy() -> std::io::Result<OwnedFd> {
    use std::os::unix::fs::FileExt;
    // SAFETY: creates a memory file we own.
    let fd = unsafe { libc::memfd_create(c"hx-kernel".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is ours alone.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all_at(KERNEL_ELF, 0)?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own descriptor.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file.into())
}
