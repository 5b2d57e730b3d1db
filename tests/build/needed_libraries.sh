#!/usr/bin/env bash
# The binary links only what every command needs. librpm (and the ten
# libraries it pulls in) is dlopened by the rpm child (probe/detail/librpm.h),
# libcurl (sixteen more) by the first Kubernetes client
# (exporter/kube/libcurl.h), libarchive (which pulls in libxml2 and libicu)
# by the workspace-image unpacker (probe/detail/libarchive.h): a one-shot `scan` or `--version` must not load
# them. Fails if any comes back as a NEEDED entry, and prints the list.
# Usage: needed_libraries.sh BINARY
set -euo pipefail
needed=$(objdump -p "$1" | awk '/NEEDED/ {print $2}')
echo "NEEDED of $1 ($(echo "$needed" | wc -l)):" $needed
bad=0
for lib in librpm librpmio libcurl libarchive; do
  if echo "$needed" | grep -q "^$lib\.so"; then
    echo "$lib is linked; it must be loaded at run time only" >&2
    bad=1
  fi
done
exit $bad
