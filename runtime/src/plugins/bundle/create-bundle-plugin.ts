import { BundlePlugin } from './bundle-plugin';
import { parseBundlePluginConfig } from './config';
import { parseKeys } from './keys';
import type { PolicyEngine } from '../../engine/policy-engine';
import type { Logger } from '../../logger';
import type { ServiceClient } from '../../services/service-client';
import type { ServiceConfig } from '../../services/service-config';

export interface CreateBundlePluginOptions {
  /** The whole OPA configuration (`bundles`, `keys`, `persistence_directory` are read from it). */
  readonly raw: Readonly<Record<string, unknown>>;
  readonly services: ReadonlyMap<string, ServiceConfig>;
  readonly clients: ReadonlyMap<string, ServiceClient>;
  readonly engine: PolicyEngine;
  readonly logger: Logger;
}

/** The bundle plugin for main.ts, or undefined when no `bundles` are configured. Throws ConfigError. */
export function createBundlePlugin(options: CreateBundlePluginOptions): BundlePlugin | undefined {
  const keys = parseKeys(options.raw.keys);
  const config = parseBundlePluginConfig(options.raw, options.services, keys);
  if (!config) return undefined;
  return new BundlePlugin({
    config,
    services: options.clients,
    keys,
    engine: options.engine,
    logger: options.logger,
  });
}
