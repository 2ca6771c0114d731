//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The
//! values are strings in Redis's HyperLogLog format (`types/hll.rs`).

use super::flag::*;
use super::{CommandSpec, Ctx};
use crate::config::Tun;
use crate::notify;
use crate::reply::Reply;
use crate::types::hll::{self, Corrupt, Encoding, REGISTERS};
use crate::types::{Str, Value};

type R = Result<Reply, Reply>;

const G: &str = "hyperloglog";

pub(crate) static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, (1, 1, 1), G, pfadd),
    // read-only for Redis, but a stale cached cardinality is written back
    CommandSpec::new("pfcount", -2, READONLY | LOCK_WRITE, (1, -1, 1), G, pfcount),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, (1, -1, 1), G, pfmerge),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, (2, 2, 1), G, pfdebug),
    // ~1 s of work: front ends run it off their event loops
    CommandSpec::new(
        "pfselftest",
        1,
        ADMIN | NO_KEYS | UNBOUNDED,
        (0, 0, 0),
        G,
        pfselftest,
    ),
];

fn not_hll() -> Reply {
    Reply::error("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt(_: Corrupt) -> Reply {
    Reply::error("INVALIDOBJ Corrupted HLL object detected")
}

fn sparse_max(ctx: &Ctx) -> usize {
    ctx.eng.params.tun(Tun::HllSparseMaxBytes).max(0) as usize
}

/// The HyperLogLog under `key` as bytes: Ok(None) if missing; WRONGTYPE
/// (Redis's or the HyperLogLog one) if it is not one.
fn read(ctx: &Ctx, key: &[u8]) -> Result<Option<Vec<u8>>, Reply> {
    match ctx.get_str(key)? {
        None => Ok(None),
        Some(s) => s.with_bytes(|b| {
            if hll::is_hll(b) {
                Ok(Some(b.to_vec()))
            } else {
                Err(not_hll())
            }
        }),
    }
}

/// Stores a changed HyperLogLog under `key`, keeping its deadline (Redis
/// changes the value in place).
fn store(ctx: &mut Ctx, key: &[u8], v: Vec<u8>) {
    ctx.set_in(ctx.db, key, Value::Str(Str::raw(v)), true);
}

/// `PFADD key [element ...]`
fn pfadd(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    // A dense value already stored as a modifiable string changes in place.
    if let Some(Str::Raw(b)) = ctx.get_str_mut(key)?
        && hll::is_hll(b)
        && hll::encoding(b) == Encoding::Dense
    {
        let updated = a[2..].iter().filter(|e| hll::add_dense(b, e)).count();
        if updated > 0 {
            ctx.touch(key);
            ctx.dirty += updated as u64;
            ctx.notify(notify::STRING, "pfadd", key);
        }
        return Ok(Reply::Int((updated > 0) as i64));
    }
    let max = sparse_max(ctx);
    let (mut v, mut updated) = match read(ctx, key)? {
        Some(v) => (v, 0),
        None => (hll::new_sparse(), 1),
    };
    for e in &a[2..] {
        if hll::add(&mut v, e, max).map_err(corrupt)? {
            updated += 1;
        }
    }
    if updated > 0 {
        hll::invalidate(&mut v);
        store(ctx, key, v);
        ctx.dirty += updated;
        ctx.notify(notify::STRING, "pfadd", key);
    }
    Ok(Reply::Int((updated > 0) as i64))
}

/// `PFCOUNT key [key ...]`
fn pfcount(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 2 {
        // the cardinality of the union, nothing written
        let mut max = Box::new([0u8; REGISTERS]);
        for key in &a[1..] {
            if let Some(v) = read(ctx, key)? {
                hll::merge_into(&mut max, &v).map_err(corrupt)?;
            }
        }
        return Ok(Reply::Int(hll::count_registers(&max) as i64));
    }
    let key = a[1];
    let cached = match ctx.get_str(key)? {
        None => return Ok(Reply::Int(0)),
        Some(s) => s.with_bytes(|b| {
            if hll::is_hll(b) {
                Ok(hll::cached(b))
            } else {
                Err(not_hll())
            }
        })?,
    };
    if let Some(card) = cached {
        return Ok(Reply::Int(card as i64));
    }
    let Some(mut v) = read(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let card = hll::count(&v).map_err(corrupt)?;
    // the cache is part of the value: written back, as Redis does
    hll::set_cached(&mut v, card);
    store(ctx, key, v);
    ctx.dirty += 1;
    Ok(Reply::Int(card as i64))
}

/// `PFMERGE destkey [sourcekey ...]` (the destination takes part too)
fn pfmerge(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    let mut dest = None;
    for (i, key) in a[1..].iter().enumerate() {
        if let Some(v) = read(ctx, key)? {
            dense |= hll::encoding(&v) == Encoding::Dense;
            hll::merge_into(&mut max, &v).map_err(corrupt)?;
            if i == 0 {
                dest = Some(v);
            }
        }
    }
    let mut v = dest.unwrap_or_else(hll::new_sparse);
    if dense {
        hll::to_dense(&mut v).map_err(corrupt)?;
        hll::store_dense(&mut v, &max);
    } else {
        let limit = sparse_max(ctx);
        for (i, &r) in max.iter().enumerate() {
            if r != 0 {
                hll::raise(&mut v, i, r, limit).map_err(corrupt)?;
            }
        }
    }
    hll::invalidate(&mut v);
    store(ctx, a[1], v);
    ctx.dirty += 1;
    // Redis reports a merge as an add
    ctx.notify(notify::STRING, "pfadd", a[1]);
    Ok(Reply::ok())
}

/// `PFDEBUG GETREG|DECODE|ENCODING|TODENSE key`
fn pfdebug(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (sub, key) = (a[1], a[2]);
    let Some(mut v) = read(ctx, key)? else {
        return Err(Reply::error("ERR The specified key does not exist"));
    };
    let sparse = hll::encoding(&v) == Encoding::Sparse;
    if sub.eq_ignore_ascii_case(b"getreg") || sub.eq_ignore_ascii_case(b"todense") {
        if sparse {
            hll::to_dense(&mut v).map_err(corrupt)?;
            let regs = hll::registers(&v).map_err(corrupt)?;
            store(ctx, key, v);
            ctx.dirty += 1;
            if sub.eq_ignore_ascii_case(b"todense") {
                return Ok(Reply::Int(1));
            }
            return Ok(int_array(&regs));
        }
        if sub.eq_ignore_ascii_case(b"todense") {
            return Ok(Reply::Int(0));
        }
        return Ok(int_array(&hll::registers(&v).map_err(corrupt)?));
    }
    if sub.eq_ignore_ascii_case(b"decode") {
        if !sparse {
            return Err(Reply::error("ERR HLL encoding is not sparse"));
        }
        return Ok(Reply::Bulk(hll::decode_sparse(&v).into_bytes().into()));
    }
    if sub.eq_ignore_ascii_case(b"encoding") {
        return Ok(Reply::simple(if sparse { "sparse" } else { "dense" }));
    }
    Err(Reply::error(format!(
        "ERR Unknown PFDEBUG subcommand '{}'",
        String::from_utf8_lossy(sub)
    )))
}

fn int_array(regs: &[u8]) -> Reply {
    Reply::Array(regs.iter().map(|&r| Reply::Int(r as i64)).collect())
}

/// `PFSELFTEST`
fn pfselftest(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let seed = ctx.eng.clock.now_ms() ^ 0x9e37_79b9_7f4a_7c15;
    match hll::self_test(sparse_max(ctx), seed) {
        Ok(()) => Ok(Reply::ok()),
        Err(msg) => Err(Reply::error(msg)),
    }
}
