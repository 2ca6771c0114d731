//! Differential tests for GEO and SORT: the same seeded random commands go
//! to emberkv and to a real redis-server, and the RESP2 replies must be
//! byte-identical: which members a search finds and in which order (the
//! cell scan order shows when nothing is sorted, and in what ANY returns),
//! coordinates (`%.17Lf`), distances, hashes, stored results; SORT with
//! BY/GET patterns, hash fields, LIMIT, ALPHA, DESC and STORE. Skipped when
//! redis-server is missing (CI installs it and requires it).
//!
//! Points cluster around a few places, the poles' limits and the
//! antimeridian among them, so that searches find many members and cross
//! cell and range edges. Where Redis leaves an order to its quicksort
//! (COUNT below the number found, with equal distances; ALPHA BY with equal
//! values and LIMIT), the inputs avoid ties.
//!
//! Also here: keyspace notifications and WATCH for the storing forms, run
//! on both servers with the same assertions.

mod common;

use std::time::Duration;

use common::{Answer, RedisServer, Rng, escape, split_args};

fn argv(parts: &[String]) -> Vec<Vec<u8>> {
    parts.iter().map(|s| s.as_bytes().to_vec()).collect()
}

fn s(x: &str) -> String {
    x.to_string()
}

/// Sends `cmd` to both and asserts byte-identical replies.
fn both(redis: &mut dyn Answer, ember: &mut dyn Answer, cmd: &[String], n: &mut usize) {
    let a = argv(cmd);
    let want = redis.ask(&a);
    let got = ember.ask(&a);
    *n += 1;
    assert!(
        want == got,
        "{}\n  redis   {}\n  emberkv {}",
        cmd.join(" "),
        escape(&want),
        escape(&got)
    );
}

/// Places points gather around: [lon, lat, spread in degrees].
const PLACES: &[[f64; 3]] = &[
    [13.36, 38.11, 2.0],
    [-0.12, 51.5, 0.05],
    [179.9, 10.0, 1.0],
    [-179.95, -40.0, 0.5],
    [0.0, 84.9, 0.3],
    [45.0, -85.0, 0.1],
    [0.0, 0.0, 20.0],
    [100.0, 66.5, 3.0],
];

fn point(r: &mut Rng) -> (f64, f64) {
    let [lon, lat, spread] = PLACES[r.below(PLACES.len())];
    let lon = (lon + r.range(-spread, spread)).clamp(-180.0, 180.0);
    let lat = (lat + r.range(-spread, spread)).clamp(-85.05112878, 85.05112878);
    (lon, lat)
}

fn unit(r: &mut Rng) -> &'static str {
    r.pick(&["m", "km", "mi", "ft", "KM"])
}

/// A radius in the given unit, from metres to thousands of kilometres.
fn distance(r: &mut Rng, unit: &str) -> String {
    let metres = 10f64.powf(r.range(1.0, 6.9));
    let per = match unit.to_ascii_lowercase().as_str() {
        "km" => 1000.0,
        "mi" => 1609.34,
        "ft" => 0.3048,
        _ => 1.0,
    };
    format!("{:.3}", metres / per)
}

fn search_options(r: &mut Rng, out: &mut Vec<String>, storing: bool) {
    match r.below(3) {
        0 => out.push(s("ASC")),
        1 => out.push(s("DESC")),
        _ => {}
    }
    if r.chance(40) {
        out.push(s("COUNT"));
        out.push((1 + r.below(30)).to_string());
        if r.chance(30) {
            out.push(s("ANY"));
        }
    }
    if !storing {
        for w in ["WITHCOORD", "WITHDIST", "WITHHASH"] {
            if r.chance(40) {
                out.push(s(w));
            }
        }
    }
}

fn geo_round(r: &mut Rng, redis: &mut dyn Answer, ember: &mut dyn Answer, n: &mut usize) {
    let mut members = Vec::new();
    for batch in 0..8 {
        let mut cmd = vec![s("GEOADD"), s("g")];
        for i in 0..40 {
            let (lon, lat) = point(r);
            cmd.push(format!("{lon:.6}"));
            cmd.push(format!("{lat:.6}"));
            let m = format!("m{batch}_{i}");
            cmd.push(m.clone());
            members.push(m);
        }
        both(redis, ember, &cmd, n);
    }
    for _ in 0..250 {
        let m = members[r.below(members.len())].clone();
        let cmd: Vec<String> = match r.below(10) {
            0 => {
                let m2 = members[r.below(members.len())].clone();
                let mut c = vec![s("GEODIST"), s("g"), m, m2];
                if r.chance(70) {
                    c.push(s(unit(r)));
                }
                c
            }
            1 => vec![s("GEOPOS"), s("g"), m, s("nosuch")],
            2 => vec![s("GEOHASH"), s("g"), m, s("nosuch")],
            3 => {
                let u = unit(r);
                let (lon, lat) = point(r);
                let mut c = vec![
                    s(r.pick(&["GEORADIUS", "GEORADIUS_RO"])),
                    s("g"),
                    format!("{lon:.6}"),
                    format!("{lat:.6}"),
                    distance(r, u),
                    s(u),
                ];
                search_options(r, &mut c, false);
                c
            }
            4 => {
                let u = unit(r);
                let mut c = vec![
                    s(r.pick(&["GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO"])),
                    s("g"),
                    m,
                    distance(r, u),
                    s(u),
                ];
                search_options(r, &mut c, false);
                c
            }
            5 => {
                // stored, then read back
                let u = unit(r);
                let mut c = vec![s("GEORADIUSBYMEMBER"), s("g"), m, distance(r, u), s(u)];
                search_options(r, &mut c, true);
                c.push(s(r.pick(&["STORE", "STOREDIST"])));
                c.push(s("dst"));
                both(redis, ember, &c, n);
                vec![s("ZRANGE"), s("dst"), s("0"), s("-1"), s("WITHSCORES")]
            }
            6 | 7 => {
                let storing = r.chance(25);
                let mut c = if storing {
                    vec![s("GEOSEARCHSTORE"), s("dst"), s("g")]
                } else {
                    vec![s("GEOSEARCH"), s("g")]
                };
                if r.chance(50) {
                    c.extend([s("FROMMEMBER"), m]);
                } else {
                    let (lon, lat) = point(r);
                    c.extend([s("FROMLONLAT"), format!("{lon:.6}"), format!("{lat:.6}")]);
                }
                let u = unit(r);
                if r.chance(50) {
                    c.extend([s("BYRADIUS"), distance(r, u), s(u)]);
                } else {
                    c.extend([s("BYBOX"), distance(r, u), distance(r, u), s(u)]);
                }
                search_options(r, &mut c, storing);
                if storing {
                    if r.chance(50) {
                        c.push(s("STOREDIST"));
                    }
                    both(redis, ember, &c, n);
                    vec![s("ZRANGE"), s("dst"), s("0"), s("-1"), s("WITHSCORES")]
                } else {
                    c
                }
            }
            _ => {
                // a member moves
                let (lon, lat) = point(r);
                vec![
                    s("GEOADD"),
                    s("g"),
                    s(r.pick(&["CH", "XX", "NX"])),
                    format!("{lon:.6}"),
                    format!("{lat:.6}"),
                    m,
                ]
            }
        };
        both(redis, ember, &cmd, n);
    }
}

fn element(r: &mut Rng) -> String {
    match r.below(6) {
        0 => format!("{}", r.below(1000) as i64 - 500),
        1 => format!("{:.3}", r.range(-100.0, 100.0)),
        2 => format!("e{}", r.below(1000)),
        3 => format!("{}e{}", r.below(9), r.below(3)),
        _ => format!("{}", r.below(100)),
    }
}

fn sort_round(r: &mut Rng, redis: &mut dyn Answer, ember: &mut dyn Answer, n: &mut usize) {
    both(redis, ember, &[s("FLUSHALL")], n);
    let mut elems: Vec<String> = Vec::new();
    for _ in 0..40 {
        elems.push(element(r));
    }
    // a list with repeats, a set and a sorted set of the same elements
    let mut c = vec![s("RPUSH"), s("l")];
    c.extend(elems.iter().cloned());
    c.extend(elems[..5].iter().cloned());
    both(redis, ember, &c, n);
    let mut c = vec![s("SADD"), s("st")];
    c.extend(elems.iter().cloned());
    both(redis, ember, &c, n);
    let mut c = vec![s("ZADD"), s("z")];
    for e in &elems {
        c.push(format!("{}", r.below(20)));
        c.push(e.clone());
    }
    both(redis, ember, &c, n);
    // weights: numeric ones (some missing, some equal) and unique words;
    // objects as strings and as hash fields
    for (i, e) in elems.iter().enumerate() {
        if r.chance(85) {
            let w = format!("{}", r.below(30));
            both(redis, ember, &[s("SET"), format!("w_{e}"), w], n);
        }
        let word = format!("{:03}-{}", (i * 37) % 101, r.below(10));
        both(redis, ember, &[s("SET"), format!("a_{e}"), word.clone()], n);
        both(
            redis,
            ember,
            &[
                s("HSET"),
                format!("h_{e}"),
                s("name"),
                format!("obj{e}"),
                s("rank"),
                word,
            ],
            n,
        );
    }
    for _ in 0..150 {
        let key = s(r.pick(&["l", "l", "st", "z"]));
        let mut c = vec![
            s(if r.chance(20) { "SORT_RO" } else { "SORT" }),
            key.clone(),
        ];
        // ALPHA only by unique words or by the elements themselves: equal
        // weights under ALPHA would leave the order to Redis's quicksort
        let mut by_words = false;
        let mut by = true;
        match r.below(6) {
            0 => c.extend([s("BY"), s("w_*")]),
            1 => {
                c.extend([s("BY"), s("a_*")]);
                by_words = true;
            }
            2 => {
                c.extend([s("BY"), s("h_*->rank")]);
                by_words = true;
            }
            3 if key != "st" => c.extend([s("BY"), s("nosort")]),
            _ => by = false,
        }
        if by_words || (!by && r.chance(30)) {
            c.push(s("ALPHA"));
        }
        if r.chance(40) {
            c.push(s("DESC"));
        }
        if r.chance(50) {
            c.push(s("LIMIT"));
            c.push(format!("{}", r.below(50) as i64 - 5));
            c.push(format!("{}", r.below(20) as i64 - 2));
        }
        for _ in 0..r.below(3) {
            c.push(s("GET"));
            c.push(s(r.pick(&["#", "h_*->name", "a_*", "w_*", "nokey_*"])));
        }
        if c[0] == "SORT" && r.chance(30) {
            c.extend([s("STORE"), s("dst")]);
            both(redis, ember, &c, n);
            both(redis, ember, &[s("LRANGE"), s("dst"), s("0"), s("-1")], n);
            both(redis, ember, &[s("EXISTS"), s("dst")], n);
        } else {
            both(redis, ember, &c, n);
        }
    }
}

#[test]
fn random_geo_and_sort_match_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let mut redis = srv.conn();
    let mut n = 0;
    for seed in 1..=4u64 {
        let db = emberkv::Db::in_memory();
        let mut ember = db.client();
        let mut r = Rng::new(seed);
        both(&mut redis, &mut ember, &[s("FLUSHALL")], &mut n);
        geo_round(&mut r, &mut redis, &mut ember, &mut n);
        sort_round(&mut r, &mut redis, &mut ember, &mut n);
    }
    eprintln!("{n} commands compared");
}

/// Sends each line (split as case lines are) to both and compares the
/// replies.
fn same_replies(srv: &RedisServer, lines: &[&str]) {
    let mut redis = srv.conn();
    let db = emberkv::Db::in_memory();
    let mut ember = db.client();
    for line in lines {
        let a = split_args(line);
        let (want, got) = (redis.ask(&a), ember.ask(&a));
        assert_eq!(escape(&got), escape(&want), "{line}");
    }
}

/// The storing forms, with results and without (the destination deleted),
/// and what they notify; the same script runs on both servers.
const NOTIFYING: &[&str] = &[
    "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "GEOADD g 13.361389 38.115556 Palermo",
    "GEOADD g XX 1 1 nosuch",
    "GEOSEARCHSTORE d1 g FROMLONLAT 15 37 BYRADIUS 200 km",
    "GEOSEARCHSTORE d1 g FROMLONLAT 0 0 BYRADIUS 1 km",
    "GEOSEARCHSTORE d1 g FROMLONLAT 0 0 BYRADIUS 1 km",
    "GEORADIUS g 15 37 200 km STORE d2",
    "GEORADIUSBYMEMBER g Palermo 1 km STOREDIST d2",
    "GEORADIUS nosuch 15 37 200 km STORE d2",
    "GEOSEARCHSTORE d3 nosuch FROMLONLAT 0 0 BYRADIUS 1 km",
    "RPUSH l 3 1 2",
    "SORT l STORE d4",
    "SORT l LIMIT 0 0 STORE d4",
    "SORT nosuch STORE d4",
    "SORT l BY nosort STORE d5",
    "SORT l BY w_* GET # GET o_* STORE d5",
    "DEL d5",
];

#[test]
fn keyspace_notifications_match_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let cfg = split_args("CONFIG SET notify-keyspace-events KEA");
    let mut ctl = srv.conn();
    ctl.command(&cfg);
    let mut sub = srv.conn();
    sub.command(&split_args("PSUBSCRIBE __key*__:*"));
    sub.command(&split_args("SUBSCRIBE done"));
    for line in NOTIFYING {
        ctl.command(&split_args(line));
    }
    ctl.command(&split_args("PUBLISH done 1"));
    let expected = sub.read_until_done();
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    c.execute(&cfg);
    let s = db.subscribe();
    s.psubscribe(&["__key*__:*"]);
    s.recv().unwrap();
    for line in NOTIFYING {
        c.execute(&split_args(line));
    }
    let mut got = Vec::new();
    while let Some(m) = s.recv_timeout(Duration::from_millis(200)).unwrap() {
        got.push(escape(&m.to_reply().to_resp2()));
    }
    assert!(expected.len() > 20, "{expected:#?}");
    assert_eq!(got, expected);
}

/// Which storing commands make a WATCHed key fail EXEC: for each case, a
/// fresh set-up, the key prepared, WATCHed, the command run by another
/// client, then EXEC; both servers' answers compared.
#[test]
fn watch_on_destinations_matches_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let cases: &[(&str, &str)] = &[
        ("SET dst x", "SORT l STORE dst"),
        ("SET dst x", "SORT nosuch STORE dst"),
        ("DEL dst", "SORT nosuch STORE dst"),
        ("SET dst x", "SORT l"),
        (
            "SET dst x",
            "GEOSEARCHSTORE dst g FROMLONLAT 15 37 BYRADIUS 200 km",
        ),
        (
            "SET dst x",
            "GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYRADIUS 1 km",
        ),
        (
            "DEL dst",
            "GEOSEARCHSTORE dst g FROMLONLAT 0 0 BYRADIUS 1 km",
        ),
        ("SET dst x", "GEORADIUS g 15 37 200 km STORE dst"),
        ("SET dst x", "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km"),
        ("DEL dst", "GEOADD dst 1 1 a"),
        ("DEL dst", "GEOADD dst XX 1 1 a"),
    ];
    let setup = [
        "FLUSHALL",
        "RPUSH l 3 1 2",
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    ];
    let mut redis = (srv.conn(), srv.conn());
    let db = emberkv::Db::in_memory();
    let mut ember = (db.client(), db.client());
    for (prep, cmd) in cases {
        let run = |w: &mut dyn Answer, o: &mut dyn Answer| {
            for line in setup.iter().chain([prep]) {
                o.ask(&split_args(line));
            }
            w.ask(&split_args("WATCH dst"));
            o.ask(&split_args(cmd));
            w.ask(&split_args("MULTI"));
            w.ask(&split_args("PING"));
            w.ask(&split_args("EXEC"))
        };
        let want = run(&mut redis.0, &mut redis.1);
        let got = run(&mut ember.0, &mut ember.1);
        assert_eq!(escape(&got), escape(&want), "{prep} then {cmd}");
    }
}

/// Inside a script a set sorted BY a constant comes back sorted by bytes
/// (the script's effects must not depend on the set's layout), SORT_RO
/// refuses STORE, and GEO replies convert to Lua as Redis's do.
#[test]
fn sort_and_geo_in_scripts_match_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    same_replies(
        &srv,
        &[
            "FLUSHALL",
            "SADD s z b y a c x 10 9",
            "MSET o_a A o_b B o_z Z",
            "EVAL \"return redis.call('sort', KEYS[1], 'by', 'nosort')\" 1 s",
            "EVAL \"return redis.call('sort', KEYS[1], 'by', 'nosort', 'get', 'o_*', 'desc')\" 1 s",
            "EVAL \"return redis.call('sort_ro', KEYS[1], 'by', 'nosort', 'limit', '1', '3')\" 1 s",
            "EVAL \"return redis.call('sort_ro', KEYS[1], 'store', 'x')\" 1 s",
            "EVAL \"return redis.call('geoadd', KEYS[1], '1', '2', 'm')\" 1 g",
            "EVAL \"return redis.call('geopos', KEYS[1], 'm', 'nosuch')\" 1 g",
            "EVAL \"return redis.call('geosearch', KEYS[1], 'frommember', 'm', 'byradius', '1', 'km', 'withdist', 'withcoord', 'withhash')\" 1 g",
        ],
    );
}

/// RESP3: coordinates are doubles of the same value as the text Redis
/// sends in RESP2 (RESP3's `,` carries `%.17g` here, Redis's `%.17Lf`).
#[test]
fn resp3_coordinates_are_redis_values() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let add = split_args("GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania");
    let pos = split_args("GEOPOS g Palermo Catania nosuch");
    let mut redis = srv.conn();
    redis.command(&split_args("FLUSHALL"));
    redis.command(&add);
    let text = String::from_utf8(redis.command(&pos)).unwrap();
    let want: Vec<f64> = text
        .split("\r\n")
        .filter(|l| l.contains('.'))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(want.len(), 4, "{text}");
    let db = emberkv::Db::in_memory();
    let mut c = db.client();
    c.execute(&split_args("HELLO 3"));
    c.execute(&add);
    let got = c.execute(&pos);
    let emberkv::Reply::Array(items) = got else {
        panic!("{got:?}")
    };
    let mut values = Vec::new();
    for item in &items[..2] {
        let emberkv::Reply::Array(xy) = item else {
            panic!("{item:?}")
        };
        for v in xy {
            let emberkv::Reply::Double(d) = v else {
                panic!("{v:?}")
            };
            values.push(*d);
        }
    }
    assert_eq!(values, want);
    assert_eq!(items[2], emberkv::Reply::NilArray);
}
