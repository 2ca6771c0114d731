//! Lua scripting: EVAL / EVALSHA and the script cache, as Redis 7.2 runs them.
//!
//! One Lua 5.1 VM per engine (`Vm`, created on first use, dropped by
//! SCRIPT FLUSH), behind a mutex taken after the shard locks. A script runs
//! inside its command's Ctx, which holds every shard write-locked (the
//! command's `LOCK_ALL_WRITE` flag), exactly as EXEC runs a transaction:
//! `redis.call` goes through `commands::call`, so dirty counting, WATCH,
//! notifications and blocked clients behave as in EXEC, and the commands a
//! script wrote are collected into one AOF block (MULTI … EXEC when more
//! than one: Redis 7's effects replication).
//!
//! `RunState` is read without the VM lock: SCRIPT KILL sets its flag (the
//! VM's instruction hook checks it), and other clients get `-BUSY` once a
//! script has run longer than `busy-reply-threshold`.
//!
//! Differences from Redis 7.2, known and left: no `struct` and `cmsgpack`
//! libraries; no `#!lua` shebang flags; SCRIPT DEBUG YES/SYNC refused (no
//! debugger); `redis.log` drops its message and `redis.set_repl` is accepted
//! without effect (every write is logged); SCRIPT KILL works at once, where
//! Redis waits for the threshold; a command already waiting for the shard
//! locks when the threshold passes waits for the script instead of getting
//! -BUSY; globals are read-only through proxy tables (stock Lua 5.1 has no
//! read-only tables), so C functions that write raw (`table.insert(redis, x)`)
//! reach the proxy, and what they write stays visible to later scripts.

mod bit;
mod cjson;
mod convert;
mod libs;
mod vm;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mlua::{Function, MultiValue, Value, Variadic};
use parking_lot::Mutex;

use crate::commands::{self, Ctx, flag};
use crate::db::Engine;
use crate::reply::Reply;

pub(crate) use vm::sha1_hex;

/// Where the script comes from: its body (EVAL) or its SHA1 (EVALSHA).
pub(crate) enum Source<'a> {
    Body(&'a [u8]),
    Sha(&'a [u8]),
}

pub(crate) const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
pub(crate) const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// The script running now, seen by other threads.
#[derive(Default)]
pub(crate) struct RunState {
    running: AtomicBool,
    /// Milliseconds since the engine started, when the script started.
    started_ms: AtomicU64,
    /// A write command changed something: SCRIPT KILL refuses.
    wrote: AtomicBool,
    kill: AtomicBool,
}

impl RunState {
    pub fn killed(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }
}

/// The engine's scripting state.
#[derive(Default)]
pub(crate) struct Scripts {
    vm: Mutex<Option<vm::Vm>>,
    pub run: Arc<RunState>,
    /// SHA1s of cached scripts whose shebang declares `no-writes` (CLIENT
    /// PAUSE WRITE lets them run).
    no_writes: Mutex<std::collections::HashSet<String>>,
}

impl Scripts {
    /// Whether a script has been running longer than `busy-reply-threshold`:
    /// other clients get `-BUSY` (commands flagged `allow_busy` excepted).
    /// One relaxed load when no script runs.
    #[inline]
    pub fn busy(&self, eng: &Engine) -> bool {
        if !self.run.running.load(Ordering::Relaxed) {
            return false;
        }
        let threshold = eng.params.tun(crate::config::Tun::BusyReplyThreshold);
        let now = eng.started.elapsed().as_millis() as u64;
        now.saturating_sub(self.run.started_ms.load(Ordering::Relaxed)) >= threshold as u64
    }

    /// SCRIPT LOAD: compiles and caches; the SHA1 or the compile error.
    pub fn load(&self, body: &[u8]) -> Result<String, Reply> {
        let mut guard = self.vm.lock();
        let vm = vm_of(&mut guard, &self.run)?;
        let sha = sha1_hex(body);
        self.compile(vm, &sha, body)?;
        Ok(sha)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.vm
            .lock()
            .as_ref()
            .is_some_and(|vm| vm.funcs.contains_key(&sha))
    }

    /// Whether the cached script `sha` declares `#!lua flags=no-writes`.
    pub fn declares_no_writes(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.no_writes.lock().contains(&sha)
    }

    /// SCRIPT FLUSH: a new VM (and a reseeded PRNG), as Redis does.
    pub fn flush(&self) {
        self.no_writes.lock().clear();
        let old = self.vm.lock().take();
        drop(old);
    }

    /// SCRIPT KILL.
    pub fn kill(&self) -> Reply {
        let run = &self.run;
        if !run.running.load(Ordering::Acquire) {
            return Reply::error("NOTBUSY No scripts in execution right now.");
        }
        if run.wrote.load(Ordering::Acquire) {
            return Reply::error(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        run.kill.store(true, Ordering::Release);
        Reply::ok()
    }

    fn compile(&self, vm: &mut vm::Vm, sha: &str, body: &[u8]) -> Result<Function, Reply> {
        if let Some(f) = vm.funcs.get(sha) {
            return Ok(f.clone());
        }
        // a `#!lua …` shebang line is not Lua: compile without it (an
        // empty line keeps the line numbers of errors)
        let f = match body.strip_prefix(b"#!lua") {
            Some(rest) if rest.is_empty() || matches!(rest[0], b' ' | b'\n' | b'\r') => {
                let nl = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                vm.compile(&rest[nl..])?
            }
            _ => vm.compile(body)?,
        };
        vm.funcs.insert(sha.to_string(), f.clone());
        if crate::pause::declares_no_writes(body) {
            self.no_writes.lock().insert(sha.to_string());
        }
        Ok(f)
    }
}

fn vm_of<'g>(guard: &'g mut Option<vm::Vm>, run: &Arc<RunState>) -> Result<&'g mut vm::Vm, Reply> {
    if guard.is_none() {
        let vm = vm::Vm::new(run.clone()).map_err(|e| Reply::Error(format!("ERR {e}")))?;
        *guard = Some(vm);
    }
    Ok(guard.as_mut().expect("just set"))
}

/// Settings of one run that the script's functions change or read.
pub(crate) struct RunOpts {
    /// `#!lua flags=no-writes` or EVAL_RO.
    pub read_only: bool,
}

/// Runs a script inside `ctx`, which holds every shard write-locked.
pub(crate) fn eval(
    ctx: &mut Ctx,
    src: Source<'_>,
    keys: &[&[u8]],
    args: &[&[u8]],
    opts: RunOpts,
) -> Reply {
    let eng = ctx.eng;
    let scripts = &eng.scripts;
    let mut guard = scripts.vm.lock();
    let vm = match vm_of(&mut guard, &scripts.run) {
        Ok(vm) => vm,
        Err(e) => return e,
    };
    let (sha, f) = match src {
        Source::Body(body) => {
            let sha = sha1_hex(body);
            match scripts.compile(vm, &sha, body) {
                Ok(f) => (sha, f),
                Err(e) => return e,
            }
        }
        Source::Sha(sha) => {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            match vm.funcs.get(&sha) {
                Some(f) => (sha, f.clone()),
                None => return Reply::error(NOSCRIPT),
            }
        }
    };

    let mut opts = opts;
    if scripts.no_writes.lock().contains(&sha) {
        opts.read_only = true;
    }
    // the script's own view: RESP2 replies, its own SELECT, no blocking
    let saved = (ctx.db, ctx.cl.db, ctx.cl.resp, ctx.no_block, ctx.aof.batch);
    let own_deferred = ctx.deferred_ready.is_none();
    if own_deferred {
        ctx.deferred_ready = Some(Vec::new());
    }
    ctx.aof.batch = true;
    ctx.no_block = true;
    ctx.cl.resp = 2;
    let run = &scripts.run;
    run.wrote.store(false, Ordering::Relaxed);
    run.kill.store(false, Ordering::Relaxed);
    run.started_ms
        .store(eng.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    run.running.store(true, Ordering::Release);

    let client_resp = saved.2;
    let outcome = vm.run(ctx, &f, keys, args, &opts);
    let script_resp = vm.script_resp();

    run.running.store(false, Ordering::Release);
    let killed = run.kill.swap(false, Ordering::AcqRel);
    let (db, cl_db, resp, no_block, batch) = saved;
    if ctx.cl.db != cl_db {
        ctx.cl.sync_meta(|m| m.db = cl_db);
    }
    ctx.db = db;
    ctx.cl.db = cl_db;
    ctx.cl.resp = resp;
    ctx.no_block = no_block;
    ctx.aof.batch = batch;
    // blocked clients see the state after the whole script
    if own_deferred
        && let Some(ready) = ctx.deferred_ready.take()
        && !ready.is_empty()
    {
        eng.serve_ready(ctx, &ready);
    }
    // the script's commands were counted and logged one by one
    ctx.dirty = 0;
    ctx.prop = crate::commands::ctx::Prop::Nothing;

    match outcome {
        Ok(Outcome::Value(v)) if script_resp == 3 => convert::from_lua(&v, client_resp, 0),
        // a RESP2 script's booleans answer 1 and null, also to a RESP3 client
        Ok(Outcome::Value(v)) => convert::resp2_booleans(convert::from_lua(&v, client_resp, 0)),
        Ok(Outcome::Error { msg, source, line }) => {
            let msg = if killed { KILLED.to_string() } else { msg };
            match (source, line) {
                (Some(src), Some(line)) => {
                    Reply::Error(sanitize(format!("{msg} script: {sha}, on {src}:{line}.")))
                }
                _ => Reply::Error(sanitize(msg)),
            }
        }
        Err(e) if killed => {
            let _ = e;
            Reply::Error(format!("{KILLED} script: {sha}"))
        }
        Err(e) => Reply::Error(sanitize(format!("ERR Error running script: {e}"))),
    }
}

/// Error replies are one line.
fn sanitize(s: String) -> String {
    let s = s.strip_prefix('-').map(str::to_string).unwrap_or(s);
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], " ")
    } else {
        s
    }
}

/// How a script ended.
pub(crate) enum Outcome {
    Value(Value),
    Error {
        msg: String,
        source: Option<String>,
        line: Option<i64>,
    },
}

/// `redis.call` / `redis.pcall`: runs one command for the script. `Err` is
/// the error reply's text (raised by `redis.call`, returned by `redis.pcall`).
pub(crate) fn script_call(
    ctx: &mut Ctx,
    lua: &mlua::Lua,
    resp: u8,
    opts: &RunOpts,
    args: Variadic<Value>,
) -> Result<Result<Value, String>, mlua::Error> {
    let eng = ctx.eng;
    if eng.scripts.run.killed() {
        return Err(mlua::Error::RuntimeError(KILLED.into()));
    }
    if args.is_empty() {
        return Ok(Err(
            "ERR Please specify at least one argument for this redis lib call".into(),
        ));
    }
    let mut argv: Vec<Vec<u8>> = Vec::with_capacity(args.len());
    for a in args.iter() {
        match a {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            Value::Integer(i) => argv.push(i.to_string().into_bytes()),
            Value::Number(n) => argv.push(convert::lua_number_text(*n).into_bytes()),
            _ => {
                return Ok(Err(
                    "ERR Lua redis lib command arguments must be strings or integers".into(),
                ));
            }
        }
    }
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let spec = match commands::resolve(&refs) {
        Ok(s) => s,
        Err(e) => {
            let unknown = commands::find_command(refs[0]).is_none()
                || e.as_error().is_some_and(|m| m.starts_with("ERR unknown"));
            return Ok(Err(if unknown {
                "ERR Unknown Redis command called from script".into()
            } else {
                "ERR Wrong number of args calling Redis command from script".into()
            }));
        }
    };
    if spec.flags & flag::NOSCRIPT != 0 {
        return Ok(Err(
            "ERR This Redis command is not allowed from script".into()
        ));
    }
    // PUBLISH & co. replicate: a read-only script may not call them either
    if spec.is_write()
        || (opts.read_only && matches!(spec.name, "publish" | "spublish" | "pfcount"))
    {
        if opts.read_only {
            return Ok(Err(
                "ERR Write commands are not allowed from read-only scripts.".into(),
            ));
        }
        if let Some(r) = eng.aof.write_denied().or_else(|| eng.rdb.write_denied(eng)) {
            return Ok(Err(r.as_error().unwrap_or("ERR").to_string()));
        }
    }
    // as Redis: over maxmemory when the script started, its first write may
    // not be one that grows memory (later ones must run: no half scripts)
    if spec.flags & flag::DENYOOM != 0
        && ctx.cl.oom_at_start
        && eng.params.tun(crate::config::Tun::Maxmemory) != 0
        && !eng.scripts.run.wrote.load(Ordering::Acquire)
    {
        return Ok(Err(crate::evict::OOM.into()));
    }
    let reply = commands::call(ctx, spec, &refs);
    if spec.is_write() && ctx.dirty > 0 {
        eng.scripts.run.wrote.store(true, Ordering::Release);
    }
    if let Reply::Error(e) = reply {
        return Ok(Err(e));
    }
    convert::to_lua(lua, &reply, resp).map(Ok)
}

/// Converts a run's xpcall results.
pub(crate) fn outcome(lua: &mlua::Lua, res: MultiValue) -> mlua::Result<Outcome> {
    let mut it = res.into_iter();
    let ok = matches!(it.next(), Some(Value::Boolean(true)));
    let v = it.next().unwrap_or(Value::Nil);
    if ok {
        return Ok(Outcome::Value(v));
    }
    let Value::Table(t) = v else {
        return Ok(Outcome::Error {
            msg: format!("ERR {}", convert::display(lua, &v)),
            source: None,
            line: None,
        });
    };
    let msg = match t.get::<Value>("err")? {
        Value::String(s) => s.to_string_lossy(),
        _ => "ERR unknown error".to_string(),
    };
    let source = match t.get::<Value>("source")? {
        Value::String(s) => Some(s.to_string_lossy()),
        _ => None,
    };
    let line = match t.get::<Value>("line")? {
        Value::Integer(i) => Some(i),
        Value::Number(n) => Some(n as i64),
        _ => None,
    };
    Ok(Outcome::Error { msg, source, line })
}
