/**
 * What main.ts hands every plugin factory. Each plugin folder has one factory,
 * `create<Name>Plugin(options): <Name>Plugin | undefined`, that reads the plugin's own section of
 * `opaConfig` with the folder's `config.ts` and returns undefined when the section leaves the
 * plugin off, so main.ts composes plugins without knowing their configuration (as OPA's plugin
 * factories do: `v1/plugins/plugins.go`, `Factory.Validate` then `Factory.New`).
 */
import type { PolicyEngine } from '../engine/policy-engine';
import type { Logger } from '../logger';
import type { ServiceClient } from '../services/service-client';
import type { ServiceConfig } from '../services/service-config';

export interface PluginFactoryOptions {
  /** The whole OPA configuration; a factory reads only its plugin's section(s). */
  readonly opaConfig: Readonly<Record<string, unknown>>;
  /** The parsed `services`, which a section names by key. */
  readonly services: ReadonlyMap<string, ServiceConfig>;
  /** One client per service, by name. */
  readonly clients: ReadonlyMap<string, ServiceClient>;
  readonly engine: PolicyEngine;
  readonly logger: Logger;
}

/** For the plugins whose reports carry labels (decision_logs, status). */
export interface ReportingPluginFactoryOptions extends PluginFactoryOptions {
  /** The configured `labels` plus OPA's `id` (this execution environment) and `version`. */
  readonly labels: Readonly<Record<string, string>>;
}
