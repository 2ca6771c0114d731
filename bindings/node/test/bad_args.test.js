'use strict'
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Ember } = require('emberkv')

test('arguments that are not string | Buffer | number are TypeErrors, and nothing runs', () => {
  const db = new Ember()
  const bad = [null, undefined, {}, true, Symbol('s'), () => 1, [['nested']], new Uint16Array(2), new Date()]
  for (const v of bad) {
    assert.throws(() => db.set('k', v), (e) => {
      assert.ok(e instanceof TypeError, String(e))
      assert.equal(e.code, 'ERR_INVALID_ARG_TYPE')
      assert.match(e.message, /argument 2 must be a string, Buffer or number/)
      return true
    })
  }
  assert.equal(db.exists('k'), 0)
  assert.throws(() => db.mset('a', '1', 'b', null), TypeError)
  assert.equal(db.exists('a'), 0, 'a command with a bad argument does not run at all')
  assert.throws(() => db.call(), TypeError)
  assert.throws(() => db.call(null), TypeError)
  db.close()
})

test('a pipeline with a bad argument throws before running anything', () => {
  const db = new Ember()
  assert.throws(() => db.pipeline().set('a', 1).set('b', undefined).exec(), TypeError)
  assert.equal(db.exists('a'), 0)
  assert.throws(() => db.multi().set('a', 1).set('b', {}).exec(), TypeError)
  assert.equal(db.exists('a'), 0)
  db.close()
})

test('bad options', () => {
  assert.throws(() => new Ember(42), TypeError)
  assert.throws(() => new Ember({ path: 7 }), TypeError)
  assert.throws(() => new Ember({ databases: 0 }), /databases/)
})

test('closed connections and subscribers refuse calls', () => {
  const db = new Ember()
  const sub = db.subscriber()
  db.close()
  assert.throws(() => db.set('k', 'v'), { code: 'ECLOSED' })
  assert.throws(() => db.pipeline().set('k', 'v').exec(), { code: 'ECLOSED' })
  assert.throws(() => db.duplicate(), { code: 'ECLOSED' })
  assert.throws(() => sub.subscribe('x'), { code: 'ECLOSED' })
  assert.throws(() => db.subscriber(), { code: 'ECLOSED' })
})

test('blocking commands reject (not throw) on bad arguments', async (t) => {
  const db = new Ember()
  const p = db.call('blpop', 'q', null)
  assert.ok(p instanceof Promise)
  await assert.rejects(p, TypeError)
  db.close()
})
