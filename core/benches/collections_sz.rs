//! Sets and sorted sets through `Client::execute`, one thread.
//!
//! `cargo bench -p emberkv --bench collections_sz`
//!
//! Each benchmark cycles through pre-built argv vectors, so argument
//! formatting is not measured; the sorted-set benchmarks run against a
//! sorted set of 1M members with random scores. The 16,384-argv cycle keeps
//! the parts of the set its members touch in cache; the sorted-set reads
//! are also timed on fresh random argvs ("random", `fresh`), which reach
//! the whole set as a server's clients would. Times are the benchmark
//! thread's CPU time (`common/cpu_time.rs`), as in `collections_lh`.
//!
//! The two ZADD benchmarks build fresh argv vectors for every timed batch
//! (outside the timing): cycling a fixed table would replay pairs already
//! applied, and from the second lap on every ZADD would be a no-op (member
//! present with that score) instead of an update or an insert.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use emberkv::{Db, Reply};

// As every binary emberkv ships (server, C library, Python and Node modules):
// used memory is counted, and the heap it grows (the sorted set's tree
// nodes) is on huge pages.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::{CpuTime, thread_cpu_ns};

const BIG: usize = 1_000_000;
const ARGS: usize = 1 << 14;

/// xorshift64*: deterministic benchmark inputs.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn member(i: usize) -> Vec<u8> {
    format!("member:{i}").into_bytes()
}

/// Runs `argvs` round-robin through one client.
fn run(
    c: &mut Criterion<CpuTime>,
    name: &str,
    client: &mut emberkv::Client,
    argvs: &[Vec<Vec<u8>>],
) {
    let mut g = c.benchmark_group("collections_sz");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function(name, |b| {
        b.iter(|| {
            let r = client.execute(&argvs[i & (ARGS - 1)]);
            i += 1;
            black_box(r)
        })
    });
    g.finish();
}

fn load_big_zset(client: &mut emberkv::Client, key: &str, rng: &mut Rng) {
    for chunk in (0..BIG).collect::<Vec<_>>().chunks(1000) {
        let mut argv = vec![b"ZADD".to_vec(), key.as_bytes().to_vec()];
        for &i in chunk {
            argv.push(format!("{}", rng.below(1 << 40) as f64 / 1024.0).into_bytes());
            argv.push(member(i));
        }
        client.execute(&argv);
    }
}

/// Times `ZADD z <random score> <member(rng)>` on argv built fresh for each
/// batch; members not present before the batch are removed after it.
fn zadd_batches(
    c: &mut Criterion<CpuTime>,
    name: &str,
    client: &mut emberkv::Client,
    rng: &mut Rng,
    mut member_of: impl FnMut(&mut Rng) -> Vec<u8>,
) {
    let mut g = c.benchmark_group("collections_sz");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let argvs: Vec<Vec<Vec<u8>>> = (0..iters)
                .map(|_| {
                    let score = format!("{}", rng.below(1 << 40) as f64 / 1024.0);
                    vec![
                        b"ZADD".to_vec(),
                        b"z".to_vec(),
                        score.into_bytes(),
                        member_of(rng),
                    ]
                })
                .collect();
            let t = thread_cpu_ns();
            for a in &argvs {
                black_box(client.execute(a));
            }
            let spent = thread_cpu_ns() - t;
            let extra: Vec<&[u8]> = argvs
                .iter()
                .map(|a| a[3].as_slice())
                .filter(|m| m.len() > 6 && !is_initial(m))
                .collect();
            for chunk in extra.chunks(1000) {
                let mut argv: Vec<&[u8]> = vec![b"ZREM", b"z"];
                argv.extend_from_slice(chunk);
                client.execute(&argv);
            }
            spent
        })
    });
    g.finish();
}

/// Times argvs that `make` builds fresh for every timed batch (outside the
/// timing), each one drawn anew: unlike `run`'s 16,384-argv cycle, whose
/// members' index buckets, slots and tree leaves stay cached from one lap
/// to the next, every call here reaches memory a random member of the
/// whole set lives in, as a server's clients would.
fn fresh(
    c: &mut Criterion<CpuTime>,
    name: &str,
    client: &mut emberkv::Client,
    rng: &mut Rng,
    mut make: impl FnMut(&mut Rng) -> Vec<Vec<u8>>,
) {
    let mut g = c.benchmark_group("collections_sz");
    g.throughput(Throughput::Elements(1));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let argvs: Vec<Vec<Vec<u8>>> = (0..iters).map(|_| make(rng)).collect();
            let t = thread_cpu_ns();
            for a in &argvs {
                black_box(client.execute(a));
            }
            thread_cpu_ns() - t
        })
    });
    g.finish();
}

/// Whether `m` is one of the members the big sorted set was loaded with.
fn is_initial(m: &[u8]) -> bool {
    std::str::from_utf8(&m[7..])
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n < BIG)
}

fn sets(c: &mut Criterion<CpuTime>) {
    let db = Db::in_memory();
    let mut client = db.client();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    // SADD of random members (new ones at first, then mostly present).
    let sadd: Vec<Vec<Vec<u8>>> = (0..ARGS)
        .map(|_| vec![b"SADD".to_vec(), b"s".to_vec(), member(rng.below(BIG))])
        .collect();
    run(c, "SADD", &mut client, &sadd);
    // SISMEMBER on a 1M-member set, half hits.
    for chunk in (0..BIG).collect::<Vec<_>>().chunks(1000) {
        let mut argv = vec![b"SADD".to_vec(), b"big".to_vec()];
        argv.extend(chunk.iter().map(|&i| member(i)));
        client.execute(&argv);
    }
    assert_eq!(client.execute(&["SCARD", "big"]), Reply::Int(BIG as i64));
    let sis: Vec<Vec<Vec<u8>>> = (0..ARGS)
        .map(|_| {
            vec![
                b"SISMEMBER".to_vec(),
                b"big".to_vec(),
                member(rng.below(2 * BIG)),
            ]
        })
        .collect();
    run(c, "SISMEMBER 1M", &mut client, &sis);
}

fn zsets(c: &mut Criterion<CpuTime>) {
    let db = Db::in_memory();
    let mut client = db.client();
    let mut rng = Rng(0x2545F4914F6CDD1D);
    load_big_zset(&mut client, "z", &mut rng);
    assert_eq!(client.execute(&["ZCARD", "z"]), Reply::Int(BIG as i64));
    // ZADD changing the score of an existing member (a random one, a new
    // random score: every call moves the member in the order).
    zadd_batches(c, "ZADD update 1M", &mut client, &mut rng, |rng| {
        member(rng.below(BIG))
    });
    // ZADD of members not in the set yet; each batch is removed again
    // (untimed), so the set stays at 1M.
    let mut next = BIG;
    zadd_batches(c, "ZADD new 1M", &mut client, &mut rng, |_| {
        next += 1;
        member(next)
    });
    assert_eq!(client.execute(&["ZCARD", "z"]), Reply::Int(BIG as i64));
    // The read benchmarks twice: each call a fresh random member or rank
    // ("random"), then cycling 16,384 argvs (the set's parts they touch
    // stay cached: flattering).
    type Make = fn(&mut Rng) -> Vec<Vec<u8>>;
    let reads: [(&str, Make); 4] = [
        ("ZRANK 1M", |rng| {
            vec![b"ZRANK".to_vec(), b"z".to_vec(), member(rng.below(BIG))]
        }),
        ("ZSCORE 1M", |rng| {
            vec![b"ZSCORE".to_vec(), b"z".to_vec(), member(rng.below(BIG))]
        }),
        ("ZRANGE 1M (1 member)", |rng| {
            let s = rng.below(BIG).to_string().into_bytes();
            vec![b"ZRANGE".to_vec(), b"z".to_vec(), s.clone(), s]
        }),
        ("ZRANGE 1M (10 members)", |rng| {
            let s = rng.below(BIG - 10);
            vec![
                b"ZRANGE".to_vec(),
                b"z".to_vec(),
                s.to_string().into_bytes(),
                (s + 9).to_string().into_bytes(),
            ]
        }),
    ];
    for (name, make) in reads {
        fresh(c, &format!("{name} random"), &mut client, &mut rng, make);
    }
    for (name, make) in reads {
        let argvs: Vec<Vec<Vec<u8>>> = (0..ARGS).map(|_| make(&mut rng)).collect();
        run(c, name, &mut client, &argvs);
    }
    let byscore: Vec<Vec<Vec<u8>>> = (0..ARGS)
        .map(|_| {
            let lo = rng.below(1 << 30);
            vec![
                b"ZRANGE".to_vec(),
                b"z".to_vec(),
                lo.to_string().into_bytes(),
                "+inf".into(),
                b"BYSCORE".to_vec(),
                b"LIMIT".to_vec(),
                b"0".to_vec(),
                b"10".to_vec(),
            ]
        })
        .collect();
    run(c, "ZRANGE BYSCORE LIMIT 10 1M", &mut client, &byscore);
}

fn baseline(c: &mut Criterion<CpuTime>) {
    let db = Db::in_memory();
    let mut client = db.client();
    client.execute(&["SET", "k", "v"]);
    let get: Vec<Vec<Vec<u8>>> = (0..ARGS)
        .map(|_| vec![b"GET".to_vec(), b"k".to_vec()])
        .collect();
    run(c, "GET (dispatch baseline)", &mut client, &get);
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime);
    targets = baseline, sets, zsets
}
criterion_main!(benches);
