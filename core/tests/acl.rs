//! ACL: users, rules, permission checks, ACL LOG, AUTH with users.
//!
//! Where Redis 7.0 (the installed oracle) and 7.2 answer alike, the same
//! commands run against redis-server and emberkv and the replies are
//! compared byte for byte. Where 7.2 changed the text (NOPERM messages,
//! command rules kept as given, the EXEC and script denials), the expected
//! strings are 7.2's own (its `getAclErrorMessage`, `multi.c` and
//! `unit/acl.tcl` "ACL GETUSER provides correct results").

mod common;

use common::RedisServer;
use emberkv::{Client, Config, Db, Reply};

fn argv(s: &[&str]) -> Vec<Vec<u8>> {
    s.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn run(c: &mut Client, s: &[&str]) -> Reply {
    c.execute(&argv(s))
}

fn err(r: &Reply) -> String {
    r.as_error()
        .unwrap_or_else(|| panic!("expected an error, got {r:?}"))
        .to_string()
}

/// A database, an admin client and a second client, after `ACL SETUSER rules`.
fn setup(rules: &[&str]) -> (Db, Client, Client) {
    let db = Db::in_memory();
    let mut admin = db.client();
    let c = db.client();
    let mut a = vec!["ACL", "SETUSER"];
    a.extend_from_slice(rules);
    assert_eq!(run(&mut admin, &a), Reply::ok());
    (db, admin, c)
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(
        r.as_bytes()
            .unwrap_or_else(|| panic!("not a string: {r:?}")),
    )
    .into()
}

/// User `u` of both tests.
const U_SETUSER: &[&str] = &[
    "ACL",
    "SETUSER",
    "u",
    "on",
    ">p",
    "~k*",
    "&c*",
    "-@all",
    "+get",
    "+set",
    "+publish",
    "+config|get",
    "+multi",
    "+exec",
];

/// One command a line: the connection (0 admin, 1 user), then argv.
const SCRIPT: &str = "\
0 ACL LIST
0 ACL WHOAMI
0 ACL USERS
0 ACL SETUSER e foo
0 ACL SETUSER e +nosuch
0 ACL SETUSER e +@nosuch
0 ACL SETUSER e allkeys ~a
0 ACL SETUSER e allchannels &x
0 ACL SETUSER e <nopw
0 ACL SETUSER e #abc
0 ACL SETUSER e +config|get|x
0 ACL SETUSER e (+get
0 ACL SETUSER e (~x* +get
0 ACL SETUSER e selector
0 ACL GETUSER e
0 ACL SETUSER new
0 ACL GETUSER new
0 ACL GETUSER k
0 ACL SETUSER s clearselectors
0 ACL SETUSER p nopass
0 ACL SETUSER p resetpass off
0 ACL LIST
0 ACL USERS
0 ACL GETUSER nosuch
0 ACL DELUSER default
0 ACL DELUSER nosuch new new
0 ACL GENPASS 0
0 ACL GENPASS 5000
0 ACL GENPASS x
0 ACL CAT
0 ACL CAT nosuch
0 ACL LOG x
0 ACL LOG RESET
0 ACL HELP
0 ACL DRYRUN nosuch get x
0 ACL DRYRUN k nosuchcmd
0 U_SETUSER
1 AUTH u wrong
1 AUTH nosuch p
1 AUTH u p
1 GET k1
1 SET k1 v
1 CONFIG GET maxmemory
1 PUBLISH c1 x
1 MULTI
1 GET k1
1 EXEC
0 AUTH x
0 AUTH a b c
0 CLIENT KILL USER nosuch
";

#[test]
fn same_replies_as_redis() {
    let Some(srv) = RedisServer::start() else {
        eprintln!("redis-server not installed: skipped");
        return;
    };
    let mut rconns = [srv.conn(), srv.conn()];
    let db = Db::in_memory();
    let mut eclients = [db.client(), db.client()];
    let mut diffs = Vec::new();
    for line in SCRIPT.lines() {
        let (who, cmd) = line.split_once(' ').unwrap();
        let who: usize = who.parse().unwrap();
        let cmd: Vec<&str> = match cmd {
            "U_SETUSER" => U_SETUSER.to_vec(),
            _ => cmd.split(' ').collect(),
        };
        let a = argv(&cmd);
        let want = rconns[who].command(&a);
        let got = eclients[who].execute(&a).to_resp2();
        if want != got {
            diffs.push(format!(
                "{cmd:?}\n  redis:   {:?}\n  emberkv: {:?}",
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn denials_use_redis_7_2_texts() {
    let db = Db::in_memory();
    let mut admin = db.client();
    let mut c = db.client();
    let mut rules = U_SETUSER.to_vec();
    rules.extend(["+subscribe", "+psubscribe", "+eval"]);
    run(&mut admin, &rules);
    assert_eq!(run(&mut c, &["AUTH", "u", "p"]), Reply::ok());
    assert_eq!(
        err(&run(&mut c, &["DEL", "k1"])),
        "NOPERM User u has no permissions to run the 'del' command"
    );
    assert_eq!(
        err(&run(&mut c, &["CONFIG", "SET", "maxmemory", "0"])),
        "NOPERM User u has no permissions to run the 'config|set' command"
    );
    assert_eq!(
        err(&run(&mut c, &["GET", "x"])),
        "NOPERM No permissions to access a key"
    );
    assert_eq!(
        err(&run(&mut c, &["PUBLISH", "d", "m"])),
        "NOPERM No permissions to access a channel"
    );
    // PSUBSCRIBE needs the pattern itself, not a match of it
    assert_eq!(
        err(&run(&mut c, &["PSUBSCRIBE", "c1*"])),
        "NOPERM No permissions to access a channel"
    );
    assert_eq!(run(&mut c, &["GET", "k1"]), Reply::Nil);
    assert_eq!(
        run(&mut admin, &["ACL", "DRYRUN", "u", "get", "x"]),
        Reply::bulk("User u has no permissions to access the 'x' key")
    );
    assert_eq!(
        run(&mut admin, &["ACL", "DRYRUN", "u", "publish", "zz", "m"]),
        Reply::bulk("User u has no permissions to access the 'zz' channel")
    );
    assert_eq!(
        run(&mut admin, &["ACL", "DRYRUN", "u", "get", "k1"]),
        Reply::ok()
    );
    // scripts: Redis 7.2's "ACL failure in script" with the verbose text
    let r = run(&mut c, &["EVAL", "return redis.call('get', 'x')", "0"]);
    assert!(
        err(&r).starts_with(
            "ERR ACL failure in script: User u has no permissions to access the 'x' key"
        ),
        "{r:?}"
    );
    let r = run(&mut c, &["EVAL", "return redis.pcall('del', 'k1')", "0"]);
    assert_eq!(
        err(&r),
        "ERR ACL failure in script: User u has no permissions to run the 'del' command"
    );
    // redis.acl_check_cmd: the script's user, nothing logged
    let check = |c: &mut Client, args: &str| {
        run(
            c,
            &["EVAL", &format!("return redis.acl_check_cmd({args})"), "0"],
        )
    };
    assert_eq!(check(&mut c, "'set', 'k1', 1"), Reply::Int(1));
    assert_eq!(check(&mut c, "'del', 'k1'"), Reply::Nil);
    assert_eq!(check(&mut c, "'set', 'yy', 1"), Reply::Nil);
    assert!(
        err(&check(&mut c, "'invalid-cmd', 'arg'"))
            .starts_with("ERR Invalid command passed to redis.acl_check_cmd()")
    );
    // a denial inside MULTI aborts EXEC
    assert_eq!(run(&mut c, &["MULTI"]), Reply::ok());
    assert!(err(&run(&mut c, &["GET", "x"])).starts_with("NOPERM"));
    assert_eq!(
        err(&run(&mut c, &["EXEC"])),
        "EXECABORT Transaction discarded because of previous errors."
    );
    // rules changed between queueing and EXEC: that element fails
    assert_eq!(run(&mut c, &["MULTI"]), Reply::ok());
    assert_eq!(run(&mut c, &["GET", "k1"]), Reply::simple("QUEUED"));
    assert_eq!(run(&mut c, &["SET", "k1", "v"]), Reply::simple("QUEUED"));
    run(&mut admin, &["ACL", "SETUSER", "u", "-get"]);
    let Reply::Array(v) = run(&mut c, &["EXEC"]) else {
        panic!()
    };
    assert_eq!(
        err(&v[0]),
        "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand"
    );
    assert_eq!(v[1], Reply::ok());
}

#[test]
fn command_rules_are_kept_as_redis_7_2_keeps_them() {
    let db = Db::in_memory();
    let mut c = db.client();
    let mut check = |rules: &[&str], want: &str| {
        let mut a = vec!["ACL", "SETUSER", "adv"];
        a.extend_from_slice(rules);
        assert_eq!(run(&mut c, &a), Reply::ok(), "{rules:?}");
        let Reply::Map(m) = run(&mut c, &["ACL", "GETUSER", "adv"]) else {
            panic!()
        };
        let cmds = m
            .iter()
            .find(|(k, _)| k.as_bytes() == Some(b"commands"))
            .map(|(_, v)| text(v))
            .unwrap();
        assert_eq!(cmds, want, "{rules:?}");
    };
    check(
        &["+@all", "-@hash", "-@slow", "+hget"],
        "+@all -@hash -@slow +hget",
    );
    check(&["-@hash"], "+@all -@slow +hget -@hash");
    check(&["+@hash"], "+@all -@slow +hget +@hash");
    check(&["-@all"], "-@all");
    check(&["-@string", "-@slow", "+@all"], "+@all");
    check(&["-@all", "+@HASH", "+@hash", "+@HaSh"], "-@all +@hash");
    check(&["-@all", "+HGET", "+hget", "+hGeT"], "-@all +hget");
    check(
        &[
            "-@all", "+@hash", "+@slow", "+@set", "+@set", "+@slow", "+@hash",
        ],
        "-@all +@set +@slow +@hash",
    );
    check(
        &["-@all", "+hget", "-hset", "+hset", "-hget"],
        "-@all +hset -hget",
    );
    check(
        &[
            "-@all",
            "+client|list",
            "+client|list",
            "+config|get",
            "+config",
            "+acl|list",
            "-acl",
        ],
        "-@all +client|list +config -acl",
    );
    check(
        &["-@all", "+select|0", "+select|0", "+debug|object", "+debug"],
        "-@all +select|0 +debug",
    );
    check(&["-@all", "-@dangerous"], "-@all -@dangerous");
    check(
        &["-@all", "+config", "+config|get", "-config|set", "+config"],
        "-@all +config",
    );
}

#[test]
fn permissions_follow_rule_changes_at_once() {
    let db = Db::in_memory();
    let mut admin = db.client();
    let mut c = db.client();
    run(&mut c, &["SET", "k", "v"]);
    assert_eq!(run(&mut c, &["GET", "k"]), Reply::bulk("v"));
    // the default user loses GET: the unrestricted fast path must notice
    run(&mut admin, &["ACL", "SETUSER", "default", "-get"]);
    assert_eq!(
        err(&run(&mut c, &["GET", "k"])),
        "NOPERM User default has no permissions to run the 'get' command"
    );
    run(&mut admin, &["ACL", "SETUSER", "default", "+get"]);
    assert_eq!(run(&mut c, &["GET", "k"]), Reply::bulk("v"));
    // key patterns: reads and writes
    run(
        &mut admin,
        &["ACL", "SETUSER", "default", "resetkeys", "%R~r*", "%W~w*"],
    );
    assert_eq!(run(&mut c, &["GET", "r1"]), Reply::Nil);
    assert!(err(&run(&mut c, &["SET", "r1", "x"])).starts_with("NOPERM"));
    assert_eq!(run(&mut c, &["SET", "w1", "x"]), Reply::ok());
    assert!(err(&run(&mut c, &["GET", "w1"])).starts_with("NOPERM"));
    // a selector allows what the root does not
    run(&mut admin, &["ACL", "SETUSER", "default", "(~w* +get)"]);
    assert_eq!(run(&mut c, &["GET", "w1"]), Reply::bulk("x"));
    run(
        &mut admin,
        &[
            "ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all",
        ],
    );
    assert_eq!(run(&mut c, &["GET", "k"]), Reply::bulk("v"));
    // the engine's own client (Db::execute) is not subject to users
    run(&mut admin, &["ACL", "SETUSER", "default", "-@all"]);
    assert_eq!(db.execute(&["GET", "k"]), Reply::bulk("v"));
    // NO_AUTH commands stay allowed
    assert_eq!(run(&mut c, &["AUTH", "default", "x"]), Reply::ok());
    assert!(err(&run(&mut c, &["PING"])).starts_with("NOPERM"));
}

#[test]
fn deleted_or_disabled_user_cuts_off_its_clients() {
    let (_db, mut admin, mut c) = setup(&["t", "on", "nopass", "+@all", "~*"]);
    assert_eq!(run(&mut c, &["AUTH", "t", "any"]), Reply::ok());
    assert_eq!(run(&mut c, &["ACL", "WHOAMI"]), Reply::bulk("t"));
    let list = text(&run(&mut admin, &["CLIENT", "LIST"]));
    assert!(list.contains(" user=t "), "{list}");
    assert_eq!(run(&mut admin, &["ACL", "DELUSER", "t"]), Reply::Int(1));
    let e = err(&run(&mut c, &["PING"]));
    assert!(e.contains("killed"), "{e}");
    // a user created again under the same name is another user
    run(
        &mut admin,
        &["ACL", "SETUSER", "t", "on", "nopass", "+@all", "~*"],
    );
    assert!(err(&run(&mut c, &["PING"])).contains("killed"));
    assert_eq!(run(&mut c, &["AUTH", "t", "x"]), Reply::ok());
    assert_eq!(run(&mut c, &["PING"]), Reply::simple("PONG"));
    run(&mut admin, &["ACL", "SETUSER", "t", "off"]);
    assert!(err(&run(&mut c, &["PING"])).contains("killed"));
    assert_eq!(
        err(&run(&mut c, &["AUTH", "t", "x"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
}

/// As redis-server 7.0 does (checked by hand): after ACL SETUSER, a client
/// subscribed to a channel its user may no longer use (channels by glob,
/// patterns verbatim) is cut off; one whose subscriptions are all still
/// allowed keeps them.
#[test]
fn subscribers_lose_revoked_channels() {
    let rules = [
        "t",
        "on",
        "nopass",
        "+@all",
        "~*",
        "resetchannels",
        "&chan*",
        "&pat*",
    ];
    for (sub, kept) in [
        (["SUBSCRIBE", "chan1"], true),
        (["SSUBSCRIBE", "chan2"], true),
        (["PSUBSCRIBE", "chan*"], true),
        (["PSUBSCRIBE", "pat*"], false),
    ] {
        let (_db, mut admin, mut c) = setup(&rules);
        assert_eq!(run(&mut c, &["AUTH", "t", "x"]), Reply::ok());
        let mut other = _db.client();
        assert_eq!(run(&mut other, &["AUTH", "t", "x"]), Reply::ok());
        run(&mut c, &sub);
        let mut a = vec!["ACL", "SETUSER", "t", "resetchannels", "&chan*"];
        assert_eq!(run(&mut admin, &a), Reply::ok());
        let ended = c.subscription().unwrap().try_recv();
        assert_eq!(ended.is_err(), !kept, "{sub:?}: {ended:?}");
        if kept {
            a.truncate(4);
            assert_eq!(run(&mut admin, &a), Reply::ok());
            let e = c.subscription().unwrap().try_recv().unwrap_err();
            assert!(e.to_string().contains("permission"), "{e}");
        }
        // a client of the same user that subscribed to nothing is untouched
        assert_eq!(run(&mut other, &["PING"]), Reply::simple("PONG"));
        assert_eq!(run(&mut admin, &["PUBSUB", "NUMPAT"]), Reply::Int(0));
        for what in ["CHANNELS", "SHARDCHANNELS"] {
            let r = run(&mut admin, &["PUBSUB", what]);
            assert_eq!(r, Reply::Array(vec![]), "{sub:?}: the subscription is gone");
        }
    }
}

#[test]
fn requirepass_is_the_default_users_password() {
    let mut cfg = Config::default();
    cfg.set("requirepass", "sec").unwrap();
    let db = Db::open(cfg).unwrap();
    let mut c = db.client();
    let Reply::Array(list) = run(&mut c, &["ACL", "LIST"]) else {
        panic!()
    };
    assert_eq!(
        text(&list[0]),
        format!("user default on #{SEC_HASH} ~* &* +@all")
    );
    assert_eq!(run(&mut c, &["AUTH", "sec"]), Reply::ok());
    assert_eq!(
        err(&run(&mut c, &["AUTH", "nope"])),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
    run(&mut c, &["CONFIG", "SET", "requirepass", ""]);
    let Reply::Array(list) = run(&mut c, &["ACL", "LIST"]) else {
        panic!()
    };
    assert_eq!(text(&list[0]), "user default on nopass ~* &* +@all");
    assert!(err(&run(&mut c, &["AUTH", "x"])).starts_with("ERR AUTH <password> called without"));
}

/// The hash redis-server 7.0 shows for `ACL SETUSER x >sec` (ACL GETUSER).
const SEC_HASH: &str = "add93534eeb463800fe0ed0946048d33636dd2a014fab92e8a37f77ce98c740b";

#[test]
fn acl_log_and_info_stats() {
    let (_db, mut admin, mut c) = setup(&["u", "on", ">p", "~k*", "-@all", "+get"]);
    assert!(run(&mut c, &["AUTH", "u", "bad"]).is_error());
    assert_eq!(run(&mut c, &["AUTH", "u", "p"]), Reply::ok());
    run(&mut c, &["GET", "x"]);
    run(&mut c, &["GET", "x"]);
    run(&mut c, &["SET", "k", "v"]);
    let Reply::Array(log) = run(&mut admin, &["ACL", "LOG"]) else {
        panic!()
    };
    assert_eq!(log.len(), 3);
    let field = |e: &Reply, name: &str| -> Reply {
        let Reply::Map(m) = e else { panic!() };
        m.iter()
            .find(|(k, _)| k.as_bytes() == Some(name.as_bytes()))
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let names: Vec<String> = {
        let Reply::Map(m) = &log[0] else { panic!() };
        m.iter().map(|(k, _)| text(k)).collect()
    };
    assert_eq!(
        names,
        [
            "count",
            "reason",
            "context",
            "object",
            "username",
            "age-seconds",
            "client-info",
            "entry-id",
            "timestamp-created",
            "timestamp-last-updated"
        ]
    );
    // newest first; the two GET x merged
    assert_eq!(field(&log[0], "reason"), Reply::bulk("command"));
    assert_eq!(field(&log[0], "object"), Reply::bulk("set"));
    assert_eq!(field(&log[1], "reason"), Reply::bulk("key"));
    assert_eq!(field(&log[1], "object"), Reply::bulk("x"));
    assert_eq!(field(&log[1], "count"), Reply::Int(2));
    assert_eq!(field(&log[2], "reason"), Reply::bulk("auth"));
    assert_eq!(field(&log[2], "object"), Reply::bulk("auth"));
    assert_eq!(field(&log[2], "username"), Reply::bulk("u"));
    assert!(text(&field(&log[0], "client-info")).contains(" user=u "));
    let Reply::Array(one) = run(&mut admin, &["ACL", "LOG", "1"]) else {
        panic!()
    };
    assert_eq!(one.len(), 1);
    let info = text(&run(&mut admin, &["INFO", "stats"]));
    for line in [
        "acl_access_denied_auth:1",
        "acl_access_denied_cmd:1",
        "acl_access_denied_key:2",
        "acl_access_denied_channel:0",
    ] {
        assert!(info.contains(line), "{line} in {info}");
    }
    assert_eq!(run(&mut admin, &["ACL", "LOG", "RESET"]), Reply::ok());
    assert_eq!(run(&mut admin, &["ACL", "LOG"]), Reply::Array(vec![]));

    // acllog-max-len: the newest entries kept, trimmed when one is added
    // (redis-server 7.0: max 1 keeps the last denial, 0 keeps none)
    let log_len = |admin: &mut Client| match run(admin, &["ACL", "LOG"]) {
        Reply::Array(v) => v.len(),
        r => panic!("{r:?}"),
    };
    run(&mut c, &["SET", "k", "v"]);
    run(&mut c, &["GET", "x"]);
    assert_eq!(log_len(&mut admin), 2);
    let set = ["CONFIG", "SET", "acllog-max-len", "1"];
    assert_eq!(run(&mut admin, &set), Reply::ok());
    run(&mut c, &["DEL", "k"]);
    let Reply::Array(log) = run(&mut admin, &["ACL", "LOG"]) else {
        panic!()
    };
    assert_eq!(log.len(), 1);
    assert_eq!(field(&log[0], "object"), Reply::bulk("del"));
    let set = ["CONFIG", "SET", "acllog-max-len", "0"];
    assert_eq!(run(&mut admin, &set), Reply::ok());
    run(&mut c, &["SET", "k", "v"]);
    assert_eq!(log_len(&mut admin), 0);
}

#[test]
fn acl_save_and_load_through_aclfile() {
    let dir = std::env::temp_dir().join(format!("ekv-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.acl");
    std::fs::write(
        &file,
        "user default on nopass ~* &* +@all\nuser a on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* resetchannels -@all +get\n",
    )
    .unwrap();
    let mut cfg = Config::default();
    cfg.set("aclfile", file.to_str().unwrap()).unwrap();
    let db = Db::open(cfg).unwrap();
    let mut c = db.client();
    assert_eq!(
        run(&mut c, &["ACL", "USERS"]),
        Reply::Array(vec![Reply::bulk("a"), Reply::bulk("default")])
    );
    let mut u = db.client();
    assert_eq!(run(&mut u, &["AUTH", "a", "pw"]), Reply::ok());
    run(&mut c, &["ACL", "SETUSER", "b", "on", "nopass", "+ping"]);
    assert_eq!(run(&mut c, &["ACL", "SAVE"]), Reply::ok());
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains("user b on nopass resetchannels -@all +ping\n"),
        "{saved}"
    );
    run(&mut c, &["ACL", "DELUSER", "b"]);
    assert_eq!(run(&mut c, &["ACL", "LOAD"]), Reply::ok());
    let loaded = Reply::Array(vec![
        Reply::bulk("a"),
        Reply::bulk("b"),
        Reply::bulk("default"),
    ]);
    assert_eq!(run(&mut c, &["ACL", "USERS"]), loaded);
    // the clients of reloaded users are cut off; the default user's stay
    assert!(err(&run(&mut u, &["PING"])).contains("killed"));
    assert_eq!(run(&mut c, &["PING"]), Reply::simple("PONG"));
    std::fs::write(&file, "user x on +nosuch\n").unwrap();
    assert!(run(&mut c, &["ACL", "LOAD"]).is_error());
    // a failed LOAD changes nothing
    assert_eq!(run(&mut c, &["ACL", "USERS"]), loaded);
    let _ = std::fs::remove_dir_all(&dir);
    // without an aclfile: Redis's error
    let db = Db::in_memory();
    let mut c = db.client();
    assert!(
        err(&run(&mut c, &["ACL", "SAVE"]))
            .starts_with("ERR This Redis instance is not configured to use an ACL file.")
    );
}

#[test]
fn genpass_lengths() {
    let db = Db::in_memory();
    let mut c = db.client();
    assert_eq!(text(&run(&mut c, &["ACL", "GENPASS"])).len(), 64);
    assert_eq!(text(&run(&mut c, &["ACL", "GENPASS", "5"])).len(), 2);
    assert_eq!(text(&run(&mut c, &["ACL", "GENPASS", "4096"])).len(), 1024);
    assert_ne!(
        run(&mut c, &["ACL", "GENPASS"]),
        run(&mut c, &["ACL", "GENPASS"])
    );
}
