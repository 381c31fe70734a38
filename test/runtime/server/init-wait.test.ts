/**
 * The server listens before the policies of init are active (the extension registers first, so
 * the function's runtime starts sooner): a request that arrives in between waits for them.
 */
import * as http from 'node:http';
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { EarlyListener, LOOPBACK } from '../../../runtime/src/server/early-listener';
import { PolicyServer } from '../../../runtime/src/server/server';
import { buildAuthz } from '../../support/authz-bundles';
import { RawReply, send } from '../../support/http-client';

const ALICE = { method: 'POST', path: '/v1/data/authz/allow', body: '{"input": {"user": "alice"}}' };

let archive: Buffer;
let server: PolicyServer | undefined;

beforeAll(async () => {
  archive = await buildAuthz('rev-1');
}, 60_000);

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(ready: Promise<void>, readyTimeoutMs?: number): Promise<{ engine: PolicyEngine; base: string }> {
  const engine = new PolicyEngine();
  server = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER, ready, readyTimeoutMs });
  const { port } = await server.listen();
  return { engine, base: `http://127.0.0.1:${port}` };
}

/** Resolves with whether `promise` settled within a few turns of the event loop. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => { settled = true; }, () => { settled = true; });
  await new Promise((resolve) => setTimeout(resolve, 50));
  return settled;
}

describe('GIVEN a server whose policies are not active yet', () => {
  test('WHEN a decision is asked THEN it waits, and is answered by the policies once they are active', async () => {
    let activated!: () => void;
    const { engine, base } = await start(new Promise((resolve) => { activated = resolve; }));

    const asked = send(base, ALICE, new http.Agent());
    expect(await settledSoon(asked)).toBe(false);
    engine.activate(await readBundle('authz', archive));
    activated();

    expect(await asked).toMatchObject({ status: 200, body: { result: true } });
  });

  test('WHEN /health is asked THEN it answers at once', async () => {
    const { base } = await start(new Promise(() => undefined));

    const reply = await send(base, { method: 'GET', path: '/health' }, new http.Agent());

    expect(reply).toMatchObject({ status: 200, body: {} });
  });

  test('WHEN init fails THEN a waiting decision is answered 500 with the reason, never undefined', async () => {
    let fail!: (err: Error) => void;
    const { base } = await start(new Promise((_, reject) => { fail = reject; }));

    const asked = send(base, ALICE, new http.Agent());
    expect(await settledSoon(asked)).toBe(false);
    fail(new Error('bundle authz: not activated during init'));

    expect(await asked).toMatchObject({
      status: 500,
      body: { code: 'internal_error', message: 'the extension failed to initialise: bundle authz: not activated during init' },
    });
  });

  test('WHEN the policies are not active within the limit THEN the decision is answered 500 naming the limit', async () => {
    const { base } = await start(new Promise(() => undefined), 100);

    const reply: RawReply = await send(base, ALICE, new http.Agent());

    expect(reply).toMatchObject({ status: 500, body: { code: 'internal_error', message: 'the policies of init were not active within 100 ms' } });
  });
});

describe('GIVEN a socket listening before the rest of the extension is loaded (the fast start)', () => {
  let listener: EarlyListener | undefined;

  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });

  test('WHEN decisions and a health check come in before the server exists THEN they are held, and answered by it once it takes over', async () => {
    listener = new EarlyListener();
    const port = await listener.listen(0, LOOPBACK);
    const base = `http://127.0.0.1:${port}`;

    const asked = [send(base, ALICE, new http.Agent()), send(base, { method: 'GET', path: '/health' }, new http.Agent()), send(base, { ...ALICE, body: '{"input": {"user": "bob"}}' }, new http.Agent())];
    expect(await settledSoon(Promise.race(asked))).toBe(false);
    const engine = new PolicyEngine();
    let activated!: () => void;
    server = new PolicyServer({ engine, port, logger: SILENT_LOGGER, listener, ready: new Promise((resolve) => { activated = resolve; }) });
    expect(await server.listen()).toEqual({ host: '127.0.0.1', port });
    engine.activate(await readBundle('authz', archive));
    activated();
    listener = undefined;

    const [alice, health, bob] = await Promise.all(asked);
    expect(alice).toMatchObject({ status: 200, body: { result: true } });
    expect(health).toMatchObject({ status: 200, body: {} });
    expect(bob).toMatchObject({ status: 200, body: { result: false } });
  });

  test('WHEN the fast start gives up THEN close frees the port, held connections included', async () => {
    listener = new EarlyListener();
    const port = await listener.listen(0, LOOPBACK);
    const held = send(`http://127.0.0.1:${port}`, ALICE, new http.Agent());

    await listener.close();
    listener = undefined;

    await expect(held).rejects.toThrow();
    server = new PolicyServer({ engine: new PolicyEngine(), port, logger: SILENT_LOGGER });
    expect(await server.listen()).toEqual({ host: '127.0.0.1', port });
  });
});
