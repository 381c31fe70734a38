import { ConfigError } from '../../../runtime/src/errors';
import { parseSchedulerConfig } from '../../../runtime/src/scheduler/config';
import { SCHEDULER_DEFAULTS } from '../../../src/layer-contract';

describe('parseSchedulerConfig', () => {
  test.each([
    ['absent', undefined],
    ['null', null],
    ['empty', {}],
    ['holding only keys of other parsers', { port: 8282, something_else: 'x' }],
  ])('GIVEN plugins.lambda_extension %s WHEN parsed THEN the defaults of the Go plugin apply', (_case, section) => {
    expect(parseSchedulerConfig(section)).toEqual({
      minimumTriggerThresholdMs: 30_000,
      triggerTimeoutMs: 7_000,
      pluginStartPriority: ['discovery', 'bundle', 'decision_logs', 'status'],
      pluginStopPriority: ['decision_logs', 'status', 'bundle', 'discovery'],
    });
    expect([SCHEDULER_DEFAULTS.MINIMUM_TRIGGER_THRESHOLD_SECONDS, SCHEDULER_DEFAULTS.TRIGGER_TIMEOUT_SECONDS]).toEqual([30, 7]);
  });

  test.each([
    ['minimum_trigger_threshold', 0, { minimumTriggerThresholdMs: 0 }],
    ['minimum_trigger_threshold', 100, { minimumTriggerThresholdMs: 100_000 }],
    ['trigger_timeout', 1, { triggerTimeoutMs: 1_000 }],
    ['trigger_timeout', 50, { triggerTimeoutMs: 50_000 }],
    ['plugin_start_priority', ['foo'], { pluginStartPriority: ['foo'] }],
    ['plugin_start_priority', [], { pluginStartPriority: [] }],
    ['plugin_stop_priority', ['bar', 'bundle'], { pluginStopPriority: ['bar', 'bundle'] }],
  ])('GIVEN %s = %j WHEN parsed THEN it is used, in milliseconds for times', (key, value, expected) => {
    expect(parseSchedulerConfig({ [key]: value })).toEqual(expect.objectContaining(expected));
  });

  test('GIVEN every key set WHEN parsed THEN all are used together (the Go plugin\'s TestPluginFactoryValidate)', () => {
    expect(parseSchedulerConfig({
      minimum_trigger_threshold: 100,
      plugin_start_priority: ['foo'],
      plugin_stop_priority: ['bar'],
      trigger_timeout: 50,
    })).toEqual({ minimumTriggerThresholdMs: 100_000, triggerTimeoutMs: 50_000, pluginStartPriority: ['foo'], pluginStopPriority: ['bar'] });
  });

  const K = 'plugins.lambda_extension';
  test.each([
    [{ trigger_timeout: '7s' }, `${K}.trigger_timeout must be a whole number of seconds ≥ 1, got "7s"`],
    [{ trigger_timeout: 0 }, `${K}.trigger_timeout must be a whole number of seconds ≥ 1, got 0`],
    [{ trigger_timeout: 1.5 }, `${K}.trigger_timeout must be a whole number of seconds ≥ 1, got 1.5`],
    [{ trigger_timeout: -3 }, `${K}.trigger_timeout must be a whole number of seconds ≥ 1, got -3`],
    [{ trigger_timeout: true }, `${K}.trigger_timeout must be a whole number of seconds ≥ 1, got true`],
    [{ minimum_trigger_threshold: -1 }, `${K}.minimum_trigger_threshold must be a whole number of seconds ≥ 0, got -1`],
    [{ minimum_trigger_threshold: '30' }, `${K}.minimum_trigger_threshold must be a whole number of seconds ≥ 0, got "30"`],
    [{ minimum_trigger_threshold: 0.5 }, `${K}.minimum_trigger_threshold must be a whole number of seconds ≥ 0, got 0.5`],
    [{ plugin_start_priority: 'bundle' }, `${K}.plugin_start_priority must be an array of plugin names (strings), got "bundle"`],
    [{ plugin_start_priority: ['bundle', 3] }, `${K}.plugin_start_priority must be an array of plugin names (strings), got ["bundle",3]`],
    [{ plugin_stop_priority: { bundle: 1 } }, `${K}.plugin_stop_priority must be an array of plugin names (strings), got {"bundle":1}`],
    [{ plugin_stop_priority: [null] }, `${K}.plugin_stop_priority must be an array of plugin names (strings), got [null]`],
    ['fast', `${K} must be an object, got "fast"`],
    [[1], `${K} must be an object, got [1]`],
  ])('GIVEN %j WHEN parsed THEN a ConfigError names the key and the value', (section, message) => {
    let caught: unknown;
    try {
      parseSchedulerConfig(section);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toBe(message);
    expect((caught as ConfigError).errorType).toBe('Extension.ConfigInvalid');
  });
});
