//! Which bytes of a function to replace: each `syscall` instruction and
//! the instructions just before it, up to the 5 bytes a jump needs.
//!
//! The function is decoded from its first byte to its last (compilers put no
//! data between x86-64 instructions), so every instruction boundary is
//! known, not guessed from a byte pattern. A window is used only if nothing
//! in the function jumps into it past its first byte. Its instructions move
//! into the stub: as they are, or with their `rip`-relative operand or
//! their jump's target re-aimed (`Reloc`); calls (which would push the
//! stub's address) and indirect or short-only jumps do not move. A function
//! with an indirect jump (a `switch` table may lead anywhere in it) is left
//! alone.
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use iced_x86::{Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic};

/// `mov $15, %rax` / `%eax` before a `syscall`: a signal trampoline
/// (`rt_sigreturn`), which unwinders (libgcc, gdb) recognise by these very
/// bytes at a signal frame's return address. It keeps them.
const SIGRETURN: [&[u8]; 2] = [&[0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0], &[0xb8, 0x0f, 0, 0, 0]];

/// Bytes of the `jmp rel32` that replaces a window.
pub const JUMP_LEN: usize = 5;

pub struct Window {
    /// Address of the first replaced instruction.
    pub start: u64,
    /// The instructions before the `syscall`, to move into the stub.
    pub moved: Vec<Moved>,
    /// The address after the `syscall`, where the program continues.
    pub end: u64,
}

/// One instruction to move: its bytes, and what changes when it runs elsewhere.
#[derive(Clone)]
pub struct Moved {
    pub bytes: Vec<u8>,
    pub reloc: Reloc,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Reloc {
    /// Means the same anywhere.
    None,
    /// A `rip`-relative operand whose 32-bit displacement lies at `at`
    /// in the instruction and reaches `target`.
    RipRelative { at: usize, target: u64 },
    /// A conditional jump (condition `cc`) to `target`.
    Jcc { cc: u8, target: u64 },
    /// A jump to `target`.
    Jmp { target: u64 },
}

struct Decoded {
    ip: u64,
    len: usize,
    syscall: bool,
    /// How it can move, if it can.
    reloc: Option<Reloc>,
}

/// The windows of the function at `start` whose bytes are `code`: none if
/// any of it does not decode or it has an indirect jump.
pub fn windows(code: &[u8], start: u64) -> Vec<Window> {
    let Some((insns, targets)) = decode(code, start) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, s) in insns.iter().enumerate().filter(|(_, s)| s.syscall) {
        if targets.contains(&s.ip) {
            continue;
        }
        let mut first = i;
        let mut len = 2;
        while len < JUMP_LEN && first > 0 {
            let prev = &insns[first - 1];
            // The instruction after `prev` becomes part of the window's inside.
            if prev.reloc.is_none() || (first != i && targets.contains(&insns[first].ip)) {
                break;
            }
            first -= 1;
            len += prev.len;
        }
        if len < JUMP_LEN {
            continue;
        }
        let from = (insns[first].ip - start) as usize;
        let to = (s.ip - start) as usize;
        if SIGRETURN.iter().any(|p| code[from..to].ends_with(p)) {
            continue;
        }
        let moved = insns[first..i]
            .iter()
            .map(|d| {
                let at = (d.ip - start) as usize;
                Moved { bytes: code[at..at + d.len].to_vec(), reloc: d.reloc.unwrap_or(Reloc::None) }
            })
            .collect();
        out.push(Window { start: insns[first].ip, moved, end: s.ip + 2 });
    }
    out
}

/// Every instruction of the function and the addresses its branches reach.
fn decode(code: &[u8], start: u64) -> Option<(Vec<Decoded>, BTreeSet<u64>)> {
    let end = start + code.len() as u64;
    let mut decoder = Decoder::with_ip(64, code, start, DecoderOptions::NONE);
    let mut insn = Instruction::default();
    let mut insns = Vec::new();
    let mut targets = BTreeSet::new();
    while decoder.can_decode() {
        decoder.decode_out(&mut insn);
        if insn.is_invalid() {
            return None;
        }
        let flow = insn.flow_control();
        if flow == FlowControl::IndirectBranch {
            return None;
        }
        let target = insn.near_branch_target();
        if target != 0 && (start..end).contains(&target) {
            targets.insert(target);
        }
        let syscall = insn.mnemonic() == Mnemonic::Syscall;
        let at = (insn.ip() - start) as usize;
        let reloc = if syscall { None } else { how_it_moves(&insn, &code[at..at + insn.len()], &decoder) };
        insns.push(Decoded { ip: insn.ip(), len: insn.len(), syscall, reloc });
    }
    Some((insns, targets))
}

/// How `insn` (whose bytes are `bytes`) can run from another address, if it can.
fn how_it_moves(insn: &Instruction, bytes: &[u8], decoder: &Decoder) -> Option<Reloc> {
    match insn.flow_control() {
        FlowControl::Next if insn.is_ip_rel_memory_operand() => {
            let offsets = decoder.get_constant_offsets(insn);
            (offsets.has_displacement() && offsets.displacement_size() == 4)
                .then(|| Reloc::RipRelative { at: offsets.displacement_offset(), target: insn.ip_rel_memory_address() })
        }
        FlowControl::Next => Some(Reloc::None),
        // Only the plain encodings, which name their condition in the opcode.
        FlowControl::ConditionalBranch => match *bytes {
            [op @ 0x70..=0x7f, _] => Some(Reloc::Jcc { cc: op & 0xf, target: insn.near_branch_target() }),
            [0x0f, op @ 0x80..=0x8f, _, _, _, _] => {
                Some(Reloc::Jcc { cc: op & 0xf, target: insn.near_branch_target() })
            }
            _ => None,
        },
        FlowControl::UnconditionalBranch => match *bytes {
            [0xeb, _] | [0xe9, _, _, _, _] => Some(Reloc::Jmp { target: insn.near_branch_target() }),
            _ => None,
        },
        _ => None,
    }
}
