//! List values and their two encodings, named as Redis 7.2 names them:
//! `listpack` (one packed node, while the list is small) and `quicklist`
//! (a deque of packed nodes).
//!
//! A node is one byte buffer holding its elements back to back, each as
//! `len | bytes | len-reversed` (LEB128 length, then the same bytes in
//! reverse so the node can be walked from either end). A node keeps free
//! room at its front as well as its back, so pushes and pops at either end
//! move no data. Elements are never boxed one by one.
//!
//! Rules for whoever changes this:
//! - Size limits (`list-max-listpack-size`) are checked against the size the
//!   element would take in a Redis listpack (`lp_entry_size`), not ours, so
//!   encoding changes and node splits happen where Redis's do.
//! - A quicklist never holds an empty node; an empty list is deleted by the
//!   command layer.
//! - Nothing here sees argv or replies.

use std::collections::VecDeque;

use super::bytes::malloc_size;
use crate::util::number::parse_i64;

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    Head,
    Tail,
}

// ----- Redis's listpack sizes, for the fill limits -----

/// Bytes of a listpack's header and terminator.
const LP_HEADER: usize = 7;
/// Redis's cap on a multi-element node when the fill is a count.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis's allowance for an element's encoding overhead when deciding
/// whether a node can take it.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// The bytes `e` takes as an entry of a Redis listpack (encoding + data +
/// back-length), integers included.
pub fn lp_entry_size(e: &[u8]) -> usize {
    let enc = match (e.len() <= 20).then(|| parse_i64(e)).flatten() {
        Some(v) if (0..=127).contains(&v) => 1,
        Some(v) if (-4096..=4095).contains(&v) => 2,
        Some(v) if (-32768..=32767).contains(&v) => 3,
        Some(v) if (-8_388_608..=8_388_607).contains(&v) => 4,
        Some(v) if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => 5,
        Some(_) => 9,
        None if e.len() < 64 => 1 + e.len(),
        None if e.len() < 4096 => 2 + e.len(),
        None => 5 + e.len(),
    };
    let back = match enc {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    enc + back
}

/// `list-max-listpack-size`: negative = a byte limit per node (-1 → 4 KB …
/// -5 → 64 KB), positive = an element count (with an 8 KB safety cap).
#[derive(Clone, Copy, Debug)]
pub struct Fill(pub i64);

impl Fill {
    /// (byte limit, count limit); `usize::MAX` where there is none.
    fn limits(self) -> (usize, usize) {
        if self.0 >= 0 {
            (usize::MAX, if self.0 == 0 { 1 } else { self.0 as usize })
        } else {
            const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
            (LEVELS[((-self.0 - 1) as usize).min(4)], usize::MAX)
        }
    }

    /// Would a node of `sz` listpack bytes and `count` elements be too big?
    fn exceeds(self, sz: usize, count: usize) -> bool {
        let (sz_limit, count_limit) = self.limits();
        if sz_limit != usize::MAX {
            sz > sz_limit
        } else {
            sz > SIZE_SAFETY_LIMIT || count > count_limit
        }
    }
}

// ----- the entry format -----

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

/// Bytes an element takes in a node.
#[inline]
fn entry_len(n: usize) -> usize {
    2 * varint_len(n) + n
}

/// `n` as LEB128: the bytes and how many of them are used.
#[inline]
fn varint(mut n: usize) -> ([u8; 5], usize) {
    let k = varint_len(n);
    let mut b = [0; 5];
    for (i, x) in b[..k].iter_mut().enumerate() {
        let more = if i + 1 < k { 0x80 } else { 0 };
        *x = (n & 0x7f) as u8 | more;
        n >>= 7;
    }
    (b, k)
}

/// Writes `e` as an entry into `dst` (exactly `entry_len(e.len())` bytes).
#[inline]
fn encode(dst: &mut [u8], e: &[u8]) {
    let k = varint_len(e.len());
    let mut n = e.len();
    for i in 0..k {
        let more = if i + 1 < k { 0x80 } else { 0 };
        let b = (n & 0x7f) as u8 | more;
        dst[i] = b;
        dst[2 * k + e.len() - 1 - i] = b;
        n >>= 7;
    }
    dst[k..k + e.len()].copy_from_slice(e);
}

/// Length and header size of the entry starting at `pos`.
#[inline]
fn read_fwd(b: &[u8], pos: usize) -> (usize, usize) {
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

/// Length and trailer size of the entry ending at `end`.
#[inline]
fn read_back(b: &[u8], end: usize) -> (usize, usize) {
    let x = b[end - 1];
    if x < 0x80 {
        return (x as usize, 1);
    }
    let mut n = (x & 0x7f) as usize;
    let mut i = 1;
    loop {
        let x = b[end - 1 - i];
        n |= ((x & 0x7f) as usize) << (7 * i);
        i += 1;
        if x < 0x80 {
            return (n, i);
        }
    }
}

/// Capacity to allocate for `need` bytes: an eighth more (at least 32
/// bytes), so growth is amortised while the slack stays below what
/// jemalloc's size classes cost Redis.
#[inline]
fn grown(need: usize) -> usize {
    (need + (need / 8).max(32)).next_multiple_of(16)
}

// ----- nodes -----

/// One packed run of elements.
#[derive(Clone, Default)]
pub struct Node {
    /// Entries live in `buf[head..]`; `buf[..head]` is free room.
    buf: Vec<u8>,
    head: u32,
    count: u32,
    /// Sum of `lp_entry_size` of the entries.
    lp: usize,
}

/// Iterates a node's elements, from either end.
#[derive(Clone)]
pub struct NodeIter<'a> {
    buf: &'a [u8],
    front: usize,
    back: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (n, k) = read_fwd(self.buf, self.front);
        let s = self.front + k;
        self.front = s + n + k;
        Some(&self.buf[s..s + n])
    }
}

impl<'a> DoubleEndedIterator for NodeIter<'a> {
    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (n, k) = read_back(self.buf, self.back);
        let e = self.back - k;
        self.back = e - n - k;
        Some(&self.buf[e - n..e])
    }
}

impl Node {
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The node's size as a Redis listpack.
    fn lp_bytes(&self) -> usize {
        LP_HEADER + self.lp
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    /// Bytes of entries.
    fn used(&self) -> usize {
        self.buf.len() - self.head()
    }

    pub fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            front: self.head(),
            back: self.buf.len(),
        }
    }

    /// Iterates from the `i`-th element on (both ends still usable).
    fn iter_at(&self, i: usize) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            front: self.pos_of(i),
            back: self.buf.len(),
        }
    }

    #[inline]
    fn next_pos(&self, pos: usize) -> usize {
        let (n, k) = read_fwd(&self.buf, pos);
        pos + 2 * k + n
    }

    #[inline]
    fn prev_pos(&self, pos: usize) -> usize {
        let (n, k) = read_back(&self.buf, pos);
        pos - 2 * k - n
    }

    #[inline]
    fn entry(&self, pos: usize) -> &[u8] {
        let (n, k) = read_fwd(&self.buf, pos);
        &self.buf[pos + k..pos + k + n]
    }

    /// Byte position of the `i`-th element (`i == len` gives the end),
    /// walking from the nearer end.
    fn pos_of(&self, i: usize) -> usize {
        let count = self.len();
        if i <= count / 2 {
            let mut pos = self.head();
            for _ in 0..i {
                pos = self.next_pos(pos);
            }
            pos
        } else {
            let mut pos = self.buf.len();
            for _ in i..count {
                pos = self.prev_pos(pos);
            }
            pos
        }
    }

    pub fn get(&self, i: usize) -> &[u8] {
        self.entry(self.pos_of(i))
    }

    /// Moves the entries into a new buffer with `front` free bytes before
    /// and `back` after.
    fn relayout(&mut self, front: usize, back: usize) {
        let used = self.used();
        let mut v = Vec::with_capacity(front + used + back);
        v.resize(front, 0);
        v.extend_from_slice(&self.buf[self.head()..]);
        self.buf = v;
        self.head = front as u32;
    }

    /// Makes room for `need` more bytes at the back: by sliding the entries
    /// into the front room when there is plenty, else by reallocating.
    fn reserve_back(&mut self, need: usize) {
        let len = self.buf.len();
        let spare = self.buf.capacity() - len;
        if spare >= need {
            return;
        }
        let (head, used) = (self.head(), self.used());
        if head == 0 {
            self.buf.reserve_exact(grown(len + need) - len);
        } else if head + spare >= need + used / 16 {
            self.buf.copy_within(head.., 0);
            self.buf.truncate(used);
            self.head = 0;
        } else {
            self.relayout(head.min(used / 8), grown(used + need) - used);
        }
    }

    /// Makes room for `need` more bytes at the front, the same way.
    fn reserve_front(&mut self, need: usize) {
        let head = self.head();
        if head >= need {
            return;
        }
        let used = self.used();
        let cap = self.buf.capacity();
        let spare = cap - self.buf.len();
        if head + spare >= need + used / 16 {
            // the back room becomes front room, without reallocating
            self.buf.resize(cap, 0);
            self.buf.copy_within(head..head + used, cap - used);
            self.head = (cap - used) as u32;
        } else {
            self.relayout(grown(used + need) - used, spare.min(used / 8));
        }
    }

    /// Drops all free room (a node that will not grow any more).
    fn shrink_to_fit(&mut self) {
        if self.head > 0 {
            self.relayout(0, 0);
        } else {
            self.buf.shrink_to_fit();
        }
    }

    /// Gives memory back after removals.
    fn after_removal(&mut self) {
        if self.count == 0 {
            self.head = 0;
            if self.buf.capacity() > 256 {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
            return;
        }
        let used = self.used();
        if self.head() > 64 && self.head() > used {
            let h = self.head();
            self.buf.copy_within(h.., 0);
            self.buf.truncate(used);
            self.head = 0;
        }
        if self.buf.capacity() > 2 * self.buf.len() + 64 {
            self.buf.shrink_to(grown(self.buf.len()));
        }
    }

    /// A node of the `count` elements `items` yields, which take `bytes`
    /// bytes as entries and `lp` as a Redis listpack: one allocation of
    /// exactly that size.
    fn build<'a>(
        items: impl Iterator<Item = &'a [u8]>,
        count: usize,
        bytes: usize,
        lp: usize,
    ) -> Node {
        // appended rather than encoded in place: no zeroing of the buffer
        let mut buf = Vec::with_capacity(bytes);
        for e in items {
            let (len, k) = varint(e.len());
            buf.extend_from_slice(&len[..k]);
            buf.extend_from_slice(e);
            buf.extend(len[..k].iter().rev());
        }
        debug_assert_eq!(buf.len(), bytes);
        Node {
            buf,
            head: 0,
            count: count as u32,
            lp,
        }
    }

    pub fn push_back(&mut self, e: &[u8]) {
        let need = entry_len(e.len());
        self.reserve_back(need);
        let len = self.buf.len();
        // SAFETY-free path: grow with zeroes (cheap next to the copy), then encode.
        self.buf.resize(len + need, 0);
        encode(&mut self.buf[len..], e);
        self.count += 1;
        self.lp += lp_entry_size(e);
    }

    pub fn push_front(&mut self, e: &[u8]) {
        let need = entry_len(e.len());
        self.reserve_front(need);
        let h = self.head() - need;
        encode(&mut self.buf[h..h + need], e);
        self.head = h as u32;
        self.count += 1;
        self.lp += lp_entry_size(e);
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let pos = self.head();
        let (n, k) = read_fwd(&self.buf, pos);
        let out = self.buf[pos + k..pos + k + n].to_vec();
        self.head = (pos + 2 * k + n) as u32;
        self.count -= 1;
        self.lp -= lp_entry_size(&out);
        self.after_removal();
        Some(out)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        if self.count == 0 {
            return None;
        }
        let end = self.buf.len();
        let (n, k) = read_back(&self.buf, end);
        let out = self.buf[end - k - n..end - k].to_vec();
        self.buf.truncate(end - 2 * k - n);
        self.count -= 1;
        self.lp -= lp_entry_size(&out);
        self.after_removal();
        Some(out)
    }

    /// Removes the first `n` elements (n ≤ len).
    fn drain_front(&mut self, n: usize) {
        let mut pos = self.head();
        for _ in 0..n {
            let next = self.next_pos(pos);
            self.lp -= lp_entry_size(self.entry(pos));
            pos = next;
        }
        self.head = pos as u32;
        self.count -= n as u32;
        self.after_removal();
    }

    /// Removes the last `n` elements (n ≤ len).
    fn drain_back(&mut self, n: usize) {
        let mut pos = self.buf.len();
        for _ in 0..n {
            pos = self.prev_pos(pos);
            self.lp -= lp_entry_size(self.entry(pos));
        }
        self.buf.truncate(pos);
        self.count -= n as u32;
        self.after_removal();
    }

    /// Inserts `e` so that it becomes the `i`-th element.
    fn insert(&mut self, i: usize, e: &[u8]) {
        if i == 0 {
            return self.push_front(e);
        }
        if i == self.len() {
            return self.push_back(e);
        }
        let need = entry_len(e.len());
        let rel = self.pos_of(i) - self.head();
        let before = rel;
        let after = self.used() - rel;
        if self.head() >= need && before < after {
            // shift the front part left into the free room
            let h = self.head();
            self.buf.copy_within(h..h + before, h - need);
            self.head = (h - need) as u32;
        } else {
            self.reserve_back(need);
            let len = self.buf.len();
            self.buf.resize(len + need, 0);
            let pos = self.head() + rel;
            self.buf.copy_within(pos..len, pos + need);
        }
        let pos = self.head() + rel;
        encode(&mut self.buf[pos..pos + need], e);
        self.count += 1;
        self.lp += lp_entry_size(e);
    }

    /// Replaces the `i`-th element.
    fn replace(&mut self, i: usize, e: &[u8]) {
        let pos = self.pos_of(i);
        let old = self.next_pos(pos) - pos;
        self.lp = self.lp - lp_entry_size(self.entry(pos)) + lp_entry_size(e);
        let need = entry_len(e.len());
        if need == old {
            encode(&mut self.buf[pos..pos + need], e);
            return;
        }
        let mut enc = vec![0u8; need];
        encode(&mut enc, e);
        self.buf.splice(pos..pos + old, enc);
    }

    /// Splits off the elements from `i` on into a new node.
    fn split_off(&mut self, i: usize) -> Node {
        let pos = self.pos_of(i);
        let mut right = Node::default();
        let tail = &self.buf[pos..];
        right.buf = Vec::with_capacity(grown(tail.len()));
        right.buf.extend_from_slice(tail);
        right.count = self.count - i as u32;
        right.lp = right.iter().map(lp_entry_size).sum();
        self.buf.truncate(pos);
        self.count = i as u32;
        self.lp -= right.lp;
        self.after_removal();
        right
    }

    /// Removes up to `limit` (0 = all) elements equal to `e`, scanning
    /// from the head or from the tail; returns how many.
    fn remove_eq(&mut self, e: &[u8], limit: usize, from_tail: bool) -> usize {
        // positions of the entries to delete, ascending
        let mut hits: Vec<usize> = Vec::new();
        if from_tail {
            let mut pos = self.buf.len();
            while pos > self.head() && (limit == 0 || hits.len() < limit) {
                pos = self.prev_pos(pos);
                if self.entry(pos) == e {
                    hits.push(pos);
                }
            }
            hits.reverse();
        } else {
            let mut pos = self.head();
            while pos < self.buf.len() && (limit == 0 || hits.len() < limit) {
                if self.entry(pos) == e {
                    hits.push(pos);
                }
                pos = self.next_pos(pos);
            }
        }
        if hits.is_empty() {
            return 0;
        }
        // compact: slide the kept runs down over the holes
        let elen = entry_len(e.len());
        let mut write = hits[0];
        for (j, &h) in hits.iter().enumerate() {
            let run_end = hits.get(j + 1).copied().unwrap_or(self.buf.len());
            let run_start = h + elen;
            self.buf.copy_within(run_start..run_end, write);
            write += run_end - run_start;
        }
        self.buf.truncate(write);
        let n = hits.len();
        self.count -= n as u32;
        self.lp -= n * lp_entry_size(e);
        self.after_removal();
        n
    }

    fn heap_size(&self) -> usize {
        malloc_size(self.buf.capacity())
    }
}

/// Is `node`, alone in a list, small enough to be a listpack? (Half the
/// fill limits, so a list does not flip encodings on every push and pop.)
fn fits_packed(node: &Node, fill: Fill) -> bool {
    let (sz, count) = fill.limits();
    node.lp_bytes() <= sz / 2 && node.len() <= count / 2
}

/// Can `node` take one more element of `sz` bytes? (Redis's rule: the
/// listpack size plus the element plus an overhead estimate.)
fn allow_insert(node: &Node, fill: Fill, sz: usize) -> bool {
    !fill.exceeds(
        node.lp_bytes() + sz + SIZE_ESTIMATE_OVERHEAD,
        node.len() + 1,
    )
}

// ----- the list -----

/// A list value.
#[derive(Clone)]
pub enum ListValue {
    /// One node: Redis's `listpack` encoding.
    Packed(Node),
    /// Many nodes: Redis's `quicklist` encoding. `len` is the element count.
    /// (The deque is boxed so a list value stays at 40 bytes.)
    #[allow(clippy::box_collection)]
    Quick {
        nodes: Box<VecDeque<Node>>,
        len: usize,
    },
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::new()
    }
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::Packed(Node::default())
    }

    pub fn len(&self) -> usize {
        match self {
            ListValue::Packed(n) => n.len(),
            ListValue::Quick { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            ListValue::Packed(_) => "listpack",
            ListValue::Quick { .. } => "quicklist",
        }
    }

    /// Heap bytes, the box holding this value included.
    pub fn heap_size(&self) -> usize {
        malloc_size(std::mem::size_of::<ListValue>())
            + match self {
                ListValue::Packed(n) => n.heap_size(),
                ListValue::Quick { nodes, .. } => {
                    malloc_size(std::mem::size_of::<VecDeque<Node>>())
                        + malloc_size(nodes.capacity() * std::mem::size_of::<Node>())
                        + nodes.iter().map(Node::heap_size).sum::<usize>()
                }
            }
    }

    fn nodes(&self) -> (&[Node], &[Node]) {
        match self {
            ListValue::Packed(n) => (std::slice::from_ref(n), &[]),
            ListValue::Quick { nodes, .. } => nodes.as_slices(),
        }
    }

    /// Every element, head to tail (reversible).
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        let (a, b) = self.nodes();
        a.iter().chain(b.iter()).flat_map(Node::iter)
    }

    /// (node index, index within the node) of element `i` (< len), walking
    /// the nodes from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        match self {
            ListValue::Packed(_) => (0, i),
            ListValue::Quick { nodes, len } => {
                if i < len / 2 {
                    let mut i = i;
                    for (ni, n) in nodes.iter().enumerate() {
                        if i < n.len() {
                            return (ni, i);
                        }
                        i -= n.len();
                    }
                } else {
                    let mut from_end = len - i; // ≥ 1
                    for (ni, n) in nodes.iter().enumerate().rev() {
                        if from_end <= n.len() {
                            return (ni, n.len() - from_end);
                        }
                        from_end -= n.len();
                    }
                }
                unreachable!("index within length")
            }
        }
    }

    fn node(&self, ni: usize) -> &Node {
        match self {
            ListValue::Packed(n) => n,
            ListValue::Quick { nodes, .. } => &nodes[ni],
        }
    }

    /// Element `i` (0-based from the head), if `i < len`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        let (ni, j) = self.locate(i);
        Some(self.node(ni).get(j))
    }

    /// Redis's index: negative counts from the tail.
    pub fn index(&self, index: i64) -> Option<usize> {
        let len = self.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Elements from `start` (< len) on, head to tail.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = &[u8]> + '_ {
        static NO_NODES: VecDeque<Node> = VecDeque::new();
        let none = NodeIter {
            buf: &[],
            front: 0,
            back: 0,
        };
        // the first node from the element on, then whole nodes, found in
        // O(1) once `locate` has walked in from the nearer end
        let (first, rest) = if start >= self.len() {
            (none, NO_NODES.range(..))
        } else {
            let (ni, j) = self.locate(start);
            match self {
                ListValue::Packed(n) => (n.iter_at(j), NO_NODES.range(..)),
                ListValue::Quick { nodes, .. } => (nodes[ni].iter_at(j), nodes.range(ni + 1..)),
            }
        };
        first.chain(rest.flat_map(Node::iter))
    }

    // ----- encoding changes (Redis 7.2's rules) -----

    /// Before adding `add_count` elements of `add_bytes` raw bytes: a
    /// listpack that would outgrow the fill limits becomes a quicklist.
    pub fn grow_check(&mut self, fill: Fill, add_bytes: usize, add_count: usize) {
        if let ListValue::Packed(n) = self
            && fill.exceeds(n.lp_bytes() + add_bytes, n.len() + add_count)
        {
            let node = std::mem::take(n);
            let len = node.len();
            let mut nodes = Box::new(VecDeque::new());
            if len > 0 {
                nodes.push_back(node);
            }
            *self = ListValue::Quick { nodes, len };
        }
    }

    /// After removals: a quicklist of one node under half the limits
    /// becomes a listpack again.
    pub fn shrink_check(&mut self, fill: Fill) {
        if let ListValue::Quick { nodes, .. } = self
            && nodes.len() == 1
            && fits_packed(&nodes[0], fill)
        {
            let node = nodes.pop_front().expect("one node");
            *self = ListValue::Packed(node);
        }
    }

    /// A list as a dump load builds it (Redis 7.2's rule): a quicklist
    /// whose nodes take elements as tail pushes would, turned into a
    /// listpack when it is one node under half the fill limits. Each node
    /// is sized in a first pass over its elements and allocated once.
    /// `None` when there are no elements.
    pub fn from_loaded<'a, I>(items: I, fill: Fill) -> Option<ListValue>
    where
        I: Iterator<Item = &'a [u8]> + Clone,
    {
        let mut scan = items.clone().peekable();
        let mut write = items;
        let mut nodes: Option<Box<VecDeque<Node>>> = None;
        let mut len = 0;
        loop {
            // the elements the next node takes: (count, bytes, listpack bytes)
            let (mut count, mut bytes, mut lp) = (0usize, 0usize, 0usize);
            while let Some(e) = scan.peek() {
                if count > 0
                    && fill.exceeds(LP_HEADER + lp + e.len() + SIZE_ESTIMATE_OVERHEAD, count + 1)
                {
                    break;
                }
                count += 1;
                bytes += entry_len(e.len());
                lp += lp_entry_size(e);
                scan.next();
            }
            if count == 0 {
                break;
            }
            let node = Node::build(write.by_ref().take(count), count, bytes, lp);
            len += count;
            if nodes.is_none() && scan.peek().is_none() {
                // one node
                return Some(if fits_packed(&node, fill) {
                    ListValue::Packed(node)
                } else {
                    ListValue::Quick {
                        nodes: Box::new(VecDeque::from([node])),
                        len,
                    }
                });
            }
            nodes.get_or_insert_default().push_back(node);
        }
        nodes.map(|nodes| ListValue::Quick { nodes, len })
    }

    // ----- pushes and pops -----

    /// Pushes one element (call `grow_check` first, as Redis does).
    pub fn push(&mut self, end: End, e: &[u8], fill: Fill) {
        match self {
            ListValue::Packed(n) => match end {
                End::Head => n.push_front(e),
                End::Tail => n.push_back(e),
            },
            ListValue::Quick { nodes, len } => {
                *len += 1;
                match end {
                    End::Head => match nodes.front_mut() {
                        Some(n) if allow_insert(n, fill, e.len()) => n.push_front(e),
                        old => {
                            // the old end node is now interior: it keeps no free room
                            if let Some(old) = old {
                                old.shrink_to_fit();
                            }
                            let mut n = Node::default();
                            n.push_back(e);
                            nodes.push_front(n);
                        }
                    },
                    End::Tail => match nodes.back_mut() {
                        Some(n) if allow_insert(n, fill, e.len()) => n.push_back(e),
                        old => {
                            if let Some(old) = old {
                                old.shrink_to_fit();
                            }
                            let mut n = Node::default();
                            n.push_back(e);
                            nodes.push_back(n);
                        }
                    },
                }
            }
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        match self {
            ListValue::Packed(n) => match end {
                End::Head => n.pop_front(),
                End::Tail => n.pop_back(),
            },
            ListValue::Quick { nodes, len } => {
                let (v, empty) = match end {
                    End::Head => {
                        let n = nodes.front_mut()?;
                        (n.pop_front(), n.is_empty())
                    }
                    End::Tail => {
                        let n = nodes.back_mut()?;
                        (n.pop_back(), n.is_empty())
                    }
                };
                if empty {
                    match end {
                        End::Head => nodes.pop_front(),
                        End::Tail => nodes.pop_back(),
                    };
                }
                *len -= 1;
                v
            }
        }
    }

    /// Removes `n` elements from the head (LTRIM).
    pub fn trim_head(&mut self, mut n: usize) {
        n = n.min(self.len());
        match self {
            ListValue::Packed(node) => node.drain_front(n),
            ListValue::Quick { nodes, len } => {
                *len -= n;
                while n > 0 {
                    let front = nodes.front_mut().expect("enough elements");
                    if front.len() <= n {
                        n -= front.len();
                        nodes.pop_front();
                    } else {
                        front.drain_front(n);
                        n = 0;
                    }
                }
            }
        }
    }

    /// Removes `n` elements from the tail (LTRIM).
    pub fn trim_tail(&mut self, mut n: usize) {
        n = n.min(self.len());
        match self {
            ListValue::Packed(node) => node.drain_back(n),
            ListValue::Quick { nodes, len } => {
                *len -= n;
                while n > 0 {
                    let back = nodes.back_mut().expect("enough elements");
                    if back.len() <= n {
                        n -= back.len();
                        nodes.pop_back();
                    } else {
                        back.drain_back(n);
                        n = 0;
                    }
                }
            }
        }
    }

    // ----- changes in the middle -----

    /// Replaces element `i` (< len). Call `grow_check` first.
    pub fn set(&mut self, i: usize, e: &[u8], fill: Fill) {
        let (ni, j) = self.locate(i);
        match self {
            ListValue::Packed(n) => n.replace(j, e),
            ListValue::Quick { nodes, .. } => {
                let n = &mut nodes[ni];
                n.replace(j, e);
                if n.len() > 1 && fill.exceeds(n.lp_bytes(), n.len()) {
                    // the node outgrew its limits: the element gets a node of its own
                    let mut mid = n.split_off(j);
                    let right = mid.split_off(1);
                    let mut at = ni + 1;
                    if n.is_empty() {
                        nodes.remove(ni);
                        at -= 1;
                    }
                    nodes.insert(at, mid);
                    if !right.is_empty() {
                        nodes.insert(at + 1, right);
                    }
                }
            }
        }
    }

    /// Inserts `e` before (or after) the first element equal to `pivot`;
    /// false if there is none. Call `grow_check` first.
    pub fn insert(&mut self, pivot: &[u8], e: &[u8], after: bool, fill: Fill) -> bool {
        let Some(i) = self.iter().position(|x| x == pivot) else {
            return false;
        };
        let (ni, j) = self.locate(i);
        let at = if after { j + 1 } else { j };
        match self {
            ListValue::Packed(n) => n.insert(at, e),
            ListValue::Quick { nodes, len } => {
                *len += 1;
                let n = &mut nodes[ni];
                if allow_insert(n, fill, e.len()) {
                    n.insert(at, e);
                    return true;
                }
                let at_tail = at == n.len();
                let at_head = at == 0;
                if at_tail && ni + 1 < nodes.len() && allow_insert(&nodes[ni + 1], fill, e.len()) {
                    nodes[ni + 1].push_front(e);
                } else if at_head && ni > 0 && allow_insert(&nodes[ni - 1], fill, e.len()) {
                    nodes[ni - 1].push_back(e);
                } else if at_tail || at_head {
                    let mut new = Node::default();
                    new.push_back(e);
                    nodes.insert(if at_tail { ni + 1 } else { ni }, new);
                } else {
                    // split the full node at the insertion point
                    let mut right = nodes[ni].split_off(at);
                    if allow_insert(&nodes[ni], fill, e.len()) {
                        nodes[ni].push_back(e);
                    } else if allow_insert(&right, fill, e.len()) {
                        right.push_front(e);
                    } else {
                        let mut new = Node::default();
                        new.push_back(e);
                        nodes.insert(ni + 1, new);
                        nodes.insert(ni + 2, right);
                        return true;
                    }
                    nodes.insert(ni + 1, right);
                }
            }
        }
        true
    }

    /// LREM: removes up to |count| elements equal to `e` (all when 0), from
    /// the head when count ≥ 0, from the tail when negative.
    pub fn remove(&mut self, e: &[u8], count: i64) -> usize {
        let from_tail = count < 0;
        let limit = count.unsigned_abs() as usize;
        match self {
            ListValue::Packed(n) => n.remove_eq(e, limit, from_tail),
            ListValue::Quick { nodes, len } => {
                let mut removed = 0;
                let order: Vec<usize> = if from_tail {
                    (0..nodes.len()).rev().collect()
                } else {
                    (0..nodes.len()).collect()
                };
                for ni in order {
                    let left = if limit == 0 { 0 } else { limit - removed };
                    removed += nodes[ni].remove_eq(e, left, from_tail);
                    if limit != 0 && removed == limit {
                        break;
                    }
                }
                nodes.retain(|n| !n.is_empty());
                *len -= removed;
                removed
            }
        }
    }

    /// Builds a list from elements, choosing the encoding as Redis does for
    /// a list built from scratch.
    #[cfg(test)]
    pub fn from_elements<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: Fill) -> ListValue {
        let mut l = ListValue::new();
        for e in items {
            l.grow_check(fill, e.len(), 1);
            l.push(End::Tail, e, fill);
        }
        l
    }

    /// Checks the internal invariants (tests).
    #[cfg(test)]
    pub fn check(&self) {
        match self {
            ListValue::Packed(n) => n.check(),
            ListValue::Quick { nodes, len } => {
                assert!(
                    nodes.iter().all(|n| !n.is_empty()),
                    "empty node in a quicklist"
                );
                nodes.iter().for_each(Node::check);
                assert_eq!(nodes.iter().map(Node::len).sum::<usize>(), *len);
            }
        }
    }
}

#[cfg(test)]
impl Node {
    fn check(&self) {
        assert_eq!(self.iter().count(), self.len());
        assert_eq!(self.iter().rev().count(), self.len());
        assert_eq!(self.iter().map(lp_entry_size).sum::<usize>(), self.lp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(l: &ListValue) -> Vec<Vec<u8>> {
        l.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn value_is_small() {
        // boxed in `Value`: 40 bytes is a 48-byte malloc chunk
        assert_eq!(std::mem::size_of::<ListValue>(), 40);
    }

    #[test]
    fn entry_format_round_trips() {
        for n in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let e: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut buf = vec![0u8; entry_len(n)];
            encode(&mut buf, &e);
            assert_eq!(read_fwd(&buf, 0), (n, varint_len(n)));
            assert_eq!(read_back(&buf, buf.len()), (n, varint_len(n)));
        }
    }

    #[test]
    fn lp_sizes_match_redis() {
        assert_eq!(lp_entry_size(b"1"), 2);
        assert_eq!(lp_entry_size(b"200"), 3);
        assert_eq!(lp_entry_size(b"01"), 4);
        assert_eq!(lp_entry_size(b"hello"), 7);
        assert_eq!(lp_entry_size(&[b'x'; 100]), 103);
        assert_eq!(lp_entry_size(b"9223372036854775807"), 10);
    }

    #[test]
    fn push_pop_both_ends() {
        let fill = Fill(-2);
        let mut l = ListValue::new();
        for i in 0..1000 {
            let e = format!("element-{i}");
            l.grow_check(fill, e.len(), 1);
            l.push(
                if i % 2 == 0 { End::Head } else { End::Tail },
                e.as_bytes(),
                fill,
            );
        }
        l.check();
        assert_eq!(l.encoding(), "quicklist");
        assert_eq!(l.len(), 1000);
        assert_eq!(l.get(0), Some(&b"element-998"[..]));
        assert_eq!(l.get(999), Some(&b"element-999"[..]));
        let mut n = 0;
        while l
            .pop(if n % 3 == 0 { End::Tail } else { End::Head })
            .is_some()
        {
            n += 1;
            if n % 97 == 0 {
                l.check();
            }
        }
        assert_eq!(n, 1000);
        assert!(l.is_empty());
    }

    #[test]
    fn conversions_follow_fill() {
        let fill = Fill(4);
        let mut l = ListValue::new();
        for e in [b"a", b"b", b"c", b"d"] {
            l.grow_check(fill, 1, 1);
            l.push(End::Tail, e, fill);
        }
        assert_eq!(l.encoding(), "listpack");
        l.grow_check(fill, 1, 1);
        l.push(End::Tail, b"e", fill);
        assert_eq!(l.encoding(), "quicklist");
        l.check();
        l.pop(End::Head);
        l.pop(End::Head);
        l.shrink_check(fill);
        assert_eq!(l.encoding(), "quicklist"); // two nodes
        l.pop(End::Tail);
        l.shrink_check(fill);
        assert_eq!(l.encoding(), "listpack");
        assert_eq!(collect(&l), vec![b"c".to_vec(), b"d".to_vec()]);
    }

    /// Node by node, as element lists.
    fn layout(l: &ListValue) -> Vec<Vec<Vec<u8>>> {
        let (a, b) = l.nodes();
        a.iter()
            .chain(b)
            .map(|n| n.iter().map(<[u8]>::to_vec).collect())
            .collect()
    }

    #[test]
    fn loaded_lists_match_tail_pushes() {
        // the reference: a quicklist filled by tail pushes, then the
        // one-node shrink (what loading did before nodes were sized ahead)
        let pushed = |items: &[Vec<u8>], fill: Fill| {
            let mut l = ListValue::new();
            l.grow_check(fill, usize::MAX / 2, 1);
            for e in items {
                l.push(End::Tail, e, fill);
            }
            l.shrink_check(fill);
            l
        };
        let shapes: Vec<Vec<Vec<u8>>> = vec![
            vec![b"x".to_vec()],
            (0..50)
                .map(|i| format!("message {i} hello there").into_bytes())
                .collect(),
            (0..300).map(|i| i.to_string().into_bytes()).collect(),
            (0..40)
                .map(|i| vec![b'a' + (i % 26) as u8; i * 97])
                .collect(),
            vec![vec![b'z'; 70_000], b"-12".to_vec(), vec![], vec![b'y'; 200]],
            (0..1000)
                .map(|i| format!("{}", i64::MAX - i).into_bytes())
                .collect(),
        ];
        for items in &shapes {
            for fill in [-5, -2, -1, 1, 3, 128, 0] {
                let fill = Fill(fill);
                let l = ListValue::from_loaded(items.iter().map(|e| &e[..]), fill).unwrap();
                l.check();
                let r = pushed(items, fill);
                assert_eq!(l.encoding(), r.encoding(), "{fill:?}");
                assert_eq!(layout(&l), layout(&r), "{fill:?}");
                assert_eq!(collect(&l).len(), items.len());
            }
        }
        assert!(ListValue::from_loaded(std::iter::empty(), Fill(-2)).is_none());
    }

    #[test]
    fn middle_operations() {
        let fill = Fill(3);
        let items: Vec<Vec<u8>> = (0..10).map(|i| vec![b'a' + i]).collect();
        let mut l = ListValue::from_elements(items.iter().map(|v| v.as_slice()), fill);
        l.check();
        assert!(l.insert(b"c", b"X", false, fill));
        assert!(l.insert(b"c", b"Y", true, fill));
        assert!(!l.insert(b"zz", b"Y", true, fill));
        l.check();
        assert_eq!(l.iter().collect::<Vec<_>>().concat(), b"abXcYdefghij");
        l.set(0, b"A", fill);
        l.set(11, b"J", fill);
        l.set(5, &[b'q'; 9000], fill);
        l.check();
        assert_eq!(l.get(5).unwrap().len(), 9000);
        assert_eq!(l.remove(b"Q", 0), 0);
        l.push(End::Tail, b"A", fill);
        l.push(End::Head, b"A", fill);
        assert_eq!(l.remove(b"A", -1), 1);
        assert_eq!(l.get(l.len() - 1), Some(&b"J"[..]));
        assert_eq!(l.remove(b"A", 0), 2);
        l.check();
        l.trim_head(2);
        l.trim_tail(2);
        l.check();
        assert_eq!(l.len(), 7);
        assert_eq!(l.iter_from(4).count(), 3);
        assert_eq!(l.iter().next_back(), l.get(6));
    }
}
