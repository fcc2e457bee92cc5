//! Which bytes of a function to replace: each `syscall` instruction and
//! the instructions just before it, up to the 5 bytes a jump needs.
//!
//! The function is decoded from its first byte to its last (compilers put no
//! data between x86-64 instructions), so every instruction boundary is
//! known, not guessed from a byte pattern. A window is used only if nothing
//! in the function jumps into it past its first byte, and if its moved
//! instructions mean the same anywhere: no branch, no `rip`-relative
//! operand. A function with an indirect jump (a `switch` table may lead
//! anywhere in it) is left alone.
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
    /// The instructions before the `syscall`, moved into the stub as they are.
    pub moved: Vec<u8>,
}

impl Window {
    /// The address after the `syscall`, where the program continues.
    pub fn end(&self) -> u64 {
        self.start + self.moved.len() as u64 + 2
    }
}

struct Decoded {
    ip: u64,
    len: usize,
    syscall: bool,
    movable: bool,
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
            if !prev.movable || (first != i && targets.contains(&insns[first].ip)) {
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
        out.push(Window { start: insns[first].ip, moved: code[from..to].to_vec() });
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
        insns.push(Decoded {
            ip: insn.ip(),
            len: insn.len(),
            syscall,
            movable: !syscall && flow == FlowControl::Next && !insn.is_ip_rel_memory_operand(),
        });
    }
    Some((insns, targets))
}
