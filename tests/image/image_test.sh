#!/usr/bin/env bash
# The image runs on its own (CTest image_runs, after tests/image/build_image.sh
# and tests/setup/rpmdb.sh). Every run works in a fresh copy of the image's
# unpacked rootfs, so the cached image stays as built.
#   tests/image/image_test.sh SOURCE_DIR BINARY IMAGE_CACHE RPMDB_CACHE PYTHON3
# 1. config.json (umoci's, from the image config): user, args, PATH as the
#    Dockerfile says;
# 2. contents: every library `ldd BINARY` lists is in the image; nothing
#    outside the folders make_rootfs.sh writes; no libarchive, libxml2 or
#    libicu (only a one-shot command would need them, docs/image.md);
# 3. `cvm-preflight --version` in the image (chroot, as its user 65532)
#    prints what the build's binary prints;
# 4. every fixture root, scanned in the image (chroot, as root, as the
#    DaemonSet runs it): the JSON report and exit code equal the build's
#    binary's on the same copy (probe durations and the root path aside);
# 5. rpm-based hosts: the databases the real rpm wrote (rpmdb.sh), scanned
#    in the image, give containerd and runc from rpm with no runtime error;
#    the same scan in a copy without librpm must fail that check (the check
#    can fail);
# 6. the agent in the image as the DaemonSet starts it (its command and
#    environment read from manifests/base/daemonset.yaml, uid 0, in-cluster
#    service account files, read-only root with a tmpfs /tmp, a RHEL 8 host
#    whose containerd.io comes from a real rpm database) publishes to the
#    Kubernetes API test server over TLS: labels, CVMReady, the report
#    annotation; its /report has the rpm facts.
# Mounts (proc, tmpfs, bind) happen only inside `unshare --mount --pid` of a
# child, so nothing outside it changes.
set -euo pipefail
src=${1:?usage: image_test.sh SOURCE_DIR BINARY IMAGE_CACHE RPMDB_CACHE PYTHON3}
binary=${2:?usage}
image=${3:?usage}
rpmdb=${4:?usage}
python=${5:?usage}
[ -d "$image/bundle/rootfs" ] || { echo "image_test.sh: no $image/bundle/rootfs: tests/image/build_image.sh did not run" >&2; exit 1; }
[ -f "$rpmdb/1.6.21-3.1.el8/var/lib/rpm/rpmdb.sqlite" ] || { echo "image_test.sh: tests/setup/rpmdb.sh did not run" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cvm-image-test.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
failed=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
R=$work/rootfs
cp -a "$image/bundle/rootfs" "$R"
echo "image: $(cat "$image/size.txt")"

# 1. The image config.
"$python" - "$image/bundle/config.json" <<'PY' && pass "config: user 65532, entrypoint, PATH" || fail "config"
import json, sys
c = json.load(open(sys.argv[1]))["process"]
want = {"uid": 65532, "gid": 65532}
got = {k: c["user"].get(k) for k in want}
ok = got == want and c["args"] == ["/usr/bin/cvm-preflight", "--help"] and "PATH=/usr/bin" in c["env"]
if not ok:
    print("config.json process:", json.dumps(c, indent=1))
sys.exit(0 if ok else 1)
PY

# 2. Contents.
missing=$(ldd "$binary" | awk '$2 == "=>" {print $1} $1 ~ /^\// {print $1}' |
  while read -r lib; do
    [ -n "$(find "$R/usr/lib" "$R/usr/lib64" -name "$(basename "$lib")" -print -quit)" ] || echo "$lib"
  done)
[ -z "$missing" ] && pass "contents: every library ldd lists" || fail "contents: not in the image: $missing"
stray=$(cd "$R" && find . -mindepth 1 \( -type f -o -type l \) |
  grep -Ev '^\./(usr/bin/cvm-preflight|usr/lib(64)?/.*|lib|lib64|etc/(passwd|group|nsswitch\.conf|ssl/certs/ca-certificates\.crt)|usr/share/doc/[^/]+(/copyright)?)$' || true)
[ -z "$stray" ] && pass "contents: nothing else" || fail "contents: unexpected files: $stray"
heavy=$(cd "$R" && find . -name 'libarchive.so*' -o -name 'libxml2.so*' -o -name 'libicu*' | head -3)
[ -z "$heavy" ] && pass "contents: no libarchive, libxml2, libicu" || fail "contents: $heavy"

# 3. --version as the image's user.
want=$("$binary" --version)
got=$(chroot --userspec=65532:65532 "$R" /usr/bin/cvm-preflight --version 2>&1) || true
[ "$got" = "$want" ] && pass "--version as 65532: $got" || fail "--version: got '$got', want '$want'"

# 4. Every fixture: the same report in the image as from the build.
normalise() {
  "$python" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["root"] = "ROOT"
for p in d.get("probes", []):
    p["duration_seconds"] = 0
print(json.dumps(d, indent=1, sort_keys=True))' "$1"
}
scan_both() {  # NAME IN-IMAGE-ROOT: the two reports, or a diff
  local name=$1 root=$2 in_rc=0 out_rc=0
  chroot "$R" /usr/bin/cvm-preflight scan --root "$root" --format json >"$work/in.json" 2>"$work/in.err" || in_rc=$?
  "$binary" scan --root "$R$root" --format json >"$work/out.json" 2>"$work/out.err" || out_rc=$?
  if [ $in_rc != $out_rc ]; then
    echo "  $name: exit $in_rc in the image, $out_rc outside; stderr: $(head -c 500 "$work/in.err")"
    return 1
  fi
  if ! diff <(normalise "$work/in.json") <(normalise "$work/out.json") >"$work/diff"; then
    echo "  $name: the reports differ (< image, > build):"
    head -20 "$work/diff" | sed 's/^/    /'
    return 1
  fi
}
mkdir "$R/fixtures"
n=0 bad=0
for dir in "$src"/fixtures/*/root; do
  name=$(basename "$(dirname "$dir")")
  cp -a "$dir" "$R/fixtures/$name"
  n=$((n + 1))
  scan_both "$name" "/fixtures/$name" || bad=$((bad + 1))
done
[ $bad = 0 ] && pass "scan: $n fixtures, the same reports as the build's binary" || fail "scan: $bad of $n fixtures differ"

# 5. rpm-based hosts.
rpm_facts() {  # REPORT CONTAINERD RUNC: rpm facts as rpmdb.sh made them
  "$python" - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rt = d["facts"].get("runtime", {})
c, r = rt.get("containerd", {}), rt.get("runc", {})
errors = [e["message"] for e in d["errors"] if e["probe"] == "runtime"]
ok = (c.get("source") == "rpm" and c.get("version") == sys.argv[2]
      and r.get("source") == "rpm" and r.get("version") == sys.argv[3] and not errors)
if not ok:
    print("  runtime facts:", json.dumps(rt), "runtime errors:", errors)
sys.exit(0 if ok else 1)
PY
}
for c in "1.5.11-1 1.5.11 1.0.3" "1.6.21-3.1.el8 1.6.21 1.1.7"; do
  set -- $c
  cp -a "$rpmdb/$1" "$R/rpm-$1"
  if scan_both "rpm $1" "/rpm-$1" && rpm_facts "$work/in.json" "$2" "$3"; then
    pass "rpm host $1: containerd $2, runc $3 from the rpm database"
  else
    fail "rpm host $1"
  fi
done
# Self-test: the same scan without librpm in the image must not pass.
S=$work/without-librpm
cp -a "$R" "$S"
rm -f "$S"/usr/lib/*/librpm.so.*
chroot "$S" /usr/bin/cvm-preflight scan --root /rpm-1.6.21-3.1.el8 --format json >"$work/self.json" || true
if ! rpm_facts "$work/self.json" 1.6.21 1.1.7 >/dev/null &&
  grep -q 'librpm.so.[0-9]*: cannot open shared object file' "$work/self.json"; then
  pass "self-test: without librpm the rpm check fails, naming the library"
else
  fail "self-test: without librpm the rpm check still passed (or the error did not name librpm)"
fi
rm -rf "$S"

# 6. The agent as the DaemonSet runs it, publishing over TLS.
certs=$work/certs
sh "$src/tests/kube/make_certs.sh" "$certs"
"$python" "$src/tests/kube/kube_api_server.py" --cert "$certs/server.crt" --key "$certs/server.key" \
  --client-ca "$certs/ca.crt" --ports-file "$work/ports" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.1; done
read -r api control <"$work/ports" || { echo "the API test server did not start: $(cat "$work/server.log")"; exit 1; }
curl -sf -X PUT -H 'Content-Type: application/json' "http://127.0.0.1:$control/__test/state" --data '{
  "tokens": {"node-a-token": {"user": "system:serviceaccount:cvm-preflight:cvm-preflight", "rules": [
    {"resource": "nodes", "verbs": ["get", "patch"], "names": ["node-a"]},
    {"resource": "nodes/status", "verbs": ["get", "patch"], "names": ["node-a"]},
    {"resource": "events", "verbs": ["create"], "namespaces": ["default"]}]}},
  "nodes": [{"metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"}}, "spec": {},
    "status": {"nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Red Hat Enterprise Linux 8.9 (Ootpa)"}}}]}' >/dev/null
# The host: RHEL 8 with containerd.io 1.6.21 in its rpm database.
cp -a "$src/fixtures/rhel-8/root" "$R/host"
cp -a "$rpmdb/1.6.21-3.1.el8/." "$R/host/"
sa=$R/var/run/secrets/kubernetes.io/serviceaccount
mkdir -p "$R/proc" "$R/dev" "$sa" "$R/etc/cvm-preflight/rules"
: >"$R/dev/null"
cp "$certs/ca.crt" "$sa/ca.crt"
echo node-a-token >"$sa/token"
echo default >"$sa/namespace"
# The container's command and environment, from the DaemonSet; the listen
# address on loopback port 0 (other tests use this machine at once).
mapfile -t spec < <("$python" - "$src/manifests/base/daemonset.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]
assert c["securityContext"]["runAsUser"] == 0 and c["securityContext"]["readOnlyRootFilesystem"]
for e in c["env"]:
    if "value" in e:
        print("env", e["name"] + "=" + ("127.0.0.1:0" if e["name"] == "CVM_PREFLIGHT_LISTEN" else e["value"]))
    elif e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName":
        print("env", e["name"] + "=node-a")
for a in c["command"] + c.get("args", []):
    print("arg", a)
PY
)
envs=() args=()
for line in "${spec[@]}"; do
  case $line in env\ *) envs+=("${line#env }") ;; arg\ *) args+=("${line#arg }") ;; esac
done
env -i PATH=/usr/bin KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$api" "${envs[@]}" \
  /usr/bin/unshare --mount --pid --fork --kill-child -- /bin/sh -c '
    R=$1; shift
    mount --bind "$R" "$R" && mount -o remount,bind,ro "$R" &&
    mount -t tmpfs -o size=256m tmpfs "$R/tmp" && mount -t proc proc "$R/proc" &&
    mount --bind /dev/null "$R/dev/null" && exec /usr/sbin/chroot "$R" "$@"' sh "$R" "${args[@]}" \
  >"$work/agent.log" 2>&1 &
agent=$!
pids+=($agent)
node=""
for _ in $(seq 150); do
  node=$(curl -sf "http://127.0.0.1:$control/__test/nodes/node-a" || true)
  case $node in *'"type": "CVMReady"'*) break ;; esac
  kill -0 $agent 2>/dev/null || break
  sleep 0.2
done
port=$(sed -n 's/.*"msg":"agent started".*"port":\([0-9]*\).*/\1/p' "$work/agent.log" | head -1)
report=$(curl -sf "http://127.0.0.1:${port:-1}/report" || true)
if echo "$node" | "$python" -c '
import json, sys
n = json.load(sys.stdin)
labels, ann = n["metadata"].get("labels", {}), n["metadata"].get("annotations", {})
ok = (labels.get("cvm-preflight.dev/os") == "rhel-8.9"
      and labels.get("cvm-preflight.dev/containerd") == "1.6.21"
      and labels.get("cvm-preflight.dev/runc") == "1.1.7"
      and labels.get("cvm-preflight.dev/cvm") == "false"
      and "cvm-preflight.dev/report" in ann
      and any(c["type"] == "CVMReady" for c in n["status"].get("conditions", [])))
sys.exit(0 if ok else 1)' 2>/dev/null && [ -n "$report" ] &&
  echo "$report" | "$python" -c '
import json, sys
rt = json.load(sys.stdin)["facts"]["runtime"]
sys.exit(0 if rt["containerd"].get("source") == "rpm" and rt["containerd"].get("version") == "1.6.21" else 1)'; then
  pass "agent: the DaemonSet's command and env in the image published node-a over TLS (os rhel-8.9, containerd 1.6.21 and runc 1.1.7 from rpm, cvm false, CVMReady, report) under a read-only root"
else
  fail "agent: node-a was not published as expected"
  echo "  node: $node"
  echo "  agent log:"; sed 's/^/    /' "$work/agent.log" | head -30
fi
# SIGTERM to the agent, pid 1 of its namespace (unshare's child).
child=$(ps -o pid= --ppid $agent | tr -d ' ' | head -1)
[ -n "$child" ] && kill -TERM "$child" 2>/dev/null || true
wait $agent 2>/dev/null || true

echo "image_test.sh: $failed failed"
[ $failed = 0 ]
