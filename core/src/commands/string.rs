//! String commands: GET, SET and its variants, counters, ranges, LCS.

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::notify;
use crate::reply::Reply;
use crate::types::{Str, Value};
use crate::util::number::{self, parse_i64};

/// Redis's maximum string size (proto-max-bulk-len default).
pub const MAX_STRING: usize = 512 * 1024 * 1024;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "string", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("get", 2, READONLY | FAST, (1, 1, 1), get),
    cmd("set", -3, WRITE | DENYOOM, (1, 1, 1), set),
    cmd("setnx", 3, WRITE | DENYOOM | FAST, (1, 1, 1), setnx),
    cmd("setex", 4, WRITE | DENYOOM, (1, 1, 1), setex),
    cmd("psetex", 4, WRITE | DENYOOM, (1, 1, 1), psetex),
    cmd("getset", 3, WRITE | DENYOOM | FAST, (1, 1, 1), getset),
    cmd("getdel", 2, WRITE | FAST, (1, 1, 1), getdel),
    cmd("getex", -2, WRITE | FAST, (1, 1, 1), getex),
    cmd("mget", -2, READONLY | FAST, (1, -1, 1), mget),
    cmd("mset", -3, WRITE | DENYOOM, (1, -1, 2), mset),
    cmd("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), msetnx),
    cmd("append", 3, WRITE | DENYOOM | FAST, (1, 1, 1), append),
    cmd("strlen", 2, READONLY | FAST, (1, 1, 1), strlen),
    cmd("incr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), incr),
    cmd("decr", 2, WRITE | DENYOOM | FAST, (1, 1, 1), decr),
    cmd("incrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), incrby),
    cmd("decrby", 3, WRITE | DENYOOM | FAST, (1, 1, 1), decrby),
    cmd(
        "incrbyfloat",
        3,
        WRITE | DENYOOM | FAST,
        (1, 1, 1),
        incrbyfloat,
    ),
    cmd("getrange", 4, READONLY, (1, 1, 1), getrange),
    cmd("substr", 4, READONLY, (1, 1, 1), getrange),
    cmd("setrange", 4, WRITE | DENYOOM, (1, 1, 1), setrange),
    cmd("lcs", -3, READONLY, (1, 2, 1), lcs),
];

fn str_reply(s: &Str) -> Reply {
    s.with_bytes(|b| Reply::bulk(b))
}

/// `GET key`
fn get(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(match ctx.get_str(a[1])? {
        Some(s) => str_reply(s),
        None => Reply::Nil,
    })
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ExpireOpt {
    None,
    Ex,
    Px,
    ExAt,
    PxAt,
    KeepTtl,
    Persist,
}

/// Converts an expiry option's argument to absolute milliseconds, with
/// Redis's checks and error texts.
pub(crate) fn expire_at_ms(ctx: &Ctx, opt: ExpireOpt, arg: &[u8], cmd: &str) -> Result<u64, Reply> {
    let v = parse_i64(arg).ok_or_else(err::not_int)?;
    if v <= 0 {
        return Err(err::invalid_expire(cmd));
    }
    let ms = match opt {
        ExpireOpt::Ex | ExpireOpt::ExAt => v
            .checked_mul(1000)
            .ok_or_else(|| err::invalid_expire(cmd))?,
        _ => v,
    };
    let at = match opt {
        ExpireOpt::Ex | ExpireOpt::Px => ms
            .checked_add(ctx.now() as i64)
            .ok_or_else(|| err::invalid_expire(cmd))?,
        _ => ms,
    };
    Ok(at as u64)
}

fn propagate_set_pxat(ctx: &mut Ctx, key: &[u8], val: &[u8], at: u64) {
    ctx.propagate_as(vec![vec![
        b"SET".to_vec(),
        key.to_vec(),
        val.to_vec(),
        b"PXAT".to_vec(),
        at.to_string().into_bytes(),
    ]]);
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]`
fn set(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (mut nx, mut xx, mut getf) = (false, false, false);
    let mut exp = ExpireOpt::None;
    let mut exp_arg: &[u8] = b"";
    let mut i = 3;
    while i < a.len() {
        let o = a[i];
        let next = a.get(i + 1);
        let is = |s: &str| o.eq_ignore_ascii_case(s.as_bytes());
        if is("nx") && !xx {
            nx = true;
        } else if is("xx") && !nx {
            xx = true;
        } else if is("get") {
            getf = true;
        } else if is("keepttl") && exp == ExpireOpt::None {
            exp = ExpireOpt::KeepTtl;
        } else if let (Some(n), true) = (next, exp == ExpireOpt::None) {
            exp = if is("ex") {
                ExpireOpt::Ex
            } else if is("px") {
                ExpireOpt::Px
            } else if is("exat") {
                ExpireOpt::ExAt
            } else if is("pxat") {
                ExpireOpt::PxAt
            } else {
                return Err(err::syntax());
            };
            exp_arg = n;
            i += 1;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    let at = match exp {
        ExpireOpt::None | ExpireOpt::KeepTtl => None,
        o => Some(expire_at_ms(ctx, o, exp_arg, "set")?),
    };
    let (key, val) = (a[1], a[2]);
    let old = if getf {
        match ctx.lookup_mut(key) {
            None => Some(Reply::Nil),
            Some(Value::Str(s)) => Some(str_reply(s)),
            #[allow(unreachable_patterns)]
            Some(_) => return Err(err::wrongtype()),
        }
    } else {
        None
    };
    // (a plain SET needs no lookup: `set_in` expires, finds and replaces in
    // one go; under an LFU policy the lookup counts the overwrite as an
    // access, as Redis's lookupKeyWrite does)
    if nx || xx || crate::evict::lfu_on(ctx.eng) {
        let found = ctx.lookup_mut(key).is_some();
        if (nx && found) || (xx && !found) {
            return Ok(old.unwrap_or(Reply::Nil));
        }
    }
    ctx.set_in(
        ctx.db,
        key,
        Value::Str(Str::from_bytes(val)),
        exp == ExpireOpt::KeepTtl,
    );
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "set", key);
    if let Some(at) = at {
        ctx.set_expire_in(ctx.db, key, at);
        ctx.notify(notify::GENERIC, "expire", key);
        if exp != ExpireOpt::PxAt {
            propagate_set_pxat(ctx, key, val, at);
        }
    }
    if getf && !matches!(ctx.prop, super::ctx::Prop::Rewritten(_)) {
        // propagate without GET
        let v: Vec<Vec<u8>> = a
            .iter()
            .filter(|x| !x.eq_ignore_ascii_case(b"get"))
            .map(|x| x.to_vec())
            .collect();
        ctx.propagate_as(vec![v]);
    }
    Ok(old.unwrap_or_else(Reply::ok))
}

/// `SETNX key value`
fn setnx(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if ctx.lookup_mut(a[1]).is_some() {
        return Ok(Reply::Int(0));
    }
    ctx.set(a[1], Value::Str(Str::from_bytes(a[2])));
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "set", a[1]);
    Ok(Reply::Int(1))
}

fn setex_generic(ctx: &mut Ctx, a: &[&[u8]], opt: ExpireOpt, name: &str) -> R {
    let at = expire_at_ms(ctx, opt, a[2], name)?;
    let (key, val) = (a[1], a[3]);
    ctx.set(key, Value::Str(Str::from_bytes(val)));
    ctx.set_expire_in(ctx.db, key, at);
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "set", key);
    ctx.notify(notify::GENERIC, "expire", key);
    propagate_set_pxat(ctx, key, val, at);
    Ok(Reply::ok())
}

/// `SETEX key seconds value`
fn setex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    setex_generic(ctx, a, ExpireOpt::Ex, "setex")
}

/// `PSETEX key milliseconds value`
fn psetex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    setex_generic(ctx, a, ExpireOpt::Px, "psetex")
}

/// `GETSET key value`
fn getset(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let old = match ctx.get_str_mut(a[1])? {
        Some(s) => str_reply(s),
        None => Reply::Nil,
    };
    ctx.set(a[1], Value::Str(Str::from_bytes(a[2])));
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "set", a[1]);
    ctx.propagate_as(vec![vec![b"SET".to_vec(), a[1].to_vec(), a[2].to_vec()]]);
    Ok(old)
}

/// `GETDEL key`
fn getdel(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let old = match ctx.get_str_mut(a[1])? {
        Some(s) => str_reply(s),
        None => return Ok(Reply::Nil),
    };
    ctx.remove(a[1]);
    ctx.dirty += 1;
    ctx.notify(notify::GENERIC, "del", a[1]);
    ctx.propagate_as(vec![vec![b"DEL".to_vec(), a[1].to_vec()]]);
    Ok(old)
}

/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]`
fn getex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut opt = ExpireOpt::None;
    let mut arg: &[u8] = b"";
    let mut i = 2;
    while i < a.len() {
        let o = a[i];
        let is = |s: &str| o.eq_ignore_ascii_case(s.as_bytes());
        if is("persist") && opt == ExpireOpt::None {
            opt = ExpireOpt::Persist;
        } else if let (Some(n), true) = (a.get(i + 1), opt == ExpireOpt::None) {
            opt = if is("ex") {
                ExpireOpt::Ex
            } else if is("px") {
                ExpireOpt::Px
            } else if is("exat") {
                ExpireOpt::ExAt
            } else if is("pxat") {
                ExpireOpt::PxAt
            } else {
                return Err(err::syntax());
            };
            arg = n;
            i += 1;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    let key = a[1];
    let reply = match ctx.get_str_mut(key)? {
        Some(s) => str_reply(s),
        None => return Ok(Reply::Nil),
    };
    // Redis validates the time only once the key is known to exist.
    let at = match opt {
        ExpireOpt::None | ExpireOpt::Persist => None,
        o => Some(expire_at_ms(ctx, o, arg, "getex")?),
    };
    if let Some(at) = at {
        if at <= ctx.now() && !ctx.eng.is_loading() {
            ctx.remove(key);
            ctx.dirty += 1;
            ctx.notify(notify::GENERIC, "del", key);
            ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
        } else {
            ctx.set_expire_in(ctx.db, key, at);
            ctx.dirty += 1;
            ctx.notify(notify::GENERIC, "expire", key);
            ctx.propagate_as(vec![vec![
                b"PEXPIREAT".to_vec(),
                key.to_vec(),
                at.to_string().into_bytes(),
            ]]);
        }
    } else if opt == ExpireOpt::Persist && ctx.persist_in(ctx.db, key) {
        ctx.dirty += 1;
        ctx.notify(notify::GENERIC, "persist", key);
        ctx.propagate_as(vec![vec![b"PERSIST".to_vec(), key.to_vec()]]);
    }
    Ok(reply)
}

/// `MGET key [key ...]`
fn mget(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let out = a[1..]
        .iter()
        .map(|k| match ctx.lookup(k) {
            Some(Value::Str(s)) => str_reply(s),
            _ => Reply::Nil,
        })
        .collect();
    Ok(Reply::Array(out))
}

fn mset_generic(ctx: &mut Ctx, a: &[&[u8]], nx: bool) -> R {
    if a.len().is_multiple_of(2) {
        return Err(err::arity(if nx { "msetnx" } else { "mset" }));
    }
    if nx && a[1..].chunks(2).any(|kv| ctx.lookup_mut(kv[0]).is_some()) {
        return Ok(Reply::Int(0));
    }
    for kv in a[1..].chunks(2) {
        ctx.set(kv[0], Value::Str(Str::from_bytes(kv[1])));
        ctx.notify(notify::STRING, "set", kv[0]);
    }
    ctx.dirty += (a.len() as u64 - 1) / 2;
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

/// `MSET key value [key value ...]`
fn mset(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    mset_generic(ctx, a, false)
}

/// `MSETNX key value [key value ...]`
fn msetnx(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    mset_generic(ctx, a, true)
}

/// `APPEND key value`
fn append(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (key, add) = (a[1], a[2]);
    let len = match ctx.get_str_mut(key)? {
        None => {
            ctx.set(key, Value::Str(Str::from_bytes(add)));
            add.len()
        }
        Some(s) => {
            let total = s.len() + add.len();
            if total > MAX_STRING {
                return Err(Reply::error(err::STRING_TOO_LONG));
            }
            let mut v = match std::mem::replace(s, Str::Int(0)) {
                Str::Raw(b) => b.into_vec(),
                other => other.to_vec(),
            };
            v.extend_from_slice(add);
            *s = Str::raw(v);
            ctx.touch(key);
            total
        }
    };
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "append", key);
    Ok(Reply::Int(len as i64))
}

/// `STRLEN key`
fn strlen(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.get_str(a[1])?.map_or(0, |s| s.len() as i64)))
}

fn incr_generic(ctx: &mut Ctx, key: &[u8], by: i64) -> R {
    let cur = match ctx.get_str_mut(key)? {
        None => None,
        Some(s) => Some(s.as_i64().ok_or_else(err::not_int)?),
    };
    let new = cur
        .unwrap_or(0)
        .checked_add(by)
        .ok_or_else(|| Reply::error(err::OVERFLOW))?;
    match ctx.get_str_mut(key)? {
        Some(s) => {
            *s = Str::Int(new);
            ctx.touch(key);
        }
        None => ctx.set(key, Value::Str(Str::Int(new))),
    }
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "incrby", key);
    Ok(Reply::Int(new))
}

/// `INCR key`
fn incr(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    incr_generic(ctx, a[1], 1)
}

/// `DECR key`
fn decr(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    incr_generic(ctx, a[1], -1)
}

/// `INCRBY key increment`
fn incrby(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let by = parse_i64(a[2]).ok_or_else(err::not_int)?;
    incr_generic(ctx, a[1], by)
}

/// `DECRBY key decrement`
fn decrby(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let by = parse_i64(a[2]).ok_or_else(err::not_int)?;
    if by == i64::MIN {
        return Err(Reply::error("ERR decrement would overflow"));
    }
    incr_generic(ctx, a[1], -by)
}

/// `INCRBYFLOAT key increment`
fn incrbyfloat(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let cur = ctx.get_str_mut(key)?.map(|s| s.to_vec());
    let new = number::incr_by_float(cur.as_deref(), a[2]).map_err(|e| match e {
        number::FloatIncrError::NotFloat => err::not_float(),
        number::FloatIncrError::NanOrInf => {
            Reply::error("ERR increment would produce NaN or Infinity")
        }
    })?;
    ctx.set_in(ctx.db, key, Value::Str(Str::plain(&new)), true);
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "incrbyfloat", key);
    ctx.propagate_as(vec![vec![
        b"SET".to_vec(),
        key.to_vec(),
        new.clone(),
        b"KEEPTTL".to_vec(),
    ]]);
    Ok(Reply::bulk_vec(new))
}

/// Redis's start/end clamping for GETRANGE; None = empty result.
pub(crate) fn clamp_range(start: i64, end: i64, len: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e || len == 0 {
        return None;
    }
    Some((s as usize, e as usize))
}

/// `GETRANGE key start end`
fn getrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let start = parse_i64(a[2]).ok_or_else(err::not_int)?;
    let end = parse_i64(a[3]).ok_or_else(err::not_int)?;
    let Some(s) = ctx.get_str(a[1])? else {
        return Ok(Reply::bulk(""));
    };
    Ok(
        s.with_bytes(|b| match clamp_range(start, end, b.len() as i64) {
            Some((s, e)) => Reply::bulk(&b[s..=e]),
            None => Reply::bulk(""),
        }),
    )
}

/// `SETRANGE key offset value`
fn setrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (key, val) = (a[1], a[3]);
    let off = parse_i64(a[2]).ok_or_else(err::not_int)?;
    if off < 0 {
        return Err(Reply::error("ERR offset is out of range"));
    }
    let off = off as usize;
    let cur_len = match ctx.get_str_mut(key)? {
        None if val.is_empty() => return Ok(Reply::Int(0)),
        None => None,
        Some(s) => Some(s.len()),
    };
    if val.is_empty() {
        return Ok(Reply::Int(cur_len.unwrap_or(0) as i64));
    }
    if off + val.len() > MAX_STRING {
        return Err(Reply::error(err::STRING_TOO_LONG));
    }
    let mut v = ctx
        .get_str_mut(key)?
        .map(|s| s.to_vec())
        .unwrap_or_default();
    if v.len() < off + val.len() {
        v.resize(off + val.len(), 0);
    }
    v[off..off + val.len()].copy_from_slice(val);
    let len = v.len();
    ctx.set_in(ctx.db, key, Value::Str(Str::raw(v)), true);
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "setrange", key);
    Ok(Reply::Int(len as i64))
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]`
fn lcs(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatch: i64 = 0;
    let mut i = 3;
    while i < a.len() {
        let o = a[i];
        if o.eq_ignore_ascii_case(b"idx") {
            getidx = true;
        } else if o.eq_ignore_ascii_case(b"len") {
            getlen = true;
        } else if o.eq_ignore_ascii_case(b"withmatchlen") {
            withmatchlen = true;
        } else if o.eq_ignore_ascii_case(b"minmatchlen") && i + 1 < a.len() {
            minmatch = parse_i64(a[i + 1]).ok_or_else(err::not_int)?.max(0);
            i += 1;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    let fetch = |ctx: &Ctx, k: &[u8]| -> Result<Vec<u8>, Reply> {
        match ctx.peek(k) {
            None => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s.to_vec()),
            #[allow(unreachable_patterns)]
            Some(_) => Err(Reply::error(
                "ERR The specified keys must contain string values",
            )),
        }
    };
    let sa = fetch(ctx, a[1])?;
    let sb = fetch(ctx, a[2])?;
    if getidx && getlen {
        return Err(Reply::error(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    let (alen, blen) = (sa.len(), sb.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    if cells > (u32::MAX as u64) || cells * 4 > MAX_STRING as u64 * 4 {
        return Err(Reply::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    // dp[i][j] = LCS length of sa[..i], sb[..j]
    let w = blen + 1;
    let mut dp = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            dp[i * w + j] = if sa[i - 1] == sb[j - 1] {
                dp[(i - 1) * w + j - 1] + 1
            } else {
                dp[(i - 1) * w + j].max(dp[i * w + j - 1])
            };
        }
    }
    let total = dp[alen * w + blen] as usize;
    if getlen {
        return Ok(Reply::Int(total as i64));
    }
    // Walk back from the end, collecting the string and the matching ranges.
    let mut result = vec![0u8; total];
    let mut idx = total;
    let (mut i, mut j) = (alen, blen);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0usize, 0usize, 0usize);
    let mut matches = Vec::new();
    while i > 0 && j > 0 {
        let mut emit = false;
        if sa[i - 1] == sb[j - 1] {
            result[idx - 1] = sa[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if dp[(i - 1) * w + j] > dp[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let mlen = a_end - a_start + 1;
            if minmatch == 0 || mlen as i64 >= minmatch {
                let mut m = vec![
                    Reply::Array(vec![Reply::Int(a_start as i64), Reply::Int(a_end as i64)]),
                    Reply::Array(vec![Reply::Int(b_start as i64), Reply::Int(b_end as i64)]),
                ];
                if withmatchlen {
                    m.push(Reply::Int(mlen as i64));
                }
                matches.push(Reply::Array(m));
            }
            a_start = alen;
        }
    }
    if getidx {
        Ok(Reply::Map(vec![
            (Reply::bulk("matches"), Reply::Array(matches)),
            (Reply::bulk("len"), Reply::Int(total as i64)),
        ]))
    } else {
        Ok(Reply::bulk_vec(result))
    }
}
