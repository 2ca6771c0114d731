#!/usr/bin/env bash
# Redis's own Tcl test suite (from Debian's `redis` source package, i.e. the
# same 7.0.15 as the redis-server it is compared with) in external-server
# mode against redis-server and emberkv-server, one `runtest --single` per
# test unit, ok/err/ignored counts per unit side by side.
#
#   tests/compat/tcl_suite.sh [out_dir]
#
# Env: UNITS="unit/type/incr ..." for a subset, PER_UNIT_TIMEOUT (s, default
# 240), TAGS (default "-slow -needs:debug -needs:repl -needs:pfdebug"),
# EMBERKV_COMPAT_CACHE, COMPAT_PORT_REDIS/EMBER.
# --ignore-encoding (the suite's own switch for other servers): emberkv's
# OBJECT ENCODING follows Redis 7.2 (listpack lists), the suite is 7.0's, and
# a setup-level encoding assert aborts a whole unit (unit/sort).
# Needs tclsh 8.5+ (Debian: apt-get install tcl) and apt-get for the download
# (a private sources.list with one deb-src line; the system's apt config and
# lists are not touched).
source "$(dirname "$0")/common.sh"

PER_UNIT_TIMEOUT="${PER_UNIT_TIMEOUT:-240}"
TAGS="${TAGS:--slow -needs:debug -needs:repl -needs:pfdebug}"
OUT="${1:-$WORK/tcl}"
mkdir -p "$OUT/redis" "$OUT/ember"
command -v tclsh >/dev/null || { echo "tclsh not found (apt-get install tcl)" >&2; exit 1; }

SUITE="$CACHE/redis-src"
if [[ ! -x "$SUITE/runtest" ]]; then
  A="$CACHE/apt"
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/dl"
  echo "deb-src http://deb.debian.org/debian ${DEBIAN_SUITE:-bookworm} main" >"$A/sources.list"
  APT=(-o "Dir::Etc::SourceList=$A/sources.list" -o "Dir::Etc::SourceParts=$A/none"
       -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache")
  log "fetching Debian's redis source package (apt-get source --download-only)"
  apt-get "${APT[@]}" -qq update
  (cd "$A/dl" && apt-get "${APT[@]}" -qq source --download-only redis)
  rm -rf "$SUITE.tmp"; mkdir -p "$SUITE.tmp"
  tar xzf "$A"/dl/redis_*.orig.tar.gz -C "$SUITE.tmp" --strip-components=1
  # The one harness adaptation: external-server mode calls FUNCTION FLUSH
  # before every start_server block, and an error there aborts the unit.
  # emberkv has no FUNCTION (so nothing to flush): let that call fail quietly.
  # Tests that use functions still run and fail as they should.
  sed -i 's/^    r function flush$/    catch {r function flush}/' "$SUITE.tmp/tests/support/server.tcl"
  grep -q 'catch {r function flush}' "$SUITE.tmp/tests/support/server.tcl"
  # a few units shell out to src/redis-cli / src/redis-benchmark
  for b in redis-cli redis-benchmark; do
    command -v $b >/dev/null && ln -sf "$(command -v $b)" "$SUITE.tmp/src/$b"
  done
  mv "$SUITE.tmp" "$SUITE"
fi

build_ember
start_server redis
start_server ember

cd "$SUITE"
if [[ -z "${UNITS:-}" ]]; then
  UNITS="$(sed -n '/^set ::all_tests {/,/^}/p' tests/test_helper.tcl | grep -E '^\s+(unit|integration)/' | tr -d ' ')"
fi
for u in $UNITS; do
  id="${u//\//__}"
  for which in redis ember; do
    port="$PORT_REDIS"; [[ $which == ember ]] && port="$PORT_EMBER"
    if ! alive "$which"; then
      log "$which-server was down (or -BUSY) before $u: restarting it"
      echo "$u: $which restarted before this unit (down or -BUSY)" >>"$OUT/restarts.txt"
      start_server "$which"
    fi
    log "$which $u"
    set +e
    timeout -k 5 "$PER_UNIT_TIMEOUT" ./runtest --host 127.0.0.1 --port "$port" --single "$u" \
      --durable --clients 1 --timeout 60 --ignore-encoding --tags "$TAGS" </dev/null 2>&1 |
      sed 's/\x1b\[[0-9;]*m//g' >"$OUT/$which/$id.log"
    st=${PIPESTATUS[0]}
    set -e
    if [[ $st == 124 || $st == 137 ]]; then
      echo "[timeout]: unit cut after ${PER_UNIT_TIMEOUT}s" >>"$OUT/$which/$id.log"
    fi
  done
done

{
  echo "## Redis $(cat "$SUITE/src/version.h" | grep -o '"[0-9.]*"' | tr -d '"') Tcl test suite, external-server mode ($(date -u +%F))"
  echo
  versions
  echo "- command: \`tests/compat/tcl_suite.sh\` (\`./runtest --host 127.0.0.1 --port P --single UNIT --durable --clients 1 --timeout 60 --ignore-encoding --tags \"$TAGS\"\`, ${PER_UNIT_TIMEOUT}s per unit)"
  echo
  python3 "$ROOT/tests/compat/tcl_table.py" "$OUT/redis" "$OUT/ember" "$OUT"
} | tee "$OUT/table.md"
log "logs and regressions.txt in $OUT"
