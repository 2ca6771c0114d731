#!/usr/bin/env bash
# redis-benchmark against emberkv-server and redis-server in the same run,
# over TCP and a Unix socket, 50 clients, pipelines of 1 and 16, printed
# side by side (requests per second, and emberkv / redis).
#
#   bindings/resp/bench/run.sh            # release build, default sizes
#   N=200000 ROUNDS=5 TESTS=set,get bindings/resp/bench/run.sh
#
# For each (transport, pipeline) pair both servers run the same
# redis-benchmark command back to back, ROUNDS times, alternating which goes
# first; the table shows each side's median. Commands emberkv does not have
# yet are shown as n/a.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
TESTS="${TESTS:-set,get,incr,lpush,lrange_100,hset,zadd,publish}"
N1="${N1:-${N:-50000}}"      # requests per test at -P 1
N16="${N16:-${N:-300000}}"   # requests per test at -P 16
CLIENTS="${CLIENTS:-50}"
KEYSPACE="${KEYSPACE:-100000}"
ROUNDS="${ROUNDS:-3}"

command -v redis-server >/dev/null || { echo "redis-server not installed (apt-get install redis-server)"; exit 1; }
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not installed (apt-get install redis-tools)"; exit 1; }

if [ -z "${EMBERKV_SERVER:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p emberkv-resp --bin emberkv-server)
  EMBERKV_SERVER="$ROOT/target/release/emberkv-server"
fi

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    redis-cli -p "$1" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "server on port $1 did not start"; exit 1
}

RPORT=$(free_port); EPORT=$(free_port)
redis-server --port "$RPORT" --unixsocket "$TMP/redis.sock" --save "" --appendonly no \
  --dir "$TMP" --logfile "$TMP/redis.log" &
PIDS+=($!)
"$EMBERKV_SERVER" --port "$EPORT" --unixsocket "$TMP/emberkv.sock" --logfile "$TMP/emberkv.log" &
PIDS+=($!)
wait_port "$RPORT"; wait_port "$EPORT"

# Which tests emberkv can run (their command exists).
declare -A CMD=([set]=set [get]=get [incr]=incr [lpush]=lpush [lrange_100]=lrange [hset]=hset [zadd]=zadd [publish]=publish [ping]=ping [mset]=mset [sadd]=sadd [spop]=spop [rpush]=rpush [lpop]=lpop [rpop]=rpop)
supported() {
  local c="${CMD[$1]:-$1}"
  [ "$(redis-cli -p "$EPORT" COMMAND INFO "$c" | head -1)" != "" ]
}

# The tests emberkv runs (redis-benchmark stops at the first unknown command).
ETESTS=""
for t in ${TESTS//,/ }; do
  [ "$t" = publish ] && continue
  if supported "$t"; then ETESTS="${ETESTS:+$ETESTS,}$t"; fi
done
RTESTS="${TESTS//publish/}"; RTESTS="$(echo "$RTESTS" | sed 's/,,/,/g; s/^,//; s/,$//')"

# bench TESTS P N TARGET-ARGS -> "NAME<tab>rps" lines. redis-benchmark 7.0
# has no PUBLISH test: it runs as an explicit command (no subscribers).
bench() {
  local tests="$1" p="$2" n="$3"; shift 3
  if [ -n "$tests" ]; then
    { redis-benchmark "$@" -c "$CLIENTS" -n "$n" -r "$KEYSPACE" -P "$p" -t "$tests" --csv 2>/dev/null || true; } |
      tail -n +2 | tr -d '"' | awk -F, '{print $1 "\t" $2}'
  fi
  if [[ ",$TESTS," == *",publish,"* ]]; then
    { redis-benchmark "$@" -c "$CLIENTS" -n "$n" -P "$p" --csv PUBLISH channel:__rand_int__ hello 2>/dev/null || true; } |
      tail -n +2 | tr -d '"' | awk -F, '{print "PUBLISH\t" $2}'
  fi
}

median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }

echo "emberkv-server vs redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2)," \
  "redis-benchmark -c $CLIENTS -r $KEYSPACE, -n $N1 (-P 1) / $N16 (-P 16), median of $ROUNDS alternating rounds;" \
  "$(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-4s %-40s %14s %14s %8s\n' transport P test redis-server emberkv ratio
for transport in tcp unix; do
  for p in 1 16; do
    n=$N1; [ "$p" = 16 ] && n=$N16
    if [ "$transport" = tcp ]; then
      rargs=(-h 127.0.0.1 -p "$RPORT"); eargs=(-h 127.0.0.1 -p "$EPORT")
    else
      rargs=(-s "$TMP/redis.sock"); eargs=(-s "$TMP/emberkv.sock")
    fi
    : >"$TMP/r.txt"; : >"$TMP/e.txt"
    for round in $(seq 1 "$ROUNDS"); do
      redis-cli -p "$RPORT" FLUSHALL >/dev/null; redis-cli -p "$EPORT" FLUSHALL >/dev/null
      # alternate who goes first, so neither always meets the same load
      if [ $((round % 2)) = 1 ]; then
        bench "$RTESTS" "$p" "$n" "${rargs[@]}" >>"$TMP/r.txt"
        bench "$ETESTS" "$p" "$n" "${eargs[@]}" >>"$TMP/e.txt"
      else
        bench "$ETESTS" "$p" "$n" "${eargs[@]}" >>"$TMP/e.txt"
        bench "$RTESTS" "$p" "$n" "${rargs[@]}" >>"$TMP/r.txt"
      fi
    done
    awk -F'\t' '!seen[$1]++ {print $1}' "$TMP/r.txt" | while IFS= read -r name; do
      rps="$(awk -F'\t' -v n="$name" '$1==n {print $2}' "$TMP/r.txt" | median)"
      erps="$(awk -F'\t' -v n="$name" '$1==n {print $2}' "$TMP/e.txt" | median)"
      if [ -z "$erps" ]; then
        printf '%-8s %-4s %-40s %14s %14s %8s\n' "$transport" "$p" "$name" "$rps" "n/a" "-"
      else
        ratio="$(awk -v a="$erps" -v b="$rps" 'BEGIN {printf "%.2fx", a / b}')"
        printf '%-8s %-4s %-40s %14s %14s %8s\n' "$transport" "$p" "$name" "$rps" "$erps" "$ratio"
      fi
    done
  done
done
