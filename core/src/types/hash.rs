//! Hash values and their two encodings, named as Redis names them:
//! `listpack` (one packed buffer of field/value pairs in insertion order,
//! while the hash is small) and `hashtable`.
//!
//! The `hashtable` encoding is a linear-hashing table of packed segments:
//! each segment is a small packed buffer of pairs (a few on average), and
//! the table grows or shrinks one segment at a time, so no resize ever
//! stalls a command and no pair costs an allocation of its own.
//!
//! Rules for whoever changes this:
//! - A pair is `len field len value` (LEB128 lengths), in both encodings.
//! - `listpack` keeps Redis's order: new fields at the end, updated values
//!   in place. Conversion to `hashtable` is one way, as in Redis.
//! - HSCAN cursors over the table use Redis's reverse-binary walk over a
//!   power-of-two "logical" table (see `Table::scan`), so a scan returns
//!   every field present throughout, whatever the table does in between.
//! - Nothing here sees argv or replies.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use super::bytes::malloc_size;
use crate::util::rng::random_below;

// ----- the pair format -----

#[inline]
fn varint_len(n: usize) -> usize {
    match n {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

#[inline]
fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[inline]
fn read_varint(b: &[u8], pos: usize) -> (usize, usize) {
    let x = b[pos];
    if x < 0x80 {
        return (x as usize, 1);
    }
    let mut n = (x & 0x7f) as usize;
    let mut i = 1;
    loop {
        let x = b[pos + i];
        n |= ((x & 0x7f) as usize) << (7 * i);
        i += 1;
        if x < 0x80 {
            return (n, i);
        }
    }
}

#[inline]
fn pair_len(f: usize, v: usize) -> usize {
    varint_len(f) + f + varint_len(v) + v
}

/// Capacity for `need` bytes: an eighth more (at least 32 bytes), rounded
/// to malloc's granule.
#[inline]
fn grown(need: usize) -> usize {
    (need + (need / 8).max(32)).next_multiple_of(16)
}

static SEED: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

#[inline]
fn hash_of(f: &[u8]) -> u64 {
    SEED.hash_one(f)
}

// ----- packed pairs -----

/// Field/value pairs packed back to back: the whole of a `listpack` hash,
/// and one segment of a `hashtable` one.
#[derive(Clone, Default)]
pub struct Packed {
    buf: Vec<u8>,
    count: u32,
}

/// Where a pair sits: its start, the start of its value's length, its end.
struct Slot {
    start: usize,
    vpos: usize,
    end: usize,
}

#[derive(Clone)]
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let b = self.buf;
        let (fl, k) = read_varint(b, self.pos);
        let fs = self.pos + k;
        let (vl, k) = read_varint(b, fs + fl);
        let vs = fs + fl + k;
        self.pos = vs + vl;
        Some((&b[fs..fs + fl], &b[vs..vs + vl]))
    }
}

impl Packed {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    fn find(&self, f: &[u8]) -> Option<Slot> {
        let b = &self.buf[..];
        let mut pos = 0;
        while pos < b.len() {
            let (fl, k) = read_varint(b, pos);
            let fs = pos + k;
            let vpos = fs + fl;
            let (vl, k2) = read_varint(b, vpos);
            let end = vpos + k2 + vl;
            if fl == f.len() && &b[fs..vpos] == f {
                return Some(Slot {
                    start: pos,
                    vpos,
                    end,
                });
            }
            pos = end;
        }
        None
    }

    pub fn get(&self, f: &[u8]) -> Option<&[u8]> {
        let s = self.find(f)?;
        let (vl, k) = read_varint(&self.buf, s.vpos);
        Some(&self.buf[s.vpos + k..s.vpos + k + vl])
    }

    fn reserve(&mut self, need: usize) {
        let len = self.buf.len();
        if self.buf.capacity() - len < need {
            self.buf.reserve_exact(grown(len + need) - len);
        }
    }

    /// Appends a pair whose field is known to be absent.
    fn push(&mut self, f: &[u8], v: &[u8]) {
        self.reserve(pair_len(f.len(), v.len()));
        put_varint(&mut self.buf, f.len());
        self.buf.extend_from_slice(f);
        put_varint(&mut self.buf, v.len());
        self.buf.extend_from_slice(v);
        self.count += 1;
    }

    /// Sets `f` to `v`; true if the field is new.
    pub fn set(&mut self, f: &[u8], v: &[u8]) -> bool {
        match self.find(f) {
            Some(s) => {
                let mut enc = Vec::with_capacity(varint_len(v.len()) + v.len());
                put_varint(&mut enc, v.len());
                enc.extend_from_slice(v);
                if enc.len() == s.end - s.vpos {
                    self.buf[s.vpos..s.end].copy_from_slice(&enc);
                } else {
                    self.buf.splice(s.vpos..s.end, enc);
                }
                false
            }
            None => {
                self.push(f, v);
                true
            }
        }
    }

    pub fn del(&mut self, f: &[u8]) -> bool {
        let Some(s) = self.find(f) else { return false };
        self.buf.drain(s.start..s.end);
        self.count -= 1;
        if self.count == 0 {
            self.buf = Vec::new();
        } else if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to(grown(self.buf.len()));
        }
        true
    }

    /// The `i`-th pair (i < len).
    fn nth(&self, i: usize) -> (&[u8], &[u8]) {
        self.iter().nth(i).expect("index below count")
    }

    fn heap_size(&self) -> usize {
        malloc_size(self.buf.capacity())
    }
}

// ----- the hash table -----

/// Average pairs per segment above which a segment is split.
const LOAD_MAX: usize = 8;
/// … and below which two are merged.
const LOAD_MIN: usize = 2;

/// A linear-hashing table: `2^level + split` segments; segments below
/// `split` have already been split at this level.
#[derive(Clone)]
pub struct Table {
    segs: Vec<Packed>,
    level: u32,
    split: u32,
    len: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        let want = n.div_ceil(LOAD_MAX).max(1).next_power_of_two();
        Table {
            segs: vec![Packed::default(); want],
            level: want.trailing_zeros(),
            split: 0,
            len: 0,
        }
    }

    #[inline]
    fn seg_of(&self, h: u64) -> usize {
        let m = 1usize << self.level;
        let b = h as usize & (m - 1);
        if b < self.split as usize {
            h as usize & (2 * m - 1)
        } else {
            b
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn get(&self, f: &[u8]) -> Option<&[u8]> {
        self.segs[self.seg_of(hash_of(f))].get(f)
    }

    pub fn set(&mut self, f: &[u8], v: &[u8]) -> bool {
        let s = self.seg_of(hash_of(f));
        let new = self.segs[s].set(f, v);
        if new {
            self.len += 1;
            if self.len > self.segs.len() * LOAD_MAX {
                self.grow();
            }
        }
        new
    }

    /// Adds a pair whose field is known to be absent.
    fn insert_new(&mut self, f: &[u8], v: &[u8]) {
        let s = self.seg_of(hash_of(f));
        self.segs[s].push(f, v);
        self.len += 1;
        if self.len > self.segs.len() * LOAD_MAX {
            self.grow();
        }
    }

    pub fn del(&mut self, f: &[u8]) -> bool {
        let s = self.seg_of(hash_of(f));
        let gone = self.segs[s].del(f);
        if gone {
            self.len -= 1;
            if self.segs.len() > 1 && self.len < self.segs.len() * LOAD_MIN {
                self.shrink();
            }
        }
        gone
    }

    /// Splits the next segment in line.
    fn grow(&mut self) {
        let m = 1usize << self.level;
        let s = self.split as usize;
        let old = std::mem::take(&mut self.segs[s]);
        let (mut lo, mut hi) = (Packed::default(), Packed::default());
        for (f, v) in old.iter() {
            if hash_of(f) as usize & m != 0 {
                hi.push(f, v)
            } else {
                lo.push(f, v)
            }
        }
        self.segs[s] = lo;
        self.segs.push(hi);
        self.split += 1;
        if self.split as usize == m {
            self.level += 1;
            self.split = 0;
        }
    }

    /// Merges the last segment back into its buddy.
    fn shrink(&mut self) {
        if self.split == 0 {
            if self.level == 0 {
                return;
            }
            self.level -= 1;
            self.split = 1 << self.level;
        }
        self.split -= 1;
        let hi = self.segs.pop().expect("a segment to merge");
        let lo = &mut self.segs[self.split as usize];
        for (f, v) in hi.iter() {
            lo.push(f, v);
        }
        if self.segs.capacity() > 2 * self.segs.len() + 8 {
            self.segs.shrink_to_fit();
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.segs.iter().flat_map(Packed::iter)
    }

    /// A random pair (the table is not empty). Like Redis's, not perfectly
    /// fair: a pair in a fuller segment is a little less likely.
    /// A pair drawn uniformly (the table is not empty). Segments differ in
    /// size, so drawing a segment first and then a pair in it would favour
    /// the pairs of small segments (HRANDFIELD's draws failed the Tcl
    /// suite's chi-square test that way). A small table is walked to the
    /// drawn position; a big one draws (segment, slot below `DRAW_BOUND`)
    /// until the slot is occupied: rejection sampling, uniform for every
    /// segment of at most `DRAW_BOUND` pairs (4× the largest average load;
    /// a longer one, vanishingly rare with a good hash, is accepted at once
    /// and its pairs drawn slightly less often).
    pub fn random(&self) -> (&[u8], &[u8]) {
        const WALK_MAX: usize = 64;
        const DRAW_BOUND: usize = 4 * LOAD_MAX;
        if self.segs.len() <= WALK_MAX {
            let mut r = random_below(self.len as u64) as usize;
            for s in &self.segs {
                if r < s.len() {
                    return s.nth(r);
                }
                r -= s.len();
            }
        }
        loop {
            let s = &self.segs[random_below(self.segs.len() as u64) as usize];
            let i = random_below(DRAW_BOUND.max(s.len()) as u64) as usize;
            if i < s.len() {
                return s.nth(i);
            }
        }
    }

    /// One HSCAN step from `cursor`: visits logical buckets in Redis's
    /// reverse-binary order until `count` pairs were seen (or 10×count
    /// buckets, or the end); returns the next cursor (0 = done).
    ///
    /// The logical table has `2^bits` buckets (bits = level, or level+1
    /// while a round of splits is under way); bucket b lives in segment b
    /// when that one is split, else in segment b mod 2^level, shared with
    /// its buddy and filtered by hash.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        let bits = if self.split == 0 {
            self.level
        } else {
            self.level + 1
        };
        let mask: u64 = (1u64 << bits) - 1;
        let low_mask = (1u64 << self.level) - 1;
        let mut v = cursor;
        let mut seen = 0;
        let mut budget = count.saturating_mul(10);
        loop {
            let b = v & mask;
            let lo = (b & low_mask) as usize;
            let shared = bits > self.level && lo >= self.split as usize;
            let seg = if shared { lo } else { b as usize };
            for (f, val) in self.segs[seg].iter() {
                if !shared || hash_of(f) & mask == b {
                    visit(f, val);
                    seen += 1;
                }
            }
            // reverse-binary increment of the masked bits
            v |= !mask;
            v = v.reverse_bits().wrapping_add(1).reverse_bits();
            budget = budget.saturating_sub(1);
            if v == 0 || seen >= count || budget == 0 {
                return v;
            }
        }
    }

    fn heap_size(&self) -> usize {
        malloc_size(self.segs.capacity() * std::mem::size_of::<Packed>())
            + self.segs.iter().map(Packed::heap_size).sum::<usize>()
    }
}

// ----- the hash -----

/// A hash value.
#[derive(Clone)]
pub enum HashValue {
    /// Redis's `listpack` encoding.
    Packed(Packed),
    /// Redis's `hashtable` encoding.
    Table(Table),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::new()
    }
}

pub enum HashIter<'a, T: Iterator<Item = (&'a [u8], &'a [u8])>> {
    Packed(PackedIter<'a>),
    Table(T),
}

impl<'a, T: Iterator<Item = (&'a [u8], &'a [u8])>> Iterator for HashIter<'a, T> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Packed(i) => i.next(),
            HashIter::Table(i) => i.next(),
        }
    }
}

impl HashValue {
    pub fn new() -> HashValue {
        HashValue::Packed(Packed::default())
    }

    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.len(),
            HashValue::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Packed(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// Heap bytes, the box holding this value included.
    pub fn heap_size(&self) -> usize {
        malloc_size(std::mem::size_of::<HashValue>())
            + match self {
                HashValue::Packed(p) => p.heap_size(),
                HashValue::Table(t) => t.heap_size(),
            }
    }

    pub fn get(&self, f: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Packed(p) => p.get(f),
            HashValue::Table(t) => t.get(f),
        }
    }

    pub fn contains(&self, f: &[u8]) -> bool {
        self.get(f).is_some()
    }

    /// Sets `f` to `v`; true if the field is new. A listpack becomes a
    /// table when `f` or `v` is longer than `max_value`, or when it holds
    /// more than `max_entries` pairs afterwards (Redis 7.0's hashTypeSet).
    pub fn set(&mut self, f: &[u8], v: &[u8], max_entries: usize, max_value: usize) -> bool {
        if matches!(self, HashValue::Packed(_)) && (f.len() > max_value || v.len() > max_value) {
            self.convert_to_table();
        }
        match self {
            HashValue::Packed(p) => {
                let new = p.set(f, v);
                if p.len() > max_entries {
                    self.convert_to_table();
                }
                new
            }
            HashValue::Table(t) => t.set(f, v),
        }
    }

    pub fn del(&mut self, f: &[u8]) -> bool {
        match self {
            HashValue::Packed(p) => p.del(f),
            HashValue::Table(t) => t.del(f),
        }
    }

    pub fn convert_to_table(&mut self) {
        if let HashValue::Packed(p) = self {
            let mut t = Table::with_capacity(p.len());
            for (f, v) in p.iter() {
                t.insert_new(f, v);
            }
            *self = HashValue::Table(t);
        }
    }

    /// Every pair: insertion order for a listpack, table order otherwise.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        match self {
            HashValue::Packed(p) => HashIter::Packed(p.iter()),
            HashValue::Table(t) => HashIter::Table(t.iter()),
        }
    }

    /// A random pair of a non-empty hash.
    pub fn random(&self) -> (&[u8], &[u8]) {
        match self {
            HashValue::Packed(p) => p.nth(random_below(p.len() as u64) as usize),
            HashValue::Table(t) => t.random(),
        }
    }

    /// One HSCAN step; a listpack is returned whole with cursor 0, as
    /// Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&[u8], &[u8])) -> u64 {
        match self {
            HashValue::Packed(p) => {
                p.iter().for_each(|(f, v)| visit(f, v));
                0
            }
            HashValue::Table(t) => t.scan(cursor, count, visit),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn value_is_small() {
        // boxed in `Value`: 40 bytes is a 48-byte malloc chunk
        assert_eq!(std::mem::size_of::<HashValue>(), 40);
    }

    #[test]
    fn packed_keeps_insertion_order() {
        let mut h = HashValue::new();
        assert!(h.set(b"b", b"1", 512, 64));
        assert!(h.set(b"a", b"2", 512, 64));
        assert!(!h.set(b"b", b"a-much-longer-value", 512, 64));
        assert!(!h.set(b"a", b"3", 512, 64));
        let pairs: Vec<_> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(
            pairs,
            vec![
                (b"b".to_vec(), b"a-much-longer-value".to_vec()),
                (b"a".to_vec(), b"3".to_vec())
            ]
        );
        assert!(h.del(b"b"));
        assert!(!h.del(b"b"));
        assert_eq!(h.get(b"a"), Some(&b"3"[..]));
        assert_eq!(h.encoding(), "listpack");
        h.set(b"c", &[b'x'; 65], 512, 64);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"3"[..]));
    }

    #[test]
    fn table_grows_and_shrinks() {
        let mut h = HashValue::new();
        let mut model = BTreeMap::new();
        for i in 0..20_000u32 {
            let f = format!("field:{i}");
            let v = format!("v{}", i * 7);
            assert!(h.set(f.as_bytes(), v.as_bytes(), 16, 64));
            model.insert(f, v);
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 20_000);
        for (f, v) in &model {
            assert_eq!(h.get(f.as_bytes()), Some(v.as_bytes()));
        }
        for i in (0..20_000u32).filter(|i| i % 10 != 0) {
            let f = format!("field:{i}");
            assert!(h.del(f.as_bytes()));
            model.remove(&f);
        }
        assert_eq!(h.len(), model.len());
        let got: BTreeMap<String, String> = h
            .iter()
            .map(|(f, v)| {
                (
                    String::from_utf8(f.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect();
        assert_eq!(got, model);
        let HashValue::Table(t) = &h else {
            unreachable!()
        };
        assert!(t.segs.len() < 2000);
    }

    #[test]
    fn scan_sees_everything_across_resizes() {
        let mut h = HashValue::new();
        for i in 0..3000u32 {
            h.set(format!("f{i}").as_bytes(), b"v", 0, 64);
        }
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = h.scan(cursor, 10, |f, _| {
                seen.insert(f.to_vec());
            });
            // grow and shrink the table while scanning
            step += 1;
            if step.is_multiple_of(3) {
                for j in 0..40 {
                    h.set(format!("new{step}-{j}").as_bytes(), b"v", 0, 64);
                }
            } else if step % 3 == 1 {
                for j in 0..40 {
                    h.del(format!("new{}-{j}", step - 1).as_bytes());
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..3000u32 {
            assert!(seen.contains(format!("f{i}").as_bytes()), "f{i} missed");
        }
    }

    /// Pearson's chi-square of `draws` against a uniform spread over `n`.
    fn chi_square(
        counts: &std::collections::HashMap<Vec<u8>, usize>,
        n: usize,
        draws: usize,
    ) -> f64 {
        assert_eq!(counts.len(), n, "every pair drawn at least once");
        let e = draws as f64 / n as f64;
        counts.values().map(|&c| (c as f64 - e).powi(2) / e).sum()
    }

    #[test]
    fn random_draws_are_uniform() {
        // a small table (walked) and a big one (rejection sampling); 0.001 %
        // quantiles of chi-square with n-1 degrees of freedom: 61.1 (n = 20),
        // 2,288 (n = 2,000)
        for (n, limit) in [(20usize, 61.1), (2000, 2288.0)] {
            let mut h = HashValue::new();
            for i in 0..n {
                h.set(format!("f{i}").as_bytes(), b"v", 1, 64);
            }
            assert!(matches!(h, HashValue::Table(_)));
            let draws = n * 200;
            let mut counts = std::collections::HashMap::new();
            for _ in 0..draws {
                *counts.entry(h.random().0.to_vec()).or_insert(0) += 1;
            }
            let x2 = chi_square(&counts, n, draws);
            assert!(x2 < limit, "n = {n}: chi-square {x2} >= {limit}");
        }
    }

    #[test]
    fn random_pairs_belong() {
        let mut h = HashValue::new();
        for i in 0..100u32 {
            h.set(
                format!("f{i}").as_bytes(),
                format!("v{i}").as_bytes(),
                10,
                64,
            );
        }
        for _ in 0..200 {
            let (f, v) = h.random();
            assert_eq!(h.get(f), Some(v));
        }
    }
}
