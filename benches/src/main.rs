//! `hx-bench`: measures hx against native Linux in one run and prints a
//! markdown report. Every figure is a median over repetitions, with the
//! spread (min–max), and a ratio to native taken from the same run.
//!
//!     cargo build --release && target/release/hx-bench [--quick] [--output docs/benchmarks.md]
use anyhow::{bail, Context, Result};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Parser)]
#[command(about = "hx benchmarks, side by side with native Linux")]
struct Cli {
    /// Small sizes and few repetitions: a smoke test for CI (asserts no timing).
    #[arg(long)]
    quick: bool,
    /// Also write the report to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Repetitions per measurement (default 5, quick 2).
    #[arg(long)]
    reps: Option<usize>,
}

/// Median and spread of repeated measurements.
struct Stat {
    median: f64,
    min: f64,
    max: f64,
}

fn stat(mut v: Vec<f64>) -> Stat {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stat { median: v[v.len() / 2], min: v[0], max: v[v.len() - 1] }
}

impl Stat {
    fn show(&self, unit: &str, scale: f64) -> String {
        let f = |x: f64| {
            let x = x / scale;
            if x >= 100.0 {
                format!("{x:.0}")
            } else if x >= 10.0 {
                format!("{x:.1}")
            } else {
                format!("{x:.2}")
            }
        };
        format!("{} {unit} ({}–{})", f(self.median), f(self.min), f(self.max))
    }
}

struct Bench {
    hx_run: PathBuf,
    dir: tempfile::TempDir,
    reps: usize,
}

impl Bench {
    fn compile(&self, src: &Path, name: &str) -> Result<PathBuf> {
        self.compile_with("gcc", &["-static"], src, name)
    }

    fn compile_with(&self, cc: &str, flags: &[&str], src: &Path, name: &str) -> Result<PathBuf> {
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

    /// Runs a command and returns its stdout, failing on a non-zero exit.
    fn output(&self, cmd: &mut Command) -> Result<String> {
        let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The "ns N" a workload prints, natively and inside hx: (native, hx).
    fn workload(&self, work: &Path, args: &[&str], hx_flags: &[&str]) -> Result<(Stat, Stat)> {
        let ns = |s: String| -> Result<f64> {
            s.lines()
                .find_map(|l| l.strip_prefix("ns "))
                .context("workload printed no timing")?
                .trim()
                .parse::<f64>()
                .context("timing")
        };
        let (mut native, mut hx) = (Vec::new(), Vec::new());
        for _ in 0..self.reps {
            native.push(ns(self.output(Command::new(work).args(args))?)?);
            hx.push(ns(self.output(Command::new(&self.hx_run).args(hx_flags).arg(work).args(args))?)?);
        }
        Ok((stat(native), stat(hx)))
    }

    /// Wall time (ns) and peak RSS (KiB) of a whole process, for `reps` runs.
    fn process(&self, argv: &[&Path]) -> Result<(Stat, Stat)> {
        let (mut wall, mut rss) = (Vec::new(), Vec::new());
        for _ in 0..self.reps.max(5) {
            let start = Instant::now();
            let child = Command::new(argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("spawning")?;
            let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
            // SAFETY: waits for our own child and fills the status and rusage we own.
            let r = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
            anyhow::ensure!(r > 0, "wait4 failed");
            wall.push(start.elapsed().as_nanos() as f64);
            rss.push(usage.ru_maxrss as f64);
        }
        Ok((stat(wall), stat(rss)))
    }
}

fn ratio(native: &Stat, hx: &Stat) -> String {
    format!("{:.3}×", hx.median / native.median)
}

fn platform_line(hx_run: &Path, hello: &Path) -> Result<(String, u64, u64)> {
    let out = Command::new(hx_run).arg("--stats").arg(hello).output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    let find = |key: &str| -> Option<String> {
        err.lines().find_map(|l| l.split_once(key).map(|(_, v)| v.trim().to_string()))
    };
    let platform = find("platform:").unwrap_or_else(|| "unknown".into());
    let exits =
        find("exits to the host:").and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok())).unwrap_or(0);
    let cpl0 = find("CPL0 stub entries:").and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok((platform, exits, cpl0))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let exe = std::env::current_exe()?;
    let hx_run = exe.with_file_name("hx-run");
    anyhow::ensure!(hx_run.exists(), "{} not found: build it first (cargo build --release)", hx_run.display());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let bench = Bench {
        hx_run: hx_run.clone(),
        dir: tempfile::tempdir()?,
        reps: cli.reps.unwrap_or(if cli.quick { 2 } else { 5 }),
    };
    let work = bench.compile(&root.join("benches/programs/work.c"), "work")?;
    let hello = bench.compile(&root.join("tests/programs/hello.c"), "hello")?;

    let (hash_n, walk_mib, walk_reps, touch_mib, calls) =
        if cli.quick { ("10000000", "16", "2", "16", "1000") } else { ("1000000000", "256", "10", "256", "100000") };
    let big = ["--memory", "1G"];
    let (platform, exits, cpl0) = platform_line(&hx_run, &hello)?;
    let mut md = String::new();
    let mut line = |s: String| {
        println!("{s}");
        md.push_str(&s);
        md.push('\n');
    };
    line("# hx benchmarks".into());
    line(String::new());
    line(format!("- platform: **{platform}**; CPU: {}; {} repetitions, median (min–max)", cpu_model(), bench.reps));
    line(format!("- command: `target/release/hx-bench{}`", if cli.quick { " --quick" } else { "" }));
    line(String::new());

    line("## Compute overhead (time inside the program's own loop)".into());
    line(String::new());
    line("| workload | native | hx | hx / native |".into());
    line("|---|---|---|---|".into());
    let (n, h) = bench.workload(&work, &["hash", hash_n], &[])?;
    line(format!("| hash loop, {hash_n} rounds | {} | {} | {} |", n.show("ms", 1e6), h.show("ms", 1e6), ratio(&n, &h)));
    let (n, h) = bench.workload(&work, &["walk", walk_mib, walk_reps], &big)?;
    line(format!(
        "| {walk_reps} walks over {walk_mib} MiB touched once | {} | {} | {} |",
        n.show("ms", 1e6),
        h.show("ms", 1e6),
        ratio(&n, &h)
    ));
    line(String::new());

    line("## Memory and syscalls".into());
    line(String::new());
    line("| what | native | hx | hx / native |".into());
    line("|---|---|---|---|".into());
    let (n, h) = bench.workload(&work, &["touch", touch_mib], &big)?;
    line(format!(
        "| first touch of a 4 KiB page ({touch_mib} MiB mmap) | {} | {} | {} |",
        n.show("ns", 1.0),
        h.show("ns", 1.0),
        ratio(&n, &h)
    ));
    let (n, h) = bench.workload(&work, &["getppid", calls], &[])?;
    line(format!("| `getppid` (trap path) | {} | {} | {} |", n.show("ns", 1.0), h.show("ns", 1.0), ratio(&n, &h)));
    let vector = bench.compile(&root.join("tests/programs/vector.c"), "vector")?;
    let (n, h) = bench.workload(&vector, &["bench", calls], &[])?;
    line(format!(
        "| `getppid` through the syscall vector (hx) vs `syscall` (native) | {} | {} | {} |",
        n.show("ns", 1.0),
        h.show("ns", 1.0),
        ratio(&n, &h)
    ));
    let (n, h) = bench.workload(&work, &["clock", calls], &[])?;
    line(format!(
        "| `clock_gettime(MONOTONIC)` via libc | {} | {} | {} |",
        n.show("ns", 1.0),
        h.show("ns", 1.0),
        ratio(&n, &h)
    ));
    line(String::new());

    line("## Syscall latency through libc: native, hx trap path, hx fast libc".into());
    line(String::new());
    line("A musl-linked dynamic program calling the libc wrapper in a loop.".into());
    line(String::new());
    let sysroot = root.join("sysroot/lib/libc.so");
    if sysroot.is_file() {
        line("| call | native | hx trap path | hx `--fast-libc` | fast / native | fast / trap |".into());
        line("|---|---|---|---|---|---|".into());
        let latency = bench.compile_with("musl-gcc", &[], &root.join("benches/programs/latency.c"), "latency")?;
        let trap_calls = if cli.quick { "200" } else { "20000" };
        for (call, label) in [("getppid", "`getppid`"), ("clock", "`clock_gettime(MONOTONIC)`")] {
            let (n, t) = bench.workload(&latency, &[call, trap_calls], &[])?;
            let (_, f) = bench.workload(&latency, &[call, calls], &["--fast-libc"])?;
            line(format!(
                "| {label} | {} | {} | {} | {} | {} |",
                n.show("ns", 1.0),
                t.show("ns", 1.0),
                f.show("ns", 1.0),
                ratio(&n, &f),
                ratio(&t, &f)
            ));
        }
    } else {
        line("(skipped: sysroot/lib/libc.so is not built; run musl-patch/build.sh)".into());
    }
    line(String::new());

    line("## Static hello world, whole process".into());
    line(String::new());
    line("| what | native | hx | hx / native |".into());
    line("|---|---|---|---|".into());
    let (nw, nr) = bench.process(&[&hello])?;
    let (hw, hr) = bench.process(&[&hx_run, &hello])?;
    line(format!(
        "| wall time, launch to exit | {} | {} | {} |",
        nw.show("ms", 1e6),
        hw.show("ms", 1e6),
        ratio(&nw, &hw)
    ));
    line(format!(
        "| peak RSS of the host process | {} | {} | {} |",
        nr.show("MiB", 1024.0),
        hr.show("MiB", 1024.0),
        ratio(&nr, &hr)
    ));
    line(format!("| exits to the host during the run | – | {exits} | |"));
    line(format!("| CPL0 stub entries during the run | – | {cpl0} | |"));

    if let Some(path) = cli.output {
        std::fs::write(&path, md).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {}", path.display());
    }
    Ok(())
}
