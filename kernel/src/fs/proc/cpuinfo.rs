//! `/proc/cpuinfo`: one block per vCPU, from what `cpuid` answers in the
//! guest (the CPU the monitor presents), in Linux's format. The flags are
//! the CPUID bits Linux names, in its order (`cpufeatures.h`); Linux's
//! synthetic flags (what its own code found out, such as `constant_tsc`)
//! and `bugs` are not there.
use super::text::Text;
use crate::arch::cpuid;
use alloc::vec::Vec;
use spin::Once;

type Bits = &'static [(u8, &'static str)];

/// CPUID 1, EDX (Linux's word 0).
const W0: Bits = &[
    (0, "fpu"),
    (1, "vme"),
    (2, "de"),
    (3, "pse"),
    (4, "tsc"),
    (5, "msr"),
    (6, "pae"),
    (7, "mce"),
    (8, "cx8"),
    (9, "apic"),
    (11, "sep"),
    (12, "mtrr"),
    (13, "pge"),
    (14, "mca"),
    (15, "cmov"),
    (16, "pat"),
    (17, "pse36"),
    (18, "pn"),
    (19, "clflush"),
    (21, "dts"),
    (22, "acpi"),
    (23, "mmx"),
    (24, "fxsr"),
    (25, "sse"),
    (26, "sse2"),
    (27, "ss"),
    (28, "ht"),
    (29, "tm"),
    (30, "ia64"),
    (31, "pbe"),
];
/// CPUID 0x80000001, EDX (word 1).
const W1: Bits = &[
    (11, "syscall"),
    (19, "mp"),
    (20, "nx"),
    (22, "mmxext"),
    (25, "fxsr_opt"),
    (26, "pdpe1gb"),
    (27, "rdtscp"),
    (29, "lm"),
    (30, "3dnowext"),
    (31, "3dnow"),
];
/// CPUID 1, ECX (word 4).
const W4: Bits = &[
    (0, "pni"),
    (1, "pclmulqdq"),
    (2, "dtes64"),
    (3, "monitor"),
    (4, "ds_cpl"),
    (5, "vmx"),
    (6, "smx"),
    (7, "est"),
    (8, "tm2"),
    (9, "ssse3"),
    (10, "cid"),
    (11, "sdbg"),
    (12, "fma"),
    (13, "cx16"),
    (14, "xtpr"),
    (15, "pdcm"),
    (17, "pcid"),
    (18, "dca"),
    (19, "sse4_1"),
    (20, "sse4_2"),
    (21, "x2apic"),
    (22, "movbe"),
    (23, "popcnt"),
    (24, "tsc_deadline_timer"),
    (25, "aes"),
    (26, "xsave"),
    (28, "avx"),
    (29, "f16c"),
    (30, "rdrand"),
    (31, "hypervisor"),
];
/// CPUID 0x80000001, ECX (word 6).
const W6: Bits = &[
    (0, "lahf_lm"),
    (1, "cmp_legacy"),
    (2, "svm"),
    (3, "extapic"),
    (4, "cr8_legacy"),
    (5, "abm"),
    (6, "sse4a"),
    (7, "misalignsse"),
    (8, "3dnowprefetch"),
    (9, "osvw"),
    (10, "ibs"),
    (11, "xop"),
    (12, "skinit"),
    (13, "wdt"),
    (15, "lwp"),
    (16, "fma4"),
    (17, "tce"),
    (19, "nodeid_msr"),
    (21, "tbm"),
    (22, "topoext"),
    (23, "perfctr_core"),
    (24, "perfctr_nb"),
    (26, "bpext"),
    (27, "ptsc"),
    (28, "perfctr_llc"),
    (29, "mwaitx"),
];
/// CPUID 7.0, EBX (word 9).
const W9: Bits = &[
    (0, "fsgsbase"),
    (1, "tsc_adjust"),
    (2, "sgx"),
    (3, "bmi1"),
    (4, "hle"),
    (5, "avx2"),
    (7, "smep"),
    (8, "bmi2"),
    (9, "erms"),
    (10, "invpcid"),
    (11, "rtm"),
    (12, "cqm"),
    (14, "mpx"),
    (15, "rdt_a"),
    (16, "avx512f"),
    (17, "avx512dq"),
    (18, "rdseed"),
    (19, "adx"),
    (20, "smap"),
    (21, "avx512ifma"),
    (23, "clflushopt"),
    (24, "clwb"),
    (25, "intel_pt"),
    (26, "avx512pf"),
    (27, "avx512er"),
    (28, "avx512cd"),
    (29, "sha_ni"),
    (30, "avx512bw"),
    (31, "avx512vl"),
];
/// CPUID 0xD.1, EAX (word 10).
const W10: Bits = &[(0, "xsaveopt"), (1, "xsavec"), (2, "xgetbv1"), (3, "xsaves"), (4, "xfd")];
/// CPUID 7.1, EAX (word 12).
const W12: Bits = &[(4, "avx_vnni"), (5, "avx512_bf16")];
/// CPUID 0x80000008, EBX (word 13).
const W13: Bits = &[(0, "clzero"), (1, "irperf"), (2, "xsaveerptr"), (4, "rdpru"), (9, "wbnoinvd")];
/// CPUID 6, EAX (word 14).
const W14: Bits = &[(0, "dtherm"), (1, "ida"), (2, "arat"), (4, "pln"), (6, "pts"), (7, "hwp")];
/// CPUID 7.0, ECX (word 16).
const W16: Bits = &[
    (1, "avx512vbmi"),
    (2, "umip"),
    (3, "pku"),
    (4, "ospke"),
    (5, "waitpkg"),
    (6, "avx512_vbmi2"),
    (8, "gfni"),
    (9, "vaes"),
    (10, "vpclmulqdq"),
    (11, "avx512_vnni"),
    (12, "avx512_bitalg"),
    (13, "tme"),
    (14, "avx512_vpopcntdq"),
    (16, "la57"),
    (22, "rdpid"),
    (24, "bus_lock_detect"),
    (25, "cldemote"),
    (27, "movdiri"),
    (28, "movdir64b"),
    (29, "enqcmd"),
    (30, "sgx_lc"),
];
/// CPUID 7.0, EDX (word 18).
const W18: Bits = &[
    (2, "avx512_4vnniw"),
    (3, "avx512_4fmaps"),
    (4, "fsrm"),
    (8, "avx512_vp2intersect"),
    (10, "md_clear"),
    (14, "serialize"),
    (16, "tsxldtrk"),
    (18, "pconfig"),
    (19, "arch_lbr"),
    (20, "ibt"),
    (22, "amx_bf16"),
    (23, "avx512_fp16"),
    (24, "amx_tile"),
    (25, "amx_int8"),
    (28, "flush_l1d"),
    (29, "arch_capabilities"),
];

/// What cpuid says, read once (each `cpuid` is an exit to the hypervisor).
struct Cpu {
    max_leaf: u32,
    max_ext: u32,
    vendor: [u8; 12],
    signature: u32,
    leaf1_ebx: u32,
    brand: Vec<u8>,
    flags: Vec<u8>,
    cache_kb: u32,
    address_bits: (u32, u32),
}

fn leaf(max_leaf: u32, max_ext: u32, leaf: u32, sub: u32) -> [u32; 4] {
    let known = if leaf >= 0x8000_0000 { leaf <= max_ext } else { leaf <= max_leaf };
    if known {
        cpuid(leaf, sub)
    } else {
        [0; 4]
    }
}

fn read_cpu() -> Cpu {
    let l0 = cpuid(0, 0);
    let (max_leaf, max_ext) = (l0[0], cpuid(0x8000_0000, 0)[0]);
    let get = |l: u32, s: u32| leaf(max_leaf, max_ext, l, s);
    let mut vendor = [0u8; 12];
    for (i, r) in [l0[1], l0[3], l0[2]].iter().enumerate() {
        vendor[i * 4..i * 4 + 4].copy_from_slice(&r.to_le_bytes());
    }
    let l1 = get(1, 0);
    let mut brand: Vec<u8> = Vec::new();
    for l in 0x8000_0002..=0x8000_0004 {
        for r in get(l, 0) {
            brand.extend_from_slice(&r.to_le_bytes());
        }
    }
    brand.retain(|&b| b != 0);
    let brand = brand.trim_ascii().to_vec();
    let (e1, l7, l7_1, ld1, l6, e8) =
        (get(0x8000_0001, 0), get(7, 0), get(7, 1), get(0xd, 1), get(6, 0), get(0x8000_0008, 0));
    let words: [(u32, Bits); 11] = [
        (l1[3], W0),
        (e1[3], W1),
        (l1[2], W4),
        (e1[2], W6),
        (l7[1], W9),
        (ld1[0], W10),
        (l7_1[0], W12),
        (e8[1], W13),
        (l6[0], W14),
        (l7[2], W16),
        (l7[3], W18),
    ];
    let mut flags = Vec::new();
    for (reg, names) in words {
        for &(bit, name) in names {
            if reg & (1 << bit) != 0 {
                if !flags.is_empty() {
                    flags.push(b' ');
                }
                flags.extend_from_slice(name.as_bytes());
            }
        }
    }
    Cpu {
        max_leaf,
        max_ext,
        vendor,
        signature: l1[0],
        leaf1_ebx: l1[1],
        brand,
        flags,
        cache_kb: cache_kb(&vendor, max_leaf, max_ext),
        address_bits: (e8[0] & 0xff, (e8[0] >> 8) & 0xff),
    }
}

/// "cache size": the last level Linux reports (Intel: the largest cache of
/// leaf 4; others: L2 from 0x80000006).
fn cache_kb(vendor: &[u8; 12], max_leaf: u32, max_ext: u32) -> u32 {
    if vendor == b"GenuineIntel" && max_leaf >= 4 {
        let mut best = 0;
        for sub in 0..16 {
            let [a, b, c, _] = cpuid(4, sub);
            if a & 0x1f == 0 {
                break;
            }
            let size = ((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) * ((b & 0xfff) + 1) * (c + 1);
            best = best.max(size / 1024);
        }
        return best;
    }
    leaf(max_leaf, max_ext, 0x8000_0006, 0)[2] >> 16
}

pub fn text() -> Vec<u8> {
    static TEXT: Once<Vec<u8>> = Once::new();
    TEXT.call_once(make).clone()
}

fn make() -> Vec<u8> {
    let cpu = read_cpu();
    let sig = cpu.signature;
    let mut family = (sig >> 8) & 0xf;
    let mut model = (sig >> 4) & 0xf;
    if family == 0xf {
        family += (sig >> 20) & 0xff;
    }
    if family >= 6 {
        model += ((sig >> 16) & 0xf) << 4;
    }
    let khz = crate::boot_info().tsc_khz;
    let n = crate::sched::ncpus() as u64;
    let clflush = ((cpu.leaf1_ebx >> 8) & 0xff) * 8;
    let mut t = Text::new();
    for i in 0..n {
        t.s(b"processor\t: ").u(i).nl();
        t.s(b"vendor_id\t: ").s(&cpu.vendor).nl();
        t.s(b"cpu family\t: ").u(family as u64).nl();
        t.s(b"model\t\t: ").u(model as u64).nl();
        t.s(b"model name\t: ").s(&cpu.brand).nl();
        t.s(b"stepping\t: ").u((sig & 0xf) as u64).nl();
        t.s(b"cpu MHz\t\t: ").u(khz / 1000).c(b'.');
        let frac = khz % 1000;
        t.s(&b"00"[..(frac < 100) as usize + (frac < 10) as usize]).u(frac).nl();
        if cpu.cache_kb != 0 {
            t.s(b"cache size\t: ").u(cpu.cache_kb as u64).s(b" KB\n");
        }
        t.s(b"physical id\t: 0\nsiblings\t: ").u(n).nl();
        t.s(b"core id\t\t: ").u(i).nl();
        t.s(b"cpu cores\t: ").u(n).nl();
        t.s(b"apicid\t\t: ").u(i).nl();
        t.s(b"initial apicid\t: ").u(i).nl();
        t.s(b"fpu\t\t: yes\nfpu_exception\t: yes\n");
        t.s(b"cpuid level\t: ").u(cpu.max_leaf as u64).nl();
        t.s(b"wp\t\t: yes\n");
        t.s(b"flags\t\t: ").s(&cpu.flags).nl();
        t.s(b"bugs\t\t:\n");
        t.s(b"bogomips\t: ").hundredths(khz / 5).nl();
        t.s(b"clflush size\t: ").u(clflush as u64).nl();
        t.s(b"cache_alignment\t: ").u(clflush.max(64) as u64).nl();
        if cpu.max_ext >= 0x8000_0008 {
            let (phys, virt) = cpu.address_bits;
            t.s(b"address sizes\t: ").u(phys as u64).s(b" bits physical, ").u(virt as u64).s(b" bits virtual\n");
        }
        t.s(b"power management:\n\n");
    }
    t.into_bytes()
}
