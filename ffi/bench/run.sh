#!/usr/bin/env bash
# FFI overhead: GET / SET through ekv_command from C against Client::execute
# from Rust on the same data (1000 keys, 32-byte values, one client, one
# thread). Release builds. Prints ns per call (CPU time and wall, median of
# 5 runs) and the C overhead over Rust.
#
#   ffi/bench/run.sh [iterations]      default 2,000,000 per operation
#   CALLGRIND=1 ffi/bench/run.sh       also instructions per call (valgrind
#                                      --tool=callgrind; independent of load)
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERS=${1:-2000000}
L=${CARGO_TARGET_DIR:-target}/release
cargo build --release -q -p emberkv-ffi --lib --example bench_execute
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude ffi/bench/bench_command.c -L"$L" -lemberkv \
    -Wl,-rpath,"$PWD/$L" -o "$L/bench_command_shared"
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude ffi/bench/bench_command.c "$L/libemberkv.a" \
    $(sed -n 's/^Libs.private: //p' ffi/emberkv.pc.in) -o "$L/bench_command_static"
SONAME=$(readelf -d "$L/libemberkv.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$SONAME" ] && ln -sf libemberkv.so "$L/$SONAME"

rust=$("$L/examples/bench_execute" "$ITERS")
cso=$("$L/bench_command_shared" "$ITERS")
ca=$("$L/bench_command_static" "$ITERS")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)   iterations: $ITERS per op, median of 5"
printf '%-40s %12s %12s %10s\n' "case" "ns/call cpu" "ns/call wall" "vs rust"
for op in SET GET; do
    r=$(awk -v op=$op '$1==op{print $2}' <<<"$rust")
    printf '%-40s %12s %12s %10s\n' "rust Client::execute $op" "$r" "$(awk -v op=$op '$1==op{print $3}' <<<"$rust")" "-"
    for pair in "c ekv_command $op (libemberkv.so)|$cso" "c ekv_command $op (libemberkv.a)|$ca"; do
        name=${pair%%|*}
        out=${pair#*|}
        c=$(awk -v op=$op '$1==op{print $2}' <<<"$out")
        w=$(awk -v op=$op '$1==op{print $3}' <<<"$out")
        printf '%-40s %12s %12s %9s%%\n' "$name" "$c" "$w" "$(awk -v a="$c" -v b="$r" 'BEGIN{printf "%+.1f", (a/b-1)*100}')"
    done
done

if [ "${CALLGRIND:-0}" = 1 ]; then
    # instructions per call: (Ir(3n) - Ir(n)) / (2n) over both ops and 5 runs each
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
    n=20000
    for b in "rust|$L/examples/bench_execute" "c .so|$L/bench_command_shared" "c .a|$L/bench_command_static"; do
        a1=$(ir "${b#*|}" $n)
        a3=$(ir "${b#*|}" $((3 * n)))
        echo "${b%%|*}: $(((a3 - a1) / (2 * n * 2 * 5))) instructions per call (SET and GET averaged)"
    done
fi
