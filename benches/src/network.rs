//! §9: servers inside hx driven by native clients over loopback — a TCP
//! echo round trip, a bulk transfer, and redis-benchmark against Debian's
//! redis-server — each beside the same server run natively, with the exits
//! to the host each request costs under hx.
use crate::measure::{ratio, stat, Bench, Stat};
use anyhow::{Context, Result};
use std::process::{Child, Command, Stdio};

/// A loopback port free now (the OS picks it; the listener is closed at once).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts `argv` as a server on `port`: natively, or in hx with the port
/// published as itself and `--stats` on (its report is on the child's stderr).
fn start(b: &Bench, hx: bool, port: u16, argv: &[&str]) -> Result<Child> {
    let publish = format!("{port}:{port}");
    let mut cmd = if hx { b.hx(&["--stats", "-p", &publish], argv) } else { b.native(argv) };
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().context("starting a server")
}

/// Waits for a server to end; under hx, the exits to the host its `--stats` counted.
fn finish(server: Child) -> Result<u64> {
    let out = server.wait_with_output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    Ok(err
        .lines()
        .find_map(|l| l.split_once("exits to the host:").and_then(|(_, v)| v.split_whitespace().next()?.parse().ok()))
        .unwrap_or(0))
}

fn client(argv: &[&str]) -> Result<String> {
    let out = Command::new(argv[0]).args(&argv[1..]).output().with_context(|| format!("running {}", argv[0]))?;
    anyhow::ensure!(out.status.success(), "{} failed: {}", argv[0], String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One client run against a fresh `net serve` (native or in hx): the
/// client's figure and the server's exits.
fn net_run(b: &Bench, net: &str, hx: bool, mode: &str, n: &str) -> Result<(f64, u64)> {
    let port = free_port()?;
    let p = port.to_string();
    let server = start(b, hx, port, &[net, "serve", &p, "1"])?;
    let out = client(&[net, mode, &p, n]);
    let exits = finish(server)?;
    Ok((out?.trim().parse().context("client figure")?, exits))
}

/// redis-benchmark's SET and GET requests per second against a fresh
/// redis-server, and the server's exits per request under hx.
fn redis_run(b: &Bench, hx: bool, requests: &str) -> Result<(f64, f64, f64)> {
    let port = free_port()?;
    let p = port.to_string();
    let server =
        start(b, hx, port, &["redis-server", "--port", &p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])?;
    // Ready when it answers.
    for _ in 0..200 {
        if client(&["redis-cli", "-p", &p, "ping"]).is_ok_and(|o| o.contains("PONG")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let csv = client(&["redis-benchmark", "-p", &p, "-n", requests, "-c", "50", "-d", "64", "-t", "set,get", "--csv"]);
    let _ = client(&["redis-cli", "-p", &p, "shutdown", "nosave"]);
    let exits = finish(server)?;
    let csv = csv?;
    let rps = |test: &str| -> Result<f64> {
        let line = csv.lines().find(|l| l.starts_with(&format!("\"{test}\""))).context("redis-benchmark output")?;
        Ok(line.split(',').nth(1).context("rps")?.trim_matches('"').parse()?)
    };
    let total: f64 = requests.parse::<f64>()? * 2.0;
    Ok((rps("SET")?, rps("GET")?, exits as f64 / total))
}

/// The section's lines.
pub fn section(b: &Bench, net: &str, quick: bool) -> Result<Vec<String>> {
    let mut lines = vec![
        "## 9. Network (servers over loopback, native clients)".to_string(),
        String::new(),
        "Every guest socket is a host socket the monitor holds; a socket call travels through the request ring while"
            .to_string(),
        "the monitor's poller runs, else through an exit (the last column counts those exits).".to_string(),
        "The server runs natively or in hx (`-p PORT:PORT`); the client always runs natively.".to_string(),
        String::new(),
        "| workload | native | hx | hx / native | hx exits per operation |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    let round_trips = if quick { "200" } else { "5000" };
    let mib = if quick { "16" } else { "1024" };
    let reps = b.reps;
    let measure = |hx: bool, mode: &str, n: &str| -> Result<(Stat, u64)> {
        let mut v = Vec::new();
        let mut exits = 0;
        for _ in 0..reps {
            let (x, e) = net_run(b, net, hx, mode, n)?;
            v.push(x);
            exits = e;
        }
        Ok((stat(v), exits))
    };
    let (nat, _) = measure(false, "pingpong", round_trips)?;
    let (h, exits) = measure(true, "pingpong", round_trips)?;
    let per = exits as f64 / round_trips.parse::<f64>()?;
    lines.push(format!(
        "| TCP echo round trip, 64 B (µs) | {} | {} | {} | {per:.1} |",
        nat.show("", 1e3),
        h.show("", 1e3),
        ratio(&nat, &h)
    ));
    let (nat, _) = measure(false, "bulk", mib)?;
    let (h, exits) = measure(true, "bulk", mib)?;
    // Throughput in MiB/s: MiB / seconds.
    let mibs = mib.parse::<f64>()?;
    let tput = |s: &Stat| -> Stat {
        let f = |ns: f64| mibs / (ns / 1e9);
        Stat { median: f(s.median), min: f(s.max), max: f(s.min) }
    };
    let (nt, ht) = (tput(&nat), tput(&h));
    lines.push(format!(
        "| TCP bulk transfer, {mib} MiB (MiB/s) | {} | {} | {} | {:.1} per 64 KiB |",
        nt.show("", 1.0),
        ht.show("", 1.0),
        ratio(&nt, &ht),
        exits as f64 / (mibs * 16.0)
    ));
    if which("redis-server") && which("redis-benchmark") {
        let requests = if quick { "2000" } else { "100000" };
        let (mut ns, mut ng, mut hs, mut hg, mut per) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0.0);
        for _ in 0..reps.min(3) {
            let (s, g, _) = redis_run(b, false, requests)?;
            ns.push(s);
            ng.push(g);
            let (s, g, e) = redis_run(b, true, requests)?;
            hs.push(s);
            hg.push(g);
            per = e;
        }
        let (ns, ng, hs, hg) = (stat(ns), stat(ng), stat(hs), stat(hg));
        lines.push(format!(
            "| redis SET, `-n {requests} -c 50 -d 64` (requests/s) | {} | {} | {} | {per:.1} (SET and GET) |",
            ns.show("", 1.0),
            hs.show("", 1.0),
            ratio(&ns, &hs)
        ));
        lines.push(format!(
            "| redis GET (requests/s) | {} | {} | {} | |",
            ng.show("", 1.0),
            hg.show("", 1.0),
            ratio(&ng, &hg)
        ));
    } else {
        lines.push("| redis | – | – | – | redis-server / redis-benchmark not installed |".to_string());
    }
    lines.push(String::new());
    Ok(lines)
}

fn which(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}
