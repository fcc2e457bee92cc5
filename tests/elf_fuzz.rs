//! The ELF loader (ld-loader's classify and plan, the monitor's load_image,
//! goblin underneath) fed mutated ELF files: program headers, PT_INTERP,
//! PT_TLS, dynamic sections and sizes near 2^64. Nothing may panic; hx-run
//! itself must answer a broken file with one clear line and status 126 (or
//! run it, if the mutation left a runnable program).
//!
//! CI runs a fixed number; `HX_FUZZ_SECS=3600` runs for an hour.
mod common;
#[path = "common/rng.rs"]
mod rng;

use common::*;
use goblin::elf::program_header as ph;
use hx_vmm::arch::paging::PageTables;
use hx_vmm::loader::{load_image, PhysAlloc};
use hx_vmm::memory::GuestRam;
use rng::Rng;
use std::process::{Command, Stdio};

const RAM: u64 = 64 << 20;

/// Real executables and loaders to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let mut files = vec![
        build("hello", Flavor::GlibcStatic, &[]),
        build("hello", Flavor::GlibcStaticPie, &[]),
        build("hello", Flavor::GlibcDynamic, &[]),
        build("hello", Flavor::MuslStatic, &[]),
    ];
    for lib in ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1"] {
        if std::path::Path::new(lib).exists() {
            files.push(lib.into());
        }
    }
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn boundary(rng: &mut Rng) -> u64 {
    let (random, small) = (rng.next(), rng.below(0x10000));
    *rng.pick(&[
        0,
        1,
        0x38,
        0x40,
        0xfff,
        0x1000,
        0x1001,
        0x20_0000,
        0x40_0000,
        0x7fff_ffff_f000,
        0x8000_0000_0000,
        u32::MAX as u64,
        i64::MAX as u64,
        u64::MAX,
        u64::MAX - 0xfff,
        u64::MAX / 2,
        random,
        small,
    ])
}

fn put(bytes: &mut [u8], at: usize, value: u64, width: usize) {
    if let Some(dst) = bytes.get_mut(at..at + width) {
        dst.copy_from_slice(&value.to_le_bytes()[..width]);
    }
}

/// One mutation, chosen by structure: header fields, a program header's
/// fields, a new segment type, truncation, or random bytes.
fn mutate(rng: &mut Rng, file: &[u8]) -> Vec<u8> {
    let mut b = file.to_vec();
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(b[0x38..0x3a].try_into().unwrap()) as usize;
    for _ in 0..1 + rng.below(4) {
        let ph_at = phoff + 56 * rng.below(phnum.max(1) as u64) as usize;
        match rng.below(9) {
            // e_type, e_machine, e_entry, e_phoff, e_phentsize, e_phnum
            0 => match rng.below(6) {
                0 => put(&mut b, 0x10, rng.below(5), 2),
                1 => {
                    let machine = *rng.pick(&[62, 3, 40, 183, 0]);
                    put(&mut b, 0x12, machine, 2)
                }
                2 => put(&mut b, 0x18, boundary(rng), 8),
                3 => put(&mut b, 0x20, boundary(rng), 8),
                4 => put(&mut b, 0x36, boundary(rng), 2),
                _ => put(&mut b, 0x38, boundary(rng), 2),
            },
            // p_type: turn a segment into LOAD, INTERP, TLS, DYNAMIC, PHDR, GNU_STACK
            1 => {
                let t =
                    *rng.pick(&[ph::PT_LOAD, ph::PT_INTERP, ph::PT_TLS, ph::PT_DYNAMIC, ph::PT_PHDR, ph::PT_GNU_STACK]);
                put(&mut b, ph_at, t as u64, 4)
            }
            2 => put(&mut b, ph_at + 4, rng.below(8), 4),
            // p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align
            3..=5 => put(&mut b, ph_at + 8 + 8 * rng.below(6) as usize, boundary(rng), 8),
            6 => {
                let n = rng.below(b.len() as u64) as usize;
                b.truncate(n.max(1));
            }
            7 => {
                // PT_INTERP without a NUL, or pointing at odd bytes
                put(&mut b, ph_at, ph::PT_INTERP as u64, 4);
                put(&mut b, ph_at + 32, rng.below(8192), 8);
            }
            _ => {
                for _ in 0..1 + rng.below(16) {
                    let i = rng.below(b.len().min(8192) as u64) as usize;
                    b[i] = rng.next() as u8;
                }
            }
        }
        if b.len() < 0x40 {
            break;
        }
    }
    b
}

/// What hx-run does with an ELF before the guest starts; `via_file`: the
/// bytes are a file's, whose pages the loader may map rather than copy.
fn load(bytes: &[u8], mem: &GuestRam, via_file: bool) -> anyhow::Result<()> {
    let (kind, elf) = ld_loader::classify("fuzzed", bytes)?;
    let bias = match kind {
        ld_loader::Kind::Static => 0,
        _ => hx_abi::layout::PIE_BASE,
    };
    let image = ld_loader::plan("fuzzed", &elf, bias)?;
    let mut pt = PageTables::new(mem);
    let mut phys = PhysAlloc { next: 4 << 20, end: RAM };
    if via_file {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let mut file = tempfile::tempfile()?;
        file.write_all(bytes)?;
        let mut shared = hx_vmm::host::shared::SharedRanges::default();
        let source = hx_vmm::loader::Source { fd: file.as_raw_fd(), shared: &mut shared };
        let loaded = load_image(mem, &mut pt, &mut phys, &image, bytes, Some(source));
        // As an `execve` does: the mapped pages become plain memory again.
        shared.clear(mem);
        loaded?;
    } else {
        load_image(mem, &mut pt, &mut phys, &image, bytes, None)?;
    }
    // A fault report parses the whole file for symbols.
    let _ = goblin::elf::Elf::parse(bytes);
    Ok(())
}

#[test]
fn mutated_elf_files_never_panic_the_loader() {
    let seeds = seeds();
    let mem = GuestRam::new(RAM).unwrap();
    let mut rng = Rng::new(rng::seed());
    let (count, deadline) = rng::budget(3000);
    let (mut done, mut refused) = (0u64, 0u64);
    while done < count && deadline.is_none_or(|d| std::time::Instant::now() < d) {
        let seed = rng.below(seeds.len() as u64) as usize;
        let file = mutate(&mut rng, &seeds[seed]);
        if load(&file, &mem, done % 8 == 0).is_err() {
            refused += 1;
        }
        done += 1;
    }
    println!("ELF fuzzer: {done} mutated files loaded or refused ({refused} refused), no panic");
}

/// The loader maps the pages a file's segment fills entirely rather than
/// copying them (vmm/src/loader.rs): guest RAM must hold the same bytes
/// either way, edge pages and bss included, for every real image.
#[test]
fn mapped_and_copied_images_give_the_same_guest_memory() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let mut mapped_any = false;
    for bytes in seeds() {
        let (kind, elf) = ld_loader::classify("seed", &bytes).unwrap();
        let bias = if matches!(kind, ld_loader::Kind::Static) { 0 } else { hx_abi::layout::PIE_BASE };
        let image = ld_loader::plan("seed", &elf, bias).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        let mut shared = hx_vmm::host::shared::SharedRanges::default();
        let mut contents = Vec::new();
        for via_file in [false, true] {
            let mem = GuestRam::new(RAM).unwrap();
            let mut pt = PageTables::new(&mem);
            let mut phys = PhysAlloc { next: 4 << 20, end: RAM };
            let source = via_file.then(|| hx_vmm::loader::Source { fd: file.as_raw_fd(), shared: &mut shared });
            load_image(&mem, &mut pt, &mut phys, &image, &bytes, source).unwrap();
            let mut ram = vec![0u8; (phys.next - (4 << 20)) as usize];
            mem.read(4 << 20, &mut ram).unwrap();
            contents.push(ram);
        }
        assert!(contents[0] == contents[1], "an image loads differently when mapped");
        mapped_any |= !shared.is_empty();
    }
    assert!(mapped_any, "no seed had pages mapped from its file");
}

#[test]
fn hx_run_refuses_broken_elf_files_in_one_line() {
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(rng::seed() ^ 0x5eed);
    let mut refused = 0;
    for i in 0..30 {
        let file = mutate(&mut rng, &seeds[i % 4]);
        let path = dir.path().join(format!("mutant{i}"));
        std::fs::write(&path, &file).unwrap();
        let mut child = Command::new(HX_RUN)
            .args(["--memory", "64M"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A mutant that runs may spin forever: that is the guest's business.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        let crashed = stderr.lines().any(|l| l.starts_with("hx-run: internal error") || l.starts_with("thread '"));
        assert!(!crashed, "mutant{i}: {stderr}");
        if status_code(&out) == 126 {
            refused += 1;
            assert_eq!(stderr.lines().count(), 1, "mutant{i}: {stderr}");
            assert!(stderr.starts_with("hx-run: "), "mutant{i}: {stderr}");
        }
    }
    assert!(refused > 0, "some mutants must be refused");
}

#[test]
fn an_interpreter_path_beyond_the_end_of_the_file_is_refused() {
    // This mutant panicked the loader (a slice past the end of the file).
    let mut b = std::fs::read(build("hello", Flavor::GlibcStatic, &[])).unwrap();
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(b[0x38..0x3a].try_into().unwrap()) as usize;
    let at = phoff + 56 * (phnum - 1);
    let len = b.len() as u64;
    put(&mut b, at, ph::PT_INTERP as u64, 4);
    put(&mut b, at + 8, len + 100, 8);
    put(&mut b, at + 32, 50, 8);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutant");
    std::fs::write(&path, &b).unwrap();
    let out = Command::new(HX_RUN).arg(&path).output().unwrap();
    assert_eq!(status_code(&out), 126, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("truncated ELF"), "{}", text(&out.stderr));
}
