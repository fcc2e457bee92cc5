//! Running things natively and inside hx, repeatedly, and summarising.
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Median and spread of repeated measurements.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn stat(mut v: Vec<f64>) -> Stat {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stat { median: v[v.len() / 2], min: v[0], max: v[v.len() - 1] }
}

fn num(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

impl Stat {
    /// `median unit (min–max)`, values divided by `scale`.
    pub fn show(&self, unit: &str, scale: f64) -> String {
        let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
        format!("{}{unit} ({}–{})", num(self.median / scale), num(self.min / scale), num(self.max / scale))
    }
}

/// `b / a` as a ratio; tiny ones as a fraction.
pub fn ratio(a: &Stat, b: &Stat) -> String {
    let r = b.median / a.median;
    if r < 0.01 {
        format!("1/{:.0}", 1.0 / r)
    } else {
        format!("{r:.3}×")
    }
}

pub struct Bench {
    pub hx_run: PathBuf,
    pub dir: tempfile::TempDir,
    pub reps: usize,
}

/// The "ns N" line a workload prints.
fn parse_ns(s: &str) -> Result<f64> {
    s.lines()
        .find_map(|l| l.strip_prefix("ns "))
        .context("the workload printed no timing")?
        .trim()
        .parse()
        .context("timing")
}

pub fn now_ns() -> f64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime fills one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
}

impl Bench {
    pub fn compile(&self, cc: &str, flags: &[&str], src: &Path, name: &str) -> Result<PathBuf> {
        let out = self.dir.path().join(name);
        let status = Command::new(cc)
            .args(flags)
            .args(["-O2", "-o"])
            .arg(&out)
            .arg(src)
            .status()
            .with_context(|| format!("running {cc}"))?;
        anyhow::ensure!(status.success(), "{cc} failed on {}", src.display());
        Ok(out)
    }

    /// stdout of a command run in the scratch directory; fails on a non-zero exit.
    pub fn output(&self, cmd: &mut Command) -> Result<String> {
        let out = cmd.current_dir(self.dir.path()).output().with_context(|| format!("running {cmd:?}"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub fn hx(&self, hx_flags: &[&str], argv: &[&str]) -> Command {
        let mut c = Command::new(&self.hx_run);
        c.args(hx_flags).args(argv);
        c
    }

    pub fn native(&self, argv: &[&str]) -> Command {
        let mut c = Command::new(argv[0]);
        c.args(&argv[1..]);
        c
    }

    /// A workload's own timing ("ns N"), natively when `hx_flags` is None.
    pub fn timed(&self, hx_flags: Option<&[&str]>, argv: &[&str]) -> Result<Stat> {
        let mut v = Vec::new();
        for _ in 0..self.reps {
            let mut cmd = match hx_flags {
                None => self.native(argv),
                Some(f) => self.hx(f, argv),
            };
            v.push(parse_ns(&self.output(&mut cmd)?)?);
        }
        Ok(stat(v))
    }

    /// Wall time (ns) and peak RSS (KiB) of whole runs.
    pub fn process(&self, hx_flags: Option<&[&str]>, argv: &[&str]) -> Result<(Stat, Stat)> {
        let (mut wall, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..self.reps.max(5) {
            let mut cmd = match hx_flags {
                None => self.native(argv),
                Some(f) => self.hx(f, argv),
            };
            let start = Instant::now();
            let child = cmd
                .current_dir(self.dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("spawning")?;
            let mut status = 0;
            // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
            anyhow::ensure!(r > 0, "wait4 failed");
            wall.push(start.elapsed().as_nanos() as f64);
            rss.push(usage.ru_maxrss as f64);
        }
        Ok((stat(wall), stat(rss)))
    }

    /// Host CPU time (user + system, ns) of whole runs: all the monitor's
    /// threads and, for a guest that forks, its child monitors.
    pub fn cpu_time(&self, hx_flags: Option<&[&str]>, argv: &[&str], runs: usize) -> Result<Stat> {
        let mut v = Vec::new();
        for _ in 0..runs {
            let mut cmd = match hx_flags {
                None => self.native(argv),
                Some(f) => self.hx(f, argv),
            };
            let child = cmd.current_dir(self.dir.path()).stdout(Stdio::null()).spawn().context("spawning")?;
            let mut status = 0;
            // SAFETY: an all-zero rusage is valid; wait4 fills it for our own child.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
            anyhow::ensure!(r > 0 && status == 0, "{argv:?} failed");
            let ns = |t: libc::timeval| t.tv_sec as f64 * 1e9 + t.tv_usec as f64 * 1e3;
            v.push(ns(usage.ru_utime) + ns(usage.ru_stime));
        }
        Ok(stat(v))
    }

    /// Time from spawn to the program's first line of main (the boot program
    /// prints CLOCK_MONOTONIC there; hx's guest clock follows the host's).
    pub fn time_to_main(&self, hx_flags: Option<&[&str]>, prog: &Path) -> Result<Stat> {
        let mut v = Vec::new();
        for _ in 0..self.reps.max(5) {
            let p = prog.to_str().unwrap();
            let mut cmd = match hx_flags {
                None => self.native(&[p]),
                Some(f) => self.hx(f, &[p]),
            };
            let t0 = now_ns();
            let out = self.output(&mut cmd)?;
            let t: f64 =
                out.lines().find_map(|l| l.strip_prefix("t ")).context("boot printed no time")?.trim().parse()?;
            v.push(t - t0);
        }
        Ok(stat(v))
    }

    /// The `--stats` report of one hx run: (exits to the host, CPL0 entries, guest KiB touched, platform).
    pub fn stats(&self, hx_flags: &[&str], argv: &[&str]) -> Result<(u64, u64, u64, String)> {
        let out = self.hx(&[hx_flags, &["--stats"]].concat(), argv).current_dir(self.dir.path()).output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        let find = |key: &str| err.lines().find_map(|l| l.split_once(key).map(|(_, v)| v.trim().to_string()));
        let first_num =
            |v: Option<String>| -> u64 { v.and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0) };
        Ok((
            first_num(find("exits to the host:")),
            first_num(find("CPL0 stub entries:")),
            first_num(find("guest RAM touched:")),
            find("platform:").unwrap_or_else(|| "unknown".into()),
        ))
    }
}
