import * as http from 'node:http';
import { OPAClient } from '@open-policy-agent/opa';
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { KEEP_ALIVE_TIMEOUT_MS, PolicyServer } from '../../../runtime/src/server/server';
import { RawReply, send } from '../../support/http-client';
import { buildWasmBundle, readPolicy } from '../../support/opa';

const MAX_BODY = 4096;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One HTTP request over a kept-alive socket, raced against a timeout. */
function request(port: number, method: string, path: string, body?: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<RawReply> {
  return send(`http://127.0.0.1:${port}`, { method, path, body, headers }, agent);
}

describe('PolicyServer', () => {
  let server: PolicyServer;
  let port: number;

  beforeAll(async () => {
    const [rbac, multi, conflict] = await Promise.all([
      buildWasmBundle({
        modules: { 'rbac.rego': readPolicy('rbac.rego') },
        entrypoints: ['app/rbac/allow', 'app/rbac/reasons'],
        data: JSON.parse(readPolicy('rbac-data.json')),
        manifest: { roots: ['app/rbac'] },
      }),
      buildWasmBundle({ modules: { 'multi.rego': readPolicy('multi.rego') }, entrypoints: ['app/multi'], data: { app: { multi: { users: [] } } }, manifest: { roots: ['app/multi'] } }),
      buildWasmBundle({ modules: { 'conflict.rego': readPolicy('conflict.rego') }, entrypoints: ['app/conflict/x'], manifest: { roots: ['app/conflict'] } }),
    ]);
    const engine = new PolicyEngine();
    engine.activate(await readBundle('rbac', rbac));
    engine.activate(await readBundle('multi', multi));
    engine.activate(await readBundle('conflict', conflict));
    server = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER, maxBodyBytes: MAX_BODY });
    ({ port } = await server.listen());
  });

  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  const aliceWrites = { user: 'alice', action: 'write', type: 'document' };
  const bobWrites = { user: 'bob', action: 'write', type: 'document' };
  const inputMissing = { code: 'api_usage_warning', message: "'input' key missing from the request" };

  // One row per request, in the spirit of OPA's TestDataV1 (v1/server/server_test.go).
  const rows: Array<{ name: string; method: string; path: string; body?: string; status: number; expected: unknown }> = [
    { name: 'POST allowed', method: 'POST', path: '/v1/data/app/rbac/allow', body: JSON.stringify({ input: aliceWrites }), status: 200, expected: { result: true } },
    { name: 'POST denied', method: 'POST', path: '/v1/data/app/rbac/allow', body: JSON.stringify({ input: bobWrites }), status: 200, expected: { result: false } },
    { name: 'POST a set result', method: 'POST', path: '/v1/data/app/rbac/reasons', body: JSON.stringify({ input: bobWrites }), status: 200, expected: { result: ['no role of bob may write a document'] } },
    { name: 'POST with an empty body', method: 'POST', path: '/v1/data/app/rbac/allow', body: '', status: 200, expected: { result: false, warning: inputMissing } },
    { name: 'POST without an input key', method: 'POST', path: '/v1/data/app/rbac/allow', body: '{"other": 1}', status: 200, expected: { result: false, warning: inputMissing } },
    { name: 'POST with input false', method: 'POST', path: '/v1/data/app/multi/echo', body: '{"input": false}', status: 200, expected: { result: false } },
    { name: 'POST a sub-document', method: 'POST', path: '/v1/data/app/multi/limits/tiers/0', body: '{"input": {}}', status: 200, expected: { result: 'free' } },
    { name: 'POST percent-encoded segments', method: 'POST', path: '/v1/data/app/%6Dulti/greeting', body: '{"input": {"name": "a/b"}}', status: 200, expected: { result: 'hello a/b' } },
    { name: 'POST an encoded slash stays in its segment', method: 'POST', path: '/v1/data/app%2Fmulti/greeting', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'POST an undefined document', method: 'POST', path: '/v1/data/app/rbac/missing', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'POST a path under no entrypoint', method: 'POST', path: '/v1/data/nowhere', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'POST /v1/data itself', method: 'POST', path: '/v1/data', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'GET without input', method: 'GET', path: '/v1/data/app/rbac/allow', status: 200, expected: { result: false } },
    { name: 'GET with input', method: 'GET', path: `/v1/data/app/rbac/allow?input=${encodeURIComponent(JSON.stringify(aliceWrites))}`, status: 200, expected: { result: true } },
    { name: 'GET /health', method: 'GET', path: '/health', status: 200, expected: {} },
    {
      name: 'POST malformed JSON',
      method: 'POST',
      path: '/v1/data/app/rbac/allow',
      body: '{"input": ',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^body contains malformed input document: /) },
    },
    {
      name: 'POST a body that is not an object',
      method: 'POST',
      path: '/v1/data/app/rbac/allow',
      body: '[1]',
      status: 400,
      expected: { code: 'invalid_parameter', message: 'body contains malformed input document: expected a JSON object, got an array' },
    },
    {
      name: 'GET malformed input parameter',
      method: 'GET',
      path: '/v1/data/app/rbac/allow?input=%7B',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^parameter contains malformed input document: /) },
    },
    {
      name: 'POST a malformed percent-encoding',
      method: 'POST',
      path: '/v1/data/app/%E0%A4%A',
      body: '{}',
      status: 400,
      expected: { code: 'invalid_parameter', message: 'invalid path segment "%E0%A4%A": malformed percent-encoding' },
    },
    {
      name: 'POST a policy conflict',
      method: 'POST',
      path: '/v1/data/app/conflict/x',
      body: '{"input": {"a": true, "b": true}}',
      status: 500,
      expected: { code: 'internal_error', message: 'evaluation of app/conflict/x failed: conflict.rego:7:1: var assignment conflict' },
    },
    { name: 'POST after a conflict', method: 'POST', path: '/v1/data/app/conflict/x', body: '{"input": {"b": true}}', status: 200, expected: { result: 2 } },
    { name: 'GET an unknown route', method: 'GET', path: '/v2/data/x', status: 404, expected: { code: 'resource_not_found', message: 'no API at /v2/data/x' } },
    { name: 'GET a path that only starts like a route', method: 'GET', path: '/v1/database', status: 404, expected: { code: 'resource_not_found', message: 'no API at /v1/database' } },
    {
      name: 'DELETE data (read-only API)',
      method: 'DELETE',
      path: '/v1/data/app/rbac',
      status: 405,
      expected: { code: 'method_not_allowed', message: 'DELETE /v1/data is not supported: the OPA Lambda extension is read-only, its policies and data come from bundles' },
    },
    {
      name: 'POST /health',
      method: 'POST',
      path: '/health',
      body: '{}',
      status: 405,
      expected: { code: 'method_not_allowed', message: 'method POST is not allowed on /health (allowed: GET)' },
    },
  ];

  test.each(rows)('GIVEN $name ($method $path) WHEN sent THEN $status', async ({ method, path, body, status, expected }) => {
    const reply = await request(port, method, path, body, body === undefined ? {} : { 'Content-Type': 'application/json' });

    expect(reply.status).toBe(status);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body).toEqual(expected);
  });

  test('GIVEN a 405 WHEN answered THEN Allow lists the methods', async () => {
    const reply = await request(port, 'PUT', '/v1/data/x', '{}');

    expect(reply.headers.allow).toBe('GET, POST');
  });

  test('GIVEN a chunked body over the limit WHEN sent THEN it is refused like a declared one', async () => {
    const reply = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/data/app/rbac/allow', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      req.write('{"input": "');
      req.write('x'.repeat(MAX_BODY));
      req.end('"}');
    });

    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ code: 'invalid_parameter', message: `request body too large: exceeds limit of ${MAX_BODY} bytes (server.decoding.max_length)` });
  });

  test('GIVEN keep-alive WHEN a response is sent THEN the server keeps idle sockets longer than clients do', async () => {
    const reply = await request(port, 'GET', '/health');

    expect(reply.headers.connection).toBe('keep-alive');
    expect(reply.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
  });

  test('GIVEN the official OPA SDK WHEN it asks the RBAC decision THEN it gets the same answers', async () => {
    const client = new OPAClient(`http://127.0.0.1:${port}`);

    await expect(client.evaluate('app/rbac/allow', aliceWrites)).resolves.toBe(true);
    await expect(client.evaluate('app/rbac/allow', bobWrites)).resolves.toBe(false);
    await expect(client.evaluate('app/rbac/reasons', bobWrites)).resolves.toEqual(['no role of bob may write a document']);
  });

  test('GIVEN the official OPA SDK WHEN the policy fails THEN the SDK raises the server error', async () => {
    const client = new OPAClient(`http://127.0.0.1:${port}`);

    await expect(client.evaluate('app/conflict/x', { a: true, b: true })).rejects.toThrow(/internal_error|var assignment conflict/);
  });
});

describe('PolicyServer lifecycle', () => {
  test('GIVEN a server WHEN listen is asked for port 0 THEN it binds loopback on a real port, and close frees it', async () => {
    const server = new PolicyServer({ engine: new PolicyEngine(), port: 0, logger: SILENT_LOGGER });
    try {
      const address = await server.listen();

      expect(address.host).toBe('127.0.0.1');
      expect(address.port).toBeGreaterThan(0);
      expect((await request(address.port, 'GET', '/health')).status).toBe(200);
    } finally {
      agent.destroy();
      await server.close();
    }
    await expect(server.close()).resolves.toBeUndefined();
  });

  test('GIVEN a port in use WHEN listen THEN it rejects with the system error', async () => {
    const first = new PolicyServer({ engine: new PolicyEngine(), port: 0, logger: SILENT_LOGGER });
    const { port } = await first.listen();
    const second = new PolicyServer({ engine: new PolicyEngine(), port, logger: SILENT_LOGGER });
    try {
      await expect(second.listen()).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
