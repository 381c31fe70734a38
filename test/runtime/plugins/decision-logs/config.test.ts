import { ConfigError } from '../../../../runtime/src/errors';
import {
  DEFAULT_BUFFER_SIZE_LIMIT_BYTES, DEFAULT_UPLOAD_SIZE_LIMIT_BYTES, parseDecisionLogsConfig,
} from '../../../../runtime/src/plugins/decision-logs/config';
import { parseServices } from '../../../../runtime/src/services/service-config';

const SERVICES = parseServices({ logs: { url: 'https://logs.example.com' }, other: { url: 'https://other.example.com' } });
const NONE = parseServices(undefined);

describe('GIVEN a decision_logs section', () => {
  test('WHEN it names a service THEN OPA\'s defaults fill the rest', () => {
    expect(parseDecisionLogsConfig({ service: 'logs' }, SERVICES)).toEqual({
      console: false,
      service: 'logs',
      resource: '/logs',
      bufferSizeLimitBytes: DEFAULT_BUFFER_SIZE_LIMIT_BYTES,
      uploadSizeLimitBytes: DEFAULT_UPLOAD_SIZE_LIMIT_BYTES,
      maskDecision: 'system/log/mask',
      dropDecision: 'system/log/drop',
    });
    expect(DEFAULT_UPLOAD_SIZE_LIMIT_BYTES).toBe(32768);
    expect(DEFAULT_BUFFER_SIZE_LIMIT_BYTES).toBe(0);
  });

  test('WHEN every key is set THEN each is kept', () => {
    const config = parseDecisionLogsConfig({
      service: 'other',
      console: true,
      resource: '/audit',
      reporting: { buffer_size_limit_bytes: 1000, upload_size_limit_bytes: 500, min_delay_seconds: 1, max_delay_seconds: 2, trigger: 'manual' },
      mask_decision: '/custom/mask',
      drop_decision: '/custom/drop',
    }, SERVICES);
    expect(config).toEqual({
      console: true,
      service: 'other',
      resource: '/audit',
      bufferSizeLimitBytes: 1000,
      uploadSizeLimitBytes: 500,
      maskDecision: 'custom/mask',
      dropDecision: 'custom/drop',
    });
  });

  test('WHEN partition_name is set THEN uploads go to /logs/<partition_name>, as OPA does', () => {
    expect(parseDecisionLogsConfig({ service: 'logs', partition_name: 'fleet-a', resource: '/ignored' }, SERVICES)?.resource).toBe('/logs/fleet-a');
  });

  test.each([
    ['the section is absent', undefined, SERVICES, undefined],
    ['it is empty and no service exists', {}, NONE, undefined],
  ])('WHEN %s THEN decision logging is off', (_, section, services, expected) => {
    expect(parseDecisionLogsConfig(section, services)).toBe(expected);
  });

  test('WHEN it names no service and console is off THEN the first service is used (OPA\'s fallback)', () => {
    expect(parseDecisionLogsConfig({}, SERVICES)?.service).toBe('logs');
  });

  test('WHEN it names no service and console is on THEN logs go to the console only', () => {
    expect(parseDecisionLogsConfig({ console: true }, SERVICES)).toMatchObject({ console: true, service: undefined });
  });

  test.each([
    ['a non-object section', 'yes', 'decision_logs must be an object, got "yes"'],
    ['an unknown service', { service: 'nope' }, 'decision_logs.service names an unknown service "nope"; configured services: logs, other'],
    ['a service that is not a string', { service: 3 }, 'decision_logs.service must be a string, got 3'],
    ['a custom plugin', { plugin: 'kafka' }, 'decision_logs.plugin is not supported (no custom decision log plugins in the Lambda extension), got "kafka"'],
    ['console that is not a boolean', { console: 'yes' }, 'decision_logs.console must be true or false, got "yes"'],
    ['reporting that is not an object', { service: 'logs', reporting: [] }, 'decision_logs.reporting must be an object, got []'],
    ['a negative buffer limit', { service: 'logs', reporting: { buffer_size_limit_bytes: -1 } }, 'decision_logs.reporting.buffer_size_limit_bytes must be a whole number of bytes from 0 to 9007199254740991, got -1'],
    ['a fractional buffer limit', { service: 'logs', reporting: { buffer_size_limit_bytes: 1.5 } }, 'decision_logs.reporting.buffer_size_limit_bytes must be a whole number of bytes from 0 to 9007199254740991, got 1.5'],
    ['an upload limit below OPA\'s minimum', { service: 'logs', reporting: { upload_size_limit_bytes: 89 } }, 'decision_logs.reporting.upload_size_limit_bytes must be a whole number of bytes from 90 to 4294967296, got 89'],
    ['an upload limit given as a string', { service: 'logs', reporting: { upload_size_limit_bytes: '32KB' } }, 'decision_logs.reporting.upload_size_limit_bytes must be a whole number of bytes from 90 to 4294967296, got "32KB"'],
    ['a rate limit', { service: 'logs', reporting: { max_decisions_per_second: 10 } }, 'decision_logs.reporting.max_decisions_per_second is not supported; bound the buffer with buffer_size_limit_bytes, got 10'],
    ['an event buffer', { service: 'logs', reporting: { buffer_type: 'event' } }, 'decision_logs.reporting.buffer_type must be "size" (the only buffer the Lambda extension has), got "event"'],
    ['an unknown trigger', { service: 'logs', reporting: { trigger: 'sometimes' } }, 'decision_logs.reporting.trigger must be "periodic" or "manual", got "sometimes"'],
    ['a blank resource', { service: 'logs', resource: '  ' }, 'decision_logs.resource must be a non-empty path such as "/logs", got "  "'],
    ['a resource that is not a string', { service: 'logs', resource: 7 }, 'decision_logs.resource must be a string, got 7'],
    ['a partition_name that is not a string', { service: 'logs', partition_name: {} }, 'decision_logs.partition_name must be a string, got {}'],
    ['a mask_decision without a leading slash', { service: 'logs', mask_decision: 'system/log/mask' }, 'decision_logs.mask_decision must be a path into data that begins with "/", such as "/system/log/mask", got "system/log/mask"'],
    ['a mask_decision with an empty segment', { service: 'logs', mask_decision: '/system//mask' }, 'decision_logs.mask_decision must be a path into data that begins with "/", such as "/system/log/mask", got "/system//mask"'],
    ['a drop_decision that is not a string', { service: 'logs', drop_decision: true }, 'decision_logs.drop_decision must be a path into data that begins with "/", such as "/system/log/drop", got true'],
  ])('WHEN it holds %s THEN a ConfigError names the key and the value', (_, section, message) => {
    expect(() => parseDecisionLogsConfig(section, SERVICES)).toThrow(ConfigError);
    expect(() => parseDecisionLogsConfig(section, SERVICES)).toThrow(message);
  });

  test('WHEN it names a service while none is configured THEN the error says so', () => {
    expect(() => parseDecisionLogsConfig({ service: 'logs' }, NONE)).toThrow('decision_logs.service names an unknown service "logs"; configured services: none');
  });
});
