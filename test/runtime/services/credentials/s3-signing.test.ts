import type { AwsCredentials } from '../../../../runtime/src/config/env';
import { ConfigError } from '../../../../runtime/src/errors';
import type { OutgoingRequest } from '../../../../runtime/src/services/credentials/credentials-strategy';
import { S3_SIGNING_STRATEGY, S3SigningCredentials } from '../../../../runtime/src/services/credentials/s3-signing';
import { RawReply, send } from '../../../support/http-client';
import { RecordingServer } from '../../../support/recording-server';
import { sigv4Problem } from '../../../support/sigv4-verifier';
import { within } from '../../../support/within';

const KEY = 'services.s3.credentials.s3_signing';
/** s3_signing calls no AWS service of its own. */
const NO_ENDPOINT = () => { throw new Error('s3_signing needs no AWS endpoint'); };

const CREDENTIALS: AwsCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExample=',
  region: 'eu-west-1',
};

describe('S3_SIGNING_STRATEGY', () => {
  test('GIVEN the key WHEN read THEN it is the section name OPA uses', () => {
    expect(S3_SIGNING_STRATEGY.key).toBe('s3_signing');
  });

  describe('parse', () => {
    test.each<[string, Record<string, unknown>, S3SigningCredentials]>([
      ['environment_credentials', { environment_credentials: {} }, { type: 's3_signing', source: 'environment', service: 's3' }],
      ['environment_credentials and another service', { environment_credentials: {}, service: 'execute-api' }, { type: 's3_signing', source: 'environment', service: 'execute-api' }],
    ])('GIVEN %s WHEN parsed THEN the service defaults to s3', (_name, section, expected) => {
      expect(S3_SIGNING_STRATEGY.parse(section, KEY)).toStrictEqual(expected);
    });

    test.each<[string, Record<string, unknown>, string]>([
      ['credentials from the instance metadata', { metadata_credentials: {} }, `${KEY} supports environment_credentials (the credentials Lambda gives the extension), got metadata_credentials`],
      ['a web identity and a service', { web_identity_credentials: {}, service: 's3' }, `${KEY} supports environment_credentials (the credentials Lambda gives the extension), got web_identity_credentials`],
      ['no source', {}, `${KEY} supports environment_credentials (the credentials Lambda gives the extension), got none`],
      ['an empty service', { environment_credentials: {}, service: '' }, `${KEY}.service must be a non-empty string, got ""`],
      ['a service that is not a string', { environment_credentials: {}, service: 3 }, `${KEY}.service must be a non-empty string, got 3`],
    ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_name, section, message) => {
      expect(() => S3_SIGNING_STRATEGY.parse(section, KEY)).toThrow(new ConfigError(message));
    });
  });

  describe('authorizer', () => {
    test('GIVEN an environment without AWS credentials WHEN the authorizer is made THEN it fails at once with their error', () => {
      // GIVEN
      const missing = () => { throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set'); };
      // WHEN / THEN
      const credentials = S3_SIGNING_STRATEGY.parse({ environment_credentials: {} }, KEY);
      expect(() => S3_SIGNING_STRATEGY.authorizer(credentials, { awsCredentials: missing, awsEndpoint: NO_ENDPOINT }))
        .toThrow(new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set'));
    });
  });

  describe('prepare, checked by a SigV4 verifier (aws4)', () => {
    /** One server for the block: it checks each request against the AWS service the test signs for. */
    const server = new RecordingServer();
    let signingFor = 's3';
    beforeAll(async () => {
      server.handler = (req, res, body) => {
        const problem = sigv4Problem(req, body, { ...CREDENTIALS, service: signingFor });
        res.writeHead(problem ? 403 : 200).end(problem ?? 'verified');
      };
      await server.listen();
    });
    afterAll(() => server.close());

    interface Case {
      readonly service?: string;
      readonly method?: string;
      readonly resource: string;
      readonly body?: Buffer;
      readonly credentials?: AwsCredentials;
    }

    /** Prepares a request to the server as the client would, sends it as prepared, and returns the verifier's answer. */
    async function signAndSend({ service = 's3', method = 'GET', resource, body, credentials = CREDENTIALS }: Case): Promise<RawReply> {
      signingFor = service;
      const section = { environment_credentials: {}, service };
      const context = { awsCredentials: () => credentials, awsEndpoint: NO_ENDPOINT };
      const authorizer = S3_SIGNING_STRATEGY.authorizer(S3_SIGNING_STRATEGY.parse(section, KEY), context);
      const url = new URL(`${server.url}/${resource}`);
      // As the client hands them over: lower case, with content-length (and a type) for a body.
      const headers: Record<string, string> = body ? { 'x-tenant': 'acme', 'content-type': 'application/json', 'content-length': String(body.length) } : { 'x-tenant': 'acme' };
      const request: OutgoingRequest = { method, url, headers, body, signal: AbortSignal.timeout(5_000) };
      await within(authorizer.prepare(request), 5_000, 'prepare');
      return send(server.url, { method, path: url.pathname + url.search, headers: request.headers, body });
    }

    test.each<[string, Case]>([
      ['a plain key', { resource: 'my-bucket/bundles/authz.tar.gz' }],
      ['a key with a space and a query', { resource: 'my-bucket/my%20bundle.tar.gz?versionId=3&x=a%2Fb' }],
      ['a POST with a body', { method: 'POST', resource: 'my-bucket/logs', body: Buffer.from('[{"a":1}]') }],
      // aws4 reads only the first value of a repeated key for s3, so repeated keys are checked here.
      ['another service, whose path is encoded twice', { service: 'execute-api', resource: 'prod/my%20api/status?x=b&x=a%2Fc' }],
    ])('GIVEN %s WHEN the request is prepared THEN the verifier accepts it, session token and configured headers kept', async (_name, request) => {
      // WHEN
      const reply = await signAndSend(request);
      // THEN
      expect(reply.text).toBe('verified');
      expect(reply.status).toBe(200);
      expect(server.requests.at(-1)!.headers).toMatchObject({ 'x-tenant': 'acme', 'x-amz-security-token': CREDENTIALS.sessionToken });
    });

    test.each([
      ['a wrong secret key', { ...CREDENTIALS, secretAccessKey: 'not-the-secret' }, /signature mismatch/],
      ['no session token', { ...CREDENTIALS, sessionToken: undefined }, /x-amz-security-token is not signed/],
      ['another region', { ...CREDENTIALS, region: 'us-east-1' }, /credential scope us-east-1\/s3/],
    ])('GIVEN %s WHEN the request is prepared THEN the verifier refuses it', async (_name, credentials, reason) => {
      // WHEN
      const reply = await signAndSend({ resource: 'my-bucket/k', credentials });
      // THEN
      expect(reply.status).toBe(403);
      expect(reply.text).toMatch(reason);
    });
  });
});
