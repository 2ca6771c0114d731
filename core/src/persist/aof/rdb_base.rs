//! A minimal RDB reader for AOF bases written by Redis (`*.base.rdb`, or an
//! old single-file AOF with an RDB preamble): header, AUX, SELECTDB,
//! RESIZEDB, expiry, IDLE/FREQ and string values (plain, integer, LZF),
//! EOF and the CRC-64 trailer. Other value types are refused with a clear
//! error rather than skipped.
//!
//! Stopgap until the full RDB loader (`persist/rdb`) lands: then `load`
//! should call it instead, keeping the contract (keys go straight into the
//! keyspace, already-expired keys are kept, returns the bytes used).

use crate::client::ClientState;
use crate::commands::Ctx;
use crate::db::Engine;
use crate::error::{Error, ErrorKind};
use crate::types::{Str, Value};

struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
    name: &'a str,
}

impl<'a> Cur<'a> {
    fn err(&self, why: impl std::fmt::Display) -> Error {
        Error::new(
            ErrorKind::Corrupt,
            format!("RDB base {} at offset {}: {why}", self.name, self.pos),
        )
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.b.len() - self.pos < n {
            return Err(self.err("Unexpected EOF reading RDB file"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    /// A length; `Err(enc)` in the Ok side means a special string encoding.
    fn len(&mut self) -> Result<Result<u64, u8>, Error> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Ok((first & 0x3f) as u64),
            1 => Ok((((first & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match first {
                0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().unwrap()) as u64),
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().unwrap())),
                _ => return Err(self.err(format!("unknown length encoding {first:#x}"))),
            },
            _ => Err(first & 0x3f),
        })
    }
    fn plain_len(&mut self) -> Result<u64, Error> {
        match self.len()? {
            Ok(n) => Ok(n),
            Err(_) => Err(self.err("a length was expected")),
        }
    }
    fn string(&mut self) -> Result<Vec<u8>, Error> {
        match self.len()? {
            Ok(n) => Ok(self
                .take(usize::try_from(n).map_err(|_| self.err("too long"))?)?
                .to_vec()),
            Err(0) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Err(1) => Ok(i16::from_le_bytes(self.take(2)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            Err(2) => Ok(i32::from_le_bytes(self.take(4)?.try_into().unwrap())
                .to_string()
                .into_bytes()),
            Err(3) => {
                let clen = self.plain_len()? as usize;
                let len = self.plain_len()? as usize;
                let data = self.take(clen)?;
                lzf_decompress(data, len).ok_or_else(|| self.err("invalid LZF data"))
            }
            Err(e) => Err(self.err(format!("unknown string encoding {e}"))),
        }
    }
}

/// LZF decompression (the format Redis's lzf_c writes).
fn lzf_decompress(inp: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < inp.len() {
        let ctrl = inp[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            out.extend_from_slice(inp.get(i..i + n)?);
            i += n;
        } else {
            let mut n = ctrl >> 5;
            if n == 7 {
                n += *inp.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *inp.get(i)? as usize + 1;
            i += 1;
            let from = out.len().checked_sub(back)?;
            for k in 0..n + 2 {
                let c = out[from + k];
                out.push(c);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

/// Loads an RDB image at the start of `b`; returns the bytes it used.
pub(crate) fn load(eng: &Engine, b: &[u8], name: &str) -> Result<usize, Error> {
    let mut c = Cur { b, pos: 0, name };
    let magic = c.take(9)?;
    let ver: u32 = std::str::from_utf8(&magic[5..])
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| c.err("bad RDB header"))?;
    if !(1..=10).contains(&ver) {
        return Err(c.err(format!("Can't handle RDB format version {ver}")));
    }
    let mut cl = ClientState::internal();
    let mut ctx = Ctx::new(eng, &mut cl);
    ctx.lock(Ctx::shard_mask_all(), true);
    let mut db = 0usize;
    let mut expire: Option<u64> = None;
    loop {
        let op = c.u8()?;
        match op {
            0xFA => {
                c.string()?;
                c.string()?;
            }
            0xFB => {
                c.plain_len()?;
                c.plain_len()?;
            }
            0xFE => {
                let n = c.plain_len()?;
                if n >= eng.ks.ndbs as u64 {
                    return Err(c.err(format!(
                        "database {n} is out of range (databases {})",
                        eng.ks.ndbs
                    )));
                }
                db = n as usize;
            }
            0xFD => {
                let s = u32::from_le_bytes(c.take(4)?.try_into().unwrap());
                expire = Some(s as u64 * 1000);
            }
            0xFC => {
                expire = Some(u64::from_le_bytes(c.take(8)?.try_into().unwrap()));
            }
            0xF8 => {
                c.plain_len()?;
            }
            0xF9 => {
                c.u8()?;
            }
            0xFF => {
                let end = c.pos;
                if ver >= 5 {
                    let stored = u64::from_le_bytes(c.take(8)?.try_into().unwrap());
                    if stored != 0 && crc64::crc64(0, &b[..end]) != stored {
                        c.pos = end;
                        return Err(c.err("RDB CRC error"));
                    }
                }
                return Ok(c.pos);
            }
            0 => {
                let key = c.string()?;
                let val = c.string()?;
                ctx.set_in(db, &key, Value::Str(Str::from_bytes(&val)), false);
                if let Some(at) = expire.take() {
                    ctx.set_expire_in(db, &key, at);
                }
            }
            t => {
                return Err(c.err(format!(
                    "value type {t} is not supported in an RDB base yet (only strings until the RDB loader lands)"
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lzf_decompress;

    #[test]
    fn lzf_literal_and_backref() {
        // literal "a", then a back reference (distance 1) of 1 + 2 bytes
        assert_eq!(lzf_decompress(&[0, b'a', 1 << 5, 0], 4).unwrap(), b"aaaa");
        // long form: length 7 + 0 (+ 2) = 9 bytes
        assert_eq!(
            lzf_decompress(&[0, b'a', 7 << 5, 0, 0], 10).unwrap(),
            b"aaaaaaaaaa"
        );
        // a reference before the start is an error, never a panic
        assert_eq!(lzf_decompress(&[1 << 5, 5], 3), None);
        assert_eq!(lzf_decompress(&[3, b'a'], 4), None);
    }
}
