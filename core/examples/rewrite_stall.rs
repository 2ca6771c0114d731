//! Writer stalls during a background snapshot (issue 4: the AOF rewrite
//! blocks writers "for at most a few milliseconds"; issue 5: the same for
//! BGSAVE): 1M keys, one thread SETs random keys and records each call's
//! latency while BGREWRITEAOF (RDB base, then RESP base) and then BGSAVE
//! run; prints the worst call and the p99.9 during each, in wall time and
//! in the calling thread's CPU time (which leaves out the time the thread
//! was not running, so it shows the work a call did — a slot copy — even on
//! a loaded machine).
//!
//! `cargo run --release -p emberkv --example rewrite_stall [keys]`

use std::time::{Duration, Instant};

use emberkv::{Config, Db};

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let keys: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
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
    for i in 0..keys {
        cl.execute(&["SET", &format!("user:{i}"), "0123456789abcdef"]);
    }
    let runs = [
        (
            "BGREWRITEAOF, RDB base",
            "yes",
            "BGREWRITEAOF",
            "aof_rewrite_in_progress:0",
        ),
        (
            "BGREWRITEAOF, RESP base",
            "no",
            "BGREWRITEAOF",
            "aof_rewrite_in_progress:0",
        ),
        ("BGSAVE", "yes", "BGSAVE", "rdb_bgsave_in_progress:0"),
    ];
    let mut x: u64 = 88172645463325252;
    for (name, base, cmd, done) in runs {
        db.execute(&["CONFIG", "SET", "aof-use-rdb-preamble", base]);
        let mut wall = Vec::new();
        let mut cpu = Vec::new();
        let r = db.execute(&[cmd]);
        let start = Instant::now();
        loop {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = format!("user:{}", x % keys);
            let (t, c) = (Instant::now(), thread_cpu());
            cl.execute(&["SET", &k, "fedcba9876543210"]);
            cpu.push(thread_cpu() - c);
            wall.push(t.elapsed());
            if wall.len() % 1000 == 0 {
                let info = db.execute(&["INFO", "persistence"]);
                if String::from_utf8_lossy(info.as_bytes().unwrap()).contains(done) {
                    break;
                }
            }
            if start.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        let took = start.elapsed();
        wall.sort();
        cpu.sort();
        let p999 = |v: &[Duration]| v[v.len() * 999 / 1000].as_secs_f64() * 1e6;
        println!(
            "{name}: {r:?}, {:.2} s, {} SETs during it; wall worst {:.2} ms p99.9 {:.1} µs; \
             thread CPU worst {:.2} ms p99.9 {:.1} µs",
            took.as_secs_f64(),
            wall.len(),
            wall.last().unwrap().as_secs_f64() * 1e3,
            p999(&wall),
            cpu.last().unwrap().as_secs_f64() * 1e3,
            p999(&cpu),
        );
    }
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
