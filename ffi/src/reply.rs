//! `ekv_reply`: an engine `Reply` converted once into a flat, immutable
//! tree of nodes that C reads through accessors.
//!
//! Layout: one heap block per reply: the nodes, then an arena holding the
//! string payloads, each followed by a NUL (so `ekv_reply_str` can be used
//! as a C string, like hiredis' `str`). The root is node 0 and the pointer C
//! holds; the children of an aggregate are contiguous and found at a node
//! offset from their parent; a string at a byte offset from its node.
//! Strings longer than `ARENA_MAX` are not copied: the engine's buffer is
//! moved into the node (with a NUL appended). A reply thus costs one
//! allocation and the copy of its short strings; freeing it, one free.
//!
//! Accessors compute addresses from the raw pointer C passes in (which
//! carries the provenance of the whole block), never from a `&ekv_reply`.
//! The node struct is opaque in C: fields may change without breaking the ABI.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::cell::UnsafeCell;
use std::ffi::{c_char, c_int};
use std::mem::{MaybeUninit, size_of};
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};

use emberkv::Reply;

use crate::status::{Fail, guard_value};

/// Longer strings keep the engine's buffer instead of being copied.
const ARENA_MAX: usize = 4096;
/// Arena bytes reserved for a double's text (`%.17g` is at most 24 chars).
const DOUBLE_TEXT_MAX: usize = 32;

/// A bulk string (GET). ekv_reply_str() gives its bytes.
pub const EKV_REPLY_STRING: c_int = 1;
/// An array; ekv_reply_len() elements, ekv_reply_element() each.
pub const EKV_REPLY_ARRAY: c_int = 2;
/// An integer: ekv_reply_integer().
pub const EKV_REPLY_INTEGER: c_int = 3;
/// A null (GET of a missing key, a null array).
pub const EKV_REPLY_NIL: c_int = 4;
/// A status ("OK", "PONG"): ekv_reply_str().
pub const EKV_REPLY_STATUS: c_int = 5;
/// A Redis error reply ("WRONGTYPE Operation against ..."): ekv_reply_str().
pub const EKV_REPLY_ERROR: c_int = 6;
/// RESP3 double: ekv_reply_double(); ekv_reply_str() gives Redis's text for it.
pub const EKV_REPLY_DOUBLE: c_int = 7;
/// RESP3 boolean: ekv_reply_integer() is 1 or 0.
pub const EKV_REPLY_BOOL: c_int = 8;
/// RESP3 map: 2 * n elements, key, value, key, value, ...
pub const EKV_REPLY_MAP: c_int = 9;
/// RESP3 set: elements as for an array.
pub const EKV_REPLY_SET: c_int = 10;
/// RESP3 push (a pub/sub message): elements as for an array.
pub const EKV_REPLY_PUSH: c_int = 12;
/// RESP3 big number: its decimal digits in ekv_reply_str().
pub const EKV_REPLY_BIGNUM: c_int = 13;
/// RESP3 verbatim string: the text in ekv_reply_str(), its format ("txt",
/// "mkd") in ekv_reply_verb_format().
pub const EKV_REPLY_VERB: c_int = 14;

/// A reply, or one element of a reply: an immutable tree.
///
/// Ownership: the root (what ekv_command() or ekv_subscription_next() hands
/// out) belongs to the caller and is freed with ekv_reply_free(), which frees
/// the whole tree. Elements (ekv_reply_element()) and the strings the
/// accessors return are borrowed from the root and valid until it is freed;
/// never free them on their own.
///
/// Thread-safety: a reply is plain immutable data; it may be read from any
/// number of threads at once and freed from any thread (once).
pub struct ekv_reply {
    kind: c_int,
    /// Verbatim format, NUL-terminated (`txt\0`).
    fmt: [u8; 4],
    /// INTEGER value; 1 / 0 for BOOL; the bits of the f64 for DOUBLE.
    num: i64,
    /// String kinds: the payload's length. Aggregates: the number of children.
    len: usize,
    /// String kinds in the arena: byte offset from this node to the payload.
    /// Aggregates: node offset from this node to its first child.
    off: usize,
    /// Strings longer than ARENA_MAX: the payload followed by a NUL.
    big: Vec<u8>,
    /// The root: nodes in the block and arena bytes (for the layout). 0 elsewhere.
    total: usize,
    arena: usize,
    /// The root: the client slot the block lives in; NULL for a heap block.
    slot: *const Slot,
}

// SAFETY: a node is immutable plain data once built; the raw addresses
// derived from it point into the same block (or `big`), owned by the root.
unsafe impl Send for ekv_reply {}
unsafe impl Sync for ekv_reply {}

impl ekv_reply {
    const fn empty(kind: c_int) -> ekv_reply {
        ekv_reply {
            kind,
            fmt: [0; 4],
            num: 0,
            len: 0,
            off: 0,
            big: Vec::new(),
            total: 0,
            arena: 0,
            slot: ptr::null(),
        }
    }

    fn is_string(&self) -> bool {
        matches!(
            self.kind,
            EKV_REPLY_STRING
                | EKV_REPLY_STATUS
                | EKV_REPLY_ERROR
                | EKV_REPLY_DOUBLE
                | EKV_REPLY_BIGNUM
                | EKV_REPLY_VERB
        )
    }

    fn is_aggregate(&self) -> bool {
        matches!(
            self.kind,
            EKV_REPLY_ARRAY | EKV_REPLY_MAP | EKV_REPLY_SET | EKV_REPLY_PUSH
        )
    }
}

fn layout(nodes: usize, arena: usize) -> Layout {
    Layout::from_size_align(
        nodes * size_of::<ekv_reply>() + arena,
        align_of::<ekv_reply>(),
    )
    .expect("reply too large")
}

/// Redis's text for a double (`%.17g`, `inf`, `-inf`, `nan`), taken from the
/// engine's own RESP3 writer so that the two can never disagree.
fn double_text(d: f64) -> Vec<u8> {
    let resp = Reply::Double(d).to_resp3(); // ",<text>\r\n"
    resp[1..resp.len() - 2].to_vec()
}

/// The payload of a string-like reply; `None` for others.
fn string_payload(r: &Reply) -> Option<&[u8]> {
    match r {
        Reply::Simple(s) | Reply::Error(s) | Reply::BigNumber(s) => Some(s.as_bytes()),
        Reply::Bulk(b) => Some(b),
        Reply::Verbatim(_, b) => Some(b),
        _ => None,
    }
}

/// Nodes and arena bytes needed for `r`.
fn measure(r: &Reply, nodes: &mut usize, arena: &mut usize) {
    *nodes += 1;
    match r {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            v.iter().for_each(|x| measure(x, nodes, arena))
        }
        Reply::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            measure(k, nodes, arena);
            measure(v, nodes, arena)
        }),
        Reply::Double(_) => *arena += DOUBLE_TEXT_MAX,
        _ => {
            if let Some(p) = string_payload(r)
                && p.len() <= ARENA_MAX
            {
                *arena += p.len() + 1;
            }
        }
    }
}

/// Fills a block allocated for a measured reply.
struct Builder {
    base: *mut ekv_reply,
    /// Node bytes: where the arena starts.
    nodes_bytes: usize,
    next_node: usize,
    arena_used: usize,
    arena_cap: usize,
    resp3: bool,
}

impl Builder {
    /// Copies `p` (and a NUL) into the arena; the node offset for node `i`.
    fn copy_in(&mut self, i: usize, p: &[u8]) -> usize {
        assert!(
            self.arena_used + p.len() < self.arena_cap,
            "arena measured too small"
        );
        let at = self.nodes_bytes + self.arena_used;
        // SAFETY: `at .. at + len + 1` is inside the block (checked above).
        unsafe {
            let dst = (self.base as *mut u8).add(at);
            ptr::copy_nonoverlapping(p.as_ptr(), dst, p.len());
            *dst.add(p.len()) = 0;
        }
        self.arena_used += p.len() + 1;
        at - i * size_of::<ekv_reply>()
    }

    fn string(&mut self, i: usize, kind: c_int, payload: Vec<u8>) -> ekv_reply {
        let len = payload.len();
        if len <= ARENA_MAX {
            let off = self.copy_in(i, &payload);
            ekv_reply {
                len,
                off,
                ..ekv_reply::empty(kind)
            }
        } else {
            let mut big = payload;
            big.reserve_exact(1);
            big.push(0);
            ekv_reply {
                len,
                big,
                ..ekv_reply::empty(kind)
            }
        }
    }

    /// Writes `r` as node `i`, its children after `next_node`.
    fn fill(&mut self, i: usize, r: Reply) {
        let node = match r {
            Reply::Array(v) => self.aggregate(i, EKV_REPLY_ARRAY, v),
            Reply::Set(v) => self.aggregate(
                i,
                if self.resp3 {
                    EKV_REPLY_SET
                } else {
                    EKV_REPLY_ARRAY
                },
                v,
            ),
            Reply::Push(v) => self.aggregate(
                i,
                if self.resp3 {
                    EKV_REPLY_PUSH
                } else {
                    EKV_REPLY_ARRAY
                },
                v,
            ),
            Reply::Map(pairs) => {
                let kind = if self.resp3 {
                    EKV_REPLY_MAP
                } else {
                    EKV_REPLY_ARRAY
                };
                self.aggregate(
                    i,
                    kind,
                    pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                )
            }
            Reply::Nil | Reply::NilArray => ekv_reply::empty(EKV_REPLY_NIL),
            Reply::Int(n) => ekv_reply {
                num: n,
                ..ekv_reply::empty(EKV_REPLY_INTEGER)
            },
            Reply::Bool(b) => ekv_reply {
                num: b as i64,
                ..ekv_reply::empty(if self.resp3 {
                    EKV_REPLY_BOOL
                } else {
                    EKV_REPLY_INTEGER
                })
            },
            Reply::Double(d) => {
                let text = double_text(d);
                let off = self.copy_in(i, &text);
                let kind = if self.resp3 {
                    EKV_REPLY_DOUBLE
                } else {
                    EKV_REPLY_STRING
                };
                let num = if self.resp3 { d.to_bits() as i64 } else { 0 };
                ekv_reply {
                    num,
                    len: text.len(),
                    off,
                    ..ekv_reply::empty(kind)
                }
            }
            Reply::Simple(s) => self.string(i, EKV_REPLY_STATUS, s.into_bytes()),
            Reply::Error(e) => self.string(i, EKV_REPLY_ERROR, e.into_bytes()),
            Reply::Bulk(b) => self.string(i, EKV_REPLY_STRING, b.into_vec()),
            Reply::BigNumber(n) => self.string(
                i,
                if self.resp3 {
                    EKV_REPLY_BIGNUM
                } else {
                    EKV_REPLY_STRING
                },
                n.into_bytes(),
            ),
            Reply::Verbatim(fmt, text) if self.resp3 => {
                let mut node = self.string(i, EKV_REPLY_VERB, text);
                let f = fmt.as_bytes();
                let n = f.len().min(3);
                node.fmt[..n].copy_from_slice(&f[..n]);
                node
            }
            Reply::Verbatim(_, text) => self.string(i, EKV_REPLY_STRING, text),
        };
        // SAFETY: node `i` is inside the block and written exactly once.
        unsafe { self.base.add(i).write(node) };
    }

    fn aggregate(&mut self, i: usize, kind: c_int, items: Vec<Reply>) -> ekv_reply {
        let (first, len) = (self.next_node, items.len());
        self.next_node += len;
        for (k, item) in items.into_iter().enumerate() {
            self.fill(first + k, item);
        }
        ekv_reply {
            len,
            off: first - i,
            ..ekv_reply::empty(kind)
        }
    }
}

/// A block a client lends to its own small replies, so that the common
/// command (a short reply, freed before the next command) allocates nothing.
///
/// States: FREE (the client may build its next reply here), IN_USE (a reply
/// lives here, owned by the caller), ORPHANED (in use, and the client was
/// freed: the reply's ekv_reply_free frees the slot). Only the client's
/// thread takes a FREE slot (a client is used by one thread at a time); any
/// thread may free the reply, so the other transitions are atomic.
pub(crate) struct Slot {
    state: AtomicU8,
    mem: UnsafeCell<MaybeUninit<[ekv_reply; SLOT_NODES]>>,
}

const FREE: u8 = 0;
const IN_USE: u8 = 1;
const ORPHANED: u8 = 2;
/// A slot holds this many nodes' worth of bytes (nodes + arena).
const SLOT_NODES: usize = 4;
const SLOT_BYTES: usize = SLOT_NODES * size_of::<ekv_reply>();

impl Slot {
    pub fn new() -> *mut Slot {
        Box::into_raw(Box::new(Slot {
            state: AtomicU8::new(FREE),
            mem: UnsafeCell::new(MaybeUninit::uninit()),
        }))
    }

    /// The slot's memory for a reply of `bytes`, if it fits and is free.
    fn take(&self, bytes: usize) -> Option<*mut ekv_reply> {
        if bytes > SLOT_BYTES || self.state.load(Ordering::Acquire) != FREE {
            return None;
        }
        self.state.store(IN_USE, Ordering::Relaxed);
        Some(self.mem.get() as *mut ekv_reply)
    }

    /// A reply built in the slot was freed.
    ///
    /// # Safety
    /// `slot` is a live slot in state IN_USE or ORPHANED.
    unsafe fn release(slot: *const Slot) {
        // SAFETY: live (see above).
        let state = unsafe { &(*slot).state };
        if let Err(ORPHANED) =
            state.compare_exchange(IN_USE, FREE, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: the client is gone and so is its reply: last user.
            drop(unsafe { Box::from_raw(slot as *mut Slot) });
        }
    }

    /// The client owning the slot is being freed.
    ///
    /// # Safety
    /// `slot` came from `Slot::new` and its client is going away.
    pub unsafe fn retire(slot: *mut Slot) {
        // SAFETY: live until one of the branches below frees it.
        let state = unsafe { &(*slot).state };
        if state
            .compare_exchange(IN_USE, ORPHANED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // FREE (possibly just now, by the reply's free): nobody else uses it.
            // SAFETY: made by Slot::new; no reply lives in it.
            drop(unsafe { Box::from_raw(slot) });
        }
    }
}

/// Memory for a reply of `nodes` nodes and `arena` bytes: the client's slot
/// when it fits and is free, else the heap. Returns the block and its slot.
fn place(nodes: usize, arena: usize, slot: Option<&Slot>) -> (*mut ekv_reply, *const Slot) {
    let bytes = nodes * size_of::<ekv_reply>() + arena;
    if let Some(s) = slot
        && let Some(mem) = s.take(bytes)
    {
        return (mem, s as *const Slot);
    }
    let layout = layout(nodes, arena);
    // SAFETY: the layout has a non-zero size (at least one node).
    let base = unsafe { alloc(layout) } as *mut ekv_reply;
    if base.is_null() {
        handle_alloc_error(layout);
    }
    (base, ptr::null())
}

/// Converts `r` into a tree owned by the caller (freed by ekv_reply_free).
/// `resp3`: the protocol of the client that ran the command (RESP2 sees
/// RESP3-only shapes lowered: map → flat array, double → string, ...).
/// `slot`: the client's reply slot, used when free and big enough.
pub(crate) fn into_raw(r: Reply, resp3: bool, slot: Option<&Slot>) -> *mut ekv_reply {
    // The common replies (GET, SET, INCR) take a short path: one node.
    let (node, payload): (ekv_reply, &[u8]) = match &r {
        Reply::Bulk(b) if b.len() <= ARENA_MAX => (ekv_reply::empty(EKV_REPLY_STRING), b),
        Reply::Simple(s) if s.len() <= ARENA_MAX => {
            (ekv_reply::empty(EKV_REPLY_STATUS), s.as_bytes())
        }
        Reply::Int(n) => (
            ekv_reply {
                num: *n,
                ..ekv_reply::empty(EKV_REPLY_INTEGER)
            },
            &[],
        ),
        Reply::Nil => (ekv_reply::empty(EKV_REPLY_NIL), &[]),
        _ => return into_raw_tree(r, resp3, slot),
    };
    let arena = if node.kind == EKV_REPLY_STRING || node.kind == EKV_REPLY_STATUS {
        payload.len() + 1
    } else {
        0
    };
    let (base, slot) = place(1, arena, slot);
    // SAFETY: the block holds one node and `arena` bytes after it.
    unsafe {
        if arena > 0 {
            let dst = base.add(1) as *mut u8;
            ptr::copy_nonoverlapping(payload.as_ptr(), dst, payload.len());
            *dst.add(payload.len()) = 0;
        }
        let (len, off) = if arena > 0 {
            (payload.len(), size_of::<ekv_reply>())
        } else {
            (0, 0)
        };
        base.write(ekv_reply {
            len,
            off,
            total: 1,
            arena,
            slot,
            ..node
        });
    }
    base
}

fn into_raw_tree(r: Reply, resp3: bool, slot: Option<&Slot>) -> *mut ekv_reply {
    let (mut nodes, mut arena) = (0, 0);
    measure(&r, &mut nodes, &mut arena);
    let (base, slot) = place(nodes, arena, slot);
    let mut b = Builder {
        base,
        nodes_bytes: nodes * size_of::<ekv_reply>(),
        next_node: 1,
        arena_used: 0,
        arena_cap: arena,
        resp3,
    };
    b.fill(0, r);
    debug_assert_eq!(b.next_node, nodes);
    // SAFETY: node 0 was written by fill.
    unsafe {
        (*base).total = nodes;
        (*base).arena = arena;
        (*base).slot = slot;
    }
    base
}

/// Frees a tree made by `into_raw`. Non-root nodes are ignored (false).
///
/// # Safety
/// `r` is NULL or a node of a live tree.
unsafe fn free_raw(r: *mut ekv_reply) -> bool {
    if r.is_null() {
        return true;
    }
    // SAFETY: the caller passes a node of a live tree.
    let (total, arena, slot) = unsafe { ((*r).total, (*r).arena, (*r).slot) };
    if total == 0 {
        return false;
    }
    // SAFETY: a root starts a block of `total` initialised nodes and `arena`
    // bytes: a client's slot, or allocated with this layout by into_raw.
    unsafe {
        ptr::drop_in_place(ptr::slice_from_raw_parts_mut(r, total));
        if slot.is_null() {
            dealloc(r as *mut u8, layout(total, arena));
        } else {
            Slot::release(slot);
        }
    }
    true
}

/// Borrows the node behind `r` for an accessor; NULL is misuse.
///
/// # Safety
/// `r` is NULL or a node of a live tree.
unsafe fn node<'a>(r: *const ekv_reply) -> Result<&'a ekv_reply, Fail> {
    // SAFETY: see above.
    unsafe { r.as_ref() }.ok_or_else(|| Fail::misuse("reply is NULL"))
}

/// The reply's type: one of the EKV_REPLY_* constants; 0 if `reply` is NULL.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_type(reply: *const ekv_reply) -> c_int {
    // SAFETY: `reply` is NULL or a node of a live tree (caller's contract).
    guard_value(0, || Ok(unsafe { node(reply) }?.kind))
}

/// The value of an EKV_REPLY_INTEGER reply, or 1 / 0 for EKV_REPLY_BOOL;
/// 0 for any other type or NULL.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_integer(reply: *const ekv_reply) -> i64 {
    // SAFETY: as for ekv_reply_type.
    guard_value(0, || {
        let r = unsafe { node(reply) }?;
        Ok(if matches!(r.kind, EKV_REPLY_INTEGER | EKV_REPLY_BOOL) {
            r.num
        } else {
            0
        })
    })
}

/// The value of an EKV_REPLY_DOUBLE reply; 0.0 for any other type or NULL.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_double(reply: *const ekv_reply) -> f64 {
    // SAFETY: as for ekv_reply_type.
    guard_value(0.0, || {
        let r = unsafe { node(reply) }?;
        Ok(if r.kind == EKV_REPLY_DOUBLE {
            f64::from_bits(r.num as u64)
        } else {
            0.0
        })
    })
}

/// The bytes of a string-like reply (STRING, STATUS, ERROR, DOUBLE, BIGNUM,
/// VERB), stores their number in `*len` if `len` is not NULL. The bytes may
/// contain NULs and are always followed by one extra NUL (not counted), so
/// text replies can be used as C strings.
///
/// Returns NULL (and `*len` = 0) for other types and for a NULL reply.
/// Borrowed: valid until the root reply is freed.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_str(reply: *const ekv_reply, len: *mut usize) -> *const u8 {
    // SAFETY: `reply` as for ekv_reply_type; `len` is NULL or writable.
    guard_value(ptr::null(), || {
        let (p, n) = match unsafe { node(reply) } {
            // SAFETY: an arena string lies `off` bytes after its node, in
            // the block `reply` points into.
            Ok(r) if r.is_string() && r.big.is_empty() => {
                (unsafe { (reply as *const u8).add(r.off) }, r.len)
            }
            Ok(r) if r.is_string() => (r.big.as_ptr(), r.len),
            Ok(_) => (ptr::null(), 0),
            Err(e) => {
                if !len.is_null() {
                    unsafe { *len = 0 };
                }
                return Err(e);
            }
        };
        if !len.is_null() {
            unsafe { *len = n };
        }
        Ok(p)
    })
}

/// For an aggregate (ARRAY, MAP, SET, PUSH) the number of elements (a MAP
/// of n pairs has 2 * n); for a string-like reply its length in bytes (as
/// ekv_reply_str()); 0 otherwise and for NULL.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_len(reply: *const ekv_reply) -> usize {
    // SAFETY: as for ekv_reply_type.
    guard_value(0, || {
        let r = unsafe { node(reply) }?;
        Ok(if r.is_string() || r.is_aggregate() {
            r.len
        } else {
            0
        })
    })
}

/// Element `i` (from 0) of an aggregate. A MAP lists key, value, key,
/// value, ... Returns NULL when `i` >= ekv_reply_len(), for a non-aggregate
/// and for NULL.
///
/// Borrowed: valid until the root reply is freed; never pass it to
/// ekv_reply_free().
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_element(reply: *const ekv_reply, i: usize) -> *const ekv_reply {
    // SAFETY: as for ekv_reply_type.
    guard_value(ptr::null(), || {
        let r = unsafe { node(reply) }?;
        // SAFETY: the builder placed `len` children `off` nodes after this
        // one, in the same block; `reply` carries the block's provenance.
        Ok(if r.is_aggregate() && i < r.len {
            unsafe { reply.add(r.off + i) }
        } else {
            ptr::null()
        })
    })
}

/// The three-letter format of an EKV_REPLY_VERB reply ("txt", "mkd") as a C
/// string borrowed from the reply; NULL for other types and for NULL.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_verb_format(reply: *const ekv_reply) -> *const c_char {
    // SAFETY: as for ekv_reply_type.
    guard_value(ptr::null(), || {
        let r = unsafe { node(reply) }?;
        Ok(if r.kind == EKV_REPLY_VERB {
            r.fmt.as_ptr().cast()
        } else {
            ptr::null()
        })
    })
}

/// Frees a reply and everything in it. NULL is accepted (no-op). Only the
/// root may be freed: an element (from ekv_reply_element()) is ignored.
/// Any thread may free a reply (once), when no thread still reads it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_free(reply: *mut ekv_reply) {
    guard_value((), || {
        // SAFETY: `reply` is NULL or a node of a live tree (caller's contract).
        if unsafe { free_raw(reply) } {
            Ok(())
        } else {
            Err(Fail::misuse(
                "ekv_reply_free: not a root reply (an element?)",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    struct Tree(*mut ekv_reply);
    impl Drop for Tree {
        fn drop(&mut self) {
            unsafe { ekv_reply_free(self.0) }
        }
    }

    fn s(r: *const ekv_reply) -> Vec<u8> {
        let mut n = 0;
        let p = unsafe { ekv_reply_str(r, &mut n) };
        assert!(!p.is_null());
        assert_eq!(unsafe { *p.add(n) }, 0, "NUL-terminated");
        unsafe { std::slice::from_raw_parts(p, n) }.to_vec()
    }

    fn el(r: *const ekv_reply, i: usize) -> *const ekv_reply {
        let e = unsafe { ekv_reply_element(r, i) };
        assert!(!e.is_null());
        e
    }

    #[test]
    fn every_resp3_type() {
        let r = Reply::Array(vec![
            Reply::bulk(b"a\0b"),
            Reply::Int(-5),
            Reply::Nil,
            Reply::NilArray,
            Reply::ok(),
            Reply::error("ERR x"),
            Reply::Double(1.5),
            Reply::Bool(true),
            Reply::Map(vec![
                (
                    Reply::bulk("k"),
                    Reply::Array(vec![Reply::Int(1), Reply::Int(2)]),
                ),
                (Reply::bulk("k2"), Reply::Int(3)),
            ]),
            Reply::Set(vec![Reply::bulk("m")]),
            Reply::Push(vec![Reply::bulk("message")]),
            Reply::BigNumber("123456789012345678901234567890".into()),
            Reply::Verbatim("txt", b"hello".to_vec()),
            Reply::Array(vec![]),
            Reply::Double(f64::NEG_INFINITY),
        ]);
        let t = Tree(into_raw(r, true, None));
        let r = t.0 as *const ekv_reply;
        unsafe {
            assert_eq!(ekv_reply_type(r), EKV_REPLY_ARRAY);
            assert_eq!(ekv_reply_len(r), 15);
            assert!(ekv_reply_element(r, 15).is_null());
            assert_eq!(ekv_reply_type(el(r, 0)), EKV_REPLY_STRING);
            assert_eq!(s(el(r, 0)), b"a\0b");
            assert_eq!(ekv_reply_len(el(r, 0)), 3);
            assert_eq!(ekv_reply_integer(el(r, 1)), -5);
            assert_eq!(ekv_reply_type(el(r, 2)), EKV_REPLY_NIL);
            assert_eq!(ekv_reply_type(el(r, 3)), EKV_REPLY_NIL);
            let mut n = 99;
            assert!(ekv_reply_str(el(r, 3), &mut n).is_null());
            assert_eq!(n, 0);
            assert_eq!(ekv_reply_type(el(r, 4)), EKV_REPLY_STATUS);
            assert_eq!(s(el(r, 4)), b"OK");
            assert_eq!(ekv_reply_type(el(r, 5)), EKV_REPLY_ERROR);
            assert_eq!(s(el(r, 5)), b"ERR x");
            assert_eq!(ekv_reply_type(el(r, 6)), EKV_REPLY_DOUBLE);
            assert_eq!(ekv_reply_double(el(r, 6)), 1.5);
            assert_eq!(s(el(r, 6)), b"1.5");
            assert_eq!(ekv_reply_type(el(r, 7)), EKV_REPLY_BOOL);
            assert_eq!(ekv_reply_integer(el(r, 7)), 1);
            let m = el(r, 8);
            assert_eq!(ekv_reply_type(m), EKV_REPLY_MAP);
            assert_eq!(ekv_reply_len(m), 4);
            assert_eq!(s(el(m, 0)), b"k");
            assert_eq!(ekv_reply_type(el(m, 1)), EKV_REPLY_ARRAY);
            assert_eq!(ekv_reply_integer(el(el(m, 1), 1)), 2);
            assert_eq!(s(el(m, 2)), b"k2");
            assert_eq!(ekv_reply_integer(el(m, 3)), 3);
            assert_eq!(ekv_reply_type(el(r, 9)), EKV_REPLY_SET);
            assert_eq!(s(el(el(r, 9), 0)), b"m");
            assert_eq!(ekv_reply_type(el(r, 10)), EKV_REPLY_PUSH);
            assert_eq!(ekv_reply_type(el(r, 11)), EKV_REPLY_BIGNUM);
            assert_eq!(s(el(r, 11)), b"123456789012345678901234567890");
            assert_eq!(ekv_reply_type(el(r, 12)), EKV_REPLY_VERB);
            assert_eq!(s(el(r, 12)), b"hello");
            assert_eq!(
                CStr::from_ptr(ekv_reply_verb_format(el(r, 12))).to_bytes(),
                b"txt"
            );
            assert!(ekv_reply_verb_format(el(r, 0)).is_null());
            assert_eq!(ekv_reply_type(el(r, 13)), EKV_REPLY_ARRAY);
            assert_eq!(ekv_reply_len(el(r, 13)), 0);
            assert!(ekv_reply_element(el(r, 13), 0).is_null());
            assert_eq!(s(el(r, 14)), b"-inf");
            // an element is not freed
            ekv_reply_free(el(r, 1) as *mut ekv_reply);
        }
    }

    #[test]
    fn resp2_lowering() {
        let r = Reply::Array(vec![
            Reply::Double(0.1),
            Reply::Bool(false),
            Reply::Map(vec![(Reply::bulk("k"), Reply::bulk("v"))]),
            Reply::Set(vec![]),
            Reply::BigNumber("1".into()),
            Reply::Verbatim("txt", b"t".to_vec()),
            Reply::Push(vec![Reply::Int(1)]),
        ]);
        let t = Tree(into_raw(r, false, None));
        let r = t.0 as *const ekv_reply;
        unsafe {
            assert_eq!(ekv_reply_type(el(r, 0)), EKV_REPLY_STRING);
            assert_eq!(s(el(r, 0)), b"0.10000000000000001");
            assert_eq!(ekv_reply_type(el(r, 1)), EKV_REPLY_INTEGER);
            assert_eq!(ekv_reply_integer(el(r, 1)), 0);
            assert_eq!(ekv_reply_type(el(r, 2)), EKV_REPLY_ARRAY);
            assert_eq!(ekv_reply_len(el(r, 2)), 2);
            assert_eq!(ekv_reply_type(el(r, 3)), EKV_REPLY_ARRAY);
            assert_eq!(ekv_reply_type(el(r, 4)), EKV_REPLY_STRING);
            assert_eq!(ekv_reply_type(el(r, 5)), EKV_REPLY_STRING);
            assert_eq!(ekv_reply_type(el(r, 6)), EKV_REPLY_ARRAY);
        }
    }

    #[test]
    fn null_is_misuse_not_a_crash() {
        unsafe {
            assert_eq!(ekv_reply_type(ptr::null()), 0);
            assert_eq!(ekv_reply_integer(ptr::null()), 0);
            assert_eq!(ekv_reply_double(ptr::null()), 0.0);
            assert_eq!(ekv_reply_len(ptr::null()), 0);
            let mut n = 7;
            assert!(ekv_reply_str(ptr::null(), &mut n).is_null());
            assert_eq!(n, 0);
            assert!(ekv_reply_str(ptr::null(), ptr::null_mut()).is_null());
            assert!(ekv_reply_element(ptr::null(), 0).is_null());
            assert!(ekv_reply_verb_format(ptr::null()).is_null());
            ekv_reply_free(ptr::null_mut());
        }
    }

    #[test]
    fn slot_is_reused_and_outlives_its_client() {
        let slot = Slot::new();
        let sl = unsafe { &*slot };
        let a = into_raw(Reply::bulk("first"), true, Some(sl));
        assert_eq!(
            unsafe { (*a).slot },
            slot as *const Slot,
            "a free slot is used"
        );
        let b = into_raw(Reply::bulk("second"), true, Some(sl));
        assert!(unsafe { (*b).slot }.is_null(), "a busy slot is not");
        assert_eq!(s(a), b"first");
        assert_eq!(s(b), b"second");
        unsafe { ekv_reply_free(a) };
        let c = into_raw(
            Reply::Array(vec![Reply::Int(1), Reply::bulk("x")]),
            true,
            Some(sl),
        );
        assert_eq!(
            unsafe { (*c).slot },
            slot as *const Slot,
            "freed slot reused, small trees too"
        );
        let big = into_raw(Reply::bulk(vec![b'x'; SLOT_BYTES]), true, Some(sl));
        assert!(unsafe { (*big).slot }.is_null(), "too big for the slot");
        // the client goes first: its slot lives until the reply in it is freed
        unsafe { Slot::retire(slot) };
        assert_eq!(s(el(c, 1)), b"x");
        unsafe {
            ekv_reply_free(c);
            ekv_reply_free(b);
            ekv_reply_free(big);
        }
        // a client whose slot is free at the end frees it at once
        let slot = Slot::new();
        let d = into_raw(Reply::Int(7), true, Some(unsafe { &*slot }));
        unsafe {
            ekv_reply_free(d);
            Slot::retire(slot);
        }
    }

    #[test]
    fn long_strings_keep_the_engine_buffer() {
        for n in [0, 1, ARENA_MAX - 1, ARENA_MAX, ARENA_MAX + 1, 1 << 20] {
            let v: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let t = Tree(into_raw(
                Reply::Array(vec![
                    Reply::bulk(&v),
                    Reply::Double(-0.25),
                    Reply::Int(n as i64),
                ]),
                true,
                None,
            ));
            let r = t.0 as *const ekv_reply;
            assert_eq!(s(el(r, 0)), v);
            assert_eq!(unsafe { ekv_reply_len(el(r, 0)) }, n);
            assert_eq!(unsafe { ekv_reply_double(el(r, 1)) }, -0.25);
            assert_eq!(s(el(r, 1)), b"-0.25");
            assert_eq!(unsafe { ekv_reply_integer(el(r, 2)) }, n as i64);
            assert_eq!(
                unsafe { ekv_reply_integer(el(r, 1)) },
                0,
                "a double is not an integer"
            );
        }
    }

    #[test]
    fn scalar_root_is_one_node() {
        let t = Tree(into_raw(Reply::bulk("v"), true, None));
        assert_eq!(unsafe { (*t.0).total }, 1);
        assert_eq!(s(t.0), b"v");
    }
}
