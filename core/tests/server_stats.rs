//! CLIENT LIST `cmd`, INFO commandstats / errorstats / section selection,
//! SLOWLOG and LATENCY: the same script runs on emberkv and, when installed,
//! on a real redis-server, and what does not depend on timing or addresses
//! must be equal. Without redis-server the emberkv side still runs against
//! the expectations written from Redis 7.0.15 below.

mod common;

use std::collections::BTreeMap;

use common::{Answer, RedisServer, Resp, argv, parse_resp};

fn ask(c: &mut dyn Answer, parts: &[&str]) -> Resp {
    parse_resp(&c.ask(&argv(parts)))
}

fn text(r: Resp) -> String {
    match r {
        Resp::Bulk(b) => String::from_utf8(b).unwrap(),
        Resp::Simple(s) => s,
        other => panic!("not text: {other:?}"),
    }
}

fn int(r: Resp) -> i64 {
    match r {
        Resp::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// The `cmd=` field of a CLIENT LIST / CLIENT INFO line.
fn cmd_field(line: &str) -> String {
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("cmd="))
        .unwrap_or("?")
        .to_string()
}

/// Two connections: `a` watches, `b` acts; returns the `cmd=` values seen.
fn last_commands(a: &mut dyn Answer, b: &mut dyn Answer) -> Vec<String> {
    let id = int(ask(b, &["CLIENT", "ID"])).to_string();
    let mut seen = Vec::new();
    let mut look = |a: &mut dyn Answer| {
        let l = text(ask(a, &["CLIENT", "LIST", "ID", &id]));
        seen.push(cmd_field(&l));
    };
    look(a);
    ask(b, &["SET", "k", "v"]);
    look(a);
    ask(b, &["GET"]); // arity error: still that command
    look(a);
    ask(b, &["NOSUCHCOMMAND"]); // unknown: none
    look(a);
    ask(b, &["CONFIG", "GET", "hz"]);
    look(a);
    ask(b, &["CONFIG", "NOSUCH"]); // unknown subcommand: none
    look(a);
    seen.push(cmd_field(&text(ask(a, &["CLIENT", "INFO"]))));
    let me = int(ask(a, &["CLIENT", "ID"])).to_string();
    seen.push(cmd_field(&text(ask(a, &["CLIENT", "LIST", "ID", &me]))));
    seen
}

const LAST_COMMANDS: &[&str] = &[
    "client|id",
    "set",
    "get",
    "NULL",
    "config|get",
    "NULL",
    "client|info",
    "client|list",
];

#[test]
fn client_list_shows_the_last_command() {
    let db = emberkv::Db::in_memory();
    let (mut a, mut b) = (db.client(), db.client());
    assert_eq!(last_commands(&mut a, &mut b), LAST_COMMANDS);
    if let Some(srv) = RedisServer::start() {
        let (mut a, mut b) = (srv.conn(), srv.conn());
        assert_eq!(last_commands(&mut a, &mut b), LAST_COMMANDS);
    }
}

/// INFO commandstats without the timings, and INFO errorstats.
fn stats_after_script(c: &mut dyn Answer) -> (BTreeMap<String, String>, String) {
    for cmd in [
        &["CONFIG", "RESETSTAT"][..],
        &["SET", "x", "1"],
        &["INCR", "x"],
        &["INCR", "x"],
        &["LPUSH", "x", "a"], // WRONGTYPE: failed
        &["GET"],             // arity: rejected
        &["NOSUCH"],          // unknown: only an error
        &["CLIENT", "NOSUCH"],
        &["MULTI"],
        &["SET", "y", "1"],
        &["EXEC"],
        &["MULTI"],
        &["GET"], // rejected while queueing: EXECABORT
        &["EXEC"],
        &["CONFIG", "GET", "hz"],
    ] {
        ask(c, cmd);
    }
    let info = text(ask(c, &["INFO", "commandstats"]));
    let mut cmds = BTreeMap::new();
    for line in info.lines().filter(|l| l.starts_with("cmdstat_")) {
        let (name, fields) = line.split_once(':').unwrap();
        let kept: Vec<&str> = fields
            .split(',')
            .filter(|f| !f.starts_with("usec"))
            .collect();
        cmds.insert(name.to_string(), kept.join(","));
    }
    let errors = text(ask(c, &["INFO", "errorstats"]));
    (cmds, errors)
}

#[test]
fn commandstats_and_errorstats_count_as_redis() {
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let (cmds, errors) = stats_after_script(&mut c);
    let expect: BTreeMap<String, String> = [
        (
            "cmdstat_config|resetstat",
            "calls=1,rejected_calls=0,failed_calls=0",
        ),
        ("cmdstat_set", "calls=2,rejected_calls=0,failed_calls=0"),
        ("cmdstat_incr", "calls=2,rejected_calls=0,failed_calls=0"),
        ("cmdstat_lpush", "calls=1,rejected_calls=0,failed_calls=1"),
        ("cmdstat_get", "calls=0,rejected_calls=2,failed_calls=0"),
        ("cmdstat_multi", "calls=2,rejected_calls=0,failed_calls=0"),
        ("cmdstat_exec", "calls=2,rejected_calls=0,failed_calls=1"),
        (
            "cmdstat_config|get",
            "calls=1,rejected_calls=0,failed_calls=0",
        ),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(cmds, expect);
    assert_eq!(
        errors,
        "# Errorstats\r\nerrorstat_ERR:count=4\r\nerrorstat_EXECABORT:count=1\r\nerrorstat_WRONGTYPE:count=1\r\n"
    );
    if let Some(srv) = RedisServer::start() {
        let (rcmds, rerrors) = stats_after_script(&mut srv.conn());
        assert_eq!(rcmds, expect);
        assert_eq!(rerrors, errors);
    }
}

fn section_headers(c: &mut dyn Answer, args: &[&str]) -> Vec<String> {
    let mut cmd = vec!["INFO"];
    cmd.extend_from_slice(args);
    text(ask(c, &cmd))
        .lines()
        .filter_map(|l| l.strip_prefix("# "))
        // latency percentiles per command are not kept by emberkv
        .filter(|h| *h != "Latencystats")
        .map(str::to_string)
        .collect()
}

#[test]
fn info_selects_sections_as_redis() {
    let selections: &[&[&str]] = &[
        &[],
        &["default"],
        &["all"],
        &["everything"],
        &["cpu", "server"],
        &["commandstats", "CPU"],
        &["nosuch"],
        &["all", "cpu"],
        &["cluster"],
    ];
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let ours: Vec<Vec<String>> = selections
        .iter()
        .map(|s| section_headers(&mut c, s))
        .collect();
    assert_eq!(
        ours[0],
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    if let Some(srv) = RedisServer::start() {
        let mut r = srv.conn();
        for (s, o) in selections.iter().zip(&ours) {
            assert_eq!(&section_headers(&mut r, s), o, "INFO {s:?}");
        }
    }
    let info = text(ask(&mut c, &["INFO", "server", "memory", "cpu", "cluster"]));
    for field in [
        "redis_git_sha1:00000000",
        "lazyfree_pending_objects:0",
        "used_cpu_sys:",
        "used_cpu_user:",
        "used_cpu_sys_children:",
        "used_cpu_user_children:",
        "cluster_enabled:0",
    ] {
        assert!(info.contains(field), "{field} missing");
    }
}

/// The argv of every slow log entry, newest first.
fn slowlog_argvs(c: &mut dyn Answer) -> Vec<Vec<String>> {
    let Resp::Arr(entries) = ask(c, &["SLOWLOG", "GET", "-1"]) else {
        panic!()
    };
    entries
        .into_iter()
        .map(|e| {
            let Resp::Arr(mut f) = e else { panic!() };
            assert_eq!(f.len(), 6);
            let Resp::Arr(args) = f.remove(3) else {
                panic!()
            };
            args.into_iter().map(text).collect()
        })
        .collect()
}

fn slowlog_script(c: &mut dyn Answer) -> (Vec<Vec<String>>, i64, i64, i64) {
    ask(c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    ask(c, &["SLOWLOG", "RESET"]);
    ask(c, &["AUTH", "secret"]);
    ask(c, &["HELLO", "2", "AUTH", "default", "pw"]);
    ask(c, &["CONFIG", "SET", "requirepass", ""]);
    let long = "x".repeat(130);
    ask(c, &["SET", "k", &long]);
    let mut many = vec!["SADD", "s"];
    let members: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    many.extend(members.iter().map(String::as_str));
    ask(c, &many);
    ask(c, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    let argvs = slowlog_argvs(c);
    let len = int(ask(c, &["SLOWLOG", "LEN"]));
    // only what takes longer than the threshold
    ask(c, &["SLOWLOG", "RESET"]);
    ask(c, &["CONFIG", "SET", "slowlog-log-slower-than", "100000"]);
    ask(c, &["PING"]);
    ask(c, &["DEBUG", "SLEEP", "0.2"]);
    let Resp::Arr(e) = ask(c, &["SLOWLOG", "GET"]) else {
        panic!()
    };
    let slept = match &e[..] {
        [Resp::Arr(f)] => int(f[2].clone()),
        other => panic!("{other:?}"),
    };
    // a shorter log drops the oldest entries
    ask(c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
    ask(c, &["CONFIG", "SET", "slowlog-max-len", "2"]);
    ask(c, &["PING"]);
    ask(c, &["PING"]);
    ask(c, &["PING"]);
    let bounded = int(ask(c, &["SLOWLOG", "LEN"]));
    ask(c, &["CONFIG", "SET", "slowlog-log-slower-than", "10000"]);
    ask(c, &["CONFIG", "SET", "slowlog-max-len", "128"]);
    (argvs, len, slept, bounded)
}

#[test]
fn slowlog_records_as_redis() {
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let (argvs, len, slept, bounded) = slowlog_script(&mut c);
    // the RESET itself is logged once it has run
    assert_eq!(len, 6, "{argvs:?}");
    assert_eq!(argvs[5], ["SLOWLOG", "RESET"]);
    assert_eq!(argvs[0][0], "SADD");
    assert_eq!(argvs[0].len(), 32);
    assert_eq!(argvs[0][31], "... (11 more arguments)");
    assert_eq!(
        argvs[1][2],
        format!("{}... (2 more bytes)", "x".repeat(128))
    );
    assert_eq!(argvs[2], ["CONFIG", "SET", "requirepass", "(redacted)"]);
    assert_eq!(argvs[3], ["HELLO", "2", "AUTH", "(redacted)", "(redacted)"]);
    assert_eq!(argvs[4], ["AUTH", "(redacted)"]);
    assert!(slept >= 200_000, "{slept}");
    assert_eq!(bounded, 2);
    if let Some(srv) = RedisServer::start() {
        let (rargvs, rlen, rslept, rbounded) = slowlog_script(&mut srv.conn());
        assert_eq!(rargvs, argvs);
        assert_eq!(rlen, len);
        assert!(rslept >= 200_000);
        assert_eq!(rbounded, bounded);
    }
}

fn latency_script(c: &mut dyn Answer) -> (Vec<Resp>, usize, i64, Resp) {
    ask(c, &["LATENCY", "RESET"]);
    ask(c, &["CONFIG", "SET", "latency-monitor-threshold", "100"]);
    ask(c, &["DEBUG", "SLEEP", "0.2"]);
    ask(c, &["CONFIG", "SET", "latency-monitor-threshold", "0"]);
    let Resp::Arr(latest) = ask(c, &["LATENCY", "LATEST"]) else {
        panic!()
    };
    let Resp::Arr(mut l) = latest[0].clone() else {
        panic!()
    };
    assert!(
        int(l[2].clone()) >= 200 && int(l[3].clone()) >= 200,
        "{l:?}"
    );
    l.truncate(1);
    let Resp::Arr(h) = ask(c, &["LATENCY", "HISTORY", "command"]) else {
        panic!()
    };
    let reset = int(ask(c, &["LATENCY", "RESET", "command", "nosuch"]));
    (l, h.len(), reset, ask(c, &["LATENCY", "LATEST"]))
}

#[test]
fn latency_monitor_records_spikes_as_redis() {
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    let ours = latency_script(&mut c);
    assert_eq!(ours.0, [Resp::Bulk(b"command".to_vec())]);
    assert_eq!((ours.1, ours.2), (1, 1));
    assert_eq!(ours.3, Resp::Arr(vec![]));
    if let Some(srv) = RedisServer::start() {
        assert_eq!(latency_script(&mut srv.conn()), ours);
    }
}

/// Which keys look idle after `wait` and one command on each.
fn idle_after_access(c: &mut dyn Answer, wait: &dyn Fn()) -> Vec<(String, bool)> {
    let keys = [
        "ttl", "type", "exists", "objenc", "touch", "get", "set", "append", "expire",
    ];
    for k in keys {
        ask(c, &["SET", k, "v"]);
    }
    wait();
    ask(c, &["TTL", "ttl"]);
    ask(c, &["TYPE", "type"]);
    ask(c, &["EXISTS", "exists"]);
    ask(c, &["OBJECT", "ENCODING", "objenc"]);
    ask(c, &["TOUCH", "touch"]);
    ask(c, &["GET", "get"]);
    ask(c, &["SET", "set", "w"]);
    ask(c, &["APPEND", "append", "w"]);
    ask(c, &["EXPIRE", "expire", "100"]);
    keys.iter()
        .map(|k| {
            let idle = int(ask(c, &["OBJECT", "IDLETIME", k]));
            (k.to_string(), idle >= 2)
        })
        .collect()
}

#[test]
fn object_idletime_counts_from_the_last_access() {
    let expect: Vec<(String, bool)> = [
        ("ttl", true),
        ("type", true),
        ("exists", true),
        ("objenc", true),
        ("touch", false),
        ("get", false),
        ("set", false),
        ("append", false),
        ("expire", false),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let clock = emberkv::ManualClock::starting_now();
    let cfg = emberkv::Config {
        clock: Some(clock.clone()),
        ..Default::default()
    };
    let db = emberkv::Db::open(cfg).unwrap();
    let mut c = db.client();
    let advance = || {
        clock.advance_ms(10_000);
        // the engine's background tick (10 per second) reads the clock
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    assert_eq!(idle_after_access(&mut c, &advance), expect);
    assert_eq!(int(ask(&mut c, &["OBJECT", "IDLETIME", "ttl"])), 10);
    // RESTORE … IDLETIME sets it
    let Resp::Bulk(payload) = ask(&mut c, &["DUMP", "ttl"]) else {
        panic!()
    };
    let restored = c.execute(&[
        &b"RESTORE"[..],
        b"copy",
        b"0",
        &payload,
        b"IDLETIME",
        b"1000",
    ]);
    assert_eq!(restored, emberkv::Reply::ok());
    assert_eq!(int(ask(&mut c, &["OBJECT", "IDLETIME", "copy"])), 1000);
    assert_eq!(ask(&mut c, &["OBJECT", "IDLETIME", "nosuchkey"]), Resp::Nil);
    if let Some(srv) = RedisServer::start() {
        let sleep = || std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(idle_after_access(&mut srv.conn(), &sleep), expect);
    }
}

fn changes_since_save(c: &mut dyn Answer) -> i64 {
    text(ask(c, &["INFO", "persistence"]))
        .lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .unwrap()
        .parse()
        .unwrap()
}

/// Dirty counts of SETBIT / BITFIELD calls, and whether a WATCH saw them.
fn bit_write_changes(w: &mut dyn Answer, c: &mut dyn Answer) -> Vec<(i64, bool)> {
    ask(c, &["FLUSHALL"]);
    ask(c, &["SETBIT", "b", "3", "1"]);
    let steps: &[&[&str]] = &[
        &["SETBIT", "b", "3", "1"],                 // same bit
        &["SETBIT", "b", "2", "0"],                 // same bit
        &["SETBIT", "b", "2", "1"],                 // changed
        &["SETBIT", "b", "20", "0"],                // grows the string
        &["SETBIT", "new", "0", "0"],               // creates the key
        &["BITFIELD", "b", "SET", "u8", "0", "48"], // same value
        &[
            "BITFIELD", "b", "SET", "u8", "0", "49", "INCRBY", "u8", "0", "0",
        ],
        &[
            "BITFIELD", "b", "INCRBY", "u8", "0", "1", "SET", "u8", "40", "0",
        ], // grows
        &[
            "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "255",
        ],
    ];
    let mut out = Vec::new();
    for step in steps {
        ask(w, &["WATCH", step[1]]);
        let before = changes_since_save(c);
        ask(c, step);
        let dirty = changes_since_save(c) - before;
        ask(w, &["MULTI"]);
        ask(w, &["PING"]);
        let aborted = ask(w, &["EXEC"]) == Resp::Nil;
        out.push((dirty, aborted));
    }
    out
}

#[test]
fn bit_writes_that_change_nothing_are_no_writes() {
    let expect = vec![
        (0, false),
        (0, false),
        (1, true),
        (1, true),
        (1, true),
        (0, false),
        (1, true),
        (2, true),
        (0, false),
    ];
    let db = emberkv::Db::in_memory();
    let (mut w, mut c) = (db.client(), db.client());
    assert_eq!(bit_write_changes(&mut w, &mut c), expect);
    if let Some(srv) = RedisServer::start() {
        let (mut w, mut c) = (srv.conn(), srv.conn());
        assert_eq!(bit_write_changes(&mut w, &mut c), expect);
    }
}

/// XINFO CONSUMERS's `idle` (since any interaction) and `inactive` (since
/// the last successful read or claim, -1 never), as Redis 7.2 reports them.
#[test]
fn xinfo_consumers_reports_inactive() {
    let clock = emberkv::ManualClock::new(1_700_000_000_000);
    let cfg = emberkv::Config {
        clock: Some(clock.clone()),
        ..Default::default()
    };
    let db = emberkv::Db::open(cfg).unwrap();
    let mut c = db.client();
    ask(&mut c, &["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]);
    ask(&mut c, &["XGROUP", "CREATECONSUMER", "s", "g", "never"]);
    ask(&mut c, &["XADD", "s", "1-1", "f", "v"]);
    ask(
        &mut c,
        &["XREADGROUP", "GROUP", "g", "reader", "STREAMS", "s", ">"],
    );
    clock.advance_ms(6000);
    let Resp::Arr(consumers) = ask(&mut c, &["XINFO", "CONSUMERS", "s", "g"]) else {
        panic!()
    };
    let fields: Vec<Vec<Resp>> = consumers
        .into_iter()
        .map(|r| match r {
            Resp::Arr(f) => f,
            other => panic!("{other:?}"),
        })
        .collect();
    let b = |s: &str| Resp::Bulk(s.as_bytes().to_vec());
    assert_eq!(
        fields,
        vec![
            vec![
                b("name"),
                b("never"),
                b("pending"),
                Resp::Int(0),
                b("idle"),
                Resp::Int(6000),
                b("inactive"),
                Resp::Int(-1)
            ],
            vec![
                b("name"),
                b("reader"),
                b("pending"),
                Resp::Int(1),
                b("idle"),
                Resp::Int(6000),
                b("inactive"),
                Resp::Int(6000)
            ],
        ]
    );
}

/// LATENCY HISTOGRAM after CONFIG RESETSTAT: per named command its calls
/// and cumulative counts at Redis's bucket tops (µs); what does not depend
/// on timing: the names, the calls, that the counts grow, that a bucket
/// top is one of Redis's, and that unknown names are skipped.
fn histogram_script(c: &mut dyn Answer) -> Vec<(String, i64)> {
    ask(c, &["CONFIG", "RESETSTAT"]);
    ask(c, &["SET", "a", "b"]);
    ask(c, &["SET", "c", "d"]);
    ask(c, &["CLIENT", "ID"]);
    ask(c, &["KEYS", "*"]);
    let Resp::Arr(h) = ask(
        c,
        &["LATENCY", "HISTOGRAM", "nosuch", "set", "client", "keys"],
    ) else {
        panic!()
    };
    let tops: Vec<i64> = (0..28)
        .map(|k| ((1024i64 << k) + (8i64 << k) - 1) / 1000)
        .collect();
    let mut out = Vec::new();
    for pair in h.chunks(2) {
        let Resp::Arr(fields) = &pair[1] else {
            panic!("{pair:?}")
        };
        assert_eq!(fields[0], Resp::Bulk(b"calls".to_vec()));
        assert_eq!(fields[2], Resp::Bulk(b"histogram_usec".to_vec()));
        let Resp::Arr(points) = &fields[3] else {
            panic!("{fields:?}")
        };
        let mut last = 0;
        for p in points.chunks(2) {
            assert!(tops.contains(&int(p[0].clone())), "{p:?}");
            let n = int(p[1].clone());
            assert!(n > last, "{points:?}");
            last = n;
        }
        out.push((text(pair[0].clone()), int(fields[1].clone())));
    }
    // KEYS (not a fast command) is timed on every call: its one call is there
    let Resp::Arr(h) = ask(c, &["LATENCY", "HISTOGRAM", "keys"]) else {
        panic!()
    };
    let Resp::Arr(fields) = &h[1] else { panic!() };
    let Resp::Arr(points) = &fields[3] else {
        panic!()
    };
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(points[1], Resp::Int(1));
    out
}

#[test]
fn latency_histogram_as_redis() {
    let db = emberkv::Db::in_memory();
    let ours = histogram_script(&mut db.client());
    let expected: Vec<(String, i64)> = [("set", 2), ("client|id", 1), ("keys", 1)]
        .iter()
        .map(|(n, c)| (n.to_string(), *c))
        .collect();
    assert_eq!(ours, expected);
    if let Some(srv) = RedisServer::start() {
        assert_eq!(histogram_script(&mut srv.conn()), ours);
    }
}
