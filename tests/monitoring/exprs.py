#!/usr/bin/python3
"""Print every PromQL expression of the Grafana dashboard and the alert rules.

One expression a line, on one line each, Grafana variables substituted, so a
test can run each against a live Prometheus:

  $node, ${node}, [[node]]  a multi-value or "All" variable: its allValue
                            (".*"); it must stand in a =~ or !~ matcher
  $__rate_interval          5m  ($__interval 1m, $__range 1h, and the _s/_ms forms)
  label_values(m, l)        group by (l) (m)  (Grafana's, not PromQL)
  query_result(q)           q
An expression used twice is printed once.

Usage: exprs.py [--root DIR] [--dashboard JSON] [--rules YAML] [--source] [--check]
  --source  prefix each line with where the expression comes from and a tab
  --check   exit 1 if an expression is empty, keeps an unknown $variable, or
            puts a multi-value variable in an = or != matcher
Needs Debian's python3-yaml (run with /usr/bin/python3).
"""
import argparse
import json
import os
import re
import sys

import yaml

BUILTINS = {
    "__rate_interval": "5m", "__interval": "1m", "__interval_ms": "60000",
    "__range": "1h", "__range_s": "3600", "__range_ms": "3600000",
}
VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
MATCHER_RE = re.compile(r'(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def one_line(expr):
    """Drops PromQL comments (# outside strings) and joins the lines."""
    out, quote, i = [], None, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(expr):
                out.append(expr[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            out.append(c)
        elif c == "#":
            while i < len(expr) and expr[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return " ".join("".join(out).split())


class Vars:
    def __init__(self, dashboard):
        self.values = dict(BUILTINS)
        self.multi = set()
        for v in dashboard.get("templating", {}).get("list", []):
            name, kind = v.get("name"), v.get("type")
            if not name or kind == "datasource":
                continue
            if v.get("multi") or v.get("includeAll"):
                self.values[name] = v.get("allValue") or ".*"
                self.multi.add(name)
            elif kind == "constant":
                self.values[name] = str(v.get("query", ""))
            else:
                cur = (v.get("current") or {}).get("value")
                opts = [o.get("value") for o in v.get("options", []) if o.get("value")]
                if kind in ("interval", "custom") and not opts and isinstance(v.get("query"), str):
                    opts = [o.strip() for o in v["query"].split(",") if o.strip()]
                value = cur if isinstance(cur, str) and cur else (opts[0] if opts else None)
                if value is not None:
                    self.values[name] = value

    def problems(self, expr):
        """Multi-value variables outside regex matchers."""
        bad = []
        for op, value in MATCHER_RE.findall(expr):
            for m in VAR_RE.finditer(value):
                name = next(g for g in m.groups() if g)
                if name in self.multi and op in ("=", "!="):
                    bad.append(f"${name} in a {op} matcher (use =~ or !~)")
        return bad

    def substitute(self, expr):
        def repl(m):
            name = next(g for g in m.groups() if g)
            return self.values.get(name, m.group(0))
        return VAR_RE.sub(repl, expr)


def variable_query(query):
    """A query variable's query as PromQL, or None if it has none."""
    if isinstance(query, dict):
        query = query.get("query", "")
    query = (query or "").strip()
    m = re.fullmatch(r"label_values\((.+),\s*(\w+)\s*\)", query, re.S)
    if m:
        return f"group by ({m.group(2)}) ({m.group(1).strip()})"
    m = re.fullmatch(r"query_result\((.+)\)", query, re.S)
    if m:
        return m.group(1)
    if re.fullmatch(r"(label_values|label_names|metrics)\(.*\)", query, re.S) or not query:
        return None  # label_values(label), label_names(), metrics(): no PromQL
    return query


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def dashboard_exprs(dashboard):
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = variable_query(v.get("query"))
            if q is not None:
                yield f"dashboard variable {v.get('name')}", q
    for p in panels(dashboard.get("panels", [])):
        for t in p.get("targets", []):
            if "expr" in t:
                yield f"dashboard panel {p.get('id')} {p.get('title')!r} {t.get('refId', '')}", t["expr"]


def rule_exprs(doc):
    if doc.get("kind") == "PrometheusRule":
        doc = doc.get("spec") or {}
    for g in doc.get("groups") or []:
        for r in g.get("rules") or []:
            name = r.get("alert") or r.get("record")
            yield f"rule {g.get('name')} {name}", r.get("expr", "")


def main():
    root_default = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=root_default)
    ap.add_argument("--dashboard")
    ap.add_argument("--rules")
    ap.add_argument("--source", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    dash_path = args.dashboard or os.path.join(args.root, "manifests/monitoring/grafana-dashboard.json")
    rules_path = args.rules or os.path.join(args.root, "manifests/monitoring/prometheusrule.yaml")
    with open(dash_path, encoding="utf-8") as f:
        dashboard = json.load(f)
    with open(rules_path, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    variables = Vars(dashboard)
    errors, seen = [], set()
    items = list(dashboard_exprs(dashboard)) + list(rule_exprs(rules))
    for where, raw in items:
        expr = one_line(str(raw or ""))
        errors += [f"{where}: {p}" for p in variables.problems(expr)]
        expr = variables.substitute(expr)
        if not expr:
            errors.append(f"{where}: empty expression")
            continue
        left = re.findall(r"\$\{?[A-Za-z_]\w*|\[\[\w+", expr)
        if left:
            errors.append(f"{where}: unknown variable {left[0]} in {expr}")
        if expr in seen:
            continue
        seen.add(expr)
        print(f"{where}\t{expr}" if args.source else expr)
    if not items:
        errors.append("no expressions found")
    if args.check and errors:
        for e in errors:
            print(f"exprs.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
