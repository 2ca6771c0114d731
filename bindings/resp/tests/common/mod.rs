//! Helpers for the RESP front end's tests: an in-process server on a free
//! loopback port, a raw socket client, redis-cli, and (when installed) a
//! real redis-server to compare bytes with.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emberkv::{Config, Db};
use emberkv_resp::{Listener, Options};

pub struct Server {
    pub db: Db,
    pub listener: Listener,
    pub port: u16,
}

impl Server {
    pub fn start() -> Server {
        Server::with(&[], Options::default())
    }

    /// A Db configured with `params` (redis.conf names), served on a free port.
    pub fn with(params: &[(&str, &str)], opts: Options) -> Server {
        let mut cfg = Config::default();
        for (k, v) in params {
            cfg.set(k, v).expect("valid test parameter");
        }
        let db = Db::open(cfg).expect("open");
        let listener = emberkv_resp::listen(&db, "tcp://127.0.0.1:0", opts).expect("listen");
        let port = listener.local_addr().port().expect("tcp");
        Server { db, listener, port }
    }

    pub fn connect(&self) -> Raw {
        Raw::connect(self.port)
    }
}

/// A raw connection: bytes in, bytes out.
pub struct Raw {
    pub s: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_nodelay(true).ok();
        Raw { s }
    }

    pub fn send(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("write");
    }

    /// Sends a command as a multibulk.
    pub fn cmd(&mut self, argv: &[&str]) {
        let b = encode(argv);
        self.send(&b);
    }

    /// Reads what arrives until `quiet` passes without new bytes (or the
    /// peer closes). Returns (bytes, closed).
    pub fn read_for(&mut self, quiet: Duration) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        self.s.set_read_timeout(Some(quiet)).unwrap();
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return (out, true),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return (out, false);
                }
                Err(_) => return (out, true),
            }
        }
    }

    /// Reads until exactly `want` has arrived (or fails after 5 s).
    pub fn expect(&mut self, want: &[u8]) {
        let got = self.read_exact_len(want.len());
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
    }

    pub fn read_exact_len(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        self.s
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        self.s.read_exact(&mut out).expect("reply in time");
        out
    }

    /// Reads one complete RESP value (RESP2 or RESP3) and returns its bytes.
    pub fn read_value(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.s
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        read_one(&mut self.s, &mut out);
        out
    }

    /// Waits for the server to close the connection (true) within `d`.
    pub fn closed_within(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut buf = [0u8; 4096];
        self.s
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        while Instant::now() < deadline {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    }
}

fn read_line(s: &mut TcpStream, out: &mut Vec<u8>) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        s.read_exact(&mut b).expect("reply in time");
        out.push(b[0]);
        line.push(b[0]);
        if line.ends_with(b"\r\n") {
            line.truncate(line.len() - 2);
            return line;
        }
    }
}

fn read_one(s: &mut TcpStream, out: &mut Vec<u8>) {
    let line = read_line(s, out);
    let n: i64 = std::str::from_utf8(&line[1..])
        .ok()
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    match line[0] {
        b'$' | b'=' | b'!' if n >= 0 => {
            let mut b = vec![0u8; n as usize + 2];
            s.read_exact(&mut b).expect("payload");
            out.extend_from_slice(&b);
        }
        b'*' | b'~' | b'>' => {
            for _ in 0..n.max(0) {
                read_one(s, out);
            }
        }
        b'%' => {
            for _ in 0..n.max(0) * 2 {
                read_one(s, out);
            }
        }
        _ => {}
    }
}

pub fn encode(argv: &[&str]) -> Vec<u8> {
    let mut b = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        b.extend_from_slice(a.as_bytes());
        b.extend_from_slice(b"\r\n");
    }
    b
}

/// Runs redis-cli against `port` with `args`; stdout as text.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    redis_cli_input(port, args, None)
}

pub fn redis_cli_input(port: u16, args: &[&str], stdin: Option<&[u8]>) -> String {
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed (apt-get install redis-tools)");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null"))
        .status()
        .is_ok_and(|s| s.success())
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on port {port}");
}

/// Whether `child` serves on `port`: its own `process_id` in `INFO server`
/// there (the port may have gone to another test's server meanwhile; then
/// `child` exits, "Address already in use").
fn serves(child: &mut Child, port: u16) -> bool {
    let want = format!("process_id:{}\r\n", child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            if s.write_all(b"INFO server\r\n").is_ok() {
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(want.len()).any(|w| w == want.as_bytes()) {
                        return true;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A child server process (emberkv-server or redis-server), stopped on drop.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Proc {
    pub fn emberkv(args: &[&str]) -> Proc {
        let port = free_port();
        let dir = tempdir("ekv-server");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_emberkv-server"));
        // A config file comes first, as for redis-server.
        let (file, args) = match args.split_first() {
            Some((f, rest)) if !f.starts_with("--") => (Some(*f), rest),
            _ => (None, args),
        };
        cmd.args(file)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().expect("emberkv-server starts");
        wait_port(port);
        Proc { child, port, dir }
    }

    /// A real redis-server, if installed.
    pub fn redis(args: &[&str]) -> Option<Proc> {
        if !have("redis-server") {
            return None;
        }
        let dir = tempdir("redis-server");
        for _ in 0..10 {
            let port = free_port();
            let mut child = Command::new("redis-server")
                .arg("--port")
                .arg(port.to_string())
                .args(["--save", "", "--appendonly", "no"])
                .args(args)
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            if serves(&mut child, port) {
                return Some(Proc { child, port, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn tempdir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Resident memory of this process in bytes (Linux).
pub fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

pub fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim_end().strip_prefix(&format!("{name}:")))
}
