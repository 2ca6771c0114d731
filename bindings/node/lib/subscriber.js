// Pub/sub: an EventEmitter fed by the engine. Messages are pushed from the
// engine's delivery thread into JS through a threadsafe function, in batches
// (one wake-up of the event loop per batch, not per message); nothing polls.
// While subscribed to something the subscriber keeps the process alive, as an
// ioredis subscriber connection does; with no subscriptions, or after close(),
// it does not.
'use strict'
const { EventEmitter } = require('node:events')
const native = require('./native')

const KIND = { subscribe: 0, psubscribe: 1, ssubscribe: 2, unsubscribe: 3, punsubscribe: 4, sunsubscribe: 5 }
const STRING_EVENTS = ['message', 'pmessage', 'smessage']
const BUFFER_EVENTS = ['messageBuffer', 'pmessageBuffer', 'smessageBuffer']
const WANT_STR = 1
const WANT_BUF = 2

function flatten (args) {
  const out = []
  for (const a of args) {
    if (Array.isArray(a)) out.push(...a)
    else out.push(a)
  }
  return out
}

class Subscriber extends EventEmitter {
  constructor (db) {
    super()
    this._db = db
    this._target = this
    this._modes = -1
    this._closed = false
    this._sh = native.subOpen(db._h, (batch, mode, err) => this._deliver(batch, mode, err))
    this._watchListeners(this)
    this._updateModes()
  }

  /** Emit on `target` (the Ember itself, for `db.subscribe(…)` ioredis style). */
  _forwardTo (target) {
    this._target = target
    this._watchListeners(target)
    this._updateModes()
  }

  _watchListeners (emitter) {
    const update = () => process.nextTick(() => this._updateModes())
    emitter.on('newListener', (ev) => { if (isMessageEvent(ev)) this._updateModes(ev) })
    emitter.on('removeListener', (ev) => { if (isMessageEvent(ev)) update() })
  }

  /** Tells the native side which forms (strings, Buffers) listeners want. */
  _updateModes (adding) {
    if (this._closed) return
    const t = this._target
    let mode = 0
    for (const ev of STRING_EVENTS) if (ev === adding || t.listenerCount(ev) > 0) mode |= WANT_STR
    for (const ev of BUFFER_EVENTS) if (ev === adding || t.listenerCount(ev) > 0) mode |= WANT_BUF
    if (mode !== this._modes) {
      this._modes = mode
      native.subModes(this._sh, mode)
    }
  }

  _deliver (batch, mode, err) {
    const t = this._target
    if (err) {
      const e = new Error(err)
      e.code = 'EOVERFLOW'
      this.close()
      if (t.listenerCount('error') > 0) t.emit('error', e)
      else process.emitWarning(e)
      return
    }
    const str = mode & WANT_STR
    const buf = mode & WANT_BUF
    const stride = 1 + (str ? 3 : 0) + (buf ? 3 : 0)
    for (let i = 0; i < batch.length; i += stride) {
      const kind = batch[i]
      let j = i + 1
      if (str) {
        if (kind === 0) t.emit('message', batch[j + 1], batch[j + 2])
        else if (kind === 1) t.emit('pmessage', batch[j], batch[j + 1], batch[j + 2])
        else t.emit('smessage', batch[j + 1], batch[j + 2])
        j += 3
      }
      if (buf) {
        if (kind === 0) t.emit('messageBuffer', batch[j + 1], batch[j + 2])
        else if (kind === 1) t.emit('pmessageBuffer', batch[j], batch[j + 1], batch[j + 2])
        else t.emit('smessageBuffer', batch[j + 1], batch[j + 2])
      }
    }
  }

  _cmd (kind, args) {
    let cb
    if (args.length && typeof args[args.length - 1] === 'function') cb = args.pop()
    let count
    try {
      if (this._closed) throw Object.assign(new Error('Connection is closed.'), { code: 'ECLOSED' })
      count = native.subCommand(this._sh, kind, ...flatten(args))
    } catch (e) {
      if (!cb) throw e
      process.nextTick(cb, e)
      return undefined
    }
    if (cb) process.nextTick(cb, null, count)
    return count
  }

  /** SUBSCRIBE: returns the number of channels and patterns now subscribed. */
  subscribe (...channels) { return this._cmd(KIND.subscribe, channels) }
  /** PSUBSCRIBE (glob patterns). */
  psubscribe (...patterns) { return this._cmd(KIND.psubscribe, patterns) }
  /** SSUBSCRIBE (shard channels). */
  ssubscribe (...channels) { return this._cmd(KIND.ssubscribe, channels) }
  /** UNSUBSCRIBE; no channel = all. */
  unsubscribe (...channels) { return this._cmd(KIND.unsubscribe, channels) }
  punsubscribe (...patterns) { return this._cmd(KIND.punsubscribe, patterns) }
  sunsubscribe (...channels) { return this._cmd(KIND.sunsubscribe, channels) }

  /** Channels + patterns + shard channels subscribed. */
  get count () {
    return this._closed ? 0 : native.subCount(this._sh)
  }

  /** Ends the subscription; the subscriber no longer keeps the process alive. Idempotent. */
  close () {
    if (this._closed) return
    this._closed = true
    native.subClose(this._sh)
    this._db._subs.delete(this)
    if (this._db._sub === this) this._db._sub = null
    process.nextTick(() => this.emit('end'))
  }

  /** ioredis spellings of close(). */
  quit () { this.close(); return 'OK' }
  disconnect () { this.close() }
}

function isMessageEvent (ev) {
  return STRING_EVENTS.includes(ev) || BUFFER_EVENTS.includes(ev)
}

module.exports = { Subscriber }
