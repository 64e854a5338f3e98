//! The reference server against slow and idle clients: heads that never finish, bodies that
//! are promised and never sent, and idle connections under a low open-files limit are all
//! closed after their timeout, and `/healthz` keeps answering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longer than any timeout set here by far: a connection still open after it was never closed.
const PATIENCE: Duration = Duration::from_secs(20);

struct Serve {
    child: Child,
    addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `flashbench serve --backend memory` with `args`, under `ulimit -n` `files` when given.
fn serve(args: &str, files: Option<u32>) -> Serve {
    let exe = env!("CARGO_BIN_EXE_flashbench");
    let limit = files.map_or(String::new(), |n| format!("ulimit -n {n} && "));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{limit}exec '{exe}' serve --listen 127.0.0.1:0 --quiet --backend memory {args}"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("flashbench serve");
    let stdout = child.stdout.take().expect("stdout");
    let line = BufReader::new(stdout).lines().next().expect("a line").expect("utf8");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("url");
    Serve { child, addr: url.trim_start_matches("http://").to_string() }
}

fn open(addr: &str, sent: &[u8]) -> TcpStream {
    // The default soft limit (1,024) is too low for the 1,000 connections held here.
    let _ = rlimit::increase_nofile_limit(4096);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).expect("timeout");
    s.write_all(sent).expect("write");
    s
}

/// Reads until the server closes; what it sent. Fails if it is still open after [`PATIENCE`].
fn until_closed(mut s: TcpStream, what: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&got).into_owned()
            }
            Err(e) => panic!("{what}: still open after {PATIENCE:?} ({e})"),
        }
    }
}

fn healthz(addr: &str) -> String {
    let s = open(addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    until_closed(s, "/healthz")
}

#[test]
fn slow_heads_and_idle_keep_alive_connections_are_closed_after_the_head_timeout() {
    let srv = serve("--header-timeout 1s", None);
    let started = Instant::now();
    let mut held = Vec::new();
    for i in 0..1000 {
        let sent: &[u8] = match i % 3 {
            0 => b"",
            1 => b"POST /orders HTTP/1.1\r\nhost: x\r\ncontent-ty",
            _ => b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
        };
        held.push((i, open(&srv.addr, sent)));
    }
    for (i, s) in held {
        let got = until_closed(s, &format!("connection {i}"));
        if i % 3 == 2 {
            assert!(got.starts_with("HTTP/1.1 200"), "the answered one got {got:?}");
        } else {
            assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "connection {i} got {got:?}");
        }
    }
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "closed before the timeout: {took:?}");
    assert!(healthz(&srv.addr).starts_with("HTTP/1.1 200"), "/healthz answers after 1,000 slow clients");
}

#[test]
fn a_promised_body_that_never_comes_is_a_408_and_a_huge_one_a_413_at_once() {
    let srv = serve("--body-timeout 1s", None);
    let head = |len: usize| {
        format!("POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n")
    };
    // 10 MB promised: refused on its head, without waiting for any of it.
    let started = Instant::now();
    let got = until_closed(open(&srv.addr, head(10_000_000).as_bytes()), "10 MB promised");
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    assert!(got.contains("body_too_large"), "{got}");
    assert!(started.elapsed() < Duration::from_secs(1), "a 413 waits for nothing: {:?}", started.elapsed());
    // 1,000 bytes promised, 5 sent: 408 once the body timeout has passed, then closed.
    let started = Instant::now();
    let got = until_closed(open(&srv.addr, format!("{}{{\"pro", head(1000)).as_bytes()), "1,000 bytes promised");
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("body_timeout"), "{got}");
    assert!(started.elapsed() >= Duration::from_secs(1), "before the timeout: {:?}", started.elapsed());
    assert!(healthz(&srv.addr).starts_with("HTTP/1.1 200"));
}

#[test]
fn idle_connections_under_a_low_open_files_limit_do_not_starve_healthz() {
    // 128 open files, 260 idle connections: without a cap and a timeout, accept runs out of
    // files and the idle ones are never closed, so /healthz waits forever in the backlog.
    let srv = serve("--header-timeout 1s", Some(128));
    let idle: Vec<TcpStream> = (0..260).map(|_| open(&srv.addr, b"")).collect();
    let got = healthz(&srv.addr);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    for (i, s) in idle.into_iter().enumerate() {
        until_closed(s, &format!("idle connection {i}"));
    }
}

#[test]
fn an_explicit_connection_cap_holds_the_rest_in_the_backlog_until_one_closes() {
    let srv = serve("--max-connections 2 --header-timeout 30s", None);
    // Two keep-alive connections take the two places and are answered.
    let mut first = open(&srv.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    let mut second = open(&srv.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    for s in [&mut first, &mut second] {
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).expect("an answer");
        assert_eq!(&buf, b"HTTP/1.1 200");
    }
    // A third waits: nothing comes back while both are held.
    let mut third = open(&srv.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    third.set_read_timeout(Some(Duration::from_millis(500))).expect("timeout");
    let mut buf = [0u8; 12];
    let early = third.read(&mut buf);
    assert!(early.is_err(), "served past the cap of 2: {early:?}");
    // One closes: the third is accepted and answered.
    drop(first);
    third.set_read_timeout(Some(PATIENCE)).expect("timeout");
    assert!(until_closed(third, "the third").starts_with("HTTP/1.1 200"));
}

#[test]
fn a_zero_timeout_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--header-timeout", "0s"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("above zero"));
}
