//! A seccomp prefilter that only looks at the syscall number: a balanced
//! binary search over the numbers the main filter may allow.
//!
//! Why: when a filter is installed, Linux runs it once per syscall number to
//! find the numbers it always allows (its per-filter cache), and a number that
//! an earlier filter already refuses is not tried again. seccompiler's filter
//! is a linear chain, so every refused number walked all of it: installing it
//! took ≈ 0.5 ms of every `hx-run`'s start. Installed first, this tree refuses
//! those numbers in a dozen steps each, and the main filter is then tried only
//! on the numbers it names.
//!
//! It never widens the policy: a call passes only if every filter allows it,
//! and this one allows a superset of the main filter's numbers.
use seccompiler::{sock_filter, BpfProgram};

// Classic BPF opcodes (linux/bpf_common.h) and seccomp constants.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGE_K: u16 = 0x35;
const BPF_RET_K: u16 = 0x06;
/// `seccomp_data` offsets: the syscall number, then the audit architecture.
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;
/// `AUDIT_ARCH_X86_64`: EM_X86_64 | 64-bit | little endian.
const AUDIT_ARCH_X86_64: u32 = 62 | 0x8000_0000 | 0x4000_0000;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The prefilter: `numbers` (any order, duplicates allowed) return ALLOW,
/// every other number and any other architecture returns `refuse`.
pub fn number_filter(numbers: &[i64], refuse: u32) -> BpfProgram {
    let mut sorted: Vec<u32> = numbers.iter().map(|&n| n as u32).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut program = vec![
        stmt(BPF_LD_W_ABS, DATA_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(BPF_RET_K, refuse),
        stmt(BPF_LD_W_ABS, DATA_NR),
    ];
    subtree(&sorted, refuse, &mut program);
    program
}

/// Numbers a leaf compares one by one: past a few, halving is shorter to run.
const LEAF: usize = 4;

/// Appends the search over `numbers` (sorted). Every leaf returns by
/// itself, so the only forward jumps longer than a few instructions are
/// `ja`, whose 32-bit offset any program size fits.
fn subtree(numbers: &[u32], refuse: u32, out: &mut Vec<sock_filter>) {
    if numbers.len() <= LEAF {
        // jeq n_i → ALLOW (n - i instructions ahead), else the next one.
        for (i, &n) in numbers.iter().enumerate() {
            out.push(jump(BPF_JMP_JEQ_K, n, (numbers.len() - i) as u8, 0));
        }
        out.push(stmt(BPF_RET_K, refuse));
        out.push(stmt(BPF_RET_K, libc::SECCOMP_RET_ALLOW));
        return;
    }
    let (low, high) = numbers.split_at(numbers.len() / 2);
    // nr >= high[0]: take the `ja` to the upper half; else skip it.
    out.push(jump(BPF_JMP_JGE_K, high[0], 0, 1));
    let ja = out.len();
    out.push(stmt(BPF_JMP_JA, 0));
    subtree(low, refuse, out);
    out[ja].k = (out.len() - ja - 1) as u32;
    subtree(high, refuse, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `program` on a syscall number and architecture, as the kernel would.
    fn run(program: &[sock_filter], nr: u32, arch: u32) -> (u32, usize) {
        let (mut pc, mut acc, mut steps) = (0usize, 0u32, 0usize);
        loop {
            let ins = &program[pc];
            steps += 1;
            pc += 1;
            match ins.code {
                BPF_LD_W_ABS => acc = if ins.k == DATA_NR { nr } else { arch },
                BPF_JMP_JA => pc += ins.k as usize,
                BPF_JMP_JEQ_K => pc += usize::from(if acc == ins.k { ins.jt } else { ins.jf }),
                BPF_JMP_JGE_K => pc += usize::from(if acc >= ins.k { ins.jt } else { ins.jf }),
                BPF_RET_K => return (ins.k, steps),
                code => panic!("unexpected opcode {code:#x}"),
            }
        }
    }

    #[test]
    fn allows_exactly_the_numbers_given() {
        const TRAP: u32 = libc::SECCOMP_RET_TRAP;
        for count in [0usize, 1, 2, 3, 7, 64, 130, 300] {
            let numbers: Vec<i64> = (0..count as i64).map(|i| i * 3 + 1).collect();
            let program = number_filter(&numbers, TRAP);
            assert!(program.len() < 4096, "{count}: {} instructions", program.len());
            for nr in 0..1000u32 {
                let (action, steps) = run(&program, nr, AUDIT_ARCH_X86_64);
                let want = if numbers.contains(&i64::from(nr)) { libc::SECCOMP_RET_ALLOW } else { TRAP };
                assert_eq!(action, want, "{count} numbers, nr {nr}");
                assert!(steps <= 10 + 2 * (usize::BITS - count.leading_zeros()) as usize, "{steps} steps");
            }
            // x32 numbers and other architectures never pass.
            assert_eq!(run(&program, 0x4000_0001, AUDIT_ARCH_X86_64).0, TRAP);
            assert_eq!(run(&program, 1, 0x4000_0003).0, TRAP);
        }
    }
}
