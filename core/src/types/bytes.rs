//! `Key` and `Str`: compact byte strings. Short ones (≤ 22 bytes) live inline
//! in the 24-byte value, so a typical key or small value costs no heap
//! allocation; integers are stored as integers (Redis's `int` encoding).
//! `size_of::<Key>() == size_of::<Str>() == 24` is asserted in the tests:
//! every keyspace entry is two of them.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

pub const INLINE_CAP: usize = 22;

/// A key: immutable bytes, inline when short.
#[derive(Clone)]
pub enum Key {
    Inline(u8, [u8; INLINE_CAP]),
    Heap(Box<[u8]>),
}

impl Key {
    pub fn new(b: &[u8]) -> Key {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Key::Inline(b.len() as u8, buf)
        } else {
            Key::Heap(b.into())
        }
    }

    /// Heap bytes owned beyond the 24 inline ones.
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline(..) => 0,
            Key::Heap(b) => malloc_size(b.len()),
        }
    }
}

impl Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Inline(len, buf) => &buf[..*len as usize],
            Key::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl PartialEq for Key {
    fn eq(&self, o: &Key) -> bool {
        **self == **o
    }
}
impl Eq for Key {}
impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (**self).hash(h)
    }
}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    fn cmp(&self, o: &Key) -> std::cmp::Ordering {
        (**self).cmp(&**o)
    }
}
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A string value. `Int` is Redis's `int` encoding; `Small`/`Heap` are what
/// SET creates (`embstr` up to 44 bytes, `raw` above); `Raw` is a string
/// modified in place (APPEND, SETRANGE, SETBIT), which Redis always reports
/// as `raw`.
#[derive(Clone)]
pub enum Str {
    Int(i64),
    Small(u8, [u8; INLINE_CAP]),
    Heap(Box<[u8]>),
    Raw(Box<[u8]>),
}

/// Longest string Redis stores as `embstr`.
const EMBSTR_MAX: usize = 44;

impl Str {
    /// The value SET stores: integers as integers when the text round-trips.
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20
            && let Some(i) = crate::util::number::parse_i64(b)
        {
            return Str::Int(i);
        }
        Str::plain(b)
    }

    /// Bytes as they are, never int-encoded.
    pub fn plain(b: &[u8]) -> Str {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Str::Small(b.len() as u8, buf)
        } else {
            Str::Heap(b.into())
        }
    }

    /// A string built by in-place modification (`raw` encoding).
    pub fn raw(v: Vec<u8>) -> Str {
        Str::Raw(v.into_boxed_slice())
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(i) => int_len(*i),
            Str::Small(l, _) => *l as usize,
            Str::Heap(b) | Str::Raw(b) => b.len(),
        }
    }

    #[allow(dead_code)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with the bytes (formatting an integer on the stack).
    #[inline]
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(i) => {
                let mut buf = [0u8; 20];
                f(crate::reply::fmt_i64(*i, &mut buf))
            }
            Str::Small(l, b) => f(&b[..*l as usize]),
            Str::Heap(b) | Str::Raw(b) => f(b),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The integer value, if the string is a valid 64-bit integer.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Str::Int(i) => Some(*i),
            _ => self.with_bytes(crate::util::number::parse_i64),
        }
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Raw(_) => "raw",
            Str::Small(..) => "embstr",
            Str::Heap(b) if b.len() <= EMBSTR_MAX => "embstr",
            Str::Heap(_) => "raw",
        }
    }

    pub fn heap_size(&self) -> usize {
        match self {
            Str::Heap(b) | Str::Raw(b) => malloc_size(b.len()),
            _ => 0,
        }
    }
}

fn int_len(i: i64) -> usize {
    let mut buf = [0u8; 20];
    crate::reply::fmt_i64(i, &mut buf).len()
}

/// What an allocation of `n` bytes costs in a typical malloc (16-byte
/// granules, 8 bytes of header, 32 bytes minimum).
pub fn malloc_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (n + 8).max(32).div_ceil(16) * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_sizes() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        assert_eq!(std::mem::size_of::<Str>(), 24);
    }

    #[test]
    fn encodings() {
        assert_eq!(Str::from_bytes(b"123").encoding(), "int");
        assert_eq!(Str::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(Str::from_bytes(b"-42").to_vec(), b"-42");
        assert_eq!(&*Key::new(b"abc"), b"abc");
        assert_eq!(&*Key::new(&[7u8; 40]), &[7u8; 40][..]);
    }
}
