//! Conversion between the RDB layer's values ([`RdbValue`]) and the
//! engine's ([`Value`]).
//!
//! Loading picks each value's encoding by the thresholds the commands use
//! (`hash-max-listpack-entries`, `set-max-intset-entries`, …), as Redis does
//! when it loads a dump: the file's own encoding does not matter. Types the
//! engine does not have are refused with an error naming the key: module
//! values, and hash fields that still have a TTL (RDB 12);
//! hash fields whose TTL has passed are dropped, as Redis drops them.

use crate::config::{Params, Tun};
use crate::error::{Error, ErrorKind};
use crate::persist::rdb::{self, RdbValue};
use crate::types::list::Fill;
use crate::types::set::SetLimits;
use crate::types::stream::{Consumer, Group, Nack, StreamValue};
use crate::types::zset::{self, ZsetLimits};
use crate::types::{HashValue, ListValue, SetValue, Str, Value, ZsetValue};

/// The encoding thresholds in force (read once per load or save).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub list_fill: i64,
    pub hash_entries: usize,
    pub hash_value: usize,
    pub set: SetLimits,
    pub zset: ZsetLimits,
}

impl Limits {
    pub fn from_params(p: &Params) -> Limits {
        let u = |t: Tun| p.tun(t).max(0) as usize;
        Limits {
            list_fill: p.tun(Tun::ListMaxListpackSize),
            hash_entries: u(Tun::HashMaxListpackEntries),
            hash_value: u(Tun::HashMaxListpackValue),
            set: SetLimits {
                max_intset: u(Tun::SetMaxIntsetEntries),
                max_listpack_entries: u(Tun::SetMaxListpackEntries),
                max_listpack_value: u(Tun::SetMaxListpackValue),
            },
            zset: ZsetLimits {
                max_entries: u(Tun::ZsetMaxListpackEntries),
                max_value: u(Tun::ZsetMaxListpackValue),
            },
        }
    }
}

fn show_key(key: &[u8]) -> String {
    let s = String::from_utf8_lossy(key);
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(80)])
    } else {
        s.into_owned()
    }
}

/// An engine value from a loaded one. `None` for a collection that ended up
/// empty (all its hash fields expired): the key is skipped, as Redis does.
/// `now_ms` decides which hash-field TTLs have passed.
pub(crate) fn to_value(
    key: &[u8],
    v: RdbValue,
    lim: &Limits,
    now_ms: u64,
) -> Result<Option<Value>, Error> {
    let refuse = |what: &str| {
        Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "key '{}' holds a {what}, which emberkv does not support yet",
                show_key(key)
            ),
        ))
    };
    let fill = Fill(lim.list_fill);
    Ok(Some(match v {
        RdbValue::Str(s) => Value::Str(Str::from_bytes(&s)),
        RdbValue::List(items) => match ListValue::from_loaded(items.iter().map(|e| &e[..]), fill) {
            Some(l) => Value::List(Box::new(l)),
            None => return Ok(None),
        },
        RdbValue::ListFlat(items) => match ListValue::from_loaded(items.iter(), fill) {
            Some(l) => Value::List(Box::new(l)),
            None => return Ok(None),
        },
        RdbValue::Set(members) => {
            let Some(first) = members.first() else {
                return Ok(None);
            };
            let mut s = SetValue::new_for(first, &lim.set);
            for m in &members {
                s.add(m, &lim.set);
            }
            Value::Set(Box::new(s))
        }
        RdbValue::ZSet(mut entries) => {
            if entries.is_empty() {
                return Ok(None);
            }
            zset::sort_entries(&mut entries);
            Value::Zset(Box::new(ZsetValue::from_sorted(entries, &lim.zset)))
        }
        RdbValue::Hash(pairs) => {
            if pairs.is_empty() {
                return Ok(None);
            }
            Value::Hash(Box::new(build_hash(
                pairs.iter().map(|(f, v)| (&f[..], &v[..])),
                pairs.len(),
                lim,
            )))
        }
        RdbValue::HashTtl(fields) => {
            if let Some((f, _, Some(t))) = fields
                .iter()
                .find(|(_, _, t)| t.is_some_and(|t| t > now_ms))
            {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "key '{}': hash field '{}' has a TTL (expires at {t} ms), and emberkv does not support hash-field expiry (Redis 7.4 HEXPIRE)",
                        show_key(key),
                        show_key(f)
                    ),
                ));
            }
            let live: Vec<(&[u8], &[u8])> = fields
                .iter()
                .filter(|(_, _, t)| t.is_none())
                .map(|(f, v, _)| (&f[..], &v[..]))
                .collect();
            if live.is_empty() {
                return Ok(None);
            }
            let n = live.len();
            Value::Hash(Box::new(build_hash(live.into_iter(), n, lim)))
        }
        RdbValue::Stream(st) => Value::Stream(Box::new(stream_to_value(key, *st)?)),
        RdbValue::Module(m) => {
            return refuse(&format!("module value (module type '{}')", m.name()));
        }
    }))
}

fn build_hash<'a>(
    pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    n: usize,
    lim: &Limits,
) -> HashValue {
    let mut h = HashValue::new();
    if n > lim.hash_entries {
        h.convert_to_table();
    }
    for (f, v) in pairs {
        h.set(f, v, lim.hash_entries, lim.hash_value);
    }
    h
}

/// The RDB form of an engine value.
pub(crate) fn from_value(v: &Value) -> RdbValue {
    match v {
        Value::Str(s) => RdbValue::Str(s.to_vec()),
        Value::List(l) => RdbValue::List(l.iter().map(|e| e.to_vec()).collect()),
        Value::Hash(h) => RdbValue::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect()),
        Value::Set(s) => {
            let mut out = Vec::with_capacity(s.len());
            s.for_each(|m| out.push(m.to_vec()));
            RdbValue::Set(out)
        }
        Value::Zset(z) => {
            let mut out = Vec::with_capacity(z.len());
            z.for_each(|m, score| out.push((m.to_vec(), score)));
            RdbValue::ZSet(out)
        }
        Value::Stream(st) => RdbValue::Stream(Box::new(stream_from_value(st))),
    }
}

/// An engine stream from a loaded one: entries in ID order, the counters as
/// stored, and every group with its PEL and consumers. A pending entry that
/// no consumer owns makes the file corrupt (Redis refuses it too).
fn stream_to_value(key: &[u8], ir: rdb::StreamValue) -> Result<StreamValue, Error> {
    let corrupt = |what: String| {
        Err(Error::new(
            ErrorKind::Corrupt,
            format!("stream '{}': {what}", show_key(key)),
        ))
    };
    let mut st = StreamValue::new();
    let mut prev = None;
    for e in &ir.entries {
        if prev.is_some_and(|p| p >= e.id) {
            return corrupt(format!("entry {} out of order", e.id));
        }
        prev = Some(e.id);
        let fields: Vec<&[u8]> = e
            .fields
            .iter()
            .flat_map(|(f, v)| [&f[..], &v[..]])
            .collect();
        st.append(sid(e.id), &fields);
    }
    st.last_id = sid(ir.last_id);
    st.first_id = sid(ir.first_id);
    st.max_deleted_id = sid(ir.max_deleted_id);
    st.entries_added = ir.entries_added;
    for g in ir.groups {
        let entries_read = g.entries_read.map_or(-1, |n| n as i64);
        let mut group = Group::new(sid(g.last_delivered_id), entries_read);
        let mut owner: std::collections::HashMap<rdb::StreamId, &[u8]> =
            std::collections::HashMap::new();
        for c in &g.consumers {
            for id in &c.pel {
                owner.insert(*id, &c.name);
            }
            group.consumers.insert(
                c.name.clone().into_boxed_slice(),
                Consumer {
                    seen_time: c.seen_time_ms,
                    active_time: c.active_time_ms as i64,
                    pel: c.pel.iter().map(|id| sid(*id)).collect(),
                },
            );
        }
        for p in &g.pel {
            let Some(name) = owner.get(&p.id) else {
                return corrupt(format!(
                    "pending entry {} of group '{}' has no consumer",
                    p.id,
                    show_key(&g.name)
                ));
            };
            group.pel.insert(
                sid(p.id),
                Nack {
                    delivery_time: p.delivery_time_ms,
                    delivery_count: p.delivery_count,
                    consumer: (*name).into(),
                },
            );
        }
        st.groups.insert(g.name.into_boxed_slice(), group);
    }
    Ok(st)
}

/// The RDB form of an engine stream.
fn stream_from_value(st: &StreamValue) -> rdb::StreamValue {
    let rid = |id: crate::types::stream::StreamId| rdb::StreamId::new(id.ms, id.seq);
    rdb::StreamValue {
        entries: st
            .iter()
            .map(|(id, f)| rdb::StreamEntry {
                id: rid(id),
                fields: f
                    .chunks(2)
                    .map(|p| (p[0].to_vec(), p[1].to_vec()))
                    .collect(),
            })
            .collect(),
        last_id: rid(st.last_id),
        first_id: rid(st.first_id),
        max_deleted_id: rid(st.max_deleted_id),
        entries_added: st.entries_added,
        groups: st
            .groups
            .iter()
            .map(|(name, g)| rdb::StreamGroup {
                name: name.to_vec(),
                last_delivered_id: rid(g.last_id),
                entries_read: u64::try_from(g.entries_read).ok(),
                pel: g
                    .pel
                    .iter()
                    .map(|(id, n)| rdb::StreamPending {
                        id: rid(*id),
                        delivery_time_ms: n.delivery_time,
                        delivery_count: n.delivery_count,
                    })
                    .collect(),
                consumers: g
                    .consumers
                    .iter()
                    .map(|(cname, c)| rdb::StreamConsumer {
                        name: cname.to_vec(),
                        seen_time_ms: c.seen_time,
                        active_time_ms: c.active_time as u64,
                        pel: c.pel.iter().map(|id| rid(*id)).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn sid(id: rdb::StreamId) -> crate::types::stream::StreamId {
    crate::types::stream::StreamId::new(id.ms, id.seq)
}

/// The writer options matching the engine's parameters (`rdbcompression`,
/// `rdbchecksum`, the encoding thresholds).
pub(crate) fn write_options(p: &Params) -> crate::persist::rdb::WriteOptions {
    let lim = Limits::from_params(p);
    let yes = |n: &str| p.get(n).is_none_or(|v| v == "yes");
    crate::persist::rdb::WriteOptions {
        compression: yes("rdbcompression"),
        checksum: yes("rdbchecksum"),
        hash_max_listpack_entries: lim.hash_entries,
        hash_max_listpack_value: lim.hash_value,
        zset_max_listpack_entries: lim.zset.max_entries,
        zset_max_listpack_value: lim.zset.max_value,
        set_max_intset_entries: lim.set.max_intset,
        list_max_listpack_size: lim.list_fill,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn lim() -> Limits {
        Limits::from_params(&Params::new(&Config::default()).unwrap())
    }

    fn round(v: RdbValue) -> (Value, RdbValue) {
        let val = to_value(b"k", v, &lim(), 0).unwrap().unwrap();
        let back = from_value(&val);
        (val, back)
    }

    #[test]
    fn encodings_follow_the_thresholds() {
        let (v, _) = round(RdbValue::Str(b"12345".to_vec()));
        assert_eq!(v.encoding(), "int");
        let (v, _) = round(RdbValue::Str(vec![b'x'; 50]));
        assert_eq!(v.encoding(), "raw");
        let (v, b) = round(RdbValue::Set(vec![b"1".to_vec(), b"2".to_vec()]));
        assert_eq!(v.encoding(), "intset");
        assert_eq!(b, RdbValue::Set(vec![b"1".to_vec(), b"2".to_vec()]));
        let many: Vec<Vec<u8>> = (0..600).map(|i| i.to_string().into_bytes()).collect();
        let (v, _) = round(RdbValue::Set(many));
        assert_eq!(v.encoding(), "hashtable");
        // what SADD creates for a non-integer member (Redis 7.0: no set listpack)
        let (v, _) = round(RdbValue::Set(vec![b"a".to_vec()]));
        let mut sadd = SetValue::new_for(b"a", &lim().set);
        sadd.add(b"a", &lim().set);
        assert_eq!(v.encoding(), sadd.encoding());
        let pairs: Vec<_> = (0..513)
            .map(|i| (i.to_string().into_bytes(), b"v".to_vec()))
            .collect();
        let (v, _) = round(RdbValue::Hash(pairs));
        assert_eq!(v.encoding(), "hashtable");
        let (v, b) = round(RdbValue::Hash(vec![(b"f".to_vec(), b"v".to_vec())]));
        assert_eq!(v.encoding(), "listpack");
        assert_eq!(b, RdbValue::Hash(vec![(b"f".to_vec(), b"v".to_vec())]));
        let (v, b) = round(RdbValue::ZSet(vec![
            (b"b".to_vec(), 2.0),
            (b"a".to_vec(), 1.0),
        ]));
        assert_eq!(v.encoding(), "listpack");
        assert_eq!(
            b,
            RdbValue::ZSet(vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)])
        );
        let (v, _) = round(RdbValue::ZSet(vec![(vec![b'm'; 65], 1.0)]));
        assert_eq!(v.encoding(), "skiplist");
        let (v, b) = round(RdbValue::List(vec![b"a".to_vec(), b"b".to_vec()]));
        assert_eq!(v.encoding(), "listpack");
        assert_eq!(b, RdbValue::List(vec![b"a".to_vec(), b"b".to_vec()]));
    }

    #[test]
    fn unsupported_types_name_the_key() {
        let e = to_value(
            b"mykey",
            RdbValue::HashTtl(vec![(b"f".to_vec(), b"v".to_vec(), Some(2000))]),
            &lim(),
            1000,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("mykey"), "{e}");
        // expired fields go; a hash left empty is skipped
        let v = to_value(
            b"k",
            RdbValue::HashTtl(vec![(b"f".to_vec(), b"v".to_vec(), Some(500))]),
            &lim(),
            1000,
        )
        .unwrap();
        assert!(v.is_none());
        let v = to_value(
            b"k",
            RdbValue::HashTtl(vec![
                (b"f".to_vec(), b"v".to_vec(), Some(500)),
                (b"g".to_vec(), b"w".to_vec(), None),
            ]),
            &lim(),
            1000,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            from_value(&v),
            RdbValue::Hash(vec![(b"g".to_vec(), b"w".to_vec())])
        );
    }
}
