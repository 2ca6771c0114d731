//! MONITOR and the CLIENT subcommands of pausing and tracking: PAUSE,
//! UNPAUSE, TRACKING, CACHING, GETREDIR, TRACKINGINFO. The engine logic is
//! in `monitor.rs`, `pause.rs` and `tracking.rs`; here argv is parsed.

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::pause::Mode;
use crate::reply::Reply;
use crate::tracking::Opts;
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    group: &'static str,
    h: super::Handler,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags | NO_KEYS, (0, 0, 0), group, h)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[row(
    "monitor",
    1,
    ADMIN | NOSCRIPT | LOADING | STALE,
    "server",
    monitor,
)];

/// Rows of the CLIENT container (`server.rs` lists them).
pub(crate) const CLIENT_PAUSE: CommandSpec = row(
    "client|pause",
    -3,
    ADMIN | NOSCRIPT | LOADING | STALE,
    "connection",
    client_pause,
);
pub(crate) const CLIENT_UNPAUSE: CommandSpec = row(
    "client|unpause",
    2,
    ADMIN | NOSCRIPT | LOADING | STALE,
    "connection",
    client_unpause,
);
pub(crate) const CLIENT_TRACKING: CommandSpec = row(
    "client|tracking",
    -3,
    NOSCRIPT | LOADING | STALE,
    "connection",
    client_tracking,
);
pub(crate) const CLIENT_CACHING: CommandSpec = row(
    "client|caching",
    3,
    NOSCRIPT | LOADING | STALE,
    "connection",
    client_caching,
);
pub(crate) const CLIENT_GETREDIR: CommandSpec = row(
    "client|getredir",
    2,
    NOSCRIPT | LOADING | STALE,
    "connection",
    client_getredir,
);
pub(crate) const CLIENT_TRACKINGINFO: CommandSpec = row(
    "client|trackinginfo",
    2,
    NOSCRIPT | LOADING | STALE,
    "connection",
    client_trackinginfo,
);

/// `MONITOR`
fn monitor(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let Some(info) = ctx.cl.info.clone() else {
        return Err(Reply::error("ERR MONITOR isn't allowed for this client"));
    };
    let out = info.outbox().clone();
    ctx.eng.hooks.monitors.add(ctx.eng, ctx.cl.id, out);
    Ok(Reply::ok())
}

/// `CLIENT PAUSE timeout [WRITE | ALL]`
fn client_pause(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let timeout = parse_i64(a[2])
        .ok_or_else(|| Reply::error("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let mode = match a.get(3) {
        _ if a.len() > 4 => return Err(err::syntax()),
        None => Mode::All,
        Some(m) if m.eq_ignore_ascii_case(b"write") => Mode::Write,
        Some(m) if m.eq_ignore_ascii_case(b"all") => Mode::All,
        Some(_) => {
            return Err(Reply::error("ERR CLIENT PAUSE mode must be WRITE or ALL"));
        }
    };
    ctx.eng.hooks.pause.pause(ctx.eng, mode, timeout as u64);
    Ok(Reply::ok())
}

/// `CLIENT UNPAUSE`
fn client_unpause(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    ctx.eng.hooks.pause.unpause(ctx.eng);
    Ok(Reply::ok())
}

/// `CLIENT TRACKING <ON | OFF> [REDIRECT client-id] [PREFIX prefix [PREFIX
/// prefix ...]] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]`
fn client_tracking(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut o = Opts::default();
    let mut j = 3;
    while j < a.len() {
        let w = a[j];
        let more = j + 1 < a.len();
        if w.eq_ignore_ascii_case(b"redirect") && more {
            j += 1;
            if o.redirect != 0 {
                return Err(Reply::error(
                    "ERR A client can only redirect to a single other client",
                ));
            }
            let id = parse_i64(a[j]).ok_or_else(err::not_int)?;
            if id <= 0 || !ctx.eng.clients.lock().contains_key(&(id as u64)) {
                return Err(Reply::error(
                    "ERR The client ID you want redirect to does not exist",
                ));
            }
            o.redirect = id as u64;
        } else if w.eq_ignore_ascii_case(b"bcast") {
            o.bcast = true;
        } else if w.eq_ignore_ascii_case(b"optin") {
            o.optin = true;
        } else if w.eq_ignore_ascii_case(b"optout") {
            o.optout = true;
        } else if w.eq_ignore_ascii_case(b"noloop") {
            o.noloop = true;
        } else if w.eq_ignore_ascii_case(b"prefix") && more {
            j += 1;
            o.prefixes.push(a[j].to_vec());
        } else {
            return Err(err::syntax());
        }
        j += 1;
    }
    let eng = ctx.eng;
    if a[2].eq_ignore_ascii_case(b"on") {
        let Some(info) = ctx.cl.info.clone() else {
            return Err(Reply::error(
                "ERR CLIENT TRACKING isn't allowed for this client",
            ));
        };
        // where its own invalidations (and a broken redirect's notice) go,
        // and the redirect target's: its front end sees it has pushes now
        info.outbox();
        if o.redirect != 0
            && let Some(target) = eng.clients.lock().get(&o.redirect)
        {
            target.outbox();
        }
        eng.hooks.tracking.enable(eng, ctx.cl, o)?;
    } else if a[2].eq_ignore_ascii_case(b"off") {
        eng.hooks.tracking.disable(eng, ctx.cl.id);
    } else {
        return Err(err::syntax());
    }
    Ok(Reply::ok())
}

/// `CLIENT CACHING YES|NO`
fn client_caching(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let tracking = &ctx.eng.hooks.tracking;
    if a[2].eq_ignore_ascii_case(b"yes") {
        tracking.caching(ctx.cl.id, true)?;
    } else if a[2].eq_ignore_ascii_case(b"no") {
        tracking.caching(ctx.cl.id, false)?;
    } else if tracking.getredir(ctx.cl.id) < 0 {
        // not tracking: that error comes first, as in Redis
        tracking.caching(ctx.cl.id, true)?;
    } else {
        return Err(err::syntax());
    }
    Ok(Reply::ok())
}

/// `CLIENT GETREDIR`
fn client_getredir(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.hooks.tracking.getredir(ctx.cl.id)))
}

/// `CLIENT TRACKINGINFO`
fn client_trackinginfo(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(ctx.eng.hooks.tracking.info(ctx.cl.id))
}
