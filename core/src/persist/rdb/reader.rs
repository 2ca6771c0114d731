//! The RDB reader: a buffered pass over the file that checks the CRC-64 as
//! it goes and hands out one item (key, aux field, function library…) at a
//! time. Every length read from the file is checked against the bytes that
//! remain before anything is allocated for it.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use hashbrown::HashSet;

use super::stream::{self, StreamConsumer, StreamGroup, StreamId, StreamPending, StreamValue};
use super::{
    ModuleField, ModuleValue, RDB_MAX_READ_VERSION, RdbEntry, RdbValue, corrupt, intset, listpack,
    lzf, module_name, opcodes as op, types as ty, ziplist, zipmap,
};
use crate::error::{Error, ErrorKind};
use crate::util::number::parse_f64;

const BUF: usize = 64 * 1024;

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;
/// Without a known file size, large strings are read in steps of this size
/// so a garbage length cannot allocate more than the data actually present.
const STEP: usize = 1 << 20;

/// What the reader hands out, in file order.
#[derive(Clone, Debug, PartialEq)]
pub enum RdbItem {
    Entry(RdbEntry),
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// A function library's source (`#!lua name=…`), as FUNCTION LOAD takes it.
    Function(Vec<u8>),
    /// A module's auxiliary data: skipped (its module name and `when` kept).
    ModuleAux {
        module: String,
        when: u64,
    },
    /// RESIZEDB: a sizing hint for the current database.
    ResizeDb {
        db: usize,
        size: u64,
        expires: u64,
    },
}

/// Reader switches.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Check the CRC-64 trailer (a stored 0 always means "not computed").
    pub verify_checksum: bool,
    /// Refuse sets, hashes and zsets with duplicate members (Redis does).
    pub check_duplicates: bool,
    /// Quicklists come back as [`RdbValue::ListFlat`] instead of `List`.
    pub flat_lists: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            verify_checksum: true,
            check_duplicates: true,
            flat_lists: false,
        }
    }
}

/// The byte source: a fixed buffer over any `Read`, tracking the file offset
/// and the CRC-64 of everything consumed.
struct Src<R> {
    r: R,
    name: String,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// CRC-64 of file bytes `[0, base + crc_pos)`.
    crc: u64,
    crc_pos: usize,
    total: Option<u64>,
    /// A reused buffer for blobs that are decoded and dropped (quicklist
    /// nodes read into a [`super::FlatList`]).
    scratch: Vec<u8>,
}

impl<R: Read> Src<R> {
    fn new(r: R, name: String, total: Option<u64>) -> Src<R> {
        let cap = total.map_or(BUF, |t| (t as usize).clamp(16, BUF));
        Src {
            r,
            name,
            buf: vec![0; cap],
            pos: 0,
            end: 0,
            base: 0,
            crc: 0,
            crc_pos: 0,
            total,
            scratch: Vec::new(),
        }
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn remaining(&self) -> Option<u64> {
        self.total.map(|t| t.saturating_sub(self.offset()))
    }

    /// CRC-64 of every byte consumed so far.
    fn crc_now(&self) -> u64 {
        crc64::crc64(self.crc, &self.buf[self.crc_pos..self.pos])
    }

    fn err(&self, at: u64, what: impl std::fmt::Display) -> Error {
        corrupt(format!("{}: corrupt RDB at offset {at}: {what}", self.name))
    }

    fn eof(&self, what: &str) -> Error {
        let size = match self.total {
            Some(t) => format!(" (the file has {t} bytes)"),
            None => String::new(),
        };
        self.err(
            self.offset(),
            format!("unexpected end of file while reading {what}{size}"),
        )
    }

    fn io(&self, e: io::Error) -> Error {
        Error::new(
            ErrorKind::Io,
            format!("{}: read error at offset {}: {e}", self.name, self.offset()),
        )
    }

    /// Makes `need` (≤ buffer size) bytes available; false at end of input.
    fn fill(&mut self, need: usize) -> Result<bool, Error> {
        if self.end - self.pos >= need {
            return Ok(true);
        }
        if self.buf.len() < need {
            self.buf.resize(need.max(BUF), 0);
        }
        if self.pos > 0 {
            self.crc = crc64::crc64(self.crc, &self.buf[self.crc_pos..self.pos]);
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
            self.crc_pos = 0;
        }
        while self.end < need {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(true)
    }

    fn take<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        if !self.fill(N)? {
            return Err(self.eof(what));
        }
        let a: [u8; N] = self.buf[self.pos..self.pos + N].try_into().unwrap();
        self.pos += N;
        Ok(a)
    }

    fn byte(&mut self, what: &str) -> Result<u8, Error> {
        if self.pos < self.end {
            let b = self.buf[self.pos];
            self.pos += 1;
            return Ok(b);
        }
        Ok(self.take::<1>(what)?[0])
    }

    /// `n` bytes into a fresh vector, never allocating beyond what the
    /// input can still hold.
    fn bytes(&mut self, n: u64, what: &str) -> Result<Vec<u8>, Error> {
        let n = self.checked_len(n, what)?;
        if n <= BUF {
            // the common case (keys, small values): one exact allocation
            if !self.fill(n)? {
                return Err(self.eof(what));
            }
            let v = self.buf[self.pos..self.pos + n].to_vec();
            self.pos += n;
            return Ok(v);
        }
        let mut v = Vec::new();
        self.bytes_into(n as u64, what, &mut v)?;
        Ok(v)
    }

    /// [`Src::bytes`] appended to `out`.
    fn bytes_into(&mut self, n: u64, what: &str, out: &mut Vec<u8>) -> Result<(), Error> {
        let n = self.checked_len(n, what)?;
        if n <= BUF {
            if !self.fill(n)? {
                return Err(self.eof(what));
            }
            out.extend_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(());
        }
        let v = out;
        v.reserve_exact(if self.total.is_some() { n } else { n.min(STEP) });
        let n = v.len() + n;
        v.extend_from_slice(&self.buf[self.pos..self.end]);
        self.pos = self.end;
        self.crc = crc64::crc64(self.crc, &self.buf[self.crc_pos..self.pos]);
        self.base += self.pos as u64;
        self.pos = 0;
        self.end = 0;
        self.crc_pos = 0;
        while v.len() < n {
            let old = v.len();
            let want = (n - old).min(STEP);
            v.resize(old + want, 0);
            let mut got = 0;
            while got < want {
                match self.r.read(&mut v[old + got..old + want]) {
                    Ok(0) => {
                        self.crc = crc64::crc64(self.crc, &v[old..old + got]);
                        self.base += got as u64;
                        return Err(self.eof(what));
                    }
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(self.io(e)),
                }
            }
            self.crc = crc64::crc64(self.crc, &v[old..]);
            self.base += want as u64;
        }
        Ok(())
    }

    /// `n` as a length of bytes to read: refused when the rest of the input
    /// cannot hold them.
    fn checked_len(&self, n: u64, what: &str) -> Result<usize, Error> {
        if let Some(rem) = self.remaining()
            && n > rem
        {
            return Err(self.err(
                self.offset(),
                format!("unexpected end of file: {what} needs {n} bytes but only {rem} remain"),
            ));
        }
        usize::try_from(n).map_err(|_| self.err(self.offset(), "length too large"))
    }

    /// An RDB length: (value, is-special-encoding).
    fn len_enc(&mut self) -> Result<(u64, bool), Error> {
        let at = self.offset();
        let b = self.byte("a length")?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => {
                let lo = self.byte("a length")?;
                ((((b & 0x3f) as u64) << 8) | lo as u64, false)
            }
            2 => match b {
                0x80 => (
                    u32::from_be_bytes(self.take("a 32-bit length")?) as u64,
                    false,
                ),
                0x81 => (u64::from_be_bytes(self.take("a 64-bit length")?), false),
                _ => return Err(self.err(at, format!("invalid length byte 0x{b:02x}"))),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    fn len(&mut self, what: &str) -> Result<u64, Error> {
        let at = self.offset();
        match self.len_enc()? {
            (v, false) => Ok(v),
            (_, true) => Err(self.err(
                at,
                format!("expected a length ({what}), found a string encoding"),
            )),
        }
    }

    /// A count of items each taking at least `min_bytes`: refused when the
    /// rest of the file could not hold them.
    fn count(&mut self, what: &str, min_bytes: u64) -> Result<u64, Error> {
        let at = self.offset();
        let n = self.len(what)?;
        if let Some(rem) = self.remaining()
            && n.saturating_mul(min_bytes) > rem
        {
            return Err(self.err(
                at,
                format!("{what} is {n}, more than the {rem} remaining bytes can hold"),
            ));
        }
        Ok(n)
    }

    /// A capacity hint that garbage cannot blow up.
    fn cap(&self, n: u64) -> usize {
        let limit = self.remaining().unwrap_or(4096).min(1 << 24);
        n.min(limit) as usize
    }

    /// An rdb-string: raw, INT8/16/32 or LZF.
    fn string(&mut self) -> Result<Vec<u8>, Error> {
        let at = self.offset();
        let (n, enc) = self.len_enc()?;
        if !enc {
            return self.bytes(n, "string bytes");
        }
        let mut v = Vec::new();
        self.encoded_into(at, n, &mut v)?;
        Ok(v)
    }

    /// [`Src::string`] appended to `out`.
    fn string_into(&mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        let at = self.offset();
        let (n, enc) = self.len_enc()?;
        if !enc {
            return self.bytes_into(n, "string bytes", out);
        }
        self.encoded_into(at, n, out)
    }

    /// The rest of a string with special encoding `n` (read at `at`),
    /// appended to `out`; LZF data is decompressed straight from the read
    /// buffer.
    fn encoded_into(&mut self, at: u64, n: u64, out: &mut Vec<u8>) -> Result<(), Error> {
        let mut digits = [0; 20];
        let v = match n {
            0 => self.byte("an INT8 string")? as i8 as i64,
            1 => i16::from_le_bytes(self.take("an INT16 string")?) as i64,
            2 => i32::from_le_bytes(self.take("an INT32 string")?) as i64,
            3 => {
                let clen = self.len("LZF compressed length")?;
                let ulen = self.len("LZF uncompressed length")?;
                if ulen == 0 || ulen > clen.saturating_mul(88) {
                    return Err(self.err(
                        at,
                        format!("LZF string of {clen} bytes cannot expand to {ulen} bytes"),
                    ));
                }
                let ulen = ulen as usize; // ≤ 88 × a length that fits the input
                let clen = self.checked_len(clen, "LZF data")?;
                let res = if clen <= BUF {
                    if !self.fill(clen)? {
                        return Err(self.eof("LZF data"));
                    }
                    let r = lzf::decompress_into(&self.buf[self.pos..self.pos + clen], ulen, out);
                    self.pos += clen;
                    r
                } else {
                    let c = self.bytes(clen as u64, "LZF data")?;
                    lzf::decompress_into(&c, ulen, out)
                };
                return res.map_err(|e| self.err(at, e));
            }
            _ => return Err(self.err(at, format!("unknown string encoding {n}"))),
        };
        out.extend_from_slice(listpack::int_digits(v, &mut digits));
        Ok(())
    }

    /// An old-style string double (type 3): length byte + ASCII, or
    /// 253/254/255 for nan/inf/-inf.
    fn string_double(&mut self) -> Result<f64, Error> {
        let at = self.offset();
        let n = self.byte("a double")?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let s = self.bytes(n as u64, "a double")?;
                parse_f64(&s).ok_or_else(|| self.err(at, format!("'{}' is not a double", show(&s))))
            }
        }
    }

    fn binary_double(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.take("a binary double")?))
    }

    fn millis(&mut self, what: &str) -> Result<u64, Error> {
        Ok(i64::from_le_bytes(self.take(what)?).max(0) as u64)
    }
}

/// Printable form of a key or member for messages.
pub(crate) fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(64) {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    if b.len() > 64 {
        s.push_str(&format!("… ({} bytes)", b.len()));
    }
    s
}

fn int_text(v: i64) -> Vec<u8> {
    listpack::int_bytes(v)
}

fn score_of(item: listpack::LpItem<'_>) -> Option<f64> {
    match item {
        listpack::LpItem::Int(v) => Some(v as f64),
        listpack::LpItem::Str(s) => parse_f64(s),
    }
}

/// Decodes values: shared by the file reader and DUMP payloads.
struct Values<'a, R> {
    src: &'a mut Src<R>,
    opts: &'a ReadOptions,
}

impl<R: Read> Values<'_, R> {
    fn blob(&mut self) -> Result<(u64, Vec<u8>), Error> {
        let at = self.src.offset();
        Ok((at, self.src.string()?))
    }

    fn blob_err(&self, at: u64, kind: &str, e: String) -> Error {
        self.src.err(at, format!("invalid {kind}: {e}"))
    }

    /// A quicklist node's container: 1 plain (one element), 2 packed.
    fn quicklist_container(&mut self, t: u8) -> Result<u64, Error> {
        if t != ty::LIST_QUICKLIST_2 {
            return Ok(2);
        }
        let at = self.src.offset();
        let c = self.src.len("a quicklist container")?;
        if c != 1 && c != 2 {
            return Err(self.src.err(at, format!("unknown quicklist container {c}")));
        }
        Ok(c)
    }

    /// A quicklist's elements back to back: each node is decoded in a
    /// reused buffer and its entries copied out, nothing allocated per node.
    fn quicklist_flat(&mut self, t: u8) -> Result<super::FlatList, Error> {
        let n = self.src.count("quicklist node count", 1)?;
        let mut flat = super::FlatList::default();
        let mut blob = std::mem::take(&mut self.src.scratch);
        for _ in 0..n {
            let container = self.quicklist_container(t)?;
            let bat = self.src.offset();
            blob.clear();
            self.src.string_into(&mut blob)?;
            if container == 1 {
                flat.push(&blob);
                continue;
            }
            flat.data.reserve(blob.len());
            let res = if t == ty::LIST_QUICKLIST {
                ziplist::parse(&blob).map(|items| items.into_iter().for_each(|i| flat.push_item(i)))
            } else {
                if let Some(c) = blob.get(4..6) {
                    flat.ends.reserve(u16::from_le_bytes([c[0], c[1]]) as usize);
                }
                listpack::for_each(&blob, |i| flat.push_item(i)).map(drop)
            };
            if let Err(e) = res {
                let kind = if t == ty::LIST_QUICKLIST {
                    "ziplist"
                } else {
                    "listpack"
                };
                return Err(self.blob_err(bat, &format!("quicklist {kind} node"), e));
            }
        }
        self.src.scratch = blob;
        Ok(flat)
    }

    fn dups<'b>(
        &self,
        at: u64,
        what: &str,
        items: impl ExactSizeIterator<Item = &'b [u8]>,
    ) -> Result<(), Error> {
        if !self.opts.check_duplicates || items.len() < 2 {
            return Ok(());
        }
        let mut seen: HashSet<&[u8]> = HashSet::with_capacity(items.len());
        for i in items {
            if !seen.insert(i) {
                return Err(self.src.err(at, format!("duplicate {what} '{}'", show(i))));
            }
        }
        Ok(())
    }

    fn zset_check(&self, at: u64, z: &[(Vec<u8>, f64)]) -> Result<(), Error> {
        if z.iter().any(|(_, s)| s.is_nan()) {
            return Err(self.src.err(at, "zset with a NaN score"));
        }
        self.dups(at, "zset member", z.iter().map(|(m, _)| m.as_slice()))
    }

    fn hash_check(&self, at: u64, h: &[(Vec<u8>, Vec<u8>)]) -> Result<(), Error> {
        self.dups(at, "hash field", h.iter().map(|(f, _)| f.as_slice()))
    }

    fn pairs(&self, at: u64, kind: &str, items: Vec<listpack::LpItem<'_>>) -> Result<Pairs, Error> {
        if !items.len().is_multiple_of(2) {
            return Err(self.blob_err(at, kind, "odd number of entries".into()));
        }
        Ok(items
            .chunks_exact(2)
            .map(|p| (p[0].to_vec(), p[1].to_vec()))
            .collect())
    }

    fn zset_pairs(
        &self,
        at: u64,
        kind: &str,
        items: Vec<listpack::LpItem<'_>>,
    ) -> Result<Vec<(Vec<u8>, f64)>, Error> {
        if !items.len().is_multiple_of(2) {
            return Err(self.blob_err(at, kind, "odd number of entries".into()));
        }
        let mut z = Vec::with_capacity(items.len() / 2);
        for p in items.chunks_exact(2) {
            let s = score_of(p[1])
                .ok_or_else(|| self.blob_err(at, kind, "a score is not a number".into()))?;
            z.push((p[0].to_vec(), s));
        }
        Ok(z)
    }

    fn module_fields(&mut self) -> Result<Vec<ModuleField>, Error> {
        let mut fields = Vec::new();
        loop {
            let at = self.src.offset();
            let opcode = self.src.len("a module opcode")?;
            fields.push(match opcode {
                0 => return Ok(fields),
                1 => ModuleField::SInt(self.src.len("a module signed int")?),
                2 => ModuleField::UInt(self.src.len("a module unsigned int")?),
                3 => ModuleField::Float(f32::from_le_bytes(self.src.take("a module float")?)),
                4 => ModuleField::Double(self.src.binary_double()?),
                5 => ModuleField::Str(self.src.string()?),
                _ => return Err(self.src.err(at, format!("unknown module opcode {opcode}"))),
            });
        }
    }

    /// One value of type `t`; `None` for an empty collection (Redis skips
    /// those keys).
    fn value(&mut self, t: u8) -> Result<Option<RdbValue>, Error> {
        let at = self.src.offset();
        let v = match t {
            ty::STRING => RdbValue::Str(self.src.string()?),
            ty::LIST | ty::SET => {
                let n = self.src.count("element count", 1)?;
                let mut v = Vec::with_capacity(self.src.cap(n));
                for _ in 0..n {
                    v.push(self.src.string()?);
                }
                if t == ty::LIST {
                    RdbValue::List(v)
                } else {
                    self.dups(at, "set member", v.iter().map(|m| m.as_slice()))?;
                    RdbValue::Set(v)
                }
            }
            ty::ZSET | ty::ZSET_2 => {
                let n = self.src.count("zset size", 2)?;
                let mut z = Vec::with_capacity(self.src.cap(n));
                for _ in 0..n {
                    let m = self.src.string()?;
                    let s = if t == ty::ZSET {
                        self.src.string_double()?
                    } else {
                        self.src.binary_double()?
                    };
                    z.push((m, s));
                }
                self.zset_check(at, &z)?;
                RdbValue::ZSet(z)
            }
            ty::HASH => {
                let n = self.src.count("hash size", 2)?;
                let mut h = Vec::with_capacity(self.src.cap(n));
                for _ in 0..n {
                    let f = self.src.string()?;
                    let v = self.src.string()?;
                    h.push((f, v));
                }
                self.hash_check(at, &h)?;
                RdbValue::Hash(h)
            }
            ty::MODULE_PRE_GA => {
                return Err(self.src.err(
                    at,
                    "module values from Redis 4.0 release candidates (type 6) cannot be loaded",
                ));
            }
            ty::MODULE_2 => {
                let id = self.src.len("a module id")?;
                let fields = self.module_fields()?;
                RdbValue::Module(ModuleValue::new(id, fields))
            }
            ty::HASH_ZIPMAP => {
                let (bat, b) = self.blob()?;
                let pairs = zipmap::parse(&b).map_err(|e| self.blob_err(bat, "zipmap", e))?;
                let h: Vec<_> = pairs
                    .into_iter()
                    .map(|(f, v)| (f.to_vec(), v.to_vec()))
                    .collect();
                self.hash_check(at, &h)?;
                RdbValue::Hash(h)
            }
            ty::LIST_ZIPLIST => {
                let (bat, b) = self.blob()?;
                let items = ziplist::parse(&b).map_err(|e| self.blob_err(bat, "ziplist", e))?;
                RdbValue::List(items.into_iter().map(|i| i.to_vec()).collect())
            }
            ty::SET_INTSET => {
                let (bat, b) = self.blob()?;
                let ints = intset::parse(&b).map_err(|e| self.blob_err(bat, "intset", e))?;
                RdbValue::Set(ints.into_iter().map(int_text).collect())
            }
            ty::ZSET_ZIPLIST => {
                let (bat, b) = self.blob()?;
                let items = ziplist::parse(&b).map_err(|e| self.blob_err(bat, "ziplist", e))?;
                let z = self.zset_pairs(bat, "zset ziplist", items)?;
                self.zset_check(at, &z)?;
                RdbValue::ZSet(z)
            }
            ty::HASH_ZIPLIST => {
                let (bat, b) = self.blob()?;
                let items = ziplist::parse(&b).map_err(|e| self.blob_err(bat, "ziplist", e))?;
                let h = self.pairs(bat, "hash ziplist", items)?;
                self.hash_check(at, &h)?;
                RdbValue::Hash(h)
            }
            ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 if self.opts.flat_lists => {
                RdbValue::ListFlat(self.quicklist_flat(t)?)
            }
            ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
                let n = self.src.count("quicklist node count", 1)?;
                let mut v = Vec::new();
                for _ in 0..n {
                    let container = self.quicklist_container(t)?;
                    let (bat, b) = self.blob()?;
                    if container == 1 {
                        v.push(b);
                        continue;
                    }
                    let items = if t == ty::LIST_QUICKLIST {
                        ziplist::parse(&b)
                            .map_err(|e| self.blob_err(bat, "quicklist ziplist node", e))?
                    } else {
                        listpack::parse(&b)
                            .map_err(|e| self.blob_err(bat, "quicklist listpack node", e))?
                    };
                    v.extend(items.into_iter().map(|i| i.to_vec()));
                }
                RdbValue::List(v)
            }
            ty::HASH_LISTPACK => {
                let (bat, b) = self.blob()?;
                let items = listpack::parse(&b).map_err(|e| self.blob_err(bat, "listpack", e))?;
                let h = self.pairs(bat, "hash listpack", items)?;
                self.hash_check(at, &h)?;
                RdbValue::Hash(h)
            }
            ty::ZSET_LISTPACK => {
                let (bat, b) = self.blob()?;
                let items = listpack::parse(&b).map_err(|e| self.blob_err(bat, "listpack", e))?;
                let z = self.zset_pairs(bat, "zset listpack", items)?;
                self.zset_check(at, &z)?;
                RdbValue::ZSet(z)
            }
            ty::SET_LISTPACK => {
                let (bat, b) = self.blob()?;
                let items = listpack::parse(&b).map_err(|e| self.blob_err(bat, "listpack", e))?;
                let v: Vec<Vec<u8>> = items.into_iter().map(|i| i.to_vec()).collect();
                self.dups(at, "set member", v.iter().map(|m| m.as_slice()))?;
                RdbValue::Set(v)
            }
            ty::HASH_METADATA | ty::HASH_METADATA_PRE_GA => {
                let min_expire = if t == ty::HASH_METADATA {
                    Some(self.src.millis("the hash minimum expiry")?)
                } else {
                    None
                };
                let n = self.src.count("hash size", 3)?;
                let mut h = Vec::with_capacity(self.src.cap(n));
                for _ in 0..n {
                    let ttl = self.src.len("a field TTL")?;
                    let f = self.src.string()?;
                    let v = self.src.string()?;
                    let exp = match (ttl, min_expire) {
                        (0, _) => None,
                        (ttl, Some(m)) => Some(ttl.wrapping_add(m).wrapping_sub(1)),
                        (ttl, None) => Some(ttl),
                    };
                    h.push((f, v, exp));
                }
                self.hash_ttl(at, h)?
            }
            ty::HASH_LISTPACK_EX | ty::HASH_LISTPACK_EX_PRE_GA => {
                if t == ty::HASH_LISTPACK_EX {
                    self.src.millis("the hash minimum expiry")?;
                }
                let (bat, b) = self.blob()?;
                let items = listpack::parse(&b).map_err(|e| self.blob_err(bat, "listpack", e))?;
                if !items.len().is_multiple_of(3) {
                    return Err(self.blob_err(
                        bat,
                        "hash listpack-ex",
                        "entries are not triples".into(),
                    ));
                }
                let mut h = Vec::with_capacity(items.len() / 3);
                for tr in items.chunks_exact(3) {
                    let ttl = tr[2].as_int().filter(|&v| v >= 0).ok_or_else(|| {
                        self.blob_err(
                            bat,
                            "hash listpack-ex",
                            "a field TTL is not an integer".into(),
                        )
                    })?;
                    h.push((
                        tr[0].to_vec(),
                        tr[1].to_vec(),
                        (ttl != 0).then_some(ttl as u64),
                    ));
                }
                self.hash_ttl(at, h)?
            }
            ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 | ty::STREAM_LISTPACKS_3 => {
                RdbValue::Stream(Box::new(self.stream(t)?))
            }
            _ => {
                return Err(self
                    .src
                    .err(at.saturating_sub(1), format!("unknown RDB type {t}")));
            }
        };
        let empty = match &v {
            RdbValue::List(x) | RdbValue::Set(x) => x.is_empty(),
            RdbValue::ListFlat(x) => x.is_empty(),
            RdbValue::ZSet(x) => x.is_empty(),
            RdbValue::Hash(x) => x.is_empty(),
            RdbValue::HashTtl(x) => x.is_empty(),
            _ => false,
        };
        Ok((!empty).then_some(v))
    }

    fn hash_ttl(
        &self,
        at: u64,
        h: Vec<(Vec<u8>, Vec<u8>, Option<u64>)>,
    ) -> Result<RdbValue, Error> {
        self.dups(at, "hash field", h.iter().map(|(f, _, _)| f.as_slice()))?;
        Ok(if h.iter().all(|(_, _, e)| e.is_none()) {
            RdbValue::Hash(h.into_iter().map(|(f, v, _)| (f, v)).collect())
        } else {
            RdbValue::HashTtl(h)
        })
    }

    fn id_pair(&mut self, what: &str) -> Result<StreamId, Error> {
        let ms = self.src.len(what)?;
        let seq = self.src.len(what)?;
        Ok(StreamId::new(ms, seq))
    }

    fn raw_id(&mut self) -> Result<StreamId, Error> {
        Ok(StreamId::from_be_bytes(&self.src.take("a stream ID")?))
    }

    fn stream(&mut self, t: u8) -> Result<StreamValue, Error> {
        let n_nodes = self.src.count("stream node count", 2)?;
        let mut s = StreamValue::default();
        let mut last_node: Option<StreamId> = None;
        for _ in 0..n_nodes {
            let kat = self.src.offset();
            let key = self.src.string()?;
            let Ok(key) = <[u8; 16]>::try_from(key.as_slice()) else {
                return Err(self.src.err(
                    kat,
                    format!("stream node key of {} bytes, expected 16", key.len()),
                ));
            };
            let master = StreamId::from_be_bytes(&key);
            if last_node.is_some_and(|l| l >= master) {
                return Err(self.src.err(
                    kat,
                    format!("stream node key {master} duplicated or out of order"),
                ));
            }
            last_node = Some(master);
            let (bat, lp) = self.blob()?;
            stream::decode_node(master, &lp, &mut s.entries)
                .map_err(|e| self.blob_err(bat, "stream listpack", e))?;
        }
        let lat = self.src.offset();
        let length = self.src.len("the stream length")?;
        if length != s.entries.len() as u64 {
            return Err(self.src.err(
                lat,
                format!(
                    "stream length {length} but its nodes hold {} entries",
                    s.entries.len()
                ),
            ));
        }
        s.last_id = self.id_pair("the stream last ID")?;
        if t >= ty::STREAM_LISTPACKS_2 {
            s.first_id = self.id_pair("the stream first ID")?;
            s.max_deleted_id = self.id_pair("the stream max deleted ID")?;
            s.entries_added = self.src.len("the stream entries-added counter")?;
        } else {
            s.first_id = s.entries.first().map_or(StreamId::ZERO, |e| e.id);
            s.max_deleted_id = StreamId::ZERO;
            s.entries_added = length;
        }
        if let Some(last) = s.entries.last()
            && last.id > s.last_id
        {
            return Err(self.src.err(
                lat,
                format!("stream last ID {} is before entry {}", s.last_id, last.id),
            ));
        }
        let n_groups = self.src.count("consumer group count", 3)?;
        let mut names: HashSet<Vec<u8>> = HashSet::new();
        for _ in 0..n_groups {
            let gat = self.src.offset();
            let name = self.src.string()?;
            if !names.insert(name.clone()) {
                return Err(self
                    .src
                    .err(gat, format!("duplicate consumer group '{}'", show(&name))));
            }
            let last_delivered_id = self.id_pair("a group's last delivered ID")?;
            let entries_read = if t >= ty::STREAM_LISTPACKS_2 {
                match self.src.len("a group's entries-read counter")? {
                    u64::MAX => None,
                    v => Some(v),
                }
            } else {
                s.estimate_entries_read(last_delivered_id)
            };
            let n_pel = self.src.count("group PEL size", 18)?;
            let mut pel = Vec::with_capacity(self.src.cap(n_pel));
            let mut owner: hashbrown::HashMap<StreamId, bool> =
                hashbrown::HashMap::with_capacity(pel.capacity());
            for _ in 0..n_pel {
                let pat = self.src.offset();
                let id = self.raw_id()?;
                let delivery_time_ms = self.src.millis("a PEL delivery time")?;
                let delivery_count = self.src.len("a PEL delivery count")?;
                if owner.insert(id, false).is_some() {
                    return Err(self.src.err(pat, format!("duplicate group PEL entry {id}")));
                }
                pel.push(StreamPending {
                    id,
                    delivery_time_ms,
                    delivery_count,
                });
            }
            let n_cons = self.src.count("consumer count", 10)?;
            let mut consumers = Vec::with_capacity(self.src.cap(n_cons));
            let mut cnames: HashSet<Vec<u8>> = HashSet::new();
            for _ in 0..n_cons {
                let cat = self.src.offset();
                let cname = self.src.string()?;
                if !cnames.insert(cname.clone()) {
                    return Err(self
                        .src
                        .err(cat, format!("duplicate consumer '{}'", show(&cname))));
                }
                let seen_time_ms = self.src.millis("a consumer seen time")?;
                let active_time_ms = if t >= ty::STREAM_LISTPACKS_3 {
                    self.src.millis("a consumer active time")?
                } else {
                    seen_time_ms
                };
                let n = self.src.count("consumer PEL size", 16)?;
                let mut ids = Vec::with_capacity(self.src.cap(n));
                for _ in 0..n {
                    let iat = self.src.offset();
                    let id = self.raw_id()?;
                    match owner.get_mut(&id) {
                        None => {
                            return Err(self.src.err(
                                iat,
                                format!("consumer PEL entry {id} is not in the group PEL"),
                            ));
                        }
                        Some(true) => {
                            return Err(self
                                .src
                                .err(iat, format!("group PEL entry {id} owned by two consumers")));
                        }
                        Some(o) => *o = true,
                    }
                    ids.push(id);
                }
                consumers.push(StreamConsumer {
                    name: cname,
                    seen_time_ms,
                    active_time_ms,
                    pel: ids,
                });
            }
            if let Some((id, _)) = owner.iter().find(|(_, o)| !**o) {
                return Err(self
                    .src
                    .err(gat, format!("group PEL entry {id} has no consumer")));
            }
            s.groups.push(StreamGroup {
                name,
                last_delivered_id,
                entries_read,
                pel,
                consumers,
            });
        }
        Ok(s)
    }
}

/// A streaming RDB reader over any byte source.
pub struct RdbReader<R> {
    src: Src<R>,
    opts: ReadOptions,
    version: u32,
    db: usize,
    expire: Option<u64>,
    idle: Option<u64>,
    freq: Option<u8>,
    done: bool,
    empty_skipped: u64,
}

impl RdbReader<File> {
    /// Opens a dump file and checks its header.
    pub fn open(path: impl AsRef<Path>) -> Result<RdbReader<File>, Error> {
        let path = path.as_ref();
        let f = File::open(path)
            .map_err(|e| Error::new(ErrorKind::Io, format!("{}: {e}", path.display())))?;
        let len = f.metadata().map(|m| m.len()).ok();
        RdbReader::new(f, path.display().to_string(), len)
    }
}

impl<R: Read> RdbReader<R> {
    /// Starts reading `r` (`name` is used in messages; `total_len`, when
    /// known, bounds every allocation by the file size). Checks the header.
    pub fn new(r: R, name: impl Into<String>, total_len: Option<u64>) -> Result<Self, Error> {
        RdbReader::with_options(r, name, total_len, ReadOptions::default())
    }

    pub fn with_options(
        r: R,
        name: impl Into<String>,
        total_len: Option<u64>,
        opts: ReadOptions,
    ) -> Result<Self, Error> {
        let mut src = Src::new(r, name.into(), total_len);
        let magic: [u8; 9] = src.take("the header")?;
        if magic.starts_with(b"VALKEY") {
            return Err(src.err(0, "Valkey 9's RDB format (magic VALKEY…) is not supported"));
        }
        if &magic[..5] != b"REDIS" || !magic[5..].iter().all(|c| c.is_ascii_digit()) {
            return Err(src.err(
                0,
                "not an RDB file: it does not start with REDIS and 4 digits",
            ));
        }
        let version: u32 = std::str::from_utf8(&magic[5..]).unwrap().parse().unwrap();
        if version < 1 || version > RDB_MAX_READ_VERSION as u32 {
            return Err(src.err(5, format!("can't handle RDB format version {version}")));
        }
        Ok(RdbReader {
            src,
            opts,
            version,
            db: 0,
            expire: None,
            idle: None,
            freq: None,
            done: false,
            empty_skipped: 0,
        })
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes consumed so far; after the last item, the end of the RDB data
    /// (where an old-style AOF's command tail begins).
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// Keys skipped because their collection was empty (Redis skips them too).
    pub fn empty_keys_skipped(&self) -> u64 {
        self.empty_skipped
    }

    /// The next item, or `None` after the EOF opcode (and a good checksum).
    pub fn next_item(&mut self) -> Result<Option<RdbItem>, Error> {
        while !self.done {
            let at = self.src.offset();
            let t = self
                .src
                .byte("a type or opcode byte (no EOF marker: the file is truncated)")?;
            match t {
                op::EXPIRETIME_MS => self.expire = Some(self.src.millis("an expire time")?),
                op::EXPIRETIME => {
                    let s = i32::from_le_bytes(self.src.take("an expire time")?);
                    self.expire = Some(s.max(0) as u64 * 1000);
                }
                op::IDLE => self.idle = Some(self.src.len("an LRU idle time")?),
                op::FREQ => self.freq = Some(self.src.byte("an LFU frequency")?),
                op::SELECTDB => {
                    let db = self.src.len("a database number")?;
                    self.db = usize::try_from(db)
                        .ok()
                        .filter(|&d| d <= u32::MAX as usize)
                        .ok_or_else(|| {
                            self.src
                                .err(at, format!("database number {db} is out of range"))
                        })?;
                }
                op::RESIZEDB => {
                    let size = self.src.len("a RESIZEDB size")?;
                    let expires = self.src.len("a RESIZEDB size")?;
                    return Ok(Some(RdbItem::ResizeDb {
                        db: self.db,
                        size,
                        expires,
                    }));
                }
                op::AUX => {
                    let key = self.src.string()?;
                    let value = self.src.string()?;
                    return Ok(Some(RdbItem::Aux { key, value }));
                }
                op::MODULE_AUX => {
                    let id = self.src.len("a module id")?;
                    let wat = self.src.offset();
                    let when_op = self.src.len("a module aux 'when' opcode")?;
                    if when_op != 2 {
                        return Err(self.src.err(
                            wat,
                            format!("module aux 'when' opcode {when_op}, expected 2"),
                        ));
                    }
                    let when = self.src.len("a module aux 'when'")?;
                    let mut vals = Values {
                        src: &mut self.src,
                        opts: &self.opts,
                    };
                    vals.module_fields()?;
                    return Ok(Some(RdbItem::ModuleAux {
                        module: module_name(id).0,
                        when,
                    }));
                }
                op::FUNCTION2 => {
                    let code = self.src.string()?;
                    return Ok(Some(RdbItem::Function(code)));
                }
                op::FUNCTION_PRE_GA => {
                    return Err(self.src.err(
                        at,
                        "pre-release function format (Redis 7.0 RC) not supported",
                    ));
                }
                op::SLOT_INFO => {
                    for _ in 0..3 {
                        self.src.len("slot info")?;
                    }
                }
                op::EOF => {
                    self.done = true;
                    let computed = self.src.crc_now();
                    if self.version >= 5 {
                        let cat = self.src.offset();
                        let stored = u64::from_le_bytes(self.src.take("the CRC-64 trailer")?);
                        if self.opts.verify_checksum && stored != 0 && stored != computed {
                            return Err(self.src.err(
                                cat,
                                format!("wrong CRC-64: the file stores {stored:016x}, its contents hash to {computed:016x}"),
                            ));
                        }
                    }
                    return Ok(None);
                }
                t => {
                    let key = self.src.string()?;
                    let mut vals = Values {
                        src: &mut self.src,
                        opts: &self.opts,
                    };
                    let value = vals.value(t).map_err(|e| {
                        Error::new(
                            e.kind(),
                            format!(
                                "{} (reading key '{}', type {t} {})",
                                e.message(),
                                show(&key),
                                ty::name(t)
                            ),
                        )
                    })?;
                    let expire_at_ms = self.expire.take();
                    let lru_idle = self.idle.take();
                    let lfu_freq = self.freq.take();
                    match value {
                        None => self.empty_skipped += 1,
                        Some(value) => {
                            return Ok(Some(RdbItem::Entry(RdbEntry {
                                db: self.db,
                                key,
                                value,
                                expire_at_ms,
                                lru_idle,
                                lfu_freq,
                            })));
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    /// Calls `f` for every item until the end of the file.
    pub fn each(&mut self, mut f: impl FnMut(RdbItem) -> Result<(), Error>) -> Result<(), Error> {
        while let Some(item) = self.next_item()? {
            f(item)?;
        }
        Ok(())
    }
}

impl<R: Read> Iterator for RdbReader<R> {
    type Item = Result<RdbItem, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_item() {
            Ok(Some(i)) => Some(Ok(i)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A whole dump in memory (tests, tools, small files).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RdbFile {
    pub version: u32,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub functions: Vec<Vec<u8>>,
    pub entries: Vec<RdbEntry>,
    pub module_aux: Vec<String>,
}

/// Reads a whole dump file into memory.
pub fn read_file(path: impl AsRef<Path>) -> Result<RdbFile, Error> {
    let mut r = RdbReader::open(path)?;
    let mut out = RdbFile {
        version: r.version(),
        ..RdbFile::default()
    };
    r.each(|item| {
        match item {
            RdbItem::Entry(e) => out.entries.push(e),
            RdbItem::Aux { key, value } => out.aux.push((key, value)),
            RdbItem::Function(code) => out.functions.push(code),
            RdbItem::ModuleAux { module, .. } => out.module_aux.push(module),
            RdbItem::ResizeDb { .. } => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// The value part of a DUMP payload (type byte + value), already stripped
/// of its version and CRC.
pub(super) fn parse_value_payload(body: &[u8], _version: u32) -> Result<RdbValue, Error> {
    let mut src = Src::new(body, "DUMP payload".to_string(), Some(body.len() as u64));
    let opts = ReadOptions::default();
    let t = src.byte("the type byte")?;
    let mut vals = Values {
        src: &mut src,
        opts: &opts,
    };
    let v = vals.value(t)?;
    if src.offset() != body.len() as u64 {
        return Err(src.err(src.offset(), "bytes left over after the value"));
    }
    v.ok_or_else(|| corrupt("DUMP payload holds an empty collection"))
}

/// The libraries of a FUNCTION DUMP payload's body (version and CRC
/// already checked): one FUNCTION2 opcode and source string each.
pub(super) fn parse_functions_body(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut src = Src::new(
        body,
        "FUNCTION payload".to_string(),
        Some(body.len() as u64),
    );
    let mut out = Vec::new();
    while src.offset() < body.len() as u64 {
        let t = src
            .byte("the type byte")
            .map_err(|_| "can not read data type".to_string())?;
        match t {
            op::FUNCTION2 => {}
            op::FUNCTION_PRE_GA => return Err("Pre-GA function format not supported".into()),
            _ => return Err("given type is not a function".into()),
        }
        out.push(
            src.string()
                .map_err(|_| "failed loading the given functions payload".to_string())?,
        );
    }
    Ok(out)
}
