//! The paths of mapped files, each kept once: a mapping (`space::Backing`)
//! holds a number. With the device and inode, asked of the monitor the
//! first time `/proc/self/maps` shows the file.
use alloc::vec::Vec;
use spin::Mutex;

struct Name {
    path: Vec<u8>,
    ids: Option<(u64, u64)>,
}

static NAMES: Mutex<Vec<Name>> = Mutex::new(Vec::new());

/// The number of `path` (a guest path).
pub fn intern(path: &[u8]) -> u32 {
    let mut names = NAMES.lock();
    if let Some(i) = names.iter().position(|n| n.path == path) {
        return i as u32;
    }
    names.push(Name { path: path.to_vec(), ids: None });
    (names.len() - 1) as u32
}

pub fn path(name: u32) -> Vec<u8> {
    NAMES.lock().get(name as usize).map(|n| n.path.clone()).unwrap_or_default()
}

/// The file's device and inode, from `ask` the first time.
pub fn ids(name: u32, ask: impl FnOnce(&[u8]) -> (u64, u64)) -> (u64, u64) {
    let path = match NAMES.lock().get(name as usize) {
        Some(Name { ids: Some(ids), .. }) => return *ids,
        Some(n) => n.path.clone(),
        None => return (0, 0),
    };
    let ids = ask(&path);
    if let Some(n) = NAMES.lock().get_mut(name as usize) {
        n.ids = Some(ids);
    }
    ids
}
