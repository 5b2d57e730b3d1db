// Validates Kubernetes objects against the API's OpenAPI schemas as the npm
// package kubernetes-models packages them (generated from the Kubernetes
// OpenAPI spec, github.com/tommy351/kubernetes-models-ts; version 5.1.0
// carries 1.34's schemas: PodSpec has hostnameOverride, resource.k8s.io/v1
// exists). Types, required fields and enums are checked; unknown fields are
// not (the API's schemas do not forbid them): check_manifests.py's own
// checks cover the fields we rely on.
//
// stdin:  a JSON list of objects
// stdout: a JSON list, one entry per object: {"schema": bool, "errors": [..]}
//         schema false: the package has no model for the apiVersion/kind
//         (custom resources such as ServiceMonitor).
// Usage: node k8s_validate.mjs KUBERNETES_MODELS_PACKAGE_DIR < objects.json
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';

const pkgDir = process.argv[2];
const objs = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const o of objs) {
  const [group, version] = String(o.apiVersion).includes('/')
    ? String(o.apiVersion).split('/')
    : [null, String(o.apiVersion)];
  const rel = group ? join(group, version, `${o.kind}.js`) : join(version, `${o.kind}.js`);
  const file = join(pkgDir, rel);
  if (!/^[A-Za-z0-9]+$/.test(String(o.kind)) || !existsSync(file)) {
    out.push({schema: false, errors: []});
    continue;
  }
  const mod = await import(pathToFileURL(file).href);
  const Model = mod[o.kind];
  try {
    new Model(o).validate();
    out.push({schema: true, errors: []});
  } catch (e) {
    out.push({schema: true, errors: [String(e.message)]});
  }
}
process.stdout.write(JSON.stringify(out));
