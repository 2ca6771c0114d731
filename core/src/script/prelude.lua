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
local error_reply = reply_of("err")
-- "-CODE message" or "message" (code ERR): the leading '-' dropped
redis.error_reply = function(...)
  local t = error_reply(...)
  local s = t.err
  if s:sub(1, 1) == "-" then s = s:sub(2) end
  if not s:find(" ", 1, true) then s = "ERR " .. s end
  t.err = s
  return t
end
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
globals.cmsgpack = protect(P.cmsgpack)
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

-- what unknown globals read from: `globals`, or while FUNCTION LOAD runs a
-- library, the library API (Redis swaps the globals' __index the same way,
-- so the library's functions see the full globals when they run)
local current = globals
-- a read-only table whose missing fields raise as unknown globals do
local function strict(p, read)
  setmetatable(p, {
    __index = function(_, k)
      local v = read()[k]
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = ro,
    __metatable = frozen,
  })
  return p
end
strict(env, function() return current end)

local handler = P.handler
local xpcall = G.xpcall
-- a function gets KEYS and ARGV as arguments (Lua 5.1's xpcall passes none)
local function run(f, ...)
  if select("#", ...) == 0 then return xpcall(f, handler) end
  local keys, argv = ...
  return xpcall(function() return f(keys, argv) end, handler)
end

-- The functions engine (a VM of its own): FUNCTION LOAD runs a library's
-- code with only `redis.register_function`, `redis.log`, the LOG_* and
-- version fields reachable; fields that do not exist raise, as globals do.
local lib = nil
if P.functions then
  local function strict_proxy(t)
    local p = {}
    real[p] = t
    return strict(p, function() return t end)
  end
  local known = {}
  for _, name in ipairs(P.function_flags) do known[name] = true end
  local registered = nil -- the list being filled while a library loads
  local function fail(msg) error({ err = "ERR " .. msg }, 0) end
  local function is_string(v) return type(v) == "string" or type(v) == "number" end
  local function read_flags(t)
    local out = {}
    local i = 1
    while true do
      local f = t[i]
      if f == nil then break end
      if not is_string(f) then return nil end
      f = string.lower(tostring(f))
      if not known[f] then return nil end
      out[#out + 1] = f
      i = i + 1
    end
    return out
  end
  local function register_function(...)
    if registered == nil then
      fail("redis.register_function can only be called on FUNCTION LOAD command")
    end
    local n = select("#", ...)
    if n < 1 or n > 2 then fail("wrong number of arguments to redis.register_function") end
    local entry
    if n == 1 then
      local t = ...
      if type(t) ~= "table" then
        fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
      end
      entry = { flags = {} }
      for k, v in next, seen(t) do
        if type(k) ~= "string" then
          fail("named argument key given to redis.register_function is not a string")
        end
        local key = string.lower(k)
        if key == "function_name" then
          if not is_string(v) then fail("function_name argument given to redis.register_function must be a string") end
          entry.name = tostring(v)
        elseif key == "description" then
          if not is_string(v) then fail("description argument given to redis.register_function must be a string") end
          entry.description = tostring(v)
        elseif key == "callback" then
          if type(v) ~= "function" then fail("callback argument given to redis.register_function must be a function") end
          entry.callback = v
        elseif key == "flags" then
          if type(v) ~= "table" then fail("flags argument to redis.register_function must be a table representing function flags") end
          entry.flags = read_flags(seen(v))
          if entry.flags == nil then fail("unknown flag given") end
        else
          fail("unknown argument given to redis.register_function")
        end
      end
      if entry.name == nil then fail("redis.register_function must get a function name argument") end
      if entry.callback == nil then fail("redis.register_function must get a callback argument") end
    else
      local name, callback = ...
      if not is_string(name) then fail("first argument to redis.register_function must be a string") end
      if type(callback) ~= "function" then fail("second argument to redis.register_function must be a function") end
      entry = { name = tostring(name), callback = callback, flags = {} }
    end
    -- checked as each function registers (Redis 7.2 words the name error
    -- as for libraries)
    if not entry.name:find("^[%w_]+$") then
      fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
    end
    for _, e in ipairs(registered) do
      if e.name == entry.name then fail("Function already exists in the library") end
    end
    registered[#registered + 1] = entry
  end
  local libredis = {
    register_function = register_function,
    log = redis.log,
    LOG_DEBUG = redis.LOG_DEBUG, LOG_VERBOSE = redis.LOG_VERBOSE,
    LOG_NOTICE = redis.LOG_NOTICE, LOG_WARNING = redis.LOG_WARNING,
    REDIS_VERSION = redis.REDIS_VERSION, REDIS_VERSION_NUM = redis.REDIS_VERSION_NUM,
  }
  local lib_globals = { redis = strict_proxy(libredis) }
  lib = {
    -- runs a compiled library chunk; returns xpcall's results and the
    -- functions it registered
    load = function(chunk)
      registered = {}
      current = lib_globals
      local res = { xpcall(chunk, handler) }
      current = globals
      local got = registered
      registered = nil
      return res[1], res[2], got
    end,
  }
end
return env, globals, run, redis, real, lib
