import { BundlePlugin } from './bundle-plugin';
import { parseBundlePluginConfig } from './config';
import { parseKeys } from './keys';
import type { PluginFactoryOptions } from '../../contracts/plugin-factory';

/**
 * The bundle plugin, or undefined when no `bundles` are configured. Reads `bundles`, `keys` and
 * `persistence_directory`. Throws ConfigError.
 */
export function createBundlePlugin(options: PluginFactoryOptions): BundlePlugin | undefined {
  const keys = parseKeys(options.opaConfig.keys);
  const config = parseBundlePluginConfig(options.opaConfig, options.services, keys);
  if (!config) return undefined;
  return new BundlePlugin({
    config,
    services: options.clients,
    keys,
    engine: options.engine,
    logger: options.logger,
  });
}
