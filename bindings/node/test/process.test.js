'use strict'
// The process exits on its own once the work is done: nothing emberkv starts
// (engine threads, subscribers after close, finished blocking calls) keeps it alive.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const { needs } = require('./helpers')

function runChild (code, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', code], { cwd: __dirname, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (status, signal) => {
      clearTimeout(timer)
      resolve({ status, signal, out, err })
    })
  })
}

test('a script that uses every part and closes exits cleanly', async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    db.set('k', 'v')
    const sub = db.subscriber()
    sub.on('message', (c, m) => {
      console.log('got', m)
      sub.close()
      db.blpop('q', 0.01).catch(() => null).then(() => { db.close(); console.log('closed') })
    })
    sub.subscribe('c')
    db.publish('c', 'hello')
  `)
  assert.equal(r.signal, null, `killed: ${r.err}`)
  assert.equal(r.status, 0, r.err)
  assert.equal(r.out, 'got hello\nclosed\n')
})

test('an open database that is never closed does not keep the process alive', async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember({ hz: 100 })
    db.set('k', 'v')
    db.duplicate().get('k')
    console.log('done')
  `)
  assert.equal(r.signal, null)
  assert.equal(r.status, 0, r.err)
  assert.equal(r.out, 'done\n')
})

test('a subscriber with no subscriptions left does not keep the process alive', async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    const sub = db.subscriber()
    sub.subscribe('a', 'b')
    sub.unsubscribe()
    console.log('idle')
  `)
  assert.equal(r.signal, null)
  assert.equal(r.status, 0, r.err)
})

test('an active subscription keeps the process alive (as an ioredis subscriber does) until close()', async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    const sub = db.subscriber()
    sub.on('message', (c, m) => { console.log(m); if (m === 'last') sub.close() })
    sub.subscribe('c')
    // published from a timer that does not itself hold the loop open
    setTimeout(() => db.publish('c', 'first'), 100).unref()
    setTimeout(() => db.publish('c', 'last'), 300).unref()
  `)
  assert.equal(r.signal, null, 'exited after close()')
  assert.equal(r.status, 0, r.err)
  assert.equal(r.out, 'first\nlast\n')
})

test('process.exit() with deliveries in flight is clean', async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    const sub = db.subscriber()
    sub.on('message', () => {})
    sub.subscribe('c')
    for (let i = 0; i < 10000; i++) db.publish('c', 'x' + i)
    process.exit(0)
  `)
  assert.equal(r.signal, null)
  assert.equal(r.status, 0, r.err)
})

test('an exception in a message listener surfaces as uncaughtException', async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    const sub = db.subscriber()
    process.on('uncaughtException', (e) => { console.log('caught', e.message); sub.close(); db.close() })
    sub.on('message', () => { throw new Error('boom') })
    sub.subscribe('c')
    db.publish('c', 'x')
  `)
  assert.equal(r.status, 0, r.err)
  assert.equal(r.out, 'caught boom\n')
})

test('close() with a blocking pop still waiting rejects it and lets the process exit', needs('blpop'), async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    db.blpop('never', 0).then(() => console.log('resolved?'), (e) => console.log('rejected', e.code))
    setTimeout(() => db.close(), 50)
  `)
  assert.equal(r.signal, null, 'exited on its own')
  assert.equal(r.status, 0, r.err)
  assert.equal(r.out, 'rejected ECLOSED\n')
})

test('a pending blocking pop keeps the process alive until served', needs('blpop'), async () => {
  const r = await runChild(`
    const { Ember } = require('emberkv')
    const db = new Ember()
    db.blpop('q', 0).then((v) => { console.log(v.join(' ')); db.close() })
    setTimeout(() => db.rpush('q', 'late'), 200).unref()
  `)
  assert.equal(r.status, 0, r.err)
  assert.equal(r.out, 'q late\n')
})
