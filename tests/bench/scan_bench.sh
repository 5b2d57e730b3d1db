#!/usr/bin/env bash
# Issue 19's benchmark, one command, one table: whole-process CPU (children
# included), wall time and peak RSS of cvm-preflight's commands and of a
# whole scan of / and of fixture roots, beside the shell equivalent
# (shell_equivalent.sh) and Kubernetes' system-validators, interleaved in
# one run (scan_bench.cpp says how). Prints figures, asserts none.
#
# Usage: tests/bench/scan_bench.sh [BUILD_DIR [RUNS]]
#   default build/ and 31 runs; the CTest smoke runs 2.
#   CVM_BENCH_BASELINE=BIN adds BIN's --version and scan of / (another
#   build, say of the tree before a change) to the same rounds.
# system-validators is built (once) from Debian's
# golang-k8s-system-validators-dev with Debian's golang-go in GOPATH mode,
# offline; without them the table says what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
runs=${2:-31}
fixtures=(ubuntu-22.04-sysbox-0.5.0 rocky-9.5-k8s-1.33)

validators=() why=
gocode=/usr/share/gocode/src/k8s.io/system-validators/validators
out=$build/tests/bench/system-validators
if ! command -v go >/dev/null; then
  why="no go (apt-get install golang-go)"
elif [ ! -d "$gocode" ]; then
  why="no $gocode (apt-get install golang-k8s-system-validators-dev)"
else
  if [ ! -x "$out" ] || [ "$here/system_validators/main.go" -nt "$out" ]; then
    gopath=$build/tests/bench/gopath
    rm -rf "$gopath"
    mkdir -p "$gopath/src/svbench"
    cp "$here/system_validators/main.go" "$gopath/src/svbench/"
    if ! log=$(GO111MODULE=off GOPATH="$gopath:/usr/share/gocode" GOCACHE="$gopath/cache" \
      GOPROXY=off GOFLAGS= go build -o "$out" svbench 2>&1); then
      why="go build failed: $(echo "$log" | head -1)"
    fi
  fi
  [ -z "$why" ] && validators=(--validators "$out")
fi
args=(--cvm "$build/cvm-preflight" --shell "$here/shell_equivalent.sh" --runs "$runs")
for f in "${fixtures[@]}"; do args+=(--fixture "$f"); done
if [ ${#validators[@]} -gt 0 ]; then
  args+=("${validators[@]}")
else
  args+=(--validators-missing "$why")
fi
if [ -n "${CVM_BENCH_BASELINE:-}" ]; then
  args+=(--baseline "$CVM_BENCH_BASELINE")
fi
exec "$build/tests/bench/scan_bench" "${args[@]}"
