//! Model-based test of lists and hashes: seeded random operation sequences
//! run through the engine and through a plain model (VecDeque for lists,
//! an insertion-ordered Vec for hashes), replies and contents compared after
//! every step. Encoding thresholds are changed between rounds so both
//! encodings of each type, and the conversions between them, are exercised.

use std::collections::{BTreeMap, VecDeque};

use emberkv::{Db, Reply};

/// A small deterministic PRNG (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

fn b(s: &[u8]) -> Reply {
    Reply::bulk(s)
}

fn arr(items: impl IntoIterator<Item = Vec<u8>>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::bulk_vec).collect())
}

fn elem(r: &mut Rng) -> Vec<u8> {
    match r.below(20) {
        0 => vec![b'L'; 300 + r.below(200)],
        1 if r.chance(20) => vec![b'H'; 9000],
        2 => r.range(-300, 70000).to_string().into_bytes(),
        3 => Vec::new(),
        _ => vec![b"abcdef"[r.below(6)]; 1 + r.below(3)],
    }
}

/// Redis's index normalisation for LINDEX/LSET.
fn norm(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

fn clamp(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let e = if end < 0 { len + end } else { end };
    if s > e || s >= len {
        return None;
    }
    Some((s as usize, e.min(len - 1) as usize))
}

#[test]
fn lists_match_model() {
    let db = Db::in_memory();
    let mut c = db.client();
    let mut r = Rng(0x5eed_1157);
    let keys: [&[u8]; 3] = [b"la", b"lb", b"lc"];
    let mut model: BTreeMap<&[u8], VecDeque<Vec<u8>>> = BTreeMap::new();
    for round in 0..40 {
        let fill = [-2, -1, -5, 1, 2, 3, 5, 16, 128][round % 9].to_string();
        assert_eq!(
            c.execute(&[
                &b"CONFIG"[..],
                b"SET",
                b"list-max-listpack-size",
                fill.as_bytes()
            ]),
            Reply::ok()
        );
        for step in 0..150 {
            let key = keys[r.below(keys.len())];
            let m = model.entry(key).or_default();
            let len = m.len();
            let (cmd, expected): (Vec<Vec<u8>>, Reply) = match r.below(13) {
                0 | 1 => {
                    let n = 1 + r.below(4);
                    let es: Vec<Vec<u8>> = (0..n).map(|_| elem(&mut r)).collect();
                    let left = r.chance(50);
                    for e in &es {
                        if left {
                            m.push_front(e.clone())
                        } else {
                            m.push_back(e.clone())
                        }
                    }
                    let mut cmd = vec![
                        if left {
                            b"LPUSH".to_vec()
                        } else {
                            b"RPUSH".to_vec()
                        },
                        key.to_vec(),
                    ];
                    cmd.extend(es);
                    (cmd, Reply::Int(m.len() as i64))
                }
                2 => {
                    let left = r.chance(50);
                    let name = if left {
                        b"LPOP".to_vec()
                    } else {
                        b"RPOP".to_vec()
                    };
                    if r.chance(50) {
                        let v = if left { m.pop_front() } else { m.pop_back() };
                        (
                            vec![name, key.to_vec()],
                            v.map_or(Reply::Nil, Reply::bulk_vec),
                        )
                    } else {
                        let n = r.below(6);
                        let exp = if len == 0 {
                            Reply::NilArray
                        } else {
                            arr((0..n.min(len))
                                .map(|_| if left { m.pop_front() } else { m.pop_back() }.unwrap()))
                        };
                        (vec![name, key.to_vec(), n.to_string().into_bytes()], exp)
                    }
                }
                3 => {
                    let i = r.range(-(len as i64) - 2, len as i64 + 1);
                    let exp = norm(i, len).map_or(Reply::Nil, |i| b(&m[i]));
                    (
                        vec![b"LINDEX".to_vec(), key.to_vec(), i.to_string().into_bytes()],
                        exp,
                    )
                }
                4 => {
                    let i = r.range(-(len as i64) - 1, len as i64);
                    let e = elem(&mut r);
                    let exp = if len == 0 {
                        Reply::Error("ERR no such key".into())
                    } else {
                        match norm(i, len) {
                            Some(i) => {
                                m[i] = e.clone();
                                Reply::ok()
                            }
                            None => Reply::Error("ERR index out of range".into()),
                        }
                    };
                    (
                        vec![
                            b"LSET".to_vec(),
                            key.to_vec(),
                            i.to_string().into_bytes(),
                            e,
                        ],
                        exp,
                    )
                }
                5 => {
                    let pivot = if len > 0 && r.chance(80) {
                        m[r.below(len)].clone()
                    } else {
                        elem(&mut r)
                    };
                    let e = elem(&mut r);
                    let after = r.chance(50);
                    let exp = if len == 0 {
                        Reply::Int(0)
                    } else {
                        match m.iter().position(|x| *x == pivot) {
                            Some(p) => {
                                m.insert(if after { p + 1 } else { p }, e.clone());
                                Reply::Int(m.len() as i64)
                            }
                            None => Reply::Int(-1),
                        }
                    };
                    let w = if after {
                        b"AFTER".to_vec()
                    } else {
                        b"BEFORE".to_vec()
                    };
                    (vec![b"LINSERT".to_vec(), key.to_vec(), w, pivot, e], exp)
                }
                6 => {
                    let e = if len > 0 && r.chance(80) {
                        m[r.below(len)].clone()
                    } else {
                        elem(&mut r)
                    };
                    let count = r.range(-3, 3);
                    let mut removed = 0;
                    let limit = count.unsigned_abs() as usize;
                    if count >= 0 {
                        let mut i = 0;
                        while i < m.len() && (limit == 0 || removed < limit) {
                            if m[i] == e {
                                m.remove(i);
                                removed += 1;
                            } else {
                                i += 1;
                            }
                        }
                    } else {
                        let mut i = m.len();
                        while i > 0 && removed < limit {
                            i -= 1;
                            if m[i] == e {
                                m.remove(i);
                                removed += 1;
                            }
                        }
                    }
                    (
                        vec![
                            b"LREM".to_vec(),
                            key.to_vec(),
                            count.to_string().into_bytes(),
                            e,
                        ],
                        Reply::Int(removed as i64),
                    )
                }
                7 if r.chance(30) => {
                    let s = r.range(-(len as i64) - 2, len as i64 + 2);
                    let e = r.range(-(len as i64) - 2, len as i64 + 2);
                    match clamp(s, e, len) {
                        Some((s, e)) => {
                            m.truncate(e + 1);
                            m.drain(..s);
                        }
                        None => m.clear(),
                    }
                    let cmd = vec![
                        b"LTRIM".to_vec(),
                        key.to_vec(),
                        s.to_string().into_bytes(),
                        e.to_string().into_bytes(),
                    ];
                    (cmd, Reply::ok())
                }
                8 => {
                    let s = r.range(-(len as i64) - 2, len as i64 + 2);
                    let e = r.range(-(len as i64) - 2, len as i64 + 2);
                    let exp = match clamp(s, e, len) {
                        Some((s, e)) => arr(m.range(s..=e).cloned()),
                        None => Reply::Array(Vec::new()),
                    };
                    let cmd = vec![
                        b"LRANGE".to_vec(),
                        key.to_vec(),
                        s.to_string().into_bytes(),
                        e.to_string().into_bytes(),
                    ];
                    (cmd, exp)
                }
                9 => {
                    let e = if len > 0 && r.chance(80) {
                        m[r.below(len)].clone()
                    } else {
                        elem(&mut r)
                    };
                    let rank = [1i64, 2, -1, -2][r.below(4)];
                    let hits: Vec<usize> = m
                        .iter()
                        .enumerate()
                        .filter(|(_, x)| **x == e)
                        .map(|(i, _)| i)
                        .collect();
                    let pick = if rank > 0 {
                        hits.get(rank as usize - 1)
                    } else {
                        hits.iter().rev().nth((-rank) as usize - 1)
                    };
                    let cmd = vec![
                        b"LPOS".to_vec(),
                        key.to_vec(),
                        e,
                        b"RANK".to_vec(),
                        rank.to_string().into_bytes(),
                    ];
                    (cmd, pick.map_or(Reply::Nil, |&i| Reply::Int(i as i64)))
                }
                10 => {
                    let dst = keys[r.below(keys.len())];
                    let (from, to) = (r.chance(50), r.chance(50));
                    let v = if from { m.pop_front() } else { m.pop_back() };
                    let exp = match v {
                        Some(v) => {
                            let d = model.entry(dst).or_default();
                            if to {
                                d.push_front(v.clone())
                            } else {
                                d.push_back(v.clone())
                            }
                            b(&v)
                        }
                        None => Reply::Nil,
                    };
                    let side = |l: bool| {
                        if l {
                            b"LEFT".to_vec()
                        } else {
                            b"RIGHT".to_vec()
                        }
                    };
                    (
                        vec![
                            b"LMOVE".to_vec(),
                            key.to_vec(),
                            dst.to_vec(),
                            side(from),
                            side(to),
                        ],
                        exp,
                    )
                }
                11 => {
                    let count = 1 + r.below(4);
                    let left = r.chance(50);
                    let mut exp = Reply::NilArray;
                    for k in keys {
                        let l = model.entry(k).or_default();
                        if !l.is_empty() {
                            let n = count.min(l.len());
                            let items = (0..n)
                                .map(|_| if left { l.pop_front() } else { l.pop_back() }.unwrap());
                            exp = Reply::Array(vec![b(k), arr(items)]);
                            break;
                        }
                    }
                    let mut cmd = vec![b"LMPOP".to_vec(), b"3".to_vec()];
                    cmd.extend(keys.iter().map(|k| k.to_vec()));
                    cmd.push(if left {
                        b"LEFT".to_vec()
                    } else {
                        b"RIGHT".to_vec()
                    });
                    cmd.extend([b"COUNT".to_vec(), count.to_string().into_bytes()]);
                    (cmd, exp)
                }
                _ => (vec![b"LLEN".to_vec(), key.to_vec()], Reply::Int(len as i64)),
            };
            let got = c.execute(&cmd);
            assert_eq!(
                got,
                expected,
                "round {round} step {step}: {:?}",
                cmd.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>()
            );
            let check: Vec<&[u8]> = if step % 10 == 9 {
                keys.to_vec()
            } else {
                vec![key]
            };
            for k in check {
                let m = model.entry(k).or_default();
                let all = c.execute(&[&b"LRANGE"[..], k, b"0", b"-1"]);
                assert_eq!(
                    all,
                    arr(m.iter().cloned()),
                    "round {round} step {step}: contents of {}",
                    String::from_utf8_lossy(k)
                );
                let exists = c.execute(&[&b"EXISTS"[..], k]);
                assert_eq!(
                    exists,
                    Reply::Int(!m.is_empty() as i64),
                    "an empty list must not exist"
                );
                if !m.is_empty() {
                    let enc = c.execute(&[&b"OBJECT"[..], b"ENCODING", k]);
                    assert!(enc == b(b"listpack") || enc == b(b"quicklist"), "{enc:?}");
                }
            }
        }
    }
}

/// The hash model: pairs in insertion order, and whether the engine
/// should have converted to a table by now.
#[derive(Default)]
struct HashModel {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
    table: bool,
}

impl HashModel {
    fn get(&self, f: &[u8]) -> Option<&Vec<u8>> {
        self.pairs.iter().find(|(k, _)| k == f).map(|(_, v)| v)
    }
    fn set(&mut self, f: &[u8], v: &[u8], max_entries: usize, max_value: usize) -> bool {
        if f.len() > max_value || v.len() > max_value {
            self.table = true;
        }
        let new = match self.pairs.iter_mut().find(|(k, _)| k == f) {
            Some(p) => {
                p.1 = v.to_vec();
                false
            }
            None => {
                self.pairs.push((f.to_vec(), v.to_vec()));
                true
            }
        };
        if self.pairs.len() > max_entries {
            self.table = true;
        }
        new
    }
    fn del(&mut self, f: &[u8]) -> bool {
        let before = self.pairs.len();
        self.pairs.retain(|(k, _)| k != f);
        before != self.pairs.len()
    }
}

fn field(r: &mut Rng, spread: usize) -> Vec<u8> {
    match r.below(30) {
        0 => vec![b'F'; 70],
        1 => Vec::new(),
        _ => format!("f{}", r.below(spread)).into_bytes(),
    }
}

fn value(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0 => vec![b'V'; 40 + r.below(60)],
        1 => r.range(-1000, 1000).to_string().into_bytes(),
        _ => format!("v{}", r.below(1000)).into_bytes(),
    }
}

fn sorted_pairs(reply: &Reply) -> Vec<(Vec<u8>, Vec<u8>)> {
    let items: Vec<Vec<u8>> = match reply {
        Reply::Map(p) => p
            .iter()
            .flat_map(|(k, v)| {
                [
                    k.as_bytes().unwrap().to_vec(),
                    v.as_bytes().unwrap().to_vec(),
                ]
            })
            .collect(),
        Reply::Array(a) => a.iter().map(|x| x.as_bytes().unwrap().to_vec()).collect(),
        other => panic!("not pairs: {other:?}"),
    };
    let mut pairs: Vec<_> = items
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn hashes_match_model() {
    let db = Db::in_memory();
    let mut c = db.client();
    let mut r = Rng(0xba5e_ba11);
    let keys: [&[u8]; 3] = [b"ha", b"hb", b"hc"];
    let mut model: BTreeMap<&[u8], HashModel> = BTreeMap::new();
    for round in 0..24 {
        let max_entries = [512usize, 16, 4, 1, 0, 128][round % 6];
        let max_value = [64usize, 8, 0, 64, 100][round % 5];
        let spread = [10, 40, 200][round % 3];
        for (name, v) in [
            ("hash-max-listpack-entries", max_entries),
            ("hash-max-listpack-value", max_value),
        ] {
            assert_eq!(
                c.execute(&["CONFIG", "SET", name, &v.to_string()]),
                Reply::ok()
            );
        }
        for step in 0..150 {
            let key = keys[r.below(keys.len())];
            let m = model.entry(key).or_default();
            let (cmd, expected): (Vec<Vec<u8>>, Reply) = match r.below(10) {
                0..=2 => {
                    let n = 1 + r.below(3);
                    let mut cmd = vec![b"HSET".to_vec(), key.to_vec()];
                    let mut created = 0;
                    for _ in 0..n {
                        let (f, v) = (field(&mut r, spread), value(&mut r));
                        created += m.set(&f, &v, max_entries, max_value) as i64;
                        cmd.extend([f, v]);
                    }
                    (cmd, Reply::Int(created))
                }
                3 => {
                    let (f, v) = (field(&mut r, spread), value(&mut r));
                    let exp = if m.get(&f).is_some() {
                        0
                    } else {
                        m.set(&f, &v, max_entries, max_value) as i64
                    };
                    (
                        vec![b"HSETNX".to_vec(), key.to_vec(), f, v],
                        Reply::Int(exp),
                    )
                }
                4 => {
                    let n = 1 + r.below(3);
                    let fs: Vec<Vec<u8>> = (0..n).map(|_| field(&mut r, spread)).collect();
                    let gone = fs.iter().filter(|f| m.del(f)).count();
                    let mut cmd = vec![b"HDEL".to_vec(), key.to_vec()];
                    cmd.extend(fs);
                    (cmd, Reply::Int(gone as i64))
                }
                5 => {
                    let f = field(&mut r, spread);
                    let exp = m.get(&f).map_or(Reply::Nil, |v| b(v));
                    (vec![b"HGET".to_vec(), key.to_vec(), f], exp)
                }
                6 => {
                    let f = field(&mut r, spread);
                    let by = r.range(-50, 50);
                    let exp = match m.get(&f).map(|v| {
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok())
                    }) {
                        Some(None) => Reply::Error("ERR hash value is not an integer".into()),
                        Some(Some(cur)) => {
                            let n = cur + by;
                            // "-0"-style texts never arise: values are formatted integers
                            if m.get(&f).unwrap() != cur.to_string().as_bytes() {
                                Reply::Error("ERR hash value is not an integer".into())
                            } else {
                                m.set(&f, n.to_string().as_bytes(), max_entries, max_value);
                                Reply::Int(n)
                            }
                        }
                        None => {
                            m.set(&f, by.to_string().as_bytes(), max_entries, max_value);
                            Reply::Int(by)
                        }
                    };
                    (
                        vec![
                            b"HINCRBY".to_vec(),
                            key.to_vec(),
                            f,
                            by.to_string().into_bytes(),
                        ],
                        exp,
                    )
                }
                7 => {
                    let f = field(&mut r, spread);
                    let exp = Reply::Int(m.get(&f).map_or(0, |v| v.len()) as i64);
                    (vec![b"HSTRLEN".to_vec(), key.to_vec(), f], exp)
                }
                8 => {
                    let f = field(&mut r, spread);
                    (
                        vec![b"HEXISTS".to_vec(), key.to_vec(), f.clone()],
                        Reply::Int(m.get(&f).is_some() as i64),
                    )
                }
                _ => (
                    vec![b"HLEN".to_vec(), key.to_vec()],
                    Reply::Int(m.pairs.len() as i64),
                ),
            };
            if m.pairs.is_empty() {
                m.table = false; // an emptied hash is deleted; a new one starts small
            }
            let got = c.execute(&cmd);
            assert_eq!(
                got,
                expected,
                "round {round} step {step}: {:?}",
                cmd.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>()
            );
            // the touched key every step, every key now and then
            let check: Vec<&[u8]> = if step % 20 == 19 {
                keys.to_vec()
            } else {
                vec![key]
            };
            for k in check {
                let m = model.entry(k).or_default();
                if m.pairs.is_empty() {
                    m.table = false;
                    assert_eq!(
                        c.execute(&[&b"EXISTS"[..], k]),
                        Reply::Int(0),
                        "an empty hash must not exist"
                    );
                    continue;
                }
                let enc = c.execute(&[&b"OBJECT"[..], b"ENCODING", k]);
                let want = if m.table {
                    &b"hashtable"[..]
                } else {
                    b"listpack"
                };
                assert_eq!(
                    enc,
                    b(want),
                    "round {round} step {step}: encoding of {}",
                    String::from_utf8_lossy(k)
                );
                let all = c.execute(&[&b"HGETALL"[..], k]);
                if m.table {
                    let mut want = m.pairs.clone();
                    want.sort();
                    assert_eq!(sorted_pairs(&all), want);
                } else {
                    let want = Reply::Map(m.pairs.iter().map(|(f, v)| (b(f), b(v))).collect());
                    assert_eq!(all, want, "listpack order");
                }
                // a full HSCAN sees every pair exactly once (no resizes in between)
                let mut cursor = b"0".to_vec();
                let mut seen = Vec::new();
                loop {
                    let Reply::Array(parts) =
                        c.execute(&[&b"HSCAN"[..], k, &cursor, b"COUNT", b"25"])
                    else {
                        panic!()
                    };
                    cursor = parts[0].as_bytes().unwrap().to_vec();
                    seen.extend(sorted_pairs(&parts[1]));
                    if cursor == b"0" {
                        break;
                    }
                }
                seen.sort();
                let mut want = m.pairs.clone();
                want.sort();
                assert_eq!(seen, want, "HSCAN of {}", String::from_utf8_lossy(k));
            }
        }
    }
}
