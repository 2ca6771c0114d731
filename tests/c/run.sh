#!/usr/bin/env bash
# C tests of libemberkv (`make test-c`). Builds the library (cargo, normal
# flags), checks that include/emberkv.h is current (ffi/check-header.sh),
# runs ffi's Rust unit tests, then builds every tests/c/test_*.c three ways
# and runs each:
#   - linked to libemberkv.so, C code under AddressSanitizer + UBSan
#   - linked to libemberkv.a,  C code under AddressSanitizer + UBSan
#   - linked to libemberkv.so, under valgrind (memcheck, leaks are errors)
# LeakSanitizer and valgrind see the Rust allocations too (same malloc), so
# "zero leaks" covers the library. Then: the header as strict C and as C++,
# a C++ program, examples/c, and an install into a temporary PREFIX used
# through pkg-config (shared and static).
#
#   PROFILE=debug tests/c/run.sh     test a debug build of the library
#   VALGRIND=0 tests/c/run.sh        skip the valgrind pass
#   ONLY=test_api tests/c/run.sh     one test program
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

PROFILE=${PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
L=$ROOT/$TARGET_DIR/$PROFILE
[ "${TARGET_DIR#/}" != "$TARGET_DIR" ] && L=$TARGET_DIR/$PROFILE
if [ "$PROFILE" = release ]; then cargo build --release -p emberkv-ffi; else cargo build -p emberkv-ffi; fi
echo "== include/emberkv.h and the Rust unit tests of ffi/"
PROFILE=$PROFILE ffi/check-header.sh
cargo test -q -p emberkv-ffi
# The library's soname (ffi/build.rs) names the versioned file: give the
# build tree the link an installed copy has, so -rpath "$L" finds it.
SONAME=$(readelf -d "$L/libemberkv.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$SONAME" ] && ln -sf libemberkv.so "$L/$SONAME"

OUT=$L/ctest
mkdir -p "$OUT"
CC=${CC:-gcc}
CXX=${CXX:-g++}
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -Werror -Iinclude"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# One source of truth for a static link's extra libraries: the .pc template.
PRIVATE_LIBS=$(sed -n 's/^Libs.private: //p' ffi/emberkv.pc.in)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Leaks are errors when "definitely" or "indirectly" lost. Valgrind calls
# blocks reached only through interior pointers "possibly lost": the engine's
# LazyLock'ed hashbrown tables are such (hashbrown points into the middle of
# its allocation); LeakSanitizer, which follows interior pointers, checks
# those above. valgrind.supp documents the known ones.
VG="valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-origins=yes --num-callers=50
    --suppressions=$ROOT/tests/c/valgrind.supp"
USE_VALGRIND=${VALGRIND:-1}
if [ "$USE_VALGRIND" = 1 ] && ! command -v valgrind >/dev/null; then
    echo "note: valgrind not installed, skipping its pass (apt-get install -y valgrind)"
    USE_VALGRIND=0
fi

failed=0
run() { # name, command...
    local name=$1
    shift
    if "$@"; then echo "  ok    $name"; else echo "  FAIL  $name (exit $?)"; failed=$((failed + 1)); fi
}

echo "== header"
run "emberkv.h as C99 -pedantic" $CC -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c include/emberkv.h
run "emberkv.h as C++11 -pedantic" $CXX -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -x c++ include/emberkv.h
$CXX -std=c++11 -g -Wall -Wextra -Werror -Iinclude $SAN tests/c/test_header.cpp -L"$L" -lemberkv -Wl,-rpath,"$L" \
    -o "$OUT/test_header_cpp"
run "C++ program (asan, shared)" "$OUT/test_header_cpp"

for src in tests/c/test_*.c; do
    name=$(basename "$src" .c)
    [ -n "${ONLY:-}" ] && [ "$ONLY" != "$name" ] && continue
    echo "== $name"
    $CC $CFLAGS $SAN "$src" -L"$L" -lemberkv -Wl,-rpath,"$L" -lpthread -lm -o "$OUT/$name.asan-shared"
    $CC $CFLAGS $SAN "$src" "$L/libemberkv.a" $PRIVATE_LIBS -o "$OUT/$name.asan-static"
    run "asan+ubsan, libemberkv.so" "$OUT/$name.asan-shared"
    run "asan+ubsan, libemberkv.a" "$OUT/$name.asan-static"
    if [ "$USE_VALGRIND" = 1 ]; then
        $CC $CFLAGS "$src" -L"$L" -lemberkv -Wl,-rpath,"$L" -lpthread -lm -o "$OUT/$name.plain"
        run "valgrind, libemberkv.so" $VG "$OUT/$name.plain"
    fi
done

if [ -z "${ONLY:-}" ]; then
    echo "== examples/c"
    for src in $(ls examples/c/*.c 2>/dev/null); do
        name=$(basename "$src" .c)
        $CC $CFLAGS $SAN "$src" -L"$L" -lemberkv -Wl,-rpath,"$L" -lpthread -o "$OUT/example_$name"
        run "$name builds; runs (asan)" "$OUT/example_$name" --self-test
    done

    echo "== make install + pkg-config"
    if command -v pkg-config >/dev/null; then
        PREFIX=$(mktemp -d /tmp/emberkv-prefix-XXXXXX)
        make -s install PREFIX="$PREFIX" >"$OUT/install.log" 2>&1 || { cat "$OUT/install.log"; exit 1; }
        export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
        # shellcheck disable=SC2046 # word splitting of pkg-config output is intended
        run "cc app.c \$(pkg-config --cflags --libs emberkv)" \
            $CC tests/c/app_pkgconfig.c $(pkg-config --cflags --libs emberkv) -o "$OUT/app_shared"
        run "  runs (LD_LIBRARY_PATH)" env LD_LIBRARY_PATH="$PREFIX/lib" "$OUT/app_shared"
        run "  needs the soname link" sh -c "readelf -d '$OUT/app_shared' | grep -q 'NEEDED.*libemberkv.so.0'"
        # shellcheck disable=SC2046
        run "static: libemberkv.a + pkg-config --static" \
            $CC tests/c/app_pkgconfig.c $(pkg-config --cflags emberkv) "$(pkg-config --variable=libdir emberkv)/libemberkv.a" \
            $(pkg-config --static --libs-only-l emberkv | sed 's/-lemberkv//') -o "$OUT/app_static"
        run "  runs without the .so" env LD_LIBRARY_PATH=/nonexistent "$OUT/app_static"
        run "  no libemberkv.so dependency" sh -c "! readelf -d '$OUT/app_static' | grep -q libemberkv"
        rm -rf "$PREFIX"
    else
        echo "note: pkg-config not installed, skipping (apt-get install -y pkgconf)"
    fi
fi

if [ "$failed" -ne 0 ]; then
    echo "C tests: $failed FAILED"
    exit 1
fi
echo "C tests: all passed"
