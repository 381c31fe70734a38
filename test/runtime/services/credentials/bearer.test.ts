import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../../../runtime/src/errors';
import { BEARER_STRATEGY, BearerCredentials } from '../../../../runtime/src/services/credentials/bearer';

const KEY = 'services.acme.credentials.bearer';

/** The headers a request to the service carries once the credentials prepared it. */
async function preparedHeaders(credentials: BearerCredentials, headers: Record<string, string> = {}): Promise<Record<string, string>> {
  const request = { method: 'GET', url: new URL('https://bundles.example.com/v1/bundles/authz'), headers: { ...headers }, signal: AbortSignal.timeout(5_000) };
  await BEARER_STRATEGY.authorizer(credentials, { awsCredentials: () => { throw new Error('bearer needs no AWS credentials'); }, awsEndpoint: () => { throw new Error('bearer with a token needs no AWS endpoint'); } }).prepare(request);
  return request.headers;
}

describe('BEARER_STRATEGY', () => {
  test('GIVEN the key WHEN read THEN it is the section name OPA uses', () => {
    expect(BEARER_STRATEGY.key).toBe('bearer');
  });

  describe('parse', () => {
    test.each<[string, Record<string, unknown>, BearerCredentials]>([
      ['a token', { token: 't' }, { type: 'bearer', token: 't', tokenPath: undefined, tokenFrom: undefined, scheme: 'Bearer' }],
      ['a token_path and a scheme', { token_path: '/tmp/token', scheme: 'Token' }, { type: 'bearer', token: undefined, tokenPath: '/tmp/token', tokenFrom: undefined, scheme: 'Token' }],
    ])('GIVEN %s WHEN parsed THEN the scheme defaults to Bearer', (_name, section, expected) => {
      expect(BEARER_STRATEGY.parse(section, KEY)).toStrictEqual(expected);
    });

    test.each<[string, Record<string, unknown>, string]>([
      ['a token that is not a string', { token: 1 }, `${KEY}.token must be a string`],
      ['a token_path that is not a string', { token_path: 1 }, `${KEY}.token_path must be a string, got 1`],
      ['neither token nor token_path', {}, `${KEY} needs token, token_path or token_from`],
      ['an empty scheme', { token: 't', scheme: '' }, `${KEY}.scheme must be a non-empty string, got ""`],
      ['a null scheme', { token: 't', scheme: null }, `${KEY}.scheme must be a non-empty string, got null`],
    ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_name, section, message) => {
      expect(() => BEARER_STRATEGY.parse(section, KEY)).toThrow(new ConfigError(message));
    });

    test('GIVEN a bearer token WHEN it is invalid THEN the message never contains the token', () => {
      expect(() => BEARER_STRATEGY.parse({ token: 12345678 }, KEY)).toThrow(/^(?!.*12345678)/);
    });
  });

  describe('prepare', () => {
    let dir: string;
    beforeEach(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'bearer-test-')); });
    afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

    test('GIVEN a token WHEN a request is prepared THEN it carries Authorization beside its own headers', async () => {
      // WHEN
      const headers = await preparedHeaders(BEARER_STRATEGY.parse({ token: 's3cr3t' }, KEY), { 'x-tenant': 'acme' });
      // THEN
      expect(headers).toEqual({ 'x-tenant': 'acme', 'authorization': 'Bearer s3cr3t' });
    });

    test('GIVEN token_path and a scheme WHEN the file changes between requests THEN each carries the current token, trimmed', async () => {
      // GIVEN
      const tokenFile = path.join(dir, 'token');
      await writeFile(tokenFile, 'first\n');
      const credentials = BEARER_STRATEGY.parse({ token_path: tokenFile, scheme: 'Token' }, KEY);
      // WHEN
      const first = await preparedHeaders(credentials);
      await writeFile(tokenFile, '  second  ');
      const second = await preparedHeaders(credentials);
      // THEN
      expect([first.authorization, second.authorization]).toEqual(['Token first', 'Token second']);
    });

    test('GIVEN a token_path that does not exist WHEN a request is prepared THEN it rejects with the read error', async () => {
      // GIVEN
      const credentials = BEARER_STRATEGY.parse({ token_path: path.join(dir, 'missing') }, KEY);
      // WHEN
      const result = preparedHeaders(credentials);
      // THEN
      await expect(result).rejects.toThrow(/ENOENT/);
    });
  });
});
