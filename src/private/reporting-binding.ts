import { bearerCredentials, checkHttpUrl, ConfigBinding, envName, serviceFromEnvironment } from './config-binding';
import { PLUGIN } from '../layer-contract';
import type { OpaExtensionLayerProps, OpaReportingOptions } from '../opa-extension-layer';

/** The layer's reporting props and the plugins they configure, in the order their sections are written. */
const REPORTING_PLUGINS = [
  ['decisionLogs', PLUGIN.DECISION_LOGS],
  ['status', PLUGIN.STATUS],
] as const;

/**
 * Binds the layer's `decisionLogs` and `status` as `OpaBundle._bind` binds a bundle: each set one
 * gives its plugin's section of the OPA config and, when it uploads, a service and the variable
 * that carries the service's URL to the function.
 */
export function bindReporting(where: string, props: Pick<OpaExtensionLayerProps, 'decisionLogs' | 'status'>): ConfigBinding[] {
  return REPORTING_PLUGINS.flatMap(([prop, plugin]) => {
    const options = props[prop];
    return options ? [bindTarget(where, prop, plugin, options)] : [];
  });
}

function bindTarget(where: string, prop: string, plugin: string, options: OpaReportingOptions): ConfigBinding {
  if (!options.console && options.url === undefined) {
    throw new Error(`${where}: ${prop} needs console: true or a url, got neither`);
  }
  // OPA's config section of a plugin is named after it (https://www.openpolicyagent.org/docs/configuration).
  const console = options.console ? { console: true } : {};
  if (options.url === undefined) return { pluginConfig: { [plugin]: console } };
  checkHttpUrl(where, `${prop}.url`, options.url);
  // Each reporting plugin uploads to a service of its own, named after it.
  const service = plugin;
  const bearer = bearerCredentials(where, `${prop}.`, service, options.bearerToken, options.bearerTokenSecret);
  const binding = serviceFromEnvironment(service, envName(service, 'URL'), options.url, bearer.credentials);
  return {
    services: binding.services,
    environment: { ...binding.environment, ...bearer.environment },
    pluginConfig: { [plugin]: { ...console, service } },
    ...(bearer.grant ? { grant: bearer.grant } : {}),
  };
}
