//! Stream commands: XADD, XLEN, XRANGE/XREVRANGE, XDEL, XTRIM, XREAD,
//! XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO, XSETID.
//!
//! Argument parsing follows Redis 7.0's order (it decides which error a
//! bad call gets). Streams are not deleted when emptied (Redis keeps them).
//! Propagation is Redis's: XADD with the generated ID (and `~` trims
//! rewritten as exact ones), XREADGROUP and XCLAIM/XAUTOCLAIM as XCLAIM …
//! FORCE JUSTID LASTID / XGROUP SETID, so a replay is deterministic.
//! XREAD/XREADGROUP BLOCK register with the waiter registry with their
//! `$` IDs resolved (see `block_argv`).

use std::time::{Duration, Instant};

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::notify;
use crate::reply::Reply;
use crate::types::Value;
use crate::types::stream::{Group, StreamId, StreamValue, Trim};
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "stream", handler)
}

static XGROUP_SUBS: &[CommandSpec] = &[
    cmd(
        "xgroup|create",
        -5,
        WRITE | DENYOOM,
        (2, 2, 1),
        xgroup_create,
    ),
    cmd("xgroup|setid", -5, WRITE, (2, 2, 1), xgroup_setid),
    cmd("xgroup|destroy", 4, WRITE, (2, 2, 1), xgroup_destroy),
    cmd(
        "xgroup|createconsumer",
        5,
        WRITE | DENYOOM,
        (2, 2, 1),
        xgroup_createconsumer,
    ),
    cmd(
        "xgroup|delconsumer",
        5,
        WRITE,
        (2, 2, 1),
        xgroup_delconsumer,
    ),
    cmd(
        "xgroup|help",
        2,
        LOADING | STALE | NO_KEYS,
        (0, 0, 0),
        xgroup_help,
    ),
];

static XINFO_SUBS: &[CommandSpec] = &[
    cmd("xinfo|consumers", 4, READONLY, (2, 2, 1), xinfo_consumers),
    cmd("xinfo|groups", 3, READONLY, (2, 2, 1), xinfo_groups),
    cmd("xinfo|stream", -3, READONLY, (2, 2, 1), xinfo_stream),
    cmd(
        "xinfo|help",
        2,
        LOADING | STALE | NO_KEYS,
        (0, 0, 0),
        xinfo_help,
    ),
];

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("xadd", -5, WRITE | DENYOOM | FAST, (1, 1, 1), xadd),
    cmd("xlen", 2, READONLY | FAST, (1, 1, 1), xlen),
    cmd("xrange", -4, READONLY, (1, 1, 1), xrange),
    cmd("xrevrange", -4, READONLY, (1, 1, 1), xrevrange),
    cmd("xdel", -3, WRITE | FAST, (1, 1, 1), xdel),
    cmd("xtrim", -4, WRITE, (1, 1, 1), xtrim),
    CommandSpec::new("xread", -4, READONLY | BLOCKING, (0, 0, 0), "stream", xread)
        .with_getkeys(xread_keys),
    CommandSpec::new(
        "xreadgroup",
        -7,
        WRITE | BLOCKING,
        (0, 0, 0),
        "stream",
        xread,
    )
    .with_getkeys(xread_keys),
    cmd("xack", -4, WRITE | FAST, (1, 1, 1), xack),
    cmd("xpending", -3, READONLY, (1, 1, 1), xpending),
    cmd("xclaim", -6, WRITE | FAST, (1, 1, 1), xclaim),
    cmd("xautoclaim", -6, WRITE | FAST, (1, 1, 1), xautoclaim),
    cmd("xsetid", -3, WRITE | DENYOOM | FAST, (1, 1, 1), xsetid),
    CommandSpec::container("xgroup", 0, "stream", XGROUP_SUBS),
    CommandSpec::container("xinfo", 0, "stream", XINFO_SUBS),
];

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";

// ----- helpers -----

fn stream<'c>(ctx: &'c Ctx, key: &[u8]) -> Result<Option<&'c StreamValue>, Reply> {
    ctx.typed(key)
}

fn stream_mut<'c>(ctx: &'c mut Ctx, key: &[u8]) -> Result<Option<&'c mut StreamValue>, Reply> {
    ctx.typed_mut(key)
}

fn lossy(b: &[u8]) -> String {
    let b = match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    };
    String::from_utf8_lossy(b).into_owned()
}

fn get_ll(arg: &[u8], msg: Option<&str>) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| msg.map_or_else(err::not_int, Reply::error))
}

/// C's `strtoull(s, &end, 10)` accepting the whole string (Redis's
/// `string2ull` fallback): leading spaces and a `+` are fine.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return (v >= 0).then_some(v as u64);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    if i >= s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Redis's `streamGenericParseIDOrReply`. `seq_star`: XADD's `ms-*` form is
/// allowed; the bool says whether the sequence was given.
fn parse_id_full(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    seq_star: bool,
) -> Result<(StreamId, bool), Reply> {
    let invalid = || Reply::error(INVALID_ID);
    if arg.len() > 127 {
        return Err(invalid());
    }
    // C string semantics: the argument ends at the first NUL
    let buf = match arg.iter().position(|&c| c == 0) {
        Some(i) => &arg[..i],
        None => arg,
    };
    if buf == b"-" || buf == b"+" {
        if strict {
            return Err(invalid());
        }
        return Ok((
            if buf == b"-" {
                StreamId::ZERO
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms_part, seq_part) = match buf.iter().position(|&c| c == b'-') {
        Some(i) => (&buf[..i], Some(&buf[i + 1..])),
        None => (buf, None),
    };
    let ms = string2ull(ms_part).ok_or_else(invalid)?;
    match seq_part {
        Some(b"*") if seq_star => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, string2ull(s).ok_or_else(invalid)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(arg, missing_seq, false, false).map(|r| r.0)
}

fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(arg, missing_seq, true, false).map(|r| r.0)
}

/// Redis's `streamParseIntervalIDOrReply`: `(id` excludes.
fn parse_interval(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Reply> {
    if arg.len() > 1 && arg[0] == b'(' {
        Ok((parse_strict_id(&arg[1..], missing_seq)?, true))
    } else {
        Ok((parse_id(arg, missing_seq)?, false))
    }
}

fn interval_start(arg: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = parse_interval(arg, 0)?;
    if ex {
        return id
            .incr()
            .ok_or_else(|| Reply::error("ERR invalid start ID for the interval"));
    }
    Ok(id)
}

fn interval_end(arg: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = parse_interval(arg, u64::MAX)?;
    if ex {
        return id
            .decr()
            .ok_or_else(|| Reply::error("ERR invalid end ID for the interval"));
    }
    Ok(id)
}

fn id_reply(id: StreamId) -> Reply {
    Reply::bulk(id.to_bytes())
}

fn entry_reply(id: StreamId, fields: &[&[u8]]) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(fields.iter().map(Reply::bulk).collect()),
    ])
}

fn entries_reply(v: Vec<(StreamId, Vec<&[u8]>)>) -> Reply {
    Reply::Array(v.iter().map(|(id, f)| entry_reply(*id, f)).collect())
}

fn nogroup_key_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::Error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        lossy(key),
        lossy(group)
    ))
}

fn v(b: &[u8]) -> Vec<u8> {
    b.to_vec()
}

/// Redis's `streamPropagateXCLAIM`.
fn xclaim_prop(key: &[u8], group: &[u8], g: &Group, id: StreamId) -> Vec<Vec<u8>> {
    let n = &g.pel[&id];
    vec![
        v(b"XCLAIM"),
        v(key),
        v(group),
        n.consumer.to_vec(),
        v(b"0"),
        id.to_bytes(),
        v(b"TIME"),
        n.delivery_time.to_string().into_bytes(),
        v(b"RETRYCOUNT"),
        n.delivery_count.to_string().into_bytes(),
        v(b"FORCE"),
        v(b"JUSTID"),
        v(b"LASTID"),
        g.last_id.to_bytes(),
    ]
}

/// Redis's `streamPropagateGroupID`.
fn setid_prop(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        v(b"XGROUP"),
        v(b"SETID"),
        v(key),
        v(group),
        g.last_id.to_bytes(),
        v(b"ENTRIESREAD"),
        g.entries_read.to_string().into_bytes(),
    ]
}

// ----- XADD / XTRIM -----

struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: i64,
    /// argv position of the MAXLEN/MINID value.
    arg_idx: usize,
    no_mkstream: bool,
    id: Option<(StreamId, bool)>,
    /// argv positions of LIMIT options.
    limit_at: Vec<usize>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`: the options and, for XADD,
/// the ID position.
fn parse_add_trim(a: &[&[u8]], xadd: bool) -> Result<(TrimArgs, usize), Reply> {
    let mut t = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        arg_idx: 0,
        no_mkstream: false,
        id: None,
        limit_at: Vec::new(),
    };
    let mut limit_given = false;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let opt = a[i];
        if xadd && opt == b"*" {
            break;
        } else if (opt.eq_ignore_ascii_case(b"maxlen") || opt.eq_ignore_ascii_case(b"minid"))
            && more > 0
        {
            if t.trim.is_some() {
                return Err(Reply::error(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            t.approx = false;
            let next = a[i + 1];
            if more >= 2 && next == b"~" {
                t.approx = true;
                i += 1;
            } else if more >= 2 && next == b"=" {
                i += 1;
            }
            if opt.eq_ignore_ascii_case(b"maxlen") {
                let n = get_ll(a[i + 1], None)?;
                if n < 0 {
                    return Err(Reply::error("ERR The MAXLEN argument must be >= 0."));
                }
                t.trim = Some(Trim::MaxLen(n as u64));
            } else {
                t.trim = Some(Trim::MinId(parse_strict_id(a[i + 1], 0)?));
            }
            i += 1;
            t.arg_idx = i;
        } else if opt.eq_ignore_ascii_case(b"limit") && more > 0 {
            t.limit = get_ll(a[i + 1], None)?;
            if t.limit < 0 {
                return Err(Reply::error("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            t.limit_at.push(i);
            i += 1;
        } else if xadd && opt.eq_ignore_ascii_case(b"nomkstream") {
            t.no_mkstream = true;
        } else if xadd {
            t.id = Some(parse_id_full(opt, 0, true, true)?);
            break;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    if t.limit != 0 && t.trim.is_none() {
        return Err(Reply::error(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && t.trim.is_none() {
        return Err(Reply::error(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !t.approx {
            return Err(Reply::error(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
    } else if t.approx {
        t.limit = 100 * crate::types::stream::NODE_MAX_ENTRIES as i64;
    } else {
        t.limit = 0;
    }
    Ok((t, i))
}

/// The propagated form of an approximate trim: `~` becomes `=`, the value
/// the length or first ID reached, and LIMIT is dropped (Redis keeps it and
/// ignores it when loading; dropping it loads the same everywhere).
fn rewrite_trim(a: &[&[u8]], t: &TrimArgs, s: &StreamValue) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(a.len());
    for (i, x) in a.iter().enumerate() {
        if t.limit_at.iter().any(|&l| i == l || i == l + 1) {
            continue;
        }
        if i + 1 == t.arg_idx {
            out.push(v(b"="));
        } else if i == t.arg_idx {
            out.push(match t.trim {
                Some(Trim::MaxLen(_)) => s.len().to_string().into_bytes(),
                _ => s.first_id.to_bytes(),
            });
        } else {
            out.push(x.to_vec());
        }
    }
    out
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [field value ...]`
fn xadd(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (t, idpos) = parse_add_trim(a, true)?;
    let field_pos = idpos + 1;
    if a.len() < field_pos + 2 || (a.len() - field_pos) % 2 == 1 {
        return Err(err::arity("xadd"));
    }
    if let Some((id, true)) = t.id
        && id.is_zero()
    {
        return Err(Reply::error(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let key = a[1];
    let now = ctx.now();
    let exists = match stream(ctx, key)? {
        Some(_) => true,
        None if t.no_mkstream => return Ok(Reply::Nil),
        None => false,
    };
    let mut fresh = StreamValue::new();
    let s: &mut StreamValue = if exists {
        stream_mut(ctx, key)?.expect("exists")
    } else {
        &mut fresh
    };
    if s.last_id == StreamId::MAX {
        return Err(Reply::error(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = match t.id {
        Some((id, true)) => id,
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                match s.last_id.incr() {
                    Some(n) if s.last_id.seq != u64::MAX => n,
                    _ => return Err(edom()),
                }
            } else {
                id
            }
        }
        None => {
            if now > s.last_id.ms {
                StreamId::new(now, 0)
            } else {
                s.last_id.incr().ok_or_else(edom)?
            }
        }
    };
    if id <= s.last_id {
        return Err(edom());
    }
    s.append(id, &a[field_pos..]);
    let mut trimmed = 0;
    if let Some(how) = t.trim {
        trimmed = s.trim(how, t.approx, t.limit as u64);
    }
    let mut prop: Vec<Vec<u8>> = if t.trim.is_some() && t.approx {
        rewrite_trim(a, &t, s)
    } else {
        a.iter().map(|x| x.to_vec()).collect()
    };
    if !exists {
        ctx.set(key, Value::Stream(Box::new(fresh)));
    }
    if !matches!(t.id, Some((_, true))) {
        // the ID argument moves when LIMIT was dropped: find it from the end
        let id_at = prop.len() - (a.len() - idpos);
        prop[id_at] = id.to_bytes();
    }
    ctx.propagate_as(vec![prop]);
    ctx.touch(key);
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    ctx.dirty += 1;
    Ok(id_reply(id))
}

fn edom() -> Reply {
    Reply::error("ERR The ID specified in XADD is equal or smaller than the target stream top item")
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`
fn xtrim(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (t, _) = parse_add_trim(a, false)?;
    let key = a[1];
    let Some(s) = stream_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let deleted = s.trim(t.trim.expect("checked"), t.approx, t.limit as u64);
    if deleted > 0 {
        if t.approx {
            let p = rewrite_trim(a, &t, s);
            ctx.propagate_as(vec![p]);
        }
        ctx.notify(notify::STREAM, "xtrim", key);
        ctx.touch(key);
        ctx.dirty += deleted;
    }
    Ok(Reply::Int(deleted as i64))
}

// ----- reads -----

/// `XLEN key`
fn xlen(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(stream(ctx, a[1])?.map_or(0, |s| s.len() as i64)))
}

fn range_generic(ctx: &mut Ctx, a: &[&[u8]], rev: bool) -> R {
    let (sarg, earg) = if rev { (a[3], a[2]) } else { (a[2], a[3]) };
    let start = interval_start(sarg)?;
    let end = interval_end(earg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < a.len() {
        if a[j].eq_ignore_ascii_case(b"count") && j + 1 < a.len() {
            count = get_ll(a[j + 1], None)?.max(0);
            j += 2;
        } else {
            return Err(err::syntax());
        }
    }
    let Some(s) = stream(ctx, a[1])? else {
        return Ok(Reply::Array(vec![]));
    };
    if count == 0 {
        return Ok(Reply::NilArray);
    }
    let count = if count == -1 { 0 } else { count as usize };
    Ok(entries_reply(s.range(start, end, rev, count)))
}

/// `XRANGE key start end [COUNT count]`
fn xrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    range_generic(ctx, a, false)
}

/// `XREVRANGE key end start [COUNT count]`
fn xrevrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    range_generic(ctx, a, true)
}

/// `XDEL key id [id ...]`
fn xdel(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    if stream(ctx, key)?.is_none() {
        return Ok(Reply::Int(0));
    }
    let ids = a[2..]
        .iter()
        .map(|x| parse_strict_id(x, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx, key)?.expect("exists");
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        ctx.touch(key);
        ctx.notify(notify::STREAM, "xdel", key);
        ctx.dirty += deleted as u64;
    }
    Ok(Reply::Int(deleted as i64))
}

// ----- XREAD / XREADGROUP -----

struct XreadArgs<'a> {
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    count: i64,
    count_given: bool,
    /// Milliseconds; None = no BLOCK.
    block: Option<i64>,
    streams_at: usize,
    n: usize,
}

fn parse_xread<'a>(a: &[&'a [u8]]) -> Result<XreadArgs<'a>, Reply> {
    let xreadgroup = a[0].len() == 10;
    let mut x = XreadArgs {
        group: None,
        noack: false,
        count: 0,
        count_given: false,
        block: None,
        streams_at: 0,
        n: 0,
    };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let o = a[i];
        if o.eq_ignore_ascii_case(b"block") && more > 0 {
            i += 1;
            let t = get_ll(a[i], Some("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(Reply::error("ERR timeout is negative"));
            }
            x.block = Some(t);
        } else if o.eq_ignore_ascii_case(b"count") && more > 0 {
            i += 1;
            x.count = get_ll(a[i], None)?.max(0);
            x.count_given = true;
        } else if o.eq_ignore_ascii_case(b"streams") && more > 0 {
            x.streams_at = i + 1;
            let n = a.len() - x.streams_at;
            if !n.is_multiple_of(2) {
                // Redis 7.0 names XREAD and '$' for XREADGROUP too
                return Err(Reply::error(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            x.n = n / 2;
            break;
        } else if o.eq_ignore_ascii_case(b"group") && more >= 2 {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            x.group = Some((a[i + 1], a[i + 2]));
            i += 2;
        } else if o.eq_ignore_ascii_case(b"noack") {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            x.noack = true;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    if x.streams_at == 0 {
        return Err(err::syntax());
    }
    if xreadgroup && x.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(x)
}

/// Key positions of XREAD / XREADGROUP (the keys after STREAMS).
fn xread_keys(a: &[&[u8]]) -> Vec<usize> {
    match parse_xread(a) {
        Ok(x) => (x.streams_at..x.streams_at + x.n).collect(),
        Err(_) => Vec::new(),
    }
}

/// The special IDs of XREAD / XREADGROUP.
#[derive(Clone, Copy)]
enum ReadFrom {
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
}

/// `XREAD [COUNT count] [BLOCK ms] STREAMS key [key ...] id [id ...]`
/// and `XREADGROUP GROUP group consumer [COUNT count] [BLOCK ms] [NOACK] STREAMS key [key ...] id [id ...]`
fn xread(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let x = parse_xread(a)?;
    let xreadgroup = x.group.is_some();
    let deadline = match x.block {
        Some(ms) if ms > 0 => {
            let now = ctx.now() as i64;
            if ms > i64::MAX - now {
                return Err(Reply::error("ERR timeout is out of range"));
            }
            Some(Instant::now() + Duration::from_millis(ms as u64))
        }
        _ => None,
    };
    let keys = &a[x.streams_at..x.streams_at + x.n];
    let ids = &a[x.streams_at + x.n..];
    // While serving a waiter only the ready key may be looked at.
    let ready = ctx.ready_key.clone();
    let mut from: Vec<Option<ReadFrom>> = vec![None; x.n];
    for i in 0..x.n {
        if ready.as_deref().is_some_and(|r| r != keys[i]) {
            continue;
        }
        let s = match stream(ctx, keys[i]) {
            // a blocked XREADGROUP whose stream was deleted or replaced by
            // another type is told so (redis-server 7.0's reply)
            Err(_) | Ok(None) if ready.is_some() && x.group.is_some() => {
                return Err(Reply::error("UNBLOCKED the stream key no longer exists"));
            }
            r => r?,
        };
        if let Some((g, _)) = x.group
            && s.is_none_or(|s| !s.groups.contains_key(g))
        {
            if ready.is_some() {
                if s.is_none() {
                    return Ok(Reply::NilArray);
                }
                return Err(Reply::error(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                ));
            }
            return Err(Reply::Error(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                lossy(keys[i]),
                lossy(g)
            )));
        }
        from[i] = Some(if ids[i] == b"$" {
            if xreadgroup {
                return Err(Reply::error(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            ReadFrom::After(s.map_or(StreamId::ZERO, |s| s.last_id))
        } else if ids[i] == b">" {
            if !xreadgroup {
                return Err(Reply::error(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            ReadFrom::New
        } else {
            ReadFrom::After(parse_strict_id(ids[i], 0)?)
        });
    }
    let count = if ready.is_some() && !x.count_given {
        1000
    } else {
        x.count as usize
    };
    let now = ctx.now();
    let mut out: Vec<(Reply, Reply)> = Vec::new();
    let mut prop: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..x.n {
        let Some(f) = from[i] else { continue };
        let key = keys[i];
        match x.group {
            None => {
                let Some(s) = stream(ctx, key)? else { continue };
                let ReadFrom::After(gt) = f else { continue };
                if s.is_empty() || s.last_entry_id() <= gt {
                    continue;
                }
                let Some(start) = gt.incr() else { continue };
                let r = entries_reply(s.range(start, StreamId::MAX, false, count));
                out.push((Reply::bulk(key), r));
            }
            Some((gname, cname)) => {
                let noack = x.noack;
                let Some(s) = stream_mut(ctx, key)? else {
                    continue;
                };
                let last_valid = s.last_entry_id();
                let has_entries = !s.is_empty();
                let g = s.groups.get_mut(gname).expect("checked");
                let (serve, history, gt) = match f {
                    ReadFrom::After(id) => (true, true, id),
                    ReadFrom::New => (has_entries && last_valid > g.last_id, false, g.last_id),
                };
                // Redis 7.0 creates (and refreshes) the consumer only when it serves it
                if !serve {
                    continue;
                }
                let created = g.create_consumer(cname, now);
                if let Some(c) = g.consumers.get_mut(cname) {
                    c.seen_time = now;
                }
                if created {
                    ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
                    ctx.dirty += 1;
                }
                let s = stream_mut(ctx, key)?.expect("exists");
                let r = if history {
                    read_history(s, gname, cname, gt, count, now)
                } else {
                    read_new(
                        s, key, gname, cname, gt, count, noack, created, now, &mut prop,
                    )
                };
                ctx.dirty += 1;
                out.push((Reply::bulk(key), r));
            }
        }
    }
    if xreadgroup && ctx.dirty > 0 {
        ctx.propagate_as(prop);
    }
    if !out.is_empty() {
        return Ok(if ctx.cl.resp == 2 {
            Reply::Array(
                out.into_iter()
                    .map(|(k, v)| Reply::Array(vec![k, v]))
                    .collect(),
            )
        } else {
            Reply::Map(out)
        });
    }
    if x.block.is_none() {
        return Ok(Reply::NilArray);
    }
    let r = ctx.block_on(
        keys.iter().map(|k| k.to_vec()).collect(),
        deadline,
        Reply::NilArray,
    );
    if let Some(b) = ctx.block.as_mut() {
        b.argv = Some(block_argv(a, &x, &from, count));
    }
    Ok(r)
}

/// The argv a blocked XREAD waits with: `$` resolved to the IDs seen now
/// (Redis keeps the resolved IDs in the blocked client), COUNT defaulting
/// to 1000 as Redis's blocked reads do.
fn block_argv(a: &[&[u8]], x: &XreadArgs, from: &[Option<ReadFrom>], count: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = vec![a[0].to_vec()];
    if let Some((g, c)) = x.group {
        out.extend([v(b"GROUP"), v(g), v(c)]);
    }
    if x.noack {
        out.push(v(b"NOACK"));
    }
    let count = if x.count_given { count } else { 1000 };
    out.extend([v(b"COUNT"), count.to_string().into_bytes()]);
    out.extend([v(b"BLOCK"), v(b"0")]);
    out.push(v(b"STREAMS"));
    out.extend(
        a[x.streams_at..x.streams_at + x.n]
            .iter()
            .map(|k| k.to_vec()),
    );
    for f in from {
        out.push(match f {
            Some(ReadFrom::After(id)) => id.to_bytes(),
            Some(ReadFrom::New) | None => v(b">"),
        });
    }
    out
}

/// XREADGROUP with an ID: the consumer's own pending entries after `gt`.
fn read_history(
    s: &mut StreamValue,
    gname: &[u8],
    cname: &[u8],
    gt: StreamId,
    count: usize,
    now: u64,
) -> Reply {
    let Some(start) = gt.incr() else {
        return Reply::Array(vec![]);
    };
    let ids: Vec<StreamId> = {
        let g = &s.groups[gname];
        let c = &g.consumers[cname];
        let take = if count == 0 { usize::MAX } else { count };
        c.pel.range(start..).take(take).copied().collect()
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match s.get(id) {
            Some(f) => out.push(entry_reply(id, &f)),
            None => {
                out.push(Reply::Array(vec![id_reply(id), Reply::NilArray]));
                continue;
            }
        }
        let g = s.groups.get_mut(gname).expect("group");
        if let Some(n) = g.pel.get_mut(&id) {
            n.delivery_time = now;
            n.delivery_count += 1;
        }
    }
    Reply::Array(out)
}

/// XREADGROUP `>`: entries after the group's last ID, added to the PELs.
#[allow(clippy::too_many_arguments)]
fn read_new(
    s: &mut StreamValue,
    key: &[u8],
    gname: &[u8],
    cname: &[u8],
    gt: StreamId,
    count: usize,
    noack: bool,
    created: bool,
    now: u64,
    prop: &mut Vec<Vec<Vec<u8>>>,
) -> Reply {
    let Some(start) = gt.incr() else {
        return Reply::Array(vec![]);
    };
    let entries: Vec<(StreamId, Vec<Vec<u8>>)> = s
        .range(start, StreamId::MAX, false, count)
        .into_iter()
        .map(|(id, f)| (id, f.into_iter().map(|x| x.to_vec()).collect()))
        .collect();
    let mut out = Vec::with_capacity(entries.len());
    let mut moved = false;
    for (id, fields) in &entries {
        let id = *id;
        let tomb = s.has_tombstones_from(id);
        let dist = s.estimate_distance(id);
        let has_added = s.entries_added > 0;
        let g = s.groups.get_mut(gname).expect("group");
        if id > g.last_id {
            if g.entries_read != -1 && !tomb {
                g.entries_read += 1;
            } else if has_added {
                g.entries_read = dist;
            }
            g.last_id = id;
            moved = true;
        }
        if !noack {
            g.assign(id, cname, now, 1);
            if let Some(c) = g.consumers.get_mut(cname) {
                c.active_time = now as i64;
            }
            prop.push(xclaim_prop(key, gname, g, id));
        }
        let f: Vec<&[u8]> = fields.iter().map(|x| x.as_slice()).collect();
        out.push(entry_reply(id, &f));
    }
    if noack && moved {
        if created {
            prop.push(vec![
                v(b"XGROUP"),
                v(b"CREATECONSUMER"),
                v(key),
                v(gname),
                v(cname),
            ]);
        }
        prop.push(setid_prop(key, gname, &s.groups[gname]));
    }
    Reply::Array(out)
}

// ----- XGROUP -----

fn entries_read_opt(a: &[&[u8]], from: usize) -> Result<i64, Reply> {
    let mut read = -1;
    let mut i = from;
    while i < a.len() {
        if a[i].eq_ignore_ascii_case(b"entriesread") && i + 1 < a.len() {
            read = get_ll(a[i + 1], None)?;
            if read < 0 && read != -1 {
                return Err(Reply::error(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(a));
        }
    }
    Ok(read)
}

fn subcommand_syntax(a: &[&[u8]]) -> Reply {
    Reply::Error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        lossy(a[1]),
        lossy(a[0]).to_ascii_uppercase()
    ))
}

const NEED_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Reply {
    Reply::Error(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        lossy(group),
        lossy(key)
    ))
}

/// The stream and group an XGROUP subcommand needs (NEED_KEY / NOGROUP).
fn group_mut<'c>(ctx: &'c mut Ctx, a: &[&[u8]]) -> Result<&'c mut Group, Reply> {
    let (key, group) = (a[2], a[3]);
    let Some(s) = stream_mut(ctx, key)? else {
        return Err(Reply::error(NEED_KEY));
    };
    s.groups
        .get_mut(group)
        .ok_or_else(|| nogroup_for_key(key, group))
}

/// `XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]`
fn xgroup_create(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut mkstream = false;
    let mut read = -1;
    let mut i = 5;
    while i < a.len() {
        if a[i].eq_ignore_ascii_case(b"mkstream") {
            mkstream = true;
            i += 1;
        } else if a[i].eq_ignore_ascii_case(b"entriesread") && i + 1 < a.len() {
            read = get_ll(a[i + 1], None)?;
            if read < 0 && read != -1 {
                return Err(Reply::error(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(subcommand_syntax(a));
        }
    }
    if a.len() > 8 {
        return Err(subcommand_syntax(a));
    }
    let (key, group) = (a[2], a[3]);
    let exists = stream(ctx, key)?.is_some();
    if !exists && !mkstream {
        return Err(Reply::error(NEED_KEY));
    }
    let id = if a[4] == b"$" {
        stream(ctx, key)?.map_or(StreamId::ZERO, |s| s.last_id)
    } else {
        parse_strict_id(a[4], 0)?
    };
    if !exists {
        ctx.set(key, Value::Stream(Box::new(StreamValue::new())));
        ctx.touch(key);
    }
    let s = stream_mut(ctx, key)?.expect("exists");
    if s.groups.contains_key(group) {
        return Err(Reply::error("BUSYGROUP Consumer Group name already exists"));
    }
    s.groups.insert(group.into(), Group::new(id, read));
    ctx.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-create", key);
    Ok(Reply::ok())
}

/// `XGROUP SETID key group id|$ [ENTRIESREAD entries-read]`
fn xgroup_setid(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let read = entries_read_opt(a, 5)?;
    if a.len() != 5 && a.len() != 7 {
        return Err(subcommand_syntax(a));
    }
    let last = match stream(ctx, a[2])? {
        Some(s) => s.last_id,
        None => return Err(Reply::error(NEED_KEY)),
    };
    group_mut(ctx, a)?;
    let id = if a[4] == b"$" {
        last
    } else {
        parse_id(a[4], 0)?
    };
    let g = group_mut(ctx, a)?;
    g.last_id = id;
    g.entries_read = read;
    ctx.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-setid", a[2]);
    Ok(Reply::ok())
}

/// `XGROUP DESTROY key group`
fn xgroup_destroy(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(s) = stream_mut(ctx, a[2])? else {
        return Err(Reply::error(NEED_KEY));
    };
    if s.groups.remove(a[3]).is_none() {
        return Ok(Reply::Int(0));
    }
    ctx.dirty += 1;
    ctx.notify(notify::STREAM, "xgroup-destroy", a[2]);
    // blocked XREADGROUP clients of the group get NOGROUP
    ctx.touch(a[2]);
    Ok(Reply::Int(1))
}

/// `XGROUP CREATECONSUMER key group consumer`
fn xgroup_createconsumer(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let now = ctx.now();
    let created = group_mut(ctx, a)?.create_consumer(a[4], now);
    if created {
        ctx.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-createconsumer", a[2]);
    }
    Ok(Reply::Int(created as i64))
}

/// `XGROUP DELCONSUMER key group consumer`
fn xgroup_delconsumer(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let pending = group_mut(ctx, a)?.delete_consumer(a[4]);
    if let Some(n) = pending {
        ctx.dirty += 1;
        ctx.notify(notify::STREAM, "xgroup-delconsumer", a[2]);
        return Ok(Reply::Int(n as i64));
    }
    Ok(Reply::Int(0))
}

fn help(lines: &[&str]) -> R {
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::simple(l)).collect(),
    ))
}

/// `XGROUP HELP`
fn xgroup_help(_: &mut Ctx, _: &[&[u8]]) -> R {
    help(&[
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ])
}

// ----- XACK / XPENDING / XCLAIM / XAUTOCLAIM -----

/// `XACK key group id [id ...]`
fn xack(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let has_group = match stream(ctx, a[1])? {
        Some(s) => s.groups.contains_key(a[2]),
        None => false,
    };
    if !has_group {
        return Ok(Reply::Int(0));
    }
    let ids = a[3..]
        .iter()
        .map(|x| parse_strict_id(x, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let s = stream_mut(ctx, a[1])?.expect("exists");
    let g = s.groups.get_mut(a[2]).expect("group");
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    ctx.dirty += acked as u64;
    Ok(Reply::Int(acked as i64))
}

/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`
fn xpending(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let justinfo = a.len() == 3;
    if a.len() != 3 && (a.len() < 6 || a.len() > 9) {
        return Err(err::syntax());
    }
    let (mut start, mut end, mut count, mut minidle) = (StreamId::ZERO, StreamId::MAX, 0i64, 0i64);
    let mut consumer: Option<&[u8]> = None;
    if a.len() >= 6 {
        let mut si = 3;
        if a[3].eq_ignore_ascii_case(b"idle") {
            minidle = get_ll(a[4], None)?;
            if a.len() < 8 {
                return Err(err::syntax());
            }
            si += 2;
        }
        count = get_ll(a[si + 2], None)?.max(0);
        start = interval_start(a[si])?;
        end = interval_end(a[si + 1])?;
        if si + 3 < a.len() {
            consumer = Some(a[si + 3]);
        }
    }
    let now = ctx.now();
    let s = stream(ctx, a[1])?;
    let Some(g) = s.and_then(|s| s.groups.get(a[2])) else {
        return Err(nogroup_key_group(a[1], a[2]));
    };
    if justinfo {
        if g.pel.is_empty() {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        }
        let first = *g.pel.keys().next().expect("non-empty");
        let last = *g.pel.keys().next_back().expect("non-empty");
        let owners = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(n, c)| Reply::Array(vec![Reply::bulk(n), Reply::bulk(c.pel.len().to_string())]))
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(owners),
        ]));
    }
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) => Box::new(c.pel.range(start..).copied()),
            None => return Ok(Reply::Array(vec![])),
        },
        None => Box::new(g.pel.range(start..).map(|(k, _)| *k)),
    };
    let mut out = Vec::new();
    for id in ids {
        if count == 0 || id > end {
            break;
        }
        let n = &g.pel[&id];
        let idle = now as i64 - n.delivery_time as i64;
        if minidle != 0 && idle < minidle {
            continue;
        }
        count -= 1;
        out.push(Reply::Array(vec![
            id_reply(id),
            Reply::bulk(&n.consumer),
            Reply::Int(idle.max(0)),
            Reply::Int(n.delivery_count as i64),
        ]));
    }
    Ok(Reply::Array(out))
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]`
fn xclaim(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (key, gname, cname) = (a[1], a[2], a[3]);
    let has_group = stream(ctx, key)?.is_some_and(|s| s.groups.contains_key(gname));
    if !has_group {
        return Err(nogroup_key_group(key, gname));
    }
    let minidle = get_ll(a[4], Some("ERR Invalid min-idle-time argument for XCLAIM"))?.max(0);
    let mut j = 5;
    let mut ids = Vec::new();
    while j < a.len() {
        match parse_strict_id(a[j], 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now() as i64;
    let (mut force, mut justid) = (false, false);
    let mut retrycount: i64 = -1;
    let mut deliverytime: i64 = -1;
    let mut last_id = StreamId::ZERO;
    while j < a.len() {
        let more = a.len() - 1 - j;
        let opt = a[j];
        if opt.eq_ignore_ascii_case(b"force") {
            force = true;
        } else if opt.eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else if opt.eq_ignore_ascii_case(b"idle") && more > 0 {
            j += 1;
            let d = get_ll(a[j], Some("ERR Invalid IDLE option argument for XCLAIM"))?;
            deliverytime = now.wrapping_sub(d);
        } else if opt.eq_ignore_ascii_case(b"time") && more > 0 {
            j += 1;
            deliverytime = get_ll(a[j], Some("ERR Invalid TIME option argument for XCLAIM"))?;
        } else if opt.eq_ignore_ascii_case(b"retrycount") && more > 0 {
            j += 1;
            retrycount = get_ll(
                a[j],
                Some("ERR Invalid RETRYCOUNT option argument for XCLAIM"),
            )?;
        } else if opt.eq_ignore_ascii_case(b"lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(a[j], 0)?;
        } else {
            return Err(Reply::Error(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                lossy(opt)
            )));
        }
        j += 1;
    }
    let s = stream_mut(ctx, key)?.expect("exists");
    let mut propagate_last_id = false;
    {
        let g = s.groups.get_mut(gname).expect("group");
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    if deliverytime == -1 || deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let mut out = Vec::new();
    let mut prop = Vec::new();
    let mut dirty = 0u64;
    let mut consumer_ready = false;
    let mut created = false;
    for id in ids {
        let exists = s.contains(id);
        let g = s.groups.get_mut(gname).expect("group");
        if !exists {
            if g.pel.contains_key(&id) {
                prop.push(xclaim_prop(key, gname, g, id));
                propagate_last_id = false;
                dirty += 1;
                g.ack(id);
            }
            continue;
        }
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                crate::types::stream::Nack {
                    delivery_time: now as u64,
                    delivery_count: 1,
                    consumer: Box::default(),
                },
            );
            fresh = true;
        }
        let Some((dt, dc)) = g.pel.get(&id).map(|n| (n.delivery_time, n.delivery_count)) else {
            continue;
        };
        if !fresh && minidle != 0 && now - (dt as i64) < minidle {
            continue;
        }
        if !consumer_ready {
            created = g.create_consumer(cname, now as u64);
            if let Some(c) = g.consumers.get_mut(cname) {
                c.seen_time = now as u64;
            }
            consumer_ready = true;
        }
        let count = if retrycount >= 0 {
            retrycount as u64
        } else if !justid {
            dc + 1
        } else {
            dc
        };
        g.assign(id, cname, deliverytime as u64, count);
        if let Some(c) = g.consumers.get_mut(cname) {
            c.active_time = now;
        }
        prop.push(xclaim_prop(key, gname, g, id));
        propagate_last_id = false;
        dirty += 1;
        if justid {
            out.push(id_reply(id));
        } else {
            let f = s.get(id).expect("exists");
            out.push(entry_reply(id, &f));
        }
    }
    let g = &s.groups[gname];
    if propagate_last_id {
        prop.push(setid_prop(key, gname, g));
        dirty += 1;
    }
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
        dirty += 1;
    }
    ctx.dirty += dirty;
    ctx.propagate_as(prop);
    Ok(Reply::Array(out))
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`
fn xautoclaim(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (key, gname, cname) = (a[1], a[2], a[3]);
    let minidle = get_ll(
        a[4],
        Some("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    )?
    .max(0);
    let start = interval_start(a[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if a[j].eq_ignore_ascii_case(b"count") && more > 0 {
            let max = i64::MAX / 16;
            count = match parse_i64(a[j + 1]) {
                Some(c) if (1..=max).contains(&c) => c,
                _ => return Err(Reply::error("ERR COUNT must be > 0")),
            };
            j += 1;
        } else if a[j].eq_ignore_ascii_case(b"justid") {
            justid = true;
        } else {
            return Err(err::syntax());
        }
        j += 1;
    }
    let has_group = stream(ctx, key)?.is_some_and(|s| s.groups.contains_key(gname));
    if !has_group {
        return Err(nogroup_key_group(key, gname));
    }
    let now = ctx.now();
    let s = stream_mut(ctx, key)?.expect("exists");
    let mut attempts = count * 10;
    let mut cursor = Some(start);
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut prop = Vec::new();
    let mut dirty = 0u64;
    let mut consumer_ready = false;
    let mut created = false;
    let next_from = |s: &StreamValue, c: Option<StreamId>| -> Option<StreamId> {
        c.and_then(|c| s.groups[gname].pel.range(c..).next().map(|(k, _)| *k))
    };
    let end = loop {
        if attempts == 0 {
            break next_from(s, cursor);
        }
        attempts -= 1;
        if count == 0 {
            break next_from(s, cursor);
        }
        let Some(id) = next_from(s, cursor) else {
            break None;
        };
        cursor = id.incr();
        let exists = s.contains(id);
        let g = s.groups.get_mut(gname).expect("group");
        if !exists {
            prop.push(xclaim_prop(key, gname, g, id));
            dirty += 1;
            g.ack(id);
            deleted.push(id_reply(id));
            count -= 1;
            continue;
        }
        let (dt, dc) = (g.pel[&id].delivery_time, g.pel[&id].delivery_count);
        if minidle != 0 && (now as i64 - dt as i64) < minidle {
            continue;
        }
        if !consumer_ready {
            created = g.create_consumer(cname, now);
            if let Some(c) = g.consumers.get_mut(cname) {
                c.seen_time = now;
            }
            consumer_ready = true;
        }
        let cnt = if justid { dc } else { dc + 1 };
        g.assign(id, cname, now, cnt);
        if let Some(c) = g.consumers.get_mut(cname) {
            c.active_time = now as i64;
        }
        prop.push(xclaim_prop(key, gname, g, id));
        dirty += 1;
        count -= 1;
        if justid {
            claimed.push(id_reply(id));
        } else {
            let f = s.get(id).expect("exists");
            claimed.push(entry_reply(id, &f));
        }
    };
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
        dirty += 1;
    }
    ctx.dirty += dirty;
    ctx.propagate_as(prop);
    Ok(Reply::Array(vec![
        id_reply(end.unwrap_or(StreamId::ZERO)),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}

// ----- XSETID -----

/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`
fn xsetid(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let id = parse_strict_id(a[2], 0)?;
    let mut added: i64 = -1;
    let mut maxdel = StreamId::ZERO;
    let mut i = 3;
    while i < a.len() {
        let more = a.len() - 1 - i;
        if a[i].eq_ignore_ascii_case(b"entriesadded") && more > 0 {
            added = get_ll(a[i + 1], None)?;
            if added < 0 {
                return Err(Reply::error("ERR entries_added must be positive"));
            }
            i += 2;
        } else if a[i].eq_ignore_ascii_case(b"maxdeletedid") && more > 0 {
            maxdel = parse_strict_id(a[i + 1], 0)?;
            if id < maxdel {
                return Err(Reply::error(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            i += 2;
        } else {
            return Err(err::syntax());
        }
    }
    let Some(s) = stream_mut(ctx, a[1])? else {
        return Err(Reply::error(err::NO_KEY));
    };
    // Redis 7.2 also refuses an ID below max_deleted_entry_id; 7.0 (the
    // oracle) does not.
    if !s.is_empty() {
        if id < s.last_entry_id() {
            return Err(Reply::error(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if added != -1 && s.len() as i64 > added {
            return Err(Reply::error(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if added != -1 {
        s.entries_added = added as u64;
    }
    if !maxdel.is_zero() {
        s.max_deleted_id = maxdel;
    }
    ctx.touch(a[1]);
    ctx.notify(notify::STREAM, "xsetid", a[1]);
    ctx.dirty += 1;
    Ok(Reply::ok())
}

// ----- XINFO -----

fn lag_reply(s: &StreamValue, g: &Group) -> Reply {
    s.lag(g).map_or(Reply::Nil, Reply::Int)
}

fn entries_read_reply(g: &Group) -> Reply {
    if g.entries_read == -1 {
        Reply::Nil
    } else {
        Reply::Int(g.entries_read)
    }
}

fn b(s: &str) -> Reply {
    Reply::bulk(s)
}

fn info_stream<'c>(ctx: &'c Ctx, key: &[u8]) -> Result<&'c StreamValue, Reply> {
    stream(ctx, key)?.ok_or_else(|| Reply::error(err::NO_KEY))
}

/// `XINFO CONSUMERS key group`
fn xinfo_consumers(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let s = info_stream(ctx, a[2])?;
    let Some(g) = s.groups.get(a[3]) else {
        return Err(nogroup_for_key(a[2], a[3]));
    };
    let now = ctx.now();
    Ok(Reply::Array(
        g.consumers
            .iter()
            .map(|(n, c)| {
                Reply::Map(vec![
                    (b("name"), Reply::bulk(n)),
                    (b("pending"), Reply::Int(c.pel.len() as i64)),
                    (
                        b("idle"),
                        Reply::Int((now as i64 - c.seen_time as i64).max(0)),
                    ),
                    // Redis 7.2: since the last successful read or claim, -1 never
                    (
                        b("inactive"),
                        Reply::Int(if c.active_time < 0 {
                            -1
                        } else {
                            (now as i64 - c.active_time).max(0)
                        }),
                    ),
                ])
            })
            .collect(),
    ))
}

/// `XINFO GROUPS key`
fn xinfo_groups(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let s = info_stream(ctx, a[2])?;
    Ok(Reply::Array(
        s.groups
            .iter()
            .map(|(n, g)| {
                Reply::Map(vec![
                    (b("name"), Reply::bulk(n)),
                    (b("consumers"), Reply::Int(g.consumers.len() as i64)),
                    (b("pending"), Reply::Int(g.pel.len() as i64)),
                    (b("last-delivered-id"), id_reply(g.last_id)),
                    (b("entries-read"), entries_read_reply(g)),
                    (b("lag"), lag_reply(s, g)),
                ])
            })
            .collect(),
    ))
}

/// Redis's `raxSize`/`numnodes` stand-ins: the modelled node count, and a
/// radix-tree node estimate (exact for one node: a root and one leaf).
fn rax_nodes(s: &StreamValue) -> i64 {
    let k = s.node_count() as i64;
    if k == 0 { 1 } else { k + 1 }
}

/// `XINFO STREAM key [FULL [COUNT count]]`
fn xinfo_stream(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let extra = &a[3..];
    let mut full = false;
    let mut count: i64 = 10;
    if !extra.is_empty() {
        if (extra.len() != 1 && extra.len() != 3) || !extra[0].eq_ignore_ascii_case(b"full") {
            return Err(subcommand_syntax(a));
        }
        full = true;
        if extra.len() == 3 {
            if !extra[1].eq_ignore_ascii_case(b"count") {
                return Err(subcommand_syntax(a));
            }
            count = get_ll(extra[2], None)?;
            if count < 0 {
                count = 10;
            }
        }
    }
    let s = info_stream(ctx, a[2])?;
    let mut m = vec![
        (b("length"), Reply::Int(s.len() as i64)),
        (b("radix-tree-keys"), Reply::Int(s.node_count() as i64)),
        (b("radix-tree-nodes"), Reply::Int(rax_nodes(s))),
        (b("last-generated-id"), id_reply(s.last_id)),
        (b("max-deleted-entry-id"), id_reply(s.max_deleted_id)),
        (b("entries-added"), Reply::Int(s.entries_added as i64)),
        (b("recorded-first-entry-id"), id_reply(s.first_id)),
    ];
    let edge = |rev: bool| {
        s.range(StreamId::ZERO, StreamId::MAX, rev, 1)
            .first()
            .map_or(Reply::Nil, |(id, f)| entry_reply(*id, f))
    };
    if !full {
        m.push((b("groups"), Reply::Int(s.groups.len() as i64)));
        m.push((b("first-entry"), edge(false)));
        m.push((b("last-entry"), edge(true)));
        return Ok(Reply::Map(m));
    }
    let count = count as usize;
    let lim = if count == 0 { usize::MAX } else { count };
    m.push((
        b("entries"),
        entries_reply(s.range(StreamId::ZERO, StreamId::MAX, false, count)),
    ));
    let groups = s
        .groups
        .iter()
        .map(|(n, g)| {
            let pel = g
                .pel
                .iter()
                .take(lim)
                .map(|(id, nk)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::bulk(&nk.consumer),
                        Reply::Int(nk.delivery_time as i64),
                        Reply::Int(nk.delivery_count as i64),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cn, c)| {
                    let cpel = c
                        .pel
                        .iter()
                        .take(lim)
                        .map(|id| {
                            let nk = &g.pel[id];
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::Int(nk.delivery_time as i64),
                                Reply::Int(nk.delivery_count as i64),
                            ])
                        })
                        .collect();
                    Reply::Map(vec![
                        (b("name"), Reply::bulk(cn)),
                        (b("seen-time"), Reply::Int(c.seen_time as i64)),
                        (b("pel-count"), Reply::Int(c.pel.len() as i64)),
                        (b("pending"), Reply::Array(cpel)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (b("name"), Reply::bulk(n)),
                (b("last-delivered-id"), id_reply(g.last_id)),
                (b("entries-read"), entries_read_reply(g)),
                (b("lag"), lag_reply(s, g)),
                (b("pel-count"), Reply::Int(g.pel.len() as i64)),
                (b("pending"), Reply::Array(pel)),
                (b("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    m.push((b("groups"), Reply::Array(groups)));
    Ok(Reply::Map(m))
}

/// `XINFO HELP`
fn xinfo_help(_: &mut Ctx, _: &[&[u8]]) -> R {
    help(&[
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        let p = |s: &str| parse_id_full(s.as_bytes(), 0, true, true);
        assert_eq!(p("5").unwrap(), (StreamId::new(5, 0), true));
        assert_eq!(p(" 5").unwrap(), (StreamId::new(5, 0), true));
        assert_eq!(p("+6-1").unwrap(), (StreamId::new(6, 1), true));
        assert_eq!(p("7-*").unwrap(), (StreamId::new(7, 0), false));
        assert!(p("-").is_err());
        assert!(p("-1").is_err());
        assert!(p("1-x").is_err());
        assert!(p("18446744073709551616").is_err());
        assert_eq!(
            parse_id(b"+", 0).unwrap(),
            StreamId::new(u64::MAX, u64::MAX)
        );
    }
}
