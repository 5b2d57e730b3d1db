#!/usr/bin/env bash
# The build a user or packager makes: CMAKE_BUILD_TYPE=Release (-O3
# -DNDEBUG), no tests, warnings as errors so that a warning this compiler
# gives at -O3 only fails here rather than in someone's package build
# (g++ 12's false -Wrestrict did, issue 18). Then the Release binary
# must write the same report as the test build's binary on every fixture.
# Usage: release_build.sh SOURCE_DIR BUILD_DIR TEST_BINARY C_COMPILER CXX_COMPILER
set -euo pipefail
src=$1 dir=$2 test_bin=$3 cc=$4 cxx=$5
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCVM_WERROR=ON \
  -DCVM_BUILD_TESTS=OFF -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$dir" -j2 --target cvm-preflight
release_bin=$dir/cvm-preflight

# Durations change from run to run; everything else must be equal.
report() {
  local code=0
  NO_COLOR=1 "$1" scan --root "$2" --format json >"$3" 2>&1 || code=$?
  sed -i 's/"duration_seconds": [0-9.e+-]*/"duration_seconds": 0/' "$3"
  echo "exit $code" >>"$3"
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
for root in "$src"/fixtures/*/root; do
  report "$test_bin" "$root" "$tmp/want"
  report "$release_bin" "$root" "$tmp/got"
  if ! diff -u "$tmp/want" "$tmp/got" >"$tmp/diff"; then
    echo "Release binary differs on $root:"
    head -40 "$tmp/diff"
    bad=$((bad + 1))
  fi
  n=$((n + 1))
done
echo "Release build: $n fixtures scanned, $bad differ"
[ "$bad" -eq 0 ] && [ "$n" -gt 0 ]
