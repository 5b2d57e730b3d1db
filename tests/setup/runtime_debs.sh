#!/usr/bin/env bash
# Test setup (CTest fixture "runtime_debs"): real Debian runc and containerd.
#   tests/setup/runtime_debs.sh CACHE_DIR
# Downloads Debian's own packages with `apt-get download runc containerd`
# (from the machine's configured Debian mirror; cached, not committed) and
# lays out two host roots under CACHE_DIR:
#   root/  the packages unpacked with `dpkg -x`, plus a dpkg database made
#          from the packages' own control data: var/lib/dpkg/status stanzas
#          from `dpkg-deb -f` and info/<pkg>.list from the data tarball's
#          member list, as dpkg itself would write them;
#   bare/  the same files without any dpkg database (hard links).
set -euo pipefail
cache=${1:?usage: runtime_debs.sh CACHE_DIR}
mkdir -p "$cache/debs"
cd "$cache/debs"
if ! ls runc_*.deb >/dev/null 2>&1 || ! ls containerd_*.deb >/dev/null 2>&1; then
  # A machine whose package lists were never fetched (or were cleaned)
  # cannot locate the packages: fetch the lists once and try again.
  apt-get download runc containerd || { apt-get update -qq && apt-get download runc containerd; }
fi
rm -rf "$cache/root.tmp" "$cache/bare.tmp"
root="$cache/root.tmp"
mkdir -p "$root/var/lib/dpkg/info"
: >"$root/var/lib/dpkg/status"
for deb in runc_*.deb containerd_*.deb; do
  dpkg -x "$deb" "$root"
  pkg=$(dpkg-deb -f "$deb" Package)
  {
    echo "Package: $pkg"
    echo "Status: install ok installed"
    dpkg-deb -f "$deb" Priority Section Installed-Size Maintainer Architecture Version
    echo
  } >>"$root/var/lib/dpkg/status"
  # dpkg's .list: "/." then every member, without the leading "." or a
  # trailing "/".
  dpkg-deb --fsys-tarfile "$deb" | tar -t |
    sed -e 's#^\./#/#' -e 's#^\.$#/.#' -e 's#/$##' -e 's#^$#/.#' \
    >"$root/var/lib/dpkg/info/$pkg.list"
done
mkdir -p "$cache/bare.tmp"
cp -al "$root/usr" "$cache/bare.tmp/usr"
rm -rf "$cache/root" "$cache/bare"
mv "$root" "$cache/root"
mv "$cache/bare.tmp" "$cache/bare"
echo "runtime_debs: $(cd "$cache/debs" && ls *.deb | tr '\n' ' ')"
