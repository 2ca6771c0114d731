//! Hash commands: HSET and friends, reads, counters, HRANDFIELD, HSCAN.
//!
//! Argument parsing mirrors Redis's order (which argument is checked
//! before the key is looked up), because it decides which error a bad
//! call gets.

use hashbrown::HashSet;

use super::flag::*;
use super::keys::parse_scan_opts;
use super::{CommandSpec, Ctx, err};
use crate::config::Tun;
use crate::notify;
use crate::reply::Reply;
use crate::types::{HashValue, Value};
use crate::util::glob::glob_match;
use crate::util::number::{FloatIncrError, i64_bytes, incr_by_float, parse_i64};
use crate::util::rng::random_below;

type R = Result<Reply, Reply>;

/// Most repeated draws one HRANDFIELD with a negative count may ask for.
const MAX_DRAWS: i64 = 1 << 24;

const fn cmd(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (1, 1, 1), "hash", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("hset", -4, WRITE | DENYOOM | FAST, hset),
    cmd("hmset", -4, WRITE | DENYOOM | FAST, hmset),
    cmd("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx),
    cmd("hget", 3, READONLY | FAST, hget),
    cmd("hmget", -3, READONLY | FAST, hmget),
    cmd("hdel", -3, WRITE | FAST, hdel),
    cmd("hexists", 3, READONLY | FAST, hexists),
    cmd("hlen", 2, READONLY | FAST, hlen),
    cmd("hstrlen", 3, READONLY | FAST, hstrlen),
    cmd("hkeys", 2, READONLY, hkeys),
    cmd("hvals", 2, READONLY, hvals),
    cmd("hgetall", 2, READONLY, hgetall),
    cmd("hincrby", 4, WRITE | DENYOOM | FAST, hincrby),
    cmd("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat),
    cmd("hrandfield", -2, READONLY, hrandfield),
    cmd("hscan", -3, READONLY, hscan),
];

// ----- shared helpers -----

/// The hash under `key` for reading: Ok(None) if missing, WRONGTYPE if not a hash.
pub(crate) fn hash<'c>(ctx: &'c Ctx, key: &[u8]) -> Result<Option<&'c HashValue>, Reply> {
    ctx.typed(key)
}

/// The hash under `key` for writing.
pub(crate) fn hash_mut<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut HashValue>, Reply> {
    ctx.typed_mut(key)
}

/// Runs `f` on the hash under `key`, creating it when missing (Redis's
/// `hashTypeLookupWriteOrCreate`); a hash left empty is not stored. The
/// caller tells WATCH (`ctx.touch`) when it changed something.
fn with_hash<T>(
    ctx: &mut Ctx,
    key: &[u8],
    f: impl FnOnce(&mut HashValue) -> Result<T, Reply>,
) -> Result<T, Reply> {
    match ctx.lookup_mut(key) {
        Some(Value::Hash(h)) => f(h),
        Some(_) => Err(err::wrongtype()),
        None => {
            let mut h = Box::new(HashValue::new());
            let r = f(&mut h)?;
            if !h.is_empty() {
                ctx.set(key, Value::Hash(h));
            }
            Ok(r)
        }
    }
}

/// (hash-max-listpack-entries, hash-max-listpack-value)
fn limits(ctx: &Ctx) -> (usize, usize) {
    let p = &ctx.eng.params;
    (
        p.tun(Tun::HashMaxListpackEntries).max(0) as usize,
        p.tun(Tun::HashMaxListpackValue).max(0) as usize,
    )
}

// ----- writes -----

/// Sets the field/value pairs in `a[2..]`; the number of new fields.
fn set_pairs(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (max_entries, max_value) = limits(ctx);
    let key = a[1];
    let pairs = &a[2..];
    let created = with_hash(ctx, key, |h| {
        Ok(pairs
            .chunks_exact(2)
            .filter(|p| h.set(p[0], p[1], max_entries, max_value))
            .count())
    })?;
    ctx.touch(key);
    ctx.notify(notify::HASH, "hset", key);
    ctx.dirty += (pairs.len() / 2) as u64;
    Ok(Reply::Int(created as i64))
}

/// `HSET key field value [field value ...]`
fn hset(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() % 2 == 1 {
        return Err(err::arity("hset"));
    }
    set_pairs(ctx, a)
}

/// `HMSET key field value [field value ...]`
fn hmset(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() % 2 == 1 {
        return Err(err::arity("hmset"));
    }
    set_pairs(ctx, a).map(|_| Reply::ok())
}

/// `HSETNX key field value`
fn hsetnx(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (max_entries, max_value) = limits(ctx);
    let (key, f, v) = (a[1], a[2], a[3]);
    let set = with_hash(ctx, key, |h| {
        if h.contains(f) {
            return Ok(false);
        }
        h.set(f, v, max_entries, max_value);
        Ok(true)
    })?;
    if set {
        ctx.touch(key);
        ctx.notify(notify::HASH, "hset", key);
        ctx.dirty += 1;
    }
    Ok(Reply::Int(set as i64))
}

/// `HDEL key field [field ...]`
fn hdel(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let Some(h) = hash_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut deleted = 0;
    let mut empty = false;
    for f in &a[2..] {
        if h.del(f) {
            deleted += 1;
            if h.is_empty() {
                empty = true;
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify(notify::HASH, "hdel", key);
        if empty {
            ctx.remove(key);
            ctx.notify(notify::GENERIC, "del", key);
        } else {
            ctx.touch(key);
        }
        ctx.dirty += deleted;
    }
    Ok(Reply::Int(deleted as i64))
}

/// `HINCRBY key field increment`
fn hincrby(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let incr = parse_i64(a[3]).ok_or_else(err::not_int)?;
    let (max_entries, max_value) = limits(ctx);
    let (key, f) = (a[1], a[2]);
    let n = with_hash(ctx, key, |h| {
        let cur = match h.get(f) {
            Some(v) => {
                parse_i64(v).ok_or_else(|| Reply::error("ERR hash value is not an integer"))?
            }
            None => 0,
        };
        let n = cur
            .checked_add(incr)
            .ok_or_else(|| Reply::error(err::OVERFLOW))?;
        h.set(f, &i64_bytes(n), max_entries, max_value);
        Ok(n)
    })?;
    ctx.touch(key);
    ctx.notify(notify::HASH, "hincrby", key);
    ctx.dirty += 1;
    Ok(Reply::Int(n))
}

/// `HINCRBYFLOAT key field increment`, propagated as `HSET key field result`.
fn hincrbyfloat(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    // util's long-double parse stops at a NUL where Redis's string2ld
    // rejects it, so NULs are refused here first
    match incr_by_float(None, a[3]) {
        _ if a[3].contains(&0) => return Err(err::not_float()),
        Ok(_) => {}
        Err(FloatIncrError::NotFloat) => return Err(err::not_float()),
        Err(FloatIncrError::NanOrInf) => return Err(Reply::error("ERR value is NaN or Infinity")),
    }
    let (max_entries, max_value) = limits(ctx);
    let (key, f) = (a[1], a[2]);
    let v = with_hash(ctx, key, |h| {
        let cur = h.get(f);
        if cur.is_some_and(|c| c.contains(&0)) {
            return Err(Reply::error("ERR hash value is not a float"));
        }
        let v = incr_by_float(cur, a[3]).map_err(|e| match e {
            FloatIncrError::NotFloat => Reply::error("ERR hash value is not a float"),
            FloatIncrError::NanOrInf => Reply::error("ERR increment would produce NaN or Infinity"),
        })?;
        h.set(f, &v, max_entries, max_value);
        Ok(v)
    })?;
    ctx.touch(key);
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.dirty += 1;
    ctx.propagate_as(vec![vec![
        b"HSET".to_vec(),
        key.to_vec(),
        f.to_vec(),
        v.clone(),
    ]]);
    Ok(Reply::bulk_vec(v))
}

// ----- reads -----

/// `HGET key field`
fn hget(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::opt_bulk(hash(ctx, a[1])?.and_then(|h| h.get(a[2]))))
}

/// `HMGET key field [field ...]`
fn hmget(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let h = hash(ctx, a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|f| Reply::opt_bulk(h.and_then(|h| h.get(f))))
            .collect(),
    ))
}

/// `HEXISTS key field`
fn hexists(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        hash(ctx, a[1])?.is_some_and(|h| h.contains(a[2])) as i64,
    ))
}

/// `HLEN key`
fn hlen(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(hash(ctx, a[1])?.map_or(0, |h| h.len()) as i64))
}

/// `HSTRLEN key field`
fn hstrlen(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        hash(ctx, a[1])?
            .and_then(|h| h.get(a[2]))
            .map_or(0, |v| v.len()) as i64,
    ))
}

/// `HKEYS key`
fn hkeys(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(h) = hash(ctx, a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(
        h.iter().map(|(f, _)| Reply::bulk(f)).collect(),
    ))
}

/// `HVALS key`
fn hvals(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(h) = hash(ctx, a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(Reply::Array(
        h.iter().map(|(_, v)| Reply::bulk(v)).collect(),
    ))
}

/// `HGETALL key`
fn hgetall(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(h) = hash(ctx, a[1])? else {
        return Ok(Reply::Map(Vec::new()));
    };
    let mut out = Vec::with_capacity(h.len());
    out.extend(h.iter().map(|(f, v)| (Reply::bulk(f), Reply::bulk(v))));
    Ok(Reply::Map(out))
}

/// `HRANDFIELD key [count [WITHVALUES]]`
fn hrandfield(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() == 2 {
        let Some(h) = hash(ctx, a[1])?.filter(|h| !h.is_empty()) else {
            return Ok(Reply::Nil);
        };
        return Ok(Reply::bulk(h.random().0));
    }
    let count = parse_i64(a[2]).ok_or_else(err::not_int)?;
    if count == i64::MIN {
        return Err(Reply::error(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let withvalues = match a.len() {
        3 => false,
        4 if a[3].eq_ignore_ascii_case(b"withvalues") => true,
        _ => return Err(err::syntax()),
    };
    if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err(Reply::error("ERR value is out of range"));
    }
    // Redis streams these replies; an embedded engine must build them whole,
    // so an absurd number of repeated draws is refused instead of
    // exhausting memory (Redis has no such limit).
    if count < -MAX_DRAWS {
        return Err(Reply::error(
            "ERR HRANDFIELD count is too large for one reply",
        ));
    }
    let resp3 = ctx.cl.resp >= 3;
    let Some(h) = hash(ctx, a[1])?.filter(|h| !h.is_empty()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let mut out = Vec::new();
    let mut emit = |f: &[u8], v: &[u8]| {
        if !withvalues {
            out.push(Reply::bulk(f));
        } else if resp3 {
            out.push(Reply::Array(vec![Reply::bulk(f), Reply::bulk(v)]));
        } else {
            out.push(Reply::bulk(f));
            out.push(Reply::bulk(v));
        }
    };
    let size = h.len();
    let n = count.unsigned_abs() as usize;
    if count < 0 {
        // repeats allowed: n independent draws
        match h {
            HashValue::Packed(_) => {
                let pairs: Vec<_> = h.iter().collect();
                for _ in 0..n {
                    let (f, v) = pairs[random_below(size as u64) as usize];
                    emit(f, v);
                }
            }
            HashValue::Table(_) => {
                for _ in 0..n {
                    let (f, v) = h.random();
                    emit(f, v);
                }
            }
        }
    } else if n >= size {
        h.iter().for_each(|(f, v)| emit(f, v));
    } else if n * 3 > size || matches!(h, HashValue::Packed(_)) {
        // drop random pairs from a copy until n remain
        let mut pairs: Vec<_> = h.iter().collect();
        while pairs.len() > n {
            pairs.swap_remove(random_below(pairs.len() as u64) as usize);
        }
        pairs.into_iter().for_each(|(f, v)| emit(f, v));
    } else {
        // a big hash, few wanted: draw until n distinct
        let mut seen = HashSet::with_capacity(n);
        while seen.len() < n {
            let (f, v) = h.random();
            if seen.insert(f) {
                emit(f, v);
            }
        }
    }
    Ok(Reply::Array(out))
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
fn hscan(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let cursor = crate::commands::keys::parse_cursor(a[2])?;
    let empty = || Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    let Some(h) = hash(ctx, a[1])? else {
        return Ok(empty());
    };
    let opts = parse_scan_opts(a, 3, false)?;
    let mut out = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.pattern.is_none_or(|p| glob_match(p, f)) {
            out.push(Reply::bulk(f));
            out.push(Reply::bulk(v));
        }
    });
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(out),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::bulk(s)
    }

    #[test]
    fn resp3_shapes() {
        let db = crate::Db::in_memory();
        let mut c = db.client();
        c.execute(&["HSET", "h", "f", "v"]);
        // RESP2: flat
        assert_eq!(
            c.execute(&["HRANDFIELD", "h", "-2", "WITHVALUES"]),
            Reply::Array(vec![bulk("f"), bulk("v"), bulk("f"), bulk("v")])
        );
        assert_eq!(
            c.execute(&["HGETALL", "h"]).to_resp2(),
            b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n"
        );
        c.execute(&["HELLO", "3"]);
        // RESP3: pairs and maps
        let pair = Reply::Array(vec![bulk("f"), bulk("v")]);
        assert_eq!(
            c.execute(&["HRANDFIELD", "h", "-2", "WITHVALUES"]),
            Reply::Array(vec![pair.clone(), pair.clone()])
        );
        assert_eq!(
            c.execute(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
            Reply::Array(vec![pair])
        );
        assert_eq!(
            c.execute(&["HRANDFIELD", "h", "5"]),
            Reply::Array(vec![bulk("f")])
        );
        assert_eq!(
            c.execute(&["HGETALL", "h"]),
            Reply::Map(vec![(bulk("f"), bulk("v"))])
        );
        assert_eq!(c.execute(&["HGETALL", "nosuch"]), Reply::Map(Vec::new()));
        assert_eq!(
            c.execute(&["HSCAN", "h", "0"]),
            Reply::Array(vec![bulk("0"), Reply::Array(vec![bulk("f"), bulk("v")])])
        );
    }
}
