// Loads the prebuilt addon shipped in the package root:
// emberkv.<platform>-<arch>[-gnu|-musl|-msvc].node (built by scripts/build.js).
'use strict'
const fs = require('node:fs')
const path = require('node:path')

function candidates () {
  const { platform, arch } = process
  const base = `emberkv.${platform}-${arch}`
  if (platform === 'linux') return [`${base}-gnu.node`, `${base}-musl.node`]
  if (platform === 'win32') return [`${base}-msvc.node`]
  return [`${base}.node`]
}

function load () {
  if (process.env.EMBERKV_NATIVE_PATH) return require(process.env.EMBERKV_NATIVE_PATH)
  const root = path.join(__dirname, '..')
  const names = candidates()
  for (const name of names) {
    const file = path.join(root, name)
    if (fs.existsSync(file)) return require(file)
  }
  throw new Error(`emberkv: no prebuilt native addon for ${process.platform}-${process.arch} ` +
    `(looked for ${names.join(', ')} in ${root}); build it with \`npm run build\``)
}

module.exports = load()
