import { test } from 'node:test'
import assert from 'node:assert/strict'
import EmberDefault, { Ember, ReplyError } from 'emberkv'
import { Ember as PEmber } from 'emberkv/promises'
import { createRequire } from 'node:module'

test('ESM import gives the same classes as require()', async () => {
  const require = createRequire(import.meta.url)
  assert.equal(Ember, require('emberkv').Ember)
  assert.equal(EmberDefault, Ember)
  assert.equal(ReplyError, require('emberkv').ReplyError)
  const db = new Ember()
  db.set('k', 'v')
  assert.equal(db.get('k'), 'v')
  db.close()
  const p = new PEmber()
  assert.equal(await p.set('k', 'v'), 'OK')
  await p.close()
})
