//! The stream type: entries ordered by ID, the stream's counters and its
//! consumer groups (PELs, consumers). Typed operations only; argv parsing
//! and replies live in `commands/stream.rs`.
//!
//! Rules for whoever changes this:
//! - Entries live in a `BTreeMap<StreamId, packed fields>`. Redis keeps them
//!   in listpack "nodes" of at most `stream-node-max-entries` entries /
//!   `stream-node-max-bytes` bytes, and that layout is observable: approximate
//!   trimming (`MAXLEN ~`, `MINID ~`) only removes whole nodes, and XINFO
//!   reports the node count. So the node boundaries are modelled beside the
//!   entries (`nodes`: first ID, last ID, live/total counts, an estimate of
//!   the listpack's bytes), and every trim decision is taken on them exactly
//!   as Redis takes it on its listpacks.
//! - `entries_read` uses Redis's sentinel: -1 = unknown.
//! - A consumer's PEL and the group's PEL always hold the same IDs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A stream entry ID, `ms-seq`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID (Redis's `streamIncrID`); None past the last possible one.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID (Redis's `streamDecrID`); None before 0-0.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    pub fn is_zero(self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    pub fn to_bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Redis's `stream-node-max-entries` / `stream-node-max-bytes` defaults.
pub const NODE_MAX_ENTRIES: u32 = 100;
pub const NODE_MAX_BYTES: usize = 4096;

/// One modelled listpack node (see the module notes).
#[derive(Clone, Debug)]
struct Node {
    /// The master ID: the first entry appended to the node.
    first: StreamId,
    /// The last entry appended (deleted or not): Redis's "last ID" of the node.
    last: StreamId,
    live: u32,
    total: u32,
    /// Estimated listpack size, as Redis's node-full check reads it.
    bytes: usize,
    master_fields: Box<[Box<[u8]>]>,
}

/// A pending entry of a group: delivered, not acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct Nack {
    pub delivery_time: u64,
    pub delivery_count: u64,
    pub consumer: Box<[u8]>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// Last time the consumer was seen (any interaction).
    pub seen_time: u64,
    /// Last time it read or claimed something (Redis 7.2's active-time; -1 never).
    pub active_time: i64,
    pub pel: BTreeSet<StreamId>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    /// Logical read counter; -1 = unknown.
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Nack>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates the consumer if missing; true if created.
    pub fn create_consumer(&mut self, name: &[u8], now: u64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.into(),
            Consumer {
                seen_time: now,
                active_time: -1,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Deletes the consumer and its pending entries; its pending count.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }

    /// Acknowledges `id`; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(n) => {
                if let Some(c) = self.consumers.get_mut(&n.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Gives pending `id` to `consumer` (which must exist).
    pub fn assign(&mut self, id: StreamId, consumer: &[u8], time: u64, count: u64) {
        if let Some(old) = self.pel.get(&id)
            && let Some(c) = self.consumers.get_mut(&old.consumer)
        {
            c.pel.remove(&id);
        }
        self.pel.insert(
            id,
            Nack {
                delivery_time: time,
                delivery_count: count,
                consumer: consumer.into(),
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }
}

/// The stream value.
#[derive(Clone, Debug, Default)]
pub struct StreamValue {
    entries: BTreeMap<StreamId, Box<[u8]>>,
    nodes: VecDeque<Node>,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub first_id: StreamId,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

/// How XADD / XTRIM trim.
#[derive(Clone, Copy, Debug)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

impl StreamValue {
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Modelled listpack nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Appends an entry with an ID known to be greater than `last_id`.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]]) {
        let packed = pack(fields);
        let tot: usize = fields.iter().map(|f| f.len()).sum();
        let full = match self.nodes.back() {
            None => true,
            Some(n) => n.bytes + tot >= NODE_MAX_BYTES || n.total >= NODE_MAX_ENTRIES,
        };
        if full {
            let master: Box<[Box<[u8]>]> = fields.iter().step_by(2).map(|f| (*f).into()).collect();
            let mut bytes = 7 + int_size(1) + int_size(0) + int_size(master.len() as i64);
            bytes += master.iter().map(|f| elem_size(f)).sum::<usize>() + int_size(0);
            self.nodes.push_back(Node {
                first: id,
                last: id,
                live: 0,
                total: 0,
                bytes,
                master_fields: master,
            });
        }
        let node = self.nodes.back_mut().expect("a node");
        let same = node.master_fields.len() * 2 == fields.len()
            && node
                .master_fields
                .iter()
                .zip(fields.iter().step_by(2))
                .all(|(m, f)| **m == **f);
        let ms_delta = id.ms.wrapping_sub(node.first.ms) as i64;
        let seq_delta = id.seq.wrapping_sub(node.first.seq) as i64;
        let mut b = int_size(2) + int_size(ms_delta) + int_size(seq_delta);
        if same {
            b += fields
                .iter()
                .skip(1)
                .step_by(2)
                .map(|v| elem_size(v))
                .sum::<usize>();
            b += int_size(3 + fields.len() as i64 / 2);
        } else {
            b += int_size(fields.len() as i64 / 2);
            b += fields.iter().map(|v| elem_size(v)).sum::<usize>();
            b += int_size(4 + fields.len() as i64);
        }
        node.bytes += b;
        node.live += 1;
        node.total += 1;
        node.last = id;
        if self.entries.is_empty() {
            self.first_id = id;
        }
        self.entries.insert(id, packed);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// Entries with start ≤ ID ≤ end, ascending or descending, at most
    /// `count` (0 = all).
    pub fn range(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        count: usize,
    ) -> Vec<(StreamId, Vec<&[u8]>)> {
        if start > end {
            return Vec::new();
        }
        let it = self.entries.range(start..=end);
        let take = if count == 0 { usize::MAX } else { count };
        if rev {
            it.rev()
                .take(take)
                .map(|(id, p)| (*id, unpack(p)))
                .collect()
        } else {
            it.take(take).map(|(id, p)| (*id, unpack(p))).collect()
        }
    }

    pub fn get(&self, id: StreamId) -> Option<Vec<&[u8]>> {
        self.entries.get(&id).map(|p| unpack(p))
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    /// The last entry's ID (0-0 when empty).
    pub fn last_entry_id(&self) -> StreamId {
        self.entries
            .last_key_value()
            .map_or(StreamId::ZERO, |(k, _)| *k)
    }

    fn node_of(&self, id: StreamId) -> Option<usize> {
        let i = self.nodes.partition_point(|n| n.first <= id);
        i.checked_sub(1)
    }

    /// XDEL of one ID; true if it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if let Some(i) = self.node_of(id) {
            let n = &mut self.nodes[i];
            n.live -= 1;
            if n.live == 0 {
                self.nodes.remove(i);
            }
        }
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        self.refresh_first();
        true
    }

    fn refresh_first(&mut self) {
        self.first_id = self
            .entries
            .first_key_value()
            .map_or(StreamId::ZERO, |(k, _)| *k);
    }

    /// Redis's `streamTrim`: the number of entries removed. `limit` 0 = none.
    pub fn trim(&mut self, how: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        while let Some(node) = self.nodes.front() {
            let len = self.entries.len() as u64;
            if let Trim::MaxLen(max) = how
                && len <= max
            {
                break;
            }
            let live = node.live as u64;
            if limit != 0 && deleted + live > limit {
                break;
            }
            let remove_node = match how {
                Trim::MaxLen(max) => len - live >= max,
                Trim::MinId(min) => node.last < min,
            };
            if remove_node {
                let (first, last) = (node.first, node.last);
                let ids: Vec<StreamId> =
                    self.entries.range(first..=last).map(|(k, _)| *k).collect();
                for id in ids {
                    self.entries.remove(&id);
                }
                self.nodes.pop_front();
                deleted += live;
                continue;
            }
            if approx {
                break;
            }
            // exact: remove entries from inside the first node
            let (first, last) = (node.first, node.last);
            let ids: Vec<StreamId> = self.entries.range(first..=last).map(|(k, _)| *k).collect();
            let mut removed = 0u32;
            for id in ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.entries.len() as u64 <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                removed += 1;
            }
            self.nodes[0].live -= removed;
            deleted += removed as u64;
            break;
        }
        self.refresh_first();
        deleted
    }

    /// Redis's `streamRangeHasTombstones` with an open end.
    pub fn has_tombstones_from(&self, start: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry` (-1 = unknown).
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.entries.is_empty() && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        } else if id > self.last_id {
            return -1;
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            if id < self.first_id {
                return (self.entries_added - self.entries.len() as u64) as i64;
            } else if id == self.first_id {
                return (self.entries_added - self.entries.len() as u64 + 1) as i64;
            }
        }
        -1
    }

    /// A group's lag (XINFO GROUPS); None when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != -1 && !self.has_tombstones_from(g.last_id) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let read = self.estimate_distance(g.last_id);
        (read != -1).then(|| self.entries_added as i64 - read)
    }

    /// Bytes owned (INFO memory, MEMORY USAGE): an estimate.
    pub fn heap_size(&self) -> usize {
        let entries: usize = self.entries.values().map(|p| p.len() + 48).sum();
        let groups: usize = self
            .groups
            .iter()
            .map(|(n, g)| {
                n.len()
                    + 64
                    + g.pel.len() * 80
                    + g.consumers
                        .iter()
                        .map(|(n, c)| n.len() + 64 + c.pel.len() * 40)
                        .sum::<usize>()
            })
            .sum();
        std::mem::size_of::<StreamValue>() + entries + self.nodes.len() * 80 + groups
    }

    /// All entries, ascending (the AOF rewrite, RDB save).
    pub fn iter(&self) -> impl Iterator<Item = (StreamId, Vec<&[u8]>)> + '_ {
        self.entries.iter().map(|(id, p)| (*id, unpack(p)))
    }
}

/// The AOF rewrite form, as Redis's `rewriteStreamObject` writes it: one
/// XADD per entry (`XADD key MAXLEN 0 0-1 x y` for an empty stream), XSETID
/// with the counters, then per group XGROUP CREATE … ENTRIESREAD, and per
/// consumer XCLAIM … FORCE JUSTID for each pending entry, or XGROUP
/// CREATECONSUMER when it has none.
pub fn rebuild_commands(s: &StreamValue, key: &[u8], emit: &mut dyn FnMut(&[&[u8]])) {
    if s.is_empty() {
        emit(&[b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]);
    }
    for (id, fields) in s.iter() {
        let id = id.to_bytes();
        let mut argv: Vec<&[u8]> = vec![b"XADD", key, &id];
        argv.extend(fields);
        emit(&argv);
    }
    let last = s.last_id.to_bytes();
    let added = s.entries_added.to_string();
    let maxdel = s.max_deleted_id.to_bytes();
    emit(&[
        b"XSETID",
        key,
        &last,
        b"ENTRIESADDED",
        added.as_bytes(),
        b"MAXDELETEDID",
        &maxdel,
    ]);
    for (name, g) in &s.groups {
        let gl = g.last_id.to_bytes();
        let read = g.entries_read.to_string();
        emit(&[
            b"XGROUP",
            b"CREATE",
            key,
            name,
            &gl,
            b"ENTRIESREAD",
            read.as_bytes(),
        ]);
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                emit(&[b"XGROUP", b"CREATECONSUMER", key, name, cname]);
                continue;
            }
            for id in &c.pel {
                let Some(n) = g.pel.get(id) else { continue };
                let idb = id.to_bytes();
                let t = n.delivery_time.to_string();
                let cnt = n.delivery_count.to_string();
                emit(&[
                    b"XCLAIM",
                    key,
                    name,
                    cname,
                    b"0",
                    &idb,
                    b"TIME",
                    t.as_bytes(),
                    b"RETRYCOUNT",
                    cnt.as_bytes(),
                    b"JUSTID",
                    b"FORCE",
                ]);
            }
        }
    }
}

/// Fields and values packed as `varint len, bytes` pairs in one allocation.
fn pack(fields: &[&[u8]]) -> Box<[u8]> {
    let n: usize = fields.iter().map(|f| f.len() + 5).sum();
    let mut out = Vec::with_capacity(n);
    for f in fields {
        let mut l = f.len();
        loop {
            let b = (l & 0x7f) as u8;
            l >>= 7;
            if l == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend_from_slice(f);
    }
    out.into_boxed_slice()
}

fn unpack(p: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let mut l = 0usize;
        let mut shift = 0;
        loop {
            let b = p[i];
            i += 1;
            l |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        out.push(&p[i..i + l]);
        i += l;
    }
    out
}

/// Listpack size of an integer element (encoding + backlen).
fn int_size(v: i64) -> usize {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if i16::try_from(v).is_ok() {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        4
    } else if i32::try_from(v).is_ok() {
        5
    } else {
        9
    };
    enc + 1
}

/// Listpack size of a string element (stored as an integer when it is one).
fn elem_size(s: &[u8]) -> usize {
    if let Some(v) = crate::util::number::parse_i64(s) {
        return int_size(v);
    }
    let l = s.len();
    let enc = if l <= 63 {
        1 + l
    } else if l <= 4095 {
        2 + l
    } else {
        5 + l
    };
    let back = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    };
    enc + back
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trip() {
        let big = vec![7u8; 300];
        let f: Vec<&[u8]> = vec![b"a", b"", &big, b"xyz"];
        assert_eq!(unpack(&pack(&f)), f);
    }

    #[test]
    fn approx_trim_keeps_partial_nodes() {
        let mut s = StreamValue::new();
        for i in 1..=250 {
            s.append(StreamId::new(i, 0), &[b"f", b"v"]);
        }
        assert_eq!(s.node_count(), 3);
        assert_eq!(s.trim(Trim::MaxLen(120), true, 0), 100);
        assert_eq!(s.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(120), false, 0), 30);
        assert_eq!(s.first_id, StreamId::new(131, 0));
        assert_eq!(s.trim(Trim::MinId(StreamId::new(240, 0)), false, 0), 109);
        assert_eq!(s.len(), 11);
    }
}
