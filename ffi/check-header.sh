#!/usr/bin/env bash
# Fails when include/emberkv.h is stale: when building ffi/ (whose build.rs
# regenerates the header with cbindgen) changes it, when it differs from the
# committed copy, or when cbindgen could not run. CI runs this; after a
# failure the regenerated header is in place: review and commit it.
#
#   ffi/check-header.sh              (PROFILE=debug for a debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
before=$(mktemp)
log=$(mktemp)
trap 'rm -f "$before" "$log"' EXIT
cp include/emberkv.h "$before"

flag=; [ "$PROFILE" = release ] && flag=--release
if ! cargo build $flag -p emberkv-ffi >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
if grep -q "cbindgen failed" "$log"; then
    grep "cbindgen failed" "$log" >&2
    echo "include/emberkv.h: cbindgen could not regenerate it" >&2
    exit 1
fi
if ! cmp -s "$before" include/emberkv.h; then
    echo "include/emberkv.h was stale; the build regenerated it:" >&2
    diff -u "$before" include/emberkv.h >&2 || true
    exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    ! git diff --quiet HEAD -- include/emberkv.h; then
    echo "include/emberkv.h differs from the committed copy: commit it" >&2
    git --no-pager diff --stat HEAD -- include/emberkv.h >&2
    exit 1
fi
echo "include/emberkv.h is up to date"
