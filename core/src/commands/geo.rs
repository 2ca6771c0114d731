//! GEO commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER (and their `_RO` forms),
//! with Redis 7.2's replies and errors.
//!
//! A GEO value is a plain sorted set whose scores are 52-bit geohashes
//! (`util::geohash`), so RDB and AOF files are Redis's own. Searches visit
//! the nine cells Redis visits, in its order, with its shape tests, so that
//! which members are found, their order before sorting (what ANY returns),
//! coordinates and distances are redis-server's, byte for byte.

use super::flag::*;
use super::zset::{get_zset, zset_limits};
use super::{CommandSpec, Ctx, err};
use crate::notify;
use crate::reply::Reply;
use crate::types::Value;
use crate::types::zset::{AddFlags, AddOutcome, ScoreRange, ZsetValue};
use crate::util::geohash::{self, Search, Shape};
use crate::util::number::{parse_f64, parse_i64};

type R = Result<Reply, Reply>;

/// A GEO command whose one key is its first argument (more for the
/// STORE forms, from their key functions).
const fn geo(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (1, 1, 1), "geo", handler)
}

const W: u32 = WRITE | DENYOOM;

pub(crate) static COMMANDS: &[CommandSpec] = &[
    geo("geoadd", -5, W, geoadd),
    geo("geodist", -4, READONLY, geodist),
    geo("geohash", -2, READONLY, geohash_cmd),
    geo("geopos", -2, READONLY, geopos),
    geo("georadius", -6, W, georadius).with_getkeys(keys_georadius),
    geo("georadius_ro", -6, READONLY, georadius_ro),
    geo("georadiusbymember", -5, W, georadiusbymember).with_getkeys(keys_georadiusbymember),
    geo("georadiusbymember_ro", -5, READONLY, georadiusbymember_ro),
    geo("geosearch", -7, READONLY, geosearch),
    CommandSpec::new("geosearchstore", -8, W, (1, 2, 1), "geo", geosearchstore),
];

/// The source key, then the key after the first STORE and the first
/// STOREDIST at or after `from` (Redis's keyword key specs).
fn store_keys(a: &[&[u8]], from: usize) -> Vec<usize> {
    let mut v = vec![1];
    for word in ["store", "storedist"] {
        if let Some(i) = (from..a.len()).find(|&i| is(a[i], word))
            && i + 1 < a.len()
        {
            v.push(i + 1);
        }
    }
    v
}

fn keys_georadius(a: &[&[u8]]) -> Vec<usize> {
    store_keys(a, 6)
}

fn keys_georadiusbymember(a: &[&[u8]]) -> Vec<usize> {
    store_keys(a, 5)
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

// ----- argument parsing -----

/// Redis's `extractLongLatOrReply`.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<[f64; 2], Reply> {
    let lon = parse_f64(lon).ok_or_else(err::not_float)?;
    let lat = parse_f64(lat).ok_or_else(err::not_float)?;
    if !(geohash::LONG_MIN..=geohash::LONG_MAX).contains(&lon)
        || !(geohash::LAT_MIN..=geohash::LAT_MAX).contains(&lat)
    {
        return Err(Reply::Error(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok([lon, lat])
}

/// Metres per unit (Redis's `extractUnitOrReply`).
fn unit(u: &[u8]) -> Result<f64, Reply> {
    match u.to_ascii_lowercase().as_slice() {
        b"m" => Ok(1.0),
        b"km" => Ok(1000.0),
        b"ft" => Ok(0.3048),
        b"mi" => Ok(1609.34),
        _ => Err(Reply::error(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        )),
    }
}

fn number(b: &[u8], what: &str) -> Result<f64, Reply> {
    parse_f64(b).ok_or_else(|| Reply::Error(format!("ERR need numeric {what}")))
}

/// `radius unit`: (radius, metres per unit).
fn radius(r: &[u8], u: &[u8]) -> Result<(f64, f64), Reply> {
    let r = number(r, "radius")?;
    if r < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((r, unit(u)?))
}

/// `width height unit`: (width, height, metres per unit).
fn box_size(w: &[u8], h: &[u8], u: &[u8]) -> Result<(f64, f64, f64), Reply> {
    let w = number(w, "width")?;
    let h = number(h, "height")?;
    if h < 0.0 || w < 0.0 {
        return Err(Reply::error("ERR height or width cannot be negative"));
    }
    Ok((w, h, unit(u)?))
}

/// The position a member's score stands for.
fn member_pos(z: &ZsetValue, m: &[u8]) -> Result<[f64; 2], Reply> {
    z.score(m)
        .and_then(geohash::decode_score)
        .ok_or_else(|| Reply::error("ERR could not decode requested zset member"))
}

// ----- reply formatting -----

/// `%.17Lf` with trailing zeros (and a trailing point) removed: Redis's
/// "human" long double, as GEOPOS and WITHCOORD show coordinates.
fn human(d: f64) -> String {
    let mut s = format!("{d:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" {
        s = "0".into();
    }
    s
}

fn coord_reply(ctx: &Ctx, d: f64) -> Reply {
    if ctx.cl.resp >= 3 {
        Reply::Double(d)
    } else {
        Reply::bulk(human(d))
    }
}

/// A distance with four decimals, rounded as Redis 7.2's
/// `fixedpoint_d2string` does (`llrint(d * 10^4)`).
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let sign = if v < 0 { "-" } else { "" };
    let v = v.unsigned_abs();
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

// ----- GEOADD -----

/// `GEOADD key [NX | XX] [CH] longitude latitude member [longitude latitude member ...]`
fn geoadd(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let mut f = AddFlags::default();
    let mut ch = false;
    let mut i = 2;
    while i < a.len() {
        if is(a[i], "nx") {
            f.nx = true;
        } else if is(a[i], "xx") {
            f.xx = true;
        } else if is(a[i], "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let triples = &a[i..];
    if !triples.len().is_multiple_of(3) || (f.xx && f.nx) || triples.is_empty() {
        return Err(err::syntax());
    }
    let mut points = Vec::with_capacity(triples.len() / 3);
    for t in triples.chunks(3) {
        let [lon, lat] = lon_lat(t[0], t[1])?;
        let score = geohash::score_of(lon, lat).ok_or_else(err::syntax)?;
        points.push((score as f64, t[2]));
    }
    let lim = zset_limits(ctx);
    let (mut added, mut updated) = (0u64, 0u64);
    let mut apply = |z: &mut ZsetValue| {
        for &(score, m) in &points {
            match z.add(m, score, f, &lim) {
                AddOutcome::Added(_) => added += 1,
                AddOutcome::Updated(_) => updated += 1,
                _ => {}
            }
        }
    };
    match ctx.typed_mut::<ZsetValue>(key)? {
        Some(z) => apply(z),
        None if f.xx => {}
        None => {
            let mut z = ZsetValue::new_for(points[0].1.len(), &lim);
            apply(&mut z);
            if !z.is_empty() {
                ctx.set(key, Value::Zset(Box::new(z)));
            }
        }
    }
    if added + updated > 0 {
        ctx.touch(key);
        ctx.notify(notify::ZSET, "zadd", key);
    }
    ctx.dirty += added + updated;
    Ok(Reply::Int(if ch { added + updated } else { added } as i64))
}

// ----- point queries -----

/// `GEODIST key member1 member2 [M | KM | FT | MI]`
fn geodist(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let to_meters = match a.len() {
        4 => 1.0,
        5 => unit(a[4])?,
        _ => return Err(err::syntax()),
    };
    let Some(z) = get_zset(ctx, a[1])? else {
        return Ok(Reply::Nil);
    };
    let pos = |m: &[u8]| z.score(m).and_then(geohash::decode_score);
    let (Some([x1, y1]), Some([x2, y2])) = (pos(a[2]), pos(a[3])) else {
        return Ok(Reply::Nil);
    };
    Ok(Reply::bulk(distance_text(
        geohash::distance(x1, y1, x2, y2) / to_meters,
    )))
}

/// `GEOHASH key [member [member ...]]`
fn geohash_cmd(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let z = get_zset(ctx, a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .and_then(geohash::standard_geohash)
                    .map_or(Reply::Nil, Reply::bulk)
            })
            .collect(),
    ))
}

/// `GEOPOS key [member [member ...]]`
fn geopos(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let z = get_zset(ctx, a[1])?;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(
                |m| match z.and_then(|z| z.score(m)).and_then(geohash::decode_score) {
                    Some([lon, lat]) => {
                        Reply::Array(vec![coord_reply(ctx, lon), coord_reply(ctx, lat)])
                    }
                    None => Reply::NilArray,
                },
            )
            .collect(),
    ))
}

// ----- searches -----

/// Which command's grammar a search follows (Redis's `georadiusGeneric` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS[_RO] key longitude latitude radius unit …
    Radius { store: bool },
    /// GEORADIUSBYMEMBER[_RO] key member radius unit …
    ByMember { store: bool },
    /// GEOSEARCH key …
    Search,
    /// GEOSEARCHSTORE destination source …
    SearchStore,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Asc,
    Desc,
}

struct Point {
    member: Vec<u8>,
    score: f64,
    pos: [f64; 2],
    /// Metres until the reply, then in the request's unit.
    dist: f64,
}

/// `GEORADIUS key longitude latitude radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]`
fn georadius(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    search_generic(ctx, a, Kind::Radius { store: true })
}

/// `GEORADIUS_RO key longitude latitude radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]`
fn georadius_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    search_generic(ctx, a, Kind::Radius { store: false })
}

/// `GEORADIUSBYMEMBER key member radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC] [STORE key | STOREDIST key]`
fn georadiusbymember(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    search_generic(ctx, a, Kind::ByMember { store: true })
}

/// `GEORADIUSBYMEMBER_RO key member radius M | KM | FT | MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC | DESC]`
fn georadiusbymember_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    search_generic(ctx, a, Kind::ByMember { store: false })
}

/// `GEOSEARCH key FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius M | KM | FT | MI | BYBOX width height M | KM | FT | MI [ASC | DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]`
fn geosearch(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    search_generic(ctx, a, Kind::Search)
}

/// `GEOSEARCHSTORE destination source FROMMEMBER member | FROMLONLAT longitude latitude BYRADIUS radius M | KM | FT | MI | BYBOX width height M | KM | FT | MI [ASC | DESC] [COUNT count [ANY]] [STOREDIST]`
fn geosearchstore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    search_generic(ctx, a, Kind::SearchStore)
}

/// Redis's `georadiusGeneric`: the same argument checks in the same order
/// (so the same error wins), the same cells, the same sorting.
fn search_generic(ctx: &mut Ctx, a: &[&[u8]], kind: Kind) -> R {
    let src = if kind == Kind::SearchStore {
        a[2]
    } else {
        a[1]
    };
    let is_search = matches!(kind, Kind::Search | Kind::SearchStore);
    let may_store = matches!(
        kind,
        Kind::Radius { store: true } | Kind::ByMember { store: true }
    );
    let mut store: Option<&[u8]> = None;
    let mut storedist = false;
    let z = get_zset(ctx, src)?;
    let mut center = [0.0, 0.0];
    let mut shape = Shape::Radius(0.0);
    let mut conversion = 1.0;
    let base = match kind {
        Kind::Radius { .. } => {
            center = lon_lat(a[2], a[3])?;
            let (r, c) = radius(a[4], a[5])?;
            (shape, conversion) = (Shape::Radius(r), c);
            6
        }
        Kind::ByMember { .. } => {
            // without a source the rest is still parsed, for the right reply
            if let Some(z) = z {
                center = member_pos(z, a[2])?;
                let (r, c) = radius(a[3], a[4])?;
                (shape, conversion) = (Shape::Radius(r), c);
            }
            5
        }
        Kind::Search => 2,
        Kind::SearchStore => {
            store = Some(a[1]);
            3
        }
    };
    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut order = Order::None;
    let mut any = false;
    let mut count: i64 = 0;
    let rest = &a[base..];
    let remaining = rest.len();
    let mut i = 0;
    while i < remaining {
        let arg = rest[i];
        if is(arg, "withdist") {
            withdist = true;
        } else if is(arg, "withhash") {
            withhash = true;
        } else if is(arg, "withcoord") {
            withcoord = true;
        } else if is(arg, "any") {
            any = true;
        } else if is(arg, "asc") {
            order = Order::Asc;
        } else if is(arg, "desc") {
            order = Order::Desc;
        } else if is(arg, "count") && i + 1 < remaining {
            count = parse_i64(rest[i + 1]).ok_or_else(err::not_int)?;
            if count <= 0 {
                return Err(Reply::error("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist")) && i + 1 < remaining && may_store {
            store = Some(rest[i + 1]);
            storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && kind == Kind::SearchStore {
            storedist = true;
        } else if is(arg, "frommember") && i + 1 < remaining && is_search && !fromloc {
            if let Some(z) = z {
                center = member_pos(z, rest[i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && i + 2 < remaining && is_search && !frommember {
            center = lon_lat(rest[i + 1], rest[i + 2])?;
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && is_search && !bybox {
            let (r, c) = radius(rest[i + 1], rest[i + 2])?;
            (shape, conversion) = (Shape::Radius(r), c);
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && is_search && !byradius {
            let (width, height, c) = box_size(rest[i + 1], rest[i + 2], rest[i + 3])?;
            (shape, conversion) = (Shape::Box { width, height }, c);
            bybox = true;
            i += 3;
        } else {
            return Err(err::syntax());
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(Reply::Error(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if kind == Kind::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = String::from_utf8_lossy(a[0]);
    if is_search && !(frommember || fromloc) {
        return Err(Reply::Error(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if is_search && !(byradius || bybox) {
        return Err(Reply::Error(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(Reply::error("ERR the ANY argument requires COUNT argument"));
    }
    let Some(z) = z else {
        return match store {
            Some(dst) => {
                if ctx.remove(dst).is_some() {
                    ctx.notify(notify::GENERIC, "del", dst);
                    ctx.dirty += 1;
                }
                Ok(Reply::Int(0))
            }
            None => Ok(Reply::Array(Vec::new())),
        };
    };
    // COUNT keeps the nearest ones, unless ANY asks for the first found
    if count != 0 && order == Order::None && !any {
        order = Order::Asc;
    }
    let search = Search {
        center,
        shape,
        conversion,
    };
    let mut found = find_points(z, &search, if any { count as usize } else { 0 });
    if found.is_empty() && store.is_none() {
        return Ok(Reply::Array(Vec::new()));
    }
    match order {
        // stable, as glibc's qsort (a merge sort) is on these sizes
        Order::Asc => found.sort_by(|x, y| x.dist.total_cmp(&y.dist)),
        Order::Desc => found.sort_by(|x, y| y.dist.total_cmp(&x.dist)),
        Order::None => {}
    }
    if count > 0 && (count as usize) < found.len() {
        found.truncate(count as usize);
    }
    for p in &mut found {
        p.dist /= conversion;
    }
    let Some(dst) = store else {
        let options = withdist as usize + withcoord as usize + withhash as usize;
        let out = found
            .into_iter()
            .map(|p| {
                let member = Reply::bulk_vec(p.member);
                if options == 0 {
                    return member;
                }
                let mut item = Vec::with_capacity(options + 1);
                item.push(member);
                if withdist {
                    item.push(Reply::bulk(distance_text(p.dist)));
                }
                if withhash {
                    item.push(Reply::Int(p.score as i64));
                }
                if withcoord {
                    item.push(Reply::Array(vec![
                        coord_reply(ctx, p.pos[0]),
                        coord_reply(ctx, p.pos[1]),
                    ]));
                }
                Reply::Array(item)
            })
            .collect();
        return Ok(Reply::Array(out));
    };
    let n = found.len();
    if n > 0 {
        let lim = zset_limits(ctx);
        let mut out = if n > lim.max_entries {
            ZsetValue::new_skiplist()
        } else {
            ZsetValue::new_listpack()
        };
        for p in &found {
            let score = if storedist { p.dist } else { p.score };
            out.add(&p.member, score, AddFlags::default(), &lim);
        }
        ctx.set(dst, Value::Zset(Box::new(out)));
        let event = if is_search {
            "geosearchstore"
        } else {
            "georadiusstore"
        };
        ctx.notify(notify::ZSET, event, dst);
        ctx.dirty += n as u64;
    } else if ctx.remove(dst).is_some() {
        ctx.notify(notify::GENERIC, "del", dst);
        ctx.dirty += 1;
    }
    Ok(Reply::Int(n as i64))
}

/// Redis's `membersOfAllNeighbors`: the members inside the shape, cell by
/// cell in Redis's order, each cell in score order. `limit` (ANY) stops
/// the search once that many were found; 0 is no limit.
fn find_points(z: &ZsetValue, s: &Search, limit: usize) -> Vec<Point> {
    let cells = geohash::cells_for(s);
    let mut found = Vec::new();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        // With a huge radius neighbouring cells can be the same cell.
        // Redis compares with the last one visited, but never with the
        // centre (its "last" index 0 reads as "none"): kept as it is.
        if let Some(l) = last.filter(|&l| l != 0)
            && cells[l] == *cell
        {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        let (min, max) = geohash::cell_scores(*cell);
        let range = ScoreRange {
            min: min as f64,
            max: max as f64,
            minex: false,
            maxex: true,
        };
        let (lo, hi) = z.score_span(&range);
        let mut full = false;
        z.visit(lo, hi, false, |m, score| {
            if full {
                return;
            }
            let Some(pos) = geohash::decode_score(score) else {
                return;
            };
            if let Some(dist) = geohash::distance_if_within(s, pos) {
                found.push(Point {
                    member: m.to_vec(),
                    score,
                    pos,
                    dist,
                });
                full = limit != 0 && found.len() >= limit;
            }
        });
        last = Some(i);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{distance_text, human};

    #[test]
    fn number_formats() {
        assert_eq!(human(13.361389338970184), "13.36138933897018433");
        assert_eq!(human(-0.0), "0");
        assert_eq!(human(15.0), "15");
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(166274.15156960033), "166274.1516");
        assert_eq!(distance_text(0.00004), "0.0000");
        assert_eq!(distance_text(1.5), "1.5000");
    }
}
