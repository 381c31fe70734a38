import { generateKeyPairSync } from 'node:crypto';
import { readBundleArchive } from '../../../../runtime/src/engine/bundle-archive';
import type { BundleSigning } from '../../../../runtime/src/plugins/bundle/config';
import { parseKeys } from '../../../../runtime/src/plugins/bundle/keys';
import { globToRegExp, verifyBundleSignature } from '../../../../runtime/src/plugins/bundle/signature-verifier';
import { buildAuthz, repack, unpack } from '../../../support/authz-bundles';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PRIVATE = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const RSA_PUBLIC = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const RSA_PUBLIC_PKCS1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const EC_PRIVATE = ec.privateKey.export({ type: 'sec1', format: 'pem' }).toString();
const EC_PUBLIC = ec.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const SECRET = 'hmac-secret';

const SIGNING: BundleSigning = { excludeFiles: [], required: true };

async function verify(archive: Buffer | Promise<Buffer>, signing: BundleSigning | undefined, keys: Record<string, unknown>): Promise<void> {
  const files = await readBundleArchive('authz', await archive, { maxFileBytes: 2 ** 30, maxTotalBytes: 2 ** 30 });
  await verifyBundleSignature('authz', files, signing, parseKeys(keys));
}

describe('verifyBundleSignature', () => {
  let rs256: Buffer;
  let hs256: Buffer;
  let es256: Buffer;
  let scoped: Buffer;

  beforeAll(async () => {
    // `opa build` names the key "default" in the JWT's `kid` unless told otherwise.
    [rs256, hs256, es256, scoped] = await Promise.all([
      buildAuthz('r1', { files: { 'data.json': '{"authz": {"limits": {"b": 1.0, "a": [1, 2e3], "\u00e9": "\u2028"}}}' }, signing: { key: RSA_PRIVATE, algorithm: 'RS256' } }),
      buildAuthz('r1', { signing: { key: SECRET, algorithm: 'HS256' } }),
      buildAuthz('r1', { signing: { key: EC_PRIVATE, algorithm: 'ES256' } }),
      buildAuthz('r1', { signing: { key: SECRET, algorithm: 'HS256', claims: { scope: 'write', keyid: 'legacy' } } }),
    ]);
  });

  describe('bundles signed by the pinned OPA', () => {
    test.each([
      ['RS256 with a PKIX public key', () => rs256, { default: { algorithm: 'RS256', key: RSA_PUBLIC } }],
      ['RS256 with a PKCS#1 public key', () => rs256, { default: { key: RSA_PUBLIC_PKCS1 } }],
      ['HS256 with the shared secret', () => hs256, { default: { algorithm: 'HS256', key: SECRET } }],
      ['ES256 with a P-256 public key', () => es256, { default: { algorithm: 'ES256', key: EC_PUBLIC } }],
    ])('GIVEN %s WHEN verified THEN it passes', async (_name, archive, keys) => {
      await expect(verify(archive(), SIGNING, keys)).resolves.toBeUndefined();
    });

    test('GIVEN a signed bundle with data.json rewritten with other whitespace and key order WHEN verified THEN it passes (JSON is hashed canonically)', async () => {
      // GIVEN
      const data = JSON.parse((await unpack(rs256))['data.json'].toString());
      expect((await unpack(rs256))['data.json'].toString()).toContain('1.0');
      const reordered = '{\n  "authz": {"limits": {"\u00e9": "\u2028", "a": [1, 2e3],\n "b": 1.0}}}\n';
      expect(JSON.parse(reordered)).toEqual(data);
      // WHEN
      const result = verify(repack(rs256, { 'data.json': reordered }), SIGNING, { default: { key: RSA_PUBLIC } });
      // THEN
      await expect(result).resolves.toBeUndefined();
    });

    test.each([
      ['the policy source', 'authz/policy.rego', 'package authz\n\nallow := true\n', /^bundle authz: authz\/policy.rego: digest mismatch \(want: [0-9a-f]{64}, got: [0-9a-f]{64}\)$/],
      ['policy.wasm', 'policy.wasm', Buffer.from('\0asm'), /^bundle authz: policy.wasm: digest mismatch/],
      ['a number of data.json written differently (1.0 is not 1)', 'data.json', '{"authz": {"limits": {"b": 1, "a": [1, 2e3], "\u00e9": "\u2028"}}}', /^bundle authz: data.json: digest mismatch/],
      ['the manifest', '.manifest', '{"revision":"r2","roots":["authz"],"wasm":[{"entrypoint":"authz/allow","module":"/policy.wasm"}]}', /^bundle authz: .manifest: digest mismatch/],
    ])('GIVEN the same bundle with %s changed WHEN verified THEN it is refused', async (_name, file, content, message) => {
      await expect(verify(repack(rs256, { [file]: content }), SIGNING, { default: { key: RSA_PUBLIC } })).rejects.toThrow(message);
    });

    test('GIVEN a file added to a signed bundle WHEN verified THEN it is refused', async () => {
      await expect(verify(repack(rs256, { 'extra.rego': 'package extra' }), SIGNING, { default: { key: RSA_PUBLIC } }))
        .rejects.toThrow('bundle authz: file extra.rego not included in bundle signature');
    });

    test('GIVEN a file removed from a signed bundle WHEN verified THEN it is refused', async () => {
      await expect(verify(repack(rs256, { 'authz/policy.rego': undefined }), SIGNING, { default: { key: RSA_PUBLIC } }))
        .rejects.toThrow('bundle authz: file(s) [authz/policy.rego] specified in bundle signatures but not found in the target bundle');
    });

    test('GIVEN exclude_files matching an added file WHEN verified THEN it passes', async () => {
      const signing = { ...SIGNING, excludeFiles: ['notes/*.md'] };
      await expect(verify(repack(rs256, { 'notes/readme.md': '# hi' }), signing, { default: { key: RSA_PUBLIC } })).resolves.toBeUndefined();
    });

    test('GIVEN exclude_files matching a signed file WHEN that file is changed THEN it passes', async () => {
      const signing = { ...SIGNING, excludeFiles: ['authz/*.rego'] };
      await expect(verify(repack(rs256, { 'authz/policy.rego': 'changed' }), signing, { default: { key: RSA_PUBLIC } })).resolves.toBeUndefined();
    });
  });

  describe('keys and scope', () => {
    test.each<[string, () => Buffer, BundleSigning, Record<string, unknown>, string]>([
      ['another RSA key', () => rs256, SIGNING, { default: { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString() } }, 'bundle authz: bundle signature verification failed: signature verification failed'],
      ['another HMAC secret', () => hs256, SIGNING, { default: { algorithm: 'HS256', key: 'other' } }, 'bundle authz: bundle signature verification failed: signature verification failed'],
      ['a key configured for another algorithm', () => hs256, SIGNING, { default: { algorithm: 'RS256', key: RSA_PUBLIC } }, 'bundle authz: bundle signature verification failed: "alg" (Algorithm) Header Parameter value not allowed'],
      ['a kid that names no configured key', () => rs256, SIGNING, { other: { key: RSA_PUBLIC } }, 'bundle authz: verification key corresponding to ID default not found'],
      ['signing.keyid naming a key without a verification key', () => rs256, { ...SIGNING, keyId: 'signer' }, { signer: { private_key: RSA_PRIVATE } }, 'bundle authz: keys.signer has no key (public key or secret) to verify with'],
      ['a scope the signature does not carry', () => rs256, { ...SIGNING, scope: 'write' }, { default: { key: RSA_PUBLIC } }, 'bundle authz: scope mismatch'],
      ['a key scope that differs from the signature', () => scoped, SIGNING, { legacy: { algorithm: 'HS256', key: SECRET, scope: 'read' }, default: { algorithm: 'HS256', key: SECRET, scope: 'read' } }, 'bundle authz: scope mismatch'],
      ['a key that is not PEM', () => rs256, SIGNING, { default: { key: 'not a pem' } }, 'bundle authz: bundle signature verification failed: keys.default.key is not a PEM public key, private key or certificate'],
    ])('GIVEN %s WHEN verified THEN it is refused', async (_name, archive, signing, keys, message) => {
      await expect(verify(archive(), signing, keys)).rejects.toThrow(message);
    });

    test('GIVEN the bundle signing scope WHEN it matches the signature THEN it overrides the key scope', async () => {
      await expect(verify(scoped, { ...SIGNING, keyId: 'hmac', scope: 'write' }, { hmac: { algorithm: 'HS256', key: SECRET, scope: 'read' } })).resolves.toBeUndefined();
    });

    test('GIVEN signing.keyid WHEN the JWT names another kid THEN the configured keyid wins', async () => {
      await expect(verify(rs256, { ...SIGNING, keyId: 'mine' }, { mine: { key: RSA_PUBLIC } })).resolves.toBeUndefined();
    });

    test('GIVEN a private key in keys WHEN verifying THEN its public half is used', async () => {
      await expect(verify(rs256, SIGNING, { default: { key: RSA_PRIVATE } })).resolves.toBeUndefined();
    });
  });

  describe('signed or not', () => {
    test('GIVEN no signing and no keys WHEN the bundle is unsigned THEN it passes', async () => {
      await expect(verify(repack(rs256, { '.signatures.json': undefined }), undefined, {})).resolves.toBeUndefined();
    });

    test('GIVEN only keys (signing not required) WHEN the bundle is unsigned THEN it passes, as in OPA', async () => {
      await expect(verify(repack(rs256, { '.signatures.json': undefined }), { excludeFiles: [], required: false }, { default: { key: RSA_PUBLIC } })).resolves.toBeUndefined();
    });

    test('GIVEN no key at all WHEN the bundle is signed THEN it is refused', async () => {
      await expect(verify(rs256, undefined, {}))
        .rejects.toThrow('bundle authz: bundle is signed (.signatures.json) but no verification key is configured (keys, bundles.authz.signing)');
    });

    test.each([
      ['not JSON', 'nope', /^bundle authz: .signatures.json is not valid JSON: /],
      ['signatures that are not a list', '{"signatures": "x"}', /^bundle authz: .signatures.json: signatures must be a list of JWTs$/],
      ['no JWT', '{"signatures": []}', /^bundle authz: .signatures.json: missing JWT \(expected exactly one\)$/],
      ['two JWTs', '{"signatures": ["a.b.c", "d.e.f"]}', /^bundle authz: .signatures.json: multiple JWTs not supported \(expected exactly one\)$/],
      ['a custom verifier plugin', '{"signatures": ["a.b.c"], "plugin": "vault"}', /^bundle authz: .signatures.json: custom verification plugins are not supported$/],
      ['a JWT that does not decode', '{"signatures": ["a.b.c"]}', /^bundle authz: .signatures.json: the JWT cannot be decoded: /],
    ])('GIVEN a .signatures.json with %s WHEN verified THEN it is refused', async (_name, content, message) => {
      await expect(verify(repack(rs256, { '.signatures.json': content }), SIGNING, { default: { key: RSA_PUBLIC } })).rejects.toThrow(message);
    });
  });
});

describe('globToRegExp (Go filepath.Match syntax)', () => {
  test.each([
    ['*.json', 'data.json', true],
    ['*.json', 'a/data.json', false],
    ['a/?.rego', 'a/x.rego', true],
    ['a/[xy].rego', 'a/y.rego', true],
    ['a/[^xy].rego', 'a/y.rego', false],
    ['a/[a-c].rego', 'a/b.rego', true],
    ['\\*.rego', '*.rego', true],
    ['x.json', 'xxjson', false],
  ])('GIVEN %s WHEN matching %s THEN %s', (pattern, file, matches) => {
    expect(globToRegExp(pattern).test(file)).toBe(matches);
  });
});
