import dns from 'node:dns';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AwsCredentials } from '../../../runtime/src/config/env';
import { ConfigError } from '../../../runtime/src/errors';
import { createServiceClients, ServiceClient, ServiceRequestError } from '../../../runtime/src/services/service-client';
import { parseServices } from '../../../runtime/src/services/service-config';
import { RecordingServer, useRecordingServer } from '../../support/recording-server';
import { sigv4Problem } from '../../support/sigv4-verifier';

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

/**
 * Names under `.test` (reserved, RFC 2606) resolve to 127.0.0.1, so that loopback servers can
 * stand for a service's host, its subdomains and unrelated hosts without touching /etc/hosts.
 */
function resolveTestNamesToLoopback(): void {
  const lookup = dns.lookup;
  jest.spyOn(dns, 'lookup').mockImplementation(((hostname: string, ...rest: unknown[]) =>
    (lookup as (...args: unknown[]) => void)(hostname.endsWith('.test') ? '127.0.0.1' : hostname, ...rest)) as unknown as typeof dns.lookup);
}

/**
 * There are no TLS certificates in the test tree: an `https:` URL is sent in clear to the loopback
 * server, so that only the URL's scheme says https, which is all the redirect rules look at.
 */
function sendHttpsInClear(): void {
  jest.spyOn(https, 'request').mockImplementation(((url: URL, options: http.RequestOptions) => {
    const clear = new URL(url);
    clear.protocol = 'http:';
    return http.request(clear, options);
  }) as unknown as typeof https.request);
}

/** The credential-bearing headers (and one harmless one) among those a server received. */
function credentialHeaders(headers: http.IncomingHttpHeaders): Record<string, unknown> {
  const names = ['authorization', 'www-authenticate', 'cookie', 'cookie2', 'x-tenant', 'x-amz-security-token', 'x-amz-date'];
  return Object.fromEntries(names.filter((n) => headers[n] !== undefined).map((n) => [n, headers[n]]));
}

describe('ServiceClient', () => {
  const useServer = useRecordingServer();
  let server: RecordingServer;

  beforeEach(() => {
    server = useServer();
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

    describe('credentials on redirects', () => {
      let other: RecordingServer;

      beforeEach(async () => {
        other = new RecordingServer();
        await other.listen();
        other.handler = (_req, res) => { res.writeHead(200).end('moved here'); };
        resolveTestNamesToLoopback();
      });

      afterEach(async () => {
        jest.restoreAllMocks();
        await other.close();
      });

      /** `{other}` in a Location is the second server's port. */
      function redirectTo(location: string): void {
        server.handler = (req, res) => {
          if (req.url === '/start') res.writeHead(302, { location: location.replace('{other}', new URL(other.url).port) }).end();
          else res.writeHead(200).end('moved here');
        };
      }

      const SIGNED = {
        'authorization': expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//),
        'x-amz-security-token': CREDENTIALS.sessionToken,
        'x-amz-date': expect.stringMatching(/^\d{8}T\d{6}Z$/),
      };
      /** One row per kind of credential; the sensitive names of the last one in odd cases, which Go compares case-insensitively. */
      const SERVICES: Record<string, Record<string, unknown>> = {
        'headers.Authorization': { headers: { Authorization: 'Basic YWxpY2U6czNjcjN0' } },
        'headers.Cookie': { headers: { Cookie: 'session=s3cr3t' } },
        'headers.X-Tenant': { headers: { 'X-Tenant': 'acme' } },
        'credentials.bearer': { credentials: { bearer: { token: 't0k3n' } } },
        'credentials.s3_signing': { credentials: { s3_signing: { environment_credentials: {} } } },
        'all sensitive headers': { headers: { 'authorization': 'Basic YWxpY2U6czNjcjN0', 'COOKIE': 'session=s3cr3t', 'Www-Authenticate': 'Basic', 'cookie2': '$Version=1', 'X-Tenant': 'acme' } },
      };

      // Go's rule (net/http/client.go, shouldCopyHeaderOnRedirect): Authorization, WWW-Authenticate,
      // Cookie and Cookie2 follow a redirect to the same hostname (any port) or a subdomain only.
      // Bearer tokens and SigV4 signatures go to the service's own host and port only.
      test.each<[string, string, string, Record<string, unknown>]>([
        // the service at http://svc.test:<port> redirects to, with, and the destination receives exactly
        ['the same host', '/next', 'headers.Authorization', { authorization: 'Basic YWxpY2U6czNjcjN0' }],
        ['the same host', '/next', 'headers.Cookie', { cookie: 'session=s3cr3t' }],
        ['the same host', '/next', 'headers.X-Tenant', { 'x-tenant': 'acme' }],
        ['the same host', '/next', 'credentials.bearer', { authorization: 'Bearer t0k3n' }],
        ['the same host', '/next', 'credentials.s3_signing', SIGNED],
        ['the same host', '/next', 'all sensitive headers', { 'authorization': 'Basic YWxpY2U6czNjcjN0', 'cookie': 'session=s3cr3t', 'www-authenticate': 'Basic', 'cookie2': '$Version=1', 'x-tenant': 'acme' }],
        ['the same hostname on another port', 'http://svc.test:{other}/next', 'headers.Authorization', { authorization: 'Basic YWxpY2U6czNjcjN0' }],
        ['the same hostname on another port', 'http://svc.test:{other}/next', 'headers.Cookie', { cookie: 'session=s3cr3t' }],
        ['the same hostname on another port', 'http://svc.test:{other}/next', 'credentials.bearer', {}],
        ['the same hostname on another port', 'http://svc.test:{other}/next', 'credentials.s3_signing', {}],
        ['a subdomain', 'http://cdn.svc.test:{other}/next', 'headers.Authorization', { authorization: 'Basic YWxpY2U6czNjcjN0' }],
        ['a subdomain', 'http://cdn.svc.test:{other}/next', 'headers.Cookie', { cookie: 'session=s3cr3t' }],
        ['a subdomain', 'http://cdn.svc.test:{other}/next', 'credentials.bearer', {}],
        ['a host whose name only ends like the service\'s', 'http://notsvc.test:{other}/next', 'headers.Authorization', {}],
        ['a host whose name only ends like the service\'s', 'http://notsvc.test:{other}/next', 'headers.Cookie', {}],
        ['another host', 'http://127.0.0.1:{other}/next', 'headers.Authorization', {}],
        ['another host', 'http://127.0.0.1:{other}/next', 'headers.Cookie', {}],
        ['another host', 'http://127.0.0.1:{other}/next', 'headers.X-Tenant', { 'x-tenant': 'acme' }],
        ['another host', 'http://127.0.0.1:{other}/next', 'credentials.bearer', {}],
        ['another host', 'http://127.0.0.1:{other}/next', 'credentials.s3_signing', {}],
        ['another host', 'http://127.0.0.1:{other}/next', 'all sensitive headers', { 'x-tenant': 'acme' }],
      ])('GIVEN a redirect to %s (%s) WHEN following it with %s configured THEN the destination receives exactly the expected headers', async (_name, location, kind, expected) => {
        // GIVEN
        redirectTo(location);
        const client = clientFor(`http://svc.test:${new URL(server.url).port}`, SERVICES[kind]);
        // WHEN
        const response = await client.request({ method: 'GET', path: 'start', signal: deadline() });
        // THEN
        expect(response.body.toString()).toBe('moved here');
        const destination = location.startsWith('/') ? server.requests[1] : other.requests[0];
        expect(credentialHeaders(destination.headers)).toEqual(expected);
      });

      test('GIVEN a redirect to another host that redirects back WHEN following it THEN the service\'s own host gets no credentials either (as Go)', async () => {
        // GIVEN: Go keeps sensitive headers stripped for the rest of the chain (CVE-2024-45336).
        const service = `http://svc.test:${new URL(server.url).port}`;
        server.handler = (req, res) => {
          if (req.url === '/start') res.writeHead(302, { location: `${other.url}/away` }).end();
          else res.writeHead(200).end('back home');
        };
        other.handler = (_req, res) => { res.writeHead(302, { location: `${service}/home` }).end(); };
        const client = clientFor(service, { headers: { 'Cookie': 'session=s3cr3t', 'X-Tenant': 'acme' }, credentials: { bearer: { token: 't0k3n' } } });
        // WHEN
        const response = await client.request({ method: 'GET', path: 'start', signal: deadline() });
        // THEN
        expect(response.body.toString()).toBe('back home');
        expect([server.requests[0], other.requests[0], server.requests[1]].map((r) => [r.url, credentialHeaders(r.headers)])).toEqual([
          ['/start', { 'authorization': 'Bearer t0k3n', 'cookie': 'session=s3cr3t', 'x-tenant': 'acme' }],
          ['/away', { 'x-tenant': 'acme' }],
          ['/home', { 'x-tenant': 'acme' }],
        ]);
      });

      test.each<[string, string, Record<string, unknown>]>([
        ['https to https on the same host', '/next', { 'authorization': 'Bearer t0k3n', 'cookie': 'session=s3cr3t', 'x-tenant': 'acme' }],
        ['https to http on the same host', 'http://svc.test:{port}/next', { 'x-tenant': 'acme' }],
      ])('GIVEN a redirect from %s (%s) WHEN following it THEN the destination receives exactly the expected headers', async (_name, location, expected) => {
        // GIVEN
        sendHttpsInClear();
        const port = new URL(server.url).port;
        server.handler = (req, res) => {
          if (req.url === '/start') res.writeHead(302, { location: location.replace('{port}', port) }).end();
          else res.writeHead(200).end('moved here');
        };
        const client = clientFor(`https://svc.test:${port}`, { headers: { 'Cookie': 'session=s3cr3t', 'X-Tenant': 'acme' }, credentials: { bearer: { token: 't0k3n' } } });
        // WHEN
        const response = await client.request({ method: 'GET', path: 'start', signal: deadline() });
        // THEN
        expect(response.body.toString()).toBe('moved here');
        expect(credentialHeaders(server.requests[1].headers)).toEqual(expected);
      });
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
      const closed = new RecordingServer();
      const url = await closed.listen();
      await closed.close();
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
