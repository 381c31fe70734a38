/**
 * The `decision_logs` section of OPA's configuration
 * (https://www.openpolicyagent.org/docs/configuration#decision-logs), with OPA's keys and defaults
 * (`v1/plugins/logs/plugin.go`). Periodic-upload keys (`min_delay_seconds`, `max_delay_seconds`,
 * `trigger`) are accepted and ignored: in Lambda the scheduler decides when uploads happen.
 */
import { PLUGIN } from '../../../../src/layer-contract';
import { optionalObject } from '../../config/config-values';
import { ConfigError } from '../../errors';
import { optionalString, parseReportingTarget } from '../../services/reporting-target';
import type { ServiceConfig } from '../../services/service-config';

/** The plugin's section of the OPA configuration is named after the plugin. */
const KEY = PLUGIN.DECISION_LOGS;

/** OPA's default: 32 KiB of gzip per upload. */
export const DEFAULT_UPLOAD_SIZE_LIMIT_BYTES = 32768;
/** OPA's bounds: one event with a decision id plus an empty gzip stream (90 bytes), about 4 GB. */
export const MIN_UPLOAD_SIZE_LIMIT_BYTES = 90;
export const MAX_UPLOAD_SIZE_LIMIT_BYTES = 4294967296;
/** OPA's default: 0, an unbounded buffer. */
export const DEFAULT_BUFFER_SIZE_LIMIT_BYTES = 0;
export const DEFAULT_RESOURCE = '/logs';
export const DEFAULT_MASK_DECISION = '/system/log/mask';
export const DEFAULT_DROP_DECISION = '/system/log/drop';

export interface DecisionLogsConfig {
  /** Write every event to stdout as one JSON line. */
  readonly console: boolean;
  /** The service uploads go to; undefined when logs go to the console only. */
  readonly service?: string;
  /** Path below the service URL that receives uploads. */
  readonly resource: string;
  /** Bytes of event JSON the buffer may hold; 0 means unbounded. */
  readonly bufferSizeLimitBytes: number;
  /** Largest gzip body of one upload. */
  readonly uploadSizeLimitBytes: number;
  /** Entrypoint of the mask policy, without the leading slash (`system/log/mask`). */
  readonly maskDecision: string;
  /** Entrypoint of the drop policy, without the leading slash (`system/log/drop`). */
  readonly dropDecision: string;
}

/**
 * Parses `decision_logs`. Returns undefined when decision logging is off, which is OPA's rule:
 * the section is absent, or it names no service and enables no console while no service exists.
 */
export function parseDecisionLogsConfig(section: unknown, services: ReadonlyMap<string, ServiceConfig>): DecisionLogsConfig | undefined {
  const c = optionalObject(section, KEY);
  if (!c) return undefined;

  if (c.plugin !== undefined) {
    throw new ConfigError(`${KEY}.plugin is not supported (no custom decision log plugins in the Lambda extension), got ${JSON.stringify(c.plugin)}`);
  }
  const target = parseReportingTarget(c, KEY, services);
  if (!target) return undefined;
  const { console, service } = target;

  const reporting = optionalObject(c.reporting, `${KEY}.reporting`) ?? {};
  if (reporting.max_decisions_per_second !== undefined) {
    throw new ConfigError(`${KEY}.reporting.max_decisions_per_second is not supported; bound the buffer with buffer_size_limit_bytes, got ${JSON.stringify(reporting.max_decisions_per_second)}`);
  }
  if (reporting.buffer_type !== undefined && reporting.buffer_type !== 'size') {
    throw new ConfigError(`${KEY}.reporting.buffer_type must be "size" (the only buffer the Lambda extension has), got ${JSON.stringify(reporting.buffer_type)}`);
  }
  if (reporting.trigger !== undefined && reporting.trigger !== 'periodic' && reporting.trigger !== 'manual') {
    throw new ConfigError(`${KEY}.reporting.trigger must be "periodic" or "manual", got ${JSON.stringify(reporting.trigger)}`);
  }
  const bufferSizeLimitBytes = integer(reporting.buffer_size_limit_bytes, `${KEY}.reporting.buffer_size_limit_bytes`, DEFAULT_BUFFER_SIZE_LIMIT_BYTES, 0, Number.MAX_SAFE_INTEGER);
  const uploadSizeLimitBytes = integer(reporting.upload_size_limit_bytes, `${KEY}.reporting.upload_size_limit_bytes`, DEFAULT_UPLOAD_SIZE_LIMIT_BYTES, MIN_UPLOAD_SIZE_LIMIT_BYTES, MAX_UPLOAD_SIZE_LIMIT_BYTES);

  const partition = optionalString(c.partition_name, `${KEY}.partition_name`);
  const configuredResource = optionalString(c.resource, `${KEY}.resource`);
  if (configuredResource !== undefined && !configuredResource.trim()) {
    throw new ConfigError(`${KEY}.resource must be a non-empty path such as "/logs", got ${JSON.stringify(configuredResource)}`);
  }
  // As OPA: partition_name, when set, wins over resource.
  const resource = partition ? `/logs/${partition}` : configuredResource ?? DEFAULT_RESOURCE;

  return {
    console,
    service,
    resource,
    bufferSizeLimitBytes,
    uploadSizeLimitBytes,
    maskDecision: dataPath(c.mask_decision, `${KEY}.mask_decision`, DEFAULT_MASK_DECISION),
    dropDecision: dataPath(c.drop_decision, `${KEY}.drop_decision`, DEFAULT_DROP_DECISION),
  };
}

/** A path into `data` as OPA's `ref.ParseDataPath` takes it: `/system/log/mask`. */
function dataPath(value: unknown, key: string, fallback: string): string {
  const path = value === undefined ? fallback : value;
  if (typeof path !== 'string' || !/^\/[^/]/.test(path) || path.split('/').slice(1).some((p) => p === '')) {
    throw new ConfigError(`${key} must be a path into data that begins with "/", such as ${JSON.stringify(fallback)}, got ${JSON.stringify(value)}`);
  }
  return path.slice(1);
}

function integer(value: unknown, key: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} must be a whole number of bytes from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

