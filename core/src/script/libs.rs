//! The Rust side of the sandbox: the `redis` helpers, Redis's deterministic
//! `math.random`, `cjson`, `bit`, `loadstring`/`load`, and the error handler
//! that records where a script failed. Each function raises a `ScriptError`
//! carrying the exact text Redis gives (the handler unwraps it).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use mlua::{LightUserData, Lua, MultiValue, Table, Value, Variadic};

use super::convert::{display, lua_number_text};

/// The registry key of the scripts' environment (for `loadstring`).
pub(crate) const ENV_KEY: &str = "emberkv.env";

/// The registry key of the map from read-only proxies to their tables.
pub(crate) const PROXIES_KEY: &str = "emberkv.proxies";

/// An error raised to a script. `at`: raised as Lua's C libraries raise
/// (`luaL_error`: the caller's position first, then the message, which
/// has no code); otherwise the exact text, code included, as Redis's
/// own functions raise their error tables.
#[derive(Debug)]
pub(crate) struct ScriptError {
    msg: String,
    at: bool,
    /// Already in INFO errorstats (a failed or refused `redis.call`): the
    /// handler marks its table so the script's reply does not count it again.
    counted: bool,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ScriptError {}

/// Raises `msg` as it is (code included).
pub(crate) fn raise<T>(msg: impl Into<String>) -> mlua::Result<T> {
    Err(mlua::Error::external(ScriptError {
        msg: msg.into(),
        at: false,
        counted: false,
    }))
}

/// Raises a `redis.call` error that INFO errorstats already counted.
pub(crate) fn raise_counted<T>(msg: String) -> mlua::Result<T> {
    Err(mlua::Error::external(ScriptError {
        msg,
        at: false,
        counted: true,
    }))
}

/// The field Redis sets in the error table of a `redis.call` /
/// `redis.pcall` error already counted in INFO errorstats.
pub(crate) const COUNTED_FIELD: &str = "ignore_error_stats_update";

/// Raises `msg` after the calling script's position, as `luaL_error`.
pub(crate) fn raise_at<T>(msg: impl Into<String>) -> mlua::Result<T> {
    Err(mlua::Error::external(ScriptError {
        msg: msg.into(),
        at: true,
        counted: false,
    }))
}

/// The innermost ScriptError of an mlua error.
fn script_error(e: &mlua::Error) -> Option<&ScriptError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::ExternalError(x) => x.downcast_ref::<ScriptError>(),
        _ => None,
    }
}

/// The error text of an error a Lua function raised through mlua;
/// `at` is the raising script's "chunk:line" for `luaL_error`-style errors.
pub(crate) fn error_text_at(e: &mlua::Error, at: Option<&str>) -> String {
    match (script_error(e), e) {
        (Some(s), _) if s.at => match at {
            Some(at) => format!("ERR {at}: {}", s.msg),
            None => format!("ERR {}", s.msg),
        },
        (Some(s), _) => s.msg.clone(),
        (None, mlua::Error::CallbackError { cause, .. }) => error_text_at(cause, at),
        (None, mlua::Error::RuntimeError(s)) => format!("ERR {s}"),
        (None, e) => format!("ERR {e}"),
    }
}

pub(crate) fn error_text(e: &mlua::Error) -> String {
    error_text_at(e, None)
}

/// Redis's rand48 (`redisLrand48`), seeded with 0 when the VM starts.
struct Rand48(AtomicU64);

impl Rand48 {
    fn seed(&self, s: i32) {
        self.0.store(
            (((s as u32 as u64) << 16) | 0x330E) & ((1 << 48) - 1),
            Ordering::Relaxed,
        );
    }
    fn next(&self) -> i32 {
        let x = self.0.load(Ordering::Relaxed);
        let x = (x.wrapping_mul(0x5DEECE66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        self.0.store(x, Ordering::Relaxed);
        (x >> 17) as i32
    }
}

fn num(v: Option<&Value>, pos: usize, fname: &str) -> mlua::Result<f64> {
    match v {
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(Value::String(s)) => match crate::util::number::parse_f64(s.as_bytes().as_ref()) {
            Some(n) => Ok(n),
            None => raise_at(format!(
                "bad argument #{pos} to '{fname}' (number expected, got string)"
            )),
        },
        other => raise_at(format!(
            "bad argument #{pos} to '{fname}' (number expected, got {})",
            other.map_or("no value", |v| v.type_name())
        )),
    }
}

/// The prelude's private table `P`.
pub(crate) fn private_table(
    lua: &Lua,
    resp: Arc<AtomicU8>,
    run: Arc<super::RunState>,
) -> mlua::Result<Table> {
    let p = lua.create_table()?;
    p.raw_set("version", crate::REDIS_VERSION)?;
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|x| x.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    p.raw_set("version_num", (a << 16) | (b << 8) | c)?;
    p.raw_set("redis", redis_lib(lua, resp)?)?;
    p.raw_set("math", math_lib(lua)?)?;
    p.raw_set("cjson", super::cjson::lib(lua)?)?;
    p.raw_set("bit", super::bit::lib(lua)?)?;
    p.raw_set("cmsgpack", super::cmsgpack::lib(lua)?)?;
    p.raw_set("load", load_lib(lua)?)?;
    p.raw_set("handler", lua.create_function(handler)?)?;
    p.raw_set("guard", guard_lib(lua)?)?;
    p.raw_set(
        "as_lua_error",
        lua.create_function(move |lua, v: Value| {
            // SCRIPT KILL cannot be caught: raised again past every pcall
            if run.killed() {
                return Err(mlua::Error::RuntimeError(super::KILLED.into()));
            }
            let Value::Error(e) = &v else { return Ok(v) };
            // Redis's pcall sees the message (a `luaL_error` one without a
            // position: its caller, pcall, is a C function)
            Ok(match script_error(e) {
                Some(s) => Value::String(lua.create_string(&s.msg)?),
                None => v,
            })
        })?,
    )?;
    Ok(p)
}

fn redis_lib(lua: &Lua, resp: Arc<AtomicU8>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|_, a: Variadic<Value>| {
            if a.len() != 1 {
                return raise("ERR wrong number of arguments");
            }
            let bytes = match &a[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(i) => i.to_string().into_bytes(),
                Value::Number(n) => lua_number_text(*n).into_bytes(),
                _ => Vec::new(),
            };
            Ok(super::sha1_hex(&bytes))
        })?,
    )?;
    t.raw_set(
        "log",
        lua.create_function(|_, a: Variadic<Value>| {
            if a.len() < 2 {
                return raise("ERR redis.log() requires two arguments or more.");
            }
            let level = match &a[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => return raise("ERR First argument must be a number"),
            };
            if !(0..=3).contains(&level) {
                return raise("ERR Invalid debug level.");
            }
            // an embedded engine has no server log: accepted and dropped
            Ok(())
        })?,
    )?;
    t.raw_set(
        "setresp",
        lua.create_function(move |_, a: Variadic<Value>| {
            if a.len() != 1 {
                return raise("ERR redis.setresp() requires one argument.");
            }
            let v = match &a[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => 0,
            };
            if v != 2 && v != 3 {
                return raise("ERR RESP version must be 2 or 3.");
            }
            resp.store(v as u8, Ordering::Relaxed);
            Ok(())
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|_, a: Variadic<Value>| {
            if a.len() != 1 {
                return raise("ERR redis.set_repl() requires one argument.");
            }
            let v = match &a[0] {
                Value::Integer(i) => *i,
                Value::Number(n) => *n as i64,
                _ => -1,
            };
            if !(0..=3).contains(&v) {
                return raise(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            // accepted: the script's writes are always logged (see the module docs)
            Ok(())
        })?,
    )?;
    Ok(t)
}

fn math_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let rng = Arc::new(Rand48(AtomicU64::new(0)));
    rng.seed(0);
    let r = rng.clone();
    t.raw_set(
        "random",
        lua.create_function(move |_, a: Variadic<Value>| {
            const MAX: i32 = i32::MAX;
            let x = (r.next() % MAX) as f64 / MAX as f64;
            match a.len() {
                0 => Ok(x),
                1 => {
                    let u = num(a.first(), 1, "random")?.floor();
                    if u < 1.0 {
                        return raise_at("bad argument #1 to 'random' (interval is empty)");
                    }
                    Ok((x * u).floor() + 1.0)
                }
                2 => {
                    let l = num(a.first(), 1, "random")?.floor();
                    let u = num(a.get(1), 2, "random")?.floor();
                    if l > u {
                        return raise_at("bad argument #2 to 'random' (interval is empty)");
                    }
                    Ok((x * (u - l + 1.0)).floor() + l)
                }
                _ => raise_at("wrong number of arguments"),
            }
        })?,
    )?;
    t.raw_set(
        "randomseed",
        lua.create_function(move |_, a: Variadic<Value>| {
            let s = num(a.first(), 1, "randomseed")?;
            rng.seed(s as i64 as i32);
            Ok(())
        })?,
    )?;
    Ok(t)
}

/// `rawset` and `setmetatable`, refusing the read-only proxies.
fn guard_lib(lua: &Lua) -> mlua::Result<Table> {
    fn protected(lua: &Lua, t: &Value) -> mlua::Result<bool> {
        let proxies: Table = lua.named_registry_value(PROXIES_KEY)?;
        Ok(!proxies.raw_get::<Value>(t)?.is_nil())
    }
    let t = lua.create_table()?;
    t.raw_set(
        "rawset",
        lua.create_function(|lua, (t, k, v): (Value, Value, Value)| {
            let Value::Table(tab) = &t else {
                return raise_at(format!(
                    "bad argument #1 to 'rawset' (table expected, got {})",
                    t.type_name()
                ));
            };
            if protected(lua, &t)? {
                return raise("ERR Attempt to modify a readonly table");
            }
            tab.raw_set(k, v)?;
            Ok(t)
        })?,
    )?;
    let setmt: mlua::Function = lua.globals().get("setmetatable")?;
    t.raw_set(
        "setmetatable",
        lua.create_function(move |lua, (t, mt): (Value, Value)| {
            if protected(lua, &t)? {
                return raise("ERR Attempt to modify a readonly table");
            }
            match setmt.call::<Value>((t, mt)) {
                Ok(v) => Ok(v),
                Err(e) => raise_at(match script_error(&e) {
                    Some(s) => s.msg.clone(),
                    None => match e {
                        mlua::Error::CallbackError { cause, .. } => cause.to_string(),
                        e => e.to_string(),
                    },
                }),
            }
        })?,
    )?;
    Ok(t)
}

/// `loadstring` / `load` compile into the scripts' environment.
fn load_lib(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    fn compile(lua: &Lua, code: &[u8], name: Option<String>) -> mlua::Result<MultiValue> {
        let env: Table = lua.named_registry_value(ENV_KEY)?;
        // Lua's default chunk name is the code itself
        let name = name.unwrap_or_else(|| String::from_utf8_lossy(code).into_owned());
        match lua
            .load(code)
            .set_name(name)
            .set_environment(env)
            .into_function()
        {
            Ok(f) => Ok(MultiValue::from_vec(vec![Value::Function(f)])),
            Err(e) => {
                let msg = match e {
                    mlua::Error::SyntaxError { message, .. } => message,
                    e => e.to_string(),
                };
                Ok(MultiValue::from_vec(vec![
                    Value::Nil,
                    Value::String(lua.create_string(msg)?),
                ]))
            }
        }
    }
    t.raw_set(
        "loadstring",
        lua.create_function(|lua, (code, name): (Value, Option<String>)| match code {
            Value::String(s) => compile(lua, &s.as_bytes(), name),
            other => raise_at(format!(
                "bad argument #1 to 'loadstring' (string expected, got {})",
                other.type_name()
            )),
        })?,
    )?;
    t.raw_set(
        "load",
        lua.create_function(|lua, (src, name): (Value, Option<String>)| {
            let code = match src {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Function(f) => {
                    // the reader form: concatenate the pieces until nil or ""
                    let mut code = Vec::new();
                    loop {
                        match f.call::<Value>(())? {
                            Value::String(s) if !s.as_bytes().is_empty() => {
                                code.extend_from_slice(&s.as_bytes())
                            }
                            _ => break,
                        }
                    }
                    code
                }
                other => {
                    return raise_at(format!(
                        "bad argument #1 to 'load' (function expected, got {})",
                        other.type_name()
                    ));
                }
            };
            compile(lua, &code, name.or_else(|| Some("=(load)".into())))
        })?,
    )?;
    Ok(t)
}

/// The `xpcall` message handler: turns any error into Redis's error table
/// `{err=…, source=…, line=…}`, the position being the innermost frame of
/// the script (C functions and the prelude's frames skipped).
fn handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let mut at = None;
    for level in 1..256 {
        let Some((what, src, short, line)) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (
                s.what,
                s.source.map(|c| c.into_owned()),
                s.short_src.map(|c| c.into_owned()),
                d.current_line(),
            )
        }) else {
            break;
        };
        if what != "C" && src.as_deref() != Some("=emberkv") {
            at = Some((src, short, line));
            break;
        }
    }
    let t = match err {
        Value::Table(t) => t,
        Value::Error(e) => {
            let pos = at
                .as_ref()
                .and_then(|(_, short, line)| Some(format!("{}:{}", short.as_deref()?, (*line)?)));
            let t = lua.create_table()?;
            t.raw_set("err", error_text_at(&e, pos.as_deref()))?;
            if script_error(&e).is_some_and(|s| s.counted) {
                t.raw_set(COUNTED_FIELD, true)?;
            }
            t
        }
        other => {
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {}", display(lua, &other)))?;
            t
        }
    };
    if let Some((src, _, line)) = at {
        if let Some(src) = src {
            t.raw_set("source", src)?;
        }
        if let Some(line) = line {
            t.raw_set("line", line as i64)?;
        }
    }
    Ok(t)
}

/// `cjson.null`.
pub(crate) fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}
