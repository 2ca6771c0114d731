//! `ekv_reply`: an engine `Reply` converted once into a flat, immutable
//! tree of nodes that C reads through accessors.
//!
//! Layout: one boxed slice of nodes per reply. The root is node 0 and the
//! pointer C holds; the children of an aggregate are contiguous, found at a
//! relative offset from their parent (so the block is position-independent
//! and the type is `Send + Sync` without raw pointers). String payloads are
//! the engine's own buffers, moved (not copied) into their node with a NUL
//! appended, so `ekv_reply_str` can be printed with `%s` like hiredis'
//! `str`. A reply costs one allocation for the nodes plus none for the
//! strings the engine already allocated.
//!
//! The node struct is opaque in C: fields may change without breaking the ABI.

use std::ffi::{c_char, c_int};
use std::ptr;

use emberkv::Reply;

use crate::status::{Fail, guard_value};

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
    /// INTEGER value; 1 / 0 for BOOL.
    int: i64,
    dbl: f64,
    /// String kinds: the payload followed by one NUL. Empty otherwise.
    bytes: Vec<u8>,
    /// Aggregates: the first child is this node + `first` (in nodes).
    first: usize,
    /// Aggregates: the number of children.
    len: usize,
    /// The root: the number of nodes in the block. 0 on every other node.
    total: usize,
}

impl ekv_reply {
    const fn empty(kind: c_int) -> ekv_reply {
        ekv_reply {
            kind,
            fmt: [0; 4],
            int: 0,
            dbl: 0.0,
            bytes: Vec::new(),
            first: 0,
            len: 0,
            total: 0,
        }
    }

    fn string(kind: c_int, mut bytes: Vec<u8>) -> ekv_reply {
        bytes.reserve_exact(1);
        bytes.push(0);
        ekv_reply {
            bytes,
            ..ekv_reply::empty(kind)
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
}

/// Redis's text for a double (`%.17g`, `inf`, `-inf`, `nan`), taken from the
/// engine's own RESP3 writer so that the two can never disagree.
fn double_text(d: f64) -> Vec<u8> {
    let resp = Reply::Double(d).to_resp3(); // ",<text>\r\n"
    resp[1..resp.len() - 2].to_vec()
}

fn count(r: &Reply) -> usize {
    1 + match r {
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => v.iter().map(count).sum(),
        Reply::Map(pairs) => pairs.iter().map(|(k, v)| count(k) + count(v)).sum(),
        _ => 0,
    }
}

/// Writes `r` into `nodes[i]`, appending its children (contiguously) and
/// theirs. `resp3 == false` lowers RESP3-only shapes the way a RESP2
/// connection sees them (map → flat array, double → string, ...).
fn build(nodes: &mut Vec<ekv_reply>, i: usize, r: Reply, resp3: bool) {
    let items: Vec<Reply> = match r {
        Reply::Array(v) => return aggregate(nodes, i, EKV_REPLY_ARRAY, v, resp3),
        Reply::Set(v) => {
            return aggregate(
                nodes,
                i,
                if resp3 {
                    EKV_REPLY_SET
                } else {
                    EKV_REPLY_ARRAY
                },
                v,
                resp3,
            );
        }
        Reply::Push(v) => {
            return aggregate(
                nodes,
                i,
                if resp3 {
                    EKV_REPLY_PUSH
                } else {
                    EKV_REPLY_ARRAY
                },
                v,
                resp3,
            );
        }
        Reply::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        scalar => {
            nodes[i] = scalar_node(scalar, resp3);
            return;
        }
    };
    aggregate(
        nodes,
        i,
        if resp3 {
            EKV_REPLY_MAP
        } else {
            EKV_REPLY_ARRAY
        },
        items,
        resp3,
    )
}

fn aggregate(nodes: &mut Vec<ekv_reply>, i: usize, kind: c_int, items: Vec<Reply>, resp3: bool) {
    let first = nodes.len();
    nodes.extend((0..items.len()).map(|_| ekv_reply::empty(EKV_REPLY_NIL)));
    nodes[i] = ekv_reply {
        first: first - i,
        len: items.len(),
        ..ekv_reply::empty(kind)
    };
    for (k, item) in items.into_iter().enumerate() {
        build(nodes, first + k, item, resp3);
    }
}

fn scalar_node(r: Reply, resp3: bool) -> ekv_reply {
    match r {
        Reply::Nil | Reply::NilArray => ekv_reply::empty(EKV_REPLY_NIL),
        Reply::Simple(s) => ekv_reply::string(EKV_REPLY_STATUS, s.into_bytes()),
        Reply::Error(e) => ekv_reply::string(EKV_REPLY_ERROR, e.into_bytes()),
        Reply::Int(n) => ekv_reply {
            int: n,
            ..ekv_reply::empty(EKV_REPLY_INTEGER)
        },
        Reply::Bulk(b) => ekv_reply::string(EKV_REPLY_STRING, b),
        Reply::Double(d) if resp3 => ekv_reply {
            dbl: d,
            ..ekv_reply::string(EKV_REPLY_DOUBLE, double_text(d))
        },
        Reply::Double(d) => ekv_reply::string(EKV_REPLY_STRING, double_text(d)),
        Reply::Bool(b) if resp3 => ekv_reply {
            int: b as i64,
            ..ekv_reply::empty(EKV_REPLY_BOOL)
        },
        Reply::Bool(b) => ekv_reply {
            int: b as i64,
            ..ekv_reply::empty(EKV_REPLY_INTEGER)
        },
        Reply::BigNumber(n) => ekv_reply::string(
            if resp3 {
                EKV_REPLY_BIGNUM
            } else {
                EKV_REPLY_STRING
            },
            n.into_bytes(),
        ),
        Reply::Verbatim(fmt, text) if resp3 => {
            let mut node = ekv_reply::string(EKV_REPLY_VERB, text);
            let f = fmt.as_bytes();
            let n = f.len().min(3);
            node.fmt[..n].copy_from_slice(&f[..n]);
            node
        }
        Reply::Verbatim(_, text) => ekv_reply::string(EKV_REPLY_STRING, text),
        // Aggregates never reach here (`build` handles them).
        Reply::Array(_) | Reply::Set(_) | Reply::Push(_) | Reply::Map(_) => {
            unreachable!("aggregate in scalar_node")
        }
    }
}

/// Converts `r` into a tree owned by the caller (freed by ekv_reply_free).
/// `resp3`: the protocol of the client that ran the command.
pub(crate) fn into_raw(r: Reply, resp3: bool) -> *mut ekv_reply {
    let total = count(&r);
    let mut nodes = Vec::with_capacity(total);
    nodes.push(ekv_reply::empty(EKV_REPLY_NIL));
    build(&mut nodes, 0, r, resp3);
    debug_assert_eq!(nodes.len(), total);
    nodes[0].total = nodes.len();
    Box::into_raw(nodes.into_boxed_slice()) as *mut ekv_reply
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
    let total = unsafe { (*r).total };
    if total == 0 {
        return false;
    }
    // SAFETY: a root is the start of a boxed slice of `total` nodes.
    drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(r, total)) });
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
    guard_value(0, || Ok(unsafe { node(reply) }?.int))
}

/// The value of an EKV_REPLY_DOUBLE reply; 0.0 for any other type or NULL.
/// Thread-safe: a reply is immutable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ekv_reply_double(reply: *const ekv_reply) -> f64 {
    // SAFETY: as for ekv_reply_type.
    guard_value(0.0, || Ok(unsafe { node(reply) }?.dbl))
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
            Ok(r) if r.is_string() => (r.bytes.as_ptr(), r.bytes.len() - 1),
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
        Ok(if r.is_string() {
            r.bytes.len() - 1
        } else {
            r.len
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
        // SAFETY: `build` placed `len` children at `first` nodes after this
        // one, in the same block; `reply` carries the block's provenance.
        Ok(if i < r.len {
            unsafe { reply.add(r.first + i) }
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
        let t = Tree(into_raw(r, true));
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
        let t = Tree(into_raw(r, false));
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
    fn scalar_root_is_one_node() {
        let t = Tree(into_raw(Reply::bulk("v"), true));
        assert_eq!(unsafe { (*t.0).total }, 1);
        assert_eq!(s(t.0), b"v");
    }
}
