//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT.
//! The scripts themselves run in `crate::script`.

use super::flag::*;
use super::{CommandSpec, Ctx};
use crate::reply::Reply;
use crate::script::Source;

type R = Result<Reply, Reply>;

const fn sc(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (0, 0, 0), "scripting", handler)
}

/// A script holds every shard write-locked, as EXEC does, for as long as it
/// runs.
const RUNS_SCRIPT: u32 = NOSCRIPT | STALE | ALL_SHARDS | LOCK_WRITE | UNBOUNDED;

pub(crate) static COMMANDS: &[CommandSpec] = &[
    sc("eval", -3, RUNS_SCRIPT, eval).with_getkeys(script_keys),
    sc("evalsha", -3, RUNS_SCRIPT, evalsha).with_getkeys(script_keys),
    sc("eval_ro", -3, READONLY | RUNS_SCRIPT, eval_ro).with_getkeys(script_keys),
    sc("evalsha_ro", -3, READONLY | RUNS_SCRIPT, evalsha_ro).with_getkeys(script_keys),
    CommandSpec::container("script", 0, "scripting", SCRIPT_SUBCOMMANDS),
];

static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    sc("script|load", 3, NOSCRIPT | STALE | NO_KEYS, script_load),
    sc(
        "script|exists",
        -3,
        NOSCRIPT | STALE | NO_KEYS,
        script_exists,
    ),
    sc("script|flush", -2, NOSCRIPT | NO_KEYS, script_flush),
    sc(
        "script|kill",
        2,
        NOSCRIPT | ALLOW_BUSY | NO_KEYS,
        script_kill,
    ),
    sc("script|debug", 3, NOSCRIPT | NO_KEYS, script_debug),
    sc("script|help", 2, LOADING | STALE | NO_KEYS, script_help),
];

/// Keys of `EVAL script numkeys key [key ...] arg [arg ...]`.
pub(super) fn script_keys(a: &[&[u8]]) -> Vec<usize> {
    let n = a
        .get(2)
        .and_then(|n| crate::util::number::parse_i64(n))
        .unwrap_or(0);
    if n <= 0 || n as usize > a.len().saturating_sub(3) {
        return Vec::new();
    }
    (3..3 + n as usize).collect()
}

/// `EVAL script numkeys [key [key ...]] [arg [arg ...]]`
fn eval(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    eval_generic(ctx, a, false, false)
}

/// `EVALSHA sha1 numkeys [key [key ...]] [arg [arg ...]]`
fn evalsha(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    eval_generic(ctx, a, true, false)
}

/// `EVAL_RO script numkeys [key [key ...]] [arg [arg ...]]`
fn eval_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    eval_generic(ctx, a, false, true)
}

/// `EVALSHA_RO sha1 numkeys [key [key ...]] [arg [arg ...]]`
fn evalsha_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    eval_generic(ctx, a, true, true)
}

/// A script command (EVAL*, FCALL*) starts: MONITOR shows it first, before
/// the commands its script runs, and also when its arguments turn out
/// wrong (as redis-server 7.0: `FCALL nosuch 0`, `EVAL s -1` are shown).
pub(crate) fn script_command_starts(ctx: &Ctx, a: &[&[u8]]) {
    if ctx.eng.hooks.active() & crate::hooks::MONITOR != 0 {
        crate::monitor::feed(ctx.eng, ctx.cl, ctx.cl.db, a);
    }
}

/// Runs a script with `keys` declared: the commands it runs are shown to
/// MONITOR as `lua`, tracking clients get its invalidations after it.
pub(crate) fn around_script<T>(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    body: impl FnOnce(&mut Ctx) -> T,
) -> T {
    let in_script = crate::monitor::ScriptScope::enter(keys);
    let r = body(ctx);
    drop(in_script);
    if ctx.eng.hooks.active() & crate::hooks::TRACKING != 0 {
        crate::tracking::flush_pending(ctx.eng, ctx.cl.id);
    }
    r
}

fn eval_generic(ctx: &mut Ctx, a: &[&[u8]], by_sha: bool, read_only: bool) -> R {
    script_command_starts(ctx, a);
    let numkeys = crate::util::number::parse_i64(a[2]).ok_or_else(super::err::not_int)?;
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    let rest = &a[3..];
    if numkeys as u64 > rest.len() as u64 {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let (keys, args) = rest.split_at(numkeys as usize);
    let src = if by_sha {
        Source::Sha(a[1])
    } else {
        Source::Body(a[1])
    };
    Ok(around_script(ctx, keys, |ctx| {
        crate::script::eval(ctx, src, keys, args, read_only)
    }))
}

/// `SCRIPT LOAD script`
fn script_load(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let sha = ctx.eng.scripts.load(a[2])?;
    Ok(Reply::bulk(sha))
}

/// `SCRIPT EXISTS sha1 [sha1 ...]`
fn script_exists(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let s = &ctx.eng.scripts;
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|sha| Reply::Int(s.exists(sha) as i64))
            .collect(),
    ))
}

/// `SCRIPT FLUSH [ASYNC|SYNC]`
fn script_flush(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    match a.len() {
        2 => {}
        3 if a[2].eq_ignore_ascii_case(b"sync") || a[2].eq_ignore_ascii_case(b"async") => {}
        _ => {
            return Err(Reply::error(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
    }
    ctx.eng.scripts.flush();
    Ok(Reply::ok())
}

/// `SCRIPT KILL`
fn script_kill(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(ctx.eng.scripts.kill(false))
}

/// `SCRIPT DEBUG YES|SYNC|NO`: the Lua debugger needs a connection of its
/// own; an embedded engine has none to hand it, so only NO is accepted.
fn script_debug(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a[2].eq_ignore_ascii_case(b"no") {
        return Ok(Reply::ok());
    }
    if a[2].eq_ignore_ascii_case(b"yes") || a[2].eq_ignore_ascii_case(b"sync") {
        return Err(Reply::error(
            "ERR SCRIPT DEBUG is not supported: emberkv has no Lua debugger",
        ));
    }
    Err(Reply::error("ERR Use SCRIPT DEBUG YES/SYNC/NO"))
}

/// `SCRIPT HELP`
fn script_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let lines = [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        lines.iter().map(|l| Reply::simple(l)).collect(),
    ))
}
