import { parseDecisionLogsConfig } from './config';
import { DecisionLogsPlugin } from './decision-logs-plugin';
import { PLUGIN } from '../../../../src/layer-contract';
import type { ReportingPluginFactoryOptions } from '../../contracts/plugin-factory';

/**
 * The decision_logs plugin, or undefined when decision logging is off (see
 * `parseDecisionLogsConfig`). Reads the `decision_logs` section. Throws ConfigError.
 */
export function createDecisionLogsPlugin(options: ReportingPluginFactoryOptions): DecisionLogsPlugin | undefined {
  // The plugin's section of the OPA configuration is named after the plugin.
  const config = parseDecisionLogsConfig(options.opaConfig[PLUGIN.DECISION_LOGS], options.services);
  if (!config) return undefined;
  return new DecisionLogsPlugin({
    config,
    labels: options.labels,
    engine: options.engine,
    client: config.service === undefined ? undefined : options.clients.get(config.service),
    logger: options.logger,
  });
}
