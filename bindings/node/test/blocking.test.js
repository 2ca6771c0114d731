'use strict'
// Blocking commands return Promises, run off the JS thread, and are served by
// pushes from the same process.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { Ember } = require('emberkv')
const { needs, sleep } = require('./helpers')

test('blocking methods return Promises even when the engine lacks the command', async () => {
  const db = new Ember()
  const p = db.call('blpop', 'q', 0.01)
  assert.ok(p instanceof Promise)
  await p.catch(() => {})
  db.close()
})

test('BLPOP is served by an LPUSH from the same process, without blocking the event loop', needs('blpop'), async () => {
  const db = new Ember()
  let ticks = 0
  const timer = setInterval(() => ticks++, 5)
  const popped = db.blpop('queue', 0)
  assert.ok(popped instanceof Promise)
  await sleep(50)
  assert.ok(ticks >= 3, `timers ran while BLPOP waited (${ticks})`)
  assert.equal(db.lpush('queue', 'job-1'), 1)
  assert.deepEqual(await popped, ['queue', 'job-1'])
  clearInterval(timer)
  db.close()
})

test('BLPOP timeout resolves to null; BRPOP across several keys', needs('blpop'), async () => {
  const db = new Ember()
  assert.equal(await db.blpop('empty', 0.05), null)
  db.rpush('b', '1', '2')
  assert.deepEqual(await db.brpop('a', 'b', 1), ['b', '2'])
  db.close()
})

test('waiters are served in arrival order, each value once', needs('blpop'), async () => {
  const db = new Ember()
  const waiters = [db.blpop('q', 0), db.blpop('q', 0), db.blpop('q', 0)]
  await sleep(30)
  db.rpush('q', 'a', 'b', 'c')
  const got = await Promise.all(waiters)
  assert.deepEqual(got.map((r) => r[1]).sort(), ['a', 'b', 'c'])
  db.close()
})

test('many pending blocking pops do not starve libuv\'s threadpool (fs still works)', needs('blpop'), async () => {
  const db = new Ember()
  const waiters = []
  for (let i = 0; i < 8; i++) waiters.push(db.blpop(`never:${i}`, 0))
  await sleep(20)
  const t0 = Date.now()
  await fs.promises.readFile(__filename)
  await fs.promises.stat(__dirname)
  assert.ok(Date.now() - t0 < 2000)
  for (let i = 0; i < 8; i++) db.rpush(`never:${i}`, 'x')
  assert.equal((await Promise.all(waiters)).length, 8)
  db.close()
})

test('the blocking call uses the connection\'s selected database', needs('blpop'), async () => {
  const db = new Ember()
  db.select(4)
  const p = db.blpop('q4', 0)
  await sleep(20)
  const other = db.duplicate()
  other.rpush('q4', 'wrong-db') // database 0
  other.select(4)
  other.rpush('q4', 'right-db')
  assert.deepEqual(await p, ['q4', 'right-db'])
  other.close()
  db.close()
})

test('BLMOVE and BZPOPMIN', needs('blmove', 'bzpopmin'), async () => {
  const db = new Ember()
  const moved = db.blmove('src', 'dst', 'LEFT', 'RIGHT', 0)
  const zp = db.bzpopmin('z', 0)
  await sleep(20)
  db.rpush('src', 'item')
  db.zadd('z', 2, 'two', 1, 'one')
  assert.equal(await moved, 'item')
  assert.deepEqual(db.lrange('dst', 0, -1), ['item'])
  assert.deepEqual(await zp, ['z', 'one', '1'])
  db.close()
})

test('errors from blocking commands reject with ReplyError', needs('blpop'), async () => {
  const db = new Ember()
  db.set('str', 'x')
  await assert.rejects(db.blpop('str', 0), { code: 'WRONGTYPE' })
  await assert.rejects(db.blpop('q', 'soon'), { code: 'ERR', message: 'ERR timeout is not a float or out of range' })
  db.close()
})

test('closing the database wakes pending blocking commands', needs('blpop'), async () => {
  const db = new Ember()
  const p = db.blpop('never', 0)
  await sleep(20)
  db.close()
  await assert.rejects(p, (e) => e instanceof Error)
})

test('BLPOP inside MULTI does not block', needs('blpop', 'multi'), () => {
  const db = new Ember()
  assert.deepEqual(db.multi().blpop('empty', 0).exec(), [[null, null]])
  db.close()
})

test('a blocking command in a plain pipeline is refused', () => {
  const db = new Ember()
  assert.throws(() => db.pipeline().blpop('q', 0).exec(), /blocks/)
  db.close()
})
