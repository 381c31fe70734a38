import { ConfigError } from '../../../../runtime/src/errors';
import { parseStatusConfig } from '../../../../runtime/src/plugins/status/config';
import { parseServices } from '../../../../runtime/src/services/service-config';

const SERVICES = parseServices({ control: { url: 'https://control.example.com' }, other: { url: 'https://other.example.com' } });
const NONE = parseServices(undefined);

describe('GIVEN a status section', () => {
  test('WHEN it names a service THEN reports go to /status of that service', () => {
    expect(parseStatusConfig({ service: 'other' }, SERVICES)).toEqual({ console: false, service: 'other', resource: '/status' });
  });

  test('WHEN partition_name is set THEN reports go to /status/<partition_name>', () => {
    expect(parseStatusConfig({ service: 'other', partition_name: 'fleet-a' }, SERVICES)?.resource).toBe('/status/fleet-a');
  });

  test.each([
    ['the section is absent', undefined, SERVICES],
    ['it is empty and no service exists', {}, NONE],
  ])('WHEN %s THEN status reporting is off', (_, section, services) => {
    expect(parseStatusConfig(section, services)).toBeUndefined();
  });

  test('WHEN it names no service and console is off THEN the first service is used (OPA\'s fallback)', () => {
    expect(parseStatusConfig({}, SERVICES)?.service).toBe('control');
  });

  test('WHEN console is on without a service THEN reports go to the console only', () => {
    expect(parseStatusConfig({ console: true, trigger: 'manual', prometheus: false }, SERVICES)).toEqual({ console: true, service: undefined, resource: '/status' });
  });

  test.each([
    ['a non-object section', [], 'status must be an object, got []'],
    ['an unknown service', { service: 'nope' }, 'status.service names an unknown service "nope"; configured services: control, other'],
    ['a service that is not a string', { service: false }, 'status.service must be a string, got false'],
    ['a custom plugin', { plugin: 'mine' }, 'status.plugin is not supported (no custom status plugins in the Lambda extension), got "mine"'],
    ['prometheus on', { prometheus: true }, 'status.prometheus is not supported (the Lambda extension serves no /metrics endpoint), got true'],
    ['an unknown trigger', { trigger: 'often' }, 'status.trigger must be "periodic" or "manual", got "often"'],
    ['console that is not a boolean', { console: 1 }, 'status.console must be true or false, got 1'],
    ['a partition_name that is not a string', { service: 'control', partition_name: 5 }, 'status.partition_name must be a string, got 5'],
  ])('WHEN it holds %s THEN a ConfigError names the key and the value', (_, section, message) => {
    expect(() => parseStatusConfig(section, SERVICES)).toThrow(ConfigError);
    expect(() => parseStatusConfig(section, SERVICES)).toThrow(message);
  });
});
