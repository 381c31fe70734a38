/**
 * `credentials.bearer.token_from`: the token read from Secrets Manager or SSM with the function's
 * credentials, against a loopback stand-in that verifies SigV4, kept, and read again when the
 * service refuses it.
 */
import type { AwsCredentials, AwsEndpointService } from '../../../../runtime/src/config/env';
import { ExtensionEnvironment } from '../../../../runtime/src/config/env';
import { PolicyEngine } from '../../../../runtime/src/engine/policy-engine';
import { ConfigError } from '../../../../runtime/src/errors';
import { JsonLogger } from '../../../../runtime/src/logger';
import { createBundlePlugin } from '../../../../runtime/src/plugins/bundle/create-bundle-plugin';
import { BEARER_STRATEGY, BearerCredentials } from '../../../../runtime/src/services/credentials/bearer';
import { SECRETS_MANAGER, SSM } from '../../../../runtime/src/services/credentials/token-source';
import { ServiceClient, ServiceRequestError } from '../../../../runtime/src/services/service-client';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { buildAuthz } from '../../../support/authz-bundles';
import { AwsSecretsStandIn } from '../../../support/aws-secrets-stand-in';
import { RecordingServer } from '../../../support/recording-server';
import { within } from '../../../support/within';

const KEY = 'services.acme.credentials.bearer';
const CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIDSECRETS', secretAccessKey: 'secrets/key+example', sessionToken: 'secrets-session', region: 'eu-west-1' };
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:bundle-token-AbCdEf';
/** A token no message or log line may ever hold. */
const TOKEN = 'tok-3f9a1c7e-never-logged';
const ROTATED = 'tok-rotated-5b2e-never-logged';

describe('bearer token_from: parse', () => {
  test.each<[string, Record<string, unknown>, Partial<BearerCredentials>]>([
    ['a secret', { token_from: { secrets_manager: { secret_id: SECRET_ARN } } },
      { tokenFrom: { kind: 'secrets_manager', key: `${KEY}.token_from.secrets_manager`, secretId: SECRET_ARN, jsonField: undefined }, scheme: 'Bearer' }],
    ['a field of a secret and a scheme', { scheme: 'Token', token_from: { secrets_manager: { secret_id: 'bundle-token', json_field: 'token' } } },
      { tokenFrom: { kind: 'secrets_manager', key: `${KEY}.token_from.secrets_manager`, secretId: 'bundle-token', jsonField: 'token' }, scheme: 'Token' }],
    ['a parameter', { token_from: { ssm_parameter: { name: '/opa/token' } } },
      { tokenFrom: { kind: 'ssm_parameter', key: `${KEY}.token_from.ssm_parameter`, name: '/opa/token' }, scheme: 'Bearer' }],
  ])('GIVEN %s WHEN parsed THEN the source is kept, with no token', (_name, section, expected) => {
    expect(BEARER_STRATEGY.parse(section, KEY)).toStrictEqual({ type: 'bearer', token: undefined, tokenPath: undefined, ...expected });
  });

  const FROM = `${KEY}.token_from`;
  test.each<[string, Record<string, unknown>, string]>([
    ['token and token_from', { token: TOKEN, token_from: { ssm_parameter: { name: 'p' } } }, `${KEY} takes one of token, token_path and token_from, got token and token_from`],
    ['token_path and token_from', { token_path: '/t', token_from: { ssm_parameter: { name: 'p' } } }, `${KEY} takes one of token, token_path and token_from, got token_path and token_from`],
    ['nothing', {}, `${KEY} needs token, token_path or token_from`],
    ['a token_from that is not an object', { token_from: 'arn' }, `${FROM} must be an object, got "arn"`],
    ['an empty token_from', { token_from: {} }, `${FROM} must hold one of secrets_manager or ssm_parameter, got none`],
    ['two sources', { token_from: { secrets_manager: { secret_id: 's' }, ssm_parameter: { name: 'p' } } }, `${FROM} must hold one of secrets_manager or ssm_parameter, got secrets_manager, ssm_parameter`],
    ['an unknown source', { token_from: { vault: { path: 'p' } } }, `${FROM} must hold one of secrets_manager or ssm_parameter, got vault`],
    ['a misspelt key', { token_from: { secrets_manager: { secretId: 's' } } }, `${FROM}.secrets_manager does not take secretId; it takes secret_id, json_field`],
    ['no secret_id', { token_from: { secrets_manager: { json_field: 'token' } } }, `${FROM}.secrets_manager.secret_id must be a non-empty string, got undefined`],
    ['an empty secret_id (an unset ${VAR})', { token_from: { secrets_manager: { secret_id: '' } } },
      `${FROM}.secrets_manager.secret_id must be a non-empty string, got "" (is the variable it refers to set in the function's environment?)`],
    ['a json_field that is not a string', { token_from: { secrets_manager: { secret_id: 's', json_field: 1 } } }, `${FROM}.secrets_manager.json_field must be a non-empty string, got 1`],
    ['a parameter without a name', { token_from: { ssm_parameter: {} } }, `${FROM}.ssm_parameter.name must be a non-empty string, got undefined`],
    ['a parameter that is not an object', { token_from: { ssm_parameter: null } }, `${FROM}.ssm_parameter must be an object, got null`],
  ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_name, section, message) => {
    expect(() => BEARER_STRATEGY.parse(section, KEY)).toThrow(new ConfigError(message));
  });

  test('GIVEN a whole OPA config WHEN its services are parsed THEN the section is found under the service', () => {
    const services = parseServices({ acme: { url: 'https://bundles.example.com', credentials: { bearer: { token_from: { ssm_parameter: { name: 'p' } } } } } });
    expect(services.get('acme')!.credentials).toMatchObject({ type: 'bearer', tokenFrom: { kind: 'ssm_parameter', name: 'p' } });
  });
});

describe('AWS endpoints (ExtensionEnvironment.awsEndpoint), as the AWS SDKs find them', () => {
  const region = { AWS_REGION: 'eu-west-1' };
  test.each<[string, Record<string, string>, AwsEndpointService, string]>([
    ['the regional endpoint', region, SECRETS_MANAGER, 'https://secretsmanager.eu-west-1.amazonaws.com'],
    ['the regional endpoint of SSM, from AWS_DEFAULT_REGION', { AWS_DEFAULT_REGION: 'us-east-2' }, SSM, 'https://ssm.us-east-2.amazonaws.com'],
    ['a China region', { AWS_REGION: 'cn-north-1' }, SSM, 'https://ssm.cn-north-1.amazonaws.com.cn'],
    ['AWS_ENDPOINT_URL', { ...region, AWS_ENDPOINT_URL: 'http://127.0.0.1:4566/' }, SSM, 'http://127.0.0.1:4566'],
    ['the service\'s own variable over AWS_ENDPOINT_URL', { ...region, AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'https://sm.internal' }, SECRETS_MANAGER, 'https://sm.internal'],
    ['another service\'s variable, not used', { ...region, AWS_ENDPOINT_URL_SECRETS_MANAGER: 'https://sm.internal' }, SSM, 'https://ssm.eu-west-1.amazonaws.com'],
    ['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS', { ...region, AWS_ENDPOINT_URL_SSM: 'https://ssm.internal', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' }, SSM, 'https://ssm.eu-west-1.amazonaws.com'],
  ])('GIVEN %s WHEN asked THEN the endpoint is found', (_name, vars, service, expected) => {
    expect(new ExtensionEnvironment(vars).awsEndpoint(service)).toBe(expected);
  });

  test.each<[string, Record<string, string>, string]>([
    ['no region', {}, 'AWS_REGION is not set: AWS Secrets Manager needs it'],
    ['a region that is no name', { AWS_REGION: 'eu-west-1.evil.com/' }, 'AWS_REGION must be a region name, got "eu-west-1.evil.com/"'],
    ['an endpoint that is no URL', { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'localhost:4566' }, 'AWS_ENDPOINT_URL_SECRETS_MANAGER must be an http(s) URL, got "localhost:4566"'],
  ])('GIVEN %s WHEN asked THEN a ConfigError names the variable', (_name, vars, message) => {
    expect(() => new ExtensionEnvironment(vars).awsEndpoint(SECRETS_MANAGER)).toThrow(new ConfigError(message));
  });
});

describe('bearer token_from: reading the secret', () => {
  let aws: AwsSecretsStandIn;
  let service: RecordingServer;

  beforeEach(async () => {
    aws = new AwsSecretsStandIn(CREDENTIALS);
    await aws.listen();
    service = new RecordingServer();
    await service.listen();
  });

  afterEach(async () => {
    await aws.close();
    await service.close();
  });

  /** A client of `service` whose bearer token comes from `tokenFrom`, as the extension builds it. */
  function client(tokenFrom: Record<string, unknown>, credentials: () => AwsCredentials = () => CREDENTIALS, scheme?: string): ServiceClient {
    const config = parseServices({ acme: { url: service.url, credentials: { bearer: { token_from: tokenFrom, ...(scheme ? { scheme } : {}) } } } }).get('acme')!;
    return new ServiceClient(config, credentials, () => aws.url);
  }

  async function get(c: ServiceClient): Promise<number> {
    const response = await within(c.request({ method: 'GET', path: 'bundles/authz', signal: AbortSignal.timeout(5_000) }), 6_000, 'request');
    return response.status;
  }

  /** Every Authorization the service received, in order. */
  function authorizations(): unknown[] {
    return service.requests.map((r) => r.headers.authorization);
  }

  test.each<[string, Record<string, unknown>, (s: AwsSecretsStandIn) => void, string | undefined, unknown]>([
    ['a secret', { secrets_manager: { secret_id: SECRET_ARN } }, (s) => s.secrets.set(SECRET_ARN, `${TOKEN}\n`), undefined,
      { target: 'secretsmanager.GetSecretValue', input: { SecretId: SECRET_ARN }, status: 200 }],
    ['a JSON field of a secret, with a scheme', { secrets_manager: { secret_id: 'bundle-token', json_field: 'token' } },
      (s) => s.secrets.set('bundle-token', JSON.stringify({ user: 'opa', token: TOKEN })), 'Token',
      { target: 'secretsmanager.GetSecretValue', input: { SecretId: 'bundle-token' }, status: 200 }],
    ['an SSM SecureString', { ssm_parameter: { name: '/opa/token' } }, (s) => s.parameters.set('/opa/token', TOKEN), undefined,
      { target: 'AmazonSSM.GetParameter', input: { Name: '/opa/token', WithDecryption: true }, status: 200 }],
  ])('GIVEN %s WHEN the client is made and two requests are sent THEN it was read once, signed, and both carry the token', async (_name, tokenFrom, store, scheme, call) => {
    // GIVEN
    store(aws);
    // WHEN
    const c = client(tokenFrom, () => CREDENTIALS, scheme);
    await within(waitFor(() => aws.calls().length === 1), 5_000, 'the read at init');
    const statuses = [await get(c), await get(c)];
    // THEN: read when the client was made (init), before any request, and kept.
    expect(aws.calls()).toEqual([call]);
    expect(statuses).toEqual([200, 200]);
    expect(authorizations()).toEqual([`${scheme ?? 'Bearer'} ${TOKEN}`, `${scheme ?? 'Bearer'} ${TOKEN}`]);
  });

  test.each<[string, Record<string, unknown>, (s: AwsSecretsStandIn) => void, string]>([
    ['a secret that does not exist', { secrets_manager: { secret_id: 'gone' } }, () => undefined,
      `${KEY}.token_from.secrets_manager: GetSecretValue of "gone" failed: AWS Secrets Manager answered HTTP 400 ResourceNotFoundException: Secrets Manager can't find the specified secret.`],
    ['a parameter that does not exist', { ssm_parameter: { name: '/gone' } }, () => undefined,
      `${KEY}.token_from.ssm_parameter: GetParameter of "/gone" failed: AWS Systems Manager answered HTTP 400 ParameterNotFound`],
    ['a role that may not read it', { secrets_manager: { secret_id: 's' } }, (s) => { s.failure = { status: 400, type: 'AccessDeniedException', message: 'User is not authorized to perform: secretsmanager:GetSecretValue' }; },
      `${KEY}.token_from.secrets_manager: GetSecretValue of "s" failed: AWS Secrets Manager answered HTTP 400 AccessDeniedException: User is not authorized to perform: secretsmanager:GetSecretValue`],
    ['a json_field of a secret that is not JSON', { secrets_manager: { secret_id: 's', json_field: 'token' } }, (s) => s.secrets.set('s', TOKEN),
      `${KEY}.token_from.secrets_manager: GetSecretValue of "s": json_field "token" is set but the secret is not a JSON object`],
    ['a json_field the secret lacks', { secrets_manager: { secret_id: 's', json_field: 'tokn' } }, (s) => s.secrets.set('s', JSON.stringify({ token: TOKEN, user: 'u' })),
      `${KEY}.token_from.secrets_manager: GetSecretValue of "s": the secret has no field "tokn"; its fields are "token", "user"`],
    ['a json_field that is not a string', { secrets_manager: { secret_id: 's', json_field: 'token' } }, (s) => s.secrets.set('s', JSON.stringify({ token: { value: TOKEN } })),
      `${KEY}.token_from.secrets_manager: GetSecretValue of "s": field "token" of the secret must be a string, got a object`],
    ['a binary secret', { secrets_manager: { secret_id: 's' } }, (s) => s.secrets.set('s', Buffer.from(TOKEN)),
      `${KEY}.token_from.secrets_manager: GetSecretValue of "s": the secret holds a SecretBinary; store the token as a string`],
    ['an empty secret', { secrets_manager: { secret_id: 's' } }, (s) => s.secrets.set('s', ' \n'),
      `${KEY}.token_from.secrets_manager: GetSecretValue of "s": the token is empty`],
  ])('GIVEN %s WHEN a request is sent THEN it fails with a message that names the secret and never holds a value', async (_name, tokenFrom, store, message) => {
    // GIVEN
    store(aws);
    // WHEN
    const result = get(client(tokenFrom));
    // THEN
    await expect(result).rejects.toThrow(message);
    await expect(result).rejects.toThrow(/^(?!.*tok-)/s);
    expect(service.requests).toEqual([]);
  });

  test('GIVEN the wrong secret key WHEN the secret is read THEN the stand-in refuses the signature and the message says so', async () => {
    aws.secrets.set('s', TOKEN);
    const result = get(client({ secrets_manager: { secret_id: 's' } }, () => ({ ...CREDENTIALS, secretAccessKey: 'wrong' })));
    await expect(result).rejects.toThrow(/GetSecretValue of "s" failed: AWS Secrets Manager answered HTTP 403 InvalidSignatureException: signature mismatch/);
  });

  test('GIVEN no AWS credentials in the environment WHEN the client is made THEN a ConfigError names the key', () => {
    const missing = () => { throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set'); };
    expect(() => client({ ssm_parameter: { name: 'p' } }, missing))
      .toThrow(`${KEY}.token_from.ssm_parameter reads AWS Systems Manager with the function's credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set`);
  });

  test('GIVEN the secret cannot be read at init WHEN it can later THEN the next request reads it (a failed read is not kept)', async () => {
    // GIVEN
    const c = client({ secrets_manager: { secret_id: 's' } });
    await expect(get(c)).rejects.toThrow(/ResourceNotFoundException/);
    // WHEN
    aws.secrets.set('s', TOKEN);
    // THEN
    expect(await get(c)).toBe(200);
    expect(authorizations()).toEqual([`Bearer ${TOKEN}`]);
  });

  describe('rotation', () => {
    test.each([401, 403])('GIVEN a rotated secret WHEN the service answers %i to the old token THEN the secret is read again once and the request sent again with the new one', async (refusal) => {
      // GIVEN
      aws.secrets.set(SECRET_ARN, TOKEN);
      const c = client({ secrets_manager: { secret_id: SECRET_ARN } });
      expect(await get(c)).toBe(200);
      aws.secrets.set(SECRET_ARN, ROTATED);
      service.answer = (r) => (r.headers.authorization === `Bearer ${ROTATED}` ? 200 : refusal);
      // WHEN
      const status = await get(c);
      // THEN
      expect(status).toBe(200);
      expect(authorizations()).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`, `Bearer ${ROTATED}`]);
      expect(aws.calls()).toHaveLength(2);
      // AND: the new token is kept.
      expect(await get(c)).toBe(200);
      expect(aws.calls()).toHaveLength(2);
    });

    test('GIVEN a secret that did not change WHEN the service refuses it THEN it is read again once and the refusal returned, not retried', async () => {
      aws.secrets.set('s', TOKEN);
      const c = client({ secrets_manager: { secret_id: 's' } });
      service.answer = 401;
      expect(await get(c)).toBe(401);
      expect(service.requests).toHaveLength(1);
      expect(aws.calls()).toHaveLength(2);
    });

    test('GIVEN a refusal WHEN reading the secret again fails THEN the request fails with both reasons, the token in neither', async () => {
      aws.secrets.set('s', TOKEN);
      const c = client({ secrets_manager: { secret_id: 's' } });
      expect(await get(c)).toBe(200);
      service.answer = 403;
      aws.failure = { status: 500, type: 'InternalServiceError', message: 'try again' };
      const result = get(c);
      await expect(result).rejects.toBeInstanceOf(ServiceRequestError);
      await expect(result).rejects.toThrow(
        `service acme: answered 403 and reading its credentials again failed: ${KEY}.token_from.secrets_manager: GetSecretValue of "s" failed: AWS Secrets Manager answered HTTP 500 InternalServiceError: try again`);
    });

    test('GIVEN requests refused at the same time WHEN they read the secret again THEN one read serves them all', async () => {
      aws.secrets.set('s', TOKEN);
      const c = client({ secrets_manager: { secret_id: 's' } });
      expect(await get(c)).toBe(200);
      aws.secrets.set('s', ROTATED);
      service.answer = (r) => (r.headers.authorization === `Bearer ${ROTATED}` ? 200 : 401);
      expect(await Promise.all([get(c), get(c), get(c)])).toEqual([200, 200, 200]);
      expect(aws.calls()).toHaveLength(2);
    });

    test('GIVEN a token from token_path or token WHEN the service answers 401 THEN nothing is retried', async () => {
      const config = parseServices({ acme: { url: service.url, credentials: { bearer: { token: TOKEN } } } }).get('acme')!;
      service.answer = 401;
      expect(await get(new ServiceClient(config, () => CREDENTIALS, () => aws.url))).toBe(401);
      expect(service.requests).toHaveLength(1);
    });
  });

  test('GIVEN a bundle plugin whose token rotates and whose secret read fails WHEN it logs THEN no line holds a token', async () => {
    // GIVEN
    aws.secrets.set('s', JSON.stringify({ token: TOKEN }));
    const [r1, r2] = await Promise.all([buildAuthz('r1'), buildAuthz('r2')]);
    let accepted = TOKEN;
    let archive = r1;
    service.handler = (req, res) => {
      if (req.headers.authorization === `Bearer ${accepted}`) res.writeHead(200).end(archive);
      else res.writeHead(401).end(`bad token ${req.headers.authorization}`);
    };
    // The extension's own logger at its most verbose, writing what would go to CloudWatch.
    const written: string[] = [];
    const logger = new JsonLogger({ level: 'debug', write: (line) => written.push(line) });
    const opaConfig = {
      services: { acme: { url: service.url, credentials: { bearer: { token_from: { secrets_manager: { secret_id: 's', json_field: 'token' } } } } } },
      bundles: { authz: { service: 'acme' } },
    };
    const services = parseServices(opaConfig.services);
    const clients = new Map([...services].map(([name, s]) => [name, new ServiceClient(s, () => CREDENTIALS, () => aws.url)]));
    const plugin = createBundlePlugin({ opaConfig, services, clients, engine: new PolicyEngine(), logger })!;
    // WHEN: a good round; the secret rotates and the server takes only the new token; it rotates
    // again and the secret cannot be read.
    await plugin.trigger(AbortSignal.timeout(5_000));
    aws.secrets.set('s', JSON.stringify({ token: ROTATED }));
    accepted = ROTATED;
    archive = r2;
    await plugin.trigger(AbortSignal.timeout(5_000));
    accepted = 'another';
    aws.failure = { status: 400, type: 'AccessDeniedException', message: 'denied' };
    // The round fails (and says so to the scheduler): the plugin's log is what is checked.
    await expect(plugin.trigger(AbortSignal.timeout(5_000))).rejects.toThrow(/AccessDeniedException/);
    // THEN
    const text = written.join('');
    expect(written.map((l) => JSON.parse(l)).map((l) => [l.msg, l.revision])).toEqual([['bundle activated', 'r1'], ['bundle activated', 'r2'], ['bundle not activated', undefined]]);
    expect(text).toMatch(/answered 401 and reading its credentials again failed: .*AccessDeniedException: denied/);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(ROTATED);
  });
});

/** Polls `condition` until it holds. */
async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}
