//! Sets: the `intset` encoding (sorted integers), a small `listpack`-style
//! vector, and the `hashtable` encoding (a dense vector of members indexed by
//! a hash table), with Redis's one-way conversions between them.
//!
//! Rules for whoever changes this:
//! - Conversions only ever go intset → listpack → hashtable (or intset →
//!   hashtable), never back, as in Redis; thresholds come in `SetLimits`
//!   (set-max-intset-entries, set-max-listpack-entries/value).
//! - OBJECT ENCODING reports the small vector as `hashtable`: Redis 7.2 calls
//!   it `listpack`, but Redis 7.0 (which CI compares against) has no set
//!   listpack and reports `hashtable` for every set that is not an intset.
//!   The conversion points to and from `intset` are the same in both.
//! - The hashtable's dense vector only changes by push and swap-remove, and
//!   SSCAN walks it from the end down: a member present for a whole scan is
//!   returned at least once, whatever is added or removed meanwhile.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use super::Key;
use super::bytes::malloc_size;
use super::member_index::MemberIndex;
use crate::util::number::parse_i64;

/// Conversion thresholds, read from the config by the command layer.
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    pub max_intset: usize,
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

impl Default for SetLimits {
    fn default() -> SetLimits {
        SetLimits {
            max_intset: 512,
            max_listpack_entries: 128,
            max_listpack_value: 64,
        }
    }
}

/// The seed for member hashes: one per process, so a peer cannot precompute collisions.
static HASHER: LazyLock<foldhash::fast::FixedState> = LazyLock::new(|| {
    foldhash::fast::FixedState::with_seed(crate::util::rng::random_below(u64::MAX))
});

/// Hash of a member (sets, sorted sets).
#[inline]
pub(crate) fn member_hash(b: &[u8]) -> u64 {
    HASHER.hash_one(b)
}

/// A member as stored: integer (intset) or bytes.
#[derive(Clone, Copy, Debug)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's bytes (integers formatted on the stack).
    #[inline]
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(i) => {
                let mut buf = [0u8; 20];
                f(crate::reply::fmt_i64(i, &mut buf))
            }
            Member::Bytes(b) => f(b),
        }
    }

    pub fn to_vec(self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The integer value when the bytes are one as Redis's string2ll reads it.
    fn as_int(self) -> Option<i64> {
        match self {
            Member::Int(i) => Some(i),
            Member::Bytes(b) => parse_i64(b),
        }
    }
}

/// Large sets: members in a dense vector, found through a hash table of
/// their positions.
#[derive(Clone, Default)]
pub struct BigSet {
    items: Vec<Key>,
    index: MemberIndex,
    /// Heap bytes owned by the members themselves (long ones).
    member_heap: usize,
}

impl BigSet {
    fn with_capacity(n: usize) -> BigSet {
        BigSet {
            items: Vec::with_capacity(n),
            index: MemberIndex::with_capacity(n),
            member_heap: 0,
        }
    }

    #[inline]
    fn find(&self, m: &[u8]) -> Option<usize> {
        let items = &self.items;
        self.index
            .find(member_hash(m), |i| *items[i as usize] == *m)
            .map(|i| i as usize)
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        let h = member_hash(m);
        let items = &self.items;
        if self.index.find(h, |i| *items[i as usize] == *m).is_some() {
            return false;
        }
        assert!(self.items.len() < u32::MAX as usize, "set too large");
        let pos = self.items.len() as u32;
        let key = Key::new(m);
        self.member_heap += key.heap_size();
        self.items.push(key);
        self.index.insert(h, pos);
        true
    }

    /// Removes the member at `pos`, moving the last one into its place.
    fn remove_at(&mut self, pos: usize) -> Key {
        self.index.remove(member_hash(&self.items[pos]), pos as u32);
        let last = self.items.len() - 1;
        if pos != last {
            self.index
                .repoint(member_hash(&self.items[last]), last as u32, pos as u32);
        }
        let key = self.items.swap_remove(pos);
        self.member_heap -= key.heap_size();
        let (len, cap) = (self.items.len(), self.items.capacity());
        if cap > 64 && len < cap / 4 {
            self.items.shrink_to(len * 2);
        }
        key
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        match self.find(m) {
            Some(pos) => {
                self.remove_at(pos);
                true
            }
            None => false,
        }
    }

    fn heap_size(&self) -> usize {
        malloc_size(self.items.capacity() * std::mem::size_of::<Key>())
            + self.index.heap_size()
            + self.member_heap
    }
}

/// A set value.
#[derive(Clone)]
pub enum SetValue {
    /// Sorted integers (`intset`).
    Intset(Vec<i64>),
    /// A few short members, in insertion order (Redis 7.2's `listpack`).
    Listpack(Vec<Key>),
    Hashtable(Box<BigSet>),
}

impl SetValue {
    /// An empty set of the encoding Redis gives a new set whose first member
    /// is `first` (`setTypeCreate`).
    pub fn new_for(first: &[u8], lim: &SetLimits) -> SetValue {
        if lim.max_intset >= 1 && parse_i64(first).is_some() {
            SetValue::Intset(Vec::new())
        } else if lim.max_listpack_entries >= 1 {
            SetValue::Listpack(Vec::new())
        } else {
            SetValue::Hashtable(Box::default())
        }
    }

    /// An empty intset: where set-algebra destinations start, as in Redis.
    pub fn new_intset() -> SetValue {
        SetValue::Intset(Vec::new())
    }

    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(v) => v.len(),
            SetValue::Listpack(v) => v.len(),
            SetValue::Hashtable(b) => b.items.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's answer (see the module notes on `listpack`).
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            SetValue::Listpack(_) | SetValue::Hashtable(_) => "hashtable",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Intset(v) => malloc_size(v.capacity() * 8),
            SetValue::Listpack(v) => {
                malloc_size(v.capacity() * std::mem::size_of::<Key>())
                    + v.iter().map(Key::heap_size).sum::<usize>()
            }
            SetValue::Hashtable(b) => b.heap_size(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => parse_i64(m).is_some_and(|i| v.binary_search(&i).is_ok()),
            SetValue::Listpack(v) => v.iter().any(|k| **k == *m),
            SetValue::Hashtable(b) => b.find(m).is_some(),
        }
    }

    /// Membership of a member taken from another set.
    pub fn contains_member(&self, m: Member) -> bool {
        match (self, m) {
            (SetValue::Intset(v), Member::Int(i)) => v.binary_search(&i).is_ok(),
            _ => m.with_bytes(|b| self.contains(b)),
        }
    }

    /// Adds `m`; false if it was already a member. Converts as Redis does.
    pub fn add(&mut self, m: &[u8], lim: &SetLimits) -> bool {
        self.add_member(Member::Bytes(m), lim)
    }

    pub fn add_member(&mut self, m: Member, lim: &SetLimits) -> bool {
        match self {
            SetValue::Intset(v) => {
                if let Some(i) = m.as_int() {
                    let Err(pos) = v.binary_search(&i) else {
                        return false;
                    };
                    v.insert(pos, i);
                    if v.len() > lim.max_intset {
                        self.convert_to_hashtable();
                    }
                    return true;
                }
                // A non-integer: a small vector if everything fits, else a hash table.
                let len = m.with_bytes(|b| b.len());
                let widest = match (v.first(), v.last()) {
                    (Some(a), Some(b)) => digits(*a).max(digits(*b)),
                    _ => 0,
                };
                if v.len() < lim.max_listpack_entries
                    && len <= lim.max_listpack_value
                    && widest <= lim.max_listpack_value
                {
                    let mut lp: Vec<Key> = Vec::with_capacity(v.len() + 1);
                    lp.extend(v.iter().map(|&i| Member::Int(i).with_bytes(Key::new)));
                    lp.push(m.with_bytes(Key::new));
                    *self = SetValue::Listpack(lp);
                } else {
                    self.convert_to_hashtable();
                    m.with_bytes(|b| self.insert_hashtable(b));
                }
                true
            }
            SetValue::Listpack(v) => {
                let fits = m.with_bytes(|b| {
                    if v.iter().any(|k| **k == *b) {
                        return None;
                    }
                    if v.len() < lim.max_listpack_entries && b.len() <= lim.max_listpack_value {
                        v.push(Key::new(b));
                        return Some(true);
                    }
                    Some(false)
                });
                match fits {
                    None => false,
                    Some(true) => true,
                    Some(false) => {
                        self.convert_to_hashtable();
                        m.with_bytes(|b| self.insert_hashtable(b))
                    }
                }
            }
            SetValue::Hashtable(h) => m.with_bytes(|b| h.insert(b)),
        }
    }

    fn insert_hashtable(&mut self, b: &[u8]) -> bool {
        match self {
            SetValue::Hashtable(h) => h.insert(b),
            _ => unreachable!("converted to hashtable"),
        }
    }

    fn convert_to_hashtable(&mut self) {
        let mut big = BigSet::with_capacity(self.len() + 1);
        self.for_each(|m| {
            m.with_bytes(|b| big.insert(b));
        });
        *self = SetValue::Hashtable(Box::new(big));
    }

    /// Removes `m`; false if it was not a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(v) => match parse_i64(m).map(|i| v.binary_search(&i)) {
                Some(Ok(pos)) => {
                    v.remove(pos);
                    true
                }
                _ => false,
            },
            SetValue::Listpack(v) => match v.iter().position(|k| **k == *m) {
                Some(pos) => {
                    v.remove(pos);
                    true
                }
                None => false,
            },
            SetValue::Hashtable(h) => h.remove(m),
        }
    }

    pub fn remove_member(&mut self, m: Member) -> bool {
        match (&mut *self, m) {
            (SetValue::Intset(v), Member::Int(i)) => match v.binary_search(&i) {
                Ok(pos) => {
                    v.remove(pos);
                    true
                }
                Err(_) => false,
            },
            _ => m.with_bytes(|b| self.remove(b)),
        }
    }

    /// The member at position `i` (< len) in storage order: O(1), for
    /// random sampling.
    #[inline]
    pub fn get(&self, i: usize) -> Member<'_> {
        match self {
            SetValue::Intset(v) => Member::Int(v[i]),
            SetValue::Listpack(v) => Member::Bytes(&v[i]),
            SetValue::Hashtable(h) => Member::Bytes(&h.items[i]),
        }
    }

    /// Removes and returns the member at position `i` (< len).
    pub fn take(&mut self, i: usize) -> Vec<u8> {
        match self {
            SetValue::Intset(v) => Member::Int(v.remove(i)).to_vec(),
            SetValue::Listpack(v) => v.swap_remove(i).to_vec(),
            SetValue::Hashtable(h) => h.remove_at(i).to_vec(),
        }
    }

    /// Every member, in storage order (intsets ascending).
    pub fn for_each(&self, mut f: impl FnMut(Member)) {
        match self {
            SetValue::Intset(v) => v.iter().for_each(|&i| f(Member::Int(i))),
            SetValue::Listpack(v) => v.iter().for_each(|k| f(Member::Bytes(k))),
            SetValue::Hashtable(h) => h.items.iter().for_each(|k| f(Member::Bytes(k))),
        }
    }

    /// One SSCAN step from `cursor`, visiting about `count` members; returns
    /// the next cursor (0 when done). Small encodings are returned whole, as
    /// Redis does.
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(Member)) -> u64 {
        let SetValue::Hashtable(h) = self else {
            self.for_each(f);
            return 0;
        };
        // The cursor is the number of positions not visited yet (0 = start).
        let len = h.items.len();
        let mut pos = if cursor == 0 || cursor as usize > len {
            len
        } else {
            cursor as usize
        };
        let stop = pos.saturating_sub(count.max(1));
        while pos > stop {
            pos -= 1;
            f(Member::Bytes(&h.items[pos]));
        }
        pos as u64
    }
}

fn digits(i: i64) -> usize {
    let mut buf = [0u8; 20];
    crate::reply::fmt_i64(i, &mut buf).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> SetLimits {
        SetLimits::default()
    }

    fn sorted(s: &SetValue) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        s.for_each(|m| v.push(m.to_vec()));
        v.sort();
        v
    }

    #[test]
    fn intset_then_listpack_then_hashtable() {
        let l = lim();
        let mut s = SetValue::new_for(b"1", &l);
        assert!(s.add(b"3", &l) && s.add(b"1", &l) && !s.add(b"1", &l));
        assert!(s.add(b"-2", &l));
        assert_eq!(s.encoding(), "intset");
        assert!(s.contains(b"-2") && !s.contains(b"2") && !s.contains(b"01"));
        // "01" is not an integer as Redis reads it: the set leaves intset
        assert!(s.add(b"01", &l));
        assert!(matches!(s, SetValue::Listpack(_)));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"3") && s.contains(b"01"));
        for i in 0..200 {
            s.add(format!("m{i}").as_bytes(), &l);
        }
        assert!(matches!(s, SetValue::Hashtable(_)));
        assert_eq!(s.len(), 204);
        assert!(s.remove(b"m5") && !s.remove(b"m5"));
        assert!(s.contains(b"m199") && s.contains(b"-2"));
        assert_eq!(sorted(&s).len(), 203);
    }

    #[test]
    fn intset_overflows_to_hashtable() {
        let l = SetLimits {
            max_intset: 4,
            ..lim()
        };
        let mut s = SetValue::new_intset();
        for i in 0..5 {
            s.add(i.to_string().as_bytes(), &l);
        }
        assert!(matches!(s, SetValue::Hashtable(_)));
        assert!(s.contains(b"4"));
    }

    #[test]
    fn long_member_skips_listpack() {
        let l = lim();
        let mut s = SetValue::new_for(b"x", &l);
        assert!(matches!(s, SetValue::Listpack(_)));
        s.add(&[b'a'; 65], &l);
        assert!(matches!(s, SetValue::Hashtable(_)));
    }

    #[test]
    fn scan_returns_everything_present_throughout() {
        let l = lim();
        let mut s = SetValue::new_for(b"x", &l);
        for i in 0..1000 {
            s.add(format!("k{i}").as_bytes(), &l);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = s.scan(cursor, 10, |m| {
                seen.insert(m.to_vec());
            });
            // churn: remove some already-visited and unvisited members, add new ones
            round += 1;
            s.remove(format!("k{}", round * 7 % 1000).as_bytes());
            s.add(format!("new{round}").as_bytes(), &l);
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            let k = format!("k{i}");
            let removed = (1..=round).any(|r| r * 7 % 1000 == i);
            if !removed {
                assert!(seen.contains(k.as_bytes()), "{k} missed");
            }
        }
    }

    #[test]
    fn take_and_get() {
        let l = lim();
        let mut s = SetValue::new_for(b"a", &l);
        for m in [&b"a"[..], b"b", b"c"] {
            s.add(m, &l);
        }
        let got = s.take(1);
        assert_eq!(s.len(), 2);
        assert!(!s.contains(&got));
    }
}
