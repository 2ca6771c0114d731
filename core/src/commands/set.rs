//! Set commands: SADD … SSCAN, with Redis 7.0's replies, errors, encodings,
//! notifications and AOF forms (SPOP is written as SREM, or DEL when it
//! empties the set).
//!
//! Set algebra that stores its result (SINTERSTORE, SUNIONSTORE,
//! SDIFFSTORE) builds the destination the way Redis does, starting from an
//! empty intset and adding (and, for one SDIFF algorithm, removing) members
//! one by one, so the destination ends in the encoding Redis gives it.

use super::flag::*;
use super::keys::parse_scan_opts;
use super::{CommandSpec, Ctx, err};
use crate::config::Tun;
use crate::notify;
use crate::reply::Reply;
use crate::types::Value;
use crate::types::set::{Member, SetLimits, SetValue};
use crate::util::glob::glob_match;
use crate::util::number::parse_i64;
use crate::util::rng::random_below;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "set", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("sadd", -3, WRITE | DENYOOM | FAST, (1, 1, 1), sadd),
    cmd("srem", -3, WRITE | FAST, (1, 1, 1), srem),
    cmd("smembers", 2, READONLY, (1, 1, 1), smembers),
    cmd("sismember", 3, READONLY | FAST, (1, 1, 1), sismember),
    cmd("smismember", -3, READONLY | FAST, (1, 1, 1), smismember),
    cmd("scard", 2, READONLY | FAST, (1, 1, 1), scard),
    cmd("spop", -2, WRITE | FAST, (1, 1, 1), spop),
    cmd("srandmember", -2, READONLY, (1, 1, 1), srandmember),
    cmd("smove", 4, WRITE | FAST, (1, 2, 1), smove),
    cmd("sinter", -2, READONLY, (1, -1, 1), sinter),
    cmd("sintercard", -3, READONLY, (0, 0, 0), sintercard).with_getkeys(keys_numkeys_at_1),
    cmd("sinterstore", -3, WRITE | DENYOOM, (1, -1, 1), sinterstore),
    cmd("sunion", -2, READONLY, (1, -1, 1), sunion),
    cmd("sunionstore", -3, WRITE | DENYOOM, (1, -1, 1), sunionstore),
    cmd("sdiff", -2, READONLY, (1, -1, 1), sdiff),
    cmd("sdiffstore", -3, WRITE | DENYOOM, (1, -1, 1), sdiffstore),
    cmd("sscan", -3, READONLY, (1, 1, 1), sscan),
];

/// Key positions of `CMD numkeys key [key ...] …` with numkeys at `at`:
/// the keys numkeys announces, as far as argv reaches (handlers reject a bad
/// numkeys before touching any key).
pub(crate) fn numkeys_positions(a: &[&[u8]], at: usize) -> Vec<usize> {
    let Some(n) = a.get(at).and_then(|b| parse_i64(b)) else {
        return Vec::new();
    };
    if n < 1 {
        return Vec::new();
    }
    let first = at + 1;
    let end = first.saturating_add(n as usize).min(a.len());
    (first..end).collect()
}

fn keys_numkeys_at_1(a: &[&[u8]]) -> Vec<usize> {
    numkeys_positions(a, 1)
}

pub(crate) fn set_limits(ctx: &Ctx) -> SetLimits {
    let p = &ctx.eng.params;
    SetLimits {
        max_intset: p.tun(Tun::SetMaxIntsetEntries).max(0) as usize,
        max_listpack_entries: p.tun(Tun::SetMaxListpackEntries).max(0) as usize,
        max_listpack_value: p.tun(Tun::SetMaxListpackValue).max(0) as usize,
    }
}

/// The set under `key` (read): Ok(None) when missing, WRONGTYPE if not a set.
pub(crate) fn get_set<'a>(ctx: &'a Ctx, key: &[u8]) -> Result<Option<&'a SetValue>, Reply> {
    ctx.typed(key)
}

fn get_set_mut<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a mut SetValue>, Reply> {
    ctx.typed_mut(key)
}

fn member_reply(m: Member) -> Reply {
    m.with_bytes(|b| Reply::bulk(b))
}

fn all_members(s: &SetValue) -> Vec<Reply> {
    let mut out = Vec::with_capacity(s.len());
    s.for_each(|m| out.push(member_reply(m)));
    out
}

/// Redis's `getRangeLongFromObjectOrReply`: a parse failure gives `msg` (or
/// the generic integer error), a value outside `min..=max` gives `msg` (or
/// the range message).
pub(crate) fn range_long(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, Reply> {
    let v = parse_i64(arg)
        .ok_or_else(|| msg.map_or_else(err::not_int, |m| Reply::error(format!("ERR {m}"))))?;
    if v < min || v > max {
        return Err(match msg {
            Some(m) => Reply::error(format!("ERR {m}")),
            None => Reply::error(format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        });
    }
    Ok(v)
}

/// Redis's `getPositiveLongFromObjectOrReply`.
pub(crate) fn positive_long(arg: &[u8], msg: Option<&str>) -> Result<i64, Reply> {
    range_long(
        arg,
        0,
        i64::MAX,
        Some(msg.unwrap_or("value is out of range, must be positive")),
    )
}

/// `k` distinct positions out of `0..n` (k < n), in random order.
pub(crate) fn sample_distinct(n: usize, k: usize) -> Vec<usize> {
    if k * 3 > n {
        let mut idx: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + random_below((n - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(k);
        idx
    } else {
        let mut seen = hashbrown::HashSet::with_capacity(k);
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            let i = random_below(n as u64) as usize;
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

/// `SADD key member [member ...]`
fn sadd(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let lim = set_limits(ctx);
    let key = a[1];
    let added = match get_set_mut(ctx, key)? {
        Some(s) => a[2..].iter().filter(|m| s.add(m, &lim)).count(),
        None => {
            let mut s = SetValue::new_for(a[2], &lim);
            let n = a[2..].iter().filter(|m| s.add(m, &lim)).count();
            ctx.set(key, Value::Set(Box::new(s)));
            n
        }
    };
    if added > 0 {
        ctx.touch(key);
        ctx.notify(notify::SET, "sadd", key);
        ctx.dirty += added as u64;
    }
    Ok(Reply::Int(added as i64))
}

/// `SREM key member [member ...]`
fn srem(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let Some(s) = get_set_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut deleted = 0;
    for m in &a[2..] {
        if s.remove(m) {
            deleted += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    let emptied = s.is_empty();
    if deleted > 0 {
        ctx.touch(key);
        ctx.notify(notify::SET, "srem", key);
        if emptied {
            ctx.remove(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.dirty += deleted;
    }
    Ok(Reply::Int(deleted as i64))
}

/// `SMEMBERS key`
fn smembers(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Set(
        get_set(ctx, a[1])?.map(all_members).unwrap_or_default(),
    ))
}

/// `SISMEMBER key member`
fn sismember(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        get_set(ctx, a[1])?.is_some_and(|s| s.contains(a[2])) as i64,
    ))
}

/// `SMISMEMBER key member [member ...]`
fn smismember(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let s = get_set(ctx, a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| Reply::Int(s.is_some_and(|s| s.contains(m)) as i64))
            .collect(),
    ))
}

/// `SCARD key`
fn scard(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(get_set(ctx, a[1])?.map_or(0, |s| s.len()) as i64))
}

/// SREM commands for the AOF, 1024 members each (as Redis batches them).
fn srem_batches(key: &[u8], members: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
    members
        .chunks(1024)
        .map(|c| {
            let mut cmd = Vec::with_capacity(c.len() + 2);
            cmd.push(b"SREM".to_vec());
            cmd.push(key.to_vec());
            cmd.extend(c.iter().cloned());
            cmd
        })
        .collect()
}

/// `SPOP key [count]`
fn spop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 3 {
        return Err(err::syntax());
    }
    let key = a[1];
    if a.len() == 3 {
        return spop_count(ctx, key, a[2]);
    }
    let Some(s) = get_set_mut(ctx, key)? else {
        return Ok(Reply::Nil);
    };
    let m = s.take(random_below(s.len() as u64) as usize);
    let emptied = s.is_empty();
    ctx.notify(notify::SET, "spop", key);
    ctx.propagate_as(srem_batches(key, std::slice::from_ref(&m)));
    ctx.touch(key);
    if emptied {
        ctx.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.dirty += 1;
    Ok(Reply::bulk(m))
}

fn spop_count(ctx: &mut Ctx, key: &[u8], arg: &[u8]) -> R {
    let count = positive_long(arg, None)? as u64;
    let Some(s) = get_set_mut(ctx, key)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    let size = s.len() as u64;
    if count >= size {
        let all = all_members(s);
        ctx.notify(notify::SET, "spop", key);
        ctx.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
        ctx.dirty += size;
        return Ok(Reply::Set(all));
    }
    let count = count as usize;
    let mut popped = Vec::with_capacity(count);
    for _ in 0..count {
        let i = random_below(s.len() as u64) as usize;
        popped.push(s.take(i));
    }
    ctx.notify(notify::SET, "spop", key);
    ctx.touch(key);
    ctx.propagate_as(srem_batches(key, &popped));
    ctx.dirty += count as u64;
    Ok(Reply::Set(
        popped.into_iter().map(Reply::bulk_vec).collect(),
    ))
}

/// `SRANDMEMBER key [count]`
fn srandmember(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 3 {
        return Err(err::syntax());
    }
    if a.len() == 2 {
        return Ok(match get_set(ctx, a[1])? {
            None => Reply::Nil,
            Some(s) => member_reply(s.get(random_below(s.len() as u64) as usize)),
        });
    }
    let l = range_long(a[2], -i64::MAX, i64::MAX, None)?;
    let Some(s) = get_set(ctx, a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let n = s.len();
    let count = l.unsigned_abs();
    if count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    if l < 0 || count == 1 {
        // With repetitions. Capacity is capped: a huge count grows as it goes.
        let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
        for _ in 0..count {
            out.push(member_reply(s.get(random_below(n as u64) as usize)));
        }
        return Ok(Reply::Array(out));
    }
    if count >= n as u64 {
        return Ok(Reply::Array(all_members(s)));
    }
    Ok(Reply::Array(
        sample_distinct(n, count as usize)
            .into_iter()
            .map(|i| member_reply(s.get(i)))
            .collect(),
    ))
}

/// `SMOVE source destination member`
fn smove(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (src, dst, m) = (a[1], a[2], a[3]);
    let lim = set_limits(ctx);
    let Some(srcset) = get_set(ctx, src)? else {
        // a missing source answers 0 before the destination's type is looked at
        return Ok(Reply::Int(0));
    };
    let src_has = srcset.contains(m);
    let dst_exists = get_set(ctx, dst)?.is_some();
    if src == dst {
        return Ok(Reply::Int(src_has as i64));
    }
    if !src_has {
        return Ok(Reply::Int(0));
    }
    let s = get_set_mut(ctx, src)?.expect("source checked");
    s.remove(m);
    let emptied = s.is_empty();
    ctx.notify(notify::SET, "srem", src);
    if emptied {
        ctx.remove(src);
        ctx.notify(notify::GENERIC, "del", src);
    }
    if !dst_exists {
        ctx.set(dst, Value::Set(Box::new(SetValue::new_for(m, &lim))));
    }
    ctx.touch(src);
    ctx.dirty += 1;
    let d = get_set_mut(ctx, dst)?.expect("destination exists");
    if d.add(m, &lim) {
        ctx.dirty += 1;
        ctx.touch(dst);
        ctx.notify(notify::SET, "sadd", dst);
    }
    Ok(Reply::Int(1))
}

/// Looks up every key as a set (missing = None); WRONGTYPE if any is not a set.
fn load_sets<'a>(ctx: &'a Ctx, keys: &[&[u8]]) -> Result<Vec<Option<&'a SetValue>>, Reply> {
    keys.iter().map(|k| get_set(ctx, k)).collect()
}

/// Where a set-algebra result goes.
enum Out<'k> {
    Reply,
    Store(&'k [u8]),
    Card(u64),
}

/// The members common to all `sets` (sources must all exist), smallest set
/// first, as Redis walks them; stops after `limit` (0 = all).
fn intersect<'a>(sets: &[&'a SetValue], limit: usize, mut f: impl FnMut(Member<'a>)) {
    let mut order: Vec<&SetValue> = sets.to_vec();
    order.sort_by_key(|s| s.len());
    let first = order[0];
    let mut found = 0;
    for i in 0..first.len() {
        let m = first.get(i);
        if order[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, first) || s.contains_member(m))
        {
            f(m);
            found += 1;
            if limit != 0 && found >= limit {
                break;
            }
        }
    }
}

/// Stores `result` under `dst`, or deletes `dst` when it is empty; the reply
/// is the result's size.
fn store_set(ctx: &mut Ctx, dst: &[u8], result: SetValue, event: &'static str) -> R {
    let n = result.len();
    if n > 0 {
        ctx.set(dst, Value::Set(Box::new(result)));
        ctx.notify(notify::SET, event, dst);
        ctx.dirty += 1;
    } else if ctx.remove(dst).is_some() {
        ctx.notify(notify::GENERIC, "del", dst);
        ctx.dirty += 1;
    }
    Ok(Reply::Int(n as i64))
}

fn sinter_generic(ctx: &mut Ctx, keys: &[&[u8]], out: Out) -> R {
    let lim = set_limits(ctx);
    let sets = load_sets(ctx, keys)?;
    let present: Option<Vec<&SetValue>> = sets.into_iter().collect();
    match out {
        Out::Reply => {
            let mut v = Vec::new();
            if let Some(sets) = present {
                intersect(&sets, 0, |m| v.push(member_reply(m)));
            }
            Ok(Reply::Set(v))
        }
        Out::Card(limit) => {
            let mut n = 0i64;
            if let Some(sets) = present {
                intersect(&sets, limit as usize, |_| n += 1);
            }
            Ok(Reply::Int(n))
        }
        Out::Store(dst) => {
            let mut d = SetValue::new_intset();
            if let Some(sets) = present {
                intersect(&sets, 0, |m| {
                    d.add_member(m, &lim);
                });
            }
            store_set(ctx, dst, d, "sinterstore")
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

/// Redis's `sunionDiffGenericCommand`: the result as a set built from an
/// empty intset.
fn union_diff(sets: &[Option<&SetValue>], op: Op, lim: &SetLimits) -> SetValue {
    let mut d = SetValue::new_intset();
    match op {
        Op::Union => {
            for s in sets.iter().flatten() {
                s.for_each(|m| {
                    d.add_member(m, lim);
                });
            }
        }
        Op::Diff => {
            let Some(first) = sets[0] else { return d };
            let rest = &sets[1..];
            // Redis's choice between its two algorithms decides the
            // intermediate sizes, hence the result's encoding.
            let one: u64 = sets
                .iter()
                .flatten()
                .map(|_| first.len() as u64)
                .sum::<u64>()
                / 2;
            let two: u64 = sets.iter().flatten().map(|s| s.len() as u64).sum();
            if one <= two {
                for i in 0..first.len() {
                    let m = first.get(i);
                    let elsewhere = rest
                        .iter()
                        .flatten()
                        .any(|s| std::ptr::eq(*s, first) || s.contains_member(m));
                    if !elsewhere {
                        d.add_member(m, lim);
                    }
                }
            } else {
                first.for_each(|m| {
                    d.add_member(m, lim);
                });
                for s in rest.iter().flatten() {
                    if d.is_empty() {
                        break;
                    }
                    s.for_each(|m| {
                        d.remove_member(m);
                    });
                }
            }
        }
    }
    d
}

fn sunion_diff_generic(ctx: &mut Ctx, keys: &[&[u8]], dst: Option<&[u8]>, op: Op) -> R {
    let lim = set_limits(ctx);
    let sets = load_sets(ctx, keys)?;
    let result = union_diff(&sets, op, &lim);
    match dst {
        None => Ok(Reply::Set(all_members(&result))),
        Some(dst) => store_set(
            ctx,
            dst,
            result,
            if op == Op::Union {
                "sunionstore"
            } else {
                "sdiffstore"
            },
        ),
    }
}

/// `SINTER key [key ...]`
fn sinter(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sinter_generic(ctx, &a[1..], Out::Reply)
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
fn sintercard(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let numkeys = range_long(a[1], 1, i64::MAX, Some("numkeys should be greater than 0"))? as usize;
    if numkeys > a.len() - 2 {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0;
    let mut j = 2 + numkeys;
    while j < a.len() {
        if a[j].eq_ignore_ascii_case(b"limit") && j + 1 < a.len() {
            limit = positive_long(a[j + 1], Some("LIMIT can't be negative"))? as u64;
            j += 2;
        } else {
            return Err(err::syntax());
        }
    }
    sinter_generic(ctx, &a[2..2 + numkeys], Out::Card(limit))
}

/// `SINTERSTORE destination key [key ...]`
fn sinterstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sinter_generic(ctx, &a[2..], Out::Store(a[1]))
}

/// `SUNION key [key ...]`
fn sunion(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sunion_diff_generic(ctx, &a[1..], None, Op::Union)
}

/// `SUNIONSTORE destination key [key ...]`
fn sunionstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sunion_diff_generic(ctx, &a[2..], Some(a[1]), Op::Union)
}

/// `SDIFF key [key ...]`
fn sdiff(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sunion_diff_generic(ctx, &a[1..], None, Op::Diff)
}

/// `SDIFFSTORE destination key [key ...]`
fn sdiffstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sunion_diff_generic(ctx, &a[2..], Some(a[1]), Op::Diff)
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
fn sscan(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let cursor = crate::commands::keys::parse_cursor(a[2])?;
    let Some(s) = get_set(ctx, a[1])? else {
        return Ok(empty_scan());
    };
    let opts = parse_scan_opts(a, 3, false)?;
    let mut items = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        m.with_bytes(|b| {
            if opts.pattern.is_none_or(|p| glob_match(p, b)) {
                items.push(Reply::bulk(b));
            }
        })
    });
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(items),
    ]))
}

pub(crate) fn empty_scan() -> Reply {
    Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())])
}
