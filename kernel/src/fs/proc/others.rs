//! `/proc/<pid>` of the tree's other processes: each is its own VM, so what
//! this kernel shows of them comes from the monitors' process table
//! (`PGRP_LIST`, `PGRP_INFO`): ids, name, command line and effective ids,
//! which their monitors publish when an image boots. Their memory, open
//! files and threads are not here.
use super::text::Text;
use super::TaskFile;
use crate::host;
use alloc::vec::Vec;
use hx_abi::hypercall::{
    op, ProcInfo, Request, Segment, PGRP_INFO, PGRP_LIST, PROC_SLEEPING, PROC_STOPPED, PROC_ZOMBIE,
};

/// The guest pids of the tree's processes (this one included).
pub fn list() -> Vec<u32> {
    let mut pids = alloc::vec![0u32; 512];
    let mut req = Request::new(op::PGRP);
    req.args[0] = PGRP_LIST;
    req.segs[0] = Segment { phys: host::phys_of(pids.as_mut_ptr() as u64), len: (pids.len() * 4) as u64 };
    req.nsegs = 1;
    let n = host::call(&mut req);
    // SAFETY: the monitor wrote the pids (another thread, as far as the compiler knows).
    let pids: Vec<u32> = pids.iter().map(|p| unsafe { core::ptr::read_volatile(p) }).collect();
    match usize::try_from(n) {
        Ok(n) => pids.into_iter().take(n).collect(),
        Err(_) => Vec::new(),
    }
}

/// Process `pid` of the tree, if it exists.
pub fn info(pid: u32) -> Option<ProcInfo> {
    let mut info = ProcInfo::default();
    let mut req = Request::new(op::PGRP);
    req.args[0] = PGRP_INFO;
    req.args[1] = pid as u64;
    req.segs[0] = Segment {
        phys: host::phys_of(&mut info as *mut ProcInfo as u64),
        len: core::mem::size_of::<ProcInfo>() as u64,
    };
    req.nsegs = 1;
    if host::call(&mut req) < 0 {
        return None;
    }
    // SAFETY: the monitor filled `info` (read back as memory).
    Some(unsafe { core::ptr::read_volatile(&info) })
}

fn comm(info: &ProcInfo) -> &[u8] {
    let c = &info.identity.comm;
    &c[..c.iter().position(|&b| b == 0).unwrap_or(c.len())]
}

/// The text of `/proc/<pid>/<f>` for another process (`stat`, `status`,
/// `cmdline`, `comm`).
pub fn text(pid: u32, f: TaskFile) -> Vec<u8> {
    let Some(info) = info(pid) else { return Vec::new() };
    let mut t = Text::new();
    match f {
        TaskFile::Cmdline => {
            let n = (info.identity.cmdline_len as usize).min(info.identity.cmdline.len());
            t.s(&info.identity.cmdline[..n]);
        }
        TaskFile::Comm => {
            t.s(comm(&info)).nl();
        }
        TaskFile::Stat => {
            // The fields this kernel knows of another process; the rest 0, as
            // Linux shows a process's it may not read.
            t.u(pid as u64).s(b" (").s(comm(&info)).s(b") ").c(state(&info).0).c(b' ');
            t.i(info.ppid as i64).c(b' ').i(info.pgid as i64).c(b' ').i(info.sid as i64);
            t.s(b" 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0")
                .nl();
        }
        TaskFile::Status => {
            let id = &info.identity;
            t.field(b"Name").s(comm(&info)).nl();
            t.field(b"State").s(state(&info).1).nl();
            t.field(b"Tgid").u(pid as u64).nl();
            t.field(b"Pid").u(pid as u64).nl();
            t.field(b"PPid").i(info.ppid as i64).nl();
            t.field(b"Uid").u(id.uid as u64).c(b'\t').u(id.uid as u64).c(b'\t').u(id.uid as u64).c(b'\t');
            t.u(id.uid as u64).nl();
            t.field(b"Gid").u(id.gid as u64).c(b'\t').u(id.gid as u64).c(b'\t').u(id.gid as u64).c(b'\t');
            t.u(id.gid as u64).nl();
            t.field(b"Threads").u(1).nl();
        }
        _ => {}
    }
    t.into_bytes()
}

/// Its state letter and `status` text: sleeping when every thread of it
/// waits (its monitor's vCPUs all idle), stopped (job control), a zombie
/// once ended, else running.
fn state(info: &ProcInfo) -> (u8, &'static [u8]) {
    match info.state {
        PROC_SLEEPING => (b'S', b"S (sleeping)"),
        PROC_STOPPED => (b'T', b"T (stopped)"),
        PROC_ZOMBIE => (b'Z', b"Z (zombie)"),
        _ => (b'R', b"R (running)"),
    }
}

/// The files another process's directory holds here.
pub const FILES: [(&[u8], TaskFile); 4] = [
    (b"cmdline", TaskFile::Cmdline),
    (b"comm", TaskFile::Comm),
    (b"stat", TaskFile::Stat),
    (b"status", TaskFile::Status),
];
