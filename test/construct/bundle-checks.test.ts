/**
 * Every embedded bundle is checked at synth with the engine the extension runs, and the layer's
 * `queries` are resolved against the entrypoints they embed. Bundles are compiled from Rego by the
 * pinned OPA, then broken on purpose by repacking them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { OpaBundle, OpaExtensionLayer, OpaExtensionLayerProps } from '../../src';
import { repack, unpack } from '../support/authz-bundles';
import { packBundle } from '../support/bundle-archive';
import { buildWasmBundle, readPolicy } from '../support/opa';
import { compileWat } from '../support/wat';

let workDir: string;
let rbac: Buffer;
let rbacWasm: Buffer;

beforeAll(async () => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-checks-test-'));
  rbac = await buildWasmBundle({
    modules: { 'rbac.rego': readPolicy('rbac.rego') },
    data: JSON.parse(readPolicy('rbac-data.json')),
    // `opa build` lists app/rbac/allow among the manifest's entrypoints too.
    entrypoints: ['app/rbac', 'app/rbac/reasons'],
    manifest: { roots: ['app/rbac'] },
  });
  rbacWasm = (await unpack(rbac))['policy.wasm'];
});

afterAll(() => fs.rmSync(workDir, { recursive: true, force: true }));

let files = 0;
/** Writes an archive for OpaBundle.fromAsset; `name` becomes the bundle's name. */
function bundleFile(archive: Buffer, name = 'authz'): string {
  const dir = path.join(workDir, String(files++));
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, `${name}.tar.gz`), archive);
  return path.join(dir, `${name}.tar.gz`);
}

/** A bundle answering `<root>/allow`, owning `roots`. */
function rootedBundle(pkg: string, roots?: string[]): Promise<Buffer> {
  return buildWasmBundle({
    modules: { 'p.rego': `package ${pkg}\n\nallow := true\n` },
    entrypoints: [`${pkg.replace(/\./g, '/')}/allow`],
    ...(roots ? { manifest: { roots } } : {}),
  });
}

function newLayer(props: OpaExtensionLayerProps): { stack: Stack; layer: OpaExtensionLayer } {
  const stack = new Stack(new App(), 'Stack');
  return { stack, layer: new OpaExtensionLayer(stack, 'Opa', props) };
}

describe('GIVEN an embedded bundle the extension could not activate', () => {
  test.each([
    ['an archive that is not gzip', async () => Buffer.from('this is not a bundle'),
      'Stack/Opa: bundle (bundle "authz"): bundle is not a gzip archive (a bundle is a .tar.gz file)'],
    ['a truncated archive', async () => rbac.subarray(0, rbac.length / 2),
      'Stack/Opa: bundle (bundle "authz"): bundle is not a valid gzip archive: unexpected end of file'],
    ['a manifest naming an entrypoint the Wasm does not export', async () => repack(rbac, {
      '.manifest': JSON.stringify({ roots: ['app/rbac'], wasm: [{ entrypoint: 'app/rbac', module: '/policy.wasm' }, { entrypoint: 'app/rbac/alow', module: '/policy.wasm' }] }),
    }), 'Stack/Opa: bundle (bundle "authz"): manifest names entrypoint app/rbac/alow for wasm module /policy.wasm, which does not export it (it exports: app/rbac, app/rbac/allow, app/rbac/reasons)'],
    ['a manifest naming a module that is not there', async () => repack(rbac, { 'policy.wasm': undefined, 'other/policy.wasm': rbacWasm }),
      'Stack/Opa: bundle (bundle "authz"): manifest names wasm module /policy.wasm, which is not in the bundle'],
    ['Wasm that is not WebAssembly', async () => repack(rbac, { 'policy.wasm': Buffer.from('\0asm garbage') }),
      'Stack/Opa: bundle (bundle "authz"): wasm module /policy.wasm is not a valid WebAssembly module'],
    ['WebAssembly that is not an OPA policy', async () => repack(rbac, { 'policy.wasm': Buffer.from(await compileWat('empty.wat', '(module)')) }),
      'Stack/Opa: bundle (bundle "authz"): cannot load wasm module /policy.wasm'],
    ['data.json that is not JSON', async () => repack(rbac, { 'data.json': '{"app": {"rbac": ' }),
      'Stack/Opa: bundle (bundle "authz"): data file /data.json is not valid JSON'],
    ['data outside the manifest roots', async () => repack(rbac, { 'other/data.json': '{"x": 1}' }),
      'Stack/Opa: bundle (bundle "authz"): manifest roots ["app/rbac"] do not permit data at path \'/other\''],
  ])('%s THEN synth fails with the reason init would fail with', async (_, make, message) => {
    const file = bundleFile(await make());
    expect(() => newLayer({ bundle: OpaBundle.fromAsset(file) })).toThrow(message);
  });
});

describe('GIVEN two embedded bundles', () => {
  test.each([
    ['one root contains the other', ['app'], ['app/rbac'], '(\'app\' and \'app/rbac\')'],
    ['the same root', ['app/rbac'], ['app/rbac'], '(\'app/rbac\' and \'app/rbac\')'],
    ['no roots, which is the whole data tree', undefined, ['app/rbac'], 'roots [""], the whole data tree'],
  ])('WHEN %s THEN synth fails naming both bundles and their roots', async (_, rootsA, rootsB, detail) => {
    const a = bundleFile(await rootedBundle('app.rbac', rootsA), 'a');
    const b = bundleFile(await rootedBundle('app.rbac', rootsB), 'b');

    expect(() => newLayer({ bundles: [OpaBundle.fromAsset(a), OpaBundle.fromAsset(b)] }))
      .toThrow('Stack/Opa: bundles[0] (bundle "a") and bundles[1] (bundle "b"): the manifest roots of bundles a');
    expect(() => newLayer({ bundles: [OpaBundle.fromAsset(a), OpaBundle.fromAsset(b)] })).toThrow(detail);
  });

  test('WHEN their roots are apart THEN synth passes, and queries may be answered by either', async () => {
    const a = bundleFile(await rootedBundle('app.rbac', ['app/rbac']), 'a');
    const b = bundleFile(await rootedBundle('app.billing', ['app/billing']), 'b');

    expect(() => newLayer({ bundles: [OpaBundle.fromAsset(a), OpaBundle.fromAsset(b)], queries: ['app/rbac/allow', 'app/billing/allow'] })).not.toThrow();
  });

  test('WHEN they share a name THEN the name check still comes first', () => {
    const file = bundleFile(rbac);
    expect(() => newLayer({ bundles: [OpaBundle.fromAsset(file), OpaBundle.fromAsset(file)] })).toThrow('Stack/Opa: two bundles are named "authz"');
  });
});

describe('queries', () => {
  test.each([
    ['an entrypoint', 'app/rbac/reasons'],
    ['a path below an entrypoint', 'app/rbac/granted'],
    ['a path deeper below one', 'app/rbac/granted/admin'],
    ['a leading /', '/app/rbac/allow'],
    ['the REST API path', '/v1/data/app/rbac/allow'],
  ])('GIVEN %s THEN synth passes', (_, query) => {
    const file = bundleFile(rbac);
    expect(() => newLayer({ bundle: OpaBundle.fromAsset(file), queries: [query] })).not.toThrow();
  });

  test('GIVEN a query with a typo THEN synth fails naming it and the entrypoints there are', () => {
    const file = bundleFile(rbac);
    expect(() => newLayer({ bundle: OpaBundle.fromAsset(file), queries: ['app/rbac/allow', '/v1/data/app/rabc/allow'] }))
      .toThrow('Stack/Opa: queries: \'app/rabc/allow\' is answered by no entrypoint of the embedded bundles (an entrypoint answers its own path '
        + 'and the paths below it); the entrypoints are \'app/rbac\', \'app/rbac/allow\', \'app/rbac/reasons\'');
  });

  test('GIVEN a path above every entrypoint THEN synth fails: a Wasm policy answers only below its entrypoints', () => {
    const file = bundleFile(rbac);
    expect(() => newLayer({ bundle: OpaBundle.fromAsset(file), queries: ['app'] })).toThrow('\'app\' is answered by no entrypoint');
  });

  test('GIVEN queries and no bundle at all THEN synth fails saying so', () => {
    expect(() => newLayer({ queries: ['app/rbac/allow'] })).toThrow('Stack/Opa: queries: \'app/rbac/allow\' is answered by no entrypoint of the embedded bundles (an entrypoint answers its own path and the paths below it); no bundle is embedded');
  });

  test.each([['app//allow'], ['/'], ['/v1/data']])('GIVEN the query %j THEN synth fails: it is not a data path', (query) => {
    expect(() => newLayer({ queries: [query] })).toThrow(`Stack/Opa: queries: ${JSON.stringify(query)} is not a data path such as 'app/authz/allow'`);
  });

  test('GIVEN an unanswered query and a bundle downloaded at run time THEN synth warns, naming the bundles it could not check', () => {
    const app = new App();
    const stack = new Stack(app, 'Stack');
    const bucket = new s3.Bucket(stack, 'Policies');
    new OpaExtensionLayer(stack, 'Opa', {
      bundles: [OpaBundle.fromAsset(bundleFile(rbac)), OpaBundle.fromBucket(bucket, 'billing.tar.gz')],
      opaConfig: { bundles: { extra: { service: 'x', resource: 'extra.tar.gz' } } },
      queries: ['app/rbac/allow', 'app/billing/allow'],
    });

    Annotations.fromStack(stack).hasWarning('/Stack/Opa', Match.stringLikeRegexp(
      '^queries: \'app/billing/allow\' is answered by no entrypoint of the embedded bundles .*the entrypoints are \'app/rbac\', \'app/rbac/allow\', \'app/rbac/reasons\'. '
      + 'They may be answered by bundles\\[1\\] \\(bundle "billing"\\), opaConfig.bundles.extra, downloaded at run time, which synth cannot check'));
  });

  test('GIVEN every query answered THEN there is no warning', () => {
    const { stack } = newLayer({ bundle: OpaBundle.fromAsset(bundleFile(rbac)), queries: ['app/rbac/allow'] });
    Annotations.fromStack(stack).hasNoWarning('/Stack/Opa', Match.anyValue());
  });
});

test('GIVEN a packed archive THEN the check reads it as the extension does: an unclean path is refused', () => {
  const file = bundleFile(packBundle({ '../escape/data.json': '{}' }));
  expect(() => newLayer({ bundle: OpaBundle.fromAsset(file) })).toThrow('tar entry path "../escape/data.json" is not clean');
});
