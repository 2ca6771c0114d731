'use strict'
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Ember, ReplyError } = require('emberkv/promises')
const { needs } = require('./helpers')

test('every command returns a Promise', async () => {
  const db = new Ember()
  const p = db.set('k', 'v')
  assert.ok(p instanceof Promise)
  assert.equal(await p, 'OK')
  assert.equal(await db.get('k'), 'v')
  assert.deepEqual(await db.getBuffer('k'), Buffer.from('v'))
  assert.equal(await db.incr('n'), 1)
  assert.equal(await db.call('GET', 'k'), 'v')
  await db.close()
})

test('errors reject with ReplyError', async () => {
  const db = new Ember()
  await db.set('k', 'v')
  await assert.rejects(db.incr('k'), (e) => e instanceof ReplyError && e.code === 'ERR')
  await assert.rejects(db.set('k', null), TypeError)
  await db.close()
})

test('node-style callbacks, as ioredis', async () => {
  const db = new Ember()
  await new Promise((resolve, reject) => db.set('k', 'v', (err, r) => (err ? reject(err) : resolve(r))))
  const v = await new Promise((resolve, reject) => db.get('k', (err, r) => (err ? reject(err) : resolve(r))))
  assert.equal(v, 'v')
  const e = await new Promise((resolve) => db.incr('k', (err) => resolve(err)))
  assert.equal(e.code, 'ERR')
  await db.close()
})

test('pipeline and multi exec() return Promises', needs('multi'), async () => {
  const db = new Ember()
  const r = db.multi().set('a', 1).incr('a').exec()
  assert.ok(r instanceof Promise)
  assert.deepEqual(await r, [[null, 'OK'], [null, 2]])
  assert.deepEqual(await db.pipeline().get('a').exec(), [[null, '2']])
  await assert.rejects(db.multi().get('a', 'b').exec(), { code: 'EXECABORT' })
  await db.close()
})

test('subscriber methods return Promises', async () => {
  const db = new Ember()
  const sub = db.subscriber()
  assert.equal(await sub.subscribe('c'), 1)
  const got = new Promise((resolve) => sub.on('message', (c, m) => resolve([c, m])))
  assert.equal(await db.publish('c', 'm'), 1)
  assert.deepEqual(await got, ['c', 'm'])
  assert.equal(await db.subscribe('own'), 1)
  sub.close()
  await db.close()
})

test('blocking commands are Promises here too', needs('blpop'), async () => {
  const db = new Ember()
  const p = db.blpop('q', 0)
  await db.rpush('q', 'x')
  assert.deepEqual(await p, ['q', 'x'])
  await db.close()
})

test('the module is the class itself, as ioredis (const Redis = require(...))', async () => {
  const Redis = require('emberkv/promises')
  const redis = new Redis()
  assert.equal(await redis.set('k', 'v'), 'OK')
  assert.equal(Redis.Redis, Redis)
  assert.equal(Redis.default, Redis)
  await redis.quit()
  const Sync = require('emberkv')
  assert.equal(Sync.Ember, Sync)
  assert.notEqual(Sync, Redis)
  assert.ok(new Redis() instanceof Sync, 'the Promise client is a subclass of the synchronous one')
})
