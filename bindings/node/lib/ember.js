// The synchronous, ioredis-shaped client. Commands run in-process and return
// their reply directly; blocking commands (BLPOP, …, XREAD BLOCK) return
// Promises and run off the JS thread. lib/promises.js wraps this class so every
// method returns a Promise (porting from ioredis = changing the import).
'use strict'
const { EventEmitter } = require('node:events')
const { Readable } = require('node:stream')
const native = require('./native')
const { ReplyError } = require('./errors')
const table = require('./commands')

/** Reply flags understood by the native side. */
const BUF = 1
const STRNUM = 2
const SCRATCH = 4

// Bulk replies of *Buffer methods come back through this Buffer (u32 LE length,
// then the bytes) and are copied into a pooled Buffer: far cheaper than a fresh
// native Buffer per reply. Larger ones come as Buffers directly.
const scratch = Buffer.allocUnsafeSlow(64 * 1024)
native.init(ReplyError, scratch)
const { run, runBlocking, runBatch } = native

function fromScratch () {
  const n = scratch.readUInt32LE(0)
  const b = Buffer.allocUnsafe(n)
  scratch.copy(b, 0, 4, 4 + n)
  return b
}

/** Commands that may block: they always return a Promise. */
const BLOCKING = new Set(table.blocking)
/** Commands that block only with a BLOCK option. */
const BLOCK_OPTION = new Set(['xread', 'xreadgroup'])
/** Commands with their own method (not generated). */
const SPECIAL = new Set([
  'multi', 'monitor', 'quit', 'subscribe', 'psubscribe', 'ssubscribe',
  'unsubscribe', 'punsubscribe', 'sunsubscribe'
])

/** ioredis connection options with no meaning in-process: accepted and ignored. */
const IGNORED_OPTIONS = new Set([
  'host', 'port', 'family', 'path', 'socket', 'tls', 'username', 'password', 'sentinels', 'name', 'role',
  'lazyConnect', 'keepAlive', 'noDelay', 'connectTimeout', 'commandTimeout', 'socketTimeout',
  'retryStrategy', 'reconnectOnError', 'maxRetriesPerRequest', 'enableReadyCheck', 'enableOfflineQueue',
  'autoResubscribe', 'autoResendUnfulfilledCommands', 'enableAutoPipelining', 'autoPipeliningIgnoredCommands',
  'showFriendlyErrorStack', 'readOnly', 'maxLoadingRetryTime', 'offlineQueue', 'disconnectTimeout',
  'Connector', 'scripts', 'monitor', 'stringNumbers', 'db', 'connectionName', 'keyPrefix', 'sentinelPassword',
  'url'
])

/**
 * A listener serving an engine on Redis's protocol (`db.listen(url)`): other
 * processes attach with `Ember.fromUrl(url)`, ioredis, redis-cli, ...
 * Open until `close()` or until its engine closes.
 */
class Listener {
  constructor (lh) {
    this._lh = lh
    /** The bound address as a URL (the real port when 0 was asked for). */
    this.address = native.listenerInfo(lh)[0]
  }

  /** Whether it was closed (by close() or with its engine). */
  get closed () {
    return this._lh === null || native.listenerInfo(this._lh)[1] === 1
  }

  /** Stops accepting and closes every connection it serves. Idempotent. */
  close () {
    if (this._lh === null) return
    native.listenerClose(this._lh, true)
    this._lh = null
  }
}

// ---- argument and reply transformers (ioredis's built-in ones) -------------

function isMapLike (v) {
  return v instanceof Map || (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v))
}

function flattenObject (v) {
  const out = []
  if (v instanceof Map) {
    for (const [k, val] of v) out.push(k, val)
  } else {
    for (const k of Object.keys(v)) out.push(k, v[k])
  }
  return out
}

const ARG_TRANSFORMERS = {
  // mset({ a: 1, b: 2 }), mset(new Map(...))
  mset: (args) => (args.length === 1 && isMapLike(args[0]) ? flattenObject(args[0]) : args),
  // hset('h', { f: 'v' }), hmset('h', new Map(...))
  hset: (args) => (args.length === 2 && isMapLike(args[1]) ? [args[0], ...flattenObject(args[1])] : args)
}
ARG_TRANSFORMERS.msetnx = ARG_TRANSFORMERS.mset
ARG_TRANSFORMERS.hmset = ARG_TRANSFORMERS.hset

/** HGETALL's flat [field, value, …] as an object (ioredis: safe for '__proto__'). */
function toObject (result) {
  if (!Array.isArray(result)) return result
  const obj = {}
  for (let i = 0; i < result.length; i += 2) {
    const key = result[i]
    const value = result[i + 1]
    if (key in obj) {
      Object.defineProperty(obj, key, { value, configurable: true, enumerable: true, writable: true })
    } else {
      obj[key] = value
    }
  }
  return obj
}

const REPLY_TRANSFORMERS = { hgetall: toObject }

function hasBlockOption (args) {
  for (const a of args) {
    if (typeof a === 'string' && a.length === 5 && a.toLowerCase() === 'block') return true
  }
  return false
}

// Blocking calls in flight: id -> { resolve, reject, transform, db }.
const inflight = new Map()
let nextId = 1
native.blockingInit((batch) => {
  for (let i = 0; i < batch.length; i += 2) {
    const call = inflight.get(batch[i])
    if (!call) continue
    inflight.delete(batch[i])
    call.db._blocking.delete(batch[i])
    const r = batch[i + 1]
    if (r instanceof ReplyError) call.reject(r)
    else {
      try {
        call.resolve(call.transform ? call.transform(r) : r)
      } catch (e) {
        call.reject(e)
      }
    }
  }
})

/** Runs a blocking command off the JS thread; always a Promise. */
function runAsync (db, flags, name, args, transform) {
  return new Promise((resolve, reject) => {
    const id = nextId
    nextId = nextId >= 0x7fffffff ? 1 : nextId + 1
    native.runBlocking(db._h, flags, id, name, ...args) // throws (→ rejects) on bad arguments
    inflight.set(id, { resolve, reject, transform, db })
    db._blocking.add(id)
  })
}

/** The method for command `name` (`extra` = BUF for the *Buffer twin). */
function commandMethod (name, extra) {
  const argT = ARG_TRANSFORMERS[name]
  const replyT = REPLY_TRANSFORMERS[name]
  if (BLOCKING.has(name) && !BLOCK_OPTION.has(name)) {
    return function (...args) {
      return runAsync(this, this._f | extra, name, argT ? argT(args) : args, replyT)
    }
  }
  if (BLOCK_OPTION.has(name)) {
    return function (...args) {
      if (hasBlockOption(args)) return runAsync(this, this._f | extra, name, args, replyT)
      return run(this._h, this._f | extra, name, ...args)
    }
  }
  if (argT || replyT) {
    return function (...args) {
      const r = run(this._h, this._f | extra, name, ...(argT ? argT(args) : args))
      return replyT ? replyT(r) : r
    }
  }
  if (extra & BUF) {
    return function (...args) {
      const r = run(this._h, this._f | BUF | SCRATCH, name, ...args)
      return r === undefined ? fromScratch() : r
    }
  }
  return function (...args) {
    return run(this._h, this._f | extra, name, ...args)
  }
}

/** JS identifier-safe method names get both `name` and `nameBuffer`. */
function installCommands (proto, names, make) {
  for (const name of names) {
    if (SPECIAL.has(name) || Object.prototype.hasOwnProperty.call(proto, name)) continue
    Object.defineProperty(proto, name, { value: make(name, 0), writable: true, configurable: true })
    Object.defineProperty(proto, name + 'Buffer', { value: make(name, BUF), writable: true, configurable: true })
  }
}

// ---- the client ---------------------------------------------------------------

const finalizer = new FinalizationRegistry((h) => native.release(h))
const live = new Set() // WeakRefs of open clients, closed at process exit
process.on('exit', () => {
  for (const ref of live) ref.deref()?.close()
  native.closeAll()
})

let runtimeNamesLoaded = false

/**
 * An emberkv database connection: `new Ember()` (in memory) or
 * `new Ember({ path: './data', appendonly: 'yes' })`. Other option keys are
 * redis.conf directive names; ioredis connection options are ignored.
 */
class Ember extends EventEmitter {
  constructor (options, _handle) {
    super()
    if (typeof options === 'string') options = { path: options }
    options = options || {}
    if (typeof options !== 'object') throw new TypeError('emberkv: options must be an object or a path string')
    this.options = options
    this._f = options.stringNumbers ? STRNUM : 0
    this._subs = new Set()
    this._sub = null
    this._blocking = new Set() // ids of blocking calls in flight
    if (_handle !== undefined) {
      this._h = _handle
    } else {
      const params = []
      for (const [k, v] of Object.entries(options)) {
        if (IGNORED_OPTIONS.has(k) || v === undefined) continue
        params.push(k, typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v))
      }
      const path = options.path ?? null
      if (path !== null && typeof path !== 'string') throw new TypeError('emberkv: options.path must be a string')
      this._h = native.open(path, params)
    }
    this.status = 'ready'
    const ref = new WeakRef(this)
    this._ref = ref
    live.add(ref)
    finalizer.register(this, this._h, this)
    if (!runtimeNamesLoaded) loadRuntimeNames(this)
    if (options.db) this.select(options.db)
    if (options.connectionName) this.client('SETNAME', options.connectionName)
    process.nextTick(() => {
      if (this.status === 'ready') {
        this.emit('connect')
        this.emit('ready')
      }
    })
  }

  /** Runs any command: `db.call('SET', 'k', 'v')`. Blocking commands return a Promise. */
  call (name, ...args) {
    return this._call(0, name, args)
  }

  /** `call` with Buffer replies. */
  callBuffer (name, ...args) {
    return this._call(BUF, name, args)
  }

  _call (extra, name, args) {
    const lname = typeof name === 'string' ? name.toLowerCase() : String(name).toLowerCase()
    if (BLOCKING.has(lname) && (!BLOCK_OPTION.has(lname) || hasBlockOption(args))) {
      return runAsync(this, this._f | extra, name, args, REPLY_TRANSFORMERS[lname])
    }
    const argT = ARG_TRANSFORMERS[lname]
    const r = run(this._h, this._f | extra, name, ...(argT ? argT(args) : args))
    const replyT = REPLY_TRANSFORMERS[lname]
    return replyT ? replyT(r) : r
  }

  /** EXEC after `multi({ pipeline: false })`: `[[err, result], …]`, or null (WATCH). */
  exec () {
    const r = run(this._h, this._f, 'exec')
    return Array.isArray(r) ? r.map((x) => (x instanceof ReplyError ? [x] : [null, x])) : r
  }

  /** Alias of `call` (node-redis / older ioredis spelling). */
  sendCommand (name, ...args) {
    return this.call(name, ...args)
  }

  /**
   * Queues commands and runs them at `exec()` inside MULTI … EXEC on this
   * connection (so a preceding `watch()` applies). `exec()` returns
   * `[[err, result], …]`, or null when a watched key changed.
   * `multi({ pipeline: false })` only sends MULTI, as ioredis.
   */
  multi (commands, options) {
    if (options === undefined && !Array.isArray(commands)) {
      options = commands
      commands = undefined
    }
    if (options && options.pipeline === false) return run(this._h, this._f, 'multi')
    const p = new this.constructor.Pipeline(this, true)
    if (Array.isArray(commands)) p.addBatch(commands)
    return p
  }

  /** Queues commands and runs them at `exec()`; no atomicity (use `multi()` for that). */
  pipeline (commands) {
    const p = new this.constructor.Pipeline(this, false)
    if (Array.isArray(commands)) p.addBatch(commands)
    return p
  }

  /**
   * Attaches to a server over its socket: an emberkv another process serves
   * with `db.listen(url)`, or any Redis server. `url`: 'unix:///path.sock',
   * 'redis://[[user]:password@]host[:port][/db]' or 'tcp://host:port'. The
   * client has the same API as an embedded one (commands answer synchronously,
   * a socket round trip each; blocking commands return Promises; pipelines,
   * multi/exec, subscribers pushed by the server). Connection failures throw
   * Errors with `code` 'ECONNREFUSED', 'ENOENT', 'ECONNRESET', ...
   */
  static fromUrl (url, options) {
    if (typeof url !== 'string') throw new TypeError('emberkv: fromUrl(url): url must be a string')
    const h = native.connect(url)
    return new this({ ...(options || {}), url }, h)
  }

  /**
   * Serves this engine on Redis's protocol at `url` ('unix:///path.sock' or
   * 'tcp://host:port'; port 0 picks a free one, see `listener.address`), so
   * other processes attach with `Ember.fromUrl(url)`, ioredis or redis-cli.
   * `options` are redis.conf names: `unixsocketperm`, `tcp-backlog`,
   * `io-threads` for this listener; `requirepass`, `maxclients`, `timeout`,
   * `protected-mode`, ... are set on the engine (server-wide, as in Redis).
   */
  listen (url, options) {
    if (typeof url !== 'string') throw new TypeError('emberkv: listen(url): url must be a string')
    const params = []
    for (const [k, v] of Object.entries(options || {})) {
      if (v === undefined) continue
      params.push(k, typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v))
    }
    return new Listener(native.listen(this._h, url, params))
  }

  /** A new connection (own selected db, WATCH state) on the same engine. */
  duplicate (override) {
    const h = native.duplicate(this._h)
    return new this.constructor({ ...this.options, ...override }, h)
  }

  /**
   * A subscriber: an EventEmitter with subscribe/psubscribe/ssubscribe and
   * 'message' / 'pmessage' / 'smessage' (+ '…Buffer') events. Closed with this client.
   */
  subscriber () {
    const { Subscriber } = require('./subscriber')
    const s = new Subscriber(this)
    this._subs.add(s)
    return s
  }

  // ioredis style: the client itself can subscribe; events are emitted on it.
  subscribe (...a) { return this._ownSub().subscribe(...a) }
  psubscribe (...a) { return this._ownSub().psubscribe(...a) }
  ssubscribe (...a) { return this._ownSub().ssubscribe(...a) }
  unsubscribe (...a) { return this._ownSub().unsubscribe(...a) }
  punsubscribe (...a) { return this._ownSub().punsubscribe(...a) }
  sunsubscribe (...a) { return this._ownSub().sunsubscribe(...a) }

  _ownSub () {
    if (!this._sub) {
      this._sub = this.subscriber()
      this._sub._forwardTo(this)
    }
    return this._sub
  }

  monitor () {
    throw new Error('emberkv: MONITOR is not supported')
  }

  /**
   * Iterates SCAN (or SSCAN/HSCAN/ZSCAN with `key`) as a Readable stream of
   * arrays, as ioredis's scanStream: options `match`, `type`, `count`.
   */
  scanStream (options) { return scanStream(this, 'scan', null, options) }
  sscanStream (key, options) { return scanStream(this, 'sscan', key, options) }
  hscanStream (key, options) { return scanStream(this, 'hscan', key, options) }
  zscanStream (key, options) { return scanStream(this, 'zscan', key, options) }
  scanBufferStream (options) { return scanStream(this, 'scan', null, options, BUF) }
  sscanBufferStream (key, options) { return scanStream(this, 'sscan', key, options, BUF) }
  hscanBufferStream (key, options) { return scanStream(this, 'hscan', key, options, BUF) }
  zscanBufferStream (key, options) { return scanStream(this, 'zscan', key, options, BUF) }

  /**
   * Closes this connection and its subscribers. The engine closes (flushing
   * its files) when its last connection closes. Idempotent.
   */
  close () {
    if (this.status === 'end') return
    for (const s of this._subs) s.close()
    this._subs.clear()
    if (this._blocking.size) {
      // give up on blocking calls in flight: their Promises reject now, and they
      // no longer keep the process alive (whatever the engine does with them)
      const ids = [...this._blocking]
      this._blocking.clear()
      native.cancelBlocking(...ids)
      for (const id of ids) {
        const call = inflight.get(id)
        inflight.delete(id)
        call?.reject(Object.assign(new Error('Connection is closed.'), { code: 'ECLOSED' }))
      }
    }
    native.close(this._h)
    live.delete(this._ref)
    this.status = 'end'
    process.nextTick(() => {
      this.emit('close')
      this.emit('end')
    })
  }

  /** ioredis: QUIT closes the connection and answers OK. */
  quit () {
    this.close()
    return 'OK'
  }

  /** ioredis: closes at once. */
  disconnect () {
    this.close()
  }

  /** No-op (always connected), for ioredis code that calls it. */
  connect () {}
}

/** Adds methods for commands the engine knows beyond the static table. */
function loadRuntimeNames (db) {
  runtimeNamesLoaded = true
  let names
  try {
    names = run(db._h, 0, 'command', 'list')
  } catch {
    return
  }
  const known = new Set(table.names)
  const extra = names.filter((n) => !n.includes('|') && !known.has(n))
  if (extra.length === 0) return
  installCommands(Ember.prototype, extra, commandMethod)
  installCommands(Pipeline.prototype, extra, pipelineMethod)
  for (const hook of runtimeHooks) hook(extra)
}
/** Called with newly found command names (lib/promises.js adds its wrappers). */
const runtimeHooks = []

function scanStream (db, cmd, key, options = {}, extra = 0) {
  let cursor = '0'
  let done = false
  return new Readable({
    objectMode: true,
    read () {
      if (done) {
        this.push(null)
        return
      }
      const args = key === null ? [cursor] : [key, cursor]
      if (options.match) args.push('MATCH', options.match)
      if (options.type) args.push('TYPE', options.type)
      if (options.count) args.push('COUNT', options.count)
      let r
      try {
        r = run(db._h, db._f | extra, cmd, ...args)
      } catch (e) {
        this.destroy(e)
        return
      }
      cursor = r[0].toString()
      if (cursor === '0') done = true
      this.push(r[1])
    }
  })
}

// ---- pipelines and transactions --------------------------------------------

function pipelineMethod (name, extra) {
  const argT = ARG_TRANSFORMERS[name]
  return function (...args) {
    this._queue.push([this._db._f | extra, name, ...(argT ? argT(args) : args)])
    this._names.push(name)
    return this
  }
}

function buffersToStrings (v) {
  if (Buffer.isBuffer(v)) return v.toString()
  if (Array.isArray(v)) return v.map(buffersToStrings)
  return v
}

function wrapResult (name, flags, r) {
  if (r instanceof ReplyError) return [r]
  const t = REPLY_TRANSFORMERS[name]
  return [null, t ? t(r) : r]
}

class Pipeline {
  constructor (db, transaction) {
    this._db = db
    this._tx = transaction
    this._queue = []
    this._names = []
    this._done = false
  }

  /** Number of queued commands. */
  get length () {
    return this._queue.length
  }

  /** Queues `[[name, ...args], …]`. */
  addBatch (commands) {
    for (const [name, ...args] of commands) {
      if (typeof this[name] !== 'function') throw new Error(`emberkv: unknown command ${name}`)
      this[name](...args)
    }
    return this
  }

  /** Queues any command. */
  call (name, ...args) {
    const lname = String(name).toLowerCase()
    const argT = ARG_TRANSFORMERS[lname]
    this._queue.push([this._db._f, name, ...(argT ? argT(args) : args)])
    this._names.push(lname)
    return this
  }

  callBuffer (name, ...args) {
    this.call(name, ...args)
    this._queue[this._queue.length - 1][0] |= BUF
    return this
  }

  /** Runs the queued commands: `[[err, result], …]` (`[err]` for a failed one). */
  exec () {
    return this._exec()
  }

  _exec () {
    if (this._done) {
      throw new Error('Pipeline cannot be used to send any commands when the `exec()` has been called on it.')
    }
    this._done = true
    const db = this._db
    if (!this._tx) {
      for (const n of this._names) {
        if (BLOCKING.has(n)) throw new Error(`emberkv: ${n} blocks: call it directly (db.${n}()), not in a pipeline`)
      }
      const res = runBatch(db._h, this._queue)
      return res.map((r, i) => wrapResult(this._names[i], this._queue[i][0], r))
    }
    // MULTI … EXEC: EXEC's reply comes in Buffers when any queued command wants Buffers
    const anyBuf = this._queue.some((c) => c[0] & BUF)
    const batch = [[0, 'multi'], ...this._queue, [db._f | (anyBuf ? BUF : 0), 'exec']]
    const res = runBatch(db._h, batch)
    const execReply = res[res.length - 1]
    if (execReply instanceof ReplyError) {
      execReply.previousErrors = res.slice(1, -1).filter((r) => r instanceof ReplyError)
      throw execReply
    }
    if (execReply === null) return null // a WATCHed key changed
    return execReply.map((r, i) => {
      const flags = this._queue[i][0]
      if (anyBuf && !(flags & BUF) && !(r instanceof ReplyError)) r = buffersToStrings(r)
      return wrapResult(this._names[i], flags, r)
    })
  }
}

Ember.Pipeline = Pipeline

installCommands(Ember.prototype, table.names, commandMethod)
installCommands(Pipeline.prototype, [...table.names, 'multi'].filter((n) => n !== 'exec'), pipelineMethod)

module.exports = {
  Ember,
  Listener,
  Pipeline,
  ReplyError,
  BUF,
  STRNUM,
  BLOCKING,
  BLOCK_OPTION,
  ARG_TRANSFORMERS,
  REPLY_TRANSFORMERS,
  runtimeHooks,
  installCommands
}
