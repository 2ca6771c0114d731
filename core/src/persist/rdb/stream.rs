//! Streams in RDB files (types 15, 19, 21): the value in memory, decoding
//! the node listpacks into entries, and building node listpacks the way
//! Redis's `streamAppendItem` lays them out.
//!
//! A node listpack starts with the master entry
//! `count, deleted, num_fields, field_1..field_n, 0`, then each entry is
//! `flags, ms_delta, seq_delta, ([num_fields, f1, v1, ...] | [v1..vn]), lp_count`,
//! deltas relative to the node key (the master ID), flags 1 = deleted,
//! 2 = same fields as the master.

use super::listpack::{self, LpItem};

/// A stream entry ID.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    pub fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The 16-byte big-endian form used for node keys and PEL IDs.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }

    pub fn from_be_bytes(b: &[u8; 16]) -> StreamId {
        StreamId {
            ms: u64::from_be_bytes(b[..8].try_into().unwrap()),
            seq: u64::from_be_bytes(b[8..].try_into().unwrap()),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One live stream entry.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEntry {
    pub id: StreamId,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A pending (delivered, not yet acknowledged) entry of a consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamPending {
    pub id: StreamId,
    pub delivery_time_ms: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamConsumer {
    pub name: Vec<u8>,
    pub seen_time_ms: u64,
    /// RDB 11+ (type 21); older files give `seen_time_ms`, as Redis 7.2 does.
    pub active_time_ms: u64,
    /// IDs this consumer owns; each is in the group's `pel`.
    pub pel: Vec<StreamId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamGroup {
    pub name: Vec<u8>,
    pub last_delivered_id: StreamId,
    /// `None` when unknown (stored as 2^64-1).
    pub entries_read: Option<u64>,
    /// The group PEL, ascending by ID.
    pub pel: Vec<StreamPending>,
    pub consumers: Vec<StreamConsumer>,
}

/// A whole stream. `entries` are the live entries in ID order; the
/// metadata is what RDB 10 stores (for type 15 files it is derived as Redis
/// 7.0 derives it on load).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StreamValue {
    pub entries: Vec<StreamEntry>,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: Vec<StreamGroup>,
}

impl StreamValue {
    /// Redis's `streamEstimateDistanceFromFirstEverEntry` (7.0): a group's
    /// `entries_read` when the file does not store it (type 15).
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let len = self.entries.len() as u64;
        if len == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        } else if id > self.last_id {
            return None;
        }
        if self.max_deleted_id == StreamId::ZERO || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return Some(self.entries_added.saturating_sub(len));
            } else if id == self.first_id {
                return Some(self.entries_added.saturating_sub(len) + 1);
            }
        }
        None
    }
}

/// Decodes one node listpack (node key `master`), appending its live
/// entries to `out`.
fn next_int<'a>(it: &mut std::vec::IntoIter<LpItem<'a>>, what: &str) -> Result<i64, String> {
    it.next()
        .ok_or_else(|| format!("stream node ends before its {what}"))?
        .as_int()
        .ok_or_else(|| format!("stream node: {what} is not an integer"))
}

pub fn decode_node(master: StreamId, lp: &[u8], out: &mut Vec<StreamEntry>) -> Result<(), String> {
    let items = listpack::parse(lp)?;
    if items.is_empty() {
        return Err("empty stream node listpack".into());
    }
    let mut it = items.into_iter();
    let it = &mut it;
    let _count = next_int(it, "entry count")?;
    let _deleted = next_int(it, "deleted count")?;
    let nfields = next_int(it, "master field count")?;
    if nfields < 0 || nfields as usize > lp.len() {
        return Err(format!("stream node: bad master field count {nfields}"));
    }
    let mut master_fields = Vec::with_capacity(nfields as usize);
    for _ in 0..nfields {
        match it.next() {
            Some(f) => master_fields.push(f.to_vec()),
            None => return Err("stream node ends inside its master fields".into()),
        }
    }
    if next_int(it, "master terminator")? != 0 {
        return Err("stream node master entry does not end with 0".into());
    }
    while it.len() > 0 {
        let flags = next_int(it, "entry flags")?;
        let ms_delta = next_int(it, "ms delta")?;
        let seq_delta = next_int(it, "seq delta")?;
        let id = StreamId::new(
            master.ms.wrapping_add(ms_delta as u64),
            master.seq.wrapping_add(seq_delta as u64),
        );
        let same = flags & 2 != 0;
        let n = if same {
            master_fields.len() as i64
        } else {
            next_int(it, "field count")?
        };
        if n < 0 || n as usize > lp.len() {
            return Err(format!("stream node: bad field count {n}"));
        }
        let mut fields = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            let f = match master_fields.get(i) {
                Some(m) if same => m.clone(),
                _ => it
                    .next()
                    .ok_or_else(|| "stream node ends inside an entry".to_string())?
                    .to_vec(),
            };
            let v = it
                .next()
                .ok_or_else(|| "stream node ends inside an entry".to_string())?
                .to_vec();
            fields.push((f, v));
        }
        let lp_count = next_int(it, "lp-count")?;
        let expect = if same { 3 + n } else { 4 + 2 * n };
        if lp_count != expect {
            return Err(format!(
                "stream node: entry lp-count {lp_count}, expected {expect}"
            ));
        }
        if flags & 1 == 0 {
            if let Some(last) = out.last()
                && last.id >= id
            {
                return Err(format!(
                    "stream entry IDs out of order ({} after {})",
                    id, last.id
                ));
            }
            out.push(StreamEntry { id, fields });
        }
    }
    Ok(())
}

/// Node limits (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Clone, Copy, Debug)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

/// Splits entries into node listpacks as Redis's `streamAppendItem` would
/// when they are appended one by one: a new node when the current one would
/// reach `max_bytes` or holds `max_entries`. Returns (master ID, listpack).
pub fn encode_nodes(entries: &[StreamEntry], limits: NodeLimits) -> Vec<(StreamId, Vec<u8>)> {
    let max_bytes = if limits.max_bytes == 0 || limits.max_bytes > listpack::MAX_SAFE_BYTES {
        listpack::MAX_SAFE_BYTES
    } else {
        limits.max_bytes
    };
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let first = &entries[i];
        let master = first.id;
        let mfields: Vec<&[u8]> = first.fields.iter().map(|(f, _)| f.as_slice()).collect();
        let mut body = listpack::Builder::new();
        let mut count = 0usize;
        // Master entry size estimate for the byte limit: the header and master
        // fields are in the node before any entry.
        let master_bytes: usize = 6 + 3 + mfields.iter().map(|f| f.len() + 2).sum::<usize>() + 2;
        while i < entries.len() {
            let e = &entries[i];
            if count > 0 {
                let totelelen: usize = e.fields.iter().map(|(f, v)| f.len() + v.len()).sum();
                if master_bytes + body.bytes() + totelelen >= max_bytes
                    || (limits.max_entries > 0 && count >= limits.max_entries)
                {
                    break;
                }
            }
            let same = e.fields.len() == mfields.len()
                && e.fields.iter().zip(&mfields).all(|((f, _), m)| f == m);
            body.push_int(if same { 2 } else { 0 });
            body.push_int(e.id.ms.wrapping_sub(master.ms) as i64);
            body.push_int(e.id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for (_, v) in &e.fields {
                    body.push(v);
                }
            } else {
                body.push_int(e.fields.len() as i64);
                for (f, v) in &e.fields {
                    body.push(f);
                    body.push(v);
                }
            }
            let n = e.fields.len() as i64;
            body.push_int(if same { 3 + n } else { 4 + 2 * n });
            count += 1;
            i += 1;
        }
        let mut lp = listpack::Builder::new();
        lp.push_int(count as i64);
        lp.push_int(0);
        lp.push_int(mfields.len() as i64);
        for f in &mfields {
            lp.push(f);
        }
        lp.push_int(0);
        lp.append(&body);
        nodes.push((master, lp.finish()));
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ms: u64, seq: u64, kv: &[(&str, &str)]) -> StreamEntry {
        StreamEntry {
            id: StreamId::new(ms, seq),
            fields: kv
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    #[test]
    fn nodes_round_trip() {
        let mut entries = vec![
            entry(1, 1, &[("name", "alice"), ("age", "30")]),
            entry(1, 2, &[("name", "bob"), ("age", "41")]),
            entry(2, 0, &[("other", "field")]),
            entry(1700000000000, 0, &[("n", "12345")]),
        ];
        for k in 0..300 {
            entries.push(entry(
                1700000000001 + k,
                0,
                &[("k", "v"), ("x", "yyyyyyyyyyyyyy")],
            ));
        }
        let nodes = encode_nodes(
            &entries,
            NodeLimits {
                max_bytes: 4096,
                max_entries: 100,
            },
        );
        assert!(nodes.len() >= 4);
        let mut out = Vec::new();
        for (m, lp) in &nodes {
            decode_node(*m, lp, &mut out).unwrap();
        }
        assert_eq!(out, entries);
    }
}
