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

pub(crate) trait Names {
    fn name(&self, id: u32) -> &[u8];
}

const LEAF_CAP: usize = 64;
const INNER_CAP: usize = 64;
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_MIN: usize = INNER_CAP / 4;

/// A search key: a score and the member bytes that break ties.
#[derive(Clone, Copy)]
pub(crate) struct Probe<'a> {
    pub score: f64,
    pub member: &'a [u8],
}

/// Whether entry `(score, id)` orders strictly before `p`.
#[inline]
fn before<N: Names + ?Sized>(score: f64, id: u32, p: &Probe, names: &N) -> bool {
    score < p.score || (score == p.score && names.name(id) < p.member)
}

/// First index in `0..n` where `pred` is false (`pred` true on a prefix).
#[inline]
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[derive(Clone)]
struct Leaf {
    len: usize,
    scores: [f64; LEAF_CAP],
    ids: [u32; LEAF_CAP],
}

impl Leaf {
    fn boxed() -> Box<Leaf> {
        Box::new(Leaf { len: 0, scores: [0.0; LEAF_CAP], ids: [0; LEAF_CAP] })
    }

    #[inline]
    fn lower_bound<N: Names + ?Sized>(&self, p: &Probe, names: &N) -> usize {
        partition(self.len, |k| before(self.scores[k], self.ids[k], p, names))
    }

    fn insert_at(&mut self, pos: usize, score: f64, id: u32) {
        debug_assert!(self.len < LEAF_CAP);
        self.scores.copy_within(pos..self.len, pos + 1);
        self.ids.copy_within(pos..self.len, pos + 1);
        self.scores[pos] = score;
        self.ids[pos] = id;
        self.len += 1;
    }

    fn remove_at(&mut self, pos: usize) -> u32 {
        let id = self.ids[pos];
        self.scores.copy_within(pos + 1..self.len, pos);
        self.ids.copy_within(pos + 1..self.len, pos);
        self.len -= 1;
        id
    }

    /// Moves entries `from..` into a new leaf.
    fn split_off(&mut self, from: usize) -> Box<Leaf> {
        let mut r = Leaf::boxed();
        let n = self.len - from;
        r.scores[..n].copy_from_slice(&self.scores[from..self.len]);
        r.ids[..n].copy_from_slice(&self.ids[from..self.len]);
        r.len = n;
        self.len = from;
        r
    }

    /// Appends all of `right`'s entries.
    fn absorb(&mut self, right: &Leaf) {
        let (n, m) = (self.len, right.len);
        self.scores[n..n + m].copy_from_slice(&right.scores[..m]);
        self.ids[n..n + m].copy_from_slice(&right.ids[..m]);
        self.len += m;
    }
}

#[derive(Clone)]
struct Inner {
    /// Entries below this node.
    total: usize,
    /// Per child: entries below it, and its greatest entry.
    counts: [u32; INNER_CAP],
    max_s: [f64; INNER_CAP],
    max_i: [u32; INNER_CAP],
    kids: Vec<Node>,
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
            Node::Leaf(l) => l.len,
            Node::Inner(n) => n.total,
        }
    }

    /// Entries (leaf) or children (inner): what the fill rules count.
    fn width(&self) -> usize {
        match self {
            Node::Leaf(l) => l.len,
            Node::Inner(n) => n.kids.len(),
        }
    }

    fn min_width(&self) -> usize {
        match self {
            Node::Leaf(_) => LEAF_MIN,
            Node::Inner(_) => INNER_MIN,
        }
    }

    /// Greatest entry (the node must not be empty).
    #[inline]
    fn max(&self) -> (f64, u32) {
        match self {
            Node::Leaf(l) => (l.scores[l.len - 1], l.ids[l.len - 1]),
            Node::Inner(n) => {
                let k = n.kids.len() - 1;
                (n.max_s[k], n.max_i[k])
            }
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Node::Leaf(_) => std::mem::size_of::<Leaf>(),
            Node::Inner(n) => {
                std::mem::size_of::<Inner>()
                    + n.kids.capacity() * std::mem::size_of::<Node>()
                    + n.kids.iter().map(Node::heap_size).sum::<usize>()
            }
        }
    }
}

impl Inner {
    fn boxed() -> Box<Inner> {
        Box::new(Inner {
            total: 0,
            counts: [0; INNER_CAP],
            max_s: [0.0; INNER_CAP],
            max_i: [0; INNER_CAP],
            kids: Vec::with_capacity(INNER_CAP),
        })
    }

    /// Child that holds (or would hold) `p`: the first whose maximum is not before it.
    #[inline]
    fn child_for<N: Names + ?Sized>(&self, p: &Probe, names: &N) -> usize {
        let n = self.kids.len();
        partition(n, |k| before(self.max_s[k], self.max_i[k], p, names)).min(n - 1)
    }

    /// Re-reads child `i`'s count and maximum.
    #[inline]
    fn refresh(&mut self, i: usize) {
        self.counts[i] = self.kids[i].total() as u32;
        let (s, id) = self.kids[i].max();
        self.max_s[i] = s;
        self.max_i[i] = id;
    }

    fn insert_kid(&mut self, i: usize, kid: Node) {
        let n = self.kids.len();
        debug_assert!(n < INNER_CAP);
        self.counts.copy_within(i..n, i + 1);
        self.max_s.copy_within(i..n, i + 1);
        self.max_i.copy_within(i..n, i + 1);
        self.total += kid.total();
        self.kids.insert(i, kid);
        self.refresh(i);
    }

    fn remove_kid(&mut self, i: usize) -> Node {
        let n = self.kids.len();
        self.counts.copy_within(i + 1..n, i);
        self.max_s.copy_within(i + 1..n, i);
        self.max_i.copy_within(i + 1..n, i);
        let kid = self.kids.remove(i);
        self.total -= kid.total();
        kid
    }

    /// Moves children `from..` into a new inner node.
    fn split_off(&mut self, from: usize) -> Box<Inner> {
        let mut r = Inner::boxed();
        let n = self.kids.len();
        let m = n - from;
        r.counts[..m].copy_from_slice(&self.counts[from..n]);
        r.max_s[..m].copy_from_slice(&self.max_s[from..n]);
        r.max_i[..m].copy_from_slice(&self.max_i[from..n]);
        r.kids = self.kids.split_off(from);
        r.total = r.counts[..m].iter().map(|&c| c as usize).sum();
        self.total -= r.total;
        r
    }

    /// Appends all of `right`'s children.
    fn absorb(&mut self, right: &mut Inner) {
        let (n, m) = (self.kids.len(), right.kids.len());
        self.counts[n..n + m].copy_from_slice(&right.counts[..m]);
        self.max_s[n..n + m].copy_from_slice(&right.max_s[..m]);
        self.max_i[n..n + m].copy_from_slice(&right.max_i[..m]);
        self.kids.append(&mut right.kids);
        self.total += right.total;
        right.total = 0;
    }

    /// Brings child `i` back to at least its minimum width by merging it with
    /// a neighbour, or by evening out the two when they cannot merge.
    fn rebalance(&mut self, i: usize) {
        if self.kids.len() < 2 {
            return;
        }
        let (l, r) = if i + 1 < self.kids.len() { (i, i + 1) } else { (i - 1, i) };
        let (lw, rw) = (self.kids[l].width(), self.kids[r].width());
        let cap = match self.kids[l] {
            Node::Leaf(_) => LEAF_CAP,
            Node::Inner(_) => INNER_CAP,
        };
        if lw + rw <= cap {
            let mut right = self.remove_kid(r);
            // remove_kid took the right child's entries out of the total
            self.total += right.total();
            match (&mut self.kids[l], &mut right) {
                (Node::Leaf(a), Node::Leaf(b)) => a.absorb(b),
                (Node::Inner(a), Node::Inner(b)) => a.absorb(b),
                _ => unreachable!("siblings at different depths"),
            }
            self.refresh(l);
            return;
        }
        // Even them out: the split point in the concatenation is (lw+rw)/2.
        let want = (lw + rw) / 2;
        let (left, right) = self.kids.split_at_mut(r);
        match (&mut left[l], &mut right[0]) {
            (Node::Leaf(a), Node::Leaf(b)) => {
                if a.len > want {
                    let moved = a.split_off(want);
                    let mut m = moved;
                    m.absorb(b);
                    **b = *m;
                } else {
                    let take = want - a.len;
                    let rest = b.split_off(take);
                    a.absorb(b);
                    **b = *rest;
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
        Tree { root: Node::Leaf(Leaf::boxed()) }
    }

    pub fn len(&self) -> usize {
        self.root.total()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let nleaves = n.div_ceil(LEAF_CAP);
        let mut level: Vec<Node> = Vec::with_capacity(nleaves);
        let mut it = entries;
        for k in 0..nleaves {
            // spread evenly: leaf k gets entries [k*n/nleaves, (k+1)*n/nleaves)
            let size = (k + 1) * n / nleaves - k * n / nleaves;
            let mut leaf = Leaf::boxed();
            for j in 0..size {
                let (s, id) = it.next().expect("ExactSizeIterator length");
                leaf.scores[j] = s;
                leaf.ids[j] = id;
            }
            leaf.len = size;
            level.push(Node::Leaf(leaf));
        }
        while level.len() > 1 {
            let m = level.len();
            let groups = m.div_ceil(INNER_CAP);
            let mut next = Vec::with_capacity(groups);
            let mut kids = level.into_iter();
            for g in 0..groups {
                let size = (g + 1) * m / groups - g * m / groups;
                let mut inner = Inner::boxed();
                for _ in 0..size {
                    let kid = kids.next().expect("group size");
                    let i = inner.kids.len();
                    inner.total += kid.total();
                    inner.kids.push(kid);
                    inner.refresh(i);
                }
                next.push(Node::Inner(inner));
            }
            level = next;
        }
        Tree { root: level.pop().expect("one root") }
    }

    /// Inserts an entry that is not in the tree yet.
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

    /// Removes the entry equal to `(score, member)`; returns its id.
    pub fn remove<N: Names + ?Sized>(&mut self, score: f64, member: &[u8], names: &N) -> Option<u32> {
        let p = Probe { score, member };
        let id = remove_rec(&mut self.root, &p, names)?;
        if let Node::Inner(n) = &mut self.root {
            if n.kids.len() == 1 {
                let kid = n.kids.pop().expect("one child");
                self.root = kid;
            }
        }
        Some(id)
    }

    /// Gives the entry equal to `(score, member)` a new id (its member moved
    /// within the slab). True if the entry was found.
    pub fn relink<N: Names + ?Sized>(&mut self, score: f64, member: &[u8], new_id: u32, names: &N) -> bool {
        relink_rec(&mut self.root, &Probe { score, member }, new_id, names)
    }

    /// The number of leading entries for which `pred(score, id)` holds;
    /// `pred` must hold on a prefix of the order (a "lower bound" test).
    pub fn rank_by(&self, pred: impl Fn(f64, u32) -> bool) -> usize {
        let mut node = &self.root;
        let mut acc = 0;
        loop {
            match node {
                Node::Leaf(l) => return acc + partition(l.len, |k| pred(l.scores[k], l.ids[k])),
                Node::Inner(n) => {
                    let k = partition(n.kids.len(), |k| pred(n.max_s[k], n.max_i[k]));
                    if k == n.kids.len() {
                        return acc + n.total;
                    }
                    acc += n.counts[..k].iter().map(|&c| c as usize).sum::<usize>();
                    node = &n.kids[k];
                }
            }
        }
    }

    /// Rank of `(score, member)` if present: entries ordering before it.
    pub fn rank_of<N: Names + ?Sized>(&self, score: f64, member: &[u8], names: &N) -> usize {
        let p = Probe { score, member };
        self.rank_by(|s, id| before(s, id, &p, names))
    }

    /// The entry at `rank` (< len).
    pub fn get(&self, rank: usize) -> (f64, u32) {
        let mut node = &self.root;
        let mut r = rank;
        loop {
            match node {
                Node::Leaf(l) => return (l.scores[r], l.ids[r]),
                Node::Inner(n) => {
                    let mut k = 0;
                    while r >= n.counts[k] as usize {
                        r -= n.counts[k] as usize;
                        k += 1;
                    }
                    node = &n.kids[k];
                }
            }
        }
    }

    /// Calls `f` on the entries with ranks in `start..end`, ascending, or
    /// descending when `rev`.
    pub fn visit(&self, start: usize, end: usize, rev: bool, f: &mut impl FnMut(f64, u32)) {
        let end = end.min(self.len());
        if start < end {
            visit_rec(&self.root, start, end, rev, f);
        }
    }
}

fn insert_rec<N: Names + ?Sized>(node: &mut Node, score: f64, id: u32, p: &Probe, names: &N) -> Option<Node> {
    match node {
        Node::Leaf(l) => {
            let pos = l.lower_bound(p, names);
            if l.len < LEAF_CAP {
                l.insert_at(pos, score, id);
                return None;
            }
            // Full. Appending (rising scores, the common case) starts a new
            // leaf and keeps this one full; otherwise split in halves.
            if pos == LEAF_CAP {
                let mut r = Leaf::boxed();
                r.insert_at(0, score, id);
                return Some(Node::Leaf(r));
            }
            let mut r = l.split_off(LEAF_CAP / 2);
            if pos <= LEAF_CAP / 2 {
                l.insert_at(pos, score, id);
            } else {
                r.insert_at(pos - LEAF_CAP / 2, score, id);
            }
            Some(Node::Leaf(r))
        }
        Node::Inner(n) => {
            let i = n.child_for(p, names);
            let split = insert_rec(&mut n.kids[i], score, id, p, names);
            n.total += 1;
            n.refresh(i);
            let right = split?;
            // the split-off entries are counted again when `right` is inserted
            n.total -= right.total();
            if n.kids.len() < INNER_CAP {
                n.insert_kid(i + 1, right);
                return None;
            }
            let half = INNER_CAP / 2;
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

fn remove_rec<N: Names + ?Sized>(node: &mut Node, p: &Probe, names: &N) -> Option<u32> {
    match node {
        Node::Leaf(l) => {
            let pos = l.lower_bound(p, names);
            if pos < l.len && l.scores[pos] == p.score && names.name(l.ids[pos]) == p.member {
                Some(l.remove_at(pos))
            } else {
                None
            }
        }
        Node::Inner(n) => {
            let i = n.child_for(p, names);
            let id = remove_rec(&mut n.kids[i], p, names)?;
            n.total -= 1;
            if n.kids[i].total() == 0 {
                n.remove_kid(i);
            } else {
                n.refresh(i);
                if n.kids[i].width() < n.kids[i].min_width() {
                    n.rebalance(i);
                }
            }
            Some(id)
        }
    }
}

fn relink_rec<N: Names + ?Sized>(node: &mut Node, p: &Probe, new_id: u32, names: &N) -> bool {
    match node {
        Node::Leaf(l) => {
            let pos = l.lower_bound(p, names);
            if pos < l.len && l.scores[pos] == p.score && names.name(l.ids[pos]) == p.member {
                l.ids[pos] = new_id;
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

fn visit_rec(node: &Node, start: usize, end: usize, rev: bool, f: &mut impl FnMut(f64, u32)) {
    match node {
        Node::Leaf(l) => {
            if rev {
                for k in (start..end).rev() {
                    f(l.scores[k], l.ids[k]);
                }
            } else {
                for k in start..end {
                    f(l.scores[k], l.ids[k]);
                }
            }
        }
        Node::Inner(n) => {
            let nk = n.kids.len();
            let mut offs = [0usize; INNER_CAP + 1];
            for k in 0..nk {
                offs[k + 1] = offs[k] + n.counts[k] as usize;
            }
            let mut each = |k: usize| {
                let (lo, hi) = (offs[k], offs[k + 1]);
                if hi > start && lo < end {
                    visit_rec(&n.kids[k], start.max(lo) - lo, end.min(hi) - lo, rev, f);
                }
            };
            if rev {
                (0..nk).rev().for_each(&mut each);
            } else {
                (0..nk).for_each(&mut each);
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
        let b = if s.is_sign_negative() { !b } else { b | (1 << 63) };
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

    fn check_node(n: &Node, root: bool) -> usize {
        match n {
            Node::Leaf(l) => {
                assert!(root || l.len >= 1);
                l.len
            }
            Node::Inner(inner) => {
                assert!(inner.kids.len() >= if root { 2 } else { 1 });
                let mut total = 0;
                for (k, kid) in inner.kids.iter().enumerate() {
                    let c = check_node(kid, false);
                    assert_eq!(c, inner.counts[k] as usize);
                    assert_eq!(kid.max(), (inner.max_s[k], inner.max_i[k]));
                    total += c;
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
                        let got = t.remove(old, &names.0[id as usize], &names);
                        assert_eq!(got, Some(id));
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
                    assert_eq!(lo, model.iter().filter(|(k, _)| k.0 < key(&names, s, *id).0).count());
                }
            }
            check(&t, &model);
            // drain everything
            let ids: Vec<u32> = model.iter().map(|(_, id)| *id).collect();
            for id in ids {
                let s = score[id as usize].unwrap();
                assert_eq!(t.remove(s, &names.0[id as usize], &names), Some(id));
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
        assert!(nl <= n / LEAF_CAP + 2, "{nl} leaves");
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
