/**
 * OPA's REST API through the official TypeScript SDK (`@open-policy-agent/opa`), from a function
 * running beside the built layer under the local Lambda emulator: function code written for a
 * real OPA server works unchanged. One emulator start serves every question; each invocation runs
 * a list of SDK calls in the function (`fixtures/sdk-calls-handler.js`).
 */
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { freePort, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';
import { buildWasmBundle } from '../support/opa';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'sdk-calls-handler.js') };

const AUTHZ_REGO = `
package app.authz

default allow := false

allow if input.user in data.app.authz.admins

allow if {
  input.action == "read"
  input.user in data.app.authz.readers
}

fail := 1 if input.fail
fail := 2 if input.fail
`;
const SYSTEM_REGO = `
package system

main := {"allowed": input.user == "alice", "user": input.user} if input.user
`;

type CallResult = { value?: unknown; error?: { name: string; message: string; status?: number } };

let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };
let emulator: LambdaEmulator;

beforeAll(async () => {
  const archive = await buildWasmBundle({
    modules: { 'authz.rego': AUTHZ_REGO, 'system.rego': SYSTEM_REGO },
    data: { app: { authz: { admins: ['alice'], readers: ['bob'] } } },
    entrypoints: ['app/authz', 'app/authz/fail', 'system/main'],
    revision: 'rev-sdk',
  });
  bundleFile = writeTempBundle(archive, 'authz.tar.gz');
  layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort() });
  emulator = new LambdaEmulator({ layerDir: layer.layerDir, handler: HANDLER, environment: layer.environment });
  const init = await emulator.start();
  expect(init).toMatchObject({ ok: true });
}, 60_000);

afterAll(async () => {
  await emulator?.close();
  layer?.dispose();
  bundleFile?.dispose();
});

async function ask(...calls: object[]): Promise<CallResult[]> {
  const res = await emulator.invoke({ calls });
  expect(res.error).toBeUndefined();
  return res.result as CallResult[];
}

describe('GIVEN a function using the official OPA SDK beside the extension', () => {
  test('WHEN it calls evaluate with input THEN it gets the decisions, including sub-documents below an entrypoint', async () => {
    const results = await ask(
      { op: 'evaluate', path: 'app/authz/allow', input: { user: 'alice', action: 'write' } },
      { op: 'evaluate', path: 'app/authz/allow', input: { user: 'bob', action: 'write' } },
      { op: 'evaluate', path: 'app/authz/allow', input: { user: 'bob', action: 'read' } },
      { op: 'evaluate', path: 'app/authz', input: { user: 'eve', action: 'read' } },
    );

    // As in OPA, data.app.authz holds the package's rules and the data under it.
    expect(results).toEqual([{ value: true }, { value: false }, { value: true }, { value: { allow: false, admins: ['alice'], readers: ['bob'] } }]);
  });

  test('WHEN it calls evaluate without input THEN the policy sees no input', async () => {
    const results = await ask({ op: 'evaluate', path: 'app/authz/allow' });

    expect(results).toEqual([{ value: false }]);
  });

  test('WHEN it calls evaluateDefault THEN POST / answers the default decision, system/main', async () => {
    const results = await ask({ op: 'evaluateDefault', input: { user: 'alice' } }, { op: 'evaluateDefault', input: { user: 'bob' } });

    expect(results).toEqual([{ value: { allowed: true, user: 'alice' } }, { value: { allowed: false, user: 'bob' } }]);
  });

  test('WHEN evaluateDefault finds the decision undefined THEN the SDK raises the 404', async () => {
    const [result] = await ask({ op: 'evaluateDefault', input: {} });

    expect(result.error).toMatchObject({ name: 'ClientError', message: 'document undefined: data.system.main' });
  });

  test('WHEN it calls evaluateBatch THEN every input gets its decision in one round trip', async () => {
    const [result] = await ask({
      op: 'evaluateBatch',
      path: 'app/authz/allow',
      inputs: { a: { user: 'alice', action: 'write' }, b: { user: 'bob', action: 'write' }, c: { user: 'bob', action: 'read' } },
    });

    expect(result).toEqual({ value: { a: true, b: false, c: true } });
  });

  test('WHEN evaluateBatch has items that fail THEN the others still answer and the failures carry the server error', async () => {
    const [result] = await ask({ op: 'evaluateBatch', path: 'app/authz/fail', inputs: { ok: {}, bad: { fail: true } } });

    const value = result.value as Record<string, unknown>;
    expect(result.error).toBeUndefined();
    expect(value.ok).toBeUndefined();
    expect(value.bad).toMatchObject({ code: 'internal_error', httpStatusCode: '500', message: expect.stringContaining('conflict') });
  });

  test('WHEN it calls evaluate on a policy that fails THEN the SDK raises the server error', async () => {
    const [result] = await ask({ op: 'evaluate', path: 'app/authz/fail', input: { fail: true } });

    expect(result.error).toMatchObject({ name: 'ServerError', message: 'evaluation of app/authz/fail failed: authz.rego:14:1: var assignment conflict' });
  });

  test('WHEN it posts a YAML body THEN the extension reads it as OPA does, with the YAML reader the layer loads on first use', async () => {
    const [result] = await ask({ op: 'post', path: '/v1/data/app/authz/allow', headers: { 'content-type': 'application/x-yaml' }, body: 'input:\n  user: bob\n  action: read\n' });

    expect(result).toEqual({ value: { status: 200, body: { result: true } } });
  });

  test('WHEN it calls the health API, with and without the bundles check THEN the extension is healthy', async () => {
    const results = await ask({ op: 'health' }, { op: 'health', bundles: true }, { op: 'health', bundles: true, plugins: true });

    expect(results).toEqual([
      { value: { status: 200, body: {} } },
      { value: { status: 200, body: {} } },
      { value: { status: 200, body: {} } },
    ]);
  });
});
