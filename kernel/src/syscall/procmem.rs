//! Calls that name a process to look into: `process_vm_readv`,
//! `process_vm_writev` and `kcmp`. The calling process is served in full;
//! another process of the tree is another VM whose memory and tables this
//! kernel cannot reach, so it is refused as Linux refuses a process the
//! caller may not trace (`EPERM`), and a pid that is not there is `ESRCH`.
use super::Args;
use crate::errno::{Errno, SysResult, EBADF, EFAULT, EINVAL, ENOENT, EPERM, ESRCH};
use crate::fs::table;
use crate::mm;
use alloc::vec::Vec;

const IOV_MAX: u64 = 1024;

/// Whether `pid` is this process (`Ok(())`), another of the tree (`EPERM`)
/// or none (`ESRCH`).
fn own(pid: u64) -> Result<(), Errno> {
    let pid = pid as i32;
    if pid as u64 == super::process::pid() {
        return Ok(());
    }
    if pid > 0 && crate::fs::proc::others::info(pid as u32).is_some() {
        Err(EPERM)
    } else {
        Err(ESRCH)
    }
}

fn iovecs(iov: u64, count: u64) -> Result<Vec<(u64, u64)>, Errno> {
    if count > IOV_MAX {
        return Err(EINVAL);
    }
    let mut v = Vec::with_capacity(count as usize);
    for i in 0..count {
        let [base, len]: [u64; 2] = mm::read_user(iov + i * 16)?;
        if (len as i64) < 0 {
            return Err(EINVAL);
        }
        v.push((base, len));
    }
    Ok(v)
}

/// Copies between this process's `local` and `remote` buffers (`to_remote`:
/// local into remote). The remote side is taken element by element; a
/// fault there ends the copy with what was moved (nothing moved: EFAULT).
fn transfer(args: Args, to_remote: bool) -> SysResult {
    let [pid, local, local_n, remote, remote_n, flags] = args;
    if flags != 0 {
        return Err(EINVAL);
    }
    let (local, remote) = (iovecs(local, local_n)?, iovecs(remote, remote_n)?);
    own(pid)?;
    let mut chunk = alloc::vec![0u8; 64 * 1024];
    let mut done = 0u64;
    let (mut li, mut loff) = (0usize, 0u64);
    'remote: for &(rbase, rlen) in &remote {
        let mut roff = 0;
        while roff < rlen {
            // The next local piece.
            while li < local.len() && loff == local[li].1 {
                li += 1;
                loff = 0;
            }
            let Some(&(lbase, llen)) = local.get(li) else { break 'remote };
            let n = (rlen - roff).min(llen - loff).min(chunk.len() as u64) as usize;
            let (from, to) = if to_remote { (lbase + loff, rbase + roff) } else { (rbase + roff, lbase + loff) };
            let buf = &mut chunk[..n];
            let local_fault = |e| if done == 0 { Err(e) } else { Ok(done) };
            if mm::copy_from_user(from, buf).is_err() {
                if to_remote {
                    return local_fault(EFAULT);
                }
                break 'remote;
            }
            if mm::copy_to_user(to, buf).is_err() {
                if !to_remote {
                    return local_fault(EFAULT);
                }
                break 'remote;
            }
            done += n as u64;
            roff += n as u64;
            loff += n as u64;
        }
    }
    let wanted: u64 = remote.iter().map(|r| r.1).sum::<u64>().min(local.iter().map(|l| l.1).sum());
    if done == 0 && wanted > 0 {
        return Err(EFAULT);
    }
    Ok(done)
}

pub fn process_vm_readv(args: Args) -> SysResult {
    transfer(args, false)
}

pub fn process_vm_writev(args: Args) -> SysResult {
    transfer(args, true)
}

/// `kcmp(pid1, pid2, type, idx1, idx2)`: whether two processes share a
/// resource (0), or its order (1, 2). Within one process every shared
/// table is the same; two descriptors compare by their open file.
pub fn kcmp([pid1, pid2, kind, idx1, idx2, _]: Args) -> SysResult {
    const KCMP_FILE: u64 = 0;
    const KCMP_SYSVSEM: u64 = 6;
    const KCMP_EPOLL_TFD: u64 = 7;
    own(pid1)?;
    own(pid2)?;
    let order = |a: usize, b: usize| match a.cmp(&b) {
        core::cmp::Ordering::Equal => 0,
        core::cmp::Ordering::Less => 1,
        core::cmp::Ordering::Greater => 2,
    };
    let file = |fd: u64| table::get(fd).map(|f| alloc::sync::Arc::as_ptr(&f) as usize).map_err(|_| EBADF);
    match kind {
        KCMP_FILE => Ok(order(file(idx1)?, file(idx2)?)),
        KCMP_EPOLL_TFD => {
            // idx2 points at { efd, tfd, toff }: the tfd registered in efd.
            let [efd, tfd, _]: [u32; 3] = mm::read_user(idx2)?;
            let target = file(tfd as u64)?;
            let ep = table::get(efd as u64).map_err(|_| EBADF)?;
            let crate::fs::Kind::Epoll(e) = &ep.kind else { return Err(EINVAL) };
            if !super::epoll::entries_of(e).iter().any(|&(fd, _, _)| fd as u32 == tfd) {
                return Err(ENOENT);
            }
            Ok(order(file(idx1)?, target))
        }
        k if k <= KCMP_SYSVSEM => Ok(0),
        _ => Err(EINVAL),
    }
}
