import { OpaBundleBinding } from './bundle-binding';
import { SCHEDULER_CONFIG_KEY } from '../layer-contract';
import type { OpaExtensionLayerProps } from '../opa-extension-layer';

/** Where a management plugin reports: OPA's `service` (+ `resource`) and `console`. */
export interface ReportingTarget {
  readonly console?: boolean;
  /** Name of the service in `services`. */
  readonly service?: string;
  readonly serviceConfig?: Record<string, unknown>;
  readonly resource?: string;
}

/** The layer's props that map one to one onto OPA keys, plus what the layer derived from the others. */
export interface OpaConfigInput extends Pick<OpaExtensionLayerProps,
'defaultDecision' | 'labels' | 'minimumTriggerThreshold' | 'triggerTimeout' | 'pluginStartPriority' | 'pluginStopPriority'> {
  readonly port: number;
  readonly bundles: OpaBundleBinding[];
  readonly decisionLogs?: ReportingTarget;
  readonly status?: ReportingTarget;
}

/**
 * The OPA configuration written into the layer as `opa-extension/config.json`, in OPA's own format
 * (https://www.openpolicyagent.org/docs/configuration) with the scheduler under
 * `plugins.lambda_extension`. Unset options are left out so the extension's defaults apply.
 */
export function buildOpaConfig(input: OpaConfigInput): Record<string, unknown> {
  const services: Record<string, unknown> = {};
  const bundles: Record<string, unknown> = {};
  for (const b of input.bundles) {
    Object.assign(services, b.services);
    if (b.bundle) bundles[b.name] = b.bundle;
  }
  for (const target of [input.decisionLogs, input.status]) {
    if (target?.service && target.serviceConfig) services[target.service] = target.serviceConfig;
  }
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
    services: Object.keys(services).length ? services : undefined,
    bundles: Object.keys(bundles).length ? bundles : undefined,
    decision_logs: reporting(input.decisionLogs),
    status: reporting(input.status),
    plugins: { [SCHEDULER_CONFIG_KEY]: lambdaExtension },
  });
}

function reporting(target?: ReportingTarget): Record<string, unknown> | undefined {
  if (!target) return undefined;
  return compact({ console: target.console || undefined, service: target.service, resource: target.resource });
}

function compact(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
