//! Memory of a 1M-member sorted set (and a 1M-member set) in emberkv against
//! redis-server's `used_memory` for the same data, measured in one run.
//!
//! `cargo run --release -p emberkv --example zset_memory`
//!
//! emberkv's side is counted by a global allocator wrapper: bytes requested
//! and bytes malloc actually reserved (`malloc_usable_size`, what Redis's
//! `used_memory` counts for jemalloc); the process RSS growth is shown too.
//! Redis's side is `INFO memory` used_memory before and after loading the
//! same commands into a fresh redis-server (skipped if it is not installed).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

unsafe extern "C" {
    fn malloc_usable_size(p: *mut u8) -> usize;
}

struct Counting;
static REQUESTED: AtomicUsize = AtomicUsize::new(0);
static USABLE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only adds bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            REQUESTED.fetch_add(l.size(), Ordering::Relaxed);
            USABLE.fetch_add(unsafe { malloc_usable_size(p) }, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        REQUESTED.fetch_sub(l.size(), Ordering::Relaxed);
        USABLE.fetch_sub(unsafe { malloc_usable_size(p) }, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let old_usable = unsafe { malloc_usable_size(p) };
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            REQUESTED.fetch_add(new, Ordering::Relaxed);
            REQUESTED.fetch_sub(l.size(), Ordering::Relaxed);
            USABLE.fetch_add(unsafe { malloc_usable_size(q) }, Ordering::Relaxed);
            USABLE.fetch_sub(old_usable, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

const N: usize = 1_000_000;

fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    s.split_whitespace()
        .nth(1)
        .and_then(|x| x.parse::<usize>().ok())
        .unwrap_or(0)
        * 4096
}

/// The load: `ZADD key score member …` (or `SADD key member …`) in batches of 1000.
fn commands(zset: bool) -> Vec<Vec<Vec<u8>>> {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let mut out = Vec::new();
    for start in (0..N).step_by(1000) {
        let mut argv = vec![
            if zset {
                b"ZADD".to_vec()
            } else {
                b"SADD".to_vec()
            },
            b"big".to_vec(),
        ];
        for i in start..start + 1000 {
            if zset {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let score = (x >> 11) as f64 / (1u64 << 53) as f64 * 1e6;
                argv.push(format!("{score}").into_bytes());
            }
            argv.push(format!("member:{i}").into_bytes());
        }
        out.push(argv);
    }
    out
}

fn resp(argv: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

struct Redis {
    child: std::process::Child,
    r: BufReader<TcpStream>,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("emberkv-zmem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let child = Command::new("redis-server")
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
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                return Some(Redis {
                    child,
                    r: BufReader::new(s),
                    dir,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    fn read_reply(&mut self) -> Vec<u8> {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        if line[0] == b'$' {
            let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
                .unwrap()
                .parse()
                .unwrap();
            if n >= 0 {
                let mut buf = vec![0; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                return buf;
            }
        }
        line
    }

    fn command(&mut self, argv: &[Vec<u8>]) -> Vec<u8> {
        self.r.get_mut().write_all(&resp(argv)).unwrap();
        self.read_reply()
    }

    fn used_memory(&mut self) -> usize {
        let info = self.command(&[b"INFO".to_vec(), b"memory".to_vec()]);
        let text = String::from_utf8_lossy(&info);
        text.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn measure(zset: bool, redis: &mut Option<Redis>) {
    let what = if zset {
        "sorted set (ZADD score member:N)"
    } else {
        "set (SADD member:N)"
    };
    let cmds = commands(zset);
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let (req0, use0, rss0) = (
        REQUESTED.load(Ordering::Relaxed),
        USABLE.load(Ordering::Relaxed),
        rss(),
    );
    for argv in &cmds {
        c.execute(argv);
    }
    let card = c.execute(&[if zset { "ZCARD" } else { "SCARD" }, "big"]);
    let enc = c.execute(&["OBJECT", "ENCODING", "big"]);
    let (req1, use1, rss1) = (
        REQUESTED.load(Ordering::Relaxed),
        USABLE.load(Ordering::Relaxed),
        rss(),
    );
    let per = |b: usize| b as f64 / N as f64;
    println!("{N}-member {what}");
    println!("  emberkv  {card:?} {enc:?}");
    println!(
        "    requested  {:>12} bytes  {:>6.1} B/member",
        req1 - req0,
        per(req1 - req0)
    );
    println!(
        "    usable     {:>12} bytes  {:>6.1} B/member",
        use1 - use0,
        per(use1 - use0)
    );
    println!(
        "    RSS growth {:>12} bytes  {:>6.1} B/member",
        rss1.saturating_sub(rss0),
        per(rss1.saturating_sub(rss0))
    );
    if let Some(r) = redis {
        r.command(&[b"FLUSHALL".to_vec()]);
        let before = r.used_memory();
        for argv in &cmds {
            r.command(argv);
        }
        let after = r.used_memory();
        let enc = r.command(&[b"OBJECT".to_vec(), b"ENCODING".to_vec(), b"big".to_vec()]);
        println!(
            "  redis-server used_memory growth {:>12} bytes  {:>6.1} B/member ({})",
            after - before,
            per(after - before),
            String::from_utf8_lossy(&enc).trim()
        );
        r.command(&[b"FLUSHALL".to_vec()]);
    }
    drop(c);
    db.close().ok();
}

fn main() {
    let mut redis = Redis::start();
    if redis.is_none() {
        println!("redis-server not available: emberkv figures only");
    }
    measure(true, &mut redis);
    measure(false, &mut redis);
}
