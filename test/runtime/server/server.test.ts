/**
 * OPA's REST API as the extension's server answers it: one table, one row per request, in the
 * spirit of OPA's `TestDataV1`, `TestUnversionedPost` and `TestUnversionedGetHealth*`
 * (`v1/server/server_test.go`); then what a table row cannot say (chunked bodies, keep-alive, the
 * official SDK, listening and closing).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { OPAClient } from '@open-policy-agent/opa';
import { BUNDLE_NAME, REVISION, restApiEngine } from './rest-api-fixture';
import type { DecisionRecord } from '../../../runtime/src/contracts/decision-record';
import { PluginState, PluginStatus } from '../../../runtime/src/contracts/plugin';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { KEEP_ALIVE_TIMEOUT_MS, PolicyServer } from '../../../runtime/src/server/server';
import { send } from '../../support/http-client';

const MAX_BODY = 4096;
const MAX_INFLATED = 16_384;
const VERSION = '9.9.9-test';
const inputMissing = { code: 'api_usage_warning', message: "'input' key missing from the request" };
const aliceWrites = { user: 'alice', action: 'write', type: 'document' };
const bobWrites = { user: 'bob', action: 'write', type: 'document' };
const anyTimer = expect.any(Number);
const metrics = { timer_rego_input_parse_ns: anyTimer, timer_rego_query_eval_ns: anyTimer, timer_server_handler_ns: anyTimer };
const readOnly = (method: string, what: string) => ({
  code: 'method_not_allowed',
  message: `${method} /v1/${what} is not supported: the OPA Lambda extension is read-only, its policies and data come from bundles`,
});
const json = { 'Content-Type': 'application/json' };
const gzipJson = { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' };
const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));
const provenance = { version: VERSION, bundles: { [BUNDLE_NAME]: { revision: REVISION } } };

interface Row {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: string | Buffer;
  readonly status: number;
  readonly expected: unknown;
  /** Checks on the raw reply (headers, text) beyond status and body. */
  readonly check?: (reply: Awaited<ReturnType<typeof send>>) => void;
}

let engine: PolicyEngine;
let server: PolicyServer;
let base: string;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  engine = await restApiEngine();
  server = new PolicyServer({
    engine, port: 0, logger: SILENT_LOGGER, maxBodyBytes: MAX_BODY, maxDecompressedBodyBytes: MAX_INFLATED, version: VERSION,
  });
  base = `http://127.0.0.1:${(await server.listen()).port}`;
});

afterAll(async () => {
  agent.destroy();
  await server?.close();
});

describe('GIVEN the extension server with one bundle', () => {
  const rows: Row[] = [
    // POST /v1/data
    { name: 'POST an entrypoint', method: 'POST', path: '/v1/data/app/rbac/allow', headers: json, body: JSON.stringify({ input: aliceWrites }), status: 200, expected: { result: true } },
    { name: 'POST denied', method: 'POST', path: '/v1/data/app/rbac/allow', headers: json, body: JSON.stringify({ input: bobWrites }), status: 200, expected: { result: false } },
    { name: 'POST below an entrypoint', method: 'POST', path: '/v1/data/app/multi/limits/max', body: '{"input": {}}', status: 200, expected: { result: 3 } },
    { name: 'POST an array index below an entrypoint', method: 'POST', path: '/v1/data/app/multi/limits/tiers/1', body: '{"input": {}}', status: 200, expected: { result: 'pro' } },
    { name: 'POST an undefined document', method: 'POST', path: '/v1/data/app/multi/nope', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'POST a path under no entrypoint', method: 'POST', path: '/v1/data/elsewhere/x', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'POST no body', method: 'POST', path: '/v1/data/app/multi/limits/max', status: 200, expected: { result: 3, warning: inputMissing } },
    { name: 'POST a null body', method: 'POST', path: '/v1/data/app/multi/limits/max', body: 'null', status: 200, expected: { result: 3, warning: inputMissing } },
    { name: 'POST a null input', method: 'POST', path: '/v1/data/app/multi/limits/max', body: '{"input": null}', status: 200, expected: { result: 3, warning: inputMissing } },
    { name: 'POST a set result', method: 'POST', path: '/v1/data/app/rbac/reasons', body: JSON.stringify({ input: bobWrites }), status: 200, expected: { result: ['no role of bob may write a document'] } },
    { name: 'POST an empty body', method: 'POST', path: '/v1/data/app/rbac/allow', headers: json, body: '', status: 200, expected: { result: false, warning: inputMissing } },
    { name: 'POST without an input key', method: 'POST', path: '/v1/data/app/rbac/allow', body: '{"other": 1}', status: 200, expected: { result: false, warning: inputMissing } },
    { name: 'POST input false', method: 'POST', path: '/v1/data/app/multi/echo', body: '{"input": false}', status: 200, expected: { result: false } },
    { name: 'POST /v1/data itself', method: 'POST', path: '/v1/data', body: '{"input": {}}', status: 200, expected: {} },
    { name: 'POST percent-encoded segments', method: 'POST', path: '/v1/data/app/%6Dulti/greeting', body: '{"input": {"name": "a/b"}}', status: 200, expected: { result: 'hello a/b' } },
    {
      name: 'POST a result beyond ASCII: Content-Length counts its UTF-8 bytes',
      method: 'POST',
      path: '/v1/data/app/multi/greeting',
      body: JSON.stringify({ input: { name: 'Zoë 👋 東京' } }),
      status: 200,
      expected: { result: 'hello Zoë 👋 東京' },
      check: (r) => expect(Number(r.headers['content-length'])).toBe(r.wireBytes),
    },
    { name: 'POST an encoded slash, which stays in its segment', method: 'POST', path: '/v1/data/app%2Fmulti/greeting', body: '{"input": {}}', status: 200, expected: {} },
    {
      name: 'POST a malformed percent-encoding',
      method: 'POST',
      path: '/v1/data/app/%E0%A4%A',
      body: '{}',
      status: 400,
      expected: { code: 'invalid_parameter', message: 'invalid path segment "%E0%A4%A": malformed percent-encoding' },
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
      name: 'POST malformed JSON',
      method: 'POST',
      path: '/v1/data/app/rbac/allow',
      body: '{"input": ',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^body contains malformed input document: /) },
    },
    {
      name: 'POST a policy that fails',
      method: 'POST',
      path: '/v1/data/app/conflict/x',
      body: '{"input": {"a": true, "b": true}}',
      status: 500,
      expected: { code: 'internal_error', message: 'evaluation of app/conflict/x failed: conflict.rego:7:1: var assignment conflict' },
    },
    { name: 'POST right after a failing policy', method: 'POST', path: '/v1/data/app/conflict/x', body: '{"input": {"b": true}}', status: 200, expected: { result: 2 } },
    // GET /v1/data
    { name: 'GET without input', method: 'GET', path: '/v1/data/app/rbac/allow', status: 200, expected: { result: false } },
    { name: 'GET with an input parameter', method: 'GET', path: `/v1/data/app/rbac/allow?input=${q(aliceWrites)}`, status: 200, expected: { result: true } },
    {
      name: 'GET a malformed input parameter',
      method: 'GET',
      path: '/v1/data/app/rbac/allow?input=%7B',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^parameter contains malformed input document: /) },
    },
    // Query flags
    {
      name: 'pretty',
      method: 'GET',
      path: '/v1/data/app/multi/limits/max?pretty',
      status: 200,
      expected: { result: 3 },
      check: (r) => expect(r.text).toBe('{\n  "result": 3\n}\n'),
    },
    {
      name: 'pretty=TRUE',
      method: 'GET',
      path: '/v1/data/app/multi/limits/max?pretty=TRUE',
      status: 200,
      expected: { result: 3 },
      check: (r) => expect(r.text).toContain('\n  "result"'),
    },
    {
      name: 'pretty=yes is off',
      method: 'GET',
      path: '/v1/data/app/multi/limits/max?pretty=yes',
      status: 200,
      expected: { result: 3 },
      check: (r) => expect(r.text).toBe('{"result":3}\n'),
    },
    { name: 'metrics', method: 'POST', path: '/v1/data/app/multi/limits/max?metrics', body: '{"input": 1}', status: 200, expected: { metrics, result: 3 } },
    { name: 'metrics=True', method: 'GET', path: '/v1/data/app/multi/limits/max?metrics=True', status: 200, expected: { metrics, result: 3 } },
    { name: 'metrics=1 is off', method: 'GET', path: '/v1/data/app/multi/limits/max?metrics=1', status: 200, expected: { result: 3 } },
    { name: 'metrics given twice, one true', method: 'GET', path: '/v1/data/app/multi/limits/max?metrics=false&metrics=true', status: 200, expected: { metrics, result: 3 } },
    { name: 'instrument implies metrics', method: 'GET', path: '/v1/data/app/multi/limits/max?instrument', status: 200, expected: { metrics, result: 3 } },
    {
      name: 'provenance',
      method: 'GET',
      path: '/v1/data/app/multi/limits/max?provenance',
      status: 200,
      expected: { provenance: { version: VERSION, bundles: { [BUNDLE_NAME]: { revision: REVISION } } }, result: 3 },
    },
    // POST / and POST /v0/data
    { name: 'POST / with the body as input', method: 'POST', path: '/', headers: json, body: '{"name": "ann"}', status: 200, expected: { hello: 'ann' } },
    {
      name: 'POST / undefined',
      method: 'POST',
      path: '/',
      body: '{}',
      status: 404,
      expected: { code: 'undefined_document', message: 'document undefined: data.system.main' },
    },
    {
      name: 'POST / without a body',
      method: 'POST',
      path: '/',
      status: 404,
      expected: { code: 'undefined_document', message: 'document undefined: data.system.main' },
    },
    {
      name: 'POST / malformed',
      method: 'POST',
      path: '/',
      body: '{bad',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^unexpected parse error for input: body contains malformed input document: /) },
    },
    { name: 'POST /v0/data', method: 'POST', path: '/v0/data/app/multi/greeting', body: '{"name": "v0"}', status: 200, expected: 'hello v0' },
    { name: 'POST /v0/data below an entrypoint', method: 'POST', path: '/v0/data/app/multi/limits', body: '{}', status: 200, expected: { max: 3, tiers: ['free', 'pro'], nested: { flag: true } } },
    {
      name: 'POST /v0/data missing',
      method: 'POST',
      path: '/v0/data/app/multi/nope',
      body: '{}',
      status: 404,
      expected: { code: 'undefined_document', message: 'document missing: data.app.multi.nope' },
    },
    {
      name: 'POST /v0/data failing',
      method: 'POST',
      path: '/v0/data/app/conflict/x',
      body: '{"a": true, "b": true}',
      status: 500,
      expected: { code: 'internal_error', message: expect.stringContaining('var assignment conflict') },
    },
    // POST /v1/batch/data
    {
      name: 'batch, all succeed',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      body: JSON.stringify({ inputs: { a: aliceWrites, b: bobWrites } }),
      status: 200,
      expected: { responses: { a: { result: true }, b: { result: false } } },
    },
    {
      name: 'batch, some fail',
      method: 'POST',
      path: '/v1/batch/data/app/conflict/x',
      body: JSON.stringify({ inputs: { ok: { a: true }, bad: { a: true, b: true } } }),
      status: 207,
      expected: {
        responses: {
          ok: { result: 1, http_status_code: '200' },
          bad: { code: 'internal_error', message: 'evaluation of app/conflict/x failed: conflict.rego:7:1: var assignment conflict', http_status_code: '500' },
        },
      },
    },
    {
      name: 'batch, all fail',
      method: 'POST',
      path: '/v1/batch/data/app/conflict/x',
      body: JSON.stringify({ inputs: { bad: { a: true, b: true } } }),
      status: 500,
      expected: { responses: { bad: { code: 'internal_error', message: expect.stringContaining('var assignment conflict') } } },
    },
    {
      name: 'batch with metrics and provenance',
      method: 'POST',
      path: '/v1/batch/data/app/multi/limits/max?metrics&provenance',
      body: '{"inputs": {"x": {}}}',
      status: 200,
      expected: {
        metrics: { timer_server_handler_ns: anyTimer },
        responses: {
          x: { result: 3, metrics: { timer_rego_query_eval_ns: anyTimer }, provenance },
        },
      },
    },
    {
      name: 'batch, common_input merged into each object input',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      body: JSON.stringify({ common_input: { action: 'write', type: 'document' }, inputs: { a: { user: 'alice' }, b: { user: 'bob' }, c: { user: 'bob', action: 'read' } } }),
      status: 200,
      expected: { responses: { a: { result: true }, b: { result: false }, c: { result: true } } },
    },
    {
      name: 'batch, common_input merged at every depth, and not into an input that is not an object',
      method: 'POST',
      path: '/v1/batch/data/app/echo/got',
      body: '{"inputs": {"x": {"n": {"b": 2}, "m": [3]}, "s": "text", "z": null}, "common_input": {"n": {"a": 1, "b": 1}, "m": [1, 2], "k": true}}',
      status: 200,
      expected: { responses: { x: { result: { input: { n: { a: 1, b: 2 }, m: [3], k: true } } }, s: { result: { input: 'text' } }, z: {} } },
    },
    {
      name: 'batch, common_input merged with its numbers as written',
      method: 'POST',
      path: '/v1/batch/data/app/echo/got',
      body: '{"inputs": {"x": {"n": 9007199254740993}}, "common_input": {"big": 123456789012345678901234567890, "n": 1}}',
      status: 200,
      expected: { responses: { x: { result: { input: { big: 123456789012345678901234567890, n: 9007199254740993 } } } } },
      check: (r) => {
        expect(r.text).toMatch(/"big":\s*123456789012345678901234567890\b/);
        expect(r.text).toMatch(/"n":\s*9007199254740993\b/);
      },
    },
    { name: 'batch, text after the body', method: 'POST', path: '/v1/batch/data/app/echo/got', body: '{"inputs": {"a": 1}} x', status: 200, expected: { responses: { a: { result: { input: 1 } } } } },
    {
      name: 'batch, no inputs',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      body: '{"common_input": {}}',
      status: 200,
      expected: { warning: { code: 'api_usage_warning', message: "'inputs' key missing from the request" } },
    },
    { name: 'batch, no body', method: 'POST', path: '/v1/batch/data/app/rbac/allow', status: 200, expected: { warning: { code: 'api_usage_warning', message: "'inputs' key missing from the request" } } },
    { name: 'batch, empty inputs', method: 'POST', path: '/v1/batch/data/app/rbac/allow', body: '{"inputs": {}}', status: 200, expected: {} },
    {
      name: 'batch, a body that is not an object',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      body: '[{"inputs": {}}]',
      status: 400,
      expected: { code: 'invalid_parameter', message: 'body contains malformed input document: the body must be an object with "inputs"' },
    },
    {
      name: 'batch, inputs not an object',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      body: '{"inputs": [1]}',
      status: 400,
      expected: { code: 'invalid_parameter', message: 'body contains malformed input document: "inputs" must be an object of inputs by id' },
    },
    {
      name: 'batch, malformed',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      body: '{"inputs": {',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^body contains malformed input document: /) },
    },
    // YAML bodies (compared with OPA in opa-differential.test.ts)
    {
      name: 'a batch in YAML',
      method: 'POST',
      path: '/v1/batch/data/app/rbac/allow',
      headers: { 'Content-Type': 'application/yaml' },
      body: 'common_input: {action: write, type: document}\ninputs:\n  a: {user: alice}\n  b: {user: bob}\n',
      status: 200,
      expected: { responses: { a: { result: true }, b: { result: false } } },
    },
    {
      name: 'a YAML body nested past the YAML reader',
      method: 'POST',
      path: '/v1/data/app/echo/got',
      headers: { 'Content-Type': 'application/x-yaml' },
      body: `input: ${'['.repeat(2000)}${']'.repeat(2000)}`,
      status: 400,
      expected: { code: 'invalid_parameter', message: 'body contains malformed input document: yaml: nested too deeply for the YAML reader; write deeply nested documents as JSON' },
    },
    // Bodies: limits and gzip
    {
      name: 'a body over the limit',
      method: 'POST',
      path: '/v1/data/app/rbac/allow',
      body: JSON.stringify({ input: { pad: 'x'.repeat(MAX_BODY) } }),
      status: 400,
      // Its Content-Length (4,116 bytes) tells its size, which OPA's message gives.
      expected: { code: 'invalid_parameter', message: `request body too large: 4 KiB exceeds limit of ${MAX_BODY} bytes (server.decoding.max_length)` },
    },
    { name: 'right after a refused body', method: 'POST', path: '/v1/data/app/rbac/allow', body: JSON.stringify({ input: aliceWrites }), status: 200, expected: { result: true } },
    {
      name: 'a gzip body',
      method: 'POST',
      path: '/v1/data/app/multi/greeting',
      headers: gzipJson,
      body: zlib.gzipSync('{"input": {"name": "gz"}}'),
      status: 200,
      expected: { result: 'hello gz' },
    },
    { name: 'a gzip body to POST /', method: 'POST', path: '/', headers: gzipJson, body: zlib.gzipSync('{"name": "gz"}'), status: 200, expected: { hello: 'gz' } },
    {
      name: 'a gzip body that inflates past its limit',
      method: 'POST',
      path: '/v1/data/app/multi/greeting',
      headers: gzipJson,
      body: zlib.gzipSync(JSON.stringify({ input: { name: 'x'.repeat(MAX_INFLATED) } })),
      status: 400,
      expected: { code: 'invalid_parameter', message: `request body too large: decompressed size exceeds limit of ${MAX_INFLATED} bytes (server.decoding.gzip.max_length)` },
    },
    {
      name: 'a body that says gzip but is not',
      method: 'POST',
      path: '/v1/data/app/multi/greeting',
      headers: gzipJson,
      body: '{"input": {}}',
      status: 400,
      expected: { code: 'invalid_parameter', message: expect.stringMatching(/^could not decompress the body: /) },
    },
    {
      name: 'a large response to a client that accepts gzip',
      method: 'GET',
      path: `/v1/data/app/multi/echo?input=${q('y'.repeat(1500))}`,
      headers: { 'Accept-Encoding': 'gzip' },
      status: 200,
      expected: { result: 'y'.repeat(1500) },
      check: (r) => {
        expect(r.headers['content-encoding']).toBe('gzip');
        expect(r.wireBytes).toBeLessThan(1024);
      },
    },
    {
      name: 'a small response to a client that accepts gzip',
      method: 'GET',
      path: `/v1/data/app/multi/echo?input=${q('y'.repeat(10))}`,
      headers: { 'Accept-Encoding': 'gzip' },
      status: 200,
      expected: { result: 'y'.repeat(10) },
      check: (r) => expect(r.headers['content-encoding']).toBeUndefined(),
    },
    {
      name: 'a large response to a client that does not accept gzip',
      method: 'GET',
      path: `/v1/data/app/multi/echo?input=${q('y'.repeat(1500))}`,
      status: 200,
      expected: { result: 'y'.repeat(1500) },
      check: (r) => expect(r.headers['content-encoding']).toBeUndefined(),
    },
    // Read-only store, wrong methods, unknown routes
    { name: 'PUT data', method: 'PUT', path: '/v1/data/app/x', body: '{}', status: 405, expected: readOnly('PUT', 'data'), check: (r) => expect(r.headers.allow).toBe('GET, POST') },
    { name: 'PATCH data', method: 'PATCH', path: '/v1/data/app/x', body: '[]', status: 405, expected: readOnly('PATCH', 'data') },
    { name: 'DELETE data', method: 'DELETE', path: '/v1/data', status: 405, expected: readOnly('DELETE', 'data') },
    { name: 'PUT a policy', method: 'PUT', path: '/v1/policies/p', body: 'package p', status: 405, expected: readOnly('PUT', 'policies') },
    { name: 'DELETE a policy', method: 'DELETE', path: '/v1/policies/p', status: 405, expected: readOnly('DELETE', 'policies') },
    { name: 'GET the policies', method: 'GET', path: '/v1/policies', status: 405, expected: readOnly('GET', 'policies') },
    {
      name: 'GET /',
      method: 'GET',
      path: '/',
      status: 405,
      expected: { code: 'method_not_allowed', message: 'method GET is not allowed on / (allowed: POST)' },
    },
    {
      name: 'GET /v0/data',
      method: 'GET',
      path: '/v0/data/app/multi',
      status: 405,
      expected: { code: 'method_not_allowed', message: 'method GET is not allowed on /v0/data/app/multi (allowed: POST)' },
    },
    { name: 'an unknown route', method: 'GET', path: '/v2/data/x', status: 404, expected: { code: 'resource_not_found', message: 'no API at /v2/data/x' } },
    { name: 'a path that only starts like a route', method: 'GET', path: '/v1/database', status: 404, expected: { code: 'resource_not_found', message: 'no API at /v1/database' } },
    { name: 'health', method: 'GET', path: '/health', status: 200, expected: {} },
    {
      name: 'POST /health',
      method: 'POST',
      path: '/health',
      body: '{}',
      status: 405,
      expected: { code: 'method_not_allowed', message: 'method POST is not allowed on /health (allowed: GET)' },
    },
  ];

  test.each(rows)('WHEN $name ($method $path) THEN $status', async (row) => {
    const reply = await send(base, row, agent);

    expect(reply.status).toBe(row.status);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body).toEqual(row.expected);
    row.check?.(reply);
  });

  /** POSTs a chunked body to the RBAC decision, written by `write`; resolves with the parsed answer. */
  function postChunked(write: (req: http.ClientRequest) => void): Promise<{ status: number; body: unknown }> {
    const port = Number(new URL(base).port);
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/data/app/rbac/allow', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      write(req);
    });
  }

  test('WHEN a chunked body goes over the limit THEN it is refused like a declared one', async () => {
    const reply = await postChunked((req) => {
      req.write('{"input": "');
      req.write('x'.repeat(MAX_BODY));
      req.end('"}');
    });

    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ code: 'invalid_parameter', message: `request body too large: exceeds limit of ${MAX_BODY} bytes (server.decoding.max_length)` });
  });

  test('WHEN a body arrives in several chunks, one write at a time THEN it is read whole', async () => {
    // A one-chunk body is used as it is; a body in pieces must still be joined in order.
    const pieces = ['{"input": {"user": "al', 'ice", "action": "wri', 'te", "type": "document"}}'];
    const reply = await postChunked((req) => {
      const writeNext = (i: number): void => {
        if (i === pieces.length - 1) {
          req.end(pieces[i]);
          return;
        }
        req.write(pieces[i]);
        setTimeout(() => writeNext(i + 1), 20);
      };
      writeNext(0);
    });

    expect(reply).toEqual({ status: 200, body: { result: true } });
  });

  test('WHEN a request with ?metrics is followed by one without THEN only the first answer has metrics', async () => {
    const body = JSON.stringify({ input: aliceWrites });
    const first = await send(base, { method: 'POST', path: '/v1/data/app/rbac/allow?metrics', body }, agent);
    const second = await send(base, { method: 'POST', path: '/v1/data/app/rbac/allow', body }, agent);

    expect(first.body).toEqual({ result: true, metrics: expect.objectContaining({ timer_rego_input_parse_ns: expect.any(Number) }) });
    expect(second.body).toEqual({ result: true });
  });

  test('WHEN a response is sent THEN the server keeps idle sockets longer than clients do', async () => {
    const reply = await send(base, { method: 'GET', path: '/health' }, agent);

    expect(reply.headers.connection).toBe('keep-alive');
    expect(reply.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}`);
  });

  test('WHEN the official OPA SDK asks the RBAC decision THEN it gets the same answers', async () => {
    const client = new OPAClient(base);

    await expect(client.evaluate('app/rbac/allow', aliceWrites)).resolves.toBe(true);
    await expect(client.evaluate('app/rbac/allow', bobWrites)).resolves.toBe(false);
    await expect(client.evaluate('app/rbac/reasons', bobWrites)).resolves.toEqual(['no role of bob may write a document']);
  });

  test('WHEN the policy fails under the official OPA SDK THEN the SDK raises the server error', async () => {
    const client = new OPAClient(base);

    await expect(client.evaluate('app/conflict/x', { a: true, b: true })).rejects.toThrow(/internal_error|var assignment conflict/);
  });
});

describe('GET /health', () => {
  // OPA's TestUnversionedGetHealth, TestUnversionedGetHealthCheckBundleActivation*, ...WithPlugins.
  const rows: Array<{ name: string; path: string; bundles: boolean; plugins: Record<string, PluginStatus>; status: number; expected: unknown }> = [
    { name: 'plain, bundles not active', path: '/health', bundles: false, plugins: {}, status: 200, expected: {} },
    { name: 'bundles, not active', path: '/health?bundles', bundles: false, plugins: {}, status: 500, expected: { error: 'one or more bundles are not activated' } },
    { name: 'bundles=true, not active', path: '/health?bundles=true', bundles: false, plugins: {}, status: 500, expected: { error: 'one or more bundles are not activated' } },
    { name: 'bundles, active', path: '/health?bundles', bundles: true, plugins: {}, status: 200, expected: {} },
    {
      name: 'plugins, one not ready',
      path: '/health?plugins',
      bundles: true,
      plugins: { bundle: { state: PluginState.NOT_READY } },
      status: 500,
      expected: { error: 'one or more plugins are not up' },
    },
    {
      name: 'plugins, the one not ready excluded',
      path: '/health?plugins&exclude-plugin=bundle',
      bundles: true,
      plugins: { bundle: { state: PluginState.NOT_READY }, status: { state: PluginState.OK } },
      status: 200,
      expected: {},
    },
    {
      name: 'plugins, two excluded by repeated exclude-plugin',
      path: '/health?plugins&exclude-plugin=bundle&exclude-plugin=status',
      bundles: true,
      plugins: { bundle: { state: PluginState.ERROR }, status: { state: PluginState.WARN }, decision_logs: { state: PluginState.OK } },
      status: 200,
      expected: {},
    },
    { name: 'plugins, all OK', path: '/health?plugins', bundles: true, plugins: { bundle: { state: PluginState.OK } }, status: 200, expected: {} },
    {
      name: 'bundles and plugins, bundles checked first',
      path: '/health?bundles&plugins',
      bundles: false,
      plugins: { bundle: { state: PluginState.ERROR } },
      status: 500,
      expected: { error: 'one or more bundles are not activated' },
    },
  ];

  test.each(rows)('GIVEN $name WHEN GET $path THEN $status', async (row) => {
    const health = new PolicyServer({
      engine, port: 0, logger: SILENT_LOGGER, bundlesActivated: () => row.bundles, pluginStatuses: () => row.plugins,
    });
    try {
      const { port } = await health.listen();

      const reply = await send(`http://127.0.0.1:${port}`, { method: 'GET', path: row.path });

      expect(reply.status).toBe(row.status);
      expect(reply.body).toEqual(row.expected);
    } finally {
      await health.close();
    }
  });
});

describe('GIVEN a decision listener', () => {
  let logged: PolicyServer;
  let loggedBase: string;
  const records: DecisionRecord[] = [];

  beforeAll(async () => {
    logged = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER, decisionListener: { onDecision: (r) => records.push(r) }, defaultDecision: 'system/main' });
    loggedBase = `http://127.0.0.1:${(await logged.listen()).port}`;
  });

  afterAll(async () => {
    await logged?.close();
  });

  beforeEach(() => {
    records.length = 0;
  });

  test('WHEN POST / is answered THEN the decision is logged at system/main with the raw body as input', async () => {
    const reply = await send(loggedBase, { method: 'POST', path: '/', body: '{"name": "ann"}' });

    expect(reply.body).toEqual({ hello: 'ann' });
    expect(records).toEqual([expect.objectContaining({ path: 'system/main', input: { name: 'ann' }, result: { hello: 'ann' } })]);
  });

  test('WHEN a batch is answered THEN every item is a decision of its own, with the id its response carries', async () => {
    const reply = await send(loggedBase, { method: 'POST', path: '/v1/batch/data/app/conflict/x', body: JSON.stringify({ inputs: { one: { a: true }, two: { a: true, b: true } } }) });

    const body = reply.body as { batch_decision_id: string; responses: Record<string, { decision_id: string }> };
    expect(reply.status).toBe(207);
    expect(body.batch_decision_id).toEqual(expect.any(String));
    expect(records).toHaveLength(2);
    expect(records.map((r) => r.decisionId).sort()).toEqual([body.responses.one.decision_id, body.responses.two.decision_id].sort());
    expect(records.find((r) => r.decisionId === body.responses.two.decision_id)).toMatchObject({ path: 'app/conflict/x', error: { code: 'internal_error' } });
  });

  test('WHEN POST /v0/data is answered THEN the decision is logged at its path', async () => {
    await send(loggedBase, { method: 'POST', path: '/v0/data/app/multi/greeting', body: '{"name": "v0"}' });

    expect(records).toEqual([expect.objectContaining({ path: 'app/multi/greeting', input: { name: 'v0' }, result: 'hello v0' })]);
  });
});

describe('GIVEN another default_decision', () => {
  test('WHEN POST / THEN it evaluates that path, and answers 404 naming it when undefined', async () => {
    const custom = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER, defaultDecision: 'app/multi/greeting' });
    try {
      const customBase = `http://127.0.0.1:${(await custom.listen()).port}`;

      const defined = await send(customBase, { method: 'POST', path: '/', body: '{"name": "x"}' });
      const undefinedReply = await send(customBase, { method: 'POST', path: '/', body: '{}' });

      expect(defined).toMatchObject({ status: 200, body: 'hello x' });
      // Below an entrypoint (app/multi) a Wasm result cannot tell an undefined rule from a missing
      // one, so the extension says "missing"; OPA would say "undefined" here.
      expect(undefinedReply).toMatchObject({ status: 404, body: { code: 'undefined_document', message: 'document missing: data.app.multi.greeting' } });
    } finally {
      await custom.close();
    }
  });
});

describe('GIVEN a request Node cannot parse', () => {
  test('WHEN it arrives THEN the answer is a JSON 400 and the server keeps serving', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(base).port), '127.0.0.1', () => socket.end('BR@KEN / HTTP/1.1\r\nHost: x\r\n\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => { text += d.toString('utf8'); });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('no answer')));
    });
    const next = await send(base, { method: 'GET', path: '/health' });

    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toContain('Content-Type: application/json');
    expect(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4))).toEqual({ code: 'invalid_parameter', message: 'malformed HTTP request: HPE_INVALID_METHOD' });
    expect(next.status).toBe(200);
  });
});

describe('PolicyServer lifecycle', () => {
  test('GIVEN a server WHEN listen is asked for port 0 THEN it binds loopback on a real port, and close frees it', async () => {
    const own = new PolicyServer({ engine: new PolicyEngine(), port: 0, logger: SILENT_LOGGER });
    try {
      const address = await own.listen();

      expect(address.host).toBe('127.0.0.1');
      expect(address.port).toBeGreaterThan(0);
      expect((await send(`http://127.0.0.1:${address.port}`, { method: 'GET', path: '/health' })).status).toBe(200);
    } finally {
      await own.close();
    }
    await expect(own.close()).resolves.toBeUndefined();
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
