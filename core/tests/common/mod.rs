//! Shared test support: a real redis-server started on loopback in a temp
//! dir (stopped by PID on drop), a minimal RESP2 client for it, and the
//! case-file notation for replies.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server process owned by the test.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` if it is installed; `None` otherwise (unless
    /// `EMBERKV_REQUIRE_REDIS=1`, which CI sets, in which case it panics).
    pub fn start() -> Option<RedisServer> {
        let require = std::env::var("EMBERKV_REQUIRE_REDIS").is_ok_and(|v| v == "1");
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        if Command::new(&bin)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                !require,
                "redis-server not found but EMBERKV_REQUIRE_REDIS=1"
            );
            eprintln!("redis-server not installed: skipping the comparison with a real server");
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("emberkv-redis-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..20 {
            let port = free_port();
            let child = Command::new(&bin)
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .args(["--daemonize", "no", "--enable-debug-command", "yes"])
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut srv = RedisServer {
                child,
                port,
                dir: dir.clone(),
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(mut c) = RespConn::connect(port)
                    && c.command(&[b"PING".to_vec()]) == b"+PONG\r\n"
                {
                    return Some(srv);
                }
                if let Ok(Some(_)) = srv.child.try_wait() {
                    break; // port taken: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = srv.child.kill();
            let _ = srv.child.wait();
        }
        panic!("could not start redis-server");
    }

    pub fn conn(&self) -> RespConn {
        RespConn::connect(self.port).expect("connect to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A blocking RESP2 connection that returns each reply's raw bytes.
pub struct RespConn {
    r: BufReader<TcpStream>,
}

impl RespConn {
    pub fn connect(port: u16) -> std::io::Result<RespConn> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(RespConn {
            r: BufReader::new(s),
        })
    }

    pub fn command(&mut self, argv: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for a in argv {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&out).unwrap();
        let mut reply = Vec::new();
        self.read_reply(&mut reply);
        reply
    }

    fn read_reply(&mut self, out: &mut Vec<u8>) {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        out.extend_from_slice(&line);
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        match line[0] {
            b'$' if n >= 0 => {
                let mut buf = vec![0; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                out.extend_from_slice(&buf);
            }
            b'*' if n >= 0 => {
                for _ in 0..n {
                    self.read_reply(out);
                }
            }
            _ => {}
        }
    }
}

/// Splits a case line into arguments: whitespace-separated, with
/// double-quoted strings taking `\"`, `\\`, `\n`, `\r`, `\t`, `\xHH`.
pub fn split_args(line: &str) -> Vec<Vec<u8>> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut arg = Vec::new();
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                    match b[i] {
                        b'n' => arg.push(b'\n'),
                        b'r' => arg.push(b'\r'),
                        b't' => arg.push(b'\t'),
                        b'x' if i + 2 < b.len() => {
                            arg.push(
                                u8::from_str_radix(
                                    std::str::from_utf8(&b[i + 1..i + 3]).unwrap(),
                                    16,
                                )
                                .unwrap(),
                            );
                            i += 2;
                        }
                        c => arg.push(c),
                    }
                } else {
                    arg.push(b[i]);
                }
                i += 1;
            }
            i += 1;
        } else {
            while i < b.len() && !b[i].is_ascii_whitespace() {
                arg.push(b[i]);
                i += 1;
            }
        }
        out.push(arg);
    }
    out
}

/// RESP bytes as one printable line: `\r\n` kept as text, other
/// non-printables as `\xHH`, backslash doubled.
pub fn escape(resp: &[u8]) -> String {
    let mut s = String::new();
    for &c in resp {
        match c {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

pub fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Splits a RESP2 array reply into its top-level elements (raw bytes each);
/// None if not an array.
pub fn array_elements(resp: &[u8]) -> Option<Vec<Vec<u8>>> {
    if resp.first() != Some(&b'*') {
        return None;
    }
    let mut pos = 0;
    let (n, next) = header(resp, pos);
    pos = next;
    let mut out = Vec::new();
    for _ in 0..n.max(0) {
        let end = skip(resp, pos);
        out.push(resp[pos..end].to_vec());
        pos = end;
    }
    Some(out)
}

fn header(b: &[u8], pos: usize) -> (i64, usize) {
    let end = pos + b[pos..].windows(2).position(|w| w == b"\r\n").unwrap();
    let n = std::str::from_utf8(&b[pos + 1..end])
        .unwrap()
        .parse()
        .unwrap_or(0);
    (n, end + 2)
}

fn skip(b: &[u8], pos: usize) -> usize {
    let (n, next) = header(b, pos);
    match b[pos] {
        b'$' if n >= 0 => next + n as usize + 2,
        b'*' if n >= 0 => {
            let mut p = next;
            for _ in 0..n {
                p = skip(b, p);
            }
            p
        }
        _ => next,
    }
}

/// Compares two RESP2 replies; `unordered` compares array elements as a multiset.
pub fn same_reply(a: &[u8], b: &[u8], unordered: bool) -> bool {
    if !unordered {
        return a == b;
    }
    match (array_elements(a), array_elements(b)) {
        (Some(mut x), Some(mut y)) => {
            x.sort();
            y.sort();
            x == y
        }
        _ => a == b,
    }
}

impl RespConn {
    /// Reads one more reply (e.g. a pushed pub/sub message).
    pub fn read(&mut self) -> Vec<u8> {
        let mut reply = Vec::new();
        self.read_reply(&mut reply);
        reply
    }
}

/// argv from string slices.
pub fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}
