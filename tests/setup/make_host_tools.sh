#!/bin/sh
# Test setup (CTest fixture "host_tools"): the real executables behind
# rsync, modprobe and iptables on a Debian 12 host, for fixtures whose
# `overlays` place them (fixtures/debian-12, firecracker-debian-12-hybrid).
# They are copied from this machine's Debian 12 packages, which make.sh
# installs (TEST_PACKAGES): kmod (/usr/bin/kmod, the target of the
# /usr/sbin/modprobe link), rsync (/usr/bin/rsync), iptables
# (/usr/sbin/xtables-nft-multi, the target of iptables-nft). The fixtures
# commit only the symlinks as Debian lays them out; binaries are never
# committed. Usage: make_host_tools.sh OUTDIR
set -eu
out=$1
work=$out.tmp
rm -rf "$work"
mkdir -p "$work/debian-12"
for f in /usr/bin/kmod /usr/bin/rsync /usr/sbin/xtables-nft-multi; do
  if [ ! -f "$f" ] || [ ! -x "$f" ]; then
    echo "make_host_tools.sh: $f is missing; install kmod, rsync and iptables (./make.sh test does)" >&2
    exit 1
  fi
  cp "$f" "$work/debian-12/$(basename "$f")"
done
rm -rf "$out"
mv "$work" "$out"
