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
    # Instructions per call: (Ir(3n) - Ir(n)) / (2n * 5 runs), per operation.
    # "SET" runs the SET loop only; "GET" runs SET then GET, so GET's count
    # is the difference of the two.
    ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
    n=20000
    printf '%-40s %12s %12s %10s\n' "instructions per call (callgrind)" "SET" "GET" "vs rust"
    for b in "rust Client::execute|$L/examples/bench_execute" "c ekv_command (.so)|$L/bench_command_shared" \
        "c ekv_command (.a)|$L/bench_command_static"; do
        bin=${b#*|}
        set1=$(ir "$bin" $n SET) set3=$(ir "$bin" $((3 * n)) SET)
        all1=$(ir "$bin" $n GET) all3=$(ir "$bin" $((3 * n)) GET)
        set=$(((set3 - set1) / (2 * n * 5)))
        get=$((((all3 - all1) - (set3 - set1)) / (2 * n * 5)))
        [ -z "${rust_set:-}" ] && rust_set=$set rust_get=$get
        printf '%-40s %12s %12s %10s\n' "${b%%|*}" "$set" "$get" \
            "$(awk -v s=$set -v g=$get -v rs=$rust_set -v rg=$rust_get 'BEGIN{printf "%+.0f%%/%+.0f%%", (s/rs-1)*100, (g/rg-1)*100}')"
    done
fi
