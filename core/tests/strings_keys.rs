//! Strings and keys: a model-based test, a random differential test against
//! a real redis-server, exact counters under many threads, expiry with the
//! manual clock and with real time, and SCAN's guarantee across table growth.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::{RedisServer, escape, same_reply};
use emberkv::{Config, Db, ManualClock, Reply};

/// xorshift64*: deterministic, seedable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len() as u64) as usize]
    }
}

fn bulk(v: &[u8]) -> Reply {
    Reply::bulk(v)
}

#[test]
fn model_based_strings() {
    let db = Db::in_memory();
    let mut c = db.client();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let keys: Vec<Vec<u8>> = (0..12).map(|i| format!("k{i}").into_bytes()).collect();
    for step in 0..20_000 {
        let k = keys[rng.below(keys.len() as u64) as usize].clone();
        let v = format!("{}", rng.below(1000)).into_bytes();
        let op = rng.below(11);
        let (cmd, expected): (Vec<Vec<u8>>, Reply) = match op {
            0 => {
                model.insert(k.clone(), v.clone());
                (vec![b"SET".to_vec(), k, v], Reply::ok())
            }
            1 => {
                let e = model.get(&k).map_or(Reply::Nil, |x| bulk(x));
                (vec![b"GET".to_vec(), k], e)
            }
            2 => {
                let e = Reply::Int(model.remove(&k).is_some() as i64);
                (vec![b"DEL".to_vec(), k], e)
            }
            3 => {
                let cur = model.entry(k.clone()).or_default();
                cur.extend_from_slice(&v);
                let e = Reply::Int(cur.len() as i64);
                (vec![b"APPEND".to_vec(), k, v], e)
            }
            4 => {
                let cur = model
                    .get(&k)
                    .map(|x| String::from_utf8_lossy(x).into_owned());
                let e = match cur
                    .as_deref()
                    .map(|s| s.parse::<i64>().ok().filter(|n| n.to_string() == s))
                {
                    None => {
                        model.insert(k.clone(), b"1".to_vec());
                        Reply::Int(1)
                    }
                    Some(Some(n)) => {
                        model.insert(k.clone(), (n + 1).to_string().into_bytes());
                        Reply::Int(n + 1)
                    }
                    Some(None) => Reply::error("ERR value is not an integer or out of range"),
                };
                (vec![b"INCR".to_vec(), k], e)
            }
            5 => {
                let e = Reply::Int(model.get(&k).map_or(0, |x| x.len() as i64));
                (vec![b"STRLEN".to_vec(), k], e)
            }
            6 => {
                let old = model.insert(k.clone(), v.clone());
                (
                    vec![b"GETSET".to_vec(), k, v],
                    old.map_or(Reply::Nil, |x| bulk(&x)),
                )
            }
            7 => {
                let e = if model.contains_key(&k) {
                    Reply::Int(0)
                } else {
                    model.insert(k.clone(), v.clone());
                    Reply::Int(1)
                };
                (vec![b"SETNX".to_vec(), k, v], e)
            }
            8 => {
                let k2 = keys[rng.below(keys.len() as u64) as usize].clone();
                let e = match model.remove(&k) {
                    None => Reply::error("ERR no such key"),
                    Some(val) => {
                        model.insert(k2.clone(), val);
                        Reply::ok()
                    }
                };
                (vec![b"RENAME".to_vec(), k, k2], e)
            }
            9 => {
                let e = Reply::Int(model.contains_key(&k) as i64);
                (vec![b"EXISTS".to_vec(), k], e)
            }
            _ => {
                let e = Reply::Array(
                    keys.iter()
                        .map(|k| model.get(k).map_or(Reply::Nil, |x| bulk(x)))
                        .collect(),
                );
                let mut cmd = vec![b"MGET".to_vec()];
                cmd.extend(keys.iter().cloned());
                (cmd, e)
            }
        };
        let got = c.execute(&cmd);
        assert_eq!(
            got,
            expected,
            "step {step}: {:?}",
            cmd.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
    assert_eq!(c.execute(&["DBSIZE"]), Reply::Int(model.len() as i64));
}

/// One random command over strings and keys, with deliberate mistakes.
fn random_command(rng: &mut Rng) -> Vec<String> {
    let keys = ["a", "b", "c", "n", "f", "bits"];
    let vals = [
        "1",
        "-5",
        "10.5",
        "abc",
        "",
        "9223372036854775807",
        "0",
        " 3",
        "1e3",
        "xyz",
    ];
    let k = rng.pick(&keys).to_string();
    let v = rng.pick(&vals).to_string();
    let idx = ["0", "1", "-1", "5", "-100", "100", "x", "2"];
    let i1 = rng.pick(&idx).to_string();
    let i2 = rng.pick(&idx).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match rng.below(34) {
        0 => vec!["SET".into(), k, v],
        1 => vec!["GET".into(), k],
        2 => vec!["APPEND".into(), k, v],
        3 => vec!["INCR".into(), k],
        4 => vec!["INCRBY".into(), k, v],
        5 => vec!["DECRBY".into(), k, v],
        6 => vec!["INCRBYFLOAT".into(), k, v],
        7 => vec!["GETRANGE".into(), k, i1, i2],
        8 => vec!["SETRANGE".into(), k, i1, v],
        9 => vec!["STRLEN".into(), k],
        10 => vec!["MSET".into(), k, v, rng.pick(&keys).into(), "2".into()],
        11 => vec!["MGET".into(), k, rng.pick(&keys).into(), "nosuch".into()],
        12 => vec!["DEL".into(), k],
        13 => vec!["EXISTS".into(), k, rng.pick(&keys).into()],
        14 => vec!["SETBIT".into(), k, i1, rng.pick(&["0", "1", "2"]).into()],
        15 => vec!["GETBIT".into(), k, i1],
        16 => vec!["BITCOUNT".into(), k, i1, i2],
        17 => vec!["BITPOS".into(), k, rng.pick(&["0", "1"]).into(), i1],
        18 => vec!["GETSET".into(), k, v],
        19 => vec!["SETNX".into(), k, v],
        20 => vec![
            "EXPIRE".into(),
            k,
            rng.pick(&["100", "-1", "x", "0"]).into(),
        ],
        21 => vec!["TTL".into(), k],
        22 => vec!["PERSIST".into(), k],
        23 => vec!["RENAME".into(), k, rng.pick(&keys).into()],
        24 => vec!["TYPE".into(), k],
        25 => vec!["OBJECT".into(), "ENCODING".into(), k],
        26 => vec![
            "SET".into(),
            k,
            v,
            rng.pick(&["NX", "XX", "GET", "EX", "KEEPTTL", "PX"]).into(),
            rng.pick(&["100000", "x", "GET"]).into(),
        ],
        27 => vec!["LCS".into(), k, rng.pick(&keys).into()],
        28 => vec![
            "COPY".into(),
            k,
            rng.pick(&keys).into(),
            rng.pick(&["REPLACE", "DB", "X"]).into(),
        ],
        29 => s(&[
            "BITOP",
            rng.pick(&["AND", "OR", "XOR", "NOT", "FOO"]),
            &k,
            rng.pick(&keys),
        ]),
        30 => vec![
            "GETEX".into(),
            k,
            rng.pick(&["PERSIST", "EX", "FOO"]).into(),
            rng.pick(&["10", "0"]).into(),
        ],
        31 => vec![rng.pick(&["GET", "SET", "INCR", "STRLEN", "APPEND"]).into()],
        32 => vec![
            "BITFIELD".into(),
            k,
            "INCRBY".into(),
            rng.pick(&["i8", "u4", "i65", "x"]).into(),
            i1,
            v,
        ],
        _ => vec!["DBSIZE".into()],
    }
}

#[test]
fn random_differential_against_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let mut redis = srv.conn();
    let db = Db::in_memory();
    let mut c = db.client();
    for seed in 1..=4u64 {
        redis.command(&[b"FLUSHALL".to_vec()]);
        c.execute(&["FLUSHALL"]);
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1);
        for step in 0..1500 {
            let cmd = random_command(&mut rng);
            let argv: Vec<Vec<u8>> = cmd.iter().map(|s| s.as_bytes().to_vec()).collect();
            let want = redis.command(&argv);
            let got = c.execute(&argv).to_resp2();
            if !same_reply(&want, &got, false) {
                let probe = vec![b"GET".to_vec(), argv.get(1).cloned().unwrap_or_default()];
                eprintln!(
                    "value before: redis {} / emberkv {}",
                    escape(&redis.command(&probe)),
                    escape(&c.execute(&probe).to_resp2())
                );
            }
            assert!(
                same_reply(&want, &got, false),
                "seed {seed} step {step}: {cmd:?}\n  redis   {}\n  emberkv {}",
                escape(&want),
                escape(&got)
            );
        }
    }
}

#[test]
fn counters_are_exact_under_threads() {
    let db = Db::in_memory();
    let threads = 8;
    let per = 20_000;
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut c = db.client();
                for i in 0..per {
                    c.execute(&["INCR", "shared"]);
                    c.execute(&["INCRBY".to_string(), format!("k{}", i % 16), "2".into()]);
                    c.execute(&["INCR".to_string(), format!("own{t}")]);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(
        db.execute(&["GET", "shared"]),
        Reply::bulk((threads * per).to_string())
    );
    let total: i64 = (0..16)
        .map(|i| {
            String::from_utf8(
                db.execute(
                    &[format!("k{i}")]
                        .iter()
                        .map(|_| "GET".to_string())
                        .chain([format!("k{i}")])
                        .collect::<Vec<_>>(),
                )
                .as_bytes()
                .unwrap()
                .to_vec(),
            )
            .unwrap()
            .parse::<i64>()
            .unwrap()
        })
        .sum();
    assert_eq!(total, (threads * per * 2) as i64);
    for t in 0..threads {
        assert_eq!(
            db.execute(&["GET".to_string(), format!("own{t}")]),
            Reply::bulk(per.to_string())
        );
    }
}

#[test]
fn expiry_with_manual_clock() {
    let clock = ManualClock::new(1_700_000_000_000);
    let db = Db::open(Config {
        clock: Some(clock.clone()),
        ..Config::default()
    })
    .unwrap();
    let mut c = db.client();
    c.execute(&["SET", "k", "v", "PX", "1000"]);
    c.execute(&["SET", "s", "v", "EX", "10"]);
    c.execute(&["SET", "at", "v", "PXAT", "1700000005000"]);
    assert_eq!(c.execute(&["PTTL", "k"]), Reply::Int(1000));
    assert_eq!(c.execute(&["TTL", "s"]), Reply::Int(10));
    assert_eq!(
        c.execute(&["PEXPIRETIME", "at"]),
        Reply::Int(1_700_000_005_000)
    );
    clock.advance_ms(999);
    assert_eq!(c.execute(&["GET", "k"]), Reply::bulk("v"));
    assert_eq!(c.execute(&["PTTL", "k"]), Reply::Int(1));
    clock.advance_ms(1);
    assert_eq!(c.execute(&["GET", "k"]), Reply::Nil);
    assert_eq!(c.execute(&["EXISTS", "k"]), Reply::Int(0));
    assert_eq!(c.execute(&["TTL", "k"]), Reply::Int(-2));
    clock.advance_ms(4000);
    assert_eq!(c.execute(&["EXISTS", "at"]), Reply::Int(0));
    assert_eq!(c.execute(&["TTL", "s"]), Reply::Int(5));
    // a new value clears the deadline; KEEPTTL keeps it
    c.execute(&["SET", "s", "w", "KEEPTTL"]);
    assert_eq!(c.execute(&["TTL", "s"]), Reply::Int(5));
    c.execute(&["SET", "s", "w"]);
    assert_eq!(c.execute(&["TTL", "s"]), Reply::Int(-1));
    // INCR keeps the deadline
    c.execute(&["SET", "n", "1", "EX", "100"]);
    c.execute(&["INCR", "n"]);
    assert_eq!(c.execute(&["TTL", "n"]), Reply::Int(100));
    // expired keys are not returned by KEYS/SCAN/RANDOMKEY/DBSIZE after reclamation
    c.execute(&["FLUSHALL"]);
    c.execute(&["SET", "x", "1", "PX", "10"]);
    clock.advance_ms(10);
    assert_eq!(c.execute(&["KEYS", "*"]), Reply::Array(vec![]));
    assert_eq!(c.execute(&["RANDOMKEY"]), Reply::Nil);
    assert_eq!(
        c.execute(&["SCAN", "0"]).to_resp2(),
        b"*2\r\n$1\r\n0\r\n*0\r\n"
    );
}

#[test]
fn expiry_with_real_time_and_active_reclamation() {
    let db = Db::in_memory();
    let mut c = db.client();
    c.execute(&["SET", "k", "v", "PX", "100"]);
    for i in 0..2000 {
        c.execute(&[
            "SET".to_string(),
            format!("bulk{i}"),
            "v".into(),
            "PX".into(),
            "50".into(),
        ]);
    }
    c.execute(&["SET", "keep", "v"]);
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(c.execute(&["GET", "k"]), Reply::Nil);
    // Nobody touches the bulk keys: the background cycle reclaims them.
    let deadline = Instant::now() + Duration::from_millis(1500);
    loop {
        if c.execute(&["DBSIZE"]) == Reply::Int(1) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expired keys not reclaimed within ~1s: {:?}",
            c.execute(&["DBSIZE"])
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let info = c.execute(&["INFO", "stats"]);
    let text = String::from_utf8(info.as_bytes().unwrap().to_vec()).unwrap();
    assert!(text.contains("expired_keys:2001"), "{text}");
}

#[test]
fn scan_returns_every_key_present_throughout_despite_growth() {
    let db = Db::in_memory();
    let mut c = db.client();
    let original: HashSet<String> = (0..1000).map(|i| format!("orig:{i}")).collect();
    for k in &original {
        c.execute(&["SET", k, "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let r = c.execute(&["SCAN", &cursor, "COUNT", "10"]);
        let Reply::Array(parts) = r else { panic!() };
        cursor = String::from_utf8(parts[0].as_bytes().unwrap().to_vec()).unwrap();
        let Reply::Array(keys) = &parts[1] else {
            panic!()
        };
        for k in keys {
            seen.insert(String::from_utf8(k.as_bytes().unwrap().to_vec()).unwrap());
        }
        calls += 1;
        if calls == 5 {
            // grow every table many times over, and churn
            for i in 0..60_000 {
                c.execute(&["SET".to_string(), format!("new:{i}"), "v".into()]);
            }
            for i in 0..30_000 {
                c.execute(&["DEL".to_string(), format!("new:{i}")]);
            }
        }
        if cursor == "0" {
            break;
        }
    }
    let missing: Vec<_> = original.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} keys missed, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    // MATCH and TYPE filters
    let r = c.execute(&["SCAN", "0", "MATCH", "orig:99*", "COUNT", "100000"]);
    let Reply::Array(parts) = r else { panic!() };
    let Reply::Array(keys) = &parts[1] else {
        panic!()
    };
    assert_eq!(keys.len(), 11);
    let r = c.execute(&["SCAN", "0", "TYPE", "list", "COUNT", "100000"]);
    assert_eq!(r.to_resp2(), b"*2\r\n$1\r\n0\r\n*0\r\n");
}
