import { ConfigError } from '../errors';
import type { ServiceConfig } from './service-config';

/** Where `decision_logs` or `status` reports: the console, a service, or both. */
export interface ReportingTarget {
  readonly console: boolean;
  readonly service?: string;
}

/**
 * OPA's rule for the `console` and `service` keys of `decision_logs` and `status`: the plugin is
 * off when it names no service, enables no console and no service exists; without a service and
 * without the console it falls back to the first service, for backwards compatibility (with the
 * console on, the user may have meant the console alone); a named service must exist.
 */
export function parseReportingTarget(
  c: Record<string, unknown>,
  key: string,
  services: ReadonlyMap<string, ServiceConfig>,
): ReportingTarget | undefined {
  const console = c.console ?? false;
  if (typeof console !== 'boolean') throw new ConfigError(`${key}.console must be true or false, got ${JSON.stringify(c.console)}`);
  let service = optionalString(c.service, `${key}.service`);
  if (service === undefined && services.size === 0 && !console) return undefined;
  if (service === undefined && !console) {
    service = services.keys().next().value;
  } else if (service !== undefined && !services.has(service)) {
    throw new ConfigError(`${key}.service names an unknown service ${JSON.stringify(service)}; configured services: ${[...services.keys()].join(', ') || 'none'}`);
  }
  return { console, service };
}

export function optionalString(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(`${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}
