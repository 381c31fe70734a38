/**
 * What the built layer loads before it is ready, observed in the extension's own process (a probe
 * preloaded with NODE_OPTIONS): every builtin module loaded before the first `/event/next` is on
 * every cold start's path, so the modules that an embedded-bundle start does not use must load on
 * first use; and the builtins it does load must come from Node's code cache, which the launcher's
 * `--stack-size` would otherwise turn off (runtime/src/v8-flags.ts). No timings here: the bench
 * measures them.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { buildRbacBundle } from './fixtures/rbac-bundle';
import { LambdaNode, lambdaNodes } from '../support/lambda-nodes';
import { freePort, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';

const PROBE = path.join(__dirname, 'fixtures', 'builtins-probe.js');
const HANDLER = { file: path.join(__dirname, 'fixtures', 'decision-handler.js') };
/** The `--stack-size=N` flag the launcher gives node. */
const LAUNCH_STACK_FLAG = /--stack-size=\d+/.exec(fs.readFileSync(path.join(__dirname, '..', '..', 'runtime', 'launcher', 'opa'), 'utf8'))![0];

/**
 * Builtins (and the modules they bring) that nothing before the first `/event/next` of an
 * embedded-bundle start needs: remote bundles (https, tls), signing and ids (crypto), and timing and
 * pacing helpers (perf_hooks, timers/promises).
 */
const NOT_BEFORE_FIRST_EVENT_NEXT = ['crypto', 'https', 'tls', 'perf_hooks', 'timers/promises'];

interface ProbeRecord {
  readonly atFirstEventNext?: string[];
  readonly lazyAtFirstEventNext?: string[];
  readonly tagAtNet?: number;
  readonly nodeVersion?: string;
}

let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };
let scratch: string;
let emulator: LambdaEmulator | undefined;

beforeAll(async () => {
  bundleFile = writeTempBundle(await buildRbacBundle(['app/rbac/allow']), 'authz.tar.gz');
  layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort() });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-probe-'));
}, 120_000);

afterAll(() => {
  layer?.dispose();
  bundleFile?.dispose();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** Runs the layer through init and shutdown on `node`, with the probe preloaded; returns what it recorded. */
async function probedStart(node: LambdaNode): Promise<ProbeRecord> {
  const file = path.join(scratch, 'probe.json');
  emulator = new LambdaEmulator({
    layerDir: layer.layerDir,
    handler: HANDLER,
    environment: { ...layer.environment, PATH: node.path, NODE_OPTIONS: `--require ${PROBE}`, OPA_TEST_PROBE_FILE: file },
  });
  const init = await emulator.start();
  expect(init).toMatchObject({ ok: true });
  await emulator.shutdown();
  return JSON.parse(fs.readFileSync(file, 'utf8')) as ProbeRecord;
}

// On each major of Lambda's Node.js runtimes: the launcher runs the extension on the runtime's node.
describe.each(lambdaNodes())('GIVEN a layer with an embedded bundle and nothing else configured, on $name', (node) => {
  test('WHEN the extension starts THEN by its first /event/next it has loaded what serving needs and none of the builtins or packages only other configurations use', async () => {
    const { atFirstEventNext, lazyAtFirstEventNext } = await probedStart(node);

    expect(atFirstEventNext).toBeDefined();
    // What the start does need: the probe looked at the right moment.
    expect(atFirstEventNext).toEqual(expect.arrayContaining(['http', 'zlib']));
    expect(atFirstEventNext!.filter((m) => NOT_BEFORE_FIRST_EVENT_NEXT.includes(m))).toEqual([]);
    // YAML, jose and the SigV4 signer sit in files of their own, loaded on first use.
    expect(lazyAtFirstEventNext).toEqual([]);
  }, 90_000);

  test('WHEN the launcher starts node with a larger --stack-size THEN the program has set the V8 flags back to a plain node\'s before it loads node:net (the builtins come from the code cache)', async () => {
    // `node` as the launcher finds it on the PATH the emulator gives the extension.
    const plain = Number(execFileSync(node.node, ['-p', 'require("node:v8").cachedDataVersionTag()'], { encoding: 'utf8' }).trim());
    const flagged = Number(execFileSync(node.node, [LAUNCH_STACK_FLAG, '-p', 'require("node:v8").cachedDataVersionTag()'], { encoding: 'utf8' }).trim());
    expect(flagged).not.toBe(plain);

    const { tagAtNet, nodeVersion } = await probedStart(node);

    expect(nodeVersion).toBe(execFileSync(node.node, ['-p', 'process.version'], { encoding: 'utf8' }).trim());
    expect(tagAtNet).toBe(plain);
  }, 90_000);
});
