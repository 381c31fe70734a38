/**
 * The bundle sources built at synth, end to end: a layer embedding Rego compiled by
 * `OpaBundle.fromRego` and a bundle directory packed by `OpaBundle.fromAsset`, synthesized as a
 * user's app would be and run under the local Lambda emulator, answering decisions from both.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { unpack } from '../support/authz-bundles';
import { freePort, synthesizeLayer, SynthesizedLayer } from '../support/layer';
import { buildWasmBundle, OPA_BIN, readPolicy } from '../support/opa';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'decision-handler.js') };
const BILLING_REGO = 'package app.billing\n\ndefault allow := false\n\nallow if input.amount <= data.app.billing.limits[input.user]\n';

let workDir: string;
let layer: SynthesizedLayer;
let emulator: LambdaEmulator | undefined;

function write(file: string, content: string | Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-sources-'));
  // Rego sources with their data split in nested files and roots of their own.
  const rego = path.join(workDir, 'rbac');
  const rbacData = JSON.parse(readPolicy('rbac-data.json')).app.rbac;
  write(path.join(rego, 'rbac.rego'), readPolicy('rbac.rego'));
  write(path.join(rego, 'app', 'rbac', 'bindings', 'data.yaml'), 'alice: [admin]\nbob: [reader]\n');
  write(path.join(rego, 'app', 'rbac', 'grants', 'data.json'), JSON.stringify(rbacData.grants));
  write(path.join(rego, '.manifest'), JSON.stringify({ roots: ['app/rbac'] }));
  // A bundle directory: the compiled policy and its manifest, with data as a nested data.yaml.
  const compiled = await unpack(await buildWasmBundle({
    modules: { 'billing.rego': BILLING_REGO }, entrypoints: ['app/billing/allow'], manifest: { roots: ['app/billing'] },
  }));
  const dir = path.join(workDir, 'billing');
  write(path.join(dir, 'policy.wasm'), compiled['policy.wasm']);
  write(path.join(dir, '.manifest'), compiled['.manifest']);
  write(path.join(dir, 'app', 'billing', 'limits', 'data.yaml'), 'alice: 100\n');

  layer = synthesizeLayer({
    bundles: [OpaBundle.fromRego(rego, { entrypoints: ['app/rbac/allow'], opaBinary: OPA_BIN }), OpaBundle.fromAsset(dir)],
    queries: ['app/rbac/allow', 'app/billing/allow'],
    port: await freePort(),
  });
});

afterAll(() => {
  layer?.dispose();
  fs.rmSync(workDir, { recursive: true, force: true });
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

test('GIVEN a layer with a Rego bundle and a directory bundle WHEN the function asks THEN both answer from their own data', async () => {
  emulator = new LambdaEmulator({ layerDir: layer.layerDir, handler: HANDLER, environment: layer.environment });
  expect(await emulator.start()).toMatchObject({ ok: true });

  const decisions = [
    await emulator.invoke({ path: 'app/rbac/allow', input: { user: 'alice', action: 'write', type: 'document' } }),
    await emulator.invoke({ path: 'app/rbac/allow', input: { user: 'bob', action: 'write', type: 'document' } }),
    await emulator.invoke({ path: 'app/billing/allow', input: { user: 'alice', amount: 80 } }),
    await emulator.invoke({ path: 'app/billing/allow', input: { user: 'alice', amount: 120 } }),
  ];

  expect(decisions.map((d) => d.result)).toEqual([true, false, true, false].map((result) => ({ status: 200, body: { result } })));
  expect(fs.readdirSync(path.join(layer.layerDir, 'opa-extension', 'bundles')).sort()).toEqual(['billing.tar', 'rbac.tar']);
});
