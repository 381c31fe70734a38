/**
 * A Python function with the OPA layer under the emulator: its runtime has no node, so the function
 * also carries the Node.js layer, and the launcher runs the extension on that binary. The handler
 * is run by AWS's own Python runtime interface client (`awslambdaric`), with no `node` on the PATH
 * of any process: a launcher that fell back to PATH's node could not start (the control test shows
 * it), and the extension's process is checked to be the layer's binary.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { buildRbacBundle } from './fixtures/rbac-bundle';
import { NODE_RUNTIME } from '../../src/layer-contract';
import { freePort, mergeLayers, pathWithoutNode, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';
import { RecordingServer } from '../support/recording-server';
import { assertInstalled, PYTHON_RIC } from '../support/rie';

/** The Python handler of the RIE tests: a decision at init (module scope) and one per invoke. */
const HANDLER = path.join(__dirname, '..', 'rie', 'fixtures', 'decide.py');
const CASES = [
  { input: { user: 'alice', action: 'write' }, allowed: true },
  { input: { user: 'bob', action: 'read' }, allowed: true },
  { input: { user: 'bob', action: 'write' }, allowed: false },
  { input: { user: 'eve', action: 'read' }, allowed: false },
];
/** Lambda's Shutdown window with external extensions. */
const SHUTDOWN_WINDOW_MS = 2000;

let logs: RecordingServer;
let layer: SynthesizedLayer;
let opt: { dir: string; dispose(): void };
let noNode: { path: string; dispose(): void };
let bundleFile: { file: string; dispose(): void };
let emulator: LambdaEmulator | undefined;

beforeAll(async () => {
  logs = new RecordingServer();
  await logs.listen();
  bundleFile = writeTempBundle(await buildRbacBundle(['app/rbac/allow']), 'authz.tar.gz');
  const props = { bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort(), decisionLogs: { url: logs.url } };
  layer = synthesizeLayer(props, lambda.Runtime.PYTHON_3_13);
  opt = mergeLayers(layer.layerDirs);
  noNode = pathWithoutNode();
}, 120_000);

afterAll(async () => {
  opt?.dispose();
  noNode?.dispose();
  layer?.dispose();
  bundleFile?.dispose();
  await logs?.close();
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  logs.requests.length = 0;
});

function emulate(layerDir: string): LambdaEmulator {
  assertInstalled(PYTHON_RIC, 'npx projen rie:install');
  emulator = new LambdaEmulator({
    layerDir,
    handler: { file: HANDLER },
    runtimeCommand: [PYTHON_RIC, '-m', 'awslambdaric', 'decide.handler'],
    environment: { ...layer.environment, PATH: noNode.path },
    timeout: 10_000,
    initTimeout: 30_000,
  });
  return emulator;
}

/** The ids of the processes whose executable is `file`. */
function processesRunning(file: string): number[] {
  const real = fs.realpathSync(file);
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`) === real;
    } catch {
      return false;
    }
  }).map(Number);
}

test('GIVEN the synthesized Python function THEN it carries two layers, the OPA layer and the Node.js layer with the binary', () => {
  expect(layer.layerDirs).toHaveLength(2);
  expect(fs.existsSync(path.join(layer.layerDirs[1], NODE_RUNTIME.DIR, NODE_RUNTIME.BINARY))).toBe(true);
  // The PATH the function's processes get has no node.
  expect(spawnSync('sh', ['-c', 'command -v node'], { env: { PATH: noNode.path } }).status).not.toBe(0);
});

test('GIVEN both layers and no node on PATH WHEN a Python handler asks a decision at init and on each invoke, then the environment shuts down THEN every decision is right, the extension ran on the layer\'s Node.js, and it flushed its logs and exited within the deadline', async () => {
  const emu = emulate(opt.dir);

  const init = await emu.start();
  expect(init).toMatchObject({ ok: true });
  const binary = path.join(layer.layerDirs[1], NODE_RUNTIME.DIR, NODE_RUNTIME.BINARY);
  expect(processesRunning(binary)).toHaveLength(1);

  const results = [];
  for (let i = 0; i < 8; i++) results.push(await emu.invoke({ input: CASES[i % CASES.length].input }));
  const shutdown = await emu.shutdown();

  // The decision asked by the init code, after the extension had registered.
  expect(results[0].result).toMatchObject({ atInit: { status: 200, body: { result: true } } });
  results.forEach((res, i) => {
    expect({ i, error: res.error, decision: (res.result as { decision?: unknown }).decision })
      .toEqual({ i, error: undefined, decision: { status: 200, body: expect.objectContaining({ result: CASES[i % CASES.length].allowed }) } });
  });
  // The lifecycle is the Node.js one: register before the runtime starts, INVOKEs, SHUTDOWN in time.
  const order = emu.events.filter((e) => e.source === 'opa' || e.source === 'runtime').map((e) => `${e.source}:${e.type}`);
  expect(order.indexOf('opa:register')).toBeLessThan(order.indexOf('runtime:spawn'));
  expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'opa', exitCode: 0, killed: false })]);
  expect(shutdown.extensions[0].durationMs).toBeLessThan(SHUTDOWN_WINDOW_MS);
  expect(emu.jsonLines('opa').map((l) => l.msg)).toContain('plugins stopped');
  // Every decision, the init one included, reached the log service.
  expect(logs.events()).toHaveLength(results.length + 1);
});

test('GIVEN only the OPA layer (no Node.js layer) and no node on PATH WHEN the environment starts THEN the extension cannot start: the test above could not pass on PATH\'s node', async () => {
  const emu = emulate(layer.layerDirs[0]);

  const init = await emu.start();

  expect(init).toMatchObject({ ok: false, errorType: 'Extension.Crash', source: 'opa' });
  expect(emu.output.filter((l) => l.source === 'opa').map((l) => l.line).join('\n')).toMatch(/node: not found/);
});
