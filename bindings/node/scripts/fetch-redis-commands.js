#!/usr/bin/env node
// Captures the command table of a real redis-server (Debian's 7.0) into
// scripts/redis-commands.json: names, arity, flags and argument docs of every
// command. scripts/generate.js turns it into lib/commands.js and the .d.ts files.
// Run again only to track a newer Redis. Needs redis-server and redis-cli on PATH.
'use strict'
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

async function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    }).on('error', reject)
  })
}

async function main () {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emberkv-cmds-'))
  const srv = spawn('redis-server', ['--port', String(port), '--save', '', '--dir', dir], { stdio: 'ignore' })
  try {
    const cli = (...args) => execFileSync('redis-cli', ['-p', String(port), '--json', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
    for (let i = 0; ; i++) {
      try { cli('PING'); break } catch (e) { if (i > 50) throw e; await new Promise((r) => setTimeout(r, 100)) }
    }
    const version = cli('INFO', 'server').match(/redis_version:(\S+)/)[1]
    const info = JSON.parse(cli('COMMAND', 'INFO'))
    const docs = JSON.parse(cli('COMMAND', 'DOCS'))
    const commands = {}
    for (const c of info.sort((a, b) => a[0].localeCompare(b[0]))) {
      const [name, arity, flags] = c
      const d = docs[name] || {}
      commands[name] = {
        arity,
        flags,
        group: d.group,
        summary: d.summary,
        arguments: d.arguments || [],
        subcommands: Object.keys(d.subcommands || {}).sort()
      }
    }
    const out = path.join(__dirname, 'redis-commands.json')
    fs.writeFileSync(out, JSON.stringify({ source: `redis-server ${version}: COMMAND INFO + COMMAND DOCS`, commands }, null, 1) + '\n')
    console.log(`wrote ${Object.keys(commands).length} commands from redis ${version} to ${out}`)
  } finally {
    srv.kill()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
