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
    /// The test gave the directory: leave it in place.
    keep_dir: bool,
}

impl RedisServer {
    /// Starts `redis-server` if it is installed; `None` otherwise (unless
    /// `EMBERKV_REQUIRE_REDIS=1`, which CI sets, in which case it panics).
    pub fn start() -> Option<RedisServer> {
        Self::start_with(None, &[])
    }

    /// Like `start`, in `dir` (kept on drop) when given, with extra
    /// arguments after the defaults (`--appendonly yes`, …): later ones win.
    pub fn start_with(dir: Option<&std::path::Path>, extra: &[&str]) -> Option<RedisServer> {
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
        let keep_dir = dir.is_some();
        let dir = dir.map(|d| d.to_path_buf()).unwrap_or_else(|| {
            std::env::temp_dir().join(format!("emberkv-redis-{}-{}", std::process::id(), unique()))
        });
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
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut srv = RedisServer {
                child,
                port,
                dir: dir.clone(),
                keep_dir,
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if answers(&srv.child, port) {
                    return Some(srv);
                }
                if let Ok(Some(_)) = srv.child.try_wait() {
                    break; // port taken: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = srv.child.kill();
            let _ = srv.child.wait();
            srv.keep_dir = true; // the next attempt uses it
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
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
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

/// Whether the redis-server process `child`, started on `port`, answers
/// there and has its data loaded: its own `process_id` in INFO (the port
/// may have gone to another test's server, which can also vanish
/// mid-reply) and `+PONG` (not `-LOADING`). Any I/O error is a "not yet".
pub fn answers(child: &Child, port: u16) -> bool {
    let Ok(mut c) = RespConn::connect(port) else {
        return false;
    };
    let Ok(info) = c.try_command(&[b"INFO".to_vec(), b"server".to_vec()]) else {
        return false;
    };
    let ours = format!("process_id:{}\r\n", child.id());
    info.windows(ours.len()).any(|w| w == ours.as_bytes())
        && c.try_command(&[b"PING".to_vec()])
            .is_ok_and(|r| r == b"+PONG\r\n")
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
        self.try_command(argv).expect("redis-server connection")
    }

    /// `command`, with the connection's I/O errors returned.
    pub fn try_command(&mut self, argv: &[Vec<u8>]) -> std::io::Result<Vec<u8>> {
        let mut out = format!("*{}\r\n", argv.len()).into_bytes();
        for a in argv {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&out)?;
        let mut reply = Vec::new();
        self.read_reply(&mut reply)?;
        Ok(reply)
    }

    fn read_reply(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line)?;
        if line.len() < 3 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        out.extend_from_slice(&line);
        let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        match line[0] {
            b'$' if n >= 0 => {
                let mut buf = vec![0; n as usize + 2];
                self.r.read_exact(&mut buf)?;
                out.extend_from_slice(&buf);
            }
            b'*' if n >= 0 => {
                for _ in 0..n {
                    self.read_reply(out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A small seeded xorshift generator for randomized tests.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
    /// Uniform in [lo, hi].
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / ((1u64 << 53) - 1) as f64
    }
    pub fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
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
        self.read_reply(&mut reply)
            .expect("redis-server connection");
        reply
    }

    /// The messages a subscriber receives until one mentions `done` (the
    /// marker a test publishes last), escaped.
    #[allow(dead_code)]
    pub fn read_until_done(&mut self) -> Vec<String> {
        let mut got = Vec::new();
        loop {
            let m = self.read();
            if m.windows(4).any(|w| w == b"done") {
                return got;
            }
            got.push(escape(&m));
        }
    }
}

/// argv from string slices.
pub fn argv(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// A temp directory removed on drop (unless `EMBERKV_KEEP_TMP=1`).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d =
            std::env::temp_dir().join(format!("emberkv-{tag}-{}-{}", std::process::id(), unique()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var("EMBERKV_KEEP_TMP").is_ok_and(|v| v == "1") {
            eprintln!("kept {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Copies a directory tree (files made writable).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            let mut perm = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dst, perm).unwrap();
        }
    }
}

/// A parsed RESP2 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Arr(Vec<Resp>),
}

pub fn parse_resp(b: &[u8]) -> Resp {
    fn go(b: &[u8], pos: &mut usize) -> Resp {
        let end = *pos + b[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let line = std::str::from_utf8(&b[*pos + 1..end]).unwrap().to_string();
        let tag = b[*pos];
        *pos = end + 2;
        match tag {
            b'+' => Resp::Simple(line),
            b'-' => Resp::Err(line),
            b':' => Resp::Int(line.parse().unwrap()),
            b'$' => {
                let n: i64 = line.parse().unwrap();
                if n < 0 {
                    return Resp::Nil;
                }
                let v = b[*pos..*pos + n as usize].to_vec();
                *pos += n as usize + 2;
                Resp::Bulk(v)
            }
            b'*' => {
                let n: i64 = line.parse().unwrap();
                if n < 0 {
                    return Resp::Nil;
                }
                Resp::Arr((0..n).map(|_| go(b, pos)).collect())
            }
            _ => panic!("bad RESP {:?}", String::from_utf8_lossy(b)),
        }
    }
    go(b, &mut 0)
}

/// Anything that answers commands with RESP2 bytes: a real server or emberkv.
pub trait Answer {
    fn ask(&mut self, argv: &[Vec<u8>]) -> Vec<u8>;
}

impl Answer for RespConn {
    fn ask(&mut self, argv: &[Vec<u8>]) -> Vec<u8> {
        self.command(argv)
    }
}

impl Answer for emberkv::Client {
    fn ask(&mut self, argv: &[Vec<u8>]) -> Vec<u8> {
        self.execute(argv).to_resp2()
    }
}

/// One key's contents, normalized: type, items (string: [bytes]; list in
/// order; set sorted; zset member/score pairs in order; hash field/value
/// pairs sorted by field), absolute expiry in ms.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyDump {
    pub typ: String,
    pub items: Vec<Vec<u8>>,
    pub expire_at_ms: Option<i64>,
}

pub type Dump = std::collections::BTreeMap<(usize, Vec<u8>), KeyDump>;

fn bulks(r: Resp) -> Vec<Vec<u8>> {
    match r {
        Resp::Arr(v) => v
            .into_iter()
            .map(|x| match x {
                Resp::Bulk(b) => b,
                other => format!("{other:?}").into_bytes(),
            })
            .collect(),
        Resp::Bulk(b) => vec![b],
        other => vec![format!("{other:?}").into_bytes()],
    }
}

fn sorted_pairs(flat: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
        .chunks(2)
        .map(|c| (c[0].clone(), c.get(1).cloned().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.into_iter().flat_map(|(a, b)| [a, b]).collect()
}

/// Every key of databases `0..ndbs`, read through commands.
pub fn dump(c: &mut dyn Answer, ndbs: usize) -> Dump {
    let mut out = Dump::new();
    for db in 0..ndbs {
        c.ask(&argv(&["SELECT", &db.to_string()]));
        let keys = bulks(parse_resp(&c.ask(&argv(&["KEYS", "*"]))));
        for k in keys {
            let a =
                |parts: &[&[u8]]| -> Vec<Vec<u8>> { parts.iter().map(|p| p.to_vec()).collect() };
            let typ = match parse_resp(&c.ask(&a(&[b"TYPE", &k]))) {
                Resp::Simple(s) => s,
                other => panic!("TYPE: {other:?}"),
            };
            let items = match typ.as_str() {
                "string" => bulks(parse_resp(&c.ask(&a(&[b"GET", &k])))),
                "list" => bulks(parse_resp(&c.ask(&a(&[b"LRANGE", &k, b"0", b"-1"])))),
                "set" => {
                    let mut v = bulks(parse_resp(&c.ask(&a(&[b"SMEMBERS", &k]))));
                    v.sort();
                    v
                }
                "zset" => bulks(parse_resp(&c.ask(&a(&[
                    b"ZRANGE",
                    &k,
                    b"0",
                    b"-1",
                    b"WITHSCORES",
                ])))),
                "hash" => sorted_pairs(bulks(parse_resp(&c.ask(&a(&[b"HGETALL", &k]))))),
                _ => vec![c.ask(&a(&[b"XRANGE", &k, b"-", b"+"]))],
            };
            let exp = match parse_resp(&c.ask(&a(&[b"PEXPIRETIME", &k]))) {
                Resp::Int(n) if n >= 0 => Some(n),
                _ => None,
            };
            out.insert(
                (db, k),
                KeyDump {
                    typ,
                    items,
                    expire_at_ms: exp,
                },
            );
        }
    }
    c.ask(&argv(&["SELECT", "0"]));
    out
}

/// The contents a fixture's `*.expected.json` describes, in `dump`'s form.
pub fn dump_from_json(text: &str) -> Dump {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let bstr = |x: &serde_json::Value| -> Vec<u8> {
        match x {
            serde_json::Value::String(s) => s.as_bytes().to_vec(),
            serde_json::Value::Object(o) => hex(o["hex"].as_str().unwrap()),
            other => panic!("not a bstr: {other}"),
        }
    };
    let mut out = Dump::new();
    for (db, keys) in v["databases"].as_object().unwrap() {
        let db: usize = db.parse().unwrap();
        for (_, k) in keys.as_object().unwrap() {
            let key = hex(k["key_hex"].as_str().unwrap());
            let typ = k["type"].as_str().unwrap().to_string();
            let val = &k["value"];
            let items = match typ.as_str() {
                "string" => vec![bstr(val)],
                "list" | "set" => val.as_array().unwrap().iter().map(bstr).collect(),
                "zset" | "hash" => val
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|p| {
                        let p = p.as_array().unwrap();
                        [bstr(&p[0]), bstr(&p[1])]
                    })
                    .collect(),
                _ => vec![val.to_string().into_bytes()],
            };
            out.insert(
                (db, key),
                KeyDump {
                    typ,
                    items,
                    expire_at_ms: k["expire_at_ms"].as_i64(),
                },
            );
        }
    }
    out
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// The commands of an AOF file, one line each, the arguments joined by
/// spaces (annotation lines such as `#TS:…` kept as they are).
pub fn aof_commands(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    let line = |pos: &mut usize| {
        let end = *pos + bytes[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let s = String::from_utf8_lossy(&bytes[*pos + 1..end]).into_owned();
        *pos = end + 2;
        s
    };
    while pos < bytes.len() {
        if bytes[pos] == b'#' {
            // an annotation (`#TS:…`), kept as its line
            let end = pos + bytes[pos..].iter().position(|&b| b == b'\n').unwrap();
            out.push(String::from_utf8_lossy(&bytes[pos..end - 1]).into_owned());
            pos = end + 1;
            continue;
        }
        let n: usize = line(&mut pos).parse().unwrap();
        let mut parts = Vec::new();
        for _ in 0..n {
            let len: usize = line(&mut pos).parse().unwrap();
            parts.push(String::from_utf8_lossy(&bytes[pos..pos + len]).into_owned());
            pos += len + 2;
        }
        out.push(parts.join(" "));
    }
    out
}
