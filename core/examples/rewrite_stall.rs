//! Writer stalls during an AOF rewrite (issue 4: "writers blocked for at
//! most a few milliseconds"): 1M keys, one thread SETs random keys and
//! records each call's latency while BGREWRITEAOF runs; prints the worst
//! and the p99.9 during the rewrite.
//!
//! `cargo run --release -p emberkv --example rewrite_stall`

use std::time::{Duration, Instant};

use emberkv::{Config, Db};

fn main() {
    let dir = std::env::temp_dir().join(format!("emberkv-stall-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("save", "").unwrap();
    c.set("auto-aof-rewrite-percentage", "0").unwrap();
    let db = Db::open(c).unwrap();
    let mut cl = db.client();
    for i in 0..1_000_000u64 {
        cl.execute(&["SET", &format!("user:{i}"), "0123456789abcdef"]);
    }
    for base in ["yes", "no"] {
        db.execute(&["CONFIG", "SET", "aof-use-rdb-preamble", base]);
        let mut lat = Vec::new();
        let mut x: u64 = 88172645463325252;
        let r = db.execute(&["BGREWRITEAOF"]);
        let start = Instant::now();
        loop {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = format!("user:{}", x % 1_000_000);
            let t = Instant::now();
            cl.execute(&["SET", &k, "fedcba9876543210"]);
            lat.push(t.elapsed());
            let info = if lat.len() % 1000 == 0 {
                Some(db.execute(&["INFO", "persistence"]))
            } else {
                None
            };
            if let Some(i) = info
                && String::from_utf8_lossy(i.as_bytes().unwrap())
                    .contains("aof_rewrite_in_progress:0")
            {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        let took = start.elapsed();
        lat.sort();
        println!(
            "rdb preamble {base}: {r:?}, rewrite {:.2} s, {} SETs during it, worst {:.2} ms, p99.9 {:.1} µs",
            took.as_secs_f64(),
            lat.len(),
            lat.last().unwrap().as_secs_f64() * 1e3,
            lat[lat.len() * 999 / 1000].as_secs_f64() * 1e6
        );
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
