//! Memory policies on a machine with one memory node (node 0), as Linux
//! answers them there: `set_mempolicy`/`get_mempolicy` (a thread's policy,
//! inherited by the threads it makes), `mbind` (a range's policy, kept
//! until the range is unmapped), `set_mempolicy_home_node`, and
//! `migrate_pages`/`move_pages`, which find every page on node 0 already.
//! A policy changes nothing about placement (there is one node): what the
//! calls keep is what `get_mempolicy` reports and the next call checks.
use super::Args;
use crate::errno::{Errno, SysResult, EFAULT, EINVAL, EOPNOTSUPP, EPERM, ESRCH};
use crate::{mm, sched};
use alloc::collections::BTreeMap;
use hx_abi::uapi;
use spin::Mutex;

/// Nodes a mask may name (Linux's `MAX_NUMNODES` with `NODES_SHIFT` 10).
const MAX_NUMNODES: u64 = 1024;
const MASK_WORDS: usize = (MAX_NUMNODES / 64) as usize;
const PAGE: u64 = hx_abi::layout::PAGE_SIZE;

const MPOL_DEFAULT: u32 = uapi::MPOL_DEFAULT;
const MPOL_PREFERRED: u32 = uapi::MPOL_PREFERRED;
const MPOL_BIND: u32 = uapi::MPOL_BIND;
const MPOL_INTERLEAVE: u32 = uapi::MPOL_INTERLEAVE;
const MPOL_LOCAL: u32 = uapi::MPOL_LOCAL;
const MPOL_PREFERRED_MANY: u32 = uapi::MPOL_PREFERRED_MANY;
const MPOL_F_STATIC_NODES: u32 = uapi::MPOL_F_STATIC_NODES;
const MPOL_F_RELATIVE_NODES: u32 = uapi::MPOL_F_RELATIVE_NODES;
const MPOL_F_NUMA_BALANCING: u32 = uapi::MPOL_F_NUMA_BALANCING;
const MODE_FLAGS: u32 = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;
const MPOL_MF_STRICT: u64 = uapi::MPOL_MF_STRICT as u64;
const MPOL_MF_MOVE: u64 = uapi::MPOL_MF_MOVE as u64;
const MPOL_MF_MOVE_ALL: u64 = uapi::MPOL_MF_MOVE_ALL as u64;
const CAP_SYS_NICE: u32 = 23;

type NodeMask = [u64; MASK_WORDS];

/// A policy other than the default one.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Policy {
    mode: u32,
    /// `MPOL_F_STATIC_NODES`, `MPOL_F_RELATIVE_NODES`, `MPOL_F_NUMA_BALANCING`.
    flags: u32,
    /// The nodes as the caller gave them (reported back with the first two flags).
    user: NodeMask,
}

impl Policy {
    /// The nodes `get_mempolicy` reports.
    fn nodes(&self) -> NodeMask {
        let mut m = [0; MASK_WORDS];
        if self.flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0 {
            m = self.user;
        } else if self.mode != MPOL_LOCAL {
            m[0] = 1;
        }
        m
    }
}

/// Threads' policies (by tid); absent: the default.
static THREADS: Mutex<BTreeMap<u32, Policy>> = Mutex::new(BTreeMap::new());
/// Ranges' policies from `mbind`: start → (end, policy).
static RANGES: Mutex<BTreeMap<u64, (u64, Policy)>> = Mutex::new(BTreeMap::new());

/// A new thread starts with its creator's policy.
pub fn inherit(parent: u32, child: u32) {
    let mut t = THREADS.lock();
    if let Some(p) = t.get(&parent).copied() {
        t.insert(child, p);
    }
}

/// `[start, end)` was unmapped: its policies go with it.
pub fn forget(start: u64, end: u64) {
    set_range(start, end, None);
}

fn set_range(start: u64, end: u64, policy: Option<Policy>) {
    let mut r = RANGES.lock();
    // Every munmap comes here: most programs never set a range's policy.
    if r.is_empty() && policy.is_none() {
        return;
    }
    let overlapping: alloc::vec::Vec<(u64, (u64, Policy))> =
        r.range(..end).filter(|(_, (e, _))| *e > start).map(|(s, v)| (*s, *v)).collect();
    for (s, (e, p)) in overlapping {
        r.remove(&s);
        if s < start {
            r.insert(s, (start, p));
        }
        if e > end {
            r.insert(end, (e, p));
        }
    }
    if let Some(p) = policy {
        r.insert(start, (end, p));
    }
}

fn policy_at(addr: u64) -> Option<Policy> {
    RANGES.lock().range(..=addr).next_back().filter(|(_, (e, _))| *e > addr).map(|(_, (_, p))| *p)
}

/// Splits a mode into its mode and flags, refusing what Linux refuses.
fn sanitize(mode: u64) -> Result<(u32, u32), Errno> {
    let mode = mode as u32;
    let flags = mode & MODE_FLAGS;
    let mode = mode & !MODE_FLAGS;
    if mode >= uapi::MPOL_MAX
        || flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0
        || flags & MPOL_F_NUMA_BALANCING != 0 && mode != MPOL_BIND && mode != MPOL_PREFERRED_MANY
    {
        return Err(EINVAL);
    }
    Ok((mode, flags))
}

/// A node mask of `maxnode - 1` bits from the program, as Linux's `get_nodes`.
fn get_nodes(nmask: u64, maxnode: u64) -> Result<NodeMask, Errno> {
    let mut nodes = [0; MASK_WORDS];
    let bits = maxnode.wrapping_sub(1);
    if bits == 0 || nmask == 0 {
        return Ok(nodes);
    }
    if bits > PAGE * 8 {
        return Err(EINVAL);
    }
    // Bits past the nodes a mask may name must be clear.
    let words = bits.div_ceil(64);
    for w in MASK_WORDS as u64..words {
        let mut v: u64 = mm::read_user(nmask + 8 * w).map_err(|_| EFAULT)?;
        let used = bits - 64 * w;
        if used < 64 {
            v &= (1 << used) - 1;
        }
        if v != 0 {
            return Err(EINVAL);
        }
    }
    for (w, slot) in nodes.iter_mut().enumerate().take(words.min(MASK_WORDS as u64) as usize) {
        let mut v: u64 = mm::read_user(nmask + 8 * w as u64).map_err(|_| EFAULT)?;
        let used = bits - 64 * w as u64;
        if used < 64 {
            v &= (1 << used) - 1;
        }
        *slot = v;
    }
    Ok(nodes)
}

/// Linux's `PAGE_ALIGN`, which wraps to 0 past the top.
fn page_align(len: u64) -> u64 {
    len.wrapping_add(PAGE - 1) & !(PAGE - 1)
}

fn empty(m: &NodeMask) -> bool {
    m.iter().all(|&w| w == 0)
}

/// The policy a mode and nodes make (`None`: the default), as Linux's
/// `mpol_new` and `mpol_set_nodemask` on a machine whose only node is 0.
fn new_policy(mode: u32, flags: u32, nodes: &NodeMask) -> Result<Option<Policy>, Errno> {
    let fixed = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES;
    let mode = match mode {
        MPOL_DEFAULT if empty(nodes) => return Ok(None),
        MPOL_DEFAULT => return Err(EINVAL),
        MPOL_PREFERRED if empty(nodes) && flags & fixed != 0 => return Err(EINVAL),
        MPOL_PREFERRED if empty(nodes) => MPOL_LOCAL,
        MPOL_LOCAL if !empty(nodes) || flags & fixed != 0 => return Err(EINVAL),
        MPOL_LOCAL => MPOL_LOCAL,
        _ if empty(nodes) => return Err(EINVAL),
        m => m,
    };
    // The nodes that exist among those named: node 0 (any node, relatively).
    let usable = if flags & MPOL_F_RELATIVE_NODES != 0 { !empty(nodes) } else { nodes[0] & 1 != 0 };
    if mode != MPOL_LOCAL && !usable {
        return Err(EINVAL);
    }
    Ok(Some(Policy { mode, flags, user: *nodes }))
}

/// Writes `nodes` as a mask of `maxnode - 1` bits (Linux's `copy_nodes_to_user`).
fn put_nodes(nmask: u64, maxnode: u64, nodes: &NodeMask) -> Result<(), Errno> {
    let bytes = (maxnode.wrapping_sub(1).div_ceil(64) * 8).min(u64::MAX / 2);
    // One node: Linux copies one word and clears the rest.
    let kept = bytes.min(8);
    if bytes > PAGE {
        return Err(EINVAL);
    }
    let mut i = 0;
    while i < bytes {
        let word = if i < kept { nodes[0] } else { 0 };
        mm::write_user(nmask + i, &word).map_err(|_| EFAULT)?;
        i += 8;
    }
    Ok(())
}

pub fn get_mempolicy([mode, nodemask, maxnode, addr, flags, _]: Args) -> SysResult {
    const MPOL_F_NODE: u64 = uapi::MPOL_F_NODE as u64;
    const MPOL_F_ADDR: u64 = uapi::MPOL_F_ADDR as u64;
    const MPOL_F_MEMS_ALLOWED: u64 = uapi::MPOL_F_MEMS_ALLOWED as u64;
    // One node: `nr_node_ids` is 1.
    if nodemask != 0 && maxnode < 1 {
        return Err(EINVAL);
    }
    if flags & !(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) != 0 {
        return Err(EINVAL);
    }
    let mut allowed = [0; MASK_WORDS];
    allowed[0] = 1;
    let (policy, nodes) = if flags & MPOL_F_MEMS_ALLOWED != 0 {
        if flags & (MPOL_F_NODE | MPOL_F_ADDR) != 0 {
            return Err(EINVAL);
        }
        (0, allowed)
    } else {
        let pol = if flags & MPOL_F_ADDR != 0 {
            if !mm::with_space(|s| s.is_mapped(addr)) {
                return Err(EFAULT);
            }
            policy_at(addr)
        } else if addr != 0 {
            return Err(EINVAL);
        } else {
            THREADS.lock().get(&sched::current().tid).copied()
        };
        let value = if flags & MPOL_F_NODE != 0 {
            if flags & MPOL_F_ADDR != 0 {
                // The node of the page there (touched now, as Linux does): 0.
                let mut b = [0u8; 1];
                mm::copy_from_user(addr, &mut b)?;
                0
            } else if pol.is_some_and(|p| p.mode == MPOL_INTERLEAVE) && flags & MPOL_F_ADDR == 0 {
                0
            } else {
                return Err(EINVAL);
            }
        } else {
            pol.map_or(MPOL_DEFAULT, |p| p.mode | p.flags & MODE_FLAGS) as i32
        };
        (value, pol.map_or([0; MASK_WORDS], |p| p.nodes()))
    };
    if mode != 0 {
        mm::write_user(mode, &policy)?;
    }
    if nodemask != 0 {
        put_nodes(nodemask, maxnode, &nodes)?;
    }
    Ok(0)
}

pub fn set_mempolicy([mode, nodemask, maxnode, ..]: Args) -> SysResult {
    let (mode, flags) = sanitize(mode)?;
    let nodes = get_nodes(nodemask, maxnode)?;
    let policy = new_policy(mode, flags, &nodes)?;
    let tid = sched::current().tid;
    let mut t = THREADS.lock();
    match policy {
        Some(p) => t.insert(tid, p),
        None => t.remove(&tid),
    };
    Ok(0)
}

pub fn mbind([start, len, mode, nmask, maxnode, flags]: Args) -> SysResult {
    let (mode, mode_flags) = sanitize(mode)?;
    let nodes = get_nodes(nmask, maxnode)?;
    let flags = flags as u32 as u64;
    if flags & !(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && !super::cred::capable(CAP_SYS_NICE) {
        return Err(EPERM);
    }
    if start % PAGE != 0 {
        return Err(EINVAL);
    }
    let end = start.wrapping_add(page_align(len));
    if end < start {
        return Err(EINVAL);
    }
    if end == start {
        return Ok(0);
    }
    let policy = new_policy(mode, mode_flags, &nodes)?;
    // A hole in the range: EFAULT, and nothing changes.
    if !mm::with_space(|s| s.covered(start, end)) {
        return Err(EFAULT);
    }
    set_range(start, end, policy);
    Ok(0)
}

pub fn set_mempolicy_home_node([start, len, home_node, flags, ..]: Args) -> SysResult {
    if start % PAGE != 0 || flags != 0 || home_node != 0 {
        return Err(EINVAL);
    }
    let end = start.wrapping_add(page_align(len));
    if end < start {
        return Err(EINVAL);
    }
    // Only ranges with a policy to bind to a home node: MPOL_BIND or
    // MPOL_PREFERRED_MANY (the home node is 0, where every page is).
    let r = RANGES.lock();
    let bad = r
        .range(..end)
        .filter(|(_, (e, _))| *e > start)
        .any(|(_, (_, p))| p.mode != MPOL_BIND && p.mode != MPOL_PREFERRED_MANY);
    if bad {
        return Err(EOPNOTSUPP);
    }
    Ok(0)
}

/// Whether the calling process may move `pid`'s memory (0: itself): as
/// for sending it a signal.
fn target(pid: u64) -> Result<bool, Errno> {
    let pid = pid as i32;
    if pid < 0 {
        return Err(ESRCH);
    }
    if pid == 0 || pid as u64 == super::process::pid() {
        return Ok(true);
    }
    super::signal::kill([pid as u64, 0, 0, 0, 0, 0])?;
    Ok(false)
}

pub fn migrate_pages([pid, maxnode, old_nodes, new_nodes, ..]: Args) -> SysResult {
    let _old = get_nodes(old_nodes, maxnode)?;
    let new = get_nodes(new_nodes, maxnode)?;
    target(pid)?;
    let mut others = new;
    others[0] &= !1;
    if !empty(&others) && !super::cred::capable(CAP_SYS_NICE) {
        return Err(EPERM);
    }
    if new[0] & 1 == 0 {
        return Err(EINVAL);
    }
    // Every page is on node 0 already: none is left unmoved.
    Ok(0)
}

pub fn move_pages([pid, count, pages, nodes, status, flags]: Args) -> SysResult {
    const ENOENT: i32 = 2;
    const EFAULT_I: i32 = 14;
    if flags & !(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && !super::cred::capable(CAP_SYS_NICE) {
        return Err(EPERM);
    }
    // Another process's pages are in its own VM, out of this kernel's sight.
    if !target(pid)? {
        return Err(EPERM);
    }
    for i in 0..count {
        let addr: u64 = mm::read_user(pages + 8 * i)?;
        if nodes != 0 {
            let node: i32 = mm::read_user(nodes + 4 * i)?;
            if node < 0 || node as u64 >= MAX_NUMNODES || node != 0 {
                return Err(crate::errno::ENODEV);
            }
        }
        let page = addr & !(PAGE - 1);
        // Linux: the node of a page in memory, "not present" for a page
        // not used yet, EFAULT outside any mapping.
        let state = mm::with_space(|s| match s.vma_at(page) {
            None => -EFAULT_I,
            Some(_) if s.touched(page) => 0,
            Some(_) => -ENOENT,
        });
        mm::write_user(status + 4 * i, &state)?;
    }
    Ok(0)
}
