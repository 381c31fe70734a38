import { ConfigError } from '../../../../runtime/src/errors';
import { createDecisionLogsPlugin } from '../../../../runtime/src/plugins/decision-logs/create-decision-logs-plugin';
import { DecisionLogsPlugin } from '../../../../runtime/src/plugins/decision-logs/decision-logs-plugin';
import { PLUGIN } from '../../../../src/layer-contract';
import { useRecordingServer } from '../../../support/recording-server';
import { within } from '../../../support/within';
import { factoryOptions, LABELS } from '../factory-options';

describe('createDecisionLogsPlugin', () => {
  const server = useRecordingServer();
  /** The factory as main.ts calls it; without `services`, one service `logs` at the recording server. */
  const create = (opaConfig: Record<string, unknown>) => createDecisionLogsPlugin(factoryOptions(server(), opaConfig, 'logs'));

  test.each([
    ['no decision_logs section', {}],
    ['a null section', { decision_logs: null }],
    ['a section naming no service while no service exists', { services: {}, decision_logs: {} }],
  ])('GIVEN %s WHEN the factory runs THEN there is no plugin', (_case, opaConfig) => {
    expect(create(opaConfig)).toBeUndefined();
  });

  test('GIVEN decision_logs naming a service WHEN the factory runs THEN the plugin uploads to that service with the labels', async () => {
    // GIVEN
    const plugin = create({ decision_logs: { service: 'logs', resource: '/audit' } })!;
    expect(plugin).toBeInstanceOf(DecisionLogsPlugin);
    expect(plugin.name).toBe(PLUGIN.DECISION_LOGS);
    await plugin.start(new AbortController().signal);

    // WHEN
    plugin.onDecision({
      decisionId: 'd-1',
      path: 'app/rbac/allow',
      result: true,
      requestedBy: '127.0.0.1:40000',
      timestamp: new Date('2026-01-01T00:00:00.000Z'),
      metrics: {},
      bundles: {},
    });
    await within(plugin.trigger(new AbortController().signal));

    // THEN
    expect(server().accepted().map((r) => r.url)).toEqual(['/audit']);
    expect(server().events()).toEqual([expect.objectContaining({ decision_id: 'd-1', labels: LABELS, path: 'app/rbac/allow', result: true })]);
  });

  test.each([
    ['a section that is not an object', { decision_logs: 'yes' }, 'decision_logs must be an object, got "yes"'],
    ['an unknown service', { decision_logs: { service: 'nope' } }, 'decision_logs.service names an unknown service "nope"; configured services: logs'],
    ['a bad reporting key', { decision_logs: { reporting: { upload_size_limit_bytes: 1 } } }, 'decision_logs.reporting.upload_size_limit_bytes must be a whole number of bytes from 90 to 4294967296, got 1'],
  ])('GIVEN %s WHEN the factory runs THEN a ConfigError names the key', (_case, opaConfig, message) => {
    expect(() => create(opaConfig)).toThrow(ConfigError);
    expect(() => create(opaConfig)).toThrow(message);
  });
});
