//! SORT and SORT_RO: lists, sets and sorted sets, numerically or by bytes
//! (ALPHA), by the elements themselves or by keys named after them (BY
//! pattern, `nosort`, hash fields with `->`), with LIMIT, GET patterns and
//! STORE into a list, as Redis 7.2's `sort.c` does.
//!
//! BY and GET patterns reach keys no argument names, so both commands lock
//! every shard. A set sorted with a constant BY (no sorting) while storing
//! or inside a script is sorted by bytes instead, as Redis does, so that
//! the stored list and the AOF replay agree.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::flag::*;
use super::list::fill;
use super::{CommandSpec, Ctx, err};
use crate::notify;
use crate::reply::Reply;
use crate::types::Value;
use crate::types::list::ListValue;
use crate::util::number::{parse_f64, parse_i64};

type R = Result<Reply, Reply>;

pub(crate) static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "sort",
        -2,
        WRITE | DENYOOM | ALL_SHARDS,
        (1, 1, 1),
        "generic",
        sort,
    )
    .with_getkeys(keys_sort),
    CommandSpec::new(
        "sort_ro",
        -2,
        READONLY | ALL_SHARDS,
        (1, 1, 1),
        "generic",
        sort_ro,
    ),
];

/// Redis's `sortGetKeys`: the key, then the destination of the last STORE
/// (the words LIMIT, GET and BY skip their arguments).
fn keys_sort(a: &[&[u8]]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    let mut i = 2;
    while i < a.len() {
        if is(a[i], "limit") {
            i += 2;
        } else if is(a[i], "get") || is(a[i], "by") {
            i += 1;
        } else if is(a[i], "store") && i + 1 < a.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
    keys
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// C string view: Redis's `strchr`/`strstr`/`strtod` stop at a NUL.
fn cstr(a: &[u8]) -> &[u8] {
    a.iter().position(|&b| b == 0).map_or(a, |i| &a[..i])
}

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]`
fn sort(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sort_generic(ctx, a, false)
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]`
fn sort_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    sort_generic(ctx, a, true)
}

/// An element to sort: borrowed from a list, copied from a set or a
/// sorted set (whose visitors lend their members only for a call).
struct Item<'a> {
    obj: Cow<'a, [u8]>,
    score: f64,
    /// ALPHA with BY: the value found through the pattern (None: no key).
    by: Option<Vec<u8>>,
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element, and `->field` after it reads a hash
/// field. Only strings (or hash fields) are found; a pattern without `*`
/// finds nothing.
fn by_pattern(ctx: &Ctx, pat: &[u8], subst: &[u8]) -> Option<Vec<u8>> {
    let cpat = cstr(pat);
    if cpat == b"#" {
        return Some(subst.to_vec());
    }
    let star = cpat.iter().position(|&b| b == b'*')?;
    let field = cpat[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|off| star + 1 + off)
        .filter(|&f| f + 2 < cpat.len());
    let fieldlen = field.map_or(0, |f| pat.len() - f - 2);
    let postfixlen = pat.len() - (star + 1) - field.map_or(0, |_| fieldlen + 2);
    let mut key = Vec::with_capacity(star + subst.len() + postfixlen);
    key.extend_from_slice(&pat[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pat[star + 1..star + 1 + postfixlen]);
    match (ctx.lookup(&key)?, field) {
        (Value::Hash(h), Some(f)) => h.get(&pat[f + 2..]).map(<[u8]>::to_vec),
        (Value::Str(s), None) => Some(s.to_vec()),
        _ => None,
    }
}

/// A value as SORT reads it as a number: `strtod` over the C string, all
/// of it consumed (an empty string is 0), no overflow, no NaN.
fn sort_score(b: &[u8]) -> Option<f64> {
    let s = cstr(b);
    if s.is_empty() {
        return Some(0.0);
    }
    if let Some(i) = parse_i64(s) {
        return Some(i as f64);
    }
    // strtod skips leading spaces; the rest is getDoubleFromObject's rule
    parse_f64(s.trim_ascii_start())
}

fn sort_generic(ctx: &mut Ctx, a: &[&[u8]], readonly: bool) -> R {
    let (mut desc, mut alpha) = (false, false);
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut dontsort = false;
    let mut sortby: Option<&[u8]> = None;
    let mut store: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = a[j];
        if is(o, "asc") {
            desc = false;
        } else if is(o, "desc") {
            desc = true;
        } else if is(o, "alpha") {
            alpha = true;
        } else if is(o, "limit") && left >= 2 {
            limit_start = parse_i64(a[j + 1]).ok_or_else(err::not_int)?;
            limit_count = parse_i64(a[j + 2]).ok_or_else(err::not_int)?;
            j += 2;
        } else if !readonly && is(o, "store") && left >= 1 {
            store = Some(a[j + 1]);
            j += 1;
        } else if is(o, "by") && left >= 1 {
            sortby = Some(a[j + 1]);
            // a BY without `*` names no per-element key: nothing to sort by
            dontsort = !cstr(a[j + 1]).contains(&b'*');
            j += 1;
        } else if is(o, "get") && left >= 1 {
            gets.push(a[j + 1]);
            j += 1;
        } else {
            return Err(err::syntax());
        }
        j += 1;
    }

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        List,
        Set,
        Zset,
    }
    let (kind, len) = match ctx.lookup(a[1]) {
        None => (Kind::List, 0),
        Some(Value::List(l)) => (Kind::List, l.len()),
        Some(Value::Set(s)) => (Kind::Set, s.len()),
        Some(Value::Zset(z)) => (Kind::Zset, z.len()),
        Some(_) => return Err(err::wrongtype()),
    };
    // a set has no order of its own: the result must not depend on its
    // layout where it is kept (STORE) or replayed (scripts)
    if dontsort && kind == Kind::Set && (store.is_some() || ctx.eng.scripts.in_script()) {
        dontsort = false;
        alpha = true;
        sortby = None;
    }

    // Redis's LIMIT sanitising, over the whole length
    let vlen = len as i64;
    let mut start = limit_start.max(0).min(vlen);
    let limit_count = limit_count.max(-1).min(vlen);
    let mut end = if limit_count < 0 {
        vlen
    } else {
        start + limit_count - 1
    };
    if start >= vlen {
        start = vlen - 1;
        end = vlen - 2;
    }
    if end >= vlen {
        end = vlen - 1;
    }

    let mut items: Vec<Item> = Vec::new();
    fn item(obj: Cow<'_, [u8]>) -> Item<'_> {
        Item {
            obj,
            score: 0.0,
            by: None,
        }
    }
    match ctx.lookup(a[1]) {
        // the list's own order (reversed for DESC), only the range asked
        Some(Value::List(l)) if dontsort && end >= start => {
            let n = (end - start + 1) as usize;
            if desc {
                items.extend(
                    l.iter()
                        .rev()
                        .skip(start as usize)
                        .take(n)
                        .map(|e| item(Cow::Borrowed(e))),
                );
            } else {
                items.extend(
                    l.iter_from(start as usize)
                        .take(n)
                        .map(|e| item(Cow::Borrowed(e))),
                );
            }
            end -= start;
            start = 0;
        }
        Some(Value::List(_)) if dontsort => {}
        Some(Value::List(l)) => items.extend(l.iter().map(|e| item(Cow::Borrowed(e)))),
        Some(Value::Set(s)) => {
            items.reserve(s.len());
            s.for_each(|m| items.push(item(Cow::Owned(m.to_vec()))));
        }
        Some(Value::Zset(z)) if dontsort => {
            // the sorted set's order (reversed for DESC), only the range asked
            let n = if end >= start {
                (end - start + 1) as usize
            } else {
                0
            };
            let (lo, hi) = if desc {
                (len - start as usize - n, len - start as usize)
            } else {
                (start as usize, start as usize + n)
            };
            if n > 0 {
                z.visit(lo, hi, desc, |m, _| {
                    items.push(item(Cow::Owned(m.to_vec())))
                });
                end -= start;
                start = 0;
            }
        }
        Some(Value::Zset(z)) => z.for_each(|m, _| items.push(item(Cow::Owned(m.to_vec())))),
        _ => {}
    }

    let mut not_a_number = false;
    if !dontsort {
        for it in items.iter_mut() {
            let by = match sortby {
                Some(p) => match by_pattern(ctx, p, &it.obj) {
                    Some(v) => Some(v),
                    None => continue,
                },
                None => None,
            };
            if alpha {
                it.by = by;
            } else {
                match sort_score(by.as_deref().unwrap_or(&it.obj)) {
                    Some(s) => it.score = s,
                    None => not_a_number = true,
                }
            }
        }
        let storing = store.is_some();
        let by_pattern = sortby.is_some();
        // Redis compares with strcoll when not storing: byte order in the
        // C locale, up to the first NUL
        let text_cmp = |x: &[u8], y: &[u8]| {
            if storing {
                x.cmp(y)
            } else {
                cstr(x).cmp(cstr(y))
            }
        };
        let cmp = |x: &Item, y: &Item| -> Ordering {
            let c = if !alpha {
                x.score
                    .partial_cmp(&y.score)
                    .filter(|c| c.is_ne())
                    .unwrap_or_else(|| x.obj.cmp(&y.obj))
            } else if by_pattern {
                match (&x.by, &y.by) {
                    (Some(p), Some(q)) => text_cmp(p, q),
                    (p, q) => p.is_some().cmp(&q.is_some()),
                }
            } else {
                text_cmp(&x.obj, &y.obj)
            };
            if desc { c.reverse() } else { c }
        };
        // stable, as glibc's qsort (a merge sort) is
        items.sort_by(cmp);
    }

    if not_a_number {
        return Err(Reply::error(
            "ERR One or more scores can't be converted into double",
        ));
    }
    let range = if end >= start {
        &items[start as usize..=end as usize]
    } else {
        &items[..0]
    };
    let Some(dst) = store else {
        let mut out = Vec::with_capacity(range.len() * gets.len().max(1));
        for it in range {
            if gets.is_empty() {
                out.push(Reply::bulk(&it.obj));
            }
            for g in &gets {
                out.push(by_pattern(ctx, g, &it.obj).map_or(Reply::Nil, Reply::bulk_vec));
            }
        }
        return Ok(Reply::Array(out));
    };
    let mut elems: Vec<Vec<u8>> = Vec::with_capacity(range.len() * gets.len().max(1));
    for it in range {
        if gets.is_empty() {
            elems.push(it.obj.to_vec());
        }
        for g in &gets {
            elems.push(by_pattern(ctx, g, &it.obj).unwrap_or_default());
        }
    }
    let n = elems.len();
    match ListValue::from_loaded(elems.iter().map(Vec::as_slice), fill(ctx)) {
        Some(l) => {
            ctx.set(dst, Value::List(Box::new(l)));
            ctx.notify(notify::LIST, "sortstore", dst);
            ctx.dirty += n as u64;
        }
        None => {
            if ctx.remove(dst).is_some() {
                ctx.notify(notify::GENERIC, "del", dst);
                ctx.dirty += 1;
            }
        }
    }
    Ok(Reply::Int(n as i64))
}

#[cfg(test)]
mod tests {
    use super::{keys_sort, sort_score};

    #[test]
    fn scores_as_strtod_reads_them() {
        assert_eq!(sort_score(b""), Some(0.0));
        assert_eq!(sort_score(b" 1.5"), Some(1.5));
        assert_eq!(sort_score(b"1\0junk"), Some(1.0));
        assert_eq!(sort_score(b"  "), None);
        assert_eq!(sort_score(b"1x"), None);
        assert_eq!(sort_score(b"nan"), None);
        assert_eq!(sort_score(b"1e999"), None);
        assert_eq!(sort_score(b"-inf"), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn store_key_is_the_last_store() {
        let a: Vec<&[u8]> = vec![
            b"sort", b"k", b"store", b"a", b"limit", b"0", b"1", b"store", b"b",
        ];
        assert_eq!(keys_sort(&a), vec![1, 8]);
        let a: Vec<&[u8]> = vec![b"sort", b"k", b"get", b"store", b"by", b"x"];
        assert_eq!(keys_sort(&a), vec![1]);
    }
}
