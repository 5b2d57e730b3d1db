#!/usr/bin/env bash
# Test setup (CTest fixture "rpmdb"): real rpm databases written by the
# real rpm tool (Debian 12's rpm 4.18, which writes the sqlite format).
#   tests/setup/rpmdb.sh CACHE_DIR
# Builds two tiny binary packages named containerd.io with `rpmbuild -bb`
# (1.5.11-1, the version Coder pinned, and 1.6.21-3.1.el8, as Docker ships
# for RHEL 8), each installing /usr/bin/containerd and /usr/bin/runc (small
# shell scripts standing in for the binaries), then for each makes a root
# CACHE_DIR/<version>/ with `rpm --initdb` and `rpm -i --justdb`, so
# <root>/var/lib/rpm/rpmdb.sqlite is what rpm itself writes. The files are
# then placed in the root (--justdb does not write them), as on a node.
# Nothing on Debian 12 writes the BerkeleyDB "Packages" format (its rpm
# reads it only through the read-only bdb_ro backend), so that path has no
# database made here.
set -euo pipefail
cache=${1:?usage: rpmdb.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
stamp="$cache/.stamp"
if [ -f "$stamp" ] && [ "$stamp" -nt "$here/rpmdb.sh" ]; then
  echo "rpmdb: cached in $cache"
  exit 0
fi
rm -rf "$cache"
mkdir -p "$cache/top"
top="$cache/top"
for vr in 1.5.11-1 1.6.21-3.1.el8; do
  version=${vr%%-*}
  release=${vr#*-}
  cat >"$top/containerd.io-$vr.spec" <<SPEC
Name: containerd.io
Version: $version
Release: $release
Summary: test stand-in for Docker's containerd.io package
License: Apache-2.0
BuildArch: noarch
%description
Made by cvm-preflight's tests/setup/rpmdb.sh.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/etc/containerd
printf '#!/bin/sh\necho containerd $version\n' >%{buildroot}/usr/bin/containerd
printf '#!/bin/sh\necho runc\n' >%{buildroot}/usr/bin/runc
chmod 755 %{buildroot}/usr/bin/containerd %{buildroot}/usr/bin/runc
%files
/usr/bin/containerd
/usr/bin/runc
SPEC
  rpmbuild --quiet -bb --define "_topdir $top" --define "_rpmdir $top/rpms" \
    --define "_build_id_links none" "$top/containerd.io-$vr.spec"
  root="$cache/$vr"
  mkdir -p "$root/var/lib/rpm" "$root/usr/bin"
  # Debian's rpm warns on stderr that it should not install packages.
  rpm --root "$root" --dbpath /var/lib/rpm --initdb
  rpm -i --justdb --nodeps --noscripts --ignorearch --root "$root" \
    --dbpath /var/lib/rpm "$top/rpms/noarch/containerd.io-$vr.noarch.rpm"
  # rpm2archive (rpm's own tool) turns the payload into a tar on stdout.
  rpm2archive - <"$top/rpms/noarch/containerd.io-$vr.noarch.rpm" |
    tar -xz -C "$root"
  rpm --root "$root" --dbpath /var/lib/rpm -q containerd.io
done
rm -rf "$top"
touch "$stamp"
