//! `bit`: LuaBitOp's functions, on 32-bit integers as LuaBitOp normalises
//! numbers (rounded, taken modulo 2^32, signed results).

use mlua::{Lua, Table, Value, Variadic};

use super::libs::raise_at as raise;

fn tobit(v: Option<&Value>, pos: usize, name: &str) -> mlua::Result<i32> {
    let n = match v {
        Some(Value::Integer(i)) => *i as f64,
        Some(Value::Number(n)) => *n,
        Some(Value::String(s)) => match crate::util::number::parse_f64(&s.as_bytes()) {
            Some(n) => n,
            None => {
                return raise(format!(
                    "bad argument #{pos} to '{name}' (number expected, got string)"
                ));
            }
        },
        other => {
            return raise(format!(
                "bad argument #{pos} to '{name}' (number expected, got {})",
                other.map_or("no value", |v| v.type_name())
            ));
        }
    };
    // LuaBitOp adds 2^52 + 2^51 and keeps the low 32 bits: round half to even
    let r = n.round_ties_even();
    Ok(r.rem_euclid(4_294_967_296.0) as u64 as u32 as i32)
}

fn fold(lua: &Lua, t: &Table, name: &'static str, op: fn(i32, i32) -> i32) -> mlua::Result<()> {
    t.raw_set(
        name,
        lua.create_function(move |_, a: Variadic<Value>| {
            let mut acc = tobit(a.first(), 1, name)?;
            for (i, v) in a.iter().enumerate().skip(1) {
                acc = op(acc, tobit(Some(v), i + 1, name)?);
            }
            Ok(acc as f64)
        })?,
    )
}

fn shift(lua: &Lua, t: &Table, name: &'static str, op: fn(i32, u32) -> i32) -> mlua::Result<()> {
    t.raw_set(
        name,
        lua.create_function(move |_, a: Variadic<Value>| {
            let x = tobit(a.first(), 1, name)?;
            let n = tobit(a.get(1), 2, name)? as u32 & 31;
            Ok(op(x, n) as f64)
        })?,
    )
}

pub(crate) fn lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, a: Variadic<Value>| Ok(tobit(a.first(), 1, "tobit")? as f64))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, a: Variadic<Value>| Ok(!tobit(a.first(), 1, "bnot")? as f64))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, a: Variadic<Value>| {
            Ok(tobit(a.first(), 1, "bswap")?.swap_bytes() as f64)
        })?,
    )?;
    fold(lua, &t, "band", |a, b| a & b)?;
    fold(lua, &t, "bor", |a, b| a | b)?;
    fold(lua, &t, "bxor", |a, b| a ^ b)?;
    shift(lua, &t, "lshift", |x, n| ((x as u32) << n) as i32)?;
    shift(lua, &t, "rshift", |x, n| ((x as u32) >> n) as i32)?;
    shift(lua, &t, "arshift", |x, n| x >> n)?;
    shift(lua, &t, "rol", |x, n| (x as u32).rotate_left(n) as i32)?;
    shift(lua, &t, "ror", |x, n| (x as u32).rotate_right(n) as i32)?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, a: Variadic<Value>| {
            let x = tobit(a.first(), 1, "tohex")? as u32;
            let mut n = match a.get(1) {
                None | Some(Value::Nil) => 8,
                v => tobit(v, 2, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                n = n.saturating_neg();
            }
            let n = n.clamp(0, 8) as usize;
            let full = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(full[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}
