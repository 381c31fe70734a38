/**
 * The server's side of decision logging and of `GET /health?plugins`: every answered decision is
 * handed to the listener with the `decision_id` the response carries.
 */
import type { DecisionRecord } from '../../../runtime/src/contracts/decision-record';
import { PluginState, PluginStatus } from '../../../runtime/src/contracts/plugin';
import { readBundle } from '../../../runtime/src/engine/bundle-reader';
import { PolicyEngine } from '../../../runtime/src/engine/policy-engine';
import { SILENT_LOGGER } from '../../../runtime/src/logger';
import { PolicyServer } from '../../../runtime/src/server/server';
import { buildWasmBundle, readPolicy } from '../../support/opa';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('GIVEN a server with a decision listener', () => {
  let server: PolicyServer;
  let plain: PolicyServer;
  let base: string;
  let plainBase: string;
  let records: DecisionRecord[];
  let states: Record<string, PluginStatus>;

  beforeAll(async () => {
    const [rbac, conflict] = await Promise.all([
      buildWasmBundle({
        modules: { 'rbac.rego': readPolicy('rbac.rego') },
        entrypoints: ['app/rbac/allow'],
        data: JSON.parse(readPolicy('rbac-data.json')),
        manifest: { roots: ['app/rbac'] },
        revision: 'rev-9',
      }),
      buildWasmBundle({ modules: { 'conflict.rego': readPolicy('conflict.rego') }, entrypoints: ['app/conflict/x'], manifest: { roots: ['app/conflict'] } }),
    ]);
    const engine = new PolicyEngine();
    engine.activate(await readBundle('rbac', rbac));
    engine.activate(await readBundle('conflict', conflict));
    server = new PolicyServer({
      engine, port: 0, logger: SILENT_LOGGER, decisionListener: { onDecision: (r) => records.push(r) }, pluginStatuses: () => states,
    });
    plain = new PolicyServer({ engine, port: 0, logger: SILENT_LOGGER });
    base = `http://127.0.0.1:${(await server.listen()).port}`;
    plainBase = `http://127.0.0.1:${(await plain.listen()).port}`;
  });

  afterAll(async () => {
    await server?.close();
    await plain?.close();
  });

  beforeEach(() => {
    records = [];
    states = { bundle: { state: PluginState.OK }, decision_logs: { state: PluginState.OK } };
  });

  async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  }

  test('WHEN a decision is asked THEN the response carries a UUID decision_id, and the listener gets the same id with OPA\'s fields', async () => {
    const res = await post(`${base}/v1/data/app/rbac/allow`, { input: { user: 'alice', action: 'read' } });

    expect(res.status).toBe(200);
    expect(res.body.decision_id).toMatch(UUID);
    expect(records).toHaveLength(1);
    const [r] = records;
    expect(r).toMatchObject({
      decisionId: res.body.decision_id,
      path: 'app/rbac/allow',
      input: { user: 'alice', action: 'read' },
      result: res.body.result,
      requestedBy: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      bundles: { rbac: { revision: 'rev-9' } },
      metrics: { timer_rego_query_eval_ns: expect.any(Number), timer_server_handler_ns: expect.any(Number) },
    });
    expect(r.error).toBeUndefined();
    expect(r.timestamp).toBeInstanceOf(Date);
  });

  test('WHEN GET asks an undefined document without input THEN the record has neither result nor input', async () => {
    const res = await fetch(`${base}/v1/data/app/rbac/nothing`, { signal: AbortSignal.timeout(5000) });
    const body = await res.json() as Record<string, unknown>;

    expect(body).toEqual({ decision_id: records[0].decisionId });
    expect(records[0].result).toBeUndefined();
    expect(records[0].input).toBeUndefined();
  });

  test('WHEN the evaluation fails THEN the listener gets the decision with OPA\'s error', async () => {
    const res = await post(`${base}/v1/data/app/conflict/x`, { input: { a: true, b: true } });

    expect(res.status).toBe(500);
    expect(records).toEqual([expect.objectContaining({ path: 'app/conflict/x', error: { code: 'internal_error', message: expect.stringContaining('app/conflict/x') } })]);
  });

  test('WHEN there is no listener THEN responses carry no decision_id', async () => {
    const res = await post(`${plainBase}/v1/data/app/rbac/allow`, { input: { user: 'alice', action: 'read' } });

    expect(res.body).not.toHaveProperty('decision_id');
  });

  test.each([
    ['every plugin is OK', '/health?plugins', {}, 200, {}],
    ['a plugin is not OK', '/health?plugins', { decision_logs: { state: PluginState.ERROR } }, 500, { error: 'one or more plugins are not up' }],
    ['the plugin that is not OK is excluded', '/health?plugins&exclude-plugin=decision_logs', { decision_logs: { state: PluginState.NOT_READY } }, 200, {}],
    ['plugins are not asked about', '/health', { bundle: { state: PluginState.ERROR } }, 200, {}],
  ])('WHEN %s THEN GET %s answers as OPA\'s Health API', async (_, path, changed, status, body) => {
    states = { ...states, ...changed };

    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5000) });

    expect(res.status).toBe(status);
    expect(await res.json()).toEqual(body);
  });
});
