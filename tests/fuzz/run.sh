#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for
# SECONDS (default 30) on its seeds. Usage: tests/fuzz/run.sh [SECONDS]
# Crashes land in build-fuzz/crashes/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-30}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCVM_BUILD_FUZZERS=ON \
  -DCVM_BUILD_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(cd build-fuzz/tests/fuzz && ls *.seeds | sed 's/\.seeds$//')
for t in $targets; do cmake --build build-fuzz -j2 --target "${t}_fuzz" >/dev/null; done
for t in $targets; do
  mkdir -p "build-fuzz/crashes/$t" "build-fuzz/corpus/$t"
  # Directories are corpora; single files go in through -seed_inputs (a
  # file argument would make libFuzzer only replay it).
  dirs=() files=()
  while read -r seed; do
    [ -z "$seed" ] && continue
    if [ -d "$seed" ]; then dirs+=("$seed"); else files+=("$seed"); fi
  done <"build-fuzz/tests/fuzz/$t.seeds"
  extra=()
  [ ${#files[@]} -gt 0 ] && extra+=("-seed_inputs=$(IFS=,; echo "${files[*]}")")
  echo "== $t ($secs s)"
  "build-fuzz/tests/fuzz/${t}_fuzz" -max_total_time="$secs" -max_len=65536 \
    -artifact_prefix="build-fuzz/crashes/$t/" "${extra[@]}" "build-fuzz/corpus/$t" "${dirs[@]}" 2>&1 |
    grep -E '^(#[0-9]+ *DONE|Done|==[0-9]+==ERROR|SUMMARY)' || true
done
