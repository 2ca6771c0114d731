//! The attach side: `emberkv_resp::client` (what the Python and Node
//! bindings' `from_url` use) against an in-process listener, and
//! `listen_with` (the bindings' `listen`) with redis.conf-named options.

mod common;

use std::time::Duration;

use emberkv::{Db, ErrorKind, MessageKind, Reply};
use emberkv_resp::client::{Connection, Subscriber, Target};

fn sock_path(tag: &str) -> String {
    common::tempdir(tag)
        .join("e.sock")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn commands_pipelines_and_resp3_over_a_unix_socket() {
    let db = Db::in_memory();
    let path = sock_path("attach-cmds");
    let l = emberkv_resp::listen_with::<&str, &str>(&db, &format!("unix://{path}"), &[]).unwrap();
    let t = Target::parse(&format!("unix://{path}?db=2")).unwrap();
    let mut c = Connection::open(&t).unwrap();
    assert_eq!(c.execute(&["SET", "k", "v\0v"]).unwrap(), Reply::ok());
    assert_eq!(c.execute(&["GET", "k"]).unwrap(), Reply::bulk(b"v\0v"));
    // SELECT 2 came from the URL
    assert_eq!(db.execute(&["GET", "k"]), Reply::Nil);
    assert!(c.execute(&["INCR", "k"]).unwrap().is_error());
    let rs = c
        .execute_many(&[vec!["RPUSH", "l", "a", "b"], vec!["LRANGE", "l", "0", "-1"]])
        .unwrap();
    assert_eq!(rs[0], Reply::Int(2));
    assert_eq!(
        rs[1],
        Reply::Array(vec![Reply::bulk("a"), Reply::bulk("b")])
    );
    assert!(c.id().unwrap() > 0);
    assert_eq!(c.protocol(), 2);
    assert!(matches!(c.execute(&["HELLO", "3"]).unwrap(), Reply::Map(_)));
    assert_eq!(c.protocol(), 3);
    c.execute(&["HSET", "h", "f", "1"]).unwrap();
    assert!(matches!(
        c.execute(&["HGETALL", "h"]).unwrap(),
        Reply::Map(_)
    ));
    l.close();
    // the listener closed the connection: an error, then "broken"
    assert_eq!(c.execute(&["PING"]).unwrap_err().kind(), ErrorKind::Io);
    assert!(c.is_broken());
    assert!(Connection::open(&t).is_err(), "no longer accepting");
}

#[test]
fn a_subscriber_gets_pushed_messages_and_closes_cleanly() {
    let db = Db::in_memory();
    let l = emberkv_resp::listen_with::<&str, &str>(&db, "tcp://127.0.0.1:0", &[]).unwrap();
    let t = Target::parse(&l.local_addr().to_string()).unwrap();
    let sub = Subscriber::open(&t).unwrap();
    sub.subscribe(&["room:1"]);
    sub.psubscribe(&["room:*"]);
    assert_eq!(sub.channel_count(), 2);
    // subscribe returns once the server confirmed: a publish right after reaches it
    assert_eq!(db.execute(&["PUBSUB", "NUMPAT"]), Reply::Int(1));
    let m = sub.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!((m.kind, m.count), (MessageKind::Subscribe, 1));
    let m = sub.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!((m.kind, m.count), (MessageKind::PSubscribe, 2));
    assert_eq!(db.execute(&["PUBLISH", "room:1", "hi"]), Reply::Int(2));
    let m = sub.recv().unwrap();
    assert_eq!(
        (m.kind, &m.channel[..], &m.payload[..]),
        (MessageKind::Message, &b"room:1"[..], &b"hi"[..])
    );
    let m = sub.recv().unwrap();
    assert_eq!(m.kind, MessageKind::PMessage);
    assert_eq!(m.pattern.as_deref(), Some(&b"room:*"[..]));
    assert!(sub.try_recv().unwrap().is_none());
    sub.unsubscribe::<&str>(&[]);
    let m = sub.recv().unwrap();
    assert_eq!((m.kind, m.count), (MessageKind::Unsubscribe, 1));
    sub.close();
    assert_eq!(sub.recv().unwrap_err().kind(), ErrorKind::Closed);
    // the server lost the subscriber
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(db.execute(&["PUBLISH", "room:1", "x"]), Reply::Int(0));
    // a subscriber whose server goes away wakes up with an error
    let sub = Subscriber::open(&t).unwrap();
    sub.subscribe(&["c"]);
    sub.recv().unwrap();
    l.close();
    assert_eq!(sub.recv().unwrap_err().kind(), ErrorKind::Io);
}

#[test]
fn listen_with_applies_redis_conf_options() {
    let db = Db::in_memory();
    let path = sock_path("attach-opts");
    let l = emberkv_resp::listen_with(
        &db,
        &format!("unix://{path}"),
        &[
            ("requirepass", "s3cret"),
            ("unixsocketperm", "700"),
            ("maxclients", "5"),
        ],
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert_eq!(db.config_get("maxclients").as_deref(), Some("5"));
    let e = Connection::open(&Target::parse(&format!("unix://{path}")).unwrap())
        .and_then(|mut c| c.execute(&["GET", "k"]))
        .unwrap();
    assert!(e.as_error().unwrap().starts_with("NOAUTH"), "{e:?}");
    let mut c =
        Connection::open(&Target::parse(&format!("unix://:s3cret@{path}")).unwrap()).unwrap();
    assert_eq!(c.execute(&["PING"]).unwrap(), Reply::simple("PONG"));
    let bad = Target::parse(&format!("unix://:wrong@{path}")).unwrap();
    assert!(Connection::open(&bad).is_err());
    l.close();

    for (opts, what) in [
        (vec![("nonsense", "1")], "unknown listener option"),
        (vec![("unixsocketperm", "9z")], "octal"),
        (vec![("maxclients", "-3")], "maxclients"),
        (vec![("io-threads", "0")], "between"),
    ] {
        let e = emberkv_resp::listen_with(&db, "tcp://127.0.0.1:0", &opts).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains(what), "{}", e.message());
    }
    // a port in use is an I/O error, and the options are put back
    let l = emberkv_resp::listen_with::<&str, &str>(&db, "tcp://127.0.0.1:0", &[]).unwrap();
    let e = emberkv_resp::listen_with(&db, &l.local_addr().to_string(), &[("timeout", "77")])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(db.config_get("timeout").as_deref(), Some("0"));
    let e = emberkv_resp::listen(&db, "tcp://nonsense", Default::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
}
