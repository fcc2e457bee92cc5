//! Serving the kernel's host requests. One file per request family; this file
//! reads the request, checks it, and routes it.
mod clock;
pub mod files;

use crate::memory::GuestRam;
use crate::report::Report;
use anyhow::{bail, Result};
use hx_abi::hypercall::{op, Request, MAX_SEGMENTS};

pub enum Outcome {
    Resume,
    Exit(i32),
}

pub struct Host<'a> {
    pub mem: &'a GuestRam,
    pub report: &'a mut Report,
    pub files: &'a mut files::Files,
}

impl Host<'_> {
    /// Serves the request at guest-physical `addr`.
    pub fn serve(&mut self, addr: u64) -> Result<Outcome> {
        let mut req: Request = self.mem.read_obj(addr)?;
        if req.nsegs as usize > MAX_SEGMENTS {
            bail!("request with {} segments (at most {MAX_SEGMENTS})", req.nsegs);
        }
        self.report.count_request(req.op);
        let segs = &req.segs[..req.nsegs as usize];
        req.ret = match req.op {
            op::WRITE | op::READ | op::FSTAT | op::TTY_IOCTL | op::OPEN..=op::POLL if req.op != op::SLEEP => {
                self.files.serve(self.mem, &mut req)?
            }
            op::SLEEP => clock::sleep(req.args[0]),
            op::CLOCK => {
                let (real, mono) = clock::now();
                req.args[0] = real;
                req.args[1] = mono;
                0
            }
            op::RANDOM => clock::random(self.mem, segs)?,
            op::UNSUPPORTED => {
                self.report.unsupported(req.args[0]);
                0
            }
            op::STRACE => {
                let strings = segs
                    .iter()
                    .map(|s| {
                        let mut b = vec![0u8; s.len as usize];
                        self.mem.read(s.phys, &mut b).map(|_| b)
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.report.strace(&req, &strings);
                0
            }
            op::LOG => {
                let mut b = vec![0u8; segs.first().map_or(0, |s| s.len as usize).min(4096)];
                if let Some(s) = segs.first() {
                    self.mem.read(s.phys, &mut b)?;
                }
                eprintln!("hx-run: guest kernel: {}", String::from_utf8_lossy(&b));
                0
            }
            op::EXIT => {
                self.report.exit_stats(self.mem, req.args[1]);
                if req.args[2] != 0 {
                    bail!("the guest kernel panicked (message above)");
                }
                return Ok(Outcome::Exit(req.args[0] as i32 & 0xff));
            }
            other => bail!("unknown host request {other}"),
        };
        self.mem.write_obj(addr, req)?;
        Ok(Outcome::Resume)
    }
}
