#!/bin/bash
# Offline checks of manifests/monitoring/ (no cluster, no Prometheus server):
#  1. the PrometheusRule's spec, extracted to a plain rules file, passes
#     `promtool check rules`; every alert has severity, summary, description
#     and a runbook_url whose anchor is a heading of docs/monitoring.md;
#  2. tests/monitoring/alerts_test.yaml has, for every alert, a case where it
#     fires and one where it does not, and `promtool test rules` passes;
#  3. every PromQL expression of the dashboard and the rules (exprs.py
#     --check) parses: each is wrapped as a recording rule and checked by
#     `promtool check rules`;
#  4. `kubectl kustomize manifests/monitoring` renders the PrometheusRule, the
#     ServiceMonitor and the dashboard ConfigMap (label grafana_dashboard "1",
#     no name hash, the dashboard JSON unchanged).
# Usage: check.sh [SOURCE_DIR]   (default: the repository holding this script)
# Needs promtool (Debian's prometheus), /usr/bin/python3 with python3-yaml,
# and kubectl. Exits nonzero on the first failure.
set -euo pipefail

src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
src=$(cd "$src" && pwd)
mon=$src/manifests/monitoring
here=$src/tests/monitoring
PY=/usr/bin/python3   # Debian's python, where python3-yaml lives; not the first python3 on PATH

fail() { echo "monitoring check: FAIL: $*" >&2; exit 1; }
step() { echo "monitoring check: $*"; }

command -v promtool >/dev/null ||
  fail "promtool not found; install Debian's prometheus package (apt-get install prometheus)"
[ -x "$PY" ] || fail "$PY not found; install python3 and python3-yaml"
"$PY" -c 'import yaml' 2>/dev/null ||
  fail "$PY cannot import yaml; install Debian's python3-yaml (apt-get install python3-yaml)"
command -v kubectl >/dev/null || fail "kubectl not found (needed for kubectl kustomize)"
for f in "$mon/prometheusrule.yaml" "$mon/servicemonitor.yaml" "$mon/kustomization.yaml" \
         "$mon/grafana-dashboard.json" "$here/alerts_test.yaml" "$here/exprs.py" "$src/docs/monitoring.md"; do
  [ -f "$f" ] || fail "missing $f"
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- 1. PrometheusRule -> plain rules file; promtool check rules; annotations, runbooks
step "extracting the PrometheusRule's spec"
"$PY" - "$mon/prometheusrule.yaml" "$src/docs/monitoring.md" "$tmp/cvm-preflight.rules.yaml" <<'PYEOF' || fail "PrometheusRule: see above"
import re, sys, yaml
rule_path, doc_path, out_path = sys.argv[1:]
with open(rule_path) as f:
    doc = yaml.safe_load(f)
errors = []
if doc.get("apiVersion") != "monitoring.coreos.com/v1" or doc.get("kind") != "PrometheusRule":
    errors.append("not a monitoring.coreos.com/v1 PrometheusRule")
spec = doc.get("spec") or {}
# GitHub's heading anchors: lower case, punctuation but - and _ dropped, spaces -> -.
with open(doc_path) as f:
    anchors = {re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
               for m in re.finditer(r"^#+\s+(.*)$", f.read(), re.M)}
prefix = "https://github.com/cvm-preflight/cvm-preflight/blob/main/docs/monitoring.md#"
alerts = 0
for g in spec.get("groups") or []:
    for r in g.get("rules") or []:
        name = r.get("alert")
        if not name:
            continue
        alerts += 1
        if (r.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
            errors.append(f"{name}: severity label must be critical, warning or info")
        ann = r.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            if not str(ann.get(key, "")).strip():
                errors.append(f"{name}: no {key} annotation")
        url = str(ann.get("runbook_url", ""))
        if not url.startswith(prefix):
            errors.append(f"{name}: runbook_url does not start with {prefix}")
        elif url[len(prefix):] not in anchors:
            errors.append(f"{name}: runbook anchor #{url[len(prefix):]} is no heading of docs/monitoring.md")
if not alerts:
    errors.append("no alerts")
for e in errors:
    print(f"prometheusrule.yaml: {e}", file=sys.stderr)
with open(out_path, "w") as f:
    yaml.safe_dump(spec, f, sort_keys=False)
sys.exit(1 if errors else 0)
PYEOF
step "promtool check rules (PrometheusRule spec)"
promtool check rules "$tmp/cvm-preflight.rules.yaml" || fail "promtool check rules on the PrometheusRule's spec"

# ---- 2. unit tests: every alert covered, then promtool test rules
step "every alert has a firing and a non-firing test"
"$PY" - "$tmp/cvm-preflight.rules.yaml" "$here/alerts_test.yaml" <<'PYEOF' || fail "alerts_test.yaml does not cover every alert"
import sys, yaml
rules_path, test_path = sys.argv[1:]
alerts = [r["alert"] for g in yaml.safe_load(open(rules_path))["groups"] for r in g["rules"] if "alert" in r]
tests = yaml.safe_load(open(test_path))
if tests.get("rule_files") != ["cvm-preflight.rules.yaml"]:
    print("alerts_test.yaml: rule_files must be [cvm-preflight.rules.yaml]", file=sys.stderr)
    sys.exit(1)
fires, quiet, errors = set(), set(), []
for t in tests.get("tests") or []:
    for a in t.get("alert_rule_test") or []:
        exp = a.get("exp_alerts") or []
        (fires if exp else quiet).add(a.get("alertname"))
        for e in exp:
            if not e.get("exp_labels") or not e.get("exp_annotations"):
                errors.append(f"{a.get('alertname')} at {a.get('eval_time')}: an expected alert without exp_labels or exp_annotations")
for name in alerts:
    if name not in fires:
        errors.append(f"{name}: no test case where it fires")
    if name not in quiet:
        errors.append(f"{name}: no test case where it does not fire")
for name in (fires | quiet) - set(alerts):
    errors.append(f"{name}: tested but not in the PrometheusRule")
for e in errors:
    print(f"alerts_test.yaml: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF
cp "$here/alerts_test.yaml" "$tmp/alerts_test.yaml"   # rule_files is relative to the test file
step "promtool test rules"
(cd "$tmp" && promtool test rules alerts_test.yaml) || fail "promtool test rules tests/monitoring/alerts_test.yaml"

# ---- 3. every dashboard and rule expression parses
step "exprs.py --check"
"$PY" "$here/exprs.py" --root "$src" --check >"$tmp/exprs.txt" || fail "exprs.py --check"
n=$(grep -c . "$tmp/exprs.txt" || true)
[ "$n" -gt 0 ] || fail "exprs.py printed no expressions"
"$PY" - "$tmp/exprs.txt" "$tmp/exprs.rules.yaml" <<'PYEOF' || fail "wrapping the expressions as recording rules"
import sys, yaml
exprs = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
rules = [{"record": f"cvm_preflight_exprs_check:expr{i}", "expr": e} for i, e in enumerate(exprs)]
yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}, open(sys.argv[2], "w"), sort_keys=False)
PYEOF
step "promtool check rules ($n dashboard and rule expressions)"
promtool check rules "$tmp/exprs.rules.yaml" || fail "an expression of the dashboard or the rules does not parse (see $here/exprs.py --source)"

# ---- 4. kustomize
step "kubectl kustomize manifests/monitoring"
kubectl kustomize "$mon" >"$tmp/kustomized.yaml" || fail "kubectl kustomize $mon"
"$PY" - "$tmp/kustomized.yaml" "$mon/grafana-dashboard.json" <<'PYEOF' || fail "kustomize output: see above"
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
with open(sys.argv[2]) as f:
    dashboard = json.load(f)
errors = []
kinds = sorted(d.get("kind") for d in docs)
if kinds != ["ConfigMap", "PrometheusRule", "ServiceMonitor"]:
    errors.append(f"kinds {kinds}, want ConfigMap, PrometheusRule, ServiceMonitor")
for d in docs:
    if d["metadata"].get("namespace") != "cvm-preflight":
        errors.append(f"{d['kind']} {d['metadata'].get('name')}: namespace is not cvm-preflight")
    if d["kind"] == "ConfigMap":
        if d["metadata"].get("name") != "cvm-preflight-dashboard":
            errors.append(f"ConfigMap name {d['metadata'].get('name')}, want cvm-preflight-dashboard (no hash)")
        if (d["metadata"].get("labels") or {}).get("grafana_dashboard") != "1":
            errors.append('ConfigMap lacks the label grafana_dashboard: "1"')
        data = d.get("data") or {}
        if list(data) != ["cvm-preflight.json"] or json.loads(data["cvm-preflight.json"]) != dashboard:
            errors.append("ConfigMap data is not cvm-preflight.json = grafana-dashboard.json")
    if d["kind"] == "ServiceMonitor":
        ep = (d["spec"].get("endpoints") or [{}])[0]
        relabel = [r for r in ep.get("relabelings") or []
                   if r.get("targetLabel") == "node" and r.get("sourceLabels") == ["__meta_kubernetes_pod_node_name"]]
        if ep.get("port") != "metrics" or not relabel:
            errors.append("ServiceMonitor: no endpoint on port metrics relabelling the pod's node name into node")
# The dashboard: Grafana's shape, the two variables.
ids = [p.get("id") for p in dashboard.get("panels", [])]
if len(ids) != len(set(ids)):
    errors.append("dashboard: duplicate panel ids")
tv = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
if tv.get("datasource", {}).get("type") != "datasource" or tv["datasource"].get("query") != "prometheus":
    errors.append("dashboard: no datasource variable of type prometheus")
if "node" not in tv or "label_values(cvm_preflight_node_info" not in json.dumps(tv["node"].get("query")):
    errors.append("dashboard: no node variable from label_values(cvm_preflight_node_info, node)")
for p in dashboard.get("panels", []):
    if p.get("type") != "row" and p.get("datasource", {}).get("uid") != "${datasource}":
        errors.append(f"dashboard panel {p.get('id')}: datasource is not ${{datasource}}")
for e in errors:
    print(f"monitoring: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
PYEOF

step "OK ($n expressions, kustomize renders ConfigMap, PrometheusRule, ServiceMonitor)"
