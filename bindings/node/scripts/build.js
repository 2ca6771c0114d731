#!/usr/bin/env node
// Builds the addon without @napi-rs/cli: `cargo build -p emberkv-node` and a
// copy of the cdylib to emberkv.<platform>-<arch>[-gnu].node beside package.json.
// Usage: node scripts/build.js [--debug]
'use strict'
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const debug = process.argv.includes('--debug')
const args = ['build', '-p', 'emberkv-node', '--message-format=json-render-diagnostics']
if (!debug) args.push('--release')
const out = execFileSync('cargo', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 256 << 20 })
// the cdylib's path, from cargo's own messages (no guessing of target dirs)
const lib = out.split('\n').filter(Boolean).map((l) => JSON.parse(l))
  .filter((m) => m.reason === 'compiler-artifact' && m.target && m.target.name === 'emberkv_node')
  .flatMap((m) => m.filenames).find((f) => /\.(so|dylib|dll)$/.test(f))
if (!lib) throw new Error('emberkv: the cdylib is not in cargo\'s output')
const { platform, arch } = process
const abi = platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? '-gnu' : '-musl')
  : platform === 'win32' ? '-msvc' : ''
const dest = path.join(root, `emberkv.${platform}-${arch}${abi}.node`)
// copy then rename: never rewrite a library a running process has mapped
fs.copyFileSync(lib, dest + '.tmp')
if (!debug) {
  // the release profile keeps line tables for profiling; the shipped addon does not need them (7 MB -> 1.3 MB)
  try {
    execFileSync('strip', ['--strip-debug', dest + '.tmp'], { stdio: 'ignore' })
  } catch {
    console.warn('emberkv: `strip` not found or failed; shipping the addon with debug info')
  }
}
fs.renameSync(dest + '.tmp', dest)
console.log(`built ${path.relative(process.cwd(), dest)} (${debug ? 'debug' : 'release'})`)
