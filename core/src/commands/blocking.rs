//! Blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX, BZMPOP. Each tries its non-blocking work first; with nothing
//! to return it asks the dispatcher to block (`Ctx::block_on`). A write that
//! makes a key ready runs the waiter's command again inside the writer's
//! locks with `ready_key` set, so the handler looks at that key only (see
//! `crate::blocking`). Inside MULTI they never block (Redis's rule).

use std::time::{Duration, Instant};

use super::flag::*;
use super::list::{end_arg, lmove_generic, lmpop, pop_n, removed_elements};
use super::zset::{get_zset, pop_from, zmpop};
use super::{CommandSpec, Ctx};
use crate::reply::Reply;
use crate::types::Value;
use crate::types::list::End;
use crate::util::number::parse_f64;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    keys: (i32, i32, i32),
    group: &'static str,
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, WRITE | BLOCKING, keys, group, handler)
}

/// Refused inside scripts (Redis 7 flags these `noscript`; BLMPOP and
/// BZMPOP run in scripts, without blocking).
const fn noscript(mut spec: CommandSpec) -> CommandSpec {
    spec.flags |= NOSCRIPT;
    spec
}

/// May grow memory: refused over `maxmemory` (BLMOVE, BRPOPLPUSH, as Redis).
const fn denyoom(mut spec: CommandSpec) -> CommandSpec {
    spec.flags |= DENYOOM;
    spec
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    noscript(cmd("blpop", -3, (1, -2, 1), "list", blpop)),
    noscript(cmd("brpop", -3, (1, -2, 1), "list", brpop)),
    noscript(denyoom(cmd("blmove", 6, (1, 2, 1), "list", blmove))),
    noscript(denyoom(cmd("brpoplpush", 4, (1, 2, 1), "list", brpoplpush))),
    cmd("blmpop", -5, (0, 0, 0), "list", blmpop).with_getkeys(mpop_keys),
    noscript(cmd("bzpopmin", -3, (1, -2, 1), "sorted-set", bzpopmin)),
    noscript(cmd("bzpopmax", -3, (1, -2, 1), "sorted-set", bzpopmax)),
    cmd("bzmpop", -5, (0, 0, 0), "sorted-set", bzmpop).with_getkeys(mpop_keys),
];

/// Key positions of `B?MPOP timeout numkeys key [key ...] …`.
fn mpop_keys(a: &[&[u8]]) -> Vec<usize> {
    match a.get(2).and_then(|n| crate::util::number::parse_i64(n)) {
        Some(n) if n > 0 => (3..a.len()).take(n as usize).collect(),
        _ => Vec::new(),
    }
}

/// Redis's timeout argument: seconds as a float, 0 = forever.
fn deadline(arg: &[u8]) -> Result<Option<Instant>, Reply> {
    let secs = parse_f64(arg)
        .filter(|s| s.is_finite())
        .ok_or_else(|| Reply::error("ERR timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    // far-future timeouts behave as "forever"
    Ok(Instant::now().checked_add(Duration::from_secs_f64(secs.min(1e9))))
}

fn owned(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
}

fn bpop_generic(ctx: &mut Ctx, a: &[&[u8]], end: End) -> R {
    let keys = &a[1..a.len() - 1];
    let dl = deadline(a[a.len() - 1])?;
    for key in ctx.candidate_keys(keys) {
        let nonempty = match ctx.lookup(key) {
            Some(Value::List(l)) => !l.is_empty(),
            Some(_) => return Err(super::err::wrongtype()),
            None => false,
        };
        if nonempty {
            let v = pop_n(ctx, key, end, 1).pop().expect("non-empty list");
            removed_elements(ctx, key, end, 1);
            let name: &[u8] = if end == End::Head { b"LPOP" } else { b"RPOP" };
            ctx.propagate_as(vec![vec![name.to_vec(), key.to_vec()]]);
            return Ok(Reply::Array(vec![Reply::bulk(key), Reply::bulk_vec(v)]));
        }
    }
    Ok(ctx.block_on(owned(keys), dl, Reply::NilArray))
}

/// `BLPOP key [key ...] timeout`
fn blpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bpop_generic(ctx, a, End::Head)
}

/// `BRPOP key [key ...] timeout`
fn brpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bpop_generic(ctx, a, End::Tail)
}

fn bmove_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End, timeout: &[u8]) -> R {
    let dl = deadline(timeout)?;
    match lmove_generic(ctx, src, dst, from, to)? {
        Some(v) => {
            let name = |e: End| {
                if e == End::Head {
                    b"LEFT".to_vec()
                } else {
                    b"RIGHT".to_vec()
                }
            };
            ctx.propagate_as(vec![vec![
                b"LMOVE".to_vec(),
                src.to_vec(),
                dst.to_vec(),
                name(from),
                name(to),
            ]]);
            Ok(Reply::bulk_vec(v))
        }
        None => Ok(ctx.block_on(vec![src.to_vec()], dl, Reply::Nil)),
    }
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`
fn blmove(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let from = end_arg(a[3])?;
    let to = end_arg(a[4])?;
    bmove_generic(ctx, a[1], a[2], from, to, a[5])
}

/// `BRPOPLPUSH source destination timeout`
fn brpoplpush(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bmove_generic(ctx, a[1], a[2], End::Tail, End::Head, a[3])
}

/// Runs the non-blocking `XMPOP numkeys keys… rest` form of a blocking
/// `BXMPOP timeout numkeys keys… rest`, restricted to the ready key while
/// serving a waiter.
fn bmpop_generic(ctx: &mut Ctx, a: &[&[u8]], inner: super::Handler) -> R {
    let dl = deadline(a[1])?;
    let positions = mpop_keys(a);
    let mut argv: Vec<&[u8]> = vec![a[0]];
    let one = b"1";
    match &ctx.ready_key {
        Some(r) => {
            let r: &[u8] = a[positions
                .iter()
                .copied()
                .find(|&i| a[i] == r.as_slice())
                .unwrap_or(3)];
            argv.push(one);
            argv.push(r);
            argv.extend_from_slice(&a[3 + positions.len()..]);
        }
        None => argv.extend_from_slice(&a[2..]),
    }
    let reply = inner(ctx, &argv)?;
    if reply != Reply::NilArray {
        return Ok(reply);
    }
    let keys: Vec<Vec<u8>> = positions.iter().map(|&i| a[i].to_vec()).collect();
    Ok(ctx.block_on(keys, dl, Reply::NilArray))
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`
fn blmpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bmpop_generic(ctx, a, lmpop)
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`
fn bzmpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bmpop_generic(ctx, a, zmpop)
}

fn bzpop_generic(ctx: &mut Ctx, a: &[&[u8]], max: bool) -> R {
    let keys = &a[1..a.len() - 1];
    let dl = deadline(a[a.len() - 1])?;
    for key in ctx.candidate_keys(keys) {
        if get_zset(ctx, key)?.is_some_and(|z| !z.is_empty()) {
            let (m, s) = pop_from(ctx, key, max, 1).pop().expect("non-empty zset");
            let name: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
            ctx.propagate_as(vec![vec![name.to_vec(), key.to_vec()]]);
            return Ok(Reply::Array(vec![
                Reply::bulk(key),
                Reply::bulk_vec(m),
                Reply::Double(s),
            ]));
        }
    }
    Ok(ctx.block_on(owned(keys), dl, Reply::NilArray))
}

/// `BZPOPMIN key [key ...] timeout`
fn bzpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bzpop_generic(ctx, a, false)
}

/// `BZPOPMAX key [key ...] timeout`
fn bzpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    bzpop_generic(ctx, a, true)
}
