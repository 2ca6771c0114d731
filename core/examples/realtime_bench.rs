//! Real-time paths: publish → receive throughput and latency with 1, 10 and
//! 1,000 subscribers, a chat fan-out (1,000 rooms × 10 members), MULTI/EXEC
//! of 5 commands, and (when lists exist) BLPOP wake-up latency.
//!
//! `cargo run --release -p emberkv --example realtime_bench`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use emberkv::{Db, Reply};

fn percentile(v: &mut [u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p) as usize]
}

/// One publisher, `subs` subscribers each draining on its own thread.
fn pubsub(subs: usize, msgs: usize) {
    let db = Db::in_memory();
    let epoch = Instant::now();
    let subscriptions: Vec<_> = (0..subs)
        .map(|_| {
            let s = db.subscribe();
            s.subscribe(&["ch"]);
            s.recv().unwrap();
            s
        })
        .collect();
    let received = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let consumers: Vec<_> = subscriptions
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let received = received.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                for _ in 0..msgs {
                    let m = s.recv().unwrap();
                    if i == 0 {
                        let sent = u64::from_le_bytes(m.payload[..8].try_into().unwrap());
                        lat.push(epoch.elapsed().as_nanos() as u64 - sent);
                    }
                    received.fetch_add(1, Ordering::Relaxed);
                }
                lat
            })
        })
        .collect();
    let mut c = db.client();
    let mut payload = [0u8; 32];
    for i in 0..msgs {
        payload[..8].copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
        c.execute(&[&b"PUBLISH"[..], b"ch", &payload]);
        // keep queues within the default pubsub limit when many subscribers drain slowly
        if subs > 1 && i % 1024 == 0 {
            while received.load(Ordering::Relaxed) + (subs as u64 * 4096) < (i * subs) as u64 {
                std::thread::yield_now();
            }
        }
    }
    let mut lat = Vec::new();
    for (i, h) in consumers.into_iter().enumerate() {
        let l = h.join().unwrap();
        if i == 0 {
            lat = l;
        }
    }
    let el = start.elapsed();
    let total = (msgs * subs) as f64;
    println!(
        "publish→receive, {subs:>4} subscriber(s): {:>6.2} M published/s, {:>6.2} M delivered/s, latency p50 {:>6.1} µs p99 {:>7.1} µs",
        msgs as f64 / el.as_secs_f64() / 1e6,
        total / el.as_secs_f64() / 1e6,
        percentile(&mut lat, 0.5) as f64 / 1e3,
        percentile(&mut lat, 0.99) as f64 / 1e3
    );
}

/// 1,000 rooms × 10 members; messages to random rooms; 2 consumer threads poll.
fn fanout(msgs: usize) {
    let db = Db::in_memory();
    let rooms = 1000;
    let members = 10;
    let subs: Vec<_> = (0..rooms * members)
        .map(|i| {
            let s = db.subscribe();
            s.subscribe(&[format!("room:{}", i / members)]);
            s.recv().unwrap();
            s
        })
        .collect();
    let subs = Arc::new(subs);
    let done = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicU64::new(0));
    let consumers: Vec<_> = (0..2)
        .map(|t| {
            let (subs, done, delivered) = (subs.clone(), done.clone(), delivered.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    for s in subs.iter().skip(t).step_by(2) {
                        while let Ok(Some(_)) = s.try_recv() {
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    let mut c = db.client();
    let mut x: u64 = 88172645463325252;
    let start = Instant::now();
    for _ in 0..msgs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let room = format!("room:{}", x % rooms as u64);
        let r = c.execute(&["PUBLISH", &room, "hello everyone"]);
        assert_eq!(r, Reply::Int(members as i64));
    }
    let expected = (msgs * members) as u64;
    while delivered.load(Ordering::Relaxed) < expected {
        std::thread::yield_now();
    }
    let el = start.elapsed();
    done.store(true, Ordering::Relaxed);
    for h in consumers {
        h.join().unwrap();
    }
    println!(
        "chat fan-out 1000 rooms × 10 members: {:.2} M messages published/s, {:.2} M deliveries/s",
        msgs as f64 / el.as_secs_f64() / 1e6,
        expected as f64 / el.as_secs_f64() / 1e6
    );
}

fn multi_exec(n: usize) {
    let db = Db::in_memory();
    let mut c = db.client();
    let start = Instant::now();
    for _ in 0..n {
        c.execute(&["MULTI"]);
        c.execute(&["INCR", "a"]);
        c.execute(&["INCR", "b"]);
        c.execute(&["SET", "c", "x"]);
        c.execute(&["GET", "c"]);
        c.execute(&["INCRBY", "d", "2"]);
        c.execute(&["EXEC"]);
    }
    let el = start.elapsed();
    println!(
        "MULTI + 5 commands + EXEC: {:.0} k transactions/s",
        n as f64 / el.as_secs_f64() / 1e3
    );
}

fn blpop_wakeup(n: usize) {
    let db = Db::in_memory();
    if db.execute(&["LPUSH", "probe", "x"]).is_error() {
        println!("BLPOP wake-up: lists not available in this build");
        return;
    }
    db.execute(&["DEL", "probe"]);
    let mut lat = Vec::with_capacity(n);
    let epoch = Instant::now();
    let waiter = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut c = db.client();
            let mut lat = Vec::new();
            for _ in 0..n {
                let r = c.execute(&["BLPOP", "q", "0"]);
                let Reply::Array(v) = r else { panic!("{r:?}") };
                let sent = u64::from_le_bytes(v[1].as_bytes().unwrap()[..8].try_into().unwrap());
                lat.push(epoch.elapsed().as_nanos() as u64 - sent);
            }
            lat
        })
    };
    let mut c = db.client();
    for _ in 0..n {
        while c
            .execute(&["INFO", "clients"])
            .as_bytes()
            .is_some_and(|b| !String::from_utf8_lossy(b).contains("blocked_clients:1"))
        {
            std::thread::yield_now();
        }
        let now = (epoch.elapsed().as_nanos() as u64).to_le_bytes();
        c.execute(&[&b"RPUSH"[..], b"q", &now]);
    }
    lat.extend(waiter.join().unwrap());
    println!(
        "BLPOP wake-up latency: p50 {:.1} µs, p99 {:.1} µs",
        percentile(&mut lat, 0.5) as f64 / 1e3,
        percentile(&mut lat, 0.99) as f64 / 1e3
    );
}

/// Latency at a sustainable rate (one message every `gap`), one subscriber.
fn pubsub_latency(msgs: usize, gap: Duration) {
    let db = Db::in_memory();
    let epoch = Instant::now();
    let s = db.subscribe();
    s.subscribe(&["ch"]);
    s.recv().unwrap();
    let consumer = std::thread::spawn(move || {
        let mut lat = Vec::with_capacity(msgs);
        for _ in 0..msgs {
            let m = s.recv().unwrap();
            let sent = u64::from_le_bytes(m.payload[..8].try_into().unwrap());
            lat.push(epoch.elapsed().as_nanos() as u64 - sent);
        }
        lat
    });
    let mut c = db.client();
    let mut next = Instant::now();
    for _ in 0..msgs {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        next += gap;
        let now = (epoch.elapsed().as_nanos() as u64).to_le_bytes();
        c.execute(&[&b"PUBLISH"[..], b"ch", &now]);
    }
    let mut lat = consumer.join().unwrap();
    println!(
        "publish→receive latency at {:.0} k msgs/s, 1 subscriber: p50 {:.1} µs, p99 {:.1} µs",
        1e6 / gap.as_micros() as f64 / 1e3,
        percentile(&mut lat, 0.5) as f64 / 1e3,
        percentile(&mut lat, 0.99) as f64 / 1e3
    );
}

/// `realtime_bench [latency|pubsub|fanout|multi|blpop]...` runs the named
/// parts (all of them without arguments).
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let want = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    if want("latency") {
        pubsub_latency(100_000, Duration::from_micros(5));
    }
    if want("pubsub") {
        pubsub(1, 1_000_000);
        pubsub(10, 200_000);
        pubsub(1000, 2_000);
    }
    if want("fanout") {
        fanout(200_000);
    }
    if want("multi") {
        multi_exec(300_000);
    }
    if want("blpop") {
        blpop_wakeup(20_000);
    }
}
