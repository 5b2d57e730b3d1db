#!/usr/bin/env bash
# One entry point for people and CI (README.md):
#   ./make.sh scan [SCAN OPTIONS]   set up, build, scan this machine
#   ./make.sh test [CTEST OPTIONS]  set up, build, run every test: the g++
#                                   tree, then the sanitizer tree (clang,
#                                   ASan + UBSan) and the fuzzers; with
#                                   SANITIZE=0 the g++ tree only
#   ./make.sh sanitize              only the sanitizer tree and the fuzzers
#   ./make.sh deps                  only install what the build needs
#                                   (the Dockerfile's build stage)
# Each installs the Debian packages it is missing (as root, or through
# sudo), configures once and builds incrementally into build/.
set -euo pipefail
caller_dir=$PWD  # scan options such as --root stay relative to where you ran it
repo=$(cd "$(dirname "$0")" && pwd)
cd "$repo"

# Debian 12 packages. Build: what the binary links. Test: what the test
# suites use on top (real tools whose output the tests read).
BUILD_PACKAGES=(
  cmake g++ make ninja-build pkg-config
  libkmod-dev libblkid-dev libudev-dev zlib1g-dev
  nlohmann-json3-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev libtomlplusplus-dev librpm-dev
  libcivetweb-dev libssl-dev libcrypt-dev
  libarchive-dev
)
# The container image's root filesystem (image/make_rootfs.sh): readelf
# and strip, dpkg-query for the licences, the CA bundle.
IMAGE_PACKAGES=(binutils dpkg ca-certificates)
TEST_PACKAGES=(
  kmod xz-utils zstd
  umockdev libumockdev-dev udev
  e2fsprogs xfsprogs btrfs-progs
  libbenchmark-dev pciutils
  rpm dpkg-dev
  rsync iptables
  prometheus python3-yaml wrk prometheus-node-exporter
  python3 openssl curl apache2-utils
  libcurl4-openssl-dev  # the kube tests' control-port helper (tests/kube/test_server.cpp)
  buildah umoci skopeo "${IMAGE_PACKAGES[@]}"
  debootstrap
)
# The sanitizer tree: clang 14, its ASan/UBSan/libFuzzer runtimes, lld.
SANITIZE_PACKAGES=(clang libclang-rt-14-dev lld)

install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "make.sh: installing Debian packages: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "make.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 2; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# configure DIR ARGS...: configures DIR once with ARGS (with Ninja when the
# tree is new and ninja is there), and again when ARGS change; make.sh keeps
# the ARGS it last used in DIR/make.sh.config.
configure() {
  local dir=$1
  shift
  local want
  want=$(printf '%s\n' "$@")
  if [ -f "$dir/CMakeCache.txt" ] && [ "$(cat "$dir/make.sh.config" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  local gen=()
  if [ ! -f "$dir/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
  cmake -S . -B "$dir" "${gen[@]}" "$@" >/dev/null || return
  printf '%s\n' "$want" >"$dir/make.sh.config"
}

# The tree people and CI build: g++, RelWithDebInfo, warnings as errors
# (CVM_WERROR; a plain cmake build keeps them warnings). Debug information
# is -g1 (functions and lines, enough for a backtrace; a compile takes some
# 10-20% less than with -g); configure a tree of your own for a debugger.
# Without the sanitizer stage the fuzz targets' replays run here.
build() {
  local replay=${1:-ON}
  configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCVM_WERROR=ON -DCVM_FUZZ_REPLAY="$replay" || return
  cmake --build build -j2
}

# The sanitizer tree: clang 14 with ASan and UBSan (CVM_SANITIZE) and the
# libFuzzer targets, in build-asan/, at -O1 with line tables only, linked
# by lld. It shares the g++ tree's test cache (debootstrap roots, mkfs
# images, package downloads: made once). The whole suite runs there too,
# the fuzz replays included, except the umockdev tests (umockdev's
# LD_PRELOAD does not mix with ASan's interposition) and the container
# image (it carries the g++ tree's binary); then every fuzz
# target for FUZZ_SECONDS (default 3) with libFuzzer. Arguments go to ctest.
sanitize() {
  CC=clang CXX=clang++ configure build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld \
    -DCVM_SANITIZE=ON -DCVM_BUILD_FUZZERS=ON -DCVM_WERROR=ON \
    -DCVM_TEST_CACHE="$repo/build/test-cache"
  phase "sanitizer tree built" cmake --build build-asan -j2
  local status=0
  phase "sanitizer tree tested" bash -c 'cd build-asan &&
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 exec ctest --output-on-failure -j2 -E "^UdevUmockdev$" "$@"' ctest "$@" ||
    status=$?
  phase "fuzzers run" env FUZZ_BUILD_DIR=build-asan tests/fuzz/run.sh "${FUZZ_SECONDS:-3}" || status=$?
  return $status
}

# Phases with their wall time on stderr, so a slow CI run says where.
phase() {
  local name=$1 start=$SECONDS status=0
  shift
  echo "make.sh: $name ..." >&2
  "$@" || status=$?
  echo "make.sh: $name: $((SECONDS - start)) s$([ $status -eq 0 ] || echo ", FAILED (exit $status)")" >&2
  return $status
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  scan)
    install_missing "${BUILD_PACKAGES[@]}"
    build >&2
    cd "$caller_dir"
    exec "$repo/build/cvm-preflight" scan "$@"
    ;;
  test)
    sanitize_stage=${SANITIZE:-1}
    pkgs=("${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}")
    [ "$sanitize_stage" = 0 ] || pkgs+=("${SANITIZE_PACKAGES[@]}")
    install_missing "${pkgs[@]}"
    # node and npm for tests/manifests (Kubernetes schemas, CEL): Debian's
    # unless a node with its own npm (NodeSource's) is already there.
    command -v npm >/dev/null 2>&1 || install_missing nodejs npm
    if [ "$sanitize_stage" = 0 ]; then
      phase "g++ tree built" build ON
      cd build
      exec ctest --output-on-failure -j2 "$@"
    fi
    # The fuzz replays run in the sanitizer tree only (under ASan and UBSan).
    phase "g++ tree built" build OFF
    phase "g++ tree tested" bash -c 'cd build && exec ctest --output-on-failure -j2 "$@"' ctest "$@"
    sanitize "$@"
    ;;
  deps)
    install_missing "${BUILD_PACKAGES[@]}" "${IMAGE_PACKAGES[@]}"
    ;;
  sanitize)
    install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${SANITIZE_PACKAGES[@]}"
    sanitize
    ;;
  *)
    echo "usage: ./make.sh scan [OPTIONS] | ./make.sh test [CTEST OPTIONS] | ./make.sh deps | ./make.sh sanitize" >&2
    exit 2
    ;;
esac
