#!/usr/bin/env bash
# Test setup (CTest fixture "workspace_roots"): real workspace image roots
# for `cvm-preflight image` and the workspace-image probe.
#   tests/setup/make_workspace_roots.sh CACHE_DIR
#
# good/  Debian 12 built with Debian's debootstrap (--variant=minbase
#        bookworm, from deb.debian.org), then set up as the Coder docs'
#        Dockerfile example does (coder/docs@e77433ee, reference 7.8):
#        `apt-get install --no-install-recommends systemd docker.io git curl
#        sudo` in the chroot, `ln -s /lib/systemd/systemd /sbin/init` (the
#        docs' line; Debian's systemd-sysv package ships the same link,
#        /sbin/init -> /lib/systemd/systemd), `systemctl enable docker`.
#        A policy-rc.d keeps services from starting during the install.
#        build-essential is left out (about 250 MB with gcc and g++), so the
#        good root shows that warning.
# Broken variants, each `cp -al` of good/ with one thing replaced (a file
# is removed or replaced, never edited in place: the copies share inodes):
#   no-init            /sbin/init removed
#   init-not-systemd   /sbin/init a shell script
#   docker-missing     docker.io purged with dpkg in the chroot
#   docker-not-enabled the docker.service and docker.socket wants links removed
#   socket-only        only docker.socket enabled (sockets.target.wants)
#   tmp-files          files left in /tmp
#   packages-missing   git, curl and sudo purged with dpkg in the chroot
#   era-1.5.11         runc and containerd owned by Docker's containerd.io
#                      1.5.11-1: dpkg stanza and .list from
#                      fixtures/ubuntu-20.04-containerd-io-1.5.11 (its
#                      SOURCES.md says where they come from); the binaries
#                      stay Debian's (containerd.io's cannot be downloaded
#                      here), and the version comes from the package
#                      database as it would on a real image
#   no-package-db      /var/lib/dpkg removed (a docker export of a
#                      distroless-style image): Debian's runc carries no
#                      version in its Go build info (-trimpath), so runc's
#                      version is unknown
# Cached: CACHE_DIR/stamp holds this script's sha256 and the fixture
# file's; a matching stamp skips everything. The debs debootstrap and apt
# fetch are kept in CACHE_DIR/debs and CACHE_DIR/apt-archives.
set -euo pipefail
cache=${1:?usage: make_workspace_roots.sh CACHE_DIR}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
era_fixture=$src/fixtures/ubuntu-20.04-containerd-io-1.5.11/root/var/lib/dpkg
stamp=$(cat "$0" "$era_fixture/status" "$era_fixture/info/containerd.io.list" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$cache/stamp" 2>/dev/null)" = "$stamp" ] && [ -d "$cache/roots/good" ]; then
  echo "workspace roots: cached in $cache/roots"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "make_workspace_roots: needs root (debootstrap, chroot)" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "make_workspace_roots: debootstrap is not installed (./make.sh installs it)" >&2
  exit 1
}
# debootstrap mounts proc and sys (and in a container may bind /dev) in
# the target while it runs and unmounts them at its end; a run that was
# killed can leave them. Nothing is removed under a mount point.
unmount_under() {
  local dir=$1 m
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  awk -v d="$dir/" '{ gsub(/\\040/, " ", $2); if (index($2 "/", d) == 1) print $2 }' /proc/mounts |
    sort -r | while read -r m; do umount -l "$m"; done
}
trap 'unmount_under "$cache/roots.tmp"' EXIT
start=$(date +%s)
mkdir -p "$cache/debs" "$cache/apt-archives"
unmount_under "$cache/roots.tmp"
unmount_under "$cache/roots"
rm -rf "$cache/roots.tmp" "$cache/stamp"
mkdir -p "$cache/roots.tmp"
good=$cache/roots.tmp/good

debootstrap --variant=minbase --cache-dir="$cache/debs" bookworm "$good" \
  http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 || {
  tail -20 "$cache/debootstrap.log" >&2
  exit 1
}

# In the chroot: name resolution from the host, no service starts, the
# apt archive cache outside the root (bind mounts are not used: nothing of
# the host is mounted into the root).
cp /etc/resolv.conf "$good/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$good/usr/sbin/policy-rc.d"
chmod 755 "$good/usr/sbin/policy-rc.d"
cp -a "$cache/apt-archives/." "$good/var/cache/apt/archives/" 2>/dev/null || true
in_root() { chroot "$good" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
in_root apt-get update -qq
in_root apt-get install -y -qq --no-install-recommends systemd docker.io git curl sudo \
  >"$cache/apt.log" 2>&1 || { tail -20 "$cache/apt.log" >&2; exit 1; }
in_root ln -s /lib/systemd/systemd /sbin/init
in_root systemctl enable docker >>"$cache/apt.log" 2>&1
cp -a "$good/var/cache/apt/archives/." "$cache/apt-archives/"
in_root apt-get clean
rm -f "$good/usr/sbin/policy-rc.d"
: >"$good/etc/resolv.conf"
rm -rf "$good/var/lib/apt/lists/"*

variant() {  # variant NAME: a hard-linked copy of good/
  cp -al "$good" "$cache/roots.tmp/$1"
  echo "$cache/roots.tmp/$1"
}
# dpkg rewrites its database and /etc/group by writing a new file and
# renaming it, but these are copied first anyway so no step can reach the
# good root's inodes.
unshare_files() {
  local root=$1 f
  for f in var/lib/dpkg/status etc/passwd etc/group etc/shadow etc/gshadow; do
    [ -e "$root/$f" ] || continue
    cp -p "$root/$f" "$root/$f.copy" && mv "$root/$f.copy" "$root/$f"
  done
}
purge() {  # purge ROOT PACKAGE...
  local root=$1
  shift
  unshare_files "$root"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SUDO_FORCE_REMOVE=yes \
    DEBIAN_FRONTEND=noninteractive dpkg --purge "$@" >>"$cache/apt.log" 2>&1
  rm -f "$root/usr/sbin/policy-rc.d"
}

v=$(variant no-init)
rm "$v/usr/sbin/init"

v=$(variant init-not-systemd)
rm "$v/usr/sbin/init"
printf '#!/bin/sh\n# a start script in place of an init system\nexec /bin/bash -l\n' >"$v/usr/sbin/init"
chmod 755 "$v/usr/sbin/init"

v=$(variant docker-missing)
purge "$v" docker.io

v=$(variant docker-not-enabled)
rm "$v/etc/systemd/system/multi-user.target.wants/docker.service"
rm -f "$v/etc/systemd/system/sockets.target.wants/docker.socket"

v=$(variant socket-only)
rm "$v/etc/systemd/system/multi-user.target.wants/docker.service"
[ -L "$v/etc/systemd/system/sockets.target.wants/docker.socket" ] ||
  ln -s /lib/systemd/system/docker.socket "$v/etc/systemd/system/sockets.target.wants/docker.socket"

v=$(variant tmp-files)
mkdir -p "$v/tmp/mycompany"
printf '#!/bin/sh\necho configuring\n' >"$v/tmp/setup.sh"
printf 'key = value\n' >"$v/tmp/mycompany/app.conf"

v=$(variant packages-missing)
purge "$v" git curl sudo

v=$(variant era-1.5.11)
unshare_files "$v"
# containerd.io conflicts with and replaces Debian's containerd and runc:
# their stanzas and lists go, containerd.io's come in.
python3 - "$v/var/lib/dpkg/status" "$era_fixture/status" <<'EOF'
import sys
path, era = sys.argv[1], sys.argv[2]
stanzas = open(path).read().split("\n\n")
keep = [s for s in stanzas if s.strip() and
        not any(l in ("Package: runc", "Package: containerd") for l in s.splitlines())]
era_text = open(era).read().strip()
open(path + ".new", "w").write("\n\n".join(s.strip() for s in keep) + "\n\n" + era_text + "\n\n")
EOF
mv "$v/var/lib/dpkg/status.new" "$v/var/lib/dpkg/status"
rm -f "$v/var/lib/dpkg/info/runc.list" "$v/var/lib/dpkg/info/containerd.list"
cp "$era_fixture/info/containerd.io.list" "$v/var/lib/dpkg/info/containerd.io.list"

v=$(variant no-package-db)
rm -rf "$v/var/lib/dpkg"

unmount_under "$cache/roots.tmp"
rm -rf "$cache/roots"
mv "$cache/roots.tmp" "$cache/roots"
echo "$stamp" >"$cache/stamp"
end=$(date +%s)
echo "workspace roots: built in $((end - start)) s; $(du -sh "$cache/roots" | cut -f1) in $cache/roots" \
  "(debs cached: $(du -sh "$cache/debs" "$cache/apt-archives" | cut -f1 | tr '\n' ' '))"
