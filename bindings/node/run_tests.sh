#!/usr/bin/env bash
# Tests the npm package as users get it: builds the addon, `npm pack`s the
# tarball, installs it into a fresh temporary project (no Rust toolchain
# involved there, nothing fetched), and runs there:
#   - node --test on test/ (requiring 'emberkv' from the installed package),
#   - tsc --noEmit on examples/example.ts against the shipped declarations.
# Env: EMBERKV_DEBUG=1 for a debug build; KEEP=1 keeps the temp project.
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD

# dev tools (typescript, @types/node; ioredis for the benchmark), from the npm registry
if [ ! -x node_modules/.bin/tsc ] || [ ! -d node_modules/@types/node ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
node scripts/generate.js --check   # lib/commands.js and the .d.ts match their generator
node scripts/build.js ${EMBERKV_DEBUG:+--debug}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/emberkv-node-test.XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$tmp"' EXIT; else echo "temp project: $tmp"; fi

tarball=$(npm pack --silent --pack-destination "$tmp" | tail -n 1)
echo "packed $tarball ($(du -h "$tmp/$tarball" | cut -f1))"
contents=$(tar -tzf "$tmp/$tarball")
grep -q '^package/emberkv\..*\.node$' <<<"$contents" || { echo "the tarball has no .node addon" >&2; exit 1; }

mkdir -p "$tmp/project"
cd "$tmp/project"
echo '{ "name": "emberkv-consumer", "version": "1.0.0", "private": true }' > package.json
npm install --no-audit --no-fund --loglevel=error --offline "../$tarball"
[ -f node_modules/emberkv/package.json ] || { echo "emberkv did not install" >&2; exit 1; }
cp -r "$here/test" ./test
cp "$here/examples/example.ts" ./example.ts
cat > tsconfig.json <<JSON
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "es2022",
    "module": "node16", "moduleResolution": "node16",
    "types": ["node"], "typeRoots": ["$here/node_modules/@types"]
  },
  "files": ["example.ts"]
}
JSON
echo "tsc --noEmit example.ts"
"$here/node_modules/.bin/tsc" -p tsconfig.json
echo "example.ts typechecks"
# attach tests drive ioredis (a dev dependency here) against a listening engine
EMBERKV_DEV_MODULES="$here/node_modules" node --test --test-concurrency=1 test/
