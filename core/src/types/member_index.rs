//! `MemberIndex`: the hash index from member to slot position used by large
//! sets and sorted sets (their members live in a dense vector; this finds
//! them).
//!
//! Open addressing with linear probing over 8-byte buckets: the high 32 bits
//! of the member's hash (the tag) beside the position + 1 (0 = empty). The
//! home bucket comes from the tag too, so growing never rereads members, and
//! a lookup reads one cache line of buckets (rarely two) before the member
//! itself. Removal shifts the following run back (no tombstones).
//!
//! A bucket may carry a small payload `P` beside that word. Sets carry none
//! (`()`: 8-byte buckets); sorted sets keep the member's score there, so a
//! lookup learns the score from the bucket it reads anyway and the work that
//! needs only the score (the tree walk of ZRANK, ZADD) can start while the
//! member's bytes are still being fetched for the equality check. Whoever
//! changes a member's payload elsewhere changes it here too (`set_payload`).

#[derive(Clone, Copy, Default)]
struct Bucket<P> {
    /// Tag (high 32 bits) and position + 1 (low 32 bits); 0 = empty.
    key: u64,
    payload: P,
}

#[derive(Clone, Default)]
pub(crate) struct MemberIndex<P: Copy + Default = ()> {
    buckets: Vec<Bucket<P>>,
    len: usize,
}

#[inline]
fn tag(h: u64) -> u32 {
    (h >> 32) as u32
}

#[inline]
fn entry(t: u32, pos: u32) -> u64 {
    ((t as u64) << 32) | (pos as u64 + 1)
}

#[inline]
fn entry_pos(e: u64) -> u32 {
    (e as u32).wrapping_sub(1)
}

impl<P: Copy + Default> MemberIndex<P> {
    pub fn with_capacity(n: usize) -> MemberIndex<P> {
        let mut ix = MemberIndex::default();
        if n > 0 {
            ix.rebuild(Self::buckets_for(n));
        }
        ix
    }

    /// Buckets for `n` entries at most 3/4 full.
    fn buckets_for(n: usize) -> usize {
        (n * 4 / 3 + 1).next_power_of_two().max(8)
    }

    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    #[inline]
    fn home(&self, t: u32) -> usize {
        t as usize & self.mask()
    }

    pub fn heap_size(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket<P>>()
    }

    /// Starts loading the bucket a lookup of hash `h` reads first, so work
    /// done before the lookup overlaps its wait. Only a hint.
    #[inline]
    pub fn prefetch(&self, h: u64) {
        if !self.buckets.is_empty() {
            crate::types::zset::prefetch(&self.buckets[self.home(tag(h))]);
        }
    }

    /// The position whose member `eq` accepts, among those hashing to `h`.
    #[inline]
    pub fn find(&self, h: u64, eq: impl Fn(u32) -> bool) -> Option<u32> {
        self.find_with(h, eq).map(|(pos, _)| pos)
    }

    /// `find`, with the entry's payload.
    #[inline]
    pub fn find_with(&self, h: u64, eq: impl Fn(u32) -> bool) -> Option<(u32, P)> {
        self.find_then(h, eq, |_, _| ())
            .map(|(pos, p, ())| (pos, p))
    }

    /// `find_with`, running `work(pos, payload)` on each candidate (a bucket
    /// whose tag matches) before `eq` confirms it, and returning the
    /// confirmed candidate's result. `work` that needs only the payload then
    /// overlaps the wait for the member's bytes that `eq` reads; a candidate
    /// `eq` rejects (another member with the same 32-bit tag) costs one
    /// wasted `work`.
    #[inline]
    pub fn find_then<R>(
        &self,
        h: u64,
        eq: impl Fn(u32) -> bool,
        mut work: impl FnMut(u32, P) -> R,
    ) -> Option<(u32, P, R)> {
        if self.buckets.is_empty() {
            return None;
        }
        let t = tag(h);
        let mut i = self.home(t);
        loop {
            let b = self.buckets[i];
            if b.key == 0 {
                return None;
            }
            if (b.key >> 32) as u32 == t {
                let pos = entry_pos(b.key);
                let r = work(pos, b.payload);
                if eq(pos) {
                    return Some((pos, b.payload, r));
                }
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds `pos` under hash `h` (the caller knows the member is absent).
    pub fn insert(&mut self, h: u64, pos: u32) {
        self.insert_with(h, pos, P::default())
    }

    /// `insert`, with a payload.
    pub fn insert_with(&mut self, h: u64, pos: u32, payload: P) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.rebuild(Self::buckets_for(self.len + 1).max(self.buckets.len() * 2));
        }
        self.place(Bucket {
            key: entry(tag(h), pos),
            payload,
        });
        self.len += 1;
    }

    fn place(&mut self, b: Bucket<P>) {
        let mut i = self.home((b.key >> 32) as u32);
        while self.buckets[i].key != 0 {
            i = (i + 1) & self.mask();
        }
        self.buckets[i] = b;
    }

    fn rebuild(&mut self, nb: usize) {
        // large tables are read at random: huge pages, asked for before the
        // buckets are first written
        let mut fresh = crate::util::hugepage::vec_with_capacity(nb);
        fresh.resize(nb, Bucket::default());
        let old = std::mem::replace(&mut self.buckets, fresh);
        for b in old {
            if b.key != 0 {
                self.place(b);
            }
        }
    }

    /// The bucket holding `pos` under hash `h`.
    fn slot_of(&self, h: u64, pos: u32) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let want = entry(tag(h), pos);
        let mut i = self.home(tag(h));
        loop {
            match self.buckets[i].key {
                0 => return None,
                e if e == want => return Some(i),
                _ => i = (i + 1) & self.mask(),
            }
        }
    }

    /// Removes `pos` (hashed `h`); false if it was not there.
    pub fn remove(&mut self, h: u64, pos: u32) -> bool {
        let Some(mut hole) = self.slot_of(h, pos) else {
            return false;
        };
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let b = self.buckets[j];
            if b.key == 0 {
                break;
            }
            // `b` may fill the hole if the hole lies between its home and j
            let k = self.home((b.key >> 32) as u32);
            if (j.wrapping_sub(k) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.buckets[hole] = b;
                hole = j;
            }
        }
        self.buckets[hole] = Bucket::default();
        self.len -= 1;
        if self.buckets.len() > 64 && self.len * 8 < self.buckets.len() {
            self.rebuild(Self::buckets_for(self.len * 2));
        }
        true
    }

    /// Points the entry for `old` (hashed `h`) at `new`.
    pub fn repoint(&mut self, h: u64, old: u32, new: u32) {
        if let Some(i) = self.slot_of(h, old) {
            self.buckets[i].key = entry(tag(h), new);
        }
    }

    /// Replaces the payload of `pos` (hashed `h`).
    pub fn set_payload(&mut self, h: u64, pos: u32, payload: P) {
        if let Some(i) = self.slot_of(h, pos) {
            self.buckets[i].payload = payload;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;
    use std::collections::HashMap;

    #[test]
    fn random_ops_match_a_hashmap() {
        let mut rng = Rng::seeded(3);
        let mut ix: MemberIndex = MemberIndex::default();
        let mut model: HashMap<u64, u32> = HashMap::new();
        // few distinct tags so probe runs are long and wrap around
        let key = |k: u64| (k % 97) << 32 | k;
        for step in 0..50_000u32 {
            let k = rng.below(3000);
            let h = key(k);
            match model.get(&k).copied() {
                Some(pos) if rng.below(3) == 0 => {
                    assert!(ix.remove(h, pos));
                    model.remove(&k);
                }
                Some(pos) => {
                    ix.repoint(h, pos, step);
                    model.insert(k, step);
                }
                None => {
                    ix.insert(h, step);
                    model.insert(k, step);
                }
            }
            if step % 1000 == 0 {
                for (&k, &pos) in &model {
                    assert_eq!(ix.find(key(k), |p| p == pos), Some(pos));
                }
                assert_eq!(ix.len, model.len());
            }
        }
        for (&k, &pos) in &model {
            assert!(ix.remove(key(k), pos));
        }
        assert_eq!(ix.len, 0);
        assert!(ix.buckets.len() <= 64);
        assert_eq!(ix.find(key(5), |_| true), None);
    }

    #[test]
    fn payloads_follow_their_entries() {
        let mut rng = Rng::seeded(5);
        let mut ix: MemberIndex<f64> = MemberIndex::default();
        let mut model: HashMap<u64, (u32, f64)> = HashMap::new();
        let key = |k: u64| (k % 97) << 32 | k;
        for step in 0..50_000u32 {
            let k = rng.below(3000);
            let h = key(k);
            match model.get(&k).copied() {
                Some((pos, _)) if rng.below(3) == 0 => {
                    assert!(ix.remove(h, pos));
                    model.remove(&k);
                }
                Some((pos, s)) if rng.below(2) == 0 => {
                    ix.repoint(h, pos, step);
                    model.insert(k, (step, s));
                }
                Some((pos, _)) => {
                    let s = step as f64 / 3.0;
                    ix.set_payload(h, pos, s);
                    model.insert(k, (pos, s));
                }
                None => {
                    let s = -(step as f64);
                    ix.insert_with(h, step, s);
                    model.insert(k, (step, s));
                }
            }
            if step % 1000 == 0 {
                for (&k, &(pos, s)) in &model {
                    assert_eq!(ix.find_with(key(k), |p| p == pos), Some((pos, s)));
                    // `work` sees every candidate of the tag up to the match
                    let mut seen = Vec::new();
                    let got = ix.find_then(
                        key(k),
                        |p| p == pos,
                        |p, x| {
                            seen.push(p);
                            x * 2.0
                        },
                    );
                    assert_eq!(got, Some((pos, s, s * 2.0)));
                    assert_eq!(seen.last(), Some(&pos));
                }
                let absent = key(3000 + step as u64);
                assert_eq!(ix.find_then(absent, |_| false, |_, _| ()), None);
            }
        }
        assert_eq!(std::mem::size_of::<Bucket<()>>(), 8);
    }
}
