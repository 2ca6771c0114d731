//! RESP ↔ Lua conversions, as Redis documents them ("Data type conversion"
//! in the EVAL docs), for RESP2 and RESP3 (`redis.setresp(3)`).

use mlua::{Lua, Table, Value};

use crate::reply::Reply;

/// Nested tables deeper than this are refused (a table holding itself).
const MAX_DEPTH: usize = 1000;

/// Lua's `tostring` of a number (`%.14g`).
pub(crate) fn lua_number_text(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    crate::util::number::fmt_g(n, 14)
}

/// A value as `tostring` shows it, for error messages.
pub(crate) fn display(lua: &Lua, v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(i) => i.to_string(),
        Value::Number(n) => lua_number_text(*n),
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Error(e) => super::libs::error_text(e),
        other => lua
            .globals()
            .get::<mlua::Function>("tostring")
            .and_then(|f| f.call::<String>(other.clone()))
            .unwrap_or_else(|_| other.type_name().to_string()),
    }
}

fn str_of(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

fn tagged(lua: &Lua, tag: &str, v: Value) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set(tag, v)?;
    Ok(Value::Table(t))
}

/// A command's reply as the script sees it (`resp` = `redis.setresp`).
pub(crate) fn to_lua(lua: &Lua, r: &Reply, resp: u8) -> mlua::Result<Value> {
    Ok(match r {
        Reply::Int(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => str_of(lua, b)?,
        Reply::Simple(s) => tagged(lua, "ok", str_of(lua, s.as_bytes())?)?,
        Reply::Error(e) => tagged(lua, "err", str_of(lua, e.as_bytes())?)?,
        Reply::Nil | Reply::NilArray if resp == 3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) => seq(lua, items, resp)?,
        Reply::Set(items) if resp == 3 => {
            let t = lua.create_table()?;
            for it in items {
                t.raw_set(to_lua(lua, it, resp)?, true)?;
            }
            tagged(lua, "set", Value::Table(t))?
        }
        Reply::Set(items) => seq(lua, items, resp)?,
        Reply::Map(pairs) if resp == 3 => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(to_lua(lua, k, resp)?, to_lua(lua, v, resp)?)?;
            }
            tagged(lua, "map", Value::Table(t))?
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                t.raw_seti(2 * i + 1, to_lua(lua, k, resp)?)?;
                t.raw_seti(2 * i + 2, to_lua(lua, v, resp)?)?;
            }
            Value::Table(t)
        }
        Reply::Double(d) if resp == 3 => tagged(lua, "double", Value::Number(*d))?,
        Reply::Double(d) => str_of(lua, crate::reply::format_double(*d).as_bytes())?,
        Reply::Bool(b) if resp == 3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(*b as i64 as f64),
        Reply::BigNumber(n) if resp == 3 => tagged(lua, "big_number", str_of(lua, n.as_bytes())?)?,
        Reply::BigNumber(n) => str_of(lua, n.as_bytes())?,
        Reply::Verbatim(fmt, b) if resp == 3 => {
            let t = lua.create_table_with_capacity(0, 2)?;
            t.raw_set("format", *fmt)?;
            t.raw_set("string", lua.create_string(b)?)?;
            tagged(lua, "verbatim_string", Value::Table(t))?
        }
        Reply::Verbatim(_, b) => str_of(lua, b)?,
    })
}

fn seq(lua: &Lua, items: &[Reply], resp: u8) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, it) in items.iter().enumerate() {
        t.raw_seti(i + 1, to_lua(lua, it, resp)?)?;
    }
    Ok(Value::Table(t))
}

/// Booleans as a script that did not call `redis.setresp(3)` returns them
/// (Redis's rule, whatever the client's protocol): true is 1, false null.
pub(crate) fn resp2_booleans(r: Reply) -> Reply {
    match r {
        Reply::Bool(true) => Reply::Int(1),
        Reply::Bool(false) => Reply::Nil,
        Reply::Array(items) => Reply::Array(items.into_iter().map(resp2_booleans).collect()),
        r => r,
    }
}

/// A script's result as the client sees it (`client_resp`: the caller's
/// protocol, which decides how booleans answer).
pub(crate) fn from_lua(v: &Value, client_resp: u8, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Reply::bulk(s.as_bytes()),
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(*n as i64),
        Value::Boolean(true) => Reply::Bool(true),
        Value::Boolean(false) if client_resp == 3 => Reply::Bool(false),
        Value::Boolean(false) => Reply::Nil,
        Value::Table(t) => table_reply(t, client_resp, depth)
            .unwrap_or_else(|e| Reply::Error(format!("ERR {e}").replace(['\r', '\n'], " "))),
        _ => Reply::Nil,
    }
}

/// Redis reads a returned table's fields raw: a metatable (even `_G`'s)
/// never runs while the reply is built.
fn field(t: &Table, name: &str) -> mlua::Result<Value> {
    t.raw_get::<Value>(name)
}

fn table_reply(t: &Table, resp: u8, depth: usize) -> mlua::Result<Reply> {
    if let Value::String(e) = field(t, "err")? {
        let e = e.to_string_lossy();
        let e = e.strip_prefix('-').unwrap_or(&e);
        return Ok(Reply::Error(e.replace(['\r', '\n'], " ")));
    }
    if let Value::String(s) = field(t, "ok")? {
        return Ok(Reply::Simple(
            s.to_string_lossy().replace(['\r', '\n'], " "),
        ));
    }
    match field(t, "double")? {
        Value::Number(n) => return Ok(Reply::Double(n)),
        Value::Integer(i) => return Ok(Reply::Double(i as f64)),
        _ => {}
    }
    if let Value::String(s) = field(t, "big_number")? {
        return Ok(Reply::BigNumber(
            s.to_string_lossy().replace(['\r', '\n'], " "),
        ));
    }
    if let Value::Table(m) = field(t, "map")? {
        let mut pairs = Vec::new();
        for kv in m.pairs::<Value, Value>() {
            let (k, v) = kv?;
            pairs.push((from_lua(&k, resp, depth + 1), from_lua(&v, resp, depth + 1)));
        }
        return Ok(Reply::Map(pairs));
    }
    if let Value::Table(s) = field(t, "set")? {
        let mut items = Vec::new();
        for kv in s.pairs::<Value, Value>() {
            let (k, _) = kv?;
            items.push(from_lua(&k, resp, depth + 1));
        }
        return Ok(Reply::Set(items));
    }
    if let Value::Table(v) = field(t, "verbatim_string")?
        && let (Value::String(f), Value::String(s)) = (field(&v, "format")?, field(&v, "string")?)
    {
        let fmt: &'static str = match &*f.as_bytes() {
            b"mkd" => "mkd",
            _ => "txt",
        };
        return Ok(Reply::Verbatim(fmt, s.as_bytes().to_vec()));
    }
    // an array: elements 1, 2, … up to the first nil
    let mut items = Vec::new();
    for i in 1.. {
        let v: Value = t.raw_get(i)?;
        if v.is_nil() {
            break;
        }
        items.push(from_lua(&v, resp, depth + 1));
    }
    Ok(Reply::Array(items))
}
