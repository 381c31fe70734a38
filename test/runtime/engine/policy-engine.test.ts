import { Bundle } from '../../../runtime/src/engine/bundle';
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { EvaluationError } from '../../../runtime/src/engine/errors';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { BundleError } from '../../../runtime/src/errors';
import { packBundle } from '../../support/bundle-archive';
import { buildWasmBundle, readPolicy } from '../../support/opa';

const RBAC_DATA = JSON.parse(readPolicy('rbac-data.json'));

/** The policy.wasm of a bundle built by opa build, to repack by hand. */
async function wasmOf(archive: Buffer): Promise<Buffer> {
  return Buffer.from((await readBundle('tmp', archive)).wasmModules.get('/policy.wasm')!);
}

describe('PolicyEngine', () => {
  let rbac: Buffer;
  let multi: Buffer;
  let conflict: Buffer;

  beforeAll(async () => {
    [rbac, multi, conflict] = await Promise.all([
      buildWasmBundle({
        modules: { 'rbac.rego': readPolicy('rbac.rego') },
        entrypoints: ['app/rbac/allow', 'app/rbac/reasons'],
        data: RBAC_DATA,
        revision: 'rbac-1',
      }),
      buildWasmBundle({
        modules: { 'multi.rego': readPolicy('multi.rego') },
        entrypoints: ['app/multi', 'app/multi/greeting', 'app/multi/echo'],
        data: { app: { multi: { users: ['a', 'b'] } } },
        manifest: { roots: ['app/multi'] },
      }),
      buildWasmBundle({ modules: { 'conflict.rego': readPolicy('conflict.rego') }, entrypoints: ['app/conflict/x'], manifest: { roots: ['app/conflict'] } }),
    ]);
  });

  describe('GIVEN the RBAC bundle is active', () => {
    let engine: PolicyEngine;

    beforeEach(async () => {
      engine = new PolicyEngine();
      engine.activate(await readBundle('authz', rbac));
    });

    test.each([
      ['alice (admin) writes a document', { user: 'alice', action: 'write', type: 'document' }, true, []],
      ['bob (reader) reads a document', { user: 'bob', action: 'read', type: 'document' }, true, []],
      ['bob (reader) writes a document', { user: 'bob', action: 'write', type: 'document' }, false, ['no role of bob may write a document']],
      ['mallory (no role) reads a document', { user: 'mallory', action: 'read', type: 'document' }, false, ['user mallory has no role']],
    ])('WHEN %s THEN allow and reasons follow input and data', (_what, input, allow, reasons) => {
      expect(engine.evaluate('app/rbac/allow', input)).toEqual({ result: allow });
      expect(engine.evaluate(['app', 'rbac', 'reasons'], input)).toEqual({ result: reasons });
    });

    test('WHEN asked about the engine THEN it reports the bundle, its revision and entrypoints', () => {
      expect(engine.isActive('authz')).toBe(true);
      expect(engine.isActive('other')).toBe(false);
      expect(engine.revisions()).toEqual({ authz: { revision: 'rbac-1' } });
      expect(engine.entrypoints()).toEqual(['app/rbac/allow', 'app/rbac/reasons']);
    });

    test('WHEN the path has leading and trailing slashes THEN it is the same path', () => {
      expect(engine.evaluate('/app/rbac/allow/', { user: 'alice', action: 'read', type: 'document' })).toEqual({ result: true });
    });

    test('WHEN a path is under no entrypoint THEN the decision is undefined, not an error', () => {
      expect(engine.evaluate('app/rbac/granted', { user: 'alice' })).toEqual({});
      expect(engine.evaluate('app/rbac', {})).toEqual({});
      expect(engine.evaluate('', {})).toEqual({});
      expect(engine.evaluate('nothing/here', undefined)).toEqual({});
    });

    test('WHEN there is no input THEN the default applies', () => {
      expect(engine.evaluate('app/rbac/allow')).toEqual({ result: false });
    });

    test('WHEN a bundle of the same name with other roots replaces it THEN the old policies\' paths are undefined', async () => {
      engine.activate(await readBundle('authz', multi));

      expect(engine.evaluate('app/rbac/allow', { user: 'alice', action: 'read', type: 'document' })).toEqual({});
      expect(engine.revisions()).toEqual({ authz: { revision: '' } });
      expect(engine.entrypoints()).toEqual(['app/multi', 'app/multi/echo', 'app/multi/greeting']);
    });
  });

  describe('GIVEN data split over several data.json files and bundles', () => {
    test('WHEN the policy reads it THEN it sees one merged data tree', async () => {
      const policy = packBundle({
        '/.manifest': JSON.stringify({ revision: 'p', roots: ['app/rbac/grants', 'app/rbac/allow', 'app/rbac/reasons'], wasm: [{ entrypoint: 'app/rbac/allow', module: '/policy.wasm' }] }),
        '/policy.wasm': await wasmOf(rbac),
        '/app/rbac/grants/admin/data.json': JSON.stringify(RBAC_DATA.app.rbac.grants.admin),
        '/app/rbac/grants/data.json': JSON.stringify({ reader: RBAC_DATA.app.rbac.grants.reader }),
      });
      const bindings = packBundle({
        // Every bundle carries a policy (data-only bundles are refused), here one under its second root.
        '/.manifest': JSON.stringify({ revision: 'd', roots: ['app/rbac/bindings', 'app/conflict'] }),
        '/policy.wasm': await wasmOf(conflict),
        '/app/rbac/bindings/data.json': JSON.stringify(RBAC_DATA.app.rbac.bindings),
      });
      const engine = new PolicyEngine();
      engine.activate(await readBundle('policy', policy));
      const bobWrites = { user: 'bob', action: 'write', type: 'document' };
      const aliceWrites = { user: 'alice', action: 'write', type: 'document' };
      expect(engine.evaluate('app/rbac/allow', aliceWrites)).toEqual({ result: false });

      engine.activate(await readBundle('bindings', bindings));

      expect(engine.evaluate('app/rbac/allow', aliceWrites)).toEqual({ result: true });
      expect(engine.evaluate('app/rbac/allow', bobWrites)).toEqual({ result: false });
      expect(engine.revisions()).toEqual({ policy: { revision: 'p' }, bindings: { revision: 'd' } });

      // A new revision of bindings without alice's binding replaces the old one's data.
      const unbound = packBundle({
        '/.manifest': JSON.stringify({ revision: 'd2', roots: ['app/rbac/bindings', 'app/conflict'] }),
        '/policy.wasm': await wasmOf(conflict),
        '/app/rbac/bindings/data.json': JSON.stringify({ bob: RBAC_DATA.app.rbac.bindings.bob }),
      });
      engine.activate(await readBundle('bindings', unbound));

      expect(engine.evaluate('app/rbac/allow', aliceWrites)).toEqual({ result: false });
      expect(engine.revisions()).toEqual({ policy: { revision: 'p' }, bindings: { revision: 'd2' } });
    });
  });

  describe('GIVEN a bundle with several entrypoints', () => {
    let engine: PolicyEngine;

    beforeAll(async () => {
      engine = new PolicyEngine();
      engine.activate(await readBundle('multi', multi));
    });

    test('WHEN each entrypoint is asked THEN each answers', () => {
      expect(engine.entrypoints()).toEqual(['app/multi', 'app/multi/echo', 'app/multi/greeting']);
      expect(engine.evaluate('app/multi/greeting', { name: 'ada' })).toEqual({ result: 'hello ada' });
      expect(engine.evaluate('app/multi/echo', { any: ['thing'] })).toEqual({ result: { any: ['thing'] } });
    });

    test.each([
      ['a rule of the package', 'app/multi/user_count', 2],
      ['an object below a rule', 'app/multi/limits/nested', { flag: true }],
      ['an array element', 'app/multi/limits/tiers/1', 'pro'],
      ['a number', 'app/multi/limits/max', 3],
    ])('WHEN the path is %s below an entrypoint THEN the sub-document is returned', (_what, path, expected) => {
      expect(engine.evaluate(path, {})).toEqual({ result: expected });
    });

    test.each([
      ['a missing key', 'app/multi/limits/min'],
      ['an index past the end', 'app/multi/limits/tiers/2'],
      ['a non-numeric index', 'app/multi/limits/tiers/first'],
      ['a negative index', 'app/multi/limits/tiers/-1'],
      ['a path through a scalar', 'app/multi/limits/max/x'],
    ])('WHEN the path names %s THEN the decision is undefined', (_what, path) => {
      expect(engine.evaluate(path, {})).toEqual({});
    });

    test.each([
      ['false', false], ['0', 0], ['an empty string', ''], ['null', null], ['an array', [1]],
    ])('WHEN the input is %s THEN the policy sees it (not "no input")', (_what, input) => {
      expect(engine.evaluate('app/multi/echo', input)).toEqual({ result: input });
    });

    test('WHEN there is no input THEN a rule on input is undefined', () => {
      expect(engine.evaluate('app/multi/echo', undefined)).toEqual({});
    });

    test.each([
      ['true', 'true'],
      ['null', 'null'],
      ['a number', '-12.5e3'],
      ['a string that holds the end of a result set', '"}],{\\"result\\":[{"'],
      ['a string that holds another member', '"a\\",\\"x\\":2"'],
      ['an object', '{"a":[1,{"b":"}"}]}'],
      ['an empty array', '[]'],
    ])('WHEN the result is %s THEN evaluateJson answers its JSON', (_what, json) => {
      const answered = engine.evaluateJson('app/multi/echo', Buffer.from(json))!;
      expect(JSON.parse(answered)).toEqual(JSON.parse(json));
    });

    test('WHEN an input grows the Wasm memory THEN that evaluation and the next read the new memory', () => {
      const small = { name: 'small' };
      const large = { name: 'x'.repeat(8 * 1024 * 1024) };
      expect(engine.evaluate('app/multi/echo', small)).toEqual({ result: small });
      expect(engine.evaluate('app/multi/echo', large)).toEqual({ result: large });
      expect(engine.evaluate('app/multi/greeting', small)).toEqual({ result: 'hello small' });
    });
  });

  describe('GIVEN a policy that fails at run time with a conflict', () => {
    test('WHEN it conflicts THEN EvaluationError carries the reason, and the next call succeeds', async () => {
      const engine = new PolicyEngine();
      engine.activate(await readBundle('conflict', conflict));

      const evaluate = () => engine.evaluate('app/conflict/x', { a: true, b: true });

      expect(evaluate).toThrow(EvaluationError);
      expect(evaluate).toThrow(/^evaluation of app\/conflict\/x failed: conflict\.rego:7:1: var assignment conflict$/);
      try {
        evaluate();
      } catch (err) {
        expect((err as EvaluationError).code).toBe('internal_error');
        expect((err as EvaluationError).entrypoint).toBe('app/conflict/x');
      }
      expect(engine.evaluate('app/conflict/x', { a: true })).toEqual({ result: 1 });
      expect(engine.evaluate('app/conflict/x', { b: true })).toEqual({ result: 2 });
    });
  });

  describe('GIVEN an active bundle', () => {
    let engine: PolicyEngine;
    const aliceReads = { user: 'alice', action: 'read', type: 'document' };

    beforeEach(async () => {
      engine = new PolicyEngine();
      engine.activate(await readBundle('authz', rbac));
    });

    const bad: Array<[string, () => Promise<Bundle>, string]> = [
      ['a wasm module that is not WebAssembly', () => readBundle('authz', packBundle({ '/policy.wasm': 'not wasm' })),
        'bundle authz: wasm module /policy.wasm is not a valid WebAssembly module: '],
      ['a manifest entrypoint the module does not export', async () => readBundle('authz', packBundle({
        '/.manifest': JSON.stringify({ wasm: [{ entrypoint: 'app/rbac/deny', module: '/policy.wasm' }] }),
        '/policy.wasm': await wasmOf(rbac),
      })), 'bundle authz: manifest names entrypoint app/rbac/deny for wasm module /policy.wasm, which does not export it (it exports: app/rbac/allow, app/rbac/reasons)'],
      ['exported entrypoints outside its roots', async () => readBundle('authz', packBundle({
        '/.manifest': JSON.stringify({ roots: ['other'] }),
        '/policy.wasm': await wasmOf(rbac),
      })), 'bundle authz: manifest roots ["other"] do not permit \'app/rbac/allow\' entrypoint for wasm module \'/policy.wasm\''],
    ];

    test.each(bad)('WHEN a new version of it has %s THEN activation throws and the old version keeps serving', async (_what, read, message) => {
      const bundle = await read();
      const activate = () => engine.activate(bundle);

      expect(activate).toThrow(BundleError);
      expect(activate).toThrow(message);
      expect(engine.evaluate('app/rbac/allow', aliceReads)).toEqual({ result: true });
      expect(engine.revisions()).toEqual({ authz: { revision: 'rbac-1' } });
    });

    test('WHEN another bundle has overlapping roots THEN activation throws and nothing changes', async () => {
      const second = await readBundle('second', multi);
      const activate = () => engine.activate(second);
      // rbac was built with the default root "" which overlaps everything.

      expect(activate).toThrow("bundle second: detected overlapping roots in manifests for these bundles: [second, authz] ('app/multi' and '')");
      expect(engine.isActive('second')).toBe(false);
      expect(engine.entrypoints()).toEqual(['app/rbac/allow', 'app/rbac/reasons']);
    });

    test('WHEN another bundle has its own roots, policy and data THEN both serve', async () => {
      const engine2 = new PolicyEngine();
      engine2.activate(await readBundle('multi', multi));

      engine2.activate(await readBundle('conflict', packBundle({
        '/.manifest': JSON.stringify({ roots: ['app/conflict'] }),
        '/policy.wasm': await wasmOf(conflict),
        '/app/conflict/data.json': '{"k": 1}',
      })));

      expect(engine2.entrypoints()).toEqual(['app/conflict/x', 'app/multi', 'app/multi/echo', 'app/multi/greeting']);
      expect(engine2.evaluate('app/conflict/x', { b: true })).toEqual({ result: 2 });
      expect(engine2.evaluate('app/multi/user_count', {})).toEqual({ result: 2 });
    });

    test('WHEN the same name is activated again with a new revision THEN it replaces the old one', async () => {
      const next = await buildWasmBundle({
        modules: { 'rbac.rego': readPolicy('rbac.rego') },
        entrypoints: ['app/rbac/allow'],
        data: { app: { rbac: { bindings: {}, grants: {} } } },
        revision: 'rbac-2',
      });

      engine.activate(await readBundle('authz', next));

      expect(engine.revisions()).toEqual({ authz: { revision: 'rbac-2' } });
      expect(engine.entrypoints()).toEqual(['app/rbac/allow']);
      expect(engine.evaluate('app/rbac/allow', aliceReads)).toEqual({ result: false });
    });
  });
});
