//! List commands: pushes, pops, ranges, LINSERT/LSET/LREM/LTRIM, LPOS,
//! LMOVE/RPOPLPUSH and LMPOP. The blocking variants live with the blocking
//! machinery and reuse `list_mut`, `pop_n` and `removed_elements` from here.
//!
//! Argument parsing mirrors Redis's order (which argument is checked
//! before the key is looked up), because it decides which error a bad
//! call gets.

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::config::Tun;
use crate::notify;
use crate::reply::Reply;
use crate::types::Value;
use crate::types::list::{End, Fill, ListValue};
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn cmd(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    handler: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, keys, "list", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    cmd("lpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpush),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpush),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), lpushx),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, (1, 1, 1), rpushx),
    cmd("lpop", -2, WRITE | FAST, (1, 1, 1), lpop),
    cmd("rpop", -2, WRITE | FAST, (1, 1, 1), rpop),
    cmd("llen", 2, READONLY | FAST, (1, 1, 1), llen),
    cmd("lrange", 4, READONLY, (1, 1, 1), lrange),
    cmd("lindex", 3, READONLY, (1, 1, 1), lindex),
    cmd("lset", 4, WRITE | DENYOOM, (1, 1, 1), lset),
    cmd("linsert", 5, WRITE | DENYOOM, (1, 1, 1), linsert),
    cmd("lrem", 4, WRITE, (1, 1, 1), lrem),
    cmd("ltrim", 4, WRITE, (1, 1, 1), ltrim),
    cmd("lpos", -3, READONLY, (1, 1, 1), lpos),
    cmd("lmove", 5, WRITE | DENYOOM, (1, 2, 1), lmove),
    cmd("rpoplpush", 3, WRITE | DENYOOM, (1, 2, 1), rpoplpush),
    cmd("lmpop", -4, WRITE, (0, 0, 0), lmpop).with_getkeys(lmpop_keys),
];

// ----- shared helpers -----

/// `list-max-listpack-size`.
pub(crate) fn fill(ctx: &Ctx) -> Fill {
    Fill(ctx.eng.params.tun(Tun::ListMaxListpackSize))
}

/// The list under `key` for reading: Ok(None) if missing, WRONGTYPE if not a list.
pub(crate) fn list<'c>(ctx: &'c Ctx, key: &[u8]) -> Result<Option<&'c ListValue>, Reply> {
    ctx.typed(key)
}

/// The list under `key` for writing.
pub(crate) fn list_mut<'c>(
    ctx: &'c mut Ctx,
    key: &[u8],
) -> Result<Option<&'c mut ListValue>, Reply> {
    ctx.typed_mut(key)
}

/// Redis's `getLongFromObjectOrReply`: `msg` replaces the default error.
fn get_long(arg: &[u8], msg: Option<&str>) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| msg.map_or_else(err::not_int, Reply::error))
}

/// Redis's `getRangeLongFromObjectOrReply`.
fn get_range_long(arg: &[u8], min: i64, max: i64, msg: Option<&str>) -> Result<i64, Reply> {
    let v = get_long(arg, msg)?;
    if v < min || v > max {
        return Err(match msg {
            Some(m) => Reply::error(m),
            None => Reply::Error(format!(
                "ERR value is out of range, value must between {min} and {max}"
            )),
        });
    }
    Ok(v)
}

/// Redis's `getPositiveLongFromObjectOrReply`.
fn get_positive_long(arg: &[u8], msg: Option<&str>) -> Result<i64, Reply> {
    get_range_long(
        arg,
        0,
        i64::MAX,
        Some(msg.unwrap_or("ERR value is out of range, must be positive")),
    )
}

pub(crate) fn end_arg(arg: &[u8]) -> Result<End, Reply> {
    if arg.eq_ignore_ascii_case(b"left") {
        Ok(End::Head)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Ok(End::Tail)
    } else {
        Err(err::syntax())
    }
}

/// Pops up to `n` elements from one end of the list under `key` (which
/// must exist and be a list).
pub(crate) fn pop_n(ctx: &mut Ctx, key: &[u8], end: End, n: usize) -> Vec<Vec<u8>> {
    let Ok(Some(l)) = list_mut(ctx, key) else {
        return Vec::new();
    };
    let n = n.min(l.len());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(l.pop(end).expect("n ≤ len"));
    }
    out
}

/// Bookkeeping after popping `count` elements from `key` (Redis's
/// `listElementsRemoved`): the pop event, deletion of an emptied list,
/// conversion back to a listpack, WATCH, dirty.
pub(crate) fn removed_elements(ctx: &mut Ctx, key: &[u8], end: End, count: usize) {
    ctx.notify(
        notify::LIST,
        if end == End::Head { "lpop" } else { "rpop" },
        key,
    );
    let fill = fill(ctx);
    let empty = match list_mut(ctx, key) {
        Ok(Some(l)) if !l.is_empty() => {
            l.shrink_check(fill);
            false
        }
        _ => true,
    };
    if empty {
        ctx.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.touch(key);
    }
    ctx.dirty += count as u64;
}

/// After a change in the middle of a list: delete it if empty, else maybe
/// convert back to a listpack, and tell WATCH.
fn after_change(ctx: &mut Ctx, key: &[u8]) {
    let fill = fill(ctx);
    let empty = match list_mut(ctx, key) {
        Ok(Some(l)) if !l.is_empty() => {
            l.shrink_check(fill);
            false
        }
        _ => true,
    };
    if empty {
        ctx.remove(key);
        ctx.notify(notify::GENERIC, "del", key);
    } else {
        ctx.touch(key);
    }
}

/// Pushes `elems` onto `key`, creating the list unless `xx`; the new
/// length, or None when `xx` and the key is missing.
pub(crate) fn push_elems(
    ctx: &mut Ctx,
    key: &[u8],
    end: End,
    elems: &[&[u8]],
    xx: bool,
) -> Result<Option<usize>, Reply> {
    let fill = fill(ctx);
    let add_bytes: usize = elems.iter().map(|e| e.len()).sum();
    let len = match list_mut(ctx, key)? {
        Some(l) => {
            l.grow_check(fill, add_bytes, elems.len());
            for e in elems {
                l.push(end, e, fill);
            }
            let len = l.len();
            ctx.touch(key);
            len
        }
        None if xx => return Ok(None),
        None => {
            let mut l = ListValue::new();
            l.grow_check(fill, add_bytes, elems.len());
            for e in elems {
                l.push(end, e, fill);
            }
            let len = l.len();
            ctx.set(key, Value::List(Box::new(l)));
            len
        }
    };
    ctx.dirty += elems.len() as u64;
    ctx.notify(
        notify::LIST,
        if end == End::Head { "lpush" } else { "rpush" },
        key,
    );
    Ok(Some(len))
}

// ----- pushes and pops -----

fn push_generic(ctx: &mut Ctx, a: &[&[u8]], end: End, xx: bool) -> R {
    Ok(Reply::Int(
        push_elems(ctx, a[1], end, &a[2..], xx)?.unwrap_or(0) as i64,
    ))
}

/// `LPUSH key element [element ...]`
fn lpush(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    push_generic(ctx, a, End::Head, false)
}

/// `RPUSH key element [element ...]`
fn rpush(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    push_generic(ctx, a, End::Tail, false)
}

/// `LPUSHX key element [element ...]`
fn lpushx(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    push_generic(ctx, a, End::Head, true)
}

/// `RPUSHX key element [element ...]`
fn rpushx(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    push_generic(ctx, a, End::Tail, true)
}

fn pop_generic(ctx: &mut Ctx, a: &[&[u8]], end: End) -> R {
    if a.len() > 3 {
        return Err(err::arity(if end == End::Head { "lpop" } else { "rpop" }));
    }
    let count = match a.get(2) {
        Some(c) => Some(get_positive_long(c, None)? as usize),
        None => None,
    };
    let key = a[1];
    let Some(l) = list_mut(ctx, key)? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    match count {
        None => {
            // an empty list is never stored; treat one like a missing key
            let Some(v) = l.pop(end) else {
                return Ok(Reply::Nil);
            };
            removed_elements(ctx, key, end, 1);
            Ok(Reply::bulk_vec(v))
        }
        Some(0) => Ok(Reply::Array(Vec::new())),
        Some(n) => {
            let items = pop_n(ctx, key, end, n);
            removed_elements(ctx, key, end, items.len());
            Ok(Reply::Array(
                items.into_iter().map(Reply::bulk_vec).collect(),
            ))
        }
    }
}

/// `LPOP key [count]`
fn lpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    pop_generic(ctx, a, End::Head)
}

/// `RPOP key [count]`
fn rpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    pop_generic(ctx, a, End::Tail)
}

/// Key positions of `LMPOP numkeys key [key ...] …`.
pub(crate) fn lmpop_keys(a: &[&[u8]]) -> Vec<usize> {
    match a.get(1).and_then(|n| parse_i64(n)) {
        Some(n) if n > 0 => (2..a.len()).take(n as usize).collect(),
        _ => Vec::new(),
    }
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`
pub(crate) fn lmpop(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let numkeys = get_range_long(
        a[1],
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )? as usize;
    if numkeys > a.len() - 3 {
        return Err(err::syntax());
    }
    let where_idx = 2 + numkeys;
    let end = end_arg(a[where_idx])?;
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < a.len() {
        if count.is_none() && a[j].eq_ignore_ascii_case(b"count") && j + 1 < a.len() {
            count = Some(get_range_long(
                a[j + 1],
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )? as usize);
            j += 2;
        } else {
            return Err(err::syntax());
        }
    }
    let count = count.unwrap_or(1);
    for &key in &a[2..where_idx] {
        let Some(l) = list_mut(ctx, key)? else {
            continue;
        };
        if l.is_empty() {
            continue;
        }
        let items = pop_n(ctx, key, end, count);
        let n = items.len();
        removed_elements(ctx, key, end, n);
        let name: &[u8] = if end == End::Head { b"LPOP" } else { b"RPOP" };
        ctx.propagate_as(vec![vec![
            name.to_vec(),
            key.to_vec(),
            n.to_string().into_bytes(),
        ]]);
        return Ok(Reply::Array(vec![
            Reply::bulk(key),
            Reply::Array(items.into_iter().map(Reply::bulk_vec).collect()),
        ]));
    }
    Ok(Reply::NilArray)
}

// ----- reads -----

/// `LLEN key`
fn llen(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(list(ctx, a[1])?.map_or(0, |l| l.len()) as i64))
}

/// Redis's range clamp: negative indexes from the end; None when empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
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

/// `LRANGE key start stop`
fn lrange(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let start = get_long(a[2], None)?;
    let end = get_long(a[3], None)?;
    let Some(l) = list(ctx, a[1])? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((s, e)) = clamp_range(start, end, l.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let mut out = Vec::with_capacity(e - s + 1);
    out.extend(l.iter_from(s).take(e - s + 1).map(Reply::bulk));
    Ok(Reply::Array(out))
}

/// `LINDEX key index`
fn lindex(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(l) = list(ctx, a[1])? else {
        return Ok(Reply::Nil);
    };
    let index = get_long(a[2], None)?;
    Ok(Reply::opt_bulk(l.index(index).and_then(|i| l.get(i))))
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
fn lpos(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let elem = a[2];
    let (mut rank, mut count, mut maxlen) = (1i64, None::<i64>, 0i64);
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let o = a[j];
        if o.eq_ignore_ascii_case(b"rank") && more {
            // Redis 7.0 takes any long here (7.2 rejects LONG_MIN); LONG_MIN
            // then negates to itself and matches like -1.
            rank = get_long(a[j + 1], None)?;
            if rank == 0 {
                return Err(Reply::error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if o.eq_ignore_ascii_case(b"count") && more {
            count = Some(get_positive_long(
                a[j + 1],
                Some("ERR COUNT can't be negative"),
            )?);
        } else if o.eq_ignore_ascii_case(b"maxlen") && more {
            maxlen = get_positive_long(a[j + 1], Some("ERR MAXLEN can't be negative"))?;
        } else {
            return Err(err::syntax());
        }
        j += 2;
    }
    let Some(l) = list(ctx, a[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let len = l.len();
    let from_tail = rank < 0;
    // 7.0 with RANK LONG_MIN: every match qualifies, and the COUNT test
    // overflows so that COUNT never stops the scan
    let rank_min = rank == i64::MIN;
    let rank = if rank_min {
        1
    } else {
        rank.unsigned_abs() as usize
    };
    let scan = if maxlen == 0 {
        len
    } else {
        (maxlen as usize).min(len)
    };
    let items: Box<dyn Iterator<Item = &[u8]>> = if from_tail {
        Box::new(l.iter().rev())
    } else {
        Box::new(l.iter())
    };
    let mut matches = 0usize;
    let mut found = Vec::new();
    for (i, e) in items.take(scan).enumerate() {
        if e != elem {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let pos = (if from_tail { len - 1 - i } else { i }) as i64;
        match count {
            None => return Ok(Reply::Int(pos)),
            Some(c) => {
                found.push(Reply::Int(pos));
                if c != 0 && !rank_min && found.len() as i64 >= c {
                    break;
                }
            }
        }
    }
    Ok(if count.is_some() {
        Reply::Array(found)
    } else {
        Reply::Nil
    })
}

// ----- changes in the middle -----

/// `LSET key index element`
fn lset(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let (key, elem) = (a[1], a[3]);
    let fill = fill(ctx);
    let Some(l) = list_mut(ctx, key)? else {
        return Err(Reply::error(err::NO_KEY));
    };
    let index = get_long(a[2], None)?;
    // Redis converts before it checks the index
    l.grow_check(fill, elem.len(), 1);
    let Some(i) = l.index(index) else {
        return Err(Reply::error("ERR index out of range"));
    };
    l.set(i, elem, fill);
    l.shrink_check(fill);
    ctx.touch(key);
    ctx.notify(notify::LIST, "lset", key);
    ctx.dirty += 1;
    Ok(Reply::ok())
}

/// `LINSERT key BEFORE|AFTER pivot element`
fn linsert(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let after = if a[2].eq_ignore_ascii_case(b"after") {
        true
    } else if a[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(err::syntax());
    };
    let (key, pivot, elem) = (a[1], a[3], a[4]);
    let fill = fill(ctx);
    let Some(l) = list_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    l.grow_check(fill, elem.len(), 1);
    if !l.insert(pivot, elem, after, fill) {
        return Ok(Reply::Int(-1));
    }
    let len = l.len();
    ctx.touch(key);
    ctx.notify(notify::LIST, "linsert", key);
    ctx.dirty += 1;
    Ok(Reply::Int(len as i64))
}

/// `LREM key count element`
fn lrem(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let count = get_long(a[2], None)?;
    let key = a[1];
    let Some(l) = list_mut(ctx, key)? else {
        return Ok(Reply::Int(0));
    };
    let removed = l.remove(a[3], count);
    if removed > 0 {
        ctx.notify(notify::LIST, "lrem", key);
        after_change(ctx, key);
        ctx.dirty += removed as u64;
    }
    Ok(Reply::Int(removed as i64))
}

/// `LTRIM key start stop`
fn ltrim(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let start = get_long(a[2], None)?;
    let end = get_long(a[3], None)?;
    let key = a[1];
    let Some(l) = list_mut(ctx, key)? else {
        return Ok(Reply::ok());
    };
    let len = l.len();
    let (head, tail) = match clamp_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    l.trim_head(head);
    l.trim_tail(tail);
    ctx.notify(notify::LIST, "ltrim", key);
    if head + tail > 0 {
        after_change(ctx, key);
    }
    ctx.dirty += (head + tail) as u64;
    Ok(Reply::ok())
}

// ----- moves -----

/// LMOVE's work: pops from `src`, pushes onto `dst`; the moved element,
/// or None when `src` is missing.
pub(crate) fn lmove_generic(
    ctx: &mut Ctx,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, Reply> {
    let Some(l) = list_mut(ctx, src)? else {
        return Ok(None);
    };
    if l.is_empty() {
        return Ok(None);
    }
    if src != dst {
        list_mut(ctx, dst)?; // WRONGTYPE before anything moves
    }
    let v = list_mut(ctx, src)?
        .and_then(|l| l.pop(from))
        .expect("checked non-empty");
    let fill = fill(ctx);
    match list_mut(ctx, dst)? {
        Some(l) => {
            l.grow_check(fill, v.len(), 1);
            l.push(to, &v, fill);
            ctx.touch(dst);
        }
        None => {
            let mut l = ListValue::new();
            l.grow_check(fill, v.len(), 1);
            l.push(to, &v, fill);
            ctx.set(dst, Value::List(Box::new(l)));
        }
    }
    ctx.notify(
        notify::LIST,
        if to == End::Head { "lpush" } else { "rpush" },
        dst,
    );
    removed_elements(ctx, src, from, 1);
    Ok(Some(v))
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
fn lmove(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let from = end_arg(a[3])?;
    let to = end_arg(a[4])?;
    Ok(Reply::opt_bulk(lmove_generic(ctx, a[1], a[2], from, to)?))
}

/// `RPOPLPUSH source destination`
fn rpoplpush(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::opt_bulk(lmove_generic(
        ctx,
        a[1],
        a[2],
        End::Tail,
        End::Head,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_nulls_and_shapes() {
        let db = crate::Db::in_memory();
        let mut c = db.client();
        c.execute(&["HELLO", "3"]);
        let mut out = Vec::new();
        c.execute(&["LPOP", "nosuch", "2"]).write_resp3(&mut out);
        c.execute(&["LMPOP", "1", "nosuch", "LEFT"])
            .write_resp3(&mut out);
        c.execute(&["LINDEX", "nosuch", "0"]).write_resp3(&mut out);
        assert_eq!(out, b"_\r\n_\r\n_\r\n");
        c.execute(&["RPUSH", "l", "a", "b"]);
        let got = c.execute(&["LMPOP", "1", "l", "RIGHT", "COUNT", "5"]);
        let want = Reply::Array(vec![
            Reply::bulk("l"),
            Reply::Array(vec![Reply::bulk("b"), Reply::bulk("a")]),
        ]);
        assert_eq!(got, want);
        assert_eq!(c.execute(&["EXISTS", "l"]), Reply::Int(0));
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(clamp_range(-1, -1, 0), None);
    }

    #[test]
    fn lmpop_key_positions() {
        let a: Vec<&[u8]> = vec![b"lmpop", b"2", b"a", b"b", b"left"];
        assert_eq!(lmpop_keys(&a), vec![2, 3]);
        let a: Vec<&[u8]> = vec![b"lmpop", b"9", b"a", b"left"];
        assert_eq!(lmpop_keys(&a), vec![2, 3]);
        let a: Vec<&[u8]> = vec![b"lmpop", b"x", b"a", b"left"];
        assert!(lmpop_keys(&a).is_empty());
    }
}
