#!/bin/sh
# Test setup (CTest fixture "module_trees"): module directories as a real
# host has them, indexed by the real depmod (Debian's kmod package), for
# tests/probe/kmod_test.cpp. Usage: make_module_trees.sh OUTDIR
#
# depmod reads only the ELF `.modinfo` section of a module, so each
# "module" is a gcc-compiled object whose strings sit in `.modinfo`
# (name=, alias=, license=, vermagic=, depends=), as in a real .ko. The
# names, aliases and paths are those of real kernels:
# - shiftfs: `modinfo shiftfs` on Ubuntu 5.15.0-48-generic
#   (nestybox/sysbox#595): kernel/fs/shiftfs.ko, alias fs-shiftfs, GPL v2.
# - DKMS installs into updates/dkms/ (dkms(8) on Debian/Ubuntu).
# - the other paths are those of the Ubuntu/Debian kernel trees
#   (fs/overlayfs/overlay.ko, fs/fuse/fuse.ko, fs/configfs/configfs.ko,
#   net/bridge/br_netfilter.ko, net/netfilter/nf_tables.ko,
#   net/ipv4/netfilter/ip_tables.ko, fs/binfmt_misc.ko), with the fs-*
#   aliases the kernel sources declare (MODULE_ALIAS_FS).
# Nothing is written outside OUTDIR; the host's /lib/modules is not used.
set -eu
out=$1
work=$out.tmp
rm -rf "$work"
mkdir -p "$work/src"

# mod NAME RELEASE RELPATH [ALIAS...]: compiles a module into a tree.
mod() {
  name=$1 rel=$2 path=$3
  shift 3
  c=$work/src/$name-$rel.c
  {
    echo '#define MI(t, s) static const char t[] __attribute__((section(".modinfo"), used, aligned(1))) = s'
    echo "MI(m_license, \"license=GPL\");"
    echo "MI(m_depends, \"depends=\");"
    echo "MI(m_name, \"name=$name\");"
    echo "MI(m_vermagic, \"vermagic=$rel SMP mod_unload modversions \");"
    i=0
    for a in "$@"; do
      i=$((i + 1))
      echo "MI(m_alias$i, \"alias=$a\");"
    done
  } >"$c"
  dir=$tree/lib/modules/$rel/$(dirname "$path")
  mkdir -p "$dir"
  gcc -c -o "$tree/lib/modules/$rel/$path" "$c"
  echo "$path" >>"$tree/lib/modules/$rel/modules.order"
}

# builtin TREE RELEASE RELPATH: a module built into the kernel.
builtin() {
  mkdir -p "$tree/lib/modules/$2"
  echo "$3" >>"$tree/lib/modules/$2/modules.builtin"
}

# common RELEASE: the CVM modules other than shiftfs, as loadable modules.
common() {
  mod overlay "$1" kernel/fs/overlayfs/overlay.ko fs-overlay
  mod fuse "$1" kernel/fs/fuse/fuse.ko fs-fuse fs-fuseblk char-major-10-229
  mod br_netfilter "$1" kernel/net/bridge/br_netfilter.ko
  mod nf_tables "$1" kernel/net/netfilter/nf_tables.ko nfnetlink-subsys-10
  mod ip_tables "$1" kernel/net/ipv4/netfilter/ip_tables.ko
  mod binfmt_misc "$1" kernel/fs/binfmt_misc.ko fs-binfmt_misc
}

index() {
  touch "$tree/lib/modules/$1/modules.builtin" "$tree/lib/modules/$1/modules.order"
  depmod -b "$tree" "$1" 2>/dev/null
  # As on a real node, modinfo resolves what the index says.
  for m in "$@"; do
    [ "$m" = "$1" ] && continue
    modinfo -b "$tree" -k "$1" -F filename "$m" | grep -q . ||
      { echo "modinfo -b $tree -k $1 $m printed nothing" >&2; exit 1; }
  done
}

# Ubuntu 22.04, kernel 5.15.0-48-generic: in-tree shiftfs, configfs built in.
tree=$work/ubuntu-intree
rel=5.15.0-48-generic
common $rel
mod shiftfs $rel kernel/fs/shiftfs.ko fs-shiftfs
builtin $tree $rel kernel/fs/configfs/configfs.ko
index $rel shiftfs fs-shiftfs overlay fuse br_netfilter nf_tables ip_tables binfmt_misc

# Debian 12 with shiftfs from DKMS (updates/dkms).
tree=$work/debian-dkms
rel=6.1.0-18-amd64
common $rel
mod configfs $rel kernel/fs/configfs/configfs.ko fs-configfs
mod shiftfs $rel updates/dkms/shiftfs.ko fs-shiftfs
index $rel shiftfs fs-shiftfs configfs

# No shiftfs anywhere; overlay and configfs built in.
tree=$work/no-shiftfs-builtin-overlay
rel=6.8.0-31-generic
mod fuse $rel kernel/fs/fuse/fuse.ko fs-fuse
mod br_netfilter $rel kernel/net/bridge/br_netfilter.ko
mod nf_tables $rel kernel/net/netfilter/nf_tables.ko
mod ip_tables $rel kernel/net/ipv4/netfilter/ip_tables.ko
mod binfmt_misc $rel kernel/fs/binfmt_misc.ko fs-binfmt_misc
builtin $tree $rel kernel/fs/overlayfs/overlay.ko
builtin $tree $rel kernel/fs/configfs/configfs.ko
index $rel fuse

# Flatcar: shiftfs insmod-ed from /opt/lib/modules-load.d, not indexed.
tree=$work/flatcar
rel=5.15.32-flatcar
common $rel
mod configfs $rel kernel/fs/configfs/configfs.ko fs-configfs
index $rel overlay
mkdir -p "$tree/opt/lib/modules-load.d"
mod shiftfs $rel ../../../opt/lib/modules-load.d/shiftfs.ko fs-shiftfs
sed -i '/shiftfs/d' "$tree/lib/modules/$rel/modules.order"
if modinfo -b "$tree" -k $rel shiftfs >/dev/null 2>&1; then
  echo "flatcar: shiftfs must not be indexed" >&2
  exit 1
fi

# Compressed modules (Debian 6.x ships .ko.xz, Ubuntu 23.10+ .ko.zst).
tree=$work/compressed
rel=6.5.0-9-generic
common $rel
mod configfs $rel kernel/fs/configfs/configfs.ko fs-configfs
mod shiftfs $rel kernel/fs/shiftfs.ko fs-shiftfs
zstd -q --rm "$tree/lib/modules/$rel/kernel/fs/shiftfs.ko"
xz "$tree/lib/modules/$rel/kernel/fs/overlayfs/overlay.ko"
sed -i -e 's|shiftfs.ko$|shiftfs.ko.zst|' -e 's|overlay.ko$|overlay.ko.xz|' \
  "$tree/lib/modules/$rel/modules.order"
index $rel shiftfs overlay

# xzmods RELEASE: compresses every module of the tree as EL kernels ship
# them (kernel-modules*.rpm install .ko.xz) and renames them in
# modules.order, before `index`.
xzmods() {
  find "$tree/lib/modules/$1" -name '*.ko' -exec xz {} +
  sed -i 's|\.ko$|.ko.xz|' "$tree/lib/modules/$1/modules.order"
}

# RHEL CoreOS 4.2 (RHEL 8.0 kernel 4.18.0-80.11.2.el8_0.x86_64), no shiftfs
# (no EL kernel ships it). Paths: overlay is `filename:
# /lib/modules/4.18.0-80.11.2.el8_0.x86_64/kernel/fs/overlayfs/overlay.ko.xz`,
# `alias: fs-overlay` in that node's sosreport
# (jds2001/coreos-sosreport-master1:sos_commands/kernel/modinfo_ALL_MODULES
# @57eb4b29e69454c018674b83f8b39f4a78f0f0dd); the others are the kernel
# Makefile paths (fs/fuse, net/bridge, net/netfilter, net/ipv4/netfilter,
# fs/binfmt_misc.o). Built in or module as the EL8 kernel config says
# (nyrahul/linux-kernel-configs:CentOS Linux 8/4.18.0-240.1.1.el8_3.x86_64/
# bootconfig.md@1a7bf4cf): CONFIG_CONFIGFS_FS=y; OVERLAY_FS, FUSE_FS,
# BRIDGE_NETFILTER, NF_TABLES, IP_NF_IPTABLES, BINFMT_MISC =m.
tree=$work/el8-rhcos-4.2
rel=4.18.0-80.11.2.el8_0.x86_64
common $rel
builtin $tree $rel kernel/fs/configfs/configfs.ko
xzmods $rel
index $rel overlay fs-overlay fuse br_netfilter nf_tables ip_tables binfmt_misc
if modinfo -b "$tree" -k $rel shiftfs >/dev/null 2>&1; then
  echo "el8-rhcos-4.2: no shiftfs expected" >&2
  exit 1
fi

# Ubuntu 18.04 on a mainline-PPA 5.4 kernel (fixtures/ubuntu-18.04-mainline-5.4-no-shiftfs):
# kernel.ubuntu.com's mainline builds carry no Ubuntu SAUCE patches, so no
# shiftfs (an Ubuntu-only patch). The modules of `common`, as Ubuntu's
# config builds them (overlay, br_netfilter, ip_tables are loaded modules in
# that node's /proc/modules); configfs built in as in the other Ubuntu trees.
tree=$work/ubuntu-mainline-5.4
rel=5.4.23-050423-generic
common $rel
builtin $tree $rel kernel/fs/configfs/configfs.ko
index $rel overlay fuse br_netfilter nf_tables ip_tables binfmt_misc
if modinfo -b "$tree" -k $rel shiftfs >/dev/null 2>&1; then
  echo "ubuntu-mainline-5.4: no shiftfs expected" >&2
  exit 1
fi

# Artix Linux on a self-built 5.17 kernel from the staging tree
# (fixtures/artix-5.17-no-shiftfs): mainline has no shiftfs. Built in or
# module as the .config attached to that node's bug report says
# (linux-kernel, 2022-07-08, "PROBLEM: dmesg tracedumps on rtsx_usb module
# loading during boot"): CONFIG_BINFMT_MISC=y, CONFIG_CONFIGFS_FS=y;
# CONFIG_NF_TABLES=m, CONFIG_IP_NF_IPTABLES=m; CONFIG_OVERLAY_FS,
# CONFIG_FUSE_FS and CONFIG_BRIDGE_NETFILTER not set (a trimmed config), so
# those have no module at all; CONFIG_MODULE_COMPRESS_ZSTD=y, so .ko.zst.
tree=$work/artix-5.17
rel=5.17.0-12897-g9ae2a143081f
mod nf_tables $rel kernel/net/netfilter/nf_tables.ko nfnetlink-subsys-10
mod ip_tables $rel kernel/net/ipv4/netfilter/ip_tables.ko
find "$tree/lib/modules/$rel" -name '*.ko' -exec zstd -q --rm {} +
sed -i 's|\.ko$|.ko.zst|' "$tree/lib/modules/$rel/modules.order"
builtin $tree $rel kernel/fs/binfmt_misc.ko
builtin $tree $rel kernel/fs/configfs/configfs.ko
index $rel nf_tables ip_tables
if modinfo -b "$tree" -k $rel shiftfs >/dev/null 2>&1; then
  echo "artix-5.17: no shiftfs expected" >&2
  exit 1
fi

# A module directory depmod never indexed.
tree=$work/unindexed
rel=5.15.0-48-generic
mod shiftfs $rel kernel/fs/shiftfs.ko fs-shiftfs

rm -rf "$work/src" "$out"
mv "$work" "$out"
