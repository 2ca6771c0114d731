//! `cmsgpack`: `pack`, `unpack`, `unpack_one` and `unpack_limit` with the
//! bytes and errors of lua-cmsgpack 0.4 as Redis bundles it: integers in
//! their smallest encoding, doubles as float32 when exact, tables as
//! arrays when their keys are exactly 1..n, nesting cut (to nil) at 16
//! levels; decoded numbers are Lua numbers (doubles).

use mlua::{Lua, Table, Value, Variadic};

use super::libs::raise_at as raise;

/// lua-cmsgpack's LUACMSGPACK_MAX_NESTING.
const MAX_NESTING: usize = 16;

pub(crate) fn lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: Variadic<Value>| {
            if a.is_empty() {
                return raise("MessagePack pack needs input.");
            }
            let mut out = Vec::new();
            for v in a.iter() {
                encode(v, &mut out, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: Variadic<Value>| {
            let s = input(&a, "unpack")?;
            unpack(lua, &s, 0, 0)
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, a: Variadic<Value>| {
            let s = input(&a, "unpack_one")?;
            let offset = opt_int(a.get(1), 2, "unpack_one")?;
            unpack(lua, &s, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, a: Variadic<Value>| {
            let s = input(&a, "unpack_limit")?;
            let limit = match a.get(1) {
                None | Some(Value::Nil) => {
                    return raise(
                        "bad argument #2 to 'unpack_limit' (number expected, got no value)",
                    );
                }
                v => opt_int(v, 2, "unpack_limit")?,
            };
            let offset = opt_int(a.get(2), 3, "unpack_limit")?;
            unpack(lua, &s, limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

fn input(a: &Variadic<Value>, fname: &str) -> mlua::Result<Vec<u8>> {
    match a.first() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(i)) => Ok(i.to_string().into_bytes()),
        Some(Value::Number(n)) => Ok(super::convert::lua_number_text(*n).into_bytes()),
        other => raise(format!(
            "bad argument #1 to '{fname}' (string expected, got {})",
            other.map_or("no value", |v| v.type_name())
        )),
    }
}

fn opt_int(v: Option<&Value>, pos: usize, fname: &str) -> mlua::Result<i64> {
    match v {
        None | Some(Value::Nil) => Ok(0),
        Some(Value::Integer(i)) => Ok(*i),
        Some(Value::Number(n)) => Ok(*n as i64),
        Some(Value::String(s)) => match crate::util::number::parse_f64(s.as_bytes().as_ref()) {
            Some(n) => Ok(n as i64),
            None => raise(format!(
                "bad argument #{pos} to '{fname}' (number expected, got string)"
            )),
        },
        Some(other) => raise(format!(
            "bad argument #{pos} to '{fname}' (number expected, got {})",
            other.type_name()
        )),
    }
}

fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    // lua-cmsgpack's IS_INT64_EQUIVALENT
    if n.is_finite() && n == (n as i64) as f64 {
        return encode_int(n as i64, out);
    }
    if (n as f32) as f64 == n || n.is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_len(len: usize, small: u8, small_max: usize, ops: [u8; 3], out: &mut Vec<u8>) {
    if len <= small_max {
        out.push(small | len as u8);
    } else if ops[0] != 0 && len <= 0xff {
        out.extend_from_slice(&[ops[0], len as u8]);
    } else if len <= 0xffff {
        out.push(ops[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(ops[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// The table's number of keys, and `Some(n)` when they are exactly the
/// integers 1..n (an array).
fn shape(t: &Table) -> mlua::Result<(usize, Option<usize>)> {
    let (mut count, mut max, mut array) = (0usize, 0usize, true);
    for kv in t.clone().pairs::<Value, Value>() {
        let (k, _) = kv?;
        count += 1;
        let n = match k {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => {
                array = false;
                continue;
            }
        };
        if n <= 0.0 || n != (n as i64) as f64 {
            array = false;
        } else {
            max = max.max(n as usize);
        }
    }
    Ok((count, (array && count == max).then_some(max)))
}

fn encode(v: &Value, out: &mut Vec<u8>, level: usize) -> mlua::Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_int(*i, out),
        Value::Number(n) => encode_number(*n, out),
        Value::String(s) => {
            let b = s.as_bytes();
            encode_len(b.len(), 0xa0, 31, [0xd9, 0xda, 0xdb], out);
            out.extend_from_slice(&b);
        }
        // values are visited one at a time: each held value takes a slot
        // of Lua's (small) reference stack
        Value::Table(t) if level < MAX_NESTING => match shape(t)? {
            (_, Some(n)) => {
                encode_len(n, 0x90, 15, [0, 0xdc, 0xdd], out);
                for i in 1..=n {
                    encode(&t.raw_get::<Value>(i)?, out, level + 1)?;
                }
            }
            (count, None) => {
                encode_len(count, 0x80, 15, [0, 0xde, 0xdf], out);
                for kv in t.clone().pairs::<Value, Value>() {
                    let (k, v) = kv?;
                    encode(&k, out, level + 1)?;
                    encode(&v, out, level + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

enum Kind {
    Str,
    Array,
    Map,
}

/// Why decoding stopped (lua-cmsgpack's MP_CUR_ERROR_*).
enum Bad {
    Eof,
    Format,
}

struct Cur<'a> {
    s: &'a [u8],
    i: usize,
    /// Tables being decoded: bounded, so hostile input cannot exhaust the
    /// native stack (lua-cmsgpack fails on Lua's C stack limit instead).
    depth: usize,
}

const MAX_DECODE_DEPTH: usize = 1000;

impl Cur<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Bad> {
        let end = self
            .i
            .checked_add(n)
            .filter(|&e| e <= self.s.len())
            .ok_or(Bad::Eof)?;
        let b = &self.s[self.i..end];
        self.i = end;
        Ok(b)
    }

    fn be(&mut self, n: usize) -> Result<u64, Bad> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> Result<Value, Bad> {
        let t = self.take(1)?[0];
        let num = |n: f64| Ok(Value::Number(n));
        match t {
            0x00..=0x7f => num(t as f64),
            0x80..=0x8f => self.map(lua, (t & 0x0f) as usize),
            0x90..=0x9f => self.array(lua, (t & 0x0f) as usize),
            0xa0..=0xbf => self.string(lua, (t & 0x1f) as usize),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xc4 | 0xd9 => self.sized(lua, 1, Kind::Str),
            0xc5 | 0xda => self.sized(lua, 2, Kind::Str),
            0xc6 | 0xdb => self.sized(lua, 4, Kind::Str),
            0xca => num(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => num(f64::from_bits(self.be(8)?)),
            0xcc => num(self.be(1)? as f64),
            0xcd => num(self.be(2)? as f64),
            0xce => num(self.be(4)? as f64),
            0xcf => num(self.be(8)? as f64),
            0xd0 => num(self.be(1)? as u8 as i8 as f64),
            0xd1 => num(self.be(2)? as u16 as i16 as f64),
            0xd2 => num(self.be(4)? as u32 as i32 as f64),
            0xd3 => num(self.be(8)? as i64 as f64),
            0xdc => self.sized(lua, 2, Kind::Array),
            0xdd => self.sized(lua, 4, Kind::Array),
            0xde => self.sized(lua, 2, Kind::Map),
            0xdf => self.sized(lua, 4, Kind::Map),
            0xe0..=0xff => num(t as i8 as f64),
            _ => Err(Bad::Format),
        }
    }

    /// A string, array or map whose length takes `width` bytes.
    fn sized(&mut self, lua: &Lua, width: usize, kind: Kind) -> Result<Value, Bad> {
        let n = self.be(width)? as usize;
        match kind {
            Kind::Str => self.string(lua, n),
            Kind::Array => self.array(lua, n),
            Kind::Map => self.map(lua, n),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> Result<Value, Bad> {
        let b = self.take(n)?;
        lua.create_string(b)
            .map(Value::String)
            .map_err(|_| Bad::Format)
    }

    fn array(&mut self, lua: &Lua, n: usize) -> Result<Value, Bad> {
        self.depth += 1;
        if self.depth > MAX_DECODE_DEPTH {
            return Err(Bad::Format);
        }
        // never trust a length for an allocation: each element takes a byte
        let t = lua
            .create_table_with_capacity(n.min(self.s.len() - self.i), 0)
            .map_err(|_| Bad::Format)?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v).map_err(|_| Bad::Format)?;
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> Result<Value, Bad> {
        self.depth += 1;
        if self.depth > MAX_DECODE_DEPTH {
            return Err(Bad::Format);
        }
        let t = lua.create_table().map_err(|_| Bad::Format)?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            // a nil key cannot be stored (lua_rawset would fail): dropped
            if !k.is_nil() && !matches!(k, Value::Number(n) if n.is_nan()) {
                t.raw_set(k, v).map_err(|_| Bad::Format)?;
            }
        }
        self.depth -= 1;
        Ok(Value::Table(t))
    }
}

/// lua-cmsgpack's `mp_unpack_full`: with `limit` and `offset` both 0
/// every object; otherwise up to `limit` objects (0: all) from `offset`,
/// preceded by the offset to continue from (-1 at the end).
fn unpack(lua: &Lua, s: &[u8], limit: i64, offset: i64) -> mlua::Result<mlua::MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // (lua-cmsgpack prints the input's length as the limit)
        return raise(format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            s.len()
        ));
    }
    if offset as u64 > s.len() as u64 {
        return raise(format!(
            "Start offset {offset} greater than input length {}.",
            s.len()
        ));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let mut cur = Cur {
        s,
        i: offset as usize,
        depth: 0,
    };
    let mut out = Vec::new();
    while cur.i < s.len() && (out.len() as i64) < limit {
        match cur.value(lua) {
            Ok(v) => out.push(v),
            Err(Bad::Eof) => return raise("Missing bytes in input."),
            Err(Bad::Format) => return raise("Bad data format in input."),
        }
    }
    if !decode_all {
        let next = if cur.i >= s.len() { -1 } else { cur.i as i64 };
        out.insert(0, Value::Integer(next));
    }
    Ok(mlua::MultiValue::from_vec(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(v: Value) -> String {
        let mut out = Vec::new();
        encode(&v, &mut out, 0).unwrap();
        out.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn numbers_encode_as_lua_cmsgpack() {
        assert_eq!(hex(Value::Number(0.1)), "cb3fb999999999999a");
        assert_eq!(hex(Value::Number(-1099511627776.0)), "d3ffffff0000000000");
        assert_eq!(hex(Value::Number(1.5)), "ca3fc00000");
        assert_eq!(hex(Value::Integer(-1)), "ff");
        assert_eq!(hex(Value::Integer(-33)), "d0df");
        assert_eq!(hex(Value::Integer(200)), "ccc8");
        assert_eq!(hex(Value::Integer(70000)), "ce00011170");
    }
}
