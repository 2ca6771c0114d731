'use strict'
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Ember } = require('emberkv')
const { persists } = require('./helpers')

const skip = persists ? {} : { skip: 'the engine does not persist yet (no appendonly directive): reopen cannot find data' }

test('data written before close() is there after reopening the directory', skip, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emberkv-persist-'))
  try {
    const db = new Ember({ path: dir, appendonly: 'yes', appendfsync: 'always' })
    db.set('k', 'v')
    db.set(Buffer.from([0, 255]), Buffer.from([1, 2, 3]))
    db.incrby('n', 42)
    db.set('ttl', 'x', 'EX', 1000)
    db.close()
    const again = new Ember({ path: dir, appendonly: 'yes' })
    assert.equal(again.get('k'), 'v')
    assert.deepEqual(again.getBuffer(Buffer.from([0, 255])), Buffer.from([1, 2, 3]))
    assert.equal(again.get('n'), '42')
    assert.ok(again.ttl('ttl') > 900)
    again.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('two clients on one directory share one engine', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emberkv-shared-'))
  try {
    const a = new Ember({ path: dir })
    const b = new Ember({ path: dir + '/.' }) // same directory, other spelling
    a.set('k', 'from-a')
    assert.equal(b.get('k'), 'from-a')
    a.close()
    assert.equal(b.get('k'), 'from-a', 'closing one client leaves the engine to the other')
    b.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
