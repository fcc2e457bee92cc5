//! CPUID: what KVM supports is passed to the guest unchanged. (On PVM-style
//! hosts CPL3 `cpuid` reads the host directly; on hardware KVM libc sees this.)
use anyhow::{Context, Result};
use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::Kvm;

pub fn supported(kvm: &Kvm) -> Result<CpuId> {
    kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).context("KVM_GET_SUPPORTED_CPUID")
}

fn leaf(cpuid: &CpuId, function: u32, index: u32) -> Option<&kvm_bindings::kvm_cpuid_entry2> {
    cpuid.as_slice().iter().find(|e| e.function == function && e.index == index)
}

/// 1 GiB pages (CPUID 0x8000_0001 EDX bit 26), for the direct map.
pub fn has_giant_pages(cpuid: &CpuId) -> bool {
    leaf(cpuid, 0x8000_0001, 0).is_some_and(|e| e.edx & (1 << 26) != 0)
}

/// The XCR0 to run with: every state component KVM offers among x87, SSE,
/// AVX and AVX-512 (so libc picks the same code paths as natively).
pub fn xcr0(cpuid: &CpuId) -> u64 {
    const WANTED: u64 = 0x1 | 0x2 | 0x4 | 0x20 | 0x40 | 0x80;
    let offered = leaf(cpuid, 0xd, 0).map(|e| e.eax as u64).unwrap_or(0x3);
    let mut x = offered & WANTED;
    // AVX-512 state is all or nothing.
    if x & 0xe0 != 0xe0 {
        x &= !0xe0;
    }
    x | 0x3
}

/// What KVM supports, from this boot's cache when there is one (`fresh`:
/// false), else from KVM (`fresh`: true; the caller may `remember` it).
/// Asking KVM runs ≈ 75 `cpuid` instructions in the host kernel, each an
/// exit to the hypervisor below on this host kind: ≈ 0.3 ms, and up to 2 ms
/// while the other thread of a starting `hx-run` works.
pub fn supported_cached(kvm: &Kvm, device: &std::path::Path) -> Result<(CpuId, bool)> {
    if let Some(cpuid) = cache::path(device).and_then(|p| cache::load(&p)) {
        return Ok((cpuid, false));
    }
    Ok((supported(kvm)?, true))
}

/// Keeps `cpuid` for the next runs of this boot (best effort: a cache that
/// cannot be written costs only the next run's time).
pub fn remember(cpuid: &CpuId, device: &std::path::Path) {
    if let Some(p) = cache::path(device) {
        let _ = cache::store(&p, cpuid);
    }
}

/// The supported CPUID is a property of the host kernel's KVM, fixed for a
/// boot: it is kept in `$XDG_CACHE_HOME/hx` (else `~/.cache/hx`) under the
/// boot's id, as raw `kvm_cpuid_entry2` records, readable and writable by
/// its owner only. A file that is not this user's, is open to others, or
/// does not hold whole records is not used.
mod cache {
    use super::{CpuId, KVM_MAX_CPUID_ENTRIES};
    use kvm_bindings::kvm_cpuid_entry2;
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    use std::path::{Path, PathBuf};

    const ENTRY: usize = std::mem::size_of::<kvm_cpuid_entry2>();

    pub fn path(device: &Path) -> Option<PathBuf> {
        // Another device (a test's, a nested setup's) may support other features.
        if device != Path::new("/dev/kvm") {
            return None;
        }
        // Only under a directory that exists: hx never makes a home (a
        // `$HOME` the host lacks is the guest's private one).
        let dir = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".cache"),
        };
        dir.parent().filter(|p| p.is_dir())?;
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        let boot = boot.trim();
        if boot.is_empty() || !boot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return None;
        }
        Some(dir.join("hx").join(format!("kvm-cpuid-{boot}")))
    }

    pub fn load(path: &Path) -> Option<CpuId> {
        let file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        // SAFETY: geteuid cannot fail.
        let mine = meta.uid() == unsafe { libc::geteuid() } && meta.mode() & 0o077 == 0 && meta.is_file();
        let len = meta.len() as usize;
        if !mine || len == 0 || !len.is_multiple_of(ENTRY) || len / ENTRY > KVM_MAX_CPUID_ENTRIES {
            return None;
        }
        let mut bytes = vec![0u8; len];
        std::io::Read::read_exact(&mut &file, &mut bytes).ok()?;
        let entries: Vec<kvm_cpuid_entry2> = bytes
            .chunks_exact(ENTRY)
            .map(|c| {
                // SAFETY: kvm_cpuid_entry2 is plain integers, valid for any bytes; `c` holds one.
                unsafe { std::ptr::read_unaligned(c.as_ptr().cast::<kvm_cpuid_entry2>()) }
            })
            .collect();
        CpuId::from_entries(&entries).ok()
    }

    pub fn store(path: &Path, cpuid: &CpuId) -> std::io::Result<()> {
        let dir = path.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
        // The cache directory and `hx` in it, not what holds them.
        for level in [dir.parent().ok_or(std::io::ErrorKind::InvalidInput)?, dir] {
            match std::fs::DirBuilder::new().mode(0o700).create(level) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
        let entries = cpuid.as_slice();
        // SAFETY: views the entries (plain integers) as their bytes.
        let bytes = unsafe { std::slice::from_raw_parts(entries.as_ptr().cast::<u8>(), entries.len() * ENTRY) };
        // A whole file or none: written aside, then renamed over.
        // SAFETY: getpid cannot fail.
        let tmp = dir.join(format!(".kvm-cpuid-{}", unsafe { libc::getpid() }));
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        let written = f.write_all(bytes).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}
