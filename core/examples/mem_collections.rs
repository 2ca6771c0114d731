//! Memory of lists and hashes, emberkv against a real redis-server loaded
//! with the same data in the same run.
//!
//! ```text
//! cargo run --release -p emberkv --example mem_collections [lists|ltrim|hash|all]
//! ```
//!
//! - `lists`: 100,000 lists of 50 messages of 100 bytes, appended one RPUSH at a time.
//! - `ltrim`: the same lists kept by LPUSH + LTRIM 0 49 (120 pushes each).
//! - `hash`:  one hash of 1,000,000 fields (`field:<i>` → 16-byte value), one HSET each.
//!
//! For emberkv it prints the growth of the process's heap as the allocator
//! sees it (every live block's usable size plus malloc's 8-byte header, from
//! a counting global allocator), the growth of RSS, and emberkv's own INFO
//! `used_memory`; for Redis, the growth of `used_memory` (jemalloc's
//! allocated bytes). redis-server must be installed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

unsafe extern "C" {
    fn malloc_usable_size(ptr: *mut u8) -> usize;
}

/// Counts live heap bytes: usable size plus glibc's chunk header.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

fn footprint(p: *mut u8) -> isize {
    // SAFETY: p is a live block from the system allocator.
    (unsafe { malloc_usable_size(p) } + 8) as isize
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded to the system allocator with the same layout.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(footprint(p), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(footprint(p), Ordering::Relaxed);
        // SAFETY: p came from alloc/realloc with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let before = footprint(p);
        // SAFETY: p came from this allocator with layout l.
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            LIVE.fetch_add(footprint(q) - before, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rss() -> isize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: isize = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn mb(n: isize) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

// ----- a pipelining RESP client for redis-server -----

struct Redis {
    child: Child,
    w: TcpStream,
    r: BufReader<TcpStream>,
    pending: usize,
    buf: Vec<u8>,
    dir: std::path::PathBuf,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("emberkv-mem-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
            .expect("redis-server must be installed");
        let deadline = Instant::now() + Duration::from_secs(5);
        let s = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                break s;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let r = BufReader::new(s.try_clone().unwrap());
        Redis {
            child,
            w: s,
            r,
            pending: 0,
            buf: Vec::new(),
            dir,
        }
    }

    fn send(&mut self, argv: &[&[u8]]) {
        self.buf
            .extend_from_slice(format!("*{}\r\n", argv.len()).as_bytes());
        for a in argv {
            self.buf
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.buf.extend_from_slice(a);
            self.buf.extend_from_slice(b"\r\n");
        }
        self.pending += 1;
        if self.pending >= 5000 {
            self.sync();
        }
    }

    fn sync(&mut self) {
        self.w.write_all(&self.buf).unwrap();
        self.buf.clear();
        while self.pending > 0 {
            let mut line = String::new();
            self.r.read_line(&mut line).unwrap();
            assert!(!line.starts_with('-'), "redis error: {line}");
            if let Some(n) = line.strip_prefix('$') {
                let n: i64 = n.trim().parse().unwrap();
                if n >= 0 {
                    let mut b = vec![0; n as usize + 2];
                    self.r.read_exact(&mut b).unwrap();
                }
            }
            self.pending -= 1;
        }
    }

    fn used_memory(&mut self) -> isize {
        self.sync();
        self.w
            .write_all(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
            .unwrap();
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        let n: usize = line[1..].trim().parse().unwrap();
        let mut b = vec![0; n + 2];
        self.r.read_exact(&mut b).unwrap();
        let text = String::from_utf8_lossy(&b);
        text.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ember_used_memory(c: &mut emberkv::Client) -> isize {
    let r = c.execute(&["INFO", "memory"]);
    let text = String::from_utf8_lossy(r.as_bytes().unwrap_or_default()).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .map_or(0, |v| v.trim().parse().unwrap_or(0))
}

/// Runs one command on both sides.
type Run<'a> = dyn FnMut(&[&[u8]]) + 'a;

/// Loads the same commands into both and prints the memory each used.
fn compare(name: &str, commands: &mut dyn FnMut(&mut Run)) {
    let mut redis = Redis::start();
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let r0 = redis.used_memory();
    let (heap0, rss0, info0) = (
        LIVE.load(Ordering::Relaxed),
        rss(),
        ember_used_memory(&mut c),
    );
    let t = Instant::now();
    commands(&mut |argv| {
        c.execute(argv);
        redis.send(argv);
    });
    let r1 = redis.used_memory();
    let (heap1, rss1, info1) = (
        LIVE.load(Ordering::Relaxed),
        rss(),
        ember_used_memory(&mut c),
    );
    println!("{name} (loaded in {:.1?})", t.elapsed());
    println!("  redis-server used_memory growth : {}", mb(r1 - r0));
    println!(
        "  emberkv heap growth (allocator)  : {}  ({:.2}x redis)",
        mb(heap1 - heap0),
        (heap1 - heap0) as f64 / (r1 - r0) as f64
    );
    println!(
        "  emberkv RSS growth               : {}  ({:.2}x redis)",
        mb(rss1 - rss0),
        (rss1 - rss0) as f64 / (r1 - r0) as f64
    );
    println!("  emberkv INFO used_memory growth  : {}", mb(info1 - info0));
}

fn message(list: usize, j: usize) -> Vec<u8> {
    let mut m = format!("{{\"from\":\"user{}\",\"n\":{j},\"text\":\"", list % 977).into_bytes();
    m.resize(98, b'x');
    m.extend_from_slice(b"\"}");
    m
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    if what == "lists" || what == "all" {
        compare(
            "100k lists x 50 x 100-byte messages, RPUSH one at a time",
            &mut |run| {
                for j in 0..50 {
                    for i in 0..100_000usize {
                        let key = format!("chat:{i}");
                        run(&[b"RPUSH", key.as_bytes(), &message(i, j)]);
                    }
                }
            },
        );
    }
    if what == "ltrim" || what == "all" {
        compare(
            "100k lists x 50 x 100-byte messages, LPUSH + LTRIM 0 49 (120 pushes each)",
            &mut |run| {
                for j in 0..120 {
                    for i in 0..100_000usize {
                        let key = format!("chat:{i}");
                        run(&[b"LPUSH", key.as_bytes(), &message(i, j)]);
                        run(&[b"LTRIM", key.as_bytes(), b"0", b"49"]);
                    }
                }
            },
        );
    }
    if what == "hash" || what == "all" {
        compare(
            "1 hash x 1M fields (field:<i> -> 16-byte value), HSET one at a time",
            &mut |run| {
                for i in 0..1_000_000usize {
                    let f = format!("field:{i}");
                    let v = format!("value-{:010}", i * 7919 % 10_000_000_000);
                    run(&[b"HSET", b"bighash", f.as_bytes(), v.as_bytes()]);
                }
            },
        );
    }
}
