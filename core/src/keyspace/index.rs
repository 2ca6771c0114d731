//! A slot's index: open addressing with linear probing over 8-byte buckets
//! that hold 32 bits of the key's hash (the tag) and the entry's position in
//! the slot's dense entry vector.
//!
//! Why not a SwissTable of positions: its control bytes and its buckets live
//! in two arrays, so a lookup in a table too big for the cache misses twice
//! before it even reaches the entry. Here the tag and the position share a
//! bucket, and the probe sequence is consecutive buckets (8 to a cache line),
//! so a lookup costs one miss for the index and one for the entry; a tag
//! mismatch never touches an entry. The tag also gives the home bucket, so
//! growing and deleting (backward shift) never rehash keys.

/// An empty bucket (no entry has position `u32::MAX`).
const EMPTY: u64 = u64::MAX;
const MIN_BUCKETS: usize = 8;

#[inline]
fn tag(h: u64) -> u32 {
    h as u32
}

#[inline]
fn pack(tag: u32, pos: u32) -> u64 {
    ((tag as u64) << 32) | pos as u64
}

#[derive(Default, Clone)]
pub(super) struct Index {
    buckets: Box<[u64]>,
    len: usize,
}

impl Index {
    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len() - 1
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask()
    }

    /// The bucket holding a position for which `eq` is true, among those
    /// whose tag matches `h`.
    #[inline]
    pub fn find(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let t = tag(h);
        let mask = self.mask();
        let mut p = self.home(t);
        loop {
            let b = self.buckets[p];
            if b == EMPTY {
                return None;
            }
            if (b >> 32) as u32 == t && eq(b as u32) {
                return Some(p);
            }
            p = (p + 1) & mask;
        }
    }

    /// The entry position stored in bucket `p`.
    #[inline]
    pub fn pos(&self, p: usize) -> usize {
        self.buckets[p] as u32 as usize
    }

    /// Points bucket `p` at entry position `pos` (same key).
    pub fn set_pos(&mut self, p: usize, pos: u32) {
        let t = (self.buckets[p] >> 32) as u32;
        self.buckets[p] = pack(t, pos);
    }

    /// Adds (h, pos); the key must not be present.
    pub fn insert(&mut self, h: u64, pos: u32) {
        // at most 3/4 full: short probe runs
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.resize((self.buckets.len() * 2).max(MIN_BUCKETS));
        }
        self.place(pack(tag(h), pos));
        self.len += 1;
    }

    fn place(&mut self, b: u64) {
        let mask = self.mask();
        let mut p = self.home((b >> 32) as u32);
        while self.buckets[p] != EMPTY {
            p = (p + 1) & mask;
        }
        self.buckets[p] = b;
    }

    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; n].into_boxed_slice());
        for b in old.iter().copied().filter(|&b| b != EMPTY) {
            self.place(b);
        }
    }

    /// Empties bucket `p`, shifting later members of its probe run back so
    /// every lookup still finds them.
    pub fn remove_at(&mut self, mut hole: usize) {
        let mask = self.mask();
        let mut p = (hole + 1) & mask;
        loop {
            let b = self.buckets[p];
            if b == EMPTY {
                break;
            }
            let home = self.home((b >> 32) as u32);
            // `b` may fill the hole unless its home lies after the hole
            // (cyclically, in (hole, p])
            if (p.wrapping_sub(home) & mask) >= (p.wrapping_sub(hole) & mask) {
                self.buckets[hole] = b;
                hole = p;
            }
            p = (p + 1) & mask;
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        if self.len == 0 {
            self.buckets = Box::new([]);
        } else if self.len * 8 < self.buckets.len() && self.buckets.len() > MIN_BUCKETS {
            self.resize((self.len * 2).next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Buckets allocated (for memory accounting).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index against a model (a plain vector of (hash, pos)), with
    /// hashes crowded into few home buckets so probe runs wrap and collide.
    #[test]
    fn matches_a_model_through_inserts_and_removes() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut idx = Index::default();
        let mut model: Vec<(u64, u32)> = Vec::new();
        let mut next = 0u32;
        for step in 0..20_000 {
            let r = rnd();
            // few distinct low bits: many equal homes; distinct high bits keep tags apart
            let h = (r & 0xffff_ffff_0000_0000) | (r & 0x1f);
            if r % 3 != 0 || model.is_empty() {
                idx.insert(h, next);
                model.push((h, next));
                next += 1;
            } else {
                let k = (rnd() as usize) % model.len();
                let (mh, mp) = model.swap_remove(k);
                let p = idx.find(mh, |pos| pos == mp).expect("present");
                idx.remove_at(p);
            }
            if step % 97 == 0 {
                for &(mh, mp) in &model {
                    let p = idx
                        .find(mh, |pos| pos == mp)
                        .expect("every member is found");
                    assert_eq!(idx.pos(p), mp as usize);
                }
                assert_eq!(idx.len, model.len());
            }
        }
        for (mh, mp) in model.drain(..) {
            let p = idx.find(mh, |pos| pos == mp).unwrap();
            idx.remove_at(p);
        }
        assert_eq!(idx.len, 0);
        assert_eq!(idx.buckets(), 0);
    }
}
