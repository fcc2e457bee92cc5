//! The stubs rewritten sites jump to, and the jump itself.
//!
//! A stub lives within a `jmp rel32` of its site, in an area of read+execute
//! memory the kernel maps near the image (the program cannot write it).
//! Each area starts with the address of `hx_rewrite_entry`; a stub is:
//!
//! ```text
//!   <the moved instructions>          e.g. mov $39, %eax (jumps and
//!                                     rip-relative operands re-aimed)
//! restart:
//!   lea -128(%rsp), %rsp              past the red zone
//!   pushfq
//!   pop %r11                          r11 = rflags, as `syscall` leaves it
//!   lea 128(%rsp), %rsp               lea keeps the flags
//!   lea site_end(%rip), %rcx          rcx = the return address
//!   jmp *area_start(%rip)             hx_rewrite_entry
//! ```
//!
//! Code and stubs are written through the kernel's direct map, so the
//! program's own mappings stay read-only; a private file mapping's page
//! becomes the process's own copy (the file never changes).
use super::plan::{Moved, Reloc, Window, JUMP_LEN};
use alloc::vec::Vec;
use hx_abi::layout::direct_virt;

const AREA_SIZE: u64 = 64 * 1024;
/// How far a `jmp rel32` reaches, less an area's size so every stub in it is reachable.
const REACH: u64 = (1 << 31) - 2 * AREA_SIZE;
const TAIL: [u8; 16] = [
    0x48, 0x8d, 0x64, 0x24, 0x80, // lea -0x80(%rsp),%rsp
    0x9c, // pushfq
    0x41, 0x5b, // pop %r11
    0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00, // lea 0x80(%rsp),%rsp
];
/// `lea rel32(%rip),%rcx` and `jmp *rel32(%rip)`, displacements to fill in.
const LEA_RCX: [u8; 3] = [0x48, 0x8d, 0x0d];
const JMP_INDIRECT: [u8; 2] = [0xff, 0x25];
const STUB_TAIL_LEN: u64 = (TAIL.len() + LEA_RCX.len() + 4 + JMP_INDIRECT.len() + 4) as u64;

pub struct Area {
    start: u64,
    used: u64,
}

impl Area {
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start < end && start < self.start + AREA_SIZE
    }
}

extern "C" {
    fn hx_rewrite_entry();
}

/// Writes a stub for `w` and the jump to it; returns the stub's restart point.
pub fn install(areas: &mut Vec<Area>, w: &Window) -> Option<u64> {
    // Moved jumps may grow (rel8 to rel32): at most 6 bytes each.
    let size = w.moved.iter().map(|m| m.bytes.len().max(6) as u64).sum::<u64>() + STUB_TAIL_LEN;
    let reaches = |a: &Area| a.start.abs_diff(w.start) <= REACH && a.used + size <= AREA_SIZE;
    let area = match areas.iter().position(reaches) {
        Some(i) => &mut areas[i],
        None => {
            let start = crate::mm::with_space(|s| s.map_near(w.start, AREA_SIZE, REACH))?;
            let entry = hx_rewrite_entry as *const () as u64;
            write(start, &entry.to_le_bytes())?;
            areas.push(Area { start, used: 8 });
            areas.last_mut()?
        }
    };
    let stub = area.start + area.used;
    let mut bytes = Vec::new();
    for m in &w.moved {
        relocate(m, stub + bytes.len() as u64, &mut bytes)?;
    }
    let restart = stub + bytes.len() as u64;
    bytes.extend_from_slice(&TAIL);
    bytes.extend_from_slice(&LEA_RCX);
    let after_lea = restart + TAIL.len() as u64 + 7;
    bytes.extend_from_slice(&rel32(w.end, after_lea)?);
    bytes.extend_from_slice(&JMP_INDIRECT);
    bytes.extend_from_slice(&rel32(area.start, after_lea + 6)?);
    write(stub, &bytes)?;
    area.used += (bytes.len() as u64 + 15) & !15;

    // The window: a jump to the stub, and traps where nothing may land.
    let mut jump = alloc::vec![0xccu8; (w.end - w.start) as usize];
    jump[0] = 0xe9;
    jump[1..JUMP_LEN].copy_from_slice(&rel32(stub, w.start + JUMP_LEN as u64)?);
    write(w.start, &jump)?;
    Some(restart)
}

/// Appends moved instruction `m`, placed at `at`, to `out`.
fn relocate(m: &Moved, at: u64, out: &mut Vec<u8>) -> Option<()> {
    match m.reloc {
        Reloc::None => out.extend_from_slice(&m.bytes),
        Reloc::RipRelative { at: disp, target } => {
            let mut b = m.bytes.clone();
            let next = at + b.len() as u64;
            b.get_mut(disp..disp + 4)?.copy_from_slice(&rel32(target, next)?);
            out.extend_from_slice(&b);
        }
        Reloc::Jcc { cc, target } => {
            out.extend_from_slice(&[0x0f, 0x80 | cc]);
            out.extend_from_slice(&rel32(target, at + 6)?);
        }
        Reloc::Jmp { target } => {
            out.push(0xe9);
            out.extend_from_slice(&rel32(target, at + 5)?);
        }
    }
    Some(())
}

/// The displacement from `from` to `to`, if a rel32 reaches.
fn rel32(to: u64, from: u64) -> Option<[u8; 4]> {
    let d = to.wrapping_sub(from) as i64;
    i32::try_from(d).ok().map(|d| d.to_le_bytes())
}

/// Writes `bytes` at program address `at` through the direct map, page by
/// page (the program's own mapping of it is read-only).
pub fn write(at: u64, bytes: &[u8]) -> Option<()> {
    let mut done = 0;
    while done < bytes.len() {
        let va = at + done as u64;
        let phys = crate::mm::with_space(|s| s.phys_at(va))?;
        let chunk = (4096 - (va & 4095) as usize).min(bytes.len() - done);
        // SAFETY: `phys` backs a page of the program's private memory (the
        // caller checked), reached through the direct map; one thread runs.
        unsafe { core::ptr::copy_nonoverlapping(bytes[done..].as_ptr(), direct_virt(phys) as *mut u8, chunk) };
        done += chunk;
    }
    Some(())
}
