//! Function commands: FCALL, FCALL_RO and FUNCTION. The registry lives in
//! `crate::script::function`; functions run as scripts do
//! (`crate::script::run_script`).

use super::flag::*;
use super::keys::help_reply;
use super::{CommandSpec, Ctx};
use crate::reply::Reply;
use crate::script::function::{Policy, flag_names};

type R = Result<Reply, Reply>;

const fn fc(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags, (0, 0, 0), "scripting", handler)
}

/// As EVAL: every shard write-locked while the function runs.
const RUNS_SCRIPT: u32 = NOSCRIPT | STALE | ALL_SHARDS | LOCK_WRITE | UNBOUNDED;

pub(crate) static COMMANDS: &[CommandSpec] = &[
    fc("fcall", -3, RUNS_SCRIPT, fcall).with_getkeys(super::script::script_keys),
    fc("fcall_ro", -3, READONLY | RUNS_SCRIPT, fcall_ro).with_getkeys(super::script::script_keys),
    CommandSpec::container("function", 0, "scripting", FUNCTION_SUBCOMMANDS),
];

static FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    fc(
        "function|load",
        -3,
        WRITE | DENYOOM | NOSCRIPT | NO_KEYS,
        function_load,
    ),
    fc(
        "function|delete",
        3,
        WRITE | NOSCRIPT | NO_KEYS,
        function_delete,
    ),
    fc(
        "function|flush",
        -2,
        WRITE | NOSCRIPT | NO_KEYS,
        function_flush,
    ),
    fc(
        "function|restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT | NO_KEYS,
        function_restore,
    ),
    fc("function|list", -2, NOSCRIPT | NO_KEYS, function_list),
    fc("function|dump", 2, NOSCRIPT | NO_KEYS, function_dump),
    fc(
        "function|stats",
        2,
        NOSCRIPT | ALLOW_BUSY | NO_KEYS,
        function_stats,
    ),
    fc(
        "function|kill",
        2,
        NOSCRIPT | ALLOW_BUSY | NO_KEYS,
        function_kill,
    ),
    fc("function|help", 2, LOADING | STALE | NO_KEYS, function_help),
];

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn subcommand_syntax(a: &[&[u8]]) -> Reply {
    Reply::Error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        lossy(a[1])
    ))
}

/// Records a change of the libraries: counted, logged to the AOF as sent.
fn changed(ctx: &mut Ctx) {
    let scripts = &ctx.eng.scripts;
    scripts.functions_changed(&scripts.functions.lock());
    ctx.dirty += 1;
}

/// `FCALL function numkeys [key [key ...]] [arg [arg ...]]`
fn fcall(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    fcall_generic(ctx, a, false)
}

/// `FCALL_RO function numkeys [key [key ...]] [arg [arg ...]]`
fn fcall_ro(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    fcall_generic(ctx, a, true)
}

fn fcall_generic(ctx: &mut Ctx, a: &[&[u8]], ro: bool) -> R {
    super::script::script_command_starts(ctx, a);
    let eng = ctx.eng;
    let mut reg = eng.scripts.functions.lock();
    let (name, flags, callback) = match reg.get(a[1]) {
        Some(c) => (c.name.clone(), c.flags, c.callback.clone()),
        None => return Err(Reply::error("ERR Function not found")),
    };
    let numkeys = crate::util::number::parse_i64(a[2])
        .ok_or_else(|| Reply::error("ERR Bad number of keys provided"))?;
    let rest = &a[3..];
    if numkeys > rest.len() as i64 {
        return Err(Reply::error(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    let opts = crate::script::prepare(ctx, flags, ro)?;
    let (keys, args) = rest.split_at(numkeys as usize);
    let vm = reg
        .vm
        .as_mut()
        .ok_or_else(|| Reply::error("ERR Function not found"))?;
    Ok(super::script::around_script(ctx, keys, |ctx| {
        crate::script::run_script(ctx, vm, &callback, &name, keys, args, opts, Some(a))
    }))
}

/// `FUNCTION LOAD [REPLACE] function-code`
fn function_load(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut replace = false;
    let mut i = 2;
    while i < a.len() - 1 {
        if a[i].eq_ignore_ascii_case(b"replace") {
            replace = true;
            i += 1;
            continue;
        }
        return Err(Reply::Error(format!(
            "ERR Unknown option given: {}",
            lossy(a[i])
        )));
    }
    let eng = ctx.eng;
    let name = eng
        .scripts
        .functions
        .lock()
        .load(a[a.len() - 1], replace, &eng.scripts.run)
        .map_err(Reply::Error)?;
    changed(ctx);
    Ok(Reply::bulk(name))
}

/// `FUNCTION DELETE library-name`
fn function_delete(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if !ctx.eng.scripts.functions.lock().delete(a[2]) {
        return Err(Reply::error("ERR Library not found"));
    }
    changed(ctx);
    Ok(Reply::ok())
}

/// `FUNCTION FLUSH [ASYNC|SYNC]`
fn function_flush(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 3 {
        return Err(subcommand_syntax(a));
    }
    if a.len() == 3 && !a[2].eq_ignore_ascii_case(b"sync") && !a[2].eq_ignore_ascii_case(b"async") {
        return Err(Reply::error(
            "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
        ));
    }
    let old = std::mem::take(&mut *ctx.eng.scripts.functions.lock());
    drop(old);
    changed(ctx);
    Ok(Reply::ok())
}

/// `FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]`
fn function_restore(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 4 {
        return Err(subcommand_syntax(a));
    }
    let policy = match a.get(3) {
        None => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"append") => Policy::Append,
        Some(p) if p.eq_ignore_ascii_case(b"replace") => Policy::Replace,
        Some(p) if p.eq_ignore_ascii_case(b"flush") => Policy::Flush,
        Some(_) => {
            return Err(Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ));
        }
    };
    let codes = crate::persist::rdb::parse_functions_payload(a[2])
        .map_err(|e| Reply::Error(format!("ERR {e}")))?;
    let eng = ctx.eng;
    eng.scripts
        .functions
        .lock()
        .restore(&codes, policy, &eng.scripts.run)
        .map_err(Reply::Error)?;
    changed(ctx);
    Ok(Reply::ok())
}

/// `FUNCTION LIST [LIBRARYNAME library-name-pattern] [WITHCODE]`
fn function_list(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < a.len() {
        if !with_code && a[i].eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && a[i].eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= a.len() {
                return Err(Reply::error("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(a[i]);
        } else {
            return Err(Reply::Error(format!(
                "ERR Unknown argument {}",
                lossy(a[i])
            )));
        }
        i += 1;
    }
    let reg = ctx.eng.scripts.functions.lock();
    let mut out = Vec::new();
    for lib in reg.libs.values() {
        if let Some(p) = pattern
            && !crate::util::glob::glob_match(p, lib.name.as_bytes())
        {
            continue;
        }
        let functions = lib
            .functions
            .iter()
            .map(|f| {
                Reply::Map(vec![
                    (Reply::bulk("name"), Reply::bulk(f.name.clone())),
                    (
                        Reply::bulk("description"),
                        f.description.clone().map_or(Reply::Nil, Reply::bulk),
                    ),
                    (
                        Reply::bulk("flags"),
                        Reply::Set(flag_names(f.flags).map(Reply::simple).collect()),
                    ),
                ])
            })
            .collect();
        let mut m = vec![
            (Reply::bulk("library_name"), Reply::bulk(lib.name.clone())),
            (Reply::bulk("engine"), Reply::bulk("LUA")),
            (Reply::bulk("functions"), Reply::Array(functions)),
        ];
        if with_code {
            m.push((Reply::bulk("library_code"), Reply::bulk(lib.code.clone())));
        }
        out.push(Reply::Map(m));
    }
    Ok(Reply::Array(out))
}

/// `FUNCTION DUMP`
fn function_dump(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let codes = ctx.eng.scripts.functions.lock().codes();
    Ok(Reply::bulk(crate::persist::rdb::functions_payload(
        codes.iter().map(Vec::as_slice),
    )))
}

/// `FUNCTION STATS`: answered while a function runs (it reads no lock
/// the function holds).
fn function_stats(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let scripts = &ctx.eng.scripts;
    let run = &scripts.run;
    if run.is_running() && !run.running_function() {
        return Err(Reply::error(crate::script::BUSY));
    }
    let running = match run.current(ctx.eng) {
        Some((name, argv, ms)) => Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk(name)),
            (
                Reply::bulk("command"),
                Reply::Array(argv.into_iter().map(Reply::bulk).collect()),
            ),
            (Reply::bulk("duration_ms"), Reply::Int(ms as i64)),
        ]),
        None => Reply::Nil,
    };
    let (libs, funcs) = *scripts.counts.lock();
    Ok(Reply::Map(vec![
        (Reply::bulk("running_script"), running),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(
                Reply::bulk("LUA"),
                Reply::Map(vec![
                    (Reply::bulk("libraries_count"), Reply::Int(libs as i64)),
                    (Reply::bulk("functions_count"), Reply::Int(funcs as i64)),
                ]),
            )]),
        ),
    ]))
}

/// `FUNCTION KILL`
fn function_kill(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(ctx.eng.scripts.kill(true))
}

/// `FUNCTION HELP`
fn function_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    ))
}
