//! MONITOR, CLIENT TRACKING and CLIENT PAUSE from embedded `Client`s (the
//! wire behaviour is compared with redis-server in `bindings/resp/tests/
//! client_features.rs`): pushes arrive through `Client::try_recv_push`, a
//! paused embedded caller waits as a network client does.

use std::time::Duration;

use emberkv::{Db, Reply};

fn drain(c: &emberkv::Client) -> Vec<Reply> {
    std::iter::from_fn(|| c.try_recv_push()).collect()
}

#[test]
fn an_embedded_monitor_sees_every_clients_commands() {
    let db = Db::in_memory();
    let mut m = db.client();
    let mut c = db.client();
    assert!(!m.pushes_enabled());
    assert_eq!(m.execute(&["MONITOR"]), Reply::ok());
    assert!(m.pushes_enabled());
    c.execute(&["SET", "k", "v w"]);
    c.execute(&["CONFIG", "GET", "maxmemory"]); // administrative: not shown
    db.execute(&["GET", "k"]);
    let lines: Vec<String> = drain(&m)
        .into_iter()
        .map(|r| match r {
            Reply::Simple(s) => s.split_once(' ').unwrap().1.to_string(),
            other => panic!("not a monitor line: {other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            r#"[0 embedded] "SET" "k" "v w""#,
            r#"[0 embedded] "GET" "k""#
        ]
    );
    // RESET ends monitoring
    m.execute(&["RESET"]);
    c.execute(&["PING"]);
    assert!(drain(&m).is_empty());
}

#[test]
fn embedded_tracking_gets_invalidations_after_its_own_reply() {
    let db = Db::in_memory();
    let mut a = db.client();
    let mut w = db.client();
    a.execute(&["HELLO", "3"]);
    assert_eq!(a.execute(&["CLIENT", "TRACKING", "on"]), Reply::ok());
    a.execute(&["GET", "k"]);
    w.execute(&["SET", "k", "1"]);
    let inv = Reply::Push(vec![
        Reply::bulk("invalidate"),
        Reply::Array(vec![Reply::bulk("k")]),
    ]);
    assert_eq!(drain(&a), std::slice::from_ref(&inv));
    // the key was forgotten: a second write sends nothing
    w.execute(&["SET", "k", "2"]);
    assert!(drain(&a).is_empty());
    a.execute(&["GET", "k"]);
    a.execute(&["SET", "k", "3"]);
    assert_eq!(a.try_recv_push(), Some(inv));
    assert_eq!(a.execute(&["CLIENT", "TRACKING", "off"]), Reply::ok());
    assert_eq!(a.execute(&["CLIENT", "GETREDIR"]), Reply::Int(-1));
}

#[test]
fn a_paused_embedded_writer_waits_for_unpause() {
    let db = Db::in_memory();
    let mut admin = db.client();
    assert_eq!(
        admin.execute(&["CLIENT", "PAUSE", "60000", "WRITE"]),
        Reply::ok()
    );
    let db2 = db.clone();
    let writer = std::thread::spawn(move || db2.client().execute(&["SET", "k", "v"]));
    // reads go on; the writer is counted as blocked until UNPAUSE
    let blocked = || {
        let Reply::Bulk(b) = db.execute(&["INFO", "clients"]) else {
            panic!("INFO")
        };
        String::from_utf8_lossy(&b).contains("blocked_clients:1\r")
    };
    let mut tries = 0;
    while !blocked() {
        tries += 1;
        assert!(tries < 1000, "the writer never waited");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(db.execute(&["GET", "k"]), Reply::Nil);
    assert_eq!(admin.execute(&["CLIENT", "UNPAUSE"]), Reply::ok());
    assert_eq!(writer.join().unwrap(), Reply::ok());
    assert_eq!(db.execute(&["GET", "k"]), Reply::bulk("v"));
}
