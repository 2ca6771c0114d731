//! A bounded load test: redis-benchmark (a few seconds, fixed request
//! counts) against an in-process listener, TCP and Unix socket. It checks
//! that every request is answered without error, not how fast: throughput
//! figures come from `bench/run.sh`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use emberkv_resp::Options;

fn bench(target: &[&str], extra: &[&str]) -> String {
    let out = Command::new("redis-benchmark")
        .args(target)
        .args(["-c", "20", "-n", "20000", "-r", "1000", "--csv"])
        .args(extra)
        .output()
        .expect("redis-benchmark is installed (apt-get install redis-tools)");
    assert!(out.status.success(), "{:?}", out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (test name, requests per second) from redis-benchmark's CSV.
fn rows(csv: &str) -> Vec<(String, f64)> {
    csv.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',').map(|x| x.trim_matches('"'));
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

#[test]
fn redis_benchmark_completes() {
    let srv = Server::start();
    let port = srv.port.to_string();
    let start = Instant::now();
    for pipeline in ["1", "16"] {
        let csv = bench(
            &["-p", &port],
            &["-P", pipeline, "-t", "ping,set,get,incr,mset,publish"],
        );
        let r = rows(&csv);
        assert!(r.len() >= 6, "{csv}");
        assert!(r.iter().all(|(_, rps)| *rps > 0.0), "{csv}");
    }
    assert!(start.elapsed() < Duration::from_secs(120));
    // the data is there and consistent
    let dbsize: u64 = redis_cli(srv.port, &["DBSIZE"]).trim().parse().unwrap();
    assert!(dbsize > 0);
    let info = redis_cli(srv.port, &["INFO", "stats"]);
    let total: u64 = field(&info, "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    assert!(total >= 2 * 6 * 20000, "{info}");
}

#[test]
fn redis_benchmark_over_unix_socket() {
    let dir = tempdir("ekv-load");
    let path = dir.join("ekv.sock");
    let db = emberkv::Db::in_memory();
    let _l = emberkv_resp::listen(&db, path.to_str().unwrap(), Options::default()).unwrap();
    let csv = bench(
        &["-s", path.to_str().unwrap()],
        &["-P", "8", "-t", "set,get,incr"],
    );
    assert_eq!(rows(&csv).len(), 3, "{csv}");
    let _ = std::fs::remove_dir_all(&dir);
}
