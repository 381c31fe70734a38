import { randomBytes, randomUUID } from 'node:crypto';
import type { DecisionRecord } from '../../../../runtime/src/contracts/decision-record';
import { PluginState } from '../../../../runtime/src/contracts/plugin';
import { parseDecisionLogsConfig } from '../../../../runtime/src/plugins/decision-logs/config';
import { DecisionLogsPlugin, METRIC } from '../../../../runtime/src/plugins/decision-logs/decision-logs-plugin';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { RecordingLogger } from '../../../support/recording-logger';
import { RecordingServer } from '../../../support/recording-server';
import { within } from '../../../support/within';

const LABELS = { id: 'instance-1', version: '0.1.0', app: 'orders' };

let server: RecordingServer;
let url: string;

beforeEach(async () => {
  server = new RecordingServer();
  url = await server.listen();
});

afterEach(async () => {
  await server.close();
});

/** A log of what the plugin printed and logged, for assertions. */
class Captured {
  public readonly lines: Array<Record<string, unknown>> = [];
  public readonly logger = new RecordingLogger();
  public readonly write = (line: string): void => { this.lines.push(JSON.parse(line)); };
}

function plugin(decisionLogs: Record<string, unknown>, captured = new Captured()): DecisionLogsPlugin {
  const services = parseServices({ logs: { url } });
  const config = parseDecisionLogsConfig(decisionLogs, services)!;
  return new DecisionLogsPlugin({
    config,
    labels: LABELS,
    logger: captured.logger,
    console: captured.write,
    client: config.service ? server.client('logs') : undefined,
    now: () => new Date('2026-01-01T00:00:00.000Z'),
  });
}

function decision(i: number, payloadBytes = 0): DecisionRecord {
  return {
    decisionId: randomUUID(),
    path: 'app/rbac/allow',
    input: { user: `user-${i}`, ...(payloadBytes > 0 && { noise: randomBytes(payloadBytes / 2).toString('hex') }) },
    result: i % 2 === 0,
    requestedBy: '127.0.0.1:40000',
    timestamp: new Date('2026-01-01T00:00:00.000Z'),
    metrics: { timer_rego_query_eval_ns: 1000 + i },
    bundles: { authz: { revision: 'rev-1' } },
  };
}

async function started(p: DecisionLogsPlugin): Promise<DecisionLogsPlugin> {
  await p.start(new AbortController().signal);
  return p;
}

const never = () => new AbortController().signal;
const receivedIds = () => server.events().map((e) => e.decision_id);

describe('GIVEN decision logs to a service', () => {
  test('WHEN a round runs THEN everything buffered is POSTed to /logs as one gzip JSON array of OPA events', async () => {
    const p = await started(plugin({ service: 'logs' }));
    const records = [decision(0), decision(1), decision(2)];
    records.forEach((r) => p.onDecision(r));

    await within(p.trigger(never()));

    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/logs');
    expect(req.headers['content-encoding']).toBe('gzip');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.raw.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(req.json).toEqual(records.map((r) => ({
      labels: LABELS,
      decision_id: r.decisionId,
      bundles: { authz: { revision: 'rev-1' } },
      path: 'app/rbac/allow',
      input: r.input,
      result: r.result,
      requested_by: '127.0.0.1:40000',
      timestamp: '2026-01-01T00:00:00Z',
      metrics: r.metrics,
    })));
    expect(p.buffered).toBe(0);
    expect(p.uploadStatus()).toEqual({});
    expect(p.metrics()).toMatchObject({ [METRIC.decisions]: 3, [METRIC.chunksUploaded]: 1, [METRIC.eventsUploaded]: 3 });
  });

  test('WHEN nothing is buffered THEN a round sends nothing', async () => {
    const p = await started(plugin({ service: 'logs' }));

    await within(p.trigger(never()));

    expect(server.requests).toHaveLength(0);
    expect(p.uploadStatus()).toEqual({});
  });

  test('WHEN a resource is configured THEN uploads go there', async () => {
    const p = await started(plugin({ service: 'logs', resource: '/audit/opa' }));
    p.onDecision(decision(0));

    await within(p.trigger(never()));

    expect(server.requests.map((r) => r.url)).toEqual(['/audit/opa']);
  });

  test('WHEN more is buffered than one upload may carry THEN it goes in several chunks, each within the limit, every event once and in order', async () => {
    const p = await started(plugin({ service: 'logs', reporting: { upload_size_limit_bytes: 1024 } }));
    const records = Array.from({ length: 40 }, (_, i) => decision(i, 200));
    records.forEach((r) => p.onDecision(r));

    await within(p.trigger(never()));

    expect(server.requests.length).toBeGreaterThan(1);
    for (const req of server.requests) expect(req.raw.length).toBeLessThanOrEqual(1024);
    expect(receivedIds()).toEqual(records.map((r) => r.decisionId));
  });

  test('WHEN the service fails THEN the round rejects, the status reports OPA\'s error, and the next round delivers every event exactly once, in order', async () => {
    const p = await started(plugin({ service: 'logs' }));
    const first = [decision(0), decision(1)];
    first.forEach((r) => p.onDecision(r));
    server.answer = 500;

    await expect(within(p.trigger(never()))).rejects.toThrow(/decision log upload to service logs failed after 0 of 1 chunks; 2 events kept/);

    expect(p.uploadStatus()).toEqual({ code: 'decision_log_error', message: 'log upload failed, server replied with HTTP 500', http_code: 500 });
    expect(p.buffered).toBe(2);
    const second = [decision(2)];
    second.forEach((r) => p.onDecision(r));
    server.answer = 200;
    server.requests.length = 0;

    await within(p.trigger(never()));

    expect(receivedIds()).toEqual([...first, ...second].map((r) => r.decisionId));
    expect(p.uploadStatus()).toEqual({});
    expect(p.metrics()).toMatchObject({ [METRIC.chunksFailed]: 1, [METRIC.eventsUploaded]: 3 });
  });

  test('WHEN a later chunk fails after earlier ones were accepted THEN only the unaccepted events are sent again (no duplicates)', async () => {
    const p = await started(plugin({ service: 'logs', reporting: { upload_size_limit_bytes: 1024 } }));
    const records = Array.from({ length: 40 }, (_, i) => decision(i, 200));
    records.forEach((r) => p.onDecision(r));
    let seen = 0;
    server.answer = () => (++seen === 2 ? 503 : 200);

    await expect(within(p.trigger(never()))).rejects.toThrow(/failed after 1 of \d+ chunks/);
    await within(p.trigger(never()));

    const ids = receivedIds();
    expect(ids).toHaveLength(records.length);
    expect(new Set(ids).size).toBe(records.length);
    expect([...ids].sort()).toEqual(records.map((r) => r.decisionId).sort());
  });

  test('WHEN the service is unreachable THEN the error says so and events stay buffered', async () => {
    const p = await started(plugin({ service: 'logs' }));
    p.onDecision(decision(0));
    await server.close();

    await expect(within(p.trigger(never()))).rejects.toThrow(/decision log upload to service logs failed/);

    expect(p.uploadStatus()).toMatchObject({ code: 'decision_log_error', message: expect.stringMatching(/^log upload failed: /) });
    expect(p.uploadStatus()).not.toHaveProperty('http_code');
    expect(p.buffered).toBe(1);
    server = new RecordingServer(); // afterEach closes it
    await server.listen();
  });

  test('WHEN the service is down for N rounds below the buffer limit THEN no event is lost once it is back', async () => {
    const p = await started(plugin({ service: 'logs' }));
    const records: DecisionRecord[] = [];
    server.answer = 500;
    for (let round = 0; round < 5; round++) {
      const r = decision(round);
      records.push(r);
      p.onDecision(r);
      await expect(within(p.trigger(never()))).rejects.toThrow();
    }
    server.answer = 200;

    await within(p.trigger(never()));

    expect(receivedIds()).toEqual(records.map((r) => r.decisionId));
    expect(p.metrics()[METRIC.droppedBufferFull]).toBe(0);
  });

  test('WHEN the service is down and the buffer overflows THEN exactly the oldest are dropped, counted and logged', async () => {
    const captured = new Captured();
    const records = Array.from({ length: 10 }, (_, i) => decision(i));
    // Size the buffer from a real event so that exactly 6 fit (events differ by at most one byte).
    const probe = await started(plugin({ service: 'logs' }));
    probe.onDecision(records[0]);
    const size = Buffer.byteLength(JSON.stringify(await firstEventJson(probe)));
    const p = await started(plugin({ service: 'logs', reporting: { buffer_size_limit_bytes: size * 6 + 5 } }, captured));
    server.requests.length = 0;
    server.answer = 500;
    for (const [i, r] of records.entries()) {
      p.onDecision(r);
      if (i % 3 === 2) await expect(within(p.trigger(never()))).rejects.toThrow();
    }
    server.answer = 200;

    await within(p.trigger(never()));

    expect(receivedIds()).toEqual(records.slice(4).map((r) => r.decisionId));
    expect(p.metrics()[METRIC.droppedBufferFull]).toBe(4);
    const drops = captured.logger.lines.filter((l) => l.level === 'error' && l.msg.startsWith('Dropped decision log events from buffer'));
    expect(drops.reduce((n, l) => n + (l.fields?.dropped as number), 0)).toBe(4);
    expect(drops.flatMap((l) => l.fields?.decision_ids as string[])).toEqual(records.slice(0, 4).map((r) => r.decisionId));
    expect(drops[drops.length - 1].fields?.total_dropped).toBe(4);
  });

  test('WHEN an upload is in flight THEN a decision is recorded at once, without waiting for it', async () => {
    const p = await started(plugin({ service: 'logs' }));
    p.onDecision(decision(0));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => { arrived = resolve; });
    server.answer = () => { arrived(); return 'hang'; };
    const controller = new AbortController();
    const round = p.trigger(controller.signal);
    await within(requestArrived);

    p.onDecision(decision(1));

    expect(p.buffered).toBe(1);
    controller.abort(new Error('round over'));
    await expect(within(round)).rejects.toThrow(/upload cut short: round over|failed/);
    expect(p.buffered).toBe(2);
  });

  test('WHEN the round\'s signal aborts mid-upload THEN the round returns promptly and the events go back to the buffer', async () => {
    const p = await started(plugin({ service: 'logs' }));
    const records = [decision(0), decision(1)];
    records.forEach((r) => p.onDecision(r));
    const controller = new AbortController();
    server.answer = () => { controller.abort(new Error('trigger_timeout reached')); return 'hang'; };

    await expect(within(p.trigger(controller.signal), 5000, 'aborted trigger')).rejects.toThrow();

    expect(p.uploadStatus()).toMatchObject({ code: 'decision_log_error', message: 'upload cut short: trigger_timeout reached' });
    expect(p.buffered).toBe(2);
  });
});

describe('GIVEN a decision log plugin at SHUTDOWN', () => {
  test('WHEN it stops with events still buffered THEN they are written to stdout as OPA console lines, and a warning counts them', async () => {
    const captured = new Captured();
    const p = await started(plugin({ service: 'logs' }, captured));
    const records = [decision(0), decision(1)];
    records.forEach((r) => p.onDecision(r));
    server.answer = 500;
    await expect(within(p.trigger(never()))).rejects.toThrow();

    await within(p.stop(never()));

    expect(captured.lines.map((l) => l.decision_id)).toEqual(records.map((r) => r.decisionId));
    for (const line of captured.lines) expect(line).toMatchObject({ msg: 'Decision Log', type: 'openpolicyagent.org/decision_logs', level: 'info', labels: LABELS });
    expect(captured.logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', msg: 'decision log events not uploaded before shutdown; written to stdout', fields: expect.objectContaining({ count: 2 }) }));
    expect(p.metrics()[METRIC.writtenToConsoleAtShutdown]).toBe(2);
    expect(p.buffered).toBe(0);
    expect(p.status().state).toBe(PluginState.NOT_READY);
  });

  test('WHEN stop comes with an aborted signal while the flush is still in flight THEN the in-flight events are on stdout before stop returns, once', async () => {
    const captured = new Captured();
    const p = await started(plugin({ service: 'logs' }, captured));
    const records = [decision(0), decision(1), decision(2)];
    records.forEach((r) => p.onDecision(r));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => { arrived = resolve; });
    server.answer = () => { arrived(); return 'hang'; };
    const controller = new AbortController();
    const flush = p.trigger(controller.signal);
    await within(requestArrived);
    controller.abort(new Error('shutdown budget spent'));

    // The scheduler does not await a stop whose signal has aborted: what matters happens synchronously.
    void p.stop(controller.signal);
    const printedSynchronously = captured.lines.map((l) => l.decision_id);
    await expect(within(flush)).rejects.toThrow();

    expect(printedSynchronously).toEqual(records.map((r) => r.decisionId));
    expect(captured.lines).toHaveLength(3);
    expect(p.buffered).toBe(0);
  });

  test('WHEN console logging is on THEN events are not printed twice at shutdown', async () => {
    const captured = new Captured();
    const p = await started(plugin({ service: 'logs', console: true }, captured));
    p.onDecision(decision(0));
    server.answer = 500;
    await expect(within(p.trigger(never()))).rejects.toThrow();

    await within(p.stop(never()));

    expect(captured.lines).toHaveLength(1);
    expect(p.metrics()[METRIC.writtenToConsoleAtShutdown]).toBe(1);
  });

  test('WHEN a decision arrives after stop THEN it goes straight to stdout', async () => {
    const captured = new Captured();
    const p = await started(plugin({ service: 'logs' }, captured));
    await p.stop(never());
    const r = decision(0);

    p.onDecision(r);

    expect(captured.lines.map((l) => l.decision_id)).toEqual([r.decisionId]);
    expect(p.buffered).toBe(0);
  });
});

describe('GIVEN decision logs to the console only', () => {
  test('WHEN a decision is made THEN one OPA-shaped JSON line is written at once, and rounds send nothing', async () => {
    const captured = new Captured();
    const p = await started(plugin({ console: true }, captured));
    const r = decision(3);

    p.onDecision(r);
    await within(p.trigger(never()));

    expect(captured.lines).toEqual([{
      labels: LABELS,
      decision_id: r.decisionId,
      bundles: { authz: { revision: 'rev-1' } },
      path: 'app/rbac/allow',
      input: r.input,
      result: false,
      requested_by: '127.0.0.1:40000',
      timestamp: '2026-01-01T00:00:00Z',
      metrics: r.metrics,
      level: 'info',
      msg: 'Decision Log',
      time: '2026-01-01T00:00:00Z',
      type: 'openpolicyagent.org/decision_logs',
    }]);
    expect(server.requests).toHaveLength(0);
    expect(p.uploadStatus()).toBeUndefined();
  });

  test('WHEN the plugin starts and stops THEN its state follows OPA: NOT_READY, OK, NOT_READY', async () => {
    const p = plugin({ console: true });
    expect(p.status()).toEqual({ state: PluginState.NOT_READY });
    await p.start(never());
    expect(p.status()).toEqual({ state: PluginState.OK });
    await p.stop(never());
    expect(p.status()).toEqual({ state: PluginState.NOT_READY });
  });
});

/** The JSON the plugin uploads for its first buffered event (to size a buffer from a real event). */
async function firstEventJson(p: DecisionLogsPlugin): Promise<unknown> {
  await within(p.trigger(never()));
  return server.events()[0];
}
