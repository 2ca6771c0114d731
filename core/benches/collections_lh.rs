//! Lists and hashes through `Client::execute`, one thread: LPUSH, LRANGE of
//! 50 on a 1,000-element list, HSET and HGETALL on a 10-field hash.
//!
//! `cargo bench -p emberkv --bench collections_lh`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn lists(c: &mut Criterion) {
    let db = emberkv::Db::in_memory();
    let mut cl = db.client();
    let mut g = c.benchmark_group("list");
    g.throughput(Throughput::Elements(1));
    let mut n = 0u64;
    g.bench_function("lpush", |b| {
        b.iter(|| {
            n += 1;
            // keep the list bounded: a fresh key every million pushes
            let key: &[u8] = if n % 2_000_000 < 1_000_000 {
                b"bench:l1"
            } else {
                b"bench:l2"
            };
            if n.is_multiple_of(1_000_000) {
                cl.execute(&[&b"DEL"[..], key]);
            }
            black_box(cl.execute(&[&b"LPUSH"[..], key, b"message-1234"]))
        })
    });
    for i in 0..1000 {
        cl.execute(&["RPUSH", "bench:range", &format!("element-{i}")]);
    }
    g.bench_function("lrange_0_49_of_1000", |b| {
        b.iter(|| black_box(cl.execute(&["LRANGE", "bench:range", "0", "49"])))
    });
    g.bench_function("rpush_rpop", |b| {
        b.iter(|| {
            cl.execute(&["RPUSH", "bench:q", "job-payload"]);
            black_box(cl.execute(&["RPOP", "bench:q"]))
        })
    });
    g.finish();
}

fn hashes(c: &mut Criterion) {
    let db = emberkv::Db::in_memory();
    let mut cl = db.client();
    for i in 0..10 {
        cl.execute(&[
            "HSET",
            "bench:h",
            &format!("field{i}"),
            &format!("value-{i}"),
        ]);
    }
    let fields: Vec<String> = (0..10).map(|i| format!("field{i}")).collect();
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Elements(1));
    let mut n = 0usize;
    g.bench_function("hset_10_fields", |b| {
        b.iter(|| {
            n += 1;
            black_box(cl.execute(&["HSET", "bench:h", &fields[n % 10], "new-value"]))
        })
    });
    g.bench_function("hget_10_fields", |b| {
        b.iter(|| {
            n += 1;
            black_box(cl.execute(&["HGET", "bench:h", &fields[n % 10]]))
        })
    });
    g.bench_function("hgetall_10_fields", |b| {
        b.iter(|| black_box(cl.execute(&["HGETALL", "bench:h"])))
    });
    g.finish();
}

criterion_group!(benches, lists, hashes);
criterion_main!(benches);
