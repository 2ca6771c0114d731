//! `MemberIndex`: the hash index from member to slot position used by large
//! sets and sorted sets (their members live in a dense vector; this finds
//! them).
//!
//! Open addressing with linear probing over 8-byte buckets: the high 32 bits
//! of the member's hash (the tag) beside the position + 1 (0 = empty). The
//! home bucket comes from the tag too, so growing never rereads members, and
//! a lookup reads one cache line of buckets (rarely two) before the member
//! itself. Removal shifts the following run back (no tombstones).

#[derive(Clone, Default)]
pub(crate) struct MemberIndex {
    buckets: Vec<u64>,
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

impl MemberIndex {
    pub fn with_capacity(n: usize) -> MemberIndex {
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
        self.buckets.capacity() * 8
    }

    /// The position whose member `eq` accepts, among those hashing to `h`.
    #[inline]
    pub fn find(&self, h: u64, eq: impl Fn(u32) -> bool) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let t = tag(h);
        let mut i = self.home(t);
        loop {
            let e = self.buckets[i];
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == t && eq(entry_pos(e)) {
                return Some(entry_pos(e));
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds `pos` under hash `h` (the caller knows the member is absent).
    pub fn insert(&mut self, h: u64, pos: u32) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.rebuild(Self::buckets_for(self.len + 1).max(self.buckets.len() * 2));
        }
        self.place(entry(tag(h), pos));
        self.len += 1;
    }

    fn place(&mut self, e: u64) {
        let mut i = self.home((e >> 32) as u32);
        while self.buckets[i] != 0 {
            i = (i + 1) & self.mask();
        }
        self.buckets[i] = e;
    }

    fn rebuild(&mut self, nb: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![0; nb]);
        for e in old {
            if e != 0 {
                self.place(e);
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
            match self.buckets[i] {
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
            let e = self.buckets[j];
            if e == 0 {
                break;
            }
            // `e` may fill the hole if the hole lies between its home and j
            let k = self.home((e >> 32) as u32);
            if (j.wrapping_sub(k) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.buckets[hole] = e;
                hole = j;
            }
        }
        self.buckets[hole] = 0;
        self.len -= 1;
        if self.buckets.len() > 64 && self.len * 8 < self.buckets.len() {
            self.rebuild(Self::buckets_for(self.len * 2));
        }
        true
    }

    /// Points the entry for `old` (hashed `h`) at `new`.
    pub fn repoint(&mut self, h: u64, old: u32, new: u32) {
        if let Some(i) = self.slot_of(h, old) {
            self.buckets[i] = entry(tag(h), new);
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
        let mut ix = MemberIndex::default();
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
}
