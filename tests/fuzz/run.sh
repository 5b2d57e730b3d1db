#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 30) on its seeds. Usage: tests/fuzz/run.sh [SECONDS]
# Crashes land in $FUZZ_BUILD_DIR/crashes/<target>/ (default $dir/);
# exits 1 when any target crashed, leaked or timed out (each artifact is a
# regression test to add to the target's seeds). make.sh test runs it for a
# few seconds a target in the sanitizer tree (FUZZ_BUILD_DIR=build-asan).
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$dir/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$dir" -DCVM_BUILD_FUZZERS=ON \
    -DCVM_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
targets=$(cd "$dir/tests/fuzz" && ls *.seeds | sed 's/\.seeds$//')
fuzzers=()
for t in $targets; do fuzzers+=("${t}_fuzz"); done
cmake --build "$dir" -j2 --target "${fuzzers[@]}" >/dev/null
for t in $targets; do
  mkdir -p "$dir/crashes/$t" "$dir/corpus/$t"
  # Directories are corpora; single files go in through -seed_inputs (a
  # file argument would make libFuzzer only replay it).
  dirs=() files=()
  while read -r seed; do
    [ -z "$seed" ] && continue
    if [ -d "$seed" ]; then dirs+=("$seed"); else files+=("$seed"); fi
  done <"$dir/tests/fuzz/$t.seeds"
  extra=()
  [ ${#files[@]} -gt 0 ] && extra+=("-seed_inputs=$(IFS=,; echo "${files[*]}")")
  echo "== $t ($secs s)"
  "$dir/tests/fuzz/${t}_fuzz" -max_total_time="$secs" -max_len=65536 \
    -artifact_prefix="$dir/crashes/$t/" "${extra[@]}" "$dir/corpus/$t" "${dirs[@]}" 2>&1 |
    grep -E '^(#[0-9]+ *DONE|Done|==[0-9]+==ERROR|SUMMARY)' || true
done
crashes=$(find "$dir/crashes" -type f | wc -l)
if [ "$crashes" -gt 0 ]; then
  echo "fuzz: $crashes artifacts in $dir/crashes:" >&2
  find "$dir/crashes" -type f >&2
  exit 1
fi
echo "fuzz: $(echo $targets | wc -w) targets, $secs s each, no crash"
