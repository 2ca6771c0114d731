// Shared by the tests: they run against the installed package (`require('emberkv')`).
'use strict'
const { Ember } = require('emberkv')

const probe = new Ember()
const info = probe.command('INFO', 'lpush', 'hset', 'sadd', 'zadd', 'multi', 'watch', 'blpop', 'blmove', 'bzpopmin', 'publish', 'pfadd', 'xadd')
const names = ['lpush', 'hset', 'sadd', 'zadd', 'multi', 'watch', 'blpop', 'blmove', 'bzpopmin', 'publish', 'pfadd', 'xadd']
const present = new Set(names.filter((_, i) => info[i] !== null))
const persists = probe.config('GET', 'appendonly').length > 0
probe.close()

/** `{ skip }` option for node:test when the engine lacks `cmd`. */
function needs (...cmds) {
  const missing = cmds.filter((c) => !present.has(c))
  return missing.length ? { skip: `${missing.join(', ').toUpperCase()} not in the engine yet` } : {}
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Blocks the JS thread for `ms` (a busy event loop). */
function busy (ms) {
  const end = Date.now() + ms
  while (Date.now() < end) { /* spin */ }
}

/** Waits (yielding to the event loop) until `cond()` holds; fails after `ms`. */
async function waitFor (cond, ms = 10000, what = 'condition') {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

module.exports = { needs, persists, sleep, busy, waitFor }
