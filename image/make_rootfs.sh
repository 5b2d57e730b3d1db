#!/usr/bin/env bash
# Lays out the container image's root filesystem (docs/image.md): the
# runtime stage of the Dockerfile and the image test (tests/image/) both
# take exactly this folder.
#   image/make_rootfs.sh BINARY DEST [LIBRARY_LIST]
# DEST (new or empty) gets
#   /usr/bin/cvm-preflight       BINARY, stripped
#   the shared libraries         BINARY's NEEDED entries, the libraries in
#                                LIBRARY_LIST (the build's image-libraries.txt:
#                                what the binary dlopens and the image keeps),
#                                and theirs, walked with readelf (what ldd
#                                lists, without running the loader, so that a
#                                cross-built binary works the same), each at
#                                its real path with the symlinks that lead to
#                                it (/lib -> usr/lib on Debian 12), and the
#                                program interpreter
#   the data files LIBRARY_LIST names after a library (librpm's rpmrc)
#   /etc/ssl/certs/ca-certificates.crt   Debian's CA bundle (ca-certificates)
#   /etc/passwd, /etc/group      root and nonroot (65532, as distroless)
#   /etc/nsswitch.conf           files, then DNS
#   /tmp                         mode 1777 (the rpm probe's scratch copy)
#   /usr/share/doc/PKG/copyright the licence of every Debian package a file
#                                comes from (dpkg -S), where dpkg knows it
# LIBRARY_LIST: one library a line, "SONAME [DATA_FILE...] [# why]".
# Libraries are looked up in the multiarch folders of MULTIARCH (default:
# `${CXX:-g++} -print-multiarch`, x86_64-linux-gnu here; aarch64-linux-gnu
# for an arm64 cross build), then /usr/lib and /lib. SYSROOT (default /)
# is where they are read from.
set -euo pipefail
binary=${1:?usage: make_rootfs.sh BINARY DEST [LIBRARY_LIST]}
dest=${2:?usage: make_rootfs.sh BINARY DEST [LIBRARY_LIST]}
list=${3:-}
sysroot=${SYSROOT:-/}
sysroot=${sysroot%/}
multiarch=${MULTIARCH:-$(${CXX:-g++} -print-multiarch)}
readelf=${READELF:-readelf}
strip=${STRIP:-strip}

die() { echo "make_rootfs.sh: $*" >&2; exit 1; }
[ -f "$binary" ] || die "$binary: no such file"
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then die "$dest: not empty"; fi
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# copy_path PATH: PATH (as the image names it) into DEST, each symlink on
# the way as a symlink, then what it points to, so that PATH resolves in
# the image as it does here.
copy_path() {
  local p=$1 parent link base
  [ -e "$dest$p" ] || [ -L "$dest$p" ] && return 0
  parent=$(dirname "$p")
  [ "$parent" = / ] || copy_path "$parent"
  if [ -L "$sysroot$p" ]; then
    link=$(readlink "$sysroot$p")
    ln -s "$link" "$dest$p"
    case $link in
      /*) copy_path "$(realpath -m -s "$link")" ;;
      *)
        base=$(cd "$sysroot$parent" && pwd -P)
        base=${base#"$sysroot"}
        copy_path "$(realpath -m -s "${base:-/}/$link")"
        ;;
    esac
  elif [ -d "$sysroot$p" ]; then
    mkdir "$dest$p"
  elif [ -f "$sysroot$p" ]; then
    cp --preserve=mode,timestamps "$sysroot$p" "$dest$p"
  else
    die "$p: not a file, folder or symlink under ${sysroot:-/}"
  fi
}

search_dirs=("/usr/lib/$multiarch" "/lib/$multiarch" /usr/lib /lib)
find_library() {
  local d
  for d in "${search_dirs[@]}"; do
    if [ -e "$sysroot$d/$1" ]; then
      echo "$d/$1"
      return 0
    fi
  done
  return 1
}

# The NEEDED closure, breadth first; each library once.
declare -A seen=()
queue=()
want() {
  local path
  [ -n "${seen[$1]:-}" ] && return 0
  path=$(find_library "$1") || die "$1 (needed by $2): not found in ${search_dirs[*]} under ${sysroot:-/}"
  seen[$1]=$path
  queue+=("$path")
}
# readelf, not objdump: it reads an ELF file of any architecture.
needed_of() { "$readelf" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
for lib in $(needed_of "$binary"); do want "$lib" "$binary"; done
data=()
if [ -n "$list" ]; then
  while read -r line; do
    line=${line%%#*}
    read -r lib files <<<"$line" || true
    [ -n "$lib" ] || continue
    want "$lib" "$list"
    for f in $files; do data+=("$f"); done
  done <"$list"
fi
i=0
while [ $i -lt ${#queue[@]} ]; do
  lib=${queue[$i]}
  for dep in $(needed_of "$sysroot$lib"); do want "$dep" "$lib"; done
  i=$((i + 1))
done

interp=$("$readelf" -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p')
[ -n "$interp" ] || die "$binary: no program interpreter (a static binary needs no image of this kind)"

mkdir -p "$dest/usr/bin"
"$strip" --strip-unneeded -o "$dest/usr/bin/cvm-preflight" "$binary"
chmod 0755 "$dest/usr/bin/cvm-preflight"
copy_path "$interp"
for lib in "${queue[@]}"; do copy_path "$lib"; done
for f in "${data[@]}"; do copy_path "$f"; done
copy_path /etc/ssl/certs/ca-certificates.crt

cat >"$dest/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$dest/etc/group" <<'EOF'
root:x:0:
nonroot:x:65532:
EOF
echo 'hosts: files dns' >"$dest/etc/nsswitch.conf"
mkdir -p "$dest/tmp"
chmod 1777 "$dest/tmp"

# Licences: the package of each file copied (dpkg -S takes the path as
# dpkg installed it, /lib/... or /usr/lib/...).
if command -v dpkg-query >/dev/null && [ "$sysroot" = "" ]; then
  paths=()
  for f in "$interp" "${queue[@]}" "${data[@]}" /etc/ssl/certs/ca-certificates.crt; do
    paths+=("$f" "${f#/usr}" "$(realpath "$f")")
  done
  # One query for all (a path dpkg does not know is an error on stderr).
  pkgs=$(dpkg-query -S "${paths[@]}" 2>/dev/null | sed 's/: .*//; s/, /\n/g' | sort -u || true)
  # The CA bundle is made by update-ca-certificates, owned by no package.
  for pkg in $pkgs ca-certificates; do
    doc=/usr/share/doc/${pkg%%:*}/copyright
    [ -f "$doc" ] && copy_path "$doc"
  done
fi
echo "make_rootfs.sh: $dest: $(find "$dest" -type f | wc -l) files, $(du -sh --apparent-size "$dest" | cut -f1)"
