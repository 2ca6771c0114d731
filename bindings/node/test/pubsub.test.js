'use strict'
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const os = require('node:os')
const fs = require('node:fs')
const { Worker } = require('node:worker_threads')
const { once } = require('node:events')
const { Ember, Subscriber } = require('emberkv')
const { sleep, busy, waitFor } = require('./helpers')

/** Resolves once `n` events named `ev` were seen on `em`, with their arguments. */
function collect (em, ev, n) {
  const got = []
  return new Promise((resolve) => {
    em.on(ev, (...args) => {
      got.push(args)
      if (got.length === n) resolve(got)
    })
  })
}

test('subscribe / psubscribe / ssubscribe deliver message, pmessage, smessage', async () => {
  const db = new Ember()
  const sub = db.subscriber()
  assert.ok(sub instanceof Subscriber)
  const messages = collect(sub, 'message', 2)
  const pmessages = collect(sub, 'pmessage', 2)
  const smessages = collect(sub, 'smessage', 1)
  assert.equal(sub.subscribe('room:1', 'room:2'), 2)
  assert.equal(sub.psubscribe('room:*'), 3)
  assert.equal(sub.ssubscribe('shard:1'), 4)
  assert.equal(sub.count, 4)
  assert.equal(db.publish('room:1', 'hello'), 2)
  assert.equal(db.publish('room:2', 'world'), 2)
  assert.equal(db.publish('nobody', 'x'), 0)
  assert.equal(db.spublish('shard:1', 'sharded'), 1)
  assert.deepEqual(await messages, [['room:1', 'hello'], ['room:2', 'world']])
  assert.deepEqual(await pmessages, [['room:*', 'room:1', 'hello'], ['room:*', 'room:2', 'world']])
  assert.deepEqual(await smessages, [['shard:1', 'sharded']])
  assert.equal(sub.unsubscribe('room:1'), 3)
  assert.equal(sub.punsubscribe(), 2)
  assert.equal(sub.unsubscribe(), 1)
  assert.equal(sub.sunsubscribe(), 0)
  sub.close()
  db.close()
})

test('Buffer events carry binary channels and payloads', async () => {
  const db = new Ember()
  const sub = db.subscriber()
  const payload = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x0d, 0x0a])
  const chan = Buffer.from([0xc3, 0x28]) // invalid UTF-8
  const bufs = collect(sub, 'messageBuffer', 1)
  const pbufs = collect(sub, 'pmessageBuffer', 1)
  sub.subscribe(chan)
  sub.psubscribe(Buffer.from('*'))
  db.publish(chan, payload)
  const [[c, m]] = await bufs
  assert.ok(Buffer.isBuffer(c) && Buffer.isBuffer(m))
  assert.deepEqual(c, chan)
  assert.deepEqual(m, payload)
  const [[p, c2, m2]] = await pbufs
  assert.deepEqual([p, c2, m2], [Buffer.from('*'), chan, payload])
  sub.close()
  db.close()
})

test('messages arrive in publish order, across many batches', async () => {
  const db = new Ember()
  const sub = db.subscriber()
  const N = 50000
  const done = collect(sub, 'message', N)
  sub.subscribe('seq')
  for (let i = 0; i < N; i++) db.publish('seq', String(i))
  const got = await done
  for (let i = 0; i < N; i++) assert.equal(got[i][1], String(i))
  sub.close()
  db.close()
})

test('delivery waits for a busy event loop and then catches up', async () => {
  const db = new Ember()
  const sub = db.subscriber()
  const got = []
  sub.on('message', (_c, m) => got.push(m))
  sub.subscribe('busy')
  for (let i = 0; i < 1000; i++) db.publish('busy', `m${i}`)
  busy(100) // the JS thread is busy: nothing can be delivered yet
  assert.equal(got.length, 0, 'messages are pushed, never delivered re-entrantly')
  await waitFor(() => got.length >= 1000, 10000, '1000 messages')
  await sleep(20)
  assert.equal(got.length, 1000)
  assert.equal(got[999], 'm999')
  sub.close()
  db.close()
})

test('messages published from another thread while the event loop is busy are delivered', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emberkv-pubsub-'))
  const db = new Ember({ path: dir }) // a worker opening the same directory shares this engine
  const sub = db.subscriber()
  const got = []
  sub.on('message', (_c, m) => got.push(m))
  sub.subscribe('from-worker')
  const worker = new Worker(`
    const { workerData, parentPort } = require('node:worker_threads')
    const { Ember } = require(workerData.pkg)
    const db = new Ember({ path: workerData.dir })
    parentPort.once('message', () => {
      let n = 0
      for (let i = 0; i < 500; i++) n += db.publish('from-worker', 'w' + i)
      db.close()
      parentPort.postMessage(n)
    })
  `, { eval: true, workerData: { dir, pkg: require.resolve('emberkv') } })
  await sleep(0)
  const delivered = once(worker, 'message')
  await new Promise((resolve) => setTimeout(resolve, 200)) // let the worker start
  worker.postMessage('go')
  busy(300) // the worker publishes while this thread spins
  assert.equal(got.length, 0)
  const [n] = await delivered
  assert.equal(n, 500, 'every publish reached the subscriber')
  await waitFor(() => got.length >= 500, 10000, '500 messages')
  assert.equal(got.length, 500)
  assert.equal(got[0], 'w0')
  assert.equal(got[499], 'w499')
  await worker.terminate()
  sub.close()
  db.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('keyspace notifications reach subscribers', async () => {
  const db = new Ember({ 'notify-keyspace-events': 'KEA' })
  const sub = db.subscriber()
  const events = collect(sub, 'pmessage', 2)
  sub.psubscribe('__key*__:*')
  db.set('watched', '1')
  assert.deepEqual((await events).map((e) => [e[1], e[2]]), [
    ['__keyspace@0__:watched', 'set'],
    ['__keyevent@0__:set', 'watched']
  ])
  sub.close()
  db.close()
})

test('ioredis style: the client itself subscribes and emits the events', async () => {
  const db = new Ember()
  const got = collect(db, 'message', 1)
  assert.equal(db.subscribe('direct'), 1)
  db.duplicate().publish('direct', 'hi')
  assert.deepEqual(await got, [['direct', 'hi']])
  const cbCount = await new Promise((resolve, reject) => db.subscribe('other', (err, n) => (err ? reject(err) : resolve(n))))
  assert.equal(cbCount, 2)
  db.close()
})

test('close() stops delivery; queued messages are dropped, not delivered late', async () => {
  const db = new Ember()
  const sub = db.subscriber()
  const got = []
  sub.on('message', (_c, m) => got.push(m))
  sub.subscribe('c')
  db.publish('c', 'before')
  await waitFor(() => got.length === 1, 10000, "'before'")
  db.publish('c', 'queued')
  sub.close()
  db.publish('c', 'after')
  await sleep(30)
  assert.deepEqual(got, ['before'])
  assert.equal(sub.count, 0)
  sub.close() // idempotent
  db.close()
})

test('a subscriber that falls too far behind is closed and told with an error event', async () => {
  const db = new Ember({ 'client-output-buffer-limit': 'pubsub 100kb 0 0' })
  const sub = db.subscriber()
  let delivered = 0
  sub.on('message', () => delivered++)
  const error = once(sub, 'error')
  sub.subscribe('flood')
  const payload = 'x'.repeat(1000)
  for (let i = 0; i < 500; i++) db.publish('flood', payload) // ~500 KB while JS is busy here
  const [err] = await error
  assert.equal(err.code, 'EOVERFLOW')
  assert.match(err.message, /client-output-buffer-limit/)
  assert.ok(delivered < 500)
  sub.close()
  db.close()
})
