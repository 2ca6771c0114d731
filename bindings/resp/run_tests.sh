#!/usr/bin/env bash
# The RESP front end's tests: the Rust suite (redis-cli, raw sockets,
# redis-benchmark, the emberkv-server binary), then the redis-py and ioredis
# client scripts when those libraries are available (PYTHON names a Python
# with `redis` installed; NODE_PATH a node_modules with `ioredis`).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo test -p emberkv-resp
cargo build -q -p emberkv-resp --bin emberkv-server
server="$PWD/target/debug/emberkv-server"

py="${PYTHON:-python3}"
if "$py" -c 'import redis' 2>/dev/null; then
  "$py" bindings/resp/tests/redis_py_client.py "$server"
else
  echo "redis-py client tests: skipped (no Python with the redis package; set PYTHON)"
fi
if command -v node >/dev/null && node -e 'require("ioredis")' 2>/dev/null; then
  node bindings/resp/tests/ioredis_client.js "$server"
else
  echo "ioredis client tests: skipped (ioredis not found; set NODE_PATH)"
fi
