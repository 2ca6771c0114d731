//! MONITOR, CLIENT TRACKING and CLIENT PAUSE over the wire. Each scenario
//! runs on emberkv and, when installed, on a real redis-server, and records
//! a transcript (the raw replies and pushes); the two transcripts must be
//! equal, so the expectations are Redis's. MONITOR lines are normalized
//! (time stamp, client address), the rest is byte for byte.

mod common;

use std::time::{Duration, Instant};

use common::{Proc, Raw, Server};

type Transcript = Vec<String>;

fn val(c: &mut Raw) -> String {
    String::from_utf8_lossy(&c.read_value()).into_owned()
}

fn ask(c: &mut Raw, t: &mut Transcript, argv: &[&str]) {
    c.cmd(argv);
    let v = val(c);
    t.push(format!("{argv:?} -> {v:?}"));
}

/// `ask` for a command naming a client id (which differs between servers).
fn ask_quiet(c: &mut Raw, t: &mut Transcript, argv: &[&str]) {
    c.cmd(argv);
    let v = val(c);
    t.push(format!("{:?} -> {v:?}", &argv[..3]));
}

/// `+1700000000.123456 [0 127.0.0.1:5555] "get" "k"` → `+TS [0 ADDR] "get" "k"`
fn monitor_line(v: &str) -> String {
    let rest = v.strip_prefix('+').expect("a status line");
    let (_ts, rest) = rest.split_once(' ').expect("time stamp");
    let (client, args) = rest.split_once("] ").expect("client part");
    let (db, addr) = client.trim_start_matches('[').split_once(' ').unwrap();
    let addr = if addr == "lua" { "lua" } else { "ADDR" };
    format!("+TS [{db} {addr}] {args}")
}

fn wait_blocked(c: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        c.cmd(&["INFO", "clients"]);
        let info = val(c);
        if info.contains(&format!("blocked_clients:{n}\r")) {
            return;
        }
        assert!(Instant::now() < deadline, "never {n} blocked: {info}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn monitor_scenario(port: u16) -> Transcript {
    let mut t = Transcript::new();
    let mut m = Raw::connect(port);
    let mut c = Raw::connect(port);
    ask(&mut m, &mut t, &["MONITOR"]);
    ask(&mut c, &mut t, &["SET", "k", "a\"b\\c\r\n\t\x07\x08\x01 é"]);
    ask(&mut c, &mut t, &["GET", "k"]);
    ask(&mut c, &mut t, &["NOSUCHCOMMAND"]); // refused: not shown
    ask(&mut c, &mut t, &["GET"]); // wrong arity: not shown
    ask(&mut c, &mut t, &["SELECT", "3"]);
    ask(&mut c, &mut t, &["MULTI"]);
    ask(&mut c, &mut t, &["INCR", "n"]);
    ask(&mut c, &mut t, &["EXEC"]);
    ask(
        &mut c,
        &mut t,
        &["EVAL", "return redis.call('get', KEYS[1])", "1", "k"],
    );
    // scripts show first, then their commands as `lua`; also when their
    // arguments are wrong
    let lib = "#!lua name=mon\nredis.register_function('f', function() return redis.call('set', 'x', 'y') end)";
    ask(&mut c, &mut t, &["FUNCTION", "LOAD", "REPLACE", lib]);
    ask(&mut c, &mut t, &["FCALL", "f", "0"]);
    ask(&mut c, &mut t, &["FCALL", "nosuch", "0"]);
    ask(&mut c, &mut t, &["EVAL", "return 1", "-1"]);
    ask(&mut c, &mut t, &["AUTH", "nosuch"]);
    ask(&mut c, &mut t, &["HELLO", "2", "AUTH", "u", "p"]);
    ask(&mut c, &mut t, &["CONFIG", "GET", "maxmemory"]); // admin: not shown
    ask(&mut c, &mut t, &["PING"]);
    for _ in 0..15 {
        let line = val(&mut m);
        t.push(monitor_line(&line));
    }
    t
}

/// RESP3 tracking in default, OPTIN and NOLOOP modes, and the errors.
fn tracking_resp3_scenario(port: u16) -> Transcript {
    let mut t = Transcript::new();
    let mut a = Raw::connect(port);
    let mut w = Raw::connect(port);
    a.cmd(&["HELLO", "3"]);
    let _ = a.read_value();
    ask(&mut a, &mut t, &["CLIENT", "TRACKING", "on", "PREFIX", "x"]);
    ask(
        &mut a,
        &mut t,
        &["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"],
    );
    ask(
        &mut a,
        &mut t,
        &["CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
    );
    ask(&mut a, &mut t, &["CLIENT", "TRACKING", "maybe"]);
    ask(&mut a, &mut t, &["CLIENT", "CACHING", "yes"]);
    ask(&mut a, &mut t, &["CLIENT", "GETREDIR"]);
    ask(&mut a, &mut t, &["CLIENT", "TRACKINGINFO"]);
    ask(&mut w, &mut t, &["MSET", "k1", "1", "k2", "2"]);
    ask(&mut a, &mut t, &["CLIENT", "TRACKING", "on"]);
    ask(&mut a, &mut t, &["MGET", "k1", "k2"]);
    ask(&mut w, &mut t, &["SET", "k1", "x"]);
    t.push(val(&mut a)); // invalidate k1
    // its own write: the invalidation follows the reply
    ask(&mut a, &mut t, &["INCR", "k2"]);
    t.push(val(&mut a));
    ask(&mut a, &mut t, &["GET", "k1"]);
    ask(&mut w, &mut t, &["FLUSHALL"]);
    t.push(val(&mut a)); // invalidate null
    ask(&mut a, &mut t, &["CLIENT", "TRACKING", "off"]);
    ask(
        &mut a,
        &mut t,
        &["CLIENT", "TRACKING", "on", "OPTIN", "NOLOOP"],
    );
    ask(&mut a, &mut t, &["CLIENT", "TRACKINGINFO"]);
    ask(&mut a, &mut t, &["GET", "k1"]); // not cached: no CACHING yes
    ask(&mut a, &mut t, &["CLIENT", "CACHING", "yes"]);
    ask(&mut a, &mut t, &["GET", "k2"]);
    ask(&mut a, &mut t, &["SET", "k2", "mine"]); // NOLOOP: no message
    ask(&mut a, &mut t, &["GET", "k2"]); // not remembered again (no CACHING)
    ask(&mut a, &mut t, &["CLIENT", "CACHING", "yes"]);
    ask(&mut a, &mut t, &["GET", "k2"]);
    ask(&mut w, &mut t, &["SET", "k1", "y"]); // k1 was never cached
    ask(&mut w, &mut t, &["SET", "k2", "z"]);
    t.push(val(&mut a)); // invalidate k2 only
    ask(&mut a, &mut t, &["PING"]);
    t
}

/// BCAST with prefixes, redirected to a RESP2 subscriber of
/// `__redis__:invalidate`; a transaction's keys come per prefix.
fn tracking_bcast_redirect_scenario(port: u16) -> Transcript {
    let mut t = Transcript::new();
    let mut r = Raw::connect(port);
    let mut a = Raw::connect(port);
    let mut w = Raw::connect(port);
    r.cmd(&["CLIENT", "ID"]);
    let id = val(&mut r);
    let id = id.trim_start_matches(':').trim().to_string();
    ask(&mut r, &mut t, &["SUBSCRIBE", "__redis__:invalidate"]);
    ask(
        &mut a,
        &mut t,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "a:", "PREFIX", "a:b",
        ],
    );
    ask_quiet(
        &mut a,
        &mut t,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &id, "PREFIX", "a:", "PREFIX", "b:",
        ],
    );
    ask_quiet(
        &mut a,
        &mut t,
        &[
            "CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", &id, "PREFIX", "a:x",
        ],
    );
    ask(&mut a, &mut t, &["CLIENT", "TRACKING", "on", "OPTIN"]);
    ask(&mut w, &mut t, &["SET", "c:1", "v"]); // no prefix matches
    ask(&mut w, &mut t, &["MULTI"]);
    ask(&mut w, &mut t, &["SET", "a:1", "v"]);
    ask(&mut w, &mut t, &["SET", "a:2", "v"]);
    ask(&mut w, &mut t, &["SET", "b:1", "v"]);
    ask(&mut w, &mut t, &["EXEC"]);
    let mut msgs = vec![val(&mut r), val(&mut r)];
    msgs.sort();
    t.extend(msgs);
    ask(&mut w, &mut t, &["SET", "b:2", "v"]);
    t.push(val(&mut r));
    ask(&mut r, &mut t, &["PING"]);
    t
}

/// WRITE pauses writes (and PUBLISH), not reads; UNPAUSE releases them.
fn pause_scenario(port: u16) -> Transcript {
    let mut t = Transcript::new();
    let mut admin = Raw::connect(port);
    let mut c = Raw::connect(port);
    let mut p = Raw::connect(port);
    ask(&mut admin, &mut t, &["CLIENT", "PAUSE", "abc"]);
    ask(&mut admin, &mut t, &["CLIENT", "PAUSE", "-1"]);
    ask(&mut admin, &mut t, &["CLIENT", "PAUSE", "100", "SOMETIMES"]);
    ask(&mut admin, &mut t, &["SET", "k", "before"]);
    ask(&mut admin, &mut t, &["CLIENT", "PAUSE", "100000", "WRITE"]);
    ask(&mut c, &mut t, &["GET", "k"]);
    ask(&mut c, &mut t, &["SET"]); // refused at once, paused or not
    c.cmd(&["SET", "k", "during"]);
    p.cmd(&["PUBLISH", "ch", "m"]);
    wait_blocked(&mut admin, 2);
    ask(&mut admin, &mut t, &["GET", "k"]);
    ask(&mut admin, &mut t, &["CLIENT", "UNPAUSE"]);
    t.push(val(&mut c));
    t.push(val(&mut p));
    ask(&mut admin, &mut t, &["GET", "k"]);
    t
}

fn compare(name: &str, scenario: fn(u16) -> Transcript) {
    let srv = Server::start();
    let ours = scenario(srv.port);
    match Proc::redis(&[]) {
        Some(redis) => {
            let theirs = scenario(redis.port);
            for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                assert_eq!(a, b, "{name}: step {i} differs from redis-server");
            }
            assert_eq!(ours.len(), theirs.len(), "{name}");
        }
        None => eprintln!("{name}: redis-server not installed, emberkv only"),
    }
}

/// Tools that set every parameter back to its value (Redis's Tcl "CONFIG
/// sanity") set `port` too: its own value is taken; another port is not
/// (redis-server would listen there; this listener cannot move).
#[test]
fn config_set_port_to_its_value() {
    let ours = Proc::emberkv(&[]);
    let mut servers = vec![("emberkv-server", ours.port)];
    let theirs = Proc::redis(&[]);
    if let Some(r) = &theirs {
        servers.push(("redis-server", r.port));
    }
    for (name, port) in servers {
        let mut c = Raw::connect(port);
        c.cmd(&["CONFIG", "SET", "port", &port.to_string()]);
        assert_eq!(val(&mut c), "+OK\r\n", "{name}");
        c.cmd(&["CONFIG", "GET", "port"]);
        let want = format!(
            "*2\r\n$4\r\nport\r\n${}\r\n{port}\r\n",
            port.to_string().len()
        );
        assert_eq!(val(&mut c), want, "{name}");
    }
    let mut c = Raw::connect(ours.port);
    c.cmd(&["CONFIG", "SET", "port", &(ours.port ^ 1).to_string()]);
    assert!(val(&mut c).contains("can't set immutable config"));
}

#[test]
fn monitor_shows_commands_as_redis() {
    compare("monitor", monitor_scenario);
}

#[test]
fn tracking_resp3_default_optin_noloop() {
    compare("tracking resp3", tracking_resp3_scenario);
}

#[test]
fn tracking_bcast_redirect_to_resp2_subscriber() {
    compare("tracking bcast", tracking_bcast_redirect_scenario);
}

#[test]
fn client_pause_write_holds_writes_until_unpause() {
    compare("pause", pause_scenario);
}
