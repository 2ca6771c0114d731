//! Memory per stream entry (ignored: a measurement, not a check). Run with
//! `cargo test -p emberkv --test streams_mem -- --ignored --nocapture`;
//! compare with redis-server's `used_memory` for the same XADDs.

fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
#[ignore]
fn bytes_per_entry() {
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let n = 1_000_000u64;
    let before = rss_bytes();
    for i in 1..=n {
        let id = format!("{}-0", 1_700_000_000_000 + i);
        let v = format!("value-{i:010}");
        c.execute(&["XADD", "s", &id, "sensor", "temp", "reading", &v]);
    }
    let after = rss_bytes();
    println!(
        "{n} entries (2 fields, 16-byte value): {:.1} MB RSS, {:.1} B/entry; MEMORY estimate {:?}",
        (after - before) as f64 / 1e6,
        (after - before) as f64 / n as f64,
        c.execute(&["MEMORY", "USAGE", "s"])
    );
}
