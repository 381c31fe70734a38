import { Duration } from 'aws-cdk-lib';

/** The plugins the extension knows by name, in OPA's default start order. */
export const KNOWN_PLUGINS = ['discovery', 'bundle', 'decision_logs', 'status'];

export interface OpaConfigInput {
  readonly port: number;
  readonly defaultDecision?: string;
  readonly labels?: { [key: string]: string };
  readonly minimumTriggerThreshold?: Duration;
  readonly triggerTimeout?: Duration;
  readonly pluginStartPriority?: string[];
  readonly pluginStopPriority?: string[];
}

/**
 * The OPA configuration written into the layer as `opa-extension/config.json`, in OPA's own format
 * (https://www.openpolicyagent.org/docs/configuration) with the scheduler under
 * `plugins.lambda_extension`. Unset options are left out so the extension's defaults apply.
 */
export function buildOpaConfig(input: OpaConfigInput): Record<string, unknown> {
  const lambdaExtension = compact({
    port: input.port,
    minimum_trigger_threshold: input.minimumTriggerThreshold?.toSeconds(),
    trigger_timeout: input.triggerTimeout?.toSeconds(),
    plugin_start_priority: input.pluginStartPriority,
    plugin_stop_priority: input.pluginStopPriority,
  });
  return compact({
    labels: input.labels,
    default_decision: input.defaultDecision,
    plugins: { lambda_extension: lambdaExtension },
  });
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
