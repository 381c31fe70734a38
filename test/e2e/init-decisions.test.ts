/**
 * The promise the extension keeps to the function's init: Lambda starts the function's runtime as
 * soon as every extension has registered, and the extension registers before its policies are
 * loaded, so a decision asked at module scope may arrive before them. It must then wait for them
 * and be answered correctly: never a refused connection, never an early `undefined`. An init that
 * fails still reports its `Extension.*` error; and an INVOKE is not held up by the extension.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { buildRbacBundle } from './fixtures/rbac-bundle';
import { freePort, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'init-decision-handler.js') };
/** About 6 MB of data.json: parsing it into the Wasm heap keeps the policies loading for a while after /register. */
const FILLER = { filler: Array.from({ length: 60_000 }, (_, i) => ({ id: `item-${i}`, tags: ['a', 'b', 'c'], n: i })) };

let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };
let emulator: LambdaEmulator | undefined;

beforeAll(async () => {
  const archive = await buildRbacBundle(['app/rbac/allow'], 'rev-slow', FILLER);
  bundleFile = writeTempBundle(archive, 'authz.tar.gz');
  layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort() });
}, 120_000);

afterAll(() => {
  layer?.dispose();
  bundleFile?.dispose();
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function emulate(layerDir = layer.layerDir): LambdaEmulator {
  emulator = new LambdaEmulator({ layerDir, handler: HANDLER, environment: layer.environment, initTimeout: 60_000 });
  return emulator;
}

/** Epoch ms of the extension's first log line with `msg`. */
function loggedAt(emu: LambdaEmulator, msg: string): number {
  const line = emu.jsonLines('opa').find((l) => l.msg === msg);
  expect(line).toBeDefined();
  return Date.parse(String(line!.time));
}

describe('GIVEN a layer whose embedded bundle takes a while to load', () => {
  test('WHEN the function asks a decision at module scope, before the policies are active THEN it waits and gets the right answer', async () => {
    const emu = emulate();

    const init = await emu.start();

    expect(init).toMatchObject({ ok: true });
    const res = await emu.invoke({});
    expect(res.error).toBeUndefined();
    const { askedAt, answer } = res.result as { askedAt: number; answer: unknown };
    expect(answer).toEqual({ status: 200, body: { result: true } });
    // The question really came before the policies: it was asked after /register and before
    // the extension had activated the bundle.
    expect(askedAt).toBeGreaterThanOrEqual(loggedAt(emu, 'extension registered'));
    expect(askedAt).toBeLessThan(loggedAt(emu, 'bundle activated'));
    const order = emu.events.filter((e) => e.source === 'opa' || e.source === 'runtime').map((e) => `${e.source}:${e.type}`);
    expect(order.indexOf('opa:register')).toBeLessThan(order.indexOf('runtime:spawn'));
    // The fast start: registered before the rest of the extension was loaded (which then logs that it listens).
    const messages = emu.jsonLines('opa').map((l) => l.msg);
    expect(messages.indexOf('extension registered')).toBeLessThan(messages.indexOf('server listening'));
  }, 90_000);

  test('WHEN the function answers its first INVOKE slowly THEN the extension is back in /event/next before it: nothing it could defer holds the INVOKE up', async () => {
    const emu = emulate();
    await emu.start();

    const first = await emu.invoke({ sleepMs: 300 });

    expect(first.error).toBeUndefined();
    // 0: the extension was waiting for the next event before the handler answered.
    expect(first.extensionOverheadMs).toBe(0);
  }, 90_000);
});

describe('GIVEN a layer whose second embedded bundle cannot be activated beside the first', () => {
  test('WHEN the function asks a decision at init THEN it gets an error, never an undefined decision, and init fails with Extension.BundleActivationFailed', async () => {
    // A second copy of the bundle claims the same roots: it fails only once the first, slow one is active.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-overlap-'));
    fs.cpSync(layer.layerDir, dir, { recursive: true });
    const bundles = path.join(dir, 'opa-extension', 'bundles');
    fs.copyFileSync(path.join(bundles, 'authz.tar'), path.join(bundles, 'zz.tar'));
    try {
      const emu = emulate(dir);

      const init = await emu.start();

      expect(init).toMatchObject({ ok: false, errorType: 'Extension.BundleActivationFailed' });
      expect(emu.events.find((e) => e.type === 'init-error')).toMatchObject({ source: 'opa', errorType: 'Extension.BundleActivationFailed' });
      // The function's question, if the server took it before the failure, was answered with the
      // failure; if init failed first, the connection was refused. Never a 200 without a decision.
      const failed = emu.jsonLines('opa').filter((l) => l.msg === 'request failed');
      for (const f of failed) {
        expect(f).toMatchObject({ path: '/v1/data/app/rbac/allow', status: 500, code: 'internal_error' });
        expect(String(f.message)).toMatch(/failed to initialise/);
      }
      const answered = emu.jsonLines('runtime').filter((l) => l.msg === 'decision at init').map((l) => l.answer as { status?: number });
      for (const answer of answered) expect(answer.status).not.toBe(200);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('GIVEN a layer whose configuration is YAML (read by the full runtime, so the extension listens and registers in the usual order)', () => {
  test('WHEN the function asks a decision at module scope THEN it gets the right answer as well', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-yaml-'));
    fs.cpSync(layer.layerDir, dir, { recursive: true });
    type Config = { plugins: { lambda_extension: { port: number } } };
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'opa-extension', 'config.json'), 'utf8')) as Config;
    const yaml = path.join(dir, 'opa-extension', 'config.yaml');
    fs.writeFileSync(yaml, `plugins:\n  lambda_extension:\n    port: ${json.plugins.lambda_extension.port}\n`);
    try {
      const environment = { ...layer.environment, OPA_CONFIG_FILE: yaml };
      emulator = new LambdaEmulator({ layerDir: dir, handler: HANDLER, environment, initTimeout: 60_000 });

      const init = await emulator.start();

      expect(init).toMatchObject({ ok: true });
      const res = await emulator.invoke({});
      expect((res.result as { answer: unknown }).answer).toEqual({ status: 200, body: { result: true } });
      const messages = emulator.jsonLines('opa').map((l) => l.msg);
      expect(messages.indexOf('server listening')).toBeLessThan(messages.indexOf('extension registered'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
