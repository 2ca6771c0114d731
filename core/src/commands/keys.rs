//! Generic key commands: DEL, EXISTS, TYPE, RENAME, COPY, MOVE, KEYS, SCAN,
//! RANDOMKEY, OBJECT, the EXPIRE family, and the database-wide ones
//! (DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, SELECT).

use super::flag::*;
use super::server::{
    memory_malloc_stats as malloc_stats, memory_purge as mem_purge, memory_stats as mem_stats,
};
use super::{CommandSpec, Ctx, err};
use crate::keyspace::{DbPart, SLOTS, split_slot};
use crate::notify;
use crate::reply::Reply;
use crate::types::{Str, Value};
use crate::util::glob::glob_match;
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "generic", handler)
}

const fn srv(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (0, 0, 0), "server", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("del", -2, WRITE, (1, -1, 1), del),
    cmd("unlink", -2, WRITE | FAST, (1, -1, 1), del),
    cmd("exists", -2, READONLY | FAST, (1, -1, 1), exists),
    cmd("touch", -2, READONLY | FAST, (1, -1, 1), touch),
    cmd("type", 2, READONLY | FAST, (1, 1, 1), type_),
    cmd("rename", 3, WRITE, (1, 2, 1), rename),
    cmd("renamenx", 3, WRITE | FAST, (1, 2, 1), renamenx),
    cmd("copy", -3, WRITE | DENYOOM, (1, 2, 1), copy),
    cmd("move", 3, WRITE | FAST, (1, 1, 1), move_),
    cmd("keys", 2, READONLY | ALL_SHARDS, (0, 0, 0), keys),
    cmd("scan", -2, READONLY | NO_KEYS, (0, 0, 0), scan),
    cmd("randomkey", 1, READONLY | ALL_SHARDS, (0, 0, 0), randomkey),
    cmd("expire", -3, WRITE | FAST, (1, 1, 1), expire),
    cmd("pexpire", -3, WRITE | FAST, (1, 1, 1), pexpire),
    cmd("expireat", -3, WRITE | FAST, (1, 1, 1), expireat),
    cmd("pexpireat", -3, WRITE | FAST, (1, 1, 1), pexpireat),
    cmd("ttl", 2, READONLY | FAST, (1, 1, 1), ttl),
    cmd("pttl", 2, READONLY | FAST, (1, 1, 1), pttl),
    cmd("expiretime", 2, READONLY | FAST, (1, 1, 1), expiretime),
    cmd("pexpiretime", 2, READONLY | FAST, (1, 1, 1), pexpiretime),
    cmd("persist", 2, WRITE | FAST, (1, 1, 1), persist),
    CommandSpec::container("object", 0, "generic", OBJECT_SUBCOMMANDS),
    CommandSpec::container("memory", 0, "server", MEMORY_SUBCOMMANDS),
    srv("dbsize", 1, READONLY | FAST | ALL_SHARDS, dbsize),
    srv("flushdb", -1, WRITE | ALL_SHARDS, flushdb),
    srv("flushall", -1, WRITE | ALL_SHARDS, flushall),
    srv("swapdb", 3, WRITE | FAST | ALL_SHARDS, swapdb),
    CommandSpec::new(
        "select",
        2,
        LOADING | STALE | FAST | NO_KEYS,
        (0, 0, 0),
        "connection",
        select,
    ),
];

static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    cmd("object|encoding", 3, READONLY, (2, 2, 1), object_encoding),
    cmd("object|refcount", 3, READONLY, (2, 2, 1), object_refcount),
    cmd("object|idletime", 3, READONLY, (2, 2, 1), object_idletime),
    cmd("object|freq", 3, READONLY, (2, 2, 1), object_freq),
    cmd(
        "object|help",
        2,
        LOADING | STALE | NO_KEYS,
        (0, 0, 0),
        object_help,
    ),
];

static MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    cmd("memory|usage", -3, READONLY, (2, 2, 1), memory_usage),
    cmd("memory|stats", 2, NO_KEYS, (0, 0, 0), mem_stats),
    cmd("memory|malloc-stats", 2, NO_KEYS, (0, 0, 0), malloc_stats),
    cmd("memory|purge", 2, NO_KEYS, (0, 0, 0), mem_purge),
    cmd(
        "memory|help",
        2,
        LOADING | STALE | NO_KEYS,
        (0, 0, 0),
        memory_help,
    ),
];

/// `MEMORY USAGE key [SAMPLES count]`: the bytes the key and its value
/// take (entry, key, value and what they own; exact, so SAMPLES is
/// validated as Redis does and otherwise unused).
fn memory_usage(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut j = 3;
    while j < a.len() {
        if a[j].eq_ignore_ascii_case(b"samples") && j + 1 < a.len() {
            let n = crate::util::number::parse_i64(a[j + 1]).ok_or_else(err::not_int)?;
            if n < 0 {
                return Err(err::syntax());
            }
            j += 2;
        } else {
            return Err(err::syntax());
        }
    }
    Ok(ctx.peek(a[2]).map_or(Reply::Nil, |v| {
        let key = crate::types::Key::new(a[2]);
        // the slot table's cell: the entry itself (key and value headers)
        let entry = std::mem::size_of::<crate::keyspace::Entry>();
        Reply::Int((entry + key.heap_size() + v.heap_size()) as i64)
    }))
}

fn memory_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "MEMORY",
        &[
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    ))
}

/// `DEL key [key ...]` and `UNLINK key [key ...]`
fn del(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut n = 0;
    for k in &a[1..] {
        if ctx.remove(k).is_some() {
            n += 1;
            ctx.notify(notify::GENERIC, "del", k);
        }
    }
    ctx.dirty += n;
    Ok(Reply::Int(n as i64))
}

/// `EXISTS key [key ...]`: leaves the keys' access times alone.
fn exists(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        a[1..].iter().filter(|k| ctx.exists(k)).count() as i64
    ))
}

/// `TOUCH key [key ...]`: as EXISTS, but an access (OBJECT IDLETIME).
fn touch(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        a[1..].iter().filter(|k| ctx.lookup(k).is_some()).count() as i64,
    ))
}

/// `TYPE key`
fn type_(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::simple(
        ctx.peek(a[1]).map_or("none", |v| v.type_name()),
    ))
}

fn rename_generic(ctx: &mut Ctx, a: &[&[u8]], nx: bool) -> R {
    let (src, dst) = (a[1], a[2]);
    if ctx.lookup_mut(src).is_none() {
        return Err(Reply::error(err::NO_KEY));
    }
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::ok() });
    }
    if ctx.lookup_mut(dst).is_some() {
        if nx {
            return Ok(Reply::Int(0));
        }
        ctx.remove(dst);
    }
    let db = ctx.db;
    let ttl = ctx.expire_of(db, src);
    let val = ctx.remove(src).expect("checked above");
    ctx.set(dst, val);
    if let Some(at) = ttl {
        ctx.set_expire_in(db, dst, at);
    }
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    ctx.dirty += 1;
    Ok(if nx { Reply::Int(1) } else { Reply::ok() })
}

/// `RENAME key newkey`
fn rename(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    rename_generic(ctx, a, false)
}

/// `RENAMENX key newkey`
fn renamenx(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    rename_generic(ctx, a, true)
}

fn parse_db(ctx: &Ctx, arg: &[u8]) -> Result<usize, Reply> {
    let id = parse_i64(arg)
        .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
        .ok_or_else(err::not_int)?;
    if id < 0 || id as usize >= ctx.eng.ks.ndbs {
        return Err(Reply::error(err::DB_RANGE));
    }
    Ok(id as usize)
}

/// `COPY source destination [DB destination-db] [REPLACE]`
fn copy(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (src, dst) = (a[1], a[2]);
    let mut dstdb = ctx.db;
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if a[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a[i].eq_ignore_ascii_case(b"db") && i + 1 < a.len() {
            dstdb = parse_db(ctx, a[i + 1])?;
            i += 1;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    if src == dst && dstdb == ctx.db {
        return Err(Reply::error(
            "ERR source and destination objects are the same",
        ));
    }
    let db = ctx.db;
    let Some(val) = ctx.lookup_mut(src).map(|v| v.clone()) else {
        return Ok(Reply::Int(0));
    };
    let ttl = ctx.expire_of(db, src);
    if ctx.lookup_mut_in(dstdb, dst).is_some() {
        if !replace {
            return Ok(Reply::Int(0));
        }
        ctx.remove_in(dstdb, dst);
    }
    ctx.set_in(dstdb, dst, val, false);
    if let Some(at) = ttl {
        ctx.set_expire_in(dstdb, dst, at);
    }
    ctx.notify_in(dstdb, notify::GENERIC, "copy_to", dst);
    ctx.dirty += 1;
    Ok(Reply::Int(1))
}

/// `MOVE key db`
fn move_(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let dstdb = parse_db(ctx, a[2])?;
    let db = ctx.db;
    if dstdb == db {
        return Err(Reply::error(
            "ERR source and destination objects are the same",
        ));
    }
    if ctx.lookup_mut(key).is_none() || ctx.lookup_mut_in(dstdb, key).is_some() {
        return Ok(Reply::Int(0));
    }
    let ttl = ctx.expire_of(db, key);
    let val = ctx.remove(key).expect("checked above");
    ctx.set_in(dstdb, key, val, false);
    if let Some(at) = ttl {
        ctx.set_expire_in(dstdb, key, at);
    }
    ctx.notify(notify::GENERIC, "move_from", key);
    ctx.notify_in(dstdb, notify::GENERIC, "move_to", key);
    ctx.dirty += 1;
    Ok(Reply::Int(1))
}

fn live_keys<'a>(
    part: &'a DbPart,
    now: u64,
) -> impl Iterator<Item = &'a crate::keyspace::Entry> + 'a {
    part.entries()
        .filter(move |e| part.expire_of(&e.key).is_none_or(|at| at > now))
}

/// `KEYS pattern`
fn keys(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let pat = a[1];
    let all = pat == b"*";
    let mut out = Vec::new();
    for (_, part) in ctx.parts(ctx.db) {
        for e in live_keys(part, ctx.now()) {
            if all || glob_match(pat, &e.key) {
                out.push(Reply::bulk(&*e.key));
            }
        }
    }
    Ok(Reply::Array(out))
}

/// Parses SCAN-family options after the cursor: MATCH, COUNT, TYPE (when allowed).
pub(crate) struct ScanOpts<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub type_: Option<&'a [u8]>,
}

pub(crate) fn parse_scan_opts<'a>(
    a: &[&'a [u8]],
    from: usize,
    allow_type: bool,
) -> Result<ScanOpts<'a>, Reply> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        type_: None,
    };
    let mut i = from;
    while i < a.len() {
        let rest = a.len() - i - 1;
        if a[i].eq_ignore_ascii_case(b"count") && rest >= 1 {
            let c = parse_i64(a[i + 1]).ok_or_else(err::not_int)?;
            if c < 1 {
                return Err(err::syntax());
            }
            o.count = c as usize;
        } else if a[i].eq_ignore_ascii_case(b"match") && rest >= 1 {
            o.pattern = Some(a[i + 1]).filter(|p| *p != b"*");
        } else if allow_type && a[i].eq_ignore_ascii_case(b"type") && rest >= 1 {
            o.type_ = Some(a[i + 1]);
        } else {
            return Err(err::syntax());
        }
        i += 2;
    }
    Ok(o)
}

/// Redis's SCAN cursor parse.
/// Redis's `parseScanCursorOrReply`: `strtoull` in base 10 over the C
/// string view, so a sign is accepted (`-1` wraps), an empty cursor is 0,
/// and a leading space or trailing junk or overflow is an error.
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error("ERR invalid cursor");
    let s = match arg.iter().position(|&b| b == 0) {
        Some(i) => &arg[..i],
        None => arg,
    };
    let Some(&first) = s.first() else {
        return Ok(0);
    };
    if matches!(first, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        return Err(invalid());
    }
    let (neg, digits) = match first {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
///
/// The cursor is a slot index: slots are fixed by key hash, so every key
/// present for the whole iteration is returned exactly once.
fn scan(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let cursor = parse_cursor(a[1])?;
    let opts = parse_scan_opts(a, 2, true)?;
    let mut out = Vec::new();
    let mut slot = cursor as usize;
    let db = ctx.db;
    let eng = ctx.eng;
    while slot < SLOTS {
        let (shard, sub) = split_slot(slot);
        {
            let guard = eng.ks.shards[shard].read();
            let part = &guard.dbs[db];
            for e in part.slot_entries(sub) {
                if part.expire_of(&e.key).is_some_and(|at| at <= ctx.now()) {
                    continue;
                }
                if opts.pattern.is_some_and(|p| !glob_match(p, &e.key)) {
                    continue;
                }
                if opts
                    .type_
                    .is_some_and(|t| !t.eq_ignore_ascii_case(e.val.type_name().as_bytes()))
                {
                    continue;
                }
                out.push(Reply::bulk(&*e.key));
            }
        }
        slot += 1;
        if out.len() >= opts.count {
            break;
        }
    }
    let next = if slot >= SLOTS { 0 } else { slot };
    Ok(Reply::Array(vec![
        Reply::bulk(next.to_string()),
        Reply::Array(out),
    ]))
}

/// `RANDOMKEY`
fn randomkey(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let db = ctx.db;
    let total: usize = ctx.parts(db).map(|(_, p)| p.len()).sum();
    if total == 0 {
        return Ok(Reply::Nil);
    }
    // Retry a few times so keys past their deadline are skipped.
    for _ in 0..100 {
        let mut n = crate::util::rng::random_below(total as u64) as usize;
        for (_, p) in ctx.parts(db) {
            if n < p.len() {
                let e = p.nth(n).expect("n < len");
                if p.expire_of(&e.key).is_none_or(|at| at > ctx.now()) {
                    return Ok(Reply::bulk(&*e.key));
                }
                break;
            }
            n -= p.len();
        }
    }
    // Mostly expired: walk for any live key.
    for (_, p) in ctx.parts(db) {
        if let Some(e) = live_keys(p, ctx.now()).next() {
            return Ok(Reply::bulk(&*e.key));
        }
    }
    Ok(Reply::Nil)
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Seconds,
    Millis,
}

/// `EXPIRE`-family core: `base` is 0 for absolute times, now for relative.
fn expire_generic(ctx: &mut Ctx, a: &[&[u8]], relative: bool, unit: Unit, name: &str) -> R {
    let key = a[1];
    let when = parse_i64(a[2]).ok_or_else(err::not_int)?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for o in &a[3..] {
        if o.eq_ignore_ascii_case(b"nx") {
            nx = true;
        } else if o.eq_ignore_ascii_case(b"xx") {
            xx = true;
        } else if o.eq_ignore_ascii_case(b"gt") {
            gt = true;
        } else if o.eq_ignore_ascii_case(b"lt") {
            lt = true;
        } else {
            return Err(Reply::Error(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(o)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let mut when = when;
    if unit == Unit::Seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| err::invalid_expire(name))?;
    }
    if relative {
        when = when
            .checked_add(ctx.now() as i64)
            .ok_or_else(|| err::invalid_expire(name))?;
    }
    if ctx.lookup_mut(key).is_none() {
        return Ok(Reply::Int(0));
    }
    let db = ctx.db;
    let current = ctx.expire_of(db, key).map(|v| v as i64);
    if (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c))
    {
        return Ok(Reply::Int(0));
    }
    if when <= ctx.now() as i64 && !ctx.eng.is_loading() {
        ctx.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
    } else {
        ctx.set_expire_in(db, key, when as u64);
        ctx.notify(notify::GENERIC, "expire", key);
        ctx.propagate_as(vec![vec![
            b"PEXPIREAT".to_vec(),
            key.to_vec(),
            when.to_string().into_bytes(),
        ]]);
    }
    ctx.dirty += 1;
    Ok(Reply::Int(1))
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`
fn expire(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    expire_generic(ctx, a, true, Unit::Seconds, "expire")
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`
fn pexpire(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    expire_generic(ctx, a, true, Unit::Millis, "pexpire")
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`
fn expireat(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    expire_generic(ctx, a, false, Unit::Seconds, "expireat")
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`
fn pexpireat(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    expire_generic(ctx, a, false, Unit::Millis, "pexpireat")
}

fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> R {
    if ctx.lookup_notouch(key).is_none() {
        return Ok(Reply::Int(-2));
    }
    let Some(at) = ctx.expire_of(ctx.db, key) else {
        return Ok(Reply::Int(-1));
    };
    let at = at as i64;
    Ok(Reply::Int(match (absolute, ms) {
        (true, true) => at,
        (true, false) => at / 1000,
        (false, true) => (at - ctx.now() as i64).max(0),
        (false, false) => ((at - ctx.now() as i64).max(0) + 500) / 1000,
    }))
}

/// `TTL key`
fn ttl(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ttl_generic(ctx, a[1], false, false)
}

/// `PTTL key`
fn pttl(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ttl_generic(ctx, a[1], true, false)
}

/// `EXPIRETIME key`
fn expiretime(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ttl_generic(ctx, a[1], false, true)
}

/// `PEXPIRETIME key`
fn pexpiretime(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ttl_generic(ctx, a[1], true, true)
}

/// `PERSIST key`
fn persist(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if ctx.lookup_mut(a[1]).is_none() {
        return Ok(Reply::Int(0));
    }
    if ctx.persist_in(ctx.db, a[1]) {
        ctx.dirty += 1;
        ctx.notify(notify::GENERIC, "persist", a[1]);
        Ok(Reply::Int(1))
    } else {
        Ok(Reply::Int(0))
    }
}

/// `OBJECT ENCODING key`
fn object_encoding(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(ctx
        .peek(a[2])
        .map_or(Reply::Nil, |v| Reply::bulk(v.encoding())))
}

/// `OBJECT REFCOUNT key`: small integers are shared objects in Redis.
fn object_refcount(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(match ctx.peek(a[2]) {
        None => Reply::Nil,
        Some(Value::Str(Str::Int(i))) if (0..10000).contains(i) => Reply::Int(i32::MAX as i64),
        Some(_) => Reply::Int(1),
    })
}

/// `OBJECT IDLETIME key`: seconds since the key was last read or written.
fn object_idletime(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if ctx.peek(a[2]).is_some() && crate::evict::lfu_on(ctx.eng) {
        return Err(Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        ));
    }
    Ok(ctx
        .idle_seconds(a[2])
        .map_or(Reply::Nil, |s| Reply::Int(s as i64)))
}

/// `OBJECT FREQ key`: the key's logarithmic access counter (LFU policies only).
fn object_freq(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if ctx.peek(a[2]).is_none() {
        return Ok(Reply::Nil);
    }
    if crate::evict::lfu_on(ctx.eng) {
        return Ok(ctx
            .lfu_freq(a[2])
            .map_or(Reply::Nil, |f| Reply::Int(f as i64)));
    }
    Err(Reply::error(
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
    ))
}

/// `OBJECT HELP`
fn object_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    ))
}

/// Redis's HELP reply layout: a header, the lines, and the HELP line.
pub(crate) fn help_reply(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::Simple(format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ))];
    out.extend(lines.iter().map(|l| Reply::Simple(l.to_string())));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Print this help."));
    Reply::Array(out)
}

/// `DBSIZE`
fn dbsize(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(
        ctx.parts(ctx.db).map(|(_, p)| p.len() as i64).sum(),
    ))
}

fn flush_opt(a: &[&[u8]]) -> Result<(), Reply> {
    match a.len() {
        1 => Ok(()),
        2 if a[1].eq_ignore_ascii_case(b"async") || a[1].eq_ignore_ascii_case(b"sync") => Ok(()),
        _ => Err(err::syntax()),
    }
}

fn flush_dbs(ctx: &mut Ctx, dbs: std::ops::Range<usize>) -> u64 {
    let mut removed = 0;
    for shard in ctx.shards_mut() {
        for db in dbs.clone() {
            removed += shard.dbs[db].len() as u64;
            shard.dbs[db] = DbPart::default();
        }
    }
    removed
}

/// `FLUSHDB [ASYNC | SYNC]`
fn flushdb(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    flush_opt(a)?;
    let db = ctx.db;
    super::tx::touch_watched_in_db(ctx, db, None);
    ctx.dirty += flush_dbs(ctx, db..db + 1) + 1;
    ctx.touch_db(db);
    Ok(Reply::ok())
}

/// `FLUSHALL [ASYNC | SYNC]`
fn flushall(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    flush_opt(a)?;
    let n = ctx.eng.ks.ndbs;
    for db in 0..n {
        super::tx::touch_watched_in_db(ctx, db, None);
    }
    ctx.dirty += flush_dbs(ctx, 0..n) + 1;
    for db in 0..n {
        ctx.touch_db(db);
    }
    Ok(Reply::ok())
}

/// `SWAPDB index1 index2`
fn swapdb(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let parse = |arg: &[u8], which: &str| -> Result<i64, Reply> {
        parse_i64(arg)
            .filter(|v| *v >= i32::MIN as i64 && *v <= i32::MAX as i64)
            .ok_or_else(|| Reply::Error(format!("ERR invalid {which} DB index")))
    };
    let x = parse(a[1], "first")?;
    let y = parse(a[2], "second")?;
    let n = ctx.eng.ks.ndbs as i64;
    if x < 0 || x >= n || y < 0 || y >= n {
        return Err(Reply::error(err::DB_RANGE));
    }
    let (x, y) = (x as usize, y as usize);
    if x != y {
        super::tx::touch_watched_in_db(ctx, x, Some(y));
        super::tx::touch_watched_in_db(ctx, y, Some(x));
        for shard in ctx.shards_mut() {
            shard.dbs.swap(x, y);
        }
        ctx.touch_db(x);
        ctx.touch_db(y);
    }
    ctx.dirty += 1;
    Ok(Reply::ok())
}

/// `SELECT index`
fn select(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let db = parse_db(ctx, a[1])?;
    ctx.cl.db = db;
    ctx.db = db;
    ctx.cl.sync_meta(|m| m.db = db);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// redis-server 7.0 accepts these SCAN cursors (`SCAN -1`, `SCAN ""`,
    /// `SCAN +0`, `SCAN 18446744073709551615` all reply with cursor 0) and
    /// refuses the rest with "ERR invalid cursor"; which keys a wrapped
    /// cursor returns depends on Redis's table layout, so only acceptance is
    /// compared (the refusals are in tests/cases/keys.case).
    #[test]
    fn cursors_parse_as_strtoul() {
        assert_eq!(parse_cursor(b"").ok(), Some(0));
        assert_eq!(parse_cursor(b"+0").ok(), Some(0));
        assert_eq!(parse_cursor(b"-1").ok(), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615").ok(), Some(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 1",
            b"1 ",
            b"-",
            b"0x1",
            b"abc",
        ] {
            assert!(parse_cursor(bad).is_err());
        }
    }

    /// MEMORY USAGE counts the entry and what the value owns (Redis's
    /// figure for the same data differs: its allocator and headers).
    #[test]
    fn memory_usage_grows_with_the_value() {
        let db = crate::Db::in_memory();
        db.execute(&["SET", "small", "x"]);
        db.execute(&["SET", "big", &"y".repeat(10_000)]);
        let n = |k: &str| db.execute(&["MEMORY", "USAGE", k]).as_int().unwrap();
        assert!(n("small") >= 48, "{}", n("small"));
        assert!(n("big") >= 10_000 + n("small"));
        assert_eq!(db.execute(&["MEMORY", "USAGE", "nosuch"]), Reply::Nil);
    }
}
