//! `Bytes`: the payload of a bulk reply. Up to [`Bytes::INLINE`] bytes live
//! inside the value itself, so the short strings most replies carry (values,
//! fields, members, numbers as text) cost no allocation — an LRANGE or
//! HGETALL of short elements allocates once for the array instead of once
//! per element. Longer payloads keep the `Vec<u8>` they were built in.
//!
//! It derefs to `[u8]` and compares equal to any byte slice, so readers of a
//! reply treat it as bytes; `into_vec` gives the owned buffer.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem::MaybeUninit;
use std::ops::Deref;

const INLINE: usize = 30;

/// `Inline(len, buf)`: only `buf[..len]` is ever written or read, so a
/// short reply costs a copy of its own bytes, not the zeroing of 30 (range
/// replies build thousands of these per call).
#[derive(Clone)]
enum Repr {
    Inline(u8, [MaybeUninit<u8>; INLINE]),
    Heap(Vec<u8>),
}

/// Copies `src` (at most `INLINE` bytes) to the start of `dst` with two
/// fixed-size, possibly overlapping moves per size class instead of a
/// `memcpy` call: members and numbers are short.
#[inline(always)]
fn copy_short(src: &[u8], dst: &mut [MaybeUninit<u8>; INLINE]) {
    let n = src.len();
    debug_assert!(n <= INLINE);
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr() as *mut u8);
    // SAFETY: every move reads inside `src` (offsets 0..n) and writes
    // inside `dst` (n <= INLINE): for a class of width w, n >= w, so both
    // [0, w) and [n - w, n) lie within 0..n.
    unsafe {
        if n >= 16 {
            std::ptr::copy_nonoverlapping(s, d, 16);
            std::ptr::copy_nonoverlapping(s.add(n - 16), d.add(n - 16), 16);
        } else if n >= 8 {
            std::ptr::copy_nonoverlapping(s, d, 8);
            std::ptr::copy_nonoverlapping(s.add(n - 8), d.add(n - 8), 8);
        } else if n >= 4 {
            std::ptr::copy_nonoverlapping(s, d, 4);
            std::ptr::copy_nonoverlapping(s.add(n - 4), d.add(n - 4), 4);
        } else if n > 0 {
            *d = *s;
            *d.add(n / 2) = *s.add(n / 2);
            *d.add(n - 1) = *s.add(n - 1);
        }
    }
}

/// Bulk reply bytes: inline when short, on the heap otherwise.
#[derive(Clone)]
pub struct Bytes(Repr);

impl Bytes {
    /// Longest payload stored inline.
    pub const INLINE: usize = INLINE;

    /// Copies `b` (inline when it fits).
    #[inline]
    pub fn new(b: &[u8]) -> Bytes {
        if b.len() <= INLINE {
            let mut buf = [MaybeUninit::uninit(); INLINE];
            copy_short(b, &mut buf);
            Bytes(Repr::Inline(b.len() as u8, buf))
        } else {
            Bytes(Repr::Heap(b.to_vec()))
        }
    }

    /// Takes `v` without copying.
    #[inline]
    pub fn from_vec(v: Vec<u8>) -> Bytes {
        Bytes(Repr::Heap(v))
    }

    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            // SAFETY: `new` wrote the first `len` bytes (`copy_short`).
            Repr::Inline(len, buf) => unsafe {
                std::slice::from_raw_parts(buf.as_ptr() as *const u8, *len as usize)
            },
            Repr::Heap(v) => v,
        }
    }

    /// The bytes as an owned vector (no copy when they are on the heap).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Inline(..) => self.as_slice().to_vec(),
            Repr::Heap(v) => v,
        }
    }
}

impl Deref for Bytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for Bytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Bytes {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Default for Bytes {
    fn default() -> Bytes {
        Bytes::new(&[])
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes::from_vec(v)
    }
}
impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Bytes {
        Bytes::new(b)
    }
}
impl<const N: usize> From<&[u8; N]> for Bytes {
    fn from(b: &[u8; N]) -> Bytes {
        Bytes::new(b)
    }
}
impl From<&str> for Bytes {
    fn from(s: &str) -> Bytes {
        Bytes::new(s.as_bytes())
    }
}
impl From<String> for Bytes {
    fn from(s: String) -> Bytes {
        Bytes::from_vec(s.into_bytes())
    }
}
impl From<Bytes> for Vec<u8> {
    fn from(b: Bytes) -> Vec<u8> {
        b.into_vec()
    }
}

impl PartialEq for Bytes {
    fn eq(&self, o: &Bytes) -> bool {
        self.as_slice() == o.as_slice()
    }
}
impl Eq for Bytes {}
impl PartialEq<[u8]> for Bytes {
    fn eq(&self, o: &[u8]) -> bool {
        self.as_slice() == o
    }
}
impl PartialEq<&[u8]> for Bytes {
    fn eq(&self, o: &&[u8]) -> bool {
        self.as_slice() == *o
    }
}
impl<const N: usize> PartialEq<[u8; N]> for Bytes {
    fn eq(&self, o: &[u8; N]) -> bool {
        self.as_slice() == o
    }
}
impl<const N: usize> PartialEq<&[u8; N]> for Bytes {
    fn eq(&self, o: &&[u8; N]) -> bool {
        self.as_slice() == *o
    }
}
impl PartialEq<Vec<u8>> for Bytes {
    fn eq(&self, o: &Vec<u8>) -> bool {
        self.as_slice() == o.as_slice()
    }
}
impl PartialEq<str> for Bytes {
    fn eq(&self, o: &str) -> bool {
        self.as_slice() == o.as_bytes()
    }
}
impl PartialEq<&str> for Bytes {
    fn eq(&self, o: &&str) -> bool {
        self.as_slice() == o.as_bytes()
    }
}
impl Hash for Bytes {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h)
    }
}
impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inline_long_heap_same_bytes() {
        // every inline length: each of `copy_short`'s size classes and edges
        for n in (0..=INLINE + 1).chain([1000]) {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            let b = Bytes::new(&data);
            assert_eq!(&b[..], &data[..]);
            assert_eq!(b.len(), n);
            assert!(matches!(b.0, Repr::Inline(..)) == (n <= INLINE));
            assert_eq!(b.clone().into_vec(), data);
            assert_eq!(Bytes::from_vec(data.clone()), b);
        }
    }

    #[test]
    fn size() {
        assert_eq!(std::mem::size_of::<Bytes>(), 32);
    }
}
