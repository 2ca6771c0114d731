//! An order-statistic B+tree: the ordered index of a large sorted set.
//!
//! Entries are `(score, id)` pairs. The `id` names a member stored elsewhere
//! (the sorted set's slab), and entries are ordered as Redis orders a sorted
//! set: by score, then by member bytes. Every inner node keeps, for each
//! child, how many entries lie below it and the child's greatest entry, so
//! search, rank and select are O(log n) and a run of k entries is visited in
//! O(log n + k).
//!
//! Rules for whoever changes this:
//! - All leaves are at the same depth. A node that falls below `*_MIN`
//!   entries or children on removal is merged with or evened out against a
//!   neighbour; an inner root with one child is collapsed.
//! - A child's count and greatest entry, as its parent records them, are
//!   refreshed on every path that changes the child (insert, remove, relink).
//! - Member bytes are only read through `Names`, and only to break score ties.

/// Hints the CPU to start loading the cache line holding `p`.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Starts loading every cache line of `x`.
#[inline(always)]
fn prefetch_all<T>(x: &T) {
    let base = x as *const T as *const u8;
    let skew = base as usize & 63;
    let mut off = 0;
    while off < skew + std::mem::size_of::<T>() {
        prefetch(base.wrapping_add(off).wrapping_sub(skew));
        off += 64;
    }
}

pub(crate) trait Names {
    fn name(&self, id: u32) -> &[u8];
}

/// Entries per leaf, children per inner node.
const CAP: usize = 64;
/// Entries per block: a block's scores fill one cache line.
const BLK: usize = 8;
const NBLK: usize = CAP / BLK;
const MIN: usize = CAP / 4;

/// How many of the first `n` scores of `v` (ascending) are below `x`: the
/// length of the prefix whose bits are set, read with one bit scan.
#[inline(always)]
fn prefix_below(v: &[f64; BLK], n: usize, x: f64) -> usize {
    ((!below_mask(v, x)).trailing_zeros() as usize).min(n)
}

/// Bit `k` set when `v[k] < x` (false for NaN, as `<`).
#[cfg(target_arch = "x86_64")]
const _: () = assert!(BLK == 8, "below_mask compares eight lanes");
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn below_mask(v: &[f64; BLK], x: f64) -> u32 {
    use std::arch::x86_64::{_mm_cmplt_pd, _mm_loadu_pd, _mm_movemask_pd, _mm_set1_pd};
    // four two-lane compares (SSE2, always there on x86_64): the scalar loop
    // compiled to eight compares, eight flag moves and eight shifts
    // SAFETY: SSE2 is part of x86_64; the loads read v[0..8], in bounds.
    unsafe {
        let xv = _mm_set1_pd(x);
        let p = v.as_ptr();
        let m0 = _mm_movemask_pd(_mm_cmplt_pd(_mm_loadu_pd(p), xv));
        let m1 = _mm_movemask_pd(_mm_cmplt_pd(_mm_loadu_pd(p.add(2)), xv));
        let m2 = _mm_movemask_pd(_mm_cmplt_pd(_mm_loadu_pd(p.add(4)), xv));
        let m3 = _mm_movemask_pd(_mm_cmplt_pd(_mm_loadu_pd(p.add(6)), xv));
        (m0 | m1 << 2 | m2 << 4 | m3 << 6) as u32
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn below_mask(v: &[f64; BLK], x: f64) -> u32 {
    let mut m = 0u32;
    for (k, &s) in v.iter().enumerate() {
        m |= u32::from(s < x) << k;
    }
    m
}

/// Sum of the first `n` of `v` (`n <= BLK`), without a loop whose trip
/// count depends on `n`.
#[inline(always)]
fn sum_first(v: &[u32; BLK], n: usize) -> usize {
    // u32 lanes and a mask (what SSE2 does in a few instructions): a node
    // holds fewer than 2^32 entries
    let n = n as u32;
    let mut t = 0u32;
    for (k, &c) in v.iter().enumerate() {
        let keep = ((k as u32).wrapping_sub(n) >> 31).wrapping_neg();
        t = t.wrapping_add(c & keep);
    }
    t as usize
}

/// A search key: a score and the member bytes that break ties.
#[derive(Clone, Copy)]
pub(crate) struct Probe<'a> {
    pub score: f64,
    pub member: &'a [u8],
}

/// Up to `CAP` ordered `(score, id)` entries (a leaf's entries, or an inner
/// node's child maxima), with a fence: each block's last entry, copied into
/// the first cache line. A search reads the fence, then one block, so it
/// touches two cache lines of scores instead of a binary search's four.
///
/// Layout: the fence's scores fill the first cache line and each block of
/// scores one line after it, so `prefetch` can ask for all of them at once.
#[derive(Clone)]
#[repr(C, align(64))]
struct Run {
    fs: [f64; NBLK],
    s: [f64; CAP],
    fi: [u32; NBLK],
    len: usize,
    i: [u32; CAP],
}

impl Run {
    fn new() -> Run {
        Run {
            fs: [0.0; NBLK],
            s: [0.0; CAP],
            fi: [0; NBLK],
            len: 0,
            i: [0; CAP],
        }
    }

    /// Starts loading the fence and every score block, so a search waits
    /// for one memory round trip instead of two in a row. All blocks, used
    /// or not: reading `len` to skip the unused ones would itself wait for
    /// the node to load.
    #[inline]
    fn prefetch(&self) {
        prefetch(self.fs.as_ptr());
        for b in 0..NBLK {
            prefetch(self.s[b * BLK..].as_ptr());
        }
        // `len`, which every search reads first, lies past the scores
        prefetch(&self.len);
    }

    /// Starts loading the scores and ids of positions `a..b`.
    #[inline]
    fn prefetch_span(&self, a: usize, b: usize) {
        let mut k = a;
        while k < b {
            prefetch(&self.s[k]);
            prefetch(&self.i[k]);
            k = (k | (BLK - 1)) + 1;
        }
        if b > a {
            prefetch(&self.i[b - 1]);
        }
    }

    /// Recomputes the fence from the block holding `pos` on.
    #[inline]
    fn refence(&mut self, pos: usize) {
        let nb = self.len.div_ceil(BLK);
        for b in pos / BLK..nb {
            let last = ((b + 1) * BLK).min(self.len) - 1;
            self.fs[b] = self.s[last];
            self.fi[b] = self.i[last];
        }
    }

    /// First position where `pred(score, id)` is false (`pred` holds on a prefix).
    #[inline]
    fn search(&self, pred: impl Fn(f64, u32) -> bool) -> usize {
        let nb = self.len.div_ceil(BLK);
        let mut b = 0;
        while b < nb && pred(self.fs[b], self.fi[b]) {
            b += 1;
        }
        if b == nb {
            return self.len;
        }
        // the fence entry of block `b` is the block's last entry, and `pred`
        // fails on it: the scan stops inside the block
        let mut k = b * BLK;
        while pred(self.s[k], self.i[k]) {
            k += 1;
        }
        k
    }

    /// Positions whose score is below `x`. Counted without a branch on
    /// the scores: with random scores the exit of a scanning loop is a
    /// branch the CPU mispredicts at every level of every descent.
    #[inline(always)]
    fn count_lt(&self, x: f64) -> usize {
        let nb = self.len.div_ceil(BLK);
        let b = prefix_below(&self.fs, nb, x);
        if b == nb {
            return self.len;
        }
        let base = b * BLK;
        let block: &[f64; BLK] = self.s[base..base + BLK].try_into().expect("block");
        base + prefix_below(block, (self.len - base).min(BLK), x)
    }

    /// First position not ordering before `p`.
    #[inline(always)]
    fn lower_bound<N: Names + ?Sized>(&self, p: &Probe, names: &N) -> usize {
        let mut k = self.count_lt(p.score);
        // equal scores order by member
        while k < self.len && self.s[k] == p.score && names.name(self.i[k]) < p.member {
            k += 1;
        }
        k
    }

    #[inline]
    fn last(&self) -> (f64, u32) {
        (self.s[self.len - 1], self.i[self.len - 1])
    }

    fn set(&mut self, pos: usize, score: f64, id: u32) {
        self.s[pos] = score;
        self.i[pos] = id;
        if pos % BLK == BLK - 1 || pos == self.len - 1 {
            self.refence(pos);
        }
    }

    fn insert_at(&mut self, pos: usize, score: f64, id: u32) {
        debug_assert!(self.len < CAP);
        self.s.copy_within(pos..self.len, pos + 1);
        self.i.copy_within(pos..self.len, pos + 1);
        self.s[pos] = score;
        self.i[pos] = id;
        self.len += 1;
        self.refence(pos);
    }

    fn remove_at(&mut self, pos: usize) -> u32 {
        let id = self.i[pos];
        self.s.copy_within(pos + 1..self.len, pos);
        self.i.copy_within(pos + 1..self.len, pos);
        self.len -= 1;
        if self.len > 0 {
            self.refence(pos.min(self.len - 1));
        }
        id
    }

    /// Moves entries `from..` into a new run.
    fn split_off(&mut self, from: usize) -> Run {
        let mut r = Run::new();
        let n = self.len - from;
        r.s[..n].copy_from_slice(&self.s[from..self.len]);
        r.i[..n].copy_from_slice(&self.i[from..self.len]);
        r.len = n;
        r.refence(0);
        self.len = from;
        if from > 0 {
            self.refence(from - 1);
        }
        r
    }

    /// Appends all of `right`'s entries.
    fn absorb(&mut self, right: &Run) {
        let (n, m) = (self.len, right.len);
        self.s[n..n + m].copy_from_slice(&right.s[..m]);
        self.i[n..n + m].copy_from_slice(&right.i[..m]);
        self.len += m;
        self.refence(n.saturating_sub(1));
    }
}

#[derive(Clone)]
struct Leaf {
    run: Run,
}

#[derive(Clone)]
struct Inner {
    /// Entries below this node.
    total: usize,
    /// Each child's greatest entry.
    max: Run,
    /// Entries below each child, and their sums per block of `BLK` children.
    counts: [u32; CAP],
    bsum: [u32; NBLK],
    kids: Kids,
}

/// An inner node's children, inline in the node: reaching a child reads
/// the node's own memory, not a separate vector's.
#[derive(Clone)]
struct Kids {
    len: usize,
    k: [Option<Node>; CAP],
}

impl Kids {
    fn new() -> Kids {
        Kids {
            len: 0,
            k: std::array::from_fn(|_| None),
        }
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    fn insert(&mut self, i: usize, kid: Node) {
        assert!(self.len < CAP && i <= self.len, "child slot");
        self.k[i..=self.len].rotate_right(1);
        self.k[i] = Some(kid);
        self.len += 1;
    }

    fn remove(&mut self, i: usize) -> Node {
        let kid = self.k[i].take().expect("child");
        self.k[i..self.len].rotate_left(1);
        self.len -= 1;
        kid
    }

    fn pop(&mut self) -> Option<Node> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        self.k[self.len].take()
    }

    /// Moves children `from..` into a new list.
    fn split_off(&mut self, from: usize) -> Kids {
        let mut r = Kids::new();
        for j in from..self.len {
            r.k[j - from] = self.k[j].take();
        }
        r.len = self.len - from;
        self.len = from;
        r
    }

    /// Moves all of `other`'s children to the end.
    fn append(&mut self, other: &mut Kids) {
        for j in 0..other.len {
            self.k[self.len + j] = other.k[j].take();
        }
        self.len += other.len;
        other.len = 0;
    }

    fn iter(&self) -> impl Iterator<Item = &Node> {
        self.k[..self.len]
            .iter()
            .map(|k| k.as_ref().expect("child"))
    }

    /// Children `l` and `r` (`l < r`) at once.
    fn pair_mut(&mut self, l: usize, r: usize) -> (&mut Node, &mut Node) {
        let (a, b) = self.k.split_at_mut(r);
        (a[l].as_mut().expect("child"), b[0].as_mut().expect("child"))
    }
}

impl std::ops::Index<usize> for Kids {
    type Output = Node;
    #[inline]
    fn index(&self, i: usize) -> &Node {
        self.k[i].as_ref().expect("child")
    }
}

impl std::ops::IndexMut<usize> for Kids {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut Node {
        self.k[i].as_mut().expect("child")
    }
}

#[derive(Clone)]
enum Node {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

impl Node {
    #[inline]
    fn total(&self) -> usize {
        match self {
            Node::Leaf(l) => l.run.len,
            Node::Inner(n) => n.total,
        }
    }

    /// Starts loading what a search of this node reads (see
    /// `Run::prefetch`), and an inner node's counts and child pointers: the
    /// child's pointer then arrives with the scores that choose it, and a
    /// level of the descent waits for one memory round trip, not two.
    #[inline]
    fn prefetch(&self) {
        match self {
            Node::Leaf(l) => l.run.prefetch(),
            Node::Inner(n) => {
                n.max.prefetch();
                n.prefetch_counts();
            }
        }
    }

    /// Entries (leaf) or children (inner): what the fill rules count.
    fn width(&self) -> usize {
        match self {
            Node::Leaf(l) => l.run.len,
            Node::Inner(n) => n.kids.len(),
        }
    }

    /// Greatest entry (the node must not be empty).
    #[inline]
    fn max(&self) -> (f64, u32) {
        match self {
            Node::Leaf(l) => l.run.last(),
            Node::Inner(n) => n.max.last(),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Node::Leaf(_) => std::mem::size_of::<Leaf>(),
            Node::Inner(n) => {
                std::mem::size_of::<Inner>() + n.kids.iter().map(Node::heap_size).sum::<usize>()
            }
        }
    }
}

impl Leaf {
    fn boxed() -> Box<Leaf> {
        Box::new(Leaf { run: Run::new() })
    }
}

impl Inner {
    fn boxed() -> Box<Inner> {
        Box::new(Inner {
            total: 0,
            max: Run::new(),
            counts: [0; CAP],
            bsum: [0; NBLK],
            kids: Kids::new(),
        })
    }

    /// Starts loading what a descent by rank reads: the counts and the
    /// child pointers.
    #[inline]
    fn prefetch_counts(&self) {
        prefetch(self.bsum.as_ptr());
        for b in (0..CAP).step_by(16) {
            prefetch(self.counts[b..].as_ptr());
        }
        prefetch_all(&self.kids);
    }

    /// Child that holds (or would hold) `p`: the first whose maximum is not before it.
    #[inline]
    fn child_for<N: Names + ?Sized>(&self, p: &Probe, names: &N) -> usize {
        self.max.lower_bound(p, names).min(self.kids.len() - 1)
    }

    /// Entries in children `0..k`.
    #[inline]
    fn count_before(&self, k: usize) -> usize {
        let b = k / BLK;
        let part = if b < NBLK {
            let block: &[u32; BLK] = self.counts[b * BLK..b * BLK + BLK]
                .try_into()
                .expect("block");
            sum_first(block, k % BLK)
        } else {
            0
        };
        sum_first(&self.bsum, b) + part
    }

    /// The child holding rank `r` and the rank within it.
    #[inline]
    fn child_at(&self, mut r: usize) -> (usize, usize) {
        // (a branch-free running sum over all 16 counts measured slower:
        // ~160 instructions against two short loops and their mispredicts)
        let mut b = 0;
        while r >= self.bsum[b] as usize {
            r -= self.bsum[b] as usize;
            b += 1;
        }
        let mut k = b * BLK;
        while r >= self.counts[k] as usize {
            r -= self.counts[k] as usize;
            k += 1;
        }
        (k, r)
    }

    fn resum(&mut self) {
        for b in 0..NBLK {
            let hi = ((b + 1) * BLK).min(self.kids.len());
            self.bsum[b] = if b * BLK < hi {
                self.counts[b * BLK..hi].iter().sum()
            } else {
                0
            };
        }
    }

    /// Re-reads child `i`'s count and maximum.
    #[inline]
    fn refresh(&mut self, i: usize) {
        let c = self.kids[i].total() as u32;
        let b = i / BLK;
        self.bsum[b] = self.bsum[b] - self.counts[i] + c;
        self.counts[i] = c;
        let (s, id) = self.kids[i].max();
        self.max.set(i, s, id);
    }

    /// Child `i` gained one entry (`grew`) or lost one: its count moves by
    /// one, and its maximum is rewritten only when it changed (a set's
    /// fence upkeep is most of `refresh`'s cost).
    #[inline]
    fn bump(&mut self, i: usize, grew: bool) {
        let b = i / BLK;
        if grew {
            self.counts[i] += 1;
            self.bsum[b] += 1;
        } else {
            self.counts[i] -= 1;
            self.bsum[b] -= 1;
        }
        let (s, id) = self.kids[i].max();
        if id != self.max.i[i] || s.to_bits() != self.max.s[i].to_bits() {
            self.max.set(i, s, id);
        }
    }

    /// Inserts a child at `i`; its entries are added to the total.
    fn insert_kid(&mut self, i: usize, kid: Node) {
        let n = self.kids.len();
        debug_assert!(n < CAP);
        self.counts.copy_within(i..n, i + 1);
        let (s, id) = kid.max();
        self.counts[i] = kid.total() as u32;
        self.total += kid.total();
        self.max.insert_at(i, s, id);
        self.kids.insert(i, kid);
        self.resum();
    }

    /// Removes child `i`; its entries leave the total.
    fn remove_kid(&mut self, i: usize) -> Node {
        let n = self.kids.len();
        self.counts.copy_within(i + 1..n, i);
        self.max.remove_at(i);
        let kid = self.kids.remove(i);
        self.total -= kid.total();
        self.resum();
        kid
    }

    /// Moves children `from..` into a new inner node.
    fn split_off(&mut self, from: usize) -> Box<Inner> {
        let mut r = Inner::boxed();
        let n = self.kids.len();
        let m = n - from;
        r.counts[..m].copy_from_slice(&self.counts[from..n]);
        r.max = self.max.split_off(from);
        r.kids = self.kids.split_off(from);
        r.total = r.counts[..m].iter().map(|&c| c as usize).sum();
        self.total -= r.total;
        r.resum();
        self.resum();
        r
    }

    /// Appends all of `right`'s children.
    fn absorb(&mut self, right: &mut Inner) {
        let (n, m) = (self.kids.len(), right.kids.len());
        self.counts[n..n + m].copy_from_slice(&right.counts[..m]);
        self.max.absorb(&right.max);
        self.kids.append(&mut right.kids);
        self.total += right.total;
        right.total = 0;
        self.resum();
    }

    /// Brings child `i` back to at least `MIN` entries or children by merging
    /// it with a neighbour, or by evening out the two when they cannot merge.
    fn rebalance(&mut self, i: usize) {
        if self.kids.len() < 2 {
            return;
        }
        let (l, r) = if i + 1 < self.kids.len() {
            (i, i + 1)
        } else {
            (i - 1, i)
        };
        let (lw, rw) = (self.kids[l].width(), self.kids[r].width());
        if lw + rw <= CAP {
            let mut right = self.remove_kid(r);
            // remove_kid took the right child's entries out of the total
            self.total += right.total();
            match (&mut self.kids[l], &mut right) {
                (Node::Leaf(a), Node::Leaf(b)) => a.run.absorb(&b.run),
                (Node::Inner(a), Node::Inner(b)) => a.absorb(b),
                _ => unreachable!("siblings at different depths"),
            }
            self.refresh(l);
            return;
        }
        // Even them out: the split point in the concatenation is (lw+rw)/2.
        let want = (lw + rw) / 2;
        match self.kids.pair_mut(l, r) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                if a.run.len > want {
                    let mut m = a.run.split_off(want);
                    m.absorb(&b.run);
                    b.run = m;
                } else {
                    let take = want - a.run.len;
                    let rest = b.run.split_off(take);
                    a.run.absorb(&b.run);
                    b.run = rest;
                }
            }
            (Node::Inner(a), Node::Inner(b)) => {
                if a.kids.len() > want {
                    let mut m = a.split_off(want);
                    m.absorb(b);
                    **b = *m;
                } else {
                    let take = want - a.kids.len();
                    let rest = b.split_off(take);
                    a.absorb(b);
                    **b = *rest;
                }
            }
            _ => unreachable!("siblings at different depths"),
        }
        self.refresh(l);
        self.refresh(r);
    }
}

/// The tree. Cloning copies every node.
#[derive(Clone)]
pub(crate) struct Tree {
    root: Node,
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            root: Node::Leaf(Leaf::boxed()),
        }
    }

    pub fn len(&self) -> usize {
        self.root.total()
    }

    /// Bytes of node memory.
    pub fn heap_size(&self) -> usize {
        self.root.heap_size()
    }

    /// Builds a tree from entries already in order, leaves filled.
    pub fn from_sorted(entries: impl ExactSizeIterator<Item = (f64, u32)>) -> Tree {
        let n = entries.len();
        if n == 0 {
            return Tree::new();
        }
        let nleaves = n.div_ceil(CAP);
        let mut level: Vec<Node> = Vec::with_capacity(nleaves);
        let mut it = entries;
        for k in 0..nleaves {
            // spread evenly: leaf k gets entries [k*n/nleaves, (k+1)*n/nleaves)
            let size = (k + 1) * n / nleaves - k * n / nleaves;
            let mut leaf = Leaf::boxed();
            for j in 0..size {
                let (s, id) = it.next().expect("ExactSizeIterator length");
                leaf.run.s[j] = s;
                leaf.run.i[j] = id;
            }
            leaf.run.len = size;
            leaf.run.refence(0);
            level.push(Node::Leaf(leaf));
        }
        while level.len() > 1 {
            let m = level.len();
            let groups = m.div_ceil(CAP);
            let mut next = Vec::with_capacity(groups);
            let mut kids = level.into_iter();
            for g in 0..groups {
                let size = (g + 1) * m / groups - g * m / groups;
                let mut inner = Inner::boxed();
                for _ in 0..size {
                    let kid = kids.next().expect("group size");
                    let i = inner.kids.len();
                    inner.insert_kid(i, kid);
                }
                next.push(Node::Inner(inner));
            }
            level = next;
        }
        Tree {
            root: level.pop().expect("one root"),
        }
    }

    /// Inserts an entry that is not in the tree yet. Callers that care for
    /// speed call `prefetch_path(score)` some time before.
    pub fn insert<N: Names + ?Sized>(&mut self, score: f64, id: u32, member: &[u8], names: &N) {
        let p = Probe { score, member };
        if let Some(right) = insert_rec(&mut self.root, score, id, &p, names) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Leaf::boxed()));
            let mut root = Inner::boxed();
            root.insert_kid(0, left);
            root.insert_kid(1, right);
            self.root = Node::Inner(root);
        }
    }

    /// Removes the entry `(score, id)`, whose member is `member`; false if
    /// it is not there. Callers that care for speed call
    /// `prefetch_path(score)` some time before.
    pub fn remove<N: Names + ?Sized>(
        &mut self,
        score: f64,
        id: u32,
        member: &[u8],
        names: &N,
    ) -> bool {
        let p = Probe { score, member };
        if !remove_rec(&mut self.root, &p, id, names) {
            return false;
        }
        if let Node::Inner(n) = &mut self.root
            && n.kids.len() == 1
        {
            let kid = n.kids.pop().expect("one child");
            self.root = kid;
        }
        true
    }

    /// Gives the entry equal to `(score, member)` a new id (its member moved
    /// within the slab). True if the entry was found.
    pub fn relink<N: Names + ?Sized>(
        &mut self,
        score: f64,
        member: &[u8],
        new_id: u32,
        names: &N,
    ) -> bool {
        relink_rec(&mut self.root, &Probe { score, member }, new_id, names)
    }

    /// The number of leading entries for which `pred(score, id)` holds;
    /// `pred` must hold on a prefix of the order (a "lower bound" test).
    pub fn rank_by(&self, pred: impl Fn(f64, u32) -> bool) -> usize {
        let mut node = &self.root;
        let mut acc = 0;
        loop {
            node.prefetch();
            match node {
                Node::Leaf(l) => return acc + l.run.search(&pred),
                Node::Inner(n) => {
                    let k = n.max.search(&pred);
                    if k == n.kids.len() {
                        return acc + n.total;
                    }
                    acc += n.count_before(k);
                    node = &n.kids[k];
                }
            }
        }
    }

    /// Starts loading the nodes on the way down to `score` (ties go to the
    /// first child that may hold it), so that a search or an update that
    /// follows finds them in cache; it waits only on inner nodes, which are
    /// few and usually cached, and never on the leaf. Only a hint.
    #[inline]
    pub fn prefetch_path(&self, score: f64) {
        let mut node = &self.root;
        while let Node::Inner(n) = node {
            let k = n.max.count_lt(score).min(n.kids.len() - 1);
            node = &n.kids[k];
            match node {
                // the update that follows shifts the leaf's ids too
                Node::Leaf(l) => prefetch_all(&**l),
                Node::Inner(_) => node.prefetch(),
            }
        }
    }

    /// Rank of `(score, member)` if present: entries ordering before it.
    pub fn rank_of<N: Names + ?Sized>(&self, score: f64, member: &[u8], names: &N) -> usize {
        let p = Probe { score, member };
        let mut node = &self.root;
        let mut acc = 0;
        loop {
            node.prefetch();
            match node {
                Node::Leaf(l) => return acc + l.run.lower_bound(&p, names),
                Node::Inner(n) => {
                    let k = n.max.lower_bound(&p, names);
                    if k == n.kids.len() {
                        return acc + n.total;
                    }
                    acc += n.count_before(k);
                    node = &n.kids[k];
                }
            }
        }
    }

    /// The entry at `rank` (< len).
    pub fn get(&self, rank: usize) -> (f64, u32) {
        let mut node = &self.root;
        let mut r = rank;
        loop {
            match node {
                Node::Leaf(l) => return (l.run.s[r], l.run.i[r]),
                Node::Inner(n) => {
                    n.prefetch_counts();
                    let (k, rest) = n.child_at(r);
                    r = rest;
                    node = &n.kids[k];
                }
            }
        }
    }

    /// Calls `f` on the entries with ranks in `start..end`, ascending, or
    /// descending when `rev`.
    pub fn visit(&self, start: usize, end: usize, rev: bool, f: &mut impl FnMut(f64, u32)) {
        self.visit_runs(start, end, rev, &mut |s, ids| {
            if rev {
                (0..ids.len()).rev().for_each(|k| f(s[k], ids[k]));
            } else {
                (0..ids.len()).for_each(|k| f(s[k], ids[k]));
            }
        });
    }

    /// The entries with ranks in `start..end` as runs of (scores, ids), one
    /// per leaf: each run ascending, the runs in ascending order or
    /// descending when `rev`.
    pub fn visit_runs(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        f: &mut impl FnMut(&[f64], &[u32]),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        // Short ranges mostly lie in one leaf: reach it the way `get` does
        // and hand over its slice, without `visit_rec`'s per-level work.
        let mut node = &self.root;
        let mut r = start;
        loop {
            match node {
                Node::Leaf(l) => {
                    let b = r + (end - start);
                    if b <= l.run.len {
                        return f(&l.run.s[r..b], &l.run.i[r..b]);
                    }
                    break;
                }
                Node::Inner(n) => {
                    n.prefetch_counts();
                    let (k, rest) = n.child_at(r);
                    r = rest;
                    node = &n.kids[k];
                    if let Node::Leaf(l) = node {
                        l.run.prefetch_span(r, (r + end - start).min(CAP));
                    }
                }
            }
        }
        visit_rec(&self.root, start, end, rev, f);
    }
}

fn insert_rec<N: Names + ?Sized>(
    node: &mut Node,
    score: f64,
    id: u32,
    p: &Probe,
    names: &N,
) -> Option<Node> {
    match node {
        Node::Leaf(l) => {
            let pos = l.run.lower_bound(p, names);
            if l.run.len < CAP {
                l.run.insert_at(pos, score, id);
                return None;
            }
            // Full. Appending (rising scores, the common case) starts a new
            // leaf and keeps this one full; otherwise split in halves.
            let mut r = Leaf::boxed();
            if pos == CAP {
                r.run.insert_at(0, score, id);
                return Some(Node::Leaf(r));
            }
            r.run = l.run.split_off(CAP / 2);
            if pos <= CAP / 2 {
                l.run.insert_at(pos, score, id);
            } else {
                r.run.insert_at(pos - CAP / 2, score, id);
            }
            Some(Node::Leaf(r))
        }
        Node::Inner(n) => {
            let i = n.child_for(p, names);
            let split = insert_rec(&mut n.kids[i], score, id, p, names);
            n.total += 1;
            let Some(right) = split else {
                n.bump(i, true);
                return None;
            };
            n.refresh(i);
            // the split-off entries are counted again when `right` is inserted
            n.total -= right.total();
            if n.kids.len() < CAP {
                n.insert_kid(i + 1, right);
                return None;
            }
            let half = CAP / 2;
            let mut r = n.split_off(half);
            if i < half {
                n.insert_kid(i + 1, right);
            } else {
                r.insert_kid(i + 1 - half, right);
            }
            Some(Node::Inner(r))
        }
    }
}

fn remove_rec<N: Names + ?Sized>(node: &mut Node, p: &Probe, id: u32, names: &N) -> bool {
    match node {
        Node::Leaf(l) => {
            let pos = l.run.lower_bound(p, names);
            // the entry's id names its member: no need to read the bytes
            if pos < l.run.len && l.run.s[pos] == p.score && l.run.i[pos] == id {
                l.run.remove_at(pos);
                true
            } else {
                false
            }
        }
        Node::Inner(n) => {
            let i = n.child_for(p, names);
            if !remove_rec(&mut n.kids[i], p, id, names) {
                return false;
            }
            n.total -= 1;
            if n.kids[i].total() == 0 {
                n.remove_kid(i);
            } else {
                n.bump(i, false);
                if n.kids[i].width() < MIN {
                    n.rebalance(i);
                }
            }
            true
        }
    }
}

fn relink_rec<N: Names + ?Sized>(node: &mut Node, p: &Probe, new_id: u32, names: &N) -> bool {
    node.prefetch();
    match node {
        Node::Leaf(l) => {
            let pos = l.run.lower_bound(p, names);
            if pos < l.run.len && l.run.s[pos] == p.score && names.name(l.run.i[pos]) == p.member {
                l.run.set(pos, p.score, new_id);
                true
            } else {
                false
            }
        }
        Node::Inner(n) => {
            let i = n.child_for(p, names);
            let found = relink_rec(&mut n.kids[i], p, new_id, names);
            if found {
                n.refresh(i);
            }
            found
        }
    }
}

fn visit_rec(node: &Node, start: usize, end: usize, rev: bool, f: &mut impl FnMut(&[f64], &[u32])) {
    match node {
        Node::Leaf(l) => f(&l.run.s[start..end], &l.run.i[start..end]),
        Node::Inner(n) => {
            n.prefetch_counts();
            // only the children overlapping start..end: from the one holding
            // `start` forward, or from the one holding `end - 1` back
            let nk = n.kids.len();
            let sub = |k: usize, lo: usize, f: &mut _| {
                let hi = lo + n.counts[k] as usize;
                let (a, b) = (start.max(lo) - lo, end.min(hi) - lo);
                if let Node::Leaf(l) = &n.kids[k] {
                    l.run.prefetch_span(a, b);
                }
                visit_rec(&n.kids[k], a, b, rev, f);
                hi
            };
            if rev {
                let (mut k, r) = n.child_at(end - 1);
                let mut lo = end - 1 - r;
                loop {
                    sub(k, lo, f);
                    if lo <= start || k == 0 {
                        break;
                    }
                    k -= 1;
                    lo -= n.counts[k] as usize;
                }
            } else {
                let (mut k, r) = n.child_at(start);
                let mut lo = start - r;
                while k < nk && lo < end {
                    lo = sub(k, lo, f);
                    k += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::Rng;
    use std::collections::BTreeSet;

    /// Members are the decimal text of the id (ties broken by it).
    struct Ids(Vec<Vec<u8>>);
    impl Names for Ids {
        fn name(&self, id: u32) -> &[u8] {
            &self.0[id as usize]
        }
    }

    fn key(names: &Ids, s: f64, id: u32) -> (u64, Vec<u8>) {
        // total order on finite test scores: map f64 to sortable bits
        let b = s.to_bits();
        let b = if s.is_sign_negative() {
            !b
        } else {
            b | (1 << 63)
        };
        (b, names.0[id as usize].clone())
    }

    fn check(t: &Tree, model: &BTreeSet<((u64, Vec<u8>), u32)>) {
        assert_eq!(t.len(), model.len());
        let mut got = Vec::new();
        t.visit(0, t.len(), false, &mut |s, id| got.push((s, id)));
        let want: Vec<u32> = model.iter().map(|(_, id)| *id).collect();
        assert_eq!(got.iter().map(|x| x.1).collect::<Vec<_>>(), want);
        check_node(&t.root, true);
    }

    fn check_run(r: &Run) {
        for b in 0..r.len.div_ceil(BLK) {
            let last = ((b + 1) * BLK).min(r.len) - 1;
            assert_eq!(
                (r.fs[b], r.fi[b]),
                (r.s[last], r.i[last]),
                "fence {b} of {}",
                r.len
            );
        }
    }

    fn check_node(n: &Node, root: bool) -> usize {
        match n {
            Node::Leaf(l) => {
                assert!(root || l.run.len >= 1);
                check_run(&l.run);
                l.run.len
            }
            Node::Inner(inner) => {
                assert!(inner.kids.len() >= if root { 2 } else { 1 });
                assert_eq!(inner.max.len, inner.kids.len());
                check_run(&inner.max);
                let mut total = 0;
                for (k, kid) in inner.kids.iter().enumerate() {
                    let c = check_node(kid, false);
                    assert_eq!(c, inner.counts[k] as usize);
                    assert_eq!(kid.max(), (inner.max.s[k], inner.max.i[k]));
                    total += c;
                }
                for b in 0..NBLK {
                    let hi = ((b + 1) * BLK).min(inner.kids.len());
                    let want: u32 = if b * BLK < hi {
                        inner.counts[b * BLK..hi].iter().sum()
                    } else {
                        0
                    };
                    assert_eq!(inner.bsum[b], want, "block sum {b}");
                }
                assert_eq!(total, inner.total);
                total
            }
        }
    }

    #[test]
    fn random_ops_match_a_btreeset() {
        for seed in 0..4 {
            let mut rng = Rng::seeded(seed);
            let n = 5000;
            let names = Ids((0..n).map(|i| format!("m{i}").into_bytes()).collect());
            let mut score = vec![None::<f64>; n];
            let mut t = Tree::new();
            let mut model = BTreeSet::new();
            for step in 0..40_000 {
                let id = rng.below(n as u64) as u32;
                let s = (rng.below(50) as f64) - 25.0;
                match score[id as usize] {
                    None => {
                        t.insert(s, id, &names.0[id as usize], &names);
                        model.insert((key(&names, s, id), id));
                        score[id as usize] = Some(s);
                    }
                    Some(old) => {
                        // the right score with another id is not the entry
                        let other = (id + 1) % n as u32;
                        assert!(!t.remove(old, other, &names.0[id as usize], &names));
                        assert!(t.remove(old, id, &names.0[id as usize], &names));
                        model.remove(&(key(&names, old, id), id));
                        score[id as usize] = None;
                    }
                }
                if step % 5000 == 0 {
                    check(&t, &model);
                }
                // rank and select agree with the model
                if step % 97 == 0 && !model.is_empty() {
                    let r = rng.below(model.len() as u64) as usize;
                    let (_, id) = model.iter().nth(r).unwrap();
                    assert_eq!(t.get(r).1, *id);
                    let s = score[*id as usize].unwrap();
                    assert_eq!(t.rank_of(s, &names.0[*id as usize], &names), r);
                    let lo = t.rank_by(|x, _| x < s);
                    assert_eq!(
                        lo,
                        model
                            .iter()
                            .filter(|(k, _)| k.0 < key(&names, s, *id).0)
                            .count()
                    );
                }
            }
            check(&t, &model);
            // drain everything
            let ids: Vec<u32> = model.iter().map(|(_, id)| *id).collect();
            for id in ids {
                let s = score[id as usize].unwrap();
                assert!(t.remove(s, id, &names.0[id as usize], &names));
            }
            assert_eq!(t.len(), 0);
        }
    }

    #[test]
    fn sequential_inserts_fill_leaves_and_build_matches() {
        let n = 10_000;
        let names = Ids((0..n).map(|i| format!("{i:08}").into_bytes()).collect());
        let mut t = Tree::new();
        for i in 0..n as u32 {
            t.insert(i as f64, i, &names.0[i as usize], &names);
        }
        fn leaves(n: &Node) -> usize {
            match n {
                Node::Leaf(_) => 1,
                Node::Inner(i) => i.kids.iter().map(leaves).sum(),
            }
        }
        let nl = leaves(&t.root);
        assert!(nl <= n / CAP + 2, "{nl} leaves");
        check_node(&t.root, true);
        let b = Tree::from_sorted((0..n as u32).map(|i| (i as f64, i)));
        let mut x = Vec::new();
        let mut y = Vec::new();
        t.visit(0, n, true, &mut |s, id| x.push((s, id)));
        b.visit(0, n, true, &mut |s, id| y.push((s, id)));
        assert_eq!(x, y);
        assert_eq!(x[0], ((n - 1) as f64, (n - 1) as u32));
        check_node(&b.root, true);
        for r in [0, 1, 63, 64, 65, 4095, n - 1] {
            assert_eq!(b.get(r).1, r as u32);
        }
        let mut mid = Vec::new();
        b.visit(100, 105, false, &mut |_, id| mid.push(id));
        assert_eq!(mid, vec![100, 101, 102, 103, 104]);
    }

    #[test]
    fn range_visits_match_the_order() {
        // three levels, leaves of uneven fill (random inserts)
        let n = 20_000u32;
        let names = Ids((0..n).map(|i| format!("{i:06}").into_bytes()).collect());
        let mut rng = Rng::seeded(11);
        let mut t = Tree::new();
        let mut order: Vec<(f64, u32)> = Vec::new();
        for i in 0..n {
            let s = rng.below(1000) as f64;
            t.insert(s, i, &names.0[i as usize], &names);
            order.push((s, i));
        }
        order.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap().then(a.1.cmp(&b.1)));
        assert!(matches!(&t.root, Node::Inner(r) if matches!(r.kids[0], Node::Inner(_))));
        let total = n as usize;
        let mut windows = vec![(0, total), (0, 1), (total - 1, total), (5, 5)];
        for _ in 0..300 {
            let a = rng.below(total as u64) as usize;
            let len = rng.below(200) as usize;
            windows.push((a, (a + len).min(total)));
        }
        for (a, b) in windows {
            for rev in [false, true] {
                let mut got = Vec::new();
                t.visit(a, b, rev, &mut |s, id| got.push((s, id)));
                let mut want = order[a..b].to_vec();
                if rev {
                    want.reverse();
                }
                assert_eq!(got, want, "{a}..{b} rev {rev}");
            }
        }
    }

    #[test]
    fn below_mask_is_the_scalar_compare() {
        let mut rng = Rng::seeded(21);
        let pool = [
            f64::NEG_INFINITY,
            -1.5,
            -0.0,
            0.0,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ];
        for _ in 0..20_000 {
            let pick = |r: &mut Rng| pool[r.below(pool.len() as u64) as usize];
            let v: [f64; BLK] = std::array::from_fn(|_| pick(&mut rng));
            let x = pick(&mut rng);
            let want = (0..BLK).fold(0u32, |m, k| m | u32::from(v[k] < x) << k);
            assert_eq!(below_mask(&v, x), want, "{v:?} < {x}");
        }
    }

    #[test]
    fn relink_updates_parents() {
        let n = 1000;
        let mut names = Ids((0..n).map(|i| format!("{i:04}").into_bytes()).collect());
        let mut t = Tree::from_sorted((0..n as u32).map(|i| (1.0, i)));
        // member of id 999 moves to id 5000
        names.0.resize(5001, Vec::new());
        names.0[5000] = names.0[999].clone();
        assert!(t.relink(1.0, b"0999", 5000, &names));
        assert_eq!(t.get(999).1, 5000);
        check_node(&t.root, true);
        assert!(!t.relink(2.0, b"0999", 1, &names));
    }
}
