//! Per-call cost of set and sorted-set commands on 1M-member values, through
//! `Client::execute`. Natively it prints ns/call; under callgrind with cache
//! simulation it gives instructions and last-level cache misses per call,
//! which do not depend on machine load:
//!
//! ```text
//! cargo build --release -p emberkv --example percall_sz
//! valgrind --tool=callgrind --cache-sim=yes --callgrind-out-file=/tmp/cg.out \
//!     --toggle-collect='percall_sz::m_*' target/release/examples/percall_sz 100000
//! callgrind_annotate --inclusive=yes /tmp/cg.out | grep 'percall_sz::m_'
//! ```
//! (each `m_<command>` function runs the command `n` times: divide by `n`;
//! `Ir` = instructions, `DLmr + DLmw + ILmr` = last-level misses.)
//! `ONLY="ZRANK 1M,ZADD upd 1M"` runs (and builds the arguments of) just
//! those; a command's inputs are the same whichever others run.

use std::hint::black_box;
use std::time::Instant;

use emberkv::Client;

// As every binary emberkv ships and the `collections_sz` bench: used memory
// is counted, and the heap (the sorted set's tree nodes) is on huge pages.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

#[path = "../benches/common/cpu_time.rs"]
#[allow(dead_code)]
mod cpu_time;

const BIG: usize = 1_000_000;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) % n as u64) as usize
    }
}

fn member(i: usize) -> Vec<u8> {
    format!("member:{i}").into_bytes()
}

type Argv = Vec<Vec<u8>>;

macro_rules! measured {
    ($($name:ident),*) => {$(
        #[inline(never)]
        fn $name(c: &mut Client, argvs: &[Argv]) {
            // a distinct body per command, so the linker cannot fold them
            black_box(stringify!($name));
            for a in argvs {
                black_box(c.execute(a));
            }
        }
    )*};
}
measured!(
    m_get,
    m_sadd,
    m_sismember,
    m_zadd_update,
    m_zadd_new,
    m_zscore,
    m_zrank,
    m_zrange1,
    m_zrange10
);

/// Whether `ONLY` (a comma list of names as printed, e.g.
/// `ONLY="ZRANK 1M,ZADD upd 1M"`) selects `name`; all when unset.
fn wanted(name: &str) -> bool {
    match std::env::var("ONLY") {
        Ok(only) => only.split(',').any(|o| o.trim() == name),
        Err(_) => true,
    }
}

/// Builds `n` argvs with `f` and runs them, if `wanted(name)`. Each command
/// draws from its own generator (seeded from its name), so its inputs are
/// the same whichever others `ONLY` selects, and unselected ones cost
/// nothing to set up.
fn run(
    name: &str,
    m: fn(&mut Client, &[Argv]),
    c: &mut Client,
    n: usize,
    f: &mut dyn FnMut(&mut Rng) -> Vec<Vec<u8>>,
) {
    if !wanted(name) {
        return;
    }
    let seed = name.bytes().fold(0x9e3779b97f4a7c15u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let mut rng = Rng(seed | 1);
    let argvs: Vec<Argv> = (0..n).map(|_| f(&mut rng)).collect();
    let (t, cpu) = (Instant::now(), cpu_time::thread_cpu_ns());
    m(c, &argvs);
    let n = argvs.len() as f64;
    println!(
        "{name:<14} {:>7.0} ns/call wall, {:>7.0} ns/call thread CPU time",
        t.elapsed().as_nanos() as f64 / n,
        (cpu_time::thread_cpu_ns() - cpu) as f64 / n
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    // the 1M-member set only when SISMEMBER is measured
    let big_set = wanted("SISMEMBER 1M");
    for start in (0..BIG).step_by(1000) {
        let mut z = vec![b"ZADD".to_vec(), b"z".to_vec()];
        let mut s = vec![b"SADD".to_vec(), b"s".to_vec()];
        for i in start..start + 1000 {
            z.push(format!("{}", rng.below(1 << 40) as f64 / 1024.0).into_bytes());
            z.push(member(i));
            s.push(member(i));
        }
        c.execute(&z);
        if big_set {
            c.execute(&s);
        }
    }
    c.execute(&["SET", "k", "v"]);
    let v = |parts: &[&[u8]]| -> Argv { parts.iter().map(|x| x.to_vec()).collect() };
    let score = |r: &mut Rng| format!("{}", r.below(1 << 40) as f64 / 1024.0).into_bytes();
    let idx = |s: usize| s.to_string().into_bytes();
    let mut next = BIG;
    run("GET", m_get, &mut c, n, &mut |_| v(&[b"GET", b"k"]));
    run("SADD", m_sadd, &mut c, n, &mut |r| {
        v(&[b"SADD", b"s2", &member(r.below(BIG))])
    });
    run("SISMEMBER 1M", m_sismember, &mut c, n, &mut |r| {
        v(&[b"SISMEMBER", b"s", &member(r.below(2 * BIG))])
    });
    run("ZSCORE 1M", m_zscore, &mut c, n, &mut |r| {
        v(&[b"ZSCORE", b"z", &member(r.below(BIG))])
    });
    run("ZRANK 1M", m_zrank, &mut c, n, &mut |r| {
        v(&[b"ZRANK", b"z", &member(r.below(BIG))])
    });
    run("ZRANGE 1M x1", m_zrange1, &mut c, n, &mut |r| {
        let s = r.below(BIG);
        v(&[b"ZRANGE", b"z", &idx(s), &idx(s)])
    });
    run("ZRANGE 1M x10", m_zrange10, &mut c, n, &mut |r| {
        let s = r.below(BIG - 10);
        v(&[b"ZRANGE", b"z", &idx(s), &idx(s + 9)])
    });
    run("ZADD upd 1M", m_zadd_update, &mut c, n, &mut |r| {
        v(&[b"ZADD", b"z", &score(r), &member(r.below(BIG))])
    });
    run("ZADD new 1M", m_zadd_new, &mut c, n, &mut |r| {
        next += 1;
        v(&[b"ZADD", b"z", &score(r), &member(next)])
    });
}
