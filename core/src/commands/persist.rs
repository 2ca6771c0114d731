//! RDB commands: SAVE, BGSAVE, LASTSAVE (the machinery is in
//! `persist/save.rs`), DUMP and RESTORE (Redis's payload: type byte,
//! value, RDB version, CRC-64).

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::notify;
use crate::persist::convert::{self, Limits};
use crate::persist::rdb;
use crate::reply::Reply;
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn srv(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (0, 0, 0), "server", handler)
}

const fn key1(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (1, 1, 1), "generic", handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    srv("save", 1, ADMIN | NOSCRIPT | NO_MULTI | NO_KEYS, save),
    srv("bgsave", -1, ADMIN | NOSCRIPT | NO_KEYS, bgsave),
    srv("lastsave", 1, LOADING | STALE | FAST | NO_KEYS, lastsave),
    srv(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY | NO_KEYS,
        shutdown,
    ),
    key1("dump", 2, READONLY, dump),
    key1("restore", -4, WRITE | DENYOOM, restore),
];

/// `SAVE`
fn save(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    ctx.eng.rdb.save_sync(ctx.eng).map_err(Reply::Error)?;
    Ok(Reply::ok())
}

/// `SHUTDOWN`: an embedded engine belongs to the program that opened it,
/// which closes it (`Db::close`). A RESP server (`emberkv-server`, or a
/// listener with a shutdown hook) answers SHUTDOWN itself; here are only
/// the table row (COMMAND INFO, MULTI's refusal) and the embedded answer.
fn shutdown(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Err(Reply::error(
        "ERR SHUTDOWN is disabled: this server is embedded in another process, which closes it",
    ))
}

/// `BGSAVE [SCHEDULE]`
fn bgsave(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let schedule = match a.len() {
        1 => false,
        2 if a[1].eq_ignore_ascii_case(b"schedule") => true,
        _ => return Err(err::syntax()),
    };
    let in_exec = ctx.holds_locks();
    let msg = ctx
        .eng
        .rdb
        .bgsave(ctx.eng, schedule, in_exec)
        .map_err(Reply::Error)?;
    Ok(Reply::simple(msg))
}

/// `LASTSAVE`
fn lastsave(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.rdb.last_save() as i64))
}

/// `DUMP key`
fn dump(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(v) = ctx.lookup(a[1]) else {
        return Ok(Reply::Nil);
    };
    let opts = convert::write_options(&ctx.eng.params);
    let payload = rdb::dump_payload_with(&convert::from_value(v), &opts)
        .map_err(|e| Reply::Error(format!("ERR {e}")))?;
    Ok(Reply::Bulk(payload.into()))
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`
fn restore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let key = a[1];
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq) = (None::<i64>, None::<i64>);
    let mut j = 4;
    while j < a.len() {
        let more = j + 1 < a.len();
        if a[j].eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else if a[j].eq_ignore_ascii_case(b"absttl") {
            absttl = true;
        } else if a[j].eq_ignore_ascii_case(b"idletime") && more && freq.is_none() {
            j += 1;
            let v = parse_i64(a[j]).ok_or_else(err::not_int)?;
            if v < 0 {
                return Err(Reply::error("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
        } else if a[j].eq_ignore_ascii_case(b"freq") && more && idle.is_none() {
            j += 1;
            let v = parse_i64(a[j]).ok_or_else(err::not_int)?;
            if !(0..=255).contains(&v) {
                return Err(Reply::error(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
        } else {
            return Err(err::syntax());
        }
        j += 1;
    }
    if !replace && ctx.exists(key) {
        return Err(Reply::error("BUSYKEY Target key name already exists."));
    }
    let ttl = parse_i64(a[2]).ok_or_else(err::not_int)?;
    if ttl < 0 {
        return Err(Reply::error("ERR Invalid TTL value, must be >= 0"));
    }
    let value = rdb::parse_payload(a[3])
        .map_err(|_| Reply::error("ERR DUMP payload version or checksum are wrong"))?;
    let lim = Limits::from_params(&ctx.eng.params);
    let now = ctx.now();
    let val = match convert::to_value(key, value, &lim, now) {
        Ok(Some(v)) => v,
        // an empty collection: Redis refuses such a payload too
        Ok(None) => return Err(Reply::error("ERR Bad data format")),
        Err(e) => return Err(Reply::Error(format!("ERR Bad data format: {e}"))),
    };
    let deleted = replace && ctx.remove(key).is_some();
    let at = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(now.saturating_add(t as u64)),
    };
    if let Some(at) = at
        && at <= now
    {
        // already expired: nothing is created (an old value is deleted)
        if deleted {
            ctx.propagate_as(vec![vec![b"DEL".to_vec(), key.to_vec()]]);
            ctx.notify(notify::GENERIC, "del", key);
            ctx.dirty += 1;
        }
        return Ok(Reply::ok());
    }
    ctx.set(key, val);
    // as Redis: FREQ counts under an LFU policy, IDLETIME under the others
    if crate::evict::lfu_on(ctx.eng) {
        if let Some(f) = freq {
            ctx.set_lfu_freq(key, f as u32);
        }
    } else if let Some(idle) = idle {
        ctx.set_idle_seconds(key, idle as u64);
    }
    if let Some(at) = at {
        let db = ctx.db;
        ctx.set_expire_in(db, key, at);
        if !absttl {
            // propagated with the absolute deadline, as Redis does
            let mut argv: Vec<Vec<u8>> = a.iter().map(|x| x.to_vec()).collect();
            argv[2] = at.to_string().into_bytes();
            argv.push(b"ABSTTL".to_vec());
            ctx.propagate_as(vec![argv]);
        }
    }
    ctx.notify(notify::GENERIC, "restore", key);
    ctx.dirty += 1;
    Ok(Reply::ok())
}
