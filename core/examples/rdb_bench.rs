//! RDB save/load speed and file size, emberkv's writer/reader against
//! redis-server on the same data:
//! - 1M string keys,
//! - 100k lists of 50 messages,
//! - one sorted set of 1M members.
//!
//! emberkv's side is the engine: the dataset built with commands in a `Db`
//! with a data directory, `Db::save` (SAVE) timed, then `Db::open` of the
//! directory (the dump loaded into the keyspace) timed; then the peak extra
//! RSS during a BGSAVE (`Db::bgsave`), without writers and with a writer
//! rewriting every key while the save runs (the worst case: every shard is
//! copied). redis-server's side is its SAVE (timed round trip) and its
//! start-up load ("DB loaded from disk" in its log). The example starts and
//! stops redis-server itself.
//!
//! `cargo run --release --example rdb_bench` (optional argument: a scale
//! factor, e.g. `0.1` for a quick run). Environment: `RDB_BENCH_ONLY=lists`
//! runs only the datasets whose name contains that text;
//! `RDB_BENCH_OURS_ONLY=1` skips redis-server (for profiling emberkv's side,
//! e.g. under callgrind with `--toggle-collect='*load_at_open*'`).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emberkv::{Config, Db};

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path, dbfile: &str) -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args([
                "--appendonly",
                "no",
                "--dbfilename",
                dbfile,
                "--logfile",
                "redis.log",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let r = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                s.write_all(b"PING\r\n").unwrap();
                let mut line = String::new();
                BufReader::new(s).read_line(&mut line).unwrap();
                if line.starts_with("+PONG") {
                    return r;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends commands pipelined (in batches), checking each reply is not an error.
    fn pipeline(&self, cmds: impl Iterator<Item = Vec<Vec<u8>>>) {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut w = BufWriter::with_capacity(1 << 20, s.try_clone().unwrap());
        let mut r = BufReader::new(s);
        let mut pending = 0;
        let mut line = String::new();
        let mut drain = |r: &mut BufReader<TcpStream>, n: &mut usize| {
            while *n > 0 {
                line.clear();
                r.read_line(&mut line).unwrap();
                assert!(!line.starts_with('-'), "{line}");
                *n -= 1;
            }
        };
        for argv in cmds {
            write!(w, "*{}\r\n", argv.len()).unwrap();
            for a in &argv {
                write!(w, "${}\r\n", a.len()).unwrap();
                w.write_all(a).unwrap();
                w.write_all(b"\r\n").unwrap();
            }
            pending += 1;
            if pending >= 1000 {
                w.flush().unwrap();
                drain(&mut r, &mut pending);
            }
        }
        w.flush().unwrap();
        drain(&mut r, &mut pending);
    }

    fn command(&self, argv: &[&str]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut out = format!("*{}\r\n", argv.len());
        for a in argv {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        s.write_all(out.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).unwrap();
        line
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// On-CPU time of a thread in seconds (`/proc/.../schedstat`, ns): robust
/// to other processes competing for the cores, unlike wall time.
fn cpu_secs(path: &str) -> f64 {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    s.split_whitespace()
        .next()
        .and_then(|x| x.parse::<f64>().ok())
        .unwrap_or(f64::NAN)
        / 1e9
}

fn self_cpu() -> f64 {
    cpu_secs("/proc/thread-self/schedstat")
}

fn loaded_seconds(dir: &Path) -> f64 {
    let log = std::fs::read_to_string(dir.join("redis.log")).unwrap();
    let line = log
        .lines()
        .rfind(|l| l.contains("DB loaded from disk"))
        .expect("load line in the redis log");
    let secs = line
        .split("disk: ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    secs.parse().unwrap()
}

fn msg(i: usize, j: usize) -> Vec<u8> {
    format!(
        "user{}: message {j} in room {i}, hello there how are you today?",
        i % 977
    )
    .into_bytes()
}

/// The commands that build a dataset in redis-server.
type Commands = Box<dyn Iterator<Item = Vec<Vec<u8>>>>;

struct Dataset {
    name: &'static str,
    keys: usize,
    commands: Box<dyn Fn() -> Commands>,
}

fn datasets(scale: f64) -> Vec<Dataset> {
    let n_str = (1_000_000.0 * scale) as usize;
    let n_lists = (100_000.0 * scale) as usize;
    let n_zset = (1_000_000.0 * scale) as usize;
    let score = |i: usize| ((i as u64).wrapping_mul(2654435761) % 10_000_000) as f64 / 100.0;
    vec![
        Dataset {
            name: "1M strings",
            keys: n_str,
            commands: Box::new(move || {
                Box::new((0..n_str).step_by(500).map(move |s| {
                    let mut argv = vec![b"MSET".to_vec()];
                    for i in s..(s + 500).min(n_str) {
                        argv.push(format!("key:{i:08}").into_bytes());
                        argv.push(format!("value-{i}-abcdefgh").into_bytes());
                    }
                    argv
                }))
            }),
        },
        Dataset {
            name: "100k lists x 50",
            keys: n_lists,
            commands: Box::new(move || {
                Box::new((0..n_lists).map(|i| {
                    let mut argv = vec![b"RPUSH".to_vec(), format!("room:{i}").into_bytes()];
                    argv.extend((0..50).map(|j| msg(i, j)));
                    argv
                }))
            }),
        },
        Dataset {
            name: "zset 1M members",
            keys: 1,
            commands: Box::new(move || {
                Box::new((0..n_zset).step_by(500).map(move |s| {
                    let mut argv = vec![b"ZADD".to_vec(), b"leaderboard".to_vec()];
                    for i in s..(s + 500).min(n_zset) {
                        argv.push(format!("{}", score(i)).into_bytes());
                        argv.push(format!("player:{i}").into_bytes());
                    }
                    argv
                }))
            }),
        },
    ]
}

/// (save wall, save cpu, load wall, load cpu, file size)
type Figures = (f64, f64, f64, f64, u64);

fn engine_cfg(dir: &Path) -> Config {
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("save", "").unwrap();
    c.set("dbfilename", "ours.rdb").unwrap();
    c
}

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// Peak RSS above the level before the BGSAVE, sampled every ms while it runs.
fn bgsave_peak(db: &Db, writer: Option<&dyn Fn()>) -> u64 {
    let base = rss_bytes();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_bytes());
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        })
    };
    std::thread::scope(|s| {
        let h = s.spawn(|| db.bgsave().unwrap());
        if let Some(w) = writer {
            w();
        }
        h.join().unwrap();
    });
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    sampler.join().unwrap().saturating_sub(base)
}

/// (save wall, save cpu, load wall, load cpu, file size), peak extra RSS
/// during BGSAVE (no writers, a writer rewriting every key).
fn ours(dir: &Path, d: &Dataset) -> (Figures, u64, u64) {
    let path = dir.join("ours.rdb");
    let _ = std::fs::remove_file(&path);
    let db = Db::open(engine_cfg(dir)).unwrap();
    for argv in (d.commands)() {
        let r = db.execute(&argv);
        assert!(!matches!(r, emberkv::Reply::Error(_)), "{r:?}");
    }
    let c = self_cpu();
    let t = Instant::now();
    db.save().unwrap();
    let save = t.elapsed().as_secs_f64();
    let save_cpu = self_cpu() - c;
    let size = std::fs::metadata(&path).unwrap().len();
    db.close().unwrap();
    drop(db);
    let c = self_cpu();
    let t = Instant::now();
    let db = Db::open(engine_cfg(dir)).unwrap();
    let load = t.elapsed().as_secs_f64();
    let load_cpu = self_cpu() - c;
    assert_eq!(
        db.execute(&["DBSIZE"]),
        emberkv::Reply::Int(d.keys as i64),
        "{}",
        d.name
    );
    let quiet = bgsave_peak(&db, None);
    // a writer overwriting every key while the save runs: every shard is
    // copied before the saver reaches it (the bound: one dataset copy)
    let rewrite_all = || {
        for argv in (d.commands)() {
            db.execute(&argv);
        }
    };
    let busy = bgsave_peak(&db, Some(&rewrite_all));
    db.close().unwrap();
    ((save, save_cpu, load, load_cpu, size), quiet, busy)
}

fn redis(dir: &Path, d: &Dataset) -> Figures {
    let _ = std::fs::remove_file(dir.join("dump.rdb"));
    let srv = Redis::start(dir, "dump.rdb");
    srv.pipeline((d.commands)());
    let stat = format!("/proc/{}/schedstat", srv.child.id());
    let c = cpu_secs(&stat);
    let t = Instant::now();
    assert!(srv.command(&["SAVE"]).starts_with("+OK"));
    let save = t.elapsed().as_secs_f64();
    let save_cpu = cpu_secs(&stat) - c;
    drop(srv);
    let size = std::fs::metadata(dir.join("dump.rdb")).unwrap().len();
    let _ = std::fs::remove_file(dir.join("redis.log"));
    let srv = Redis::start(dir, "dump.rdb");
    let load = loaded_seconds(dir);
    // Start-up plus load: start-up alone is a few ms.
    let load_cpu = cpu_secs(&format!("/proc/{}/schedstat", srv.child.id()));
    drop(srv);
    (save, save_cpu, load, load_cpu, size)
}

fn main() {
    let scale: f64 = std::env::args().nth(1).map_or(1.0, |s| s.parse().unwrap());
    let dir: PathBuf =
        std::env::temp_dir().join(format!("emberkv-rdb-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("Wall time, with on-CPU time in parentheses (the machine may be shared).");
    println!(
        "| dataset | emberkv SAVE | redis SAVE | emberkv load (Db::open) | redis load | emberkv file | redis file | size ratio | BGSAVE peak extra RSS (quiet / writer rewriting all) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let only = std::env::var("RDB_BENCH_ONLY").unwrap_or_default();
    for d in datasets(scale)
        .into_iter()
        .filter(|d| d.name.contains(&only))
    {
        let ((os, osc, ol, olc, osz), quiet, busy) = ours(&dir, &d);
        let (rs, rsc, rl, rlc, rsz) = if std::env::var("RDB_BENCH_OURS_ONLY").is_ok() {
            (f64::NAN, f64::NAN, f64::NAN, f64::NAN, 1)
        } else {
            redis(&dir, &d)
        };
        println!(
            "| {} | {:.3} s ({:.3}) | {:.3} s ({:.3}) | {:.3} s ({:.3}) | {:.3} s ({:.3}) | {:.1} MB | {:.1} MB | {:.3} | {:.0} MB / {:.0} MB |",
            d.name,
            os,
            osc,
            rs,
            rsc,
            ol,
            olc,
            rl,
            rlc,
            osz as f64 / 1e6,
            rsz as f64 / 1e6,
            osz as f64 / rsz as f64,
            quiet as f64 / 1e6,
            busy as f64 / 1e6
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
