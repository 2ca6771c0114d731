#!/usr/bin/env bash
# Builds and installs the emberkv Python package from this directory into a
# virtualenv (like a user would: pip install ./bindings/python), then runs the
# pytest suite against the installed package.
#
#   bindings/python/run_tests.sh [pytest args...]
#
# VENV (default: <repo>/.venv) is created when missing. Test dependencies come
# from PyPI: maturin (build backend), pytest, redis (compatibility tests against
# a real redis-server, when one is installed), mypy (stub checks).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install -q "maturin>=1.16,<2" "pytest>=8" "redis>=5" "mypy>=1.10"
# maturin's PEP 517 hook runs `maturin` from PATH: the venv's
export PATH="$VENV/bin:$PATH"
"$PY" -m pip install -q --no-build-isolation --force-reinstall --no-deps "$HERE"

cd "$HERE"
exec "$PY" -m pytest -q tests "$@"
