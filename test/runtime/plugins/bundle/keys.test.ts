import { ConfigError } from '../../../../runtime/src/errors';
import { parseKeys } from '../../../../runtime/src/plugins/bundle/keys';

describe('parseKeys', () => {
  test('GIVEN no keys WHEN parsed THEN the map is empty', () => {
    expect(parseKeys(undefined).size).toBe(0);
  });

  test('GIVEN keys WHEN parsed THEN RS256 is the default algorithm and scope is kept', () => {
    const keys = parseKeys({ pub: { key: 'PEM' }, hmac: { algorithm: 'HS256', key: 's', scope: 'read' }, signer: { private_key: 'PEM' } });
    expect(keys.get('pub')).toEqual({ name: 'pub', algorithm: 'RS256', key: 'PEM', privateKey: undefined, scope: undefined });
    expect(keys.get('hmac')).toEqual({ name: 'hmac', algorithm: 'HS256', key: 's', privateKey: undefined, scope: 'read' });
    expect(keys.get('signer')).toMatchObject({ privateKey: 'PEM', key: undefined });
  });

  test.each<[string, unknown, string]>([
    ['keys that are not an object', [], 'keys must be an object of named keys, got []'],
    ['a key that is not an object', { k: 'pem' }, 'keys.k must be an object, got "pem"'],
    ['an unknown algorithm', { k: { key: 'x', algorithm: 'none' } }, 'keys.k.algorithm must be one of ES256, ES384, ES512, HS256, HS384, HS512, PS256, PS384, PS512, RS256, RS384, RS512, got "none"'],
    ['a key that is not a string', { k: { key: 1 } }, 'keys.k.key must be a string'],
    ['a private_key that is not a string', { k: { private_key: 1 } }, 'keys.k.private_key must be a string'],
    ['a scope that is not a string', { k: { key: 'x', scope: 1 } }, 'keys.k.scope must be a string'],
    ['neither key nor private_key', { k: { algorithm: 'RS256' } }, 'keys.k needs key (or private_key)'],
  ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_name, section, message) => {
    expect(() => parseKeys(section)).toThrow(ConfigError);
    expect(() => parseKeys(section)).toThrow(message);
  });
});
