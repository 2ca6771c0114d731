//! Model-based test of sets and sorted sets: seeded random command sequences
//! run against emberkv and against a plain model (`BTreeSet` per set,
//! `BTreeMap` member → score per sorted set), comparing every reply and,
//! periodically, the whole contents.
//!
//! Small conversion thresholds make sets and sorted sets cross between
//! their encodings while the test runs; sizes go up to a few hundred members.

use std::collections::{BTreeMap, BTreeSet};

use emberkv::{Db, Reply};

/// xorshift64*, seeded: the same sequence on every run.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

type Member = Vec<u8>;

#[derive(Default)]
struct Model {
    sets: BTreeMap<String, BTreeSet<Member>>,
    zsets: BTreeMap<String, BTreeMap<Member, f64>>,
}

fn member(rng: &mut Rng, pool: usize) -> Member {
    match rng.below(10) {
        0 => rng.below(pool).to_string().into_bytes(),
        1 => format!("long-{:0>70}", rng.below(pool)).into_bytes(),
        2 => vec![0, 0xff, rng.below(pool) as u8],
        _ => format!("m{}", rng.below(pool)).into_bytes(),
    }
}

fn score(rng: &mut Rng) -> f64 {
    match rng.below(20) {
        0 => f64::INFINITY,
        1 => f64::NEG_INFINITY,
        _ => (rng.below(41) as f64 - 20.0) / 2.0,
    }
}

fn fmt_score(s: f64) -> String {
    if s == f64::INFINITY {
        "+inf".into()
    } else if s == f64::NEG_INFINITY {
        "-inf".into()
    } else {
        format!("{s}")
    }
}

/// (member, score) in sorted-set order.
fn ordered(z: &BTreeMap<Member, f64>) -> Vec<(Member, f64)> {
    let mut v: Vec<(Member, f64)> = z.iter().map(|(m, s)| (m.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then_with(|| a.0.cmp(&b.0)));
    v
}

fn bulk_set(r: &Reply) -> BTreeSet<Member> {
    match r {
        Reply::Array(v) | Reply::Set(v) => v
            .iter()
            .map(|x| x.as_bytes().expect("bulk").to_vec())
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}

fn array_len(r: &Reply) -> usize {
    match r {
        Reply::Array(v) | Reply::Set(v) => v.len(),
        other => panic!("not an array: {other:?}"),
    }
}

fn flat_pairs(v: &[(Member, f64)]) -> Reply {
    let mut out = Vec::new();
    for (m, s) in v {
        out.push(Reply::bulk(m));
        out.push(Reply::Double(*s));
    }
    Reply::Array(out)
}

fn bulks(v: impl IntoIterator<Item = Member>) -> Reply {
    Reply::Array(v.into_iter().map(Reply::bulk_vec).collect())
}

struct Runner {
    c: emberkv::Client,
    m: Model,
    rng: Rng,
    step: usize,
}

impl Runner {
    fn exec(&mut self, argv: &[Vec<u8>]) -> Reply {
        self.c.execute(argv)
    }

    fn check(&mut self, argv: Vec<Vec<u8>>, want: Reply) {
        let got = self.exec(&argv);
        let shown: Vec<String> = argv
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(got, want, "step {}: {}", self.step, shown.join(" "));
    }

    fn set_key(&mut self) -> String {
        format!("s{}", self.rng.below(3))
    }

    fn zset_key(&mut self) -> String {
        format!("z{}", self.rng.below(3))
    }

    fn drop_empty(&mut self) {
        self.m.sets.retain(|_, s| !s.is_empty());
        self.m.zsets.retain(|_, z| !z.is_empty());
    }

    fn set_op(&mut self) {
        let k = self.set_key();
        let pool = if self.rng.chance(10) { 400 } else { 30 };
        let kb = k.clone().into_bytes();
        match self.rng.below(12) {
            0..=2 => {
                let big = self.rng.chance(5);
                let n = 1 + self.rng.below(if big { 100 } else { 4 });
                let ms: Vec<Member> = (0..n).map(|_| member(&mut self.rng, pool)).collect();
                let s = self.m.sets.entry(k).or_default();
                let added = ms.iter().filter(|m| s.insert((*m).clone())).count();
                let mut argv = vec![b"SADD".to_vec(), kb];
                argv.extend(ms);
                self.check(argv, Reply::Int(added as i64));
            }
            3 => {
                let n = 1 + self.rng.below(4);
                let ms: Vec<Member> = (0..n).map(|_| member(&mut self.rng, pool)).collect();
                let s = self.m.sets.entry(k).or_default();
                let removed = ms.iter().filter(|m| s.remove(*m)).count();
                let mut argv = vec![b"SREM".to_vec(), kb];
                argv.extend(ms);
                self.check(argv, Reply::Int(removed as i64));
            }
            4 => {
                let m = member(&mut self.rng, pool);
                let has = self.m.sets.get(&k).is_some_and(|s| s.contains(&m));
                self.check(vec![b"SISMEMBER".to_vec(), kb, m], Reply::Int(has as i64));
            }
            5 => {
                let want = self.m.sets.get(&k).map_or(0, |s| s.len());
                self.check(vec![b"SCARD".to_vec(), kb], Reply::Int(want as i64));
            }
            6 => {
                let count = self.rng.below(4);
                let got = self.exec(&[b"SPOP".to_vec(), kb, count.to_string().into_bytes()]);
                let popped = bulk_set(&got);
                let s = self.m.sets.entry(k).or_default();
                assert_eq!(popped.len(), count.min(s.len()), "step {}", self.step);
                for p in &popped {
                    assert!(s.remove(p), "step {}: SPOP gave a non-member", self.step);
                }
            }
            7 => {
                let count = self.rng.below(6) as i64 - 2;
                let got = self.exec(&[b"SRANDMEMBER".to_vec(), kb, count.to_string().into_bytes()]);
                let s = self.m.sets.get(&k).cloned().unwrap_or_default();
                let want_len = if count < 0 {
                    if s.is_empty() { 0 } else { (-count) as usize }
                } else {
                    (count as usize).min(s.len())
                };
                assert_eq!(array_len(&got), want_len, "step {}", self.step);
                assert!(bulk_set(&got).is_subset(&s), "step {}", self.step);
            }
            8 => {
                let dst = self.set_key();
                let m = member(&mut self.rng, pool);
                let moved = self.m.sets.get(&k).is_some_and(|s| s.contains(&m));
                if moved && dst != k {
                    self.m.sets.get_mut(&k).unwrap().remove(&m);
                    self.m
                        .sets
                        .entry(dst.clone())
                        .or_default()
                        .insert(m.clone());
                }
                self.check(
                    vec![b"SMOVE".to_vec(), kb, dst.into_bytes(), m],
                    Reply::Int(moved as i64),
                );
            }
            9 | 10 => {
                let (a, b) = (self.set_key(), self.set_key());
                let sa = self.m.sets.get(&a).cloned().unwrap_or_default();
                let sb = self.m.sets.get(&b).cloned().unwrap_or_default();
                let (name, res): (&str, BTreeSet<Member>) = match self.rng.below(3) {
                    0 => ("SINTER", sa.intersection(&sb).cloned().collect()),
                    1 => ("SUNION", sa.union(&sb).cloned().collect()),
                    _ => ("SDIFF", sa.difference(&sb).cloned().collect()),
                };
                if self.rng.chance(50) {
                    let got =
                        self.exec(&[name.as_bytes().to_vec(), a.into_bytes(), b.into_bytes()]);
                    assert_eq!(bulk_set(&got), res, "step {}: {name}", self.step);
                } else {
                    let dst = self.set_key();
                    let store = format!("{name}STORE");
                    self.check(
                        vec![
                            store.into_bytes(),
                            dst.clone().into_bytes(),
                            a.into_bytes(),
                            b.into_bytes(),
                        ],
                        Reply::Int(res.len() as i64),
                    );
                    self.m.sets.insert(dst, res);
                }
            }
            _ => {
                let (a, b) = (self.set_key(), self.set_key());
                let sa = self.m.sets.get(&a).cloned().unwrap_or_default();
                let sb = self.m.sets.get(&b).cloned().unwrap_or_default();
                let n = sa.intersection(&sb).count();
                let limit = self.rng.below(4);
                let want = if limit == 0 { n } else { n.min(limit) };
                self.check(
                    vec![
                        b"SINTERCARD".to_vec(),
                        b"2".to_vec(),
                        a.into_bytes(),
                        b.into_bytes(),
                        b"LIMIT".to_vec(),
                        limit.to_string().into_bytes(),
                    ],
                    Reply::Int(want as i64),
                );
            }
        }
        self.drop_empty();
    }

    fn zset_op(&mut self) {
        let k = self.zset_key();
        let kb = k.clone().into_bytes();
        let pool = if self.rng.chance(10) { 400 } else { 30 };
        match self.rng.below(19) {
            0..=3 | 16..=18 => {
                let (nx, xx, ch) = (
                    self.rng.chance(15),
                    self.rng.chance(15),
                    self.rng.chance(30),
                );
                let (gt, lt) = if nx {
                    (false, false)
                } else {
                    (self.rng.chance(15), self.rng.chance(15))
                };
                if (nx && xx) || (gt && lt) {
                    return;
                }
                let big = self.rng.chance(5);
                let n = 1 + self.rng.below(if big { 80 } else { 4 });
                let pairs: Vec<(f64, Member)> = (0..n)
                    .map(|_| (score(&mut self.rng), member(&mut self.rng, pool)))
                    .collect();
                let mut argv = vec![b"ZADD".to_vec(), kb];
                for (flag, on) in [("NX", nx), ("XX", xx), ("GT", gt), ("LT", lt), ("CH", ch)] {
                    if on {
                        argv.push(flag.into());
                    }
                }
                let z = self.m.zsets.entry(k).or_default();
                let (mut added, mut changed) = (0, 0);
                for (s, m) in &pairs {
                    argv.push(fmt_score(*s).into_bytes());
                    argv.push(m.clone());
                    match z.get(m).copied() {
                        None if !xx => {
                            z.insert(m.clone(), *s);
                            added += 1;
                        }
                        Some(cur)
                            if !(nx || *s == cur || (gt && *s <= cur) || (lt && *s >= cur)) =>
                        {
                            z.insert(m.clone(), *s);
                            changed += 1;
                        }
                        _ => {}
                    }
                }
                self.check(argv, Reply::Int(if ch { added + changed } else { added }));
            }
            4 => {
                let (inc, m) = (score(&mut self.rng), member(&mut self.rng, pool));
                let z = self.m.zsets.entry(k).or_default();
                let new = z.get(&m).copied().unwrap_or(0.0) + inc;
                let argv = vec![
                    b"ZINCRBY".to_vec(),
                    kb,
                    fmt_score(inc).into_bytes(),
                    m.clone(),
                ];
                if new.is_nan() {
                    self.check(
                        argv,
                        Reply::Error("ERR resulting score is not a number (NaN)".into()),
                    );
                } else {
                    z.insert(m, new);
                    self.check(argv, Reply::Double(new));
                }
            }
            5 => {
                let ms: Vec<Member> = (0..1 + self.rng.below(3))
                    .map(|_| member(&mut self.rng, pool))
                    .collect();
                let z = self.m.zsets.entry(k).or_default();
                let n = ms.iter().filter(|m| z.remove(*m).is_some()).count();
                let mut argv = vec![b"ZREM".to_vec(), kb];
                argv.extend(ms);
                self.check(argv, Reply::Int(n as i64));
            }
            6 => {
                let m = member(&mut self.rng, pool);
                let want = self
                    .m
                    .zsets
                    .get(&k)
                    .and_then(|z| z.get(&m))
                    .map_or(Reply::Nil, |s| Reply::Double(*s));
                self.check(vec![b"ZSCORE".to_vec(), kb, m], want);
            }
            7 => {
                let m = member(&mut self.rng, pool);
                let rev = self.rng.chance(50);
                let o = self.m.zsets.get(&k).map(ordered).unwrap_or_default();
                let want = match o.iter().position(|(x, _)| *x == m) {
                    Some(r) => Reply::Int(if rev { o.len() - 1 - r } else { r } as i64),
                    None => Reply::Nil,
                };
                self.check(
                    vec![
                        if rev {
                            b"ZREVRANK".to_vec()
                        } else {
                            b"ZRANK".to_vec()
                        },
                        kb,
                        m,
                    ],
                    want,
                );
            }
            8 => {
                let o = self.m.zsets.get(&k).map(ordered).unwrap_or_default();
                let (start, stop) = (
                    self.rng.below(30) as i64 - 15,
                    self.rng.below(30) as i64 - 15,
                );
                let n = o.len() as i64;
                let norm = |i: i64| if i < 0 { n + i } else { i };
                let (s, e) = (norm(start).max(0), norm(stop).min(n - 1));
                let sel: Vec<(Member, f64)> = if s > e || s >= n {
                    Vec::new()
                } else {
                    o[s as usize..=e as usize].to_vec()
                };
                let rev = self.rng.chance(30);
                let sel = if rev {
                    // ranks counted from the top
                    let mut r: Vec<(Member, f64)> = o.iter().rev().cloned().collect::<Vec<_>>();
                    r = if s > e || s >= n {
                        Vec::new()
                    } else {
                        r[s as usize..=e as usize].to_vec()
                    };
                    r
                } else {
                    sel
                };
                let mut argv = vec![
                    b"ZRANGE".to_vec(),
                    kb,
                    start.to_string().into_bytes(),
                    stop.to_string().into_bytes(),
                ];
                if rev {
                    argv.push(b"REV".to_vec());
                }
                argv.push(b"WITHSCORES".to_vec());
                self.check(argv, flat_pairs(&sel));
            }
            9 => {
                let o = self.m.zsets.get(&k).map(ordered).unwrap_or_default();
                let (a, b) = (score(&mut self.rng), score(&mut self.rng));
                let (minex, maxex) = (self.rng.chance(30), self.rng.chance(30));
                let inr = |s: f64| {
                    (if minex { s > a } else { s >= a }) && (if maxex { s < b } else { s <= b })
                };
                let sel: Vec<(Member, f64)> = o.into_iter().filter(|(_, s)| inr(*s)).collect();
                let bound = |ex: bool, v: f64| {
                    format!("{}{}", if ex { "(" } else { "" }, fmt_score(v)).into_bytes()
                };
                let offset = self.rng.below(4);
                let count = self.rng.below(5) as i64 - 1;
                let rev = self.rng.chance(40);
                let mut want: Vec<(Member, f64)> = if rev {
                    sel.into_iter().rev().collect()
                } else {
                    sel
                };
                want = want.into_iter().skip(offset).collect();
                if count >= 0 {
                    want.truncate(count as usize);
                }
                if self.rng.chance(50) {
                    let (lo, hi) = (bound(minex, a), bound(maxex, b));
                    let (x, y) = if rev { (hi, lo) } else { (lo, hi) };
                    let name = if rev {
                        b"ZREVRANGEBYSCORE".to_vec()
                    } else {
                        b"ZRANGEBYSCORE".to_vec()
                    };
                    self.check(
                        vec![
                            name,
                            kb,
                            x,
                            y,
                            b"WITHSCORES".to_vec(),
                            b"LIMIT".to_vec(),
                            offset.to_string().into_bytes(),
                            count.to_string().into_bytes(),
                        ],
                        flat_pairs(&want),
                    );
                } else {
                    let n = want.len();
                    let dst = self.zset_key();
                    let mut argv = vec![b"ZRANGESTORE".to_vec(), dst.clone().into_bytes(), kb];
                    let (lo, hi) = (bound(minex, a), bound(maxex, b));
                    if rev {
                        argv.extend([hi, lo, b"BYSCORE".to_vec(), b"REV".to_vec()]);
                    } else {
                        argv.extend([lo, hi, b"BYSCORE".to_vec()]);
                    }
                    argv.extend([
                        b"LIMIT".to_vec(),
                        offset.to_string().into_bytes(),
                        count.to_string().into_bytes(),
                    ]);
                    self.check(argv, Reply::Int(n as i64));
                    self.m.zsets.insert(dst, want.into_iter().collect());
                }
            }
            10 => {
                let o = self.m.zsets.get(&k).map(ordered).unwrap_or_default();
                let (a, b) = (score(&mut self.rng), score(&mut self.rng));
                let n = o.iter().filter(|(_, s)| *s >= a && *s <= b).count();
                self.check(
                    vec![
                        b"ZCOUNT".to_vec(),
                        kb,
                        fmt_score(a).into_bytes(),
                        fmt_score(b).into_bytes(),
                    ],
                    Reply::Int(n as i64),
                );
            }
            11 => {
                let o = self.m.zsets.get(&k).map(ordered).unwrap_or_default();
                let (start, stop) = (self.rng.below(10) as i64 - 5, self.rng.below(10) as i64 - 5);
                let n = o.len() as i64;
                let norm = |i: i64| if i < 0 { n + i } else { i };
                let (s, e) = (norm(start).max(0), norm(stop).min(n - 1));
                let gone: Vec<Member> = if s > e || s >= n {
                    Vec::new()
                } else {
                    o[s as usize..=e as usize]
                        .iter()
                        .map(|x| x.0.clone())
                        .collect()
                };
                let z = self.m.zsets.entry(k).or_default();
                for g in &gone {
                    z.remove(g);
                }
                self.check(
                    vec![
                        b"ZREMRANGEBYRANK".to_vec(),
                        kb,
                        start.to_string().into_bytes(),
                        stop.to_string().into_bytes(),
                    ],
                    Reply::Int(gone.len() as i64),
                );
            }
            12 => {
                let max = self.rng.chance(50);
                let count = self.rng.below(4);
                let o = self.m.zsets.get(&k).map(ordered).unwrap_or_default();
                let taken: Vec<(Member, f64)> = if max {
                    o.iter().rev().take(count).cloned().collect()
                } else {
                    o.iter().take(count).cloned().collect()
                };
                let z = self.m.zsets.entry(k).or_default();
                for (m, _) in &taken {
                    z.remove(m);
                }
                let name = if max {
                    b"ZPOPMAX".to_vec()
                } else {
                    b"ZPOPMIN".to_vec()
                };
                self.check(
                    vec![name, kb, count.to_string().into_bytes()],
                    flat_pairs(&taken),
                );
            }
            13 => {
                let (a, b) = (self.zset_key(), self.zset_key());
                let za = self.m.zsets.get(&a).cloned().unwrap_or_default();
                let zb = self.m.zsets.get(&b).cloned().unwrap_or_default();
                let (name, res): (&str, BTreeMap<Member, f64>) = match self.rng.below(3) {
                    0 => {
                        let mut u = za.clone();
                        for (m, s) in &zb {
                            let e = u.entry(m.clone()).or_insert(0.0);
                            *e = if za.contains_key(m) { *e + s } else { *s };
                            if e.is_nan() {
                                *e = 0.0;
                            }
                        }
                        ("ZUNION", u)
                    }
                    1 => {
                        let mut i = BTreeMap::new();
                        for (m, s) in &za {
                            if let Some(t) = zb.get(m) {
                                let v = if a == b { s + s } else { s + t };
                                i.insert(m.clone(), if v.is_nan() { 0.0 } else { v });
                            }
                        }
                        ("ZINTER", i)
                    }
                    _ => (
                        "ZDIFF",
                        if a == b {
                            BTreeMap::new()
                        } else {
                            za.iter()
                                .filter(|(m, _)| !zb.contains_key(*m))
                                .map(|(m, s)| (m.clone(), *s))
                                .collect()
                        },
                    ),
                };
                if self.rng.chance(50) {
                    self.check(
                        vec![
                            name.into(),
                            b"2".to_vec(),
                            a.into_bytes(),
                            b.into_bytes(),
                            b"WITHSCORES".to_vec(),
                        ],
                        flat_pairs(&ordered(&res)),
                    );
                } else {
                    let dst = self.zset_key();
                    self.check(
                        vec![
                            format!("{name}STORE").into_bytes(),
                            dst.clone().into_bytes(),
                            b"2".to_vec(),
                            a.into_bytes(),
                            b.into_bytes(),
                        ],
                        Reply::Int(res.len() as i64),
                    );
                    self.m.zsets.insert(dst, res);
                }
            }
            14 => {
                // same-score members: lex ranges
                let lk = "lex".to_string();
                if self.rng.chance(60) {
                    let m = member(&mut self.rng, pool);
                    let z = self.m.zsets.entry(lk.clone()).or_default();
                    let added = z.insert(m.clone(), 0.0).is_none();
                    self.check(
                        vec![b"ZADD".to_vec(), lk.into_bytes(), b"0".to_vec(), m],
                        Reply::Int(added as i64),
                    );
                } else {
                    let o = self.m.zsets.get(&lk).map(ordered).unwrap_or_default();
                    let (x, y) = (member(&mut self.rng, pool), member(&mut self.rng, pool));
                    let (xe, ye) = (self.rng.chance(50), self.rng.chance(50));
                    let sel: Vec<Member> = o
                        .into_iter()
                        .map(|p| p.0)
                        .filter(|m| {
                            (if xe { *m > x } else { *m >= x })
                                && (if ye { *m < y } else { *m <= y })
                        })
                        .collect();
                    let b = |ex: bool, v: &Member| {
                        let mut s = vec![if ex { b'(' } else { b'[' }];
                        s.extend_from_slice(v);
                        s
                    };
                    self.check(
                        vec![
                            b"ZRANGEBYLEX".to_vec(),
                            lk.clone().into_bytes(),
                            b(xe, &x),
                            b(ye, &y),
                        ],
                        bulks(sel.clone()),
                    );
                    self.check(
                        vec![b"ZLEXCOUNT".to_vec(), lk.into_bytes(), b(xe, &x), b(ye, &y)],
                        Reply::Int(sel.len() as i64),
                    );
                }
            }
            _ => {
                let want = self.m.zsets.get(&k).map_or(0, |z| z.len());
                self.check(vec![b"ZCARD".to_vec(), kb], Reply::Int(want as i64));
            }
        }
        self.drop_empty();
    }

    /// A sorted set that grows to thousands of members (a B+tree of several
    /// levels): batches of adds and removals, rank and range checks.
    fn big_zset_op(&mut self) {
        let k = "zbig".to_string();
        let op = self.rng.below(5);
        let o = if op >= 2 {
            self.m.zsets.get(&k).map(ordered).unwrap_or_default()
        } else {
            Vec::new()
        };
        match op {
            0 | 1 => {
                let mut argv = vec![b"ZADD".to_vec(), k.clone().into_bytes()];
                let z = self.m.zsets.entry(k).or_default();
                let mut added = 0;
                for _ in 0..120 {
                    let m = format!("b{}", self.rng.below(6000)).into_bytes();
                    let s = self.rng.below(1000) as f64;
                    argv.push(s.to_string().into_bytes());
                    argv.push(m.clone());
                    added += z.insert(m, s).is_none() as i64;
                }
                self.check(argv, Reply::Int(added));
            }
            2 => {
                let mut argv = vec![b"ZREM".to_vec(), k.clone().into_bytes()];
                let mut gone = 0;
                let z = self.m.zsets.entry(k).or_default();
                for _ in 0..30 {
                    let m = if !o.is_empty() && self.rng.chance(80) {
                        o[self.rng.below(o.len())].0.clone()
                    } else {
                        b"none".to_vec()
                    };
                    gone += z.remove(&m).is_some() as i64;
                    argv.push(m);
                }
                self.check(argv, Reply::Int(gone));
            }
            3 if !o.is_empty() => {
                for _ in 0..10 {
                    let r = self.rng.below(o.len());
                    self.check(
                        vec![b"ZRANK".to_vec(), k.clone().into_bytes(), o[r].0.clone()],
                        Reply::Int(r as i64),
                    );
                }
            }
            _ if !o.is_empty() => {
                let start = self.rng.below(o.len());
                let stop = start + self.rng.below(100);
                let want = o[start..=stop.min(o.len() - 1)].to_vec();
                self.check(
                    vec![
                        b"ZRANGE".to_vec(),
                        k.into_bytes(),
                        start.to_string().into_bytes(),
                        stop.to_string().into_bytes(),
                        b"WITHSCORES".to_vec(),
                    ],
                    flat_pairs(&want),
                );
            }
            _ => {}
        }
        self.drop_empty();
    }

    /// Compares every key's whole contents, including a full SSCAN/ZSCAN.
    fn check_all(&mut self) {
        let sets = self.m.sets.clone();
        for (k, s) in &sets {
            let got = self.exec(&[b"SMEMBERS".to_vec(), k.clone().into_bytes()]);
            assert_eq!(bulk_set(&got), *s, "step {}: SMEMBERS {k}", self.step);
            let mut seen = BTreeSet::new();
            let mut cursor = b"0".to_vec();
            loop {
                let r = self.exec(&[
                    b"SSCAN".to_vec(),
                    k.clone().into_bytes(),
                    cursor,
                    b"COUNT".to_vec(),
                    b"7".to_vec(),
                ]);
                let Reply::Array(parts) = r else {
                    panic!("SSCAN reply")
                };
                seen.extend(bulk_set(&parts[1]));
                cursor = parts[0].as_bytes().unwrap().to_vec();
                if cursor == b"0" {
                    break;
                }
            }
            assert_eq!(seen, *s, "step {}: SSCAN {k}", self.step);
        }
        let zsets = self.m.zsets.clone();
        for (k, z) in &zsets {
            self.check(
                vec![
                    b"ZRANGE".to_vec(),
                    k.clone().into_bytes(),
                    b"0".to_vec(),
                    b"-1".to_vec(),
                    b"WITHSCORES".to_vec(),
                ],
                flat_pairs(&ordered(z)),
            );
            let mut seen = BTreeMap::new();
            let mut cursor = b"0".to_vec();
            loop {
                let count = if z.len() > 500 {
                    b"300".to_vec()
                } else {
                    b"5".to_vec()
                };
                let r = self.exec(&[
                    b"ZSCAN".to_vec(),
                    k.clone().into_bytes(),
                    cursor,
                    b"COUNT".to_vec(),
                    count,
                ]);
                let Reply::Array(parts) = r else {
                    panic!("ZSCAN reply")
                };
                let Reply::Array(items) = &parts[1] else {
                    panic!("ZSCAN items")
                };
                for p in items.chunks(2) {
                    let s: f64 = std::str::from_utf8(p[1].as_bytes().unwrap())
                        .unwrap()
                        .parse()
                        .unwrap();
                    seen.insert(p[0].as_bytes().unwrap().to_vec(), s);
                }
                cursor = parts[0].as_bytes().unwrap().to_vec();
                if cursor == b"0" {
                    break;
                }
            }
            assert_eq!(seen, *z, "step {}: ZSCAN {k}", self.step);
        }
        // nothing else exists
        let Reply::Array(keys) = self.exec(&[b"KEYS".to_vec(), b"*".to_vec()]) else {
            panic!("KEYS")
        };
        assert_eq!(
            keys.len(),
            sets.len() + zsets.len(),
            "step {}: stray keys",
            self.step
        );
    }
}

#[test]
fn random_sequences_match_the_model() {
    for seed in 1..=3 {
        let db = Db::in_memory();
        let mut c = db.client();
        for (p, v) in [
            ("set-max-intset-entries", "8"),
            ("set-max-listpack-entries", "8"),
            ("zset-max-listpack-entries", "8"),
        ] {
            assert_eq!(c.execute(&["CONFIG", "SET", p, v]), Reply::ok());
        }
        let mut r = Runner {
            c,
            m: Model::default(),
            rng: Rng::new(seed),
            step: 0,
        };
        for step in 0..5000 {
            r.step = step;
            match r.rng.below(100) {
                0..=44 => r.set_op(),
                45..=89 => r.zset_op(),
                _ => r.big_zset_op(),
            }
            if step % 500 == 499 {
                r.check_all();
            }
        }
        r.check_all();
        let most = r.m.zsets.values().map(|z| z.len()).max().unwrap_or(0);
        eprintln!("seed {seed}: largest sorted set at the end: {most}");
    }
}
