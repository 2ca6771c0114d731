//! `cjson`: `encode`, `decode` and `null` with lua-cjson 2.1's output
//! (numbers `%.14g`, `/` escaped, empty tables as `{}`, arrays detected by
//! positive integer keys, sparse arrays padded with `null` up to the limit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use mlua::{Lua, Table, Value, Variadic};

use super::convert::lua_number_text;
use super::libs::{null, raise_at as raise};

const MAX_DEPTH: usize = 1000;
/// lua-cjson's `encode_sparse_array` defaults: ratio 2, safe 10.
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

/// lua-cjson's settings a script may change (they last as long as the VM,
/// as in Redis).
struct Cfg {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    invalid_numbers: AtomicBool,
}

/// `cjson.encode_max_depth(n)` and its siblings: set when given a value,
/// the setting returned.
fn setting(
    lua: &Lua,
    name: &'static str,
    cfg: Arc<Cfg>,
    pick: fn(&Cfg) -> &AtomicUsize,
) -> mlua::Result<mlua::Function> {
    lua.create_function(move |_, a: Variadic<Value>| {
        if let Some(v) = a.first() {
            let n = match v {
                Value::Integer(i) if *i >= 1 => *i as usize,
                Value::Number(n) if *n >= 1.0 => *n as usize,
                _ => {
                    return raise(format!(
                        "bad argument #1 to '{name}' (expected integer between 1 and 2147483647)"
                    ));
                }
            };
            pick(&cfg).store(n, Ordering::Relaxed);
        }
        Ok(pick(&cfg).load(Ordering::Relaxed) as i64)
    })
}

pub(crate) fn lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg = Arc::new(Cfg {
        encode_max_depth: AtomicUsize::new(MAX_DEPTH),
        decode_max_depth: AtomicUsize::new(MAX_DEPTH),
        invalid_numbers: AtomicBool::new(false),
    });
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, a: Variadic<Value>| {
            if a.len() != 1 {
                return raise("bad argument #1 to 'encode' (expected 1 argument)");
            }
            let mut out = Vec::new();
            encode(&a[0], &mut out, 0, &c)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "encode_max_depth",
        setting(lua, "encode_max_depth", cfg.clone(), |c| {
            &c.encode_max_depth
        })?,
    )?;
    t.raw_set(
        "decode_max_depth",
        setting(lua, "decode_max_depth", cfg.clone(), |c| {
            &c.decode_max_depth
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |_, a: Variadic<Value>| {
            let cfg = &c;
            if let Some(v) = a.first() {
                let on = !matches!(v, Value::Boolean(false) | Value::Nil)
                    && !matches!(v, Value::String(s) if &*s.as_bytes() == b"off");
                cfg.invalid_numbers.store(on, Ordering::Relaxed);
            }
            Ok(cfg.invalid_numbers.load(Ordering::Relaxed))
        })?,
    )?;
    // lua-cjson reuses its buffer or not: nothing to set here
    t.raw_set(
        "encode_keep_buffer",
        lua.create_function(|_, a: Variadic<Value>| {
            Ok(!matches!(a.first(), Some(Value::Boolean(false))))
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(move |lua, a: Variadic<Value>| {
            let s = match a.first() {
                Some(Value::String(s)) if a.len() == 1 => s.as_bytes().to_vec(),
                _ => return raise("bad argument #1 to 'decode' (expected 1 argument)"),
            };
            let max_depth = cfg.decode_max_depth.load(Ordering::Relaxed);
            let mut p = Parser {
                s: &s,
                i: 0,
                lua,
                max_depth,
            };
            p.ws();
            let v = p.value(0)?;
            p.ws();
            if p.i < s.len() {
                return p.fail("the end");
            }
            Ok(v)
        })?,
    )?;
    t.raw_set("null", null())?;
    Ok(t)
}

fn encode(v: &Value, out: &mut Vec<u8>, depth: usize, cfg: &Cfg) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() {
                if !cfg.invalid_numbers.load(Ordering::Relaxed) {
                    return raise("Cannot serialise number: must not be NaN or Inf");
                }
                out.extend_from_slice(match *n {
                    n if n.is_nan() => b"nan".as_slice(),
                    n if n > 0.0 => b"inf",
                    _ => b"-inf",
                });
                return Ok(());
            }
            out.extend_from_slice(lua_number_text(*n).as_bytes());
        }
        Value::String(s) => string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= cfg.encode_max_depth.load(Ordering::Relaxed) {
                return raise(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            match array_len(t)? {
                Some(n) => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode(&t.raw_get::<Value>(i)?, out, depth + 1, cfg)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for kv in t.pairs::<Value, Value>() {
                        let (k, v) = kv?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => string(&s.as_bytes(), out),
                            Value::Integer(i) => string(i.to_string().as_bytes(), out),
                            Value::Number(n) => string(lua_number_text(*n).as_bytes(), out),
                            _ => {
                                return raise(
                                    "Cannot serialise table: table key must be a number or string",
                                );
                            }
                        }
                        out.push(b':');
                        encode(&v, out, depth + 1, cfg)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return raise(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ));
        }
    }
    Ok(())
}

/// Some(length) when every key is a positive integer (lua-cjson's rule;
/// an empty table is an object).
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for kv in t.pairs::<Value, Value>() {
        let (k, _) = kv?;
        let n = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(n);
        items += 1;
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return raise("Cannot serialise table: excessively sparse array");
    }
    Ok((max > 0).then_some(max))
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
    max_depth: usize,
}

impl Parser<'_> {
    fn fail<T>(&self, expected: &str) -> mlua::Result<T> {
        // lua-cjson names the token it found
        let found = match self.s.get(self.i) {
            None => "T_END",
            Some(b'{') => "T_OBJ_BEGIN",
            Some(b'}') => "T_OBJ_END",
            Some(b'[') => "T_ARR_BEGIN",
            Some(b']') => "T_ARR_END",
            Some(b'"') => "T_STRING",
            Some(b'-' | b'0'..=b'9') => "T_NUMBER",
            Some(b't' | b'f') => "T_BOOLEAN",
            Some(b'n') => "T_NULL",
            Some(b':') => "T_COLON",
            Some(b',') => "T_COMMA",
            Some(_) => "invalid token",
        };
        raise(format!(
            "Expected {expected} but found {found} at character {}",
            self.i + 1
        ))
    }

    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        if depth >= self.max_depth {
            return raise(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.i + 1
            ));
        }
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let t = self.lua.create_table()?;
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return self.fail("object key string");
                    }
                    let k = self.lua.create_string(self.string()?)?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b':') {
                        return self.fail("colon");
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    t.raw_set(k, v)?;
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.fail("comma or object end"),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let t = self.lua.create_table()?;
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Table(t));
                }
                let mut n = 1;
                loop {
                    self.ws();
                    let v = self.value(depth + 1)?;
                    t.raw_seti(n, v)?;
                    n += 1;
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.fail("comma or array end"),
                    }
                }
            }
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(null())
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while self
                    .s
                    .get(self.i)
                    .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    self.i += 1;
                }
                match crate::util::number::parse_f64(&self.s[start..self.i]) {
                    Some(n) => Ok(Value::Number(n)),
                    None => {
                        self.i = start;
                        self.fail("value")
                    }
                }
            }
            _ => self.fail("value"),
        }
    }

    /// A string token (at its opening quote), unescaped.
    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else {
                return self.fail("string end");
            };
            self.i += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return self.fail("escape");
                    };
                    self.i += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                                }
                            }
                            let ch = char::from_u32(c).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.i -= 2;
                            return self.fail("valid escape code");
                        }
                    }
                }
                _ => out.push(b),
            }
        }
    }

    fn hex4(&mut self) -> mlua::Result<u32> {
        let h = self.s.get(self.i..self.i + 4);
        match h
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
        {
            Some(c) => {
                self.i += 4;
                Ok(c)
            }
            None => self.fail("unicode escape"),
        }
    }
}
