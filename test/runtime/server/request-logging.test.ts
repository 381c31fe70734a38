/**
 * What the server logs about a failed or refused request: the method, the path, the status and the
 * error, never the request's input, query string or body. The input may hold what
 * `system/log/mask` removes from the decision log, and the logs go to CloudWatch.
 */
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { JsonLogger } from '../../../runtime/src/logger';
import { PolicyServer } from '../../../runtime/src/server/server';
import { send } from '../../support/http-client';
import { buildWasmBundle, readPolicy } from '../../support/opa';

/** Stands for a field the mask policy would remove; it must appear in no log line. */
const SECRET = 'SSN-123-45-6789';
/** Makes `app/conflict/x` fail at run time (both of its values are defined). */
const CONFLICTING = { a: true, b: true, ssn: SECRET };
/** Not JSON; V8's JSON.parse quotes the text around the bad token, the secret with it. */
const MALFORMED = `{"input": {"ssn": ${SECRET}}}`;

describe('GIVEN a server whose logger records every line at debug level', () => {
  let server: PolicyServer;
  let base: string;
  let lines: string[];

  beforeAll(async () => {
    const conflict = await buildWasmBundle({ modules: { 'conflict.rego': readPolicy('conflict.rego') }, entrypoints: ['app/conflict/x'], manifest: { roots: ['app/conflict'] } });
    const engine = new PolicyEngine();
    engine.activate(await readBundle('conflict', conflict));
    const logger = new JsonLogger({ level: 'debug', write: (line) => lines.push(line) });
    server = new PolicyServer({ engine, port: 0, logger });
    base = `http://127.0.0.1:${(await server.listen()).port}`;
  });

  afterAll(async () => {
    await server?.close();
  });

  beforeEach(() => {
    lines = [];
  });

  test.each<[string, string, string, string | undefined, number, Record<string, unknown>]>([
    // name, method, request target, body, expected status, the log line expected (besides time)
    ['GET with the input in the query string', 'GET', `/v1/data/app/conflict/x?input=${encodeURIComponent(JSON.stringify(CONFLICTING))}&pretty`, undefined, 500, {
      level: 'error', msg: 'request failed', method: 'GET', path: '/v1/data/app/conflict/x', status: 500, code: 'internal_error', message: expect.stringMatching(/^evaluation of app\/conflict\/x failed: .*var assignment conflict$/),
    }],
    ['POST with the input in the body', 'POST', '/v1/data/app/conflict/x', JSON.stringify({ input: CONFLICTING }), 500, {
      level: 'error', msg: 'request failed', method: 'POST', path: '/v1/data/app/conflict/x', status: 500, code: 'internal_error', message: expect.stringMatching(/^evaluation of app\/conflict\/x failed: .*var assignment conflict$/),
    }],
    ['POST to the v0 API with the body as the input', 'POST', '/v0/data/app/conflict/x', JSON.stringify(CONFLICTING), 500, {
      level: 'error', msg: 'request failed', method: 'POST', path: '/v0/data/app/conflict/x', status: 500, code: 'internal_error', message: expect.stringMatching(/^evaluation of app\/conflict\/x failed: .*var assignment conflict$/),
    }],
    ['GET with a malformed input in the query string', 'GET', `/v1/data/app/conflict/x?input=${encodeURIComponent(MALFORMED)}`, undefined, 400, {
      level: 'debug', msg: 'request refused', method: 'GET', path: '/v1/data/app/conflict/x', status: 400, code: 'invalid_parameter', message: 'parameter contains malformed input document', cause: 'SyntaxError',
    }],
    ['POST with a malformed body', 'POST', '/v1/data/app/conflict/x', MALFORMED, 400, {
      level: 'debug', msg: 'request refused', method: 'POST', path: '/v1/data/app/conflict/x', status: 400, code: 'invalid_parameter', message: 'body contains malformed input document', cause: 'SyntaxError',
    }],
    ['PUT with the secret in the query string and the body', 'PUT', `/v1/data/app/conflict/x?input=${SECRET}`, JSON.stringify({ input: CONFLICTING }), 405, {
      level: 'debug', msg: 'request refused', method: 'PUT', path: '/v1/data/app/conflict/x', status: 405, code: 'method_not_allowed', message: 'PUT /v1/data is not supported: the OPA Lambda extension is read-only, its policies and data come from bundles',
    }],
    ['GET to no API with the secret in the query string', 'GET', `/v2/data?input=${SECRET}`, undefined, 404, {
      level: 'debug', msg: 'request refused', method: 'GET', path: '/v2/data', status: 404, code: 'resource_not_found', message: 'no API at /v2/data',
    }],
  ])('WHEN a %s fails THEN one line names the path and the error, and no line holds the input, query or body', async (_name, method, target, body, status, expected) => {
    // WHEN
    const reply = await send(base, { method, path: target, body, headers: body === undefined ? {} : { 'Content-Type': 'application/json' } });
    // THEN
    expect(reply.status).toBe(status);
    for (const line of lines) expect(line).not.toContain(SECRET);
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([{ time: expect.any(String), ...expected }]);
  });
});
