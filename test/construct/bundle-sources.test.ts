/**
 * The embedded sources built at synth: `OpaBundle.fromAsset(directory)` packed deterministically,
 * and `OpaBundle.fromRego(directory)` compiled by the pinned OPA. Each layer is synthesized as a
 * user's app would be, and the archive in the layer is read back with the extension's own reader.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { readTarBundle } from '../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../runtime/src/engine/policy-engine';
import { OpaBundle, OpaExtensionLayer, OpaExtensionLayerProps } from '../../src';
import { unpack } from '../support/authz-bundles';
import { synthesizeLayer } from '../support/layer';
import { buildWasmBundle, OPA_BIN, readPolicy } from '../support/opa';

const RBAC_DATA = JSON.parse(readPolicy('rbac-data.json')).app.rbac;
const cleanups: Array<() => void> = [];
let rbacWasm: Buffer;
let rbacManifest: Buffer;

beforeAll(async () => {
  const files = await unpack(await buildWasmBundle({ modules: { 'rbac.rego': readPolicy('rbac.rego') }, entrypoints: ['app/rbac/allow', 'app/rbac/reasons'] }));
  rbacWasm = files['policy.wasm'];
  rbacManifest = files['.manifest'];
});

afterAll(() => cleanups.forEach((c) => c()));

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-sources-test-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (relative paths, `/` for folders) under a new folder `name` in a fresh temp dir. */
function writeTree(files: Record<string, string | Buffer>, name = 'authz'): string {
  const dir = path.join(tempDir(), name);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The RBAC policy as a bundle directory, with its data split into nested data files. */
function rbacDirectory(name = 'authz'): string {
  return writeTree({
    'policy.wasm': rbacWasm,
    '.manifest': rbacManifest,
    'app/rbac/bindings/data.yaml': 'alice: [admin]\nbob: [reader]\n',
    'app/rbac/grants/data.json': JSON.stringify(RBAC_DATA.grants),
    'README.md': 'not part of the bundle',
  }, name);
}

/** Synthesizes the layer on a function; returns the asset hash and the embedded archive named `name` (a small bundle is embedded as a plain tar). */
function synth(props: OpaExtensionLayerProps, name = 'authz'): { hash: string; archive: Buffer } {
  const layer = synthesizeLayer(props);
  cleanups.push(layer.dispose);
  return {
    hash: path.basename(layer.layerDir),
    archive: fs.readFileSync(path.join(layer.layerDir, 'opa-extension', 'bundles', `${name}.tar`)),
  };
}

function newLayer(props: OpaExtensionLayerProps): OpaExtensionLayer {
  return new OpaExtensionLayer(new Stack(new App(), 'Stack'), 'Opa', props);
}

/** Sets every file's and folder's times under `dir` to `date`. */
function touchAll(dir: string, date: Date): void {
  for (const entry of fs.readdirSync(dir, { recursive: true }) as string[]) fs.utimesSync(path.join(dir, entry), date, date);
  fs.utimesSync(dir, date, date);
}

/** Runs `fn` with PATH set to `value`, restoring it afterwards (spawnSync reads the process's PATH). */
function withPath<T>(value: string, fn: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = value;
  try {
    return fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('OpaBundle.fromAsset(directory)', () => {
  test('GIVEN a bundle directory with nested data files THEN the layer embeds it under the directory\'s name, and the extension\'s engine mounts each data file at its folder', async () => {
    const { archive } = synth({ bundle: OpaBundle.fromAsset(rbacDirectory()) });

    const files = await unpack(archive);
    expect(Object.keys(files)).toEqual(['.manifest', 'app/rbac/bindings/data.yaml', 'app/rbac/grants/data.json', 'policy.wasm']);
    expect(files['policy.wasm'].equals(rbacWasm)).toBe(true);
    const bundle = await readTarBundle('authz', archive);
    expect(bundle.data).toEqual({ app: { rbac: { bindings: { alice: ['admin'], bob: ['reader'] }, grants: RBAC_DATA.grants } } });
    const engine = new PolicyEngine();
    engine.activate(bundle);
    expect(engine.evaluate('app/rbac/allow', { user: 'alice', action: 'write', type: 'document' })).toEqual({ result: true });
    expect(engine.evaluate('app/rbac/allow', { user: 'bob', action: 'write', type: 'document' })).toEqual({ result: false });
  });

  test('GIVEN the same contents in two folders with other times and modes THEN the archives and the layer asset hashes are identical', () => {
    const first = rbacDirectory();
    const second = rbacDirectory();
    touchAll(first, new Date('2020-01-01T00:00:00Z'));
    touchAll(second, new Date('2025-06-30T12:34:56Z'));
    fs.chmodSync(path.join(second, 'policy.wasm'), 0o600);

    const a = synth({ bundle: OpaBundle.fromAsset(first) });
    const b = synth({ bundle: OpaBundle.fromAsset(second) });

    expect(b.archive.equals(a.archive)).toBe(true);
    expect(b.hash).toBe(a.hash);
  });

  test('GIVEN one data file changed THEN the layer asset hash changes', () => {
    const dir = rbacDirectory();
    const before = synth({ bundle: OpaBundle.fromAsset(dir) });

    fs.writeFileSync(path.join(dir, 'app/rbac/bindings/data.yaml'), 'alice: [admin]\nbob: [admin]\n');
    const after = synth({ bundle: OpaBundle.fromAsset(dir) });

    expect(after.hash).not.toBe(before.hash);
  });

  test('GIVEN a symbolic link to a file inside the directory THEN its contents are packed under the link\'s path', async () => {
    const dir = rbacDirectory();
    fs.mkdirSync(path.join(dir, 'shared'));
    fs.renameSync(path.join(dir, 'app/rbac/grants/data.json'), path.join(dir, 'shared', 'grants.json'));
    fs.symlinkSync(path.join('..', '..', '..', 'shared', 'grants.json'), path.join(dir, 'app/rbac/grants/data.json'));

    const files = await unpack(synth({ bundle: OpaBundle.fromAsset(dir) }).archive);

    expect(JSON.parse(files['app/rbac/grants/data.json'].toString())).toEqual(RBAC_DATA.grants);
  });

  test.each([
    ['an empty directory', () => writeTree({}), 'holds no policy.wasm, data.json, data.yaml or .manifest'],
    ['Rego sources only', () => writeTree({ 'authz.rego': 'package authz\n' }),
      'holds no policy.wasm, data.json, data.yaml or .manifest; it holds Rego sources: compile them at synth with OpaBundle.fromRego(directory, { entrypoints })'],
    ['a compiled policy under another name', () => writeTree({ 'authz.wasm': 'x' }), 'a compiled policy must be named policy.wasm (found authz.wasm)'],
    ['a .manifest below the root', () => writeTree({ 'policy.wasm': 'x', 'app/.manifest': '{}' }), 'app/.manifest: .manifest is only read at the root of a bundle; move it there'],
    ['data and no policy', () => writeTree({ 'data.json': '{"a":1}' }), 'bundle (bundle "authz"): holds no Wasm module (policy.wasm)'],
  ])('GIVEN %s THEN synth fails naming the layer, the prop and the problem', (_, make, message) => {
    const dir = make();
    expect(() => newLayer({ bundle: OpaBundle.fromAsset(dir) })).toThrow(message);
    expect(() => newLayer({ bundle: OpaBundle.fromAsset(dir) })).toThrow(/^Stack\/Opa: bundle/);
  });

  test('GIVEN a symbolic link to a file outside the directory THEN synth fails naming the link and its target', () => {
    const dir = rbacDirectory();
    const outside = path.join(tempDir(), 'secret.json');
    fs.writeFileSync(outside, '{"password":"hunter2"}');
    fs.symlinkSync(outside, path.join(dir, 'data.json'));

    expect(() => newLayer({ bundles: [OpaBundle.fromAsset(dir)] }))
      .toThrow(`Stack/Opa: bundles[0]: OpaBundle.fromAsset(${JSON.stringify(dir)}): data.json is a symbolic link to ${fs.realpathSync(outside)}, outside the bundle directory`);
  });

  test('GIVEN a symbolic link to a directory THEN synth fails naming the link', () => {
    const dir = rbacDirectory();
    fs.symlinkSync(path.join(dir, 'app'), path.join(dir, 'more'));

    expect(() => newLayer({ bundle: OpaBundle.fromAsset(dir) })).toThrow('more is a symbolic link to a directory');
  });
});

describe('OpaBundle.fromRego', () => {
  const rbacSources = (): string => writeTree({ 'rbac.rego': readPolicy('rbac.rego'), 'data.json': readPolicy('rbac-data.json') }, 'rbac');

  test('GIVEN Rego sources and opaBinary THEN the layer embeds a Wasm bundle with those entrypoints, and the source tree is left as it was', async () => {
    const dir = rbacSources();
    const before = fs.readdirSync(dir, { recursive: true });

    const { archive } = synth({ bundle: OpaBundle.fromRego(dir, { entrypoints: ['app/rbac/allow'], opaBinary: OPA_BIN, revision: 'r42' }) }, 'rbac');

    const bundle = await readTarBundle('rbac', archive);
    expect(bundle.manifest).toMatchObject({ revision: 'r42', wasm: [{ entrypoint: 'app/rbac/allow', module: '/policy.wasm' }] });
    const engine = new PolicyEngine();
    engine.activate(bundle);
    expect(engine.evaluate('app/rbac/allow', { user: 'alice', action: 'write', type: 'document' })).toEqual({ result: true });
    expect(fs.readdirSync(dir, { recursive: true })).toEqual(before);
  });

  test('GIVEN no opaBinary THEN the opa found on PATH compiles it, and the same sources elsewhere with other times give the same asset hash', () => {
    const first = rbacSources();
    const second = rbacSources();
    touchAll(second, new Date('2021-03-04T05:06:07Z'));
    const props = (dir: string): OpaExtensionLayerProps => ({ bundle: OpaBundle.fromRego(dir, { entrypoints: ['app/rbac/allow'], name: 'rbac' }) });

    const [a, b] = withPath(`${path.dirname(OPA_BIN)}${path.delimiter}${process.env.PATH}`, () => [synth(props(first), 'rbac'), synth(props(second), 'rbac')]);

    expect(b.archive.equals(a.archive)).toBe(true);
    expect(b.hash).toBe(a.hash);
  });

  test('GIVEN Rego that does not compile THEN synth fails with opa\'s exit status and its message', () => {
    const dir = writeTree({ 'broken.rego': 'package broken\n\nallow if {\n' });

    expect(() => newLayer({ bundle: OpaBundle.fromRego(dir, { entrypoints: ['broken/allow'], opaBinary: OPA_BIN }) }))
      .toThrow(/^Stack\/Opa: bundle: OpaBundle\.fromRego\(".*"\): `opa build -t wasm -e broken\/allow -o .* -b \.` failed \(exit 1\): .*broken\.rego:\d+: rego_parse_error/s);
  });

  test('GIVEN no opa on PATH and no opaBinary THEN synth fails saying how to install OPA', () => {
    const dir = rbacSources();
    const emptyPath = tempDir();

    expect(() => withPath(emptyPath, () => newLayer({ bundle: OpaBundle.fromRego(dir, { entrypoints: ['app/rbac/allow'] }) })))
      .toThrow(/compiling Rego at synth needs the OPA CLI, and there is no `opa` on PATH.*https:\/\/github\.com\/open-policy-agent\/opa\/releases.*`go install github\.com\/open-policy-agent\/opa@v1\.\d+\.\d+`.*opaBinary/s);
  });

  test.each([
    ['an opaBinary that does not exist', { entrypoints: ['app/rbac/allow'], opaBinary: '/nonexistent/opa' }, 'opaBinary "/nonexistent/opa" does not exist'],
    ['no entrypoints', { entrypoints: [] }, 'entrypoints must list at least one rule to compile (e.g. [\'app/authz/allow\']), got []'],
    ['an empty entrypoint', { entrypoints: [''] }, 'an entrypoint must be a non-empty string known at synth, got ""'],
  ])('GIVEN %s THEN synth fails naming it', (_, options, message) => {
    expect(() => newLayer({ bundle: OpaBundle.fromRego(rbacSources(), options) })).toThrow(message);
  });

  test('GIVEN a folder that does not exist THEN synth fails naming it', () => {
    const missing = path.join(tempDir(), 'missing');
    expect(() => newLayer({ bundle: OpaBundle.fromRego(missing, { entrypoints: ['a/b'], opaBinary: OPA_BIN }) }))
      .toThrow(`Stack/Opa: bundle: OpaBundle.fromRego(${JSON.stringify(missing)}): no directory of Rego sources at ${missing}`);
  });
});
