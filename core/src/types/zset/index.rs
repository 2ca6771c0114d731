//! `ScoreIndex`: member → (slab position, score) for large sorted sets.
//!
//! The same open addressing as `types::member_index` (linear probing, the
//! home bucket taken from the high 32 bits of the member's hash, removal by
//! shifting the run back), but each 16-byte bucket also holds the member's
//! score. A lookup thus learns the score from the bucket it reads anyway:
//! ZSCORE, ZRANK and ZADD can go on (the tree walk starts) while the
//! member's bytes in the slab are still being fetched for the equality
//! check, instead of after it.
//!
//! Rule for whoever changes this: a bucket's score is the slab slot's score;
//! every path that changes one changes the other (`set_score`).

#[derive(Clone, Copy, Default)]
struct Bucket {
    /// Tag (high 32 bits) and position + 1 (low 32 bits); 0 = empty.
    key: u64,
    score: f64,
}

#[derive(Clone, Default)]
pub(crate) struct ScoreIndex {
    buckets: Vec<Bucket>,
    len: usize,
}

#[inline]
fn tag(h: u64) -> u32 {
    (h >> 32) as u32
}

#[inline]
fn key(t: u32, pos: u32) -> u64 {
    ((t as u64) << 32) | (pos as u64 + 1)
}

#[inline]
fn key_pos(k: u64) -> u32 {
    (k as u32).wrapping_sub(1)
}

impl ScoreIndex {
    pub fn with_capacity(n: usize) -> ScoreIndex {
        let mut ix = ScoreIndex::default();
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
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }

    /// The position and score of the member `eq` accepts among those hashing
    /// to `h`.
    #[inline]
    pub fn find(&self, h: u64, eq: impl Fn(u32) -> bool) -> Option<(u32, f64)> {
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
            if (b.key >> 32) as u32 == t && eq(key_pos(b.key)) {
                return Some((key_pos(b.key), b.score));
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds `pos` with `score` under hash `h` (the member is absent).
    pub fn insert(&mut self, h: u64, pos: u32, score: f64) {
        if (self.len + 1) * 4 > self.buckets.len() * 3 {
            self.rebuild(Self::buckets_for(self.len + 1).max(self.buckets.len() * 2));
        }
        self.place(Bucket {
            key: key(tag(h), pos),
            score,
        });
        self.len += 1;
    }

    fn place(&mut self, b: Bucket) {
        let mut i = self.home((b.key >> 32) as u32);
        while self.buckets[i].key != 0 {
            i = (i + 1) & self.mask();
        }
        self.buckets[i] = b;
    }

    fn rebuild(&mut self, nb: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); nb]);
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
        let want = key(tag(h), pos);
        let mut i = self.home(tag(h));
        loop {
            match self.buckets[i].key {
                0 => return None,
                k if k == want => return Some(i),
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
            self.buckets[i].key = key(tag(h), new);
        }
    }

    /// Records `score` as the score of `pos` (hashed `h`).
    pub fn set_score(&mut self, h: u64, pos: u32, score: f64) {
        if let Some(i) = self.slot_of(h, pos) {
            self.buckets[i].score = score;
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
        let mut rng = Rng::seeded(5);
        let mut ix = ScoreIndex::default();
        let mut model: HashMap<u64, (u32, f64)> = HashMap::new();
        // few distinct tags so probe runs are long and wrap around
        let hash = |k: u64| (k % 97) << 32 | k;
        for step in 0..50_000u32 {
            let k = rng.below(3000);
            let h = hash(k);
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
                    ix.set_score(h, pos, s);
                    model.insert(k, (pos, s));
                }
                None => {
                    let s = -(step as f64);
                    ix.insert(h, step, s);
                    model.insert(k, (step, s));
                }
            }
            if step % 1000 == 0 {
                for (&k, &(pos, s)) in &model {
                    assert_eq!(ix.find(hash(k), |p| p == pos), Some((pos, s)));
                }
                assert_eq!(ix.len, model.len());
            }
        }
        for (&k, &(pos, _)) in &model {
            assert!(ix.remove(hash(k), pos));
        }
        assert_eq!(ix.len, 0);
        assert!(ix.buckets.len() <= 64);
        assert_eq!(ix.find(hash(5), |_| true), None);
    }
}
