//! `/proc/sysvipc/{shm,sem,msg}`: the System V objects of the tree's IPC
//! namespace (they are the host's, `syscall::sysv`), one line each in
//! Linux's format; the kernel asks the monitor for each with `*_STAT_ANY`.
use super::text::Text;
use crate::syscall::sysv::all_objects;
use alloc::vec::Vec;
use hx_abi::hypercall::{SYSV_KIND_MSG, SYSV_KIND_SEM, SYSV_KIND_SHM};

fn word(ds: &[u8], at: usize) -> u64 {
    ds.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_ne_bytes)
}

fn half(ds: &[u8], at: usize) -> u64 {
    ds.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_ne_bytes).into()
}

/// `key id  mode`, the start of every line (from the `ipc_perm`).
fn perm(t: &mut Text, ds: &[u8], id: u64) {
    t.i_width(half(ds, 0) as u32 as i32 as i64, 10).c(b' ').u_width(id, 10).s(b"  ");
    t.octal_width(half(ds, 20) & 0xffff, 4);
}

/// `uid gid cuid cgid`, each `%5u`.
fn owners(t: &mut Text, ds: &[u8]) {
    for at in [4, 8, 12, 16] {
        t.c(b' ').u_width(half(ds, at), 5);
    }
}

/// Three times (seconds), each `%10llu`.
fn times(t: &mut Text, ds: &[u8], at: [usize; 3]) {
    for a in at {
        t.c(b' ').u_width(word(ds, a), 10);
    }
}

pub fn shm() -> Vec<u8> {
    let mut t = Text::new();
    t.s(b"       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid");
    t.s(b"      atime      dtime      ctime                   rss                  swap\n");
    for (id, ds) in all_objects(SYSV_KIND_SHM) {
        perm(&mut t, &ds, id);
        t.c(b' ').u_width(word(&ds, 48), 21).c(b' ').u_width(half(&ds, 80), 5).c(b' ');
        t.u_width(half(&ds, 84), 5).s(b"  ").u_width(word(&ds, 88), 5);
        owners(&mut t, &ds);
        times(&mut t, &ds, [56, 64, 72]);
        // Resident and swapped bytes: the host's to know; none counted here.
        t.c(b' ').u_width(0, 21).c(b' ').u_width(0, 21).nl();
    }
    t.into_bytes()
}

pub fn sem() -> Vec<u8> {
    let mut t = Text::new();
    t.s(b"       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n");
    for (id, ds) in all_objects(SYSV_KIND_SEM) {
        perm(&mut t, &ds, id);
        t.c(b' ').u_width(word(&ds, 80), 10);
        owners(&mut t, &ds);
        t.c(b' ').u_width(word(&ds, 48), 10).c(b' ').u_width(word(&ds, 64), 10).nl();
    }
    t.into_bytes()
}

pub fn msg() -> Vec<u8> {
    let mut t = Text::new();
    t.s(b"       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid");
    t.s(b"      stime      rtime      ctime\n");
    for (id, ds) in all_objects(SYSV_KIND_MSG) {
        perm(&mut t, &ds, id);
        t.s(b"  ").u_width(word(&ds, 72), 10).c(b' ').u_width(word(&ds, 80), 10);
        t.c(b' ').u_width(half(&ds, 96), 5).c(b' ').u_width(half(&ds, 100), 5);
        owners(&mut t, &ds);
        times(&mut t, &ds, [48, 56, 64]);
        t.nl();
    }
    t.into_bytes()
}
