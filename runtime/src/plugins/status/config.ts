/**
 * The `status` section of OPA's configuration
 * (https://www.openpolicyagent.org/docs/configuration#status), with OPA's keys and rules
 * (`v1/plugins/status/plugin.go`). `trigger` is accepted and ignored: the scheduler triggers.
 */
import { PLUGIN } from '../../../../src/layer-contract';
import { optionalObject } from '../../config/config-values';
import { ConfigError } from '../../errors';
import { optionalString, parseReportingTarget } from '../../services/reporting-target';
import type { ServiceConfig } from '../../services/service-config';

/** The plugin's section of the OPA configuration is named after the plugin. */
const KEY = PLUGIN.STATUS;

export interface StatusConfig {
  /** Print every report to stdout as one JSON line. */
  readonly console: boolean;
  /** The service reports go to; undefined when reports go to the console only. */
  readonly service?: string;
  /** Path below the service URL: `/status`, or `/status/<partition_name>`. */
  readonly resource: string;
}

/**
 * Parses `status`. Returns undefined when status reporting is off, as OPA decides it: the section
 * is absent, or it names no service and enables no console while no service exists.
 */
export function parseStatusConfig(section: unknown, services: ReadonlyMap<string, ServiceConfig>): StatusConfig | undefined {
  const c = optionalObject(section, KEY);
  if (!c) return undefined;

  if (c.plugin !== undefined) {
    throw new ConfigError(`${KEY}.plugin is not supported (no custom status plugins in the Lambda extension), got ${JSON.stringify(c.plugin)}`);
  }
  if (c.prometheus !== undefined && c.prometheus !== false) {
    throw new ConfigError(`${KEY}.prometheus is not supported (the Lambda extension serves no /metrics endpoint), got ${JSON.stringify(c.prometheus)}`);
  }
  if (c.trigger !== undefined && c.trigger !== 'periodic' && c.trigger !== 'manual') {
    throw new ConfigError(`${KEY}.trigger must be "periodic" or "manual", got ${JSON.stringify(c.trigger)}`);
  }
  const target = parseReportingTarget(c, KEY, services);
  if (!target) return undefined;
  const { console, service } = target;
  const partition = optionalString(c.partition_name, `${KEY}.partition_name`);
  return { console, service, resource: partition ? `/status/${partition}` : '/status' };
}

