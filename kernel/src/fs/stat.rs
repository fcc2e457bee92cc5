//! `struct stat` (x86-64 Linux layout) and its conversion to `struct statx`.

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub pad0: u32,
    pub rdev: u64,
    pub size: i64,
    pub blksize: i64,
    pub blocks: i64,
    pub atime: i64,
    pub atime_nsec: i64,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    pub ctime_nsec: i64,
    pub unused: [i64; 3],
}

const _: () = assert!(core::mem::size_of::<Stat>() == 144);

impl Stat {
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: plain integers, any byte pattern is valid.
        unsafe { core::slice::from_raw_parts_mut(self as *mut Self as *mut u8, 144) }
    }
}

pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFCHR: u32 = 0o020000;

pub fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

pub fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// The 256-byte `struct statx` for `st` (basic stats; no birth time).
pub fn to_statx(st: &Stat) -> [u8; 256] {
    const STATX_BASIC_STATS: u32 = 0x7ff;
    let mut b = [0u8; 256];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(0, &STATX_BASIC_STATS.to_le_bytes());
    put(4, &(st.blksize as u32).to_le_bytes());
    put(16, &(st.nlink as u32).to_le_bytes());
    put(20, &st.uid.to_le_bytes());
    put(24, &st.gid.to_le_bytes());
    put(28, &(st.mode as u16).to_le_bytes());
    put(32, &st.ino.to_le_bytes());
    put(40, &(st.size as u64).to_le_bytes());
    put(48, &(st.blocks as u64).to_le_bytes());
    let times = [(64, st.atime, st.atime_nsec), (96, st.ctime, st.ctime_nsec), (112, st.mtime, st.mtime_nsec)];
    for (off, sec, nsec) in times {
        put(off, &sec.to_le_bytes());
        put(off + 8, &(nsec as u32).to_le_bytes());
    }
    put(128, &major(st.rdev).to_le_bytes());
    put(132, &minor(st.rdev).to_le_bytes());
    put(136, &major(st.dev).to_le_bytes());
    put(140, &minor(st.dev).to_le_bytes());
    b
}
