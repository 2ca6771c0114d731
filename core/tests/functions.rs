//! FUNCTION libraries beyond the case corpus (`tests/cases/function.case`):
//! persistence (RDB, AOF and its rewrites, both ways with redis-server),
//! FUNCTION DUMP/RESTORE payloads exchanged with redis-server, FUNCTION
//! STATS/KILL while a function runs, FUNCTION LOAD's timeout.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{RedisServer, TempDir, argv};
use emberkv::{Config, Db, Reply};

const LIB1: &str = "#!lua name=lib1\n\
                    redis.register_function('set_it', function(keys, args) \
                    return redis.call('set', keys[1], args[1]) end)";
const LIB2: &str = "#!lua name=lib2\n\
                    redis.register_function{function_name='two', callback=function() return 2 end, \
                    flags={'no-writes'}, description='the number two'}";
const LIB2_V2: &str = "#!lua name=lib2\n\
                       redis.register_function('two', function() return 22 end)";

fn cfg(dir: &Path, aof: bool, preamble: bool) -> Config {
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("appendonly", if aof { "yes" } else { "no" }).unwrap();
    c.set("aof-use-rdb-preamble", if preamble { "yes" } else { "no" })
        .unwrap();
    c.set("save", "").unwrap();
    c
}

/// The names of the libraries FUNCTION LIST shows, sorted.
fn libraries(c: &mut emberkv::Client) -> Vec<String> {
    let Reply::Array(libs) = c.execute(&["FUNCTION", "LIST"]) else {
        panic!("FUNCTION LIST")
    };
    let mut names: Vec<String> = libs
        .iter()
        .map(|l| match l {
            Reply::Map(m) => String::from_utf8(m[0].1.as_bytes().unwrap().to_vec()).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    names.sort();
    names
}

#[test]
fn libraries_survive_save_and_load_in_redis_server_too() {
    let dir = TempDir::new("fn-rdb");
    let db = Db::open(cfg(dir.path(), false, true)).unwrap();
    let mut c = db.client();
    assert_eq!(c.execute(&["FUNCTION", "LOAD", LIB1]), Reply::bulk("lib1"));
    assert_eq!(c.execute(&["FUNCTION", "LOAD", LIB2]), Reply::bulk("lib2"));
    c.execute(&["FCALL", "set_it", "1", "k", "v"]);
    db.save().unwrap();
    db.close().unwrap();

    let db = Db::open(cfg(dir.path(), false, true)).unwrap();
    let mut c = db.client();
    assert_eq!(libraries(&mut c), ["lib1", "lib2"]);
    assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(2));
    assert_eq!(c.execute(&["GET", "k"]), Reply::bulk("v"));
    // the flags and description came back with the code
    assert_eq!(
        c.execute(&["FCALL_RO", "two", "0"]),
        Reply::Int(2),
        "no-writes kept"
    );
    db.close().unwrap();

    // redis-server loads the same file and runs the functions
    let rdir = TempDir::new("fn-rdb-redis");
    std::fs::copy(dir.path().join("dump.rdb"), rdir.path().join("dump.rdb")).unwrap();
    let Some(srv) = RedisServer::start_with(Some(rdir.path()), &[]) else {
        return;
    };
    let mut r = srv.conn();
    assert_eq!(r.command(&argv(&["FCALL", "two", "0"])), b":2\r\n");
    assert_eq!(
        r.command(&argv(&["FCALL", "set_it", "1", "x", "y"])),
        b"+OK\r\n"
    );
    // and what redis-server saves, emberkv loads
    assert_eq!(r.command(&argv(&["SAVE"])), b"+OK\r\n");
    drop(r);
    drop(srv);
    let back = TempDir::new("fn-rdb-back");
    std::fs::copy(rdir.path().join("dump.rdb"), back.path().join("dump.rdb")).unwrap();
    let db = Db::open(cfg(back.path(), false, true)).unwrap();
    let mut c = db.client();
    assert_eq!(libraries(&mut c), ["lib1", "lib2"]);
    assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(2));
    assert_eq!(c.execute(&["GET", "x"]), Reply::bulk("y"));
    db.close().unwrap();
}

#[test]
fn libraries_replay_from_the_aof_and_its_rewrites() {
    for preamble in [true, false] {
        let dir = TempDir::new("fn-aof");
        let db = Db::open(cfg(dir.path(), true, preamble)).unwrap();
        let mut c = db.client();
        c.execute(&["FUNCTION", "LOAD", LIB1]);
        c.execute(&["FUNCTION", "LOAD", LIB2]);
        c.execute(&["FUNCTION", "DELETE", "lib1"]);
        c.execute(&["FUNCTION", "LOAD", "REPLACE", LIB2_V2]);
        // refused commands are not logged
        assert!(c.execute(&["FUNCTION", "LOAD", LIB2_V2]).is_error());
        db.close().unwrap();

        let db = Db::open(cfg(dir.path(), true, preamble)).unwrap();
        let mut c = db.client();
        assert_eq!(libraries(&mut c), ["lib2"]);
        assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(22));
        c.execute(&["FUNCTION", "LOAD", LIB1]);
        db.rewrite_aof().unwrap();
        db.close().unwrap();

        let db = Db::open(cfg(dir.path(), true, preamble)).unwrap();
        let mut c = db.client();
        assert_eq!(libraries(&mut c), ["lib1", "lib2"], "preamble {preamble}");
        assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(22));
        c.execute(&["FUNCTION", "FLUSH"]);
        db.close().unwrap();

        let db = Db::open(cfg(dir.path(), true, preamble)).unwrap();
        assert_eq!(libraries(&mut db.client()), Vec::<String>::new());
        db.close().unwrap();
    }
}

/// The payload of a bulk reply read from a raw RESP connection.
fn bulk_payload(resp: &[u8]) -> Vec<u8> {
    assert_eq!(resp[0], b'$', "{}", String::from_utf8_lossy(resp));
    let nl = resp.iter().position(|&b| b == b'\n').unwrap();
    let len: usize = std::str::from_utf8(&resp[1..nl - 1])
        .unwrap()
        .parse()
        .unwrap();
    resp[nl + 1..nl + 1 + len].to_vec()
}

#[test]
fn dump_payloads_restore_across_emberkv_and_redis_server() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let mut r = srv.conn();
    r.command(&argv(&["FUNCTION", "LOAD", LIB1]));
    r.command(&argv(&["FUNCTION", "LOAD", LIB2]));
    let from_redis = bulk_payload(&r.command(&argv(&["FUNCTION", "DUMP"])));

    let db = Db::in_memory();
    let mut c = db.client();
    let restore = |c: &mut emberkv::Client, p: &[u8], policy: Option<&str>| {
        let mut a: Vec<&[u8]> = vec![b"FUNCTION", b"RESTORE", p];
        if let Some(x) = policy {
            a.push(x.as_bytes());
        }
        c.execute(&a)
    };
    assert_eq!(restore(&mut c, &from_redis, None), Reply::ok());
    assert_eq!(libraries(&mut c), ["lib1", "lib2"]);
    assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(2));
    // APPEND refuses a library that exists, REPLACE takes it, all or nothing
    assert_eq!(
        restore(&mut c, &from_redis, Some("APPEND")),
        Reply::error("ERR Library lib1 already exists")
    );
    c.execute(&["FUNCTION", "LOAD", "REPLACE", LIB2_V2]);
    assert_eq!(restore(&mut c, &from_redis, Some("REPLACE")), Reply::ok());
    assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(2));
    // a corrupted payload changes nothing
    let mut bad = from_redis.clone();
    bad[5] ^= 0x20;
    assert_eq!(
        restore(&mut c, &bad, Some("FLUSH")),
        Reply::error("ERR DUMP payload version or checksum are wrong")
    );
    assert_eq!(libraries(&mut c), ["lib1", "lib2"]);

    // emberkv's payload into redis-server
    c.execute(&["FUNCTION", "LOAD", "REPLACE", LIB2_V2]);
    let ours = c
        .execute(&["FUNCTION", "DUMP"])
        .as_bytes()
        .unwrap()
        .to_vec();
    let mut a = argv(&["FUNCTION", "RESTORE"]);
    a.push(ours);
    a.push(b"FLUSH".to_vec());
    assert_eq!(r.command(&a), b"+OK\r\n");
    assert_eq!(r.command(&argv(&["FCALL", "two", "0"])), b":22\r\n");
    assert_eq!(
        r.command(&argv(&["FCALL", "set_it", "1", "a", "b"])),
        b"+OK\r\n"
    );
}

/// Polls FUNCTION STATS until a function runs; its `running_script` map.
fn running_script(c: &mut emberkv::Client) -> Vec<(Reply, Reply)> {
    let start = Instant::now();
    loop {
        let Reply::Map(m) = c.execute(&["FUNCTION", "STATS"]) else {
            panic!("FUNCTION STATS")
        };
        if let Reply::Map(running) = &m[0].1 {
            return running.clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "function never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn function_stats_and_kill_while_a_function_runs() {
    let db = Db::in_memory();
    let mut c = db.client();
    c.execute(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
    ]);
    // other commands get -BUSY at once
    assert_eq!(
        c.execute(&["CONFIG", "SET", "busy-reply-threshold", "0"]),
        Reply::ok()
    );
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || db.client().execute(&["FCALL", "spin", "0", "extra"]))
    };
    let running = running_script(&mut c);
    assert_eq!(running[0], (Reply::bulk("name"), Reply::bulk("spin")));
    assert_eq!(
        running[1].1,
        Reply::Array(["FCALL", "spin", "0", "extra"].map(Reply::bulk).to_vec())
    );
    // SCRIPT KILL is for EVAL scripts only
    assert!(
        c.execute(&["SCRIPT", "KILL"])
            .as_error()
            .is_some_and(|e| e.starts_with("BUSY") && e.contains("FUNCTION KILL")),
    );
    // redis-server 7.0 and 7.2 name the KILL that stops what runs
    assert_eq!(
        c.execute(&["GET", "x"]),
        Reply::error(
            "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
        )
    );
    assert_eq!(c.execute(&["FUNCTION", "KILL"]), Reply::ok());
    let r = runner.join().unwrap();
    assert!(
        r.as_error()
            .is_some_and(|e| e.starts_with("ERR Script killed by user")),
        "{r:?}"
    );
    // and FUNCTION KILL does not stop an EVAL script
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || db.client().execute(&["EVAL", "while true do end", "0"]))
    };
    let start = Instant::now();
    loop {
        let r = c.execute(&["FUNCTION", "KILL"]);
        if r.as_error().is_some_and(|e| e.starts_with("BUSY")) {
            assert!(r.as_error().unwrap().contains("SCRIPT KILL"), "{r:?}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{r:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(c.execute(&["FUNCTION", "STATS"]).is_error());
    assert_eq!(
        c.execute(&["GET", "x"]),
        Reply::error(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        )
    );
    assert_eq!(c.execute(&["SCRIPT", "KILL"]), Reply::ok());
    assert!(runner.join().unwrap().is_error());
    let Reply::Map(m) = c.execute(&["FUNCTION", "STATS"]) else {
        panic!()
    };
    assert_eq!(m[0].1, Reply::Nil);
}

#[test]
fn function_load_stops_a_library_that_runs_too_long() {
    let db = Db::in_memory();
    let mut c = db.client();
    let r = c.execute(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=slow\nlocal a = 1\nwhile true do a = a + 1 end",
    ]);
    assert!(
        r.as_error()
            .is_some_and(|e| e.contains("FUNCTION LOAD timeout")),
        "{r:?}"
    );
    // nothing half-loaded, and the next load runs normally
    assert_eq!(libraries(&mut c), Vec::<String>::new());
    assert_eq!(c.execute(&["FUNCTION", "LOAD", LIB2]), Reply::bulk("lib2"));
    assert_eq!(c.execute(&["FCALL", "two", "0"]), Reply::Int(2));
}
