#!/usr/bin/python3
"""Offline checks of manifests/ (no cluster: nothing is applied).

1. `kubectl kustomize` renders the base, every component on its own, the
   compatible components together, and manifests/uninstall/.
2. Every rendered object (and manifests/examples/) has a known apiVersion
   and kind and the fields the API requires (hand-written below from the
   Kubernetes API reference, https://kubernetes.io/docs/reference/kubernetes-api/,
   and, for NodeReadinessRule, a subset of its CRD schema: schemas/), the
   right scope (namespace or none), valid names and labels; the built-in
   kinds also validate against the Kubernetes OpenAPI schemas as the npm
   package kubernetes-models 5.1.0 packages them (k8s_validate.mjs).
3. The DaemonSet: mounts read-only (the one exception, /tmp, an emptyDir),
   the security context, capabilities, probes, node affinity, tolerations,
   rolling update; every flag and CVM_PREFLIGHT_* variable it passes exists
   in the built binary's `agent --help`, and `agent --oneshot` runs with that
   environment and a rules ConfigMap volume as the kubelet lays it out.
4. RBAC grants exactly the expected rules, no more (a rule added fails).
5. References: the ServiceMonitor selects the Service and its port name, the
   Service and NetworkPolicy select the agent's pods and name its port, the
   bindings name roles and service accounts that exist, the admission
   policy names the DaemonSet's service account.
6. The ValidatingAdmissionPolicy's CEL: parsed and evaluated on sample
   admission requests with @marcbachmann/cel-js (cel_eval.mjs), installed
   by npm into the build tree's test cache once.
7. Self-tests: mutated copies of the objects (a rule added, a mount made
   writable, a flag the agent lacks, ...) must fail the checks above.

Usage: check_manifests.py SOURCE_DIR CVM_PREFLIGHT_BINARY CACHE_DIR
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

SRC, BINARY, CACHE = (os.path.abspath(a) for a in sys.argv[1:4])
MANIFESTS = os.path.join(SRC, "manifests")
HERE = os.path.join(SRC, "tests", "manifests")
CEL_JS = "@marcbachmann/cel-js@8.0.0"
K8S_MODELS = "kubernetes-models@5.1.0"

NAMESPACE = "cvm-preflight"
PREFIX = "cvm-preflight.dev/"
AGENT_SA = ("cvm-preflight", "cvm-preflight")  # namespace, name

failures = []
# npm packages that could not be had (no node or npm, no registry): the
# checks that need them did not run, and the test exits 77, which CTest
# reports as skipped (SKIP_RETURN_CODE), unless something else failed.
unavailable = set()


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def step(msg):
    print("manifests check: " + msg, flush=True)


# ---------------------------------------------------------------- rendering

COMPONENTS = ["monitoring", "without-operator", "sysbox-install", "runtimeclass",
              "readiness-gate", "host-to-container", "before-1.30", "selinux-spc",
              "apparmor-unconfined", "nfd"]
# The prune Job is not a component (kustomize has no delete hook): it is
# manifests/uninstall/, rendered on its own below.
TOGETHER = ["monitoring", "sysbox-install", "runtimeclass", "readiness-gate",
            "host-to-container", "selinux-spc", "apparmor-unconfined"]


def kustomize(path):
    r = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"kubectl kustomize {path}: {r.stderr.strip()}")
        return []
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def render_with(tmp, name, components):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    rel = os.path.relpath(MANIFESTS, d)
    k = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": [rel],
         "components": [f"{rel}/components/{c}" for c in components]}
    with open(os.path.join(d, "kustomization.yaml"), "w") as f:
        yaml.safe_dump(k, f)
    return kustomize(d)


# ------------------------------------------------------ per-kind API checks

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def qualified_name_ok(key):
    # k8s.io/apimachinery validation.IsQualifiedName: [prefix/]name, prefix a
    # DNS subdomain up to 253, name up to 63 of [-A-Za-z0-9_.] with
    # alphanumeric ends.
    parts = key.split("/")
    if len(parts) > 2:
        return False
    if len(parts) == 2:
        if not parts[0] or len(parts[0]) > 253 or not DNS1123_SUBDOMAIN.match(parts[0]):
            return False
    name = parts[-1]
    return 0 < len(name) <= 63 and bool(LABEL_NAME.match(name))


def get(obj, path, default=None):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur


def require(obj, where, *paths):
    for p in paths:
        if get(obj, p) in (None, "", [], {}):
            fail(f"{where}: required field {p} missing")


# apiVersion/kind -> (namespaced, checker). Required fields as the API
# reference marks them (Kubernetes v1.32, kubernetes.io/docs/reference/kubernetes-api/).
def check_rbac_role(o, w):
    for i, r in enumerate(o.get("rules") or []):
        if not r.get("verbs"):
            fail(f"{w}: rules[{i}].verbs required")
        if not r.get("resources") and not r.get("nonResourceURLs"):
            fail(f"{w}: rules[{i}] names no resources")


def check_binding(o, w):
    require(o, w, "roleRef.apiGroup", "roleRef.kind", "roleRef.name")
    for i, s in enumerate(o.get("subjects") or []):
        if not s.get("kind") or not s.get("name"):
            fail(f"{w}: subjects[{i}] needs kind and name")
        if s.get("kind") == "ServiceAccount" and not s.get("namespace"):
            fail(f"{w}: subjects[{i}] ServiceAccount needs a namespace")


def check_pod_spec(spec, w):
    if not spec.get("containers"):
        fail(f"{w}: spec.containers required")
    for c in spec.get("containers") or []:
        if not c.get("name") or not DNS1123_LABEL.match(c.get("name", "")):
            fail(f"{w}: container name {c.get('name')!r} not a DNS label")
        if not c.get("image"):
            fail(f"{w}: container {c.get('name')} has no image")
        for m in c.get("volumeMounts") or []:
            if m.get("recursiveReadOnly") in ("IfPossible", "Enabled"):
                # VolumeMount API: "If this field is set to IfPossible or
                # Enabled, MountPropagation must be set to None (or be
                # unspecified)"; and readOnly must be true.
                if m.get("mountPropagation") not in (None, "None"):
                    fail(f"{w}: mount {m['name']}: recursiveReadOnly needs mountPropagation None")
                if m.get("readOnly") is not True:
                    fail(f"{w}: mount {m['name']}: recursiveReadOnly needs readOnly true")
    vols = {v.get("name") for v in spec.get("volumes") or []}
    for c in spec.get("containers") or []:
        for m in c.get("volumeMounts") or []:
            if m.get("name") not in vols:
                fail(f"{w}: mount {m.get('name')} names no volume")


def check_daemonset(o, w):
    require(o, w, "spec.selector", "spec.template")
    sel = get(o, "spec.selector.matchLabels") or {}
    labels = get(o, "spec.template.metadata.labels") or {}
    if not sel or any(labels.get(k) != v for k, v in sel.items()):
        fail(f"{w}: spec.selector does not match the template's labels")
    check_pod_spec(get(o, "spec.template.spec") or {}, w)


def check_job(o, w):
    require(o, w, "spec.template")
    if get(o, "spec.template.spec.restartPolicy") not in ("Never", "OnFailure"):
        fail(f"{w}: a Job's restartPolicy must be Never or OnFailure")
    check_pod_spec(get(o, "spec.template.spec") or {}, w)


def check_service(o, w):
    ports = get(o, "spec.ports") or []
    if not ports:
        fail(f"{w}: spec.ports required")
    for p in ports:
        if not isinstance(p.get("port"), int):
            fail(f"{w}: port {p} has no numeric port")
        if len(ports) > 1 and not p.get("name"):
            fail(f"{w}: several ports need names")


def check_vap(o, w):
    require(o, w, "spec.matchConstraints.resourceRules")
    if not get(o, "spec.validations") and not get(o, "spec.auditAnnotations"):
        fail(f"{w}: needs validations or auditAnnotations")
    for v in get(o, "spec.validations") or []:
        if not v.get("expression"):
            fail(f"{w}: a validation without expression")
    names = [v.get("name") for v in get(o, "spec.variables") or []]
    if len(names) != len(set(names)):
        fail(f"{w}: duplicate variable names")


def check_vap_binding(o, w):
    require(o, w, "spec.policyName")
    acts = get(o, "spec.validationActions") or []
    if not acts or any(a not in ("Deny", "Warn", "Audit") for a in acts):
        fail(f"{w}: validationActions must be some of Deny, Warn, Audit")


def check_runtimeclass(o, w):
    h = o.get("handler")
    if not h or not DNS1123_LABEL.match(h):
        fail(f"{w}: handler must be a DNS label")


def check_netpol(o, w):
    if "podSelector" not in (o.get("spec") or {}):
        fail(f"{w}: spec.podSelector required")


def check_priorityclass(o, w):
    if not isinstance(o.get("value"), int):
        fail(f"{w}: value required")
    if o.get("value", 0) > 1000000000:
        fail(f"{w}: values above 1e9 are reserved for system classes")


def check_servicemonitor(o, w):
    require(o, w, "spec.selector", "spec.endpoints")


def check_prometheusrule(o, w):
    require(o, w, "spec.groups")


def check_configmap(o, w):
    for k in (o.get("data") or {}):
        if not re.match(r"^[-._a-zA-Z0-9]+$", k):
            fail(f"{w}: data key {k!r} invalid")


def check_pod(o, w):
    check_pod_spec(o.get("spec") or {}, w)


def load_schema(name):
    with open(os.path.join(HERE, "schemas", name)) as f:
        return yaml.safe_load(f)


def check_schema(value, schema, where):
    """The subset of OpenAPI v3 schema the CRD subset uses."""
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}
    if t and not isinstance(value, types[t]):
        fail(f"{where}: expected {t}, got {type(value).__name__}")
        return
    if "enum" in schema and value not in schema["enum"]:
        fail(f"{where}: {value!r} not one of {schema['enum']}")
    if t == "string":
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1 << 30):
            fail(f"{where}: length of {value!r} out of range")
    if t == "array":
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", 1 << 30):
            fail(f"{where}: item count out of range")
        for i, item in enumerate(value):
            check_schema(item, schema.get("items", {}), f"{where}[{i}]")
        keys = schema.get("x-kubernetes-list-map-keys")
        if keys:
            seen = [tuple(i.get(k) for k in keys) for i in value]
            if len(seen) != len(set(seen)):
                fail(f"{where}: duplicate list-map keys {keys}")
    if t == "object":
        for r in schema.get("required", []):
            if r not in value:
                fail(f"{where}: required {r} missing")
        props = schema.get("properties")
        for k, v in value.items():
            if props is not None and k in props:
                check_schema(v, props[k], f"{where}.{k}")
            elif "additionalProperties" in schema:
                check_schema(v, schema["additionalProperties"], f"{where}.{k}")
            elif props is not None:
                fail(f"{where}: unknown field {k}")


def check_nodereadinessrule(o, w):
    schema = load_schema("nodereadinessrule-v1alpha1.yaml")
    check_schema(o.get("spec"), schema["spec"], f"{w}.spec")
    # The controller's webhook (internal/webhook/nodereadinessgaterule_webhook.go)
    # also refuses an empty nodeSelector and an unset enforcementMode.
    sel = get(o, "spec.nodeSelector") or {}
    if not sel.get("matchLabels") and not sel.get("matchExpressions"):
        fail(f"{w}: nodeSelector must not be empty")
    if get(o, "spec.taint.effect") not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        fail(f"{w}: taint effect invalid")
    if not qualified_name_ok(get(o, "spec.taint.key", "")):
        fail(f"{w}: taint key {get(o, 'spec.taint.key')!r} is not a qualified name")


KINDS = {
    ("v1", "Namespace"): (False, None),
    ("v1", "ServiceAccount"): (True, None),
    ("v1", "ConfigMap"): (True, check_configmap),
    ("v1", "Service"): (True, check_service),
    ("v1", "Pod"): (True, check_pod),
    ("apps/v1", "DaemonSet"): (True, check_daemonset),
    ("batch/v1", "Job"): (True, check_job),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): (False, check_rbac_role),
    ("rbac.authorization.k8s.io/v1", "Role"): (True, check_rbac_role),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): (False, check_binding),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): (True, check_binding),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): (False, check_vap),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): (False, check_vap_binding),
    ("scheduling.k8s.io/v1", "PriorityClass"): (False, check_priorityclass),
    ("networking.k8s.io/v1", "NetworkPolicy"): (True, check_netpol),
    ("node.k8s.io/v1", "RuntimeClass"): (False, check_runtimeclass),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (True, check_servicemonitor),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (True, check_prometheusrule),
    ("readiness.node.x-k8s.io/v1alpha1", "NodeReadinessRule"): (False, check_nodereadinessrule),
}


def ident(o):
    md = o.get("metadata") or {}
    ns = md.get("namespace")
    return f"{o.get('kind')} {ns + '/' if ns else ''}{md.get('name')}"


def check_object(o):
    w = ident(o)
    key = (o.get("apiVersion"), o.get("kind"))
    if key not in KINDS:
        fail(f"{w}: unknown apiVersion/kind {key}")
        return
    namespaced, checker = KINDS[key]
    md = o.get("metadata") or {}
    name = md.get("name", "")
    if not name or len(name) > 253 or not DNS1123_SUBDOMAIN.match(name):
        fail(f"{w}: metadata.name {name!r} is not a DNS subdomain")
    if namespaced and not md.get("namespace"):
        fail(f"{w}: namespaced but no metadata.namespace")
    if not namespaced and md.get("namespace"):
        fail(f"{w}: cluster-scoped but has metadata.namespace")
    for field in ("labels", "annotations"):
        for k, v in (md.get(field) or {}).items():
            if not qualified_name_ok(k):
                fail(f"{w}: {field} key {k!r} invalid")
            if not isinstance(v, str):
                fail(f"{w}: {field} {k} value is not a string")
            elif field == "labels" and (len(v) > 63 or not LABEL_VALUE.match(v)):
                fail(f"{w}: label {k} value {v!r} invalid")
    if checker:
        checker(o, w)


def check_objects(objs, where):
    seen = set()
    for o in objs:
        k = ident(o)
        if k in seen:
            fail(f"{where}: {k} twice")
        seen.add(k)
        check_object(o)


# ------------------------------------------------------- the DaemonSet

def agent_help():
    r = subprocess.run([BINARY, "agent", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{BINARY} agent --help exited {r.returncode}: {r.stderr}")
    return r.stdout


def main_help():
    r = subprocess.run([BINARY, "--help"], capture_output=True, text=True)
    return r.stdout + r.stderr


def help_flags(text):
    return set(re.findall(r"^\s+(--[a-z][-a-z0-9]*)", text, re.M))


def env_to_flag(name):
    return "--" + name[len("CVM_PREFLIGHT_"):].lower().replace("_", "-")


def check_agent_flags(ds, help_text, w):
    flags = help_flags(help_text)
    if "--root" not in flags or "--listen" not in flags:
        fail(f"{w}: could not read flags from agent --help (got {sorted(flags)})")
    c = ds["spec"]["template"]["spec"]["containers"][0]
    cmd = (c.get("command") or []) + (c.get("args") or [])
    if cmd[:2] != ["cvm-preflight", "agent"]:
        fail(f"{w}: command {cmd} is not cvm-preflight agent")
    for a in cmd[2:]:
        if a.startswith("--") and a.split("=", 1)[0] not in flags:
            fail(f"{w}: passes {a}, which agent --help does not list")
    for e in c.get("env") or []:
        n = e.get("name", "")
        if n.startswith("CVM_PREFLIGHT_"):
            if env_to_flag(n) not in flags:
                fail(f"{w}: env {n} names {env_to_flag(n)}, which agent --help does not list")
        elif n == "POD_NAMESPACE":
            if "$POD_NAMESPACE" not in help_text:
                fail(f"{w}: POD_NAMESPACE is not read by the agent (agent --help)")
            if get(e, "valueFrom.fieldRef.fieldPath") != "metadata.namespace":
                fail(f"{w}: POD_NAMESPACE not from the downward API's metadata.namespace")
        elif n == "NODE_NAME":
            if "$NODE_NAME" not in help_text:
                fail(f"{w}: NODE_NAME is not read by the agent (agent --help)")
            if get(e, "valueFrom.fieldRef.fieldPath") != "spec.nodeName":
                fail(f"{w}: NODE_NAME not from the downward API's spec.nodeName")
        else:
            fail(f"{w}: env {n} is no agent setting")
    return {e["name"]: e.get("value") for e in c.get("env") or []}


SITE_RULE = """- id: site-kernel-5-4
  title: Kernel is at least 5.4 (a site's own rule)
  reason: KernelTooOld
  severity: warning
  verdicts: [cvm]
  expect: {fact: kernel.version, ge: '5.4', scheme: kernel}
  fix: Upgrade the kernel.
  sources:
    - the site's policy
"""


def run_agent_as_daemonset(ds, configmaps, w, tmp):
    """Runs `agent --oneshot` with the DaemonSet's environment: /host is a
    fixture root, the rules ConfigMap a directory laid out as the kubelet
    writes ConfigMap volumes (a timestamped directory, a ..data link to it,
    one link per key), holding its data plus one site rule. The agent must
    accept every value, load the rule and report."""
    c = ds["spec"]["template"]["spec"]["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
    vols = {v["name"]: v for v in ds["spec"]["template"]["spec"].get("volumes") or []}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    rules_dir = None
    for e in c.get("env") or []:
        v = e.get("value")
        if e["name"] == "NODE_NAME":
            v = "node-a"
        elif e["name"] == "CVM_PREFLIGHT_ROOT":
            v = os.path.join(SRC, "fixtures", "debian-12", "root")
        elif e["name"] == "CVM_PREFLIGHT_RULES":
            vol = vols.get(mounts.get(v), {})
            if "configMap" not in vol:
                fail(f"{w}: CVM_PREFLIGHT_RULES={v} is not where a ConfigMap is mounted")
                return
            data = dict(next((cm.get("data") or {} for cm in configmaps
                              if cm["metadata"]["name"] == get(vol, "configMap.name")), {}))
            data["site.yaml"] = SITE_RULE
            rules_dir = os.path.join(tmp, "rules-volume")
            stamp = os.path.join(rules_dir, "..2026_12_07_03_00_00.000000001")
            os.makedirs(stamp)
            os.symlink(os.path.basename(stamp), os.path.join(rules_dir, "..data"))
            for k, text in data.items():
                with open(os.path.join(stamp, k), "w") as f:
                    f.write(text)
                os.symlink(os.path.join("..data", k), os.path.join(rules_dir, k))
            v = rules_dir
        env[e["name"]] = v
    r = subprocess.run([BINARY, "agent", "--oneshot"], env=env, capture_output=True, text=True, timeout=60)
    if rules_dir:
        shutil.rmtree(rules_dir)
    if r.returncode not in (0, 1, 3):
        fail(f"{w}: agent --oneshot with the DaemonSet's environment exited {r.returncode}: {r.stderr.strip()[-400:]}")
        return
    for line in r.stderr.splitlines():
        if '"level":"error"' in line:
            fail(f"{w}: agent logged an error with the DaemonSet's environment: {line}")
    if rules_dir and "site-kernel-5-4" not in r.stdout:
        fail(f"{w}: the rule in the rules ConfigMap's volume was not judged")


def check_daemonset_policy(ds, w, expect_rro=True):
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env") or []}
    ru = spec.get("updateStrategy") or {}
    if ru.get("type") != "RollingUpdate" or get(ru, "rollingUpdate.maxUnavailable") != "10%":
        fail(f"{w}: rolling update with maxUnavailable 10% expected")
    terms = get(pod, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms") or []
    exprs = {(e["key"], e["operator"], tuple(e.get("values") or [])) for t in terms for e in t.get("matchExpressions") or []}
    if len(terms) != 1 or exprs != {("kubernetes.io/os", "In", ("linux",)),
                                      ("kubernetes.io/arch", "In", ("amd64", "arm64"))}:
        fail(f"{w}: node affinity must be os=linux and arch in (amd64, arm64), got {exprs}")
    if pod.get("tolerations") != [{"operator": "Exists"}]:
        fail(f"{w}: must tolerate every taint (one toleration, operator Exists)")
    for k in ("hostPID", "hostNetwork", "hostIPC"):
        if pod.get(k):
            fail(f"{w}: {k} must be off")
    if get(pod, "securityContext.seccompProfile.type") != "RuntimeDefault" and \
            get(c, "securityContext.seccompProfile.type") != "RuntimeDefault":
        fail(f"{w}: seccomp RuntimeDefault expected")
    sc = c.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem") is not True:
        fail(f"{w}: readOnlyRootFilesystem must be true")
    if sc.get("allowPrivilegeEscalation") is not False:
        fail(f"{w}: allowPrivilegeEscalation must be false")
    if sc.get("privileged"):
        fail(f"{w}: must not be privileged")
    caps = sc.get("capabilities") or {}
    if caps.get("drop") != ["ALL"]:
        fail(f"{w}: capabilities must drop ALL")
    if caps.get("add") != ["SYS_PTRACE"]:
        fail(f"{w}: capabilities must add only SYS_PTRACE, got {caps.get('add')}")
    if pod.get("priorityClassName") in (None, "system-node-critical", "system-cluster-critical"):
        fail(f"{w}: needs its own PriorityClass")
    # Mounts: all read-only but the emptyDir at /tmp.
    vols = {v["name"]: v for v in pod.get("volumes") or []}
    host_root = None
    for m in c.get("volumeMounts") or []:
        v = vols.get(m["name"], {})
        if m.get("readOnly") is True:
            pass
        elif m.get("mountPath") == "/tmp" and "emptyDir" in v and set(v) == {"name", "emptyDir"}:
            if not get(v, "emptyDir.sizeLimit"):
                fail(f"{w}: the /tmp emptyDir needs a sizeLimit")
        else:
            fail(f"{w}: mount {m['name']} at {m.get('mountPath')} is not read-only")
        if "hostPath" in v:
            if m.get("mountPath") != "/host" or get(v, "hostPath.path") != "/":
                fail(f"{w}: the only hostPath is / at /host (got {m.get('mountPath')})")
            host_root = m
    if host_root is None:
        fail(f"{w}: no host root at /host")
    else:
        if expect_rro and host_root.get("recursiveReadOnly") != "IfPossible":
            fail(f"{w}: host root must be recursiveReadOnly IfPossible")
        if not expect_rro and "recursiveReadOnly" in host_root:
            fail(f"{w}: recursiveReadOnly must be gone here")
    if env.get("CVM_PREFLIGHT_ROOT") != "/host":
        fail(f"{w}: CVM_PREFLIGHT_ROOT must be /host")
    rules = env.get("CVM_PREFLIGHT_RULES")
    cm_mounts = [m for m in c.get("volumeMounts") or [] if "configMap" in vols.get(m["name"], {})]
    if len(cm_mounts) != 1 or cm_mounts[0]["mountPath"] != rules:
        fail(f"{w}: the rules ConfigMap must be mounted at CVM_PREFLIGHT_RULES ({rules})")
    ports = {p.get("name"): p for p in c.get("ports") or []}
    if get(ports, "metrics.containerPort") != 9861:
        fail(f"{w}: container port metrics 9861 expected")
    listen = env.get("CVM_PREFLIGHT_LISTEN")
    if listen and not listen.endswith(":9861"):
        fail(f"{w}: CVM_PREFLIGHT_LISTEN {listen} does not serve the metrics port")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        if get(c, f"{probe}.httpGet.path") != path or get(c, f"{probe}.httpGet.port") not in ("metrics", 9861):
            fail(f"{w}: {probe} must GET {path} on the metrics port")
    got = baseline_violations(pod)
    want = {"hostPath volume", "capability SYS_PTRACE"}
    if "seLinuxOptions" in sc:
        want.add(f"SELinux {sc['seLinuxOptions']}")
    if get(sc, "appArmorProfile.type") == "Unconfined":
        want.add("AppArmor Unconfined")
    if got != want:
        fail(f"{w}: breaks Pod Security baseline by {sorted(got)}, expected exactly {sorted(want)}")
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if not get(res, f"{part}.{r}"):
                fail(f"{w}: resources.{part}.{r} missing")


# Pod Security Standards, baseline level
# (https://kubernetes.io/docs/concepts/security/pod-security-standards/):
# what of it a pod spec breaks. The agent's namespace is "privileged"; this
# shows for what: exactly the host root hostPath and SYS_PTRACE.
BASELINE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                 "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
BASELINE_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def baseline_violations(pod):
    out = set()
    for k in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(k):
            out.add(f"host namespaces ({k})")
    ctrs = (pod.get("containers") or []) + (pod.get("initContainers") or []) + \
        (pod.get("ephemeralContainers") or [])
    contexts = [pod.get("securityContext") or {}] + [c.get("securityContext") or {} for c in ctrs]
    for sc in contexts:
        if get(sc, "windowsOptions.hostProcess"):
            out.add("HostProcess")
        if sc.get("privileged"):
            out.add("privileged")
        if get(sc, "seccompProfile.type") == "Unconfined":
            out.add("seccomp Unconfined")
        if get(sc, "appArmorProfile.type") == "Unconfined":
            out.add("AppArmor Unconfined")
        se = sc.get("seLinuxOptions") or {}
        if se.get("type", "") not in BASELINE_SELINUX_TYPES or se.get("user") or se.get("role"):
            out.add(f"SELinux {se}")
        if sc.get("procMount") not in (None, "Default"):
            out.add("procMount")
    for c in ctrs:
        for cap in get(c, "securityContext.capabilities.add") or []:
            if cap.removeprefix("CAP_") not in BASELINE_CAPS:
                out.add(f"capability {cap}")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.add("hostPort")
    for v in pod.get("volumes") or []:
        if "hostPath" in v:
            out.add("hostPath volume")
    for sysctl in get(pod, "securityContext.sysctls") or []:
        out.add(f"sysctl {sysctl.get('name')}")
    return out


# ----------------------------------------------------------------- RBAC

# (scope, apiGroup, resource, verb) the agent may have; scope is "cluster"
# or a namespace. The admin role is checked on its own.
AGENT_RULES = {
    ("cluster", "", "nodes", "get"),
    ("cluster", "", "nodes", "patch"),
    ("cluster", "", "nodes/status", "patch"),
    ("default", "events.k8s.io", "events", "create"),
}
# The nfd component: no patch of nodes (NFD's master writes the labels);
# the NodeFeature in the agent's own namespace instead.
AGENT_RULES_NFD = (AGENT_RULES - {("cluster", "", "nodes", "patch")}) | {
    ("cvm-preflight", "nfd.k8s-sigs.io", "nodefeatures", "get"),
    ("cvm-preflight", "nfd.k8s-sigs.io", "nodefeatures", "create"),
    ("cvm-preflight", "nfd.k8s-sigs.io", "nodefeatures", "patch"),
}
# `cvm-preflight prune`: the nodes, their status, the agents' NodeFeatures.
PRUNE_RULES = {
    ("", "nodes", "get"), ("", "nodes", "list"), ("", "nodes", "patch"),
    ("", "nodes/status", "patch"),
    ("nfd.k8s-sigs.io", "nodefeatures", "list"), ("nfd.k8s-sigs.io", "nodefeatures", "delete"),
}
# `cvm-preflight report` reads, on top: the objects of the cluster checks
# (docs/cluster.md; /version is open to every authenticated user through
# the default system:public-info-viewer binding).
ADMIN_RULES = PRUNE_RULES | {
    ("", "namespaces", "get"),
    ("node.k8s.io", "runtimeclasses", "get"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "list"),
}


def role_tuples(role):
    out = set()
    for r in role.get("rules") or []:
        if r.get("resourceNames") or r.get("nonResourceURLs"):
            out.add(("?", "resourceNames/nonResourceURLs", str(r)))
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                for v in r.get("verbs") or []:
                    out.add((g, res, v))
    return out


def granted(objs, subject):
    """What the bindings in objs grant to subject (namespace, name)."""
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
             for o in objs if o["kind"] in ("ClusterRole", "Role")}
    out = set()
    for b in objs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if not any(s.get("kind") == "ServiceAccount" and (s.get("namespace"), s.get("name")) == subject
                   for s in b.get("subjects") or []):
            continue
        ref = b["roleRef"]
        ns = b["metadata"].get("namespace")
        key = (ref["kind"], None if ref["kind"] == "ClusterRole" else ns, ref["name"])
        role = roles.get(key)
        if role is None:
            fail(f"{ident(b)}: roleRef {ref['kind']} {ref['name']} not rendered")
            continue
        scope = "cluster" if b["kind"] == "ClusterRoleBinding" else ns
        for t in role_tuples(role):
            out.add((scope,) + t)
        for sa in b.get("subjects") or []:
            if sa.get("kind") == "ServiceAccount" and not any(
                    o["kind"] == "ServiceAccount" and o["metadata"]["name"] == sa["name"]
                    and o["metadata"].get("namespace") == sa.get("namespace") for o in objs):
                fail(f"{ident(b)}: subject {sa} not rendered")
    return out


def check_rbac(objs, where, agent_rules=AGENT_RULES):
    got = granted(objs, AGENT_SA)
    if got != agent_rules:
        fail(f"{where}: agent RBAC differs; extra {sorted(got - agent_rules)}, missing {sorted(agent_rules - got)}")
    for o in objs:
        if o["kind"] == "ClusterRole" and o["metadata"]["name"] == "cvm-preflight-admin":
            if role_tuples(o) != ADMIN_RULES:
                fail(f"{where}: admin ClusterRole is {sorted(role_tuples(o))}")
    # No other role in the base grants anything beyond these two sets.
    for o in objs:
        if o["kind"] in ("ClusterRole", "Role"):
            t = role_tuples(o)
            if not t <= ADMIN_RULES | {(g, r, v) for _, g, r, v in agent_rules}:
                fail(f"{where}: {ident(o)} grants {sorted(t)}")


# ------------------------------------------------------------ references

def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_refs(objs, where):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    ds = by_kind["DaemonSet"][0]
    pod_labels = ds["spec"]["template"]["metadata"]["labels"]
    pod = ds["spec"]["template"]["spec"]
    ns = ds["metadata"]["namespace"]
    c = pod["containers"][0]
    port_names = {p["name"]: p["containerPort"] for p in c.get("ports") or []}
    if not any(o["metadata"]["name"] == pod.get("serviceAccountName") and o["metadata"]["namespace"] == ns
               for o in by_kind.get("ServiceAccount", [])):
        fail(f"{where}: DaemonSet's service account not rendered")
    if (ns, pod.get("serviceAccountName")) != AGENT_SA:
        fail(f"{where}: DaemonSet's service account is not {AGENT_SA}")
    if not any(o["metadata"]["name"] == pod.get("priorityClassName") for o in by_kind.get("PriorityClass", [])):
        fail(f"{where}: DaemonSet's PriorityClass not rendered")
    for v in pod.get("volumes") or []:
        if "configMap" in v and not any(o["metadata"]["name"] == v["configMap"]["name"] and o["metadata"]["namespace"] == ns
                                        for o in by_kind.get("ConfigMap", [])):
            fail(f"{where}: ConfigMap {v['configMap']['name']} not rendered")
    if not any(o["metadata"]["name"] == ns for o in by_kind.get("Namespace", [])):
        fail(f"{where}: namespace {ns} not rendered")
    nsobj = [o for o in by_kind.get("Namespace", []) if o["metadata"]["name"] == ns][0]
    if nsobj["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") != "privileged":
        fail(f"{where}: namespace must enforce Pod Security privileged")
    svcs = [s for s in by_kind.get("Service", []) if selects(s["spec"].get("selector"), pod_labels)]
    if len(svcs) != 1:
        fail(f"{where}: expected one Service selecting the agent, got {len(svcs)}")
        return
    svc = svcs[0]
    if svc["metadata"]["labels"].get("app.kubernetes.io/name") != "cvm-preflight":
        fail(f"{where}: Service needs label app.kubernetes.io/name: cvm-preflight")
    sports = {p.get("name"): p for p in svc["spec"]["ports"]}
    if get(sports, "metrics.port") != 9861 or get(sports, "metrics.targetPort") not in ("metrics", 9861):
        fail(f"{where}: Service port metrics 9861 -> container port metrics expected")
    tp = get(sports, "metrics.targetPort")
    if isinstance(tp, str) and tp not in port_names:
        fail(f"{where}: Service targetPort {tp} names no container port")
    for np in by_kind.get("NetworkPolicy", []):
        if not selects(get(np, "spec.podSelector.matchLabels"), pod_labels):
            fail(f"{where}: {ident(np)} does not select the agent")
        rules = get(np, "spec.ingress") or []
        if len(rules) != 1:
            fail(f"{where}: {ident(np)}: one ingress rule expected")
        for r in rules:
            if [get(f, "namespaceSelector.matchLabels") for f in r.get("from") or []] != \
                    [{"kubernetes.io/metadata.name": "monitoring"}]:
                fail(f"{where}: {ident(np)}: only the monitoring namespace may connect")
            for p in r.get("ports") or []:
                if p.get("port") not in port_names and p.get("port") not in port_names.values():
                    fail(f"{where}: {ident(np)}: port {p.get('port')} is no container port")
            if not r.get("ports"):
                fail(f"{where}: {ident(np)}: must name the metrics port")
    for sm in by_kind.get("ServiceMonitor", []):
        sel = get(sm, "spec.selector.matchLabels")
        if not selects(sel, svc["metadata"]["labels"]):
            fail(f"{where}: {ident(sm)} does not select the Service")
        nss = get(sm, "spec.namespaceSelector.matchNames") or [sm["metadata"]["namespace"]]
        if svc["metadata"]["namespace"] not in nss:
            fail(f"{where}: {ident(sm)} does not look in the Service's namespace")
        for e in get(sm, "spec.endpoints") or []:
            if e.get("port") not in sports:
                fail(f"{where}: {ident(sm)} endpoint port {e.get('port')} is no Service port")
            if not any(r.get("targetLabel") == "node" and "__meta_kubernetes_pod_node_name" in (r.get("sourceLabels") or [])
                       for r in e.get("relabelings") or []):
                fail(f"{where}: {ident(sm)} does not relabel the node name")
    for cm in by_kind.get("ConfigMap", []):
        if cm["metadata"]["name"] == "cvm-preflight-dashboard":
            if cm["metadata"]["labels"].get("grafana_dashboard") != "1":
                fail(f"{where}: dashboard ConfigMap needs grafana_dashboard: \"1\"")
            json.loads(next(iter(cm["data"].values())))
    vaps = {o["metadata"]["name"]: o for o in by_kind.get("ValidatingAdmissionPolicy", [])}
    for b in by_kind.get("ValidatingAdmissionPolicyBinding", []):
        if b["spec"]["policyName"] not in vaps:
            fail(f"{where}: {ident(b)} names no rendered policy")
        if "Deny" not in b["spec"]["validationActions"]:
            fail(f"{where}: {ident(b)} must Deny")
    for v in vaps.values():
        user = "system:serviceaccount:%s:%s" % AGENT_SA
        mcs = get(v, "spec.matchConditions") or []
        if not any(f"'{user}'" in m["expression"] for m in mcs):
            fail(f"{where}: {ident(v)} does not match the agent's service account {user}")
        if v["metadata"]["name"] not in POLICY_CASES:
            fail(f"{where}: {ident(v)} has no sample requests in this test")
        if v["metadata"]["name"] == NODE_POLICY:
            prefix = [x for x in v["spec"]["variables"] if x["name"] == "prefix"]
            if not prefix or prefix[0]["expression"] != f"'{PREFIX}'":
                fail(f"{where}: {ident(v)} variable prefix must be '{PREFIX}'")
    if len(vaps) != len(by_kind.get("ValidatingAdmissionPolicyBinding", [])):
        fail(f"{where}: every policy needs its binding")


# ------------------------------------------------------------------ CEL

def npm_package(spec, cache_name, name):
    """An npm package's directory, installed by npm into CACHE/cache_name once."""
    prefix = os.path.join(CACHE, cache_name)
    pkg = os.path.join(prefix, "node_modules", *name.split("/"))
    if os.path.isfile(os.path.join(pkg, "package.json")):
        return pkg
    if not shutil.which("node") or not shutil.which("npm"):
        unavailable.add(f"{spec}: node and npm are not installed")
        return None
    os.makedirs(prefix, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit",
                        "--no-fund", "--no-save", "--silent", spec],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or not os.path.isfile(os.path.join(pkg, "package.json")):
        unavailable.add(f"{spec}: npm install failed: {r.stderr.strip()[-300:]}")
        return None
    return pkg


def cel_package():
    return npm_package(CEL_JS, "cel-js", "@marcbachmann/cel-js")


# Kinds the kubernetes-models package has no schema for: custom resources,
# checked by hand above (NodeReadinessRule against its CRD's schema).
CUSTOM_GROUPS = ("monitoring.coreos.com/", "readiness.node.x-k8s.io/")


openapi_pending = []  # (where, object), validated in one node process by flush_openapi()


def check_openapi(objs, where):
    openapi_pending.extend((where, o) for o in objs)


def flush_openapi():
    """Every built-in object against the Kubernetes OpenAPI schemas."""
    todo = list(openapi_pending)
    openapi_pending.clear()
    if not todo:
        return 0
    pkg = npm_package(K8S_MODELS, "kubernetes-models", "kubernetes-models")
    where = todo[0][0] if len({w for w, _ in todo}) == 1 else "openapi"
    if pkg is None:
        print(f"NOTE: {where}: not validated against the OpenAPI schemas ({K8S_MODELS} unavailable)")
        return None
    r = subprocess.run(["node", os.path.join(HERE, "k8s_validate.mjs"), pkg],
                       input=json.dumps([o for _, o in todo]), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        fail(f"{where}: k8s_validate.mjs: {r.stderr.strip()}")
        return 0
    n = 0
    for (where, o), res in zip(todo, json.loads(r.stdout)):
        custom = o.get("apiVersion", "").startswith(CUSTOM_GROUPS)
        if not res["schema"] and not custom:
            fail(f"{where}: {ident(o)}: no OpenAPI schema for {o.get('apiVersion')} {o.get('kind')}")
        for e in res["errors"]:
            fail(f"{where}: {ident(o)}: OpenAPI: {e}")
        n += res["schema"]
    return n


def node_obj(name, labels=None, annotations=None, conditions=None, taints=None, allocatable=None):
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": dict(labels or {}), "annotations": dict(annotations or {})},
        "spec": {"providerID": "aws:///eu-west-1a/i-0abc", **({"taints": taints} if taints else {})},
        "status": {
            "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "allocatable": dict(allocatable or {"cpu": "3800m", "memory": "15Gi", "pods": "110"}),
            "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"kubeletVersion": "v1.32.4", "containerRuntimeVersion": "containerd://2.0.5"},
            "conditions": list(conditions or [
                {"type": "Ready", "status": "True", "reason": "KubeletReady"},
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            ]),
        },
    }


def request(node_name_claim, user="system:serviceaccount:cvm-preflight:cvm-preflight", sub=""):
    extra = {"authentication.kubernetes.io/pod-name": ["cvm-preflight-x7k2p"]}
    if node_name_claim is not None:
        extra["authentication.kubernetes.io/node-name"] = [node_name_claim]
    return {"operation": "UPDATE", "subResource": sub,
            "userInfo": {"username": user, "groups": ["system:serviceaccounts"], "extra": extra}}


def cel_cases():
    """(name, expected, case). expected: "allow"; "deny:I,J" (the validations
    at those indexes fail, no other); "skip" (the policy does not apply)."""
    base_labels = {"kubernetes.io/hostname": "node-a", "node-role.kubernetes.io/worker": "",
                   PREFIX + "cvm": "false"}
    old = node_obj("node-a", base_labels, {"node.alpha.kubernetes.io/ttl": "0"})
    cases = []

    def add(name, expect, obj, old_obj=old, req=None):
        cases.append((name, expect, {"name": name, "request": req or request("node-a"),
                                     "object": obj, "oldObject": old_obj}))

    n = copy.deepcopy(old)
    n["metadata"]["labels"][PREFIX + "cvm"] = "true"
    n["metadata"]["labels"][PREFIX + "kernel"] = "6.8"
    n["metadata"]["annotations"][PREFIX + "owned-labels"] = "cvm,kernel"
    add("own node, own labels and annotation", "allow", n)
    add("own node, same labels (no-op write)", "allow", copy.deepcopy(old))
    other = node_obj("node-b", base_labels)
    other2 = copy.deepcopy(other)
    other2["metadata"]["labels"][PREFIX + "cvm"] = "true"
    add("another node, own labels", "deny:0", other2, other)
    add("token without node name", "deny:0", n, req=request(None))
    f = copy.deepcopy(old)
    f["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
    add("own node, foreign label added", "deny:1", f)
    f = copy.deepcopy(old)
    del f["metadata"]["labels"]["node-role.kubernetes.io/worker"]
    add("own node, foreign label removed", "deny:1", f)
    f = copy.deepcopy(old)
    del f["metadata"]["labels"][PREFIX + "cvm"]
    add("own node, own label removed", "allow", f)
    f = copy.deepcopy(old)
    f["metadata"]["labels"]["kubernetes.io/hostname"] = "node-b"
    add("own node, foreign label changed", "deny:1", f)
    f = copy.deepcopy(old)
    f["metadata"]["labels"]["sysbox-install"] = "yes"
    add("own node, sysbox-install label", "deny-unless-sysbox", f)
    f = copy.deepcopy(old)
    f["metadata"]["labels"]["cvm-preflight.dev.evil.com/cvm"] = "true"
    add("own node, look-alike prefix", "deny:1", f)
    f = copy.deepcopy(old)
    f["metadata"]["annotations"]["node.alpha.kubernetes.io/ttl"] = "30"
    add("own node, foreign annotation", "deny:2", f)
    s = copy.deepcopy(old)
    s["status"]["conditions"].append({"type": "CVMReady", "status": "True", "reason": "AllChecksPass"})
    add("own node status, CVMReady added", "allow", s, req=request("node-a", sub="status"))
    s2 = copy.deepcopy(s)
    s2["status"]["conditions"][-1]["status"] = "False"
    add("own node status, CVMReady changed", "allow", s2, s, req=request("node-a", sub="status"))
    s = copy.deepcopy(old)
    s["status"]["conditions"][0]["status"] = "False"
    add("own node status, Ready changed", "deny:3", s, req=request("node-a", sub="status"))
    s = copy.deepcopy(old)
    s["status"]["allocatable"]["example.com/gpu"] = "8"
    add("own node status, allocatable inflated", "deny:5", s, req=request("node-a", sub="status"))
    s = copy.deepcopy(old)
    s["status"]["addresses"][0]["address"] = "203.0.113.9"
    add("own node status, address changed", "deny:5", s, req=request("node-a", sub="status"))
    t = copy.deepcopy(old)
    t["spec"]["taints"] = [{"key": "example.com/x", "effect": "NoSchedule"}]
    add("own node, taint added", "deny:4", t)
    k = copy.deepcopy(old)
    k["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] = ""
    add("the kubelet, foreign label (policy does not apply)", "skip", k,
        req=request(None, user="system:node:node-a"))
    return cases


def event_obj(node, kind="Node"):
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": f"{node}.cvm-preflight.1", "namespace": "default"},
            "eventTime": "2026-12-07T03:00:00.000000Z", "reportingController": "cvm-preflight.dev/agent",
            "reportingInstance": f"cvm-preflight-{node}", "action": "Scan", "reason": "VerdictChanged",
            "type": "Normal", "note": "cvm changed from false to true",
            "regarding": {"apiVersion": "v1", "kind": kind, "name": node}}


def event_cases():
    req = dict(request("node-a"), operation="CREATE")
    return [
        ("event about its own node", "allow",
         {"name": "own", "request": req, "object": event_obj("node-a"), "oldObject": None}),
        ("event about another node", "deny:0",
         {"name": "other", "request": req, "object": event_obj("node-b"), "oldObject": None}),
        ("event about a pod", "deny:0",
         {"name": "pod", "request": req, "object": event_obj("node-a", kind="Pod"), "oldObject": None}),
        ("event, token without node name", "deny:0",
         {"name": "notoken", "request": dict(request(None), operation="CREATE"),
          "object": event_obj("node-a"), "oldObject": None}),
        ("event by the kubelet (policy does not apply)", "skip",
         {"name": "kubelet", "request": dict(request(None, user="system:node:node-b"), operation="CREATE"),
          "object": event_obj("node-a"), "oldObject": None}),
    ]


def nodefeature_obj(name, node, labels=None, annotations=None, features=None):
    o = {"apiVersion": "nfd.k8s-sigs.io/v1alpha1", "kind": "NodeFeature",
         "metadata": {"name": name, "namespace": "cvm-preflight",
                      "labels": {"nfd.node.kubernetes.io/node-name": node,
                                 "app.kubernetes.io/managed-by": "cvm-preflight"},
                      "annotations": annotations if annotations is not None else
                      {PREFIX + "owned-labels": "cvm"}},
         "spec": {"labels": labels if labels is not None else {PREFIX + "cvm": "true"}},
         "status": {}}
    if features is not None:
        o["spec"]["features"] = features
    return o


def nodefeature_cases():
    create = dict(request("node-a"), operation="CREATE")
    update = request("node-a")
    own = nodefeature_obj("node-a", "node-a")

    def case(name, expect, obj, req=create, old=None):
        return (name, expect, {"name": name, "request": req, "object": obj, "oldObject": old})
    return [
        case("its own node's NodeFeature", "allow", own),
        case("its own, updated", "allow", nodefeature_obj("node-a", "node-a", {PREFIX + "cvm": "false"}),
             update, own),
        case("named after another node", "deny:0", nodefeature_obj("node-b", "node-b")),
        case("its name, another node's label", "deny:0", nodefeature_obj("node-a", "node-b")),
        case("token without node name", "deny:0", own, dict(request(None), operation="CREATE")),
        case("a foreign label", "deny:1",
             nodefeature_obj("node-a", "node-a", {"node-role.kubernetes.io/control-plane": ""})),
        case("a look-alike prefix", "deny:1",
             nodefeature_obj("node-a", "node-a", {"cvm-preflight.dev.evil.com/cvm": "true"})),
        case("a foreign annotation", "deny:2",
             nodefeature_obj("node-a", "node-a", annotations={"example.com/x": "1"})),
        case("raw features", "deny:3",
             nodefeature_obj("node-a", "node-a",
                             features={"flags": {"x": {"elements": {"y": {}}}}})),
        case("NFD's worker (policy does not apply)", "skip", nodefeature_obj("node-b", "node-b"),
             dict(request(None, user="system:serviceaccount:node-feature-discovery:nfd-worker"),
                  operation="CREATE")),
    ]


NODE_POLICY = "cvm-preflight-agent-own-node"
POLICY_CASES = {NODE_POLICY: cel_cases, "cvm-preflight-agent-own-events": event_cases,
                "cvm-preflight-agent-own-nodefeature": nodefeature_cases}


def check_cel(objs, where, sysbox=False):
    """Evaluates every policy on its sample requests; returns (expressions, requests)."""
    total = [0, 0]
    for v in find(objs, "ValidatingAdmissionPolicy"):
        cases = POLICY_CASES.get(v["metadata"]["name"])
        if cases is None:
            fail(f"{where}: {ident(v)} has no sample requests in this test")
            continue
        n = check_policy_cel(v, cases(), f"{where}: {ident(v)}", sysbox)
        if n:
            total[0] += n
            total[1] += len(cases())
    return total


def check_policy_cel(vap, cases, where, sysbox):
    pkg = cel_package()
    if pkg is None:
        print(f"NOTE: {where}: CEL not evaluated ({CEL_JS} unavailable)")
        return
    payload = {"policy": vap["spec"], "cases": [c for _, _, c in cases]}
    r = subprocess.run(["node", os.path.join(HERE, "cel_eval.mjs"), pkg], input=json.dumps(payload),
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail(f"{where}: cel_eval.mjs: {r.stderr.strip()}")
        return
    out = json.loads(r.stdout)
    for e in out.get("parseErrors", []):
        fail(f"{where}: CEL does not parse: {e}")
    if out.get("parseErrors"):
        return
    for (name, expect, _), res in zip(cases, out["results"]):
        if res["errors"]:
            fail(f"{where}: CEL case '{name}': evaluation error {res['errors']}")
            continue
        if expect == "deny-unless-sysbox":
            expect = "allow" if sysbox else "deny:1"
        got = "skip" if not res["matched"] else (
            "deny:" + ",".join(str(f["index"]) for f in res["failures"]) if res["failures"] else "allow")
        if got != expect:
            fail(f"{where}: CEL case '{name}': expected {expect}, got {got} {res['failures']}")
        for fl in res["failures"]:
            if not isinstance(fl["message"], str) or not fl["message"].startswith("cvm-preflight agent:"):
                fail(f"{where}: CEL case '{name}': bad message {fl['message']!r}")
    return out["parsed"]


# -------------------------------------------------------- the components

def find(objs, kind, name=None):
    return [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def check_runtimeclasses(objs, where):
    rcs = {o["metadata"]["name"]: o for o in find(objs, "RuntimeClass")}
    want = {
        "cvm-preflight-sysbox": {"sysbox-runtime": "running", PREFIX + "cvm": "true"},
        "cvm-preflight-sysbox-gpu": {"sysbox-runtime": "running", PREFIX + "cvm": "true",
                                     PREFIX + "cvm-gpu": "true"},
    }
    if set(rcs) != set(want):
        fail(f"{where}: RuntimeClasses {sorted(rcs)}, expected {sorted(want)}")
    if "sysbox-runc" in rcs:
        fail(f"{where}: the RuntimeClass sysbox-runc belongs to Sysbox's installer")
    for n, sel in want.items():
        o = rcs.get(n)
        if o and (o.get("handler") != "sysbox-runc" or get(o, "scheduling.nodeSelector") != sel):
            fail(f"{where}: RuntimeClass {n}: handler sysbox-runc and nodeSelector {sel} expected")
    return rcs


def check_readiness(objs, where):
    rules = find(objs, "NodeReadinessRule")
    if len(rules) != 1:
        fail(f"{where}: one NodeReadinessRule expected")
        return
    r = rules[0]
    if r["spec"].get("conditions") != [{"type": "CVMReady", "requiredStatus": "True"}]:
        fail(f"{where}: the rule must wait for CVMReady True")
    if r["spec"].get("enforcementMode") != "continuous":
        fail(f"{where}: continuous mode expected")
    if r["spec"]["taint"].get("effect") != "NoSchedule":
        fail(f"{where}: NoSchedule taint expected")
    for k in (get(r, "spec.nodeSelector.matchLabels") or {}):
        if k.startswith(PREFIX):
            fail(f"{where}: the pool selector {k} is a label the agent writes")
    ds = find(objs, "DaemonSet")[0]
    tol = ds["spec"]["template"]["spec"].get("tolerations") or []
    taint = r["spec"]["taint"]
    if not any(t.get("operator") == "Exists" and t.get("key") in (None, taint["key"]) and
               t.get("effect") in (None, taint["effect"]) for t in tol):
        fail(f"{where}: the agent does not tolerate the readiness taint")


def check_example_pod(rcs):
    path = os.path.join(MANIFESTS, "examples", "cvm-workspace-pod.yaml")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    check_objects(docs, "examples")
    check_openapi(docs, "examples")
    for d in docs:
        if d["kind"] == "Pod":
            if d["spec"].get("runtimeClassName") not in rcs:
                fail(f"example pod: runtimeClassName {d['spec'].get('runtimeClassName')} is not ours")
            if d["spec"].get("hostUsers") is not False:
                fail("example pod: Sysbox 0.7 needs hostUsers: false")
            if d["spec"].get("nodeSelector") or d["spec"].get("affinity"):
                fail("example pod: placement must come from the RuntimeClass alone")


def check_uninstall(objs, help_text):
    check_objects(objs, "uninstall")
    check_openapi(objs, "uninstall")
    jobs = find(objs, "Job")
    if len(jobs) != 1:
        fail("uninstall: one Job expected")
        return
    j = jobs[0]
    c = j["spec"]["template"]["spec"]["containers"][0]
    cmd = (c.get("command") or []) + (c.get("args") or [])
    if cmd[:2] != ["cvm-preflight", "prune"]:
        fail(f"uninstall: Job runs {cmd}, not cvm-preflight prune")
    sa = j["spec"]["template"]["spec"].get("serviceAccountName")
    got = granted(objs, (j["metadata"]["namespace"], sa))
    want = {("cluster",) + t for t in PRUNE_RULES}
    if got != want:
        fail(f"uninstall: prune Job's RBAC {sorted(got)} is not what prune needs")
    if re.search(r"^\s+prune\b", help_text, re.M):
        r = subprocess.run([BINARY, "prune", "--help"], capture_output=True, text=True)
        flags = help_flags(r.stdout)
        for a in cmd[2:]:
            if a.startswith("--") and a.split("=", 1)[0] not in flags:
                fail(f"uninstall: prune has no flag {a}")
    else:
        fail("uninstall: `cvm-preflight --help` lists no prune command for the Job")


def check_doc_links():
    """Every #anchor link of docs/deployment.md names one of its headings,
    and every component it names exists (GitHub's heading anchors: lower
    case, punctuation but - and _ dropped, spaces to -)."""
    path = os.path.join(SRC, "docs", "deployment.md")
    with open(path) as f:
        text = f.read()
    anchors = {re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
               for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}
    for a in re.findall(r"\]\(#([^)]+)\)", text):
        if a not in anchors:
            fail(f"docs/deployment.md: link #{a} names no heading")
    have = set(os.listdir(os.path.join(MANIFESTS, "components")))
    for c in set(re.findall(r"components/([a-z0-9.-]+)", text)):
        if c not in have:
            fail(f"docs/deployment.md: names components/{c}, which does not exist")
    for c in have - set(COMPONENTS):
        fail(f"manifests/components/{c} is not rendered by this test")


# ------------------------------------------------------------ self-tests

def expect_failure(name, fn):
    """fn() must add at least one failure; those failures are dropped."""
    before = len(failures)
    saved = sys.stdout
    sys.stdout = open(os.devnull, "w")
    try:
        fn()
    finally:
        sys.stdout.close()
        sys.stdout = saved
    if len(failures) == before:
        fail(f"self-test '{name}': the checks did not catch it")
    else:
        del failures[before:]


def self_tests(objs, help_text, tmp):
    def mutate(fn):
        o = copy.deepcopy(objs)
        fn(o)
        return o

    def ds(o):
        return find(o, "DaemonSet")[0]

    def ctr(o):
        return ds(o)["spec"]["template"]["spec"]["containers"][0]

    def add_rule(o):
        find(o, "ClusterRole", "cvm-preflight-agent")[0]["rules"].append(
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})
    expect_failure("a rule added to the agent's ClusterRole", lambda: check_rbac(mutate(add_rule), "self-test"))

    def add_verb(o):
        find(o, "ClusterRole", "cvm-preflight-agent")[0]["rules"][0]["verbs"].append("list")
    expect_failure("a verb added", lambda: check_rbac(mutate(add_verb), "self-test"))

    def widen_events(o):
        b = find(o, "RoleBinding", "cvm-preflight-agent-events")[0]
        b["kind"] = "ClusterRoleBinding"
        del b["metadata"]["namespace"]
    expect_failure("events granted cluster-wide", lambda: check_rbac(mutate(widen_events), "self-test"))

    def writable(o):
        ctr(o)["volumeMounts"][0]["readOnly"] = False
    expect_failure("host mount writable", lambda: check_daemonset_policy(ds(mutate(writable)), "self-test"))

    def propagation(o):
        ctr(o)["volumeMounts"][0]["mountPropagation"] = "HostToContainer"
    expect_failure("recursiveReadOnly with HostToContainer",
                   lambda: check_objects([ds(mutate(propagation))], "self-test"))

    def cap(o):
        ctr(o)["securityContext"]["capabilities"]["add"].append("SYS_ADMIN")
    expect_failure("a capability added", lambda: check_daemonset_policy(ds(mutate(cap)), "self-test"))

    def cap_type(o):
        ctr(o)["securityContext"]["capabilities"]["add"] = "SYS_PTRACE"
    if npm_package(K8S_MODELS, "kubernetes-models", "kubernetes-models"):
        expect_failure("capabilities.add not a list (OpenAPI)",
                       lambda: (check_openapi([ds(mutate(cap_type))], "self-test"), flush_openapi()))

    def host_port(o):
        ctr(o)["ports"][0]["hostPort"] = 9861
    expect_failure("a hostPort (Pod Security baseline)",
                   lambda: check_daemonset_policy(ds(mutate(host_port)), "self-test"))

    def bad_flag(o):
        ctr(o)["env"].append({"name": "CVM_PREFLIGHT_NODE_LABELS", "value": "x"})
    expect_failure("an env the agent lacks", lambda: check_agent_flags(ds(mutate(bad_flag)), help_text, "self-test"))

    def bad_arg(o):
        ctr(o)["command"].append("--cluster-name=x")
    expect_failure("a flag the agent lacks", lambda: check_agent_flags(ds(mutate(bad_arg)), help_text, "self-test"))

    def bad_value(o):
        for e in ctr(o)["env"]:
            if e["name"] == "CVM_PREFLIGHT_NO_PCI_EVENTS":
                e["value"] = "maybe"
    expect_failure("an env value the agent refuses",
                   lambda: run_agent_as_daemonset(ds(mutate(bad_value)), find(objs, "ConfigMap"), "self-test", tmp))

    def rules_path(o):
        for e in ctr(o)["env"]:
            if e["name"] == "CVM_PREFLIGHT_RULES":
                e["value"] = "/etc/cvm-preflight/other"
    expect_failure("CVM_PREFLIGHT_RULES not the ConfigMap's mount",
                   lambda: run_agent_as_daemonset(ds(mutate(rules_path)), find(objs, "ConfigMap"), "self-test", tmp))

    def port(o):
        find(o, "Service")[0]["spec"]["ports"][0]["name"] = "http"
    expect_failure("Service port renamed", lambda: check_refs(mutate(port), "self-test"))

    def user(o):
        v = find(o, "ValidatingAdmissionPolicy", NODE_POLICY)[0]
        v["spec"]["matchConditions"][0]["expression"] = \
            "request.userInfo.username == 'system:serviceaccount:other:cvm-preflight'"
    expect_failure("policy names another service account", lambda: check_refs(mutate(user), "self-test"))

    if cel_package() is None:
        return  # the CEL self-tests below need it

    def weak_policy(o):
        v = find(o, "ValidatingAdmissionPolicy", NODE_POLICY)[0]
        v["spec"]["validations"] = v["spec"]["validations"][1:]  # drop the own-node check
    expect_failure("own-node validation removed", lambda: check_cel(mutate(weak_policy), "self-test"))

    def events_any_node(o):
        v = find(o, "ValidatingAdmissionPolicy", "cvm-preflight-agent-own-events")[0]
        v["spec"]["validations"][0]["expression"] = "size(variables.tokenNode) == 1"
    expect_failure("events about any node", lambda: check_cel(mutate(events_any_node), "self-test"))

    def syntax(o):
        v = find(o, "ValidatingAdmissionPolicy", NODE_POLICY)[0]
        v["spec"]["validations"][0]["expression"] += " &&"
    expect_failure("CEL syntax error", lambda: check_cel(mutate(syntax), "self-test"))


# ------------------------------------------------------------------ main

def main():
    for tool in ("kubectl",):
        if not shutil.which(tool):
            fail(f"{tool} not found")
            return
    if not os.access(BINARY, os.X_OK):
        fail(f"{BINARY} is not executable")
        return
    help_text = agent_help()
    tmp = tempfile.mkdtemp(prefix="cvm-manifests-")
    try:
        step("rendering the base")
        base = kustomize(MANIFESTS)
        if not base:
            return
        check_objects(base, "base")
        check_openapi(base, "base")
        dss = find(base, "DaemonSet")
        if len(dss) != 1:
            fail("base: one DaemonSet expected")
            return
        check_daemonset_policy(dss[0], ident(dss[0]))
        env = check_agent_flags(dss[0], help_text, ident(dss[0]))
        step(f"the DaemonSet passes {sorted(env)}; agent --help lists them")
        run_agent_as_daemonset(dss[0], find(base, "ConfigMap"), ident(dss[0]), tmp)
        step("agent --oneshot runs with that environment and a rule from the ConfigMap's volume")
        check_rbac(base, "base")
        check_refs(base, "base")
        n, reqs = check_cel(base, "base")
        step(f"admission policies: {n} CEL expressions parsed, {reqs} sample requests evaluated")
        step("self-tests (mutated objects must fail)")
        n = flush_openapi()  # before the self-tests, which drop the failures they cause
        if n is not None:
            step(f"OpenAPI ({K8S_MODELS}): {n} of {len(base)} objects have a schema and pass it")
        self_tests(base, help_text, tmp)

        rendered = {"base": base}
        for c in COMPONENTS:
            step(f"component {c}")
            objs = render_with(tmp, c, [c])
            if not objs:
                continue
            rendered[c] = objs
            check_objects(objs, c)
            check_openapi(objs, c)
            check_rbac(objs, c, AGENT_RULES_NFD if c == "nfd" else AGENT_RULES)
            ds = find(objs, "DaemonSet")[0]
            check_daemonset_policy(ds, f"{c}: {ident(ds)}",
                                   expect_rro=c not in ("host-to-container", "before-1.30"))
            check_agent_flags(ds, help_text, f"{c}: {ident(ds)}")
            check_refs(objs, c)
        # What each component adds or changes.
        mon = rendered.get("monitoring", [])
        if not find(mon, "ServiceMonitor") or not find(mon, "PrometheusRule") or \
                not find(mon, "ConfigMap", "cvm-preflight-dashboard"):
            fail("monitoring: ServiceMonitor, PrometheusRule and dashboard ConfigMap expected")
        wo = rendered.get("without-operator", [])
        if any(o["apiVersion"].startswith("monitoring.coreos.com/") for o in wo):
            fail("without-operator: must not need the operator's CRDs")
        if wo:
            ann = find(wo, "DaemonSet")[0]["spec"]["template"]["metadata"].get("annotations") or {}
            if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != "9861":
                fail("without-operator: prometheus.io/scrape and port 9861 annotations expected")
        sb = rendered.get("sysbox-install", [])
        if sb:
            check_cel(sb, "sysbox-install", sysbox=True)
        nfd = rendered.get("nfd", [])
        if nfd:
            n, reqs = check_cel(nfd, "nfd")
            step(f"nfd: {n} CEL expressions parsed, {reqs} sample requests evaluated")
            env = {e["name"]: e for e in
                   find(nfd, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
            if env.get("CVM_PREFLIGHT_PUBLISH_LABELS", {}).get("value") != "nodefeature":
                fail("nfd: CVM_PREFLIGHT_PUBLISH_LABELS=nodefeature expected")
            if "POD_NAMESPACE" not in env:
                fail("nfd: POD_NAMESPACE from the downward API expected")
            old = render_with(tmp, "nfd-before-1.30", ["nfd", "before-1.30"])
            if find(old, "ValidatingAdmissionPolicy") or find(old, "ValidatingAdmissionPolicyBinding"):
                fail("nfd with before-1.30: every admission policy must be gone")
        b130 = rendered.get("before-1.30", [])
        if find(b130, "ValidatingAdmissionPolicy") or find(b130, "ValidatingAdmissionPolicyBinding"):
            fail("before-1.30: the admission policy must be gone")
        h2c = rendered.get("host-to-container", [])
        if h2c:
            m = find(h2c, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
            if m.get("mountPropagation") != "HostToContainer":
                fail("host-to-container: HostToContainer propagation expected")
        se = rendered.get("selinux-spc", [])
        if se:
            c0 = find(se, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]
            if get(c0, "securityContext.seLinuxOptions") != {"type": "spc_t"}:
                fail("selinux-spc: seLinuxOptions type spc_t expected")
        if get(find(base, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0],
               "securityContext.seLinuxOptions"):
            fail("base: seLinuxOptions belong to the selinux-spc component")
        aa = rendered.get("apparmor-unconfined", [])
        if aa:
            c0 = find(aa, "DaemonSet")[0]["spec"]["template"]["spec"]["containers"][0]
            if get(c0, "securityContext.appArmorProfile") != {"type": "Unconfined"}:
                fail("apparmor-unconfined: appArmorProfile Unconfined expected")
        for part in (base, rendered.get("selinux-spc", [])):
            for d in find(part, "DaemonSet"):
                if get(d, "spec.template.spec.containers")[0].get("securityContext", {}).get("appArmorProfile"):
                    fail("appArmorProfile belongs to the apparmor-unconfined component")
        rcs = check_runtimeclasses(rendered.get("runtimeclass", []), "runtimeclass")
        check_readiness(rendered.get("readiness-gate", []), "readiness-gate")
        for c, objs in rendered.items():
            if c not in ("runtimeclass",) and find(objs, "RuntimeClass"):
                fail(f"{c}: RuntimeClasses belong to the runtimeclass component")
        step(f"components together: {', '.join(TOGETHER)}")
        together = render_with(tmp, "together", TOGETHER)
        check_objects(together, "together")
        check_openapi(together, "together")
        check_rbac(together, "together")
        check_refs(together, "together")
        check_cel(together, "together", sysbox=True)
        step("examples")
        check_example_pod(rcs)
        check_doc_links()
        step("uninstall (the prune Job)")
        check_uninstall(kustomize(os.path.join(MANIFESTS, "uninstall")), main_help())
        total = len(openapi_pending)
        n = flush_openapi()
        if n is not None:
            step(f"OpenAPI ({K8S_MODELS}): {n} of {total} more objects have a schema and pass it; "
                 "the rest are custom resources")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
    if failures:
        print(f"manifests check: {len(failures)} failure(s)")
        sys.exit(1)
    if unavailable:
        for u in sorted(unavailable):
            print(f"manifests check: SKIPPED what needs {u}")
        sys.exit(77)
    print("manifests check: OK")
