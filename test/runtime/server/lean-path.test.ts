/**
 * The server's lean path: `POST /v1/data/...` with a body of known length and `GET /v1/data/...`,
 * without a query, once the policies are active, are answered without a promise. Every other
 * request takes the general path. Both must answer the same bytes.
 */
import { createHook } from 'node:async_hooks';
import * as net from 'node:net';
import { restApiEngine } from './rest-api-fixture';
import type { DecisionRecord } from '../../../runtime/src/contracts/decision-record';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { PolicyServer } from '../../../runtime/src/server/server';

const BODY = '{"input": {"user": "alice", "action": "write", "type": "document"}}';

/** One exchange on a raw socket: what the server wrote back, and how many promises were made meanwhile. */
interface Exchange {
  readonly head: string;
  readonly body: string;
  readonly promises: number;
}

let promises = 0;
const promiseHook = createHook({ init: (_id, type) => { if (type === 'PROMISE') promises++; } });

/**
 * Writes `pieces` on a new socket (`delayMs` apart) and reads one response, with callbacks only,
 * so that every promise counted between the first write and the end of the answer is the server's.
 */
function exchange(port: number, pieces: readonly string[], delayMs = 0): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const text = received.toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      if (split < 0) return;
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, split))?.[1]);
      if (Buffer.byteLength(text.slice(split + 4)) < length) return;
      const counted = promises;
      promiseHook.disable();
      socket.destroy();
      // The Date header is the only part of a response that may differ between two answers.
      resolve({ head: text.slice(0, split).replace(/\r\nDate: [^\r]*/, ''), body: text.slice(split + 4), promises: counted });
    });
    socket.on('connect', () => {
      promises = 0;
      promiseHook.enable();
      const write = (i: number): void => {
        socket.write(pieces[i]);
        if (i + 1 < pieces.length) setTimeout(() => write(i + 1), delayMs);
      };
      write(0);
    });
  });
}

function post(path: string, headers: string, body: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headers}\r\n${body}`;
}

const withLength = (body: string) => `Content-Length: ${Buffer.byteLength(body)}\r\n`;

function chunked(pieces: readonly string[]): string {
  return pieces.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
}

let engine: PolicyEngine;

beforeAll(async () => {
  engine = await restApiEngine();
});

async function started(options: Partial<ConstructorParameters<typeof PolicyServer>[0]> = {}): Promise<{ server: PolicyServer; port: number }> {
  const server = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER, ...options });
  return { server, port: (await server.listen()).port };
}

describe('GIVEN a server whose policies are active', () => {
  let server: PolicyServer;
  let port: number;

  beforeAll(async () => {
    ({ server, port } = await started());
  });

  afterAll(async () => {
    await server?.close();
  });

  test('WHEN a decision comes with its length in one write THEN it is answered without a promise', async () => {
    const lean = await exchange(port, [post('/v1/data/app/rbac/allow', withLength(BODY), BODY)]);

    expect(lean.body).toBe('{"result":true}\n');
    expect(lean.promises).toBe(0);
  });

  test('WHEN a GET decision comes without a query THEN it is answered without a promise, as the general path answers it', async () => {
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const lean = await exchange(port, [get('/v1/data/app/rbac/reasons')]);
    const general = await exchange(port, [get('/v1/data/app/rbac/reasons?pretty=false')]);

    expect(lean.promises).toBe(0);
    expect(general.promises).toBeGreaterThan(0);
    expect(lean.head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(lean.head).toBe(general.head);
    expect(lean.body).toBe(general.body);
  });

  test.each([
    ['chunked', BODY, post('/v1/data/app/rbac/allow', 'Transfer-Encoding: chunked\r\n', chunked(['{"input": {"user": "al', 'ice", "action": "write", "type": "document"}}']))],
    ['with a query', BODY, post('/v1/data/app/rbac/allow?pretty=false', withLength(BODY), BODY)],
    ['without a length (no body)', '', post('/v1/data/app/rbac/allow', '', '')],
  ])('WHEN a decision comes %s THEN the general path answers it, with the bytes of the lean path', async (_name, body, request) => {
    const lean = await exchange(port, [post('/v1/data/app/rbac/allow', withLength(body), body)]);
    const general = await exchange(port, [request]);

    expect(lean.promises).toBe(0);
    expect(general.promises).toBeGreaterThan(0);
    expect(general.head).toBe(lean.head);
    expect(general.body).toBe(lean.body);
  });

  test.each([
    ['alone', '{"input": {"n": 1}}'],
    ['repeated (the last one counts)', '{"input": {"a": 1}, "input": {"b": 2}}'],
    ['beside another member', '{"other": 1, "input": {"n": 2}}'],
    ['holding a member of the same name', '{"input": {"input": 7}}'],
    ['under an escaped key', '{"\\u0069nput": {"n": 5}}'],
    ['with spaces around it', ' {\n "input" :\t[1, 2, {"x": "y"}] }\n'],
  ])('WHEN the input is %s THEN the policy sees the input JSON.parse reads', async (_name, body) => {
    const reply = await exchange(port, [post('/v1/data/app/echo/got', withLength(body), body)]);

    expect(JSON.parse(reply.body)).toEqual({ result: { input: (JSON.parse(body) as { input: unknown }).input } });
  });

  test('WHEN a body of known length arrives in several writes THEN the lean path joins them in order', async () => {
    const head = `POST /v1/data/app/rbac/allow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${withLength(BODY)}\r\n`;
    const whole = await exchange(port, [head + BODY]);
    const pieces = await exchange(port, [head + BODY.slice(0, 20), BODY.slice(20, 45), BODY.slice(45)], 20);

    expect(pieces.body).toBe('{"result":true}\n');
    expect(pieces.head).toBe(whole.head);
    expect(pieces.promises).toBe(0);
  });

  test('WHEN a decision fails on the lean path THEN it is answered as the general path answers it', async () => {
    const bad = '{"input": nope}';
    const lean = await exchange(port, [post('/v1/data/app/rbac/allow', withLength(bad), bad)]);
    const general = await exchange(port, [post('/v1/data/app/rbac/allow?pretty=false', withLength(bad), bad)]);

    expect(lean.head).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(JSON.parse(lean.body)).toMatchObject({ code: 'invalid_parameter' });
    expect(lean.head).toBe(general.head);
    expect(lean.body).toBe(general.body);
  });

  test('WHEN a client goes away in the middle of a body THEN the server goes on answering', async () => {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('POST /v1/data/app/rbac/allow HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"input": ');
        setTimeout(() => { socket.destroy(); resolve(); }, 20);
      });
      socket.on('error', reject);
    });

    const after = await exchange(port, [post('/v1/data/app/rbac/allow', withLength(BODY), BODY)]);
    expect(after.body).toBe('{"result":true}\n');
  });
});

describe('GIVEN a server whose policies are not active yet', () => {
  test('WHEN a decision comes THEN it takes the general path, which waits for them', async () => {
    let activated!: () => void;
    const { server, port } = await started({ ready: new Promise((resolve) => { activated = resolve; }) });
    try {
      const asked = exchange(port, [post('/v1/data/app/rbac/allow', withLength(BODY), BODY)]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      activated();

      const reply = await asked;
      expect(reply.body).toBe('{"result":true}\n');
      expect(reply.promises).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('GIVEN decision logs', () => {
  test('WHEN the lean path answers THEN the decision is logged with the id the answer carries', async () => {
    const records: DecisionRecord[] = [];
    const { server, port } = await started({ decisionListener: { onDecision: (r) => records.push(r) } });
    try {
      const reply = await exchange(port, [post('/v1/data/app/rbac/allow', withLength(BODY), BODY)]);

      const answer = JSON.parse(reply.body) as { decision_id: string; result: boolean };
      expect(reply.promises).toBe(0);
      expect(answer).toEqual({ decision_id: expect.any(String), result: true });
      expect(records).toEqual([expect.objectContaining({
        decisionId: answer.decision_id, path: 'app/rbac/allow', input: { user: 'alice', action: 'write', type: 'document' }, result: true,
      })]);
      expect(records[0].metrics.timer_server_handler_ns).toBeGreaterThanOrEqual(records[0].metrics.timer_rego_query_eval_ns);
    } finally {
      await server.close();
    }
  });
});
