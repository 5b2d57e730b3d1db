#!/usr/bin/python3
"""A Kubernetes API test server for cvm-preflight's client tests.

Written for this project (Python 3 standard library only, Debian 12's
python3 with its ssl module). It serves the part of the Kubernetes API the
agent and the cluster commands use, and keeps to the real kube-apiserver's
behaviour there, so that a client passing against it passes against a real
cluster, and the real kubectl works against it:

  - HTTPS only (the certificate and the CA come from the test, made with the
    openssl CLI); client certificates are asked for (optional) and their CN
    is the user name, as with the real server's x509 authenticator.
  - Bearer tokens: a missing or wrong credential is 401 with a Status
    object (reason Unauthorized); an authorised user touching an object its
    permissions do not cover is 403 (reason Forbidden) with the real
    server's message ("nodes \"b\" is forbidden: User ... cannot patch
    resource \"nodes\" in API group \"\" at the cluster scope").
  - Legacy discovery (/api, /api/v1, /apis, /apis/events.k8s.io/v1) and
    /version, as a server without aggregated discovery answers; /openapi/*
    is 404, which kubectl copes with for get, label and annotate.
  - Nodes: GET, LIST (limit/continue from one consistent snapshot; a token
    whose snapshot is gone is 410 Expired; labelSelector with =, ==, !=,
    exists and !exists; fieldSelector metadata.name), LIST as a meta.k8s.io
    Table when asked (kubectl get nodes), PATCH of the node and of
    nodes/{name}/status with the three patch types:
      * application/strategic-merge-patch+json, with the patch strategies
        of the v1 Node type: status.conditions and status.addresses merge
        by "type", metadata.ownerReferences by "uid", metadata.finalizers
        and spec.podCIDRs are merged primitive lists, other lists replace;
        null deletes a map key; the $patch (replace, delete, merge),
        $setElementOrder/<list>, $deleteFromPrimitiveList/<list> and
        $retainKeys directives. A merge-key list item without its key is a
        500, as the real server answers ("map: map[...] does not contain
        declared merge key: type").
      * application/merge-patch+json (RFC 7386).
      * application/json-patch+json (RFC 6902): add, remove, replace, move,
        copy, test; a failed operation is 422, a patch that is not a JSON
        patch 400.
      * other content types: 415.
    As the node registry strategies do, a patch of the node keeps the old
    status and a patch of nodes/status keeps the old spec (metadata may
    change through either, as on the real server). uid, creationTimestamp
    and resourceVersion cannot be changed by a patch; a patch renaming the
    node is 400. Labels and annotations are validated as the real server
    validates them (422 Invalid with causes); a label value that is not a
    string is 400. resourceVersion is one counter for the whole server
    (etcd's revision), moves on every real change and not on a no-op; a
    patch carrying a stale metadata.resourceVersion is 409 Conflict.
    dryRun=All computes the answer and stores nothing.
  - Events: POST (and GET list) of core v1 Events under
    /api/v1/namespaces/{ns}/events and of events.k8s.io/v1 Events under
    /apis/events.k8s.io/v1/namespaces/{ns}/events, one store as on the real
    server (an Event made through one group reads back through the other);
    the required fields of each group are validated (422), a namespace in
    the body other than the URL's is 400, a name taken is 409
    AlreadyExists, generateName makes a name. 201 Created with the object.
  - Answers are application/json with Audit-Id and Cache-Control headers;
    every error is a v1 Status (kind Status, status Failure, message, reason,
    details, code).

  - Objects the cluster commands read, set by the test: Namespaces,
    RuntimeClasses (node.k8s.io/v1), MutatingWebhookConfigurations
    (admissionregistration.k8s.io/v1): GET and LIST (no pagination; a
    labelSelector as for nodes).
  - NodeFeature objects (nfd.k8s-sigs.io/v1alpha1, namespaced, the custom
    resource of node-feature-discovery): GET, LIST, POST, PATCH (merge and
    JSON patch; a strategic merge patch is 415, as for every custom
    resource), DELETE. Each write is validated against the
    openAPIV3Schema of NFD's published CRD (data/nfd-nodefeature-crd.yaml)
    as the real server validates a custom resource: a wrong type, a
    missing required field or an enum miss is 422 Invalid naming the
    field; fields the schema does not know are pruned.

Not served (404 NotFound as for an unknown resource): watch, other resources,
DELETE/PUT/create of nodes, server-side apply, managedFields.

The test controls it through a second, plain-HTTP port on loopback (never
the API port), with JSON bodies:
  PUT  /__test/state   {"tokens": {TOKEN: PERMS}, "certs": {CN: PERMS},
                         "nodes": [NODE, ...], "objects": [OBJ, ...],
                         "version": VERSION (optional, /version's answer)}
                         replaces everything
  PUT  /__test/tls     {"cert": "wrong-host" | "server"}: the certificate
                         served to a client that sends SNI (wrong-host: one
                         the CA signed for other.example, never localhost)
  GET  /__test/objects   every stored object of the kinds above
  POST /__test/faults  [FAULT, ...]  appended to the fault queue
  GET  /__test/requests  the request log: [{method, path, query,
                         content_type, user, status, peer_port (the
                         client's port: one per connection)}, ...]
  GET  /__test/nodes/NAME  the stored node, no auth
  GET  /__test/events    every stored event (core v1 form)
  POST /__test/compact   forgets every LIST snapshot (continue tokens
                         expire, as after an etcd compaction)
PERMS is {"user": NAME, "admin": true} or {"user": NAME, "rules":
[{"resource": "nodes" | "nodes/status" | "events" | "namespaces" |
"runtimeclasses" | "mutatingwebhookconfigurations" | "nodefeatures", "verbs": [...],
"names": [...] (optional), "namespaces": [...] (optional)}]}.
A FAULT is {"method": M (optional), "path": P (optional; a trailing "*"
matches a prefix), "times": N (default 1), "has_query": NAME (optional: the query must carry
it), "action": "status" | "delay" | "drop" | "compact" | "chunked" | "raw", "code": C, "retry_after": S (optional, for status), "seconds": S
(for delay: sleep, then answer normally; for raw: stall this long after
the bytes, then close), "chunk": N (for chunked: the chunk size, default 7),
"data": TEXT (for raw: sent as it is, Latin-1, then the connection
closes)}. "chunked" answers normally with Transfer-Encoding: chunked and
a trailer field, as Go's net/http does for an answer of unknown length;
"raw" lets a test play a hostile server. "drop" reads the request and
closes the connection without an answer; "compact" forgets the LIST
snapshots, then answers normally. Faults are matched in order and
used up; faulted requests are logged too (status 0 for a drop).
"""

import argparse
import base64
import copy
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

import yaml

LOCK = threading.Lock()
TLS = {"cert": "server"}  # PUT /__test/tls


class State:
    def __init__(self):
        self.rv = 100
        self.tokens = {}
        self.certs = {}
        self.nodes = {}
        self.events = {}  # (namespace, name) -> core v1 Event
        self.faults = []
        self.log = []
        self.snapshots = {}  # rv -> sorted list of node copies
        self.objects = {}  # (group, plural, namespace, name) -> object
        self.version = None  # /version's answer; None: VERSION

    def next_rv(self):
        self.rv += 1
        return str(self.rv)


STATE = State()


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def status_obj(code, reason, message, details=None):
    s = {"kind": "Status", "apiVersion": "v1", "metadata": {},
         "status": "Failure", "message": message, "reason": reason,
         "code": code}
    if details is not None:
        s["details"] = details
    return s


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.status = status_obj(code, reason, message, details)
        self.code = code


def not_found(resource, name, group=""):
    gr = resource if not group else resource + "." + group
    return ApiError(404, "NotFound", '%s "%s" not found' % (gr, name),
                    {"name": name, "kind": resource} if not group else
                    {"name": name, "group": group, "kind": resource})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


# ---------------------------------------------------------------- discovery

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0",
           "gitCommit": "0000000000000000000000000000000000000000",
           "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z",
           "goVersion": "go1.23.3", "compiler": "gc",
           "platform": "linux/amd64"}

API_VERSIONS = {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}

EVENTS_GROUP = {"name": "events.k8s.io",
                "versions": [{"groupVersion": "events.k8s.io/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "events.k8s.io/v1", "version": "v1"}}

def group_entry(name, version):
    gv = {"groupVersion": name + "/" + version, "version": version}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


API_GROUPS = {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
    EVENTS_GROUP, group_entry("node.k8s.io", "v1"),
    group_entry("admissionregistration.k8s.io", "v1"),
    group_entry("nfd.k8s-sigs.io", "v1alpha1")]}

CORE_RESOURCES = {
    "kind": "APIResourceList", "groupVersion": "v1",
    "resources": [
        {"name": "events", "singularName": "event", "namespaced": True,
         "kind": "Event", "verbs": ["create", "get", "list"], "shortNames": ["ev"]},
        {"name": "namespaces", "singularName": "namespace", "namespaced": False,
         "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"]},
        {"name": "nodes", "singularName": "node", "namespaced": False,
         "kind": "Node", "verbs": ["get", "list", "patch"], "shortNames": ["no"]},
        {"name": "nodes/status", "singularName": "", "namespaced": False,
         "kind": "Node", "verbs": ["get", "patch"]},
    ]}

EVENTS_RESOURCES = {
    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "events.k8s.io/v1",
    "resources": [
        {"name": "events", "singularName": "event", "namespaced": True,
         "kind": "Event", "verbs": ["create", "get", "list"], "shortNames": ["ev"]},
    ]}

# ---------------------------------------------------------------- patches

# Patch strategies of the v1 Node type (k8s.io/api/core/v1 types.go tags):
# path -> ("merge", merge key) for lists of objects, ("merge", None) for
# merged primitive lists. Lists not named here are replaced.
NODE_LIST_STRATEGY = {
    ("metadata", "finalizers"): None,
    ("metadata", "ownerReferences"): "uid",
    ("spec", "podCIDRs"): None,
    ("status", "conditions"): "type",
    ("status", "addresses"): "type",
}


class MergeKeyError(Exception):
    pass


def go_map_repr(d):
    # The Go fmt form the real server's error shows ("map[status:True]").
    return "map[" + " ".join("%s:%s" % (k, d[k]) for k in sorted(d)) + "]"


def smp(original, patch, path=()):
    """Applies a strategic merge patch map to a map, as the Node strategies say."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch: the patch is not a JSON object")
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "replace":
        out = {k: v for k, v in patch.items() if k != "$patch"}
        return out
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise bad_request("Unknown patch type: %s in map: %s" % (directive, go_map_repr(patch)))
    out = copy.deepcopy(original)
    retain = patch.get("$retainKeys")
    orders = {}
    deletes = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k[len("$setElementOrder/"):]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            deletes[k[len("$deleteFromPrimitiveList/"):]] = v
            continue
        sub = path + (k,)
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            merged = smp(out.get(k), v, sub)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list) and sub in NODE_LIST_STRATEGY:
            out[k] = merge_list(out.get(k), v, NODE_LIST_STRATEGY[sub])
        else:
            out[k] = copy.deepcopy(v)
    for k, values in deletes.items():
        if not isinstance(values, list):
            raise bad_request("$deleteFromPrimitiveList/%s: not a list" % k)
        if isinstance(out.get(k), list):
            out[k] = [x for x in out[k] if x not in values]
    for k, order in orders.items():
        if isinstance(out.get(k), list) and isinstance(order, list):
            out[k] = apply_order(out[k], order, NODE_LIST_STRATEGY.get(path + (k,)))
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request("$retainKeys: not a list")
        out = {k: v for k, v in out.items() if k in retain}
    return out


def merge_list(original, patch, key):
    original = copy.deepcopy(original) if isinstance(original, list) else []
    if key is None:  # merged primitive list: union, original order first
        out = list(original)
        for v in patch:
            if v not in out:
                out.append(copy.deepcopy(v))
        return out
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [{k: v for k, v in i.items() if k != "$patch"} for i in patch
                if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    out = original
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request("strategic merge patch: list item is not an object")
        if key not in item:
            raise MergeKeyError("map: %s does not contain declared merge key: %s"
                                % (go_map_repr(item), key))
        idx = next((i for i, o in enumerate(out)
                    if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            out[idx] = smp(out[idx], item)
    return out


def apply_order(items, order, key):
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    wanted = [ident(o) if key and isinstance(o, dict) else o for o in order]
    ranked = sorted(range(len(items)),
                    key=lambda i: (wanted.index(ident(items[i])) if ident(items[i]) in wanted
                                   else len(wanted) + i))
    return [items[i] for i in ranked]


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class JsonPatchFailed(Exception):
    pass


def pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise JsonPatchFailed("JSON pointer must start with /: %s" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def resolve_parent(doc, parts, path):
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise JsonPatchFailed("doc is missing path: \"%s\"" % path)
    return cur


def jp_get(doc, path):
    parts = pointer(path)
    if not parts:
        return doc
    parent = resolve_parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise JsonPatchFailed("doc is missing path: \"%s\"" % path)


def jp_remove(doc, path):
    parts = pointer(path)
    parent = resolve_parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise JsonPatchFailed("remove operation does not apply: doc is missing path: \"%s\"" % path)


def jp_add(doc, path, value, replace=False):
    parts = pointer(path)
    if not parts:
        return value
    parent = resolve_parent(doc, parts, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise JsonPatchFailed("replace operation does not apply: doc is missing key: %s" % path)
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and (int(last) < len(parent) or (not replace and int(last) == len(parent))):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise JsonPatchFailed("Unable to access invalid index: %s" % last)
    else:
        raise JsonPatchFailed("doc is missing path: \"%s\"" % path)
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        path = op.get("path")
        if not isinstance(path, str):
            raise bad_request("json patch: operation has no path")
        try:
            if kind == "add":
                doc = jp_add(doc, path, copy.deepcopy(op.get("value")))
            elif kind == "replace":
                doc = jp_add(doc, path, copy.deepcopy(op.get("value")), replace=True)
            elif kind == "remove":
                jp_remove(doc, path)
            elif kind == "move":
                value = jp_remove(doc, op.get("from", ""))
                doc = jp_add(doc, path, value)
            elif kind == "copy":
                doc = jp_add(doc, path, copy.deepcopy(jp_get(doc, op.get("from", ""))))
            elif kind == "test":
                if jp_get(doc, path) != op.get("value"):
                    raise JsonPatchFailed("testing value %s failed: test failed" % path)
            else:
                raise bad_request("Unexpected kind: %s" % kind)
        except JsonPatchFailed as e:
            raise ApiError(422, "", str(e))
    return doc


# ---------------------------------------------------------------- validation

LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
DNS1123_SUB_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric "
                   "characters, '-', '_' or '.', and must start and end with an "
                   "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                   "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyName',  or "
            "'my.name',  or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def qualified_name_errors(key):
    errs = []
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        errs.append("prefix part must be non-empty")
    if prefix:
        if len(prefix) > 253:
            errs.append("prefix part must be no more than 253 characters")
        elif not DNS1123_SUB_RE.match(prefix):
            errs.append("prefix part a lowercase RFC 1123 subdomain must consist of lower "
                        "case alphanumeric characters, '-' or '.', and must start and end "
                        "with an alphanumeric character (e.g. 'example.com', regex used for "
                        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]"
                        "([-a-z0-9]*[a-z0-9])?)*')")
    if not name:
        errs.append("name part must be non-empty")
    else:
        if len(name) > 63:
            errs.append("name part must be no more than 63 characters")
        if not NAME_RE.match(name):
            errs.append(NAME_MSG)
    return errs


def check_string_map(obj, field):
    m = obj.get("metadata", {}).get(field)
    if m is None:
        return
    if not isinstance(m, dict):
        raise bad_request("json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s "
                          "of type map[string]string" % (json_type(m), field))
    for k, v in m.items():
        if not isinstance(v, str):
            raise bad_request("json: cannot unmarshal %s into Go struct field ObjectMeta.metadata.%s "
                              "of type string" % (json_type(v), field))


def json_type(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "string"


def validate_meta(obj, kind):
    causes = []
    labels = obj.get("metadata", {}).get("labels") or {}
    for k, v in labels.items():
        for e in qualified_name_errors(k):
            causes.append(("metadata.labels", k, e))
        if len(v) > 63:
            causes.append(("metadata.labels", v, "must be no more than 63 characters"))
        elif not LABEL_VALUE_RE.match(v):
            causes.append(("metadata.labels", v, LABEL_VALUE_MSG))
    annotations = obj.get("metadata", {}).get("annotations") or {}
    total = 0
    for k, v in annotations.items():
        for e in qualified_name_errors(k.lower()):
            causes.append(("metadata.annotations", k, e))
        total += len(k) + len(v)
    if total > 256 * 1024:
        causes.append(("metadata.annotations", None,
                       "Too long: may not be more than 262144 bytes"))
    if causes:
        name = obj.get("metadata", {}).get("name", "")
        parts = []
        out = []
        for field, value, msg in causes:
            if value is None:
                text = "%s: %s" % (field, msg)
                out.append({"reason": "FieldValueTooLong", "message": msg, "field": field})
            else:
                text = '%s: Invalid value: "%s": %s' % (field, value, msg)
                out.append({"reason": "FieldValueInvalid",
                            "message": 'Invalid value: "%s": %s' % (value, msg),
                            "field": field})
            parts.append(text)
        message = '%s "%s" is invalid: ' % (kind, name)
        message += parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        raise ApiError(422, "Invalid", message,
                       {"name": name, "kind": kind, "causes": out})


# ---------------------------------------------------------------- auth

def forbidden(user, verb, resource, group, name=None, namespace=None):
    gr = resource.split("/")[0] if not group else resource.split("/")[0] + "." + group
    what = '%s "%s"' % (gr, name) if name else gr
    scope = ('in the namespace "%s"' % namespace) if namespace else "at the cluster scope"
    msg = ('%s is forbidden: User "%s" cannot %s resource "%s" in API group "%s" %s'
           % (what, user, verb, resource, group, scope))
    details = {"kind": resource.split("/")[0]}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return ApiError(403, "Forbidden", msg, details)


def authorize(perms, verb, resource, group, name=None, namespace=None):
    if perms.get("admin"):
        return
    for rule in perms.get("rules", []):
        if rule.get("resource") != resource:
            continue
        if verb not in rule.get("verbs", []) and "*" not in rule.get("verbs", []):
            continue
        names = rule.get("names")
        if names is not None and name not in names:
            continue
        namespaces = rule.get("namespaces")
        if namespaces is not None and namespace not in namespaces:
            continue
        return
    raise forbidden(perms.get("user", "system:anonymous"), verb, resource, group, name, namespace)


# ---------------------------------------------------------------- nodes

def node_status_text(node):
    ready = "Unknown"
    for c in node.get("status", {}).get("conditions", []) or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            ready = {"True": "Ready", "False": "NotReady"}.get(c.get("status"), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        ready += ",SchedulingDisabled"
    return ready


def node_roles(node):
    roles = []
    for k, v in (node.get("metadata", {}).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            roles.append(k[len("node-role.kubernetes.io/"):])
        elif k == "kubernetes.io/role":
            roles.append(v)
    return ",".join(sorted(roles)) or "<none>"


def age(ts):
    try:
        t = time.mktime(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(0, int(time.time() - t))
    if s < 120:
        return "%ds" % s
    if s < 7200:
        return "%dm" % (s // 60)
    if s < 48 * 3600:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


def node_table(nodes, list_meta):
    cols = [("Name", "string", "name",
             "Name must be unique within a namespace."),
            ("Status", "string", "", "The status of the node"),
            ("Roles", "string", "", "The roles of the node"),
            ("Age", "string", "", "CreationTimestamp is a timestamp representing the server time "
             "when this object was created."),
            ("Version", "string", "", "Kubelet Version reported by the node."),
            ("Internal-IP", "string", "", "List of internal IPs."),
            ("External-IP", "string", "", "List of external IPs."),
            ("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release."),
            ("Kernel-Version", "string", "", "Kernel Version reported by the node."),
            ("Container-Runtime", "string", "", "Container Runtime Version reported by the node.")]
    defs = []
    for i, (n, t, f, d) in enumerate(cols):
        c = {"name": n, "type": t, "format": f, "description": d, "priority": 0 if i < 5 else 1}
        defs.append(c)
    rows = []
    for node in nodes:
        info = node.get("status", {}).get("nodeInfo", {}) or {}
        addrs = node.get("status", {}).get("addresses", []) or []

        def ips(t):
            v = [a.get("address", "") for a in addrs if isinstance(a, dict) and a.get("type") == t]
            return ",".join(v) or "<none>"
        meta = node.get("metadata", {})
        rows.append({
            "cells": [meta.get("name", ""), node_status_text(node), node_roles(node),
                      age(meta.get("creationTimestamp")), info.get("kubeletVersion", ""),
                      ips("InternalIP"), ips("ExternalIP"), info.get("osImage", "<unknown>"),
                      info.get("kernelVersion", "<unknown>"),
                      info.get("containerRuntimeVersion", "<unknown>")],
            "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                       "metadata": copy.deepcopy(meta)}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta,
            "columnDefinitions": defs, "rows": rows}


def parse_label_selector(sel):
    reqs = []
    if not sel:
        return reqs
    for part in sel.split(","):
        part = part.strip()
        m = re.match(r"^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$", part)
        if m:
            reqs.append((m.group(1), m.group(2), m.group(3)))
        elif part.startswith("!") and qualified_name_errors(part[1:]) == []:
            reqs.append((part[1:], "!exists", None))
        elif qualified_name_errors(part) == []:
            reqs.append((part, "exists", None))
        else:
            raise bad_request('unable to parse requirement: found \'%s\', expected: '
                              'identifier' % part)
    return reqs


def selector_matches(reqs, labels):
    for key, op, val in reqs:
        if op in ("=", "==") and labels.get(key) != val:
            return False
        if op == "!=" and labels.get(key) == val:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!exists" and key in labels:
            return False
    return True


def encode_continue(rv, start):
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"},
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token):
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        d = json.loads(raw)
        return int(d["rv"]), d["start"]
    except (ValueError, KeyError, TypeError):
        raise bad_request("continue key is not valid: illegal base64 data")


def list_nodes(query):
    reqs = parse_label_selector(query.get("labelSelector", ""))
    field = query.get("fieldSelector", "")
    name_eq = None
    if field:
        m = re.match(r"^metadata\.name(==|=)(.*)$", field)
        if not m:
            raise bad_request('"%s" is not a known field selector: only "metadata.name", '
                              '"spec.unschedulable"' % field.split("=")[0])
        name_eq = m.group(2)
    limit = query.get("limit")
    try:
        limit = int(limit) if limit not in (None, "") else 0
    except ValueError:
        raise bad_request("limit: not a number")
    cont = query.get("continue")
    if cont:
        rv, start = decode_continue(cont)
        snap = STATE.snapshots.get(rv)
        if snap is None:
            raise ApiError(410, "Expired",
                           "The provided continue parameter is too old to display a consistent "
                           "list result. You can start a new list without the continue "
                           "parameter, or use the continue token in this response to retrieve "
                           "the remainder of the results. Continuing with the provided token "
                           "results in an inconsistent list - objects that were created, "
                           "modified, or deleted between the time the first chunk was returned "
                           "and now may show up in the list.")
        start = start.rstrip("\x00")
    else:
        rv = STATE.rv
        snap = [copy.deepcopy(STATE.nodes[k]) for k in sorted(STATE.nodes)]
        start = ""
    items = [n for n in snap if n["metadata"]["name"] >= start
             and selector_matches(reqs, n["metadata"].get("labels") or {})
             and (name_eq is None or n["metadata"]["name"] == name_eq)]
    meta = {"resourceVersion": str(rv)}
    if limit > 0 and len(items) > limit:
        items, rest = items[:limit], items[limit:]
        meta["continue"] = encode_continue(rv, rest[0]["metadata"]["name"])
        meta["remainingItemCount"] = len(rest)
        STATE.snapshots[rv] = snap
    return meta, items


def patch_node(name, subresource, content_type, body, query):
    node = STATE.nodes.get(name)
    if node is None:
        raise not_found("nodes", name)
    try:
        patch = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad_request("error decoding patch: %s" % e)
    ct = content_type.split(";")[0].strip()
    if ct == "application/strategic-merge-patch+json":
        try:
            patched = smp(node, patch)
        except MergeKeyError as e:
            raise ApiError(500, "InternalError",
                           "Internal error occurred: %s" % e,
                           {"causes": [{"message": str(e)}]})
        if patched is None:
            patched = {}
    elif ct == "application/merge-patch+json":
        if not isinstance(patch, dict):
            raise bad_request("json: cannot unmarshal %s into Go value of type map[string]interface {}"
                              % json_type(patch))
        patched = merge_patch(node, patch)
    elif ct == "application/json-patch+json":
        patched = json_patch(node, patch)
    else:
        raise ApiError(415, "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types "
                       "include: application/json-patch+json, application/merge-patch+json, "
                       "application/apply-patch+yaml, application/strategic-merge-patch+json")
    if not isinstance(patched, dict):
        raise bad_request("the patched object is not a JSON object")
    meta = patched.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        patched["metadata"] = meta
    want_rv = meta.get("resourceVersion")
    if want_rv not in (None, "") and str(want_rv) != node["metadata"]["resourceVersion"]:
        raise ApiError(409, "Conflict",
                       'Operation cannot be fulfilled on nodes "%s": the object has been '
                       'modified; please apply your changes to the latest version and try again'
                       % name, {"name": name, "kind": "nodes"})
    if meta.get("name", name) != name:
        raise bad_request("the name of the object (%s) does not match the name on the URL (%s)"
                          % (meta.get("name"), name))
    check_string_map(patched, "labels")
    check_string_map(patched, "annotations")
    for key in ("uid", "creationTimestamp", "resourceVersion", "name"):
        if key in node["metadata"]:
            meta[key] = node["metadata"][key]
    patched["kind"] = "Node"
    patched["apiVersion"] = "v1"
    # The registry strategies: the node endpoint keeps the old status, the
    # status endpoint the old spec.
    keep = "spec" if subresource == "status" else "status"
    if keep in node:
        patched[keep] = copy.deepcopy(node[keep])
    else:
        patched.pop(keep, None)
    for k in ("labels", "annotations"):
        if meta.get(k) == {}:
            meta.pop(k)
    validate_meta(patched, "Node")
    if patched == node:
        return node  # no-op: no write, same resourceVersion
    if query.get("dryRun") == "All":
        return patched
    meta["resourceVersion"] = STATE.next_rv()
    STATE.nodes[name] = patched
    return patched


def store_node(obj):
    obj = copy.deepcopy(obj)
    obj["kind"] = "Node"
    obj["apiVersion"] = "v1"
    meta = obj.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", now_rfc3339())
    meta["resourceVersion"] = STATE.next_rv()
    obj.setdefault("spec", {})
    obj.setdefault("status", {})
    STATE.nodes[meta["name"]] = obj


# ---------------------------------------------------------------- events

EV_TO_CORE = {"note": "message", "regarding": "involvedObject",
              "reportingController": "reportingComponent",
              "deprecatedSource": "source", "deprecatedFirstTimestamp": "firstTimestamp",
              "deprecatedLastTimestamp": "lastTimestamp", "deprecatedCount": "count"}
CORE_TO_EV = {v: k for k, v in EV_TO_CORE.items()}


def to_core(ev):
    out = {EV_TO_CORE.get(k, k): copy.deepcopy(v) for k, v in ev.items()}
    out["apiVersion"] = "v1"
    return out


def to_events_group(core):
    out = {CORE_TO_EV.get(k, k): copy.deepcopy(v) for k, v in core.items()}
    out["apiVersion"] = "events.k8s.io/v1"
    return out


def create_event(group, namespace, body):
    try:
        ev = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad_request("error decoding body: %s" % e)
    if not isinstance(ev, dict):
        raise bad_request("the body is not a JSON object")
    want_api = "events.k8s.io/v1" if group else "v1"
    if ev.get("apiVersion", want_api) != want_api or ev.get("kind", "Event") != "Event":
        raise bad_request("the API version in the data (%s) does not match the expected API "
                          "version (%s)" % (ev.get("apiVersion"), want_api))
    meta = ev.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise bad_request("metadata is not an object")
    if meta.get("namespace", namespace) != namespace:
        raise bad_request("the namespace of the provided object does not match the namespace "
                          "sent on the request")
    meta["namespace"] = namespace
    causes = []
    if not meta.get("name") and not meta.get("generateName"):
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    if group:
        if not ev.get("eventTime"):
            causes.append(("eventTime", "Required value"))
        if not ev.get("reportingController"):
            causes.append(("reportingController", "Required value"))
        if not ev.get("reportingInstance"):
            causes.append(("reportingInstance", "Required value"))
        if not ev.get("action"):
            causes.append(("action", "Required value"))
        if not ev.get("reason"):
            causes.append(("reason", "Required value"))
        if len(ev.get("note", "") or "") > 1024:
            causes.append(("note", "Too long: may not be more than 1024 bytes"))
    else:
        if not isinstance(ev.get("involvedObject"), dict):
            causes.append(("involvedObject", "Required value"))
    if ev.get("type") not in ("Normal", "Warning") and (group or ev.get("type")):
        causes.append(("type", 'Unsupported value: "%s": supported values: "Normal", "Warning"'
                       % ev.get("type", "")))
    if causes:
        name = meta.get("name") or meta.get("generateName", "")
        texts = ["%s: %s" % c for c in causes]
        message = 'Event "%s" is invalid: ' % name
        message += texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        raise ApiError(422, "Invalid", message,
                       {"name": name, "group": group, "kind": "Event",
                        "causes": [{"reason": "FieldValueRequired", "message": m, "field": f}
                                   for f, m in causes]})
    if not meta.get("name"):
        meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
    key = (namespace, meta["name"])
    if key in STATE.events:
        raise ApiError(409, "AlreadyExists", 'events%s "%s" already exists'
                       % ("." + group if group else "", meta["name"]),
                       {"name": meta["name"], "group": group, "kind": "events"})
    meta["uid"] = str(uuid.uuid4())
    meta["creationTimestamp"] = now_rfc3339()
    meta["resourceVersion"] = STATE.next_rv()
    ev["kind"] = "Event"
    core = to_core(ev) if group else ev
    core["apiVersion"] = "v1"
    STATE.events[key] = core
    return to_events_group(core) if group else copy.deepcopy(core)


# ---------------------------------------------------------------- other kinds

# (group, version, plural) -> (kind, namespaced, verbs)
KINDS = {
    ("", "v1", "namespaces"): ("Namespace", False, ("get", "list")),
    ("node.k8s.io", "v1", "runtimeclasses"): ("RuntimeClass", False, ("get", "list")),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"):
        ("MutatingWebhookConfiguration", False, ("get", "list")),
    ("nfd.k8s-sigs.io", "v1alpha1", "nodefeatures"):
        ("NodeFeature", True, ("create", "delete", "get", "list", "patch")),
}
PLURAL_OF = {(g, v, k[0]): p for (g, v, p), k in KINDS.items()}
OBJECT_RE = re.compile(r"^/(?:api/(v1)|apis/([^/]+)/([^/]+))(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?$")


def kinds_discovery(path):
    """/apis/GROUP and /apis/GROUP/VERSION for the groups of KINDS."""
    for (g, v, plural), (kind, namespaced, verbs) in KINDS.items():
        if not g:
            continue
        if path == "/apis/" + g:
            return dict(group_entry(g, v), kind="APIGroup", apiVersion="v1")
        if path == "/apis/%s/%s" % (g, v):
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": g + "/" + v,
                    "resources": [{"name": p, "singularName": k[0].lower(), "namespaced": k[1],
                                   "kind": k[0], "verbs": list(k[2])}
                                  for (g2, v2, p), k in KINDS.items() if (g2, v2) == (g, v)]}
    return None


def load_crd_schema():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data", "nfd-nodefeature-crd.yaml")) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                return doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    raise SystemExit("no CRD in data/nfd-nodefeature-crd.yaml")


NODEFEATURE_SCHEMA = load_crd_schema()
DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TYPE_NAMES = {dict: "object", list: "array", str: "string", bool: "boolean",
              int: "integer", float: "number", type(None): "null"}


def schema_check(value, schema, path, causes):
    """Validates `value` against a structural schema as the API server
    does, and prunes fields the schema does not know. Returns the pruned
    value."""
    want = schema.get("type")
    have = TYPE_NAMES.get(type(value), "unknown")
    ok = (want is None or want == have or (want == "number" and have == "integer"))
    if not ok:
        causes.append((path, '"%s"' % have, "%s in body must be of type %s: \"%s\"" % (path, want, have)))
        return value
    if "enum" in schema and value not in schema["enum"]:
        causes.append((path, json.dumps(value), "supported values: %s" % ", ".join(
            '"%s"' % e for e in schema["enum"])))
    if want == "string" and schema.get("format") == "date-time" and not DATE_TIME_RE.match(value):
        causes.append((path, '"%s"' % value, "%s in body must be of type date-time: \"%s\"" % (path, value)))
    if want == "object":
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        out = {}
        for k in schema.get("required", []):
            if k not in value:
                causes.append((path + "." + k if path else k, None, "Required value"))
        for k, v in value.items():
            sub = path + "." + k if path else k
            if props is not None and k in props:
                out[k] = schema_check(v, props[k], sub, causes)
            elif isinstance(addl, dict):
                out[k] = schema_check(v, addl, sub, causes)
            elif props is None and addl is None:
                out[k] = v  # type: object alone keeps everything (metadata)
            # else: pruned, as the real server drops unknown fields
        return out
    if want == "array":
        items = schema.get("items", {})
        return [schema_check(v, items, "%s[%d]" % (path, i), causes) for i, v in enumerate(value)]
    return value


def validate_custom(obj, kind, group):
    causes = []
    pruned = schema_check(obj, NODEFEATURE_SCHEMA, "", causes)
    if causes:
        name = obj.get("metadata", {}).get("name", "")
        out, parts = [], []
        for field, value, msg in causes:
            if value is None:
                out.append({"reason": "FieldValueRequired", "message": msg, "field": field})
                parts.append("%s: %s" % (field, msg))
            else:
                out.append({"reason": "FieldValueInvalid",
                            "message": "Invalid value: %s: %s" % (value, msg), "field": field})
                parts.append("%s: Invalid value: %s: %s" % (field, value, msg))
        message = '%s.%s "%s" is invalid: ' % (kind, group, name)
        message += parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
        raise ApiError(422, "Invalid", message,
                       {"name": name, "group": group, "kind": kind, "causes": out})
    validate_meta(pruned, kind)
    return pruned


def store_object(obj):
    obj = copy.deepcopy(obj)
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    plural = PLURAL_OF.get((group, version, obj.get("kind")))
    if plural is None:
        raise ValueError("the test server keeps no %s %s" % (obj.get("apiVersion"), obj.get("kind")))
    meta = obj.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("creationTimestamp", now_rfc3339())
    meta["resourceVersion"] = STATE.next_rv()
    ns = meta.get("namespace", "") if KINDS[(group, version, plural)][1] else ""
    STATE.objects[(group, plural, ns, meta["name"])] = obj


def object_route(method, path, query, body, perms, content_type):
    m = OBJECT_RE.match(path)
    if not m:
        return None
    if m.group(1):
        group, version = "", "v1"
    else:
        group, version = m.group(2), m.group(3)
    ns, plural, name = m.group(4), m.group(5), m.group(6)
    spec = KINDS.get((group, version, plural))
    if spec is None:
        return None
    kind, namespaced, verbs = spec
    if namespaced != (ns is not None) and not (namespaced and ns is None and name is None
                                               and method == "GET"):
        return None
    verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch",
            "DELETE": "delete"}.get(method)
    if verb not in verbs or (verb == "create" and name) or (verb in ("patch", "delete") and not name):
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                       "requested resource")
    authorize(perms, verb, plural, group, name, ns)
    api_version = group + "/" + version if group else version
    key_ns = ns or ""
    if verb == "list":
        reqs = parse_label_selector(query.get("labelSelector", ""))
        items = [copy.deepcopy(o) for (g, p, n, _), o in sorted(STATE.objects.items())
                 if g == group and p == plural and (ns is None or n == ns)
                 and selector_matches(reqs, o.get("metadata", {}).get("labels") or {})]
        return 200, {"kind": kind + "List", "apiVersion": api_version,
                     "metadata": {"resourceVersion": str(STATE.rv)}, "items": items}
    if verb == "get":
        obj = STATE.objects.get((group, plural, key_ns, name))
        if obj is None:
            raise not_found(plural, name, group)
        return 200, copy.deepcopy(obj)
    if verb == "delete":
        obj = STATE.objects.pop((group, plural, key_ns, name), None)
        if obj is None:
            raise not_found(plural, name, group)
        STATE.next_rv()
        return 200, obj
    try:
        doc = json.loads(body or b"null")
    except ValueError as e:
        raise bad_request("json: %s" % e)
    if verb == "create":
        if not isinstance(doc, dict):
            raise bad_request("the body of the request is not a JSON object")
        if doc.get("apiVersion") != api_version or doc.get("kind") != kind:
            raise bad_request("the API version in the data (%s) does not match the expected API "
                              "version (%s)" % (doc.get("apiVersion"), api_version))
        meta = doc.setdefault("metadata", {})
        if meta.get("namespace", ns) != ns:
            raise bad_request("the namespace of the provided object does not match the "
                              "namespace sent on the request")
        meta["namespace"] = ns
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise ApiError(422, "Invalid", '%s.%s "" is invalid: metadata.name: Required '
                               'value: name or generateName is required' % (kind, group))
        if not DNS1123_SUB_RE.match(meta["name"]) or len(meta["name"]) > 253:
            raise ApiError(422, "Invalid", '%s.%s "%s" is invalid: metadata.name: Invalid value: '
                           '"%s": a lowercase RFC 1123 subdomain must consist of lower case '
                           "alphanumeric characters, '-' or '.'" % (kind, group, meta["name"],
                                                                     meta["name"]))
        if (group, plural, ns, meta["name"]) in STATE.objects:
            raise ApiError(409, "AlreadyExists", '%s.%s "%s" already exists'
                           % (plural, group, meta["name"]),
                           {"name": meta["name"], "group": group, "kind": plural})
        obj = validate_custom(doc, kind, group)
        obj["metadata"].update({"uid": str(uuid.uuid4()), "creationTimestamp": now_rfc3339(),
                                "generation": 1})
        if query.get("dryRun") != "All":
            obj["metadata"]["resourceVersion"] = STATE.next_rv()
            STATE.objects[(group, plural, ns, meta["name"])] = obj
        return 201, copy.deepcopy(obj)
    # patch
    cur = STATE.objects.get((group, plural, key_ns, name))
    if cur is None:
        raise not_found(plural, name, group)
    ctype = content_type.split(";")[0].strip()
    if ctype == "application/merge-patch+json":
        new = merge_patch(copy.deepcopy(cur), doc)
    elif ctype == "application/json-patch+json":
        if not isinstance(doc, list):
            raise bad_request("json patch: the patch is not a list of operations")
        new = json_patch(copy.deepcopy(cur), doc)
    else:
        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                       "format - accepted media types include: application/json-patch+json, "
                       "application/merge-patch+json, application/apply-patch+yaml")
    for k in ("uid", "creationTimestamp", "resourceVersion", "generation", "name", "namespace"):
        if k in cur["metadata"]:
            new.setdefault("metadata", {})[k] = cur["metadata"][k]
    obj = validate_custom(new, kind, group)
    if obj != cur and query.get("dryRun") != "All":
        if obj.get("spec") != cur.get("spec"):
            obj["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
        obj["metadata"]["resourceVersion"] = STATE.next_rv()
        STATE.objects[(group, plural, key_ns, name)] = obj
    return 200, copy.deepcopy(obj)


# ---------------------------------------------------------------- handlers

NODE_RE = re.compile(r"^/api/v1/nodes/([^/]+)(/status)?$")
EVENTS_RE = re.compile(r"^/(api/v1|apis/events\.k8s\.io/v1)/namespaces/([^/]+)/events$")


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-api-test-server"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj, content_type="application/json", chunk=0):
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        if chunk:
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Test-Trailer")
        else:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", "00000000-0000-0000-0000-000000000001")
        self.end_headers()
        if chunk:
            for i in range(0, len(data), chunk):
                piece = data[i:i + chunk]
                self.wfile.write(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
            self.wfile.write(b"0\r\nX-Test-Trailer: done\r\n\r\n")
        else:
            self.wfile.write(data)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def user(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            perms = STATE.tokens.get(auth[len("Bearer "):].strip())
            return perms  # a wrong token is 401 even with a client cert
        try:
            cert = self.connection.getpeercert()
        except (AttributeError, ValueError):
            cert = None
        if cert:
            for rdn in cert.get("subject", ()):
                for k, v in rdn:
                    if k == "commonName" and v in STATE.certs:
                        return STATE.certs[v]
        return None

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        body = self.read_body()
        entry = {"method": method, "path": path, "query": query,
                 "content_type": self.headers.get("Content-Type", ""),
                 "accept": self.headers.get("Accept", ""),
                 "user_agent": self.headers.get("User-Agent", ""),
                 "user": None, "status": 0,
                 "peer_port": self.client_address[1]}
        with LOCK:
            STATE.log.append(entry)
            fault = None
            for f in STATE.faults:
                if f.get("method") not in (None, method):
                    continue
                fp = f.get("path")
                if fp is not None and not (fp == path or (fp.endswith("*") and path.startswith(fp[:-1]))):
                    continue
                if f.get("has_query") is not None and f["has_query"] not in query:
                    continue
                fault = f
                f["times"] = f.get("times", 1) - 1
                if f["times"] <= 0:
                    STATE.faults.remove(f)
                break
        if fault is not None:
            action = fault.get("action")
            if action == "drop":
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action == "raw":
                self.close_connection = True
                try:
                    self.wfile.write(fault.get("data", "").encode("latin-1"))
                    self.wfile.flush()
                    time.sleep(float(fault.get("seconds", 0)))
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if action == "delay":
                time.sleep(float(fault.get("seconds", 1)))
            elif action == "compact":
                with LOCK:
                    STATE.snapshots = {}
            elif action == "status":
                code = int(fault.get("code", 500))
                reasons = {429: ("TooManyRequests", "Too many requests, please try again later."),
                           500: ("InternalError", "Internal error occurred: injected"),
                           502: ("", "Bad Gateway"),
                           503: ("ServiceUnavailable", "The server is currently unable to handle "
                                 "the request"),
                           504: ("Timeout", "The server was unable to return a response in the "
                                 "time allotted, but may still be processing the request")}
                reason, msg = reasons.get(code, ("", "injected"))
                st = status_obj(code, reason, msg)
                if "retry_after" in fault:
                    st["details"] = {"retryAfterSeconds": int(fault["retry_after"])}
                data = json.dumps(st).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if "retry_after" in fault:
                    self.send_header("Retry-After", str(fault["retry_after"]))
                self.end_headers()
                self.wfile.write(data)
                entry["status"] = code
                return
        with LOCK:
            try:
                code, obj, ctype = self.route(method, path, query, body, entry)
            except ApiError as e:
                code, obj, ctype = e.code, e.status, "application/json"
            entry["status"] = code
        chunk = int(fault.get("chunk", 7)) if fault is not None and fault.get("action") == "chunked" else 0
        self.send_json(code, obj, ctype, chunk)

    def route(self, method, path, query, body, entry):
        perms = self.user()
        if perms is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        entry["user"] = perms.get("user")
        if method == "GET":
            if path == "/version":
                return 200, STATE.version or VERSION, "application/json"
            if path == "/api":
                return 200, API_VERSIONS, "application/json"
            if path == "/apis":
                return 200, API_GROUPS, "application/json"
            if path == "/api/v1":
                return 200, CORE_RESOURCES, "application/json"
            if path == "/apis/events.k8s.io":
                g = dict(EVENTS_GROUP, kind="APIGroup", apiVersion="v1")
                return 200, g, "application/json"
            if path == "/apis/events.k8s.io/v1":
                return 200, EVENTS_RESOURCES, "application/json"
            disc = kinds_discovery(path)
            if disc is not None:
                return 200, disc, "application/json"
            if path == "/api/v1/nodes":
                authorize(perms, "list", "nodes", "")
                meta, items = list_nodes(query)
                accept = self.headers.get("Accept", "")
                if "as=Table" in accept:
                    t = node_table(items, meta)
                    return 200, t, "application/json;as=Table;v=v1;g=meta.k8s.io"
                return 200, {"kind": "NodeList", "apiVersion": "v1", "metadata": meta,
                             "items": items}, "application/json"
            m = NODE_RE.match(path)
            if m:
                name, sub = m.group(1), m.group(2)
                authorize(perms, "get", "nodes/status" if sub else "nodes", "", name)
                node = STATE.nodes.get(name)
                if node is None:
                    raise not_found("nodes", name)
                if "as=Table" in self.headers.get("Accept", ""):
                    return (200, node_table([node], {"resourceVersion": node["metadata"]["resourceVersion"]}),
                            "application/json;as=Table;v=v1;g=meta.k8s.io")
                return 200, node, "application/json"
            m = EVENTS_RE.match(path)
            if m:
                group = "events.k8s.io" if m.group(1).startswith("apis") else ""
                authorize(perms, "list", "events", group, None, m.group(2))
                items = [to_events_group(e) if group else copy.deepcopy(e)
                         for (ns, _), e in sorted(STATE.events.items()) if ns == m.group(2)]
                return 200, {"kind": "EventList", "apiVersion": "events.k8s.io/v1" if group else "v1",
                             "metadata": {"resourceVersion": str(STATE.rv)},
                             "items": items}, "application/json"
        elif method == "PATCH":
            m = NODE_RE.match(path)
            if m:
                name, sub = m.group(1), m.group(2)
                authorize(perms, "patch", "nodes/status" if sub else "nodes", "", name)
                return 200, patch_node(name, "status" if sub else "", self.headers.get("Content-Type", ""),
                                       body, query), "application/json"
        elif method == "POST":
            m = EVENTS_RE.match(path)
            if m:
                group = "events.k8s.io" if m.group(1).startswith("apis") else ""
                authorize(perms, "create", "events", group, None, m.group(2))
                return 201, create_event(group, m.group(2), body), "application/json"
        answer = object_route(method, path, query, body, perms, self.headers.get("Content-Type", ""))
        if answer is not None:
            return answer[0], answer[1], "application/json"
        raise ApiError(404, "NotFound", "the server could not find the requested resource",
                       {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})

    def do_GET(self):
        self.handle_any("GET")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null")

    def do_GET(self):
        with LOCK:
            if self.path == "/__test/requests":
                return self.answer(200, STATE.log)
            if self.path == "/__test/objects":
                return self.answer(200, [o for _, o in sorted(STATE.objects.items())])
            if self.path == "/__test/events":
                return self.answer(200, [e for _, e in sorted(STATE.events.items())])
            if self.path.startswith("/__test/nodes/"):
                node = STATE.nodes.get(self.path[len("/__test/nodes/"):])
                return self.answer(200 if node else 404, node)
        self.answer(404, None)

    def do_PUT(self):
        if self.path == "/__test/tls":
            TLS["cert"] = self.body().get("cert", "server")
            return self.answer(200, TLS)
        if self.path != "/__test/state":
            return self.answer(404, None)
        state = self.body()
        with LOCK:
            STATE.tokens = state.get("tokens", {})
            STATE.certs = state.get("certs", {})
            STATE.nodes = {}
            STATE.events = {}
            STATE.snapshots = {}
            STATE.objects = {}
            STATE.version = copy.deepcopy(state.get("version") or VERSION)
            for n in state.get("nodes", []):
                store_node(n)
            try:
                for o in state.get("objects", []):
                    store_object(o)
            except ValueError as e:
                return self.answer(400, {"error": str(e)})
        self.answer(200, {"resourceVersion": str(STATE.rv)})

    def do_POST(self):
        if self.path == "/__test/faults":
            faults = self.body()
            with LOCK:
                STATE.faults.extend(faults)
            return self.answer(200, {"queued": len(STATE.faults)})
        if self.path == "/__test/compact":
            self.body()
            with LOCK:
                STATE.snapshots = {}
            return self.answer(200, {})
        self.answer(404, None)


class TlsServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, context):
        self.context = context
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(30)
        # Go's net package (the real API server's) sets TCP_NODELAY on every
        # connection; without it the header and body writes of an answer
        # meet Nagle and the client's delayed ACK: 40 ms a request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The handshake happens on the request's own thread (finish_request),
        # so one slow client does not hold up the others.
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, addr

    def finish_request(self, request, client_address):
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):
            return  # e.g. a client that does not trust our CA
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-answer (a test's timeout)


class PlainServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def get_request(self):
        sock, addr = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", required=True)
    ap.add_argument("--alt-cert", default="", help="served on PUT /__test/tls wrong-host")
    ap.add_argument("--alt-key", default="")
    ap.add_argument("--ports-file", required=True,
                    help="written as 'API_PORT CONTROL_PORT' once both listen")
    args = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.client_ca)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    if args.alt_cert:
        alt = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        alt.minimum_version = ssl.TLSVersion.TLSv1_2
        alt.load_cert_chain(args.alt_cert, args.alt_key)

        def pick(sock, name, _ctx):
            if name and TLS["cert"] == "wrong-host":
                sock.context = alt
        ctx.sni_callback = pick
    # A test that dies without stopping us (killed, SIGPIPE) must not leave
    # a server behind: exit when the parent goes.
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=watch_parent, daemon=True).start()
    api = TlsServer(("127.0.0.1", 0), ApiHandler, ctx)
    control = PlainServer(("127.0.0.1", 0), ControlHandler)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    with open(args.ports_file + ".tmp", "w") as f:
        f.write("%d %d\n" % (api.server_address[1], control.server_address[1]))
    os.rename(args.ports_file + ".tmp", args.ports_file)
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
