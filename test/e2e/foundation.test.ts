/**
 * The built layer, as synthesized by the construct, run under the local Lambda emulator: the
 * extension is a real child process spawned from `extensions/opa`, decisions travel over real
 * HTTP, and the Extensions API lifecycle is played at it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { buildRbacBundle } from './fixtures/rbac-bundle';
import { freePort, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'decision-handler.js') };


let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };
let emulator: LambdaEmulator | undefined;

beforeAll(async () => {
  const archive = await buildRbacBundle(['app/rbac/allow', 'app/rbac']);
  bundleFile = writeTempBundle(archive, 'authz.tar.gz');
  layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort() });
});

afterAll(() => {
  layer?.dispose();
  bundleFile?.dispose();
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

function emulate(layerDir = layer.layerDir): LambdaEmulator {
  emulator = new LambdaEmulator({ layerDir, handler: HANDLER, environment: layer.environment });
  return emulator;
}

/** A copy of the synthesized layer with one file replaced, for failures the construct would refuse. */
function alteredLayer(relative: string, contents: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-altered-'));
  fs.cpSync(layer.layerDir, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, relative), contents);
  return dir;
}

describe('GIVEN the layer with an embedded RBAC bundle', () => {
  test('WHEN the environment initialises THEN the extension registers, answers during the function init, and is ready before the first event', async () => {
    const emu = emulate();

    const init = await emu.start();

    expect(init).toMatchObject({ ok: true });
    const types = emu.events.filter((e) => e.source === 'opa' || e.source === 'runtime').map((e) => `${e.source}:${e.type}`);
    expect(types.indexOf('opa:register')).toBeLessThan(types.indexOf('runtime:spawn'));
    expect(types).toContain('opa:next');
    // The function's init asked /health while the extension was between register and /event/next.
    expect((await emu.invoke({ via: 'health-at-init' })).result).toEqual({ status: 200 });
  });

  test.each([
    ['alice may write', { user: 'alice', action: 'write' }, true],
    ['bob may read', { user: 'bob', action: 'read' }, true],
    ['bob may not write', { user: 'bob', action: 'write' }, false],
    ['an unknown user may not read', { user: 'eve', action: 'read' }, false],
  ])('WHEN the function asks over HTTP whether %s THEN the decision follows input and data', async (_, input, allowed) => {
    const emu = emulate();
    await emu.start();

    const res = await emu.invoke({ path: 'app/rbac/allow', input });

    expect(res.error).toBeUndefined();
    expect(res.result).toEqual({ status: 200, body: { result: allowed } });
  });

  test('WHEN the bundle is embedded as a .tar.gz (one that inflates past what the construct inflates at synth) THEN init activates it all the same', async () => {
    const bundles = path.join(layer.layerDir, 'opa-extension', 'bundles');
    expect(fs.readdirSync(bundles)).toEqual(['authz.tar']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-gzipped-'));
    try {
      fs.cpSync(layer.layerDir, dir, { recursive: true });
      fs.rmSync(path.join(dir, 'opa-extension', 'bundles', 'authz.tar'));
      fs.copyFileSync(bundleFile.file, path.join(dir, 'opa-extension', 'bundles', 'authz.tar.gz'));
      const emu = emulate(dir);

      expect(await emu.start()).toMatchObject({ ok: true });

      expect((await emu.invoke({ path: 'app/rbac/allow', input: { user: 'alice', action: 'write' } })).result).toEqual({ status: 200, body: { result: true } });
      expect(emu.jsonLines('opa').find((l) => l.msg === 'bundle activated')).toMatchObject({ name: 'authz', source: 'embedded' });
    } finally {
      await emulator?.close();
      emulator = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('WHEN the function asks through the official OPA SDK THEN it gets the same decisions', async () => {
    const emu = emulate();
    await emu.start();

    const allowed = await emu.invoke({ via: 'sdk', path: 'app/rbac/allow', input: { user: 'alice', action: 'write' } });
    const denied = await emu.invoke({ via: 'sdk', path: 'app/rbac/allow', input: { user: 'bob', action: 'write' } });
    const document = await emu.invoke({ via: 'sdk', path: 'app/rbac', input: { user: 'bob', action: 'read' } });

    expect(allowed.result).toEqual({ result: true });
    expect(denied.result).toEqual({ result: false });
    expect(document.result).toEqual({ result: { allow: true } });
  });

  test('WHEN Lambda sends SHUTDOWN THEN the extension exits 0 before the deadline and its log tells the lifecycle', async () => {
    const emu = emulate();
    await emu.start();
    await emu.invoke({ path: 'app/rbac/allow', input: { user: 'alice', action: 'read' } });

    const shutdown = await emu.shutdown();

    expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'opa', exitCode: 0, killed: false })]);
    const messages = emu.jsonLines('opa').map((l) => l.msg);
    expect(messages).toEqual(expect.arrayContaining(['bundle activated', 'server listening', 'extension registered', 'invoke', 'shutdown', 'plugins stopped']));
    const activated = emu.jsonLines('opa').find((l) => l.msg === 'bundle activated');
    expect(activated).toMatchObject({ level: 'info', name: 'authz', revision: 'rev-1' });
  });
});

describe('GIVEN a layer that cannot start', () => {
  test.each([
    ['a corrupt bundle', 'opa-extension/bundles/authz.tar', 'this is not a tar archive', 'Extension.BundleActivationFailed', /bundle authz: bundle is not a tar archive/, 'BundleError'],
    ['a bundle embedded twice', 'opa-extension/bundles/authz.tar.gz', 'a second authz', 'Extension.BundleActivationFailed', /bundle authz: embedded twice, as authz.tar and authz.tar.gz/, 'BundleError'],
    ['an invalid config', 'opa-extension/config.json', JSON.stringify({ plugins: { lambda_extension: { trigger_timeout: '7s' } } }), 'Extension.ConfigInvalid', /trigger_timeout/, 'ConfigError'],
    ['config that is not JSON', 'opa-extension/config.json', '{ "plugins": ', 'Extension.ConfigInvalid', /not valid JSON/, 'ConfigError'],
  ])('WHEN the layer holds %s THEN the extension reports an init error of the right type, logs the error by its name, and exits non-zero', async (_, file, contents, errorType, message, errorName) => {
    const dir = alteredLayer(file, contents);
    try {
      const emu = emulate(dir);

      const init = await emu.start();

      expect(init).toMatchObject({ ok: false, errorType });
      const initError = emu.events.find((e) => e.type === 'init-error');
      expect(initError).toMatchObject({ source: 'opa', errorType });
      expect(String(initError?.errorMessage)).toMatch(message);
      // The runtime is minified without keeping function names: the error's class names itself.
      expect(emu.jsonLines('opa').find((l) => l.msg === 'extension init failed')).toMatchObject({ errorType, error: { name: errorName } });
      const exit = emu.events.find((e) => e.type === 'exit' && e.source === 'opa');
      expect(exit?.exitCode).not.toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
