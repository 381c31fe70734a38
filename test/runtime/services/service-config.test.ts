import { ConfigError } from '../../../runtime/src/errors';
import { DEFAULT_RESPONSE_HEADER_TIMEOUT_SECONDS, parseServices } from '../../../runtime/src/services/service-config';

describe('parseServices', () => {
  test('GIVEN no services WHEN parsed THEN the map is empty', () => {
    expect(parseServices(undefined).size).toBe(0);
    expect(parseServices(null).size).toBe(0);
  });

  test('GIVEN services as a map WHEN parsed THEN defaults are filled and the trailing slash dropped', () => {
    // WHEN
    const services = parseServices({ acme: { url: 'https://bundles.example.com/v1/' } });
    // THEN
    expect(services.get('acme')).toEqual({
      name: 'acme',
      url: 'https://bundles.example.com/v1',
      headers: {},
      responseHeaderTimeoutMs: DEFAULT_RESPONSE_HEADER_TIMEOUT_SECONDS * 1000,
      credentials: undefined,
    });
  });

  test('GIVEN services as a list (OPA accepts both forms) WHEN parsed THEN each is keyed by its name, in order', () => {
    // WHEN
    const services = parseServices([
      { name: 's1', url: 'http://s1', credentials: { bearer: { token: 't' } } },
      { name: 's2', url: 'http://s2', response_header_timeout_seconds: 3, credentials: { s3_signing: { environment_credentials: {} } } },
    ]);
    // THEN
    expect([...services.keys()]).toEqual(['s1', 's2']);
    expect(services.get('s1')!.credentials).toEqual({ type: 'bearer', token: 't', tokenPath: undefined, scheme: 'Bearer' });
    expect(services.get('s2')!.credentials).toEqual({ type: 's3_signing', source: 'environment', service: 's3' });
    expect(services.get('s2')!.responseHeaderTimeoutMs).toBe(3000);
  });

  test.each<[string, unknown, string]>([
    ['not an object', 'x', 'services must be an object or a list, got "x"'],
    ['a list entry without a name', [{ url: 'http://a' }], 'services[0].name must be a non-empty string, got undefined'],
    ['a duplicate name', [{ name: 'a', url: 'http://a' }, { name: 'a', url: 'http://b' }], 'services: two services are named "a"'],
    ['a service that is not an object', { a: 3 }, 'services.a must be an object, got 3'],
    ['a url that is not http(s)', { a: { url: 'ftp://x' } }, 'services.a.url must be an http(s) URL, got "ftp://x"'],
    ['a header that is not a string', { a: { url: 'http://a', headers: { 'x-n': 1 } } }, 'services.a.headers.x-n must be a string, got 1'],
    ['headers that are not an object', { a: { url: 'http://a', headers: [] } }, 'services.a.headers must be an object, got []'],
    ['a timeout of zero', { a: { url: 'http://a', response_header_timeout_seconds: 0 } }, 'services.a.response_header_timeout_seconds must be a number of seconds > 0, got 0'],
    ['two kinds of credentials', { a: { url: 'http://a', credentials: { bearer: { token: 't' }, s3_signing: {} } } }, 'services.a.credentials must hold one kind of credentials, got bearer, s3_signing'],
    // One row per kind shows its parser gets the full key; the rest of its checks are in credentials/.
    ['a bearer without token', { a: { url: 'http://a', credentials: { bearer: {} } } }, 'services.a.credentials.bearer needs token, token_path or token_from'],
    ['an empty s3_signing', { a: { url: 'http://a', credentials: { s3_signing: {} } } }, 'services.a.credentials.s3_signing supports environment_credentials (the credentials Lambda gives the extension), got none'],
    ['oauth2 credentials', { a: { url: 'http://a', credentials: { oauth2: {} } } }, 'services.a.credentials.oauth2 is not supported; use bearer or s3_signing'],
    ['client_tls credentials', { a: { url: 'http://a', credentials: { client_tls: {} } } }, 'services.a.credentials.client_tls is not supported; use bearer or s3_signing'],
    ['credentials that are not an object', { a: { url: 'http://a', credentials: 'token' } }, 'services.a.credentials must be an object, got "token"'],
    ['a kind of credentials that is not an object', { a: { url: 'http://a', credentials: { bearer: null } } }, 'services.a.credentials.bearer must be an object, got null'],
  ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_name, raw, message) => {
    expect(() => parseServices(raw)).toThrow(new ConfigError(message));
  });

  test('GIVEN empty or null credentials WHEN parsed THEN the service has none (as OPA reads them)', () => {
    // WHEN
    const services = parseServices({ a: { url: 'http://a', credentials: {} }, b: { url: 'http://b', credentials: null } });
    // THEN
    expect([services.get('a')!.credentials, services.get('b')!.credentials]).toEqual([undefined, undefined]);
  });
});
