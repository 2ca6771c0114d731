//! `Reply`: the RESP3-shaped answer of every command, and its RESP2/RESP3
//! serialisation. RESP2 output must be byte-identical to redis-server's for the
//! same command, so the RESP3-only shapes are lowered exactly the way Redis
//! lowers them (maps flatten, doubles become bulk strings, booleans integers).

use std::fmt;

pub use crate::bytes_reply::Bytes;

/// One reply. Error strings are Redis's, byte for byte, including the leading
/// code (`ERR`, `WRONGTYPE`, …).
#[derive(Clone, PartialEq)]
pub enum Reply {
    /// RESP2 null bulk (`$-1`) / RESP3 null.
    Nil,
    /// RESP2 null array (`*-1`) / RESP3 null: EXEC after a failed WATCH, BLPOP timeout, …
    NilArray,
    Simple(String),
    Error(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    /// A bulk string (see [`Bytes`]: short ones carry no allocation).
    Bulk(Bytes),
    Array(Vec<Reply>),
    /// Key, value, key, value … pairs.
    Map(Vec<(Reply, Reply)>),
    Set(Vec<Reply>),
    /// Verbatim string with its three-letter format (`txt`, `mkd`).
    Verbatim(&'static str, Vec<u8>),
    BigNumber(String),
    /// Out-of-band message (pub/sub); RESP2 writes it as an array.
    Push(Vec<Reply>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(s.to_string())
    }
    pub fn error(s: impl Into<String>) -> Reply {
        Reply::Error(s.into())
    }
    pub fn bulk(b: impl AsRef<[u8]>) -> Reply {
        Reply::Bulk(Bytes::new(b.as_ref()))
    }
    /// A bulk reply taking `v` (short payloads are moved inline).
    #[inline]
    pub fn bulk_vec(v: Vec<u8>) -> Reply {
        if v.len() <= Bytes::INLINE {
            Reply::Bulk(Bytes::new(&v))
        } else {
            Reply::Bulk(Bytes::from_vec(v))
        }
    }
    /// Bulk or Nil.
    pub fn opt_bulk<B: AsRef<[u8]>>(b: Option<B>) -> Reply {
        match b {
            Some(b) => Reply::bulk(b),
            None => Reply::Nil,
        }
    }
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The error text, if this is an error reply.
    pub fn as_error(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The payload of a bulk, simple or verbatim string.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Verbatim(_, b) => Some(b),
            Reply::Simple(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Appends the RESP2 encoding of this reply to `out`.
    pub fn write_resp2(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', e.as_bytes()),
            Reply::Int(i) => int_line(out, b':', *i),
            Reply::Double(d) => bulk(out, format_double(*d).as_bytes()),
            Reply::Bool(b) => int_line(out, b':', *b as i64),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Verbatim(_, b) => bulk(out, b),
            Reply::BigNumber(n) => bulk(out, n.as_bytes()),
            Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => {
                int_line(out, b'*', items.len() as i64);
                for r in items {
                    r.write_resp2(out);
                }
            }
            Reply::Map(pairs) => {
                int_line(out, b'*', 2 * pairs.len() as i64);
                for (k, v) in pairs {
                    k.write_resp2(out);
                    v.write_resp2(out);
                }
            }
        }
    }

    /// Appends the RESP3 encoding of this reply to `out`.
    pub fn write_resp3(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Nil | Reply::NilArray => out.extend_from_slice(b"_\r\n"),
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(e) => line(out, b'-', e.as_bytes()),
            Reply::Int(i) => int_line(out, b':', *i),
            Reply::Double(d) => line(out, b',', format_double(*d).as_bytes()),
            Reply::Bool(b) => out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Verbatim(fmt, b) => {
                int_line(out, b'=', (b.len() + 4) as i64);
                out.extend_from_slice(fmt.as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::BigNumber(n) => line(out, b'(', n.as_bytes()),
            Reply::Array(items) => aggregate3(out, b'*', items),
            Reply::Set(items) => aggregate3(out, b'~', items),
            Reply::Push(items) => aggregate3(out, b'>', items),
            Reply::Map(pairs) => {
                int_line(out, b'%', pairs.len() as i64);
                for (k, v) in pairs {
                    k.write_resp3(out);
                    v.write_resp3(out);
                }
            }
        }
    }

    /// RESP2 bytes as a fresh vector (tests, debugging).
    pub fn to_resp2(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_resp2(&mut v);
        v
    }

    pub fn to_resp3(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_resp3(&mut v);
        v
    }
}

fn aggregate3(out: &mut Vec<u8>, tag: u8, items: &[Reply]) {
    int_line(out, tag, items.len() as i64);
    for r in items {
        r.write_resp3(out);
    }
}

fn line(out: &mut Vec<u8>, tag: u8, s: &[u8]) {
    out.push(tag);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

fn int_line(out: &mut Vec<u8>, tag: u8, i: i64) {
    out.push(tag);
    let mut buf = itoa_buf();
    out.extend_from_slice(fmt_i64(i, &mut buf));
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    int_line(out, b'$', b.len() as i64);
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

/// Formats `i` into the tail of `buf`, returning the used part.
pub(crate) fn fmt_i64(i: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = i.unsigned_abs();
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// Redis's double reply text: `%.17g`, with `inf`/`-inf`/`nan`.
pub fn format_double(d: f64) -> String {
    crate::util::number::fmt_g17(d)
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Nil => write!(f, "nil"),
            Reply::NilArray => write!(f, "nil-array"),
            Reply::Simple(s) => write!(f, "+{s}"),
            Reply::Error(e) => write!(f, "-{e}"),
            Reply::Int(i) => write!(f, ":{i}"),
            Reply::Double(d) => write!(f, ",{d}"),
            Reply::Bool(b) => write!(f, "#{b}"),
            Reply::Bulk(b) => write!(f, "{:?}", String::from_utf8_lossy(b)),
            Reply::Verbatim(t, b) => write!(f, "={t}:{:?}", String::from_utf8_lossy(b)),
            Reply::BigNumber(n) => write!(f, "({n}"),
            Reply::Array(a) => f.debug_list().entries(a).finish(),
            Reply::Set(a) => write!(f, "~{a:?}"),
            Reply::Push(a) => write!(f, ">{a:?}"),
            Reply::Map(m) => f
                .debug_map()
                .entries(m.iter().map(|(k, v)| (k, v)))
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp2_shapes() {
        assert_eq!(Reply::Nil.to_resp2(), b"$-1\r\n");
        assert_eq!(Reply::NilArray.to_resp2(), b"*-1\r\n");
        assert_eq!(Reply::Int(-12).to_resp2(), b":-12\r\n");
        assert_eq!(
            Reply::Int(i64::MIN).to_resp2(),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(Reply::bulk("ab").to_resp2(), b"$2\r\nab\r\n");
        assert_eq!(Reply::Bool(true).to_resp2(), b":1\r\n");
        assert_eq!(Reply::Double(1.5).to_resp2(), b"$3\r\n1.5\r\n");
        let m = Reply::Map(vec![(Reply::bulk("a"), Reply::Int(1))]);
        assert_eq!(m.to_resp2(), b"*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(m.to_resp3(), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(Reply::Nil.to_resp3(), b"_\r\n");
        assert_eq!(Reply::Double(f64::INFINITY).to_resp3(), b",inf\r\n");
        assert_eq!(
            Reply::Verbatim("txt", b"hi".to_vec()).to_resp3(),
            b"=6\r\ntxt:hi\r\n"
        );
    }
}
