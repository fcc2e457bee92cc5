#![allow(dead_code)]
//! A small deterministic random generator for the fuzz harnesses (xorshift64*):
//! a seed reproduces a run exactly.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// How long or how many: `HX_FUZZ_SECS` (a time budget, for long runs) or
/// `iterations` (CI's fixed count).
pub fn budget(iterations: u64) -> (u64, Option<std::time::Instant>) {
    match std::env::var("HX_FUZZ_SECS").ok().and_then(|s| s.parse::<u64>().ok()) {
        Some(secs) => (u64::MAX, Some(std::time::Instant::now() + std::time::Duration::from_secs(secs))),
        None => (iterations, None),
    }
}

pub fn seed() -> u64 {
    std::env::var("HX_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x6878_2026)
}
