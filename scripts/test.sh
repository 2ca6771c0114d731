#!/usr/bin/env bash
# Every test: formatting and lints, the Rust engine (unit, integration, case
# corpus, comparisons with a real redis-server), then each binding that exists.
# CI runs this through `make test` (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== rustfmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings

echo "== Rust tests"
cargo test -p emberkv

# resp last: its client scripts use the venv's redis-py and the Node package's ioredis
export PYTHON="${PYTHON:-$PWD/.venv/bin/python}"
export NODE_PATH="${NODE_PATH:-$PWD/bindings/node/node_modules}"
for part in tests/c/run.sh bindings/python/run_tests.sh bindings/node/run_tests.sh bindings/resp/run_tests.sh; do
  if [ -x "$part" ]; then
    echo "== $part"
    "$part"
  fi
done
echo "== all tests passed"
