#!/usr/bin/env bash
# The binary links only what every command needs. librpm (and the ten
# libraries it pulls in) is dlopened by the rpm child (probe/detail/librpm.h),
# libarchive (which pulls in libxml2 and libicu)
# by the workspace-image unpacker (probe/detail/libarchive.h), libkmod
# (with libcrypto, libzstd, liblzma) by the modules probe on a root with a
# module index (probe/detail/libkmod.h): a one-shot `scan` or `--version`
# must not load them. Built with CVM_STATIC_LIBS (the default, given as
# STATIC), yaml-cpp, zlib, libblkid and libcrypt are in the binary and
# must not be NEEDED either. libcurl is used by no build at all any more
# (the Kubernetes client has its own transport, exporter/kube/https.h).
# Fails if any comes back as a NEEDED
# entry, and prints the list.
# Usage: needed_libraries.sh BINARY [STATIC]
set -euo pipefail
needed=$(objdump -p "$1" | awk '/NEEDED/ {print $2}')
echo "NEEDED of $1 ($(echo "$needed" | wc -l)):" $needed
bad=0
dlopened=(librpm librpmio libcurl libarchive libkmod)
if [ "${2:-}" = STATIC ]; then
  dlopened+=(libyaml-cpp libz libblkid libcrypt)
fi
for lib in "${dlopened[@]}"; do
  if echo "$needed" | grep -q "^$lib\.so"; then
    echo "$lib is a NEEDED entry; it must be dlopened or linked statically" >&2
    bad=1
  fi
done
exit $bad
