//! Lists and hashes through `Client::execute`, one thread: LPUSH, LRANGE of
//! 50 on a 1,000-element list, RPUSH+RPOP, HSET, HGET and HGETALL on a
//! 10-field hash.
//!
//! `cargo bench -p emberkv --bench collections_lh`
//!
//! Times are the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID), not
//! wall time: development machines here are shared, and CPU time is what a
//! command costs whatever else the machine runs. On an idle machine the two
//! agree for this single-threaded, never-blocking loop.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::CpuTime;

fn lists(c: &mut Criterion<CpuTime>) {
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

fn hashes(c: &mut Criterion<CpuTime>) {
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

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = lists, hashes
}
criterion_main!(benches);
