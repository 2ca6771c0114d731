'use strict'
// Attaching from other processes: db.listen(url) serves an engine on Redis's
// protocol; Ember.fromUrl(url) and ioredis attach (same data, pipelines,
// multi/exec, blocking commands, pub/sub pushed across processes).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { Ember } = require('emberkv')

/** Waits until `cond()` (may be async) holds; fails after `ms`. */
async function waitFor (cond, ms = 10000, what = 'condition') {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function ioredis () {
  const dir = process.env.EMBERKV_DEV_MODULES
  if (!dir) return null
  try { return require(path.join(dir, 'ioredis')) } catch { return null }
}

function tmpSock () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emberkv-node-attach-'))
  return { dir, url: `unix://${dir}/e.sock`, path: `${dir}/e.sock` }
}

// An owner process: opens an engine, listens, then runs each stdin line as a
// command (JSON array) and answers with one JSON line; ["close"] closes the listener.
const OWNER = `
const { Ember } = require('emberkv')
const db = new Ember()
const l = db.listen(process.argv[1])
console.log(JSON.stringify(l.address))
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const words = JSON.parse(line)
  if (words[0] === 'close') { l.close(); console.log(JSON.stringify(l.closed)); return }
  if (words[0] === 'exit') { db.close(); process.exit(0) }
  let r
  try { r = db.call(...words) } catch (e) { r = 'error: ' + e.message }
  console.log(JSON.stringify(r))
})
`

function startOwner (url) {
  const child = spawn(process.execPath, ['-e', OWNER, url], { cwd: __dirname, stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = readline.createInterface({ input: child.stdout })
  const waiting = []
  lines.on('line', (l) => waiting.shift()?.(JSON.parse(l)))
  const next = () => new Promise((resolve) => waiting.push(resolve))
  const owner = {
    child,
    ready: next(),
    do (...words) {
      const p = next()
      child.stdin.write(JSON.stringify(words) + '\n')
      return p
    },
    async stop () {
      if (child.exitCode !== null) return
      const done = new Promise((resolve) => child.on('exit', resolve))
      child.stdin.write('["exit"]\n')
      const t = setTimeout(() => child.kill('SIGKILL'), 10000)
      await done
      clearTimeout(t)
    }
  }
  return owner
}

test('listen and fromUrl in one process', () => {
  const s = tmpSock()
  const db = new Ember()
  const l = db.listen(s.url)
  assert.equal(l.address, s.url)
  assert.equal(l.closed, false)
  const c = Ember.fromUrl(s.url)
  assert.equal(c.set('k', 'v'), 'OK')
  assert.equal(db.get('k'), 'v')
  db.hset('h', { a: '1', b: '2' })
  assert.deepEqual(c.hgetall('h'), { a: '1', b: '2' })
  assert.deepEqual(c.getBuffer('k'), Buffer.from('v'))
  assert.throws(() => c.lpush('k', 'x'), (e) => e.name === 'ReplyError' && /^WRONGTYPE/.test(e.message))
  assert.deepEqual(c.multi().incr('n').incr('n').get('n').exec(), [[null, 1], [null, 2], [null, '2']])
  const res = c.pipeline().set('a', '1').lpush('k', 'x').get('a').exec()
  assert.equal(res[0][1], 'OK')
  assert.match(res[1][0].message, /^WRONGTYPE/)
  assert.equal(res[2][1], '1')
  const d = c.duplicate()
  assert.equal(d.select(2), 'OK')
  d.set('in2', 'x')
  assert.equal(c.get('in2'), null)
  assert.equal(Ember.fromUrl(s.url + '?db=2').get('in2'), 'x')
  l.close()
  l.close() // idempotent
  assert.equal(l.closed, true)
  assert.throws(() => c.get('k'), (e) => e.code === 'ECONNRESET')
  assert.throws(() => Ember.fromUrl(s.url), (e) => e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
  c.close()
  d.close()
  db.close()
  fs.rmSync(s.dir, { recursive: true, force: true })
})

test('another process attaches with fromUrl and ioredis; pub/sub crosses processes', async (t) => {
  const s = tmpSock()
  const owner = startOwner(s.url)
  t.after(() => owner.stop().then(() => fs.rmSync(s.dir, { recursive: true, force: true })))
  assert.equal(await owner.ready, s.url)
  const c = Ember.fromUrl(s.url)
  assert.equal(await owner.do('set', 'greeting', 'hello'), 'OK')
  assert.equal(c.get('greeting'), 'hello')
  c.rpush('history', 'a', 'b')
  assert.equal(await owner.do('llen', 'history'), 2)

  const Redis = ioredis()
  let io = null
  if (Redis) {
    io = new Redis({ path: s.path, lazyConnect: false, maxRetriesPerRequest: 0, retryStrategy: () => null })
    assert.equal(await io.get('greeting'), 'hello')
    await io.rpush('history', 'c')
    assert.deepEqual(c.lrange('history', 0, -1), ['a', 'b', 'c'])
  }

  const sub = c.subscriber()
  const got = []
  sub.on('message', (ch, m) => got.push([ch, m]))
  sub.on('pmessage', (p, ch, m) => got.push([p, ch, m]))
  assert.equal(sub.subscribe('room:1'), 1)
  assert.equal(sub.psubscribe('room:*'), 2)
  let ioGot = null
  let ioSub = null
  if (Redis) {
    ioSub = new Redis({ path: s.path, retryStrategy: () => null })
    ioSub.on('message', (ch, m) => { ioGot = [ch, m] })
    await ioSub.subscribe('room:1')
  }
  const want = Redis ? 3 : 2
  await waitFor(async () => (await owner.do('pubsub', 'numsub', 'room:1'))[1] + (await owner.do('pubsub', 'numpat')) === want, 5000, 'subscribed')
  assert.equal(await owner.do('publish', 'room:1', 'hi'), want)
  await waitFor(() => got.length === 2, 5000, 'messages')
  assert.deepEqual(got, [['room:1', 'hi'], ['room:*', 'room:1', 'hi']])
  if (Redis) {
    await waitFor(() => ioGot !== null, 5000, 'ioredis message')
    assert.deepEqual(ioGot, ['room:1', 'hi'])
    ioSub.disconnect()
    io.disconnect()
  }
  sub.close()
  c.close()
})

test('blocking commands over the socket, and close() with one in flight', async (t) => {
  const s = tmpSock()
  const owner = startOwner(s.url)
  t.after(() => owner.stop().then(() => fs.rmSync(s.dir, { recursive: true, force: true })))
  await owner.ready
  const c = Ember.fromUrl(s.url)
  const p = c.blpop('q', 10)
  assert.ok(p instanceof Promise)
  assert.equal(c.get('unrelated'), null) // the connection is free meanwhile
  await waitFor(async () => /blocked_clients:1/.test(await owner.do('info', 'clients')), 5000, 'blocked')
  assert.equal(await owner.do('rpush', 'q', 'job'), 1)
  assert.deepEqual(await p, ['q', 'job'])
  // WATCH: another process's write aborts the transaction
  c.set('balance', '10')
  c.watch('balance')
  await owner.do('set', 'balance', '99')
  assert.equal(c.multi().set('balance', '5').exec(), null)
  // close() with a call in flight: it rejects, and nothing waits on the server
  const stuck = c.blpop('never', 0)
  await waitFor(async () => /blocked_clients:1/.test(await owner.do('info', 'clients')), 5000, 'blocked')
  c.close()
  await assert.rejects(stuck, (e) => e.code === 'ECLOSED')
  await waitFor(async () => /blocked_clients:0/.test(await owner.do('info', 'clients')), 5000, 'unblocked')
})

test('close stops accepting; misuse throws clear errors', async (t) => {
  const s = tmpSock()
  const owner = startOwner(s.url)
  t.after(() => owner.stop().then(() => fs.rmSync(s.dir, { recursive: true, force: true })))
  await owner.ready
  const c = Ember.fromUrl(s.url)
  assert.equal(c.ping(), 'PONG')
  assert.equal(await owner.do('close'), true)
  assert.throws(() => c.ping(), (e) => e.code === 'ECONNRESET')
  assert.throws(() => c.ping(), (e) => e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
  assert.throws(() => Ember.fromUrl(s.url), (e) => e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
  c.close()

  const db = new Ember()
  const l = db.listen('tcp://127.0.0.1:0', { requirepass: 's3cret', maxclients: 20, 'io-threads': 1 })
  const port = Number(l.address.split(':').pop())
  assert.equal(db.config('GET', 'maxclients')[1], '20')
  assert.throws(() => Ember.fromUrl(`redis://127.0.0.1:${port}`).get('k'), (e) => /^NOAUTH/.test(e.message))
  assert.throws(() => Ember.fromUrl(`redis://:wrong@127.0.0.1:${port}`), (e) => e.code === 'WRONGPASS')
  const a = Ember.fromUrl(`redis://:s3cret@127.0.0.1:${port}/3`)
  a.set('k', 'v')
  assert.throws(() => a.listen('tcp://127.0.0.1:0'), (e) => e.code === 'ERR_EMBERKV_REMOTE')
  a.close()
  assert.throws(() => db.listen(l.address), (e) => e.code === 'EADDRINUSE')
  assert.throws(() => db.listen('bogus://x'), (e) => e.code === 'ERR_INVALID_ARG_VALUE')
  assert.throws(() => db.listen('tcp://127.0.0.1:0', { appendonly: 'yes' }), (e) => e.code === 'ERR_INVALID_ARG_VALUE' && /unknown listener option/.test(e.message))
  assert.throws(() => Ember.fromUrl('http://x'), (e) => e.code === 'ERR_INVALID_URL')
  assert.throws(() => Ember.fromUrl('redis://127.0.0.1:1'), (e) => e.code === 'ECONNREFUSED')
  assert.throws(() => Ember.fromUrl(42), TypeError)
  // closing the engine closes its listeners
  db.close()
  assert.equal(l.closed, true)
  assert.throws(() => Ember.fromUrl(`redis://:s3cret@127.0.0.1:${port}`), (e) => e.code === 'ECONNREFUSED')
})
