#!/usr/bin/env node
// emberkv (in-process) vs ioredis against a local redis-server, side by side.
//
//   npm run build && node bench/bench.js [--seconds 1] [--json]
//
// Starts redis-server itself on a free loopback port (no persistence) and
// stops it by PID. Each case runs for about --seconds; figures are ops/s
// (pairs/s for the two-command cases, messages/s for pub/sub). Cases:
//   GET, SET (16-byte value), LPUSH+LRANGE 0 9, HSET+HGETALL (10 fields),
//   PUBLISH -> 'message' listener (messages delivered to JS per second).
// Columns: emberkv synchronous (wall, and per CPU second of this process:
// the machine may be shared); emberkv/promises with `await` per command;
// ioredis with `await` per command; ioredis pipelined (batches of 100).
'use strict'
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { Ember } = require('..')
const { Ember: AsyncEmber } = require('../promises')
const Redis = require('ioredis')

const argv = process.argv.slice(2)
const SECONDS = Number(argv[argv.indexOf('--seconds') + 1]) || 1
const JSON_OUT = argv.includes('--json')
const BATCH = 100
const VALUE = 'value-0123456789' // 16 bytes

function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    }).on('error', reject)
  })
}

async function startRedis () {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emberkv-bench-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  const stop = () => {
    try { process.kill(child.pid, 'SIGTERM') } catch {}
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.on('exit', stop)
  for (let i = 0; ; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true) }).on('error', () => resolve(false))
    })
    if (ok) break
    if (i > 100) throw new Error('redis-server did not start')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { port, stop }
}

/** ops per CPU second of this process in the last timeSync (load-independent). */
let lastCpuRate = 0

/** Runs `step(i)` (sync) until SECONDS elapsed; ops/s (ops per step = `per`). */
function timeSync (step, per = 1) {
  for (let i = 0; i < 20000; i++) step(i) // warm-up
  let n = 0
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  const limit = BigInt(Math.round(SECONDS * 1e9))
  let el = 0n
  do {
    for (let k = 0; k < 1000; k++) step(n++)
    el = process.hrtime.bigint() - t0
  } while (el < limit)
  const cpu = process.cpuUsage(c0)
  lastCpuRate = (n * per) / ((cpu.user + cpu.system) / 1e6)
  return (n * per) / (Number(el) / 1e9)
}

/** Same for an async step (awaited one at a time). */
async function timeAsync (step, per = 1, chunk = 100) {
  for (let i = 0; i < 2000; i++) await step(i)
  let n = 0
  const t0 = process.hrtime.bigint()
  const limit = BigInt(Math.round(SECONDS * 1e9))
  let el = 0n
  do {
    for (let k = 0; k < chunk; k++) await step(n++)
    el = process.hrtime.bigint() - t0
  } while (el < limit)
  return (n * per) / (Number(el) / 1e9)
}

/** ioredis pipelined: batches of BATCH steps per exec(). */
async function timePipelined (redis, add, per = 1) {
  const run = async (base) => {
    const p = redis.pipeline()
    for (let k = 0; k < BATCH; k++) add(p, base + k)
    const res = await p.exec()
    for (const [err] of res) if (err) throw err
  }
  for (let i = 0; i < 20; i++) await run(i * BATCH)
  let n = 0
  const t0 = process.hrtime.bigint()
  const limit = BigInt(Math.round(SECONDS * 1e9))
  let el = 0n
  do {
    await run(n)
    n += BATCH
    el = process.hrtime.bigint() - t0
  } while (el < limit)
  return (n * per) / (Number(el) / 1e9)
}

/**
 * Messages/s from the first PUBLISH until the listener saw them all.
 * `publish(i)` is called in chunks of 1000 with an event-loop turn between chunks.
 */
async function timePubSub (subscribeOn, publish, count) {
  let seen = 0
  let done
  const finished = new Promise((resolve) => { done = resolve })
  await subscribeOn((_c, m) => {
    seen++
    if (seen === count) done()
  })
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < count; i += 1000) {
    const end = Math.min(count, i + 1000)
    for (let k = i; k < end; k++) publish(k)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await finished
  return count / (Number(process.hrtime.bigint() - t0) / 1e9)
}

function has (db, cmd) {
  return db.command('INFO', cmd)[0] !== null
}

async function main () {
  const redis = await startRedis()
  const io = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true })
  await io.connect()
  const ioSub = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true })
  await ioSub.connect()
  const db = new Ember()
  const adb = new AsyncEmber()
  const lists = has(db, 'lpush')
  const hashes = has(db, 'hset')
  const results = []
  const row = (name, cells) => {
    results.push({ case: name, ...cells })
    if (!JSON_OUT) {
      const f = (v) => (v === undefined ? 'n/a' : Math.round(v).toLocaleString('en-US')).padStart(16)
      console.log(name.padEnd(22) + f(cells.emberkv_sync) + f(cells.emberkv_sync_cpu) + f(cells.emberkv_await) + f(cells.ioredis_await) + f(cells.ioredis_pipeline))
    }
  }
  if (!JSON_OUT) {
    console.log(`node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ~${SECONDS}s per cell; ops/s`)
    console.log('case'.padEnd(22) + 'emberkv sync'.padStart(16) + 'sync per cpu-s'.padStart(16) + 'emberkv await'.padStart(16) + 'ioredis await'.padStart(16) + `ioredis pipe${BATCH}`.padStart(16))
  }

  db.set('key:1', VALUE)
  await io.set('key:1', VALUE)
  const sync = (step) => [timeSync(step), lastCpuRate]
  let [w, c] = sync(() => db.get('key:1'))
  row('GET', {
    emberkv_sync: w,
    emberkv_sync_cpu: c,
    emberkv_await: await timeAsync(() => adb.get('key:1')),
    ioredis_await: await timeAsync(() => io.get('key:1')),
    ioredis_pipeline: await timePipelined(io, (p) => p.get('key:1'))
  })
;[w, c] = sync((i) => db.set('key:' + (i & 1023), VALUE))
  row('SET', {
    emberkv_sync: w,
    emberkv_sync_cpu: c,
    emberkv_await: await timeAsync((i) => adb.set('key:' + (i & 1023), VALUE)),
    ioredis_await: await timeAsync((i) => io.set('key:' + (i & 1023), VALUE)),
    ioredis_pipeline: await timePipelined(io, (p, i) => p.set('key:' + (i & 1023), VALUE))
  })
  const pair = (a, b) => (i) => { a(i); return b(i) }
  const apair = (a, b) => async (i) => { await a(i); return b(i) }
  const lcells = {
    ioredis_await: await timeAsync(apair(() => io.lpush('list', VALUE), () => io.lrange('list', 0, 9)), 1),
    ioredis_pipeline: await timePipelined(io, (p) => p.lpush('list', VALUE).lrange('list', 0, 9))
  }
  if (lists) {
    ;[lcells.emberkv_sync, lcells.emberkv_sync_cpu] = sync(pair(() => db.lpush('list', VALUE), () => db.lrange('list', 0, 9)))
    lcells.emberkv_await = await timeAsync(apair(() => adb.lpush('list', VALUE), () => adb.lrange('list', 0, 9)))
  }
  row('LPUSH+LRANGE (pairs)', lcells)
  const hcells = {
    ioredis_await: await timeAsync(apair((i) => io.hset('hash', 'f' + (i % 10), VALUE), () => io.hgetall('hash'))),
    ioredis_pipeline: await timePipelined(io, (p, i) => p.hset('hash', 'f' + (i % 10), VALUE).hgetall('hash'))
  }
  if (hashes) {
    ;[hcells.emberkv_sync, hcells.emberkv_sync_cpu] = sync(pair((i) => db.hset('hash', 'f' + (i % 10), VALUE), () => db.hgetall('hash')))
    hcells.emberkv_await = await timeAsync(apair((i) => adb.hset('hash', 'f' + (i % 10), VALUE), () => adb.hgetall('hash')))
  }
  row('HSET+HGETALL (pairs)', hcells)

  // PUBLISH -> 'message' listener: messages delivered to JS per second
  const N = Math.max(100000, Math.round(300000 * SECONDS))
  const sub = db.subscriber()
  const embPub = await timePubSub(async (fn) => { sub.on('message', fn); sub.subscribe('bench') }, (i) => db.publish('bench', 'msg')
    , N)
  sub.close()
  const sub2 = adb.subscriber()
  const embPubAwait = await timePubSub(async (fn) => { sub2.on('message', fn); await sub2.subscribe('bench2') }, (i) => { adb.publish('bench2', 'msg') }, N)
  sub2.close()
  const ioPubAwaitN = Math.round(N / 10)
  let ioSeen = 0
  const ioDone = { fn: null }
  ioSub.on('message', (c, m) => { ioSeen++; if (ioDone.fn) ioDone.fn() })
  await ioSub.subscribe('bench')
  // ioredis, await per PUBLISH
  let t0 = process.hrtime.bigint()
  for (let i = 0; i < ioPubAwaitN; i++) await io.publish('bench', 'msg')
  await new Promise((resolve) => { ioDone.fn = () => { if (ioSeen >= ioPubAwaitN) resolve() }; ioDone.fn() })
  const ioPubAwait = ioPubAwaitN / (Number(process.hrtime.bigint() - t0) / 1e9)
  // ioredis, pipelined PUBLISH
  ioSeen = 0
  ioDone.fn = null
  t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i += BATCH) {
    const p = io.pipeline()
    for (let k = 0; k < BATCH; k++) p.publish('bench', 'msg')
    await p.exec()
  }
  await new Promise((resolve) => { ioDone.fn = () => { if (ioSeen >= N) resolve() }; ioDone.fn() })
  const ioPubPipe = N / (Number(process.hrtime.bigint() - t0) / 1e9)
  row('PUBLISH->message', { emberkv_sync: embPub, emberkv_await: embPubAwait, ioredis_await: ioPubAwait, ioredis_pipeline: ioPubPipe })

  if (JSON_OUT) console.log(JSON.stringify({ node: process.version, load: os.loadavg(), seconds: SECONDS, results }, null, 1))
  db.close()
  await adb.close()
  io.disconnect()
  ioSub.disconnect()
  redis.stop()
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
