//! Strings through `Client::execute` on a keyspace of 1M keys: GET hit, GET
//! miss, SET, INCR, MGET of 10 keys, and GET from 2 threads.
//!
//! `cargo bench -p emberkv --bench strings`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use emberkv::Db;

// As every binary emberkv ships (server, C library, Python and Node modules):
// used memory is counted, and the heap it grows is on huge pages.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

const KEYS: usize = 1_000_000;

fn populated() -> Db {
    let db = Db::in_memory();
    let mut c = db.client();
    for i in 0..KEYS {
        c.execute(&[
            b"SET".to_vec(),
            format!("user:{i}").into_bytes(),
            b"0123456789abcdef".to_vec(),
        ]);
    }
    db
}

fn keys(n: usize) -> Vec<Vec<u8>> {
    // a fixed pseudo-random walk over the keyspace
    let mut x: u64 = 0x2545F4914F6CDD1D;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("user:{}", x % KEYS as u64).into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let db = populated();
    let ks = keys(1 << 16);
    let mut g = c.benchmark_group("strings");
    g.throughput(Throughput::Elements(1));
    g.measurement_time(Duration::from_secs(3));
    let mut cl = db.client();
    let mut i = 0usize;
    g.bench_function("GET hit", |b| {
        b.iter(|| {
            i = (i + 1) & 0xffff;
            black_box(cl.execute(&[&b"GET"[..], &ks[i]]));
        })
    });
    g.bench_function("GET miss", |b| {
        b.iter(|| {
            i = (i + 1) & 0xffff;
            black_box(cl.execute(&[&b"GET"[..], b"nosuchkey"]));
        })
    });
    g.bench_function("SET", |b| {
        b.iter(|| {
            i = (i + 1) & 0xffff;
            black_box(cl.execute(&[&b"SET"[..], &ks[i], b"fedcba9876543210"]));
        })
    });
    g.bench_function("INCR", |b| {
        b.iter(|| {
            i = (i + 1) & 0xff;
            black_box(cl.execute(&[&b"INCR"[..], &ks[i + 0x8000]]));
        })
    });
    g.bench_function("MGET 10", |b| {
        b.iter(|| {
            i = (i + 10) & 0xfff0;
            let mut argv: Vec<&[u8]> = vec![b"MGET"];
            argv.extend(ks[i..i + 10].iter().map(|k| k.as_slice()));
            black_box(cl.execute(&argv));
        })
    });
    for threads in [1usize, 2] {
        g.bench_function(format!("GET hit, {threads} thread(s), per op"), |b| {
            b.iter_custom(|iters| {
                let per = (iters as usize).div_ceil(threads);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let db = db.clone();
                        let ks = &ks;
                        s.spawn(move || {
                            let mut cl = db.client();
                            for n in 0..per {
                                black_box(
                                    cl.execute(&[&b"GET"[..], &ks[(n * 7 + t * 4096) & 0xffff]]),
                                );
                            }
                        });
                    }
                });
                // criterion divides by `iters`: the wall time of `iters`
                // operations at the threads' combined rate (they ran
                // `per * threads` ≥ `iters`)
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (per * threads) as f64)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
