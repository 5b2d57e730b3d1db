#!/usr/bin/env bash
# Test setup (CTest fixture "image"): the real runtime image, built from
# scratch with buildah as the Dockerfile's runtime stage says, without a
# Docker engine or a registry, then unpacked with umoci.
#   tests/image/build_image.sh SOURCE_DIR BINARY LIBRARY_LIST CACHE_DIR
# 1. image/make_rootfs.sh BINARY CACHE_DIR/rootfs LIBRARY_LIST (what the
#    Dockerfile's build stage runs on its Release binary);
# 2. `buildah from scratch`, then each instruction of the Dockerfile's
#    runtime stage (`FROM scratch AS runtime` to the end): COPY --from=build
#    /rootfs/ / as `buildah copy`, ENV, USER, ENTRYPOINT, CMD, LABEL and
#    WORKDIR as `buildah config`; any other instruction is an error here, so
#    the Dockerfile cannot drift from what is tested;
# 3. `buildah commit` to CACHE_DIR/image.tar (oci-archive, layers not
#    compressed), from a private vfs store that is removed afterwards;
# 4. the archive unpacked to CACHE_DIR/oci/ and `umoci unpack` of it to
#    CACHE_DIR/bundle/ (config.json and rootfs/, as a runtime gets it);
# 5. CACHE_DIR/size.txt: the layer's bytes uncompressed and gzipped.
# Cached: nothing is done again while CACHE_DIR/.stamp is newer than the
# binary, the library list, the Dockerfile and both scripts.
set -euo pipefail
src=${1:?usage: build_image.sh SOURCE_DIR BINARY LIBRARY_LIST CACHE_DIR}
binary=${2:?usage}
list=${3:?usage}
cache=${4:?usage}
here=$(cd "$(dirname "$0")" && pwd)
stamp="$cache/.stamp"
fresh=1
for input in "$binary" "$list" "$src/Dockerfile" "$src/image/make_rootfs.sh" "$here/build_image.sh"; do
  [ -f "$stamp" ] && [ "$stamp" -nt "$input" ] || fresh=0
done
if [ $fresh = 1 ]; then
  echo "image: cached in $cache ($(cat "$cache/size.txt"))"
  exit 0
fi
for tool in buildah umoci; do
  command -v $tool >/dev/null ||
    { echo "build_image.sh: $tool is not installed (Debian package $tool; ./make.sh test installs it)" >&2; exit 1; }
done
rm -rf "$cache"
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
"$src/image/make_rootfs.sh" "$binary" "$cache/rootfs" "$list"

buildah=(buildah --storage-driver vfs --root "$cache/storage" --runroot "$cache/run")
cleanup() { rm -rf "$cache/storage" "$cache/run"; }
trap cleanup EXIT
ctr=$("${buildah[@]}" from scratch)
in_runtime=0
while IFS= read -r line || [ -n "$line" ]; do
  case $line in '' | '#'*) continue ;; esac
  if [[ $line =~ ^FROM[[:space:]]+scratch[[:space:]]+AS[[:space:]]+runtime$ ]]; then
    in_runtime=1
    continue
  fi
  [ $in_runtime = 1 ] || continue
  [[ $line == *\\ ]] && { echo "build_image.sh: Dockerfile: a continued line in the runtime stage: $line" >&2; exit 1; }
  instr=${line%%[[:space:]]*}
  arg=${line#"$instr"}
  arg=${arg#"${arg%%[![:space:]]*}"}
  case $instr in
    COPY)
      [ "$arg" = "--from=build /rootfs/ /" ] ||
        { echo "build_image.sh: Dockerfile: only 'COPY --from=build /rootfs/ /' is known here: $line" >&2; exit 1; }
      "${buildah[@]}" copy --quiet "$ctr" "$cache/rootfs/" / >/dev/null
      ;;
    ENV) "${buildah[@]}" config --env "$arg" "$ctr" ;;
    USER) "${buildah[@]}" config --user "$arg" "$ctr" ;;
    ENTRYPOINT) "${buildah[@]}" config --entrypoint "$arg" "$ctr" ;;
    CMD) "${buildah[@]}" config --cmd "$arg" "$ctr" ;;
    LABEL) "${buildah[@]}" config --label "$arg" "$ctr" ;;
    WORKDIR) "${buildah[@]}" config --workingdir "$arg" "$ctr" ;;
    *) echo "build_image.sh: Dockerfile: instruction $instr in the runtime stage is not known here" >&2; exit 1 ;;
  esac
done <"$src/Dockerfile"
[ $in_runtime = 1 ] || { echo "build_image.sh: Dockerfile: no 'FROM scratch AS runtime' stage" >&2; exit 1; }
tag=$("$binary" --version | awk '{print $2}')
"${buildah[@]}" commit --quiet --format oci "$ctr" "oci-archive:$cache/image.tar:cvm-preflight:$tag" >/dev/null
"${buildah[@]}" rm "$ctr" >/dev/null

mkdir "$cache/oci"
tar -xf "$cache/image.tar" -C "$cache/oci"
umoci unpack --image "$cache/oci:cvm-preflight:$tag" "$cache/bundle" >/dev/null
# The one layer: the blob the manifest lists under layers.
layer=$(python3 - "$cache/oci" <<'PY'
import json, sys
oci = sys.argv[1]
def blob(digest):
    return oci + "/blobs/" + digest.replace(":", "/")
index = json.load(open(oci + "/index.json"))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
layers = manifest["layers"]
assert len(layers) == 1, "expected one layer, got %d" % len(layers)
print(blob(layers[0]["digest"]))
PY
)
bytes=$(stat -c %s "$layer")
gzipped=$(gzip -n -6 -c "$layer" | wc -c)
echo "layer $bytes bytes uncompressed ($(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1048576}') MiB), $gzipped gzipped ($(awk -v b="$gzipped" 'BEGIN {printf "%.1f", b / 1048576}') MiB)" >"$cache/size.txt"
echo "image: $cache/image.tar, $(cat "$cache/size.txt")"
touch "$stamp"
