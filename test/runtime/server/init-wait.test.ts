/**
 * The server listens before the policies of init are active (the extension registers first, so
 * the function's runtime starts sooner): a request that arrives in between waits for them.
 */
import * as http from 'node:http';
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
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
