//! Sorted-set commands: ZADD … ZSCAN (the blocking BZ* commands live with
//! the blocking machinery), with Redis 7.0's replies, errors, encodings,
//! notifications and AOF forms, plus Redis 7.2's ZRANK/ZREVRANK WITHSCORE.
//!
//! Reply shapes: scores are `Reply::Double` (a bulk string in RESP2). Lists
//! of member/score pairs are flat in RESP2 and arrays of pairs in RESP3,
//! except single-element ZPOPMIN/ZPOPMAX (flat in both) and ZMPOP (pairs in
//! both), as Redis does.
//!
//! Score ranges are parsed with the C library's `strtod` the way Redis's
//! `zslParseRange` does (leading spaces and an empty string are accepted,
//! NaN is not); scores given to ZADD/ZINCRBY/WEIGHTS use the stricter
//! `util::number::parse_f64`.

use std::ffi::c_char;

use super::flag::*;
use super::keys::parse_scan_opts;
use super::set::{empty_scan, numkeys_positions, positive_long, range_long, sample_distinct};
use super::{CommandSpec, Ctx, err};
use crate::config::Tun;
use crate::notify;
use crate::reply::Reply;
use crate::types::Value;
use crate::types::set::{Member, SetValue};
use crate::types::zset::{
    AddFlags, AddOutcome, LexBound, LexRange, ScoreRange, ZsetLimits, ZsetValue, sort_entries,
};
use crate::util::glob::glob_match;
use crate::util::number::{parse_f64, parse_i64};
use crate::util::rng::random_below;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "sorted-set", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("zadd", -4, WRITE | DENYOOM | FAST, (1, 1, 1), zadd),
    cmd("zincrby", 4, WRITE | DENYOOM | FAST, (1, 1, 1), zincrby),
    cmd("zrem", -3, WRITE | FAST, (1, 1, 1), zrem),
    cmd("zcard", 2, READONLY | FAST, (1, 1, 1), zcard),
    cmd("zcount", 4, READONLY | FAST, (1, 1, 1), zcount),
    cmd("zlexcount", 4, READONLY | FAST, (1, 1, 1), zlexcount),
    cmd("zscore", 3, READONLY | FAST, (1, 1, 1), zscore),
    cmd("zmscore", -3, READONLY | FAST, (1, 1, 1), zmscore),
    // Redis 7.2 arity (-3, for WITHSCORE); 7.0 has 3.
    cmd("zrank", -3, READONLY | FAST, (1, 1, 1), zrank),
    cmd("zrevrank", -3, READONLY | FAST, (1, 1, 1), zrevrank),
    cmd("zrange", -4, READONLY, (1, 1, 1), zrange),
    cmd("zrangestore", -5, WRITE | DENYOOM, (1, 2, 1), zrangestore),
    cmd("zrangebyscore", -4, READONLY, (1, 1, 1), zrangebyscore),
    cmd(
        "zrevrangebyscore",
        -4,
        READONLY,
        (1, 1, 1),
        zrevrangebyscore,
    ),
    cmd("zrangebylex", -4, READONLY, (1, 1, 1), zrangebylex),
    cmd("zrevrangebylex", -4, READONLY, (1, 1, 1), zrevrangebylex),
    cmd("zrevrange", -4, READONLY, (1, 1, 1), zrevrange),
    cmd("zremrangebyrank", 4, WRITE, (1, 1, 1), zremrangebyrank),
    cmd("zremrangebyscore", 4, WRITE, (1, 1, 1), zremrangebyscore),
    cmd("zremrangebylex", 4, WRITE, (1, 1, 1), zremrangebylex),
    cmd("zpopmin", -2, WRITE | FAST, (1, 1, 1), zpopmin),
    cmd("zpopmax", -2, WRITE | FAST, (1, 1, 1), zpopmax),
    cmd("zmpop", -4, WRITE, (0, 0, 0), zmpop).with_getkeys(keys_numkeys_at_1),
    cmd("zrandmember", -2, READONLY, (1, 1, 1), zrandmember),
    cmd("zunion", -3, READONLY, (0, 0, 0), zunion).with_getkeys(keys_numkeys_at_1),
    cmd("zinter", -3, READONLY, (0, 0, 0), zinter).with_getkeys(keys_numkeys_at_1),
    cmd("zdiff", -3, READONLY, (0, 0, 0), zdiff).with_getkeys(keys_numkeys_at_1),
    cmd("zintercard", -3, READONLY, (0, 0, 0), zintercard).with_getkeys(keys_numkeys_at_1),
    cmd("zunionstore", -4, WRITE | DENYOOM, (1, 1, 1), zunionstore).with_getkeys(keys_store),
    cmd("zinterstore", -4, WRITE | DENYOOM, (1, 1, 1), zinterstore).with_getkeys(keys_store),
    cmd("zdiffstore", -4, WRITE | DENYOOM, (1, 1, 1), zdiffstore).with_getkeys(keys_store),
    cmd("zscan", -3, READONLY, (1, 1, 1), zscan),
];

fn keys_numkeys_at_1(a: &[&[u8]]) -> Vec<usize> {
    numkeys_positions(a, 1)
}

/// `Z*STORE destination numkeys key …`: the destination and the sources.
fn keys_store(a: &[&[u8]]) -> Vec<usize> {
    let mut v = vec![1];
    v.extend(numkeys_positions(a, 2));
    v
}

pub(crate) fn zset_limits(ctx: &Ctx) -> ZsetLimits {
    let p = &ctx.eng.params;
    ZsetLimits {
        max_entries: p.tun(Tun::ZsetMaxListpackEntries).max(0) as usize,
        max_value: p.tun(Tun::ZsetMaxListpackValue).max(0) as usize,
    }
}

/// The sorted set under `key` (read): Ok(None) when missing, WRONGTYPE otherwise.
pub(crate) fn get_zset<'a>(ctx: &'a Ctx, key: &[u8]) -> Result<Option<&'a ZsetValue>, Reply> {
    ctx.typed(key)
}

pub(crate) fn get_zset_mut<'a>(
    ctx: &'a mut Ctx,
    key: &[u8],
) -> Result<Option<&'a mut ZsetValue>, Reply> {
    ctx.typed_mut(key)
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

// ----- ranges -----

unsafe extern "C" {
    fn strtod(s: *const c_char, endp: *mut *mut c_char) -> f64;
}

/// `strtod` over the C string view of `b` (it ends at the first NUL, as in
/// Redis): the whole of it must be consumed and the value must not be NaN.
fn range_number(b: &[u8]) -> Option<f64> {
    // a plain decimal needs no C string: same value, and no ERANGE check here
    if let Some((v, _)) = crate::util::number::parse_plain_decimal(b) {
        return Some(v);
    }
    let mut buf = Vec::with_capacity(b.len() + 1);
    buf.extend_from_slice(b);
    buf.push(0);
    let mut end: *mut c_char = std::ptr::null_mut();
    // SAFETY: `buf` is NUL-terminated and outlives the call; strtod only
    // reads up to the terminator and stores a pointer into `buf` in `end`.
    let v = unsafe { strtod(buf.as_ptr() as *const c_char, &mut end) };
    let used = end as usize - buf.as_ptr() as usize;
    (buf[used] == 0 && !v.is_nan()).then_some(v)
}

fn range_bound(b: &[u8]) -> Option<(f64, bool)> {
    match b.first() {
        Some(b'(') => range_number(&b[1..]).map(|v| (v, true)),
        _ => range_number(b).map(|v| (v, false)),
    }
}

/// Redis's `zslParseRange`.
fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    match (range_bound(min), range_bound(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
            min,
            max,
            minex,
            maxex,
        }),
        _ => Err(Reply::error("ERR min or max is not a float")),
    }
}

fn lex_bound(b: &[u8]) -> Option<LexBound> {
    let alone = b.len() == 1 || b.get(1) == Some(&0);
    match b.first()? {
        b'+' if alone => Some(LexBound::Max),
        b'-' if alone => Some(LexBound::Min),
        b'(' => Some(LexBound::Excl(b[1..].to_vec())),
        b'[' => Some(LexBound::Incl(b[1..].to_vec())),
        _ => None,
    }
}

/// Redis's `zslParseLexRange`.
fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, Reply> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(Reply::error("ERR min or max not valid string range item")),
    }
}

fn parse_long(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or_else(err::not_int)
}

/// Redis's rank sanitising: `(start, end)` inclusive, or None when empty.
fn rank_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

// ----- replies -----

/// Member/score pairs: flat in RESP2, pairs in RESP3.
fn pairs_reply(ctx: &Ctx, items: Vec<(Vec<u8>, f64)>) -> Reply {
    if ctx.cl.resp >= 3 {
        Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::bulk_vec(m), Reply::Double(s)]))
                .collect(),
        )
    } else {
        let mut out = Vec::with_capacity(items.len() * 2);
        for (m, s) in items {
            out.push(Reply::bulk_vec(m));
            out.push(Reply::Double(s));
        }
        Reply::Array(out)
    }
}

fn members_reply(ctx: &Ctx, items: Vec<(Vec<u8>, f64)>, withscores: bool) -> Reply {
    if withscores {
        pairs_reply(ctx, items)
    } else {
        Reply::Array(items.into_iter().map(|(m, _)| Reply::bulk_vec(m)).collect())
    }
}

// ----- ZADD / ZINCRBY / ZREM -----

fn zadd_generic(ctx: &mut Ctx, a: &[&[u8]], incr_cmd: bool) -> R {
    let key = a[1];
    let mut f = AddFlags {
        incr: incr_cmd,
        ..AddFlags::default()
    };
    let mut ch = false;
    let mut i = 2;
    while i < a.len() {
        let o = a[i];
        // options are words: a score starting with a digit, a sign or a
        // point ends them without six comparisons
        if o.first()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.'))
        {
            break;
        }
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "ch") {
            ch = true;
        } else if is(o, "incr") {
            f.incr = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            break;
        }
        i += 1;
    }
    let elements = a.len() - i;
    if !elements.is_multiple_of(2) || elements == 0 {
        return Err(err::syntax());
    }
    let n = elements / 2;
    if f.nx && f.xx {
        return Err(Reply::error(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(Reply::error(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && n > 1 {
        return Err(Reply::error(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    // most calls add a pair or a few: their scores stay on the stack
    let (mut few, mut many) = ([0.0; 8], Vec::new());
    let scores: &mut [f64] = if n <= few.len() {
        &mut few[..n]
    } else {
        many.resize(n, 0.0);
        &mut many
    };
    for (j, s) in scores.iter_mut().enumerate() {
        *s = parse_f64(a[i + 2 * j]).ok_or_else(err::not_float)?;
    }
    let scores = &*scores;
    let lim = zset_limits(ctx);
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    let mut nan = false;
    let mut apply = |z: &mut ZsetValue| {
        for (j, &score) in scores.iter().enumerate() {
            match z.add(a[i + 2 * j + 1], score, f, &lim) {
                AddOutcome::Added(s) => {
                    added += 1;
                    processed += 1;
                    last = s;
                }
                AddOutcome::Updated(s) => {
                    updated += 1;
                    processed += 1;
                    last = s;
                }
                AddOutcome::Same(s) => {
                    processed += 1;
                    last = s;
                }
                AddOutcome::Nop => {}
                AddOutcome::Nan => {
                    nan = true;
                    return;
                }
            }
        }
    };
    match get_zset_mut(ctx, key)? {
        Some(z) => apply(z),
        None if f.xx => {}
        None => {
            let mut z = ZsetValue::new_for(a[i + 1].len(), &lim);
            apply(&mut z);
            if !z.is_empty() {
                ctx.set(key, Value::Zset(Box::new(z)));
            }
        }
    }
    if added + updated > 0 {
        ctx.touch(key);
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if nan {
        return Err(Reply::error("ERR resulting score is not a number (NaN)"));
    }
    ctx.dirty += added + updated;
    Ok(if f.incr {
        if processed > 0 {
            Reply::Double(last)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if ch { added + updated } else { added } as i64)
    })
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`
fn zadd(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zadd_generic(ctx, a, false)
}

/// `ZINCRBY key increment member`
fn zincrby(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zadd_generic(ctx, a, true)
}

/// `ZREM key member [member ...]`
fn zrem(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let Some(z) = get_zset_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let mut deleted = 0;
    for m in &a[2..] {
        if z.remove(m).is_some() {
            deleted += 1;
        }
        if z.is_empty() {
            break;
        }
    }
    let emptied = z.is_empty();
    if deleted > 0 {
        ctx.notify(notify::ZSET, "zrem", key);
        ctx.touch(key);
        if emptied {
            ctx.remove(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.dirty += deleted;
    }
    Ok(Reply::Int(deleted as i64))
}

// ----- reads -----

/// `ZCARD key`
fn zcard(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        get_zset(ctx, a[1])?.map_or(0, |z| z.len()) as i64
    ))
}

/// `ZCOUNT key min max`
fn zcount(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let r = parse_score_range(a[2], a[3])?;
    let Some(z) = get_zset(ctx, a[1])? else {
        return Ok(Reply::Int(0));
    };
    let (lo, hi) = z.score_span(&r);
    Ok(Reply::Int((hi - lo) as i64))
}

/// `ZLEXCOUNT key min max`
fn zlexcount(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let r = parse_lex_range(a[2], a[3])?;
    let Some(z) = get_zset(ctx, a[1])? else {
        return Ok(Reply::Int(0));
    };
    let (lo, hi) = z.lex_span(&r, false);
    Ok(Reply::Int((hi - lo) as i64))
}

/// `ZSCORE key member`
fn zscore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(get_zset(ctx, a[1])?
        .and_then(|z| z.score(a[2]))
        .map_or(Reply::Nil, Reply::Double))
}

/// `ZMSCORE key member [member ...]`
fn zmscore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let z = get_zset(ctx, a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Nil, Reply::Double))
            .collect(),
    ))
}

fn zrank_generic(ctx: &mut Ctx, a: &[&[u8]], rev: bool) -> R {
    if a.len() > 4 {
        return Err(err::arity(if rev { "zrevrank" } else { "zrank" }));
    }
    let withscore = a.len() == 4;
    if withscore && !is(a[3], "withscore") {
        return Err(err::syntax());
    }
    let missing = if withscore {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    let Some(z) = get_zset(ctx, a[1])? else {
        return Ok(missing);
    };
    Ok(match z.rank(a[2], rev) {
        None => missing,
        Some((r, s)) if withscore => Reply::Array(vec![Reply::Int(r as i64), Reply::Double(s)]),
        Some((r, _)) => Reply::Int(r as i64),
    })
}

/// `ZRANK key member [WITHSCORE]`
fn zrank(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrank_generic(ctx, a, false)
}

/// `ZREVRANK key member [WITHSCORE]`
fn zrevrank(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrank_generic(ctx, a, true)
}

// ----- ZRANGE family -----

#[derive(Clone, Copy, PartialEq)]
enum RangeBy {
    Auto,
    Rank,
    Score,
    Lex,
}

/// What a ZRANGE-style request selects.
enum Span {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The ascending ranks `lo..hi` of the members `span` selects (skipping
/// `offset`, at most `limit` when not negative, for score and lex spans);
/// the reply lists them from `hi` down when `rev`.
fn select_ranks(z: &ZsetValue, span: &Span, rev: bool, offset: i64, limit: i64) -> (usize, usize) {
    let (lo, hi) = match span {
        Span::Rank(start, stop) => {
            let Some((start, end)) = rank_range(*start, *stop, z.len()) else {
                return (0, 0);
            };
            let n = z.len();
            return if rev {
                (n - 1 - end, n - start)
            } else {
                (start, end + 1)
            };
        }
        Span::Score(sr) => z.score_span(sr),
        Span::Lex(lr) => z.lex_span(lr, rev),
    };
    if offset < 0 || (offset > 0 && offset as usize >= z.len()) {
        return (0, 0);
    }
    let avail = (hi - lo).saturating_sub(offset as usize);
    let take = if limit < 0 {
        avail
    } else {
        avail.min(limit as usize)
    };
    if take == 0 {
        return (0, 0);
    }
    if rev {
        (hi - offset as usize - take, hi - offset as usize)
    } else {
        (lo + offset as usize, lo + offset as usize + take)
    }
}

/// The reply listing ranks `lo..hi` of `z` (from the top when `rev`), built
/// as the members are visited: short members go inline into their `Reply`,
/// with no copy in between.
fn range_reply(
    ctx: &Ctx,
    z: &ZsetValue,
    (lo, hi): (usize, usize),
    rev: bool,
    withscores: bool,
) -> Reply {
    let n = hi.saturating_sub(lo);
    let resp3 = ctx.cl.resp >= 3;
    let mut out = Vec::with_capacity(if withscores && !resp3 { 2 * n } else { n });
    z.visit(lo, hi, rev, |m, s| {
        if !withscores {
            out.push(Reply::bulk(m));
        } else if resp3 {
            out.push(Reply::Array(vec![Reply::bulk(m), Reply::Double(s)]));
        } else {
            out.push(Reply::bulk(m));
            out.push(Reply::Double(s));
        }
    });
    Reply::Array(out)
}

/// Redis's `zrangeGenericCommand`: argv from `at` is `key min max [options]`.
fn zrange_generic(
    ctx: &mut Ctx,
    a: &[&[u8]],
    at: usize,
    store: Option<&[u8]>,
    mut by: RangeBy,
    mut rev: Option<bool>,
) -> R {
    let key = a[at];
    let (mut minidx, mut maxidx) = (at + 1, at + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = a[j];
        if store.is_none() && is(o, "withscores") {
            withscores = true;
        } else if is(o, "limit") && left >= 2 {
            offset = parse_long(a[j + 1])?;
            limit = parse_long(a[j + 2])?;
            j += 2;
        } else if rev.is_none() && is(o, "rev") {
            rev = Some(true);
        } else if by == RangeBy::Auto && is(o, "bylex") {
            by = RangeBy::Lex;
        } else if by == RangeBy::Auto && is(o, "byscore") {
            by = RangeBy::Score;
        } else {
            return Err(err::syntax());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if by == RangeBy::Auto {
        by = RangeBy::Rank;
    }
    if limit != -1 && by == RangeBy::Rank {
        return Err(Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && by == RangeBy::Lex {
        return Err(Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    if rev && by != RangeBy::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let span = match by {
        RangeBy::Score => Span::Score(parse_score_range(a[minidx], a[maxidx])?),
        RangeBy::Lex => Span::Lex(parse_lex_range(a[minidx], a[maxidx])?),
        _ => Span::Rank(parse_long(a[minidx])?, parse_long(a[maxidx])?),
    };
    let Some(dst) = store else {
        return Ok(match get_zset(ctx, key)? {
            Some(z) => range_reply(
                ctx,
                z,
                select_ranks(z, &span, rev, offset, limit),
                rev,
                withscores,
            ),
            None => Reply::Array(Vec::new()),
        });
    };
    let mut items = Vec::new();
    if let Some(z) = get_zset(ctx, key)? {
        let (lo, hi) = select_ranks(z, &span, rev, offset, limit);
        items.reserve(hi.saturating_sub(lo));
        z.visit(lo, hi, rev, |m, s| items.push((m.to_vec(), s)));
    }
    // Redis 7.0 starts the destination as a listpack unless a rank range is
    // known to be too long, and adds the members in reply order, converting
    // on the way: which -0 scores survive depends on it, so the same steps
    // are taken here.
    let lim = zset_limits(ctx);
    let mut z = if by == RangeBy::Rank && items.len() > lim.max_entries {
        ZsetValue::new_skiplist()
    } else {
        ZsetValue::new_listpack()
    };
    for (m, s) in &items {
        z.add(m, *s, AddFlags::default(), &lim);
    }
    store_value(ctx, dst, z, "zrangestore")
}

/// Stores `items` (in order) under `dst`, or deletes `dst` when empty; the
/// reply is the count.
fn store_zset(ctx: &mut Ctx, dst: &[u8], items: Vec<(Vec<u8>, f64)>, event: &'static str) -> R {
    let lim = zset_limits(ctx);
    store_value(ctx, dst, ZsetValue::from_sorted(items, &lim), event)
}

/// Stores `z` under `dst`, or deletes `dst` when `z` is empty; the reply is
/// its size.
fn store_value(ctx: &mut Ctx, dst: &[u8], z: ZsetValue, event: &'static str) -> R {
    let n = z.len();
    if n > 0 {
        ctx.set(dst, Value::Zset(Box::new(z)));
        ctx.notify(notify::ZSET, event, dst);
        ctx.dirty += 1;
    } else if ctx.remove(dst).is_some() {
        ctx.notify(notify::GENERIC, "del", dst);
        ctx.dirty += 1;
    }
    Ok(Reply::Int(n as i64))
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
fn zrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 1, None, RangeBy::Auto, None)
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`
fn zrangestore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 2, Some(a[1]), RangeBy::Auto, None)
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`
fn zrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 1, None, RangeBy::Score, Some(false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`
fn zrevrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 1, None, RangeBy::Score, Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`
fn zrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 1, None, RangeBy::Lex, Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`
fn zrevrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 1, None, RangeBy::Lex, Some(true))
}

/// `ZREVRANGE key start stop [WITHSCORES]`
fn zrevrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zrange_generic(ctx, a, 1, None, RangeBy::Rank, Some(true))
}

// ----- ZREMRANGEBY* -----

fn zremrange_generic(ctx: &mut Ctx, a: &[&[u8]], by: RangeBy) -> R {
    let key = a[1];
    let (mut rank, mut sr, mut lr) = ((0, 0), None, None);
    match by {
        RangeBy::Score => sr = Some(parse_score_range(a[2], a[3])?),
        RangeBy::Lex => lr = Some(parse_lex_range(a[2], a[3])?),
        _ => rank = (parse_long(a[2])?, parse_long(a[3])?),
    }
    let Some(z) = get_zset_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let (lo, hi) = match (by, &sr, &lr) {
        (RangeBy::Score, Some(sr), _) => z.score_span(sr),
        (RangeBy::Lex, _, Some(lr)) => z.lex_span(lr, false),
        _ => match rank_range(rank.0, rank.1, z.len()) {
            Some((s, e)) => (s, e + 1),
            None => return Ok(Reply::Int(0)),
        },
    };
    let deleted = z.remove_span(lo, hi);
    let emptied = z.is_empty();
    if deleted > 0 {
        let event = match by {
            RangeBy::Score => "zremrangebyscore",
            RangeBy::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.touch(key);
        ctx.notify(notify::ZSET, event, key);
        if emptied {
            ctx.remove(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    ctx.dirty += deleted as u64;
    Ok(Reply::Int(deleted as i64))
}

/// `ZREMRANGEBYRANK key start stop`
fn zremrangebyrank(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zremrange_generic(ctx, a, RangeBy::Rank)
}

/// `ZREMRANGEBYSCORE key min max`
fn zremrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zremrange_generic(ctx, a, RangeBy::Score)
}

/// `ZREMRANGEBYLEX key min max`
fn zremrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zremrange_generic(ctx, a, RangeBy::Lex)
}

// ----- pops -----

/// Pops up to `count` members from `key` (a live sorted set), recording the
/// event, the deletion of an emptied key and the dirty count.
pub(crate) fn pop_from(ctx: &mut Ctx, key: &[u8], max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let Ok(Some(z)) = get_zset_mut(ctx, key) else {
        return Vec::new();
    };
    let n = count.min(z.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.extend(z.pop(max));
    }
    let emptied = z.is_empty();
    if !out.is_empty() {
        ctx.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        ctx.dirty += out.len() as u64;
        if emptied {
            ctx.remove(key);
            ctx.notify(notify::GENERIC, "del", key);
        }
        ctx.touch(key);
    }
    out
}

fn zpop_generic(ctx: &mut Ctx, a: &[&[u8]], max: bool) -> R {
    if a.len() > 3 {
        return Err(err::syntax());
    }
    let count = if a.len() == 3 {
        Some(positive_long(a[2], None)? as usize)
    } else {
        None
    };
    if get_zset(ctx, a[1])?.is_none() || count == Some(0) {
        return Ok(Reply::Array(Vec::new()));
    }
    let items = pop_from(ctx, a[1], max, count.unwrap_or(1));
    Ok(match count {
        // a single pop is a flat pair in every protocol
        None => {
            let mut v = Vec::with_capacity(2);
            for (m, s) in items {
                v.push(Reply::bulk_vec(m));
                v.push(Reply::Double(s));
            }
            Reply::Array(v)
        }
        Some(_) => pairs_reply(ctx, items),
    })
}

/// `ZPOPMIN key [count]`
fn zpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zpop_generic(ctx, a, false)
}

/// `ZPOPMAX key [count]`
fn zpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zpop_generic(ctx, a, true)
}

/// `ZMPOP numkeys key [key ...] <MIN | MAX> [COUNT count]`
pub(crate) fn zmpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let numkeys = range_long(a[1], 1, i64::MAX, Some("numkeys should be greater than 0"))? as usize;
    let where_idx = 2usize.saturating_add(numkeys);
    if where_idx >= a.len() {
        return Err(err::syntax());
    }
    let max = if is(a[where_idx], "min") {
        false
    } else if is(a[where_idx], "max") {
        true
    } else {
        return Err(err::syntax());
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        if count.is_none() && is(a[j], "count") && j + 1 < a.len() {
            count = Some(range_long(
                a[j + 1],
                1,
                i64::MAX,
                Some("count should be greater than 0"),
            )? as usize);
            j += 2;
        } else {
            return Err(err::syntax());
        }
    }
    let count = count.unwrap_or(1);
    for &key in &a[2..where_idx] {
        if get_zset(ctx, key)?.is_none() {
            continue;
        }
        let items = pop_from(ctx, key, max, count);
        let n = items.len();
        ctx.propagate_as(vec![vec![
            if max {
                b"ZPOPMAX".to_vec()
            } else {
                b"ZPOPMIN".to_vec()
            },
            key.to_vec(),
            n.to_string().into_bytes(),
        ]]);
        let pairs = items
            .into_iter()
            .map(|(m, s)| Reply::Array(vec![Reply::bulk_vec(m), Reply::Double(s)]))
            .collect();
        return Ok(Reply::Array(vec![Reply::bulk(key), Reply::Array(pairs)]));
    }
    Ok(Reply::NilArray)
}

// ----- ZRANDMEMBER -----

/// `ZRANDMEMBER key [count [WITHSCORES]]`
fn zrandmember(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() == 2 {
        return Ok(match get_zset(ctx, a[1])? {
            None => Reply::Nil,
            Some(z) => Reply::bulk(z.slot(random_below(z.len() as u64) as usize).0),
        });
    }
    let l = range_long(a[2], -i64::MAX, i64::MAX, None)?;
    if a.len() > 4 || (a.len() == 4 && !is(a[3], "withscores")) {
        return Err(err::syntax());
    }
    let withscores = a.len() == 4;
    if withscores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&l) {
        return Err(Reply::error("ERR value is out of range"));
    }
    let Some(z) = get_zset(ctx, a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let n = z.len();
    let count = l.unsigned_abs();
    let pick = |i: usize| {
        let (m, s) = z.slot(i);
        (m.to_vec(), s)
    };
    let items: Vec<(Vec<u8>, f64)> = if count == 0 {
        Vec::new()
    } else if l < 0 || count == 1 {
        // With repetitions. Capacity is capped: a huge count grows as it goes.
        let mut v = Vec::with_capacity(count.min(1 << 16) as usize);
        for _ in 0..count {
            v.push(pick(random_below(n as u64) as usize));
        }
        v
    } else if count >= n as u64 {
        // the whole set, highest first (Redis's zset iterator runs backwards)
        let mut v = Vec::with_capacity(n);
        z.visit(0, n, true, |m, s| v.push((m.to_vec(), s)));
        v
    } else {
        sample_distinct(n, count as usize)
            .into_iter()
            .map(pick)
            .collect()
    };
    Ok(members_reply(ctx, items, withscores))
}

// ----- ZUNION / ZINTER / ZDIFF -----

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// An input of ZUNION & co: a sorted set, a set (scores 1) or nothing.
#[derive(Clone, Copy)]
enum Src<'a> {
    None,
    Z(&'a ZsetValue),
    S(&'a SetValue),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::None => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }

    fn same(&self, o: &Src) -> bool {
        match (self, o) {
            (Src::Z(a), Src::Z(b)) => std::ptr::eq(*a, *b),
            (Src::S(a), Src::S(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }

    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::None => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }

    /// Every member and its score, in the source's own order.
    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Src::None => {}
            Src::Z(z) => z.for_each(f),
            Src::S(s) => s.for_each(|m: Member| m.with_bytes(|b| f(b, 1.0))),
        }
    }
}

#[inline]
fn aggregate(target: &mut f64, val: f64, agg: Agg) {
    match agg {
        Agg::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Agg::Min => {
            if val < *target {
                *target = val
            }
        }
        Agg::Max => {
            if val > *target {
                *target = val
            }
        }
    }
}

/// Redis's `zunionInterDiffGenericCommand`.
fn zsetop_generic(
    ctx: &mut Ctx,
    a: &[&[u8]],
    name: &str,
    dst: Option<&[u8]>,
    at: usize,
    op: SetOp,
    card_only: bool,
) -> R {
    let setnum = parse_long(a[at])?;
    if setnum < 1 {
        return Err(Reply::Error(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if setnum > (a.len() - at - 1) as i64 {
        return Err(err::syntax());
    }
    let setnum = setnum as usize;
    let keys = &a[at + 1..at + 1 + setnum];
    let mut srcs: Vec<(Src, f64)> = Vec::with_capacity(setnum);
    for k in keys {
        srcs.push((
            match ctx.lookup(k) {
                None => Src::None,
                Some(Value::Zset(z)) => Src::Z(z),
                Some(Value::Set(s)) => Src::S(s),
                Some(_) => return Err(err::wrongtype()),
            },
            1.0,
        ));
    }
    let (mut agg, mut withscores, mut limit) = (Agg::Sum, false, 0usize);
    let mut j = at + 1 + setnum;
    while j < a.len() {
        let remaining = a.len() - j;
        let o = a[j];
        if op != SetOp::Diff && !card_only && remaining > setnum && is(o, "weights") {
            j += 1;
            for src in srcs.iter_mut() {
                src.1 = parse_f64(a[j])
                    .ok_or_else(|| Reply::error("ERR weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(o, "aggregate") {
            agg = if is(a[j + 1], "sum") {
                Agg::Sum
            } else if is(a[j + 1], "min") {
                Agg::Min
            } else if is(a[j + 1], "max") {
                Agg::Max
            } else {
                return Err(err::syntax());
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(o, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(o, "limit") {
            limit = positive_long(a[j + 1], Some("LIMIT can't be negative"))? as usize;
            j += 2;
        } else {
            return Err(err::syntax());
        }
    }
    if op != SetOp::Diff {
        // smallest first (a stable sort, as glibc's qsort is for these sizes)
        srcs.sort_by_key(|s| s.0.len());
    }
    let mut out: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut card = 0usize;
    match op {
        SetOp::Inter => {
            let (first, w0) = srcs[0];
            let mut stop = false;
            first.for_each(|m, s0| {
                if stop {
                    return;
                }
                let mut score = w0 * s0;
                if score.is_nan() {
                    score = 0.0;
                }
                for (src, w) in &srcs[1..] {
                    let v = if src.same(&first) {
                        Some(s0)
                    } else {
                        src.score(m)
                    };
                    match v {
                        Some(v) => aggregate(&mut score, v * w, agg),
                        None => return,
                    }
                }
                if card_only {
                    card += 1;
                    stop = limit != 0 && card >= limit;
                } else {
                    out.push((m.to_vec(), score));
                }
            });
            if card_only {
                return Ok(Reply::Int(card as i64));
            }
        }
        SetOp::Union => {
            let mut acc: hashbrown::HashMap<Vec<u8>, f64> = hashbrown::HashMap::new();
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                });
            }
            out = acc.into_iter().collect();
        }
        SetOp::Diff => {
            let first = srcs[0].0;
            if !srcs[1..].iter().any(|(s, _)| s.same(&first)) {
                first.for_each(|m, s| {
                    if !srcs[1..].iter().any(|(src, _)| src.score(m).is_some()) {
                        out.push((m.to_vec(), s));
                    }
                });
            }
        }
    }
    sort_entries(&mut out);
    match dst {
        Some(dst) => {
            let event = match op {
                SetOp::Union => "zunionstore",
                SetOp::Inter => "zinterstore",
                SetOp::Diff => "zdiffstore",
            };
            store_zset(ctx, dst, out, event)
        }
        None => Ok(members_reply(ctx, out, withscores)),
    }
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]`
fn zunion(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zunion", None, 1, SetOp::Union, false)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]`
fn zinter(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zinter", None, 1, SetOp::Inter, false)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`
fn zdiff(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zdiff", None, 1, SetOp::Diff, false)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`
fn zintercard(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zintercard", None, 1, SetOp::Inter, true)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]`
fn zunionstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zunionstore", Some(a[1]), 2, SetOp::Union, false)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]`
fn zinterstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zinterstore", Some(a[1]), 2, SetOp::Inter, false)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`
fn zdiffstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    zsetop_generic(ctx, a, "zdiffstore", Some(a[1]), 2, SetOp::Diff, false)
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`
fn zscan(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let cursor = crate::commands::keys::parse_cursor(a[2])?;
    let Some(z) = get_zset(ctx, a[1])? else {
        return Ok(empty_scan());
    };
    let opts = parse_scan_opts(a, 3, false)?;
    let mut items = Vec::new();
    let next = z.scan(cursor, opts.count, |m, score| {
        if opts.pattern.is_none_or(|p| glob_match(p, m)) {
            items.push(Reply::bulk(m));
            items.push(Reply::bulk_vec(score));
        }
    });
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(items),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_numbers_follow_strtod() {
        assert_eq!(range_number(b"1.5"), Some(1.5));
        assert_eq!(range_number(b" 2"), Some(2.0));
        assert_eq!(range_number(b""), Some(0.0));
        assert_eq!(range_number(b"1\x00junk"), Some(1.0));
        assert_eq!(range_number(b"inf"), Some(f64::INFINITY));
        assert_eq!(range_number(b"nan"), None);
        assert_eq!(range_number(b"1x"), None);
        assert_eq!(range_bound(b"(3"), Some((3.0, true)));
    }

    #[test]
    fn lex_items() {
        assert!(matches!(lex_bound(b"+"), Some(LexBound::Max)));
        assert!(matches!(lex_bound(b"-"), Some(LexBound::Min)));
        assert!(lex_bound(b"+a").is_none());
        assert!(lex_bound(b"a").is_none());
        assert!(lex_bound(b"").is_none());
        assert!(matches!(lex_bound(b"("), Some(LexBound::Excl(v)) if v.is_empty()));
    }

    fn client() -> (crate::Db, crate::Client) {
        let db = crate::Db::in_memory();
        let c = db.client();
        (db, c)
    }

    fn resp3(r: &Reply) -> String {
        String::from_utf8_lossy(&r.to_resp3()).into_owned()
    }

    #[test]
    fn zrank_withscore_is_redis_7_2() {
        let (_db, mut c) = client();
        c.execute(&["ZADD", "z", "1.5", "a", "2", "b"]);
        assert_eq!(
            c.execute(&["ZRANK", "z", "b", "WITHSCORE"]),
            Reply::Array(vec![Reply::Int(1), Reply::Double(2.0)])
        );
        assert_eq!(
            c.execute(&["ZREVRANK", "z", "b", "withscore"]),
            Reply::Array(vec![Reply::Int(0), Reply::Double(2.0)])
        );
        assert_eq!(
            c.execute(&["ZRANK", "z", "nosuch", "WITHSCORE"]),
            Reply::NilArray
        );
        assert_eq!(
            c.execute(&["ZRANK", "nokey", "a", "WITHSCORE"]),
            Reply::NilArray
        );
        assert_eq!(c.execute(&["ZRANK", "z", "a", "WITHSCORES"]), err::syntax());
        assert_eq!(
            c.execute(&["ZRANK", "z", "a", "WITHSCORE", "x"]),
            err::arity("zrank")
        );
        assert_eq!(
            c.execute(&["ZRANK", "z", "nosuch", "WITHSCORE"]).to_resp2(),
            b"*-1\r\n"
        );
        assert_eq!(
            c.execute(&["ZRANK", "z", "b", "WITHSCORE"]).to_resp2(),
            b"*2\r\n:1\r\n$1\r\n2\r\n"
        );
    }

    #[test]
    fn resp3_shapes() {
        let (_db, mut c) = client();
        c.execute(&["HELLO", "3"]);
        c.execute(&["ZADD", "z", "1", "a", "2.5", "b"]);
        assert_eq!(resp3(&c.execute(&["ZSCORE", "z", "b"])), ",2.5\r\n");
        assert_eq!(resp3(&c.execute(&["ZINCRBY", "z", "1", "a"])), ",2\r\n");
        assert_eq!(
            resp3(&c.execute(&["ZADD", "z", "INCR", "1", "a"])),
            ",3\r\n"
        );
        assert_eq!(
            resp3(&c.execute(&["ZADD", "z", "NX", "INCR", "1", "a"])),
            "_\r\n"
        );
        assert_eq!(
            resp3(&c.execute(&["ZMSCORE", "z", "a", "x"])),
            "*2\r\n,3\r\n_\r\n"
        );
        let pairs = "*2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n*2\r\n$1\r\na\r\n,3\r\n";
        assert_eq!(
            resp3(&c.execute(&["ZRANGE", "z", "0", "-1", "WITHSCORES"])),
            pairs
        );
        assert_eq!(
            resp3(&c.execute(&["ZUNION", "1", "z", "WITHSCORES"])),
            pairs
        );
        assert_eq!(
            resp3(&c.execute(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES"])),
            pairs
        );
        assert_eq!(
            resp3(&c.execute(&["ZRANDMEMBER", "z", "5", "WITHSCORES"])),
            "*2\r\n*2\r\n$1\r\na\r\n,3\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
        );
        assert_eq!(
            resp3(&c.execute(&["ZRANK", "z", "a", "WITHSCORE"])),
            "*2\r\n:1\r\n,3\r\n"
        );
        assert_eq!(
            resp3(&c.execute(&["ZRANK", "z", "x", "WITHSCORE"])),
            "_\r\n"
        );
        // single pops stay flat; counted pops are pairs; ZMPOP nests in both protocols
        assert_eq!(
            resp3(&c.execute(&["ZPOPMIN", "z"])),
            "*2\r\n$1\r\nb\r\n,2.5\r\n"
        );
        c.execute(&["ZADD", "z", "1", "x", "2", "y"]);
        assert_eq!(
            resp3(&c.execute(&["ZPOPMIN", "z", "1"])),
            "*1\r\n*2\r\n$1\r\nx\r\n,1\r\n"
        );
        assert_eq!(
            resp3(&c.execute(&["ZMPOP", "1", "z", "MIN"])),
            "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\ny\r\n,2\r\n"
        );
        assert_eq!(resp3(&c.execute(&["ZMPOP", "1", "nosuch", "MIN"])), "_\r\n");
        assert_eq!(resp3(&c.execute(&["SADD", "s", "a"])), ":1\r\n");
        assert_eq!(resp3(&c.execute(&["SMEMBERS", "s"])), "~1\r\n$1\r\na\r\n");
        assert_eq!(resp3(&c.execute(&["SPOP", "nosuch", "2"])), "~0\r\n");
        assert_eq!(
            resp3(&c.execute(&["SRANDMEMBER", "s", "2"])),
            "*1\r\n$1\r\na\r\n"
        );
    }

    #[test]
    fn ranks() {
        assert_eq!(rank_range(0, -1, 3), Some((0, 2)));
        assert_eq!(rank_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(rank_range(2, 1, 3), None);
        assert_eq!(rank_range(3, 5, 3), None);
        assert_eq!(rank_range(0, -4, 3), None);
    }
}
