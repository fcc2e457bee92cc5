//! `hx-bench`: hx measured against native Linux in one run, as a markdown
//! report with SVG charts. Every figure is a median over repetitions with
//! its spread (min–max), and ratios compare figures taken in the same run.
//!
//!     cargo build --release && target/release/hx-bench --output docs/benchmarks.md
mod charts;
mod measure;
mod network;

use anyhow::{Context, Result};
use clap::Parser;
use measure::{ratio, Bench};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(about = "hx benchmarks, side by side with native Linux")]
struct Cli {
    /// Small sizes and few repetitions: a smoke test (asserts no timing).
    #[arg(long)]
    quick: bool,
    /// Write the report here (and its charts, as SVG files, beside it).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Repetitions per measurement (default 5, quick 2).
    #[arg(long)]
    reps: Option<usize>,
}

/// The report, printed as it is built.
struct Report(String);

impl Report {
    fn line(&mut self, s: impl Into<String>) {
        let s = s.into();
        println!("{s}");
        self.0.push_str(&s);
        self.0.push('\n');
    }
    fn table(&mut self, header: &[&str]) {
        self.line(format!("| {} |", header.join(" | ")));
        self.line(format!("|{}", "---|".repeat(header.len())));
    }
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

fn size_mib(p: &Path) -> String {
    std::fs::metadata(p).map(|m| format!("{:.2} MiB", m.len() as f64 / (1 << 20) as f64)).unwrap_or_else(|_| "–".into())
}

/// A compute workload: its label, hx-run flags, and the command.
type ComputeRow<'a> = (String, Option<&'a [&'a str]>, Vec<String>);

/// Syscall latency calls: (argument to latency.c, label, expensive).
const CALLS: [(&str, &str, bool); 10] = [
    ("getppid", "getppid", false),
    ("clock", "clock_gettime", false),
    ("write", "write 1 B /dev/null", false),
    ("read", "read 1 B /dev/zero", false),
    ("futex", "futex wake", false),
    ("yield", "sched_yield", false),
    ("openclose", "open+close", true),
    ("mmap", "mmap+munmap 4 KiB", true),
    ("brk", "brk up+down", true),
    ("hostwrite", "write 1 B to a file", true),
];

fn main() -> Result<()> {
    let cli = Cli::parse();
    let hx_run = std::env::current_exe()?.with_file_name("hx-run");
    anyhow::ensure!(hx_run.exists(), "{} not found: build it first (cargo build --release)", hx_run.display());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let quick = cli.quick;
    let b = Bench {
        hx_run: hx_run.clone(),
        dir: tempfile::tempdir()?,
        reps: cli.reps.unwrap_or(if quick { 2 } else { 5 }),
    };
    let prog = |name: &str| root.join("benches/programs").join(name);
    let lat_g = b.compile("gcc", &["-static"], &prog("latency.c"), "latency-gcc-static")?;
    let lat_m = b.compile("musl-gcc", &[], &prog("latency.c"), "latency-musl")?;
    let lat_d = b.compile("gcc", &[], &prog("latency.c"), "latency-gcc-dynamic")?;
    let work = b.compile("gcc", &["-static"], &prog("work.c"), "work")?;
    let compute = b.compile("gcc", &["-static"], &prog("compute.c"), "compute")?;
    let boot = b.compile("gcc", &["-static"], &prog("boot.c"), "boot")?;
    let hello = b.compile("gcc", &["-static"], &root.join("tests/programs/hello.c"), "hello")?;
    let thr_g = b.compile("gcc", &["-static", "-pthread"], &prog("threads.c"), "threads-gcc-static")?;
    let thr_m = b.compile("musl-gcc", &[], &prog("threads.c"), "threads-musl")?;
    let procs = b.compile("gcc", &["-static"], &prog("processes.c"), "processes")?;
    let net = b.compile("gcc", &["-O2"], &prog("net.c"), "net")?;
    let libc_so = root.join("sysroot/lib/libc.so");
    let fast = libc_so.is_file();
    let musl_lua = root.join("target/musl-lua/lua");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (lat_g, lat_m, work, compute, boot, hello) = (s(&lat_g), s(&lat_m), s(&work), s(&compute), s(&boot), s(&hello));
    let lat_d = s(&lat_d);
    // hx rewrites `syscall` instructions by default (once a process made
    // 1000 trap-path calls): the trap path is measured with it off.
    let trap_only: &[&str] = &["--rewrite-syscalls=off"];
    let (thr_g, thr_m, procs) = (s(&thr_g), s(&thr_m), s(&procs));
    let big: &[&str] = &["--memory", "1G"];

    let (_, _, _, platform) = b.stats(&[], &[&hello])?;
    let mut r = Report(String::new());
    r.line("# hx benchmarks");
    r.line("");
    r.line(format!("- platform: **{platform}**; CPU: {}; 2 cores", cpu_model()));
    r.line(format!("- {} repetitions per figure: median (min–max); ratios are hx / native from the same run", b.reps));
    r.line(format!(
        "- command: `target/release/hx-bench{}`",
        if quick { " --quick" } else { " --output docs/benchmarks.md" }
    ));
    r.line("");

    // 1. Syscall latency.
    r.line("## 1. Syscall latency (ns per call)");
    r.line("");
    r.line(
        "The same C loop (`benches/programs/latency.c`) built with `gcc -static`, `gcc` (dynamic) and `musl-gcc` \
         (dynamic); warm-up discarded (hx rewrites the loop's `syscall` instructions by default once the \
         process made 1000 trap-path calls: the warm-up makes them).",
    );
    r.line("");
    r.table(&[
        "call",
        "native (gcc static)",
        "native (musl)",
        "hx trap path (gcc static, `--rewrite-syscalls=off`)",
        "hx rewritten (gcc static)",
        "hx rewritten (gcc dynamic)",
        "hx `--fast-libc` (musl)",
        "rewritten static / native",
        "fast / native",
        "trap / native",
    ]);
    let mut chart_rows = Vec::new();
    let mut lat = std::collections::HashMap::new();
    for (call, label, expensive) in CALLS {
        let (n_native, n_trap, n_fast) = match (quick, expensive) {
            (true, false) => ("2000", "50", "2000"),
            (true, true) => ("200", "10", "20"),
            (false, false) => ("200000", "2000", "200000"),
            (false, true) => ("20000", "300", "1000"),
        };
        let ng = b.timed(None, &[&lat_g, call, n_native])?;
        let nm = b.timed(None, &[&lat_m, call, n_native])?;
        let t = b.timed(Some(trap_only), &[&lat_g, call, n_trap])?;
        let rs = b.timed(Some(&[]), &[&lat_g, call, n_fast])?;
        let rd = b.timed(Some(&[]), &[&lat_d, call, n_fast])?;
        let f = if fast { Some(b.timed(Some(&["--fast-libc"]), &[&lat_m, call, n_fast])?) } else { None };
        r.line(format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ng.show("", 1.0),
            nm.show("", 1.0),
            t.show("", 1.0),
            rs.show("", 1.0),
            rd.show("", 1.0),
            f.map_or("–".into(), |f| f.show("", 1.0)),
            ratio(&ng, &rs),
            f.map_or("–".into(), |f| ratio(&nm, &f)),
            ratio(&ng, &t)
        ));
        chart_rows.push((label.to_string(), vec![nm.median, t.median, f.map_or(0.0, |f| f.median)]));
        lat.insert(call, (nm, t, f));
    }
    r.line("");

    // 2. Where a trap-path syscall's time goes.
    r.line("## 2. Where a trap-path syscall's time goes");
    r.line("");
    let (_, trap_ppid, fast_ppid) = lat["getppid"];
    if let Some(fast_ppid) = fast_ppid {
        let (_, _, fast_host) = lat["hostwrite"];
        let (_, _, fast_null) = lat["write"];
        r.table(&["part", "ns"]);
        r.line(format!("| whole trap-path `getppid` | {:.0} |", trap_ppid.median));
        r.line(format!("| the kernel's own work (the same call through the vector) | {:.1} |", fast_ppid.median));
        r.line(format!(
            "| the event round trip (`syscall` → CPL3 entry → back), the difference | {:.0} |",
            trap_ppid.median - fast_ppid.median
        ));
        if let (Some(h), Some(n)) = (fast_host, fast_null) {
            r.line(format!(
                "| one exit to the host (a 1-byte write to a host file minus one to /dev/null, both via the vector) | {:.0} |",
                h.median - n.median
            ));
        }
    } else {
        r.line("(needs the fast libc: run musl-patch/build.sh)");
    }
    r.line("");

    // 3. Boot and teardown.
    r.line("## 3. Boot and teardown (static glibc hello world)");
    r.line("");
    let (nw, nr) = b.process(None, &[&hello])?;
    let (hw, _) = b.process(Some(&[]), &[&hello])?;
    // The monitor's own peak RSS: `wait4` on hx-run would see only its front
    // process (on by default), which exits before the monitor tears down.
    let (_, hr) = b.process(Some(&["--front=off"]), &[&hello])?;
    let nmain = b.time_to_main(None, Path::new(&boot))?;
    let hmain = b.time_to_main(Some(&[]), Path::new(&boot))?;
    let (exits, cpl0, touched, _) = b.stats(&[], &[&hello])?;
    r.table(&["what", "native", "hx", "hx / native"]);
    r.line(format!(
        "| launch to exit (wall) | {} | {} | {} |",
        nw.show("ms", 1e6),
        hw.show("ms", 1e6),
        ratio(&nw, &hw)
    ));
    r.line(format!(
        "| launch to the first line of `main` | {} | {} | {} |",
        nmain.show("ms", 1e6),
        hmain.show("ms", 1e6),
        ratio(&nmain, &hmain)
    ));
    r.line(format!("| exits to the host during the run | – | {exits} | |"));
    r.line(format!("| CPL0 stub entries during the run | – | {cpl0} | |"));
    r.line("");

    // 4. Footprint.
    r.line("## 4. Footprint");
    r.line("");
    r.line("hx's peak RSS and CPU time are the monitor's, measured with `--front=off` (`wait4` on a default");
    r.line("`hx-run` sees its front process, which exits before the monitor tears down).");
    r.line("");
    r.table(&["what", "native", "hx"]);
    r.line(format!(
        "| peak RSS of the host process, hello world | {} | {} |",
        nr.show("MiB", 1024.0),
        hr.show("MiB", 1024.0)
    ));
    r.line(format!("| guest RAM actually touched, hello world | – | {touched} KiB |"));
    // An idle guest must not keep a host CPU busy: its vCPUs block in the monitor.
    let (idle_s, idle_runs) = if quick { ("0.5", 1) } else { ("5", 3) };
    let idle = ["/bin/sleep", idle_s];
    let nidle = b.cpu_time(None, &idle, idle_runs)?;
    let hidle = b.cpu_time(Some(&["--front=off"]), &idle, idle_runs)?;
    let share =
        |s: &measure::Stat| format!("{:.2} % of a core", s.median / (idle_s.parse::<f64>().unwrap_or(1.0) * 1e7));
    r.line(format!(
        "| host CPU time of `sleep {idle_s}` (start-up included) | {} ({}) | {} ({}) |",
        nidle.show("ms", 1e6),
        share(&nidle),
        hidle.show("ms", 1e6),
        share(&hidle)
    ));
    r.line(format!("| `hx-run` on disk (monitor + embedded kernel) | – | {} |", size_mib(&hx_run)));
    r.line(format!("| patched musl `libc.so` on disk | – | {} |", size_mib(&libc_so)));
    r.line("");

    // 5. Compute.
    r.line("## 5. Compute overhead (each program times its own loop)");
    r.line("");
    r.table(&["workload", "native", "hx", "hx / native"]);
    let q = |full: &'static str, small: &'static str| if quick { small } else { full };
    let mut compute_rows: Vec<ComputeRow> = vec![
        (
            format!("hash loop, {} rounds", q("10^9", "10^7")),
            None,
            vec![work.clone(), "hash".into(), q("1000000000", "10000000").into()],
        ),
        (
            format!("10 walks over {} MiB", q("256", "16")),
            Some(big),
            vec![work.clone(), "walk".into(), q("256", "16").into(), "10".into()],
        ),
        (
            format!("first touch of a 4 KiB page ({} MiB)", q("256", "16")),
            Some(big),
            vec![work.clone(), "touch".into(), q("256", "16").into()],
        ),
        (
            format!("matrix multiply {}²", q("512", "64")),
            None,
            vec![compute.clone(), "matmul".into(), q("512", "64").into()],
        ),
        (
            format!("qsort of {} ints", q("10^7", "10^5")),
            Some(big),
            vec![compute.clone(), "sort".into(), q("10000000", "100000").into()],
        ),
        (
            format!("STREAM triad, 3 × {} MiB, 10 passes", q("128", "8")),
            Some(big),
            vec![compute.clone(), "stream".into(), q("128", "8").into()],
        ),
    ];
    let lua_bench = s(&root.join("benches/scripts/bench.lua"));
    let py_bench = s(&root.join("benches/scripts/bench.py"));
    // The scripts live in the source tree: mount it read-only at its own path.
    let scripts_mount = format!("{0}:{0}:ro", root.join("benches/scripts").display());
    let lua_scale = q("8", "0.05");
    let py_scale = q("4", "0.05");
    compute_rows.push((
        "Lua 5.4 (Debian): fib + n-body + spectral-norm".into(),
        None,
        vec!["/usr/bin/lua5.4".into(), lua_bench.clone(), lua_scale.into()],
    ));
    compute_rows.push((
        "Python 3 (Debian): n-body + json dumps/loads".into(),
        None,
        vec!["/usr/bin/python3".into(), py_bench.clone(), py_scale.into()],
    ));
    for (label, flags, argv) in &compute_rows {
        let argv: Vec<&str> = argv.iter().map(|a| a.as_str()).collect();
        let mut hx_flags: Vec<&str> = flags.map(|f| f.to_vec()).unwrap_or_default();
        if argv[0].starts_with("/usr/bin/") {
            hx_flags.extend(["--mount", scripts_mount.as_str()]);
        }
        let n = b.timed(None, &argv)?;
        let h = b.timed(Some(&hx_flags), &argv)?;
        let unit = if label.starts_with("first touch") { ("ns", 1.0) } else { ("ms", 1e6) };
        r.line(format!("| {label} | {} | {} | {} |", n.show(unit.0, unit.1), h.show(unit.0, unit.1), ratio(&n, &h)));
    }
    if fast && musl_lua.is_file() {
        let ml = s(&musl_lua);
        let n = b.timed(None, &[&ml, &lua_bench, lua_scale])?;
        let h = b.timed(Some(&["--fast-libc", "--mount", &scripts_mount]), &[&ml, &lua_bench, lua_scale])?;
        r.line(format!(
            "| Lua 5.4 (musl), hx `--fast-libc` | {} | {} | {} |",
            n.show("ms", 1e6),
            h.show("ms", 1e6),
            ratio(&n, &h)
        ));
    }
    r.line("");

    // 6. Interpreter start-up.
    r.line("## 6. Interpreter start-up (launch to exit)");
    r.line("");
    r.table(&["command", "native", "hx (trap path)", "hx / native", "exits to the host"]);
    let mut boot_rows = vec![("hello (static)".to_string(), vec![nw.median / 1e6, hw.median / 1e6])];
    for (label, argv, flags) in [
        ("`python3 -c pass`", vec!["/usr/bin/python3", "-c", "pass"], &[][..]),
        ("`python3 -c pass`, hx `--rewrite-syscalls=off`", vec!["/usr/bin/python3", "-c", "pass"], trap_only),
        ("`lua5.4 -e ''`", vec!["/usr/bin/lua5.4", "-e", ""], &[][..]),
    ] {
        let (n, _) = b.process(None, &argv)?;
        let (h, _) = b.process(Some(flags), &argv)?;
        let (exits, _, _, _) = b.stats(flags, &argv)?;
        r.line(format!("| {label} | {} | {} | {} | {exits} |", n.show("ms", 1e6), h.show("ms", 1e6), ratio(&n, &h)));
        if flags.is_empty() {
            boot_rows.push((label.trim_matches('`').to_string(), vec![n.median / 1e6, h.median / 1e6]));
        }
    }
    if fast && musl_lua.is_file() {
        let ml = s(&musl_lua);
        let (n, _) = b.process(None, &[&ml, "-e", ""])?;
        let (h, _) = b.process(Some(&["--fast-libc"]), &[&ml, "-e", ""])?;
        let (exits, _, _, _) = b.stats(&["--fast-libc"], &[&ml, "-e", ""])?;
        r.line(format!(
            "| musl `lua -e ''`, hx `--fast-libc` | {} | {} | {} | {exits} |",
            n.show("ms", 1e6),
            h.show("ms", 1e6),
            ratio(&n, &h)
        ));
        boot_rows.push(("musl lua --fast-libc".into(), vec![n.median / 1e6, h.median / 1e6]));
    }
    r.line("");

    // 7. Threads.
    r.line("## 7. Threads (`benches/programs/threads.c`)");
    r.line("");
    r.line(
        "Parallel speed-up: two threads each run the same integer loop; the serial run does both halves on one thread.",
    );
    r.line("");
    r.table(&["run", "native", "hx `--cpus 1`", "hx `--cpus 2`", "hx 2 / hx 1", "hx 2 / native"]);
    let rounds = q("300000000", "3000000");
    let np = b.timed(None, &[&thr_g, "parallel", rounds])?;
    let ns = b.timed(None, &[&thr_g, "serial", rounds])?;
    let h1 = b.timed(Some(&["--cpus", "1"]), &[&thr_g, "parallel", rounds])?;
    let h2 = b.timed(Some(&["--cpus", "2"]), &[&thr_g, "parallel", rounds])?;
    r.line(format!(
        "| two threads, {rounds} rounds each | {} | {} | {} | {} | {} |",
        np.show("ms", 1e6),
        h1.show("ms", 1e6),
        h2.show("ms", 1e6),
        ratio(&h1, &h2),
        ratio(&np, &h2)
    ));
    r.line(format!("| native, both halves on one thread | {} | | | | |", ns.show("ms", 1e6)));
    r.line("");
    r.line("Per-operation costs (ns); the ping-pong crosses vCPUs with `--cpus 2` and stays on one with `--cpus 1`.");
    r.line("");
    r.table(&[
        "operation",
        "native (gcc static)",
        "hx trap `--cpus 1`",
        "hx trap `--cpus 2`",
        "native (musl)",
        "hx `--fast-libc --cpus 2`",
        "trap 2 / native",
        "fast / native",
    ]);
    for (what, label, full, small) in [
        ("create", "thread create + join", "2000", "20"),
        ("mutex", "uncontended mutex lock + unlock", "10000000", "10000"),
        ("pingpong", "futex wake -> wait round trip", "20000", "200"),
        ("signal", "raise() to a handler and back", "20000", "200"),
    ] {
        let n = q(full, small);
        let ng = b.timed(None, &[&thr_g, what, n])?;
        let t1 = b.timed(Some(&["--cpus", "1"]), &[&thr_g, what, n])?;
        let t2 = b.timed(Some(&["--cpus", "2"]), &[&thr_g, what, n])?;
        let nm = b.timed(None, &[&thr_m, what, n])?;
        let f = if fast { Some(b.timed(Some(&["--fast-libc", "--cpus", "2"]), &[&thr_m, what, n])?) } else { None };
        r.line(format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |",
            ng.show("", 1.0),
            t1.show("", 1.0),
            t2.show("", 1.0),
            nm.show("", 1.0),
            f.map_or("–".into(), |f| f.show("", 1.0)),
            ratio(&ng, &t2),
            f.map_or("–".into(), |f| ratio(&nm, &f))
        ));
    }
    r.line("");

    // 8. Processes.
    r.line("## 8. Processes (`benches/programs/processes.c`, the child a static hello)");
    r.line("");
    r.line("Each guest process is its own VM served by its own monitor process: `fork` forks the monitor and");
    r.line("builds a fresh VM over the copy-on-write guest RAM; `exec` boots the new image in a fresh VM of the same monitor.");
    r.line("");
    r.table(&["per operation (µs)", "native", "hx", "hx / native"]);
    let n = if quick { "20" } else { "100" };
    for (label, what) in
        [("fork + exit + wait", "fork"), ("posix_spawn + exec + wait", "spawn"), ("vfork + exec + wait", "vfork")]
    {
        let nat = b.timed(None, &[&procs, what, n, &hello])?;
        let h = b.timed(Some(&[]), &[&procs, what, n, &hello])?;
        r.line(format!("| {label} | {} | {} | {} |", nat.show("", 1e3), h.show("", 1e3), ratio(&nat, &h)));
    }
    for (label, script) in [
        ("`bash -c true` (launch to exit)", "true"),
        ("`bash -c '/bin/true; /bin/true'` (two fork + exec)", "/bin/true; /bin/true"),
    ] {
        let (n, _) = b.process(None, &["/bin/bash", "-c", script])?;
        let (h, _) = b.process(Some(&[]), &["/bin/bash", "-c", script])?;
        r.line(format!("| {label} | {} | {} | {} |", n.show("", 1e3), h.show("", 1e3), ratio(&n, &h)));
    }
    r.line("");

    // 9. Network.
    for l in network::section(&b, net.to_str().unwrap(), quick)? {
        r.line(l);
    }

    if let Some(path) = &cli.output {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let latency_svg = dir.join("bench-latency.svg");
        let boot_svg = dir.join("bench-startup.svg");
        charts::grouped_bars(
            &latency_svg,
            "syscall latency (log scale)",
            "ns per call",
            &["native (musl)", "hx trap path", "hx fast libc"],
            &chart_rows,
        )?;
        charts::grouped_bars(&boot_svg, "start-up, launch to exit (log scale)", "ms", &["native", "hx"], &boot_rows)?;
        r.line("## Charts");
        r.line("");
        r.line("![syscall latency](bench-latency.svg)");
        r.line("");
        r.line("![start-up](bench-startup.svg)");
        std::fs::write(path, &r.0).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("report written to {} (charts beside it)", path.display());
    }
    Ok(())
}
