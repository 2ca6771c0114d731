// TypeScript declarations for the generated command methods (used by generate.js).
// Parameters come from Redis's COMMAND DOCS (leading required arguments named,
// the rest as `...args`); reply types from the table below (RESP2 as ioredis
// decodes it; `unknown` where the shape depends on options).
'use strict'

// S: string | null, s: string, OK: 'OK', I: number, I?: number | null,
// A: string[], A?: (string | null)[], O: Record<string, string>,
// SCAN: [cursor, elements], POP: string | string[] | null, KV?: [key, value] | null
const REPLIES = {
  // strings
  get: 'S', getdel: 'S', getex: 'S', getset: 'S', set: 'S', setnx: 'I', setex: 'OK', psetex: 'OK',
  mget: 'A?', mset: 'OK', msetnx: 'I', append: 'I', strlen: 'I', incr: 'I', incrby: 'I', decr: 'I',
  decrby: 'I', incrbyfloat: 's', getrange: 's', substr: 's', setrange: 'I', lcs: 'unknown',
  // bitmaps, hyperloglog
  setbit: 'I', getbit: 'I', bitcount: 'I', bitpos: 'I', bitop: 'I', bitfield: '(number | null)[]',
  bitfield_ro: 'number[]', pfadd: 'I', pfcount: 'I', pfmerge: 'OK',
  // keys
  del: 'I', unlink: 'I', exists: 'I', touch: 'I', expire: 'I', pexpire: 'I', expireat: 'I', pexpireat: 'I',
  ttl: 'I', pttl: 'I', expiretime: 'I', pexpiretime: 'I', persist: 'I', type: 's', keys: 'A', scan: 'SCAN',
  rename: 'OK', renamenx: 'I', copy: 'I', move: 'I', randomkey: 'S', dump: 'S', restore: 'OK',
  sort: 'unknown', sort_ro: 'A',
  // server and connection
  dbsize: 'I', flushdb: 'OK', flushall: 'OK', select: 'OK', swapdb: 'OK', ping: 's', echo: 's', time: 'A',
  info: 's', lastsave: 'I', save: 'OK', bgsave: 's', bgrewriteaof: 's', watch: 'OK', unwatch: 'OK',
  discard: 'OK', publish: 'I', spublish: 'I', wait: 'I',
  // lists
  lpush: 'I', rpush: 'I', lpushx: 'I', rpushx: 'I', lpop: 'POP', rpop: 'POP', llen: 'I', lrange: 'A',
  lindex: 'S', lset: 'OK', linsert: 'I', lrem: 'I', ltrim: 'OK', lpos: 'unknown', lmove: 'S',
  rpoplpush: 'S', lmpop: '[key: string, elements: string[]] | null',
  blpop: 'KV?', brpop: 'KV?', blmove: 'S', brpoplpush: 'S', blmpop: '[key: string, elements: string[]] | null',
  // hashes
  hset: 'I', hsetnx: 'I', hget: 'S', hmget: 'A?', hmset: 'OK', hgetall: 'O', hdel: 'I', hlen: 'I',
  hexists: 'I', hkeys: 'A', hvals: 'A', hincrby: 'I', hincrbyfloat: 's', hstrlen: 'I', hrandfield: 'unknown',
  hscan: 'SCAN',
  // sets
  sadd: 'I', srem: 'I', smembers: 'A', sismember: 'I', smismember: 'number[]', scard: 'I', spop: 'POP',
  srandmember: 'POP', smove: 'I', sinter: 'A', sunion: 'A', sdiff: 'A', sinterstore: 'I', sunionstore: 'I',
  sdiffstore: 'I', sintercard: 'I', sscan: 'SCAN',
  // sorted sets (scores as strings, WITHSCORES flat, as ioredis)
  zadd: 'string | number | null', zincrby: 's', zscore: 'S', zmscore: 'A?', zrem: 'I', zcard: 'I', zcount: 'I',
  zlexcount: 'I', zrange: 'A', zrangebyscore: 'A', zrevrange: 'A', zrevrangebyscore: 'A', zrangebylex: 'A',
  zrevrangebylex: 'A', zrank: 'I?', zrevrank: 'I?', zpopmin: 'A', zpopmax: 'A',
  bzpopmin: '[key: string, member: string, score: string] | null',
  bzpopmax: '[key: string, member: string, score: string] | null',
  zrangestore: 'I', zunion: 'A', zinter: 'A', zdiff: 'A', zunionstore: 'I', zinterstore: 'I', zdiffstore: 'I',
  zintercard: 'I', zremrangebyrank: 'I', zremrangebyscore: 'I', zremrangebylex: 'I', zrandmember: 'POP',
  zscan: 'SCAN', zmpop: '[key: string, members: string[]] | null',
  bzmpop: '[key: string, members: string[]] | null',
  // streams
  xadd: 'S', xlen: 'I', xdel: 'I', xtrim: 'I', xack: 'I'
}

function replyType (code, buf) {
  const s = buf ? 'Buffer' : 'string'
  switch (code) {
    case undefined: return 'unknown'
    case 'S': return `${s} | null`
    case 's': return s
    case 'OK': return buf ? 'Buffer' : "'OK'"
    case 'I': return 'number'
    case 'I?': return 'number | null'
    case 'A': return `${s}[]`
    case 'A?': return `(${s} | null)[]`
    case 'O': return `Record<string, ${s}>`
    case 'SCAN': return `[cursor: ${s}, elements: ${s}[]]`
    case 'POP': return `${s} | ${s}[] | null`
    case 'KV?': return `[key: ${s}, value: ${s}] | null`
    default: return buf ? code.replace(/\bstring\b/g, 'Buffer') : code
  }
}

const RESERVED = new Set(['function', 'delete', 'default', 'new', 'class', 'arguments', 'var', 'let', 'in', 'for', 'if',
  'return', 'switch', 'case', 'type', 'enum', 'export', 'import', 'this', 'with', 'yield', 'await', 'static'])
const SIMPLE = new Set(['key', 'string', 'integer', 'double', 'pattern', 'unix-time'])

function ident (name) {
  const id = name.replace(/[^A-Za-z0-9]+(.)?/g, (_, c) => (c ? c.toUpperCase() : ''))
  return RESERVED.has(id) ? id + 'Arg' : id
}

/**
 * `(key: Arg, value: Arg, ...args: ArgList)` from the command's argument docs;
 * `cb`: the reply type of an optional trailing callback (promises flavour).
 */
function params (cmd, cb) {
  const out = []
  const used = new Set()
  let rest = cmd.arity < 0
  let restName = 'args'
  for (const a of cmd.arguments) {
    const flags = a.flags || []
    const optional = flags.includes('optional')
    const multiple = flags.includes('multiple')
    if (optional || a.token || !SIMPLE.has(a.type)) {
      rest = true
      break
    }
    let id = ident(a.name)
    while (used.has(id)) id += '2'
    used.add(id)
    if (multiple) {
      restName = id.endsWith('s') ? id : id + 's'
      rest = true
      break
    }
    out.push(`${id}: Arg`)
  }
  if (rest && cb) out.push(`...${restName}: ArgList | [...ArgList, Callback<${cb}>]`)
  else if (rest) out.push(`...${restName}: ArgList`)
  else if (cb) out.push(`callback?: Callback<${cb}>`)
  return out.join(', ')
}

function doc (name, cmd) {
  const lines = []
  if (cmd.summary) lines.push(`${cmd.summary}.`)
  lines.push(`Redis \`${name.toUpperCase()}\`${cmd.group ? ` (${cmd.group})` : ''}.`)
  return `  /** ${lines.join(' ')} */\n`
}

/** The command members of `Ember` (`promise`: wrap every reply in a Promise). */
function members (commands, promise) {
  let out = ''
  const skip = new Set(['multi', 'monitor', 'quit', 'exec', 'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe',
    'punsubscribe', 'sunsubscribe'])
  for (const name of Object.keys(commands).sort()) {
    if (skip.has(name)) continue
    const cmd = commands[name]
    const blocking = cmd.flags.includes('blocking')
    const id = /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name)
    const idBuf = /^[A-Za-z_$][\w$]*$/.test(name) ? name + 'Buffer' : JSON.stringify(name + 'Buffer')
    for (const buf of [false, true]) {
      let t = replyType(REPLIES[name], buf)
      if (name === 'xread' || name === 'xreadgroup') {
        // a Promise only with BLOCK
        t = promise ? `Promise<${t}>` : `${t} | Promise<${t}>`
      } else if (blocking || promise) {
        t = `Promise<${t}>`
      }
      const p = params(cmd, promise ? replyType(REPLIES[name], buf) : null)
      out += doc(name, cmd)
      out += `  ${buf ? idBuf : id}(${p}): ${t}\n`
    }
  }
  return out
}

const HEADER = `// Generated by scripts/generate.js (command members from SOURCE). Do not edit:
// change scripts/types.js or lib/, then run \`node scripts/generate.js\`.
/// <reference types="node" />
import { EventEmitter } from 'node:events'
import { Readable } from 'node:stream'

/** A command argument: strings are sent as UTF-8, numbers in decimal (integers in full). */
export type Arg = string | Buffer | Uint8Array | number | bigint
/** Arguments; arrays are flattened one level, as ioredis does. */
export type ArgList = Array<Arg | Arg[]>
/** A converted reply: strings (or Buffers), numbers, null, arrays of those, ReplyError inside EXEC results. */
export type Reply = string | Buffer | number | null | ReplyError | Reply[]

/** An error reply. \`message\` is Redis's text; \`code\` its first word ('WRONGTYPE', 'ERR', …). */
export declare class ReplyError extends Error {
  constructor(message: string)
  readonly code: string
  readonly name: 'ReplyError'
  /** EXECABORT: the errors of the commands that could not be queued. */
  previousErrors?: ReplyError[]
}

/**
 * Options of \`new Ember(options)\`. \`path\` is the data directory (none: in memory).
 * Any other key is a redis.conf directive (\`appendonly: 'yes'\`, \`appendfsync: 'always'\`,
 * \`hz: 10\`, …; booleans become yes/no). ioredis connection options (host, port, …) are ignored.
 */
export interface EmberOptions {
  /** Data directory; omitted = in memory, nothing persisted. */
  path?: string
  /** Integer replies as strings (ioredis option). */
  stringNumbers?: boolean
  /** Database selected at start (SELECT). */
  db?: number
  /** CLIENT SETNAME at start. */
  connectionName?: string
  [directive: string]: string | number | boolean | undefined
}

/** Node-style callback (promises flavour), as ioredis. */
export type Callback<T> = (err: Error | null, result?: T) => void

/** \`[err, result]\` per queued command (\`[err]\` when it failed), as ioredis. */
export type ExecResult = Array<[error: null, result: unknown] | [error: ReplyError]>

export interface ScanStreamOptions {
  match?: string
  type?: string
  count?: number
}
`

function ember (commands, promise) {
  const P = (t) => (promise ? `Promise<${t}>` : t)
  return `
/** Queued commands, run by \`exec()\` (inside MULTI … EXEC for \`multi()\`). Every command method queues and returns \`this\`. */
export declare class Pipeline {
  readonly length: number
  /** Queues \`[[name, ...args], …]\`. */
  addBatch(commands: Array<[name: string, ...args: ArgList]>): this
  call(name: string, ...args: ArgList): this
  callBuffer(name: string, ...args: ArgList): this
  /** Runs the queue. For \`multi()\`: null when a WATCHed key changed; throws EXECABORT (with \`previousErrors\`) when a command could not be queued. */
  exec(${promise ? 'callback?: (err: Error | null, result?: ExecResult | null) => void' : ''}): ${P('ExecResult | null')}
  [command: string]: any
}

/**
 * Pub/sub, an EventEmitter: events 'message' (channel, message), 'pmessage' (pattern, channel, message),
 * 'smessage' (channel, message), their Buffer twins 'messageBuffer', 'pmessageBuffer', 'smessageBuffer',
 * 'error' (the subscriber fell too far behind and was closed) and 'end'.
 * Keeps the process alive while subscribed to something, until close().
 */
export declare class Subscriber extends EventEmitter {
  /** Returns the number of channels + patterns now subscribed. */
  subscribe(...channels: ArgList): ${P('number')}
  psubscribe(...patterns: ArgList): ${P('number')}
  ssubscribe(...channels: ArgList): ${P('number')}
  /** No argument: all. */
  unsubscribe(...channels: ArgList): ${P('number')}
  punsubscribe(...patterns: ArgList): ${P('number')}
  sunsubscribe(...channels: ArgList): ${P('number')}
  /** Channels + patterns + shard channels subscribed. */
  readonly count: number
  close(): void
  quit(): ${P("'OK'")}
  disconnect(): void
  on(event: 'message' | 'smessage', listener: (channel: string, message: string) => void): this
  on(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): this
  on(event: 'messageBuffer' | 'smessageBuffer', listener: (channel: Buffer, message: Buffer) => void): this
  on(event: 'pmessageBuffer', listener: (pattern: Buffer, channel: Buffer, message: Buffer) => void): this
  on(event: 'error', listener: (err: Error) => void): this
  on(event: 'end', listener: () => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

/**
 * A listener serving an engine on Redis's protocol (\`db.listen(url)\`); open until
 * \`close()\` or until its engine closes.
 */
export declare class Listener {
  /** The bound address as a URL ('tcp://127.0.0.1:6390' with the real port when 0 was asked for, or 'unix:///path.sock'). */
  readonly address: string
  readonly closed: boolean
  /** Stops accepting and closes every connection it serves. Idempotent. */
  close(): void
}

/** Options of \`db.listen\`: redis.conf names (listener: unixsocketperm, tcp-backlog, io-threads; engine-wide: requirepass, maxclients, timeout, protected-mode, ...). */
export interface ListenOptions {
  [directive: string]: string | number | boolean | undefined
}

/**
 * An emberkv connection: Redis, in-process. ${promise
    ? 'Every command method returns a Promise and takes an optional node-style callback last, as ioredis.'
    : 'Command methods return their reply directly; blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD … BLOCK, …) return Promises and never block the event loop.'}
 * Replies are strings (\`…Buffer\` methods: Buffers), numbers or null; errors are thrown as ReplyError.
 */
export declare class Ember extends EventEmitter {
  constructor(options?: EmberOptions | string)
  /**
   * Attaches to a server over its socket ('unix:///path.sock', 'redis://[[user]:password@]host[:port][/db]',
   * 'tcp://host:port'): an emberkv another process serves with \`listen\`, or any Redis. Same API.
   */
  static fromUrl<T extends typeof Ember>(this: T, url: string, options?: EmberOptions): InstanceType<T>
  /** Serves this engine on Redis's protocol at 'unix:///path.sock' or 'tcp://host:port'. */
  listen(url: string, options?: ListenOptions): Listener
  readonly options: EmberOptions
  /** 'ready' until close(), then 'end'. */
  readonly status: 'ready' | 'end'
  /** Any command. */
  call(name: string, ...args: ArgList): ${P('unknown')}
  callBuffer(name: string, ...args: ArgList): ${P('unknown')}
  sendCommand(name: string, ...args: ArgList): ${P('unknown')}
  /** Queued MULTI … EXEC on this connection (a preceding watch() applies). */
  multi(commands?: Array<[name: string, ...args: ArgList]>): Pipeline
  multi(options: { pipeline: false }): ${P("'OK'")}
  /** EXEC after multi({ pipeline: false }). */
  exec(): ${P('ExecResult | null')}
  pipeline(commands?: Array<[name: string, ...args: ArgList]>): Pipeline
  /** A new connection on the same engine. */
  duplicate(override?: EmberOptions): this
  /** A pub/sub subscriber on this engine (closed with this connection). */
  subscriber(): Subscriber
  /** ioredis style: subscribe this client itself; events are emitted on it. */
  subscribe(...channels: ArgList): ${P('number')}
  psubscribe(...patterns: ArgList): ${P('number')}
  ssubscribe(...channels: ArgList): ${P('number')}
  unsubscribe(...channels: ArgList): ${P('number')}
  punsubscribe(...patterns: ArgList): ${P('number')}
  sunsubscribe(...channels: ArgList): ${P('number')}
  scanStream(options?: ScanStreamOptions): Readable
  sscanStream(key: Arg, options?: ScanStreamOptions): Readable
  hscanStream(key: Arg, options?: ScanStreamOptions): Readable
  zscanStream(key: Arg, options?: ScanStreamOptions): Readable
  scanBufferStream(options?: ScanStreamOptions): Readable
  sscanBufferStream(key: Arg, options?: ScanStreamOptions): Readable
  hscanBufferStream(key: Arg, options?: ScanStreamOptions): Readable
  zscanBufferStream(key: Arg, options?: ScanStreamOptions): Readable
  /** Closes this connection and its subscribers; the engine closes (flushing) with its last connection. */
  close(): ${P('void')}
  quit(): ${P("'OK'")}
  disconnect(): void
  connect(): ${P('void')}
  on(event: 'message' | 'smessage', listener: (channel: string, message: string) => void): this
  on(event: 'pmessage', listener: (pattern: string, channel: string, message: string) => void): this
  on(event: 'messageBuffer' | 'smessageBuffer', listener: (channel: Buffer, message: Buffer) => void): this
  on(event: 'pmessageBuffer', listener: (pattern: Buffer, channel: Buffer, message: Buffer) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this

${members(commands, promise)}}

/** ioredis's name. */
export { Ember as Redis }
export default Ember
`
}

function generate (commands, source) {
  const header = HEADER.replace('SOURCE', source)
  return {
    'index.d.ts': header + ember(commands, false),
    'promises.d.ts': header + ember(commands, true)
  }
}

module.exports = { generate, REPLIES }
