import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalJson, hashBundleFile, isStructuredFile } from '../../../../runtime/src/plugins/bundle/file-hash';
import { OPA_BIN } from '../../../support/opa';

describe('canonicalJson (OPA v1/bundle/hash.go)', () => {
  test.each([
    ['objects with keys sorted and no whitespace', '{ "b": 1, "a": { "d": [1, 2], "c": null } }', '{"a":{"c":null,"d":[1,2]},"b":1}'],
    ['numbers as written (Go keeps json.Number text)', '[1.0, 1e3, -0, 2.50]', '[1.0,1e3,-0,2.50]'],
    ['strings as Go encodes them, without HTML escaping', '["<a&b>", "\\u00e9", "\\u2028", "tab\\t"]', '["<a&b>","é","\\u2028","tab\\t"]'],
    ['keys in UTF-8 byte order', '{"\uFF21": 1, "\uD83D\uDE00": 2, "a": 3}', '{"a":3,"\uFF21":1,"\uD83D\uDE00":2}'],
    ['a later duplicate key winning', '{"a": 1, "a": 2}', '{"a":2}'],
    ['scalars at the top', ' true ', 'true'],
  ])('GIVEN %s WHEN canonicalized THEN the text is Go\'s', (_name, input, expected) => {
    expect(canonicalJson(input)).toBe(expected);
  });

  test.each([
    ['trailing data', '{} x', 'invalid JSON at offset 3: unexpected data after the top-level value'],
    ['an unterminated string', '"abc', 'invalid JSON at offset 4: unterminated string'],
    ['a bad literal', 'nul', 'invalid JSON at offset 0: invalid literal'],
    ['a missing colon', '{"a" 1}', "invalid JSON at offset 5: expected ':'"],
    ['a non-string key', '{1: 2}', 'invalid JSON at offset 1: expected a string key'],
    ['a bad value', '[+1]', 'invalid JSON at offset 1: invalid value'],
    ['a control character in a string', '"a\nb"', 'invalid JSON at offset 2: control character in string'],
  ])('GIVEN %s WHEN canonicalized THEN it fails with the offset', (_name, input, message) => {
    expect(() => canonicalJson(input)).toThrow(message);
  });
});

describe('hashBundleFile', () => {
  test('GIVEN a Rego file WHEN hashed THEN its bytes are hashed', () => {
    const data = Buffer.from('package x\n');
    expect(hashBundleFile('x.rego', data, 'SHA-256')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  test('GIVEN data.yaml WHEN hashed THEN its canonical JSON form is hashed', () => {
    expect(hashBundleFile('a/data.yaml', Buffer.from('b: 1\na: [x]\n'), 'SHA-256')).toBe(createHash('sha256').update('{"a":["x"],"b":1}').digest('hex'));
  });

  test('GIVEN data.yaml signed by the pinned OPA WHEN hashed THEN the digest is the one OPA signed (YAML read as go-yaml reads it, numbers as written)', () => {
    // GIVEN: scalars that a YAML 1.2 reader or JavaScript's numbers would read otherwise.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-sign-yaml-'));
    try {
      const yaml = 'n: 12345678901234567890\nf: 1.0\ns: yes\no: 0777\nu: 1_000\nt: 2001-12-14\nbig: 123456789012345678901234567890\nkeys: {b: 1, a: 2}\n';
      fs.mkdirSync(path.join(dir, 'b', 'authz'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'b', 'authz', 'data.yaml'), yaml);
      execFileSync(OPA_BIN, ['sign', '--signing-key', 'secret', '--signing-alg', 'HS256', '--bundle', 'b', '-o', dir], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      const token = JSON.parse(fs.readFileSync(path.join(dir, '.signatures.json'), 'utf8')).signatures[0] as string;
      const files = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).files as Array<{ name: string; hash: string }>;
      // WHEN
      const digest = hashBundleFile('authz/data.yaml', Buffer.from(yaml), 'SHA-256');
      // THEN
      expect(digest).toBe(files.find((f) => f.name === 'b/authz/data.yaml')!.hash);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('GIVEN an algorithm OPA does not know WHEN hashing THEN it fails', () => {
    expect(() => hashBundleFile('x', Buffer.alloc(0), 'SHA-3')).toThrow('unsupported hashing algorithm: SHA-3');
  });

  test.each([
    ['data.json', true], ['a/b/data.json', true], ['data.yaml', true], ['data.yml', false], ['.manifest', true], ['x.json', false], ['policy.wasm', false],
  ])('GIVEN %s WHEN asked THEN structured is %s (bundle.IsStructuredDoc)', (file, structured) => {
    expect(isStructuredFile(file)).toBe(structured);
  });
});
