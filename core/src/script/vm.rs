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
    /// The environment scripts run in, and the table it reads from.
    env: Table,
    globals: Table,
    /// `xpcall(f, handler)`, from the prelude.
    runner: Function,
    /// The real `redis` table: `call` and `pcall` are set for each run.
    redis: Table,
    /// `redis.setresp`: the protocol `redis.call` converts replies from.
    resp: Arc<AtomicU8>,
}

/// `redis.sha1hex`: the SHA1 of `data`, lowercase hex.
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

impl Vm {
    pub fn new(run: Arc<RunState>) -> mlua::Result<Vm> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let resp = Arc::new(AtomicU8::new(2));
        let private = libs::private_table(&lua, resp.clone(), run.clone())?;
        let prelude = lua
            .load(include_str!("prelude.lua"))
            .set_name("=emberkv")
            .into_function()?;
        let (env, globals, runner, redis, real): (Table, Table, Function, Table, Table) =
            prelude.call((lua.globals(), private))?;
        lua.set_named_registry_value(libs::PROXIES_KEY, real)?;
        lua.set_named_registry_value(libs::ENV_KEY, env.clone())?;
        lua.set_global_hook(
            HookTriggers::new().every_nth_instruction(HOOK_PERIOD),
            move |_, _| {
                if run.killed() {
                    return Err(mlua::Error::RuntimeError(KILLED.into()));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Vm {
            lua,
            funcs: HashMap::new(),
            env,
            globals,
            runner,
            redis,
            resp,
        })
    }

    /// The protocol the script chose with `redis.setresp` (2 by default).
    pub fn script_resp(&self) -> u8 {
        self.resp.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Compiles a script body as the chunk `@user_script`, in the sandbox.
    pub fn compile(&self, body: &[u8]) -> Result<Function, Reply> {
        self.lua
            .load(body)
            .set_name("@user_script")
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                let msg = match &e {
                    mlua::Error::SyntaxError { message, .. } => message.clone(),
                    e => e.to_string(),
                };
                Reply::Error(super::sanitize(format!(
                    "ERR Error compiling script (new function): {msg}"
                )))
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
        self.globals.raw_set("KEYS", seq(keys)?)?;
        self.globals.raw_set("ARGV", seq(args)?)?;
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
                    Err(msg) => libs::raise(msg),
                }
            })?;
            let pcall = scope.create_function(|lua, args: Variadic<Value>| {
                let r = resp.load(Ordering::Relaxed);
                match script_call(&mut ctx.borrow_mut(), lua, r, opts, args)? {
                    Ok(v) => Ok(v),
                    Err(msg) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", msg)?;
                        Ok(Value::Table(t))
                    }
                }
            })?;
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)?;
            let res = runner.call::<MultiValue>(f.clone());
            outcome(lua, res?)
        })
    }
}
