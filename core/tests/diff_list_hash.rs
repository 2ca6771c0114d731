//! Differential test: the same seeded random command sequences (lists,
//! hashes, wrong types, bad numbers and ranges, wrong arity, encoding
//! thresholds changed on the fly) go to emberkv and to a real redis-server,
//! and the RESP2 replies must be byte-identical. Replies whose order Redis
//! leaves unspecified (a hashtable's HKEYS/HVALS/HGETALL, HSCAN cursors,
//! HRANDFIELD's picks) are compared as sets or by shape.
//!
//! Skipped when redis-server is not installed (see `common::RedisServer`).

mod common;

use common::{RedisServer, RespConn, array_elements, escape};
use emberkv::{Client, Db};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const LIST_KEYS: &[&str] = &["l0", "l1", "l2"];
const HASH_KEYS: &[&str] = &["h0", "h1", "h2"];
const ALL_KEYS: &[&str] = &["l0", "l1", "l2", "h0", "h1", "h2", "s", "nokey"];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "3",
    "5",
    "-5",
    "10",
    "100",
    "-100",
    "abc",
    "1.5",
    "",
    " 1",
    "+1",
    "01",
    "-0",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "4611686018427387904",
];
const FLOATS: &[&str] = &[
    "1", "-1", "0.5", "1e3", "-2.5e-3", "abc", "inf", "-inf", "nan", "", "1e400", "0x10", " 1",
    "3.0",
];

fn elem(r: &mut Rng) -> String {
    match r.below(24) {
        0 => "x".repeat(70),
        1 => "y".repeat(300),
        2 => String::new(),
        3 => "\u{0}\u{ff}".into(),
        4 => (r.below(2000) as i64 - 1000).to_string(),
        5 => "1.5".into(),
        _ => ["a", "b", "c", "d", "e"][r.below(5)].repeat(1 + r.below(2)),
    }
}

fn num(r: &mut Rng) -> String {
    if r.chance(60) {
        (r.below(16) as i64 - 8).to_string()
    } else {
        r.pick(NUMBERS).to_string()
    }
}

fn list_key(r: &mut Rng) -> String {
    if r.chance(8) {
        r.pick(ALL_KEYS)
    } else {
        r.pick(LIST_KEYS)
    }
    .to_string()
}

fn hash_key(r: &mut Rng) -> String {
    if r.chance(8) {
        r.pick(ALL_KEYS)
    } else {
        r.pick(HASH_KEYS)
    }
    .to_string()
}

fn field(r: &mut Rng) -> String {
    match r.below(20) {
        0 => "F".repeat(70),
        1 => String::new(),
        _ => format!("f{}", r.below(24)),
    }
}

fn side(r: &mut Rng) -> String {
    let n = if r.chance(95) { 4 } else { 5 };
    r.pick(&["LEFT", "RIGHT", "left", "right", "middle"][..n])
        .to_string()
}

fn command(r: &mut Rng) -> Vec<String> {
    let s = |x: &str| x.to_string();
    let mut c: Vec<String> = match r.below(36) {
        0 | 1 => {
            let mut c = vec![
                s(r.pick(&["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"])),
                list_key(r),
            ];
            c.extend((0..1 + r.below(4)).map(|_| elem(r)));
            c
        }
        2 => {
            let mut c = vec![s(r.pick(&["LPOP", "RPOP"])), list_key(r)];
            if r.chance(50) {
                c.push(num(r));
            }
            c
        }
        3 => vec![s("LLEN"), list_key(r)],
        4 | 5 => vec![s("LRANGE"), list_key(r), num(r), num(r)],
        6 => vec![s("LINDEX"), list_key(r), num(r)],
        7 => vec![s("LSET"), list_key(r), num(r), elem(r)],
        8 => vec![
            s("LINSERT"),
            list_key(r),
            s(r.pick(&["BEFORE", "AFTER", "after", "around"])),
            elem(r),
            elem(r),
        ],
        9 => vec![s("LREM"), list_key(r), num(r), elem(r)],
        10 => vec![s("LTRIM"), list_key(r), num(r), num(r)],
        11 => {
            let mut c = vec![s("LPOS"), list_key(r), elem(r)];
            for _ in 0..r.below(3) {
                c.push(s(r.pick(&["RANK", "COUNT", "MAXLEN", "rank", "FOO"])));
                c.push(num(r));
            }
            c
        }
        12 => vec![s("LMOVE"), list_key(r), list_key(r), side(r), side(r)],
        13 => vec![s("RPOPLPUSH"), list_key(r), list_key(r)],
        14 => {
            let n = 1 + r.below(3);
            let mut c = vec![
                s("LMPOP"),
                if r.chance(90) { n.to_string() } else { num(r) },
            ];
            c.extend((0..n).map(|_| list_key(r)));
            c.push(side(r));
            if r.chance(50) {
                c.push(s("COUNT"));
                c.push(num(r));
            }
            c
        }
        15..=17 => {
            let mut c = vec![s(r.pick(&["HSET", "HSET", "HMSET"])), hash_key(r)];
            for _ in 0..1 + r.below(3) {
                c.push(field(r));
                c.push(elem(r));
            }
            c
        }
        18 => vec![s("HSETNX"), hash_key(r), field(r), elem(r)],
        19 | 20 => vec![s("HGET"), hash_key(r), field(r)],
        21 => {
            let mut c = vec![s("HMGET"), hash_key(r)];
            c.extend((0..1 + r.below(3)).map(|_| field(r)));
            c
        }
        22 => {
            let mut c = vec![s("HDEL"), hash_key(r)];
            c.extend((0..1 + r.below(3)).map(|_| field(r)));
            c
        }
        23 => vec![s(r.pick(&["HEXISTS", "HSTRLEN"])), hash_key(r), field(r)],
        24 => vec![s("HLEN"), hash_key(r)],
        25 => vec![s(r.pick(&["HKEYS", "HVALS", "HGETALL"])), hash_key(r)],
        26 => vec![s("HINCRBY"), hash_key(r), field(r), num(r)],
        27 => vec![s("HINCRBYFLOAT"), hash_key(r), field(r), s(r.pick(FLOATS))],
        28 => {
            let mut c = vec![s("HRANDFIELD"), hash_key(r)];
            if r.chance(70) {
                c.push(num(r));
                if r.chance(50) {
                    c.push(s(r.pick(&["WITHVALUES", "withvalues", "FOO"])));
                }
            }
            c
        }
        29 => {
            let mut c = vec![
                s("HSCAN"),
                hash_key(r),
                if r.chance(90) { s("0") } else { num(r) },
            ];
            if r.chance(40) {
                c.push(s(r.pick(&["MATCH", "COUNT", "TYPE"])));
                c.push(if r.chance(50) {
                    s(r.pick(&["f1*", "*", "F*", "x"]))
                } else {
                    num(r)
                });
            }
            c
        }
        30 => vec![s("OBJECT"), s("ENCODING"), hash_key(r)],
        31 => vec![s("TYPE"), s(r.pick(ALL_KEYS))],
        32 => vec![s("SET"), s("s"), elem(r)],
        33 if r.chance(20) => vec![s("DEL"), s(r.pick(ALL_KEYS))],
        34 => {
            // a burst, so lists span many nodes
            let mut c = vec![s(r.pick(&["LPUSH", "RPUSH"])), list_key(r)];
            c.extend((0..20 + r.below(60)).map(|_| elem(r)));
            c
        }
        _ => vec![s("EXISTS"), s(r.pick(ALL_KEYS))],
    };
    // deliberately wrong arity now and then
    if r.chance(3) && c.len() > 1 {
        c.pop();
    } else if r.chance(2) {
        c.push(s("extra"));
    }
    c
}

fn bytes(cmd: &[String]) -> Vec<Vec<u8>> {
    // "\u{0}\u{ff}" above stands for the raw bytes 0x00 0xff
    cmd.iter()
        .map(|a| {
            if a == "\u{0}\u{ff}" {
                vec![0u8, 0xff]
            } else {
                a.as_bytes().to_vec()
            }
        })
        .collect()
}

fn ours(c: &mut Client, argv: &[Vec<u8>]) -> Vec<u8> {
    c.execute(argv).to_resp2()
}

/// A reply's top-level elements, sorted (pairs kept together when `pairs`).
fn sorted(resp: &[u8], pairs: bool) -> Option<Vec<Vec<u8>>> {
    let items = array_elements(resp)?;
    let mut v: Vec<Vec<u8>> = if pairs {
        items.chunks(2).map(|c| c.concat()).collect()
    } else {
        items
    };
    v.sort();
    Some(v)
}

/// Scans a hash to the end on one side: all pairs seen, sorted.
fn full_scan(
    mut exec: impl FnMut(&[Vec<u8>]) -> Vec<u8>,
    argv: &[Vec<u8>],
) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut argv = argv.to_vec();
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let reply = exec(&argv);
        let Some(parts) = array_elements(&reply) else {
            return Err(reply);
        };
        // parts[0] is the raw bulk "$<n>\r\n<cursor>\r\n"
        let raw = &parts[0];
        let start = raw.iter().position(|&b| b == b'\n').unwrap() + 1;
        let cursor = raw[start..raw.len() - 2].to_vec();
        seen.extend(sorted(&parts[1], true).unwrap());
        if cursor == b"0" {
            seen.sort();
            seen.dedup();
            return Ok(seen);
        }
        argv[2] = cursor;
    }
    panic!("HSCAN did not finish");
}

struct Pair {
    _engine: Db,
    db: Client,
    redis: RespConn,
    log: Vec<String>,
}

impl Pair {
    fn fail(&self, what: &str, a: &[u8], b: &[u8]) -> ! {
        let tail: Vec<&String> = self.log.iter().rev().take(15).rev().collect();
        panic!(
            "{what}\n  redis   {}\n  emberkv {}\nlast commands:\n  {}",
            escape(a),
            escape(b),
            tail.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }

    fn encoding_is_table(&mut self, key: &[u8]) -> bool {
        ours(
            &mut self.db,
            &[b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.to_vec()],
        ) == b"$9\r\nhashtable\r\n"
    }

    fn type_of(&mut self, key: &[u8]) -> Vec<u8> {
        ours(&mut self.db, &[b"TYPE".to_vec(), key.to_vec()])
    }

    fn run(&mut self, argv: &[Vec<u8>]) {
        self.log.push(
            argv.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let name = String::from_utf8_lossy(&argv[0]).to_ascii_uppercase();
        if name == "OBJECT" && argv.len() > 2 && self.type_of(&argv[2]) == b"+list\r\n" {
            return; // Redis 7.0 calls every list a quicklist; emberkv follows 7.2
        }
        let theirs = self.redis.command(argv);
        let mine = ours(&mut self.db, argv);
        if theirs == mine {
            return;
        }
        let both_arrays = theirs.first() == Some(&b'*') && mine.first() == Some(&b'*');
        let ok = match name.as_str() {
            "HKEYS" | "HVALS" if both_arrays && self.encoding_is_table(&argv[1]) => {
                sorted(&theirs, false) == sorted(&mine, false)
            }
            "HGETALL" if both_arrays && self.encoding_is_table(&argv[1]) => {
                sorted(&theirs, true) == sorted(&mine, true)
            }
            "HRANDFIELD" => {
                // random picks: same shape and size
                match (array_elements(&theirs), array_elements(&mine)) {
                    (Some(a), Some(b)) => a.len() == b.len(),
                    _ => theirs.first() == Some(&b'$') && mine.first() == Some(&b'$'),
                }
            }
            // a scan from any other cursor covers buckets that depend on the table's layout
            "HSCAN" if both_arrays && argv[2] != b"0" => self.encoding_is_table(&argv[1]),
            "HSCAN" if both_arrays => {
                let a = full_scan(|v| self.redis.command(v), argv);
                let b = full_scan(|v| ours(&mut self.db, v), argv);
                a == b
            }
            _ => false,
        };
        if !ok {
            self.fail("replies differ", &theirs, &mine);
        }
    }

    /// Compares every key's whole content.
    fn compare_state(&mut self) {
        for k in ALL_KEYS {
            let k = k.as_bytes().to_vec();
            let t = self.type_of(&k);
            let argv: Vec<Vec<u8>> = match &t[..] {
                b"+list\r\n" => vec![b"LRANGE".to_vec(), k.clone(), b"0".to_vec(), b"-1".to_vec()],
                b"+hash\r\n" => vec![b"HGETALL".to_vec(), k.clone()],
                b"+string\r\n" => vec![b"GET".to_vec(), k.clone()],
                _ => vec![b"EXISTS".to_vec(), k.clone()],
            };
            let theirs = self.redis.command(&[b"TYPE".to_vec(), k.clone()]);
            if theirs != t {
                self.fail("types differ", &theirs, &t);
            }
            self.run(&argv);
            if t == b"+hash\r\n" {
                self.run(&[b"OBJECT".to_vec(), b"ENCODING".to_vec(), k.clone()]);
            }
        }
    }
}

#[test]
fn lists_and_hashes_match_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let engine = Db::in_memory();
    let mut p = Pair {
        db: engine.client(),
        _engine: engine,
        redis: srv.conn(),
        log: Vec::new(),
    };
    p.redis.command(&[b"FLUSHALL".to_vec()]);
    let seed = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xd1ff_2024u64);
    let mut r = Rng(seed);
    let settings: &[(&str, &str, &str)] = &[
        ("512", "64", "-2"),
        ("4", "8", "3"),
        ("0", "64", "1"),
        ("16", "0", "-1"),
        ("128", "64", "-2"),
        ("2", "100", "5"),
    ];
    for (round, (entries, value, fill)) in settings.iter().cycle().take(8).enumerate() {
        for (name, v) in [
            ("hash-max-listpack-entries", entries),
            ("hash-max-listpack-value", value),
            ("list-max-listpack-size", fill),
        ] {
            let argv = vec![
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                name.as_bytes().to_vec(),
                v.as_bytes().to_vec(),
            ];
            p.run(&argv);
        }
        // DIFF_PARANOID=1 compares every key after every command (to find
        // where a divergence starts)
        let paranoid = std::env::var("DIFF_PARANOID").is_ok_and(|v| v == "1");
        for _ in 0..500 {
            let cmd = command(&mut r);
            p.run(&bytes(&cmd));
            if paranoid {
                p.compare_state();
            }
        }
        p.compare_state();
        if round % 3 == 2 {
            p.run(&[b"FLUSHALL".to_vec()]);
        }
    }
    // leave the server's thresholds as they were
    for (name, v) in [
        ("hash-max-listpack-entries", "512"),
        ("hash-max-listpack-value", "64"),
        ("list-max-listpack-size", "-2"),
    ] {
        p.run(&[
            b"CONFIG".to_vec(),
            b"SET".to_vec(),
            name.as_bytes().to_vec(),
            v.as_bytes().to_vec(),
        ]);
    }
}
