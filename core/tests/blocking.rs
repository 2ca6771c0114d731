//! Blocking commands across threads: served by pushes from other threads,
//! first blocked first served, timeouts, MULTI, CLIENT UNBLOCK, close.

use std::time::{Duration, Instant};

use emberkv::{Db, Reply};

fn wait_blocked(db: &Db, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let info = db.execute(&["INFO", "clients"]);
        let text = String::from_utf8_lossy(info.as_bytes().unwrap()).into_owned();
        if text.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {n} blocked clients: {text}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn spawn(db: &Db, argv: &'static [&'static str]) -> std::thread::JoinHandle<Reply> {
    spawn_owned(db, argv)
}

/// `spawn` for arguments built at run time.
fn spawn_owned(db: &Db, argv: &[&str]) -> std::thread::JoinHandle<Reply> {
    let (db, argv) = (
        db.clone(),
        argv.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    std::thread::spawn(move || db.client().execute(&argv))
}

#[test]
fn blpop_served_by_a_push_from_another_thread() {
    let db = Db::in_memory();
    let h = spawn(&db, &["BLPOP", "a", "q", "0"]);
    wait_blocked(&db, 1);
    assert_eq!(db.execute(&["RPUSH", "q", "x", "y"]), Reply::Int(2));
    assert_eq!(
        h.join().unwrap(),
        Reply::Array(vec![Reply::bulk("q"), Reply::bulk("x")])
    );
    // the waiter took exactly one element inside the pusher's critical section
    assert_eq!(
        db.execute(&["LRANGE", "q", "0", "-1"]),
        Reply::Array(vec![Reply::bulk("y")])
    );
    wait_blocked(&db, 0);
}

#[test]
fn first_blocked_is_served_first() {
    let db = Db::in_memory();
    let mut handles = Vec::new();
    for _ in 0..4 {
        let n = handles.len();
        handles.push(spawn(&db, &["BRPOP", "q", "0"]));
        wait_blocked(&db, n + 1);
    }
    for v in ["1", "2", "3", "4"] {
        db.execute(&["LPUSH", "q", v]);
    }
    let got: Vec<Reply> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let want: Vec<Reply> = ["1", "2", "3", "4"]
        .iter()
        .map(|v| Reply::Array(vec![Reply::bulk("q"), Reply::bulk(v)]))
        .collect();
    assert_eq!(got, want);
    assert_eq!(db.execute(&["EXISTS", "q"]), Reply::Int(0));
}

#[test]
fn timeouts_and_errors() {
    let db = Db::in_memory();
    let mut c = db.client();
    let t = Instant::now();
    assert_eq!(c.execute(&["BLPOP", "q", "0.1"]), Reply::NilArray);
    assert!(t.elapsed() >= Duration::from_millis(100));
    assert_eq!(
        c.execute(&["BLMOVE", "q", "d", "LEFT", "RIGHT", "0.05"]),
        Reply::Nil
    );
    assert_eq!(c.execute(&["BZPOPMIN", "z", "0.05"]), Reply::NilArray);
    assert_eq!(
        c.execute(&["BLPOP", "q", "-1"]),
        Reply::error("ERR timeout is negative")
    );
    assert_eq!(
        c.execute(&["BLPOP", "q", "abc"]),
        Reply::error("ERR timeout is not a float or out of range")
    );
    c.execute(&["SET", "s", "x"]);
    assert_eq!(
        c.execute(&["BLPOP", "s", "0"]),
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
    // inside MULTI nothing blocks
    c.execute(&["MULTI"]);
    c.execute(&["BLPOP", "q", "0"]);
    assert_eq!(c.execute(&["EXEC"]), Reply::Array(vec![Reply::NilArray]));
}

#[test]
fn blmove_bzpop_blmpop_bzmpop_are_served() {
    let db = Db::in_memory();
    let h = spawn(&db, &["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    wait_blocked(&db, 1);
    db.execute(&["RPUSH", "src", "a", "b"]);
    assert_eq!(h.join().unwrap(), Reply::bulk("b"));
    assert_eq!(
        db.execute(&["LRANGE", "dst", "0", "-1"]),
        Reply::Array(vec![Reply::bulk("b")])
    );

    let h = spawn(&db, &["BZPOPMAX", "z1", "z2", "0"]);
    wait_blocked(&db, 1);
    db.execute(&["ZADD", "z2", "1", "m1", "5", "m5"]);
    assert_eq!(
        h.join().unwrap().to_resp2(),
        b"*3\r\n$2\r\nz2\r\n$2\r\nm5\r\n$1\r\n5\r\n"
    );

    let h = spawn(&db, &["BLMPOP", "0", "2", "l1", "l2", "LEFT", "COUNT", "2"]);
    wait_blocked(&db, 1);
    db.execute(&["RPUSH", "l2", "x", "y", "z"]);
    assert_eq!(
        h.join().unwrap().to_resp2(),
        b"*2\r\n$2\r\nl2\r\n*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );

    let h = spawn(&db, &["BZMPOP", "0", "1", "zz", "MIN"]);
    wait_blocked(&db, 1);
    db.execute(&["ZADD", "zz", "2", "b", "1", "a"]);
    assert_eq!(
        h.join().unwrap().to_resp2(),
        b"*2\r\n$2\r\nzz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
}

#[test]
fn client_unblock_and_close_end_the_wait() {
    let db = Db::in_memory();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut c = db.client();
            tx.send(c.id()).unwrap();
            let a = c.execute(&["BLPOP", "q", "0"]);
            let b = c.execute(&["BLPOP", "q", "0"]);
            (a, b)
        })
    };
    let id = rx.recv().unwrap().to_string();
    wait_blocked(&db, 1);
    assert_eq!(db.execute(&["CLIENT", "UNBLOCK", &id]), Reply::Int(1));
    wait_blocked(&db, 1);
    assert_eq!(
        db.execute(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
        Reply::Int(1)
    );
    let (a, b) = h.join().unwrap();
    assert_eq!(a, Reply::NilArray);
    assert_eq!(
        b,
        Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    );
    assert_eq!(db.execute(&["CLIENT", "UNBLOCK", &id]), Reply::Int(0));

    let h = spawn(&db, &["BLPOP", "q", "0"]);
    wait_blocked(&db, 1);
    db.close().unwrap();
    assert!(h.join().unwrap().is_error());
}

#[test]
fn many_producers_and_consumers_lose_nothing() {
    let db = Db::in_memory();
    let per = 500;
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut c = db.client();
                let mut got = Vec::new();
                for _ in 0..per {
                    match c.execute(&["BLPOP", "jobs", "5"]) {
                        Reply::Array(v) => {
                            got.push(String::from_utf8(v[1].as_bytes().unwrap().to_vec()).unwrap())
                        }
                        other => panic!("{other:?}"),
                    }
                }
                got
            })
        })
        .collect();
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut c = db.client();
                for i in 0..2 * per {
                    c.execute(&["RPUSH".to_string(), "jobs".into(), format!("{p}:{i}")]);
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all: Vec<String> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4 * per);
}

/// Redis serves blocked clients after the whole transaction: a value pushed
/// and deleted inside MULTI/EXEC is never seen (Redis's "MULTI/EXEC is
/// isolated from the point of view of BLPOP" and "BLPOP, LPUSH + DEL
/// should not awake blocked client" tests).
#[test]
fn a_transaction_is_seen_whole_by_blocked_clients() {
    let db = Db::in_memory();
    let h = spawn(&db, &["BLPOP", "L", "0"]);
    wait_blocked(&db, 1);
    let mut c = db.client();
    c.execute(&["MULTI"]);
    c.execute(&["LPUSH", "L", "a"]);
    c.execute(&["DEL", "L"]);
    assert_eq!(
        c.execute(&["EXEC"]),
        Reply::Array(vec![Reply::Int(1), Reply::Int(1)])
    );
    wait_blocked(&db, 1);
    c.execute(&["LPUSH", "L", "b"]);
    assert_eq!(
        h.join().unwrap(),
        Reply::Array(vec![Reply::bulk("L"), Reply::bulk("b")])
    );

    // pushes inside the transaction are served once it ends, with its final state
    let h = spawn(&db, &["BLPOP", "M", "0"]);
    wait_blocked(&db, 1);
    c.execute(&["MULTI"]);
    c.execute(&["RPUSH", "M", "x"]);
    c.execute(&["RPUSH", "M", "y"]);
    c.execute(&["LPOP", "M"]);
    c.execute(&["EXEC"]);
    assert_eq!(
        h.join().unwrap(),
        Reply::Array(vec![Reply::bulk("M"), Reply::bulk("y")])
    );
    assert_eq!(db.execute(&["EXISTS", "M"]), Reply::Int(0));
}

/// SWAPDB and FLUSHALL reach blocked clients as in redis-server 7.0: a BLPOP
/// in db 9 is served by a list swapped in from db 1 (which the pop then
/// empties in both), and a blocked XREADGROUP learns its stream is gone.
#[test]
fn swapdb_and_flushall_reach_blocked_clients() {
    let db = Db::in_memory();
    let h = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut c = db.client();
            c.execute(&["SELECT", "9"]);
            c.execute(&["BLPOP", "L", "0"])
        })
    };
    wait_blocked(&db, 1);
    let mut c = db.client();
    c.execute(&["SELECT", "1"]);
    c.execute(&["RPUSH", "L", "v1"]);
    assert_eq!(c.execute(&["SWAPDB", "1", "9"]), Reply::ok());
    assert_eq!(
        h.join().unwrap(),
        Reply::Array(vec![Reply::bulk("L"), Reply::bulk("v1")])
    );
    assert_eq!(c.execute(&["LLEN", "L"]), Reply::Int(0));

    c.execute(&["SELECT", "0"]);
    c.execute(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    let h = spawn(
        &db,
        &[
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            "s",
            ">",
        ],
    );
    wait_blocked(&db, 1);
    assert_eq!(c.execute(&["FLUSHALL"]), Reply::ok());
    assert_eq!(
        h.join().unwrap(),
        Reply::error("UNBLOCKED the stream key no longer exists")
    );
}

/// A push that serves a BRPOPLPUSH / BLMOVE whose destination lies outside
/// the pusher's locks answers only once the blocked client was served, as
/// in Redis (where blocked clients are served before the next command):
/// the destination holds the element, and a WATCH on it sees the change
/// (Tcl `unit/type/list` "PUSH resulting from BRPOPLPUSH affect WATCH").
#[test]
fn a_push_answers_after_the_blocked_move_it_caused() {
    let db = Db::in_memory();
    // enough destinations that many hash to another shard than the source
    for i in 0..48 {
        let (src, dst) = (format!("src{i}"), format!("dst{i}"));
        let h = spawn_owned(&db, &["BRPOPLPUSH", &src, &dst, "0"]);
        wait_blocked(&db, 1);
        let mut watcher = db.client();
        assert_eq!(watcher.execute(&["WATCH", &dst]), Reply::ok());
        assert_eq!(watcher.execute(&["MULTI"]), Reply::ok());
        watcher.execute(&["GET", "other"]);
        assert_eq!(db.execute(&["LPUSH", &src, "e"]), Reply::Int(1));
        assert_eq!(db.execute(&["LLEN", &dst]), Reply::Int(1), "round {i}");
        assert_eq!(watcher.execute(&["EXEC"]), Reply::NilArray, "round {i}");
        assert_eq!(h.join().unwrap(), Reply::bulk("e"));
    }
}

/// A chain of blocked moves (list1 → list2 → list3) is complete when the
/// push that started it answers (Tcl `unit/type/list` "Linked LMOVEs").
#[test]
fn linked_blmoves_complete_before_the_push_answers() {
    let db = Db::in_memory();
    for i in 0..24 {
        let (l1, l2, l3) = (format!("a{i}"), format!("b{i}"), format!("c{i}"));
        let h1 = spawn_owned(&db, &["BLMOVE", &l1, &l2, "RIGHT", "LEFT", "0"]);
        wait_blocked(&db, 1);
        let h2 = spawn_owned(&db, &["BLMOVE", &l2, &l3, "LEFT", "RIGHT", "0"]);
        wait_blocked(&db, 2);
        assert_eq!(db.execute(&["RPUSH", &l1, "foo"]), Reply::Int(1));
        let empty = Reply::Array(vec![]);
        assert_eq!(db.execute(&["LRANGE", &l1, "0", "-1"]), empty, "round {i}");
        assert_eq!(db.execute(&["LRANGE", &l2, "0", "-1"]), empty, "round {i}");
        assert_eq!(
            db.execute(&["LRANGE", &l3, "0", "-1"]),
            Reply::Array(vec![Reply::bulk("foo")]),
            "round {i}"
        );
        assert_eq!(h1.join().unwrap(), Reply::bulk("foo"));
        assert_eq!(h2.join().unwrap(), Reply::bulk("foo"));
    }
}

fn calls(db: &Db, cmd: &str) -> String {
    let info = db.execute(&["INFO", "commandstats"]);
    let text = String::from_utf8_lossy(info.as_bytes().unwrap()).into_owned();
    let prefix = format!("cmdstat_{cmd}:");
    let line = text.lines().find_map(|l| l.strip_prefix(&prefix));
    line.unwrap_or_default()
        .split(',')
        .filter(|f| f.starts_with("calls=") || f.starts_with("failed_calls="))
        .collect::<Vec<_>>()
        .join(",")
}

/// A command that blocks counts once in INFO commandstats, when it ends,
/// whether it timed out, was served inside the pusher's locks or ran again
/// on its own (redis-server 7.0, one timed-out and one served BLPOP, one
/// served BRPOPLPUSH: `cmdstat_blpop:calls=2`, `cmdstat_brpoplpush:calls=1`,
/// failed_calls=0 each).
#[test]
fn a_blocked_command_counts_one_call() {
    let db = Db::in_memory();
    assert_eq!(
        db.client().execute(&["BLPOP", "q", "0.05"]),
        Reply::NilArray
    );
    let h = spawn(&db, &["BLPOP", "q2", "2"]);
    wait_blocked(&db, 1);
    db.execute(&["RPUSH", "q2", "x"]);
    h.join().unwrap();
    assert_eq!(calls(&db, "blpop"), "calls=2,failed_calls=0");
    // destinations in the source's shard and in others (served inside the
    // pusher's locks, or run again by the blocked client)
    for i in 0..8 {
        let (src, dst) = (format!("src{i}"), format!("dst{i}"));
        let h = spawn_owned(&db, &["BRPOPLPUSH", &src, &dst, "2"]);
        wait_blocked(&db, 1);
        db.execute(&["RPUSH", &src, "x"]);
        assert_eq!(h.join().unwrap(), Reply::bulk("x"));
    }
    assert_eq!(calls(&db, "brpoplpush"), "calls=8,failed_calls=0");
}
