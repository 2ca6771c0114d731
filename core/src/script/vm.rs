//! The Lua VM: its sandbox (`prelude.lua`), the compiled scripts, and one run.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use hashbrown::HashMap;
use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic, VmState,
};

use super::{KILLED, Outcome, RunOpts, RunState, libs, outcome, script_call};
use crate::commands::Ctx;
use crate::reply::Reply;

/// Instructions between two checks for SCRIPT KILL (Redis's hook period).
const HOOK_PERIOD: u32 = 100_000;

pub(crate) struct Vm {
    lua: Lua,
    /// SHA1 (lowercase hex) → compiled script.
    pub funcs: HashMap<String, Function>,
    /// SHA1 → the script's shebang flags.
    pub flags: HashMap<String, u32>,
    /// The environment scripts run in, and the table it reads from.
    env: Table,
    globals: Table,
    /// `xpcall(f, handler)`, from the prelude.
    runner: Function,
    /// The real `redis` table: `call` and `pcall` are set for each run.
    redis: Table,
    /// `redis.setresp`: the protocol `redis.call` converts replies from.
    resp: Arc<AtomicU8>,
    /// The functions engine's library loader (`lib.load` in the prelude).
    lib_load: Option<Function>,
}

/// One `redis.register_function` call of a library being loaded.
pub(crate) struct Registered {
    pub name: String,
    pub description: Option<String>,
    pub flags: Vec<String>,
    pub callback: Function,
}

/// `redis.sha1hex`: the SHA1 of `data`, lowercase hex.
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

impl Vm {
    /// A VM for EVAL scripts, or (`functions`) for FUNCTION libraries.
    pub fn new(run: Arc<RunState>, functions: bool) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let resp = Arc::new(AtomicU8::new(2));
        let private = libs::private_table(&lua, resp.clone(), run.clone())?;
        if functions {
            private.raw_set("functions", true)?;
            private.raw_set(
                "function_flags",
                super::FLAG_NAMES
                    .iter()
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>(),
            )?;
        }
        let prelude = lua
            .load(include_str!("prelude.lua"))
            .set_name("=emberkv")
            .into_function()?;
        let (env, globals, runner, redis, real, lib): (
            Table,
            Table,
            Function,
            Table,
            Table,
            Option<Table>,
        ) = prelude.call((lua.globals(), private))?;
        let lib_load = match lib {
            Some(t) => Some(t.get::<Function>("load")?),
            None => None,
        };
        lua.set_named_registry_value(libs::PROXIES_KEY, real)?;
        lua.set_named_registry_value(libs::ENV_KEY, env.clone())?;
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_PERIOD),
            move |_, _| {
                if run.killed() {
                    return Err(mlua::Error::RuntimeError(KILLED.into()));
                }
                if run.load_timed_out() {
                    return Err(mlua::Error::RuntimeError(super::LOAD_TIMEOUT.into()));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Vm {
            lua,
            funcs: HashMap::new(),
            flags: HashMap::new(),
            env,
            globals,
            runner,
            redis,
            resp,
            lib_load,
        })
    }

    /// FUNCTION LOAD's run of a library body (the code after its `#!lua`
    /// line, that line's newline kept so line numbers match): what it
    /// registered, or Redis's error text.
    pub fn load_library(&self, body: &[u8]) -> Result<Vec<Registered>, String> {
        let load = self.lib_load.as_ref().ok_or("ERR not a functions VM")?;
        let chunk = self
            .chunk(body, "@user_function")
            .map_err(|msg| format!("ERR Error compiling function: {msg}"))?;
        let (ok, err, got): (bool, Value, Table) = load
            .call(chunk)
            .map_err(|e| format!("ERR Error registering functions: {e}"))?;
        if !ok {
            let msg = match outcome(
                &self.lua,
                MultiValue::from_vec(vec![Value::Boolean(false), err]),
            ) {
                Ok(Outcome::Error { msg, .. }) => msg,
                _ => "ERR unknown error".to_string(),
            };
            return Err(format!("ERR Error registering functions: {msg}"));
        }
        let text = |v: Value| match v {
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        };
        let mut out = Vec::new();
        for entry in got.sequence_values::<Table>() {
            let entry = entry.map_err(|e| format!("ERR {e}"))?;
            let flags: Table = entry.get("flags").map_err(|e| format!("ERR {e}"))?;
            out.push(Registered {
                name: text(entry.get("name").unwrap_or(Value::Nil)).unwrap_or_default(),
                description: text(entry.get("description").unwrap_or(Value::Nil)),
                flags: flags
                    .sequence_values::<String>()
                    .filter_map(Result::ok)
                    .collect(),
                callback: entry.get("callback").map_err(|e| format!("ERR {e}"))?,
            });
        }
        Ok(out)
    }

    /// The protocol the script chose with `redis.setresp` (2 by default).
    pub fn script_resp(&self) -> u8 {
        self.resp.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compiles a script body as the chunk `@user_script`, in the sandbox.
    pub fn compile(&self, body: &[u8]) -> Result<Function, Reply> {
        self.chunk(body, "@user_script").map_err(|msg| {
            Reply::Error(super::sanitize(format!(
                "ERR Error compiling script (new function): {msg}"
            )))
        })
    }

    /// Compiles `body` as the chunk `name`, in the sandbox; the error is
    /// Lua's message.
    fn chunk(&self, body: &[u8], name: &str) -> Result<Function, String> {
        self.lua
            .load(body)
            .set_name(name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                e => e.to_string(),
            })
    }

    /// Runs `f` with KEYS and ARGV set; `redis.call` runs inside `ctx`.
    pub fn run(
        &mut self,
        ctx: &mut Ctx,
        f: &Function,
        keys: &[&[u8]],
        args: &[&[u8]],
        opts: &RunOpts,
        as_function: bool,
    ) -> mlua::Result<Outcome> {
        let lua = &self.lua;
        self.resp.store(2, Ordering::Relaxed);
        let seq = |items: &[&[u8]]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, a) in items.iter().enumerate() {
                t.raw_seti(i + 1, lua.create_string(a)?)?;
            }
            Ok(t)
        };
        let (keys, args) = (seq(keys)?, seq(args)?);
        if !as_function {
            self.globals.raw_set("KEYS", keys.clone())?;
            self.globals.raw_set("ARGV", args.clone())?;
        }
        let resp = &self.resp;
        let runner = &self.runner;
        // both functions run commands in the one Ctx, never at the same time
        let ctx = RefCell::new(ctx);
        lua.scope(|scope| {
            let call = scope.create_function(|lua, args: Variadic<Value>| {
                let r = resp.load(Ordering::Relaxed);
                match script_call(&mut ctx.borrow_mut(), lua, r, opts, args)? {
                    Ok(v) => Ok(v),
                    // raised as Redis raises it: the error reply's text
                    Err(e) if e.counted => libs::raise_counted(e.msg),
                    Err(e) => libs::raise(e.msg),
                }
            })?;
            let pcall = scope.create_function(|lua, args: Variadic<Value>| {
                let r = resp.load(Ordering::Relaxed);
                match script_call(&mut ctx.borrow_mut(), lua, r, opts, args)? {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", e.msg)?;
                        if e.counted {
                            t.raw_set(libs::COUNTED_FIELD, true)?;
                        }
                        Ok(Value::Table(t))
                    }
                }
            })?;
            let acl_check = scope.create_function(|_, args: Variadic<Value>| {
                let ctx = ctx.borrow();
                super::acl_check_cmd(ctx.eng, ctx.cl, &args)
            })?;
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)?;
            self.redis.raw_set("acl_check_cmd", acl_check)?;
            let res = if as_function {
                runner.call::<MultiValue>((f.clone(), keys, args))
            } else {
                runner.call::<MultiValue>(f.clone())
            };
            outcome(lua, res?)
        })
    }
}
