//! Bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD, BITFIELD_RO. Bit 0 is the most significant bit of byte 0.

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::notify;
use crate::reply::Reply;
use crate::types::{Str, Value};
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "bitmap", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("setbit", 4, WRITE | DENYOOM, (1, 1, 1), setbit),
    cmd("getbit", 3, READONLY | FAST, (1, 1, 1), getbit),
    cmd("bitcount", -2, READONLY, (1, 1, 1), bitcount),
    cmd("bitpos", -3, READONLY, (1, 1, 1), bitpos),
    cmd("bitop", -4, WRITE | DENYOOM, (2, -1, 1), bitop),
    cmd("bitfield", -2, WRITE | DENYOOM, (1, 1, 1), bitfield),
    cmd("bitfield_ro", -2, READONLY | FAST, (1, 1, 1), bitfield_ro),
];

/// Largest bit offset: strings are at most 512 MB.
const MAX_BIT: u64 = 512 * 1024 * 1024 * 8;

fn parse_bit_offset(arg: &[u8], hash: bool, bits: u64) -> Result<u64, Reply> {
    let bad = || Reply::error(err::BIT_OFFSET);
    let (arg, mul) = match arg.first() {
        Some(b'#') if hash => (&arg[1..], bits),
        _ => (arg, 1),
    };
    let v = parse_i64(arg).ok_or_else(bad)?;
    if v < 0 {
        return Err(bad());
    }
    let v = (v as u64).checked_mul(mul).ok_or_else(bad)?;
    if v >= MAX_BIT {
        return Err(bad());
    }
    Ok(v)
}

fn get_bit(b: &[u8], bit: u64) -> u8 {
    let byte = (bit >> 3) as usize;
    if byte >= b.len() {
        0
    } else {
        (b[byte] >> (7 - (bit & 7))) & 1
    }
}

fn set_bit(b: &mut Vec<u8>, bit: u64, on: bool) {
    let byte = (bit >> 3) as usize;
    if byte >= b.len() {
        b.resize(byte + 1, 0);
    }
    flip(&mut b[byte], bit, on);
}

/// Sets or clears `bit`'s position within its byte.
fn flip(byte: &mut u8, bit: u64, on: bool) {
    let mask = 1u8 << (7 - (bit & 7));
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// The bytes of a string key for reading (None = missing), WRONGTYPE otherwise.
fn read_bytes(ctx: &Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    match ctx.lookup(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.to_vec())),
        #[allow(unreachable_patterns)]
        Some(_) => Err(err::wrongtype()),
    }
}

/// `SETBIT key offset value`
fn setbit(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let off = parse_bit_offset(a[2], false, 1)?;
    let on = match a[3] {
        b"1" => true,
        b"0" => false,
        _ => return Err(Reply::error("ERR bit is not an integer or out of range")),
    };
    let key = a[1];
    let byte = (off / 8) as usize;
    let mut v = match ctx.get_str_mut(key)? {
        Some(s) => {
            // the same bit value in a string long enough is no change: no
            // dirty, no notification, no WATCH (Redis 7)
            let (old, len) = s.with_bytes(|b| (get_bit(b, off), b.len()));
            if (old != 0) == on && byte < len {
                return Ok(Reply::Int(old as i64));
            }
            match s {
                // a string already modified in place, long enough: flip the
                // bit where it is (no copy of a large bitmap per SETBIT)
                Str::Raw(b) if byte < b.len() => {
                    flip(&mut b[byte], off, on);
                    return Ok(bit_changed(ctx, key, old));
                }
                _ => s.to_vec(),
            }
        }
        None => Vec::new(),
    };
    let old = get_bit(&v, off);
    set_bit(&mut v, off, on);
    ctx.set_in(ctx.db, key, Value::Str(Str::raw(v)), true);
    Ok(bit_changed(ctx, key, old))
}

/// What a SETBIT that changed `key` records and answers.
fn bit_changed(ctx: &mut Ctx, key: &[u8], old: u8) -> Reply {
    ctx.touch(key);
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "setbit", key);
    Reply::Int(old as i64)
}

/// `GETBIT key offset`
fn getbit(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let off = parse_bit_offset(a[2], false, 1)?;
    Ok(Reply::Int(match ctx.get_str(a[1])? {
        Some(s) => s.with_bytes(|b| get_bit(b, off)) as i64,
        None => 0,
    }))
}

/// Normalises a BITCOUNT/BITPOS range over `total` units; None = empty.
fn norm_range(mut start: i64, mut end: i64, total: i64) -> (i64, i64) {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start, end)
}

fn parse_unit(arg: &[u8]) -> Result<bool, Reply> {
    if arg.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if arg.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(err::syntax())
    }
}

/// `BITCOUNT key [start end [BYTE | BIT]]`
fn bitcount(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(b) = read_bytes(ctx, a[1])? else {
        return Ok(Reply::Int(0));
    };
    let (start, end, isbit) = match a.len() {
        2 => (0, b.len() as i64 - 1, false),
        4 | 5 => {
            let s = parse_i64(a[2]).ok_or_else(err::not_int)?;
            let e = parse_i64(a[3]).ok_or_else(err::not_int)?;
            let isbit = if a.len() == 5 {
                parse_unit(a[4])?
            } else {
                false
            };
            // Redis: two negative indexes the wrong way round count nothing
            // (clamping would otherwise turn them into the first byte)
            if s < 0 && e < 0 && s > e {
                return Ok(Reply::Int(0));
            }
            let total = if isbit {
                b.len() as i64 * 8
            } else {
                b.len() as i64
            };
            let (s, e) = norm_range(s, e, total);
            (s, e, isbit)
        }
        _ => return Err(err::syntax()),
    };
    if start > end {
        return Ok(Reply::Int(0));
    }
    let n: u64 = if isbit {
        (start as u64..=end as u64)
            .map(|i| get_bit(&b, i) as u64)
            .sum()
    } else {
        b[start as usize..=end as usize]
            .iter()
            .map(|x| x.count_ones() as u64)
            .sum()
    };
    Ok(Reply::Int(n as i64))
}

/// `BITPOS key bit [start [end [BYTE | BIT]]]`
fn bitpos(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let bit = parse_i64(a[2]).ok_or_else(err::not_int)?;
    if bit != 0 && bit != 1 {
        return Err(Reply::error("ERR The bit argument must be 1 or 0."));
    }
    let Some(b) = read_bytes(ctx, a[1])? else {
        return Ok(Reply::Int(if bit == 1 { -1 } else { 0 }));
    };
    let len = b.len() as i64;
    let mut end_given = false;
    let (start, end, isbit) = match a.len() {
        3 => (0, len - 1, false),
        4..=6 => {
            let s = parse_i64(a[3]).ok_or_else(err::not_int)?;
            let isbit = if a.len() == 6 {
                parse_unit(a[5])?
            } else {
                false
            };
            let total = if isbit { len * 8 } else { len };
            let e = if a.len() >= 5 {
                end_given = true;
                parse_i64(a[4]).ok_or_else(err::not_int)?
            } else {
                total - 1
            };
            let (s, e) = norm_range(s, e, total);
            (s, e, isbit)
        }
        _ => return Err(err::syntax()),
    };
    if start > end {
        return Ok(Reply::Int(-1));
    }
    let (first, last) = if isbit {
        (start as u64, end as u64)
    } else {
        (start as u64 * 8, end as u64 * 8 + 7)
    };
    let want = bit as u8;
    if let Some(pos) = (first..=last).find(|&i| get_bit(&b, i) == want) {
        return Ok(Reply::Int(pos as i64));
    }
    if want == 1 || end_given {
        return Ok(Reply::Int(-1));
    }
    // Looking for a clear bit without an explicit end: the string is
    // considered zero-padded on the right.
    Ok(Reply::Int(last as i64 + 1))
}

/// `BITOP <AND | OR | XOR | NOT> destkey key [key ...]`
fn bitop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let op = a[1].to_ascii_lowercase();
    let op = match op.as_slice() {
        b"and" | b"or" | b"xor" | b"not" => op,
        _ => return Err(err::syntax()),
    };
    if op == b"not" && a.len() != 4 {
        return Err(Reply::error(
            "ERR BITOP NOT must be called with a single source key.",
        ));
    }
    let mut srcs = Vec::new();
    for k in &a[3..] {
        srcs.push(read_bytes(ctx, k)?.unwrap_or_default());
    }
    let maxlen = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![0u8; maxlen];
    for (i, o) in out.iter_mut().enumerate() {
        let byte = |s: &Vec<u8>| s.get(i).copied().unwrap_or(0);
        *o = match op.as_slice() {
            b"not" => !byte(&srcs[0]),
            b"and" => srcs.iter().fold(0xff, |acc, s| acc & byte(s)),
            b"or" => srcs.iter().fold(0, |acc, s| acc | byte(s)),
            _ => srcs.iter().fold(0, |acc, s| acc ^ byte(s)),
        };
    }
    let dest = a[2];
    if out.is_empty() {
        if ctx.remove(dest).is_some() {
            ctx.notify(notify::GENERIC, "del", dest);
        }
    } else {
        ctx.set(dest, Value::Str(Str::raw(out)));
        ctx.notify(notify::STRING, "set", dest);
    }
    ctx.dirty += 1;
    Ok(Reply::Int(maxlen as i64))
}

#[derive(Clone, Copy, PartialEq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

enum FieldOp {
    Get,
    Set(i64),
    Incr(i64),
}

struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

fn parse_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let bad = || {
        Reply::error(
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        )
    };
    let signed = match arg.first() {
        Some(b'i') | Some(b'I') => true,
        Some(b'u') | Some(b'U') => false,
        _ => return Err(bad()),
    };
    let bits = parse_i64(&arg[1..]).ok_or_else(bad)?;
    if bits < 1 || (signed && bits > 64) || (!signed && bits > 63) {
        return Err(bad());
    }
    Ok((signed, bits as u32))
}

fn read_field(b: &[u8], offset: u64, bits: u32, signed: bool) -> i64 {
    let mut v: u64 = 0;
    for i in 0..bits as u64 {
        v = (v << 1) | get_bit(b, offset + i) as u64;
    }
    if signed && bits < 64 && (v >> (bits - 1)) & 1 == 1 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

fn write_field(b: &mut Vec<u8>, offset: u64, bits: u32, v: i64) {
    let v = v as u64;
    for i in 0..bits as u64 {
        let on = (v >> (bits as u64 - 1 - i)) & 1 == 1;
        set_bit(b, offset + i, on);
    }
}

/// Applies `incr` to `value` within the field's range. None = FAIL overflow.
fn field_add(value: i64, incr: i64, signed: bool, bits: u32, ov: Overflow) -> Option<i64> {
    if signed {
        let max: i128 = if bits == 64 {
            i64::MAX as i128
        } else {
            (1i128 << (bits - 1)) - 1
        };
        let min: i128 = -max - 1;
        let r = value as i128 + incr as i128;
        if r > max || r < min {
            match ov {
                Overflow::Fail => None,
                Overflow::Sat => Some(if r > max { max as i64 } else { min as i64 }),
                Overflow::Wrap => {
                    let m = 1i128 << bits;
                    let mut w = (r - min).rem_euclid(m) + min;
                    if w > max {
                        w -= m;
                    }
                    Some(w as i64)
                }
            }
        } else {
            Some(r as i64)
        }
    } else {
        let max: i128 = (1i128 << bits) - 1;
        let r = value as i128 + incr as i128;
        if r > max || r < 0 {
            match ov {
                Overflow::Fail => None,
                Overflow::Sat => Some(if r > max { max as i64 } else { 0 }),
                Overflow::Wrap => Some(r.rem_euclid(max + 1) as i64),
            }
        } else {
            Some(r as i64)
        }
    }
}

/// SET on an unsigned field: the value is taken as a u64, as Redis does.
fn unsigned_set(v: i64, bits: u32, ov: Overflow) -> Option<i64> {
    let max = (1u64 << bits) - 1;
    let u = v as u64;
    if u <= max {
        return Some(u as i64);
    }
    match ov {
        Overflow::Fail => None,
        Overflow::Sat => Some(max as i64),
        Overflow::Wrap => Some((u & max) as i64),
    }
}

fn bitfield_generic(ctx: &mut Ctx, a: &[&[u8]], readonly: bool) -> R {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < a.len() {
        let left = a.len() - i - 1;
        let o = a[i].to_ascii_lowercase();
        match o.as_slice() {
            b"get" if left >= 2 => {
                let (signed, bits) = parse_type(a[i + 1])?;
                let offset = parse_bit_offset(a[i + 2], true, bits as u64)?;
                fields.push(Field {
                    op: FieldOp::Get,
                    signed,
                    bits,
                    offset,
                    overflow,
                });
                i += 3;
            }
            b"set" | b"incrby" if left >= 3 => {
                let (signed, bits) = parse_type(a[i + 1])?;
                let offset = parse_bit_offset(a[i + 2], true, bits as u64)?;
                let v = parse_i64(a[i + 3]).ok_or_else(err::not_int)?;
                let op = if o == b"set" {
                    FieldOp::Set(v)
                } else {
                    FieldOp::Incr(v)
                };
                fields.push(Field {
                    op,
                    signed,
                    bits,
                    offset,
                    overflow,
                });
                i += 4;
            }
            b"overflow" if left >= 1 => {
                overflow = match a[i + 1].to_ascii_lowercase().as_slice() {
                    b"wrap" => Overflow::Wrap,
                    b"sat" => Overflow::Sat,
                    b"fail" => Overflow::Fail,
                    _ => return Err(Reply::error("ERR Invalid OVERFLOW type specified")),
                };
                i += 2;
            }
            _ => return Err(err::syntax()),
        }
    }
    let writes = fields.iter().any(|f| !matches!(f.op, FieldOp::Get));
    if readonly && writes {
        return Err(Reply::error(
            "ERR BITFIELD_RO only supports the GET subcommand",
        ));
    }
    let key = a[1];
    let existing = if writes {
        ctx.get_str_mut(key)?.map(|s| s.to_vec())
    } else {
        read_bytes(ctx, key)?
    };
    // Redis counts a write as a change when it alters the value or when the
    // command creates or grows the string (sized once, for the furthest write)
    let furthest = fields
        .iter()
        .filter(|f| !matches!(f.op, FieldOp::Get))
        .map(|f| (f.offset + f.bits as u64).div_ceil(8))
        .max()
        .unwrap_or(0);
    let grows = existing.as_ref().is_none_or(|v| furthest > v.len() as u64);
    let mut b = existing.unwrap_or_default();
    let mut out = Vec::new();
    let mut changes = 0;
    for f in &fields {
        let cur = read_field(&b, f.offset, f.bits, f.signed);
        match f.op {
            FieldOp::Get => out.push(Reply::Int(cur)),
            FieldOp::Set(v) => {
                // SET applies the overflow policy to the value itself.
                let nv = if f.signed {
                    field_add(0, v, true, f.bits, f.overflow)
                } else {
                    unsigned_set(v, f.bits, f.overflow)
                };
                match nv {
                    Some(nv) => {
                        write_field(&mut b, f.offset, f.bits, nv);
                        changes += (grows || nv != cur) as u64;
                        out.push(Reply::Int(cur));
                    }
                    None => out.push(Reply::Nil),
                }
            }
            FieldOp::Incr(v) => match field_add(cur, v, f.signed, f.bits, f.overflow) {
                Some(nv) => {
                    write_field(&mut b, f.offset, f.bits, nv);
                    changes += (grows || nv != cur) as u64;
                    out.push(Reply::Int(nv));
                }
                None => out.push(Reply::Nil),
            },
        }
    }
    if changes > 0 {
        ctx.set_in(ctx.db, key, Value::Str(Str::raw(b)), true);
        ctx.dirty += changes;
        ctx.notify(notify::STRING, "setbit", key);
    }
    Ok(Reply::Array(out))
}

/// `BITFIELD key [GET encoding offset | [OVERFLOW <WRAP | SAT | FAIL>] <SET encoding offset value | INCRBY encoding offset increment> ...]`
fn bitfield(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bitfield_generic(ctx, a, false)
}

/// `BITFIELD_RO key [GET encoding offset ...]`
fn bitfield_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bitfield_generic(ctx, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arith() {
        assert_eq!(field_add(127, 1, true, 8, Overflow::Wrap), Some(-128));
        assert_eq!(field_add(127, 1, true, 8, Overflow::Sat), Some(127));
        assert_eq!(field_add(127, 1, true, 8, Overflow::Fail), None);
        assert_eq!(field_add(255, 1, false, 8, Overflow::Wrap), Some(0));
        assert_eq!(field_add(0, -1, false, 8, Overflow::Sat), Some(0));
        assert_eq!(field_add(0, 300, false, 8, Overflow::Wrap), Some(44));
        assert_eq!(
            field_add(i64::MAX, 1, true, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
    }
}
