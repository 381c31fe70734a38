import { setImmediate as nextTurn } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { parseBundle, readBundle } from '../../../runtime/src/engine/bundle-reader';
import { BundleError } from '../../../runtime/src/errors';
import { stringifyJson } from '../../../runtime/src/json-text';
import { packBundle, packTar } from '../../support/bundle-archive';
import { buildWasmBundle, readPolicy } from '../../support/opa';
import { trapModule } from '../../support/wat';

const MANIFEST = (m: object) => JSON.stringify(m);

describe('readBundle', () => {
  let wasm: Uint8Array;

  beforeAll(async () => {
    wasm = await trapModule();
  });

  describe('GIVEN a bundle built by opa build -t wasm', () => {
    let archive: Buffer;

    beforeAll(async () => {
      archive = await buildWasmBundle({
        modules: { 'rbac.rego': readPolicy('rbac.rego') },
        entrypoints: ['app/rbac/allow', 'app/rbac/reasons'],
        data: { app: { rbac: { bindings: { alice: ['admin'] } } } },
        revision: 'r1',
      });
    });

    test('WHEN read THEN manifest, data and the wasm module are there and rego sources are skipped', async () => {
      const bundle = await readBundle('authz', archive);

      expect(bundle.name).toBe('authz');
      expect(bundle.manifest).toEqual({
        revision: 'r1',
        roots: [''],
        wasm: [
          { entrypoint: 'app/rbac/allow', module: '/policy.wasm' },
          { entrypoint: 'app/rbac/reasons', module: '/policy.wasm' },
        ],
      });
      expect(bundle.data).toEqual({ app: { rbac: { bindings: { alice: ['admin'] } } } });
      expect([...bundle.wasmModules.keys()]).toEqual(['/policy.wasm']);
      expect(bundle.wasmModules.get('/policy.wasm')!.subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));
    });
  });

  describe('GIVEN hand-made bundles', () => {
    test('WHEN data files sit in several directories, with and without a leading slash THEN each is mounted at its directory and merged', async () => {
      const bundle = await readBundle('b', packBundle({
        'policy.wasm': Buffer.from(wasm),
        '/data.json': '{"top": 1, "a": {"x": 1}}',
        'a/b/data.json': '{"y": [1, 2]}',
        './a/c/data.yaml': 'z: true\n',
        '/a/d/data.json': '"a string"',
      }));

      expect(bundle.data).toEqual({ top: 1, a: { x: 1, b: { y: [1, 2] }, c: { z: true }, d: 'a string' } });
      expect(bundle.manifest).toEqual({ revision: '', roots: [''], wasm: [] });
    });

    test('WHEN data files hold numbers JavaScript cannot hold THEN the data keeps them as written, YAML read as OPA reads it', async () => {
      const bundle = await readBundle('b', packBundle({
        'policy.wasm': Buffer.from(wasm),
        '/data.json': '{"id": 9007199254740993, "f": 1.0, "huge": 1e400}',
        'y/data.yaml': 'id: 12345678901234567890\noctal: 0777\nword: yes\nwhen: 2001-12-14\n',
      }));

      expect(stringifyJson(bundle.data)).toBe('{"id":9007199254740993,"f":1.0,"huge":1e400,"y":{"id":12345678901234567890,"octal":511,"word":"yes","when":"2001-12-14"}}');
    });

    test('WHEN the manifest has roots, metadata and slashes THEN they are normalized', async () => {
      const bundle = await readBundle('b', packBundle({
        '/.manifest': MANIFEST({ revision: 'abc', roots: ['/app/', 'other'], metadata: { owner: 'me' }, wasm: [{ entrypoint: '/app/x', module: 'policy.wasm' }] }),
        '/policy.wasm': Buffer.from(wasm),
        '/app/data.json': '{"k": 1}',
      }));

      expect(bundle.manifest).toEqual({ revision: 'abc', roots: ['app', 'other'], metadata: { owner: 'me' }, wasm: [{ entrypoint: 'app/x', module: '/policy.wasm' }] });
      expect(bundle.data).toEqual({ app: { k: 1 } });
    });

    test('WHEN a data file has a __proto__ key THEN it stays data and pollutes nothing', async () => {
      const bundle = await readBundle('b', packBundle({ '/policy.wasm': Buffer.from(wasm), '/data.json': '{"__proto__": {"polluted": true}}' }));

      expect(Object.keys(bundle.data)).toEqual(['__proto__']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('GIVEN a bundle of many data files', () => {
    test('WHEN it is parsed THEN the event loop gets turns before it is done, so decisions on the active bundle are answered meanwhile', async () => {
      // GIVEN: 50,000 data files in 500 directories, already read from their archive.
      const files = [{ path: 'policy.wasm', data: Buffer.from(wasm) }];
      for (let i = 0; i < 50_000; i++) files.push({ path: `d${i % 500}/f${i}/data.json`, data: Buffer.from(`{"n": ${i}}`) });
      let parsing = true;
      let turnsWhileParsing = 0;
      const ticker = (async () => {
        while (parsing) {
          await nextTurn();
          if (parsing) turnsWhileParsing++;
        }
      })();
      // WHEN
      const bundle = await parseBundle('many', files);
      parsing = false;
      await ticker;
      // THEN
      expect(turnsWhileParsing).toBeGreaterThan(0);
      expect((bundle.data.d7 as Record<string, unknown>).f7).toEqual({ n: 7 });
      expect(Object.keys(bundle.data)).toHaveLength(500);
    });
  });

  describe('GIVEN a broken bundle', () => {
    const ok = () => ({ '/policy.wasm': Buffer.from(wasm) });
    const cases: Array<[string, () => Buffer, string]> = [
      ['not gzip', () => Buffer.from('{"not": "a bundle"}'), 'bundle authz: bundle is not a gzip archive (a bundle is a .tar.gz file)'],
      ['an uncompressed tar', () => packTar(ok()), 'bundle authz: bundle is not a gzip archive (a bundle is a .tar.gz file)'],
      ['truncated gzip', () => packBundle(ok()).subarray(0, 30), 'bundle authz: bundle is not a valid gzip archive: unexpected end of file'],
      ['gzip of something that is not tar', () => gzipSync(Buffer.alloc(1024, 'x')), 'bundle authz: bundle is not a tar archive (bad header checksum)'],
      ['no wasm module', () => packBundle({ '/data.json': '{}', '/x.rego': 'package x' }),
        'bundle authz: holds no Wasm module (policy.wasm); this extension evaluates compiled policies only: build the bundle with `opa build -t wasm -e <entrypoint> ...`'],
      ['manifest names a missing module', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ wasm: [{ entrypoint: 'a/b', module: '/other.wasm' }] }) }),
        'bundle authz: manifest names wasm module /other.wasm, which is not in the bundle'],
      ['manifest is not JSON', () => packBundle({ ...ok(), '/.manifest': '{revision' }), 'bundle authz: .manifest is not valid JSON: '],
      ['manifest is not an object', () => packBundle({ ...ok(), '/.manifest': '[]' }), 'bundle authz: .manifest must be a JSON object'],
      ['revision is not a string', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ revision: 3 }) }), 'bundle authz: .manifest revision must be a string, got 3'],
      ['roots are not strings', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ roots: 'app' }) }), 'bundle authz: .manifest roots must be an array of strings, got "app"'],
      ['roots overlap', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ roots: ['app', 'app/rbac'] }) }), "bundle authz: manifest has overlapped roots: 'app' and 'app/rbac'"],
      ['metadata is not an object', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ metadata: 'x' }) }), 'bundle authz: .manifest metadata must be a JSON object'],
      ['wasm is not an array', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ wasm: {} }) }), 'bundle authz: .manifest wasm must be an array, got {}'],
      ['wasm entry lacks a module', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ wasm: [{ entrypoint: 'a' }] }) }),
        'bundle authz: .manifest wasm[0] must be an object with string entrypoint and module'],
      ['entrypoint outside the roots', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ roots: ['app'], wasm: [{ entrypoint: 'other/x', module: '/policy.wasm' }] }) }),
        'bundle authz: manifest roots ["app"] do not permit \'other/x\' entrypoint for wasm module \'/policy.wasm\''],
      ['an entrypoint listed twice', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ wasm: [{ entrypoint: 'a', module: '/policy.wasm' }, { entrypoint: 'a', module: '/policy.wasm' }] }) }),
        "bundle authz: entrypoint 'a' cannot be used by more than one wasm module"],
      ['root data.json is not an object', () => packBundle({ ...ok(), '/data.json': '[1, 2]' }),
        'bundle authz: data file /data.json must hold an object at the root of the bundle, got an array'],
      ['data.json is not JSON', () => packBundle({ ...ok(), '/a/data.json': '{"a":' }), 'bundle authz: data file /a/data.json is not valid JSON: '],
      ['data.json with a string never closed', () => packBundle({ ...ok(), '/a/data.json': '{"a": "x\\" 12345678901234567890' }), 'bundle authz: data file /a/data.json is not valid JSON: '],
      ['data.yaml is not YAML', () => packBundle({ ...ok(), '/a/data.yaml': 'a: [' }), 'bundle authz: data file /a/data.yaml is not valid YAML: '],
      ['two data files give one key two values', () => packBundle({ ...ok(), '/data.json': '{"a": {"b": 1}}', '/a/b/data.json': '{"c": 2}' }),
        'bundle authz: data file /a/b/data.json conflicts with other data in the bundle: two values for /a/b'],
      ['data outside the roots', () => packBundle({ ...ok(), '/.manifest': MANIFEST({ roots: ['app/rbac'] }), '/data.json': '{"app": {"rbac": {}, "other": 1}}' }),
        "bundle authz: manifest roots [\"app/rbac\"] do not permit data at path '/app/other'"],
      ['a file twice', () => gzipSync(Buffer.concat([packTar(ok()).subarray(0, -1024), packTar(ok())])), 'bundle authz: file policy.wasm appears more than once'],
      ['a delta bundle', () => packBundle({ ...ok(), '/patch.json': '{"data": []}' }), 'bundle authz: delta bundles (patch.json) are not supported; publish a snapshot bundle'],
    ];

    test.each(cases)('WHEN it is %s THEN readBundle throws a BundleError with its reason', async (_what, archive, message) => {
      const read = readBundle('authz', archive());

      await expect(read).rejects.toThrow(BundleError);
      await expect(read).rejects.toThrow(message);
    });
  });
});
