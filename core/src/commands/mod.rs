//! The command table and the one dispatch path.
//!
//! Every command is one `CommandSpec` row in its family's module (`string.rs`,
//! `keys.rs`, …) plus a handler. `dispatch` does, in order: lookup
//! (case-insensitive, with subcommands) → arity → MULTI queueing → locks →
//! handler → side effects of a successful write (dirty counter, AOF form,
//! WATCH invalidation, keyspace notifications). Handlers only report what
//! they changed.

pub(crate) mod acl;
pub(crate) mod bitmap;
pub(crate) mod blocking;
pub(crate) mod clientfeat;
pub(crate) mod ctx;
pub(crate) mod err;
pub(crate) mod function;
pub(crate) mod geo;
pub(crate) mod hash;
pub(crate) mod hll;
pub(crate) mod keys;
pub(crate) mod list;
pub(crate) mod persist;
pub(crate) mod pubsub;
pub(crate) mod script;
pub(crate) mod server;
pub(crate) mod set;
pub(crate) mod sort;
pub(crate) mod stream;
pub(crate) mod string;
pub(crate) mod tx;
pub(crate) mod zset;

use std::sync::LazyLock;

use hashbrown::HashMap;

use crate::client::ClientState;
use crate::db::Engine;
use crate::keyspace::shard_of;
use crate::reply::Reply;

pub(crate) use ctx::{Ctx, HashCache};

/// A handler: argv includes the command name. `Err` carries an error reply.
pub(crate) type Handler = fn(&mut Ctx, &[&[u8]]) -> Result<Reply, Reply>;
/// Key positions for commands whose keys (first, last, step) cannot describe.
pub(crate) type GetKeys = fn(&[&[u8]]) -> Vec<usize>;

pub(crate) mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const ALLOW_BUSY: u32 = 1 << 12;
    /// Needs every shard (keyspace-wide commands).
    pub const ALL_SHARDS: u32 = 1 << 20;
    /// Touches no keyspace data: no locks at all.
    pub const NO_KEYS: u32 = 1 << 21;
    /// May be sent while subscribed (RESP2 pub/sub context).
    pub const PUBSUB_CTX: u32 = 1 << 22;
    /// Locks its shards for writing even if not a write command (scripts).
    pub const LOCK_WRITE: u32 = 1 << 23;
    /// Runs for an unbounded time without waiting for data (scripts, DEBUG
    /// SLEEP). With BLOCKING, what `holds_caller` reports.
    pub const UNBOUNDED: u32 = 1 << 24;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

pub(crate) struct CommandSpec {
    /// Lowercase; subcommands are `container|sub`.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u32,
    /// First key, last key (negative: from the end), step; (0, 0, 0) = none.
    pub keys: (i32, i32, i32),
    pub getkeys: Option<GetKeys>,
    pub handler: Handler,
    /// Redis's command group (`string`, `generic`, `server`, …).
    pub group: &'static str,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: (i32, i32, i32),
        group: &'static str,
        handler: Handler,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            keys,
            getkeys: None,
            handler,
            group,
            subcommands: &[],
        }
    }

    pub const fn with_getkeys(mut self, f: GetKeys) -> CommandSpec {
        self.getkeys = Some(f);
        self
    }

    pub const fn container(
        name: &'static str,
        flags: u32,
        group: &'static str,
        subs: &'static [CommandSpec],
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity: -2,
            flags,
            keys: (0, 0, 0),
            getkeys: None,
            handler: container_handler,
            group,
            subcommands: subs,
        }
    }

    pub fn is_write(&self) -> bool {
        self.flags & flag::WRITE != 0
    }

    /// The positions of key arguments in `argv`.
    pub fn key_positions(&self, argv: &[&[u8]]) -> Vec<usize> {
        if let Some(f) = self.getkeys {
            return f(argv);
        }
        let (first, last, step) = self.keys;
        if first <= 0 || step <= 0 {
            return Vec::new();
        }
        let argc = argv.len() as i32;
        let last = if last < 0 {
            argc + last
        } else {
            last.min(argc - 1)
        };
        (first..=last)
            .step_by(step as usize)
            .filter(|&i| i < argc)
            .map(|i| i as usize)
            .collect()
    }
}

fn container_handler(_: &mut Ctx, _: &[&[u8]]) -> Result<Reply, Reply> {
    Err(Reply::error("ERR internal error: container dispatched"))
}

/// Every command family's rows.
fn families() -> impl Iterator<Item = &'static CommandSpec> {
    [
        server::COMMANDS,
        keys::COMMANDS,
        string::COMMANDS,
        bitmap::COMMANDS,
        pubsub::COMMANDS,
        tx::COMMANDS,
        list::COMMANDS,
        hash::COMMANDS,
        blocking::COMMANDS,
        set::COMMANDS,
        zset::COMMANDS,
        stream::COMMANDS,
        hll::COMMANDS,
        persist::COMMANDS,
        script::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        function::COMMANDS,
        clientfeat::COMMANDS,
        acl::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

static TABLE: LazyLock<HashMap<&'static [u8], &'static CommandSpec>> =
    LazyLock::new(|| families().map(|c| (c.name.as_bytes(), c)).collect());

/// All top-level commands (COMMAND, COMMAND COUNT, …).
pub(crate) fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    families()
}

pub(crate) fn find_command(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    TABLE.get(&buf[..name.len()]).copied()
}

/// The commands that may keep their caller for long (BLOCKING or UNBOUNDED,
/// themselves or one of their subcommands), by the length of their name.
static HOLDING: LazyLock<Vec<Vec<&'static CommandSpec>>> = LazyLock::new(|| {
    let holds = |c: &CommandSpec| c.flags & (flag::BLOCKING | flag::UNBOUNDED) != 0;
    let mut by_len: Vec<Vec<&'static CommandSpec>> = Vec::new();
    for c in families().filter(|c| holds(c) || c.subcommands.iter().any(holds)) {
        let n = c.name.len();
        if by_len.len() <= n {
            by_len.resize(n + 1, Vec::new());
        }
        by_len[n].push(c);
    }
    by_len
});

/// Whether `argv` may keep its caller for long: it can block waiting for
/// data (BLPOP, XREAD BLOCK, ...) or run unbounded work (EVAL, DEBUG
/// SLEEP). Cheap enough for every command of a front end that multiplexes
/// many connections on one thread and must run such commands elsewhere:
/// most names fail on their length or first letter.
pub(crate) fn holds_caller(argv: &[&[u8]]) -> bool {
    let Some(name) = argv.first() else {
        return false;
    };
    let Some(same_len) = HOLDING.get(name.len()) else {
        return false;
    };
    let first = name.first().map(u8::to_ascii_lowercase);
    let Some(spec) = same_len.iter().find(|c| {
        c.name.as_bytes().first() == first.as_ref() && c.name.as_bytes().eq_ignore_ascii_case(name)
    }) else {
        return false;
    };
    let spec = if spec.subcommands.is_empty() {
        spec
    } else {
        match argv.get(1).and_then(|s| find_sub(spec, s)) {
            Some(sub) => sub,
            None => return false,
        }
    };
    spec.flags & (flag::BLOCKING | flag::UNBOUNDED) != 0
}

/// A container's subcommand by name (case-insensitive).
pub(crate) fn find_sub(spec: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    let prefix = spec.name.len() + 1;
    spec.subcommands
        .iter()
        .find(|s| s.name.as_bytes()[prefix..].eq_ignore_ascii_case(name))
}

/// Redis's argument rendering in "unknown command" errors.
fn args_preview(argv: &[&[u8]]) -> String {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let a = cstr(a);
        let shown: String = String::from_utf8_lossy(&a[..a.len().min(room)]).into_owned();
        args.push_str(&format!("'{shown}' "));
    }
    args
}

/// C string view: stops at the first NUL, as Redis's `%s` does.
fn cstr(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(i) => &a[..i],
        None => a,
    }
}

/// Redis replaces newlines in error texts it builds from user input.
fn sanitize(s: String) -> String {
    s.replace(['\r', '\n'], " ")
}

/// Looks up the command (and subcommand) and checks arity.
pub(crate) fn resolve(argv: &[&[u8]]) -> Result<&'static CommandSpec, Reply> {
    let name = argv[0];
    let spec = find_command(name).ok_or_else(|| {
        let shown = cstr(name);
        let shown = String::from_utf8_lossy(&shown[..shown.len().min(128)]).into_owned();
        Reply::Error(sanitize(format!(
            "ERR unknown command '{shown}', with args beginning with: {}",
            args_preview(argv)
        )))
    })?;
    let spec = if !spec.subcommands.is_empty() && argv.len() >= 2 {
        find_sub(spec, argv[1]).ok_or_else(|| {
            let sub = cstr(argv[1]);
            let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]).into_owned();
            Reply::Error(sanitize(format!(
                "ERR unknown subcommand '{sub}'. Try {} HELP.",
                spec.name.to_ascii_uppercase()
            )))
        })?
    } else {
        spec
    };
    if !check_arity(spec, argv.len()) {
        return Err(err::arity(spec.name));
    }
    Ok(spec)
}

/// Redis's arity rule: positive = exact, negative = at least (name counted).
#[inline]
fn check_arity(spec: &CommandSpec, argc: usize) -> bool {
    let argc = argc as i32;
    !((spec.arity > 0 && argc != spec.arity) || argc < -spec.arity)
}

/// The spelling cache key: the table's own name when the client used the
/// canonical lowercase or uppercase spelling (the common cases), so the
/// cache never allocates.
fn intern(used: &str, spec: &'static CommandSpec) -> Option<&'static str> {
    if used == spec.name {
        return Some(spec.name);
    }
    UPPER.get(spec.name).copied().filter(|u| *u == used)
}

static UPPER: LazyLock<HashMap<&'static str, &'static str>> = LazyLock::new(|| {
    families()
        .map(|c| {
            (
                c.name,
                &*Box::leak(c.name.to_ascii_uppercase().into_boxed_str()),
            )
        })
        .collect()
});

/// The shard bit mask a command must lock.
/// `first_hash` receives the first key's hash, so the handler need not hash it again.
pub(crate) fn shard_mask(
    eng: &Engine,
    spec: &CommandSpec,
    argv: &[&[u8]],
    first_hash: &HashCache,
) -> u32 {
    if spec.flags & flag::ALL_SHARDS != 0 {
        return Ctx::shard_mask_all();
    }
    if spec.flags & flag::NO_KEYS != 0 {
        return 0;
    }
    if spec.keys == (1, 1, 1) && spec.getkeys.is_none() {
        // one key, the first argument: most commands
        let Some(key) = argv.get(1) else { return 0 };
        let h = eng.ks.hash(key);
        first_hash.set(Some((key.as_ptr() as usize, key.len(), h)));
        return 1 << shard_of(h);
    }
    let mut mask = 0u32;
    let (first, _, step) = spec.keys;
    if spec.getkeys.is_none() && first > 0 && step > 0 {
        // the common case, without building a position list
        let (first, last) = key_range(spec, argv.len());
        let mut i = first;
        while i <= last {
            let h = eng.ks.hash(argv[i]);
            if i == first {
                first_hash.set(Some((argv[i].as_ptr() as usize, argv[i].len(), h)));
            }
            mask |= 1 << shard_of(h);
            i += step as usize;
        }
        return mask;
    }
    for i in spec.key_positions(argv) {
        mask |= 1 << shard_of(eng.ks.hash(argv[i]));
    }
    mask
}

/// First and last key positions of a (first, last, step) spec, clamped to argv.
fn key_range(spec: &CommandSpec, argc: usize) -> (usize, usize) {
    let (first, last, _) = spec.keys;
    let argc = argc as i32;
    let last = if last < 0 {
        argc + last
    } else {
        last.min(argc - 1)
    };
    (first as usize, last.max(first - 1).max(0) as usize)
}

/// The command a refused argv names, when it names one (an arity error
/// counts against its command; an unknown command or subcommand has none).
pub(crate) fn named_command(argv: &[&[u8]]) -> Option<&'static CommandSpec> {
    let spec = find_command(argv[0])?;
    if !spec.subcommands.is_empty() && argv.len() >= 2 {
        return find_sub(spec, argv[1]);
    }
    Some(spec)
}

/// Runs one command for a client: the single entry every binding uses.
pub(crate) fn dispatch(eng: &Engine, cl: &mut ClientState, argv: &[&[u8]]) -> Reply {
    if argv.is_empty() {
        return Reply::error("ERR empty command");
    }
    let (spec, idx) = match cl
        .last_command
        .filter(|(name, _, _)| crate::util::same_bytes(name.as_bytes(), argv[0]))
    {
        // the same spelling as the previous command, and no subcommands to resolve
        Some((_, spec, idx)) if check_arity(spec, argv.len()) => (spec, idx),
        _ => match resolve(argv) {
            Ok(s) => {
                let idx = crate::cmdstats::index_of(s);
                if s.subcommands.is_empty() && !s.name.contains('|') {
                    cl.last_command = std::str::from_utf8(argv[0])
                        .ok()
                        .and_then(|n| intern(n, s))
                        .map(|n| (n, s, idx));
                }
                (s, idx)
            }
            Err(e) => {
                let idx = named_command(argv).map(crate::cmdstats::index_of);
                cl.note_command(eng, idx);
                cl.note_refused(eng, idx, &e);
                return e;
            }
        },
    };
    cl.note_command(eng, Some(idx));
    if !cl.authenticated && spec.flags & flag::NO_AUTH == 0 && !cl.auth_satisfied(eng) {
        let e = Reply::error("NOAUTH Authentication required.");
        cl.note_refused(eng, Some(idx), &e);
        return e;
    }
    if let Some(e) = crate::acl::check(eng, cl, spec, argv, "toplevel") {
        return refuse(eng, cl, spec, idx, &e);
    }
    if spec.is_write()
        && let Some(r) = eng.aof.write_denied().or_else(|| eng.rdb.write_denied(eng))
    {
        cl.note_refused(eng, Some(idx), &r);
        return r;
    }
    if spec.flags & flag::ALLOW_BUSY == 0 && eng.scripts.busy(eng) {
        return refuse(eng, cl, spec, idx, eng.scripts.busy_error());
    }
    if eng.params.tun(crate::config::Tun::Maxmemory) != 0 && !eng.is_loading() {
        let mut oom = false;
        let refused = crate::evict::check_command(eng, cl, spec, &mut oom);
        cl.oom_at_start = oom;
        if refused {
            return refuse(eng, cl, spec, idx, crate::evict::OOM);
        }
    }
    if let Some(r) = cl.intercept(eng, spec, argv) {
        if let Reply::Error(_) = &r {
            cl.note_refused(eng, Some(idx), &r);
        }
        return r;
    }
    if spec.name == "exec" {
        let r = tx::exec(eng, cl);
        if eng.hooks.active() != 0 {
            crate::hooks::after_exec(eng, cl, argv);
        }
        let failed = r.is_error();
        if let Reply::Error(e) = &r {
            eng.cmdstats.error_reply(e);
        }
        cl.note_call(0, 0, failed);
        cl.cmd_stats.call(idx, None, failed);
        return r;
    }
    run(eng, cl, spec, argv)
}

/// Refuses a command before it runs (Redis's rejectCommand): inside MULTI
/// the transaction is flagged, and a refused EXEC discards it with
/// `EXECABORT Transaction discarded because of: <error>`.
#[cold]
fn refuse(eng: &Engine, cl: &mut ClientState, spec: &CommandSpec, idx: u16, error: &str) -> Reply {
    let r = if spec.name == "exec" && cl.multi.is_some() {
        cl.multi = None;
        tx::unwatch_all(eng, cl);
        Reply::Error(format!(
            "EXECABORT Transaction discarded because of: {error}"
        ))
    } else {
        Reply::error(error)
    };
    cl.note_refused(eng, Some(idx), &r);
    r
}

/// Locks, runs the handler, applies side effects.
#[inline(always)]
pub(crate) fn run(
    eng: &Engine,
    cl: &mut ClientState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
) -> Reply {
    // The Ctx ends with this block, where it lives: `drop(ctx)` would move
    // its few hundred bytes first.
    let (reply, ticket, blocked) = {
        let mut ctx = Ctx::new(eng, cl);
        let mask = shard_mask(eng, spec, argv, &ctx.hash_cache);
        ctx.lock(mask, spec.is_write() || spec.flags & flag::LOCK_WRITE != 0);
        let reply = call(&mut ctx, spec, argv);
        // appended while the locks are held; waited for (always) after
        let ticket = eng.aof.commit(&mut ctx);
        // Nothing to pop: register while the locks are still held, then wait.
        let blocked = ctx
            .block
            .take()
            .map(|block| register_waiter(&mut ctx, spec, argv, block));
        (reply, ticket, blocked)
    };
    match blocked {
        None => eng.aof.settle(ticket, reply),
        Some((block, waiter)) => wait_blocked(eng, cl, spec, argv, ticket, block, waiter),
    }
}

/// A blocking command found nothing: its waiter, registered while the
/// command's locks are still held.
#[cold]
#[inline(never)]
fn register_waiter(
    ctx: &mut Ctx,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    mut block: crate::blocking::BlockOn,
) -> (
    crate::blocking::BlockOn,
    std::sync::Arc<crate::blocking::Waiter>,
) {
    let owned: Vec<Vec<u8>> = block
        .argv
        .take()
        .unwrap_or_else(|| argv.iter().map(|a| a.to_vec()).collect());
    let waiter = ctx
        .eng
        .blocking
        .register(ctx.cl.id, ctx.db, spec, owned, &block);
    if let Some(info) = &ctx.cl.info {
        info.blocked
            .store(true, std::sync::atomic::Ordering::Release);
    }
    // a rerun (RETRY) that blocks again is done for the writer waiting on it
    if let Some(w) = ctx.cl.rerunning.take() {
        ctx.eng.blocking.rerun_done(&w);
    }
    (block, waiter)
}

/// Waits for what a blocked command registered for (`run`, after its locks
/// are released), and answers with what it was served.
#[cold]
#[inline(never)]
fn wait_blocked(
    eng: &Engine,
    cl: &mut ClientState,
    spec: &'static CommandSpec,
    argv: &[&[u8]],
    ticket: crate::persist::aof::Ticket,
    block: crate::blocking::BlockOn,
    waiter: std::sync::Arc<crate::blocking::Waiter>,
) -> Reply {
    // expired-key DELs logged on the way
    let _ = eng.aof.settle(ticket, Reply::Nil);
    let served = eng
        .blocking
        .wait(&waiter, block.deadline, block.timeout_reply);
    if let Some(info) = &cl.info {
        info.blocked
            .store(false, std::sync::atomic::Ordering::Release);
    }
    let retry = matches!(&served, Reply::Error(e) if e == crate::blocking::RETRY);
    // timed out or unblocked: the call counts now (a rerun counts itself)
    if !retry && !waiter.counted.load(std::sync::atomic::Ordering::Relaxed) {
        let idx = crate::cmdstats::index_of_cached(cl, spec);
        cl.cmd_stats.call(idx, None, served.is_error());
    }
    match served {
        // the waiter's command could not be served in the writer's locks: run it again
        _ if retry => {
            cl.rerunning = Some(waiter);
            let r = run(eng, cl, spec, argv);
            serve_after_retry(eng, cl, &block.keys);
            // blocked clients this rerun in turn told to rerun (a chain of
            // BLMOVEs) go first too
            if !cl.retried.is_empty() {
                crate::client::await_reruns(eng, cl);
            }
            if let Some(w) = cl.rerunning.take() {
                eng.blocking.rerun_done(&w);
            }
            r
        }
        // served inside another command's locks: what it popped must be as
        // durable as any write before the client sees it
        r => {
            if !eng.aof.needs_barrier() {
                return r;
            }
            let mut ctx = Ctx::new(eng, cl);
            let mask = shard_mask(eng, spec, argv, &ctx.hash_cache);
            ctx.lock(mask, false); // the serving writer has appended by the time it lets go
            let t = eng.aof.barrier();
            drop(ctx);
            eng.aof.settle(t, r)
        }
    }
}

/// After a waiter's rerun (see `Engine::serve_blocked`): the clients queued
/// behind it on its keys were not served; serve them now, in their order,
/// with what is left.
#[cold]
fn serve_after_retry(eng: &Engine, cl: &mut ClientState, keys: &[Vec<u8>]) {
    let mut ctx = Ctx::new(eng, cl);
    let db = ctx.db;
    let mask = keys
        .iter()
        .fold(0u32, |m, k| m | 1 << shard_of(eng.ks.hash(k)));
    ctx.lock(mask, true);
    let ready: Vec<(usize, Vec<u8>)> = keys.iter().map(|k| (db, k.clone())).collect();
    eng.serve_ready(&mut ctx, &ready);
    let ticket = eng.aof.commit(&mut ctx);
    drop(ctx);
    let _ = eng.aof.settle(ticket, Reply::Nil);
}

/// Runs a handler inside an already-locked Ctx and records its effects.
/// The handler is timed when something needs its duration (see `cmdstats`).
#[inline(always)]
pub(crate) fn call(ctx: &mut Ctx, spec: &'static CommandSpec, argv: &[&[u8]]) -> Reply {
    ctx.reset_effects();
    let timed = ctx.cl.sample_due() || ctx.eng.must_time(spec.flags & flag::FAST != 0);
    let start = timed.then(crate::clock::Stopwatch::start);
    let reply = match (spec.handler)(ctx, argv) {
        Ok(r) | Err(r) => r,
    };
    let usec = start.map(|t| t.elapsed_us());
    ctx.eng.after_command(ctx, spec, argv, &reply, usec);
    reply
}

#[cfg(test)]
mod tests {
    use super::holds_caller;

    #[test]
    fn blocking_commands_scripts_and_debug_sleep_hold_their_caller() {
        let holds = |argv: &[&[u8]]| holds_caller(argv);
        for argv in [
            &[b"BLPOP".as_slice(), b"k", b"0"][..],
            &[b"brpop", b"k", b"0"],
            &[b"bLmOvE", b"a", b"b", b"left", b"left", b"0"],
            &[b"BZMPOP"],
            &[b"xread", b"BLOCK", b"0", b"STREAMS", b"s", b"$"],
            &[b"XREADGROUP"],
            &[b"EVAL", b"return 1", b"0"],
            &[b"evalsha_ro"],
            &[b"DEBUG", b"sleep", b"1"],
            &[b"pfselftest"],
        ] {
            assert!(holds(argv), "{:?}", String::from_utf8_lossy(argv[0]));
        }
        for argv in [
            &[b"GET".as_slice(), b"k"][..],
            &[b"LPOP", b"k"],
            &[b"DEBUG", b"OBJECT", b"k"],
            &[b"DEBUG"],
            &[b"SCRIPT", b"KILL"],
            &[b"nosuchcommand"],
            &[],
        ] {
            assert!(!holds(argv), "{argv:?}");
        }
    }
}
