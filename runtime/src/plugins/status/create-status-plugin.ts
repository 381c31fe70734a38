import { parseStatusConfig } from './config';
import { StatusPlugin } from './status-plugin';
import { PLUGIN } from '../../../../src/layer-contract';
import type { PluginStatus } from '../../contracts/plugin';
import type { ReportingPluginFactoryOptions } from '../../contracts/plugin-factory';
import type { BundlePlugin } from '../bundle/bundle-plugin';
import type { DecisionLogsPlugin } from '../decision-logs/decision-logs-plugin';

export interface CreateStatusPluginOptions extends ReportingPluginFactoryOptions {
  /**
   * Every registered plugin's state, the status plugin's own included (the scheduler's
   * `pluginStatuses`). A function because the plugin is registered with the scheduler it reads;
   * it is called only when a report is built, never while plugins are being built.
   */
  readonly pluginStatuses: () => Readonly<Record<string, PluginStatus>>;
  /** The bundle plugin, when configured: reports carry its bundles' statuses. */
  readonly bundles?: Pick<BundlePlugin, 'statuses'>;
  /** The decision_logs plugin, when configured: reports carry its upload status and counters. */
  readonly decisionLogs?: Pick<DecisionLogsPlugin, 'uploadStatus' | 'metrics'>;
}

/**
 * The status plugin, or undefined when status reporting is off (see `parseStatusConfig`). Reads
 * the `status` section. Throws ConfigError.
 */
export function createStatusPlugin(options: CreateStatusPluginOptions): StatusPlugin | undefined {
  // The plugin's section of the OPA configuration is named after the plugin.
  const config = parseStatusConfig(options.opaConfig[PLUGIN.STATUS], options.services);
  if (!config) return undefined;
  const { bundles, decisionLogs } = options;
  return new StatusPlugin({
    config,
    labels: options.labels,
    client: config.service === undefined ? undefined : options.clients.get(config.service),
    logger: options.logger,
    plugins: options.pluginStatuses,
    bundles: () => bundles?.statuses() ?? {},
    decisionLogs: () => decisionLogs?.uploadStatus(),
    metrics: () => decisionLogs?.metrics() ?? {},
  });
}
