//! Descriptors passed over a Unix socket (`SCM_RIGHTS`): the control buffer
//! that carries them, the descriptors a received message brought, and a
//! send of bytes with descriptors. Used between monitors (a spare's
//! hand-over, the cleaner of the private /tmp) and for the guest's sockets.
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A control buffer carrying `fds` in one `SCM_RIGHTS` message (empty: none).
pub fn rights(fds: &[RawFd]) -> Vec<u64> {
    if fds.is_empty() {
        return Vec::new();
    }
    let data = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic.
    let (space, len) = unsafe { (libc::CMSG_SPACE(data) as usize, libc::CMSG_LEN(data) as usize) };
    let mut buf = vec![0u64; space.div_ceil(8)];
    // SAFETY: an all-zero msghdr is valid; it only describes `buf` for the CMSG macros.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_control = buf.as_mut_ptr().cast();
    msg.msg_controllen = space;
    // SAFETY: `buf` holds CMSG_SPACE(data) bytes, so the first header and its data fit.
    unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = len;
        let p = libc::CMSG_DATA(c).cast::<RawFd>();
        for (i, &fd) in fds.iter().enumerate() {
            p.add(i).write_unaligned(fd);
        }
    }
    buf
}

/// A control buffer with room for up to `max` received descriptors.
pub fn room(max: usize) -> Vec<u64> {
    // SAFETY: CMSG_SPACE is arithmetic.
    let space = unsafe { libc::CMSG_SPACE((max * std::mem::size_of::<RawFd>()) as u32) } as usize;
    vec![0u64; space.div_ceil(8)]
}

/// The descriptors an `SCM_RIGHTS` message brought (now ours).
pub fn received(msg: &libc::msghdr) -> Vec<OwnedFd> {
    let mut fds = Vec::new();
    // SAFETY: walks the control buffer recvmsg filled, within msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let n = ((*c).cmsg_len - libc::CMSG_LEN(0) as usize) / std::mem::size_of::<RawFd>();
                let p = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..n {
                    fds.push(OwnedFd::from_raw_fd(p.add(i).read_unaligned()));
                }
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    fds
}

/// Sends `data` and `fds` in one message on socket `sock` (`MSG_NOSIGNAL`:
/// a closed peer is EPIPE); the bytes sent.
pub fn send(sock: RawFd, data: &[u8], fds: &[RawFd]) -> std::io::Result<usize> {
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut control = rights(fds);
    // SAFETY: a zeroed msghdr is valid; the buffers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() * 8;
    }
    // SAFETY: sendmsg with the header built above, which only names our buffers.
    let n = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}
