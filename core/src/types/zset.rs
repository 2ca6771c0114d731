//! Sorted sets: the `listpack` encoding (a small vector kept in order) and
//! the `skiplist` encoding, which here is a slab of (member, score) slots, a
//! hash table from member to (slot, score) (`member_index.rs`), and an order-statistic B+tree of
//! (score, slot) (`ostree.rs`): ZSCORE is O(1), ZADD, ZREM and ZRANK are
//! O(log n), a range of k members is O(log n + k).
//!
//! Rules for whoever changes this:
//! - Order is Redis's: by score, ties by member bytes (memcmp, then length).
//!   Scores are never NaN; -0 and 0 compare equal.
//! - The listpack holds at most zset-max-listpack-entries members of at most
//!   zset-max-listpack-value bytes (`ZsetLimits`); it converts to skiplist
//!   when an insert would break either, never back (as Redis). A listpack
//!   stores -0 as 0, as Redis's listpack does, and ZSCAN shows its scores as
//!   Redis's listpack holds them (`listpack_score_text`).
//! - The slab is dense: removal moves the last slot into the hole and
//!   relinks it in the tree and the hash table. ZSCAN walks the slab from
//!   the end down, so members present for a whole scan are returned.

mod ostree;

use super::Key;
use super::bytes::malloc_size;
use super::member_index::MemberIndex;
use super::set::member_hash;
pub(crate) use ostree::prefetch;
use ostree::{Names, Tree};

/// A member and its score. Aligned to its size so that one never straddles
/// two cache lines.
#[derive(Clone)]
#[repr(align(32))]
pub struct Slot {
    pub member: Key,
    pub score: f64,
}

impl Names for [Slot] {
    #[inline]
    fn name(&self, id: u32) -> &[u8] {
        &self[id as usize].member
    }
}

/// Conversion thresholds (zset-max-listpack-entries / -value).
#[derive(Clone, Copy, Debug)]
pub struct ZsetLimits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for ZsetLimits {
    fn default() -> ZsetLimits {
        ZsetLimits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// ZADD's options.
#[derive(Clone, Copy, Default, Debug)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What one ZADD pair did (Redis's `zsetAdd` out-flags and new score).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// Present with that score already.
    Same(f64),
    /// Not applied (NX, XX, GT, LT).
    Nop,
    /// The increment made the score NaN.
    Nan,
}

/// A score interval: `(min` / `[min`-style bounds.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub minex: bool,
    pub maxex: bool,
}

impl ScoreRange {
    #[inline]
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    #[inline]
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lex interval.
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`
    Min,
    /// `+`
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(x) => m >= x.as_slice(),
            LexBound::Excl(x) => m > x.as_slice(),
        }
    }
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m <= x.as_slice(),
            LexBound::Excl(x) => m < x.as_slice(),
        }
    }
    /// False for intervals that can hold nothing (min above max, or equal
    /// with an exclusive end), which Redis answers without looking.
    pub fn may_match(&self) -> bool {
        use std::cmp::Ordering::*;
        let key = |b: &LexBound| -> (u8, Option<Vec<u8>>, bool) {
            match b {
                LexBound::Min => (0, None, true),
                LexBound::Max => (2, None, true),
                LexBound::Incl(x) => (1, Some(x.clone()), false),
                LexBound::Excl(x) => (1, Some(x.clone()), true),
            }
        };
        let (a, b) = (key(&self.min), key(&self.max));
        let cmp = a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1));
        match cmp {
            Greater => false,
            Equal => !(a.2 || b.2),
            Less => true,
        }
    }
}

/// How a listpack holds a score: as an integer when it is one (and within
/// ±2^62), else as `%.17g` text. Only ZSCAN shows this.
pub fn listpack_score_text(s: f64) -> Vec<u8> {
    let lim = (i64::MAX / 2) as f64;
    if (-lim..=lim).contains(&s) && s == (s as i64) as f64 {
        let mut buf = [0u8; 20];
        crate::reply::fmt_i64(s as i64, &mut buf).to_vec()
    } else {
        crate::util::number::fmt_g17(s).into_bytes()
    }
}

/// Scores as a listpack stores them: -0 becomes 0.
#[inline]
fn lp_score(s: f64) -> f64 {
    if s == 0.0 { 0.0 } else { s }
}

/// Large sorted sets.
#[derive(Clone, Default)]
pub struct BigZset {
    slab: Vec<Slot>,
    /// Member → slot, with the member's score as the payload.
    index: MemberIndex<f64>,
    tree: Tree,
    /// Heap bytes owned by long members.
    member_heap: usize,
}

impl BigZset {
    /// From slots already in order.
    fn from_sorted(slots: Vec<Slot>) -> BigZset {
        let tree = Tree::from_sorted(slots.iter().enumerate().map(|(i, s)| (s.score, i as u32)));
        let mut index = MemberIndex::with_capacity(slots.len());
        let mut member_heap = 0;
        for (i, s) in slots.iter().enumerate() {
            member_heap += s.member.heap_size();
            index.insert_with(member_hash(&s.member), i as u32, s.score);
        }
        BigZset {
            slab: slots,
            index,
            tree,
            member_heap,
        }
    }

    /// The slot and score of `m`. The score comes from the index, so work
    /// that needs only the score need not wait for the slot to load.
    #[inline]
    fn find(&self, m: &[u8]) -> Option<(usize, f64)> {
        let slab = &self.slab;
        self.index
            .find_with(member_hash(m), |i| *slab[i as usize].member == *m)
            .map(|(i, s)| (i as usize, s))
    }

    /// Adds `m` (hashed `h`), not present yet.
    fn insert_new(&mut self, m: &[u8], h: u64, score: f64) {
        assert!(self.slab.len() < u32::MAX as usize, "sorted set too large");
        let id = self.slab.len() as u32;
        let key = Key::new(m);
        self.member_heap += key.heap_size();
        let cap = self.slab.capacity();
        if self.slab.len() == cap
            && cap * std::mem::size_of::<Slot>() >= crate::util::hugepage::WORTH / 2
        {
            // grow into memory advised for huge pages before it is written
            // (a reallocation would move the old small pages along)
            let mut grown = crate::util::hugepage::vec_with_capacity(cap * 2);
            grown.append(&mut self.slab);
            self.slab = grown;
        }
        self.slab.push(Slot { member: key, score });
        self.index.insert_with(h, id, score);
        self.tree.insert(score, id, m, &self.slab[..]);
    }

    /// Gives the member at `pos` (hashed `h`) a new score.
    fn set_score(&mut self, pos: usize, h: u64, score: f64) {
        let old = self.slab[pos].score;
        let m = &self.slab[pos].member;
        self.tree.remove(old, pos as u32, m, &self.slab[..]);
        self.tree.insert(score, pos as u32, m, &self.slab[..]);
        self.index.set_payload(h, pos as u32, score);
        self.slab[pos].score = score;
    }

    /// Removes the slot at `pos`; the last slot moves into its place.
    fn remove_at(&mut self, pos: usize) -> Slot {
        let score = self.slab[pos].score;
        self.tree.prefetch_path(score);
        self.tree
            .remove(score, pos as u32, &self.slab[pos].member, &self.slab[..]);
        self.index
            .remove(member_hash(&self.slab[pos].member), pos as u32);
        let last = self.slab.len() - 1;
        if pos != last {
            let moved = &self.slab[last];
            self.tree
                .relink(moved.score, &moved.member, pos as u32, &self.slab[..]);
            self.index
                .repoint(member_hash(&moved.member), last as u32, pos as u32);
        }
        let slot = self.slab.swap_remove(pos);
        self.member_heap -= slot.member.heap_size();
        let (len, cap) = (self.slab.len(), self.slab.capacity());
        if cap > 64 && len < cap / 4 {
            self.slab.shrink_to(len * 2);
        }
        slot
    }

    fn heap_size(&self) -> usize {
        malloc_size(self.slab.capacity() * std::mem::size_of::<Slot>())
            + self.index.heap_size()
            + self.tree.heap_size()
            + self.member_heap
    }
}

/// A sorted-set value.
#[derive(Clone)]
pub enum ZsetValue {
    /// In order (score, member); scores stored as a listpack stores them.
    Listpack(Vec<Slot>),
    Skiplist(Box<BigZset>),
}

impl ZsetValue {
    /// An empty sorted set of the encoding ZADD creates for a first member of
    /// `first_len` bytes (Redis 7.0's rule).
    pub fn new_for(first_len: usize, lim: &ZsetLimits) -> ZsetValue {
        if lim.max_entries == 0 || first_len > lim.max_value {
            ZsetValue::Skiplist(Box::default())
        } else {
            ZsetValue::Listpack(Vec::new())
        }
    }

    pub fn new_listpack() -> ZsetValue {
        ZsetValue::Listpack(Vec::new())
    }

    pub fn new_skiplist() -> ZsetValue {
        ZsetValue::Skiplist(Box::default())
    }

    /// A sorted set holding `entries` (in order, unique), encoded as Redis
    /// encodes the result of a store command of that size.
    pub fn from_sorted(entries: Vec<(Vec<u8>, f64)>, lim: &ZsetLimits) -> ZsetValue {
        let small = entries.len() <= lim.max_entries
            && entries.iter().all(|(m, _)| m.len() <= lim.max_value);
        if small {
            ZsetValue::Listpack(
                entries
                    .into_iter()
                    .map(|(m, s)| Slot {
                        member: Key::new(&m),
                        score: lp_score(s),
                    })
                    .collect(),
            )
        } else {
            let mut slots = crate::util::hugepage::vec_with_capacity(entries.len());
            slots.extend(entries.into_iter().map(|(m, s)| Slot {
                member: Key::new(&m),
                score: s,
            }));
            ZsetValue::Skiplist(Box::new(BigZset::from_sorted(slots)))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ZsetValue::Listpack(v) => v.len(),
            ZsetValue::Skiplist(b) => b.slab.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ZsetValue::Listpack(_) => "listpack",
            ZsetValue::Skiplist(_) => "skiplist",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            ZsetValue::Listpack(v) => {
                malloc_size(v.capacity() * std::mem::size_of::<Slot>())
                    + v.iter().map(|s| s.member.heap_size()).sum::<usize>()
            }
            ZsetValue::Skiplist(b) => std::mem::size_of::<BigZset>() + b.heap_size(),
        }
    }

    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZsetValue::Listpack(v) => v.iter().find(|s| *s.member == *m).map(|s| s.score),
            ZsetValue::Skiplist(b) => b.find(m).map(|(_, s)| s),
        }
    }

    /// ZADD of one pair with `flags` (Redis's `zsetAdd`).
    pub fn add(&mut self, m: &[u8], score: f64, flags: AddFlags, lim: &ZsetLimits) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::Nan;
        }
        let h = match self {
            ZsetValue::Listpack(_) => 0,
            ZsetValue::Skiplist(_) => member_hash(m),
        };
        let found = match self {
            ZsetValue::Listpack(v) => v
                .iter()
                .position(|s| *s.member == *m)
                .map(|pos| (pos, v[pos].score)),
            ZsetValue::Skiplist(b) => {
                // the index bucket and the tree leaves this call will change
                // load while the inner nodes on the way are read
                b.index.prefetch(h);
                if !flags.incr {
                    b.tree.prefetch_path(score);
                }
                let (slab, tree) = (&b.slab[..], &b.tree);
                b.index
                    .find_then(
                        h,
                        |i| *slab[i as usize].member == *m,
                        |i, cur| {
                            // the member's slot (for `eq`) loads while the
                            // walk reads the inner nodes of its old path
                            prefetch(&slab[i as usize]);
                            tree.prefetch_path(cur);
                            if flags.incr {
                                tree.prefetch_path(cur + score);
                            }
                        },
                    )
                    .map(|(i, cur, ())| (i as usize, cur))
            }
        };
        match found {
            Some((pos, cur)) => {
                if flags.nx {
                    return AddOutcome::Nop;
                }
                let mut score = score;
                if flags.incr {
                    score += cur;
                    if score.is_nan() {
                        return AddOutcome::Nan;
                    }
                }
                if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
                    return AddOutcome::Nop;
                }
                if score == cur {
                    return AddOutcome::Same(score);
                }
                match self {
                    ZsetValue::Listpack(v) => {
                        let slot = v.remove(pos);
                        lp_insert(v, slot.member, lp_score(score));
                    }
                    ZsetValue::Skiplist(b) => b.set_score(pos, h, score),
                }
                AddOutcome::Updated(score)
            }
            None if flags.xx => AddOutcome::Nop,
            None => {
                let mut h = h;
                if let ZsetValue::Listpack(v) = self {
                    if v.len() < lim.max_entries && m.len() <= lim.max_value {
                        lp_insert(v, Key::new(m), lp_score(score));
                        return AddOutcome::Added(score);
                    }
                    self.convert_to_skiplist();
                    h = member_hash(m);
                }
                match self {
                    ZsetValue::Skiplist(b) => b.insert_new(m, h, score),
                    ZsetValue::Listpack(_) => unreachable!("converted"),
                }
                AddOutcome::Added(score)
            }
        }
    }

    fn convert_to_skiplist(&mut self) {
        if let ZsetValue::Listpack(v) = self {
            let slots = std::mem::take(v);
            *self = ZsetValue::Skiplist(Box::new(BigZset::from_sorted(slots)));
        }
    }

    /// Removes `m`; its score if it was there.
    pub fn remove(&mut self, m: &[u8]) -> Option<f64> {
        match self {
            ZsetValue::Listpack(v) => {
                let pos = v.iter().position(|s| *s.member == *m)?;
                Some(v.remove(pos).score)
            }
            ZsetValue::Skiplist(b) => {
                let (pos, _) = b.find(m)?;
                Some(b.remove_at(pos).score)
            }
        }
    }

    /// 0-based rank of `m` (from the top when `rev`) and its score.
    pub fn rank(&self, m: &[u8], rev: bool) -> Option<(usize, f64)> {
        let (r, s) = match self {
            ZsetValue::Listpack(v) => {
                let pos = v.iter().position(|s| *s.member == *m)?;
                (pos, v[pos].score)
            }
            ZsetValue::Skiplist(b) => {
                // walk the tree with the score the index bucket holds while
                // the member's bytes load for the equality check
                let slab = &b.slab[..];
                let (_, s, r) = b.index.find_then(
                    member_hash(m),
                    |i| *slab[i as usize].member == *m,
                    |i, s| {
                        prefetch(&slab[i as usize]);
                        b.tree.rank_of(s, m, slab)
                    },
                )?;
                (r, s)
            }
        };
        Some((if rev { self.len() - 1 - r } else { r }, s))
    }

    /// Calls `f` for ranks `lo..hi` (ascending ranks), in ascending order or
    /// descending when `rev`.
    pub fn visit(&self, lo: usize, hi: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let hi = hi.min(self.len());
        if lo >= hi {
            return;
        }
        match self {
            ZsetValue::Listpack(v) => {
                let part = &v[lo..hi];
                if rev {
                    part.iter().rev().for_each(|s| f(&s.member, s.score));
                } else {
                    part.iter().for_each(|s| f(&s.member, s.score));
                }
            }
            ZsetValue::Skiplist(b) => {
                let slab = &b.slab[..];
                b.tree.visit_runs(lo, hi, rev, &mut |scores, ids| {
                    // the slots of a run are scattered in the slab: ask for
                    // all of them before reading the first
                    for &id in ids {
                        prefetch(&slab[id as usize]);
                    }
                    let mut each = |k: usize| f(&slab[ids[k] as usize].member, scores[k]);
                    if rev {
                        (0..ids.len()).rev().for_each(&mut each);
                    } else {
                        (0..ids.len()).for_each(&mut each);
                    }
                });
            }
        }
    }

    /// Every member in order.
    pub fn for_each(&self, f: impl FnMut(&[u8], f64)) {
        self.visit(0, self.len(), false, f)
    }

    /// Ranks `lo..hi` of the members whose score is in `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let below_min = |s: f64| !r.gte_min(s);
        let in_max = |s: f64| r.lte_max(s);
        let (lo, hi) = match self {
            ZsetValue::Listpack(v) => (
                v.partition_point(|x| below_min(x.score)),
                v.partition_point(|x| in_max(x.score)),
            ),
            ZsetValue::Skiplist(b) => (
                b.tree.rank_by(|s, _| below_min(s)),
                b.tree.rank_by(|s, _| in_max(s)),
            ),
        };
        (lo, hi.max(lo))
    }

    /// Ranks `lo..hi` of the members in lex range `r`, as found walking
    /// forward (or backward when `rev`) the way Redis does; the two agree
    /// whenever all scores are equal, which is what lex ranges are for.
    pub fn lex_span(&self, r: &LexRange, rev: bool) -> (usize, usize) {
        if !r.may_match() || self.is_empty() {
            return (0, 0);
        }
        match self {
            ZsetValue::Listpack(v) => {
                // Redis's listpack walk, exact even for mixed scores.
                let n = v.len();
                if !r.gte_min(&v[n - 1].member) || !r.lte_max(&v[0].member) {
                    return (0, 0);
                }
                if rev {
                    let Some(last) = v.iter().rposition(|s| r.lte_max(&s.member)) else {
                        return (0, 0);
                    };
                    if !r.gte_min(&v[last].member) {
                        return (0, 0);
                    }
                    let lo = v[..last]
                        .iter()
                        .rposition(|s| !r.gte_min(&s.member))
                        .map_or(0, |p| p + 1);
                    (lo, last + 1)
                } else {
                    let Some(first) = v.iter().position(|s| r.gte_min(&s.member)) else {
                        return (0, 0);
                    };
                    if !r.lte_max(&v[first].member) {
                        return (0, 0);
                    }
                    let hi = v[first..]
                        .iter()
                        .position(|s| !r.lte_max(&s.member))
                        .map_or(n, |p| first + p);
                    (first, hi)
                }
            }
            ZsetValue::Skiplist(b) => {
                let slab = &b.slab[..];
                let lo = b
                    .tree
                    .rank_by(|_, id| !r.gte_min(&slab[id as usize].member));
                let hi = b.tree.rank_by(|_, id| r.lte_max(&slab[id as usize].member));
                (lo, hi.max(lo))
            }
        }
    }

    /// Removes ranks `lo..hi`; returns how many went.
    pub fn remove_span(&mut self, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.len());
        if lo >= hi {
            return 0;
        }
        match self {
            ZsetValue::Listpack(v) => {
                v.drain(lo..hi);
            }
            ZsetValue::Skiplist(b) => {
                let mut doomed = Vec::with_capacity(hi - lo);
                b.tree.visit(lo, hi, false, &mut |_, id| {
                    doomed.push(b.slab[id as usize].member.clone())
                });
                for m in doomed {
                    if let Some((pos, _)) = b.find(&m) {
                        b.remove_at(pos);
                    }
                }
            }
        }
        hi - lo
    }

    /// Removes and returns the lowest (or highest when `max`) member.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let rank = if max { n - 1 } else { 0 };
        match self {
            ZsetValue::Listpack(v) => {
                let s = v.remove(rank);
                Some((s.member.to_vec(), s.score))
            }
            ZsetValue::Skiplist(b) => {
                let pos = b.tree.get(rank).1 as usize;
                let s = b.remove_at(pos);
                Some((s.member.to_vec(), s.score))
            }
        }
    }

    /// The member at position `i` (< len) in storage order: O(1), for random
    /// sampling.
    pub fn slot(&self, i: usize) -> (&[u8], f64) {
        match self {
            ZsetValue::Listpack(v) => (&v[i].member, v[i].score),
            ZsetValue::Skiplist(b) => (&b.slab[i].member, b.slab[i].score),
        }
    }

    /// One ZSCAN step: `f(member, score text)`; returns the next cursor.
    /// Listpacks are returned whole with their stored score text, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8], Vec<u8>)) -> u64 {
        match self {
            ZsetValue::Listpack(v) => {
                v.iter()
                    .for_each(|s| f(&s.member, listpack_score_text(s.score)));
                0
            }
            ZsetValue::Skiplist(b) => {
                let len = b.slab.len();
                let mut pos = if cursor == 0 || cursor as usize > len {
                    len
                } else {
                    cursor as usize
                };
                let stop = pos.saturating_sub(count.max(1));
                while pos > stop {
                    pos -= 1;
                    let s = &b.slab[pos];
                    f(
                        &s.member,
                        crate::util::number::fmt_g17(s.score).into_bytes(),
                    );
                }
                pos as u64
            }
        }
    }
}

/// Inserts into a listpack in order.
fn lp_insert(v: &mut Vec<Slot>, member: Key, score: f64) {
    let pos = v.partition_point(|s| s.score < score || (s.score == score && *s.member < *member));
    v.insert(pos, Slot { member, score });
}

/// Orders (member, score) pairs as a sorted set does.
pub fn sort_entries(v: &mut [(Vec<u8>, f64)]) {
    v.sort_unstable_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;
    use std::collections::BTreeMap;

    fn add(z: &mut ZsetValue, m: &str, s: f64) -> AddOutcome {
        z.add(m.as_bytes(), s, AddFlags::default(), &ZsetLimits::default())
    }

    fn members(z: &ZsetValue) -> Vec<(String, f64)> {
        let mut v = Vec::new();
        z.for_each(|m, s| v.push((String::from_utf8(m.to_vec()).unwrap(), s)));
        v
    }

    #[test]
    fn listpack_orders_and_converts() {
        let lim = ZsetLimits {
            max_entries: 4,
            max_value: 8,
        };
        let mut z = ZsetValue::new_for(1, &lim);
        for (m, s) in [("b", 1.0), ("a", 1.0), ("c", 0.5)] {
            assert_eq!(
                z.add(m.as_bytes(), s, AddFlags::default(), &lim),
                AddOutcome::Added(s)
            );
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(
            members(&z),
            vec![("c".into(), 0.5), ("a".into(), 1.0), ("b".into(), 1.0)]
        );
        assert_eq!(z.rank(b"b", false), Some((2, 1.0)));
        assert_eq!(z.rank(b"b", true), Some((0, 1.0)));
        z.add(b"d", 2.0, AddFlags::default(), &lim);
        assert_eq!(z.encoding(), "listpack");
        z.add(b"e", 3.0, AddFlags::default(), &lim);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"e", false), Some((4, 3.0)));
        assert_eq!(z.rank(b"c", false), Some((0, 0.5)));
        let mut z2 = ZsetValue::new_for(1, &lim);
        z2.add(b"123456789", 1.0, AddFlags::default(), &lim);
        assert_eq!(z2.encoding(), "skiplist");
    }

    #[test]
    fn negative_zero_in_listpack() {
        let mut z = ZsetValue::new_for(1, &ZsetLimits::default());
        assert_eq!(add(&mut z, "a", -0.0), AddOutcome::Added(-0.0));
        assert!(z.score(b"a").unwrap().is_sign_positive());
        let mut big = ZsetValue::new_for(1000, &ZsetLimits::default());
        add(&mut big, "a", -0.0);
        assert!(big.score(b"a").unwrap().is_sign_negative());
        assert_eq!(
            listpack_score_text(123456789012345678.0),
            b"123456789012345680"
        );
        assert_eq!(listpack_score_text(1e19), b"1e+19");
        assert_eq!(listpack_score_text(0.5), b"0.5");
    }

    #[test]
    fn flags() {
        let mut z = ZsetValue::new_for(1, &ZsetLimits::default());
        let l = ZsetLimits::default();
        add(&mut z, "a", 5.0);
        let f = |nx, xx, gt, lt, incr| AddFlags {
            nx,
            xx,
            gt,
            lt,
            incr,
        };
        assert_eq!(
            z.add(b"a", 1.0, f(true, false, false, false, false), &l),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(b"b", 1.0, f(false, true, false, false, false), &l),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(b"a", 4.0, f(false, false, true, false, false), &l),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(b"a", 6.0, f(false, false, true, false, false), &l),
            AddOutcome::Updated(6.0)
        );
        assert_eq!(
            z.add(b"a", 1.0, f(false, false, false, true, true), &l),
            AddOutcome::Nop
        );
        assert_eq!(
            z.add(b"a", -1.0, f(false, false, false, true, true), &l),
            AddOutcome::Updated(5.0)
        );
        assert_eq!(
            z.add(b"a", 0.0, f(false, false, false, false, true), &l),
            AddOutcome::Same(5.0)
        );
        add(&mut z, "a", f64::INFINITY);
        assert_eq!(
            z.add(
                b"a",
                f64::NEG_INFINITY,
                f(false, false, false, false, true),
                &l
            ),
            AddOutcome::Nan
        );
    }

    #[test]
    fn ranges() {
        for lim in [
            ZsetLimits::default(),
            ZsetLimits {
                max_entries: 0,
                max_value: 64,
            },
        ] {
            let mut z = ZsetValue::new_for(1, &lim);
            for i in 0..10 {
                z.add(
                    format!("m{i}").as_bytes(),
                    i as f64,
                    AddFlags::default(),
                    &lim,
                );
            }
            let r = ScoreRange {
                min: 2.0,
                max: 5.0,
                minex: true,
                maxex: false,
            };
            assert_eq!(z.score_span(&r), (3, 6));
            let r = ScoreRange {
                min: 5.0,
                max: 2.0,
                minex: false,
                maxex: false,
            };
            let (lo, hi) = z.score_span(&r);
            assert_eq!(lo, hi);
            let lr = LexRange {
                min: LexBound::Incl(b"m3".to_vec()),
                max: LexBound::Excl(b"m6".to_vec()),
            };
            assert_eq!(z.lex_span(&lr, false), (3, 6));
            assert_eq!(z.lex_span(&lr, true), (3, 6));
            assert_eq!(z.remove_span(3, 6), 3);
            assert_eq!(z.len(), 7);
            assert_eq!(z.pop(true), Some((b"m9".to_vec(), 9.0)));
            assert_eq!(z.pop(false), Some((b"m0".to_vec(), 0.0)));
            assert_eq!(z.rank(b"m1", false), Some((0, 1.0)));
        }
        let bad = LexRange {
            min: LexBound::Max,
            max: LexBound::Min,
        };
        assert!(!bad.may_match());
        let empty = LexRange {
            min: LexBound::Excl(b"a".to_vec()),
            max: LexBound::Incl(b"a".to_vec()),
        };
        assert!(!empty.may_match());
        let dash = LexRange {
            min: LexBound::Min,
            max: LexBound::Min,
        };
        assert!(!dash.may_match());
    }

    #[test]
    fn skiplist_matches_a_model() {
        let lim = ZsetLimits {
            max_entries: 0,
            max_value: 64,
        };
        let mut rng = Rng::seeded(7);
        let mut z = ZsetValue::new_for(1, &lim);
        let mut model: BTreeMap<String, f64> = BTreeMap::new();
        for step in 0..20_000 {
            let m = format!("k{}", rng.below(700));
            match rng.below(4) {
                0 | 1 => {
                    let s = rng.below(100) as f64 / 4.0;
                    z.add(m.as_bytes(), s, AddFlags::default(), &lim);
                    model.insert(m, s);
                }
                2 => assert_eq!(z.remove(m.as_bytes()), model.remove(&m)),
                _ => {
                    let lo = rng.below(z.len() as u64 + 1) as usize;
                    let cnt = z.remove_span(lo, lo + 3);
                    let mut order: Vec<(String, f64)> =
                        model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                    order.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
                    for (k, _) in order.iter().skip(lo).take(cnt) {
                        model.remove(k);
                    }
                }
            }
            if step % 1000 == 0 {
                let mut order: Vec<(String, f64)> =
                    model.iter().map(|(k, v)| (k.clone(), *v)).collect();
                order.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap().then(a.0.cmp(&b.0)));
                assert_eq!(members(&z), order);
                for (r, (k, s)) in order.iter().enumerate() {
                    assert_eq!(z.rank(k.as_bytes(), false), Some((r, *s)));
                    assert_eq!(z.score(k.as_bytes()), Some(*s));
                }
            }
        }
    }
}
