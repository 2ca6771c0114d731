//! Per-call cost of one command through `Client::execute`, for instruction
//! counting under callgrind (independent of machine load):
//!
//! ```text
//! cargo build --release -p emberkv --example percall
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/percall GET 100000
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/percall GET 300000
//! ```
//! (instructions per call = difference / 200000). Without valgrind it prints ns/call.
//! A third argument sets the number of keys (default 100,000); a fourth, how
//! many distinct keys the calls cycle through (default: all of them), e.g.
//! `percall GET 4000000 1000000 65536` is the criterion bench's shape (1M
//! keys, a 64k-key walk).

use std::hint::black_box;
use std::time::Instant;

pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args
        .get(1)
        .map(String::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let n: usize = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let nkeys: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let keys: Vec<Vec<u8>> = (0..nkeys)
        .map(|i| format!("user:{i}").into_bytes())
        .collect();
    for k in &keys {
        c.execute(&[&b"SET"[..], k, b"0123456789abcdef"]);
    }
    for i in 0..1000 {
        c.execute(&["RPUSH", "list", &format!("element-{i}")]);
    }
    for i in 0..10 {
        c.execute(&["HSET", "hash", &format!("field:{i}"), &format!("value-{i}")]);
    }
    let walk: usize = args
        .get(4)
        .and_then(|s| s.parse().ok())
        .unwrap_or(nkeys)
        .clamp(1, nkeys);
    // the walk: `walk` keys spread over the keyspace, visited in a scattered order
    let walk: Vec<&Vec<u8>> = (0..walk).map(|j| &keys[(j * 7919) % keys.len()]).collect();
    let start = Instant::now();
    for i in 0..n {
        let k = walk[i % walk.len()];
        let r = match cmd.as_str() {
            "SET" => c.execute(&[&b"SET"[..], k, b"fedcba9876543210"]),
            "INCR" => c.execute(&[&b"INCR"[..], b"counter"]),
            "MISS" => c.execute(&[&b"GET"[..], b"nosuchkey"]),
            "LRANGE" => c.execute(&["LRANGE", "list", "0", "49"]),
            "HGETALL" => c.execute(&["HGETALL", "hash"]),
            "PUBLISH" => c.execute(&["PUBLISH", "channel", "hello"]),
            "LPUSH" => c.execute(&[&b"LPUSH"[..], b"pushed", b"xxx"]),
            _ => c.execute(&[&b"GET"[..], k]),
        };
        black_box(r);
    }
    let el = start.elapsed();
    println!(
        "{cmd}: {n} calls, {:.1} ns/call",
        el.as_nanos() as f64 / n as f64
    );
}
