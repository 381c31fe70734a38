import { Token } from 'aws-cdk-lib';
import { ConfigBinding } from './config-binding';
import { SCHEDULER_CONFIG_KEY } from '../layer-contract';
import type { OpaExtensionLayerProps } from '../opa-extension-layer';

/** The layer's props that map one to one onto OPA keys, the user's `opaConfig`, and what the layer bound. */
export interface OpaConfigInput extends Pick<OpaExtensionLayerProps,
'defaultDecision' | 'labels' | 'minimumTriggerThreshold' | 'triggerTimeout' | 'pluginStartPriority' | 'pluginStopPriority' | 'opaConfig'> {
  /** The layer's construct path, which errors start with. */
  readonly where: string;
  readonly port: number;
  /** What the bundles and the reporting targets contribute, in the order their sections are written. */
  readonly bindings: readonly ConfigBinding[];
}

/**
 * The OPA configuration written into the layer as `opa-extension/config.json`, in OPA's own format
 * (https://www.openpolicyagent.org/docs/configuration) with the scheduler under
 * `plugins.lambda_extension`: the config the props generate, with the user's `opaConfig`
 * deep-merged over it. Unset options are left out so the extension's defaults apply.
 */
export function buildOpaConfig(input: OpaConfigInput): Record<string, unknown> {
  return mergeConfig(generatedConfig(input), checkOpaConfig(input.where, input.opaConfig ?? {}));
}

function generatedConfig(input: OpaConfigInput): Record<string, unknown> {
  const services: Record<string, unknown> = Object.assign({}, ...input.bindings.map((b) => b.services));
  const top = compact({
    labels: input.labels,
    default_decision: input.defaultDecision,
    services: Object.keys(services).length ? services : undefined,
  });
  const withPlugins = input.bindings.reduce((config, b) => mergeConfig(config, b.pluginConfig ?? {}), top);
  const lambdaExtension = compact({
    port: input.port,
    minimum_trigger_threshold: input.minimumTriggerThreshold?.toSeconds(),
    trigger_timeout: input.triggerTimeout?.toSeconds(),
    plugin_start_priority: input.pluginStartPriority,
    plugin_stop_priority: input.pluginStopPriority,
  });
  return { ...withPlugins, plugins: { [SCHEDULER_CONFIG_KEY]: lambdaExtension } };
}

/** The config file is written at synth time: a CloudFormation value in it would stay a token string. */
function checkOpaConfig(where: string, config: Record<string, unknown>): Record<string, unknown> {
  const visit = (value: unknown, at: string): void => {
    if (typeof value === 'string' && Token.isUnresolved(value)) {
      throw new Error(`${where}: opaConfig${at} is a deploy-time value, which the layer's config file cannot hold; `
        + 'write "${NAME}" there and set NAME in the function\'s environment');
    }
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`);
    }
  };
  visit(config, '');
  return config;
}

/** Objects merge key by key; anything else in `extra` replaces what `base` has. */
function mergeConfig(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? mergeConfig(b, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
