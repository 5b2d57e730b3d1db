#!/usr/bin/env bash
# Test setup (CTest fixture "image_archives"): real workspace-image inputs
# for tests/probe/image_unpack_test.cpp, made with the tools that make them
# for real, from a private vfs store that is removed afterwards.
#   tests/setup/make_image_archives.sh CACHE_DIR
# CACHE_DIR gets
#   src/            the files the images hold: this host's /etc/os-release,
#                   /usr/bin/true and /usr/bin/env (small real binaries), a
#                   text file, a folder of two files
#   oci/            `buildah commit oci:`: two layers, uncompressed; the
#                   second made in `buildah mount`: /etc/os-release deleted
#                   (whiteout), /opt/d removed and made again (buildah
#                   writes per-file whiteouts for that, no opaque marker),
#                   /usr/bin/t2 -> /usr/bin/true added, /etc/hostname
#                   changed, a hard link /usr/bin/true2 added
#   oci-gzip.tar    `buildah commit --disable-compression=false
#                   oci-archive:`: the same image, gzip layers
#   oci-zstd/       `skopeo copy --dest-compress-format zstd`: zstd layers
#   docker.tar      `skopeo copy oci:... docker-archive:`: a docker-save
#                   tarball (manifest.json, <digest>.tar layers, the legacy
#                   <id>/layer.tar links), tagged example/workspace:1
#   docker-legacy.tar   docker.tar with manifest.json naming the older
#                   saves' <id>/layer.tar (python3's tarfile rewrites it)
#   multi/          `buildah manifest create` + `add` (amd64, and an arm64
#                   image with `add --arch arm64 --variant v8`) + `push
#                   --all oci:`: an index of two platforms; /etc/arch says
#                   which
#   opaque/         oci/ with a third layer crafted by
#                   make_hostile_images.py (an opaque /opt/d)
#   hostile/        make_hostile_images.py's attack inputs
# Cached: nothing is done again while CACHE_DIR/.stamp is newer than both
# scripts.
#
#   tests/setup/make_image_archives.sh --workspace ROOTS_DIR CACHE_DIR
# (CTest fixture "workspace_archives", after "workspace_roots") makes
# archives of the debootstrap workspace roots (make_workspace_roots.sh):
#   layer 1   `buildah copy` of ROOTS_DIR/roots/no-init (merged /usr, no
#             /sbin/init) and of a small folder (/opt/junk/{a,b},
#             /usr/lib/cvm-extra/x.conf), committed `oci:`
#   layer 2   crafted with python3's tarfile: buildah names what it writes
#             by its real path, so a layer named through the merged-/usr
#             links (as tools that write layer tars themselves name it)
#             is made by hand: sbin/init -> /lib/systemd/systemd (through
#             sbin -> usr/sbin), lib/systemd/system/docker.service with the
#             root's own bytes (through lib -> usr/lib), lib/.wh.cvm-extra
#             (a whiteout through lib) and opt/.wh..wh..opq (an opaque /opt)
#   good.oci.tar      `skopeo copy oci-archive:` of layers 1+2 (skopeo
#                     writes both gzip-compressed, ~190 MB): unpacks to
#                     the same tree as roots/good
#   good.docker.tar   `skopeo copy docker-archive:` of the same image
#                     (uncompressed <digest>.tar layers, ~500 MB)
#   no-init.oci.tar   layer 1 + layer 2 without the init link: unpacks to
#                     the same tree as roots/no-init
# Cached while CACHE_DIR/.stamp holds the hash of the roots' stamp and of
# this script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = "--workspace" ]; then
  roots=${2:?usage: make_image_archives.sh --workspace ROOTS_DIR CACHE_DIR}
  cache=${3:?usage: make_image_archives.sh --workspace ROOTS_DIR CACHE_DIR}
  [ -d "$roots/roots/good" ] ||
    { echo "make_image_archives.sh: no $roots/roots/good (the workspace_roots_setup test makes it)" >&2; exit 1; }
  want=$(cat "$roots/stamp" "$0" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$cache/.stamp" 2>/dev/null)" = "$want" ]; then
    echo "workspace archives: cached in $cache"
    exit 0
  fi
  for tool in buildah skopeo python3; do
    command -v $tool >/dev/null ||
      { echo "make_image_archives.sh: $tool is not installed (Debian package $tool; ./make.sh test installs it)" >&2; exit 1; }
  done
  start=$(date +%s)
  rm -rf "$cache"
  mkdir -p "$cache"
  cache=$(cd "$cache" && pwd)
  buildah=(buildah --storage-driver vfs --root "$cache/storage" --runroot "$cache/run")
  trap 'rm -rf "$cache/storage" "$cache/run" "$cache/layout" "$cache/extra"' EXIT
  mkdir -p "$cache/extra/opt/junk" "$cache/extra/usr/lib/cvm-extra"
  printf 'a\n' >"$cache/extra/opt/junk/a"
  printf 'b\n' >"$cache/extra/opt/junk/b"
  printf 'key = value\n' >"$cache/extra/usr/lib/cvm-extra/x.conf"
  ctr=$("${buildah[@]}" from scratch)
  "${buildah[@]}" config --arch amd64 --os linux "$ctr"
  "${buildah[@]}" copy -q "$ctr" "$roots/roots/no-init/" / >/dev/null
  "${buildah[@]}" copy -q "$ctr" "$cache/extra/" / >/dev/null
  "${buildah[@]}" commit -q "$ctr" "oci:$cache/layout:base" >/dev/null
  "${buildah[@]}" rm "$ctr" >/dev/null
  rm -rf "$cache/storage"
  python3 - "$cache/layout" "$roots/roots/good" <<'PY'
import hashlib, io, json, os, sys, tarfile
layout, good = sys.argv[1], sys.argv[2]
blobs = os.path.join(layout, "blobs", "sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d
def upper(with_init):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, type_=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, mtime=1700000000):
            ti = tarfile.TarInfo(name)
            ti.type, ti.linkname, ti.mode, ti.mtime, ti.size = type_, linkname, mode, mtime, len(data)
            t.addfile(ti, io.BytesIO(data) if data else None)
        if with_init:
            add("sbin/init", tarfile.SYMTYPE, linkname="/lib/systemd/systemd", mode=0o777)
        unit = os.path.join(good, "usr/lib/systemd/system/docker.service")
        st = os.stat(unit)
        add("lib/systemd/system/docker.service", data=open(unit, "rb").read(), mode=st.st_mode & 0o777,
            mtime=int(st.st_mtime))
        add("lib/.wh.cvm-extra")
        add("opt/.wh..wh..opq")
    return buf.getvalue()
index = json.load(open(os.path.join(layout, "index.json")))
base = index["manifests"][0]
manifest = json.load(open(os.path.join(blobs, base["digest"][7:])))
config = json.load(open(os.path.join(blobs, manifest["config"]["digest"][7:])))
out = []
for ref, with_init in (("good", True), ("no-init", False)):
    data = upper(with_init)
    c = json.loads(json.dumps(config))
    c["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(data).hexdigest())
    cb = json.dumps(c).encode()
    m = json.loads(json.dumps(manifest))
    m["config"]["digest"], m["config"]["size"] = put(cb), len(cb)
    m["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": put(data), "size": len(data)})
    mb = json.dumps(m).encode()
    out.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(mb),
                "size": len(mb), "annotations": {"org.opencontainers.image.ref.name": ref}})
index["manifests"] = out
json.dump(index, open(os.path.join(layout, "index.json"), "w"))
PY
  skopeo copy -q "oci:$cache/layout:good" "oci-archive:$cache/good.oci.tar:good"
  skopeo copy -q "oci:$cache/layout:good" "docker-archive:$cache/good.docker.tar:example/workspace:good"
  skopeo copy -q "oci:$cache/layout:no-init" "oci-archive:$cache/no-init.oci.tar:no-init"
  echo "$want" >"$cache/.stamp"
  echo "workspace archives: made in $(($(date +%s) - start)) s; $(du -sh "$cache" | cut -f1) in $cache"
  exit 0
fi
cache=${1:?usage: make_image_archives.sh CACHE_DIR}
stamp="$cache/.stamp"
# The stamp holds the folder's path: the attack entries aim at its sentinel.
if [ -f "$stamp" ] && [ "$stamp" -nt "$here/make_image_archives.sh" ] &&
   [ "$stamp" -nt "$here/make_hostile_images.py" ] &&
   [ "$(cat "$stamp")" = "$(cd "$cache" && pwd)" ]; then
  echo "image archives: cached in $cache"
  exit 0
fi
for tool in buildah skopeo python3; do
  command -v $tool >/dev/null ||
    { echo "make_image_archives.sh: $tool is not installed (Debian package $tool; ./make.sh test installs it)" >&2; exit 1; }
done
rm -rf "$cache"
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
buildah=(buildah --storage-driver vfs --root "$cache/storage" --runroot "$cache/run")
cleanup() { rm -rf "$cache/storage" "$cache/run"; }
trap cleanup EXIT

src="$cache/src"
mkdir -p "$src/etc" "$src/usr/bin" "$src/opt/d" "$src/tmp"
cp /etc/os-release "$src/etc/os-release"
cp /usr/bin/true /usr/bin/env "$src/usr/bin/"
echo "workspace-test" >"$src/etc/hostname"
printf 'a\n' >"$src/opt/d/a"
printf 'keep\n' >"$src/opt/d/keep"
chmod 1777 "$src/tmp"

ctr=$("${buildah[@]}" from scratch)
"${buildah[@]}" config --arch amd64 --os linux "$ctr"
"${buildah[@]}" copy -q "$ctr" "$src/" / >/dev/null
"${buildah[@]}" commit -q "$ctr" localhost/base:1 >/dev/null
ctr2=$("${buildah[@]}" from localhost/base:1)
mnt=$("${buildah[@]}" mount "$ctr2")
rm "$mnt/etc/os-release"
rm -rf "$mnt/opt/d"
mkdir "$mnt/opt/d"
printf 'b\n' >"$mnt/opt/d/b"
ln -s /usr/bin/true "$mnt/usr/bin/t2"
ln "$mnt/usr/bin/true" "$mnt/usr/bin/true2"
echo "changed" >"$mnt/etc/hostname"
"${buildah[@]}" umount "$ctr2" >/dev/null
"${buildah[@]}" commit -q "$ctr2" localhost/workspace:1 >/dev/null
"${buildah[@]}" push -q localhost/workspace:1 "oci:$cache/oci:workspace" >/dev/null
"${buildah[@]}" push -q --compression-format gzip --disable-compression=false localhost/workspace:1 \
  "oci-archive:$cache/oci-gzip.tar:workspace" >/dev/null
skopeo copy -q --dest-compress --dest-compress-format zstd "oci:$cache/oci:workspace" "oci:$cache/oci-zstd:workspace"
skopeo copy -q "oci:$cache/oci:workspace" "docker-archive:$cache/docker.tar:example/workspace:1"

# The older docker save form: manifest.json names <id>/layer.tar.
python3 - "$cache/docker.tar" "$cache/docker-legacy.tar" <<'PY'
import io, json, sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src) as t:
    members = t.getmembers()
    links = {m.linkname.split("/")[-1]: m.name for m in members if m.name.endswith("/layer.tar")}
    manifest = json.load(t.extractfile("manifest.json"))
    manifest[0]["Layers"] = [links[l] for l in manifest[0]["Layers"]]
    data = json.dumps(manifest).encode()
    with tarfile.open(dst, "w") as out:
        for m in members:
            if m.name == "manifest.json":
                m.size = len(data)
                out.addfile(m, io.BytesIO(data))
            else:
                out.addfile(m, t.extractfile(m) if m.isfile() else None)
PY

# Two platforms in one index.
arm=$("${buildah[@]}" from scratch)
"${buildah[@]}" config --arch arm64 --variant v8 --os linux "$arm"
"${buildah[@]}" copy -q "$arm" "$src/" / >/dev/null
echo arm64 >"$cache/arch-arm64"
echo amd64 >"$cache/arch-amd64"
"${buildah[@]}" copy -q "$arm" "$cache/arch-arm64" /etc/arch >/dev/null
"${buildah[@]}" commit -q "$arm" localhost/multi-arm64:1 >/dev/null
amd=$("${buildah[@]}" from scratch)
"${buildah[@]}" config --arch amd64 --os linux "$amd"
"${buildah[@]}" copy -q "$amd" "$src/" / >/dev/null
"${buildah[@]}" copy -q "$amd" "$cache/arch-amd64" /etc/arch >/dev/null
"${buildah[@]}" commit -q "$amd" localhost/multi-amd64:1 >/dev/null
"${buildah[@]}" manifest create localhost/multi:1 >/dev/null
"${buildah[@]}" manifest add localhost/multi:1 containers-storage:localhost/multi-amd64:1 >/dev/null
"${buildah[@]}" manifest add --arch arm64 --variant v8 localhost/multi:1 containers-storage:localhost/multi-arm64:1 >/dev/null
"${buildah[@]}" manifest push -q --all localhost/multi:1 "oci:$cache/multi:multi" >/dev/null

python3 "$here/make_hostile_images.py" "$cache/hostile" "$cache/sentinel"
mkdir -p "$cache/sentinel"

# oci/ plus the crafted opaque layer, as a third layer with its digests.
cp -a "$cache/oci" "$cache/opaque"
python3 - "$cache/opaque" "$cache/hostile/opaque-layer.tar" <<'PY'
import hashlib, json, os, sys
layout, layer = sys.argv[1], sys.argv[2]
blobs = os.path.join(layout, "blobs", "sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d
index = json.load(open(os.path.join(layout, "index.json")))
mdesc = index["manifests"][0]
manifest = json.load(open(os.path.join(blobs, mdesc["digest"][7:])))
config = json.load(open(os.path.join(blobs, manifest["config"]["digest"][7:])))
data = open(layer, "rb").read()
config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(data).hexdigest())
c = json.dumps(config).encode()
manifest["config"]["digest"], manifest["config"]["size"] = put(c), len(c)
manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                           "digest": put(data), "size": len(data)})
m = json.dumps(manifest).encode()
mdesc["digest"], mdesc["size"] = put(m), len(m)
json.dump(index, open(os.path.join(layout, "index.json"), "w"))
PY
echo "$cache" >"$stamp"
echo "image archives: made in $cache"
