#!/usr/bin/env bash
# One entry point for people and CI (README.md):
#   ./make.sh scan [SCAN OPTIONS]   set up, build, scan this machine
#   ./make.sh test                  set up, build, run every test
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
  cmake g++ make pkg-config
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

# The sanitizer tree: clang 14 with ASan and UBSan (CVM_SANITIZE) and the
# libFuzzer targets, in build-asan/. The whole suite runs there too, except
# the umockdev tests (umockdev's LD_PRELOAD does not mix with ASan's
# interposition), then every fuzz target for FUZZ_SECONDS (default 3).
sanitize() {
  if ! grep -qs '^CVM_SANITIZE:BOOL=ON$' build-asan/CMakeCache.txt; then
    CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCVM_SANITIZE=ON -DCVM_BUILD_FUZZERS=ON -DCVM_WERROR=ON >/dev/null
  fi
  cmake --build build-asan -j2
  local status=0
  (cd build-asan &&
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2 -E '^UdevUmockdev$') ||
    status=$?
  FUZZ_BUILD_DIR=build-asan tests/fuzz/run.sh "${FUZZ_SECONDS:-3}" || status=$?
  return $status
}

build() {
  # Warnings are errors here (CVM_WERROR; a plain cmake build keeps them
  # warnings). A tree configured before the option existed is set again.
  if ! grep -qs '^CVM_WERROR:BOOL=ON$' build/CMakeCache.txt; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCVM_WERROR=ON >/dev/null
  fi
  cmake --build build -j2
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
    install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    # node and npm for tests/manifests (Kubernetes schemas, CEL): Debian's
    # unless a node with its own npm (NodeSource's) is already there.
    command -v npm >/dev/null 2>&1 || install_missing nodejs npm
    build
    cd build
    exec ctest --output-on-failure -j2 "$@"
    ;;
  deps)
    install_missing "${BUILD_PACKAGES[@]}" "${IMAGE_PACKAGES[@]}"
    ;;
  sanitize)
    # Not part of `test` (CI): the clang tree takes some 25 minutes to
    # build on two cores.
    install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" clang libclang-rt-14-dev
    sanitize
    ;;
  *)
    echo "usage: ./make.sh scan [OPTIONS] | ./make.sh test [CTEST OPTIONS] | ./make.sh deps | ./make.sh sanitize" >&2
    exit 2
    ;;
esac
