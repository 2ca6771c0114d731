//! `ACL` and its subcommands; the users and checks live in `crate::acl`.

use super::flag::*;
use super::{CommandSpec, Ctx, err};
use crate::reply::Reply;
use crate::util::number::parse_i64;

type R = Result<Reply, Reply>;

const fn sub(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags | NO_KEYS, (0, 0, 0), "server", handler)
}

const ADM: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub(crate) static COMMANDS: &[CommandSpec] =
    &[CommandSpec::container("acl", 0, "server", ACL_SUBCOMMANDS)];

static ACL_SUBCOMMANDS: &[CommandSpec] = &[
    sub("acl|cat", -2, NOSCRIPT | LOADING | STALE, cat),
    sub("acl|deluser", -3, ADM, deluser),
    sub("acl|dryrun", -4, ADM, dryrun),
    sub("acl|genpass", -2, NOSCRIPT | LOADING | STALE, genpass),
    sub("acl|getuser", 3, ADM, getuser),
    sub("acl|help", 2, LOADING | STALE, help),
    sub("acl|list", 2, ADM, list),
    sub("acl|load", 2, ADM, load),
    sub("acl|log", -2, ADM, log),
    sub("acl|save", 2, ADM, save),
    sub("acl|setuser", -3, ADM, setuser),
    sub("acl|users", 2, ADM, users),
    sub("acl|whoami", 2, NOSCRIPT | LOADING | STALE, whoami),
];

/// `ACL SETUSER username [rule [rule ...]]`
fn setuser(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ctx.eng.acl.sync_requirepass(ctx.eng);
    crate::acl::setuser_and_kill(ctx.eng, a[2], &a[3..]).map_err(Reply::Error)?;
    Ok(Reply::ok())
}

/// `ACL GETUSER username`
fn getuser(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(crate::acl::getuser(ctx.eng, a[2]))
}

/// `ACL DELUSER username [username ...]`
fn deluser(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a[2..].iter().any(|n| *n == b"default") {
        return Err(Reply::error("ERR The 'default' user cannot be removed"));
    }
    let n = a[2..]
        .iter()
        .filter(|n| crate::acl::deluser_and_kill(ctx.eng, n))
        .count();
    Ok(Reply::Int(n as i64))
}

/// `ACL USERS`
fn users(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Array(
        ctx.eng
            .acl
            .names()
            .into_iter()
            .map(Reply::bulk_vec)
            .collect(),
    ))
}

/// `ACL LIST`
fn list(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    ctx.eng.acl.sync_requirepass(ctx.eng);
    Ok(Reply::Array(
        ctx.eng
            .acl
            .all()
            .iter()
            .map(|u| Reply::bulk(u.describe()))
            .collect(),
    ))
}

/// `ACL WHOAMI`
fn whoami(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(match &ctx.cl.user {
        Some(u) => Reply::bulk(&u.name),
        None => Reply::bulk("default"),
    })
}

/// `ACL CAT [category]`
fn cat(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let _ = ctx;
    match a.len() {
        2 => Ok(Reply::Array(
            crate::acl::CATEGORIES.iter().map(Reply::bulk).collect(),
        )),
        3 => {
            let want = a[2].to_ascii_lowercase();
            let Some(cat) = crate::acl::CATEGORIES
                .iter()
                .find(|c| c.as_bytes() == want.as_slice())
            else {
                return Err(Reply::Error(format!(
                    "ERR Unknown category '{}'",
                    String::from_utf8_lossy(a[2])
                )));
            };
            let mut out = Vec::new();
            for c in super::all_commands() {
                if c.subcommands.is_empty() {
                    if crate::acl::in_category(c, cat) {
                        out.push(Reply::bulk(c.name));
                    }
                } else {
                    for s in c.subcommands {
                        if crate::acl::in_category(s, cat) {
                            out.push(Reply::bulk(s.name));
                        }
                    }
                }
            }
            Ok(Reply::Array(out))
        }
        _ => Err(err::syntax()),
    }
}

/// `ACL GENPASS [bits]`
fn genpass(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let bits = match a.get(2) {
        None => 256,
        Some(b) => {
            let n = parse_i64(b).ok_or_else(err::not_int)?;
            if !(1..=4096).contains(&n) {
                return Err(Reply::error(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
            n as usize
        }
    };
    if a.len() > 3 {
        return Err(err::syntax());
    }
    let chars = bits.div_ceil(4);
    let mut raw = vec![0u8; chars.div_ceil(2)];
    random_bytes(&mut raw);
    let mut s = crate::acl::hex(&raw);
    s.truncate(chars);
    Ok(Reply::bulk(s))
}

/// Random bytes from the kernel, as Redis's GENPASS uses /dev/urandom.
fn random_bytes(out: &mut [u8]) {
    use std::io::Read;
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(out))
        .is_ok();
    if !ok {
        for b in out.iter_mut() {
            *b = crate::util::rng::random_below(256) as u8;
        }
    }
}

/// `ACL LOG [count | RESET]`
fn log(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    match a.get(2) {
        None => Ok(crate::acl::log_reply(ctx.eng, 10)),
        Some(x) if a.len() == 3 && x.eq_ignore_ascii_case(b"reset") => {
            crate::acl::log_reset(ctx.eng);
            Ok(Reply::ok())
        }
        Some(x) if a.len() == 3 => {
            let n = parse_i64(x).filter(|n| *n >= 0).ok_or_else(err::not_int)?;
            Ok(crate::acl::log_reply(ctx.eng, n as usize))
        }
        _ => Err(err::syntax()),
    }
}

/// `ACL DRYRUN username command [arg ...]`
fn dryrun(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    match crate::acl::dryrun(ctx.eng, a[2], &a[3..])? {
        None => Ok(Reply::ok()),
        Some(text) => Ok(Reply::bulk(text)),
    }
}

const NO_ACLFILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn aclfile(ctx: &Ctx) -> Result<String, Reply> {
    match ctx.eng.params.get("aclfile") {
        Some(f) if !f.is_empty() => Ok(f),
        _ => Err(Reply::error(NO_ACLFILE)),
    }
}

/// `ACL LOAD`
fn load(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let path = aclfile(ctx)?;
    crate::acl::load_file(ctx.eng, &path).map_err(Reply::Error)?;
    Ok(Reply::ok())
}

/// `ACL SAVE`
fn save(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let path = aclfile(ctx)?;
    crate::acl::save_file(ctx.eng, &path).map_err(Reply::Error)?;
    Ok(Reply::ok())
}

/// `ACL HELP`
fn help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    const LINES: &[&str] = &[
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ];
    Ok(Reply::Array(
        LINES.iter().map(|l| Reply::simple(l)).collect(),
    ))
}
