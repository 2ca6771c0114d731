//! SET throughput with the append-only file off and under each fsync policy,
//! from 1 and 8 threads (each thread its own client and keys).
//!
//! `cargo bench -p emberkv --bench aof`
//!
//! Targets (issue 4): `everysec` ≥ 80 % of the throughput without
//! persistence; `always` from 8 threads ≥ 4× `always` from 1 thread (group
//! commit: concurrent writers share one fsync).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use emberkv::{Config, Db};

fn open(policy: Option<&str>, dir: &std::path::Path) -> Db {
    let Some(p) = policy else {
        return Db::in_memory();
    };
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("appendfsync", p).unwrap();
    // measure appends, not rewrites
    c.set("auto-aof-rewrite-percentage", "0").unwrap();
    Db::open(c).unwrap()
}

/// `iters` SETs spread over `threads` threads; the wall time they took.
fn run(db: &Db, threads: u64, iters: u64) -> Duration {
    let per = iters.div_ceil(threads);
    let start = Arc::new(Barrier::new(threads as usize + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let mut c = db.client();
                let keys: Vec<Vec<u8>> = (0..1024)
                    .map(|i| format!("key:{t}:{i}").into_bytes())
                    .collect();
                start.wait();
                for i in 0..per {
                    c.execute(&[&b"SET"[..], &keys[(i & 1023) as usize], b"0123456789abcdef"]);
                }
            })
        })
        .collect();
    start.wait();
    let t = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    t.elapsed()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("aof_set");
    g.throughput(Throughput::Elements(1));
    for (name, policy) in [
        ("off", None),
        ("no", Some("no")),
        ("everysec", Some("everysec")),
        ("always", Some("always")),
    ] {
        for threads in [1u64, 8] {
            let dir = std::env::temp_dir().join(format!(
                "emberkv-bench-aof-{}-{name}-{threads}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let db = open(policy, &dir);
            if policy == Some("always") {
                g.sample_size(10);
                g.measurement_time(Duration::from_secs(8));
            } else {
                g.sample_size(20);
                g.measurement_time(Duration::from_secs(4));
            }
            g.bench_function(format!("{name}/{threads}t"), |b| {
                b.iter_custom(|iters| run(&db, threads, iters))
            });
            db.close().unwrap();
            drop(db);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
