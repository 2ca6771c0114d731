//! GET / SET through `Client::execute` from Rust: the baseline of the FFI
//! overhead benchmark (ffi/bench/run.sh; the C side is
//! ffi/bench/bench_command.c, same keys, values and loop). Prints one line
//! per operation: `<op> <ns per call, CPU time> <ns per call, wall>`, the
//! median of 5 runs.

use std::time::Instant;

/// The same allocator the C library installs (maxmemory's used-memory
/// counter), so both sides run the same engine and the difference is the FFI.
#[global_allocator]
static ALLOC: emberkv::alloc::Counting = emberkv::alloc::Counting::system();

const KEYS: usize = 1000;
const RUNS: usize = 5;

/// Process CPU time in ns (CLOCK_PROCESS_CPUTIME_ID, as the C side).
fn cpu_ns() -> f64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { clock_gettime(2, &mut ts) };
    ts.sec as f64 * 1e9 + ts.nsec as f64
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clk: i32, ts: *mut Timespec) -> i32;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    // "SET" or "GET": one operation (GET still runs the SETs that fill the keys)
    let only = std::env::args().nth(2);
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let keys: Vec<Vec<u8>> = (0..KEYS).map(|i| format!("key:{i}").into_bytes()).collect();
    let value = b"0123456789abcdef0123456789abcdef";
    for op in ["SET", "GET"] {
        if only
            .as_deref()
            .is_some_and(|o| o != op && !(op == "SET" && o == "GET"))
        {
            continue;
        }
        let (mut cpu, mut wall) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let (c0, w0) = (cpu_ns(), Instant::now());
            let mut bad = 0;
            for i in 0..iters {
                let k = &keys[i % KEYS];
                let r = if op == "SET" {
                    c.execute(&[b"SET".as_slice(), k, value])
                } else {
                    c.execute(&[b"GET".as_slice(), k])
                };
                // touch the answer as a caller would
                match r.as_bytes() {
                    Some(b) if op == "SET" || b.len() == 32 => {}
                    _ => bad += 1,
                }
                std::hint::black_box(&r);
            }
            cpu.push((cpu_ns() - c0) / iters as f64);
            wall.push(w0.elapsed().as_nanos() as f64 / iters as f64);
            assert_eq!(bad, 0);
        }
        println!("{op} {:.1} {:.1}", median(cpu), median(wall));
    }
}
