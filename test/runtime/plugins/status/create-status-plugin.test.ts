import { PluginState } from '../../../../runtime/src/contracts/plugin';
import { ConfigError } from '../../../../runtime/src/errors';
import { createStatusPlugin, CreateStatusPluginOptions } from '../../../../runtime/src/plugins/status/create-status-plugin';
import { StatusPlugin } from '../../../../runtime/src/plugins/status/status-plugin';
import { PLUGIN } from '../../../../src/layer-contract';
import { useRecordingServer } from '../../../support/recording-server';
import { within } from '../../../support/within';
import { factoryOptions, LABELS } from '../factory-options';

const PLUGIN_STATES = { bundle: { state: PluginState.OK }, status: { state: PluginState.NOT_READY } };
const AT = '2026-01-01T00:00:00Z';
const AUTHZ = { name: 'authz', active_revision: 'r1', last_successful_activation: AT, last_successful_download: AT, last_successful_request: AT, last_request: AT };

describe('createStatusPlugin', () => {
  const server = useRecordingServer();

  /** The factory as main.ts calls it; without `services`, one service `control` at the recording server. */
  function create(opaConfig: Record<string, unknown>, parts: Partial<CreateStatusPluginOptions> = {}): StatusPlugin | undefined {
    return createStatusPlugin({ ...factoryOptions(server(), opaConfig, 'control'), pluginStatuses: () => PLUGIN_STATES, ...parts });
  }

  /** Starts the plugin and runs one round; the report the service received. */
  async function report(plugin: StatusPlugin): Promise<unknown> {
    await plugin.start(new AbortController().signal);
    await within(plugin.trigger(new AbortController().signal));
    expect(server().accepted()).toHaveLength(1);
    return server().accepted()[0].json;
  }

  test.each([
    ['no status section', {}],
    ['a null section', { status: null }],
    ['a section naming no service while no service exists', { services: {}, status: {} }],
  ])('GIVEN %s WHEN the factory runs THEN there is no plugin', (_case, opaConfig) => {
    expect(create(opaConfig)).toBeUndefined();
  });

  test('GIVEN status naming a service and the bundle and decision_logs plugins WHEN a round runs THEN the report carries each part', async () => {
    const plugin = create({ status: { service: 'control', partition_name: 'fleet-a' } }, {
      bundles: { statuses: () => ({ authz: AUTHZ }) },
      decisionLogs: { uploadStatus: () => ({}), metrics: () => ({ counter_decisions: 2 }) },
    })!;
    expect(plugin).toBeInstanceOf(StatusPlugin);
    expect(plugin.name).toBe(PLUGIN.STATUS);

    expect(await report(plugin)).toEqual({
      labels: LABELS,
      bundles: { authz: AUTHZ },
      decision_logs: {},
      metrics: { prometheus: { counter_decisions: 2 } },
      plugins: { bundle: { state: 'OK' }, status: { state: 'NOT_READY' } },
    });
    expect(server().accepted()[0].url).toBe('/status/fleet-a');
  });

  test('GIVEN status alone (no bundle or decision_logs plugin) WHEN a round runs THEN the report has labels and plugin states only', async () => {
    const plugin = create({ status: { service: 'control' } })!;

    expect(await report(plugin)).toEqual({ labels: LABELS, plugins: { bundle: { state: 'OK' }, status: { state: 'NOT_READY' } } });
  });

  test.each([
    ['a section that is not an object', { status: [] }, 'status must be an object, got []'],
    ['an unknown service', { status: { service: 'nope' } }, 'status.service names an unknown service "nope"; configured services: control'],
    ['prometheus on', { status: { prometheus: true } }, 'status.prometheus is not supported (the Lambda extension serves no /metrics endpoint), got true'],
  ])('GIVEN %s WHEN the factory runs THEN a ConfigError names the key', (_case, opaConfig, message) => {
    expect(() => create(opaConfig)).toThrow(ConfigError);
    expect(() => create(opaConfig)).toThrow(message);
  });
});
