//! SET throughput and CPU cost per SET with the append-only file off and
//! under each fsync policy. CPU time (all threads, from /proc) is steadier
//! than wall time on a loaded machine.
//!
//! ```text
//! cargo run --release -p emberkv --example aof_throughput -- [threads] [seconds]
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use emberkv::{Config, Db};

/// User + system CPU time of this process so far.
fn cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // fields 14 and 15 (utime, stime) are at 11 and 12 after the ')'
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn open(policy: &str, dir: &std::path::Path) -> Db {
    if policy == "off" {
        return Db::in_memory();
    }
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("appendfsync", policy).unwrap();
    c.set("auto-aof-rewrite-percentage", "0").unwrap();
    Db::open(c).unwrap()
}

fn measure(policy: &str, threads: usize, secs: f64) -> (f64, f64) {
    let dir =
        std::env::temp_dir().join(format!("emberkv-aofbench-{}-{policy}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = open(policy, &dir);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let go = Arc::new(Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (db, stop, done, go) = (db.clone(), stop.clone(), done.clone(), go.clone());
            std::thread::spawn(move || {
                let mut c = db.client();
                let keys: Vec<Vec<u8>> = (0..4096)
                    .map(|i| format!("key:{t}:{i}").into_bytes())
                    .collect();
                go.wait();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        c.execute(&[&b"SET"[..], &keys[(n & 4095) as usize], b"0123456789abcdef"]);
                        n += 1;
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    go.wait();
    let (t0, c0) = (Instant::now(), cpu());
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in hs {
        h.join().unwrap();
    }
    let (wall, cpu_used) = (t0.elapsed(), cpu() - c0);
    let n = done.load(Ordering::Relaxed) as f64;
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (n / wall.as_secs_f64(), cpu_used.as_nanos() as f64 / n)
}

/// `AOF_COUNT=N POLICY=p`: exactly N SETs on one thread (for callgrind:
/// instructions per SET = difference between two N / difference of N).
fn count_mode(n: u64, policy: &str) {
    let dir = std::env::temp_dir().join(format!("emberkv-aofcount-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = open(policy, &dir);
    let mut c = db.client();
    let keys: Vec<Vec<u8>> = (0..4096).map(|i| format!("key:{i}").into_bytes()).collect();
    for i in 0..n {
        c.execute(&[&b"SET"[..], &keys[(i & 4095) as usize], b"0123456789abcdef"]);
    }
    drop(c);
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if let Ok(n) = std::env::var("AOF_COUNT") {
        let policy = std::env::var("POLICY").unwrap_or_else(|_| "everysec".into());
        return count_mode(n.parse().unwrap(), &policy);
    }
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    println!(
        "{threads} thread(s), {secs} s per run, SET of 16-byte values over 4096 keys per thread"
    );
    println!(
        "{:<10} {:>14} {:>14}",
        "appendfsync", "SET/s (wall)", "CPU ns/SET"
    );
    for round in 0..2 {
        for policy in ["off", "no", "everysec", "always"] {
            let (ops, ns) = measure(policy, threads, secs);
            println!(
                "{:<10} {:>14.0} {:>14.0}{}",
                policy,
                ops,
                ns,
                if round == 0 { "" } else { "  (again)" }
            );
        }
    }
}
