//! Differential test: seeded random stream commands (explicit and partial
//! IDs, exact and approximate trims, groups, PELs, claims, errors) go to
//! emberkv and to a real redis-server; the RESP2 replies must be identical.
//! Time-dependent replies (`*` IDs, idle times, XINFO's radix-tree-nodes)
//! are left out. Skipped when redis-server is not installed.

mod common;

use common::{RedisServer, escape};
use emberkv::Db;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const KEYS: &[&str] = &["s0", "s1", "str", "nokey"];
const GROUPS: &[&str] = &["g0", "g1", "nogroup"];
const CONSUMERS: &[&str] = &["a", "b", "c"];

fn id(r: &mut Rng, top: u64) -> String {
    let ms = r.below(top + 3);
    match r.below(8) {
        0 => format!("{ms}"),
        1 => "-".into(),
        2 => "+".into(),
        3 => format!("({ms}-{}", r.below(3)),
        4 => "bad".into(),
        _ => format!("{ms}-{}", r.below(3)),
    }
}

fn command(r: &mut Rng, top: &mut u64) -> Vec<String> {
    let key = r.pick(KEYS).to_string();
    let g = r.pick(GROUPS).to_string();
    let c = r.pick(CONSUMERS).to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match r.below(20) {
        0..=4 => {
            *top += 1 + r.below(2);
            let mut v = s(&["XADD", &key]);
            match r.below(6) {
                0 => v.extend(s(&["MAXLEN", "~", &r.below(150).to_string()])),
                1 => v.extend(s(&["MAXLEN", &r.below(20).to_string()])),
                2 => v.extend(s(&[
                    "MINID",
                    &format!("{}", top.saturating_sub(r.below(30))),
                ])),
                3 => v.extend(s(&[
                    "MINID",
                    "~",
                    &format!("{}", top.saturating_sub(r.below(200))),
                ])),
                _ => {}
            }
            let idarg = match r.below(10) {
                0 => format!("{top}-*"),
                1 => id(r, *top),
                _ => format!("{top}-{}", r.below(3)),
            };
            v.push(idarg);
            v.extend(s(&["f", &r.below(1000).to_string(), "field2", "value"]));
            v
        }
        5 => s(&["XDEL", &key, &id(r, *top), &id(r, *top)]),
        6 => s(&[
            "XRANGE",
            &key,
            &id(r, *top),
            "+",
            "COUNT",
            &r.below(5).to_string(),
        ]),
        7 => s(&[
            "XREVRANGE",
            &key,
            "+",
            &id(r, *top),
            "COUNT",
            &r.below(5).to_string(),
        ]),
        8 => s(&["XLEN", &key]),
        9 => s(&[
            "XTRIM",
            &key,
            "MAXLEN",
            r.pick(&["~", "="]),
            &r.below(120).to_string(),
        ]),
        10 => s(&[
            "XGROUP",
            "CREATE",
            &key,
            &g,
            r.pick(&["0", "$", "3-0"]),
            "MKSTREAM",
        ]),
        11 => s(&["XGROUP", r.pick(&["DESTROY", "SETID"]), &key, &g, "0"])
            .into_iter()
            .take(if r.below(2) == 0 { 4 } else { 5 })
            .collect(),
        12 => s(&[
            "XGROUP",
            r.pick(&["CREATECONSUMER", "DELCONSUMER"]),
            &key,
            &g,
            &c,
        ]),
        13 | 14 => {
            let from = if r.below(3) == 0 {
                "0".to_string()
            } else {
                ">".to_string()
            };
            let mut v = s(&[
                "XREADGROUP",
                "GROUP",
                &g,
                &c,
                "COUNT",
                &r.below(4).to_string(),
            ]);
            if r.below(5) == 0 {
                v.push("NOACK".into());
            }
            v.extend(s(&["STREAMS", &key, &from]));
            v
        }
        15 => s(&["XACK", &key, &g, &id(r, *top), &id(r, *top)]),
        16 => s(&["XPENDING", &key, &g]),
        17 => s(&[
            "XCLAIM",
            &key,
            &g,
            &c,
            "0",
            &id(r, *top),
            &id(r, *top),
            "JUSTID",
        ]),
        18 => s(&["XAUTOCLAIM", &key, &g, &c, "0", &id(r, *top), "COUNT", "3"]),
        _ => match r.below(3) {
            0 => s(&["XINFO", "GROUPS", &key]),
            1 => s(&["XREAD", "COUNT", "3", "STREAMS", &key, &id(r, *top)]),
            _ => s(&["XSETID", &key, &format!("{}-9", *top + r.below(3))]),
        },
    }
}

#[test]
fn streams_match_redis() {
    let Some(srv) = RedisServer::start() else {
        return;
    };
    let engine = Db::in_memory();
    let mut mine = engine.client();
    let mut theirs = srv.conn();
    let seed = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5742_2024u64);
    let mut r = Rng(seed);
    let mut log: Vec<String> = Vec::new();
    for round in 0..6 {
        let mut top = 0u64;
        for argv in [
            vec!["FLUSHALL".to_string()],
            vec!["SET".into(), "str".into(), "x".into()],
        ] {
            let a: Vec<Vec<u8>> = argv.iter().map(|x| x.clone().into_bytes()).collect();
            theirs.command(&a);
            mine.execute(&a);
        }
        for _ in 0..600 {
            let argv = command(&mut r, &mut top);
            log.push(argv.join(" "));
            let a: Vec<Vec<u8>> = argv.iter().map(|x| x.clone().into_bytes()).collect();
            let want = theirs.command(&a);
            let got = mine.execute(&a).to_resp2();
            if want != got {
                let tail = log[log.len().saturating_sub(30)..].join("\n");
                panic!(
                    "round {round} (seed {seed}): {}\n  redis   {}\n  emberkv {}\nlast commands:\n{tail}",
                    argv.join(" "),
                    escape(&want),
                    escape(&got)
                );
            }
        }
    }
}
