# Shared by redis_py_suite.sh and tcl_suite.sh (sourced, not run).
# Builds emberkv-server (release), starts it and redis-server on loopback ports
# in a temp dir, stops them by PID on exit. Downloads only through pip / apt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${EMBERKV_COMPAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/emberkv-compat}"
PORT_REDIS="${COMPAT_PORT_REDIS:-17951}"
PORT_EMBER="${COMPAT_PORT_EMBER:-17952}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
mkdir -p "$CACHE"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/emberkv-compat.XXXXXX")"
declare -A SERVER_PID=()

log() { printf '[compat %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

build_ember() {
  # what the server is built from, taken now (the run takes minutes)
  EMBER_GIT="$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- core bindings || echo '+dirty')"
  if [[ -z "${EMBERKV_SERVER:-}" ]]; then
    (cd "$ROOT" && cargo build -q --release -p emberkv-resp --bin emberkv-server)
    EMBERKV_SERVER="$ROOT/target/release/emberkv-server"
  fi
  [[ -x "$EMBERKV_SERVER" ]] || { echo "no emberkv-server at $EMBERKV_SERVER" >&2; exit 1; }
}

wait_ping() { # port
  local i
  for i in $(seq 1 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not answer PING" >&2
  return 1
}

# start_server redis|ember: (re)starts that server with an empty dataset.
start_server() {
  local which="$1" dir="$WORK/$1" port
  stop_server "$which"
  rm -rf "$dir"; mkdir -p "$dir"
  if [[ "$which" == redis ]]; then
    port="$PORT_REDIS"
    "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$dir" --logfile "$dir/log" >/dev/null 2>&1 &
  else
    port="$PORT_EMBER"
    "$EMBERKV_SERVER" --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
      --dir "$dir" >"$dir/log" 2>&1 &
  fi
  SERVER_PID[$which]=$!
  wait_ping "$port"
}

# alive redis|ember: answers PING with PONG (a server left -BUSY by a
# unit's script that was never killed counts as down, and is restarted)
alive() {
  local port="$PORT_REDIS"; [[ "$1" == ember ]] && port="$PORT_EMBER"
  [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]]
}

stop_server() {
  local pid="${SERVER_PID[$1]:-}"
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    # a server busy in an endless script may not stop on SIGTERM
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    SERVER_PID[$1]=""
  fi
}

cleanup() {
  stop_server redis || true
  stop_server ember || true
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

versions() {
  echo "- redis-server: $("$REDIS_SERVER" --version)"
  echo "- emberkv-server: $("$EMBERKV_SERVER" --version 2>&1 | head -1), worktree at $EMBER_GIT when the run started${EMBERKV_SERVER_NOTE:+ ($EMBERKV_SERVER_NOTE)}"
  echo "- machine: $(nproc) cores, $(uname -sr)"
}
