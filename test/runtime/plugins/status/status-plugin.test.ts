import { PluginState, PluginStatus } from '../../../../runtime/src/contracts/plugin';
import { SILENT_LOGGER } from '../../../../runtime/src/logger';
import { parseStatusConfig } from '../../../../runtime/src/plugins/status/config';
import { buildStatusPayload, StatusSources } from '../../../../runtime/src/plugins/status/status-payload';
import { StatusPlugin } from '../../../../runtime/src/plugins/status/status-plugin';
import { parseServices } from '../../../../runtime/src/services/service-config';
import { RecordingServer } from '../../../support/recording-server';
import { within } from '../../../support/within';

const LABELS = { app: 'orders', id: '1780d507-aea2-45cc-ae50-fa153c8e4a5a', version: '0.1.0' };
/** As the bundle plugin reports a bundle (https://www.openpolicyagent.org/docs/management-status). */
const BUNDLE_STATUS = {
  name: 'authz',
  active_revision: 'ABC',
  last_request: '2018-01-01T00:00:00Z',
  last_successful_request: '2018-01-01T00:00:00Z',
  last_successful_download: '2018-01-01T00:00:00Z',
  last_successful_activation: '2018-01-01T00:00:00Z',
  type: 'snapshot',
  size: 1048576,
};

describe('GIVEN the parts of a status report', () => {
  test('WHEN the payload is built THEN it has OPA\'s fields, field by field', () => {
    const payload = buildStatusPayload({
      labels: LABELS,
      bundles: () => ({ authz: BUNDLE_STATUS }),
      decisionLogs: () => ({ code: 'decision_log_error', message: 'log upload failed, server replied with HTTP 400', http_code: 400 }),
      plugins: () => ({ bundle: { state: PluginState.OK }, decision_logs: { state: PluginState.OK }, status: { state: PluginState.WARN, message: 'slow' } }),
      metrics: () => ({ counter_decisions: 3, counter_decision_logs_dropped_buffer_size_limit_bytes_exceeded: 2 }),
    });

    // https://www.openpolicyagent.org/docs/management-status#status-service-api
    expect(Object.keys(payload)).toEqual(['labels', 'bundles', 'decision_logs', 'metrics', 'plugins']);
    expect(payload.labels).toEqual(LABELS);
    expect(payload.bundles).toEqual({ authz: BUNDLE_STATUS });
    expect(payload.decision_logs).toEqual({ code: 'decision_log_error', message: 'log upload failed, server replied with HTTP 400', http_code: 400 });
    expect(payload.plugins).toEqual({ bundle: { state: 'OK' }, decision_logs: { state: 'OK' }, status: { state: 'WARN', message: 'slow' } });
    expect(payload.metrics).toEqual({ prometheus: { counter_decisions: 3, counter_decision_logs_dropped_buffer_size_limit_bytes_exceeded: 2 } });
  });

  test('WHEN parts are empty or unknown THEN they are left out, as OPA\'s omitempty does', () => {
    const payload = buildStatusPayload({
      labels: LABELS,
      bundles: () => ({}),
      decisionLogs: () => undefined,
      plugins: () => ({}),
      metrics: () => ({}),
    });

    expect(payload).toEqual({ labels: LABELS });
  });
});

describe('GIVEN a status plugin reporting to a service', () => {
  let server: RecordingServer;
  let url: string;
  let states: Record<string, PluginStatus>;
  let decisionLogs: Record<string, unknown> | undefined;
  let counters: Record<string, number>;
  let lines: Array<Record<string, unknown>>;

  beforeEach(async () => {
    server = new RecordingServer();
    url = await server.listen();
    states = { bundle: { state: PluginState.OK }, decision_logs: { state: PluginState.OK } };
    decisionLogs = {};
    counters = { counter_decisions: 0 };
    lines = [];
  });

  afterEach(async () => {
    await server.close();
  });

  function plugin(status: Record<string, unknown> = { service: 'control' }): StatusPlugin {
    const config = parseStatusConfig(status, parseServices({ control: { url } }))!;
    const sources: StatusSources = {
      labels: LABELS,
      bundles: () => ({ authz: BUNDLE_STATUS }),
      plugins: () => states,
      decisionLogs: () => decisionLogs,
      metrics: () => counters,
    };
    return new StatusPlugin({
      ...sources,
      config,
      logger: SILENT_LOGGER,
      console: (l) => lines.push(JSON.parse(l)),
      client: config.service ? server.client('control') : undefined,
      now: () => new Date('2026-01-01T00:00:00.500Z'),
    });
  }
  const never = () => new AbortController().signal;

  test('WHEN the first round runs THEN OPA\'s payload is POSTed as JSON to /status', async () => {
    const p = plugin();
    await p.start(never());

    await within(p.trigger(never()));

    expect(server.requests).toHaveLength(1);
    const [req] = server.requests;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/status');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.json).toEqual({
      labels: LABELS,
      bundles: { authz: BUNDLE_STATUS },
      decision_logs: {},
      metrics: { prometheus: { counter_decisions: 0 } },
      plugins: { bundle: { state: 'OK' }, decision_logs: { state: 'OK' } },
    });
  });

  test('WHEN nothing but the counters changed THEN a round sends nothing; WHEN a state changes THEN it reports, with the current counters', async () => {
    const p = plugin();
    await p.start(never());
    await within(p.trigger(never()));

    counters = { counter_decisions: 5 };
    await within(p.trigger(never()));
    expect(server.requests).toHaveLength(1);

    decisionLogs = { code: 'decision_log_error', message: 'log upload failed, server replied with HTTP 500', http_code: 500 };
    await within(p.trigger(never()));
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].json).toMatchObject({ decision_logs: decisionLogs, metrics: { prometheus: { counter_decisions: 5 } } });

    states = { ...states, bundle: { state: PluginState.ERROR, message: 'download failed' } };
    await within(p.trigger(never()));
    expect(server.requests).toHaveLength(3);
    expect(server.requests[2].json).toMatchObject({ plugins: { bundle: { state: 'ERROR', message: 'download failed' } } });
  });

  test('WHEN the service fails THEN the round rejects with OPA\'s message and the next round tries again', async () => {
    const p = plugin();
    await p.start(never());
    server.answer = 500;

    await expect(within(p.trigger(never()))).rejects.toThrow('status update failed, server replied with HTTP 500');
    server.answer = 200;
    await within(p.trigger(never()));
    await within(p.trigger(never())); // nothing changed since the report the service accepted

    expect(server.requests.map((r) => r.status)).toEqual([500, 200]);
  });

  test('WHEN the service is unreachable THEN the round rejects naming the failure', async () => {
    const p = plugin();
    await p.start(never());
    await server.close();

    await expect(within(p.trigger(never()))).rejects.toThrow(/^status update failed: /);
    server = new RecordingServer();
    await server.listen();
  });

  test('WHEN it stops after the counters moved THEN it sends one final report with them, and reports NOT_READY afterwards', async () => {
    const p = plugin();
    await p.start(never());
    await within(p.trigger(never()));
    counters = { counter_decisions: 7 };

    await within(p.stop(never()));

    expect(server.requests).toHaveLength(2);
    expect(server.requests[1].json).toMatchObject({ metrics: { prometheus: { counter_decisions: 7 } } });
    expect(p.status()).toEqual({ state: PluginState.NOT_READY });
  });

  test('WHEN the flushing trigger at SHUTDOWN already sent the final state THEN stop does not send it twice', async () => {
    const p = plugin();
    await p.start(never());
    await within(p.trigger(never()));
    states = { ...states, decision_logs: { state: PluginState.NOT_READY } }; // decision_logs stopped first

    await within(p.trigger(never()));
    await within(p.stop(never()));

    expect(server.requests).toHaveLength(2);
  });

  test('WHEN it stops and nothing was ever sent THEN the final report is sent', async () => {
    const p = plugin();
    await p.start(never());

    await within(p.stop(never()));

    expect(server.requests).toHaveLength(1);
  });

  test('WHEN it stops with a signal that already aborted THEN it sends nothing and returns at once', async () => {
    const p = plugin({ service: 'control', console: true });
    await p.start(never());
    const controller = new AbortController();
    controller.abort(new Error('shutdown budget spent'));

    void p.stop(controller.signal);

    expect(lines).toHaveLength(1); // the console line, written synchronously
    await within(new Promise((resolve) => setImmediate(resolve)));
    expect(server.requests).toHaveLength(0);
  });

  test('WHEN the round\'s signal aborts while the service hangs THEN the round returns promptly', async () => {
    const p = plugin();
    await p.start(never());
    const controller = new AbortController();
    server.answer = () => { controller.abort(new Error('trigger_timeout reached')); return 'hang'; };

    await expect(within(p.trigger(controller.signal), 5000, 'aborted trigger')).rejects.toThrow();

    // The report was not delivered, so the next round sends it although nothing changed.
    server.answer = 200;
    await within(p.trigger(never()));
    expect(server.accepted()).toHaveLength(1);
  });

  test('WHEN partition_name is set THEN reports go to /status/<partition_name>', async () => {
    const p = plugin({ service: 'control', partition_name: 'fleet-a' });
    await p.start(never());

    await within(p.trigger(never()));

    expect(server.requests.map((r) => r.url)).toEqual(['/status/fleet-a']);
  });

  test('WHEN console is on THEN each report is printed as OPA\'s "Status Log" line', async () => {
    const p = plugin({ console: true });
    await p.start(never());

    await within(p.trigger(never()));
    await within(p.trigger(never()));

    expect(server.requests).toHaveLength(0);
    expect(lines).toEqual([{
      labels: LABELS,
      bundles: { authz: BUNDLE_STATUS },
      decision_logs: {},
      metrics: { prometheus: { counter_decisions: 0 } },
      plugins: { bundle: { state: 'OK' }, decision_logs: { state: 'OK' } },
      level: 'info',
      msg: 'Status Log',
      time: '2026-01-01T00:00:00Z',
      type: 'openpolicyagent.org/status',
    }]);
  });
});
