// Evaluates a ValidatingAdmissionPolicy's CEL the way the API server
// applies it, on sample admission requests: every matchCondition must be
// true for the policy to apply; variables are evaluated in order and seen
// as variables.<name>; each validation that is false is a failure, with its
// messageExpression (or message). CEL itself is @marcbachmann/cel-js (a CEL
// implementation without the Kubernetes type checker: expressions are
// parsed and evaluated, not type-checked against the Node schema).
// Order of evaluation: https://kubernetes.io/docs/reference/access-authn-authz/validating-admission-policy/
//
// stdin:  {"policy": <spec>, "cases": [{"name", "request", "object", "oldObject"}]}
// stdout: {"parsed": N, "results": [{"name", "matched", "failures": [{"index", "message"}],
//          "errors": [...]}]}
// Usage: node cel_eval.mjs CEL_JS_PACKAGE_DIR < input.json
import {readFileSync} from 'node:fs';
import {pathToFileURL} from 'node:url';
import {join} from 'node:path';

const pkgDir = process.argv[2];
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const entry = pkg.exports?.['.']?.default ?? pkg.main ?? 'lib/index.js';
const cel = await import(pathToFileURL(join(pkgDir, entry)).href);

const input = JSON.parse(readFileSync(0, 'utf8'));
const spec = input.policy;

// Parse every expression first: a syntax error fails the run whatever the cases.
const exprs = [];
for (const m of spec.matchConditions ?? []) exprs.push(['matchConditions.' + m.name, m.expression]);
for (const v of spec.variables ?? []) exprs.push(['variables.' + v.name, v.expression]);
(spec.validations ?? []).forEach((v, i) => {
  exprs.push([`validations[${i}].expression`, v.expression]);
  if (v.messageExpression) exprs.push([`validations[${i}].messageExpression`, v.messageExpression]);
});
const parseErrors = [];
for (const [where, text] of exprs) {
  try {
    cel.parse(text);
  } catch (e) {
    parseErrors.push(`${where}: ${e.message}`);
  }
}
if (parseErrors.length) {
  process.stdout.write(JSON.stringify({parsed: exprs.length, parseErrors}));
  process.exit(0);
}

function run(text, ctx) {
  return cel.evaluate(text, ctx);
}

const results = [];
for (const c of input.cases) {
  const ctx = {request: c.request, object: c.object, oldObject: c.oldObject, variables: {}};
  const r = {name: c.name, matched: true, failures: [], errors: []};
  for (const m of spec.matchConditions ?? []) {
    try {
      if (run(m.expression, ctx) !== true) r.matched = false;
    } catch (e) {
      r.errors.push(`matchConditions.${m.name}: ${e.message}`);
    }
  }
  if (r.matched && r.errors.length === 0) {
    for (const v of spec.variables ?? []) {
      try {
        ctx.variables[v.name] = run(v.expression, ctx);
      } catch (e) {
        r.errors.push(`variables.${v.name}: ${e.message}`);
      }
    }
    (spec.validations ?? []).forEach((v, i) => {
      if (r.errors.length) return;
      let ok;
      try {
        ok = run(v.expression, ctx);
      } catch (e) {
        r.errors.push(`validations[${i}]: ${e.message}`);
        return;
      }
      if (typeof ok !== 'boolean') {
        r.errors.push(`validations[${i}]: not a bool: ${String(ok)}`);
        return;
      }
      if (!ok) {
        let message = v.message ?? '';
        if (v.messageExpression) {
          try {
            message = run(v.messageExpression, ctx);
          } catch (e) {
            r.errors.push(`validations[${i}].messageExpression: ${e.message}`);
          }
        }
        r.failures.push({index: i, message});
      }
    });
  }
  results.push(r);
}
process.stdout.write(JSON.stringify({parsed: exprs.length, results}));
