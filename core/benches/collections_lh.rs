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

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

const CLOCK_THREAD_CPUTIME_ID: i32 = 3;

fn thread_cpu_ns() -> u64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

/// The calling thread's CPU time, in nanoseconds.
struct CpuTime;

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &NsFormatter
    }
}

struct NsFormatter;

impl ValueFormatter for NsFormatter {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (f, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else {
            (1e-6, "ms")
        };
        values.iter_mut().for_each(|v| *v *= f);
        unit
    }
    fn scale_throughputs(&self, typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let per = match *t {
            Throughput::Elements(n) | Throughput::ElementsAndBytes { elements: n, .. } => n as f64,
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => n as f64,
            Throughput::Bits(n) => n as f64,
        };
        let (f, unit) = if per * 1e9 / typical < 1e6 {
            (1e-3, "Kelem/s")
        } else {
            (1e-6, "Melem/s")
        };
        values.iter_mut().for_each(|v| *v = per * 1e9 / *v * f);
        unit
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

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
