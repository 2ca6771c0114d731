//! Listpack: the compact blob behind RDB types 16, 17, 18 (nodes), 19/21
//! (stream nodes), 20 and 25. Reading validates every bound the format has;
//! writing produces what Redis's `lpAppend` would (strings that are canonical
//! integers become integer entries).
//!
//! ```text
//! u32 total_bytes | u16 num_elements (65535 = count them) | entry* | 0xFF
//! entry = encoding+data, backlen (1..5 bytes, see `backlen_size`)
//! ```

use crate::util::number::parse_i64;

/// An integer's decimal text, without going through `fmt` (loading
/// millions of small integers is a hot path).
pub fn int_bytes(v: i64) -> Vec<u8> {
    int_digits(v, &mut [0; 20]).to_vec()
}

/// [`int_bytes`] written into `buf`, without allocating.
pub fn int_digits(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// One listpack entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LpItem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl LpItem<'_> {
    /// The entry as Redis hands it to a client: integers as decimal text.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            LpItem::Int(v) => int_bytes(v),
            LpItem::Str(s) => s.to_vec(),
        }
    }

    pub fn as_int(self) -> Option<i64> {
        match self {
            LpItem::Int(v) => Some(v),
            LpItem::Str(s) => parse_i64(s),
        }
    }
}

const HEADER: usize = 6;
pub const MAX_SAFE_BYTES: usize = 1 << 30;

fn backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

fn encode_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let b = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { b } else { b | 128 });
    }
}

/// Decodes a whole listpack blob, checking its header, every entry's bounds
/// and back-length, the terminator and the element count.
pub fn parse(blob: &[u8]) -> Result<Vec<LpItem<'_>>, String> {
    let count = if blob.len() > HEADER {
        u16::from_le_bytes([blob[4], blob[5]]) as usize
    } else {
        0
    };
    let mut items = Vec::with_capacity(count.min(blob.len() / 2));
    for_each(blob, |i| items.push(i))?;
    Ok(items)
}

/// [`parse`] without collecting: hands each entry to `f`, head to tail, and
/// returns the entry count. On a damaged blob `f` may have seen some
/// entries before the error.
pub fn for_each<'a>(blob: &'a [u8], mut f: impl FnMut(LpItem<'a>)) -> Result<usize, String> {
    if blob.len() < HEADER + 1 {
        return Err(format!(
            "listpack of {} bytes is shorter than its header",
            blob.len()
        ));
    }
    let total = u32::from_le_bytes(blob[0..4].try_into().unwrap()) as usize;
    if total != blob.len() {
        return Err(format!(
            "listpack header says {total} bytes but the blob has {}",
            blob.len()
        ));
    }
    let count = u16::from_le_bytes([blob[4], blob[5]]) as usize;
    let mut seen = 0;
    let mut p = HEADER;
    loop {
        let Some(&b) = blob.get(p) else {
            return Err("listpack has no 0xFF terminator".into());
        };
        if b == 0xFF {
            if p + 1 != blob.len() {
                return Err(format!(
                    "listpack terminator at byte {p} is not the last byte"
                ));
            }
            break;
        }
        let need = |n: usize| -> Result<&[u8], String> {
            blob.get(p..p + n)
                .ok_or_else(|| format!("listpack entry at byte {p} runs past the end"))
        };
        let (item, enclen) = if b & 0x80 == 0 {
            (LpItem::Int((b & 0x7f) as i64), 1)
        } else if b & 0xC0 == 0x80 {
            let len = (b & 0x3f) as usize;
            (LpItem::Str(&need(1 + len)?[1..]), 1 + len)
        } else if b & 0xE0 == 0xC0 {
            let d = need(2)?;
            let u = (((d[0] & 0x1f) as i64) << 8) | d[1] as i64;
            (LpItem::Int(if u >= 4096 { u - 8192 } else { u }), 2)
        } else if b & 0xF0 == 0xE0 {
            let d = need(2)?;
            let len = (((d[0] & 0x0f) as usize) << 8) | d[1] as usize;
            (LpItem::Str(&need(2 + len)?[2..]), 2 + len)
        } else {
            match b {
                0xF0 => {
                    let d = need(5)?;
                    let len = u32::from_le_bytes(d[1..5].try_into().unwrap()) as usize;
                    if len > blob.len() {
                        return Err(format!("listpack string at byte {p} claims {len} bytes"));
                    }
                    (LpItem::Str(&need(5 + len)?[5..]), 5 + len)
                }
                0xF1 => {
                    let d = need(3)?;
                    (LpItem::Int(i16::from_le_bytes([d[1], d[2]]) as i64), 3)
                }
                0xF2 => {
                    let d = need(4)?;
                    let v = i32::from_le_bytes([0, d[1], d[2], d[3]]) >> 8;
                    (LpItem::Int(v as i64), 4)
                }
                0xF3 => {
                    let d = need(5)?;
                    (
                        LpItem::Int(i32::from_le_bytes(d[1..5].try_into().unwrap()) as i64),
                        5,
                    )
                }
                0xF4 => {
                    let d = need(9)?;
                    (
                        LpItem::Int(i64::from_le_bytes(d[1..9].try_into().unwrap())),
                        9,
                    )
                }
                _ => {
                    return Err(format!(
                        "invalid listpack encoding byte 0x{b:02x} at byte {p}"
                    ));
                }
            }
        };
        let bl = backlen_size(enclen);
        let Some(back) = blob.get(p + enclen..p + enclen + bl) else {
            return Err(format!(
                "listpack entry at byte {p} has no room for its back-length"
            ));
        };
        let mut v = 0usize;
        for (i, &c) in back.iter().enumerate() {
            if (i == 0) != (c & 0x80 == 0) {
                return Err(format!(
                    "listpack entry at byte {p} has a malformed back-length"
                ));
            }
            v = (v << 7) | (c & 0x7f) as usize;
        }
        if v != enclen {
            return Err(format!(
                "listpack entry at byte {p}: back-length {v} but the entry is {enclen} bytes"
            ));
        }
        f(item);
        seen += 1;
        p += enclen + bl;
    }
    if count != 65535 && count != seen {
        return Err(format!(
            "listpack header says {count} entries but it holds {seen}"
        ));
    }
    Ok(seen)
}

/// Builds a listpack entry by entry.
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Builder { buf, count: 0 }
    }

    /// Bytes the finished listpack will have.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a string, as an integer entry when it is a canonical integer.
    pub fn push(&mut self, s: &[u8]) {
        match parse_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let len = s.len();
        if len < 64 {
            self.buf.push(0x80 | len as u8);
        } else if len < 4096 {
            self.buf.push(0xE0 | (len >> 8) as u8);
            self.buf.push(len as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(len as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        let enclen = self.buf.len() - start;
        encode_backlen(&mut self.buf, enclen);
        self.count += 1;
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = if v < 0 { v + 8192 } else { v } as u16;
            self.buf.push(0xC0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        let enclen = self.buf.len() - start;
        encode_backlen(&mut self.buf, enclen);
        self.count += 1;
    }

    /// Appends the entries of another builder (without its header).
    pub fn append(&mut self, other: &Builder) {
        self.buf.extend_from_slice(&other.buf[HEADER..]);
        self.count += other.count;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_text() {
        for v in [0, 1, -1, 9, 10, -10, 12345, i64::MAX, i64::MIN] {
            assert_eq!(int_bytes(v), v.to_string().into_bytes());
        }
    }

    #[test]
    fn reference_example() {
        let mut b = Builder::new();
        b.push(b"f");
        b.push(b"v");
        let lp = b.finish();
        assert_eq!(
            lp,
            [0x0d, 0, 0, 0, 2, 0, 0x81, b'f', 2, 0x81, b'v', 2, 0xff]
        );
        assert_eq!(parse(&lp).unwrap(), [LpItem::Str(b"f"), LpItem::Str(b"v")]);
    }

    #[test]
    fn every_encoding_round_trips() {
        let ints = [
            0i64,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8388607,
            -8388608,
            8388608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ];
        let strs: Vec<Vec<u8>> = vec![
            vec![],
            b"x".to_vec(),
            vec![b'a'; 63],
            vec![b'b'; 64],
            vec![b'c'; 4095],
            vec![b'd'; 4096],
            vec![b'e'; 70000],
            b"007".to_vec(),
            b"-0".to_vec(),
        ];
        let mut b = Builder::new();
        for &i in &ints {
            b.push(i.to_string().as_bytes());
        }
        for s in &strs {
            b.push(s);
        }
        let lp = b.finish();
        let items = parse(&lp).unwrap();
        for (k, &i) in ints.iter().enumerate() {
            assert_eq!(items[k], LpItem::Int(i));
        }
        for (k, s) in strs.iter().enumerate() {
            assert_eq!(items[ints.len() + k], LpItem::Str(s));
        }
    }

    #[test]
    fn damaged_listpacks_error() {
        let mut b = Builder::new();
        b.push(b"hello");
        b.push(b"12345678901");
        let lp = b.finish();
        for cut in 0..lp.len() {
            assert!(parse(&lp[..cut]).is_err());
        }
        for i in 0..lp.len() {
            for bit in 0..8 {
                let mut x = lp.clone();
                x[i] ^= 1 << bit;
                let _ = parse(&x);
            }
        }
    }
}
