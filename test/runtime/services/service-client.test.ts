import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { sigv4Problem } from './sigv4-verifier';
import type { AwsCredentials } from '../../../runtime/src/config/env';
import { ConfigError } from '../../../runtime/src/errors';
import { createServiceClients, ServiceClient, ServiceRequestError } from '../../../runtime/src/services/service-client';
import { parseServices } from '../../../runtime/src/services/service-config';
import { LoopbackServer } from '../plugins/bundle/support/loopback-server';

const CREDENTIALS: AwsCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN//////////wEaDExample=',
  region: 'eu-west-1',
};

function clientFor(url: string, service: Record<string, unknown>, credentials: () => AwsCredentials = () => CREDENTIALS): ServiceClient {
  const config = parseServices({ svc: { url, ...service } }).get('svc')!;
  return new ServiceClient(config, credentials);
}

function deadline(ms = 5_000): AbortSignal {
  return AbortSignal.timeout(ms);
}

describe('ServiceClient', () => {
  let server: LoopbackServer;

  beforeEach(async () => {
    server = new LoopbackServer();
    await server.start();
  });

  afterEach(async () => {
    await server.stop();
  });

  describe('bearer credentials', () => {
    let dir: string;
    beforeEach(async () => { dir = await mkdtemp(path.join(os.tmpdir(), 'svc-test-')); });
    afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

    test('GIVEN a bearer token WHEN a request is sent THEN the server sees the Authorization header and the configured headers', async () => {
      // GIVEN
      server.handler = (req, res) => {
        const ok = req.headers.authorization === 'Bearer s3cr3t' && req.headers['x-tenant'] === 'acme';
        res.writeHead(ok ? 200 : 401).end(ok ? 'welcome' : 'no');
      };
      const client = clientFor(server.url, { headers: { 'X-Tenant': 'acme' }, credentials: { bearer: { token: 's3cr3t' } } });
      // WHEN
      const response = await client.request({ method: 'GET', path: 'bundles/authz', signal: deadline() });
      // THEN
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe('welcome');
      expect(server.requests[0].url).toBe('/bundles/authz');
    });

    test('GIVEN token_path and a scheme WHEN the token file changes between requests THEN each request carries the current token', async () => {
      // GIVEN
      const tokenFile = path.join(dir, 'token');
      await writeFile(tokenFile, 'first\n');
      server.handler = (_req, res) => { res.writeHead(204).end(); };
      const client = clientFor(server.url, { credentials: { bearer: { token_path: tokenFile, scheme: 'Token' } } });
      // WHEN
      await client.request({ method: 'GET', path: '/a', signal: deadline() });
      await writeFile(tokenFile, 'second');
      await client.request({ method: 'GET', path: '/a', signal: deadline() });
      // THEN
      expect(server.requests.map((r) => r.headers.authorization)).toEqual(['Token first', 'Token second']);
    });
  });

  describe('s3_signing with environment credentials', () => {
    const expected = { ...CREDENTIALS, service: 's3' };

    beforeEach(() => {
      server.handler = (req, res, body) => {
        const problem = sigv4Problem(req, body, expected);
        if (problem) res.writeHead(403, { 'content-type': 'text/plain' }).end(problem);
        else res.writeHead(200).end('object');
      };
    });

    test.each([
      ['a plain key', 'bundles/authz.tar.gz'],
      ['a key with a space and a query', 'bundles/my%20bundle.tar.gz?versionId=3&x=a%2Fb'],
    ])('GIVEN %s WHEN the request is signed THEN a SigV4 verifier (aws4) accepts it, session token included', async (_name, resource) => {
      // GIVEN
      const client = clientFor(`${server.url}/my-bucket`, { credentials: { s3_signing: { environment_credentials: {} } } });
      // WHEN
      const response = await client.request({ method: 'GET', path: resource, signal: deadline() });
      // THEN
      expect(response.body.toString()).toBe('object');
      expect(response.status).toBe(200);
      expect(server.requests[0].headers['x-amz-security-token']).toBe(CREDENTIALS.sessionToken);
    });

    test.each([
      ['a wrong secret key', { ...CREDENTIALS, secretAccessKey: 'not-the-secret' }, /signature mismatch/],
      ['a missing session token', { ...CREDENTIALS, sessionToken: undefined }, /x-amz-security-token is not signed/],
      ['another region', { ...CREDENTIALS, region: 'us-east-1' }, /credential scope us-east-1\/s3/],
    ])('GIVEN %s WHEN the request is signed THEN the verifier refuses it', async (_name, credentials, reason) => {
      // GIVEN
      const client = clientFor(`${server.url}/my-bucket`, { credentials: { s3_signing: { environment_credentials: {} } } }, () => credentials);
      // WHEN
      const response = await client.request({ method: 'GET', path: 'bundles/authz.tar.gz', signal: deadline() });
      // THEN
      expect(response.status).toBe(403);
      expect(response.body.toString()).toMatch(reason);
    });

    test('GIVEN credentials that change between requests WHEN signing THEN the current ones are used (read at each use)', async () => {
      // GIVEN
      let current: AwsCredentials = { ...CREDENTIALS, secretAccessKey: 'stale' };
      const client = clientFor(`${server.url}/my-bucket`, { credentials: { s3_signing: { environment_credentials: {} } } }, () => current);
      const before = await client.request({ method: 'GET', path: 'k', signal: deadline() });
      // WHEN
      current = CREDENTIALS;
      const after = await client.request({ method: 'GET', path: 'k', signal: deadline() });
      // THEN
      expect([before.status, after.status]).toEqual([403, 200]);
    });
  });

  describe('time limits and broken responses', () => {
    test('GIVEN a server that never answers WHEN response_header_timeout_seconds passes THEN the request fails with the timeout', async () => {
      // GIVEN
      server.handler = () => { /* never answers */ };
      const client = clientFor(server.url, { response_header_timeout_seconds: 0.2 });
      // WHEN
      const started = Date.now();
      const result = client.request({ method: 'GET', path: 'x', signal: deadline() });
      // THEN
      await expect(result).rejects.toThrow('service svc: no response headers within 0.2s');
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    test('GIVEN headers in time and a body slower than the header timeout WHEN reading THEN the body is read whole', async () => {
      // GIVEN: the header timeout bounds only the wait for headers, as in OPA.
      server.handler = (_req, res) => {
        res.writeHead(200, { 'content-length': '4' });
        res.write('ab');
        setTimeout(() => res.end('cd'), 400);
      };
      const client = clientFor(server.url, { response_header_timeout_seconds: 0.1 });
      // WHEN
      const response = await client.request({ method: 'GET', path: 'x', signal: deadline() });
      // THEN
      expect(response.body.toString()).toBe('abcd');
    });

    test('GIVEN a connection reset in the middle of the body WHEN reading THEN the request fails as cut short', async () => {
      // GIVEN
      server.handler = (req, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('x'.repeat(100), () => setTimeout(() => req.socket.destroy(), 20));
      };
      const client = clientFor(server.url, {});
      // WHEN
      const result = client.request({ method: 'GET', path: 'x', signal: deadline() });
      // THEN
      await expect(result).rejects.toThrow(/service svc: response from \/x cut short/);
      await expect(result).rejects.toBeInstanceOf(ServiceRequestError);
    });

    test('GIVEN a caller signal that aborts WHEN waiting THEN the request rejects with the signal reason', async () => {
      // GIVEN
      server.handler = () => { /* never answers */ };
      const client = clientFor(server.url, {});
      const controller = new AbortController();
      // WHEN
      const result = client.request({ method: 'GET', path: 'x', signal: controller.signal });
      setTimeout(() => controller.abort(new Error('round over')), 50);
      // THEN
      await expect(result).rejects.toThrow('round over');
    });

    test.each([
      ['declared by Content-Length', true, 'service svc: response body of 2048 bytes exceeds the limit of 1024 bytes'],
      ['streamed without a length', false, 'service svc: response body exceeds the limit of 1024 bytes'],
    ])('GIVEN a body over maxBodyBytes %s WHEN reading THEN the request fails with the limit', async (_name, declared, message) => {
      // GIVEN
      server.handler = (_req, res) => {
        res.writeHead(200, declared ? { 'content-length': '2048' } : {});
        res.end(Buffer.alloc(2048));
      };
      const client = clientFor(server.url, {});
      // WHEN
      const result = client.request({ method: 'GET', path: 'x', signal: deadline(), maxBodyBytes: 1024 });
      // THEN
      await expect(result).rejects.toThrow(message);
    });

    test('GIVEN a redirect on the same host WHEN requesting THEN the client follows it with its credentials', async () => {
      // GIVEN
      server.handler = (req, res) => {
        if (req.url === '/old') res.writeHead(302, { location: '/new' }).end();
        else res.writeHead(req.headers.authorization === 'Bearer t' ? 200 : 401).end(req.url);
      };
      const client = clientFor(server.url, { credentials: { bearer: { token: 't' } } });
      // WHEN
      const response = await client.request({ method: 'GET', path: 'old', signal: deadline() });
      // THEN
      expect(response.status).toBe(200);
      expect(response.body.toString()).toBe('/new');
    });

    test('GIVEN a redirect loop WHEN requesting THEN the client gives up after 10 redirects', async () => {
      // GIVEN
      server.handler = (_req, res) => { res.writeHead(302, { location: '/loop' }).end(); };
      const client = clientFor(server.url, {});
      // WHEN
      const result = client.request({ method: 'GET', path: 'loop', signal: deadline() });
      // THEN
      await expect(result).rejects.toThrow('service svc: more than 10 redirects from /loop');
    });

    test('GIVEN a POST with a body WHEN sent THEN the server receives the body and its length', async () => {
      // GIVEN
      let received = '';
      server.handler = (_req, res, body) => { received = body.toString(); res.writeHead(204).end(); };
      const client = clientFor(server.url, {});
      // WHEN
      const response = await client.request({ method: 'POST', path: 'logs', body: Buffer.from('[{"a":1}]'), headers: { 'Content-Type': 'application/json' }, signal: deadline() });
      // THEN
      expect(response.status).toBe(204);
      expect(received).toBe('[{"a":1}]');
      expect(server.requests[0].headers['content-length']).toBe('9');
      expect(server.requests[0].headers['content-type']).toBe('application/json');
    });

    test('GIVEN nothing listens on the port WHEN requesting THEN the request fails naming the service', async () => {
      // GIVEN
      const closed = new LoopbackServer();
      const url = await closed.start();
      await closed.stop();
      const client = clientFor(url, {});
      // WHEN
      const result = client.request({ method: 'GET', path: 'x', signal: deadline() });
      // THEN
      await expect(result).rejects.toThrow(/^service svc: request to \/x failed: connect ECONNREFUSED/);
    });
  });
});

describe('createServiceClients', () => {
  test('GIVEN an s3_signing service WHEN the environment has no AWS credentials THEN creating the clients fails at once', () => {
    // GIVEN
    const services = parseServices({ s3: { url: 'https://b.s3.amazonaws.com', credentials: { s3_signing: { environment_credentials: {} } } } });
    const missing = () => { throw new ConfigError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: s3_signing.environment_credentials needs them'); };
    // WHEN / THEN
    expect(() => createServiceClients(services, missing)).toThrow('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set');
  });

  test('GIVEN bearer and unauthenticated services WHEN created THEN credentials are not read and each service has a client', () => {
    // GIVEN
    const services = parseServices({ a: { url: 'http://a' }, b: { url: 'http://b', credentials: { bearer: { token: 't' } } } });
    const credentials = jest.fn(() => CREDENTIALS);
    // WHEN
    const clients = createServiceClients(services, credentials);
    // THEN
    expect([...clients.keys()]).toEqual(['a', 'b']);
    expect(credentials).not.toHaveBeenCalled();
  });
});
