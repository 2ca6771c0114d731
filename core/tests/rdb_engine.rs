//! RDB snapshots of the engine, checked against a real redis-server 7.0:
//! - random datasets (all types, small and large encodings, binary keys,
//!   expiries, several databases) built in redis-server with commands and
//!   SAVEd load through `Db::open` with the same contents and encodings;
//! - the same datasets built in emberkv, saved with SAVE and with BGSAVE,
//!   pass `redis-check-rdb` and load in redis-server with the same contents;
//! - DUMP from redis-server RESTOREs in emberkv and the reverse, key by key;
//! - loading drops expired keys, refuses streams / damaged files clearly;
//! - BGSAVE is a point-in-time view while writers run; save points fire;
//!   `Db::close` saves; a failed BGSAVE stops writes (MISCONF).
//!
//! Comparisons skip when redis-server is not installed (unless
//! EMBERKV_REQUIRE_REDIS=1).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Answer, RedisServer, Resp, TempDir, argv, dump, parse_resp};
use emberkv::persist::rdb::{RdbEntry, RdbValue, RdbWriter};
use emberkv::{Config, Db, ErrorKind, ManualClock, Reply};

const NDBS: usize = 4;

fn cfg(dir: &Path) -> Config {
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn elem(&mut self, max: usize) -> Vec<u8> {
        match self.below(5) {
            0 => (self.below(2_000_000) as i64 - 1_000_000)
                .to_string()
                .into_bytes(),
            1 => (0..1 + self.below(max as u64) as usize)
                .map(|_| self.next() as u8)
                .collect(),
            2 => vec![b'a' + self.below(26) as u8; 1 + self.below(max as u64) as usize],
            _ => format!("m{}", self.below(1000)).into_bytes(),
        }
    }
}

/// Commands that build a random dataset (the same in any server).
fn dataset(seed: u64, keys: usize) -> Vec<Vec<Vec<u8>>> {
    let mut r = Rng(seed | 1);
    let mut out = Vec::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for db in 0..NDBS {
        out.push(argv(&["SELECT", &db.to_string()]));
        for i in 0..keys {
            let mut key = format!("k{db}:{i}:").into_bytes();
            if r.below(4) == 0 {
                key.extend((0..4).map(|_| r.next() as u8));
            }
            let big = r.below(5) == 0;
            let n = if big {
                130 + r.below(700)
            } else {
                1 + r.below(20)
            } as usize;
            let maxlen = if big && r.below(2) == 0 { 90 } else { 30 };
            let mut cmd = Vec::new();
            match r.below(6) {
                0 => {
                    let v = match r.below(4) {
                        0 => r.elem(10),
                        1 => vec![b'z'; 100 + r.below(300) as usize],
                        2 => (0..60).map(|_| r.next() as u8).collect(),
                        _ => r.below(u64::MAX).to_string().into_bytes(),
                    };
                    cmd.extend([b("SET"), key.clone(), v]);
                }
                1 => {
                    cmd.extend([b("RPUSH"), key.clone()]);
                    cmd.extend((0..n).map(|_| r.elem(maxlen)));
                }
                2 => {
                    cmd.extend([b("HSET"), key.clone()]);
                    for j in 0..n {
                        cmd.push(format!("f{j}").into_bytes());
                        cmd.push(r.elem(maxlen));
                    }
                }
                3 => {
                    cmd.extend([b("SADD"), key.clone()]);
                    if r.below(2) == 0 {
                        cmd.extend((0..n).map(|_| r.below(100_000).to_string().into_bytes()));
                    } else {
                        cmd.extend((0..n).map(|_| r.elem(maxlen)));
                    }
                }
                4 => {
                    cmd.extend([b("ZADD"), key.clone()]);
                    for j in 0..n {
                        let s = match r.below(6) {
                            0 => "inf".to_string(),
                            1 => "-inf".to_string(),
                            2 => format!("{}", r.below(1000) as f64 / 7.0 - 50.0),
                            _ => (r.below(100) as i64 - 50).to_string(),
                        };
                        cmd.push(s.into_bytes());
                        let mut m = r.elem(maxlen);
                        m.extend(format!("/{j}").into_bytes());
                        cmd.push(m);
                    }
                }
                _ => {
                    // a string that looks like a number but is not canonical
                    cmd.extend([b("SET"), key.clone(), b("007")]);
                }
            }
            out.push(cmd);
            if r.below(4) == 0 {
                let at = now + 3_600_000 + r.below(1_000_000);
                out.push(vec![b("PEXPIREAT"), key, at.to_string().into_bytes()]);
            }
        }
    }
    out.push(argv(&["SELECT", "0"]));
    out
}

fn apply(c: &mut dyn Answer, cmds: &[Vec<Vec<u8>>]) {
    for cmd in cmds {
        let r = c.ask(cmd);
        assert!(
            !r.starts_with(b"-"),
            "{:?}: {}",
            cmd[0],
            String::from_utf8_lossy(&r)
        );
    }
}

fn is_list(c: &mut dyn Answer, k: &[u8]) -> bool {
    c.ask(&[b("TYPE"), k.to_vec()]) == b"+list\r\n"
}

/// OBJECT ENCODING of every key: (db, key) → encoding.
fn encodings(c: &mut dyn Answer) -> Vec<((usize, Vec<u8>), String)> {
    let mut out = Vec::new();
    for db in 0..NDBS {
        c.ask(&argv(&["SELECT", &db.to_string()]));
        let Resp::Arr(keys) = parse_resp(&c.ask(&argv(&["KEYS", "*"]))) else {
            panic!()
        };
        for k in keys {
            let Resp::Bulk(k) = k else { panic!() };
            let e = parse_resp(&c.ask(&[b("OBJECT"), b("ENCODING"), k.clone()]));
            let Resp::Bulk(e) = e else { panic!("{e:?}") };
            let e = String::from_utf8(e).unwrap();
            // lists: Redis 7.2 itself does not keep a list's encoding across
            // a reload (one node under half the limits → listpack); the
            // engine follows that rule, so built-by-commands differs
            if e != "quicklist" && !(e == "listpack" && is_list(c, &k)) {
                out.push(((db, k), e));
            }
        }
    }
    c.ask(&argv(&["SELECT", "0"]));
    out.sort();
    out
}

/// Panics naming the first few keys that differ (the whole maps are too big to print).
fn same<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    got: impl IntoIterator<Item = (K, V)>,
    want: impl IntoIterator<Item = (K, V)>,
    what: &str,
) {
    let got: std::collections::BTreeMap<K, V> = got.into_iter().collect();
    let want: std::collections::BTreeMap<K, V> = want.into_iter().collect();
    let mut diffs = Vec::new();
    for (k, w) in &want {
        match got.get(k) {
            Some(g) if g == w => {}
            g => diffs.push(format!("{k:?}: got {g:?}, want {w:?}")),
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(k)) {
        diffs.push(format!("{k:?}: unexpected"));
    }
    if !diffs.is_empty() {
        let shown: Vec<String> = diffs
            .iter()
            .take(3)
            .map(|d| d.chars().take(600).collect())
            .collect();
        panic!(
            "{what}: {} keys differ, e.g.\n{}",
            diffs.len(),
            shown.join("\n")
        );
    }
}

fn ok(r: Reply) {
    assert!(matches!(&r, Reply::Simple(s) if s == "OK"), "{r:?}");
}

fn info_field(db: &Db, name: &str) -> String {
    let Reply::Bulk(text) = db.execute(&["INFO", "persistence"]) else {
        panic!()
    };
    let text = String::from_utf8(text.to_vec()).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_string()
}

fn check_rdb(path: &Path) {
    if let Ok(out) = std::process::Command::new("redis-check-rdb")
        .arg(path)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Checksum OK"), "{text}");
        assert!(text.contains("RDB looks OK"), "{text}");
    }
}

#[test]
fn redis_dumps_load_at_open_with_the_same_contents_and_encodings() {
    let rdir = TempDir::new("rdb-eng-r");
    let Some(srv) = RedisServer::start_with(Some(rdir.path()), &[]) else {
        return;
    };
    let mut rc = srv.conn();
    for seed in [1u64, 2, 3] {
        rc.ask(&argv(&["FLUSHALL"]));
        let cmds = dataset(seed, 60);
        apply(&mut rc, &cmds);
        assert_eq!(rc.ask(&argv(&["SAVE"])), b"+OK\r\n");
        let want = dump(&mut rc, NDBS);
        // encodings: what the engine's own commands choose for the same data
        // (lists differ from 7.0 there: the engine has 7.2's listpack lists)
        let built = Db::in_memory();
        apply(&mut built.client(), &cmds);
        let want_enc = encodings(&mut built.client());
        let edir = TempDir::new("rdb-eng-e");
        std::fs::copy(rdir.path().join("dump.rdb"), edir.path().join("dump.rdb")).unwrap();
        let db = Db::open(cfg(edir.path())).unwrap();
        let mut ec = db.client();
        same(dump(&mut ec, NDBS), want.clone(), &format!("seed {seed}"));
        same(
            encodings(&mut ec),
            want_enc,
            &format!("encodings, seed {seed}"),
        );
        assert_eq!(
            info_field(&db, "rdb_last_load_keys_loaded"),
            want.len().to_string()
        );
        db.close().unwrap();
    }
}

#[test]
fn our_saves_load_in_redis_server() {
    if RedisServer::start().is_none() {
        return;
    }
    for (seed, bg) in [(11u64, false), (12, true)] {
        let edir = TempDir::new("rdb-eng-save");
        let db = Db::open(cfg(edir.path())).unwrap();
        let mut ec = db.client();
        let cmds = dataset(seed, 60);
        apply(&mut ec, &cmds);
        let want_enc = encodings(&mut ec);
        let want = dump(&mut ec, NDBS);
        if bg {
            let r = db.execute(&["BGSAVE"]);
            assert_eq!(r, Reply::Simple("Background saving started".into()));
            let t = Instant::now();
            while info_field(&db, "rdb_bgsave_in_progress") == "1" {
                assert!(t.elapsed() < Duration::from_secs(30));
                std::thread::sleep(Duration::from_millis(5));
            }
            assert_eq!(info_field(&db, "rdb_last_bgsave_status"), "ok");
        } else {
            ok(db.execute(&["SAVE"]));
        }
        assert_eq!(info_field(&db, "rdb_changes_since_last_save"), "0");
        assert_eq!(info_field(&db, "rdb_saves"), "1");
        db.execute(&["CONFIG", "SET", "save", ""]);
        db.close().unwrap();
        let path = edir.path().join("dump.rdb");
        check_rdb(&path);
        let srv = RedisServer::start_with(Some(edir.path()), &[]).unwrap();
        let mut rc = srv.conn();
        same(
            dump(&mut rc, NDBS),
            want,
            &format!("seed {seed} bgsave {bg}"),
        );
        // and back: what redis-server loaded it as is what we load it as
        let db = Db::open(cfg(edir.path())).unwrap();
        same(encodings(&mut db.client()), want_enc, "encodings");
        db.execute(&["CONFIG", "SET", "save", ""]);
    }
}

#[test]
fn dump_and_restore_cross_over_both_ways() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let mut rc = srv.conn();
    let cmds = dataset(21, 50);
    apply(&mut rc, &cmds);
    let db = Db::in_memory();
    let mut ec = db.client();
    apply(&mut ec, &cmds);
    let want = dump(&mut rc, NDBS);
    same(dump(&mut ec, NDBS), want.clone(), "same dataset");
    let keys: Vec<(usize, Vec<u8>)> = want.keys().cloned().collect();
    let other = Db::in_memory();
    let mut oc = other.client();
    let srv2 = RedisServer::start().unwrap();
    let mut rc2 = srv2.conn();
    let (mut same_bytes, mut total) = (0, 0);
    for (dbi, key) in &keys {
        let sel = argv(&["SELECT", &dbi.to_string()]);
        for c in [&mut rc as &mut dyn Answer, &mut ec, &mut oc, &mut rc2] {
            c.ask(&sel);
        }
        let Resp::Bulk(from_redis) = parse_resp(&rc.ask(&[b("DUMP"), key.clone()])) else {
            panic!()
        };
        let Resp::Bulk(from_us) = parse_resp(&ec.ask(&[b("DUMP"), key.clone()])) else {
            panic!()
        };
        total += 1;
        same_bytes += (from_redis == from_us) as usize;
        let pttl = |c: &mut dyn Answer| match parse_resp(&c.ask(&[b("PEXPIRETIME"), key.clone()])) {
            Resp::Int(n) if n > 0 => n.to_string().into_bytes(),
            _ => b("0"),
        };
        let at = pttl(&mut rc);
        let restore = |payload: &[u8]| {
            vec![
                b("RESTORE"),
                key.clone(),
                at.clone(),
                payload.to_vec(),
                b("ABSTTL"),
            ]
        };
        assert_eq!(oc.ask(&restore(&from_redis)), b"+OK\r\n");
        assert_eq!(rc2.ask(&restore(&from_us)), b"+OK\r\n", "{key:?}");
        // encodings after RESTORE: as the same data built by commands
        let enc = |c: &mut dyn Answer| c.ask(&[b("OBJECT"), b("ENCODING"), key.clone()]);
        if !is_list(&mut ec, key) {
            assert_eq!(enc(&mut oc), enc(&mut ec), "{key:?}");
            assert_eq!(enc(&mut rc2), enc(&mut rc), "{key:?}");
        }
    }
    for c in [&mut rc as &mut dyn Answer, &mut oc, &mut rc2] {
        c.ask(&argv(&["SELECT", "0"]));
    }
    same(dump(&mut oc, NDBS), want.clone(), "restored in emberkv");
    same(dump(&mut rc2, NDBS), want, "restored in redis-server");
    eprintln!("DUMP payloads byte-identical to redis-server's: {same_bytes}/{total}");
}

#[test]
fn restore_propagates_absolute_ttl_to_the_aof() {
    let dir = TempDir::new("rdb-eng-restore-aof");
    let mut c = cfg(dir.path());
    c.set("appendonly", "yes").unwrap();
    c.set("save", "").unwrap();
    let db = Db::open(c.clone()).unwrap();
    db.execute(&["SET", "s", "hello"]);
    let Reply::Bulk(p) = db.execute(&["DUMP", "s"]) else {
        panic!()
    };
    ok(db.execute(&[&b"RESTORE"[..], b"r1", b"100000", &p]));
    ok(db.execute(&[&b"RESTORE"[..], b"r2", b"1", &p, b"ABSTTL"]));
    ok(db.execute(&[&b"RESTORE"[..], b"s", b"1", &p, b"REPLACE", b"ABSTTL"]));
    db.close().unwrap();
    let mut text = Vec::new();
    for e in std::fs::read_dir(dir.path().join("appendonlydir")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".incr.aof") {
            text.extend(std::fs::read(p).unwrap());
        }
    }
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("ABSTTL"), "{text}");
    assert!(
        !text.contains("\r\n100000\r\n"),
        "relative TTL logged: {text}"
    );
    assert!(
        !text.contains("r2"),
        "an already expired RESTORE is not logged: {text}"
    );
    assert!(text.contains("DEL\r\n$1\r\ns\r\n"), "{text}");
    let db = Db::open(c).unwrap();
    assert_eq!(db.execute(&["GET", "r1"]), Reply::Bulk(b("hello").into()));
    assert_eq!(db.execute(&["EXISTS", "s", "r2"]), Reply::Int(0));
}

#[test]
fn loading_drops_expired_keys_and_refuses_what_it_cannot_hold() {
    let dir = TempDir::new("rdb-eng-load");
    let path = dir.path().join("dump.rdb");
    let write = |entries: Vec<RdbEntry>| {
        let f = std::fs::File::create(&path).unwrap();
        let mut w = RdbWriter::new(f);
        w.select_db(0, entries.len() as u64, 0).unwrap();
        for e in &entries {
            w.entry(&e.key, &e.value, e.expire_at_ms).unwrap();
        }
        w.finish().unwrap();
    };
    let mut old = RdbEntry::new(0, b("old"), RdbValue::Str(b("x")));
    old.expire_at_ms = Some(1000);
    let mut live = RdbEntry::new(0, b("live"), RdbValue::Str(b("y")));
    live.expire_at_ms = Some(u64::MAX / 4);
    write(vec![old, live]);
    let db = Db::open(cfg(dir.path())).unwrap();
    assert_eq!(db.execute(&["EXISTS", "old"]), Reply::Int(0));
    assert_eq!(db.execute(&["GET", "live"]), Reply::Bulk(b("y").into()));
    assert_eq!(info_field(&db, "rdb_last_load_keys_expired"), "1");
    db.execute(&["CONFIG", "SET", "save", ""]);
    db.close().unwrap();

    // a duplicate key
    write(vec![
        RdbEntry::new(0, b("k"), RdbValue::Str(b("1"))),
        RdbEntry::new(0, b("k"), RdbValue::Str(b("2"))),
    ]);
    let e = Db::open(cfg(dir.path())).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    assert!(e.message().contains("duplicate key 'k'"), "{e}");

    // truncated and damaged files: Corrupt, naming the file
    write(vec![RdbEntry::new(
        0,
        b("k"),
        RdbValue::Str(vec![b'v'; 100]),
    )]);
    let good = std::fs::read(&path).unwrap();
    for cut in [good.len() - 1, good.len() - 9, 20, 9] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let e = Db::open(cfg(dir.path())).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
        assert!(e.message().contains("dump.rdb"), "{e}");
    }
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 20] ^= 0x55;
    std::fs::write(&path, &bad).unwrap();
    let e = Db::open(cfg(dir.path())).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");
    // with rdbchecksum no the trailer is not checked (the value bytes still are)
    std::fs::write(&path, b"REDIS0011\xfe\x00garbage").unwrap();
    let e = Db::open(cfg(dir.path())).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Corrupt, "{e}");

    // a database beyond `databases`
    let f = std::fs::File::create(&path).unwrap();
    let mut w = RdbWriter::new(f);
    w.select_db(20, 1, 0).unwrap();
    w.entry(b"k", &RdbValue::Str(b("v")), None).unwrap();
    w.finish().unwrap();
    let e = Db::open(cfg(dir.path())).err().unwrap();
    assert!(e.message().contains("databases"), "{e}");
}

/// What a stream looks like from outside, time-independent: entries,
/// counters, groups (PEL sizes, last-delivered, entries-read, lag) and each
/// consumer's pending entries.
fn stream_view(ask: &mut dyn FnMut(&[&str]) -> Vec<u8>, key: &str) -> Vec<Vec<u8>> {
    let mut v = vec![
        ask(&["XRANGE", key, "-", "+"]),
        ask(&["XLEN", key]),
        ask(&["XINFO", "GROUPS", key]),
        ask(&["XPENDING", key, "g1"]),
    ];
    // per consumer: (id, consumer, idle ms, deliveries) with the idle time,
    // which depends on the clock, blanked
    for c in ["alice", "bob"] {
        let r = ask(&["XPENDING", key, "g1", "-", "+", "10", c]);
        let text = String::from_utf8_lossy(&r).into_owned();
        let needle = format!("\r\n{c}\r\n:");
        let mut out = String::new();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(&needle) {
            let start = at + needle.len();
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find("\r\n").unwrap();
            out.push('_');
            rest = &rest[end..];
        }
        out.push_str(rest);
        v.push(out.into_bytes());
    }
    // XINFO STREAM without the radix-tree shape (an estimate here)
    let info = ask(&["XINFO", "STREAM", key]);
    let text = String::from_utf8_lossy(&info).into_owned();
    let parts: Vec<&str> = text.split("\r\n").collect();
    let mut kept = Vec::new();
    let mut skip = 0;
    for (n, p) in parts.iter().enumerate() {
        if skip > 0 {
            skip -= 1;
            continue;
        }
        if (*p == "radix-tree-keys" || *p == "radix-tree-nodes") && n > 0 {
            kept.pop(); // its "$len" line
            skip = 1; // its value
            continue;
        }
        kept.push(*p);
    }
    v.push(kept.join("\r\n").into_bytes());
    v
}

fn build_stream(ask: &mut dyn FnMut(&[&str]) -> Vec<u8>) {
    for i in 1..=30 {
        ask(&[
            "XADD",
            "events:1",
            &format!("{i}-1"),
            "user",
            "u1",
            "n",
            &i.to_string(),
        ]);
    }
    ask(&["XADD", "events:1", "31-0", "other", "fields", "here", "x"]);
    ask(&["XDEL", "events:1", "5-1", "6-1"]);
    ask(&["XGROUP", "CREATE", "events:1", "g1", "0"]);
    ask(&["XGROUP", "CREATE", "events:1", "g2", "$"]);
    ask(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "alice",
        "COUNT",
        "4",
        "STREAMS",
        "events:1",
        ">",
    ]);
    ask(&[
        "XREADGROUP",
        "GROUP",
        "g1",
        "bob",
        "COUNT",
        "3",
        "STREAMS",
        "events:1",
        ">",
    ]);
    ask(&["XACK", "events:1", "g1", "2-1"]);
    ask(&["XGROUP", "CREATECONSUMER", "events:1", "g2", "carol"]);
    ask(&["XADD", "empty", "1-1", "a", "b"]);
    ask(&["XDEL", "empty", "1-1"]);
}

#[test]
fn streams_load_and_save_both_ways_with_redis_server() {
    let rdir = TempDir::new("rdb-eng-stream");
    let Some(srv) = RedisServer::start_with(Some(rdir.path()), &[]) else {
        return;
    };
    let mut rc = srv.conn();
    build_stream(&mut |a| rc.ask(&argv(a)));
    let want = stream_view(&mut |a| rc.ask(&argv(a)), "events:1");
    let want_empty = rc.ask(&argv(&["XINFO", "GROUPS", "empty"]));
    assert_eq!(rc.ask(&argv(&["SAVE"])), b"+OK\r\n");

    // redis → emberkv through dump.rdb
    let db = Db::open(cfg(rdir.path())).unwrap();
    let mut ask = |a: &[&str]| db.execute(a).to_resp2();
    assert_eq!(stream_view(&mut ask, "events:1"), want);
    assert_eq!(ask(&["TYPE", "empty"]), b"+stream\r\n");
    assert_eq!(ask(&["XLEN", "empty"]), b":0\r\n");
    assert_eq!(ask(&["XINFO", "GROUPS", "empty"]), want_empty);

    // redis → emberkv through DUMP / RESTORE
    let Resp::Bulk(p) = parse_resp(&rc.ask(&argv(&["DUMP", "events:1"]))) else {
        panic!()
    };
    let mem = Db::in_memory();
    let r = mem.execute(&[&b"RESTORE"[..], b"events:1", b"0", &p]);
    assert_eq!(r, Reply::ok());
    assert_eq!(
        stream_view(&mut |a| mem.execute(a).to_resp2(), "events:1"),
        want
    );

    // emberkv → redis through SAVE
    let edir = TempDir::new("rdb-eng-stream-out");
    let db2 = Db::open(cfg(edir.path())).unwrap();
    build_stream(&mut |a| db2.execute(a).to_resp2());
    let ours = stream_view(&mut |a| db2.execute(a).to_resp2(), "events:1");
    assert_eq!(ours, want, "the same commands build the same stream");
    assert_eq!(db2.execute(&["SAVE"]), Reply::ok());
    drop(db2);
    let Some(srv2) = RedisServer::start_with(Some(edir.path()), &[]) else {
        return;
    };
    let mut rc2 = srv2.conn();
    assert_eq!(stream_view(&mut |a| rc2.ask(&argv(a)), "events:1"), want);
    assert_eq!(rc2.ask(&argv(&["XINFO", "GROUPS", "empty"])), want_empty);
}

#[test]
fn bgsave_is_a_point_in_time_view_while_writers_run() {
    let dir = TempDir::new("rdb-eng-bg");
    let db = Db::open(cfg(dir.path())).unwrap();
    db.execute(&["CONFIG", "SET", "save", ""]);
    // pairs in different shards, always changed together in MULTI/EXEC
    let pairs = 64;
    for i in 0..pairs {
        db.execute(&["MSET", &format!("a{i}"), "0", &format!("b{i}"), "0"]);
    }
    for i in 0..20_000 {
        db.execute(&["SET", &format!("fill:{i}"), "x"]);
    }
    // slow the saver down so the writers overlap it
    ok(db.execute(&["CONFIG", "SET", "rdb-key-save-delay", "20"]));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for t in 0..2 {
        let db = db.clone();
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let mut c = db.client();
            let mut worst = Duration::ZERO;
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let i = (n * 7 + t) % pairs;
                let t0 = Instant::now();
                c.execute(&["MULTI"]);
                c.execute(&["INCR", &format!("a{i}")]);
                c.execute(&["INCR", &format!("b{i}")]);
                c.execute(&["EXEC"]);
                worst = worst.max(t0.elapsed());
                n += 1;
            }
            (n, worst)
        }));
    }
    std::thread::sleep(Duration::from_millis(50));
    let r = db.execute(&["BGSAVE"]);
    assert_eq!(r, Reply::Simple("Background saving started".into()));
    assert_eq!(
        db.execute(&["BGSAVE"]),
        Reply::Error("ERR Background save already in progress".into())
    );
    assert_eq!(
        db.execute(&["SAVE"]),
        Reply::Error("ERR Background save already in progress".into())
    );
    assert_eq!(info_field(&db, "rdb_bgsave_in_progress"), "1");
    // an AOF rewrite asked for meanwhile is scheduled, as Redis does
    assert_eq!(
        db.execute(&["BGREWRITEAOF"]),
        Reply::Simple("Background append only file rewriting scheduled".into())
    );
    let t = Instant::now();
    while info_field(&db, "rdb_bgsave_in_progress") == "1" {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for w in writers {
        let (n, worst) = w.join().unwrap();
        total += n;
        eprintln!("writer: {n} transactions, slowest {worst:?}");
    }
    assert!(total > 0);
    assert_eq!(info_field(&db, "rdb_last_bgsave_status"), "ok");
    assert!(
        info_field(&db, "rdb_changes_since_last_save")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    db.execute(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    // wait for the scheduled rewrite so close does not race it
    std::thread::sleep(Duration::from_millis(300));
    db.close().unwrap();
    // the file holds a consistent cut: every pair equal
    let dir2 = TempDir::new("rdb-eng-bg2");
    std::fs::copy(dir.path().join("dump.rdb"), dir2.path().join("dump.rdb")).unwrap();
    let db = Db::open(cfg(dir2.path())).unwrap();
    db.execute(&["CONFIG", "SET", "save", ""]);
    let mut moved = 0;
    for i in 0..pairs {
        let a = db.execute(&["GET", &format!("a{i}")]);
        let bv = db.execute(&["GET", &format!("b{i}")]);
        assert_eq!(a, bv, "pair {i} torn in the snapshot");
        moved += (a != Reply::Bulk(b("0").into())) as usize;
    }
    assert!(moved > 0, "the writers never ran before the cut");
    assert_eq!(
        db.execute(&["DBSIZE"]),
        Reply::Int(2 * pairs as i64 + 20_000)
    );
}

#[test]
fn save_points_and_the_final_save_at_close() {
    let dir = TempDir::new("rdb-eng-points");
    let clock = ManualClock::starting_now();
    let mut c = cfg(dir.path());
    c.clock = Some(clock.clone());
    c.set("save", "10 2").unwrap();
    c.set("hz", "100").unwrap();
    let db = Db::open(c.clone()).unwrap();
    let path = dir.path().join("dump.rdb");
    db.execute(&["SET", "a", "1"]);
    clock.advance_ms(11_000);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!path.exists(), "one change is below the save point");
    db.execute(&["SET", "b", "2"]);
    let t = Instant::now();
    while info_field(&db, "rdb_saves") != "1" {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the save point never fired"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(path.exists());
    assert_eq!(
        db.execute(&["LASTSAVE"]),
        Reply::Int((clock.now_ms() / 1000) as i64)
    );
    // close saves (save points configured), as SHUTDOWN
    db.execute(&["SET", "c", "3"]);
    db.close().unwrap();
    let db = Db::open(c.clone()).unwrap();
    assert_eq!(
        db.execute(&["MGET", "a", "b", "c"]).to_resp2(),
        b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    // without save points, close does not save
    ok(db.execute(&["CONFIG", "SET", "save", ""]));
    db.execute(&["SET", "d", "4"]);
    drop(db);
    let db = Db::open(c).unwrap();
    assert_eq!(db.execute(&["EXISTS", "d"]), Reply::Int(0));
    assert_eq!(
        db.execute(&["CONFIG", "GET", "save"]).to_resp2(),
        b"*2\r\n$4\r\nsave\r\n$4\r\n10 2\r\n"
    );
    db.execute(&["CONFIG", "SET", "save", ""]);
}

#[test]
fn a_failed_bgsave_stops_writes_until_a_save_succeeds() {
    let dir = TempDir::new("rdb-eng-misconf");
    let db = Db::open(cfg(dir.path())).unwrap();
    db.execute(&["SET", "k", "v"]);
    // a directory where the dump should go: the rename fails
    std::fs::create_dir(dir.path().join("dump.rdb")).unwrap();
    db.execute(&["BGSAVE"]);
    let t = Instant::now();
    while info_field(&db, "rdb_last_bgsave_status") != "err" {
        assert!(t.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = db.execute(&["SET", "k", "w"]);
    assert!(
        matches!(&r, Reply::Error(e) if e.starts_with("MISCONF ")),
        "{r:?}"
    );
    assert_eq!(db.execute(&["GET", "k"]), Reply::Bulk(b("v").into()));
    ok(db.execute(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]));
    ok(db.execute(&["SET", "k", "w"]));
    ok(db.execute(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]));
    std::fs::remove_dir(dir.path().join("dump.rdb")).unwrap();
    ok(db.execute(&["SAVE"]));
    ok(db.execute(&["SET", "k", "x"]));
    db.close().unwrap();
}

#[test]
fn in_memory_and_misuse_errors() {
    let db = Db::in_memory();
    let r = db.execute(&["SAVE"]);
    assert!(
        matches!(&r, Reply::Error(e) if e.contains("data directory")),
        "{r:?}"
    );
    let r = db.execute(&["BGSAVE"]);
    assert!(
        matches!(&r, Reply::Error(e) if e.contains("data directory")),
        "{r:?}"
    );
    assert!(db.save().is_err());
    // Config::set checks `save` as CONFIG SET does
    let mut c = Config::default();
    assert!(c.set("save", "0 5").is_err());
    assert!(c.set("save", "100 5").is_ok());
    assert!(c.set("dbfilename", "a/b").is_err());
}

// ---------------------------------------------------------------- crash

const CHILD_ENV: &str = "EMBERKV_RDB_CRASH_CHILD";

/// The child: opens `dir`, fills a new dataset and saves it slowly (SAVE or
/// BGSAVE), printing "SAVING" once the save has begun. Killed mid-save.
#[test]
fn rdb_crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, bg) = spec.split_once('|').unwrap();
    let db = Db::open(cfg(Path::new(dir))).unwrap();
    for i in 0..5000 {
        db.execute(&["SET", &format!("new{i}"), "v"]);
    }
    db.execute(&["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
    use std::io::Write;
    println!("SAVING");
    std::io::stdout().flush().unwrap();
    if bg == "1" {
        db.execute(&["BGSAVE"]);
        std::thread::sleep(Duration::from_secs(60));
    } else {
        db.execute(&["SAVE"]);
    }
}

#[test]
fn a_crash_during_a_save_leaves_the_previous_dump() {
    use std::io::BufRead;
    for bg in ["0", "1"] {
        let dir = TempDir::new("rdb-eng-crash");
        let db = Db::open(cfg(dir.path())).unwrap();
        for i in 0..100 {
            db.execute(&["SET", &format!("old{i}"), "v"]);
        }
        db.close().unwrap(); // the final save writes the first dump
        let before = std::fs::read(dir.path().join("dump.rdb")).unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "rdb_crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, format!("{}|{bg}", dir.path().display()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while out.read_line(&mut line).unwrap() > 0 && !line.contains("SAVING") {
            line.clear();
        }
        assert!(line.contains("SAVING"), "child output: {line}");
        // let the save write part of its temp file, then kill -9
        let t = Instant::now();
        loop {
            let temp = std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("temp-"));
            if temp || t.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(200));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("dump.rdb")).unwrap(),
            before,
            "bgsave {bg}: the dump changed"
        );
        let db = Db::open(cfg(dir.path())).unwrap();
        assert_eq!(db.execute(&["DBSIZE"]), Reply::Int(100));
        db.execute(&["CONFIG", "SET", "save", ""]);
    }
}

/// DEBUG OBJECT's serializedlength is the value's RDB body length, as in
/// redis-server (values short enough that LZF does not apply).
#[test]
fn debug_object_serializedlength_matches_redis() {
    let Some(srv) = RedisServer::start_with(None, &["--enable-debug-command", "yes"]) else {
        return;
    };
    let mut rc = srv.conn();
    let db = Db::in_memory();
    let setup: &[&[&str]] = &[
        &["SET", "s", "hello"],
        &["SET", "n", "12345"],
        &["RPUSH", "l", "a", "b", "c"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["SADD", "i", "1", "2", "3"],
        &["SADD", "t", "x", "y"],
        &["ZADD", "z", "1", "a", "2.5", "b"],
    ];
    for c in setup {
        rc.ask(&argv(c));
        db.execute(c);
    }
    for k in ["s", "n", "l", "h", "i", "t", "z"] {
        let field = |r: &[u8]| {
            let t = String::from_utf8_lossy(r).into_owned();
            t.split(' ')
                .find(|w| w.starts_with("serializedlength:"))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{k}: {t}"))
        };
        let theirs = field(&rc.ask(&argv(&["DEBUG", "OBJECT", k])));
        let ours = field(&db.execute(&["DEBUG", "OBJECT", k]).to_resp2());
        assert_eq!(ours, theirs, "{k}");
    }
}

/// The snapshot is copied on write slot by slot: deletes, new keys, changed
/// deadlines and commands that replace whole databases (SWAPDB, FLUSHDB,
/// FLUSHALL) during a BGSAVE must all leave the file as it was at the cut.
#[test]
fn bgsave_keeps_the_cut_through_deletes_deadlines_and_whole_db_changes() {
    let dir = TempDir::new("rdb-eng-cow");
    let db = Db::open(cfg(dir.path())).unwrap();
    db.execute(&["CONFIG", "SET", "save", ""]);
    let at = "4102444800000"; // 2100-01-01, in ms
    let mut c = db.client();
    for i in 0..3000 {
        c.execute(&["SET", &format!("k{i}"), &format!("v{i}")]);
        if i % 3 == 0 {
            c.execute(&["PEXPIREAT", &format!("k{i}"), at]);
        }
    }
    c.execute(&["SELECT", "1"]);
    for i in 0..1000 {
        c.execute(&["HSET", &format!("h{i}"), "f", &format!("{i}")]);
    }
    c.execute(&["SELECT", "2"]);
    for i in 0..500 {
        c.execute(&["RPUSH", &format!("l{i}"), "a", &format!("{i}")]);
    }
    // slow the saver down so every change below lands during the save
    ok(db.execute(&["CONFIG", "SET", "rdb-key-save-delay", "200"]));
    let r = db.execute(&["BGSAVE"]);
    assert_eq!(r, Reply::Simple("Background saving started".into()));
    c.execute(&["SELECT", "0"]);
    for i in (0..3000).step_by(2) {
        c.execute(&["DEL", &format!("k{i}")]);
    }
    for i in (1..3000).step_by(6) {
        c.execute(&["PERSIST", &format!("k{i}")]);
        c.execute(&["EXPIRE", &format!("k{}", i + 2), "100000"]);
    }
    for i in 0..2000 {
        c.execute(&["SET", &format!("new{i}"), "x"]);
    }
    c.execute(&["SWAPDB", "0", "1"]);
    c.execute(&["SELECT", "2"]);
    c.execute(&["FLUSHDB"]);
    c.execute(&["RPUSH", "l1", "changed"]);
    c.execute(&["FLUSHALL"]);
    assert_eq!(
        info_field(&db, "rdb_bgsave_in_progress"),
        "1",
        "the changes must overlap the save"
    );
    db.execute(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    let t = Instant::now();
    while info_field(&db, "rdb_bgsave_in_progress") == "1" {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_field(&db, "rdb_last_bgsave_status"), "ok");
    db.close().unwrap();

    let dir2 = TempDir::new("rdb-eng-cow2");
    std::fs::copy(dir.path().join("dump.rdb"), dir2.path().join("dump.rdb")).unwrap();
    let db = Db::open(cfg(dir2.path())).unwrap();
    db.execute(&["CONFIG", "SET", "save", ""]);
    let mut c = db.client();
    assert_eq!(c.execute(&["DBSIZE"]), Reply::Int(3000));
    for i in 0..3000 {
        let k = format!("k{i}");
        assert_eq!(
            c.execute(&["GET", &k]),
            Reply::Bulk(b(&format!("v{i}")).into())
        );
        let want = if i % 3 == 0 { at.parse().unwrap() } else { -1 };
        assert_eq!(c.execute(&["PEXPIRETIME", &k]), Reply::Int(want), "{k}");
    }
    c.execute(&["SELECT", "1"]);
    assert_eq!(c.execute(&["DBSIZE"]), Reply::Int(1000));
    for i in 0..1000 {
        assert_eq!(
            c.execute(&["HGET", &format!("h{i}"), "f"]),
            Reply::Bulk(b(&format!("{i}")).into())
        );
    }
    c.execute(&["SELECT", "2"]);
    assert_eq!(c.execute(&["DBSIZE"]), Reply::Int(500));
    for i in 0..500 {
        assert_eq!(c.execute(&["LLEN", &format!("l{i}")]), Reply::Int(2));
    }
}
