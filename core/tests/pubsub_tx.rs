//! Pub/sub, keyspace notifications, MULTI/EXEC/WATCH: behaviour across
//! threads, and notification sequences compared with a real redis-server.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{RedisServer, argv, escape};
use emberkv::{Config, Db, ErrorKind, MessageKind, Reply};

fn msg_text(m: &emberkv::Message) -> String {
    escape(&m.to_reply().to_resp2())
}

#[test]
fn subscribe_publish_unsubscribe() {
    let db = Db::in_memory();
    let sub = db.subscribe();
    sub.subscribe(&["room:1", "room:2"]);
    sub.psubscribe(&["room:*"]);
    assert_eq!(sub.recv().unwrap().count, 1);
    assert_eq!(sub.recv().unwrap().count, 2);
    let m = sub.recv().unwrap();
    assert_eq!((m.kind, m.count), (MessageKind::PSubscribe, 3));
    assert_eq!(db.execute(&["PUBLISH", "room:1", "hi"]), Reply::Int(2));
    assert_eq!(db.execute(&["PUBLISH", "lobby", "x"]), Reply::Int(0));
    let m = sub.recv().unwrap();
    assert_eq!(
        (m.kind, m.channel.as_slice(), m.payload.as_slice()),
        (MessageKind::Message, &b"room:1"[..], &b"hi"[..])
    );
    let m = sub.recv().unwrap();
    assert_eq!(m.kind, MessageKind::PMessage);
    assert_eq!(m.pattern.as_deref(), Some(&b"room:*"[..]));
    assert_eq!(
        escape(&m.to_reply().to_resp2()),
        "*4\\r\\n$8\\r\\npmessage\\r\\n$6\\r\\nroom:*\\r\\n$6\\r\\nroom:1\\r\\n$2\\r\\nhi\\r\\n"
    );
    assert_eq!(
        db.execute(&["PUBSUB", "NUMSUB", "room:1", "nope"])
            .to_resp2(),
        b"*4\r\n$6\r\nroom:1\r\n:1\r\n$4\r\nnope\r\n:0\r\n"
    );
    assert_eq!(db.execute(&["PUBSUB", "NUMPAT"]), Reply::Int(1));
    assert_eq!(
        db.execute(&["PUBSUB", "CHANNELS"]).to_resp2(),
        b"*2\r\n$6\r\nroom:1\r\n$6\r\nroom:2\r\n"
    );
    sub.unsubscribe::<&str>(&[]);
    let a = sub.recv().unwrap();
    let b = sub.recv().unwrap();
    assert_eq!((a.kind, a.count, b.count), (MessageKind::Unsubscribe, 2, 1));
    assert!(sub.try_recv().unwrap().is_none());
    assert!(
        sub.recv_timeout(Duration::from_millis(10))
            .unwrap()
            .is_none()
    );
    drop(sub);
    assert_eq!(db.execute(&["PUBLISH", "room:1", "hi"]), Reply::Int(0));
}

#[test]
fn publish_order_per_publisher_across_threads() {
    let db = Db::in_memory();
    let sub = db.subscribe();
    sub.subscribe(&["c"]);
    sub.recv().unwrap();
    let n = 20_000;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut c = db.client();
                for i in 0..n {
                    c.execute(&["PUBLISH".to_string(), "c".into(), format!("{t}:{i}")]);
                }
            })
        })
        .collect();
    let mut next = [0usize; 4];
    for _ in 0..4 * n {
        let m = sub.recv().unwrap();
        let s = String::from_utf8(m.payload).unwrap();
        let (t, i) = s.split_once(':').unwrap();
        let (t, i): (usize, usize) = (t.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[t], "publisher {t} out of order");
        next[t] += 1;
    }
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn callback_delivery_runs_on_another_thread() {
    let db = Db::in_memory();
    let sub = db.subscribe();
    let (tx, rx) = std::sync::mpsc::channel();
    let me = std::thread::current().id();
    sub.set_callback(move |m| {
        tx.send((m.kind, m.payload, std::thread::current().id() != me))
            .unwrap();
    });
    sub.subscribe(&["x"]);
    db.execute(&["PUBLISH", "x", "1"]);
    let (k, _, other) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(k, MessageKind::Subscribe);
    assert!(other);
    let (k, p, _) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!((k, p.as_slice()), (MessageKind::Message, &b"1"[..]));
}

#[test]
fn slow_subscriber_overflows_without_blocking_the_publisher() {
    let mut cfg = Config::default();
    cfg.set("client-output-buffer-limit", "pubsub 100kb 0 0")
        .unwrap();
    let db = Db::open(cfg).unwrap();
    let sub = db.subscribe();
    sub.subscribe(&["c"]);
    let payload = vec![b'x'; 1000];
    for _ in 0..1000 {
        db.execute(&[&b"PUBLISH"[..], b"c", &payload]);
    }
    // Confirmation and early messages were dropped with the overflow: the
    // owner learns why instead of reading a silently truncated stream.
    let err = loop {
        match sub.recv() {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::Overflow);
    assert!(err.message().contains("client-output-buffer-limit"));
    assert_eq!(db.execute(&["PUBLISH", "c", "more"]), Reply::Int(0));
}

#[test]
fn subscribe_through_execute_restricts_resp2_context() {
    let db = Db::in_memory();
    let mut c = db.client();
    let r = c.execute(&["SUBSCRIBE", "a", "b"]);
    assert_eq!(r.to_resp2(), b"*2\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
    assert_eq!(
        c.execute(&["GET", "x"]),
        Reply::error(
            "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )
    );
    db.execute(&["PUBLISH", "a", "m"]);
    let m = c.subscription().unwrap().recv().unwrap();
    assert_eq!(m.payload, b"m");
    c.execute(&["UNSUBSCRIBE"]);
    assert_eq!(c.execute(&["GET", "x"]), Reply::Nil);
}

#[test]
fn multi_exec_semantics() {
    let db = Db::in_memory();
    let mut c = db.client();
    assert_eq!(c.execute(&["EXEC"]), Reply::error("ERR EXEC without MULTI"));
    assert_eq!(
        c.execute(&["DISCARD"]),
        Reply::error("ERR DISCARD without MULTI")
    );
    assert_eq!(c.execute(&["MULTI"]), Reply::ok());
    assert_eq!(
        c.execute(&["MULTI"]),
        Reply::error("ERR MULTI calls can not be nested")
    );
    assert_eq!(c.execute(&["SET", "a", "1"]), Reply::simple("QUEUED"));
    assert_eq!(c.execute(&["INCR", "a"]), Reply::simple("QUEUED"));
    assert!(
        c.execute(&["LPOP_NOPE"])
            .as_error()
            .unwrap()
            .starts_with("ERR unknown command")
    );
    assert_eq!(
        c.execute(&["EXEC"]),
        Reply::error("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(c.execute(&["GET", "a"]), Reply::Nil);
    // runtime errors don't roll back
    c.execute(&["MULTI"]);
    c.execute(&["SET", "a", "x"]);
    c.execute(&["INCR", "a"]);
    c.execute(&["SET", "b", "2"]);
    let r = c.execute(&["EXEC"]);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::ok(),
            Reply::error("ERR value is not an integer or out of range"),
            Reply::ok()
        ])
    );
    assert_eq!(c.execute(&["GET", "b"]), Reply::bulk("2"));
    // DISCARD
    c.execute(&["MULTI"]);
    c.execute(&["SET", "d", "1"]);
    assert_eq!(c.execute(&["DISCARD"]), Reply::ok());
    assert_eq!(c.execute(&["EXISTS", "d"]), Reply::Int(0));
    // WATCH touched by another client
    let mut other = db.client();
    c.execute(&["WATCH", "w"]);
    other.execute(&["SET", "w", "1"]);
    c.execute(&["MULTI"]);
    c.execute(&["SET", "w", "mine"]);
    assert_eq!(c.execute(&["EXEC"]), Reply::NilArray);
    assert_eq!(c.execute(&["GET", "w"]), Reply::bulk("1"));
    // WATCH not touched
    c.execute(&["WATCH", "w"]);
    c.execute(&["MULTI"]);
    assert_eq!(
        c.execute(&["WATCH", "x"]),
        Reply::error("ERR WATCH inside MULTI is not allowed")
    );
    c.execute(&["SET", "w", "mine"]);
    assert_eq!(c.execute(&["EXEC"]), Reply::Array(vec![Reply::ok()]));
    // FLUSHDB and SWAPDB invalidate
    for inval in [
        &["FLUSHDB"][..],
        &["SWAPDB", "0", "1"][..],
        &["FLUSHALL"][..],
    ] {
        c.execute(&["SET", "w", "v"]);
        c.execute(&["WATCH", "w"]);
        other.execute(inval);
        c.execute(&["MULTI"]);
        c.execute(&["PING"]);
        assert_eq!(c.execute(&["EXEC"]), Reply::NilArray, "{inval:?}");
    }
    // UNWATCH
    c.execute(&["WATCH", "w"]);
    other.execute(&["SET", "w", "z"]);
    c.execute(&["UNWATCH"]);
    c.execute(&["MULTI"]);
    c.execute(&["PING"]);
    assert_eq!(
        c.execute(&["EXEC"]),
        Reply::Array(vec![Reply::simple("PONG")])
    );
}

#[test]
fn watch_sees_expiry_with_manual_clock() {
    let clock = emberkv::ManualClock::starting_now();
    let db = Db::open(Config {
        clock: Some(clock.clone()),
        ..Config::default()
    })
    .unwrap();
    let mut c = db.client();
    c.execute(&["SET", "k", "v", "PX", "100"]);
    c.execute(&["WATCH", "k"]);
    clock.advance_ms(200);
    c.execute(&["MULTI"]);
    c.execute(&["PING"]);
    assert_eq!(c.execute(&["EXEC"]), Reply::NilArray);
}

#[test]
fn cas_counter_with_watch_from_many_threads() {
    let db = Db::in_memory();
    db.execute(&["SET", "counter", "0"]);
    let threads = 4;
    let per = 300;
    let barrier = Arc::new(Barrier::new(threads));
    let hs: Vec<_> = (0..threads)
        .map(|_| {
            let db = db.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut c = db.client();
                barrier.wait();
                let mut done = 0;
                while done < per {
                    c.execute(&["WATCH", "counter"]);
                    let v: i64 = String::from_utf8(
                        c.execute(&["GET", "counter"]).as_bytes().unwrap().to_vec(),
                    )
                    .unwrap()
                    .parse()
                    .unwrap();
                    c.execute(&["MULTI"]);
                    c.execute(&["SET".to_string(), "counter".into(), (v + 1).to_string()]);
                    if c.execute(&["EXEC"]) != Reply::NilArray {
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(
        db.execute(&["GET", "counter"]),
        Reply::bulk((threads * per).to_string())
    );
}

#[test]
fn exec_is_atomic_across_threads() {
    let db = Db::in_memory();
    db.execute(&["MSET", "a", "0", "b", "0"]);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = db.client();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.execute(&["MULTI"]);
                c.execute(&["INCR", "a"]);
                c.execute(&["INCR", "b"]);
                c.execute(&["EXEC"]);
            }
        })
    };
    let mut c = db.client();
    for _ in 0..2000 {
        let r = c.execute(&["MGET", "a", "b"]);
        let Reply::Array(v) = r else { panic!() };
        assert_eq!(v[0], v[1], "saw a half-applied transaction");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
}

/// The commands whose keyspace notifications are compared with Redis's.
fn notification_script() -> Vec<Vec<Vec<u8>>> {
    [
        &["SET", "k", "v"][..],
        &["SET", "k", "v2", "EX", "100"],
        &["APPEND", "k", "x"],
        &["INCR", "n"],
        &["INCRBY", "n", "5"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["SETRANGE", "k", "1", "zz"],
        &["EXPIRE", "k", "50"],
        &["PERSIST", "k"],
        &["RENAME", "k", "k2"],
        &["COPY", "k2", "k3"],
        &["MOVE", "k3", "1"],
        &["DEL", "k2", "n", "nosuch"],
        &["MSET", "a", "1", "b", "2"],
        &["GETDEL", "a"],
        &["GETEX", "b", "EX", "10"],
        &["SETBIT", "bits", "3", "1"],
        &["BITOP", "OR", "dest", "bits"],
        &["BITFIELD", "bf", "SET", "u8", "0", "1"],
        &["SET", "gone", "x", "PX", "1"],
    ]
    .iter()
    .map(|c| argv(c))
    .collect()
}

#[test]
fn keyspace_notifications_match_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let script = notification_script();
    // redis-server
    let mut ctl = srv.conn();
    ctl.command(&argv(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]));
    let mut sub = srv.conn();
    sub.command(&argv(&["PSUBSCRIBE", "__key*__:*"]));
    sub.command(&argv(&["SUBSCRIBE", "done"]));
    for c in &script {
        ctl.command(c);
    }
    std::thread::sleep(Duration::from_millis(300)); // let active expiry take "gone"
    ctl.command(&argv(&["PUBLISH", "done", "1"]));
    let expected = sub.read_until_done();
    // emberkv
    let db = Db::in_memory();
    let mut c = db.client();
    c.execute(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let s = db.subscribe();
    s.psubscribe(&["__key*__:*"]);
    s.recv().unwrap();
    for cmd in &script {
        c.execute(cmd);
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut got = Vec::new();
    while let Some(m) = s.recv_timeout(Duration::from_millis(200)).unwrap() {
        got.push(msg_text(&m));
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "\nemberkv: {got:#?}\nredis:   {expected:#?}"
    );
    assert_eq!(got, expected);
}

#[test]
fn closing_the_db_ends_every_subscription() {
    let db = Db::in_memory();
    let subscribed = db.subscribe();
    subscribed.subscribe(&["room:1"]);
    assert_eq!(subscribed.recv().unwrap().kind, MessageKind::Subscribe);
    let idle = db.subscribe();
    let waiter = std::thread::spawn(move || subscribed.recv());
    std::thread::sleep(Duration::from_millis(50));
    db.close().unwrap();
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
    let err = idle.recv_timeout(Duration::from_secs(5)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed);
}

/// PUBSUB NUMSUB / SHARDNUMSUB answer a flat array in RESP3 too; the bytes
/// are redis-server 7.0's for the same commands after HELLO 3.
#[test]
fn numsub_is_a_flat_array_in_resp3() {
    let db = Db::in_memory();
    let mut c = db.client();
    c.execute(&["HELLO", "3"]);
    let mut out = Vec::new();
    c.execute(&["PUBSUB", "NUMSUB", "a", "b"])
        .write_resp3(&mut out);
    c.execute(&["PUBSUB", "SHARDNUMSUB", "a"])
        .write_resp3(&mut out);
    assert_eq!(
        out,
        b"*4\r\n$1\r\na\r\n:0\r\n$1\r\nb\r\n:0\r\n*2\r\n$1\r\na\r\n:0\r\n"
    );
}
