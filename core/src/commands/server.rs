//! Server and connection commands that tools and client libraries probe:
//! PING, ECHO, TIME, HELLO, CLIENT, CONFIG, COMMAND, INFO, DEBUG.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::flag::*;
use super::keys::help_reply;
use super::{CommandSpec, Ctx, err};
use crate::config;
use crate::reply::Reply;
use crate::util::number::{parse_f64, parse_i64};

type R = Result<Reply, Reply>;

const fn srv(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(name, arity, flags | NO_KEYS, (0, 0, 0), "server", handler)
}
const fn conn(name: &'static str, arity: i32, flags: u32, handler: super::Handler) -> CommandSpec {
    CommandSpec::new(
        name,
        arity,
        flags | NO_KEYS,
        (0, 0, 0),
        "connection",
        handler,
    )
}

/// A server command for administrators (SLOWLOG, LATENCY).
const fn admin(name: &'static str, arity: i32, handler: super::Handler) -> CommandSpec {
    srv(name, arity, ADMIN | NOSCRIPT | LOADING | STALE, handler)
}

pub(crate) static COMMANDS: &[CommandSpec] = &[
    conn("ping", -1, FAST | PUBSUB_CTX, ping),
    conn("echo", 2, FAST, echo),
    srv("time", 1, LOADING | STALE | FAST, time),
    conn(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        hello,
    ),
    conn(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        auth,
    ),
    conn(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | PUBSUB_CTX,
        reset,
    ),
    CommandSpec::container(
        "client",
        NOSCRIPT | LOADING | STALE,
        "connection",
        CLIENT_SUBCOMMANDS,
    ),
    CommandSpec::container("config", 0, "server", CONFIG_SUBCOMMANDS),
    CommandSpec::new(
        "command",
        -1,
        LOADING | STALE | NO_KEYS,
        (0, 0, 0),
        "server",
        command,
    ),
    srv("info", -1, LOADING | STALE, info),
    srv("bgrewriteaof", 1, ADMIN | NOSCRIPT, bgrewriteaof),
    CommandSpec::container(
        "slowlog",
        ADMIN | NOSCRIPT | LOADING | STALE,
        "server",
        SLOWLOG_SUBCOMMANDS,
    ),
    CommandSpec::container(
        "latency",
        ADMIN | NOSCRIPT | LOADING | STALE,
        "server",
        LATENCY_SUBCOMMANDS,
    ),
    CommandSpec::container(
        "debug",
        ADMIN | NOSCRIPT | LOADING | STALE,
        "server",
        DEBUG_SUBCOMMANDS,
    ),
    srv("role", 1, NOSCRIPT | LOADING | STALE | FAST, role),
    srv("lolwut", -1, READONLY | FAST, lolwut),
    srv("replicaof", 3, ADMIN | NOSCRIPT | STALE, replicaof),
    srv("slaveof", 3, ADMIN | NOSCRIPT | STALE, replicaof),
    CommandSpec::container("module", 0, "server", MODULE_SUBCOMMANDS),
    CommandSpec::container("cluster", 0, "cluster", CLUSTER_SUBCOMMANDS),
];

static MODULE_SUBCOMMANDS: &[CommandSpec] = &[
    srv("module|list", 2, ADMIN | NOSCRIPT, module_list),
    srv("module|load", -3, ADMIN | NOSCRIPT, module_refused),
    srv("module|loadex", -3, ADMIN | NOSCRIPT, module_refused),
    srv("module|unload", 3, ADMIN | NOSCRIPT, module_refused),
    srv("module|help", 2, LOADING | STALE, module_help),
];

/// A CLUSTER subcommand: every one answers that cluster mode is off.
const fn cluster(name: &'static str, arity: i32, flags: u32) -> CommandSpec {
    CommandSpec::new(
        name,
        arity,
        flags | STALE | NO_KEYS,
        (0, 0, 0),
        "cluster",
        cluster_disabled,
    )
}

/// Redis 7's CLUSTER subcommands, names, arities and flags as
/// redis-server's COMMAND INFO gives them (a standalone server).
static CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    cluster("cluster|addslots", -3, ADMIN),
    cluster("cluster|addslotsrange", -4, ADMIN),
    cluster("cluster|bumpepoch", 2, ADMIN),
    cluster("cluster|count-failure-reports", 3, ADMIN),
    cluster("cluster|countkeysinslot", 3, 0),
    cluster("cluster|delslots", -3, ADMIN),
    cluster("cluster|delslotsrange", -4, ADMIN),
    cluster("cluster|failover", -2, ADMIN),
    cluster("cluster|flushslots", 2, ADMIN),
    cluster("cluster|forget", 3, ADMIN),
    cluster("cluster|getkeysinslot", 4, 0),
    cluster("cluster|help", 2, LOADING),
    cluster("cluster|info", 2, 0),
    cluster("cluster|keyslot", 3, 0),
    cluster("cluster|links", 2, 0),
    cluster("cluster|meet", -4, ADMIN),
    cluster("cluster|myid", 2, 0),
    cluster("cluster|nodes", 2, 0),
    cluster("cluster|replicas", 3, ADMIN),
    cluster("cluster|replicate", 3, ADMIN),
    cluster("cluster|reset", -2, ADMIN | NOSCRIPT),
    cluster("cluster|saveconfig", 2, ADMIN),
    cluster("cluster|set-config-epoch", 3, ADMIN),
    cluster("cluster|setslot", -4, ADMIN),
    cluster("cluster|shards", 2, 0),
    cluster("cluster|slaves", 3, ADMIN),
    cluster("cluster|slots", 2, 0),
];

static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    conn(
        "client|setname",
        3,
        NOSCRIPT | LOADING | STALE,
        client_setname,
    ),
    conn(
        "client|getname",
        2,
        NOSCRIPT | LOADING | STALE,
        client_getname,
    ),
    conn("client|id", 2, NOSCRIPT | LOADING | STALE, client_id),
    conn("client|info", 2, NOSCRIPT | LOADING | STALE, client_info),
    conn(
        "client|list",
        -2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_list,
    ),
    conn(
        "client|setinfo",
        4,
        NOSCRIPT | LOADING | STALE,
        client_setinfo,
    ),
    conn(
        "client|kill",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_kill,
    ),
    conn(
        "client|no-evict",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_no_evict,
    ),
    conn(
        "client|unblock",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        client_unblock,
    ),
    conn("client|help", 2, LOADING | STALE, client_help),
    super::clientfeat::CLIENT_PAUSE,
    super::clientfeat::CLIENT_UNPAUSE,
    super::clientfeat::CLIENT_TRACKING,
    super::clientfeat::CLIENT_CACHING,
    super::clientfeat::CLIENT_GETREDIR,
    super::clientfeat::CLIENT_TRACKINGINFO,
];

static SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    admin("slowlog|get", -2, slowlog_get),
    admin("slowlog|len", 2, slowlog_len),
    admin("slowlog|reset", 2, slowlog_reset),
    srv("slowlog|help", 2, LOADING | STALE, slowlog_help),
];

static LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    admin("latency|latest", 2, latency_latest),
    admin("latency|history", 3, latency_history),
    admin("latency|reset", -2, latency_reset),
    admin("latency|doctor", 2, latency_doctor),
    admin("latency|histogram", -2, latency_histogram),
    srv("latency|help", 2, LOADING | STALE, latency_help),
];

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    srv(
        "config|get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_get,
    ),
    srv(
        "config|set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_set,
    ),
    srv(
        "config|resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        config_resetstat,
    ),
    srv("config|help", 2, LOADING | STALE, config_help),
];

pub(crate) static COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    srv("command|count", 2, LOADING | STALE, command_count),
    srv("command|info", -2, LOADING | STALE, command_info),
    srv("command|list", -2, LOADING | STALE, command_list),
    srv("command|docs", -2, LOADING | STALE, command_docs),
    srv("command|getkeys", -4, LOADING | STALE, command_getkeys),
    srv("command|help", 2, LOADING | STALE, command_help),
];

static DEBUG_SUBCOMMANDS: &[CommandSpec] = &[
    srv(
        "debug|sleep",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE | UNBOUNDED,
        debug_sleep,
    ),
    CommandSpec::new(
        "debug|object",
        3,
        ADMIN | NOSCRIPT | LOADING | STALE | READONLY,
        (2, 2, 1),
        "server",
        debug_object,
    ),
    srv("debug|help", 2, LOADING | STALE, debug_help),
];

/// `PING [message]`
fn ping(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 2 {
        return Err(err::arity("ping"));
    }
    // A RESP2 subscriber gets PING's answer in the shape of a message.
    if ctx.cl.resp == 2 && ctx.cl.subscribed() {
        return Ok(Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::bulk(a.get(1).copied().unwrap_or_default()),
        ]));
    }
    match a.len() {
        1 => Ok(Reply::simple("PONG")),
        _ => Ok(Reply::bulk(a[1])),
    }
}

/// `ECHO message`
fn echo(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::bulk(a[1]))
}

/// `TIME`
fn time(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let us = ctx.eng.clock.now_us();
    Ok(Reply::Array(vec![
        Reply::bulk((us / 1_000_000).to_string()),
        Reply::bulk((us % 1_000_000).to_string()),
    ]))
}

/// Redis's rule for client names and library names.
fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
fn hello(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut proto = ctx.cl.resp;
    if a.len() >= 2 {
        let v = parse_i64(a[1]).ok_or_else(|| {
            Reply::error("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&v) {
            return Err(Reply::error("NOPROTO unsupported protocol version"));
        }
        proto = v as u8;
    }
    let mut setname = None;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - i - 1;
        if a[i].eq_ignore_ascii_case(b"auth") && more >= 2 {
            let u = crate::acl::authenticate(ctx.eng, ctx.cl, a[i + 1], a[i + 2])?;
            crate::acl::set_user(ctx.cl, u);
            ctx.cl.authenticated = true;
            i += 3;
        } else if a[i].eq_ignore_ascii_case(b"setname") && more >= 1 {
            if !valid_name(a[i + 1]) {
                return Err(Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            setname = Some(a[i + 1].to_vec());
            i += 2;
        } else {
            return Err(Reply::Error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(a[i])
            )));
        }
    }
    if !ctx.cl.authenticated && !ctx.cl.auth_satisfied(ctx.eng) {
        return Err(Reply::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    ctx.cl.resp = proto;
    ctx.cl.sync_meta(|m| {
        m.resp = proto;
        if let Some(n) = setname {
            m.name = n;
        }
    });
    let b = Reply::bulk;
    Ok(Reply::Map(vec![
        (b("server"), b("redis")),
        (b("version"), b(crate::REDIS_VERSION)),
        (b("proto"), Reply::Int(proto as i64)),
        (b("id"), Reply::Int(ctx.cl.id as i64)),
        (b("mode"), b("standalone")),
        (b("role"), b("master")),
        (b("modules"), Reply::Array(vec![])),
    ]))
}

/// `AUTH [username] password`
fn auth(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 3 {
        return Err(err::syntax());
    }
    if a.len() == 2 && crate::acl::default_open(ctx.eng) {
        return Err(Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let (user, pass) = if a.len() == 3 {
        (a[1], a[2])
    } else {
        (&b"default"[..], a[1])
    };
    let u = crate::acl::authenticate(ctx.eng, ctx.cl, user, pass)?;
    crate::acl::set_user(ctx.cl, u);
    ctx.cl.authenticated = true;
    Ok(Reply::ok())
}

/// `RESET`: the connection as if new (MULTI, WATCH, subscriptions, database,
/// protocol, name and authentication reset).
fn reset(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    ctx.cl.multi = None;
    super::tx::unwatch_all(ctx.eng, ctx.cl);
    ctx.cl.sub = None;
    // as Redis: no longer a monitor, tracking off
    ctx.eng.hooks.monitors.remove(ctx.eng, ctx.cl.id);
    ctx.eng.hooks.tracking.disable(ctx.eng, ctx.cl.id);
    ctx.cl.db = 0;
    ctx.db = 0;
    ctx.cl.resp = 2;
    if ctx.cl.user.is_some() {
        crate::acl::set_user(ctx.cl, ctx.eng.acl.default_user());
    }
    ctx.cl.authenticated = ctx.cl.auth_satisfied(ctx.eng);
    ctx.cl.sync_meta(|m| {
        m.name.clear();
        m.db = 0;
        m.resp = 2;
        m.subs = [0; 3];
    });
    Ok(Reply::simple("RESET"))
}

/// `CLIENT SETNAME connection-name`
fn client_setname(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if !valid_name(a[2]) {
        return Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    let n = a[2].to_vec();
    ctx.cl.sync_meta(|m| m.name = n);
    Ok(Reply::ok())
}

/// `CLIENT GETNAME`
fn client_getname(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let name = ctx
        .cl
        .info
        .as_ref()
        .map(|i| i.meta.lock().name.clone())
        .unwrap_or_default();
    Ok(if name.is_empty() {
        Reply::Nil
    } else {
        Reply::bulk_vec(name)
    })
}

/// `CLIENT ID`
fn client_id(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.cl.id as i64))
}

/// One CLIENT LIST / CLIENT INFO line (also ACL LOG's `client-info`).
pub(crate) fn client_line(eng: &crate::db::Engine, info: &crate::client::ClientInfo) -> String {
    let m = info.meta.lock().clone();
    let (addr, laddr) = if m.addr.is_empty() {
        ("embedded", "embedded")
    } else {
        (m.addr.as_str(), m.laddr.as_str())
    };
    let flags = if info.blocked.load(Ordering::Acquire) {
        "b"
    } else if m.subs.iter().any(|&n| n > 0) {
        "P"
    } else {
        "N"
    };
    let now = eng.clock.now_ms();
    let age = now.saturating_sub(info.created_ms) / 1000;
    let last_ms = info.last_ms.load(Ordering::Relaxed);
    let idle = now.saturating_sub(last_ms.max(info.created_ms)) / 1000;
    // recorded before a command runs, so the caller's own line shows
    // `client|list` or `client|info`, as in Redis
    let cmd = match info.last_cmd.load(Ordering::Relaxed) {
        0 => "NULL",
        i => crate::cmdstats::spec_at((i - 1) as u16).map_or("NULL", |s| s.name),
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}\n",
        info.id,
        addr,
        laddr,
        m.fd,
        String::from_utf8_lossy(&m.name),
        age,
        idle,
        flags,
        m.db,
        m.subs[0],
        m.subs[1],
        m.subs[2],
        cmd,
        String::from_utf8_lossy(m.user_name()),
        m.resp,
        String::from_utf8_lossy(&m.lib_name),
        String::from_utf8_lossy(&m.lib_ver),
    )
}

/// `CLIENT INFO`
fn client_info(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let line = match &ctx.cl.info {
        Some(info) => client_line(ctx.eng, info),
        None => String::new(),
    };
    Ok(Reply::Verbatim("txt", line.into_bytes()))
}

/// `CLIENT LIST [TYPE normal|master|replica|pubsub] [ID client-id ...]`
fn client_list(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < a.len() {
        if a[i].eq_ignore_ascii_case(b"type") && i + 1 < a.len() {
            let t = a[i + 1].to_ascii_lowercase();
            if !matches!(
                t.as_slice(),
                b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
            ) {
                return Err(Reply::Error(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(a[i + 1])
                )));
            }
            kind = Some(t);
            i += 2;
        } else if a[i].eq_ignore_ascii_case(b"id") && i + 1 < a.len() {
            let mut v = Vec::new();
            for x in &a[i + 1..] {
                match parse_i64(x) {
                    Some(id) if id > 0 => v.push(id as u64),
                    _ => return Err(Reply::error("ERR Invalid client ID")),
                }
            }
            ids = Some(v);
            break;
        } else {
            return Err(err::syntax());
        }
    }
    let clients: Vec<_> = ctx.eng.clients.lock().values().cloned().collect();
    let mut out = String::new();
    for c in clients {
        if ids.as_ref().is_some_and(|ids| !ids.contains(&c.id)) {
            continue;
        }
        if kind.as_ref().is_some_and(|k| !client_is_type(&c, k)) {
            continue;
        }
        out.push_str(&client_line(ctx.eng, &c));
    }
    Ok(Reply::Verbatim("txt", out.into_bytes()))
}

/// CLIENT LIST / KILL TYPE: embedded and network clients are `normal` or,
/// while subscribed, `pubsub`; there are no replicas.
fn client_is_type(c: &crate::client::ClientInfo, kind: &[u8]) -> bool {
    let pubsub = c.meta.lock().subs.iter().any(|&n| n > 0);
    match kind {
        b"normal" => !pubsub,
        b"pubsub" => pubsub,
        _ => false,
    }
}

/// `CLIENT KILL ip:port` or `CLIENT KILL <ID id | TYPE type | USER name |
/// ADDR ip:port | LADDR ip:port | SKIPME yes/no> ...`. Only clients a
/// front end registered a kill hook for (network clients) can be killed.
fn client_kill(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let old_form = a.len() == 3;
    let (mut id, mut kind, mut addr, mut laddr) = (None, None, None, None);
    let mut user: Option<&[u8]> = None;
    let mut skipme = true;
    if old_form {
        addr = Some(a[2]);
        skipme = false;
    } else {
        if !a.len().is_multiple_of(2) {
            return Err(err::syntax());
        }
        for kv in a[2..].chunks(2) {
            let (k, v) = (kv[0].to_ascii_lowercase(), kv[1]);
            match k.as_slice() {
                b"id" => match parse_i64(v) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => return Err(Reply::error("ERR client-id should be greater than 0")),
                },
                b"type" => {
                    let t = v.to_ascii_lowercase();
                    if !matches!(
                        t.as_slice(),
                        b"normal" | b"master" | b"replica" | b"slave" | b"pubsub"
                    ) {
                        return Err(Reply::Error(format!(
                            "ERR Unknown client type '{}'",
                            String::from_utf8_lossy(v)
                        )));
                    }
                    kind = Some(t);
                }
                b"addr" => addr = Some(v),
                b"laddr" => laddr = Some(v),
                b"user" => {
                    if ctx.eng.acl.get(v).is_none() {
                        return Err(Reply::Error(format!(
                            "ERR No such user '{}'",
                            String::from_utf8_lossy(v)
                        )));
                    }
                    user = Some(v);
                }
                b"skipme" if v.eq_ignore_ascii_case(b"yes") => skipme = true,
                b"skipme" if v.eq_ignore_ascii_case(b"no") => skipme = false,
                _ => return Err(err::syntax()),
            }
        }
    }
    let clients: Vec<_> = ctx.eng.clients.lock().values().cloned().collect();
    let mut victims = Vec::new();
    for c in clients {
        let Some(hook) = c.kill.lock().clone() else {
            continue;
        };
        let m = c.meta.lock();
        let matched = id.is_none_or(|id| id == c.id)
            && addr.is_none_or(|a| a == m.addr.as_bytes())
            && laddr.is_none_or(|a| a == m.laddr.as_bytes())
            && user.is_none_or(|u| u == m.user_name())
            && !(skipme && c.id == ctx.cl.id);
        drop(m);
        if matched && kind.as_ref().is_none_or(|k| client_is_type(&c, k)) {
            victims.push((c.id, hook));
        }
    }
    for (cid, hook) in &victims {
        hook();
        ctx.eng.blocking.unblock_client(
            *cid,
            Some(Reply::error("UNBLOCKED client killed by CLIENT KILL")),
        );
    }
    if old_form {
        if victims.is_empty() {
            return Err(Reply::error("ERR No such client"));
        }
        return Ok(Reply::ok());
    }
    Ok(Reply::Int(victims.len() as i64))
}

/// `CLIENT NO-EVICT ON|OFF`: accepted; emberkv never evicts clients.
fn client_no_evict(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a[2].eq_ignore_ascii_case(b"on") || a[2].eq_ignore_ascii_case(b"off") {
        Ok(Reply::ok())
    } else {
        Err(err::syntax())
    }
}

/// `CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>`
fn client_setinfo(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let which = a[2].to_ascii_lowercase();
    let v = a[3].to_vec();
    match which.as_slice() {
        b"lib-name" | b"lib-ver" => {
            if !valid_name(&v) {
                return Err(Reply::Error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&which)
                )));
            }
            let is_name = which == b"lib-name";
            ctx.cl.sync_meta(|m| {
                if is_name {
                    m.lib_name = v
                } else {
                    m.lib_ver = v
                }
            });
            Ok(Reply::ok())
        }
        _ => Err(Reply::Error(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(a[2])
        ))),
    }
}

/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`
fn client_unblock(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let id = parse_i64(a[2]).ok_or_else(err::not_int)?;
    let error = match a.get(3) {
        None => None,
        Some(o) if o.eq_ignore_ascii_case(b"timeout") && a.len() == 4 => None,
        Some(o) if o.eq_ignore_ascii_case(b"error") && a.len() == 4 => Some(Reply::error(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
        )),
        Some(_) => {
            return Err(Reply::error(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ));
        }
    };
    Ok(Reply::Int(
        ctx.eng.blocking.unblock_client(id as u64, error) as i64,
    ))
}

/// `CLIENT HELP`
fn client_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
        ],
    ))
}

/// `CONFIG GET parameter [parameter ...]`
fn config_get(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut seen = std::collections::BTreeSet::new();
    let mut pairs = Vec::new();
    for pat in &a[2..] {
        for (k, v) in ctx.eng.params.matching(pat) {
            if seen.insert(k.clone()) {
                pairs.push((Reply::bulk(k), Reply::bulk(v)));
            }
        }
    }
    Ok(Reply::Map(pairs))
}

/// `CONFIG SET parameter value [parameter value ...]`
fn config_set(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if !a.len().is_multiple_of(2) {
        return Err(err::arity("config|set"));
    }
    let mut specs = Vec::new();
    for kv in a[2..].chunks(2) {
        let name = String::from_utf8_lossy(kv[0]).into_owned();
        let Some(spec) = config::find(&name) else {
            return Err(Reply::Error(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        };
        let fail = |why: &str| {
            Reply::Error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
            ))
        };
        if matches!(spec.name, "dir" | "dbfilename") {
            // Redis 7's `enable-protected-configs no` default
            return Err(fail("can't set protected config"));
        }
        // `port` and `bind` can change at run time in Redis (it listens
        // anew); the listener here cannot move, so only their own value is
        // taken (a no-op, as tools that set every parameter back expect)
        let unchanged = || {
            matches!(spec.name, "port" | "bind")
                && ctx.eng.params.get(spec.name).as_deref() == std::str::from_utf8(kv[1]).ok()
        };
        if !spec.mutable && !unchanged() {
            return Err(fail("can't set immutable config"));
        }
        if specs
            .iter()
            .any(|(s, _): &(&config::ParamSpec, String)| std::ptr::eq(*s, spec))
        {
            return Err(fail("duplicate parameter"));
        }
        let value = String::from_utf8_lossy(kv[1]).into_owned();
        config::check(spec, &value).map_err(|e| fail(&e))?;
        specs.push((spec, value));
    }
    for (spec, value) in &specs {
        if spec.name == "appendonly"
            && value.eq_ignore_ascii_case("yes")
            && ctx.eng.aof.files.lock().dir.is_none()
        {
            return Err(Reply::Error(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - appendonly needs a data directory (dir): this database is in memory",
                spec.name
            )));
        }
    }
    for (spec, value) in specs {
        ctx.eng
            .params
            .set(spec, &value)
            .map_err(|e| Reply::Error(format!("ERR CONFIG SET failed - {e}")))?;
        match spec.name {
            "appendfsync" => {
                if let Some(p) = config::AppendFsync::parse(&value) {
                    ctx.eng.aof.set_policy(p);
                }
            }
            "slowlog-max-len" => ctx.eng.slowlog.trim(value.parse().unwrap_or(0)),
            // the next command measures afresh (no reuse of a keyspace estimate)
            "maxmemory" | "maxmemory-policy" => ctx.eng.evict.forget_estimate(),
            "appendonly" => {
                let yes = value.eq_ignore_ascii_case("yes");
                let held = ctx.holds_locks();
                ctx.eng
                    .aof
                    .set_appendonly(ctx.eng, yes, held)
                    .map_err(|e| {
                        Reply::Error(format!(
                            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {e}"
                        ))
                    })?;
            }
            _ => {}
        }
    }
    Ok(Reply::ok())
}

/// `BGREWRITEAOF`
fn bgrewriteaof(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    use crate::persist::aof::rewrite;
    let aof = &ctx.eng.aof;
    if aof.files.lock().dir.is_none() {
        return Err(Reply::error(
            "ERR BGREWRITEAOF needs a data directory (dir): this database is in memory",
        ));
    }
    if aof.rw.lock().in_progress {
        return Err(Reply::error(rewrite::IN_PROGRESS));
    }
    if ctx.holds_locks() || ctx.eng.snapshot.is_claimed() {
        // inside EXEC every shard is locked, or a background save holds the
        // snapshot: the background thread starts it (Redis schedules it too)
        aof.rw.lock().scheduled = true;
        return Ok(Reply::simple(
            "Background append only file rewriting scheduled",
        ));
    }
    let mode = if aof.is_on() {
        rewrite::Mode::Rewrite
    } else {
        rewrite::Mode::BaseOnly
    };
    rewrite::start(ctx.eng, mode).map_err(|e| {
        if e.starts_with("ERR ") {
            Reply::Error(e)
        } else {
            Reply::Error(format!(
                "ERR Can't rewrite append only file in background: {e}"
            ))
        }
    })?;
    Ok(Reply::simple(
        "Background append only file rewriting started",
    ))
}

/// `CONFIG RESETSTAT`
fn config_resetstat(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    ctx.cl.flush_stats(ctx.eng);
    ctx.eng.stats.reset();
    ctx.eng.cmdstats.reset();
    ctx.eng.evict.evicted_keys.store(0, Ordering::Relaxed);
    Ok(Reply::ok())
}

/// `SLOWLOG GET [count]`
fn slowlog_get(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() > 3 {
        return Err(Reply::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(a[1])
        )));
    }
    let count = match a.get(2) {
        None => Some(10),
        Some(c) => match parse_i64(c) {
            Some(-1) => None,
            Some(n) if n >= 0 => Some(n as usize),
            _ => {
                return Err(Reply::error(
                    "ERR count should be greater than or equal to -1",
                ));
            }
        },
    };
    Ok(ctx.eng.slowlog.get(count))
}

/// `SLOWLOG LEN`
fn slowlog_len(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.slowlog.len() as i64))
}

/// `SLOWLOG RESET`
fn slowlog_reset(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    ctx.eng.slowlog.reset();
    Ok(Reply::ok())
}

/// `SLOWLOG HELP`
fn slowlog_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    ))
}

/// `LATENCY HISTOGRAM [command ...]`: per command, its calls and the
/// durations of its timed calls (see `CommandStats::latency_histogram`);
/// a container's name stands for its subcommands, unknown names are
/// skipped. Every command called since CONFIG RESETSTAT when none is named.
fn latency_histogram(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ctx.cl.flush_stats(ctx.eng);
    let mut specs: Vec<&'static CommandSpec> = Vec::new();
    if a.len() == 2 {
        for c in super::all_commands() {
            specs.push(c);
            specs.extend(c.subcommands.iter());
            if c.name == "command" {
                specs.extend(COMMAND_SUBCOMMANDS.iter());
            }
        }
    } else {
        for name in &a[2..] {
            let Some(c) = find_by_full_name(name) else {
                continue;
            };
            if c.subcommands.is_empty() && c.name != "command" {
                specs.push(c);
            } else if c.name == "command" {
                specs.extend(COMMAND_SUBCOMMANDS.iter());
            } else {
                specs.extend(c.subcommands.iter());
            }
        }
    }
    let stats = &ctx.eng.cmdstats;
    let mut out = Vec::new();
    for c in specs {
        let Some((calls, points)) = stats.latency_histogram(crate::cmdstats::index_of(c)) else {
            continue;
        };
        let hist = points
            .into_iter()
            .map(|(us, n)| (Reply::Int(us as i64), Reply::Int(n as i64)))
            .collect();
        out.push((
            Reply::bulk(c.name),
            Reply::Map(vec![
                (Reply::bulk("calls"), Reply::Int(calls as i64)),
                (Reply::bulk("histogram_usec"), Reply::Map(hist)),
            ]),
        ));
    }
    Ok(Reply::Map(out))
}

/// `LATENCY LATEST`
fn latency_latest(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(ctx.eng.latency.latest())
}

/// `LATENCY HISTORY event`
fn latency_history(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(ctx.eng.latency.history(&String::from_utf8_lossy(a[2])))
}

/// `LATENCY RESET [event ...]`
fn latency_reset(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    Ok(Reply::Int(ctx.eng.latency.reset(&a[2..]) as i64))
}

/// `LATENCY DOCTOR`
fn latency_doctor(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let text = ctx.eng.latency.doctor().into_bytes();
    Ok(if ctx.cl.resp == 3 {
        Reply::Verbatim("txt", text)
    } else {
        Reply::bulk_vec(text)
    })
}

/// `LATENCY HELP`
fn latency_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    ))
}

/// `CONFIG HELP`
fn config_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}

/// `COMMAND` (and its subcommands, dispatched here because COMMAND alone is valid)
fn command(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() == 1 {
        return Ok(Reply::Array(
            super::all_commands()
                .map(|c| command_entry(c, ctx.cl.resp))
                .collect(),
        ));
    }
    let prefix = "command|".len();
    match COMMAND_SUBCOMMANDS
        .iter()
        .find(|s| s.name.as_bytes()[prefix..].eq_ignore_ascii_case(a[1]))
    {
        Some(sub) => {
            let argc = a.len() as i32;
            if (sub.arity > 0 && argc != sub.arity) || argc < -sub.arity {
                return Err(err::arity(sub.name));
            }
            (sub.handler)(ctx, a)
        }
        None => Err(Reply::Error(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&a[1][..a[1].len().min(128)])
        ))),
    }
}

/// COMMAND INFO's flags, in Redis's order: the table's flags, plus those
/// derived from the row (`movablekeys`: keys found by a function;
/// the script runners' `skip_monitor` and `no_mandatory_keys`; EXEC's
/// `skip_slowlog`).
fn flag_names(c: &CommandSpec) -> Vec<Reply> {
    let script = matches!(
        c.name,
        "eval" | "eval_ro" | "evalsha" | "evalsha_ro" | "fcall" | "fcall_ro"
    );
    let mut out = Vec::new();
    for &(bit, name) in crate::commands::flag::NAMES {
        if bit == FAST {
            // after `stale` in Redis's order
            if script {
                out.push(Reply::simple("skip_monitor"));
            }
            if c.name == "exec" {
                out.push(Reply::simple("skip_slowlog"));
            }
        }
        if bit == NO_MULTI && script {
            out.push(Reply::simple("no_mandatory_keys"));
        }
        if bit == ALLOW_BUSY && c.getkeys.is_some() {
            out.push(Reply::simple("movablekeys"));
        }
        if c.flags & bit != 0 {
            out.push(Reply::simple(name));
        }
    }
    out
}

pub(crate) fn acl_categories(c: &CommandSpec) -> Vec<Reply> {
    let mut cats = Vec::new();
    if c.flags & WRITE != 0 {
        cats.push("@write");
    }
    if c.flags & READONLY != 0 {
        cats.push("@read");
    }
    match c.group {
        "string" | "bitmap" => cats.push(if c.group == "string" {
            "@string"
        } else {
            "@bitmap"
        }),
        "generic" => cats.push("@keyspace"),
        "list" => cats.push("@list"),
        "hash" => cats.push("@hash"),
        "set" => cats.push("@set"),
        "sorted-set" => cats.push("@sortedset"),
        "connection" => cats.push("@connection"),
        "pubsub" => cats.push("@pubsub"),
        "transactions" => cats.push("@transaction"),
        "hyperloglog" => cats.push("@hyperloglog"),
        "stream" => cats.push("@stream"),
        "geo" => cats.push("@geo"),
        _ => {}
    }
    // BY and GET reach any key: Redis files SORT under every type it sorts
    let sort = matches!(c.name, "sort" | "sort_ro");
    if sort {
        cats.retain(|c| *c != "@keyspace");
        cats.extend(["@set", "@sortedset", "@list"]);
    }
    if c.flags & ADMIN != 0 {
        cats.extend(["@admin", "@dangerous"]);
    }
    if c.flags & FAST != 0 {
        cats.push("@fast");
    } else {
        cats.push("@slow");
    }
    if c.flags & BLOCKING != 0 {
        cats.push("@blocking");
    }
    if sort {
        cats.push("@dangerous");
    }
    // last in Redis's category order
    if c.group == "scripting" && c.subcommands.is_empty() {
        cats.push("@scripting");
    }
    cats.into_iter().map(Reply::simple).collect()
}

fn command_entry(c: &CommandSpec, resp: u8) -> Reply {
    let (first, last, step) = c.keys;
    let _ = resp;
    Reply::Array(vec![
        Reply::bulk(c.name),
        Reply::Int(c.arity as i64),
        Reply::Set(flag_names(c)),
        Reply::Int(first as i64),
        Reply::Int(last as i64),
        Reply::Int(step as i64),
        Reply::Set(acl_categories(c)),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(
            c.subcommands
                .iter()
                .map(|s| command_entry(s, resp))
                .collect(),
        ),
    ])
}

fn find_by_full_name(name: &[u8]) -> Option<&'static CommandSpec> {
    let lname = name.to_ascii_lowercase();
    if let Some(pos) = lname.iter().position(|&b| b == b'|') {
        let parent = super::find_command(&lname[..pos])?;
        let subs: &[CommandSpec] = if parent.name == "command" {
            COMMAND_SUBCOMMANDS
        } else {
            parent.subcommands
        };
        subs.iter().find(|s| s.name.as_bytes() == lname.as_slice())
    } else {
        super::find_command(&lname)
    }
}

/// `COMMAND COUNT`
fn command_count(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Int(super::all_commands().count() as i64))
}

/// `COMMAND INFO [command-name [command-name ...]]`
fn command_info(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() == 2 {
        return Ok(Reply::Array(
            super::all_commands()
                .map(|c| command_entry(c, ctx.cl.resp))
                .collect(),
        ));
    }
    Ok(Reply::Array(
        a[2..]
            .iter()
            .map(|n| find_by_full_name(n).map_or(Reply::Nil, |c| command_entry(c, ctx.cl.resp)))
            .collect(),
    ))
}

/// `COMMAND LIST [FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]`
fn command_list(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let mut names: Vec<&'static str> = Vec::new();
    for c in super::all_commands() {
        names.push(c.name);
        names.extend(c.subcommands.iter().map(|s| s.name));
        if c.name == "command" {
            names.extend(COMMAND_SUBCOMMANDS.iter().map(|s| s.name));
        }
    }
    match a.len() {
        2 => {}
        5 if a[2].eq_ignore_ascii_case(b"filterby") => {
            let what = a[3].to_ascii_lowercase();
            let arg = a[4];
            match what.as_slice() {
                b"pattern" => {
                    names.retain(|n| crate::util::glob::glob_match_nocase(arg, n.as_bytes()))
                }
                b"module" => names.clear(),
                b"aclcat" => {
                    let cat = format!("@{}", String::from_utf8_lossy(arg).to_ascii_lowercase());
                    names.retain(|n| {
                        find_by_full_name(n.as_bytes()).is_some_and(|c| {
                            acl_categories(c).contains(&Reply::Simple(cat.clone()))
                        })
                    })
                }
                _ => return Err(err::syntax()),
            }
        }
        _ => return Err(err::syntax()),
    }
    Ok(Reply::Array(names.into_iter().map(Reply::bulk).collect()))
}

fn command_doc(c: &CommandSpec) -> Reply {
    let mut fields = vec![
        (
            Reply::bulk("summary"),
            Reply::bulk(format!(
                "The {} command.",
                c.name.to_ascii_uppercase().replace('|', " ")
            )),
        ),
        (Reply::bulk("group"), Reply::bulk(c.group)),
    ];
    if !c.subcommands.is_empty() {
        fields.push((
            Reply::bulk("subcommands"),
            Reply::Map(
                c.subcommands
                    .iter()
                    .map(|s| (Reply::bulk(s.name), command_doc(s)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

/// `COMMAND DOCS [command-name [command-name ...]]`
fn command_docs(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let docs = if a.len() == 2 {
        super::all_commands()
            .map(|c| (Reply::bulk(c.name), command_doc(c)))
            .collect()
    } else {
        a[2..]
            .iter()
            .filter_map(|n| find_by_full_name(n))
            .map(|c| (Reply::bulk(c.name), command_doc(c)))
            .collect()
    };
    Ok(Reply::Map(docs))
}

/// `COMMAND GETKEYS command [arg [arg ...]]`
fn command_getkeys(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let argv = &a[2..];
    let spec = match super::resolve(argv) {
        Ok(s) => s,
        Err(_) if super::find_command(argv[0]).is_none() => {
            return Err(Reply::error("ERR Invalid command specified"));
        }
        Err(_) => {
            return Err(Reply::error(
                "ERR Invalid number of arguments specified for command",
            ));
        }
    };
    let pos = spec.key_positions(argv);
    if pos.is_empty() {
        // as Redis: a command that takes keys, given none (EVAL … 0)
        return match spec.getkeys {
            Some(_) if flag_names(spec).contains(&Reply::simple("no_mandatory_keys")) => {
                Ok(Reply::Array(Vec::new()))
            }
            Some(_) => Err(Reply::error("ERR Invalid arguments specified for command")),
            None => Err(Reply::error("ERR The command has no key arguments")),
        };
    }
    Ok(Reply::Array(
        pos.into_iter().map(|i| Reply::bulk(argv[i])).collect(),
    ))
}

/// `COMMAND HELP`
fn command_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    ))
}

/// INFO's sections, in Redis's order: (name, in the default set).
/// `all` is every one, `everything` too (emberkv has no module sections).
const INFO_SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
];

/// `INFO [section [section ...]]`
fn info(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    ctx.cl.flush_stats(ctx.eng);
    let want: Vec<String> = a[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let all = want.iter().any(|s| s == "all" || s == "everything");
    let default = want.is_empty() || want.iter().any(|s| s == "default");
    let mut out = String::new();
    for (sec, in_default) in INFO_SECTIONS {
        if !(all || (default && *in_default) || want.iter().any(|w| w == sec)) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        info_section(ctx, sec, &mut out);
    }
    Ok(if ctx.cl.resp == 3 {
        Reply::Verbatim("txt", out.into_bytes())
    } else {
        Reply::bulk_vec(out.into_bytes())
    })
}

fn info_section(ctx: &Ctx, sec: &str, out: &mut String) {
    let eng = ctx.eng;
    macro_rules! kv {
        ($k:expr, $v:expr) => {{
            let _ = write!(out, "{}:{}\r\n", $k, $v);
        }};
    }
    match sec {
        "server" => {
            out.push_str("# Server\r\n");
            let up = eng.started.elapsed().as_secs();
            kv!("redis_version", crate::REDIS_VERSION);
            kv!("redis_git_sha1", "00000000");
            kv!("redis_git_dirty", 0);
            kv!("emberkv_version", crate::VERSION);
            kv!("redis_mode", "standalone");
            kv!("os", std::env::consts::OS);
            kv!("arch_bits", (usize::BITS));
            kv!("multiplexing_api", "embedded");
            kv!("process_id", std::process::id());
            kv!("run_id", eng.run_id);
            kv!("tcp_port", eng.params.get("port").unwrap_or_default());
            kv!("server_time_usec", eng.clock.now_us());
            kv!("uptime_in_seconds", up);
            kv!("uptime_in_days", (up / 86400));
            kv!("hz", eng.params.tun(crate::config::Tun::Hz));
            kv!("executable", "");
            kv!("config_file", "");
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            kv!("connected_clients", eng.clients.lock().len());
            kv!(
                "maxclients",
                eng.params.get("maxclients").unwrap_or_default()
            );
            kv!(
                "blocked_clients",
                eng.blocking.blocked_clients() + eng.hooks.pause.waiting()
            );
            kv!("tracking_clients", eng.hooks.tracking.counts()[0]);
            let pubsub = eng
                .clients
                .lock()
                .values()
                .filter(|c| client_is_type(c, b"pubsub"))
                .count();
            kv!("pubsub_clients", pubsub);
        }
        "memory" => {
            out.push_str("# Memory\r\n");
            let used = used_memory(ctx);
            let peak = eng.evict.peak().max(used);
            let rss = rss_bytes();
            kv!("used_memory", used);
            kv!("used_memory_human", human_bytes(used));
            kv!("used_memory_rss", rss);
            kv!("used_memory_rss_human", human_bytes(rss));
            kv!("used_memory_peak", peak);
            kv!("used_memory_peak_human", human_bytes(peak));
            kv!(
                "used_memory_peak_perc",
                format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64)
            );
            kv!("used_memory_dataset", used);
            let (scripts, functions, libraries) = eng.scripts.info_counts();
            kv!("number_of_cached_scripts", scripts);
            kv!("number_of_functions", functions);
            kv!("number_of_libraries", libraries);
            let max = eng.params.tun(crate::config::Tun::Maxmemory).max(0) as usize;
            kv!("maxmemory", max);
            kv!("maxmemory_human", human_bytes(max));
            kv!(
                "maxmemory_policy",
                eng.params.get("maxmemory-policy").unwrap_or_default()
            );
            kv!(
                "mem_fragmentation_ratio",
                format!("{:.2}", rss as f64 / used.max(1) as f64)
            );
            // Redis leaves out replication and AOF buffers; emberkv has no
            // replication, and its AOF buffer is flushed every write
            kv!("mem_not_counted_for_evict", 0);
            kv!("mem_allocator", "libc");
            // values are freed in the command that drops them: nothing pending
            kv!("lazyfree_pending_objects", 0);
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            eng.rdb.info(eng, out);
            eng.aof.info(out);
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            let s = &eng.stats;
            kv!(
                "total_connections_received",
                s.total_connections.load(Ordering::Relaxed)
            );
            kv!(
                "total_commands_processed",
                s.total_commands.load(Ordering::Relaxed)
            );
            kv!(
                "rejected_connections",
                s.rejected_connections.load(Ordering::Relaxed)
            );
            kv!(
                "total_net_input_bytes",
                s.net_input_bytes.load(Ordering::Relaxed)
            );
            kv!(
                "total_net_output_bytes",
                s.net_output_bytes.load(Ordering::Relaxed)
            );
            kv!("expired_keys", s.expired_keys.load(Ordering::Relaxed));
            kv!(
                "evicted_keys",
                eng.evict.evicted_keys.load(Ordering::Relaxed)
            );
            kv!("keyspace_hits", s.keyspace_hits.load(Ordering::Relaxed));
            kv!("keyspace_misses", s.keyspace_misses.load(Ordering::Relaxed));
            let (ch, pat) = eng.pubsub.channel_count();
            kv!("pubsub_channels", ch);
            kv!("pubsub_patterns", pat);
            let [_, keys, items, prefixes] = eng.hooks.tracking.counts();
            kv!("tracking_total_keys", keys);
            kv!("tracking_total_items", items);
            kv!("tracking_total_prefixes", prefixes);
            kv!("total_error_replies", eng.cmdstats.total_errors());
            for (name, n) in ["auth", "cmd", "key", "channel"]
                .iter()
                .zip(&eng.acl.denied)
            {
                kv!(
                    format!("acl_access_denied_{name}"),
                    n.load(Ordering::Relaxed)
                );
            }
        }
        "replication" => {
            out.push_str("# Replication\r\n");
            kv!("role", "master");
            kv!("connected_slaves", 0);
            // a master that never had replicas: its own id, nothing streamed
            kv!("master_failover_state", "no-failover");
            kv!("master_replid", eng.run_id);
            kv!("master_replid2", "0".repeat(40));
            kv!("master_repl_offset", 0);
            kv!("second_repl_offset", -1);
            kv!("repl_backlog_active", 0);
        }
        "cpu" => {
            out.push_str("# CPU\r\n");
            let (own, children) = (cpu_usage(false), cpu_usage(true));
            kv!("used_cpu_sys", format!("{:.6}", own.0));
            kv!("used_cpu_user", format!("{:.6}", own.1));
            kv!("used_cpu_sys_children", format!("{:.6}", children.0));
            kv!("used_cpu_user_children", format!("{:.6}", children.1));
        }
        "modules" => out.push_str("# Modules\r\n"),
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            eng.cmdstats.write_commandstats(out);
        }
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            eng.cmdstats.write_errorstats(out);
        }
        "cluster" => {
            out.push_str("# Cluster\r\n");
            kv!("cluster_enabled", 0);
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            for db in 0..eng.ks.ndbs {
                let (mut keys, mut expires) = (0, 0);
                for shard in eng.ks.shards.iter() {
                    let g = shard.read();
                    keys += g.dbs[db].len();
                    expires += g.dbs[db].expires_len();
                }
                if keys > 0 {
                    let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
            }
        }
        _ => {}
    }
}

/// (system, user) CPU seconds of this process (or of its waited-for
/// children), from getrusage(2). The host program's own work counts too:
/// the engine runs inside it.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn cpu_usage(children: bool) -> (f64, f64) {
    #[repr(C)]
    struct Timeval {
        sec: i64,
        usec: i64,
    }
    #[repr(C)]
    struct Rusage {
        utime: Timeval,
        stime: Timeval,
        rest: [i64; 14],
    }
    unsafe extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    let mut ru = Rusage {
        utime: Timeval { sec: 0, usec: 0 },
        stime: Timeval { sec: 0, usec: 0 },
        rest: [0; 14],
    };
    let who = if children {
        RUSAGE_CHILDREN
    } else {
        RUSAGE_SELF
    };
    // SAFETY: `ru` is a writable struct with the layout of Linux's 64-bit
    // `struct rusage` (two timevals and fourteen longs), which is all the
    // call writes.
    if unsafe { getrusage(who, &mut ru) } != 0 {
        return (0.0, 0.0);
    }
    let secs = |t: &Timeval| t.sec as f64 + t.usec as f64 / 1e6;
    (secs(&ru.stime), secs(&ru.utime))
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn cpu_usage(_children: bool) -> (f64, f64) {
    (0.0, 0.0)
}

/// Used memory as INFO reports it: the counting allocator's figure when the
/// program installed it, else the keyspace estimate (`evict.rs`).
/// `ROLE`: a standalone server is a master without replicas.
fn role(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Array(vec![
        Reply::bulk("master"),
        Reply::Int(0),
        Reply::Array(Vec::new()),
    ]))
}

/// `LOLWUT [VERSION version] ...`: the version line Redis answers for the
/// versions it has no art for. Redis draws art for VERSION 5 and 6;
/// emberkv answers those with the same line.
fn lolwut(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a.len() >= 3 && a[1].eq_ignore_ascii_case(b"version") {
        parse_i64(a[2]).ok_or_else(err::not_int)?;
    }
    Ok(Reply::bulk(format!(
        "Redis ver. {}\n",
        crate::REDIS_VERSION
    )))
}

/// `REPLICAOF host port` / `SLAVEOF`: only `NO ONE` (already a master);
/// emberkv does not replicate.
fn replicaof(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    if a[1].eq_ignore_ascii_case(b"no") && a[2].eq_ignore_ascii_case(b"one") {
        return Ok(Reply::ok());
    }
    match parse_i64(a[2]) {
        Some(p) if (0..=65535).contains(&p) => Err(Reply::error(
            "ERR emberkv does not support replication: only REPLICAOF NO ONE is accepted",
        )),
        _ => Err(Reply::error("ERR Invalid master port")),
    }
}

/// `MODULE LIST`: no modules.
fn module_list(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::Array(Vec::new()))
}

/// `MODULE LOAD|LOADEX|UNLOAD`: refused as Redis refuses them under its
/// default `enable-module-command no` (emberkv loads no modules).
fn module_refused(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Err(Reply::error(
        "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
    ))
}

fn module_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
        ],
    ))
}

/// Every CLUSTER subcommand on a standalone server (Redis's text).
fn cluster_disabled(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Err(Reply::error(
        "ERR This instance has cluster support disabled",
    ))
}

/// `MEMORY STATS`: the figures emberkv measures (INFO memory's), under
/// Redis's names. Left out: what it does not measure apart (startup
/// memory, client buffers, per-database table overhead).
pub(super) fn memory_stats(ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    let eng = ctx.eng;
    let used = used_memory(ctx);
    let peak = eng.evict.peak().max(used);
    let rss = rss_bytes();
    let mut keys = 0usize;
    for shard in eng.ks.shards.iter() {
        let g = shard.read();
        keys += g.dbs.iter().map(|d| d.len()).sum::<usize>();
    }
    let pct = |a: usize, b: usize| a as f64 * 100.0 / b.max(1) as f64;
    let kv = |k: &str, v: Reply| (Reply::bulk(k), v);
    let int = |n: usize| Reply::Int(n as i64);
    Ok(Reply::Map(vec![
        kv("peak.allocated", int(peak)),
        kv("total.allocated", int(used)),
        kv("replication.backlog", int(0)),
        kv("clients.slaves", int(0)),
        kv("aof.buffer", int(0)),
        kv("keys.count", int(keys)),
        kv("keys.bytes-per-key", int(used / keys.max(1))),
        kv("dataset.bytes", int(used)),
        kv("dataset.percentage", Reply::Double(pct(used, used))),
        kv("peak.percentage", Reply::Double(pct(used, peak))),
        kv(
            "fragmentation",
            Reply::Double(rss as f64 / used.max(1) as f64),
        ),
        kv("fragmentation.bytes", Reply::Int(rss as i64 - used as i64)),
    ]))
}

/// `MEMORY MALLOC-STATS`: Redis's answer when built without jemalloc
/// (emberkv uses the system allocator).
pub(super) fn memory_malloc_stats(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(Reply::bulk("Stats not supported for the current allocator"))
}

/// `MEMORY PURGE`: gives free heap memory back to the system (glibc's
/// malloc_trim; Redis asks jemalloc to purge).
pub(super) fn memory_purge(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim only releases free memory.
        unsafe {
            malloc_trim(0);
        }
    }
    Ok(Reply::ok())
}

pub(crate) fn used_memory(ctx: &Ctx) -> usize {
    ctx.eng.evict.used_now(ctx.eng)
}

/// Resident set size (Linux `/proc/self/statm`; 0 elsewhere).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn human_bytes(n: usize) -> String {
    let n = n as f64;
    if n < 1024.0 {
        format!("{n}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", n / (1024.0 * 1024.0 * 1024.0))
    }
}

/// `DEBUG SLEEP seconds`: sleeps the calling thread (no locks held).
fn debug_sleep(_ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let secs = parse_f64(a[2])
        .filter(|s| *s >= 0.0 && s.is_finite())
        .ok_or_else(err::not_float)?;
    if secs > 0.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
    }
    Ok(Reply::ok())
}

/// `DEBUG OBJECT key`
fn debug_object(ctx: &mut Ctx, a: &[&[u8]]) -> R {
    let Some(v) = ctx.peek(a[2]) else {
        return Err(Reply::error(err::NO_KEY));
    };
    // Redis's rdbSavedObjectLen: the RDB body of the value (a DUMP payload
    // is type byte + body + 2-byte version + 8-byte CRC)
    let opts = crate::persist::convert::write_options(&ctx.eng.params);
    let serlen =
        crate::persist::rdb::dump_payload_with(&crate::persist::convert::from_value(v), &opts)
            .map_or(0, |p| p.len().saturating_sub(11));
    let idle = ctx.idle_seconds(a[2]).unwrap_or(0);
    Ok(Reply::Simple(format!(
        "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:{idle}",
        v.encoding(),
        serlen
    )))
}

/// `DEBUG HELP`
fn debug_help(_ctx: &mut Ctx, _a: &[&[u8]]) -> R {
    Ok(help_reply(
        "DEBUG",
        &[
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    ))
}
