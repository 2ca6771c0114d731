// `require('emberkv/promises')`: the same client with every command method
// returning a Promise, and an optional node-style callback as last argument,
// as ioredis. Porting from ioredis is changing the import.
'use strict'
const sync = require('./ember')
const { Subscriber: SyncSubscriber } = require('./subscriber')
const table = require('./commands')

/** Wraps a synchronous method: Promise of its result, optional trailing callback. */
function promised (fn) {
  return function (...args) {
    let cb
    if (args.length && typeof args[args.length - 1] === 'function') cb = args.pop()
    let p
    try {
      p = Promise.resolve(fn.apply(this, args))
    } catch (e) {
      p = Promise.reject(e)
    }
    if (cb) p.then((v) => cb(null, v), (e) => cb(e))
    return p
  }
}

function wrapAll (Target, Source, names) {
  for (const name of names) {
    const fn = Source.prototype[name]
    if (typeof fn !== 'function') continue
    Object.defineProperty(Target.prototype, name, { value: promised(fn), writable: true, configurable: true })
  }
}

class Pipeline extends sync.Pipeline {}
/** `exec()` → Promise of `[[err, result], …]` (null when a WATCHed key changed). */
Pipeline.prototype.exec = promised(sync.Pipeline.prototype._exec)

class Subscriber extends SyncSubscriber {}
wrapAll(Subscriber, SyncSubscriber, ['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'quit'])

class Ember extends sync.Ember {
  multi (commands, options) {
    const r = super.multi(commands, options)
    return r instanceof sync.Pipeline ? r : Promise.resolve(r)
  }

  subscriber () {
    const s = new Subscriber(this)
    this._subs.add(s)
    return s
  }
}
Ember.Pipeline = Pipeline

const commandNames = (names) => names.filter((n) => n !== 'multi' && n !== 'monitor').flatMap((n) => [n, n + 'Buffer'])
wrapAll(Ember, sync.Ember, [
  ...commandNames(table.names),
  'call', 'callBuffer', 'sendCommand', 'exec', 'quit', 'close', 'connect',
  'subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe'
])
sync.runtimeHooks.push((names) => wrapAll(Ember, sync.Ember, commandNames(names)))

// the class itself is the export (ioredis: `const Redis = require('ioredis')`), with the other names on it
Object.assign(Ember, { Ember, Redis: Ember, Listener: sync.Listener, Pipeline, Subscriber, ReplyError: sync.ReplyError, default: Ember })
module.exports = Ember
