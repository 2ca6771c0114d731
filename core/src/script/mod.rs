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
//! FUNCTION libraries (`function.rs`) run in a second VM of the same
//! sandbox; FCALL runs a function exactly as EVAL runs a script
//! (`run_script`). Flags (`#!lua flags=…`, `register_function{flags=…}`)
//! are checked before a run as Redis's scriptPrepareForRun does (`prepare`);
//! a script without a shebang keeps Redis 6's rules.
//!
//! Differences from Redis 7.2, known and left: no `struct` library; SCRIPT
//! DEBUG YES/SYNC refused (no debugger); `redis.log` drops its message and
//! `redis.set_repl` is accepted without effect (every write is logged);
//! SCRIPT KILL works at once, where Redis waits for the threshold; a command
//! already waiting for the shard locks when the threshold passes waits for
//! the script instead of getting -BUSY; globals
//! are read-only through proxy tables (stock Lua 5.1 has no read-only
//! tables), so C functions that write raw (`table.insert(redis, x)`) reach
//! the proxy, and what they write stays visible to later scripts; FUNCTION
//! LIST lists libraries by name (Redis: hash order).

mod bit;
mod cjson;
mod cmsgpack;
mod convert;
pub(crate) mod function;
mod libs;
mod vm;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
/// The same, while a function runs.
pub(crate) const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";
const LOAD_TIMEOUT: &str = "FUNCTION LOAD timeout";
/// How long FUNCTION LOAD may run a library's code (Redis's 500 ms).
const LOAD_TIMEOUT_AFTER: Duration = Duration::from_millis(500);

/// Script flags (`#!lua flags=…`, `redis.register_function{flags=…}`).
pub(crate) mod sflag {
    pub const NO_WRITES: u32 = 1 << 0;
    pub const ALLOW_OOM: u32 = 1 << 1;
    pub const ALLOW_STALE: u32 = 1 << 2;
    pub const NO_CLUSTER: u32 = 1 << 3;
    pub const ALLOW_CROSS_SLOT: u32 = 1 << 4;
    /// A script without a shebang: Redis 6's rules (writes checked per
    /// command, never refused up front).
    pub const EVAL_COMPAT: u32 = 1 << 5;
}

/// The flags' names, in Redis's order (FUNCTION LIST lists them so).
pub(crate) const FLAG_NAMES: &[(u32, &str)] = &[
    (sflag::NO_WRITES, "no-writes"),
    (sflag::ALLOW_OOM, "allow-oom"),
    (sflag::ALLOW_STALE, "allow-stale"),
    (sflag::NO_CLUSTER, "no-cluster"),
    (sflag::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

pub(crate) fn flag_of(name: &str) -> Option<u32> {
    FLAG_NAMES
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
        .map(|(f, _)| *f)
}

/// The script running now, seen by other threads.
#[derive(Default)]
pub(crate) struct RunState {
    running: AtomicBool,
    /// Milliseconds since the engine started, when the script started.
    started_ms: AtomicU64,
    /// A write command changed something: SCRIPT KILL refuses.
    wrote: AtomicBool,
    kill: AtomicBool,
    /// The running script is a function (FCALL): FUNCTION KILL stops it,
    /// SCRIPT KILL does not.
    function: AtomicBool,
    /// The running function's name and command, for FUNCTION STATS.
    current: Mutex<Option<(String, Vec<Vec<u8>>)>>,
    /// When FUNCTION LOAD started running a library's code.
    load_started: Mutex<Option<Instant>>,
}

impl RunState {
    pub fn killed(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    fn load_timed_out(&self) -> bool {
        self.load_started
            .lock()
            .is_some_and(|t| t.elapsed() > LOAD_TIMEOUT_AFTER)
    }

    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Acquire)
    }

    pub fn running_function(&self) -> bool {
        self.is_running() && self.function.load(Ordering::Acquire)
    }

    /// The running function: its name, command and milliseconds so far.
    pub fn current(&self, eng: &Engine) -> Option<(String, Vec<Vec<u8>>, u64)> {
        let (name, argv) = self.current.lock().clone()?;
        let now = eng.started.elapsed().as_millis() as u64;
        Some((
            name,
            argv,
            now.saturating_sub(self.started_ms.load(Ordering::Relaxed)),
        ))
    }
}

/// The engine's scripting state.
#[derive(Default)]
pub(crate) struct Scripts {
    vm: Mutex<Option<vm::Vm>>,
    /// FUNCTION libraries, in a VM of their own (SCRIPT FLUSH keeps them).
    pub functions: Mutex<function::Functions>,
    /// Libraries and functions loaded, readable while a function runs.
    pub counts: Mutex<(usize, usize)>,
    /// The libraries' sources, for snapshots and AOF rewrites (which must
    /// not wait for a running function).
    codes: Mutex<Vec<Vec<u8>>>,
    /// Scripts in the EVAL cache (INFO, without the VM's lock).
    cached: std::sync::atomic::AtomicUsize,
    pub run: Arc<RunState>,
    /// SHA1s of cached scripts whose shebang declares `no-writes` (CLIENT
    /// PAUSE WRITE lets them run).
    no_writes: Mutex<std::collections::HashSet<String>>,
}

impl Scripts {
    /// Whether a script is running: true only for commands the script
    /// itself calls, since it holds every shard lock while it runs.
    pub(crate) fn in_script(&self) -> bool {
        self.run.running.load(Ordering::Acquire)
    }

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

    /// The `-BUSY` refusal: it names FUNCTION KILL while a function runs.
    pub fn busy_error(&self) -> &'static str {
        if self.run.function.load(Ordering::Acquire) {
            BUSY_FUNCTION
        } else {
            BUSY
        }
    }

    /// After any change of the function libraries: what FUNCTION STATS,
    /// snapshots and AOF rewrites read.
    pub fn functions_changed(&self, reg: &function::Functions) {
        *self.counts.lock() = reg.counts();
        *self.codes.lock() = reg.codes();
    }

    /// The function libraries' sources (`#!lua name=…` included).
    pub fn library_codes(&self) -> Vec<Vec<u8>> {
        self.codes.lock().clone()
    }

    /// Loads a library found in an RDB file (replacing one of its name, as
    /// Redis's loader does): the library's name, or the error text.
    pub fn load_library(&self, code: &[u8]) -> Result<String, String> {
        let mut reg = self.functions.lock();
        let r = reg.load(code, true, &self.run);
        self.functions_changed(&reg);
        r
    }

    /// INFO memory: scripts cached, functions and libraries loaded.
    pub fn info_counts(&self) -> (usize, usize, usize) {
        let (libs, funcs) = *self.counts.lock();
        (self.cached.load(Ordering::Relaxed), funcs, libs)
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
        self.cached.store(0, Ordering::Relaxed);
        drop(old);
    }

    /// SCRIPT KILL (`function`: FUNCTION KILL).
    pub fn kill(&self, function: bool) -> Reply {
        let run = &self.run;
        if !run.running.load(Ordering::Acquire) {
            return Reply::error("NOTBUSY No scripts in execution right now.");
        }
        if run.wrote.load(Ordering::Acquire) {
            return Reply::error(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
            );
        }
        match (function, run.function.load(Ordering::Acquire)) {
            (false, true) => return Reply::error(BUSY_FUNCTION),
            (true, false) => return Reply::error(BUSY),
            _ => {}
        }
        run.kill.store(true, Ordering::Release);
        Reply::ok()
    }

    fn compile(&self, vm: &mut vm::Vm, sha: &str, body: &[u8]) -> Result<Function, Reply> {
        if let Some(f) = vm.funcs.get(sha) {
            return Ok(f.clone());
        }
        let flags = shebang_flags(body)?;
        // the shebang line is not Lua: compiled without it, its newline
        // kept so that line numbers stay the script's
        let code = if flags & sflag::EVAL_COMPAT == 0 {
            &body[body.iter().position(|&c| c == b'\n').unwrap_or(body.len())..]
        } else {
            body
        };
        let f = vm.compile(code)?;
        vm.funcs.insert(sha.to_string(), f.clone());
        vm.flags.insert(sha.to_string(), flags);
        if flags & sflag::NO_WRITES != 0 {
            self.no_writes.lock().insert(sha.to_string());
        }
        self.cached.store(vm.funcs.len(), Ordering::Relaxed);
        Ok(f)
    }
}

fn vm_of<'g>(guard: &'g mut Option<vm::Vm>, run: &Arc<RunState>) -> Result<&'g mut vm::Vm, Reply> {
    if guard.is_none() {
        let vm = vm::Vm::new(run.clone(), false).map_err(|e| Reply::Error(format!("ERR {e}")))?;
        *guard = Some(vm);
    }
    Ok(guard.as_mut().expect("just set"))
}

/// Settings of one run that the script's functions change or read.
pub(crate) struct RunOpts {
    /// `#!lua flags=no-writes`, EVAL_RO or FCALL_RO.
    pub read_only: bool,
    /// `allow-oom`: writes run over maxmemory.
    pub allow_oom: bool,
}

/// The `#!lua flags=…` line of an EVAL script: its flags, or Redis's
/// error. A script without one runs in compatibility mode.
pub(crate) fn shebang_flags(body: &[u8]) -> Result<u32, Reply> {
    if !body.starts_with(b"#!") {
        return Ok(sflag::EVAL_COMPAT);
    }
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("#!");
    if engine != "#!lua" {
        return Err(Reply::Error(format!(
            "ERR Unexpected engine in script shebang: {engine}"
        )));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(Reply::Error(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            match FLAG_NAMES.iter().find(|(_, n)| *n == f) {
                Some((bit, _)) => flags |= bit,
                None => {
                    return Err(Reply::Error(format!(
                        "ERR Unexpected flag in script shebang: {f}"
                    )));
                }
            }
        }
    }
    Ok(flags)
}

/// Redis's checks before a script with flags (a shebang, or a function)
/// runs: the options of the run, or the error that refuses it.
pub(crate) fn prepare(ctx: &Ctx, flags: u32, ro_command: bool) -> Result<RunOpts, Reply> {
    let eng = ctx.eng;
    if flags & sflag::EVAL_COMPAT != 0 {
        return Ok(RunOpts {
            read_only: ro_command,
            allow_oom: false,
        });
    }
    let writes = flags & sflag::NO_WRITES == 0;
    if writes
        && flags & sflag::ALLOW_OOM == 0
        && ctx.cl.oom_at_start
        && eng.params.tun(crate::config::Tun::Maxmemory) != 0
    {
        return Err(Reply::error(crate::evict::OOM));
    }
    if writes {
        if ro_command {
            return Err(Reply::error(
                "ERR Can not execute a script with write flag using *_ro command.",
            ));
        }
        if let Some(r) = eng.aof.write_denied().or_else(|| eng.rdb.write_denied(eng)) {
            return Err(r);
        }
    }
    Ok(RunOpts {
        read_only: !writes || ro_command,
        allow_oom: flags & sflag::ALLOW_OOM != 0,
    })
}

/// Runs a script inside `ctx`, which holds every shard write-locked.
/// `ro_command`: EVAL_RO / EVALSHA_RO.
pub(crate) fn eval(
    ctx: &mut Ctx,
    src: Source<'_>,
    keys: &[&[u8]],
    args: &[&[u8]],
    ro_command: bool,
) -> Reply {
    let eng = ctx.eng;
    let scripts = &eng.scripts;
    let mut guard = scripts.vm.lock();
    let vm = match vm_of(&mut guard, &scripts.run) {
        Ok(vm) => vm,
        Err(e) => return e,
    };
    let (sha, f, flags) = match src {
        Source::Body(body) => {
            let sha = sha1_hex(body);
            match scripts.compile(vm, &sha, body) {
                Ok(f) => {
                    let flags = vm.flags.get(&sha).copied().unwrap_or(sflag::EVAL_COMPAT);
                    (sha, f, flags)
                }
                Err(e) => return e,
            }
        }
        Source::Sha(sha) => {
            let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
            match vm.funcs.get(&sha) {
                Some(f) => {
                    let flags = vm.flags.get(&sha).copied().unwrap_or(sflag::EVAL_COMPAT);
                    (sha, f.clone(), flags)
                }
                None => return Reply::error(NOSCRIPT),
            }
        }
    };
    let opts = match prepare(ctx, flags, ro_command) {
        Ok(o) => o,
        Err(e) => return e,
    };
    run_script(ctx, vm, &f, &sha, keys, args, opts, None)
}

/// Runs a compiled script or function `f` (`function`: its name and
/// command, for FUNCTION STATS) inside `ctx`; `label` names it in errors.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_script(
    ctx: &mut Ctx,
    vm: &mut vm::Vm,
    f: &Function,
    label: &str,
    keys: &[&[u8]],
    args: &[&[u8]],
    opts: RunOpts,
    function: Option<&[&[u8]]>,
) -> Reply {
    let eng = ctx.eng;
    let scripts = &eng.scripts;
    let sha = label;

    // the script's own view: RESP2 replies, its own SELECT, no blocking
    let saved = (
        ctx.db,
        ctx.cl.db,
        ctx.cl.resp,
        ctx.no_block,
        ctx.cl.fx.aof.batch,
    );
    let own_deferred = ctx.deferred_ready.is_none();
    if own_deferred {
        ctx.deferred_ready = Some(Vec::new());
    }
    ctx.cl.fx.aof.batch = true;
    ctx.no_block = true;
    ctx.cl.resp = 2;
    let run = &scripts.run;
    run.wrote.store(false, Ordering::Relaxed);
    run.kill.store(false, Ordering::Relaxed);
    run.started_ms
        .store(eng.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    if let Some(argv) = function {
        *run.current.lock() = Some((label.to_string(), argv.iter().map(|a| a.to_vec()).collect()));
    }
    run.function.store(function.is_some(), Ordering::Release);
    run.running.store(true, Ordering::Release);

    let client_resp = saved.2;
    let outcome = vm.run(ctx, f, keys, args, &opts, function.is_some());
    let script_resp = vm.script_resp();

    run.running.store(false, Ordering::Release);
    if function.is_some() {
        *run.current.lock() = None;
    }
    let killed = run.kill.swap(false, Ordering::AcqRel);
    let (db, cl_db, resp, no_block, batch) = saved;
    if ctx.cl.db != cl_db {
        ctx.cl.sync_meta(|m| m.db = cl_db);
    }
    ctx.db = db;
    ctx.cl.db = cl_db;
    ctx.cl.resp = resp;
    ctx.no_block = no_block;
    ctx.cl.fx.aof.batch = batch;
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

    // an error a `redis.call` raised (or a `redis.pcall` error returned) was
    // counted in errorstats when the command failed: not again (Redis 7)
    ctx.cl.error_counted = !killed
        && match &outcome {
            Ok(Outcome::Error { counted, .. }) => *counted,
            Ok(Outcome::Value(Value::Table(t))) => {
                t.raw_get::<bool>(libs::COUNTED_FIELD).unwrap_or(false)
                    && matches!(t.raw_get::<Value>("err"), Ok(Value::String(_)))
            }
            _ => false,
        };
    match outcome {
        Ok(Outcome::Value(v)) if script_resp == 3 => convert::from_lua(&v, client_resp, 0),
        // a RESP2 script's booleans answer 1 and null, also to a RESP3 client
        Ok(Outcome::Value(v)) => convert::resp2_booleans(convert::from_lua(&v, client_resp, 0)),
        Ok(Outcome::Error {
            msg, source, line, ..
        }) => {
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
        /// Already counted in INFO errorstats (see `CallError`).
        counted: bool,
    },
}

/// A `redis.call` / `redis.pcall` error: the error reply's text, and
/// whether INFO errorstats counted it already (a command that failed, or
/// one refused as Redis's `scriptCall` refuses it): the script's own error
/// reply then does not count it again.
pub(crate) struct CallError {
    pub msg: String,
    pub counted: bool,
}

impl From<&str> for CallError {
    fn from(msg: &str) -> CallError {
        CallError {
            msg: msg.to_string(),
            counted: false,
        }
    }
}

/// A command the script may not run, refused as Redis refuses it: counted
/// in errorstats and, when the command is known, in its `rejected_calls`.
fn refused(ctx: &mut Ctx, spec: Option<&'static commands::CommandSpec>, msg: String) -> CallError {
    let r = Reply::Error(msg);
    ctx.cl
        .note_refused(ctx.eng, spec.map(crate::cmdstats::index_of), &r);
    let Reply::Error(msg) = r else { unreachable!() };
    CallError { msg, counted: true }
}

const ARGS_ERR: &str = "ERR Lua redis lib command arguments must be strings or integers";
const NO_ARGS_ERR: &str = "ERR Please specify at least one argument for this redis lib call";

/// A redis lib call's arguments as bytes; `None` if one is neither a string
/// nor a number.
fn lua_args(args: &Variadic<Value>) -> Option<Vec<Vec<u8>>> {
    args.iter()
        .map(|a| match a {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Integer(i) => Some(i.to_string().into_bytes()),
            Value::Number(n) => Some(convert::lua_number_text(*n).into_bytes()),
            _ => None,
        })
        .collect()
}

/// `redis.acl_check_cmd(command, arg...)`: whether the script's user may
/// run that command with those arguments.
pub(crate) fn acl_check_cmd(
    eng: &crate::db::Engine,
    cl: &crate::client::ClientState,
    args: &Variadic<Value>,
) -> mlua::Result<bool> {
    if args.is_empty() {
        return libs::raise(NO_ARGS_ERR);
    }
    let Some(argv) = lua_args(args) else {
        return libs::raise(ARGS_ERR);
    };
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    match commands::resolve(&refs) {
        Ok(spec) => Ok(crate::acl::allowed(eng, cl, spec, &refs)),
        Err(_) if commands::named_command(&refs).is_some() => {
            libs::raise("ERR Invalid number of arguments passed to redis.acl_check_cmd()")
        }
        Err(_) => libs::raise("ERR Invalid command passed to redis.acl_check_cmd()"),
    }
}

/// `redis.call` / `redis.pcall`: runs one command for the script. `Err` is
/// the error (raised by `redis.call`, returned by `redis.pcall`).
pub(crate) fn script_call(
    ctx: &mut Ctx,
    lua: &mlua::Lua,
    resp: u8,
    opts: &RunOpts,
    args: Variadic<Value>,
) -> Result<Result<Value, CallError>, mlua::Error> {
    let eng = ctx.eng;
    if eng.scripts.run.killed() {
        return Err(mlua::Error::RuntimeError(KILLED.into()));
    }
    if args.is_empty() {
        return Ok(Err(NO_ARGS_ERR.into()));
    }
    let Some(argv) = lua_args(&args) else {
        return Ok(Err(ARGS_ERR.into()));
    };
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let spec = match commands::resolve(&refs) {
        Ok(s) => s,
        Err(e) => {
            let unknown = commands::find_command(refs[0]).is_none()
                || e.as_error().is_some_and(|m| m.starts_with("ERR unknown"));
            return Ok(Err(if unknown {
                refused(
                    ctx,
                    None,
                    "ERR Unknown Redis command called from script".into(),
                )
            } else {
                let spec = commands::named_command(&refs);
                refused(
                    ctx,
                    spec,
                    "ERR Wrong number of args calling Redis command from script".into(),
                )
            }));
        }
    };
    if spec.flags & flag::NOSCRIPT != 0 {
        return Ok(Err(refused(
            ctx,
            Some(spec),
            "ERR This Redis command is not allowed from script".into(),
        )));
    }
    if let Some(msg) = crate::acl::check(eng, ctx.cl, spec, &refs, "lua") {
        return Ok(Err(refused(ctx, Some(spec), msg)));
    }
    if matches!(spec.name, "xread" | "xreadgroup")
        && refs[1..]
            .iter()
            .take_while(|a| !a.eq_ignore_ascii_case(b"streams"))
            .any(|a| a.eq_ignore_ascii_case(b"block"))
    {
        // Redis's XREAD refuses this itself: a failed call, not a rejected one
        let msg = format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            spec.name
        );
        let idx = crate::cmdstats::index_of(spec);
        ctx.cl.note_call(0, 0, true);
        ctx.cl.cmd_stats.call(idx, None, true);
        eng.cmdstats.error_reply(&msg);
        return Ok(Err(CallError { msg, counted: true }));
    }
    // PUBLISH & co. replicate: a read-only script may not call them either
    if spec.is_write()
        || (opts.read_only && matches!(spec.name, "publish" | "spublish" | "pfcount"))
    {
        if opts.read_only {
            return Ok(Err(refused(
                ctx,
                Some(spec),
                "ERR Write commands are not allowed from read-only scripts.".into(),
            )));
        }
        if let Some(r) = eng.aof.write_denied().or_else(|| eng.rdb.write_denied(eng)) {
            let msg = r.as_error().unwrap_or("ERR").to_string();
            return Ok(Err(refused(ctx, Some(spec), msg)));
        }
    }
    // as Redis: over maxmemory when the script started, its first write may
    // not be one that grows memory (later ones must run: no half scripts)
    if spec.flags & flag::DENYOOM != 0
        && !opts.allow_oom
        && ctx.cl.oom_at_start
        && eng.params.tun(crate::config::Tun::Maxmemory) != 0
        && !eng.scripts.run.wrote.load(Ordering::Acquire)
    {
        return Ok(Err(refused(ctx, Some(spec), crate::evict::OOM.into())));
    }
    let reply = commands::call(ctx, spec, &refs);
    if spec.is_write() && ctx.dirty > 0 {
        eng.scripts.run.wrote.store(true, Ordering::Release);
    }
    if let Reply::Error(msg) = reply {
        // counted by `call` as the command's error
        return Ok(Err(CallError { msg, counted: true }));
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
            counted: false,
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
    let counted = t.raw_get::<bool>(libs::COUNTED_FIELD).unwrap_or(false);
    Ok(Outcome::Error {
        msg,
        source,
        line,
        counted,
    })
}
