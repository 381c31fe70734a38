/**
 * Decision logs and status under the Lambda lifecycle, end to end: the synthesized layer runs under
 * the local emulator, the function asks decisions over HTTP, and the log and status services are
 * real HTTP servers on loopback. The lifecycle steps follow the Go plugin's test (init, first
 * INVOKE, INVOKE within the threshold, INVOKE after it, SHUTDOWN).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LambdaEmulator } from '../../emulator/src';
import { OpaBundle } from '../../src';
import { buildRbacBundle } from './fixtures/rbac-bundle';
import { freePort, synthesizeLayer, SynthesizedLayer, writeTempBundle } from '../support/layer';
import { RecordingServer } from '../support/recording-server';

const HANDLER = { file: path.join(__dirname, 'fixtures', 'decision-handler.js') };
const THRESHOLD_SECONDS = 2;


let layer: SynthesizedLayer;
let bundleFile: { file: string; dispose(): void };
let emulator: LambdaEmulator | undefined;
let logs: RecordingServer;
let status: RecordingServer;
const dirs: string[] = [];

beforeAll(async () => {
  const archive = await buildRbacBundle(['app/rbac/allow']);
  bundleFile = writeTempBundle(archive, 'authz.tar.gz');
  layer = synthesizeLayer({ bundle: OpaBundle.fromAsset(bundleFile.file), port: await freePort(), labels: { app: 'e2e' } });
});

afterAll(() => {
  layer?.dispose();
  bundleFile?.dispose();
});

beforeEach(async () => {
  logs = new RecordingServer();
  status = new RecordingServer();
  await logs.listen();
  await status.listen();
});

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
  await logs.close();
  await status.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A copy of the synthesized layer whose OPA config also sends decision logs and status to the loopback servers. */
function layerWithServices(options: { thresholdSeconds?: number; decisionLogs?: Record<string, unknown> } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'opa-e2e-logs-'));
  dirs.push(dir);
  fs.cpSync(layer.layerDir, dir, { recursive: true });
  const file = path.join(dir, 'opa-extension', 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.services = { logs: { url: urlOf(logs) }, control: { url: urlOf(status) } };
  config.decision_logs = { service: 'logs', ...options.decisionLogs };
  config.status = { service: 'control' };
  if (options.thresholdSeconds !== undefined) config.plugins.lambda_extension.minimum_trigger_threshold = options.thresholdSeconds;
  fs.writeFileSync(file, JSON.stringify(config));
  return dir;
}

function urlOf(server: RecordingServer): string {
  return server.client().config.url;
}

function emulate(layerDir: string): LambdaEmulator {
  emulator = new LambdaEmulator({ layerDir, handler: HANDLER, environment: layer.environment });
  return emulator;
}

/** One invocation that asks one decision; returns the decision_id the API returned. */
async function decide(emu: LambdaEmulator, user: string): Promise<string> {
  const res = await emu.invoke({ path: 'app/rbac/allow', input: { user, action: 'read' } });
  expect(res.error).toBeUndefined();
  const body = (res.result as { body: { decision_id?: string; result?: unknown } }).body;
  expect(body.decision_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  return body.decision_id!;
}

/** One invocation that asks no decision (the handler only reports its init-time health check). */
async function invokeWithoutDecision(emu: LambdaEmulator): Promise<void> {
  const res = await emu.invoke({ via: 'health-at-init' });
  expect(res.error).toBeUndefined();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ids = (server: RecordingServer) => server.events().map((e) => e.decision_id as string);

describe('GIVEN the layer with decision logs and status sent to loopback services', () => {
  test('WHEN the lifecycle runs init, first INVOKE, INVOKE within the threshold, INVOKE after it, SHUTDOWN THEN uploads and reports follow the rounds, and every decision_id arrives exactly once', async () => {
    const emu = emulate(layerWithServices({ thresholdSeconds: THRESHOLD_SECONDS }));
    const counts = () => ({ logUploads: logs.accepted().length, statusReports: status.accepted().length });

    // Init: the first round reports status; nothing to upload.
    expect(await emu.start()).toMatchObject({ ok: true });
    expect(counts()).toEqual({ logUploads: 0, statusReports: 1 });
    const first = status.accepted()[0].json as Record<string, unknown>;
    expect(first).toMatchObject({
      labels: { app: 'e2e', id: expect.any(String), version: expect.any(String) },
      decision_logs: {},
      plugins: { decision_logs: { state: 'OK' }, status: { state: 'OK' } },
      metrics: { prometheus: { counter_decisions: 0 } },
    });

    // First INVOKE: always a round; nothing buffered, and no state changed.
    await invokeWithoutDecision(emu);
    expect(counts()).toEqual({ logUploads: 0, statusReports: 1 });

    // INVOKEs within the threshold: no round, so the decisions stay buffered.
    const early = [await decide(emu, 'alice'), await decide(emu, 'bob')];
    expect(counts()).toEqual({ logUploads: 0, statusReports: 1 });

    // INVOKE after the threshold: a round uploads what the earlier invocations buffered.
    await sleep(THRESHOLD_SECONDS * 1000 + 200);
    await invokeWithoutDecision(emu);
    expect(counts()).toEqual({ logUploads: 1, statusReports: 1 });
    expect(ids(logs)).toEqual(early);

    // One more decision within the new threshold, then SHUTDOWN flushes it and sends the final report.
    const late = await decide(emu, 'alice');
    expect(counts()).toEqual({ logUploads: 1, statusReports: 1 });
    const shutdown = await emu.shutdown();

    expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'opa', exitCode: 0, killed: false })]);
    expect(counts()).toEqual({ logUploads: 2, statusReports: 2 });
    expect(ids(logs)).toEqual([...early, late]);
    const upload = logs.accepted()[0];
    expect(upload.url).toBe('/logs');
    expect(upload.headers['content-encoding']).toBe('gzip');
    expect(logs.events()[0]).toMatchObject({
      labels: { app: 'e2e', id: (first.labels as Record<string, string>).id },
      bundles: { authz: { revision: 'rev-1' } },
      path: 'app/rbac/allow',
      input: { user: 'alice', action: 'read' },
      result: true,
      requested_by: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      metrics: { timer_rego_query_eval_ns: expect.any(Number), timer_server_handler_ns: expect.any(Number) },
    });
    const last = status.accepted()[1].json as { metrics: { prometheus: Record<string, number> }; plugins: Record<string, { state: string }> };
    expect(last.metrics.prometheus).toMatchObject({ counter_decisions: 3, counter_decision_logs_events_uploaded: 3 });
    expect(last.plugins.decision_logs.state).toBe('NOT_READY');
  });

  test('WHEN the log service is down for several invocations, below the buffer limit, THEN no decision is lost once it is back', async () => {
    const emu = emulate(layerWithServices({ thresholdSeconds: 0 }));
    expect(await emu.start()).toMatchObject({ ok: true });
    logs.answer = 500;
    const asked: string[] = [];
    for (let i = 0; i < 4; i++) asked.push(await decide(emu, i % 2 ? 'alice' : 'bob'));
    expect(logs.accepted()).toHaveLength(0);

    logs.answer = 200;
    asked.push(await decide(emu, 'alice'));
    await emu.shutdown();

    expect(ids(logs)).toEqual(asked);
    // The failed uploads were reported as OPA's decision_logs error, then cleared.
    const reports = status.accepted().map((r) => r.json as { decision_logs?: Record<string, unknown> });
    expect(reports.some((r) => r.decision_logs?.http_code === 500 && r.decision_logs.code === 'decision_log_error')).toBe(true);
    expect(reports[reports.length - 1].decision_logs).toEqual({});
  });

  test('WHEN the log service is down and the buffer overflows THEN exactly the oldest are dropped, and the count is reported in status and on stdout', async () => {
    const emu = emulate(layerWithServices({ thresholdSeconds: 0, decisionLogs: { reporting: { buffer_size_limit_bytes: 1500 } } }));
    expect(await emu.start()).toMatchObject({ ok: true });
    logs.answer = 500;
    const asked: string[] = [];
    for (let i = 0; i < 8; i++) asked.push(await decide(emu, i % 2 ? 'alice' : 'bob'));

    logs.answer = 200;
    await emu.shutdown();

    const received = ids(logs);
    const dropped = asked.length - received.length;
    expect(received.length).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
    // The newest survive, in order: what was dropped is exactly the oldest.
    expect(received).toEqual(asked.slice(dropped));
    const reports = status.accepted().map((r) => r.json as { metrics: { prometheus: Record<string, number> } });
    expect(reports[reports.length - 1].metrics.prometheus.counter_decision_logs_dropped_buffer_size_limit_bytes_exceeded).toBe(dropped);
    const dropLines = emu.jsonLines('opa').filter((l) => String(l.msg).startsWith('Dropped decision log events from buffer'));
    expect(dropLines.flatMap((l) => l.decision_ids as string[])).toEqual(asked.slice(0, dropped));
  });

  test('WHEN SHUTDOWN comes while the log service is too slow THEN the extension exits before the deadline and the decisions not uploaded are on stdout', async () => {
    const emu = emulate(layerWithServices());
    expect(await emu.start()).toMatchObject({ ok: true });
    await invokeWithoutDecision(emu); // the first INVOKE's round, before the service slows down
    logs.answer = 'hang';
    const asked = [await decide(emu, 'alice'), await decide(emu, 'bob')];

    const shutdown = await emu.shutdown();

    expect(shutdown.extensions).toEqual([expect.objectContaining({ name: 'opa', exitCode: 0, killed: false })]);
    const exitedAt = emu.events.find((e) => e.type === 'exit' && e.source === 'opa');
    expect(exitedAt).toBeDefined();
    expect(logs.accepted()).toHaveLength(0);
    const printed = emu.jsonLines('opa').filter((l) => l.msg === 'Decision Log' && l.type === 'openpolicyagent.org/decision_logs');
    expect(printed.map((l) => l.decision_id)).toEqual(asked);
    expect(printed[0]).toMatchObject({ path: 'app/rbac/allow', input: { user: 'alice', action: 'read' }, result: true });
    expect(emu.jsonLines('opa')).toContainEqual(expect.objectContaining({ msg: 'decision log events not uploaded before shutdown; written to stdout', count: 2 }));
  });
});
