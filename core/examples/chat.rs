//! A tiny chat backend on emberkv: presence with TTLs, unread counters,
//! room fan-out with pub/sub, and an atomic "send" with MULTI/EXEC.
//!
//! `cargo run --release -p emberkv --example chat`

use std::time::Duration;

use emberkv::{Db, Reply};

fn main() {
    let db = Db::in_memory();

    // Each member listens to the rooms they are in.
    let members = ["ada", "bob", "cyd"];
    let subs: Vec<_> = members
        .iter()
        .map(|m| {
            let s = db.subscribe();
            s.psubscribe(&["room:*"]);
            (m.to_string(), s)
        })
        .collect();

    let mut c = db.client();
    for m in members {
        // presence: refreshed by heartbeats, gone 30 s after the last one
        c.execute(&["SET", &format!("presence:{m}"), "online", "EX", "30"]);
    }

    // ada sends three messages to room:general, atomically bumping everyone's unread counter
    for (i, text) in ["hello", "anyone here?", "lunch at noon"]
        .iter()
        .enumerate()
    {
        c.execute(&["MULTI"]);
        c.execute(&["INCR", "room:general:seq"]);
        for m in ["bob", "cyd"] {
            c.execute(&["INCR", &format!("unread:{m}:general")]);
        }
        c.execute(&["PUBLISH", "room:general", &format!("ada#{i}: {text}")]);
        let r = c.execute(&["EXEC"]);
        assert!(matches!(r, Reply::Array(_)));
    }

    for (name, s) in &subs {
        s.recv().expect("psubscribe confirmation");
        let mut got = Vec::new();
        while let Ok(Some(m)) = s.recv_timeout(Duration::from_millis(50)) {
            got.push(String::from_utf8_lossy(&m.payload).into_owned());
        }
        let unread = c.execute(&["GET", &format!("unread:{name}:general")]);
        println!("{name}: received {got:?}, unread={unread:?}");
    }
    let online = c.execute(&["KEYS", "presence:*"]);
    println!("online: {online:?}");
}
