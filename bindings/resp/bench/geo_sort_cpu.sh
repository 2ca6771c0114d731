#!/bin/bash
# Server CPU per request for GEO and SORT commands, emberkv-server vs
# redis-server on the same data: utime+stime of each server from /proc
# (10 ms ticks) around `redis-benchmark -n N -c 10`, ROUNDS times each.
# Load-independent enough for a shared machine, unlike throughput.
# usage: bindings/resp/bench/geo_sort_cpu.sh [N] [ROUNDS]   (FILTER=SORT: only those)
set -eu
N=${1:-20000}; ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
EMBER=${EMBERKV_SERVER:-$ROOT/target/release/emberkv-server}
W=$(mktemp -d /tmp/geo_sort_cpu.XXXX)
# 10,000 points around Sicily; a 1,000-integer list with weights and objects
python3 - "$W/load.resp" <<'PY'
import random, sys
random.seed(7)
out = []
def cmd(*a):
    s = "*%d\r\n" % len(a)
    for x in a:
        x = str(x); s += "$%d\r\n%s\r\n" % (len(x.encode()), x)
    out.append(s)
for b in range(100):
    args = ["GEOADD", "g"]
    for i in range(100):
        args += ["%.6f" % random.uniform(12, 16), "%.6f" % random.uniform(36.5, 39.5), "p%d_%d" % (b, i)]
    cmd(*args)
vals = [random.randint(0, 10**6) for _ in range(1000)]
for i in range(0, 1000, 100):
    cmd("RPUSH", "l", *vals[i:i + 100])
for v in vals:
    cmd("SET", "w_%d" % v, random.randint(0, 10**6))
    cmd("SET", "o_%d" % v, "obj%d" % v)
open(sys.argv[1], "w").write("".join(out))
PY
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
redis-server --port 23181 --dir "$W" --save "" --appendonly no >"$W/redis.log" 2>&1 &
RP=$!
"$EMBER" --port 23182 --dir "$W" --save "" --appendonly no >"$W/ember.log" 2>&1 &
EP=$!
trap 'kill $RP $EP; rm -rf "$W"' EXIT
sleep 0.5
for p in 23181 23182; do redis-cli -p $p --pipe <"$W/load.resp" >/dev/null; done
TESTS=(
  "GEOSEARCH g FROMLONLAT 14 38 BYRADIUS 20 km ASC COUNT 10 WITHDIST"
  "GEOSEARCH g FROMLONLAT 14 38 BYBOX 40 40 km WITHCOORD"
  "GEORADIUSBYMEMBER g p5_5 10 km"
  "GEODIST g p1_1 p2_2 km"
  "GEOPOS g p1_1 p2_2"
  "SORT l LIMIT 0 10"
  "SORT l BY w_* GET o_* LIMIT 0 10"
  "SORT l ALPHA LIMIT 0 10"
)
for t in "${TESTS[@]}"; do
  [[ -n "${FILTER:-}" && "$t" != *"$FILTER"* ]] && continue
  for which in redis ember; do
    pid=$RP; port=23181; [[ $which == ember ]] && { pid=$EP; port=23182; }
    res=""
    for _ in $(seq "$ROUNDS"); do
      c0=$(cpu $pid); redis-benchmark -p $port -n "$N" -c 10 -q $t >/dev/null 2>&1; c1=$(cpu $pid)
      res="$res $(awk -v a="$c0" -v b="$c1" -v n="$N" 'BEGIN{printf "%.1f", (b-a)*10000/n}')"
    done
    echo "$which | $t |$res µs/request"
  done
done
