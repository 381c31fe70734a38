/**
 * Robustness: thousands of malformed, truncated, oversized and deeply nested bodies and random
 * paths, sent over loopback; afterwards the server must still answer a valid request correctly
 * and its heap must not have grown without bound. The inputs come from a seeded generator, so a
 * failure can be replayed; counts and time are bounded, and no assertion depends on timing.
 */
import * as http from 'node:http';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as zlib from 'node:zlib';
import { restApiEngine } from './rest-api-fixture';
import type { DecisionRecord } from '../../../runtime/src/contracts/decision-record';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { PolicyServer } from '../../../runtime/src/server/server';
import { RawRequest, send } from '../../support/http-client';

const REQUESTS = 3000;
const CONCURRENCY = 16;
const MAX_BODY = 64 * 1024;
const MAX_INFLATED = 256 * 1024;
/** Stop sending after this long even if not all requests went out (a slow machine). */
const BUDGET_MS = 15_000;

/** Park-Miller minimal standard generator: seeded, so every run sends the same requests. */
function prng(seed: number): () => number {
  let a = seed % 2147483647 || 1;
  return () => {
    a = (a * 48271) % 2147483647;
    return (a - 1) / 2147483646;
  };
}

function generator(seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const valid = () => JSON.stringify({ input: { user: pick(['alice', 'bob', 'eve']), action: 'read', type: 'document', n: int(1e6) } });
  const segment = () => pick([
    'app', 'rbac', 'allow', 'multi', 'limits', 'tiers', '0', '1', '-1', '99999999999', '%00', '%ZZ', '%E0%A4%A', '%2F', '..', '.', '',
    '%F0%9F%98%80', 'x'.repeat(int(300)), encodeURIComponent(bytes(int(8)).toString('latin1')),
  ]);
  const route = () => pick(['/v1/data', '/v1/data', '/v1/batch/data', '/v0/data', '', '/health', '/v1/policies', '/v1', '/v2/data']);
  const query = () => pick(['', '?pretty', '?metrics=TRUE&provenance', '?instrument&pretty=1', `?input=${encodeURIComponent(valid())}`,
    '?input=%7B', '?input=' + '%5B'.repeat(int(2000)), '?bundles&plugins&exclude-plugin=' + segment(), '?' + bytes(int(20)).toString('hex')]);
  const body = (): { body?: Buffer | string; headers?: http.OutgoingHttpHeaders } => {
    switch (int(11)) {
      case 0: { const v = valid(); return { body: v.slice(0, int(v.length)) }; } // truncated
      case 1: return { body: bytes(int(2048)) }; // random bytes
      case 2: { const d = 1 + int(100_000); return { body: '{"input": ' + '['.repeat(d) + ']'.repeat(d) + '}' }; } // deeply nested, valid
      case 3: { const d = 1 + int(30_000); return { body: '{"input": ' + '{"a":'.repeat(d) + '1' + '}'.repeat(d) + '}' }; }
      case 4: return { body: '['.repeat(int(MAX_BODY)) }; // deeply nested, unterminated
      case 5: return { body: 'x'.repeat(MAX_BODY + 1 + int(MAX_BODY)) }; // oversized
      case 6: return { body: zlib.gzipSync(Buffer.alloc(MAX_INFLATED + int(MAX_INFLATED))), headers: { 'Content-Encoding': 'gzip' } }; // gzip bomb
      case 7: { const z = zlib.gzipSync(valid()); return { body: z.subarray(0, int(z.length)), headers: { 'Content-Encoding': 'gzip' } }; } // truncated gzip
      case 8: return { body: JSON.stringify({ inputs: pick([null, 1, [], 'x', { a: {}, b: null, c: [[[]]] }]) }) };
      case 9: return { body: valid(), headers: { 'Content-Encoding': pick(['gzip', 'deflate', 'br', 'GZIP', '']) } };
      default: return { body: valid() };
    }
  };
  return (): RawRequest => {
    const segments = Array.from({ length: int(6) }, segment);
    const path = (route() + '/' + segments.join('/')).replace(/^$/, '/') + query();
    return { method: pick(['POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']), path, ...body() };
  };
}

/** A full collection when the test can have one (`--expose-gc` set at run time), for steadier heap numbers. */
function collect(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

describe('GIVEN a server answering hostile traffic', () => {
  let server: PolicyServer;
  let base: string;
  let decisions = 0;

  beforeAll(async () => {
    const engine = await restApiEngine();
    const listener = { onDecision: (_: DecisionRecord) => { decisions++; } };
    server = new PolicyServer({
      engine, port: 0, logger: SILENT_LOGGER, maxBodyBytes: MAX_BODY, maxDecompressedBodyBytes: MAX_INFLATED, decisionListener: listener,
    });
    base = `http://127.0.0.1:${(await server.listen()).port}`;
  });

  afterAll(async () => {
    await server?.close();
  });

  test('WHEN thousands of malformed, truncated, oversized and deeply nested requests arrive THEN every one is answered in JSON, and a valid request still gets the right answer with bounded memory', async () => {
    const next = generator(20261124);
    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const valid: RawRequest = { method: 'POST', path: '/v1/data/app/rbac/allow', body: JSON.stringify({ input: { user: 'alice', action: 'write', type: 'document' } }) };
    const statuses = new Map<number, number>();
    const refusedConnections: string[] = [];
    const deadline = Date.now() + BUDGET_MS;
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS && Date.now() < deadline) {
        sent++;
        const request = next();
        try {
          const reply = await send(base, request, agent);
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
          if (reply.headers['content-type'] !== 'application/json') throw new Error(`${request.method} ${request.path}: not JSON (${reply.status} ${reply.headers['content-type']}: ${reply.text.slice(0, 200)})`);
        } catch (err) {
          // A refused oversized body closes the connection; the client may see that as a reset
          // while it is still writing. Anything else is a failure.
          if (!/socket hang up|ECONNRESET|EPIPE/.test((err as Error).message)) throw err;
          refusedConnections.push((err as Error).message);
        }
      }
    };
    // Warm up (JIT, pools), then take the baseline.
    for (let i = 0; i < 200; i++) await send(base, next(), agent).catch(() => undefined);
    collect();
    const baseline = process.memoryUsage().heapUsed;

    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    collect();
    const after = process.memoryUsage().heapUsed;
    const answer = await send(base, valid, agent);
    agent.destroy();

    expect(sent).toBeGreaterThanOrEqual(1000);
    expect([...statuses.keys()].every((s) => [200, 207, 400, 404, 405, 500].includes(s))).toBe(true);
    expect(statuses.get(400)).toBeGreaterThan(0);
    expect(refusedConnections.length).toBeLessThan(sent / 4);
    expect(answer).toMatchObject({ status: 200, body: { result: true, decision_id: expect.any(String) } });
    expect(decisions).toBeGreaterThan(0);
    // Generous: the heap may grow with caches, not with every request.
    expect(after).toBeLessThan(Math.max(baseline * 3, baseline + 64 * 1024 * 1024));
  }, 60_000);
});
