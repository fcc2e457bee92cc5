//! Sockets inside hx: TCP and UDP over loopback with a native peer on the
//! other side (a server in hx on a published port, a client in hx reaching
//! a native server), AF_UNIX (pairs, paths, abstract names, SCM_RIGHTS),
//! non-blocking connects and edge-triggered epoll over 200 connections at
//! once, socket options, and the network policy (`--net`, `-p`). The C
//! side is tests/programs/net.c; where the result is the program's own, it
//! is compared with a native run of the same binary (stdout and status).
//! Every process runs under `timeout -s KILL`, every program under alarm(),
//! every socket the test holds has a timeout: nothing here can hang.
mod common;

use common::{build, free_port, status_code, text, Flavor, HX_RUN};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

const FLAVORS: [Flavor; 2] = [Flavor::GlibcDynamic, Flavor::MuslStatic];
/// Seconds after which any process a test starts is killed.
const KILL_AFTER: &str = "20";
/// How long the test's own sockets wait for the other side.
const WAIT: Duration = Duration::from_secs(20);

fn net(flavor: Flavor) -> PathBuf {
    build("net", flavor, &[])
}

/// `exe args` natively (`hx` None) or in hx-run with flags, under
/// `timeout -s KILL`, in the fresh directory `dir`.
fn command(hx: Option<&[&str]>, exe: &Path, args: &[&str], dir: &Path) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-s", "KILL", KILL_AFTER]);
    if let Some(flags) = hx {
        c.arg(HX_RUN).args(flags);
    }
    c.arg(exe).args(args).current_dir(dir).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

fn run(hx: Option<&[&str]>, exe: &Path, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    command(hx, exe, args, dir.path()).output().unwrap()
}

/// Runs `net args` natively and in hx-run (`hx_flags`) and asserts the
/// same stdout and exit status; returns the hx run.
fn same(flavor: Flavor, args: &[&str], hx_flags: &[&str]) -> Output {
    let exe = net(flavor);
    let n = run(None, &exe, args);
    let h = run(Some(hx_flags), &exe, args);
    assert_same(&format!("{args:?} ({flavor:?})"), &n, &h);
    h
}

fn assert_same(what: &str, n: &Output, h: &Output) {
    assert_eq!(
        text(&h.stdout),
        text(&n.stdout),
        "{what}: stdout differs (in hx: status {}, stderr {:?}; natively: status {}, stderr {:?})",
        status_code(h),
        text(&h.stderr),
        status_code(n),
        text(&n.stderr)
    );
    assert_eq!(status_code(h), status_code(n), "{what}: exit status differs (stderr in hx: {})", text(&h.stderr));
}

fn sub_test(args: &[&str]) {
    for flavor in FLAVORS {
        same(flavor, args, &[]);
    }
}

/// A program that serves: started, its first line read (it prints one
/// when ready), then finished after the test has talked to it.
struct Server {
    child: Child,
    out: BufReader<ChildStdout>,
    err: ChildStderr,
    first: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(hx: Option<&[&str]>, exe: &Path, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::start_in(hx, exe, args, dir)
    }

    fn start_in(hx: Option<&[&str]>, exe: &Path, args: &[&str], dir: tempfile::TempDir) -> Server {
        let mut child = command(hx, exe, args, dir.path()).spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let err = child.stderr.take().unwrap();
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let s = Server { child, out, err, first, _dir: dir };
        if s.first.is_empty() {
            let o = s.finish();
            panic!("{args:?} did not start: status {}, stderr {}", status_code(&o), text(&o.stderr));
        }
        s
    }

    /// Waits for the end (`timeout` kills it if it does not end); the
    /// output includes the first line.
    fn finish(mut self) -> Output {
        let mut stdout = std::mem::take(&mut self.first).into_bytes();
        self.out.read_to_end(&mut stdout).unwrap();
        let mut stderr = Vec::new();
        self.err.read_to_end(&mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        Output { status, stdout, stderr }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Ends a server left running by a failed assertion: `timeout` leads
        // its own process group (hx-run and the guest's monitors are in it).
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) of the process group of a child we started and have not reaped.
            unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

fn tcp_connect(addr: (&str, u16)) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => {
                s.set_read_timeout(Some(WAIT)).unwrap();
                s.set_write_timeout(Some(WAIT)).unwrap();
                return s;
            }
            Err(e) if start.elapsed() > WAIT => panic!("cannot connect to {addr:?}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Sends `data` on a new connection (from a second thread, then shuts
/// down the sending side) and returns everything read back until EOF.
fn echo_through(addr: (&str, u16), data: Vec<u8>) -> Vec<u8> {
    let mut s = tcp_connect(addr);
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    back
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 13) as u8).collect()
}

// ---- TCP and UDP with a native peer ----

/// The C echo server on `ip`:`port`, natively or in hx with `-p port:port`,
/// serving native clients; returns both outputs.
fn echo_server_both_ways(flavor: Flavor, ip: &str, sizes: &[usize]) {
    let exe = net(flavor);
    let port = free_port();
    let publish = format!("{port}:{port}");
    let p = port.to_string();
    let n = sizes.len().to_string();
    let args = ["tcp_server", ip, &p, &n];
    let mut outs = Vec::new();
    for hx in [None, Some(&["-p", publish.as_str()][..])] {
        let server = Server::start(hx, &exe, &args);
        let shown = if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
        assert!(server.first.starts_with(&format!("listening on {shown} ")), "{}", server.first);
        for (i, &size) in sizes.iter().enumerate() {
            let data = pattern(size, i as u32);
            let back = echo_through((ip, port), data.clone());
            assert!(back == data, "connection {i} ({size} bytes, hx: {}): the echo differs", hx.is_some());
        }
        outs.push(server.finish());
    }
    assert_same(&format!("tcp_server on {ip} ({flavor:?})"), &outs[0], &outs[1]);
}

#[test]
fn a_tcp_echo_server_in_hx_on_a_published_port_serves_native_clients() {
    for flavor in FLAVORS {
        echo_server_both_ways(flavor, "127.0.0.1", &[5, 0, 3_000_000]);
    }
    echo_server_both_ways(Flavor::GlibcDynamic, "::1", &[100_000]);
}

#[test]
fn a_published_port_shows_in_the_guest_as_its_guest_port() {
    let exe = net(Flavor::MuslStatic);
    // A server on guest port 80, reached from the host at a free port.
    let host = free_port();
    let server = Server::start(Some(&["-p", &format!("{host}:80")]), &exe, &["tcp_server", "127.0.0.1", "80", "1"]);
    assert_eq!(server.first, "listening on 127.0.0.1:80 (len 16)\n");
    assert_eq!(echo_through(("127.0.0.1", host), b"to port 80".to_vec()), b"to port 80");
    let out = server.finish();
    assert_eq!(
        text(&out.stdout),
        "listening on 127.0.0.1:80 (len 16)\n\
         connection 0 from 127.0.0.1 (len 16), local 127.0.0.1:80\n\
         connection 0: 10 bytes, fnv 663fc4b5\n\
         server done\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(status_code(&out), 0);
    // A client in the guest reaches its own server at the guest port over
    // loopback, and sees that port on both ends, as natively with no mapping.
    let guest = free_port();
    let (host, g) = (free_port(), guest.to_string());
    let n = run(None, &exe, &["tcp_self", "127.0.0.1", &g]);
    let h = run(Some(&["-p", &format!("{host}:{guest}")]), &exe, &["tcp_self", "127.0.0.1", &g]);
    assert_same("tcp_self behind -p", &n, &h);
}

/// A native echo server for `runs` connections on `ip`; returns its port.
fn native_echo_server(ip: &str, runs: usize) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming().take(runs) {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                s.set_read_timeout(Some(WAIT)).unwrap();
                let mut r = s.try_clone().unwrap();
                let _ = std::io::copy(&mut r, &mut s);
            });
        }
    });
    port
}

#[test]
fn a_c_client_in_hx_talks_to_a_native_tcp_server() {
    let port = native_echo_server("127.0.0.1", 2 * FLAVORS.len()).to_string();
    sub_test(&["tcp_client", "127.0.0.1", &port]);
    let port = native_echo_server("::1", 2).to_string();
    same(Flavor::GlibcDynamic, &["tcp_client", "::1", &port], &[]);
}

/// A native UDP server answering each datagram in upper case, until it
/// has been idle for a while.
fn native_udp_upper(ip: &str) -> u16 {
    let sock = UdpSocket::bind((ip, 0)).unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let _ = sock.send_to(&buf[..n].to_ascii_uppercase(), from);
        }
    });
    port
}

#[test]
fn udp_datagrams_from_hx_to_a_native_server_and_back() {
    let port = native_udp_upper("127.0.0.1").to_string();
    sub_test(&["udp_client", "127.0.0.1", &port]);
    let port = native_udp_upper("::1").to_string();
    same(Flavor::MuslStatic, &["udp_client", "::1", &port], &[]);
}

#[test]
fn a_udp_server_in_hx_on_a_published_port_answers_a_native_client() {
    for flavor in FLAVORS {
        let exe = net(flavor);
        let port = free_port();
        let publish = format!("{port}:{port}/udp");
        let p = port.to_string();
        let mut outs = Vec::new();
        for hx in [None, Some(&["-p", publish.as_str()][..])] {
            let server = Server::start(hx, &exe, &["udp_server", "127.0.0.1", &p, "3"]);
            assert_eq!(server.first, format!("bound to 127.0.0.1:{port}\n"));
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(WAIT)).unwrap();
            c.connect(("127.0.0.1", port)).unwrap();
            for msg in ["first", "second datagram", "3rd"] {
                c.send(msg.as_bytes()).unwrap();
                let mut buf = [0u8; 64];
                let n = c.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], msg.to_ascii_uppercase().as_bytes());
            }
            outs.push(server.finish());
        }
        assert_same(&format!("udp_server ({flavor:?})"), &outs[0], &outs[1]);
    }
}

// ---- AF_UNIX ----

#[test]
fn unix_socketpairs_of_every_type_keep_boundaries_and_report_eof_and_epipe() {
    sub_test(&["unix_pair"]);
}

#[test]
fn unix_sockets_on_paths_in_tmp() {
    sub_test(&["unix_path"]);
}

#[test]
fn unix_sockets_on_abstract_names_and_autobind() {
    sub_test(&["unix_abstract"]);
}

#[test]
fn scm_rights_passes_a_pipe_a_file_and_a_socket() {
    sub_test(&["scm_rights"]);
}

#[test]
fn scm_rights_with_room_for_fewer_descriptors_truncates_as_linux() {
    sub_test(&["scm_ctrunc"]);
}

#[test]
fn sigpipe_is_raised_for_unix_stream_sockets_only() {
    sub_test(&["sigpipe"]);
}

#[test]
fn a_server_sees_and_answers_a_path_bound_unix_client() {
    sub_test(&["unix_path_peers"]);
}

#[test]
fn the_guest_does_not_reach_the_hosts_abstract_sockets() {
    let name = format!("hx-net-test-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    let exe = net(Flavor::MuslStatic);
    let n = run(None, &exe, &["unix_connect_abstract", &name]);
    assert_eq!((text(&n.stdout).as_str(), status_code(&n)), ("connect: ok\n", 0));
    let h = run(Some(&[]), &exe, &["unix_connect_abstract", &name]);
    assert_eq!((text(&h.stdout).as_str(), status_code(&h)), ("connect: ECONNREFUSED\n", 3), "{}", text(&h.stderr));
}

#[test]
fn a_unix_socket_the_guest_binds_in_its_directory_serves_a_host_client() {
    let exe = net(Flavor::GlibcDynamic);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    let server = Server::start_in(Some(&[]), &exe, &["unix_serve_path", "sock"], dir);
    assert_eq!(server.first, "listening\n");
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"from the host").unwrap();
    let mut back = [0u8; 64];
    let n = s.read(&mut back).unwrap();
    assert_eq!(&back[..n], b"FROM THE HOST");
    let out = server.finish();
    assert_eq!(text(&out.stdout), "listening\nanswered 'FROM THE HOST'\n", "{}", text(&out.stderr));
    assert_eq!(status_code(&out), 0);
}

// ---- Many connections ----

/// `epoll_echo n`: n non-blocking connects from a forked client, echoed by
/// its parent, both in edge-triggered epoll loops of 64 events at a time.
fn epoll_echo(flavor: Flavor, n: usize) {
    let out = same(flavor, &["epoll_echo", &n.to_string()], &[]);
    let out = text(&out.stdout);
    for line in [
        format!("clients: {n} connects in progress, 0 done at once\n"),
        format!("clients: {n} finished, 0 failed, {n} still open at once\n"),
        format!("server: accepted {n} (0 more)"),
    ] {
        assert!(out.contains(&line), "{line:?} missing from:\n{out}");
    }
    assert!(out.contains("0 connections short, 0 bytes wrong"), "{out}");
}

#[test]
fn nonblocking_connects_and_an_edge_triggered_epoll_echo_over_50_connections() {
    for flavor in FLAVORS {
        epoll_echo(flavor, 50);
    }
}

#[test]
fn nonblocking_connects_and_an_edge_triggered_epoll_echo_over_200_connections() {
    // More descriptors ready at once than one epoll_wait returns (64): each
    // must still get its turn.
    epoll_echo(Flavor::MuslStatic, 200);
}

#[test]
fn blocking_sockets_on_four_threads_and_a_poll_server_over_200_connections() {
    // Enough vCPUs that a thread blocked in a socket call never waits for one.
    let out = same(Flavor::GlibcDynamic, &["threads_echo", "200", "4"], &["--cpus", "8"]);
    assert!(text(&out.stdout).contains("all open at once: 1"), "{}", text(&out.stdout));
    same(Flavor::MuslStatic, &["threads_echo", "40", "2"], &["--cpus", "8"]);
}

#[test]
fn threads_blocked_in_recv_leave_the_others_running_on_two_vcpus() {
    // Three threads wait in recv() on two vCPUs; the main thread must still
    // run to send them something.
    same(Flavor::MuslStatic, &["blocked_readers", "3"], &["--cpus", "2"]);
}

// ---- Socket options ----

#[test]
fn socket_options_and_so_error_after_a_refused_nonblocking_connect() {
    let out = same(Flavor::GlibcDynamic, &["sockopt"], &[]);
    let out = text(&out.stdout);
    for line in [
        "SO_REUSEADDR = 1 (len 4)\n",
        "TCP_NODELAY = 1 (len 4)\n",
        "SO_RCVBUF = 131072 (len 4)\n",
        "connect: EINPROGRESS\n",
        "SO_ERROR: ECONNREFUSED\n",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    same(Flavor::MuslStatic, &["sockopt"], &[]);
}

// ---- sendmmsg/recvmmsg, SO_REUSEPORT, IPV6_V6ONLY, name resolution ----

#[test]
fn sendmmsg_and_recvmmsg_between_udp_sockets_on_loopback() {
    // Counts, contents, truncation, MSG_DONTWAIT with fewer queued than
    // asked for, MSG_WAITFORONE, a bad address in the second message.
    sub_test(&["mmsg_udp"]);
}

#[test]
fn sendmmsg_and_recvmmsg_on_unix_datagram_and_seqpacket_pairs() {
    sub_test(&["mmsg_unix"]);
}

/// Two loopback ports free now for TCP and UDP, different from each other.
fn two_free_ports() -> (u16, u16) {
    let a = free_port();
    loop {
        let b = free_port();
        if b != a {
            return (a, b);
        }
    }
}

/// `net NAME PORT` natively on a free PORT, in hx on guest port PORT
/// published at another host port (TCP, and UDP with `udp`), and in hx
/// with `--net host`: the same stdout and status each time.
fn same_on_a_published_port(flavor: Flavor, name: &str, udp: bool) {
    let exe = net(flavor);
    let (guest, host) = two_free_ports();
    let g = guest.to_string();
    let (tcp_spec, udp_spec) = (format!("{host}:{guest}"), format!("{host}:{guest}/udp"));
    let mut flags = vec!["-p", tcp_spec.as_str()];
    if udp {
        flags.extend(["-p", udp_spec.as_str()]);
    }
    let n = run(None, &exe, &[name, &g]);
    let h = run(Some(&flags), &exe, &[name, &g]);
    assert_same(&format!("{name} behind -p ({flavor:?})"), &n, &h);
    let h = run(Some(&["--net", "host"]), &exe, &[name, &g]);
    assert_same(&format!("{name} with --net host ({flavor:?})"), &n, &h);
}

#[test]
fn so_reuseport_lets_two_sockets_share_a_port_and_without_it_eaddrinuse() {
    for flavor in FLAVORS {
        same_on_a_published_port(flavor, "reuseport", true);
    }
}

#[test]
fn ipv6_v6only_decides_whether_ipv4_clients_reach_a_listener_on_the_any_address() {
    for flavor in FLAVORS {
        same_on_a_published_port(flavor, "v6only", false);
    }
}

#[test]
fn getaddrinfo_and_getnameinfo_resolve_localhost_and_numeric_addresses() {
    // From the guest's /etc/hosts (the host's, mounted read-only); nothing
    // reaches DNS.
    sub_test(&["resolve"]);
}

// ---- Read-only mounts, publishing on a host address ----

#[test]
fn binding_a_unix_socket_in_a_read_only_mount_fails_with_erofs() {
    let dir = tempfile::tempdir().unwrap();
    let (ro, rw) = (format!("{}:/ro:ro", dir.path().display()), format!("{}:/rw:rw", dir.path().display()));
    let erofs = "bind stream: EROFS\nbind dgram: EROFS\nbind seqpacket: EROFS\nthe path exists: ENOENT\n";
    let ok = "bind stream: ok\nbind dgram: ok\nbind seqpacket: ok\nthe path exists: ENOENT\n";
    for flavor in FLAVORS {
        let exe = net(flavor);
        let out = run(Some(&["--mount", &ro]), &exe, &["unix_bind", "/ro/sock"]);
        assert_eq!(lines(&out), (erofs.into(), String::new(), 0), "{flavor:?}");
        // The program's own directory is mounted read-only by default.
        let beside = exe.with_file_name("sock");
        let out = run(Some(&[]), &exe, &["unix_bind", beside.to_str().unwrap()]);
        assert_eq!(lines(&out), (erofs.into(), String::new(), 0), "{flavor:?}, beside the program");
        // The same directory mounted read-write, and natively.
        let out = run(Some(&["--mount", &rw]), &exe, &["unix_bind", "/rw/sock"]);
        assert_eq!(lines(&out), (ok.into(), String::new(), 0), "{flavor:?}, read-write");
        let out = run(None, &exe, &["unix_bind", dir.path().join("sock").to_str().unwrap()]);
        assert_eq!(lines(&out), (ok.into(), String::new(), 0), "{flavor:?}, natively");
    }
    assert!(dir.path().read_dir().unwrap().next().is_none(), "a socket file was left behind");
}

/// `tcp_server IP GUEST 2` natively (clients at GUEST) and in hx with
/// `-p 127.0.0.1:HOST:GUEST` (native clients at 127.0.0.1:HOST); asserts
/// the echoes and the same output.
fn served_behind_a_loopback_publish(flavor: Flavor, ip: &str) {
    let exe = net(flavor);
    let (guest, host) = (free_port(), free_port());
    let g = guest.to_string();
    let publish = format!("127.0.0.1:{host}:{guest}");
    let args = ["tcp_server", ip, &g, "2"];
    let mut outs = Vec::new();
    for (hx, port) in [(None, guest), (Some(&["-p", publish.as_str()][..]), host)] {
        let server = Server::start(hx, &exe, &args);
        for (i, size) in [10, 200_000].into_iter().enumerate() {
            let data = pattern(size, i as u32);
            let back = echo_through(("127.0.0.1", port), data.clone());
            assert!(back == data, "{ip}, connection {i} (hx: {}): the echo differs", hx.is_some());
        }
        outs.push(server.finish());
    }
    assert_same(&format!("tcp_server on {ip} behind -p {publish} ({flavor:?})"), &outs[0], &outs[1]);
}

#[test]
fn a_port_published_on_127_0_0_1_reaches_a_guest_server_from_a_native_client() {
    for flavor in FLAVORS {
        served_behind_a_loopback_publish(flavor, "127.0.0.1");
    }
}

#[test]
fn a_guest_server_on_0_0_0_0_published_on_127_0_0_1_sees_the_address_it_bound() {
    // As in a container: the server binds every address; the host publishes
    // the port on loopback only; getsockname is still the address bound.
    for flavor in FLAVORS {
        served_behind_a_loopback_publish(flavor, "0.0.0.0");
    }
}

// ---- The network policy ----

fn hx_net(flags: &[&str], args: &[&str]) -> Output {
    run(Some(flags), &net(Flavor::MuslStatic), args)
}

fn lines(out: &Output) -> (String, String, i32) {
    (text(&out.stdout), text(&out.stderr), status_code(out))
}

#[test]
fn binding_an_unpublished_port_is_refused_with_a_hint() {
    let port = free_port();
    let p = port.to_string();
    let hint = |udp: &str| {
        format!(
            "hx-run: the guest's bind() to port {port}{udp} was refused (EACCES): \
             publish it with -p HOST_PORT:{port}{udp}, or use --net host\n"
        )
    };
    let out = hx_net(&[], &["bind_port", "tcp", "127.0.0.1", &p]);
    assert_eq!(lines(&out), ("bind: EACCES\n".into(), hint(""), 3));
    let out = hx_net(&[], &["bind_port", "udp", "0.0.0.0", &p]);
    assert_eq!(lines(&out), ("bind: EACCES\n".into(), hint("/udp"), 3));
    let out = hx_net(&[], &["bind_port", "tcp", "::1", &p]);
    assert_eq!(lines(&out), ("bind: EACCES\n".into(), hint(""), 3));
    // Published for UDP only: TCP is still refused.
    let out = hx_net(&["-p", &format!("{port}:{port}/udp")], &["bind_port", "tcp", "127.0.0.1", &p]);
    assert_eq!(lines(&out), ("bind: EACCES\n".into(), hint(""), 3));
    // Published, or with --net host, the same bind works.
    let bound = format!("bind: ok\nbound to 127.0.0.1:{port}\nlisten: ok\n");
    let out = hx_net(&["-p", &format!("{port}:{port}")], &["bind_port", "tcp", "127.0.0.1", &p]);
    assert_eq!(lines(&out), (bound.clone(), String::new(), 0));
    let out = hx_net(&["--net", "host"], &["bind_port", "tcp", "127.0.0.1", &p]);
    assert_eq!(lines(&out), (bound, String::new(), 0));
    let out = hx_net(&[], &["bind_port", "udp", "127.0.0.1", "0"]);
    assert_eq!(status_code(&out), 0, "port 0 is always allowed: {}", text(&out.stdout));
}

#[test]
fn listening_needs_a_published_port_or_loopback() {
    let out = hx_net(&[], &["listen_policy"]);
    let (stdout, stderr, status) = lines(&out);
    assert_eq!(
        stdout,
        "listen unbound: EACCES\n\
         listen on 0.0.0.0 port 0: EACCES\n\
         listen on 127.0.0.1 port 0: ok\n\
         listen on :: port 0: EACCES\n\
         listen on ::1 port 0: ok\n"
    );
    assert_eq!(status, 0);
    assert!(stderr.starts_with("hx-run: the guest's listen() on 0.0.0.0 port 0 was refused (EACCES)"), "{stderr}");
    // With --net host, as natively.
    same(Flavor::MuslStatic, &["listen_policy"], &["--net", "host"]);
}

#[test]
fn net_none_leaves_only_unix_sockets_and_no_way_out() {
    let out = hx_net(&["--net", "none"], &["families"]);
    assert_eq!(
        lines(&out),
        (
            "AF_INET stream: EAFNOSUPPORT\n\
             AF_INET dgram: EAFNOSUPPORT\n\
             AF_INET6 stream: EAFNOSUPPORT\n\
             AF_INET6 dgram: EAFNOSUPPORT\n\
             AF_UNIX stream: ok\n\
             AF_UNIX dgram: ok\n\
             AF_UNIX seqpacket: ok\n\
             AF_INET raw: EAFNOSUPPORT\n\
             AF_NETLINK: ok\n\
             AF_PACKET: EAFNOSUPPORT\n"
                .into(),
            String::new(),
            0
        )
    );
    // Netlink route sockets list a loopback interface alone, and refuse
    // changes to the network (as to a process without CAP_NET_ADMIN).
    let py = "import socket, struct\n\
              print(socket.if_nameindex())\n\
              s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)\n\
              s.send(struct.pack('=IHHII', 24, 20, 5, 1, 0) + struct.pack('BBBBI', 2, 8, 0, 0, 1))\n\
              r = s.recv(4096)\n\
              print(struct.unpack_from('=IHHII', r)[1], struct.unpack_from('i', r, 16)[0])\n";
    let out = Command::new(HX_RUN).args(["--net", "none", "/usr/bin/python3", "-c", py]).output().unwrap();
    assert_eq!(text(&out.stdout), "[(1, 'lo')]\n2 -1\n", "{}", text(&out.stderr));
    // By default: IP and netlink route sockets, but neither raw nor packet ones.
    let out = hx_net(&[], &["families"]);
    assert_eq!(
        text(&out.stdout),
        "AF_INET stream: ok\n\
         AF_INET dgram: ok\n\
         AF_INET6 stream: ok\n\
         AF_INET6 dgram: ok\n\
         AF_UNIX stream: ok\n\
         AF_UNIX dgram: ok\n\
         AF_UNIX seqpacket: ok\n\
         AF_INET raw: EPERM\n\
         AF_NETLINK: ok\n\
         AF_PACKET: EAFNOSUPPORT\n"
    );
    // A native listener the guest would reach by default, but not with --net none.
    for ip in ["127.0.0.1", "::1"] {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port().to_string();
        let out = hx_net(&["--net", "none"], &["connect_out", ip, &port]);
        assert_eq!(lines(&out), ("socket: EAFNOSUPPORT\n".into(), String::new(), 3));
        let py = format!(
            "import socket\n\
             try:\n    socket.create_connection(('{ip}', {port}), timeout=5)\n    print('connected')\n\
             except OSError as e:\n    print('refused', e.errno)\n"
        );
        let dir = tempfile::tempdir().unwrap();
        let out = command(Some(&["--net", "none"]), Path::new("/usr/bin/python3"), &["-c", &py], dir.path())
            .output()
            .unwrap();
        assert_eq!(text(&out.stdout), "refused 97\n", "{}", text(&out.stderr));
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "a connection from the guest arrived");
        let out = hx_net(&[], &["connect_out", ip, &port]);
        assert_eq!(lines(&out), ("socket: ok\nconnect: ok\n".into(), String::new(), 0));
        listener.set_nonblocking(false).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).unwrap();
        assert_eq!(got, "escaped");
    }
}

#[test]
fn a_published_port_in_use_stops_hx_run_before_the_program_starts() {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let out = hx_net(&["-p", &format!("{port}:80")], &["families"]);
    let (stdout, stderr, status) = lines(&out);
    assert_ne!(status, 0, "hx-run ran with a published port in use");
    assert_eq!(stdout, "", "the program ran");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.contains("-p") && stderr.contains(&port.to_string()), "{stderr}");

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let out = hx_net(&["-p", &format!("{port}:53/udp")], &["families"]);
    let (stdout, stderr, status) = lines(&out);
    assert_ne!(status, 0, "hx-run ran with a published port in use");
    assert_eq!(stdout, "", "the program ran");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.contains("-p") && stderr.contains(&port.to_string()), "{stderr}");
}

#[test]
fn a_bad_publish_spec_or_network_mode_is_a_usage_error() {
    for spec in ["80", "0:80", "8080:0", "abc:80", "8080:80/sctp", "70000:80", "1.2.3:8080:80", ""] {
        let out = hx_net(&["-p", spec], &["families"]);
        let (stdout, stderr, status) = lines(&out);
        assert_eq!(status, 2, "-p {spec:?}: {stderr}");
        assert_eq!(stdout, "", "-p {spec:?}: the program ran");
        assert!(stderr.contains("invalid value") && stderr.contains("--publish"), "-p {spec:?}: {stderr}");
    }
    let out = hx_net(&["--net", "bridged"], &["families"]);
    let (stdout, stderr, status) = lines(&out);
    assert_eq!((stdout.as_str(), status), ("", 2));
    assert!(stderr.contains("invalid value") && stderr.contains("--net"), "{stderr}");
}
