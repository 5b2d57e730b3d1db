#!/bin/bash
# End-to-end check of the agent against a real Prometheus (Debian's 2.42):
#  1. starts `cvm-preflight agent` on two fixture roots (rhel-8: every verdict
#     false; gpu-nvidia-gce-vm: cvm/cvm-cached unknown, cvm-gpu false), each
#     on 127.0.0.1:0, and waits for /readyz;
#  2. starts /usr/bin/prometheus scraping both every 1s (job cvm-preflight, a
#     `node` label per target as the ServiceMonitor adds one) with the alert
#     rules of manifests/monitoring/prometheusrule.yaml, evaluated every 1s;
#  3. once up{job="cvm-preflight"} is 1 for both, asserts through the HTTP API
#     that, per target, cvm_preflight_verdict / cvm_preflight_verdict_unknown
#     match `cvm-preflight scan --format json` on the same root, the number of
#     cvm_preflight_check_status series equals the report's check count and
#     cvm_preflight_node_info's os_id is the report's os.id fact;
#  4. runs every expression of tests/monitoring/exprs.py through
#     /api/v1/query: each must succeed; counts those with data and requires
#     the node_info/check_status ones to have some;
#  5. checks /api/v1/rules: both alert groups loaded, every rule health "ok".
# Usage: prometheus_test.sh SOURCE_DIR CVM_PREFLIGHT_BINARY
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 SOURCE_DIR CVM_PREFLIGHT_BINARY" >&2; exit 2; }
src=$(cd "$1" && pwd)
bin=$2
PY=/usr/bin/python3   # Debian's python, where python3-yaml lives
PROM=/usr/bin/prometheus
FIXTURES=(rhel-8 gpu-nvidia-gce-vm)

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

show_logs() {
  local f
  for f in "$tmp"/*.log; do
    [ -f "$f" ] || continue
    echo "---- tail of $(basename "$f")" >&2
    tail -n 30 "$f" >&2
  done
}
fail() {
  echo "prometheus integration: FAIL: $*" >&2
  show_logs
  exit 1
}
step() { echo "prometheus integration: $*"; }

[ -x "$bin" ] || fail "no executable $bin"
[ -x "$PROM" ] || fail "$PROM not found; install Debian's prometheus package"
[ -x "$PY" ] && "$PY" -c 'import yaml' 2>/dev/null ||
  fail "$PY cannot import yaml; install python3-yaml"
command -v curl >/dev/null || fail "curl not found"

# ---- 1. the agents
declare -A port report
for fx in "${FIXTURES[@]}"; do
  root=$src/fixtures/$fx/root
  [ -d "$root" ] || fail "missing fixture root $root"
  "$bin" scan --root "$root" --format json >"$tmp/$fx.report.json" 2>"$tmp/$fx.scan.err" ||
    [ -s "$tmp/$fx.report.json" ] || fail "scan of $fx printed no report"
  report[$fx]=$tmp/$fx.report.json
  "$bin" agent --root "$root" --listen 127.0.0.1:0 --interval 3s 2>"$tmp/agent-$fx.log" &
  pids+=($!)
done
i=0
for fx in "${FIXTURES[@]}"; do
  p=""
  for _ in $(seq 100); do
    p=$("$PY" -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try:
        d = json.loads(line)
    except ValueError:
        continue
    if d.get("msg") == "agent started" and d.get("port"):
        print(d["port"]); break' "$tmp/agent-$fx.log")
    [ -n "$p" ] && break
    kill -0 "${pids[$i]}" 2>/dev/null || fail "agent on $fx exited"
    sleep 0.1
  done
  [ -n "$p" ] || fail "agent on $fx logged no port within 10 s"
  port[$fx]=$p
  code=""
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/readyz" || true)
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || fail "agent on $fx: /readyz is $code after 10 s"
  step "agent on $fx ready on port $p"
  i=$((i + 1))
done

# ---- 2. Prometheus
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
"$PY" - "$src/manifests/monitoring/prometheusrule.yaml" "$tmp/rules.yaml" <<'PYEOF' || fail "cannot extract the PrometheusRule's spec"
import sys, yaml
with open(sys.argv[1]) as f:
    doc = yaml.safe_load(f)
with open(sys.argv[2], "w") as f:
    yaml.safe_dump(doc["spec"], f, sort_keys=False)
PYEOF
{
  echo "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}"
  echo "rule_files: ['$tmp/rules.yaml']"
  echo "scrape_configs:"
  echo "  - job_name: cvm-preflight"
  echo "    static_configs:"
  for fx in "${FIXTURES[@]}"; do
    echo "      - targets: ['127.0.0.1:${port[$fx]}']"
    echo "        labels: {node: '$fx'}"
  done
} >"$tmp/prometheus.yml"

started=""
for attempt in 1 2 3; do
  pport=$(free_port)
  "$PROM" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
    --web.listen-address="127.0.0.1:$pport" >"$tmp/prometheus.log" 2>&1 &
  ppid=$!
  pids+=($ppid)
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "http://127.0.0.1:$pport/-/ready"; then started=1; break; fi
    kill -0 "$ppid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$started" ] && break
  kill "$ppid" 2>/dev/null || true
  wait "$ppid" 2>/dev/null || true
  step "Prometheus did not start on port $pport (attempt $attempt)"
done
[ -n "$started" ] || fail "Prometheus did not become ready"
api=http://127.0.0.1:$pport/api/v1
step "Prometheus ready on port $pport"

# query EXPR -> the API's JSON response on stdout
query() { curl -s -G --data-urlencode "query=$1" "$api/query"; }

# ---- 3. the fixtures' metrics through Prometheus
ok=""
for _ in $(seq 200); do
  n=$(query 'sum(up{job="cvm-preflight"})' | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else 0)' 2>/dev/null || echo 0)
  [ "$n" = "${#FIXTURES[@]}" ] && { ok=1; break; }
  sleep 0.1
done
[ -n "$ok" ] || fail "up{job=\"cvm-preflight\"} is not 1 for every target after 20 s"
step "up{job=\"cvm-preflight\"} is 1 for ${#FIXTURES[@]} targets"

for fx in "${FIXTURES[@]}"; do
  sel="job=\"cvm-preflight\",node=\"$fx\""
  query "cvm_preflight_verdict{$sel}" >"$tmp/$fx.verdict.json"
  query "cvm_preflight_verdict_unknown{$sel}" >"$tmp/$fx.unknown.json"
  query "cvm_preflight_check_status{$sel}" >"$tmp/$fx.checks.json"
  query "cvm_preflight_node_info{$sel}" >"$tmp/$fx.info.json"
  curl -sf "http://127.0.0.1:${port[$fx]}/report" >"$tmp/$fx.agent.json" || fail "$fx: GET /report failed"
  "$PY" - "$fx" "${report[$fx]}" "$tmp/$fx" <<'PYEOF' || fail "$fx: metrics in Prometheus differ from the report (see above)"
import json, sys
fx, report_path, base = sys.argv[1:]
rep = json.load(open(report_path))
def result(kind):
    d = json.load(open(f"{base}.{kind}.json"))
    assert d.get("status") == "success", d
    return d["data"]["result"]
errors = []
profile = rep["profile"]
verdict = {r["metric"]["verdict"]: r for r in result("verdict")}
unknown = {r["metric"]["verdict"]: r for r in result("unknown")}
for name, v in sorted(rep["verdicts"].items()):
    want = v["value"]
    got = verdict.get(name)
    unk = unknown.get(name)
    if unk is None:
        errors.append(f"{name}: no cvm_preflight_verdict_unknown series")
    elif unk["metric"].get("profile") != profile:
        errors.append(f"{name}: verdict_unknown profile {unk['metric'].get('profile')!r}, want {profile!r}")
    if want == "unknown":
        if got is not None:
            errors.append(f"{name}: report says unknown but cvm_preflight_verdict is {got['value'][1]}")
        if unk is not None and unk["value"][1] != "1":
            errors.append(f"{name}: unknown, but verdict_unknown is {unk['value'][1]}")
    else:
        expect = {"true": "1", "false": "0"}[want]
        if got is None:
            errors.append(f"{name}: report says {want}, no cvm_preflight_verdict series")
        else:
            if got["value"][1] != expect:
                errors.append(f"{name}: report says {want}, cvm_preflight_verdict is {got['value'][1]}")
            if got["metric"].get("profile") != profile:
                errors.append(f"{name}: profile label {got['metric'].get('profile')!r}, want {profile!r}")
        if unk is not None and unk["value"][1] != "0":
            errors.append(f"{name}: {want}, but verdict_unknown is {unk['value'][1]}")
    print(f"  {fx}: {name} = {want}")
extra = set(verdict) - set(rep["verdicts"])
if extra:
    errors.append(f"cvm_preflight_verdict series for verdicts not in the report: {sorted(extra)}")
checks = result("checks")
if len(checks) != len(rep["checks"]):
    errors.append(f"{len(checks)} cvm_preflight_check_status series, report has {len(rep['checks'])} checks")
# Statuses: the agent's own /report is the oracle. `scan` runs with the fact
# settings.agent false, the agent with it true, so a rule reading that fact
# may differ between the two; any other difference is an error.
agent = json.load(open(f"{base}.agent.json"))
agent_status = {c["id"]: c["status"] for c in agent["checks"]}
for c in rep["checks"]:
    a = agent_status.get(c["id"])
    if a != c["status"]:
        if "settings.agent" in (c.get("facts") or {}):
            print(f"  {fx}: {c['id']}: scan {c['status']}, agent {a} (reads settings.agent)")
        else:
            errors.append(f"check {c['id']}: scan {c['status']!r}, agent /report {a!r}")
for r in checks:
    c = r["metric"].get("check")
    if agent_status.get(c) != r["metric"].get("status"):
        errors.append(f"check {c}: status {r['metric'].get('status')!r}, agent /report {agent_status.get(c)!r}")
if {k: v["value"] for k, v in agent["verdicts"].items()} != {k: v["value"] for k, v in rep["verdicts"].items()}:
    errors.append("the agent's /report verdicts differ from scan's")
print(f"  {fx}: {len(checks)} check_status series")
info = result("info")
os_id = (rep["facts"].get("os") or {}).get("id", "")
if len(info) != 1:
    errors.append(f"{len(info)} cvm_preflight_node_info series, want 1")
elif info[0]["metric"].get("os_id", "") != os_id:
    errors.append(f"node_info os_id {info[0]['metric'].get('os_id', '')!r}, report os.id {os_id!r}")
print(f"  {fx}: node_info os_id = {os_id!r}")
for e in errors:
    print(f"  {fx}: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
done
step "verdicts, check_status and node_info match the reports"

# ---- 4. every dashboard and alert expression
"$PY" "$src/tests/monitoring/exprs.py" --root "$src" --source >"$tmp/exprs.tsv" ||
  fail "exprs.py failed"
total=0 with_data=0 bad=0 key_empty=0 key_data=0
while IFS=$'\t' read -r where expr; do
  [ -n "$expr" ] || continue
  total=$((total + 1))
  res=$(query "$expr" | "$PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("error no JSON"); sys.exit()
if d.get("status") != "success":
    print("error", d.get("errorType"), d.get("error")); sys.exit()
r = d["data"]["result"]
print("data" if (r if isinstance(r, list) else True) else "empty")')
  case $res in
    data) with_data=$((with_data + 1))
      if [[ $expr == *cvm_preflight_node_info* || $expr == *cvm_preflight_check_status* ]]; then
        key_data=$((key_data + 1))
      fi ;;
    empty)
      # Dashboard expressions over the info and check series that filter
      # nothing out (no comparison) must see these fixtures' series.
      if [[ $expr == *cvm_preflight_node_info* || $expr == *cvm_preflight_check_status* ]] &&
         [[ $where == dashboard* ]] && ! grep -qE '==|!=[^~]|[<>]|\bbool\b' <<<"$expr"; then
        echo "prometheus integration: no data: $where: $expr" >&2
        key_empty=$((key_empty + 1))
      fi ;;
    *) echo "prometheus integration: query failed: $where: $expr: $res" >&2; bad=$((bad + 1)) ;;
  esac
done <"$tmp/exprs.tsv"
[ "$total" -gt 0 ] || fail "exprs.py printed no expressions"
[ "$bad" -eq 0 ] || fail "$bad of $total expressions failed (see above)"
step "$total expressions succeed, $with_data returned data ($key_data over node_info/check_status)"
[ "$with_data" -gt 0 ] || fail "no expression returned data"
[ "$key_data" -ge 3 ] || fail "only $key_data expressions over node_info/check_status returned data"
[ "$key_empty" -eq 0 ] || fail "$key_empty dashboard expressions over node_info/check_status returned nothing"
n=$(query 'count(cvm_preflight_node_info)' | "$PY" -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else 0)')
[ "$n" = "${#FIXTURES[@]}" ] || fail "count(cvm_preflight_node_info) is $n, want ${#FIXTURES[@]}"

# ---- 5. the alert rules
# A rule's health is "unknown" until its first evaluation: retry for ~10 s.
check_rules() {
curl -s "$api/rules" >"$tmp/rules.json"
"$PY" - "$tmp/rules.yaml" "$tmp/rules.json" "$1" <<'PYEOF'

import json, sys, yaml
want = yaml.safe_load(open(sys.argv[1]))
got = json.load(open(sys.argv[2]))
errors = []
if got.get("status") != "success":
    errors.append(f"/api/v1/rules: {got}")
groups = {g["name"]: g for g in got.get("data", {}).get("groups", [])}
n = 0
for wg in want["groups"]:
    g = groups.get(wg["name"])
    if g is None:
        errors.append(f"group {wg['name']} not loaded")
        continue
    names = {r["name"]: r for r in g["rules"]}
    for wr in wg["rules"]:
        name = wr.get("alert") or wr.get("record")
        r = names.get(name)
        if r is None:
            errors.append(f"{wg['name']}/{name} not loaded")
        elif r.get("health") != "ok":
            errors.append(f"{wg['name']}/{name}: health {r.get('health')!r} {r.get('lastError', '')}")
        else:
            n += 1
if errors:
    if sys.argv[3] == "last":
        for e in errors:
            print(f"  rules: {e}", file=sys.stderr)
    sys.exit(1)
print(f"  {n} rules in {len(want['groups'])} groups healthy")
PYEOF
}
rules_ok=""
for i in $(seq 20); do
  if check_rules "$([ "$i" = 20 ] && echo last || echo try)"; then rules_ok=1; break; fi
  sleep 0.5
done
[ -n "$rules_ok" ] || fail "alert rules not loaded healthy (see above)"
step "alert rules loaded and healthy"

step "PASS: ${#FIXTURES[@]} fixtures, $total expressions ($with_data with data), rules ok"
