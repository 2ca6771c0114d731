//! Streams beyond the case corpus: blocking XREAD / XREADGROUP across
//! threads, the AOF forms (XADD with the generated ID, XREADGROUP as
//! XCLAIM / XGROUP SETID, approximate trims made exact), replay of those
//! forms, the AOF rewrite of a stream with groups and PELs, keyspace
//! notifications, and time-dependent replies under a manual clock.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TempDir;
use emberkv::{Config, Db, ManualClock, Reply};

fn wait_blocked(db: &Db, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = db.execute(&["INFO", "clients"]);
        let text = String::from_utf8_lossy(info.as_bytes().unwrap()).into_owned();
        if text.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(Instant::now() < deadline, "never saw {n} blocked: {text}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn spawn(db: &Db, argv: &'static [&'static str]) -> std::thread::JoinHandle<Reply> {
    let db = db.clone();
    std::thread::spawn(move || db.client().execute(argv))
}

/// A consumer of group `g` blocked on `s` for new entries.
const XREADGROUP_A: [&str; 9] = [
    "XREADGROUP",
    "GROUP",
    "g",
    "a",
    "BLOCK",
    "0",
    "STREAMS",
    "s",
    ">",
];
const XREADGROUP_B: [&str; 9] = [
    "XREADGROUP",
    "GROUP",
    "g",
    "b",
    "BLOCK",
    "0",
    "STREAMS",
    "s",
    ">",
];

fn b(s: &str) -> Reply {
    Reply::bulk(s)
}

fn entry(id: &str, fv: &[&str]) -> Reply {
    Reply::Array(vec![b(id), Reply::Array(fv.iter().map(|x| b(x)).collect())])
}

fn one_stream(key: &str, entries: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::Array(vec![b(key), Reply::Array(entries)])])
}

#[test]
fn xread_dollar_is_served_by_the_next_xadd_only() {
    let db = Db::in_memory();
    db.execute(&["XADD", "s", "1-1", "old", "x"]);
    let h = spawn(
        &db,
        &["XREAD", "BLOCK", "0", "STREAMS", "nosuch", "s", "$", "$"],
    );
    wait_blocked(&db, 1);
    // another key's write leaves it waiting
    db.execute(&["XADD", "other", "1-1", "f", "v"]);
    assert_eq!(db.execute(&["XADD", "s", "2-1", "new", "y"]), b("2-1"));
    assert_eq!(
        h.join().unwrap(),
        one_stream("s", vec![entry("2-1", &["new", "y"])])
    );
    wait_blocked(&db, 0);
}

#[test]
fn xread_on_a_missing_key_and_timeout() {
    let db = Db::in_memory();
    let h = spawn(&db, &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&db, 1);
    db.execute(&["XADD", "s", "5-1", "f", "v"]);
    assert_eq!(
        h.join().unwrap(),
        one_stream("s", vec![entry("5-1", &["f", "v"])])
    );
    let t = Instant::now();
    assert_eq!(
        db.execute(&["XREAD", "BLOCK", "50", "STREAMS", "s", "$"]),
        Reply::NilArray
    );
    assert!(t.elapsed() >= Duration::from_millis(45));
    // RESP3: the served reply is a map
    let mut c = db.client();
    c.execute(&["HELLO", "3"]);
    match c.execute(&["XREAD", "STREAMS", "s", "0"]) {
        Reply::Map(m) => assert_eq!(m.len(), 1),
        r => panic!("{r:?}"),
    }
}

#[test]
fn xreadgroup_blocked_consumers_share_new_entries() {
    let db = Db::in_memory();
    db.execute(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let h1 = spawn(&db, &XREADGROUP_A);
    wait_blocked(&db, 1);
    let h2 = spawn(&db, &XREADGROUP_B);
    wait_blocked(&db, 2);
    db.execute(&["XADD", "s", "1-1", "f", "1"]);
    assert_eq!(
        h1.join().unwrap(),
        one_stream("s", vec![entry("1-1", &["f", "1"])])
    );
    wait_blocked(&db, 1);
    db.execute(&["XADD", "s", "2-1", "f", "2"]);
    assert_eq!(
        h2.join().unwrap(),
        one_stream("s", vec![entry("2-1", &["f", "2"])])
    );
    let pending = db.execute(&["XPENDING", "s", "g"]);
    assert_eq!(
        pending,
        Reply::Array(vec![
            Reply::Int(2),
            b("1-1"),
            b("2-1"),
            Reply::Array(vec![
                Reply::Array(vec![b("a"), b("1")]),
                Reply::Array(vec![b("b"), b("1")]),
            ]),
        ])
    );
}

#[test]
fn destroying_the_group_unblocks_with_nogroup() {
    let db = Db::in_memory();
    db.execute(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let h = spawn(&db, &XREADGROUP_A);
    wait_blocked(&db, 1);
    assert_eq!(db.execute(&["XGROUP", "DESTROY", "s", "g"]), Reply::Int(1));
    assert_eq!(
        h.join().unwrap(),
        Reply::error("NOGROUP the consumer group this client was blocked on no longer exists")
    );
}

/// A blocked XREADGROUP whose stream is deleted, or replaced by another
/// type, gets redis-server 7.0's "UNBLOCKED the stream key no longer exists".
#[test]
fn deleting_or_retyping_the_stream_unblocks_xreadgroup() {
    let db = Db::in_memory();
    for replace in [&["DEL", "s"][..], &["SET", "s", "x"][..]] {
        db.execute(&["DEL", "s"]);
        db.execute(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
        let h = spawn(&db, &XREADGROUP_A);
        wait_blocked(&db, 1);
        db.execute(replace);
        assert_eq!(
            h.join().unwrap(),
            Reply::error("UNBLOCKED the stream key no longer exists"),
            "{replace:?}"
        );
    }
}

#[test]
fn xreadgroup_inside_multi_does_not_block() {
    let db = Db::in_memory();
    db.execute(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let mut c = db.client();
    c.execute(&["MULTI"]);
    c.execute(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "BLOCK",
        "0",
        "STREAMS",
        "s",
        ">",
    ]);
    assert_eq!(c.execute(&["EXEC"]), Reply::Array(vec![Reply::NilArray]));
}

fn manual(dir: Option<&Path>) -> (Config, ManualClock) {
    let mut c = Config::default();
    if let Some(dir) = dir {
        c.set("dir", dir.to_str().unwrap()).unwrap();
        c.set("appendonly", "yes").unwrap();
        c.set("appendfsync", "always").unwrap();
    }
    let clock = ManualClock::new(1_700_000_000_000);
    c.clock = Some(clock.clone());
    (c, clock)
}

/// The log's commands, one line each.
fn log_lines(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    files.sort();
    for f in files {
        out.extend(common::aof_commands(&std::fs::read(f).unwrap()));
    }
    out
}

/// XINFO STREAM FULL without the consumers' seen-time: a replay sets it
/// to the time of the replay, in Redis as here.
fn full(db: &Db, key: &str) -> Reply {
    fn strip(r: Reply) -> Reply {
        match r {
            Reply::Map(m) => Reply::Map(
                m.into_iter()
                    .map(|(k, v)| {
                        if k == Reply::bulk("seen-time") {
                            (k, Reply::Int(0))
                        } else {
                            (k, strip(v))
                        }
                    })
                    .collect(),
            ),
            Reply::Array(v) => Reply::Array(v.into_iter().map(strip).collect()),
            r => r,
        }
    }
    strip(db.execute(&["XINFO", "STREAM", key, "FULL"]))
}

/// A clock for reopening: later than anything the log holds.
fn later(dir: &Path) -> Config {
    let (mut c, _) = manual(Some(dir));
    c.clock = Some(ManualClock::new(1_700_000_100_000));
    c
}

#[test]
fn aof_forms_replay_to_the_same_stream() {
    let dir = TempDir::new("streams-aof");
    let (c, clock) = manual(Some(dir.path()));
    let db = Db::open(c).unwrap();
    assert_eq!(
        db.execute(&["XADD", "s", "*", "f", "v"]),
        b("1700000000000-0")
    );
    assert_eq!(
        db.execute(&["XADD", "s", "*", "f", "w"]),
        b("1700000000000-1")
    );
    assert!(db.execute(&["XADD", "s", "7-*", "f", "w"]).is_error());
    for i in 0..150 {
        db.execute(&["XADD", "t", &format!("{}-1", i + 1), "f", "v"]);
    }
    db.execute(&[
        "XADD", "t", "MAXLEN", "~", "10", "LIMIT", "1000", "*", "f", "v",
    ]);
    assert_eq!(db.execute(&["XLEN", "t"]), Reply::Int(51));
    db.execute(&["XGROUP", "CREATE", "s", "g", "0"]);
    clock.advance_ms(5);
    db.execute(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "alice",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    db.execute(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "bob",
        "NOACK",
        "STREAMS",
        "s",
        ">",
    ]);
    clock.advance_ms(5);
    db.execute(&["XCLAIM", "s", "g", "carol", "0", "1700000000000-0"]);
    db.execute(&["XGROUP", "CREATECONSUMER", "s", "g", "dave"]);
    // a consumer created by a read that delivers nothing is not logged (Redis 7.0 neither)
    db.execute(&["XREADGROUP", "GROUP", "g", "erin", "STREAMS", "s", ">"]);
    db.execute(&["XGROUP", "DELCONSUMER", "s", "g", "erin"]);
    let before = (full(&db, "s"), full(&db, "t"));
    db.close().unwrap();
    let log = log_lines(dir.path());
    let want = [
        "XADD s 1700000000000-0 f v",
        "XADD s 1700000000000-1 f w",
        "XADD t MAXLEN = 51 1700000000000-0 f v",
        "XCLAIM s g alice 0 1700000000000-0 TIME 1700000000005 RETRYCOUNT 1 FORCE JUSTID LASTID 1700000000000-0",
        "MULTI",
        "XGROUP CREATECONSUMER s g bob",
        "XGROUP SETID s g 1700000000000-1 ENTRIESREAD 2",
        "EXEC",
        "XCLAIM s g carol 0 1700000000000-0 TIME 1700000000010 RETRYCOUNT 2 FORCE JUSTID LASTID 1700000000000-1",
        "XGROUP CREATECONSUMER s g dave",
    ];
    for w in want {
        assert!(
            log.iter().any(|l| l.eq_ignore_ascii_case(w)),
            "missing {w:?} in {log:#?}"
        );
    }
    assert!(!log.iter().any(|l| l.starts_with("XREADGROUP")), "{log:#?}");
    // replayed, the streams are the same (groups, PELs, times included)
    let db = Db::open(later(dir.path())).unwrap();
    assert_eq!((full(&db, "s"), full(&db, "t")), before);
    // and again after a rewrite
    let r = db.execute(&["BGREWRITEAOF"]);
    assert!(!r.is_error(), "{r:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = db.execute(&["INFO", "persistence"]);
        let t = String::from_utf8_lossy(info.as_bytes().unwrap()).into_owned();
        if t.contains("aof_rewrite_in_progress:0") && t.contains("aof_rewrites:1") {
            break;
        }
        assert!(Instant::now() < deadline, "{t}");
        std::thread::sleep(Duration::from_millis(10));
    }
    db.close().unwrap();
    let db = Db::open(later(dir.path())).unwrap();
    assert_eq!((full(&db, "s"), full(&db, "t")), before);
}

#[test]
fn rebuild_of_an_empty_stream_with_counters() {
    let dir = TempDir::new("streams-rw");
    let db = Db::open(later(dir.path())).unwrap();
    db.execute(&["XADD", "e", "5-1", "f", "v"]);
    db.execute(&["XDEL", "e", "5-1"]);
    db.execute(&["XGROUP", "CREATE", "e", "g", "$", "ENTRIESREAD", "1"]);
    let before = full(&db, "e");
    db.execute(&["BGREWRITEAOF"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = db.execute(&["INFO", "persistence"]);
        let t = String::from_utf8_lossy(info.as_bytes().unwrap()).into_owned();
        if t.contains("aof_rewrite_in_progress:0") && t.contains("aof_rewrites:1") {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    db.close().unwrap();
    let db = Db::open(later(dir.path())).unwrap();
    assert_eq!(full(&db, "e"), before);
    assert_eq!(db.execute(&["TYPE", "e"]), Reply::simple("stream"));
}

#[test]
fn idle_times_follow_the_clock() {
    let (c, clock) = manual(None);
    let db = Db::open(c).unwrap();
    db.execute(&["XADD", "s", "1-1", "f", "v"]);
    db.execute(&["XADD", "s", "2-1", "f", "v"]);
    db.execute(&["XGROUP", "CREATE", "s", "g", "0"]);
    db.execute(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "a",
        "COUNT",
        "1",
        "STREAMS",
        "s",
        ">",
    ]);
    clock.advance_ms(100);
    db.execute(&["XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">"]);
    clock.advance_ms(50);
    let p = db.execute(&["XPENDING", "s", "g", "IDLE", "120", "-", "+", "10"]);
    assert_eq!(
        p,
        Reply::Array(vec![Reply::Array(vec![
            b("1-1"),
            b("a"),
            Reply::Int(150),
            Reply::Int(1)
        ])])
    );
    // XAUTOCLAIM takes only entries idle long enough and returns the cursor
    let r = db.execute(&["XAUTOCLAIM", "s", "g", "b", "120", "0", "JUSTID"]);
    assert_eq!(
        r,
        Reply::Array(vec![
            b("0-0"),
            Reply::Array(vec![b("1-1")]),
            Reply::Array(vec![])
        ])
    );
    let r = db.execute(&["XCLAIM", "s", "g", "c", "10", "2-1", "IDLE", "500"]);
    assert_eq!(r, Reply::Array(vec![entry("2-1", &["f", "v"])]));
    let p = db.execute(&["XPENDING", "s", "g", "-", "+", "10", "c"]);
    assert_eq!(
        p,
        Reply::Array(vec![Reply::Array(vec![
            b("2-1"),
            b("c"),
            Reply::Int(500),
            Reply::Int(2)
        ])])
    );
    match db.execute(&["XINFO", "CONSUMERS", "s", "g"]) {
        Reply::Array(v) => assert_eq!(v.len(), 3),
        r => panic!("{r:?}"),
    }
}

#[test]
fn keyspace_notifications() {
    let db = Db::in_memory();
    db.execute(&["CONFIG", "SET", "notify-keyspace-events", "Et"]);
    let sub = db.subscribe();
    sub.psubscribe(&["__keyevent@0__:*"]);
    for argv in [
        &["XADD", "s", "1-1", "f", "v"][..],
        &["XADD", "s", "MAXLEN", "0", "2-1", "f", "v"],
        &["XADD", "s", "3-1", "f", "v"],
        &["XDEL", "s", "3-1"],
        &["XGROUP", "CREATE", "s", "g", "0"],
        &["XGROUP", "CREATECONSUMER", "s", "g", "c"],
        &["XGROUP", "DELCONSUMER", "s", "g", "c"],
        &["XGROUP", "SETID", "s", "g", "0"],
        &["XSETID", "s", "9-9"],
        &["XADD", "s", "10-1", "f", "v"],
        &["XTRIM", "s", "MAXLEN", "0"],
        &["XGROUP", "DESTROY", "s", "g"],
    ] {
        db.execute(argv);
    }
    let mut events = Vec::new();
    while let Ok(Some(m)) = sub.recv_timeout(Duration::from_millis(200)) {
        if m.kind == emberkv::MessageKind::PMessage {
            events.push(String::from_utf8_lossy(&m.channel).into_owned());
        }
    }
    let want: Vec<String> = [
        "xadd",
        "xadd",
        "xtrim",
        "xadd",
        "xdel",
        "xgroup-create",
        "xgroup-createconsumer",
        "xgroup-delconsumer",
        "xgroup-setid",
        "xsetid",
        "xadd",
        "xtrim",
        "xgroup-destroy",
    ]
    .iter()
    .map(|e| format!("__keyevent@0__:{e}"))
    .collect();
    assert_eq!(events, want);
}
