//! Real servers and clients inside hx over loopback: Python's http.server
//! answering a native client, an asyncio echo server and client, Debian's
//! redis-server driven by a native redis-benchmark, redis-cli against a
//! native redis, and Node's http server, timers and promises. Each is
//! bounded (servers are killed after their test) and compared with what
//! the same program does natively.
mod common;

use common::{free_port, status_code, text, HX_RUN};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A server process killed when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hx_server(flags: &[&str], argv: &[&str], dir: &std::path::Path) -> Server {
    let child = Command::new(HX_RUN)
        .args(flags)
        .args(argv)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Server(child)
}

fn native_server(argv: &[&str]) -> Server {
    let child =
        Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    Server(child.unwrap())
}

/// Connects to `port`, retrying while the server starts (up to 30 s).
fn connect(port: u16) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                return s;
            }
            Err(e) if start.elapsed() > Duration::from_secs(30) => panic!("no server on port {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// An HTTP/1.0 GET of `path`: the status line and the body.
fn http_get(port: u16, path: &str) -> (String, Vec<u8>) {
    let mut s = connect(port);
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let split = reply.windows(4).position(|w| w == b"\r\n\r\n").expect("no HTTP header end");
    let head = String::from_utf8_lossy(&reply[..split]).to_string();
    (head.lines().next().unwrap_or("").to_string(), reply[split + 4..].to_vec())
}

fn installed(program: &str) -> bool {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    if !found {
        eprintln!("{program} is not installed (.ci/setup installs it)");
    }
    found
}

#[test]
fn python_http_server_in_hx_serves_a_native_client() {
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.path().join("data.bin"), &body).unwrap();
    let port = free_port();
    let publish = format!("{port}:8000");
    let _server = hx_server(
        &["-p", &publish],
        &["/usr/bin/python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"],
        dir.path(),
    );
    let (status, got) = http_get(port, "/data.bin");
    assert!(status.contains("200"), "status line: {status}");
    assert!(got == body, "the body differs ({} bytes, {} expected)", got.len(), body.len());
    let (status, _) = http_get(port, "/missing");
    assert!(status.contains("404"), "status line: {status}");
}

/// Runs `argv` natively and in hx (with `flags`) and compares stdout, stderr and status.
/// Node's path, if it is installed (its tests skip without it).
fn node() -> Option<std::path::PathBuf> {
    if !installed("node") {
        return None;
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("node")).find(|p| p.is_file())
}

fn same(argv: &[&str], flags: &[&str]) -> Output {
    let n = Command::new(argv[0]).args(&argv[1..]).stdin(Stdio::null()).output().unwrap();
    let h = Command::new(HX_RUN).args(flags).args(argv).stdin(Stdio::null()).output().unwrap();
    assert_eq!(text(&h.stdout), text(&n.stdout), "{argv:?}: stdout differs (stderr under hx: {})", text(&h.stderr));
    assert_eq!(text(&h.stderr), text(&n.stderr), "{argv:?}: stderr differs");
    assert_eq!(status_code(&h), status_code(&n), "{argv:?}: exit status differs");
    h
}

const ASYNCIO_ECHO: &str = r#"
import asyncio

async def handle(reader, writer):
    while data := await reader.read(1000):
        writer.write(data.upper())
        await writer.drain()
    writer.close()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async def client(i):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        msg = f"client {i} says hello " * (i + 1)
        w.write(msg.encode())
        await w.drain()
        w.write_eof()
        got = await r.read()
        w.close()
        return got.decode() == msg.upper()
    results = await asyncio.gather(*(client(i) for i in range(20)))
    print("echoed:", sum(results), "of", len(results))
    server.close()
    await server.wait_closed()
    await asyncio.sleep(0.05)
    print("timers and shutdown: ok")

asyncio.run(main())
"#;

#[test]
fn python_asyncio_echo_server_and_clients() {
    let out = same(&["/usr/bin/python3", "-c", ASYNCIO_ECHO], &[]);
    assert!(text(&out.stdout).contains("echoed: 20 of 20"));
}

#[test]
fn redis_server_in_hx_answers_every_request_of_a_native_redis_benchmark() {
    if !(installed("redis-server") && installed("redis-benchmark") && installed("redis-cli")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let p = port.to_string();
    let publish = format!("{port}:6379");
    let _server = hx_server(
        &["-p", &publish],
        &["/usr/bin/redis-server", "--port", "6379", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dir.path(),
    );
    drop(connect(port));
    let bench = Command::new("redis-benchmark")
        .args(["-p", &p, "-n", "100000", "-c", "50", "-d", "64", "-t", "set,get", "--csv"])
        .output()
        .unwrap();
    assert!(bench.status.success(), "redis-benchmark failed: {}", text(&bench.stderr));
    let csv = text(&bench.stdout);
    for test in ["\"SET\"", "\"GET\""] {
        let line = csv.lines().find(|l| l.starts_with(test)).unwrap_or_else(|| panic!("no {test} in {csv}"));
        let rps: f64 = line.split(',').nth(1).unwrap().trim_matches('"').parse().unwrap();
        assert!(rps > 0.0, "{line}");
    }
    // Every request reached the server: 100000 SETs and 100000 GETs.
    let info = Command::new("redis-cli").args(["-p", &p, "info", "commandstats"]).output().unwrap();
    let info = text(&info.stdout);
    for cmd in ["cmdstat_set:calls=", "cmdstat_get:calls="] {
        let calls: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix(cmd))
            .and_then(|v| v.split(',').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {cmd} in {info}"));
        assert!(calls >= 100_000, "{cmd}{calls}");
    }
    let failed = Command::new("redis-cli").args(["-p", &p, "info", "stats"]).output().unwrap();
    assert!(text(&failed.stdout).contains("rejected_connections:0"), "{}", text(&failed.stdout));
}

#[test]
fn redis_cli_in_hx_talks_to_a_native_redis() {
    if !(installed("redis-server") && installed("redis-cli")) {
        return;
    }
    let port = free_port();
    let p = port.to_string();
    let _server =
        native_server(&["redis-server", "--port", &p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
    drop(connect(port));
    for args in [
        &["set", "greeting", "hello from a unikernel"][..],
        &["get", "greeting"],
        &["incrby", "counter", "41"],
        &["incr", "counter"],
        &["lpush", "list", "a", "b", "c"],
        &["lrange", "list", "0", "-1"],
    ] {
        // Each command natively, then the same from hx against the state the native one left.
        let argv: Vec<&str> = ["/usr/bin/redis-cli", "-p", &p].iter().copied().chain(args.iter().copied()).collect();
        let n = Command::new(argv[0]).args(&argv[1..]).output().unwrap();
        let undo: Vec<&str> = match args[0] {
            "incr" => vec!["decr", "counter"],
            "incrby" => vec!["decrby", "counter", "41"],
            "lpush" => vec!["del", "list"],
            _ => vec![],
        };
        if !undo.is_empty() {
            Command::new("redis-cli").args(["-p", &p]).args(&undo).output().unwrap();
        }
        let h = Command::new(HX_RUN).args(&argv).output().unwrap();
        assert_eq!(text(&h.stdout), text(&n.stdout), "redis-cli {args:?} (stderr under hx: {})", text(&h.stderr));
        assert_eq!(status_code(&h), status_code(&n));
    }
}

const NODE_SERVER: &str = r#"
const http = require('http');
let served = 0;
const server = http.createServer((req, res) => {
  served++;
  res.end(`node served ${req.url}\n`);
});
server.listen(8080, '127.0.0.1', () => console.log('listening'));
setTimeout(() => server.close(), 60000);
"#;

#[test]
fn node_http_server_in_hx_answers_a_native_client() {
    let Some(node) = node() else { return };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let publish = format!("{port}:8080");
    let _server = hx_server(&["-p", &publish], &[node.to_str().unwrap_or_default(), "-e", NODE_SERVER], dir.path());
    for path in ["/a", "/b/c"] {
        let (status, body) = http_get(port, path);
        assert!(status.contains("200"), "{status}");
        assert_eq!(text(&body), format!("node served {path}\n"));
    }
}

const NODE_TIMERS: &str = r#"
const order = [];
setTimeout(() => order.push('timeout 20'), 20);
setTimeout(() => order.push('timeout 0'), 0);
Promise.resolve().then(() => order.push('microtask'));
process.nextTick(() => order.push('tick'));
const p = new Promise(r => setTimeout(() => r('resolved'), 30));
(async () => {
  const v = await p;
  order.push(v);
  const t0 = Date.now();
  await new Promise(r => setTimeout(r, 100));
  const waited = Date.now() - t0;
  console.log(order.join(', '));
  console.log('slept at least 100 ms:', waited >= 99);
})();
"#;

/// `os.networkInterfaces()` (netlink route dumps through libuv's getifaddrs)
/// lists what it lists natively; it threw EAFNOSUPPORT.
#[test]
fn node_network_interfaces_match_native() {
    let Some(node) = node() else { return };
    let out = same(
        &[node.to_str().unwrap_or_default(), "-e", "console.log(JSON.stringify(require('os').networkInterfaces()))"],
        &[],
    );
    assert!(text(&out.stdout).contains("\"lo\":[{\"address\":\"127.0.0.1\""), "{}", text(&out.stdout));
}

#[test]
fn node_timers_and_promises_run_in_order() {
    let Some(node) = node() else { return };
    same(&[node.to_str().unwrap_or_default(), "-e", NODE_TIMERS], &[]);
}

const NODE_CHILDREN: &str = r#"
const cp = require('child_process');
console.log(cp.execSync('echo sync child').toString().trim());
const c = cp.spawn('sh', ['-c', 'echo spawned; exit 3']);
c.stdout.on('data', d => process.stdout.write('from child: ' + d));
c.on('exit', code => console.log('child exit', code));
setTimeout(() => console.log('timer after the children'), 50);
"#;

/// Node running children (`execSync`, `spawn`) and timers ends as natively:
/// at its exit a libuv thread's infinite `epoll_wait` returned 0 in hx (a
/// ready descriptor closed before it was reported), and Node aborted.
#[test]
fn node_child_processes_and_exit_match_native() {
    let Some(node) = node() else { return };
    for _ in 0..3 {
        same(&[node.to_str().unwrap_or_default(), "-e", NODE_CHILDREN], &[]);
    }
}
