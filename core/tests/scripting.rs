//! Lua scripting beyond the case corpus (`tests/cases/scripting.case`):
//! atomicity against concurrent writers, the AOF form of a script's writes
//! and its replay, SCRIPT KILL and -BUSY while a script runs.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::TempDir;
use emberkv::{Config, Db, Reply};

/// A read-modify-write that is only correct if nothing runs in between:
/// GET, then SET of the value + 1, with a Lua loop between the two to widen
/// the window.
const RMW: &str = "local v = tonumber(redis.call('get', KEYS[1]) or '0')\n\
                   local spin = 0\n\
                   for i = 1, 200 do spin = spin + i end\n\
                   redis.call('set', KEYS[1], v + 1)\n\
                   return v + 1";

#[test]
fn a_script_runs_alone_against_concurrent_writers() {
    let db = Db::in_memory();
    let threads = 4;
    let per_thread = 2_000;
    let mut handles = Vec::new();
    for t in 0..threads {
        let db = db.clone();
        handles.push(std::thread::spawn(move || {
            let mut c = db.client();
            for i in 0..per_thread {
                // half the threads run the script, half INCR the same key
                let r = if t % 2 == 0 {
                    c.execute(&["EVAL", RMW, "1", "counter"])
                } else {
                    c.execute(&["INCR", "counter"])
                };
                assert!(matches!(r, Reply::Int(_)), "thread {t} op {i}: {r:?}");
                // and a pair of keys a script checks stays consistent
                if t % 2 == 1 {
                    c.execute(&["MSET", "pair:a", &i.to_string(), "pair:b", &i.to_string()]);
                }
            }
        }));
    }
    let checker = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut c = db.client();
            let script = "local a = redis.call('get', 'pair:a')\n\
                          for i = 1, 100 do end\n\
                          local b = redis.call('get', 'pair:b')\n\
                          return a == b and 1 or 0";
            for _ in 0..2_000 {
                assert_eq!(c.execute(&["EVAL", script, "0"]), Reply::Int(1));
            }
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    checker.join().unwrap();
    assert_eq!(
        db.execute(&["GET", "counter"]),
        Reply::bulk((threads * per_thread).to_string())
    );
}

fn aof_cfg(dir: &Path) -> Config {
    let mut c = Config::default();
    c.set("dir", dir.to_str().unwrap()).unwrap();
    c.set("appendonly", "yes").unwrap();
    c.set("appendfsync", "always").unwrap();
    c.set("save", "").unwrap();
    c
}

#[test]
fn a_scripts_writes_are_logged_as_its_effects_and_replay() {
    let dir = TempDir::new("script-aof");
    let db = Db::open(aof_cfg(dir.path())).unwrap();
    let mut c = db.client();
    // two writes: one MULTI … EXEC block; the EVAL itself is never logged
    let r = c.execute(&[
        "EVAL",
        "redis.call('set', KEYS[1], ARGV[1]); redis.call('incrby', KEYS[2], 5); \
         redis.call('get', KEYS[1]); return redis.call('get', KEYS[2])",
        "2",
        "k",
        "n",
        "v",
    ]);
    assert_eq!(r, Reply::bulk("5"));
    // one write: bare; a random value is logged as the value written
    let r = c.execute(&[
        "EVAL",
        "math.randomseed(3); return redis.call('set', 'r', math.random(1000000))",
        "0",
    ]);
    assert_eq!(r, Reply::ok());
    let random = db.execute(&["GET", "r"]);
    // reads only: nothing
    c.execute(&["EVAL", "return redis.call('get', 'k')", "0"]);
    // a script that fails after a write keeps the write (Redis: no rollback)
    let r = c.execute(&[
        "EVAL",
        "redis.call('set', 'before', '1'); error('late')",
        "0",
    ]);
    assert!(r.is_error(), "{r:?}");
    // a script writing in another db leaves the client in its own
    c.execute(&[
        "EVAL",
        "redis.call('select', 3); redis.call('set', 'in3', 'x')",
        "0",
    ]);
    c.execute(&["SET", "after", "1"]);
    db.close().unwrap();
    let log = common::aof_commands(
        &std::fs::read(dir.path().join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap(),
    );
    let r_val = String::from_utf8(random.as_bytes().unwrap().to_vec()).unwrap();
    // as redis.call was called (Redis logs the script's argv as given)
    let want = vec![
        "SELECT 0".to_string(),
        "MULTI".into(),
        "set k v".into(),
        "incrby n 5".into(),
        "EXEC".into(),
        format!("set r {r_val}"),
        "set before 1".into(),
        "SELECT 3".into(),
        "set in3 x".into(),
        "SELECT 0".into(),
        "SET after 1".into(),
    ];
    assert_eq!(log, want);
    let db = Db::open(aof_cfg(dir.path())).unwrap();
    let mut c = db.client();
    assert_eq!(c.execute(&["GET", "k"]), Reply::bulk("v"));
    assert_eq!(c.execute(&["GET", "n"]), Reply::bulk("5"));
    assert_eq!(c.execute(&["GET", "r"]), random);
    assert_eq!(c.execute(&["GET", "before"]), Reply::bulk("1"));
    assert_eq!(c.execute(&["GET", "after"]), Reply::bulk("1"));
    c.execute(&["SELECT", "3"]);
    assert_eq!(c.execute(&["GET", "in3"]), Reply::bulk("x"));
    db.close().unwrap();
}

/// Polls SCRIPT KILL until a script is running (NOTBUSY before it starts).
fn kill_when_running(c: &mut emberkv::Client) -> Reply {
    let start = Instant::now();
    loop {
        let r = c.execute(&["SCRIPT", "KILL"]);
        if r.as_error().is_none_or(|e| !e.starts_with("NOTBUSY")) {
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "script never ran"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn script_kill_stops_a_script_that_has_not_written() {
    let db = Db::in_memory();
    assert_eq!(
        db.execute(&["SCRIPT", "KILL"]),
        Reply::error("NOTBUSY No scripts in execution right now.")
    );
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || db.execute(&["EVAL", "while true do end", "0"]))
    };
    let mut c = db.client();
    assert_eq!(kill_when_running(&mut c), Reply::ok());
    let r = runner.join().unwrap();
    let sha = db.execute(&["SCRIPT", "LOAD", "while true do end"]);
    let sha = String::from_utf8(sha.as_bytes().unwrap().to_vec()).unwrap();
    assert_eq!(
        r,
        Reply::Error(format!(
            "ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:1."
        ))
    );
    // a pcall inside the script cannot swallow the kill
    let runner = {
        let db = db.clone();
        std::thread::spawn(move || {
            db.execute(&[
                "EVAL",
                "while true do pcall(function() while true do end end) end",
                "0",
            ])
        })
    };
    assert_eq!(kill_when_running(&mut c), Reply::ok());
    let r = runner.join().unwrap();
    assert!(
        r.as_error()
            .is_some_and(|e| e.starts_with("ERR Script killed by user")),
        "{r:?}"
    );
    // the engine serves again
    assert_eq!(db.execute(&["EVAL", "return 1", "0"]), Reply::Int(1));
}

#[test]
fn a_script_that_wrote_is_unkillable_and_others_get_busy() {
    let db = Db::in_memory();
    db.execute(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
    assert_eq!(
        db.execute(&["CONFIG", "GET", "lua-time-limit"]),
        Reply::Map(vec![(Reply::bulk("lua-time-limit"), Reply::bulk("50"))])
    );
    let go = Arc::new(AtomicBool::new(false));
    let runner = {
        let db = db.clone();
        let go = go.clone();
        std::thread::spawn(move || {
            go.store(true, Ordering::SeqCst);
            // writes, then runs for a while (~1 s of Lua) and ends by itself
            db.execute(&[
                "EVAL",
                "redis.call('set', 'w', '1'); local x = 0; \
                 for i = 1, 60000000 do x = x + i end; return 'done'",
                "0",
            ])
        })
    };
    while !go.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    let mut c = db.client();
    let r = kill_when_running(&mut c);
    assert_eq!(
        r,
        Reply::error(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. \
             You can either wait the script termination or kill the server in a hard way using \
             the SHUTDOWN NOSAVE command."
        )
    );
    // past the threshold, other clients' commands are refused at once
    std::thread::sleep(Duration::from_millis(80));
    let busy = c.execute(&["GET", "w"]);
    let r = runner.join().unwrap();
    assert_eq!(r, Reply::bulk("done"));
    assert_eq!(
        busy,
        Reply::error(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
        )
    );
    assert_eq!(c.execute(&["GET", "w"]), Reply::bulk("1"));
}

#[test]
fn blocked_clients_see_the_state_after_the_script() {
    let db = Db::in_memory();
    let waiter = {
        let db = db.clone();
        std::thread::spawn(move || db.client().execute(&["BLPOP", "q", "5"]))
    };
    // give the BLPOP time to register (if it has not, it finds 'kept' itself)
    std::thread::sleep(Duration::from_millis(200));
    // pushed and popped inside one script: the waiter never sees 'gone'
    db.execute(&[
        "EVAL",
        "redis.call('rpush', 'q', 'gone'); redis.call('lpop', 'q'); redis.call('rpush', 'q', 'kept')",
        "0",
    ]);
    assert_eq!(
        waiter.join().unwrap(),
        Reply::Array(vec![Reply::bulk("q"), Reply::bulk("kept")])
    );
}
