/**
 * The scheduler's part of `plugins.lambda_extension`, with the keys, meanings and defaults of the
 * Go plugin's `Config` (github.com/godaddy/opa-lambda-extension-plugin, package `lambda`).
 * Other keys of the same object (for example `port`) belong to other parsers and are ignored here.
 */
import { SCHEDULER_CONFIG_KEY, SCHEDULER_DEFAULTS } from '../../../src/layer-contract';
import { optionalObject } from '../config/config-values';
import { ConfigError } from '../errors';

const KEY = `plugins.${SCHEDULER_CONFIG_KEY}`;

export interface SchedulerConfig {
  /** Time that must pass since the last round started before an INVOKE triggers a new one. */
  readonly minimumTriggerThresholdMs: number;
  /** One shared limit for a whole round of triggers. */
  readonly triggerTimeoutMs: number;
  /** Order in which plugins start and are triggered. */
  readonly pluginStartPriority: readonly string[];
  /** Order in which plugins are flushed and stopped at SHUTDOWN. */
  readonly pluginStopPriority: readonly string[];
}

/** Parses the object at `plugins.lambda_extension` (undefined when absent). */
export function parseSchedulerConfig(section: unknown): SchedulerConfig {
  const obj = optionalObject(section, KEY) ?? {};
  return {
    minimumTriggerThresholdMs: seconds(obj, 'minimum_trigger_threshold', SCHEDULER_DEFAULTS.MINIMUM_TRIGGER_THRESHOLD_SECONDS, 0) * 1000,
    triggerTimeoutMs: seconds(obj, 'trigger_timeout', SCHEDULER_DEFAULTS.TRIGGER_TIMEOUT_SECONDS, 1) * 1000,
    pluginStartPriority: names(obj, 'plugin_start_priority', SCHEDULER_DEFAULTS.PLUGIN_START_PRIORITY),
    pluginStopPriority: names(obj, 'plugin_stop_priority', SCHEDULER_DEFAULTS.PLUGIN_STOP_PRIORITY),
  };
}

/** Whole seconds, as the Go plugin's `*int` fields: "7s" or 1.5 would not decode there either. */
function seconds(obj: Record<string, unknown>, key: string, fallback: number, min: number): number {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new ConfigError(`${KEY}.${key} must be a whole number of seconds ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function names(obj: Record<string, unknown>, key: string, fallback: readonly string[]): readonly string[] {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new ConfigError(`${KEY}.${key} must be an array of plugin names (strings), got ${JSON.stringify(value)}`);
  }
  return [...value];
}
