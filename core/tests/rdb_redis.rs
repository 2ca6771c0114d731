//! RDB compatibility with a real redis-server 7.0, both ways:
//! - random datasets written by our writer pass `redis-check-rdb` ("Checksum
//!   OK") and load into redis-server with exactly the same contents;
//! - random datasets built in redis-server with commands (all types, small
//!   and large encodings, compressed list nodes, binary keys, expiries,
//!   several databases, streams with groups) are SAVEd and read back by our
//!   reader with exactly the contents the server reports;
//! - DUMP payloads cross over both ways (DUMP → `parse_payload`,
//!   `dump_payload` → RESTORE).
//!
//! Skipped when redis-server is not installed (unless EMBERKV_REQUIRE_REDIS=1).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::RespConn;
use emberkv::persist::rdb::{
    self, RdbEntry, RdbValue, RdbWriter, StreamConsumer, StreamEntry, StreamGroup, StreamId,
    StreamPending, StreamValue, WriteOptions,
};

// ---------------------------------------------------------------- server

struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn have_redis() -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("EMBERKV_REQUIRE_REDIS").as_deref() != Ok("1"),
            "redis-server not found but EMBERKV_REQUIRE_REDIS=1"
        );
        eprintln!("redis-server not installed: skipping");
    }
    ok
}

/// A temporary directory removed on drop.
struct Tmp(PathBuf);

impl std::ops::Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(tag: &str) -> Tmp {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "emberkv-rdb-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    Tmp(d)
}

impl Server {
    /// redis-server on 127.0.0.1 in `dir`, loading `dir/dbfile` if present.
    fn start(dir: &Path, dbfile: &str, extra: &[&str]) -> Server {
        for _ in 0..20 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--enable-debug-command", "yes", "--dbfilename", dbfile])
                .arg("--dir")
                .arg(dir)
                .args(["--logfile", "redis.log"])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let mut s = Server {
                child,
                port,
                dir: dir.to_path_buf(),
            };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if common::answers(&s.child, port) {
                    return s;
                }
                if let Ok(Some(_)) = s.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(Some(status)) = s.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
                if log.contains("Address already in use") {
                    continue;
                }
                panic!("redis-server exited ({status}):\n{log}");
            }
            let _ = s.child.kill();
            let _ = s.child.wait();
        }
        panic!("could not start redis-server");
    }

    fn conn(&self) -> RespConn {
        RespConn::connect(self.port).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = &self.dir;
    }
}

// ---------------------------------------------------------------- RESP

#[derive(Clone, Debug, PartialEq)]
enum R {
    Nil,
    Int(i64),
    Str(Vec<u8>),
    Err(String),
    Arr(Vec<R>),
}

impl R {
    fn bytes(&self) -> Vec<u8> {
        match self {
            R::Str(b) => b.clone(),
            R::Int(i) => i.to_string().into_bytes(),
            other => panic!("not a string: {other:?}"),
        }
    }
    fn int(&self) -> i64 {
        match self {
            R::Int(i) => *i,
            R::Str(b) => String::from_utf8_lossy(b).parse().unwrap(),
            other => panic!("not an int: {other:?}"),
        }
    }
    fn arr(&self) -> &[R] {
        match self {
            R::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
    /// A flat [k, v, k, v…] reply as a lookup.
    fn get(&self, key: &str) -> &R {
        let a = self.arr();
        for p in a.chunks(2) {
            if p[0].bytes() == key.as_bytes() {
                return &p[1];
            }
        }
        panic!("no {key} in {self:?}")
    }
}

fn parse(b: &[u8], p: &mut usize) -> R {
    let end = *p + b[*p..].windows(2).position(|w| w == b"\r\n").unwrap();
    let line = &b[*p + 1..end];
    let t = b[*p];
    *p = end + 2;
    let num = || String::from_utf8_lossy(line).parse::<i64>().unwrap();
    match t {
        b'+' => R::Str(line.to_vec()),
        b'-' => R::Err(String::from_utf8_lossy(line).into_owned()),
        b':' => R::Int(num()),
        b'$' => {
            let n = num();
            if n < 0 {
                return R::Nil;
            }
            let s = b[*p..*p + n as usize].to_vec();
            *p += n as usize + 2;
            R::Str(s)
        }
        b'*' => {
            let n = num();
            if n < 0 {
                return R::Nil;
            }
            R::Arr((0..n).map(|_| parse(b, p)).collect())
        }
        _ => panic!("bad RESP"),
    }
}

fn cmd(c: &mut RespConn, argv: &[&[u8]]) -> R {
    let raw = c.command(&argv.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
    parse(&raw, &mut 0)
}

fn ok(c: &mut RespConn, argv: &[&[u8]]) -> R {
    let r = cmd(c, argv);
    if let R::Err(e) = &r {
        panic!(
            "{:?}: {e}",
            argv.iter()
                .map(|a| String::from_utf8_lossy(a))
                .collect::<Vec<_>>()
        );
    }
    r
}

// ---------------------------------------------------------------- normal form

/// A value in a comparable form: unordered collections sorted, zsets in
/// ZRANGE order, streams flattened to what XINFO STREAM FULL shows.
#[derive(Debug, PartialEq)]
enum N {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    Stream(Box<SN>),
}

#[derive(Debug, PartialEq)]
struct SN {
    entries: Vec<(StreamId, Vec<Vec<u8>>)>,
    last_id: StreamId,
    max_deleted_id: StreamId,
    first_id: StreamId,
    entries_added: u64,
    /// name, last delivered, entries read, PEL (id, consumer, time, count),
    /// consumers (name, seen time, ids).
    groups: Vec<GroupN>,
}

type GroupN = (
    Vec<u8>,
    StreamId,
    Option<u64>,
    Vec<(StreamId, Vec<u8>, u64, u64)>,
    Vec<(Vec<u8>, u64, Vec<StreamId>)>,
);

fn zorder(z: &mut [(Vec<u8>, f64)]) {
    z.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
}

fn normalize(v: &RdbValue) -> N {
    match v {
        RdbValue::Str(s) => N::Str(s.clone()),
        RdbValue::List(l) => N::List(l.clone()),
        RdbValue::Set(s) => {
            let mut s = s.clone();
            s.sort();
            N::Set(s)
        }
        RdbValue::ZSet(z) => {
            let mut z = z.clone();
            zorder(&mut z);
            N::ZSet(z)
        }
        RdbValue::Hash(h) => {
            let mut h = h.clone();
            h.sort();
            N::Hash(h)
        }
        RdbValue::Stream(s) => N::Stream(Box::new(SN {
            entries: s
                .entries
                .iter()
                .map(|e| {
                    (
                        e.id,
                        e.fields
                            .iter()
                            .flat_map(|(f, v)| [f.clone(), v.clone()])
                            .collect(),
                    )
                })
                .collect(),
            last_id: s.last_id,
            max_deleted_id: s.max_deleted_id,
            first_id: s.first_id,
            entries_added: s.entries_added,
            groups: s
                .groups
                .iter()
                .map(|g| {
                    let owner = |id: StreamId| {
                        g.consumers
                            .iter()
                            .find(|c| c.pel.contains(&id))
                            .unwrap()
                            .name
                            .clone()
                    };
                    let mut cons: Vec<_> = g
                        .consumers
                        .iter()
                        .map(|c| (c.name.clone(), c.seen_time_ms, c.pel.clone()))
                        .collect();
                    cons.sort();
                    (
                        g.name.clone(),
                        g.last_delivered_id,
                        g.entries_read,
                        g.pel
                            .iter()
                            .map(|p| (p.id, owner(p.id), p.delivery_time_ms, p.delivery_count))
                            .collect(),
                        cons,
                    )
                })
                .collect(),
        })),
        other => panic!("no normal form for {other:?}"),
    }
}

fn sid(r: &R) -> StreamId {
    let s = String::from_utf8(r.bytes()).unwrap();
    let (a, b) = s.split_once('-').unwrap();
    StreamId::new(a.parse().unwrap(), b.parse().unwrap())
}

/// The server's view of one key: (normal form, expire ms).
fn readback(c: &mut RespConn, key: &[u8]) -> (N, Option<u64>) {
    let t = ok(c, &[b"TYPE", key]).bytes();
    let exp = ok(c, &[b"PEXPIRETIME", key]).int();
    let exp = (exp >= 0).then_some(exp as u64);
    let strs = |r: R| r.arr().iter().map(|x| x.bytes()).collect::<Vec<_>>();
    let n = match t.as_slice() {
        b"string" => N::Str(ok(c, &[b"GET", key]).bytes()),
        b"list" => N::List(strs(ok(c, &[b"LRANGE", key, b"0", b"-1"]))),
        b"set" => {
            let mut s = strs(ok(c, &[b"SMEMBERS", key]));
            s.sort();
            N::Set(s)
        }
        b"zset" => {
            let r = ok(c, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]);
            N::ZSet(
                r.arr()
                    .chunks(2)
                    .map(|p| {
                        let s = String::from_utf8(p[1].bytes()).unwrap();
                        (p[0].bytes(), s.parse::<f64>().unwrap())
                    })
                    .collect(),
            )
        }
        b"hash" => {
            let r = ok(c, &[b"HGETALL", key]);
            let mut h: Vec<_> = r
                .arr()
                .chunks(2)
                .map(|p| (p[0].bytes(), p[1].bytes()))
                .collect();
            h.sort();
            N::Hash(h)
        }
        b"stream" => {
            let r = ok(c, &[b"XINFO", b"STREAM", key, b"FULL", b"COUNT", b"0"]);
            let entries = r
                .get("entries")
                .arr()
                .iter()
                .map(|e| (sid(&e.arr()[0]), strs(e.arr()[1].clone())))
                .collect();
            let groups = r
                .get("groups")
                .arr()
                .iter()
                .map(|g| {
                    let er = match g.get("entries-read") {
                        R::Nil => None,
                        x => Some(x.int() as u64),
                    };
                    let pel = g
                        .get("pending")
                        .arr()
                        .iter()
                        .map(|p| {
                            let p = p.arr();
                            (
                                sid(&p[0]),
                                p[1].bytes(),
                                p[2].int() as u64,
                                p[3].int() as u64,
                            )
                        })
                        .collect();
                    let mut cons: Vec<_> = g
                        .get("consumers")
                        .arr()
                        .iter()
                        .map(|cn| {
                            (
                                cn.get("name").bytes(),
                                cn.get("seen-time").int() as u64,
                                cn.get("pending")
                                    .arr()
                                    .iter()
                                    .map(|p| sid(&p.arr()[0]))
                                    .collect(),
                            )
                        })
                        .collect();
                    cons.sort();
                    (
                        g.get("name").bytes(),
                        sid(g.get("last-delivered-id")),
                        er,
                        pel,
                        cons,
                    )
                })
                .collect();
            N::Stream(Box::new(SN {
                entries,
                last_id: sid(r.get("last-generated-id")),
                max_deleted_id: sid(r.get("max-deleted-entry-id")),
                first_id: sid(r.get("recorded-first-entry-id")),
                entries_added: r.get("entries-added").int() as u64,
                groups,
            }))
        }
        other => panic!("unexpected type {}", String::from_utf8_lossy(other)),
    };
    (n, exp)
}

// ---------------------------------------------------------------- datasets

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// A string of one of many shapes: ints (canonical or not), text,
    /// binary, compressible, long.
    fn elem(&mut self, max_len: usize) -> Vec<u8> {
        let v = match self.below(12) {
            0 => (self.next() as i64 % 1000).to_string().into_bytes(),
            1 => (self.next() as i32).to_string().into_bytes(),
            2 => (self.next() as i64).to_string().into_bytes(),
            3 => [&b"007"[..], b"-0", b"+1", b" 1", b"1.5", b"", b"\x00"][self.below(7) as usize]
                .to_vec(),
            4 => {
                let n = self.below(40) as usize;
                self.bytes(n)
            }
            5 => {
                let n = 21 + self.below(300) as usize;
                b"abcab".iter().cycle().take(n).copied().collect()
            }
            6 => {
                let n = 60 + self.below(10) as usize;
                self.bytes(n)
            }
            7 => format!("text-{}", self.below(1_000_000)).into_bytes(),
            _ => format!("m{}", self.next() % 100_000).into_bytes(),
        };
        v.into_iter().take(max_len).collect()
    }
    fn score(&mut self) -> f64 {
        match self.below(10) {
            0 => f64::INFINITY,
            1 => f64::NEG_INFINITY,
            2 => 0.1,
            3 => 1e-300,
            4 => (self.next() as i64 % 100) as f64,
            5 => 1.2345678901234567e17,
            _ => (self.next() % 1_000_000) as f64 / 7.0 - 50000.0,
        }
    }
}

fn distinct(v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

fn gen_stream(rng: &mut Rng) -> StreamValue {
    let n = [0u64, 1, 5, 40, 260][rng.below(5) as usize];
    let mut id = StreamId::new(1 + rng.below(1_700_000_000_000), 0);
    let fields_a: Vec<Vec<u8>> = vec![b"name".to_vec(), b"age".to_vec()];
    let mut entries = Vec::new();
    for _ in 0..n {
        if rng.chance(50) {
            id.seq += 1 + rng.below(3);
        } else {
            id = StreamId::new(id.ms + 1 + rng.below(1000), rng.below(3));
        }
        let fields = if rng.chance(60) {
            fields_a.iter().map(|f| (f.clone(), rng.elem(30))).collect()
        } else {
            (0..1 + rng.below(4))
                .map(|k| (format!("f{k}").into_bytes(), rng.elem(100)))
                .collect()
        };
        entries.push(StreamEntry { id, fields });
    }
    let deleted = rng.below(3);
    let last_id = if deleted > 0 || entries.is_empty() {
        StreamId::new(id.ms + 5, 0)
    } else {
        id
    };
    let max_deleted_id = if deleted > 0 { last_id } else { StreamId::ZERO };
    let first_id = entries.first().map_or(StreamId::ZERO, |e| e.id);
    let mut s = StreamValue {
        entries_added: n + deleted,
        entries,
        last_id,
        first_id,
        max_deleted_id,
        groups: Vec::new(),
    };
    for g in 0..rng.below(3) {
        let mut pel = Vec::new();
        let mut consumers: Vec<StreamConsumer> = (0..1 + rng.below(3))
            .map(|k| StreamConsumer {
                name: format!("consumer-{k}").into_bytes(),
                seen_time_ms: 1_700_000_000_000 + rng.below(1 << 30),
                active_time_ms: 0,
                pel: vec![],
            })
            .collect();
        for e in &s.entries {
            if rng.chance(20) {
                pel.push(StreamPending {
                    id: e.id,
                    delivery_time_ms: 1_700_000_000_000 + rng.below(1 << 30),
                    delivery_count: 1 + rng.below(4),
                });
                let k = rng.below(consumers.len() as u64) as usize;
                consumers[k].pel.push(e.id);
            }
        }
        for c in &mut consumers {
            c.active_time_ms = c.seen_time_ms;
        }
        let last_delivered_id = pel.last().map_or(StreamId::ZERO, |p: &StreamPending| p.id);
        s.groups.push(StreamGroup {
            name: format!("group-{g}").into_bytes(),
            last_delivered_id,
            entries_read: if rng.chance(50) {
                None
            } else {
                Some(rng.below(n + 1))
            },
            pel,
            consumers,
        });
    }
    s
}

/// A random dataset: (db, key, value, expire).
fn gen_dataset(seed: u64, keys: usize) -> Vec<RdbEntry> {
    let mut rng = Rng(seed);
    let dbs = [0usize, 1, 3, 9];
    let mut out = Vec::new();
    for i in 0..keys {
        let db = dbs[rng.below(dbs.len() as u64) as usize];
        let mut key = format!("k{i}:").into_bytes();
        if rng.chance(30) {
            let n = rng.below(20) as usize;
            key.extend(rng.bytes(n));
        } else {
            key.extend(rng.elem(30));
        }
        let big = rng.chance(25);
        let value = match rng.below(7) {
            0 => RdbValue::Str(if big { rng.elem(100_000) } else { rng.elem(64) }),
            1 => {
                let n = if big {
                    500 + rng.below(3000)
                } else {
                    1 + rng.below(20)
                };
                let mut l: Vec<Vec<u8>> = (0..n).map(|_| rng.elem(200)).collect();
                if big && rng.chance(30) {
                    l.push(vec![b'L'; 9000]); // over the 8 KiB node limit: a node of its own
                }
                RdbValue::List(l)
            }
            2 => {
                let n = if big {
                    300 + rng.below(700)
                } else {
                    1 + rng.below(20)
                };
                let m: Vec<Vec<u8>> = if rng.chance(50) {
                    (0..n)
                        .map(|_| {
                            (rng.next() as i64 >> rng.below(60))
                                .to_string()
                                .into_bytes()
                        })
                        .collect()
                } else {
                    (0..n).map(|_| rng.elem(100)).collect()
                };
                RdbValue::Set(distinct(m))
            }
            3 => {
                let n = if big {
                    130 + rng.below(500)
                } else {
                    1 + rng.below(30)
                };
                let maxlen = if big && rng.chance(50) { 100 } else { 60 };
                let m = distinct((0..n).map(|_| rng.elem(maxlen)).collect());
                RdbValue::ZSet(m.into_iter().map(|m| (m, rng.score())).collect())
            }
            4 => {
                let n = if big {
                    100 + rng.below(700)
                } else {
                    1 + rng.below(30)
                };
                let f = distinct(
                    (0..n)
                        .map(|_| rng.elem(if big { 100 } else { 60 }))
                        .collect(),
                );
                RdbValue::Hash(
                    f.into_iter()
                        .map(|f| (f, rng.elem(if big { 300 } else { 60 })))
                        .collect(),
                )
            }
            5 => RdbValue::Stream(Box::new(gen_stream(&mut rng))),
            _ => RdbValue::Str(rng.elem(11)),
        };
        let value = match value {
            RdbValue::Set(s) if s.is_empty() => RdbValue::Str(b"x".to_vec()),
            v => v,
        };
        let mut e = RdbEntry::new(db, key, value);
        if rng.chance(30) {
            e.expire_at_ms = Some(4_102_444_800_000 + rng.below(1 << 40));
        }
        out.push(e);
    }
    out
}

fn write_dataset(path: &Path, data: &[RdbEntry], opts: WriteOptions) -> u64 {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = RdbWriter::with_options(f, opts);
    let mut dbs: Vec<usize> = data.iter().map(|e| e.db).collect();
    dbs.sort();
    dbs.dedup();
    for db in dbs {
        let keys: Vec<&RdbEntry> = data.iter().filter(|e| e.db == db).collect();
        let expires = keys.iter().filter(|e| e.expire_at_ms.is_some()).count();
        w.select_db(db, keys.len() as u64, expires as u64).unwrap();
        for e in keys {
            w.entry(&e.key, &e.value, e.expire_at_ms).unwrap();
        }
    }
    w.finish().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn check_rdb(path: &Path) {
    let out = Command::new("redis-check-rdb").arg(path).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "redis-check-rdb failed:\n{text}");
    assert!(text.contains("Checksum OK"), "redis-check-rdb:\n{text}");
}

fn select(c: &mut RespConn, db: usize) {
    ok(c, &[b"SELECT", db.to_string().as_bytes()]);
}

fn compare_with_server(c: &mut RespConn, data: &[RdbEntry], what: &str) {
    let mut per_db = std::collections::BTreeMap::new();
    for e in data {
        *per_db.entry(e.db).or_insert(0i64) += 1;
    }
    for (&db, &n) in &per_db {
        select(c, db);
        assert_eq!(ok(c, &[b"DBSIZE"]).int(), n, "{what}: DBSIZE of db {db}");
    }
    for e in data {
        select(c, e.db);
        let (got, exp) = readback(c, &e.key);
        let ctx = format!(
            "{what}: db {} key {:?}",
            e.db,
            String::from_utf8_lossy(&e.key)
        );
        assert_eq!(exp, e.expire_at_ms, "{ctx}: expiry");
        assert_eq!(got, normalize(&e.value), "{ctx}");
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn our_dumps_load_in_redis_server() {
    if !have_redis() {
        return;
    }
    for (seed, compression) in [(1u64, true), (2, false), (3, true)] {
        let dir = tmpdir("w");
        let data = gen_dataset(seed, 300);
        let opts = WriteOptions {
            compression,
            ..WriteOptions::default()
        };
        write_dataset(&dir.join("ours.rdb"), &data, opts);
        check_rdb(&dir.join("ours.rdb"));
        let srv = Server::start(&dir, "ours.rdb", &[]);
        let mut c = srv.conn();
        compare_with_server(&mut c, &data, &format!("seed {seed}"));
        drop(srv);
        // And our reader gives back exactly what we wrote.
        let back = rdb::read_file(dir.join("ours.rdb")).unwrap();
        assert_eq!(back.entries.len(), data.len());
        let mut sorted = data.clone();
        sorted.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
        let mut got = back.entries;
        got.sort_by(|a, b| (a.db, &a.key).cmp(&(b.db, &b.key)));
        for (g, w) in got.iter().zip(&sorted) {
            assert_eq!(
                (g.db, &g.key, g.expire_at_ms),
                (w.db, &w.key, w.expire_at_ms)
            );
            assert_eq!(normalize(&g.value), normalize(&w.value));
        }
    }
}

/// Builds `data` in a live server with ordinary commands.
fn populate(c: &mut RespConn, data: &[RdbEntry]) {
    for e in data {
        select(c, e.db);
        let k = e.key.as_slice();
        match &e.value {
            RdbValue::Str(s) => {
                ok(c, &[b"SET", k, s]);
            }
            RdbValue::List(l) => {
                for chunk in l.chunks(100) {
                    let mut argv: Vec<&[u8]> = vec![b"RPUSH", k];
                    argv.extend(chunk.iter().map(|x| x.as_slice()));
                    ok(c, &argv);
                }
            }
            RdbValue::Set(s) => {
                for chunk in s.chunks(100) {
                    let mut argv: Vec<&[u8]> = vec![b"SADD", k];
                    argv.extend(chunk.iter().map(|x| x.as_slice()));
                    ok(c, &argv);
                }
            }
            RdbValue::ZSet(z) => {
                for chunk in z.chunks(100) {
                    let scores: Vec<Vec<u8>> = chunk
                        .iter()
                        .map(|(_, s)| format!("{s:e}").into_bytes())
                        .collect();
                    let mut argv: Vec<&[u8]> = vec![b"ZADD", k];
                    for ((m, _), s) in chunk.iter().zip(&scores) {
                        argv.push(s);
                        argv.push(m);
                    }
                    ok(c, &argv);
                }
            }
            RdbValue::Hash(h) => {
                for chunk in h.chunks(100) {
                    let mut argv: Vec<&[u8]> = vec![b"HSET", k];
                    for (f, v) in chunk {
                        argv.push(f);
                        argv.push(v);
                    }
                    ok(c, &argv);
                }
            }
            RdbValue::Stream(s) => {
                for en in &s.entries {
                    let id = en.id.to_string().into_bytes();
                    let mut argv: Vec<&[u8]> = vec![b"XADD", k, &id];
                    for (f, v) in &en.fields {
                        argv.push(f);
                        argv.push(v);
                    }
                    ok(c, &argv);
                }
                // Tombstones: delete a few entries.
                for en in s.entries.iter().step_by(7).skip(1) {
                    ok(c, &[b"XDEL", k, en.id.to_string().as_bytes()]);
                }
                if s.entries.is_empty() {
                    ok(c, &[b"XADD", k, b"1-1", b"f", b"v"]);
                    ok(c, &[b"XDEL", k, b"1-1"]);
                }
                for g in &s.groups {
                    ok(c, &[b"XGROUP", b"CREATE", k, &g.name, b"0"]);
                    for (ci, cons) in g.consumers.iter().enumerate() {
                        let count = (2 + ci).to_string();
                        ok(
                            c,
                            &[
                                b"XREADGROUP",
                                b"GROUP",
                                &g.name,
                                &cons.name,
                                b"COUNT",
                                count.as_bytes(),
                                b"STREAMS",
                                k,
                                b">",
                            ],
                        );
                    }
                    if let Some(p) = g.pel.first() {
                        ok(c, &[b"XACK", k, &g.name, p.id.to_string().as_bytes()]);
                    }
                    ok(c, &[b"XGROUP", b"CREATECONSUMER", k, &g.name, b"idle-one"]);
                }
            }
            other => panic!("{other:?}"),
        }
        if let Some(ms) = e.expire_at_ms {
            ok(c, &[b"PEXPIREAT", k, ms.to_string().as_bytes()]);
        }
    }
}

#[test]
fn redis_dumps_load_in_our_reader() {
    if !have_redis() {
        return;
    }
    let dir = tmpdir("r");
    // Compressed quicklist nodes too (list-compress-depth 1).
    let srv = Server::start(&dir, "dump.rdb", &["--list-compress-depth", "1"]);
    let mut c = srv.conn();
    let data = gen_dataset(42, 400);
    let mut kinds = std::collections::BTreeMap::new();
    for e in &data {
        *kinds.entry(e.value.type_name().to_string()).or_insert(0) += 1;
    }
    eprintln!("dataset: {kinds:?}");
    populate(&mut c, &data);
    ok(&mut c, &[b"SAVE"]);
    let f = rdb::read_file(dir.join("dump.rdb")).unwrap();
    assert_eq!(f.version, 10);
    assert_eq!(f.entries.len(), data.len());
    for e in &f.entries {
        select(&mut c, e.db);
        let (want, exp) = readback(&mut c, &e.key);
        let ctx = format!("db {} key {:?}", e.db, String::from_utf8_lossy(&e.key));
        assert_eq!(e.expire_at_ms, exp, "{ctx}");
        assert_eq!(normalize(&e.value), want, "{ctx}");
    }
    // DUMP payloads from the server parse to the same values.
    for e in f.entries.iter().take(150) {
        select(&mut c, e.db);
        let payload = ok(&mut c, &[b"DUMP", &e.key]).bytes();
        let v = rdb::parse_payload(&payload).unwrap();
        assert_eq!(normalize(&v), normalize(&e.value));
    }
}

#[test]
fn our_dump_payloads_restore_in_redis_server() {
    if !have_redis() {
        return;
    }
    let dir = tmpdir("p");
    let srv = Server::start(&dir, "none.rdb", &[]);
    let mut c = srv.conn();
    let data = gen_dataset(7, 200);
    for e in &data {
        let payload = rdb::dump_payload(&e.value).unwrap();
        ok(&mut c, &[b"RESTORE", &e.key, b"0", &payload, b"REPLACE"]);
        let (got, _) = readback(&mut c, &e.key);
        assert_eq!(
            got,
            normalize(&e.value),
            "key {:?}",
            String::from_utf8_lossy(&e.key)
        );
        // Byte-level check of the payload framing: Redis's own DUMP of the
        // restored value parses back to the same value.
        let theirs = ok(&mut c, &[b"DUMP", &e.key]).bytes();
        assert_eq!(
            normalize(&rdb::parse_payload(&theirs).unwrap()),
            normalize(&e.value)
        );
    }
}

#[test]
fn file_sizes_match_redis() {
    if !have_redis() {
        return;
    }
    // The same dataset saved by redis-server and by us: sizes within 5%.
    let dir = tmpdir("s");
    let srv = Server::start(&dir, "dump.rdb", &[]);
    let mut c = srv.conn();
    let data = gen_dataset(99, 400);
    populate(&mut c, &data);
    ok(&mut c, &[b"SAVE"]);
    let theirs = std::fs::metadata(dir.join("dump.rdb")).unwrap().len();
    let loaded = rdb::read_file(dir.join("dump.rdb")).unwrap();
    let ours = write_dataset(
        &dir.join("ours.rdb"),
        &loaded.entries,
        WriteOptions::default(),
    );
    let ratio = ours as f64 / theirs as f64;
    eprintln!("redis {theirs} bytes, emberkv {ours} bytes ({ratio:.4})");
    assert!(
        (0.95..=1.05).contains(&ratio),
        "redis {theirs} bytes, ours {ours}"
    );
    check_rdb(&dir.join("ours.rdb"));
}
