//! A slot's table: Robin Hood open addressing over the entries themselves.
//!
//! Why: a lookup in a table too big for the caches should cost one memory
//! miss. An index of positions into a dense entry vector costs two dependent
//! misses (index bucket, then entry). Here the entry sits in the probed cell:
//! its address follows from the hash alone, and the key comparison reads the
//! line the probe loads anyway. (An explicit prefetch of the next lines, where
//! a displaced entry lies, measured no better: the processor runs ahead into
//! the next probe on its own.)
//!
//! - Each entry keeps 32 bits of its hash (`Entry::tag`, in what would be
//!   padding), so a tag mismatch never compares keys, and growing, shrinking
//!   and deleting never rehash keys.
//! - The home cell is `tag * len >> 32` ("fast range"), so the table may be
//!   any size: it grows by a quarter at 7/8 full, which keeps memory per key
//!   near `size_of::<Entry>() / 0.78` with no separate index.
//! - Robin Hood order (an entry is never further from its home than the one
//!   probing past it) bounds a miss's probe by the displacements around it;
//!   deletion shifts the following run back (no tombstones).

use super::Entry;
use crate::util::same_bytes as same_key;

const MIN_CELLS: usize = 8;

#[derive(Default, Clone)]
pub(super) struct Table {
    cells: Box<[Option<Entry>]>,
    len: usize,
}

#[inline]
fn home(tag: u32, n: usize) -> usize {
    ((tag as u64 * n as u64) >> 32) as usize
}

impl Table {
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Cells allocated (for memory accounting).
    pub fn cells(&self) -> usize {
        self.cells.len()
    }

    /// How far cell `p` (holding an entry of tag `tag`) is from that entry's home.
    #[inline]
    fn displacement(&self, p: usize, tag: u32) -> usize {
        let n = self.cells.len();
        let h = home(tag, n);
        if p >= h { p - h } else { p + n - h }
    }

    /// The cell holding `key` (of hash tag `tag`).
    #[inline]
    pub fn find(&self, tag: u32, key: &[u8]) -> Option<usize> {
        let n = self.cells.len();
        if n == 0 {
            return None;
        }
        let mut p = home(tag, n);
        let mut d = 0;
        loop {
            let e = self.cells[p].as_ref()?;
            if e.tag == tag && same_key(&e.key, key) {
                return Some(p);
            }
            // Robin Hood order: `key` would have displaced this entry
            if self.displacement(p, e.tag) < d {
                return None;
            }
            d += 1;
            p += 1;
            if p == n {
                p = 0;
            }
        }
    }

    #[inline]
    pub fn get(&self, p: usize) -> &Entry {
        self.cells[p].as_ref().expect("occupied cell")
    }

    #[inline]
    pub fn get_mut(&mut self, p: usize) -> &mut Entry {
        self.cells[p].as_mut().expect("occupied cell")
    }

    /// Adds an entry whose key is not present.
    pub fn insert(&mut self, e: Entry) {
        let n = self.cells.len();
        if (self.len + 1) * 8 > n * 7 {
            self.resize((n + n / 4).max(n + 1).max(MIN_CELLS));
        }
        self.place(e);
        self.len += 1;
    }

    fn place(&mut self, mut carry: Entry) {
        let n = self.cells.len();
        let mut p = home(carry.tag, n);
        let mut d = 0;
        loop {
            let ed = match &self.cells[p] {
                None => {
                    self.cells[p] = Some(carry);
                    return;
                }
                Some(e) => self.displacement(p, e.tag),
            };
            if ed < d {
                // the richer entry moves on; the poorer one takes its cell
                let e = self.cells[p].as_mut().expect("occupied");
                std::mem::swap(e, &mut carry);
                d = ed;
            }
            d += 1;
            p += 1;
            if p == n {
                p = 0;
            }
        }
    }

    fn resize(&mut self, n: usize) {
        let old = std::mem::replace(
            &mut self.cells,
            std::iter::repeat_with(|| None).take(n).collect(),
        );
        for e in old.into_vec().into_iter().flatten() {
            self.place(e);
        }
    }

    /// Takes the entry out of cell `p`, shifting the rest of its run back.
    pub fn remove_at(&mut self, p: usize) -> Entry {
        let n = self.cells.len();
        let out = self.cells[p].take().expect("occupied cell");
        let mut hole = p;
        loop {
            let q = if hole + 1 == n { 0 } else { hole + 1 };
            match &self.cells[q] {
                Some(e) if self.displacement(q, e.tag) > 0 => {
                    self.cells[hole] = self.cells[q].take();
                    hole = q;
                }
                _ => break,
            }
        }
        self.len -= 1;
        if self.len == 0 {
            self.cells = Box::new([]);
        } else if self.len * 4 < n && n > MIN_CELLS {
            self.resize((self.len * 3 / 2).max(MIN_CELLS));
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.cells.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Key, Str, Value};
    use std::sync::atomic::AtomicU32;

    fn entry(key: &[u8], tag: u32) -> Entry {
        Entry {
            key: Key::new(key),
            val: Value::Str(Str::from_bytes(key)),
            atime: AtomicU32::new(0),
            tag,
        }
    }

    #[test]
    fn cells_cost_no_more_than_entries() {
        assert_eq!(
            std::mem::size_of::<Option<Entry>>(),
            std::mem::size_of::<Entry>()
        );
    }

    /// The table against a model, with tags crowded into few homes (and
    /// equal tags for distinct keys) so runs collide, wrap and shift.
    #[test]
    fn matches_a_model_through_inserts_and_removes() {
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for crowd in [u32::MAX, 0xf000_0000, 0x0000_00ff] {
            let mut t = Table::default();
            let mut model: Vec<(Vec<u8>, u32)> = Vec::new();
            let mut next = 0u64;
            for step in 0..20_000 {
                let r = rnd();
                if r % 3 != 0 || model.is_empty() {
                    let key = format!("k{next}").into_bytes();
                    next += 1;
                    let tag = (r >> 32) as u32 & crowd;
                    assert!(t.find(tag, &key).is_none());
                    t.insert(entry(&key, tag));
                    model.push((key, tag));
                } else {
                    let k = (rnd() as usize) % model.len();
                    let (key, tag) = model.swap_remove(k);
                    let p = t.find(tag, &key).expect("present");
                    let e = t.remove_at(p);
                    assert_eq!(*e.key, *key);
                    assert!(t.find(tag, &key).is_none());
                }
                if step % 97 == 0 {
                    for (key, tag) in &model {
                        let p = t.find(*tag, key).expect("every member is found");
                        assert_eq!(*t.get(p).key, **key);
                    }
                    assert_eq!(t.len(), model.len());
                    assert_eq!(t.iter().count(), model.len());
                    assert!(t.len() * 8 <= t.cells() * 7);
                }
            }
            for (key, tag) in model.drain(..) {
                let p = t.find(tag, &key).unwrap();
                t.remove_at(p);
            }
            assert_eq!(t.len(), 0);
            assert_eq!(t.cells(), 0);
        }
    }
}
