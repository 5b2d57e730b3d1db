#!/usr/bin/env bash
# The agent's resident memory while it publishes to the Kubernetes API test
# server (kube_api_server.py): the steady state of tests/bench/
# agent_vs_node_exporter.sh --steady (the agent alone, scanning / every
# 10 s), but with --kubeconfig, so that every scan also GETs and PATCHes its
# node and posts an Event (the Kubernetes client's connections, TLS and, in
# builds before exporter/kube/https.h, libcurl and what it loads). Prints
# VmRSS each SAMPLE seconds and the requests the server saw; asserts
# nothing about the figures (STYLE.md section 17).
# Usage: agent_publish_rss.sh CVM_BINARY [SAMPLES [SAMPLE_SECONDS]]
#   default 5 samples, 60 s apart.
set -euo pipefail
bin=$1 samples=${2:-5} every=${3:-60}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sh "$here/make_certs.sh" "$tmp/certs" >/dev/null
python3 "$here/kube_api_server.py" --cert "$tmp/certs/server.crt" --key "$tmp/certs/server.key" \
  --client-ca "$tmp/certs/ca.crt" --ports-file "$tmp/ports" >"$tmp/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$tmp/ports" ] && break; sleep 0.05; done
read -r api control <"$tmp/ports"
python3 - "$control" <<'PY'
import json, sys, urllib.request
state = {"tokens": {"node-a-token": {"user": "system:serviceaccount:cvm-preflight:agent", "rules": [
    {"resource": "nodes", "verbs": ["get", "patch"], "names": ["node-a"]},
    {"resource": "nodes/status", "verbs": ["get", "patch"], "names": ["node-a"]},
    {"resource": "events", "verbs": ["create"], "namespaces": ["default", "cvm-preflight"]}]}},
    "nodes": [{"metadata": {"name": "node-a", "labels": {"kubernetes.io/hostname": "node-a"}},
               "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                          "nodeInfo": {"kubeletVersion": "v1.32.0"}}}]}
req = urllib.request.Request("http://127.0.0.1:%s/__test/state" % sys.argv[1],
                             data=json.dumps(state).encode(), method="PUT")
urllib.request.urlopen(req).read()
PY
cat >"$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$api
    certificate-authority: $tmp/certs/ca.crt
users:
- name: agent
  user:
    token: node-a-token
contexts:
- name: agent
  context: {cluster: test, user: agent}
current-context: agent
KC
port=$(free_port)
POD_NAMESPACE=cvm-preflight "$bin" agent --root / --listen "127.0.0.1:$port" --interval 10s \
  --no-pci-events --kubeconfig "$tmp/kubeconfig" --node-name node-a 2>"$tmp/agent.log" &
pids+=($!)
for s in $(seq 1 "$samples"); do
  sleep "$every"
  n=$(python3 -c 'import json,sys,urllib.request; print(len(json.load(urllib.request.urlopen("http://127.0.0.1:%s/__test/requests" % sys.argv[1]))))' "$control")
  echo "agent publishing: sample $s ($((s * every)) s), VmRSS $(rss_kib "${pids[1]}") KiB, $n API requests so far"
done
echo "agent log: $(wc -l <"$tmp/agent.log") lines"; grep -i error "$tmp/agent.log" | head -3 || true
