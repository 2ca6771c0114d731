-- The scripting sandbox, run once per VM as the chunk "=emberkv" (frames of
-- this chunk are skipped when an error's position is reported).
-- Receives the VM's globals G and the private table P (Rust functions);
-- returns the environment scripts run in, the table that environment
-- reads its globals from (KEYS and ARGV are stored there per run), the
-- runner, and the real `redis` table (call/pcall are set there per run).
local G, P = ...
local rawset, rawget, next, pairs, ipairs = G.rawset, G.rawget, G.next, G.pairs, G.ipairs
local setmetatable, type, error, tostring = G.setmetatable, G.type, G.error, G.tostring
local select = G.select

-- Redis makes every global table read-only; stock Lua 5.1 cannot, so each
-- is replaced by an empty proxy reading through to it. `real` maps each
-- proxy back to its table, for the builtins that must see through.
local real = setmetatable({}, { __mode = "k" })
local function ro() error("Attempt to modify a readonly table", 2) end
local frozen = {}
real[frozen] = {}
setmetatable(frozen, { __index = real[frozen], __newindex = ro, __metatable = frozen })
local function protect(t)
  local p = {}
  real[p] = t
  setmetatable(p, { __index = t, __newindex = ro, __metatable = frozen })
  return p
end

-- Rust functions (P.*) raise their errors themselves; they stay C
-- functions so that a failing `return redis.call(...)` keeps the script's
-- frame (a tail call into a Lua wrapper would lose its line).
local redis = {}
-- redis.error_reply / redis.status_reply: {err=…} / {ok=…}
local function reply_of(field)
  return function(...)
    local s = ...
    if select("#", ...) ~= 1 or type(s) ~= "string" then
      error({ err = "ERR wrong number or type of arguments" }, 0)
    end
    return { [field] = s }
  end
end
redis.error_reply = reply_of("err")
redis.status_reply = reply_of("ok")
for k, v in pairs(P.redis) do redis[k] = v end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = P.version
redis.REDIS_VERSION_NUM = P.version_num

local math = {}
for k, v in pairs(G.math) do math[k] = v end
math.random, math.randomseed = P.math.random, P.math.randomseed

-- the globals scripts see (Redis's allow list; getfenv/setfenv, debug,
-- print, dofile and loadfile are absent as in Redis 7)
local env = {}
local globals = {}
for _, name in ipairs({ "xpcall", "tostring", "next", "assert", "tonumber", "rawequal",
  "collectgarbage", "getmetatable", "pcall", "type", "select", "unpack", "gcinfo", "pairs",
  "ipairs", "error", "newproxy", "_VERSION" }) do
  globals[name] = G[name]
end
globals.string = protect(G.string)
globals.table = protect(G.table)
globals.coroutine = protect(G.coroutine)
globals.math = protect(math)
globals.redis = protect(redis)
globals.cjson = protect(P.cjson)
globals.bit = protect(P.bit)
globals._G = env
real[env] = globals

local function seen(t) return real[t] or t end
-- C functions (a tail call into a Lua wrapper would lose the script's line)
globals.rawset = P.guard.rawset
globals.setmetatable = P.guard.setmetatable
globals.rawget = function(t, k) return rawget(seen(t), k) end
globals.next = function(t, k) return next(seen(t), k) end
globals.pairs = function(t) return pairs(seen(t)) end
globals.ipairs = function(t) return ipairs(seen(t)) end
-- a Rust function's error caught by pcall reads as in Redis: its message,
-- never mlua's wrapped error
local pcall, as_lua = G.pcall, P.as_lua_error
local function caught(ok, ...)
  if ok then return ok, ... end
  return false, as_lua((...))
end
globals.pcall = function(f, ...) return caught(pcall(f, ...)) end
globals.loadstring = P.load.loadstring
globals.load = P.load.load

-- strings' metatable reads the protected string table
local smt = G.getmetatable("")
smt.__index = globals.string
smt.__metatable = frozen

setmetatable(env, {
  __index = function(_, k)
    local v = globals[k]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = ro,
  __metatable = frozen,
})

local handler = P.handler
local xpcall = G.xpcall
local function run(f) return xpcall(f, handler) end
return env, globals, run, redis, real
