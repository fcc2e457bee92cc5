//! Building the text of a generated file without `format!` (which would pull
//! the formatting and unwinding machinery into the kernel): bytes, decimal
//! and hexadecimal numbers, and padding to Linux's column widths.
use alloc::vec::Vec;

#[derive(Default)]
pub struct Text(pub Vec<u8>);

/// The decimal digits of `v`.
pub fn decimal(mut v: u64) -> ([u8; 20], usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    (buf, i)
}

impl Text {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn s(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }

    pub fn c(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }

    /// `v` in decimal.
    pub fn u(&mut self, v: u64) -> &mut Self {
        let (buf, i) = decimal(v);
        self.s(&buf[i..])
    }

    /// `v` in decimal, signed.
    pub fn i(&mut self, v: i64) -> &mut Self {
        if v < 0 {
            self.c(b'-');
        }
        self.u(v.unsigned_abs())
    }

    /// `v` in decimal, right-aligned in `width` columns (`%*lu`).
    pub fn u_width(&mut self, v: u64, width: usize) -> &mut Self {
        let (buf, i) = decimal(v);
        for _ in (buf.len() - i)..width {
            self.c(b' ');
        }
        self.s(&buf[i..])
    }

    /// `v` in decimal, signed, right-aligned in `width` columns (`%*d`).
    pub fn i_width(&mut self, v: i64, width: usize) -> &mut Self {
        let (buf, i) = decimal(v.unsigned_abs());
        let len = buf.len() - i + usize::from(v < 0);
        for _ in len..width {
            self.c(b' ');
        }
        self.i(v)
    }

    /// `v` in octal, right-aligned in `width` columns (`%*o`).
    pub fn octal_width(&mut self, v: u64, width: usize) -> &mut Self {
        let digits = ((64 - v.leading_zeros() as usize).div_ceil(3)).max(1);
        for _ in digits..width {
            self.c(b' ');
        }
        for k in (0..digits).rev() {
            self.c(b'0' + ((v >> (3 * k)) & 7) as u8);
        }
        self
    }

    /// `v` in lower-case hexadecimal, right-aligned in `width` columns (`%*lx`).
    pub fn hex_width(&mut self, v: u64, width: usize) -> &mut Self {
        let digits = ((64 - v.leading_zeros() as usize).div_ceil(4)).max(1);
        for _ in digits..width {
            self.c(b' ');
        }
        self.hex(v, 1)
    }

    /// `v` in lower-case hexadecimal, zero-padded to at least `width` digits (`%0*lx`).
    pub fn hex(&mut self, v: u64, width: usize) -> &mut Self {
        let digits = ((64 - v.leading_zeros() as usize).div_ceil(4)).max(1);
        for _ in digits..width {
            self.c(b'0');
        }
        for k in (0..digits).rev() {
            self.c(b"0123456789abcdef"[((v >> (4 * k)) & 0xf) as usize]);
        }
        self
    }

    /// `v / 100` with two decimals (`%lu.%02lu`).
    pub fn hundredths(&mut self, v: u64) -> &mut Self {
        self.u(v / 100).c(b'.');
        if v % 100 < 10 {
            self.c(b'0');
        }
        self.u(v % 100)
    }

    /// Spaces up to column `col` of the current line (at least `min` of them).
    pub fn pad_to(&mut self, col: usize, min: usize) -> &mut Self {
        let line_start = self.0.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let used = self.0.len() - line_start;
        for _ in 0..col.saturating_sub(used).max(min) {
            self.c(b' ');
        }
        self
    }

    /// A `Name:\tvalue` line of `/proc/<pid>/status`.
    pub fn field(&mut self, name: &[u8]) -> &mut Self {
        self.s(name).s(b":\t")
    }

    /// A `Name:   <kB> kB` line, as `/proc/meminfo` and `status` print sizes.
    pub fn kb(&mut self, name: &[u8], prefix_width: usize, bytes: u64) -> &mut Self {
        self.s(name).c(b':').pad_to(prefix_width, 0).u_width(bytes / 1024, 8).s(b" kB\n")
    }

    pub fn nl(&mut self) -> &mut Self {
        self.c(b'\n')
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}
