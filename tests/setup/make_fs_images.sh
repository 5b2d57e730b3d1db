#!/usr/bin/env bash
# Makes real filesystem images for the libblkid tests (tests/probe/
# blockdev_test.cpp), with Debian 12's own mkfs tools: e2fsprogs
# (mkfs.ext4), xfsprogs (mkfs.xfs), btrfs-progs (mkfs.btrfs). Nothing is
# downloaded. Images are sparse files, cached in DIR (build/test-cache/
# fs-images) and remade only when this script changes.
#   make_fs_images.sh DIR
set -euo pipefail
dir=${1:?usage: make_fs_images.sh DIR}
export PATH="$PATH:/usr/sbin:/sbin"
mkdir -p "$dir"
stamp="$dir/.stamp"
want=$(sha256sum "$0" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
rm -f "$dir"/*.img "$stamp"

img() {  # img NAME SIZE: a fresh sparse file
  rm -f "$dir/$1"
  truncate -s "$2" "$dir/$1"
  echo "$dir/$1"
}

# UUIDs and labels are fixed so the tests can compare them.
mkfs.ext4 -q -F -L cvm-ext4 -U 0f3c9a52-6d1e-4b0a-9f57-2e8d4c1b7a01 "$(img ext4.img 32M)"
# xfsprogs 6.1 defaults: v5 (crc=1), ftype=1; 300 MB is its minimum size.
mkfs.xfs -q -f -L cvm-xfs5 -m uuid=1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c01 "$(img xfs-v5.img 300M)"
# The old v4 format, where ftype is a choice: ftype=0 is what breaks
# overlayfs (no d_type); ftype=1 on v4 sets XFS_SB_VERSION2_FTYPE.
mkfs.xfs -q -f -L cvm-xfs4-0 -m crc=0,uuid=1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c02 -n ftype=0 \
  "$(img xfs-v4-ftype0.img 300M)" >/dev/null
mkfs.xfs -q -f -L cvm-xfs4-1 -m crc=0,uuid=1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c03 -n ftype=1 \
  "$(img xfs-v4-ftype1.img 300M)" >/dev/null
mkfs.btrfs -q -f -L cvm-btrfs -U 2b3c4d5e-6f70-4b1c-9d2e-4f5a6b7c8d01 "$(img btrfs.img 128M)" >/dev/null
# An image with no filesystem at all.
img blank.img 1M >/dev/null

echo "$want" > "$stamp"
