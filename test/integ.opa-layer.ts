/**
 * Integration test, run by integ-runner (`npx projen integ`): a Node.js function with the OPA layer
 * and an embedded bundle compiled from the example policy, and assertions that invoke the function
 * and check real decisions. With an AWS account, the `integ` task's integ-runner command plus
 * `--update-on-failed` deploys it, runs the assertions and destroys it; here CI compares the
 * synthesized app with the committed snapshot (test/integ.opa-layer.ts.snapshot), and
 * `npx projen integ:update` rewrites the snapshot after a change to the construct or the runtime.
 *
 * The snapshot stays stable because every asset is built from sources deterministically: `opa build`
 * writes the same bytes for the same Rego (entries dated 1970, no revision, fixed paths relative
 * to the repository root), and the layer template is esbuild's output of the runtime.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OpaBundle, OpaExtensionLayer } from '../src';

const ROOT = path.resolve(__dirname, '..');
const OPA = path.join(ROOT, '.tools', 'bin', 'opa');

/** `opa build -t wasm` of the example policy; paths relative to the root, so the bytes do not depend on the checkout. */
function buildExampleBundle(): string {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'opa-integ-')), 'authz.tar.gz');
  execFileSync(OPA, ['build', '-t', 'wasm', '-e', 'app/authz/allow', '-o', out,
    'examples/policy/authz.rego', 'examples/policy/data.json'], { cwd: ROOT, stdio: 'inherit' });
  return out;
}

// The function asks the extension as it would ask an OPA server, and returns the decision.
const HANDLER = `
exports.handler = async (event) => {
  const res = await fetch(process.env.OPA_URL + '/v1/data/app/authz/allow', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: event }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error('OPA answered ' + res.status);
  const { result } = await res.json();
  return { allowed: result === true };
};`;

const app = new App();
const stack = new Stack(app, 'OpaLayerInteg');
const opa = new OpaExtensionLayer(stack, 'Opa', { bundle: OpaBundle.fromAsset(buildExampleBundle(), { name: 'authz' }) });
const fn = new lambda.Function(stack, 'Authorized', {
  runtime: lambda.Runtime.NODEJS_20_X,
  handler: 'index.handler',
  code: lambda.Code.fromInline(HANDLER),
  memorySize: 256,
});
fn.addLayers(opa);

const integ = new IntegTest(app, 'OpaLayer', { testCases: [stack] });
// alice is an approver in examples/policy/data.json; bob only reads invoices.
integ.assertions.invokeFunction({
  functionName: fn.functionName,
  payload: JSON.stringify({ user: 'alice', action: 'approve', resource: 'invoice' }),
}).expect(ExpectedResult.objectLike({ StatusCode: 200, Payload: '{"allowed":true}' }));
integ.assertions.invokeFunction({
  functionName: fn.functionName,
  payload: JSON.stringify({ user: 'bob', action: 'approve', resource: 'invoice' }),
}).expect(ExpectedResult.objectLike({ StatusCode: 200, Payload: '{"allowed":false}' }));

app.synth();
