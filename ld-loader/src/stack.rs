//! The initial process stack, laid out as Linux's `execve` does: strings at the
//! top, then 16 random bytes, then (16-byte aligned at `sp`) argc, argv, NULL,
//! envp, NULL, the auxiliary vector and `AT_NULL`.

/// Auxiliary vector tags (from the Linux ABI).
pub mod at {
    pub const NULL: u64 = 0;
    pub const PHDR: u64 = 3;
    pub const PHENT: u64 = 4;
    pub const PHNUM: u64 = 5;
    pub const PAGESZ: u64 = 6;
    pub const BASE: u64 = 7;
    pub const FLAGS: u64 = 8;
    pub const ENTRY: u64 = 9;
    pub const UID: u64 = 11;
    pub const EUID: u64 = 12;
    pub const GID: u64 = 13;
    pub const EGID: u64 = 14;
    pub const PLATFORM: u64 = 15;
    pub const HWCAP: u64 = 16;
    pub const SYSINFO_EHDR: u64 = 33;
    pub const CLKTCK: u64 = 17;
    pub const SECURE: u64 = 23;
    pub const RANDOM: u64 = 25;
    pub const HWCAP2: u64 = 26;
    pub const EXECFN: u64 = 31;
    pub const MINSIGSTKSZ: u64 = 51;
}

pub struct StackInput<'a> {
    pub argv: &'a [Vec<u8>],
    pub envp: &'a [Vec<u8>],
    /// Every auxv entry that is a plain value; the builder adds `AT_RANDOM`,
    /// `AT_EXECFN`, `AT_PLATFORM` (which point into the stack) and `AT_NULL`.
    pub auxv: &'a [(u64, u64)],
    pub execfn: &'a [u8],
    pub random: [u8; 16],
}

/// The bytes of `[sp, top)` and the stack pointer the program starts with.
pub struct StackImage {
    pub sp: u64,
    pub bytes: Vec<u8>,
}

/// Builds the stack that ends at `top` (exclusive).
pub fn build_stack(top: u64, input: &StackInput) -> StackImage {
    // Grow downwards in a buffer that represents [top - buf.len(), top).
    let mut down: Vec<u8> = Vec::new();
    let push = |bytes: &[u8], down: &mut Vec<u8>| -> u64 {
        let mut v = bytes.to_vec();
        v.extend_from_slice(&down[..]);
        *down = v;
        top - down.len() as u64
    };
    push(&[0; 8], &mut down); // end marker, as Linux leaves
    let execfn = push(&cstr(input.execfn), &mut down);
    let envp: Vec<u64> = input.envp.iter().rev().map(|e| push(&cstr(e), &mut down)).collect();
    let argv: Vec<u64> = input.argv.iter().rev().map(|a| push(&cstr(a), &mut down)).collect();
    let platform = push(b"x86_64\0", &mut down);
    let pad = (top - down.len() as u64) % 16;
    push(&vec![0; pad as usize], &mut down);
    let random = push(&input.random, &mut down);

    let mut words: Vec<u64> = Vec::new();
    words.push(input.argv.len() as u64);
    words.extend(argv.iter().rev());
    words.push(0);
    words.extend(envp.iter().rev());
    words.push(0);
    for &(k, v) in input.auxv {
        words.extend([k, v]);
    }
    words.extend([at::RANDOM, random, at::EXECFN, execfn, at::PLATFORM, platform, at::NULL, 0]);
    // sp must be 16-byte aligned where argc sits.
    let below = (top - down.len() as u64) - 8 * words.len() as u64;
    let pad = below % 16;
    push(&vec![0; pad as usize], &mut down);
    let table: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let sp = push(&table, &mut down);
    StackImage { sp, bytes: down }
}

fn cstr(s: &[u8]) -> Vec<u8> {
    let mut v = s.to_vec();
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, top: u64, addr: u64) -> u64 {
        let off = (addr - (top - img.bytes.len() as u64)) as usize;
        u64::from_le_bytes(img.bytes[off..off + 8].try_into().unwrap())
    }

    #[test]
    fn stack_holds_argc_argv_envp_and_auxv_in_linux_order() {
        let top = 0x7000_0000;
        let argv = [b"prog".to_vec(), b"a1".to_vec()];
        let envp = [b"K=V".to_vec()];
        let img = build_stack(
            top,
            &StackInput { argv: &argv, envp: &envp, auxv: &[(at::PAGESZ, 4096)], execfn: b"/p", random: [7; 16] },
        );
        assert_eq!(img.sp % 16, 0);
        assert_eq!(word(&img, top, img.sp), 2);
        let a0 = word(&img, top, img.sp + 8);
        let off = (a0 - img.sp) as usize;
        assert_eq!(&img.bytes[off..off + 5], b"prog\0");
        assert_eq!(word(&img, top, img.sp + 24), 0);
        assert_eq!(word(&img, top, img.sp + 40), 0);
        assert_eq!(word(&img, top, img.sp + 48), at::PAGESZ);
        assert_eq!(word(&img, top, img.sp + 56), 4096);
        assert_eq!(word(&img, top, img.sp + 64), at::RANDOM);
    }
}
